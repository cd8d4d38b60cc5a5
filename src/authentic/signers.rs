//! The keys a site trusts: OpenSSH's allowed_signers format, as `ssh-keygen -Y verify` reads it
//! (`principals [options] keytype base64 [comment]`; options `namespaces`, `valid-after`,
//! `valid-before`; `cert-authority` lines are not used here).

use chrono::{DateTime, Utc};
use ssh_key::{PublicKey, public::KeyData};

use super::HOW_TO_TRUST;

/// One line of an allowed_signers file.
#[derive(Debug)]
pub(super) struct Signer {
    pub principals: String,
    pub namespaces: Option<Vec<String>>,
    pub valid_after: Option<DateTime<Utc>>,
    pub valid_before: Option<DateTime<Utc>>,
    pub key: KeyData,
}

/// The keys this site trusts, OpenSSH's allowed_signers format (see ssh-keygen(1)).
#[derive(Debug)]
pub struct AllowedSigners {
    pub(super) path: String,
    pub(super) signers: Vec<Signer>,
}

impl AllowedSigners {
    /// One key, trusted for every namespace, named `who`.
    pub fn of_key(who: &str, key: KeyData) -> AllowedSigners {
        AllowedSigners {
            path: who.to_string(),
            signers: vec![Signer {
                principals: who.to_string(),
                namespaces: None,
                valid_after: None,
                valid_before: None,
                key,
            }],
        }
    }

    pub fn load(path: &std::path::Path) -> Result<AllowedSigners, String> {
        let shown = path.display().to_string();
        let meta = std::fs::metadata(path)
            .map_err(|e| format!("trusted_signers: {shown} cannot be read: {e}"))?;
        if !meta.is_file() || meta.len() > 1 << 20 {
            return Err(format!(
                "trusted_signers: {shown} is not an allowed_signers file"
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("trusted_signers: {shown} cannot be read: {e}"))?;
        AllowedSigners::parse(&text, &shown)
    }

    /// Every line read, or the first bad one named; a file with no key trusts nothing and is refused.
    pub fn parse(text: &str, path: &str) -> Result<AllowedSigners, String> {
        let mut signers = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let signer = parse_line(line)
                .map_err(|e| format!("trusted_signers: {path} line {}: {e}", i + 1))?;
            if let Some(s) = signer {
                signers.push(s);
            }
        }
        if signers.is_empty() {
            return Err(format!(
                "trusted_signers: {path} lists no key: {HOW_TO_TRUST}"
            ));
        }
        Ok(AllowedSigners {
            path: path.to_string(),
            signers,
        })
    }
}

/// Splits at the first run of blanks outside double quotes.
fn next_field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start();
    if s.is_empty() {
        return None;
    }
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ' ' | '\t' if !quoted => return Some((&s[..i], &s[i..])),
            _ => {}
        }
    }
    Some((s, ""))
}

fn is_key_type(word: &str) -> bool {
    word.starts_with("ssh-") || word.starts_with("ecdsa-") || word.starts_with("sk-")
}

/// `principals [options] keytype base64 [comment]`; `None` for a certificate authority line, which
/// this reader does not use (backups are signed with plain keys).
fn parse_line(line: &str) -> Result<Option<Signer>, String> {
    let (principals, rest) = next_field(line).ok_or("no principals")?;
    let (mut word, mut rest) = next_field(rest).ok_or("no key after the principals")?;
    let mut namespaces = None;
    let (mut valid_after, mut valid_before) = (None, None);
    if !is_key_type(word) {
        for opt in split_options(word) {
            let (name, value) = match opt.split_once('=') {
                Some((n, v)) => (n.to_ascii_lowercase(), Some(v.trim_matches('"'))),
                None => (opt.to_ascii_lowercase(), None),
            };
            match (name.as_str(), value) {
                ("cert-authority", None) => return Ok(None),
                ("namespaces", Some(v)) => {
                    namespaces = Some(v.split(',').map(|s| s.trim().to_string()).collect())
                }
                ("valid-after", Some(v)) => valid_after = Some(parse_stamp(v)?),
                ("valid-before", Some(v)) => valid_before = Some(parse_stamp(v)?),
                _ => return Err(format!("unknown option `{opt}`")),
            }
        }
        (word, rest) = next_field(rest).ok_or("no key after the options")?;
    }
    let (blob, _) = next_field(rest).ok_or("the key has no base64 part")?;
    let key = PublicKey::from_openssh(&format!("{word} {blob}"))
        .map_err(|e| format!("`{word}` key cannot be read: {e}"))?;
    Ok(Some(Signer {
        principals: principals.to_string(),
        namespaces,
        valid_after,
        valid_before,
        key: key.key_data().clone(),
    }))
}

fn split_options(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// `YYYYMMDD[HHMM[SS]][Z]` as ssh-keygen writes validity times (read as UTC here).
fn parse_stamp(v: &str) -> Result<DateTime<Utc>, String> {
    let digits = v.trim_end_matches(['Z', 'z']);
    let padded = match digits.len() {
        8 => format!("{digits}000000"),
        12 => format!("{digits}00"),
        14 => digits.to_string(),
        _ => return Err(format!("`{v}` is not a time (YYYYMMDD[HHMM[SS]])")),
    };
    chrono::NaiveDateTime::parse_from_str(&padded, "%Y%m%d%H%M%S")
        .map(|t| t.and_utc())
        .map_err(|_| format!("`{v}` is not a time (YYYYMMDD[HHMM[SS]])"))
}

/// A namespace pattern of an allowed_signers line (`*` and `?` wildcards).
pub(super) fn matches(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}
