//! `--check`: the plan as text, DOT or JSON, with each task's rendered command, the gate's decision
//! and the read-only probes (exit 1 when one fails).

use serde_json::{Value as J, json};

use crate::cli::PlanFormat;
use crate::failure::Failure;
use crate::options::Options;
use crate::plan::render;
use crate::report::events::Events;
use crate::task::{RunShared, TaskCtx};
use crate::world::World;

/// The gate's decision before anything runs, for `--check`.
async fn gate_preview(shared: &RunShared, w: &World) -> Option<J> {
    let ps = w
        .plan
        .main
        .steps
        .iter()
        .find(|s| s.step.action == "analytics_gate")?;
    let host_name = ps.hosts.first()?;
    let host = shared.hosts.get(host_name)?.clone();
    let vars = shared.base.get(host_name).cloned().unwrap_or_default();
    let ctxv = crate::template::Templates::context(&J::Object(vars));
    let args =
        crate::actions::render_args(&shared.templates, ps.step.action, &ps.work.payload, &ctxv)
            .unwrap_or(J::Null);
    let transport = shared.transport(host_name);
    let ctx = TaskCtx {
        task: 0,
        host: &host,
        step: &ps.step,
        args,
        env: Vec::new(),
        transport: transport.as_ref(),
        shared,
        vars: &ctxv,
    };
    Some(match crate::actions::gate_decision(&ctx).await {
        Ok(v) => v,
        Err(e) => json!({ "error": e }),
    })
}

/// Prints the plan in the chosen format, with the gate's decision; changes nothing.
pub fn print(o: &Options, w: &World) -> Result<i32, Failure> {
    let shared = super::prepare::shared(o, w, Events::default(), Default::default())?;
    let (gate, probes) = super::runtime().block_on(async {
        let gate = gate_preview(&shared, w).await;
        let mut probes = super::probe::run(&shared, w, gate.as_ref()).await;
        let live = super::live::run(&shared, w, &probes).await;
        probes.extend(live);
        probes.extend(super::fresh::probes(&shared, w).await);
        (gate, probes)
    });
    let preview = |rollback: bool, step: usize, host: &str| -> String {
        let dag = if rollback {
            &w.plan.rollback
        } else {
            &w.plan.main
        };
        let ps = &dag.steps[step];
        let s = &ps.step;
        let vars = shared.base.get(host).cloned().unwrap_or_default();
        let ctx = crate::template::Templates::context(&J::Object(vars));
        let raw = &ps.work.payload;
        match crate::actions::render_args(&shared.templates, s.action, raw, &ctx) {
            Ok(args) => shared
                .masker
                .mask(&crate::actions::preview(s.action, &args)),
            Err(_) => shared.masker.mask(&format!(
                "(rendered at run time) {}",
                crate::actions::preview(s.action, raw)
            )),
        }
    };
    let out = match o.plan_format {
        PlanFormat::Text => {
            render::text(&w.plan, &preview, gate.as_ref()) + &super::probe::text(&probes)
        }
        PlanFormat::Dot => render::dot(&w.plan),
        PlanFormat::Json => {
            let mut v = render::json(&w.plan, &preview, gate.as_ref());
            v["probes"] = super::probe::json(&probes);
            serde_json::to_string_pretty(&v).expect("json") + "\n"
        }
    };
    super::emit(&out);
    Ok(if probes.iter().all(|p| p.ok) { 0 } else { 1 })
}
