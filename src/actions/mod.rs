//! Actions: what one task does on one host. Each reports ok / changed / failed and a masked excerpt.

pub mod analytics;
mod backup;
pub mod checks;
pub mod command;
mod drill;
mod drillsweep;
mod files;
mod keep;
mod maintenance;
pub mod notolder;
mod pg;
mod pgdrill;
mod pgscreen;
mod postgres;
pub mod retar;
mod service;
pub mod tarcheck;
pub mod transfer;
mod unpack;

use serde_json::Value as J;

use crate::task::{Outcome, TaskCtx};
use crate::template::Templates;

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    match ctx.step.action {
        "shell" | "command" | "script" => command::run(ctx).await,
        "copy" | "template" => files::run(ctx).await,
        "fetch" => transfer::fetch(ctx).await,
        "upload" => backup::upload(ctx).await,
        "unpack" => unpack::unpack(ctx).await,
        "install" => unpack::install(ctx).await,
        "keep_last" => keep::keep_last(ctx).await,
        "service" => service::run(ctx).await,
        "maintenance" => maintenance::run(ctx).await,
        "postgres" => postgres::run(ctx).await,
        "drill" => drill::run(ctx).await,
        "wait_for" => checks::wait_for(ctx).await,
        "assert" => checks::assert(ctx),
        "debug" => checks::debug(ctx),
        "analytics_gate" => analytics::gate(ctx).await,
        "analytics_record" => analytics::record(ctx).await,
        "not_older" => notolder::run(ctx).await,
        other => Outcome::failed(format!("unknown action `{other}`")),
    }
}

/// Renders a step's arguments for one host. Strings that become shell command lines quote every
/// value (see [`Templates::render_shell`]); a `command` line is split into words before rendering,
/// so a value is one argument whatever it holds.
pub fn render_args(
    templates: &Templates,
    action: &str,
    payload: &J,
    ctx: &minijinja::Value,
) -> Result<J, minijinja::Error> {
    match (action, payload) {
        ("command", J::String(line)) => template_words(line)
            .iter()
            .map(|w| templates.render(w, ctx).map(J::String))
            .collect::<Result<_, _>>()
            .map(J::Array),
        ("shell", _) => templates.render_payload(payload, ctx, &["", "cmd"]),
        ("wait_for" | "upload", _) => templates.render_payload(payload, ctx, &["command"]),
        _ => templates.render_json(payload, ctx),
    }
}

/// Splits a command line template on the blanks outside `{{ }}` and `{% %}`.
fn template_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut depth = 0usize;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if matches!(chars.peek(), Some('{' | '%')) => {
                depth += 1;
                word.push(c);
                word.extend(chars.next());
            }
            '}' | '%' if depth > 0 && chars.peek() == Some(&'}') => {
                depth -= 1;
                word.push(c);
                word.extend(chars.next());
            }
            c if c.is_whitespace() && depth == 0 => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// A short line saying what a task will do, for plans.
pub fn preview(action: &str, args: &J) -> String {
    let s = |k: &str| args.get(k).and_then(J::as_str).unwrap_or("").to_string();
    let text = |k: &str| match args.get(k) {
        Some(J::String(v)) => v.clone(),
        Some(J::Null) | None => String::new(),
        Some(v) => v.to_string(),
    };
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
        ("upload", _) => format!(
            "upload {} -> storage:{}{}",
            args.get("command")
                .and_then(J::as_str)
                .map_or_else(|| s("src"), |c| format!("the output of `{}`", c.trim())),
            s("object"),
            if args.get("seal").and_then(J::as_bool) == Some(true) {
                " (zstd, age)"
            } else {
                ""
            }
        ),
        ("unpack", _) => format!("unpack storage:{} -> {} (checked)", s("object"), s("dest")),
        ("install", _) => format!(
            "install {} {} {}",
            s("from"),
            if args.get("merge").and_then(J::as_bool) == Some(true) {
                "merged into"
            } else {
                "as"
            },
            s("to")
        ),
        ("keep_last", _) => format!(
            "remove what older restores kept aside, beyond the last {} of each: {}",
            text("keep"),
            args.get("globs")
                .and_then(J::as_array)
                .into_iter()
                .flatten()
                .filter_map(J::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        ("service", _) => format!("service {} {}", s("name"), s("state")),
        ("maintenance", _) if s("command").trim().is_empty() => {
            format!("maintenance {}: no command for this host", s("state"))
        }
        ("maintenance", _) => format!("maintenance {}: $ {}", s("state"), s("command")),
        ("postgres", _) => match s("op").as_str() {
            "load" => format!(
                "load {} into a fresh database beside {}",
                s("dump"),
                s("database")
            ),
            "dump" => format!("dump database {} to {}", s("database"), s("to")),
            "switch" => format!(
                "switch database {} to the restored one (by rename)",
                s("database")
            ),
            "discard" => "drop the restored database if it was never switched in".into(),
            "keep" => format!(
                "drop the databases older restores kept aside (DB_pre_RUN, DB_failed_RUN) of {}, beyond the last {}",
                s("database"),
                text("keep")
            ),
            op => format!("database {} {op}", s("database")),
        },
        ("wait_for", _) => format!(
            "wait for {}",
            ["port", "http", "service", "command"]
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
        ("drill", _) => match s("do").as_str() {
            "run" if s("command").trim().is_empty() => "no command given".into(),
            "run" => format!("$ {}", s("command")),
            "check_left" => "look for anything a drill left".into(),
            "check_site" => format!("check: {}", s("name")),
            what => format!(
                "{} {}",
                what.replace('_', " "),
                [s("object"), s("dir"), s("url")].concat()
            ),
        },
        ("analytics_gate", _) => "decide which analytics weeks to restore".into(),
        ("analytics_record", _) => format!("record restored snapshot in {}", s("state_file")),
        ("not_older", _) => format!(
            "refuse {} if it is older than the configuration {} names (--allow-older allows it)",
            s("backup"),
            s("marker")
        ),
        (a, _) => a.to_string(),
    }
}

/// The gate's decision without running the step, for `--check`.
pub async fn gate_decision(ctx: &TaskCtx<'_>) -> Result<J, String> {
    analytics::decide(ctx).await
}
