//! Before a run starts: the configuration backup it restores, named and digested once, and the
//! question at a terminal before anything on the live site is changed.

use crate::secret::Masker;
use crate::storage::Storage;
use crate::world::{Operation, World};

/// At a terminal, before a run with destructive steps: what will be stopped, replaced or renamed
/// on which host, and the question. A run with none asks nothing.
pub fn confirmed(w: &World) -> bool {
    let mut lines = Vec::new();
    for ps in w.plan.main.steps.iter().filter(|ps| ps.step.destructive) {
        let name = ps.step.name.as_deref().unwrap_or(&ps.step.id);
        let hosts: Vec<&str> = ps
            .hosts
            .iter()
            .map(String::as_str)
            .filter(|h| may_run(w, ps, h))
            .collect();
        if hosts.is_empty() {
            continue;
        }
        lines.push(format!(
            "  - {name} ({}) on {}",
            ps.step.id,
            hosts.join(", ")
        ));
    }
    if lines.is_empty() {
        return true;
    }
    eprintln!(
        "This run changes the live site once every download is checked (and rolls back on a failure):\n{}",
        lines.join("\n")
    );
    dialoguer::Confirm::new()
        .with_prompt("Go on?")
        .default(false)
        .interact_opt()
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// Whether a step may run on `host`: false when a part of its `when` (an `and` of parts) is false
/// with the host's variables. A part that reads what the run has yet to register (or cannot be
/// decided before the run) counts as true.
fn may_run(w: &World, ps: &crate::plan::PlanStep, host: &str) -> bool {
    let Some(crate::plan::When::Expr(expr)) = &ps.work.when else {
        return !matches!(ps.work.when, Some(crate::plan::When::Fixed(false)));
    };
    let Some(h) = w.inventory.hosts.iter().find(|h| h.name == host) else {
        return true;
    };
    let mut vars =
        crate::context::Vars::new(&w.inventory, &w.playbook, &w.restore, &w.answers, &w.run);
    vars.set("backup", w.backup.value.clone());
    let Ok(m) = vars.host_json(h, &w.templates) else {
        return true;
    };
    let ctx = vars.wrap(&m);
    !crate::plan::conjuncts(expr)
        .iter()
        .any(|part| w.templates.eval(part, &ctx).is_ok_and(|v| !v.is_true()))
}

/// `config_backup: latest` becomes the newest configuration backup's name, once, before anything
/// runs: the restore, its marker and its RPO all name the same backup. With storage targets it is
/// the newest trusted backup on any of them (their listings together, each copy checked). A run
/// that restores the configuration and finds nothing to take as `latest` stops here, before any
/// host is touched: exit 2 when no trusted backup is there (the answer names nothing), exit 1 when
/// the storage cannot be read (or a target cannot be listed, which may hold one). What `latest`
/// passed over is a warning; each target that lacks the backup taken is a note for the run's
/// summary.
async fn resolve_latest(
    w: &mut World,
    storage: &dyn Storage,
    masker: &Masker,
    notes: &mut Vec<String>,
) -> Result<(), crate::failure::Failure> {
    let Some(answer) = w.answers.values.get("config_backup") else {
        return Ok(());
    };
    if answer.text() != "latest" {
        return Ok(());
    }
    let shown = |text: &str| crate::storage::printable(&masker.mask(text));
    match crate::authentic::latest(storage, &w.trust).await {
        Ok((name, passed_over)) => {
            for why in passed_over {
                eprintln!("warning: `latest` passed over {}", shown(&why));
            }
            for lack in crate::storage::lacking(storage, &name).await {
                notes.push(shown(&lack));
            }
            if let Some(a) = w.answers.values.get_mut("config_backup") {
                a.value = serde_json::Value::String(name);
            }
            Ok(())
        }
        Err(_) if !restores_config(w) => Ok(()),
        Err(e) => {
            // A target that could not be listed may hold the backup: that is no answer to fix.
            let unlisted: Vec<String> = storage
                .retries(None)
                .into_iter()
                .filter(|n| n.contains("cannot be listed"))
                .map(|n| shown(&n))
                .collect();
            if e.not_found && unlisted.is_empty() {
                return Err(crate::failure::Failure::invalid(
                    crate::diag::Diag::plain(
                        "config_backup",
                        format!(
                            "config_backup is `latest`, and there is nothing to restore: {}",
                            shown(&e.to_string())
                        ),
                    )
                    .help("take a backup at the DC (or copy one to these targets), or name a backup as config_backup; nothing was run"),
                ));
            }
            let mut why = vec![shown(&e.to_string())];
            why.extend(unlisted);
            Err(crate::failure::Failure::Failed(format!(
                "config_backup is `latest`, and the storage cannot be read to find it: {}; nothing was run",
                why.join("; ")
            )))
        }
    }
}

/// Whether this run restores the configuration backup: a step reads it, and `config` is among
/// the components.
fn restores_config(w: &World) -> bool {
    w.restore.components.iter().any(|c| c == "config")
        && w.plan
            .main
            .steps
            .iter()
            .any(|ps| matches!(ps.step.action, "unpack" | "fetch") && ps.step.reads_config_backup())
}

/// The configuration backup's digest, from its checked manifest, as `restore.config_digest`: the
/// restore marker records it, and a re-run finds the same backup in place by it.
async fn resolve_digest(w: &mut World, storage: &dyn Storage) {
    let Some(name) = w.answers.text("config_backup") else {
        return;
    };
    // A backup that does not pass is refused by the restore itself, with its reasons.
    if let Ok(v) = crate::authentic::check(storage, &name, &w.trust).await
        && let Some(digest) = v.stored_sha256
    {
        w.answers.values.insert(
            "config_digest".into(),
            crate::answers::Answer {
                value: serde_json::Value::String(digest),
                origin: crate::answers::Origin::Default,
            },
        );
    }
}

/// An encrypted backup to restore and no `age_identity`: refused up front (exit 2) as a missing
/// answer, before any host is touched, rather than failing once the download is in. `config` is
/// the configuration backup's name, `latest` resolved.
async fn need_identity(
    w: &World,
    storage: &dyn Storage,
    config: Option<String>,
) -> Result<(), crate::failure::Failure> {
    if w.answers.get("age_identity").is_some() {
        return Ok(());
    }
    let restores = |c: &str| w.restore.components.iter().any(|x| x == c);
    let mut encrypted: Vec<String> = Vec::new();
    if restores("config")
        && let Some(name) = config
        && name.ends_with(".age")
    {
        encrypted.push(name);
    }
    if restores("analytics")
        && let Ok(objects) = storage.list("").await
    {
        let prefix = w.answers.analytics().prefix.unwrap_or_default();
        encrypted.extend(
            objects
                .into_iter()
                .map(|o| o.name)
                .filter(|n| {
                    n.starts_with(&format!("{prefix}analytics-"))
                        && n.ends_with(".age")
                        && !crate::storage::is_companion(n)
                })
                .take(1),
        );
    }
    let Some(first) = encrypted.first() else {
        return Ok(());
    };
    Err(crate::failure::Failure::invalid(
        crate::diag::Diag::plain(
            "missing_answers",
            format!(
                "1 answer(s) missing: the backups are encrypted ({} is), and nothing opens them:\n  - {}",
                crate::storage::shown(first),
                crate::answers::missing_line("age_identity", "the age identity file that opens them")
            ),
        )
        .help("give it, then run again; nothing was run"),
    ))
}

/// For `--check` of a restore: the identity the run would stop for (`need_identity`), asked the
/// same way, `latest` resolved without changing the answers. A storage that cannot be opened or
/// read is left to the check's probes.
pub async fn identity_for_check(w: &World) -> Result<(), crate::failure::Failure> {
    if w.operation != Operation::Restore || w.answers.get("age_identity").is_some() {
        return Ok(());
    }
    let Some(settings) = w.storage.as_ref() else {
        return Ok(());
    };
    let masker = Masker::default();
    w.answers.register_secrets(&masker);
    let opened = super::prepare::open_configured(settings, &w.targets, &w.dir, &masker);
    let Ok(storage) = opened else {
        return Ok(());
    };
    let config = match w.answers.text("config_backup") {
        Some(name) if name == "latest" => crate::authentic::latest(storage.as_ref(), &w.trust)
            .await
            .ok()
            .map(|(name, _)| name),
        other => other,
    };
    need_identity(w, storage.as_ref(), config).await
}

/// What a run settles in storage before anything runs, with the storage (every target) opened
/// once: `latest` named, the configuration backup's digest, and (for a restore) an identity for
/// encrypted backups. A run with no storage settles nothing. Gives what the storage had to say on
/// the way (targets that lack the backup taken, copies refused, targets that cannot be listed),
/// masked, for the run's summary, report and notifications.
pub async fn settle(w: &mut World) -> Result<Vec<String>, crate::failure::Failure> {
    let Some(settings) = w.storage.as_ref() else {
        return Ok(Vec::new());
    };
    let masker = Masker::default();
    w.answers.register_secrets(&masker);
    let opened = super::prepare::open_configured(settings, &w.targets, &w.dir, &masker);
    // A storage that cannot be opened is refused by the run itself, with its reasons.
    let Ok(storage) = opened else {
        return Ok(Vec::new());
    };
    let mut notes = Vec::new();
    resolve_latest(w, storage.as_ref(), &masker, &mut notes).await?;
    if w.restore.components.iter().any(|c| c == "config") {
        resolve_digest(w, storage.as_ref()).await;
    }
    if w.operation == Operation::Restore {
        let config = w.answers.text("config_backup");
        need_identity(w, storage.as_ref(), config).await?;
    }
    notes.extend(super::fresh::settle(w, storage.as_ref(), &masker).await?);
    for note in storage.retries(None) {
        let note = crate::storage::printable(&masker.mask(&note));
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    Ok(notes)
}

/// Hands the changes a killed run never took back to this run's rollback, in the order they were
/// made (the rollback undoes them newest first). A secret an undo needs is this run's own answer.
pub fn take_over_undo(
    shared: &crate::task::RunShared,
    pending: &[crate::report::journal::PendingUndo],
) {
    let secret = |key: &str| match key {
        "PGPASSWORD" => shared.db_password.clone(),
        _ => None,
    };
    let mut undo = shared.undo.lock().expect("undo");
    for p in pending {
        match crate::task::Undo::from_journal(&p.undo, &secret) {
            Some((u, become_)) => undo.push(crate::task::UndoEntry {
                task: p.task,
                step: p.step.clone(),
                host: p.host.clone(),
                become_,
                undo: u,
            }),
            None => shared.events.emit(crate::report::events::Event::Note {
                at: chrono::Utc::now(),
                text: format!(
                    "WARNING: {} on {}: its undo cannot be read back from the journal; take it back by hand: {}",
                    p.step,
                    p.host,
                    p.undo["describe"].as_str().unwrap_or("")
                ),
            }),
        }
    }
    shared
        .destructive_started
        .store(true, std::sync::atomic::Ordering::SeqCst);
    shared.events.emit(crate::report::events::Event::Note {
        at: chrono::Utc::now(),
        text: format!(
            "resuming a run that was killed while it rolled back: {} change(s) it made are still to be taken back; taking them back (nothing is restored)",
            pending.len()
        ),
    });
}

/// The run's metrics, when the answer `metrics.textfile` names a file. A file that cannot be
/// written is a warning: it never changes how the run ended.
pub fn write_metrics(
    w: &World,
    shared: &crate::task::RunShared,
    collector: &crate::report::summary::Collector,
    report: &crate::report::summary::Report,
    finished: chrono::DateTime<chrono::Utc>,
) {
    let Some(path) = w.answers.text("metrics.textfile") else {
        return;
    };
    let path = w.dir.join(path);
    let site = site_of(shared);
    let components: Vec<String> = match w.operation {
        Operation::Restore => w.restore.components.clone(),
        Operation::Backup => w.backup.components.clone(),
        _ => vec!["all".into()],
    };
    let sizes = collector.0.lock().expect("collector").sizes.clone();
    let facts = crate::report::metrics::RunFacts {
        operation: w.operation.as_str(),
        site: &site,
        components: &components,
        status: &report.status,
        duration_seconds: report.duration_seconds,
        rpo: report.rpo.as_ref(),
        finished: finished.timestamp(),
        sizes: &sizes,
    };
    if let Err(e) = crate::report::metrics::write(&path, &facts) {
        eprintln!(
            "warning: the metrics file {} cannot be written: {e}",
            path.display()
        );
    }
}

/// The run's notifications (`notify.webhook.*`, `notify.email.*`) of its report, with its summary
/// (masked); the warning to show when one was not delivered.
pub async fn notify(
    w: &World,
    shared: &crate::task::RunShared,
    report: &crate::report::summary::Report,
    report_path: &std::path::Path,
    summary: &str,
) -> Option<String> {
    let payload = super::notify::Payload::of(
        w.operation.as_str(),
        &site_of(shared),
        report,
        &report_path.display().to_string(),
    );
    super::notify::after_run(
        &w.answers,
        &w.dir,
        &payload,
        &report.to_json(),
        &shared.masker.mask(summary),
    )
    .await
    .map(|warning| shared.masker.mask(&warning))
}

/// The inventory's `site` variable, as any host sees it.
pub fn site_of(shared: &crate::task::RunShared) -> String {
    site_in(shared.base.values())
}

/// The `site` variable in the first of `vars` that has one, else `unknown`.
pub fn site_in<'a>(
    vars: impl IntoIterator<Item = &'a serde_json::Map<String, serde_json::Value>>,
) -> String {
    vars.into_iter()
        .find_map(|v| v.get("site").and_then(|s| s.as_str()).map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}
