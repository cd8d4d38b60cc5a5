//! 3-2-1 on real servers: the DC demo backs up to two storage targets at once (an S3 server and an
//! SFTP server on loopback), the DR demo restores from the first whose copy verifies, and `copy`
//! refills what a target lacks.

use crate::common;

use common::receivers::Webhook;
use common::storagebed::StorageBed;
use common::{Bed, Out};
use serde_json::Value as J;

/// The settings of a storage bed's answers (`storage.TYPE.FIELD: VALUE`), by field.
fn settings(bed: &StorageBed) -> Vec<(String, String)> {
    bed.answers()
        .lines()
        .filter_map(|l| l.split_once(": "))
        .filter_map(|(k, v)| {
            let field = k.strip_prefix("storage.")?.split_once('.')?.1;
            Some((field.to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect()
}

/// `storage:` listing the two beds, primary (S3) first; their secrets as the targets' answers.
fn targets(s3: &StorageBed, sftp: &StorageBed) -> (String, String) {
    let mut doc = String::from("storage:\n");
    let mut answers = String::new();
    for (name, bed) in [("primary", s3), ("offsite", sftp)] {
        let mut line = format!("  - {{ name: {name}, type: {}", bed.kind);
        for (field, value) in settings(bed) {
            if field == "secret_key" {
                answers += &format!("storage.{name}.{field}: \"{value}\"\n");
            } else {
                line += &format!(", {field}: \"{value}\"");
            }
        }
        doc += &(line + " }\n");
    }
    (doc, answers)
}

/// The DC demo's backup.yml with its `storage:` list replaced by `list`.
fn backup_to(bed: &Bed, list: &str) {
    let backup = bed.read("demo-dc/backup.yml");
    let without = &backup[..backup
        .find("\nstorage:")
        .expect("the demo lists its targets")];
    bed.file("demo-dc/backup.yml", &format!("{without}\n{list}"));
}

/// `copy --from primary --to offsite` at the DC.
fn copy_to_offsite(bed: &Bed) -> Out {
    bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "copy",
        "--from",
        "primary",
        "--to",
        "offsite",
    ])
}

/// The DC demo backing up to both beds, and the DR demo (in `dr/`) restoring from them.
fn sites(s3: &StorageBed, sftp: &StorageBed) -> Bed {
    let bed = common::dc_demo();
    let (list, secrets) = targets(s3, sftp);
    backup_to(&bed, &list);
    bed.file("demo-dc/answers.yml", &secrets);
    let dr = common::demo();
    common::copy_dir(&dr.path(""), &bed.path("dr"));
    bed.file(
        "dr/restore.yml",
        &format!("config_backup: latest\nanalytics: {{ mode: weekly }}\ncomponents: [config, analytics]\n{list}"),
    );
    let answers = bed.read("dr/answers.yml");
    bed.file(
        "dr/answers.yml",
        &format!("{answers}{secrets}age_identity: ../demo-dc/demo-identity.txt\n"),
    );
    bed
}

fn backup(bed: &Bed, now: &str) -> Out {
    bed.run(&["-C", "demo-dc", "standalone", "backup", "--now", now])
}

fn dr(bed: &Bed, op: &str, extra: &[&str]) -> Out {
    let mut args = vec![
        "-C",
        "dr",
        "standalone",
        op,
        "--now",
        "2026-11-30T03:00:00Z",
    ];
    args.extend(extra);
    bed.run(&args)
}

/// The names of the objects a bed holds.
fn held(bed: &StorageBed) -> Vec<String> {
    let root = match bed.kind {
        "s3" => bed.dir.path().join("data/backups"),
        _ => bed.dir.path().join("store"),
    };
    common::served::names_under(&root)
}

/// The report of the run `out` is the output of (its journal's folder).
fn report_of(bed: &Bed, out: &Out) -> J {
    let journal = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("Journal: "))
        .expect("the run names its journal");
    let dir = std::path::Path::new(journal).parent().unwrap();
    serde_json::from_str(&bed.read(&dir.join("report.json").display().to_string())).unwrap()
}

fn config_on(bed: &StorageBed) -> Option<String> {
    held(bed)
        .into_iter()
        .find(|n| n.starts_with("director-config-") && n.ends_with(".tar.zst.age"))
}

#[test]
fn a_backup_goes_to_both_targets_and_one_down_fails_the_run_naming_it_while_the_other_keeps_its_copy()
 {
    let (s3, sftp) = (StorageBed::start("s3"), StorageBed::start("sftp"));
    let bed = sites(&s3, &sftp);
    let out = backup(&bed, "2026-11-30T02:00:00Z");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for target in [&s3, &sftp] {
        let names = held(target);
        for suffix in ["", ".sha256", ".manifest.json", ".manifest.json.sig"] {
            assert!(
                names
                    .iter()
                    .any(|n| *n == format!("director-config-20261130T020000Z.tar.zst.age{suffix}")),
                "{}: {suffix}: {names:?}",
                target.kind
            );
        }
    }
    let manifest: J = serde_json::from_slice(
        &std::fs::read(
            s3.dir
                .path()
                .join("data/backups/director-config-20261130T020000Z.tar.zst.age.manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["targets"],
        serde_json::json!(["primary", "offsite"])
    );
    assert!(
        out.stdout.contains("on primary and offsite"),
        "{}",
        out.stdout
    );
    // The SFTP server goes away: the next backup fails naming it, and S3 keeps its copy.
    sftp.signal("KILL");
    let out = backup(&bed, "2026-12-01T02:00:00Z");
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("FAILED: storage target offsite: `director-config-20261201T020000Z.tar.zst.age` not written"),
        "{}",
        out.stdout
    );
    let names = held(&s3);
    for suffix in ["", ".sha256", ".manifest.json", ".manifest.json.sig"] {
        assert!(
            names
                .iter()
                .any(|n| *n == format!("director-config-20261201T020000Z.tar.zst.age{suffix}")),
            "{suffix}: {names:?}"
        );
    }
    let manifest = std::fs::read_to_string(
        s3.dir
            .path()
            .join("data/backups/director-config-20261201T020000Z.tar.zst.age.manifest.json"),
    )
    .unwrap();
    let manifest: J = serde_json::from_str(&manifest).unwrap();
    assert_eq!(manifest["targets"], serde_json::json!(["primary"]));
    // The S3 target's secret, an answer under the target's name, is masked everywhere.
    let secret = settings(&s3)
        .into_iter()
        .find(|(f, _)| f == "secret_key")
        .unwrap()
        .1;
    assert!(!out.stdout.contains(&secret) && !out.stderr.contains(&secret));
    for f in common::files_under(&bed.path("demo-dc/.setup")) {
        let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
        assert!(!text.contains(&secret), "{}", f.display());
    }
    let report = report_of(&bed, &out);
    assert!(
        report["storage"].to_string().contains("target offsite"),
        "{}",
        report["storage"]
    );
}

#[test]
fn a_corrupt_copy_on_the_first_target_falls_through_to_the_next_and_copy_refills_a_gap() {
    let (s3, sftp) = (StorageBed::start("s3"), StorageBed::start("sftp"));
    let bed = sites(&s3, &sftp);
    let out = backup(&bed, "2026-11-30T02:00:00Z");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // The S3 copy of the configuration backup is damaged in place, its sidecar and manifest kept.
    let name = config_on(&s3).unwrap();
    let object = s3.dir.path().join("data/backups").join(&name);
    let mut bytes = std::fs::read(&object).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&object, &bytes).unwrap();
    // The backup reads whole from offsite, but the damaged copy on primary fails the run, named.
    let out = dr(&bed, "verify", &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "Storage: the copy of `{name}` on target primary is refused (its digest is not the signed one); trying target offsite"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("  ok  {name}: "))
            && out.stdout.contains(&format!(
                "  BAD on primary: {name}: its digest is not the signed one (it hashes to "
            ))
            && out.stdout.contains(&format!(
                "1 copy(ies) on a target are bad or missing: {name} on primary"
            )),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("BAD on offsite"), "{}", out.stdout);
    // Pinned to the damaged target, the same backup is refused.
    let out = dr(&bed, "verify", &["--storage", "primary"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("BAD {name}"))
            && out.stdout.contains("no other target has one"),
        "{}",
        out.stdout
    );
    let out = dr(&bed, "restore", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!(
            "the copy of `{name}` on target primary is refused"
        )),
        "{}",
        out.stdout
    );
    let conf = bed.read("dr/target/director-1/etc/director/director.conf");
    assert!(!conf.is_empty());
    let report = report_of(&bed, &out);
    assert!(
        report["storage"]
            .to_string()
            .contains("on target primary is refused"),
        "{}",
        report["storage"]
    );
    // The SFTP target loses the backup; `list` says where each backup is; `copy` refills it.
    std::fs::remove_file(sftp.dir.path().join("store").join(&name)).unwrap();
    let out = bed.run(&["-C", "demo-dc", "standalone", "list"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let line = out.stdout.lines().find(|l| l.contains(&name)).unwrap();
    assert!(line.ends_with("on primary"), "{line}");
    // From the damaged primary, nothing is copied: its digest is not the signed one.
    let out = copy_to_offsite(&bed);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("not copied"), "{}", out.stdout);
    assert!(!held(&sftp).contains(&name));
    // A sound copy put back on primary: the backup verifies, the copy offsite lacks fails the run.
    bytes[middle] ^= 0xff;
    std::fs::write(&object, &bytes).unwrap();
    let out = dr(&bed, "verify", &[]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("  ok  {name}: "))
            && out
                .stdout
                .contains(&format!("  BAD on offsite: {name}: it is missing")),
        "{}",
        out.stdout
    );
    // Its last line says why it failed, not that all is well.
    let last = out.stdout.trim_end().lines().last().unwrap_or_default();
    assert!(
        last.contains("read sound, but FAILED: a copy on a target is bad or missing"),
        "{last}"
    );
    // Then copied over.
    let out = copy_to_offsite(&bed);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("sha256 verified on both ends"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("1 copied"), "{}", out.stdout);
    let out = dr(&bed, "verify", &["--storage", "offsite"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = dr(&bed, "verify", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("BAD"), "{}", out.stdout);
    let out = bed.run(&["-C", "demo-dc", "standalone", "list"]);
    let line = out.stdout.lines().find(|l| l.contains(&name)).unwrap();
    assert!(line.ends_with("on primary, offsite"), "{line}");
}

#[test]
fn a_mistake_in_a_target_list_is_a_diagnostic_and_an_unknown_target_is_named() {
    let bed = common::dc_demo();
    backup_to(
        &bed,
        "storage:\n  - { name: a, type: local, path: a }\n  - { name: a, type: local, path: b }\n  - { name: b, type: sftp, host: h, password: hunter2 }\n  - { name: c, type: s4 }\n  - { type: local, path: d }\n",
    );
    let out = bed.run(&["-C", "demo-dc", "standalone", "backup", "--check"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    for said in [
        "two storage targets are named `a`",
        "`password` is a secret",
        "storage.b.password",
        "unknown storage type `s4`",
        "a storage target in a list needs a `name`",
    ] {
        assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
    }
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
    let bed = common::dc_demo();
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "list",
        "--storage",
        "elsewhere",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the targets are: store, offsite"),
        "{}",
        out.stderr
    );
    // A secret a target needs and nobody gave is listed under the target's own name.
    backup_to(
        &bed,
        "storage:\n  - { name: vault, type: ftp, host: 127.0.0.1, user: u, path: / }\n",
    );
    let out = bed.run(&["-C", "demo-dc", "standalone", "list"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("storage.vault.password")
            && out.stderr.contains("SETUP_STORAGE_VAULT_PASSWORD"),
        "{}",
        out.stderr
    );
}

/// The bodies a webhook receiver got, oldest first.
fn bodies(rx: &Webhook) -> Vec<J> {
    rx.received().iter().map(|r| r["body"].clone()).collect()
}

/// Removes a configuration backup and its companions from the S3 bed.
fn remove_from_s3(s3: &StorageBed, name: &str) {
    for suffix in ["", ".sha256", ".manifest.json", ".manifest.json.sig"] {
        std::fs::remove_file(
            s3.dir
                .path()
                .join("data/backups")
                .join(format!("{name}{suffix}")),
        )
        .unwrap();
    }
}

/// The restore marker the DR demo's director got.
fn marker(bed: &Bed) -> String {
    bed.read("dr/target/director-1/etc/director/RESTORED-BY-SETUP")
}

#[test]
fn latest_is_the_newest_backup_on_any_target_and_a_target_that_lacks_it_is_named() {
    let (s3, sftp) = (StorageBed::start("s3"), StorageBed::start("sftp"));
    let bed = sites(&s3, &sftp);
    for now in ["2026-11-29T02:00:00Z", "2026-11-30T02:00:00Z"] {
        let out = backup(&bed, now);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    }
    let (older, newest) = (
        "director-config-20261129T020000Z.tar.zst.age",
        "director-config-20261130T020000Z.tar.zst.age",
    );
    // The first target (S3) loses the newest backup; the second (SFTP) still holds it.
    remove_from_s3(&s3, newest);
    let lacks = format!("target primary lacks `{newest}`, which offsite holds");
    let out = dr(&bed, "restore", &["--check"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("warn copies {lacks}")),
        "{}",
        out.stdout
    );
    let rx = Webhook::start("Hook-Secret-Of-The-Targets-Test");
    let hook = format!("notify.webhook.url={}", rx.url("/hook"));
    let out = dr(
        &bed,
        "restore",
        &["--set", &hook, "--set", "notify.webhook.on=success"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("Storage: {lacks}")),
        "{}",
        out.stdout
    );
    let m = marker(&bed);
    assert!(
        m.contains(&format!("Configuration backup: {newest}\n")),
        "{m}"
    );
    assert!(!m.contains(older) && !m.contains("unknown"), "{m}");
    let report = report_of(&bed, &out);
    assert!(
        report["storage"].to_string().contains(&lacks),
        "{}",
        report["storage"]
    );
    assert_eq!(
        report["rpo"]["config"]["as_of"], "2026-11-30T02:00:00Z",
        "{}",
        report["rpo"]
    );
    let bodies = bodies(&rx);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0]["storage"].to_string().contains(&lacks),
        "{}",
        bodies[0]
    );
    // The first target holds no configuration backup at all: `latest` is still the newest.
    remove_from_s3(&s3, older);
    let out = dr(&bed, "restore", &["--force"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("Storage: {lacks}")),
        "{}",
        out.stdout
    );
    let m = marker(&bed);
    assert!(
        m.contains(&format!("Configuration backup: {newest}\n")),
        "{m}"
    );
    let digest = m
        .lines()
        .find_map(|l| l.strip_prefix("Digest: sha256 "))
        .unwrap_or_default();
    assert!(
        digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
        "{m}"
    );
    let report = report_of(&bed, &out);
    assert_eq!(
        report["rpo"]["config"]["as_of"], "2026-11-30T02:00:00Z",
        "{}",
        report["rpo"]
    );
    // No configuration backup anywhere: refused before any host is touched.
    std::fs::remove_file(sftp.dir.path().join("store").join(newest)).unwrap();
    std::fs::remove_file(sftp.dir.path().join("store").join(older)).unwrap();
    let before = marker(&bed);
    let out = dr(&bed, "restore", &["--force"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("config_backup is `latest`, and there is nothing to restore"),
        "{}",
        out.stderr
    );
    assert_eq!(marker(&bed), before);
    assert!(!out.stdout.contains("Journal: "), "{}", out.stdout);
    // The first target cannot be listed, and the other holds none: it may hold one, so this is
    // no answer to fix but storage that cannot be read (exit 1), named.
    s3.signal("KILL");
    let out = dr(&bed, "restore", &["--force"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = out
        .stderr
        .split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        said.contains("the storage cannot be read to find it")
            && said.contains("target primary cannot be listed"),
        "{said}"
    );
    assert_eq!(marker(&bed), before);
}

#[test]
fn check_probes_every_target_and_fails_naming_one_that_is_broken_even_when_another_covers() {
    let (s3, sftp) = (StorageBed::start("s3"), StorageBed::start("sftp"));
    let bed = sites(&s3, &sftp);
    let out = backup(&bed, "2026-11-30T02:00:00Z");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let wrong = "storage.primary.secret_key=Wrong-Secret-For-Check-42";
    for (dir, op) in [("demo-dc", "backup"), ("dr", "restore")] {
        let out = bed.run(&[
            "-C",
            dir,
            "standalone",
            op,
            "--check",
            "--now",
            "2026-11-30T03:00:00Z",
            "--set",
            wrong,
        ]);
        assert_eq!(out.code, 1, "{op}: {}{}", out.stdout, out.stderr);
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains("FAIL") && l.contains("target primary"))
            .unwrap_or_else(|| panic!("{op}: {}", out.stdout));
        assert!(line.contains("storage.primary.secret_key"), "{op}: {line}");
        assert!(
            !out.stdout.contains("All probes pass"),
            "{op}: {}",
            out.stdout
        );
        assert!(
            out.stdout
                .lines()
                .any(|l| l.starts_with("  ok   storage target offsite")),
            "{op}: {}",
            out.stdout
        );
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(!all.contains("Wrong-Secret-For-Check-42"), "{all}");
    }
    // Sound credentials: each target is listed, read, and (for a backup) written.
    let out = bed.run(&["-C", "demo-dc", "standalone", "backup", "--check"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for target in ["primary", "offsite"] {
        assert!(
            out.stdout.lines().any(
                |l| l.starts_with(&format!("  ok   storage target {target}"))
                    && l.contains("read")
                    && l.contains("written")
            ),
            "{}",
            out.stdout
        );
    }
    assert!(!held(&s3).iter().any(|n| n.starts_with("setup-check-probe")));
    // `verify` names the target's own answer.
    let out = dr(&bed, "verify", &["--storage", "primary", "--set", wrong]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains("storage.primary.secret_key") && !all.contains("storage.s3.secret_key"),
        "{all}"
    );
    // The SFTP server goes away: the restore's check names it, though S3 covers for it.
    sftp.signal("KILL");
    let out = dr(&bed, "restore", &["--check"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("  FAIL storage target offsite")
                && l.contains("cannot be listed")),
        "{}",
        out.stdout
    );
}

#[test]
fn copy_replaces_a_damaged_copy_on_the_target_and_verify_says_its_digest_is_wrong() {
    let (s3, sftp) = (StorageBed::start("s3"), StorageBed::start("sftp"));
    let bed = sites(&s3, &sftp);
    let out = backup(&bed, "2026-11-30T02:00:00Z");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // One character of the age header's X25519 share on S3 becomes another: the copy no longer
    // opens, and its digest is not the signed one.
    let name = config_on(&s3).unwrap();
    let object = s3.dir.path().join("data/backups").join(&name);
    let sound = std::fs::read(&object).unwrap();
    let mut bytes = sound.clone();
    let at = bytes.windows(10).position(|w| w == b"-> X25519 ").unwrap() + 10;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&object, &bytes).unwrap();
    let out = dr(&bed, "verify", &["--storage", "primary"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let line = out.stdout.lines().find(|l| l.contains(&name)).unwrap();
    assert!(line.contains("checksum mismatch"), "{line}");
    assert!(!line.contains("********"), "{line}");
    // A file name is not a secret.
    let out = dr(
        &bed,
        "verify",
        &[
            "--storage",
            "primary",
            "--set",
            "age_identity=/nonexistent/identity.txt",
        ],
    );
    assert!(
        out.stdout.contains("/nonexistent/identity.txt"),
        "{}",
        out.stdout
    );
    // `copy` checks the copies the target already holds, and replaces the bad one.
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "copy",
        "--from",
        "offsite",
        "--to",
        "primary",
        "--check",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains(&format!("would replace {name} on primary")),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read(&object).unwrap(), bytes);
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "copy",
        "--from",
        "offsite",
        "--to",
        "primary",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("replaced {name} on primary"))
            && out.stdout.contains("1 replaced"),
        "{}",
        out.stdout
    );
    assert_eq!(std::fs::read(&object).unwrap(), sound);
    let out = dr(&bed, "verify", &["--storage", "primary"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // Nothing more to do.
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "copy",
        "--from",
        "offsite",
        "--to",
        "primary",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 copied, 0 replaced"),
        "{}",
        out.stdout
    );
}

#[test]
fn an_analytics_day_read_from_the_second_target_is_named_in_the_summary_and_the_report() {
    let (s3, sftp) = (StorageBed::start("s3"), StorageBed::start("sftp"));
    let bed = sites(&s3, &sftp);
    let out = backup(&bed, "2026-11-29T02:00:00Z");
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let day = held(&s3)
        .into_iter()
        .find(|n| n.starts_with("analytics-") && n.ends_with(".tar.zst.age"))
        .expect("the backup took an analytics snapshot");
    // The first target (S3) loses the day; the second (SFTP) still holds it.
    remove_from_s3(&s3, &day);
    let rx = Webhook::start("Hook-Secret-Of-The-Targets-Test");
    let hook = format!("notify.webhook.url={}", rx.url("/hook"));
    let out = dr(
        &bed,
        "restore",
        &["--set", &hook, "--set", "notify.webhook.on=success"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let said = format!("`{day}` is read from target offsite (not on primary)");
    assert!(
        out.stdout.contains("Storage: analytics-1: ") && out.stdout.contains(&said),
        "{}",
        out.stdout
    );
    let report = report_of(&bed, &out);
    assert!(
        report["storage"].to_string().contains(&said),
        "{}",
        report["storage"]
    );
    let bodies = bodies(&rx);
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    assert!(
        bodies[0]["storage"].to_string().contains(&said),
        "{}",
        bodies[0]
    );
}
