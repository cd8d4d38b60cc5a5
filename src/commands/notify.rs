//! Notifications after a run: a webhook POST of a JSON document, signed with HMAC-SHA256 over the
//! body (header `X-Setup-Signature: sha256=HEX`) when `notify.webhook.secret` is given. Settings are
//! answers (`notify.webhook.url`, `notify.webhook.secret`, `notify.webhook.on`). A notification that
//! fails is a warning; it never changes how the run ended.

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

    /// Whether a run that ended with `status` is told.
    pub fn wants(&self, status: &str) -> bool {
        let kind = if status == "done" {
            "success"
        } else {
            "failure"
        };
        self.on.iter().any(|o| o == kind)
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
        // A drill's checks that failed, with what was expected and what was found.
        "failed_checks": report["checks"].as_array().into_iter().flatten()
            .filter(|k| k["passed"] != true).cloned().collect::<Vec<J>>(),
        "report": report_path,
    })
}

/// Tells the webhook about a finished run, if one is configured and wants it; the warning to show
/// when it could not be told.
pub async fn after_run(
    answers: &Answers,
    operation: &str,
    site: &str,
    report: &J,
    report_path: &str,
) -> Option<String> {
    let hook = Webhook::from_answers(answers)?;
    let status = report["status"].as_str().unwrap_or("");
    if !hook.wants(status) {
        return None;
    }
    let body = payload(operation, site, report, report_path).to_string();
    hook.send(body.as_bytes())
        .await
        .err()
        .map(|e| format!("the webhook notification was not delivered: {e}"))
}

/// `setup notify-test`: a test message on every configured channel.
pub fn test(o: &crate::options::Options) -> Result<i32, crate::failure::Failure> {
    use crate::failure::Failure;
    let answers = crate::world::load_answers(o)?;
    let Some(hook) = Webhook::from_answers(&answers) else {
        return Err(Failure::invalid(
            crate::diag::Diag::plain("notify", "no notification channel is configured")
                .help("give notify.webhook.url (and notify.webhook.secret to sign) with --set, SETUP_* or answers.yml"),
        ));
    };
    let body = json!({
        "test": true,
        "operation": "notify-test",
        "status": "test",
        "text": "a test message from setup notify-test",
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    })
    .to_string();
    match super::runtime().block_on(hook.send(body.as_bytes())) {
        Ok(code) => {
            super::say!(
                "webhook: delivered (HTTP {code}){}",
                if hook.secret.is_some() {
                    ", signed"
                } else {
                    ", unsigned (no notify.webhook.secret)"
                }
            );
            Ok(0)
        }
        Err(e) => Err(Failure::Failed(format!("webhook: not delivered: {e}"))),
    }
}
