//! The page at `/`: server-rendered, no build step, nothing fetched from elsewhere (its style and
//! its few lines of script are in the binary). A person signs in once with a token and gets a
//! session cookie (HttpOnly, SameSite=Strict, eight hours); every form carries the session's CSRF
//! token, checked on each POST. Dashboard (RPO per kind, colour-coded; newest backups; next runs;
//! the last drill), backups (list, verify, restore behind the typed name of the site), jobs (live
//! progress over SSE, the summary at the end); storage and schedule are in `settings`.

mod logout;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{ConnectInfo, Form, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde_json::Value as J;

use super::jobs::{Kind, Status};
use super::problem::Problem;
use super::{Server, api, tokens};
use crate::report::drill_page::esc;

const COOKIE: &str = "setup_session";
const HOURS: i64 = 8;

#[derive(Clone)]
pub struct Session {
    pub(super) who: String,
    pub(super) csrf: String,
    until: chrono::DateTime<chrono::Utc>,
}

/// Signed-in sessions, by their cookie.
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

/// A value as the engine's JSON has it (an answer's or a document's setting, what a drill left
/// behind) as text: "-" for none.
pub(super) fn text(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Null => "-".into(),
        other => other.to_string(),
    }
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#222}header{background:#1c3d5a;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}header a{color:#fff;text-decoration:none}header b{margin-right:24px}main{padding:16px 24px;max-width:1000px}table{border-collapse:collapse;width:100%;margin:8px 0 20px}td,th{border:1px solid #dde;padding:5px 8px;text-align:left;font-size:14px}th{background:#f1f3f5}.ok{background:#ebfbee}.warn{background:#fff9db}.bad{background:#fff5f5}.card{display:inline-block;border:1px solid #dde;border-radius:6px;padding:10px 16px;margin:0 12px 12px 0;min-width:260px}button{padding:6px 14px;font-size:14px}input{padding:5px;font-size:14px}pre{background:#f8f9fa;padding:8px;font-size:12px;max-height:420px;overflow:auto}";

pub(super) fn page(title: &str, body: &str, signed_in: bool) -> Response {
    let nav = if signed_in {
        "<a href=\"/\">Dashboard</a><a href=\"/backups\">Backups</a><a href=\"/jobs\">Jobs</a><a href=\"/storage\">Storage</a><a href=\"/schedule\">Schedule</a>"
    } else {
        ""
    };
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · setup</title><style>{STYLE}</style></head><body><header><b>setup</b>{nav}</header><main><h1>{t}</h1>{body}</main></body></html>",
        t = esc(title)
    ))
    .into_response()
}

fn session_of(s: &Server, headers: &HeaderMap) -> Option<Session> {
    let id = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(&format!("{COOKIE}=")))
        .next()?
        .to_string();
    let mut map = s.sessions.0.lock().expect("sessions");
    match map.get(&id) {
        Some(sess) if sess.until > chrono::Utc::now() => Some(sess.clone()),
        Some(_) => {
            map.remove(&id);
            None
        }
        None => None,
    }
}

/// Pages need a session; a POST also needs its CSRF token (checked by each form handler).
async fn signed_in(State(s): State<Arc<Server>>, mut req: Request, next: Next) -> Response {
    let Some(sess) = session_of(&s, req.headers()) else {
        return Redirect::to("/login").into_response();
    };
    req.extensions_mut().insert(sess.clone());
    req.extensions_mut().insert(api::Who(sess.who.clone()));
    let (method, path) = (req.method().to_string(), req.uri().path().to_string());
    let response = next.run(req).await;
    s.audit(&sess.who, &method, &path, response.status().as_u16());
    response
}

/// The pages, `more` (the settings pages) among them, each behind the sign-in.
pub fn router(s: Arc<Server>, more: Router<Arc<Server>>) -> Router {
    let pages = Router::new()
        .route("/", get(dashboard))
        .route("/backups", get(backups))
        .route("/jobs", get(jobs))
        .route("/jobs/{id}", get(job))
        .route("/ui/jobs/{id}/events", get(api::events))
        .route("/ui/start", post(start))
        .route("/ui/logout", post(logout::logout))
        .merge(more)
        .layer(axum::middleware::from_fn_with_state(s.clone(), signed_in));
    Router::new()
        .route("/login", get(login_page).post(login))
        .merge(pages)
        .with_state(s)
}

