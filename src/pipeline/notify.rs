//! Notifications after a run, on each configured channel: a webhook POST of a JSON document, signed
//! with HMAC-SHA256 over the body (header `X-Setup-Signature: sha256=HEX`) when
//! `notify.webhook.secret` is given; and mail (`notify.email.*`, see `mail`), a plain-text summary
//! with the report attached. Settings are answers. Each channel's `on` picks the runs it hears of:
//! `success`, `failure`, `drill` (every drill). A notification that fails is a warning; it never
//! changes how the run ended.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde_json::{Value as J, json};

use crate::answers::Answers;
use crate::secret::Secret;

/// Attempts per notification, and the wait for one answer.
const ATTEMPTS: u32 = 3;
const TIMEOUT: Duration = Duration::from_secs(10);

pub struct Webhook {
    pub url: String,
    pub secret: Option<Secret>,
    /// Which runs are told: `success`, `failure` (failed, interrupted, refused), `drill`.
    pub on: Vec<String>,
}

impl Webhook {
    pub fn from_answers(a: &Answers) -> Option<Webhook> {
        let url = a.text("notify.webhook.url")?;
        let on = a
            .text("notify.webhook.on")
            .unwrap_or_else(|| "failure,success".into())
            .split([',', ' '])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        Some(Webhook {
            url,
            secret: a.secret("notify.webhook.secret"),
            on,
        })
    }

    /// POSTs `body`; retried with a growing wait. The HTTP status on success.
    pub async fn send(&self, body: &[u8]) -> Result<u16, String> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| e.to_string())?;
        let signature = self.secret.as_ref().map(|s| {
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(s.expose().as_bytes())
                .expect("HMAC takes any key length");
            mac.update(body);
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        });
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_secs(1 << (attempt - 1))).await;
            }
            let mut req = client
                .post(&self.url)
                .header("Content-Type", "application/json")
                .header("User-Agent", concat!("setup/", env!("CARGO_PKG_VERSION")))
                .body(body.to_vec());
            if let Some(sig) = &signature {
                req = req.header("X-Setup-Signature", sig);
            }
            match req.send().await {
                Ok(r) if r.status().is_success() => return Ok(r.status().as_u16()),
                Ok(r) => last = format!("the receiver answered {}", r.status()),
                Err(e) => last = without_url(&e),
            }
        }
        Err(format!("{last} ({ATTEMPTS} attempts)"))
    }
}

/// An HTTP error without the URL it names (a URL may carry a token).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "no answer in time"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    kind.to_string()
}

