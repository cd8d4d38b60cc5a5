//! A step's work as plan data: `when`, `loop`, arguments and environment, read from the YAML once.

use serde_json::Value as J;

use crate::docs::playbook::Step;

/// When a task runs: a fixed answer, or a template expression read on its host.
#[derive(Clone, Debug)]
pub enum When {
    Fixed(bool),
    Expr(String),
}

/// What a task loops over: a template expression, or a list whose strings are templates.
#[derive(Clone, Debug)]
pub enum Loop {
    Expr(String),
    Items(J),
}

/// A step's work as the executor needs it: its templates as plain data, not YAML nodes.
#[derive(Clone, Debug)]
pub struct Work {
    pub when: Option<When>,
    pub loop_: Option<Loop>,
    /// The action's arguments, templates not yet rendered.
    pub payload: J,
    /// Environment variables, templates not yet rendered.
    pub env: Vec<(String, String)>,
}

impl Work {
    pub(super) fn of(step: &Step) -> Work {
        use crate::yaml::Kind;
        Work {
            when: step.when.as_ref().map(|w| match &w.kind {
                Kind::Bool(b) => When::Fixed(*b),
                _ => When::Expr(w.as_str().unwrap_or("false").to_string()),
            }),
            loop_: step.loop_.as_ref().map(|l| match &l.kind {
                Kind::Str(s) => Loop::Expr(s.clone()),
                _ => Loop::Items(l.to_json()),
            }),
            payload: step.payload.to_json(),
            env: step
                .env
                .iter()
                .map(|(k, node)| {
                    let raw = node
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| node.to_json().to_string());
                    (k.clone(), raw)
                })
                .collect(),
        }
    }
}
