//! The endpoints under `/api/v1/`. Their OpenAPI 3 description (`openapi`) is served at
//! `/api/v1/openapi.json`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value as J, json};

use super::{Server, problem};

/// The name of the token a request came with.
#[derive(Clone)]
pub struct Who(pub String);

pub fn router(s: Arc<Server>) -> Router {
    Router::new()
        .route(
            "/openapi.json",
            get(|| async { Json(super::openapi::openapi()) }),
        )
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/backups", get(backups).post(start_backup))
        .route("/restores", post(start_restore))
        .route("/verify", post(start_verify))
        .route("/drills", post(start_drill))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/events", get(events))
        .route("/jobs/{id}/cancel", post(cancel))
        .with_state(s)
}

/// `setup standalone list --json` in the server's folder; why not, when it cannot be listed.
/// The backups in storage as `list` shows them, read in-process (on a blocking thread: storage and
/// disk) and kept for a few seconds, so that a dashboard, `/status` and `/metrics` read together
/// ask the storage once.
pub(super) async fn list(s: &Server) -> Result<J, String> {
    let generation = s.jobs.ended.load(std::sync::atomic::Ordering::SeqCst);
    if let Some(fresh) = s.listed.fresh(generation) {
        return Ok(fresh);
    }
    let o = s.options.clone();
    let got = tokio::task::spawn_blocking(move || crate::commands::list::listing(&o))
        .await
        .map_err(|e| format!("the listing stopped: {e}"))?;
    match got {
        Ok(listed) => {
            s.listed.keep(generation, listed.clone());
            Ok(listed)
        }
        Err(f) => Err(super::failed::said(&s.options, "listing the storage", f).join("\n")),
    }
}

async fn backups(State(s): State<Arc<Server>>) -> Response {
    match list(&s).await {
        Ok(j) => Json(j).into_response(),
        Err(why) => problem(
            StatusCode::BAD_GATEWAY,
            "the storage cannot be listed",
            &why,
        ),
    }
}

