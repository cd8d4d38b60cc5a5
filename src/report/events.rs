//! What the executor tells the world. Progress, journal and report all consume these events.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value as J;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Changed,
    Failed,
    Skipped,
    Aborted,
}

impl Status {
    pub fn succeeded(self) -> bool {
        matches!(self, Status::Ok | Status::Changed | Status::Skipped)
    }
}

/// Written to the journal as one JSON line each, and read back from it as the same type (status,
/// `--resume`, the drill's list, the server's job view): nothing reads an event by its field names.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        playbook: String,
        tasks: usize,
        at: DateTime<Utc>,
        /// The run's clock at its start: `--now` when given, else `at`. Ages (the RPO) count from it.
        #[serde(default)]
        clock: DateTime<Utc>,
        resumed_from: Option<String>,
        /// The options the run was started with that decide what it does (`--force`, `--only`,
        /// `--now`, the `--set` answers that are not secrets...): a `--resume` of it runs with them.
        #[serde(default)]
        options: J,
    },
    TaskStarted {
        task: usize,
        step: String,
        host: String,
        rollback: bool,
        at: DateTime<Utc>,
        input_hash: String,
    },
    TaskFinished {
        task: usize,
        step: String,
        host: String,
        rollback: bool,
        at: DateTime<Utc>,
        started_at: DateTime<Utc>,
        status: Status,
        exit_code: Option<i32>,
        input_hash: String,
        /// A masked excerpt of the output.
        output: String,
        message: String,
        registered: Option<J>,
        destructive: bool,
        /// A failure its step's `ignore_errors` let pass (the status is then ok).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        ignored: bool,
        /// What rollback would do to take this task's change back.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        undo: Vec<String>,
        /// The same, as the commands that do it (`task::Undo::journal`): a `--resume` of a run
        /// killed while it rolled back finishes the undo from them.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        undo_programs: Vec<J>,
    },
    /// A task's change taken back during rollback (or not, when `ok` is false).
    Undone {
        at: DateTime<Utc>,
        task: usize,
        step: String,
        host: String,
        ok: bool,
        describe: String,
        message: String,
    },
    Transfer {
        task: usize,
        host: String,
        bytes: u64,
        total: Option<u64>,
        done: bool,
    },
    Gate {
        decision: J,
    },
    Note {
        at: DateTime<Utc>,
        text: String,
    },
    /// What the storage had to do besides the plain read or write: a retry after a fault, a
    /// storage target passed over for another, a target that could not take a backup.
    Storage {
        at: DateTime<Utc>,
        text: String,
    },
    /// A backup about to be read: who signed it, or that it is read unsigned (`--allow-unsigned`).
    Authenticated {
        at: DateTime<Utc>,
        host: String,
        object: String,
        signer: Option<String>,
        unsigned: bool,
    },
    /// A host lock taken, taken over, broken, released or not released.
    Lock {
        at: DateTime<Utc>,
        host: String,
        action: String,
        /// The owner it replaced, for a lock taken over or broken.
        previous: Option<J>,
        message: Option<String>,
    },
    /// A drill's check: what was expected, what was found, and whether they agree.
    Check {
        at: DateTime<Utc>,
        host: String,
        step: String,
        name: String,
        expected: String,
        found: String,
        passed: bool,
    },
    RollbackStarted {
        at: DateTime<Utc>,
        reason: String,
    },
    Interrupted {
        at: DateTime<Utc>,
        second: bool,
    },
    RunFinished {
        at: DateTime<Utc>,
        status: String,
        exit_code: i32,
    },
}

impl Event {
    /// The event's name, as the journal's `event` field and the server's SSE name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::RunStarted { .. } => "run_started",
            Event::TaskStarted { .. } => "task_started",
            Event::TaskFinished { .. } => "task_finished",
            Event::Undone { .. } => "undone",
            Event::Transfer { .. } => "transfer",
            Event::Gate { .. } => "gate",
            Event::Note { .. } => "note",
            Event::Storage { .. } => "storage",
            Event::Authenticated { .. } => "authenticated",
            Event::Lock { .. } => "lock",
            Event::Check { .. } => "check",
            Event::RollbackStarted { .. } => "rollback_started",
            Event::Interrupted { .. } => "interrupted",
            Event::RunFinished { .. } => "run_finished",
        }
    }
}

