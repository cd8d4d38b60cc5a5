//! One task: `when`, `loop`, rendering, resume, retries, timeout and `register`, with its events.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::Utc;
use serde_json::{Value as J, json};
use sha2::{Digest, Sha256};

use crate::actions;
use crate::plan::{Dag, Loop, PlanStep, When};
use crate::report::events::{Event, Status};
use crate::secret::{Masker, Secret};
use crate::task::{Outcome, RunShared, TaskCtx};
use crate::template::error_text;
use crate::transport::EnvValue;

fn task_hash(
    step: &str,
    host: &str,
    args: &J,
    env: &[(String, EnvValue)],
    masker: &Masker,
) -> String {
    let mut h = Sha256::new();
    h.update(step.as_bytes());
    h.update([0]);
    h.update(host.as_bytes());
    h.update([0]);
    h.update(masker.mask(&args.to_string()).as_bytes());
    for (k, v) in env {
        h.update(k.as_bytes());
        h.update(masker.mask(v.expose()).as_bytes());
    }
    hex::encode(&h.finalize()[..8])
}

fn excerpt(text: &str, masker: &Masker) -> String {
    let masked = masker.mask(text);
    const MAX: usize = 4000;
    if masked.len() <= MAX {
        return masked;
    }
    let mut cut = masked.len() - MAX;
    while !masked.is_char_boundary(cut) {
        cut += 1;
    }
    format!("…{}", &masked[cut..])
}

/// One loop item's arguments, environment and template context.
type Rendered = (J, Vec<(String, EnvValue)>, minijinja::Value);

/// Whether the step's `when` holds on this host.
pub(crate) fn holds(
    shared: &RunShared,
    when: &Option<When>,
    ctx: &minijinja::Value,
) -> Result<bool, String> {
    match when {
        None => Ok(true),
        Some(When::Fixed(b)) => Ok(*b),
        Some(When::Expr(e)) => shared
            .templates
            .eval(e, ctx)
            .map(|v| v.is_true())
            .map_err(|e| format!("`when`: {}", error_text(&e))),
    }
}

/// The items of the step's `loop`, or `None` for a step without one.
fn items(
    shared: &RunShared,
    loop_: &Option<Loop>,
    ctx: &minijinja::Value,
) -> Result<Option<Vec<J>>, String> {
    let v = match loop_ {
        None => return Ok(None),
        Some(Loop::Expr(e)) => shared
            .templates
            .eval(e, ctx)
            .map(|v| crate::template::to_json(&v)),
        Some(Loop::Items(list)) => shared.templates.render_json(list, ctx),
    };
    match v {
        Ok(J::Array(a)) => Ok(Some(a)),
        Ok(J::Null) => Ok(Some(Vec::new())),
        Ok(other) => Err(format!("`loop` must give a list, got {other}")),
        Err(e) => Err(format!("`loop`: {}", error_text(&e))),
    }
}

/// Every item's arguments and environment, rendered before anything runs.
fn render_all(
    shared: &RunShared,
    ps: &PlanStep,
    host: &str,
    ctx: &minijinja::Value,
    items: &Option<Vec<J>>,
) -> Result<Vec<Rendered>, String> {
    let mut rendered = Vec::new();
    for item in items.clone().unwrap_or_else(|| vec![J::Null]) {
        let ictx = match items {
            Some(_) => shared.context(host, Some(("item", item)))?,
            None => ctx.clone(),
        };
        let args =
            crate::actions::render_args(&shared.templates, ps.step.action, &ps.work.payload, &ictx)
                .map_err(|e| format!("rendering `{}`: {}", ps.step.action, error_text(&e)))?;
        let ectx = shared.env_context(&ictx);
        let mut env = Vec::new();
        for (k, raw) in &ps.work.env {
            let v = shared
                .templates
                .render(raw, &ectx)
                .map_err(|e| format!("rendering env {k}: {}", error_text(&e)))?;
            let secret = raw.contains("secret.") || shared.masker.mask(&v) != v;
            env.push((
                k.clone(),
                if secret {
                    EnvValue::Secret(Secret::new(v))
                } else {
                    EnvValue::Plain(v)
                },
            ));
        }
        rendered.push((args, env, ictx));
    }
    Ok(rendered)
}

/// Runs one item's action, retried as the step says, within its timeout.
async fn attempt(ctx: &TaskCtx<'_>) -> Outcome {
    let step = ctx.step;
    let mut attempt = 0;
    loop {
        let fut = actions::run(ctx);
        let o = match step.timeout {
            Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), fut).await {
                Ok(o) => o,
                Err(_) => Outcome::failed(format!("timed out after {secs}s")),
            },
            None => fut.await,
        };
        if o.status != Status::Failed || attempt >= step.retries {
            return o;
        }
        attempt += 1;
        ctx.shared.events.emit(Event::Note {
            at: Utc::now(),
            text: format!(
                "retry {attempt}/{} of {} on {}: {}",
                step.retries,
                step.id,
                ctx.host.name,
                ctx.shared.masker.mask(&o.message)
            ),
        });
        tokio::time::sleep(Duration::from_secs(step.delay)).await;
    }
}

