//! `setup`: parse the command line, run, print any error, map it to an exit code. The binary is
//! `main` below; `fuzz` opens the loaders to the fuzz targets and their regression tests.

mod actions;
mod age;
mod answers;
mod app;
mod authentic;
mod cli;
mod commands;
mod context;
mod demo;
mod diag;
mod docs;
mod embedded;
mod exec;
mod failure;
mod freshness;
mod gate;
mod options;
mod pipeline;
mod plan;
mod report;
mod retention;
mod seal;
mod secret;
mod serve;
mod storage;
mod task;
mod template;
mod transport;
mod world;
mod yaml;

pub mod fuzz;

use std::io::IsTerminal;

/// glibc gives threads that allocate at the same time heaps of their own (up to 8 per core), and
/// each heap keeps what was freed into it. The runtime's worker and blocking threads all handle a
/// backup's upload parts (8 MiB each), so several heaps came to hold parts: peak RSS 10 MiB higher
/// for no speed (a 1 GiB backup to S3: 62 -> 52 MiB, same time). One heap for the process, unless
/// glibc's own settings (`GLIBC_TUNABLES`, `MALLOC_ARENA_MAX`) say otherwise. Runs before any
/// thread is started.
fn one_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("GLIBC_TUNABLES").is_none()
        && std::env::var_os("MALLOC_ARENA_MAX").is_none()
    {
        // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 1);
        }
    }
}

/// Runs the command line and returns the exit code.
pub fn main() -> i32 {
    one_heap();
    // `setup run --help` lists every action a playbook step may name, from their declarations.
    // `--help` names every other answer from the one table of answers.
    let examples = cli::EXAMPLES.replacen(
        "\nAnswers (strongest first)",
        &format!(
            "\n{}\n\nAnswers (strongest first)",
            answers::others_help(100)
        ),
        1,
    );
    let matches = <cli::Cli as clap::CommandFactory>::command()
        .after_help(examples)
        .mut_subcommand("run", |c| c.after_long_help(docs::actions::help()))
        .get_matches();
    let cli =
        <cli::Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // TLS for the HTTP storage backends (S3, Azure) and FTPS uses rustls with the ring provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    opendal_http_transport_reqwest::install_default();
    let color = match cli.common.color {
        cli::Color::Always => true,
        cli::Color::Never => false,
        cli::Color::Auto => {
            std::io::stderr().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    let unicode = std::io::stderr().is_terminal();
    let _ = miette::set_hook(Box::new(move |_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .color(color)
                .unicode(unicode)
                .terminal_links(false)
                .width(100)
                // A path or a run id is one word: lines break at spaces only, never inside a word
                // (at a hyphen or a slash of a path).
                .break_words(false)
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .word_splitter(textwrap::WordSplitter::NoHyphenation)
                .context_lines(1)
                .force_graphical(true)
                .build(),
        )
    }));
    match app::run(cli) {
        Ok(code) => code,
        Err(failure) => {
            let code = failure.exit_code();
            eprintln!("{:?}", failure.into_report());
            code
        }
    }
}
