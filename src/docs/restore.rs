//! restore.yml: which backups to restore, the analytics mode, and non-secret storage settings.

use super::schema::Checker;
use crate::diag::{Diagnostics, Source};
use crate::yaml::Node;

const KEYS: &[&str] = &[
    "config_backup",
    "analytics",
    "components",
    "storage",
    "vars",
    "drill",
    "schedule",
];
const ANALYTICS_KEYS: &[&str] = &[
    "mode",
    "snapshots",
    "since",
    "pattern",
    "prefix",
    "state_file",
];
pub const COMPONENTS: &[&str] = &["config", "analytics"];

/// A value read from restore.yml, kept with its node so later checks can point at it.
pub use super::targets::Entry;

#[derive(Clone, Debug, Default)]
pub struct RestoreSpec {
    /// Dotted keys such as `config_backup`, `analytics.mode`, `storage.bucket`.
    pub entries: Vec<Entry>,
    pub components: Vec<String>,
    pub vars: serde_json::Map<String, serde_json::Value>,
    pub source: Option<Source>,
    /// `drill:`, defaults filled in (also when restore.yml has none).
    pub drill: super::drill::Drill,
    /// `schedule: { drill: "Sun 04:00" }`: weekday (Sunday 0), hour, minute, UTC.
    pub drill_schedule: Option<(u32, u32, u32)>,
    /// `storage:` as a list of targets (a mapping is one storage, in `entries`).
    pub targets: Vec<super::targets::TargetSpec>,
}

pub fn parse(src: &Source, node: &Node, diags: &mut Diagnostics) -> RestoreSpec {
    let mut c = Checker::new(src, diags);
    let mut spec = RestoreSpec {
        source: Some(src.clone()),
        ..Default::default()
    };
    if c.map(node, "restore.yml", KEYS).is_none() {
        return spec;
    }
    if let Some(n) = node.get("config_backup")
        && let Some(s) = c.string(n, "config_backup")
    {
        spec.entries.push(Entry {
            key: "config_backup".into(),
            value: s.into(),
            node: n.clone(),
        });
    }
    if let Some(a) = node.get("analytics")
        && let Some(entries) = c.map(a, "analytics", ANALYTICS_KEYS)
    {
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or_default();
            if let Some(s) = c.string(v, &format!("analytics.{key}")) {
                spec.entries.push(Entry {
                    key: format!("analytics.{key}"),
                    value: s.into(),
                    node: v.clone(),
                });
            }
        }
    }
    spec.components = match node.get("components") {
        Some(n) => {
            let list = c.strings(n, "components");
            for (name, item) in &list {
                if !COMPONENTS.contains(&name.as_str()) {
                    let s = crate::diag::did_you_mean(name, COMPONENTS.iter().copied());
                    let d = c.error(
                        "unknown_component",
                        item,
                        format!("unknown component `{name}`"),
                    );
                    d.label = "not a component".into();
                    d.help = Some(match s {
                        Some(s) => format!(
                            "did you mean `{s}`? components are: {}",
                            COMPONENTS.join(", ")
                        ),
                        None => format!("components are: {}", COMPONENTS.join(", ")),
                    });
                }
            }
            list.into_iter().map(|x| x.0).collect()
        }
        None => COMPONENTS.iter().map(|s| s.to_string()).collect(),
    };
    if let Some(s) = node.get("storage")
        && matches!(s.kind, crate::yaml::Kind::Seq(_))
    {
        spec.targets = super::targets::parse(&mut c, s);
    } else if let Some(s) = node.get("storage")
        && let Some(entries) = c.map(s, "storage", &[])
    {
        for (k, v) in entries {
            let key = k.scalar_text().unwrap_or_default();
            flatten(&format!("storage.{key}"), v, &mut spec.entries);
        }
    }
    if let Some(d) = node.get("drill") {
        spec.drill = super::drill::parse(&mut c, d);
    }
    if let Some(n) = node.get("schedule") {
        spec.drill_schedule = super::drill::schedule(&mut c, n);
    }
    if let Some(v) = node.get("vars")
        && let Some(entries) = c.map(v, "vars", &[])
    {
        spec.vars = entries
            .iter()
            .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
            .collect();
    }
    spec
}

/// Flattens nested mappings into dotted keys.
pub fn flatten(prefix: &str, node: &Node, out: &mut Vec<Entry>) {
    match node.as_map() {
        Some(entries) => {
            for (k, v) in entries {
                flatten(
                    &format!("{prefix}.{}", k.scalar_text().unwrap_or_default()),
                    v,
                    out,
                );
            }
        }
        None => out.push(Entry {
            key: prefix.to_string(),
            value: node.to_json(),
            node: node.clone(),
        }),
    }
}

impl RestoreSpec {
    /// `restore.*` as templates see it.
    pub fn template_value(&self) -> serde_json::Value {
        let mut root = serde_json::Map::new();
        for e in self
            .entries
            .iter()
            .filter(|e| !e.key.starts_with("storage."))
        {
            insert_dotted(&mut root, &e.key, e.value.clone());
        }
        root.insert("components".into(), self.components.clone().into());
        root.entry("config_backup")
            .or_insert(serde_json::Value::Null);
        serde_json::Value::Object(root)
    }
}

pub fn insert_dotted(
    root: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
    value: serde_json::Value,
) {
    match key.split_once('.') {
        None => {
            root.insert(key.to_string(), value);
        }
        Some((head, rest)) => {
            let child = root
                .entry(head.to_string())
                .or_insert_with(|| serde_json::Value::Object(Default::default()));
            if !child.is_object() {
                *child = serde_json::Value::Object(Default::default());
            }
            if let serde_json::Value::Object(m) = child {
                insert_dotted(m, rest, value);
            }
        }
    }
}
