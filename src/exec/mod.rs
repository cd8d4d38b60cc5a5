//! The executor: runs a DAG on tokio. A task starts as soon as everything it needs is done, bounded by
//! `--forks` and each host's limit; fail-fast or keep-going; rollback after a destructive step; Ctrl-C.

pub mod events;
pub mod journal;
pub mod progress;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use petgraph::Direction;
use serde_json::{Map, Value as J, json};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::actions::{self, Outcome, TaskCtx};
use crate::answers::Answers;
use crate::context::RunInfo;
use crate::docs::inventory::{Connection, Host};
use crate::plan::{Dag, Node};
use crate::secret::{Masker, Secret};
use crate::storage::Storage;
use crate::template::Templates;
use crate::transport::{EnvValue, Transport};
use events::{Event, Events, Status};

/// Where relative paths in playbooks point.
#[derive(Clone, Debug)]
pub struct Dirs {
    pub base: PathBuf,
    pub playbook_dir: Option<PathBuf>,
    pub templates: Option<PathBuf>,
}

impl Dirs {
    pub fn resolve(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            return path.to_path_buf();
        }
        self.playbook_dir
            .iter()
            .map(|d| d.join(path))
            .find(|c| c.exists())
            .unwrap_or_else(|| self.base.join(path))
    }

    /// A template's text: from the templates folder, else the built-in ones.
    pub fn template(&self, name: &str) -> Result<String, String> {
        if let Some(dir) = &self.templates
            && let Ok(t) = std::fs::read_to_string(dir.join(name))
        {
            return Ok(t);
        }
        crate::embedded::template(name)
            .map(str::to_string)
            .ok_or_else(|| format!("no template `{name}` in templates/"))
    }
}

/// Everything tasks share during one run.
pub struct RunShared {
    pub hosts: HashMap<String, Host>,
    /// Template variables per host before anything runs.
    pub base: HashMap<String, Map<String, J>>,
    pub hostvars: minijinja::Value,
    pub groups: minijinja::Value,
    pub secrets: J,
    pub templates: Templates,
    pub masker: Masker,
    pub events: Events,
    pub storage: Option<Arc<dyn Storage>>,
    pub transports: HashMap<String, Arc<dyn Transport>>,
    pub run: RunInfo,
    pub dirs: Dirs,
    pub answers: Answers,
    pub become_password: Option<Secret>,
    /// Registered values: per host, and `*` for steps with one task (seen by every host).
    pub registered: Mutex<HashMap<String, Map<String, J>>>,
    pub resume: journal::Done,
    pub destructive_started: AtomicBool,
}

pub struct Options {
    pub forks: usize,
    pub keep_going: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Done,
    Failed,
    Interrupted,
}

/// The interrupt state a run shares with the Ctrl-C handler.
#[derive(Default)]
pub struct Interrupt {
    pub count: std::sync::atomic::AtomicUsize,
    pub notify: tokio::sync::Notify,
}

impl RunShared {
    fn context(&self, host: &str, extra: Option<(&str, J)>) -> Result<minijinja::Value, String> {
        let mut m = self
            .base
            .get(host)
            .cloned()
            .ok_or_else(|| format!("no variables for host {host}"))?;
        {
            let reg = self.registered.lock().expect("registered");
            for key in ["*", host] {
                if let Some(r) = reg.get(key) {
                    m.extend(r.clone());
                }
            }
        }
        if let Some((k, v)) = extra {
            m.insert(k.into(), v);
        }
        let mut map: std::collections::BTreeMap<String, minijinja::Value> = m
            .iter()
            .map(|(k, v)| (k.clone(), Templates::context(v)))
            .collect();
        map.insert("hostvars".into(), self.hostvars.clone());
        map.insert("groups".into(), self.groups.clone());
        Ok(minijinja::Value::from(map))
    }

    fn env_context(&self, ctx: &minijinja::Value) -> minijinja::Value {
        let mut map: std::collections::BTreeMap<String, minijinja::Value> =
            std::collections::BTreeMap::new();
        if let Ok(iter) = ctx.try_iter() {
            for k in iter {
                if let Some(key) = k.as_str()
                    && let Ok(v) = ctx.get_attr(key)
                {
                    map.insert(key.to_string(), v);
                }
            }
        }
        map.insert("secret".into(), Templates::context(&self.secrets));
        minijinja::Value::from(map)
    }

