//! backup.yml, the DC's own document: what to back up, the director's database, who can decrypt,
//! how long to keep. Read strictly, with a diagnostic at each bad value.
//!
//! ```yaml
//! components: [config, analytics]
//! config:
//!   dir: /etc/director                  # its files become the top of the archive
//!   exclude: ["*.tmp", cache]           # tar --exclude patterns
//!   database: { name: director, user: director, host: /run/postgresql, port: 5432 }
//! analytics: { data_dir: /var/lib/analytics }
//! recipients: [age1...]                 # X25519 recipients: who can decrypt the backups
//! signing_key: dc-signing-key            # Ed25519 OpenSSH private key: signs each manifest
//! retention: { daily: 7, weekly: 4, monthly: 6 }
//! schedule: { config: "02:00", analytics: "00:30" }    # every day, UTC
//! storage:                              # where the backups go (see `targets`); else the answers
//!   - { name: store, type: local, path: /srv/backups }
//!   - { name: offsite, type: sftp, host: vault.example, user: dr, path: /backups }
//! ```

use serde_json::{Map, Value as J, json};

use super::schema::Checker;
use crate::diag::{Diagnostics, Source};
use crate::yaml::Node;

const KEYS: &[&str] = &[
    "components",
    "config",
    "analytics",
    "recipients",
    "signing_key",
    "retention",
    "schedule",
    "storage",
];
const SCHEDULE_KEYS: &[&str] = &["config", "analytics"];
/// When each backup runs when backup.yml does not say: the configuration at 02:00 UTC, the day's
/// analytics at 00:30 UTC, once the day is over.
pub const DEFAULT_SCHEDULE: [(&str, &str); 2] = [("config", "02:00"), ("analytics", "00:30")];
const CONFIG_KEYS: &[&str] = &["dir", "exclude", "database"];
const DATABASE_KEYS: &[&str] = &["name", "user", "host", "port"];
const ANALYTICS_KEYS: &[&str] = &["data_dir", "select"];
const RETENTION_KEYS: &[&str] = &["daily", "weekly", "monthly"];

#[derive(Clone, Debug, Default)]
pub struct BackupSpec {
    pub components: Vec<String>,
    /// Public age recipients, checked.
    pub recipients: Vec<String>,
    /// The OpenSSH private key file that signs each manifest, where backup.yml names it (for
    /// diagnostics about the file itself).
    pub signing_key: Option<(String, Source, crate::yaml::Span)>,
    /// When each component is backed up: `HH:MM` UTC, every day.
    pub schedule: Vec<(String, String)>,
    /// How long backups are kept (`prune`).
    pub retention: crate::retention::Retention,
    /// `backup.*` as templates see it.
    pub value: J,
    /// `storage:`: where the backups go, one target or a list (answers name the storage otherwise).
    pub targets: Vec<super::targets::TargetSpec>,
}

