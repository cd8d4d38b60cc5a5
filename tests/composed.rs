//! A composed site, the configuration issue 39's bugs were found in, through the binary on the
//! test bed's real servers: a DC folder backing up over SSH (a director with PostgreSQL, analytics)
//! to two storage targets, S3 `s3main` and SFTP `vault`, and a DR folder restoring from the same
//! two onto another host, with a signed webhook and mail. One scenario runs backup (two days),
//! restore, a restore with the newest backup gone from `s3main`, a forced re-run, a SIGKILL during
//! `start_services` and `--resume`, the drill, `verify`, `copy`, `setup serve` and `--check` with a
//! wrong key, and holds each to what the issue says is right.
//!
//! Every finding is collected, so that one run names every item still broken (each message starts
//! with the item's number); the scenario fails at the end if there is any.

use crate::common;

use std::cell::RefCell;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::pgbed::PgBed;
use common::receivers::{Smtp, Webhook};
use common::served::{self, TOKEN, curl, free_port, page, sign_in};
use common::sshbed::SshBed;
use common::storagebed::StorageBed;
use common::{Bed, Out};
use serde_json::Value as J;

const RECIPIENT: &str = "age19dtdgtfz30hrkzk8h6hpe64y6rh22leewmr63wgycedjzudnmqts0lrxzs";
const OLDER: &str = "director-config-20261206T020000Z.tar.zst.age";
const NEWEST: &str = "director-config-20261207T020000Z.tar.zst.age";
const WEBHOOK_SECRET: &str = "CANARY-webhook-3f9a61";
const MAIL_PASSWORD: &str = "CANARY-mail-b27c04";
/// Stand-ins for the storage secrets in the second look at `setup serve`: answers that are not
/// the servers' real ones, so no listing can succeed and every error path is taken.
const FAKE_S3_SECRET: &str = "CANARY-s3-9e41d2";
const FAKE_VAULT_PASSWORD: &str = "CANARY-sftp-5a7b13";
/// The DR site's clock: Monday 2026-12-07, the week of 11-30 to 12-06 complete.
const DR_NOW: &str = "2026-12-07T03:00:00Z";

/// What the scenario found wrong, each a sentence naming the item.
#[derive(Default)]
struct Findings(RefCell<Vec<String>>);

impl Findings {
    fn check(&self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            // A finding quotes what was said, cut short: the list of them stays readable.
            let mut m = what();
            let chars: Vec<char> = m.chars().collect();
            if chars.len() > 1600 {
                let head: String = chars[..400].iter().collect();
                let tail: String = chars[chars.len() - 1200..].iter().collect();
                m = format!("{head} […] {tail}");
            }
            eprintln!("FINDING: {m}");
            self.0.borrow_mut().push(m);
        }
    }
}

/// The site: its servers, its two folders, and every output the binary gave.
struct Site {
    bed: Bed,
    pg: PgBed,
    _ssh: SshBed,
    s3: StorageBed,
    vault: StorageBed,
    hook: Webhook,
    mail: Smtp,
    health_port: u16,
    /// (what ran, stdout and stderr), for the secret check at the end.
    outputs: RefCell<Vec<(String, String)>>,
}

