//! `setup standalone list`: the backups in storage, with their age (from their manifest, else from
//! the date in their name), who signed them (checked against trusted_signers) and the RPO.

use serde_json::{Value as J, json};

use crate::failure::Failure;
use crate::options::Options;

/// What `list` shows and `setup serve` serves: `{"storage", "backups": [...], "unlisted": [...]}`,
/// each backup with when it was taken, its age at the run's clock, who signed it and (with more than
/// one storage target) which targets hold it; each target that cannot be listed in `unlisted`.
/// The answers are read (and at a terminal asked, the storage tried) before any runtime starts.
pub fn listing(o: &Options) -> Result<J, Failure> {
    let (w, storage) = super::open_storage(o)?;
    super::runtime().block_on(listed(&w, storage.as_ref()))
}

async fn listed(
    w: &crate::world::StorageWorld,
    storage: &dyn crate::storage::Storage,
) -> Result<J, Failure> {
    let objects = storage
        .list("")
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    let names: std::collections::BTreeSet<String> =
        objects.iter().map(|o| o.name.clone()).collect();
    let now = w.now;
    // Listing judges no backup: a plain or unsigned one is shown as such, not refused.
    let checked = crate::authentic::Trust::from_answers(&w.answers, &w.dir, false)
        .map_err(|e| Failure::invalid(crate::diag::Diag::plain("trusted_signers", e)))?;
    let trust = crate::authentic::Trust {
        expect_encrypted: false,
        allow_unsigned: checked.signers.is_none(),
        ..checked
    };
    // With more than one storage target: which hold each backup.
    let mut held: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut unlisted: Vec<String> = Vec::new();
    // What a target said goes to the server's answers too: masked like every other output.
    let masker = crate::secret::Masker::default();
    w.answers.register_secrets(&masker);
    for (target, part) in storage.parts() {
        match part.list("").await {
            Ok(found) => {
                for m in found {
                    held.entry(m.name).or_default().push(target.to_string());
                }
            }
            Err(e) => unlisted.push(masker.mask(&format!("target {target} cannot be listed: {e}"))),
        }
    }
    let mut rows: Vec<J> = Vec::new();
    for o in objects
        .iter()
        .filter(|o| !crate::storage::is_companion(&o.name))
    {
        let signed = names.contains(&format!("{}{}", o.name, crate::storage::SIG_SUFFIX));
        let verdict = crate::authentic::check(storage, &o.name, &trust).await;
        let (signer, trusted, refused) = match &verdict {
            Ok(v) if !v.unsigned => (v.signer.clone(), true, None),
            Ok(_) => (None, false, None),
            Err(why) => (None, false, Some(why.clone())),
        };
        let manifest = verdict.as_ref().ok().and_then(|v| v.manifest.clone());
        // The time a backup was taken: its manifest's, else its name's; the storage's
        // modification time says when it was copied there, which is not its age.
        let taken = verdict.as_ref().ok().and_then(|v| v.created_at);
        let when = taken
            .or_else(|| crate::report::rpo::time_in_name(&o.name))
            .or(o.modified);
        // A time ahead of the clock has no age: it is said to be in the future (a wrong clock at
        // the source, or a name made to look newest) and never counts as the newest backup.
        let future = when.is_some_and(|m| m > now);
        let age = when.filter(|_| !future).map(|m| (now - m).num_seconds());
        rows.push(json!({
            "name": crate::storage::shown(&o.name), "size": o.size, "modified": o.modified,
            "taken_at": when, "age_seconds": age, "in_future": future,
            "checksum": names.contains(&format!("{}.sha256", o.name)),
            "manifest": manifest.is_some(), "signed": signed, "signer": signer,
            "trusted": trusted, "refused": refused,
            "checked": trust.signers.is_some(),
        }));
        if !held.is_empty() {
            let row = rows.last_mut().expect("just pushed");
            row["targets"] = held.get(&o.name).cloned().unwrap_or_default().into();
        }
    }
    Ok(json!({"storage": storage.describe(), "backups": rows, "unlisted": unlisted}))
}

/// `setup standalone list`: the backups in storage, with their age.
pub fn run(o: &Options) -> Result<i32, Failure> {
    let listing = listing(o)?;
    if o.json {
        super::say!("{}", serde_json::to_string_pretty(&listing).expect("json"));
        return Ok(0);
    }
    for line in listing["unlisted"].as_array().into_iter().flatten() {
        super::say!("{}", line.as_str().unwrap_or(""));
    }
    let rows: &[J] = listing["backups"].as_array().map_or(&[], Vec::as_slice);
    super::say!(
        "{}: {} backups",
        listing["storage"].as_str().unwrap_or(""),
        rows.len()
    );
    for r in rows {
        let age = match r["age_seconds"].as_i64() {
            Some(s) => format!("{} old", human_age(s)),
            None if r["in_future"] == true => "in the future".to_string(),
            None => "? old".to_string(),
        };
        let who = match (&r["signer"], r["signed"] == true, r["checked"] == true) {
            (J::String(s), _, _) => format!("signed by {s}"),
            (_, false, _) => "unsigned".to_string(),
            (_, true, false) => "signed (not checked: no trusted_signers)".to_string(),
            (_, true, true) => format!(
                "NOT TRUSTED: {}",
                r["refused"]
                    .as_str()
                    .unwrap_or("its signature does not verify")
            ),
        };
        let on = match r["targets"].as_array() {
            Some(t) => format!(
                "  on {}",
                t.iter()
                    .filter_map(J::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => String::new(),
        };
        super::say!(
            "  {:<50} {:>12} bytes  {:>13}  {:<11}  {who}{on}",
            r["name"].as_str().unwrap_or(""),
            r["size"],
            age,
            if r["checksum"] == true {
                "sha256"
            } else {
                "no checksum"
            }
        );
    }
    // The RPO counts only backups that could be restored: trusted ones, when keys are given, and
    // none dated in the future (they have no age).
    if let Some(newest) = rows
        .iter()
        .filter(|r| r["trusted"] == true || r["checked"] == false)
        .filter_map(|r| r["age_seconds"].as_i64())
        .min()
    {
        super::say!("RPO (age of the newest backup): {}", human_age(newest));
    }
    Ok(0)
}

fn human_age(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}
