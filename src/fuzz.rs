//! Entry points for the fuzz targets in `fuzz/` and their regression corpus in `tests/fuzz.rs`.
//!
//! Each takes arbitrary bytes and drives one loader the way a run does, diagnostics rendered
//! included. A panic is a finding; so is a broken property, checked here with `assert!`.

use miette::GraphicalReportHandler;

use crate::answers::{Answers, Inputs, parse_sets};
use crate::diag::{Diagnostics, Source};
use crate::docs;
use crate::docs::restore::RestoreSpec;
use crate::template::{Templates, shell_quote};
use crate::yaml;

/// The fuzz targets, by name, for `scripts/fuzz` and the regression tests.
/// A fuzz target: its name and the function that takes one input.
pub type Target = (&'static str, fn(&[u8]));

pub const TARGETS: &[Target] = &[
    ("yaml", yaml_layer),
    ("inventory", inventory),
    ("playbook", playbook),
    ("restore", restore),
    ("backup", backup),
    ("answers", answers),
    ("template", template),
    ("signature", signature),
    ("retar", retar),
    ("age_header", age_header),
];

/// Renders every diagnostic as the terminal would, carets and all.
fn render(diags: Diagnostics) {
    if let Err(invalid) = diags.into_result() {
        let mut out = String::new();
        GraphicalReportHandler::new()
            .render_report(&mut out, &invalid)
            .expect("a diagnostic renders");
        for d in &invalid.0 {
            if let Some(src) = &d.source {
                let _ = src.line_col(d.span.start);
            }
        }
    }
}

fn source(name: &str, data: &[u8]) -> Option<Source> {
    std::str::from_utf8(data)
        .ok()
        .map(|text| Source::new(name, text))
}

/// The YAML layer: any text either parses or names where it stopped.
pub fn yaml_layer(data: &[u8]) {
    let Some(src) = source("doc.yml", data) else {
        return;
    };
    match yaml::parse(&src.text) {
        Ok(node) => {
            let _ = node.to_json();
        }
        Err(e) => assert!(e.offset <= src.text.len(), "error offset past the end"),
    }
    let mut diags = Diagnostics::default();
    let _ = docs::parse_source(&src, &mut diags);
    render(diags);
}

/// The inventory loader, native and Ansible (which one is decided by the document itself).
pub fn inventory(data: &[u8]) {
    let Some(src) = source("master.yml", data) else {
        return;
    };
    let mut diags = Diagnostics::default();
    if let Some(node) = docs::parse_source(&src, &mut diags) {
        let inv = docs::inventory::parse(&src, &node, &mut diags);
        let _ = inv.ansible_list();
        let _ = inv.groups_json();
        for name in inv.names().iter().take(8) {
            let _ = inv.resolve(name);
        }
        let _ = inv.resolve("all");
    }
    render(diags);
}

/// The playbook loader, with every template string compiled as the planner compiles it.
pub fn playbook(data: &[u8]) {
    let Some(src) = source("restore.playbook.yml", data) else {
        return;
    };
    let mut diags = Diagnostics::default();
    if let Some(node) = docs::parse_source(&src, &mut diags) {
        let book = docs::playbook::parse(&src, &node, &mut diags);
        let templates = Templates::new();
        for step in &book.steps {
            for (node, usage) in step.template_strings() {
                if let Some(text) = node.as_str() {
                    let expr = matches!(usage, docs::playbook::TemplateUse::Expr);
                    let _ = templates.variables(text, expr);
                }
            }
        }
    }
    render(diags);
}

fn restore_spec(src: &Source, diags: &mut Diagnostics) -> RestoreSpec {
    match docs::parse_source(src, diags) {
        Some(node) => docs::restore::parse(src, &node, diags),
        None => RestoreSpec::default(),
    }
}

/// restore.yml, then the answers it gives.
pub fn restore(data: &[u8]) {
    let Some(src) = source("restore.yml", data) else {
        return;
    };
    let mut diags = Diagnostics::default();
    let spec = restore_spec(&src, &mut diags);
    let _ = spec.template_value();
    resolve(&spec, None, &[], &mut diags);
    render(diags);
}

/// backup.yml.
pub fn backup(data: &[u8]) {
    let Some(src) = source("backup.yml", data) else {
        return;
    };
    let mut diags = Diagnostics::default();
    if let Some(node) = docs::parse_source(&src, &mut diags) {
        let _ = docs::backup::parse(&src, &node, &mut diags);
    }
    render(diags);
}

fn resolve(
    spec: &RestoreSpec,
    file: Option<(&Source, &yaml::Node)>,
    sets: &[String],
    diags: &mut Diagnostics,
) {
    let sets = parse_sets(sets, diags);
    let inputs = Inputs {
        sets: &sets,
        env: &|_| None,
        file,
        restore: spec,
        interactive: false,
        need_storage: false,
        tryer: None,
        targets: &[],
        listed: &[],
    };
    let answers = Answers::resolve(inputs, diags);
    let _ = answers.storage_value();
    let _ = answers.secrets_value();
    let _ = answers.analytics();
}

/// An answers file; its lines are also given as `--set` arguments.
pub fn answers(data: &[u8]) {
    let Some(src) = source("answers.yml", data) else {
        return;
    };
    let mut diags = Diagnostics::default();
    let sets: Vec<String> = src.text.lines().take(16).map(str::to_string).collect();
    let node = docs::parse_source(&src, &mut diags);
    resolve(
        &RestoreSpec::default(),
        node.as_ref().map(|n| (&src, n)),
        &sets,
        &mut diags,
    );
    render(diags);
}

/// The words a POSIX shell reads from a line of plain words and single-quoted strings, or None
/// when the line holds anything else (a metacharacter, a double quote, an unclosed quote).
fn shell_words(line: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next()? {
                        '\'' => break,
                        c => w.push(c),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).push(chars.next()?),
            c if c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c) => {
                word.get_or_insert_with(String::new).push(c)
            }
            _ => return None,
        }
    }
    words.extend(word);
    Some(words)
}

