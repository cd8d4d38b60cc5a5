//! Running a loaded world: `--check` prints the plan; otherwise execute with journal, progress and report.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::{Value as J, json};

use crate::actions::TaskCtx;
use crate::app::{Failure, World};
use crate::cli::{Common, PlanFormat};
use crate::context::{CONTROLLER, Vars, controller_host};
use crate::diag::{Diag, Invalid};
use crate::exec::events::{Event, Events};
use crate::exec::{self, Dirs, Ending, Interrupt, Options, RunShared, journal};
use crate::report::Collector;
use crate::secret::Masker;

/// Builds what tasks share; touches no host.
fn shared(
    c: &Common,
    w: &World,
    events: Events,
    resume: journal::Done,
) -> Result<RunShared, Failure> {
    let masker = Masker::default();
    w.answers.register_secrets(&masker);
    let vars = Vars::new(&w.inventory, &w.playbook, &w.restore, &w.answers, &w.run);
    let mut hosts: HashMap<String, crate::docs::inventory::Host> = w
        .inventory
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.clone()))
        .collect();
    hosts
        .entry(CONTROLLER.into())
        .or_insert_with(controller_host);
    let mut base = HashMap::new();
    let mut transports = HashMap::new();
    let ssh = crate::transport::ssh::SshOptions {
        connect_timeout: std::time::Duration::from_secs(c.connect_timeout),
        accept_new_host_keys: c.accept_new_host_keys,
        known_hosts: None,
        control_dir: std::env::temp_dir(),
    };
    let used: std::collections::BTreeSet<&str> = w
        .plan
        .main
        .tasks
        .iter()
        .chain(&w.plan.rollback.tasks)
        .map(|t| t.host.as_str())
        .collect();
    for name in used {
        let host = &hosts[name];
        base.insert(
            name.to_string(),
            vars.host_json(host, &w.templates).map_err(|e| {
                Failure::Other(format!(
                    "variables of {name}: {}",
                    crate::template::error_text(&e)
                ))
            })?,
        );
        transports.insert(name.to_string(), exec::transport_for(host, &w.dir, &ssh));
    }
    let storage = if w.need_storage {
        match crate::storage::open(&w.answers, &w.dir, &masker) {
            Ok(s) => Some(Arc::from(s)),
            Err(e) => {
                return Err(Failure::Invalid(Invalid(vec![
                    Diag::plain("storage", e).help("check the storage answers"),
                ])));
            }
        }
    } else {
        None
    };
    let mut secrets = serde_json::Map::new();
    for (k, a) in &w.answers.values {
        if masker.mask(&a.text()) != a.text() {
            crate::docs::restore::insert_dotted(&mut secrets, k, J::String(a.text()));
        }
    }
    let templates_dir = w.dir.join("templates");
    Ok(RunShared {
        hosts,
        base,
        hostvars: crate::template::Templates::context(&J::Object(
            w.inventory
                .hosts
                .iter()
                .map(|h| (h.name.clone(), J::Object(h.vars.clone())))
                .collect(),
        )),
        groups: crate::template::Templates::context(&w.inventory.groups_json()),
        secrets: J::Object(secrets),
        templates: crate::template::Templates::new(),
        masker,
        events,
        storage,
        transports,
        run: w.run.clone(),
        dirs: Dirs {
            base: w.dir.clone(),
            playbook_dir: w.playbook_dir.clone(),
            templates: templates_dir
                .is_dir()
                .then_some(templates_dir)
                .or_else(|| c.playbooks.as_ref().map(|p| p.join("../templates"))),
        },
        answers: w.answers.clone(),
        become_password: w.answers.secret("become_password"),
        registered: Default::default(),
        resume,
        destructive_started: Default::default(),
    })
}

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
    let args = shared
        .templates
        .render_json(&ps.step.payload.to_json(), &ctxv)
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn check_or_run(c: &Common, w: World) -> Result<i32, Failure> {
    let rt = runtime();
    if c.check {
        let shared = shared(c, &w, Events::default(), Default::default())?;
        let gate = rt.block_on(gate_preview(&shared, &w));
        let preview = |rollback: bool, step: usize, host: &str| -> String {
            let dag = if rollback {
                &w.plan.rollback
            } else {
                &w.plan.main
            };
            let s = &dag.steps[step].step;
            let vars = shared.base.get(host).cloned().unwrap_or_default();
            let ctx = crate::template::Templates::context(&J::Object(vars));
            let raw = s.payload.to_json();
            match shared.templates.render_json(&raw, &ctx) {
                Ok(args) => shared
                    .masker
                    .mask(&crate::actions::preview(s.action, &args)),
                Err(_) => shared.masker.mask(&format!(
                    "(rendered at run time) {}",
                    crate::actions::preview(s.action, &raw)
                )),
            }
        };
        let out = match c.plan_format {
            PlanFormat::Text => crate::plan::render::text(&w.plan, &preview, gate.as_ref()),
            PlanFormat::Dot => crate::plan::render::dot(&w.plan),
            PlanFormat::Json => {
                serde_json::to_string_pretty(&crate::plan::render::json(
                    &w.plan,
                    &preview,
                    gate.as_ref(),
                ))
                .expect("json")
                    + "\n"
            }
        };
        print!("{out}");
        return Ok(0);
    }
    rt.block_on(execute(c, w))
}

