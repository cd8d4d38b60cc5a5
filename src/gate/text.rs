//! The gate's decision as text for people: what is restored, why each snapshot was taken or left,
//! what is pending, the gaps and the warnings.

use std::fmt::Write;

use serde_json::Value as J;

/// The analytics gate's decision, one line per snapshot.
pub fn render(g: &J) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Analytics gate (mode {}, now {}, through {}):",
        g["mode"].as_str().unwrap_or("?"),
        g["now"].as_str().unwrap_or("?"),
        g["through"].as_str().unwrap_or("nothing yet")
    );
    if let Some(again) = g["again"].as_str() {
        let _ = writeln!(out, "  {again}");
    }
    let selected = g["selected"].as_array().cloned().unwrap_or_default();
    let weeks: std::collections::BTreeSet<&str> =
        selected.iter().filter_map(|s| s["week"].as_str()).collect();
    match selected.len() {
        0 => {
            let _ = writeln!(out, "  nothing to restore");
        }
        n => {
            let _ = writeln!(
                out,
                "  restore {n} snapshot(s) of {} week(s) ({} snapshots), oldest first:",
                weeks.len(),
                g["snapshots_hold"].as_str().unwrap_or("?")
            );
        }
    }
    for s in g["snapshots"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "    {}: {}",
            s["name"].as_str().unwrap_or(""),
            s["reason"].as_str().unwrap_or("")
        );
    }
    for p in g["pending"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  pending {}: restorable at {}",
            p["week"].as_str().unwrap_or(""),
            p["restorable_at"].as_str().unwrap_or("")
        );
    }
    if let Some(n) = g["next_after"].as_object() {
        let date = n["date"].as_str().unwrap_or("?");
        let between = n["days_between"].as_i64().unwrap_or(0);
        let _ = match g["through"].as_str() {
            Some(t) if between > 0 => writeln!(
                out,
                "  next: the first stored snapshot after {t} is {date}: {between} day(s) between have none"
            ),
            Some(t) => writeln!(
                out,
                "  next: the first stored snapshot after {t} is {date}, the day after"
            ),
            None => writeln!(out, "  next: the first stored snapshot is {date}"),
        };
    }
    for w in g["gaps"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  gap: no snapshot for {}: was the source site offline for over a week?",
            w.as_str().unwrap_or("")
        );
    }
    for w in g["warnings"].as_array().into_iter().flatten() {
        let _ = writeln!(out, "  warning: {}", w.as_str().unwrap_or(""));
    }
    out
}
