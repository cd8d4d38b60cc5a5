//! Answers: every question has a key; sources, strongest first, are `--set`, `SETUP_*`, the answers file,
//! restore.yml, then an interactive prompt.

use std::collections::BTreeMap;

use serde_json::Value as J;

use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::docs::restore::{Entry, RestoreSpec, flatten, insert_dotted};
use crate::secret::{Masker, Secret};
use crate::yaml::{Node, Span};

pub const STORAGE_TYPES: &[&str] = &["s3", "azure", "sftp", "ftp", "local"];
pub const MODES: &[&str] = &["weekly", "current-week"];

/// One storage question.
#[derive(Clone, Copy, Debug)]
pub struct Question {
    pub field: &'static str,
    pub prompt: &'static str,
    pub default: Option<&'static str>,
    pub secret: bool,
    /// Questions of one group: at least one of them must be answered.
    pub one_of: Option<&'static str>,
    pub optional: bool,
}

const fn q(field: &'static str, prompt: &'static str) -> Question {
    Question {
        field,
        prompt,
        default: None,
        secret: false,
        one_of: None,
        optional: false,
    }
}

impl Question {
    const fn default(mut self, d: &'static str) -> Self {
        self.default = Some(d);
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
    const fn one_of(mut self, group: &'static str) -> Self {
        self.one_of = Some(group);
        self.optional = true;
        self
    }
    const fn optional(mut self) -> Self {
        self.optional = true;
        self
    }
}

/// The questions asked for one storage type, in prompt order.
pub fn questions(kind: &str) -> &'static [Question] {
    const S3: &[Question] = &[
        q("endpoint", "S3 endpoint URL (empty for AWS)").optional(),
        q("region", "Region").default("us-east-1"),
        q("bucket", "Bucket"),
        q(
            "access_key",
            "Access key ID (empty: AWS environment or profile)",
        )
        .optional(),
        q("secret_key", "Secret access key").secret().optional(),
        q("path_style", "Path-style addressing (true/false)").default("false"),
        q("prefix", "Prefix inside the bucket").default(""),
    ];
    const AZURE: &[Question] = &[
        q("account", "Storage account").one_of("account or connection_string"),
        q("container", "Container"),
        q("access_key", "Account key").secret().one_of("credential"),
        q("sas", "SAS token").secret().one_of("credential"),
        q("connection_string", "Connection string")
            .secret()
            .one_of("credential"),
        q("endpoint", "Blob endpoint (empty for Azure)").optional(),
        q("prefix", "Prefix inside the container").default(""),
    ];
    const SFTP: &[Question] = &[
        q("host", "SFTP host"),
        q("port", "Port").default("22"),
        q("user", "User"),
        q("password", "Password").secret().one_of("credential"),
        q("key_file", "Private key file").one_of("credential"),
        q("path", "Remote folder").default("/"),
    ];
    const FTP: &[Question] = &[
        q("host", "FTP host"),
        q("port", "Port").default("21"),
        q("user", "User"),
        q("password", "Password").secret(),
        q("path", "Remote folder").default("/"),
        q("tls", "Explicit FTPS (true/false)").default("false"),
    ];
    const LOCAL: &[Question] = &[q("path", "Backup folder")];
    match kind {
        "s3" => S3,
        "azure" => AZURE,
        "sftp" => SFTP,
        "ftp" => FTP,
        "local" => LOCAL,
        _ => &[],
    }
}

/// Other answer keys that are not storage questions.
const OTHER_KEYS: &[&str] = &[
    "config_backup",
    "analytics.mode",
    "analytics.since",
    "analytics.pattern",
    "analytics.prefix",
    "analytics.state_file",
    "become_password",
    "storage.sftp.known_hosts",
    "storage.ftp.ca_file",
    "storage.timeout",
];
const OTHER_SECRETS: &[&str] = &["become_password"];

/// `SETUP_` + key upper-cased, dots to `_`.
pub fn env_name(key: &str) -> String {
    format!("SETUP_{}", key.to_uppercase().replace(['.', '-'], "_"))
}