/// The next time a daily `HH:MM` (or, with a weekday, a weekly one) comes, UTC.
fn next_run(weekday: Option<u32>, hour: u32, minute: u32) -> String {
    use chrono::{Datelike, Duration, Timelike};
    let now = chrono::Utc::now();
    let mut t = now
        .with_hour(hour)
        .and_then(|t| t.with_minute(minute))
        .and_then(|t| t.with_second(0))
        .unwrap_or(now);
    while t <= now || weekday.is_some_and(|d| t.weekday().num_days_from_sunday() != d) {
        t += Duration::days(1);
    }
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The folder's scheduled jobs and when each runs next (UTC).
pub(super) fn next_runs(o: &crate::options::Options) -> Vec<J> {
    crate::commands::schedule::jobs(o)
        .unwrap_or_default()
        .iter()
        .map(|j| json!({"job": j.what(), "at": next_run(j.weekday, j.hour, j.minute)}))
        .collect()
}

async fn status(State(s): State<Arc<Server>>) -> Response {
    Json(status_json(&s).await).into_response()
}

/// `/metrics`: what `/status` says, in Prometheus text format.
async fn metrics(State(s): State<Arc<Server>>) -> Response {
    let st = status_json(&s).await;
    let mut out = String::from(
        "# HELP setup_newest_backup_age_seconds Age of the newest trusted backup of each kind in storage.\n# TYPE setup_newest_backup_age_seconds gauge\n",
    );
    for kind in ["config", "analytics"] {
        if let Some(age) = st["backups"][kind]["rpo_seconds"].as_i64() {
            out += &format!("setup_newest_backup_age_seconds{{kind=\"{kind}\"}} {age}\n");
        }
    }
    out += "# HELP setup_newest_backup_too_old 1 when the newest backup of a kind is older than its max_backup_age.\n# TYPE setup_newest_backup_too_old gauge\n";
    for kind in ["config", "analytics"] {
        if st["backups"][kind]["rpo_seconds"].is_i64() {
            let old = u8::from(st["backups"][kind]["too_old"] == true);
            out += &format!("setup_newest_backup_too_old{{kind=\"{kind}\"}} {old}\n");
        }
    }
    out += "# HELP setup_storage_up 1 when the storage could be listed.\n# TYPE setup_storage_up gauge\n";
    out += &format!(
        "setup_storage_up {}\n",
        u8::from(st["storage_error"].is_null())
    );
    let mut by: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for j in s.jobs.all() {
        *by.entry(j["status"].as_str().unwrap_or("unknown").to_string())
            .or_default() += 1;
    }
    out += "# HELP setup_jobs Jobs of this server by status.\n# TYPE setup_jobs gauge\n";
    for (status, n) in by {
        out += &format!("setup_jobs{{status=\"{status}\"}} {n}\n");
    }
    if let Some(d) = st["last_drill"].as_object() {
        out += "# HELP setup_last_drill_passed 1 when the last drill passed.\n# TYPE setup_last_drill_passed gauge\n";
        out += &format!(
            "setup_last_drill_passed {}\n",
            u8::from(d["status"] == "passed")
        );
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        out,
    )
        .into_response()
}

/// What `/status` answers: the newest backup of each kind and its age (none when the storage
/// cannot be listed: `storage_error` says why), the next runs, the last drill.
pub(super) async fn status_json(s: &Server) -> J {
    let (listed, storage_error) = match list(s).await {
        Ok(j) => (j, None),
        Err(why) => (json!({"backups": []}), Some(why)),
    };
    let answers = crate::world::load_settings(&s.options).ok().map(|(a, _)| a);
    let mut kinds = serde_json::Map::new();
    for (kind, prefix) in [("config", "director-config-"), ("analytics", "analytics-")] {
        let limit = answers.as_ref().map_or_else(
            || crate::freshness::default_limit(kind),
            |a| crate::freshness::limit(a, kind),
        );
        let newest = listed["backups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|b| b["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
            .filter(|b| b["refused"].is_null())
            .min_by_key(|b| b["age_seconds"].as_i64().unwrap_or(i64::MAX))
            .cloned();
        kinds.insert(
            kind.into(),
            json!({
                "newest": newest.as_ref().map(|b| b["name"].clone()),
                "taken_at": newest.as_ref().map(|b| b["taken_at"].clone()),
                "rpo_seconds": newest.as_ref().map(|b| b["age_seconds"].clone()),
                "max_age_seconds": limit.num_seconds(),
                "too_old": newest.as_ref().is_some_and(|b| b["age_seconds"].as_i64().is_some_and(|a| a > limit.num_seconds())),
            }),
        );
    }
    let next = next_runs(&s.options);
    let last_drill = crate::commands::drill::past(&s.dir)
        .into_iter()
        .next()
        .filter(|(_, e)| !e.is_null())
        .map(|(id, e)| json!({"id": id, "status": e["status"], "started_at": e["started_at"], "rto": e["rto"], "left_behind": e["left_behind"]}));
    json!({
        "storage": listed["storage"],
        "storage_error": storage_error,
        "backups": kinds,
        "next_runs": next,
        "last_drill": last_drill,
        "site": site(s),
    })
}

/// The inventory's `site` variable.
pub(super) fn site(s: &Server) -> String {
    let mut diags = crate::diag::Diagnostics::default();
    let inventory = crate::world::load_inventory(&s.options, &mut diags);
    crate::commands::site_in(inventory.hosts.iter().map(|h| &h.vars))
}

async fn start(s: &Arc<Server>, kind: &str, args: Vec<String>, who: &str) -> Response {
    match s.jobs.start(kind, args, who).await {
        Ok(job) => (StatusCode::ACCEPTED, Json(job)).into_response(),
        Err((409, why)) => problem(
            StatusCode::CONFLICT,
            "the hosts are busy: another run holds their locks",
            &why,
        ),
        Err((_, why)) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the job did not start",
            &why,
        ),
    }
}

/// The body's JSON object (an empty body is `{}`).
fn body(b: Option<Json<J>>) -> Result<J, Box<Response>> {
    match b.map(|Json(j)| j) {
        None => Ok(json!({})),
        Some(j @ J::Object(_)) => Ok(j),
        Some(_) => Err(Box::new(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body is not a JSON object",
            "send e.g. {\"components\": [\"config\"]}",
        ))),
    }
}

/// A plain word, safe as one argument: a component, a backup name, a mode.
fn word(v: &J, what: &str) -> Result<Option<String>, Box<Response>> {
    match v {
        J::Null => Ok(None),
        J::String(s)
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            Ok(Some(s.clone()))
        }
        _ => Err(Box::new(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("`{what}` is not valid"),
            "use letters, digits and -_.:",
        ))),
    }
}

/// `components` of a body (config, analytics) as `--only` arguments; none is every component.
fn components(b: &J) -> Result<Vec<String>, Box<Response>> {
    let mut out = Vec::new();
    if !b["components"].is_null() && !b["components"].is_array() {
        return Err(Box::new(problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "`components` is a list",
            "send e.g. {\"components\": [\"config\"]}",
        )));
    }
    for c in b["components"].as_array().into_iter().flatten() {
        match word(c, "components")? {
            Some(c) if c == "config" || c == "analytics" => out.extend(["--only".into(), c]),
            _ => {
                return Err(Box::new(problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "unknown component",
                    "components are config and analytics",
                )));
            }
        }
    }
    Ok(out)
}

/// Why a backup cannot run in the server's folder, before any job starts: it has no backup.yml
/// (a DR site's folder restores, and backs up nothing).
pub(super) fn no_backup_yml(s: &Server) -> Option<String> {
    let b = &s.options.backup_file;
    (!b.path.is_file()).then(|| {
        format!(
            "a backup reads {} (what the DC backs up and where); this folder has none: it is a DR site's, or the file is elsewhere (--backup-file when the server starts)",
            b.shown
        )
    })
}

