//! The endpoints under `/api/v1/` that read the folder's state and start and follow its jobs
//! (`storage` and `schedule` have their own). Each answers a type of its own and fails with a
//! `Problem`; the `#[utoipa::path]` beside each handler is its part of the OpenAPI document
//! (`openapi`), and `routes` routes them.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use utoipa::ToSchema;

use super::Server;
use super::body::{Asked, Body, Sent};
use super::jobs::{Job, Kind, Record};
use super::problem::Problem;
use super::schedule::{NextRun, next_runs};

/// The name of the token a request came with.
#[derive(Clone)]
pub struct Who(pub String);

/// `GET /backups`: the backups in storage, as `setup standalone list --json` gives them. The
/// server serves the listing the library made as it is (its format is the list command's, which
/// has more than this); this type is what the server reads of it, and what the document says of it.
#[derive(Default, Deserialize, ToSchema)]
pub struct Listing {
    /// The storage, described.
    pub storage: Option<String>,
    pub backups: Vec<Listed>,
}

/// A backup in storage.
#[derive(Deserialize, ToSchema)]
pub struct Listed {
    pub name: String,
    /// Bytes.
    pub size: u64,
    /// When it was taken (its manifest's time, else its name's; UTC).
    pub taken_at: Option<String>,
    /// Its age; null when its time is unknown or in the future.
    pub age_seconds: Option<i64>,
    /// It has a signature.
    #[serde(default)]
    pub signed: bool,
    /// The trusted key that signed it.
    pub signer: Option<String>,
    /// Why it is not to be trusted; null when it is (or nothing is checked).
    pub refused: Option<String>,
}

impl Listing {
    /// What the server reads of the library's listing (nothing, when it is not one).
    pub fn of(listed: &J) -> Listing {
        Listing::deserialize(listed).unwrap_or_default()
    }
}

/// `setup standalone list --json` in the server's folder; why not, when it cannot be listed.
/// The backups in storage as `list` shows them, read in-process (on a blocking thread: storage and
/// disk) and kept for a few seconds, so that a dashboard, `/status` and `/metrics` read together
/// ask the storage once. It is the list command's own document (`commands::list`), served as it is.
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

#[utoipa::path(
    get,
    path = "/api/v1/backups",
    operation_id = "list_backups",
    tag = "state",
    summary = "The backups in storage",
    description = "The backups in storage: name, time, age, size, and whether a trusted key signed each.",
    responses(
        (status = 200, description = "The listing", body = Listing),
        (status = 502, description = "The storage cannot be listed", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn backups(State(s): State<Arc<Server>>) -> Result<Json<J>, Problem> {
    list(&s)
        .await
        .map(Json)
        .map_err(|why| Problem::new(StatusCode::BAD_GATEWAY, "the storage cannot be listed", why))
}

/// `GET /status`: are we protected.
#[derive(Serialize, ToSchema)]
pub struct Status {
    /// The inventory's `site`.
    pub site: String,
    /// The storage, as the listing describes it; null when it cannot be listed.
    pub storage: Option<String>,
    /// Why the storage cannot be listed (the backups are then unknown); null when it can.
    pub storage_error: Option<String>,
    /// The newest trusted backup of each kind.
    pub backups: Kinds,
    /// The scheduled runs and when each comes next (UTC).
    pub next_runs: Vec<NextRun>,
    /// The newest drill with evidence; null before the first.
    pub last_drill: Option<LastDrill>,
}

/// Of each kind of backup, the newest.
#[derive(Serialize, ToSchema)]
pub struct Kinds {
    pub config: Newest,
    pub analytics: Newest,
}

impl Kinds {
    /// Each kind, by its name.
    pub fn each(&self) -> [(&'static str, &Newest); 2] {
        [("config", &self.config), ("analytics", &self.analytics)]
    }
}

/// The newest trusted backup of a kind, and its age against the kind's `max_backup_age`.
#[derive(Serialize, ToSchema)]
pub struct Newest {
    /// Its name; null when there is none.
    pub newest: Option<String>,
    /// When it was taken (UTC).
    pub taken_at: Option<String>,
    /// Its age in seconds: what would be lost were the site lost now (the RPO).
    pub rpo_seconds: Option<i64>,
    /// The kind's `max_backup_age`, in seconds.
    pub max_age_seconds: i64,
    /// Beyond it: a restore, a drill and verify refuse the backup.
    pub too_old: bool,
}

/// The newest drill, from its evidence (`.setup/drills/ID/report.json`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct LastDrill {
    #[serde(default)]
    pub id: String,
    /// passed, or what went wrong.
    pub status: Option<String>,
    pub started_at: Option<String>,
    /// Each component's RTO against its target (`component`, `seconds`, `target_seconds`,
    /// `met`), as the drill's report has it: the report's own format (`report::drill`), passed on
    /// as it is.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub rto: J,
    /// What the drill left behind: "nothing", why it is not known, or each host and what was
    /// found there; as the drill's report has it.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub left_behind: J,
}

#[utoipa::path(
    get,
    path = "/api/v1/status",
    operation_id = "status",
    tag = "state",
    summary = "Are we protected",
    description = "Are we protected: the newest backup of each kind with its age (the RPO), the next scheduled runs, the last drill.",
    responses((status = 200, description = "The state of the folder's protection", body = Status)),
)]
pub(super) async fn status(State(s): State<Arc<Server>>) -> Json<Status> {
    Json(status_of(&s).await)
}

