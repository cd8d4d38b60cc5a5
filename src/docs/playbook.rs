//! Playbooks: steps with exactly one action each, their dependencies and their run-time keys.

use std::collections::BTreeMap;

use super::schema::Checker;
use crate::diag::{Diagnostics, Source};
use crate::yaml::{Kind, Node};

pub use super::actions::ACTIONS;
use super::actions::Action;

const COMMON: &[&str] = &[
    "id",
    "name",
    "hosts",
    "needs",
    "when",
    "loop",
    "register",
    "retries",
    "delay",
    "timeout",
    "become",
    "tags",
    "destructive",
    "ignore_errors",
    "run_once",
    "env",
];
const TOP: &[&str] = &["name", "groups", "vars", "steps", "on_failure"];

#[derive(Clone, Debug)]
pub struct Step {
    pub id: String,
    pub id_node: Node,
    pub name: Option<String>,
    pub hosts: Option<(Vec<(String, Node)>, Node)>,
    pub needs: Vec<(String, Node)>,
    pub when: Option<Node>,
    pub loop_: Option<Node>,
    pub register: Option<String>,
    pub retries: u32,
    pub delay: u64,
    pub timeout: Option<u64>,
    pub become_: Option<bool>,
    pub tags: Vec<String>,
    pub destructive: bool,
    pub ignore_errors: bool,
    pub run_once: bool,
    pub env: Vec<(String, Node)>,
    pub action: &'static str,
    pub payload: Node,
    pub rollback: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Playbook {
    pub name: String,
    /// Host groups an inventory may leave out (`groups:`): their steps then run nowhere.
    pub groups: Vec<String>,
    pub vars: Vec<(String, Node)>,
    pub steps: Vec<Step>,
    pub on_failure: Vec<Step>,
    pub source: Option<Source>,
}

impl Step {
    /// Whether the step's arguments name the configuration backup (`restore.config_backup`).
    pub fn reads_config_backup(&self) -> bool {
        self.payload
            .to_json()
            .to_string()
            .contains("restore.config_backup")
    }
}

pub fn parse(src: &Source, node: &Node, diags: &mut Diagnostics) -> Playbook {
    let mut c = Checker::new(src, diags);
    let mut pb = Playbook {
        source: Some(src.clone()),
        ..Default::default()
    };
    if c.map(node, "the playbook", TOP).is_none() {
        return pb;
    }
    pb.name = node
        .get("name")
        .and_then(|n| c.string(n, "name"))
        .unwrap_or_else(|| src.name.clone());
    if let Some(g) = node.get("groups") {
        pb.groups = c.strings(g, "groups").into_iter().map(|x| x.0).collect();
    }
    if let Some(v) = node.get("vars").and_then(|v| c.map(v, "vars", &[])) {
        pb.vars = v
            .iter()
            .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.clone()))
            .collect();
    }
    let mut ids: BTreeMap<String, Node> = BTreeMap::new();
    for (key, rollback) in [("steps", false), ("on_failure", true)] {
        let Some(list) = node.get(key) else { continue };
        let items = match &list.kind {
            Kind::Seq(items) => items.clone(),
            Kind::Null => Vec::new(),
            _ => {
                let found = list.type_name();
                let d = c.error(
                    "wrong_type",
                    list,
                    format!("wrong type for `{key}`: expected a list of steps, found {found}"),
                );
                d.label = format!("this is {found}");
                d.help = Some(format!("write `{key}:` followed by `- id: ...` items"));
                continue;
            }
        };
        for item in &items {
            if let Some(step) = parse_step(&mut c, item, rollback) {
                if let Some(first) = ids.get(&step.id) {
                    let (line, _) = src.line_col(first.span.start);
                    let d = c.error(
                        "duplicate_step",
                        &step.id_node,
                        format!("duplicate step id `{}`", step.id),
                    );
                    d.label = "used again here".into();
                    d.help = Some(format!(
                        "step ids must be unique; the first `{}` is on line {line}",
                        step.id
                    ));
                } else {
                    ids.insert(step.id.clone(), step.id_node.clone());
                }
                if rollback {
                    pb.on_failure.push(step)
                } else {
                    pb.steps.push(step)
                }
            }
        }
    }
    pb
}

