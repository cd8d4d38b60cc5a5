//! Diagnostics: user-caused errors that point into a document, rendered by miette.

use std::fmt;
use std::sync::Arc;

use miette::{Diagnostic, LabeledSpan, NamedSource, SourceCode};

use crate::yaml::Span;

mod redact;
pub use redact::{looks_secret, redact_secrets};

/// A loaded text: a document file, or a command-line argument shown as one.
#[derive(Clone, Debug)]
pub struct Source {
    pub name: String,
    pub text: Arc<String>,
    /// The text as diagnostics show it (secrets masked), made once for all of them: a document
    /// with thousands of mistakes is masked once, not once per mistake.
    shown: Arc<std::sync::OnceLock<Arc<String>>>,
}

impl Source {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Source {
            name: name.into(),
            text: Arc::new(text.into()),
            shown: Default::default(),
        }
    }

    /// The text with every secret-looking value masked (see [`redact_secrets`]).
    pub fn redacted(&self) -> Arc<String> {
        self.shown
            .get_or_init(|| Arc::new(redact_secrets(&self.text)))
            .clone()
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

impl Diag {
    pub fn at(code: &'static str, source: &Source, span: Span, message: impl Into<String>) -> Self {
        Diag {
            code,
            message: message.into(),
            source: Some(source.clone()),
            span,
            label: "here".into(),
            help: None,
            named: Some(NamedSource::new(source.name.clone(), source.redacted())),
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
            let mut list = self.sorted().list;
            // Thousands of the same mistake help nobody, and cost time to show: the first ones,
            // and how many more there are.
            let hidden = list.len().saturating_sub(SHOWN);
            list.truncate(SHOWN);
            if hidden > 0 {
                list.push(
                    Diag::plain(
                        "more_problems",
                        format!("and {hidden} more problem(s), not shown"),
                    )
                    .help(format!(
                        "the first {SHOWN} are above: fix them (often one mistake repeated) and run again"
                    )),
                );
            }
            Err(Invalid(list, hidden))
        }
    }
}

/// Invalid input: one or more diagnostics. Exit code 2; nothing was touched.
#[derive(Debug)]
pub struct Invalid(pub Vec<Diag>, pub usize);

/// How many diagnostics are shown at most; the rest are counted.
pub const SHOWN: usize = 50;

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.len(), self.1) {
            (1, _) => write!(f, "invalid input: {}", self.0[0].message),
            (n, 0) => write!(f, "invalid input: {n} problems found"),
            (n, hidden) => write!(f, "invalid input: {} problems found", n - 1 + hidden),
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
