//! The house rules of docs/architecture.md: every module imports only modules in layers below its
//! own, so nothing reaches up the flow; and no file imports a file that imports it back, however
//! long the way round, so each file can be read after the files it uses.

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
    &["pipeline"],
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

/// A file's module path under `src/` (`commands/run.rs` is `["commands", "run"]`, a `mod.rs` is its
/// folder's module).
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// The module paths a file names, `crate::a::b…` and `super::a…` (resolved from the file's own
/// module), outside its `#[cfg(test)] mod tests` (whose `super` is the file itself).
fn paths_named(text: &str, own: &[String]) -> Vec<Vec<String>> {
    let text = text
        .find("#[cfg(test)]\nmod tests")
        .map_or(text, |at| &text[..at]);
    let mut out = Vec::new();
    for start in ["crate::", "super::"] {
        for (i, _) in text.match_indices(start) {
            if i > 0 && text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut path: Vec<String> = if start == "crate::" {
                Vec::new()
            } else {
                own[..own.len().saturating_sub(1)].to_vec()
            };
            let mut rest = &text[i + start.len()..];
            loop {
                let word: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if word.is_empty() {
                    break;
                }
                path.push(word.clone());
                rest = &rest[word.len()..];
                match rest.strip_prefix("::") {
                    Some(r) => rest = r,
                    None => break,
                }
            }
            out.push(path);
        }
    }
    out
}

/// No two files import each other, however long the way round: each file's imports (the longest
/// module path of each name that is a file) make a graph with no circle.
#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: Vec<Vec<String>> = files
        .iter()
        .map(|f| module_of(f.strip_prefix(&src).unwrap()))
        .collect();
    let file_of = |path: &[String]| -> Option<usize> {
        (1..=path.len())
            .rev()
            .find_map(|n| modules.iter().position(|m| m.as_slice() == &path[..n]))
    };
    let edges: Vec<BTreeSet<usize>> = files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let text = std::fs::read_to_string(f).unwrap();
            paths_named(&text, &modules[i])
                .iter()
                .filter_map(|p| file_of(p))
                .filter(|&j| j != i)
                .collect()
        })
        .collect();
    // Each file from which a walk along the imports comes back to it lies on a circle.
    let mut circles = Vec::new();
    for start in 0..files.len() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<(usize, Vec<usize>)> =
            edges[start].iter().map(|&j| (j, vec![start, j])).collect();
        while let Some((at, way)) = todo.pop() {
            if at == start {
                let names: Vec<String> = way
                    .iter()
                    .map(|&k| files[k].strip_prefix(&src).unwrap().display().to_string())
                    .collect();
                circles.push(names.join(" -> "));
                break;
            }
            if !seen.insert(at) {
                continue;
            }
            for &next in &edges[at] {
                let mut w = way.clone();
                w.push(next);
                todo.push((next, w));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that import each other, the way round:\n{}",
        circles.join("\n")
    );
}
