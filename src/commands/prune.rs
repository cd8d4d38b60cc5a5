//! `setup standalone prune`: the backups backup.yml's `retention` no longer keeps are deleted, each
//! with its sidecar, manifest and signature; `--check` lists what would go. Runs after a successful backup.

use crate::failure::Failure;
use crate::gate::Pattern;
use crate::options::Options;
use crate::retention::{self, Retention, Verdict};

/// Whether `name` is exactly a backup's name: `PREFIX` + its stamp or day + `.tar`, `.tar.zst` or
/// `.tar.zst.age`, and nothing else (a report that happens to start with a date is not a snapshot).
fn tar_suffix(rest: &str) -> bool {
    matches!(rest, ".tar" | ".tar.zst" | ".tar.zst.age")
}

fn config_stamp(name: &str) -> bool {
    name.strip_prefix("director-config-").is_some_and(|rest| {
        rest.len() > 16
            && chrono::NaiveDateTime::parse_from_str(&rest[..15], "%Y%m%dT%H%M%S").is_ok()
            && rest.as_bytes()[15] == b'Z'
            && tar_suffix(&rest[16..])
    })
}

fn snapshot_day(pattern: &Pattern, name: &str) -> Option<chrono::NaiveDate> {
    let day = pattern.date_of(name)?;
    let rest = name.strip_prefix(pattern.literal_prefix())?.get(10..)?;
    tar_suffix(rest).then_some(day)
}

/// The trust prune reads backups with: the DC's own signing key (backup.yml `signing_key`).
pub(super) fn own_trust(
    spec: &crate::docs::backup::BackupSpec,
    w: &crate::world::StorageWorld,
) -> Result<crate::authentic::Trust, Failure> {
    let Some((path, _, _)) = &spec.signing_key else {
        return Err(Failure::Other("backup.yml has no signing_key".into()));
    };
    let file = w.dir.join(crate::transport::ssh::expand_home(path));
    let key = crate::authentic::SigningKey::load(
        &file,
        w.answers.secret("signing_key_passphrase").as_ref(),
    )
    .map_err(|e| Failure::invalid(crate::diag::Diag::plain("signing_key", e)))?;
    Ok(crate::authentic::Trust {
        signers: Some(std::sync::Arc::new(key.own())),
        allow_unsigned: false,
        expect_encrypted: false,
        now: chrono::Utc::now(),
        seen: Default::default(),
    })
}

pub fn run(o: &Options) -> Result<i32, Failure> {
    let spec = crate::world::load_backup_only(o)?;
    let (w, storage) = super::open_storage(o)?;
    if spec.retention == Retention::default() {
        super::say!("no `retention` in backup.yml: nothing is pruned");
        return Ok(0);
    }
    let trust = own_trust(&spec, &w)?;
    let rt = super::runtime();
    // With more than one storage target, each keeps what the retention says of its own backups.
    let parts = storage.parts();
    if parts.is_empty() {
        return prune_one(o, &spec, &w, storage.as_ref(), &trust, &rt);
    }
    let mut code = 0;
    for (name, part) in parts {
        super::say!("target {name}:");
        code = code.max(prune_one(o, &spec, &w, part, &trust, &rt)?);
    }
    Ok(code)
}

/// Prunes one storage: 1 when a backup that should go could not be deleted.
fn prune_one(
    o: &Options,
    spec: &crate::docs::backup::BackupSpec,
    w: &crate::world::StorageWorld,
    storage: &dyn crate::storage::Storage,
    trust: &crate::authentic::Trust,
    rt: &tokio::runtime::Runtime,
) -> Result<i32, Failure> {
    let pattern = Pattern::default();
    let names: Vec<String> = rt
        .block_on(storage.list(""))
        .map_err(|e| Failure::Other(e.to_string()))?
        .into_iter()
        .map(|m| m.name)
        .filter(|n| !crate::storage::is_companion(n))
        .collect();
    // Only exact backup names that this DC signed count, and only by their signed time: junk, a
    // forgery or an object dated ahead of the clock neither fills the retention nor is deleted.
    let mut configs = Vec::new();
    let mut days = Vec::new();
    let mut left = Vec::new();
    for n in &names {
        let day = snapshot_day(&pattern, n);
        if !config_stamp(n) && day.is_none() {
            if n.starts_with("director-config-") || pattern.date_of(n).is_some() {
                left.push((n.clone(), "not a backup's name".to_string()));
            }
            continue;
        }
        match rt.block_on(crate::authentic::check(storage, n, trust)) {
            Ok(v) => match (day, v.created_at) {
                (Some(d), _) => days.push((n.clone(), d)),
                (None, Some(t)) => configs.push((n.clone(), t)),
                (None, None) => left.push((n.clone(), "its manifest has no time".into())),
            },
            Err(why) => left.push((n.clone(), format!("not a backup this DC signed: {why}"))),
        }
    }
    for (name, why) in &left {
        super::say!("  left    {}: {why}", crate::storage::shown(name));
    }
    let mut verdicts: Vec<Verdict> = retention::config(&configs, &spec.retention);
    verdicts.extend(retention::analytics(&days, &spec.retention, w.now));
    let mut failed = 0;
    for v in &verdicts {
        if v.keep {
            super::say!("  keep    {}: {}", v.name, v.reason);
            continue;
        }
        if o.check {
            super::say!("  would delete {}: {}", v.name, v.reason);
            continue;
        }
        let mut gone = Ok(());
        for name in [
            format!("{}{}", v.name, crate::storage::SIG_SUFFIX),
            format!("{}.manifest.json", v.name),
            format!("{}.sha256", v.name),
            v.name.clone(),
        ] {
            match rt.block_on(storage.delete(&name)) {
                Err(e) if !e.not_found => gone = Err(e),
                _ => {}
            }
        }
        match gone {
            Ok(()) => super::say!("  deleted {}: {}", v.name, v.reason),
            Err(e) => {
                failed += 1;
                super::say!("  FAILED  {}: {e}", v.name);
            }
        }
    }
    let going = verdicts.iter().filter(|v| !v.keep).count();
    super::say!(
        "{}: {} kept, {going} {}",
        storage.describe(),
        verdicts.len() - going,
        if o.check {
            "would be deleted (--check: nothing deleted)"
        } else {
            "deleted"
        }
    );
    Ok(if failed > 0 { 1 } else { 0 })
}
