//! `setup validate`: load and check every document and build the plan; touch nothing.

use std::path::PathBuf;

use crate::failure::Failure;
use crate::options::Options;
use crate::world::{self, PlaybookRef};

pub fn run(o: &Options, playbook: &Option<PathBuf>) -> Result<i32, Failure> {
    let pref = match playbook {
        Some(p) => PlaybookRef::File(p.clone()),
        None => PlaybookRef::Builtin("standalone/restore.yml".into()),
    };
    let w = world::load(o, pref, false)?;
    println!(
        "valid: {} hosts, {} steps, {} tasks, {} rollback steps",
        w.inventory.hosts.len(),
        w.plan.main.steps.len(),
        w.plan.main.tasks.len(),
        w.plan.rollback.steps.len()
    );
    Ok(0)
}
