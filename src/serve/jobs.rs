//! Jobs: each backup, restore, verify or drill the API asks for runs as this binary's own command
//! (`setup standalone OPERATION -C DIR --non-interactive`), so it takes the same host locks as a
//! run from the command line, rolls back the same way when cancelled (SIGINT, as Ctrl-C), and
//! writes the same journal, whose lines are the job's event stream. The job's record lives in
//! `.setup/serve/jobs/ID.json` and survives a restart of the server: a job cut by one shows as
//! interrupted.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Value as J, json};

use crate::report::events::Event;

pub struct Jobs {
    dir: PathBuf,
    exe: PathBuf,
    /// The server's options, for the secrets to mask in what a job said.
    options: crate::options::Options,
    /// Running jobs: how to ask each to stop. The task that waits for a job's process holds its
    /// `Child` and signals it on this channel's word, never a bare pid that may have been reused.
    live: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<()>>>,
    cancelled: Mutex<Vec<String>>,
    /// How many jobs have ended: what was read of storage before one ended is read again.
    pub ended: std::sync::atomic::AtomicU64,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A run id, as the engine makes them: the job's id and its run's.
fn new_id() -> String {
    crate::world::new_run_id(chrono::Utc::now())
}

impl Jobs {
    pub fn new(dir: &Path, exe: PathBuf, options: &crate::options::Options) -> Jobs {
        let jobs = Jobs {
            dir: dir.to_path_buf(),
            exe,
            options: options.clone(),
            live: Mutex::default(),
            cancelled: Mutex::default(),
            ended: Default::default(),
        };
        jobs.recover();
        jobs
    }

    fn folder(&self) -> PathBuf {
        self.dir.join(".setup").join("serve").join("jobs")
    }

    fn save(&self, job: &J) {
        let id = job["id"].as_str().unwrap_or("job");
        let _ = std::fs::create_dir_all(self.folder());
        // Written whole and renamed: a reader polling the job never finds half a record.
        let _ = super::edit::replace(
            &self.folder().join(format!("{id}.json")),
            &serde_json::to_string_pretty(job).expect("json"),
            true,
        );
    }

    fn load(&self, id: &str) -> Option<J> {
        if !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return None;
        }
        std::fs::read_to_string(self.folder().join(format!("{id}.json")))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
    }

    /// Jobs a stopped server left running are interrupted: their process went with it, or runs
    /// on unwatched (its locks and its journal say what it did).
    fn recover(&self) {
        for mut job in self.all() {
            if job["status"] == "running" || job["status"] == "queued" {
                job["status"] = "interrupted".into();
                job["message"] = "the server stopped while the job ran".into();
                self.save(&job);
            }
        }
    }

