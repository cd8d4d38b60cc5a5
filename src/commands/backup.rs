//! `setup standalone backup`: the built-in backup (`playbooks/standalone/backup.yml`) of what
//! backup.yml names; once it succeeded, the pruning its retention asks for (`prune`).

use crate::failure::Failure;
use crate::options::Options;
use crate::pipeline::run::{Judged, check_or_run};
use crate::report::summary::Measure;
use crate::world::{self, PlaybookRef};

pub fn run(o: Options) -> Result<i32, Failure> {
    let o = crate::pipeline::resume::resuming(o)?;
    let w = world::load(
        &o,
        PlaybookRef::Builtin("standalone/backup.yml".into()),
        false,
    )?;
    // A backup restores nothing: no RTO.
    let outcome = check_or_run(&o, w, &|_| Judged::measured(Measure::Nothing))?;
    if outcome.ran && outcome.code == 0 {
        return super::prune::run(&o);
    }
    outcome.result()
}
