//! The run report: a summary for people and JSON for machines (schema in docs/report.md), with the RTO.

use std::collections::BTreeMap;
use std::fmt::Write;

use chrono::{DateTime, Utc};
use serde_json::{Value as J, json};

use super::events::Status;
use crate::plan::Plan;

pub use super::collect::{Collected, Collector, Measure, TaskRecord};

fn secs(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / 1000.0
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub struct Report {
    pub json: J,
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
) -> Report {
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
            steps.push(json!({
                "id": s.step.id,
                "rollback": rollback,
                "destructive": s.step.destructive,
                "hosts": {"ok": count(Status::Ok), "changed": count(Status::Changed), "failed": count(Status::Failed), "skipped": count(Status::Skipped), "aborted": count(Status::Aborted), "not_run": not_run},
                "started_at": first.map(stamp),
                "finished_at": last.map(stamp),
                "duration_seconds": dur,
            }));
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
        let failed: Vec<&J> = c.checks.iter().filter(|k| k["passed"] != true).collect();
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
                k["name"].as_str().unwrap_or(""),
                k["host"].as_str().unwrap_or(""),
                k["expected"].as_str().unwrap_or(""),
                k["found"].as_str().unwrap_or("")
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
        .filter(|u| u["undone"] == false)
        .map(|u| {
            format!(
                "undo of {} on {} ({}): {}",
                u["step"].as_str().unwrap_or(""),
                u["host"].as_str().unwrap_or(""),
                u["what"].as_str().unwrap_or(""),
                u["error"].as_str().unwrap_or("")
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
        for u in c.undone.iter().filter(|u| u["undone"] == true) {
            let _ = writeln!(
                text,
                "  undone: {} on {}: {}",
                u["step"].as_str().unwrap_or(""),
                u["host"].as_str().unwrap_or(""),
                u["what"].as_str().unwrap_or("")
            );
        }
        for f in &rollback_failures {
            let _ = writeln!(text, "  ROLLBACK FAILED: {f}");
        }
    }
    let unsigned: Vec<&str> = c
        .authenticity
        .iter()
        .filter(|a| a["unsigned"] == true)
        .filter_map(|a| a["object"].as_str())
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
        let removed = k["removed"].as_array().into_iter().flatten();
        let removed: Vec<&str> = removed.filter_map(J::as_str).collect();
        if !removed.is_empty() {
            let (host, keep) = (k["host"].as_str().unwrap_or(""), &k["keep"]);
            let list = removed.join(", ");
            let _ = writeln!(
                text,
                "Removed on {host} (older than the last {keep} kept aside): {list}"
            );
        }
    }
    if let Some(d) = &c.drill {
        let _ = writeln!(text, "Drill: {}", super::drill::verdict_line(d));
    }
    if let Some(g) = &c.gate
        && !quiet
    {
        text.push_str(&crate::gate::text::render(g));
    }
    let json = json!({
        "schema": "setup.report/1",
        "run_id": c.run_id,
        "playbook": plan.name,
        "status": status,
        "exit_code": exit_code,
        "started_at": stamp(start),
        "finished_at": stamp(finished),
        "duration_seconds": secs(start, finished),
        "rto_seconds": rto,
        "rpo": rpo,
        "critical_path": path_ids,
        "critical_path_seconds": path_secs,
        "steps": steps,
        "tasks": c.tasks.iter().map(|t| json!({
            "step": t.step, "host": t.host, "rollback": t.rollback, "status": t.status, "exit_code": t.exit_code,
            "started_at": stamp(t.started_at), "finished_at": stamp(t.finished_at), "duration_seconds": secs(t.started_at, t.finished_at),
            "message": t.message, "input_hash": t.input_hash,
        })).collect::<Vec<_>>(),
        "rollback": {
            "ran": c.rollback_reason.is_some(),
            "reason": c.rollback_reason,
            "undone": c.undone,
            "failed": !rollback_failures.is_empty(),
            "failures": rollback_failures,
        },
        "locks": c.locks,
        "interrupted": c.interrupted,
        "gate": c.gate,
        "authenticity": c.authenticity,
        "unsigned_allowed": !unsigned.is_empty(),
        "checks": c.checks,
        "storage": c.storage,
        "drill": c.drill,
        "kept_aside": c.kept_aside,
        // What stays in place: nothing of a run that did not complete (it rolled back).
        "restored": if status == "done" { c.restored.clone() } else { Vec::new() },
    });
    Report { json, text }
}
