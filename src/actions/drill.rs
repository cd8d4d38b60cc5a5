//! `drill`: what a drill does besides restoring, on one host. Each check compares what the DC
//! recorded in a backup's signed manifest (or what the site says its data must show) with what the
//! sandbox holds, says both in a `Check` event and fails when they differ; the drill's check steps
//! carry `ignore_errors`, so that every check runs and the report names each one that failed.
//!
//! `do:` says which:
//! - `run`: the site's own command (`drill.start`, `drill.stop`); nothing when it is empty.
//! - `check_archive`: the plain archive's sha256 as unpacked (`found`) against the manifest's.
//! - `check_files`: the files of a folder (`dir`) against the manifest's `files` (how many) and
//!   `files_sha256` (the sha256 of their sorted, NUL-separated `./` paths).
//! - `check_tables`: each table's rows in the drill database against the manifest's `tables`.
//! - `check_site`: the site's check `name`: an `sql` query in the drill database or a `command`
//!   on the host; exit 0 and, with `expect`, that output.
//! - `check_http`: `url` answers 2xx within `timeout` seconds.
//! - `sandbox`: makes this run's sandbox folder `dir` afresh, with the drill's marker in it, and
//!   with `copy_of` a copy of that folder's files (the live analytics data) in it.
//! - `sweep`: removes the sandbox folders an earlier drill left beside each folder of `sandboxes`
//!   (the live configuration and data folders): only those a drill made (`drill_made`).
//! - `check_left`: nothing of any drill is left: no sandbox folder a drill made beside a folder of
//!   `sandboxes`, no path matching `paths` (shell patterns), and with `database` no drill database
//!   (`pgdrill`: only those a drill made).
//!
//! Site commands see the sandbox in SETUP_DRILL_CONFIG_DIR, SETUP_DRILL_DATA_DIR,
//! SETUP_DRILL_DATABASE and SETUP_DRILL_RUN.

use serde_json::Value as J;

use super::command::argv_ok;
use super::pg::Conn;
use crate::authentic::Manifest;
use crate::docs::actions::DrillArgs;
use crate::report::events::Event;
use crate::task::{Outcome, TaskCtx};
use crate::transport::{EnvValue, Program};

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let a: DrillArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let a = &a;
    let result = match Some(a.r#do.as_str()) {
        Some("run") => return site_command(ctx, a).await,
        Some("check_archive") => archive(ctx, a).await,
        Some("check_files") => files(ctx, a).await,
        Some("check_tables") => tables(ctx, a).await,
        Some("check_site") => site_check(ctx, a).await,
        Some("check_http") => http(ctx, a).await,
        Some("check_left") => left(ctx, a).await,
        Some("sandbox") => super::drillsweep::sandbox(ctx, a).await,
        Some("sweep") => super::drillsweep::sweep(ctx, a).await,
        other => Err(format!(
            "unknown `do` {:?}: run, check_archive, check_files, check_tables, check_site, check_http, check_left, sandbox or sweep",
            other.unwrap_or("")
        )),
    };
    result.unwrap_or_else(Outcome::failed)
}

/// One check's verdict: said as an event, and as the task's outcome.
fn verdict(ctx: &TaskCtx<'_>, name: &str, expected: &str, found: &str) -> Outcome {
    let passed = expected == found;
    ctx.events().emit(Event::Check {
        at: chrono::Utc::now(),
        host: ctx.host.name.clone(),
        step: ctx.step.id.clone(),
        name: name.to_string(),
        expected: expected.to_string(),
        found: found.to_string(),
        passed,
    });
    let text = format!("{name}: expected {expected}, found {found}");
    if passed {
        Outcome::ok(text)
    } else {
        Outcome::failed(text)
    }
}

/// The signed manifest of `object` (as a restore would read it: refused unless trusted).
async fn manifest(ctx: &TaskCtx<'_>, object: &str) -> Result<Manifest, String> {
    let storage = ctx
        .shared
        .storage
        .as_deref()
        .ok_or("no storage is configured")?;
    let verified = crate::authentic::check(storage, object, &ctx.shared.trust)
        .await
        .map_err(|why| crate::authentic::refused(object, &why))?;
    Ok(verified.manifest.unwrap_or_default())
}

