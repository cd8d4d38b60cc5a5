//! The `--set` arguments taken as template variables: each must name a variable the run reads (the
//! playbook's templates, its template files, its and restore.yml's `vars`, the hosts' variables),
//! else it is refused rather than silently doing nothing.

use std::collections::BTreeSet;

use crate::answers::Answers;
use crate::diag::Diagnostics;
use crate::docs::{self, inventory::Inventory, playbook::Playbook, restore::RestoreSpec};
use crate::options::Options;
use crate::template::Templates;

/// The variables a run of `playbook` may read: those its templates name (steps, rollback, `vars`),
/// its own `vars`, restore.yml's `vars`, the inventory's host variables and the run's own (`run`,
/// `restore`, `storage` …), and those the template files of its `template` steps name. None when
/// it cannot be told: a template file whose name is itself a template, or that is not found.
pub(super) fn variables_read(
    o: &Options,
    playbook: &Playbook,
    inventory: &Inventory,
    restore: &RestoreSpec,
    templates: &Templates,
) -> Option<BTreeSet<String>> {
    let steps = || playbook.steps.iter().chain(&playbook.on_failure);
    let mut files = Vec::new();
    for step in steps().filter(|s| s.action == "template") {
        let src = step.payload.get("src").and_then(|n| n.as_str())?;
        if src.contains("{{") || src.contains("{%") {
            return None;
        }
        files.push(template_file(o, src)?);
    }
    let mut names: BTreeSet<String> = ["restore", "storage", "drill", "run"]
        .into_iter()
        .map(String::from)
        .collect();
    names.extend(playbook.vars.iter().map(|(k, _)| k.clone()));
    names.extend(restore.vars.keys().cloned());
    names.extend(inventory.hosts.iter().flat_map(|h| h.vars.keys().cloned()));
    let mut read = |text: &str, expr: bool| {
        if let Ok(found) = templates.variables(text, expr) {
            names.extend(
                found
                    .iter()
                    .map(|p| p.split('.').next().unwrap_or(p).to_string()),
            );
        }
    };
    for step in steps() {
        for (node, usage) in step.template_strings() {
            if let Some(text) = node.as_str() {
                read(text, usage == docs::playbook::TemplateUse::Expr);
            }
        }
    }
    for text in &files {
        read(text, false);
    }
    for (_, node) in &playbook.vars {
        let mut texts = Vec::new();
        strings_in(node, &mut texts);
        for text in texts {
            read(&text, false);
        }
    }
    Some(names)
}

/// A template file's text, found where a run finds it (`task::Dirs::template`): the folder's
/// `templates/`, else the one beside `--playbooks`, else the built-in ones.
fn template_file(o: &Options, name: &str) -> Option<String> {
    let own = o.dir.join("templates");
    let dir = if own.is_dir() {
        Some(own)
    } else {
        o.playbooks.as_ref().map(|p| p.join("../templates"))
    };
    dir.and_then(|d| std::fs::read_to_string(d.join(name)).ok())
        .or_else(|| crate::embedded::template(name).map(str::to_string))
}

/// Every string in a YAML value.
fn strings_in(node: &crate::yaml::Node, out: &mut Vec<String>) {
    match &node.kind {
        crate::yaml::Kind::Str(s) => out.push(s.to_string()),
        crate::yaml::Kind::Seq(items) => items.iter().for_each(|x| strings_in(x, out)),
        crate::yaml::Kind::Map(m) => m.iter().for_each(|(_, v)| strings_in(v, out)),
        _ => {}
    }
}

/// Each `--set` taken as a template variable that the run does not read (`reads`; none: nothing
/// runs a playbook here) is a mistake, said with the nearest answer key or variable: a key
/// silently ignored would leave the run doing what it was asked not to.
pub(super) fn unread_sets(
    answers: &Answers,
    reads: Option<&BTreeSet<String>>,
    diags: &mut Diagnostics,
) {
    let keys = crate::answers::known_keys();
    for s in &answers.set_vars {
        let head = s.key.split('.').next().unwrap_or(&s.key);
        let Some(reads) = reads else {
            diags.push(crate::answers::unread_set(
                s,
                keys.iter().map(String::as_str),
            ));
            continue;
        };
        if !reads.contains(head) {
            let candidates = keys
                .iter()
                .map(String::as_str)
                .chain(reads.iter().map(String::as_str));
            diags.push(crate::answers::unread_set(s, candidates));
        }
    }
}
