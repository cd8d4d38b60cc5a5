//! A drill's evidence as one self-contained page: the verdict, RTO and RPO, the timeline as an SVG
//! Gantt of the tasks per host with the critical path marked, every check, the failed steps and what
//! was restored. No script, no external asset.

use super::collect::Verdict;
use super::drill::{Evidence, LeftBehind, minutes, verdict_line};
use super::events::Status;

/// Text for HTML: `&`, `<`, `>` and `"` escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A task's status as the evidence writes it.
fn status(s: Status) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The timeline as an SVG Gantt chart: one lane per host, a bar per task, the critical path red.
pub fn gantt(e: &Evidence) -> String {
    let tasks = &e.timeline;
    let mut hosts: Vec<String> = Vec::new();
    for t in tasks {
        if !hosts.contains(&t.host) {
            hosts.push(t.host.clone());
        }
    }
    let total = tasks.iter().map(|t| t.end).fold(0.001_f64, f64::max);
    let (left, width, lane, bar) = (130.0, 820.0, 34.0, 22.0);
    let x = |s: f64| left + s / total * width;
    let height = 40.0 + lane * hosts.len() as f64 + 30.0;
    let mut svg = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="980" height="{height}" viewBox="0 0 980 {height}" role="img" aria-label="timeline">"##
    );
    for (i, h) in hosts.iter().enumerate() {
        let y = 30.0 + lane * i as f64;
        svg += &format!(
            r##"<rect x="0" y="{y}" width="980" height="{lane}" fill="{}"/><text x="8" y="{}" font-size="13" fill="#222">{}</text>"##,
            if i % 2 == 0 { "#f4f6f8" } else { "#ffffff" },
            y + lane / 2.0 + 4.0,
            esc(h)
        );
    }
    for k in 0..=4 {
        let s = total * k as f64 / 4.0;
        let xx = x(s);
        svg += &format!(
            r##"<line x1="{xx}" y1="24" x2="{xx}" y2="{}" stroke="#ccd" stroke-dasharray="3,3"/><text x="{xx}" y="18" font-size="11" text-anchor="middle" fill="#555">{:.1} s</text>"##,
            height - 30.0,
            s
        );
    }
    let mut labels = String::new();
    for t in tasks {
        let lane_i = hosts.iter().position(|h| *h == t.host).unwrap_or(0);
        let (s, en) = (t.start, t.end);
        let y = 30.0 + lane * lane_i as f64 + (lane - bar) / 2.0;
        let color = match (t.critical, t.cleanup, status(t.status).as_str()) {
            (_, _, "failed") => "#c92a2a",
            (true, _, _) => "#e8590c",
            (_, true, _) => "#868e96",
            _ => "#1c7ed6",
        };
        let w = (x(en) - x(s)).max(2.0);
        // The step's name on a bar wide enough to hold it.
        let step = &t.step;
        if w > 7.0 * step.len() as f64 + 8.0 {
            labels += &format!(
                r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#fff">{}</text>"##,
                x(s) + 4.0,
                y + bar / 2.0 + 4.0,
                esc(step)
            );
        }
        svg += &format!(
            r##"<rect class="task" x="{:.1}" y="{y}" width="{w:.1}" height="{bar}" rx="3" fill="{color}"><title>{} on {}: {:.2} s to {:.2} s ({})</title></rect>"##,
            x(s),
            esc(&t.step),
            esc(&t.host),
            s,
            en,
            esc(&status(t.status))
        );
    }
    svg += &labels;
    let ly = height - 14.0;
    svg += &format!(
        r##"<rect x="130" y="{}" width="12" height="12" fill="#e8590c"/><text x="148" y="{ly}" font-size="12">critical path</text><rect x="250" y="{}" width="12" height="12" fill="#1c7ed6"/><text x="268" y="{ly}" font-size="12">other steps</text><rect x="370" y="{}" width="12" height="12" fill="#868e96"/><text x="388" y="{ly}" font-size="12">clean-up after a failure</text><rect x="560" y="{}" width="12" height="12" fill="#c92a2a"/><text x="578" y="{ly}" font-size="12">failed</text>"##,
        ly - 10.0,
        ly - 10.0,
        ly - 10.0,
        ly - 10.0
    );
    svg + "</svg>"
}