impl Drop for Site {
    fn drop(&mut self) {
        // The director stand-in's health server is a process of this test's own: stopped by pid.
        if let Ok(pid) = std::fs::read_to_string(self.bed.path("run-dr/health.pid")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// The settings of a storage bed's answers (`storage.TYPE.FIELD: VALUE`), by field.
fn settings(bed: &StorageBed) -> Vec<(String, String)> {
    bed.answers()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter_map(|(k, v)| {
            let field = k.strip_prefix("storage.")?.split_once('.')?.1;
            Some((field.to_string(), v.trim().trim_matches('"').to_string()))
        })
        .filter(|(f, _)| f != "type")
        .collect()
}

/// A `storage:` list naming `s3main` then `vault`, and the targets' secrets as their own answers.
fn targets(s3: &StorageBed, vault: &StorageBed) -> (String, String) {
    let mut doc = String::from("storage:\n");
    let mut answers = String::new();
    for (name, bed) in [("s3main", s3), ("vault", vault)] {
        let kind = if bed.kind == "s3" { "s3" } else { "sftp" };
        let mut line = format!("  - {{ name: {name}, type: {kind}");
        for (field, value) in settings(bed) {
            if field == "secret_key" || field == "password" {
                answers += &format!("storage.{name}.{field}: \"{value}\"\n");
            } else {
                line += &format!(", {field}: \"{value}\"");
            }
        }
        doc += &(line + " }\n");
    }
    (doc, answers)
}

fn touch_at(path: &Path, when: &str) {
    let ok = std::process::Command::new("touch")
        .args(["-d", when])
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn sha256_of(path: &Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        std::fs::read(path).unwrap_or_default(),
    ))
}

fn private(path: &Path) {
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
}

/// A line of `text` that says target `s3main` lacks a copy another target holds.
fn says_s3main_lacks(text: &str) -> bool {
    text.lines().any(|l| {
        l.contains("s3main")
            && [
                "not on s3main",
                "not on target s3main",
                "lacks",
                "absent",
                "not held",
                "missing",
                "does not hold",
                "no copy",
            ]
            .iter()
            .any(|w| l.contains(w))
    })
}

fn site() -> Site {
    let pg = PgBed::start();
    let ssh = SshBed::start(2);
    let s3 = StorageBed::start("s3");
    let vault = StorageBed::start("sftp-password");
    let hook = Webhook::start(WEBHOOK_SECRET);
    let mail = Smtp::start("relay", MAIL_PASSWORD);
    let bed = Bed::new();
    let health_port = free_port();

    // The DC's director and analytics data: day one.
    bed.file(
        "dc-root/etc/director/director.conf",
        "site = dc-main\ngeneration = 1\n",
    )
    .file(
        "dc-root/srv/analytics/indices/2026-12-05.json",
        "{\"day\": \"2026-12-05\"}\n",
    );
    // Incompressible bytes, so that a configuration backup spans several of age's 64 KiB chunks
    // as a real one does: a reader that decrypts as it streams meets damage long before the
    // digest of the whole object is known.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let blob: Vec<u8> = (0..256 * 1024)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(bed.path("dc-root/etc/director/blob.bin"), blob).unwrap();
    touch_at(
        &bed.path("dc-root/srv/analytics/indices/2026-12-05.json"),
        "2026-12-05 10:00:00Z",
    );
    pg.sql("postgres", "CREATE DATABASE director");
    pg.sql(
        "director",
        "CREATE TABLE tenants (id int PRIMARY KEY, name text); INSERT INTO tenants VALUES (1, 'acme'), (2, 'globex')",
    );
    // The DR site: an older configuration, database and analytics data, the director running.
    bed.file("dr-root/etc/director/director.conf", "site = dr-old\n")
        .file(
            "dr-root/var/lib/analytics/indices/old.json",
            "{\"day\": \"old\"}\n",
        )
        .file("run-dr/www/index.html", "ok\n")
        .file("run-dr/analytics.state", "running\n");
    pg.sql("postgres", "CREATE DATABASE director_dr OWNER setupowner");
    pg.sql(
        "director_dr",
        "CREATE TABLE tenants (id int PRIMARY KEY, name text); INSERT INTO tenants VALUES (1, 'dr-old')",
    );

    // The DC's service manager stand-in, and the DR's: `director` runs a real HTTP server (its
    // health URL answers only while it runs); while `run-dr/hold-start-director` exists, the
    // first start after it was made waits there (`in-start-director` says it does). Each start
    // and stop is a line of `run-dr/calls.log`.
    let dc_ctl = common::service_stub(&bed, &bed.path("run-dc"));
    let run = bed.path("run-dr");
    bed.file(
        "dr-ctl.sh",
        &format!(
            "set -eu\nd={run}\n\
             [ \"$1\" = status ] || echo \"$1 $2\" >> $d/calls.log\n\
             if [ \"$1\" = start ] && [ -f $d/hold-start-$2 ] && [ ! -f $d/in-start-$2 ]; then touch $d/in-start-$2; n=0; while [ -f $d/hold-start-$2 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; fi\n\
             case $1 in\n\
             \x20 start) if [ \"$2\" = director ] && ! {{ [ -s $d/health.pid ] && kill -0 \"$(cat $d/health.pid)\" 2>/dev/null; }}; then setsid python3 -m http.server {health_port} --bind 127.0.0.1 --directory $d/www </dev/null >/dev/null 2>&1 & echo $! > $d/health.pid; fi; echo running > $d/$2.state ;;\n\
             \x20 stop) if [ \"$2\" = director ] && [ -s $d/health.pid ]; then kill \"$(cat $d/health.pid)\" 2>/dev/null || true; rm -f $d/health.pid; fi; echo stopped > $d/$2.state ;;\n\
             \x20 status) [ \"$(cat $d/$2.state 2>/dev/null)\" = running ] ;;\n\
             esac\n",
            run = run.display()
        ),
    );
    let dr_ctl = bed.path("dr-ctl.sh");
    let started = std::process::Command::new("sh")
        .arg(&dr_ctl)
        .args(["start", "director"])
        .status()
        .unwrap()
        .success();
    assert!(started, "the director stand-in starts");

    // Each folder's master.yml names its own host: the DC host1, the DR site host2.
    let master = |keep: &str, vars: &str, site: &str| {
        let other = if keep == "host1" {
            "  host2:"
        } else {
            "  host1:"
        };
        ssh.master()
            .lines()
            .filter(|l| !l.starts_with(other))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .replace("groups: [bed]", "groups: [director, analytics]")
            .replace("vars: { ", &format!("vars: {{ {vars}"))
            + &format!("vars: {{ site: {site} }}\n")
    };
    let dc_vars = format!(
        "dr_root: {}, service_manager: 'sh {}', ",
        bed.path("dc-root").display(),
        dc_ctl.display()
    );
    let dr_vars = format!(
        "dr_root: {}, service_manager: 'sh {}', db_name: director_dr, db_user: setupdb, db_owner: setupowner, db_host: 127.0.0.1, db_port: {}, health_url: 'http://127.0.0.1:{health_port}/', ",
        bed.path("dr-root").display(),
        dr_ctl.display(),
        pg.port
    );
    let (list, storage_secrets) = targets(&s3, &vault);
    let hook_answers = format!(
        "notify.webhook.url: {}\nnotify.webhook.secret: \"{WEBHOOK_SECRET}\"\nnotify.webhook.on: success,failure,drill\n",
        hook.url("/hook")
    );
    bed.file("dc/master.yml", &master("host1", &dc_vars, "composed-dc"))
        .file(
            "dc/backup.yml",
            &format!(
                "components: [config, analytics]\nconfig: {{ dir: /etc/director, database: {{ name: director, user: setupdb, host: 127.0.0.1, port: '{}' }} }}\nanalytics: {{ data_dir: /srv/analytics }}\nrecipients: [{RECIPIENT}]\nsigning_key: {}\n{list}",
                pg.port,
                common::SIGNING_KEY
            ),
        )
        .file(
            "dc/answers.yml",
            &format!(
                "{storage_secrets}db_password: \"{}\"\n{hook_answers}",
                pg.password
            ),
        )
        .file("dr/master.yml", &master("host2", &dr_vars, "composed-dr"))
        .file(
            "dr/restore.yml",
            &format!(
                "config_backup: latest\ncomponents: [config, analytics]\nanalytics: {{ mode: weekly }}\n{list}"
            ),
        )
        .file(
            "dr/answers.yml",
            &format!(
                "{storage_secrets}db_password: \"{}\"\nage_identity: ./dr-identity.txt\n{}{hook_answers}{}",
                pg.password,
                common::trust_answer(),
                mail.answers("relay", MAIL_PASSWORD, "oncall@dr.example")
            ),
        );
    // The identity beside the answers, named relative to the folder as a site would.
    std::fs::copy(
        common::repo().join("inventories/demo-dc/demo-identity.txt"),
        bed.path("dr/dr-identity.txt"),
    )
    .unwrap();
    private(&bed.path("dr/dr-identity.txt"));
    private(&bed.path("dc/answers.yml"));
    private(&bed.path("dr/answers.yml"));
    Site {
        bed,
        pg,
        _ssh: ssh,
        s3,
        vault,
        hook,
        mail,
        health_port,
        outputs: RefCell::new(Vec::new()),
    }
}

impl Site {
    /// `setup -C FOLDER standalone ARGS…`, its output kept for the secret check.
    fn run(&self, folder: &str, args: &[&str]) -> Out {
        let mut all = vec!["-C", folder, "standalone"];
        all.extend(args);
        let out = self.bed.run(&all);
        self.keep(&all.join(" "), &out);
        out
    }

    /// `setup ARGS…` (a command outside `standalone`), its output kept for the secret check.
    fn run_plain(&self, args: &[&str]) -> Out {
        let out = self.bed.run(args);
        self.keep(&args.join(" "), &out);
        out
    }

    fn keep(&self, what: &str, out: &Out) {
        self.outputs
            .borrow_mut()
            .push((what.to_string(), format!("{}{}", out.stdout, out.stderr)));
    }

    /// A DR operation on the DR site's clock.
    fn dr(&self, op: &str, extra: &[&str]) -> Out {
        let mut args = vec![op, "--now", DR_NOW];
        args.extend(extra);
        self.run("dr", &args)
    }

    fn backup(&self, now: &str) -> Out {
        self.run("dc", &["backup", "--now", now])
    }

    /// The secrets this site holds, by name, as they are in its answers.
    fn secrets(&self) -> Vec<(&'static str, String)> {
        let field = |bed: &StorageBed, f: &str| {
            settings(bed)
                .into_iter()
                .find(|(k, _)| k == f)
                .map(|(_, v)| v)
                .unwrap()
        };
        vec![
            ("storage.s3main.secret_key", field(&self.s3, "secret_key")),
            ("storage.vault.password", field(&self.vault, "password")),
            ("db_password", self.pg.password.clone()),
            ("notify.webhook.secret", WEBHOOK_SECRET.to_string()),
            ("notify.email.password", MAIL_PASSWORD.to_string()),
        ]
    }

    fn bucket(&self) -> PathBuf {
        self.s3.dir.path().join("data/backups")
    }

    fn vault_store(&self) -> PathBuf {
        self.vault.dir.path().join("store")
    }

    fn marker(&self) -> String {
        self.bed.read("dr-root/etc/director/RESTORED-BY-SETUP")
    }

    fn director_state(&self) -> String {
        self.bed.read("run-dr/director.state").trim().to_string()
    }

    /// The director's health URL answers 200.
    fn healthy(&self) -> bool {
        curl(
            &format!("http://127.0.0.1:{}", self.health_port),
            "GET",
            "/",
            None,
            None,
        )
        .0 == 200
    }

    fn rows(&self) -> String {
        self.pg
            .sql("director_dr", "SELECT name FROM tenants ORDER BY id")
            .replace('\n', ",")
    }

    /// The report of the run `out` is the output of (beside the journal it names).
    fn report_of(&self, out: &Out) -> J {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix("Journal: "))
            .and_then(|j| {
                // The journal is named relative to where the command ran: the bed's folder.
                std::fs::read_to_string(self.bed.path(j).with_file_name("report.json")).ok()
            })
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(J::Null)
    }

    /// The webhook body posted for a run, by its id.
    fn hook_for(&self, report: &J) -> Option<J> {
        self.hook
            .received()
            .into_iter()
            .find(|r| r["body"]["run_id"] == report["run_id"] && !report["run_id"].is_null())
    }

    /// The DR site's runs that `status --json` lists as unfinished.
    fn unfinished_runs(&self) -> Vec<String> {
        let out = self.run("dr", &["status", "--json"]);
        let rows: J = serde_json::from_str(&out.stdout).unwrap_or(J::Null);
        rows.as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["status"] == "unfinished")
            .map(|r| r["run_id"].as_str().unwrap_or("?").to_string())
            .collect()
    }
}

