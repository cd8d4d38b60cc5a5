//! `/api/v1/storage`: the folder's storage answers, read as every command reads them. `GET` shows
//! the one storage the answers name and the targets the documents list, with every secret as
//! `"set"` (secrets are write-only); `PUT` replaces the one storage's lines of answers.yml (kept
//! owner-only), or with `target` the lines of one target (`storage.NAME.FIELD`), with the ones
//! given, each checked against the keys and value of its type (a secret left out keeps its value
//! while the type stays); `POST …/test` writes, lists, reads back and
//! deletes a test object (`setup storage-test`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value as J;
use utoipa::ToSchema;

use super::Server;
use super::body::{Asked, Body, Sent};
use super::problem::Problem;
use crate::world::Given;

/// `GET /storage`, and the answer to `PUT /storage`: the storage settings as the commands read
/// them. A setting's value is as the answers file or the document holds it (a string, a number,
/// true/false), every secret as `"set"`: the engine reads answers and documents as JSON values
/// (`answers::Answer`, `docs::targets::Entry`), and they are passed on as such.
#[derive(Serialize, ToSchema)]
pub struct StorageSettings {
    /// The one storage the answers name (`storage.type`); null when they name none.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The answers of the one storage (and any other `storage.` answer not of a listed target),
    /// by their key after `storage.`: `type`, `TYPE.FIELD`.
    #[schema(value_type = BTreeMap<String, Scalar>)]
    pub settings: BTreeMap<String, J>,
    /// The targets backup.yml or restore.yml lists.
    pub targets: Vec<TargetSettings>,
    /// Which of the two the commands use: the answers' one storage when they name one.
    pub in_use: InUse,
}

/// A storage target a document lists.
#[derive(Serialize, ToSchema)]
pub struct TargetSettings {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// The document's settings and the target's answers (`storage.NAME.FIELD`), by field.
    #[schema(value_type = BTreeMap<String, Scalar>)]
    pub settings: BTreeMap<String, J>,
    /// The fields given as answers.
    pub answers: Vec<&'static str>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InUse {
    Answers,
    Targets,
}

/// A setting's value: text, a number, or true/false.
#[derive(Clone, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Scalar {
    Text(String),
    Flag(bool),
    #[schema(value_type = f64)]
    Number(serde_json::Number),
}

impl Scalar {
    /// As YAML: JSON's string syntax is YAML's double-quoted one.
    fn yaml(&self) -> String {
        match self {
            Scalar::Text(s) => serde_json::to_string(s).expect("json"),
            Scalar::Flag(b) => b.to_string(),
            Scalar::Number(n) => n.to_string(),
        }
    }

    /// As the prompt would have read it.
    fn plain(&self) -> String {
        match self {
            Scalar::Text(s) => s.clone(),
            other => other.yaml(),
        }
    }
}

/// `PUT /storage`: the one storage's answers (`type` and `settings`), or one listed target's
/// (`target` and `settings`).
#[derive(Deserialize, ToSchema)]
pub struct StorageRequest {
    #[serde(rename = "type")]
    #[schema(schema_with = storage_types)]
    kind: Option<String>,
    /// A target a document lists, whose answers (`storage.NAME.FIELD`) these are.
    target: Option<String>,
    /// The type's settings by field (see `setup standalone restore --help`); a secret left out
    /// keeps its value while the type stays.
    #[schema(value_type = Option<BTreeMap<String, Scalar>>)]
    settings: Option<BTreeMap<String, Sent<Scalar>>>,
}

fn storage_types() -> utoipa::openapi::schema::Object {
    super::body::one_of(
        crate::answers::STORAGE_TYPES,
        "The type of the one storage of the answers (give this or `target`).",
    )
}

impl Asked for StorageRequest {
    fn unsent() -> Result<Self, Problem> {
        Err(Self::misshapen())
    }
    fn misshapen() -> Problem {
        Problem::invalid(
            "not a storage setting",
            "send {\"type\": \"s3\", \"settings\": {\"bucket\": ...}}, or a target's answers as {\"target\": \"NAME\", \"settings\": {...}}",
        )
    }
}

/// The storage answers as they stand, read as a storage command reads them, every secret as
/// `"set"`: the one storage the answers name (`type`, `settings`), and the targets the documents
/// list, each with its settings from the document and its answers (`storage.NAME.FIELD`). Err: the
/// problems, one a line, each naming its file and line (the full report goes to the log).
pub(super) fn current(s: &Server) -> Result<StorageSettings, Vec<String>> {
    let site = crate::world::load_site(&s.options)
        .map_err(|f| super::failed::said(&s.options, "the storage answers cannot be read", f))?;
    // The targets backup.yml or restore.yml lists: used when no answer names one storage.
    let targets = site
        .target_views()
        .into_iter()
        .map(|t| TargetSettings {
            settings: (t.settings.iter())
                .filter_map(|s| Some((s.question.field.to_string(), s.shown()?)))
                .collect(),
            answers: (t.settings.iter())
                .filter(|s| s.from == Given::Answer)
                .map(|s| s.question.field)
                .collect(),
            name: t.name,
            kind: t.kind,
        })
        .collect();
    Ok(StorageSettings {
        kind: site.answers.storage_type(),
        settings: site.one_storage_answers().into_iter().collect(),
        targets,
        in_use: if site.uses_targets() {
            InUse::Targets
        } else {
            InUse::Answers
        },
    })
}

