//! How fresh a site's backups are. For each component, the newest backup in storage that this site
//! trusts (its signature verifies, as `latest` and the gate judge it); its age against the answer
//! `max_backup_age.COMPONENT` (default 2 days for the configuration, 8 days for analytics); and a
//! backup this site saw before that is no longer there. Someone who can delete or empty objects in
//! the bucket, but holds no key, can roll storage back to older backups: the age and the vanished
//! backup say so before a restore puts an old configuration in place.
//!
//! The newest trusted backup seen of each component is remembered in `.setup/newest-seen.json` in
//! the documents' folder (owner-only), beside the journal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::authentic::Trust;
use crate::storage::{Storage, StorageError};

/// The components whose backups have an age.
pub const COMPONENTS: [&str; 2] = ["config", "analytics"];

/// What a component's backup is called in messages.
pub fn what(component: &str) -> &'static str {
    match component {
        "config" => "configuration backup",
        _ => "analytics snapshot",
    }
}

/// The answer that bounds a component's age.
pub fn answer_key(component: &str) -> String {
    format!("max_backup_age.{component}")
}

/// The default bound: two days for the configuration (taken daily), eight for analytics (a week,
/// plus the day it takes to be over).
pub fn default_limit(component: &str) -> Duration {
    match component {
        "config" => Duration::days(2),
        _ => Duration::days(8),
    }
}

pub use crate::answers::parse_age;

/// The bound for `component`: its answer, else the default (a malformed answer is refused when the
/// answers are read).
pub fn limit(answers: &crate::answers::Answers, component: &str) -> Duration {
    answers
        .text(&answer_key(component))
        .and_then(|t| parse_age(&t))
        .unwrap_or_else(|| default_limit(component))
}

/// An age for people: `50m`, `5h 10m`, `40d 3h`.
pub use crate::report::rpo::span as shown;

/// The newest trusted backup of a component: its name and when it was taken (the time its name
/// carries; an analytics day holds data up to its end). The name is the one its signed manifest
/// names, so it cannot be changed without a key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Newest {
    pub object: String,
    pub taken_at: DateTime<Utc>,
}

/// The newest backup of `component` this site trusts, among those not dated after `now` (a name
/// in the future never counts). `None`: there is none. An error: the storage cannot be listed.
pub async fn newest(
    storage: &dyn Storage,
    trust: &Trust,
    analytics: &crate::answers::AnalyticsAnswers,
    component: &str,
    now: DateTime<Utc>,
) -> Result<Option<Newest>, StorageError> {
    let (prefix, pattern) = match component {
        "config" => ("director-config-".to_string(), None),
        _ => {
            let text = analytics
                .pattern
                .clone()
                .unwrap_or_else(|| crate::gate::DEFAULT_PATTERN.into());
            let Ok(pattern) = crate::gate::Pattern::new(&text) else {
                return Ok(None);
            };
            let prefix = analytics
                .prefix
                .clone()
                .unwrap_or_else(|| pattern.literal_prefix().to_string());
            (prefix, Some(pattern))
        }
    };
    let mut candidates: Vec<(DateTime<Utc>, String)> = storage
        .list(&prefix)
        .await?
        .into_iter()
        .map(|o| o.name)
        .filter(|n| !crate::storage::is_companion(n))
        .filter_map(|n| {
            let taken = match &pattern {
                Some(p) => p.date_of(&n).and_then(|d| {
                    crate::report::rpo::time_in_name(&d.format("%Y-%m-%d").to_string())
                }),
                None => crate::report::rpo::stamp_in(&n),
            }?;
            (taken <= now + Duration::days(1) && crate::gate::safe_name(&n)).then_some((taken, n))
        })
        .collect();
    candidates.sort_by(|a, b| b.cmp(a));
    for (taken_at, object) in candidates {
        if pattern.is_none() && taken_at > now {
            continue;
        }
        if crate::authentic::check(storage, &object, trust)
            .await
            .is_ok()
        {
            return Ok(Some(Newest { object, taken_at }));
        }
    }
    Ok(None)
}

/// A bound as the answer would give it: `2d`, `36h`, `90m`.
pub fn shown_limit(d: Duration) -> String {
    let m = d.num_minutes();
    match m {
        m if m % 1440 == 0 => format!("{}d", m / 1440),
        m if m % 60 == 0 => format!("{}h", m / 60),
        m => format!("{m}m"),
    }
}

