//! Host locks, held by the engine: one per host, taken before the host's first task whatever the
//! filters say, released on every way out. A lock is a folder made with `mkdir` (atomic on every
//! POSIX file system) holding `owner.json`: run id, controller, pid, operation, start time.
//!
//! A lock left by a process of this controller that is provably gone is taken over, with a journal
//! line; any other held lock refuses the run (exit 3) unless `--break-lock` says otherwise.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

use crate::task::RunShared;
use crate::transport::{ExecRequest, quote};

/// Who holds a lock.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub run: String,
    pub controller: String,
    pub pid: u32,
    /// When the process started, in clock ticks since boot: tells a reused pid from the owner.
    pub pid_start: u64,
    pub operation: String,
    pub started: DateTime<Utc>,
    /// Which running system the controller is: its boot id and pid namespace. A cloned VM or a
    /// container given the same host name shares the name, never both of these.
    #[serde(default)]
    pub instance: String,
}

impl Owner {
    /// This process, running `operation` as run `run`.
    pub fn this(run: &str, operation: &str, started: DateTime<Utc>) -> Owner {
        let pid = std::process::id();
        Owner {
            run: run.into(),
            controller: controller_name(),
            pid,
            pid_start: process_start(pid).unwrap_or(0),
            operation: operation.into(),
            started,
            instance: instance(),
        }
    }

    /// Whether the owner is a process of this very system (same name, boot and pid namespace)
    /// that no longer runs. A pid missing here proves nothing about a clone's process.
    pub fn provably_dead(&self) -> bool {
        self.controller == controller_name()
            && !self.instance.is_empty()
            && self.instance == instance()
            && process_start(self.pid) != Some(self.pid_start)
    }

    pub fn describe(&self) -> String {
        format!(
            "run {} ({}) from {} pid {}, since {}",
            self.run,
            self.operation,
            self.controller,
            self.pid,
            self.started.format("%Y-%m-%d %H:%M:%SZ")
        )
    }
}

fn controller_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}

/// This running system: the kernel's boot id and this process's pid namespace.
fn instance() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if boot.is_empty() || ns.is_empty() {
        return String::new();
    }
    format!("{boot}/{ns}")
}

/// Field 22 of /proc/PID/stat: the start time in ticks. None when the process does not exist.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last `)`.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// What taking a host's lock came to.
#[derive(Clone, Debug)]
pub enum Taken {
    Fresh,
    /// The owner's process is gone: its lock was taken over, and what it left running on the host
    /// was stopped (how many process groups, or why that could not be done).
    TookOver(Owner, Result<usize, String>),
    /// `--break-lock` took a lock held by someone else (None: no readable owner).
    Broke(Option<Owner>),
    /// This run already holds the lock: the host is a machine the run reaches under another name
    /// too (a standalone site's director and analytics on one host).
    Shared,
}

/// Why a host's lock was not taken.
#[derive(Clone, Debug)]
pub enum Refusal {
    Held { host: String, owner: Option<Owner> },
    Failed { host: String, message: String },
}

impl Refusal {
    pub fn host(&self) -> &str {
        match self {
            Refusal::Held { host, .. } | Refusal::Failed { host, .. } => host,
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Held {
                host,
                owner: Some(o),
            } => write!(f, "host `{host}` is locked by {}", o.describe()),
            Refusal::Held { host, owner: None } => {
                write!(
                    f,
                    "host `{host}` is locked by a run whose owner file cannot be read"
                )
            }
            Refusal::Failed { message, .. } => f.write_str(message),
        }
    }
}

/// The lock folder of a host: `setup_lock` if the inventory sets it, else `/var/lock/setup.lock`
/// under the host's `dr_root`, else the machine's own `/var/lock/setup.lock`. A local host with
/// neither is this machine, whichever project folder drives it: its lock is machine-wide, in
/// `$SETUP_LOCK_DIR` when that is set (a machine whose `/var/lock` is not shared by everything
/// that runs setup), else `/var/lock`.
pub fn path(shared: &RunShared, host: &str) -> String {
    let vars = shared.base.get(host);
    let var = |k: &str| vars.and_then(|v| v.get(k)).and_then(J::as_str);
    let local = shared
        .hosts
        .get(host)
        .is_some_and(|h| h.connection == crate::docs::inventory::Connection::Local);
    match (var("setup_lock"), var("dr_root")) {
        (Some(p), _) => p.to_string(),
        (None, Some(root)) => format!("{root}/var/lock/setup.lock"),
        (None, None) if local => match std::env::var("SETUP_LOCK_DIR") {
            Ok(dir) if !dir.is_empty() => format!("{}/setup.lock", dir.trim_end_matches('/')),
            _ => "/var/lock/setup.lock".into(),
        },
        (None, None) => "/var/lock/setup.lock".into(),
    }
}