#[utoipa::path(
    get,
    path = "/api/v1/metrics",
    operation_id = "metrics",
    tag = "state",
    summary = "Prometheus metrics",
    description = "Prometheus text: the age of the newest backup of each kind, whether the storage answers, the jobs by status, whether the last drill passed.",
    responses((status = 200, description = "Prometheus text format 0.0.4", body = String, content_type = "text/plain; version=0.0.4")),
)]
/// `/metrics`: what `/status` says, in Prometheus text format.
pub(super) async fn metrics(State(s): State<Arc<Server>>) -> impl IntoResponse {
    let st = status_of(&s).await;
    let mut out = String::from(
        "# HELP setup_newest_backup_age_seconds Age of the newest trusted backup of each kind in storage.\n# TYPE setup_newest_backup_age_seconds gauge\n",
    );
    for (kind, b) in st.backups.each() {
        if let Some(age) = b.rpo_seconds {
            out += &format!("setup_newest_backup_age_seconds{{kind=\"{kind}\"}} {age}\n");
        }
    }
    out += "# HELP setup_newest_backup_too_old 1 when the newest backup of a kind is older than its max_backup_age.\n# TYPE setup_newest_backup_too_old gauge\n";
    for (kind, b) in st.backups.each() {
        if b.rpo_seconds.is_some() {
            let old = u8::from(b.too_old);
            out += &format!("setup_newest_backup_too_old{{kind=\"{kind}\"}} {old}\n");
        }
    }
    out += "# HELP setup_storage_up 1 when the storage could be listed.\n# TYPE setup_storage_up gauge\n";
    out += &format!(
        "setup_storage_up {}\n",
        u8::from(st.storage_error.is_none())
    );
    let mut by: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for j in s.jobs.all() {
        *by.entry(j.status.as_str()).or_default() += 1;
    }
    out += "# HELP setup_jobs Jobs of this server by status.\n# TYPE setup_jobs gauge\n";
    for (status, n) in by {
        out += &format!("setup_jobs{{status=\"{status}\"}} {n}\n");
    }
    if let Some(d) = &st.last_drill {
        out += "# HELP setup_last_drill_passed 1 when the last drill passed.\n# TYPE setup_last_drill_passed gauge\n";
        out += &format!(
            "setup_last_drill_passed {}\n",
            u8::from(d.status.as_deref() == Some("passed"))
        );
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// What `/status` answers: the newest backup of each kind and its age (none when the storage
/// cannot be listed: `storage_error` says why), the next runs, the last drill.
pub(super) async fn status_of(s: &Server) -> Status {
    let (listed, storage_error) = match list(s).await {
        Ok(j) => (Listing::of(&j), None),
        Err(why) => (Listing::default(), Some(why)),
    };
    let answers = crate::world::load_site(&s.options)
        .ok()
        .map(|site| site.answers);
    let newest = |kind: &str, prefix: &str| {
        let limit = answers.as_ref().map_or_else(
            || crate::freshness::default_limit(kind),
            |a| crate::freshness::limit(a, kind),
        );
        let newest = listed
            .backups
            .iter()
            .filter(|b| b.name.starts_with(prefix))
            .filter(|b| b.refused.is_none())
            .min_by_key(|b| b.age_seconds.unwrap_or(i64::MAX));
        Newest {
            newest: newest.map(|b| b.name.clone()),
            taken_at: newest.and_then(|b| b.taken_at.clone()),
            rpo_seconds: newest.and_then(|b| b.age_seconds),
            max_age_seconds: limit.num_seconds(),
            too_old: newest
                .and_then(|b| b.age_seconds)
                .is_some_and(|a| a > limit.num_seconds()),
        }
    };
    let backups = Kinds {
        config: newest("config", "director-config-"),
        analytics: newest("analytics", "analytics-"),
    };
    let last_drill = crate::commands::drill::past(&s.dir)
        .into_iter()
        .next()
        .filter(|(_, e)| !e.is_null())
        .and_then(|(id, e)| {
            LastDrill::deserialize(&e)
                .ok()
                .map(|d| LastDrill { id, ..d })
        });
    Status {
        site: site(s),
        storage: listed.storage,
        storage_error,
        backups,
        next_runs: next_runs(&s.options),
        last_drill,
    }
}

/// The inventory's `site` variable.
pub(super) fn site(s: &Server) -> String {
    let mut diags = crate::diag::Diagnostics::default();
    let inventory = crate::world::load_inventory(&s.options, &mut diags);
    crate::commands::site_in(inventory.hosts.iter().map(|h| &h.vars))
}

/// A job started: 202 with it.
async fn start(
    s: &Arc<Server>,
    kind: Kind,
    args: Vec<String>,
    who: &str,
) -> Result<(StatusCode, Json<Job>), Problem> {
    let job = s.jobs.start(kind, args, who).await?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// A component of the site, as a request names it.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Config,
    Analytics,
}

/// `POST /backups`: what to back up. Both keys may be left out; keys it does not know are ignored.
#[derive(Default, Deserialize, ToSchema)]
pub struct BackupRequest {
    /// The components to back up; none: every component.
    #[schema(value_type = Option<Vec<Component>>)]
    components: Option<Sent<Vec<Option<Sent<String>>>>>,
    /// Replace a backup that already exists (a day's analytics snapshot is taken once otherwise):
    /// only `true` does.
    #[schema(value_type = Option<bool>)]
    force: Option<Sent<bool>>,
}

/// `POST /restores`: what to restore. Every key may be left out; keys it does not know are
/// ignored.
#[derive(Default, Deserialize, ToSchema)]
pub struct RestoreRequest {
    /// The components to restore; none: every component.
    #[schema(value_type = Option<Vec<Component>>)]
    components: Option<Sent<Vec<Option<Sent<String>>>>>,
    /// The configuration backup to restore: a backup's name, or latest.
    #[schema(value_type = Option<String>)]
    config_backup: Option<Sent<String>>,
    #[schema(schema_with = analytics_modes)]
    analytics_mode: Option<Sent<String>>,
}

fn analytics_modes() -> utoipa::openapi::schema::Object {
    super::body::one_of(
        crate::answers::MODES,
        "How the analytics are restored (the answer `analytics.mode`).",
    )
}

/// What a job request's body that is no JSON object is told.
fn not_an_object() -> Problem {
    Problem::invalid(
        "the body is not a JSON object",
        "send e.g. {\"components\": [\"config\"]}",
    )
}

impl Asked for BackupRequest {
    fn unsent() -> Result<Self, Problem> {
        Ok(Self::default())
    }
    fn misshapen() -> Problem {
        not_an_object()
    }
}

impl Asked for RestoreRequest {
    fn unsent() -> Result<Self, Problem> {
        Ok(Self::default())
    }
    fn misshapen() -> Problem {
        not_an_object()
    }
}

/// A plain word, safe as one argument: a component, a backup name, a mode. Left out (or null) is
/// none.
fn word(v: Option<&Sent<String>>, what: &str) -> Result<Option<String>, Problem> {
    match v {
        None => Ok(None),
        Some(Sent::Is(s))
            if !s.is_empty()
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            Ok(Some(s.clone()))
        }
        Some(_) => Err(Problem::invalid(
            format!("`{what}` is not valid"),
            "use letters, digits and -_.:",
        )),
    }
}

/// `components` of a request as `--only` arguments; none is every component.
fn components(c: Option<&Sent<Vec<Option<Sent<String>>>>>) -> Result<Vec<String>, Problem> {
    let listed = match c {
        None => return Ok(Vec::new()),
        Some(Sent::Is(listed)) => listed,
        Some(Sent::Other(_)) => {
            return Err(Problem::invalid(
                "`components` is a list",
                "send e.g. {\"components\": [\"config\"]}",
            ));
        }
    };
    let mut out = Vec::new();
    for c in listed {
        let component = match word(c.as_ref(), "components")?.as_deref() {
            Some("config") => Component::Config,
            Some("analytics") => Component::Analytics,
            _ => {
                return Err(Problem::invalid(
                    "unknown component",
                    "components are config and analytics",
                ));
            }
        };
        out.extend(["--only".to_string(), component.name().to_string()]);
    }
    Ok(out)
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Config => "config",
            Component::Analytics => "analytics",
        }
    }
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

