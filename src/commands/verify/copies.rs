//! With more than one storage target, every target's copy of a backup, read whole and hashed
//! against the digest it must have: a bad or missing one is named per target.

use crate::storage::{CopyFault, Storage, check_copy};

/// Why a copy is refused, a missing one said as such.
pub(super) async fn fault_of(storage: &dyn Storage, name: &str, fault: &CopyFault) -> &'static str {
    match fault {
        CopyFault::Unreadable if storage.stat(name).await.is_err_and(|e| e.not_found) => {
            "it is missing"
        }
        f => f.why(),
    }
}

/// With more than one storage target, each target whose copy of `name` is not the one whose sha256
/// is `want` (read whole), or that has none: the 3-2-1 promise is that every target holds a sound
/// copy, so a bad copy on one target is reported even when another target's is sound.
pub(super) async fn bad(storage: &dyn Storage, name: &str, want: &str) -> Vec<(String, String)> {
    let parts = storage.parts();
    if parts.len() < 2 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (target, s) in parts {
        if let Err(fault) = check_copy(s, name, want).await {
            let why = match &fault {
                CopyFault::Digest(d) => {
                    format!("{} (it hashes to {d}, it must hash to {want})", fault.why())
                }
                f => fault_of(s, name, f).await.to_string(),
            };
            out.push((target.to_string(), why));
        }
    }
    out
}
