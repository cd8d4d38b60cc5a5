//! The journal: `.setup/runs/<run-id>/journal.jsonl`, one JSON event per line, UTC times, masked output.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value as J;

use super::events::{Event, Sink, Status};

/// The journal of one run. A line that cannot be written breaks it for good (a journal with a gap
/// would mislead `--resume` and the undo): the run learns it from [`Sink::sync`] before its next
/// destructive step, which then does not start.
pub struct Journal {
    file: std::fs::File,
    path: PathBuf,
    broken: Option<String>,
}

/// Writes `text` to `path`, readable by its owner only (0600), whatever the umask.
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}

pub fn runs_dir(base: &Path) -> PathBuf {
    base.join(".setup").join("runs")
}

impl Journal {
    pub fn create(dir: &Path) -> std::io::Result<Journal> {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::create_dir_all(dir)?;
        // Only its owner reads a journal: it names hosts, paths and what was restored.
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(dir.join("journal.jsonl"))?;
        Ok(Journal {
            file,
            path: dir.join("journal.jsonl"),
            broken: None,
        })
    }

    fn broken_by(&mut self, e: std::io::Error) {
        self.broken.get_or_insert_with(|| {
            format!("the journal {} cannot be written: {e}", self.path.display())
        });
    }
}

/// A line that records how to take a change back: on disk before anything else runs, so that a
/// run killed after it can still be undone by `--resume`.
fn records_undo(e: &Event) -> bool {
    matches!(e, Event::TaskFinished { undo_programs, .. } if !undo_programs.is_empty())
}

impl Sink for Journal {
    fn event(&mut self, e: &Event) {
        if matches!(e, Event::Transfer { done: false, .. }) || self.broken.is_some() {
            return;
        }
        let Ok(line) = serde_json::to_string(e) else {
            return;
        };
        let written = self
            .file
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| self.file.flush())
            .and_then(|()| {
                if records_undo(e) {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            });
        if let Err(err) = written {
            self.broken_by(err);
        }
    }
    fn sync(&mut self) -> Result<(), String> {
        if self.broken.is_none()
            && let Err(e) = self.file.sync_data()
        {
            self.broken_by(e);
        }
        self.broken.clone().map_or(Ok(()), Err)
    }
    fn finish(&mut self) {
        let _ = self.sync();
    }
}

/// The events of a journal's text, in order. A line that is no event (the last one, cut short by a
/// kill) is passed over.
pub fn events_in(text: &str) -> Vec<Event> {
    text.lines()
        .filter_map(|l| serde_json::from_str::<Event>(l).ok())
        .collect()
}

/// The events of the journal at `path`, in order.
pub fn read_events(path: &Path) -> std::io::Result<Vec<Event>> {
    Ok(events_in(&std::fs::read_to_string(path)?))
}

/// The options the run in `path` was started with (its start event's `options`), if it recorded
/// them.
pub fn started_options(path: &Path) -> std::io::Result<Option<J>> {
    Ok(read_events(path)?.into_iter().find_map(|e| match e {
        Event::RunStarted { options, .. } => Some(options).filter(J::is_object),
        _ => None,
    }))
}

/// The message of a task skipped because the run it resumes had done it.
pub const RESUMED_SKIP: &str = "done in the resumed run; skipped";

/// What a previous run finished successfully: (step, host) → (input hash, registered value).
pub type Done = HashMap<(String, String), (String, Option<J>)>;

pub fn read_done(path: &Path) -> std::io::Result<Done> {
    let mut done = Done::new();
    for e in read_events(path)? {
        match e {
            // The run undid its work: nothing it did before stands, so a resumed run redoes it all.
            Event::RollbackStarted { .. } => done.clear(),
            // A change rollback took back is not done any more: a resumed run does it again.
            Event::Undone { step, host, .. } => {
                done.remove(&(step, host));
            }
            Event::TaskFinished {
                step,
                host,
                rollback: false,
                status,
                message,
                registered,
                input_hash,
                ..
            } => {
                // A task the run skipped as done by the run it resumed is done too: a resume of a
                // resumed run does not redo it.
                let carried = status == Status::Skipped && message == RESUMED_SKIP;
                if carried || matches!(status, Status::Ok | Status::Changed) {
                    let reg = registered.filter(|r| !r.is_null());
                    done.insert((step, host), (input_hash, reg));
                } else {
                    done.remove(&(step, host));
                }
            }
            _ => {}
        }
    }
    Ok(done)
}

/// Run ids under `.setup/runs`, newest first.
pub fn list_runs(base: &Path) -> Vec<String> {
    let mut runs: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(runs_dir(base))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let created = std::fs::metadata(e.path().join("journal.jsonl"))
                        .ok()?
                        .created()
                        .ok()?;
                    Some((created, e.file_name().to_string_lossy().into_owned()))
                })
                .collect()
        })
        .unwrap_or_default();
    runs.sort();
    runs.into_iter().rev().map(|r| r.1).collect()
}

/// A change a run made and never took back, with the journal's record of how to take it back.
#[derive(Clone, Debug)]
pub struct PendingUndo {
    pub task: usize,
    pub step: String,
    pub host: String,
    pub undo: J,
}

/// What a run that was killed while it rolled back left to undo: its rollback had started, it never
/// finished, and these changes were not taken back. Empty for any other run.
pub fn pending_undo(path: &Path) -> std::io::Result<Vec<PendingUndo>> {
    let (mut rolling_back, mut finished) = (false, false);
    let mut made: Vec<PendingUndo> = Vec::new();
    let mut undone: Vec<(usize, String)> = Vec::new();
    for e in read_events(path)? {
        match e {
            Event::RollbackStarted { .. } => rolling_back = true,
            Event::RunFinished { .. } => finished = true,
            Event::Undone {
                ok: true,
                task,
                describe,
                ..
            } => undone.push((task, describe)),
            Event::TaskFinished {
                rollback: false,
                task,
                step,
                host,
                undo_programs,
                ..
            } => {
                for u in undo_programs {
                    made.push(PendingUndo {
                        task,
                        step: step.clone(),
                        host: host.clone(),
                        undo: u,
                    });
                }
            }
            _ => {}
        }
    }
    if !rolling_back || finished {
        return Ok(Vec::new());
    }
    made.retain(|m| {
        !undone
            .iter()
            .any(|(t, d)| *t == m.task && m.undo["describe"].as_str() == Some(d.as_str()))
    });
    Ok(made)
}
