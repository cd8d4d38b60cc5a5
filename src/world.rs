//! Loading the world: every document read and checked, the answers resolved, the clock and the run id
//! set, the plan built. All problems are gathered into one report before anything runs.

use std::path::{Path, PathBuf};

use crate::answers::{Answers, StorageSettings};
use crate::context::{RunInfo, Vars};
use crate::diag::{Diag, Diagnostics, Source};
use crate::docs::{self, inventory::Inventory, playbook::Playbook, restore::RestoreSpec};
use crate::failure::Failure;
use crate::options::Options;
use crate::plan::{self, Plan};
use crate::template::Templates;
use crate::yaml::Span;

mod answers_of;
mod sandbox;
mod sets;
mod site;
mod targets_of;
mod trust;
use answers_of::resolve_answers;
use sets::{unread_sets, variables_read};
pub use site::{Given, Purpose, Site};
use targets_of::targets_in;
pub use targets_of::{Target, listed as storage_targets};
use trust::signing_key_of;
pub use trust::trust_of;

pub enum PlaybookRef {
    Builtin(String),
    File(PathBuf),
}

/// What a run is: one of the built-in operations, or a playbook of the site's own (`setup run`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Restore,
    Backup,
    Drill,
    Run,
}

impl Operation {
    /// Its name, as locks, hooks (`SETUP_OPERATION`), metrics and notifications say it.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Restore => "restore",
            Operation::Backup => "backup",
            Operation::Drill => "drill",
            Operation::Run => "run",
        }
    }

    /// Whether the run reads backups to put them in place (or in a drill's sandbox).
    pub fn restores(self) -> bool {
        matches!(self, Operation::Restore | Operation::Drill)
    }
}

/// Everything loaded and checked, ready to plan or run.
pub struct World {
    /// What the run is.
    pub operation: Operation,
    pub dir: PathBuf,
    pub inventory: Inventory,
    pub restore: RestoreSpec,
    /// backup.yml, for a backup.
    pub backup: crate::docs::backup::BackupSpec,
    pub answers: Answers,
    pub playbook: Playbook,
    pub playbook_dir: Option<PathBuf>,
    pub plan: Plan,
    pub run: RunInfo,
    pub templates: Templates,
    /// The storage settings, when a step talks to storage (the first target's, with targets).
    pub storage: Option<StorageSettings>,
    /// The storage targets a document lists (none: `storage` alone).
    pub targets: Vec<Target>,
    /// Which backups this run trusts.
    pub trust: crate::authentic::Trust,
    /// The key that signs what this run backs up (backup.yml `signing_key`).
    pub signing_key: Option<std::sync::Arc<crate::authentic::SigningKey>>,
}

/// What a command that only talks to storage needs: no inventory, no playbook, no plan.
pub struct StorageWorld {
    pub dir: PathBuf,
    pub answers: Answers,
    pub storage: StorageSettings,
    /// The storage targets a document lists (none: `storage` alone).
    pub targets: Vec<Target>,
    pub now: chrono::DateTime<chrono::Utc>,
}

/// Reads the inventory (master.yml, or `-i`).
pub fn load_inventory(o: &Options, diags: &mut Diagnostics) -> Inventory {
    match docs::load(&o.inventory.path, &o.inventory.shown, diags) {
        Some((src, node)) => docs::inventory::parse(&src, &node, diags),
        None => Inventory::default(),
    }
}

/// A local host's relative `dr_root` is taken from the folder of the documents, and handed to
/// every tool as an absolute path (a second `tar -C` would read a relative one from the first).
fn absolute_roots(inventory: &mut Inventory, dir: &std::path::Path) {
    for h in &mut inventory.hosts {
        if h.connection != docs::inventory::Connection::Local {
            continue;
        }
        if let Some(serde_json::Value::String(root)) = h.vars.get("dr_root")
            && !root.is_empty()
            && !root.starts_with('/')
        {
            let base = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            let abs = base.join(root).display().to_string();
            h.vars
                .insert("dr_root".into(), serde_json::Value::String(abs));
        }
    }
}

