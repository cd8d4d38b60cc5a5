//! The drill's side of the director's database: the sandbox databases `<database>_drill_<run>`,
//! their rows compared with the counts the DC recorded in the backup's manifest, the site's SQL
//! checks run in them, and their removal.

use super::postgres::{COUNTS_SQL, Conn, derived, ident, literal};
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
    derived(&conn.database, "drill", run)
}

/// The drill databases of `database` on the server, any run's.
pub(super) async fn leftovers(ctx: &TaskCtx<'_>, conn: &Conn) -> Result<Vec<String>, String> {
    let sql = format!(
        "SELECT datname FROM pg_database WHERE datname LIKE {} ORDER BY 1",
        literal(&drill_pattern(&conn.database))
    );
    let out = conn.run(ctx, conn.psql("postgres", &sql)).await?;
    Ok(out
        .lines()
        .map(str::to_string)
        .filter(|l| !l.is_empty())
        .collect())
}

/// `op: sweep_drills`: drops every drill database of this database (this run's, and any a killed
/// drill left). The live database and those a restore keeps aside are never among them.
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
}