async fn execute(c: &Common, w: World) -> Result<i32, Failure> {
    let resume = match &c.resume {
        None => Default::default(),
        Some(id) => {
            let runs = journal::list_runs(&w.dir);
            let id = if id == "latest" {
                runs.first().cloned()
            } else {
                Some(id.clone())
            };
            let Some(id) = id else {
                return Err(Failure::Invalid(Invalid(vec![
                    Diag::plain("resume", "--resume: there is no earlier run to resume")
                        .help("run without --resume first"),
                ])));
            };
            let path = journal::runs_dir(&w.dir).join(&id).join("journal.jsonl");
            let done = journal::read_done(&path).map_err(|e| {
                Failure::Invalid(Invalid(vec![
                    Diag::plain(
                        "resume",
                        format!("--resume {id}: cannot read {}: {e}", path.display()),
                    )
                    .help("see `setup standalone status` for run ids"),
                ]))
            })?;
            (id, done).1
        }
    };
    let events = Events::default();
    let shared = Arc::new(shared(c, &w, events.clone(), resume)?);
    let run_dir = journal::runs_dir(&w.dir).join(&w.run.id);
    let journal = journal::Journal::create(&run_dir).map_err(|e| {
        Failure::Other(format!(
            "cannot write the journal in {}: {e}",
            run_dir.display()
        ))
    })?;
    events.add(Box::new(journal));
    events.add(Box::new(crate::exec::progress::Progress::new(
        std::io::stdout().is_terminal(),
        c.quiet,
        c.verbose > 0,
    )));
    let collector = Collector::default();
    events.add(Box::new(collector.clone()));
    events.emit(Event::RunStarted {
        run_id: w.run.id.clone(),
        playbook: w.plan.name.clone(),
        tasks: w.plan.main.tasks.len(),
        at: w.run.started_at,
        resumed_from: c.resume.clone(),
    });
    let interrupt = Arc::new(Interrupt::default());
    let watcher = {
        let (interrupt, events) = (interrupt.clone(), events.clone());
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                let n = interrupt.count.fetch_add(1, Ordering::SeqCst) + 1;
                events.emit(Event::Interrupted {
                    at: chrono::Utc::now(),
                    second: n >= 2,
                });
                interrupt.notify.notify_one();
            }
        })
    };
    let opts = Options {
        forks: c.forks,
        keep_going: c.keep_going,
    };
    let main = Arc::new(w.plan.main.clone());
    let ending = exec::run_dag(shared.clone(), main, &opts, false, interrupt.clone()).await;
    if ending != Ending::Done && interrupt.count.load(Ordering::SeqCst) < 2 {
        let destructive = shared.destructive_started.load(Ordering::SeqCst);
        let (dag, reason) = match (destructive, ending) {
            (true, Ending::Interrupted) => (
                &w.plan.rollback,
                "the run was interrupted after a destructive step started: rolling back",
            ),
            (true, _) => (
                &w.plan.rollback,
                "a step failed after a destructive step started: rolling back",
            ),
            (false, _) => (
                &w.plan.cleanup,
                "the run stopped before any destructive step: cleaning up (steps tagged `always`)",
            ),
        };
        if !dag.tasks.is_empty() {
            events.emit(Event::RollbackStarted {
                at: chrono::Utc::now(),
                reason: reason.into(),
            });
            let rb_opts = Options {
                forks: c.forks,
                keep_going: true,
            };
            exec::run_dag(
                shared.clone(),
                Arc::new(dag.clone()),
                &rb_opts,
                true,
                Arc::new(Interrupt::default()),
            )
            .await;
        }
    }
    watcher.abort();
    for t in shared.transports.values() {
        t.close().await;
    }
    let (status, code) = match ending {
        Ending::Done => ("done", 0),
        Ending::Failed => ("failed", 1),
        Ending::Interrupted => ("interrupted", 130),
    };
    let finished = chrono::Utc::now();
    events.emit(Event::RunFinished {
        at: finished,
        status: status.into(),
        exit_code: code,
    });
    events.finish();
    let report = crate::report::build(
        &collector.0.lock().expect("collector"),
        &w.plan,
        finished,
        status,
        code,
    );
    let body = serde_json::to_string_pretty(&report.json).expect("json");
    let _ = std::fs::write(run_dir.join("report.json"), &body);
    if let Some(p) = &c.report {
        std::fs::write(p, &body)
            .map_err(|e| Failure::Other(format!("cannot write the report {}: {e}", p.display())))?;
    }
    print!("{}", shared.masker.mask(&report.text));
    println!("Journal: {}", run_dir.join("journal.jsonl").display());
    match ending {
        Ending::Failed => Err(Failure::Failed(format!(
            "run {} failed: see the summary above and {}",
            w.run.id,
            run_dir.join("report.json").display()
        ))),
        _ => Ok(code),
    }
}

