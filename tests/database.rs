//! The director's database restored over SSH into a real PostgreSQL: loaded beside the live one,
//! switched in by rename after the director stops, put back when a later step fails.

use crate::common;

use common::pgbed::PgBed;
use common::sshbed::SshBed;
use common::{Bed, Out};
use serde_json::Value as J;

const BACKUP: &str = "director-config-20261120T020000Z.tar";

struct Site {
    bed: Bed,
    pg: PgBed,
    _ssh: SshBed,
}

impl Site {
    fn live_rows(&self) -> String {
        self.pg
            .sql("director", "SELECT name FROM tenants ORDER BY id")
            .replace('\n', ",")
    }

    fn restore(&self) -> (Out, J) {
        let out = self
            .bed
            .run(&["standalone", "restore", "--report", "report.json"]);
        let report = serde_json::from_str(&self.bed.read("report.json")).unwrap_or(J::Null);
        (out, report)
    }

    /// Every output the run left, to look for the password in.
    fn everything(&self, out: &Out) -> String {
        let mut all = format!("{}{}", out.stdout, out.stderr);
        for e in common::files_under(&self.bed.path(".setup")) {
            all += &std::fs::read_to_string(e).unwrap_or_default();
        }
        all + &self.bed.read("report.json")
    }
}

/// A DR director over SSH, running on an old configuration and database, and a configuration
/// backup from the source site that carries `director.dump` (`dump` may spoil it first).
fn site(spoil: &str) -> Site {
    site_with(spoil, "", "db_owner: setupowner, ")
}

/// `site`, with more SQL run in the source database before it is dumped, and `owner` as the
/// director's db_owner variable (or none).
fn site_with(spoil: &str, source_sql: &str, owner: &str) -> Site {
    let pg = PgBed::start();
    let ssh = SshBed::start(1);
    let bed = Bed::new();
    let root = bed.path("site");
    let run = bed.path("run");
    std::fs::create_dir_all(root.join("etc/director")).unwrap();
    std::fs::create_dir_all(&run).unwrap();
    std::fs::write(root.join("etc/director/director.conf"), "site = old\n").unwrap();
    std::fs::write(run.join("director.state"), "running\n").unwrap();
    let ctl = common::service_stub(&bed, &run);
    let vars = format!(
        "vars: {{ dr_root: {}, service_manager: 'sh {}', db_name: director, db_user: setupdb, {owner}db_host: 127.0.0.1, db_port: {}, ",
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

    // The source site's database, dumped; the DR site's live one, older.
    pg.sql("postgres", "CREATE DATABASE source_director");
    pg.sql(
        "source_director",
        "CREATE TABLE tenants (id int PRIMARY KEY, name text); INSERT INTO tenants VALUES (1, 'acme'), (2, 'globex')",
    );
    if !source_sql.is_empty() {
        pg.sql("source_director", source_sql);
    }
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
        "set -e; cd {stage}; {spoil}; tar -cf ../backups/{BACKUP} director.conf director.dump; cd ../backups; sha256sum {BACKUP} > {BACKUP}.sha256",
        stage = stage.display()
    );
    let ok = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap()
        .success();
    assert!(ok, "{script}");
    // Signed as the DC signs: a broken dump from the DC itself is caught by what comes next.
    common::sign_backup(&bed.path("backups"), BACKUP, "2026-11-20T02:00:00Z");
    Site { bed, pg, _ssh: ssh }
}

#[test]
fn the_source_sites_rows_are_there_after_the_restore() {
    let s = site("true");
    assert_eq!(s.live_rows(), "old-site");
    let (out, report) = s.restore();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(s.live_rows(), "acme,globex");
    assert_eq!(
        s.bed.read("site/etc/director/director.conf"),
        "site = dc-main\n"
    );
    assert!(
        !s.bed.path("site/etc/director/director.dump").exists(),
        "the dump is not left among the configuration files"
    );
    assert_eq!(s.bed.read("run/director.state"), "running\n");
    // The previous database is kept under another name, and dumped as it was.
    let dbs = s.pg.databases();
    let kept: Vec<&String> = dbs
        .iter()
        .filter(|d| d.starts_with("director_pre_"))
        .collect();
    assert_eq!(kept.len(), 1, "{dbs:?}");
    assert_eq!(s.pg.sql(kept[0], "SELECT name FROM tenants"), "old-site");
    assert!(!dbs.iter().any(|d| d.ends_with("_setup_new")), "{dbs:?}");
    let dumps: Vec<_> = std::fs::read_dir(s.bed.path("site/var/lib/setup/pre-restore"))
        .unwrap()
        .collect();
    assert_eq!(dumps.len(), 1);
    assert!(
        out.stdout.contains("database director answers: 1 table(s)"),
        "{}",
        out.stdout
    );
    assert_eq!(report["status"], "done");
    assert!(
        !s.everything(&out).contains(&s.pg.password),
        "the password was shown"
    );
}

