//! The interactive flow in a real pseudo-terminal, against the test bed's real servers: a Select
//! for the storage type, then only that type's questions, defaults shown, secrets typed without
//! echo, each answer checked as typed, the storage tried once the answers are in (a refused login
//! asks for the credentials again), and a review of every answer before the run goes on.

use crate::common;

use common::storagebed::StorageBed;
use common::{Bed, demo, repo};

fn drive(bed: &Bed, script: &serde_json::Value, args: &[&str]) -> (i32, String) {
    let script_path = bed.path("script.json");
    std::fs::write(&script_path, script.to_string()).unwrap();
    let mut cmd = std::process::Command::new(repo().join("tests/support/pty-drive"));
    cmd.arg(&script_path)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_setup"))
        .args(args)
        .current_dir(bed.dir.path())
        .env_remove("CI")
        .env("NO_COLOR", "1")
        .env("TERM", "xterm")
        .env("SETUP_LOCK_DIR", bed.path(".machine-lock"))
        .envs(common::ANY_AGE);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

const DOWN: &str = "\u{1b}[B";

const GO_ON: &str = "Go on with these answers?";

/// The value of `key` in a storage bed's answers.
fn get(storage: &StorageBed, key: &str) -> String {
    storage
        .answers()
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}: ")))
        .unwrap_or_else(|| panic!("{key} in the bed's answers"))
        .trim_matches('"')
        .to_string()
}

