//! A loaded world's run: `--check` prints the plan; otherwise the plan runs with journal, progress
//! and report, rolling back or cleaning up after a failure. The runner knows no operation: what a
//! command adds to its run once the steps ended (a drill's checks and verdict) it says through its
//! [`Judge`], and what it does afterwards (a backup's prune) it does with the [`RunOutcome`].

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use crate::exec::{self, Ending, Interrupt, lock};
use crate::failure::Failure;
use crate::options::Options;
use crate::report::collect::DrillVerdict;
use crate::report::events::{Event, Events};
use crate::report::journal;
use crate::report::summary::{Collector, Measure};
use crate::task::RunShared;
use crate::world::World;

/// A run whose steps ended (rolled back or cleaned up after a failure, its locks released), before
/// its report is written: what its command judges it by.
pub struct Ended<'a> {
    pub world: &'a World,
    pub shared: &'a RunShared,
    /// The run's events: a check emitted here is in its journal, its report and `collector`.
    pub events: &'a Events,
    pub collector: &'a Collector,
    pub ending: Ending,
    /// Every storage target took what the others took.
    pub stored: bool,
    /// When the run ended, as its report says.
    pub finished: chrono::DateTime<chrono::Utc>,
}

/// What a command says of its run once the steps ended.
pub struct Judged {
    /// What the report's RTO measures.
    pub measure: Measure,
    /// What failed besides the steps (a drill's failed checks), each a line: any fails the run
    /// (exit 1), and the command says them (they are in the [`RunOutcome`]).
    pub failures: Vec<String>,
    /// The report's `drill`: a drill's verdict.
    pub verdict: Option<DrillVerdict>,
}

impl Judged {
    /// Nothing to add to the run but what its report measures.
    pub fn measured(measure: Measure) -> Judged {
        Judged {
            measure,
            failures: Vec::new(),
            verdict: None,
        }
    }
}

/// How a command judges its run (see [`Ended`] and [`Judged`]).
pub type Judge<'a> = dyn Fn(&Ended<'_>) -> Judged + 'a;

/// How a run ended, its summary printed and its report written, for the command that started it.
#[derive(Debug)]
pub struct RunOutcome {
    /// The exit code: 0 done, 1 failed, 130 interrupted.
    pub code: i32,
    /// Why the run failed, to be said last.
    pub failure: Option<Failure>,
    /// The steps ran: false for a `--check`, which printed the plan and ran nothing.
    pub ran: bool,
    pub run_id: String,
    /// What the command's judge found failed besides the steps (see [`Judged::failures`]).
    pub failures: Vec<String>,
}

impl RunOutcome {
    /// The exit code, or the failure.
    pub fn result(self) -> Result<i32, Failure> {
        self.failure.map_or(Ok(self.code), Err)
    }
}

/// `--check` prints the plan; otherwise the plan runs, and `judge` says what the command adds once
/// its steps ended.
pub fn check_or_run(o: &Options, mut w: World, judge: &Judge) -> Result<RunOutcome, Failure> {
    if o.check {
        // An answer the run would stop for is missing: the check says so the same way.
        super::runtime().block_on(super::before::identity_for_check(&w))?;
        return Ok(RunOutcome {
            code: super::check::print(o, &w)?,
            failure: None,
            ran: false,
            run_id: w.run.id,
            failures: Vec::new(),
        });
    }
    if o.interactive && !o.yes {
        if !super::before::confirmed(&w) {
            return Err(Failure::Failed(
                "not confirmed: nothing was run, and every host is as it was".into(),
            ));
        }
        // The run, and its RTO, start when the answer is given: the time the operator took to read
        // the question is not the time the restore took.
        w.run.started_at = chrono::Utc::now();
    }
    super::runtime().block_on(execute(o, w, judge))
}

/// Every host the plan may touch, rollback and cleanup included, in inventory order.
fn lock_hosts(w: &World) -> Vec<String> {
    let mut hosts: Vec<String> = Vec::new();
    for dag in [&w.plan.main, &w.plan.rollback, &w.plan.cleanup] {
        for ps in &dag.steps {
            for h in &ps.hosts {
                if !hosts.contains(h) {
                    hosts.push(h.clone());
                }
            }
        }
    }
    hosts
}