/// The run's clock: `--now`, or the system's.
/// The run's clock alone (`--now`, else the system's), bad input as a failure.
pub fn clock_of(o: &Options) -> Result<chrono::DateTime<chrono::Utc>, Failure> {
    let mut diags = Diagnostics::default();
    let t = clock(o, &mut diags);
    diags.into_result()?;
    Ok(t)
}

fn clock(o: &Options, diags: &mut Diagnostics) -> chrono::DateTime<chrono::Utc> {
    let Some(text) = &o.now else {
        return chrono::Utc::now();
    };
    match chrono::DateTime::parse_from_rfc3339(text) {
        Ok(t) => t.with_timezone(&chrono::Utc),
        Err(e) => {
            let src = Source::new("--now", text.clone());
            diags.push(
                Diag::at(
                    "bad_now",
                    &src,
                    Span::new(0, text.len()),
                    format!("--now is not an RFC 3339 time: {e}"),
                )
                .label("not RFC 3339")
                .help("write it like `2026-11-23T00:00:00Z` or `2026-11-23T01:00:00+01:00`"),
            );
            chrono::Utc::now()
        }
    }
}

pub fn new_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
    // `setup serve` names the run of a job after the job.
    if let Ok(id) = std::env::var("SETUP_RUN_ID")
        && id.len() == 21
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return id;
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{}-{:04x}",
        now.format("%Y%m%dT%H%M%SZ"),
        (nanos ^ std::process::id()) & 0xffff
    )
}

fn load_restore(o: &Options, need: bool, diags: &mut Diagnostics) -> RestoreSpec {
    if !(need || o.restore_file.wanted()) {
        return RestoreSpec::default();
    }
    let r = &o.restore_file;
    match docs::load(&r.path, &r.shown, diags) {
        Some((src, node)) => docs::restore::parse(&src, &node, diags),
        None => RestoreSpec::default(),
    }
}

/// The answers alone (no storage asked for), for a command that needs only them: read as every
/// command reads them, restore.yml's among them when it is there, and the answers of every storage
/// target the folder's documents list known by their names (`storage.NAME.FIELD`).
pub fn load_answers(o: &Options) -> Result<Answers, Failure> {
    let mut diags = Diagnostics::default();
    let site = Site::read(o, Purpose::Answers, &mut diags);
    unread_sets(&site.answers, None, &mut diags);
    crate::answers::gather_missing(&mut diags, o.interactive);
    diags.into_result()?;
    Ok(site.answers)
}

/// The site as a storage command reads it (restore.yml when present, the answers file,
/// `SETUP_*`), the target-named answers (`storage.NAME.FIELD`) of the storage targets the
/// documents list among them, and those targets; nothing asked, no storage opened: for showing and
/// editing the settings (`setup serve`).
pub fn load_site(o: &Options) -> Result<Site, Failure> {
    let mut diags = Diagnostics::default();
    let site = Site::read(o, Purpose::Settings, &mut diags);
    diags.into_result()?;
    Ok(site)
}

/// Loads what a storage command needs: restore.yml when present, the answers, the storage settings.
pub fn load_storage(o: &Options) -> Result<StorageWorld, Failure> {
    let mut diags = Diagnostics::default();
    let site = Site::read(o, Purpose::Storage, &mut diags);
    unread_sets(&site.answers, None, &mut diags);
    let now = clock(o, &mut diags);
    crate::answers::gather_missing(&mut diags, o.interactive);
    diags.into_result()?;
    let storage = site.storage.ok_or_else(|| {
        Failure::invalid(
            Diag::plain("storage", "no storage configured")
                .help("set storage.type and its answers"),
        )
    })?;
    Ok(StorageWorld {
        dir: site.dir,
        answers: site.answers,
        storage,
        targets: site.checked,
        now,
    })
}

