//! What an unlucky day or a storage writer still tried to break, through the binary: special files
//! named like backups, escape sequences in names, bounds on what a document may cost.

mod common;

use std::time::{Duration, Instant};

use common::demo;

/// Runs setup and waits at most `limit`; a run still going then is killed and reported as hung.
fn run_limited(bed: &common::Bed, args: &[&str], limit: Duration) -> (Option<i32>, String) {
    let mut child = bed
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            return (status.code(), text);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return (None, String::new());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mkfifo(path: &std::path::Path) {
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn a_fifo_named_like_a_backup_is_refused_and_the_run_ends() {
    let bed = demo();
    let manifest = bed.path("backups/director-config-20261120T020000Z.tar.manifest.json");
    std::fs::remove_file(&manifest).unwrap();
    mkfifo(&manifest);
    let sidecar = bed.path("backups/analytics-2026-11-15.tar");
    std::fs::remove_file(&sidecar).unwrap();
    mkfifo(&sidecar);
    for args in [
        &["standalone", "restore", "--now", "2026-11-23T03:00:00Z"][..],
        &["standalone", "verify", "--now", "2026-11-23T03:00:00Z"][..],
        &["standalone", "list"][..],
    ] {
        let (code, text) = run_limited(&bed, args, Duration::from_secs(60));
        let code = code.unwrap_or_else(|| panic!("{args:?} hung on a FIFO"));
        if args[1] == "list" {
            // A FIFO is not an object: not listed, not opened.
            assert_eq!(code, 0, "{text}");
            assert!(!text.contains("analytics-2026-11-15.tar "), "{text}");
        } else {
            assert_eq!(code, 1, "{args:?}: {text}");
            assert!(text.contains("not a regular file"), "{args:?}: {text}");
        }
    }
    assert!(
        common::files_under(&bed.path("target/director-1/etc")).is_empty(),
        "the director's side changed"
    );
}

#[test]
fn escape_sequences_in_names_from_storage_never_reach_the_terminal() {
    let bed = demo();
    // Erases the line and writes a verdict of its own, if a terminal ever saw it raw.
    let evil = "analytics-2026-11-15.tar\x1b[2K\r  selected OK";
    std::fs::copy(
        bed.path("backups/analytics-2026-11-15.tar"),
        bed.path(&format!("backups/{evil}")),
    )
    .unwrap();
    for args in [
        &["standalone", "restore", "--now", "2026-11-18T12:00:00Z"][..],
        &[
            "standalone",
            "restore",
            "--check",
            "--now",
            "2026-11-18T12:00:00Z",
        ][..],
        &["standalone", "list"][..],
        &["standalone", "verify", "--now", "2026-11-18T12:00:00Z"][..],
    ] {
        let out = bed.run(args);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(
            !all.contains('\x1b') && !all.contains('\r'),
            "{args:?}: {all:?}"
        );
        // verify leaves names the gate calls unsafe out; the others show the name, escaped.
        if args[1] != "verify" {
            assert!(
                all.contains("\\u{1b}[2K"),
                "{args:?}: the name is shown escaped: {all}"
            );
        }
    }
}
