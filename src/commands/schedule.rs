//! `setup standalone schedule install|show|remove`: the DC's backups (backup.yml `schedule`) and
//! the DR site's weekly drill (restore.yml `schedule: { drill: "Sun 04:00" }`) on UTC schedules,
//! for whichever of the two files the folder has. Where systemd runs, one service and one timer
//! per job (`OnCalendar=... UTC`, a randomized delay so that a
//! run starts after its time, `Persistent=true` so a missed run happens at boot); elsewhere a crontab
//! block with `CRON_TZ=UTC`. Each run is `setup standalone backup --only COMPONENT` in this folder.
//! Units are named per folder; a folder or binary path that a unit or crontab would misread is
//! refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli::ScheduleAction;
use crate::diag::Diag;
use crate::failure::Failure;
use crate::options::Options;

pub struct Job {
    pub component: String,
    /// For a weekly job (the drill): the weekday, Sunday 0.
    pub weekday: Option<u32>,
    pub hour: u32,
    pub minute: u32,
}

impl Job {
    /// What the job runs, after the binary.
    fn command(&self) -> String {
        if self.component == "drill" {
            "standalone drill --non-interactive".into()
        } else {
            format!(
                "standalone backup --only {} --non-interactive",
                self.component
            )
        }
    }

    pub fn what(&self) -> String {
        if self.component == "drill" {
            "drill".into()
        } else {
            format!("{} backup", self.component)
        }
    }

    fn of(&self) -> &'static str {
        if self.component == "drill" {
            "of the DR site"
        } else {
            "of the DC"
        }
    }
}

/// The folder's scheduled jobs: the drill of restore.yml, the backups of backup.yml.
pub fn jobs(o: &Options) -> Result<Vec<Job>, Failure> {
    let mut jobs = Vec::new();
    if o.restore_file.path.exists()
        && let Some((weekday, hour, minute)) = crate::world::load_restore_only(o)?.drill_schedule
    {
        jobs.push(Job {
            component: "drill".into(),
            weekday: Some(weekday),
            hour,
            minute,
        });
    }
    if !o.backup_file.path.exists() && !jobs.is_empty() {
        return Ok(jobs);
    }
    let spec = crate::world::load_backup_only(o)?;
    jobs.extend(
        spec.schedule
            .iter()
            .filter(|(c, _)| spec.components.contains(c))
            .filter_map(|(c, t)| {
                let t = chrono::NaiveTime::parse_from_str(t, "%H:%M").ok()?;
                use chrono::Timelike;
                Some(Job {
                    component: c.clone(),
                    weekday: None,
                    hour: t.hour(),
                    minute: t.minute(),
                })
            }),
    );
    Ok(jobs)
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn quote(p: &Path) -> String {
    crate::transport::quote(&p.display().to_string())
}

/// A path written into a systemd unit or a crontab line must be read back as that path: a newline
/// would add lines (systemd runs its units as root), `%` is a systemd specifier and ends a cron
/// command, quotes, backslashes and blanks are syntax to both. Such paths are refused, not escaped.
fn plain_path(what: &str, p: &Path) -> Result<(), Failure> {
    let text = p.display().to_string();
    let bad = text
        .chars()
        .find(|c| !(c.is_alphanumeric() || "/._-+@,:=~".contains(*c)));
    match bad {
        None => Ok(()),
        Some(c) => Err(Failure::invalid(
            Diag::plain(
                "schedule_path",
                format!(
                    "{what} {} holds {}, which a systemd unit or a crontab line would read as syntax",
                    crate::storage::shown(&text),
                    crate::storage::shown(&format!("{c:?}"))
                ),
            )
            .help("move it to a path of letters, digits and `/._-+@,:=~` (or link it from one), then install the schedule from there"),
        )),
    }
}

/// The unit name of this folder's `component` backups: two DC folders on one machine keep their
/// own timers (`setup-backup-<folder digest>-config`).
fn unit_name(dir: &Path, component: &str) -> String {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(dir.display().to_string().as_bytes()));
    if component == "drill" {
        return format!("setup-drill-{}", &digest[..8]);
    }
    format!("setup-backup-{}-{component}", &digest[..8])
}

/// The systemd units: (file name, text).
fn units(jobs: &[Job], dir: &Path, exe: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for j in jobs {
        let name = unit_name(dir, &j.component);
        out.push((
            format!("{name}.service"),
            format!(
                "[Unit]\nDescription=setup: {c} {of} in {d}\nWants=network-online.target\nAfter=network-online.target\n\n[Service]\nType=oneshot\nWorkingDirectory={d}\nExecStart={e} {run}\n",
                c = j.what(),
                of = j.of(),
                run = j.command(),
                d = dir.display(),
                e = exe.display()
            ),
        ));
        out.push((
            format!("{name}.timer"),
            format!(
                "[Unit]\nDescription=setup: {c} every {every} at {h:02}:{m:02} UTC\n\n[Timer]\nOnCalendar={dow}*-*-* {h:02}:{m:02}:00 UTC\nRandomizedDelaySec=10min\nPersistent=true\nUnit={name}.service\n\n[Install]\nWantedBy=timers.target\n",
                c = j.what(),
                every = j.weekday.map_or("day", |d| DAYS[d as usize]),
                dow = j.weekday.map_or(String::new(), |d| format!("{} ", DAYS[d as usize])),
                h = j.hour,
                m = j.minute
            ),
        ));
    }
    out
}

