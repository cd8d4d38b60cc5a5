//! The executor through the binary: concurrency, fail-fast, rollback, resume, interrupts, secrets.

use crate::common;

use chrono::{DateTime, Utc};
use common::{Bed, journal};
use serde_json::Value as J;

const INV: &str =
    "defaults: { connection: local }\nhosts:\n  h1: { groups: [web] }\n  h2: { groups: [web] }\n";

fn interval(j: &[J], step: &str, host: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = j
        .iter()
        .find(|e| e["event"] == "task_started" && e["step"] == step && e["host"] == host)?;
    let end = j
        .iter()
        .find(|e| e["event"] == "task_finished" && e["step"] == step && e["host"] == host)?;
    let t = |v: &J| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    Some((t(&start["at"]), t(&end["at"])))
}

fn status(j: &[J], step: &str) -> Vec<String> {
    j.iter()
        .filter(|e| e["event"] == "task_finished" && e["step"] == step)
        .map(|e| e["status"].as_str().unwrap().to_string())
        .collect()
}

fn started(j: &[J], step: &str) -> bool {
    j.iter()
        .any(|e| e["event"] == "task_started" && e["step"] == step)
}

#[test]
fn independent_branches_overlap() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", "steps:\n  - { id: a, shell: sleep 1 }\n  - { id: b, shell: sleep 1 }\n  - { id: c, shell: sleep 1 }\n  - { id: d, needs: [a, b, c], shell: 'true' }\n");
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let j = journal(bed.dir.path());
    let iv: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|s| interval(&j, s, "localhost").unwrap())
        .collect();
    for x in &iv {
        for y in &iv {
            assert!(x.0 < y.1 && y.0 < x.1, "intervals overlap: {iv:?}");
        }
    }
    let d = interval(&j, "d", "localhost").unwrap();
    assert!(
        iv.iter().all(|x| x.1 <= d.0),
        "d starts after everything it needs"
    );
}

#[test]
fn forks_bound_concurrency() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file(
        "pb.yml",
        "steps:\n  - { id: a, shell: sleep 0.3 }\n  - { id: b, shell: sleep 0.3 }\n",
    );
    let out = bed.run(&["run", "pb.yml", "--forks", "1"]);
    assert_eq!(out.code, 0);
    let j = journal(bed.dir.path());
    let (a, b) = (
        interval(&j, "a", "localhost").unwrap(),
        interval(&j, "b", "localhost").unwrap(),
    );
    assert!(
        a.1 <= b.0 || b.1 <= a.0,
        "with --forks 1 nothing overlaps: {a:?} {b:?}"
    );
}

const FAILING: &str = "\
steps:
  - { id: broken, hosts: h1, shell: 'echo it broke >&2; exit 7' }
  - { id: slow, hosts: h2, shell: 'sleep 0.5' }
  - { id: after_slow, hosts: h2, needs: [slow], shell: 'true' }
  - { id: after_broken, hosts: h1, needs: [broken], shell: 'true' }
";

#[test]
fn fail_fast_starts_nothing_new_and_lets_running_tasks_finish() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", FAILING);
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAILED   broken on h1")
            && out.stdout.contains("exit code 7: it broke"),
        "{}",
        out.stdout
    );
    let j = journal(bed.dir.path());
    assert_eq!(status(&j, "broken"), vec!["failed"]);
    assert_eq!(
        status(&j, "slow"),
        vec!["changed"],
        "the running task finished"
    );
    assert!(!started(&j, "after_slow") && !started(&j, "after_broken"));
    assert_eq!(j.last().unwrap()["event"], "run_finished");
    assert_eq!(j.last().unwrap()["exit_code"], 1);
}

#[test]
fn keep_going_runs_independent_branches() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", FAILING);
    let out = bed.run(&["run", "pb.yml", "--keep-going"]);
    assert_eq!(out.code, 1);
    let j = journal(bed.dir.path());
    assert_eq!(status(&j, "after_slow"), vec!["changed"]);
    assert!(
        !started(&j, "after_broken"),
        "a failed step's dependents never run"
    );
}

const DESTRUCTIVE: &str = "\
steps:
  - { id: prep, hosts: h1, shell: 'echo old > data' }
  - { id: destroy, hosts: h1, needs: [prep], destructive: true, shell: 'echo new > data' }
  - { id: verify, hosts: h1, needs: [destroy], shell: 'exit 1' }
on_failure:
  - { id: put_back, hosts: h1, shell: 'echo old > data; echo rolled-back > rollback.log' }
";

