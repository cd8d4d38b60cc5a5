//! A server a test-bed script starts in a folder of its own (`tests/support/NAME start DIR`, which
//! writes `port` and `password` there) and stops again when the value is dropped
//! (`tests/support/NAME stop DIR`): the PostgreSQL, MariaDB and Redis beds.

use std::process::Command;

pub struct Started {
    pub dir: tempfile::TempDir,
    pub port: String,
    pub password: String,
    name: &'static str,
}

fn script(name: &str) -> std::path::PathBuf {
    super::repo().join("tests/support").join(name)
}

impl Started {
    pub fn start(name: &'static str) -> Started {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script(name))
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name} start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut started = Started {
            dir,
            port: String::new(),
            password: String::new(),
            name,
        };
        started.port = started.read("port");
        started.password = started.read("password");
        started
    }

    /// A file the script wrote into the bed's folder, trimmed.
    pub fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(file))
            .unwrap()
            .trim()
            .to_string()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = Command::new(script(self.name))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
