//! A drill's evidence: what was restored from where, every check with what was expected and what
//! was found, the RTO per component against its target, the RPO, what was left behind, and the
//! timeline; as JSON (`report.json`) and as one self-contained page (`report.html`, an SVG Gantt of
//! the tasks per host with the critical path marked).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as J;

use super::collect::{Check, Collected, DrillVerdict, NotExercised, Restored, TaskRecord, Verdict};
use super::events::Status;
use super::rpo::Rpo;
use crate::plan::Plan;

/// What the evidence is built from besides the events.
pub struct Facts<'a> {
    pub plan: &'a Plan,
    pub site: String,
    pub storage: String,
    /// restore.yml's `drill.rto_target`: `config` and `full`, in seconds.
    pub targets: &'a crate::docs::drill::RtoTarget,
    pub finished: DateTime<Utc>,
    pub run_report: String,
}

/// The tags of each main step.
fn tags(plan: &Plan) -> BTreeMap<&str, &[String]> {
    plan.main
        .steps
        .iter()
        .map(|ps| (ps.step.id.as_str(), ps.step.tags.as_slice()))
        .collect()
}

/// Seconds from the run's start to the end of the last main task tagged with one of `tags`.
fn measured(c: &Collected, plan: &Plan, wanted: &[&str]) -> Option<f64> {
    let start = c.started_at?;
    let tags = tags(plan);
    c.tasks
        .iter()
        .filter(|t| !t.rollback && t.status != Status::Skipped)
        .filter(|t| {
            tags.get(t.step.as_str())
                .is_some_and(|ts| ts.iter().any(|x| wanted.contains(&x.as_str())))
        })
        .map(|t| (t.finished_at - start).num_milliseconds() as f64 / 1000.0)
        .reduce(f64::max)
}

/// A drill's RTO once its steps all ran (a failed check fails it, but its restore still ran): from
/// its start to the end of its last restoring step, configuration or analytics.
pub fn drill_rto(c: &Collected, plan: &Plan) -> Option<f64> {
    let ran = !c.interrupted
        && !c.tasks.iter().any(|t| {
            !t.rollback
                && (t.status == Status::Aborted || (t.status == Status::Failed && !t.ignored))
        });
    ran.then(|| measured(c, plan, &["config", "analytics"]))
        .flatten()
}

/// The verdict in words: `PASSED`, `PASSED (partial): analytics not exercised: no day to
/// restore`, or `FAILED`; of the run report's `drill` (or the evidence's `status` and
/// `not_exercised`).
pub fn verdict_line(verdict: Verdict, not_exercised: &[NotExercised]) -> String {
    let not: Vec<String> = not_exercised
        .iter()
        .map(|n| format!("{} not exercised: {}", n.component, n.why))
        .collect();
    match verdict {
        Verdict::Passed => "PASSED: every check agrees with what the DC recorded".into(),
        Verdict::Partial => format!("PASSED (partial): {}", not.join("; ")),
        _ if not.is_empty() => format!("FAILED; {}", not.join("; ")),
        Verdict::Failed => "FAILED".into(),
    }
}

pub fn minutes(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{} min {:02} s", s / 60, s % 60)
}

/// The RTO of each component against its target: (name, measured seconds, target seconds).
pub fn rto(
    c: &Collected,
    plan: &Plan,
    targets: &crate::docs::drill::RtoTarget,
) -> Vec<(&'static str, f64, u64)> {
    let mut out = Vec::new();
    for (name, key, wanted) in [
        ("configuration", "config", &["config"][..]),
        ("full", "full", &["config", "analytics"][..]),
    ] {
        if let (Some(m), Some(t)) = (measured(c, plan, wanted), targets.of(key)) {
            out.push((name, m, t));
        }
    }
    out
}

/// The task that finished last on the path that decided the run's length: from the last task
/// back, each time the task of a needed step that finished last before this one started.
fn critical(c: &Collected, plan: &Plan) -> Vec<usize> {
    let main: Vec<(usize, &TaskRecord)> = c
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.rollback && t.status != Status::Skipped)
        .collect();
    let needs: BTreeMap<&str, Vec<&str>> = plan
        .main
        .steps
        .iter()
        .map(|ps| {
            let n = ps
                .needs
                .iter()
                .map(|i| plan.main.steps[*i].step.id.as_str())
                .collect();
            (ps.step.id.as_str(), n)
        })
        .collect();
    let mut path = Vec::new();
    let mut at = main.iter().max_by_key(|(_, t)| t.finished_at).copied();
    while let Some((i, t)) = at {
        path.push(i);
        let wanted = needs.get(t.step.as_str()).cloned().unwrap_or_default();
        at = main
            .iter()
            .filter(|(_, p)| wanted.contains(&p.step.as_str()))
            .filter(|(_, p)| p.finished_at <= t.started_at + chrono::Duration::milliseconds(50))
            .max_by_key(|(_, p)| p.finished_at)
            .copied();
    }
    path
}

