//! The recovery point: how old the restored data is at the start of the run. The configuration
//! backup's time comes from its name (`...YYYYMMDDTHHMMSSZ...`); the analytics data is as recent as
//! the end of the last day restored.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value as J;

/// How old the restored data is at the start of the run, per component (each absent when not
/// known).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Rpo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ConfigAge>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analytics: Option<AnalyticsAge>,
}

/// The configuration backup's time (from its name) and its age at the start of the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConfigAge {
    pub as_of: String,
    pub age_seconds: i64,
}

/// The last day of analytics restored (or restored before) and the age of its end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AnalyticsAge {
    pub through: String,
    pub age_seconds: i64,
}

impl Rpo {
    /// Each component's age in seconds, by component name (`analytics`, then `config`).
    pub fn ages(&self) -> Vec<(&'static str, i64)> {
        let analytics = self
            .analytics
            .as_ref()
            .map(|a| ("analytics", a.age_seconds));
        let config = self.config.as_ref().map(|c| ("config", c.age_seconds));
        analytics.into_iter().chain(config).collect()
    }
}

/// The first `YYYYMMDDTHHMMSSZ` in a backup name.
pub fn stamp_in(name: &str) -> Option<DateTime<Utc>> {
    let b = name.as_bytes();
    (0..b.len().saturating_sub(15)).find_map(|i| {
        let s = name.get(i..i + 16)?;
        (s.as_bytes()[8] == b'T' && s.ends_with('Z'))
            .then(|| NaiveDateTime::parse_from_str(&s[..15], "%Y%m%dT%H%M%S").ok())
            .flatten()
            .map(|t| Utc.from_utc_datetime(&t))
    })
}

/// When a backup was taken, read from its name: a `YYYYMMDDTHHMMSSZ` stamp, else the end of the
/// day a `YYYY-MM-DD` date names (an analytics day holds data up to its end).
pub fn time_in_name(name: &str) -> Option<DateTime<Utc>> {
    stamp_in(name).or_else(|| {
        (0..name.len().saturating_sub(9)).find_map(|i| {
            let s = name.get(i..i + 10)?;
            let b = s.as_bytes();
            let shape = b.iter().enumerate().all(|(j, c)| {
                if j == 4 || j == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
            if !shape {
                return None;
            }
            let d = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            let end = d.succ_opt()?.and_hms_opt(0, 0, 0)?;
            Some(Utc.from_utc_datetime(&end))
        })
    })
}

fn age(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    span(to - from)
}

/// A span of time for people: `50m`, `5h 10m`, `40d 3h` (a negative one is `0m`).
pub fn span(d: chrono::Duration) -> String {
    let s = d.num_seconds().max(0);
    match s {
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s => format!("{}d {}h", s / 86400, s % 86400 / 3600),
    }
}

/// The RPO lines for people and the `rpo` object for machines (none when `restored` is false: the
/// run did not complete, and the data on the hosts is what it was before).
pub fn rpo(
    config_backup: Option<&str>,
    gate: Option<&J>,
    start: DateTime<Utc>,
    restored: bool,
) -> (String, Option<Rpo>) {
    let mut text = String::new();
    let mut out = Rpo::default();
    if !restored {
        return (String::new(), None);
    }
    if let Some(t) = config_backup.and_then(stamp_in) {
        text += &format!(
            "RPO configuration: backup of {} ({} before the run)\n",
            t.format("%Y-%m-%dT%H:%M:%SZ"),
            age(t, start)
        );
        out.config = Some(ConfigAge {
            as_of: t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            age_seconds: (start - t).num_seconds().max(0),
        });
    }
    let through = gate.and_then(|g| {
        g["selected"]
            .as_array()
            .and_then(|s| s.last())
            .and_then(|s| s["date"].as_str())
            .or_else(|| g["through"].as_str())
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    });
    if let Some(d) = through {
        let end = Utc.from_utc_datetime(
            &d.succ_opt()
                .unwrap_or(d)
                .and_hms_opt(0, 0, 0)
                .expect("midnight"),
        );
        text += &format!(
            "RPO analytics: restored through {d} (its end is {} before the run)\n",
            age(end, start)
        );
        out.analytics = Some(AnalyticsAge {
            through: d.to_string(),
            age_seconds: (start - end).num_seconds().max(0),
        });
    }
    (text, Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_time_comes_from_the_name() {
        let t = stamp_in("site/director-config-20261120T020000Z.tar.zst.age").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-20T02:00:00+00:00");
        assert_eq!(stamp_in("director-config.tar"), None);
        assert_eq!(stamp_in("x-20261320T020000Z"), None);
    }

    #[test]
    fn ages_are_measured_from_the_start_of_the_run() {
        let start = Utc.with_ymd_and_hms(2026, 11, 23, 0, 0, 0).unwrap();
        let gate =
            json!({"selected": [{"date": "2026-11-21"}, {"date": "2026-11-22"}], "through": null});
        let (text, v) = rpo(
            Some("director-config-20261120T020000Z.tar"),
            Some(&gate),
            start,
            true,
        );
        assert_eq!(
            text,
            "RPO configuration: backup of 2026-11-20T02:00:00Z (2d 22h before the run)\nRPO analytics: restored through 2026-11-22 (its end is 0m before the run)\n"
        );
        let v = v.expect("restored");
        assert_eq!(v.config.map(|c| c.age_seconds), Some(252_000));
        assert_eq!(v.analytics.map(|a| a.age_seconds), Some(0));
        assert_eq!(rpo(None, None, start, false).1, None);
    }
}
