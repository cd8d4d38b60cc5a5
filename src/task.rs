//! The task context: what one task sees while it runs (its host, step, rendered arguments) and what
//! every task of a run shares (hosts, transports, storage, events, folders). `exec` fills it, `actions`
//! read it; neither imports the other's internals.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value as J, json};

use crate::answers::AnalyticsAnswers;
use crate::context::RunInfo;
use crate::docs::inventory::Host;
use crate::docs::playbook::Step;
use crate::report::events::{Events, Status};
use crate::report::journal;
use crate::secret::{Masker, Secret};
use crate::storage::Storage;
use crate::template::Templates;
use crate::transport::{EnvValue, ExecOutput, ExecRequest, Transport};

/// Where relative paths in playbooks point.
#[derive(Clone, Debug)]
pub struct Dirs {
    pub base: PathBuf,
    pub playbook_dir: Option<PathBuf>,
    pub templates: Option<PathBuf>,
}

impl Dirs {
    pub fn resolve(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            return path.to_path_buf();
        }
        self.playbook_dir
            .iter()
            .map(|d| d.join(path))
            .find(|c| c.exists())
            .unwrap_or_else(|| self.base.join(path))
    }

    /// A template's text: from the templates folder, else the built-in ones.
    pub fn template(&self, name: &str) -> Result<String, String> {
        if let Some(dir) = &self.templates
            && let Ok(t) = std::fs::read_to_string(dir.join(name))
        {
            return Ok(t);
        }
        crate::embedded::template(name)
            .map(str::to_string)
            .ok_or_else(|| format!("no template `{name}` in templates/"))
    }
}

/// Everything tasks share during one run.
pub struct RunShared {
    pub hosts: HashMap<String, Host>,
    /// Template variables per host before anything runs.
    pub base: HashMap<String, Map<String, J>>,
    pub hostvars: minijinja::Value,
    pub groups: minijinja::Value,
    pub secrets: J,
    pub templates: Templates,
    pub masker: Masker,
    pub events: Events,
    pub storage: Option<Arc<dyn Storage>>,
    pub transports: HashMap<String, Arc<dyn Transport>>,
    pub run: RunInfo,
    pub dirs: Dirs,
    /// The analytics answers (`analytics.*`), for the gate.
    pub analytics: AnalyticsAnswers,
    pub become_password: Option<Secret>,
    /// The director database's password (answer `db_password`), for the `postgres` action.
    pub db_password: Option<Secret>,
    /// The path of the age identity file that opens encrypted backups (answer `age_identity`).
    pub age_identity: Option<Secret>,
    /// Which backups this site trusts (answer `trusted_signers`, `--allow-unsigned`).
    pub trust: crate::authentic::Trust,
    /// The DC's signing key (backup.yml `signing_key`), for a backup.
    pub signing_key: Option<std::sync::Arc<crate::authentic::SigningKey>>,
    /// Who backups are encrypted to (backup.yml `recipients`).
    pub recipients: Vec<String>,
    /// This site's backup schedule (backup.yml `schedule`, when it has one): written into
    /// configuration manifests, and compared with theirs on restore.
    pub schedule: Vec<(String, String)>,
    /// How long a host may take to answer a lock command.
    pub lock_timeout: std::time::Duration,
    /// Registered values: per host, and `*` for steps with one task (seen by every host).
    pub registered: Mutex<HashMap<String, Map<String, J>>>,
    pub resume: journal::Done,
    pub destructive_started: AtomicBool,
    /// What finished tasks can undo, in the order they finished; rollback runs it backwards.
    pub undo: Mutex<Vec<UndoEntry>>,
}

/// One change a task made that the engine knows how to take back.
#[derive(Clone, Debug)]
pub struct UndoEntry {
    pub task: usize,
    pub step: String,
    pub host: String,
    pub become_: bool,
    pub undo: Undo,
}

impl RunShared {
    pub fn context(
        &self,
        host: &str,
        extra: Option<(&str, J)>,
    ) -> Result<minijinja::Value, String> {
        let mut m = self
            .base
            .get(host)
            .cloned()
            .ok_or_else(|| format!("no variables for host {host}"))?;
        {
            let reg = self.registered.lock().expect("registered");
            for key in ["*", host] {
                if let Some(r) = reg.get(key) {
                    m.extend(r.clone());
                }
            }
        }
        if let Some((k, v)) = extra {
            m.insert(k.into(), v);
        }
        let mut map: std::collections::BTreeMap<String, minijinja::Value> = m
            .iter()
            .map(|(k, v)| (k.clone(), Templates::context(v)))
            .collect();
        map.insert("hostvars".into(), self.hostvars.clone());
        map.insert("groups".into(), self.groups.clone());
        Ok(minijinja::Value::from(map))
    }