#[test]
fn a_failure_after_the_switch_puts_the_old_database_and_files_back() {
    let s = site("true");
    s.bed.file("run/fail-start", "");
    let (out, report) = s.restore();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("port 8443 in use"), "{}", out.stdout);
    assert_eq!(s.live_rows(), "old-site");
    assert_eq!(
        s.bed.read("site/etc/director/director.conf"),
        "site = old\n"
    );
    assert_eq!(
        s.bed.read("run/director.state"),
        "running\n",
        "the director runs again"
    );
    let undone: Vec<String> = report["rollback"]["undone"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert!(
        undone
            .iter()
            .any(|u| u.contains("put the database director back")),
        "{undone:?}"
    );
    assert_eq!(report["rollback"]["failed"], false, "{report}");
    let dbs = s.pg.databases();
    assert!(
        dbs.iter().any(|d| d.starts_with("director_failed_")),
        "{dbs:?}"
    );
    assert!(
        !s.everything(&out).contains(&s.pg.password),
        "the password was shown"
    );
}

#[test]
fn a_dump_that_does_not_load_stops_the_restore_before_anything_is_stopped() {
    // A dump cut short inside a sound archive whose checksum matches.
    let s = site("head -c 600 director.dump > cut && mv cut director.dump");
    let (out, _) = s.restore();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("load_database"), "{}", out.stdout);
    nothing_changed(&s);
    // verify finds it without a host: the archive and its checksum are sound, the dump is not.
    let out = s.bed.run(&["standalone", "verify"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let want = format!(
        "BAD {BACKUP}: signed by backup@demo-dc, sha256 verified, 2 entries checked, manifest matches, but director.dump is not a readable dump"
    );
    assert!(out.stdout.contains(&want), "{}", out.stdout);
}

#[test]
fn verify_lists_a_sound_dump() {
    let s = site("true");
    let out = s.bed.run(&["standalone", "verify"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("director.dump lists"), "{}", out.stdout);
}

/// Nothing of the director's live side changed: rows, service, configuration, no new database.
fn nothing_changed(s: &Site) {
    assert_eq!(s.live_rows(), "old-site");
    assert_eq!(s.bed.read("run/director.state"), "running\n");
    assert_eq!(
        s.bed.read("site/etc/director/director.conf"),
        "site = old\n"
    );
    let dbs = s.pg.databases();
    assert!(
        !dbs.iter()
            .any(|d| d.contains("_setup_new") || d.contains("_pre_")),
        "{dbs:?}"
    );
}

#[test]
fn a_signed_dump_that_would_run_a_program_is_never_loaded() {
    // A compromised DC signs a dump whose function runs a shell command when called.
    let s = site_with(
        "true",
        "CREATE FUNCTION public.tidy() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch /tmp/setup-pwned'''; END $$",
        "db_owner: setupowner, ",
    );
    let (out, _) = s.restore();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("holds what a configuration backup never needs")
            && out.stdout.contains("a COPY that runs a program"),
        "{}",
        out.stdout
    );
    nothing_changed(&s);
}

#[test]
fn a_dump_is_never_loaded_as_a_superuser() {
    // No db_owner, and the live database belongs to the superuser that connects.
    let s = site_with("true", "", "");
    let (out, _) = s.restore();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("a superuser") && out.stdout.contains("db_owner"),
        "{}",
        out.stdout
    );
    nothing_changed(&s);
    // Owned by its own role, the database is loaded as that role: its tables belong to it.
    s.pg.sql("postgres", "ALTER DATABASE director OWNER TO setupowner");
    let (out, _) = s.restore();
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("as the role setupowner"),
        "{}",
        out.stdout
    );
    assert_eq!(
        s.pg.sql(
            "director",
            "SELECT tableowner FROM pg_tables WHERE tablename = 'tenants'"
        ),
        "setupowner"
    );
    // The live database's dump kept before the switch, the journal and the report hold the
    // director's data: only their owner reads them.
    use std::os::unix::fs::PermissionsExt;
    let mut private = common::files_under(&s.bed.path("site/var/lib/setup/pre-restore"));
    assert_eq!(private.len(), 1, "{private:?}");
    private.push(s.bed.path("report.json"));
    private.extend(
        common::files_under(&s.bed.path(".setup/runs"))
            .into_iter()
            .filter(|p| p.ends_with("journal.jsonl") || p.ends_with("report.json")),
    );
    for f in &private {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
}