/// The template renderer. The bytes before the first NUL are a template, those after a value.
/// Any template renders or fails cleanly; a value always reaches a shell line as one word, itself.
pub fn template(data: &[u8]) {
    let (text, value) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[..0]),
    };
    let (Ok(text), Ok(value)) = (std::str::from_utf8(text), std::str::from_utf8(value)) else {
        return;
    };
    let templates = Templates::new();
    let ctx = Templates::context(&serde_json::json!({
        "v": value,
        "hosts": ["a", value],
        "vars": {"k": value, "n": 3},
    }));
    let _ = templates.variables(text, false);
    let _ = templates.variables(text, true);
    let _ = templates.render(text, &ctx);
    let _ = templates.render_shell(text, &ctx);
    let _ = templates.eval(text, &ctx);

    let line = templates
        .render_shell("printf %s {{ v }} {{ vars.k }}", &ctx)
        .expect("a plain template renders");
    assert_eq!(line, format!("printf %s {0} {0}", shell_quote(value)));
    assert_eq!(
        shell_words(&line),
        Some(vec![
            "printf".to_string(),
            "%s".to_string(),
            value.to_string(),
            value.to_string()
        ]),
        "a value is not one word of its own: {line:?}"
    );
}

/// The signature reader: the input is an allowed_signers file, and also a manifest and its armored
/// signature (split at the first NUL). Judged against the demo's trusted key, nothing may pass but
/// that key's signature, for the namespace `setup-backup`, over a manifest naming this object.
pub fn signature(data: &[u8]) {
    use crate::authentic::{AllowedSigners, Trust, judge};
    let text = String::from_utf8_lossy(data);
    let _ = AllowedSigners::parse(&text, "fuzz");
    let (manifest, sig) = text.split_once('\0').unwrap_or((&text, &text));
    let demo = AllowedSigners::parse(
        include_str!("../inventories/demo/allowed_signers"),
        "allowed_signers",
    )
    .expect("the demo's allowed_signers reads");
    let trust = Trust {
        signers: Some(std::sync::Arc::new(demo)),
        allow_unsigned: false,
        expect_encrypted: false,
        now: "2026-12-01T00:00:00Z".parse().expect("a time"),
        seen: Default::default(),
    };
    const OBJECT: &str = "director-config-20261120T020000Z.tar";
    if let Ok(v) = judge(OBJECT, Some(manifest), Some(sig), &trust) {
        assert!(!v.unsigned && v.signer.is_some(), "passed without a signer");
        let m = v.manifest.expect("a judged manifest");
        assert_eq!(m.object, OBJECT, "passed for another object");
        assert!(v.stored_sha256.is_some_and(|d| d.len() == 64));
    }
}

