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

use serde_json::{Value as J, json};

use super::schema::Checker;
use crate::yaml::{Kind, Node};

const DRILL_KEYS: &[&str] = &["rto_target", "checks", "start", "stop", "health_url"];
const TARGET_KEYS: &[&str] = &["config", "full"];
const CHECK_KEYS: &[&str] = &["name", "on", "sql", "command", "expect"];
const SCHEDULE_KEYS: &[&str] = &["drill"];
/// Seed 003's targets: the configuration back within 10 minutes, everything within 30.
pub const DEFAULT_TARGETS: (u64, u64) = (600, 1800);

/// The drill's settings as templates see them (`drill.*`), with defaults filled in.
pub fn defaults() -> J {
    json!({
        "rto_target": { "config": DEFAULT_TARGETS.0, "full": DEFAULT_TARGETS.1 },
        "director_checks": [],
        "analytics_checks": [],
        "start": "",
        "stop": "",
        "health_url": "",
    })
}

pub fn parse(c: &mut Checker<'_>, node: &Node) -> J {
    let mut out = defaults();
    let Some(entries) = c.map(node, "drill", DRILL_KEYS) else {
        return out;
    };
    for (k, v) in entries {
        match k.scalar_text().unwrap_or_default().as_str() {
            "rto_target" => {
                for (tk, tv) in c.map(v, "drill.rto_target", TARGET_KEYS).unwrap_or(&[]) {
                    let key = tk.scalar_text().unwrap_or_default();
                    if let Some(secs) = c.duration(tv, &format!("drill.rto_target.{key}")) {
                        out["rto_target"][key] = secs.into();
                    }
                }
            }
            "checks" => checks(c, v, &mut out),
            key @ ("start" | "stop" | "health_url") => {
                if let Some(s) = c.string(v, &format!("drill.{key}")) {
                    out[key] = s.into();
                }
            }
            _ => {}
        }
    }
    if out["start"] != "" && out["stop"] == "" {
        c.error(
            "drill_start_without_stop",
            node,
            "`drill.start` starts a sandbox director, but no `drill.stop` stops it again",
        )
        .help = Some("add `stop:`, the command that stops what `start` started".into());
    }
    if let Some(url) = out["health_url"].as_str()
        && !url.is_empty()
        && !url.starts_with("http://")
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

fn checks(c: &mut Checker<'_>, node: &Node, out: &mut J) {
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
        let mut check = serde_json::Map::new();
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or_default();
            // `expect: 2` means the output "2".
            let text = match &v.kind {
                Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => v.scalar_text(),
                _ => c.string(v, &format!("drill.checks[].{key}")),
            };
            if let Some(t) = text {
                check.insert(key, t.into());
            }
        }
        let has = |k: &str| check.get(k).is_some_and(|v| v != "");
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
            .and_then(J::as_str)
            .unwrap_or("director")
            .to_string();
        if has("sql") && on != "director" {
            c.error("drill_check", item, "an `sql` check runs on the director")
                .label = "sql on another host".into();
            continue;
        }
        let list = match on.as_str() {
            "director" => "director_checks",
            "analytics" => "analytics_checks",
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
        check.entry("expect").or_insert("".into());
        check.entry("sql").or_insert("".into());
        check.entry("command").or_insert("".into());
        out[list]
            .as_array_mut()
            .expect("a list")
            .push(J::Object(check));
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
