//! Strict reading of YAML nodes: types, known keys and "did you mean", collecting every problem.

use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::yaml::{Kind, Node};

/// Reads one document, pushing a diagnostic for each problem and carrying on.
pub struct Checker<'a> {
    pub src: &'a Source,
    pub diags: &'a mut Diagnostics,
}

impl<'a> Checker<'a> {
    pub fn new(src: &'a Source, diags: &'a mut Diagnostics) -> Self {
        Checker { src, diags }
    }

    pub fn error(
        &mut self,
        code: &'static str,
        node: &Node,
        message: impl Into<String>,
    ) -> &mut Diag {
        self.diags
            .push(Diag::at(code, self.src, node.span, message));
        self.diags.list.last_mut().expect("just pushed")
    }

    fn wrong_type(&mut self, node: &Node, what: &str, expected: &str, example: &str) {
        let found = node.type_name();
        self.error(
            "wrong_type",
            node,
            format!("wrong type for `{what}`: expected {expected}, found {found}"),
        )
        .label = format!("this is {found}");
        let d = self.diags.list.last_mut().expect("just pushed");
        d.help = Some(format!("write {expected}, e.g. `{example}`"));
    }

    /// The entries of a mapping, after checking every key against `allowed`.
    pub fn map<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        allowed: &[&str],
    ) -> Option<&'n [(Node, Node)]> {
        let Some(entries) = node.as_map() else {
            if !node.is_null() {
                self.wrong_type(
                    node,
                    what,
                    "a mapping",
                    &format!("{}: {{ ... }}", leaf(what)),
                );
            }
            return None;
        };
        if !allowed.is_empty() {
            for (k, _) in entries {
                let key = k.scalar_text().unwrap_or_default();
                if !allowed.contains(&key.as_str()) {
                    self.unknown_key(k, &key, what, allowed);
                }
            }
        }
        Some(entries)
    }

    pub fn unknown_key(&mut self, k: &Node, key: &str, what: &str, allowed: &[&str]) {
        let suggestion = did_you_mean(key, allowed.iter().copied());
        let d = self.error("unknown_key", k, format!("unknown key `{key}` in {what}"));
        d.label = "not a known key".into();
        d.help = Some(match suggestion {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("known keys: {}", allowed.join(", ")),
        });
    }

    pub fn string(&mut self, node: &Node, what: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => node.scalar_text(),
            _ => {
                self.wrong_type(node, what, "a string", &format!("{}: text", leaf(what)));
                None
            }
        }
    }

    pub fn bool(&mut self, node: &Node, what: &str) -> Option<bool> {
        match node.kind {
            Kind::Bool(b) => Some(b),
            _ => {
                self.wrong_type(node, what, "a boolean", &format!("{}: true", leaf(what)));
                None
            }
        }
    }

    pub fn uint(&mut self, node: &Node, what: &str) -> Option<u64> {
        match node.kind {
            Kind::Int(i) if i >= 0 => Some(i as u64),
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a non-negative integer",
                    &format!("{}: 22", leaf(what)),
                );
                None
            }
        }
    }

    /// A list of strings; a single string counts as a list of one.
    pub fn strings(&mut self, node: &Node, what: &str) -> Vec<(String, Node)> {
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| self.string(i, what).map(|s| (s, i.clone())))
                .collect(),
            Kind::Null => Vec::new(),
            Kind::Str(_) => vec![(node.as_str().unwrap_or_default().to_string(), node.clone())],
            _ => {
                self.wrong_type(
                    node,
                    what,
                    "a list of strings",
                    &format!("{}: [a, b]", leaf(what)),
                );
                Vec::new()
            }
        }
    }

    /// Seconds, as an integer or a string like `30s`, `5m`, `1h`.
    pub fn duration(&mut self, node: &Node, what: &str) -> Option<u64> {
        match &node.kind {
            Kind::Int(i) if *i >= 0 => Some(*i as u64),
            Kind::Str(s) => match parse_duration(s) {
                Some(d) => Some(d),
                None => {
                    let d = self.error(
                        "wrong_type",
                        node,
                        format!("`{what}` is not a duration: `{s}`"),
                    );
                    d.label = "not a duration".into();
                    d.help = Some(
                        "write seconds, or a number with s, m or h, e.g. `30s` or `5m`".into(),
                    );
                    None
                }
            },
            _ => {
                self.wrong_type(node, what, "a duration", &format!("{}: 30s", leaf(what)));
                None
            }
        }
    }
}

fn leaf(what: &str) -> &str {
    what.rsplit(['.', ' '])
        .next()
        .unwrap_or(what)
        .trim_matches('`')
}

pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        's' => (&s[..s.len() - 1], 1),
        'm' => (&s[..s.len() - 1], 60),
        'h' => (&s[..s.len() - 1], 3600),
        _ => (s, 1),
    };
    num.trim().parse::<u64>().ok().map(|n| n * mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("2"), Some(2));
        assert_eq!(parse_duration("x"), None);
    }
}
