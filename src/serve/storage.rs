//! `/api/v1/storage`: the folder's storage answers, read as every command reads them. `GET` shows
//! the one storage the answers name and the targets the documents list, with every secret as
//! `"set"` (secrets are write-only); `PUT` replaces the one storage's lines of answers.yml (kept
//! owner-only), or with `target` the lines of one target (`storage.NAME.FIELD`), with the ones
//! given, each checked against the keys and value of its type (a secret left out keeps its value
//! while the type stays); `POST …/test` writes, lists, reads back and
//! deletes a test object (`setup storage-test`).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{Value as J, json};

use super::{Server, problem};

pub fn router(s: Arc<Server>) -> Router {
    Router::new()
        .route("/storage", axum::routing::get(show).put(replace))
        .route("/storage/test", axum::routing::post(test))
        .with_state(s)
}

/// The storage answers as they stand, read as a storage command reads them, every secret as
/// `"set"`: the one storage the answers name (`type`, `settings`), and the targets the documents
/// list, each with its settings from the document and its answers (`storage.NAME.FIELD`). Err: the
/// problems, one a line, each naming its file and line (the full report goes to the log).
pub(super) fn current(s: &Server) -> Result<J, Vec<String>> {
    let (answers, targets) = crate::world::load_settings(&s.options)
        .map_err(|f| super::failed::said(&s.options, "the storage answers cannot be read", f))?;
    let shown = |key: &str, value: &J| {
        if crate::answers::storage::is_secret(key) {
            json!("set")
        } else {
            value.clone()
        }
    };
    let named = |field: &str| {
        let name = field.split('.').next().unwrap_or("");
        targets.iter().any(|t| t.name == name)
    };
    let mut settings = serde_json::Map::new();
    for (key, answer) in &answers.values {
        let Some(field) = key.strip_prefix("storage.") else {
            continue;
        };
        if named(field) {
            continue;
        }
        settings.insert(field.to_string(), shown(key, &answer.value));
    }
    // The targets backup.yml or restore.yml lists: used when no answer names one storage.
    let targets: Vec<J> = targets
        .iter()
        .map(|t| {
            let mut settings: serde_json::Map<String, J> = t
                .settings
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            let mut answered = Vec::new();
            for q in crate::answers::storage::questions(&t.kind) {
                let key = crate::answers::storage::key(&t.name, q.field);
                if let Some(a) = answers.get(&key) {
                    settings.insert(q.field.to_string(), shown(&key, &a.value));
                    answered.push(q.field);
                }
            }
            json!({"name": t.name, "type": t.kind, "settings": settings, "answers": answered})
        })
        .collect();
    let in_use = if answers.storage_type().is_none() && !targets.is_empty() {
        "targets"
    } else {
        "answers"
    };
    Ok(json!({
        "type": answers.storage_type(), "settings": settings,
        "targets": targets, "in_use": in_use,
    }))
}

async fn show(State(s): State<Arc<Server>>) -> Response {
    match current(&s) {
        Ok(j) => Json(j).into_response(),
        Err(lines) => super::failed::problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answers cannot be read",
            &lines,
        ),
    }
}

/// A YAML scalar for an answer: JSON's string syntax is YAML's double-quoted one.
fn scalar(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(serde_json::to_string(s).expect("json")),
        J::Bool(_) | J::Number(_) => Some(v.to_string()),
        _ => None,
    }
}

