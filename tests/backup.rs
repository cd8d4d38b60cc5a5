//! The backup side end to end through the binary: the DC demo backs up (compressed, encrypted, with
//! sidecar and manifest), the DR demo restores what it wrote, and each refusal says why.

use crate::common;

use common::{Bed, Out, SIGNING_KEY, copy_dir, repo};
use serde_json::Value as J;

/// The DC demo in `demo-dc/` and the DR demo in `dr/`, side by side, the DR side reading the DC's store.
fn sites() -> Bed {
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
    copy_dir(&dc.join("site"), &bed.path("demo-dc/site"));
    // One storage, store/, named by the answers (they win over backup.yml's two targets).
    bed.file(
        "demo-dc/answers.yml",
        "storage.type: local\nstorage.local.path: store\n",
    );
    // These tests date the DC's files themselves: a day's files are those changed that day.
    let spec = bed
        .read("demo-dc/backup.yml")
        .replace("  select: named\n", "");
    bed.file("demo-dc/backup.yml", &spec);
    // Analytics files written on the day before the run's clock, and one written that day.
    bed.file(
        "demo-dc/site/analytics-1/srv/analytics/indices/2026-11-22.json",
        "{\"events\": 4242, \"marker\": \"PLAINTEXT-MARKER-4242\"}\n",
    )
    .file(
        "demo-dc/site/analytics-1/srv/analytics/indices/2026-11-23.json",
        "{\"events\": 1}\n",
    );
    let touch = |file: &str, when: &str| {
        let ok = std::process::Command::new("touch")
            .args(["-d", when])
            .arg(bed.path(file))
            .status()
            .unwrap()
            .success();
        assert!(ok);
    };
    touch(
        "demo-dc/site/analytics-1/srv/analytics/indices/2026-11-22.json",
        "2026-11-22 13:00:00Z",
    );
    touch(
        "demo-dc/site/analytics-1/srv/analytics/indices/2026-11-23.json",
        "2026-11-23 01:00:00Z",
    );
    touch(
        "demo-dc/site/analytics-1/srv/analytics/indices/latest.json",
        "2026-11-20 01:00:00Z",
    );
    bed.file(
        "demo-dc/site/director-1/etc/director/director.conf",
        "site = dc-main\nsecret_marker = PLAINTEXT-MARKER-CONF\n",
    );
    let dr = repo().join("inventories/demo");
    std::fs::create_dir_all(bed.path("dr")).unwrap();
    for f in [
        "master.yml",
        "restore.yml",
        "answers.yml",
        "allowed_signers",
    ] {
        std::fs::copy(dr.join(f), bed.path(&format!("dr/{f}"))).unwrap();
    }
    // The DR site opens what the DC encrypted with the demo identity.
    let answers = bed.read("dr/answers.yml") + "age_identity: ../demo-dc/demo-identity.txt\n";
    bed.file("dr/answers.yml", &answers);
    copy_dir(&dr.join("bin"), &bed.path("dr/bin"));
    bed
}

fn backup(bed: &Bed, extra: &[&str]) -> Out {
    let mut args = vec![
        "-C",
        "demo-dc",
        "standalone",
        "backup",
        "--now",
        "2026-11-23T02:00:00Z",
    ];
    args.extend(extra);
    bed.run(&args)
}

fn restore(bed: &Bed, extra: &[&str]) -> Out {
    let mut args = vec![
        "-C",
        "dr",
        "standalone",
        "restore",
        "--now",
        "2026-11-23T03:00:00Z",
        "--set",
        "storage.local.path=../demo-dc/store",
        "--set",
        "config_backup=latest",
    ];
    args.extend(extra);
    bed.run(&args)
}

