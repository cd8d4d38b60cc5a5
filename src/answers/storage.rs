//! Storage settings, typed once: the one place that spells the `storage.<type>.<field>` answer keys.
//! The prompt questions, the known keys, the template view and `storage::open`'s input all come from here.

use std::time::Duration;

use serde_json::Value as J;

use super::Answers;
use crate::diag::Diagnostics;
use crate::secret::Secret;

pub const STORAGE_TYPES: &[&str] = &["s3", "azure", "sftp", "ftp", "local"];

/// `storage.timeout`: seconds to wait for one exchange with a storage server.
pub const TIMEOUT_KEY: &str = "storage.timeout";
const DEFAULT_TIMEOUT: u64 = 60;

/// One storage answer of one type.
#[derive(Clone, Copy, Debug)]
pub struct Question {
    pub field: &'static str,
    pub prompt: &'static str,
    pub default: Option<&'static str>,
    pub secret: bool,
    /// Questions of one group: at least one of them must be answered.
    pub one_of: Option<&'static str>,
    pub optional: bool,
    /// Asked at the prompt; an unasked field is an expert setting given only as an answer.
    pub asked: bool,
    /// Named when the server cannot be reached.
    pub connects: bool,
    /// Named when the server refuses the login.
    pub credential: bool,
}

