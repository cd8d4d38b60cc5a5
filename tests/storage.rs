//! Every storage backend against its real server on loopback: a 50 MB round trip checked by sha256
//! (put, list, get, ranged get, delete), listing, upload and a streamed fetch into a real SSH host,
//! a missing object, and wrong credentials that name the server and the key without showing the secret.

use crate::common;

use common::sshbed::SshBed;
use common::storagebed::StorageBed;
use common::{Bed, Out};

fn run(bed: &Bed, args: &[&str]) -> Out {
    let out = bed.run(args);
    Out {
        code: out.code,
        stdout: out.stdout,
        stderr: out.stderr,
    }
}

/// `setup` in a folder whose answers.yml points at the storage server.
fn bed_for(storage: &StorageBed, master: &str) -> Bed {
    let bed = Bed::new();
    bed.file("answers.yml", &storage.answers())
        .file("master.yml", master);
    std::fs::set_permissions(
        bed.path("answers.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    bed
}

/// `storage-test` of 50 MB whose download is cut after 10 MiB.
fn storage_test_cut(bed: &Bed, storage: &StorageBed) -> Out {
    use std::io::{BufRead, Write};
    let mut child = bed
        .command(&["storage-test", "--size-mb", "50", "--pause-after-mb", "10"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line.starts_with("paused after") {
            storage.cut();
            writeln!(child.stdin.as_mut().unwrap()).unwrap();
            break;
        }
    }
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: seen + &rest,
    }
}

fn exercise(kind: &'static str, wrong: (&str, &str), key_hint: &str) -> (StorageBed, Bed) {
    let storage = StorageBed::start(kind);
    let ssh = SshBed::start(1);
    let master = ssh
        .master()
        .replace("defaults: {", "defaults: { max_parallel: 4,")
        .replace(
            "\nhosts:\n",
            "\nhosts:\n  ctl: { connection: local, groups: [ctl] }\n",
        );
    let bed = bed_for(&storage, &master);

    // 50 MB streamed both ways, sha256 compared, then a ranged read and a delete. The whole-object
    // read pauses after 10 MiB while every connection to the server is aborted; it must resume from
    // its offset and still match.
    let out = storage_test_cut(&bed, &storage);
    assert_eq!(out.code, 0, "{kind}: {}{}", out.stdout, out.stderr);
    for needle in [
        "put ",
        "list ",
        "sha256",
        "matches",
        "range ",
        "delete ",
        ": ok",
        "retry   read",
        "resum",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{kind}: no {needle:?} in {}",
            out.stdout
        );
    }

    // The retry names the object, so that a run can tell which transfer it belongs to.
    assert!(
        out.stdout
            .lines()
            .filter(|l| l.starts_with("retry"))
            .all(|l| l.contains("setup-storage-test-")),
        "{kind}: {}",
        out.stdout
    );

    // upload (host -> storage, with a sha256 sidecar), list, then fetch into a real SSH host.
    bed.file("payload.bin", &"backup bytes\n".repeat(40_000));
    let dest = ssh.path("fetched/payload.bin");
    bed.file(
        "pb.yml",
        &format!(
            "steps:\n  - {{ id: up, hosts: ctl, upload: {{ src: payload.bin, object: dr/payload-2026-11-20.bin }} }}\n  - {{ id: down, hosts: host1, needs: [up], fetch: {{ object: dr/payload-2026-11-20.bin, dest: {} }} }}\n",
            dest.display()
        ),
    );
    // A plain file upload has a sidecar but no signed manifest: fetched with --allow-unsigned.
    let out = run(&bed, &["run", "pb.yml"]);
    assert_eq!(out.code, 2, "{kind}: {}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("trusted_signers"),
        "{kind}: {}",
        out.stderr
    );
    let out = run(&bed, &["run", "pb.yml", "--allow-unsigned"]);
    assert_eq!(out.code, 0, "{kind}: {}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("sha256 verified"),
        "{kind}: {}",
        out.stdout
    );
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(bed.path("payload.bin")).unwrap()
    );
    // A second upload of the same name replaces it (servers that refuse to rename over a file too).
    bed.file("payload.bin", &"newer backup bytes\n".repeat(30_000));
    let out = run(&bed, &["run", "pb.yml", "--allow-unsigned"]);
    assert_eq!(out.code, 0, "{kind}: {}{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read(&dest).unwrap(),
        std::fs::read(bed.path("payload.bin")).unwrap(),
        "{kind}: the second upload did not replace the first"
    );
    let out = run(&bed, &["standalone", "list", "--json"]);
    assert_eq!(out.code, 0, "{kind}: {}", out.stderr);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let row = v["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "dr/payload-2026-11-20.bin")
        .expect("listed");
    assert_eq!(row["size"], 570_000);
    assert_eq!(row["checksum"], true);

    // A missing object: a clear error, the step fails before anything depends on it.
    bed.file("missing.yml", "steps:\n  - { id: down, hosts: ctl, fetch: { object: nope.tar, dest: got.tar, sha256: 'ab00000000000000000000000000000000000000000000000000000000000000' } }\n  - { id: after, hosts: ctl, needs: [down], shell: 'touch after' }\n");
    let out = run(&bed, &["run", "missing.yml", "--allow-unsigned"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stdout.contains("backup `nope.tar` is not in"),
        "{kind}: {}",
        out.stdout
    );
    assert!(!bed.path("after").exists() && !bed.path("got.tar").exists());

    // A digest that does not match: the step fails before its dependant starts, and nothing is left
    // on the host, partial file included.
    let bad = ssh.path("fetched/bad.bin");
    bed.file(
        "bad.yml",
        &format!(
            "steps:\n  - {{ id: down, hosts: host1, fetch: {{ object: dr/payload-2026-11-20.bin, dest: {}, sha256: 'ab{}' }} }}\n  - {{ id: after, hosts: ctl, needs: [down], shell: 'touch after-bad' }}\n",
            bad.display(),
            "0".repeat(62)
        ),
    );
    let out = run(&bed, &["run", "bad.yml", "--allow-unsigned"]);
    assert_eq!(out.code, 1, "{kind}: {}", out.stdout);
    assert!(
        out.stdout
            .contains("checksum mismatch for dr/payload-2026-11-20.bin"),
        "{kind}: {}",
        out.stdout
    );
    assert!(!bed.path("after-bad").exists() && !bad.exists());
    let left: Vec<_> = std::fs::read_dir(ssh.path("fetched"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["payload.bin"], "{kind}: left on the host: {left:?}");

    // Wrong credentials: names the server and the key to fix, never the secret.
    let (key, value) = wrong;
    let answer_type = match kind {
        "ftps" => "ftp",
        "sftp-password" => "sftp",
        other => other,
    };
    let set = format!("storage.{answer_type}.{key}={value}");
    let out = run(&bed, &["storage-test", "--size-mb", "1", "--set", &set]);
    assert_ne!(out.code, 0, "{kind}: wrong credentials were accepted");
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        all.contains(key_hint),
        "{kind}: the error should name {key_hint}: {all}"
    );
    assert!(
        !all.contains(value) || key == "key_file",
        "{kind}: the secret was shown: {all}"
    );

    // The same refusal in a run that reads a sidecar: a login failure, not "no checksum".
    bed.file("sidecar.yml", "steps:\n  - { id: down, hosts: ctl, fetch: { object: dr/payload-2026-11-20.bin, dest: got-sidecar.bin } }\n");
    let out = run(
        &bed,
        &["run", "sidecar.yml", "--allow-unsigned", "--set", &set],
    );
    let all = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 1, "{kind}: {all}");
    assert!(
        all.contains(key_hint) && !all.contains("no checksum"),
        "{kind}: a login failure should name {key_hint}: {all}"
    );
    assert!(!all.contains(value) || key == "key_file", "{kind}: {all}");
    assert!(!bed.path("got-sidecar.bin").exists());
    (storage, bed)
}

#[test]
fn s3() {
    exercise(
        "s3",
        ("secret_key", "Wrong-S3-Secret-Key-123"),
        "storage.s3.secret_key",
    );
}

#[test]
fn azure_blob() {
    exercise(
        "azure",
        (
            "access_key",
            "V3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==",
        ),
        "storage.azure.access_key",
    );
}

#[test]
fn ftp() {
    exercise(
        "ftp",
        ("password", "Wrong-Ftp-Password-123"),
        "storage.ftp.password",
    );
}

#[test]
fn ftps() {
    let (storage, bed) = exercise(
        "ftps",
        ("password", "Wrong-Ftps-Password-123"),
        "storage.ftp.password",
    );
    // The server certificate is checked: without the bed's CA it is refused, and the error says
    // how to trust a private CA.
    let answers = storage
        .answers()
        .replace("storage.ftp.ca_file:", "# ca_file:");
    bed.file("answers.yml", &answers);
    let out = run(&bed, &["standalone", "list"]);
    assert_ne!(out.code, 0, "an unknown CA was trusted: {}", out.stdout);
    assert!(
        out.stderr.contains("storage.ftp.ca_file") && out.stderr.contains("TLS"),
        "{}",
        out.stderr
    );
}

#[test]
fn sftp() {
    exercise("sftp", ("key_file", "/nonexistent/key"), "storage.sftp");
}

#[test]
fn sftp_password() {
    let _ = exercise(
        "sftp-password",
        ("password", "Wrong-Sftp-Password-123"),
        "storage.sftp.password",
    );
}

/// An SFTP storage server not yet in known_hosts is refused with the way out; `--accept-new-host-keys`
/// records it and goes on; a key that differs from the recorded one is refused even then.
#[test]
fn an_unknown_sftp_server_key_is_recorded_only_when_told() {
    let storage = StorageBed::start("sftp-password");
    let bed = bed_for(&storage, "hosts: {}\n");
    let known = storage.dir.path().join("known_hosts");
    let recorded = std::fs::read_to_string(&known).unwrap();
    std::fs::write(&known, "").unwrap();

    let out = run(&bed, &["storage-test", "--size-mb", "1"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stderr.contains("is not in") && out.stderr.contains("--accept-new-host-keys"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read_to_string(&known).unwrap(), "");

    let out = run(
        &bed,
        &["storage-test", "--size-mb", "1", "--accept-new-host-keys"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let learnt = std::fs::read_to_string(&known).unwrap();
    let key = |line: &str| {
        line.split_whitespace()
            .skip(1)
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(key(&learnt), key(&recorded), "recorded: {learnt}");
    // Now known: no flag needed.
    let out = run(&bed, &["storage-test", "--size-mb", "1"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    // Another key recorded for the server: refused, flag or not, and the file is left as it was.
    let other = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
    let forged = format!(
        "{} ssh-ed25519 {other}\n",
        recorded.split_whitespace().next().unwrap()
    );
    std::fs::write(&known, &forged).unwrap();
    let out = run(
        &bed,
        &["storage-test", "--size-mb", "1", "--accept-new-host-keys"],
    );
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("DIFFERS"), "{}", out.stderr);
    assert_eq!(std::fs::read_to_string(&known).unwrap(), forged);
}

/// A server that checks passwords only through keyboard-interactive (PAM) prompts.
#[test]
fn sftp_password_by_keyboard_interactive() {
    let storage =
        StorageBed::start_with("sftp-password", &[("SFTP_LOGIN", "keyboard-interactive")]);
    let bed = bed_for(&storage, "hosts: {}\n");
    let out = run(&bed, &["storage-test", "--size-mb", "4"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("matches"), "{}", out.stdout);
    let out = run(
        &bed,
        &[
            "storage-test",
            "--set",
            "storage.sftp.password=Wrong-Kbd-Password-1",
        ],
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("storage.sftp.password")
            && !out.stderr.contains("Wrong-Kbd-Password-1"),
        "{}",
        out.stderr
    );
}

/// A server that stops answering: the error names the server, the operation and the answer that sets
/// the limit, and comes within that limit and its retries.
#[test]
fn a_hung_server_times_out_and_says_which() {
    for (kind, server) in [("s3", "S3 bucket"), ("sftp-password", "SFTP server")] {
        let storage = StorageBed::start(kind);
        let bed = bed_for(&storage, "hosts: {}\n");
        storage.signal("STOP");
        let t0 = std::time::Instant::now();
        let out = run(&bed, &["standalone", "list", "--set", "storage.timeout=2"]);
        let took = t0.elapsed();
        storage.signal("CONT");
        assert_ne!(out.code, 0, "{kind}: {}", out.stdout);
        for needle in ["list", server, "no answer within 2s", "storage.timeout"] {
            assert!(
                out.stderr.contains(needle),
                "{kind}: no {needle:?} in {}",
                out.stderr
            );
        }
        assert!(took.as_secs() < 40, "{kind}: took {took:?}");
    }
}

/// A proxy to an HTTP server: requests and response headers pass at once, each response body one
/// byte every `every` (a server that answers every read in time and still never finishes).
fn dripping_proxy(upstream: String, every: std::time::Duration) -> String {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let up = upstream.clone();
            std::thread::spawn(move || {
                let Ok(server) = TcpStream::connect(&up) else {
                    return;
                };
                let (heads_tx, heads_rx) = std::sync::mpsc::channel::<bool>();
                let (mut c, mut s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                // Client to server, as it comes; each request's method noted (HEAD has no body).
                std::thread::spawn(move || {
                    let (mut buf, mut seen) = ([0u8; 65536], Vec::new());
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                        seen.extend_from_slice(&buf[..n]);
                        while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                            let _ = heads_tx.send(seen.starts_with(b"HEAD "));
                            seen.drain(..end + 4);
                        }
                    }
                });
                let (mut server, mut client) = (server, client);
                loop {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") {
                        match server.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    if client.write_all(&head).is_err() {
                        return;
                    }
                    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
                    let length: usize = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                    let body = if heads_rx.recv().unwrap_or(false) {
                        0
                    } else {
                        length
                    };
                    for _ in 0..body {
                        if server.read_exact(&mut byte).is_err() {
                            return;
                        }
                        std::thread::sleep(every);
                        if client.write_all(&byte).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_server_that_sends_a_byte_every_two_seconds_is_cut_by_the_timeout() {
    let storage = StorageBed::start("s3");
    let bed = bed_for(
        &storage,
        "defaults: { connection: local }\nhosts:\n  ctl: {}\n",
    );
    bed.file("payload.bin", &"x".repeat(1 << 20))
        .file(
            "up.yml",
            "steps:\n  - { id: up, hosts: ctl, upload: { src: payload.bin, object: slow.bin } }\n",
        )
        .file(
            "down.yml",
            "steps:\n  - { id: down, hosts: ctl, fetch: { object: slow.bin, dest: got.bin } }\n",
        );
    let out = run(&bed, &["run", "up.yml"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let answers = storage.answers();
    let endpoint = answers
        .lines()
        .find_map(|l| l.trim().strip_prefix("storage.s3.endpoint:"))
        .expect("the bed's endpoint")
        .trim()
        .to_string();
    let upstream = endpoint.trim_start_matches("http://").to_string();
    let proxy = dripping_proxy(upstream, std::time::Duration::from_secs(2));
    let set = format!("storage.s3.endpoint=http://{proxy}");
    let t0 = std::time::Instant::now();
    let mut child = bed
        .command(&[
            "run",
            "down.yml",
            "--allow-unsigned",
            "--set",
            &set,
            "--set",
            "storage.timeout=4",
        ])
        .stdout(std::fs::File::create(bed.path("out.txt")).unwrap())
        .stderr(std::fs::File::create(bed.path("err.txt")).unwrap())
        .spawn()
        .unwrap();
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s.code();
        }
        if t0.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the download of a dripping server was never cut");
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let text = bed.read("out.txt") + &bed.read("err.txt");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the transfer was cut"), "{text}");
    assert!(!bed.path("got.bin").exists());
}

/// An error as one line: the words of its text, without the frame the report draws round it.
fn unwrapped(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "|")
        .collect::<Vec<_>>()
        .join(" ")
}

/// `setup` in an empty folder whose answers.yml is `answers`.
fn bed_with(answers: &str) -> Bed {
    let bed = Bed::new();
    bed.file("answers.yml", answers);
    std::fs::set_permissions(
        bed.path("answers.yml"),
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    bed
}

#[test]
fn a_missing_folder_bucket_or_container_is_named_with_the_answer_that_sets_it() {
    // FTPS: a folder that does not exist is made on the first write, as plain FTP makes it.
    let ftps = StorageBed::start("ftps");
    let answers = ftps
        .answers()
        .replace("storage.ftp.path: /", "storage.ftp.path: /made/here");
    assert!(answers.contains("/made/here"), "{answers}");
    let bed = bed_with(&answers);
    let started = std::time::Instant::now();
    let out = run(&bed, &["storage-test", "--size-mb", "1"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(ftps.dir.path().join("root/made/here").is_dir());
    // Listing a folder that does not exist says so at once, naming it and its answer.
    let bed = bed_with(
        &ftps
            .answers()
            .replace("storage.ftp.path: /", "storage.ftp.path: /not/there"),
    );
    let started = std::time::Instant::now();
    let out = run(&bed, &["standalone", "list"]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let said = unwrapped(&out.stderr);
    assert!(
        said.contains("the folder `/not/there` does not exist")
            && said.contains("storage.ftp.path"),
        "{said}"
    );
    // S3: a bucket that does not exist, named with its answer; no raw dump of the server's answer.
    let s3 = StorageBed::start("s3");
    let bed = bed_with(&s3.answers().replace(
        "storage.s3.bucket: backups",
        "storage.s3.bucket: no-such-bucket",
    ));
    let out = run(&bed, &["standalone", "list"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = unwrapped(&out.stderr);
    assert!(
        said.contains("the bucket `no-such-bucket` does not exist; check storage.s3.bucket"),
        "{said}"
    );
    assert!(!said.contains("404"), "{said}");
    // Azure: a container that does not exist.
    let azure = StorageBed::start("azure");
    let bed = bed_with(&azure.answers().replace(
        "storage.azure.container: backups",
        "storage.azure.container: nocontainer",
    ));
    let out = run(&bed, &["standalone", "list"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = unwrapped(&out.stderr);
    assert!(
        said.contains("the container `nocontainer` does not exist; check storage.azure.container"),
        "{said}"
    );
    assert!(!said.contains("no such object"), "{said}");
}
