//! From the raw model to the inventory: `ungrouped`, group depth, variable precedence, connection settings.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde_json::Value as J;

use super::{Connection, Group, Host, Inventory, Raw};
use crate::diag::Source;
use crate::docs::schema::Checker;
use crate::yaml::{Kind, Node};

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

pub(super) fn resolve(c: &mut Checker, mut raw: Raw, src: &Source) -> Inventory {
    // Hosts in no group but `all` belong to `ungrouped`, as in Ansible; `ungrouped` comes first under `all`.
    let grouped: BTreeSet<String> = raw
        .groups
        .iter()
        .filter(|(n, _)| *n != "all" && *n != "ungrouped")
        .flat_map(|(_, g)| g.hosts.clone())
        .collect();
    let mut ungrouped = raw.group("ungrouped").hosts.clone();
    ungrouped.retain(|h| !grouped.contains(h));
    let mut listed: HashSet<String> = ungrouped.iter().cloned().collect();
    for h in raw.hosts.iter().map(|h| h.0.clone()) {
        if !grouped.contains(&h) && listed.insert(h.clone()) {
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
    // The groups that list each host themselves, in group-name order.
    let mut direct: HashMap<&str, Vec<String>> = HashMap::new();
    for (g, group) in &raw.groups {
        for h in &group.hosts {
            let in_ = direct.entry(h.as_str()).or_default();
            if in_.last() != Some(g) {
                in_.push(g.clone());
            }
        }
    }
    let mut hosts = Vec::new();
    for (name, span, own, conn) in &raw.hosts {
        let mut member: BTreeSet<String> = BTreeSet::new();
        let mut todo: Vec<String> = direct.get(name.as_str()).cloned().unwrap_or_default();
        while let Some(g) = todo.pop() {
            if member.insert(g.clone()) {
                todo.extend(parents.get(&g).cloned().unwrap_or_default());
            }
        }
        member.remove("all");
        let mut ordered: Vec<&String> = member.iter().collect();
        // As Ansible: by depth, then `ansible_group_priority` (default 1; higher wins), then name.
        let priority = |g: &str| {
            raw.groups[g]
                .vars
                .get("ansible_group_priority")
                .and_then(J::as_i64)
                .unwrap_or(1)
        };
        ordered.sort_by_key(|g| {
            (
                depth.get(*g).copied().unwrap_or(0),
                priority(g),
                (*g).clone(),
            )
        });
        let mut vars = raw
            .groups
            .get("all")
            .map(|g| g.vars.clone())
            .unwrap_or_default();
        for g in &ordered {
            vars.extend(raw.groups[*g].vars.clone());
        }
        // It orders groups; it is no host variable.
        vars.remove("ansible_group_priority");
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
            // An Ansible inventory may name any connection; only a run refuses what setup cannot drive.
            Some(_) if !raw.native => Connection::Unsupported,
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
            known_hosts: conn
                .known_hosts
                .clone()
                .or(d.known_hosts.clone())
                .or_else(|| {
                    ["ansible_ssh_extra_args", "ansible_ssh_common_args"]
                        .iter()
                        .find_map(|k| text(k).as_deref().and_then(known_hosts_in_args))
                }),
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
    Inventory::new(hosts, raw.groups, Some(src.clone()))
}

/// The file an Ansible inventory names for host keys: `-o UserKnownHostsFile=FILE` (or
/// `-oUserKnownHostsFile=FILE`, `-o UserKnownHostsFile FILE`) in `ansible_ssh_common_args` or
/// `ansible_ssh_extra_args`.
fn known_hosts_in_args(args: &str) -> Option<String> {
    let words: Vec<&str> = args.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let option = match words[i] {
            "-o" => {
                i += 1;
                words.get(i).copied()
            }
            w => w.strip_prefix("-o"),
        };
        if let Some(o) = option {
            let (key, value) = match o.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (o, words.get(i + 1).map(|v| v.to_string())),
            };
            if key.eq_ignore_ascii_case("UserKnownHostsFile") {
                return value
                    .map(|v| v.trim_matches(['"', '\'']).to_string())
                    .filter(|v| !v.is_empty());
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod known_hosts_tests {
    use super::known_hosts_in_args;

    #[test]
    fn user_known_hosts_file_is_read_from_ansible_ssh_args() {
        for args in [
            "-o UserKnownHostsFile=/etc/dr/known_hosts",
            "-o StrictHostKeyChecking=yes -oUserKnownHostsFile=/etc/dr/known_hosts",
            "-o UserKnownHostsFile /etc/dr/known_hosts -C",
            "-o userknownhostsfile=\"/etc/dr/known_hosts\"",
        ] {
            assert_eq!(
                known_hosts_in_args(args).as_deref(),
                Some("/etc/dr/known_hosts"),
                "{args}"
            );
        }
        assert_eq!(known_hosts_in_args("-o ProxyJump=bastion"), None);
    }
}
