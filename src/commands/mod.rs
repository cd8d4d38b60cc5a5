//! The commands: one file (or folder) each. Each takes the checked options, loads what it needs
//! and nothing more; one that runs steps hands its world to the runner (`pipeline::run`) and says
//! what it adds to the run.

pub mod backup;
pub mod copy;
pub mod drill;
pub mod failover;
pub mod inventory;
pub mod list;
pub mod notify_test;
pub mod prune;
pub mod restore;
pub mod run;
pub mod schedule;
pub mod status;
pub mod storage_test;
pub mod validate;
pub mod verify;

pub use crate::pipeline::before::site_in;
pub use crate::pipeline::runtime;
pub(crate) use crate::pipeline::say;

use crate::failure::Failure;
use crate::options::Options;
use crate::storage::Storage;
use crate::world::StorageWorld;

/// Loads the storage answers alone and opens the storage: no inventory, no playbook, no plan.
fn open_storage(o: &Options) -> Result<(StorageWorld, Box<dyn Storage>), Failure> {
    let w = crate::world::load_storage(o)?;
    let masker = crate::secret::Masker::default();
    w.answers.register_secrets(&masker);
    let storage =
        crate::pipeline::prepare::open_configured(&w.storage, &w.targets, &w.dir, &masker)?;
    Ok((w, storage))
}
