//! The commands: one file each. Each takes the checked options, loads what it needs and nothing more.

mod before;
pub use before::site_in;
pub mod check;
pub mod copy;
mod digests;
pub mod drill;
mod drill_result;
pub mod failover;
mod fresh;
mod hooks;
pub mod inventory;
pub mod list;
mod live;
mod locking;
mod mail;
pub mod notify;
pub mod prepare;
mod probe;
pub mod prune;
pub mod resume;
pub mod run;
pub mod schedule;
pub mod status;
pub mod storage_test;
pub mod validate;
pub mod verify;

use std::sync::atomic::{AtomicBool, Ordering};

use crate::failure::Failure;
use crate::options::Options;
use crate::storage::Storage;
use crate::world::StorageWorld;

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
    ($($t:tt)*) => { $crate::commands::emit(&format!("{}\n", format!($($t)*))) };
}
pub(crate) use say;

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Loads the storage answers alone and opens the storage: no inventory, no playbook, no plan.
fn open_storage(o: &Options) -> Result<(StorageWorld, Box<dyn Storage>), Failure> {
    let w = crate::world::load_storage(o)?;
    let masker = crate::secret::Masker::default();
    w.answers.register_secrets(&masker);
    let storage = prepare::open_configured(&w.storage, &w.targets, &w.dir, &masker)?;
    Ok((w, storage))
}