async fn start_backup(
    State(s): State<Arc<Server>>,
    Extension(who): Extension<Who>,
    b: Option<Json<J>>,
) -> Response {
    if let Some(why) = no_backup_yml(&s) {
        return problem(
            StatusCode::CONFLICT,
            "this folder backs up nothing: it has no backup.yml",
            &why,
        );
    }
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut args: Vec<String> = vec!["standalone".into(), "backup".into()];
    match components(&b) {
        Ok(only) => args.extend(only),
        Err(r) => return *r,
    }
    if b["force"] == true {
        args.push("--force".into());
    }
    start(&s, "backup", args, &who.0).await
}

async fn start_restore(
    State(s): State<Arc<Server>>,
    Extension(who): Extension<Who>,
    b: Option<Json<J>>,
) -> Response {
    let b = match body(b) {
        Ok(b) => b,
        Err(r) => return *r,
    };
    let mut args: Vec<String> = vec!["standalone".into(), "restore".into(), "--yes".into()];
    match components(&b) {
        Ok(only) => args.extend(only),
        Err(r) => return *r,
    }
    for (key, answer) in [
        ("config_backup", "config_backup"),
        ("analytics_mode", "analytics.mode"),
    ] {
        match word(&b[key], key) {
            Ok(Some(v)) => args.extend(["--set".into(), format!("{answer}={v}")]),
            Ok(None) => {}
            Err(r) => return *r,
        }
    }
    start(&s, "restore", args, &who.0).await
}

async fn start_verify(State(s): State<Arc<Server>>, Extension(who): Extension<Who>) -> Response {
    start(
        &s,
        "verify",
        vec!["standalone".into(), "verify".into()],
        &who.0,
    )
    .await
}

async fn start_drill(State(s): State<Arc<Server>>, Extension(who): Extension<Who>) -> Response {
    start(
        &s,
        "drill",
        vec!["standalone".into(), "drill".into()],
        &who.0,
    )
    .await
}

async fn jobs(State(s): State<Arc<Server>>) -> Response {
    Json(json!({ "jobs": s.jobs.all() })).into_response()
}

fn no_job(id: &str) -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "no such job",
        &format!("there is no job {id}: see /api/v1/jobs"),
    )
}

async fn job(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    match s.jobs.view(&id) {
        Some(j) => Json(j).into_response(),
        None => no_job(&id),
    }
}

async fn cancel(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    if s.jobs.view(&id).is_none() {
        return no_job(&id);
    }
    if s.jobs.cancel(&id) {
        (
            StatusCode::ACCEPTED,
            Json(json!({"id": id, "cancelling": true, "note": "the job stops and rolls back; see its status"})),
        )
            .into_response()
    } else {
        problem(
            StatusCode::CONFLICT,
            "the job is not running",
            &format!("job {id} has ended"),
        )
    }
}

/// The job's journal as Server-Sent Events: one event per line, named after its `event`, in order,
/// until the job has ended and every line is sent.
pub(super) async fn events(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    if s.jobs.view(&id).is_none() {
        return no_job(&id);
    }
    let path = s.jobs.journal(&id);
    let state = (s, id, path, 0usize, VecDeque::<String>::new(), false);
    let stream = futures_util::stream::unfold(
        state,
        |(s, id, path, mut at, mut queue, mut ended)| async move {
            loop {
                if let Some(line) = queue.pop_front() {
                    let name = serde_json::from_str::<crate::report::events::Event>(&line)
                        .map_or("line", |e| e.kind());
                    let event = Event::default().event(name).data(line);
                    return Some((Ok::<_, Infallible>(event), (s, id, path, at, queue, ended)));
                }
                if ended {
                    return None;
                }
                // Read what the journal has grown by; a job that has ended is read to its end once more.
                let running = s.jobs.running(&id);
                let fresh = grown(&path, at).await;
                if let Some(end) = fresh.iter().rposition(|b| *b == b'\n') {
                    for l in String::from_utf8_lossy(&fresh[..end]).lines() {
                        if !l.trim().is_empty() {
                            queue.push_back(l.to_string());
                        }
                    }
                    at += end + 1;
                }
                if !running {
                    ended = true;
                    continue;
                }
                if queue.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// What a file holds past `offset` (nothing when it cannot be read): a journal is tailed from
/// where the last read stopped, never read whole again.
async fn grown(path: &std::path::Path, offset: usize) -> Vec<u8> {
    use tokio::io::{AsyncReadExt, AsyncSeekExt};
    let mut out = Vec::new();
    if let Ok(mut f) = tokio::fs::File::open(path).await
        && f.seek(std::io::SeekFrom::Start(offset as u64))
            .await
            .is_ok()
    {
        let _ = f.read_to_end(&mut out).await;
    }
    out
}
