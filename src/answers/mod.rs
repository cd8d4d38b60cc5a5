//! Answers: every question has a key; sources, strongest first, are `--set`, `SETUP_*`, the answers file,
//! restore.yml, then an interactive prompt. This module merges them and checks the closed choices.

mod prompt;
mod sources;
pub mod storage;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde_json::Value as J;

use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::docs::restore::RestoreSpec;
use crate::secret::{Masker, Secret};
use crate::yaml::{Node, Span};
pub use prompt::{Tried, Tryer, gather_missing, missing, missing_line};
pub use sources::{SetArg, parse_sets, unread_set};
pub use storage::{STORAGE_TYPES, StorageSettings};

pub const MODES: &[&str] = &["weekly", "current-week"];

/// What an answer that is not a storage setting holds, and so how it is checked and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// Masked wherever it could appear; never shown back, never written into a report.
    Secret,
    /// One of a closed list (`code` and `what` name the mistake).
    Choice {
        names: &'static [&'static str],
        code: &'static str,
        what: &'static str,
    },
    /// A whole number of at least 1.
    Count,
    /// A whole number and a unit: `36h`, `2d`.
    Age,
}

/// One answer that is not a storage setting: its key, what it holds, what it is for.
#[derive(Clone, Copy, Debug)]
pub struct Other {
    pub key: &'static str,
    pub kind: Kind,
    pub about: &'static str,
}

/// `Other answers: KEY (what it is), …` for `--help`, wrapped at `width`, from [`OTHERS`].
pub fn others_help(width: usize) -> String {
    let mut lines = vec![String::from("Other answers:")];
    for (i, o) in OTHERS.iter().enumerate() {
        let sep = if i + 1 == OTHERS.len() { "." } else { "," };
        let item = format!("{} ({}){sep}", o.key, o.about);
        let last = lines.last_mut().expect("a line");
        if last.len() + 1 + item.len() > width {
            lines.push(item);
        } else {
            last.push(' ');
            last.push_str(&item);
        }
    }
    lines.join("\n")
}

const fn other(key: &'static str, kind: Kind, about: &'static str) -> Other {
    Other { key, kind, about }
}

/// Every answer that is not a storage setting. The known keys, which of them are secrets (masked
/// everywhere) and how each is checked come from this table alone; the storage settings come from
/// `storage.rs`'s table of questions.
pub const OTHERS: &[Other] = &[
    other(
        "config_backup",
        Kind::Text,
        "the configuration backup to restore: a name, or latest",
    ),
    other(
        "analytics.mode",
        Kind::Choice {
            names: MODES,
            code: "invalid_mode",
            what: "analytics mode",
        },
        "weekly: whole weeks once over; current-week: a failover's",
    ),
    other(
        "analytics.snapshots",
        Kind::Choice {
            names: crate::gate::Snapshots::NAMES,
            code: "invalid_snapshots",
            what: "kind of analytics snapshot",
        },
        "incremental or cumulative",
    ),
    other(
        "analytics.since",
        Kind::Text,
        "the first day restored, YYYY-MM-DD",
    ),
    other(
        "analytics.pattern",
        Kind::Text,
        "the snapshots' name pattern",
    ),
    other(
        "analytics.prefix",
        Kind::Text,
        "the snapshots' prefix in storage",
    ),
    other(
        "analytics.state_file",
        Kind::Text,
        "where the gate keeps the weeks restored",
    ),
    other(
        "become_password",
        Kind::Secret,
        "the sudo password of become",
    ),
    other(
        "db_password",
        Kind::Secret,
        "the director's database password",
    ),
    other(
        "age_identity",
        Kind::Text,
        "the identity file that opens encrypted backups",
    ),
    other(
        "trusted_signers",
        Kind::Text,
        "the allowed_signers file of the keys trusted",
    ),
    other(
        "signing_key_passphrase",
        Kind::Secret,
        "the DC's signing key's passphrase",
    ),
    other(
        "metrics.textfile",
        Kind::Text,
        "a Prometheus text file each run writes",
    ),
    other(
        "keep_pre_restore",
        Kind::Count,
        "how many pre-restore copies to keep",
    ),
    other(
        "max_backup_age.config",
        Kind::Age,
        "the oldest configuration backup restored unasked",
    ),
    other(
        "max_backup_age.analytics",
        Kind::Age,
        "the oldest analytics day restored unasked",
    ),
    other(
        "notify.webhook.url",
        Kind::Text,
        "a webhook told after each run",
    ),
    other(
        "notify.webhook.secret",
        Kind::Secret,
        "the key the webhook's body is signed with",
    ),
    other("notify.webhook.on", Kind::Text, "when the webhook is told"),
    other("notify.email.host", Kind::Text, "the mail server"),
    other("notify.email.port", Kind::Text, "its port"),
    other(
        "notify.email.tls",
        Kind::Text,
        "how the mail server is spoken to",
    ),
    other("notify.email.user", Kind::Text, "who signs in to it"),
    other("notify.email.password", Kind::Secret, "their password"),
    other("notify.email.from", Kind::Text, "the sender"),
    other("notify.email.to", Kind::Text, "the recipients"),
    other("notify.email.on", Kind::Text, "when a mail is sent"),
    other(
        "notify.email.ca_file",
        Kind::Text,
        "a CA the mail server's certificate is checked with",
    ),
    other(
        "hooks.before",
        Kind::Text,
        "a shell command on the controller before each run",
    ),
    other("hooks.after", Kind::Text, "one after each run"),
    other("hooks.on_failure", Kind::Text, "one after a failed run"),
];

