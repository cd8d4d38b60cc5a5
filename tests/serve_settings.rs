//! `setup serve`'s server configuration and schedule through the API, and its limits: a storage
//! server set and tested over HTTP then a backup job to it (a real S3 server on loopback), the
//! schedule written into backup.yml and installed in the real crontab, requests beyond the rate
//! limit refused.

use crate::common;

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

/// A secret canary in every answer that is a secret, in both storage forms, and no response of
/// the server (API, pages, their error paths) nor its log carries one.
mod canaries {
    use std::path::Path;
    use std::process::Command;

    use super::common;
    use super::common::served::{Served, TOKEN, serve_logged};
    use super::common::storagebed::StorageBed;

    /// The answers that are secrets and are not storage settings, each a canary.
    const OTHERS: &str = "\
db_password: \"Canary-Db-Password-c41\"
become_password: \"Canary-Become-Password-c42\"
signing_key_passphrase: \"Canary-Signing-Passphrase-c43\"
age_identity: \"Canary-Age-Identity-c46.txt\"
notify.webhook.url: http://127.0.0.1:9/hook
notify.webhook.secret: \"Canary-Webhook-Secret-c44\"
notify.email.host: 127.0.0.1
notify.email.port: 9
notify.email.user: dr
notify.email.password: \"Canary-Mail-Password-c45\"
notify.email.from: dr@example.org
notify.email.to: ops@example.org
";

    /// Every canary written, as the answers files hold them.
    fn canaries(answers: &str) -> Vec<String> {
        answers
            .lines()
            .filter_map(|l| l.split_once(": "))
            .map(|(_, v)| v.trim_matches('"').to_string())
            .filter(|v| v.starts_with("Canary-"))
            .collect()
    }

    /// A storage bed's answers, field by field (`storage.TYPE.FIELD: VALUE`).
    fn fields(bed: &StorageBed) -> std::collections::BTreeMap<String, String> {
        bed.answers()
            .lines()
            .filter_map(|l| l.split_once(": "))
            .filter_map(|(k, v)| {
                let field = k.strip_prefix("storage.")?.split_once('.')?.1;
                Some((field.to_string(), v.trim_matches('"').to_string()))
            })
            .collect()
    }

    /// One request as curl sees it: the status line, the headers and the body.
    fn raw(s: &Served, method: &str, path: &str, auth: Auth, body: Option<&str>) -> (u16, String) {
        let mut c = Command::new("curl");
        c.args(["-s", "-i", "--max-time", "60", "-X", method]);
        match auth {
            Auth::Token => {
                c.args(["-H", &format!("Authorization: Bearer {TOKEN}")]);
            }
            Auth::Session(jar) => {
                c.arg("-b").arg(jar);
            }
        }
        if let Some(b) = body {
            c.args(["--data", b]);
        }
        let out = c.arg(format!("{}{path}", s.base)).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let code = text
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        (code, text)
    }

    #[derive(Clone, Copy)]
    enum Auth<'a> {
        Token,
        Session(&'a Path),
    }

    /// Every endpoint and page that reads, and the error paths a browser and a client take,
    /// asked once: (what was asked, its status, the whole answer).
    fn sweep(s: &Served, jar: &Path, job: Option<&str>) -> Vec<(String, u16, String)> {
        let mut out = Vec::new();
        let mut ask = |method: &str, path: &str, auth: Auth, body: Option<&str>| {
            let (code, text) = raw(s, method, path, auth, body);
            out.push((format!("{method} {path}"), code, text));
        };
        let (_, doc) = s.call("GET", "/api/v1/openapi.json", None);
        for (path, ops) in doc["paths"].as_object().unwrap() {
            if ops["get"].is_object() {
                let path = path.replace("{id}", job.unwrap_or("nope"));
                ask(
                    "GET",
                    &format!("/api/v1{}", path.trim_start_matches("/api/v1")),
                    Auth::Token,
                    None,
                );
            }
        }
        ask("POST", "/api/v1/storage/test", Auth::Token, None);
        ask("PUT", "/api/v1/storage", Auth::Token, Some("{not json"));
        ask(
            "POST",
            "/api/v1/backups",
            Auth::Token,
            Some("{\"components\": [\"config\"]}"),
        );
        let session = Auth::Session(jar);
        for page in ["/", "/backups", "/jobs", "/storage", "/schedule"] {
            ask("GET", page, session, None);
        }
        if let Some(id) = job {
            ask("GET", &format!("/jobs/{id}"), session, None);
            ask("GET", &format!("/ui/jobs/{id}/events"), session, None);
        }
        let csrf = out
            .iter()
            .find(|(what, _, _)| what == "GET /storage")
            .and_then(|(_, _, page)| {
                let at = page.find("name=\"csrf\" value=\"")? + 19;
                Some(page[at..at + 64].to_string())
            });
        if let Some(csrf) = csrf {
            let (code, text) = raw(
                s,
                "POST",
                "/ui/storage/test",
                session,
                Some(&format!("csrf={csrf}")),
            );
            out.push(("POST /ui/storage/test".into(), code, text));
        }
        out
    }

