//! The director's database server as every `postgres` operation and the drill reach it: a
//! connection (`database`, `user`, `host`, `port`; the password `db_password` in the environment,
//! never on a command line), quoted names, and the names derived from a database's.

use crate::docs::actions::{DrillArgs, PostgresArgs};
use crate::task::TaskCtx;
use crate::transport::{EnvValue, Program};

/// The rows of each table of a database, as one JSON object `{"schema.table": rows}`.
pub(super) const COUNTS_SQL: &str = "SELECT coalesce(json_object_agg(t.table_schema || '.' || t.table_name, \
    (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', t.table_schema, t.table_name), false, true, '')))[1]::text::bigint), '{}') \
    FROM information_schema.tables t WHERE t.table_type = 'BASE TABLE' AND t.table_schema NOT IN ('pg_catalog', 'information_schema')";

/// A PostgreSQL identifier, quoted.
pub(super) fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// A PostgreSQL string literal, quoted.
pub(super) fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// `<database>_<what>_<run>`, cut to PostgreSQL's 63-byte name limit.
pub(super) fn derived(database: &str, what: &str, run: &str) -> String {
    let run: String = run
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    let tail = if run.is_empty() {
        format!("_{what}")
    } else {
        format!("_{what}_{run}")
    };
    let mut head = database.to_string();
    while head.len() + tail.len() > 63 {
        head.pop();
    }
    head + &tail
}

/// Where a step says the database is: its `database`, `host`, `port` and `user` arguments.
pub(super) struct At<'a> {
    database: Option<&'a str>,
    host: Option<&'a str>,
    port: Option<&'a str>,
    user: Option<&'a str>,
}

impl<'a> From<&'a PostgresArgs> for At<'a> {
    fn from(a: &'a PostgresArgs) -> Self {
        At {
            database: a.database.as_deref(),
            host: a.host.as_deref(),
            port: a.port.as_deref(),
            user: a.user.as_deref(),
        }
    }
}

impl<'a> From<&'a DrillArgs> for At<'a> {
    fn from(a: &'a DrillArgs) -> Self {
        At {
            database: a.database.as_deref(),
            host: a.host.as_deref(),
            port: a.port.as_deref(),
            user: a.user.as_deref(),
        }
    }
}

pub(super) struct Conn {
    pub(super) database: String,
    args: Vec<String>,
    pub(super) env: Vec<(String, EnvValue)>,
}

impl Conn {
    pub(super) fn new(ctx: &TaskCtx<'_>, at: At<'_>) -> Result<Conn, String> {
        let database = at
            .database
            .filter(|d| !d.is_empty())
            .ok_or("`postgres` needs `database` (db_name in master.yml)")?
            .to_string();
        let mut args = Vec::new();
        for (value, flag) in [(at.host, "-h"), (at.port, "-p"), (at.user, "-U")] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                args.extend([flag.to_string(), v.to_string()]);
            }
        }
        let mut env = vec![(
            "PGCONNECT_TIMEOUT".to_string(),
            EnvValue::Plain("10".into()),
        )];
        if let Some(p) = &ctx.shared.db_password {
            env.push(("PGPASSWORD".into(), EnvValue::Secret(p.clone())));
        }
        Ok(Conn {
            database,
            args,
            env,
        })
    }

    /// `psql` running `sql` (one transaction) in `database`.
    pub(super) fn psql(&self, database: &str, sql: &str) -> Program {
        let mut argv = vec!["psql".to_string(), "-X".into(), "-q".into(), "-At".into()];
        argv.extend(["-v".into(), "ON_ERROR_STOP=1".into()]);
        argv.extend(self.args.iter().cloned());
        argv.extend([
            "-d".into(),
            database.to_string(),
            "-c".into(),
            sql.to_string(),
        ]);
        Program::Argv(argv)
    }

    pub(super) fn tool(&self, tool: &str, rest: &[&str]) -> Program {
        let mut argv = vec![tool.to_string()];
        argv.extend(self.args.iter().cloned());
        argv.extend(rest.iter().map(|s| s.to_string()));
        Program::Argv(argv)
    }

    pub(super) async fn run(&self, ctx: &TaskCtx<'_>, program: Program) -> Result<String, String> {
        let mut req = ctx.request(program);
        req.env.extend(self.env.iter().cloned());
        match ctx.transport.exec(req).await {
            Ok(out) if out.success() => Ok(out.stdout.trim().to_string()),
            Ok(out) => {
                let err = out.stderr.trim();
                let hint = if err.contains("password authentication failed")
                    || err.contains("no password supplied")
                {
                    " (give the database password as the answer db_password, e.g. SETUP_DB_PASSWORD)"
                } else if err.contains("command not found") || out.code == Some(127) {
                    " (install the PostgreSQL client tools on this host)"
                } else {
                    ""
                };
                Err(format!(
                    "{}{hint}",
                    crate::task::cause_line(err).unwrap_or(err).trim()
                ))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub(super) async fn exists(&self, ctx: &TaskCtx<'_>, name: &str) -> Result<bool, String> {
        let sql = format!(
            "SELECT count(*) FROM pg_database WHERE datname = {}",
            literal(name)
        );
        Ok(self.run(ctx, self.psql("postgres", &sql)).await? != "0")
    }

    pub(super) async fn tables(&self, ctx: &TaskCtx<'_>, database: &str) -> Result<String, String> {
        let sql = "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema')";
        self.run(ctx, self.psql(database, sql)).await
    }

    /// SQL that closes every other session on these databases, so that they can be renamed.
    pub(super) fn close_sessions(names: &[&str]) -> String {
        let list: Vec<String> = names.iter().map(|n| literal(n)).collect();
        format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname IN ({}) AND pid <> pg_backend_pid(); ",
            list.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_and_fit_postgres() {
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(
            derived("director", "pre", "20261123T204002Z-9d68"),
            "director_pre_20261123t204002z_9d68"
        );
        let long = "d".repeat(70);
        let name = derived(&long, "failed", "20261123T204002Z-9d68");
        assert_eq!(name.len(), 63);
        assert!(name.ends_with("_failed_20261123t204002z_9d68"));
        assert_eq!(derived("director", "setup_new", ""), "director_setup_new");
    }
}
