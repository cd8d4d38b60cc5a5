//! Command-line definitions (clap). Raw arguments only; `app` turns them into a checked configuration.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub const EXAMPLES: &str = "\
Examples:
  Run the demo restore (local hosts, local storage):
    setup standalone restore -C inventories/demo
  Show the plan as a graph; change nothing:
    setup standalone restore --check --plan-format dot
  What the weekly analytics gate would restore on a given date:
    setup standalone restore --check --now 2026-11-23T00:00:00Z
  In CI, every answer given up front:
    setup standalone restore --non-interactive --set storage.type=local --set storage.local.path=/backups
    SETUP_STORAGE_S3_SECRET_KEY=... setup standalone restore --answers ci-answers.yml
  On the DC, back up (backup.yml says what), then at the DR site check and restore the newest:
    setup standalone backup -C inventories/demo-dc
    setup standalone verify -C inventories/demo --set storage.local.path=../demo-dc/store --set config_backup=latest
  Two storage targets (a `storage:` list in backup.yml or restore.yml): read one alone, and
  copy to one what it lacks:
    setup standalone verify --storage offsite
    setup standalone copy -C inventories/demo-dc --from store --to offsite
  Prove this site can restore (a sandbox beside the live site, checked, removed again), then
  list past drills:
    setup standalone drill
    setup standalone drill --list
  Recent runs, and a run resumed after a failure:
    setup standalone status
    setup standalone restore --resume
  Check every document, touch nothing:
    setup validate -C site/
  The inventory as `ansible-inventory --list` prints it:
    setup inventory --list -i master.yml

Answers (strongest first): --set KEY=VALUE, env SETUP_<KEY> (dots become _), --answers FILE
(default answers.yml), restore.yml, then an interactive prompt. A --set KEY that is no answer sets
a variable the playbook reads (one it does not read is refused; so is `components`: restore one
component with --only config or --only analytics).
Storage keys: storage.type = s3 | azure | sftp | ftp | local, then storage.<type>.<field>:
  s3: endpoint region bucket access_key secret_key path_style prefix (no access_key: AWS
      env/profile; an access_key needs its secret_key)
  azure: connection_string alone, or account then access_key | sas; endpoint; container prefix
  sftp: host port user, then password | key_file; path known_hosts
  ftp: host port user password path tls (true: explicit FTPS, passive) ca_file (a CA, or the
       server's own certificate, pinned)
  local: path
  storage.timeout: seconds for one exchange with the server (default 60); a download that waits
    that long in all for its next 64 KiB is cut.
  Storage targets listed under `storage:` in backup.yml or restore.yml (when no answer names
  storage.type): each target's secrets and missing settings are storage.<name>.<field>
  (e.g. storage.offsite.password, SETUP_STORAGE_OFFSITE_PASSWORD).

Exit codes: 0 done, 1 a step failed or `Go on?` was declined, 2 invalid input (nothing
touched), 3 refused (lock held), 130 interrupted.";

#[derive(Parser, Debug)]
#[command(name = "setup", version, about = "Declarative disaster-recovery orchestrator: plan, verify, then restore.", after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// One director and one analytics node.
    Standalone {
        #[command(subcommand)]
        operation: Operation,
    },
    /// Run any playbook with the same engine.
    Run {
        /// The playbook file.
        playbook: PathBuf,
        /// `run.force` for the playbook's steps: a `backup` step with `if_exists: refuse` replaces a
        /// backup that already exists, and a step's `when` may read it.
        #[arg(long)]
        force: bool,
        /// Let a `not_older` step restore a configuration backup older than the one in place (its
        /// marker names it). Without it such a restore is refused (at a terminal, asked).
        #[arg(long)]
        allow_older: bool,
    },
    /// Load and check every document; touch nothing.
    Validate {
        /// A playbook to check instead of the built-in one: the standalone backup in a DC's folder
        /// (backup.yml, no restore.yml), the standalone restore elsewhere.
        playbook: Option<PathBuf>,
    },
    /// Show the resolved inventory.
    Inventory {
        /// Print it as JSON, in the shape of `ansible-inventory --list`.
        #[arg(long, required = true)]
        list: bool,
    },
    /// Check the configured storage: write a test object, list it, read it back whole and by range,
    /// compare sha256 digests, delete it.
    StorageTest {
        /// Size of the test object in MiB.
        #[arg(long, default_value_t = 8)]
        size_mb: u64,
        /// Pause the whole-object read after this many MiB until a line arrives on stdin, so that
        /// the connection can be cut from outside to prove the read resumes from its offset.
        #[arg(long, hide = true)]
        pause_after_mb: Option<u64>,
    },
    /// Serve the on-demand API over HTTP for this folder: backups, restores, verify and drills as
    /// jobs (the same locks and rollback as here), their events, the backups in storage, and
    /// `/status`. Every endpoint but /healthz needs `Authorization: Bearer TOKEN`.
    Serve {
        /// Where to listen: loopback by default; another address needs --insecure-http.
        #[arg(long, default_value = "127.0.0.1:7080")]
        listen: String,
        /// Accept listening beyond loopback in plain HTTP (give --tls-cert and --tls-key instead).
        #[arg(long, conflicts_with = "tls_cert")]
        insecure_http: bool,
        /// Serve HTTPS with this PEM certificate chain (and --tls-key); then any address is fine.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Manage the API tokens (kept hashed in .setup/serve/tokens.json).
        #[command(subcommand)]
        token: Option<TokenCommand>,
    },
    /// Send a test message on every notification channel (`notify.webhook.url`, signed with
    /// `notify.webhook.secret` when given).
    NotifyTest,
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the demo's sample backups into a folder (the demo ships with them), each manifest
    /// signed with the key given (the demo's: inventories/demo-dc/demo-signing-key).
    #[command(hide = true)]
    DemoBackups {
        dir: PathBuf,
        #[arg(long, value_name = "FILE")]
        signing_key: Option<PathBuf>,
    },
}

