//! The application: a checked configuration from the raw arguments, documents loaded, then the command.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use crate::answers::{self, Answers, Inputs};
use crate::cli::{Cli, Command, Common, Operation};
use crate::context::{RunInfo, Vars};
use crate::diag::{Diag, Diagnostics, Invalid, Source};
use crate::docs::{self, inventory::Inventory, playbook::Playbook, restore::RestoreSpec};
use crate::plan::{self, Filters, Plan};
use crate::template::Templates;
use crate::yaml::Span;

/// Why a run ended without success, and its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Invalid input: nothing was touched. Exit 2.
    Invalid(Invalid),
    /// A step failed. Exit 1.
    Failed(String),
    /// Refused: lock held, gate closed, confirmation declined. Exit 3.
    #[expect(
        dead_code,
        reason = "locks and confirmations arrive with the full restore flow"
    )]
    Refused(String),
    /// A problem of the machine or the world (a file that cannot be written). Exit 1.
    Other(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Invalid(_) => 2,
            Failure::Failed(_) | Failure::Other(_) => 1,
            Failure::Refused(_) => 3,
        }
    }

    pub fn into_report(self) -> miette::Report {
        match self {
            Failure::Invalid(i) => miette::Report::new(i),
            Failure::Failed(m) | Failure::Refused(m) | Failure::Other(m) => miette::miette!("{m}"),
        }
    }
}

impl From<Invalid> for Failure {
    fn from(i: Invalid) -> Self {
        Failure::Invalid(i)
    }
}

fn invalid(d: Diag) -> Failure {
    Failure::Invalid(Invalid(vec![d]))
}

pub fn run(cli: Cli) -> Result<i32, Failure> {
    let c = &cli.common;
    match &cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut cmd, "setup", &mut std::io::stdout());
            Ok(0)
        }
        Command::DemoBackups { dir } => {
            crate::demo::write_backups(dir).map_err(|e| {
                Failure::Other(format!("writing demo backups into {}: {e}", dir.display()))
            })?;
            Ok(0)
        }
        Command::StorageTest {
            size_mb,
            pause_after_mb,
        } => crate::runner::storage_test(c, *size_mb, *pause_after_mb),
        Command::Inventory { .. } => {
            let mut diags = Diagnostics::default();
            let inv = load_inventory(c, &mut diags);
            diags.into_result()?;
            println!(
                "{}",
                serde_json::to_string_pretty(&inv.ansible_list()).expect("json")
            );
            Ok(0)
        }
        Command::Validate { playbook } => {
            let pref = match playbook {
                Some(p) => PlaybookRef::File(p.clone()),
                None => PlaybookRef::Builtin("standalone/restore.yml".into()),
            };
            let w = load(c, pref, false)?;
            println!(
                "valid: {} hosts, {} steps, {} tasks, {} rollback steps",
                w.inventory.hosts.len(),
                w.plan.main.steps.len(),
                w.plan.main.tasks.len(),
                w.plan.rollback.steps.len()
            );
            Ok(0)
        }
        Command::Run { playbook } => {
            let w = load(c, PlaybookRef::File(playbook.clone()), false)?;
            crate::runner::check_or_run(c, w)
        }
        Command::Standalone { operation } => match operation {
            Operation::Status => crate::runner::status(c),
            Operation::List => crate::runner::list(c),
            Operation::Restore => {
                let w = load(
                    c,
                    PlaybookRef::Builtin("standalone/restore.yml".into()),
                    true,
                )?;
                crate::runner::check_or_run(c, w)
            }
            op @ (Operation::Backup | Operation::Verify) => {
                let name = format!("standalone/{}.yml", format!("{op:?}").to_lowercase());
                let w = load(c, PlaybookRef::Builtin(name), false)?;
                crate::runner::check_or_run(c, w)
            }
        },
    }
}

pub enum PlaybookRef {
    /// No playbook: commands that only talk to storage.
    Empty,
    Builtin(String),
    File(PathBuf),
}

/// Everything loaded and checked, ready to plan or run.
pub struct World {
    pub dir: PathBuf,
    pub inventory: Inventory,
    pub restore: RestoreSpec,
    pub answers: Answers,
    pub playbook: Playbook,
    pub playbook_dir: Option<PathBuf>,
    pub plan: Plan,
    pub run: RunInfo,
    pub templates: Templates,
    pub need_storage: bool,
}

pub fn interactive(c: &Common) -> bool {
    !c.non_interactive
        && std::io::stdin().is_terminal()
        && std::env::var_os("CI").is_none_or(|v| v.is_empty())
}

fn path_in(c: &Common, given: &Option<PathBuf>, default: &str) -> (PathBuf, String) {
    match given {
        Some(p) => (p.clone(), p.display().to_string()),
        None => {
            let p = c.dir.join(default);
            let shown = if c.dir == Path::new(".") {
                default.to_string()
            } else {
                p.display().to_string()
            };
            (p, shown)
        }
    }
}

fn load_inventory(c: &Common, diags: &mut Diagnostics) -> Inventory {
    let (path, shown) = path_in(c, &c.inventory, "master.yml");
    match docs::load(&path, &shown, diags) {
        Some((src, node)) => docs::inventory::parse(&src, &node, diags),
        None => Inventory::default(),
    }
}

