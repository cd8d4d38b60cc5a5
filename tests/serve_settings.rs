//! `setup serve`'s server configuration and schedule through the API, and its limits: a storage
//! server set and tested over HTTP then a backup job to it (a real S3 server on loopback), the
//! schedule written into backup.yml and installed in the real crontab, requests beyond the rate
//! limit refused.

mod common;

use std::process::Command;

use common::served::{TOKEN, curl, names_under, serve, storage_json};
use common::storagebed::StorageBed;

#[test]
fn a_storage_server_set_and_tested_over_the_api_takes_a_backup_job_end_to_end() {
    let bed = common::dc_demo_one_store();
    let s3 = StorageBed::start("s3");
    let body = storage_json(&s3.answers());
    let secret = body["settings"]["secret_key"].as_str().unwrap().to_string();
    let s = serve(&bed, "demo-dc");
    let mut said = Vec::new();
    let (code, st) = s.call("PUT", "/api/v1/storage", Some(&body.to_string()));
    said.push(st.to_string());
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["type"], "s3");
    assert_eq!(st["settings"]["s3.secret_key"], "set");
    assert_eq!(st["settings"]["s3.bucket"], "backups");
    let (code, t) = s.call("POST", "/api/v1/storage/test", None);
    said.push(t.to_string());
    assert_eq!((code, &t["ok"]), (200, &serde_json::json!(true)), "{t}");
    let (code, job) = s.call(
        "POST",
        "/api/v1/backups",
        Some(r#"{"components": ["config"], "force": true}"#),
    );
    assert_eq!(code, 202, "{job}");
    let done = s.finished(job["id"].as_str().unwrap());
    said.push(done.to_string());
    assert_eq!(done["status"], "succeeded", "{done}");
    assert!(done["command"].as_str().unwrap().contains("--only config"));
    let stored = names_under(&s3.dir.path().join("data/backups"));
    for suffix in ["", ".sha256", ".manifest.json", ".manifest.json.sig"] {
        assert!(
            stored.iter().any(|n| n.starts_with("director-config-")
                && n.ends_with(&format!(".tar.zst.age{suffix}"))),
            "{suffix}: {stored:?}"
        );
    }
    assert!(
        !stored.iter().any(|n| n.starts_with("analytics-")),
        "components: [config] backs up the configuration only: {stored:?}"
    );
    let (code, listed) = s.call("GET", "/api/v1/backups", None);
    said.push(listed.to_string());
    assert_eq!(code, 200, "{listed}");
    assert!(
        listed["storage"].as_str().unwrap().contains("backups"),
        "{listed}"
    );
    let newest = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"].as_str().unwrap().starts_with("director-config-"))
        .expect("the backup is listed");
    assert!(newest["refused"].is_null(), "{newest}");
    let (_, status) = s.call("GET", "/api/v1/status", None);
    said.push(status.to_string());
    assert!(status["storage_error"].is_null(), "{status}");
    let (_, events) = s.call(
        "GET",
        &format!("/api/v1/jobs/{}/events", job["id"].as_str().unwrap()),
        None,
    );
    said.push(events.to_string());
    for text in &said {
        assert!(
            !text.contains(&secret),
            "the S3 secret in an answer: {text}"
        );
    }
    // The same job with an unknown component starts nothing.
    let (code, p) = s.call(
        "POST",
        "/api/v1/restores",
        Some(r#"{"components": ["everything"]}"#),
    );
    assert_eq!(code, 422, "{p}");
}

/// The crontab as it stands (empty when there is none).
fn crontab() -> String {
    let out = Command::new("crontab").arg("-l").output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn set_crontab(text: &str) {
    use std::io::Write;
    let mut c = Command::new("crontab")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(c.wait().unwrap().success());
}

#[test]
fn the_schedule_is_read_written_into_backup_yml_and_installed_and_a_bad_one_changes_nothing() {
    let saved = crontab();
    let bed = common::dc_demo_one_store();
    let s = serve(&bed, "demo-dc");
    let (code, now) = s.call("GET", "/api/v1/schedule", None);
    assert_eq!(code, 200, "{now}");
    assert_eq!(now["schedule"]["config"], "02:00", "the default: {now}");
    assert_eq!(now["schedule"]["analytics"], "00:30", "{now}");
    assert_eq!(now["timezone"], "UTC");
    let (code, put) = s.call(
        "PUT",
        "/api/v1/schedule",
        Some(r#"{"config": "03:15", "analytics": "01:05"}"#),
    );
    let installed = crontab();
    let backup_yml = bed.read("demo-dc/backup.yml");
    let (bad, p) = s.call("PUT", "/api/v1/schedule", Some(r#"{"config": "25:00"}"#));
    let after_bad = bed.read("demo-dc/backup.yml");
    let (unknown, q) = s.call("PUT", "/api/v1/schedule", Some(r#"{"drill": "04:00"}"#));
    let removed = bed.run(&["-C", "demo-dc", "standalone", "schedule", "remove"]);
    set_crontab(&saved);
    assert_eq!(code, 200, "{put}");
    assert_eq!(put["schedule"]["config"], "03:15", "{put}");
    assert_eq!(put["installed"], true, "{put}");
    assert!(
        put["next_runs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["job"] == "config backup"
                && n["at"].as_str().unwrap().ends_with("T03:15:00Z")),
        "{put}"
    );
    assert!(
        backup_yml.contains("schedule: { analytics: \"01:05\", config: \"03:15\" }"),
        "{backup_yml}"
    );
    assert!(
        backup_yml.contains("# The demo's signing key"),
        "the rest of backup.yml, comments included, is kept: {backup_yml}"
    );
    assert!(installed.contains("CRON_TZ=UTC"), "{installed}");
    assert!(installed.contains("\n15 3 * * * "), "{installed}");
    assert!(installed.contains("\n5 1 * * * "), "{installed}");
    assert_eq!(bad, 422, "{p}");
    assert!(p["detail"].as_str().unwrap().contains("25:00"), "{p}");
    assert_eq!(after_bad, backup_yml, "a refused schedule changes nothing");
    assert_eq!(unknown, 422, "{q}");
    assert_eq!(removed.code, 0, "{}", removed.stderr);
}

#[test]
fn guessing_tokens_is_slowed_to_429_and_big_bodies_are_refused() {
    let bed = common::dc_demo_one_store();
    let s = serve(&bed, "demo-dc");
    let big = "x".repeat(100 * 1024);
    let (code, _, _) = curl(&s.base, "PUT", "/api/v1/storage", Some(TOKEN), Some(&big));
    assert_eq!(code, 413, "a body over 64 KiB");
    let mut codes = Vec::new();
    for i in 0..25 {
        codes.push(
            curl(
                &s.base,
                "GET",
                "/api/v1/jobs",
                Some(&format!("guess-{i}")),
                None,
            )
            .0,
        );
    }
    assert!(codes[..20].iter().all(|c| *c == 401), "{codes:?}");
    assert!(codes[20..].iter().all(|c| *c == 429), "{codes:?}");
    // While it waits, that client's guesses are refused unread (429 with Retry-After), at the API
    // and at the sign-in form; a good token from the same address is never held back by them
    // (behind a TLS proxy every client shares one address).
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", "/dev/null", "-H"])
        .arg("Authorization: Bearer guess-again")
        .arg(format!("{}/api/v1/jobs", s.base))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 429"), "{head}");
    assert!(head.contains("\nretry-after: "), "{head}");
    assert_eq!(
        curl(&s.base, "GET", "/api/v1/jobs", Some(TOKEN), None).0,
        200,
        "a good token is never held back by others' failures"
    );
    let sign_in = |token: &str| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--data"])
            .arg(format!("token={token}"))
            .arg(format!("{}/login", s.base))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(sign_in("guess-at-the-form"), "429");
    assert_eq!(sign_in(TOKEN), "303");
    assert_eq!(curl(&s.base, "GET", "/healthz", None, None).0, 200);
    let audit = std::fs::read_to_string(s.dir.join(".setup/serve/audit.jsonl")).unwrap();
    assert!(audit.contains("\"status\":429"), "{audit}");
}

#[test]
fn a_half_sent_request_loses_its_connection_within_seconds() {
    use std::io::{Read, Write};
    let bed = common::dc_demo_one_store();
    let s = serve(&bed, "demo-dc");
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut half = std::net::TcpStream::connect(&addr).unwrap();
    half.write_all(b"GET /api/v1/jobs HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    half.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = half.read_to_end(&mut rest);
    let held = started.elapsed();
    assert!(
        held < std::time::Duration::from_secs(20),
        "a request whose headers never end is dropped after about ten seconds, not held: {held:?}"
    );
    assert!(
        held >= std::time::Duration::from_secs(5),
        "closed before the headers' time was up: {held:?}"
    );
    // Meanwhile and after, others are served.
    assert_eq!(curl(&s.base, "GET", "/healthz", None, None).0, 200);
}
