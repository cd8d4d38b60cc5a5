//! The checked options: the raw clap arguments turned, once, into what the commands read.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{Command, Common, Operation, PlanFormat};
use crate::plan::Filters;

/// A document's path, and how messages name it.
#[derive(Clone, Debug)]
pub struct DocPath {
    pub path: PathBuf,
    pub shown: String,
    /// Given on the command line (it must exist), rather than the default beside master.yml.
    pub given: bool,
}

impl DocPath {
    fn new(dir: &Path, given: &Option<PathBuf>, default: &str) -> DocPath {
        match given {
            Some(p) => DocPath {
                path: p.clone(),
                shown: p.display().to_string(),
                given: true,
            },
            None => {
                let path = dir.join(default);
                let shown = if dir == Path::new(".") {
                    default.to_string()
                } else {
                    path.display().to_string()
                };
                DocPath {
                    path,
                    shown,
                    given: false,
                }
            }
        }
    }

    /// Whether the document should be read: given, or present at its default place.
    pub fn wanted(&self) -> bool {
        self.given || self.path.exists()
    }
}

/// The flags only some commands take (`--force`, `--allow-older`), as the command asked for gave
/// them; off for every other command.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides {
    pub force: bool,
    pub allow_older: bool,
}

impl Overrides {
    pub fn of(command: &Command) -> Overrides {
        match command {
            Command::Run {
                force, allow_older, ..
            } => Overrides {
                force: *force,
                allow_older: *allow_older,
            },
            Command::Standalone { operation } => match operation {
                Operation::Restore(a) => Overrides {
                    force: a.force,
                    allow_older: a.allow_older,
                },
                Operation::Failover(a) => Overrides {
                    force: a.force,
                    allow_older: a.allow_older,
                },
                Operation::Backup(a) => Overrides {
                    force: a.force,
                    allow_older: false,
                },
                _ => Overrides::default(),
            },
            _ => Overrides::default(),
        }
    }
}

/// What every command reads of the command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub dir: PathBuf,
    pub inventory: DocPath,
    pub restore_file: DocPath,
    pub backup_file: DocPath,
    pub force: bool,
    /// `--allow-unsigned`: backups no trusted key signed are read anyway.
    pub allow_unsigned: bool,
    /// `--allow-older`: a configuration older than the live one may be restored.
    pub allow_older: bool,
    pub answers: DocPath,
    /// `--set KEY=VALUE`, parsed with the documents (a malformed one is a diagnostic among theirs).
    pub sets: Vec<String>,
    /// `--now`, parsed with the documents.
    pub now: Option<String>,
    /// A terminal to ask at, and no `--non-interactive` or `CI`.
    pub interactive: bool,
    pub check: bool,
    /// `--yes`: no question before the first destructive step.
    pub yes: bool,
    pub plan_format: PlanFormat,
    pub filters: Filters,
    pub forks: usize,
    pub keep_going: bool,
    pub resume: Option<String>,
    pub report: Option<PathBuf>,
    pub playbooks: Option<PathBuf>,
    pub accept_new_host_keys: bool,
    /// `--storage NAME`: of the storage targets a document lists, this one alone.
    pub storage_target: Option<String>,
    pub break_lock: bool,
    pub connect_timeout: Duration,
    /// `--connect-limit`: SSH connections opened at once.
    pub connect_limit: usize,
    pub json: bool,
    pub verbose: bool,
    pub quiet: bool,
}

impl Options {
    pub fn new(c: &Common, given: Overrides) -> Options {
        Options {
            dir: c.dir.clone(),
            inventory: DocPath::new(&c.dir, &c.inventory, "master.yml"),
            restore_file: DocPath::new(&c.dir, &c.restore_file, "restore.yml"),
            backup_file: DocPath::new(&c.dir, &c.backup_file, "backup.yml"),
            force: given.force,
            allow_unsigned: c.allow_unsigned,
            allow_older: given.allow_older,
            answers: DocPath::new(&c.dir, &c.answers, "answers.yml"),
            sets: c.set.clone(),
            now: c.now.clone(),
            interactive: !c.non_interactive
                && std::io::stdin().is_terminal()
                && std::env::var_os("CI").is_none_or(|v| v.is_empty()),
            check: c.check,
            yes: c.yes,
            plan_format: c.plan_format,
            filters: Filters {
                only: c.only.clone(),
                skip: c.skip.clone(),
                limit: c.limit.clone(),
            },
            forks: c.forks,
            keep_going: c.keep_going,
            resume: c.resume.clone(),
            report: c.report.clone(),
            playbooks: c.playbooks.clone(),
            accept_new_host_keys: c.accept_new_host_keys,
            storage_target: c.storage.clone(),
            break_lock: c.break_lock,
            connect_timeout: Duration::from_secs(c.connect_timeout),
            connect_limit: c.connect_limit as usize,
            json: c.json,
            verbose: c.verbose > 0,
            quiet: c.quiet,
        }
    }
}
