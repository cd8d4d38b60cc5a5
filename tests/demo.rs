//! The shipped demo and the weekly gate, end to end through the binary, on a copy of inventories/demo.

use crate::common;

use common::{Bed, demo, repo};
use serde_json::Value as J;

fn state(bed: &Bed) -> Option<J> {
    let text = bed.read("target/analytics-1/var/lib/setup/analytics-state.json");
    (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
}

/// The analytics part of the demo restore, on a given date.
fn analytics_at(bed: &Bed, now: &str) -> common::Out {
    bed.run(&["standalone", "restore", "--now", now, "--only", "analytics"])
}

/// The snapshots the gate selected, as the summary lists them: `NAME (reason)`.
fn restored(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim().split_once(": selected: "))
        .map(|(name, why)| format!("{name} ({why})"))
        .collect()
}

fn names(list: &[String]) -> Vec<&str> {
    list.iter().map(|l| l.split(' ').next().unwrap()).collect()
}

fn days(from: u32, to: u32) -> Vec<String> {
    (from..=to)
        .map(|d| format!("analytics-2026-11-{d:02}.tar"))
        .collect()
}

#[test]
fn the_demo_runs_end_to_end() {
    let bed = demo();
    let out = bed.run(&["standalone", "restore", "--report", "report.json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        bed.read("target/director-1/etc/director/director.conf")
            .contains("site = dc-main")
    );
    assert!(
        bed.read("target/director-1/etc/director/RESTORED-BY-SETUP")
            .contains("Configuration backup: director-config-20261120T020000Z.tar")
    );
    assert_eq!(bed.read("target/run/director.state"), "running\n");
    // Each daily snapshot holds that day's changes: all 22 of them are restored.
    let indices = std::fs::read_dir(bed.path("target/analytics-1/var/lib/analytics/indices"))
        .unwrap()
        .count();
    assert_eq!(indices, 22);
    assert_eq!(bed.read("target/run/analytics.state"), "running\n");
    for host in ["director-1", "analytics-1"] {
        let lock = format!("target/{host}/var/lock/setup.lock");
        assert!(!bed.path(&lock).exists(), "the lock on {host} is released");
    }
    let j = common::journal(bed.dir.path());
    let locks: Vec<(&str, &str)> = j
        .iter()
        .filter(|e| e["event"] == "lock")
        .map(|e| (e["host"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        locks.iter().filter(|l| l.1 == "taken").count(),
        2,
        "{locks:?}"
    );
    assert_eq!(
        locks.iter().filter(|l| l.1 == "released").count(),
        2,
        "{locks:?}"
    );
    let report: J = serde_json::from_str(&bed.read("report.json")).unwrap();
    assert_eq!(report["status"], "done");
    assert_eq!(report["gate"]["selected"].as_array().unwrap().len(), 22);
    assert_eq!(report["gate"]["snapshots_hold"], "incremental");
    assert_eq!(report["rpo"]["config"]["as_of"], "2026-11-20T02:00:00Z");
    assert_eq!(report["rpo"]["analytics"]["through"], "2026-11-22");
    assert!(
        out.stdout
            .contains("RPO configuration: backup of 2026-11-20T02:00:00Z")
    );
    assert!(out.stdout.contains("RTO: "), "{}", out.stdout);
}

#[test]
fn check_on_the_demo_in_text_dot_and_json() {
    let bed = demo();
    let now = "2026-11-23T00:00:00Z";
    let text = bed.run(&["standalone", "restore", "--check", "--now", now]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    insta::assert_snapshot!("check_text", bed.filter(&text.stdout));
    let dot = bed.run(&["standalone", "restore", "--check", "--plan-format", "dot"]);
    insta::assert_snapshot!("check_dot", dot.stdout);
    let json = bed.run(&[
        "standalone",
        "restore",
        "--check",
        "--plan-format",
        "json",
        "--now",
        now,
    ]);
    let v: J = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["gate"]["selected"].as_array().unwrap().len(), 22);
    insta::assert_snapshot!("check_json", bed.filter(&json.stdout));
    let names: Vec<_> = std::fs::read_dir(bed.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        !names.contains(&"target".to_string()) && !names.contains(&".setup".to_string()),
        "--check wrote nothing: {names:?}"
    );
}

#[test]
fn help_explains_with_examples() {
    let bed = Bed::new();
    insta::assert_snapshot!(bed.run(&["--help"]).stdout);
}

#[test]
fn two_runs_at_different_times_respect_the_state() {
    let bed = demo();
    // Wednesday of 2026-W47: weeks 43, 45 and 46 are over; 47 is not.
    let first = analytics_at(&bed, "2026-11-18T12:00:00Z");
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let mut want = vec!["analytics-2026-10-25.tar".to_string()];
    want.extend(days(2, 15));
    assert_eq!(names(&restored(&first.stdout)), want);
    assert!(
        first
            .stdout
            .contains("pending 2026-W47: restorable at 2026-11-23T00:00:00Z"),
        "{}",
        first.stdout
    );
    assert_eq!(state(&bed).unwrap()["through"], "2026-11-15");
    assert!(
        !bed.path("target/analytics-1/var/lib/analytics/indices/2026-11-22.json")
            .exists()
    );
    // The next Monday: only 2026-W47 is new.
    let second = analytics_at(&bed, "2026-11-23T00:00:00Z");
    assert_eq!(second.code, 0);
    assert_eq!(names(&restored(&second.stdout)), days(16, 22));
    assert_eq!(state(&bed).unwrap()["through"], "2026-11-22");
    // Again: nothing new, no week twice.
    let third = analytics_at(&bed, "2026-11-23T00:00:00Z");
    assert_eq!(third.code, 0);
    assert!(restored(&third.stdout).is_empty());
    assert!(third.stdout.contains("nothing to restore"));
    let history = state(&bed).unwrap()["history"].as_array().unwrap().len();
    assert_eq!(history, 22, "each day recorded once");
}

#[test]
fn a_failed_restore_leaves_the_state_untouched() {
    let bed = demo();
    // Replace W46's snapshot with another, sound archive: its checksum no longer matches.
    std::fs::copy(
        bed.path("backups/analytics-2026-11-14.tar"),
        bed.path("backups/analytics-2026-11-15.tar"),
    )
    .unwrap();
    let out = analytics_at(&bed, "2026-11-18T12:00:00Z");
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stdout
            .contains("checksum mismatch for analytics-2026-11-15.tar"),
        "{}",
        out.stdout
    );
    assert!(state(&bed).is_none(), "no week was recorded");
    assert!(
        !bed.path("target/analytics-1/var/tmp/setup-restore/analytics/analytics-2026-11-15.tar")
            .exists(),
        "the unpacked folder was removed"
    );
    assert!(
        !bed.path("target/analytics-1/var/lib/analytics").exists(),
        "nothing reached the live data"
    );
    // Once the backup is good again, the next run restores the same weeks.
    let src = repo().join("inventories/demo/backups/analytics-2026-11-15.tar");
    std::fs::copy(src, bed.path("backups/analytics-2026-11-15.tar")).unwrap();
    let again = analytics_at(&bed, "2026-11-18T12:00:00Z");
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(restored(&again.stdout).len(), 15);
}

#[test]
fn current_week_mode_restores_this_weeks_latest() {
    let bed = demo();
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-20T12:00:00Z",
        "--only",
        "analytics",
        "--set",
        "analytics.mode=current-week",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let taken = restored(&out.stdout);
    assert_eq!(taken.len(), 1 + 7 + 7 + 5, "{taken:?}");
    assert_eq!(
        taken.last().unwrap(),
        "analytics-2026-11-20.tar (Friday of current week 2026-W47 (current-week mode))"
    );
    assert!(
        out.stdout
            .contains("analytics-2026-11-21.tar: dated in the future")
    );
    assert_eq!(state(&bed).unwrap()["through"], "2026-11-20");
    // The weekly run after the week ends continues from there.
    let next = analytics_at(&bed, "2026-11-23T00:00:00Z");
    assert_eq!(names(&restored(&next.stdout)), days(21, 22));
}

#[test]
fn check_probes_name_an_unreachable_host_and_a_missing_object_and_touch_nothing() {
    let bed = demo();
    let master = bed.read("master.yml").replace(
        "director-1:  { groups: [director], vars:",
        "director-1:  { groups: [director], connection: ssh, address: 127.0.0.1, port: 9, vars:",
    );
    bed.file("master.yml", &master);
    let args = [
        "standalone",
        "restore",
        "--check",
        "--connect-timeout",
        "3",
        "--set",
        "config_backup=director-config-20991231T000000Z.tar",
    ];
    let out = bed.run(&args);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    for needle in [
        "FAIL object `director-config-20991231T000000Z.tar` is not in",
        "FAIL reach  director-1: cannot reach 127.0.0.1:9",
        "ok   reach  analytics-1: answers",
        "2 problem(s) to fix before this run can go ahead.",
    ] {
        assert!(
            out.stdout.contains(needle),
            "no {needle:?} in {}",
            out.stdout
        );
    }
    let json = bed.run(&[&args[..], &["--plan-format", "json"]].concat());
    assert_eq!(json.code, 1);
    let v: J = serde_json::from_str(&json.stdout).unwrap();
    let failed: Vec<&str> = v["probes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ok"] == false)
        .map(|p| p["check"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["object", "reach"]);
    assert!(
        !bed.path("target").exists(),
        "a check writes nothing on a host"
    );
}

#[test]
fn verify_checks_every_backup_and_names_a_corrupted_one() {
    let bed = demo();
    let out = bed.run(&["standalone", "verify"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("local folder ./backups: 23 backup(s) verified"),
        "{}",
        out.stdout
    );
    // One byte changed in a snapshot: its sidecar no longer matches.
    let path = bed.path("backups/analytics-2026-11-18.tar");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[600] ^= 0x20;
    std::fs::write(&path, bytes).unwrap();
    let out = bed.run(&["standalone", "verify"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("BAD analytics-2026-11-18.tar: checksum mismatch"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("1 of 23 backup(s) are bad: analytics-2026-11-18.tar"),
        "{}",
        out.stdout
    );
    assert!(!bed.path("target").exists(), "verify touches no host");
    // Only the records of the signed backups this site has seen (a key's retirement is judged by
    // the one, a backup that vanishes from storage noticed by the other) stay: no scratch.
    let leftovers: Vec<_> = std::fs::read_dir(bed.path(".setup"))
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        leftovers
            .iter()
            .all(|n| n == "seen-signatures.jsonl" || n == "newest-seen.json"),
        "scratch left: {leftovers:?}"
    );
}

#[test]
fn a_failed_analytics_start_puts_the_previous_data_back_and_records_nothing() {
    let bed = demo();
    let run = |now: &str| analytics_at(&bed, now);
    let first = run("2026-11-18T12:00:00Z");
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let indices = || {
        std::fs::read_dir(bed.path("target/analytics-1/var/lib/analytics/indices"))
            .unwrap()
            .count()
    };
    assert_eq!(indices(), 15);
    // The service manager fails the next start, once.
    common::failing_starts(&bed, true);
    let second = run("2026-11-23T00:00:00Z");
    assert_eq!(second.code, 1, "{}{}", second.stdout, second.stderr);
    assert!(
        second.stdout.contains("port 8443 in use"),
        "{}",
        second.stdout
    );
    assert!(
        second
            .stdout
            .contains("undone: restore_analytics on analytics-1"),
        "{}",
        second.stdout
    );
    assert_eq!(indices(), 15, "the previous data is back");
    assert_eq!(state(&bed).unwrap()["through"], "2026-11-15");
    assert_eq!(bed.read("target/run/analytics.state"), "running\n");
    // The next run restores the week that failed.
    let third = run("2026-11-23T00:00:00Z");
    assert_eq!(third.code, 0, "{}{}", third.stdout, third.stderr);
    assert_eq!(indices(), 22);
}

#[test]
fn a_site_without_an_analytics_node_restores_its_config_only_when_told() {
    let bed = demo();
    let master = bed.read("master.yml").replace(
        "  analytics-1: { groups: [analytics], vars: { dr_root: target/analytics-1, service_manager: \"sh bin/democtl\" } }\n",
        "",
    );
    bed.file("master.yml", &master);
    let out = bed.run(&["standalone", "restore"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let flat = out
        .stderr
        .split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains(
            "restore.yml restores `analytics`, but master.yml has no host in group `analytics`"
        ),
        "{}",
        out.stderr
    );
    assert!(!bed.path("target").exists());
    bed.file(
        "restore.yml",
        &bed.read("restore.yml")
            .replace("components: [config, analytics]", "components: [config]"),
    );
    let out = bed.run(&["standalone", "restore"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        bed.read("target/director-1/etc/director/director.conf")
            .contains("dc-main")
    );
}

#[test]
fn cumulative_snapshots_restore_the_latest_of_each_week() {
    let bed = demo();
    let out = bed.run(&[
        "standalone",
        "restore",
        "--only",
        "analytics",
        "--set",
        "analytics.snapshots=cumulative",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        names(&restored(&out.stdout)),
        [
            "analytics-2026-10-25.tar",
            "analytics-2026-11-08.tar",
            "analytics-2026-11-15.tar",
            "analytics-2026-11-22.tar"
        ]
    );
    assert!(
        out.stdout
            .contains("superseded by `analytics-2026-11-22.tar`")
    );
    let bad = bed.run(&[
        "standalone",
        "restore",
        "--set",
        "analytics.snapshots=weekly",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("incremental, cumulative"),
        "{}",
        bad.stderr
    );
}

#[test]
fn list_shows_backups_with_age_and_checksum() {
    let bed = demo();
    let out = bed.run(&["standalone", "list", "--json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: J = serde_json::from_str(&out.stdout).unwrap();
    let backups = v["backups"].as_array().unwrap();
    assert_eq!(backups.len(), 23);
    assert!(backups.iter().all(|b| b["checksum"] == true));
    let text = bed.run(&["standalone", "list"]);
    assert!(text.stdout.contains("RPO (age of the newest backup)"));
}

/// The launcher runs the binary of the profile it keeps to: `quick` until a release binary exists,
/// then `release`; SETUP_BUILD chooses, and a value it does not know is exit 2. The binaries here are
/// stand-ins that say which one ran, newer than every source, so nothing is built.
#[test]
fn the_launcher_runs_quick_first_then_keeps_to_release() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::copy(repo().join("setup"), root.join("setup")).unwrap();
    for d in ["src", "playbooks", "templates"] {
        std::fs::create_dir(root.join(d)).unwrap();
    }
    std::fs::write(root.join("Cargo.toml"), "").unwrap();
    std::fs::write(root.join("Cargo.lock"), "").unwrap();
    let target = root.join("target");
    let stand_in = |profile: &str| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let bin = target.join(profile).join("setup");
        std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
        std::fs::write(&bin, format!("#!/bin/sh\necho {profile} \"$@\"\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    let launch = |build: Option<&str>| {
        let mut c = std::process::Command::new(root.join("setup"));
        c.arg("--version").env("CARGO_TARGET_DIR", &target);
        match build {
            Some(b) => c.env("SETUP_BUILD", b),
            None => c.env_remove("SETUP_BUILD"),
        };
        let out = c.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    stand_in("quick");
    assert_eq!(launch(None).1, "quick --version");
    stand_in("release");
    assert_eq!(launch(None).1, "release --version");
    assert_eq!(launch(Some("quick")).1, "quick --version");
    let (code, _, err) = launch(Some("fast"));
    assert_eq!(code, Some(2));
    assert!(
        err.contains("SETUP_BUILD") && err.contains("quick or release"),
        "{err}"
    );
}

/// The DC demo in `demo-dc/`, as shipped: its answers.yml holds comments only, and is readable by all.
fn dc_demo() -> Bed {
    let bed = Bed::new();
    let dc = repo().join("inventories/demo-dc");
    std::fs::create_dir_all(bed.path("demo-dc")).unwrap();
    for f in [
        "master.yml",
        "backup.yml",
        "answers.yml",
        "demo-identity.txt",
        "demo-signing-key",
    ] {
        std::fs::copy(dc.join(f), bed.path(&format!("demo-dc/{f}"))).unwrap();
    }
    common::copy_dir(&dc.join("site"), &bed.path("demo-dc/site"));
    std::fs::set_permissions(
        bed.path("demo-dc/answers.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    bed
}

#[test]
fn an_answers_file_is_called_world_readable_only_when_it_holds_a_secret_and_only_once() {
    let bed = dc_demo();
    let args = [
        "-C",
        "demo-dc",
        "standalone",
        "backup",
        "--now",
        "2026-11-30T02:00:00Z",
    ];
    let out = bed.run(&args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        !out.stderr.contains("world-readable"),
        "comments name secrets, and hold none: {}",
        out.stderr
    );
    // A secret answer in it: said, once.
    let answers = bed.read("demo-dc/answers.yml") + "notify.webhook.secret: Not-For-Everyone-7\n";
    bed.file("demo-dc/answers.yml", &answers);
    std::fs::set_permissions(
        bed.path("demo-dc/answers.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();
    let mut again = args.to_vec();
    again.push("--force");
    let out = bed.run(&again);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.stderr
            .matches("holds secrets and is world-readable")
            .count(),
        1,
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("Not-For-Everyone-7"));
}

/// Runs the binary in a real pseudo-terminal (tests/support/pty-drive), answering as `script` says.
fn at_a_terminal(bed: &Bed, script: &J, args: &[&str]) -> (i32, String) {
    let script_path = bed.path("script.json");
    std::fs::write(&script_path, script.to_string()).unwrap();
    let out = std::process::Command::new(repo().join("tests/support/pty-drive"))
        .arg(&script_path)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_setup"))
        .args(args)
        .current_dir(bed.dir.path())
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("SETUP_LOCK_DIR", bed.path(".machine-lock"))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn the_question_before_a_run_lists_only_the_steps_that_will_run_and_no_exits_1_as_help_says() {
    let bed = demo();
    let before = common::tree_digest(&bed.path("target"));
    let script = serde_json::json!([["Go on?", "n"]]);
    let args = ["standalone", "restore", "--now", "2026-11-23T03:00:00Z"];
    let (code, screen) = at_a_terminal(&bed, &script, &args);
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("Stop the director"), "{screen}");
    assert!(
        !screen.contains("maintenance"),
        "no maintenance_on is configured: {screen}"
    );
    assert_eq!(common::tree_digest(&bed.path("target")), before);
    let help = bed.run(&["--help"]).stdout;
    assert!(
        help.contains("1 a step failed or `Go on?` was declined"),
        "{help}"
    );
    assert!(!help.contains("confirmation declined"), "{help}");
    // The director's maintenance command: listed for the director alone.
    bed.file(
        "master.yml",
        &bed.read("master.yml").replace(
            "dr_root: target/director-1,",
            "dr_root: target/director-1, maintenance_on: 'true', maintenance_off: 'true',",
        ),
    );
    let (code, screen) = at_a_terminal(&bed, &script, &args);
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("(maintenance_on) on director-1"),
        "{screen}"
    );
    assert!(!screen.contains("maintenance_on_analytics"), "{screen}");
}
