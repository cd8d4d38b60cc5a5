//! A restore that can be trusted: no value reaches a shell unquoted, shell steps stop at the first
//! failing line, and host locks are the engine's, with the owner named and dead owners taken over.

use crate::common;

use common::{Bed, demo, journal};

/// Every file under the bed named `needle`.
fn files_named(bed: &Bed, needle: &str) -> Vec<String> {
    fn walk(dir: &std::path::Path, needle: &str, found: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if name == needle {
                found.push(e.path().display().to_string());
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                walk(&e.path(), needle, found);
            }
        }
    }
    let mut found = Vec::new();
    walk(bed.dir.path(), needle, &mut found);
    found
}

#[test]
fn a_storage_name_with_shell_syntax_is_never_run() {
    let bed = demo();
    let evil = "analytics-2026-11-15.tar$(touch INJECTED).tar";
    std::fs::copy(
        bed.path("backups/analytics-2026-11-15.tar"),
        bed.path(&format!("backups/{evil}")),
    )
    .unwrap();
    std::fs::copy(
        bed.path("backups/analytics-2026-11-15.tar.sha256"),
        bed.path(&format!("backups/{evil}.sha256")),
    )
    .unwrap();
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-18T12:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        files_named(&bed, "INJECTED").is_empty(),
        "nothing ran: {:?}",
        files_named(&bed, "INJECTED")
    );
    let gate = journal(bed.dir.path())
        .into_iter()
        .find(|e| e["event"] == "gate")
        .unwrap();
    let reason = gate["decision"]["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == evil)
        .unwrap()["reason"]
        .clone();
    assert!(
        reason.as_str().unwrap().starts_with("unsafe name"),
        "{reason}"
    );
}

#[test]
fn host_variables_reach_the_shell_as_one_word() {
    let bed = Bed::new();
    bed.file(
        "master.yml",
        "defaults: { connection: local }\nhosts:\n  h1: { vars: { dr_root: 'my root/a$(touch INJECTED)b' } }\n",
    )
    .file(
        "pb.yml",
        "steps:\n  - id: make\n    hosts: all\n    shell: |\n      mkdir -p {{ dr_root }}/etc\n      echo {{ dr_root }} > {{ dr_root }}/etc/seen\n",
    );
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(files_named(&bed, "INJECTED").is_empty());
    assert_eq!(
        bed.read("my root/a$(touch INJECTED)b/etc/seen"),
        // A local host's dr_root is taken from the folder of the documents.
        format!(
            "{}/my root/a$(touch INJECTED)b\n",
            std::fs::canonicalize(bed.dir.path()).unwrap().display()
        )
    );
    assert!(!bed.path("my").exists(), "a space does not split the path");
}

