//! `setup standalone failover` (also for a migration): when the DC answers, its analytics of today
//! so far and its configuration are backed up first (`--dc DIR`, the DC's folder); then this site
//! restores from the newest backups in current-week mode, so that the days of this week are there
//! too. A DC that does not answer is said so, and the restore takes what storage has. The DC's
//! storage and this site's must be the same place, or nothing is done: restoring from another
//! storage than the one the DC just wrote to would restore an older backup.

use crate::cli::{Common, FailoverArgs};
use crate::failure::Failure;
use crate::options::{Options, Overrides};
use crate::pipeline::run::{Judged, check_or_run};
use crate::report::summary::Measure;
use crate::world::{self, PlaybookRef};

/// Refuses (exit 2) when the DC writes its backups to another place than this site reads from.
fn same_storage(dc: &Common, dr: &Common) -> Result<(), Failure> {
    let dc_w = world::load_storage(&Options::new(dc, Overrides::default()))?;
    let dr_w = world::load_storage(&Options::new(dr, Overrides::default()))?;
    let (a, b) = (dc_w.storage.place(&dc_w.dir), dr_w.storage.place(&dr_w.dir));
    if a == b {
        return Ok(());
    }
    Err(Failure::invalid(
        crate::diag::Diag::plain(
            "failover_storage",
            format!(
                "the DC writes its backups to {a}, and this site restores from {b}: a failover would restore an older backup than the one the DC is about to write"
            ),
        )
        .help("give this site the DC's storage (its answers, or --set storage.…), then run the failover again; nothing was backed up or restored"),
    ))
}

pub fn run(common: &Common, args: &FailoverArgs) -> Result<i32, Failure> {
    let given = Overrides {
        force: args.force,
        allow_older: args.allow_older,
    };
    let o = Options::new(common, given);
    let now = world::clock_of(&o)?;
    if let Some(dc) = &args.dc {
        let today = now.date_naive();
        let mut c = common.clone();
        c.dir = dc.clone();
        same_storage(&c, common)?;
        c.set.push(format!("day={today}"));
        c.set
            .push(format!("day_end={}", today + chrono::Duration::days(1)));
        // The DC backs up: `--force` replaces a backup there; `--allow-older` is the restore's.
        let dc_o = Options::new(
            &c,
            Overrides {
                force: args.force,
                allow_older: false,
            },
        );
        super::say!(
            "Failover: backing up today's analytics and the configuration at the DC ({})",
            dc.display()
        );
        let backed = world::load(
            &dc_o,
            PlaybookRef::Builtin("standalone/backup.yml".into()),
            false,
        )
        .and_then(|w| check_or_run(&dc_o, w, &|_| Judged::measured(Measure::Nothing))?.result());
        match backed {
            Ok(0) => super::say!("Failover: the DC's backups are taken; restoring from them"),
            Ok(code) => super::say!(
                "Failover: the DC's backup did not complete (exit {code}; see its summary above): restoring what storage has"
            ),
            // A mistake in the DC's documents is bad input: nothing is restored on a guess.
            Err(e @ Failure::Invalid(_)) => return Err(e),
            Err(Failure::Failed(m) | Failure::Refused(m) | Failure::Other(m)) => super::say!(
                "Failover: the DC cannot be backed up ({}): restoring what storage has",
                m.lines().next().unwrap_or("")
            ),
        }
    } else {
        super::say!("Failover: no --dc folder given: restoring what storage has");
    }
    let mut c = common.clone();
    c.set.push("analytics.mode=current-week".into());
    c.set.push("config_backup=latest".into());
    let dr_o = Options::new(&c, given);
    let w = world::load(
        &dr_o,
        PlaybookRef::Builtin("standalone/restore.yml".into()),
        true,
    )?;
    check_or_run(&dr_o, w, &|_| Judged::measured(Measure::Restore))?.result()
}
