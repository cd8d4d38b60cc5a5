//! The one place that knows the YAML parser: turns text into a tree of nodes that keep their byte spans.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// A byte range in a source text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub len: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start,
            len: end.saturating_sub(start),
        }
    }
    pub fn end(&self) -> usize {
        self.start + self.len
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len).into()
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// A YAML value with the span it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub kind: Kind,
    pub span: Span,
}

impl Node {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) => "an integer",
            Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&[(Node, Node)]> {
        match &self.kind {
            Kind::Map(m) => Some(m),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self.kind, Kind::Null)
    }

    /// Looks a key up in a mapping node.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?
            .iter()
            .find(|(k, _)| k.scalar_text().as_deref() == Some(key))
            .map(|(_, v)| v)
    }

    /// The text of a scalar, whatever its type, as a mapping key or a string would read.
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null => Some(String::new()),
            _ => None,
        }
    }

    /// Converts to JSON, the form templates and reports use.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.kind {
            Kind::Null => J::Null,
            Kind::Bool(b) => J::Bool(*b),
            Kind::Int(i) => J::from(*i),
            Kind::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or(J::Null),
            Kind::Str(s) => J::String(s.clone()),
            Kind::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.scalar_text().unwrap_or_default(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

/// A parse failure: where, what, and which rule it broke.
#[derive(Debug, Clone)]
pub struct ParseError {
    pub offset: usize,
    pub message: String,
    pub code: &'static str,
    pub label: &'static str,
    pub help: &'static str,
}

impl ParseError {
    fn syntax(offset: usize, message: impl Into<String>) -> Self {
        ParseError {
            offset,
            message: format!("YAML syntax error: {}", message.into()),
            code: "yaml_syntax",
            label: "the parser stopped here",
            help: "check the indentation, quotes and colons on this line and the one before",
        }
    }

    fn too_deep(offset: usize) -> Self {
        ParseError {
            offset,
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
            code: "yaml_too_deep",
            label: "this level is one too many",
            help: "a document of setup never needs this depth; flatten the structure",
        }
    }
}

/// The deepest nesting of lists and mappings a document may have.
pub const MAX_DEPTH: usize = 256;
/// How many nodes aliases may add to a document, all aliases together.
pub const ALIAS_BUDGET: usize = 100_000;
/// How many bytes of text aliases may add to a document, all aliases together: one large value
/// aliased many times costs its size each time.
pub const ALIAS_BYTES: usize = 16 << 20;

/// Parses the first YAML document of `text`. An empty text is a null node.
///
/// Bounded by construction: nesting deeper than [`MAX_DEPTH`], aliases that would add more than
/// [`ALIAS_BUDGET`] nodes and a key given twice in one mapping are errors, not memory or stack.
pub fn parse(text: &str) -> Result<Node, ParseError> {
    let offsets = CharOffsets::new(text);
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, (Node, usize, usize)> = HashMap::new();
    let mut root: Option<Node> = None;
    let mut aliased = 0usize;
    let mut aliased_bytes = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| {
            let offset = offsets.byte(e.marker().index());
            // The parser bounds its own recursion on flow collections ([[[...]]]): the same rule.
            if e.info().contains("recursion limit") {
                ParseError::too_deep(offset)
            } else {
                ParseError::syntax(offset, e.info())
            }
        })?;
        let start = offsets.byte(span.start.index());
        let end = offsets.byte(span.end.index());
        // Each finished node: itself, its size in nodes and in bytes of text, its anchor.
        let done: Option<(Node, usize, usize, usize)> = match event {
            Event::Scalar(value, style, anchor, tag) => {
                let bytes = value.len();
                let kind = scalar_kind(&value, style, tag.as_deref().map(|t| t.suffix.as_str()));
                Some((
                    Node {
                        kind,
                        span: Span::new(start, end),
                    },
                    1,
                    bytes,
                    anchor,
                ))
            }
            Event::Alias(id) => {
                let (size, bytes) = anchors
                    .get(&id)
                    .map(|a| (a.1, a.2))
                    .ok_or_else(|| ParseError::syntax(start, "unknown alias"))?;
                aliased += size;
                aliased_bytes += bytes;
                if aliased_bytes > ALIAS_BYTES {
                    return Err(ParseError {
                        offset: start,
                        message: format!(
                            "aliases expand to more than {} MiB of text in this document",
                            ALIAS_BYTES >> 20
                        ),
                        code: "yaml_alias_budget",
                        label: "this alias goes over the budget",
                        help: "a large value aliased many times is copied each time; write it once",
                    });
                }
                if aliased > ALIAS_BUDGET {
                    return Err(ParseError {
                        offset: start,
                        message: format!(
                            "aliases expand to more than {ALIAS_BUDGET} values in this document"
                        ),
                        code: "yaml_alias_budget",
                        label: "this alias goes over the budget",
                        help: "aliases that refer to aliases grow exponentially; write the values out or share less",
                    });
                }
                // Copied only once the budgets allow it.
                let mut node = anchors[&id].0.clone();
                node.span = Span::new(start, end);
                Some((node, size, bytes, 0))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(ParseError::too_deep(start));
                }
                stack.push(Frame {
                    start,
                    anchor,
                    items: Vec::new(),
                    size: 1,
                    bytes: 0,
                    is_map: matches!(event, Event::MappingStart(..)),
                });
                None
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = stack.pop().expect("balanced events");
                let span = Span::new(frame.start, end.max(frame.start));
                let kind = if frame.is_map {
                    Kind::Map(pairs(frame.items, text)?)
                } else {
                    Kind::Seq(frame.items)
                };
                Some((Node { kind, span }, frame.size, frame.bytes, frame.anchor))
            }
            Event::DocumentEnd if root.is_some() => break,
            _ => None,
        };
        if let Some((node, size, bytes, anchor)) = done {
            if anchor != 0 {
                anchors.insert(anchor, (node.clone(), size, bytes));
            }
            match stack.last_mut() {
                Some(frame) => {
                    frame.items.push(node);
                    frame.size += size;
                    frame.bytes += bytes;
                }
                None => root = Some(node),
            }
        }
    }
    Ok(root.unwrap_or(Node {
        kind: Kind::Null,
        span: Span::default(),
    }))
}

