//! `setup standalone list`: the backups in storage, with their age (from their manifest when they
//! have one) and the RPO.

use serde_json::{Value as J, json};

use crate::failure::Failure;
use crate::options::Options;

/// `setup standalone list`: the backups in storage, with their age.
pub fn run(o: &Options) -> Result<i32, Failure> {
    let (w, storage) = super::open_storage(o)?;
    let objects = super::runtime()
        .block_on(storage.list(""))
        .map_err(|e| Failure::Other(e.to_string()))?;
    let names: std::collections::BTreeSet<String> =
        objects.iter().map(|o| o.name.clone()).collect();
    let now = w.now;
    let mut rows: Vec<J> = Vec::new();
    for o in objects
        .iter()
        .filter(|o| !o.name.ends_with(".sha256") && !o.name.ends_with(".manifest.json"))
    {
        // The time a backup was taken: its manifest's, else the storage's modification time.
        let manifest = format!("{}.manifest.json", o.name);
        let taken = if names.contains(&manifest) {
            super::runtime()
                .block_on(crate::storage::read_text(
                    storage.as_ref(),
                    &manifest,
                    1 << 20,
                ))
                .ok()
                .flatten()
                .and_then(|t| serde_json::from_str::<J>(&t).ok())
                .and_then(|m| m["created_at"].as_str().map(str::to_string))
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| t.with_timezone(&chrono::Utc))
        } else {
            None
        };
        let when = taken.or(o.modified);
        let age = when.map(|m| (now - m).num_seconds().max(0));
        rows.push(json!({"name": o.name, "size": o.size, "modified": o.modified, "taken_at": when, "age_seconds": age, "checksum": names.contains(&format!("{}.sha256", o.name)), "manifest": taken.is_some()}));
    }
    if o.json {
        super::say!(
            "{}",
            serde_json::to_string_pretty(&json!({"storage": storage.describe(), "backups": rows}))
                .expect("json")
        );
        return Ok(0);
    }
    super::say!("{}: {} backups", storage.describe(), rows.len());
    for r in &rows {
        let age = r["age_seconds"].as_i64().map_or("?".into(), human_age);
        super::say!(
            "  {:<50} {:>12} bytes  {:>8} old  {}",
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
    if let Some(newest) = rows.iter().filter_map(|r| r["age_seconds"].as_i64()).min() {
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
