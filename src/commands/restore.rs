//! `setup standalone restore`: the built-in restore (`playbooks/standalone/restore.yml`) of what
//! restore.yml names; its report measures the RTO.

use crate::failure::Failure;
use crate::options::Options;
use crate::pipeline::run::{Judged, check_or_run};
use crate::report::summary::Measure;
use crate::world::{self, PlaybookRef};

pub fn run(o: Options) -> Result<i32, Failure> {
    let o = crate::pipeline::resume::resuming(o)?;
    let w = world::load(
        &o,
        PlaybookRef::Builtin("standalone/restore.yml".into()),
        true,
    )?;
    check_or_run(&o, w, &|_| Judged::measured(Measure::Restore))?.result()
}
