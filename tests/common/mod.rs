//! A test bed: documents in a temporary folder, the real binary run against them.

#![allow(dead_code)]

pub mod mariabed;
pub mod pgbed;
pub mod receivers;
pub mod redisbed;
pub mod served;
pub mod sshbed;
pub mod started;
pub mod storagebed;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub struct Bed {
    pub dir: tempfile::TempDir,
    /// Runs keep the binary's own `max_backup_age` (see [`Bed::default_ages`]).
    default_ages: std::sync::atomic::AtomicBool,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn from_output(o: Output) -> Out {
        Out {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

pub const INVENTORY: &str = "\
defaults: { connection: local }
hosts:
  director-1:  { groups: [director] }
  analytics-1: { groups: [analytics], vars: { data_dir: /srv/analytics } }
vars: { site: dr-test }
";

/// Answers that accept a backup of any age: the suite's backups carry fixed dates.
pub const ANY_AGE: [(&str, &str); 2] = [
    ("SETUP_MAX_BACKUP_AGE_CONFIG", "36500d"),
    ("SETUP_MAX_BACKUP_AGE_ANALYTICS", "36500d"),
];

impl Bed {
    pub fn new() -> Bed {
        Bed {
            dir: tempfile::tempdir().expect("temp dir"),
            default_ages: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn file(&self, name: &str, text: &str) -> &Bed {
        let p = self.path(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
        self
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_setup"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("CI", "true")
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG");
        for (k, _) in std::env::vars() {
            if k.starts_with("SETUP_") {
                c.env_remove(k);
            }
        }
        // The suite's backups carry fixed dates (November 2026), and most tests are about something
        // else than their age: their runs accept any age, unless the bed asks for the binary's
        // own bounds (2 days for the configuration, 8 for analytics) with `default_ages`.
        if !self.default_ages.load(std::sync::atomic::Ordering::Relaxed) {
            c.envs(ANY_AGE);
        }
        // A local host's lock is machine-wide: each bed is a machine of its own.
        c.env("SETUP_LOCK_DIR", self.path(".machine-lock"));
        c.stdin(std::process::Stdio::null());
        c
    }

    /// From now on, runs keep the binary's own `max_backup_age` bounds (or the bed's answers).
    pub fn default_ages(&self) -> &Bed {
        self.default_ages
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self
    }

    pub fn run(&self, args: &[&str]) -> Out {
        Out::from_output(self.command(args).output().expect("run setup"))
    }

    /// Replaces what changes between runs: the temp folder, run ids, times.
    pub fn filter(&self, text: &str) -> String {
        filter(text, self.dir.path())
    }
}

pub fn filter(text: &str, dir: &Path) -> String {
    let mut t = text.replace(&dir.display().to_string(), "[DIR]");
    // Run ids: 20261123T024422Z-5b6a.
    let mut out = String::new();
    let bytes: Vec<char> = t.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let rest: String = bytes[i..bytes.len().min(i + 21)].iter().collect();
        if rest.len() == 21 && is_run_id(&rest) {
            out.push_str("[RUN]");
            i += 21;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    t = out;
    t
}

fn is_run_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 21
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'T'
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[17..].iter().all(u8::is_ascii_hexdigit)
}

/// The journal of the only (or newest) run under `dir`.
pub fn journal(dir: &Path) -> Vec<serde_json::Value> {
    let runs = dir.join(".setup/runs");
    let mut entries: Vec<_> = std::fs::read_dir(&runs)
        .expect("runs dir")
        .filter_map(|e| e.ok())
        .collect();
    entries.sort_by_key(|e| {
        std::fs::metadata(e.path().join("journal.jsonl"))
            .and_then(|m| m.created())
            .ok()
    });
    let last = entries.last().expect("a run").path().join("journal.jsonl");
    std::fs::read_to_string(last)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The demo's service manager fails to start any service: once (`once`), or for as long as
/// `target/fail-start` exists.
pub fn failing_starts(bed: &Bed, once: bool) {
    let forget = if once { "rm target/fail-start; " } else { "" };
    let ctl = bed.read("bin/democtl").replace(
        "  start|restart|reload)",
        &format!("  start|restart|reload) if [ -f target/fail-start ]; then {forget}echo 'cannot start: port 8443 in use' >&2; exit 1; fi;"),
    );
    bed.file("bin/democtl", &ctl).file("target/fail-start", "");
}

/// A service manager stand-in for SSH hosts, `sh ctl.sh start|stop|status NAME`, keeping each
/// service's state in `run/NAME.state`; a start fails once while `run/fail-start` exists. Its path.
pub fn service_stub(bed: &Bed, run: &Path) -> PathBuf {
    std::fs::create_dir_all(run).unwrap();
    bed.file(
        "ctl.sh",
        &format!(
            "set -eu\nd={run}\ncase $1 in\n  start) if [ -f $d/fail-start ]; then rm $d/fail-start; echo 'cannot start: port 8443 in use' >&2; exit 1; fi; echo running > $d/$2.state ;;\n  stop) echo stopped > $d/$2.state ;;\n  status) [ \"$(cat $d/$2.state 2>/dev/null)\" = running ] ;;\nesac\n",
            run = run.display()
        ),
    );
    bed.path("ctl.sh")
}

/// Every file under a folder, at any depth (none when it is not there).
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// The DC demo's signing key (an Ed25519 OpenSSH key, committed for the demo only).
pub const SIGNING_KEY: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/inventories/demo-dc/demo-signing-key"
);

/// The demo's allowed_signers file, which trusts the demo DC's signing key.
pub fn allowed_signers() -> PathBuf {
    repo().join("inventories/demo/allowed_signers")
}

/// The answer that makes a site trust what the demo DC's key signs.
pub fn trust_answer() -> String {
    format!("trusted_signers: {}\n", allowed_signers().display())
}

/// Signs the backup `dir/name` as the DC does, with OpenSSH's own `ssh-keygen -Y sign` and the demo
/// DC's key (or `key`): writes `name.manifest.json` (the object's name, kind, time and sha256) and
/// `name.manifest.json.sig` beside it.
pub fn sign_backup(dir: &Path, name: &str, created_at: &str) {
    sign_backup_with(
        dir,
        name,
        created_at,
        &repo().join("inventories/demo-dc/demo-signing-key"),
    );
}

pub fn sign_backup_with(dir: &Path, name: &str, created_at: &str, key: &Path) {
    sign_backup_facts(dir, name, created_at, key, serde_json::json!({}));
}

/// `sign_backup_with`, the manifest carrying more of what the DC records (`tables`, `files`).
pub fn sign_backup_facts(
    dir: &Path,
    name: &str,
    created_at: &str,
    key: &Path,
    facts: serde_json::Value,
) {
    use sha2::Digest;
    let bytes = std::fs::read(dir.join(name)).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    let kind = if name.starts_with("director-config-") {
        "config"
    } else {
        "analytics"
    };
    let mut manifest = serde_json::json!({
        "object": name,
        "kind": kind,
        "created_at": created_at,
        "stored": { "bytes": bytes.len(), "sha256": digest },
        "plain": { "bytes": bytes.len(), "sha256": digest },
    });
    for (k, v) in facts.as_object().into_iter().flatten() {
        manifest[k] = v.clone();
    }
    let m = dir.join(format!("{name}.manifest.json"));
    std::fs::write(&m, serde_json::to_string_pretty(&manifest).unwrap() + "\n").unwrap();
    ssh_sign(key, "setup-backup", &m);
}

/// `ssh-keygen -Y sign -n NAMESPACE` of a file, leaving FILE.sig (ssh-keygen wants its key 0600).
pub fn ssh_sign(key: &Path, namespace: &str, file: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let k = tmp.path().join("key");
    std::fs::copy(key, &k).unwrap();
    std::fs::set_permissions(&k, std::fs::Permissions::from_mode(0o600)).unwrap();
    let _ = std::fs::remove_file(file.with_extension("json.sig"));
    let out = Command::new("ssh-keygen")
        .args(["-q", "-Y", "sign", "-n", namespace, "-f"])
        .arg(&k)
        .arg(file)
        .output()
        .expect("ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen -Y sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of the demo: documents, the service stand-in and the sample backups; no earlier runs.
/// The DC demo in `demo-dc/`, as a fresh clone has it: every file dated now, and none of what a
/// run there leaves (its store, journal, or work folders under the site).
pub fn dc_demo() -> Bed {
    let bed = Bed::new();
    copy_dir(&repo().join("inventories/demo-dc"), &bed.path("demo-dc"));
    for left in ["demo-dc/store", "demo-dc/offsite", "demo-dc/.setup"] {
        let _ = std::fs::remove_dir_all(bed.path(left));
    }
    for host in std::fs::read_dir(bed.path("demo-dc/site")).unwrap() {
        let _ = std::fs::remove_dir_all(host.unwrap().path().join("var"));
    }
    bed
}

/// The DC demo backing up to one storage, its `store/` folder, named by the answers (which win
/// over backup.yml's list of targets).
pub fn dc_demo_one_store() -> Bed {
    let bed = dc_demo();
    bed.file(
        "demo-dc/answers.yml",
        "storage.type: local\nstorage.local.path: store\n",
    );
    bed
}

pub fn demo() -> Bed {
    let bed = Bed::new();
    let src = repo().join("inventories/demo");
    for f in [
        "master.yml",
        "restore.yml",
        "answers.yml",
        "allowed_signers",
    ] {
        std::fs::copy(src.join(f), bed.path(f)).unwrap();
    }
    copy_dir(&src.join("bin"), &bed.path("bin"));
    copy_dir(&src.join("backups"), &bed.path("backups"));
    bed
}

/// Every entry under `root` (which may not exist), with its kind and content: files by sha256,
/// links by target, folders by mode. Two equal lists are the same tree, byte for byte.
pub fn tree_digest(root: &Path) -> Vec<String> {
    use sha2::Digest;
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut todo = vec![root.to_path_buf()];
    while let Some(p) = todo.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        if m.file_type().is_symlink() {
            out.push(format!(
                "{rel} -> {}",
                std::fs::read_link(&p).unwrap().display()
            ));
        } else if m.is_dir() {
            out.push(format!("{rel}/ {:o}", m.permissions().mode()));
            for e in std::fs::read_dir(&p).unwrap() {
                todo.push(e.unwrap().path());
            }
        } else {
            let bytes = std::fs::read(&p).unwrap_or_default();
            out.push(format!(
                "{rel} {}",
                hex::encode(sha2::Sha256::digest(&bytes))
            ));
        }
    }
    out.sort();
    out
}

/// The units `schedule show` prints, by file name.
pub fn shown_units(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in text.split("--- ").skip(1) {
        let (name, body) = part.split_once(" ---\n").unwrap();
        if name.starts_with("setup-") {
            out.push((name.to_string(), body.trim_end().to_string() + "\n"));
        }
    }
    out
}

/// `systemd-analyze verify` accepts these units (file name, text).
pub fn systemd_verify(units: &[(String, String)]) {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = units
        .iter()
        .map(|(n, t)| {
            let p = dir.path().join(n);
            std::fs::write(&p, t).unwrap();
            p
        })
        .collect();
    let verify = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&files)
        .output()
        .expect("systemd-analyze (scripts/test installs systemd)");
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}

/// A configuration backup newer than the demo's, signed by the DC's key: its `director.conf`
/// says `newer`.
pub fn newer_config(bed: &Bed, name: &str, taken: &str) {
    let stage = bed.path("newer");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("director.conf"), "site = newer\n").unwrap();
    std::fs::write(stage.join("tenants.conf"), "tenants = 2\n").unwrap();
    let script = format!(
        "set -e; tar -cf backups/{name} -C newer director.conf tenants.conf; cd backups; sha256sum {name} > {name}.sha256"
    );
    let ok = std::process::Command::new("sh")
        .args(["-c", &script])
        .current_dir(bed.dir.path())
        .status()
        .unwrap()
        .success();
    assert!(ok);
    sign_backup(&bed.path("backups"), name, taken);
}