/// Loads every document, resolves the answers and builds the plan.
pub fn load(o: &Options, pref: PlaybookRef, need_restore: bool) -> Result<World, Failure> {
    let mut diags = Diagnostics::default();
    let mut inventory = load_inventory(o, &mut diags);
    absolute_roots(&mut inventory, &o.dir);
    let backup = load_backup(o, &pref, &mut diags);
    let (playbook, playbook_dir) = load_playbook(o, &pref, &mut diags)?;
    let need_storage = playbook
        .steps
        .iter()
        .any(|s| matches!(s.action, "fetch" | "unpack" | "upload" | "analytics_gate"));
    let site = Site::read(
        o,
        Purpose::Run {
            playbook: &pref,
            backup: &backup,
            need_restore,
            need_storage,
        },
        &mut diags,
    );
    let Site {
        restore,
        answers,
        storage,
        checked: targets,
        ..
    } = site;
    let uses_backup = playbook.steps.iter().any(|s| s.reads_config_backup());
    if need_restore
        && uses_backup
        && restore.components.iter().any(|c| c == "config")
        && answers.get("config_backup").is_none()
    {
        let message =
            "the configuration is to be restored, but no `config_backup` names its backup";
        let d = match &restore.source {
            Some(src) => Diag::at("missing_config_backup", src, Span::default(), message)
                .label("no `config_backup` in this file"),
            None => Diag::plain("missing_config_backup", message),
        };
        diags.push(d.help("add `config_backup: <backup name>` to restore.yml (see `setup standalone list`), or leave `config` out of `components`"));
    }
    // An encrypted configuration backup named up front needs its identity: listed with the other
    // missing answers now, rather than once the storage is reached (`pipeline::before`).
    let restores_config = restore.components.iter().any(|c| c == "config");
    if matches!(&pref, PlaybookRef::Builtin(n) if n == "standalone/restore.yml")
        && restores_config
        && answers.get("age_identity").is_none()
        && answers
            .text("config_backup")
            .is_some_and(|n| n.ends_with(".age"))
    {
        diags.push(crate::answers::missing(
            "age_identity",
            "the age identity file that opens the encrypted backups",
        ));
    }
    if matches!(&pref, PlaybookRef::Builtin(n) if n == "standalone/restore.yml") && restores_config
    {
        answers_of::need_db_password(&answers, &inventory, &mut diags);
    }
    if let PlaybookRef::Builtin(name) = &pref
        && inventory.loaded()
    {
        let (doc, components) = if name == "standalone/backup.yml" {
            ("backup.yml backs up", &backup.components)
        } else {
            ("restore.yml restores", &restore.components)
        };
        for c in components {
            let group = if c == "config" {
                "director"
            } else {
                "analytics"
            };
            if inventory.resolve(group).is_none_or(|h| h.is_empty()) {
                diags.push(
                    Diag::plain(
                        "no_host_for_component",
                        format!("{doc} `{c}`, but master.yml has no host in group `{group}`"),
                    )
                    .help(format!(
                        "put the {group} host in group `{group}`, or leave `{c}` out of `components`"
                    )),
                );
            }
        }
    }
    let now = clock(o, &mut diags);
    let reads_backups = playbook
        .steps
        .iter()
        .any(|s| matches!(s.action, "fetch" | "unpack"));
    let trust = trust_of(o, &answers, reads_backups, &mut diags);
    let signing_key = if playbook.steps.iter().any(|s| s.action == "upload") {
        signing_key_of(&backup, &answers, &o.dir, &mut diags)
    } else {
        None
    };
    let started = chrono::Utc::now();
    let run = RunInfo {
        id: new_run_id(started),
        started_at: started,
        now,
        check: o.check,
        force: o.force,
        allow_older: o.allow_older,
    };
    let filters = sandbox::sandbox_hosts(&o.filters, &inventory, &pref, &mut diags);
    let plan = plan::build(&playbook, &inventory, &filters, &mut diags);
    refuse_unsupported(&plan, &inventory, &mut diags);
    let templates = Templates::new();
    if let Some(reads) = variables_read(o, &playbook, &inventory, &restore, &templates) {
        unread_sets(&answers, Some(&reads), &mut diags);
    }
    if inventory.loaded() {
        let mut vars = Vars::new(&inventory, &playbook, &restore, &answers, &run);
        vars.set("backup", backup.value.clone());
        plan::check::check_templates(&plan, &playbook, &vars, &templates, &mut diags);
    }
    crate::answers::gather_missing(&mut diags, o.interactive);
    diags.into_result()?;
    let operation = match &pref {
        PlaybookRef::Builtin(name) if name.ends_with("/restore.yml") => Operation::Restore,
        PlaybookRef::Builtin(name) if name.ends_with("/backup.yml") => Operation::Backup,
        PlaybookRef::Builtin(name) if name.ends_with("/drill.yml") => Operation::Drill,
        _ => Operation::Run,
    };
    Ok(World {
        operation,
        dir: o.dir.clone(),
        inventory,
        restore,
        backup,
        answers,
        playbook,
        playbook_dir,
        plan,
        run,
        templates,
        storage,
        targets,
        trust,
        signing_key,
    })
}

