//! master.yml: the resolved inventory model (hosts with their variables, groups) and its queries.
//! The native form and Ansible's YAML inventory are read in their own files into one raw model.

mod ansible;
mod native;
mod ranges;
mod resolve;
#[cfg(test)]
mod tests;
mod yaml11;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::{Map, Value as J, json};

use super::schema::Checker;
use crate::diag::{Diagnostics, Source};
use crate::yaml::{Node, Span};

pub type Vars = Map<String, J>;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Connection {
    Local,
    Ssh,
    /// A connection type setup cannot drive (`network_cli`, `winrm`, ...): it lists, and a run that
    /// would use the host is refused (its `ansible_connection` names it).
    Unsupported,
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
    /// Host positions by name, made on first use: a lookup per step, host and template must not
    /// scan thousands of hosts.
    by_name: std::sync::OnceLock<std::collections::HashMap<String, usize>>,
}

impl Inventory {
    /// False when master.yml could not be read or parsed: checks against it would only add noise.
    pub fn loaded(&self) -> bool {
        self.source.is_some()
    }
}

/// Settings a host entry may give directly, over what variables say.
#[derive(Clone, Debug, Default)]
pub(super) struct Conn {
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
pub(super) struct Raw {
    /// Hosts in declaration order, with their own variables and settings.
    hosts: Vec<(String, Span, Vars, Conn)>,
    /// Where each host is in `hosts`.
    index: HashMap<String, usize>,
    groups: BTreeMap<String, Group>,
    /// (group, host) pairs already in a group's `hosts`.
    members: HashSet<(String, String)>,
    defaults: Conn,
    native: bool,
}

impl Raw {
    fn host(&mut self, name: &str, span: Span) -> usize {
        if let Some(i) = self.index.get(name) {
            return *i;
        }
        self.hosts
            .push((name.to_string(), span, Vars::new(), Conn::default()));
        self.index.insert(name.to_string(), self.hosts.len() - 1);
        self.hosts.len() - 1
    }
    /// Puts a host in a group's `hosts`, once.
    fn join(&mut self, group: &str, host: String) {
        if self.members.insert((group.to_string(), host.clone())) {
            self.group(group).hosts.push(host);
        }
    }
    fn group(&mut self, name: &str) -> &mut Group {
        self.groups.entry(name.to_string()).or_default()
    }
}

pub fn parse(src: &Source, node: &Node, diags: &mut Diagnostics) -> Inventory {
    let mut c = Checker::new(src, diags);
    let mut raw = Raw::default();
    let native = node.get("hosts").is_some() || node.get("defaults").is_some();
    if native {
        raw.native = true;
        native::parse(&mut c, node, &mut raw);
    } else if let Some(entries) = c.map(node, "the inventory", &[]) {
        raw.group("all");
        let mut top = Vec::new();
        for (k, v) in entries {
            let name = k.scalar_text().unwrap_or_default();
            if name != "all" {
                raw.group("all").children.push(name.clone());
                top.push(name.clone());
            }
            ansible::parse_group(&mut c, &name, v, &mut raw);
        }
        // A top-level group goes under `all` only if no other group names it as a child (one that
        // `all: children:` names itself stays).
        let named: BTreeSet<String> = raw
            .groups
            .iter()
            .filter(|(n, _)| *n != "all")
            .flat_map(|(_, g)| g.children.clone())
            .collect();
        raw.group("all")
            .children
            .retain(|g| !(top.contains(g) && named.contains(g)));
    }
    resolve::resolve(&mut c, raw, src)
}

/// A mapping of variables.
pub(super) fn vars(c: &mut Checker, node: &Node, what: &str) -> Vars {
    match c.map(node, what, &[]) {
        Some(entries) => entries
            .iter()
            .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
            .collect(),
        None => Vars::new(),
    }
}

impl Inventory {
    pub fn new(hosts: Vec<Host>, groups: BTreeMap<String, Group>, source: Option<Source>) -> Self {
        Inventory {
            hosts,
            groups,
            source,
            by_name: Default::default(),
        }
    }

    pub fn host(&self, name: &str) -> Option<&Host> {
        let index = self.by_name.get_or_init(|| {
            let mut m = std::collections::HashMap::with_capacity(self.hosts.len());
            for (i, h) in self.hosts.iter().enumerate() {
                m.entry(h.name.clone()).or_insert(i);
            }
            m
        });
        // Checked, in case the list changed after the index was made.
        match index.get(name).and_then(|&i| self.hosts.get(i)) {
            Some(h) if h.name == name => Some(h),
            _ => self.hosts.iter().find(|h| h.name == name),
        }
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