fn marks(dir: &Path) -> (String, String) {
    (
        format!("# BEGIN setup backups of {}", dir.display()),
        format!("# END setup backups of {}", dir.display()),
    )
}

/// The crontab block: UTC times, a random delay of up to ten minutes, a log in `.setup/`.
fn cron_block(jobs: &[Job], dir: &Path, exe: &Path) -> String {
    let (begin, end) = marks(dir);
    let mut s = format!("{begin}\nCRON_TZ=UTC\n");
    for j in jobs {
        s += &format!(
            "{m} {h} * * {dow} sleep $(od -An -N2 -tu2 /dev/urandom | awk '{{print $1 - int($1/600)*600}}'); cd {d} && {e} {run} >> .setup/schedule-{c}.log 2>&1\n",
            m = j.minute,
            h = j.hour,
            dow = j.weekday.map_or("*".to_string(), |d| d.to_string()),
            run = j.command(),
            d = quote(dir),
            e = quote(exe),
            c = j.component
        );
    }
    s + &end + "\n"
}

/// A crontab without this folder's block.
fn without_block(crontab: &str, dir: &Path) -> String {
    let (begin, end) = marks(dir);
    let mut out = String::new();
    let mut inside = false;
    for line in crontab.lines() {
        if line == begin {
            inside = true;
        } else if line == end {
            inside = false;
        } else if !inside {
            out += line;
            out.push('\n');
        }
    }
    out
}

fn sh(program: &str, args: &[&str], input: Option<&str>) -> Result<String, String> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{program}` cannot run here: {e}"))?;
    if let Some(text) = input {
        use std::io::Write;
        let _ = child
            .stdin
            .take()
            .expect("piped")
            .write_all(text.as_bytes());
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "`{program} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Where this machine runs the DC folder's scheduled jobs (`systemd timers` or `crontab`), and
/// whether they are installed there. Reads the unit files, or the crontab (`crontab -l`).
pub fn placement(o: &Options) -> Result<(&'static str, bool), Failure> {
    let dir = std::fs::canonicalize(&o.dir)
        .map_err(|e| Failure::Other(format!("{}: {e}", o.dir.display())))?;
    if Path::new("/run/systemd/system").is_dir() {
        let exe = std::env::current_exe().map_err(|e| Failure::Other(e.to_string()))?;
        let unit_dir = PathBuf::from("/etc/systemd/system");
        let installed = units(&jobs(o)?, &dir, &exe)
            .iter()
            .all(|(n, _)| unit_dir.join(n).exists());
        return Ok(("systemd timers", installed));
    }
    Ok(("crontab", current_crontab().contains(&marks(&dir).0)))
}

fn current_crontab() -> String {
    // No crontab yet is not an error.
    sh("crontab", &["-l"], None).unwrap_or_default()
}

pub fn run(o: &Options, action: ScheduleAction) -> Result<i32, Failure> {
    let jobs = jobs(o)?;
    let dir = std::fs::canonicalize(&o.dir)
        .map_err(|e| Failure::Other(format!("{}: {e}", o.dir.display())))?;
    let exe = std::env::current_exe().map_err(|e| Failure::Other(e.to_string()))?;
    plain_path("the DC folder", &dir)?;
    plain_path("the setup binary", &exe)?;
    let systemd = Path::new("/run/systemd/system").is_dir();
    let unit_dir = PathBuf::from("/etc/systemd/system");
    let units = units(&jobs, &dir, &exe);
    let block = cron_block(&jobs, &dir, &exe);
    let fail = |e: String| Failure::Other(e);
    match action {
        ScheduleAction::Show => {
            for (name, text) in &units {
                super::say!("--- {name} ---\n{text}");
            }
            super::say!("--- crontab ---\n{block}");
            let (place, installed) = placement(o)?;
            super::say!(
                "Where this machine runs them: {place} ({})",
                if installed {
                    "installed"
                } else {
                    "not installed"
                }
            );
        }
        ScheduleAction::Install if systemd => {
            for (name, text) in &units {
                std::fs::write(unit_dir.join(name), text)
                    .map_err(|e| fail(format!("writing {}: {e}", unit_dir.join(name).display())))?;
            }
            sh("systemctl", &["daemon-reload"], None).map_err(fail)?;
            for (name, _) in units.iter().filter(|(n, _)| n.ends_with(".timer")) {
                sh("systemctl", &["enable", "--now", name], None).map_err(fail)?;
                super::say!("installed {name}");
            }
        }
        ScheduleAction::Install => {
            let _ = std::fs::create_dir_all(dir.join(".setup"));
            let next = without_block(&current_crontab(), &dir) + &block;
            sh("crontab", &["-"], Some(&next)).map_err(fail)?;
            super::say!("installed in the crontab:\n{block}");
        }
        ScheduleAction::Remove if systemd => {
            for (name, _) in units.iter().filter(|(n, _)| n.ends_with(".timer")) {
                let _ = sh("systemctl", &["disable", "--now", name], None);
            }
            for (name, _) in &units {
                let _ = std::fs::remove_file(unit_dir.join(name));
            }
            sh("systemctl", &["daemon-reload"], None).map_err(fail)?;
            super::say!("removed the setup backup timers");
        }
        ScheduleAction::Remove => {
            let next = without_block(&current_crontab(), &dir);
            sh("crontab", &["-"], Some(&next)).map_err(fail)?;
            super::say!(
                "removed the setup backups of {} from the crontab",
                dir.display()
            );
        }
    }
    Ok(0)
}
