//! The signed backups this site has seen, and when it first saw each: the time a key's
//! `valid-after`/`valid-before` is checked against. The signer writes the manifest's `created_at`
//! and so could back-date it past a key's retirement; the time this site first saw a signed
//! manifest is not the signer's to choose. A manifest never seen before is judged at the time of
//! verification, as `ssh-keygen -Y verify` does.
//!
//! The record is `.setup/seen-signatures.jsonl` in the documents' folder, owner-only, one line per
//! manifest (`{"manifest_sha256": HEX, "first_seen": RFC 3339}`), appended to and never rewritten.
//! Retiring a key with `valid-before=` keeps every backup it signed that this site saw before that
//! time; a backup it first sees after it is refused.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Where the record lives in a site's folder.
pub fn record_path(dir: &Path) -> PathBuf {
    dir.join(".setup").join("seen-signatures.jsonl")
}

#[derive(Debug, Default)]
pub struct Seen {
    /// The record's file; `None`: kept in memory only (the DC judging its own backups, tests).
    path: Option<PathBuf>,
    first: Mutex<HashMap<String, DateTime<Utc>>>,
}

/// The sha256 of a manifest's text, as the record names it.
pub fn manifest_digest(manifest: &str) -> String {
    hex::encode(Sha256::digest(manifest.as_bytes()))
}

impl Seen {
    /// The record of the site in `dir`; a line that cannot be read is passed over (the manifest it
    /// named is then judged at the time of verification, which only ever refuses more).
    pub fn load(dir: &Path) -> Seen {
        let path = record_path(dir);
        let mut first = HashMap::new();
        if let Ok(text) = std::fs::read_to_string(&path) {
            for line in text.lines() {
                let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                    continue;
                };
                let (Some(d), Some(at)) = (
                    v["manifest_sha256"].as_str(),
                    v["first_seen"]
                        .as_str()
                        .and_then(|t| DateTime::parse_from_rfc3339(t).ok()),
                ) else {
                    continue;
                };
                let at = at.with_timezone(&Utc);
                first
                    .entry(d.to_string())
                    .and_modify(|t: &mut DateTime<Utc>| *t = (*t).min(at))
                    .or_insert(at);
            }
        }
        Seen {
            path: Some(path),
            first: Mutex::new(first),
        }
    }

    /// The record of the site in `dir`, read but never written: a `--check` writes nothing.
    pub fn read_only(dir: &Path) -> Seen {
        Seen {
            path: None,
            ..Seen::load(dir)
        }
    }

    /// When this site first saw the manifest with this digest.
    pub fn first(&self, digest: &str) -> Option<DateTime<Utc>> {
        self.first.lock().expect("seen").get(digest).copied()
    }

    /// Records that a signed manifest was seen and verified at `now`, unless it was seen before. A
    /// record that cannot be written is a warning: the backup was judged all the same.
    pub fn record(&self, digest: &str, now: DateTime<Utc>) {
        let mut first = self.first.lock().expect("seen");
        if first.contains_key(digest) {
            return;
        }
        first.insert(digest.to_string(), now);
        let Some(path) = &self.path else {
            return;
        };
        let line = serde_json::json!({
            "manifest_sha256": digest,
            "first_seen": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        })
        .to_string();
        if let Err(e) = append_private(path, &line) {
            eprintln!(
                "warning: {} cannot be written ({e}): a key's validity is then judged at the time of each verification",
                path.display()
            );
        }
    }
}

fn append_private(path: &Path, line: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(format!("{line}\n").as_bytes())?;
    f.sync_data()
}
