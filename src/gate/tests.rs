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
        since: None,
    })
}

fn selected(dec: &Decision) -> Vec<String> {
    dec.selected.iter().map(|s| s.name.clone()).collect()
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
        since: Some(d("2026-10-12")),
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
        since: None,
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
        since: None,
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
    ) {
        let base = d("2026-06-01");
        let n: Vec<String> = offsets.iter().map(|o| format!("analytics-{}", base + Duration::days(*o))).collect();
        let now = Utc.from_utc_datetime(&(base + Duration::days(now_off)).and_hms_opt(12, 0, 0).unwrap());
        let state = State { through: through_off.map(|o| base + Duration::days(o)), history: vec![] };
        let mode = if current { Mode::CurrentWeek } else { Mode::Weekly };
        let dec = decide(&Input { names: &n, pattern: &Pattern::default(), state: &state, now, mode, since: None });
        prop_assert_eq!(dec.snapshots.len(), n.len());
        prop_assert!(dec.snapshots.iter().all(|r| !r.reason.is_empty()));
        let selected_reasons = dec.snapshots.iter().filter(|r| r.reason.starts_with("selected")).count();
        prop_assert_eq!(selected_reasons, dec.selected.len());
        // Oldest week first, one snapshot per week, each after `through`, none in the future.
        let weeks: Vec<_> = dec.selected.iter().map(|s| week_monday(s.date)).collect();
        prop_assert!(weeks.windows(2).all(|w| w[0] < w[1]));
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
        let again = decide(&Input { names: &n, pattern: &Pattern::default(), state: &next, now, mode, since: None });
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
        let w = decide(&Input { names: &n, pattern: &Pattern::default(), state: &state, now, mode: Mode::Weekly, since: None });
        let c = decide(&Input { names: &n, pattern: &Pattern::default(), state: &state, now, mode: Mode::CurrentWeek, since: None });
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