/// A drill's evidence (`.setup/drills/RUN/report.json`; docs/report.md).
#[derive(Clone, Debug, Serialize)]
pub struct Evidence {
    pub drill: String,
    pub site: String,
    pub status: Verdict,
    pub started_at: String,
    pub finished_at: String,
    pub seconds: f64,
    pub storage: String,
    pub restored: Vec<Restored>,
    pub analytics_gate: Option<J>,
    pub checks: Vec<Check>,
    pub failed_steps: Vec<FailedStep>,
    pub not_exercised: Vec<NotExercised>,
    pub rto: Vec<RtoRow>,
    pub rpo: Rpo,
    pub left_behind: LeftBehind,
    pub timeline: Vec<Span>,
    pub run_report: String,
}

/// A step that failed on a host (a check that could not run, a download refused).
#[derive(Clone, Debug, Serialize)]
pub struct FailedStep {
    pub step: String,
    pub host: String,
    pub message: String,
}

/// A component's RTO against its target.
#[derive(Clone, Debug, Serialize)]
pub struct RtoRow {
    pub component: &'static str,
    pub seconds: f64,
    pub target_seconds: u64,
    pub met: bool,
}

/// What the look after the clean-up found.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum LeftBehind {
    /// `nothing`, or why it is not known.
    Said(&'static str),
    /// What was found, per host.
    Found(Vec<Leftover>),
}

/// What one host still holds after the clean-up.
#[derive(Clone, Debug, Serialize)]
pub struct Leftover {
    pub host: String,
    pub found: String,
}

/// A task on the timeline: seconds from the drill's start.
#[derive(Clone, Debug, Serialize)]
pub struct Span {
    pub step: String,
    pub host: String,
    pub status: Status,
    pub start: f64,
    pub end: f64,
    pub cleanup: bool,
    pub critical: bool,
}

/// The evidence of the drill whose verdict is `verdict` (the run report's `drill`): its `status` is
/// `passed`, `partial` (every check passed, but a component of the site was not exercised:
/// `not_exercised` says which and why) or `failed`.
pub fn evidence(c: &Collected, f: &Facts<'_>, verdict: &DrillVerdict, rpo: &Rpo) -> Evidence {
    let start = c.started_at.unwrap_or(f.finished);
    let at = |t: DateTime<Utc>| (t - start).num_milliseconds() as f64 / 1000.0;
    let on_path = critical(c, f.plan);
    let timeline: Vec<Span> = c
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status != Status::Skipped)
        .map(|(i, t)| Span {
            step: t.step.clone(),
            host: t.host.clone(),
            status: t.status,
            start: at(t.started_at),
            end: at(t.finished_at),
            cleanup: t.rollback,
            critical: on_path.contains(&i),
        })
        .collect();
    let rto: Vec<RtoRow> = rto(c, f.plan, f.targets)
        .into_iter()
        .map(|(name, m, t)| RtoRow {
            component: name,
            seconds: m,
            target_seconds: t,
            met: m <= t as f64,
        })
        .collect();
    let looks: Vec<&Check> = c
        .checks
        .iter()
        .filter(|k| k.name == "left behind")
        .collect();
    let left = if looks.is_empty() {
        LeftBehind::Said("not known: the look for leftovers did not run")
    } else if looks.iter().all(|k| k.passed) {
        LeftBehind::Said("nothing")
    } else {
        LeftBehind::Found(
            looks
                .iter()
                .filter(|k| !k.passed)
                .map(|k| Leftover {
                    host: k.host.clone(),
                    found: k.found.clone(),
                })
                .collect(),
        )
    };
    let failed_steps: Vec<FailedStep> = c
        .tasks
        .iter()
        .filter(|t| t.status == Status::Failed || t.ignored)
        .map(|t| FailedStep {
            step: t.step.clone(),
            host: t.host.clone(),
            message: t.message.clone(),
        })
        .collect();
    Evidence {
        drill: c.run_id.clone(),
        site: f.site.clone(),
        status: verdict.verdict,
        started_at: start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        finished_at: f.finished.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        seconds: at(f.finished),
        storage: f.storage.clone(),
        restored: c.restored.clone(),
        analytics_gate: c.gate.clone(),
        checks: c.checks.clone(),
        failed_steps,
        not_exercised: verdict.not_exercised.clone(),
        rto,
        rpo: rpo.clone(),
        left_behind: left,
        timeline,
        run_report: f.run_report.clone(),
    }
}

impl Evidence {
    /// The evidence as written (`report.json`), keys as a JSON object orders them.
    pub fn to_json(&self) -> J {
        serde_json::to_value(self).expect("evidence is JSON")
    }
}
