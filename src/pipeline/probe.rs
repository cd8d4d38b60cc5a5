//! `--check` probes, read-only: each host answers (through sudo where the host uses it), has the
//! tools its steps run, and has room for twice what will land on it; every object the plan fetches
//! is in storage with its checksum beside it; each storage target, on its own, can be listed and
//! read (and, for a backup, written: a small probe object, removed at once). Problems are
//! gathered, never stop the others.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Value as J, json};

use crate::plan::PlanStep;
use crate::task::RunShared;
use crate::transport::{ExecRequest, Program, quote};
use crate::world::World;

#[derive(Clone, Debug, Serialize)]
pub struct Probe {
    pub check: String,
    pub host: Option<String>,
    pub ok: bool,
    /// Passes, but something is worth a look (a target that lacks a copy another holds).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warning: bool,
    pub detail: String,
}

pub fn probe(check: &str, host: Option<&str>, ok: bool, detail: impl Into<String>) -> Probe {
    Probe {
        check: check.into(),
        host: host.map(str::to_string),
        ok,
        warning: false,
        detail: detail.into(),
    }
}

/// A probe that passes with a warning.
fn warn(check: &str, detail: impl Into<String>) -> Probe {
    Probe {
        warning: true,
        ..probe(check, None, true, detail)
    }
}

/// The tools each action runs on its host.
fn tools(ps: &PlanStep, args: &J) -> Vec<String> {
    let word = |k: &str| {
        args.get(k)
            .and_then(J::as_str)
            .and_then(|m| m.split_whitespace().next())
            .map(str::to_string)
    };
    match ps.step.action {
        "unpack" => vec!["tar".into(), "mkdir".into(), "rm".into(), "mv".into()],
        "install" => vec!["mv".into(), "cp".into(), "rm".into()],
        "postgres" => vec!["psql".into(), "pg_restore".into(), "pg_dump".into()],
        "service" => vec![word("manager").unwrap_or_else(|| "systemctl".into())],
        "wait_for" if args.get("service").is_some() => {
            vec![word("manager").unwrap_or_else(|| "systemctl".into())]
        }
        _ => Vec::new(),
    }
}

/// What one host needs: tools, and bytes landing under folders.
#[derive(Default)]
struct Needs {
    tools: BTreeSet<String>,
    land: BTreeMap<String, u64>,
}

/// The context a step's task on `host` renders in, when its `when` may hold. A `when` that cannot
/// be decided before the run (it reads a registered value) counts as true: the probes then ask for
/// more than may be needed, never less.
pub(super) fn planned(shared: &RunShared, ps: &PlanStep, host: &str) -> Option<minijinja::Value> {
    let ctx = shared.context(host, None).ok()?;
    (crate::exec::run_task::holds(shared, &ps.work.when, &ctx) != Ok(false)).then_some(ctx)
}

/// A step's arguments rendered in `ctx`.
pub(super) fn rendered(shared: &RunShared, ps: &PlanStep, ctx: &minijinja::Value) -> Option<J> {
    crate::actions::render_args(&shared.templates, ps.step.action, &ps.work.payload, ctx).ok()
}

/// Every probe of the plan; `gate` is the gate's decision, to know which snapshots are fetched.
pub async fn run(shared: &RunShared, w: &World, gate: Option<&J>) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut needs: BTreeMap<String, Needs> = BTreeMap::new();
    let storage = shared.storage.as_deref();
    let mut sizes: BTreeMap<String, Option<u64>> = BTreeMap::new();
    if let Some(s) = storage {
        target_probes(
            s,
            w.operation == crate::world::Operation::Backup,
            &shared.masker,
            &mut out,
        )
        .await;
    }
    let mut lacks_noted = BTreeSet::new();
    let selected: Vec<J> = gate
        .and_then(|g| g["selected"].as_array().cloned())
        .unwrap_or_default();
    for ps in &w.plan.main.steps {
        for host in &ps.hosts {
            let Some(ctx) = planned(shared, ps, host) else {
                continue;
            };
            let items = if ps.step.action == "unpack" && ps.work.loop_.is_some() {
                selected.clone()
            } else {
                vec![J::Null]
            };
            for item in items {
                let ctx = match &item {
                    J::Null => ctx.clone(),
                    v => match shared.context(host, Some(("item", v.clone()))) {
                        Ok(c) => c,
                        Err(_) => continue,
                    },
                };
                let Some(args) = rendered(shared, ps, &ctx) else {
                    continue;
                };
                let n = needs.entry(host.clone()).or_default();
                n.tools.extend(tools(ps, &args));
                if ps.step.action != "unpack" {
                    continue;
                }
                let (Some(object), Some(dest)) = (
                    args.get("object").and_then(J::as_str),
                    args.get("dest").and_then(J::as_str),
                ) else {
                    continue;
                };
                let resolved = match storage {
                    Some(s) => crate::authentic::resolve_config(s, object, &shared.trust)
                        .await
                        .unwrap_or_else(|_| object.to_string()),
                    None => object.to_string(),
                };
                let object = resolved.as_str();
                if object != args.get("object").and_then(J::as_str).unwrap_or_default()
                    && let Some(s) = storage
                    && lacks_noted.insert(object.to_string())
                {
                    for lack in crate::storage::lacking(s, object).await {
                        out.push(warn("copies", shared.masker.mask(&lack)));
                    }
                }
                if !sizes.contains_key(object) {
                    let size = match storage {
                        Some(s) => object_probe(s, object, &shared.trust, &mut out).await,
                        None => None,
                    };
                    sizes.insert(object.to_string(), size);
                }
                if let Some(Some(size)) = sizes.get(object) {
                    let parent = std::path::Path::new(dest)
                        .parent()
                        .map(|p| p.display().to_string())
                        .filter(|p| !p.is_empty())
                        .unwrap_or_else(|| ".".into());
                    *n.land.entry(parent).or_default() += size;
                }
            }
        }
    }
    for (host, n) in &needs {
        if host == crate::context::CONTROLLER {
            continue;
        }
        host_probes(shared, host, n, &mut out).await;
    }
    out
}