/// The document a run's notification carries.
pub fn payload(operation: &str, site: &str, report: &J, report_path: &str) -> J {
    let failed: Vec<J> = report["tasks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| t["status"] == "failed" || t["status"] == "aborted")
        .map(|t| json!({"step": t["step"], "host": t["host"], "message": t["message"]}))
        .collect();
    json!({
        "run_id": report["run_id"],
        "operation": operation,
        "site": site,
        "status": report["status"],
        "exit_code": report["exit_code"],
        "started_at": report["started_at"],
        "finished_at": report["finished_at"],
        "rto_seconds": report["rto_seconds"],
        "rpo": report["rpo"],
        "failed_steps": failed,
        // Storage targets that could not take what the others took: `target`, `object`, `why`.
        "failed_targets": report["failed_targets"].as_array().cloned().unwrap_or_default(),
        // A drill's checks that failed, with what was expected and what was found.
        "failed_checks": report["checks"].as_array().into_iter().flatten()
            .filter(|k| k["passed"] != true).cloned().collect::<Vec<J>>(),
        "rollback": rollback(&report["rollback"]),
        // A drill's verdict (`passed`, `partial`, `failed`) and what it did not exercise.
        "drill": report["drill"],
        // Retries, storage targets passed over or lacking a backup, targets that failed.
        "storage": report["storage"].as_array().cloned().unwrap_or_default(),
        "report": report_path,
    })
}

/// The rollback as the notification tells it: `status` `not run`, `done` or `failed`, and when it
/// failed, what could not be taken back (`failed_steps`).
fn rollback(r: &J) -> J {
    let status = match (r["ran"] == true, r["failed"] == true) {
        (_, true) => "failed",
        (true, false) => "done",
        (false, false) => "not run",
    };
    json!({
        "status": status,
        "reason": r["reason"],
        "failed_steps": r["failures"].as_array().cloned().unwrap_or_default(),
    })
}

/// Whether a channel whose `on` is `on` hears of a run of `operation` that ended with `status`.
pub fn wants(on: &[String], status: &str, operation: &str) -> bool {
    let kind = if status == "done" {
        "success"
    } else {
        "failure"
    };
    on.iter()
        .any(|o| o == kind || (o == "drill" && operation == "drill"))
}

/// The mail's text: the facts first, then the run's summary.
fn mail_text(p: &J, summary: &str) -> String {
    let mut t = format!(
        "{} of {} ended: {} (exit {}).\nRun: {}\nStarted: {}\nFinished: {}\n",
        p["operation"].as_str().unwrap_or(""),
        p["site"].as_str().unwrap_or(""),
        p["status"].as_str().unwrap_or(""),
        p["exit_code"],
        p["run_id"].as_str().unwrap_or(""),
        p["started_at"].as_str().unwrap_or(""),
        p["finished_at"].as_str().unwrap_or(""),
    );
    if let Some(r) = p["rto_seconds"].as_f64() {
        t += &format!("RTO: {r:.1} s\n");
    }
    for (k, v) in p["rpo"].as_object().into_iter().flatten() {
        t += &format!("RPO {k}: {} s\n", v["age_seconds"]);
    }
    for f in p["failed_steps"].as_array().into_iter().flatten() {
        t += &format!(
            "FAILED step {} on {}: {}\n",
            f["step"].as_str().unwrap_or(""),
            f["host"].as_str().unwrap_or(""),
            f["message"].as_str().unwrap_or("")
        );
    }
    for k in p["failed_checks"].as_array().into_iter().flatten() {
        t += &format!(
            "FAILED check {} on {}: expected {}, found {}\n",
            k["name"].as_str().unwrap_or(""),
            k["host"].as_str().unwrap_or(""),
            k["expected"].as_str().unwrap_or(""),
            k["found"].as_str().unwrap_or("")
        );
    }
    if !p["report"].as_str().unwrap_or("").is_empty() {
        t += &format!("Report: {}\n", p["report"].as_str().unwrap_or(""));
    }
    if !summary.is_empty() {
        t += "\n";
        t += summary;
    }
    t
}

/// Tells each configured channel that wants it about a finished run; the warning to show for
/// those that could not be told.
pub async fn after_run(
    answers: &Answers,
    base: &std::path::Path,
    operation: &str,
    site: &str,
    report: &J,
    report_path: &str,
    summary: &str,
) -> Option<String> {
    let status = report["status"].as_str().unwrap_or("");
    let payload = payload(operation, site, report, report_path);
    let mut warnings = Vec::new();
    if let Some(hook) = Webhook::from_answers(answers)
        && wants(&hook.on, status, operation)
        && let Err(e) = hook.send(payload.to_string().as_bytes()).await
    {
        warnings.push(format!("the webhook notification was not delivered: {e}"));
    }
    match super::mail::Mail::from_answers(answers, base) {
        Some(Ok(mail)) if wants(&mail.on, status, operation) => {
            let subject = format!("setup {operation} of {site}: {status}");
            let attached = std::fs::read(report_path)
                .unwrap_or_else(|_| serde_json::to_vec_pretty(report).unwrap_or_default());
            if let Err(e) = mail
                .send(
                    &subject,
                    &mail_text(&payload, summary),
                    Some(("report.json", attached)),
                )
                .await
            {
                warnings.push(format!("the mail was not delivered: {e}"));
            }
        }
        Some(Err(e)) => warnings.push(format!("no mail was sent: {e}")),
        _ => {}
    }
    (!warnings.is_empty()).then(|| warnings.join("; "))
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_channel_hears_of_the_runs_its_on_names() {
        let on = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        assert!(super::wants(&on("failure,success"), "done", "backup"));
        assert!(!super::wants(&on("failure"), "done", "restore"));
        assert!(super::wants(&on("failure"), "interrupted", "restore"));
        assert!(super::wants(&on("failure,drill"), "done", "drill"));
        assert!(!super::wants(&on("drill"), "failed", "backup"));
    }
}
