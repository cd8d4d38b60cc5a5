//! The OpenAPI 3 description of `/api/v1/`, built from the table of routes (tests/serve.rs asks
//! every path the document names and expects none to be unknown).

use serde_json::{Value as J, json};

/// Every route: method, path, what it does (the OpenAPI document is built from this table).
/// Every route: method, path, what it does, the schema of its body and of its answer (names in
/// `schemas`, or empty). The OpenAPI document is built from this table.
pub const ROUTES: &[(&str, &str, &str, &str, &str)] = &[
    ("get", "/openapi.json", "This document.", "", ""),
    (
        "get",
        "/metrics",
        "Prometheus text: the age of the newest backup of each kind, whether the storage answers, the jobs by status, whether the last drill passed.",
        "",
        "",
    ),
    (
        "get",
        "/storage",
        "The storage settings as the commands read them: the one storage the answers name (type, settings) and the targets backup.yml or restore.yml lists (targets: each with its settings and its answers, storage.NAME.FIELD), every secret as \"set\" (secrets are write-only). A file that cannot be read is a problem naming its file, line and key.",
        "",
        "StorageSettings",
    ),
    (
        "put",
        "/storage",
        "Replace storage answers in answers.yml: the one storage's (body: type, settings), or one listed target's (body: target, settings); each value checked against its type (422, nothing written), a secret left out kept; answers with the settings as GET does.",
        "StorageSettings",
        "StorageSettings",
    ),
    (
        "post",
        "/storage/test",
        "Write, list, read back and delete a test object in the storage.",
        "",
        "",
    ),
    (
        "get",
        "/schedule",
        "The backup schedule (UTC): backup.yml's times, the next runs, whether it is installed on this machine (systemd timers or the crontab).",
        "",
        "ScheduleState",
    ),
    (
        "put",
        "/schedule",
        "Write backup.yml's schedule (body: config, analytics as \"HH:MM\" UTC) and install it as `setup standalone schedule install` does; a refused schedule leaves backup.yml as it was.",
        "Schedule",
        "ScheduleState",
    ),
    (
        "get",
        "/status",
        "Are we protected: the newest backup of each kind with its age (the RPO), the next scheduled runs, the last drill.",
        "",
        "Status",
    ),
    (
        "get",
        "/backups",
        "The backups in storage: name, time, age, size, and whether a trusted key signed each.",
        "",
        "Backups",
    ),
    (
        "post",
        "/backups",
        "Start a backup job (body: components, force). 202 with the job; 409 when another run holds the hosts, or when this folder has no backup.yml (a DR site's).",
        "BackupRequest",
        "Job",
    ),
    (
        "post",
        "/restores",
        "Start a restore job (body: components, config_backup, analytics_mode). 202 with the job; 409 when another run holds the hosts.",
        "RestoreRequest",
        "Job",
    ),
    (
        "post",
        "/verify",
        "Start a verify job: every backup a restore would read, downloaded and checked. 202 with the job.",
        "",
        "Job",
    ),
    (
        "post",
        "/drills",
        "Start a drill job: the newest backups restored into a sandbox, checked, removed. 202 with the job.",
        "",
        "Job",
    ),
    ("get", "/jobs", "Every job, newest first.", "", ""),
    (
        "get",
        "/jobs/{id}",
        "One job: status (running, succeeded, failed, cancelled, interrupted, refused), tasks done of total, the step each host is on, RTO, RPO and the report once it ended.",
        "",
        "Job",
    ),
    (
        "get",
        "/jobs/{id}/events",
        "The job's events as Server-Sent Events, from its journal, in order, until it ends.",
        "",
        "",
    ),
    (
        "post",
        "/jobs/{id}/cancel",
        "Cancel a running job as Ctrl-C would: it stops and rolls back.",
        "",
        "",
    ),
];