async fn login_page() -> Response {
    page(
        "Sign in",
        "<form method=\"post\" action=\"/login\"><p>An API token of this server (<code>setup serve token add NAME</code>):</p><p><input type=\"password\" name=\"token\" id=\"token\" size=\"60\" autocomplete=\"off\" autofocus> <button id=\"signin\">Sign in</button></p></form>",
        false,
    )
}

#[derive(serde::Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(
    State(s): State<Arc<Server>>,
    ConnectInfo(super::tls::Peer(peer)): ConnectInfo<super::tls::Peer>,
    Form(f): Form<LoginForm>,
) -> Response {
    // As for the API: a valid token is never held back by its address's failures.
    let Some(who) = tokens::who(&s.dir, f.token.trim()) else {
        if let Some(r) = s.held_back(peer.ip()).or_else(|| s.failed_auth(peer.ip())) {
            s.audit("-", "POST", "/login", 429);
            return r.into_response();
        }
        s.audit("-", "POST", "/login", 401);
        let mut r = page(
            "Sign in",
            "<p class=\"bad\">That is not a token of this server.</p><p><a href=\"/login\">Try again</a></p>",
            false,
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    };
    // No session without random tokens: a guessable one would be worse than none.
    let (id, csrf) = match (tokens::random_hex(), tokens::random_hex()) {
        (Ok(id), Ok(csrf)) => (id, csrf),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("setup serve: no session: {e}");
            return Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "no session can be made",
                "the server cannot read the system's random source: see its log",
            )
            .into_response();
        }
    };
    s.sessions.0.lock().expect("sessions").insert(
        id.clone(),
        Session {
            who: who.clone(),
            csrf,
            until: chrono::Utc::now() + chrono::Duration::hours(HOURS),
        },
    );
    s.audit(&who, "POST", "/login", 303);
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{}",
        HOURS * 3600,
        if s.https { "; Secure" } else { "" }
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// 403 for a form whose CSRF token is not the session's.
pub(super) fn stale(sess: &Session, token: &str) -> Option<Response> {
    (token != sess.csrf).then(|| {
        Problem::new(
            StatusCode::FORBIDDEN,
            "the form is stale",
            "reload the page and try again",
        )
        .into_response()
    })
}

fn form(sess: &Session, action: &str, fields: &str, button: &str, id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"/ui/start\" style=\"display:inline\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"action\" value=\"{action}\">{fields}<button id=\"{id}\">{}</button></form> ",
        sess.csrf,
        esc(button)
    )
}

