//! master.yml: the native inventory form and Ansible's YAML inventory, resolved to hosts with variables.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value as J, json};

use super::schema::Checker;
use crate::diag::{Diagnostics, Source};
use crate::yaml::{Kind, Node, Span};

pub type Vars = Map<String, J>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Connection {
    Local,
    Ssh,
}

#[derive(Clone, Debug)]
pub struct Host {
    pub name: String,
    pub address: Option<String>,
    pub port: u16,
    pub user: Option<String>,
    pub key_file: Option<String>,
    /// The known_hosts file ssh checks this host's key against (default: ssh's own).
    pub known_hosts: Option<String>,
    pub connection: Connection,
    pub become_: bool,
    pub max_parallel: usize,
    /// Every group the host is in, ancestors included, `all` excluded.
    pub groups: Vec<String>,
    /// all < parent group < child group < host.
    pub vars: Vars,
}

#[derive(Clone, Debug, Default)]
pub struct Group {
    pub hosts: Vec<String>,
    pub children: Vec<String>,
    pub vars: Vars,
}

#[derive(Clone, Debug, Default)]
pub struct Inventory {
    pub hosts: Vec<Host>,
    pub groups: BTreeMap<String, Group>,
    pub source: Option<Source>,
}

impl Inventory {
    /// False when master.yml could not be read or parsed: checks against it would only add noise.
    pub fn loaded(&self) -> bool {
        self.source.is_some()
    }
}

/// Settings a host entry may give directly, over what variables say.
#[derive(Clone, Debug, Default)]
struct Conn {
    address: Option<String>,
    port: Option<u64>,
    user: Option<String>,
    key_file: Option<String>,
    known_hosts: Option<String>,
    connection: Option<(String, Node)>,
    become_: Option<bool>,
    max_parallel: Option<u64>,
}

#[derive(Default)]
struct Raw {
    /// Hosts in declaration order, with their own variables and settings.
    hosts: Vec<(String, Span, Vars, Conn)>,
    groups: BTreeMap<String, Group>,
    defaults: Conn,
    native: bool,
}

impl Raw {
    fn host(&mut self, name: &str, span: Span) -> usize {
        if let Some(i) = self.hosts.iter().position(|h| h.0 == name) {
            return i;
        }
        self.hosts
            .push((name.to_string(), span, Vars::new(), Conn::default()));
        self.hosts.len() - 1
    }
    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }
}

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
const HOST_KEYS: &[&str] = &[
    "address",
    "port",
    "user",
    "key_file",
    "known_hosts",
    "connection",
    "become",
    "max_parallel",
    "groups",
    "vars",
];

pub fn parse(src: &Source, node: &Node, diags: &mut Diagnostics) -> Inventory {
    let mut c = Checker::new(src, diags);
    let mut raw = Raw::default();
    let native = node.get("hosts").is_some() || node.get("defaults").is_some();
    if native {
        raw.native = true;
        parse_native(&mut c, node, &mut raw);
    } else if let Some(entries) = c.map(node, "the inventory", &[]) {
        raw.group("all");
        for (k, v) in entries {
            let name = k.scalar_text().unwrap_or_default();
            if name != "all" {
                raw.group("all").children.push(name.clone());
            }
            parse_ansible_group(&mut c, &name, v, &mut raw);
        }
    }
    resolve(&mut c, raw, src)
}

