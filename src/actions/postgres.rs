//! `postgres`: the director's database, restored beside the live one and switched in by rename, so
//! that the live database is never written to and a rollback is two renames.
//!
//! - `op: load`: a fresh database `<database>_setup_new` from a `pg_dump -Fc` file (`pg_restore`);
//!   the live database is not touched. A failed load drops the new database. A signed dump from a
//!   compromised DC is still SQL, so the dump is screened first (`screen`: no programs run by COPY,
//!   no roles, no extensions off the allow list, no event triggers, subscriptions, foreign servers or
//!   untrusted languages), and it is loaded as the database's owner role (`owner`, else the live
//!   database's owner), never as a superuser, without owners or privileges from the dump.
//! - `op: dump`: a dump of the live database to `to`, before it is replaced.
//! - `op: switch`: the live database becomes `<database>_pre_<run>` and the new one takes its name;
//!   undone by renaming back (the restored one is kept as `<database>_failed_<run>`).
//! - `op: check`: connects to the live database and counts its tables.
//! - `op: probe`: read-only, for `--check`: connects to the server (its `postgres` database) with
//!   the run's credentials and says whether the live database exists.
//! - `op: load` with `sandbox: RUN` (a drill): into `<database>_drill_<run>`, commented `setup drill
//!   RUN`; `op: sweep_drills` drops it and any an earlier drill left (a run id's shape and comment).
//! - `op: discard`: drops `<database>_setup_new` if a run stopped before switching it in (the
//!   cleanup after a failure); the live database and those kept aside are not touched.
//! - `op: keep` with `keep: N`: of the databases restores kept aside (`<database>_pre_<run>`,
//!   `<database>_failed_<run>`), the newest N of each kind stay and the older ones are dropped.
//!
//! Connection: `database`, `user`, `host` (a name, an address or a socket folder), `port`. The
//! password is the answer `db_password`, handed over in the environment, never on a command line.

use super::pg::{COUNTS_SQL, Conn, derived, ident, literal};
use super::pgscreen::{SCRIPT_LINES, screen};
use crate::docs::actions::PostgresArgs;
use crate::task::{Outcome, TaskCtx, Undo};
use crate::transport::Program;

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let a: PostgresArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let conn = match Conn::new(ctx, (&a).into()) {
        Ok(c) => c,
        Err(e) => return Outcome::failed(e),
    };
    let result = match Some(a.op.as_str()) {
        Some("load") => load(ctx, &a, &conn).await,
        Some("dump") => dump(ctx, &a, &conn).await,
        Some("switch") => return switch(ctx, &conn).await,
        Some("discard") => discard(ctx, &conn).await,
        Some("keep") => {
            super::keep::databases(ctx, a.keep.as_deref().unwrap_or_default(), &conn).await
        }
        Some("sweep_drills") => super::pgdrill::sweep(ctx, &conn).await,
        Some("check") => conn
            .tables(ctx, &conn.database)
            .await
            .map(|n| Outcome::ok(format!("database {} answers: {n} table(s)", conn.database))),
        Some("probe") => conn
            .run(
                ctx,
                conn.psql(
                    "postgres",
                    &format!(
                        "SELECT current_user || ' ' || (SELECT count(*) FROM pg_database WHERE datname = {})",
                        literal(&conn.database)
                    ),
                ),
            )
            .await
            .map(|out| {
                let (role, n) = out.split_once(' ').unwrap_or((&out, "0"));
                let db = &conn.database;
                Outcome::ok(if n == "0" {
                    format!("the server answers (as {role}); database {db} does not exist yet")
                } else {
                    format!("the server answers (as {role}); database {db} exists")
                })
            }),
        other => Err(format!(
            "unknown `op` {:?}: load, dump, switch, check, probe, discard, keep or sweep_drills",
            other.unwrap_or("")
        )),
    };
    result.unwrap_or_else(Outcome::failed)
}

