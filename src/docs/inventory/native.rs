//! The native inventory form: `defaults`, `hosts` (with `address`, `groups`, `vars`), `groups`, `vars`.

use std::collections::BTreeSet;

use super::{Conn, Raw, vars};
use crate::docs::schema::Checker;
use crate::yaml::Node;

const NATIVE_KEYS: &[&str] = &["defaults", "hosts", "vars", "groups"];
const CONN_KEYS: &[&str] = &[
    "address",
    "port",
    "user",
    "key_file",
    "known_hosts",
    "connection",
    "become",
    "max_parallel",
];
/// A host takes the connection settings, its groups and its variables.
const HOST_EXTRA_KEYS: &[&str] = &["groups", "vars"];

pub(super) fn parse(c: &mut Checker, node: &Node, raw: &mut Raw) {
    let Some(_) = c.map(node, "the inventory", NATIVE_KEYS) else {
        return;
    };
    raw.group("all");
    if let Some(d) = node.get("defaults") {
        raw.defaults = parse_conn(c, d, "defaults", CONN_KEYS);
    }
    if let Some(v) = node.get("vars") {
        raw.group("all").vars = vars(c, v, "vars");
    }
    if let Some(groups) = node.get("groups").and_then(|g| c.map(g, "groups", &[])) {
        for (k, g) in groups {
            let name = k.scalar_text().unwrap_or_default();
            let Some(_) = c.map(g, &format!("group `{name}`"), &["vars", "children"]) else {
                continue;
            };
            let vars = g
                .get("vars")
                .map(|v| vars(c, v, "vars"))
                .unwrap_or_default();
            let children: Vec<String> = g
                .get("children")
                .map(|n| c.strings(n, "children"))
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.0)
                .collect();
            let group = raw.group(&name);
            group.vars.extend(vars);
            group.children.extend(children);
        }
    }
    let Some(hosts) = node.get("hosts") else {
        return;
    };
    let Some(entries) = c.map(hosts, "hosts", &[]) else {
        return;
    };
    for (k, h) in entries {
        let name = k.scalar_text().unwrap_or_default();
        let idx = raw.host(&name, k.span);
        let host_keys: Vec<&str> = CONN_KEYS.iter().chain(HOST_EXTRA_KEYS).copied().collect();
        let conn = parse_conn(c, h, &format!("host `{name}`"), &host_keys);
        let own_vars = h
            .get("vars")
            .map(|v| vars(c, v, "vars"))
            .unwrap_or_default();
        let groups = h
            .get("groups")
            .map(|g| c.strings(g, "groups"))
            .unwrap_or_default();
        raw.hosts[idx].2.extend(own_vars);
        raw.hosts[idx].3 = conn.clone();
        for (g, _) in groups {
            raw.join(&g, name.clone());
        }
        let local = matches!(conn.connection.as_ref().or(raw.defaults.connection.as_ref()), Some((s, _)) if s == "local");
        if conn.address.is_none() && !local {
            let d = c.error(
                "host_no_address",
                k,
                format!("host `{name}` has no address"),
            );
            d.label = "this host needs an address".into();
            d.help = Some(format!(
                "add `address: 10.0.0.1` (or a DNS name) to `{name}`, or `connection: local` to run its steps on this machine"
            ));
        }
    }
    let children: Vec<String> = raw.groups.keys().filter(|g| *g != "all").cloned().collect();
    let nested: BTreeSet<String> = raw
        .groups
        .values()
        .flat_map(|g| g.children.clone())
        .collect();
    raw.group("all").children = children
        .into_iter()
        .filter(|g| !nested.contains(g))
        .collect();
}

fn parse_conn(c: &mut Checker, node: &Node, what: &str, allowed: &[&str]) -> Conn {
    let mut conn = Conn::default();
    if c.map(node, what, allowed).is_none() {
        return conn;
    }
    conn.address = node.get("address").and_then(|n| c.string(n, "address"));
    conn.port = node.get("port").and_then(|n| c.uint(n, "port"));
    conn.user = node.get("user").and_then(|n| c.string(n, "user"));
    conn.key_file = node.get("key_file").and_then(|n| c.string(n, "key_file"));
    conn.known_hosts = node
        .get("known_hosts")
        .and_then(|n| c.string(n, "known_hosts"));
    conn.connection = node
        .get("connection")
        .and_then(|n| c.string(n, "connection").map(|s| (s, n.clone())));
    conn.become_ = node.get("become").and_then(|n| c.bool(n, "become"));
    conn.max_parallel = node
        .get("max_parallel")
        .and_then(|n| c.uint(n, "max_parallel"));
    conn
}
