//! `shell`, `command` and `script`: run a command on the host.

use crate::docs::actions::{CommandArgs, ScriptArgs, ShellArgs};
use crate::task::{Outcome, TaskCtx};
use crate::transport::{Program, quote};

/// What every `shell` and `script` runs first: stop at the first failing command or unset variable,
/// and at a failing command inside a pipe where the shell knows `pipefail`. One line with no newline,
/// so the shell's line numbers in errors are the playbook's.
pub const STRICT: &str = "set -eu; (set -o pipefail) 2>/dev/null && set -o pipefail; ";

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let strict = |c: String| Program::Shell(format!("{STRICT}{c}"));
    let typed = match ctx.step.action {
        "shell" => ctx
            .typed::<ShellArgs>()
            .map(|a| (strict(a.cmd), a.stdin, a.chdir)),
        "command" => ctx
            .typed::<CommandArgs>()
            .map(|a| (Program::Argv(a.argv), a.stdin, a.chdir)),
        _ => ctx.typed::<ScriptArgs>().and_then(|a| {
            let path = ctx.shared.dirs.resolve(&a.src);
            let body = std::fs::read_to_string(&path)
                .map_err(|e| format!("cannot read script {}: {e}", path.display()))?;
            let extra: Vec<String> = a.args.iter().map(|x| quote(x)).collect();
            Ok((
                Program::Shell(format!("sh -s -- {}", extra.join(" "))),
                Some(format!("{STRICT}{body}")),
                None,
            ))
        }),
    };
    let (program, stdin, chdir) = match typed {
        Ok(t) => t,
        Err(e) => return Outcome::failed(e),
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
