//! `setup standalone copy --from A --to B`: copies to storage target B every backup of target A
//! that B lacks (whole, or a companion of it), to seed a new target or refill a lost one. Each is
//! verified at both ends: its signature on A before a byte is copied, the digest of what was read
//! from A against the signed one, then on B the signature again and the digest of B's copy read
//! back. `--check` only lists what would be copied. Trusted keys: trusted_signers, else at the DC
//! its own signing key (backup.yml).

use std::collections::BTreeSet;

use crate::diag::Diag;
use crate::failure::Failure;
use crate::options::Options;
use crate::storage::{CopyFault, SIG_SUFFIX, Storage, is_companion, shown};

fn usage(message: String, help: String) -> Failure {
    Failure::invalid(Diag::plain("usage", message).help(help))
}

pub fn run(o: &Options, from: Option<&str>, to: Option<&str>) -> Result<i32, Failure> {
    let (Some(from), Some(to)) = (from, to) else {
        return Err(usage(
            "`copy` needs `--from TARGET --to TARGET`".into(),
            "e.g. `setup standalone copy --from store --to offsite`".into(),
        ));
    };
    if from == to {
        return Err(usage(
            format!("--from and --to are both `{from}`"),
            "copy from one target to another".into(),
        ));
    }
    let (w, storage) = super::open_storage(o)?;
    let parts = storage.parts();
    let names: Vec<&str> = parts.iter().map(|(n, _)| *n).collect();
    let find = |name: &str| {
        parts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| *s)
            .ok_or_else(|| {
                usage(
                    format!("no storage target is named `{name}`"),
                    if names.is_empty() {
                        "list the targets under `storage:` in backup.yml or restore.yml".into()
                    } else {
                        format!("the targets are: {}", names.join(", "))
                    },
                )
            })
    };
    let (a, b) = (find(from)?, find(to)?);
    // At the DR site: trusted_signers; at the DC, with none: the DC's own signing key.
    let given = crate::authentic::Trust::from_answers(&w.answers, &w.dir, o.allow_unsigned)
        .map_err(|e| Failure::invalid(Diag::plain("trusted_signers", e)))?;
    let trust = match given.required() {
        Ok(()) => given,
        Err(_) if w.answers.text("trusted_signers").is_none() && o.backup_file.path.exists() => {
            super::prune::own_trust(&crate::world::load_backup_only(o)?, &w)?
        }
        Err(e) => return Err(Failure::invalid(Diag::plain("trusted_signers", e))),
    };
    let rt = super::runtime();
    let listed = |s: &dyn Storage| -> Result<BTreeSet<String>, Failure> {
        Ok(rt
            .block_on(s.list(""))
            .map_err(|e| Failure::Other(e.to_string()))?
            .into_iter()
            .map(|m| m.name)
            .collect())
    };
    let (on_a, on_b) = (listed(a)?, listed(b)?);
    let (mut copied, mut present, mut failed) = (0, 0, 0);
    for name in on_a.iter().filter(|n| !is_companion(n)) {
        let wanted: Vec<String> = [
            name.clone(),
            format!("{name}.sha256"),
            format!("{name}.manifest.json"),
            format!("{name}{SIG_SUFFIX}"),
        ]
        .into_iter()
        .filter(|n| on_a.contains(n) && !on_b.contains(n))
        .collect();
        if wanted.is_empty() {
            present += 1;
            continue;
        }
        if o.check {
            super::say!("  would copy {}: {}", shown(name), wanted.join(", "));
            continue;
        }
        match rt.block_on(copy_one(a, b, name, &wanted, &trust)) {
            Ok(detail) => {
                copied += 1;
                super::say!("  copied  {}: {detail}", shown(name));
            }
            Err(why) => {
                failed += 1;
                super::say!("  FAILED  {}: {why}", shown(name));
            }
        }
    }
    super::say!(
        "{from} -> {to}: {copied} copied, {present} already on {to}, {failed} failed{}",
        if o.check {
            " (--check: nothing copied)"
        } else {
            ""
        }
    );
    Ok(if failed > 0 { 1 } else { 0 })
}

/// Copies `wanted` (the object and companions B lacks) of backup `name` from A to B, verified.
async fn copy_one(
    a: &dyn Storage,
    b: &dyn Storage,
    name: &str,
    wanted: &[String],
    trust: &crate::authentic::Trust,
) -> Result<String, String> {
    let verified = crate::authentic::check(a, name, trust)
        .await
        .map_err(|why| format!("refused on the source, nothing copied: {why}"))?;
    let expected = match (&verified.stored_sha256, verified.unsigned) {
        (Some(d), false) => d.clone(),
        _ => crate::storage::read_text(a, &format!("{name}.sha256"), 4096)
            .await
            .map_err(|e| e.to_string())?
            .as_deref()
            .and_then(crate::actions::transfer::parse_digest)
            .ok_or("no digest to check the copy against (no signed manifest, no sidecar)")?,
    };
    let mut bytes = None;
    for n in wanted {
        let reader = a.get(n, None).await.map_err(|e| e.to_string())?;
        if n == name {
            let (reader, tally) = crate::actions::transfer::hashing_quiet(reader);
            let put = b.put(n, reader).await;
            let (digest, size) = crate::actions::transfer::finish(&tally);
            if let Err(e) = put {
                let _ = b.delete(n).await;
                return Err(e.to_string());
            }
            if digest != expected {
                let _ = b.delete(n).await;
                return Err(format!(
                    "the source's copy hashes to {digest}, not {expected}: not copied (restore from another target, or take a new backup)"
                ));
            }
            bytes = Some(size);
        } else {
            b.put(n, reader).await.map_err(|e| e.to_string())?;
        }
    }
    // The far end: the signature as a restore would check it, and the copy's digest read back.
    crate::authentic::check(b, name, trust)
        .await
        .map_err(|why| format!("copied, but refused on the target: {why}"))?;
    match crate::storage::check_copy(b, name, &expected).await {
        Ok(()) => {}
        Err(CopyFault::Digest(d)) => {
            return Err(format!("copied, but it reads back as {d}, not {expected}"));
        }
        Err(CopyFault::Unreadable) => return Err("copied, but it cannot be read back".into()),
    }
    Ok(match bytes {
        Some(n) => format!("{n} bytes, sha256 verified on both ends, {}", verified.by()),
        None => format!(
            "{} (the object was there), verified on both ends",
            wanted.join(", ")
        ),
    })
}
