//! The operator paths of a DR engineer's first hour, through the binary: re-runs that change
//! nothing, a failover that restores what the DC wrote or refuses, ages and RPOs on the run's
//! clock, a mistyped `--set` key, a `--set` that nothing reads, every missing answer listed at once,
//! `validate` in a DC's folder, and a reader of the output that goes away.

use crate::common;

use common::{Bed, dc_demo, demo, repo};
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

#[test]
fn a_set_that_nothing_reads_is_refused_and_components_names_the_flag_that_does_it() {
    let bed = demo();
    let untouched = common::tree_digest(&bed.path("target"));
    // `components` is restore.yml's: refused, with the flag that restores one component.
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        NOW,
        "--set",
        "components=analytics",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("unknown answer key `components`"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--only analytics"), "{}", out.stderr);
    assert_eq!(
        common::tree_digest(&bed.path("target")),
        untouched,
        "nothing was touched"
    );
    assert!(!bed.path(".setup/runs").exists(), "nothing ran");
    // A key close to it: the same, with "did you mean".
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        NOW,
        "--set",
        "compnents=x",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("did you mean `components`?"),
        "{}",
        out.stderr
    );
    // Neither an answer nor a variable the playbook reads.
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        NOW,
        "--set",
        "analytcs_dir=x",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("neither an answer nor a variable this run reads"),
        "{}",
        out.stderr
    );
    // A command that runs no playbook reads no variable at all.
    let out = bed.run(&["standalone", "list", "--set", "day=2026-11-20"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(!bed.path(".setup/runs").exists(), "nothing ran");
    // A variable the playbook reads is still taken: `--check` plans with it.
    let out = bed.run(&[
        "standalone",
        "restore",
        "--check",
        "--now",
        NOW,
        "--set",
        "staging=/elsewhere/staging",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("/elsewhere/staging"), "{}", out.stdout);
}

/// A DR folder whose restore.yml lists two storage targets, an S3 one and an SFTP one, with no
/// secret anywhere (no server needed: nothing is reached before the answers are complete).
fn two_targets_no_secrets() -> Bed {
    let bed = demo();
    bed.file("answers.yml", "");
    bed.file(
        "restore.yml",
        "config_backup: director-config-20261120T020000Z.tar.zst.age\ncomponents: [config, analytics]\nstorage:\n  - { name: s3main, type: s3, endpoint: \"http://127.0.0.1:9\", bucket: backups, access_key: dr, path_style: \"true\" }\n  - { name: vault, type: sftp, host: 127.0.0.1, port: \"2299\", user: dr, path: /backups }\n",
    );
    bed
}

#[test]
fn without_a_terminal_every_missing_answer_is_listed_at_once_in_one_format_with_their_count() {
    let bed = two_targets_no_secrets();
    let out = bed.run(&["standalone", "restore", "--check", "--now", NOW]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    // One diagnostic, one line per missing answer, each in the same form.
    assert_eq!(out.stderr.matches("setup::").count(), 1, "{}", out.stderr);
    let text: String = out
        .stderr
        .lines()
        .map(|l| l.trim_start_matches([' ', '|', 'x']).trim_end())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        text.contains("4 answer(s) missing, and there is no terminal to ask:"),
        "{}",
        out.stderr
    );
    for key in [
        "storage.s3main.secret_key",
        "storage.vault.password",
        "storage.vault.key_file",
        "trusted_signers",
        "age_identity",
    ] {
        let env = format!("SETUP_{}", key.to_uppercase().replace('.', "_"));
        let form = format!("--set {key}=…, env {env}, answers.yml `{key}: …`");
        assert!(text.contains(&form), "{form}: {}", out.stderr);
    }
    assert!(!text.contains("is not set"), "{}", out.stderr);
    assert!(
        !text.contains("storage.s3.") && !text.contains("storage.sftp."),
        "{}",
        out.stderr
    );
    assert!(!bed.path(".setup/runs").exists(), "nothing ran");
}

#[test]
fn validate_in_a_dcs_folder_checks_its_backup_and_asks_for_nothing_a_restore_needs() {
    let bed = dc_demo();
    let out = bed.run(&["-C", "demo-dc", "validate"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("valid: 2 hosts"), "{}", out.stdout);
    for asked in ["trusted_signers", "storage.type", "missing"] {
        assert!(!out.stderr.contains(asked), "{asked}: {}", out.stderr);
    }
    // A target's secret in the DC's answers is one of its answers.
    bed.file("demo-dc/answers.yml", "storage.offsite.path: offsite\n");
    let out = bed.run(&["-C", "demo-dc", "validate"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// Runs setup with its standard output a pipe whose reader is already gone (`| head` that
/// stopped reading); the exit code and the standard error.
fn with_output_closed(bed: &Bed, args: &[&str]) -> (i32, String) {
    let mut cmd = bed.command(args);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config_backups(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("director-config-") && n.ends_with(".age"))
        .collect();
    names.sort();
    names
}

#[test]
fn a_backup_whose_output_is_closed_carries_on_to_its_end() {
    let bed = common::dc_demo_one_store();
    let (code, stderr) = with_output_closed(
        &bed,
        &[
            "-C",
            "demo-dc",
            "standalone",
            "backup",
            "--now",
            "2026-11-28T02:00:00Z",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(
        stderr.matches("standard output cannot be written").count(),
        1,
        "said once: {stderr}"
    );
    // Every step ran: the backup is stored, and the run recorded its end.
    assert_eq!(
        config_backups(&bed.path("demo-dc/store")),
        ["director-config-20261128T020000Z.tar.zst.age"]
    );
    let journal = common::journal(&bed.path("demo-dc"));
    assert!(journal.iter().any(|e| e["status"] == "done"), "{journal:?}");
}

#[test]
fn a_prune_whose_output_is_closed_still_deletes_what_the_retention_no_longer_keeps() {
    let bed = common::dc_demo_one_store();
    for day in ["28", "29"] {
        let now = format!("2026-11-{day}T02:00:00Z");
        let out = bed.run(&["-C", "demo-dc", "standalone", "backup", "--now", &now]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    }
    let store = bed.path("demo-dc/store");
    assert_eq!(config_backups(&store).len(), 2);
    let spec = bed.read("demo-dc/backup.yml").replace(
        "retention: { daily: 7, weekly: 4, monthly: 6 }",
        "retention: { daily: 1 }",
    );
    bed.file("demo-dc/backup.yml", &spec);
    let (code, stderr) = with_output_closed(
        &bed,
        &[
            "-C",
            "demo-dc",
            "standalone",
            "prune",
            "--now",
            "2026-11-29T03:00:00Z",
        ],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        config_backups(&store),
        ["director-config-20261129T020000Z.tar.zst.age"],
        "{stderr}"
    );
}

#[test]
fn a_listing_whose_reader_went_away_ends_quietly_without_a_panic() {
    let bed = demo();
    for args in [
        &["standalone", "drill", "--list"][..],
        &["standalone", "status"],
        &["standalone", "list"],
        &["inventory", "--list"],
        &["standalone", "restore", "--check", "--now", NOW],
    ] {
        let (code, stderr) = with_output_closed(&bed, args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("standard output"), "{args:?}: {stderr}");
    }
}
