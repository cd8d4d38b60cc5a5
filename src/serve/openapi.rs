//! The OpenAPI 3.1 description of `/api/v1/`, derived: each endpoint's `#[utoipa::path]` beside
//! its handler, and the types it takes and answers. What every endpoint shares is added here: the
//! bearer token it needs, and the problems any request may get (401 and 429; with a body, 400, 413
//! and 415). `routes` holds the router to this document both ways.

use std::sync::OnceLock;

use axum::Json;
use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{Schema, SchemaType, Type};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{Modify, OpenApi};

use super::api;
use super::problem::Problem;
use super::schedule;
use super::storage;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "setup",
        description = "The API of `setup serve` for one folder (a DC's or a DR site's): its state, its storage and schedule settings, and jobs that run the engine's own operations there. Every endpoint here needs `Authorization: Bearer TOKEN` (`setup serve token add NAME`; only `/healthz`, outside this API, answers without one); every error is an RFC 9457 problem document (`application/problem+json`); a request body is JSON (`Content-Type: application/json`), at most 64 KiB.",
    ),
    paths(
        served,
        api::metrics,
        storage::show,
        storage::replace,
        storage::test,
        schedule::show,
        schedule::replace,
        api::status,
        api::backups,
        api::start_backup,
        api::start_restore,
        api::start_verify,
        api::start_drill,
        api::jobs,
        api::job,
        api::events,
        api::cancel,
    ),
    components(schemas(Problem)),
    tags(
        (name = "state", description = "Is the folder protected: its backups and their age, the next runs, the last drill, as JSON and as Prometheus metrics; and this document."),
        (name = "jobs", description = "Backups, restores, verify and drills, each run as the engine's own operation in this folder (its host locks, journal and rollback), followed until it ends."),
        (name = "settings", description = "The storage the folder backs up to and reads from, and the backup schedule."),
    ),
    modifiers(&Shared),
    security(("bearer" = [])),
)]
struct Doc;

/// What every operation shares.
struct Shared;

impl Modify for Shared {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        // The crate names no license: the document names none either.
        doc.info.license = None;
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        let problem = |what: &str| -> RefOr<Response> {
            let content = ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build();
            ResponseBuilder::new()
                .description(what)
                .content("application/problem+json", content)
                .build()
                .into()
        };
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                // A body that may be left out is never `null`: it is sent as the request, or not.
                for content in op
                    .request_body
                    .iter_mut()
                    .flat_map(|b| b.content.values_mut())
                {
                    if let Some(RefOr::T(Schema::OneOf(one))) = &content.schema {
                        let sent: Vec<&RefOr<Schema>> =
                            one.items.iter().filter(|s| !null(s)).collect();
                        if let [only] = sent[..] {
                            content.schema = Some(only.clone());
                        }
                    }
                }
                let mut shared = vec![
                    ("401", "No valid token"),
                    ("429", "Too many requests: wait as Retry-After says"),
                ];
                if op.request_body.is_some() {
                    shared.extend([
                        ("400", "The body is not JSON"),
                        ("413", "The body is over 64 KiB"),
                        (
                            "415",
                            "The body is not sent as Content-Type: application/json",
                        ),
                    ]);
                }
                for (status, what) in shared {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| problem(what));
                }
            }
        }
    }
}

fn null(schema: &RefOr<Schema>) -> bool {
    matches!(schema, RefOr::T(Schema::Object(o)) if o.schema_type == SchemaType::Type(Type::Null))
}

/// The document, made once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOCUMENT: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOCUMENT.get_or_init(Doc::openapi)
}

#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    operation_id = "openapi",
    tag = "state",
    summary = "This document",
    description = "This document.",
    responses((status = 200, description = "The OpenAPI document of this API", body = Object)),
)]
pub(super) async fn served() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(document())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of a value, wherever it is.
    fn refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_string()),
                        _ => refs(v, out),
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn each_reference_names_a_schema_and_each_operation_has_an_id_of_its_own() {
        let doc = serde_json::to_value(document()).unwrap();
        let schemas = &doc["components"]["schemas"];
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(schemas[name].is_object(), "{r} names no schema");
        }
        let mut ids = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                assert!(!ids.contains(&id), "{method} {path}: `{id}` twice");
                ids.push(id);
                assert!(op["description"].is_string(), "{method} {path}");
                assert!(op["responses"]["401"].is_object(), "{method} {path}");
            }
        }
        // Two types of one name would be one schema: each answer is its own.
        assert!(schemas["Status"]["properties"]["backups"].is_object());
        assert!(schemas["JobStatus"]["enum"].is_array());
        assert_eq!(doc["security"], serde_json::json!([{"bearer": []}]));
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"],
            serde_json::json!({"type": "http", "scheme": "bearer"})
        );
    }
}
