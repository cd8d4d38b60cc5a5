//! `setup notify-test`: a test message on every configured notification channel (the webhook,
//! signed when `notify.webhook.secret` is given; the mail), to see that each is delivered.

use serde_json::json;

use crate::failure::Failure;
use crate::options::Options;
use crate::pipeline::mail::Mail;
use crate::pipeline::notify::Webhook;

pub fn run(o: &Options) -> Result<i32, Failure> {
    let answers = crate::world::load_answers(o)?;
    let hook = Webhook::from_answers(&answers);
    let mail = Mail::from_answers(&answers, &o.dir);
    if hook.is_none() && mail.is_none() {
        return Err(Failure::invalid(
            crate::diag::Diag::plain("notify", "no notification channel is configured")
                .help("give notify.webhook.url (and notify.webhook.secret to sign), or notify.email.host, notify.email.from and notify.email.to, with --set, SETUP_* or answers.yml"),
        ));
    }
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut failed = Vec::new();
    if let Some(hook) = hook {
        let body = json!({
            "test": true,
            "operation": "notify-test",
            "status": "test",
            "text": "a test message from setup notify-test",
            "at": at,
        })
        .to_string();
        match super::runtime().block_on(hook.send(body.as_bytes())) {
            Ok(code) => super::say!(
                "webhook: delivered (HTTP {code}){}",
                if hook.secret.is_some() {
                    ", signed"
                } else {
                    ", unsigned (no notify.webhook.secret)"
                }
            ),
            Err(e) => failed.push(format!("webhook: not delivered: {e}")),
        }
    }
    match mail {
        Some(Ok(mail)) => {
            let text = format!("A test message from setup notify-test, sent at {at}.\n");
            match super::runtime().block_on(mail.send("setup: test message", &text, None)) {
                Ok(()) => super::say!(
                    "mail: delivered to {} through {} port {}",
                    mail.to.join(", "),
                    mail.host,
                    mail.port
                ),
                Err(e) => failed.push(format!("mail: not delivered: {e}")),
            }
        }
        Some(Err(e)) => {
            return Err(Failure::invalid(crate::diag::Diag::plain("notify", e)));
        }
        None => {}
    }
    if failed.is_empty() {
        Ok(0)
    } else {
        Err(Failure::Failed(failed.join("\n")))
    }
}