#[test]
fn choosing_local_asks_only_for_the_folder_and_a_wrong_one_can_be_changed_at_the_review() {
    let bed = Bed::new();
    std::fs::create_dir(bed.path("backups")).unwrap();
    bed.file("backups/analytics-2026-11-22.tar", "x");
    let keys = format!("{DOWN}{DOWN}{DOWN}{DOWN}\r");
    let script = serde_json::json!([
        ["Where are the backups stored?", keys],
        ["Backup folder", "bakups\r"],
        // The folder is not there: said at once, and the review lets it be changed.
        [GO_ON, format!("{DOWN}\r")],
        ["Which answer?", format!("{DOWN}\r")],
        ["Backup folder", "\u{15}backups\r"],
        ["reached", ""],
        [GO_ON, "\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("analytics-2026-11-22.tar"), "{screen}");
    assert!(
        screen.contains("storage.local.path"),
        "the review: {screen}"
    );
    for other in ["Bucket", "Container", "SFTP host", "FTP host", "Password"] {
        assert!(
            !screen.contains(other),
            "asked {other:?} for local storage: {screen}"
        );
    }
}

#[test]
fn s3_checks_each_answer_asks_again_for_refused_credentials_and_masks_the_review() {
    let storage = StorageBed::start("s3");
    std::fs::write(
        storage
            .dir
            .path()
            .join("data/backups/analytics-2026-11-22.tar"),
        "x",
    )
    .unwrap();
    let bed = Bed::new();
    let script = serde_json::json!([
        ["Where are the backups stored?", "\r"],
        [
            "S3 endpoint URL",
            format!("{}\r", get(&storage, "storage.s3.endpoint"))
        ],
        ["Region", "\r"],
        ["Bucket", "backups\r"],
        ["Access key ID", "setup-ak\r"],
        ["Secret access key", "Wrong-Secret-Never-Echoed\r"],
        ["Path-style", "ture\r"],
        ["not true or false", "\u{15}true\r"],
        // Enter on an empty default is an answer.
        ["Prefix inside the bucket", "\r"],
        ["Asking again for the credentials", ""],
        ["Access key ID", "\r"],
        ["Secret access key", "setup-secret-key-s3\r"],
        ["reached", ""],
        [GO_ON, "\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    println!("{screen}");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("analytics-2026-11-22.tar"), "{screen}");
    assert!(
        screen.contains("refused the credentials"),
        "the refused login is said: {screen}"
    );
    assert!(screen.contains("us-east-1"), "the region default: {screen}");
    for secret in ["Wrong-Secret-Never-Echoed", "setup-secret-key-s3"] {
        assert!(!screen.contains(secret), "{secret} was shown: {screen}");
    }
    assert!(
        screen.contains("storage.s3.secret_key") && screen.contains("********"),
        "the review masks the secret: {screen}"
    );
    assert!(
        !screen.contains("Backup folder") && !screen.contains("Container"),
        "{screen}"
    );
}

#[test]
fn ftps_with_a_self_signed_certificate_is_trusted_as_the_servers_own_when_given() {
    let storage = StorageBed::start("ftps-selfsigned");
    std::fs::write(
        storage.dir.path().join("root/analytics-2026-11-22.tar"),
        "x",
    )
    .unwrap();
    let bed = Bed::new();
    let script = serde_json::json!([
        [
            "Where are the backups stored?",
            format!("{DOWN}{DOWN}{DOWN}\r")
        ],
        ["FTP host", "127.0.0.1\r"],
        ["Port", format!("{}\r", get(&storage, "storage.ftp.port"))],
        ["User", "setupftp\r"],
        ["Password", "setup-ftp-pw\r"],
        ["Remote folder", "\r"],
        ["Explicit FTPS", "true\r"],
        [
            "certificate",
            format!("{}\r", get(&storage, "storage.ftp.ca_file"))
        ],
        ["reached", ""],
        [GO_ON, "\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    println!("{screen}");
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("analytics-2026-11-22.tar"), "{screen}");
    assert!(!screen.contains("setup-ftp-pw"), "{screen}");
    // Without the certificate, the same server is not trusted, and the message says what to give.
    let out = bed.run(&[
        "standalone",
        "list",
        "--set",
        "storage.type=ftp",
        "--set",
        "storage.ftp.host=127.0.0.1",
        "--set",
        &format!("storage.ftp.port={}", get(&storage, "storage.ftp.port")),
        "--set",
        "storage.ftp.user=setupftp",
        "--set",
        "storage.ftp.password=setup-ftp-pw",
        "--set",
        "storage.ftp.tls=true",
    ]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("give the server's certificate"),
        "{}",
        out.stderr
    );
}

#[test]
fn azure_with_a_connection_string_alone_asks_nothing_it_carries() {
    let storage = StorageBed::start("azure");
    let cs = format!(
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={};BlobEndpoint={};",
        get(&storage, "storage.azure.access_key"),
        get(&storage, "storage.azure.endpoint")
    );
    let bed = Bed::new();
    let script = serde_json::json!([
        ["Where are the backups stored?", format!("{DOWN}\r")],
        ["Connection string", format!("{cs}\r")],
        ["Container", "backups\r"],
        ["Prefix inside the container", "\r"],
        ["reached", ""],
        [GO_ON, "\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    assert_eq!(code, 0, "{screen}");
    for unasked in [
        "Storage account",
        "Account key",
        "SAS token",
        "Blob endpoint",
    ] {
        assert!(!screen.contains(unasked), "asked {unasked:?}: {screen}");
    }
    assert!(!screen.contains("AccountKey="), "{screen}");
    // And without a terminal, from --set alone.
    let out = bed.run(&[
        "standalone",
        "list",
        "--set",
        "storage.type=azure",
        "--set",
        &format!("storage.azure.connection_string={cs}"),
        "--set",
        "storage.azure.container=backups",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn choosing_sftp_with_a_password_logs_in_to_a_real_server() {
    let storage = StorageBed::start("sftp-password");
    std::fs::write(
        storage.dir.path().join("store/analytics-2026-11-22.tar"),
        "x",
    )
    .unwrap();
    let bed = Bed::new();
    let script = serde_json::json!([
        ["Where are the backups stored?", format!("{DOWN}{DOWN}\r")],
        [
            "SFTP host",
            format!("{}\r", get(&storage, "storage.sftp.host"))
        ],
        ["Port", format!("{}\r", get(&storage, "storage.sftp.port"))],
        ["User", "setupsftp\r"],
        ["Password", "setup-sftp-pw\r"],
        [
            "Remote folder",
            format!("{}\r", get(&storage, "storage.sftp.path"))
        ],
        [
            "known_hosts file",
            format!("{}\r", get(&storage, "storage.sftp.known_hosts"))
        ],
        ["reached", ""],
        [GO_ON, "\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("analytics-2026-11-22.tar"), "{screen}");
    assert!(
        !screen.contains("setup-sftp-pw"),
        "the password was echoed or printed: {screen}"
    );
    assert!(
        !screen.contains("Bucket") && !screen.contains("Backup folder"),
        "{screen}"
    );
}

#[test]
fn check_at_a_terminal_asks_like_a_run() {
    let bed = demo();
    bed.file("answers.yml", "trusted_signers: allowed_signers\n");
    // No storage in restore.yml either: the type is asked.
    let restore = bed.read("restore.yml");
    let restore: Vec<&str> = restore
        .lines()
        .filter(|l| !l.starts_with("storage:"))
        .collect();
    bed.file("restore.yml", &(restore.join("\n") + "\n"));
    let script = serde_json::json!([
        [
            "Where are the backups stored?",
            format!("{DOWN}{DOWN}{DOWN}{DOWN}\r")
        ],
        ["Backup folder", "backups\r"],
        [GO_ON, "\r"]
    ]);
    let (code, screen) = drive(
        &bed,
        &script,
        &[
            "standalone",
            "restore",
            "--check",
            "--now",
            "2026-11-23T03:00:00Z",
        ],
    );
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("stage_config"), "the plan: {screen}");
}

#[test]
fn a_run_asks_before_it_changes_the_live_site_and_no_leaves_it_as_it_was() {
    let bed = demo();
    let before = common::tree_digest(&bed.path("target"));
    let script = serde_json::json!([["Go on?", "n"]]);
    let args = ["standalone", "restore", "--now", "2026-11-23T03:00:00Z"];
    let (code, screen) = drive(&bed, &script, &args);
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("Stop the director"),
        "what will change: {screen}"
    );
    assert!(screen.contains("on director-1"), "{screen}");
    assert!(screen.contains("not confirmed"), "{screen}");
    assert_eq!(common::tree_digest(&bed.path("target")), before);
    // --yes: no question.
    let mut with_yes = args.to_vec();
    with_yes.push("--yes");
    let (code, screen) = drive(&bed, &serde_json::json!([]), &with_yes);
    assert_eq!(code, 0, "{screen}");
    assert!(!screen.contains("Go on?"), "{screen}");
}

/// The time the operator takes over "Go on?" is not the restore's: the run's clock, and its RTO,
/// start when the answer is given.
#[test]
fn the_rto_starts_when_go_on_is_answered() {
    let bed = demo();
    // The configuration alone: a restore far shorter than the wait.
    let restore = bed
        .read("restore.yml")
        .replace("components: [config, analytics]", "components: [config]");
    bed.file("restore.yml", &restore);
    // Seen, then four seconds of reading the question (the time noted just before the answer),
    // then yes.
    let mark = bed.path("answered");
    let script = serde_json::json!([
        [
            "Go on?",
            "",
            format!(
                "sleep 4; date -u +%Y-%m-%dT%H:%M:%S.%NZ > '{}'",
                mark.display()
            )
        ],
        ["Go on?", "y"]
    ]);
    let args = [
        "standalone",
        "restore",
        "--now",
        "2026-11-23T03:00:00Z",
        "--report",
        "report.json",
    ];
    let (code, screen) = drive(&bed, &script, &args);
    assert_eq!(code, 0, "{screen}");
    let report: serde_json::Value = serde_json::from_str(&bed.read("report.json")).unwrap();
    let rto = report["rto_seconds"].as_f64().expect("an RTO");
    assert!(rto < 2.5, "the wait at the question counted: RTO {rto}s");
    let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t.trim()).unwrap();
    let answered = time(&bed.read("answered"));
    let started = time(report["started_at"].as_str().unwrap());
    assert!(
        started >= answered,
        "the run's clock started at {started}, before the answer at {answered}"
    );
}

#[test]
fn two_ctrl_c_at_a_terminal_during_a_wait_are_both_acknowledged_and_the_rollback_runs_to_its_end() {
    let bed = demo();
    // The director never comes up: the run waits on its health check.
    let ctl = bed.read("bin/democtl").replace(
        "  status) [ \"$(cat \"$dir/$name.state\" 2>/dev/null)\" = running ] && echo \"$name is running\" ;;",
        "  status) exit 3 ;;",
    )
    // Putting the director back takes a while: the second press comes during the rollback.
    .replace("  stop) mkdir -p \"$dir\";", "  stop) sleep 2; mkdir -p \"$dir\";");
    bed.file("bin/democtl", &ctl);
    let before = common::tree_digest(&bed.path("target"));
    let script = serde_json::json!([
        ["health_check", "\u{3}"],
        ["interrupt: stopping", "\u{3}"],
        ["interrupt again", ""],
    ]);
    let (code, screen) = drive(
        &bed,
        &script,
        &[
            "standalone",
            "restore",
            "--now",
            "2026-11-23T03:00:00Z",
            "--yes",
            "--only",
            "config",
        ],
    );
    assert_eq!(code, 130, "{screen}");
    let journal = common::journal(bed.dir.path());
    assert!(
        journal.iter().any(|e| e["event"] == "rollback_started"),
        "the rollback ran: {screen}"
    );
    assert_eq!(journal.last().unwrap()["event"], "run_finished", "{screen}");
    // The configuration switched in is taken back out.
    assert!(
        !bed.path("target/director-1/etc/director/RESTORED-BY-SETUP")
            .exists(),
        "{screen}"
    );
    assert!(screen.contains("undone   start_services"), "{screen}");
    assert!(before.is_empty(), "the demo's site starts empty");
}

#[test]
fn each_storage_target_is_asked_for_what_it_lacks_by_its_own_name() {
    let storage = StorageBed::start("ftp");
    std::fs::write(
        storage.dir.path().join("root/analytics-2026-11-22.tar"),
        "x",
    )
    .unwrap();
    let bed = Bed::new();
    std::fs::create_dir(bed.path("offsite")).unwrap();
    bed.file("offsite/analytics-2026-11-23.tar", "y");
    // The FTP target's settings in restore.yml, its password nowhere; the local target complete.
    bed.file(
        "restore.yml",
        &format!(
            "storage:\n  - {{ name: vault, type: ftp, host: {}, port: \"{}\", user: {}, path: /, tls: \"false\" }}\n  - {{ name: offsite, type: local, path: offsite }}\n",
            get(&storage, "storage.ftp.host"),
            get(&storage, "storage.ftp.port"),
            get(&storage, "storage.ftp.user"),
        ),
    );
    let password = get(&storage, "storage.ftp.password");
    let script = serde_json::json!([
        ["Storage target `vault` (ftp)", ""],
        ["Password", format!("{password}\r")],
        ["reached", ""],
        [GO_ON, "\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    assert_eq!(code, 0, "{screen}");
    for listed in ["analytics-2026-11-22.tar", "analytics-2026-11-23.tar"] {
        assert!(screen.contains(listed), "{listed}: {screen}");
    }
    assert!(!screen.contains(&password), "{screen}");
    assert!(
        !screen.contains("Where are the backups stored?"),
        "{screen}"
    );
}

#[test]
fn an_s3_and_an_sftp_target_are_each_asked_checked_and_reviewed_under_their_own_names() {
    let s3 = StorageBed::start("s3");
    std::fs::write(
        s3.dir.path().join("data/backups/analytics-2026-11-22.tar"),
        "x",
    )
    .unwrap();
    let sftp = StorageBed::start("sftp-password");
    std::fs::write(sftp.dir.path().join("store/analytics-2026-11-23.tar"), "y").unwrap();
    let bed = Bed::new();
    // As the README's 3-2-1 writes them: every setting in restore.yml, the secrets nowhere.
    bed.file(
        "restore.yml",
        &format!(
            "storage:\n  - {{ name: s3main, type: s3, endpoint: \"{}\", region: us-east-1, bucket: backups, access_key: {}, path_style: \"true\", prefix: \"\" }}\n  - {{ name: vault, type: sftp, host: {}, port: \"{}\", user: {}, path: {}, known_hosts: {} }}\n",
            get(&s3, "storage.s3.endpoint"),
            get(&s3, "storage.s3.access_key"),
            get(&sftp, "storage.sftp.host"),
            get(&sftp, "storage.sftp.port"),
            get(&sftp, "storage.sftp.user"),
            get(&sftp, "storage.sftp.path"),
            get(&sftp, "storage.sftp.known_hosts"),
        ),
    );
    let s3_secret = get(&s3, "storage.s3.secret_key");
    let password = get(&sftp, "storage.sftp.password");
    let script = serde_json::json!([
        ["Storage target `s3main` (s3)", ""],
        // The S3 target's secret is asked (its access key is given), checked, and asked again.
        ["Secret access key", "Wrong-Secret-Never-Echoed\r"],
        ["Asking again for the credentials", format!("{s3_secret}\r")],
        ["Storage answers of target `s3main` (s3)", ""],
        [GO_ON, "\r"],
        ["Storage target `vault` (sftp)", ""],
        ["Password", format!("{password}\r")],
        ["Storage answers of target `vault` (sftp)", "\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    println!("{screen}");
    assert_eq!(code, 0, "{screen}");
    for listed in ["analytics-2026-11-22.tar", "analytics-2026-11-23.tar"] {
        assert!(screen.contains(listed), "{listed}: {screen}");
    }
    for key in ["storage.s3main.secret_key", "storage.vault.password"] {
        assert!(screen.contains(key), "the review shows {key}: {screen}");
    }
    for other in ["storage.s3.", "storage.sftp.", "is not set"] {
        assert!(!screen.contains(other), "{other}: {screen}");
    }
    for secret in [
        "Wrong-Secret-Never-Echoed",
        s3_secret.as_str(),
        password.as_str(),
    ] {
        assert!(!screen.contains(secret), "{secret} was shown: {screen}");
    }
}

/// At a terminal, a configuration backup older than the one in place is asked about before it is
/// restored: no leaves every host as it was, yes restores it.
#[test]
fn a_configuration_older_than_the_one_in_place_is_asked_about_at_a_terminal() {
    const NEWER: &str = "director-config-20261128T020000Z.tar";
    let bed = demo();
    common::newer_config(&bed, NEWER, "2026-11-28T02:00:00Z");
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-29T03:00:00Z",
        "--set",
        "config_backup=latest",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let conf = "target/director-1/etc/director/director.conf";
    assert_eq!(bed.read(conf), "site = newer\n");
    // The newest backup's signature is deleted from storage: `latest` is the older one.
    std::fs::remove_file(bed.path(&format!("backups/{NEWER}.manifest.json.sig"))).unwrap();
    let args = [
        "standalone",
        "restore",
        "--now",
        "2026-11-29T04:00:00Z",
        "--set",
        "config_backup=latest",
    ];
    const OLDER: &str = "Restore the older configuration backup all the same?";
    let (code, screen) = drive(
        &bed,
        &serde_json::json!([["Go on?", "y"], [OLDER, "n"]]),
        &args,
    );
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains(&format!(
            "the configuration in place on director-1 is {NEWER} (taken 2026-11-28T02:00:00Z"
        )),
        "{screen}"
    );
    assert!(screen.contains("not confirmed"), "{screen}");
    assert_eq!(
        bed.read(conf),
        "site = newer\n",
        "the live configuration changed"
    );
    let (code, screen) = drive(
        &bed,
        &serde_json::json!([["Go on?", "y"], [OLDER, "y"]]),
        &args,
    );
    assert_eq!(code, 0, "{screen}");
    assert_ne!(bed.read(conf), "site = newer\n");
    assert!(
        bed.read("target/director-1/etc/director/RESTORED-BY-SETUP")
            .contains("director-config-20261120T020000Z.tar")
    );
}
