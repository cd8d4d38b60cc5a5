//! `shell`, `command` and `script`: run a command on the host.

use serde_json::Value as J;

use crate::task::{Outcome, TaskCtx};
use crate::transport::{Program, quote};

/// What every `shell` and `script` runs first: stop at the first failing command or unset variable,
/// and at a failing command inside a pipe where the shell knows `pipefail`. One line with no newline,
/// so the shell's line numbers in errors are the playbook's.
pub const STRICT: &str = "set -eu; (set -o pipefail) 2>/dev/null && set -o pipefail; ";

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let strict = |c: String| Program::Shell(format!("{STRICT}{c}"));
    let (program, stdin, chdir) = match (ctx.step.action, &ctx.args) {
        ("shell", J::String(c)) => (strict(c.clone()), None, None),
        ("shell", _) => (
            strict(ctx.arg("cmd").unwrap_or_default()),
            ctx.arg("stdin"),
            ctx.arg("chdir"),
        ),
        ("command", J::Array(a)) => (
            Program::Argv(
                a.iter()
                    .map(|x| x.as_str().map(str::to_string).unwrap_or(x.to_string()))
                    .collect(),
            ),
            None,
            None,
        ),
        ("command", _) => {
            let argv = ctx
                .args
                .get("argv")
                .and_then(J::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| x.as_str().unwrap_or_default().to_string())
                        .collect()
                })
                .unwrap_or_default();
            (Program::Argv(argv), ctx.arg("stdin"), ctx.arg("chdir"))
        }
        ("script", args) => {
            let src = match args {
                J::String(s) => s.clone(),
                _ => ctx.arg("src").unwrap_or_default(),
            };
            let path = ctx.shared.dirs.resolve(&src);
            let body = match std::fs::read_to_string(&path) {
                Ok(b) => b,
                Err(e) => {
                    return Outcome::failed(format!("cannot read script {}: {e}", path.display()));
                }
            };
            let extra = ctx
                .args
                .get("args")
                .and_then(J::as_array)
                .map(|a| {
                    a.iter()
                        .map(|x| quote(x.as_str().unwrap_or_default()))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            (
                Program::Shell(format!("sh -s -- {extra}")),
                Some(format!("{STRICT}{body}")),
                None,
            )
        }
        _ => return Outcome::failed("bad command arguments"),
    };
    if matches!(&program, Program::Argv(a) if a.is_empty()) {
        return Outcome::failed("empty command");
    }
    let mut req = ctx.request(program);
    req.cwd = chdir;
    if let Some(input) = stdin {
        req.stdin = Some(Box::new(std::io::Cursor::new(input.into_bytes())));
    }
    match ctx.transport.exec(req).await {
        Ok(out) => Outcome::from_exec(&out),
        Err(e) => Outcome::from_transport(&e),
    }
}

/// A command's output when it succeeded; `doing` and why when not.
pub(super) async fn argv_ok(
    ctx: &TaskCtx<'_>,
    argv: Vec<String>,
    doing: &str,
) -> Result<crate::transport::ExecOutput, String> {
    let out = ctx
        .transport
        .exec(ctx.request(Program::Argv(argv)))
        .await
        .map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!("{doing}: {}", Outcome::from_exec(&out).message));
    }
    Ok(out)
}