/// Which storage answers a change replaces.
pub(super) enum Which<'a> {
    /// The one storage of the answers: `storage.type` is this type, and its settings are
    /// `storage.TYPE.FIELD` (every other one-storage answer goes).
    One(&'a str),
    /// A storage target the documents list, by name: its answers are `storage.NAME.FIELD`.
    Target(&'a str),
}

/// Replaces storage answers of answers.yml (kept owner-only) with these settings, each checked
/// against the keys of its type and its value checked as the prompt checks it: the one storage's
/// (`Which::One`: the target-named answers stay), or one target's (`Which::Target`: the other
/// answers stay). A secret left out keeps its current value when the type stays the same (secrets
/// are never shown, so neither a form nor a client can send one back). The file is changed under the edit lock and written whole (`edit`).
pub(super) async fn save(
    s: &Server,
    which: Which<'_>,
    settings: &serde_json::Map<String, J>,
) -> Result<(), (u16, String)> {
    let targets = crate::world::storage_targets(&s.options);
    let is_target = |key: &str| {
        let name = key.split('.').nth(1).unwrap_or("");
        key.starts_with("storage.") && targets.iter().any(|t| t.name == name)
    };
    // The type of the settings, the prefix of their keys, and the first line, if any.
    let (kind, prefix, first) = match which {
        Which::One(kind) => {
            if !crate::answers::STORAGE_TYPES.contains(&kind) {
                return Err((
                    422,
                    format!(
                        "`type` is one of {}",
                        crate::answers::STORAGE_TYPES.join(", ")
                    ),
                ));
            }
            (
                kind.to_string(),
                format!("storage.{kind}."),
                Some(format!("storage.type: {kind}")),
            )
        }
        Which::Target(name) => {
            let Some(t) = targets.iter().find(|t| t.name == name) else {
                let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
                return Err((
                    422,
                    if names.is_empty() {
                        format!("no storage target `{name}`: no document here lists targets")
                    } else {
                        format!(
                            "no storage target `{name}`: the targets are {}",
                            names.join(", ")
                        )
                    },
                ));
            };
            (t.kind.clone(), format!("storage.{name}."), None)
        }
    };
    let fields = crate::answers::storage::questions(&kind);
    let mut lines: Vec<String> = first.into_iter().collect();
    for (field, value) in settings {
        if !fields.iter().any(|q| q.field == field) {
            return Err((422, format!("`{field}` is no setting of {kind} storage")));
        }
        let Some(v) = scalar(value) else {
            return Err((
                422,
                format!("`{field}` is a string, a number or true/false"),
            ));
        };
        let plain = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        if let Err(why) = crate::answers::storage::check_value(field, &plain) {
            // The value is not repeated: a secret sent to the wrong field would show.
            let v = plain.trim();
            let why = if v.is_empty() {
                why
            } else {
                why.replace(&format!("`{v}`"), "the value")
                    .replace(v, "the value")
            };
            return Err((422, format!("`{field}`: {why}")));
        }
        lines.push(format!("{prefix}{field}: {v}"));
    }
    let path = s.options.answers.path.clone();
    let _held = super::edit::hold(&s.dir).await.map_err(|e| (500, e))?;
    let before = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err((500, format!("answers.yml cannot be read: {e}"))),
    };
    let key_of = |l: &str| l.split_once(':').map(|(k, _)| k.trim().to_string());
    let same_type = match which {
        Which::One(kind) => before
            .lines()
            .any(|l| l.trim() == format!("storage.type: {kind}")),
        Which::Target(_) => true,
    };
    let replaced = |l: &str| {
        let Some(k) = key_of(l).filter(|_| !l.starts_with([' ', '\t', '#'])) else {
            return false;
        };
        match which {
            Which::One(_) => k.starts_with("storage.") && !is_target(&k),
            Which::Target(_) => k.starts_with(&prefix),
        }
    };
    let kept_secret = |l: &str| {
        same_type
            && key_of(l).is_some_and(|k| {
                crate::answers::storage::is_secret(&k)
                    && k.starts_with(&prefix)
                    && !settings.contains_key(k.rsplit('.').next().unwrap_or(""))
            })
    };
    let kept: Vec<String> = before
        .lines()
        .filter(|l| !replaced(l) || kept_secret(l))
        .map(str::to_string)
        .collect();
    let text = kept.into_iter().chain(lines).collect::<Vec<_>>().join("\n") + "\n";
    let written = super::edit::replace(&path, &text, true)
        .map_err(|e| (500, format!("answers.yml cannot be written: {e}")));
    // The storage may be another one now: the next listing reads it.
    s.listed.forget();
    written
}

async fn replace(State(s): State<Arc<Server>>, body: Option<Json<J>>) -> Response {
    let empty = serde_json::Map::new();
    let Some(Json(body)) = body else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a storage setting",
            "send {\"type\": \"s3\", \"settings\": {\"bucket\": ...}}, or a target's answers as {\"target\": \"NAME\", \"settings\": {...}}",
        );
    };
    let settings = body["settings"].as_object().unwrap_or(&empty);
    let which = match (body["target"].as_str(), body["type"].as_str()) {
        (Some(name), None) => Which::Target(name),
        (None, kind) => Which::One(kind.unwrap_or("")),
        (Some(_), Some(_)) => {
            return problem(
                StatusCode::UNPROCESSABLE_ENTITY,
                "not a storage setting",
                "give `type` (the one storage) or `target` (a listed target's answers), not both",
            );
        }
    };
    match save(&s, which, settings).await {
        Ok(()) => show(State(s)).await,
        Err((code, why)) => problem(
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            "not a storage setting",
            &why,
        ),
    }
}

/// `setup storage-test` in the server's folder: (passed, what it said).
pub(super) async fn try_storage(s: &Server) -> Result<(bool, String, String), String> {
    s.own(&["storage-test", "--size-mb", "1"]).await
}

async fn test(State(s): State<Arc<Server>>) -> Response {
    match try_storage(&s).await {
        Ok((ok, output, error)) => {
            let masker = super::failed::secrets(&s.options);
            let error = super::failed::child_said(&error, &masker);
            Json(json!({"ok": ok, "output": masker.mask(&output), "error": error})).into_response()
        }
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the test did not run",
            &e,
        ),
    }
}