/// Every key an answers file or `SETUP_*` may give.
pub fn known_keys() -> Vec<String> {
    let mut keys: Vec<String> = vec!["storage.type".into()];
    for t in STORAGE_TYPES {
        keys.extend(
            questions(t)
                .iter()
                .map(|q| format!("storage.{t}.{}", q.field)),
        );
    }
    keys.extend(OTHER_KEYS.iter().map(|s| s.to_string()));
    keys
}

fn is_secret_key(key: &str) -> bool {
    if OTHER_SECRETS.contains(&key) {
        return true;
    }
    let parts: Vec<&str> = key.split('.').collect();
    matches!(parts.as_slice(), ["storage", t, f] if questions(t).iter().any(|q| q.field == *f && q.secret))
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
}

/// A `--set KEY=VALUE`, already split.
#[derive(Clone, Debug)]
pub struct SetArg {
    pub key: String,
    pub value: String,
    pub source: Source,
}

/// Parses `--set` arguments; each malformed one is a diagnostic pointing into the argument.
pub fn parse_sets(raw: &[String], diags: &mut Diagnostics) -> Vec<SetArg> {
    let mut out = Vec::new();
    for (i, arg) in raw.iter().enumerate() {
        let src = Source::new(format!("--set #{}", i + 1), arg.clone());
        let Some((key, value)) = arg.split_once('=') else {
            diags.push(
                Diag::at(
                    "malformed_set",
                    &src,
                    Span::new(0, arg.len()),
                    format!("malformed --set `{arg}`: no `=`"),
                )
                .label("expected KEY=VALUE")
                .help(format!(
                    "write it as `--set {}=VALUE`",
                    if arg.is_empty() { "KEY" } else { arg }
                )),
            );
            continue;
        };
        let valid = !key.is_empty()
            && key.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !valid {
            diags.push(
                Diag::at("malformed_set", &src, Span::new(0, key.len().max(1)), format!("malformed --set `{arg}`: bad key"))
                    .label("not a key")
                    .help("a key is words of letters, digits, `_` or `-`, joined by dots, e.g. `--set storage.type=s3`"),
            );
            continue;
        }
        out.push(SetArg {
            key: key.to_string(),
            value: value.to_string(),
            source: src,
        });
    }
    out
}

/// The answers of one run after every source was read.
#[derive(Clone, Debug, Default)]
pub struct Answers {
    pub values: BTreeMap<String, Answer>,
    /// `--set` keys that are template variables rather than answers.
    pub vars: serde_json::Map<String, J>,
}

