//! The steps every run shares, whichever command started it: what it settles before it starts
//! (`before`: `latest` named, the question at a terminal; `fresh`: the backups' age, an older
//! configuration), what its tasks share (`prepare`), `--check`'s plan and probes (`check`, `probe`,
//! `live`, `digests`), the host locks (`locking`), `--resume` (`resume`), the hooks around it
//! (`hooks`), its notifications (`notify`, `mail`), and the runner (`run`) that holds them
//! together. Also what every command shares with the runner: its runtime, and standard output
//! written without a panic.

pub mod before;
pub mod check;
mod digests;
pub mod fresh;
pub mod hooks;
mod live;
mod locking;
pub mod mail;
pub mod notify;
pub mod prepare;
mod probe;
pub mod resume;
pub mod run;

use std::sync::atomic::{AtomicBool, Ordering};

/// Whether this command only reads and shows (a listing, a status, a `--check`): a reader of its
/// output that went away (`setup standalone list | head -1`) may end it quietly, as it would any
/// Unix tool. Any other command changes something, and carries on to its end.
static SHOWS_ONLY: AtomicBool = AtomicBool::new(false);
/// Standard output could not be written: a command that carries on writes nothing more to it.
static OUTPUT_GONE: AtomicBool = AtomicBool::new(false);

/// Says that the command about to run only reads and shows (see [`emit`]).
pub fn shows_only() {
    SHOWS_ONLY.store(true, Ordering::SeqCst);
}

/// Writes to stdout, never panicking. When the output cannot be written (a pager or `head` closed
/// it), a command that only shows ends there (quietly on a closed pipe, exit 1 on any other
/// error); any other command carries on to its end and exits with its own code: a restore or a
/// prune must never stop half-way because its reader went away.
pub fn emit(text: &str) {
    use std::io::Write;
    if OUTPUT_GONE.load(Ordering::SeqCst) {
        return;
    }
    let text = &crate::storage::printable(text);
    let mut out = std::io::stdout().lock();
    let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) else {
        return;
    };
    let closed = e.kind() == std::io::ErrorKind::BrokenPipe;
    if SHOWS_ONLY.load(Ordering::SeqCst) {
        if closed {
            std::process::exit(0);
        }
        eprintln!("cannot write to standard output: {e}");
        std::process::exit(1);
    }
    if !OUTPUT_GONE.swap(true, Ordering::SeqCst) {
        eprintln!(
            "warning: standard output cannot be written ({e}); carrying on to the end without it"
        );
    }
}

/// `println!` through [`emit`].
macro_rules! say {
    ($($t:tt)*) => { $crate::pipeline::emit(&format!("{}\n", format!($($t)*))) };
}
pub(crate) use say;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
