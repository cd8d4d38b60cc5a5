//! Storage settings, typed once: the one place that spells the `storage.<type>.<field>` answer keys.
//! The prompt questions, the known keys, the template view and `storage::open`'s input all come from here.

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
    /// Neither asked nor needed when this field of the same type is answered.
    pub unless: Option<&'static str>,
    /// Asked only when this field of the same type has this value (given or by default).
    pub ask_if: Option<(&'static str, &'static str)>,
    /// An optional question that must be answered once this field of the same type is (an S3
    /// secret key, once its access key is given).
    pub needed_with: Option<&'static str>,
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
        unless: None,
        ask_if: None,
        needed_with: None,
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
    const fn connects(mut self) -> Self {
        self.connects = true;
        self
    }
    const fn credential(mut self) -> Self {
        self.credential = true;
        self
    }
    const fn unless(mut self, field: &'static str) -> Self {
        self.unless = Some(field);
        self
    }
    const fn needed_with(mut self, field: &'static str) -> Self {
        self.needed_with = Some(field);
        self
    }
    const fn ask_if(mut self, field: &'static str, value: &'static str) -> Self {
        self.ask_if = Some((field, value));
        self.optional = true;
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
            .needed_with("access_key")
            .credential(),
        q("path_style", "Path-style addressing (true/false)").default("false"),
        q("prefix", "Prefix inside the bucket").default(""),
    ];
    const AZURE: &[Question] = &[
        // A connection string carries the account, its key and the endpoint: given, those three
        // are not asked.
        q(
            "connection_string",
            "Connection string (empty: give the account and its key instead)",
        )
        .secret()
        .one_of("credential")
        .credential(),
        q("account", "Storage account")
            .unless("connection_string")
            .credential(),
        q("access_key", "Account key (empty: a SAS token instead)")
            .secret()
            .one_of("credential")
            .credential(),
        q("sas", "SAS token")
            .secret()
            .one_of("credential")
            .credential(),
        q("endpoint", "Blob endpoint (empty for Azure)")
            .optional()
            .unless("connection_string")
            .connects(),
        q("container", "Container"),
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
        q(
            "known_hosts",
            "known_hosts file with the server's key (empty: ~/.ssh/known_hosts)",
        )
        .optional()
        .connects(),
    ];
    const FTP: &[Question] = &[
        q("host", "FTP host").connects(),
        q("port", "Port").default("21").connects(),
        q("user", "User").connects().credential(),
        q("password", "Password").secret().connects().credential(),
        q("path", "Remote folder").default("/"),
        q(
            "tls",
            "Explicit FTPS, AUTH TLS (true/false; transfers use passive mode)",
        )
        .default("false")
        .connects(),
        q(
            "ca_file",
            "The server's certificate or its CA, PEM (empty: the system's CAs)",
        )
        .ask_if("tls", "true")
        .connects(),
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

/// One question of a type.
pub fn field(kind: &str, field: &str) -> Option<&'static Question> {
    questions(kind).iter().find(|q| q.field == field)
}

/// Whether a value typed for a field can be right; the message says why not.
pub fn check_value(field: &str, v: &str) -> Result<(), String> {
    let v = v.trim();
    match field {
        "path_style" | "tls" if v != "true" && v != "false" => {
            Err(format!("`{v}` is not true or false"))
        }
        "port" if v.parse::<u16>().map_or(true, |p| p == 0) => {
            Err(format!("`{v}` is not a port number (1 to 65535)"))
        }
        "endpoint" if !v.is_empty() && !v.starts_with("http://") && !v.starts_with("https://") => {
            Err(format!("`{v}` is not a URL (http://… or https://…)"))
        }
        "key_file" | "ca_file" | "known_hosts" if !v.is_empty() => {
            let p = match v.strip_prefix("~/") {
                Some(rest) => std::env::home_dir().unwrap_or_default().join(rest),
                None => std::path::PathBuf::from(v),
            };
            match std::fs::metadata(&p) {
                Ok(m) if m.is_file() => Ok(()),
                Ok(_) => Err(format!("{v} is not a file")),
                Err(e) => Err(format!("{v}: {e}")),
            }
        }
        "host" if v.is_empty() || v.contains(['/', ' ']) => {
            Err(format!("`{v}` is not a host name or address"))
        }
        _ => Ok(()),
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
/// A target's key (`storage.NAME.FIELD`, NAME no type) is secret when the field is a secret of any
/// type: masking one value too many is harmless, one too few is not.
pub fn is_secret(key: &str) -> bool {
    let parts: Vec<&str> = key.split('.').collect();
    let secret_of = |t: &str, f: &str| questions(t).iter().any(|q| q.field == f && q.secret);
    match parts.as_slice() {
        ["storage", t, f] if STORAGE_TYPES.contains(t) => secret_of(t, f),
        ["storage", _, f] => STORAGE_TYPES.iter().any(|t| secret_of(t, f)),
        _ => false,
    }
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

mod settings;
pub use settings::{Backend, Server, SftpLogin, StorageSettings};
