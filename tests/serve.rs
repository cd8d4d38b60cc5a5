//! `setup serve` on loopback, asked by a real HTTP client (curl): tokens, jobs run by the engine
//! with its locks, Server-Sent Events in order, cancel as Ctrl-C, 409 on busy hosts, problem
//! documents, no secret in any answer.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::Bed;
use common::served::{SECRET, TOKEN, curl, free_port, serve, venv_python};
use serde_json::Value as J;

#[test]
fn without_a_token_nothing_but_health_answers_and_the_api_describes_itself() {
    let bed = common::dc_demo_one_store();
    let s = serve(&bed, "demo-dc");
    for (method, path) in [
        ("GET", "/api/v1/jobs"),
        ("POST", "/api/v1/backups"),
        ("GET", "/api/v1/status"),
    ] {
        let (code, ctype, body) = curl(&s.base, method, path, None, None);
        assert_eq!(code, 401, "{path}: {body}");
        assert_eq!(ctype, "application/problem+json");
        let (code, _, _) = curl(&s.base, method, path, Some("not-the-token"), None);
        assert_eq!(code, 401);
    }
    // A token of its own: shown once, kept as its digest, refused once revoked.
    let added = bed.run(&["serve", "-C", "demo-dc", "token", "add", "ci"]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    let ci = added.stdout.trim().to_string();
    assert!(ci.starts_with("setup_") && ci.len() > 40, "{ci}");
    let kept = std::fs::read_to_string(s.dir.join(".setup/serve/tokens.json")).unwrap();
    assert!(kept.contains("\"ci\"") && !kept.contains(&ci), "{kept}");
    assert_eq!(curl(&s.base, "GET", "/api/v1/jobs", Some(&ci), None).0, 200);
    let listed = bed.run(&["serve", "-C", "demo-dc", "token", "list"]);
    assert!(listed.stdout.starts_with("ci "), "{}", listed.stdout);
    assert_eq!(
        bed.run(&["serve", "-C", "demo-dc", "token", "revoke", "ci"])
            .code,
        0
    );
    assert_eq!(curl(&s.base, "GET", "/api/v1/jobs", Some(&ci), None).0, 401);
    let (code, doc) = s.call("GET", "/api/v1/openapi.json", None);
    assert_eq!(code, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for p in [
        "/api/v1/backups",
        "/api/v1/jobs/{id}/events",
        "/api/v1/jobs/{id}/cancel",
        "/api/v1/status",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} is not described");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let (code, p) = s.call("GET", "/api/v1/jobs/nope", None);
    assert_eq!((code, p["status"].as_u64()), (404, Some(404)));
    // Every request is audited, with the token's name.
    let audit = std::fs::read_to_string(s.dir.join(".setup/serve/audit.jsonl")).unwrap();
    assert!(
        audit.contains("\"who\":\"env\"") && audit.contains("\"status\":401"),
        "{audit}"
    );
    assert!(!audit.contains(TOKEN));
    // Beyond loopback, plain HTTP is refused unless asked for.
    let out = bed.run(&["serve", "-C", "demo-dc", "--listen", "0.0.0.0:0"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--insecure-http"), "{}", out.stderr);
}

/// The OpenAPI document and the server held against each other over HTTP: every operation the
/// document describes is answered by its route (not the 404 of an unknown path, nor the 405 of a
/// method the path does not take), behind the token; every other method of a described path is
/// 405. That the router has no route the document leaves out is checked on the router itself, in
/// `serve::routes`' tests, from the one table the router is built from.
#[test]
fn every_operation_the_document_describes_is_answered_and_no_other_method_is() {
    let bed = common::dc_demo_one_store();
    let s = serve(&bed, "demo-dc");
    let (code, doc) = s.call("GET", "/api/v1/openapi.json", None);
    assert_eq!(code, 200, "{doc}");
    let mut described = 0;
    let mut started = Vec::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let asked = path.replace("{id}", "nope");
        for method in ["GET", "PUT", "POST", "DELETE", "PATCH"] {
            let op = &ops[method.to_lowercase()];
            if !op.is_object() {
                let (code, ctype, body) = curl(&s.base, method, &asked, Some(TOKEN), None);
                assert_eq!(code, 405, "{method} {path}: {body}");
                assert_eq!(ctype, "application/problem+json", "{method} {path}");
                continue;
            }
            described += 1;
            let (code, _, body) = curl(&s.base, method, &asked, None, None);
            assert_eq!(code, 401, "{method} {path} without a token: {body}");
            // A body that is not JSON is refused by the route's own reading of it: nothing done.
            let sent = op["requestBody"].is_object().then_some("{not json");
            let (code, _, body) = curl(&s.base, method, &asked, Some(TOKEN), sent);
            if sent.is_some() {
                assert_eq!(code, 400, "{method} {path}: {body}");
            }
            let answered = match code {
                // The route's own 404: a job id that names no job.
                404 => body.contains("no such job"),
                405 => false,
                _ => true,
            };
            assert!(answered, "{method} {path} is not answered: {code} {body}");
            if code == 202 {
                let job: J = serde_json::from_str(&body).unwrap();
                started.push(job["id"].as_str().unwrap().to_string());
            }
        }
    }
    assert!(described >= 17, "{described} operations described");
    let (code, _, body) = curl(&s.base, "GET", "/api/v1/nothing", Some(TOKEN), None);
    assert_eq!(code, 404, "{body}");
    assert!(body.contains("no such endpoint"), "{body}");
    // The jobs the probes started (verify, a drill) run to their end before the folder goes.
    for id in started {
        s.finished(&id);
    }
}

#[test]
fn a_backup_job_runs_to_its_end_and_its_events_arrive_in_order() {
    let bed = common::dc_demo_one_store();
    bed.file(
        "demo-dc/answers.yml",
        &(bed.read("demo-dc/answers.yml")
            + &format!(
                "notify.webhook.url: http://127.0.0.1:9/hook\nnotify.webhook.secret: {SECRET}\n"
            )),
    );
    let s = serve(&bed, "demo-dc");
    let (code, job) = s.call(
        "POST",
        "/api/v1/backups",
        Some(r#"{"components": ["config"]}"#),
    );
    assert_eq!(code, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    // The events, as a browser's EventSource reads them, until the job ends.
    let sse = Command::new("curl")
        .args(["-s", "-N", "--max-time", "120", "-H"])
        .arg(format!("Authorization: Bearer {TOKEN}"))
        .arg(format!("{}/api/v1/jobs/{id}/events", s.base))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&sse.stdout);
    assert!(!text.contains(SECRET));
    let names: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .collect();
    assert_eq!(names.first(), Some(&"run_started"), "{text}");
    assert_eq!(names.last(), Some(&"run_finished"), "{text}");
    assert!(
        names.iter().filter(|n| **n == "task_finished").count() >= 3,
        "{names:?}"
    );
    let done = s.finished(&id);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["progress"]["tasks_done"], done["progress"]["tasks"]);
    assert_eq!(done["requested_by"], "env");
    let (code, listed) = s.call("GET", "/api/v1/backups", None);
    assert_eq!(code, 200);
    let names: Vec<&str> = listed["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| n.starts_with("director-config-")),
        "{names:?}"
    );
    let (code, status) = s.call("GET", "/api/v1/status", None);
    assert_eq!(code, 200, "{status}");
    assert!(
        status["backups"]["config"]["rpo_seconds"].as_i64().unwrap() < 600,
        "{status}"
    );
    let (_, all) = s.call("GET", "/api/v1/jobs", None);
    assert_eq!(all["jobs"][0]["id"], id.as_str());
    let (code, metrics) = s.call("GET", "/api/v1/metrics", None);
    assert_eq!(code, 200);
    let metrics = metrics.as_str().unwrap_or_default().to_string();
    assert!(
        metrics.contains("setup_newest_backup_age_seconds{kind=\"config\"} "),
        "{metrics}"
    );
    assert!(
        metrics.contains("setup_jobs{status=\"succeeded\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("setup_storage_up 1\n"), "{metrics}");
}

/// Paths of a drill's sandbox under `root`.
fn sandboxes(root: &Path) -> Vec<String> {
    common::tree_digest(root)
        .into_iter()
        .filter(|e| e.contains(".drill-"))
        .collect()
}

#[test]
fn a_second_job_on_busy_hosts_is_409_and_cancel_rolls_back() {
    let bed = Bed::new();
    let demo = common::demo();
    common::copy_dir(demo.path("").as_path(), &bed.path("dr"));
    bed.file(
        "dr/restore.yml",
        &(bed.read("dr/restore.yml")
            + "drill:\n  checks:\n    - { name: a slow check, on: analytics, command: 'sleep 60' }\n"),
    );
    let s = serve(&bed, "dr");
    let (code, job) = s.call("POST", "/api/v1/drills", None);
    assert_eq!(code, 202, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let (_, j) = s.call("GET", &format!("/api/v1/jobs/{id}"), None);
        if j["progress"]["running"]["analytics-1"] == "check_site_analytics" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the slow check never ran: {j}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!sandboxes(&s.dir.join("target")).is_empty());
    // The same hosts again: refused at once, naming the run that holds them.
    let (code, p) = s.call("POST", "/api/v1/restores", None);
    assert_eq!(code, 409, "{p}");
    assert!(p["detail"].as_str().unwrap().contains(&id), "{p}");
    let (code, _) = s.call("POST", &format!("/api/v1/jobs/{id}/cancel"), None);
    assert_eq!(code, 202);
    let done = s.finished(&id);
    assert_eq!(done["status"], "cancelled", "{done}");
    assert!(sandboxes(&s.dir.join("target")).is_empty());
    let (code, _) = s.call("POST", &format!("/api/v1/jobs/{id}/cancel"), None);
    assert_eq!(code, 409, "an ended job cannot be cancelled");
}

#[test]
fn the_page_in_a_real_browser_signs_in_adds_a_storage_server_starts_a_backup_and_watches_it_finish()
{
    let bed = common::dc_demo_one_store();
    let s3 = common::storagebed::StorageBed::start("s3");
    let storage = common::served::storage_json(&s3.answers());
    let s3_secret = storage["settings"]["secret_key"]
        .as_str()
        .unwrap()
        .to_string();
    // A backup that takes a few seconds, so that the page shows it live.
    bed.file(
        "demo-dc/answers.yml",
        &(bed.read("demo-dc/answers.yml") + "hooks.before: sleep 3\n"),
    );
    let s = serve(&bed, "demo-dc");
    let shots = bed.path("shots");
    let out = Command::new(venv_python())
        .arg(common::repo().join("tests/support/browse"))
        .args([&s.base, TOKEN])
        .arg(&shots)
        .arg(storage.to_string())
        .output()
        .expect("python with websocket-client (scripts/test installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: J = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["first_page"], "/login", "{seen}");
    assert!(
        seen["after_sign_in"]
            .as_str()
            .unwrap()
            .starts_with("Dashboard"),
        "{seen}"
    );
    assert_eq!(
        seen["cookie_visible_to_script"], "",
        "the session cookie is HttpOnly"
    );
    assert!(
        seen["job_page"].as_str().unwrap().starts_with("/jobs/"),
        "{seen}"
    );
    assert_eq!(seen["storage_result"], "ok", "{seen}");
    assert_eq!(seen["storage_type"], "s3", "{seen}");
    assert!(!seen.to_string().contains(&s3_secret), "{seen}");
    assert!(
        bed.read("demo-dc/answers.yml")
            .contains(&format!("storage.s3.secret_key: \"{s3_secret}\"")),
        "the page wrote the S3 answers"
    );
    assert_eq!(seen["schedule_config"], "02:00", "{seen}");
    assert_eq!(seen["job_status"], "succeeded", "{seen}");
    let stored = common::served::names_under(&s3.dir.path().join("data/backups"));
    assert!(
        stored
            .iter()
            .any(|n| n.starts_with("director-config-") && n.ends_with(".manifest.json.sig")),
        "the backup went to S3, signed: {stored:?}"
    );
    assert!(
        seen["live_events"].as_u64().unwrap() >= 2,
        "events arrived live: {seen}"
    );
    assert!(
        seen["backups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|b| b.as_str().unwrap().starts_with("director-config-")),
        "{seen}"
    );
    assert!(
        seen["config_card"].as_str().unwrap().contains("ok"),
        "{seen}"
    );
    for shot in [
        "serve-login.png",
        "serve-dashboard.png",
        "serve-storage.png",
        "serve-storage-tested.png",
        "serve-schedule.png",
        "serve-job.png",
        "serve-backups.png",
    ] {
        assert!(shots.join(shot).exists(), "{shot}");
    }
    if let Ok(keep) = std::env::var("SETUP_KEEP_SCREENSHOTS") {
        common::copy_dir(&shots, Path::new(&keep));
    }
    // A form without the session's CSRF token starts nothing; without a session, nothing either.
    let jar = bed.path("jar");
    common::served::sign_in(&s.base, &jar);
    let forged = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-b"])
        .arg(&jar)
        .args(["--data", "csrf=guess&action=backup"])
        .arg(format!("{}/ui/start", s.base))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&forged.stdout), "403");
    for (form, fields) in [
        ("/ui/storage", "csrf=guess&type=local&f.path=/tmp/elsewhere"),
        ("/ui/schedule", "csrf=guess&config=03:00"),
    ] {
        let forged = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-b"])
            .arg(&jar)
            .args(["--data", fields])
            .arg(format!("{}{form}", s.base))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&forged.stdout), "403", "{form}");
    }
    assert!(!bed.read("demo-dc/answers.yml").contains("/tmp/elsewhere"));
    assert!(!bed.read("demo-dc/backup.yml").contains("03:00"));
    let anonymous = curl(&s.base, "POST", "/ui/start", None, Some("{}"));
    assert_eq!(anonymous.0, 303, "{anonymous:?}");
    let (_, jobs) = s.call("GET", "/api/v1/jobs", None);
    assert_eq!(
        jobs["jobs"].as_array().unwrap().len(),
        1,
        "only the browser's backup ran"
    );
}

#[test]
fn with_a_certificate_it_serves_https_beyond_loopback_too() {
    let bed = common::dc_demo_one_store();
    let tls = bed.path("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let script = "set -e
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -keyout ca.key -out ca.pem -subj '/CN=setup test CA' 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout key.pem -out leaf.csr -subj /CN=localhost 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\nextendedKeyUsage=serverAuth\\n' > leaf.ext
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out cert.pem -extfile leaf.ext 2>/dev/null";
    assert!(
        Command::new("sh")
            .args(["-c", script])
            .current_dir(&tls)
            .status()
            .unwrap()
            .success()
    );
    let port = free_port();
    let mut child = bed
        .command(&[
            "serve",
            "-C",
            "demo-dc",
            "--listen",
            &format!("0.0.0.0:{port}"),
        ])
        .arg("--tls-cert")
        .arg(tls.join("cert.pem"))
        .arg("--tls-key")
        .arg(tls.join("key.pem"))
        .env("SETUP_SERVE_TOKEN", TOKEN)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let https = |path: &str, token: bool| {
        let mut c = Command::new("curl");
        c.args(["-s", "-o", "-", "-w", "\\n%{http_code}", "--cacert"])
            .arg(tls.join("ca.pem"));
        if token {
            c.args(["-H", &format!("Authorization: Bearer {TOKEN}")]);
        }
        let out = c
            .arg(format!("https://localhost:{port}{path}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !https("/healthz", false).ends_with("\n200") {
        assert!(std::time::Instant::now() < deadline, "no HTTPS answer");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // A client that connects and never starts its handshake holds up nobody else (the handshake
    // of a stalled client is dropped after ten seconds; the request below gives up after five).
    let stalled = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // The health answer within five seconds, as a client that will not wait longer sees it.
    let health_within_5s = || {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "5",
                "--cacert",
            ])
            .arg(tls.join("ca.pem"))
            .arg(format!("https://localhost:{port}/healthz"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(health_within_5s(), "200");
    drop(stalled);
    // More silent connections than there are handshake slots: the oldest give way, and a real
    // client still gets its answer at once (not after the ten seconds a handshake may take).
    let silent: Vec<std::net::TcpStream> = (0..300)
        .map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let started = std::time::Instant::now();
    assert_eq!(
        health_within_5s(),
        "200",
        "a real client behind 300 silent connections, after {:?}",
        started.elapsed()
    );
    drop(silent);
    assert!(https("/api/v1/jobs", false).ends_with("\n401"));
    assert!(https("/api/v1/jobs", true).ends_with("\n200"));
    // Plain HTTP to the same port gets no answer.
    let (code, _, _) = curl(
        &format!("http://127.0.0.1:{port}"),
        "GET",
        "/healthz",
        None,
        None,
    );
    assert_ne!(code, 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn storage_settings_are_written_and_their_secrets_never_read_back() {
    let bed = common::dc_demo_one_store();
    let s = serve(&bed, "demo-dc");
    let (code, st) = s.call("GET", "/api/v1/storage", None);
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["type"], "local");
    assert_eq!(st["settings"]["local.path"], "store");
    // backup.yml's two targets are shown, and that the answers' one storage wins over them.
    assert_eq!(st["targets"][1]["name"], "offsite", "{st}");
    assert_eq!(st["targets"][1]["settings"]["path"], "offsite", "{st}");
    assert_eq!(st["in_use"], "answers", "{st}");
    let sftp = format!(
        r#"{{"type": "sftp", "settings": {{"host": "vault.example", "port": 22, "user": "dr", "password": "{SECRET}", "path": "/backups"}}}}"#
    );
    let (code, st) = s.call("PUT", "/api/v1/storage", Some(&sftp));
    assert_eq!(code, 200, "{st}");
    assert_eq!(st["type"], "sftp");
    assert_eq!(st["settings"]["sftp.password"], "set");
    assert_eq!(st["settings"]["sftp.host"], "vault.example");
    let answers = bed.read("demo-dc/answers.yml");
    assert!(
        answers.contains(SECRET) && !answers.contains("storage.local.path"),
        "{answers}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(bed.path("demo-dc/answers.yml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "answers.yml holds a secret: owner-only");
    let (code, p) = s.call(
        "PUT",
        "/api/v1/storage",
        Some(r#"{"type": "s3", "settings": {"bucket_name": "x"}}"#),
    );
    assert_eq!(code, 422, "{p}");
    let (code, _) = s.call(
        "PUT",
        "/api/v1/storage",
        Some(r#"{"type": "local", "settings": {"path": "store"}}"#),
    );
    assert_eq!(code, 200);
    let (code, t) = s.call("POST", "/api/v1/storage/test", None);
    assert_eq!(code, 200);
    assert_eq!(t["ok"], true, "{t}");
}

#[test]
fn what_the_extractors_refuse_is_a_problem_document_and_the_readme_example_starts_a_backup() {
    let bed = common::dc_demo_one_store();
    let s = serve(&bed, "demo-dc");
    let raw = |args: &[&str], path: &str| {
        let out = Command::new("curl")
            .args([
                "-s",
                "-o",
                "-",
                "-w",
                "\n%{http_code} %{content_type}",
                "-H",
            ])
            .arg(format!("Authorization: Bearer {TOKEN}"))
            .args(args)
            .arg(format!("{}{path}", s.base))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, tail) = text.rsplit_once('\n').unwrap();
        let (code, ctype) = tail.split_once(' ').unwrap();
        (
            code.parse::<u16>().unwrap(),
            ctype.to_string(),
            body.to_string(),
        )
    };
    let problem = |(code, ctype, body): (u16, String, String), want: u16| {
        assert_eq!(code, want, "{body}");
        assert_eq!(ctype, "application/problem+json", "{code}: {body}");
        let p: J = serde_json::from_str(&body).expect("a problem document");
        assert_eq!(p["status"], want, "{p}");
        p
    };
    // No Content-Type (curl's -d sends a form's): 415, saying which header to send.
    let body = r#"{"components": ["config"]}"#;
    let p = problem(raw(&["-X", "POST", "-d", body], "/api/v1/backups"), 415);
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("Content-Type: application/json"),
        "{p}"
    );
    // A body that is not JSON: 400; one too big: 413; a method the path does not take: 405.
    let json = ["-H", "Content-Type: application/json"];
    let p = problem(
        raw(
            &[json[0], json[1], "-X", "PUT", "-d", "{not json"],
            "/api/v1/storage",
        ),
        400,
    );
    assert!(!p["detail"].as_str().unwrap().contains("not json"), "{p}");
    let big = format!("{{\"x\": \"{}\"}}", "x".repeat(100 * 1024));
    problem(
        raw(
            &[json[0], json[1], "-X", "PUT", "-d", &big],
            "/api/v1/storage",
        ),
        413,
    );
    problem(raw(&["-X", "DELETE"], "/api/v1/jobs"), 405);
    assert_eq!(
        std::fs::read_to_string(s.dir.join("answers.yml")).unwrap(),
        "storage.type: local\nstorage.local.path: store\n",
        "nothing refused changed the answers"
    );
    // The README's example, as written there, starts the backup.
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let example = readme
        .lines()
        .find(|l| l.starts_with("curl ") && l.contains("/api/v1/backups"))
        .expect("the README shows a curl for POST /backups");
    let args = shell_words(
        &example
            .replace("$TOKEN", TOKEN)
            .replace("http://127.0.0.1:7080", &s.base),
    );
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(&args[1..])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n202"), "{example}: {text}");
    let job: J = serde_json::from_str(text.rsplit_once('\n').unwrap().0).unwrap();
    let done = s.finished(job["id"].as_str().unwrap());
    assert_eq!(done["status"], "succeeded", "{done}");
}

/// A command line split as sh would split this README's: words, '…' and "…" quoting.
fn shell_words(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut any = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                any = true;
            }
            (None, ' ') => {
                if any || !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
                any = false;
            }
            (None, c) => word.push(c),
        }
    }
    if any || !word.is_empty() {
        out.push(word);
    }
    out
}

#[test]
fn a_backup_asked_of_a_dr_folder_is_refused_before_any_job_starts() {
    let bed = Bed::new();
    let demo = common::demo();
    common::copy_dir(demo.path("").as_path(), &bed.path("dr"));
    let s = serve(&bed, "dr");
    let (code, ctype, body) = curl(
        &s.base,
        "POST",
        "/api/v1/backups",
        Some(TOKEN),
        Some(r#"{"components": ["config"]}"#),
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(ctype, "application/problem+json");
    let p: J = serde_json::from_str(&body).unwrap();
    assert!(
        p["title"].as_str().unwrap().contains("no backup.yml"),
        "{p}"
    );
    // The page's button says the same, and starts nothing either.
    let jar = bed.path("jar");
    let signed = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-c"])
        .arg(&jar)
        .args(["--data", &format!("token={TOKEN}")])
        .arg(format!("{}/login", s.base))
        .status()
        .unwrap();
    assert!(signed.success());
    let page = |args: &[&str], path: &str| {
        let out = Command::new("curl")
            .args(["-s", "-b"])
            .arg(&jar)
            .args(args)
            .arg(format!("{}{path}", s.base))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dashboard = page(&[], "/");
    let at = dashboard.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = &dashboard[at..at + 64];
    let refused = page(
        &["--data", &format!("csrf={csrf}&action=backup")],
        "/ui/start",
    );
    assert!(refused.contains("id=\"refused\""), "{refused}");
    let (_, jobs) = s.call("GET", "/api/v1/jobs", None);
    assert_eq!(
        jobs["jobs"],
        serde_json::json!([]),
        "no job started: {jobs}"
    );
    assert!(!s.dir.join(".setup/runs").exists(), "no run began");
}

/// The processes whose parent is `pid`, with the program each runs.
fn children_of(pid: u32) -> Vec<(u32, std::path::PathBuf)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid …`: the parent is the second field after the command's `)`.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(pid) {
            let exe = std::fs::read_link(format!("/proc/{child}/exe")).unwrap_or_default();
            out.push((child, exe));
        }
    }
    out
}

/// Reading is in-process: the dashboard, the listings, `/status`, `/metrics` and the schedule are
/// served by the engine inside the server, never by starting the setup binary again.
#[test]
fn no_page_or_listing_the_server_serves_starts_a_process() {
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
    // Every `crontab` the server runs is written down: finding where the schedule stands is asked
    // of the machine when the server starts, never by a request that only reads.
    let bin = bed.dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let asked = bed.dir.path().join("crontab-asked");
    let real = ["/usr/bin/crontab", "/bin/crontab"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("crontab is installed");
    std::fs::write(
        bin.join("crontab"),
        format!(
            "#!/bin/sh\necho \"$*\" >> {}\nexec {real} \"$@\"\n",
            asked.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("crontab"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let s = common::served::serve_with(&bed, "demo-dc", &[("PATH", &path)]);
    let asked_at_start = std::fs::read_to_string(&asked).unwrap_or_default();
    let pid = s.child.id();
    let setup = std::fs::canonicalize(env!("CARGO_BIN_EXE_setup")).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = {
        let (stop, setup) = (stop.clone(), setup.clone());
        std::thread::spawn(move || {
            // A child forked to run another program (`crontab -l`) shows the server's own binary
            // until it execs: only one seen running the binary in three samples, 5 ms apart, is
            // the binary started again.
            let mut sightings: std::collections::BTreeMap<u32, u32> = Default::default();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for (child, exe) in children_of(pid) {
                    if exe == setup {
                        *sightings.entry(child).or_default() += 1;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            sightings
                .into_iter()
                .filter(|(_, n)| *n >= 3)
                .map(|(child, _)| child)
                .collect::<Vec<u32>>()
        })
    };
    for round in 0..3 {
        for path in [
            "/api/v1/status",
            "/api/v1/backups",
            "/api/v1/metrics",
            "/api/v1/schedule",
            "/api/v1/jobs",
        ] {
            let (code, _, body) = curl(&s.base, "GET", path, Some(TOKEN), None);
            assert_eq!(code, 200, "round {round}, {path}: {body}");
        }
        // Past the listing's few seconds of memory, the next round reads the storage again.
        std::thread::sleep(std::time::Duration::from_millis(1200));
    }
    let (code, _, status) = curl(&s.base, "GET", "/api/v1/status", Some(TOKEN), None);
    assert_eq!(code, 200);
    let status: J = serde_json::from_str(&status).unwrap();
    assert!(
        status["backups"]["config"]["newest"]
            .as_str()
            .is_some_and(|n| n.starts_with("director-config-20261130T020000Z")),
        "{status}"
    );
    let jar = bed.dir.path().join("jar");
    common::served::sign_in(&s.base, &jar);
    for ui in ["/schedule", "/storage", "/backups", "/jobs", "/"] {
        let (code, page) = common::served::page(&s.base, &jar, ui);
        assert_eq!(code, 200, "{ui}: {page}");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(
        std::fs::read_to_string(&asked).unwrap_or_default(),
        asked_at_start,
        "a read asked the machine for the crontab"
    );
    let started = watcher.join().unwrap();
    assert!(
        started.is_empty(),
        "the server started its own binary {} time(s) to serve reads",
        started.len()
    );
}