async fn load(ctx: &TaskCtx<'_>, a: &PostgresArgs, conn: &Conn) -> Result<Outcome, String> {
    let dump = a.dump.clone().ok_or("`op: load` needs `dump`")?;
    // A drill loads into its own database, `<database>_drill_<run>`, beside everything live.
    let sandbox = a.sandbox.as_deref().filter(|s| !s.is_empty());
    let new = match sandbox {
        Some(run) => derived(&conn.database, "drill", run),
        None => derived(&conn.database, "setup_new", ""),
    };
    // What the dump would run, screened before a database is made.
    let lines = conn
        .run(
            ctx,
            Program::Argv(vec![
                "sh".into(),
                "-c".into(),
                SCRIPT_LINES.to_string(),
                "screen".into(),
                dump.clone(),
            ]),
        )
        .await
        .map_err(|e| format!("{dump} cannot be read as a dump: {e}"))?;
    if lines.contains("PG_RESTORE_FAILED") {
        return Err(format!(
            "{dump} cannot be read as a dump (pg_restore could not read it)"
        ));
    }
    let found = screen(&lines);
    if !found.is_empty() {
        return Err(format!(
            "{dump} holds what a configuration backup never needs, so it is not loaded ({} finding(s)): {}",
            found.len(),
            found.iter().take(5).cloned().collect::<Vec<_>>().join("; ")
        ));
    }
    let owner = owner_role(ctx, a, conn).await?;
    let fresh = format!("DROP DATABASE IF EXISTS {n}", n = ident(&new));
    conn.run(ctx, conn.psql("postgres", &fresh)).await?;
    conn.run(
        ctx,
        conn.psql(
            "postgres",
            &format!("CREATE DATABASE {} OWNER {}", ident(&new), ident(&owner)),
        ),
    )
    .await?;
    if let Some(run) = sandbox {
        super::pgdrill::mark(ctx, conn, &new, run).await?;
    }
    let role = format!("--role={owner}");
    let restore = conn.tool(
        "pg_restore",
        &[
            "--no-owner",
            "--no-privileges",
            "--exit-on-error",
            "--single-transaction",
            &role,
            "-d",
            &new,
            &dump,
        ],
    );
    if let Err(e) = conn.run(ctx, restore).await {
        let _ = conn.run(ctx, conn.psql("postgres", &fresh)).await;
        return Err(format!("loading {dump} into a fresh database failed: {e}"));
    }
    let tables = conn.tables(ctx, &new).await?;
    Ok(Outcome::changed(format!(
        "{dump} screened and loaded into {new} as the role {owner} ({tables} table(s)); {} is untouched",
        conn.database
    )))
}

/// The role the dump is loaded as and the new database is owned by: `owner` (db_owner), else the
/// live database's owner, else the connecting user. Never a superuser.
async fn owner_role(ctx: &TaskCtx<'_>, a: &PostgresArgs, conn: &Conn) -> Result<String, String> {
    let given = a.owner.clone().filter(|o| !o.is_empty());
    let sql = match &given {
        Some(o) => format!(
            "SELECT rolname || '|' || CASE WHEN rolsuper THEN 't' ELSE 'f' END FROM pg_roles WHERE rolname = {}",
            literal(o)
        ),
        None => format!(
            "SELECT r.rolname || '|' || CASE WHEN r.rolsuper THEN 't' ELSE 'f' END FROM pg_roles r WHERE r.oid = coalesce((SELECT datdba FROM pg_database WHERE datname = {}), (SELECT oid FROM pg_roles WHERE rolname = current_user))",
            literal(&conn.database)
        ),
    };
    let row = conn.run(ctx, conn.psql("postgres", &sql)).await?;
    let Some((name, superuser)) = row.split_once('|') else {
        return Err(format!(
            "there is no role {}: set db_owner to the role that owns the director's database",
            given.unwrap_or_default()
        ));
    };
    if superuser == "t" {
        return Err(format!(
            "the dump would be loaded as {name}, a superuser: set db_owner in master.yml to the role that owns the director's database (not a superuser), or make it the database's owner (ALTER DATABASE {} OWNER TO ...)",
            conn.database
        ));
    }
    Ok(name.to_string())
}