pub fn parse_now(c: &Common, diags: &mut Diagnostics) -> chrono::DateTime<chrono::Utc> {
    let Some(text) = &c.now else {
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

fn new_run_id(now: chrono::DateTime<chrono::Utc>) -> String {
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

/// Loads what a storage command needs: the inventory is optional, storage answers are required.
pub fn load_for_storage(c: &Common) -> Result<World, Failure> {
    load_with(c, PlaybookRef::Empty, false, true)
}

pub fn load(c: &Common, pref: PlaybookRef, need_restore: bool) -> Result<World, Failure> {
    load_with(c, pref, need_restore, false)
}

fn load_with(
    c: &Common,
    pref: PlaybookRef,
    need_restore: bool,
    storage_only: bool,
) -> Result<World, Failure> {
    let mut diags = Diagnostics::default();
    let (ipath, _) = path_in(c, &c.inventory, "master.yml");
    let inventory = if storage_only && !ipath.exists() {
        Inventory::default()
    } else {
        load_inventory(c, &mut diags)
    };
    let (rpath, rshown) = path_in(c, &c.restore_file, "restore.yml");
    let restore = if need_restore || c.restore_file.is_some() || rpath.exists() {
        match docs::load(&rpath, &rshown, &mut diags) {
            Some((src, node)) => docs::restore::parse(&src, &node, &mut diags),
            None => RestoreSpec::default(),
        }
    } else {
        RestoreSpec::default()
    };
    let (apath, ashown) = path_in(c, &c.answers, "answers.yml");
    let answers_doc = if c.answers.is_some() || apath.exists() {
        warn_world_readable(&apath);
        docs::load(&apath, &ashown, &mut diags)
    } else {
        None
    };
    let (playbook, playbook_dir) = load_playbook(c, &pref, &mut diags)?;
    let sets = answers::parse_sets(&c.set, &mut diags);
    let need_storage = storage_only
        || playbook
            .steps
            .iter()
            .any(|s| matches!(s.action, "fetch" | "upload" | "analytics_gate"));
    let env = |k: &str| std::env::var(k).ok();
    let inputs = Inputs {
        sets: &sets,
        env: &env,
        file: answers_doc.as_ref().map(|(s, n)| (s, n)),
        restore: &restore,
        interactive: interactive(c) && !c.check,
        need_storage: need_storage && diags.is_empty(),
    };
    let answers = Answers::resolve(inputs, &mut diags);
    let now = parse_now(c, &mut diags);
    let started = chrono::Utc::now();
    let run = RunInfo {
        id: new_run_id(started),
        started_at: started,
        now,
        check: c.check,
    };
    let filters = Filters {
        only: c.only.clone(),
        skip: c.skip.clone(),
        limit: c.limit.clone(),
    };
    let plan = plan::build(&playbook, &inventory, &filters, &mut diags);
    let templates = Templates::new();
    {
        let vars = Vars::new(&inventory, &playbook, &restore, &answers, &run);
        if inventory.loaded() && !storage_only {
            plan::check::check_templates(&plan, &playbook, &vars, &templates, &mut diags);
        }
    }
    diags.into_result()?;
    Ok(World {
        dir: c.dir.clone(),
        inventory,
        restore,
        answers,
        playbook,
        playbook_dir,
        plan,
        run,
        templates,
        need_storage,
    })
}

fn load_playbook(
    c: &Common,
    pref: &PlaybookRef,
    diags: &mut Diagnostics,
) -> Result<(Playbook, Option<PathBuf>), Failure> {
    let (src, dir) = match pref {
        PlaybookRef::Empty => return Ok((Playbook::default(), None)),
        PlaybookRef::File(p) => match docs::read_source(p, &p.display().to_string(), diags) {
            Some(s) => (s, p.parent().map(Path::to_path_buf)),
            None => return Ok((Playbook::default(), None)),
        },
        PlaybookRef::Builtin(name) => match &c.playbooks {
            Some(dir) => {
                let p = dir.join(name);
                match docs::read_source(&p, &p.display().to_string(), diags) {
                    Some(s) => (s, p.parent().map(Path::to_path_buf)),
                    None => return Ok((Playbook::default(), None)),
                }
            }
            None => match crate::embedded::playbook(name) {
                Some(text) => (Source::new(format!("playbooks/{name}"), text), None),
                None => {
                    return Err(invalid(Diag::plain("no_playbook", format!("no built-in playbook `{name}`: this operation is not available in this version")).help("pass a folder holding it with --playbooks DIR, or use `setup run PLAYBOOK`")));
                }
            },
        },
    };
    let pb = match docs::parse_source(&src, diags) {
        Some(node) => docs::playbook::parse(&src, &node, diags),
        None => Playbook::default(),
    };
    Ok((pb, dir))
}

fn warn_world_readable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(path) else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let holds_secret = [
        "password",
        "secret_key",
        "access_key",
        "sas",
        "connection_string",
    ]
    .iter()
    .any(|k| text.contains(k));
    if holds_secret && meta.permissions().mode() & 0o004 != 0 {
        eprintln!(
            "warning: {} holds secrets and is world-readable; run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
}