/// `SETUP_` + key upper-cased, dots to `_`.
pub fn env_name(key: &str) -> String {
    format!("SETUP_{}", key.to_uppercase().replace(['.', '-'], "_"))
}

/// Every key an answers file or `SETUP_*` may give.
pub fn known_keys() -> Vec<String> {
    storage::keys()
        .chain(OTHERS.iter().map(|o| o.key.to_string()))
        .collect()
}

/// The known keys and those of each storage target: `storage.NAME.FIELD` for each field of its
/// type.
pub fn known_keys_with(targets: &[(String, String)]) -> Vec<String> {
    let mut keys = known_keys();
    for (name, kind) in targets {
        keys.extend(
            storage::questions(kind)
                .iter()
                .map(|q| storage::key(name, q.field)),
        );
    }
    keys
}

/// An age as the answer gives it: a whole number and a unit, `m`, `h`, `d` or `w` (`36h`, `2d`).
pub fn parse_age(text: &str) -> Option<chrono::Duration> {
    let t = text.trim();
    let unit = t.chars().last()?;
    let n: i64 = t[..t.len() - unit.len_utf8()].trim().parse().ok()?;
    if !(1..=100_000).contains(&n) {
        return None;
    }
    match unit {
        'm' => Some(chrono::Duration::minutes(n)),
        'h' => Some(chrono::Duration::hours(n)),
        'd' => Some(chrono::Duration::days(n)),
        'w' => Some(chrono::Duration::weeks(n)),
        _ => None,
    }
}

/// Whether an answer key holds a secret.
pub fn is_secret_key(key: &str) -> bool {
    OTHERS
        .iter()
        .any(|o| o.key == key && o.kind == Kind::Secret)
        || storage::is_secret(key)
}

#[derive(Clone, Debug)]
pub enum Origin {
    Set(Source, Span),
    Env(String),
    File(Source, Span),
    Restore(Source, Span),
    Prompt,
    Default,
}

#[derive(Clone, Debug)]
pub struct Answer {
    pub value: J,
    pub origin: Origin,
}

impl Answer {
    pub fn text(&self) -> String {
        match &self.value {
            J::String(s) => s.clone(),
            J::Null => String::new(),
            other => other.to_string(),
        }
    }

    /// A diagnostic about this answer, pointing where it was given.
    pub fn diag(&self, code: &'static str, message: String, label: &str) -> Diag {
        match &self.origin {
            Origin::Set(src, span) | Origin::File(src, span) | Origin::Restore(src, span) => {
                Diag::at(code, src, *span, message).label(label.to_string())
            }
            Origin::Env(name) => Diag::plain(code, format!("{message} (from {name})")),
            _ => Diag::plain(code, message),
        }
    }
}

/// The answers of one run after every source was read.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    pub values: BTreeMap<String, Answer>,
    /// `--set` keys that are template variables rather than answers.
    pub vars: serde_json::Map<String, J>,
    /// The `--set` arguments taken as template variables: each must name a variable the run reads
    /// (checked where the playbook is known, `world`), else it is a mistake, not silently nothing.
    pub set_vars: Vec<SetArg>,
}

