//! What an unlucky day or a storage writer still tried to break, through the binary: special files
//! named like backups, escape sequences in names, bounds on what a document may cost.

use crate::common;

use std::time::{Duration, Instant};

use common::demo;

/// Runs setup and waits at most `limit`; a run still going then is killed and reported as hung.
fn run_limited(bed: &common::Bed, args: &[&str], limit: Duration) -> (Option<i32>, String) {
    // Output goes to files: a pipe nobody reads while waiting would stop a chatty child.
    let (out, err) = (bed.path("limited.out"), bed.path("limited.err"));
    let mut child = bed
        .command(args)
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&std::fs::read(&out).unwrap()),
                String::from_utf8_lossy(&std::fs::read(&err).unwrap())
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

#[test]
fn one_large_value_aliased_many_times_is_refused_before_it_is_copied() {
    let bed = demo();
    // 1 MiB anchored once, aliased 99,000 times: a 1.5 MB file that would expand to ~100 GB.
    let mut text = format!("vars:\n  big: &big \"{}\"\n  many: [", "x".repeat(1 << 20));
    text.push_str(&"*big,".repeat(99_000));
    text.push_str("]\nhosts: {}\n");
    bed.file("master.yml", &text);
    let (code, out) = run_limited(&bed, &["validate"], Duration::from_secs(60));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("MiB of text"), "{out}");
}