#[test]
fn set_values_reach_the_shell_as_one_word() {
    let bed = Bed::new();
    bed.file("master.yml", "defaults: { connection: local }\nhosts:\n  h1: {}\n")
        .file(
            "pb.yml",
            "steps:\n  - id: say\n    hosts: all\n    shell: echo {{ restore.config_backup }} {{ storage.path }} > seen\n",
        );
    let out = bed.run(&[
        "run",
        "pb.yml",
        "--set",
        "config_backup=cfg$(touch INJECTED) `touch INJECTED2`.tar",
        "--set",
        "storage.type=local",
        "--set",
        "storage.local.path=st; touch INJECTED3",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        bed.read("seen"),
        "cfg$(touch INJECTED) `touch INJECTED2`.tar st; touch INJECTED3\n"
    );
    for name in ["INJECTED", "INJECTED2", "INJECTED3"] {
        assert!(files_named(&bed, name).is_empty(), "{name} was run");
    }
}

#[test]
fn a_shell_step_stops_at_its_first_failing_line() {
    let bed = Bed::new();
    bed.file("master.yml", "defaults: { connection: local }\nhosts:\n  h1: {}\n")
        .file(
            "pb.yml",
            "steps:\n  - id: two_lines\n    hosts: all\n    shell: |\n      false\n      touch after-a-failure\n  - id: unset\n    hosts: all\n    shell: echo $NO_SUCH_VARIABLE > unset.txt\n",
        );
    let out = bed.run(&["run", "pb.yml", "--keep-going"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(!bed.path("after-a-failure").exists());
    let j = journal(bed.dir.path());
    let mut failed: Vec<&str> = j
        .iter()
        .filter(|e| e["event"] == "task_finished" && e["status"] == "failed")
        .map(|e| e["step"].as_str().unwrap())
        .collect();
    failed.sort();
    assert_eq!(failed, ["two_lines", "unset"], "{}", out.stdout);
}

fn owner(controller: &str, pid: u32) -> String {
    format!(
        r#"{{"run":"20261101T000000Z-1","controller":"{controller}","pid":{pid},"pid_start":1,"operation":"restore","started":"2026-11-01T00:00:00Z"}}"#
    )
}

fn hold_lock(bed: &Bed, host: &str, owner: &str) {
    let dir = bed.path(&format!("target/{host}/var/lock/setup.lock"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("owner.json"), format!("{owner}\n")).unwrap();
}

#[test]
fn a_held_lock_refuses_with_exit_3_and_names_its_owner_whatever_the_filters() {
    let bed = demo();
    hold_lock(&bed, "director-1", &owner("dr-controller-2", 4242));
    for extra in [&[][..], &["--only", "config"], &["--skip", "preflight"]] {
        let mut args = vec!["standalone", "restore"];
        args.extend_from_slice(extra);
        let out = bed.run(&args);
        assert_eq!(out.code, 3, "{extra:?}: {}{}", out.stdout, out.stderr);
        let err = out.stderr.replace("\n  | ", " ");
        assert!(
            err.contains("host `director-1` is locked by run 20261101T000000Z-1 (restore) from dr-controller-2 pid 4242"),
            "{err}"
        );
        assert!(err.contains("--break-lock"), "{err}");
        assert!(!bed.path("target/director-1/etc").exists(), "nothing ran");
        assert!(
            !bed.path("target/analytics-1/var/lock/setup.lock").exists(),
            "the lock taken on the other host was given back"
        );
    }
    let out = bed.run(&["standalone", "restore", "--only", "config", "--break-lock"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = journal(bed.dir.path());
    let broken = j
        .iter()
        .find(|e| e["event"] == "lock" && e["host"] == "director-1")
        .unwrap();
    assert_eq!(broken["action"], "broken by --break-lock");
    assert_eq!(broken["previous"]["controller"], "dr-controller-2");
    assert!(!bed.path("target/director-1/var/lock/setup.lock").exists());
}

#[test]
fn a_run_killed_outright_leaves_a_lock_the_next_run_takes_over() {
    let bed = Bed::new();
    bed.file(
        "master.yml",
        "defaults: { connection: local }\nhosts:\n  h1: {}\n",
    )
    .file(
        "pb.yml",
        "steps:\n  - { id: started, hosts: all, shell: 'touch started; sleep 30' }\n",
    );
    let mut child = bed.command(&["run", "pb.yml"]).spawn().unwrap();
    wait_for_file(&bed, "started");
    // SIGKILL: no handler runs, the lock stays behind.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(bed.path(".machine-lock/setup.lock/owner.json").exists());
    bed.file(
        "pb.yml",
        "steps:\n  - { id: again, hosts: all, shell: 'true' }\n",
    );
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("taken over from a run that is gone"),
        "{}",
        out.stdout
    );
    let j = journal(bed.dir.path());
    let lock = j.iter().find(|e| e["event"] == "lock").unwrap();
    assert_eq!(lock["action"], "taken over from a run that is gone");
    assert!(!bed.path(".machine-lock/setup.lock").exists());
}

/// Writes `backups/NAME` from a folder built by `make` (a shell script run in it), with a sidecar
/// that matches whatever ends up in the file after `after` (a shell script run in backups/).
fn backup(bed: &Bed, name: &str, make: &str, after: &str) {
    let work = bed.path(&format!("work-{name}"));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let script = format!(
        "set -e; cd '{w}'; {make}; tar -cf '../backups/{name}' $(ls -A); cd ../backups; {after}; sha256sum '{name}' > '{name}.sha256'",
        w = work.display()
    );
    let ok = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(ok.success(), "{script}");
    // Signed as a compromised DC would sign it: the archive checker is what must stop it.
    common::sign_backup(&bed.path("backups"), name, "2026-11-20T00:30:00Z");
}

fn analytics_only(bed: &Bed) -> common::Out {
    bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-18T12:00:00Z",
        "--only",
        "analytics",
    ])
}

#[test]
fn a_link_out_of_the_data_folder_is_refused_in_any_week() {
    let bed = demo();
    // Week 45's snapshot holds `hook -> <outside>`; week 46's holds `hook/file`.
    let outside = bed.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    backup(
        &bed,
        "analytics-2026-11-08.tar",
        &format!("ln -s '{}' hook", outside.display()),
        "true",
    );
    backup(
        &bed,
        "analytics-2026-11-15.tar",
        "mkdir hook && echo planted > hook/file",
        "true",
    );
    let out = analytics_only(&bed);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("symbolic link `hook` points to the absolute path"),
        "{}",
        out.stdout
    );
    assert!(
        !outside.join("file").exists(),
        "nothing was written outside"
    );
    assert!(
        !bed.path("target/analytics-1/var/lib/analytics").exists(),
        "nothing reached the live data"
    );
    // A relative link that climbs out is refused the same way.
    backup(
        &bed,
        "analytics-2026-11-08.tar",
        "ln -s ../../../outside hook",
        "true",
    );
    let out = analytics_only(&bed);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("links may only point down"),
        "{}",
        out.stdout
    );
    // And a link already in the live data, left by anything else, stops a merge into it.
    backup(&bed, "analytics-2026-11-08.tar", "echo fine > data", "true");
    let live = bed.path("target/analytics-1/var/lib/analytics");
    std::fs::create_dir_all(&live).unwrap();
    std::os::unix::fs::symlink(&outside, live.join("hook")).unwrap();
    let out = analytics_only(&bed);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("point outside it"), "{}", out.stdout);
    assert!(
        !outside.join("file").exists(),
        "nothing was written outside"
    );
}

