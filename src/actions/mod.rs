//! Actions: what one task does on one host. Each reports ok / changed / failed and a masked excerpt.

pub mod analytics;
mod checks;
mod command;
mod files;
mod service;
mod transfer;

use serde_json::{Value as J, json};

use crate::docs::inventory::Host;
use crate::docs::playbook::Step;
use crate::exec::RunShared;
use crate::exec::events::{Events, Status};
use crate::transport::{EnvValue, ExecOutput, ExecRequest, Transport};

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
        let become_ = self.step.become_.unwrap_or(self.host.become_);
        ExecRequest {
            program,
            env: self.env.clone(),
            stdin: None,
            cwd: None,
            become_: become_.then(|| self.shared.become_password.clone()),
            cap: 64 * 1024,
        }
    }

    pub fn arg(&self, key: &str) -> Option<String> {
        match self.args.get(key)? {
            J::String(s) => Some(s.clone()),
            J::Null => None,
            other => Some(other.to_string()),
        }
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
}

impl Outcome {
    pub fn ok(message: impl Into<String>) -> Self {
        Outcome {
            status: Status::Ok,
            code: None,
            output: String::new(),
            message: message.into(),
            data: J::Null,
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
        let status = if out.success() {
            Status::Changed
        } else {
            Status::Failed
        };
        let message = match out.code {
            Some(0) => String::new(),
            Some(c) => format!(
                "exit code {c}{}",
                last_line(&out.stderr)
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

fn last_line(s: &str) -> Option<&str> {
    s.lines().rev().map(str::trim).find(|l| !l.is_empty())
}

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    match ctx.step.action {
        "shell" | "command" | "script" => command::run(ctx).await,
        "copy" | "template" => files::run(ctx).await,
        "fetch" => transfer::fetch(ctx).await,
        "upload" => transfer::upload(ctx).await,
        "service" => service::run(ctx).await,
        "wait_for" => checks::wait_for(ctx).await,
        "assert" => checks::assert(ctx),
        "debug" => checks::debug(ctx),
        "analytics_gate" => analytics::gate(ctx).await,
        "analytics_record" => analytics::record(ctx).await,
        other => Outcome::failed(format!("unknown action `{other}`")),
    }
}

/// A short line saying what a task will do, for plans.
pub fn preview(action: &str, args: &J) -> String {
    let s = |k: &str| args.get(k).and_then(J::as_str).unwrap_or("").to_string();
    match (action, args) {
        ("shell", J::String(c)) => format!("$ {c}"),
        ("shell", _) => format!("$ {}", s("cmd")),
        ("command", J::String(c)) => format!("$ {c}"),
        ("command", J::Array(a)) => format!(
            "$ {}",
            a.iter()
                .map(|x| crate::transport::quote(x.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join(" ")
        ),
        ("script", J::String(c)) => format!("script {c}"),
        ("copy", _) => format!(
            "copy {} -> {}",
            if args.get("content").is_some() {
                "(content)".into()
            } else {
                s("src")
            },
            s("dest")
        ),
        ("template", _) => format!("template {} -> {}", s("src"), s("dest")),
        ("fetch", _) => format!("fetch storage:{} -> {}", s("object"), s("dest")),
        ("upload", _) => format!("upload {} -> storage:{}", s("src"), s("object")),
        ("service", _) => format!("service {} {}", s("name"), s("state")),
        ("wait_for", _) => format!(
            "wait for {}",
            ["port", "http", "command"]
                .iter()
                .filter_map(|k| args.get(*k).map(|v| format!(
                    "{k} {}",
                    v.as_str().map(str::to_string).unwrap_or(v.to_string())
                )))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ("assert", _) => format!(
            "assert {}",
            args.get("that").map(|t| t.to_string()).unwrap_or_default()
        ),
        ("debug", J::String(m)) => format!("debug {m}"),
        ("debug", _) => format!(
            "debug {}",
            args.get("msg")
                .or(args.get("var"))
                .map(|v| v.as_str().map(str::to_string).unwrap_or(v.to_string()))
                .unwrap_or_default()
        ),
        ("analytics_gate", _) => "decide which analytics weeks to restore".into(),
        ("analytics_record", _) => format!("record restored snapshot in {}", s("state_file")),
        (a, _) => a.to_string(),
    }
}

/// The gate's decision without running the step, for `--check`.
pub async fn gate_decision(ctx: &TaskCtx<'_>) -> Result<J, String> {
    analytics::decide(ctx).await
}