/// The name of the object a `--check` writes, reads back and removes on each target of a backup.
const WRITE_PROBE: &str = "setup-check-probe";

/// Each storage target on its own, even when another covers for it: it can be listed and an object
/// on it read; for a backup, an object can be written there (a small one, removed at once).
async fn target_probes(
    storage: &dyn crate::storage::Storage,
    writes: bool,
    masker: &crate::secret::Masker,
    out: &mut Vec<Probe>,
) {
    let parts = storage.parts();
    let each: Vec<(String, &dyn crate::storage::Storage)> = if parts.is_empty() {
        vec![(storage.describe(), storage)]
    } else {
        parts
            .into_iter()
            .map(|(n, s)| (format!("target {n} ({})", s.describe()), s))
            .collect()
    };
    for (name, s) in each {
        let (ok, detail) = match one_target(s, writes).await {
            Ok(done) => (true, format!("{name}: {done}")),
            Err(why) => (false, format!("{name}: {why}")),
        };
        out.push(probe("storage", None, ok, masker.mask(&detail)));
    }
}

/// What one target allows: listed, read, written (for a backup); the first thing it refuses.
async fn one_target(s: &dyn crate::storage::Storage, writes: bool) -> Result<String, String> {
    use tokio::io::AsyncReadExt;
    let listed = s
        .list("")
        .await
        .map_err(|e| format!("cannot be listed: {}", e.message))?;
    let mut done = vec![format!("listed ({} object(s))", listed.len())];
    // The smallest object there: reading it shows the credentials let reads through.
    if let Some(o) = listed
        .iter()
        .filter(|o| !o.name.is_empty() && !o.name.ends_with('/'))
        .min_by_key(|o| o.size)
    {
        let mut r = s
            .get(&o.name, None)
            .await
            .map_err(|e| format!("cannot be read: {}", e.message))?;
        let mut sink = Vec::new();
        (&mut r)
            .take(64 << 10)
            .read_to_end(&mut sink)
            .await
            .map_err(|e| format!("cannot be read: `{}`: {e}", crate::storage::shown(&o.name)))?;
        done.push("read".into());
    }
    if writes {
        let name = format!("{WRITE_PROBE}-{}", std::process::id());
        let data: crate::transport::Reader =
            Box::new(std::io::Cursor::new(b"setup --check\n".to_vec()));
        s.put(&name, data)
            .await
            .map_err(|e| format!("cannot be written: {}", e.message))?;
        s.delete(&name).await.map_err(|e| {
            format!(
                "written, but the probe object `{name}` cannot be removed: {}",
                e.message
            )
        })?;
        done.push("written (a probe object, removed)".into());
    }
    Ok(done.join(", "))
}

/// The object and its sidecar in storage; its size when it is there.
async fn object_probe(
    storage: &dyn crate::storage::Storage,
    object: &str,
    trust: &crate::authentic::Trust,
    out: &mut Vec<Probe>,
) -> Option<u64> {
    let meta = match storage.stat(object).await {
        Ok(m) => m,
        Err(e) if e.not_found => {
            out.push(probe(
                "object",
                None,
                false,
                format!("`{object}` is not in {}", storage.describe()),
            ));
            return None;
        }
        Err(e) => {
            out.push(probe("object", None, false, e.to_string()));
            return None;
        }
    };
    let (ok, detail) = super::digests::judge(storage, object, meta.size, trust).await;
    out.push(probe("object", None, ok, detail));
    Some(meta.size)
}