#[test]
fn variables_in_a_cycle_are_refused_and_a_template_that_never_ends_is_stopped() {
    let bed = common::Bed::new();
    bed.file(
        "master.yml",
        "defaults: { connection: local }\nhosts:\n  h1: {}\n",
    )
    .file(
        "cycle.yml",
        "name: t\nvars:\n  a: \"{{ b }}\"\n  b: \"{{ a }}\"\nsteps:\n  - { id: s, hosts: all, shell: \"echo {{ a }} > said\" }\n",
    )
    .file(
        "forward.yml",
        "name: t\nvars:\n  a: \"{{ b }}\"\n  b: later\nsteps:\n  - { id: s, hosts: all, shell: \"echo {{ a }} > said\" }\n",
    )
    .file(
        "endless.yml",
        "name: t\nsteps:\n  - { id: s, hosts: all, shell: \"{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}\" }\n",
    );
    let out = bed.run(&["run", "cycle.yml"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("variables refer to each other: a -> b -> a"),
        "{}",
        out.stderr
    );
    assert!(!bed.path("said").exists());
    // A variable may read one declared after it.
    let out = bed.run(&["run", "forward.yml"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(bed.read("said"), "later\n");
    // 10^10 loop steps: stopped by the renderer's budget, the run ends and says why.
    let (code, text) = run_limited(&bed, &["run", "endless.yml"], Duration::from_secs(120));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("a loop that does not end?"), "{text}");
}

#[test]
fn thousands_of_mistakes_are_counted_and_the_first_ones_shown() {
    let bed = common::Bed::new();
    let mut text = String::from("hosts:\n");
    for i in 0..3000 {
        text.push_str(&format!(
            "  h{i}: {{ adress: 10.0.{}.{}, groups: [director] }}\n",
            i / 250,
            i % 250
        ));
    }
    bed.file("master.yml", &text);
    let (code, out) = run_limited(&bed, &["validate"], Duration::from_secs(120));
    assert_eq!(code, Some(2), "{out}");
    // Every host is wrong twice (a misspelt key, so no address): over 6,000 problems, all
    // counted, the first 50 shown, then how many more there are.
    let total: usize = out
        .split("invalid input: ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(total >= 6000, "{out}");
    assert_eq!(out.matches("Error: setup::").count(), 51, "{out}");
    assert!(
        out.contains(&format!("and {} more problem(s), not shown", total - 50)),
        "{out}"
    );
}

/// An owner file for the demo director's lock: this machine's name, a pid that runs nowhere, and
/// `instance` as the running system it names.
fn plant_lock(bed: &common::Bed, instance: &str) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let owner = serde_json::json!({
        "run": "20261101T000000Z-dead",
        "controller": host.trim(),
        "pid": 4_000_000,
        "pid_start": 1,
        "operation": "restore",
        "started": "2026-11-01T00:00:00Z",
        "instance": instance,
    });
    bed.file(
        "target/director-1/var/lock/setup.lock/owner.json",
        &format!("{owner}\n"),
    );
}

#[test]
fn a_clone_with_the_same_host_name_never_takes_over_a_live_runs_lock() {
    let bed = demo();
    // A cloned VM (or a container with a fixed name): same host name, its own boot.
    plant_lock(&bed, "another-boot-id/pid:[4026531836]");
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("is locked by run 20261101T000000Z-dead"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    // The same system, its process gone: taken over.
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    plant_lock(&bed, &format!("{}/{}", boot.trim(), ns.display()));
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

#[test]
fn a_lock_whose_owner_cannot_be_written_is_not_left_behind() {
    let bed = demo();
    // Files cannot grow (as on a full disk): the owner file of the lock cannot be written.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("trap '' XFSZ; ulimit -f 0; exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_setup"))
        .args([
            "standalone",
            "restore",
            "--now",
            "2026-11-23T03:00:00Z",
            "--only",
            "config",
        ])
        .current_dir(bed.dir.path())
        .env("CI", "true")
        .env("SETUP_LOCK_DIR", bed.path(".machine-lock"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(0), "{text}");
    assert!(
        !bed.path("target/director-1/var/lock/setup.lock").exists(),
        "an ownerless lock was left: {text}"
    );
    // The next run, with room again, is not refused.
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// One raw ustar header block.
fn raw_header(name: &str, kind: u8, size: u64, link: &str, mode: u64) -> Vec<u8> {
    let mut h = vec![0u8; 512];
    h[..name.len()].copy_from_slice(name.as_bytes());
    h[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
    h[108..115].copy_from_slice(b"0000000");
    h[116..123].copy_from_slice(b"0000000");
    h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
    h[136..147].copy_from_slice(b"00000000000");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[148..156].copy_from_slice(b"        ");
    let sum: u64 = h.iter().map(|b| *b as u64).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

/// A pax header block and its records, padded.
fn pax(kind: u8, records: &str) -> Vec<u8> {
    let mut v = raw_header("PaxHeaders/x", kind, records.len() as u64, "", 0o644);
    v.extend_from_slice(records.as_bytes());
    v.resize(v.len().div_ceil(512) * 512, 0);
    v
}

/// "LEN key=value\n", LEN counting itself.
fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut n = body.len() + 1;
    while (n.to_string().len() + body.len()) != n {
        n = n.to_string().len() + body.len();
    }
    format!("{n}{body}")
}

#[test]
fn headers_hidden_behind_a_pax_size_are_read_as_gnu_tar_reads_them_and_refused() {
    let bed = demo();
    let outside = bed.path("outside");
    std::fs::create_dir_all(&outside).unwrap();
    // A file whose ustar size covers five blocks, but whose pax size is 0: GNU tar reads those
    // blocks as headers. Hidden there: an absolute link, a link that climbs out, a FIFO, a setuid
    // file and one more file.
    let hidden = [
        raw_header("abs", b'2', 0, "/etc", 0o777),
        raw_header(
            "up",
            b'2',
            0,
            &format!("../../../{}", outside.display()),
            0o777,
        ),
        raw_header("fifo", b'6', 0, "", 0o644),
        raw_header("suid", b'0', 0, "", 0o4755),
        raw_header("extra.conf", b'0', 0, "", 0o644),
    ]
    .concat();
    let mut archive = pax(b'x', &pax_record("size", "0"));
    archive.extend(raw_header(
        "director.conf",
        b'0',
        hidden.len() as u64,
        "",
        0o644,
    ));
    archive.extend(&hidden);
    archive.extend(vec![0u8; 1024]);
    // And a global pax header that would point every later link at /etc.
    let mut global = pax(b'g', &pax_record("linkpath", "/etc"));
    global.extend(raw_header("director.conf", b'0', 0, "", 0o644));
    global.extend(raw_header("harmless", b'2', 0, "director.conf", 0o777));
    global.extend(vec![0u8; 1024]);
    for (name, bytes, why) in [
        (
            "director-config-20261121T020000Z.tar",
            archive,
            "`abs` points to the absolute path `/etc`",
        ),
        (
            "director-config-20261122T020000Z.tar",
            global,
            "global pax header",
        ),
    ] {
        std::fs::write(bed.path(&format!("backups/{name}")), &bytes).unwrap();
        // Signed, as a compromised DC would sign it: the archive reader is what must stop it.
        common::sign_backup(&bed.path("backups"), name, "2026-11-21T02:00:00Z");
        let set = format!("config_backup={name}");
        let out = bed.run(&[
            "standalone",
            "restore",
            "--now",
            "2026-11-23T03:00:00Z",
            "--only",
            "config",
            "--set",
            &set,
        ]);
        assert_eq!(out.code, 1, "{name}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout
                .contains("refused before anything live was touched")
                && out.stdout.contains(why),
            "{name}: {}",
            out.stdout
        );
        assert!(
            common::files_under(&bed.path("target/director-1/etc")).is_empty(),
            "{name}: the director's side changed"
        );
        assert!(common::files_under(&outside).is_empty());
        let out = bed.run(&["standalone", "verify", "--set", &set]);
        assert_eq!(out.code, 1, "{name}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.contains(why), "{name}: {}", out.stdout);
    }
}

#[test]
fn two_project_folders_driving_this_machine_exclude_each_other_and_one_run_never_excludes_itself() {
    let machine = tempfile::tempdir().unwrap();
    let folder = |marker: &str| {
        let bed = common::Bed::new();
        // One machine under two names: a standalone site's director and analytics on one host.
        bed.file(
            "master.yml",
            "defaults: { connection: local }\nhosts:\n  director-1: {}\n  analytics-1: {}\n",
        )
        .file(
            "pb.yml",
            &format!("steps:\n  - {{ id: s, hosts: all, shell: 'touch {marker}-$$; sleep 5' }}\n"),
        );
        bed
    };
    let (a, b) = (folder("a"), folder("b"));
    let first = a
        .command(&["run", "pb.yml"])
        .env("SETUP_LOCK_DIR", machine.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !std::fs::read_dir(a.dir.path())
        .unwrap()
        .any(|e| e.unwrap().file_name().to_string_lossy().starts_with("a-"))
    {
        assert!(started.elapsed() < Duration::from_secs(30), "never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let second = b
        .command(&["run", "pb.yml"])
        .env("SETUP_LOCK_DIR", machine.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&second.stdout).into_owned()
        + &String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(3), "{text}");
    assert!(text.contains("is locked by run"), "{text}");
    assert!(
        !std::fs::read_dir(b.dir.path()).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("b-")),
        "the second folder ran a step"
    );
    let out = first.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let journal = common::journal(a.dir.path());
    let locks: Vec<_> = journal.iter().filter(|e| e["event"] == "lock").collect();
    assert!(
        locks.iter().any(
            |e| e["action"] == "already held by this run (the same machine under another name)"
        ),
        "{locks:?}"
    );
    assert!(!machine.path().join("setup.lock").exists(), "released");
    // Once the first is done, the second folder runs.
    let out = b
        .command(&["run", "pb.yml"])
        .env("SETUP_LOCK_DIR", machine.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
}

/// The mode bits of `path` (0o777 part).
fn mode_of(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn the_pre_restore_folder_is_owner_only_even_when_an_older_run_left_it_open() {
    let bed = demo();
    let pre = bed.path("target/director-1/var/lib/setup/pre-restore");
    std::fs::create_dir_all(&pre).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pre, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(mode_of(&pre), 0o700, "{}", pre.display());
    // A fresh site: made owner-only.
    let bed = demo();
    let out = bed.run(&["standalone", "restore", "--now", "2026-11-23T03:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        mode_of(&bed.path("target/director-1/var/lib/setup/pre-restore")),
        0o700
    );
}

#[test]
fn a_backup_named_in_the_future_is_shown_so_and_never_counts_as_the_rpo() {
    let bed = demo();
    // No keys to check with: every backup counts toward the RPO, a planted one too.
    bed.file("answers.yml", "");
    let name = "director-config-20991231T235959Z.tar";
    std::fs::copy(
        bed.path("backups/director-config-20261120T020000Z.tar"),
        bed.path(&format!("backups/{name}")),
    )
    .unwrap();
    let out = bed.run(&["standalone", "list", "--now", "2026-11-23T03:00:00Z"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains(name))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    assert!(line.contains("in the future"), "{line}");
    assert!(!line.contains(" old"), "{line}");
    let rpo = out
        .stdout
        .lines()
        .find(|l| l.starts_with("RPO"))
        .unwrap_or_else(|| panic!("{}", out.stdout));
    // The newest real backup (analytics-2026-11-22, taken two hours before), not the planted one.
    assert_eq!(rpo, "RPO (age of the newest backup): 2h", "{}", out.stdout);
    let json = bed.run(&[
        "standalone",
        "list",
        "--now",
        "2026-11-23T03:00:00Z",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let row = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == name)
        .unwrap()
        .clone();
    assert_eq!(row["in_future"], true, "{row}");
    assert!(row["age_seconds"].is_null(), "{row}");
}

#[test]
fn the_servers_audit_log_is_owner_only_and_signing_out_needs_the_forms_token() {
    use common::served::{TOKEN, serve};
    let bed = common::dc_demo_one_store();
    // An audit log an older version left readable to all is made owner-only.
    let audit = bed.path("demo-dc/.setup/serve/audit.jsonl");
    std::fs::create_dir_all(audit.parent().unwrap()).unwrap();
    std::fs::write(&audit, "").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&audit, std::fs::Permissions::from_mode(0o644)).unwrap();
    let s = serve(&bed, "demo-dc");
    let jar = bed.path("jar");
    let curl = |args: &[&str], path: &str| -> (String, String) {
        let out = std::process::Command::new("curl")
            .args(["-s", "-o", "-", "-w", "\n%{http_code}", "-b"])
            .arg(&jar)
            .arg("-c")
            .arg(&jar)
            .args(args)
            .arg(format!("{}{path}", s.base))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap();
        (code.to_string(), body.to_string())
    };
    let (code, _) = curl(&["--data", &format!("token={TOKEN}")], "/login");
    assert_eq!(code, "303");
    assert!(std::fs::read_to_string(&audit).unwrap().contains("/login"));
    assert_eq!(mode_of(&audit), 0o600);
    // A fresh audit log is created owner-only.
    std::fs::remove_file(&audit).unwrap();
    let (code, page) = curl(&[], "/");
    assert_eq!(code, "200");
    assert_eq!(mode_of(&audit), 0o600);
    // Signing out without the session's CSRF token (a form on another site) signs nobody out.
    for fields in [&["-X", "POST"][..], &["--data", "csrf=guess"][..]] {
        let (code, _) = curl(fields, "/ui/logout");
        assert_eq!(code, "403", "{fields:?}");
        assert_eq!(curl(&[], "/").0, "200", "still signed in after {fields:?}");
    }
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in the page: {page}"));
    let (code, _) = curl(&["--data", &format!("csrf={csrf}")], "/ui/logout");
    assert_eq!(code, "303");
    assert_eq!(curl(&[], "/").0, "303", "signed out");
}

#[test]
fn an_unsigned_decoy_beside_a_signed_day_is_passed_over_and_the_signed_one_restored() {
    let bed = demo();
    // The genuine day as the DC stores it now (compressed, signed), and beside it a plain tar of
    // that day dropped by someone who can write to storage but cannot sign.
    let day = "analytics-2026-11-17";
    let ok = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "set -e; cd '{}'; zstd -q --rm {day}.tar -o {day}.tar.zst; rm {day}.tar.sha256 {day}.tar.manifest.json {day}.tar.manifest.json.sig; mkdir decoy; echo planted > decoy/planted; tar -C decoy -cf {day}.tar planted; rm -r decoy; sha256sum {day}.tar > {day}.tar.sha256",
            bed.path("backups").display()
        ))
        .status()
        .unwrap()
        .success();
    assert!(ok);
    common::sign_backup(
        &bed.path("backups"),
        &format!("{day}.tar.zst"),
        "2026-11-17T23:30:00Z",
    );
    let out = bed.run(&[
        "standalone",
        "restore",
        "--now",
        "2026-11-23T03:00:00Z",
        "--only",
        "analytics",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let line = |name: &str| {
        out.stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("{name} is not in the gate's list: {}", out.stdout))
            .to_string()
    };
    let decoy = line(&format!("{day}.tar"));
    assert!(
        decoy.contains("passed over") && decoy.contains("not signed"),
        "{decoy}"
    );
    let genuine = line(&format!("{day}.tar.zst"));
    assert!(genuine.contains("selected"), "{genuine}");
    let live = bed.path("target/analytics-1/var/lib/analytics");
    assert!(!live.join("planted").exists(), "the decoy was restored");
    let state: serde_json::Value =
        serde_json::from_str(&bed.read("target/analytics-1/var/lib/setup/analytics-state.json"))
            .unwrap();
    assert_eq!(state["through"], "2026-11-22", "{state}");
    let restored: Vec<&str> = state["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["name"].as_str())
        .collect();
    assert!(
        restored.contains(&"analytics-2026-11-17.tar.zst"),
        "{restored:?}"
    );
    assert!(
        !restored.contains(&"analytics-2026-11-17.tar"),
        "{restored:?}"
    );
}

#[test]
fn storage_rolled_back_to_an_older_backup_is_refused_by_its_age_and_by_the_marker_and_named_as_vanished()
 {
    use common::receivers::Webhook;
    const NEWER: &str = "director-config-20261128T020000Z.tar";
    const SECRET: &str = "Webhook-Secret-Rollback-41";
    let rx = Webhook::start(SECRET);
    let bed = demo();
    // The binary's own bounds: 2 days for the configuration, 8 for analytics.
    bed.default_ages();
    bed.file(
        "answers.yml",
        &format!(
            "trusted_signers: allowed_signers\nnotify.webhook.url: {}\nnotify.webhook.secret: {SECRET}\n",
            rx.url("/hook")
        ),
    );
    common::newer_config(&bed, NEWER, "2026-11-28T02:00:00Z");
    let conf = "target/director-1/etc/director/director.conf";
    let marker = "target/director-1/etc/director/RESTORED-BY-SETUP";
    let restore = |now: &str, extra: &[&str]| {
        let mut args = vec![
            "standalone",
            "restore",
            "--now",
            now,
            "--set",
            "config_backup=latest",
            "--report",
            "report.json",
        ];
        args.extend(extra);
        bed.run(&args)
    };
    // The newest backup is restored and seen.
    let out = restore("2026-11-29T03:00:00Z", &[]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(bed.read(conf), "site = newer\n");
    assert!(bed.read(marker).contains(NEWER), "{}", bed.read(marker));

    // Someone with write access to the bucket, and no key, empties the newest backup and deletes
    // its signature: `latest` is now the 20 November backup, 9 days old.
    std::fs::write(bed.path(&format!("backups/{NEWER}")), "").unwrap();
    std::fs::remove_file(bed.path(&format!("backups/{NEWER}.manifest.json.sig"))).unwrap();
    // What was said, with the error report's wrapping undone.
    let said = |out: &common::Out| {
        let mut text = String::new();
        for word in format!("{}{}", out.stdout, out.stderr)
            .split_whitespace()
            .filter(|w| *w != "|")
        {
            if !text.is_empty() && !text.ends_with('-') {
                text.push(' ');
            }
            text.push_str(word);
        }
        text
    };

    // Its age stops the restore before anything runs.
    let out = restore("2026-11-29T04:00:00Z", &[]);
    assert_eq!(out.code, 1, "{}", said(&out));
    for words in [
        "director-config-20261120T020000Z.tar, is 9d 2h old",
        "beyond max_backup_age.config (2d)",
        "--set max_backup_age.config=10d",
        &format!("VANISHED: {NEWER} (taken 2026-11-28T02:00:00Z)"),
        "nothing was run",
    ] {
        assert!(said(&out).contains(words), "{words}: {}", said(&out));
    }
    assert_eq!(
        bed.read(conf),
        "site = newer\n",
        "the live configuration changed"
    );

    // `--check`, `verify` and the drill say the same, exit 1.
    let out = bed.run(&[
        "standalone",
        "restore",
        "--check",
        "--now",
        "2026-11-29T04:00:00Z",
        "--set",
        "config_backup=latest",
    ]);
    assert_eq!(out.code, 1, "{}", said(&out));
    let line = |needle: &str| {
        out.stdout
            .lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}: {}", out.stdout))
            .to_string()
    };
    assert!(
        line("is 9d 2h old").contains("FAIL fresh"),
        "{}",
        out.stdout
    );
    assert!(line("VANISHED").contains("vanished"), "{}", out.stdout);
    assert!(
        line("run again with --allow-older").contains("FAIL older  director-1:"),
        "{}",
        out.stdout
    );
    let out = bed.run(&[
        "standalone",
        "verify",
        "--now",
        "2026-11-29T04:00:00Z",
        "--set",
        "config_backup=latest",
    ]);
    assert_eq!(out.code, 1, "{}", said(&out));
    assert!(
        out.stdout
            .contains("TOO OLD: the newest configuration backup this site trusts, director-config-20261120T020000Z.tar, is 9d 2h old"),
        "{}",
        out.stdout
    );
    let out = bed.run(&["standalone", "drill", "--now", "2026-11-29T04:00:00Z"]);
    assert_eq!(out.code, 1, "{}", said(&out));
    assert!(said(&out).contains("is 9d 2h old"), "{}", said(&out));
    // Sweeping what earlier drills left reads no backup: their age does not stop it.
    let out = bed.run(&[
        "standalone",
        "drill",
        "--clean",
        "--now",
        "2026-11-29T04:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}", said(&out));

    // Its age accepted, the marker still refuses to put it over the newer live configuration.
    let out = restore(
        "2026-11-29T05:00:00Z",
        &["--set", "max_backup_age.config=10d"],
    );
    assert_eq!(out.code, 1, "{}", said(&out));
    assert!(
        said(&out).contains(&format!(
            "the configuration in place on director-1 is {NEWER} (taken 2026-11-28T02:00:00Z"
        )) && said(&out).contains("run again with --allow-older"),
        "{}",
        said(&out)
    );
    assert_eq!(
        bed.read(conf),
        "site = newer\n",
        "the live configuration changed"
    );
    // The vanished backup is named in the summary, the report and the webhook.
    assert!(
        out.stdout.contains(&format!("VANISHED: {NEWER}")),
        "{}",
        out.stdout
    );
    let report: serde_json::Value = serde_json::from_str(&bed.read("report.json")).unwrap();
    let named = |list: &serde_json::Value| {
        list.as_array().into_iter().flatten().any(|s| {
            s.as_str()
                .is_some_and(|s| s.contains(&format!("VANISHED: {NEWER}")))
        })
    };
    assert!(named(&report["storage"]), "{}", report["storage"]);
    let hooks = rx.received();
    let last = hooks.last().expect("a webhook");
    assert_eq!(last["signature_ok"], true);
    assert!(named(&last["body"]["storage"]), "{}", last["body"]);

    // With --allow-older it is restored, and said to be older.
    let out = restore(
        "2026-11-29T06:00:00Z",
        &["--set", "max_backup_age.config=10d", "--allow-older"],
    );
    assert_eq!(out.code, 0, "{}", said(&out));
    assert!(
        out.stdout.contains(&format!(
            "director-config-20261120T020000Z.tar is older than the configuration in place on director-1, {NEWER}: restored as --allow-older allows"
        )),
        "{}",
        out.stdout
    );
    assert_ne!(bed.read(conf), "site = newer\n");
    assert!(
        bed.read(marker)
            .contains("director-config-20261120T020000Z.tar")
    );
}

#[test]
fn the_servers_dashboard_turns_red_when_the_newest_backup_is_older_than_max_backup_age() {
    use common::served::{self, TOKEN, curl, serve};
    let bed = common::dc_demo_one_store();
    bed.default_ages();
    let stamp = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let now = chrono::Utc::now();
    let backup = |at: &str| {
        let out = bed.run(&["standalone", "backup", "-C", "demo-dc", "--now", at]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    };
    // Three days old: beyond the configuration's two.
    backup(&stamp(now - chrono::Duration::days(3)));
    let s = serve(&bed, "demo-dc");
    let status = || -> serde_json::Value {
        let (code, _, body) = curl(&s.base, "GET", "/api/v1/status", Some(TOKEN), None);
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let config = status()["backups"]["config"].clone();
    assert_eq!(config["too_old"], true, "{config}");
    assert_eq!(config["max_age_seconds"], 172_800, "{config}");
    let jar = bed.path("jar");
    let page = || -> String {
        served::sign_in(&s.base, &jar);
        let (code, html) = served::page(&s.base, &jar, "/");
        assert_eq!(code, 200, "{html}");
        html
    };
    let card = |html: &str| -> String {
        let at = html
            .find("id=\"rpo-config\"")
            .unwrap_or_else(|| panic!("{html}"));
        let start = html[..at].rfind("<div").unwrap();
        html[start..start + html[start..].find("</div>").unwrap()].to_string()
    };
    let red = card(&page());
    assert!(red.contains("class=\"card bad\""), "{red}");
    assert!(
        red.contains("<b>Beyond</b> max_backup_age.config (2d)"),
        "{red}"
    );
    // A backup taken now (outside the server, which reads storage again within seconds): within
    // the bound, and no longer red.
    backup(&stamp(now));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while status()["backups"]["config"]["too_old"] != false {
        assert!(std::time::Instant::now() < deadline, "still too old");
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    let fresh = card(&page());
    assert!(fresh.contains("class=\"card ok\""), "{fresh}");
    assert!(
        fresh.contains("Within max_backup_age.config (2d)"),
        "{fresh}"
    );
}

/// A job's output files are the server user's alone, and a token the server does not know is said
/// to be unknown (not missing).
#[test]
fn a_jobs_output_is_owner_only_and_an_unknown_token_is_named_so() {
    use common::served::{TOKEN, curl, serve};
    let bed = common::dc_demo_one_store();
    let out = bed.run(&[
        "standalone",
        "backup",
        "-C",
        "demo-dc",
        "--now",
        "2026-11-30T02:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    // What a verify needs to read them, and one stored byte changed (its sidecar too).
    std::fs::copy(
        common::repo().join("inventories/demo/allowed_signers"),
        bed.path("demo-dc/allowed_signers"),
    )
    .unwrap();
    bed.file(
        "demo-dc/answers.yml",
        "storage.type: local\nstorage.local.path: store\nage_identity: demo-identity.txt\ntrusted_signers: allowed_signers\n",
    );
    let store = bed.path("demo-dc/store");
    let day = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("analytics-") && n.ends_with(".age"))
        .unwrap();
    let mut bytes = std::fs::read(store.join(&day)).unwrap();
    let n = bytes.len() - 40;
    bytes[n] ^= 1;
    std::fs::write(store.join(&day), &bytes).unwrap();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&bytes))
    };
    std::fs::write(
        store.join(format!("{day}.sha256")),
        format!("{digest}  {day}\n"),
    )
    .unwrap();
    let s = serve(&bed, "demo-dc");
    let (code, _, body) = curl(
        &s.base,
        "GET",
        "/api/v1/jobs",
        Some("not-a-token-at-all"),
        None,
    );
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("the token is not known"), "{body}");
    let (code, _, body) = curl(&s.base, "GET", "/api/v1/jobs", None, None);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("a token is needed"), "{body}");
    let (code, _, body) = curl(&s.base, "POST", "/api/v1/verify", Some(TOKEN), None);
    assert_eq!(code, 202, "{body}");
    let job: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let ended = loop {
        let (_, _, body) = curl(
            &s.base,
            "GET",
            &format!("/api/v1/jobs/{id}"),
            Some(TOKEN),
            None,
        );
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        if v["status"] != "running" {
            break v;
        }
        assert!(std::time::Instant::now() < deadline, "the job never ended");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    // A tampered backup is said on the run's standard output, not its errors: the failed job
    // still says why.
    assert_eq!(ended["status"], "failed", "{ended}");
    assert!(
        ended["message"].as_str().is_some_and(|m| m.contains("BAD")),
        "{ended}"
    );
    let jobs = bed.path("demo-dc/.setup/serve/jobs");
    let files: Vec<_> = std::fs::read_dir(&jobs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "out" || x == "err"))
        .collect();
    assert_eq!(files.len(), 2, "{files:?}");
    for f in files {
        assert_eq!(mode_of(&f), 0o600, "{}", f.display());
    }
}
