//! `storage:` as a list of targets, in backup.yml and restore.yml (3-2-1: the same backups on more
//! than one storage):
//!
//! ```yaml
//! storage:
//!   - { name: primary, type: s3, bucket: dr-backups, endpoint: https://minio.dc:9000 }
//!   - { name: offsite, type: sftp, host: vault.example, path: /backups }
//! ```
//!
//! Each target has a name (letters, digits, `-` and `_`; not `type` or `timeout`) and the settings
//! of its type, but no secret: a target's secrets are answers, `storage.NAME.FIELD` (e.g.
//! `storage.offsite.password`, or `SETUP_STORAGE_OFFSITE_PASSWORD`), as are settings it leaves out.

use serde_json::Value as J;

use super::schema::Checker;
use crate::yaml::{Kind, Node};

/// A value read from a document (restore.yml, a storage target), kept with its node so later
/// checks can point at it.
#[derive(Clone, Debug)]
pub struct Entry {
    pub key: String,
    pub value: serde_json::Value,
    pub node: Node,
}

#[derive(Clone, Debug)]
pub struct TargetSpec {
    pub name: String,
    /// The type as written (checked against the storage types where answers are known).
    pub kind: String,
    pub kind_node: Node,
    /// The settings the document gives: key is the field (`bucket`).
    pub settings: Vec<Entry>,
    pub node: Node,
    pub source: crate::diag::Source,
}

fn good_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 40
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !["type", "timeout", "targets"].contains(&name)
}

/// One target: `{ name, type, FIELD: value ... }`. `default_name` names a target that gives none
/// (the one target of a mapping is named after its type).
fn target(c: &mut Checker, item: &Node, default_name: Option<&str>) -> Option<TargetSpec> {
    let entries = c.map(item, "storage target", &[])?;
    let (kind, kind_node) = match item.get("type") {
        Some(t) => (c.string(t, "type")?, t.clone()),
        None => {
            let d = c.error("missing_key", item, "a storage target needs a `type`");
            d.label = "no `type`".into();
            d.help = Some("add e.g. `type: s3` (s3, azure, sftp, ftp or local)".into());
            return None;
        }
    };
    let name = match (item.get("name"), default_name) {
        (Some(n), _) => c.string(n, "name")?,
        (None, Some(d)) => d.to_string(),
        (None, None) => {
            let d = c.error(
                "missing_key",
                item,
                "a storage target in a list needs a `name`",
            );
            d.label = "no `name`".into();
            d.help = Some("add e.g. `name: offsite`: its answers are `storage.NAME.FIELD`".into());
            return None;
        }
    };
    if !good_name(&name) {
        let at = item.get("name").unwrap_or(item);
        let d = c.error(
            "bad_target_name",
            at,
            format!("`{name}` cannot name a storage target"),
        );
        d.label = "not a target name".into();
        d.help =
            Some("use letters, digits, `-` and `_` (not `type`, `timeout` or `targets`)".into());
        return None;
    }
    let mut settings = Vec::new();
    for (k, v) in entries {
        let key = k.scalar_text().unwrap_or_default();
        if key == "name" || key == "type" {
            continue;
        }
        let value = match &v.kind {
            Kind::Str(_) | Kind::Int(_) | Kind::Bool(_) | Kind::Float(_) => {
                J::String(v.scalar_text().unwrap_or_default())
            }
            _ => {
                let d = c.error("wrong_type", v, format!("`{key}` takes one value"));
                d.label = format!("this is {}", v.type_name());
                continue;
            }
        };
        settings.push(Entry {
            key,
            value,
            node: v.clone(),
        });
    }
    Some(TargetSpec {
        name,
        kind,
        kind_node,
        settings,
        node: item.clone(),
        source: c.src.clone(),
    })
}

/// `storage:` as a list of targets, or one mapping (`one_named`: the name of a mapping that gives
/// none; `None` when a mapping is not read here). Names are unique.
pub fn parse(c: &mut Checker, node: &Node) -> Vec<TargetSpec> {
    let mut out: Vec<TargetSpec> = Vec::new();
    let items: Vec<(&Node, Option<String>)> = match &node.kind {
        Kind::Seq(items) => items.iter().map(|i| (i, None)).collect(),
        Kind::Map(_) => {
            let name = node
                .get("type")
                .and_then(Node::scalar_text)
                .unwrap_or_default();
            vec![(node, Some(name))]
        }
        _ => {
            let d = c.error("wrong_type", node, "`storage` is a list of targets");
            d.label = format!("this is {}", node.type_name());
            d.help =
                Some("write e.g. `storage: [{ name: store, type: local, path: store }]`".into());
            return out;
        }
    };
    if items.is_empty() {
        let d = c.error("no_targets", node, "`storage` lists no target");
        d.label = "empty".into();
        return out;
    }
    for (item, default) in items {
        let Some(t) = target(c, item, default.as_deref()) else {
            continue;
        };
        if out.iter().any(|o| o.name == t.name) {
            let at = item.get("name").unwrap_or(item);
            let d = c.error(
                "duplicate_target",
                at,
                format!("two storage targets are named `{}`", t.name),
            );
            d.label = "named twice".into();
            d.help = Some("give each target a name of its own".into());
            continue;
        }
        out.push(t);
    }
    out
}
