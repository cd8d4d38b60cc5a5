//! The page's server configuration and schedule tabs. Storage: the settings as they stand (secrets
//! as "set"), a form per storage type to add a server (saved, then tried at once by writing,
//! listing, reading back and deleting a test object), and a test button. Schedule: the times of
//! the configuration and analytics backups (UTC), the next runs, whether the schedule is
//! installed, and a form that writes backup.yml's schedule and installs it. Every form carries the
//! session's CSRF token.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::body::Sent;
use super::page::{Session, page, text};
use super::{Server, schedule, storage};
use crate::report::drill_page::esc;
use axum::Extension;
use axum::Router;
use axum::extract::{Form, State};
use axum::response::Response;
use axum::routing::{get, post};

pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/storage", get(storage_page))
        .route("/ui/storage", post(save_storage))
        .route("/ui/storage/test", post(test_storage))
        .route("/schedule", get(schedule_page))
        .route("/ui/schedule", post(save_schedule))
}

const TYPES: [(&str, &str); 5] = [
    ("s3", "S3 or S3-compatible"),
    ("azure", "Azure Blob"),
    ("sftp", "SFTP"),
    ("ftp", "FTP or FTPS"),
    ("local", "A local folder"),
];

fn hidden(sess: &Session) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        esc(&sess.csrf)
    )
}

/// The form's fields, once its CSRF token is the session's.
fn checked(
    sess: &Session,
    mut f: HashMap<String, String>,
) -> Result<HashMap<String, String>, Box<Response>> {
    let token = f.remove("csrf").unwrap_or_default();
    match super::page::stale(sess, &token) {
        Some(refused) => Err(Box::new(refused)),
        None => Ok(f),
    }
}

async fn storage_page(
    State(s): State<Arc<Server>>,
    Extension(sess): Extension<Session>,
) -> Response {
    let mut body = String::new();
    let now = storage::current(&s);
    match &now {
        Ok(now) => {
            body += &format!(
                "<h2>Now</h2><p>Type: <b id=\"storage-type\">{}</b></p><table id=\"storage-now\"><tr><th>setting</th><th>value</th></tr>",
                esc(now.kind.as_deref().unwrap_or("-"))
            );
            for (k, v) in now.settings.iter().filter(|(k, _)| k.as_str() != "type") {
                body += &format!("<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&text(v)));
            }
            body += "</table>";
        }
        Err(lines) => {
            body += &format!(
                "<p class=\"bad\">The answers cannot be read:</p><pre class=\"bad\" id=\"storage-error\">{}</pre>",
                esc(&lines.join("\n"))
            );
        }
    }
    if let Ok(now) = &now
        && !now.targets.is_empty()
    {
        let targets = &now.targets;
        body += &format!(
            "<h2>Storage targets</h2><p>{}</p><table id=\"targets\"><tr><th>target</th><th>type</th><th>settings</th></tr>",
            if matches!(now.in_use, storage::InUse::Targets) {
                "Backups go to every one of these targets and are read from the first that holds a sound copy (backup.yml or restore.yml lists them; their secrets are answers, storage.NAME.FIELD)."
            } else {
                "backup.yml or restore.yml lists these targets, but the storage above, named by the answers, is used instead."
            }
        );
        for t in targets {
            let settings: Vec<String> = t
                .settings
                .iter()
                .map(|(k, v)| format!("{k}: {}", text(v)))
                .collect();
            body += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.name),
                esc(&t.kind),
                esc(&settings.join(", "))
            );
        }
        body += "</table>";
        body += "<p>A target's answers (its secrets, and what the document leaves out) are kept in answers.yml as storage.NAME.FIELD. Secrets are never shown again; leave one empty to keep it.</p>";
        for t in targets {
            body += &target_form(&sess, t);
        }
    }
    body += &format!(
        "<form method=\"post\" action=\"/ui/storage/test\">{}<button id=\"test-storage\">Test the storage</button></form>",
        hidden(&sess)
    );
    body += "<h2>Add a storage server</h2><p>Saving replaces the storage above and tries the new one at once. Secrets are never shown again; leave one empty to keep it.</p>";
    for (kind, label) in TYPES {
        body += &format!(
            "<details id=\"add-{kind}\"><summary>{label}</summary><form method=\"post\" action=\"/ui/storage\">{}<input type=\"hidden\" name=\"type\" value=\"{kind}\"><table>",
            hidden(&sess)
        );
        for q in crate::answers::storage::questions(kind) {
            body += &format!(
                "<tr><td><label for=\"{kind}-{f}\">{}</label></td><td><input name=\"f.{f}\" id=\"{kind}-{f}\" type=\"{}\" placeholder=\"{}\" size=\"50\" autocomplete=\"off\"></td></tr>",
                esc(q.prompt),
                if q.secret { "password" } else { "text" },
                esc(q.default.unwrap_or("")),
                f = q.field,
            );
        }
        body +=
            &format!("</table><button id=\"save-{kind}\">Save and test</button></form></details>");
    }
    page("Storage", &body, true)
}