    /// Every job, newest first.
    pub fn all(&self) -> Vec<J> {
        let mut out: Vec<J> = std::fs::read_dir(self.folder())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|t| serde_json::from_str(&t).ok())
            .collect();
        out.sort_by(|a, b| b["id"].as_str().cmp(&a["id"].as_str()));
        out
    }

    /// The run's journal: the job's events.
    pub fn journal(&self, id: &str) -> PathBuf {
        crate::report::journal::runs_dir(&self.dir)
            .join(id)
            .join("journal.jsonl")
    }

    /// A job with its progress, read from its journal: steps done of total, the step each host is
    /// on, and once it ended its report's RTO and RPO.
    pub fn view(&self, id: &str) -> Option<J> {
        let mut job = self.load(id)?;
        let events = crate::report::journal::read_events(&self.journal(id)).unwrap_or_default();
        let (mut total, mut done) = (0usize, 0u64);
        let mut on: serde_json::Map<String, J> = serde_json::Map::new();
        for e in events {
            match e {
                Event::RunStarted { tasks, .. } => total = tasks,
                Event::TaskStarted { host, step, .. } => {
                    on.insert(host, J::String(step));
                }
                Event::TaskFinished { host, rollback, .. } => {
                    if !rollback {
                        done += 1;
                    }
                    on.remove(&host);
                }
                _ => {}
            }
        }
        job["progress"] = json!({ "tasks_done": done, "tasks": total, "running": on });
        let report = crate::report::journal::runs_dir(&self.dir)
            .join(id)
            .join("report.json");
        if let Some(r) = std::fs::read_to_string(report)
            .ok()
            .and_then(|t| serde_json::from_str::<J>(&t).ok())
        {
            job["rto_seconds"] = r["rto_seconds"].clone();
            job["rpo"] = r["rpo"].clone();
            job["report"] = r;
        }
        Some(job)
    }

    /// Starts `setup ARGS` as job `kind`. A run refused at once (its hosts are locked by another
    /// run) is the error `(409, why)`.
    pub async fn start(
        self: &std::sync::Arc<Self>,
        kind: &str,
        args: Vec<String>,
        who: &str,
    ) -> Result<J, (u16, String)> {
        let id = new_id();
        let folder = self.folder();
        let _ = std::fs::create_dir_all(&folder);
        let out = std::fs::File::create(folder.join(format!("{id}.out")))
            .map_err(|e| (500, e.to_string()))?;
        let err = std::fs::File::create(folder.join(format!("{id}.err")))
            .map_err(|e| (500, e.to_string()))?;
        let mut job = json!({
            "id": id, "kind": kind, "status": "running", "created_at": now(),
            "requested_by": who, "command": args.join(" "),
        });
        let mut child = tokio::process::Command::new(&self.exe)
            .args(&args)
            .arg("-C")
            .arg(&self.dir)
            .arg("--non-interactive")
            .env("SETUP_RUN_ID", &id)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| (500, format!("cannot start the job: {e}")))?;
        let (stop, mut stops) = tokio::sync::mpsc::unbounded_channel::<()>();
        self.live.lock().expect("live").insert(id.clone(), stop);
        self.save(&job);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let me = self.clone();
        let job_id = id.clone();
        tokio::spawn(async move {
            let status = loop {
                tokio::select! {
                    status = child.wait() => break status,
                    Some(()) = stops.recv() => interrupt(&child),
                }
            };
            let code = status.ok().and_then(|s| s.code()).unwrap_or(-1);
            me.live.lock().expect("live").remove(&job_id);
            me.ended.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let cancelled = me.cancelled.lock().expect("cancelled").contains(&job_id);
            if let Some(mut job) = me.load(&job_id) {
                job["status"] = match code {
                    0 => "succeeded",
                    130 if cancelled => "cancelled",
                    130 => "interrupted",
                    3 => "refused",
                    _ => "failed",
                }
                .into();
                job["exit_code"] = code.into();
                job["finished_at"] = now().into();
                let err = std::fs::read_to_string(me.folder().join(format!("{job_id}.err")))
                    .unwrap_or_default();
                if code != 0 {
                    job["message"] = me.said(&err).into();
                }
                me.save(&job);
                let _ = tx.send((code, err));
            }
        });
        // A run refused for held locks ends within moments: said as 409, not as a job. The answer
        // waits until the run has its locks (its journal says so), has ended, or 3 s have passed.
        let journal = self.journal(&id);
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
        let mut rx = rx;
        loop {
            tokio::select! {
                ended = &mut rx => {
                    if let Ok((3, err)) = ended {
                        let _ = std::fs::remove_file(folder.join(format!("{id}.json")));
                        return Err((409, self.said(&err)));
                    }
                    break;
                }
                _ = tokio::time::sleep(std::time::Duration::from_millis(50)) => {
                    if locked(&journal) || tokio::time::Instant::now() >= deadline {
                        break;
                    }
                }
            }
        }
        job["links"] = json!({
            "self": format!("/api/v1/jobs/{id}"),
            "events": format!("/api/v1/jobs/{id}/events"),
            "cancel": format!("/api/v1/jobs/{id}/cancel"),
        });
        Ok(job)
    }

    /// Cancels a running job as Ctrl-C would: it stops and rolls back. False when it is not running.
    pub fn cancel(&self, id: &str) -> bool {
        let live = self.live.lock().expect("live");
        let Some(stop) = live.get(id) else {
            return false;
        };
        self.cancelled
            .lock()
            .expect("cancelled")
            .push(id.to_string());
        stop.send(()).is_ok()
    }

    /// What a failed job said last: its messages without the excerpts of documents, masked.
    fn said(&self, err: &str) -> String {
        let masker = super::failed::secrets(&self.options);
        last_lines(&super::failed::child_said(err, &masker))
    }

    pub fn running(&self, id: &str) -> bool {
        self.live.lock().expect("live").contains_key(id)
    }
}

/// SIGINT to a job's process, as Ctrl-C: it stops and rolls back. `child.id()` is the pid only
/// while the process has not been waited for, so that pid cannot be another process's.
fn interrupt(child: &tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on the process `child` holds, not yet reaped: its pid is still its own.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGINT);
        }
    }
}

/// Whether a run's journal says it holds its hosts' locks (taken all at once, or none).
fn locked(journal: &Path) -> bool {
    crate::report::journal::read_events(journal).is_ok_and(|events| {
        events
            .iter()
            .any(|e| matches!(e, Event::Lock { action, .. } if action != "refused"))
    })
}

/// What a failed command said last, without the decoration of its error box.
fn last_lines(err: &str) -> String {
    let lines: Vec<&str> = err
        .lines()
        .map(|l| l.trim_start_matches([' ', 'x', '|', '×', '│']).trim())
        .filter(|l| !l.is_empty())
        .collect();
    lines[lines.len().saturating_sub(8)..].join("\n")
}
