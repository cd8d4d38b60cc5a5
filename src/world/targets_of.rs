//! The storage targets a document lists (`docs::targets`), each with its settings checked: the
//! document's settings, then the target's answers (`storage.NAME.FIELD`), asked at a terminal or
//! listed as missing. `--storage NAME` keeps one.

use super::Options;
use crate::answers::storage::{TIMEOUT_KEY, key, questions};
use crate::answers::{self, Answer, Answers, Origin, StorageSettings};
use crate::diag::{Diag, Diagnostics};
use crate::docs::targets::TargetSpec;

/// One storage target, checked.
#[derive(Clone, Debug)]
pub struct Target {
    pub name: String,
    pub settings: StorageSettings,
}

/// The storage targets of the operation: a backup's are backup.yml's, a restore's (any other
/// playbook's) restore.yml's; a storage command (list, verify, prune, copy) reads restore.yml's,
/// else backup.yml's (a DC lists, verifies and prunes where it backs up).
pub(super) fn targets_in(
    o: &Options,
    restore: &crate::docs::restore::RestoreSpec,
    run: Option<(&super::PlaybookRef, &crate::docs::backup::BackupSpec)>,
    diags: &mut Diagnostics,
) -> Vec<crate::docs::targets::TargetSpec> {
    let backing_up =
        matches!(run, Some((super::PlaybookRef::Builtin(n), _)) if n == "standalone/backup.yml");
    if !backing_up && !restore.targets.is_empty() {
        return checked(restore.targets.clone(), diags);
    }
    match run {
        // A run's playbook: a backup writes where backup.yml says, a restore reads where
        // restore.yml says (a DR folder may keep the DC's backup.yml beside it).
        Some((_, backup)) if backing_up => checked(backup.targets.clone(), diags),
        Some(_) => Vec::new(),
        None if o.backup_file.path.exists() => {
            let mut own = Diagnostics::default();
            let b = &o.backup_file;
            let spec = crate::docs::load(&b.path, &b.shown, &mut own)
                .map(|(src, node)| crate::docs::backup::parse(&src, &node, &mut own));
            // A backup.yml with mistakes is said where it is the document of the operation.
            let targets = spec.map(|s| s.targets).unwrap_or_default();
            if !targets.is_empty() {
                diags.list.extend(own.list);
            }
            checked(targets, diags)
        }
        None => Vec::new(),
    }
}

/// The targets whose type and settings are sound: a type of storage, settings of that type, and
/// no secret (a secret is an answer, `storage.NAME.FIELD`). Each mistake is a diagnostic.
fn checked(specs: Vec<TargetSpec>, diags: &mut Diagnostics) -> Vec<TargetSpec> {
    let types = crate::answers::STORAGE_TYPES;
    let mut out = Vec::new();
    for t in specs {
        if !types.contains(&t.kind.as_str()) {
            let help = match crate::diag::did_you_mean(&t.kind, types.iter().copied()) {
                Some(s) => format!("did you mean `{s}`? types: {}", types.join(", ")),
                None => format!("types: {}", types.join(", ")),
            };
            diags.push(
                Diag::at(
                    "unknown_storage_type",
                    &t.source,
                    t.kind_node.span,
                    format!("unknown storage type `{}`", t.kind),
                )
                .label("not a storage type")
                .help(help),
            );
            continue;
        }
        let mut sound = true;
        for e in &t.settings {
            let Some(q) = questions(&t.kind).iter().find(|q| q.field == e.key) else {
                let fields: Vec<&str> = questions(&t.kind).iter().map(|q| q.field).collect();
                let help = match crate::diag::did_you_mean(&e.key, fields.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("settings of {}: {}", t.kind, fields.join(", ")),
                };
                diags.push(
                    Diag::at(
                        "unknown_key",
                        &t.source,
                        e.node.span,
                        format!("`{}` is no setting of a {} target", e.key, t.kind),
                    )
                    .label("not a setting")
                    .help(help),
                );
                sound = false;
                continue;
            };
            if q.secret {
                // The value is never shown: the label points at it, the message names the key.
                diags.push(
                    Diag::at(
                        "secret_in_document",
                        &t.source,
                        e.node.span,
                        format!("`{}` is a secret: it is no setting of the document", e.key),
                    )
                    .label("a secret here")
                    .help(format!(
                        "give it as the answer `storage.{n}.{k}` (answers.yml, kept owner-only, or {})",
                        crate::answers::env_name(&key(&t.name, &e.key)),
                        n = t.name,
                        k = e.key
                    )),
                );
                sound = false;
            }
        }
        if sound {
            out.push(t);
        }
    }
    out
}