#[utoipa::path(
    post,
    path = "/api/v1/backups",
    operation_id = "start_backup",
    tag = "jobs",
    summary = "Start a backup job",
    description = "Start a backup job (body: components, force). 202 with the job; 409 when another run holds the hosts, or when this folder has no backup.yml (a DR site's).",
    request_body(
        content = Option<BackupRequest>,
        description = "Optional: a request without a body (nor `Content-Type`) backs up every component.",
    ),
    responses(
        (status = 202, description = "The job, started", body = Job),
        (status = 409, description = "The hosts are locked by another run, or this folder has no backup.yml", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not valid", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn start_backup(
    State(s): State<Arc<Server>>,
    Extension(who): Extension<Who>,
    Body(b): Body<BackupRequest>,
) -> Result<(StatusCode, Json<Job>), Problem> {
    if let Some(why) = no_backup_yml(&s) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "this folder backs up nothing: it has no backup.yml",
            why,
        ));
    }
    let mut args: Vec<String> = vec!["standalone".into(), "backup".into()];
    args.extend(components(b.components.as_ref())?);
    if matches!(b.force, Some(Sent::Is(true))) {
        args.push("--force".into());
    }
    start(&s, Kind::Backup, args, &who.0).await
}

#[utoipa::path(
    post,
    path = "/api/v1/restores",
    operation_id = "start_restore",
    tag = "jobs",
    summary = "Start a restore job",
    description = "Start a restore job (body: components, config_backup, analytics_mode). 202 with the job; 409 when another run holds the hosts.",
    request_body(
        content = Option<RestoreRequest>,
        description = "Optional: a request without a body (nor `Content-Type`) restores every component, as the folder's answers say.",
    ),
    responses(
        (status = 202, description = "The job, started", body = Job),
        (status = 409, description = "The hosts are locked by another run", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The body is not valid", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn start_restore(
    State(s): State<Arc<Server>>,
    Extension(who): Extension<Who>,
    Body(b): Body<RestoreRequest>,
) -> Result<(StatusCode, Json<Job>), Problem> {
    let mut args: Vec<String> = vec!["standalone".into(), "restore".into(), "--yes".into()];
    args.extend(components(b.components.as_ref())?);
    for (key, value, answer) in [
        ("config_backup", &b.config_backup, "config_backup"),
        ("analytics_mode", &b.analytics_mode, "analytics.mode"),
    ] {
        if let Some(v) = word(value.as_ref(), key)? {
            args.extend(["--set".into(), format!("{answer}={v}")]);
        }
    }
    start(&s, Kind::Restore, args, &who.0).await
}

#[utoipa::path(
    post,
    path = "/api/v1/verify",
    operation_id = "start_verify",
    tag = "jobs",
    summary = "Start a verify job",
    description = "Start a verify job: every backup a restore would read, downloaded and checked. 202 with the job.",
    responses(
        (status = 202, description = "The job, started", body = Job),
        (status = 409, description = "The hosts are locked by another run", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn start_verify(
    State(s): State<Arc<Server>>,
    Extension(who): Extension<Who>,
) -> Result<(StatusCode, Json<Job>), Problem> {
    let args = vec!["standalone".into(), "verify".into()];
    start(&s, Kind::Verify, args, &who.0).await
}

#[utoipa::path(
    post,
    path = "/api/v1/drills",
    operation_id = "start_drill",
    tag = "jobs",
    summary = "Start a drill job",
    description = "Start a drill job: the newest backups restored into a sandbox, checked, removed. 202 with the job.",
    responses(
        (status = 202, description = "The job, started", body = Job),
        (status = 409, description = "The hosts are locked by another run", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn start_drill(
    State(s): State<Arc<Server>>,
    Extension(who): Extension<Who>,
) -> Result<(StatusCode, Json<Job>), Problem> {
    let args = vec!["standalone".into(), "drill".into()];
    start(&s, Kind::Drill, args, &who.0).await
}

/// `GET /jobs`: every job of this server.
#[derive(Serialize, ToSchema)]
pub struct Jobs {
    /// Newest first, each as its record says (without its progress).
    pub jobs: Vec<Record>,
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs",
    operation_id = "list_jobs",
    tag = "jobs",
    summary = "Every job",
    description = "Every job, newest first.",
    responses((status = 200, description = "The jobs", body = Jobs)),
)]
pub(super) async fn jobs(State(s): State<Arc<Server>>) -> Json<Jobs> {
    Json(Jobs { jobs: s.jobs.all() })
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}",
    operation_id = "get_job",
    tag = "jobs",
    summary = "One job",
    description = "One job: status (running, succeeded, failed, cancelled, interrupted, refused), tasks done of total, the step each host is on, RTO, RPO and the report once it ended.",
    params(("id" = String, Path, description = "The job's id (its run's)")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn job(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Result<Json<Job>, Problem> {
    s.jobs
        .view(&id)
        .map(Json)
        .ok_or_else(|| Problem::no_job(&id))
}

/// `POST /jobs/{id}/cancel`: the job was asked to stop.
#[derive(Serialize, ToSchema)]
pub struct Cancelling {
    pub id: String,
    /// Always true.
    pub cancelling: bool,
    pub note: &'static str,
}

#[utoipa::path(
    post,
    path = "/api/v1/jobs/{id}/cancel",
    operation_id = "cancel_job",
    tag = "jobs",
    summary = "Cancel a running job",
    description = "Cancel a running job as Ctrl-C would: it stops and rolls back.",
    params(("id" = String, Path, description = "The job's id (its run's)")),
    responses(
        (status = 202, description = "The job stops and rolls back", body = Cancelling),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The job has ended", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn cancel(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Cancelling>), Problem> {
    if s.jobs.view(&id).is_none() {
        return Err(Problem::no_job(&id));
    }
    if !s.jobs.cancel(&id) {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            "the job is not running",
            format!("job {id} has ended"),
        ));
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Cancelling {
            id,
            cancelling: true,
            note: "the job stops and rolls back; see its status",
        }),
    ))
}

#[utoipa::path(
    get,
    path = "/api/v1/jobs/{id}/events",
    operation_id = "job_events",
    tag = "jobs",
    summary = "A job's events",
    description = "The job's events as Server-Sent Events, from its journal, in order, until it ends.",
    params(("id" = String, Path, description = "The job's id (its run's)")),
    responses(
        (status = 200, description = "Server-Sent Events: each named after its journal line's `event`, its data the line (JSON)", body = String, content_type = "text/event-stream"),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ),
)]
/// The job's journal as Server-Sent Events: one event per line, named after its `event`, in order,
/// until the job has ended and every line is sent.
pub(super) async fn events(
    State(s): State<Arc<Server>>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, Problem> {
    if s.jobs.view(&id).is_none() {
        return Err(Problem::no_job(&id));
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
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
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
