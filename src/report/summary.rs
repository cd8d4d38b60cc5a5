//! The run report: a summary for people and JSON for machines (schema in docs/report.md), with the RTO.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as J;

use super::collect::{Authenticity, Check, DrillVerdict, KeptAside, Lock, Restored, Undone};
use super::events::Status;
use super::rpo::Rpo;
use crate::plan::Plan;

pub use super::collect::{Collected, Collector, Measure, TaskRecord};

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The run report (`report.json`, schema `setup.report/1`; docs/report.md).
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub run_id: String,
    pub playbook: String,
    pub status: String,
    pub exit_code: i32,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    pub rto_seconds: Option<f64>,
    pub rpo: Option<Rpo>,
    pub critical_path: Vec<String>,
    pub critical_path_seconds: f64,
    pub steps: Vec<StepReport>,
    pub tasks: Vec<TaskReport>,
    pub rollback: Rollback,
    pub locks: Vec<Lock>,
    pub interrupted: bool,
    /// The weekly gate's decision, as the `analytics_gate` action registers it.
    pub gate: Option<J>,
    pub authenticity: Vec<Authenticity>,
    pub unsigned_allowed: bool,
    pub checks: Vec<Check>,
    pub storage: Vec<String>,
    pub drill: Option<DrillVerdict>,
    pub kept_aside: Vec<KeptAside>,
    pub restored: Vec<Restored>,
    /// Only when a storage target could not take what the others took.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_targets: Vec<FailedTarget>,
}

impl Report {
    /// The report as written (`report.json`), keys as a JSON object orders them.
    pub fn to_json(&self) -> J {
        serde_json::to_value(self).expect("a report is JSON")
    }
}

/// One step of the plan: its tasks counted by outcome and their time.
#[derive(Clone, Debug, Serialize)]
pub struct StepReport {
    pub id: String,
    pub rollback: bool,
    pub destructive: bool,
    pub hosts: HostCounts,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_seconds: f64,
}

/// A step's tasks by outcome.
#[derive(Clone, Debug, Serialize)]
pub struct HostCounts {
    pub ok: usize,
    pub changed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub aborted: usize,
    pub not_run: usize,
}

/// One task that ran (step × host).
#[derive(Clone, Debug, Serialize)]
pub struct TaskReport {
    pub step: String,
    pub host: String,
    pub rollback: bool,
    pub status: Status,
    pub exit_code: Option<i32>,
    pub started_at: String,
    pub finished_at: String,
    pub duration_seconds: f64,
    pub message: String,
    pub input_hash: String,
}

/// Whether the rollback ran, what it took back, and what it could not.
#[derive(Clone, Debug, Serialize)]
pub struct Rollback {
    pub ran: bool,
    pub reason: Option<String>,
    pub undone: Vec<Undone>,
    pub failed: bool,
    pub failures: Vec<String>,
}

/// A storage target that could not take an object the others took (`why` masked).
#[derive(Clone, Debug, Serialize)]
pub struct FailedTarget {
    pub target: String,
    pub object: String,
    pub why: String,
}

/// The report and its summary for people.
pub struct Summary {
    pub report: Report,
    pub text: String,
}

