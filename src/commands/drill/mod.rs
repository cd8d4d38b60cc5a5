//! `setup standalone drill`: the built-in drill playbook (the newest backups restored into a
//! sandbox beside the live site, checked, removed again) run by the same engine as a restore, with
//! the host locks a restore takes. After the run: the RTO of each component against its target,
//! the verdict (exit 0 only when every check passed and nothing failed), and the evidence in
//! `.setup/drills/RUN/` (report.json, report.html). `--list` shows past drills; `--clean` runs
//! only the steps that remove what an earlier drill left, and the look that nothing is left.

mod result;

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use serde_json::Value as J;

use crate::cli::{Common, DrillArgs};
use crate::exec::Ending;
use crate::failure::Failure;
use crate::options::{Options, Overrides};
use crate::pipeline::run::{Ended, Judged};
use crate::report::summary::Measure;
use crate::world::{self, PlaybookRef};

pub use result::drills_dir;

pub fn run(common: &Common, args: &DrillArgs) -> Result<i32, Failure> {
    if args.list {
        return self::list(&Options::new(common, Overrides::default()));
    }
    let mut c = common.clone();
    // The newest trusted configuration backup, whatever restore.yml names (a --set still wins).
    c.set.insert(0, "config_backup=latest".into());
    if args.clean {
        c.only = vec!["sweep".into()];
    }
    let o = Options::new(&c, Overrides::default());
    let w = world::load(
        &o,
        PlaybookRef::Builtin("standalone/drill.yml".into()),
        true,
    )?;
    if !args.clean && !o.check {
        // Its folder first: a drill killed before it writes its evidence is still listed, from its
        // journal.
        let dir = drills_dir(&w.dir).join(&w.run.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::Other(format!("cannot make {}: {e}", dir.display())))?;
    }
    let evidence = OnceCell::new();
    let outcome = crate::pipeline::run::check_or_run(&o, w, &|ended| judge(ended, &evidence))?;
    match evidence.into_inner() {
        Some(Ok(dir)) => super::say!(
            "Drill evidence: {} and {}",
            dir.join("report.html").display(),
            dir.join("report.json").display()
        ),
        Some(Err(e)) => eprintln!("warning: the drill's evidence could not be written: {e}"),
        None => {}
    }
    if outcome.failure.is_none() && !outcome.failures.is_empty() {
        return Err(Failure::Failed(format!(
            "drill {} FAILED ({} problem(s)):\n{}",
            outcome.run_id,
            outcome.failures.len(),
            outcome
                .failures
                .iter()
                .map(|f| format!("  - {f}"))
                .collect::<Vec<_>>()
                .join("\n")
        )));
    }
    outcome.result()
}

/// A drill's run once its steps ended: its RTO against the targets (when the steps ran to their
/// end), what failed (each failed check and step, masked), its verdict from every check and its
/// evidence (kept in `evidence`). A run that only sweeps what earlier drills left (`--clean`)
/// restores nothing: no RTO, no verdict, no evidence.
fn judge(ended: &Ended<'_>, evidence: &OnceCell<Result<PathBuf, String>>) -> Judged {
    let w = ended.world;
    let sweep_only = w
        .plan
        .main
        .steps
        .iter()
        .all(|s| s.step.tags.iter().any(|t| t == "sweep"));
    if !sweep_only && ended.ending == Ending::Done {
        let checks = result::rto_checks(w, &ended.collector.0.lock().expect("collector"));
        for check in checks {
            ended.events.emit(check);
        }
    }
    let c = ended.collector.0.lock().expect("collector");
    let failures: Vec<String> = result::failures(&c, &w.plan)
        .iter()
        .map(|f| ended.shared.masker.mask(f))
        .collect();
    if sweep_only {
        return Judged {
            measure: Measure::Nothing,
            failures,
            verdict: None,
        };
    }
    let passed = ended.ending == Ending::Done && ended.stored && failures.is_empty();
    let verdict = result::verdict(w, &c, passed);
    let _ = evidence.set(result::evidence(
        w,
        ended.shared,
        &c,
        &verdict,
        ended.finished,
    ));
    Judged {
        measure: Measure::Drill,
        failures,
        verdict: Some(verdict),
    }
}