/// Runs a lock command; a host that does not answer within `shared.lock_timeout` is an error, so a
/// hung host cannot hold the run. The time is the command's alone: reaching the host (its turn
/// under `--connect-limit`, a handshake tried again on a busy controller) has its own timeout.
async fn shell(shared: &RunShared, host: &str, script: String) -> Result<String, String> {
    let h = shared.hosts.get(host);
    let mut req = ExecRequest::shell(script);
    if h.is_some_and(|h| h.become_) {
        req.become_ = Some(shared.become_password.clone());
    }
    let transport = shared.transport(host);
    transport.connect().await.map_err(|e| e.to_string())?;
    match tokio::time::timeout(shared.lock_timeout, transport.exec(req)).await {
        Ok(Ok(out)) if out.success() => Ok(out.stdout),
        Ok(Ok(out)) => Err(format!(
            "host `{host}`: the lock command exited {}: {}",
            out.code.unwrap_or(-1),
            out.stderr.trim()
        )),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "host `{host}`: no answer within {}s",
            shared.lock_timeout.as_secs()
        )),
    }
}

/// Takes one host's lock.
async fn take(
    shared: &RunShared,
    host: &str,
    me: &Owner,
    break_lock: bool,
) -> Result<Taken, Refusal> {
    let l = quote(&path(shared, host));
    let mine = quote(&serde_json::to_string(me).expect("json"));
    let failed = |message| Refusal::Failed {
        host: host.into(),
        message,
    };
    let out = shell(
        shared,
        host,
        format!(
            "set -eu\nl={l}\nmkdir -p \"$(dirname \"$l\")\"\n\
             if mkdir \"$l\" 2>/dev/null; then \
             if printf '%s\\n' {mine} > \"$l/owner.json\" && [ -s \"$l/owner.json\" ]; then echo taken; \
             else rm -rf \"$l\"; echo \"the lock's owner file cannot be written in $l (is the disk full?): the lock was not taken\" >&2; exit 1; fi; \
             else echo held; cat \"$l/owner.json\" 2>/dev/null || true; fi"
        ),
    )
    .await
    .map_err(failed)?;
    let (word, held) = out.split_once('\n').unwrap_or((out.trim(), ""));
    if word.trim() == "taken" {
        return Ok(Taken::Fresh);
    }
    let owner: Option<Owner> = serde_json::from_str(held.trim()).ok();
    if owner.as_ref() == Some(me) {
        return Ok(Taken::Shared);
    }
    let taken = match &owner {
        Some(o) if o.provably_dead() => Taken::TookOver(o.clone(), Ok(0)),
        _ if break_lock => Taken::Broke(owner.clone()),
        _ => {
            return Err(Refusal::Held {
                host: host.into(),
                owner,
            });
        }
    };
    // Replace the lock only if it still holds what was read: two runs taking over at once cannot
    // both win.
    let seen = quote(held.trim());
    let out = shell(
        shared,
        host,
        format!(
            "set -eu\nl={l}\nif [ \"$(cat \"$l/owner.json\" 2>/dev/null || true)\" = {seen} ]; then \
             printf '%s\\n' {mine} > \"$l/owner.json\"; echo taken; else echo changed; fi"
        ),
    )
    .await
    .map_err(failed)?;
    if out.trim() == "taken" {
        Ok(match taken {
            Taken::TookOver(gone, _) => {
                let stopped = stop_leftovers(shared, host, &gone).await;
                Taken::TookOver(gone, stopped)
            }
            other => other,
        })
    } else {
        Err(Refusal::Held {
            host: host.into(),
            owner,
        })
    }
}

