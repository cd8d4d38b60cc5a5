//! `setup standalone drill`: the built-in drill playbook (the newest backups restored into a
//! sandbox beside the live site, checked, removed again) run by the same engine as a restore, with
//! the host locks a restore takes. After the run: the RTO of each component against its target,
//! the verdict (exit 0 only when every check passed and nothing failed), and the evidence in
//! `.setup/drills/RUN/` (report.json, report.html). `--list` shows past drills; `--clean` runs
//! only the steps that remove what an earlier drill left, and the look that nothing is left.

use std::path::{Path, PathBuf};

use serde_json::Value as J;

use crate::cli::Common;
use crate::failure::Failure;
use crate::options::Options;
use crate::report::events::{Event, Status};
use crate::report::summary::Collected;
use crate::world::{self, PlaybookRef, World};

pub fn drills_dir(dir: &Path) -> PathBuf {
    dir.join(".setup").join("drills")
}

pub fn run(common: &Common, list: bool, clean: bool) -> Result<i32, Failure> {
    if list {
        return self::list(&Options::new(common));
    }
    let mut c = common.clone();
    // The newest trusted configuration backup, whatever restore.yml names (a --set still wins).
    c.set.insert(0, "config_backup=latest".into());
    if clean {
        c.only = vec!["sweep".into()];
    }
    let o = Options::new(&c);
    let w = world::load(
        &o,
        PlaybookRef::Builtin("standalone/drill.yml".into()),
        true,
    )?;
    if !clean && !o.check {
        // Its folder first: a drill killed before it writes its evidence is still listed, from its
        // journal.
        let dir = drills_dir(&w.dir).join(&w.run.id);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Failure::Other(format!("cannot make {}: {e}", dir.display())))?;
    }
    super::run::check_or_run(&o, w)
}

/// The drill's verdict once it has ended, as the run report's `drill`: `failed` unless the run
/// passed; else `partial` when a component the site restores (restore.yml's `components`) had
/// nothing restored into the sandbox, each named in `not_exercised` with why; else `passed`.
pub fn verdict(w: &World, c: &Collected, passed: bool) -> J {
    let mut not = Vec::new();
    for component in &w.restore.components {
        let steps: Vec<&crate::plan::PlanStep> = w
            .plan
            .main
            .steps
            .iter()
            .filter(|ps| ps.step.tags.iter().any(|t| t == component))
            .collect();
        let restored = c.restored.iter().any(|r| {
            steps
                .iter()
                .any(|ps| r["step"].as_str() == Some(ps.step.id.as_str()))
        });
        if steps.is_empty() || restored {
            continue;
        }
        // A component the gate decides for: the gate chose no day.
        let gated = steps.iter().any(|ps| ps.step.action == "analytics_gate");
        let chose_none = c
            .gate
            .as_ref()
            .is_some_and(|g| g["selected"].as_array().is_none_or(Vec::is_empty));
        let why = if gated && chose_none {
            "no day to restore"
        } else {
            "nothing of it was restored"
        };
        not.push(serde_json::json!({"component": component, "why": why}));
    }
    let verdict = match (passed, not.is_empty()) {
        (false, _) => "failed",
        (true, true) => "passed",
        (true, false) => "partial",
    };
    serde_json::json!({"verdict": verdict, "not_exercised": not})
}

/// The RTO of each component against its target, as checks (a drill that misses its target
/// fails), once the drill's steps have run. Emitted by the caller, with the collector unlocked.
pub fn rto_checks(w: &World, c: &Collected) -> Vec<Event> {
    let targets = w.restore.drill_value()["rto_target"].clone();
    crate::report::drill::rto(c, &w.plan, &targets)
        .into_iter()
        .map(|(name, measured, target)| Event::Check {
            at: chrono::Utc::now(),
            host: "controller".into(),
            step: "rto".into(),
            name: format!("RTO {name}"),
            expected: format!("at most {}", crate::report::drill::minutes(target as f64)),
            found: crate::report::drill::minutes(measured),
            passed: measured <= target as f64,
        })
        .collect()
}

/// What failed in a drill: each failed check and each failed step (checks carry `ignore_errors`,
/// so the run itself goes on). The sweep of what an earlier drill left is not the drill: a sweep
/// step that fails (a `drill.stop` with nothing to stop) counts only through the look after it.
pub fn failures(c: &Collected, plan: &crate::plan::Plan) -> Vec<String> {
    let sweep = |step: &str| {
        plan.main.steps.iter().any(|ps| {
            let tagged = |tag: &str| ps.step.tags.iter().any(|t| t == tag);
            ps.step.id == step && tagged("sweep") && !tagged("look")
        })
    };
    let mut out: Vec<String> = c
        .checks
        .iter()
        .filter(|k| k["passed"] != true)
        .map(|k| {
            format!(
                "{} on {}: expected {}, found {}",
                k["name"].as_str().unwrap_or(""),
                k["host"].as_str().unwrap_or(""),
                k["expected"].as_str().unwrap_or(""),
                k["found"].as_str().unwrap_or("")
            )
        })
        .collect();
    for t in c
        .tasks
        .iter()
        // A check step's failure is ignored by the engine (so every check runs): it is still one.
        .filter(|t| t.status == Status::Failed || t.ignored)
        .filter(|t| t.rollback || !sweep(&t.step))
    {
        let checked = c
            .checks
            .iter()
            .any(|k| k["step"] == t.step && k["host"] == t.host && k["passed"] != true);
        if !checked {
            out.push(format!("step {} on {}: {}", t.step, t.host, t.message));
        }
    }
    out
}

/// Writes `.setup/drills/RUN/report.json` and `report.html`; returns the folder.
pub fn evidence(
    w: &World,
    shared: &crate::task::RunShared,
    c: &Collected,
    status: &str,
    finished: chrono::DateTime<chrono::Utc>,
) -> Result<PathBuf, String> {
    let config = c
        .restored
        .iter()
        .filter_map(|r| r["object"].as_str())
        .find(|o| o.starts_with("director-config-"));
    let rpo = crate::report::rpo::rpo(config, c.gate.as_ref(), c.clock.unwrap_or(finished), true).1;
    let targets = w.restore.drill_value()["rto_target"].clone();
    let run_dir = crate::report::journal::runs_dir(&w.dir).join(&w.run.id);
    let facts = crate::report::drill::Facts {
        plan: &w.plan,
        site: super::before::site_of(shared),
        storage: w
            .storage
            .as_ref()
            .map(|s| s.place(&w.dir))
            .unwrap_or_default(),
        targets: &targets,
        finished,
        run_report: run_dir.join("report.json").display().to_string(),
    };
    let e = crate::report::drill::evidence(c, &facts, status, rpo);
    let dir = drills_dir(&w.dir).join(&w.run.id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mask = |s: String| shared.masker.mask(&s);
    let json = mask(serde_json::to_string_pretty(&e).expect("json"));
    crate::report::journal::write_private(&dir.join("report.json"), &json)
        .map_err(|e| e.to_string())?;
    let page = mask(crate::report::drill::html(&e));
    crate::report::journal::write_private(&dir.join("report.html"), &page)
        .map_err(|e| e.to_string())?;
    Ok(dir)
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