/// Past drills under `dir`, newest first: each id with its evidence (null when its report.json
/// cannot be read).
pub fn past(dir: &Path) -> Vec<(String, J)> {
    let drills = drills_dir(dir);
    let mut ids: Vec<String> = std::fs::read_dir(&drills)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    ids.reverse();
    ids.into_iter()
        .map(|id| {
            let e = std::fs::read_to_string(drills.join(&id).join("report.json"))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(J::Null);
            (id, e)
        })
        .collect()
}

/// What the journal of a drill that wrote no evidence says: `killed/unfinished` when it never
/// finished (killed, or still running), else how it ended; and when it started.
fn unfinished(dir: &Path, id: &str) -> (String, String) {
    let path = crate::report::journal::runs_dir(dir)
        .join(id)
        .join("journal.jsonl");
    let Ok(events) = crate::report::journal::read_events(&path) else {
        return ("not run".into(), "(no journal)".into());
    };
    use crate::report::events::Event;
    let started = events
        .iter()
        .find_map(|e| match e {
            Event::RunStarted { at, .. } => Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            _ => None,
        })
        .unwrap_or_default();
    let status = events
        .iter()
        .rev()
        .find_map(|e| match e {
            Event::RunFinished { status, .. } => Some(status.clone()),
            _ => None,
        })
        .unwrap_or_else(|| "killed/unfinished".into());
    (status, started)
}

/// `--list`: past drills, newest first.
fn list(o: &Options) -> Result<i32, Failure> {
    let drills = past(&o.dir);
    if drills.is_empty() {
        super::say!(
            "No drill yet in {} (run `setup standalone drill`).",
            drills_dir(&o.dir).display()
        );
        return Ok(0);
    }
    super::say!(
        "{:<24} {:<17} {:<22} {:<16} {:<16} LEFT BEHIND",
        "DRILL",
        "RESULT",
        "STARTED (UTC)",
        "RTO CONFIG",
        "RTO FULL"
    );
    for (id, e) in drills {
        if e.is_null() {
            let (status, started) = unfinished(&o.dir, &id);
            super::say!(
                "{id:<24} {status:<17} {started:<22} {:<16} {:<16} not known: it wrote no evidence",
                "-",
                "-"
            );
            if status == "killed/unfinished" {
                super::say!(
                    "{:<24} (a drill still running looks the same; `setup standalone drill --clean` removes what a killed one left)",
                    ""
                );
            }
            continue;
        }
        let rto = |name: &str| {
            e["rto"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| r["component"] == name)
                .map_or("-".to_string(), |r| {
                    format!(
                        "{}{}",
                        crate::report::drill::minutes(r["seconds"].as_f64().unwrap_or(0.0)),
                        if r["met"] == true { "" } else { " !" }
                    )
                })
        };
        let left = match &e["left_behind"] {
            J::String(s) => s.clone(),
            other => format!("{} item(s)", other.as_array().map_or(0, Vec::len)),
        };
        super::say!(
            "{id:<24} {:<17} {:<22} {:<16} {:<16} {left}",
            e["status"].as_str().unwrap_or("?"),
            e["started_at"].as_str().unwrap_or(""),
            rto("configuration"),
            rto("full"),
        );
        let rpo = rpo_line(&e["rpo"]);
        if !rpo.is_empty() {
            super::say!("{:<24} RPO: {rpo}", "");
        }
    }
    Ok(0)
}

fn rpo_line(rpo: &J) -> String {
    let Some(m) = rpo.as_object() else {
        return String::new();
    };
    m.iter()
        .filter_map(|(k, v)| {
            let secs = v["age_seconds"].as_f64()?;
            Some(format!("{k} {:.1} h", secs / 3600.0))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
