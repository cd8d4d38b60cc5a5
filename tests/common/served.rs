//! `setup serve` on loopback for the tests: the server started on a free port with a token of
//! the tests' own, asked with curl.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

use super::Bed;
use serde_json::Value as J;

pub const TOKEN: &str = "Serve-Token-For-Tests-5b1d";
pub const SECRET: &str = "Webhook-Secret-In-Answers-93";

pub struct Served {
    pub child: Child,
    pub base: String,
    pub dir: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn serve(bed: &Bed, folder: &str) -> Served {
    started(bed, folder, std::process::Stdio::inherit(), &[])
}

/// The server with these environment variables besides the bed's.
pub fn serve_with(bed: &Bed, folder: &str, env: &[(&str, &str)]) -> Served {
    started(bed, folder, std::process::Stdio::inherit(), env)
}

/// The server with its standard error (its log) written to `log`.
pub fn serve_logged(bed: &Bed, folder: &str, log: &std::path::Path) -> Served {
    started(bed, folder, std::fs::File::create(log).unwrap().into(), &[])
}

fn started(bed: &Bed, folder: &str, stderr: std::process::Stdio, env: &[(&str, &str)]) -> Served {
    let port = free_port();
    let child = bed
        .command(&[
            "serve",
            "-C",
            folder,
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .env("SETUP_SERVE_TOKEN", TOKEN)
        .envs(env.iter().copied())
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while curl(&base, "GET", "/healthz", None, None).0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never answered"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Served {
        child,
        base,
        dir: bed.path(folder),
    }
}

/// One request: (status, content type, body).
pub fn curl(
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, String, String) {
    let mut c = Command::new("curl");
    c.args([
        "-s",
        "-o",
        "-",
        "-w",
        "\n%{http_code} %{content_type}",
        "-X",
        method,
    ]);
    if let Some(t) = token {
        c.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data", b]);
    }
    let out = c.arg(format!("{base}{path}")).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", &text));
    let (code, ctype) = tail.split_once(' ').unwrap_or((tail, ""));
    (
        code.parse().unwrap_or(0),
        ctype.to_string(),
        body.to_string(),
    )
}

impl Served {
    pub fn call(&self, method: &str, path: &str, body: Option<&str>) -> (u16, J) {
        let (code, _, text) = curl(&self.base, method, path, Some(TOKEN), body);
        assert!(
            !text.contains(SECRET),
            "a secret in the answer to {path}: {text}"
        );
        (code, serde_json::from_str(&text).unwrap_or(J::String(text)))
    }

    /// Polls a job until it has ended.
    pub fn finished(&self, id: &str) -> J {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let (code, job) = self.call("GET", &format!("/api/v1/jobs/{id}"), None);
            assert_eq!(code, 200, "{job}");
            if job["status"] != "running" {
                return job;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "job {id} never ended: {job}"
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
}

/// The venv's python: where `scripts/test` installed websocket-client.
pub fn venv_python() -> PathBuf {
    match std::env::var_os("ANSIBLE_INVENTORY") {
        Some(p) => PathBuf::from(p).with_file_name("python"),
        None => PathBuf::from(std::env::var("HOME").unwrap())
            .join(".cache/setup/ansible-venv/bin/python"),
    }
}

/// A storage bed's answers (`storage.TYPE.FIELD: VALUE` lines) as the body of `PUT /storage`.
pub fn storage_json(answers: &str) -> J {
    let mut kind = String::new();
    let mut settings = serde_json::Map::new();
    for line in answers.lines() {
        let Some((key, value)) = line.split_once(": ") else {
            continue;
        };
        let value = value.trim().trim_matches('"').to_string();
        match key.split('.').collect::<Vec<_>>().as_slice() {
            ["storage", "type"] => kind = value,
            ["storage", _, field] => {
                settings.insert(field.to_string(), J::String(value));
            }
            _ => {}
        }
    }
    serde_json::json!({"type": kind, "settings": settings})
}

/// The names of the files under `dir` (a storage bed's objects).
pub fn names_under(dir: &std::path::Path) -> Vec<String> {
    super::files_under(dir)
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect()
}

/// Signs in to the page with the token; the cookie jar's path.
pub fn sign_in(base: &str, jar: &Path) {
    let ok = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-c"])
        .arg(jar)
        .args(["--data", &format!("token={TOKEN}")])
        .arg(format!("{base}/login"))
        .status()
        .unwrap()
        .success();
    assert!(ok, "curl /login");
}

/// A page as the signed-in browser gets it: (status, body).
pub fn page(base: &str, jar: &Path, path: &str) -> (u16, String) {
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "30",
            "-o",
            "-",
            "-w",
            "\n%{http_code}",
            "-b",
        ])
        .arg(jar)
        .arg(format!("{base}{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}
