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
fn current(s: &Server) -> Result<J, String> {
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
    Ok(json!({ "type": answers.storage_type(), "settings": settings }))
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

async fn replace(State(s): State<Arc<Server>>, body: Option<Json<J>>) -> Response {
    let bad = |detail: String| {
        problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a storage setting",
            &detail,
        )
    };
    let Some(Json(body)) = body else {
        return bad("send {\"type\": \"s3\", \"settings\": {\"bucket\": ...}}".into());
    };
    let Some(kind) = body["type"]
        .as_str()
        .filter(|t| crate::answers::STORAGE_TYPES.contains(t))
    else {
        return bad(format!(
            "`type` is one of {}",
            crate::answers::STORAGE_TYPES.join(", ")
        ));
    };
    let known = crate::answers::known_keys();
    let mut lines = vec![format!("storage.type: {kind}")];
    for (field, value) in body["settings"].as_object().into_iter().flatten() {
        let key = format!("storage.{kind}.{field}");
        if !known.contains(&key) {
            return bad(format!("`{field}` is no setting of {kind} storage"));
        }
        let Some(v) = scalar(value) else {
            return bad(format!("`{field}` is a string, a number or true/false"));
        };
        lines.push(format!("{key}: {v}"));
    }
    let path = s.options.dir.join("answers.yml");
    let kept: Vec<String> = std::fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim_start().starts_with("storage."))
        .map(str::to_string)
        .collect();
    let text = kept.into_iter().chain(lines).collect::<Vec<_>>().join("\n") + "\n";
    if let Err(e) = crate::report::journal::write_private(&path, &text) {
        return problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "answers.yml cannot be written",
            &e.to_string(),
        );
    }
    show(State(s)).await
}

async fn test(State(s): State<Arc<Server>>) -> Response {
    let out = tokio::process::Command::new(&s.exe)
        .args(["storage-test", "--size-mb", "1", "--non-interactive", "-C"])
        .arg(&s.dir)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    match out {
        Ok(o) => Json(json!({
            "ok": o.status.success(),
            "output": String::from_utf8_lossy(&o.stdout),
            "error": String::from_utf8_lossy(&o.stderr),
        }))
        .into_response(),
        Err(e) => problem(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the test did not run",
            &e.to_string(),
        ),
    }
}