fn parse_step(c: &mut Checker, node: &Node, rollback: bool) -> Option<Step> {
    let mut allowed: Vec<&str> = COMMON.to_vec();
    allowed.extend(ACTIONS.iter().map(|a| a.name));
    c.map(node, "a step", &allowed)?;
    let Some(id_node) = node.get("id") else {
        let d = c.error("step_no_id", node, "step has no `id`");
        d.label = "this step".into();
        d.help = Some("give every step a unique `id: name`, used by `needs` and in reports".into());
        return None;
    };
    let id = c.string(id_node, "id")?;
    let actions: Vec<(&'static str, &Node, &Node)> = node
        .as_map()
        .unwrap_or_default()
        .iter()
        .filter_map(|(k, v)| {
            let key = k.scalar_text()?;
            ACTIONS
                .iter()
                .find(|a| a.name == key)
                .map(|a| (a.name, k, v))
        })
        .collect();
    let action = match actions.as_slice() {
        [(name, _, payload)] => {
            check_payload(c, name, payload);
            (*name, (*payload).clone())
        }
        [] => {
            let d = c.error(
                "step_no_action",
                id_node,
                format!("step `{id}` has no action"),
            );
            d.label = "this step does nothing".into();
            d.help = Some(format!(
                "add exactly one of: {}",
                ACTIONS
                    .iter()
                    .map(|a| a.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
            (
                "debug",
                Node {
                    kind: Kind::Null,
                    span: id_node.span,
                },
            )
        }
        [_, (second, k, _), ..] => {
            let names: Vec<&str> = actions.iter().map(|a| a.0).collect();
            let d = c.error(
                "step_two_actions",
                k,
                format!(
                    "step `{id}` has {} actions: {}",
                    names.len(),
                    names.join(", ")
                ),
            );
            d.label = format!("`{second}` is a second action");
            d.help = Some("a step runs exactly one action: split it into two steps and join them with `needs`".into());
            (names[0], actions[0].2.clone())
        }
    };
    let get = |k: &str| node.get(k);
    let hosts = get("hosts").map(|n| (c.strings(n, "hosts"), n.clone()));
    let needs = get("needs")
        .map(|n| c.strings(n, "needs"))
        .unwrap_or_default();
    let tags = get("tags")
        .map(|n| c.strings(n, "tags"))
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.0)
        .collect();
    let env = match get("env").and_then(|n| c.map(n, "env", &[])) {
        Some(e) => e
            .iter()
            .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.clone()))
            .collect(),
        None => Vec::new(),
    };
    let when = get("when").cloned();
    if let Some(w) = &when
        && !matches!(w.kind, Kind::Str(_) | Kind::Bool(_))
    {
        c.string(w, "when");
    }
    Some(Step {
        id: id.clone(),
        id_node: id_node.clone(),
        name: get("name").and_then(|n| c.string(n, "name")),
        hosts,
        needs,
        when,
        loop_: get("loop").cloned(),
        register: get("register").and_then(|n| c.string(n, "register")),
        retries: get("retries")
            .and_then(|n| c.uint(n, "retries"))
            .unwrap_or(0) as u32,
        delay: get("delay")
            .and_then(|n| c.duration(n, "delay"))
            .unwrap_or(1),
        timeout: get("timeout").and_then(|n| c.duration(n, "timeout")),
        become_: get("become").and_then(|n| c.bool(n, "become")),
        tags,
        destructive: get("destructive")
            .and_then(|n| c.bool(n, "destructive"))
            .unwrap_or(false),
        ignore_errors: get("ignore_errors")
            .and_then(|n| c.bool(n, "ignore_errors"))
            .unwrap_or(false),
        run_once: get("run_once")
            .and_then(|n| c.bool(n, "run_once"))
            .unwrap_or(false),
        env,
        action: action.0,
        payload: action.1,
        rollback,
    })
}

fn check_payload(c: &mut Checker, action: &str, payload: &Node) {
    let Some(a) = super::actions::action(action) else {
        return;
    };
    let keys: Vec<&str> = a.keys().collect();
    match &payload.kind {
        Kind::Map(_) => {
            c.map(payload, &format!("`{action}`"), &keys);
            for f in a.fields.iter().filter(|f| f.required) {
                if payload.get(f.key).is_none() {
                    let r = f.key;
                    let d = c.error("missing_key", payload, format!("`{action}` needs `{r}`"));
                    d.label = format!("no `{r}` here");
                    d.help = Some(format!("add `{r}: ...` to this `{action}`"));
                }
            }
            for (k, v) in payload.as_map().unwrap_or_default() {
                if let Some(f) = k.scalar_text().and_then(|k| a.field(&k)) {
                    check_value(c, a, f, v);
                }
            }
            if action == "upload"
                && (payload.get("src").is_some() == payload.get("command").is_some())
            {
                let d = c.error(
                    "missing_key",
                    payload,
                    "`upload` needs one of `src` (a file of the host) or `command` (its output)",
                );
                d.label = "give `src` or `command`".into();
                d.help = Some("e.g. `upload: { src: /var/backups/x.tar, object: x.tar }`".into());
            }
            if action == "service"
                && let Some(state) = payload.get("state")
            {
                let states = ["started", "stopped", "restarted", "reloaded"];
                let s = state.scalar_text().unwrap_or_default();
                if !s.contains("{{") && !states.contains(&s.as_str()) {
                    let sug = crate::diag::did_you_mean(&s, states);
                    let d = c.error(
                        "invalid_value",
                        state,
                        format!("invalid service state `{s}`"),
                    );
                    d.label = "not a service state".into();
                    d.help = Some(
                        sug.map_or(format!("use one of: {}", states.join(", ")), |x| {
                            format!("did you mean `{x}`?")
                        }),
                    );
                }
            }
        }
        Kind::Str(_) if a.scalar.is_some() => {}
        Kind::Seq(_)
            if a.scalar
                .and_then(|k| a.field(k))
                .is_some_and(|f| f.kind == <Vec<String> as super::actions::Arg>::KIND) => {}
        Kind::Null if a.bare => {}
        _ => {
            let found = payload.type_name();
            let d = c.error(
                "wrong_type",
                payload,
                format!("wrong type for `{action}`: found {found}"),
            );
            d.label = format!("this is {found}");
            d.help = Some(match a.scalar {
                Some(_) if action != "command" => format!(
                    "write `{action}: text`, or a mapping of {}",
                    keys.join(", ")
                ),
                _ => format!("write `{action}:` with a mapping of {}", keys.join(", ")),
            });
        }
    }
}

/// A value written in a playbook (no template in it) that cannot be its argument's type.
fn check_value(c: &mut Checker, a: &Action, f: &super::actions::Field, v: &Node) {
    let value = v.to_json();
    let text = value.to_string();
    // A value with a template in it is read once rendered, when the task runs.
    if text.contains("{{") || text.contains("{%") {
        return;
    }
    if let Err(e) = (f.check)(value) {
        let d = c.error(
            "wrong_type",
            v,
            format!("wrong type for `{}` of `{}`: {e}", f.key, a.name),
        );
        d.label = format!("not {}", f.kind);
        d.help = Some(format!("`{}` takes {}", f.key, f.kind));
    }
}

impl Step {
    /// Every string in the step that is rendered as a template, with its node.
    pub fn template_strings(&self) -> Vec<(&Node, TemplateUse)> {
        let mut out = Vec::new();
        collect_strings(&self.payload, TemplateUse::Text, &mut out);
        if self.action == "assert" {
            for (n, u) in out.iter_mut() {
                if self.payload.get("that").is_some_and(|t| contains(t, n)) {
                    *u = TemplateUse::Expr;
                }
            }
        }
        if self.action == "debug"
            && let Some(v) = self.payload.get("var")
        {
            for (n, u) in out.iter_mut() {
                if std::ptr::eq(*n, v) {
                    *u = TemplateUse::Expr;
                }
            }
        }
        for (_, v) in &self.env {
            collect_strings(v, TemplateUse::Env, &mut out);
        }
        if let Some(w) = &self.when
            && matches!(w.kind, Kind::Str(_))
        {
            out.push((w, TemplateUse::Expr));
        }
        if let Some(l) = &self.loop_ {
            match &l.kind {
                Kind::Str(_) => out.push((l, TemplateUse::Expr)),
                _ => collect_strings(l, TemplateUse::Text, &mut out),
            }
        }
        if let Some((_, n)) = &self.hosts {
            collect_strings(n, TemplateUse::Text, &mut out);
        }
        out
    }
}

fn contains(haystack: &Node, needle: &Node) -> bool {
    if std::ptr::eq(haystack, needle) {
        return true;
    }
    match &haystack.kind {
        Kind::Seq(items) => items.iter().any(|i| contains(i, needle)),
        Kind::Map(m) => m.iter().any(|(_, v)| contains(v, needle)),
        _ => false,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateUse {
    /// `{{ }}` text.
    Text,
    /// A bare expression (`when`, `assert.that`, a string `loop`).
    Expr,
    /// An `env:` value: may read secrets.
    Env,
}

fn collect_strings<'a>(node: &'a Node, usage: TemplateUse, out: &mut Vec<(&'a Node, TemplateUse)>) {
    match &node.kind {
        Kind::Str(_) => out.push((node, usage)),
        Kind::Seq(items) => items.iter().for_each(|i| collect_strings(i, usage, out)),
        Kind::Map(m) => m.iter().for_each(|(_, v)| collect_strings(v, usage, out)),
        _ => {}
    }
}
