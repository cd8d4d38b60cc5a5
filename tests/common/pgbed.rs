//! A real PostgreSQL server on loopback for the tests, started by `tests/support/pgbed`.

use std::process::Command;

use super::started::Started;

pub struct PgBed {
    server: Started,
}

impl std::ops::Deref for PgBed {
    type Target = Started;
    fn deref(&self) -> &Started {
        &self.server
    }
}

impl PgBed {
    pub fn start() -> PgBed {
        let bed = PgBed {
            server: Started::start("pgbed"),
        };
        // The role that owns the director's databases and that a restore loads a dump as: not a
        // superuser (the superuser `setupdb` connects, makes and renames databases).
        bed.sql("postgres", "CREATE ROLE setupowner NOLOGIN");
        bed
    }

    fn client(&self, tool: &str) -> Command {
        let mut c = Command::new(tool);
        c.args(["-h", "127.0.0.1", "-p", &self.port, "-U", "setupdb"])
            .env("PGPASSWORD", &self.password);
        c
    }

    /// Runs SQL in `db`; its output, unaligned, one row per line.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = self
            .client("psql")
            .args([
                "-X",
                "-q",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "psql {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `pg_dump -Fc` of `db` into `to`.
    pub fn dump(&self, db: &str, to: &std::path::Path) {
        let ok = self
            .client("pg_dump")
            .args(["-Fc", "-f"])
            .arg(to)
            .arg(db)
            .status()
            .unwrap()
            .success();
        assert!(ok, "pg_dump {db}");
    }

    pub fn databases(&self) -> Vec<String> {
        self.sql(
            "postgres",
            "SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }
}
