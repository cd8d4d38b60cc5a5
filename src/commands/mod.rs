//! The commands: one file each. Each takes the checked options, loads what it needs and nothing more.

mod before;
pub use before::site_in;
pub mod check;
pub mod copy;
mod digests;
pub mod drill;
pub mod failover;
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

use crate::failure::Failure;
use crate::options::Options;
use crate::storage::Storage;
use crate::world::StorageWorld;

/// Writes to stdout; a reader that went away (`setup inventory --list | head -1`) ends the command
/// quietly, as it would any Unix tool, instead of a panic.
pub fn emit(text: &str) {
    use std::io::Write;
    let text = &crate::storage::printable(text);
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("cannot write to standard output: {e}");
        std::process::exit(1);
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
    let storage = if w.targets.is_empty() {
        prepare::open_storage(&w.storage, &w.dir, &masker)?
    } else {
        prepare::open_targets(&w.targets, &w.dir, &masker)?
    };
    Ok((w, storage))
}
