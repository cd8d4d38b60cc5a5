//! A drill's evidence as one self-contained page: the verdict, RTO and RPO, the timeline as an SVG
//! Gantt of the tasks per host with the critical path marked, every check, the failed steps and what
//! was restored. No script, no external asset.

use serde_json::Value as J;

use super::drill::{minutes, verdict_line};

/// Text for HTML: `&`, `<`, `>` and `"` escaped.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        other => other.to_string(),
    }
}

/// The timeline as an SVG Gantt chart: one lane per host, a bar per task, the critical path red.
pub fn gantt(e: &J) -> String {
    let tasks = e["timeline"].as_array().cloned().unwrap_or_default();
    let mut hosts: Vec<String> = Vec::new();
    for t in &tasks {
        let h = text(&t["host"]);
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    let total = tasks
        .iter()
        .filter_map(|t| t["end"].as_f64())
        .fold(0.001_f64, f64::max);
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
    for t in &tasks {
        let lane_i = hosts
            .iter()
            .position(|h| *h == text(&t["host"]))
            .unwrap_or(0);
        let (s, en) = (
            t["start"].as_f64().unwrap_or(0.0),
            t["end"].as_f64().unwrap_or(0.0),
        );
        let y = 30.0 + lane * lane_i as f64 + (lane - bar) / 2.0;
        let color = match (
            t["critical"] == true,
            t["cleanup"] == true,
            text(&t["status"]).as_str(),
        ) {
            (_, _, "failed") => "#c92a2a",
            (true, _, _) => "#e8590c",
            (_, true, _) => "#868e96",
            _ => "#1c7ed6",
        };
        let w = (x(en) - x(s)).max(2.0);
        // The step's name on a bar wide enough to hold it.
        let step = text(&t["step"]);
        if w > 7.0 * step.len() as f64 + 8.0 {
            labels += &format!(
                r##"<text x="{:.1}" y="{:.1}" font-size="11" fill="#fff">{}</text>"##,
                x(s) + 4.0,
                y + bar / 2.0 + 4.0,
                esc(&step)
            );
        }
        svg += &format!(
            r##"<rect class="task" x="{:.1}" y="{y}" width="{w:.1}" height="{bar}" rx="3" fill="{color}"><title>{} on {}: {:.2} s to {:.2} s ({})</title></rect>"##,
            x(s),
            esc(&text(&t["step"])),
            esc(&text(&t["host"])),
            s,
            en,
            esc(&text(&t["status"]))
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
pub fn html(e: &J) -> String {
    let passed = e["status"] == "passed";
    let partial = e["status"] == "partial";
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>DR drill ",
    );
    h += &esc(&text(&e["drill"]));
    h += "</title><style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\
table{border-collapse:collapse;width:100%;margin:8px 0 20px}td,th{border:1px solid #dde;padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}\
th{background:#f1f3f5}.pass{color:#2b8a3e;font-weight:600}.fail{color:#c92a2a;font-weight:600}code{font-size:12px;word-break:break-all}\
.verdict{font-size:20px;padding:10px 14px;border-radius:6px;display:inline-block}.ok{background:#ebfbee}.bad{background:#fff5f5}.part{background:#fff9db}</style></head><body>";
    h += &format!(
        "<h1>DR drill {}</h1><p class=\"verdict {}\">{}</p>",
        esc(&text(&e["drill"])),
        if passed {
            "ok"
        } else if partial {
            "part"
        } else {
            "bad"
        },
        if passed || partial {
            esc(&verdict_line(e))
        } else {
            "FAILED: see the checks marked FAIL".into()
        }
    );
    let not: Vec<String> = e["not_exercised"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|n| format!("{}: {}", text(&n["component"]), text(&n["why"])))
        .collect();
    if !passed && !partial && !not.is_empty() {
        h += &format!("<p>Not exercised: {}.</p>", esc(&not.join("; ")));
    }
    h += &format!(
        "<p>Site <b>{}</b>, from {} to {} UTC ({:.1} s). Storage: {}. Left behind: <b>{}</b>.</p>",
        esc(&text(&e["site"])),
        esc(&text(&e["started_at"])),
        esc(&text(&e["finished_at"])),
        e["seconds"].as_f64().unwrap_or(0.0),
        esc(&text(&e["storage"])),
        esc(&match &e["left_behind"] {
            J::String(s) => s.clone(),
            other => other.to_string(),
        })
    );
    h += "<h2>RTO and RPO</h2><table><tr><th>component</th><th>measured</th><th>target</th><th></th></tr>";
    for r in e["rto"].as_array().into_iter().flatten() {
        let met = r["met"] == true;
        h += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
            esc(&text(&r["component"])),
            minutes(r["seconds"].as_f64().unwrap_or(0.0)),
            minutes(r["target_seconds"].as_f64().unwrap_or(0.0)),
            if met { "pass" } else { "fail" },
            if met { "met" } else { "MISSED" }
        );
    }
    h += "</table>";
    let age = |v: &J| {
        let s = v["age_seconds"].as_i64().unwrap_or(0);
        format!("{}d {}h", s / 86400, s % 86400 / 3600)
    };
    let rpo = &e["rpo"];
    if rpo["config"].is_object() {
        h += &format!(
            "<p>RPO configuration: the backup of {} ({} before the drill).</p>",
            esc(&text(&rpo["config"]["as_of"])),
            age(&rpo["config"])
        );
    }
    if rpo["analytics"].is_object() {
        h += &format!(
            "<p>RPO analytics: restored through {} (its end is {} before the drill).</p>",
            esc(&text(&rpo["analytics"]["through"])),
            age(&rpo["analytics"])
        );
    }
    h += "<h2>Timeline</h2>";
    h += &gantt(e);
    h += "<h2>Checks</h2><table><tr><th></th><th>check</th><th>host</th><th>expected</th><th>found</th></tr>";
    for k in e["checks"].as_array().into_iter().flatten() {
        let ok = k["passed"] == true;
        h += &format!(
            "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td><code>{}</code></td></tr>",
            if ok { "pass" } else { "fail" },
            if ok { "ok" } else { "FAIL" },
            esc(&text(&k["name"])),
            esc(&text(&k["host"])),
            esc(&text(&k["expected"])),
            esc(&text(&k["found"]))
        );
    }
    h += "</table>";
    let failed = e["failed_steps"].as_array().cloned().unwrap_or_default();
    if !failed.is_empty() {
        h += "<h2>Failed steps</h2><table><tr><th>step</th><th>host</th><th>why</th></tr>";
        for s in failed {
            h += &format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&text(&s["step"])),
                esc(&text(&s["host"])),
                esc(&text(&s["message"]))
            );
        }
        h += "</table>";
    }
    h += "<h2>Restored</h2><table><tr><th>backup</th><th>host</th><th>bytes</th><th>sha256 (stored / plain)</th><th>signer</th></tr>";
    for r in e["restored"].as_array().into_iter().flatten() {
        h += &format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}<br>{}</code></td><td>{}</td></tr>",
            esc(&text(&r["object"])),
            esc(&text(&r["host"])),
            esc(&text(&r["bytes"])),
            esc(&text(&r["sha256"])),
            esc(&text(&r["plain_sha256"])),
            esc(&match text(&r["signer"]) {
                s if s.is_empty() => "unsigned".to_string(),
                s => s,
            })
        );
    }
    h += "</table>";
    h += &format!(
        "<p>Every step and its output: <code>{}</code></p></body></html>\n",
        esc(&text(&e["run_report"]))
    );
    h
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    #[test]
    fn the_page_escapes_what_it_shows_and_draws_each_task() {
        let e = json!({
            "drill": "r1", "status": "failed", "site": "<x>",
            "timeline": [
                {"step": "a", "host": "h1", "status": "ok", "start": 0.0, "end": 1.0, "critical": true, "cleanup": false},
                {"step": "b", "host": "h2", "status": "failed", "start": 1.0, "end": 2.0, "critical": false, "cleanup": false},
            ],
            "checks": [{"name": "table t", "host": "h1", "expected": "2 row(s)", "found": "3 row(s)", "passed": false}],
        });
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