fn object_arg(a: &DrillArgs) -> Result<String, String> {
    a.object
        .clone()
        .filter(|o| !o.is_empty())
        .ok_or_else(|| "`drill` needs `object`, the backup the check is about".to_string())
}

/// The environment of the site's commands: where the sandbox is.
fn sandbox_env(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Vec<(String, EnvValue)> {
    let mut env = ctx.env.clone();
    let database = Conn::new(ctx, a.into())
        .ok()
        .map(|c| super::pgdrill::sandbox_name(&c, &ctx.shared.run.id))
        .unwrap_or_default();
    for (key, value) in [
        ("SETUP_DRILL_CONFIG_DIR", a.sandbox_config.clone()),
        ("SETUP_DRILL_DATA_DIR", a.sandbox_data.clone()),
        ("SETUP_DRILL_DATABASE", Some(database)),
        ("SETUP_DRILL_RUN", Some(ctx.shared.run.id.clone())),
    ] {
        env.push((key.into(), EnvValue::Plain(value.unwrap_or_default())));
    }
    env
}

async fn shell(
    ctx: &TaskCtx<'_>,
    a: &DrillArgs,
    command: &str,
) -> Result<crate::transport::ExecOutput, String> {
    let mut req = ctx.request(Program::Shell(command.to_string()));
    req.env = sandbox_env(ctx, a);
    ctx.transport.exec(req).await.map_err(|e| e.to_string())
}

async fn site_command(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Outcome {
    let command = a.command.clone().unwrap_or_default();
    if command.trim().is_empty() {
        return Outcome::ok("no command given for this");
    }
    match shell(ctx, a, &command).await {
        Ok(out) => Outcome::from_exec(&out),
        Err(e) => Outcome::failed(e),
    }
}

async fn archive(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let object = object_arg(a)?;
    let m = manifest(ctx, &object).await?;
    let expected = (m.plain.as_ref().and_then(|d| d.sha256.as_deref()))
        .map_or("(no plain sha256 in its manifest)".to_string(), |d| {
            format!("sha256 {d}")
        });
    let found = format!("sha256 {}", a.found.as_deref().unwrap_or_default());
    Ok(verdict(
        ctx,
        &format!("{object}: the archive restored is the one the DC recorded"),
        &expected,
        &found,
    ))
}

/// What a folder holds, as a backup's manifest records it: how many files, and the sha256 of
/// their paths (`./…`), sorted bytewise, each ended by a NUL.
const LIST_FILES: &str = r#"cd "$1" && printf '%s %s\n' "$(find . -type f -print0 | tr -cd '\0' | wc -c)" "$(find . -type f -print0 | LC_ALL=C sort -z | sha256sum | cut -c1-64)""#;

async fn files(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let object = object_arg(a)?;
    let dir = a.dir.clone().unwrap_or_default();
    let m = manifest(ctx, &object).await?;
    let (Some(count), Some(digest)) = (
        m.fact("files").and_then(J::as_u64),
        m.fact("files_sha256").and_then(J::as_str),
    ) else {
        ctx.events().emit(Event::Note {
            at: chrono::Utc::now(),
            text: format!(
                "{object}: its manifest records no file list (files, files_sha256): its files are not checked"
            ),
        });
        return Ok(Outcome::ok(format!("{object}: no file list recorded")));
    };
    let argv = ["sh", "-c", LIST_FILES, "sh", &dir]
        .map(String::from)
        .to_vec();
    let out = argv_ok(ctx, argv, &format!("listing {dir}")).await?;
    let found = out.stdout.trim().replacen(' ', " file(s), list sha256 ", 1);
    Ok(verdict(
        ctx,
        &format!("{object}: the files restored are the ones the DC recorded"),
        &format!("{count} file(s), list sha256 {digest}"),
        &found,
    ))
}

async fn tables(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let object = object_arg(a)?;
    let conn = Conn::new(ctx, a.into())?;
    let m = manifest(ctx, &object).await?;
    let Some(recorded) = m.fact("tables").and_then(J::as_object) else {
        ctx.events().emit(Event::Note {
            at: chrono::Utc::now(),
            text: format!(
                "{object}: its manifest records no row counts (tables): the database's rows are not checked"
            ),
        });
        return Ok(Outcome::ok(format!("{object}: no row counts recorded")));
    };
    let sandbox = super::pgdrill::sandbox_name(&conn, &ctx.shared.run.id);
    let found = super::pgdrill::counts(ctx, &conn, &sandbox).await?;
    let mut names: Vec<&String> = recorded.keys().chain(found.keys()).collect();
    names.sort();
    names.dedup();
    let rows = |v: Option<&J>| v.map_or("no such table".to_string(), |n| format!("{n} row(s)"));
    let mut failed = Vec::new();
    for name in names {
        let o = verdict(
            ctx,
            &format!("table {name}"),
            &rows(recorded.get(name)),
            &rows(found.get(name)),
        );
        if o.status == crate::report::events::Status::Failed {
            failed.push(name.clone());
        }
    }
    Ok(if failed.is_empty() {
        Outcome::ok(format!(
            "{} table(s) in {sandbox} hold the rows the DC recorded",
            recorded.len()
        ))
    } else {
        Outcome::failed(format!(
            "the rows of {} in {sandbox} differ from what the DC recorded",
            failed.join(", ")
        ))
    })
}

async fn site_check(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let name = a.name.clone().unwrap_or_default();
    let expect = a.expect.clone().unwrap_or_default();
    let (ok, output) = match (a.sql.clone(), a.command.clone()) {
        (Some(sql), _) if !sql.is_empty() => {
            let conn = Conn::new(ctx, a.into())?;
            let sandbox = super::pgdrill::sandbox_name(&conn, &ctx.shared.run.id);
            match super::pgdrill::query(ctx, &conn, &sandbox, &sql).await {
                Ok(out) => (true, out),
                Err(e) => (false, e),
            }
        }
        (_, Some(command)) if !command.is_empty() => {
            let out = shell(ctx, a, &command).await?;
            let text = if out.success() {
                out.stdout.trim().to_string()
            } else {
                Outcome::from_exec(&out).message
            };
            (out.success(), text)
        }
        _ => {
            return Err(format!(
                "the check `{name}` has neither `sql` nor `command`"
            ));
        }
    };
    let (expected, found) = match (ok, expect.is_empty()) {
        (true, true) => ("success".to_string(), "success".to_string()),
        (true, false) => (format!("{expect:?}"), format!("{:?}", output.trim())),
        (false, true) => ("success".to_string(), format!("failure: {output}")),
        (false, false) => (format!("{expect:?}"), format!("failure: {output}")),
    };
    Ok(verdict(ctx, &name, &expected, &found))
}

async fn http(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let url = a.url.clone().unwrap_or_default();
    let timeout: u64 = a.timeout.unwrap_or(60);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(timeout);
    let found = loop {
        let answer = super::checks::http_status(&url).await;
        match answer {
            Ok(code) if (200..300).contains(&code) => break format!("HTTP {code}"),
            _ if std::time::Instant::now() < until => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Ok(code) => break format!("HTTP {code} after {timeout} s"),
            Err(e) => break format!("no answer after {timeout} s ({e})"),
        }
    };
    let expected = if found.starts_with("HTTP 2") {
        found.clone()
    } else {
        "HTTP 2xx".to_string()
    };
    Ok(verdict(
        ctx,
        &format!("the sandbox director answers at {url}"),
        &expected,
        &found,
    ))
}

/// Lists what matches each pattern (no word splitting, globbing only).
const FIND_LEFT: &str = r#"IFS=; for pat; do for p in $pat; do if [ -e "$p" ]; then printf '%s\n' "$p"; fi; done; done"#;

async fn left(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let patterns = a.paths.clone();
    let mut argv: Vec<String> = ["sh", "-c", FIND_LEFT, "sh"].map(String::from).to_vec();
    argv.extend(patterns);
    let out = argv_ok(ctx, argv, "looking for what the drill left").await?;
    let mut found = super::drillsweep::drill_sandboxes(ctx, a).await?;
    found.extend(out.stdout.lines().map(str::to_string));
    if a.database.as_deref().is_some_and(|d| !d.is_empty()) {
        let conn = Conn::new(ctx, a.into())?;
        found.extend(
            super::pgdrill::leftovers(ctx, &conn)
                .await?
                .into_iter()
                .map(|d| format!("database {d}")),
        );
    }
    let found = if found.is_empty() {
        "nothing".to_string()
    } else {
        found.join(", ")
    };
    Ok(verdict(ctx, "left behind", "nothing", &found))
}