async fn host_probes(shared: &RunShared, name: &str, n: &Needs, out: &mut Vec<Probe>) {
    let Some(host) = shared.hosts.get(name) else {
        return;
    };
    let transport = shared.transport(name);
    let mut req = ExecRequest::new(Program::Shell("id -un".into()));
    if host.become_ {
        req.become_ = Some(shared.become_password.clone());
    }
    match transport.exec(req).await {
        Ok(o) if o.success() => out.push(probe(
            "reach",
            Some(name),
            true,
            format!(
                "answers{}",
                if host.become_ {
                    format!(" and sudo works (as {})", o.stdout.trim())
                } else {
                    String::new()
                }
            ),
        )),
        Ok(o) => {
            let why = crate::task::cause_line(&o.stderr)
                .unwrap_or("no output")
                .to_string();
            out.push(probe(
                "reach",
                Some(name),
                false,
                format!("sudo does not work: {}", shared.masker.mask(&why)),
            ));
            return;
        }
        Err(e) => {
            let text = e.to_string();
            let text = text
                .strip_prefix(&format!("host `{name}`: "))
                .unwrap_or(&text);
            out.push(probe("reach", Some(name), false, shared.masker.mask(text)));
            return;
        }
    }
    let list: Vec<String> = n.tools.iter().map(|t| quote(t)).collect();
    let script = format!(
        "for t in {}; do command -v \"$t\" >/dev/null 2>&1 || [ -x \"$t\" ] || echo \"$t\"; done",
        list.join(" ")
    );
    if !n.tools.is_empty() {
        match transport.exec(ExecRequest::shell(script)).await {
            Ok(o) => {
                let missing: Vec<&str> = o.stdout.split_whitespace().collect();
                let detail = if missing.is_empty() {
                    format!(
                        "has {}",
                        n.tools.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                } else {
                    format!("missing {}", missing.join(", "))
                };
                out.push(probe("tools", Some(name), missing.is_empty(), detail));
            }
            Err(e) => out.push(probe("tools", Some(name), false, e.to_string())),
        }
    }
    for (dir, bytes) in &n.land {
        out.push(disk_probe(transport.as_ref(), name, dir, *bytes).await);
    }
}

/// Free space where `bytes` will land (the nearest folder that exists): at least twice as much.
async fn disk_probe(
    transport: &dyn crate::transport::Transport,
    host: &str,
    dir: &str,
    bytes: u64,
) -> Probe {
    let script = format!(
        "d={}; while [ ! -d \"$d\" ]; do d=$(dirname \"$d\"); done; df -Pk \"$d\" | tail -n 1",
        quote(dir)
    );
    let free = match transport.exec(ExecRequest::shell(script)).await {
        Ok(o) if o.success() => o
            .stdout
            .split_whitespace()
            .nth(3)
            .and_then(|k| k.parse::<u64>().ok())
            .map(|k| k * 1024),
        _ => None,
    };
    let need = bytes * 2;
    match free {
        Some(f) if f >= need => probe(
            "disk",
            Some(host),
            true,
            format!(
                "room under {dir} for twice the {} that lands there",
                human(bytes)
            ),
        ),
        Some(f) => probe(
            "disk",
            Some(host),
            false,
            format!(
                "{} free under {dir}, {} needed (twice the {} that lands there)",
                human(f),
                human(need),
                human(bytes)
            ),
        ),
        None => probe(
            "disk",
            Some(host),
            false,
            format!("cannot read the free space under {dir}"),
        ),
    }
}

fn human(b: u64) -> String {
    match b {
        b if b >= 1 << 30 => format!("{:.1} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} bytes"),
    }
}

/// The probes as text: each one, then the problems together.
pub fn text(probes: &[Probe]) -> String {
    let mut s = String::from("Probes (read-only):\n");
    for p in probes {
        s += &format!(
            "  {} {:<6} {}{}\n",
            match (p.ok, p.warning) {
                (true, false) => "ok  ",
                (true, true) => "warn",
                (false, _) => "FAIL",
            },
            p.check,
            p.host
                .as_deref()
                .map(|h| format!("{h}: "))
                .unwrap_or_default(),
            p.detail
        );
    }
    let bad: Vec<&Probe> = probes.iter().filter(|p| !p.ok).collect();
    if bad.is_empty() {
        s += "All probes pass.\n";
    } else {
        s += &format!(
            "{} problem(s) to fix before this run can go ahead.\n",
            bad.len()
        );
    }
    s
}

pub fn json(probes: &[Probe]) -> J {
    json!(probes)
}
