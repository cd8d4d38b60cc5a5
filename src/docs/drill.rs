//! restore.yml's `drill:` (what a drill checks besides the manifests, its RTO targets, a sandbox
//! director) and `schedule: { drill: "Sun 04:00" }` (a weekly drill, UTC).
//!
//! ```yaml
//! drill:
//!   rto_target: { config: 10m, full: 30m }
//!   checks:
//!     - { name: tenants are there, sql: "SELECT count(*) FROM tenants", expect: "2" }
//!     - { name: the index is there, on: analytics, command: 'test -s "$SETUP_DRILL_DATA_DIR/index.json"' }
//!   start: director --config "$SETUP_DRILL_CONFIG_DIR" --port 18080   # on the director
//!   stop: pkill -f 'director --config .*drill'
//!   health_url: http://127.0.0.1:18080/health
//! schedule: { drill: "Sun 04:00" }
//! ```

use serde::Serialize;

use super::schema::Checker;
use crate::yaml::{Kind, Node};

const DRILL_KEYS: &[&str] = &["rto_target", "checks", "start", "stop", "health_url"];
const TARGET_KEYS: &[&str] = &["config", "full"];
const CHECK_KEYS: &[&str] = &["name", "on", "sql", "command", "expect"];
const SCHEDULE_KEYS: &[&str] = &["drill"];
/// Seed 003's targets: the configuration back within 10 minutes, everything within 30.
pub const DEFAULT_TARGETS: (u64, u64) = (600, 1800);

/// The drill's settings, as templates see them (`drill.*`): restore.yml's, defaults filled in.
#[derive(Clone, Debug, Serialize)]
pub struct Drill {
    pub rto_target: RtoTarget,
    pub director_checks: Vec<Check>,
    pub analytics_checks: Vec<Check>,
    /// Starts a sandbox director (on the director), empty for none.
    pub start: String,
    pub stop: String,
    /// An http:// address the sandbox director answers 2xx at, empty for none.
    pub health_url: String,
}

/// How long a restore may take, in seconds: the configuration alone, and everything.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct RtoTarget {
    pub config: u64,
    pub full: u64,
}

impl RtoTarget {
    pub fn of(&self, component: &str) -> Option<u64> {
        match component {
            "config" => Some(self.config),
            "full" => Some(self.full),
            _ => None,
        }
    }
}

/// One of the site's own checks: SQL in the drill's database, or a command on the host.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Check {
    pub name: String,
    pub sql: String,
    pub command: String,
    /// What it must print; empty: that it succeeds.
    pub expect: String,
}

impl Default for Drill {
    fn default() -> Drill {
        Drill {
            rto_target: RtoTarget {
                config: DEFAULT_TARGETS.0,
                full: DEFAULT_TARGETS.1,
            },
            director_checks: Vec::new(),
            analytics_checks: Vec::new(),
            start: String::new(),
            stop: String::new(),
            health_url: String::new(),
        }
    }
}

pub fn parse(c: &mut Checker<'_>, node: &Node) -> Drill {
    let mut out = Drill::default();
    let Some(entries) = c.map(node, "drill", DRILL_KEYS) else {
        return out;
    };
    for (k, v) in entries {
        match k.scalar_text().unwrap_or_default().as_str() {
            "rto_target" => {
                for (tk, tv) in c.map(v, "drill.rto_target", TARGET_KEYS).unwrap_or(&[]) {
                    let key = tk.scalar_text().unwrap_or_default();
                    if let Some(secs) = c.duration(tv, &format!("drill.rto_target.{key}")) {
                        match key.as_str() {
                            "config" => out.rto_target.config = secs,
                            _ => out.rto_target.full = secs,
                        }
                    }
                }
            }
            "checks" => checks(c, v, &mut out),
            key @ ("start" | "stop" | "health_url") => {
                if let Some(s) = c.string(v, &format!("drill.{key}")) {
                    *match key {
                        "start" => &mut out.start,
                        "stop" => &mut out.stop,
                        _ => &mut out.health_url,
                    } = s;
                }
            }
            _ => {}
        }
    }
    if !out.start.is_empty() && out.stop.is_empty() {
        c.error(
            "drill_start_without_stop",
            node,
            "`drill.start` starts a sandbox director, but no `drill.stop` stops it again",
        )
        .help = Some("add `stop:`, the command that stops what `start` started".into());
    }
    if !out.health_url.is_empty()
        && !out.health_url.starts_with("http://")
        && let Some(n) = node.get("health_url")
    {
        c.error(
            "drill_health_url",
            n,
            "`drill.health_url` must be an http:// URL",
        )
        .label = "not http://".into();
    }
    out
}

