//! `service`: start, stop, restart or reload a service, by systemctl or a `manager` of the host's own.

use crate::task::{Outcome, TaskCtx};
use crate::transport::{Program, quote};

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let name = ctx.arg("name").unwrap_or_default();
    let state = ctx.arg("state").unwrap_or_default();
    let verb = match state.as_str() {
        "started" => "start",
        "stopped" => "stop",
        "restarted" => "restart",
        "reloaded" => "reload",
        other => return Outcome::failed(format!("unknown service state `{other}`")),
    };
    let manager = ctx.arg("manager").unwrap_or_else(|| "systemctl".into());
    let line = match manager.as_str() {
        "service" => format!("service {} {verb}", quote(&name)),
        m => format!("{m} {verb} {}", quote(&name)),
    };
    match ctx.transport.exec(ctx.request(Program::Shell(line))).await {
        Ok(out) => {
            let mut o = Outcome::from_exec(&out);
            if out.success() {
                o.message = format!("{name} {state}");
            }
            o
        }
        Err(e) => Outcome::from_transport(&e),
    }
}