#[test]
fn a_truncated_archive_whose_checksum_matches_is_refused() {
    let bed = demo();
    backup(
        &bed,
        "analytics-2026-11-15.tar",
        "head -c 300000 /dev/urandom > big && echo b > small",
        "head -c 100000 analytics-2026-11-15.tar > cut && mv cut analytics-2026-11-15.tar",
    );
    let out = analytics_only(&bed);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the archive is truncated"),
        "{}",
        out.stdout
    );
    let state = bed.read("target/analytics-1/var/lib/setup/analytics-state.json");
    assert!(
        state.is_empty(),
        "no week was recorded as restored: {state}"
    );
}

/// The demo with a running director on an old configuration, whose service manager fails to start
/// it: once (`once`), or for as long as `target/fail-start` exists.
fn failing_director(bed: &Bed, once: bool) {
    common::failing_starts(bed, once);
    bed.file(
        "target/director-1/etc/director/director.conf",
        "site = old\n",
    );
    bed.file("target/run/director.state", "running\n");
}

/// Runs the config restore, which is to fail: its output and its report.
fn failed_config_restore(bed: &Bed) -> (common::Out, serde_json::Value) {
    let out = bed.run(&[
        "standalone",
        "restore",
        "--only",
        "config",
        "--report",
        "r.json",
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let report = serde_json::from_str(&bed.read("r.json")).unwrap();
    (out, report)
}

#[test]
fn a_failed_start_puts_the_old_config_and_service_state_back_and_resume_redoes_it() {
    let bed = demo();
    failing_director(&bed, true);
    let (out, report) = failed_config_restore(&bed);
    assert_eq!(
        bed.read("target/director-1/etc/director/director.conf"),
        "site = old\n",
        "the previous configuration is back"
    );
    assert_eq!(
        bed.read("target/run/director.state"),
        "running\n",
        "{}",
        out.stdout
    );
    let undone: Vec<&str> = report["rollback"]["undone"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["step"].as_str().unwrap())
        .collect();
    assert_eq!(undone, ["restore_config", "stop_services"]);
    assert_eq!(report["rollback"]["failed"], false);
    assert!(
        out.stdout.contains("undone: restore_config on director-1"),
        "{}",
        out.stdout
    );
    // The resumed run does the whole restore again: nothing of the rolled-back run counts as done.
    let again = bed.run(&["standalone", "restore", "--only", "config", "--resume"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let skipped = journal(bed.dir.path())
        .iter()
        .filter(|e| {
            e["event"] == "task_finished"
                && e["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("resumed run"))
        })
        .count();
    assert_eq!(skipped, 0, "{}", again.stdout);
    assert!(
        bed.read("target/director-1/etc/director/director.conf")
            .contains("site = dc-main")
    );
}

#[test]
fn a_failing_rollback_is_flagged_and_exits_1() {
    let bed = demo();
    // The director can no longer start once stopped: undoing the stop fails too.
    failing_director(&bed, false);
    let (out, report) = failed_config_restore(&bed);
    assert_eq!(report["rollback"]["failed"], true, "{}", out.stdout);
    assert!(out.stdout.contains("ROLLBACK FAILED"), "{}", out.stdout);
    assert!(out.stderr.contains("ROLLBACK FAILED"), "{}", out.stderr);
    assert_eq!(
        bed.read("target/director-1/etc/director/director.conf"),
        "site = old\n",
        "what could be undone was"
    );
    assert!(
        !bed.path("target/director-1/var/lock/setup.lock").exists(),
        "the lock was released"
    );
}

#[test]
fn a_misspelt_secret_key_never_shows_its_value() {
    let bed = demo();
    bed.file(
        "answers.yml",
        "storage.type: s3\nstorage.s3.bucket: b\nstorage.s3.secret_kye: hunter2-very-secret\n",
    );
    let out = bed.run(&["standalone", "restore", "--check"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("secret_kye"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    assert!(!out.stdout.contains("hunter2"), "{}", out.stdout);
}

#[test]
fn a_config_restore_with_no_config_backup_is_refused_before_anything_runs() {
    let bed = demo();
    bed.file(
        "restore.yml",
        "components: [config, analytics]\nstorage: { type: local, path: backups }\n",
    );
    let out = bed.run(&["standalone", "restore"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("no `config_backup` names its backup"),
        "{}",
        out.stderr
    );
    assert!(!bed.path("target").exists(), "nothing was touched");
    // Given on the command line instead, it is enough.
    let out = bed.run(&[
        "standalone",
        "restore",
        "--check",
        "--set",
        "config_backup=director-config-20261120T020000Z.tar",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

#[test]
fn an_unreadable_gate_state_stops_the_gate() {
    let bed = demo();
    // A folder where the state file should be: it exists, and cannot be read as a file.
    std::fs::create_dir_all(bed.path("target/analytics-1/var/lib/setup/analytics-state.json"))
        .unwrap();
    let out = analytics_only(&bed);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("cannot be read"), "{}", out.stdout);
    assert!(!bed.path("target/analytics-1/var/lib/analytics").exists());
}

#[test]
fn quiet_keeps_the_summary_short_and_a_closed_pipe_is_not_a_crash() {
    let bed = demo();
    let out = bed.run(&[
        "standalone",
        "restore",
        "-q",
        "--now",
        "2026-11-18T12:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stdout.contains("superseded"), "{}", out.stdout);
    let state: serde_json::Value =
        serde_json::from_str(&bed.read("target/analytics-1/var/lib/setup/analytics-state.json"))
            .unwrap();
    // Recorded at the run's clock, not the wall clock.
    assert!(
        state["history"][0]["restored_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-11-18T12:00:00"),
        "{state}"
    );
    let mut child = bed
        .command(&["inventory", "--list"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}

#[test]
fn a_failed_step_names_its_cause_not_the_last_line() {
    let bed = Bed::new();
    bed.file("master.yml", "defaults: { connection: local }\nhosts:\n  h1: {}\n")
        .file(
            "pb.yml",
            "steps:\n  - id: full\n    hosts: all\n    shell: |\n      echo 'tar: ./big: Cannot write: No space left on device' >&2\n      echo 'tar: Exiting with failure status due to previous errors' >&2\n      exit 2\n",
        );
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 1);
    let summary_line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("FAILED full"))
        .unwrap_or_default()
        .to_string();
    assert!(
        summary_line.contains("No space left on device"),
        "{}",
        out.stdout
    );
}

fn wait_for_file(bed: &Bed, name: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !bed.path(name).exists() {
        assert!(std::time::Instant::now() < deadline, "{name} appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

fn term(child: &std::process::Child) {
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn sigterm_rolls_back_and_releases_the_locks_and_a_second_one_kills_every_child() {
    let bed = Bed::new();
    bed.file("master.yml", "defaults: { connection: local }\nhosts:\n  h1: {}\n")
        .file(
            "pb.yml",
            "steps:\n  - { id: change, hosts: all, destructive: true, shell: 'touch started; sleep 2' }\n  - { id: after, hosts: all, needs: [change], shell: 'touch after' }\non_failure:\n  - { id: back, hosts: all, shell: 'touch rolled-back' }\n",
        );
    let child = bed
        .command(&["run", "pb.yml"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&bed, "started");
    term(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    assert!(bed.path("rolled-back").exists(), "the rollback ran");
    assert!(!bed.path("after").exists(), "no new task started");
    assert!(
        !bed.path(".machine-lock/setup.lock").exists(),
        "the lock was released"
    );
    let j = journal(bed.dir.path());
    assert_eq!(j.last().unwrap()["event"], "run_finished");
    // Twice: running tasks are killed with every process they started.
    bed.file(
        "pb.yml",
        "steps:\n  - { id: long, hosts: all, shell: 'sleep 120 & echo $! > grandchild.pid; wait' }\n",
    );
    let child = bed
        .command(&["run", "pb.yml"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&bed, "grandchild.pid");
    std::thread::sleep(std::time::Duration::from_millis(200));
    term(&child);
    std::thread::sleep(std::time::Duration::from_millis(200));
    term(&child);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let pid = bed.read("grandchild.pid").trim().to_string();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let alive =
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "));
    assert!(!alive, "the grandchild {pid} was killed");
    assert!(
        !bed.path(".machine-lock/setup.lock").exists(),
        "the lock was released"
    );
    assert_eq!(
        journal(bed.dir.path()).last().unwrap()["event"],
        "run_finished"
    );
}

#[test]
fn a_restore_that_fails_after_recording_its_days_puts_the_gate_state_back() {
    let bed = demo();
    let state = "target/analytics-1/var/lib/setup/analytics-state.json";
    let first = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-11T12:00:00Z",
        "--only",
        "analytics",
    ]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    let before = std::fs::read(bed.path(state)).unwrap();
    assert!(!before.is_empty());
    // The director fails to start once, and only after the analytics host has recorded the week
    // of 9 to 15 November (or after 30 s): the run then fails with that week recorded.
    let ctl = bed.read("bin/democtl").replace(
        "  start|restart|reload)",
        &format!(
            "  start|restart|reload) if [ \"$name\" = director ] && [ -f target/fail-start ]; then \
             i=0; while ! grep -q 2026-11-15 {state} && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; \
             rm target/fail-start; echo 'cannot start: port 8443 in use' >&2; exit 1; fi;"
        ),
    );
    bed.file("bin/democtl", &ctl)
        .file("target/fail-start", "")
        .file("target/run/director.state", "running\n");
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-18T12:00:00Z"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        journal(bed.dir.path())
            .iter()
            .any(|e| e["event"] == "task_finished"
                && e["step"] == "record_analytics"
                && e["status"] == "changed"),
        "the week was recorded before the failure: {}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("undone: record_analytics on analytics-1"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(bed.path(state)).unwrap(),
        before,
        "the state file is as it was before the failed run, byte for byte"
    );
    // The next run restores the week the failed one did not.
    let again = bed.run(&["standalone", "restore", "--now", "2026-11-18T12:00:00Z"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("analytics-2026-11-15.tar: selected: Sunday of complete week 2026-W46"),
        "{}",
        again.stdout
    );
    let after: serde_json::Value = serde_json::from_str(&bed.read(state)).unwrap();
    assert_eq!(after["through"], "2026-11-15", "{after}");
}

/// No host is changed while another host's preparation may still fail: a destructive step waits
/// for every step that prepares, on every host, though it names none of them.
#[test]
fn a_preparation_failing_on_one_host_stops_the_run_before_any_other_host_is_changed() {
    let bed = Bed::new();
    let replaced = bed.path("REPLACED");
    bed.file(
        "master.yml",
        "defaults: { connection: local }\nhosts:\n  slow: {}\n  quick: {}\n",
    )
    .file(
        "pb.yml",
        &format!(
            "steps:\n  - id: download\n    hosts: slow\n    shell: sleep 1; echo the download failed >&2; exit 1\n  - id: check\n    hosts: quick\n    shell: 'true'\n  - id: replace\n    hosts: quick\n    needs: [check]\n    destructive: true\n    shell: touch {}\n",
            replaced.display()
        ),
    );
    let plan = bed.run(&["run", "pb.yml", "--check"]);
    assert!(
        plan.stdout.contains(
            "replace (shell) on quick needs check [destructive, after every host's preparation]"
        ),
        "{}",
        plan.stdout
    );
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the download failed") || out.stderr.contains("the download failed"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !replaced.exists(),
        "the quick host was changed while the slow one still prepared"
    );
    let started: Vec<String> = journal(bed.dir.path())
        .into_iter()
        .filter(|e| e["event"] == "task_started")
        .filter_map(|e| e["step"].as_str().map(str::to_string))
        .collect();
    assert!(started.contains(&"check".to_string()), "{started:?}");
    assert!(!started.contains(&"replace".to_string()), "{started:?}");
}
