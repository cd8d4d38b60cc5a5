//! `analytics_gate` decides which analytics weeks to restore; `analytics_record` records one as restored.

use serde_json::{Value as J, json};
use tokio::io::AsyncReadExt;

use crate::docs::actions::{GateArgs, RecordArgs};
use crate::gate::{self, Input, Mode, Pattern, Selected, State};
use crate::report::events::Event;
use crate::task::{Outcome, TaskCtx, Undo};
use crate::transport::{Program, quote};

const DEFAULT_STATE: &str = "/var/lib/setup/analytics-state.json";

async fn read_state(ctx: &TaskCtx<'_>, path: &str) -> Result<State, String> {
    // Only a state file that is not there means "nothing restored yet"; one that cannot be read
    // is an error, or every week would be restored again.
    let probe = ctx
        .transport
        .exec(ctx.request(crate::transport::Program::Shell(format!(
            "if [ -e {p} ] || [ -L {p} ]; then echo present; else echo absent; fi",
            p = crate::transport::quote(path)
        ))))
        .await
        .map_err(|e| e.to_string())?;
    if probe.stdout.trim() == "absent" {
        return Ok(State::default());
    }
    let mut r = ctx.transport.get(path, ctx.become_()).await.map_err(|e| {
        format!(
            "the gate state {path} on {} cannot be read: {e}; fix its permissions or remove it",
            ctx.host.name
        )
    })?;
    let mut text = String::new();
    r.read_to_string(&mut text).await.map_err(|e| {
        format!(
            "the gate state {path} on {} cannot be read: {e}; fix its permissions or remove it",
            ctx.host.name
        )
    })?;
    if text.trim().is_empty() {
        return Ok(State::default());
    }
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "the gate state {path} on {} is not valid: {e}; fix or remove it",
            ctx.host.name
        )
    })
}

/// The gate's decision as JSON, shared by the action and by `--check`.
pub async fn decide(ctx: &TaskCtx<'_>) -> Result<J, String> {
    let storage = ctx
        .shared
        .storage
        .as_deref()
        .ok_or("no storage is configured")?;
    let a: GateArgs = ctx.typed()?;
    // A gate argument, else its `analytics.*` answer.
    let answers = &ctx.shared.analytics;
    let pattern = Pattern::new(
        &(a.pattern.or_else(|| answers.pattern.clone()))
            .unwrap_or_else(|| gate::DEFAULT_PATTERN.into()),
    )?;
    let prefix = (a.prefix.or_else(|| answers.prefix.clone()))
        .unwrap_or_else(|| pattern.literal_prefix().to_string());
    let mode_text = (a.mode.or_else(|| answers.mode.clone())).unwrap_or_else(|| "weekly".into());
    let mode =
        Mode::parse(&mode_text).ok_or_else(|| format!("invalid analytics mode `{mode_text}`"))?;
    let kind_text =
        (a.snapshots.or_else(|| answers.snapshots.clone())).unwrap_or_else(|| "incremental".into());
    let kind = gate::Snapshots::parse(&kind_text).ok_or_else(|| {
        format!("invalid analytics.snapshots `{kind_text}`: incremental or cumulative")
    })?;
    let since = match a.since.or_else(|| answers.since.clone()) {
        Some(s) => Some(
            chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .map_err(|e| format!("analytics.since `{s}`: {e}"))?,
        ),
        None => None,
    };
    let state_file = a.state_file.unwrap_or_else(|| DEFAULT_STATE.into());
    let objects = storage.list(&prefix).await.map_err(|e| e.to_string())?;
    let names: Vec<String> = objects
        .into_iter()
        .map(|o| o.name)
        .filter(|n| !crate::storage::is_companion(n))
        .collect();
    let state = read_state(ctx, &state_file).await?;
    // A drill on a site whose analytics is up to date would exercise no day: it takes the newest
    // week the live site has restored again (into its sandbox; the state is never written).
    let rewound = a
        .newest_week_again
        .then_some(state.through)
        .flatten()
        .map(|through| {
            let before = gate::week_monday(through) - chrono::Duration::days(1);
            State {
                through: Some(before),
                history: state
                    .history
                    .iter()
                    .filter(|h| h.date <= before)
                    .cloned()
                    .collect(),
            }
        });
    let floor = rewound.as_ref().map_or(state.through, |r| r.through);
    // Every snapshot the gate could choose is checked as a restore checks it: the gate chooses
    // among those whose signatures verify, as `latest` does.
    let today = ctx.shared.run.now.date_naive();
    let mut checks = gate::Checks::default();
    for name in &names {
        let Some(date) = pattern.date_of(name) else {
            continue;
        };
        if !gate::safe_name(name) || date > today || floor.is_some_and(|t| date <= t) {
            continue;
        }
        match crate::authentic::check(storage, name, &ctx.shared.trust).await {
            Ok(v) if v.unsigned => {
                checks.unsigned.insert(name.clone());
            }
            Ok(_) => {}
            Err(why) => {
                checks.refused.insert(name.clone(), why);
            }
        }
    }
    let decide = |state: &State| {
        gate::decide(&Input {
            names: &names,
            checks: &checks,
            pattern: &pattern,
            state,
            now: ctx.shared.run.now,
            mode,
            kind,
            since,
        })
    };
    let mut d = decide(&state);
    let mut again = None;
    if d.selected.is_empty()
        && let (Some(rewound), Some(through)) = (&rewound, state.through)
    {
        let newest = decide(rewound);
        if !newest.selected.is_empty() {
            again = Some(format!(
                "the live site is restored through {through}, so no day is new: the drill restores its newest week, {}, again",
                gate::week_label(through)
            ));
            d = newest;
        }
    }
    let mut v = serde_json::to_value(&d).map_err(|e| e.to_string())?;
    if let Some(text) = again {
        v["again"] = J::String(text);
    }
    v["state_file"] = J::String(state_file);
    v["host"] = J::String(ctx.host.name.clone());
    Ok(v)
}