fn parse_native(c: &mut Checker, node: &Node, raw: &mut Raw) {
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
        let conn = parse_conn(c, h, &format!("host `{name}`"), HOST_KEYS);
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
            let group = raw.group(&g);
            if !group.hosts.contains(&name) {
                group.hosts.push(name.clone());
            }
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

fn vars(c: &mut Checker, node: &Node, what: &str) -> Vars {
    match c.map(node, what, &[]) {
        Some(entries) => entries
            .iter()
            .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
            .collect(),
        None => Vars::new(),
    }
}

fn parse_ansible_group(c: &mut Checker, name: &str, node: &Node, raw: &mut Raw) {
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
        let entries: Vec<(Node, Node)> = match &hosts.kind {
            Kind::Map(m) => m.clone(),
            Kind::Null => Vec::new(),
            _ => {
                c.map(hosts, "hosts", &[]);
                Vec::new()
            }
        };
        for (k, h) in entries {
            let host = k.scalar_text().unwrap_or_default();
            let idx = raw.host(&host, k.span);
            let own = vars(c, &h, &format!("host `{host}`"));
            raw.hosts[idx].2.extend(own);
            let group = raw.group(name);
            if !group.hosts.contains(&host) {
                group.hosts.push(host);
            }
        }
    }
    if let Some(children) = node.get("children") {
        let entries = match &children.kind {
            Kind::Map(m) => m.clone(),
            Kind::Null => Vec::new(),
            _ => {
                c.map(children, "children", &[]);
                Vec::new()
            }
        };
        for (k, g) in entries {
            let child = k.scalar_text().unwrap_or_default();
            let group = raw.group(name);
            if !group.children.contains(&child) {
                group.children.push(child.clone());
            }
            parse_ansible_group(c, &child, &g, raw);
        }
    }
}

/// The longest distance of each group from `all`, as Ansible orders group variables.
fn depths(groups: &BTreeMap<String, Group>) -> BTreeMap<String, usize> {
    let mut depth: BTreeMap<String, usize> = BTreeMap::new();
    fn walk(
        name: &str,
        d: usize,
        groups: &BTreeMap<String, Group>,
        depth: &mut BTreeMap<String, usize>,
        guard: usize,
    ) {
        if guard > 64 {
            return;
        }
        let cur = depth.entry(name.to_string()).or_insert(d);
        if *cur > d {
            return;
        }
        *cur = d;
        if let Some(g) = groups.get(name) {
            for child in &g.children {
                walk(child, d + 1, groups, depth, guard + 1);
            }
        }
    }
    walk("all", 0, groups, &mut depth, 0);
    depth
}

