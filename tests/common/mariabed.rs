//! A real MariaDB server on loopback for the tests, started by `tests/support/mariabed`.

use std::process::Command;

use super::started::Started;

pub struct MariaBed {
    server: Started,
    /// The server's process.
    pub pid: u32,
}

impl std::ops::Deref for MariaBed {
    type Target = Started;
    fn deref(&self) -> &Started {
        &self.server
    }
}

impl MariaBed {
    pub fn start() -> MariaBed {
        let server = Started::start("mariabed");
        MariaBed {
            pid: server.read("pid").parse().unwrap(),
            server,
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