pub struct Inputs<'a> {
    pub sets: &'a [SetArg],
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub file: Option<(&'a Source, &'a Node)>,
    pub restore: &'a RestoreSpec,
    pub interactive: bool,
    /// Whether storage questions must be answered (a restore or a listing needs them).
    pub need_storage: bool,
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

    /// Non-secret storage settings of the chosen type, as templates see `storage`.
    pub fn storage_value(&self) -> J {
        let mut m = serde_json::Map::new();
        if let Some(t) = self.storage_type() {
            m.insert("type".into(), J::String(t.clone()));
            for q in questions(&t) {
                if q.secret {
                    continue;
                }
                let v = self
                    .get(&format!("storage.{t}.{}", q.field))
                    .map(|a| a.value.clone())
                    .unwrap_or(J::Null);
                m.insert(q.field.into(), v);
            }
        }
        J::Object(m)
    }

    /// Registers every secret answer with the masker.
    pub fn register_secrets(&self, masker: &Masker) {
        for (k, a) in &self.values {
            if is_secret_key(k) {
                masker.add(&Secret::new(a.text()));
            }
        }
    }

    pub fn resolve(inputs: Inputs, diags: &mut Diagnostics) -> Answers {
        let mut ans = Answers::default();
        let storage_type_from = |entries: &[Entry]| {
            entries
                .iter()
                .find(|e| e.key == "storage.type")
                .map(|e| e.value.clone())
        };
        // restore.yml first (weakest of the files).
        let restore_type = storage_type_from(&inputs.restore.entries);
        if let Some(src) = &inputs.restore.source {
            for e in &inputs.restore.entries {
                let key = normalize(&e.key, restore_type.as_ref());
                ans.values.insert(
                    key,
                    Answer {
                        value: e.value.clone(),
                        origin: Origin::Restore(src.clone(), e.node.span),
                    },
                );
            }
        }
        if let Some((src, node)) = inputs.file {
            let mut entries = Vec::new();
            if let Some(map) = node.as_map() {
                for (k, v) in map {
                    flatten(&k.scalar_text().unwrap_or_default(), v, &mut entries);
                }
            } else if !node.is_null() {
                diags.push(
                    Diag::at(
                        "wrong_type",
                        src,
                        node.span,
                        "the answers file must be a mapping of keys to answers",
                    )
                    .label("not a mapping")
                    .help("write `key: value` lines, e.g. `storage.type: local`"),
                );
            }
            let file_type = storage_type_from(&entries).or(restore_type.clone());
            let known = known_keys();
            for e in entries {
                let key = normalize(&e.key, file_type.as_ref());
                if !known.contains(&key) {
                    let s = did_you_mean(&key, known.iter().map(String::as_str));
                    diags.push(
                        Diag::at(
                            "unknown_key",
                            src,
                            e.node.span,
                            format!("unknown answer key `{}`", e.key),
                        )
                        .label("not a known answer")
                        .help(match s {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "run `setup --help` for the answer keys".to_string(),
                        }),
                    );
                    continue;
                }
                ans.values.insert(
                    key,
                    Answer {
                        value: e.value,
                        origin: Origin::File(src.clone(), e.node.span),
                    },
                );
            }
        }
        for key in known_keys() {
            let name = env_name(&key);
            if let Some(v) = (inputs.env)(&name) {
                ans.values.insert(
                    key,
                    Answer {
                        value: J::String(v),
                        origin: Origin::Env(name),
                    },
                );
            }
        }
        let known = known_keys();
        let set_type = inputs
            .sets
            .iter()
            .rev()
            .find(|s| s.key == "storage.type")
            .map(|s| J::String(s.value.clone()));
        for s in inputs.sets {
            let chosen = set_type
                .clone()
                .or_else(|| ans.values.get("storage.type").map(|a| a.value.clone()));
            let key = normalize(&s.key, chosen.as_ref());
            let answer = Answer {
                value: J::String(s.value.clone()),
                origin: Origin::Set(
                    s.source.clone(),
                    Span::new(s.key.len() + 1, s.source.text.len()),
                ),
            };
            if known.contains(&key) {
                ans.values.insert(key, answer);
            } else if key.starts_with("storage.") {
                let sug = did_you_mean(&key, known.iter().map(String::as_str));
                // An unknown key may be a misspelt secret: its value is never shown back.
                let shown = Source::new(s.source.name.clone(), format!("{}=…", s.key));
                diags.push(
                    Diag::at(
                        "unknown_key",
                        &shown,
                        Span::new(0, s.key.len()),
                        format!("unknown answer key `{}`", s.key),
                    )
                    .label("not a storage answer")
                    .help(sug.map_or(
                        "see DESIGN keys: storage.type and storage.<type>.<field>".to_string(),
                        |x| format!("did you mean `{x}`?"),
                    )),
                );
            } else {
                if key.starts_with("restore.")
                    || key.starts_with("analytics.")
                    || key == "config_backup"
                {
                    let k = key.trim_start_matches("restore.").to_string();
                    ans.values.insert(k, answer.clone());
                }
                insert_dotted(&mut ans.vars, &s.key, J::String(s.value.clone()));
            }
        }
        ans.check_choice(
            "analytics.mode",
            MODES,
            "invalid_mode",
            "analytics mode",
            diags,
        );
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
        if inputs.need_storage && type_ok {
            ans.ask_storage(inputs.interactive, diags);
        }
        ans
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
        let d = match &a.origin {
            Origin::Set(src, span) | Origin::File(src, span) | Origin::Restore(src, span) => {
                Diag::at(code, src, *span, message).label(format!("not a valid {what}"))
            }
            Origin::Env(name) => Diag::plain(code, format!("{message} (from {name})")),
            _ => Diag::plain(code, message),
        };
        diags.push(d.help(help));
        false
    }

    fn ask_storage(&mut self, interactive: bool, diags: &mut Diagnostics) {
        let mut missing: Vec<String> = Vec::new();
        if self.storage_type().is_none() {
            if interactive {
                let pick = dialoguer::Select::new()
                    .with_prompt("Where are the backups stored?")
                    .items([
                        "S3 or S3-compatible (MinIO)",
                        "Azure Blob Storage",
                        "SFTP server",
                        "FTP / FTPS server",
                        "Local or NFS folder",
                    ])
                    .default(0)
                    .interact_opt();
                match pick {
                    Ok(Some(i)) => {
                        self.values.insert(
                            "storage.type".into(),
                            Answer {
                                value: J::String(STORAGE_TYPES[i].into()),
                                origin: Origin::Prompt,
                            },
                        );
                    }
                    _ => {
                        diags.push(
                            Diag::plain("prompt", "no storage type chosen")
                                .help("choose one, or give `--set storage.type=TYPE`"),
                        );
                        return;
                    }
                }
            } else {
                missing.push(missing_line(
                    "storage.type",
                    &format!("one of {}", STORAGE_TYPES.join(", ")),
                ));
            }
        }
        if let Some(t) = self.storage_type() {
            let mut groups: BTreeMap<&str, (bool, Vec<String>)> = BTreeMap::new();
            for q in questions(&t) {
                let key = format!("storage.{t}.{}", q.field);
                if self.values.contains_key(&key) {
                    if let Some(g) = q.one_of {
                        groups.entry(g).or_default().0 = true;
                    }
                    continue;
                }
                if let Some(d) = q.default
                    && !interactive
                {
                    self.values.insert(
                        key,
                        Answer {
                            value: J::String(d.into()),
                            origin: Origin::Default,
                        },
                    );
                    continue;
                }
                if interactive
                    && (!q.optional
                        || q.one_of
                            .is_some_and(|g| !groups.get(g).is_some_and(|x| x.0)))
                {
                    match prompt(q) {
                        Some(v) if !v.is_empty() => {
                            if let Some(g) = q.one_of {
                                groups.entry(g).or_default().0 = true;
                            }
                            self.values.insert(
                                key,
                                Answer {
                                    value: J::String(v),
                                    origin: Origin::Prompt,
                                },
                            );
                        }
                        _ => {
                            if let Some(g) = q.one_of {
                                groups.entry(g).or_default().1.push(key);
                            } else if !q.optional {
                                missing.push(missing_line(&key, q.prompt));
                            }
                        }
                    }
                    continue;
                }
                match q.one_of {
                    Some(g) => groups.entry(g).or_default().1.push(key),
                    None if !q.optional => missing.push(missing_line(&key, q.prompt)),
                    None => {}
                }
            }
            for (g, (answered, keys)) in groups {
                if !answered && !keys.is_empty() {
                    let alts: Vec<String> = keys.iter().map(|k| missing_line(k, "")).collect();
                    missing.push(format!("one {g} of:\n      {}", alts.join("\n      ")));
                }
            }
        }
        if !missing.is_empty() {
            diags.push(
                Diag::plain("missing_answers", format!("{} answer(s) missing, and there is no terminal to ask:\n  - {}", missing.len(), missing.join("\n  - ")))
                    .help("give each with --set KEY=VALUE, its SETUP_* environment variable, or a line in answers.yml"),
            );
        }
    }
}