/// Runs one task: `when`, `loop`, rendering, resume, retries, timeout, register.
pub(super) async fn run_task(
    shared: Arc<RunShared>,
    dag: Arc<Dag>,
    t: usize,
    rollback: bool,
) -> Status {
    let task = &dag.tasks[t];
    let ps = &dag.steps[task.step];
    let step = &ps.step;
    let started_at = Utc::now();
    let host = match shared.hosts.get(&task.host) {
        Some(h) => h.clone(),
        None => crate::context::controller_host(),
    };
    // Every task's start is recorded once, whichever way it then ends.
    let started = |input_hash: &str| {
        shared.events.emit(Event::TaskStarted {
            task: t,
            step: step.id.clone(),
            host: task.host.clone(),
            rollback,
            at: started_at,
            input_hash: input_hash.to_string(),
        })
    };
    let finish =
        |outcome: Outcome, hash: String, started: chrono::DateTime<Utc>, undo_programs: Vec<J>| {
            let undo = undo_programs
                .iter()
                .filter_map(|u| u["describe"].as_str().map(str::to_string))
                .collect();
            let registered = step
                .register
                .as_ref()
                .map(|_| shared.masker.mask_json(&outcome.registered()));
            shared.events.emit(Event::TaskFinished {
                task: t,
                step: step.id.clone(),
                host: task.host.clone(),
                rollback,
                at: Utc::now(),
                started_at: started,
                status: outcome.status,
                exit_code: outcome.code,
                input_hash: hash,
                output: excerpt(&outcome.output, &shared.masker),
                message: shared.masker.mask(&outcome.message),
                registered,
                destructive: step.destructive,
                ignored: outcome.ignored,
                undo,
                undo_programs,
            });
            if let Some(name) = &step.register {
                let key = if ps.hosts.len() == 1 {
                    "*".to_string()
                } else {
                    task.host.clone()
                };
                shared
                    .registered
                    .lock()
                    .expect("registered")
                    .entry(key)
                    .or_default()
                    .insert(name.clone(), outcome.registered());
            }
            outcome.status
        };
    let fail = |msg: String| {
        let msg = shared.masker.mask(&msg);
        started("");
        finish(Outcome::failed(msg), String::new(), started_at, Vec::new())
    };
    let ctx = match shared.context(&task.host, None) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match holds(&shared, &ps.work.when, &ctx) {
        Ok(true) => {}
        Ok(false) => {
            let mut o = Outcome::ok("skipped: `when` is false");
            o.status = Status::Skipped;
            started("");
            return finish(o, String::new(), started_at, Vec::new());
        }
        Err(e) => return fail(e),
    }
    let items = match items(&shared, &ps.work.loop_, &ctx) {
        Ok(i) => i,
        Err(e) => return fail(e),
    };
    let rendered = match render_all(&shared, ps, &task.host, &ctx, &items) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let all_args = J::Array(rendered.iter().map(|r| r.0.clone()).collect());
    let hash = task_hash(
        &step.id,
        &task.host,
        &all_args,
        &rendered.first().map(|r| r.1.clone()).unwrap_or_default(),
        &shared.masker,
    );
    if !rollback
        && let Some((prev, reg)) = shared.resume.get(&(step.id.clone(), task.host.clone()))
        && *prev == hash
    {
        started(&hash);
        let mut o = Outcome::ok(crate::report::journal::RESUMED_SKIP);
        o.status = Status::Skipped;
        o.data = reg.clone().unwrap_or(J::Null);
        return finish(o, hash, started_at, Vec::new());
    }
    if step.destructive {
        // The undo of every change so far is on disk before anything else is changed: a journal
        // that cannot be written stops the run here, before this step touches anything.
        if !rollback && let Err(e) = shared.events.sync() {
            return fail(format!("{e}; nothing of this step was started"));
        }
        shared.destructive_started.store(true, Ordering::SeqCst);
    }
    started(&hash);
    let transport = shared.transport(&task.host);
    let mut results = Vec::new();
    let mut overall = Outcome::ok("");
    let mut undone_by = Vec::new();
    for (args, env, ictx) in &rendered {
        let ctx = TaskCtx {
            task: t,
            host: &host,
            step,
            args: args.clone(),
            env: env.clone(),
            transport: transport.as_ref(),
            shared: &shared,
            vars: ictx,
        };
        let mut outcome = attempt(&ctx).await;
        if let Some(undo) = outcome.undo.take() {
            undone_by.push(undo.journal(step.become_.unwrap_or(host.become_)));
            shared
                .undo
                .lock()
                .expect("undo")
                .push(crate::task::UndoEntry {
                    task: t,
                    step: step.id.clone(),
                    host: task.host.clone(),
                    become_: step.become_.unwrap_or(host.become_),
                    undo,
                });
        }
        if items.is_none() {
            overall = outcome;
            break;
        }
        let failed = outcome.status == Status::Failed;
        if outcome.status == Status::Changed {
            overall.status = Status::Changed;
        }
        overall.output.push_str(&outcome.output);
        overall.message = outcome.message.clone();
        results.push(outcome.registered());
        if failed {
            overall.status = Status::Failed;
            break;
        }
    }
    if let Some(items) = &items {
        if items.is_empty() {
            overall.message = "loop over no items".into();
        } else if overall.status != Status::Failed {
            overall.message = format!("{} item(s)", items.len());
        }
        overall.data = json!({ "results": results });
    }
    if overall.status == Status::Failed && step.ignore_errors {
        overall.message = format!("{} (ignored)", overall.message);
        overall.status = Status::Ok;
        overall.ignored = true;
    }
    finish(overall, hash, started_at, undone_by)
}
