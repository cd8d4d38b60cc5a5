//! The weekly analytics gate as a pure function: which daily snapshots to restore, and why each was taken or left.
//!
//! Weeks are ISO weeks (Monday to Sunday) in UTC. A week is complete once `now` reaches the next Monday 00:00:00Z.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};

pub mod text;

pub const DEFAULT_PATTERN: &str = "analytics-{date}";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Mode {
    #[serde(rename = "weekly")]
    Weekly,
    #[serde(rename = "current-week")]
    CurrentWeek,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "weekly" => Some(Mode::Weekly),
            "current-week" => Some(Mode::CurrentWeek),
            _ => None,
        }
    }
}

/// What a daily snapshot holds: that day's changes only (`incremental`, the default: every day of
/// a week is restored, oldest first) or the whole week so far (`cumulative`: the latest day is enough).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub enum Snapshots {
    #[default]
    #[serde(rename = "incremental")]
    Incremental,
    #[serde(rename = "cumulative")]
    Cumulative,
}

impl Snapshots {
    pub const NAMES: &[&str] = &["incremental", "cumulative"];

    pub fn parse(s: &str) -> Option<Snapshots> {
        match s {
            "incremental" => Some(Snapshots::Incremental),
            "cumulative" => Some(Snapshots::Cumulative),
            _ => None,
        }
    }
}

