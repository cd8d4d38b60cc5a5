//! The OpenAPI 3 description of `/api/v1/`, built from the table of routes (tests/serve.rs asks
//! every path the document names and expects none to be unknown).

use serde_json::{Value as J, json};

/// Every route: method, path, what it does (the OpenAPI document is built from this table).
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("get", "/openapi.json", "This document."),
    (
        "get",
        "/metrics",
        "Prometheus text: the age of the newest backup of each kind, whether the storage answers, the jobs by status, whether the last drill passed.",
    ),
    (
        "get",
        "/storage",
        "The storage settings: type and settings, every secret as \"set\" (secrets are write-only).",
    ),
    (
        "put",
        "/storage",
        "Replace the storage settings in answers.yml (body: type, settings); answers with the settings as GET does.",
    ),
    (
        "post",
        "/storage/test",
        "Write, list, read back and delete a test object in the storage.",
    ),
    (
        "get",
        "/status",
        "Are we protected: the newest backup of each kind with its age (the RPO), the next scheduled runs, the last drill.",
    ),
    (
        "get",
        "/backups",
        "The backups in storage: name, time, age, size, and whether a trusted key signed each.",
    ),
    (
        "post",
        "/backups",
        "Start a backup job (body: components, force). 202 with the job; 409 when another run holds the hosts.",
    ),
    (
        "post",
        "/restores",
        "Start a restore job (body: config_backup, analytics_mode). 202 with the job; 409 when another run holds the hosts.",
    ),
    (
        "post",
        "/verify",
        "Start a verify job: every backup a restore would read, downloaded and checked. 202 with the job.",
    ),
    (
        "post",
        "/drills",
        "Start a drill job: the newest backups restored into a sandbox, checked, removed. 202 with the job.",
    ),
    ("get", "/jobs", "Every job, newest first."),
    (
        "get",
        "/jobs/{id}",
        "One job: status (running, succeeded, failed, cancelled, interrupted, refused), tasks done of total, the step each host is on, RTO, RPO and the report once it ended.",
    ),
    (
        "get",
        "/jobs/{id}/events",
        "The job's events as Server-Sent Events, from its journal, in order, until it ends.",
    ),
    (
        "post",
        "/jobs/{id}/cancel",
        "Cancel a running job as Ctrl-C would: it stops and rolls back.",
    ),
];

pub fn openapi() -> J {
    let mut paths = serde_json::Map::new();
    for (method, path, what) in ROUTES {
        let mut op = json!({
            "summary": what,
            "security": [{"bearer": []}],
            "responses": {
                "200": {"description": "OK"},
                "401": {"description": "No valid token", "content": {"application/problem+json": {}}},
            },
        });
        if *method == "post" {
            op["responses"]["202"] = json!({"description": "The job, started"});
            op["responses"]["409"] = json!({"description": "The hosts are locked by another run", "content": {"application/problem+json": {}}});
            op["requestBody"] = json!({"required": false, "content": {"application/json": {"schema": {"type": "object"}}}});
        }
        if path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
        }
        let entry = paths.entry(format!("/api/v1{path}")).or_insert(json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "setup", "version": env!("CARGO_PKG_VERSION")},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    })
}