/// Stops what a run that is gone left running on a host: each process group holding a shell named
/// for that run (`transport::run_tag`), with everything its command started, before this run
/// touches the host. A step cut off by a killed controller goes on running on the host otherwise,
/// alongside the run that resumes it. Returns how many process groups were stopped.
async fn stop_leftovers(shared: &RunShared, host: &str, gone: &Owner) -> Result<usize, String> {
    let tag = crate::transport::run_tag(&gone.run);
    if !tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("run id `{}` is not one setup makes", gone.run));
    }
    // `[s]etup-run-…` matches the tag but not this script's own command line, which holds the pattern.
    let pattern = quote(&format!("(^| )[{}]{}( |$)", &tag[..1], &tag[1..]));
    let script = format!(
        "command -v pgrep >/dev/null || {{ echo 'pgrep is not installed' >&2; exit 1; }}\n\
         me=$(ps -o pgid= -p $$ | tr -d ' ')\n\
         n=0\n\
         for g in $(for p in $(pgrep -f {pattern} || true); do ps -o pgid= -p \"$p\" || true; done | sort -u); do\n\
         if [ \"$g\" != \"$me\" ] && [ \"$g\" -gt 1 ] && kill -KILL \"-$g\" 2>/dev/null; then n=$((n+1)); fi\n\
         done\n\
         echo \"$n\""
    );
    let out = shell(shared, host, script).await?;
    out.trim()
        .parse()
        .map_err(|_| format!("host `{host}`: unexpected answer `{}`", out.trim()))
}

/// Takes every host's lock, all at once. On a refusal the locks already taken are released.
pub async fn take_all(
    shared: &Arc<RunShared>,
    hosts: &[String],
    me: &Owner,
    break_lock: bool,
) -> Result<Vec<(String, Taken)>, Vec<Refusal>> {
    let mut tries = tokio::task::JoinSet::new();
    for h in hosts {
        let shared = shared.clone();
        let (h, me) = (h.clone(), me.clone());
        tries.spawn(async move {
            let r = take(&shared, &h, &me, break_lock).await;
            (h, r)
        });
    }
    let results = tries.join_all().await;
    let mut taken = Vec::new();
    let mut refused = Vec::new();
    for (h, r) in results {
        match r {
            // One machine under two names: the other name's take may not have written its owner
            // file yet when this one read it. Once all are done, read it again.
            Err(Refusal::Held { owner: None, .. }) => {
                match take(shared, &h, me, break_lock).await {
                    Ok(t) => taken.push((h, t)),
                    Err(e) => refused.push(e),
                }
            }
            Ok(t) => taken.push((h, t)),
            Err(e) => refused.push(e),
        }
    }
    if refused.is_empty() {
        return Ok(taken);
    }
    let hosts: Vec<String> = taken.into_iter().map(|(h, _)| h).collect();
    release_all(shared, &hosts, me).await;
    Err(refused)
}

/// Releases this run's locks; a lock someone else now holds is left alone.
pub async fn release_all(
    shared: &Arc<RunShared>,
    hosts: &[String],
    me: &Owner,
) -> Vec<(String, Result<(), String>)> {
    let mine = quote(&serde_json::to_string(me).expect("json"));
    let mut tries = tokio::task::JoinSet::new();
    for h in hosts {
        let shared = shared.clone();
        let h = h.clone();
        let l = quote(&path(&shared, &h));
        let script = format!(
            "set -eu\nl={l}\nif [ \"$(cat \"$l/owner.json\" 2>/dev/null || true)\" = {mine} ]; then rm -rf \"$l\"; fi"
        );
        tries.spawn(async move {
            let r = shell(&shared, &h, script).await.map(|_| ());
            (h, r)
        });
    }
    tries.join_all().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_gone_one_is_dead() {
        let me = Owner::this("r1", "restore", Utc::now());
        assert!(me.pid_start > 0);
        assert!(!me.provably_dead());
        let gone = Owner {
            pid: u32::MAX - 1,
            ..me.clone()
        };
        assert!(gone.provably_dead());
        let clone = Owner {
            instance: "another-boot/pid:[1]".into(),
            ..gone.clone()
        };
        assert!(
            !clone.provably_dead(),
            "a clone with this host name: its pid is not looked for here"
        );
        let older = Owner {
            instance: String::new(),
            ..gone.clone()
        };
        assert!(!older.provably_dead(), "an owner that names no instance");
        let reused = Owner {
            pid_start: me.pid_start + 1,
            ..me.clone()
        };
        assert!(reused.provably_dead(), "a reused pid is not the owner");
        let elsewhere = Owner {
            controller: "another-controller".into(),
            ..gone
        };
        assert!(
            !elsewhere.provably_dead(),
            "another controller's pid proves nothing here"
        );
    }
}
