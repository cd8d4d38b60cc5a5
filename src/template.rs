//! The minijinja environment: strict undefined, so a misspelt variable is an error, never an empty string.
//!
//! A template that becomes a shell command line is rendered with shell auto-escaping: every `{{ value }}`
//! arrives as one quoted word, whatever it holds. `{{ value | safe }}` is the visible way out.

use std::collections::BTreeSet;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
use serde_json::Value as J;

/// Names minijinja itself provides.
pub const GLOBALS: &[&str] = &[
    "range",
    "dict",
    "namespace",
    "debug",
    "lipsum",
    "cycler",
    "joiner",
    "loop",
    "true",
    "false",
    "none",
];

pub struct Templates {
    env: Environment<'static>,
}

/// The name a shell template is compiled under; it switches auto-escaping on.
const SHELL_TEMPLATE: &str = "command.sh";

/// Quotes a word for a POSIX shell; words of safe characters are left as they are.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The work one render may do, in the engine's steps: far more than any real playbook needs (a
/// thousand-host loop is a few hundred thousand), far less than a loop that never ends.
pub const FUEL: u64 = 20_000_000;

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // A template that loops without end stops here instead of holding the run.
        env.set_fuel(Some(FUEL));
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .keep_trailing_newline(true)
                .build()
                .expect("valid syntax"),
        );
        env.set_auto_escape_callback(|name| {
            if name == SHELL_TEMPLATE {
                AutoEscape::Custom("shell".into())
            } else {
                AutoEscape::None
            }
        });
        env.set_formatter(|out, state, value| {
            if matches!(state.auto_escape(), AutoEscape::Custom(c) if c == "shell") {
                let text = value.to_string();
                let word = if value.is_safe() {
                    text
                } else {
                    shell_quote(&text)
                };
                return out.write_str(&word).map_err(minijinja::Error::from);
            }
            minijinja::escape_formatter(out, state, value)
        });
        env.add_filter("basename", |s: String| {
            s.rsplit('/').next().unwrap_or_default().to_string()
        });
        env.add_filter("dirname", |s: String| {
            s.rsplit_once('/')
                .map(|x| x.0.to_string())
                .unwrap_or_default()
        });
        Templates { env }
    }

    pub fn context(value: &J) -> Value {
        Value::from(minijinja::value::Serde(value))
    }

    pub fn render(&self, text: &str, ctx: &Value) -> Result<String, minijinja::Error> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_string());
        }
        self.env.render_str(text, ctx)
    }

    /// Renders a template that becomes a shell command line: every value is quoted as one word.
    pub fn render_shell(&self, text: &str, ctx: &Value) -> Result<String, minijinja::Error> {
        if !text.contains("{{") && !text.contains("{%") {
            return Ok(text.to_string());
        }
        self.env.render_named_str(SHELL_TEMPLATE, text, ctx)
    }

    /// Renders an action's arguments; the strings at `shell` (`""` for the payload itself, or a
    /// key of it) are shell command lines and are rendered with [`Templates::render_shell`].
    pub fn render_payload(
        &self,
        payload: &J,
        ctx: &Value,
        shell: &[&str],
    ) -> Result<J, minijinja::Error> {
        match payload {
            J::String(s) if shell.contains(&"") => Ok(J::String(self.render_shell(s, ctx)?)),
            J::Object(o) => o
                .iter()
                .map(|(k, v)| {
                    let v = match v {
                        J::String(s) if shell.contains(&k.as_str()) => {
                            J::String(self.render_shell(s, ctx)?)
                        }
                        other => self.render_json(other, ctx)?,
                    };
                    Ok((k.clone(), v))
                })
                .collect::<Result<_, minijinja::Error>>()
                .map(J::Object),
            other => self.render_json(other, ctx),
        }
    }

    pub fn eval(&self, expr: &str, ctx: &Value) -> Result<Value, minijinja::Error> {
        self.env.compile_expression(bare(expr))?.eval(ctx)
    }

    /// Renders every string inside a JSON value. A string that is one `{{ expr }}` keeps the expression's type.
    pub fn render_json(&self, value: &J, ctx: &Value) -> Result<J, minijinja::Error> {
        Ok(match value {
            J::String(s) => match whole_expression(s) {
                Some(expr) => to_json(&self.eval(expr, ctx)?),
                None => J::String(self.render(s, ctx)?),
            },
            J::Array(a) => J::Array(
                a.iter()
                    .map(|v| self.render_json(v, ctx))
                    .collect::<Result<_, _>>()?,
            ),
            J::Object(o) => J::Object(
                o.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v, ctx)?)))
                    .collect::<Result<_, minijinja::Error>>()?,
            ),
            other => other.clone(),
        })
    }

    /// A variable's value: as [`Templates::render_json`], but a variable that is one expression
    /// whose value is undefined is an error, never `None` standing in for it.
    pub fn render_var(&self, value: &J, ctx: &Value) -> Result<J, minijinja::Error> {
        if let J::String(s) = value
            && let Some(expr) = whole_expression(s)
        {
            let v = self.eval(expr, ctx)?;
            if v.is_undefined() {
                return Err(minijinja::Error::new(
                    minijinja::ErrorKind::UndefinedError,
                    format!("`{expr}` is undefined"),
                ));
            }
            return Ok(to_json(&v));
        }
        self.render_json(value, ctx)
    }

    /// Every variable a template or expression reads, with attribute paths (`restore.config_backup`).
    pub fn variables(&self, text: &str, expr: bool) -> Result<BTreeSet<String>, minijinja::Error> {
        let vars = if expr {
            self.env
                .compile_expression(bare(text))?
                .undeclared_variables(true)
        } else {
            if !text.contains("{{") && !text.contains("{%") {
                return Ok(BTreeSet::new());
            }
            self.env.template_from_str(text)?.undeclared_variables(true)
        };
        Ok(vars.into_iter().collect())
    }
}

