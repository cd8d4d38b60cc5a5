//! The interactive flow in a real pseudo-terminal: a Select for the storage type, then only that
//! type's questions, defaults shown, secrets typed without echo.

mod common;

use common::{Bed, repo};

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
        .env("SETUP_LOCK_DIR", bed.path(".machine-lock"));
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

const DOWN: &str = "\u{1b}[B";

#[test]
fn choosing_local_asks_only_for_the_folder() {
    let bed = Bed::new();
    std::fs::create_dir(bed.path("backups")).unwrap();
    bed.file("backups/analytics-2026-11-22.tar", "x");
    let keys = format!("{DOWN}{DOWN}{DOWN}{DOWN}\r");
    let script = serde_json::json!([
        ["Where are the backups stored?", keys],
        ["Backup folder", "backups\r"]
    ]);
    let (code, screen) = drive(&bed, &script, &["standalone", "list"]);
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("analytics-2026-11-22.tar"), "{screen}");
    for other in ["Bucket", "Container", "SFTP host", "FTP host", "Password"] {
        assert!(
            !screen.contains(other),
            "asked {other:?} for local storage: {screen}"
        );
    }
}

#[test]
fn choosing_s3_asks_its_questions_with_defaults_and_hides_the_secret() {
    let bed = Bed::new();
    let script = serde_json::json!([
        ["Where are the backups stored?", "\r"],
        ["S3 endpoint URL", "http://127.0.0.1:1\r"],
        ["Region", "\r"],
        ["Bucket", "dr-backups\r"],
        ["Access key ID", "AKIDEXAMPLE\r"],
        ["Secret access key", "Typed-Secret-Never-Echoed\r"],
        ["Path-style", "\r"],
        ["Prefix", "\r"],
    ]);
    let (code, screen) = drive(
        &bed,
        &script,
        &["standalone", "list", "--connect-timeout", "2"],
    );
    assert_ne!(code, 0, "nothing listens on port 1: {screen}");
    // Optional questions are asked too: without them a MinIO user cannot get in.
    for asked in [
        "S3 endpoint URL",
        "Access key ID",
        "Secret access key",
        "Prefix",
    ] {
        assert!(screen.contains(asked), "{asked:?} was not asked: {screen}");
    }
    assert!(
        screen.contains("127.0.0.1:1"),
        "the typed endpoint is the one tried: {screen}"
    );
    assert!(
        screen.contains("us-east-1"),
        "the region default is shown: {screen}"
    );
    assert!(
        !screen.contains("Typed-Secret-Never-Echoed"),
        "the secret was echoed or printed: {screen}"
    );
    assert!(
        !screen.contains("Backup folder") && !screen.contains("Container"),
        "{screen}"
    );
}

#[test]
fn choosing_sftp_with_a_password_logs_in_to_a_real_server() {
    let storage = common::storagebed::StorageBed::start("sftp-password");
    let answers = storage.answers();
    let get = |key: &str| {
        answers
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: ")))
            .unwrap()
            .trim_matches('"')
            .to_string()
    };
    std::fs::write(
        storage.dir.path().join("store/analytics-2026-11-22.tar"),
        "x",
    )
    .unwrap();
    let bed = Bed::new();
    // Only what is not a question: the server's host key.
    bed.file(
        "answers.yml",
        &format!(
            "storage.sftp.known_hosts: {}\n",
            get("storage.sftp.known_hosts")
        ),
    );
    let script = serde_json::json!([
        ["Where are the backups stored?", format!("{DOWN}{DOWN}\r")],
        ["SFTP host", format!("{}\r", get("storage.sftp.host"))],
        ["Port", format!("{}\r", get("storage.sftp.port"))],
        ["User", "setupsftp\r"],
        ["Password", "setup-sftp-pw\r"],
        ["Remote folder", format!("{}\r", get("storage.sftp.path"))],
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