/// A component whose newest backup is too old.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stale {
    /// What is too old, and how old.
    pub text: String,
    /// The answer that would accept it: `max_backup_age.config=18d`.
    pub accept: String,
}

/// Why the newest backup of `component` is too old for `limit` at `now`, if it is.
pub fn stale(
    component: &str,
    newest: Option<&Newest>,
    limit: Duration,
    now: DateTime<Utc>,
) -> Option<Stale> {
    let n = newest?;
    let age = now - n.taken_at;
    (age > limit).then(|| Stale {
        text: format!(
            "the newest {} this site trusts, {}, is {} old (taken {}), beyond max_backup_age.{component} ({})",
            what(component),
            crate::storage::shown(&n.object),
            shown(age),
            n.taken_at.format("%Y-%m-%dT%H:%M:%SZ"),
            shown_limit(limit),
        ),
        accept: format!("max_backup_age.{component}={}d", age.num_days() + 1),
    })
}

/// What is said after the backups that are too old: why it matters and how to go on.
pub fn stale_advice(stale: &[Stale]) -> String {
    format!(
        "The DC may have stopped taking backups, or storage was rolled back (newer backups deleted or emptied): check the storage. To accept the age, give a larger bound: {}",
        stale
            .iter()
            .map(|s| format!("--set {}", s.accept))
            .collect::<Vec<_>>()
            .join(" ")
    )
}

/// The newest trusted backup of each component this site has seen, as remembered.
#[derive(Debug, Default)]
pub struct Remembered {
    /// `None`: read only (a `--check` writes nothing).
    path: Option<PathBuf>,
    seen: BTreeMap<String, Newest>,
}

/// Where the record lives in a site's folder.
pub fn record_path(dir: &Path) -> PathBuf {
    dir.join(".setup").join("newest-seen.json")
}

impl Remembered {
    /// The record of the site in `dir` (none yet, or unreadable: nothing remembered).
    pub fn load(dir: &Path) -> Remembered {
        let path = record_path(dir);
        let seen = std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default();
        Remembered {
            path: Some(path),
            seen,
        }
    }

    /// The record, read but never written.
    pub fn read_only(dir: &Path) -> Remembered {
        Remembered {
            path: None,
            ..Remembered::load(dir)
        }
    }

