//! Real storage servers on loopback for the tests, started by `tests/support/storagebed`, stopped by PID.

use std::path::PathBuf;
use std::process::Command;

pub struct StorageBed {
    pub dir: tempfile::TempDir,
    pub kind: &'static str,
}

fn script() -> PathBuf {
    super::repo().join("tests/support/storagebed")
}

impl StorageBed {
    pub fn start(kind: &'static str) -> StorageBed {
        Self::start_with(kind, &[])
    }

    /// Starts with settings for the bed script in its environment (e.g. `SFTP_LOGIN`).
    pub fn start_with(kind: &'static str, env: &[(&str, &str)]) -> StorageBed {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .envs(env.iter().copied())
            .arg("start")
            .arg(kind)
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "storagebed start {kind}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let answers = dir.path().join("answers.yml");
        std::fs::set_permissions(
            &answers,
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
        StorageBed { dir, kind }
    }

    /// Aborts every client connection to the server, mid-transfer, as a network fault would.
    pub fn cut(&self) {
        let out = Command::new(script())
            .arg("cut")
            .arg(self.dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "storagebed cut: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sends a signal to the server (`STOP`: it hangs, `CONT`: it goes on).
    pub fn signal(&self, sig: &str) {
        let pid = std::fs::read_to_string(self.dir.path().join("pid")).unwrap();
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.trim())
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} {pid}");
    }

    pub fn answers(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("answers.yml")).unwrap()
    }
}

impl Drop for StorageBed {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
