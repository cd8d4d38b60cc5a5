//! A real Redis server on loopback for the tests, started by `tests/support/redisbed`.

use std::process::Command;

use super::started::Started;

pub struct RedisBed {
    server: Started,
    /// The server's process.
    pub pid: u32,
}

impl std::ops::Deref for RedisBed {
    type Target = Started;
    fn deref(&self) -> &Started {
        &self.server
    }
}

impl RedisBed {
    pub fn start() -> RedisBed {
        let server = Started::start("redisbed");
        RedisBed {
            pid: server.read("pid").parse().unwrap(),
            server,
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
