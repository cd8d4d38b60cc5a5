//! Storage rolled back to older backups, seen before a run changes anything: each component's
//! newest trusted backup against `max_backup_age` (a restore, a drill and `verify` fail; `--check`
//! fails its probe), a backup seen before that has vanished (said in the summary, the report and
//! the webhook), and a configuration backup older than the one in place (the `not_older` step
//! refuses it; at a terminal the run asks first; `--check` fails its probe).

use serde_json::Value as J;

use super::probe::{Probe, probe};
use crate::actions::notolder;
use crate::failure::Failure;
use crate::freshness::{self, Remembered};
use crate::secret::Masker;
use crate::storage::Storage;
use crate::task::RunShared;
use crate::world::World;

/// Whether the run reads backups whose age counts: a restore or a drill (not `drill --clean`,
/// which only sweeps what earlier drills left).
fn reads_backups(w: &World) -> bool {
    w.operation.restores()
        && !w
            .plan
            .main
            .steps
            .iter()
            .all(|s| s.step.tags.iter().any(|t| t == "sweep"))
}

/// The run's components in storage, at the run's clock, with its trust and answers.
async fn assess(
    w: &World,
    storage: &dyn Storage,
    record: &mut Remembered,
) -> freshness::Assessment {
    freshness::assess(
        storage,
        &w.trust,
        &w.answers,
        &w.restore.components,
        w.run.now,
        record,
    )
    .await
}

/// For a restore or a drill, before anything runs: a component whose newest trusted backup is
/// older than its `max_backup_age` stops the run (exit 1, nothing run); what vanished since the
/// last run is given back, masked, for the summary, the report and the notifications. The record
/// of the newest backups seen learns what storage holds now.
pub async fn settle(
    w: &World,
    storage: &dyn Storage,
    masker: &Masker,
) -> Result<Vec<String>, Failure> {
    if !reads_backups(w) {
        return Ok(Vec::new());
    }
    let a = assess(w, storage, &mut Remembered::load(&w.dir)).await;
    let said = |t: &String| crate::storage::printable(&masker.mask(t));
    let vanished: Vec<String> = a.vanished.iter().map(said).collect();
    if a.stale.is_empty() {
        return Ok(vanished);
    }
    let mut lines: Vec<String> = a.stale.iter().map(|s| said(&s.text)).collect();
    lines.extend(vanished);
    Err(Failure::Failed(format!(
        "too old to restore:\n{}\n{}; nothing was run",
        lines
            .iter()
            .map(|l| format!("  - {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
        freshness::stale_advice(&a.stale)
    )))
}

/// `--check`'s probes of the same: `fresh` for each component's newest backup (fails beyond its
/// `max_backup_age`), a warning for each that vanished, and `older` for each host whose live
/// configuration is newer than the backup the run would restore. Nothing is written.
pub async fn probes(shared: &RunShared, w: &World) -> Vec<Probe> {
    let mut out = Vec::new();
    let Some(storage) = shared.storage.as_deref() else {
        return out;
    };
    if !reads_backups(w) {
        return out;
    }
    let a = assess(w, storage, &mut Remembered::read_only(&w.dir)).await;
    for (c, newest) in &a.newest {
        let Some(n) = newest else {
            continue;
        };
        let limit = freshness::limit(&w.answers, c);
        let why = freshness::stale(c, Some(n), limit, w.run.now);
        let ok = why.is_none();
        let detail = why.map_or_else(
            || {
                format!(
                    "the newest {}, {}, is {} old (max_backup_age.{c}: {})",
                    freshness::what(c),
                    crate::storage::shown(&n.object),
                    freshness::shown(w.run.now - n.taken_at),
                    freshness::shown_limit(limit)
                )
            },
            |s| {
                format!(
                    "{}; {}",
                    s.text,
                    freshness::stale_advice(std::slice::from_ref(&s))
                )
            },
        );
        out.push(probe("fresh", None, ok, shared.masker.mask(&detail)));
    }
    for v in &a.vanished {
        out.push(Probe {
            warning: true,
            ..probe("vanished", None, true, shared.masker.mask(v))
        });
    }
    for (host, live, chosen) in older_hosts(shared, w).await {
        let (ok, detail) = match notolder::refusal(&host, &live, &chosen) {
            Some(why) if !w.run.allow_older => (false, why),
            Some(_) => (
                true,
                format!(
                    "{} is older than the configuration in place, {}: restored as --allow-older allows",
                    crate::storage::shown(&chosen),
                    crate::storage::shown(&live)
                ),
            ),
            None => (
                true,
                format!(
                    "{} is not older than the configuration in place, {}",
                    crate::storage::shown(&chosen),
                    crate::storage::shown(&live)
                ),
            ),
        };
        out.push(probe("older", Some(&host), ok, shared.masker.mask(&detail)));
    }
    out
}

/// Each host a `not_older` step would run on that has a restore marker: the host, the backup in
/// place and the backup the run would restore (`latest` resolved). A marker that cannot be read is
/// left to the step.
async fn older_hosts(shared: &RunShared, w: &World) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for ps in w
        .plan
        .main
        .steps
        .iter()
        .filter(|s| s.step.action == "not_older")
    {
        for host in &ps.hosts {
            let Some(ctx) = super::probe::planned(shared, ps, host) else {
                continue;
            };
            let Some(args) = super::probe::rendered(shared, ps, &ctx) else {
                continue;
            };
            let arg = |k: &str| args.get(k).and_then(J::as_str).map(str::to_string);
            let (Some(marker), Some(mut chosen)) = (arg("marker"), arg("backup")) else {
                continue;
            };
            if let Some(s) = shared.storage.as_deref()
                && let Ok(name) = crate::authentic::resolve_config(s, &chosen, &shared.trust).await
            {
                chosen = name;
            }
            let Some(h) = shared.hosts.get(host) else {
                continue;
            };
            let become_ = shared.become_of(&ps.step, h);
            let transport = shared.transport(host);
            if let Ok(Some(live)) = notolder::in_place(transport.as_ref(), become_, &marker).await {
                out.push((host.clone(), live, chosen));
            }
        }
    }
    out
}

/// At a terminal, before a restore that would put a configuration older than the one in place:
/// what and where, and the question. Yes lets the run restore it (as `--allow-older`); no stops
/// the run before anything is touched.
pub async fn ask(o: &crate::options::Options, w: &mut World) -> Result<(), Failure> {
    let shared = super::prepare::shared(
        o,
        w,
        crate::report::events::Events::default(),
        Default::default(),
    )?;
    let found = older_hosts(&shared, w).await;
    for t in shared.transports.values() {
        t.close().await;
    }
    let refusals: Vec<String> = found
        .iter()
        .filter_map(|(host, live, chosen)| notolder::refusal(host, live, chosen))
        .map(|why| shared.masker.mask(&why))
        .collect();
    if refusals.is_empty() {
        return Ok(());
    }
    for why in &refusals {
        eprintln!("{why}");
    }
    let yes = dialoguer::Confirm::new()
        .with_prompt("Restore the older configuration backup all the same?")
        .default(false)
        .interact_opt()
        .ok()
        .flatten()
        .unwrap_or(false);
    if !yes {
        return Err(Failure::Failed(
            "not confirmed: the older configuration backup was not restored; nothing was run, and every host is as it was".into(),
        ));
    }
    w.run.allow_older = true;
    // The run, and its RTO, start when the answer is given.
    w.run.started_at = chrono::Utc::now();
    Ok(())
}
