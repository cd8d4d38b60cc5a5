//! How a failure is said over HTTP. A response names each problem by its file, line and message
//! (and the help, if any), masked with every secret the folder holds; it never carries a
//! document's text, a Debug dump or a value. The whole report, masked too, goes to the server's
//! log (its standard error).

use crate::failure::Failure;
use crate::options::Options;
use crate::secret::{Masker, Secret};

/// Every secret the server's folder may hold: the values under secret-looking keys of the answers
/// file (read as text, so that a file that is not valid YAML is masked too), and the `SETUP_*`
/// variables of the server's environment whose names look secret.
pub fn secrets(o: &Options) -> Masker {
    let masker = Masker::default();
    if let Ok(text) = std::fs::read_to_string(&o.answers.path) {
        for value in masked_values(&text) {
            masker.add(&Secret::new(value));
        }
    }
    for (name, value) in std::env::vars() {
        if let Some(key) = name.strip_prefix("SETUP_")
            && crate::diag::looks_secret(key)
        {
            masker.add(&Secret::new(value));
        }
    }
    masker
}

/// The values `redact_secrets` hides in `text`, each as it is written and without its quotes.
fn masked_values(text: &str) -> Vec<String> {
    let shown = crate::diag::redact_secrets(text);
    let (a, b) = (text.as_bytes(), shown.as_bytes());
    let mut out = Vec::new();
    let mut i = 0;
    while i < a.len() {
        if b[i] == b'*' && a[i] != b'*' {
            let start = i;
            while i < a.len() && b[i] == b'*' {
                i += 1;
            }
            for piece in text[start..i].lines() {
                let v = piece.trim().trim_matches(['"', '\'']).trim();
                if !v.is_empty() {
                    out.push(v.to_string());
                }
            }
        } else {
            i += 1;
        }
    }
    out
}

/// Each problem of a failure as one line: `FILE line N: MESSAGE (LABEL); HELP`, masked.
pub fn problems(f: &Failure, masker: &Masker) -> Vec<String> {
    let lines = match f {
        Failure::Invalid(invalid) => invalid
            .0
            .iter()
            .map(|d| {
                let place = match &d.source {
                    Some(src) => format!("{} line {}: ", src.name, src.line_col(d.span.start).0),
                    None => String::new(),
                };
                let label = if d.source.is_some() && !d.label.is_empty() {
                    format!(" ({})", d.label)
                } else {
                    String::new()
                };
                let help = d.help.as_ref().map_or(String::new(), |h| format!("; {h}"));
                format!("{place}{}{label}{help}", d.message)
            })
            .collect(),
        Failure::Failed(m) | Failure::Refused(m) | Failure::Other(m) => vec![m.clone()],
    };
    lines.iter().map(|l| masker.mask(l)).collect()
}

/// A failure said as lines (see [`problems`]), its whole report written to the server's log.
pub fn said(o: &Options, what: &str, f: Failure) -> Vec<String> {
    let masker = secrets(o);
    let lines = problems(&f, &masker);
    let report = format!("{:?}", f.into_report());
    eprintln!("setup serve: {what}:\n{}", masker.mask(&report));
    lines
}

/// What one of the binary's own commands said on its standard error, for a response: the lines
/// of its messages and help, without the excerpts of documents its report shows (each
/// `N | text` line and the marks under it), masked.
pub fn child_said(text: &str, masker: &Masker) -> String {
    let kept: Vec<String> = text
        .lines()
        .filter_map(|l| match place(l) {
            Some(at) => Some(at),
            None => (!excerpt(l)).then(|| l.to_string()),
        })
        .collect();
    masker.mask(kept.join("\n").trim())
}

/// The frame of an excerpt (`,-[answers.yml:14:29]`) as the place it names: `at answers.yml
/// line 14`.
fn place(line: &str) -> Option<String> {
    let t = line.trim_start();
    let inner = t
        .strip_prefix(",-[")
        .or_else(|| t.strip_prefix("╭─["))?
        .strip_suffix(']')?;
    let mut parts = inner.rsplitn(3, ':');
    let (_col, row, file) = (parts.next()?, parts.next()?, parts.next()?);
    let indent = &line[..line.len() - t.len()];
    Some(format!("{indent}at {file} line {row}"))
}

/// Whether a line of a rendered report belongs to a document's excerpt: its frame
/// (`,-[answers.yml:3:1]`, `` `---- ``), a numbered line of the document, or the marks and labels
/// under one (`:` or `·` first). A message's own lines go on after `|` or `│`: they are kept.
fn excerpt(line: &str) -> bool {
    let t = line.trim_start();
    let numbered = {
        let digits = t.bytes().take_while(u8::is_ascii_digit).count();
        digits > 0 && {
            let rest = t[digits..].trim_start();
            rest.starts_with('|') || rest.starts_with('│')
        }
    };
    numbered
        || t.starts_with(",-[")
        || t.starts_with("╭─[")
        || t.starts_with("`----")
        || t.starts_with("╰───")
        || t.starts_with(':')
        || t.starts_with('·')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_values_under_secret_keys_are_found_even_in_a_broken_file() {
        let text = "storage.s3main.secret_key: \"S3-Canary-1\"\ndb_password: Db-Canary-2\nbroken: [\nnotify.webhook.secret: 'Hook-Canary-3'\nstorage.s3main.bucket: plain\n";
        let found = masked_values(text);
        for v in ["S3-Canary-1", "Db-Canary-2", "Hook-Canary-3"] {
            assert!(found.iter().any(|f| f == v), "{v}: {found:?}");
        }
        assert!(!found.iter().any(|f| f.contains("plain")), "{found:?}");
    }

    #[test]
    fn a_document_excerpt_is_left_out_of_what_a_command_said() {
        let said = "  x invalid input: unknown answer key `storage.x.y`\n  |   - held by run 20261207T182147Z-b4da, since\n  | 2026-12-07 18:21:48Z\n   ,-[answers.yml:2:1]\n 1 | db_password: ********\n 2 | storage.x.y: 1\n   : ^^^^^|^^^^^\n   :      `-- not a known answer\n   `----\n  help: did you mean `storage.s3.bucket`?\n";
        let masker = Masker::default();
        assert_eq!(
            child_said(said, &masker),
            "x invalid input: unknown answer key `storage.x.y`\n  |   - held by run 20261207T182147Z-b4da, since\n  | 2026-12-07 18:21:48Z\n   at answers.yml line 2\n  help: did you mean `storage.s3.bucket`?"
        );
    }
}