/// What the DR site has restored so far, kept on the analytics host.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub through: Option<NaiveDate>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub name: String,
    pub date: NaiveDate,
    pub week: String,
    pub restored_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Selected {
    pub name: String,
    pub date: NaiveDate,
    pub week: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pending {
    pub week: String,
    pub restorable_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reason {
    pub name: String,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    pub mode: Mode,
    pub snapshots_hold: Snapshots,
    pub now: String,
    pub through: Option<NaiveDate>,
    pub selected: Vec<Selected>,
    pub pending: Vec<Pending>,
    pub gaps: Vec<String>,
    /// The first stored snapshot's day after the last restored one (after nothing: the first of
    /// all), and how many days lie between them with no snapshot.
    pub next_after: Option<NextAfter>,
    pub snapshots: Vec<Reason>,
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NextAfter {
    pub date: NaiveDate,
    pub days_between: i64,
}

/// A snapshot name pattern: literal text around one `{date}` (YYYY-MM-DD); any suffix may follow.
#[derive(Clone, Debug)]
pub struct Pattern {
    prefix: String,
    suffix: String,
    text: String,
}

impl Pattern {
    pub fn new(text: &str) -> Result<Pattern, String> {
        let (prefix, suffix) = text
            .split_once("{date}")
            .ok_or_else(|| format!("pattern `{text}` has no `{{date}}`"))?;
        Ok(Pattern {
            prefix: prefix.into(),
            suffix: suffix.into(),
            text: text.into(),
        })
    }

    pub fn date_of(&self, name: &str) -> Option<NaiveDate> {
        let rest = name.strip_prefix(&self.prefix)?;
        let date = NaiveDate::parse_from_str(rest.get(..10)?, "%Y-%m-%d").ok()?;
        rest[10..].starts_with(&self.suffix).then_some(date)
    }

    /// The text before `{date}`: a listing prefix.
    pub fn literal_prefix(&self) -> &str {
        &self.prefix
    }

    pub fn text(&self) -> &str {
        &self.text
    }
}

impl Default for Pattern {
    fn default() -> Self {
        Pattern::new(DEFAULT_PATTERN).expect("default pattern is valid")
    }
}

/// `2026-W47`.
pub fn week_label(d: NaiveDate) -> String {
    let w = d.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

pub fn week_monday(d: NaiveDate) -> NaiveDate {
    d - Duration::days(d.weekday().num_days_from_monday() as i64)
}

/// The instant a date's week becomes restorable: the next Monday, 00:00:00Z.
pub fn restorable_at(d: NaiveDate) -> DateTime<Utc> {
    let next = week_monday(d) + Duration::days(7);
    Utc.from_utc_datetime(&next.and_hms_opt(0, 0, 0).expect("midnight exists"))
}

fn stamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// What the signature check said of the snapshots: those it refused, with why, and those read
/// unsigned as `--allow-unsigned` allows. A snapshot named in neither is signed by a trusted key
/// (the caller checks every one the gate could choose).
#[derive(Clone, Debug, Default)]
pub struct Checks {
    pub refused: BTreeMap<String, String>,
    pub unsigned: std::collections::BTreeSet<String>,
}

pub struct Input<'a> {
    pub names: &'a [String],
    pub checks: &'a Checks,
    pub pattern: &'a Pattern,
    pub state: &'a State,
    pub now: DateTime<Utc>,
    pub mode: Mode,
    pub kind: Snapshots,
    pub since: Option<NaiveDate>,
}

/// Whether a listed name may be used as a snapshot: plain characters, no empty, `.` or `..` part,
/// no leading `-`. Names come from storage, which the restoring site does not control.
pub fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+=@,/".contains(&b))
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != "." && p != "..")
}

pub fn decide(input: &Input) -> Decision {
    let today = input.now.date_naive();
    let current_monday = week_monday(today);
    let through = input.state.through;
    let mut reasons: BTreeMap<usize, String> = BTreeMap::new();
    let mut warnings = Vec::new();
    // Candidates by week Monday: (date, unsigned, name, index); of one day, signed ones first.
    let mut weeks: BTreeMap<NaiveDate, Vec<(NaiveDate, bool, &str, usize)>> = BTreeMap::new();
    let mut seen_weeks: std::collections::BTreeSet<NaiveDate> = Default::default();
    let mut first: Option<NaiveDate> = None;
    let mut next: Option<NaiveDate> = None;
    let verified_days: std::collections::BTreeSet<NaiveDate> = input
        .names
        .iter()
        .filter(|n| safe_name(n) && !input.checks.refused.contains_key(*n))
        .filter_map(|n| input.pattern.date_of(n))
        .collect();
    for (i, name) in input.names.iter().enumerate() {
        if !safe_name(name) {
            reasons.insert(
                i,
                "unsafe name: only letters, digits, `._-+=@,` and `/` between parts (ignored)"
                    .into(),
            );
            warnings.push(format!(
                "snapshot {name:?} has an unsafe name and is never restored; rename it at the source"
            ));
            continue;
        }
        let Some(date) = input.pattern.date_of(name) else {
            reasons.insert(
                i,
                format!(
                    "name does not match the pattern `{}` (ignored)",
                    input.pattern.text()
                ),
            );
            continue;
        };
        if date > today {
            reasons.insert(
                i,
                format!("dated in the future ({date}, after today {today}; ignored)"),
            );
            warnings.push(format!(
                "snapshot `{name}` is dated in the future ({date}); check the source site's clock"
            ));
            continue;
        }
        // Of a day that has a snapshot whose signature verifies, only such a one is chosen: anyone
        // who can write to storage can drop a plain file named like a day, and it must not stand
        // in for that day's real one. A day with none that verifies keeps its snapshots, and the
        // restore refuses them (nothing is applied over that day's gap).
        if let Some(why) = input
            .checks
            .refused
            .get(name)
            .filter(|_| through.is_none_or(|t| date > t) && verified_days.contains(&date))
        {
            reasons.insert(i, format!("passed over: {why}"));
            warnings.push(format!(
                "snapshot `{name}` is passed over, never restored: {why}"
            ));
            continue;
        }
        seen_weeks.insert(week_monday(date));
        first = Some(first.map_or(date, |f: NaiveDate| f.min(date)));
        if through.is_none_or(|t| date > t) {
            next = Some(next.map_or(date, |n: NaiveDate| n.min(date)));
        }
        if let Some(t) = through.filter(|t| date <= *t) {
            let restored = input.state.history.iter().any(|h| h.name == *name);
            // A day's changes that arrive after later days were applied would go on top of them.
            let why = if restored
                || input.state.history.is_empty()
                || input.kind == Snapshots::Cumulative
            {
                format!("already restored (through {t})")
            } else {
                warnings.push(format!(
                    "snapshot `{name}` arrived after its days were restored (through {t}); it is never applied over newer data: restore that week again from scratch if it matters"
                ));
                format!("arrived late: the analytics data is restored through {t} (ignored)")
            };
            reasons.insert(i, why);
            continue;
        }
        weeks.entry(week_monday(date)).or_default().push((
            date,
            input.checks.unsigned.contains(name),
            name,
            i,
        ));
    }
    let mut selected = Vec::new();
    let mut pending = Vec::new();
    for (monday, mut snaps) in weeks {
        snaps.sort();
        let week = week_label(monday);
        let complete = monday < current_monday;
        if complete || input.mode == Mode::CurrentWeek {
            let of = if complete {
                format!("complete week {week}")
            } else {
                format!("current week {week} (current-week mode)")
            };
            // Cumulative: the latest day's last signed snapshot (an unsigned one only when that
            // day has no signed one).
            let last_day = snaps[snaps.len() - 1].0;
            let latest = snaps
                .iter()
                .rposition(|(d, unsigned, _, _)| *d == last_day && !unsigned)
                .unwrap_or(snaps.len() - 1);
            let chosen: Vec<usize> = match input.kind {
                Snapshots::Incremental => (0..snaps.len()).collect(),
                Snapshots::Cumulative => vec![latest],
            };
            let latest_name = snaps[latest].2;
            for (k, (date, _, name, i)) in snaps.iter().enumerate() {
                let first_of_day = snaps
                    .iter()
                    .position(|(d, _, _, _)| d == date)
                    .expect("its own day");
                let why = if !chosen.contains(&k) {
                    format!(
                        "superseded by `{latest_name}`, a later cumulative snapshot of week {week}"
                    )
                } else if input.kind == Snapshots::Cumulative {
                    format!("selected: latest of {of}")
                } else if first_of_day < k {
                    format!(
                        "left: a second snapshot of {date}; `{}` is applied",
                        snaps[first_of_day].2
                    )
                } else {
                    format!("selected: {} of {of}", date.format("%A"))
                };
                let taken = why.starts_with("selected");
                reasons.insert(*i, why);
                if taken {
                    selected.push(Selected {
                        name: name.to_string(),
                        date: *date,
                        week: week.clone(),
                    });
                }
            }
            if input.kind == Snapshots::Incremental {
                let last = if complete {
                    monday + Duration::days(6)
                } else {
                    today - Duration::days(1)
                };
                let missing: Vec<String> = monday
                    .iter_days()
                    .take_while(|d| *d <= last)
                    .filter(|d| through.is_none_or(|t| *d > t))
                    .filter(|d| {
                        first.is_some_and(|f| *d >= f) && input.since.is_none_or(|s| *d >= s)
                    })
                    .filter(|d| !snaps.iter().any(|(s, _, _, _)| s == d))
                    .map(|d| d.to_string())
                    .collect();
                if !missing.is_empty() {
                    warnings.push(format!(
                        "week {week} has no snapshot for {}; restoring the days there are (a later day's snapshot may carry those changes)",
                        missing.join(", ")
                    ));
                }
            }
        } else {
            let at = stamp(restorable_at(monday));
            for (_, _, _, i) in &snaps {
                reasons.insert(
                    *i,
                    format!("pending: week {week} is not over; restorable at {at}"),
                );
            }
            pending.push(Pending {
                week,
                restorable_at: at,
            });
        }
    }
    let start = input.since.or(first).map(week_monday);
    let mut gaps = Vec::new();
    if let Some(mut w) = start {
        while w < current_monday {
            if !seen_weeks.contains(&w) {
                gaps.push(week_label(w));
            }
            w += Duration::days(7);
        }
    }
    Decision {
        mode: input.mode,
        snapshots_hold: input.kind,
        now: stamp(input.now),
        through,
        selected,
        pending,
        gaps,
        next_after: next.map(|date| NextAfter {
            date,
            days_between: through.map_or(0, |t| (date - t).num_days() - 1),
        }),
        snapshots: input
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| Reason {
                name: n.clone(),
                reason: reasons.remove(&i).unwrap_or_default(),
            })
            .collect(),
        warnings,
    }
}

/// The state after a selected snapshot was restored.
pub fn record(state: &State, snap: &Selected, at: DateTime<Utc>) -> State {
    let mut next = state.clone();
    if next.through.is_none_or(|t| snap.date > t) {
        next.through = Some(snap.date);
    }
    if !next.history.iter().any(|h| h.name == snap.name) {
        next.history.push(HistoryEntry {
            name: snap.name.clone(),
            date: snap.date,
            week: snap.week.clone(),
            restored_at: stamp(at),
        });
    }
    next
}

#[cfg(test)]
mod tests;