pub trait Sink: Send {
    fn event(&mut self, e: &Event);
    fn finish(&mut self) {}
    /// Everything received so far is safely stored, or why not. Only a sink that a later run
    /// relies on (the journal) can fail.
    fn sync(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// Fans events out to every sink, in order.
#[derive(Clone, Default)]
pub struct Events {
    sinks: Arc<Mutex<Vec<Box<dyn Sink>>>>,
}

impl Events {
    pub fn add(&self, s: Box<dyn Sink>) {
        self.sinks.lock().expect("sinks").push(s);
    }
    pub fn emit(&self, e: Event) {
        for s in self.sinks.lock().expect("sinks").iter_mut() {
            s.event(&e);
        }
    }
    /// Every sink's events so far safely stored (the journal on disk), or the first reason why not.
    pub fn sync(&self) -> Result<(), String> {
        for s in self.sinks.lock().expect("sinks").iter_mut() {
            s.sync()?;
        }
        Ok(())
    }
    pub fn finish(&self) {
        for s in self.sinks.lock().expect("sinks").iter_mut() {
            s.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event of each kind, as a run writes it.
    fn one_of_each() -> Vec<Event> {
        let at = Utc::now();
        let s = |t: &str| t.to_string();
        vec![
            Event::RunStarted {
                run_id: s("r"),
                playbook: s("p"),
                tasks: 3,
                at,
                clock: at,
                resumed_from: None,
                options: serde_json::json!({"force": true}),
            },
            Event::TaskStarted {
                task: 1,
                step: s("stage"),
                host: s("h"),
                rollback: false,
                at,
                input_hash: s("x"),
            },
            Event::TaskFinished {
                task: 1,
                step: s("stage"),
                host: s("h"),
                rollback: false,
                at,
                started_at: at,
                status: Status::Changed,
                exit_code: Some(0),
                input_hash: s("x"),
                output: s("out"),
                message: s("m"),
                registered: Some(serde_json::json!({"a": 1})),
                destructive: true,
                ignored: false,
                undo: vec![s("rename back")],
                undo_programs: vec![serde_json::json!({"describe": "rename back"})],
            },
            Event::Undone {
                at,
                task: 1,
                step: s("stage"),
                host: s("h"),
                ok: true,
                describe: s("rename back"),
                message: s(""),
            },
            Event::Transfer {
                task: 1,
                host: s("h"),
                bytes: 5,
                total: None,
                done: true,
            },
            Event::Gate {
                decision: serde_json::json!({"selected": []}),
            },
            Event::Note { at, text: s("n") },
            Event::Storage { at, text: s("s") },
            Event::Authenticated {
                at,
                host: s("h"),
                object: s("o"),
                signer: Some(s("dc")),
                unsigned: false,
            },
            Event::Lock {
                at,
                host: s("h"),
                action: s("taken"),
                previous: None,
                message: None,
            },
            Event::Check {
                at,
                host: s("h"),
                step: s("c"),
                name: s("n"),
                expected: s("1"),
                found: s("1"),
                passed: true,
            },
            Event::RollbackStarted { at, reason: s("r") },
            Event::Interrupted { at, second: false },
            Event::RunFinished {
                at,
                status: s("done"),
                exit_code: 0,
            },
        ]
    }

    #[test]
    fn every_event_reads_back_as_it_was_written_under_its_own_name() {
        for e in one_of_each() {
            let line = serde_json::to_string(&e).unwrap();
            let back: Event = serde_json::from_str(&line).unwrap();
            assert_eq!(serde_json::to_string(&back).unwrap(), line);
            let v: J = serde_json::from_str(&line).unwrap();
            assert_eq!(v["event"], e.kind(), "{line}");
        }
    }

    #[test]
    fn a_journal_line_of_an_older_run_without_options_or_clock_still_reads() {
        let line = r#"{"event":"run_started","run_id":"r","playbook":"p","tasks":1,"at":"2026-11-23T03:00:00Z","resumed_from":null}"#;
        let e: Event = serde_json::from_str(line).unwrap();
        assert!(matches!(
            e,
            Event::RunStarted {
                options: J::Null,
                ..
            }
        ));
    }
}