fn resolve(c: &mut Checker, mut raw: Raw, src: &Source) -> Inventory {
    // Hosts in no group but `all` belong to `ungrouped`, as in Ansible; `ungrouped` comes first under `all`.
    let grouped: BTreeSet<String> = raw
        .groups
        .iter()
        .filter(|(n, _)| *n != "all" && *n != "ungrouped")
        .flat_map(|(_, g)| g.hosts.clone())
        .collect();
    let mut ungrouped = raw.group("ungrouped").hosts.clone();
    ungrouped.retain(|h| !grouped.contains(h));
    for h in raw.hosts.iter().map(|h| h.0.clone()) {
        if !grouped.contains(&h) && !ungrouped.contains(&h) {
            ungrouped.push(h);
        }
    }
    raw.group("ungrouped").hosts = ungrouped;
    raw.group("all").children.retain(|g| g != "ungrouped");
    raw.group("all").children.insert(0, "ungrouped".into());
    let depth = depths(&raw.groups);
    let mut parents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, g) in &raw.groups {
        for child in &g.children {
            parents.entry(child.clone()).or_default().push(name.clone());
        }
    }
    let mut hosts = Vec::new();
    for (name, span, own, conn) in &raw.hosts {
        let mut member: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = raw
            .groups
            .iter()
            .filter(|(_, g)| g.hosts.contains(name))
            .map(|(n, _)| n.clone())
            .collect();
        while let Some(g) = todo.pop() {
            if member.insert(g.clone()) {
                todo.extend(parents.get(&g).cloned().unwrap_or_default());
            }
        }
        member.remove("all");
        let mut ordered: Vec<&String> = member.iter().collect();
        ordered.sort_by_key(|g| (depth.get(*g).copied().unwrap_or(0), (*g).clone()));
        let mut vars = raw
            .groups
            .get("all")
            .map(|g| g.vars.clone())
            .unwrap_or_default();
        for g in &ordered {
            vars.extend(raw.groups[*g].vars.clone());
        }
        vars.extend(own.clone());
        let d = &raw.defaults;
        let text = |key: &str| {
            vars.get(key).and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| Some(v.to_string()))
            })
        };
        let connection_name = conn
            .connection
            .as_ref()
            .or(d.connection.as_ref())
            .map(|c| c.0.clone())
            .or_else(|| text("ansible_connection"));
        let connection = match connection_name.as_deref() {
            Some("local") => Connection::Local,
            None | Some("ssh") | Some("smart") | Some("paramiko") => Connection::Ssh,
            Some(other) => {
                let node = conn
                    .connection
                    .as_ref()
                    .or(d.connection.as_ref())
                    .map(|c| c.1.clone());
                let node = node.unwrap_or(Node {
                    kind: Kind::Null,
                    span: *span,
                });
                let d = c.error(
                    "unknown_connection",
                    &node,
                    format!("unknown connection `{other}` for host `{name}`"),
                );
                d.label = "not a connection type".into();
                d.help = Some("use `ssh` (the default) or `local`".into());
                Connection::Ssh
            }
        };
        let address = conn
            .address
            .clone()
            .or_else(|| text("ansible_host"))
            .or_else(|| (!raw.native).then(|| name.clone()));
        let port = conn
            .port
            .or(d.port)
            .or_else(|| {
                vars.get("ansible_port")
                    .and_then(|v| v.as_u64().or_else(|| v.as_str()?.parse().ok()))
            })
            .unwrap_or(22);
        let become_ = conn
            .become_
            .or(d.become_)
            .or_else(|| vars.get("ansible_become").and_then(J::as_bool))
            .unwrap_or(false);
        hosts.push(Host {
            name: name.clone(),
            address,
            port: port.min(u16::MAX as u64) as u16,
            user: conn
                .user
                .clone()
                .or(d.user.clone())
                .or_else(|| text("ansible_user")),
            key_file: conn
                .key_file
                .clone()
                .or(d.key_file.clone())
                .or_else(|| text("ansible_ssh_private_key_file")),
            known_hosts: conn.known_hosts.clone().or(d.known_hosts.clone()),
            connection,
            become_,
            max_parallel: conn.max_parallel.or(d.max_parallel).unwrap_or(4).max(1) as usize,
            groups: ordered
                .into_iter()
                .filter(|g| *g != "ungrouped")
                .cloned()
                .collect(),
            vars,
        });
    }
    Inventory {
        hosts,
        groups: raw.groups,
        source: Some(src.clone()),
    }
}

