//! Storage settings built from the answers: every value parsed, every secret a `Secret`.

use std::time::Duration;

use serde_json::Value as J;

use super::{DEFAULT_TIMEOUT, TIMEOUT_KEY, key, questions};
use crate::answers::Answers;
use crate::diag::Diagnostics;
use crate::secret::Secret;

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

    /// Where the backups are, as one comparable text: two settings that name the same place give
    /// the same text. A local folder is taken from `base` (the folder of the documents).
    pub fn place(&self, base: &std::path::Path) -> String {
        let prefix = |p: &Option<String>| p.as_deref().unwrap_or("").trim_matches('/').to_string();
        match &self.backend {
            Backend::Local { path } => {
                format!("local folder {}", absolute(&base.join(path)).display())
            }
            Backend::S3 {
                endpoint,
                bucket,
                prefix: pre,
                ..
            } => format!(
                "S3 {}/{bucket}/{}",
                endpoint.as_deref().unwrap_or("aws").trim_end_matches('/'),
                prefix(pre)
            ),
            Backend::Azure {
                account,
                container,
                connection_string,
                endpoint,
                prefix: pre,
                ..
            } => {
                // The account and endpoint a connection string names (never its key).
                let from_cs = |field: &str| {
                    connection_string.as_ref().and_then(|cs| {
                        cs.expose().split(';').find_map(|kv| {
                            kv.split_once('=')
                                .filter(|(k, _)| k.eq_ignore_ascii_case(field))
                                .map(|(_, v)| v.to_string())
                        })
                    })
                };
                format!(
                    "Azure {}/{}/{container}/{}",
                    endpoint
                        .clone()
                        .or_else(|| from_cs("BlobEndpoint"))
                        .unwrap_or_default()
                        .trim_end_matches('/'),
                    account
                        .clone()
                        .or_else(|| from_cs("AccountName"))
                        .unwrap_or_default(),
                    prefix(pre)
                )
            }
            Backend::Sftp { server, path, .. } => format!(
                "SFTP {}:{}{}",
                server.host,
                server.port,
                path.trim_end_matches('/')
            ),
            Backend::Ftp { server, path, .. } => format!(
                "FTP {}:{}{}",
                server.host,
                server.port,
                path.trim_end_matches('/')
            ),
        }
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
            self.diags.push(crate::answers::missing(&k, ""));
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

/// `p` as an absolute path with `.` and `..` resolved, links resolved as far as the path exists:
/// two spellings of one folder give one path, whether or not it exists yet.
fn absolute(p: &std::path::Path) -> std::path::PathBuf {
    use std::path::{Component, PathBuf};
    let p = std::env::current_dir().unwrap_or_default().join(p);
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    // The longest part that exists, with its links resolved, then the rest as written.
    let mut head = out.clone();
    let mut rest = Vec::new();
    while !head.exists() {
        match head.file_name() {
            Some(n) => rest.push(n.to_owned()),
            None => return out,
        }
        head.pop();
    }
    let mut real = std::fs::canonicalize(&head).unwrap_or(head);
    for n in rest.iter().rev() {
        real.push(n);
    }
    real
}