/// The run's report names the backup restored (`authenticity`) and carries its digest.
fn report_names(report: &J, object: &str, digest: &str) -> bool {
    let text = report.to_string();
    report["authenticity"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|a| a["object"] == object)
        && text.contains(digest)
}

/// How many tasks of a step ran to success in a report (`ok` or `changed`).
fn ran_ok(report: &J, step: &str) -> u64 {
    report["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["id"] == step && s["rollback"] != true)
        .map(|s| {
            s["hosts"]["ok"].as_u64().unwrap_or(0) + s["hosts"]["changed"].as_u64().unwrap_or(0)
        })
        .sum()
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A Rust Debug rendering of an error, which may carry a document's text.
fn debug_dump(body: &str) -> bool {
    ["Diag {", "Source {", "Some(", "Invalid("]
        .iter()
        .any(|w| body.contains(w))
}

/// Names an answer of a single storage (`storage.s3.…`, `storage.sftp.…`): this site has none,
/// its targets' answers are `storage.s3main.…` and `storage.vault.…`.
fn names_a_type_key(text: &str) -> bool {
    ["storage.s3.", "storage.sftp."]
        .iter()
        .any(|w| text.contains(w))
}

/// A webhook post as received, or that none was.
fn shown(post: &Option<J>) -> String {
    post.as_ref()
        .map_or("nothing was posted".into(), |p| p.to_string())
}

/// Replaces each secret in `text` with its name, so that a finding can quote what was sent.
fn masked(text: &str, secrets: &[(&str, String)]) -> String {
    let mut t = text.to_string();
    for (name, value) in secrets {
        t = t.replace(value.as_str(), &format!("[SECRET {name}]"));
    }
    // A page's head is its style sheet: what it says is further on.
    match t.find("<body") {
        Some(at) => t[at..].to_string(),
        None => t,
    }
}

#[test]
fn a_composed_site_backs_up_to_s3_and_sftp_restores_resumes_drills_copies_and_serves_without_a_word_wrong()
 {
    let s = site();
    let f = Findings::default();
    let secrets = s.secrets();

    // 1. Two backups, a day apart: the second changes the configuration, a row and a day of
    // analytics, so the newest is told from the older by what lands at the DR site.
    let out = s.backup("2026-12-06T02:00:00Z");
    assert_eq!(
        out.code, 0,
        "the first backup: {}{}",
        out.stdout, out.stderr
    );
    s.bed.file(
        "dc-root/etc/director/director.conf",
        "site = dc-main\ngeneration = 2\n",
    );
    s.bed.file(
        "dc-root/srv/analytics/indices/2026-12-06.json",
        "{\"day\": \"2026-12-06\"}\n",
    );
    touch_at(
        &s.bed.path("dc-root/srv/analytics/indices/2026-12-06.json"),
        "2026-12-06 10:00:00Z",
    );
    s.pg.sql("director", "INSERT INTO tenants VALUES (3, 'initech')");
    let out = s.backup("2026-12-07T02:00:00Z");
    assert_eq!(
        out.code, 0,
        "the second backup: {}{}",
        out.stdout, out.stderr
    );
    for (target, dir) in [("s3main", s.bucket()), ("vault", s.vault_store())] {
        let names = served::names_under(&dir);
        for name in [OLDER, NEWEST] {
            for suffix in ["", ".sha256", ".manifest.json", ".manifest.json.sig"] {
                assert!(
                    names.iter().any(|n| *n == format!("{name}{suffix}")),
                    "{target} holds {name}{suffix}: {names:?}"
                );
            }
        }
    }
    let newest_digest = sha256_of(&s.vault_store().join(NEWEST));
    for r in s.hook.received() {
        f.check(r["signature_ok"] == true, || {
            format!("webhook: a backup's notification is not signed with the secret: {r}")
        });
    }
    let backups: Vec<J> = s
        .hook
        .received()
        .into_iter()
        .filter(|r| r["body"]["operation"] == "backup")
        .collect();
    f.check(
        backups.len() == 2 && backups.iter().all(|r| r["body"]["status"] == "done"),
        || format!("webhook: two backups done are not two signed posts: {backups:?}"),
    );

    // 2. Restore `latest`: the newest backup, its digest in the marker, the report and the hook.
    let out = s.dr("restore", &[]);
    f.check(out.code == 0, || {
        format!(
            "restore latest exited {}: {}{}",
            out.code, out.stdout, out.stderr
        )
    });
    let marker = s.marker();
    f.check(
        marker.contains(&format!("Configuration backup: {NEWEST}"))
            && marker.contains(&format!("Digest: sha256 {newest_digest}")),
        || format!("item 2: restore latest: the marker does not name {NEWEST} and its digest {newest_digest}: {marker}"),
    );
    f.check(
        s.bed.read("dr-root/etc/director/director.conf") == "site = dc-main\ngeneration = 2\n",
        || "item 2: restore latest: the configuration in place is not the newest backup's".into(),
    );
    f.check(s.rows() == "acme,globex,initech", || {
        format!(
            "restore latest: the database holds {}, not the newest backup's rows",
            s.rows()
        )
    });
    for day in ["2026-12-05", "2026-12-06"] {
        f.check(
            s.bed
                .path(&format!("dr-root/var/lib/analytics/indices/{day}.json"))
                .exists(),
            || {
                format!(
                    "restore latest: the analytics day {day} of the complete week is not in place"
                )
            },
        );
    }
    let report = s.report_of(&out);
    f.check(report_names(&report, NEWEST, &newest_digest), || {
        format!(
            "item 2: the report does not name the newest backup and its digest (authenticity: {}; digest {newest_digest} in it: {})",
            report["authenticity"],
            report.to_string().contains(&newest_digest)
        )
    });
    f.check(
        report["rpo"]["config"]["as_of"]
            .as_str()
            .is_some_and(|t| t.starts_with("2026-12-07T02:00:00")),
        || {
            format!(
                "item 2: restore latest: the report's RPO is not the newest backup's: {}",
                report["rpo"]
            )
        },
    );
    let hook = s.hook_for(&report);
    f.check(
        hook.as_ref().is_some_and(|h| {
            h["signature_ok"] == true
                && h["body"]["operation"] == "restore"
                && h["body"]["status"] == "done"
                && h["body"]["exit_code"] == 0
                && h["body"]["site"] == "composed-dr"
                && h["body"]["rpo"]["config"]["as_of"]
                    .as_str()
                    .is_some_and(|t| t.starts_with("2026-12-07T02:00:00"))
        }),
        || format!("webhook: restore latest was not posted, signed, done, with the newest backup's RPO: {}", shown(&hook)),
    );
    f.check(s.director_state() == "running" && s.healthy(), || {
        format!(
            "restore latest: the director is {} and its health URL answers: {}",
            s.director_state(),
            s.healthy()
        )
    });

    // 3. The newest backup lost from s3main only: `latest` is still the newest (from vault), and
    // the summary, the report and the webhook say that s3main lacks it.
    for e in std::fs::read_dir(s.bucket()).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with(NEWEST) {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    let out = s.dr("restore", &[]);
    f.check(out.code == 0, || {
        format!(
            "restore latest with s3main lacking the newest exited {}: {}{}",
            out.code, out.stdout, out.stderr
        )
    });
    let marker = s.marker();
    f.check(
        marker.contains(&format!("Configuration backup: {NEWEST}"))
            && s.bed.read("dr-root/etc/director/director.conf")
                == "site = dc-main\ngeneration = 2\n",
        || format!("item 2: with s3main lacking the newest backup, `latest` put an older one in place: marker {marker}\n{}", out.stdout),
    );
    f.check(says_s3main_lacks(&out.stdout), || {
        format!(
            "item 2: with s3main lacking the newest backup, the summary does not say so: {}",
            out.stdout
        )
    });
    let report = s.report_of(&out);
    f.check(says_s3main_lacks(&report["storage"].to_string()), || {
        format!(
            "item 2: with s3main lacking the newest backup, the report's storage does not say so: {}",
            report["storage"]
        )
    });
    let hook = s.hook_for(&report);
    f.check(
        hook.as_ref()
            .is_some_and(|h| says_s3main_lacks(&h["body"].to_string().replace("\\n", "\n"))),
        || {
            format!(
                "item 2: with s3main lacking the newest backup, the webhook does not say so: {}",
                shown(&hook)
            )
        },
    );

    // --check plans the newest too, and says where it is missing.
    let out = s.dr("restore", &["--check"]);
    f.check(
        out.stdout
            .lines()
            .any(|l| l.contains("object") && l.contains(NEWEST)),
        || {
            format!(
                "item 2: restore --check with s3main lacking the newest backup does not probe {NEWEST}: {}",
                out.stdout
            )
        },
    );
    f.check(says_s3main_lacks(&out.stdout), || {
        format!(
            "item 2: restore --check with s3main lacking the newest backup does not say so: {}",
            out.stdout
        )
    });

    // 4. A forced re-run reads the newest from vault, and says why.
    let out = s.dr("restore", &["--force"]);
    f.check(out.code == 0, || {
        format!(
            "restore --force exited {}: {}{}",
            out.code, out.stdout, out.stderr
        )
    });
    f.check(
        out.stdout.contains(&format!("`{NEWEST}` is read from target vault"))
            && says_s3main_lacks(&out.stdout),
        || format!("item 2: restore --force does not say it read {NEWEST} from vault, not on s3main: {}", out.stdout),
    );
    let marker = s.marker();
    f.check(
        marker.contains(&format!("Configuration backup: {NEWEST}"))
            && marker.contains(&format!("Digest: sha256 {newest_digest}")),
        || format!("item 2: restore --force: the marker does not name {NEWEST} and its digest: {marker}"),
    );
    let report = s.report_of(&out);
    f.check(report_names(&report, NEWEST, &newest_digest), || {
        format!(
            "item 2: the report does not name the newest backup and its digest (authenticity: {}; digest {newest_digest} in it: {})",
            report["authenticity"],
            report.to_string().contains(&newest_digest)
        )
    });
    f.check(says_s3main_lacks(&report["storage"].to_string()), || {
        format!(
            "item 2: restore --force: the report's storage does not say s3main lacks the newest: {}",
            report["storage"]
        )
    });
    f.check(s.director_state() == "running" && s.healthy(), || {
        format!(
            "restore --force: the director is {} and its health URL answers: {}",
            s.director_state(),
            s.healthy()
        )
    });

    // 5. `restore --force` killed outright while it starts the director, then `--resume` (what
    // `status` suggests): the director ends running and checked, and no run is left unfinished.
    s.bed.file("run-dr/hold-start-director", "");
    let _ = std::fs::remove_file(s.bed.path("run-dr/in-start-director"));
    let mut cmd = s.bed.command(&[
        "-C",
        "dr",
        "standalone",
        "restore",
        "--now",
        DR_NOW,
        "--force",
    ]);
    cmd.stdout(std::fs::File::create(s.bed.path("killed.out")).unwrap())
        .stderr(std::fs::File::create(s.bed.path("killed.err")).unwrap())
        .process_group(0);
    let mut child = cmd.spawn().unwrap();
    let held = wait_until(Duration::from_secs(90), || {
        s.bed.path("run-dr/in-start-director").exists() || matches!(child.try_wait(), Ok(Some(_)))
    }) && s.bed.path("run-dr/in-start-director").exists();
    // Killed only while it is known to run (a run that ended is reaped, its pid not ours).
    if held {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &child.id().to_string()])
            .status();
    }
    let _ = child.wait();
    s.keep(
        "restore --force (killed)",
        &Out {
            code: -9,
            stdout: s.bed.read("killed.out"),
            stderr: s.bed.read("killed.err"),
        },
    );
    f.check(held, || {
        format!(
            "restore --force never reached start_services, so it was not killed there: {}{}",
            s.bed.read("killed.out"),
            s.bed.read("killed.err")
        )
    });
    if held {
        let before = s.unfinished_runs();
        f.check(before.len() == 1, || {
            format!("status does not list the killed run as unfinished: {before:?}")
        });
        let out = s.dr("restore", &["--resume"]);
        f.check(out.code == 0, || {
            format!(
                "restore --resume exited {}: {}{}",
                out.code, out.stdout, out.stderr
            )
        });
        f.check(s.director_state() == "running", || {
            format!(
                "item 3: after kill -9 during start_services and --resume, the director is {:?}, not running: {}",
                s.director_state(),
                out.stdout
            )
        });
        f.check(s.healthy(), || {
            "item 3: after kill -9 during start_services and --resume, the director's health URL is dead"
                .into()
        });
        // Only now is the hold lifted: a start the dead run left waiting must not pass for the
        // resumed run's own.
        let _ = std::fs::remove_file(s.bed.path("run-dr/hold-start-director"));
        let report = s.report_of(&out);
        for step in ["start_services", "health_check", "check_director"] {
            f.check(ran_ok(&report, step) >= 1, || {
                format!(
                    "item 3: the resumed run did not run {step} to success: {}",
                    out.stdout
                )
            });
        }
        let hook = s.hook_for(&report);
        f.check(
            hook.as_ref().is_some_and(|h| {
                h["signature_ok"] == true
                    && h["body"]["status"] == "done"
                    && h["body"]["exit_code"] == 0
                    && h["body"]["rto_seconds"].is_number()
            }),
            || {
                format!(
                    "item 3: the resumed run's webhook is missing, unsigned or not done: {}",
                    shown(&hook)
                )
            },
        );
        let left = s.unfinished_runs();
        f.check(left.is_empty(), || {
            format!(
                "item 3: after the resume finished, status still lists unfinished runs: {left:?}"
            )
        });
        f.check(
            s.marker()
                .contains(&format!("Configuration backup: {NEWEST}")),
            || {
                format!(
                    "item 2/3: after the resume the marker does not name {NEWEST}: {}",
                    s.marker()
                )
            },
        );
    }
    let _ = std::fs::remove_file(s.bed.path("run-dr/hold-start-director"));

    // 6. The drill: the newest backup (from vault) into a sandbox, an analytics day exercised or
    // said not to be, and a webhook with its RTO.
    let live_conf = s.bed.read("dr-root/etc/director/director.conf");
    let live_state = s.director_state();
    let out = s.run("dr", &["drill", "--now", "2026-12-07T05:00:00Z"]);
    f.check(out.code == 0, || {
        format!(
            "the drill exited {}: {}{}",
            out.code, out.stdout, out.stderr
        )
    });
    let mut drills: Vec<PathBuf> = std::fs::read_dir(s.bed.path("dr/.setup/drills"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    drills.sort();
    let evidence: J = drills
        .last()
        .and_then(|d| std::fs::read_to_string(d.join("report.json")).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(J::Null);
    let restored = evidence["restored"].to_string();
    f.check(restored.contains(NEWEST), || {
        format!("item 2: the drill did not restore the newest backup {NEWEST}: {restored}")
    });
    let days = evidence["checks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("analytics-"))
        })
        .count();
    f.check(
        days > 0 || (evidence["status"] != "passed" && out.stdout.contains("analytics")),
        || {
            format!(
                "item 12: the drill exercised no analytics day and still passed: {}",
                out.stdout
            )
        },
    );
    let drill_hook = s
        .hook
        .received()
        .into_iter()
        .find(|r| r["body"]["operation"] == "drill");
    f.check(
        drill_hook
            .as_ref()
            .is_some_and(|h| h["signature_ok"] == true && h["body"]["rto_seconds"].is_number()),
        || {
            format!(
                "item 13: the drill's webhook is missing, unsigned or without rto_seconds: {}",
                shown(&drill_hook)
            )
        },
    );
    f.check(
        s.bed.read("dr-root/etc/director/director.conf") == live_conf
            && s.director_state() == live_state,
        || "the drill changed the live configuration or the director's state".into(),
    );

    // 7. One byte of the older backup's S3 copy flipped: verify reads the newest from vault and
    // fails naming the copy s3main lacks; pinned to s3main it names the damaged copy by its digest,
    // and no file name is masked.
    let object = s.bucket().join(OLDER);
    let mut bytes = std::fs::read(&object).unwrap();
    // In the body of the header's recipient stanza (the wrapped file key), one base64 letter for
    // another: the object is the wrong bytes, whatever part of it is damaged.
    let stanza = bytes
        .windows(10)
        .position(|w| w == b"-> X25519 ")
        .expect("an age header");
    let body = stanza + bytes[stanza..].iter().position(|b| *b == b'\n').unwrap() + 1;
    bytes[body] = if bytes[body] == b'A' { b'B' } else { b'A' };
    std::fs::write(&object, &bytes).unwrap();
    let out = s.dr("verify", &[]);
    f.check(
        out.code == 1
            && out.stdout.contains(&format!("  ok  {NEWEST}: "))
            && out
                .stdout
                .contains(&format!("  BAD on s3main: {NEWEST}: it is missing")),
        || format!("verify exited {}: {}{}", out.code, out.stdout, out.stderr),
    );
    let out = s.dr("verify", &["--storage", "s3main"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    println!("verify --storage s3main, one byte of {OLDER} flipped on s3main:\n{said}");
    f.check(out.code == 1 && said.contains(&format!("BAD {OLDER}")), || {
        format!("verify --storage s3main does not fail naming the damaged {OLDER} (exit {}): {said}", out.code)
    });
    let bad = said
        .lines()
        .find(|l| l.contains(&format!("BAD {OLDER}")))
        .unwrap_or("");
    f.check(
        (bad.contains("digest") || bad.contains("sha256") || bad.contains("checksum"))
            && !bad.contains("decrypt")
            && !bad.contains("encrypted to the identity")
            && !said.contains("********"),
        || format!("item 9: verify --storage s3main does not give the damaged copy's real cause (a digest mismatch), or masks a file name: {said}"),
    );

    // 8. copy --from vault --to s3main: the missing newest copied, the damaged copy detected and
    // replaced.
    let out = s.run("dc", &["copy", "--from", "vault", "--to", "s3main"]);
    f.check(out.code == 0, || {
        format!("copy exited {}: {}{}", out.code, out.stdout, out.stderr)
    });
    f.check(sha256_of(&s.bucket().join(NEWEST)) == newest_digest, || {
        format!(
            "copy did not put the newest backup back on s3main: {}",
            out.stdout
        )
    });
    f.check(
        sha256_of(&s.bucket().join(OLDER)) == sha256_of(&s.vault_store().join(OLDER)),
        || {
            format!(
                "item 9: copy left the damaged copy of {OLDER} on s3main: {}",
                out.stdout
            )
        },
    );
    f.check(out.stdout.contains(OLDER), || {
        format!(
            "item 9: copy does not name the damaged copy of {OLDER} it found on s3main: {}",
            out.stdout
        )
    });
    let out = s.dr("verify", &["--storage", "s3main"]);
    f.check(out.code == 0, || {
        format!(
            "item 9: after copy, verify --storage s3main still fails: {}{}",
            out.stdout, out.stderr
        )
    });

    // 9. `setup serve` on each folder: every endpoint and page, and a job's record and events,
    // with never a secret in an answer; then again with stand-in secrets no server takes.
    serve_round(&s, &f, &secrets, "real secrets");
    let real_dc = s.bed.read("dc/answers.yml");
    let real_dr = s.bed.read("dr/answers.yml");
    let fake = |text: &str| {
        text.replace(&secrets[0].1, FAKE_S3_SECRET)
            .replace(&secrets[1].1, FAKE_VAULT_PASSWORD)
    };
    s.bed.file("dc/answers.yml", &fake(&real_dc));
    s.bed.file("dr/answers.yml", &fake(&real_dr));
    private(&s.bed.path("dc/answers.yml"));
    private(&s.bed.path("dr/answers.yml"));
    let mut fakes = secrets.clone();
    fakes.push((
        "storage.s3main.secret_key (stand-in)",
        FAKE_S3_SECRET.into(),
    ));
    fakes.push((
        "storage.vault.password (stand-in)",
        FAKE_VAULT_PASSWORD.into(),
    ));
    serve_round(&s, &f, &fakes, "stand-in secrets");
    s.bed.file("dc/answers.yml", &real_dc);
    s.bed.file("dr/answers.yml", &real_dr);
    private(&s.bed.path("dc/answers.yml"));
    private(&s.bed.path("dr/answers.yml"));

    // 10. --check with a wrong S3 key fails naming s3main, on both sides, though vault covers.
    let out = s.run(
        "dc",
        &[
            "backup",
            "--check",
            "--now",
            "2026-12-08T02:00:00Z",
            "--set",
            "storage.s3main.secret_key=WRONG",
        ],
    );
    let said = format!("{}{}", out.stdout, out.stderr);
    f.check(
        out.code == 1 && said.contains("s3main") && !said.contains("All probes pass"),
        || format!("item 8: backup --check with a wrong s3main key exited {} without naming s3main: {said}", out.code),
    );
    let out = s.dr(
        "restore",
        &["--check", "--set", "storage.s3main.secret_key=WRONG"],
    );
    let said = format!("{}{}", out.stdout, out.stderr);
    f.check(
        out.code == 1 && said.contains("s3main") && !said.contains("All probes pass"),
        || format!("item 8: restore --check with a wrong s3main key exited {} without naming s3main: {said}", out.code),
    );
    // 11. Every command reads the same answers the same way (item 7), on this site's folders.
    let out = s.run_plain(&["notify-test", "-C", "dr"]);
    let test_post = s
        .hook
        .received()
        .into_iter()
        .find(|r| r["body"]["operation"] == "notify-test");
    f.check(
        out.code == 0
            && test_post
                .as_ref()
                .is_some_and(|p| p["signature_ok"] == true),
        || {
            format!(
                "item 7: notify-test in a folder with a storage list exited {} (the webhook got: {}): {}{}",
                out.code,
                shown(&test_post),
                out.stdout,
                out.stderr
            )
        },
    );
    for folder in ["dc", "dr"] {
        let out = s.run_plain(&["validate", "-C", folder]);
        let said = format!("{}{}", out.stdout, out.stderr);
        let wrong_keys = if folder == "dc" {
            ["trusted_signers", "storage.type"]
                .iter()
                .any(|k| said.contains(k))
        } else {
            said.contains("storage.type")
        };
        f.check(out.code == 0 && !wrong_keys, || {
            format!(
                "item 7: validate in the {folder} folder exited {}: {said}",
                out.code
            )
        });
    }

    // 12. A restore.yml key on the command line is honoured or refused (item 4): with
    // `components=analytics` the director is never stopped.
    let calls_before = s.bed.read("run-dr/calls.log").lines().count();
    let marker_before = s.marker();
    let out = s.dr("restore", &["--force", "--set", "components=analytics"]);
    let calls = s.bed.read("run-dr/calls.log");
    let stopped_director = calls
        .lines()
        .skip(calls_before)
        .any(|l| l == "stop director");
    // The director may be stopped already (item 3): a new marker says its configuration was
    // replaced all the same.
    let stopped_director = stopped_director || s.marker() != marker_before;
    let refused = out.code == 2 && format!("{}{}", out.stdout, out.stderr).contains("--only");
    f.check(!stopped_director && (refused || out.code == 0), || {
        format!(
            "item 4: restore --force --set components=analytics exited {} and {} the director: {}{}",
            out.code,
            if stopped_director {
                "stopped or restored"
            } else {
                "left alone"
            },
            out.stdout,
            out.stderr
        )
    });

    // 13. Without a terminal, every missing answer is listed at once (item 6): a copy of the DR
    // folder whose answers hold none of its secrets.
    for file in ["master.yml", "restore.yml"] {
        s.bed.file(
            &format!("dr-bare/{file}"),
            &s.bed.read(&format!("dr/{file}")),
        );
    }
    s.bed.file("dr-bare/answers.yml", &common::trust_answer());
    let out = s.run("dr-bare", &["restore", "--check", "--now", DR_NOW]);
    let said = format!("{}{}", out.stdout, out.stderr);
    // `age_identity` is not among them: with `config_backup: latest` whether the backups are
    // encrypted is known only from storage, which these answers cannot reach; it is asked for as
    // soon as storage is read, before any host is touched.
    let missing = [
        "storage.s3main.secret_key",
        "storage.vault.password",
        "db_password",
    ];
    let unnamed: Vec<&str> = missing
        .iter()
        .copied()
        .filter(|k| !said.contains(k))
        .collect();
    f.check(out.code == 2 && unnamed.is_empty(), || {
        format!(
            "item 6: restore --check without a terminal and without the site's secrets exited {}, not naming {unnamed:?} at once: {said}",
            out.code
        )
    });

    // 14. What each restore keeps aside does not pile up (item 14: the last two by default).
    let kept_dbs: Vec<String> =
        s.pg.databases()
            .into_iter()
            .filter(|d| d.starts_with("director_dr_pre_") || d.starts_with("director_dr_failed_"))
            .collect();
    let kept_dirs: Vec<String> = ["dr-root/etc", "dr-root/var/lib"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(s.bed.path(d))
                .into_iter()
                .flatten()
                .flatten()
        })
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".pre-restore-") || n.contains(".failed-"))
        .collect();
    let per = |names: &[String], pat: &str| names.iter().filter(|n| n.contains(pat)).count();
    f.check(
        per(&kept_dbs, "_pre_") <= 2
            && per(&kept_dirs, "director.pre-restore-") <= 2
            && per(&kept_dirs, "analytics.pre-restore-") <= 2,
        || {
            format!(
                "item 14: the restores so far left all they set aside: {kept_dbs:?} and {kept_dirs:?}"
            )
        },
    );

    for (what, text) in s.outputs.borrow().iter() {
        f.check(!text.contains("WRONG"), || {
            format!("secrets: a secret given with --set is shown by `{what}`")
        });
        f.check(!names_a_type_key(text), || {
            let line = text.lines().find(|l| names_a_type_key(l)).unwrap_or("");
            format!(
                "items 7/8: `{what}` names a single storage's key, not the target's own: {line}"
            )
        });
    }

    // Every webhook post signed; no secret in any output, file the runs left, host file, webhook
    // body or mail.
    for r in s.hook.received() {
        f.check(
            r["signature_ok"] == true && r["content_type"] == "application/json",
            || format!("webhook: a post is not signed JSON: {r}"),
        );
    }
    let mut places: Vec<(String, String)> = s.outputs.borrow().clone();
    for dir in [
        s.bed.path("dc/.setup"),
        s.bed.path("dr/.setup"),
        s.bed.path("dc-root"),
        s.bed.path("dr-root"),
        s.hook.dir.path().to_path_buf(),
        s.mail.dir.path().to_path_buf(),
    ] {
        for file in common::files_under(&dir) {
            let text =
                String::from_utf8_lossy(&std::fs::read(&file).unwrap_or_default()).into_owned();
            places.push((file.display().to_string(), text));
        }
    }
    for (place, text) in &places {
        for (name, value) in &secrets {
            f.check(!text.contains(value.as_str()), || {
                format!("secrets: {name} appears in {place}")
            });
        }
    }
    f.check(!s.mail.received().is_empty(), || {
        "mail: no run was mailed".into()
    });

    let found = f.0.borrow();
    assert!(
        found.is_empty(),
        "{} finding(s) on the composed site:\n- {}",
        found.len(),
        found.join("\n- ")
    );
}

/// One API request with the token, cut after 30 s (an event stream ends with its job): (status, body).
fn ask(base: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut c = std::process::Command::new("curl");
    c.args([
        "-s",
        "--max-time",
        "30",
        "-o",
        "-",
        "-w",
        "\n%{http_code}",
        "-X",
        method,
    ])
    .args(["-H", &format!("Authorization: Bearer {TOKEN}")]);
    if let Some(b) = body {
        c.args(["-H", "Content-Type: application/json", "--data", b]);
    }
    let out = c.arg(format!("{base}{path}")).output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// `setup serve` on the DC and the DR folder: every GET of the API and the page (a verify job's
/// record and events among them at the DR site) answers without a secret, without a server error,
/// and the storage settings name both targets.
fn serve_round(s: &Site, f: &Findings, secrets: &[(&str, String)], round: &str) {
    for folder in ["dc", "dr"] {
        let server = served::serve(&s.bed, folder);
        let base = server.base.clone();
        let mut answers: Vec<(String, u16, String)> = Vec::new();
        for path in [
            "/healthz",
            "/api/v1/openapi.json",
            "/api/v1/status",
            "/api/v1/metrics",
            "/api/v1/backups",
            "/api/v1/jobs",
            "/api/v1/storage",
            "/api/v1/schedule",
        ] {
            let (code, body) = ask(&base, "GET", path, None);
            answers.push((path.to_string(), code, body));
        }
        if folder == "dr" {
            let (code, body) = ask(&base, "POST", "/api/v1/verify", Some("{}"));
            answers.push(("POST /api/v1/verify".into(), code, body.clone()));
            let id = serde_json::from_str::<J>(&body)
                .ok()
                .and_then(|j| j["id"].as_str().map(str::to_string));
            if let Some(id) = id {
                let deadline = Instant::now() + Duration::from_secs(120);
                loop {
                    let (code, body) = ask(&base, "GET", &format!("/api/v1/jobs/{id}"), None);
                    let done = serde_json::from_str::<J>(&body)
                        .map(|j| j["status"] != "running")
                        .unwrap_or(true);
                    if done || Instant::now() > deadline {
                        answers.push((format!("/api/v1/jobs/{id}"), code, body));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                let (code, body) = ask(&base, "GET", &format!("/api/v1/jobs/{id}/events"), None);
                answers.push((format!("/api/v1/jobs/{id}/events"), code, body));
                answers.push(("page".into(), 0, format!("/jobs/{id}")));
            }
        }
        let jar = s.bed.path(&format!("jar-{folder}"));
        sign_in(&base, &jar);
        let mut pages = vec![
            "/".to_string(),
            "/login".into(),
            "/backups".into(),
            "/jobs".into(),
            "/storage".into(),
            "/schedule".into(),
        ];
        answers.retain(|(p, code, body)| {
            if p == "page" && *code == 0 {
                pages.push(body.clone());
                false
            } else {
                true
            }
        });
        for p in &pages {
            let (code, body) = page(&base, &jar, p);
            answers.push((format!("page {p}"), code, body));
        }
        drop(server);
        for (path, code, body) in &answers {
            let leaked: Vec<&str> = secrets
                .iter()
                .filter(|(_, value)| body.contains(value.as_str()))
                .map(|(name, _)| *name)
                .collect();
            f.check(leaked.is_empty(), || {
                format!(
                    "item 1: serve ({round}) on {folder}: {path} ({code}) answers the secrets {leaked:?}: {}",
                    masked(body, secrets)
                )
            });
            f.check(!debug_dump(body), || {
                format!(
                    "item 1: serve ({round}) on {folder}: {path} ({code}) answers a Debug dump: {}",
                    masked(body, secrets)
                )
            });
            f.check(!names_a_type_key(body), || {
                format!(
                    "items 7/8: serve ({round}) on {folder}: {path} ({code}) names a single storage's key, not the target's own: {}",
                    masked(body, secrets)
                )
            });
        }
        let storage = answers
            .iter()
            .find(|(p, ..)| p == "/api/v1/storage")
            .unwrap();
        f.check(
            storage.1 == 200 && storage.2.contains("s3main") && storage.2.contains("vault"),
            || {
                format!(
                    "item 1: serve ({round}) on {folder}: GET /api/v1/storage does not show the targets s3main and vault: {} {}",
                    storage.1,
                    masked(&storage.2, secrets)
                )
            },
        );
        let tab = answers.iter().find(|(p, ..)| p == "page /storage").unwrap();
        f.check(
            tab.1 == 200 && tab.2.contains("s3main") && tab.2.contains("vault"),
            || format!("item 1: serve ({round}) on {folder}: the Storage tab does not show the targets s3main and vault ({})", tab.1),
        );
        if folder == "dr" {
            let job = answers
                .iter()
                .find(|(p, ..)| p.starts_with("/api/v1/jobs/") && !p.ends_with("/events"));
            f.check(job.is_some(), || {
                format!(
                    "serve ({round}) on dr: POST /verify started no job: {:?}",
                    answers
                        .iter()
                        .find(|(p, ..)| p == "POST /api/v1/verify")
                        .map(|(_, c, b)| (c, masked(b, secrets)))
                )
            });
        }
    }
}
