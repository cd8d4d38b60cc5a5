//! `--check`'s look at one backup in storage, read-only and without downloading it whole: its
//! signature, its size against the signed manifest, its `.sha256` sidecar against the manifest,
//! and, for an object of up to 64 MiB, its own sha256 against both.

use crate::authentic::{self, Trust};
use crate::storage::Storage;

/// Objects up to this size are read and hashed by `--check`; larger ones are compared by size.
const HASHED_UP_TO: u64 = 64 << 20;

/// Whether `object` (of `size` bytes in storage) can be restored, and what was compared.
pub async fn judge(
    storage: &dyn Storage,
    object: &str,
    size: u64,
    trust: &Trust,
) -> (bool, String) {
    let v = match authentic::check(storage, object, trust).await {
        Ok(v) => v,
        Err(why) => return (false, authentic::refused(object, &why)),
    };
    let sidecar_name = format!("{object}.sha256");
    let sidecar = match crate::storage::read_text(storage, &sidecar_name, 4096).await {
        Ok(t) => t,
        Err(e) => return (false, e.to_string()),
    };
    let sidecar_digest = sidecar
        .as_deref()
        .and_then(crate::actions::transfer::parse_digest);
    if sidecar.is_some() && sidecar_digest.is_none() {
        return (false, format!("`{sidecar_name}` holds no sha256 digest"));
    }
    let manifest_bytes = (v.manifest.as_ref())
        .and_then(|m| m.stored.as_ref())
        .and_then(|d| d.bytes);
    if let Some(b) = manifest_bytes
        && b != size
    {
        return (
            false,
            format!(
                "`{object}` is {size} bytes in storage, and its manifest says {b}: it is not the backup that was taken"
            ),
        );
    }
    if let (Some(s), Some(m)) = (&sidecar_digest, &v.stored_sha256)
        && s != m
    {
        return (
            false,
            format!(
                "`{sidecar_name}` says sha256 {s}, and the manifest says {m}: one of them was changed"
            ),
        );
    }
    let Some(expected) = v.stored_sha256.clone().or(sidecar_digest) else {
        return (
            false,
            format!(
                "`{object}` ({size} bytes) has no manifest and no `{sidecar_name}` beside it: it cannot be verified"
            ),
        );
    };
    let compared = if size <= HASHED_UP_TO {
        match hash(storage, object).await {
            Ok(d) if d == expected => "sha256 matches".to_string(),
            Ok(d) => {
                return (
                    false,
                    format!(
                        "`{object}` has sha256 {d}, not {expected} as recorded beside it: it was changed or cut"
                    ),
                );
            }
            Err(e) => return (false, e),
        }
    } else {
        "size matches (too large to hash without a download)".to_string()
    };
    (
        true,
        format!("`{object}`: {size} bytes, {compared}, {}", v.by()),
    )
}

async fn hash(storage: &dyn Storage, object: &str) -> Result<String, String> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let mut r = storage.get(object, None).await.map_err(|e| e.to_string())?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| format!("reading `{object}`: {e}"))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}