/// A host whose connection type setup cannot drive is refused when the run would use it.
fn refuse_unsupported(plan: &plan::Plan, inventory: &Inventory, diags: &mut Diagnostics) {
    let used: std::collections::BTreeSet<&str> = [&plan.main, &plan.rollback, &plan.cleanup]
        .iter()
        .flat_map(|d| d.tasks.iter().map(|t| t.host.as_str()))
        .collect();
    for h in &inventory.hosts {
        if h.connection == crate::docs::inventory::Connection::Unsupported
            && used.contains(h.name.as_str())
        {
            let kind = h
                .vars
                .get("ansible_connection")
                .and_then(|v| v.as_str())
                .unwrap_or("?");
            diags.push(
                Diag::plain(
                    "unsupported_connection",
                    format!("host `{}` uses connection `{kind}`, which setup cannot drive", h.name),
                )
                .help("setup runs over `ssh` or `local`; leave this host out of the run (`--limit`), or reach it over ssh"),
            );
        }
    }
}

/// backup.yml alone, for `prune`.
pub fn load_backup_only(o: &Options) -> Result<crate::docs::backup::BackupSpec, Failure> {
    let mut diags = Diagnostics::default();
    let spec = load_backup(
        o,
        &PlaybookRef::Builtin("standalone/backup.yml".into()),
        &mut diags,
    );
    diags.into_result()?;
    Ok(spec)
}

/// restore.yml alone, for `schedule` (a weekly drill).
pub fn load_restore_only(o: &Options) -> Result<RestoreSpec, Failure> {
    let mut diags = Diagnostics::default();
    let spec = load_restore(o, true, &mut diags);
    diags.into_result()?;
    Ok(spec)
}

/// Reads backup.yml: needed by the built-in backup, read by any run when it is there.
fn load_backup(
    o: &Options,
    pref: &PlaybookRef,
    diags: &mut Diagnostics,
) -> crate::docs::backup::BackupSpec {
    let needed = matches!(pref, PlaybookRef::Builtin(n) if n == "standalone/backup.yml");
    if !(needed || o.backup_file.wanted()) {
        return Default::default();
    }
    let b = &o.backup_file;
    match docs::load(&b.path, &b.shown, diags) {
        Some((src, node)) => docs::backup::parse(&src, &node, diags),
        None => Default::default(),
    }
}

fn load_playbook(
    o: &Options,
    pref: &PlaybookRef,
    diags: &mut Diagnostics,
) -> Result<(Playbook, Option<PathBuf>), Failure> {
    let path = match (pref, &o.playbooks) {
        (PlaybookRef::File(p), _) => p.clone(),
        (PlaybookRef::Builtin(name), Some(dir)) => dir.join(name),
        (PlaybookRef::Builtin(name), None) => {
            let Some(text) = crate::embedded::playbook(name) else {
                return Err(Failure::invalid(
                    Diag::plain(
                        "no_playbook",
                        format!("no built-in playbook `{name}`: this operation is not available in this version"),
                    )
                    .help("pass a folder holding it with --playbooks DIR, or use `setup run PLAYBOOK`"),
                ));
            };
            let src = Source::new(format!("playbooks/{name}"), text);
            return Ok((parse_playbook(&src, diags), None));
        }
    };
    Ok(
        match docs::read_source(&path, &path.display().to_string(), diags) {
            Some(src) => (
                parse_playbook(&src, diags),
                path.parent().map(Path::to_path_buf),
            ),
            None => (Playbook::default(), None),
        },
    )
}

fn parse_playbook(src: &Source, diags: &mut Diagnostics) -> Playbook {
    match docs::parse_source(src, diags) {
        Some(node) => docs::playbook::parse(src, &node, diags),
        None => Playbook::default(),
    }
}
