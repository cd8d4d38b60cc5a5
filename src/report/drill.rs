//! A drill's evidence: what was restored from where, every check with what was expected and what
//! was found, the RTO per component against its target, the RPO, what was left behind, and the
//! timeline; as JSON (`report.json`) and as one self-contained page (`report.html`, an SVG Gantt of
//! the tasks per host with the critical path marked).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::{Value as J, json};

use super::events::Status;
use super::summary::{Collected, TaskRecord};
use crate::plan::Plan;

/// What the evidence is built from besides the events.
pub struct Facts<'a> {
    pub plan: &'a Plan,
    pub site: String,
    pub storage: String,
    /// restore.yml's `drill.rto_target`: `config` and `full`, in seconds.
    pub targets: &'a J,
    pub finished: DateTime<Utc>,
    pub run_report: String,
}

/// The tags of each main step.
fn tags(plan: &Plan) -> BTreeMap<&str, &[String]> {
    plan.main
        .steps
        .iter()
        .map(|ps| (ps.step.id.as_str(), ps.step.tags.as_slice()))
        .collect()
}

/// Seconds from the run's start to the end of the last main task tagged with one of `tags`.
fn measured(c: &Collected, plan: &Plan, wanted: &[&str]) -> Option<f64> {
    let start = c.started_at?;
    let tags = tags(plan);
    c.tasks
        .iter()
        .filter(|t| !t.rollback && t.status != Status::Skipped)
        .filter(|t| {
            tags.get(t.step.as_str())
                .is_some_and(|ts| ts.iter().any(|x| wanted.contains(&x.as_str())))
        })
        .map(|t| (t.finished_at - start).num_milliseconds() as f64 / 1000.0)
        .reduce(f64::max)
}

pub fn minutes(secs: f64) -> String {
    let s = secs.round() as u64;
    format!("{} min {:02} s", s / 60, s % 60)
}

/// The RTO of each component against its target: (name, measured seconds, target seconds).
pub fn rto(c: &Collected, plan: &Plan, targets: &J) -> Vec<(&'static str, f64, u64)> {
    let mut out = Vec::new();
    for (name, key, wanted) in [
        ("configuration", "config", &["config"][..]),
        ("full", "full", &["config", "analytics"][..]),
    ] {
        if let (Some(m), Some(t)) = (measured(c, plan, wanted), targets[key].as_u64()) {
            out.push((name, m, t));
        }
    }
    out
}

/// The task that finished last on the path that decided the run's length: from the last task
/// back, each time the task of a needed step that finished last before this one started.
fn critical(c: &Collected, plan: &Plan) -> Vec<usize> {
    let main: Vec<(usize, &TaskRecord)> = c
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.rollback && t.status != Status::Skipped)
        .collect();
    let needs: BTreeMap<&str, Vec<&str>> = plan
        .main
        .steps
        .iter()
        .map(|ps| {
            let n = ps
                .needs
                .iter()
                .map(|i| plan.main.steps[*i].step.id.as_str())
                .collect();
            (ps.step.id.as_str(), n)
        })
        .collect();
    let mut path = Vec::new();
    let mut at = main.iter().max_by_key(|(_, t)| t.finished_at).copied();
    while let Some((i, t)) = at {
        path.push(i);
        let wanted = needs.get(t.step.as_str()).cloned().unwrap_or_default();
        at = main
            .iter()
            .filter(|(_, p)| wanted.contains(&p.step.as_str()))
            .filter(|(_, p)| p.finished_at <= t.started_at + chrono::Duration::milliseconds(50))
            .max_by_key(|(_, p)| p.finished_at)
            .copied();
    }
    path
}

pub fn evidence(c: &Collected, f: &Facts<'_>, status: &str, rpo: J) -> J {
    let start = c.started_at.unwrap_or(f.finished);
    let at = |t: DateTime<Utc>| (t - start).num_milliseconds() as f64 / 1000.0;
    let on_path = critical(c, f.plan);
    let timeline: Vec<J> = c
        .tasks
        .iter()
        .enumerate()
        .filter(|(_, t)| t.status != Status::Skipped)
        .map(|(i, t)| {
            json!({
                "step": t.step, "host": t.host, "status": t.status,
                "start": at(t.started_at), "end": at(t.finished_at),
                "cleanup": t.rollback, "critical": on_path.contains(&i),
            })
        })
        .collect();
    let rto: Vec<J> = rto(c, f.plan, f.targets)
        .into_iter()
        .map(|(name, m, t)| json!({"component": name, "seconds": m, "target_seconds": t, "met": m <= t as f64}))
        .collect();
    let looks: Vec<&J> = c
        .checks
        .iter()
        .filter(|k| k["name"] == "left behind")
        .collect();
    let left = if looks.is_empty() {
        json!("not known: the look for leftovers did not run")
    } else if looks.iter().all(|k| k["passed"] == true) {
        json!("nothing")
    } else {
        J::Array(
            looks
                .iter()
                .filter(|k| k["passed"] != true)
                .map(|k| json!({"host": k["host"], "found": k["found"]}))
                .collect(),
        )
    };
    let failed_tasks: Vec<J> = c
        .tasks
        .iter()
        .filter(|t| t.status == Status::Failed || t.ignored)
        .map(|t| json!({"step": t.step, "host": t.host, "message": t.message}))
        .collect();
    json!({
        "drill": c.run_id,
        "site": f.site,
        "status": status,
        "started_at": start.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "finished_at": f.finished.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "seconds": at(f.finished),
        "storage": f.storage,
        "restored": c.restored,
        "analytics_gate": c.gate,
        "checks": c.checks,
        "failed_steps": failed_tasks,
        "rto": rto,
        "rpo": rpo,
        "left_behind": left,
        "timeline": timeline,
        "run_report": f.run_report,
    })
}

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
    let mut h = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>DR drill ",
    );
    h += &esc(&text(&e["drill"]));
    h += "</title><style>body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1000px}\
table{border-collapse:collapse;width:100%;margin:8px 0 20px}td,th{border:1px solid #dde;padding:4px 8px;text-align:left;font-size:13px;vertical-align:top}\
th{background:#f1f3f5}.pass{color:#2b8a3e;font-weight:600}.fail{color:#c92a2a;font-weight:600}code{font-size:12px;word-break:break-all}\
.verdict{font-size:20px;padding:10px 14px;border-radius:6px;display:inline-block}.ok{background:#ebfbee}.bad{background:#fff5f5}</style></head><body>";
    h += &format!(
        "<h1>DR drill {}</h1><p class=\"verdict {}\">{}</p>",
        esc(&text(&e["drill"])),
        if passed { "ok" } else { "bad" },
        if passed {
            "PASSED: every check agrees with what the DC recorded"
        } else {
            "FAILED: see the checks marked FAIL"
        }
    );
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