/// The standalone operations, each with the flags that belong to it.
#[derive(Subcommand, Debug, Clone)]
pub enum Operation {
    /// Restore the configuration and analytics backups on the DR site.
    Restore(RestoreArgs),
    /// Take configuration and analytics backups on the DC side.
    Backup(BackupArgs),
    /// Download, checksum and list backups (every storage target's copy); change no host.
    Verify,
    /// List the backups in the configured storage, with their age.
    List,
    /// List recent runs from the journal.
    Status,
    /// Delete the backups backup.yml's retention no longer keeps (`--check`: only list them).
    Prune,
    /// The DC's backup schedules in UTC: `schedule install|show|remove`.
    Schedule {
        #[command(subcommand)]
        action: ScheduleAction,
    },
    /// Failover or migration: back up today's analytics and the configuration at the DC (`--dc`)
    /// when it answers, then restore here in current-week mode from the newest backups.
    Failover(FailoverArgs),
    /// Prove this site can restore: the newest backups restored into a sandbox beside the live
    /// site (never stopping or writing it), checked against what the DC recorded, an evidence
    /// report in .setup/drills/RUN/ (report.json, report.html), everything removed again.
    /// Exit 0 only when every check passes. `--list` shows past drills; `--clean` removes what a
    /// killed drill left.
    Drill(DrillArgs),
    /// Copy what one storage target lacks from another (`--from A --to B`), verified at both ends,
    /// and replace a copy B holds that does not match A's signed digest: to seed a new target or
    /// refill a lost one. `--check` lists what would be copied or replaced.
    Copy(CopyArgs),
}

/// `standalone restore`.
#[derive(Args, Debug, Clone)]
pub struct RestoreArgs {
    /// Restore the configuration backup again when it is already in place (its marker names it,
    /// with the same digest); without it the director is not stopped and nothing is replaced.
    #[arg(long)]
    pub force: bool,
    /// Restore a configuration backup older than the one in place (its marker names it). Without
    /// it such a restore is refused (at a terminal, asked): storage rolled back to older backups
    /// would otherwise put an old configuration over the live one.
    #[arg(long)]
    pub allow_older: bool,
}

/// `standalone backup`.
#[derive(Args, Debug, Clone)]
pub struct BackupArgs {
    /// Replace a backup that already exists (a day's analytics snapshot is taken once otherwise).
    #[arg(long)]
    pub force: bool,
}

/// `standalone failover`.
#[derive(Args, Debug, Clone)]
pub struct FailoverArgs {
    /// The DC's folder (its master.yml, backup.yml and answers), to back up today's analytics and
    /// the configuration there first, if the DC answers.
    #[arg(long, value_name = "DIR")]
    pub dc: Option<PathBuf>,
    /// At the DC, replace a backup that already exists; here, restore the configuration backup
    /// again when it is already in place.
    #[arg(long)]
    pub force: bool,
    /// Restore a configuration backup older than the one in place (its marker names it). Without
    /// it such a restore is refused (at a terminal, asked).
    #[arg(long)]
    pub allow_older: bool,
}

/// `standalone drill`.
#[derive(Args, Debug, Clone)]
pub struct DrillArgs {
    /// List past drills (pass or fail, RTO, RPO) from .setup/drills; run nothing.
    #[arg(long)]
    pub list: bool,
    /// Only remove what an earlier drill left (sandbox folders and databases), then look that
    /// nothing is left.
    #[arg(long, conflicts_with = "list")]
    pub clean: bool,
}

/// `standalone copy`.
#[derive(Args, Debug, Clone)]
pub struct CopyArgs {
    /// The storage target to copy from.
    #[arg(long, value_name = "TARGET")]
    pub from: String,
    /// The storage target to copy to (what it lacks).
    #[arg(long, value_name = "TARGET")]
    pub to: String,
}

