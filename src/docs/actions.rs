//! The actions a playbook step may name, each with its arguments as a struct. The declaration below
//! is the one source of what an action takes: the loader checks a step's keys, their types and the
//! required ones against it (`docs/playbook.rs`), `docs/playbooks.md`'s table of actions is written
//! from it ([`reference`]), and the executor reads a task's rendered arguments as the struct
//! ([`typed`]), so a key the loader let through is one the action reads.

use serde::Deserialize;
use serde_json::{Map, Value as J};

/// How an argument's value is read: leniently from what a template renders (a number written as
/// `"{{ n }}"` arrives as the text `"3"`), strictly otherwise.
pub trait Arg: Sized {
    /// What the value is, in words, for errors and the reference.
    const KIND: &'static str;
    fn from_json(v: J) -> Result<Self, String>;
}

impl Arg for String {
    const KIND: &'static str = "text";
    fn from_json(v: J) -> Result<Self, String> {
        match v {
            J::String(s) => Ok(s),
            J::Number(n) => Ok(n.to_string()),
            J::Bool(b) => Ok(b.to_string()),
            J::Null => Err("no value".into()),
            other => Err(format!("a {} where text belongs", kind_of(&other))),
        }
    }
}

impl Arg for bool {
    const KIND: &'static str = "true or false";
    fn from_json(v: J) -> Result<Self, String> {
        match &v {
            J::Bool(b) => Ok(*b),
            J::String(s) if s.trim() == "true" => Ok(true),
            J::String(s) if s.trim() == "false" => Ok(false),
            J::Null => Ok(false),
            other => Err(format!("`{}` where true or false belongs", short(other))),
        }
    }
}

impl Arg for u64 {
    const KIND: &'static str = "a whole number";
    fn from_json(v: J) -> Result<Self, String> {
        match &v {
            J::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
            J::String(s) if s.trim().parse::<u64>().is_ok() => {
                Ok(s.trim().parse().unwrap_or_default())
            }
            other => Err(format!("`{}` where a whole number belongs", short(other))),
        }
    }
}

impl Arg for Vec<String> {
    const KIND: &'static str = "a list of text";
    fn from_json(v: J) -> Result<Self, String> {
        match v {
            J::Array(items) => items.into_iter().map(String::from_json).collect(),
            J::Null => Ok(Vec::new()),
            other => Err(format!("a {} where a list belongs", kind_of(&other))),
        }
    }
}

impl Arg for Map<String, J> {
    const KIND: &'static str = "a mapping";
    fn from_json(v: J) -> Result<Self, String> {
        match v {
            J::Object(m) => Ok(m),
            J::Null => Ok(Map::new()),
            other => Err(format!("a {} where a mapping belongs", kind_of(&other))),
        }
    }
}

/// A value whose shape the action reads itself (a manifest's extra fields, an `assert`'s
/// expression or list of them).
impl Arg for J {
    const KIND: &'static str = "any value";
    fn from_json(v: J) -> Result<Self, String> {
        Ok(v)
    }
}

impl<T: Arg> Arg for Option<T> {
    const KIND: &'static str = T::KIND;
    fn from_json(v: J) -> Result<Self, String> {
        match v {
            J::Null => Ok(None),
            v => T::from_json(v).map(Some),
        }
    }
}

fn kind_of(v: &J) -> &'static str {
    match v {
        J::Null => "nothing",
        J::Bool(_) => "true/false",
        J::Number(_) => "number",
        J::String(_) => "text",
        J::Array(_) => "list",
        J::Object(_) => "mapping",
    }
}

