//! A real Redis server on loopback for the tests, started by `tests/support/redisbed`.

use std::path::PathBuf;
use std::process::Command;

pub struct RedisBed {
    pub dir: tempfile::TempDir,
    pub port: String,
    pub password: String,
    /// The server's process.
    pub pid: u32,
}

fn script() -> PathBuf {
    super::repo().join("tests/support/redisbed")
}

impl RedisBed {
    pub fn start() -> RedisBed {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "redisbed start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let read = |f: &str| {
            std::fs::read_to_string(dir.path().join(f))
                .unwrap()
                .trim()
                .to_string()
        };
        let (port, password, pid) = (read("port"), read("password"), read("pid"));
        RedisBed {
            pid: pid.parse().unwrap(),
            dir,
            port,
            password,
        }
    }

    /// `redis-cli ARGS` against the bed, the password in REDISCLI_AUTH; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port])
            .args(args)
            .env("REDISCLI_AUTH", &self.password)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "redis-cli {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for RedisBed {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