/// `setup standalone status`: recent runs from the journal.
pub fn status(c: &Common) -> Result<i32, Failure> {
    let mut rows = Vec::new();
    for id in journal::list_runs(&c.dir).into_iter().take(20) {
        let text =
            std::fs::read_to_string(journal::runs_dir(&c.dir).join(&id).join("journal.jsonl"))
                .unwrap_or_default();
        let mut row = json!({ "run_id": id, "status": "unfinished", "tasks": 0, "failed": 0 });
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<J>(line) else {
                continue;
            };
            match v["event"].as_str() {
                Some("run_started") => {
                    row["started_at"] = v["at"].clone();
                    row["playbook"] = v["playbook"].clone();
                }
                Some("task_finished") => {
                    row["tasks"] = json!(row["tasks"].as_u64().unwrap_or(0) + 1);
                    if v["status"] == "failed" {
                        row["failed"] = json!(row["failed"].as_u64().unwrap_or(0) + 1);
                    }
                }
                Some("run_finished") => {
                    row["status"] = v["status"].clone();
                    row["finished_at"] = v["at"].clone();
                }
                _ => {}
            }
        }
        rows.push(row);
    }
    if c.json {
        println!("{}", serde_json::to_string_pretty(&rows).expect("json"));
    } else if rows.is_empty() {
        println!("no runs yet in {}", journal::runs_dir(&c.dir).display());
    } else {
        println!(
            "{:<26} {:<12} {:>6} {:>6}  started",
            "run", "status", "tasks", "failed"
        );
        for r in rows {
            println!(
                "{:<26} {:<12} {:>6} {:>6}  {}",
                r["run_id"].as_str().unwrap_or(""),
                r["status"].as_str().unwrap_or(""),
                r["tasks"].as_u64().unwrap_or(0),
                r["failed"].as_u64().unwrap_or(0),
                r["started_at"].as_str().unwrap_or("")
            );
        }
    }
    Ok(0)
}

/// Opens the configured storage for a command that needs nothing else.
fn open_storage(c: &Common) -> Result<(World, Box<dyn crate::storage::Storage>), Failure> {
    let mut w = crate::app::load_for_storage(c)?;
    w.need_storage = true;
    let masker = Masker::default();
    w.answers.register_secrets(&masker);
    let storage = crate::storage::open(&w.answers, &w.dir, &masker).map_err(|e| {
        Failure::Invalid(Invalid(vec![
            Diag::plain("storage", e).help("check the storage answers"),
        ]))
    })?;
    Ok((w, storage))
}