const fn q(field: &'static str, prompt: &'static str) -> Question {
    Question {
        field,
        prompt,
        default: None,
        secret: false,
        one_of: None,
        optional: false,
        asked: true,
        connects: false,
        credential: false,
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
    const fn unasked(mut self) -> Self {
        self.asked = false;
        self.optional = true;
        self
    }
    const fn connects(mut self) -> Self {
        self.connects = true;
        self
    }
    const fn credential(mut self) -> Self {
        self.credential = true;
        self
    }
}

/// Every answer of one storage type, in prompt order.
pub fn questions(kind: &str) -> &'static [Question] {
    const S3: &[Question] = &[
        q("endpoint", "S3 endpoint URL (empty for AWS)")
            .optional()
            .connects(),
        q("region", "Region").default("us-east-1"),
        q("bucket", "Bucket"),
        q(
            "access_key",
            "Access key ID (empty: AWS environment or profile)",
        )
        .optional()
        .credential(),
        q("secret_key", "Secret access key")
            .secret()
            .optional()
            .credential(),
        q("path_style", "Path-style addressing (true/false)").default("false"),
        q("prefix", "Prefix inside the bucket").default(""),
    ];
    const AZURE: &[Question] = &[
        q("account", "Storage account")
            .one_of("account or connection_string")
            .credential(),
        q("container", "Container"),
        q("access_key", "Account key")
            .secret()
            .one_of("credential")
            .credential(),
        q("sas", "SAS token")
            .secret()
            .one_of("credential")
            .credential(),
        q("connection_string", "Connection string")
            .secret()
            .one_of("credential")
            .credential(),
        q("endpoint", "Blob endpoint (empty for Azure)")
            .optional()
            .connects(),
        q("prefix", "Prefix inside the container").default(""),
    ];
    const SFTP: &[Question] = &[
        q("host", "SFTP host").connects(),
        q("port", "Port").default("22").connects(),
        q("user", "User").connects().credential(),
        q("password", "Password").secret().one_of("credential"),
        q("key_file", "Private key file")
            .one_of("credential")
            .connects()
            .credential(),
        q("path", "Remote folder").default("/"),
        q("known_hosts", "").unasked(),
    ];
    const FTP: &[Question] = &[
        q("host", "FTP host").connects(),
        q("port", "Port").default("21").connects(),
        q("user", "User").connects().credential(),
        q("password", "Password").secret().connects().credential(),
        q("path", "Remote folder").default("/"),
        q("tls", "Explicit FTPS (true/false)")
            .default("false")
            .connects(),
        q("ca_file", "").unasked(),
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

/// The answer key of a field: `storage.<type>.<field>`.
pub fn key(kind: &str, field: &str) -> String {
    format!("storage.{kind}.{field}")
}

/// Every storage answer key.
pub fn keys() -> impl Iterator<Item = String> {
    std::iter::once("storage.type".to_string())
        .chain(
            STORAGE_TYPES
                .iter()
                .flat_map(|t| questions(t).iter().map(move |q| key(t, q.field))),
        )
        .chain(std::iter::once(TIMEOUT_KEY.to_string()))
}

/// Whether a storage answer key holds a secret.
pub fn is_secret(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    matches!(parts.as_slice(), ["storage", t, f] if questions(t).iter().any(|q| q.field == *f && q.secret))
}

/// The fields templates may read as `storage.<field>`: every asked, non-secret field of any type.
pub fn template_fields() -> impl Iterator<Item = &'static str> {
    STORAGE_TYPES.iter().flat_map(|t| {
        questions(t)
            .iter()
            .filter(|q| q.asked && !q.secret)
            .map(|q| q.field)
    })
}

/// The answer keys to check when `kind`'s server cannot be reached, or refuses the login.
pub fn keys_to_check(kind: &str, credential: bool) -> String {
    questions(kind)
        .iter()
        .filter(|q| if credential { q.credential } else { q.connects })
        .map(|q| key(kind, q.field))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A file server's address and login name.
#[derive(Clone, Debug)]
pub struct Server {
    pub host: String,
    pub port: u16,
    pub user: String,
}

/// How an SFTP server is logged in to.
#[derive(Clone, Debug)]
pub enum SftpLogin {
    Key(String),
    Password(Secret),
}

/// Where the backups are, checked: every value parsed, every secret a `Secret`.
#[derive(Clone, Debug)]
pub enum Backend {
    Local {
        path: String,
    },
    S3 {
        endpoint: Option<String>,
        region: String,
        bucket: String,
        /// Access key and secret; none: the AWS environment and profile.
        keys: Option<(String, Secret)>,
        path_style: bool,
        prefix: Option<String>,
    },
    Azure {
        account: Option<String>,
        container: String,
        access_key: Option<Secret>,
        sas: Option<Secret>,
        connection_string: Option<Secret>,
        endpoint: Option<String>,
        prefix: Option<String>,
    },
    Sftp {
        server: Server,
        login: SftpLogin,
        path: String,
        known_hosts: Option<String>,
    },
    Ftp {
        server: Server,
        password: Secret,
        path: String,
        tls: bool,
        ca_file: Option<String>,
    },
}

#[derive(Clone, Debug)]
pub struct StorageSettings {
    pub backend: Backend,
    /// Longest wait for one exchange with the server.
    pub timeout: Duration,
    /// `--accept-new-host-keys`: an SFTP server never seen before is recorded in known_hosts;
    /// a changed key is still refused.
    pub accept_new_host_keys: bool,
}

impl StorageSettings {
    /// The storage type's name, as `storage.type` spells it.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Local { .. } => "local",
            Backend::S3 { .. } => "s3",
            Backend::Azure { .. } => "azure",
            Backend::Sftp { .. } => "sftp",
            Backend::Ftp { .. } => "ftp",
        }
    }

    /// Builds the settings from resolved answers; each bad value is a diagnostic at the answer that gave it.
    pub fn from_answers(a: &Answers, diags: &mut Diagnostics) -> Option<StorageSettings> {
        let kind = a.storage_type()?;
        let before = diags.list.len();
        let mut r = Reader {
            a,
            kind: &kind,
            diags,
        };
        let timeout = r.seconds();
        let backend = match kind.as_str() {
            "local" => Backend::Local {
                path: r.need("path"),
            },
            "s3" => {
                let access = r.get("access_key");
                let keys = access.map(|k| (k, Secret::new(r.need("secret_key"))));
                Backend::S3 {
                    endpoint: r.get("endpoint"),
                    region: r.get("region").unwrap_or_else(|| "us-east-1".into()),
                    bucket: r.need("bucket"),
                    keys,
                    path_style: r.flag("path_style"),
                    prefix: r.get("prefix"),
                }
            }
            "azure" => Backend::Azure {
                account: r.get("account"),
                container: r.need("container"),
                access_key: r.get("access_key").map(Secret::new),
                sas: r.get("sas").map(Secret::new),
                connection_string: r.get("connection_string").map(Secret::new),
                endpoint: r.get("endpoint"),
                prefix: r.get("prefix"),
            },
            "sftp" => {
                let server = r.server(22);
                // A key wins over a password: the key login goes through the system's ssh.
                let login = match (r.get("key_file"), r.get("password")) {
                    (Some(k), _) => SftpLogin::Key(k),
                    (None, Some(p)) => SftpLogin::Password(Secret::new(p)),
                    (None, None) => SftpLogin::Password(Secret::new(r.need("password"))),
                };
                Backend::Sftp {
                    server,
                    login,
                    path: r.get("path").unwrap_or_else(|| "/".into()),
                    known_hosts: r.get("known_hosts"),
                }
            }
            "ftp" => Backend::Ftp {
                server: r.server(21),
                password: Secret::new(r.get("password").unwrap_or_default()),
                path: r.get("path").unwrap_or_else(|| "/".into()),
                tls: r.flag("tls"),
                ca_file: r.get("ca_file"),
            },
            _ => return None,
        };
        (diags.list.len() == before).then_some(StorageSettings {
            backend,
            timeout,
            accept_new_host_keys: false,
        })
    }

    /// Non-secret settings, as templates see `storage`.
    pub fn template_value(a: &Answers) -> J {
        let mut m = serde_json::Map::new();
        if let Some(t) = a.storage_type() {
            m.insert("type".into(), J::String(t.clone()));
            for q in questions(&t).iter().filter(|q| q.asked && !q.secret) {
                let v = a
                    .get(&key(&t, q.field))
                    .map(|x| x.value.clone())
                    .unwrap_or(J::Null);
                m.insert(q.field.into(), v);
            }
        }
        J::Object(m)
    }
}

