//! The house rule of docs/architecture.md: every module imports only modules in layers below its
//! own, so there is no import cycle and nothing reaches up the flow.

use std::collections::BTreeSet;
use std::path::Path;

/// Lowest first. A module may name only modules that stand before it here.
const LAYERS: &[&[&str]] = &[
    &["yaml", "secret", "embedded", "age"],
    &["diag", "template", "gate"],
    &["retention"],
    &["docs", "cli"],
    &["answers"],
    &["context", "transport"],
    &["plan", "storage", "seal"],
    &["report", "options", "failure", "authentic"],
    &["task", "freshness"],
    &["actions"],
    &["exec", "world"],
    &["commands", "demo"],
    &["serve"],
    &["app", "fuzz"],
];

fn layer(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|l| l.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is in no layer of tests/layers.rs"))
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules a file names with `crate::`.
fn named(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        if i > 0 && text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        let rest = &text[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.insert(name);
        }
    }
    out
}

#[test]
fn modules_import_only_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = top.trim_end_matches(".rs").to_string();
        if module == "main" || module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        for other in named(&text) {
            if other != module && layer(&other) >= layer(&module) {
                wrong.push(format!("{} names crate::{other}", rel.display()));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that reach up or across a layer:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_module_is_in_a_layer() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(m) = line.strip_prefix("mod ").or(line.strip_prefix("pub mod ")) {
            layer(m.trim_end_matches(';'));
        }
    }
}

#[test]
fn no_source_file_is_over_450_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter(|f| !f.ends_with("tests.rs"))
        .filter_map(|f| {
            let n = std::fs::read_to_string(f).unwrap().lines().count();
            (n > 450).then(|| format!("{}: {n} lines", f.display()))
        })
        .collect();
    assert!(
        long.is_empty(),
        "split these by concept:\n{}",
        long.join("\n")
    );
}
