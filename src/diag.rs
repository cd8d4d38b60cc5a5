//! Diagnostics: user-caused errors that point into a document, rendered by miette.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use crate::yaml::Span;

/// A loaded text: a document file, or a command-line argument shown as one.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: Arc<String>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: Arc::new(text.into()),
        }
    }

    /// The 1-based line and column of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// One precise complaint about one place in one document.
#[derive(Debug, Clone)]
pub struct Diag {
    pub code: &'static str,
    pub message: String,
    pub source: Option<Source>,
    pub span: Span,
    pub label: String,
    pub help: Option<String>,
    named: Option<NamedSource<Arc<String>>>,
}

/// Whether a key's name says its value is a secret, however it is spelt around that word, and
/// misspelt too (`db_pasword`, `secert_key`): a typo in a key must not show the value under it.
pub fn looks_secret(key: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "credential",
        "credentials",
        "private",
    ];
    let k = key.to_ascii_lowercase();
    if k.ends_with("key_file") {
        return false;
    }
    ["key", "sas", "connection_string", "pwd", "pass"]
        .iter()
        .chain(WORDS)
        .any(|w| k.contains(w))
        || k.split(['.', '_', '-', ' ']).any(|part| {
            WORDS
                .iter()
                .any(|w| strsim::damerau_levenshtein(part, w) <= 2)
                || strsim::damerau_levenshtein(part, "key") <= 1
        })
}

/// The text a diagnostic shows, with the value of every key that looks secret replaced by `*` (same
/// byte length, so spans still point where they did), whatever the YAML style: `key: value` lines,
/// flow mappings (`{ password: x, … }`), quoted values, values on the lines below (block scalars,
/// nested mappings, continued plain scalars), and `KEY=VALUE` (`--set`).
pub fn redact_secrets(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = b.to_vec();
    let mask = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            // Continuation bytes of a UTF-8 character become `*` too: same length, still valid.
            if *c != b'\n' && *c != b'\r' {
                *c = b'*';
            }
        }
    };
    let line_start = |i: usize| {
        b[..i]
            .iter()
            .rposition(|&c| c == b'\n')
            .map_or(0, |p| p + 1)
    };
    let indent = |from: usize| {
        b[from..]
            .iter()
            .take_while(|&&c| c == b' ' || c == b'\t')
            .count()
    };
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if let Some(q) = quote {
            if c == q && !(q == b'"' && i > 0 && b[i - 1] == b'\\') {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            b'\'' | b'"' => quote = Some(c),
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'#' if i == 0 || matches!(b[i - 1], b' ' | b'\t' | b'\n') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => {}
        }
        let sep = c == b':'
            && b.get(i + 1)
                .is_none_or(|n| matches!(n, b' ' | b'\t' | b'\n' | b'\r'))
            || c == b'=' && depth == 0 && !b[line_start(i)..i].contains(&b' ');
        if !sep {
            i += 1;
            continue;
        }
        let from = b[..i]
            .iter()
            .rposition(|&c| matches!(c, b' ' | b'\t' | b'\n' | b',' | b'{' | b'['))
            .map_or(0, |p| p + 1);
        let key = String::from_utf8_lossy(&b[from..i]);
        if !looks_secret(key.trim_matches(['"', '\''])) {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < b.len() && matches!(b[j], b' ' | b'\t') {
            j += 1;
        }
        // The value on this line: quoted, or plain up to the end of its flow item or line.
        let mut k = j;
        match b.get(j) {
            Some(&q @ (b'\'' | b'"')) => {
                k += 1;
                while k < b.len() {
                    if q == b'\'' && b[k] == q && b.get(k + 1) == Some(&q) {
                        k += 2;
                        continue;
                    }
                    if b[k] == q && !(q == b'"' && b[k - 1] == b'\\') {
                        break;
                    }
                    k += 1;
                }
                k = (k + 1).min(b.len());
            }
            _ if depth > 0 => {
                while k < b.len() && !matches!(b[k], b',' | b'}' | b']' | b'\n') {
                    k += 1;
                }
            }
            _ => {
                while k < b.len() && b[k] != b'\n' {
                    k += 1;
                }
            }
        }
        mask(&mut out, j, k);
        // In block style, the lines below indented deeper than the key belong to its value.
        if depth == 0 {
            let own = from - line_start(i);
            let mut next = b[k..]
                .iter()
                .position(|&c| c == b'\n')
                .map_or(b.len(), |p| k + p);
            while next < b.len() {
                let start = next + 1;
                if start >= b.len() {
                    break;
                }
                let end = b[start..]
                    .iter()
                    .position(|&c| c == b'\n')
                    .map_or(b.len(), |p| start + p);
                let ind = indent(start);
                let blank = start + ind == end;
                if !blank && ind <= own {
                    break;
                }
                mask(&mut out, start + ind, end);
                next = end;
            }
            k = next;
        }
        i = k.max(i + 1);
    }
    String::from_utf8(out).unwrap_or_else(|_| "*".repeat(text.len()))
}

impl Diag {
    pub fn at(code: &'static str, source: &Source, span: Span, message: impl Into<String>) -> Self {
        Diag {
            code,
            message: message.into(),
            source: Some(source.clone()),
            span,
            label: "here".into(),
            help: None,
            named: Some(NamedSource::new(
                source.name.clone(),
                Arc::new(redact_secrets(&source.text)),
            )),
        }
    }

