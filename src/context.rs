//! The variables a template sees, per host, in order of precedence:
//! inventory (all < groups < host) < playbook vars < `restore.*` / `storage.*` < `--set`, then built-ins.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Value;
use serde_json::{Map, Value as J, json};

use crate::answers::{Answers, storage};
use crate::docs::inventory::{Connection, Host, Inventory};
use crate::docs::playbook::Playbook;
use crate::docs::restore::RestoreSpec;
use crate::template::{self, Templates};

/// The name steps without `hosts` run on: this machine.
pub const CONTROLLER: &str = "localhost";

pub fn controller_host() -> Host {
    Host {
        name: CONTROLLER.into(),
        address: None,
        port: 22,
        user: None,
        key_file: None,
        known_hosts: None,
        connection: Connection::Local,
        become_: false,
        max_parallel: 8,
        groups: Vec::new(),
        vars: Map::new(),
    }
}

#[derive(Clone, Debug)]
pub struct RunInfo {
    pub id: String,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub now: chrono::DateTime<chrono::Utc>,
    pub check: bool,
    /// `--force`: replace a backup that exists.
    pub force: bool,
    /// `--allow-older`: a configuration older than the one in place may be restored.
    pub allow_older: bool,
}

/// Builds contexts for hosts; shared values are built once.
pub struct Vars<'a> {
    pub inventory: &'a Inventory,
    pub playbook: &'a Playbook,
    pub restore: &'a RestoreSpec,
    pub answers: &'a Answers,
    hostvars: Value,
    groups: Value,
    common: Map<String, J>,
}

impl<'a> Vars<'a> {
    /// Adds a variable every host sees (`backup`, from backup.yml).
    pub fn set(&mut self, key: &str, value: J) {
        self.common.insert(key.into(), value);
    }

    pub fn new(
        inventory: &'a Inventory,
        playbook: &'a Playbook,
        restore: &'a RestoreSpec,
        answers: &'a Answers,
        run: &'a RunInfo,
    ) -> Self {
        let hv: Map<String, J> = inventory
            .hosts
            .iter()
            .map(|h| (h.name.clone(), J::Object(h.vars.clone())))
            .collect();
        let mut restore_value = restore.template_value();
        if let J::Object(r) = &mut restore_value {
            for key in [
                "analytics.mode",
                "config_backup",
                "config_digest",
                "keep_pre_restore",
            ] {
                if let Some(a) = answers.get(key) {
                    crate::docs::restore::insert_dotted(r, key, a.value.clone());
                }
            }
            // How many restores' previous data stay kept aside (the answer checks it is at least 1).
            r.entry("keep_pre_restore").or_insert(J::from(2));
        }
        let mut common = Map::new();
        common.insert("restore".into(), restore_value);
        common.insert("storage".into(), answers.storage_value());
        common.insert(
            "drill".into(),
            serde_json::to_value(&restore.drill).unwrap_or_default(),
        );
        common.insert(
            "run".into(),
            json!({
                "id": run.id,
                "started_at": run.started_at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "now": run.now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "check": run.check,
                "stamp": run.now.format("%Y%m%dT%H%M%SZ").to_string(),
                "today": run.now.date_naive().to_string(),
                "yesterday": (run.now.date_naive() - chrono::Duration::days(1)).to_string(),
                "force": run.force,
                "allow_older": run.allow_older,
            }),
        );
        Vars {
            inventory,
            playbook,
            restore,
            answers,
            hostvars: Templates::context(&J::Object(hv)),
            groups: Templates::context(&inventory.groups_json()),
            common,
        }
    }

