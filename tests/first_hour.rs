//! The operator paths of a DR engineer's first hour, through the binary: re-runs that change
//! nothing, a failover that restores what the DC wrote or refuses, ages and RPOs on the run's
//! clock, a mistyped `--set` key.

mod common;

use common::{Bed, demo, repo};
use serde_json::Value as J;

const NOW: &str = "2026-11-23T03:00:00Z";

fn pre_restore_copies(bed: &Bed) -> usize {
    std::fs::read_dir(bed.path("target/director-1/etc"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("director.pre-restore-")
        })
        .count()
}

#[test]
fn the_same_restore_again_is_already_restored_and_stops_nothing_unless_forced() {
    let bed = demo();
    let first = bed.run(&["standalone", "restore", "--now", NOW]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let marker = bed.read("target/director-1/etc/director/RESTORED-BY-SETUP");
    assert!(marker.contains("Digest: sha256 "), "{marker}");
    let copies = pre_restore_copies(&bed);
    let again = bed.run(&["standalone", "restore", "--now", NOW]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("already restored: director-config-20261120T020000Z.tar"),
        "{}",
        again.stdout
    );
    // The director is not stopped; it is found running, and checked.
    let journal = common::journal(bed.dir.path());
    let status = |step: &str| {
        journal
            .iter()
            .find(|e| e["event"] == "task_finished" && e["step"] == step)
            .map(|e| format!("{} {}", e["status"], e["message"]))
            .unwrap_or_default()
    };
    assert!(status("stop_services").starts_with("\"skipped\""));
    assert_eq!(
        status("start_services"),
        "\"ok\" \"director was already running\""
    );
    assert!(status("health_check").starts_with("\"ok\""));
    assert_eq!(pre_restore_copies(&bed), copies, "no new pre-restore copy");
    // --force restores it again.
    let forced = bed.run(&["standalone", "restore", "--now", NOW, "--force"]);
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
    assert_eq!(bed.read("target/run/director.state"), "running\n");
    assert_eq!(pre_restore_copies(&bed), copies + 1);
}

#[test]
fn the_rpo_is_measured_on_the_runs_clock() {
    let bed = demo();
    let out = bed.run(&["standalone", "restore", "--now", NOW, "--report", "r.json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let report: J = serde_json::from_str(&bed.read("r.json")).unwrap();
    // The backup of 2026-11-20T02:00:00Z, 73 hours before the run's clock.
    assert_eq!(
        report["rpo"]["config"]["age_seconds"],
        73 * 3600,
        "{report}"
    );
}

#[test]
fn list_takes_an_age_from_the_manifest_or_the_name_never_from_when_it_was_copied() {
    let bed = Bed::new();
    bed.file("backups/analytics-2026-11-20.tar", "x")
        .file("backups/director-config-20261120T020000Z.tar", "x");
    let out = bed.run(&[
        "standalone",
        "list",
        "--json",
        "--now",
        "2026-11-23T00:00:00Z",
        "--set",
        "storage.type=local",
        "--set",
        "storage.local.path=backups",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let listed: J = serde_json::from_str(&out.stdout).unwrap();
    let age = |name: &str| {
        listed["backups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|b| b["name"] == name)
            .unwrap()["age_seconds"]
            .clone()
    };
    // A day's data is as recent as the day's end.
    assert_eq!(age("analytics-2026-11-20.tar"), 2 * 86400);
    assert_eq!(
        age("director-config-20261120T020000Z.tar"),
        2 * 86400 + 22 * 3600
    );
}

#[test]
fn a_set_key_close_to_an_answer_key_is_a_typo_not_a_variable() {
    let bed = demo();
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        NOW,
        "--set",
        "db_pasword=Never-Shown-Typo-Secret",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("did you mean `db_password`"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("Never-Shown-Typo-Secret"),
        "{}",
        out.stderr
    );
    assert!(!bed.path("target").exists(), "nothing ran");
}

#[test]
fn a_failover_between_two_storages_is_refused_before_anything_is_done() {
    let bed = Bed::new();
    let copy = |from: &str, to: &str, files: &[&str]| {
        std::fs::create_dir_all(bed.path(to)).unwrap();
        for f in files {
            std::fs::copy(repo().join(from).join(f), bed.path(&format!("{to}/{f}"))).unwrap();
        }
    };
    copy(
        "inventories/demo-dc",
        "demo-dc",
        &[
            "master.yml",
            "backup.yml",
            "answers.yml",
            "demo-identity.txt",
            "demo-signing-key",
        ],
    );
    common::copy_dir(
        &repo().join("inventories/demo-dc/site"),
        &bed.path("demo-dc/site"),
    );
    copy(
        "inventories/demo",
        "dr",
        &[
            "master.yml",
            "restore.yml",
            "answers.yml",
            "allowed_signers",
        ],
    );
    // The DR site reads its own sample folder; the DC writes to its store/.
    let out = bed.run(&[
        "-C",
        "dr",
        "standalone",
        "failover",
        "--dc",
        "demo-dc",
        "--now",
        NOW,
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("the DC writes its backups to local folder"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("demo-dc/store"), "{}", out.stderr);
    assert!(out.stderr.contains("dr/backups"), "{}", out.stderr);
    assert!(!bed.path("demo-dc/store").exists(), "nothing was backed up");
    assert!(!bed.path("dr/target").exists(), "nothing was restored");
}

#[test]
fn a_restore_killed_while_it_applies_the_analytics_days_resumes_at_the_first_try() {
    let bed = demo();
    // A `cp` that stops at one day in the middle of the week's days, so that the controller can
    // be killed there: some days merged, that one half way, the rest not yet.
    let shim = bed.path("shim");
    std::fs::create_dir_all(&shim).unwrap();
    bed.file(
        "shim/cp",
        "#!/bin/sh\ncase \"$*\" in *analytics-2026-11-05*) touch \"$KILL_POINT\"; sleep 60 ;; esac\nexec /bin/cp \"$@\"\n",
    );
    std::process::Command::new("chmod")
        .args(["+x"])
        .arg(bed.path("shim/cp"))
        .status()
        .unwrap();
    let path = format!("{}:{}", shim.display(), std::env::var("PATH").unwrap());
    let mut child = bed
        .command(&["standalone", "restore", "--now", NOW])
        .env("PATH", path)
        .env("KILL_POINT", bed.path("kill-point"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !bed.path("kill-point").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "never reached the day"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let out = bed.run(&["standalone", "restore", "--now", NOW, "--resume"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Every day of the weeks restored is in the live data.
    let data = bed.path("target/analytics-1/var/lib/analytics/indices");
    for day in ["2026-11-03", "2026-11-05", "2026-11-16", "2026-11-22"] {
        assert!(
            data.join(format!("{day}.json")).exists(),
            "{day} missing: {}",
            out.stdout
        );
    }
}

#[test]
fn check_compares_sidecar_manifest_and_object_and_probes_the_service_manager() {
    let bed = demo();
    let check = |bed: &Bed| bed.run(&["standalone", "restore", "--check", "--now", NOW]);
    let out = check(&bed);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("director-config-20261120T020000Z.tar`: 3072 bytes, sha256 matches"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("`sh bin/democtl status director`: not running now"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("next: the first stored snapshot is 2026-10-25"),
        "{}",
        out.stdout
    );
    // A sidecar that does not match the signed manifest: --check fails and says which.
    let sidecar = "backups/director-config-20261120T020000Z.tar.sha256";
    let good = bed.read(sidecar);
    bed.file(
        sidecar,
        &format!("{}  director-config-20261120T020000Z.tar\n", "0".repeat(64)),
    );
    let out = check(&bed);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("one of them was changed"),
        "{}",
        out.stdout
    );
    // An object changed in place, its size kept: its own digest gives it away.
    bed.file(sidecar, &good);
    let object = bed.path("backups/director-config-20261120T020000Z.tar");
    let mut bytes = std::fs::read(&object).unwrap();
    bytes[600] ^= 1;
    std::fs::write(&object, bytes).unwrap();
    let out = check(&bed);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("it was changed or cut"),
        "{}",
        out.stdout
    );
    assert!(!bed.path("target").exists(), "--check changed nothing");
}

#[test]
fn a_run_killed_while_it_rolls_back_is_named_by_status_and_its_resume_finishes_the_undo() {
    let bed = demo();
    // The director never comes up (the run rolls back), and stopping it again takes a while.
    let ctl = bed
        .read("bin/democtl")
        .replace(
            "  status) [ \"$(cat \"$dir/$name.state\" 2>/dev/null)\" = running ] && echo \"$name is running\" ;;",
            "  status) exit 3 ;;",
        )
        .replace(
            "  stop) mkdir -p \"$dir\";",
            "  stop) if [ -f target/run/started-once ]; then touch target/in-stop; sleep 60; fi; mkdir -p \"$dir\";",
        )
        .replace(
            "  start|restart|reload) mkdir -p \"$dir\";",
            "  start|restart|reload) mkdir -p \"$dir\"; touch target/run/started-once;",
        );
    bed.file("bin/democtl", &ctl);
    let mut child = bed
        .command(&["standalone", "restore", "--now", NOW, "--only", "config"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    while !bed.path("target/in-stop").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the rollback never stopped the director"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Killed outright while it rolls back: the restored configuration is still live.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        bed.path("target/director-1/etc/director/RESTORED-BY-SETUP")
            .exists()
    );
    let status = bed.run(&["standalone", "status"]);
    assert!(
        status
            .stdout
            .contains("never finished (killed while it rolled back)"),
        "{}",
        status.stdout
    );
    assert!(
        status.stdout.contains("restore_config on director-1"),
        "{}",
        status.stdout
    );
    // --resume finishes the undo, and restores nothing.
    std::fs::remove_file(bed.path("target/run/started-once")).unwrap();
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        NOW,
        "--only",
        "config",
        "--resume",
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("finished the rollback"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("undone   restore_config"),
        "{}",
        out.stdout
    );
    assert!(
        !bed.path("target/director-1/etc/director").exists(),
        "the restored configuration was taken back out"
    );
    let journal = common::journal(bed.dir.path());
    assert_eq!(journal.last().unwrap()["status"], "rolled back");
}

#[test]
fn the_analytics_host_variable_data_dir_is_where_the_days_are_restored() {
    let bed = demo();
    let master = bed.read("master.yml").replace(
        "analytics-1: { groups: [analytics], vars: {",
        "analytics-1: { groups: [analytics], vars: { data_dir: /srv/data,",
    );
    assert!(master.contains("/srv/data"), "{master}");
    bed.file("master.yml", &master);
    let out = bed.run(&["standalone", "restore", "--now", NOW]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        bed.path("target/analytics-1/srv/data/indices/2026-11-22.json")
            .exists()
    );
    assert!(!bed.path("target/analytics-1/var/lib/analytics").exists());
}

/// The demo with maintenance commands that log, on both hosts.
fn with_maintenance(bed: &Bed) {
    let master = bed
        .read("master.yml")
        .replace(
            "director-1:  { groups: [director], vars: {",
            "director-1:  { groups: [director], vars: { maintenance_on: 'echo director on >> maint.log', maintenance_off: 'echo director off >> maint.log',",
        )
        .replace(
            "analytics-1: { groups: [analytics], vars: {",
            "analytics-1: { groups: [analytics], vars: { maintenance_on: 'echo analytics on >> maint.log', maintenance_off: 'echo analytics off >> maint.log',",
        );
    assert!(master.contains("analytics on"), "{master}");
    bed.file("master.yml", &master);
}

#[test]
fn maintenance_goes_on_right_before_destroying_and_off_after_the_checks_or_in_the_rollback() {
    let bed = demo();
    with_maintenance(&bed);
    let out = bed.run(&["standalone", "restore", "--now", NOW]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let log = bed.read("maint.log");
    for who in ["director", "analytics"] {
        let on = log.find(&format!("{who} on")).expect("on");
        let off = log.find(&format!("{who} off")).expect("off");
        assert!(on < off, "{log}");
    }
    // In the journal: on right before the first destructive step, off after the health checks.
    let j = common::journal(bed.dir.path());
    let at = |event: &str, step: &str| {
        j.iter()
            .position(|e| e["event"] == event && e["step"] == step)
            .unwrap_or_else(|| panic!("{event} {step}"))
    };
    assert!(at("task_finished", "maintenance_on") < at("task_started", "stop_services"));
    assert!(at("task_finished", "check_director") < at("task_started", "maintenance_off"));
    assert!(
        at("task_finished", "check_analytics") < at("task_started", "maintenance_off_analytics")
    );
    // A failure after it went on: the rollback takes it off.
    std::fs::remove_file(bed.path("maint.log")).unwrap();
    common::failing_starts(&bed, false);
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        NOW,
        "--force",
        "--only",
        "config",
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        bed.read("maint.log"),
        "director on\ndirector off\n",
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("maintenance turned off again"),
        "{}",
        out.stdout
    );
}
