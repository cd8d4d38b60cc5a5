//! What the run report is built from: every event of the run, collected as it happens (the tasks,
//! the gate's decision, what was restored, storage notes, checks) by a `Sink`.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::{Value as J, json};

use super::events::{Event, Sink, Status};

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
