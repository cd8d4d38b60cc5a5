//! The secret sentinel: every secret the tool is given (the storage's credentials for each storage
//! type, the database password, the sudo password of `become`, the encryption identity) is a value
//! known to the test, and after a backup, `list`, `verify`, `--check`, a full restore, a failing
//! restore and its resume, `status` and every kind of refusal and diagnostic, none of them appears
//! in any output, journal, report or other `.setup` file, on any command line a host was asked to
//! run (each host records the argv sshd receives), in any file left on the hosts, or in the name of
//! any stored object.

use crate::common;

use std::path::{Path, PathBuf};

use common::pgbed::PgBed;
use common::sshbed::SshBed;
use common::storagebed::StorageBed;
use common::{Bed, repo};

const SIGNING_PASS: &str = "Sentinel-Signing-Pass-7c1e";
const RECIPIENT: &str = "age19dtdgtfz30hrkzk8h6hpe64y6rh22leewmr63wgycedjzudnmqts0lrxzs";
/// The sudo password of the bed's `setupdr` login (tests/support/sshbed).
const BECOME: &str = "setupdr-sudo";

/// A secret's name (for the failure message) and its value.
type Secret = (String, String);

/// Everything one storage type's runs wrote or printed, and where it was seen.
struct Site {
    bed: Bed,
    ssh: SshBed,
    store: StorageBed,
    pg: PgBed,
    secrets: Vec<Secret>,
    /// (what ran, stdout + stderr)
    printed: Vec<(String, String)>,
}