    pub fn env_context(&self, ctx: &minijinja::Value) -> minijinja::Value {
        let mut map: std::collections::BTreeMap<String, minijinja::Value> =
            std::collections::BTreeMap::new();
        if let Ok(iter) = ctx.try_iter() {
            for k in iter {
                if let Some(key) = k.as_str()
                    && let Ok(v) = ctx.get_attr(key)
                {
                    map.insert(key.to_string(), v);
                }
            }
        }
        map.insert("secret".into(), Templates::context(&self.secrets));
        minijinja::Value::from(map)
    }

    /// Whom `step`'s commands and files run as on `host` (its `become`, else the host's).
    pub fn become_of(&self, step: &Step, host: &Host) -> crate::transport::Become {
        let become_ = step.become_.unwrap_or(host.become_);
        become_.then(|| self.become_password.clone())
    }

    pub fn transport(&self, host: &str) -> Arc<dyn Transport> {
        self.transports.get(host).cloned().unwrap_or_else(|| {
            let tag = crate::transport::run_tag(&self.run.id);
            Arc::new(crate::transport::local::Local::new(
                host,
                &self.dirs.base,
                &tag,
            ))
        })
    }
}

pub struct TaskCtx<'a> {
    pub task: usize,
    pub host: &'a Host,
    pub step: &'a Step,
    pub args: J,
    pub env: Vec<(String, EnvValue)>,
    pub transport: &'a dyn Transport,
    pub shared: &'a RunShared,
    pub vars: &'a minijinja::Value,
}

impl TaskCtx<'_> {
    pub fn events(&self) -> &Events {
        &self.shared.events
    }

    /// A request carrying the step's environment and `become`.
    pub fn request(&self, program: crate::transport::Program) -> ExecRequest {
        ExecRequest {
            env: self.env.clone(),
            become_: self.become_(),
            ..ExecRequest::new(program)
        }
    }

    /// Whom the step's commands and files run as (its `become`, else the host's).
    pub fn become_(&self) -> crate::transport::Become {
        self.shared.become_of(self.step, self.host)
    }

    /// The task's rendered arguments as its action's struct (`docs/actions.rs`), else which
    /// argument is wrong.
    pub fn typed<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        crate::docs::actions::typed(self.step.action, &self.args)
    }
}

#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Status,
    pub code: Option<i32>,
    pub output: String,
    pub message: String,
    /// What `register` stores, besides rc / stdout / stderr.
    pub data: J,
    /// How to take back what the task changed, if it can be; the engine runs it on rollback.
    pub undo: Option<Undo>,
    /// A failure its step's `ignore_errors` let pass (the status is then ok).
    pub ignored: bool,
}

/// A command that takes a task's change back, and what it does, for the journal and the summary.
#[derive(Clone, Debug)]
pub struct Undo {
    pub program: crate::transport::Program,
    pub describe: String,
    /// Environment the undo command needs (a database password, kept secret).
    pub env: Vec<(String, crate::transport::EnvValue)>,
}

impl Undo {
    /// The journal's record of this undo: what it does, its command, its environment (a secret by
    /// its name only) and whether it runs through sudo.
    pub fn journal(&self, become_: bool) -> J {
        use crate::transport::{EnvValue, Program};
        let program = match &self.program {
            Program::Shell(s) => json!({ "shell": s }),
            Program::Argv(a) => json!({ "argv": a }),
        };
        let env: Vec<J> = self
            .env
            .iter()
            .map(|(k, v)| match v {
                EnvValue::Plain(p) => json!({ "key": k, "value": p }),
                EnvValue::Secret(_) => json!({ "key": k, "secret": true }),
            })
            .collect();
        json!({ "describe": self.describe, "program": program, "env": env, "become": become_ })
    }

    /// An undo read back from the journal; `secret` gives a secret environment value by its name.
    pub fn from_journal(
        j: &J,
        secret: &dyn Fn(&str) -> Option<crate::secret::Secret>,
    ) -> Option<(Undo, bool)> {
        use crate::transport::{EnvValue, Program};
        let p = &j["program"];
        let program = match (p["shell"].as_str(), p["argv"].as_array()) {
            (Some(s), _) => Program::Shell(s.to_string()),
            (None, Some(a)) => Program::Argv(
                a.iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()?,
            ),
            _ => return None,
        };
        let mut env = Vec::new();
        for e in j["env"].as_array().into_iter().flatten() {
            let key = e["key"].as_str()?.to_string();
            let value = match e["value"].as_str() {
                Some(v) => EnvValue::Plain(v.to_string()),
                None => EnvValue::Secret(secret(&key)?),
            };
            env.push((key, value));
        }
        Some((
            Undo {
                program,
                describe: j["describe"].as_str().unwrap_or("").to_string(),
                env,
            },
            j["become"] == true,
        ))
    }
}

