//! `/api/v1/storage`: the folder's storage answers. `GET` shows the settings with every secret as
//! `"set"` (secrets are write-only); `PUT` replaces the `storage.*` lines of answers.yml (kept
//! owner-only) with the ones given, each checked against the keys of its type; `POST …/test`
//! writes, lists, reads back and deletes a test object (`setup storage-test`).

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

/// The storage answers as they stand, secrets as `"set"`.
pub(super) fn current(s: &Server) -> Result<J, String> {
    let answers = crate::world::load_answers(&s.options).map_err(|e| format!("{e:?}"))?;
    let mut settings = serde_json::Map::new();
    for (key, answer) in &answers.values {
        let Some(field) = key.strip_prefix("storage.") else {
            continue;
        };
        let value = if crate::answers::storage::is_secret(key) {
            json!("set")
        } else {
            answer.value.clone()
        };
        settings.insert(field.to_string(), value);
    }
    // The targets backup.yml or restore.yml lists: used when no answer names one storage.
    let targets: Vec<J> = crate::world::storage_targets(&s.options)
        .iter()
        .map(|t| {
            let settings: serde_json::Map<String, J> = t
                .settings
                .iter()
                .map(|e| (e.key.clone(), e.value.clone()))
                .collect();
            json!({"name": t.name, "type": t.kind, "settings": settings})
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
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answers cannot be read",
            &e,
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

/// Replaces the `storage.*` answers of answers.yml (kept owner-only) with type `kind` and these
/// settings, each checked against the keys of its type. With `keep_secrets`, a secret left out
/// keeps its current value when the type stays the same (a form shows no secret to send back).
pub(super) fn save(
    s: &Server,
    kind: &str,
    settings: &serde_json::Map<String, J>,
    keep_secrets: bool,
) -> Result<(), (u16, String)> {
    if !crate::answers::STORAGE_TYPES.contains(&kind) {
        return Err((
            422,
            format!(
                "`type` is one of {}",
                crate::answers::STORAGE_TYPES.join(", ")
            ),
        ));
    }
    let known = crate::answers::known_keys();
    let mut lines = vec![format!("storage.type: {kind}")];
    for (field, value) in settings {
        let key = format!("storage.{kind}.{field}");
        if !known.contains(&key) {
            return Err((422, format!("`{field}` is no setting of {kind} storage")));
        }
        let Some(v) = scalar(value) else {
            return Err((
                422,
                format!("`{field}` is a string, a number or true/false"),
            ));
        };
        lines.push(format!("{key}: {v}"));
    }
    let path = s.options.dir.join("answers.yml");
    let before = std::fs::read_to_string(&path).unwrap_or_default();
    let same_type = before
        .lines()
        .any(|l| l.trim() == format!("storage.type: {kind}"));
    let kept_secret = |l: &str| {
        keep_secrets
            && same_type
            && l.split_once(':').is_some_and(|(k, _)| {
                let k = k.trim();
                crate::answers::storage::is_secret(k)
                    && k.starts_with(&format!("storage.{kind}."))
                    && !settings.contains_key(k.rsplit('.').next().unwrap_or(""))
            })
    };
    let kept: Vec<String> = before
        .lines()
        .filter(|l| !l.trim_start().starts_with("storage.") || kept_secret(l))
        .map(str::to_string)
        .collect();
    let text = kept.into_iter().chain(lines).collect::<Vec<_>>().join("\n") + "\n";
    crate::report::journal::write_private(&path, &text)
        .map_err(|e| (500, format!("answers.yml cannot be written: {e}")))
}

async fn replace(State(s): State<Arc<Server>>, body: Option<Json<J>>) -> Response {
    let empty = serde_json::Map::new();
    let Some(Json(body)) = body else {
        return problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a storage setting",
            "send {\"type\": \"s3\", \"settings\": {\"bucket\": ...}}",
        );
    };
    let kind = body["type"].as_str().unwrap_or("");
    let settings = body["settings"].as_object().unwrap_or(&empty);
    match save(&s, kind, settings, false) {
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
            Json(json!({"ok": ok, "output": output, "error": error})).into_response()
        }
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the test did not run",
            &e,
        ),
    }
}