/// `quiet` leaves the gate's per-snapshot reasons out of the text; the JSON has them all.
pub fn build(
    c: &Collected,
    plan: &Plan,
    finished: DateTime<Utc>,
    status: &str,
    exit_code: i32,
    quiet: bool,
) -> Summary {
    let start = c.started_at.unwrap_or(finished);
    let mut steps = Vec::new();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "Summary of run {} ({status}, {:.1}s):",
        c.run_id,
        secs(start, finished)
    );
    let _ = writeln!(
        text,
        "  {:<24} {:>4} {:>8} {:>7} {:>8} {:>8}",
        "step", "ok", "changed", "failed", "skipped", "time"
    );
    let mut durations: BTreeMap<String, f64> = BTreeMap::new();
    for (rollback, dag) in [(false, &plan.main), (true, &plan.rollback)] {
        for s in &dag.steps {
            let tasks: Vec<&TaskRecord> = c
                .tasks
                .iter()
                .filter(|t| t.step == s.step.id && t.rollback == rollback)
                .collect();
            if rollback && tasks.is_empty() {
                continue;
            }
            let count = |st: Status| tasks.iter().filter(|t| t.status == st).count();
            let first = tasks.iter().map(|t| t.started_at).min();
            let last = tasks.iter().map(|t| t.finished_at).max();
            let dur = first.zip(last).map_or(0.0, |(a, b)| secs(a, b));
            if !rollback {
                durations.insert(s.step.id.clone(), dur);
            }
            let not_run = s.hosts.len().saturating_sub(tasks.len());
            let name = if rollback {
                format!("{} (rollback)", s.step.id)
            } else {
                s.step.id.clone()
            };
            let _ = writeln!(
                text,
                "  {:<24} {:>4} {:>8} {:>7} {:>8} {:>7.1}s{}",
                name,
                count(Status::Ok),
                count(Status::Changed),
                count(Status::Failed) + count(Status::Aborted),
                count(Status::Skipped),
                dur,
                if not_run > 0 {
                    format!("  ({not_run} not run)")
                } else {
                    String::new()
                }
            );
            steps.push(StepReport {
                id: s.step.id.clone(),
                rollback,
                destructive: s.step.destructive,
                hosts: HostCounts {
                    ok: count(Status::Ok),
                    changed: count(Status::Changed),
                    failed: count(Status::Failed),
                    skipped: count(Status::Skipped),
                    aborted: count(Status::Aborted),
                    not_run,
                },
                started_at: first.map(stamp),
                finished_at: last.map(stamp),
                duration_seconds: dur,
            });
        }
    }
    for t in c
        .tasks
        .iter()
        .filter(|t| t.status == Status::Failed || t.status == Status::Aborted)
    {
        let _ = writeln!(text, "  FAILED {} on {}: {}", t.step, t.host, t.message);
    }
    // A step that took no measurable time still counts, so that ties go to the longer chain.
    let path = plan.main.longest_path(|i| {
        durations
            .get(&plan.main.steps[i].step.id)
            .copied()
            .unwrap_or(0.0)
            + 1e-6
    });
    let path_ids: Vec<String> = path
        .iter()
        .map(|i| plan.main.steps[*i].step.id.clone())
        .collect();
    let path_secs: f64 = path_ids
        .iter()
        .map(|id| durations.get(id).copied().unwrap_or(0.0))
        .sum();
    let _ = writeln!(
        text,
        "Critical path ({path_secs:.1}s): {}",
        path_ids.join(" -> ")
    );
    let last_restore = c
        .tasks
        .iter()
        .filter(|t| !t.rollback && matches!(t.status, Status::Ok | Status::Changed))
        .map(|t| t.finished_at)
        .max();
    let rto = match c.measure {
        Measure::Nothing => None,
        Measure::Restore => (status == "done")
            .then_some(last_restore)
            .flatten()
            .map(|t| secs(start, t)),
        Measure::Drill => super::drill::drill_rto(c, plan),
    };
    match rto {
        _ if c.measure == Measure::Nothing => {}
        Some(r) => {
            let what = match c.measure {
                Measure::Drill => "the drill to the end of its last restoring step",
                _ => "the run to the end of its last restore step",
            };
            let _ = writeln!(text, "RTO: {r:.1}s (from the start of {what})");
        }
        None => {
            let _ = writeln!(text, "RTO: not reached: the run did not complete");
        }
    }
    if !c.checks.is_empty() {
        let failed: Vec<&Check> = c.checks.iter().filter(|k| !k.passed).collect();
        let _ = writeln!(
            text,
            "Checks: {} passed, {} failed",
            c.checks.len() - failed.len(),
            failed.len()
        );
        for k in failed {
            let _ = writeln!(
                text,
                "  FAILED {} on {}: expected {}, found {}",
                k.name, k.host, k.expected, k.found
            );
        }
    }
    let (rpo_text, rpo) = super::rpo::rpo(
        c.config_backup.as_deref(),
        c.gate.as_ref(),
        c.clock.unwrap_or(start),
        status == "done",
    );
    text.push_str(&rpo_text);
    let rollback_failures: Vec<String> = c
        .undone
        .iter()
        .filter(|u| !u.undone)
        .map(|u| {
            format!(
                "undo of {} on {} ({}): {}",
                u.step,
                u.host,
                u.what,
                u.error.as_deref().unwrap_or("")
            )
        })
        .chain(
            c.tasks
                .iter()
                .filter(|t| t.rollback && t.status == Status::Failed)
                .map(|t| format!("rollback step {} on {}: {}", t.step, t.host, t.message)),
        )
        .collect();
    if let Some(reason) = &c.rollback_reason {
        let _ = writeln!(text, "Rollback ran: {reason}");
        for u in c.undone.iter().filter(|u| u.undone) {
            let _ = writeln!(text, "  undone: {} on {}: {}", u.step, u.host, u.what);
        }
        for f in &rollback_failures {
            let _ = writeln!(text, "  ROLLBACK FAILED: {f}");
        }
    }
    let unsigned: Vec<&str> = c
        .authenticity
        .iter()
        .filter(|a| a.unsigned)
        .map(|a| a.object.as_str())
        .collect();
    if !unsigned.is_empty() {
        let _ = writeln!(
            text,
            "WARNING: read without a trusted signature (--allow-unsigned): {}",
            unsigned.join(", ")
        );
    }
    for line in &c.storage {
        let _ = writeln!(text, "Storage: {line}");
    }
    for k in &c.kept_aside {
        if !k.removed.is_empty() {
            let (host, keep) = (&k.host, k.keep);
            let list = k.removed.join(", ");
            let _ = writeln!(
                text,
                "Removed on {host} (older than the last {keep} kept aside): {list}"
            );
        }
    }
    if let Some(d) = &c.drill {
        let _ = writeln!(
            text,
            "Drill: {}",
            super::drill::verdict_line(d.verdict, &d.not_exercised)
        );
    }
    if let Some(g) = &c.gate
        && !quiet
    {
        text.push_str(&crate::gate::text::render(g));
    }
    let report = Report {
        schema: "setup.report/1",
        run_id: c.run_id.clone(),
        playbook: plan.name.clone(),
        status: status.to_string(),
        exit_code,
        started_at: stamp(start),
        finished_at: stamp(finished),
        duration_seconds: secs(start, finished),
        rto_seconds: rto,
        rpo,
        critical_path: path_ids,
        critical_path_seconds: path_secs,
        steps,
        tasks: c
            .tasks
            .iter()
            .map(|t| TaskReport {
                step: t.step.clone(),
                host: t.host.clone(),
                rollback: t.rollback,
                status: t.status,
                exit_code: t.exit_code,
                started_at: stamp(t.started_at),
                finished_at: stamp(t.finished_at),
                duration_seconds: secs(t.started_at, t.finished_at),
                message: t.message.clone(),
                input_hash: t.input_hash.clone(),
            })
            .collect(),
        rollback: Rollback {
            ran: c.rollback_reason.is_some(),
            reason: c.rollback_reason.clone(),
            undone: c.undone.clone(),
            failed: !rollback_failures.is_empty(),
            failures: rollback_failures,
        },
        locks: c.locks.clone(),
        interrupted: c.interrupted,
        gate: c.gate.clone(),
        authenticity: c.authenticity.clone(),
        unsigned_allowed: !unsigned.is_empty(),
        checks: c.checks.clone(),
        storage: c.storage.clone(),
        drill: c.drill.clone(),
        kept_aside: c.kept_aside.clone(),
        // What stays in place: nothing of a run that did not complete (it rolled back).
        restored: if status == "done" {
            c.restored.clone()
        } else {
            Vec::new()
        },
        failed_targets: Vec::new(),
    };
    Summary { report, text }
}