/// The page: no script, no external asset; it prints as it shows.
pub fn html(e: &Evidence) -> String {
    let passed = e.status == Verdict::Passed;
    let partial = e.status == Verdict::Partial;
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>DR drill ",
    );
    h += &esc(&e.drill);
    h += "</title><style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\
table{border-collapse:collapse;width:100%;margin:8px 0 20px}td,th{border:1px solid #dde;padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}\
th{background:#f1f3f5}.pass{color:#2b8a3e;font-weight:600}.fail{color:#c92a2a;font-weight:600}code{font-size:12px;word-break:break-all}\
.verdict{font-size:20px;padding:10px 14px;border-radius:6px;display:inline-block}.ok{background:#ebfbee}.bad{background:#fff5f5}.part{background:#fff9db}</style></head><body>";
    h += &format!(
        "<h1>DR drill {}</h1><p class=\"verdict {}\">{}</p>",
        esc(&e.drill),
        if passed {
            "ok"
        } else if partial {
            "part"
        } else {
            "bad"
        },
        if passed || partial {
            esc(&verdict_line(e.status, &e.not_exercised))
        } else {
            "FAILED: see the checks marked FAIL".into()
        }
    );
    let not: Vec<String> = e
        .not_exercised
        .iter()
        .map(|n| format!("{}: {}", n.component, n.why))
        .collect();
    if !passed && !partial && !not.is_empty() {
        h += &format!("<p>Not exercised: {}.</p>", esc(&not.join("; ")));
    }
    h += &format!(
        "<p>Site <b>{}</b>, from {} to {} UTC ({:.1} s). Storage: {}. Left behind: <b>{}</b>.</p>",
        esc(&e.site),
        esc(&e.started_at),
        esc(&e.finished_at),
        e.seconds,
        esc(&e.storage),
        esc(&match &e.left_behind {
            LeftBehind::Said(s) => s.to_string(),
            found => serde_json::to_value(found).unwrap_or_default().to_string(),
        })
    );
    h += "<h2>RTO and RPO</h2><table><tr><th>component</th><th>measured</th><th>target</th><th></th></tr>";
    for r in &e.rto {
        let met = r.met;
        h += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(r.component),
            minutes(r.seconds),
            minutes(r.target_seconds as f64),
            if met { "pass" } else { "fail" },
            if met { "met" } else { "MISSED" }
        );
    }
    h += "</table>";
    let age = |s: i64| format!("{}d {}h", s / 86400, s % 86400 / 3600);
    if let Some(c) = &e.rpo.config {
        h += &format!(
            "<p>RPO configuration: the backup of {} ({} before the drill).</p>",
            esc(&c.as_of),
            age(c.age_seconds)
        );
    }
    if let Some(a) = &e.rpo.analytics {
        h += &format!(
            "<p>RPO analytics: restored through {} (its end is {} before the drill).</p>",
            esc(&a.through),
            age(a.age_seconds)
        );
    }
    h += "<h2>Timeline</h2>";
    h += &gantt(e);
    h += "<h2>Checks</h2><table><tr><th></th><th>check</th><th>host</th><th>expected</th><th>found</th></tr>";
    for k in &e.checks {
        let ok = k.passed;
        h += &format!(
            "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            if ok { "pass" } else { "fail" },
            if ok { "ok" } else { "FAIL" },
            esc(&k.name),
            esc(&k.host),
            esc(&k.expected),
            esc(&k.found)
        );
    }
    h += "</table>";
    let failed = &e.failed_steps;
    if !failed.is_empty() {
        h += "<h2>Failed steps</h2><table><tr><th>step</th><th>host</th><th>why</th></tr>";
        for s in failed {
            h += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.step),
                esc(&s.host),
                esc(&s.message)
            );
        }
        h += "</table>";
    }
    h += "<h2>Restored</h2><table><tr><th>backup</th><th>host</th><th>bytes</th><th>sha256 (stored / plain)</th><th>signer</th></tr>";
    for r in &e.restored {
        h += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}<br>{}</code></td><td>{}</td></tr>",
            esc(&r.object),
            esc(&r.host),
            r.bytes,
            esc(&r.sha256),
            esc(&r.plain_sha256),
            esc(match r.signer.as_deref() {
                None | Some("") => "unsigned",
                Some(s) => s,
            })
        );
    }
    h += "</table>";
    h += &format!(
        "<p>Every step and its output: <code>{}</code></p></body></html>\n",
        esc(&e.run_report)
    );
    h
}

#[cfg(test)]
mod tests {
    use super::super::collect::Check;
    use super::super::drill::{Evidence, LeftBehind, Span};
    use super::super::events::Status;
    use super::Verdict;

    #[test]
    fn the_page_escapes_what_it_shows_and_draws_each_task() {
        let span = |step: &str, host: &str, status, start, critical| Span {
            step: step.into(),
            host: host.into(),
            status,
            start,
            end: start + 1.0,
            cleanup: false,
            critical,
        };
        let e = Evidence {
            drill: "r1".into(),
            site: "<x>".into(),
            status: Verdict::Failed,
            started_at: String::new(),
            finished_at: String::new(),
            seconds: 2.0,
            storage: String::new(),
            restored: Vec::new(),
            analytics_gate: None,
            checks: vec![Check {
                host: "h1".into(),
                step: "check".into(),
                name: "table t".into(),
                expected: "2 row(s)".into(),
                found: "3 row(s)".into(),
                passed: false,
            }],
            failed_steps: Vec::new(),
            not_exercised: Vec::new(),
            rto: Vec::new(),
            rpo: Default::default(),
            left_behind: LeftBehind::Said("nothing"),
            timeline: vec![
                span("a", "h1", Status::Ok, 0.0, true),
                span("b", "h2", Status::Failed, 1.0, false),
            ],
            run_report: String::new(),
        };
        let page = super::html(&e);
        assert!(page.contains("&lt;x&gt;") && !page.contains("<x>"));
        assert_eq!(page.matches("class=\"task\"").count(), 2);
        assert!(page.contains("FAILED"));
        assert!(
            !page.contains("src=") && !page.contains("href="),
            "no external asset"
        );
    }
}
