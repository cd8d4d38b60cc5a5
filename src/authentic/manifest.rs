//! A backup's manifest: what the DC says of one stored object, signed beside it. The fields every
//! backup has are typed; the facts a site records about what it backed up (row counts, a file
//! list's digest) and the fields a playbook's `upload: { manifest: … }` adds are `facts`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as J};

/// Bytes and their sha256.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl Digest {
    pub fn new(bytes: u64, sha256: &str) -> Digest {
        Digest {
            bytes: Some(bytes),
            sha256: Some(sha256.to_string()),
        }
    }

    /// The sha256 when it is one (64 hex digits), lower-cased.
    pub fn sha256(&self) -> Option<String> {
        self.sha256
            .as_deref()
            .filter(|d| d.len() == 64 && d.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_ascii_lowercase)
    }
}

/// How the stored bytes are encrypted: to age recipients, or a word (`none`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Encryption {
    Age { age: Vec<String> },
    Named(String),
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Manifest {
    /// The object's name in storage: a manifest copied beside another name is refused.
    #[serde(default)]
    pub object: String,
    /// When it was taken (RFC 3339, UTC).
    #[serde(default)]
    pub created_at: String,
    /// What it is a backup of (`config`, `analytics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_host: Option<String>,
    /// The archive before compression and encryption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plain: Option<Digest>,
    /// The bytes as stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<Digest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<Encryption>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// The DC's backup schedule (UTC) when it was taken, by kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<BTreeMap<String, String>>,
    /// The storage targets that took it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<String>>,
    /// Facts recorded at backup time and fields a playbook added.
    #[serde(flatten)]
    pub facts: Map<String, J>,
}

impl Manifest {
    /// This manifest with more fields: a known one (`kind`, say) replaces its value, any other
    /// joins the facts. Refused when a known field gets a value of the wrong shape.
    pub fn with(self, more: Map<String, J>) -> Result<Manifest, String> {
        let J::Object(mut m) = serde_json::to_value(self).map_err(|e| e.to_string())? else {
            return Err("a manifest is a JSON object".into());
        };
        m.extend(more);
        serde_json::from_value(J::Object(m)).map_err(|e| format!("a manifest field: {e}"))
    }

    /// The text stored and signed.
    pub fn text(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn fact(&self, name: &str) -> Option<&J> {
        self.facts.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_fields_are_typed_and_the_rest_are_facts() {
        let text = r#"{"object": "x.tar", "created_at": "2026-11-20T02:00:00Z", "kind": "config",
            "stored": {"bytes": 3, "sha256": "AB"}, "encryption": "none",
            "tables": {"t": 2}, "files": 4}"#;
        let m: Manifest = serde_json::from_str(text).unwrap();
        assert_eq!(m.kind.as_deref(), Some("config"));
        assert_eq!(m.stored.as_ref().unwrap().bytes, Some(3));
        assert_eq!(m.stored.as_ref().unwrap().sha256(), None, "not a sha256");
        assert_eq!(m.encryption, Some(Encryption::Named("none".into())));
        assert_eq!(m.fact("files"), Some(&J::from(4)));
        let again: Manifest = serde_json::from_str(&m.text()).unwrap();
        assert_eq!(again.fact("tables"), m.fact("tables"));
        let more = Map::from_iter([("kind".to_string(), J::from("analytics"))]);
        assert_eq!(m.with(more).unwrap().kind.as_deref(), Some("analytics"));
        let bad = Map::from_iter([("stored".to_string(), J::from("x"))]);
        assert!(Manifest::default().with(bad).is_err());
    }
}
