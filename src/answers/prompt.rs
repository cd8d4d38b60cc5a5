//! Asking for the storage answers: at the terminal, or listing every missing one when there is none.
//!
//! At a terminal each answer is checked as it is typed and asked again when bad; the storage is
//! tried once its answers are in (a refused login asks for the credentials again, an unreachable
//! server for its address), and a review of every answer, secrets masked, lets any be changed
//! before the run goes on.

use std::collections::BTreeMap;

use serde_json::Value as J;

use super::storage::{self, Question, STORAGE_TYPES};
use super::{Answer, Answers, Origin, env_name};
use crate::diag::{Diag, Diagnostics};

/// What trying the storage with the answers so far came to.
#[derive(Clone, Debug)]
pub enum Tried {
    Ok,
    /// The server refused the login.
    Credentials(String),
    /// The server could not be reached.
    Connection(String),
    /// Anything else (no such bucket, a certificate not trusted …).
    Other(String),
}

/// Tries the storage with the answers given so far.
pub type Tryer<'a> = &'a dyn Fn(&Answers) -> Tried;

/// How many times a refused login or an unreachable server is asked again before the run goes on
/// (and fails with the storage's own message).
const TRIES: usize = 5;

/// Asks for the storage answers of `ans` (one storage's: `storage.type`, `storage.TYPE.FIELD`).
/// `target` names the storage target they are of: the review then shows its own keys.
pub(super) fn ask_storage(
    ans: &mut Answers,
    interactive: bool,
    tryer: Option<Tryer>,
    target: Option<&str>,
    diags: &mut Diagnostics,
) {
    if !interactive {
        return list_missing(ans, diags);
    }
    // Earlier answers to a question asked again: shown as its default (never a secret's).
    let mut previous: BTreeMap<String, String> = BTreeMap::new();
    let mut tries = 0;
    loop {
        if ans.storage_type().is_none() && !choose_type(ans, diags) {
            return;
        }
        let Some(t) = ans.storage_type() else { return };
        // Answers given in full (an answers file, say): nothing is asked, defaults fill the rest.
        if tries == 0 && previous.is_empty() && !incomplete(ans, &t) {
            return list_missing(ans, diags);
        }
        let asked = ask_type(ans, &t, &previous);
        list_missing(ans, diags);
        if !diags.is_empty() || !asked && tries == 0 {
            return;
        }
        let outcome = match tryer {
            Some(tryer) if tries < TRIES => {
                eprintln!("Trying the storage with these answers …");
                tryer(ans)
            }
            _ => Tried::Ok,
        };
        tries += 1;
        let again = match &outcome {
            Tried::Ok => None,
            Tried::Credentials(m) => Some((m, true)),
            Tried::Connection(m) => Some((m, false)),
            Tried::Other(m) => {
                eprintln!("  {m}");
                None
            }
        };
        if let Some((message, credential)) = again {
            eprintln!("  {message}");
            let keys: Vec<String> = storage::questions(&t)
                .iter()
                .filter(|q| if credential { q.credential } else { q.connects })
                .map(|q| storage::key(&t, q.field))
                .collect();
            if forget(ans, &keys, &mut previous) {
                eprintln!(
                    "  Asking again for the {}.",
                    if credential {
                        "credentials"
                    } else {
                        "server's address"
                    }
                );
                continue;
            }
        }
        match review(ans, &t, target) {
            Review::Go => return,
            Review::Quit => {
                diags.push(Diag::plain(
                    "prompt",
                    "stopped at the review of the answers",
                ));
                return;
            }
            Review::Change(key) => {
                forget(ans, std::slice::from_ref(&key), &mut previous);
                if key == "storage.type" {
                    let stale: Vec<String> = ans
                        .values
                        .iter()
                        .filter(|(k, a)| {
                            k.starts_with("storage.") && matches!(a.origin, Origin::Prompt)
                        })
                        .map(|(k, _)| k.clone())
                        .collect();
                    forget(ans, &stale, &mut previous);
                }
            }
        }
    }
}

/// Removes the answers given at the prompt among `keys`, keeping what was typed (not secrets) as
/// the default of the question asked again. False when none was given at the prompt.
fn forget(ans: &mut Answers, keys: &[String], previous: &mut BTreeMap<String, String>) -> bool {
    let mut any = false;
    for k in keys {
        if ans
            .values
            .get(k)
            .is_some_and(|a| matches!(a.origin, Origin::Prompt))
        {
            let a = ans.values.remove(k).expect("present");
            if !storage::is_secret(k) {
                previous.insert(k.clone(), a.text());
            }
            any = true;
        }
    }
    any
}