/// An expression written with or without `{{ }}`.
pub fn bare(expr: &str) -> &str {
    whole_expression(expr).unwrap_or(expr.trim())
}

fn whole_expression(s: &str) -> Option<&str> {
    let t = s.trim();
    let inner = t.strip_prefix("{{")?.strip_suffix("}}")?;
    (!inner.contains("{{") && !inner.contains("}}")).then_some(inner.trim())
}

pub fn to_json(v: &Value) -> J {
    serde_json::to_value(v).unwrap_or(J::Null)
}

/// A readable message from a minijinja error, without its internal kind names.
pub fn error_text(e: &minijinja::Error) -> String {
    if e.kind() == minijinja::ErrorKind::OutOfFuel {
        return format!(
            "the template does more than {FUEL} steps of work and was stopped: a loop that does not end?"
        );
    }
    let mut msg = e
        .detail()
        .map(str::to_string)
        .unwrap_or_else(|| e.kind().to_string());
    if let Some(src) = std::error::Error::source(e) {
        msg = format!("{msg}: {src}");
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strict_undefined_fails() {
        let t = Templates::new();
        let ctx = Templates::context(&json!({"a": 1}));
        assert_eq!(t.render("{{ a }}", &ctx).unwrap(), "1");
        assert!(t.render("{{ b }}", &ctx).is_err());
    }

    #[test]
    fn whole_expressions_keep_their_type() {
        let t = Templates::new();
        let ctx = Templates::context(&json!({"l": [1, 2]}));
        assert_eq!(
            t.render_json(&json!({"x": "{{ l }}", "y": "n={{ l|length }}"}), &ctx)
                .unwrap(),
            json!({"x": [1, 2], "y": "n=2"})
        );
    }

    #[test]
    fn shell_templates_quote_every_value() {
        let t = Templates::new();
        let ctx = Templates::context(&json!({
            "name": "a$(touch x)b", "dir": "/srv/my data", "plain": "/srv/x", "quote": "it's"
        }));
        assert_eq!(
            t.render_shell("tar -xf {{ dir }}/{{ name }} -C {{ plain }}", &ctx)
                .unwrap(),
            "tar -xf '/srv/my data'/'a$(touch x)b' -C /srv/x"
        );
        assert_eq!(
            t.render_shell("echo {{ quote }}", &ctx).unwrap(),
            "echo 'it'\\''s'"
        );
        // The way out is visible: `| safe`.
        assert_eq!(
            t.render_shell("echo {{ name | safe }}", &ctx).unwrap(),
            "echo a$(touch x)b"
        );
        // Only the shell fields of a payload are quoted.
        let out = t
            .render_payload(
                &json!({"cmd": "ls {{ dir }}", "chdir": "{{ dir }}"}),
                &ctx,
                &["cmd"],
            )
            .unwrap();
        assert_eq!(
            out,
            json!({"cmd": "ls '/srv/my data'", "chdir": "/srv/my data"})
        );
        // Templates that are not shell lines are not quoted.
        assert_eq!(t.render("{{ dir }}", &ctx).unwrap(), "/srv/my data");
    }

    #[test]
    fn variables_are_found_with_paths() {
        let t = Templates::new();
        let v = t
            .variables(
                "{{ restore.config_backup }} {% for x in xs %}{{ x.a }}{% endfor %}",
                false,
            )
            .unwrap();
        assert_eq!(
            v.into_iter().collect::<Vec<_>>(),
            vec!["restore.config_backup", "xs"]
        );
        let v = t.variables("gate.selected | length > 0", true).unwrap();
        assert!(v.contains("gate.selected"));
    }
}
