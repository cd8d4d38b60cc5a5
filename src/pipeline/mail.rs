//! Mail after a run, over SMTP: STARTTLS (`notify.email.tls: starttls`, the default, port 587),
//! implicit TLS (`tls`, port 465) or none (`none`, for a plain relay on the same network), with a
//! login when `notify.email.user` is given. A plain-text summary, with the run's report attached.
//! `notify.email.ca_file` trusts one more CA (a site's own relay) beside the system's roots.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::answers::Answers;
use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Security {
    StartTls,
    Tls,
    None,
}

pub struct Mail {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub user: Option<String>,
    pub password: Option<Secret>,
    pub from: String,
    pub to: Vec<String>,
    pub ca_file: Option<std::path::PathBuf>,
    /// Which runs are told: `success`, `failure`, `drill`.
    pub on: Vec<String>,
}

impl Mail {
    /// The mail settings, when `notify.email.host` is given; what is wrong with them otherwise.
    pub fn from_answers(a: &Answers, base: &std::path::Path) -> Option<Result<Mail, String>> {
        let host = a.text("notify.email.host")?;
        Some(Self::read(a, base, host))
    }

    fn read(a: &Answers, base: &std::path::Path, host: String) -> Result<Mail, String> {
        let security = match a.text("notify.email.tls").as_deref() {
            None | Some("starttls") => Security::StartTls,
            Some("tls") => Security::Tls,
            Some("none") => Security::None,
            Some(other) => {
                return Err(format!(
                    "notify.email.tls is `{other}`: write starttls, tls or none"
                ));
            }
        };
        let port = match a.text("notify.email.port") {
            Some(p) => p
                .parse()
                .map_err(|_| format!("notify.email.port is `{p}`: write a port number"))?,
            None => match security {
                Security::StartTls => 587,
                Security::Tls => 465,
                Security::None => 25,
            },
        };
        let from = a
            .text("notify.email.from")
            .ok_or("mail needs notify.email.from (the sender's address)")?;
        let to: Vec<String> = a
            .text("notify.email.to")
            .unwrap_or_default()
            .split([',', ' '])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        if to.is_empty() {
            return Err(
                "mail needs notify.email.to (one address or several, comma-separated)".into(),
            );
        }
        let on = a
            .text("notify.email.on")
            .unwrap_or_else(|| "failure,success".into())
            .split([',', ' '])
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect();
        Ok(Mail {
            host,
            port,
            security,
            user: a.text("notify.email.user"),
            password: a.secret("notify.email.password"),
            from,
            to,
            ca_file: a.text("notify.email.ca_file").map(|p| base.join(p)),
            on,
        })
    }

    fn transport(&self) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(self.host.clone());
            if let Some(ca) = &self.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| format!("notify.email.ca_file {}: {e}", ca.display()))?;
                let cert = Certificate::from_pem(&pem)
                    .map_err(|e| format!("notify.email.ca_file {}: {e}", ca.display()))?;
                b = b.add_root_certificate(cert);
            }
            b.build_rustls().map_err(|e| e.to_string())
        };
        let tls = match self.security {
            Security::StartTls => Tls::Required(params()?),
            Security::Tls => Tls::Wrapper(params()?),
            Security::None => Tls::None,
        };
        let mut t = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&self.host)
            .port(self.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(20)));
        if let Some(user) = &self.user {
            let password = self
                .password
                .as_ref()
                .map(|p| p.expose().to_string())
                .unwrap_or_default();
            t = t.credentials(Credentials::new(user.clone(), password));
        }
        Ok(t.build())
    }

    /// Sends one message: `text`, with `report` attached when given (file name and JSON).
    pub async fn send(
        &self,
        subject: &str,
        text: &str,
        report: Option<(&str, Vec<u8>)>,
    ) -> Result<(), String> {
        let mailbox = |a: &str| -> Result<Mailbox, String> {
            a.parse()
                .map_err(|e| format!("`{a}` is not a mail address: {e}"))
        };
        let mut b = Message::builder()
            .from(mailbox(&self.from)?)
            .subject(subject)
            .user_agent(concat!("setup/", env!("CARGO_PKG_VERSION")).to_string());
        for to in &self.to {
            b = b.to(mailbox(to)?);
        }
        let body = SinglePart::plain(text.to_string());
        let message = match report {
            Some((name, bytes)) => b.multipart(MultiPart::mixed().singlepart(body).singlepart(
                Attachment::new(name.to_string()).body(
                    bytes,
                    ContentType::parse("application/json").expect("a type"),
                ),
            )),
            None => b.singlepart(body),
        }
        .map_err(|e| e.to_string())?;
        let transport = self.transport()?;
        // Sent once: a relay that took the message and then failed to say so must not get it twice.
        // A relay that stops answering never holds the run: one minute for the whole exchange.
        match tokio::time::timeout(Duration::from_secs(60), transport.send(message)).await {
            Ok(sent) => sent
                .map(|_| ())
                .map_err(|e| format!("{} port {}: {e}", self.host, self.port)),
            Err(_) => Err(format!(
                "{} port {}: no answer within a minute",
                self.host, self.port
            )),
        }
    }
}
