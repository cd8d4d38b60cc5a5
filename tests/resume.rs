//! A run killed outright, then resumed or run again, against a real sshd host and a real
//! PostgreSQL; and a journal that cannot be written stopping a run before it changes anything.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::pgbed::PgBed;
use common::sshbed::SshBed;
use common::{Bed, Out};
use serde_json::Value as J;

const BACKUP: &str = "director-config-20261120T020000Z.tar";

/// A service manager stand-in, `sh ctl.sh VERB NAME`, keeping each service's state in
/// `run/NAME.state`. While `run/hold-VERB-NAME` exists, that verb first writes its shell's pid to
/// `run/in-VERB-NAME` and waits, so that a test can strike at a known point of the run.
fn ctl(bed: &Bed, run: &Path) -> PathBuf {
    std::fs::create_dir_all(run).unwrap();
    bed.file(
        "ctl.sh",
        &format!(
            "set -eu\nd={run}\nif [ -f $d/hold-$1-$2 ]; then echo $$ > $d/in-$1-$2; n=0; while [ -f $d/hold-$1-$2 ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); done; fi\ncase $1 in\n  start) echo running > $d/$2.state ;;\n  stop) echo stopped > $d/$2.state ;;\n  status) [ \"$(cat $d/$2.state 2>/dev/null)\" = running ] ;;\nesac\n",
            run = run.display()
        ),
    );
    bed.path("ctl.sh")
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

struct Site {
    bed: Bed,
    pg: PgBed,
    _ssh: SshBed,
}

/// A DR director over SSH with its database in a real PostgreSQL, running on an old configuration,
/// and a signed configuration backup from the source site carrying `director.dump`.
fn site() -> Site {
    let pg = PgBed::start();
    let ssh = SshBed::start(1);
    let bed = Bed::new();
    let root = bed.path("site");
    let run = bed.path("run");
    std::fs::create_dir_all(root.join("etc/director")).unwrap();
    std::fs::write(root.join("etc/director/director.conf"), "site = old\n").unwrap();
    let ctl = ctl(&bed, &run);
    std::fs::write(run.join("director.state"), "running\n").unwrap();
    let vars = format!(
        "vars: {{ dr_root: {}, service_manager: 'sh {}', db_name: director, db_user: setupdb, db_owner: setupowner, db_host: 127.0.0.1, db_port: {}, ",
        root.display(),
        ctl.display(),
        pg.port
    );
    let master = ssh
        .master()
        .replace("groups: [bed]", "groups: [director]")
        .replace("vars: { ", &vars);
    bed.file("master.yml", &master)
        .file(
            "answers.yml",
            &format!(
                "storage.type: local\nstorage.local.path: backups\ndb_password: {}\n{}",
                pg.password,
                common::trust_answer()
            ),
        )
        .file(
            "restore.yml",
            &format!("config_backup: {BACKUP}\ncomponents: [config]\n"),
        );
    std::fs::set_permissions(
        bed.path("answers.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    pg.sql("postgres", "CREATE DATABASE source_director");
    pg.sql(
        "source_director",
        "CREATE TABLE tenants (id int PRIMARY KEY, name text); INSERT INTO tenants VALUES (1, 'acme'), (2, 'globex')",
    );
    pg.sql("postgres", "CREATE DATABASE director");
    pg.sql(
        "director",
        "CREATE TABLE tenants (id int PRIMARY KEY, name text); INSERT INTO tenants VALUES (1, 'old-site')",
    );
    let stage = bed.path("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("director.conf"), "site = dc-main\n").unwrap();
    pg.dump("source_director", &stage.join("director.dump"));
    std::fs::create_dir_all(bed.path("backups")).unwrap();
    let script = format!(
        "set -e; cd {stage}; tar -cf ../backups/{BACKUP} director.conf director.dump; cd ../backups; sha256sum {BACKUP} > {BACKUP}.sha256",
        stage = stage.display()
    );
    let ok = Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap()
        .success();
    assert!(ok, "{script}");
    common::sign_backup(&bed.path("backups"), BACKUP, "2026-11-20T02:00:00Z");
    Site { bed, pg, _ssh: ssh }
}

impl Site {
    fn director(&self) -> String {
        self.bed.read("run/director.state").trim().to_string()
    }

    fn live_rows(&self) -> String {
        self.pg
            .sql("director", "SELECT name FROM tenants ORDER BY id")
            .replace('\n', ",")
    }

    /// Every run's journal, by run id.
    fn journal_of(&self, id: &str) -> Vec<J> {
        std::fs::read_to_string(self.bed.path(&format!(".setup/runs/{id}/journal.jsonl")))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn runs(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(self.bed.path(".setup/runs"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        ids.sort();
        ids
    }

    /// `restore --force`, killed outright (SIGKILL) while the director is being started again;
    /// the start it left on the host dies with it. The killed run's id.
    fn killed_while_starting(&self) -> String {
        self.bed.file("run/hold-start-director", "");
        let mut child = self
            .bed
            .command(&[
                "standalone",
                "restore",
                "--force",
                "--set",
                &format!("db_password={}", self.pg.password),
                "--set",
                "analytics.mode=weekly",
            ])
            .stdout(std::fs::File::create(self.bed.path("killed-out.txt")).unwrap())
            .stderr(std::fs::File::create(self.bed.path("killed-err.txt")).unwrap())
            .spawn()
            .unwrap();
        let held = self.bed.path("run/in-start-director");
        assert!(
            wait_until(Duration::from_secs(120), || held.exists()
                && !self.bed.read("run/in-start-director").trim().is_empty()),
            "the run never started the director: {}",
            self.bed.read("killed-out.txt")
        );
        child.kill().unwrap();
        let _ = child.wait();
        // The start the dead run left waiting on the host goes with it.
        let pid = self.bed.read("run/in-start-director").trim().to_string();
        let _ = Command::new("kill").args(["-KILL", &pid]).status();
        std::fs::remove_file(self.bed.path("run/hold-start-director")).unwrap();
        std::fs::remove_file(held).unwrap();
        assert_eq!(
            self.director(),
            "stopped",
            "the kill left the director stopped"
        );
        let runs = self.runs();
        assert_eq!(runs.len(), 1, "{runs:?}");
        runs[0].clone()
    }

    /// The status of each task of `step` in a run's journal (not rollback).
    fn statuses(&self, id: &str, step: &str) -> Vec<String> {
        self.journal_of(id)
            .iter()
            .filter(|e| e["event"] == "task_finished" && e["step"] == step && e["rollback"] != true)
            .map(|e| e["status"].as_str().unwrap_or("").to_string())
            .collect()
    }
}

fn said(out: &Out) -> String {
    format!("{}{}", out.stdout, out.stderr)
}

#[test]
fn a_resume_after_sigkill_during_start_services_starts_and_checks_the_director() {
    let s = site();
    let killed = s.killed_while_starting();
    let status = s.bed.run(&["standalone", "status"]);
    assert!(
        status.stdout.contains("never finished"),
        "status lists the killed run: {}",
        status.stdout
    );
    // What status suggests.
    let out = s.bed.run(&["standalone", "restore", "--resume"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(
        out.stderr.contains(&format!(
            "resuming run {killed} with the options it was started with: --force --set analytics.mode=weekly"
        )),
        "{}",
        said(&out)
    );
    assert_eq!(s.director(), "running", "{}", said(&out));
    assert_eq!(s.live_rows(), "acme,globex");
    let resumed = s.runs().into_iter().find(|r| *r != killed).unwrap();
    let started: Vec<J> = s
        .journal_of(&resumed)
        .into_iter()
        .filter(|e| e["event"] == "run_started")
        .collect();
    assert_eq!(started[0]["resumed_from"], killed.as_str(), "{started:?}");
    assert_eq!(started[0]["options"]["force"], true, "{started:?}");
    // The killed run's `--set` answers are kept, but never a secret one.
    assert_eq!(
        started[0]["options"]["set"],
        serde_json::json!(["analytics.mode=weekly"]),
        "{started:?}"
    );
    for f in common::files_under(&s.bed.path(".setup")) {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        assert!(!text.contains(&s.pg.password), "{}", f.display());
    }
    // The backup was not found "already restored": the run went on where the killed one stopped.
    assert_eq!(s.statuses(&resumed, "config_in_place"), ["skipped"]);
    assert_eq!(s.statuses(&resumed, "start_services"), ["changed"]);
    assert_eq!(s.statuses(&resumed, "health_check"), ["ok"]);
    assert_eq!(s.statuses(&resumed, "check_database"), ["ok"]);
    // What the killed run finished is not done again.
    assert_eq!(s.statuses(&resumed, "switch_database"), ["skipped"]);
    assert_eq!(s.statuses(&resumed, "restore_config"), ["skipped"]);
    // status no longer lists the run the resume finished.
    let status = s.bed.run(&["standalone", "status"]);
    assert_eq!(status.code, 0, "{}", said(&status));
    assert!(
        !status.stdout.contains("never finished"),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.lines().any(|l| l.starts_with(&killed)),
        "{}",
        status.stdout
    );
    assert!(
        status
            .stdout
            .lines()
            .any(|l| l.starts_with(&resumed) && l.contains("done")),
        "{}",
        status.stdout
    );
}

#[test]
fn a_plain_run_after_sigkill_during_start_services_starts_and_checks_the_director() {
    let s = site();
    let killed = s.killed_while_starting();
    let out = s.bed.run(&["standalone", "restore"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(out.stdout.contains("already restored"), "{}", said(&out));
    assert_eq!(s.director(), "running", "{}", said(&out));
    let again = s.runs().into_iter().find(|r| *r != killed).unwrap();
    assert_eq!(s.statuses(&again, "stop_services"), ["skipped"]);
    assert_eq!(s.statuses(&again, "start_services"), ["changed"]);
    assert_eq!(s.statuses(&again, "health_check"), ["ok"]);
    assert_eq!(s.statuses(&again, "check_database"), ["ok"]);
    // Once more: the director runs, nothing is stopped, the checks still run.
    let out = s.bed.run(&["standalone", "restore"]);
    assert_eq!(out.code, 0, "{}", said(&out));
    let last = s
        .runs()
        .into_iter()
        .rfind(|r| *r != killed && *r != again)
        .unwrap();
    assert_eq!(s.statuses(&last, "stop_services"), ["skipped"]);
    assert_eq!(s.statuses(&last, "start_services"), ["ok"]);
    assert_eq!(s.statuses(&last, "health_check"), ["ok"]);
    assert_eq!(s.director(), "running");
}

/// A small tmpfs mounted over a folder for one test; unmounted when dropped.
struct Full(PathBuf);

impl Full {
    fn mount(dir: &Path, size: &str) -> Full {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "mount tmpfs on {}", dir.display());
        Full(dir.to_path_buf())
    }
}

impl Drop for Full {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The journal's disk fills up before a destructive step: the step does not start, the run fails
/// and says why, and what it was to change is as it was.
#[test]
fn a_journal_that_cannot_be_written_stops_the_run_before_its_destructive_step() {
    let bed = Bed::new();
    let runs = bed.path(".setup/runs");
    let _full = Full::mount(&runs, "256k");
    bed.file("live.txt", "as it was\n").file(
        "master.yml",
        "defaults: { connection: local }\nhosts:\n  h1: { groups: [web] }\n",
    );
    // `fill` takes the disk's last byte, then prints more than a page: its own journal line
    // cannot be written.
    bed.file(
        "pb.yml",
        &format!(
            "steps:\n  - id: fill\n    hosts: web\n    shell: \"dd if=/dev/zero of={runs}/filler bs=4k 2>/dev/null || true; head -c 6000 /dev/zero | tr '\\\\0' x\"\n  - id: replace\n    hosts: web\n    needs: [fill]\n    destructive: true\n    shell: \"echo replaced > {live}\"\n",
            runs = runs.display(),
            live = bed.path("live.txt").display()
        ),
    );
    let out = bed.run(&["run", "pb.yml", "--report", "report.json"]);
    assert_eq!(out.code, 1, "{}", said(&out));
    assert_eq!(
        bed.read("live.txt"),
        "as it was\n",
        "the destructive step ran"
    );
    assert!(
        said(&out).contains("cannot be written") && said(&out).contains("No space left"),
        "{}",
        said(&out)
    );
    let report: J = serde_json::from_str(&bed.read("report.json")).unwrap();
    let replace = report["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["step"] == "replace")
        .cloned()
        .unwrap_or(J::Null);
    assert_eq!(replace["status"], "failed", "{report}");
    assert!(
        replace["message"]
            .as_str()
            .unwrap_or("")
            .contains("nothing of this step was started"),
        "{report}"
    );
}
