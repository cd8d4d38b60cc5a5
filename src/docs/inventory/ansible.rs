//! Ansible's YAML inventory: groups with `hosts`, `children` and `vars`, nested.

use super::Raw;
use super::ranges::{expand, split_port};
use super::yaml11::vars;
use crate::docs::schema::Checker;
use crate::yaml::{Kind, Node};

pub(super) fn parse_group(c: &mut Checker, name: &str, node: &Node, raw: &mut Raw) {
    raw.group(name);
    let merged = super::yaml11::merge_keys(node);
    let node = &merged;
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
            if matches!(k.kind, Kind::Int(_) | Kind::Float(_) | Kind::Bool(_)) {
                let d = c.error(
                    "bad_host_name",
                    &k,
                    format!(
                        "host name `{}` is not a string",
                        k.scalar_text().unwrap_or_default()
                    ),
                );
                d.label = "a number or a boolean here".into();
                d.help = Some("Ansible refuses it too; quote it if it is meant as a name".into());
                continue;
            }
            let key = k.scalar_text().unwrap_or_default();
            let (pattern, port) = split_port(&key);
            let names = match expand(pattern) {
                Ok(n) => n,
                Err(e) => {
                    let d = c.error("bad_host_range", &k, e);
                    d.label = "not a host range".into();
                    d.help = Some("write e.g. `node[01:10]`, `www[01:50:2]` or `db-[a:d]`".into());
                    continue;
                }
            };
            let own = vars(c, &h, &format!("host `{key}`"));
            for host in names {
                let idx = raw.host(&host, k.span);
                raw.hosts[idx].2.extend(own.clone());
                if let Some(p) = port {
                    raw.hosts[idx].2.insert("ansible_port".into(), p.into());
                }
                raw.join(name, host);
            }
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

/// The entries of a `hosts:` or `children:` mapping; empty when null; a single name given as a
/// string (Ansible's shorthand) is one entry with no settings; a diagnostic for anything else.
fn entries(c: &mut Checker, node: &Node, what: &str) -> Vec<(Node, Node)> {
    // `hosts: { <<: *common_hosts, web-1: … }`: the merged hosts are hosts of the group.
    let node = &super::yaml11::merge_keys(node);
    match &node.kind {
        Kind::Map(m) => m.clone(),
        Kind::Null => Vec::new(),
        Kind::Str(_) => vec![(
            node.clone(),
            Node {
                kind: Kind::Null,
                ..node.clone()
            },
        )],
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
