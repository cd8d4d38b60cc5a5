//! Jobs: each backup, restore, verify or drill the API asks for runs as this binary's own command
//! (`setup standalone OPERATION -C DIR --non-interactive`), so it takes the same host locks as a
//! run from the command line, rolls back the same way when cancelled (SIGINT, as Ctrl-C), and
//! writes the same journal, whose lines are the job's event stream. The job's record lives in
//! `.setup/serve/jobs/ID.json` and survives a restart of the server: a job cut by one shows as
//! interrupted.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use utoipa::ToSchema;

use super::problem::Problem;
use crate::report::events::Event;

/// What a job runs.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JobKind)]
pub enum Kind {
    Backup,
    Restore,
    Verify,
    Drill,
}

impl Kind {
    /// The operation, as a word (`standalone OPERATION`).
    pub fn named(word: &str) -> Option<Kind> {
        [Kind::Backup, Kind::Restore, Kind::Verify, Kind::Drill]
            .into_iter()
            .find(|k| k.as_str() == word)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Backup => "backup",
            Kind::Restore => "restore",
            Kind::Verify => "verify",
            Kind::Drill => "drill",
        }
    }
}

/// Where a job stands.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = JobStatus)]
pub enum Status {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    Interrupted,
    Refused,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Running => "running",
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Cancelled => "cancelled",
            Status::Interrupted => "interrupted",
            Status::Refused => "refused",
        }
    }
}

/// A job as its record keeps it (`.setup/serve/jobs/ID.json`).
#[derive(Clone, Serialize, Deserialize, ToSchema)]
pub struct Record {
    /// The job's id, its run's too.
    pub id: String,
    pub kind: Kind,
    pub status: Status,
    /// When it started (UTC).
    pub created_at: String,
    /// The name of the token that asked for it.
    pub requested_by: String,
    /// What it runs: `setup` with these arguments, in the server's folder.
    pub command: String,
    /// Once it ended: the exit code of its run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = i32)]
    pub exit_code: Option<i32>,
    /// Once it ended (UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub finished_at: Option<String>,
    /// Why it did not succeed: what its run said last (masked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String)]
    pub message: Option<String>,
}

/// A job: its record, and as its journal and report have it, where it is.
#[derive(Clone, Serialize, ToSchema)]
pub struct Job {
    #[serde(flatten)]
    pub record: Record,
    /// Steps done of total, and the step each host is on (from the journal).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Progress)]
    pub progress: Option<Progress>,
    /// Once it ended, from its report: how long the run took to restore (the RTO); null when the
    /// report has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub rto_seconds: Option<Option<serde_json::Number>>,
    /// Once it ended, from its report: the recovery point of each component.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub rpo: Option<J>,
    /// Once it ended: the run's report (`report.json`, the engine's `setup.report/1`), as the run
    /// wrote it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub report: Option<J>,
    /// Where to follow it (a job just started).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Links)]
    pub links: Option<Links>,
}

impl Job {
    /// The job as its record alone says.
    fn of(record: Record) -> Job {
        Job {
            record,
            progress: None,
            rto_seconds: None,
            rpo: None,
            report: None,
            links: None,
        }
    }
}

#[derive(Clone, Serialize, ToSchema)]
pub struct Progress {
    pub tasks_done: u64,
    pub tasks: usize,
    /// Host: the step it is on.
    pub running: BTreeMap<String, String>,
}

