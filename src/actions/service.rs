//! `service`: start, stop, restart or reload a service, by systemctl or a `manager` of the host's own.

use crate::docs::actions::ServiceArgs;
use crate::task::{Outcome, TaskCtx};
use crate::transport::Program;

/// The command that asks `manager` to `verb` the service `name`. The manager may be a program with
/// its own arguments (`sudo systemctl`); each word is one argument, never shell text.
pub fn argv(manager: &str, verb: &str, name: &str) -> Program {
    let mut argv: Vec<String> = manager.split_whitespace().map(str::to_string).collect();
    if manager == "service" {
        argv.extend([name.to_string(), verb.to_string()]);
    } else {
        argv.extend([verb.to_string(), name.to_string()]);
    }
    Program::Argv(argv)
}

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let ServiceArgs {
        name,
        state,
        manager,
    } = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let verb = match state.as_str() {
        "started" => "start",
        "stopped" => "stop",
        "restarted" => "restart",
        "reloaded" => "reload",
        other => return Outcome::failed(format!("unknown service state `{other}`")),
    };
    let manager = manager.unwrap_or_else(|| "systemctl".into());
    // Whether it runs now decides what rollback puts back: a service stopped before the run stays
    // stopped, one that ran is started again.
    let was_running = match verb {
        "start" | "stop" => match ctx
            .transport
            .exec(ctx.request(argv(&manager, "status", &name)))
            .await
        {
            Ok(out) => out.success(),
            Err(e) => return Outcome::from_transport(&e),
        },
        _ => false,
    };
    match (verb, was_running) {
        ("start", true) => return Outcome::ok(format!("{name} was already running")),
        ("stop", false) => return Outcome::ok(format!("{name} was already stopped")),
        _ => {}
    }
    match ctx
        .transport
        .exec(ctx.request(argv(&manager, verb, &name)))
        .await
    {
        Ok(out) => {
            let mut o = Outcome::from_exec(&out);
            if out.success() {
                o.message = format!("{name} {state}");
                let back = match verb {
                    "stop" => Some(("start", "started it again")),
                    "start" => Some(("stop", "stopped it again (it was not running before)")),
                    _ => None,
                };
                if let Some((verb, describe)) = back {
                    o = o.with_undo(crate::task::Undo {
                        program: argv(&manager, verb, &name),
                        describe: format!("{name}: {describe}"),
                        env: Vec::new(),
                    });
                }
            }
            o
        }
        Err(e) => Outcome::from_transport(&e),
    }
}