    /// A backup this site saw as the newest of `component` that is newer than the newest trusted
    /// one in storage now: it was deleted or emptied, or its signature was.
    pub fn vanished(&self, component: &str, now_newest: Option<&Newest>) -> Option<String> {
        let seen = self.seen.get(component)?;
        if now_newest.is_some_and(|n| n.taken_at >= seen.taken_at) {
            return None;
        }
        let instead = match now_newest {
            Some(n) => format!(
                "the newest there now is {}, taken {}",
                crate::storage::shown(&n.object),
                n.taken_at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            None => "none is there now".into(),
        };
        Some(format!(
            "VANISHED: {} (taken {}), the newest {} this site saw, is no longer in storage as a trusted backup (deleted, emptied, or its signature removed); {instead}: check the storage before trusting what it holds",
            crate::storage::shown(&seen.object),
            seen.taken_at.format("%Y-%m-%dT%H:%M:%SZ"),
            what(component),
        ))
    }

    /// Remembers `newest` as the newest of `component` when it is newer than what was remembered.
    /// A record that cannot be written is a warning.
    pub fn remember(&mut self, component: &str, newest: &Newest) {
        if self
            .seen
            .get(component)
            .is_some_and(|s| s.taken_at >= newest.taken_at)
        {
            return;
        }
        self.seen.insert(component.to_string(), newest.clone());
        let Some(path) = &self.path else {
            return;
        };
        let text = serde_json::to_string_pretty(&self.seen).expect("json");
        let written = path
            .parent()
            .map_or(Ok(()), std::fs::create_dir_all)
            .and_then(|()| crate::report::journal::write_private(path, &text));
        if let Err(e) = written {
            eprintln!(
                "warning: {} cannot be written ({e}): a backup that vanishes from storage cannot be noticed",
                path.display()
            );
        }
    }
}

/// What a run learns of its components' backups: each one too old, each one vanished.
#[derive(Debug, Default)]
pub struct Assessment {
    pub stale: Vec<Stale>,
    pub vanished: Vec<String>,
    /// The newest trusted backup of each component looked at (`None`: none in storage).
    pub newest: BTreeMap<String, Option<Newest>>,
}

/// Looks at each of `components` (those with an age) in storage: its newest trusted backup, its
/// age at `now` against the answers' bound, and what vanished since the record. The record learns
/// each newest backup unless it is read only. A component whose storage cannot be listed is left to
/// the run, which says why.
pub async fn assess(
    storage: &dyn Storage,
    trust: &Trust,
    answers: &crate::answers::Answers,
    components: &[String],
    now: DateTime<Utc>,
    record: &mut Remembered,
) -> Assessment {
    let mut a = Assessment::default();
    let analytics = answers.analytics();
    let wanted: Vec<&str> = COMPONENTS
        .into_iter()
        .filter(|c| components.iter().any(|x| x == c))
        .collect();
    // The components are looked at side by side: a storage that does not answer costs one wait.
    let found = futures_util::future::join_all(
        wanted
            .iter()
            .map(|c| newest(storage, trust, &analytics, c, now)),
    )
    .await;
    for (c, n) in wanted.into_iter().zip(found) {
        let Ok(n) = n else {
            continue;
        };
        a.vanished.extend(record.vanished(c, n.as_ref()));
        a.stale.extend(stale(c, n.as_ref(), limit(answers, c), now));
        if let Some(n) = &n {
            record.remember(c, n);
        }
        a.newest.insert(c.to_string(), n);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap()
    }

    #[test]
    fn an_age_is_a_whole_number_and_a_unit() {
        assert_eq!(parse_age("2d"), Some(Duration::days(2)));
        assert_eq!(parse_age(" 36h "), Some(Duration::hours(36)));
        assert_eq!(parse_age("90m"), Some(Duration::minutes(90)));
        assert_eq!(parse_age("1w"), Some(Duration::weeks(1)));
        for bad in ["", "d", "2", "0d", "-1d", "2 days", "1.5d", "2y", "999999d"] {
            assert_eq!(parse_age(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_backup_older_than_the_bound_is_named_with_its_age() {
        let n = Newest {
            object: "director-config-20261020T020000Z.tar".into(),
            taken_at: Utc.with_ymd_and_hms(2026, 10, 20, 2, 0, 0).unwrap(),
        };
        let why = stale("config", Some(&n), Duration::days(2), at(29, 5)).unwrap();
        assert!(
            why.text
                .contains("director-config-20261020T020000Z.tar, is 40d 3h old"),
            "{why:?}"
        );
        assert!(
            why.text.ends_with("beyond max_backup_age.config (2d)"),
            "{why:?}"
        );
        assert_eq!(why.accept, "max_backup_age.config=41d");
        assert!(stale_advice(&[why]).ends_with("--set max_backup_age.config=41d"));
        assert_eq!(shown_limit(Duration::hours(36)), "36h");
        assert_eq!(shown_limit(Duration::minutes(90)), "90m");
        assert_eq!(
            stale("config", Some(&n), Duration::days(41), at(29, 5)),
            None
        );
        assert_eq!(stale("config", None, Duration::days(2), at(29, 5)), None);
    }

    #[test]
    fn a_newer_backup_seen_before_and_gone_now_is_vanished() {
        let old = Newest {
            object: "director-config-20261020T020000Z.tar".into(),
            taken_at: at(20, 2),
        };
        let new = Newest {
            object: "director-config-20261128T020000Z.tar".into(),
            taken_at: at(28, 2),
        };
        let mut r = Remembered::default();
        assert_eq!(r.vanished("config", Some(&old)), None);
        r.remember("config", &new);
        r.remember("config", &old);
        let why = r.vanished("config", Some(&old)).unwrap();
        assert!(
            why.starts_with("VANISHED: director-config-20261128T020000Z.tar"),
            "{why}"
        );
        assert!(why.contains("the newest there now is director-config-20261020T020000Z.tar"));
        assert!(
            r.vanished("config", None)
                .unwrap()
                .contains("none is there now")
        );
        assert_eq!(r.vanished("config", Some(&new)), None);
        assert_eq!(r.vanished("analytics", None), None);
    }
}
