//! The notification receivers as helpers a test can share: a webhook receiver that checks each
//! body's HMAC-SHA256 signature (tests/support/webhook-receiver) and a mail server with TLS and a
//! login (tests/support/smtp-receiver, aiosmtpd). Each is stopped by its own child handle on drop.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value as J;

use super::served::venv_python;

/// Waits for a helper's `port` file (written once it listens).
fn port_of(dir: &std::path::Path, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("port").exists() {
        assert!(Instant::now() < deadline, "the {what} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::read_to_string(dir.join("port")).unwrap()
}

/// A webhook receiver keyed with `secret`.
pub struct Webhook {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: String,
}

impl Webhook {
    pub fn start(secret: &str) -> Webhook {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(super::repo().join("tests/support/webhook-receiver"))
            .arg(dir.path())
            .arg(secret)
            .spawn()
            .unwrap();
        let port = port_of(dir.path(), "webhook receiver");
        Webhook { child, dir, port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request received, oldest first: `{path, signed, signature_ok, content_type, body}`.
    pub fn received(&self) -> Vec<J> {
        let mut files: Vec<_> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap())
            .collect()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mail server over STARTTLS that wants the login `user` / `password`.
pub struct Smtp {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: String,
}

impl Smtp {
    pub fn start(user: &str, password: &str) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(venv_python())
            .arg(super::repo().join("tests/support/smtp-receiver"))
            .arg(dir.path())
            .args([user, password, "starttls"])
            .spawn()
            .expect("python with aiosmtpd (scripts/test installs it)");
        let port = port_of(dir.path(), "SMTP server");
        Smtp { child, dir, port }
    }

    /// The answers (`notify.email.*` lines) that send to this server as `user` / `password`.
    pub fn answers(&self, user: &str, password: &str, to: &str) -> String {
        format!(
            "notify.email.host: localhost\nnotify.email.port: \"{}\"\nnotify.email.tls: starttls\nnotify.email.user: {user}\nnotify.email.password: \"{password}\"\nnotify.email.from: setup@dr.example\nnotify.email.to: {to}\nnotify.email.ca_file: {}\n",
            self.port,
            self.dir.path().join("ca.pem").display()
        )
    }

    /// Each message received: its envelope (JSON) and the message as sent.
    pub fn received(&self) -> Vec<(J, String)> {
        (1..)
            .map(|n| self.dir.path().join(format!("{n}.json")))
            .take_while(|p| p.exists())
            .map(|p| {
                let env: J = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                let eml = std::fs::read_to_string(p.with_extension("eml")).unwrap();
                (env, eml)
            })
            .collect()
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
