//! `setup standalone status`: recent runs, read from their journals.

use serde_json::{Value as J, json};

use crate::failure::Failure;
use crate::options::Options;
use crate::report::events::{Event, Status};
use crate::report::journal;

/// `setup standalone status`: recent runs from the journal.
pub fn run(o: &Options) -> Result<i32, Failure> {
    let mut rows = Vec::new();
    for id in journal::list_runs(&o.dir).into_iter().take(20) {
        let events =
            journal::read_events(&journal::runs_dir(&o.dir).join(&id).join("journal.jsonl"))
                .unwrap_or_default();
        let mut row = json!({ "run_id": id, "status": "unfinished", "tasks": 0, "failed": 0 });
        let (mut tasks, mut failed) = (0u64, 0u64);
        // What each task changed (its undo descriptions), less what a rollback took back.
        let mut changed: Vec<(usize, String, String, Vec<String>)> = Vec::new();
        let mut undone: Vec<usize> = Vec::new();
        let mut rolling_back = false;
        // What the run's keep steps left kept aside (the previous configurations and databases).
        let mut kept: Vec<J> = Vec::new();
        for e in events {
            match e {
                Event::RunStarted {
                    at,
                    playbook,
                    resumed_from,
                    ..
                } => {
                    row["started_at"] = json!(at);
                    row["playbook"] = json!(playbook);
                    if let Some(from) = resumed_from {
                        row["resumed_from"] = json!(from);
                    }
                }
                Event::TaskFinished {
                    task,
                    step,
                    host,
                    rollback,
                    status,
                    registered,
                    undo,
                    ..
                } => {
                    if let Some(k) = registered
                        .as_ref()
                        .and_then(|r| r["kept_aside"].as_object())
                    {
                        kept.push(json!({"host": host, "kept": k["kept"], "keep": k["keep"]}));
                    }
                    if !rollback && !undo.is_empty() {
                        changed.push((task, step, host, undo));
                    }
                    tasks += 1;
                    if status == Status::Failed {
                        failed += 1;
                    }
                }
                Event::RunFinished { at, status, .. } => {
                    row["status"] = json!(status);
                    row["finished_at"] = json!(at);
                }
                Event::Undone { ok: true, task, .. } => undone.push(task),
                Event::RollbackStarted { .. } => rolling_back = true,
                _ => {}
            }
        }
        row["tasks"] = json!(tasks);
        row["failed"] = json!(failed);
        if !kept.is_empty() {
            row["kept_aside"] = J::Array(kept);
        }
        // A run that never finished (killed outright) may have left changes on its hosts.
        if row["status"] == "unfinished" {
            let left: Vec<J> = changed
                .into_iter()
                .filter(|(t, ..)| !undone.contains(t))
                .map(|(_, step, host, undo)| json!({"step": step, "host": host, "undo": undo}))
                .collect();
            row["left_changed"] = J::Array(left);
            row["was_rolling_back"] = J::Bool(rolling_back);
        }
        rows.push(row);
    }
    let rows = unfinished_by_resume(rows);
    if o.json {
        super::say!("{}", serde_json::to_string_pretty(&rows).expect("json"));
    } else if rows.is_empty() {
        super::say!("no runs yet in {}", journal::runs_dir(&o.dir).display());
    } else {
        super::say!(
            "{:<26} {:<12} {:>6} {:>6}  started",
            "run",
            "status",
            "tasks",
            "failed"
        );
        for r in &rows {
            super::say!(
                "{:<26} {:<12} {:>6} {:>6}  {}{}",
                r["run_id"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
                r["tasks"].as_u64().unwrap_or(0),
                r["failed"].as_u64().unwrap_or(0),
                r["started_at"].as_str().unwrap_or(""),
                r["resumed_from"]
                    .as_str()
                    .map(|id| format!("  (resumed {id})"))
                    .unwrap_or_default()
            );
            let left = r["left_changed"].as_array().cloned().unwrap_or_default();
            if !left.is_empty() {
                let id = r["run_id"].as_str().unwrap_or("");
                if r["was_rolling_back"] == true {
                    super::say!(
                        "  never finished (killed while it rolled back): these changes are still in place; `--resume {id}` takes them back:"
                    );
                } else {
                    super::say!(
                        "  never finished (killed?): these changes are in place; `--resume {id}` goes on from where it stopped:"
                    );
                }
                for c in &left {
                    super::say!(
                        "    {} on {}: undone by: {}",
                        c["step"].as_str().unwrap_or(""),
                        c["host"].as_str().unwrap_or(""),
                        c["undo"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(J::as_str)
                            .collect::<Vec<_>>()
                            .join("; ")
                    );
                }
            }
        }
        // What is kept aside now: as the newest run that looked says.
        if let Some(r) = rows.iter().find(|r| r["kept_aside"].is_array()) {
            super::say!(
                "kept aside (the last restores' previous data; the answer keep_pre_restore), as of run {}:",
                r["run_id"].as_str().unwrap_or("")
            );
            for k in r["kept_aside"].as_array().into_iter().flatten() {
                let names: Vec<&str> = k["kept"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(J::as_str)
                    .collect();
                if !names.is_empty() {
                    super::say!(
                        "  on {}: {}",
                        k["host"].as_str().unwrap_or(""),
                        names.join(", ")
                    );
                }
            }
        }
    }
    Ok(0)
}

/// The rows less the runs a resume finished: a run resumed by one that ended done (or that took
/// back what it left, `rolled back`) is no longer pending, nor is any run that one resumed in turn.
fn unfinished_by_resume(rows: Vec<J>) -> Vec<J> {
    let resumed_from = |id: &str| {
        rows.iter()
            .find(|r| r["run_id"] == id)
            .and_then(|r| r["resumed_from"].as_str().map(str::to_string))
    };
    let mut finished: Vec<String> = Vec::new();
    for r in &rows {
        if !matches!(r["status"].as_str(), Some("done" | "rolled back")) {
            continue;
        }
        let mut next = r["resumed_from"].as_str().map(str::to_string);
        while let Some(id) = next {
            if finished.contains(&id) {
                break;
            }
            next = resumed_from(&id);
            finished.push(id);
        }
    }
    rows.into_iter()
        .filter(|r| !finished.iter().any(|f| r["run_id"] == f.as_str()))
        .collect()
}
