//! `setup validate`: load and check every document and build the plan; touch nothing.

use std::path::PathBuf;

use crate::failure::Failure;
use crate::options::Options;
use crate::world::{self, PlaybookRef};

pub fn run(o: &Options, playbook: &Option<PathBuf>) -> Result<i32, Failure> {
    let pref = match playbook {
        Some(p) => PlaybookRef::File(p.clone()),
        None => PlaybookRef::Builtin(builtin_of(o).into()),
    };
    let w = world::load(o, pref, false)?;
    super::say!(
        "valid: {} hosts, {} steps, {} tasks, {} rollback steps",
        w.inventory.hosts.len(),
        w.plan.main.steps.len(),
        w.plan.main.tasks.len(),
        w.plan.rollback.steps.len()
    );
    Ok(0)
}

/// The folder's own operation: a DC's folder (backup.yml, no restore.yml) backs up, and is checked
/// as the backup it runs; any other folder restores.
fn builtin_of(o: &Options) -> &'static str {
    if !o.restore_file.wanted() && o.backup_file.wanted() {
        "standalone/backup.yml"
    } else {
        "standalone/restore.yml"
    }
}
