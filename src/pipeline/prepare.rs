//! What every task of a run shares, built from the loaded world before anything runs.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value as J;

use crate::context::{CONTROLLER, Vars, controller_host};
use crate::failure::Failure;
use crate::options::Options;
use crate::report::events::Events;
use crate::report::journal;
use crate::secret::Masker;
use crate::task::{Dirs, RunShared};
use crate::world::World;

/// Builds what tasks share; touches no host.
pub fn shared(
    o: &Options,
    w: &World,
    events: Events,
    resume: journal::Done,
) -> Result<RunShared, Failure> {
    let masker = Masker::default();
    w.answers.register_secrets(&masker);
    let mut vars = Vars::new(&w.inventory, &w.playbook, &w.restore, &w.answers, &w.run);
    vars.set("backup", w.backup.value.clone());
    let mut hosts: HashMap<String, crate::docs::inventory::Host> = w
        .inventory
        .hosts
        .iter()
        .map(|h| (h.name.clone(), h.clone()))
        .collect();
    hosts
        .entry(CONTROLLER.into())
        .or_insert_with(controller_host);
    let mut base = HashMap::new();
    let mut transports = HashMap::new();
    let ssh = crate::transport::ssh::SshOptions {
        connect_timeout: o.connect_timeout,
        accept_new_host_keys: o.accept_new_host_keys,
        known_hosts: None,
        control_dir: std::env::temp_dir(),
        tag: crate::transport::run_tag(&w.run.id),
        connecting: Arc::new(tokio::sync::Semaphore::new(o.connect_limit)),
    };
    let used: std::collections::BTreeSet<&str> = w
        .plan
        .main
        .tasks
        .iter()
        .chain(&w.plan.rollback.tasks)
        .map(|t| t.host.as_str())
        .collect();
    for name in used {
        let host = &hosts[name];
        base.insert(
            name.to_string(),
            vars.host_json(host, &w.templates).map_err(|e| {
                Failure::Other(format!(
                    "variables of {name}: {}",
                    crate::template::error_text(&e)
                ))
            })?,
        );
        transports.insert(
            name.to_string(),
            crate::transport::for_host(host, &w.dir, &ssh),
        );
    }
    let storage = match &w.storage {
        Some(settings) => Some(Arc::from(open_configured(
            settings, &w.targets, &w.dir, &masker,
        )?)),
        None => None,
    };
    let templates_dir = w.dir.join("templates");
    Ok(RunShared {
        hosts,
        base,
        hostvars: crate::template::Templates::context(&J::Object(
            w.inventory
                .hosts
                .iter()
                .map(|h| (h.name.clone(), J::Object(h.vars.clone())))
                .collect(),
        )),
        groups: crate::template::Templates::context(&w.inventory.groups_json()),
        secrets: w.answers.secrets_value(),
        templates: crate::template::Templates::new(),
        masker,
        events,
        storage,
        transports,
        run: w.run.clone(),
        dirs: Dirs {
            base: w.dir.clone(),
            playbook_dir: w.playbook_dir.clone(),
            templates: templates_dir
                .is_dir()
                .then_some(templates_dir)
                .or_else(|| o.playbooks.as_ref().map(|p| p.join("../templates"))),
        },
        analytics: w.answers.analytics(),
        become_password: w.answers.secret("become_password"),
        db_password: w.answers.secret("db_password"),
        // A relative identity path is taken from the folder of the documents, like a local storage.
        age_identity: w
            .answers
            .secret("age_identity")
            .map(|p| crate::secret::Secret::new(w.dir.join(p.expose()).display().to_string())),
        trust: w.trust.clone(),
        signing_key: w.signing_key.clone(),
        recipients: w.backup.recipients.clone(),
        schedule: w.backup.schedule.clone(),
        lock_timeout: o.connect_timeout,
        undo: Default::default(),
        registered: Default::default(),
        resume,
        destructive_started: Default::default(),
    })
}

/// Opens the storage a run is configured with: every target a document lists, else the one
/// storage the answers name.
pub fn open_configured(
    settings: &crate::answers::StorageSettings,
    targets: &[crate::world::Target],
    dir: &std::path::Path,
    masker: &Masker,
) -> Result<Box<dyn crate::storage::Storage>, Failure> {
    if targets.is_empty() {
        open_storage(settings, dir, masker)
    } else {
        open_targets(targets, dir, masker)
    }
}

/// Opens every storage target, as one storage that writes to all and reads from the first that
/// has a sound copy (`storage::targets`).
pub fn open_targets(
    targets: &[crate::world::Target],
    dir: &std::path::Path,
    masker: &Masker,
) -> Result<Box<dyn crate::storage::Storage>, Failure> {
    let mut each = Vec::new();
    for t in targets {
        let s = open_storage(&t.settings, dir, masker).map_err(|f| match f {
            Failure::Invalid(mut i) => {
                for d in &mut i.0 {
                    d.message = format!("storage target {}: {}", t.name, d.message);
                }
                Failure::Invalid(i)
            }
            other => other,
        })?;
        each.push((
            t.name.clone(),
            crate::storage::named(&t.name, t.settings.kind(), s),
        ));
    }
    Ok(Box::new(crate::storage::targets::Targets::new(each)))
}

/// Opens the configured storage; a setting the backend cannot take is invalid input.
pub fn open_storage(
    settings: &crate::answers::StorageSettings,
    dir: &std::path::Path,
    masker: &Masker,
) -> Result<Box<dyn crate::storage::Storage>, Failure> {
    crate::storage::open(settings, dir, masker).map_err(|e| {
        Failure::invalid(crate::diag::Diag::plain("storage", e).help("check the storage answers"))
    })
}