    pub fn transport(&self, host: &str) -> Arc<dyn Transport> {
        self.transports
            .get(host)
            .cloned()
            .unwrap_or_else(|| Arc::new(crate::transport::local::Local::new(host, &self.dirs.base)))
    }
}

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

/// Runs one task: `when`, `loop`, rendering, resume, retries, timeout, register.
async fn run_task(shared: Arc<RunShared>, dag: Arc<Dag>, t: usize, rollback: bool) -> Status {
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
    let finish = |outcome: Outcome, hash: String, started: chrono::DateTime<Utc>| {
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
        finish(Outcome::failed(msg), String::new(), started_at)
    };
    let ctx = match shared.context(&task.host, None) {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    if let Some(w) = &step.when {
        let truth = match &w.kind {
            crate::yaml::Kind::Bool(b) => Ok(*b),
            _ => shared
                .templates
                .eval(w.as_str().unwrap_or("false"), &ctx)
                .map(|v| v.is_true())
                .map_err(|e| crate::template::error_text(&e)),
        };
        match truth {
            Ok(true) => {}
            Ok(false) => {
                let mut o = Outcome::ok("skipped: `when` is false");
                o.status = Status::Skipped;
                started("");
                return finish(o, String::new(), started_at);
            }
            Err(e) => return fail(format!("`when`: {e}")),
        }
    }
    let items: Option<Vec<J>> = match &step.loop_ {
        None => None,
        Some(l) => {
            let v = match &l.kind {
                crate::yaml::Kind::Str(s) => shared
                    .templates
                    .eval(s, &ctx)
                    .map(|v| crate::template::to_json(&v)),
                _ => shared.templates.render_json(&l.to_json(), &ctx),
            };
            match v {
                Ok(J::Array(a)) => Some(a),
                Ok(J::Null) => Some(Vec::new()),
                Ok(other) => return fail(format!("`loop` must give a list, got {other}")),
                Err(e) => return fail(format!("`loop`: {}", crate::template::error_text(&e))),
            }
        }
    };
    // Render every item's arguments before anything runs.
    let mut rendered: Vec<Rendered> = Vec::new();
    for item in items.clone().unwrap_or_else(|| vec![J::Null]) {
        let ictx = if items.is_some() {
            match shared.context(&task.host, Some(("item", item))) {
                Ok(c) => c,
                Err(e) => return fail(e),
            }
        } else {
            ctx.clone()
        };
        let args = match shared.templates.render_json(&step.payload.to_json(), &ictx) {
            Ok(a) => a,
            Err(e) => {
                return fail(format!(
                    "rendering `{}`: {}",
                    step.action,
                    crate::template::error_text(&e)
                ));
            }
        };
        let ectx = shared.env_context(&ictx);
        let mut env = Vec::new();
        for (k, node) in &step.env {
            let raw = node
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| node.to_json().to_string());
            match shared.templates.render(&raw, &ectx) {
                Ok(v) => {
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
                Err(e) => {
                    return fail(format!(
                        "rendering env {k}: {}",
                        crate::template::error_text(&e)
                    ));
                }
            }
        }
        rendered.push((args, env, ictx));
    }
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
        let mut o = Outcome::ok("done in the resumed run; skipped");
        o.status = Status::Skipped;
        o.data = reg.clone().unwrap_or(J::Null);
        return finish(o, hash, started_at);
    }
    if step.destructive {
        shared.destructive_started.store(true, Ordering::SeqCst);
    }
    started(&hash);
    let transport = shared.transport(&task.host);
    let mut results = Vec::new();
    let mut overall = Outcome::ok("");
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
        let mut attempt = 0;
        let outcome = loop {
            let fut = actions::run(&ctx);
            let o = match step.timeout {
                Some(secs) => match tokio::time::timeout(Duration::from_secs(secs), fut).await {
                    Ok(o) => o,
                    Err(_) => Outcome::failed(format!("timed out after {secs}s")),
                },
                None => fut.await,
            };
            if o.status != Status::Failed || attempt >= step.retries {
                break o;
            }
            attempt += 1;
            shared.events.emit(Event::Note {
                at: Utc::now(),
                text: format!(
                    "retry {attempt}/{} of {} on {}: {}",
                    step.retries,
                    step.id,
                    task.host,
                    shared.masker.mask(&o.message)
                ),
            });
            tokio::time::sleep(Duration::from_secs(step.delay)).await;
        };
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
    }
    finish(overall, hash, started_at)
}