fn stored(bed: &Bed) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(bed.path("demo-dc/store"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn what_the_dc_backs_up_the_dr_site_restores() {
    let bed = sites();
    let out = backup(&bed, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let config = "director-config-20261123T020000Z.tar.zst.age";
    let day = "analytics-2026-11-22.tar.zst.age";
    assert_eq!(
        stored(&bed),
        [
            day.to_string(),
            format!("{day}.manifest.json"),
            format!("{day}.manifest.json.sig"),
            format!("{day}.sha256"),
            config.to_string(),
            format!("{config}.manifest.json"),
            format!("{config}.manifest.json.sig"),
            format!("{config}.sha256"),
        ]
    );
    // Encrypted: no plaintext reaches storage.
    for name in [config, day] {
        let bytes = std::fs::read(bed.path(&format!("demo-dc/store/{name}"))).unwrap();
        assert!(bytes.starts_with(b"age-encryption.org/v1"), "{name}");
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("PLAINTEXT-MARKER"), "{name} holds plaintext");
    }
    let m: J =
        serde_json::from_str(&bed.read(&format!("demo-dc/store/{day}.manifest.json"))).unwrap();
    assert_eq!(m["kind"], "analytics");
    assert_eq!(m["day"], "2026-11-22");
    assert_eq!(m["compression"], "zstd");
    assert_eq!(m["source_host"], "analytics-1");
    let sidecar = bed.read(&format!("demo-dc/store/{day}.sha256"));
    assert_eq!(
        sidecar.split_whitespace().next().unwrap(),
        m["stored"]["sha256"]
    );
    // The work folders are gone.
    assert!(
        !bed.path("demo-dc/site/director-1/var/tmp/setup-backup")
            .read_dir()
            .unwrap()
            .any(|_| true)
    );

    let out = restore(&bed, &["--report", "report.json"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        bed.read("dr/target/director-1/etc/director/director.conf"),
        bed.read("demo-dc/site/director-1/etc/director/director.conf")
    );
    assert_eq!(
        bed.read("dr/target/director-1/etc/director/tenants.conf"),
        bed.read("demo-dc/site/director-1/etc/director/tenants.conf")
    );
    // `latest` is resolved once: the marker and the RPO name the backup restored.
    assert!(
        bed.read("dr/target/director-1/etc/director/RESTORED-BY-SETUP")
            .contains("director-config-20261123T020000Z.tar.zst.age")
    );
    let report: J = serde_json::from_str(&bed.read("report.json")).unwrap();
    assert_eq!(report["rpo"]["config"]["as_of"], "2026-11-23T02:00:00Z");
    assert!(
        !bed.path("dr/target/director-1/etc/director/cache.tmp")
            .exists(),
        "excluded"
    );
    // Only the files of the day before the backup.
    let data = "dr/target/analytics-1/var/lib/analytics/indices";
    assert!(
        bed.read(&format!("{data}/2026-11-22.json"))
            .contains("4242")
    );
    assert!(!bed.path(&format!("{data}/2026-11-23.json")).exists());
    assert!(!bed.path(&format!("{data}/latest.json")).exists());

    // list takes each backup's time from its manifest.
    let list = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "list",
        "--json",
        "--now",
        "2026-11-23T05:00:00Z",
    ]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let v: J = serde_json::from_str(&list.stdout).unwrap();
    let row = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == config)
        .unwrap()
        .clone();
    assert_eq!(row["manifest"], true);
    assert_eq!(row["taken_at"], "2026-11-23T02:00:00Z");
    assert_eq!(row["age_seconds"], 3 * 3600);

    // verify reads the same objects, decrypted.
    let verify_with = |more: &[&str]| {
        let mut args = vec![
            "-C",
            "dr",
            "standalone",
            "verify",
            "--set",
            "storage.local.path=../demo-dc/store",
            "--set",
            "config_backup=latest",
        ];
        args.extend_from_slice(more);
        bed.run(&args)
    };
    let verify = || verify_with(&[]);
    let v = verify();
    assert_eq!(v.code, 0, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains("2 backup(s) verified"), "{}", v.stdout);
    assert!(v.stdout.contains("manifest matches"), "{}", v.stdout);
    // In the DC's own folder (no restore.yml names a configuration backup) the newest one is
    // verified too, as a restore would read it.
    let dc = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "verify",
        "--set",
        "age_identity=demo-identity.txt",
        "--set",
        "trusted_signers=../dr/allowed_signers",
    ]);
    assert_eq!(dc.code, 0, "{}{}", dc.stdout, dc.stderr);
    assert!(dc.stdout.contains("2 backup(s) verified"), "{}", dc.stdout);
    assert!(
        dc.stdout.contains(&format!("ok  {config}")),
        "{}",
        dc.stdout
    );
    // Without the identity that opens them the encrypted backups cannot be checked: a missing
    // answer (exit 2), said before anything is downloaded, never a bad backup.
    let without = verify_with(&["--set", "age_identity="]);
    assert_eq!(without.code, 2, "{}{}", without.stdout, without.stderr);
    assert!(
        without.stderr.contains("age_identity"),
        "{}",
        without.stderr
    );
    assert!(!without.stdout.contains("BAD"), "{}", without.stdout);
    let left: Vec<_> = std::fs::read_dir(bed.path("dr/.setup"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("verify-"))
        .collect();
    assert!(left.is_empty(), "a scratch folder was left: {left:?}");
    // A stored byte changed and its sidecar rewritten to match: the manifest and age's
    // authentication still catch it.
    let path = bed.path(&format!("demo-dc/store/{day}"));
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len() - 40;
    bytes[n] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    bed.file(
        &format!("demo-dc/store/{day}.sha256"),
        &format!("{digest}  {day}\n"),
    );
    let v = verify();
    assert_eq!(v.code, 1, "{}{}", v.stdout, v.stderr);
    assert!(v.stdout.contains(&format!("BAD {day}")), "{}", v.stdout);
}

#[test]
fn a_day_is_backed_up_once_unless_forced() {
    let bed = sites();
    assert_eq!(backup(&bed, &["--only", "analytics"]).code, 0);
    let before = std::fs::read(bed.path("demo-dc/store/analytics-2026-11-22.tar.zst.age")).unwrap();
    let again = backup(&bed, &["--only", "analytics"]);
    assert_eq!(again.code, 1, "{}", again.stdout);
    assert!(
        again
            .stdout
            .contains("`analytics-2026-11-22.tar.zst.age` is already in")
            && again.stdout.contains("--force"),
        "{}",
        again.stdout
    );
    assert_eq!(
        std::fs::read(bed.path("demo-dc/store/analytics-2026-11-22.tar.zst.age")).unwrap(),
        before
    );
    let forced = backup(&bed, &["--only", "analytics", "--force"]);
    assert_eq!(forced.code, 0, "{}{}", forced.stdout, forced.stderr);
}