/// After a failure or an interrupt: undo what the run changed and run the playbook's rollback steps
/// when a destructive step had started, else only the cleanup steps (tagged `always`). Cleanup also
/// runs when the rollback fails. False when something could not be undone.
async fn recover(
    o: &Options,
    w: &World,
    shared: &Arc<crate::task::RunShared>,
    events: &Events,
    ending: Ending,
) -> bool {
    let destructive = shared.destructive_started.load(Ordering::SeqCst);
    let reason = match (destructive, ending) {
        (true, Ending::Interrupted) => {
            "the run was interrupted after a destructive step started: rolling back"
        }
        (true, _) => "a step failed after a destructive step started: rolling back",
        (false, _) => {
            "the run stopped before any destructive step: cleaning up (steps tagged `always`)"
        }
    };
    let has_undo = !shared.undo.lock().expect("undo").is_empty();
    let dags = if destructive {
        vec![&w.plan.rollback]
    } else {
        vec![&w.plan.cleanup]
    };
    if !has_undo && dags.iter().all(|d| d.tasks.is_empty()) {
        return true;
    }
    events.emit(Event::RollbackStarted {
        at: chrono::Utc::now(),
        reason: reason.into(),
    });
    let opts = exec::Options {
        forks: o.forks,
        keep_going: true,
    };
    let run = |dag: &crate::plan::Dag| {
        exec::run_dag(
            shared.clone(),
            Arc::new(dag.clone()),
            &opts,
            true,
            Arc::new(Interrupt::default()),
        )
    };
    let mut ok = true;
    if destructive {
        ok &= exec::undo::undo_all(shared).await;
        if !w.plan.rollback.tasks.is_empty() {
            ok &= run(&w.plan.rollback).await == Ending::Done;
        }
        if !ok && !w.plan.cleanup.tasks.is_empty() {
            run(&w.plan.cleanup).await;
        }
    } else if !w.plan.cleanup.tasks.is_empty() {
        run(&w.plan.cleanup).await;
    }
    ok
}