/// The `analytics.*` answers: defaults for the gate's arguments.
#[derive(Clone, Debug, Default)]
pub struct AnalyticsAnswers {
    pub mode: Option<String>,
    pub snapshots: Option<String>,
    pub since: Option<String>,
    pub pattern: Option<String>,
    pub prefix: Option<String>,
}

pub struct Inputs<'a> {
    pub sets: &'a [SetArg],
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub file: Option<(&'a Source, &'a Node)>,
    pub restore: &'a RestoreSpec,
    pub interactive: bool,
    /// Whether storage questions must be answered (a restore or a listing needs them).
    pub need_storage: bool,
    /// At a terminal: tries the storage once its answers are in.
    pub tryer: Option<Tryer<'a>>,
    /// Storage targets a document lists, (name, type): their answers are `storage.NAME.FIELD`, and
    /// no `storage.type` is asked for when they are there.
    pub targets: &'a [(String, String)],
    /// Every storage target the folder's documents list (backup.yml's and restore.yml's), whether
    /// this command uses it or not: their answers are known keys for every command.
    pub listed: &'a [(String, String)],
}

impl Answers {
    pub fn get(&self, key: &str) -> Option<&Answer> {
        self.values.get(key)
    }

    pub fn text(&self, key: &str) -> Option<String> {
        self.get(key).map(Answer::text).filter(|s| !s.is_empty())
    }

    pub fn secret(&self, key: &str) -> Option<Secret> {
        self.text(key).map(Secret::new)
    }

    pub fn storage_type(&self) -> Option<String> {
        self.text("storage.type")
    }

    /// Whether the answers name one storage (`storage.type`, from any source): then it wins over
    /// the storage targets a document lists, as every answer wins over restore.yml.
    pub fn storage_type_given(&self) -> bool {
        self.get("storage.type").is_some()
    }

    /// Non-secret storage settings of the chosen type, as templates see `storage`.
    pub fn storage_value(&self) -> J {
        StorageSettings::template_value(self)
    }

    /// Registers every secret answer with the masker.
    pub fn register_secrets(&self, masker: &Masker) {
        for (k, a) in &self.values {
            if is_secret_key(k) {
                masker.add(&Secret::new(a.text()));
            }
        }
    }

    /// Every secret answer, nested by its dotted key, as templates see `secret`.
    pub fn secrets_value(&self) -> J {
        let mut out = serde_json::Map::new();
        for (k, a) in &self.values {
            if is_secret_key(k) && !a.text().is_empty() {
                crate::docs::restore::insert_dotted(&mut out, k, J::String(a.text()));
            }
        }
        J::Object(out)
    }

    /// The `analytics.*` answers, as the gate reads them.
    pub fn analytics(&self) -> AnalyticsAnswers {
        let get = |k: &str| self.text(&format!("analytics.{k}"));
        AnalyticsAnswers {
            mode: get("mode"),
            snapshots: get("snapshots"),
            since: get("since"),
            pattern: get("pattern"),
            prefix: get("prefix"),
        }
    }

    pub fn resolve(inputs: Inputs, diags: &mut Diagnostics) -> Answers {
        let mut ans = Answers::default();
        sources::read_all(&mut ans, &inputs, diags);
        for o in OTHERS {
            match o.kind {
                Kind::Choice { names, code, what } => {
                    ans.check_choice(o.key, names, code, what, diags);
                }
                Kind::Count => ans.check_count(o.key, diags),
                Kind::Age => ans.check_age(o.key, diags),
                Kind::Text | Kind::Secret => {}
            }
        }
        if !ans.values.contains_key("analytics.mode") {
            ans.values.insert(
                "analytics.mode".into(),
                Answer {
                    value: J::String("weekly".into()),
                    origin: Origin::Default,
                },
            );
        }
        let type_ok = ans.check_choice(
            "storage.type",
            STORAGE_TYPES,
            "unknown_storage_type",
            "storage type",
            diags,
        );
        if inputs.need_storage && type_ok && (inputs.targets.is_empty() || ans.storage_type_given())
        {
            prompt::ask_storage(&mut ans, inputs.interactive, inputs.tryer, None, diags);
        }
        ans
    }

    /// Checks an answer that counts something and keeps at least one (`keep_pre_restore`).
    fn check_count(&self, key: &str, diags: &mut Diagnostics) {
        let Some(a) = self.values.get(key) else {
            return;
        };
        let v = a.text();
        if v.trim().parse::<u32>().is_ok_and(|n| n >= 1) {
            return;
        }
        diags.push(
            a.diag(
                "invalid_count",
                format!("invalid count `{v}` for `{key}`"),
                "not a whole number of at least 1",
            )
            .help(format!(
                "give a whole number of at least 1, e.g. `{key}: 2` (the newest copy is the way back)"
            )),
        );
    }

