//! Ansible's YAML inventory: groups with `hosts`, `children` and `vars`, nested.

use super::{Raw, vars};
use crate::docs::schema::Checker;
use crate::yaml::{Kind, Node};

pub(super) fn parse_group(c: &mut Checker, name: &str, node: &Node, raw: &mut Raw) {
    raw.group(name);
    let what = format!("group `{name}`");
    let Some(_) = c.map(node, &what, &["hosts", "children", "vars"]) else {
        return;
    };
    if let Some(v) = node.get("vars") {
        let vars = vars(c, v, "vars");
        raw.group(name).vars.extend(vars);
    }
    if let Some(hosts) = node.get("hosts") {
        for (k, h) in entries(c, hosts, "hosts") {
            let host = k.scalar_text().unwrap_or_default();
            let idx = raw.host(&host, k.span);
            let own = vars(c, &h, &format!("host `{host}`"));
            raw.hosts[idx].2.extend(own);
            add(&mut raw.group(name).hosts, host);
        }
    }
    if let Some(children) = node.get("children") {
        for (k, g) in entries(c, children, "children") {
            let child = k.scalar_text().unwrap_or_default();
            add(&mut raw.group(name).children, child.clone());
            parse_group(c, &child, &g, raw);
        }
    }
}

/// The entries of a `hosts:` or `children:` mapping; empty when null, a diagnostic when not a mapping.
fn entries(c: &mut Checker, node: &Node, what: &str) -> Vec<(Node, Node)> {
    match &node.kind {
        Kind::Map(m) => m.clone(),
        Kind::Null => Vec::new(),
        _ => {
            c.map(node, what, &[]);
            Vec::new()
        }
    }
}

/// Adds a name to a list once.
fn add(list: &mut Vec<String>, name: String) {
    if !list.contains(&name) {
        list.push(name);
    }
}