pub fn parse(src: &Source, node: &Node, diags: &mut Diagnostics) -> BackupSpec {
    let mut c = Checker::new(src, diags);
    let mut spec = BackupSpec::default();
    let mut value = Map::new();
    if c.map(node, "backup.yml", KEYS).is_none() {
        return spec;
    }
    spec.components = match node.get("components") {
        Some(n) => {
            let list = c.strings(n, "components");
            for (name, item) in &list {
                if !super::restore::COMPONENTS.contains(&name.as_str()) {
                    let d = c.error(
                        "unknown_component",
                        item,
                        format!("unknown component `{name}`"),
                    );
                    d.label = "not a component".into();
                    d.help = Some("components are: config, analytics".into());
                }
            }
            list.into_iter().map(|x| x.0).collect()
        }
        None => vec!["config".into(), "analytics".into()],
    };
    value.insert("components".into(), json!(spec.components));
    let mut config = Map::new();
    if let Some(n) = node.get("config")
        && c.map(n, "config", CONFIG_KEYS).is_some()
    {
        if let Some(d) = n.get("dir").and_then(|d| c.string(d, "config.dir")) {
            config.insert("dir".into(), J::String(d));
        }
        let exclude: Vec<String> = n
            .get("exclude")
            .map(|e| {
                c.strings(e, "config.exclude")
                    .into_iter()
                    .map(|x| x.0)
                    .collect()
            })
            .unwrap_or_default();
        config.insert("exclude".into(), json!(exclude));
        if let Some(db) = n.get("database")
            && c.map(db, "config.database", DATABASE_KEYS).is_some()
        {
            let mut m = Map::new();
            for key in DATABASE_KEYS {
                if let Some(v) = db
                    .get(key)
                    .and_then(|v| c.string(v, &format!("config.database.{key}")))
                {
                    m.insert(key.to_string(), J::String(v));
                }
            }
            config.insert("database".into(), J::Object(m));
        }
    }
    if spec.components.iter().any(|x| x == "config") && !config.contains_key("dir") {
        let d = c.error(
            "missing_key",
            node,
            "backup.yml backs up `config` but has no `config.dir`",
        );
        d.label = "config.dir is missing".into();
        d.help = Some("add `config: { dir: /etc/director }` (the folder to back up)".into());
    }
    value.insert("config".into(), J::Object(config));
    let mut analytics = Map::new();
    if let Some(n) = node.get("analytics")
        && c.map(n, "analytics", ANALYTICS_KEYS).is_some()
        && let Some(d) = n
            .get("data_dir")
            .and_then(|d| c.string(d, "analytics.data_dir"))
    {
        analytics.insert("data_dir".into(), J::String(d));
    }
    // Which files are a day's: those modified that day (the default), or those whose path holds
    // the day's date (`named`: daily indices, `dt=YYYY-MM-DD` partitions).
    let select = node
        .get("analytics")
        .and_then(|n| n.get("select"))
        .and_then(|n| c.string(n, "analytics.select").map(|v| (v, n.clone())));
    match select {
        None => {}
        Some((v, _)) if v == "modified" || v == "named" => {
            analytics.insert("select".into(), J::String(v));
        }
        Some((v, n)) => {
            let d = c.error(
                "invalid_value",
                &n,
                format!("`analytics.select` is `{v}`, not `modified` or `named`"),
            );
            d.label = "not modified or named".into();
            d.help = Some("write `modified` (files changed that day) or `named` (files whose path holds the date)".into());
        }
    }
    if spec.components.iter().any(|x| x == "analytics") && !analytics.contains_key("data_dir") {
        let d = c.error(
            "missing_key",
            node,
            "backup.yml backs up `analytics` but has no `analytics.data_dir`",
        );
        d.label = "analytics.data_dir is missing".into();
        d.help = Some("add `analytics: { data_dir: /var/lib/analytics }`".into());
    }
    value.insert("analytics".into(), J::Object(analytics));
    match node.get("recipients") {
        Some(n) => {
            for (r, item) in c.strings(n, "recipients") {
                match r.trim().parse::<crate::age::Recipient>() {
                    Ok(_) => spec.recipients.push(r),
                    Err(e) => {
                        let d = c.error(
                            "bad_recipient",
                            &item,
                            format!("`{r}` is not an age X25519 recipient: {e}"),
                        );
                        d.label = "not an age recipient".into();
                        d.help =
                            Some("an X25519 public key from `age-keygen`, starting `age1`".into());
                    }
                }
            }
        }
        None => {
            let d = c.error(
                "missing_key",
                node,
                "backup.yml has no `recipients`: backups are always encrypted",
            );
            d.label = "recipients are missing".into();
            d.help = Some("add `recipients: [age1...]`, the public key of the identity the DR site restores with".into());
        }
    }
    value.insert("recipients".into(), json!(spec.recipients));
    match node.get("signing_key") {
        Some(n) => {
            if let Some(path) = c.string(n, "signing_key") {
                spec.signing_key = Some((path, src.clone(), n.span));
            }
        }
        None => {
            let d = c.error(
                "missing_key",
                node,
                "backup.yml has no `signing_key`: backups are always signed, so that the DR site restores only what this site made",
            );
            d.label = "signing_key is missing".into();
            d.help = Some("make a key with `ssh-keygen -t ed25519 -f dc-signing-key`, add `signing_key: dc-signing-key`, and give the DR site dc-signing-key.pub in its allowed_signers file".into());
        }
    }
    let mut retention = Map::new();
    if let Some(n) = node.get("retention")
        && c.map(n, "retention", RETENTION_KEYS).is_some()
    {
        for key in RETENTION_KEYS {
            if let Some(node) = n.get(key)
                && let Some(v) = c.uint(node, &format!("retention.{key}"))
            {
                if v == 0 {
                    let d = c.error(
                        "bad_retention",
                        node,
                        format!("retention.{key} is 0: prune would delete every backup of this kind, the one a DR site needs next among them"),
                    );
                    d.label = "must be at least 1".into();
                    d.help = Some(format!(
                        "keep at least one (`{key}: 1`), or leave `{key}` out so that it does not limit what is kept"
                    ));
                    continue;
                }
                retention.insert(key.to_string(), json!(v));
                let slot = match *key {
                    "daily" => &mut spec.retention.daily,
                    "weekly" => &mut spec.retention.weekly,
                    _ => &mut spec.retention.monthly,
                };
                *slot = Some(v);
            }
        }
    }
    value.insert("retention".into(), J::Object(retention));
    spec.schedule = DEFAULT_SCHEDULE
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if let Some(n) = node.get("schedule")
        && let Some(entries) = c.map(n, "schedule", SCHEDULE_KEYS)
    {
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or_default();
            let Some(text) = c.string(v, &format!("schedule.{key}")) else {
                continue;
            };
            if chrono::NaiveTime::parse_from_str(&text, "%H:%M").is_err() {
                let d = c.error("bad_time", v, format!("`{text}` is not a time of day"));
                d.label = "expected HH:MM (UTC)".into();
                d.help = Some(format!(
                    "write e.g. `schedule: {{ {key}: \"02:00\" }}`: every day at that time, UTC"
                ));
                continue;
            }
            if let Some(slot) = spec.schedule.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = text;
            }
        }
    }
    value.insert(
        "schedule".into(),
        J::Object(
            spec.schedule
                .iter()
                .map(|(k, v)| (k.clone(), J::String(v.clone())))
                .collect(),
        ),
    );
    if let Some(n) = node.get("storage") {
        spec.targets = super::targets::parse(&mut c, n);
    }
    spec.value = J::Object(value);
    spec
}
