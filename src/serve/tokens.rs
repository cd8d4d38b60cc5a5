//! The server's API tokens: kept as sha256 digests in `.setup/serve/tokens.json` (owner-only), never
//! as themselves; `setup serve token add|list|revoke` manages them. `SETUP_SERVE_TOKEN` gives one
//! more, named `env`, for CI and tests.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A token as the file keeps it: its name and digest.
#[derive(Clone, Serialize, Deserialize)]
struct Kept {
    name: String,
    sha256: String,
    #[serde(default)]
    created_at: String,
}

fn file(dir: &Path) -> PathBuf {
    dir.join(".setup").join("serve").join("tokens.json")
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// What identifies one version of the tokens file: a new one (`token add` or `revoke` writes it
/// whole and renames it in) has another inode.
type Version = (PathBuf, u64, u64, Option<std::time::SystemTime>);

/// The tokens file as last read, and which version it was.
static LOADED: std::sync::Mutex<Option<(Version, Vec<Kept>)>> = std::sync::Mutex::new(None);

/// The tokens, read again only when the file changed (one `stat` per request otherwise).
fn read(dir: &Path) -> Vec<Kept> {
    use std::os::unix::fs::MetadataExt;
    let path = file(dir);
    let Ok(meta) = std::fs::metadata(&path) else {
        return Vec::new();
    };
    let version: Version = (path.clone(), meta.ino(), meta.len(), meta.modified().ok());
    let mut loaded = LOADED.lock().expect("tokens");
    if let Some((v, tokens)) = loaded.as_ref()
        && *v == version
    {
        return tokens.clone();
    }
    let tokens: Vec<Kept> = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str::<Vec<Kept>>(&t).ok())
        .unwrap_or_default();
    *loaded = Some((version, tokens.clone()));
    tokens
}

fn write(dir: &Path, tokens: &[Kept]) -> Result<(), String> {
    let path = file(dir);
    std::fs::create_dir_all(path.parent().expect("a folder")).map_err(|e| e.to_string())?;
    // Written whole and renamed: the server, reading each new version it sees, never finds half of it.
    super::edit::replace(
        &path,
        &serde_json::to_string_pretty(tokens).expect("json"),
        true,
    )
    .map_err(|e| format!("{}: {e}", path.display()))
}

/// A new token named `name`: its digest is kept, the token itself is returned once.
pub fn add(dir: &Path, name: &str) -> Result<String, String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        return Err(format!(
            "`{name}` is no token name: use letters, digits and -_.@"
        ));
    }
    let mut tokens = read(dir);
    if tokens.iter().any(|t| t.name == name) {
        return Err(format!(
            "there is a token named `{name}` already: revoke it first"
        ));
    }
    let mut raw = [0u8; 32];
    getrandom(&mut raw)?;
    let token = format!("setup_{}", hex::encode(raw));
    tokens.push(Kept {
        name: name.to_string(),
        sha256: digest(&token),
        created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    write(dir, &tokens)?;
    Ok(token)
}

/// Random bytes from the kernel; an error, never zeros, when it cannot give them.
fn getrandom(buf: &mut [u8]) -> Result<(), String> {
    random_from(Path::new("/dev/urandom"), buf)
}

fn random_from(source: &Path, buf: &mut [u8]) -> Result<(), String> {
    use std::io::Read;
    std::fs::File::open(source)
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|e| format!("no random bytes from {}: {e}", source.display()))
}

/// 32 random bytes as hex, for a session or a CSRF token.
pub fn random_hex() -> Result<String, String> {
    let mut b = [0u8; 32];
    getrandom(&mut b)?;
    Ok(hex::encode(b))
}

pub fn list(dir: &Path) -> Vec<(String, String)> {
    read(dir)
        .into_iter()
        .map(|t| (t.name, t.created_at))
        .collect()
}

pub fn revoke(dir: &Path, name: &str) -> Result<(), String> {
    let mut tokens = read(dir);
    let before = tokens.len();
    tokens.retain(|t| t.name != name);
    if tokens.len() == before {
        return Err(format!("there is no token named `{name}`"));
    }
    write(dir, &tokens)
}

/// The name of the token `presented` is, if it is one.
pub fn who(dir: &Path, presented: &str) -> Option<String> {
    if let Ok(env) = std::env::var("SETUP_SERVE_TOKEN")
        && !env.is_empty()
        && digest(&env) == digest(presented)
    {
        return Some("env".into());
    }
    let d = digest(presented);
    read(dir)
        .into_iter()
        .find(|t| t.sha256 == d)
        .map(|t| t.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_random_source_there_is_no_token_rather_than_a_zero_one() {
        let mut b = [0u8; 32];
        let missing = random_from(Path::new("/nonexistent/urandom"), &mut b);
        assert!(missing.is_err(), "{missing:?}");
        // A source that ends before 32 bytes gives no token either.
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, [7u8; 5]).unwrap();
        assert!(random_from(&short, &mut b).is_err());
        let (a, c) = (random_hex().unwrap(), random_hex().unwrap());
        assert_eq!(a.len(), 64);
        assert_ne!(a, c);
        assert_ne!(a, "0".repeat(64));
    }
}