#[test]
fn check_probes_the_database_server_with_the_runs_credentials_and_changes_nothing() {
    let s = site("true");
    let before = s.pg.databases();
    let out = s.bed.run(&[
        "standalone",
        "restore",
        "--check",
        "--now",
        "2026-11-23T03:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("the server answers (as setupdb); database director exists"),
        "{}",
        out.stdout
    );
    assert_eq!(s.pg.databases(), before);
    assert!(!s.everything(&out).contains(&s.pg.password));
    // A wrong password is a failed probe, named as such, and the value never shown.
    let out = s.bed.run(&[
        "standalone",
        "restore",
        "--check",
        "--now",
        "2026-11-23T03:00:00Z",
        "--set",
        "db_password=Wrong-Probe-Password-1",
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("FAIL database"), "{}", out.stdout);
    assert!(!s.everything(&out).contains("Wrong-Probe-Password-1"));
}

/// The names in a folder of the site that start with `prefix`, sorted.
fn named(s: &Site, dir: &str, prefix: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(s.bed.path(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(prefix))
        .collect();
    names.sort();
    names
}

#[test]
fn restores_keep_the_last_two_copies_aside_and_say_what_they_removed() {
    let s = site("true");
    let pre_dbs = |s: &Site| -> Vec<String> {
        s.pg.databases()
            .into_iter()
            .filter(|d| d.starts_with("director_pre_"))
            .collect()
    };
    let mut outs = Vec::new();
    for force in [false, true, true] {
        let mut args = vec!["standalone", "restore"];
        if force {
            args.push("--force");
        }
        let out = s.bed.run(&args);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        outs.push(out);
    }
    let folders = named(&s, "site/etc", "director.pre-restore-");
    assert_eq!(folders.len(), 2, "{folders:?}");
    let dbs = pre_dbs(&s);
    assert_eq!(dbs.len(), 2, "{dbs:?}");
    let dumps = named(&s, "site/var/lib/setup/pre-restore", "director-");
    assert_eq!(dumps.len(), 2, "{dumps:?}");
    // The first restore's copies went, and the third run's summary names each.
    let runs = named(&s, ".setup/runs", "");
    let oldest = &runs[0];
    let oldest_db = format!("director_pre_{}", oldest.to_lowercase().replace('-', "_"));
    assert!(!dbs.contains(&oldest_db), "{dbs:?}");
    assert!(!folders.iter().any(|f| f.ends_with(oldest.as_str())));
    let third = &outs[2].stdout;
    let removed: Vec<&str> = third
        .lines()
        .filter(|l| l.starts_with("Removed on "))
        .collect();
    assert!(
        removed
            .iter()
            .any(|l| l.contains("(older than the last 2 kept aside)")
                && l.contains(&format!("director.pre-restore-{oldest}"))
                && l.contains(&format!("director-{oldest}.dump"))),
        "{third}"
    );
    assert!(
        removed
            .iter()
            .any(|l| l.contains(&format!("database {oldest_db}"))),
        "{third}"
    );
    // The second run had nothing to remove, and said nothing of it.
    assert!(
        !outs[1].stdout.contains("Removed on "),
        "{}",
        outs[1].stdout
    );
    // status lists what is kept.
    let status = s.bed.run(&["standalone", "status"]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    for kept in dbs.iter().chain(folders.iter()) {
        assert!(
            status.stdout.contains(kept.as_str()),
            "{kept}: {}",
            status.stdout
        );
    }
    // The answer keep_pre_restore: one kept; an invalid one is refused before anything runs.
    let out = s.bed.run(&[
        "standalone",
        "restore",
        "--force",
        "--set",
        "keep_pre_restore=1",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(pre_dbs(&s).len(), 1);
    assert_eq!(named(&s, "site/etc", "director.pre-restore-").len(), 1);
    let before = s.pg.databases();
    let out = s.bed.run(&[
        "standalone",
        "restore",
        "--force",
        "--set",
        "keep_pre_restore=0",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("keep_pre_restore"), "{}", out.stderr);
    assert_eq!(s.pg.databases(), before);
}

#[test]
fn failed_restores_keep_the_last_two_failed_copies_aside() {
    let s = site("true");
    let mut last = String::new();
    for _ in 0..3 {
        s.bed.file("run/fail-start", "");
        let out = s.bed.run(&["standalone", "restore", "--force"]);
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        last = out.stdout;
    }
    assert_eq!(s.live_rows(), "old-site");
    let failed: Vec<String> =
        s.pg.databases()
            .into_iter()
            .filter(|d| d.starts_with("director_failed_"))
            .collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert_eq!(named(&s, "site/etc", "director.failed-").len(), 2);
    let runs = named(&s, ".setup/runs", "");
    let oldest = runs[0].to_lowercase().replace('-', "_");
    assert!(
        last.lines().any(|l| l.starts_with("Removed on ")
            && l.contains(&format!("database director_failed_{oldest}"))),
        "{last}"
    );
    assert!(
        last.lines()
            .any(|l| l.starts_with("Removed on ")
                && l.contains(&format!("director.failed-{}", runs[0]))),
        "{last}"
    );
}