/// The schemas the table names, and the problem document every error is.
fn schemas() -> J {
    let time = json!({"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "HH:MM, UTC"});
    let components = json!({"type": "array", "items": {"type": "string", "enum": ["config", "analytics"]}, "description": "none: every component"});
    json!({
        "Problem": {"type": "object", "description": "RFC 9457", "properties": {
            "type": {"type": "string"}, "title": {"type": "string"},
            "status": {"type": "integer"}, "detail": {"type": "string"},
            "errors": {"type": "array", "items": {"type": "string"}, "description": "each problem of a document: its file, line and message"}}},
        "BackupRequest": {"type": "object", "properties": {
            "components": components, "force": {"type": "boolean"}}},
        "RestoreRequest": {"type": "object", "properties": {
            "components": components,
            "config_backup": {"type": "string", "description": "a backup's name, or latest"},
            "analytics_mode": {"type": "string", "enum": ["weekly", "current-week"]}}},
        "Job": {"type": "object", "properties": {
            "id": {"type": "string"}, "kind": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed", "cancelled", "interrupted", "refused"]},
            "requested_by": {"type": "string"}, "created_at": {"type": "string", "format": "date-time"},
            "progress": {"type": "object", "properties": {
                "tasks_done": {"type": "integer"}, "tasks": {"type": "integer"},
                "running": {"type": "object", "description": "host: the step it is on", "additionalProperties": {"type": "string"}}}},
            "exit_code": {"type": "integer"}, "finished_at": {"type": "string", "format": "date-time"},
            "rto_seconds": {"type": "number"}, "rpo": {"type": "object"},
            "report": {"type": "object"}, "message": {"type": "string"}}},
        "Status": {"type": "object", "properties": {
            "site": {"type": "string"}, "storage": {"type": "string"},
            "storage_error": {"type": "string", "nullable": true},
            "backups": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "newest": {"type": "string", "nullable": true},
                "taken_at": {"type": "string", "nullable": true},
                "rpo_seconds": {"type": "integer", "nullable": true},
                "max_age_seconds": {"type": "integer"}, "too_old": {"type": "boolean"}}}},
            "next_runs": {"type": "array", "items": {"type": "object", "properties": {
                "job": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}}},
            "last_drill": {"type": "object", "nullable": true}}},
        "Backups": {"type": "object", "properties": {
            "storage": {"type": "string"},
            "backups": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "taken_at": {"type": "string"},
                "age_seconds": {"type": "integer"}, "size": {"type": "integer"},
                "signer": {"type": "string", "nullable": true},
                "refused": {"type": "string", "nullable": true}}}}}},
        "StorageSettings": {"type": "object", "properties": {
            "type": {"type": "string", "enum": crate::answers::STORAGE_TYPES, "description": "the one storage of the answers (a PUT gives this or target)"},
            "target": {"type": "string", "description": "a PUT of one listed target's answers (storage.NAME.FIELD): its name"},
            "settings": {"type": "object", "description": "the type's settings (see `setup standalone restore --help`); a secret reads back as \"set\"",
                "additionalProperties": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}},
            "targets": {"type": "array", "description": "the targets backup.yml or restore.yml lists", "items": {"type": "object", "properties": {
                "name": {"type": "string"}, "type": {"type": "string"},
                "settings": {"type": "object", "description": "the document's settings and the target's answers; a secret reads back as \"set\""},
                "answers": {"type": "array", "items": {"type": "string"}, "description": "the settings given as answers"}}}},
            "in_use": {"type": "string", "enum": ["answers", "targets"]}}},
        "Schedule": {"type": "object", "properties": {"config": time, "analytics": time}},
        "ScheduleState": {"type": "object", "properties": {
            "schedule": {"type": "object", "properties": {"config": time, "analytics": time}},
            "timezone": {"type": "string", "enum": ["UTC"]},
            "next_runs": {"type": "array", "items": {"type": "object"}},
            "installed": {"type": "boolean"},
            "runs_in": {"type": "string", "description": "systemd timers or crontab"}}},
    })
}

fn schema(name: &str) -> J {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

pub fn openapi() -> J {
    let problem = |what: &str| json!({"description": what, "content": {"application/problem+json": {"schema": schema("Problem")}}});
    let mut paths = serde_json::Map::new();
    for (method, path, what, body, answer) in ROUTES {
        let ok = if answer.is_empty() {
            json!({"description": "OK"})
        } else {
            json!({"description": "OK", "content": {"application/json": {"schema": schema(answer)}}})
        };
        let mut op = json!({
            "summary": what,
            "security": [{"bearer": []}],
            "responses": {
                "200": ok,
                "401": problem("No valid token"),
                "429": problem("Too many requests: wait as Retry-After says"),
            },
        });
        if *method == "post" && *answer == "Job" {
            op["responses"]["202"] = op["responses"]["200"].take();
            op["responses"]["202"]["description"] = "The job, started".into();
            op["responses"].as_object_mut().expect("map").remove("200");
            op["responses"]["409"] = problem("The hosts are locked by another run");
        }
        if !body.is_empty() {
            op["requestBody"] = json!({"required": *method == "put", "content": {"application/json": {"schema": schema(body)}}});
            op["responses"]["422"] = problem("The body is not valid");
            op["responses"]["400"] = problem("The body is not JSON");
            op["responses"]["413"] = problem("The body is over 64 KiB");
            op["responses"]["415"] =
                problem("The body is not sent as Content-Type: application/json");
        }
        if path.contains("{id}") {
            op["parameters"] = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
            op["responses"]["404"] = problem("No such job");
        }
        let entry = paths.entry(format!("/api/v1{path}")).or_insert(json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.0.3",
        "info": {"title": "setup", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas(),
        },
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_the_table_names_is_described() {
        let known = schemas();
        for (method, path, _, body, answer) in ROUTES {
            for name in [body, answer].into_iter().filter(|n| !n.is_empty()) {
                assert!(known.get(*name).is_some(), "{method} {path}: {name}");
            }
        }
    }
}
