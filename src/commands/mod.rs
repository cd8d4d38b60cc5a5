//! The commands: one file each. Each takes the checked options, loads what it needs and nothing more.

pub mod check;
pub mod inventory;
pub mod list;
pub mod prepare;
pub mod run;
pub mod status;
pub mod storage_test;
pub mod validate;

use crate::failure::Failure;
use crate::options::Options;
use crate::storage::Storage;
use crate::world::StorageWorld;

fn runtime() -> tokio::runtime::Runtime {
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
    let storage = prepare::open_storage(&w.storage, &w.dir, &masker)?;
    Ok((w, storage))
}