fn checks(c: &mut Checker<'_>, node: &Node, out: &mut Drill) {
    let Kind::Seq(items) = &node.kind else {
        if !node.is_null() {
            c.error("wrong_type", node, "`drill.checks` is a list of checks")
                .help = Some("write `checks: [ { name: ..., sql: ..., expect: ... } ]`".into());
        }
        return;
    };
    for item in items {
        let Some(entries) = c.map(item, "drill.checks[]", CHECK_KEYS) else {
            continue;
        };
        let mut check = std::collections::BTreeMap::new();
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or_default();
            // `expect: 2` means the output "2".
            let text = match &v.kind {
                Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => v.scalar_text(),
                _ => c.string(v, &format!("drill.checks[].{key}")),
            };
            if let Some(t) = text {
                check.insert(key, t);
            }
        }
        let field = |k: &str| check.get(k).cloned().unwrap_or_default();
        let has = |k: &str| !field(k).is_empty();
        if !has("name") {
            c.error("drill_check", item, "a drill check needs a `name`")
                .label = "no name".into();
            continue;
        }
        if has("sql") == has("command") {
            c.error(
                "drill_check",
                item,
                "a drill check has either `sql` (run in the drill's database) or `command` (run on the host)",
            )
            .label = "one of sql or command".into();
            continue;
        }
        let on = check
            .get("on")
            .cloned()
            .unwrap_or_else(|| "director".into());
        if has("sql") && on != "director" {
            c.error("drill_check", item, "an `sql` check runs on the director")
                .label = "sql on another host".into();
            continue;
        }
        let list = match on.as_str() {
            "director" => &mut out.director_checks,
            "analytics" => &mut out.analytics_checks,
            _ => {
                c.error(
                    "drill_check",
                    item,
                    format!("`on: {on}`: a check runs on the director or on analytics"),
                )
                .label = "not a host group of the standalone topology".into();
                continue;
            }
        };
        list.push(Check {
            name: field("name"),
            sql: field("sql"),
            command: field("command"),
            expect: field("expect"),
        });
    }
}

/// `schedule: { drill: "Sun 04:00" }`: the weekday (0 = Sunday) and the time, UTC.
pub fn schedule(c: &mut Checker<'_>, node: &Node) -> Option<(u32, u32, u32)> {
    let entries = c.map(node, "schedule", SCHEDULE_KEYS)?;
    let (_, v) = entries
        .iter()
        .find(|(k, _)| k.scalar_text().as_deref() == Some("drill"))?;
    let text = c.string(v, "schedule.drill")?;
    let parsed = weekly(&text);
    if parsed.is_none() {
        c.error(
            "schedule_time",
            v,
            format!("`schedule.drill` is not a weekday and a time: `{text}`"),
        )
        .help = Some("write e.g. `drill: \"Sun 04:00\"`: every Sunday at 04:00 UTC".into());
    }
    parsed
}

/// `Sun 04:00` as (weekday with Sunday 0, hour, minute).
pub fn weekly(text: &str) -> Option<(u32, u32, u32)> {
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let (day, time) = text.trim().split_once(char::is_whitespace)?;
    let day = day.to_ascii_lowercase();
    let weekday = DAYS
        .iter()
        .position(|d| day.starts_with(d) && day.len() >= 3)? as u32;
    let t = chrono::NaiveTime::parse_from_str(time.trim(), "%H:%M").ok()?;
    use chrono::Timelike;
    Some((weekday, t.hour(), t.minute()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn weekly_times() {
        assert_eq!(super::weekly("Sun 04:00"), Some((0, 4, 0)));
        assert_eq!(super::weekly("saturday 23:15"), Some((6, 23, 15)));
        assert_eq!(super::weekly("Sun"), None);
        assert_eq!(super::weekly("Sun 25:00"), None);
        assert_eq!(super::weekly("Xyz 04:00"), None);
    }
}
