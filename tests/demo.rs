//! The shipped demo and the weekly gate, end to end through the binary, on a copy of inventories/demo.

mod common;

use common::{Bed, demo, repo};
use serde_json::Value as J;

fn state(bed: &Bed) -> Option<J> {
    let text = bed.read("target/analytics-1/var/lib/setup/analytics-state.json");
    (!text.is_empty()).then(|| serde_json::from_str(&text).unwrap())
}

fn restored_weeks(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| l.trim().strip_prefix("restore "))
        .map(str::to_string)
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
    assert!(
        bed.path("target/analytics-1/var/lib/analytics/indices/2026-11-22.json")
            .exists()
    );
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
    assert!(report["gate"]["selected"].as_array().unwrap().len() >= 4);
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
    assert_eq!(v["gate"]["selected"].as_array().unwrap().len(), 4);
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
    let first = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-18T12:00:00Z",
        "--only",
        "analytics",
    ]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(
        restored_weeks(&first.stdout),
        vec![
            "analytics-2026-10-25.tar (2026-W43)",
            "analytics-2026-11-08.tar (2026-W45)",
            "analytics-2026-11-15.tar (2026-W46)"
        ]
    );
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
    let second = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-23T00:00:00Z",
        "--only",
        "analytics",
    ]);
    assert_eq!(second.code, 0);
    assert_eq!(
        restored_weeks(&second.stdout),
        vec!["analytics-2026-11-22.tar (2026-W47)"]
    );
    assert_eq!(state(&bed).unwrap()["through"], "2026-11-22");
    // Again: nothing new, no week twice.
    let third = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-23T00:00:00Z",
        "--only",
        "analytics",
    ]);
    assert_eq!(third.code, 0);
    assert!(restored_weeks(&third.stdout).is_empty());
    assert!(third.stdout.contains("nothing to restore"));
    let history = state(&bed).unwrap()["history"].as_array().unwrap().len();
    assert_eq!(history, 4, "each week recorded once");
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
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-18T12:00:00Z",
        "--only",
        "analytics",
    ]);
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
    let again = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-18T12:00:00Z",
        "--only",
        "analytics",
    ]);
    assert_eq!(again.code, 0, "{}", again.stdout);
    assert_eq!(restored_weeks(&again.stdout).len(), 3);
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
    let weeks = restored_weeks(&out.stdout);
    assert_eq!(weeks.last().unwrap(), "analytics-2026-11-20.tar (2026-W47)");
    assert!(
        out.stdout
            .contains("selected: latest of current week 2026-W47 (current-week mode)")
    );
    assert!(
        out.stdout
            .contains("analytics-2026-11-21.tar: dated in the future")
    );
    assert_eq!(state(&bed).unwrap()["through"], "2026-11-20");
    // The weekly run after the week ends continues from there.
    let next = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-23T00:00:00Z",
        "--only",
        "analytics",
    ]);
    assert_eq!(
        restored_weeks(&next.stdout),
        vec!["analytics-2026-11-22.tar (2026-W47)"]
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