/// The form of one listed target's answers: each setting of its type that its document leaves
/// out (secrets always), empty ones kept as they are.
fn target_form(sess: &Session, t: &storage::TargetSettings) -> String {
    let (name, kind) = (&t.name, &t.kind);
    let in_document = |field: &str| {
        !t.answers.contains(&field) && t.settings.get(field).is_some_and(|v| !v.is_null())
    };
    let mut out = format!(
        "<details id=\"target-{n}\"><summary>Answers of target {n} ({k})</summary><form method=\"post\" action=\"/ui/storage\">{}<input type=\"hidden\" name=\"target\" value=\"{n}\"><table>",
        hidden(sess),
        n = esc(name),
        k = esc(kind)
    );
    for q in crate::answers::storage::questions(kind) {
        if !q.secret && (!q.asked || in_document(q.field)) {
            continue;
        }
        let now = if q.secret {
            if t.settings.get(q.field).is_none_or(|v| v.is_null()) {
                "not set"
            } else {
                "set"
            }
        } else {
            ""
        };
        out += &format!(
            "<tr><td><label for=\"{n}-{f}\">{}</label></td><td><input name=\"f.{f}\" id=\"{n}-{f}\" type=\"{}\" placeholder=\"{}\" size=\"50\" autocomplete=\"off\"> {now}</td></tr>",
            esc(q.prompt),
            if q.secret { "password" } else { "text" },
            esc(q.default.unwrap_or("")),
            n = esc(name),
            f = q.field,
        );
    }
    out + &format!(
        "</table><button id=\"save-target-{}\">Save and test</button></form></details>",
        esc(name)
    )
}

/// What a storage test said, as a page.
async fn tested(s: &Server, saved: bool) -> Response {
    let (ok, said) = match storage::try_storage(s).await {
        Ok((ok, out, err)) => {
            let masker = super::failed::secrets(&s.options);
            let err = super::failed::child_said(&err, &masker);
            (ok, format!("{}{err}", masker.mask(&out)))
        }
        Err(e) => (false, e),
    };
    let head = match (saved, ok) {
        (true, true) => {
            "Saved. The storage answers: a test object was written, listed, read back and deleted."
        }
        (true, false) => "Saved, but the storage does not work yet:",
        (false, true) => {
            "The storage answers: a test object was written, listed, read back and deleted."
        }
        (false, false) => "The storage does not work:",
    };
    outcome(
        "Storage",
        ok,
        head,
        &said,
        ("/storage", "Back to the storage"),
    )
}

/// What a form did, as a page: a line that says it (`ok` or `bad`; its id names the tab), what
/// was said in full, and the way back.
fn outcome(title: &str, ok: bool, head: &str, said: &str, back: (&str, &str)) -> Response {
    page(
        title,
        &format!(
            "<p id=\"{}-result\" class=\"{}\">{head}</p><pre>{}</pre><p><a href=\"{}\">{}</a></p>",
            title.to_lowercase(),
            if ok { "ok" } else { "bad" },
            esc(said.trim()),
            back.0,
            back.1
        ),
        true,
    )
}

async fn save_storage(
    State(s): State<Arc<Server>>,
    Extension(sess): Extension<Session>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let f = match checked(&sess, f) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let kind = f.get("type").cloned().unwrap_or_default();
    let which = match f.get("target") {
        Some(name) => storage::Which::Target(name),
        None => storage::Which::One(&kind),
    };
    let settings: BTreeMap<String, Sent<storage::Scalar>> = f
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("f.")?, v.trim())))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| {
            (
                k.to_string(),
                Sent::Is(storage::Scalar::Text(v.to_string())),
            )
        })
        .collect();
    if let Err(p) = storage::save(&s, which, &settings).await {
        return outcome(
            "Storage",
            false,
            "Nothing was saved:",
            p.detail(),
            ("/storage", "Back"),
        );
    }
    tested(&s, true).await
}

async fn test_storage(
    State(s): State<Arc<Server>>,
    Extension(sess): Extension<Session>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = checked(&sess, f) {
        return *r;
    }
    tested(&s, false).await
}

async fn schedule_page(
    State(s): State<Arc<Server>>,
    Extension(sess): Extension<Session>,
) -> Response {
    let now = match schedule::current(&s).await {
        Ok(j) => j,
        Err(e) => {
            return page(
                "Schedule",
                &format!("<pre class=\"bad\">{}</pre>", esc(&e)),
                true,
            );
        }
    };
    let mut body = format!(
        "<p>Times are UTC. Where this machine runs them: {} (<b id=\"installed\">{}</b>).</p><table id=\"next-runs\"><tr><th>job</th><th>next run (UTC)</th></tr>",
        esc(now.runs_in),
        if now.installed {
            "installed"
        } else {
            "not installed"
        }
    );
    for n in &now.next_runs {
        body += &format!("<tr><td>{}</td><td>{}</td></tr>", esc(&n.job), esc(&n.at));
    }
    body += &format!(
        "</table><h2>Change</h2><form method=\"post\" action=\"/ui/schedule\">{}<table>",
        hidden(&sess)
    );
    for (component, at, label) in [
        (
            "config",
            &now.schedule.config,
            "Configuration backup, every day at",
        ),
        (
            "analytics",
            &now.schedule.analytics,
            "Analytics backup (the day before), every day at",
        ),
    ] {
        if let Some(at) = at {
            body += &format!(
                "<tr><td><label for=\"at-{component}\">{label}</label></td><td><input name=\"{component}\" id=\"at-{component}\" value=\"{}\" pattern=\"([01][0-9]|2[0-3]):[0-5][0-9]\" size=\"5\" required> UTC (HH:MM, 24 hours)</td></tr>",
                esc(at)
            );
        }
    }
    body += "</table><button id=\"save-schedule\">Save and install</button></form>";
    page("Schedule", &body, true)
}

async fn save_schedule(
    State(s): State<Arc<Server>>,
    Extension(sess): Extension<Session>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let f = match checked(&sess, f) {
        Ok(f) => f,
        Err(r) => return *r,
    };
    let mut times: Vec<(String, String)> = f.into_iter().collect();
    times.sort();
    let (ok, head, said) = match schedule::save(&s, &times).await {
        Ok(said) => (true, "Saved and installed.", said),
        Err(p) => (
            false,
            "The schedule was not changed:",
            p.detail().to_string(),
        ),
    };
    let back = ("/schedule", "Back to the schedule");
    outcome("Schedule", ok, head, &said, back)
}