/// The age reader: any stream opens, is refused with a reason, or is not for the identity, and a
/// header the strict reader accepts is exactly what a writer writes for it (so two readers cannot
/// understand one header two ways). The identity is that of the format's official test vectors.
pub fn age_header(data: &[u8]) {
    use crate::age;
    let ids = [age::Identity::parse(
        "AGE-SECRET-KEY-1EGTZVFFV20835NWYV6270LXYVK2VKNX2MMDKWYKLMGR48UAWX40Q2P2LM0",
    )
    .expect("the vectors' identity reads")];
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let mut src = data;
        if let Ok(Some(key)) = age::open_header(&mut src, &ids).await {
            let _ = age::decrypt(&mut src, &mut tokio::io::sink(), &key).await;
        }
    });
    if let Some(end) = age::header_end(data)
        && let Ok(h) = age::parse_header(&data[..end])
    {
        assert_eq!(h.encode(), &data[..end], "a header read is not written so");
        assert!(
            h.covered + 1 + 43 + 1 == end,
            "the MAC covers the wrong bytes"
        );
        assert!(h.stanzas.iter().all(|s| !s.args.is_empty()));
    }
}

/// The archive reader against GNU tar: whatever the reader accepts, it writes anew, and GNU tar
/// reading what was written must list exactly the entries the reader checked (no more, no fewer,
/// none renamed). The host's tar only ever reads that rewritten archive.
pub fn retar(data: &[u8]) {
    use crate::actions::retar::{Verdict, rewrite};
    let verdict = std::sync::Mutex::new(Verdict {
        seen: Some(Vec::new()),
        ..Verdict::default()
    });
    let mut out = Vec::new();
    if rewrite(data, &mut out, &verdict).is_err() {
        return;
    }
    let checked = verdict
        .into_inner()
        .expect("verdict")
        .seen
        .unwrap_or_default();
    let listed = gnu_tar_list(&out);
    // The writer drops `.` components (`./a` is written `a`); nothing else may change.
    let norm = |p: &str| {
        let parts: Vec<&str> = p
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .collect();
        if parts.is_empty() {
            ".".to_string()
        } else {
            parts.join("/")
        }
    };
    let checked: Vec<String> = checked.iter().map(|p| norm(p)).collect();
    let listed: Vec<String> = listed.iter().map(|p| norm(p)).collect();
    assert_eq!(
        checked, listed,
        "GNU tar reads other entries than were checked"
    );
}

/// `tar -tf -` of an archive: its entry names, one per line (GNU tar, as a host runs it).
fn gnu_tar_list(archive: &[u8]) -> Vec<String> {
    use std::io::Write;
    let mut child = std::process::Command::new("tar")
        .args(["--quoting-style=literal", "-tf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("GNU tar runs here");
    let mut stdin = child.stdin.take().expect("piped");
    let data = archive.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&data);
    });
    let out = child.wait_with_output().expect("tar finishes");
    let _ = writer.join();
    assert!(
        out.status.success(),
        "GNU tar refuses an archive the reader wrote"
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}