fn answer(answers: &str, key: &str) -> Option<String> {
    answers.lines().find_map(|l| {
        let (k, v) = l.split_once(": ")?;
        (k == key).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The storage's own secrets, as its answers give them (a key file's key material included).
fn storage_secrets(answers: &str) -> Vec<Secret> {
    let mut out = Vec::new();
    for key in [
        "storage.s3.secret_key",
        "storage.azure.access_key",
        "storage.ftp.password",
        "storage.sftp.password",
    ] {
        if let Some(v) = answer(answers, key) {
            out.push((key.to_string(), v));
        }
    }
    if let Some(file) = answer(answers, "storage.sftp.key_file") {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            if !line.starts_with("-----") && line.len() >= 24 {
                out.push(("storage.sftp.key_file (key material)".into(), line.into()));
            }
        }
    }
    out
}

fn identity_secret() -> String {
    std::fs::read_to_string(repo().join("inventories/demo-dc/demo-identity.txt"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap()
        .to_string()
}

impl Site {
    /// A DC (host1) and a DR site (host2) logging in as `setupdr` with `become` (sudo with a
    /// password), a real PostgreSQL, and a storage server of `kind`.
    fn new(kind: &'static str) -> Site {
        let pg = PgBed::start();
        let ssh = SshBed::start_with(2, &[("SSHBED_ARGV_LOG", "1")]);
        let store = StorageBed::start(kind);
        let bed = Bed::new();
        let ctl = common::service_stub(&bed, &bed.path("run"));
        bed.file("dc-root/etc/director/director.conf", "site = dc-main\n")
            .file("dc-root/srv/analytics/indices/2026-11-22.json", "{}\n")
            .file("dr-root/etc/director/director.conf", "site = dr-old\n")
            .file("run/director.state", "running\n")
            .file("run/analytics.state", "running\n");
        let ok = std::process::Command::new("touch")
            .args(["-d", "2026-11-22 10:00:00Z"])
            .arg(bed.path("dc-root/srv/analytics/indices/2026-11-22.json"))
            .status()
            .unwrap()
            .success();
        assert!(ok);
        pg.sql("postgres", "CREATE DATABASE director");
        pg.sql(
            "director",
            "CREATE TABLE tenants (id int PRIMARY KEY, name text); INSERT INTO tenants VALUES (1, 'acme')",
        );
        let master = |root: &Path, extra: &str, other: &str| {
            ssh.master()
                .lines()
                .filter(|l| !l.starts_with(other))
                .map(|l| format!("{l}\n"))
                .collect::<String>()
                .replace("user: root", "user: setupdr, become: true")
                .replace("groups: [bed]", "groups: [director, analytics]")
                .replace(
                    "vars: { ",
                    &format!(
                        "vars: {{ dr_root: {}, service_manager: 'sh {}', {extra}",
                        root.display(),
                        ctl.display()
                    ),
                )
        };
        let db = format!(
            "db_name: director_dr, db_user: setupdb, db_owner: setupowner, db_host: 127.0.0.1, db_port: {}, ",
            pg.port
        );
        let identity = repo().join("inventories/demo-dc/demo-identity.txt");
        // The DC signs with a key of its own, protected by a passphrase (a secret answer); the DR
        // site trusts that key.
        std::fs::create_dir_all(bed.path("dc")).unwrap();
        let made = std::process::Command::new("ssh-keygen")
            .args([
                "-q",
                "-t",
                "ed25519",
                "-N",
                SIGNING_PASS,
                "-C",
                "backup@sentinel",
                "-f",
            ])
            .arg(bed.path("dc/signing-key"))
            .status()
            .unwrap()
            .success();
        assert!(made);
        let public = bed.read("dc/signing-key.pub");
        bed.file("dr/allowed_signers", &format!("backup@sentinel {public}"));
        bed.file("dc/master.yml", &master(&bed.path("dc-root"), "", "  host2:"))
            .file(
                "dc/backup.yml",
                &format!(
                    "config: {{ dir: /etc/director, database: {{ name: director, user: setupdb, host: 127.0.0.1, port: '{}' }} }}\nanalytics: {{ data_dir: /srv/analytics }}\nrecipients: [{RECIPIENT}]\nsigning_key: signing-key\n",
                    pg.port
                ),
            )
            // The DC is given its become password through the environment, the DR site in its
            // answers file.
            .file(
                "dc/answers.yml",
                &format!(
                    "{}db_password: {}\nsigning_key_passphrase: {SIGNING_PASS}\n",
                    store.answers(),
                    pg.password
                ),
            )
            .file("dr/master.yml", &master(&bed.path("dr-root"), &db, "  host1:"))
            .file(
                "dr/restore.yml",
                "config_backup: latest\ncomponents: [config, analytics]\n",
            )
            .file(
                "dr/answers.yml",
                &format!(
                    "{}db_password: {}\nage_identity: {}\nbecome_password: {BECOME}\ntrusted_signers: allowed_signers\n",
                    store.answers(),
                    pg.password,
                    identity.display()
                ),
            );
        for f in ["dc/answers.yml", "dr/answers.yml"] {
            std::fs::set_permissions(
                bed.path(f),
                std::os::unix::fs::PermissionsExt::from_mode(0o600),
            )
            .unwrap();
        }
        let mut secrets = storage_secrets(&store.answers());
        assert!(!secrets.is_empty(), "{kind} has no secret to watch");
        secrets.push(("db_password".into(), pg.password.clone()));
        secrets.push(("become_password".into(), BECOME.into()));
        secrets.push(("signing_key_passphrase".into(), SIGNING_PASS.into()));
        secrets.push((
            "age_identity (the key in the file)".into(),
            identity_secret(),
        ));
        Site {
            bed,
            ssh,
            store,
            pg,
            secrets,
            printed: Vec::new(),
        }
    }

    /// Runs `setup ARGS` (in `dc/` or `dr/`) with extra environment; checks its exit code.
    fn run(&mut self, env: &[(&str, &str)], args: &[&str], code: i32) -> String {
        let mut cmd = self.bed.command(args);
        cmd.envs(env.iter().copied());
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.status.code(),
            Some(code),
            "setup {}:\n{text}",
            args.join(" ")
        );
        self.printed.push((args.join(" "), text.clone()));
        text
    }

    fn dr(&mut self, args: &[&str], code: i32) -> String {
        let mut all = vec!["-C", "dr", "standalone"];
        all.extend(args);
        all.extend(["--now", "2026-11-23T03:00:00Z"]);
        self.run(&[], &all, code)
    }

    fn backup(&mut self) {
        self.run(
            &[("SETUP_BECOME_PASSWORD", BECOME)],
            &[
                "-C",
                "dc",
                "standalone",
                "backup",
                "--now",
                "2026-11-23T02:00:00Z",
            ],
            0,
        );
    }

    /// The ordinary life of a site: back up, look, check, restore, fail and resume, report.
    fn everyday(&mut self) {
        self.backup();
        let listed = self.dr(&["list"], 0);
        assert!(listed.contains("director-config-"), "{listed}");
        self.dr(&["list", "--json"], 0);
        self.dr(&["verify"], 0);
        self.dr(&["restore", "--check"], 0);
        self.dr(&["restore", "--check", "--plan-format", "json"], 0);
        self.dr(&["restore", "-v"], 0);
        assert_eq!(
            self.pg
                .sql("director_dr", "SELECT name FROM tenants ORDER BY id"),
            "acme"
        );
        // A restore whose service start fails rolls back, and its resume completes.
        self.bed.file("run/fail-start", "");
        // The same backup is in place: --force restores it again.
        self.dr(&["restore", "-v", "--force"], 1);
        self.dr(&["restore", "--resume"], 0);
        self.dr(&["status"], 0);
        self.dr(&["status", "--json"], 0);
        self.run(
            &[],
            &[
                "-C",
                "dc",
                "standalone",
                "prune",
                "--check",
                "--now",
                "2026-11-23T04:00:00Z",
            ],
            0,
        );
    }

    /// A wrong storage secret (itself watched): refused, naming the storage, not the value.
    fn wrong_storage_secret(&mut self, kind: &str) {
        let key = match kind {
            "s3" => "storage.s3.secret_key",
            "azure" => "storage.azure.access_key",
            "ftp" | "ftps" => "storage.ftp.password",
            "sftp-password" => "storage.sftp.password",
            _ => return,
        };
        // Azure keys are base64; any other value is refused before a request is made.
        let wrong = if kind == "azure" {
            "V3JvbmdTZW50aW5lbEtleVdyb25nU2VudGluZWxLZXk9PQ=="
        } else {
            "Wrong-Sentinel-Storage-Secret-7f3a"
        };
        self.secrets.push((format!("{key} (wrong)"), wrong.into()));
        let set = format!("{key}={wrong}");
        let out = self.dr(&["list", "--set", &set], 1);
        assert!(!out.is_empty());
        let out = self.dr(&["restore", "--set", &set], 1);
        assert!(!out.is_empty());
    }

    /// Every way answers can be malformed around a secret: diagnostics show the source line with a
    /// caret, and the secret on it must be masked whatever the YAML style.
    fn diagnostics(&mut self) {
        let answers = self.bed.read("dr/answers.yml");
        let secret_lines: Vec<&str> = answers
            .lines()
            .filter(|l| {
                let k = l.split(':').next().unwrap_or("");
                ["secret_key", "access_key", "password", "become_password"]
                    .iter()
                    .any(|s| k.ends_with(s))
                    && !k.ends_with("s3.access_key")
            })
            .collect();
        let others: Vec<&str> = answers
            .lines()
            .filter(|l| !secret_lines.contains(l))
            .collect();
        // 1. A type error next to the secrets.
        let bad_type = format!("{}\nanalytics.snapshots: [1, 2]\n", answers.trim_end());
        // 2. The whole file as one flow mapping, with an unknown key on the same line.
        let flow = format!(
            "{{ {}, storage.bogus: 1 }}\n",
            answers.lines().collect::<Vec<_>>().join(", ")
        );
        // 3. Each secret misspelled (an unknown key holding a secret value).
        let typo = answers
            .replace("secret_key:", "secret_kee:")
            .replace("password:", "pasword:")
            .replace("azure.access_key:", "azure.access_kee:");
        // 4. Each secret as a block scalar, then a bad value below it.
        let block = format!(
            "{}\n{}\nanalytics.mode: someday\n",
            others.join("\n"),
            secret_lines
                .iter()
                .map(|l| {
                    let (k, v) = l.split_once(": ").unwrap();
                    format!("{k}: |\n  {}", v.trim_matches('"'))
                })
                .collect::<Vec<_>>()
                .join("\n")
        );
        // 5. A secret given a map instead of a string.
        let nested = secret_lines.iter().fold(answers.clone(), |a, l| {
            let (k, v) = l.split_once(": ").unwrap();
            a.replace(l, &format!("{k}: {{ value: {v} }}"))
        });
        for (what, text) in [
            ("type error", bad_type),
            ("flow", flow),
            ("typo", typo),
            ("block", block),
            ("nested", nested),
        ] {
            self.bed.file("dr/bad-answers.yml", &text);
            let out = self.dr(&["restore", "--answers", "dr/bad-answers.yml"], 2);
            assert!(
                out.contains("bad-answers.yml") && !out.contains("cannot read"),
                "{what}: {out}"
            );
        }
        // The same mistakes through --set and the environment.
        let mut sets = Vec::new();
        // (An unknown storage key is an error; any other unknown key is a template variable.)
        for l in secret_lines.iter().filter(|l| l.starts_with("storage.")) {
            let (k, v) = l.split_once(": ").unwrap();
            sets.push(format!(
                "{}={}",
                k.replace("key", "kee").replace("password", "pasword"),
                v.trim_matches('"')
            ));
        }
        let mut args = vec!["restore"];
        for s in &sets {
            args.extend(["--set", s.as_str()]);
        }
        if !sets.is_empty() {
            self.dr(&args, 2);
        }
        let env: Vec<(String, String)> = secret_lines
            .iter()
            .map(|l| {
                let (k, v) = l.split_once(": ").unwrap();
                (
                    format!("SETUP_{}", k.to_uppercase().replace('.', "_")),
                    v.trim_matches('"').to_string(),
                )
            })
            .collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        // Secrets from the environment, a broken inventory, then missing answers.
        self.bed
            .file("dr/broken.yml", "hosts:\n  h1: { address: [\n");
        let out = self.run(
            &env,
            &["-C", "dr", "standalone", "restore", "-i", "dr/broken.yml"],
            2,
        );
        assert!(
            out.contains("broken.yml") && !out.contains("cannot read"),
            "{out}"
        );
        self.bed.file(
            "dr/partial.yml",
            &format!(
                "{}\n",
                others
                    .iter()
                    .filter(|l| !l.starts_with("storage.type"))
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("\n")
            ),
        );
        let out = self.run(
            &env,
            &[
                "-C",
                "dr",
                "standalone",
                "restore",
                "--answers",
                "dr/partial.yml",
                "--non-interactive",
            ],
            2,
        );
        assert!(out.contains("storage.type"), "{out}");
        // Answers readable by others are refused or warned about, without their values.
        std::fs::set_permissions(
            self.bed.path("dr/bad-answers.yml"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        self.bed.file("dr/open-answers.yml", &answers);
        std::fs::set_permissions(
            self.bed.path("dr/open-answers.yml"),
            std::os::unix::fs::PermissionsExt::from_mode(0o644),
        )
        .unwrap();
        let mut cmd = self.bed.command(&[
            "-C",
            "dr",
            "standalone",
            "list",
            "--answers",
            "open-answers.yml",
        ]);
        let out = cmd.output().unwrap();
        self.printed.push((
            "list --answers open-answers.yml (mode 644)".into(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        ));
    }

    /// A run that fails on each of the other secrets: wrong sudo password, wrong database password,
    /// wrong identity. Each wrong value is watched too.
    fn wrong_secrets(&mut self) {
        let wrong_become = "Wrong-Sentinel-Become-91c2";
        let wrong_db = "Wrong-Sentinel-Db-55e0";
        self.secrets
            .push(("become_password (wrong)".into(), wrong_become.into()));
        self.secrets
            .push(("db_password (wrong)".into(), wrong_db.into()));
        self.dr(
            &[
                "restore",
                "--force",
                "--set",
                &format!("become_password={wrong_become}"),
            ],
            1,
        );
        self.dr(
            &[
                "restore",
                "--force",
                "--set",
                &format!("db_password={wrong_db}"),
            ],
            1,
        );
        let other = "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33";
        self.secrets
            .push(("age_identity (wrong key)".into(), other.into()));
        self.bed
            .file("dr/other-identity.txt", &format!("{other}\n"));
        self.dr(&["verify", "--set", "age_identity=other-identity.txt"], 1);
        self.dr(
            &[
                "restore",
                "--force",
                "--set",
                "age_identity=other-identity.txt",
            ],
            1,
        );
    }

    /// Every place a secret could surface, as (where, text).
    fn everywhere(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .printed
            .iter()
            .map(|(what, text)| (format!("output of `setup {what}`"), text.clone()))
            .collect();
        let read = |p: &PathBuf| {
            String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned()
        };
        for folder in ["dc/.setup", "dr/.setup", "dc-root", "dr-root", "run"] {
            for f in common::files_under(&self.bed.path(folder)) {
                out.push((f.display().to_string(), read(&f)));
            }
        }
        let mut argv = 0;
        for h in ["host1", "host2"] {
            let log = self.ssh.path(&format!("{h}/argv.log"));
            let text = read(&log);
            argv += text.matches("--- end").count();
            out.push((format!("command lines run on {h}"), text));
        }
        assert!(argv >= 20, "the hosts recorded {argv} command lines");
        // Objects are files named as the objects, except in Azurite, which lists blob names (and
        // their metadata) in its own database file.
        let mut names: Vec<String> = common::files_under(self.store.dir.path())
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        names.push(read(
            &self.store.dir.path().join("data/__azurite_db_blob__.json"),
        ));
        let names = names.join("\n");
        assert!(names.contains("director-config-"), "{names}");
        out.push(("stored object names".into(), names));
        out
    }

    fn assert_no_secret(&self) {
        let mut leaks = Vec::new();
        for (place, text) in self.everywhere() {
            for (name, value) in &self.secrets {
                if text.contains(value.as_str()) {
                    let at = text.find(value.as_str()).unwrap();
                    let from = text[..at]
                        .char_indices()
                        .rev()
                        .nth(60)
                        .map_or(0, |(i, _)| i);
                    leaks.push(format!(
                        "{name} in {place}: …{}…",
                        text[from..at].replace('\n', "⏎")
                    ));
                }
            }
        }
        assert!(leaks.is_empty(), "secrets seen:\n{}", leaks.join("\n"));
    }
}

fn sentinel(kind: &'static str) {
    let mut site = Site::new(kind);
    site.everyday();
    site.wrong_storage_secret(kind);
    site.diagnostics();
    if kind == "s3" {
        site.wrong_secrets();
    }
    site.assert_no_secret();
}

#[test]
fn sentinel_s3() {
    sentinel("s3");
}

#[test]
fn sentinel_azure_blob() {
    sentinel("azure");
}

#[test]
fn sentinel_ftp() {
    sentinel("ftp");
}

#[test]
fn sentinel_ftps() {
    sentinel("ftps");
}

#[test]
fn sentinel_sftp_with_a_key() {
    sentinel("sftp");
}

#[test]
fn sentinel_sftp_with_a_password() {
    sentinel("sftp-password");
}
