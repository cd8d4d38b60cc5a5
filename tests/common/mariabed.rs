//! A real MariaDB server on loopback for the tests, started by `tests/support/mariabed`.

use std::path::PathBuf;
use std::process::Command;

pub struct MariaBed {
    pub dir: tempfile::TempDir,
    pub port: String,
    pub password: String,
    /// The server's process.
    pub pid: u32,
}

fn script() -> PathBuf {
    super::repo().join("tests/support/mariabed")
}

impl MariaBed {
    pub fn start() -> MariaBed {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariabed start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |f: &str| {
            std::fs::read_to_string(dir.path().join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        let (port, password, pid) = (read("port"), read("password"), read("pid"));
        MariaBed {
            pid: pid.parse().unwrap(),
            dir,
            port,
            password,
        }
    }

    /// Runs SQL in `db` as `setupdb` over TCP; its output, tab-separated, one row per line.
    pub fn sql(&self, db: &str, sql: &str) -> String {
        let out = Command::new("mariadb")
            .args([
                "--no-defaults",
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-P",
                &self.port,
                "-u",
                "setupdb",
                "--batch",
                "--skip-column-names",
                "-D",
                db,
                "-e",
                sql,
            ])
            .env("MYSQL_PWD", &self.password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mariadb {sql}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    pub fn databases(&self) -> Vec<String> {
        self.sql(
            "mysql",
            "SELECT schema_name FROM information_schema.schemata ORDER BY 1",
        )
        .lines()
        .map(str::to_string)
        .collect()
    }
}

impl Drop for MariaBed {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
