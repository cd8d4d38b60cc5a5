//! The site a folder describes, read once: restore.yml, the storage targets its documents list, and
//! every answer from every source, with the storage settings each storage ends up with. Every
//! surface reads the site through [`Site::read`]: a run (`world::load`), a storage command
//! (`load_storage`), `notify-test` (`load_answers`) and the server's settings (`load_site`).

use std::path::PathBuf;

use super::{Options, PlaybookRef, Target, load_restore, resolve_answers, targets_in};
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
}
