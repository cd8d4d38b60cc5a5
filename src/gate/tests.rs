use super::*;
use proptest::prelude::*;

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn names(days: &[&str]) -> Vec<String> {
    days.iter().map(|x| format!("analytics-{x}.tar")).collect()
}

fn run(names: &[String], through: Option<&str>, now: &str, mode: Mode) -> Decision {
    let state = State {
        through: through.map(d),
        history: vec![],
    };
    decide(&Input {
        names,
        pattern: &Pattern::default(),
        state: &state,
        now: t(now),
        mode,
        kind: Snapshots::Cumulative,
        since: None,
        checks: &Checks::default(),
    })
}

fn selected(dec: &Decision) -> Vec<String> {
    dec.selected.iter().map(|s| s.name.clone()).collect()
}

/// A refused snapshot beside one of its day that verifies is passed over, never chosen; of one day
/// a signed snapshot is chosen over one read unsigned (`--allow-unsigned`), whichever name sorts
/// first. A day with no snapshot that verifies keeps its own: the restore refuses it, and no later
/// day is applied over the gap.
#[test]
fn only_snapshots_whose_signatures_verify_are_chosen_and_signed_ones_first() {
    let n: Vec<String> = [
        "analytics-2026-11-16.tar.zst.age",
        "analytics-2026-11-17.tar",
        "analytics-2026-11-17.tar.zst.age",
        "analytics-2026-11-18-a.tar",
        "analytics-2026-11-18.tar.zst.age",
        "analytics-2026-11-22.tar",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut checks = Checks::default();
    checks.refused.insert(
        "analytics-2026-11-17.tar".into(),
        "it has no manifest, so it is not signed".into(),
    );
    checks.unsigned.insert("analytics-2026-11-18-a.tar".into());
    checks.refused.insert(
        "analytics-2026-11-22.tar".into(),
        "its signature does not verify".into(),
    );
    // 2026-11-22 has no other snapshot.
    let state = State::default();
    for kind in [Snapshots::Incremental, Snapshots::Cumulative] {
        let dec = decide(&Input {
            names: &n,
            pattern: &Pattern::default(),
            state: &state,
            now: t("2026-11-23T03:00:00Z"),
            mode: Mode::Weekly,
            kind,
            since: None,
            checks: &checks,
        });
        let reason = |name: &str| {
            dec.snapshots
                .iter()
                .find(|r| r.name == name)
                .unwrap()
                .reason
                .clone()
        };
        assert_eq!(
            reason("analytics-2026-11-17.tar"),
            "passed over: it has no manifest, so it is not signed"
        );
        assert!(!reason("analytics-2026-11-22.tar").starts_with("passed over"));
        assert!(
            dec.warnings
                .iter()
                .any(|w| w.contains("`analytics-2026-11-17.tar` is passed over")),
            "{:?}",
            dec.warnings
        );
        match kind {
            Snapshots::Incremental => {
                assert_eq!(
                    selected(&dec),
                    [
                        "analytics-2026-11-16.tar.zst.age",
                        "analytics-2026-11-17.tar.zst.age",
                        "analytics-2026-11-18.tar.zst.age",
                        "analytics-2026-11-22.tar",
                    ]
                );
                assert_eq!(
                    reason("analytics-2026-11-18-a.tar"),
                    "left: a second snapshot of 2026-11-18; `analytics-2026-11-18.tar.zst.age` is applied"
                );
            }
            Snapshots::Cumulative => {
                assert_eq!(selected(&dec), ["analytics-2026-11-22.tar"]);
            }
        }
    }
}

#[test]
fn sunday_last_second_keeps_the_week_pending() {
    // 2026-11-16 (Mon) .. 2026-11-22 (Sun) is 2026-W47.
    let n = names(&["2026-11-16", "2026-11-22"]);
    let dec = run(&n, None, "2026-11-22T23:59:59Z", Mode::Weekly);
    assert!(dec.selected.is_empty());
    assert_eq!(
        dec.pending,
        vec![Pending {
            week: "2026-W47".into(),
            restorable_at: "2026-11-23T00:00:00Z".into()
        }]
    );
    assert!(
        dec.snapshots[0]
            .reason
            .starts_with("pending: week 2026-W47"),
        "{:?}",
        dec.snapshots
    );
}

#[test]
fn monday_midnight_makes_the_week_restorable() {
    let n = names(&["2026-11-16", "2026-11-22"]);
    let dec = run(&n, None, "2026-11-23T00:00:00Z", Mode::Weekly);
    assert_eq!(selected(&dec), vec!["analytics-2026-11-22.tar"]);
    assert_eq!(dec.selected[0].week, "2026-W47");
    assert!(
        dec.snapshots[0]
            .reason
            .starts_with("superseded by `analytics-2026-11-22.tar`")
    );
    assert_eq!(
        dec.snapshots[1].reason,
        "selected: latest of complete week 2026-W47"
    );
}

#[test]
fn an_offset_clock_is_read_in_utc() {
    // 2026-11-23T01:00+02:00 is still Sunday 23:00Z.
    let n = names(&["2026-11-22"]);
    let dec = run(&n, None, "2026-11-23T01:00:00+02:00", Mode::Weekly);
    assert!(dec.selected.is_empty());
}

#[test]
fn iso_week_53_of_2026_spans_the_new_year() {
    assert_eq!(week_label(d("2026-12-28")), "2026-W53");
    assert_eq!(week_label(d("2027-01-03")), "2026-W53");
    assert_eq!(week_label(d("2027-01-04")), "2027-W01");
    let n = names(&["2026-12-28", "2027-01-01", "2027-01-03"]);
    let dec = run(&n, None, "2027-01-03T12:00:00Z", Mode::Weekly);
    assert_eq!(dec.pending[0].restorable_at, "2027-01-04T00:00:00Z");
    let dec = run(&n, None, "2027-01-04T00:00:00Z", Mode::Weekly);
    assert_eq!(selected(&dec), vec!["analytics-2027-01-03.tar"]);
    assert_eq!(dec.selected[0].week, "2026-W53");
}

#[test]
fn iso_year_boundary_puts_late_december_in_week_one() {
    assert_eq!(week_label(d("2025-12-29")), "2026-W01");
    let n = names(&["2025-12-28", "2025-12-29", "2026-01-04"]);
    let dec = run(&n, None, "2026-01-05T00:00:00Z", Mode::Weekly);
    let weeks: Vec<_> = dec.selected.iter().map(|s| s.week.as_str()).collect();
    assert_eq!(weeks, vec!["2025-W52", "2026-W01"]);
}

#[test]
fn empty_input_decides_nothing() {
    let dec = run(&[], None, "2026-11-23T00:00:00Z", Mode::Weekly);
    assert!(
        dec.selected.is_empty()
            && dec.pending.is_empty()
            && dec.gaps.is_empty()
            && dec.snapshots.is_empty()
    );
}

#[test]
fn duplicate_dates_select_one_and_supersede_the_other() {
    let n = vec![
        "analytics-2026-11-22.tar".to_string(),
        "analytics-2026-11-22-retry.tar".to_string(),
    ];
    let dec = run(&n, None, "2026-11-23T00:00:00Z", Mode::Weekly);
    assert_eq!(dec.selected.len(), 1);
    let reasons: Vec<_> = dec
        .snapshots
        .iter()
        .map(|r| r.reason.split(':').next().unwrap().to_string())
        .collect();
    assert!(
        reasons.contains(&"selected".to_string())
            && reasons.iter().any(|r| r.starts_with("superseded")),
        "{reasons:?}"
    );
}

#[test]
fn future_dates_are_ignored_with_a_warning() {
    let n = names(&["2026-11-22", "2026-12-01"]);
    let dec = run(&n, None, "2026-11-23T00:00:00Z", Mode::Weekly);
    assert_eq!(selected(&dec), vec!["analytics-2026-11-22.tar"]);
    assert!(dec.snapshots[1].reason.starts_with("dated in the future"));
    assert_eq!(dec.warnings.len(), 1);
}

#[test]
fn gaps_are_complete_weeks_without_any_snapshot() {
    // W44 (Oct 26 - Nov 1) has nothing.
    let n = names(&["2026-10-25", "2026-11-08", "2026-11-15"]);
    let dec = run(&n, None, "2026-11-23T00:00:00Z", Mode::Weekly);
    assert_eq!(dec.gaps, vec!["2026-W44", "2026-W47"]);
    let state = State {
        through: None,
        history: vec![],
    };
    let dec = decide(&Input {
        names: &n,
        pattern: &Pattern::default(),
        state: &state,
        now: t("2026-11-23T00:00:00Z"),
        mode: Mode::Weekly,
        kind: Snapshots::Cumulative,
        since: Some(d("2026-10-12")),
        checks: &Checks::default(),
    });
    assert_eq!(dec.gaps, vec!["2026-W42", "2026-W44", "2026-W47"]);
}

#[test]
fn through_in_the_middle_of_a_week() {
    // A failover restored through Wednesday 2026-11-18; the week is now over.
    let n = names(&["2026-11-16", "2026-11-18", "2026-11-19", "2026-11-22"]);
    let dec = run(&n, Some("2026-11-18"), "2026-11-23T00:00:00Z", Mode::Weekly);
    assert_eq!(selected(&dec), vec!["analytics-2026-11-22.tar"]);
    assert_eq!(
        dec.snapshots[0].reason,
        "already restored (through 2026-11-18)"
    );
    assert_eq!(
        dec.snapshots[1].reason,
        "already restored (through 2026-11-18)"
    );
    assert!(dec.snapshots[2].reason.starts_with("superseded"));
}

#[test]
fn current_week_mode_on_a_monday_with_no_snapshot_yet() {
    let n = names(&["2026-11-20", "2026-11-22"]);
    let dec = run(&n, None, "2026-11-23T08:00:00Z", Mode::CurrentWeek);
    assert_eq!(selected(&dec), vec!["analytics-2026-11-22.tar"]);
    assert!(dec.pending.is_empty());
}

#[test]
fn current_week_mode_takes_this_weeks_latest() {
    let n = names(&["2026-11-15", "2026-11-23", "2026-11-25"]);
    let dec = run(&n, None, "2026-11-26T10:00:00Z", Mode::CurrentWeek);
    assert_eq!(
        selected(&dec),
        vec!["analytics-2026-11-15.tar", "analytics-2026-11-25.tar"]
    );
    assert_eq!(
        dec.snapshots[2].reason,
        "selected: latest of current week 2026-W48 (current-week mode)"
    );
    let weekly = run(&n, None, "2026-11-26T10:00:00Z", Mode::Weekly);
    assert_eq!(selected(&weekly), vec!["analytics-2026-11-15.tar"]);
}

#[test]
fn names_off_pattern_are_noted() {
    let n = vec!["analytics-latest.tar".to_string(), "notes.txt".to_string()];
    let dec = run(&n, None, "2026-11-23T00:00:00Z", Mode::Weekly);
    assert!(
        dec.snapshots
            .iter()
            .all(|r| r.reason.starts_with("name does not match"))
    );
}

#[test]
fn recording_then_deciding_again_restores_nothing() {
    let n = names(&["2026-11-08", "2026-11-15", "2026-11-22"]);
    let now = t("2026-11-23T00:00:00Z");
    let mut state = State::default();
    let dec = decide(&Input {
        names: &n,
        pattern: &Pattern::default(),
        state: &state,
        now,
        mode: Mode::Weekly,
        kind: Snapshots::Cumulative,
        since: None,
        checks: &Checks::default(),
    });
    assert_eq!(dec.selected.len(), 3);
    for s in &dec.selected {
        state = record(&state, s, now);
    }
    assert_eq!(state.through, Some(d("2026-11-22")));
    assert_eq!(state.history.len(), 3);
    let again = decide(&Input {
        names: &n,
        pattern: &Pattern::default(),
        state: &state,
        now,
        mode: Mode::Weekly,
        kind: Snapshots::Cumulative,
        since: None,
        checks: &Checks::default(),
    });
    assert!(again.selected.is_empty());
}

#[test]
fn custom_patterns_need_their_date() {
    let p = Pattern::new("es-snap_{date}.zst").unwrap();
    assert_eq!(
        p.date_of("es-snap_2026-11-22.zst.age"),
        Some(d("2026-11-22"))
    );
    assert_eq!(p.date_of("es-snap_2026-11-22.tar"), None);
    assert!(Pattern::new("nodate").is_err());
}

proptest! {
    #[test]
    fn every_snapshot_gets_exactly_one_reason(
        offsets in proptest::collection::vec(0i64..200, 0..40),
        now_off in 0i64..220,
        through_off in proptest::option::of(0i64..200),
        current in any::<bool>(),
        incremental in any::<bool>(),
    ) {
        let kind = if incremental { Snapshots::Incremental } else { Snapshots::Cumulative };
        let base = d("2026-06-01");
        let n: Vec<String> = offsets.iter().map(|o| format!("analytics-{}", base + Duration::days(*o))).collect();
        let now = Utc.from_utc_datetime(&(base + Duration::days(now_off)).and_hms_opt(12, 0, 0).unwrap());
        let state = State { through: through_off.map(|o| base + Duration::days(o)), history: vec![] };
        let mode = if current { Mode::CurrentWeek } else { Mode::Weekly };
        let dec = decide(&Input { names: &n, pattern: &Pattern::default(), state: &state, now, mode, kind, since: None, checks: &Checks::default() });
        prop_assert_eq!(dec.snapshots.len(), n.len());
        prop_assert!(dec.snapshots.iter().all(|r| !r.reason.is_empty()));
        let selected_reasons = dec.snapshots.iter().filter(|r| r.reason.starts_with("selected")).count();
        prop_assert_eq!(selected_reasons, dec.selected.len());
        // Oldest first, each day once (cumulative: one snapshot per week), each after `through`,
        // none in the future.
        let dates: Vec<_> = dec.selected.iter().map(|s| s.date).collect();
        prop_assert!(dates.windows(2).all(|w| w[0] < w[1]));
        let weeks: Vec<_> = dec.selected.iter().map(|s| week_monday(s.date)).collect();
        if !incremental {
            prop_assert!(weeks.windows(2).all(|w| w[0] < w[1]));
        } else {
            // Every distinct restorable day after `through` is taken.
            let mut want: Vec<NaiveDate> = offsets.iter().map(|o| base + Duration::days(*o))
                .filter(|x| state.through.is_none_or(|t| *x > t) && *x <= now.date_naive())
                .filter(|x| mode == Mode::CurrentWeek || restorable_at(*x) <= now)
                .collect();
            want.sort();
            want.dedup();
            prop_assert_eq!(&dates, &want);
        }
        for s in &dec.selected {
            prop_assert!(state.through.is_none_or(|t| s.date > t));
            prop_assert!(s.date <= now.date_naive());
            if mode == Mode::Weekly {
                prop_assert!(restorable_at(s.date) <= now);
            }
        }
        // Recording every selection leaves nothing to restore at the same instant.
        let mut next = state.clone();
        for s in &dec.selected { next = record(&next, s, now); }
        let again = decide(&Input { names: &n, pattern: &Pattern::default(), state: &next, now, mode, kind, since: None, checks: &Checks::default() });
        prop_assert!(again.selected.is_empty());
    }

    #[test]
    fn weekly_selection_is_contained_in_current_week_selection(
        offsets in proptest::collection::vec(0i64..100, 0..30),
        now_off in 0i64..110,
    ) {
        let base = d("2026-09-01");
        let n: Vec<String> = offsets.iter().map(|o| format!("analytics-{}", base + Duration::days(*o))).collect();
        let now = Utc.from_utc_datetime(&(base + Duration::days(now_off)).and_hms_opt(0, 0, 0).unwrap());
        let state = State::default();
        let w = decide(&Input { names: &n, pattern: &Pattern::default(), state: &state, now, mode: Mode::Weekly, kind: Snapshots::Cumulative, since: None, checks: &Checks::default() });
        let c = decide(&Input { names: &n, pattern: &Pattern::default(), state: &state, now, mode: Mode::CurrentWeek, kind: Snapshots::Cumulative, since: None, checks: &Checks::default() });
        for s in &w.selected {
            prop_assert!(c.selected.contains(s));
        }
        prop_assert!(c.selected.len() <= w.selected.len() + 1);
    }
}

#[test]
fn unsafe_names_are_never_selected() {
    assert!(safe_name("analytics-2026-11-15.tar"));
    assert!(safe_name("site/a/analytics-2026-11-15.tar"));
    for bad in [
        "analytics-2026-11-15.tar$(touch x).tar",
        "analytics-2026-11-15.tar x",
        "../analytics-2026-11-15.tar",
        "/analytics-2026-11-15.tar",
        "-analytics-2026-11-15.tar",
        "a//analytics-2026-11-15.tar",
        "analytics-2026-11-15.tar\n",
    ] {
        assert!(!safe_name(bad), "{bad:?}");
    }
}

fn incremental(names: &[String], state: &State, now: &str, mode: Mode) -> Decision {
    decide(&Input {
        names,
        pattern: &Pattern::default(),
        state,
        now: t(now),
        mode,
        kind: Snapshots::Incremental,
        since: None,
        checks: &Checks::default(),
    })
}

#[test]
fn incremental_snapshots_restore_every_day_of_a_complete_week_oldest_first() {
    // W46 complete but missing Wednesday; W47 complete.
    let mut days: Vec<String> = (9..=15)
        .filter(|d| *d != 11)
        .map(|d| format!("2026-11-{d:02}"))
        .collect();
    days.extend((16..=22).rev().map(|d| format!("2026-11-{d:02}")));
    let n = names(&days.iter().map(String::as_str).collect::<Vec<_>>());
    let dec = incremental(&n, &State::default(), "2026-11-23T00:00:00Z", Mode::Weekly);
    let got: Vec<String> = dec.selected.iter().map(|s| s.date.to_string()).collect();
    let mut want = days.clone();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(dec.snapshots_hold, Snapshots::Incremental);
    assert_eq!(
        dec.warnings,
        [
            "week 2026-W46 has no snapshot for 2026-11-11; restoring the days there are (a later day's snapshot may carry those changes)"
        ]
    );
    let r = &dec.snapshots[0].reason;
    assert_eq!(r, "selected: Monday of complete week 2026-W46");
}

#[test]
fn incremental_current_week_takes_the_days_so_far_and_never_a_day_twice() {
    let n = names(&["2026-11-16", "2026-11-18"]);
    // Thursday: Monday to Wednesday are due; Tuesday is missing.
    let dec = incremental(
        &n,
        &State::default(),
        "2026-11-19T08:00:00Z",
        Mode::CurrentWeek,
    );
    assert_eq!(selected(&dec), n);
    assert_eq!(dec.warnings.len(), 1);
    assert!(
        dec.warnings[0].contains("for 2026-11-17;"),
        "{:?}",
        dec.warnings
    );
    let mut state = State::default();
    for s in &dec.selected {
        state = record(&state, s, t("2026-11-19T08:00:00Z"));
    }
    // After the week: the rest of it, and no warning about the days already restored.
    let more = names(&[
        "2026-11-16",
        "2026-11-18",
        "2026-11-19",
        "2026-11-20",
        "2026-11-21",
        "2026-11-22",
    ]);
    let dec = incremental(&more, &state, "2026-11-23T00:00:00Z", Mode::Weekly);
    assert_eq!(selected(&dec), more[2..].to_vec());
    assert!(dec.warnings.is_empty(), "{:?}", dec.warnings);
    assert!(dec.snapshots[0].reason.starts_with("already restored"));
}

#[test]
fn a_day_arriving_after_later_days_were_restored_is_left_with_a_warning() {
    let n = names(&["2026-11-16", "2026-11-18"]);
    let mut state = State::default();
    let dec = incremental(&n, &state, "2026-11-23T00:00:00Z", Mode::Weekly);
    for s in &dec.selected {
        state = record(&state, s, t("2026-11-23T00:00:00Z"));
    }
    let late = names(&["2026-11-16", "2026-11-17", "2026-11-18"]);
    let dec = incremental(&late, &state, "2026-11-24T00:00:00Z", Mode::Weekly);
    assert!(dec.selected.is_empty());
    assert!(
        dec.snapshots[1].reason.starts_with("arrived late"),
        "{:?}",
        dec.snapshots
    );
    assert!(dec.warnings[0].contains("analytics-2026-11-17.tar"));
}
