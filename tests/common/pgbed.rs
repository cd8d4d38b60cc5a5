//! A real PostgreSQL server on loopback for the tests, started by `tests/support/pgbed`.

use std::path::PathBuf;
use std::process::Command;

pub struct PgBed {
    pub dir: tempfile::TempDir,
    pub port: String,
    pub password: String,
}

fn script() -> PathBuf {
    super::repo().join("tests/support/pgbed")
}

impl PgBed {
    pub fn start() -> PgBed {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pgbed start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |f: &str| {
            std::fs::read_to_string(dir.path().join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        let (port, password) = (read("port"), read("password"));
        let bed = PgBed {
            dir,
            port,
            password,
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

impl Drop for PgBed {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
