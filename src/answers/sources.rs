//! Where answers come from, weakest first: restore.yml, the answers file, `SETUP_*`, then `--set`.

use serde_json::Value as J;

use super::{Answer, Answers, Inputs, Origin, env_name, known_keys_with, normalize};
use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::docs::restore::{Entry, flatten, insert_dotted};
use crate::yaml::Span;

/// A `--set KEY=VALUE`, already split.
#[derive(Clone, Debug)]
pub struct SetArg {
    pub key: String,
    pub value: String,
    pub source: Source,
}

/// Parses `--set` arguments; each malformed one is a diagnostic pointing into the argument.
pub fn parse_sets(raw: &[String], diags: &mut Diagnostics) -> Vec<SetArg> {
    let mut out = Vec::new();
    for (i, arg) in raw.iter().enumerate() {
        let src = Source::new(format!("--set #{}", i + 1), arg.clone());
        let Some((key, value)) = arg.split_once('=') else {
            diags.push(
                Diag::at(
                    "malformed_set",
                    &src,
                    Span::new(0, arg.len()),
                    format!("malformed --set `{arg}`: no `=`"),
                )
                .label("expected KEY=VALUE")
                .help(format!(
                    "write it as `--set {}=VALUE`",
                    if arg.is_empty() { "KEY" } else { arg }
                )),
            );
            continue;
        };
        let valid = !key.is_empty()
            && key.split('.').all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            });
        if !valid {
            diags.push(
                Diag::at("malformed_set", &src, Span::new(0, key.len().max(1)), if key.is_empty() { "malformed --set: no key before `=`".to_string() } else { format!("malformed --set: bad key `{key}`") })
                    .label("not a key")
                    .help("a key is words of letters, digits, `_` or `-`, joined by dots, e.g. `--set storage.type=s3`"),
            );
            continue;
        }
        out.push(SetArg {
            key: key.to_string(),
            value: value.to_string(),
            source: src,
        });
    }
    out
}

/// Reads every source into `ans`, each stronger one over the weaker.
pub(super) fn read_all(ans: &mut Answers, inputs: &Inputs, diags: &mut Diagnostics) {
    let storage_type_from = |entries: &[Entry]| {
        entries
            .iter()
            .find(|e| e.key == "storage.type")
            .map(|e| e.value.clone())
    };
    // restore.yml first (weakest of the files).
    let restore_type = storage_type_from(&inputs.restore.entries);
    if let Some(src) = &inputs.restore.source {
        for e in &inputs.restore.entries {
            let key = normalize(&e.key, restore_type.as_ref());
            ans.values.insert(
                key,
                Answer {
                    value: e.value.clone(),
                    origin: Origin::Restore(src.clone(), e.node.span),
                },
            );
        }
    }
    if let Some((src, node)) = inputs.file {
        let mut entries = Vec::new();
        if let Some(map) = node.as_map() {
            for (k, v) in map {
                flatten(&k.scalar_text().unwrap_or_default(), v, &mut entries);
            }
        } else if !node.is_null() {
            diags.push(
                Diag::at(
                    "wrong_type",
                    src,
                    node.span,
                    "the answers file must be a mapping of keys to answers",
                )
                .label("not a mapping")
                .help("write `key: value` lines, e.g. `storage.type: local`"),
            );
        }
        let file_type = storage_type_from(&entries).or(restore_type.clone());
        let known = known_keys_of(inputs);
        for e in entries {
            let key = normalize(&e.key, file_type.as_ref());
            if !known.contains(&key) {
                let s = did_you_mean(&key, known.iter().map(String::as_str));
                diags.push(
                    Diag::at(
                        "unknown_key",
                        src,
                        e.node.span,
                        format!("unknown answer key `{}`", e.key),
                    )
                    .label("not a known answer")
                    .help(match s {
                        Some(s) => match super::OTHERS.iter().find(|o| o.key == s) {
                            Some(o) => format!("did you mean `{s}` ({})?", o.about),
                            None => format!("did you mean `{s}`?"),
                        },
                        None => "run `setup --help` for the answer keys".to_string(),
                    }),
                );
                continue;
            }
            ans.values.insert(
                key,
                Answer {
                    value: e.value,
                    origin: Origin::File(src.clone(), e.node.span),
                },
            );
        }
    }
    for key in known_keys_of(inputs) {
        let name = env_name(&key);
        if let Some(v) = (inputs.env)(&name) {
            ans.values.insert(
                key,
                Answer {
                    value: J::String(v),
                    origin: Origin::Env(name),
                },
            );
        }
    }
    let known = known_keys_of(inputs);
    let set_type = inputs
        .sets
        .iter()
        .rev()
        .find(|s| s.key == "storage.type")
        .map(|s| J::String(s.value.clone()));
    for s in inputs.sets {
        let chosen = set_type
            .clone()
            .or_else(|| ans.values.get("storage.type").map(|a| a.value.clone()));
        let key = normalize(&s.key, chosen.as_ref());
        let answer = Answer {
            value: J::String(s.value.clone()),
            origin: Origin::Set(
                s.source.clone(),
                Span::new(s.key.len() + 1, s.source.text.len()),
            ),
        };
        if known.contains(&key) {
            ans.values.insert(key, answer);
        } else if key.starts_with("storage.") {
            let sug = did_you_mean(&key, known.iter().map(String::as_str));
            let help = sug.map_or(
                "see DESIGN keys: storage.type and storage.<type>.<field>".to_string(),
                |x| format!("did you mean `{x}`?"),
            );
            diags.push(unknown_set_key(s, "not a storage answer", help));
        } else if let Some(sug) = did_you_mean(&key, known.iter().map(String::as_str))
            .filter(|k| strsim::damerau_levenshtein(&key, k) <= (k.len() / 3).max(1))
        {
            // Close to an answer key: a slip of the keyboard, not a template variable. Taken as a
            // variable it would leave the answer unset, and the run would ask for it or miss it.
            let help = format!(
                "did you mean `{sug}`? (a template variable may not be spelt this close to an answer key)"
            );
            diags.push(unknown_set_key(s, "not an answer key", help));
        } else if let Some(help) = document_setting(&key) {
            diags.push(unknown_set_key(
                s,
                "a setting of restore.yml, not an answer",
                help,
            ));
        } else if key.starts_with("restore.")
            || key.starts_with("analytics.")
            || key == "config_backup"
        {
            let k = key.trim_start_matches("restore.").to_string();
            ans.values.insert(k, answer.clone());
            insert_dotted(&mut ans.vars, &s.key, J::String(s.value.clone()));
        } else {
            insert_dotted(&mut ans.vars, &s.key, J::String(s.value.clone()));
            ans.set_vars.push(s.clone());
        }
    }
}