struct Frame {
    start: usize,
    anchor: usize,
    items: Vec<Node>,
    /// Nodes in this collection, itself and aliases included.
    size: usize,
    /// Bytes of scalar text in it, aliases included.
    bytes: usize,
    is_map: bool,
}

/// Pairs a mapping's items as keys and values; a key given twice is an error naming both lines.
fn pairs(items: Vec<Node>, text: &str) -> Result<Vec<(Node, Node)>, ParseError> {
    let mut entries: Vec<(Node, Node)> = Vec::with_capacity(items.len() / 2);
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        if let Some(key) = k.scalar_text()
            && let Some(first) = seen.insert(key.clone(), k.span.start)
        {
            let line = |at: usize| text[..at.min(text.len())].matches('\n').count() + 1;
            return Err(ParseError {
                offset: k.span.start,
                message: format!(
                    "duplicate key `{key}` on line {} (first given on line {})",
                    line(k.span.start),
                    line(first)
                ),
                code: "yaml_duplicate_key",
                label: "given again here",
                help: "a mapping holds each key once: keep one of the two",
            });
        }
        entries.push((k, v));
    }
    Ok(entries)
}

fn scalar_kind(value: &str, style: ScalarStyle, tag: Option<&str>) -> Kind {
    if let Some(tag) = tag
        && tag == "str"
    {
        return Kind::Str(value.to_string());
    }
    if style != ScalarStyle::Plain {
        return Kind::Str(value.to_string());
    }
    match value {
        "" | "~" | "null" | "Null" | "NULL" => return Kind::Null,
        "true" | "True" | "TRUE" => return Kind::Bool(true),
        "false" | "False" | "FALSE" => return Kind::Bool(false),
        _ => {}
    }
    if let Some(i) = parse_int(value) {
        return Kind::Int(i);
    }
    let looks_numeric = value
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_digit() || b"+-.".contains(&b))
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b));
    if looks_numeric && let Ok(f) = value.parse::<f64>() {
        return Kind::Float(f);
    }
    Kind::Str(value.to_string())
}

fn parse_int(value: &str) -> Option<i64> {
    if let Some(hex) = value.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok();
    }
    if let Some(oct) = value.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok();
    }
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok()
}

/// The parser counts characters; miette wants bytes.
struct CharOffsets {
    table: Option<Vec<usize>>,
    len: usize,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let table = (!text.is_ascii()).then(|| text.char_indices().map(|(b, _)| b).collect());
        CharOffsets {
            table,
            len: text.len(),
        }
    }
    fn byte(&self, index: usize) -> usize {
        match &self.table {
            None => index.min(self.len),
            Some(t) => t.get(index).copied().unwrap_or(self.len),
        }
    }
}

/// Finds the first tab used as indentation, as a byte offset.
pub fn find_tab_indent(text: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if let Some(pos) = line[..indent].find('\t') {
            let rest = line[indent..].trim();
            if !rest.is_empty() && !rest.starts_with('#') {
                return Some(offset + pos);
            }
        }
        offset += line.len();
    }
    None
}

#[cfg(test)]
mod tests;