async fn discard(ctx: &TaskCtx<'_>, conn: &Conn) -> Result<Outcome, String> {
    let new = derived(&conn.database, "setup_new", "");
    if !conn.exists(ctx, &new).await? {
        return Ok(Outcome::ok(format!("no {new} to drop")));
    }
    // DROP DATABASE runs alone: psql sends one `-c` as one transaction.
    conn.run(ctx, conn.psql("postgres", &Conn::close_sessions(&[&new])))
        .await?;
    let drop = format!("DROP DATABASE IF EXISTS {}", ident(&new));
    conn.run(ctx, conn.psql("postgres", &drop)).await?;
    Ok(Outcome::changed(format!(
        "dropped {new}, the restored database that was never switched in"
    )))
}

async fn dump(ctx: &TaskCtx<'_>, a: &PostgresArgs, conn: &Conn) -> Result<Outcome, String> {
    let to = a.to.clone().ok_or("`op: dump` needs `to`")?;
    if !conn.exists(ctx, &conn.database).await? {
        if a.missing.as_deref() == Some("fail") {
            return Err(format!("there is no database {}", conn.database));
        }
        return Ok(Outcome::ok(format!(
            "no database {} yet: nothing to keep",
            conn.database
        )));
    }
    // The dump holds the director's data: readable by its owner only (0600), made so from the
    // start, never loosened later.
    let Program::Argv(dump) = conn.tool("pg_dump", &["-Fc", "-f", &to, &conn.database]) else {
        unreachable!("a tool is an argv");
    };
    let mut argv: Vec<String> = [
        "sh",
        "-c",
        "umask 077 && rm -f \"$1\" && shift && exec \"$@\"",
        "sh",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    argv.push(to.clone());
    argv.extend(dump);
    let program = Program::Argv(argv);
    conn.run(ctx, program).await?;
    // The rows of each table, for the backup's manifest: a restore can be checked against them.
    if let Some(path) = a.counts_to.clone() {
        let counts = conn.run(ctx, conn.psql(&conn.database, COUNTS_SQL)).await?;
        let tables: serde_json::Value =
            serde_json::from_str(&counts).map_err(|e| format!("row counts: {e}"))?;
        let body = serde_json::json!({ "database": conn.database, "tables": tables }).to_string();
        ctx.transport
            .put(
                &path,
                Box::new(std::io::Cursor::new(body.into_bytes())),
                None,
                ctx.become_(),
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(Outcome::changed(format!(
        "the database {} is dumped to {to}",
        conn.database
    )))
}

async fn switch(ctx: &TaskCtx<'_>, conn: &Conn) -> Outcome {
    let db = &conn.database;
    let run = &ctx.shared.run.id;
    let new = derived(db, "setup_new", "");
    let pre = derived(db, "pre", run);
    let failed = derived(db, "failed", run);
    let step = async {
        if !conn.exists(ctx, &new).await? {
            return Err(format!(
                "no database {new} to switch to: load the dump first (op: load)"
            ));
        }
        conn.exists(ctx, db).await
    };
    let had = match step.await {
        Ok(h) => h,
        Err(e) => return Outcome::failed(e),
    };
    let mut sql = Conn::close_sessions(&[db, &new]);
    if had {
        sql += &format!("ALTER DATABASE {} RENAME TO {}; ", ident(db), ident(&pre));
    }
    sql += &format!("ALTER DATABASE {} RENAME TO {}", ident(&new), ident(db));
    if let Err(e) = conn.run(ctx, conn.psql("postgres", &sql)).await {
        return Outcome::failed(format!("switching to the restored database failed: {e}"));
    }
    let mut back = Conn::close_sessions(&[db]);
    back += &format!("ALTER DATABASE {} RENAME TO {}", ident(db), ident(&failed));
    if had {
        back += &format!("; ALTER DATABASE {} RENAME TO {}", ident(&pre), ident(db));
    }
    let undo = Undo {
        program: conn.psql("postgres", &back),
        describe: if had {
            format!("put the database {db} back (the restored one is kept as {failed})")
        } else {
            format!("renamed the restored database {db} to {failed} (there was none before)")
        },
        env: conn.env.clone(),
    };
    let message = if had {
        format!("{new} is now {db}; the previous one is kept as {pre}")
    } else {
        format!("{new} is now {db} (there was none before)")
    };
    Outcome::changed(message).with_undo(undo)
}