    /// A diagnostic with no place in a document (a missing file, say).
    pub fn plain(code: &'static str, message: impl Into<String>) -> Self {
        Diag {
            code,
            message: message.into(),
            source: None,
            span: Span::default(),
            label: String::new(),
            help: None,
            named: None,
        }
    }

    pub fn label(mut self, label: impl Into<String>) -> Self {
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Diag {}

impl Diagnostic for Diag {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(format!("setup::{}", self.code)))
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.named.as_ref().map(|n| n as &dyn SourceCode)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.named.as_ref()?;
        Some(Box::new(std::iter::once(
            LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span),
        )))
    }
}

/// Every diagnostic of one run, reported together.
#[derive(Debug, Default)]
pub struct Diagnostics {
    pub list: Vec<Diag>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diag) {
        self.list.push(d);
    }
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Sorted by document and position, so output is stable.
    pub fn sorted(mut self) -> Self {
        self.list.sort_by(|a, b| {
            let ka = (a.source.as_ref().map(|s| s.name.clone()), a.span.start);
            let kb = (b.source.as_ref().map(|s| s.name.clone()), b.span.start);
            ka.cmp(&kb)
        });
        self.list
            .dedup_by(|a, b| a.message == b.message && a.span == b.span);
        self
    }
    pub fn into_result(self) -> Result<(), Invalid> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.sorted().list))
        }
    }
}

/// Invalid input: one or more diagnostics. Exit code 2; nothing was touched.
#[derive(Debug)]
pub struct Invalid(pub Vec<Diag>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => write!(f, "invalid input: {}", self.0[0].message),
            n => write!(f, "invalid input: {n} problems found"),
        }
    }
}

impl std::error::Error for Invalid {}

impl Diagnostic for Invalid {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.0.len() == 1 {
            Diagnostic::code(&self.0[0])
        } else {
            None
        }
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        if self.0.len() == 1 {
            Diagnostic::help(&self.0[0])
        } else {
            None
        }
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        if self.0.len() == 1 {
            Diagnostic::source_code(&self.0[0])
        } else {
            None
        }
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.0.len() == 1 {
            Diagnostic::labels(&self.0[0])
        } else {
            None
        }
    }
    fn related<'a>(&'a self) -> Option<Box<dyn Iterator<Item = &'a dyn Diagnostic> + 'a>> {
        (self.0.len() > 1).then(|| Box::new(self.0.iter().map(|d| d as &dyn Diagnostic)) as Box<_>)
    }
}

/// The closest candidate to a misspelt name, if one is close enough.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, c)| {
            *d <= (c.len().max(word.len()) / 3).max(1) || c.starts_with(word) && !word.is_empty()
        })
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod redact_tests {
    use super::redact_secrets;

    #[test]
    fn secret_looking_values_are_starred_at_the_same_offsets() {
        let text = "storage.s3.secret_kye: hunter2\nstorage.s3.bucket: b\n  password: 'p w'\nkey_file: /k\n";
        let out = redact_secrets(text);
        assert_eq!(
            out,
            "storage.s3.secret_kye: *******\nstorage.s3.bucket: b\n  password: *****\nkey_file: /k\n"
        );
        assert_eq!(out.len(), text.len());
    }

    #[test]
    fn every_yaml_style_and_set_is_starred() {
        let cases = [
            (
                "{ a: 1, db_pasword: hunter2, b: 'x' }\n",
                "{ a: 1, db_pasword: *******, b: 'x' }\n",
            ),
            (
                "{ secret_key: \"p, w\" , b: 2 }",
                "{ secret_key: ****** , b: 2 }",
            ),
            (
                "password: |\n  hunter2\n  more\nnext: 1\n",
                "password: *\n  *******\n  ****\nnext: 1\n",
            ),
            (
                "- password:\n    hunter2\n  user: me\n",
                "- password:\n    *******\n  user: me\n",
            ),
            (
                "token: { value: abc }\nx: 1\n",
                "token: **************\nx: 1\n",
            ),
            (
                "storage.s3.secret_kee=hunter2",
                "storage.s3.secret_kee=*******",
            ),
            ("secret: 'it''s'  # c\n", "secret: *******  # c\n"),
            (
                "url: http://a:b@c, key_file: /k\n",
                "url: http://a:b@c, key_file: /k\n",
            ),
            (
                "name: s\u{e9}cr\u{e9}t\npassword: \u{e9}\u{e9}\n",
                "name: s\u{e9}cr\u{e9}t\npassword: ****\n",
            ),
        ];
        for (text, want) in cases {
            let out = redact_secrets(text);
            assert_eq!(out, want, "{text:?}");
            assert_eq!(out.len(), text.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_need_to_be_close() {
        assert_eq!(did_you_mean("adress", ["address", "port"]), Some("address"));
        assert_eq!(did_you_mean("zzz", ["address", "port"]), None);
    }

    #[test]
    fn line_col_is_one_based() {
        let s = Source::new("f", "ab\ncd");
        assert_eq!(s.line_col(4), (2, 2));
    }
}
