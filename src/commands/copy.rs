//! `setup standalone copy --from A --to B`: copies to storage target B every backup of target A
//! that B lacks (whole, or a companion of it), to seed a new target or refill a lost one. Each is
//! verified at both ends: its signature on A before a byte is copied, the digest of what was read
//! from A against the signed one, then on B the signature again and the digest of B's copy read
//! back. A backup B already holds is checked too, against A's signed digest: B's object read whole,
//! its sidecar, its manifest and signature; a bad part is replaced from A (and said to be).
//! `--check` only lists what would be copied or replaced. Trusted keys: trusted_signers, else at
//! the DC its own signing key (backup.yml).

use std::collections::BTreeSet;

use crate::diag::Diag;
use crate::failure::Failure;
use crate::options::Options;
use crate::storage::{CopyFault, SIG_SUFFIX, Storage, is_companion, shown};

fn usage(message: String, help: String) -> Failure {
    Failure::invalid(Diag::plain("usage", message).help(help))
}

pub fn run(o: &Options, from: &str, to: &str) -> Result<i32, Failure> {
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
    let (mut copied, mut replaced, mut present, mut failed) = (0, 0, 0, 0);
    for name in on_a.iter().filter(|n| !is_companion(n)) {
        let companions = [
            name.clone(),
            format!("{name}.sha256"),
            format!("{name}.manifest.json"),
            format!("{name}{SIG_SUFFIX}"),
        ];
        // What B's copy holds is checked against A's signed digest: a bad part is written again.
        let (redo, faults) = rt.block_on(bad_on_target(a, b, name, &on_b, &trust));
        let wanted: Vec<String> = companions
            .into_iter()
            .filter(|n| on_a.contains(n) && (!on_b.contains(n) || redo.contains(n)))
            .collect();
        if wanted.is_empty() {
            present += 1;
            continue;
        }
        let why = faults.join("; ");
        if o.check {
            if faults.is_empty() {
                super::say!("  would copy {}: {}", shown(name), wanted.join(", "));
            } else {
                super::say!(
                    "  would replace {} on {to} ({why}): {}",
                    shown(name),
                    wanted.join(", ")
                );
            }
            continue;
        }
        match rt.block_on(copy_one(a, b, name, &wanted, &trust)) {
            Ok(detail) if faults.is_empty() => {
                copied += 1;
                super::say!("  copied  {}: {detail}", shown(name));
            }
            Ok(detail) => {
                replaced += 1;
                super::say!(
                    "  replaced {} on {to}: its copy there was bad ({why}); {detail}",
                    shown(name)
                );
            }
            Err(e) => {
                failed += 1;
                if faults.is_empty() {
                    super::say!("  FAILED  {}: {e}", shown(name));
                } else {
                    super::say!(
                        "  FAILED  {}: its copy on {to} is bad ({why}), and it was not replaced: {e}",
                        shown(name)
                    );
                }
            }
        }
    }
    super::say!(
        "{from} -> {to}: {copied} copied, {replaced} replaced, {present} already on {to}, {failed} failed{}",
        if o.check {
            " (--check: nothing copied)"
        } else {
            ""
        }
    );
    Ok(if failed > 0 { 1 } else { 0 })
}

/// The digest a backup's stored bytes must have: the signed one (the sidecar's, unsigned).
async fn expected_digest(
    s: &dyn Storage,
    name: &str,
    verified: &crate::authentic::Verified,
) -> Result<String, String> {
    match (&verified.stored_sha256, verified.unsigned) {
        (Some(d), false) => Ok(d.clone()),
        _ => crate::storage::read_text(s, &format!("{name}.sha256"), 4096)
            .await
            .map_err(|e| e.to_string())?
            .as_deref()
            .and_then(crate::actions::transfer::parse_digest)
            .ok_or_else(|| {
                "no digest to check the copy against (no signed manifest, no sidecar)".to_string()
            }),
    }
}

/// What of B's copy of backup `name` is wrong, judged against A's copy when A's passes its own
/// check: the object (its digest is not the signed one, or it cannot be read whole), its sidecar
/// (another digest), its manifest and signature (refused). The names to write again, and why.
async fn bad_on_target(
    a: &dyn Storage,
    b: &dyn Storage,
    name: &str,
    on_b: &BTreeSet<String>,
    trust: &crate::authentic::Trust,
) -> (Vec<String>, Vec<String>) {
    let (mut redo, mut why) = (Vec::new(), Vec::new());
    // Nothing on A to judge by: A's own refusal is said when there is something to copy.
    let Ok(verified) = crate::authentic::check(a, name, trust).await else {
        return (redo, why);
    };
    let Ok(expected) = expected_digest(a, name, &verified).await else {
        return (redo, why);
    };
    if on_b.contains(name) {
        match crate::storage::check_copy(b, name, &expected).await {
            Ok(()) => {}
            Err(CopyFault::Digest(d)) => {
                redo.push(name.to_string());
                why.push(format!("it hashes to {d}, not the signed {expected}"));
            }
            Err(CopyFault::Unreadable) => {
                redo.push(name.to_string());
                why.push("it cannot be read whole".into());
            }
        }
    }
    let sidecar = format!("{name}.sha256");
    if on_b.contains(&sidecar) {
        let said = crate::storage::read_text(b, &sidecar, 4096)
            .await
            .ok()
            .flatten()
            .as_deref()
            .and_then(crate::actions::transfer::parse_digest);
        if said.as_deref() != Some(expected.as_str()) {
            redo.push(sidecar.clone());
            why.push(format!(
                "its `{}` does not name the signed digest",
                shown(&sidecar)
            ));
        }
    }
    let (manifest, sig) = (
        format!("{name}.manifest.json"),
        format!("{name}{SIG_SUFFIX}"),
    );
    if on_b.contains(&manifest) || on_b.contains(&sig) {
        let refused = match crate::authentic::check(b, name, trust).await {
            Ok(v) if v.stored_sha256.as_deref().is_some_and(|d| d != expected) => {
                Some("its manifest names another digest".to_string())
            }
            Ok(_) => None,
            // A part B lacks is copied anyway; a refusal for want of it says nothing more.
            Err(_) if !(on_b.contains(&manifest) && on_b.contains(&sig)) => None,
            Err(e) => Some(format!("its signature is refused: {e}")),
        };
        if let Some(w) = refused {
            redo.extend([manifest, sig]);
            why.push(w);
        }
    }
    (redo, why)
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
    let expected = expected_digest(a, name, &verified).await?;
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
