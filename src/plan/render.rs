//! Plan output for people (text), pictures (DOT) and machines (JSON). Commands are shown masked.

use std::fmt::Write;

use serde_json::{Value as J, json};

use super::{Dag, Plan};

/// What a task will do, rendered and masked; one line per entry.
pub type Preview<'a> = &'a dyn Fn(bool, usize, &str) -> String;

fn step_line(dag: &Dag, i: usize) -> String {
    let s = &dag.steps[i];
    let mut flags = Vec::new();
    if s.step.destructive {
        flags.push("destructive");
    }
    if s.step.run_once {
        flags.push("run_once");
    }
    if s.step.when.is_some() {
        flags.push("when");
    }
    if s.step.loop_.is_some() {
        flags.push("loop");
    }
    if !s.after_preparation.is_empty() {
        flags.push("after every host's preparation");
    }
    let flags = if flags.is_empty() {
        String::new()
    } else {
        format!(" [{}]", flags.join(", "))
    };
    let named: Vec<&usize> = s.named_needs().collect();
    let needs = if named.is_empty() {
        String::new()
    } else {
        format!(
            " needs {}",
            named
                .iter()
                .map(|n| dag.steps[**n].step.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    format!(
        "{} ({}) on {}{}{}",
        s.step.id,
        s.step.action,
        hosts_text(&s.hosts),
        needs,
        flags
    )
}

fn hosts_text(hosts: &[String]) -> String {
    match hosts.len() {
        0 => "no host (filtered out)".into(),
        1..=6 => hosts.join(", "),
        n => format!("{}, … ({n} hosts)", hosts[..3].join(", ")),
    }
}

fn dag_text(out: &mut String, dag: &Dag, rollback: bool, preview: Preview) {
    for (l, level) in dag.levels.iter().enumerate() {
        let _ = writeln!(out, "  level {}", l + 1);
        for &i in level {
            let s = &dag.steps[i];
            let _ = writeln!(out, "    {}", step_line(dag, i));
            if let Some(name) = &s.step.name {
                let _ = writeln!(out, "      # {name}");
            }
            let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
            for h in &s.hosts {
                let p = preview(rollback, i, h);
                match groups.iter_mut().find(|g| g.0 == p) {
                    Some(g) => g.1.push(h),
                    None => groups.push((p, vec![h])),
                }
            }
            for (p, hs) in groups {
                let prefix = if s.hosts.len() > 1 && hs.len() < s.hosts.len() {
                    format!(
                        "[{}] ",
                        hosts_text(&hs.iter().map(|x| x.to_string()).collect::<Vec<_>>())
                    )
                } else {
                    String::new()
                };
                for line in p.lines() {
                    let _ = writeln!(out, "      {prefix}{line}");
                }
            }
        }
    }
}

pub fn text(plan: &Plan, preview: Preview, gate: Option<&J>) -> String {
    let mut out = String::new();
    let hosts: std::collections::BTreeSet<&str> =
        plan.main.tasks.iter().map(|t| t.host.as_str()).collect();
    let _ = writeln!(
        out,
        "Plan: {} — {} steps, {} tasks on {} hosts",
        plan.name,
        plan.main.steps.len(),
        plan.main.tasks.len(),
        hosts.len()
    );
    dag_text(&mut out, &plan.main, false, preview);
    let path: Vec<&str> = plan
        .main
        .critical_path
        .iter()
        .map(|i| plan.main.steps[*i].step.id.as_str())
        .collect();
    let _ = writeln!(
        out,
        "Critical path ({} steps): {}",
        path.len(),
        path.join(" -> ")
    );
    let undoable: Vec<&str> = plan
        .main
        .steps
        .iter()
        .filter(|s| match s.step.action {
            "service" => true,
            "maintenance" => s.work.payload.get("state").and_then(|m| m.as_str()) == Some("on"),
            "install" => s.work.payload.get("merge").and_then(|m| m.as_bool()) != Some(true),
            "postgres" => s.work.payload.get("op").and_then(|m| m.as_str()) == Some("switch"),
            _ => false,
        })
        .map(|s| s.step.id.as_str())
        .collect();
    if !undoable.is_empty() {
        let _ = writeln!(
            out,
            "On failure after a destructive step has started, the engine undoes what these steps changed, newest first: {}",
            undoable.join(", ")
        );
    }
    if !plan.rollback.steps.is_empty() {
        let _ = writeln!(out, "Then the playbook's rollback steps run:");
        dag_text(&mut out, &plan.rollback, true, preview);
    }
    if let Some(g) = gate {
        out.push_str(&crate::gate::text::render(g));
    }
    out
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

pub fn dot(plan: &Plan) -> String {
    let mut out = String::from(
        "digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"monospace\"];\n",
    );
    for (prefix, dag, style) in [
        ("", &plan.main, ""),
        ("rollback:", &plan.rollback, ", style=dashed"),
    ] {
        for s in &dag.steps {
            let color = if s.step.destructive {
                ", color=red"
            } else {
                ""
            };
            let label = format!("{}\\n{} × {}", s.step.id, s.step.action, s.hosts.len());
            let _ = writeln!(
                out,
                "  {} [label=\"{}\"{color}{style}];",
                dot_id(&format!("{prefix}{}", s.step.id)),
                label.replace('"', "'")
            );
        }
        for s in &dag.steps {
            for n in s.named_needs() {
                let _ = writeln!(
                    out,
                    "  {} -> {};",
                    dot_id(&format!("{prefix}{}", dag.steps[*n].step.id)),
                    dot_id(&format!("{prefix}{}", s.step.id))
                );
            }
        }
    }
    out.push_str("}\n");
    out
}

fn dag_json(dag: &Dag, rollback: bool, preview: Preview) -> J {
    J::Array(
        dag.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "id": s.step.id,
                    "name": s.step.name,
                    "action": s.step.action,
                    "level": s.level + 1,
                    "needs": s.named_needs().map(|n| dag.steps[*n].step.id.clone()).collect::<Vec<_>>(),
                    "after_preparation": s.after_preparation.iter().map(|n| dag.steps[*n].step.id.clone()).collect::<Vec<_>>(),
                    "destructive": s.step.destructive,
                    "tags": s.step.tags,
                    "tasks": s.hosts.iter().map(|h| json!({"host": h, "preview": preview(rollback, i, h)})).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

pub fn json(plan: &Plan, preview: Preview, gate: Option<&J>) -> J {
    json!({
        "playbook": plan.name,
        "steps": dag_json(&plan.main, false, preview),
        "levels": plan.main.levels.iter().map(|l| l.iter().map(|i| plan.main.steps[*i].step.id.clone()).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "critical_path": plan.main.critical_path.iter().map(|i| plan.main.steps[*i].step.id.clone()).collect::<Vec<_>>(),
        "on_failure": dag_json(&plan.rollback, true, preview),
        "gate": gate.cloned().unwrap_or(J::Null),
    })
}
