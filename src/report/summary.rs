//! The run report: a summary for people and JSON for machines (schema in docs/report.md), with the RTO.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Value as J, json};

use super::events::{Event, Sink, Status};
use crate::plan::Plan;

#[derive(Clone, Debug)]
pub struct TaskRecord {
    pub step: String,
    pub host: String,
    pub rollback: bool,
    pub status: Status,
    pub exit_code: Option<i32>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub message: String,
    pub input_hash: String,
    /// A failure its step's `ignore_errors` let pass.
    pub ignored: bool,
}

#[derive(Default)]
pub struct Collected {
    pub run_id: String,
    pub started_at: Option<DateTime<Utc>>,
    /// The run's clock at its start (`--now`), which the RPO is measured against.
    pub clock: Option<DateTime<Utc>>,
    pub tasks: Vec<TaskRecord>,
    pub gate: Option<J>,
    pub rollback_reason: Option<String>,
    /// Changes taken back during rollback: step, host, what, and whether it worked.
    pub undone: Vec<J>,
    pub interrupted: bool,
    pub locks: Vec<J>,
    /// The configuration backup the run restores, for the RPO.
    pub config_backup: Option<String>,
    /// What the run's RTO measures.
    pub measure: Measure,
    /// A drill's verdict: `verdict` (`passed`, `partial` or `failed`) and `not_exercised` (each
    /// component of the site it restored nothing of, `{component, why}`).
    pub drill: Option<J>,
    /// Each backup read, once: its name, who signed it, whether it was read unsigned.
    pub authenticity: Vec<J>,
    /// Bytes stored per component by a backup's `store_<component>` step (from what it registers).
    pub sizes: std::collections::BTreeMap<String, u64>,
    /// A drill's checks, in the order they finished.
    pub checks: Vec<J>,
    /// Each backup unpacked: host, object, bytes, digests (stored and plain), signer.
    pub restored: Vec<J>,
    /// Retries, storage targets passed over, targets that failed, in order.
    pub storage: Vec<String>,
    /// What earlier restores kept aside that this run removed, and what stays, per host and step
    /// (a `keep_last` or `postgres: { op: keep }` step's `kept_aside`).
    pub kept_aside: Vec<J>,
}

/// What a run's RTO measures.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Measure {
    /// From the start of the run to the end of its last successful task.
    #[default]
    Restore,
    /// A drill's: from its start to the end of its last restoring task (configuration or
    /// analytics), as its evidence measures it; also when a check failed, since the restore ran.
    Drill,
    /// A run that restores nothing (a backup, `drill --clean`): no RTO at all.
    Nothing,
}

/// A sink that keeps what the report needs.
#[derive(Clone, Default)]
pub struct Collector(pub Arc<Mutex<Collected>>);

impl Sink for Collector {
    fn event(&mut self, e: &Event) {
        let mut c = self.0.lock().expect("collector");
        match e {
            Event::RunStarted {
                run_id, at, clock, ..
            } => {
                c.run_id = run_id.clone();
                c.started_at = Some(*at);
                c.clock = Some(*clock);
            }
            Event::TaskFinished {
                step,
                host,
                rollback,
                status,
                exit_code,
                started_at,
                at,
                message,
                input_hash,
                registered,
                ignored,
                ..
            } => {
                if let (Some(component), Some(bytes)) = (
                    step.strip_prefix("store_"),
                    registered.as_ref().and_then(|r| r["bytes"].as_u64()),
                ) && !*rollback
                {
                    c.sizes.insert(component.to_string(), bytes);
                }
                if let Some(k) = registered
                    .as_ref()
                    .map(|r| &r["kept_aside"])
                    .filter(|k| k.is_object())
                {
                    c.kept_aside
                        .push(json!({"host": host, "step": step, "removed": k["removed"], "kept": k["kept"], "keep": k["keep"]}));
                }
                // What one task unpacked, or each item of a loop (each day of the analytics).
                let unpacked = registered.iter().flat_map(|r| {
                    std::iter::once(r).chain(r["results"].as_array().into_iter().flatten())
                });
                for r in unpacked.filter(|r| r["plain_sha256"].is_string()) {
                    if *rollback || *status == Status::Failed {
                        break;
                    }
                    c.restored.push(json!({
                        "step": step, "host": host, "object": r["object"], "bytes": r["bytes"],
                        "sha256": r["sha256"], "plain_sha256": r["plain_sha256"],
                        "signer": r["signer"],
                    }));
                }
                c.tasks.push(TaskRecord {
                    step: step.clone(),
                    host: host.clone(),
                    rollback: *rollback,
                    status: *status,
                    exit_code: *exit_code,
                    started_at: *started_at,
                    finished_at: *at,
                    message: message.clone(),
                    input_hash: input_hash.clone(),
                    ignored: *ignored,
                })
            }
            Event::Gate { decision } => c.gate = Some(decision.clone()),
            Event::Storage { text, .. } => c.storage.push(text.clone()),
            Event::Authenticated {
                object,
                signer,
                unsigned,
                ..
            } if !c.authenticity.iter().any(|a| a["object"] == *object) => {
                c.authenticity
                    .push(json!({"object": object, "signer": signer, "unsigned": unsigned}));
            }
            Event::Check {
                host,
                step,
                name,
                expected,
                found,
                passed,
                ..
            } => c.checks.push(json!({
                "host": host, "step": step, "name": name,
                "expected": expected, "found": found, "passed": passed,
            })),
            Event::RollbackStarted { reason, .. } => c.rollback_reason = Some(reason.clone()),
            Event::Interrupted { .. } => c.interrupted = true,
            Event::Undone {
                step,
                host,
                ok,
                describe,
                message,
                ..
            } => c.undone.push(json!({
                "step": step, "host": host, "undone": ok, "what": describe,
                "error": (!ok).then_some(message),
            })),
            Event::Lock {
                host,
                action,
                message,
                ..
            } => c
                .locks
                .push(json!({"host": host, "action": action, "message": message})),
            _ => {}
        }
    }
}

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