/// `setup storage-test`: a round trip through the configured storage, checked by sha256.
pub fn storage_test(c: &Common, size_mb: u64, pause_after_mb: Option<u64>) -> Result<i32, Failure> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let (_, storage) = open_storage(c)?;
    let rt = runtime();
    let size = size_mb * 1024 * 1024;
    let name = format!("setup-storage-test-{}.bin", std::process::id());
    // Deterministic content, generated as it streams: constant memory whatever the size.
    let byte_at = move |i: u64| ((i.wrapping_mul(2654435761) >> 13) & 0xff) as u8;
    let content = move |range: std::ops::Range<u64>| -> Vec<u8> { range.map(byte_at).collect() };
    let expected = {
        let mut h = sha2::Sha256::new();
        let mut at = 0;
        while at < size {
            let end = (at + (1 << 20)).min(size);
            h.update(content(at..end));
            at = end;
        }
        hex::encode(h.finalize())
    };
    let result: Result<(), String> = rt.block_on(async {
        let t0 = std::time::Instant::now();
        let (mut tx, rx) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut at = 0;
            while at < size {
                let end = (at + (1 << 20)).min(size);
                tx.write_all(&content(at..end)).await?;
                at = end;
            }
            tx.shutdown().await
        });
        let written = storage.put(&name, Box::new(rx)).await.map_err(|e| e.to_string())?;
        writer.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        println!("put     {name}: {written} bytes in {:.2}s", t0.elapsed().as_secs_f64());
        let listed = storage.list("setup-storage-test-").await.map_err(|e| e.to_string())?;
        let found = listed.iter().find(|o| o.name == name).ok_or(format!("{name} was written but is not listed"))?;
        if found.size != size {
            return Err(format!("{name} is listed with {} bytes, not {size}", found.size));
        }
        println!("list    {name}: {} bytes", found.size);
        let t1 = std::time::Instant::now();
        let mut r = storage.get(&name, None).await.map_err(|e| e.to_string())?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        let mut pause = pause_after_mb.map(|mb| mb << 20);
        loop {
            if pause.is_some_and(|at| got >= at) {
                pause = None;
                eprintln!("paused after {got} bytes; press Enter to go on");
                let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
            }
            let n = r.read(&mut buf).await.map_err(|e| format!("reading {name}: {e}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            got += n as u64;
        }
        let digest = hex::encode(h.finalize());
        if digest != expected || got != size {
            return Err(format!("read back {got} bytes with sha256 {digest}; wrote {size} bytes with sha256 {expected}"));
        }
        println!("get     {name}: sha256 {digest} matches, {:.2}s", t1.elapsed().as_secs_f64());
        for note in storage.retries(None) {
            println!("retry   {note}");
        }
        let (start, end) = (size / 3, size / 3 + 4096.min(size));
        let mut part = Vec::new();
        storage.get(&name, Some(start..end)).await.map_err(|e| e.to_string())?.read_to_end(&mut part).await.map_err(|e| e.to_string())?;
        if part != content(start..end.min(size)) {
            return Err(format!("the ranged read {start}..{end} returned other bytes"));
        }
        println!("range   {name}: bytes {start}..{end} match");
        storage.delete(&name).await.map_err(|e| e.to_string())?;
        match storage.stat(&name).await {
            Err(e) if e.not_found => println!("delete  {name}: gone"),
            Err(e) => return Err(e.to_string()),
            Ok(_) => return Err(format!("{name} is still there after delete")),
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            println!("{}: ok", storage.describe());
            Ok(0)
        }
        Err(e) => Err(Failure::Failed(format!(
            "storage test on {}: {e}",
            storage.describe()
        ))),
    }
}

/// `setup standalone list`: the backups in storage, with their age.
pub fn list(c: &Common) -> Result<i32, Failure> {
    let (w, storage) = open_storage(c)?;
    let objects = runtime()
        .block_on(storage.list(""))
        .map_err(|e| Failure::Other(e.to_string()))?;
    let names: std::collections::BTreeSet<String> =
        objects.iter().map(|o| o.name.clone()).collect();
    let now = w.run.now;
    let rows: Vec<J> = objects
        .iter()
        .filter(|o| !o.name.ends_with(".sha256"))
        .map(|o| {
            let age = o.modified.map(|m| (now - m).num_seconds().max(0));
            json!({"name": o.name, "size": o.size, "modified": o.modified, "age_seconds": age, "checksum": names.contains(&format!("{}.sha256", o.name))})
        })
        .collect();
    if c.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({"storage": storage.describe(), "backups": rows}))
                .expect("json")
        );
        return Ok(0);
    }
    println!("{}: {} backups", storage.describe(), rows.len());
    for r in &rows {
        let age = r["age_seconds"].as_i64().map_or("?".into(), human_age);
        println!(
            "  {:<50} {:>12} bytes  {:>8} old  {}",
            r["name"].as_str().unwrap_or(""),
            r["size"],
            age,
            if r["checksum"] == true {
                "sha256"
            } else {
                "no checksum"
            }
        );
    }
    if let Some(newest) = rows.iter().filter_map(|r| r["age_seconds"].as_i64()).min() {
        println!("RPO (age of the newest backup): {}", human_age(newest));
    }
    Ok(0)
}

fn human_age(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}