#[test]
fn a_wrong_or_missing_identity_stops_the_restore_before_anything_is_stopped() {
    let bed = sites();
    assert_eq!(backup(&bed, &["--only", "config"]).code, 0);
    bed.file("dr/target/run/director.state", "running\n");
    // Another identity.
    bed.file(
        "dr/other-identity.txt",
        "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33\n",
    );
    let out = restore(
        &bed,
        &[
            "--only",
            "config",
            "--set",
            "age_identity=other-identity.txt",
        ],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("was not encrypted to the identity"),
        "{}",
        out.stdout
    );
    assert_eq!(bed.read("dr/target/run/director.state"), "running\n");
    assert!(!bed.path("dr/target/director-1/etc/director").exists());
    // None at all: the answer to give is named.
    let answers = bed
        .read("dr/answers.yml")
        .replace("age_identity", "# age_identity");
    bed.file("dr/answers.yml", &answers);
    // Named up front, as a missing answer (exit 2), before any host is touched.
    let out = restore(&bed, &["--only", "config"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("1 answer(s) missing"), "{}", out.stderr);
    assert!(out.stderr.contains("SETUP_AGE_IDENTITY"), "{}", out.stderr);
    assert_eq!(bed.read("dr/target/run/director.state"), "running\n");
    // The same for the analytics of an encrypted site.
    let out = restore(&bed, &["--only", "analytics"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    // `--check` names it the same way: a check that passes is a run that does not stop for it.
    for only in ["config", "analytics"] {
        let out = restore(&bed, &["--only", only, "--check"]);
        assert_eq!(out.code, 2, "{only}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("1 answer(s) missing") && out.stderr.contains("SETUP_AGE_IDENTITY"),
            "{only}: {}",
            out.stderr
        );
    }
    assert_eq!(bed.read("dr/target/run/director.state"), "running\n");
}

#[test]
fn a_backup_waits_for_no_restore_on_the_same_host() {
    let bed = sites();
    let lock = bed.path("demo-dc/site/director-1/var/lock/setup.lock");
    std::fs::create_dir_all(&lock).unwrap();
    std::fs::write(
        lock.join("owner.json"),
        r#"{"run":"20261101T000000Z-1","controller":"dr-controller","pid":1,"pid_start":1,"operation":"restore","started":"2026-11-01T00:00:00Z"}"#,
    )
    .unwrap();
    let out = backup(&bed, &[]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("restore") && all.contains("dr-controller"),
        "{all}"
    );
    assert!(
        !bed.path("demo-dc/store").exists() || stored(&bed).is_empty(),
        "nothing was uploaded"
    );
}

/// The whole loop on real servers: a DC sshd host with a real PostgreSQL database, configuration
/// files and analytics data backs up to S3 (s3s-fs); a DR site restores from there over SSH into its
/// own database and folders. Rows and files match, and S3 holds no plaintext.
#[test]
fn round_trip_over_ssh_through_s3_with_a_real_database() {
    round_trip("s3", "data");
}

#[test]
fn round_trip_over_ssh_through_password_sftp_with_a_real_database() {
    round_trip("sftp-password", "store");
}

fn round_trip(kind: &'static str, data: &str) {
    use common::pgbed::PgBed;
    use common::sshbed::SshBed;
    use common::storagebed::StorageBed;
    let pg = PgBed::start();
    let ssh = SshBed::start(2);
    let s3 = StorageBed::start(kind);
    let bed = Bed::new();
    let dc_root = bed.path("dc-root");
    let dr_root = bed.path("dr-root");
    let run = bed.path("run");
    bed.file(
        "dc-root/etc/director/director.conf",
        "site = dc-main\nmarker = PLAINTEXT-MARKER-S3\n",
    )
    .file(
        "dc-root/srv/analytics/indices/2026-11-22.json",
        "{\"marker\": \"PLAINTEXT-MARKER-S3\"}\n",
    );
    let ctl = common::service_stub(&bed, &run);
    let ok = std::process::Command::new("touch")
        .args(["-d", "2026-11-22 10:00:00Z"])
        .arg(bed.path("dc-root/srv/analytics/indices/2026-11-22.json"))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    pg.sql("postgres", "CREATE DATABASE director");
    pg.sql(
        "director",
        "CREATE TABLE tenants (id int PRIMARY KEY, name text); INSERT INTO tenants VALUES (1, 'acme'), (2, 'PLAINTEXT-MARKER-S3')",
    );
    let db = |name: &str| {
        format!(
            "db_name: {name}, db_user: setupdb, db_owner: setupowner, db_host: 127.0.0.1, db_port: {}, ",
            pg.port
        )
    };
    // The DC is host1, the DR site host2: each master.yml names only its own.
    let master = |root: &std::path::Path, extra: &str, host: &str| {
        let other = if host == "host1" {
            "  host2:"
        } else {
            "  host1:"
        };
        ssh.master()
            .lines()
            .filter(|l| !l.starts_with(other))
            .map(|l| format!("{l}\n"))
            .collect::<String>()
            .replace("groups: [bed]", "groups: [director, analytics]")
            .replace(
                "vars: { ",
                &format!(
                    "vars: {{ dr_root: {}, service_manager: 'sh {}', {extra}",
                    root.display(),
                    ctl.display()
                ),
            )
    };
    let secrets = format!(
        "{}db_password: {}\nage_identity: {}\n{}",
        s3.answers(),
        pg.password,
        repo()
            .join("inventories/demo-dc/demo-identity.txt")
            .display(),
        common::trust_answer()
    );
    bed.file("dc/master.yml", &master(&dc_root, "", "host1"))
        .file(
            "dc/backup.yml",
            &format!(
                "config: {{ dir: /etc/director, database: {{ name: director, user: setupdb, host: 127.0.0.1, port: '{}' }} }}\nanalytics: {{ data_dir: /srv/analytics }}\nrecipients: [age19dtdgtfz30hrkzk8h6hpe64y6rh22leewmr63wgycedjzudnmqts0lrxzs]\nsigning_key: {SIGNING_KEY}\n",
                pg.port
            ),
        )
        .file("dc/answers.yml", &secrets)
        .file("dr/master.yml", &master(&dr_root, &db("director_dr"), "host2"))
        .file("dr/restore.yml", "config_backup: latest\ncomponents: [config, analytics]\n")
        .file("dr/answers.yml", &secrets);
    for f in ["dc/answers.yml", "dr/answers.yml"] {
        std::fs::set_permissions(
            bed.path(f),
            std::os::unix::fs::PermissionsExt::from_mode(0o600),
        )
        .unwrap();
    }
    let out = bed.run(&[
        "-C",
        "dc",
        "standalone",
        "backup",
        "--now",
        "2026-11-23T02:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // What S3 keeps on disk holds no plaintext.
    let mut seen = 0;
    for f in common::files_under(&s3.dir.path().join(data)) {
        let bytes = std::fs::read(&f).unwrap();
        seen += 1;
        assert!(
            !String::from_utf8_lossy(&bytes).contains("PLAINTEXT-MARKER"),
            "{} holds plaintext",
            f.display()
        );
    }
    assert!(seen >= 6, "{seen} stored files");
    // The manifest counts the rows of each table at the source.
    let manifest = common::files_under(&s3.dir.path().join(data))
        .into_iter()
        .find(|f| {
            let n = f.to_string_lossy();
            n.contains("director-config-") && n.ends_with(".manifest.json")
        })
        .expect("a config manifest");
    let m: J = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    assert_eq!(m["database"], "director");
    assert_eq!(m["tables"]["public.tenants"], 2, "{m}");

    let out = bed.run(&[
        "-C",
        "dr",
        "standalone",
        "restore",
        "--now",
        "2026-11-23T03:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        pg.sql("director_dr", "SELECT name FROM tenants ORDER BY id"),
        "acme\nPLAINTEXT-MARKER-S3"
    );
    assert_eq!(
        bed.read("dr-root/etc/director/director.conf"),
        bed.read("dc-root/etc/director/director.conf")
    );
    assert_eq!(
        bed.read("dr-root/var/lib/analytics/indices/2026-11-22.json"),
        bed.read("dc-root/srv/analytics/indices/2026-11-22.json")
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !all.contains(&pg.password)
            && !all.contains("setup-secret-key-s3")
            && !all.contains("setup-sftp-pw")
    );
}

#[test]
fn prune_keeps_what_the_retention_says_and_whole_analytics_weeks() {
    let bed = sites();
    // 20 days of config backups and analytics days, up to 2026-11-23 (a Monday), signed by the DC.
    let store = bed.path("demo-dc/store");
    for i in 4..=23 {
        for (name, taken) in [
            (
                format!("director-config-202611{i:02}T020000Z.tar.zst.age"),
                format!("2026-11-{i:02}T02:00:00Z"),
            ),
            (
                format!("analytics-2026-11-{i:02}.tar.zst.age"),
                format!("2026-11-{:02}T00:30:00Z", i + 1),
            ),
        ] {
            bed.file(&format!("demo-dc/store/{name}"), "x")
                .file(&format!("demo-dc/store/{name}.sha256"), "x");
            common::sign_backup(&store, &name, &taken);
        }
    }
    // What a storage writer adds: junk named for 2099 to fill the retention, an unsigned backup
    // dated ahead, an unrelated report whose name starts like a snapshot.
    let mut junk = Vec::new();
    for m in 1..=7 {
        junk.push(format!("director-config-2099{m:02}01T000000Z.x"));
    }
    junk.push("director-config-20990101T000000Z.tar.zst.age".into());
    junk.push("analytics-2026-11-20-quarterly-report.pdf".into());
    junk.push("analytics-2099-01-01.tar.zst.age".into());
    for name in &junk {
        bed.file(&format!("demo-dc/store/{name}"), "");
    }
    bed.file(
        "demo-dc/store/director-config-20990101T000000Z.tar.zst.age.manifest.json",
        "{}",
    );
    bed.file(
        "demo-dc/backup.yml",
        &bed.read("demo-dc/backup.yml").replace(
            "retention: { daily: 7, weekly: 4, monthly: 6 }",
            "retention: { daily: 3, weekly: 2 }",
        ),
    );
    let prune = |extra: &[&str]| {
        let mut a = vec![
            "-C",
            "demo-dc",
            "standalone",
            "prune",
            "--now",
            "2026-11-23T12:00:00Z",
        ];
        a.extend(extra);
        bed.run(&a)
    };
    let before = stored(&bed).len();
    let check = prune(&["--check"]);
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("would delete director-config-20261119T020000Z.tar.zst.age"),
        "{}",
        check.stdout
    );
    assert_eq!(stored(&bed).len(), before, "--check deletes nothing");
    let out = prune(&[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for name in &junk {
        assert!(
            out.stdout.contains(&format!("  left    {name}: ")),
            "{name}: {}",
            out.stdout
        );
    }
    let left: Vec<String> = stored(&bed)
        .into_iter()
        .filter(|n| !junk.iter().any(|j| n.starts_with(j.as_str())))
        .collect();
    let objects: Vec<&String> = left
        .iter()
        .filter(|n| {
            !n.ends_with(".sha256") && !n.ends_with(".manifest.json") && !n.ends_with(".sig")
        })
        .collect();
    // Config: 23, 22, 21 (daily); the two newest weeks, W48 and W47, are kept by them already.
    let configs: Vec<&&String> = objects
        .iter()
        .filter(|n| n.starts_with("director-config-"))
        .collect();
    assert_eq!(
        configs.iter().map(|n| &n[16..24]).collect::<Vec<_>>(),
        ["20261121", "20261122", "20261123"]
    );
    // Analytics: W46 and W47 whole (9..22), and the current week's 23.
    let days: Vec<&&String> = objects
        .iter()
        .filter(|n| n.starts_with("analytics-"))
        .collect();
    assert_eq!(days.len(), 15, "{days:?}");
    assert!(days.iter().all(|d| d.as_str() >= "analytics-2026-11-09"));
    // Each kept object keeps its sidecar, manifest and signature; nothing deleted leaves one behind.
    assert_eq!(left.len(), objects.len() * 4, "{left:?}");
    // The junk is all still there: not counted, not deleted.
    let all = stored(&bed);
    assert!(junk.iter().all(|j| all.contains(j)), "{all:?}");
}

#[test]
fn a_retention_of_zero_is_refused() {
    let bed = sites();
    bed.file(
        "demo-dc/backup.yml",
        &bed.read("demo-dc/backup.yml").replace(
            "retention: { daily: 7, weekly: 4, monthly: 6 }",
            "retention: { daily: 7, weekly: 0 }",
        ),
    );
    for args in [&["standalone", "prune"][..], &["standalone", "backup"][..]] {
        let mut a = vec!["-C", "demo-dc"];
        a.extend(args);
        let out = bed.run(&a);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("retention.weekly is 0"),
            "{}",
            out.stderr
        );
    }
    assert!(!bed.path("demo-dc/store").exists(), "nothing was backed up");
}

#[test]
fn schedules_are_utc_units_that_systemd_accepts_and_a_bad_time_is_refused() {
    let bed = sites();
    bed.file(
        "demo-dc/backup.yml",
        &(bed.read("demo-dc/backup.yml") + "schedule: { config: \"03:15\" }\n"),
    );
    let out = bed.run(&["-C", "demo-dc", "standalone", "schedule", "show"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let units = common::shown_units(&out.stdout);
    // Named per folder: setup-backup-<8 hex digits of the folder's path>-<component>.
    let names: Vec<String> = units
        .iter()
        .map(|u| {
            let (head, tail) = u.0.split_at(22);
            assert!(
                head.starts_with("setup-backup-")
                    && head[13..21].bytes().all(|b| b.is_ascii_hexdigit())
                    && head.ends_with('-'),
                "{}",
                u.0
            );
            tail.to_string()
        })
        .collect();
    assert_eq!(
        names,
        [
            "config.service",
            "config.timer",
            "analytics.service",
            "analytics.timer"
        ]
    );
    // A second DC folder on the same machine has timers of its own.
    copy_dir(&bed.path("demo-dc"), &bed.path("second-dc"));
    let second = bed.run(&["-C", "second-dc", "standalone", "schedule", "show"]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let other = common::shown_units(&second.stdout);
    assert!(units.iter().all(|(n, _)| other.iter().all(|(m, _)| m != n)));
    let timer = &units[1].1;
    for needle in [
        "OnCalendar=*-*-* 03:15:00 UTC",
        "RandomizedDelaySec=",
        "Persistent=true",
    ] {
        assert!(timer.contains(needle), "{needle}: {timer}");
    }
    assert!(units[3].1.contains("OnCalendar=*-*-* 00:30:00 UTC"));
    assert!(
        out.stdout.contains("CRON_TZ=UTC\n15 3 * * * "),
        "{}",
        out.stdout
    );
    common::systemd_verify(&units);
    bed.file(
        "demo-dc/backup.yml",
        &bed.read("demo-dc/backup.yml")
            .replace("\"03:15\"", "\"3pm\""),
    );
    let bad = bed.run(&["-C", "demo-dc", "standalone", "schedule", "show"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(
        bad.stderr.contains("`3pm` is not a time of day"),
        "{}",
        bad.stderr
    );
}

#[test]
fn a_dc_folder_whose_path_a_unit_or_crontab_would_misread_is_refused() {
    let bed = sites();
    for odd in ["dc\nExecStartPre=/bin/sh -c id", "dc%h", "dc with space"] {
        copy_dir(&bed.path("demo-dc"), &bed.path(odd));
        for action in ["show", "install"] {
            let out = bed.run(&["-C", odd, "standalone", "schedule", action]);
            assert_eq!(out.code, 2, "{odd:?}: {}{}", out.stdout, out.stderr);
            assert!(
                out.stderr.contains("would read as syntax"),
                "{odd:?}: {}",
                out.stderr
            );
            assert!(!out.stdout.contains("ExecStart"), "{}", out.stdout);
        }
    }
}

#[test]
fn the_crontab_block_is_installed_once_and_removed_whole() {
    let crontab = |args: &[&str], input: Option<&str>| {
        use std::io::Write;
        let mut c = std::process::Command::new("crontab")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("crontab (scripts/test installs cron)");
        if let Some(t) = input {
            c.stdin.take().unwrap().write_all(t.as_bytes()).unwrap();
        }
        drop(c.stdin.take());
        String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned()
    };
    let saved = crontab(&["-l"], None);
    crontab(
        &["-"],
        Some(&format!("{saved}# a line of someone else's\n")),
    );
    let bed = sites();
    let install = || bed.run(&["-C", "demo-dc", "standalone", "schedule", "install"]);
    let first = install();
    let second = install();
    let installed = crontab(&["-l"], None);
    let removed = bed.run(&["-C", "demo-dc", "standalone", "schedule", "remove"]);
    let after = crontab(&["-l"], None);
    crontab(&["-"], Some(&saved));
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert_eq!(second.code, 0, "{}{}", second.stdout, second.stderr);
    assert_eq!(
        installed.matches("# BEGIN setup backups of").count(),
        1,
        "{installed}"
    );
    assert!(installed.contains("CRON_TZ=UTC"), "{installed}");
    assert!(installed.contains("# a line of someone else's"));
    assert_eq!(removed.code, 0, "{}{}", removed.stdout, removed.stderr);
    assert!(!after.contains("setup backups of"), "{after}");
    assert!(after.contains("# a line of someone else's"));
}

#[test]
fn failover_backs_up_today_at_the_dc_then_restores_the_current_week() {
    let failover = |bed: &Bed, extra: &[&str]| {
        let mut args = vec![
            "-C",
            "dr",
            "standalone",
            "failover",
            "--dc",
            "demo-dc",
            "--now",
            "2026-11-23T05:00:00Z",
            "--set",
            "storage.local.path=../demo-dc/store",
        ];
        args.extend(extra);
        bed.run(&args)
    };
    let bed = sites();
    let out = failover(&bed, &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Failover: the DC's backups are taken"),
        "{}",
        out.stdout
    );
    assert!(
        bed.path("demo-dc/store/analytics-2026-11-23.tar.zst.age")
            .exists()
    );
    // Today's file, restored in current-week mode.
    let data = "dr/target/analytics-1/var/lib/analytics/indices";
    assert!(
        bed.path(&format!("{data}/2026-11-23.json")).exists(),
        "{}",
        out.stdout
    );
    assert!(
        bed.read("dr/target/director-1/etc/director/director.conf")
            .contains("dc-main")
    );
    // Today's snapshot is partial: the next day's backup of the whole day replaces it, unforced.
    let manifest = |bed: &Bed| -> J {
        serde_json::from_str(
            &bed.read("demo-dc/store/analytics-2026-11-23.tar.zst.age.manifest.json"),
        )
        .unwrap()
    };
    assert_eq!(manifest(&bed)["partial"], true);
    let next = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "backup",
        "--only",
        "analytics",
        "--now",
        "2026-11-24T01:00:00Z",
    ]);
    assert_eq!(next.code, 0, "{}{}", next.stdout, next.stderr);
    assert_eq!(manifest(&bed)["partial"], false);

    // The DC gone: said so, and the restore goes on from what storage has.
    let bed = sites();
    assert_eq!(backup(&bed, &[]).code, 0);
    let master = bed.read("demo-dc/master.yml").replace(
        "director-1:  { groups: [director], vars:",
        "director-1:  { groups: [director], connection: ssh, address: 127.0.0.1, port: 9, vars:",
    );
    bed.file("demo-dc/master.yml", &master);
    let out = failover(&bed, &["--connect-timeout", "3"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("restoring what storage has"),
        "{}",
        out.stdout
    );
    assert!(
        bed.path(&format!("{data}/2026-11-22.json")).exists(),
        "{}",
        out.stdout
    );
}

#[test]
fn a_full_storage_folder_fails_the_upload_says_why_and_leaves_no_object() {
    let bed = sites();
    let store = bed.path("demo-dc/store");
    std::fs::create_dir_all(&store).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
        .arg(&store)
        .status()
        .unwrap()
        .success();
    assert!(ok, "mount a small tmpfs (the tests run as root)");
    // 2 MB of random bytes changed yesterday: they do not compress below the folder's size.
    let big = bed.path("demo-dc/site/analytics-1/srv/analytics/indices/big.bin");
    let mut bytes = vec![0u8; 2_000_000];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").unwrap(),
        &mut bytes,
    )
    .unwrap();
    std::fs::write(&big, bytes).unwrap();
    let ok = std::process::Command::new("touch")
        .args(["-d", "2026-11-22 09:00:00Z"])
        .arg(&big)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let out = backup(&bed, &["--only", "analytics"]);
    let left: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    // With an earlier backup of the kind taking more than is free, the upload is refused up front.
    std::fs::write(
        store.join("analytics-2026-11-21.tar.zst.age"),
        vec![7u8; 400 * 1024],
    )
    .unwrap();
    let early = backup(&bed, &["--only", "analytics"]);
    let left_after: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let _ = std::process::Command::new("umount").arg(&store).status();
    assert_eq!(early.code, 1, "{}{}", early.stdout, early.stderr);
    assert!(
        early.stdout.contains("the last backup of this kind")
            && early.stdout.contains("the storage is full"),
        "{}",
        early.stdout
    );
    assert_eq!(left_after, ["analytics-2026-11-21.tar.zst.age"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the storage is full") && out.stdout.contains("setup standalone prune"),
        "{}",
        out.stdout
    );
    assert!(left.is_empty(), "left in storage: {left:?}");
    assert!(
        !bed.path("demo-dc/site/analytics-1/var/tmp/setup-backup")
            .read_dir()
            .unwrap()
            .any(|_| true),
        "the work folder was cleaned after the failure"
    );
}

/// A DC host that dies while its archive streams, and an archive command that fails part way: the
/// upload fails and no object appears under the backup's name, in S3 (multipart aborted) or a folder.
#[test]
fn a_dc_host_killed_mid_backup_leaves_no_object() {
    use common::sshbed::SshBed;
    use common::storagebed::StorageBed;
    let ssh = SshBed::start(1);
    let s3 = StorageBed::start("s3");
    let pid = ssh.hosts[0].pid();
    let bed = Bed::new();
    bed.file("master.yml", &ssh.master().replace(
        "\nhosts:\n",
        "\nhosts:\n  ctl: { connection: local }\n",
    ))
    .file("answers.yml", &s3.answers())
    .file(
        "backup.yml",
        &format!("components: [config]\nconfig: {{ dir: /etc }}\nrecipients: [age19dtdgtfz30hrkzk8h6hpe64y6rh22leewmr63wgycedjzudnmqts0lrxzs]\nsigning_key: {SIGNING_KEY}\n"),
    )
    .file(
        "pb.yml",
        &format!(
            "steps:
  - {{ id: up, hosts: host1, upload: {{ command: 'head -c 30000000 /dev/urandom; sleep 20', object: killed.tar.zst.age, seal: true }} }}
  - {{ id: kill, hosts: ctl, shell: 'sleep 2; pkill -KILL -P {pid}; kill -KILL {pid}' }}
  - {{ id: fails, hosts: ctl, upload: {{ command: 'head -c 12000000 /dev/urandom; exit 3', object: failed.tar.zst.age, seal: true }} }}
"
        ),
    );
    std::fs::set_permissions(
        bed.path("answers.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = bed.run(&["run", "pb.yml", "--keep-going"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the command exited 3"),
        "{}",
        out.stdout
    );
    let list = bed.run(&["standalone", "list", "--json"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let v: J = serde_json::from_str(&list.stdout).unwrap();
    assert_eq!(v["backups"], serde_json::json!([]), "{}", list.stdout);
}

#[test]
fn a_restore_says_when_the_sites_back_up_on_different_schedules() {
    let bed = sites();
    assert_eq!(backup(&bed, &["--only", "config"]).code, 0);
    // The DR site keeps a backup.yml of its own (it becomes the DC after a failover).
    let same = bed.read("demo-dc/backup.yml");
    bed.file("dr/backup.yml", &same);
    let out = restore(&bed, &["--only", "config"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("schedules differ"), "{}", out.stdout);
    bed.file(
        "dr/backup.yml",
        &(same + "schedule: { config: \"04:00\" }\n"),
    );
    // The same backup again: --force, or it is already restored and not read.
    let out = restore(&bed, &["--only", "config", "--force"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("the sites' schedules differ"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("04:00"), "{}", out.stdout);
}

#[test]
fn a_backup_encrypted_to_the_recipient_but_signed_by_another_key_is_never_restored() {
    let bed = sites();
    assert_eq!(backup(&bed, &["--only", "config"]).code, 0);
    // An attacker with the bucket's key and the public recipient runs a DC of their own, with their
    // own signing key, a day later: encrypted, compressed, sidecar, manifest and signature all there.
    let made = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(bed.path("demo-dc/attacker-key"))
        .status()
        .unwrap()
        .success();
    assert!(made);
    bed.file(
        "demo-dc/site/director-1/etc/director/director.conf",
        "site = attacker\n",
    );
    let genuine = bed.read("demo-dc/backup.yml");
    bed.file(
        "demo-dc/backup.yml",
        &genuine.replace("signing_key: demo-signing-key", "signing_key: attacker-key"),
    );
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "backup",
        "--only",
        "config",
        "--now",
        "2026-11-24T02:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let forged = "director-config-20261124T020000Z.tar.zst.age";
    assert!(stored(&bed).contains(&format!("{forged}.manifest.json.sig")));
    // `latest` passes over it and restores the genuine one, saying why.
    let out = restore(&bed, &["--only", "config"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("passed over {forged}: it is signed by a key that")),
        "{}",
        out.stderr
    );
    assert!(
        bed.read("dr/target/director-1/etc/director/director.conf")
            .contains("PLAINTEXT-MARKER-CONF")
    );
    // Named outright, it is refused before a byte is read; verify and --check refuse it too.
    let before = bed.read("dr/target/director-1/etc/director/director.conf");
    let set = format!("config_backup={forged}");
    let out = restore(&bed, &["--only", "config", "--set", &set]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "backup `{forged}` refused: it is signed by a key that"
        )),
        "{}",
        out.stdout
    );
    assert_eq!(
        bed.read("dr/target/director-1/etc/director/director.conf"),
        before
    );
    let out = restore(&bed, &["--only", "config", "--set", &set, "--check"]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = bed.run(&[
        "-C",
        "dr",
        "standalone",
        "verify",
        "--set",
        "storage.local.path=../demo-dc/store",
        "--set",
        &set,
    ]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("BAD {forged}: refused")),
        "{}",
        out.stdout
    );
    // The genuine DC's signatures are ones ssh-keygen accepts.
    let genuine_name = "director-config-20261123T020000Z.tar.zst.age";
    let m = bed.path(&format!("demo-dc/store/{genuine_name}.manifest.json"));
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-Y", "verify", "-f"])
        .arg(common::allowed_signers())
        .args(["-I", "backup@demo-dc", "-n", "setup-backup", "-s"])
        .arg(m.with_extension("json.sig"))
        .stdin(std::fs::File::open(&m).unwrap())
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn the_dc_demo_on_a_fresh_clone_backs_up_a_day_with_files() {
    // A fresh clone: every file of the demo's site dated now.
    let bed = common::dc_demo();
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "backup",
        "--now",
        "2026-11-30T02:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let manifest: J = serde_json::from_str(
        &bed.read("demo-dc/store/analytics-2026-11-29.tar.zst.age.manifest.json"),
    )
    .unwrap();
    assert_eq!(manifest["files"], 1, "{manifest}");
    // The demo backs up to its two targets, store/ and offsite/, alike.
    assert_eq!(manifest["targets"], serde_json::json!(["store", "offsite"]));
    assert_eq!(
        bed.read("demo-dc/offsite/analytics-2026-11-29.tar.zst.age.manifest.json"),
        bed.read("demo-dc/store/analytics-2026-11-29.tar.zst.age.manifest.json")
    );
}

#[test]
fn a_backup_with_the_database_works_with_a_relative_dr_root() {
    let pg = common::pgbed::PgBed::start();
    pg.sql("postgres", "CREATE DATABASE relroot");
    pg.sql(
        "relroot",
        "CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2), (3)",
    );
    let bed = sites();
    // The demo DC's dr_root is relative (site/director-1): the dump's folder and the
    // configuration folder are both handed to one tar, whose second -C would read a relative
    // path from the first.
    let spec = bed.read("demo-dc/backup.yml").replace(
        "  dir: /etc/director\n",
        &format!(
            "  dir: /etc/director\n  database: {{ name: relroot, user: setupdb, host: 127.0.0.1, port: '{}' }}\n",
            pg.port
        ),
    );
    assert!(spec.contains("relroot"), "{spec}");
    bed.file("demo-dc/backup.yml", &spec);
    let answers = bed.read("demo-dc/answers.yml") + &format!("db_password: {}\n", pg.password);
    bed.file("demo-dc/answers.yml", &answers);
    std::fs::set_permissions(
        bed.path("demo-dc/answers.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    let out = backup(&bed, &["--only", "config"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let manifest = std::fs::read_dir(bed.path("demo-dc/store"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .unwrap();
    let m: J = serde_json::from_str(&std::fs::read_to_string(manifest).unwrap()).unwrap();
    assert_eq!(m["database"], "relroot", "{m}");
}
