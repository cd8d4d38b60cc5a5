//! What a drill's run leaves to be judged once it ended: its checks of the RTO targets, its
//! failures, its verdict and its evidence (`.setup/drills/RUN/`). The `drill` command judges its
//! run by them, and lists what they wrote.

use std::path::{Path, PathBuf};

use crate::report::collect::{DrillVerdict, NotExercised, Verdict};
use crate::report::events::{Event, Status};
use crate::report::summary::Collected;
use crate::world::World;

pub fn drills_dir(dir: &Path) -> PathBuf {
    dir.join(".setup").join("drills")
}

/// The drill's verdict once it has ended, as the run report's `drill`: `failed` unless the run
/// passed; else `partial` when a component the site restores (restore.yml's `components`) had
/// nothing restored into the sandbox, each named in `not_exercised` with why; else `passed`.
pub fn verdict(w: &World, c: &Collected, passed: bool) -> DrillVerdict {
    let mut not = Vec::new();
    for component in &w.restore.components {
        let steps: Vec<&crate::plan::PlanStep> = w
            .plan
            .main
            .steps
            .iter()
            .filter(|ps| ps.step.tags.iter().any(|t| t == component))
            .collect();
        let restored = c
            .restored
            .iter()
            .any(|r| steps.iter().any(|ps| r.step == ps.step.id));
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
        not.push(NotExercised {
            component: component.clone(),
            why: why.into(),
        });
    }
    let verdict = match (passed, not.is_empty()) {
        (false, _) => Verdict::Failed,
        (true, true) => Verdict::Passed,
        (true, false) => Verdict::Partial,
    };
    DrillVerdict {
        verdict,
        not_exercised: not,
    }
}

/// The RTO of each component against its target, as checks (a drill that misses its target
/// fails), once the drill's steps have run. Emitted by the caller, with the collector unlocked.
pub fn rto_checks(w: &World, c: &Collected) -> Vec<Event> {
    crate::report::drill::rto(c, &w.plan, &w.restore.drill.rto_target)
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
        .filter(|k| !k.passed)
        .map(|k| {
            format!(
                "{} on {}: expected {}, found {}",
                k.name, k.host, k.expected, k.found
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
            .any(|k| k.step == t.step && k.host == t.host && !k.passed);
        if !checked {
            out.push(format!("step {} on {}: {}", t.step, t.host, t.message));
        }
    }
    out
}

/// Writes `.setup/drills/RUN/report.json` and `report.html` of the drill whose verdict is
/// `verdict`; returns the folder.
pub fn evidence(
    w: &World,
    shared: &crate::task::RunShared,
    c: &Collected,
    verdict: &DrillVerdict,
    finished: chrono::DateTime<chrono::Utc>,
) -> Result<PathBuf, String> {
    let config = c
        .restored
        .iter()
        .map(|r| r.object.as_str())
        .find(|o| o.starts_with("director-config-"));
    let rpo = crate::report::rpo::rpo(config, c.gate.as_ref(), c.clock.unwrap_or(finished), true)
        .1
        .unwrap_or_default();
    let targets = w.restore.drill.rto_target;
    let run_dir = crate::report::journal::runs_dir(&w.dir).join(&w.run.id);
    let facts = crate::report::drill::Facts {
        plan: &w.plan,
        site: crate::pipeline::before::site_of(shared),
        storage: w
            .storage
            .as_ref()
            .map(|s| s.place(&w.dir))
            .unwrap_or_default(),
        targets: &targets,
        finished,
        run_report: run_dir.join("report.json").display().to_string(),
    };
    let e = crate::report::drill::evidence(c, &facts, verdict, &rpo);
    let dir = drills_dir(&w.dir).join(&w.run.id);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mask = |s: String| shared.masker.mask(&s);
    let json = mask(serde_json::to_string_pretty(&e.to_json()).expect("json"));
    crate::report::journal::write_private(&dir.join("report.json"), &json)
        .map_err(|e| e.to_string())?;
    let page = mask(crate::report::drill_page::html(&e));
    crate::report::journal::write_private(&dir.join("report.html"), &page)
        .map_err(|e| e.to_string())?;
    Ok(dir)
}
