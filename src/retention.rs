//! Which backups to keep, as a pure function. Configuration backups: the newest of each of the last
//! `daily` days, `weekly` ISO weeks and `monthly` months that have one (UTC, from the time in their
//! names). Analytics snapshots go by whole ISO weeks only: the newest `weekly` weeks are kept with
//! every day in them, and the current week always, so that no part of a week the weekly gate may
//! still restore is ever deleted.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, NaiveDate, Utc};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    pub daily: Option<u64>,
    pub weekly: Option<u64>,
    pub monthly: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub name: String,
    pub keep: bool,
    pub reason: String,
}

/// The configuration backups (`name` and its time), newest first in the verdicts.
pub fn config(backups: &[(String, DateTime<Utc>)], r: &Retention) -> Vec<Verdict> {
    let mut sorted: Vec<&(String, DateTime<Utc>)> = backups.iter().collect();
    sorted.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    let mut days = BTreeSet::new();
    let mut weeks = BTreeSet::new();
    let mut months = BTreeSet::new();
    let mut out = Vec::new();
    for (i, (name, t)) in sorted.iter().enumerate() {
        let d = t.date_naive();
        let w = (d.iso_week().year(), d.iso_week().week());
        let m = (d.year(), d.month());
        let mut why = Vec::new();
        if i == 0 {
            why.push("the newest".to_string());
        }
        if r.daily.is_some_and(|n| (days.len() as u64) < n) && days.insert(d) {
            why.push(format!("newest of {d}"));
        }
        if r.weekly.is_some_and(|n| (weeks.len() as u64) < n) && weeks.insert(w) {
            why.push(format!("newest of week {}-W{:02}", w.0, w.1));
        }
        if r.monthly.is_some_and(|n| (months.len() as u64) < n) && months.insert(m) {
            why.push(format!("newest of {}-{:02}", m.0, m.1));
        }
        out.push(Verdict {
            name: name.to_string(),
            keep: !why.is_empty(),
            reason: if why.is_empty() {
                "older than the retention keeps".into()
            } else {
                format!("kept: {}", why.join(", "))
            },
        });
    }
    out
}