fn choose_type(ans: &mut Answers, diags: &mut Diagnostics) -> bool {
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
            true
        }
        _ => {
            diags.push(
                Diag::plain("prompt", "no storage type chosen")
                    .help("choose one, or give `--set storage.type=TYPE`"),
            );
            false
        }
    }
}

/// Whether a question is settled without asking: answered, or left out by what is answered.
fn settled(ans: &Answers, t: &str, q: &Question) -> bool {
    let answered = |f: &str| ans.text(&storage::key(t, f)).is_some();
    ans.values.contains_key(&storage::key(t, q.field))
        || q.unless.is_some_and(answered)
        || q.ask_if.is_some_and(|(f, v)| {
            ans.text(&storage::key(t, f))
                .or_else(|| storage::field(t, f).and_then(|d| d.default.map(str::to_string)))
                .as_deref()
                != Some(v)
        })
        || q.one_of.is_some_and(|g| {
            storage::questions(t)
                .iter()
                .any(|o| o.one_of == Some(g) && o.field != q.field && answered(o.field))
        })
}

/// Whether a question must be answered: it is not optional, or what it goes with is answered.
fn required(ans: &Answers, t: &str, q: &Question) -> bool {
    !q.optional
        || q.needed_with
            .is_some_and(|f| ans.text(&storage::key(t, f)).is_some())
}

/// Whether a question of type `t` that must be answered is not: one with neither an answer nor a
/// default, or a group none of whose questions is answered.
fn incomplete(ans: &Answers, t: &str) -> bool {
    storage::questions(t).iter().any(|q| {
        !settled(ans, t, q)
            && q.asked
            && (q.one_of.is_some() || required(ans, t, q) && q.default.is_none())
    })
}

/// Asks every unsettled question of type `t`, each checked as typed. True when any was asked.
fn ask_type(ans: &mut Answers, t: &str, previous: &BTreeMap<String, String>) -> bool {
    let mut asked = false;
    for q in storage::questions(t) {
        if !q.asked || settled(ans, t, q) {
            continue;
        }
        let key = storage::key(t, q.field);
        let shown = previous.get(&key).map(String::as_str);
        let Some(v) = prompt(q, shown, required(ans, t, q)) else {
            // Esc or a closed terminal: the question stays unanswered, and is listed.
            return asked;
        };
        asked = true;
        // An empty answer leaves an optional question out; an empty default is an answer.
        if !v.is_empty() || q.default.is_some() {
            ans.values.insert(
                key,
                Answer {
                    value: J::String(v),
                    origin: Origin::Prompt,
                },
            );
        }
    }
    asked
}

fn prompt(q: &Question, previous: Option<&str>, required: bool) -> Option<String> {
    let field = q.field;
    if q.secret {
        return dialoguer::Password::new()
            .with_prompt(q.prompt)
            .allow_empty_password(!required)
            .interact()
            .ok();
    }
    let mut input = dialoguer::Input::<String>::new()
        .with_prompt(q.prompt)
        .allow_empty(q.optional || q.default.is_some())
        .validate_with(move |v: &String| storage::check_value(field, v));
    if let Some(d) = previous.or(q.default) {
        input = input.default(d.to_string());
    }
    input.interact_text().ok()
}

enum Review {
    Go,
    Change(String),
    Quit,
}

/// Shows every storage answer (secrets masked) and asks whether to go on, change one, or stop. A
/// storage target's answers are shown by its own keys (`storage.NAME.FIELD`); its type is the
/// document's, not an answer to change.
fn review(ans: &Answers, t: &str, target: Option<&str>) -> Review {
    let mut keys = Vec::new();
    if target.is_none() {
        keys.push("storage.type".to_string());
    }
    keys.extend(
        storage::questions(t)
            .iter()
            .filter(|q| q.asked && !settled_out(ans, t, q))
            .map(|q| storage::key(t, q.field)),
    );
    let shown: Vec<String> = keys
        .iter()
        .map(|k| match target {
            Some(name) => k.replacen(&format!("storage.{t}."), &format!("storage.{name}."), 1),
            None => k.clone(),
        })
        .collect();
    let width = shown.iter().map(String::len).max().unwrap_or(0);
    match target {
        Some(name) => eprintln!("\nStorage answers of target `{name}` ({t}):"),
        None => eprintln!("\nStorage answers:"),
    }
    for (k, label) in keys.iter().zip(&shown) {
        let (value, from) = match ans.get(k) {
            Some(a) if storage::is_secret(k) && !a.text().is_empty() => ("********".to_string(), a),
            Some(a) => (a.text(), a),
            None => {
                eprintln!("  {label:width$}  (not set)");
                continue;
            }
        };
        eprintln!("  {label:width$}  {value}{}", origin_note(&from.origin));
    }
    let choice = dialoguer::Select::new()
        .with_prompt("Go on with these answers?")
        .items(["Yes, go on", "Change an answer", "Stop here"])
        .default(0)
        .interact_opt();
    match choice {
        Ok(Some(0)) => Review::Go,
        Ok(Some(1)) => {
            let pick = dialoguer::Select::new()
                .with_prompt("Which answer?")
                .items(&shown)
                .default(0)
                .interact_opt();
            match pick {
                Ok(Some(i)) => Review::Change(keys[i].clone()),
                _ => Review::Quit,
            }
        }
        _ => Review::Quit,
    }
}

