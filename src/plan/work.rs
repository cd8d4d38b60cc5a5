//! A step's work as plan data: `when`, `loop`, arguments and environment, read from the YAML once.

use serde_json::Value as J;

use crate::docs::playbook::Step;

/// When a task runs: a fixed answer, or a template expression read on its host.
#[derive(Clone, Debug)]
pub enum When {
    Fixed(bool),
    Expr(String),
}

/// The parts of an expression joined by a top-level `and`; the whole expression when it has a
/// top-level `or` (a part false does not make it false then).
pub fn conjuncts(expr: &str) -> Vec<&str> {
    let (mut depth, mut quote, mut cuts, mut or) = (0i32, None, Vec::new(), false);
    let b = expr.as_bytes();
    for (i, c) in b.iter().enumerate() {
        match (quote, c) {
            (Some(q), _) if *c == q => quote = None,
            (Some(_), _) => {}
            (None, b'\'' | b'"') => quote = Some(*c),
            (None, b'(' | b'[' | b'{') => depth += 1,
            (None, b')' | b']' | b'}') => depth -= 1,
            (None, b' ') if depth == 0 => {
                if expr[i..].starts_with(" and ") {
                    cuts.push(i);
                } else if expr[i..].starts_with(" or ") {
                    or = true;
                }
            }
            _ => {}
        }
    }
    if or {
        return vec![expr];
    }
    let mut parts = Vec::new();
    let mut from = 0;
    for cut in cuts {
        parts.push(&expr[from..cut]);
        from = cut + " and ".len();
    }
    parts.push(&expr[from..]);
    parts
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_when_is_cut_at_its_top_level_ands_only() {
        assert_eq!(
            super::conjuncts("'a' in x and (b | default('')) and c is defined"),
            ["'a' in x", "(b | default(''))", "c is defined"]
        );
        assert_eq!(super::conjuncts("(a and b) or c"), ["(a and b) or c"]);
        assert_eq!(super::conjuncts("a or b and c"), ["a or b and c"]);
        assert_eq!(super::conjuncts("x == ' and '"), ["x == ' and '"]);
    }
}
