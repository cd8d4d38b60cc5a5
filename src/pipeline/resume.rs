//! `--resume`: the run it resumes, named by its id, with the options it was started with; what that
//! run finished (skipped when its inputs are the same) and what it left to undo.

use crate::diag::Diag;
use crate::failure::Failure;
use crate::options::Options;
use crate::report::journal;
use crate::world::World;

/// The options a run is started with that decide what it does, as its start event records them:
/// a `--resume` of it runs with them. A `--set` that is a secret, or whose value the run masks, is
/// left out (the resumed run reads its secrets from its own sources).
pub(super) fn recorded_options(o: &Options, masker: &crate::secret::Masker) -> serde_json::Value {
    let sets: Vec<&String> = o
        .sets
        .iter()
        .filter(|s| {
            let (key, value) = s.split_once('=').unwrap_or((s, ""));
            // By its key, its value, or a name that says so: a secret is never written down.
            let named = [
                "password",
                "secret",
                "passphrase",
                "token",
                "key",
                "sas",
                "connection",
            ]
            .iter()
            .any(|w| key.to_lowercase().contains(w));
            !crate::answers::is_secret_key(key) && masker.mask(value) == value && !named
        })
        .collect();
    serde_json::json!({
        "force": o.force,
        "allow_unsigned": o.allow_unsigned,
        "allow_older": o.allow_older,
        "keep_going": o.keep_going,
        "only": o.filters.only,
        "skip": o.filters.skip,
        "limit": o.filters.limit,
        "now": o.now,
        "set": sets,
    })
}

/// `--resume`: the run it resumes named by its id (`latest` becomes the newest run's), and the
/// options it was started with added to those given now, so that the resumed run does what that
/// run was doing: its `--force`, `--only`/`--skip`/`--limit` (unless others are given), `--now`
/// (unless given) and its `--set` answers (those given now win).
pub fn resuming(mut o: Options) -> Result<Options, Failure> {
    let Some(wanted) = o.resume.clone() else {
        return Ok(o);
    };
    let id = if wanted == "latest" {
        journal::list_runs(&o.dir).into_iter().next()
    } else {
        Some(wanted)
    };
    let Some(id) = id else {
        return Err(no_earlier_run());
    };
    let path = journal::runs_dir(&o.dir).join(&id).join("journal.jsonl");
    let recorded = journal::started_options(&path).map_err(|e| unreadable(&id, &path, e))?;
    o.resume = Some(id.clone());
    let Some(r) = recorded else {
        return Ok(o);
    };
    let list = |k: &str| -> Vec<String> {
        r[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let mut kept = Vec::new();
    for (flag, on, field) in [
        ("--force", r["force"] == true, &mut o.force),
        (
            "--allow-unsigned",
            r["allow_unsigned"] == true,
            &mut o.allow_unsigned,
        ),
        ("--keep-going", r["keep_going"] == true, &mut o.keep_going),
        (
            "--allow-older",
            r["allow_older"] == true,
            &mut o.allow_older,
        ),
    ] {
        if on && !*field {
            *field = true;
            kept.push(flag.to_string());
        }
    }
    let f = &mut o.filters;
    if f.only.is_empty() && f.skip.is_empty() && f.limit.is_empty() {
        for (flag, given) in [("--only", "only"), ("--skip", "skip"), ("--limit", "limit")] {
            for v in list(given) {
                kept.push(format!("{flag} {v}"));
            }
        }
        (f.only, f.skip, f.limit) = (list("only"), list("skip"), list("limit"));
    }
    if o.now.is_none()
        && let Some(now) = r["now"].as_str()
    {
        o.now = Some(now.to_string());
        kept.push(format!("--now {now}"));
    }
    let sets = list("set");
    for s in &sets {
        kept.push(format!("--set {s}"));
    }
    o.sets = sets.into_iter().chain(o.sets).collect();
    if !kept.is_empty() {
        eprintln!(
            "resuming run {id} with the options it was started with: {}",
            kept.join(" ")
        );
    }
    Ok(o)
}

fn no_earlier_run() -> Failure {
    Failure::invalid(
        Diag::plain("resume", "--resume: there is no earlier run to resume")
            .help("run without --resume first"),
    )
}

/// The journal of the run `--resume` names (the newest when none is named).
fn resumed_journal(
    o: &Options,
    w: &World,
) -> Result<Option<(String, std::path::PathBuf)>, Failure> {
    let Some(wanted) = &o.resume else {
        return Ok(None);
    };
    let id = if wanted == "latest" {
        journal::list_runs(&w.dir).into_iter().next()
    } else {
        Some(wanted.clone())
    };
    let Some(id) = id else {
        return Err(no_earlier_run());
    };
    let path = journal::runs_dir(&w.dir).join(&id).join("journal.jsonl");
    Ok(Some((id, path)))
}

fn unreadable(id: &str, path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure::invalid(
        Diag::plain(
            "resume",
            format!("--resume {id}: cannot read {}: {e}", path.display()),
        )
        .help("see `setup standalone status` for run ids"),
    )
}

/// What the run named by `--resume` finished, to be skipped when its inputs are the same, and what
/// it left to undo when it was killed while it rolled back.
pub(super) fn resumed(
    o: &Options,
    w: &World,
) -> Result<(journal::Done, Vec<journal::PendingUndo>), Failure> {
    let Some((id, path)) = resumed_journal(o, w)? else {
        return Ok(Default::default());
    };
    let done = journal::read_done(&path).map_err(|e| unreadable(&id, &path, e))?;
    let pending = journal::pending_undo(&path).map_err(|e| unreadable(&id, &path, e))?;
    Ok((done, pending))
}
