//! A restore that can be trusted: no value reaches a shell unquoted, shell steps stop at the first
//! failing line, and host locks are the engine's, with the owner named and dead owners taken over.

mod common;

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
        "my root/a$(touch INJECTED)b\n"
    );
    assert!(!bed.path("my").exists(), "a space does not split the path");
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
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !bed.path("started").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the first run started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGKILL: no handler runs, the lock stays behind.
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(bed.path(".setup/locks/h1.lock/owner.json").exists());
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
    assert!(!bed.path(".setup/locks/h1.lock").exists());
}