impl Outcome {
    pub fn ok(message: impl Into<String>) -> Self {
        Outcome {
            status: Status::Ok,
            code: None,
            output: String::new(),
            message: message.into(),
            data: J::Null,
            undo: None,
            ignored: false,
        }
    }
    pub fn changed(message: impl Into<String>) -> Self {
        Outcome {
            status: Status::Changed,
            ..Outcome::ok(message)
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Outcome {
            status: Status::Failed,
            ..Outcome::ok(message)
        }
    }
    /// A transport failure: unreachable, refused, host key, or a dropped connection.
    pub fn from_transport(e: &crate::transport::TransportError) -> Self {
        let kind = format!("{:?}", e.kind).to_lowercase();
        Outcome::failed(e.to_string()).with_data(json!({ "transport_error": kind }))
    }

    pub fn with_undo(mut self, undo: Undo) -> Self {
        self.undo = Some(undo);
        self
    }

    pub fn with_data(mut self, data: J) -> Self {
        self.data = data;
        self
    }

    /// From a finished command: changed on exit 0, failed otherwise.
    pub fn from_exec(out: &ExecOutput) -> Self {
        let mut output = out.stdout.clone();
        if !out.stderr.is_empty() {
            output.push_str(&out.stderr);
        }
        if out.truncated {
            output.push_str(
                "\n[output cut: only the first 64 KiB of stdout and of stderr were kept]\n",
            );
        }
        // A command that found nothing to do says so with a first line `ok: WHY`: it reports ok
        // (not changed), with that line as its message.
        let found_ok = out
            .stdout
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("ok: "))
            .filter(|_| out.success());
        let status = match (out.success(), found_ok) {
            (true, Some(_)) => Status::Ok,
            (true, None) => Status::Changed,
            (false, _) => Status::Failed,
        };
        let message = match out.code {
            Some(0) => found_ok.map(str::to_string).unwrap_or_default(),
            Some(c) => format!(
                "exit code {c}{}",
                cause_line(&out.stderr)
                    .map(|l| format!(": {l}"))
                    .unwrap_or_default()
            ),
            None => "killed by a signal".into(),
        };
        Outcome {
            status,
            code: out.code,
            output,
            message,
            data: json!({"rc": out.code, "stdout": out.stdout, "stderr": out.stderr}),
            undo: None,
            ignored: false,
        }
    }

    /// The value `register` stores.
    pub fn registered(&self) -> J {
        let mut m = match &self.data {
            J::Object(o) => o.clone(),
            J::Null => serde_json::Map::new(),
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other.clone());
                m
            }
        };
        m.insert("changed".into(), J::Bool(self.status == Status::Changed));
        m.insert("failed".into(), J::Bool(self.status == Status::Failed));
        m.insert("skipped".into(), J::Bool(self.status == Status::Skipped));
        m.entry("rc").or_insert(self.code.map_or(J::Null, J::from));
        m.entry("msg").or_insert(J::String(self.message.clone()));
        J::Object(m)
    }
}

/// The stderr line that says why a command failed: the first that names a cause, skipping the
/// trailers tools print last ("Exiting with failure status…"); else the last line.
pub fn cause_line(s: &str) -> Option<&str> {
    const TRAILERS: &[&str] = &[
        "exiting with failure status",
        "error is not recoverable",
        "child returned status",
        "error exit delayed",
    ];
    const CAUSES: &[&str] = &[
        "no space left",
        "permission denied",
        "denied",
        "cannot",
        "can't",
        "no such",
        "not found",
        "error",
        "failed",
        "refused",
        "invalid",
        "fatal",
        "timed out",
        "read-only",
        "parameter not set",
    ];
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let is = |l: &str, words: &[&str]| {
        let l = l.to_ascii_lowercase();
        words.iter().any(|w| l.contains(w))
    };
    lines
        .iter()
        .find(|l| !is(l, TRAILERS) && is(l, CAUSES))
        .or_else(|| lines.iter().rev().find(|l| !is(l, TRAILERS)))
        .or(lines.last())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::cause_line;

    #[test]
    fn the_cause_of_a_failure_is_the_line_that_names_it() {
        let tar = "tar: ./data/big: Cannot write: No space left on device\ntar: Exiting with failure status due to previous errors\n";
        assert_eq!(
            cause_line(tar),
            Some("tar: ./data/big: Cannot write: No space left on device")
        );
        assert_eq!(cause_line("starting\nwarming up\n"), Some("warming up"));
        assert_eq!(cause_line(""), None);
    }
}