    /// Checks an answer that bounds an age (`max_backup_age.*`): a whole number and a unit.
    fn check_age(&self, key: &str, diags: &mut Diagnostics) {
        let Some(a) = self.values.get(key) else {
            return;
        };
        let v = a.text();
        if parse_age(&v).is_some() {
            return;
        }
        diags.push(
            a.diag(
                "invalid_age",
                format!("invalid age `{v}` for `{key}`"),
                "not a whole number and a unit",
            )
            .help(format!(
                "give a whole number of minutes, hours, days or weeks, e.g. `{key}: 2d` (or 36h, 90m, 1w)"
            )),
        );
    }

    /// Checks a closed-choice answer; true when it is absent or valid.
    fn check_choice(
        &self,
        key: &str,
        choices: &[&str],
        code: &'static str,
        what: &str,
        diags: &mut Diagnostics,
    ) -> bool {
        let Some(a) = self.values.get(key) else {
            return true;
        };
        let v = a.text();
        if choices.contains(&v.as_str()) {
            return true;
        }
        let sug = did_you_mean(&v, choices.iter().copied());
        let help = match sug {
            Some(s) => format!("did you mean `{s}`? valid values: {}", choices.join(", ")),
            None => format!("valid values: {}", choices.join(", ")),
        };
        let message = format!("invalid {what} `{v}` for `{key}`");
        diags.push(
            a.diag(code, message, &format!("not a valid {what}"))
                .help(help),
        );
        false
    }
}

/// One storage target's answers, in `view` as one storage's are (`storage.type`,
/// `storage.TYPE.FIELD`): asked at a terminal, tried, reviewed and, when missing, listed, each by
/// the target's own key (`storage.NAME.FIELD`).
pub fn ask_target(
    view: &mut Answers,
    name: &str,
    interactive: bool,
    tryer: Option<Tryer>,
    diags: &mut Diagnostics,
) {
    let kind = view.storage_type().unwrap_or_default();
    if interactive {
        eprintln!("Storage target `{name}` ({kind}):");
    }
    // What trying the target says of its keys, said of the target's own.
    let own_keys = |m: String| renamed(&m, &kind, name);
    let tried = tryer.map(|t| {
        move |a: &Answers| match t(a) {
            Tried::Ok => Tried::Ok,
            Tried::Credentials(m) => Tried::Credentials(own_keys(m)),
            Tried::Connection(m) => Tried::Connection(own_keys(m)),
            Tried::Other(m) => Tried::Other(own_keys(m)),
        }
    });
    let tried = tried.as_ref().map(|t| t as &dyn Fn(&Answers) -> Tried);
    let mut own = Diagnostics::default();
    prompt::ask_storage(view, interactive, tried, Some(name), &mut own);
    said_of_target(own, &kind, name, diags);
}

/// A text about one storage's keys (`storage.TYPE.FIELD`, `SETUP_STORAGE_TYPE_FIELD`), said of a
/// target's own (`storage.NAME.FIELD`, `SETUP_STORAGE_NAME_FIELD`).
fn renamed(text: &str, kind: &str, name: &str) -> String {
    let (from, to) = (format!("storage.{kind}."), format!("storage.{name}."));
    text.replace(&from, &to)
        .replace(&env_name(&from), &env_name(&to))
}

/// Diagnostics about a target's answers as one storage's (`storage.TYPE.FIELD`), said of the
/// target's own keys (`storage.NAME.FIELD`, `SETUP_STORAGE_NAME_FIELD`).
pub fn said_of_target(own: Diagnostics, kind: &str, name: &str, diags: &mut Diagnostics) {
    for mut d in own.list {
        d.message = renamed(&d.message, kind, name);
        d.help = d.help.map(|h| renamed(&h, kind, name));
        diags.push(d);
    }
}

/// `storage.bucket` becomes `storage.s3.bucket` once the type is known.
fn normalize(key: &str, storage_type: Option<&J>) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    if let (["storage", field], Some(J::String(t))) = (parts.as_slice(), storage_type)
        && *field != "type"
        && storage::questions(t).iter().any(|q| q.field == *field)
    {
        return format!("storage.{t}.{field}");
    }
    key.to_string()
}