#[utoipa::path(
    get,
    path = "/api/v1/storage",
    operation_id = "get_storage",
    tag = "settings",
    summary = "The storage settings",
    description = "The storage settings as the commands read them: the one storage the answers name (type, settings) and the targets backup.yml or restore.yml lists (targets: each with its settings and its answers, storage.NAME.FIELD), every secret as \"set\" (secrets are write-only). A file that cannot be read is a problem naming its file, line and key.",
    responses(
        (status = 200, description = "The storage settings", body = StorageSettings),
        (status = 500, description = "The answers cannot be read: `errors` names each problem's file and line", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn show(State(s): State<Arc<Server>>) -> Result<Json<StorageSettings>, Problem> {
    current(&s).map(Json).map_err(|lines| {
        Problem::lines(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the answers cannot be read",
            &lines,
        )
    })
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
    settings: &BTreeMap<String, Sent<Scalar>>,
) -> Result<(), Problem> {
    let refused = |why: String| Problem::invalid("not a storage setting", why);
    let failed = |why: String| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "not a storage setting",
            why,
        )
    };
    let targets = crate::world::storage_targets(&s.options);
    let is_target = |key: &str| {
        let name = key.split('.').nth(1).unwrap_or("");
        key.starts_with("storage.") && targets.iter().any(|t| t.name == name)
    };
    // The type of the settings, the prefix of their keys, and the first line, if any.
    let (kind, prefix, first) = match which {
        Which::One(kind) => {
            if !crate::answers::STORAGE_TYPES.contains(&kind) {
                return Err(refused(format!(
                    "`type` is one of {}",
                    crate::answers::STORAGE_TYPES.join(", ")
                )));
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
                return Err(refused(if names.is_empty() {
                    format!("no storage target `{name}`: no document here lists targets")
                } else {
                    format!(
                        "no storage target `{name}`: the targets are {}",
                        names.join(", ")
                    )
                }));
            };
            (t.kind.clone(), format!("storage.{name}."), None)
        }
    };
    let fields = crate::answers::storage::questions(&kind);
    let mut lines: Vec<String> = first.into_iter().collect();
    for (field, value) in settings {
        if !fields.iter().any(|q| q.field == field) {
            return Err(refused(format!(
                "`{field}` is no setting of {kind} storage"
            )));
        }
        let Some(value) = value.given() else {
            return Err(refused(format!(
                "`{field}` is a string, a number or true/false"
            )));
        };
        let (v, plain) = (value.yaml(), value.plain());
        if let Err(why) = crate::answers::storage::check_value(field, &plain) {
            // The value is not repeated: a secret sent to the wrong field would show.
            let v = plain.trim();
            let why = if v.is_empty() {
                why
            } else {
                why.replace(&format!("`{v}`"), "the value")
                    .replace(v, "the value")
            };
            return Err(refused(format!("`{field}`: {why}")));
        }
        lines.push(format!("{prefix}{field}: {v}"));
    }
    let path = s.options.answers.path.clone();
    let _held = super::edit::hold(&s.dir).await.map_err(failed)?;
    let before = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(failed(format!("answers.yml cannot be read: {e}"))),
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
        .map_err(|e| failed(format!("answers.yml cannot be written: {e}")));
    // The storage may be another one now: the next listing reads it.
    s.listed.forget();
    written
}

#[utoipa::path(
    put,
    path = "/api/v1/storage",
    operation_id = "put_storage",
    tag = "settings",
    summary = "Replace storage answers",
    description = "Replace storage answers in answers.yml: the one storage's (body: type, settings), or one listed target's (body: target, settings); each value checked against its type (422, nothing written), a secret left out kept; answers with the settings as GET does.",
    request_body = StorageRequest,
    responses(
        (status = 200, description = "Written: the storage settings as they now stand", body = StorageSettings),
        (status = 422, description = "Not a storage setting: nothing was written", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "answers.yml cannot be read or written", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn replace(
    State(s): State<Arc<Server>>,
    Body(body): Body<StorageRequest>,
) -> Result<Json<StorageSettings>, Problem> {
    let which = match (body.target.as_deref(), body.kind.as_deref()) {
        (Some(name), None) => Which::Target(name),
        (None, kind) => Which::One(kind.unwrap_or("")),
        (Some(_), Some(_)) => {
            return Err(Problem::invalid(
                "not a storage setting",
                "give `type` (the one storage) or `target` (a listed target's answers), not both",
            ));
        }
    };
    save(&s, which, &body.settings.unwrap_or_default()).await?;
    show(State(s)).await
}

/// `setup storage-test` in the server's folder: (passed, what it said).
pub(super) async fn try_storage(s: &Server) -> Result<(bool, String, String), String> {
    s.own(&["storage-test", "--size-mb", "1"]).await
}

/// `POST /storage/test`: what the storage test did.
#[derive(Serialize, ToSchema)]
pub struct StorageTest {
    /// The test object was written, listed, read back and deleted.
    pub ok: bool,
    /// What the test said (masked).
    pub output: String,
    /// What it said went wrong, without the excerpts of documents (masked).
    pub error: String,
}

#[utoipa::path(
    post,
    path = "/api/v1/storage/test",
    operation_id = "test_storage",
    tag = "settings",
    summary = "Test the storage",
    description = "Write, list, read back and delete a test object in the storage.",
    responses(
        (status = 200, description = "What the test did: `ok` says whether the storage works", body = StorageTest),
        (status = 500, description = "The test did not run", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub(super) async fn test(State(s): State<Arc<Server>>) -> Result<Json<StorageTest>, Problem> {
    let (ok, output, error) = try_storage(&s)
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "the test did not run", e))?;
    let masker = super::failed::secrets(&s.options);
    Ok(Json(StorageTest {
        ok,
        output: masker.mask(&output),
        error: super::failed::child_said(&error, &masker),
    }))
}