/// The storage targets the folder's documents list (restore.yml's, else backup.yml's), checked,
/// for showing: no answer is read.
pub fn listed(o: &Options) -> Vec<TargetSpec> {
    let mut diags = Diagnostics::default();
    let restore = super::load_restore(o, false, &mut diags);
    targets_in(o, &restore, None, &mut diags)
}

/// Every storage target the folder's documents list, restore.yml's and backup.yml's, as (name,
/// type), whichever the command uses: their answers (`storage.NAME.FIELD`) are known keys for every
/// command. Mistakes in the lists are said where a list is used, not here.
pub(super) fn every_listed(
    o: &Options,
    restore: &crate::docs::restore::RestoreSpec,
) -> Vec<(String, String)> {
    let mut own = Diagnostics::default();
    // restore.yml is read by every command when it is there (`load_restore`).
    let mut specs = restore.targets.clone();
    if o.backup_file.wanted() {
        let b = &o.backup_file;
        if let Some((src, node)) = crate::docs::load(&b.path, &b.shown, &mut own) {
            specs.extend(crate::docs::backup::parse(&src, &node, &mut own).targets);
        }
    }
    specs
        .into_iter()
        .filter(|t| crate::answers::STORAGE_TYPES.contains(&t.kind.as_str()))
        .map(|t| (t.name, t.kind))
        .collect()
}

/// The targets to use: every one listed, or the one `--storage` names.
pub fn chosen<'a>(
    o: &Options,
    specs: &'a [TargetSpec],
    diags: &mut Diagnostics,
) -> Vec<&'a TargetSpec> {
    let Some(name) = &o.storage_target else {
        return specs.iter().collect();
    };
    if let Some(t) = specs.iter().find(|t| &t.name == name) {
        return vec![t];
    }
    let names: Vec<&str> = specs.iter().map(|t| t.name.as_str()).collect();
    diags.push(
        Diag::plain(
            "unknown_target",
            if names.is_empty() {
                format!("--storage {name}: no document here lists storage targets")
            } else {
                format!("--storage {name}: no storage target has that name")
            },
        )
        .help(if names.is_empty() {
            "list them under `storage:` in backup.yml or restore.yml, or leave --storage out".into()
        } else {
            format!("the targets are: {}", names.join(", "))
        }),
    );
    Vec::new()
}

/// Each target's settings; the answers each target was given at the prompt join `answers` under
/// its own keys (so that its secrets are masked like any other).
pub fn resolve(
    o: &Options,
    answers: &mut Answers,
    specs: &[&TargetSpec],
    tryer: Option<answers::Tryer>,
    diags: &mut Diagnostics,
) -> Vec<super::Target> {
    let mut out = Vec::new();
    for spec in specs {
        let kind = spec.kind.as_str();
        let mut view = Answers::default();
        view.values.insert(
            "storage.type".into(),
            Answer {
                value: kind.into(),
                origin: Origin::Restore(spec.source.clone(), spec.node.span),
            },
        );
        if let Some(t) = answers.get(TIMEOUT_KEY) {
            view.values.insert(TIMEOUT_KEY.into(), t.clone());
        }
        for e in &spec.settings {
            view.values.insert(
                key(kind, &e.key),
                Answer {
                    value: e.value.clone(),
                    origin: Origin::Restore(spec.source.clone(), e.node.span),
                },
            );
        }
        for q in questions(kind) {
            if let Some(a) = answers.get(&key(&spec.name, q.field)) {
                view.values.insert(key(kind, q.field), a.clone());
            }
        }
        let before = diags.list.len();
        answers::ask_target(&mut view, &spec.name, o.interactive, tryer, diags);
        for q in questions(kind) {
            if let Some(a) = view.values.get(&key(kind, q.field))
                && matches!(a.origin, Origin::Prompt)
            {
                answers.values.insert(key(&spec.name, q.field), a.clone());
            }
        }
        if diags.list.len() > before {
            continue;
        }
        // Said of the target's own keys (`storage.NAME.FIELD`), not of its type's.
        let mut own = Diagnostics::default();
        let settings = StorageSettings::from_answers(&view, &mut own);
        answers::said_of_target(own, kind, &spec.name, diags);
        if let Some(settings) = settings {
            out.push(super::Target {
                name: spec.name.clone(),
                settings: StorageSettings {
                    accept_new_host_keys: o.accept_new_host_keys,
                    ..settings
                },
            });
        }
    }
    out
}
