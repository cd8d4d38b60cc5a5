//! Authentic backups through the binary: storage is not trusted. Whoever can write to it can make a
//! backup with a matching sidecar and manifest, but only what a key of trusted_signers signed is
//! restored, verified or planned; a forgery changes nothing on any host.

use crate::common;

use common::{Bed, Out, demo, files_under, repo, sign_backup, sign_backup_with, ssh_sign};
use serde_json::Value as J;

const GENUINE: &str = "director-config-20261120T020000Z.tar";
const FORGED: &str = "director-config-20991231T235959Z.tar";
const NOW: &str = "2026-11-23T03:00:00Z";

/// An attacker's own Ed25519 key, made by ssh-keygen.
fn attacker_key(bed: &Bed) -> std::path::PathBuf {
    let key = bed.path("attacker-key");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    key
}

/// A configuration backup as an attacker with write access to storage makes it: a tar of their
/// own director.conf with a sha256 sidecar, under `name`, and (by default) no signature.
fn forge(bed: &Bed, name: &str) {
    let stage = bed.path("forge");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::write(stage.join("director.conf"), "site = attacker\n").unwrap();
    let script = format!(
        "set -e; cd {}; tar -cf ../backups/{name} director.conf; cd ../backups; sha256sum {name} > {name}.sha256",
        stage.display()
    );
    let ok = std::process::Command::new("sh")
        .args(["-c", &script])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn restore(bed: &Bed, backup: &str, extra: &[&str]) -> Out {
    let set = format!("config_backup={backup}");
    let mut args = vec![
        "standalone",
        "restore",
        "--now",
        NOW,
        "--set",
        &set,
        "--report",
        "report.json",
    ];
    args.extend(extra);
    bed.run(&args)
}

/// Nothing of the director's live side exists after a refused restore: no configuration, no
/// staged copy, no marker, the service never started.
fn untouched(bed: &Bed) {
    let etc = files_under(&bed.path("target/director-1/etc"));
    assert!(etc.is_empty(), "the director's side changed: {etc:?}");
    assert!(
        !bed.read("target/run/director.state").contains("running"),
        "the director was started"
    );
}

/// Each way of forging a backup, with the words its refusal must carry.
fn forgeries(bed: &Bed) -> Vec<(&'static str, String, &'static str)> {
    let backups = bed.path("backups");
    let attacker = attacker_key(bed);
    let mut out = Vec::new();
    // Unsigned: sidecar and a manifest, no signature.
    let name = "director-config-20991231T000001Z.tar";
    forge(bed, name);
    let m = format!(
        "{{\"object\": \"{name}\", \"created_at\": \"2026-11-22T00:00:00Z\", \"stored\": {{\"sha256\": \"{}\"}}}}\n",
        bed.read(&format!("backups/{name}.sha256"))
            .split_whitespace()
            .next()
            .unwrap()
    );
    bed.file(&format!("backups/{name}.manifest.json"), &m);
    out.push(("unsigned", name.to_string(), "is not signed"));
    // Signed by a key trusted_signers does not list.
    let name = "director-config-20991231T000002Z.tar";
    forge(bed, name);
    sign_backup_with(&backups, name, "2026-11-22T00:00:00Z", &attacker);
    out.push(("another key", name.to_string(), "does not list"));
    // The demo key, but the manifest edited after signing (the digest of the attacker's tar).
    let name = "director-config-20991231T000003Z.tar";
    forge(bed, name);
    std::fs::copy(
        backups.join(format!("{GENUINE}.manifest.json")),
        backups.join(format!("{name}.manifest.json")),
    )
    .unwrap();
    std::fs::copy(
        backups.join(format!("{GENUINE}.manifest.json.sig")),
        backups.join(format!("{name}.manifest.json.sig")),
    )
    .unwrap();
    let edited = bed
        .read(&format!("backups/{name}.manifest.json"))
        .replace(GENUINE, name);
    bed.file(&format!("backups/{name}.manifest.json"), &edited);
    out.push((
        "edited after signing",
        name.to_string(),
        "changed after it was signed",
    ));
    // A genuine signed backup, manifest and signature copied under a newer name.
    let name = "director-config-20991231T000004Z.tar";
    for suffix in ["", ".sha256", ".manifest.json", ".manifest.json.sig"] {
        std::fs::copy(
            backups.join(format!("{GENUINE}{suffix}")),
            backups.join(format!("{name}{suffix}")),
        )
        .unwrap();
    }
    out.push((
        "copied under a newer name",
        name.to_string(),
        "copied under another name",
    ));
    // The demo key's signature, but for another namespace (a git commit signature, say).
    let name = "director-config-20991231T000005Z.tar";
    forge(bed, name);
    sign_backup(&backups, name, "2026-11-22T00:00:00Z");
    ssh_sign(
        &repo().join("inventories/demo-dc/demo-signing-key"),
        "git",
        &backups.join(format!("{name}.manifest.json")),
    );
    out.push(("another namespace", name.to_string(), "namespace `git`"));
    // Signed by the demo key, dated in the future.
    let name = "director-config-20991231T000006Z.tar";
    forge(bed, name);
    sign_backup(&backups, name, "2099-12-31T00:00:06Z");
    out.push((
        "dated in the future",
        name.to_string(),
        "lies in the future",
    ));
    out
}

#[test]
fn every_forged_backup_is_refused_by_restore_verify_and_check_and_changes_nothing() {
    let bed = demo();
    for (what, name, why) in forgeries(&bed) {
        let out = restore(&bed, &name, &[]);
        assert_eq!(out.code, 1, "{what}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(&format!("backup `{name}` refused: ")) && out.stdout.contains(why),
            "{what}: {}",
            out.stdout
        );
        assert!(out.stdout.contains("nothing was downloaded"), "{what}");
        untouched(&bed);

        let out = bed.run(&[
            "standalone",
            "verify",
            "--now",
            NOW,
            "--set",
            &format!("config_backup={name}"),
        ]);
        assert_eq!(out.code, 1, "{what}: {}{}", out.stdout, out.stderr);
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(&format!("BAD {name}")))
            .unwrap_or_else(|| panic!("{what}: {}", out.stdout));
        assert!(line.contains(why), "{what}: {line}");

        let out = restore(&bed, &name, &["--check"]);
        assert_ne!(out.code, 0, "{what}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(&format!("backup `{name}` refused: ")),
            "{what}: {}",
            out.stdout
        );
        untouched(&bed);
    }
    // `latest` passes over every forgery, each named with its reason, and restores the newest
    // genuine backup.
    let out = restore(&bed, "latest", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("{GENUINE} -> ")),
        "{}",
        out.stdout
    );
    assert_eq!(
        out.stderr.matches("warning: `latest` passed over").count(),
        6,
        "{}",
        out.stderr
    );
    assert!(
        bed.read("target/director-1/etc/director/director.conf")
            .contains("site = dc-main")
    );
}