fn missing_line(key: &str, what: &str) -> String {
    let what = if what.is_empty() {
        String::new()
    } else {
        format!(" ({what})")
    };
    format!(
        "{key}{what}: --set {key}=…, env {}, answers.yml `{key}: …`",
        env_name(key)
    )
}

fn prompt(q: &Question) -> Option<String> {
    if q.secret {
        return dialoguer::Password::new()
            .with_prompt(q.prompt)
            .allow_empty_password(q.optional)
            .interact()
            .ok();
    }
    let mut input = dialoguer::Input::<String>::new()
        .with_prompt(q.prompt)
        .allow_empty(q.optional);
    if let Some(d) = q.default {
        input = input.default(d.to_string());
    }
    input.interact_text().ok()
}

/// `storage.bucket` becomes `storage.s3.bucket` once the type is known.
fn normalize(key: &str, storage_type: Option<&J>) -> String {
    let parts: Vec<&str> = key.split('.').collect();
    if let (["storage", field], Some(J::String(t))) = (parts.as_slice(), storage_type)
        && *field != "type"
        && questions(t).iter().any(|q| q.field == *field)
    {
        return format!("storage.{t}.{field}");
    }
    key.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(
        sets: &[&str],
        env: &[(&str, &str)],
        file: Option<&str>,
        restore: Option<&str>,
    ) -> (Answers, Diagnostics) {
        let mut d = Diagnostics::default();
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        let sets = parse_sets(&sets, &mut d);
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let envf = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let file_src = file.map(|f| Source::new("answers.yml", f));
        let file_node = file.map(|f| crate::yaml::parse(f).unwrap());
        let spec = match restore {
            Some(r) => {
                let src = Source::new("restore.yml", r);
                crate::docs::restore::parse(&src, &crate::yaml::parse(r).unwrap(), &mut d)
            }
            None => RestoreSpec::default(),
        };
        let inputs = Inputs {
            sets: &sets,
            env: &envf,
            file: file_src.as_ref().zip(file_node.as_ref()),
            restore: &spec,
            interactive: false,
            need_storage: true,
        };
        let a = Answers::resolve(inputs, &mut d);
        (a, d)
    }

    #[test]
    fn set_beats_env_beats_file_beats_restore() {
        let restore = "storage: {type: local, path: /r}\n";
        let (a, d) = resolve(&[], &[], Some("storage.local.path: /f\n"), Some(restore));
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(a.text("storage.local.path").unwrap(), "/f");
        let (a, _) = resolve(
            &[],
            &[("SETUP_STORAGE_LOCAL_PATH", "/e")],
            Some("storage.local.path: /f\n"),
            Some(restore),
        );
        assert_eq!(a.text("storage.local.path").unwrap(), "/e");
        let (a, _) = resolve(
            &["storage.local.path=/s"],
            &[("SETUP_STORAGE_LOCAL_PATH", "/e")],
            None,
            Some(restore),
        );
        assert_eq!(a.text("storage.local.path").unwrap(), "/s");
        let (a, _) = resolve(&[], &[], None, Some(restore));
        assert_eq!(a.text("storage.local.path").unwrap(), "/r");
    }

    #[test]
    fn missing_answers_are_all_listed() {
        let (_, d) = resolve(&["storage.type=s3"], &[], None, None);
        assert_eq!(d.list.len(), 1);
        let m = &d.list[0].message;
        assert!(
            m.contains("storage.s3.bucket") && m.contains("SETUP_STORAGE_S3_BUCKET"),
            "{m}"
        );
        assert!(
            !m.contains("storage.s3.region"),
            "defaults are not missing: {m}"
        );
    }

    #[test]
    fn a_misspelt_key_never_echoes_its_value() {
        let (_, d) = resolve(
            &["storage.type=s3", "storage.s3.secert_key=TopSecret-123"],
            &[],
            None,
            None,
        );
        let unknown = d.list.iter().find(|x| x.code == "unknown_key").unwrap();
        let shown = format!("{unknown:?}");
        assert!(unknown.message.contains("storage.s3.secert_key"), "{shown}");
        assert!(!shown.contains("TopSecret-123"), "{shown}");
    }

    #[test]
    fn alternatives_need_one_of_them() {
        let (_, d) = resolve(
            &["storage.type=sftp", "storage.host=h", "storage.user=u"],
            &[],
            None,
            None,
        );
        assert!(
            d.list[0].message.contains("storage.sftp.password"),
            "{:?}",
            d.list
        );
        let (_, d) = resolve(
            &[
                "storage.type=sftp",
                "storage.host=h",
                "storage.user=u",
                "storage.key_file=/k",
            ],
            &[],
            None,
            None,
        );
        assert!(d.is_empty(), "{:?}", d.list);
    }

    #[test]
    fn secrets_are_registered_for_masking() {
        let (a, _) = resolve(
            &[
                "storage.type=ftp",
                "storage.host=h",
                "storage.user=u",
                "storage.password=s3cr3t!",
            ],
            &[],
            None,
            None,
        );
        let m = Masker::default();
        a.register_secrets(&m);
        assert_eq!(m.mask("x s3cr3t! y"), "x ******** y");
        assert!(a.storage_value().get("password").is_none());
    }

    #[test]
    fn malformed_set_is_a_diagnostic() {
        let mut d = Diagnostics::default();
        let v = parse_sets(&["novalue".into(), "=x".into(), "a.b=1".into()], &mut d);
        assert_eq!(d.list.len(), 2);
        assert_eq!(v.len(), 1);
    }
}