fn short(v: &J) -> String {
    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    match text.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// Serde's way in for every argument: read as JSON, then by [`Arg`].
fn arg<'de, D: serde::Deserializer<'de>, T: Arg>(d: D) -> Result<T, D::Error> {
    T::from_json(J::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// Whether a value written in a playbook reads as `T` (templates aside: the loader skips those).
fn reads_as<T: Arg>(v: J) -> Result<(), String> {
    T::from_json(v).map(|_| ())
}

/// One argument of an action.
pub struct Field {
    pub key: &'static str,
    pub required: bool,
    pub kind: &'static str,
    pub doc: &'static str,
    /// Whether a literal value (no template in it) reads as the field's type.
    pub check: fn(J) -> Result<(), String>,
}

/// One action: its name, what it does, its arguments.
pub struct Action {
    pub name: &'static str,
    pub doc: &'static str,
    /// The argument a scalar (or, for a list argument, a list) written in place of the mapping
    /// fills: `shell: make` is `shell: { cmd: make }`.
    pub scalar: Option<&'static str>,
    /// Whether the action may be written with nothing after it (`debug:`).
    pub bare: bool,
    pub fields: &'static [Field],
}

impl Action {
    pub fn keys(&self) -> impl Iterator<Item = &'static str> {
        self.fields.iter().map(|f| f.key)
    }

    pub fn field(&self, key: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// A field's key: its name without the `r#` of a keyword (`do`).
const fn key(name: &'static str) -> &'static str {
    let b = name.as_bytes();
    if b.len() > 2 && b[0] == b'r' && b[1] == b'#' {
        name.split_at(2).1
    } else {
        name
    }
}

const fn any(given: &[bool]) -> bool {
    matches!(given, [true])
}

const fn first(given: &[&'static str]) -> Option<&'static str> {
    match given {
        [one] => Some(*one),
        _ => None,
    }
}

macro_rules! required {
    (need) => {
        true
    };
    (opt) => {
        false
    };
}

macro_rules! actions {
    ($(
        $(#[doc = $adoc:literal])*
        $name:literal => $ty:ident $([scalar $scalar:literal])? $([bare $bare:literal])? {
            $( $(#[doc = $fdoc:literal])* $req:ident $field:ident : $fty:ty ),* $(,)?
        }
    )*) => {
        $(
            $(#[doc = $adoc])*
            #[derive(Debug, Default, Deserialize)]
            #[serde(deny_unknown_fields)]
            pub struct $ty {
                $(
                    $(#[doc = $fdoc])*
                    #[serde(default, deserialize_with = "arg")]
                    pub $field: $fty,
                )*
            }
        )*

        /// Every action a step may name.
        pub const ACTIONS: &[Action] = &[$(
            Action {
                name: $name,
                doc: concat!($($adoc),*),
                scalar: first(&[$($scalar)?]),
                bare: any(&[$($bare)?]),
                fields: &[$(
                    Field {
                        key: key(stringify!($field)),
                        required: required!($req),
                        kind: <$fty as Arg>::KIND,
                        doc: concat!($($fdoc),*),
                        check: reads_as::<$fty>,
                    },
                )*],
            },
        )*];
    };
}

actions! {
    /// Runs a shell command line on the host (`set -eu`, and `pipefail` where the shell has it).
    "shell" => ShellArgs [scalar "cmd"] {
        /// The command line; values from templates reach it quoted.
        need cmd: String,
        /// The folder to run it in.
        opt chdir: Option<String>,
        /// Text handed to its standard input.
        opt stdin: Option<String>,
    }
    /// Runs a program without a shell: each word one argument, whatever a value holds.
    "command" => CommandArgs [scalar "argv"] {
        /// The program and its arguments (a line written in place of the mapping is split into
        /// words before rendering).
        need argv: Vec<String>,
        /// The folder to run it in.
        opt chdir: Option<String>,
        /// Text handed to its standard input.
        opt stdin: Option<String>,
    }
    /// Runs a script of the controller on the host, through its standard input.
    "script" => ScriptArgs [scalar "src"] {
        /// The script's path on the controller (relative to the playbook).
        need src: String,
        /// Its arguments, each quoted.
        opt args: Vec<String>,
    }
    /// Writes a file of the controller, or the text given, onto the host.
    "copy" => CopyArgs {
        /// The file on the controller.
        opt src: Option<String>,
        /// The text to write instead of a file.
        opt content: Option<String>,
        /// Where it goes on the host.
        need dest: String,
        /// Its mode, e.g. `0640`.
        opt mode: Option<String>,
    }
    /// Renders a template of the templates folder (or a built-in one) onto the host.
    "template" => TemplateArgs {
        /// The template's name.
        need src: String,
        /// Where it goes on the host.
        need dest: String,
        /// Its mode, e.g. `0640`.
        opt mode: Option<String>,
    }
    /// Downloads an object from storage onto the host, its digest checked.
    "fetch" => FetchArgs {
        /// The object's name in storage.
        need object: String,
        /// Where it goes on the host.
        need dest: String,
        /// The digest it must have (else the `.sha256` beside it in storage).
        opt sha256: Option<String>,
        /// `false` skips the digest check.
        opt verify: Option<bool>,
    }
    /// Stores a file of the host, or a command's output, in storage (`seal`: compressed,
    /// encrypted and signed).
    "upload" => UploadArgs {
        /// A file on the host (or `command`).
        opt src: Option<String>,
        /// A shell command whose standard output is stored (or `src`).
        opt command: Option<String>,
        /// The object's name in storage.
        need object: String,
        /// Compress with zstd, encrypt to the recipients, sign the manifest.
        opt seal: bool,
        /// `refuse`: keep an object that already exists (unless `--force`).
        opt if_exists: Option<String>,
        /// Fields added to the signed manifest.
        opt manifest: Option<Map<String, J>>,
        /// A JSON file on the host whose fields are added to the signed manifest.
        opt manifest_from: Option<String>,
    }
    /// Starts, stops, restarts or reloads a service.
    "service" => ServiceArgs {
        /// The service's name.
        need name: String,
        /// started, stopped, restarted or reloaded.
        need state: String,
        /// The service manager's command (default `systemctl`).
        opt manager: Option<String>,
    }
    /// Puts the service in or out of maintenance mode; undone on rollback.
    "maintenance" => MaintenanceArgs {
        /// on or off.
        need state: String,
        /// The command that does it on this host (empty: nothing to do here).
        need command: String,
        /// The command that takes it back, for rollback.
        opt off: Option<String>,
    }
    /// Downloads a backup, checks it and unpacks it into a new folder (never over a live one).
    "unpack" => UnpackArgs {
        /// The backup's name in storage.
        need object: String,
        /// The new folder.
        need dest: String,
        /// The digest it must have (else its signed manifest's).
        opt sha256: Option<String>,
        /// `false` skips the digest check.
        opt verify: Option<bool>,
        /// Write a marker naming the backup into the folder.
        opt marker: bool,
    }
    /// Puts an unpacked folder in place by rename, the old one kept aside (undone on rollback).
    "install" => InstallArgs {
        /// The unpacked folder.
        need from: String,
        /// The live folder it replaces.
        need to: String,
        /// Merge into the live folder instead of replacing it.
        opt merge: bool,
    }
    /// Refuses a configuration backup older than the one in place (`--allow-older` allows it).
    "not_older" => NotOlderArgs {
        /// The marker file naming the backup in place.
        need marker: String,
        /// The backup about to be restored.
        need backup: String,
    }
    /// Removes what older restores kept aside, beyond the newest few.
    "keep_last" => KeepLastArgs {
        /// Patterns of what was kept aside.
        need globs: Vec<String>,
        /// How many of each to keep (at least 1).
        need keep: String,
    }
    /// The director's PostgreSQL database: `op` dump, load, switch, discard or keep.
    "postgres" => PostgresArgs {
        /// dump, load, switch, discard or keep.
        need op: String,
        /// The database.
        opt database: Option<String>,
        /// Who connects (default the host's `db_user`).
        opt user: Option<String>,
        /// The server's host.
        opt host: Option<String>,
        /// The server's port.
        opt port: Option<String>,
        /// `load`: the dump file.
        opt dump: Option<String>,
        /// `dump`: where the dump goes.
        opt to: Option<String>,
        /// `dump`: `fail` when the database does not exist (else nothing is dumped).
        opt missing: Option<String>,
        /// `dump`: a file the rows of each table are written to.
        opt counts_to: Option<String>,
        /// `load`: who owns the loaded database.
        opt owner: Option<String>,
        /// `load`: a drill's run, to load into a sandbox database.
        opt sandbox: Option<String>,
        /// `keep`: how many kept-aside databases to keep.
        opt keep: Option<String>,
    }
    /// One step of a drill: `do` stage, check, sandbox, sweep, run, check_left and the others.
    "drill" => DrillArgs {
        /// What the step does.
        need r#do: String,
        /// The backup it reads.
        opt object: Option<String>,
        /// The digest found when it was unpacked.
        opt found: Option<String>,
        /// A folder it reads or makes.
        opt dir: Option<String>,
        /// A site check's name.
        opt name: Option<String>,
        /// A site check's SQL.
        opt sql: Option<String>,
        /// A command to run.
        opt command: Option<String>,
        /// What a site check must print.
        opt expect: Option<String>,
        /// An address that must answer 2xx.
        opt url: Option<String>,
        /// Seconds to wait for `url`.
        opt timeout: Option<u64>,
        /// Paths that must be gone after the drill.
        opt paths: Vec<String>,
        /// Live folders beside which drill sandboxes are made.
        opt sandboxes: Vec<String>,
        /// The live folder a sandbox starts as a copy of.
        opt copy_of: Option<String>,
        /// The sandbox configuration folder, handed to commands.
        opt sandbox_config: Option<String>,
        /// The sandbox data folder, handed to commands.
        opt sandbox_data: Option<String>,
        /// The database.
        opt database: Option<String>,
        /// Who connects to it.
        opt user: Option<String>,
        /// The server's host.
        opt host: Option<String>,
        /// The server's port.
        opt port: Option<String>,
    }
    /// Waits until a port accepts, an address answers, a service runs or a command succeeds.
    "wait_for" => WaitForArgs {
        /// A TCP port.
        opt port: Option<String>,
        /// The port's host (default the host's address).
        opt host: Option<String>,
        /// An HTTP address.
        opt http: Option<String>,
        /// The status `http` must answer (default 200).
        opt status: Option<u64>,
        /// A shell command that must succeed.
        opt command: Option<String>,
        /// A service that must run.
        opt service: Option<String>,
        /// The service manager's command (default `systemctl`).
        opt manager: Option<String>,
        /// Seconds to wait in all (default 60).
        opt timeout: Option<u64>,
        /// Seconds between tries (default half a second).
        opt delay: Option<u64>,
    }
    /// Fails unless every expression holds.
    "assert" => AssertArgs {
        /// An expression, or a list of them.
        need that: J,
        /// The message when one does not hold.
        opt msg: Option<String>,
    }
    /// Prints a message or a variable's value.
    "debug" => DebugArgs [scalar "msg"] [bare true] {
        /// The message.
        opt msg: Option<J>,
        /// A variable (or expression) to print.
        opt var: Option<String>,
    }
    /// Decides which weeks of daily analytics snapshots to restore (the weekly gate).
    "analytics_gate" => GateArgs [bare true] {
        /// The gate's state on the host: the weeks restored.
        opt state_file: Option<String>,
        /// The snapshots' prefix in storage (else the answer analytics.prefix).
        opt prefix: Option<String>,
        /// Their name pattern (else analytics.pattern).
        opt pattern: Option<String>,
        /// completed_weeks or current_week (else analytics.mode).
        opt mode: Option<String>,
        /// Snapshots to restore by name (else analytics.snapshots).
        opt snapshots: Option<String>,
        /// The first week to restore (else analytics.since).
        opt since: Option<String>,
        /// Take the newest restored week again (a drill does).
        opt newest_week_again: bool,
    }
    /// Records a restored snapshot in the gate's state.
    "analytics_record" => RecordArgs {
        /// The gate's state on the host.
        need state_file: String,
        /// The snapshot restored: `{name, date}` (an item of the gate's `selected`).
        need snapshot: J,
    }
}

pub fn action(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// A task's rendered arguments read as its action's struct: a scalar form put under its key, the
/// required arguments present, every key known and every value of its type.
pub fn typed<T: serde::de::DeserializeOwned>(name: &str, args: &J) -> Result<T, String> {
    let a = action(name).ok_or_else(|| format!("unknown action `{name}`"))?;
    let map: Map<String, J> = match (args, a.scalar) {
        (J::Object(m), _) => m.clone(),
        (J::Null, _) if a.bare => Map::new(),
        (v, Some(k)) if !v.is_object() => Map::from_iter([(k.to_string(), v.clone())]),
        (v, _) => return Err(format!("`{name}` takes a mapping, not a {}", kind_of(v))),
    };
    if let Some(f) = a
        .fields
        .iter()
        .find(|f| f.required && map.get(f.key).is_none_or(J::is_null))
    {
        return Err(format!("`{name}` needs `{}`", f.key));
    }
    serde_json::from_value(J::Object(map)).map_err(|e| format!("`{name}`: {e}"))
}

/// Every action with its arguments (`*` marks the required ones), for `setup run --help`.
pub fn help() -> String {
    let mut out = String::from(
        "Actions (a step names exactly one; docs/playbooks.md describes each argument):\n",
    );
    for a in ACTIONS {
        let keys: Vec<String> = a
            .fields
            .iter()
            .map(|f| format!("{}{}", f.key, if f.required { "*" } else { "" }))
            .collect();
        out.push_str(&format!("  {}: {}\n", a.name, keys.join(" ")));
        out.push_str(&format!("      {}\n", a.doc.trim()));
        for f in a.fields {
            let doc: Vec<&str> = f.doc.split_whitespace().collect();
            out.push_str(&format!("        {:<16} {}\n", f.key, doc.join(" ")));
        }
    }
    out
}

/// The reference of every action and its arguments, as `docs/playbooks.md` holds it.
#[cfg(test)]
fn reference() -> String {
    let mut out = String::new();
    for a in ACTIONS {
        out.push_str(&format!("### `{}`\n\n{}\n\n", a.name, a.doc.trim()));
        if let Some(k) = a.scalar {
            out.push_str(&format!(
                "`{}: VALUE` is short for `{}: {{ {k}: VALUE }}`.\n\n",
                a.name, a.name
            ));
        }
        out.push_str("| argument | | value | what it is |\n|---|---|---|---|\n");
        for f in a.fields {
            let doc = f
                .doc
                .split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ");
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                f.key,
                if f.required { "required" } else { "" },
                f.kind,
                doc.trim()
            ));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_action_reads_its_own_keys_and_refuses_others() {
        for a in ACTIONS {
            let keys: Vec<_> = a.keys().collect();
            let mut seen = keys.clone();
            seen.sort();
            seen.dedup();
            assert_eq!(seen.len(), keys.len(), "{}: a key twice", a.name);
        }
        let copy: CopyArgs = typed("copy", &json!({"dest": "/x", "mode": 640})).unwrap();
        assert_eq!(copy.dest, "/x");
        assert_eq!(copy.mode.as_deref(), Some("640"));
        let e = typed::<CopyArgs>("copy", &json!({"dest": "/x", "dset": 1})).unwrap_err();
        assert!(e.contains("unknown field `dset`"), "{e}");
        let e = typed::<CopyArgs>("copy", &json!({"src": "a"})).unwrap_err();
        assert_eq!(e, "`copy` needs `dest`");
    }

    #[test]
    fn rendered_numbers_and_flags_read_as_their_type() {
        let w: WaitForArgs = typed("wait_for", &json!({"port": 22, "timeout": "30"})).unwrap();
        assert_eq!(w.timeout, Some(30));
        assert_eq!(w.port.as_deref(), Some("22"));
        let e = typed::<WaitForArgs>("wait_for", &json!({"timeout": "soon"})).unwrap_err();
        assert!(e.contains("`soon` where a whole number belongs"), "{e}");
        let u: UnpackArgs = typed(
            "unpack",
            &json!({"object": "o", "dest": "d", "marker": "true"}),
        )
        .unwrap();
        assert!(u.marker);
    }

    /// docs/playbooks.md's table of actions is `reference()`, between its two markers;
    /// `SETUP_WRITE_DOCS=1 cargo test --lib the_playbooks_guide` writes it again.
    #[test]
    fn the_playbooks_guide_holds_the_reference_of_every_action() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/playbooks.md");
        let guide = std::fs::read_to_string(path).unwrap();
        let (begin, end) = ("<!-- actions: begin -->\n", "<!-- actions: end -->");
        let (Some(b), Some(e)) = (guide.find(begin), guide.find(end)) else {
            panic!("docs/playbooks.md has no `{begin}` … `{end}` section");
        };
        let section = &guide[b + begin.len()..e];
        let want = reference();
        if section != want && std::env::var_os("SETUP_WRITE_DOCS").is_some() {
            let text = format!("{}{want}{}", &guide[..b + begin.len()], &guide[e..]);
            std::fs::write(path, text).unwrap();
            return;
        }
        assert!(
            section == want,
            "docs/playbooks.md's table of actions differs from their declarations in \
             src/docs/actions.rs: SETUP_WRITE_DOCS=1 cargo test --lib the_playbooks_guide"
        );
    }

    #[test]
    fn scalar_and_bare_forms_fill_their_key() {
        let s: ShellArgs = typed("shell", &json!("make")).unwrap();
        assert_eq!(s.cmd, "make");
        let c: CommandArgs = typed("command", &json!(["ls", "-l"])).unwrap();
        assert_eq!(c.argv, ["ls", "-l"]);
        let d: DrillArgs = typed("drill", &json!({"do": "run"})).unwrap();
        assert_eq!(d.r#do, "run");
        assert!(action("drill").unwrap().field("do").is_some());
        let _: GateArgs = typed("analytics_gate", &J::Null).unwrap();
        assert!(typed::<CopyArgs>("copy", &json!("x")).is_err());
    }
}
