//! Secrets as a type: never shown by Debug or Display, and masked wherever text leaves the process.

use std::fmt;
use std::sync::{Arc, RwLock};

pub const MASK: &str = "********";

#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    /// The value itself, for the one place that must hand it over (stdin, environment).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

/// Every known secret value of a run; masks them in any text.
#[derive(Clone, Default)]
pub struct Masker {
    values: Arc<RwLock<Vec<String>>>,
}

impl Masker {
    pub fn add(&self, secret: &Secret) {
        // Very short values would mask ordinary words; they are still never printed by the type itself.
        if secret.0.len() >= 3 {
            let mut v = self.values.write().expect("masker lock");
            if !v.contains(&secret.0) {
                v.push(secret.0.clone());
                v.sort_by_key(|s| std::cmp::Reverse(s.len()));
            }
        }
    }

    pub fn mask(&self, text: &str) -> String {
        let values = self.values.read().expect("masker lock");
        let mut out = text.to_string();
        for v in values.iter() {
            if out.contains(v.as_str()) {
                out = out.replace(v.as_str(), MASK);
            }
        }
        out
    }

    /// Masks every string inside a JSON value.
    pub fn mask_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value as J;
        match value {
            J::String(s) => J::String(self.mask(s)),
            J::Array(a) => J::Array(a.iter().map(|v| self.mask_json(v)).collect()),
            J::Object(o) => J::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), self.mask_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "******** ********");
        let m = Masker::default();
        m.add(&s);
        assert_eq!(m.mask("pw=hunter2;"), "pw=********;");
    }
}