#[test]
fn failure_after_a_destructive_step_rolls_back() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", DESTRUCTIVE);
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 1);
    assert_eq!(bed.read("data"), "old\n");
    assert_eq!(bed.read("rollback.log"), "rolled-back\n");
    let j = journal(bed.dir.path());
    assert!(j.iter().any(|e| e["event"] == "rollback_started"));
    assert!(j.iter().any(|e| e["event"] == "task_finished"
        && e["step"] == "put_back"
        && e["rollback"] == true));
    assert!(out.stdout.contains("ROLLBACK"), "{}", out.stdout);
}

#[test]
fn failure_before_any_destructive_step_does_not_roll_back() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file(
        "pb.yml",
        &DESTRUCTIVE.replace("shell: 'echo old > data' }", "shell: 'exit 1' }"),
    );
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 1);
    assert!(!bed.path("rollback.log").exists());
    // The report's path is said whole, on one line, never cut at a hyphen of the run's id (a
    // folder with a long name makes the line longer than the width errors are wrapped at).
    let site = "the-disaster-recovery-site-of-the-eastern-region/dr/site";
    bed.file(&format!("{site}/master.yml"), INV).file(
        &format!("{site}/pb.yml"),
        &DESTRUCTIVE.replace("shell: 'echo old > data' }", "shell: 'exit 1' }"),
    );
    let out = bed.run(&["run", &format!("{site}/pb.yml"), "-C", site]);
    assert_eq!(out.code, 1);
    let runs = bed.path(&format!("{site}/.setup/runs"));
    let run = std::fs::read_dir(&runs).unwrap().next().unwrap().unwrap();
    let id = run.file_name().to_string_lossy().into_owned();
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains(&format!("{site}/.setup/runs/{id}/report.json"))),
        "{}",
        out.stderr
    );
}

#[test]
fn resume_skips_what_succeeded() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file(
        "pb.yml",
        "steps:\n  - { id: count, hosts: h1, shell: 'echo x >> count' }\n  - { id: flaky, hosts: h1, needs: [count], shell: 'test ! -e fail-once || { rm fail-once; exit 1; }' }\n  - { id: last, hosts: h1, needs: [flaky], shell: 'echo done > last' }\n",
    );
    bed.file("fail-once", "");
    assert_eq!(bed.run(&["run", "pb.yml"]).code, 1);
    assert_eq!(bed.read("count"), "x\n");
    let out = bed.run(&["run", "pb.yml", "--resume"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        bed.read("count"),
        "x\n",
        "the step that succeeded did not run again"
    );
    assert_eq!(bed.read("last"), "done\n");
    let j = journal(bed.dir.path());
    assert_eq!(status(&j, "count"), vec!["skipped"]);
    assert_eq!(status(&j, "flaky"), vec!["changed"]);
}

#[test]
fn status_lists_runs() {
    let bed = Bed::new();
    bed.file("master.yml", INV)
        .file("pb.yml", "steps:\n  - { id: a, shell: 'true' }\n");
    bed.run(&["run", "pb.yml"]);
    let out = bed.run(&["standalone", "status", "--json"]);
    let v: J = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v[0]["status"], "done");
    assert_eq!(v[0]["tasks"], 1);
}