/// Where a job just started is followed.
#[derive(Clone, Serialize, ToSchema)]
pub struct Links {
    #[serde(rename = "self")]
    pub this: String,
    pub events: String,
    pub cancel: String,
}

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

    fn save(&self, job: &Record) {
        let _ = std::fs::create_dir_all(self.folder());
        // Written whole and renamed: a reader polling the job never finds half a record.
        let _ = super::edit::replace(
            &self.folder().join(format!("{}.json", job.id)),
            &serde_json::to_string_pretty(job).expect("json"),
            true,
        );
    }

    fn load(&self, id: &str) -> Option<Record> {
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
            if matches!(job.status, Status::Running | Status::Queued) {
                job.status = Status::Interrupted;
                job.message = Some("the server stopped while the job ran".into());
                self.save(&job);
            }
        }
    }

    /// Every job, newest first.
    pub fn all(&self) -> Vec<Record> {
        let mut out: Vec<Record> = std::fs::read_dir(self.folder())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter_map(|t| serde_json::from_str(&t).ok())
            .collect();
        out.sort_by(|a, b| b.id.cmp(&a.id));
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
    pub fn view(&self, id: &str) -> Option<Job> {
        let record = self.load(id)?;
        let events = crate::report::journal::read_events(&self.journal(id)).unwrap_or_default();
        let (mut total, mut done) = (0usize, 0u64);
        let mut on = BTreeMap::new();
        for e in events {
            match e {
                Event::RunStarted { tasks, .. } => total = tasks,
                Event::TaskStarted { host, step, .. } => {
                    on.insert(host, step);
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
        let report = crate::report::journal::runs_dir(&self.dir)
            .join(id)
            .join("report.json");
        let report = std::fs::read_to_string(report)
            .ok()
            .and_then(|t| serde_json::from_str::<J>(&t).ok());
        Some(Job {
            progress: Some(Progress {
                tasks_done: done,
                tasks: total,
                running: on,
            }),
            rto_seconds: report
                .as_ref()
                .map(|r| r["rto_seconds"].as_number().cloned()),
            rpo: report.as_ref().map(|r| r["rpo"].clone()),
            report,
            ..Job::of(record)
        })
    }

    /// Starts `setup ARGS` as a job of `kind`. A run refused at once (its hosts are locked by
    /// another run) is 409.
    pub async fn start(
        self: &std::sync::Arc<Self>,
        kind: Kind,
        args: Vec<String>,
        who: &str,
    ) -> Result<Job, Problem> {
        let not_started = |why: String| {
            Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the job did not start",
                why,
            )
        };
        let id = new_id();
        let folder = self.folder();
        let _ = std::fs::create_dir_all(&folder);
        // What a run says may name hosts, paths and backups: readable by the server's user alone,
        // as everything else under .setup/.
        let private = |name: String| {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(folder.join(name))
                .map_err(|e| not_started(e.to_string()))
        };
        let out = private(format!("{id}.out"))?;
        let err = private(format!("{id}.err"))?;
        let record = Record {
            id: id.clone(),
            kind,
            status: Status::Running,
            created_at: now(),
            requested_by: who.to_string(),
            command: args.join(" "),
            exit_code: None,
            finished_at: None,
            message: None,
        };
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
            .map_err(|e| not_started(format!("cannot start the job: {e}")))?;
        let (stop, mut stops) = tokio::sync::mpsc::unbounded_channel::<()>();
        self.live.lock().expect("live").insert(id.clone(), stop);
        self.save(&record);
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
                job.status = match code {
                    0 => Status::Succeeded,
                    130 if cancelled => Status::Cancelled,
                    130 => Status::Interrupted,
                    3 => Status::Refused,
                    _ => Status::Failed,
                };
                job.exit_code = Some(code);
                job.finished_at = Some(now());
                let err = std::fs::read_to_string(me.folder().join(format!("{job_id}.err")))
                    .unwrap_or_default();
                if code != 0 {
                    // What the run said on its error stream, else the end of what it printed (a
                    // verify names its bad backups there): a failed job always says why.
                    let said = Some(me.said(&err)).filter(|m| !m.is_empty()).or_else(|| {
                        let out =
                            std::fs::read_to_string(me.folder().join(format!("{job_id}.out")))
                                .unwrap_or_default();
                        Some(me.said(&out)).filter(|m| !m.is_empty())
                    });
                    job.message =
                        Some(said.unwrap_or_else(|| format!("it ended with exit code {code}")));
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
                        return Err(Problem::new(
                            StatusCode::CONFLICT,
                            "the hosts are busy: another run holds their locks",
                            self.said(&err),
                        ));
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
        Ok(Job {
            links: Some(Links {
                this: format!("/api/v1/jobs/{id}"),
                events: format!("/api/v1/jobs/{id}/events"),
                cancel: format!("/api/v1/jobs/{id}/cancel"),
            }),
            ..Job::of(record)
        })
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