async fn execute(o: &Options, mut w: World, judge: &Judge<'_>) -> Result<RunOutcome, Failure> {
    let settled = super::before::settle(&mut w).await?;
    // A configuration older than the one in place: asked at a terminal (else the step refuses it).
    if o.interactive && !o.yes && !w.run.allow_older && !o.check {
        super::fresh::ask(o, &mut w).await?;
    }
    let (resume, pending_undo) = super::resume::resumed(o, &w)?;
    let events = Events::default();
    let shared = Arc::new(super::prepare::shared(o, &w, events.clone(), resume)?);
    let run_dir = journal::runs_dir(&w.dir).join(&w.run.id);
    let journal = journal::Journal::create(&run_dir).map_err(|e| {
        Failure::Other(format!(
            "cannot write the journal in {}: {e}",
            run_dir.display()
        ))
    })?;
    events.add(Box::new(journal));
    events.add(Box::new(crate::report::progress::Progress::new(
        std::io::stdout().is_terminal(),
        o.quiet,
        o.verbose,
    )));
    let collector = Collector::default();
    events.add(Box::new(collector.clone()));
    events.emit(Event::RunStarted {
        run_id: w.run.id.clone(),
        playbook: w.plan.name.clone(),
        tasks: w.plan.main.tasks.len(),
        at: w.run.started_at,
        clock: w.run.now,
        resumed_from: o.resume.clone(),
        options: super::resume::recorded_options(o, &shared.masker),
    });
    // What storage said while the run was settled (a target that lacks the backup taken, say).
    for text in settled {
        events.emit(Event::Storage {
            at: chrono::Utc::now(),
            text,
        });
    }
    let facts: super::hooks::Facts = vec![
        ("SETUP_RUN_ID", w.run.id.clone()),
        ("SETUP_OPERATION", w.operation.as_str().to_string()),
        ("SETUP_SITE", super::before::site_of(&shared)),
    ];
    super::hooks::before(&w, &shared, &events, &facts).await?;
    let me = lock::Owner::this(&w.run.id, w.operation.as_str(), w.run.started_at);
    let hosts = lock_hosts(&w);
    if let Err(refused) = super::locking::take_locks(o, &shared, &events, &hosts, &me).await {
        events.emit(Event::RunFinished {
            at: chrono::Utc::now(),
            status: "refused".into(),
            exit_code: 3,
        });
        events.finish();
        for t in shared.transports.values() {
            t.close().await;
        }
        return Err(refused);
    }
    let interrupt = Arc::new(Interrupt::default());
    let watcher = {
        let (interrupt, events) = (interrupt.clone(), events.clone());
        tokio::spawn(async move {
            // SIGTERM (a service manager, `timeout`, a CI runner stopping) is handled as Ctrl-C:
            // no new tasks, rollback, locks released, journal closed.
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
            loop {
                let signalled = match term.as_mut() {
                    Some(t) => tokio::select! {
                        r = tokio::signal::ctrl_c() => r.is_ok(),
                        r = t.recv() => r.is_some(),
                    },
                    None => tokio::signal::ctrl_c().await.is_ok(),
                };
                if !signalled {
                    break;
                }
                let n = interrupt.count.fetch_add(1, Ordering::SeqCst) + 1;
                events.emit(Event::Interrupted {
                    at: chrono::Utc::now(),
                    second: n >= 2,
                });
                interrupt.notify.notify_one();
            }
        })
    };
    let opts = exec::Options {
        forks: o.forks,
        keep_going: o.keep_going,
    };
    // A run killed while it rolled back: this one finishes its undo, and restores nothing.
    let undo_only = !pending_undo.is_empty();
    let ending = if undo_only {
        super::before::take_over_undo(&shared, &pending_undo);
        Ending::Interrupted
    } else {
        let main = Arc::new(w.plan.main.clone());
        exec::run_dag(shared.clone(), main, &opts, false, interrupt.clone()).await
    };
    let mut rollback_failed = false;
    // However many times Ctrl-C is pressed, the rollback runs to its end.
    if ending != Ending::Done {
        rollback_failed = !recover(o, &w, &shared, &events, ending).await;
    }
    watcher.abort();
    for (host, r) in lock::release_all(&shared, &hosts, &me).await {
        let (action, message) = match r {
            Ok(()) => ("released", None),
            Err(e) => ("not released", Some(e)),
        };
        events.emit(super::locking::lock_event(host, action, None, message));
    }
    for t in shared.transports.values() {
        t.close().await;
    }
    // A storage target that could not take what the others took: said, and the run fails.
    let target_failures = shared
        .storage
        .as_ref()
        .map(|s| s.write_failures())
        .unwrap_or_default();
    let finished = chrono::Utc::now();
    let judged = judge(&Ended {
        world: &w,
        shared: &shared,
        events: &events,
        collector: &collector,
        ending,
        stored: target_failures.is_empty(),
        finished,
    });
    for f in &target_failures {
        let text = format!("FAILED: storage {f}; the other targets hold their copy");
        // Straight into the report too: the run's end does not wait for the event to reach it.
        collector
            .0
            .lock()
            .expect("collector")
            .storage
            .push(text.clone());
        events.emit(Event::Note {
            at: chrono::Utc::now(),
            text,
        });
    }
    let (status, code) = match ending {
        Ending::Done if !judged.failures.is_empty() || !target_failures.is_empty() => ("failed", 1),
        Ending::Done => ("done", 0),
        _ if rollback_failed => ("failed", 1),
        _ if undo_only => ("rolled back", 1),
        Ending::Failed => ("failed", 1),
        Ending::Interrupted => ("interrupted", 130),
    };
    let restores_config = w.plan.main.tasks.iter().any(|t| {
        let ps = &w.plan.main.steps[t.step];
        matches!(ps.step.action, "unpack" | "fetch") && ps.step.reads_config_backup()
    });
    {
        let mut c = collector.0.lock().expect("collector");
        c.measure = judged.measure;
        c.drill = judged.verdict;
    }
    if restores_config {
        collector.0.lock().expect("collector").config_backup = w.answers.text("config_backup");
    }
    let crate::report::summary::Summary { mut report, text } = crate::report::summary::build(
        &collector.0.lock().expect("collector"),
        &w.plan,
        finished,
        status,
        code,
        o.quiet,
    );
    // Each target that could not take an object, for the report and the notifications.
    if !target_failures.is_empty() {
        report.failed_targets = target_failures
            .iter()
            .map(|f| crate::report::summary::FailedTarget {
                target: f.target.clone(),
                object: crate::storage::shown(&f.object),
                why: shared.masker.mask(&f.why),
            })
            .collect();
    }
    // The report and the metrics first: the hook after the run may read them.
    super::before::write_metrics(&w, &shared, &collector, &report, finished);
    let body = serde_json::to_string_pretty(&report.to_json()).expect("json");
    let _ = journal::write_private(&run_dir.join("report.json"), &body);
    // The hook and the notification, before the journal closes: a failure of either is a line of it.
    super::hooks::after(&w, &shared, &events, &facts, (status, code), &run_dir).await;
    let undelivered =
        super::before::notify(&w, &shared, &report, &run_dir.join("report.json"), &text).await;
    if let Some(warning) = &undelivered {
        events.emit(Event::Note {
            at: chrono::Utc::now(),
            text: format!("WARNING: {warning}"),
        });
    }
    events.emit(Event::RunFinished {
        at: finished,
        status: status.into(),
        exit_code: code,
    });
    let journal_broken = events.sync().err();
    events.finish();
    if let Some(p) = &o.report {
        journal::write_private(p, &body)
            .map_err(|e| Failure::Other(format!("cannot write the report {}: {e}", p.display())))?;
    }
    super::emit(&shared.masker.mask(&text));
    super::say!("Journal: {}", run_dir.join("journal.jsonl").display());
    if let Some(warning) = &undelivered {
        eprintln!("warning: {}", shared.masker.mask(warning));
    }
    if let Some(e) = &journal_broken {
        eprintln!(
            "warning: {e}: `--resume` and `status` cannot rely on it; the report above is the run's record"
        );
    }
    let failure = match ending {
        _ if rollback_failed => Some(Failure::Failed(format!(
            "run {} failed and its ROLLBACK FAILED: the hosts may be in a mixed state; see the summary above and {}",
            w.run.id,
            run_dir.join("report.json").display()
        ))),
        _ if undo_only => Some(Failure::Failed(format!(
            "run {} finished the rollback of the run it resumes: what that run changed is taken back, and nothing was restored; run the restore again to restore",
            w.run.id
        ))),
        Ending::Failed => Some(Failure::Failed(format!(
            "run {} failed: see the summary above and {}",
            w.run.id,
            run_dir.join("report.json").display()
        ))),
        _ => None,
    };
    Ok(RunOutcome {
        code,
        failure,
        ran: true,
        run_id: w.run.id.clone(),
        failures: judged.failures,
    })
}
