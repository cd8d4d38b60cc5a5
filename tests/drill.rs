//! `setup standalone drill`: the newest backups restored into a sandbox beside the live site, on
//! the demo (local hosts) and over SSH into a real PostgreSQL; checked against the signed
//! manifests; the live site the same before and after, byte for byte; nothing left behind, also
//! after Ctrl-C; the evidence page drawn by a real browser.

use crate::common;

use common::pgbed::PgBed;
use common::sshbed::SshBed;
use common::{Bed, tree_digest};
use serde_json::Value as J;

/// The drill folders under `.setup/drills`, oldest first.
fn drills(bed: &Bed) -> Vec<std::path::PathBuf> {
    let mut d: Vec<_> = std::fs::read_dir(bed.path(".setup/drills"))
        .map(|r| r.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    d.sort();
    d
}

fn evidence(dir: &std::path::Path) -> J {
    serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap()
}

/// Paths of any drill's sandbox or staging under `root`.
fn sandboxes(root: &std::path::Path) -> Vec<String> {
    tree_digest(root)
        .into_iter()
        .filter(|e| e.contains(".drill-") || e.contains("setup-drill"))
        .collect()
}

/// The demo restored through week 46 (2026-11-15): week 47 is what a restore, and so a drill,
/// takes next.
fn demo_site() -> Bed {
    let bed = common::demo();
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-16T00:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    bed
}

#[test]
fn a_demo_drill_passes_and_leaves_the_live_site_as_it_was_and_nothing_behind() {
    let bed = demo_site();
    let before = tree_digest(&bed.path("target"));
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        tree_digest(&bed.path("target")),
        before,
        "the live site, its gate state included, is the same byte for byte"
    );
    assert!(sandboxes(&bed.path("target")).is_empty());
    let d = drills(&bed);
    assert_eq!(d.len(), 1);
    let e = evidence(&d[0]);
    assert_eq!(e["status"], "passed");
    assert_eq!(e["left_behind"], "nothing");
    let checks = e["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|k| k["name"].as_str().unwrap()).collect();
    // The configuration's archive, the seven days of week 47 (and no earlier one), two looks, two RTOs.
    assert!(names[0].starts_with("director-config-20261120T020000Z.tar: the archive"));
    let days: Vec<&&str> = names
        .iter()
        .filter(|n| n.starts_with("analytics-"))
        .collect();
    assert_eq!(days.len(), 7, "{names:?}");
    assert!(days[0].starts_with("analytics-2026-11-16.tar"), "{days:?}");
    assert_eq!(names.iter().filter(|n| **n == "left behind").count(), 2);
    assert!(names.contains(&"RTO configuration") && names.contains(&"RTO full"));
    assert!(checks.iter().all(|k| k["passed"] == true), "{checks:?}");
    assert_eq!(e["restored"][0]["signer"], "backup@demo-dc");
    assert_eq!(e["rpo"]["analytics"]["through"], "2026-11-22");
    assert!(
        out.stdout.contains("Checks: 12 passed, 0 failed"),
        "{}",
        out.stdout
    );
    // It held the host locks, as a restore does.
    let locks: Vec<String> = common::journal(&bed.path(""))
        .iter()
        .filter(|e| e["event"] == "lock")
        .map(|e| {
            format!(
                "{} {}",
                e["host"].as_str().unwrap(),
                e["action"].as_str().unwrap()
            )
        })
        .collect();
    for l in [
        "director-1 taken",
        "analytics-1 taken",
        "director-1 released",
        "analytics-1 released",
    ] {
        assert!(locks.contains(&l.to_string()), "{locks:?}");
    }

    let list = bed.run(&["standalone", "drill", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let id = d[0].file_name().unwrap().to_str().unwrap().to_string();
    let line = list.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(
        line.contains("passed") && line.contains("nothing"),
        "{line}"
    );
    assert!(list.stdout.contains("RPO: "), "{}", list.stdout);

    // The page, in a real browser: the timeline's bars are drawn (the legend alone has 144 pixels
    // of each colour).
    let shot = bed.path("drill.png");
    let chromium = std::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1040,900",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", d[0].join("report.html").display()))
        .output()
        .expect("chromium (scripts/test installs it)");
    assert!(
        shot.exists(),
        "{}",
        String::from_utf8_lossy(&chromium.stderr)
    );
    let colours = std::process::Command::new(common::repo().join("tests/support/png-colors"))
        .arg(&shot)
        .args(["e8590c", "1c7ed6", "c92a2a"])
        .output()
        .unwrap();
    let counts: Vec<u64> = String::from_utf8_lossy(&colours.stdout)
        .split_whitespace()
        .take(3)
        .map(|n| n.parse().unwrap())
        .collect();
    assert!(counts[0] > 1000, "the critical path is drawn: {counts:?}");
    assert!(counts[1] > 144, "the other steps are drawn: {counts:?}");
    assert!(counts[2] <= 144, "nothing failed: {counts:?}");
}

#[test]
fn ctrl_c_during_a_drill_cleans_up_and_says_so() {
    let bed = demo_site();
    bed.file(
        "restore.yml",
        &(bed.read("restore.yml")
            + "drill:\n  checks:\n    - { name: a slow check, on: analytics, command: 'touch \"$SETUP_DRILL_DATA_DIR/.slow\"; sleep 60' }\n"),
    );
    let before = tree_digest(&bed.path("target"));
    let child = bed
        .command(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the slow check runs in the sandbox.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !tree_digest(&bed.path("target"))
        .iter()
        .any(|e| e.contains(".drill-") && e.contains(".slow"))
    {
        assert!(std::time::Instant::now() < deadline, "the check never ran");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let sandbox = sandboxes(&bed.path("target"));
    assert!(!sandbox.is_empty());
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = common::Out::from_output(child.wait_with_output().unwrap());
    assert_eq!(out.code, 130, "{}{}", out.stdout, out.stderr);
    assert_eq!(tree_digest(&bed.path("target")), before);
    assert!(sandboxes(&bed.path("target")).is_empty());
    let e = evidence(&drills(&bed)[0]);
    assert_eq!(e["status"], "failed");
    assert_eq!(e["left_behind"], "nothing", "{e}");
    let timeline = e["timeline"].as_array().unwrap();
    assert!(
        timeline
            .iter()
            .any(|t| t["step"] == "clean_after_failure" && t["cleanup"] == true),
        "{timeline:?}"
    );
}

#[test]
fn a_killed_drill_is_cleaned_by_drill_clean() {
    let bed = demo_site();
    // What a drill killed with SIGKILL leaves: a sandbox folder with its marker, and its staging.
    for p in [
        "target/director-1/etc/director.drill-20261130T000000Z-dead/director.conf",
        "target/analytics-1/var/lib/analytics.drill-20261130T000000Z-dead/x",
        "target/analytics-1/var/tmp/setup-drill/20261130T000000Z-dead/y",
    ] {
        bed.file(p, "left\n");
    }
    for dir in [
        "target/director-1/etc/director.drill-20261130T000000Z-dead",
        "target/analytics-1/var/lib/analytics.drill-20261130T000000Z-dead",
    ] {
        bed.file(
            &format!("{dir}/.setup-drill"),
            "setup drill 20261130T000000Z-dead\n",
        );
    }
    let out = bed.run(&["standalone", "drill", "--clean"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(sandboxes(&bed.path("target")).is_empty());
    assert!(
        out.stdout.contains("Checks: 2 passed, 0 failed"),
        "{}",
        out.stdout
    );
    assert!(drills(&bed).is_empty(), "a clean-up is no drill");
}

/// Folders of the operator's beside the live ones whose names only look like a drill's: no run id,
/// or a run id's shape but no drill's marker in it (or a marker naming another run).
const OPERATORS: &[&str] = &[
    "target/director-1/etc/director.drill-notes/notes.txt",
    "target/analytics-1/var/lib/analytics.drill-2025-archive/2025-01-01.csv",
    "target/director-1/etc/director.drill-20261130T000000Z-beef/kept.conf",
    "target/analytics-1/var/lib/analytics.drill-20261130T000000Z-cafe/.setup-drill",
];

fn operators_folders(bed: &Bed) {
    for p in OPERATORS {
        bed.file(p, "setup drill 20261130T000000Z-dead\n");
    }
}

fn operators_folders_are_there(bed: &Bed) {
    for p in OPERATORS {
        assert_eq!(
            bed.read(p),
            "setup drill 20261130T000000Z-dead\n",
            "{p} is the operator's"
        );
    }
}

#[test]
fn an_operators_folders_named_like_a_drills_survive_a_drill_and_drill_clean_and_are_not_left_behind()
 {
    let bed = demo_site();
    operators_folders(&bed);
    // A link in the live data at the marker's name: the copy's marker is written anew, not through it.
    bed.file("outside.txt", "mine\n");
    std::os::unix::fs::symlink(
        bed.path("outside.txt"),
        bed.path("target/analytics-1/var/lib/analytics/.setup-drill"),
    )
    .unwrap();
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    operators_folders_are_there(&bed);
    assert_eq!(bed.read("outside.txt"), "mine\n");
    let e = evidence(&drills(&bed)[0]);
    assert_eq!(e["status"], "passed");
    assert_eq!(e["left_behind"], "nothing", "{e}");
    let out = bed.run(&["standalone", "drill", "--clean"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    operators_folders_are_there(&bed);
    assert!(
        out.stdout.contains("Checks: 2 passed, 0 failed"),
        "{}",
        out.stdout
    );
    // Nothing else is left: the drill's own sandboxes are gone.
    let left: Vec<String> = sandboxes(&bed.path("target"))
        .into_iter()
        .filter(|e| {
            ![
                "-notes",
                "-2025-archive",
                "-beef",
                "-cafe",
                "analytics/.setup-drill ",
            ]
            .iter()
            .any(|o| e.contains(o))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A DR director over SSH with a live database, and a configuration backup whose signed manifest
/// records `tables`.
struct PgSite {
    bed: Bed,
    pg: PgBed,
    _ssh: SshBed,
}

const BACKUP: &str = "director-config-20261120T020000Z.tar";

fn pg_site(tables: J) -> PgSite {
    let pg = PgBed::start();
    let ssh = SshBed::start(1);
    let bed = Bed::new();
    let root = bed.path("site");
    let run = bed.path("run");
    std::fs::create_dir_all(root.join("etc/director")).unwrap();
    std::fs::write(root.join("etc/director/director.conf"), "site = old\n").unwrap();
    let ctl = common::service_stub(&bed, &run);
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
            "components: [config]\ndrill:\n  checks:\n    - { name: both tenants are there, sql: \"SELECT count(*) FROM tenants\", expect: 2 }\n",
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
    let ok = std::process::Command::new("tar")
        .args([
            "-cf",
            &bed.path("backups").join(BACKUP).display().to_string(),
        ])
        .args([
            "-C",
            &stage.display().to_string(),
            "director.conf",
            "director.dump",
        ])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    common::sign_backup_facts(
        &bed.path("backups"),
        BACKUP,
        "2026-11-20T02:00:00Z",
        &common::repo().join("inventories/demo-dc/demo-signing-key"),
        serde_json::json!({ "tables": tables }),
    );
    PgSite { bed, pg, _ssh: ssh }
}

impl PgSite {
    fn live_is_untouched(&self) {
        assert_eq!(
            self.pg
                .sql("director", "SELECT name FROM tenants ORDER BY id"),
            "old-site"
        );
        assert_eq!(self.bed.read("run/director.state"), "running\n");
        assert_eq!(
            self.bed.read("site/etc/director/director.conf"),
            "site = old\n"
        );
        let dbs = self.pg.databases();
        assert!(!dbs.iter().any(|d| d.contains("_drill_")), "{dbs:?}");
        assert!(sandboxes(&self.bed.path("site")).is_empty());
    }
}

#[test]
fn a_drill_over_ssh_checks_each_tables_rows_in_a_database_of_its_own() {
    let s = pg_site(serde_json::json!({ "public.tenants": 2 }));
    // What a killed drill left: its database; this drill drops it first.
    s.pg.sql(
        "postgres",
        "CREATE DATABASE director_drill_20261130t000000z_dead",
    );
    s.pg.sql(
        "postgres",
        "COMMENT ON DATABASE director_drill_20261130t000000z_dead IS 'setup drill 20261130T000000Z-dead'",
    );
    let out = s.bed.run(&["standalone", "drill"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    s.live_is_untouched();
    let e = evidence(&drills(&s.bed)[0]);
    println!("measured: RTO {} RPO {}", e["rto"], e["rpo"]);
    let checks = e["checks"].as_array().unwrap();
    let find = |name: &str| checks.iter().find(|k| k["name"] == name).cloned();
    let rows = find("table public.tenants").expect("the table is checked");
    assert_eq!(rows["expected"], "2 row(s)");
    assert_eq!(rows["found"], "2 row(s)");
    let site = find("both tenants are there").expect("the site's check ran");
    assert_eq!(site["found"], "\"2\"");
    assert_eq!(e["left_behind"], "nothing");
    assert!(
        !out.stdout.contains(&s.pg.password)
            && !std::fs::read_to_string(drills(&s.bed)[0].join("report.html"))
                .unwrap()
                .contains(&s.pg.password)
    );
}

#[test]
fn the_sweep_drops_only_the_databases_a_drill_made() {
    let s = pg_site(serde_json::json!({ "public.tenants": 2 }));
    // The operator's: not a run id's shape; a run id's shape without the drill's comment; the
    // drill's comment naming another run. A killed drill's: the shape and its comment.
    for (name, comment) in [
        ("director_drill_notes", Some("setup drill notes")),
        ("director_drill_20261130t000000z_beef", None),
        (
            "director_drill_20261130t000000z_cafe",
            Some("setup drill 20261130T000000Z-dead"),
        ),
        (
            "director_drill_20261130t000000z_dead",
            Some("setup drill 20261130T000000Z-dead"),
        ),
    ] {
        s.pg.sql("postgres", &format!("CREATE DATABASE {name}"));
        if let Some(c) = comment {
            s.pg.sql("postgres", &format!("COMMENT ON DATABASE {name} IS '{c}'"));
        }
    }
    let out = s.bed.run(&["standalone", "drill", "--clean"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Checks: 1 passed, 0 failed"),
        "{}",
        out.stdout
    );
    let mut dbs: Vec<String> =
        s.pg.databases()
            .into_iter()
            .filter(|d| d.contains("_drill_"))
            .collect();
    dbs.sort();
    assert_eq!(
        dbs,
        [
            "director_drill_20261130t000000z_beef",
            "director_drill_20261130t000000z_cafe",
            "director_drill_notes"
        ],
        "{}",
        out.stdout
    );
    // A drill too leaves them, and does not call them left behind.
    let out = s.bed.run(&["standalone", "drill"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let e = evidence(&drills(&s.bed)[0]);
    assert_eq!(e["left_behind"], "nothing", "{e}");
    let after: Vec<String> =
        s.pg.databases()
            .into_iter()
            .filter(|d| d.contains("_drill_"))
            .collect();
    assert_eq!(after.len(), 3, "{after:?}");
}

#[test]
fn a_backup_whose_recorded_rows_differ_from_its_dump_fails_the_drill_naming_the_table() {
    let s = pg_site(serde_json::json!({ "public.tenants": 3 }));
    let out = s.bed.run(&["standalone", "drill"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("table public.tenants on host1: expected 3 row(s), found 2 row(s)"),
        "{}",
        out.stderr
    );
    s.live_is_untouched();
    let e = evidence(&drills(&s.bed)[0]);
    assert_eq!(e["status"], "failed");
    assert_eq!(e["left_behind"], "nothing");
}

#[test]
fn a_weekly_drill_is_scheduled_in_utc_from_restore_yml() {
    let bed = common::demo();
    bed.file(
        "restore.yml",
        &(bed.read("restore.yml") + "schedule: { drill: \"Sun 04:00\" }\n"),
    );
    let out = bed.run(&["standalone", "schedule", "show"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let units = common::shown_units(&out.stdout);
    assert_eq!(units.len(), 2, "{}", out.stdout);
    assert!(units[0].0.starts_with("setup-drill-") && units[0].0.ends_with(".service"));
    assert!(
        units[0].1.contains(" standalone drill --non-interactive\n"),
        "{}",
        units[0].1
    );
    assert!(
        units[1].1.contains("OnCalendar=Sun *-*-* 04:00:00 UTC"),
        "{}",
        units[1].1
    );
    assert!(
        out.stdout.contains("CRON_TZ=UTC\n0 4 * * 0 "),
        "{}",
        out.stdout
    );
    common::systemd_verify(&units);
    bed.file(
        "restore.yml",
        &bed.read("restore.yml").replace("Sun 04:00", "Sunday at 4"),
    );
    let bad = bed.run(&["standalone", "schedule", "show"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("is not a weekday and a time"),
        "{}",
        bad.stderr
    );
}

#[test]
fn with_a_drill_group_the_drill_runs_on_its_sandbox_hosts_alone_and_nothing_else_touches_them() {
    let bed = common::demo();
    bed.file(
        "master.yml",
        &bed.read("master.yml").replace(
            "vars:\n  site:",
            "  drill-1:     { groups: [director, analytics, drill], vars: { dr_root: target/drill-1, service_manager: \"sh bin/democtl\" } }\nvars:\n  site:",
        ),
    );
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for live in ["target/director-1", "target/analytics-1"] {
        assert!(!bed.path(live).exists(), "{live} was touched");
    }
    let e = evidence(&drills(&bed)[0]);
    let hosts: std::collections::BTreeSet<&str> = e["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["controller", "drill-1"].into(), "{e}");
    assert!(sandboxes(&bed.path("target/drill-1")).is_empty());
    // A restore leaves the sandbox host alone.
    let sandbox = tree_digest(&bed.path("target/drill-1"));
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(bed.path("target/director-1/etc/director").exists());
    assert_eq!(tree_digest(&bed.path("target/drill-1")), sandbox);
}

#[test]
fn a_sandbox_director_is_started_and_stopped_and_a_stop_with_nothing_to_stop_is_no_failure() {
    let bed = demo_site();
    // Its stop fails when nothing runs: so it does when the drill first sweeps.
    bed.file(
        "restore.yml",
        &(bed.read("restore.yml")
            + "drill:\n  start: 'echo started > \"$SETUP_DRILL_CONFIG_DIR/.director\"'\n  stop: 'rm \"$SETUP_DRILL_CONFIG_DIR/.director\"'\n  checks:\n    - { name: the sandbox director runs, command: 'cat \"$SETUP_DRILL_CONFIG_DIR/.director\"', expect: started }\n"),
    );
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let e = evidence(&drills(&bed)[0]);
    let site = e["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "the sandbox director runs")
        .cloned()
        .expect("the site's check ran");
    assert_eq!(site["passed"], true, "{site}");
    assert!(out.stdout.contains("sweep_director"), "{}", out.stdout);
    assert_eq!(e["left_behind"], "nothing");
}

#[test]
fn a_check_that_cannot_run_fails_the_drill_though_the_engine_goes_on() {
    let bed = demo_site();
    // The demo's director has no database: an SQL check cannot run there.
    bed.file(
        "restore.yml",
        &(bed.read("restore.yml")
            + "drill:\n  checks:\n    - { name: rows, sql: 'SELECT 1', expect: 1 }\n"),
    );
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("step check_site_director on director-1:"),
        "{}",
        out.stderr
    );
    let e = evidence(&drills(&bed)[0]);
    assert_eq!(e["status"], "failed");
    assert_eq!(e["failed_steps"][0]["step"], "check_site_director", "{e}");
    assert_eq!(e["left_behind"], "nothing");
}

#[test]
fn a_drill_on_an_up_to_date_site_restores_the_newest_week_the_live_site_has_again() {
    // Restored through 2026-11-15 (week 46), and week 47 is not over: no day is new.
    let bed = demo_site();
    let before = tree_digest(&bed.path("target"));
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-18T12:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "the live site is restored through 2026-11-15, so no day is new: the drill restores its newest week, 2026-W46, again"
        ),
        "{}",
        out.stdout
    );
    assert_eq!(
        tree_digest(&bed.path("target")),
        before,
        "the gate state too"
    );
    let e = evidence(&drills(&bed)[0]);
    let days: Vec<&str> = e["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|k| k["name"].as_str())
        .filter(|n| n.starts_with("analytics-"))
        .collect();
    assert_eq!(days.len(), 7, "{days:?}");
    assert!(days[0].starts_with("analytics-2026-11-09.tar"), "{days:?}");
    assert_eq!(e["status"], "passed", "{e}");
    assert_eq!(e["not_exercised"], serde_json::json!([]));
    assert_eq!(e["rpo"]["analytics"]["through"], "2026-11-15");
}

#[test]
fn a_drill_with_no_analytics_day_to_restore_passes_only_in_part_and_says_so_everywhere() {
    let bed = common::demo();
    // No analytics snapshot at all in storage: the drill can restore no day.
    for f in std::fs::read_dir(bed.path("backups")).unwrap().flatten() {
        if f.file_name().to_string_lossy().starts_with("analytics-") {
            std::fs::remove_file(f.path()).unwrap();
        }
    }
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"]);
    assert_eq!(
        out.code, 0,
        "a partial pass exits 0: {}{}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout
            .contains("Drill: PASSED (partial): analytics not exercised: no day to restore"),
        "{}",
        out.stdout
    );
    let d = drills(&bed);
    let e = evidence(&d[0]);
    assert_eq!(e["status"], "partial", "{e}");
    assert_eq!(
        e["not_exercised"],
        serde_json::json!([{"component": "analytics", "why": "no day to restore"}])
    );
    let page = std::fs::read_to_string(d[0].join("report.html")).unwrap();
    assert!(
        page.contains("PASSED (partial): analytics not exercised: no day to restore"),
        "{page}"
    );
    assert!(!page.contains("every check agrees"), "{page}");
    let report: J = serde_json::from_str(
        &std::fs::read_to_string(
            bed.path(".setup/runs")
                .join(d[0].file_name().unwrap())
                .join("report.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(report["drill"]["verdict"], "partial", "{report}");
    let list = bed.run(&["standalone", "drill", "--list"]);
    let id = d[0].file_name().unwrap().to_str().unwrap().to_string();
    let line = list.stdout.lines().find(|l| l.starts_with(&id)).unwrap();
    assert!(line.contains("partial"), "{line}");
}

#[test]
fn a_drill_killed_with_sigkill_is_listed_from_its_journal_and_drill_clean_gives_no_rto() {
    let bed = demo_site();
    bed.file(
        "restore.yml",
        &(bed.read("restore.yml")
            + "drill:\n  checks:\n    - { name: a slow check, on: analytics, command: 'touch \"$SETUP_DRILL_DATA_DIR/.slow\"; sleep 60' }\n"),
    );
    let mut child = bed
        .command(&["standalone", "drill", "--now", "2026-11-30T12:00:00Z"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !tree_digest(&bed.path("target"))
        .iter()
        .any(|e| e.contains(".drill-") && e.contains(".slow"))
    {
        assert!(std::time::Instant::now() < deadline, "the check never ran");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let list = bed.run(&["standalone", "drill", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let d = drills(&bed);
    assert_eq!(d.len(), 1, "{}", list.stdout);
    let id = d[0].file_name().unwrap().to_str().unwrap().to_string();
    let line = list
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("the killed drill is listed: {}", list.stdout));
    assert!(
        line.contains("killed/unfinished") && line.contains("2026-"),
        "{line}"
    );
    // What it left is removed by --clean, which restores nothing and so measures no RTO.
    assert!(!sandboxes(&bed.path("target")).is_empty());
    let out = bed.run(&["standalone", "drill", "--clean"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(sandboxes(&bed.path("target")).is_empty());
    assert!(!out.stdout.contains("RTO"), "{}", out.stdout);
    assert_eq!(drills(&bed).len(), 1, "a clean-up is no drill");
}