/// Runs a DAG to its end, or until failure or interrupt stops it.
pub async fn run_dag(
    shared: Arc<RunShared>,
    dag: Arc<Dag>,
    opts: &Options,
    rollback: bool,
    interrupt: Arc<Interrupt>,
) -> Ending {
    let graph = &dag.graph;
    let mut indeg: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: VecDeque<usize> = VecDeque::new();
    let global = Arc::new(Semaphore::new(opts.forks.max(1)));
    let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
    for t in &dag.tasks {
        let limit = shared.hosts.get(&t.host).map_or(8, |h| h.max_parallel);
        per_host
            .entry(t.host.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(limit)));
    }
    // Completing a node releases its successors; joins complete as soon as they are released.
    fn complete(
        n: petgraph::graph::NodeIndex,
        dag: &Dag,
        indeg: &mut [usize],
        ready: &mut VecDeque<usize>,
    ) {
        let mut stack = vec![n];
        while let Some(n) = stack.pop() {
            for s in dag.graph.neighbors_directed(n, Direction::Outgoing) {
                indeg[s.index()] -= 1;
                if indeg[s.index()] == 0 {
                    match dag.graph[s] {
                        Node::Task(t) => ready.push_back(t),
                        Node::Join(_) => stack.push(s),
                    }
                }
            }
        }
    }
    for n in graph.node_indices() {
        if indeg[n.index()] == 0 {
            match graph[n] {
                Node::Task(t) => ready.push_back(t),
                Node::Join(_) => complete(n, &dag, &mut indeg, &mut ready),
            }
        }
    }
    let mut running: JoinSet<(usize, Status)> = JoinSet::new();
    let mut in_flight: std::collections::BTreeSet<usize> = Default::default();
    let mut failed = false;
    let mut stopping = false;
    let mut seen_interrupts = interrupt.count.load(Ordering::SeqCst);
    loop {
        while !stopping && let Some(t) = ready.pop_front() {
            in_flight.insert(t);
            let (shared, dag, global, host) = (
                shared.clone(),
                dag.clone(),
                global.clone(),
                per_host[&dag.tasks[t].host].clone(),
            );
            running.spawn(async move {
                let _h = host.acquire_owned().await.expect("semaphore open");
                let _g = global.acquire_owned().await.expect("semaphore open");
                (t, run_task(shared, dag, t, rollback).await)
            });
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            done = running.join_next() => {
                let Some(res) = done else { break };
                let Ok((t, status)) = res else { continue };
                in_flight.remove(&t);
                if status.succeeded() {
                    complete(dag.task_nodes[t], &dag, &mut indeg, &mut ready);
                } else {
                    failed = true;
                    if !opts.keep_going {
                        stopping = true;
                    }
                }
            }
            _ = interrupt.notify.notified() => {
                let count = interrupt.count.load(Ordering::SeqCst);
                if count > seen_interrupts {
                    seen_interrupts = count;
                    stopping = true;
                    if count >= 2 {
                        running.abort_all();
                        while running.join_next().await.is_some() {}
                        let now = Utc::now();
                        for t in std::mem::take(&mut in_flight) {
                            let task = &dag.tasks[t];
                            shared.events.emit(Event::TaskFinished {
                                task: t,
                                step: dag.steps[task.step].step.id.clone(),
                                host: task.host.clone(),
                                rollback,
                                at: now,
                                started_at: now,
                                status: Status::Aborted,
                                exit_code: None,
                                input_hash: String::new(),
                                output: String::new(),
                                message: "aborted by a second interrupt".into(),
                                registered: None,
                                destructive: dag.steps[task.step].step.destructive,
                            });
                        }
                        break;
                    }
                }
            }
        }
    }
    let interrupted = interrupt.count.load(Ordering::SeqCst) > 0;
    if interrupted {
        Ending::Interrupted
    } else if failed {
        Ending::Failed
    } else {
        Ending::Done
    }
}

/// The transport for a host's connection type.
pub fn transport_for(
    host: &Host,
    base: &Path,
    ssh: &crate::transport::ssh::SshOptions,
) -> Arc<dyn Transport> {
    match host.connection {
        Connection::Local => Arc::new(crate::transport::local::Local::new(&host.name, base)),
        Connection::Ssh => {
            let mut opts = ssh.clone();
            if let Some(k) = &host.known_hosts {
                opts.known_hosts = Some(base.join(k));
            }
            Arc::new(crate::transport::ssh::Ssh::new(host, opts))
        }
    }
}