    /// The JSON variables of one host, playbook vars rendered in order.
    pub fn host_json(
        &self,
        host: &Host,
        templates: &Templates,
    ) -> Result<Map<String, J>, minijinja::Error> {
        let mut m = host.vars.clone();
        m.extend(self.restore.vars.clone());
        for (k, v) in &self.common {
            m.insert(k.clone(), v.clone());
        }
        m.insert("inventory_hostname".into(), J::String(host.name.clone()));
        // Each variable after those it reads: a forward reference works, a cycle is an error.
        let order = var_order(&self.playbook.vars, templates).map_err(|cycle| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, cycle)
        })?;
        for i in order {
            let (k, node) = &self.playbook.vars[i];
            let ctx = self.wrap(&m);
            let rendered = templates.render_var(&node.to_json(), &ctx)?;
            m.insert(k.clone(), rendered);
        }
        merge(&mut m, &self.answers.vars);
        Ok(m)
    }

    /// Wraps JSON variables with the shared `hostvars` and `groups`.
    pub fn wrap(&self, m: &Map<String, J>) -> Value {
        let mut map: BTreeMap<String, Value> = m
            .iter()
            .map(|(k, v)| (k.clone(), Templates::context(v)))
            .collect();
        map.insert("hostvars".into(), self.hostvars.clone());
        map.insert("groups".into(), self.groups.clone());
        Value::from(map)
    }

    /// Names a template may read on `host` at load time, before anything runs.
    pub fn known_names(&self, host: &Host, registers: &BTreeSet<String>) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = host.vars.keys().cloned().collect();
        names.extend(self.restore.vars.keys().cloned());
        names.extend(self.common.keys().cloned());
        names.extend(["inventory_hostname", "hostvars", "groups"].map(String::from));
        names.extend(self.playbook.vars.iter().map(|(k, _)| k.clone()));
        names.extend(self.answers.vars.keys().cloned());
        names.extend(registers.iter().cloned());
        names.extend(template::GLOBALS.iter().map(|s| s.to_string()));
        names
    }

    /// Whether some step of the playbook registers `name`.
    pub fn is_register(&self, name: &str) -> bool {
        self.playbook
            .steps
            .iter()
            .chain(&self.playbook.on_failure)
            .any(|s| s.register.as_deref() == Some(name))
    }

    /// Attributes known under a namespaced variable, for checking `restore.x` and friends.
    pub fn known_attrs(&self, head: &str) -> Option<Vec<String>> {
        match head {
            "storage" => {
                let mut f: BTreeSet<String> =
                    storage::template_fields().map(String::from).collect();
                f.insert("type".into());
                Some(f.into_iter().collect())
            }
            "restore" | "run" => match self.common.get(head)? {
                J::Object(o) => {
                    let mut keys: Vec<String> = o.keys().cloned().collect();
                    if head == "restore" {
                        keys.extend(
                            ["config_backup", "config_digest", "analytics", "components"]
                                .map(String::from),
                        );
                    }
                    Some(keys)
                }
                _ => None,
            },
            _ => None,
        }
    }
}

/// Deep-merges `over` into `base`.
pub fn merge(base: &mut Map<String, J>, over: &Map<String, J>) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(J::Object(b)), J::Object(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

/// The order to render a playbook's variables in: each after the others it reads, declaration
/// order otherwise. Variables that read each other in a cycle are an error naming it
/// (`variables refer to each other: a -> b -> a`).
pub fn var_order(
    vars: &[(String, crate::yaml::Node)],
    templates: &Templates,
) -> Result<Vec<usize>, String> {
    let index: BTreeMap<&str, usize> = vars
        .iter()
        .enumerate()
        .map(|(i, (k, _))| (k.as_str(), i))
        .collect();
    let reads: Vec<Vec<usize>> = vars
        .iter()
        .enumerate()
        .map(|(i, (_, node))| {
            let mut out = BTreeSet::new();
            strings_in(&node.to_json(), &mut |text| {
                for name in templates.variables(text, false).unwrap_or_default() {
                    let head = name.split('.').next().unwrap_or_default();
                    if let Some(&j) = index.get(head)
                        && j != i
                    {
                        out.insert(j);
                    }
                }
            });
            out.into_iter().collect()
        })
        .collect();
    // 0: not seen, 1: on the current path, 2: done.
    let mut state = vec![0u8; vars.len()];
    let mut order = Vec::new();
    fn visit(
        i: usize,
        reads: &[Vec<usize>],
        state: &mut [u8],
        path: &mut Vec<usize>,
        order: &mut Vec<usize>,
    ) -> Result<(), Vec<usize>> {
        match state[i] {
            2 => return Ok(()),
            1 => {
                let from = path.iter().position(|&p| p == i).unwrap_or(0);
                let mut cycle = path[from..].to_vec();
                cycle.push(i);
                return Err(cycle);
            }
            _ => {}
        }
        state[i] = 1;
        path.push(i);
        for &j in &reads[i] {
            visit(j, reads, state, path, order)?;
        }
        path.pop();
        state[i] = 2;
        order.push(i);
        Ok(())
    }
    for i in 0..vars.len() {
        visit(i, &reads, &mut state, &mut Vec::new(), &mut order).map_err(|cycle| {
            let names: Vec<&str> = cycle.iter().map(|&c| vars[c].0.as_str()).collect();
            format!("variables refer to each other: {}", names.join(" -> "))
        })?;
    }
    Ok(order)
}

fn strings_in(v: &J, f: &mut impl FnMut(&str)) {
    match v {
        J::String(s) => f(s),
        J::Array(a) => a.iter().for_each(|x| strings_in(x, f)),
        J::Object(o) => o.values().for_each(|x| strings_in(x, f)),
        _ => {}
    }
}