/// A question left out by another answer (the account of a connection string, say).
fn settled_out(ans: &Answers, t: &str, q: &Question) -> bool {
    !ans.values.contains_key(&storage::key(t, q.field)) && settled(ans, t, q)
}

fn origin_note(o: &Origin) -> String {
    match o {
        Origin::Prompt | Origin::Default => String::new(),
        Origin::Set(..) => "  (--set)".into(),
        Origin::Env(name) => format!("  ({name})"),
        Origin::File(src, _) | Origin::Restore(src, _) => format!("  ({})", src.name),
    }
}

/// Fills defaults and lists every storage answer still missing, each as a [`missing`] item.
fn list_missing(ans: &mut Answers, diags: &mut Diagnostics) {
    let Some(t) = ans.storage_type() else {
        diags.push(missing(
            "storage.type",
            &format!("one of {}", STORAGE_TYPES.join(", ")),
        ));
        return;
    };
    let mut groups: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for q in storage::questions(&t) {
        let key = storage::key(&t, q.field);
        if settled(ans, &t, q) {
            continue;
        }
        if let Some(d) = q.default {
            ans.values.insert(
                key,
                Answer {
                    value: J::String(d.into()),
                    origin: Origin::Default,
                },
            );
            continue;
        }
        match q.one_of {
            Some(g) => groups.entry(g).or_default().push(key),
            None if required(ans, &t, q) => diags.push(missing(&key, q.prompt)),
            None => {}
        }
    }
    for (g, keys) in groups {
        let alts: Vec<String> = keys.iter().map(|k| missing_line(k, "")).collect();
        diags.push(Diag::plain(
            MISSING,
            format!("one {g} of:\n      {}", alts.join("\n      ")),
        ));
    }
}

/// The code of one missing answer; [`gather_missing`] lists them all as one diagnostic.
const MISSING: &str = "missing_answer";

/// One missing answer, `key` (`what` it is), and the three ways to give it.
pub fn missing(key: &str, what: &str) -> Diag {
    Diag::plain(MISSING, missing_line(key, what))
}

/// Every missing answer of a run, in one diagnostic with their count, in one format, where the
/// first of them was: storage settings, each storage target's, and the answers a run needs
/// (`trusted_signers` …). An item's own help (how to make a signers file, say) follows the common
/// one.
pub fn gather_missing(diags: &mut Diagnostics, interactive: bool) {
    let Some(first) = diags.list.iter().position(|d| d.code == MISSING) else {
        return;
    };
    let (items, rest): (Vec<Diag>, Vec<Diag>) = std::mem::take(&mut diags.list)
        .into_iter()
        .partition(|d| d.code == MISSING);
    let mut lines: Vec<String> = Vec::new();
    let mut helps: Vec<String> = Vec::new();
    for d in items {
        if !lines.contains(&d.message) {
            lines.push(d.message);
        }
        if let Some(h) = d.help
            && !helps.contains(&h)
        {
            helps.push(h);
        }
    }
    let why = if interactive {
        ""
    } else {
        ", and there is no terminal to ask"
    };
    let mut help = "give each with --set KEY=VALUE, its SETUP_* environment variable, or a line in answers.yml".to_string();
    for h in helps {
        help.push('\n');
        help.push_str(&h);
    }
    let gathered = Diag::plain(
        "missing_answers",
        format!(
            "{} answer(s) missing{why}:\n  - {}",
            lines.len(),
            lines.join("\n  - ")
        ),
    )
    .help(help);
    let mut rest = rest;
    rest.insert(first.min(rest.len()), gathered);
    diags.list = rest;
}

pub fn missing_line(key: &str, what: &str) -> String {
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