#[derive(Subcommand, Debug, Clone)]
pub enum TokenCommand {
    /// `token add NAME`: a new token, shown once.
    Token {
        #[arg(value_enum)]
        action: TokenAction,
        /// The token's name (for add and revoke).
        name: Option<String>,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAction {
    /// Make a new token and print it once.
    Add,
    /// List the tokens' names and when they were made.
    List,
    /// Revoke a token by its name.
    Revoke,
}

#[derive(Subcommand, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScheduleAction {
    /// Write and enable the units (systemd) or the crontab entries (elsewhere).
    Install,
    /// Print what would be installed, and whether it is.
    Show,
    /// Disable and delete them.
    Remove,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlanFormat {
    Text,
    Dot,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Args, Debug, Clone)]
pub struct Common {
    /// Folder holding master.yml, restore.yml and answers.yml.
    #[arg(
        short = 'C',
        long = "dir",
        global = true,
        default_value = ".",
        value_name = "DIR"
    )]
    pub dir: PathBuf,
    /// The inventory (default: DIR/master.yml).
    #[arg(short, long, global = true, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// What to restore (default: DIR/restore.yml).
    #[arg(long, global = true, value_name = "FILE")]
    pub restore_file: Option<PathBuf>,
    /// What the DC backs up (default: DIR/backup.yml).
    #[arg(long, global = true, value_name = "FILE")]
    pub backup_file: Option<PathBuf>,
    /// Read backups that no key of trusted_signers signed (warned in the summary, recorded in the
    /// report). Without it, only backups signed by a trusted key are restored or verified.
    #[arg(long, global = true)]
    pub allow_unsigned: bool,
    /// Pre-filled answers (default: DIR/answers.yml when present).
    #[arg(long, global = true, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Set an answer or a template variable; repeatable.
    #[arg(long = "set", global = true, value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Never prompt; fail listing every missing answer (implied without a terminal or with CI set).
    #[arg(long, global = true)]
    pub non_interactive: bool,
    /// Do not ask before the first destructive step. At a terminal a run that stops, replaces or
    /// renames anything on a host first lists what and asks; without a terminal it never asks.
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// Print the plan and the pre-flight decisions; change nothing (a backup's check writes one
    /// small probe object to each storage target and removes it).
    #[arg(long, global = true)]
    pub check: bool,
    /// How --check prints the plan.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub plan_format: PlanFormat,
    /// Run only these steps (ids or tags); repeatable.
    #[arg(long, global = true, value_name = "STEP_OR_TAG")]
    pub only: Vec<String>,
    /// Skip these steps (ids or tags); repeatable.
    #[arg(long, global = true, value_name = "STEP_OR_TAG")]
    pub skip: Vec<String>,
    /// Run on these hosts or groups only; repeatable.
    #[arg(long, global = true, value_name = "HOSTS")]
    pub limit: Vec<String>,
    /// Tasks running at once, over all hosts.
    #[arg(long, global = true, default_value_t = 10)]
    pub forks: usize,
    /// Keep independent branches running after a failure.
    #[arg(long, global = true)]
    pub keep_going: bool,
    /// Resume a run (default: the latest) with the options it was started with: skip tasks that
    /// succeeded with the same inputs.
    #[arg(long, global = true, value_name = "RUN_ID", num_args = 0..=1, default_missing_value = "latest")]
    pub resume: Option<String>,
    /// The clock, for the weekly gate and drills (RFC 3339; an offset is converted to UTC).
    #[arg(long, global = true, value_name = "RFC3339")]
    pub now: Option<String>,
    /// Write the run report as JSON to this file.
    #[arg(long, global = true, value_name = "FILE.json")]
    pub report: Option<PathBuf>,
    /// Playbooks folder to use instead of the built-in ones.
    #[arg(long, global = true, value_name = "DIR")]
    pub playbooks: Option<PathBuf>,
    /// Take the host locks even when another run holds them (recorded in the journal). Only when
    /// that run is known to be gone: two runs at once on one host can destroy data.
    #[arg(long, global = true)]
    pub break_lock: bool,
    /// Trust the key of an SSH host or SFTP storage server seen for the first time (and record it in
    /// known_hosts); changed keys are still refused.
    #[arg(long, global = true)]
    pub accept_new_host_keys: bool,
    /// Of the storage targets backup.yml or restore.yml lists, use this one alone (read from it,
    /// write to it).
    #[arg(long, global = true, value_name = "NAME")]
    pub storage: Option<String>,
    /// Seconds to wait for an SSH connection.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECS")]
    pub connect_timeout: u64,
    /// SSH connections opened at once, over all hosts (each host keeps its one connection once
    /// open); a run on hundreds of hosts opens them this many at a time.
    #[arg(long, global = true, default_value_t = 16, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub connect_limit: u64,
    /// Print output as JSON (for `list` and `status`).
    #[arg(long, global = true)]
    pub json: bool,
    /// More output: each task's output excerpt.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less output: errors and the final summary only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Colour in output (NO_COLOR is honoured).
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: Color,
}
