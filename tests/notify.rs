//! Notifications through the binary, received by a real HTTP server (tests/support/webhook-receiver)
//! that checks the HMAC-SHA256 signature over each body.

use crate::common;

use std::process::{Child, Command};

use common::receivers::Webhook;
use common::{demo, repo};
use serde_json::Value as J;

const SECRET: &str = "Webhook-Secret-Never-Shown-42";

#[test]
fn a_restore_and_its_failure_are_posted_signed_and_an_unreachable_receiver_changes_nothing() {
    let rx = Webhook::start(SECRET);
    let bed = demo();
    let hook = rx.url("/hook");
    let sets = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(["--set".into(), format!("notify.webhook.url={hook}")]);
        a.extend(["--set".into(), format!("notify.webhook.secret={SECRET}")]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        bed.run(&refs)
    };
    let out = run(sets(&[]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["signature_ok"], true, "{:?}", got[0]);
    assert_eq!(got[0]["content_type"], "application/json");
    let body = &got[0]["body"];
    assert_eq!(body["operation"], "restore");
    assert_eq!(body["status"], "done");
    assert_eq!(body["site"], "dr-demo");
    assert_eq!(body["rpo"]["config"]["age_seconds"], 73 * 3600);
    assert!(body["report"].as_str().unwrap().ends_with("report.json"));
    // A failure: posted with the failed step and its message.
    common::failing_starts(&bed, false);
    let out = run(sets(&["--force"]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let body = &got[1]["body"];
    assert_eq!(body["status"], "failed");
    assert!(
        body["failed_steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["step"] == "start_services"
                && f["message"].as_str().unwrap().contains("port 8443")),
        "{body}"
    );
    // `on: success` alone: the failure is not posted.
    let out = run(sets(&["--force", "--set", "notify.webhook.on=success"]));
    assert_eq!(out.code, 1);
    assert_eq!(rx.received().len(), 2);
    // A receiver that answers 500: retried, then a warning; the run's exit code is its own.
    std::fs::remove_file(bed.path("target/fail-start")).unwrap();
    let mut args = sets(&["--force"]);
    let at = args
        .iter()
        .position(|a| a.starts_with("notify.webhook.url="))
        .unwrap();
    args[at] = format!("notify.webhook.url={}", rx.url("/fail"));
    let out = run(args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the webhook notification was not delivered: the receiver answered 500"),
        "{}",
        out.stderr
    );
    let journal = common::journal(bed.dir.path());
    assert!(journal.iter().any(
        |e| e["event"] == "note" && e["text"].as_str().unwrap_or("").contains("not delivered")
    ));
    assert_eq!(journal.last().unwrap()["event"], "run_finished");
    let fails = rx
        .received()
        .iter()
        .filter(|r| r["path"] == "/fail")
        .count();
    assert_eq!(fails, 3, "three attempts");
    // The secret is never shown.
    let everything = format!("{}{}", out.stdout, out.stderr)
        + &common::files_under(&bed.path(".setup"))
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap_or_default())
            .collect::<String>();
    assert!(!everything.contains(SECRET));
}

#[test]
fn notify_test_sends_a_signed_test_message() {
    let rx = Webhook::start(SECRET);
    let bed = common::Bed::new();
    let out = bed.run(&[
        "notify-test",
        "--set",
        &format!("notify.webhook.url={}", rx.url("/hook")),
        "--set",
        &format!("notify.webhook.secret={SECRET}"),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("webhook: delivered (HTTP 200), signed"),
        "{}",
        out.stdout
    );
    let got = rx.received();
    assert_eq!(got[0]["signature_ok"], true);
    assert_eq!(got[0]["body"]["test"], true);
    // Nothing configured: said, exit 2.
    let out = bed.run(&["notify-test"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}

#[test]
fn notify_test_reads_the_answers_of_the_storage_targets_the_folder_lists() {
    let rx = Webhook::start(SECRET);
    let answers = format!(
        "storage.s3main.secret_key: S3-Secret-Never-Shown\nstorage.vault.password: Sftp-Password-Never-Shown\nnotify.webhook.url: {}\nnotify.webhook.secret: {SECRET}\n",
        rx.url("/hook")
    );
    let targets = "  - { name: s3main, type: s3, endpoint: \"http://127.0.0.1:9\", bucket: backups, access_key: dr }\n  - { name: vault, type: sftp, host: 127.0.0.1, user: dr, path: /backups }\n";
    // A DR folder (restore.yml lists the targets) and a DC folder (backup.yml does).
    let dr = demo();
    dr.file("answers.yml", &answers);
    dr.file(
        "restore.yml",
        &format!("config_backup: latest\nstorage:\n{targets}"),
    );
    let dc = common::dc_demo();
    dc.file("demo-dc/answers.yml", &answers);
    let spec = dc.read("demo-dc/backup.yml");
    let at = spec.find("storage:").unwrap();
    dc.file(
        "demo-dc/backup.yml",
        &format!("{}storage:\n{targets}", &spec[..at]),
    );
    for (bed, dir) in [(&dr, "."), (&dc, "demo-dc")] {
        let p = bed.path(&format!("{dir}/answers.yml"));
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        let out = bed.run(&["-C", dir, "notify-test"]);
        assert_eq!(out.code, 0, "{dir}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("webhook: delivered (HTTP 200), signed"),
            "{}",
            out.stdout
        );
        for secret in ["S3-Secret-Never-Shown", "Sftp-Password-Never-Shown", SECRET] {
            assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
        }
    }
    assert_eq!(rx.received().len(), 2);
    // A key no target has is still unknown, with the nearest.
    dr.file(
        "answers.yml",
        &answers.replace("storage.vault.password", "storage.vault.pasword"),
    );
    let out = dr.run(&["notify-test"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("did you mean `storage.vault.password`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn hooks_run_around_a_run_with_its_facts_and_a_failing_before_hook_stops_it() {
    let bed = demo();
    let hook = |name: &str| {
        format!(
            "printf '%s %s %s %s\\n' \"$SETUP_OPERATION\" \"${{SETUP_STATUS:-}}\" \"${{SETUP_EXIT_CODE:-}}\" \"$SETUP_SITE\" >> hooks.log; echo {name} >> hooks.log; [ -z \"${{SETUP_REPORT:-}}\" ] || test -s \"$SETUP_REPORT\""
        )
    };
    let args = |extra: &[String]| -> Vec<String> {
        let mut a: Vec<String> = ["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for (k, v) in [
            ("hooks.before", hook("before")),
            ("hooks.after", hook("after")),
            ("hooks.on_failure", hook("on_failure")),
        ] {
            a.extend(["--set".into(), format!("{k}={v}")]);
        }
        a.extend(extra.iter().cloned());
        a
    };
    let run = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        bed.run(&refs)
    };
    let out = run(args(&[]));
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        bed.read("hooks.log"),
        "restore   dr-demo\nbefore\nrestore done 0 dr-demo\nafter\n"
    );
    // A failed run calls on_failure.
    std::fs::remove_file(bed.path("hooks.log")).unwrap();
    common::failing_starts(&bed, false);
    let out = run(args(&["--force".into()]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        bed.read("hooks.log")
            .ends_with("restore failed 1 dr-demo\non_failure\n"),
        "{}",
        bed.read("hooks.log")
    );
    // A before hook that fails: nothing runs on any host.
    std::fs::remove_file(bed.path("target/fail-start")).unwrap();
    let state = bed.read("target/run/director.state");
    let out = run(args(&[
        "--force".into(),
        "--set".into(),
        "hooks.before=exit 7".into(),
    ]));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the hooks.before hook exited 7"),
        "{}",
        out.stderr
    );
    assert_eq!(bed.read("target/run/director.state"), state);
}

#[test]
fn verify_tells_the_webhook_which_backups_are_bad() {
    let rx = Webhook::start(SECRET);
    let bed = demo();
    let args = [
        "standalone".to_string(),
        "verify".into(),
        "--set".into(),
        format!("notify.webhook.url={}", rx.url("/hook")),
        "--set".into(),
        format!("notify.webhook.secret={SECRET}"),
    ];
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bed.run(&refs);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let object = bed.path("backups/analytics-2026-11-20.tar");
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[700] ^= 1;
    std::fs::write(&object, bytes).unwrap();
    let out = bed.run(&refs);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|r| r["signature_ok"] == true));
    assert_eq!(got[0]["body"]["operation"], "verify");
    assert_eq!(got[0]["body"]["status"], "done");
    assert_eq!(got[0]["body"]["site"], "dr-demo");
    let body = &got[1]["body"];
    assert_eq!(body["status"], "failed");
    assert_eq!(
        body["failed_steps"][0]["host"], "analytics-2026-11-20.tar",
        "{body}"
    );
}

#[test]
fn a_failed_drill_tells_the_webhook_each_check_that_failed() {
    let rx = Webhook::start(SECRET);
    let bed = demo();
    bed.file(
        "restore.yml",
        &(bed.read("restore.yml")
            + "drill:\n  checks:\n    - { name: the index holds two days, on: analytics, command: 'ls \"$SETUP_DRILL_DATA_DIR/indices\" | wc -l', expect: 2 }\n"),
    );
    let hook = format!("notify.webhook.url={}", rx.url("/hook"));
    let out = bed.run(&[
        "standalone",
        "drill",
        "--now",
        "2026-11-30T12:00:00Z",
        "--set",
        &hook,
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the index holds two days on analytics-1: expected \"2\", found \"22\""),
        "{}",
        out.stderr
    );
    let got = rx.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let body = &got[0]["body"];
    assert_eq!(body["operation"], "drill");
    assert_eq!(body["status"], "failed");
    let failed = body["failed_checks"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["name"], "the index holds two days");
    assert_eq!(failed[0]["found"], "\"22\"");
}

/// The venv's python: where `scripts/test` installed aiosmtpd.
fn venv_python() -> std::path::PathBuf {
    match std::env::var_os("ANSIBLE_INVENTORY") {
        Some(p) => std::path::PathBuf::from(p).with_file_name("python"),
        None => std::path::PathBuf::from(std::env::var("HOME").unwrap())
            .join(".cache/setup/ansible-venv/bin/python"),
    }
}

const MAIL_PASSWORD: &str = "Mail-Password-Never-Shown-7";

/// A real SMTP server (tests/support/smtp-receiver, aiosmtpd) with TLS and a login.
struct Smtp {
    child: Child,
    dir: tempfile::TempDir,
    port: String,
}

impl Smtp {
    fn start(mode: &str) -> Smtp {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(venv_python())
            .arg(repo().join("tests/support/smtp-receiver"))
            .arg(dir.path())
            .args(["relay", MAIL_PASSWORD, mode])
            .spawn()
            .expect("python with aiosmtpd (scripts/test installs it)");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !dir.path().join("port").exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the SMTP server never listened"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let port = std::fs::read_to_string(dir.path().join("port")).unwrap();
        Smtp { child, dir, port }
    }

    fn sets(&self, mode: &str, password: &str) -> Vec<String> {
        [
            "notify.email.host=localhost".to_string(),
            format!("notify.email.port={}", self.port),
            format!("notify.email.tls={mode}"),
            "notify.email.user=relay".into(),
            format!("notify.email.password={password}"),
            "notify.email.from=setup@dr.example".into(),
            "notify.email.to=oncall@dr.example,dba@dr.example".into(),
            format!(
                "notify.email.ca_file={}",
                self.dir.path().join("ca.pem").display()
            ),
        ]
        .into_iter()
        .flat_map(|s| ["--set".to_string(), s])
        .collect()
    }

    /// Each message received: its envelope (JSON) and the message as sent.
    fn received(&self) -> Vec<(J, String)> {
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

#[test]
fn a_restore_is_mailed_over_starttls_with_a_login_and_its_report_attached() {
    let smtp = Smtp::start("starttls");
    let bed = demo();
    let mut args: Vec<String> = ["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]
        .map(String::from)
        .to_vec();
    args.extend(smtp.sets("starttls", MAIL_PASSWORD));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bed.run(&refs);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let got = smtp.received();
    assert_eq!(got.len(), 1, "{}", out.stderr);
    let (env, eml) = &got[0];
    assert_eq!(env["login"], "relay");
    assert_eq!(env["tls"], true);
    assert_eq!(env["mail_from"], "setup@dr.example");
    assert_eq!(
        env["rcpt_tos"],
        serde_json::json!(["oncall@dr.example", "dba@dr.example"])
    );
    assert!(
        eml.contains("Subject: setup restore of dr-demo: done"),
        "{eml}"
    );
    assert!(
        eml.contains("restore of dr-demo ended: done (exit 0)"),
        "{eml}"
    );
    assert!(eml.contains("Summary of run"), "{eml}");
    assert!(
        eml.contains("Content-Disposition: attachment; filename=\"report.json\""),
        "{eml}"
    );
    println!("received mail:\n{eml}");
    assert!(!eml.contains(MAIL_PASSWORD) && !out.stdout.contains(MAIL_PASSWORD));
    // A refused login: a warning, and the run's exit code is its own.
    let mut args: Vec<String> = [
        "standalone",
        "restore",
        "--now",
        "2026-11-23T03:00:00Z",
        "--force",
    ]
    .map(String::from)
    .to_vec();
    args.extend(smtp.sets("starttls", "wrong-password"));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bed.run(&refs);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the mail was not delivered"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("wrong-password"), "{}", out.stderr);
    assert_eq!(smtp.received().len(), 1);
}

#[test]
fn notify_test_mails_over_implicit_tls() {
    let smtp = Smtp::start("tls");
    let bed = demo();
    let mut args = vec!["notify-test".to_string()];
    args.extend(smtp.sets("tls", MAIL_PASSWORD));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = bed.run(&refs);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("mail: delivered to oncall@dr.example, dba@dr.example"),
        "{}",
        out.stdout
    );
    let got = smtp.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0["tls"], true);
    assert!(got[0].1.contains("Subject: setup: test message"));
}

#[test]
fn the_webhook_says_a_rollback_failed_and_a_drill_carries_its_measured_rto_and_verdict() {
    let rx = Webhook::start(SECRET);
    let bed = demo();
    let hook = format!("notify.webhook.url={}", rx.url("/hook"));
    let restore = ["standalone", "restore", "--now", "2026-11-23T03:00:00Z"];
    let out = bed.run(&restore);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // The running director, once stopped, never starts again: the restore fails, and so does
    // putting it back.
    common::failing_starts(&bed, false);
    let mut args = restore.to_vec();
    args.extend(["--force", "--set", &hook]);
    let out = bed.run(&args);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("ROLLBACK FAILED"), "{}", out.stdout);
    let got = rx.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let rollback = &got[0]["body"]["rollback"];
    assert_eq!(rollback["status"], "failed", "{}", got[0]["body"]);
    let failed = rollback["failed_steps"].as_array().unwrap();
    assert!(
        failed
            .iter()
            .any(|f| f.as_str().unwrap().contains("port 8443")),
        "{rollback}"
    );
    // A drill whose check fails: its restore ran, and the webhook carries its measured RTO.
    std::fs::remove_file(bed.path("target/fail-start")).unwrap();
    bed.file(
        "restore.yml",
        &(bed.read("restore.yml")
            + "drill:\n  checks:\n    - { name: the index holds two days, on: analytics, command: 'ls \"$SETUP_DRILL_DATA_DIR/indices\" | wc -l', expect: 2 }\n"),
    );
    let out = bed.run(&[
        "standalone",
        "drill",
        "--now",
        "2026-11-30T12:00:00Z",
        "--set",
        &hook,
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let got = rx.received();
    assert_eq!(got.len(), 2, "{got:?}");
    let body = &got[1]["body"];
    assert_eq!(body["operation"], "drill");
    assert_eq!(body["drill"]["verdict"], "failed", "{body}");
    let rto = body["rto_seconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("{body}"));
    let evidence: J = serde_json::from_str(
        &std::fs::read_to_string(
            bed.path(".setup/drills")
                .join(body["run_id"].as_str().unwrap())
                .join("report.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let full = evidence["rto"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["component"] == "full")
        .unwrap()["seconds"]
        .as_f64()
        .unwrap();
    assert!(rto > 0.0 && (rto - full).abs() < 1e-9, "{rto} {full}");
    assert_eq!(body["rollback"]["status"], "not run", "{body}");
}

#[test]
fn a_backup_that_one_storage_target_refused_tells_the_webhook_which_target_and_why() {
    let rx = Webhook::start(SECRET);
    let s3 = common::storagebed::StorageBed::start("s3");
    let bed = common::dc_demo();
    // The DC backs up to its local store and to the S3 server, whose secret key is wrong.
    let mut line = String::from("  - { name: s3main, type: s3");
    for l in s3.answers().lines() {
        let Some((k, v)) = l.split_once(": ") else {
            continue;
        };
        let field = k.split('.').nth(2).unwrap_or("");
        if !field.is_empty() && field != "secret_key" {
            line += &format!(", {field}: \"{}\"", v.trim().trim_matches('"'));
        }
    }
    let spec = bed.read("demo-dc/backup.yml");
    let at = spec.find("storage:").unwrap();
    bed.file(
        "demo-dc/backup.yml",
        &format!(
            "{}storage:\n  - {{ name: store, type: local, path: store }}\n{line} }}\n",
            &spec[..at]
        ),
    );
    bed.file(
        "demo-dc/answers.yml",
        &format!(
            "storage.s3main.secret_key: \"Wrong-S3-Secret-Never-Shown\"\nnotify.webhook.url: {}\nnotify.webhook.secret: {SECRET}\n",
            rx.url("/hook")
        ),
    );
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "backup",
        "--now",
        "2026-11-30T02:00:00Z",
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAILED: storage target s3main: "),
        "{}",
        out.stdout
    );
    let got = rx.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["signature_ok"], true);
    let body = &got[0]["body"];
    assert_eq!(body["status"], "failed", "{body}");
    let failed = body["failed_targets"].as_array().expect("failed_targets");
    assert!(!failed.is_empty(), "{body}");
    for f in failed {
        assert_eq!(f["target"], "s3main", "{body}");
        assert!(
            f["object"].as_str().is_some_and(|o| !o.is_empty()),
            "{body}"
        );
        assert!(f["why"].as_str().is_some_and(|w| !w.is_empty()), "{body}");
    }
    assert!(
        failed.iter().any(|f| f["object"]
            .as_str()
            .unwrap()
            .starts_with("director-config-")),
        "{body}"
    );
    assert!(
        !body.to_string().contains("Wrong-S3-Secret-Never-Shown"),
        "{body}"
    );
}
