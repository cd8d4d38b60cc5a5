//! `setup standalone verify`: every backup a restore would read, its manifest's signature checked
//! against trusted_signers, downloaded to a scratch folder on the controller, its sha256 compared
//! with the signed one (the sidecar's, for an unsigned backup with `--allow-unsigned`), decrypted and decompressed when its name
//! says so, each archive entry checked as the restore checks it, the director's database dump
//! listed with `pg_restore --list`. With more than one storage target, every target's copy is read
//! whole and hashed: a bad or missing one is named per target and fails the run. No host is contacted.

use serde_json::{Value as J, json};
use tokio::io::AsyncWriteExt;

use crate::failure::Failure;
use crate::gate::Pattern;
use crate::options::Options;
use crate::storage::Storage;

mod copies;
mod dump;

struct Verdict {
    name: String,
    ok: bool,
    detail: String,
    /// With more than one storage target: each target whose copy is bad or missing, and why.
    copies: Vec<(String, String)>,
}

pub fn run(o: &Options) -> Result<i32, Failure> {
    let started = chrono::Utc::now();
    let (w, storage) = super::open_storage(o)?;
    let trust = trust(o, &w)?;
    let scratch = w
        .dir
        .join(".setup")
        .join(format!("verify-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| Failure::Other(format!("making {}: {e}", scratch.display())))?;
    let analytics = w.answers.analytics();
    let masker = crate::secret::Masker::default();
    w.answers.register_secrets(&masker);
    let identity = w
        .answers
        .text("age_identity")
        .map(|p| w.dir.join(p).display().to_string());
    let result = super::runtime().block_on(async {
        let mut names = Vec::new();
        // In a DC's folder (backup.yml, no restore.yml) nothing names a configuration backup:
        // the newest one is what a restore would read, so it is the one verified.
        let dc_folder = !o.restore_file.path.exists() && o.backup_file.path.exists();
        let config =
            (w.answers.text("config_backup")).or_else(|| dc_folder.then(|| "latest".to_string()));
        if let Some(c) = config {
            let c = crate::authentic::resolve_config(storage.as_ref(), &c, &trust)
                .await
                .map_err(|e| Failure::Other(e.to_string()))?;
            names.push(c);
        }
        let pattern = Pattern::new(
            &analytics
                .pattern
                .clone()
                .unwrap_or_else(|| crate::gate::DEFAULT_PATTERN.into()),
        )
        .map_err(Failure::Other)?;
        let prefix = analytics
            .prefix
            .clone()
            .unwrap_or_else(|| pattern.literal_prefix().to_string());
        let mut snaps: Vec<String> = storage
            .list(&prefix)
            .await
            .map_err(|e| Failure::Other(e.to_string()))?
            .into_iter()
            .map(|m| m.name)
            .filter(|n| !crate::storage::is_companion(n))
            .filter(|n| pattern.date_of(n).is_some() && crate::gate::safe_name(n))
            .collect();
        snaps.sort();
        // The age of each component's newest trusted backup (max_backup_age), and what vanished.
        let mut components = Vec::new();
        if !names.is_empty() {
            components.push("config".to_string());
        }
        if !snaps.is_empty() {
            components.push("analytics".to_string());
        }
        let mut record = crate::freshness::Remembered::load(&w.dir);
        let fresh = crate::freshness::assess(
            storage.as_ref(),
            &trust,
            &w.answers,
            &components,
            w.now,
            &mut record,
        )
        .await;
        names.extend(snaps);
        // Encrypted backups cannot be checked without the identity that opens them: a missing
        // answer, said before anything is downloaded, not a bad backup.
        if identity.is_none() && names.iter().any(|n| n.ends_with(".age")) {
            return Err(Failure::invalid(crate::answers::missing(
                "age_identity",
                "the age identity file that opens the encrypted backups",
            )));
        }
        let mut out = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let file = scratch.join(format!("object-{i}"));
            let (mut v, expected) =
                verify(storage.as_ref(), name, &file, identity.as_deref(), &trust).await;
            v.detail = masker.mask(&v.detail);
            let _ = std::fs::remove_file(&file);
            if let Some(want) = expected {
                v.copies = copies::bad(storage.as_ref(), name, &want).await;
            }
            if !o.json {
                super::say!(
                    "  {} {}: {}",
                    if v.ok { "ok " } else { "BAD" },
                    crate::storage::shown(name),
                    v.detail
                );
                for (target, why) in &v.copies {
                    super::say!("  BAD on {target}: {}: {why}", crate::storage::shown(name));
                }
            }
            out.push(v);
        }
        Ok::<_, Failure>((out, fresh))
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let (verdicts, fresh) = result?;
    let too_old: Vec<String> = fresh.stale.iter().map(|s| masker.mask(&s.text)).collect();
    let vanished: Vec<String> = fresh.vanished.iter().map(|v| masker.mask(v)).collect();
    let bad: Vec<&Verdict> = verdicts.iter().filter(|v| !v.ok).collect();
    let bad_copies: Vec<String> = verdicts
        .iter()
        .flat_map(|v| {
            v.copies
                .iter()
                .map(|(t, _)| format!("{} on {t}", crate::storage::shown(&v.name)))
        })
        .collect();
    let failed = !bad.is_empty() || !bad_copies.is_empty() || !too_old.is_empty();
    notify(o, &w, &verdicts, (&too_old, &vanished), started);
    // Retries, and storage targets passed over for another.
    let storage_said = storage.retries(None);
    if o.json {
        let rows: Vec<J> = verdicts
            .iter()
            .map(|v| {
                let copies: Vec<J> = v
                    .copies
                    .iter()
                    .map(|(t, why)| json!({"target": t, "detail": why}))
                    .collect();
                json!({"name": v.name, "ok": v.ok, "detail": v.detail, "bad_copies": copies})
            })
            .collect();
        super::say!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"storage": storage.describe(), "backups": rows, "storage_events": storage_said,
                    "too_old": too_old, "vanished": vanished})
            )
            .expect("json")
        );
        return Ok(if failed { 1 } else { 0 });
    }
    for line in &storage_said {
        super::say!("Storage: {line}");
    }
    for line in &vanished {
        super::say!("Storage: {line}");
    }
    for line in &too_old {
        super::say!("TOO OLD: {line}");
    }
    if !fresh.stale.is_empty() {
        super::say!("{}", crate::freshness::stale_advice(&fresh.stale));
    }
    if !bad_copies.is_empty() {
        super::say!(
            "{}: {} copy(ies) on a target are bad or missing: {}",
            storage.describe(),
            bad_copies.len(),
            bad_copies.join(", ")
        );
    }
    if bad.is_empty() && !failed {
        super::say!(
            "{}: {} backup(s) verified, none changed on any host",
            storage.describe(),
            verdicts.len()
        );
    } else if bad.is_empty() {
        let mut why = Vec::new();
        if !bad_copies.is_empty() {
            why.push("a copy on a target is bad or missing (`setup standalone copy` refills it)");
        }
        if !too_old.is_empty() {
            why.push("the newest backup is older than max_backup_age allows");
        }
        super::say!(
            "{}: {} backup(s) read sound, but FAILED: {}",
            storage.describe(),
            verdicts.len(),
            why.join("; ")
        );
    } else {
        super::say!(
            "{}: {} of {} backup(s) are bad: {}",
            storage.describe(),
            bad.len(),
            verdicts.len(),
            bad.iter()
                .map(|v| v.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(if failed { 1 } else { 0 })
}

/// Tells the webhook (`notify.webhook.*`) how the verification went: each bad backup is a failed
/// step named after it, and so is each bad or missing copy on a target (`host` names the target).
fn notify(
    o: &Options,
    w: &crate::world::StorageWorld,
    verdicts: &[Verdict],
    (too_old, vanished): (&[String], &[String]),
    started: chrono::DateTime<chrono::Utc>,
) {
    if crate::pipeline::notify::Webhook::from_answers(&w.answers).is_none() {
        return;
    }
    let mut diags = crate::diag::Diagnostics::default();
    let inventory = crate::world::load_inventory(o, &mut diags);
    let site = crate::pipeline::before::site_in(inventory.hosts.iter().map(|h| &h.vars));
    let stamp =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    use crate::pipeline::notify::{FailedStep, Payload, RollbackNote};
    let failed = |step: &str, host: &str, message: String| FailedStep {
        step: step.into(),
        host: host.into(),
        message,
    };
    let mut steps: Vec<FailedStep> = Vec::new();
    for v in verdicts {
        if !v.ok {
            steps.push(failed("verify", &v.name, v.detail.clone()));
        }
        for (target, why) in &v.copies {
            let message = format!("{}: {why}", crate::storage::shown(&v.name));
            steps.push(failed("verify", target, message));
        }
    }
    for why in too_old {
        steps.push(failed("max_backup_age", "storage", why.clone()));
    }
    let ok = steps.is_empty();
    let payload = Payload {
        run_id: format!("verify-{}", started.format("%Y%m%dT%H%M%SZ")),
        operation: "verify".into(),
        site,
        status: if ok { "done" } else { "failed" }.into(),
        exit_code: if ok { 0 } else { 1 },
        started_at: stamp(started),
        finished_at: stamp(chrono::Utc::now()),
        rto_seconds: None,
        rpo: None,
        failed_steps: steps,
        failed_targets: Vec::new(),
        failed_checks: Vec::new(),
        rollback: RollbackNote::not_run(),
        drill: None,
        storage: vanished.to_vec(),
        report: String::new(),
    };
    // What the mail attaches: the verification as a report of its failed steps.
    let tasks: Vec<J> = payload
        .failed_steps
        .iter()
        .map(|f| json!({"step": f.step, "host": f.host, "status": "failed", "message": f.message}))
        .collect();
    let report = json!({
        "storage": payload.storage,
        "run_id": payload.run_id,
        "status": payload.status,
        "exit_code": payload.exit_code,
        "started_at": payload.started_at,
        "finished_at": payload.finished_at,
        "tasks": tasks,
    });
    let sent = super::runtime().block_on(crate::pipeline::notify::after_run(
        &w.answers, &w.dir, &payload, &report, "",
    ));
    if let Some(warning) = sent {
        eprintln!("warning: {warning}");
    }
}

/// The trust `verify` reads backups with: trusted_signers, or `--allow-unsigned`.
fn trust(o: &Options, w: &crate::world::StorageWorld) -> Result<crate::authentic::Trust, Failure> {
    let t = crate::authentic::Trust::from_answers(&w.answers, &w.dir, o.allow_unsigned)
        .and_then(|t| t.required().map(|_| t))
        .map_err(|e| Failure::invalid(crate::diag::Diag::plain("trusted_signers", e)))?;
    Ok(t)
}

/// Verifies one backup; with more than one storage target, a copy whose digest is not the one it
/// must have, or that cannot be read whole, falls through to the next target that has one. Also
/// the digest each copy must have, once that is known.
async fn verify(
    storage: &dyn Storage,
    name: &str,
    file: &std::path::Path,
    identity: Option<&str>,
    trust: &crate::authentic::Trust,
) -> (Verdict, Option<String>) {
    loop {
        let (v, expected) = verify_once(storage, name, file, identity, trust).await;
        if v.ok || storage.parts().is_empty() {
            return (v, expected);
        }
        let Some(want) = expected.clone() else {
            return (v, expected);
        };
        match crate::storage::check_copy(storage, name, &want).await {
            Err(fault) => {
                let why = copies::fault_of(storage, name, &fault).await;
                if !storage.reject(name, why) {
                    return (v, expected);
                }
            }
            _ => return (v, expected),
        }
    }
}

/// One verification, and the digest the copy must have once that is known.
async fn verify_once(
    storage: &dyn Storage,
    name: &str,
    file: &std::path::Path,
    identity: Option<&str>,
    trust: &crate::authentic::Trust,
) -> (Verdict, Option<String>) {
    let verdict = |ok: bool, detail: String| Verdict {
        name: name.to_string(),
        ok,
        detail,
        copies: Vec::new(),
    };
    let no = |ok: bool, detail: String| (verdict(ok, detail), None);
    if !name
        .trim_end_matches(".age")
        .trim_end_matches(".zst")
        .ends_with(".tar")
    {
        return no(
            false,
            "not a tar archive (.tar, .tar.zst or .tar.zst.age)".into(),
        );
    }
    let authentic = match crate::authentic::check(storage, name, trust).await {
        Ok(v) => v,
        Err(why) => return no(false, format!("refused, nothing downloaded: {why}")),
    };
    let expected = match (&authentic.stored_sha256, authentic.unsigned) {
        (Some(d), false) => d.clone(),
        _ => match crate::storage::read_text(storage, &format!("{name}.sha256"), 4096).await {
            Ok(Some(t)) => t.split_whitespace().next().unwrap_or("").to_lowercase(),
            Ok(None) => return no(false, format!("no `{name}.sha256` beside it")),
            Err(e) => return no(false, e.to_string()),
        },
    };
    let with = |ok: bool, detail: String| (verdict(ok, detail), Some(expected.clone()));
    let whose = if authentic.unsigned {
        "its sidecar"
    } else {
        "its signed manifest"
    };
    let mismatch = |digest: &str| {
        format!("checksum mismatch: the object hashes to {digest}, {whose} says {expected}")
    };
    let Read {
        stored: digest,
        plain,
        entries,
    } = match download(storage, name, file, identity).await {
        Ok(d) => d,
        // A copy that does not open may be a damaged one: its digest is the first thing to say.
        Err(e) => {
            return match crate::storage::check_copy(storage, name, &expected).await {
                Err(crate::storage::CopyFault::Digest(d)) => {
                    with(false, format!("{}, so it cannot be opened", mismatch(&d)))
                }
                _ => with(false, e),
            };
        }
    };
    if digest != expected {
        return with(false, mismatch(&digest));
    }
    let entries = match entries {
        Ok(n) => n,
        Err(e) => return with(false, format!("sha256 verified, but {e}")),
    };
    let mut detail = format!(
        "{}, sha256 verified, {entries} entries checked",
        authentic.by()
    );
    // A signed manifest's plain digest was checked by the signature; an unsigned one is read as is.
    let manifest = match (&authentic.plain_sha256, authentic.unsigned) {
        (Some(want), false) if *want != plain => Err(format!(
            "the decrypted tar hashes to {plain}, its signed manifest says {want}"
        )),
        (Some(_), false) => Ok(true),
        _ => manifest_check(storage, name, &digest, &plain).await,
    };
    match manifest {
        Ok(true) => detail += ", manifest matches",
        Ok(false) => {}
        Err(e) => return with(false, format!("{detail}, but {e}")),
    }
    match dump::listing(file).await {
        Ok(Some(n)) => detail += &format!(", director.dump lists {n} item(s)"),
        Ok(None) => {}
        Err(e) => return with(false, format!("{detail}, but director.dump {e}")),
    }
    (verdict(true, detail), Some(expected))
}

/// The object's manifest, when it has one, against what was read: the stored digest and the plain
/// tar's. True when there is a manifest and it matches.
async fn manifest_check(
    storage: &dyn Storage,
    name: &str,
    stored: &str,
    plain: &str,
) -> Result<bool, String> {
    let manifest = format!("{name}.manifest.json");
    let Some(text) = crate::storage::read_text(storage, &manifest, 1 << 20)
        .await
        .map_err(|e| e.to_string())?
    else {
        return Ok(false);
    };
    let m: J = serde_json::from_str(&text).map_err(|e| format!("{manifest} is not JSON: {e}"))?;
    if m["stored"]["sha256"] != stored {
        return Err(format!(
            "{manifest} names another stored sha256 ({})",
            m["stored"]["sha256"]
        ));
    }
    if m["plain"]["sha256"] != plain {
        return Err(format!(
            "the decrypted tar hashes to {plain}, its manifest says {}",
            m["plain"]["sha256"]
        ));
    }
    Ok(true)
}

/// What reading a backup found: the sha256 of the stored and of the plain bytes, and the number
/// of tar entries, or why the archive is refused.
struct Read {
    stored: String,
    plain: String,
    entries: Result<u64, String>,
}

/// Streams the object's plain tar, read and checked by the restore's own archive reader, into
/// `file` (the archive as that reader understood it, written anew), hashing the stored and the
/// plain bytes on the way.
async fn download(
    storage: &dyn Storage,
    name: &str,
    file: &std::path::Path,
    identity: Option<&str>,
) -> Result<Read, String> {
    use crate::actions::transfer::{finish, hashing_quiet};
    let r = storage.get(name, None).await.map_err(|e| e.to_string())?;
    let (r, stored) = hashing_quiet(r);
    let (r, plain) = hashing_quiet(crate::seal::open(r, name, identity).await?);
    let (mut checked, verdict) = crate::actions::retar::canonical(r, true);
    let mut f = tokio::fs::File::create(file)
        .await
        .map_err(|e| format!("scratch file: {e}"))?;
    let copied = tokio::io::copy(&mut checked, &mut f).await;
    f.flush().await.map_err(|e| format!("scratch file: {e}"))?;
    let v = verdict.lock().expect("verdict");
    let entries = match (&v.refused, copied) {
        (Some(why), _) => Err(why.clone()),
        (None, Err(e)) => Err(format!("it cannot be read to its end: {e}")),
        (None, Ok(_)) => Ok(v.entries),
    };
    Ok(Read {
        stored: finish(&stored).0,
        plain: finish(&plain).0,
        entries,
    })
}