/// The analytics snapshots (`name` and its day): whole weeks kept or deleted.
pub fn analytics(
    snapshots: &[(String, NaiveDate)],
    r: &Retention,
    now: DateTime<Utc>,
) -> Vec<Verdict> {
    let current = crate::gate::week_monday(now.date_naive());
    let weeks: BTreeSet<NaiveDate> = snapshots
        .iter()
        .map(|(_, d)| crate::gate::week_monday(*d))
        .filter(|w| *w < current)
        .collect();
    let keep_n = r.weekly.unwrap_or(u64::MAX) as usize;
    let kept: BTreeSet<NaiveDate> = weeks.iter().rev().take(keep_n).copied().collect();
    let mut out: Vec<Verdict> = snapshots
        .iter()
        .map(|(name, d)| {
            let w = crate::gate::week_monday(*d);
            let label = crate::gate::week_label(w);
            let (keep, reason) = if w >= current {
                (true, format!("kept: week {label} is not over"))
            } else if r.weekly.is_none() {
                (
                    true,
                    format!("kept: the retention sets no `weekly`, so week {label} and every other are kept"),
                )
            } else if kept.contains(&w) {
                (
                    true,
                    format!("kept: week {label} is among the newest {keep_n}"),
                )
            } else {
                (
                    false,
                    format!(
                        "week {label} is older than the newest {keep_n} weeks (the whole week goes)"
                    ),
                )
            };
            Verdict {
                name: name.clone(),
                keep,
                reason,
            }
        })
        .collect();
    out.sort_by(|a, b| b.name.cmp(&a.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn at(d: &str) -> DateTime<Utc> {
        Utc.from_utc_datetime(
            &NaiveDate::parse_from_str(d, "%Y-%m-%d")
                .unwrap()
                .and_hms_opt(2, 0, 0)
                .unwrap(),
        )
    }

    #[test]
    fn with_no_weekly_retention_every_analytics_week_is_kept_and_said_so() {
        let r = Retention {
            daily: Some(1),
            ..Retention::default()
        };
        let snaps = vec![
            (
                "analytics-2026-11-03.tar".to_string(),
                at("2026-11-03").date_naive(),
            ),
            (
                "analytics-2026-11-17.tar".to_string(),
                at("2026-11-17").date_naive(),
            ),
        ];
        for v in analytics(&snaps, &r, at("2026-12-07")) {
            assert!(v.keep, "{v:?}");
            assert!(v.reason.contains("sets no `weekly`"), "{v:?}");
            assert!(!v.reason.contains("18446744073709551615"), "{v:?}");
        }
    }

    #[test]
    fn config_backups_keep_the_newest_of_each_day_week_and_month() {
        // Two a day for 60 days up to 2026-11-23.
        let mut b = Vec::new();
        let end = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        for i in 0..60 {
            let d = end - Duration::days(i);
            for h in [2, 14] {
                let t = Utc.from_utc_datetime(&d.and_hms_opt(h, 0, 0).unwrap());
                b.push((
                    format!("director-config-{}.tar", t.format("%Y%m%dT%H%M%SZ")),
                    t,
                ));
            }
        }
        let r = Retention {
            daily: Some(7),
            weekly: Some(4),
            monthly: Some(3),
        };
        let v = config(&b, &r);
        let kept: Vec<&str> = v
            .iter()
            .filter(|x| x.keep)
            .map(|x| x.name.as_str())
            .collect();
        // 7 days (23 to 17); weeks W48 and W47 are among them, W46 and W45 add their Sundays; the
        // months add October 31 and September 30.
        assert!(kept.contains(&"director-config-20261123T140000Z.tar"));
        assert!(!kept.contains(&"director-config-20261123T020000Z.tar"));
        assert!(kept.contains(&"director-config-20261117T140000Z.tar"));
        assert!(!kept.contains(&"director-config-20261116T140000Z.tar"));
        assert!(kept.contains(&"director-config-20261115T140000Z.tar"));
        assert!(kept.contains(&"director-config-20261108T140000Z.tar"));
        assert_eq!(kept.len(), 11, "{kept:?}");
        assert!(
            kept.contains(&"director-config-20261031T140000Z.tar"),
            "{kept:?}"
        );
        assert!(
            kept.contains(&"director-config-20260930T140000Z.tar"),
            "{kept:?}"
        );
        assert_eq!(kept.iter().filter(|k| k.contains("202609")).count(), 1);
        assert_eq!(v.len(), 120);
        // Nothing configured: only the newest is kept.
        let none = config(&b, &Retention::default());
        assert_eq!(none.iter().filter(|x| x.keep).count(), 1);
    }

    #[test]
    fn analytics_goes_by_whole_weeks_and_never_the_current_one() {
        let days: Vec<(String, NaiveDate)> = (0..30)
            .map(|i| {
                let d = NaiveDate::from_ymd_opt(2026, 10, 26).unwrap() + Duration::days(i);
                (format!("analytics-{d}.tar"), d)
            })
            .collect();
        // 2026-10-26 is a Monday: weeks W44..W47 complete, W48 current (11-23, 11-24).
        let v = analytics(
            &days,
            &Retention {
                weekly: Some(2),
                ..Default::default()
            },
            at("2026-11-24"),
        );
        let gone: Vec<&str> = v
            .iter()
            .filter(|x| !x.keep)
            .map(|x| x.name.as_str())
            .collect();
        assert_eq!(gone.len(), 14, "W44 and W45 whole: {gone:?}");
        assert!(gone.iter().all(|g| g < &"analytics-2026-11-09"));
        assert!(
            v.iter()
                .find(|x| x.name == "analytics-2026-11-24.tar")
                .unwrap()
                .keep
        );
        // No weekly retention: everything stays.
        assert!(
            analytics(&days, &Retention::default(), at("2026-11-24"))
                .iter()
                .all(|x| x.keep)
        );
    }
}
