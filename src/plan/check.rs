//! Load-time template checks: every variable a step reads must exist on every host it runs on.

use std::collections::{BTreeMap, BTreeSet};

use crate::context::{CONTROLLER, Vars, controller_host};
use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::docs::playbook::{Playbook, TemplateUse};
use crate::plan::Plan;
use crate::template::{Templates, error_text};
use crate::yaml::{Node, Span};

pub fn check_templates(
    plan: &Plan,
    pb: &Playbook,
    vars: &Vars,
    templates: &Templates,
    diags: &mut Diagnostics,
) {
    let Some(src) = pb.source.as_ref() else {
        return;
    };
    let registered_by: BTreeMap<String, String> = pb
        .steps
        .iter()
        .chain(&pb.on_failure)
        .filter_map(|s| Some((s.register.clone()?, s.id.clone())))
        .collect();
    let main_registers: BTreeSet<String> =
        pb.steps.iter().filter_map(|s| s.register.clone()).collect();
    let controller = controller_host();
    let mut known_cache: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut seen: BTreeSet<(usize, String)> = BTreeSet::new();
    let templates = &mut VarCache {
        templates,
        parsed: Default::default(),
        vaulted: vars
            .inventory
            .hosts
            .iter()
            .any(|h| h.vars.values().any(|v| v.get("__ansible_vault").is_some())),
    };
    if let Err(cycle) = crate::context::var_order(&pb.vars, templates.templates) {
        let first = cycle
            .rsplit(": ")
            .next()
            .and_then(|c| c.split(" -> ").next())
            .unwrap_or_default();
        if let Some((_, node)) = pb.vars.iter().find(|(k, _)| k == first) {
            diags.push(
                Diag::at("var_cycle", src, node.span, cycle.clone())
                    .label("this variable reads itself through the others")
                    .help("break the cycle: one of them must be given a value that reads none of the others"),
            );
        }
    }
    for (_, node) in &pb.vars {
        let known = vars.known_names(&controller, &BTreeSet::new());
        for (n, _) in strings(node) {
            check_one(
                src,
                n,
                TemplateUse::Text,
                &known,
                None,
                vars,
                templates,
                &mut seen,
                diags,
            );
        }
    }
    for (rollback, dag) in [(false, &plan.main), (true, &plan.rollback)] {
        for (i, step) in dag.steps.iter().enumerate() {
            // A registered value is there only once its step is done: it must be among those this step needs.
            let mut registers: BTreeSet<String> = if rollback {
                main_registers.clone()
            } else {
                BTreeSet::new()
            };
            registers.extend(
                ancestors(dag, i)
                    .into_iter()
                    .filter_map(|a| dag.steps[a].step.register.clone()),
            );
            let uses = step.step.template_strings();
            for host_name in &step.hosts {
                let host = vars.inventory.host(host_name).unwrap_or(&controller);
                let base = known_cache
                    .entry(host.name.clone())
                    .or_insert_with(|| vars.known_names(host, &BTreeSet::new()));
                // The host's names, copied only when this step adds some.
                let known: std::borrow::Cow<BTreeSet<String>> =
                    if registers.is_empty() && step.step.loop_.is_none() {
                        std::borrow::Cow::Borrowed(base)
                    } else {
                        let mut known = base.clone();
                        known.extend(registers.iter().cloned());
                        if step.step.loop_.is_some() {
                            known.insert("item".into());
                        }
                        std::borrow::Cow::Owned(known)
                    };
                for (node, usage) in &uses {
                    let on = (host_name != CONTROLLER && step.hosts.len() > 1)
                        .then_some(host_name.as_str());
                    let unordered = |name: &str| {
                        registered_by
                            .get(name)
                            .filter(|by| **by != step.step.id && !known.contains(name))
                            .cloned()
                    };
                    check_one(
                        src, node, *usage, &known, on, vars, templates, &mut seen, diags,
                    );
                    report_unordered(
                        src,
                        node,
                        &step.step.id,
                        &unordered,
                        templates,
                        *usage,
                        &mut seen,
                        diags,
                    );
                }
            }
        }
    }
}