async fn dashboard(State(s): State<Arc<Server>>, Extension(sess): Extension<Session>) -> Response {
    let status = api::status_of(&s).await;
    let or_none = |v: Option<&str>| v.unwrap_or("-").to_string();
    let mut body = format!(
        "<p>Site <b>{}</b>, storage {}. Signed in as {}.</p>",
        esc(&status.site),
        esc(&or_none(status.storage.as_deref())),
        esc(&sess.who)
    );
    if let Some(why) = &status.storage_error {
        body += &format!(
            "<p class=\"bad\">The storage cannot be listed:</p><pre>{}</pre>",
            esc(why)
        );
    }
    // Green within a day and two hours of the daily backup, amber up to the kind's
    // max_backup_age, red beyond it (a restore, a drill and verify then fail) or with no backup.
    for ((kind, b), name) in status
        .backups
        .each()
        .into_iter()
        .zip(["Configuration", "Analytics"])
    {
        let class = match b.rpo_seconds {
            Some(_) if b.too_old => "bad",
            Some(r) if r <= 26 * 3600 => "ok",
            Some(_) => "warn",
            None => "bad",
        };
        let bound = format!(
            "<p>{} max_backup_age.{kind} ({})</p>",
            if b.too_old { "<b>Beyond</b>" } else { "Within" },
            crate::freshness::shown_limit(chrono::Duration::seconds(b.max_age_seconds))
        );
        body += &format!(
            "<div class=\"card {class}\" id=\"rpo-{kind}\"><h3>{name}</h3><p>Newest: {}</p><p>RPO: <b>{}</b></p>{bound}</div>",
            esc(&or_none(b.newest.as_deref())),
            b.rpo_seconds.map_or("no backup".into(), |r| format!(
                "{}h {:02}m",
                r / 3600,
                r % 3600 / 60
            ))
        );
    }
    body += "<h2>Next runs (UTC)</h2><table><tr><th>job</th><th>at</th></tr>";
    for n in &status.next_runs {
        body += &format!("<tr><td>{}</td><td>{}</td></tr>", esc(&n.job), esc(&n.at));
    }
    body += "</table><h2>Last drill</h2>";
    body += &match &status.last_drill {
        Some(d) => format!(
            "<p>{} {} (left behind: {})</p>",
            esc(&d.id),
            esc(&or_none(d.status.as_deref())),
            esc(&text(&d.left_behind))
        ),
        None => "<p>No drill yet.</p>".into(),
    };
    body += "<h2>Start</h2>";
    body += &form(&sess, "backup", "", "Start a backup", "start-backup");
    body += &form(&sess, "drill", "", "Start a drill", "start-drill");
    page("Dashboard", &body, true)
}

async fn backups(State(s): State<Arc<Server>>, Extension(sess): Extension<Session>) -> Response {
    let listed = match api::list(&s).await {
        Ok(j) => api::Listing::of(&j),
        Err(why) => {
            return page(
                "Backups",
                &format!(
                    "<p class=\"bad\">The storage cannot be listed:</p><pre>{}</pre>",
                    esc(&why)
                ),
                true,
            );
        }
    };
    let mut body = format!(
        "<p>{}</p><table id=\"backups\"><tr><th>backup</th><th>taken (UTC)</th><th>size</th><th>signed by</th></tr>",
        esc(listed.storage.as_deref().unwrap_or("-"))
    );
    for b in &listed.backups {
        body += &format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if b.refused.is_none() { "" } else { "bad" },
            esc(&b.name),
            esc(b.taken_at.as_deref().unwrap_or("-")),
            b.size,
            esc(&match (&b.signer, b.signed) {
                (Some(who), _) => who.clone(),
                (None, true) => "signed (no trusted_signers here to check it)".into(),
                (None, false) => "UNSIGNED".into(),
            })
        );
    }
    body += "</table><h2>Check or restore</h2>";
    body += &form(
        &sess,
        "verify",
        "",
        "Verify every backup a restore would read",
        "verify",
    );
    body += "<p>A restore replaces the live site. Type the site's name to confirm:</p>";
    body += &form(
        &sess,
        "restore",
        "<input name=\"confirm\" id=\"confirm\" placeholder=\"site name\"> ",
        "Restore the newest backups",
        "restore",
    );
    page("Backups", &body, true)
}

async fn jobs(State(s): State<Arc<Server>>) -> Response {
    let mut body = String::from(
        "<table id=\"jobs\"><tr><th>job</th><th>kind</th><th>status</th><th>by</th><th>started (UTC)</th></tr>",
    );
    for j in s.jobs.all() {
        body += &format!(
            "<tr><td><a href=\"/jobs/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            j.kind.as_str(),
            j.status.as_str(),
            esc(&j.requested_by),
            esc(&j.created_at),
            id = esc(&j.id)
        );
    }
    page("Jobs", &(body + "</table>"), true)
}