/// Reads one type's answers, reporting each bad one where it was given.
struct Reader<'a> {
    a: &'a Answers,
    kind: &'a str,
    diags: &'a mut Diagnostics,
}

impl Reader<'_> {
    fn get(&self, field: &str) -> Option<String> {
        self.a.text(&key(self.kind, field))
    }

    fn need(&mut self, field: &str) -> String {
        let k = key(self.kind, field);
        self.get(field).unwrap_or_else(|| {
            self.diags.push(
                crate::diag::Diag::plain("missing_answers", format!("{k} is not set"))
                    .help(format!("give it with --set {k}=…")),
            );
            String::new()
        })
    }

    fn bad(&mut self, k: &str, message: String, label: &str, help: &str) {
        if let Some(ans) = self.a.get(k) {
            self.diags.push(
                ans.diag("invalid_answer", message, label)
                    .help(help.to_string()),
            );
        }
    }

    fn flag(&mut self, field: &str) -> bool {
        let k = key(self.kind, field);
        match self.get(field).as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                let message = format!("`{k}` is `{other}`, not true or false");
                self.bad(&k, message, "not true or false", "write `true` or `false`");
                false
            }
        }
    }

    fn server(&mut self, default_port: u16) -> Server {
        let k = key(self.kind, "port");
        let port = match self.get("port") {
            None => default_port,
            Some(p) => p.parse().unwrap_or_else(|_| {
                let message = format!("{k} `{p}` is not a port number");
                self.bad(
                    &k,
                    message,
                    "not a port",
                    "a port is a number from 1 to 65535",
                );
                default_port
            }),
        };
        Server {
            host: self.need("host"),
            port,
            user: self.need("user"),
        }
    }

    fn seconds(&mut self) -> Duration {
        let Some(t) = self.a.text(TIMEOUT_KEY) else {
            return Duration::from_secs(DEFAULT_TIMEOUT);
        };
        match t.parse::<u64>() {
            Ok(s) if s > 0 => Duration::from_secs(s),
            _ => {
                let message = format!("{TIMEOUT_KEY} `{t}` is not a number of seconds above 0");
                self.bad(
                    TIMEOUT_KEY,
                    message,
                    "not seconds",
                    "write a whole number of seconds, e.g. 60",
                );
                Duration::from_secs(DEFAULT_TIMEOUT)
            }
        }
    }
}