/// Variables of each template string, parsed once however many hosts read it.
/// The variables a template reads, or why it does not parse.
type Parsed = Result<std::rc::Rc<BTreeSet<String>>, String>;

struct VarCache<'t> {
    templates: &'t Templates,
    /// Whether any host holds an Ansible Vault value; when none does, no use is looked up.
    vaulted: bool,
    /// Shared, not copied, by every task that reads the template.
    parsed: std::collections::HashMap<(usize, bool), Parsed>,
}

impl VarCache<'_> {
    fn get(&mut self, node: &Node, text: &str, expr: bool) -> &Parsed {
        let templates = self.templates;
        self.parsed
            .entry((node.span.start, expr))
            .or_insert_with(|| {
                templates
                    .variables(text, expr)
                    .map(std::rc::Rc::new)
                    .map_err(|e| error_text(&e))
            })
    }
}

fn ancestors(dag: &crate::plan::Dag, i: usize) -> BTreeSet<usize> {
    let mut out = BTreeSet::new();
    let mut todo = dag.steps[i].needs.clone();
    while let Some(n) = todo.pop() {
        if out.insert(n) {
            todo.extend(dag.steps[n].needs.iter().copied());
        }
    }
    out
}

/// A registered variable read by a step that does not wait for the step registering it.
#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces are unrelated"
)]
fn report_unordered(
    src: &Source,
    node: &Node,
    step: &str,
    unordered: &dyn Fn(&str) -> Option<String>,
    templates: &mut VarCache,
    usage: TemplateUse,
    seen: &mut BTreeSet<(usize, String)>,
    diags: &mut Diagnostics,
) {
    let Some(text) = node.as_str() else { return };
    let Ok(found) = templates
        .get(node, text, usage == TemplateUse::Expr)
        .clone()
    else {
        return;
    };
    for path in found.iter() {
        let head = path.split('.').next().unwrap_or(path).to_string();
        let Some(by) = unordered(&head) else { continue };
        if guarded_by_default(text, path)
            || !seen.insert((node.span.start, format!("order:{head}")))
        {
            continue;
        }
        diags.push(
            Diag::at(
                "unordered_register",
                src,
                locate(src, node, &head),
                format!(
                    "`{head}` is registered by step `{by}`, which step `{step}` does not wait for"
                ),
            )
            .label("may not exist yet")
            .help(format!("add `needs: [{by}]` to step `{step}`")),
        );
    }
}

fn strings(node: &Node) -> Vec<(&Node, ())> {
    let mut out = Vec::new();
    fn walk<'a>(n: &'a Node, out: &mut Vec<(&'a Node, ())>) {
        match &n.kind {
            crate::yaml::Kind::Str(_) => out.push((n, ())),
            crate::yaml::Kind::Seq(i) => i.iter().for_each(|x| walk(x, out)),
            crate::yaml::Kind::Map(m) => m.iter().for_each(|(_, v)| walk(v, out)),
            _ => {}
        }
    }
    walk(node, &mut out);
    out
}