pub async fn gate(ctx: &TaskCtx<'_>) -> Outcome {
    match decide(ctx).await {
        Ok(v) => {
            ctx.events().emit(Event::Gate {
                decision: v.clone(),
            });
            let selected = v["selected"].as_array().cloned().unwrap_or_default();
            let weeks: std::collections::BTreeSet<String> =
                selected.iter().map(|s| s["week"].to_string()).collect();
            let mut o = Outcome::ok(format!(
                "{} snapshot(s) of {} week(s) to restore",
                selected.len(),
                weeks.len()
            ))
            .with_data(v.clone());
            o.output = crate::gate::text::render(&v);
            o
        }
        Err(e) => Outcome::failed(e),
    }
}

pub async fn record(ctx: &TaskCtx<'_>) -> Outcome {
    let RecordArgs {
        state_file,
        snapshot,
    } = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let snap: Selected = match serde_json::from_value::<SnapshotArg>(snapshot) {
        Ok(s) => match chrono::NaiveDate::parse_from_str(&s.date, "%Y-%m-%d") {
            Ok(date) => Selected {
                name: s.name,
                date,
                week: s.week.unwrap_or_else(|| gate::week_label(date)),
            },
            Err(e) => return Outcome::failed(format!("snapshot date `{}`: {e}", s.date)),
        },
        _ => {
            return Outcome::failed(
                "`analytics_record` needs `snapshot: {name, date}` (e.g. `{{ item }}` over the gate's `selected`)",
            );
        }
    };
    let state = match read_state(ctx, &state_file).await {
        Ok(s) => s,
        Err(e) => return Outcome::failed(e),
    };
    let next = gate::record(&state, &snap, ctx.shared.run.now);
    if next == state {
        return Outcome::ok(format!("{} already recorded", snap.name));
    }
    // The state as it was before this run is kept beside it, once per run, so a rollback (or the
    // `--resume` of a killed run) puts it back byte for byte: a failed run records nothing.
    let run = &ctx.shared.run.id;
    let (s, a) = (
        quote(&state_file),
        quote(&format!("{state_file}.pre-restore-{run}")),
    );
    let keep = format!(
        "set -eu; s={s}; a={a}; if [ -e \"$s\" ] && [ ! -e \"$a\" ]; then cp -p \"$s\" \"$a\"; fi; \
         if [ -e \"$s\" ]; then echo present; else echo absent; fi"
    );
    let before = match ctx.transport.exec(ctx.request(Program::Shell(keep))).await {
        Ok(out) if out.success() => out.stdout.trim().to_string(),
        Ok(out) => return Outcome::from_exec(&out),
        Err(e) => return Outcome::from_transport(&e),
    };
    // Undone newest first: the first undo moves the kept state back; when there was no state
    // before, the record that made it removes it.
    let undo = Undo {
        program: Program::Shell(if before == "absent" {
            format!(
                "set -eu; s={s}; a={a}; if [ -e \"$a\" ]; then mv \"$a\" \"$s\"; else rm -f \"$s\"; fi"
            )
        } else {
            format!("set -eu; s={s}; a={a}; if [ -e \"$a\" ]; then mv \"$a\" \"$s\"; fi")
        }),
        describe: if before == "absent" {
            format!("removed {state_file}, which this run made")
        } else {
            format!("put the previous {state_file} back")
        },
        env: Vec::new(),
    };
    let body = serde_json::to_vec_pretty(&next).unwrap_or_default();
    // `put` writes a temporary file and renames it: the state changes atomically or not at all.
    match ctx
        .transport
        .put(
            &state_file,
            Box::new(std::io::Cursor::new(body)),
            Some(0o644),
            ctx.become_(),
        )
        .await
    {
        Ok(_) => Outcome::changed(format!("restored through {} ({})", snap.date, snap.week))
            .with_data(json!({"through": next.through}))
            .with_undo(undo),
        Err(e) => Outcome::failed(e.to_string()),
    }
}

#[derive(serde::Deserialize)]
struct SnapshotArg {
    name: String,
    date: String,
    week: Option<String>,
}
