//! The drill's side of the director's database: the sandbox databases `<database>_drill_<run>`,
//! their rows compared with the counts the DC recorded in the backup's manifest, the site's SQL
//! checks run in them, and their removal.

use super::pg::{COUNTS_SQL, Conn, derived, ident, literal};
use crate::task::{Outcome, TaskCtx};

/// The names every drill database of `database` starts with, as a LIKE pattern.
fn drill_pattern(database: &str) -> String {
    // Cut as a drill database's name is cut, with a run id of the longest kind.
    let name = derived(database, "drill", "20261202T000000Z-0000");
    let head = &name[..name
        .rfind("_drill_")
        .map_or(name.len(), |i| i + "_drill_".len())];
    format!(
        "{}%",
        head.replace('\\', "\\\\")
            .replace('_', "\\_")
            .replace('%', "\\%")
    )
}

/// The drill's database of this run.
pub(super) fn sandbox_name(conn: &Conn, run: &str) -> String {
    sandbox_of(&conn.database, run)
}

/// What a drill sets as the comment on the database it makes, and what tells it from an
/// operator's database of a similar name.
fn comment(run: &str) -> String {
    format!("setup drill {run}")
}

/// Says on the drill database `name` of the drill `run` that a drill made it: the sweep drops only
/// databases that carry this comment. Drops it again when that fails.
pub(super) async fn mark(
    ctx: &TaskCtx<'_>,
    conn: &Conn,
    name: &str,
    run: &str,
) -> Result<(), String> {
    let note = format!(
        "COMMENT ON DATABASE {} IS {}",
        ident(name),
        literal(&comment(run))
    );
    if let Err(e) = conn.run(ctx, conn.psql("postgres", &note)).await {
        let drop = format!("DROP DATABASE IF EXISTS {}", ident(name));
        let _ = conn.run(ctx, conn.psql("postgres", &drop)).await;
        return Err(format!(
            "marking {name} as the drill's database failed: {e}"
        ));
    }
    Ok(())
}

/// Whether the database `name`, with the comment `comment`, is one a drill of `database` made: its
/// comment names a run id, and its name is the one a drill of that run gives its database.
fn drill_made(database: &str, name: &str, comment: Option<&str>) -> bool {
    comment
        .and_then(|c| c.strip_prefix("setup drill "))
        .is_some_and(|run| super::drillsweep::is_run_id(run) && sandbox_of(database, run) == name)
}

fn sandbox_of(database: &str, run: &str) -> String {
    derived(database, "drill", run)
}

/// The drill databases of `database` on the server, any run's: only those a drill made.
pub(super) async fn leftovers(ctx: &TaskCtx<'_>, conn: &Conn) -> Result<Vec<String>, String> {
    // One JSON array per line: a comment may hold any character.
    let sql = format!(
        "SELECT json_build_array(datname, shobj_description(oid, 'pg_database')) FROM pg_database WHERE datname LIKE {} ORDER BY datname",
        literal(&drill_pattern(&conn.database))
    );
    let out = conn.run(ctx, conn.psql("postgres", &sql)).await?;
    let mut found = Vec::new();
    for line in out.lines().filter(|l| !l.is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| format!("the server's list of databases cannot be read: {e}"))?;
        if let Some(name) = row[0].as_str()
            && drill_made(&conn.database, name, row[1].as_str())
        {
            found.push(name.to_string());
        }
    }
    Ok(found)
}

/// `op: sweep_drills`: drops every drill database of this database a drill made (this run's, and
/// any a killed drill left). The live database, those a restore keeps aside and an operator's
/// database of a similar name (no run id's shape, or not the drill's comment) are never among them.
pub async fn sweep(ctx: &TaskCtx<'_>, conn: &Conn) -> Result<Outcome, String> {
    let found = leftovers(ctx, conn).await?;
    if found.is_empty() {
        return Ok(Outcome::ok("no drill database to drop"));
    }
    let names: Vec<&str> = found.iter().map(String::as_str).collect();
    conn.run(ctx, conn.psql("postgres", &Conn::close_sessions(&names)))
        .await?;
    for name in &found {
        let drop = format!("DROP DATABASE IF EXISTS {}", ident(name));
        conn.run(ctx, conn.psql("postgres", &drop)).await?;
    }
    Ok(Outcome::changed(format!("dropped {}", found.join(", "))))
}

/// The rows of each table of `database`.
pub(super) async fn counts(
    ctx: &TaskCtx<'_>,
    conn: &Conn,
    database: &str,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let out = conn.run(ctx, conn.psql(database, COUNTS_SQL)).await?;
    match serde_json::from_str(&out) {
        Ok(serde_json::Value::Object(m)) => Ok(m),
        _ => Err(format!("the row counts of {database} cannot be read")),
    }
}

/// What one SQL query prints in `database`, one line per row, columns separated by `|`.
pub(super) async fn query(
    ctx: &TaskCtx<'_>,
    conn: &Conn,
    database: &str,
    sql: &str,
) -> Result<String, String> {
    conn.run(ctx, conn.psql(database, sql)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pattern_finds_drill_databases_only() {
        assert_eq!(super::drill_pattern("director"), "director\\_drill\\_%");
        assert_eq!(super::drill_pattern("a_b%"), "a\\_b\\%\\_drill\\_%");
    }

    #[test]
    fn only_a_database_a_drill_made_is_one() {
        let made = |name: &str, comment: Option<&str>| super::drill_made("director", name, comment);
        let run = "20261130T000000Z-dead";
        assert!(made(
            "director_drill_20261130t000000z_dead",
            Some(&super::comment(run))
        ));
        assert!(!made("director_drill_20261130t000000z_dead", None));
        assert!(!made("director_drill_20261130t000000z_dead", Some("notes")));
        assert!(!made("director_drill_notes", Some("setup drill notes")));
        // The comment names another run than the name does.
        assert!(!made(
            "director_drill_20261130t000000z_dead",
            Some("setup drill 20261130T000000Z-beef")
        ));
        // A long database's name is cut as a drill cuts it.
        let long = "d".repeat(60);
        let name = super::sandbox_of(&long, run);
        assert!(name.len() <= 63);
        assert!(super::drill_made(&long, &name, Some(&super::comment(run))));
    }
}
