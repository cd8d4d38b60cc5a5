//! The documents a run reads: inventory, restore spec, answers, playbooks. Each keeps its spans.

pub mod actions;
pub mod backup;
pub mod drill;
pub mod inventory;
pub mod playbook;
pub mod restore;
pub mod schema;
pub mod targets;

use std::path::Path;

use crate::diag::{Diag, Diagnostics, Source};
use crate::yaml::{self, Node, Span};

/// Reads a file as a source; a missing file is a diagnostic.
pub fn read_source(path: &Path, display: &str, diags: &mut Diagnostics) -> Option<Source> {
    match std::fs::read_to_string(path) {
        Ok(text) => Some(Source::new(display, text)),
        Err(e) => {
            diags.push(
                Diag::plain("missing_file", format!("cannot read {display}: {e}")).help(format!(
                    "check the path `{}`, or pass another with -C or the matching option",
                    path.display()
                )),
            );
            None
        }
    }
}

/// Parses a source as YAML, turning syntax errors and tab indentation into diagnostics.
pub fn parse_source(src: &Source, diags: &mut Diagnostics) -> Option<Node> {
    if let Some(offset) = yaml::find_tab_indent(&src.text) {
        diags.push(
            Diag::at(
                "tab_indent",
                src,
                Span {
                    start: offset,
                    len: 1,
                },
                "tab used for indentation",
            )
            .label("a tab")
            .help("YAML indents with spaces only: replace the tab with spaces"),
        );
        return None;
    }
    match yaml::parse(&src.text) {
        Ok(node) => Some(node),
        Err(e) => {
            let len = src.text[e.offset.min(src.text.len())..]
                .chars()
                .next()
                .map_or(0, char::len_utf8);
            diags.push(
                Diag::at(
                    e.code,
                    src,
                    Span {
                        start: e.offset,
                        len,
                    },
                    e.message,
                )
                .label(e.label)
                .help(e.help),
            );
            None
        }
    }
}

/// Reads and parses in one go.
pub fn load(path: &Path, display: &str, diags: &mut Diagnostics) -> Option<(Source, Node)> {
    let src = read_source(path, display, diags)?;
    let node = parse_source(&src, diags)?;
    Some((src, node))
}
