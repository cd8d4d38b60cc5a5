//! The site a folder describes, read once: restore.yml, the storage targets its documents list, and
//! every answer from every source, with the storage settings each storage ends up with. Every
//! surface reads the site through [`Site::read`]: a run (`world::load`), a storage command
//! (`load_storage`), `notify-test` (`load_answers`) and the server's settings (`load_site`); what a
//! storage target's settings are, where each comes from and which are secrets is
//! [`Site::target_views`] for all of them.

use std::path::PathBuf;

use serde_json::Value as J;

use super::{Options, PlaybookRef, Target, load_restore, resolve_answers, targets_in};
use crate::answers::storage::{self, Question, questions};
use crate::answers::{Answers, StorageSettings};
use crate::diag::Diagnostics;
use crate::docs::backup::BackupSpec;
use crate::docs::restore::RestoreSpec;
use crate::docs::targets::TargetSpec;

/// What a command reads the site for, which decides which documents and answers it needs.
pub enum Purpose<'a> {
    /// The answers alone: no storage asked for, no target named.
    Answers,
    /// The answers and the storage targets listed, nothing asked: to show and edit the settings.
    Settings,
    /// A storage command (list, verify, prune, copy): the storage settings, asked for when missing.
    Storage,
    /// A playbook's run: a backup writes where backup.yml says, anything else reads where
    /// restore.yml says.
    Run {
        playbook: &'a PlaybookRef,
        backup: &'a BackupSpec,
        need_restore: bool,
        need_storage: bool,
    },
}

/// The site, read once.
pub struct Site {
    pub dir: PathBuf,
    pub restore: RestoreSpec,
    /// The storage targets the documents list for this purpose.
    pub targets: Vec<TargetSpec>,
    pub answers: Answers,
    /// The storage settings when the purpose needs storage: the answers' one storage, else the
    /// first target's.
    pub storage: Option<StorageSettings>,
    /// Each listed target with its settings checked (none when the answers name one storage).
    pub checked: Vec<Target>,
}

/// Where one storage setting's value comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Given {
    /// The document that lists the target.
    Document,
    /// An answer (`--set`, `SETUP_*`, answers.yml, restore.yml or the prompt).
    Answer,
    /// Nobody gave it: its default, or nothing.
    Unset,
}

/// One setting of one storage.
#[derive(Clone, Debug)]
pub struct Setting {
    pub question: &'static Question,
    pub from: Given,
    value: Option<J>,
}

impl Setting {
    /// Its value as it may be shown: a secret that is set is `"set"`, never itself.
    pub fn shown(&self) -> Option<J> {
        match &self.value {
            Some(_) if self.question.secret => Some(J::String("set".into())),
            v => v.clone(),
        }
    }
}

/// A storage target a document lists, with each setting of its type.
#[derive(Clone, Debug)]
pub struct TargetView {
    pub name: String,
    pub kind: String,
    pub settings: Vec<Setting>,
}

impl Site {
    pub fn read(o: &Options, purpose: Purpose<'_>, diags: &mut Diagnostics) -> Site {
        let need_restore = matches!(
            purpose,
            Purpose::Run {
                need_restore: true,
                ..
            }
        );
        let restore = load_restore(o, need_restore, diags);
        let (targets, need_storage) = match purpose {
            Purpose::Answers => (Vec::new(), false),
            Purpose::Settings => (targets_in(o, &restore, None, diags), false),
            Purpose::Storage => (targets_in(o, &restore, None, diags), true),
            Purpose::Run {
                playbook,
                backup,
                need_storage,
                ..
            } => (
                targets_in(o, &restore, Some((playbook, backup)), diags),
                need_storage,
            ),
        };
        let (answers, storage, checked) =
            resolve_answers(o, &restore, &targets, need_storage, diags);
        Site {
            dir: o.dir.clone(),
            restore,
            targets,
            answers,
            storage,
            checked,
        }
    }

    /// Whether the answers name one storage (`storage.type`), which then wins over the targets.
    pub fn uses_targets(&self) -> bool {
        self.answers.storage_type().is_none() && !self.targets.is_empty()
    }

    /// Each storage target the documents list, with every setting of its type and where its value
    /// comes from: the target's answer (`storage.NAME.FIELD`), else its document, else nobody.
    pub fn target_views(&self) -> Vec<TargetView> {
        self.targets
            .iter()
            .map(|t| {
                let settings = questions(&t.kind)
                    .iter()
                    .map(|q| {
                        let key = storage::key(&t.name, q.field);
                        let answered = (self.answers.get(&key)).map(|a| a.value.clone());
                        let written = t.settings.iter().find(|e| e.key == q.field);
                        let (from, value) = match (answered, written) {
                            (Some(v), _) => (Given::Answer, Some(v)),
                            (None, Some(e)) => (Given::Document, Some(e.value.clone())),
                            (None, None) => (Given::Unset, None),
                        };
                        Setting {
                            question: q,
                            from,
                            value,
                        }
                    })
                    .collect();
                TargetView {
                    name: t.name.clone(),
                    kind: t.kind.clone(),
                    settings,
                }
            })
            .collect()
    }

    /// The storage answers that are of no listed target: the one storage's (`type`,
    /// `TYPE.FIELD`) and `timeout`, by their key after `storage.`, a secret as `"set"`.
    pub fn one_storage_answers(&self) -> Vec<(String, J)> {
        let named = |field: &str| {
            let name = field.split('.').next().unwrap_or("");
            self.targets.iter().any(|t| t.name == name)
        };
        self.answers
            .values
            .iter()
            .filter_map(|(key, a)| {
                let field = key.strip_prefix("storage.")?;
                if named(field) {
                    return None;
                }
                let v = if storage::is_secret(key) {
                    J::String("set".into())
                } else {
                    a.value.clone()
                };
                Some((field.to_string(), v))
            })
            .collect()
    }
}
