//! The answers of a run, from every source; at a terminal, the storage tried as they are given.

use super::{Options, RestoreSpec};
use crate::answers::{self, Answers, Inputs, StorageSettings};
use crate::diag::Diagnostics;
use crate::docs;

/// Resolves the answers from every source; with `need_storage`, the storage settings too.
pub(super) fn resolve_answers(
    o: &Options,
    restore: &RestoreSpec,
    targets: &[crate::docs::targets::TargetSpec],
    need_storage: bool,
    diags: &mut Diagnostics,
) -> (Answers, Option<StorageSettings>, Vec<super::Target>) {
    let answers_doc = if o.answers.wanted() {
        warn_world_readable(&o.answers.path);
        docs::load(&o.answers.path, &o.answers.shown, diags)
    } else {
        None
    };
    let sets = answers::parse_sets(&o.sets, diags);
    let env = |k: &str| std::env::var(k).ok();
    let need_storage = need_storage && diags.is_empty();
    let tryer = |a: &Answers| try_storage(o, a);
    let chosen = super::targets_of::chosen(o, targets, diags);
    let named: Vec<(String, String)> = targets
        .iter()
        .map(|t| (t.name.clone(), t.kind.clone()))
        .collect();
    let listed = super::targets_of::every_listed(o, restore);
    let inputs = Inputs {
        targets: &named,
        listed: &listed,
        sets: &sets,
        env: &env,
        file: answers_doc.as_ref().map(|(s, n)| (s, n)),
        restore,
        interactive: o.interactive,
        need_storage,
        tryer: Some(&tryer),
    };
    let mut answers = Answers::resolve(inputs, diags);
    // The answers' one storage (`storage.type`) wins over a document's list of targets, as every
    // answer wins over restore.yml.
    if need_storage && !chosen.is_empty() && !answers.storage_type_given() {
        let list = if diags.is_empty() {
            super::targets_of::resolve(o, &mut answers, &chosen, Some(&tryer), diags)
        } else {
            Vec::new()
        };
        let first = list.first().map(|t| t.settings.clone());
        return (answers, first, list);
    }
    let storage = if need_storage && diags.is_empty() {
        StorageSettings::from_answers(&answers, diags).map(|s| StorageSettings {
            accept_new_host_keys: o.accept_new_host_keys,
            ..s
        })
    } else {
        None
    };
    (answers, storage, Vec::new())
}

/// At the prompt: the storage tried with the answers given so far, by listing it.
fn try_storage(o: &Options, a: &Answers) -> answers::Tried {
    use answers::Tried;
    let mut diags = Diagnostics::default();
    let Some(settings) = StorageSettings::from_answers(a, &mut diags) else {
        let text: Vec<String> = diags.list.iter().map(|d| d.message.clone()).collect();
        return Tried::Other(text.join("; "));
    };
    let settings = StorageSettings {
        accept_new_host_keys: o.accept_new_host_keys,
        ..settings
    };
    let masker = crate::secret::Masker::default();
    a.register_secrets(&masker);
    let storage = match crate::storage::open(&settings, &o.dir, &masker) {
        Ok(s) => s,
        Err(e) => return Tried::Other(masker.mask(&e)),
    };
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return Tried::Ok;
    };
    let limit = settings.timeout.min(std::time::Duration::from_secs(30));
    let listed = rt.block_on(async { tokio::time::timeout(limit, storage.list("")).await });
    match listed {
        Ok(Ok(objects)) => {
            eprintln!(
                "  {}: reached, {} object(s)",
                crate::storage::shown(&storage.describe()),
                objects.len()
            );
            Tried::Ok
        }
        Ok(Err(e)) => {
            let m = crate::storage::printable(&masker.mask(&e.to_string()));
            if m.contains("refused the credentials") {
                Tried::Credentials(m)
            } else if m.contains("cannot connect") || m.contains("no answer within") {
                Tried::Connection(m)
            } else {
                Tried::Other(m)
            }
        }
        Err(_) => Tried::Connection(format!(
            "{}: no answer within {}s",
            storage.describe(),
            limit.as_secs()
        )),
    }
}

/// A warning when the answers file holds secrets and anyone on the machine may read it.
fn warn_world_readable(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    // A secret answer given a value; a comment that names one is no secret.
    let mut entries = Vec::new();
    if let Ok(node) = crate::yaml::parse(&text) {
        for (k, v) in node.as_map().unwrap_or_default() {
            crate::docs::restore::flatten(&k.scalar_text().unwrap_or_default(), v, &mut entries);
        }
    }
    let holds_secret = entries
        .iter()
        .any(|e| crate::answers::is_secret_key(&e.key) && !e.node.is_null() && e.value != "");
    // Said once, however many times the answers are read.
    static WARNED: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());
    let first = {
        let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
        let new = !warned.iter().any(|p| p == path);
        if new {
            warned.push(path.to_path_buf());
        }
        new
    };
    if first && holds_secret && meta.permissions().mode() & 0o004 != 0 {
        eprintln!(
            "warning: {} holds secrets and is world-readable; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
}

/// A director whose database is reached over the network (`db_host` an address or a name, not a
/// socket folder) logs in with a password: listed with the other missing answers now, not once
/// the database refuses the login. An empty answer says none is needed (a .pgpass, say).
pub(super) fn need_db_password(
    answers: &Answers,
    inventory: &crate::docs::inventory::Inventory,
    diags: &mut Diagnostics,
) {
    let network_db = |h: &crate::docs::inventory::Host| {
        h.vars.contains_key("db_name")
            && h.vars
                .get("db_host")
                .and_then(|v| v.as_str())
                .is_some_and(|v| !v.is_empty() && !v.starts_with('/'))
    };
    if answers.get("db_password").is_none()
        && inventory
            .resolve("director")
            .unwrap_or_default()
            .iter()
            .filter_map(|h| inventory.host(h))
            .any(network_db)
    {
        diags.push(crate::answers::missing(
            "db_password",
            "the director's database password: its db_host is reached over the network; an empty answer when none is needed",
        ));
    }
}