#[test]
fn first_interrupt_lets_a_running_destructive_task_finish_rolls_back_and_exits_130() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file(
        "pb.yml",
        "steps:\n  - { id: long, hosts: h1, destructive: true, shell: 'sleep 1.5; echo finished > long.out' }\n  - { id: next, hosts: h1, needs: [long], shell: 'echo ran > next.out' }\non_failure:\n  - { id: undo, hosts: h1, shell: 'echo undone > undo.out' }\n",
    );
    let child = bed
        .command(&["run", "pb.yml"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let runs = bed.path(".setup/runs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !(runs.exists()
        && std::fs::read_dir(&runs).unwrap().count() > 0
        && journal(bed.dir.path())
            .iter()
            .any(|e| e["event"] == "task_started"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    unsafe_kill(child.id(), "INT");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {stderr}");
    assert!(
        stderr.contains("interrupt: stopping. No new step starts"),
        "{stderr}"
    );
    assert_eq!(
        bed.read("long.out"),
        "finished\n",
        "the running task finished"
    );
    assert!(!bed.path("next.out").exists(), "nothing new started");
    assert_eq!(bed.read("undo.out"), "undone\n", "rollback ran");
    let j = journal(bed.dir.path());
    assert!(j.iter().any(|e| e["event"] == "interrupted"));
    assert_eq!(j.last().unwrap()["event"], "run_finished");
    assert_eq!(j.last().unwrap()["status"], "interrupted");
}

fn unsafe_kill(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn check_changes_nothing() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", DESTRUCTIVE);
    let out = bed.run(&["run", "pb.yml", "--check"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("$ echo new > data"));
    let names: Vec<_> = std::fs::read_dir(bed.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut names = names;
    names.sort();
    assert_eq!(names, vec!["master.yml", "pb.yml"]);
}

#[test]
fn a_secret_never_appears_in_output_journal_or_report() {
    const SENTINEL: &str = "Sentinel-5ecret-42";
    let bed = Bed::new();
    bed.file("master.yml", INV).file(
        "pb.yml",
        "steps:\n  - id: use\n    hosts: h1\n    env: { PW: \"{{ secret.become_password }}\" }\n    shell: 'test \"$PW\" = Sentinel-5ecret-42 && echo match; echo \"leak: $PW\"; echo \"leak: $PW\" >&2'\n    register: r\n  - id: fail\n    hosts: h1\n    needs: [use]\n    env: { PW: \"{{ secret.become_password }}\" }\n    shell: 'echo \"$PW\" >&2; exit 1'\n",
    );
    let mut cmd = bed.command(&["run", "pb.yml", "-v", "--report", "report.json"]);
    cmd.env("SETUP_BECOME_PASSWORD", SENTINEL);
    let out = cmd.output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stdout.contains("match"),
        "the command received the secret: {stdout}"
    );
    assert!(stdout.contains("leak: ********"), "{stdout}");
    let journal_text: String = journal(bed.dir.path())
        .iter()
        .map(|e| e.to_string())
        .collect();
    for (what, text) in [
        ("stdout", stdout.to_string()),
        ("stderr", stderr.to_string()),
        ("journal", journal_text),
        ("report", bed.read("report.json")),
    ] {
        assert!(!text.is_empty(), "{what} is empty");
        assert!(
            !text.contains(SENTINEL),
            "the secret leaked into {what}:\n{text}"
        );
    }
}

#[test]
fn report_json_follows_its_schema() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", "steps:\n  - { id: a, hosts: web, shell: 'true' }\n  - { id: b, needs: [a], shell: 'true' }\n");
    let out = bed.run(&["run", "pb.yml", "--report", "r.json"]);
    assert_eq!(out.code, 0);
    let r: J = serde_json::from_str(&bed.read("r.json")).unwrap();
    assert_eq!(r["schema"], "setup.report/1");
    assert_eq!(r["status"], "done");
    assert_eq!(r["critical_path"], serde_json::json!(["a", "b"]));
    assert_eq!(r["steps"][0]["hosts"]["changed"], 2);
    assert!(r["rto_seconds"].as_f64().unwrap() >= 0.0);
    assert_eq!(r["tasks"].as_array().unwrap().len(), 3);
    assert!(out.stdout.contains("RTO: "));
}

#[test]
fn when_loop_register_retries_and_timeout() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file(
        "pb.yml",
        "vars: { flavours: [a, b] }\nsteps:\n  - { id: gather, hosts: h1, shell: 'echo 3', register: n }\n  - { id: each, hosts: h1, needs: [gather], loop: \"{{ flavours }}\", shell: 'echo {{ item }}-{{ n.stdout | trim }} >> items' }\n  - { id: never, hosts: h1, needs: [gather], when: \"n.stdout | trim == '4'\", shell: 'touch never' }\n  - { id: flaky, hosts: h1, retries: 2, delay: 0, shell: 'echo x >> tries; test $(wc -l < tries) -ge 2' }\n  - { id: slow, hosts: h2, timeout: 1, ignore_errors: true, shell: 'sleep 5' }\n",
    );
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(bed.read("items"), "a-3\nb-3\n");
    assert!(!bed.path("never").exists());
    assert_eq!(bed.read("tries"), "x\nx\n");
    assert!(
        out.stdout.contains("timed out after 1s (ignored)"),
        "{}",
        out.stdout
    );
}

#[test]
fn reading_a_register_without_waiting_for_it_is_an_error() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", "steps:\n  - { id: gather, shell: 'echo 3', register: n }\n  - { id: use, shell: 'echo {{ n.stdout }}' }\n");
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(bed.filter(&out.stderr));
}

#[test]
fn only_skip_and_limit_select_tasks() {
    let bed = Bed::new();
    bed.file("master.yml", INV).file("pb.yml", "steps:\n  - { id: a, hosts: web, tags: [t], shell: 'touch a-{{ inventory_hostname }}' }\n  - { id: b, hosts: web, shell: 'touch b-{{ inventory_hostname }}' }\n");
    assert_eq!(
        bed.run(&["run", "pb.yml", "--only", "t", "--limit", "h2"])
            .code,
        0
    );
    assert!(bed.path("a-h2").exists() && !bed.path("a-h1").exists() && !bed.path("b-h2").exists());
    assert_eq!(bed.run(&["run", "pb.yml", "--skip", "a"]).code, 0);
    assert!(bed.path("b-h1").exists() && !bed.path("a-h1").exists());
}