#[expect(
    clippy::too_many_arguments,
    reason = "one call site; the pieces are unrelated"
)]
fn check_one(
    src: &Source,
    node: &Node,
    usage: TemplateUse,
    known: &BTreeSet<String>,
    host: Option<&str>,
    vars: &Vars,
    templates: &mut VarCache,
    seen: &mut BTreeSet<(usize, String)>,
    diags: &mut Diagnostics,
) {
    let Some(text) = node.as_str() else { return };
    let expr = usage == TemplateUse::Expr;
    let found = match templates.get(node, text, expr).clone() {
        Ok(v) => v,
        Err(e) => {
            if seen.insert((node.span.start, "syntax".into())) {
                diags.push(
                    Diag::at(
                        "template_syntax",
                        src,
                        node.span,
                        format!("template error: {e}"),
                    )
                    .label("this template does not parse")
                    .help("check the `{{ }}` and `{% %}` pairs and the expression inside"),
                );
            }
            return;
        }
    };
    for path in found.iter() {
        let head = path.split('.').next().unwrap_or(path).to_string();
        // An Ansible Vault value cannot be opened here: using one is an error, not ciphertext passed on.
        let vaulted = match host {
            _ if !templates.vaulted => Vec::new(),
            Some(h) => vars.inventory.host(h).into_iter().collect::<Vec<_>>(),
            None => vars.inventory.hosts.iter().collect(),
        }
        .into_iter()
        .find(|h| {
            h.vars
                .get(&head)
                .is_some_and(|v| v.get("__ansible_vault").is_some())
        });
        if let Some(h) = vaulted {
            if seen.insert((node.span.start, format!("vault:{head}"))) {
                diags.push(
                    Diag::at("vault_value", src, locate(src, node, &head), format!("`{head}` of host `{}` is an Ansible Vault value, which setup cannot decrypt", h.name))
                        .label("a vault value used here")
                        .help("give the value as an answer (`--set`, `SETUP_*`, answers.yml), or in plain text in the inventory"),
                );
            }
            continue;
        }
        if head == "secret" {
            if usage != TemplateUse::Env && seen.insert((node.span.start, path.clone())) {
                diags.push(
                    Diag::at("secret_in_argv", src, locate(src, node, path), format!("secret `{path}` used outside `env:`"))
                        .label("a secret here would reach a command line")
                        .help("pass it through `env:` (e.g. `env: { PASSWORD: \"{{ secret.storage... }}\" }`) and read `$PASSWORD`"),
                );
            }
            continue;
        }
        let problem = if !known.contains(&head)
            && !guarded_by_default(text, path)
            && !vars.is_register(&head)
        {
            Some((
                head.clone(),
                did_you_mean(&head, known.iter().map(String::as_str)).map(str::to_string),
            ))
        } else {
            let attr = path.split('.').nth(1);
            match (attr, vars.known_attrs(&head)) {
                (Some(a), Some(attrs)) if !attrs.iter().any(|x| x == a) => {
                    let sug = did_you_mean(a, attrs.iter().map(String::as_str))
                        .map(|s| format!("{head}.{s}"));
                    Some((format!("{head}.{a}"), sug))
                }
                _ => None,
            }
        };
        let Some((name, suggestion)) = problem else {
            continue;
        };
        if !seen.insert((node.span.start, name.clone())) {
            continue;
        }
        let on = host.map(|h| format!(" on host `{h}`")).unwrap_or_default();
        diags.push(
            Diag::at("undefined_variable", src, locate(src, node, &name), format!("undefined variable `{name}`{on}"))
                .label("not defined")
                .help(match suggestion {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "define it in the inventory, the playbook's `vars`, restore.yml, with --set, or by a step's `register`".into(),
                }),
        );
    }
}

/// `name | default(...)`, `name is defined`, `name is not defined`: a reference that may be
/// undefined on purpose.
fn guarded_by_default(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        let rest = text[i + name.len()..].trim_start();
        let words: Vec<&str> = rest.split_whitespace().take(3).collect();
        rest.strip_prefix('|')
            .is_some_and(|r| r.trim_start().starts_with("default"))
            || matches!(
                words.as_slice(),
                ["is", "defined" | "undefined", ..] | ["is", "not", "defined", ..]
            )
    })
}

/// The span of `name` inside the node's source text, as a whole word, or the whole node.
fn locate(src: &Source, node: &Node, name: &str) -> Span {
    let raw = &src.text[node.span.start.min(src.text.len())..node.span.end().min(src.text.len())];
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
    let hit = raw.match_indices(name).find(|(i, _)| {
        !word(raw[..*i].chars().next_back()) && !word(raw[i + name.len()..].chars().next())
    });
    match hit {
        Some((i, _)) => Span {
            start: node.span.start + i,
            len: name.len(),
        },
        None => node.span,
    }
}
