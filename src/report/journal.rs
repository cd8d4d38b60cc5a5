//! The journal: `.setup/runs/<run-id>/journal.jsonl`, one JSON event per line, UTC times, masked output.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value as J;

use super::events::{Event, Sink, Status};

pub struct Journal {
    file: std::fs::File,
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
        Ok(Journal { file })
    }
}

impl Sink for Journal {
    fn event(&mut self, e: &Event) {
        if matches!(e, Event::Transfer { done: false, .. }) {
            return;
        }
        if let Ok(line) = serde_json::to_string(e) {
            let _ = writeln!(self.file, "{line}");
            let _ = self.file.flush();
        }
    }
    fn finish(&mut self) {
        let _ = self.file.sync_all();
    }
}

/// What a previous run finished successfully: (step, host) → (input hash, registered value).
pub type Done = HashMap<(String, String), (String, Option<J>)>;

pub fn read_done(path: &Path) -> std::io::Result<Done> {
    let text = std::fs::read_to_string(path)?;
    let mut done = Done::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<J>(line) else {
            continue;
        };
        if v["event"] == "rollback_started" {
            // The run undid its work: nothing it did before stands, so a resumed run redoes it all.
            done.clear();
            continue;
        }
        if v["event"] == "undone" {
            // A change rollback took back is not done any more: a resumed run does it again.
            done.remove(&(
                v["step"].as_str().unwrap_or("").to_string(),
                v["host"].as_str().unwrap_or("").to_string(),
            ));
            continue;
        }
        if v["event"] != "task_finished" || v["rollback"] == true {
            continue;
        }
        let status: Option<Status> = serde_json::from_value(v["status"].clone()).ok();
        let key = (
            v["step"].as_str().unwrap_or("").to_string(),
            v["host"].as_str().unwrap_or("").to_string(),
        );
        if status.is_some_and(|s| matches!(s, Status::Ok | Status::Changed)) {
            let reg = v.get("registered").filter(|r| !r.is_null()).cloned();
            done.insert(
                key,
                (v["input_hash"].as_str().unwrap_or("").to_string(), reg),
            );
        } else {
            done.remove(&key);
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
    let text = std::fs::read_to_string(path)?;
    let (mut rolling_back, mut finished) = (false, false);
    let mut made: Vec<PendingUndo> = Vec::new();
    let mut undone: Vec<(u64, String)> = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<J>(line) else {
            continue;
        };
        match v["event"].as_str() {
            Some("rollback_started") => rolling_back = true,
            Some("run_finished") => finished = true,
            Some("undone") if v["ok"] == true => undone.push((
                v["task"].as_u64().unwrap_or(u64::MAX),
                v["describe"].as_str().unwrap_or("").to_string(),
            )),
            Some("task_finished") if v["rollback"] != true => {
                for u in v["undo_programs"].as_array().into_iter().flatten() {
                    made.push(PendingUndo {
                        task: v["task"].as_u64().unwrap_or(0) as usize,
                        step: v["step"].as_str().unwrap_or("").to_string(),
                        host: v["host"].as_str().unwrap_or("").to_string(),
                        undo: u.clone(),
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
            .any(|(t, d)| *t == m.task as u64 && m.undo["describe"].as_str() == Some(d.as_str()))
    });
    Ok(made)
}
