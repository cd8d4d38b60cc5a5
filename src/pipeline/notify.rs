//! Notifications after a run, on each configured channel: a webhook POST of a JSON document, signed
//! with HMAC-SHA256 over the body (header `X-Setup-Signature: sha256=HEX`) when
//! `notify.webhook.secret` is given; and mail (`notify.email.*`, see `mail`), a plain-text summary
//! with the report attached. Settings are answers. Each channel's `on` picks the runs it hears of:
//! `success`, `failure`, `drill` (every drill). A notification that fails is a warning; it never
//! changes how the run ended.

use std::time::Duration;

use hmac::{KeyInit, Mac};
use serde::Serialize;

use crate::answers::Answers;
use crate::report::collect::{Check, DrillVerdict};
use crate::report::events::Status;
use crate::report::rpo::Rpo;
use crate::report::summary::{FailedTarget, Report};
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
#[derive(Clone, Debug, Serialize)]
pub struct Payload {
    pub run_id: String,
    pub operation: String,
    pub site: String,
    pub status: String,
    pub exit_code: i32,
    pub started_at: String,
    pub finished_at: String,
    pub rto_seconds: Option<f64>,
    pub rpo: Option<Rpo>,
    pub failed_steps: Vec<FailedStep>,
    /// Storage targets that could not take what the others took: `target`, `object`, `why`.
    pub failed_targets: Vec<FailedTarget>,
    /// A drill's checks that failed, with what was expected and what was found.
    pub failed_checks: Vec<Check>,
    pub rollback: RollbackNote,
    /// A drill's verdict (`passed`, `partial`, `failed`) and what it did not exercise.
    pub drill: Option<DrillVerdict>,
    /// Retries, storage targets passed over or lacking a backup, targets that failed.
    pub storage: Vec<String>,
    pub report: String,
}

/// A task that failed or was aborted.
#[derive(Clone, Debug, Serialize)]
pub struct FailedStep {
    pub step: String,
    pub host: String,
    pub message: String,
}

/// The rollback as the notification tells it: `status` `not run`, `done` or `failed`, and when it
/// failed, what could not be taken back (`failed_steps`).
#[derive(Clone, Debug, Serialize)]
pub struct RollbackNote {
    pub status: &'static str,
    pub reason: Option<String>,
    pub failed_steps: Vec<String>,
}

impl RollbackNote {
    /// Nothing was rolled back.
    pub fn not_run() -> RollbackNote {
        RollbackNote {
            status: "not run",
            reason: None,
            failed_steps: Vec::new(),
        }
    }
}

impl Payload {
    /// The notification of a run whose report is `report`, written at `report_path`.
    pub fn of(operation: &str, site: &str, report: &Report, report_path: &str) -> Payload {
        let r = &report.rollback;
        let status = match (r.ran, r.failed) {
            (_, true) => "failed",
            (true, false) => "done",
            (false, false) => "not run",
        };
        Payload {
            run_id: report.run_id.clone(),
            operation: operation.into(),
            site: site.into(),
            status: report.status.clone(),
            exit_code: report.exit_code,
            started_at: report.started_at.clone(),
            finished_at: report.finished_at.clone(),
            rto_seconds: report.rto_seconds,
            rpo: report.rpo.clone(),
            failed_steps: report
                .tasks
                .iter()
                .filter(|t| matches!(t.status, Status::Failed | Status::Aborted))
                .map(|t| FailedStep {
                    step: t.step.clone(),
                    host: t.host.clone(),
                    message: t.message.clone(),
                })
                .collect(),
            failed_targets: report.failed_targets.clone(),
            failed_checks: report
                .checks
                .iter()
                .filter(|k| !k.passed)
                .cloned()
                .collect(),
            rollback: RollbackNote {
                status,
                reason: r.reason.clone(),
                failed_steps: r.failures.clone(),
            },
            drill: report.drill.clone(),
            storage: report.storage.clone(),
            report: report_path.into(),
        }
    }

    /// The document as sent (compact, keys as a JSON object orders them).
    pub fn body(&self) -> String {
        serde_json::to_value(self)
            .expect("a notification is JSON")
            .to_string()
    }
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
fn mail_text(p: &Payload, summary: &str) -> String {
    let mut t = format!(
        "{} of {} ended: {} (exit {}).\nRun: {}\nStarted: {}\nFinished: {}\n",
        p.operation, p.site, p.status, p.exit_code, p.run_id, p.started_at, p.finished_at,
    );
    if let Some(r) = p.rto_seconds {
        t += &format!("RTO: {r:.1} s\n");
    }
    for (k, age) in p.rpo.iter().flat_map(Rpo::ages) {
        t += &format!("RPO {k}: {age} s\n");
    }
    for f in &p.failed_steps {
        t += &format!("FAILED step {} on {}: {}\n", f.step, f.host, f.message);
    }
    for k in &p.failed_checks {
        t += &format!(
            "FAILED check {} on {}: expected {}, found {}\n",
            k.name, k.host, k.expected, k.found
        );
    }
    if !p.report.is_empty() {
        t += &format!("Report: {}\n", p.report);
    }
    if !summary.is_empty() {
        t += "\n";
        t += summary;
    }
    t
}

/// Tells each configured channel that wants it about a finished run (`payload`; the mail attaches
/// the file the payload's `report` names, else `report`); the warning to show for those that
/// could not be told.
pub async fn after_run(
    answers: &Answers,
    base: &std::path::Path,
    payload: &Payload,
    report: &impl Serialize,
    summary: &str,
) -> Option<String> {
    let (operation, site) = (payload.operation.as_str(), payload.site.as_str());
    let status = payload.status.as_str();
    let report_path = payload.report.as_str();
    let mut warnings = Vec::new();
    if let Some(hook) = Webhook::from_answers(answers)
        && wants(&hook.on, status, operation)
        && let Err(e) = hook.send(payload.body().as_bytes()).await
    {
        warnings.push(format!("the webhook notification was not delivered: {e}"));
    }
    match super::mail::Mail::from_answers(answers, base) {
        Some(Ok(mail)) if wants(&mail.on, status, operation) => {
            let subject = format!("setup {operation} of {site}: {status}");
            let attached = std::fs::read(report_path).unwrap_or_else(|_| {
                serde_json::to_value(report)
                    .and_then(|v| serde_json::to_vec_pretty(&v))
                    .unwrap_or_default()
            });
            if let Err(e) = mail
                .send(
                    &subject,
                    &mail_text(payload, summary),
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
