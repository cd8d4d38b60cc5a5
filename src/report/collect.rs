//! What the run report is built from: every event of the run, collected as it happens (the tasks,
//! the gate's decision, what was restored, storage notes, checks) by a `Sink`.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

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

/// A change taken back during rollback, and whether that worked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Undone {
    pub step: String,
    pub host: String,
    pub undone: bool,
    pub what: String,
    /// Why the undo failed; null when it worked.
    pub error: Option<String>,
}

/// A host lock taken, taken over, broken, refused, released or not released.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Lock {
    pub host: String,
    pub action: String,
    pub message: Option<String>,
}

/// A backup read: who signed its manifest, or that `--allow-unsigned` let it through unsigned.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Authenticity {
    pub object: String,
    pub signer: Option<String>,
    pub unsigned: bool,
}

/// A drill's check: what was expected, what was found, and whether they agree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub host: String,
    pub step: String,
    pub name: String,
    pub expected: String,
    pub found: String,
    pub passed: bool,
}

/// A backup put in place, with the digests its bytes were checked against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Restored {
    pub step: String,
    pub host: String,
    pub object: String,
    pub bytes: u64,
    pub sha256: String,
    pub plain_sha256: String,
    pub signer: Option<String>,
}

/// What an unpacking task registers of each backup (`unpack`'s data, or an item of its loop).
#[derive(Deserialize)]
struct Unpacked {
    object: String,
    bytes: u64,
    sha256: String,
    plain_sha256: String,
    signer: Option<String>,
}

/// What a keep step removed of what earlier restores kept aside, and what stays (the last `keep`
/// of each kind).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptAside {
    pub host: String,
    pub step: String,
    pub removed: Vec<String>,
    pub kept: Vec<String>,
    pub keep: u64,
}

/// What a keep step registers (`kept_aside`).
#[derive(Deserialize)]
struct Kept {
    removed: Vec<String>,
    kept: Vec<String>,
    keep: u64,
}

/// A drill's verdict: `passed`, `partial` (every check passed, but a component was not
/// exercised) or `failed`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Passed,
    Partial,
    Failed,
}

/// A component of the site a drill restored nothing of, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NotExercised {
    pub component: String,
    pub why: String,
}

/// The run report's `drill`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrillVerdict {
    pub verdict: Verdict,
    pub not_exercised: Vec<NotExercised>,
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
    pub undone: Vec<Undone>,
    pub interrupted: bool,
    pub locks: Vec<Lock>,
    /// The configuration backup the run restores, for the RPO.
    pub config_backup: Option<String>,
    /// What the run's RTO measures.
    pub measure: Measure,
    /// A drill's verdict: `verdict` (`passed`, `partial` or `failed`) and `not_exercised` (each
    /// component of the site it restored nothing of, `{component, why}`).
    pub drill: Option<DrillVerdict>,
    /// Each backup read, once: its name, who signed it, whether it was read unsigned.
    pub authenticity: Vec<Authenticity>,
    /// Bytes stored per component by a backup's `store_<component>` step (from what it registers).
    pub sizes: std::collections::BTreeMap<String, u64>,
    /// A drill's checks, in the order they finished.
    pub checks: Vec<Check>,
    /// Each backup unpacked: host, object, bytes, digests (stored and plain), signer.
    pub restored: Vec<Restored>,
    /// Retries, storage targets passed over, targets that failed, in order.
    pub storage: Vec<String>,
    /// What earlier restores kept aside that this run removed, and what stays, per host and step
    /// (a `keep_last` or `postgres: { op: keep }` step's `kept_aside`).
    pub kept_aside: Vec<KeptAside>,
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
                    .and_then(|k| Kept::deserialize(k).ok())
                {
                    c.kept_aside.push(KeptAside {
                        host: host.clone(),
                        step: step.clone(),
                        removed: k.removed,
                        kept: k.kept,
                        keep: k.keep,
                    });
                }
                // What one task unpacked, or each item of a loop (each day of the analytics).
                let unpacked = registered.iter().flat_map(|r| {
                    std::iter::once(r).chain(r["results"].as_array().into_iter().flatten())
                });
                for r in unpacked.filter(|r| r["plain_sha256"].is_string()) {
                    if *rollback || *status == Status::Failed {
                        break;
                    }
                    let Ok(u) = Unpacked::deserialize(r) else {
                        continue;
                    };
                    c.restored.push(Restored {
                        step: step.clone(),
                        host: host.clone(),
                        object: u.object,
                        bytes: u.bytes,
                        sha256: u.sha256,
                        plain_sha256: u.plain_sha256,
                        signer: u.signer,
                    });
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
            } if !c.authenticity.iter().any(|a| a.object == *object) => {
                c.authenticity.push(Authenticity {
                    object: object.clone(),
                    signer: signer.clone(),
                    unsigned: *unsigned,
                });
            }
            Event::Check {
                host,
                step,
                name,
                expected,
                found,
                passed,
                ..
            } => c.checks.push(Check {
                host: host.clone(),
                step: step.clone(),
                name: name.clone(),
                expected: expected.clone(),
                found: found.clone(),
                passed: *passed,
            }),
            Event::RollbackStarted { reason, .. } => c.rollback_reason = Some(reason.clone()),
            Event::Interrupted { .. } => c.interrupted = true,
            Event::Undone {
                step,
                host,
                ok,
                describe,
                message,
                ..
            } => c.undone.push(Undone {
                step: step.clone(),
                host: host.clone(),
                undone: *ok,
                what: describe.clone(),
                error: (!ok).then(|| message.clone()),
            }),
            Event::Lock {
                host,
                action,
                message,
                ..
            } => c.locks.push(Lock {
                host: host.clone(),
                action: action.clone(),
                message: message.clone(),
            }),
            _ => {}
        }
    }
}
