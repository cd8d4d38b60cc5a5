//! `--check`'s read-only probes of what the restore will talk to on its hosts: the database server
//! (with the run's credentials), the service manager (`MANAGER status NAME`) and the director's
//! health URL. None changes anything; each is asked once per host.

use std::collections::BTreeSet;

use serde_json::Value as J;

use super::probe::{Probe, probe};
use crate::task::{RunShared, TaskCtx};
use crate::transport::{ExecRequest, Program};
use crate::world::World;

/// `earlier`: the probes so far; a host that did not answer them is not asked again.
pub async fn run(shared: &RunShared, w: &World, earlier: &[Probe]) -> Vec<Probe> {
    let unreachable: BTreeSet<&str> = earlier
        .iter()
        .filter(|p| p.check == "reach" && !p.ok)
        .filter_map(|p| p.host.as_deref())
        .collect();
    let mut out = Vec::new();
    let mut asked: BTreeSet<(String, String)> = BTreeSet::new();
    for ps in &w.plan.main.steps {
        for host in &ps.hosts {
            if unreachable.contains(host.as_str()) {
                continue;
            }
            let Some(ctx) = super::probe::planned(shared, ps, host) else {
                continue;
            };
            let Some(args) = super::probe::rendered(shared, ps, &ctx) else {
                continue;
            };
            let arg = |k: &str| args.get(k).and_then(J::as_str).map(str::to_string);
            let key = match ps.step.action {
                "postgres" => "database".to_string(),
                "service" => format!("service {}", arg("name").unwrap_or_default()),
                "wait_for" if arg("service").is_some() => {
                    format!("service {}", arg("service").unwrap_or_default())
                }
                "wait_for" if arg("http").is_some() => {
                    format!("http {}", arg("http").unwrap_or_default())
                }
                _ => continue,
            };
            if !asked.insert((host.clone(), key.clone())) {
                continue;
            }
            let Some(h) = shared.hosts.get(host) else {
                continue;
            };
            let transport = shared.transport(host);
            if ps.step.action == "postgres" {
                let mut args = args.clone();
                args["op"] = J::String("probe".into());
                let tctx = TaskCtx {
                    task: 0,
                    host: h,
                    step: &ps.step,
                    args,
                    env: Vec::new(),
                    transport: transport.as_ref(),
                    shared,
                    vars: &ctx,
                };
                let o = crate::actions::run(&tctx).await;
                let ok = o.status.succeeded();
                out.push(probe(
                    "database",
                    Some(host),
                    ok,
                    shared.masker.mask(&o.message),
                ));
            } else if let Some(url) = key.strip_prefix("http ") {
                // Before a restore on a cold site the director is down: said, never a problem.
                let detail = match crate::actions::checks::http_status(url).await {
                    Ok(code) => format!("{url} answers {code} now"),
                    Err(e) => {
                        format!("{e} (it is checked again once the restore starts the director)")
                    }
                };
                out.push(probe("health", Some(host), true, detail));
            } else {
                let name = key.trim_start_matches("service ");
                let manager = arg("manager").unwrap_or_else(|| "systemctl".into());
                let mut argv: Vec<String> =
                    manager.split_whitespace().map(str::to_string).collect();
                argv.extend(["status".into(), name.to_string()]);
                let mut req = ExecRequest::new(Program::Argv(argv));
                if h.become_ {
                    req.become_ = Some(shared.become_password.clone());
                }
                let (ok, detail) = match transport.exec(req).await {
                    Ok(o) if o.success() => (true, format!("`{manager} status {name}`: running")),
                    Ok(o) if matches!(o.code, Some(126 | 127)) => (
                        false,
                        format!(
                            "`{manager}` cannot be run on this host: {}",
                            o.stderr.trim()
                        ),
                    ),
                    Ok(o) if manager == "systemctl" && o.code == Some(4) => {
                        (false, format!("systemd has no unit `{name}` on this host"))
                    }
                    Ok(o) => (
                        true,
                        format!(
                            "`{manager} status {name}`: not running now (exit {})",
                            o.code.unwrap_or(-1)
                        ),
                    ),
                    Err(e) => (false, e.to_string()),
                };
                out.push(probe(
                    "service",
                    Some(host),
                    ok,
                    shared.masker.mask(&detail),
                ));
            }
        }
    }
    out
}