#[test]
fn a_forged_backup_named_newest_never_wins_latest_and_list_says_who_signed_what() {
    let bed = demo();
    forge(&bed, FORGED);
    let out = restore(&bed, "latest", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("passed over {FORGED}: it has no manifest")),
        "{}",
        out.stderr
    );
    assert!(
        bed.read("target/director-1/etc/director/director.conf")
            .contains("dc-main")
    );
    let report: J = serde_json::from_str(&bed.read("report.json")).unwrap();
    let config = report["authenticity"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["object"] == GENUINE)
        .unwrap()
        .clone();
    assert_eq!(config["signer"], "backup@demo-dc");
    assert_eq!(report["unsigned_allowed"], false);

    let out = bed.run(&["standalone", "list", "--now", NOW]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let row = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row(GENUINE).ends_with("signed by backup@demo-dc"),
        "{}",
        row(GENUINE)
    );
    assert!(row(FORGED).ends_with("unsigned"), "{}", row(FORGED));
    // The RPO counts what could be restored: the forgery, written just now, is not the newest
    // backup; the analytics of 2026-11-22, taken at 00:30 the next day, is.
    assert!(
        out.stdout.contains("RPO (age of the newest backup): 2h"),
        "{}",
        out.stdout
    );
}

#[test]
fn with_no_trusted_signers_nothing_is_restored_unless_allow_unsigned_says_so() {
    let bed = demo();
    let answers = bed
        .read("answers.yml")
        .replace("trusted_signers", "# trusted_signers");
    bed.file("answers.yml", &answers);
    let out = restore(&bed, GENUINE, &[]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("no trusted_signers is given")
            && out.stderr.contains("allowed_signers")
            && out.stderr.contains("--allow-unsigned"),
        "{}",
        out.stderr
    );
    assert!(!bed.path("target").exists(), "a host was touched");
    let out = bed.run(&["standalone", "verify", "--now", NOW]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);

    let out = restore(&bed, GENUINE, &["--allow-unsigned"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("WARNING: read without a trusted signature (--allow-unsigned)"),
        "{}",
        out.stdout
    );
    let report: J = serde_json::from_str(&bed.read("report.json")).unwrap();
    assert_eq!(report["unsigned_allowed"], true);
    assert!(
        report["authenticity"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["unsigned"] == true)
    );
}

#[test]
fn a_plain_backup_is_refused_where_backups_are_encrypted() {
    let bed = demo();
    // Today's forgery: a plain tar named newest, with a self-made sidecar, signed by nobody; and
    // the genuine plain sample, which a site that expects encrypted backups refuses as well.
    forge(&bed, FORGED);
    bed.file("identity.txt", "AGE-SECRET-KEY-1PLACEHOLDER\n");
    let out = restore(&bed, GENUINE, &["--set", "age_identity=identity.txt"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("it is not encrypted"), "{}", out.stdout);
    untouched(&bed);
    let out = restore(&bed, "latest", &["--set", "age_identity=identity.txt"]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    untouched(&bed);
}

#[test]
fn the_demo_signatures_verify_with_ssh_keygen() {
    let dir = repo().join("inventories/demo/backups");
    let mut checked = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".manifest.json") {
            continue;
        }
        let out = std::process::Command::new("ssh-keygen")
            .args(["-Y", "verify", "-f"])
            .arg(common::allowed_signers())
            .args(["-I", "backup@demo-dc", "-n", "setup-backup", "-s"])
            .arg(p.with_extension("json.sig"))
            .stdin(std::fs::File::open(&p).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert_eq!(checked, 23);
    // And a signature ssh-keygen makes is one setup accepts: sign_backup uses `ssh-keygen -Y sign`.
    let bed = demo();
    let name = "director-config-20261121T020000Z.tar";
    std::fs::copy(
        bed.path(&format!("backups/{GENUINE}")),
        bed.path(&format!("backups/{name}")),
    )
    .unwrap();
    sign_backup(&bed.path("backups"), name, "2026-11-21T02:00:00Z");
    let out = restore(&bed, "latest", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("{name} -> ")),
        "{}",
        out.stdout
    );
}

#[test]
fn a_stolen_key_retired_with_valid_before_signs_nothing_new_whatever_date_it_claims() {
    let bed = demo();
    // The DR site sees the genuine backups (any list, verify or restore records them)...
    let out = bed.run(&["standalone", "list", "--now", NOW]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        bed.read(".setup/seen-signatures.jsonl")
            .contains("manifest_sha256"),
        "what a list verified is recorded as seen"
    );
    // ...then the DC's key is stolen, and retired from this moment on.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let cutoff = chrono::Utc::now().format("%Y%m%d%H%M%SZ").to_string();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let signers = bed.read("allowed_signers").replace(
        "namespaces=\"setup-backup\"",
        &format!("namespaces=\"setup-backup\",valid-before={cutoff}"),
    );
    std::fs::write(bed.path("allowed_signers"), signers).unwrap();
    // The thief signs a backup of their own, back-dated to before the retirement.
    let stolen = repo().join("inventories/demo-dc/demo-signing-key");
    let name = "director-config-20261122T020000Z.tar";
    forge(&bed, name);
    sign_backup_with(&bed.path("backups"), name, "2026-11-22T02:00:00Z", &stolen);
    let out = restore(&bed, "latest", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!("passed over {name}"))
            && out.stderr.contains("is not valid now"),
        "the back-dated backup is refused for the key's retirement: {}",
        out.stderr
    );
    assert!(
        bed.read("target/director-1/etc/director/director.conf")
            .contains("dc-main"),
        "the genuine backup, seen before the retirement, is still restored"
    );
    let out = bed.run(&[
        "standalone",
        "verify",
        "--now",
        NOW,
        "--set",
        &format!("config_backup={name}"),
    ]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("is not valid now"),
        "{}{}",
        out.stdout,
        out.stderr
    );
}