/// The live part of a job's page: each event of the journal as a line; the status once it ends.
const LIVE: &str = r#"<script>
const log = document.getElementById('events');
const src = new EventSource('/ui/jobs/' + document.getElementById('job-id').textContent + '/events');
src.onmessage = null;
for (const kind of ['run_started','task_started','task_finished','check','note','lock','rollback_started','undone','interrupted','run_finished']) {
  src.addEventListener(kind, (m) => {
    const e = JSON.parse(m.data);
    const what = e.event === 'task_finished' ? `${e.step} on ${e.host}: ${e.status}` :
      e.event === 'task_started' ? `${e.step} on ${e.host} started` :
      e.event === 'run_finished' ? `run ${e.status} (exit ${e.exit_code})` : (e.text || e.name || e.action || e.event);
    log.textContent += what + '\n';
    if (e.event === 'run_finished') { src.close(); setTimeout(() => location.reload(), 300); }
  });
}
</script>"#;

async fn job(State(s): State<Arc<Server>>, Path(id): Path<String>) -> Response {
    let Some(j) = s.jobs.view(&id) else {
        return Problem::new(StatusCode::NOT_FOUND, "no such job", &id).into_response();
    };
    let (r, progress) = (&j.record, j.progress.as_ref());
    let running = r.status == Status::Running;
    let mut body = format!(
        "<p>{} requested by {} at {}.</p><p>Status: <b id=\"status\">{}</b> · tasks {} of {}</p>",
        r.kind.as_str(),
        esc(&r.requested_by),
        esc(&r.created_at),
        r.status.as_str(),
        progress.map_or(0, |p| p.tasks_done),
        progress.map_or(0, |p| p.tasks)
    );
    if let Some(m) = &r.message {
        body += &format!("<pre>{}</pre>", esc(m));
    }
    if running {
        body += "<h2>Events</h2><pre id=\"events\"></pre>";
    } else {
        let out = std::fs::read_to_string(
            s.dir
                .join(".setup/serve/jobs")
                .join(format!("{}.out", r.id)),
        )
        .unwrap_or_default();
        body += &format!("<h2>Summary</h2><pre id=\"summary\">{}</pre>", esc(&out));
    }
    // The job's id, for the script.
    body += &format!("<span id=\"job-id\" hidden>{}</span>", esc(&id));
    if running {
        body += LIVE;
    }
    page(&format!("Job {id}"), &body, true)
}

#[derive(serde::Deserialize)]
struct StartForm {
    csrf: String,
    action: String,
    confirm: Option<String>,
}

async fn start(
    State(s): State<Arc<Server>>,
    Extension(sess): Extension<Session>,
    Form(f): Form<StartForm>,
) -> Response {
    if let Some(refused) = stale(&sess, &f.csrf) {
        return refused;
    }
    if let (true, Some(why)) = (f.action == "backup", api::no_backup_yml(&s)) {
        let said = format!(
            "<p class=\"bad\" id=\"refused\">This folder backs up nothing: it has no backup.yml.</p><p>{}</p>",
            esc(&why)
        );
        return page("Nothing started", &said, true);
    }
    let Some(kind) = Kind::named(&f.action) else {
        return Problem::invalid("unknown action", &f.action).into_response();
    };
    let args: Vec<String> = match kind {
        Kind::Backup | Kind::Drill | Kind::Verify => {
            vec!["standalone".into(), kind.as_str().into()]
        }
        Kind::Restore => {
            let site = api::site(&s);
            if f.confirm.as_deref().map(str::trim) != Some(site.as_str()) {
                return page(
                    "Not confirmed",
                    &format!(
                        "<p class=\"bad\">Nothing was started: type the site's name, <b>{}</b>, to confirm a restore.</p>",
                        esc(&site)
                    ),
                    true,
                );
            }
            vec!["standalone".into(), "restore".into(), "--yes".into()]
        }
    };
    match s.jobs.start(kind, args, &sess.who).await {
        Ok(job) => Redirect::to(&format!("/jobs/{}", job.record.id)).into_response(),
        Err(p) if p.status() == StatusCode::CONFLICT => page(
            "Busy",
            &format!(
                "<p class=\"bad\">Another run holds the hosts:</p><pre>{}</pre>",
                esc(p.detail())
            ),
            true,
        ),
        Err(p) => p.into_response(),
    }
}
