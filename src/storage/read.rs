//! Reading an object through the trait: a small one as text (a sidecar, a manifest), a whole one
//! for its digest, whether a copy is the one it must be, and which targets lack one.

use super::{Storage, StorageError};

/// A small object's text (a sidecar), `None` when there is no such object. Asks for its metadata
/// first: some backends open reads lazily, and a refused login must not read as "not there".
pub async fn read_text(
    storage: &dyn Storage,
    name: &str,
    limit: u64,
) -> Result<Option<String>, StorageError> {
    use tokio::io::AsyncReadExt;
    match storage.stat(name).await {
        Ok(_) => {}
        Err(e) if e.not_found => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut text = String::new();
    let read = storage.get(name, None).await?;
    read.take(limit)
        .read_to_string(&mut text)
        .await
        .map_err(|e| StorageError {
            server: storage.describe(),
            op: "get",
            object: name.to_string(),
            message: e.to_string(),
            not_found: false,
        })?;
    Ok(Some(text))
}

/// The sha256 of an object as the storage gives it now, read whole; none when it cannot be read.
async fn digest_of(storage: &dyn Storage, object: &str) -> Option<String> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let mut r = storage.get(object, None).await.ok()?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match r.read(&mut buf).await.ok()? {
            0 => return Some(hex::encode(hasher.finalize())),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// Why a copy is not the one it must be.
#[derive(Debug, PartialEq)]
pub enum CopyFault {
    /// Read whole, with this other sha256.
    Digest(String),
    /// Not readable to its end.
    Unreadable,
}

impl CopyFault {
    /// The reasons a target's copy is refused, as said when the next target is tried.
    pub const NOT_SIGNED: &str = "its digest is not the signed one";
    pub const UNREADABLE: &str = "it cannot be read whole";

    pub fn why(&self) -> &'static str {
        match self {
            CopyFault::Digest(_) => Self::NOT_SIGNED,
            CopyFault::Unreadable => Self::UNREADABLE,
        }
    }
}

/// Whether the copy of `object` the storage gives is the one whose sha256 is `want`, read whole.
/// A download that failed from a copy found sound here failed for another reason.
pub async fn check_copy(storage: &dyn Storage, object: &str, want: &str) -> Result<(), CopyFault> {
    match digest_of(storage, object).await {
        Some(d) if d == want => Ok(()),
        Some(d) => Err(CopyFault::Digest(d)),
        None => Err(CopyFault::Unreadable),
    }
}

/// The targets (more than one storage only) that lack `object`, or a companion of it, that
/// another target holds: a note each, naming what is missing and where it is. A target that
/// cannot be listed is a note too.
pub async fn lacking(storage: &dyn Storage, object: &str) -> Vec<String> {
    let parts = storage.parts();
    if parts.len() < 2 {
        return Vec::new();
    }
    let wanted = [
        object.to_string(),
        format!("{object}.sha256"),
        format!("{object}.manifest.json"),
        format!("{object}{}", super::SIG_SUFFIX),
    ];
    let mut held = Vec::new();
    let mut notes = Vec::new();
    for (t, s) in &parts {
        match s.list(object).await {
            Ok(found) => {
                let names: Vec<&String> = wanted
                    .iter()
                    .filter(|w| found.iter().any(|o| &o.name == *w))
                    .collect();
                held.push((*t, names));
            }
            Err(e) => notes.push(format!("target {t} cannot be listed: {e}")),
        }
    }
    for (t, names) in &held {
        let missing: Vec<&String> = wanted
            .iter()
            .filter(|w| !names.contains(w))
            .filter(|w| held.iter().any(|(_, other)| other.contains(w)))
            .collect();
        if missing.is_empty() {
            continue;
        }
        let holders: Vec<&str> = held
            .iter()
            .filter(|(o, other)| o != t && missing.iter().any(|m| other.contains(m)))
            .map(|(o, _)| *o)
            .collect();
        let what = if missing.iter().any(|m| *m == object) {
            format!("`{}`", super::shown(object))
        } else {
            format!(
                "{} of `{}`",
                missing
                    .iter()
                    .map(|m| format!("`{}`", super::shown(m)))
                    .collect::<Vec<_>>()
                    .join(", "),
                super::shown(object)
            )
        };
        notes.push(format!(
            "target {t} lacks {what}, which {} {}",
            holders.join(" and "),
            if holders.len() == 1 { "holds" } else { "hold" }
        ));
    }
    notes
}
