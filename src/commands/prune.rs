//! `setup standalone prune`: the backups backup.yml's `retention` no longer keeps are deleted, each
//! with its sidecar, manifest and signature; `--check` lists what would go. Runs after a successful backup.

use crate::failure::Failure;
use crate::gate::Pattern;
use crate::options::Options;
use crate::retention::{self, Retention, Verdict};

pub fn run(o: &Options) -> Result<i32, Failure> {
    let spec = crate::world::load_backup_only(o)?;
    let (w, storage) = super::open_storage(o)?;
    if spec.retention == Retention::default() {
        super::say!("no `retention` in backup.yml: nothing is pruned");
        return Ok(0);
    }
    let pattern = Pattern::default();
    let rt = super::runtime();
    let names: Vec<String> = rt
        .block_on(storage.list(""))
        .map_err(|e| Failure::Other(e.to_string()))?
        .into_iter()
        .map(|m| m.name)
        .filter(|n| !crate::storage::is_companion(n))
        .collect();
    let configs: Vec<_> = names
        .iter()
        .filter(|n| n.starts_with("director-config-"))
        .filter_map(|n| crate::report::rpo::stamp_in(n).map(|t| (n.clone(), t)))
        .collect();
    let days: Vec<_> = names
        .iter()
        .filter_map(|n| pattern.date_of(n).map(|d| (n.clone(), d)))
        .collect();
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
