//! Dispatch: the checked options from the raw arguments, then the command that was asked for.

use crate::cli::{Cli, Command, Operation};
use crate::commands;
use crate::failure::Failure;
use crate::options::{Options, Overrides};

pub fn run(cli: Cli) -> Result<i32, Failure> {
    let o = Options::new(&cli.common, Overrides::of(&cli.command));
    if shows_only(&cli, &o) {
        crate::pipeline::shows_only();
    }
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "setup", &mut script);
            // Written as is (a script is not a name from storage); a closed pipe ends it quietly.
            let _ = std::io::Write::write_all(&mut std::io::stdout().lock(), &script);
            Ok(0)
        }
        Command::DemoBackups { dir, signing_key } => {
            let key =
                match signing_key {
                    Some(p) => Some(crate::authentic::SigningKey::load(p, None).map_err(|e| {
                        Failure::invalid(crate::diag::Diag::plain("signing_key", e))
                    })?),
                    None => None,
                };
            crate::demo::write_backups(dir, key.as_ref()).map_err(|e| {
                Failure::Other(format!("writing demo backups into {}: {e}", dir.display()))
            })?;
            Ok(0)
        }
        Command::StorageTest {
            size_mb,
            pause_after_mb,
        } => commands::storage_test::run(&o, *size_mb, *pause_after_mb),
        Command::Inventory { .. } => commands::inventory::list(&o),
        Command::NotifyTest => commands::notify_test::run(&o),
        Command::Serve {
            listen,
            insecure_http,
            tls_cert,
            tls_key,
            token,
        } => match token {
            None => crate::serve::run(
                &o,
                listen,
                *insecure_http,
                tls_cert.as_deref().zip(tls_key.as_deref()),
            ),
            Some(crate::cli::TokenCommand::Token { action, name }) => {
                crate::serve::token(&o, *action, name.as_deref())
            }
        },
        Command::Validate { playbook } => commands::validate::run(&o, playbook),
        Command::Run { playbook, .. } => commands::run::run(o, playbook),
        Command::Standalone { operation } => match operation {
            Operation::Schedule { action } => commands::schedule::run(&o, *action),
            Operation::Drill(args) => commands::drill::run(&cli.common, args),
            Operation::Failover(args) => commands::failover::run(&cli.common, args),
            Operation::Copy(args) => commands::copy::run(&o, &args.from, &args.to),
            Operation::Status => commands::status::run(&o),
            Operation::List => commands::list::run(&o),
            Operation::Verify => commands::verify::run(&o),
            Operation::Prune => commands::prune::run(&o),
            Operation::Restore(_) => commands::restore::run(o),
            Operation::Backup(_) => commands::backup::run(o),
        },
    }
}

/// Whether the command only reads and shows: a listing, a status, a plan (`--check`). Only such a
/// command may end quietly when the reader of its output goes away; every other one carries on.
fn shows_only(cli: &Cli, o: &Options) -> bool {
    match &cli.command {
        Command::Completions { .. } | Command::Inventory { .. } | Command::Validate { .. } => true,
        Command::Serve { token, .. } => matches!(
            token,
            Some(crate::cli::TokenCommand::Token {
                action: crate::cli::TokenAction::List,
                ..
            })
        ),
        Command::Standalone { operation } => match operation {
            Operation::List | Operation::Status => true,
            Operation::Drill(args) => args.list,
            Operation::Schedule { action } => *action == crate::cli::ScheduleAction::Show,
            // A `--check` plans and probes: it changes nothing.
            _ => o.check,
        },
        Command::Run { .. } => o.check,
        Command::StorageTest { .. } | Command::NotifyTest | Command::DemoBackups { .. } => false,
    }
}
