//! `setup standalone status`: recent runs, read from their journals.

use serde_json::{Value as J, json};

use crate::failure::Failure;
use crate::options::Options;
use crate::report::journal;

/// `setup standalone status`: recent runs from the journal.
pub fn run(o: &Options) -> Result<i32, Failure> {
    let mut rows = Vec::new();
    for id in journal::list_runs(&o.dir).into_iter().take(20) {
        let text =
            std::fs::read_to_string(journal::runs_dir(&o.dir).join(&id).join("journal.jsonl"))
                .unwrap_or_default();
        let mut row = json!({ "run_id": id, "status": "unfinished", "tasks": 0, "failed": 0 });
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<J>(line) else {
                continue;
            };
            match v["event"].as_str() {
                Some("run_started") => {
                    row["started_at"] = v["at"].clone();
                    row["playbook"] = v["playbook"].clone();
                }
                Some("task_finished") => {
                    row["tasks"] = json!(row["tasks"].as_u64().unwrap_or(0) + 1);
                    if v["status"] == "failed" {
                        row["failed"] = json!(row["failed"].as_u64().unwrap_or(0) + 1);
                    }
                }
                Some("run_finished") => {
                    row["status"] = v["status"].clone();
                    row["finished_at"] = v["at"].clone();
                }
                _ => {}
            }
        }
        rows.push(row);
    }
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
        for r in rows {
            super::say!(
                "{:<26} {:<12} {:>6} {:>6}  {}",
                r["run_id"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
                r["tasks"].as_u64().unwrap_or(0),
                r["failed"].as_u64().unwrap_or(0),
                r["started_at"].as_str().unwrap_or("")
            );
        }
    }
    Ok(0)
}
