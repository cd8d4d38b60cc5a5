//! `setup run PLAYBOOK`: any playbook, run by the same engine as the standalone operations, with
//! the same locks, journal, rollback and `--resume`.

use std::path::Path;

use crate::failure::Failure;
use crate::options::Options;
use crate::pipeline::run::{Judged, check_or_run};
use crate::report::summary::Measure;
use crate::world::{self, PlaybookRef};

pub fn run(o: Options, playbook: &Path) -> Result<i32, Failure> {
    let o = crate::pipeline::resume::resuming(o)?;
    let w = world::load(&o, PlaybookRef::File(playbook.to_path_buf()), false)?;
    check_or_run(&o, w, &|_| Judged::measured(Measure::Restore))?.result()
}
