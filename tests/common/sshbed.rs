//! Real sshd hosts on loopback for the tests, started by `tests/support/sshbed` and stopped by PID.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct SshBed {
    pub dir: tempfile::TempDir,
    pub hosts: Vec<BedHost>,
}

#[derive(Clone, Debug)]
pub struct BedHost {
    pub name: String,
    pub address: String,
    pub port: String,
    pub pidfile: PathBuf,
}

impl BedHost {
    pub fn pid(&self) -> String {
        std::fs::read_to_string(&self.pidfile)
            .unwrap()
            .trim()
            .to_string()
    }
}

fn script() -> PathBuf {
    super::repo().join("tests/support/sshbed")
}

impl SshBed {
    pub fn start(n: usize) -> SshBed {
        Self::start_with(n, &[])
    }

    /// Starts with settings for the bed script in its environment (`SSHBED_ARGV_LOG=1`: each host
    /// records the command lines it runs in `hostN/argv.log`).
    pub fn start_with(n: usize, env: &[(&str, &str)]) -> SshBed {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(script())
            .envs(env.iter().copied())
            .arg("start")
            .arg(dir.path())
            .arg(n.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "sshbed start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let hosts = std::fs::read_to_string(dir.path().join("hosts"))
            .unwrap()
            .lines()
            .map(|l| {
                let p: Vec<&str> = l.split_whitespace().collect();
                BedHost {
                    name: p[0].into(),
                    address: p[1].into(),
                    port: p[2].into(),
                    pidfile: p[3].into(),
                }
            })
            .collect();
        SshBed { dir, hosts }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn master(&self) -> String {
        std::fs::read_to_string(self.path("master.yml")).unwrap()
    }

    /// Replaces addresses, ports and the bed's folder with stable names.
    pub fn filter(&self, text: &str) -> String {
        let mut t = super::filter(text, self.dir.path());
        for h in &self.hosts {
            t = t
                .replace(&h.address, &format!("[{}-ADDR]", h.name))
                .replace(&h.port, &format!("[{}-PORT]", h.name));
        }
        t
    }

    /// Sends a signal to a host's sshd and every connection it serves.
    pub fn signal(&self, host: usize, sig: &str) {
        let pid = self.hosts[host].pid();
        let _ = Command::new("pkill")
            .args([&format!("-{sig}"), "-P", &pid])
            .status();
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &pid])
            .status();
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SshBed {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}
