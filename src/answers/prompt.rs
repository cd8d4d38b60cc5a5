//! Asking for the storage answers: at the terminal, or listing every missing one when there is none.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::storage::{self, Question, STORAGE_TYPES};
use super::{Answer, Answers, Origin, env_name};
use crate::diag::{Diag, Diagnostics};

pub(super) fn ask_storage(ans: &mut Answers, interactive: bool, diags: &mut Diagnostics) {
    let mut missing: Vec<String> = Vec::new();
    if ans.storage_type().is_none() {
        if interactive {
            let pick = dialoguer::Select::new()
                .with_prompt("Where are the backups stored?")
                .items([
                    "S3 or S3-compatible (MinIO)",
                    "Azure Blob Storage",
                    "SFTP server",
                    "FTP / FTPS server",
                    "Local or NFS folder",
                ])
                .default(0)
                .interact_opt();
            match pick {
                Ok(Some(i)) => {
                    ans.values.insert(
                        "storage.type".into(),
                        Answer {
                            value: J::String(STORAGE_TYPES[i].into()),
                            origin: Origin::Prompt,
                        },
                    );
                }
                _ => {
                    diags.push(
                        Diag::plain("prompt", "no storage type chosen")
                            .help("choose one, or give `--set storage.type=TYPE`"),
                    );
                    return;
                }
            }
        } else {
            missing.push(missing_line(
                "storage.type",
                &format!("one of {}", STORAGE_TYPES.join(", ")),
            ));
        }
    }
    if let Some(t) = ans.storage_type() {
        let mut groups: BTreeMap<&str, (bool, Vec<String>)> = BTreeMap::new();
        for q in storage::questions(&t) {
            let key = format!("storage.{t}.{}", q.field);
            if ans.values.contains_key(&key) {
                if let Some(g) = q.one_of {
                    groups.entry(g).or_default().0 = true;
                }
                continue;
            }
            if let Some(d) = q.default
                && !interactive
            {
                ans.values.insert(
                    key,
                    Answer {
                        value: J::String(d.into()),
                        origin: Origin::Default,
                    },
                );
                continue;
            }
            // At a terminal every question of the type is asked, optional ones too (an empty answer
            // leaves them out): a MinIO user must be able to give an endpoint and keys.
            let group_done = q.one_of.is_some_and(|g| groups.get(g).is_some_and(|x| x.0));
            if interactive && q.asked && !group_done {
                match prompt(q) {
                    Some(v) if !v.is_empty() => {
                        if let Some(g) = q.one_of {
                            groups.entry(g).or_default().0 = true;
                        }
                        ans.values.insert(
                            key,
                            Answer {
                                value: J::String(v),
                                origin: Origin::Prompt,
                            },
                        );
                    }
                    _ => {
                        if let Some(g) = q.one_of {
                            groups.entry(g).or_default().1.push(key);
                        } else if !q.optional {
                            missing.push(missing_line(&key, q.prompt));
                        }
                    }
                }
                continue;
            }
            match q.one_of {
                Some(g) => groups.entry(g).or_default().1.push(key),
                None if !q.optional => missing.push(missing_line(&key, q.prompt)),
                None => {}
            }
        }
        for (g, (answered, keys)) in groups {
            if !answered && !keys.is_empty() {
                let alts: Vec<String> = keys.iter().map(|k| missing_line(k, "")).collect();
                missing.push(format!("one {g} of:\n      {}", alts.join("\n      ")));
            }
        }
    }
    if !missing.is_empty() {
        diags.push(
            Diag::plain("missing_answers", format!("{} answer(s) missing, and there is no terminal to ask:\n  - {}", missing.len(), missing.join("\n  - ")))
                .help("give each with --set KEY=VALUE, its SETUP_* environment variable, or a line in answers.yml"),
        );
    }
}

fn missing_line(key: &str, what: &str) -> String {
    let what = if what.is_empty() {
        String::new()
    } else {
        format!(" ({what})")
    };
    format!(
        "{key}{what}: --set {key}=…, env {}, answers.yml `{key}: …`",
        env_name(key)
    )
}

fn prompt(q: &Question) -> Option<String> {
    if q.secret {
        return dialoguer::Password::new()
            .with_prompt(q.prompt)
            .allow_empty_password(q.optional)
            .interact()
            .ok();
    }
    let mut input = dialoguer::Input::<String>::new()
        .with_prompt(q.prompt)
        .allow_empty(q.optional);
    if let Some(d) = q.default {
        input = input.default(d.to_string());
    }
    input.interact_text().ok()
}