impl Inventory {
    pub fn host(&self, name: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.name == name)
    }

    /// Hosts matched by a host name, a group name or `all`, in inventory order.
    pub fn resolve(&self, pattern: &str) -> Option<Vec<String>> {
        if pattern == "all" {
            return Some(self.hosts.iter().map(|h| h.name.clone()).collect());
        }
        if let Some(h) = self.host(pattern) {
            return Some(vec![h.name.clone()]);
        }
        self.groups.contains_key(pattern).then(|| {
            self.hosts
                .iter()
                .filter(|h| {
                    h.groups.iter().any(|g| g == pattern) || self.in_group_direct(pattern, &h.name)
                })
                .map(|h| h.name.clone())
                .collect()
        })
    }

    fn in_group_direct(&self, group: &str, host: &str) -> bool {
        self.groups
            .get(group)
            .is_some_and(|g| g.hosts.iter().any(|h| h == host))
    }

    /// Names hosts and groups may be referred to by, for suggestions.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.hosts.iter().map(|h| h.name.as_str()).collect();
        names.extend(self.groups.keys().map(String::as_str));
        names
    }

    /// Group name → member host names, as templates see `groups`.
    pub fn groups_json(&self) -> J {
        let mut out = Map::new();
        for name in self.groups.keys() {
            out.insert(name.clone(), json!(self.resolve(name).unwrap_or_default()));
        }
        J::Object(out)
    }

    /// The same JSON shape as `ansible-inventory --list`.
    pub fn ansible_list(&self) -> J {
        let mut out = Map::new();
        let mut seen = BTreeSet::new();
        self.format_group("all", &mut out, &mut seen);
        let mut hostvars = Map::new();
        for h in &self.hosts {
            let mut vars = h.vars.clone();
            if self.source.is_some()
                && !vars.contains_key("ansible_host")
                && h.address.as_deref() != Some(h.name.as_str())
                && let Some(a) = &h.address
            {
                vars.insert("ansible_host".into(), json!(a));
            }
            if !vars.is_empty() {
                hostvars.insert(h.name.clone(), J::Object(vars));
            }
        }
        out.insert(
            "_meta".into(),
            json!({ "hostvars": hostvars, "profile": "inventory_legacy" }),
        );
        J::Object(out)
    }

    fn format_group(&self, name: &str, out: &mut Map<String, J>, seen: &mut BTreeSet<String>) {
        let Some(group) = self.groups.get(name) else {
            return;
        };
        let mut entry = Map::new();
        if name != "all" && !group.hosts.is_empty() {
            entry.insert("hosts".into(), json!(group.hosts));
        }
        if !group.children.is_empty() {
            entry.insert("children".into(), json!(group.children));
        }
        for child in &group.children {
            if seen.insert(child.clone()) {
                self.format_group(child, out, seen);
            }
        }
        if !entry.is_empty() {
            out.insert(name.to_string(), J::Object(entry));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(text: &str) -> (Inventory, Diagnostics) {
        let src = Source::new("master.yml", text);
        let node = crate::yaml::parse(text).unwrap();
        let mut d = Diagnostics::default();
        let inv = parse(&src, &node, &mut d);
        (inv, d)
    }

    #[test]
    fn ansible_precedence_is_all_then_parent_then_child_then_host() {
        let (inv, d) = inv(
            "all:\n  vars: {x: all, y: all, z: all, w: all}\n  children:\n    parent:\n      vars: {x: parent, y: parent, z: parent}\n      children:\n        child:\n          vars: {x: child, y: child}\n          hosts:\n            h1: {x: host}\n",
        );
        assert!(d.is_empty());
        let h = inv.host("h1").unwrap();
        assert_eq!(h.vars["x"], "host");
        assert_eq!(h.vars["y"], "child");
        assert_eq!(h.vars["z"], "parent");
        assert_eq!(h.vars["w"], "all");
        assert_eq!(inv.resolve("parent").unwrap(), vec!["h1"]);
    }

    #[test]
    fn ansible_connection_variables_map_to_settings() {
        let (inv, _) = inv(
            "all:\n  hosts:\n    a:\n      ansible_host: 10.0.0.1\n      ansible_port: 2222\n      ansible_user: dr\n    b:\n      ansible_connection: local\n",
        );
        let a = inv.host("a").unwrap();
        assert_eq!(
            (a.address.as_deref(), a.port, a.user.as_deref()),
            (Some("10.0.0.1"), 2222, Some("dr"))
        );
        assert_eq!(inv.host("b").unwrap().connection, Connection::Local);
    }

    #[test]
    fn native_defaults_apply_and_hosts_override() {
        let (inv, d) = inv(
            "defaults: {user: dr, port: 2200}\nhosts:\n  a: {address: 1.2.3.4, port: 22, groups: [web]}\nvars: {site: x}\n",
        );
        assert!(d.is_empty());
        let a = inv.host("a").unwrap();
        assert_eq!((a.port, a.user.as_deref()), (22, Some("dr")));
        assert_eq!(a.vars["site"], "x");
        assert_eq!(inv.resolve("web").unwrap(), vec!["a"]);
    }

    #[test]
    fn native_host_without_address_is_an_error() {
        let (_, d) = inv("hosts:\n  a: {groups: [web]}\n  b: {connection: local}\n");
        assert_eq!(d.list.len(), 1);
        assert_eq!(d.list[0].code, "host_no_address");
    }
}
