//! `maintenance: { state: on|off, command, off }`: the site's own maintenance-mode commands (the
//! host variables `maintenance_on` and `maintenance_off`), run on the component's hosts. Turning it
//! on records `off` as the change's undo, so a rollback (after a failure, Ctrl-C, or the `--resume`
//! of a run killed while it rolled back) never leaves maintenance on. An empty command does nothing.

use crate::docs::actions::MaintenanceArgs;
use crate::task::{Outcome, TaskCtx, Undo};
use crate::transport::Program;

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let MaintenanceArgs {
        state,
        command,
        off,
    } = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    if command.trim().is_empty() {
        return Outcome::ok("no maintenance command for this host");
    }
    let out = match ctx
        .transport
        .exec(ctx.request(Program::Shell(command.clone())))
        .await
    {
        Ok(out) => out,
        Err(e) => return Outcome::from_transport(&e),
    };
    if !out.success() {
        return Outcome::from_exec(&out);
    }
    let mut o = Outcome::changed(format!("maintenance {state}"));
    if state == "on"
        && let Some(off) = off.filter(|c| !c.trim().is_empty())
    {
        o.undo = Some(Undo {
            program: Program::Shell(off),
            describe: "maintenance turned off again".into(),
            env: Vec::new(),
        });
    }
    o
}