/// A restore.yml (or backup.yml) setting that is no answer: how to give it instead.
fn document_setting(key: &str) -> Option<String> {
    let key = key.strip_prefix("restore.").unwrap_or(key);
    let head = key.split('.').next().unwrap_or(key);
    Some(match head {
        "components" => "`components` is a setting of restore.yml (and backup.yml), not an answer: to restore or back up one component, run its steps alone with `--only config` or `--only analytics` (each step carries its component as a tag), or list the components in the document".to_string(),
        "drill" | "schedule" => format!("`{head}` is a setting of restore.yml, not an answer: set it there"),
        "vars" => "restore.yml's `vars` are template variables: give one as `--set NAME=VALUE`".to_string(),
        _ => return None,
    })
}

/// A `--set` taken as a template variable that nothing the run reads: a mistake, said with the
/// nearest answer key or variable (`candidates`).
pub fn unread_set<'a>(s: &SetArg, candidates: impl Iterator<Item = &'a str>) -> Diag {
    let settings = ["components", "drill", "schedule"];
    let help = match did_you_mean(&s.key, candidates.chain(settings)) {
        Some(k) => match document_setting(k) {
            Some(how) => format!("did you mean `{k}`? {how}"),
            None => format!(
                "did you mean `{k}`? A --set KEY=VALUE gives an answer (see `setup --help`) or a variable the playbook reads"
            ),
        },
        None => "a --set KEY=VALUE gives an answer (see `setup --help`) or a variable the playbook reads; this run reads no variable of that name".to_string(),
    };
    unknown_set_key(s, "neither an answer nor a variable this run reads", help)
}

/// The keys an answer may have: every storage type's, every other answer's, and those of each
/// storage target the folder's documents list, used by this command or not.
fn known_keys_of(inputs: &Inputs) -> Vec<String> {
    let mut targets = inputs.targets.to_vec();
    targets.extend(inputs.listed.iter().cloned());
    known_keys_with(&targets)
}

/// An unknown `--set` key. It may be a misspelt secret: its value is never shown back.
fn unknown_set_key(s: &SetArg, label: &str, help: String) -> Diag {
    let shown = Source::new(s.source.name.clone(), format!("{}=…", s.key));
    Diag::at(
        "unknown_key",
        &shown,
        Span::new(0, s.key.len()),
        format!("unknown answer key `{}`", s.key),
    )
    .label(label.to_string())
    .help(help)
}