    fn sign_in(s: &Served, jar: &Path) {
        let ok = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-c"])
            .arg(jar)
            .args(["--data", &format!("token={TOKEN}")])
            .arg(format!("{}/login", s.base))
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn no_canary(said: &[(String, u16, String)], log: &Path, canaries: &[String]) {
        let log = std::fs::read_to_string(log).unwrap();
        for c in canaries {
            for (what, _, text) in said {
                assert!(
                    !text.contains(c.as_str()),
                    "{c} in the answer to {what}:\n{text}"
                );
            }
            assert!(!log.contains(c.as_str()), "{c} in the server's log:\n{log}");
        }
    }

    fn status_of(said: &[(String, u16, String)], what: &str) -> u16 {
        said.iter()
            .find(|(w, _, _)| w == what)
            .unwrap_or_else(|| panic!("{what} was not asked"))
            .1
    }

    fn body_of<'a>(said: &'a [(String, u16, String)], what: &str) -> &'a str {
        let text = &said.iter().find(|(w, _, _)| w == what).unwrap().2;
        text.split_once("\r\n\r\n")
            .map_or(text.as_str(), |(_, b)| b)
    }

    /// The broken documents every sweep ends with: answers.yml that is no YAML, then one with an
    /// unknown key; each answered by naming the file and line, no canary anywhere.
    fn broken_answers(bed: &common::Bed, s: &Served, jar: &Path, answers: &str, log: &Path) {
        let all = canaries(answers);
        for (case, text) in [
            ("not YAML", format!("{answers}broken: [\n")),
            (
                "an unknown key",
                format!("{answers}storage.nowhere.secret_key: \"Canary-Unknown-Key-c49\"\n"),
            ),
        ] {
            bed.file("demo-dc/answers.yml", &text);
            let said = sweep(s, jar, None);
            let mut all = all.clone();
            all.extend(canaries(&text));
            no_canary(&said, log, &all);
            assert_eq!(status_of(&said, "GET /api/v1/storage"), 500, "{case}");
            let p: serde_json::Value =
                serde_json::from_str(body_of(&said, "GET /api/v1/storage")).unwrap();
            let detail = p["detail"].as_str().unwrap();
            assert!(detail.contains("answers.yml line "), "{case}: {p}");
            assert!(!detail.contains("Source"), "no Debug dump: {p}");
            let page = body_of(&said, "GET /storage");
            assert!(page.contains("answers.yml line "), "{case}: {page}");
        }
    }

    #[test]
    fn a_secret_of_a_storage_list_or_any_other_answer_never_leaves_the_server() {
        let s3 = StorageBed::start("s3");
        let sftp = StorageBed::start("sftp-password");
        let (s3f, sf) = (fields(&s3), fields(&sftp));
        let bed = common::dc_demo();
        let backup = bed.read("demo-dc/backup.yml");
        let head = &backup[..backup.find("\nstorage:").unwrap()];
        bed.file(
            "demo-dc/backup.yml",
            &format!(
                "{head}\nstorage:\n  - {{ name: s3main, type: s3, endpoint: \"{}\", bucket: backups, access_key: setup-ak, path_style: \"true\" }}\n  - {{ name: vault, type: sftp, host: \"{}\", port: \"{}\", user: setupsftp, path: \"{}\", known_hosts: \"{}\" }}\n",
                s3f["endpoint"], sf["host"], sf["port"], sf["path"], sf["known_hosts"]
            ),
        );
        let answers = format!(
            "storage.s3main.secret_key: \"Canary-S3main-Secret-Key-c31\"\nstorage.vault.password: \"Canary-Vault-Password-c32\"\n{OTHERS}"
        );
        bed.file("demo-dc/answers.yml", &answers);
        let log = bed.path("serve.log");
        let s = serve_logged(&bed, "demo-dc", &log);
        let jar = bed.path("jar");
        sign_in(&s, &jar);
        // The targets are shown with their answers, every secret as "set".
        let (code, st) = s.call("GET", "/api/v1/storage", None);
        assert_eq!(code, 200, "{st}");
        assert_eq!(st["in_use"], "targets", "{st}");
        assert_eq!(st["targets"][0]["name"], "s3main", "{st}");
        assert_eq!(st["targets"][0]["settings"]["secret_key"], "set", "{st}");
        assert_eq!(st["targets"][0]["settings"]["bucket"], "backups", "{st}");
        assert_eq!(st["targets"][1]["name"], "vault", "{st}");
        assert_eq!(st["targets"][1]["settings"]["password"], "set", "{st}");
        // A backup job to both targets: its secrets are wrong, so it fails, and says so safely.
        let (code, job) = s.call(
            "POST",
            "/api/v1/backups",
            Some(r#"{"components": ["config"]}"#),
        );
        assert_eq!(code, 202, "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let done = s.finished(&id);
        assert_ne!(done["status"], "succeeded", "{done}");
        let said = sweep(&s, &jar, Some(&id));
        no_canary(&said, &log, &canaries(&answers));
        assert_eq!(status_of(&said, "GET /storage"), 200);
        assert!(body_of(&said, "GET /storage").contains("id=\"target-vault\""));
        // A target's answers are written under its own name; the other target's stay.
        let (code, st) = s.call(
            "PUT",
            "/api/v1/storage",
            Some(r#"{"target": "vault", "settings": {"password": "Canary-Vault-Password-c33"}}"#),
        );
        assert_eq!(code, 200, "{st}");
        assert_eq!(st["targets"][1]["settings"]["password"], "set", "{st}");
        let now = bed.read("demo-dc/answers.yml");
        assert!(
            now.contains("storage.vault.password: \"Canary-Vault-Password-c33\""),
            "{now}"
        );
        assert!(!now.contains("c32"), "{now}");
        assert!(
            now.contains("storage.s3main.secret_key: \"Canary-S3main-Secret-Key-c31\""),
            "{now}"
        );
        assert!(
            now.contains("db_password: \"Canary-Db-Password-c41\""),
            "{now}"
        );
        let (code, p) = s.call(
            "PUT",
            "/api/v1/storage",
            Some(r#"{"target": "nowhere", "settings": {"password": "x"}}"#),
        );
        assert_eq!(code, 422, "{p}");
        // The page's form of a target writes its answers too; a secret left empty is kept.
        let storage_page = body_of(&said, "GET /storage");
        let at = storage_page.find("name=\"csrf\" value=\"").unwrap() + 19;
        let csrf = &storage_page[at..at + 64];
        let (code, page) = raw(
            &s,
            "POST",
            "/ui/storage",
            Auth::Session(&jar),
            Some(&format!(
                "csrf={csrf}&target=s3main&f.secret_key=Canary-S3main-Secret-Key-c34&f.region=eu-west-1"
            )),
        );
        assert_eq!(code, 200, "{page}");
        let (_, page) = raw(
            &s,
            "POST",
            "/ui/storage",
            Auth::Session(&jar),
            Some(&format!("csrf={csrf}&target=vault&f.password=")),
        );
        assert!(!page.contains("c34") && !page.contains("c33"), "{page}");
        let now = bed.read("demo-dc/answers.yml");
        assert!(
            now.contains("storage.s3main.secret_key: \"Canary-S3main-Secret-Key-c34\""),
            "{now}"
        );
        assert!(
            now.contains("storage.s3main.region: \"eu-west-1\""),
            "{now}"
        );
        assert!(
            now.contains("storage.vault.password: \"Canary-Vault-Password-c33\""),
            "kept: {now}"
        );
        assert!(!now.contains("c31"), "{now}");
        let mut all = canaries(&answers);
        all.extend([
            "Canary-Vault-Password-c33".into(),
            "Canary-S3main-Secret-Key-c34".into(),
        ]);
        broken_answers(&bed, &s, &jar, &now, &log);
        no_canary(&sweep(&s, &jar, Some(&id)), &log, &all);
    }

    #[test]
    fn a_secret_of_the_one_storage_or_any_other_answer_never_leaves_the_server() {
        let s3 = StorageBed::start("s3");
        let s3f = fields(&s3);
        let bed = common::dc_demo();
        // Every secret of every storage type is an answer, besides the S3 storage in use.
        let answers = format!(
            "storage.type: s3\nstorage.s3.endpoint: {}\nstorage.s3.bucket: backups\nstorage.s3.access_key: setup-ak\nstorage.s3.path_style: \"true\"\nstorage.s3.secret_key: \"Canary-S3-Secret-Key-c21\"\nstorage.azure.connection_string: \"Canary-Azure-Connection-c22\"\nstorage.azure.access_key: \"Canary-Azure-Key-c23\"\nstorage.azure.sas: \"Canary-Azure-Sas-c24\"\nstorage.sftp.password: \"Canary-Sftp-Password-c25\"\nstorage.ftp.password: \"Canary-Ftp-Password-c26\"\n{OTHERS}",
            s3f["endpoint"]
        );
        bed.file("demo-dc/answers.yml", &answers);
        let log = bed.path("serve.log");
        let s = serve_logged(&bed, "demo-dc", &log);
        let jar = bed.path("jar");
        sign_in(&s, &jar);
        let (code, st) = s.call("GET", "/api/v1/storage", None);
        assert_eq!(code, 200, "{st}");
        assert_eq!(st["in_use"], "answers", "{st}");
        for key in [
            "s3.secret_key",
            "azure.connection_string",
            "azure.access_key",
            "azure.sas",
            "sftp.password",
            "ftp.password",
        ] {
            assert_eq!(st["settings"][key], "set", "{key}: {st}");
        }
        let (code, job) = s.call(
            "POST",
            "/api/v1/backups",
            Some(r#"{"components": ["config"]}"#),
        );
        assert_eq!(code, 202, "{job}");
        let id = job["id"].as_str().unwrap().to_string();
        let done = s.finished(&id);
        assert_ne!(done["status"], "succeeded", "{done}");
        let said = sweep(&s, &jar, Some(&id));
        no_canary(&said, &log, &canaries(&answers));
        broken_answers(&bed, &s, &jar, &answers, &log);
    }

    /// A target's answer of the wrong kind is refused whole, without repeating the value, and a
    /// change that leaves a secret out keeps the secret (the API never shows one to send back).
    #[test]
    fn a_bad_value_for_a_target_is_refused_and_a_secret_left_out_is_kept() {
        let bed = common::dc_demo();
        let backup = bed.read("demo-dc/backup.yml");
        let head = &backup[..backup.find("\nstorage:").unwrap()];
        bed.file(
            "demo-dc/backup.yml",
            &format!(
                "{head}\nstorage:\n  - {{ name: s3main, type: s3, endpoint: \"http://127.0.0.1:9\", bucket: backups, access_key: setup-ak, path_style: \"true\" }}\n  - {{ name: vault, type: sftp, host: 127.0.0.1, port: \"22\", user: setupsftp, path: /backups }}\n"
            ),
        );
        let answers = "storage.s3main.secret_key: \"Canary-S3main-Secret-Key-c51\"\nstorage.vault.password: \"Canary-Vault-Password-c52\"\n";
        bed.file("demo-dc/answers.yml", answers);
        let log = bed.path("serve.log");
        let s = serve_logged(&bed, "demo-dc", &log);
        // A password sent as the port: refused, not echoed, nothing written.
        let (code, p) = s.call(
            "PUT",
            "/api/v1/storage",
            Some(r#"{"target": "vault", "settings": {"port": "Canary-SfTpPaSs-Kk27"}}"#),
        );
        let text = p.to_string();
        assert_eq!(code, 422, "{text}");
        assert!(text.contains("port"), "{text}");
        assert!(!text.contains("Canary"), "{text}");
        assert_eq!(bed.read("demo-dc/answers.yml"), answers);
        for bad in [
            r#"{"target": "s3main", "settings": {"path_style": "maybe"}}"#,
            r#"{"target": "s3main", "settings": {"endpoint": "ftp://x"}}"#,
            r#"{"target": "vault", "settings": {"host": "a b"}}"#,
        ] {
            let (code, p) = s.call("PUT", "/api/v1/storage", Some(bad));
            assert_eq!(code, 422, "{bad}: {p}");
        }
        assert_eq!(bed.read("demo-dc/answers.yml"), answers);
        // A good port: written, and the password the request did not name stays.
        let (code, st) = s.call(
            "PUT",
            "/api/v1/storage",
            Some(r#"{"target": "vault", "settings": {"port": "2222"}}"#),
        );
        assert_eq!(code, 200, "{st}");
        assert_eq!(st["targets"][1]["settings"]["password"], "set", "{st}");
        let now = bed.read("demo-dc/answers.yml");
        assert!(now.contains("storage.vault.port: \"2222\""), "{now}");
        assert!(
            now.contains("storage.vault.password: \"Canary-Vault-Password-c52\""),
            "{now}"
        );
        assert!(
            now.contains("storage.s3main.secret_key: \"Canary-S3main-Secret-Key-c51\""),
            "{now}"
        );
        let log = std::fs::read_to_string(&log).unwrap();
        assert!(!log.contains("Canary"), "{log}");
    }
}

#[test]
fn without_a_random_source_the_server_refuses_to_start_rather_than_make_guessable_sessions() {
    let bed = common::dc_demo_one_store();
    // The server alone, in a mount namespace of its own where /dev/urandom gives nothing.
    let out = Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "mount --bind /dev/null /dev/urandom && exec \"$0\" \"$@\"",
        ])
        .arg(env!("CARGO_BIN_EXE_setup"))
        .args(["serve", "-C", "demo-dc", "--listen"])
        .arg(format!("127.0.0.1:{}", common::served::free_port()))
        .current_dir(bed.path(""))
        .env("SETUP_SERVE_TOKEN", TOKEN)
        .env("SETUP_LOCK_DIR", bed.path(".machine-lock"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{said}");
    assert!(said.contains("random source cannot be read"), "{said}");
}
