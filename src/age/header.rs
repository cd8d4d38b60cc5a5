//! The header of an age file, read strictly as the specification writes it and written the same
//! way: the version line, one stanza per recipient, the MAC line.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;

use super::VERSION;

/// The longest line of a stanza's body, in base64 columns; a shorter line is its last.
const COLUMNS: usize = 64;

/// One stanza as the header writes it: `-> TYPE ARGS...`, then the body in base64 lines of 64
/// columns, the last one shorter (empty when the body is a multiple of 48 bytes).
pub(super) fn encode_stanza(args: &[&str], body: &[u8]) -> String {
    let mut s = format!("-> {}\n", args.join(" "));
    let b64 = B64.encode(body);
    let mut rest = b64.as_str();
    loop {
        let (line, more) = rest.split_at(rest.len().min(COLUMNS));
        s += line;
        s.push('\n');
        if line.len() < COLUMNS {
            return s;
        }
        rest = more;
    }
}

/// One recipient stanza of a header: its type first, then its arguments, and its body.
#[derive(Debug)]
pub struct Stanza {
    pub args: Vec<String>,
    pub body: Vec<u8>,
}

/// A header read as the age specification writes it, and nothing else.
#[derive(Debug)]
pub struct Header {
    pub stanzas: Vec<Stanza>,
    /// How many bytes the MAC covers: all of the header up to the `---` of its last line.
    pub covered: usize,
    pub mac: [u8; 32],
}

impl Header {
    /// The header as a writer writes it; a header read by [`parse_header`] encodes to the bytes it
    /// was read from.
    pub fn encode(&self) -> Vec<u8> {
        let mut h = format!("{VERSION}\n");
        for s in &self.stanzas {
            let args: Vec<&str> = s.args.iter().map(String::as_str).collect();
            h += &encode_stanza(&args, &s.body);
        }
        h += &format!("--- {}\n", B64.encode(self.mac));
        h.into_bytes()
    }
}

/// Whether `arg` may be a stanza's type or argument: one or more printable ASCII characters, no space.
fn valid_arg(arg: &[u8]) -> bool {
    !arg.is_empty() && arg.iter().all(|b| (33..=126).contains(b))
}

/// Reads a whole header, every line ending in `\n` and the MAC line last, strictly: the version line;
/// stanzas of `-> ` and one or more space-separated arguments of printable ASCII, each followed by a
/// body of canonical base64 in lines of 64 columns and a last, shorter line; `--- ` and the MAC.
/// Anything else (a carriage return, padding, an empty or non-ASCII argument, a longer line, a
/// missing last line, bytes after the MAC line) is an error.
pub fn parse_header(h: &[u8]) -> Result<Header, String> {
    let mut lines = Vec::new();
    let mut at = 0;
    while at < h.len() {
        let end = h[at..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| at + i)
            .ok_or("the header ends early (its last line has no end)")?;
        lines.push((at, &h[at..end]));
        at = end + 1;
    }
    let mut lines = lines.into_iter();
    if lines.next().map(|(_, l)| l) != Some(VERSION.as_bytes()) {
        return Err(format!("the first line is not `{VERSION}`"));
    }
    let mut stanzas = Vec::new();
    loop {
        let (start, line) = lines.next().ok_or("the header ends early (no MAC line)")?;
        if line.starts_with(b"---") {
            let mac = line
                .strip_prefix(b"--- ")
                .and_then(|m| B64.decode(m).ok())
                .and_then(|m| <[u8; 32]>::try_from(m).ok())
                .ok_or("the header's MAC line is malformed")?;
            if lines.next().is_some() {
                return Err("the header goes on after its MAC line".into());
            }
            return Ok(Header {
                stanzas,
                covered: start + 3,
                mac,
            });
        }
        let args = line
            .strip_prefix(b"-> ")
            .ok_or("a stanza does not start with `-> `")?
            .split(|b| *b == b' ')
            .map(|a| {
                valid_arg(a)
                    .then(|| String::from_utf8_lossy(a).into_owned())
                    .ok_or("a stanza has an empty argument or one that is not printable ASCII")
            })
            .collect::<Result<Vec<String>, _>>()?;
        let mut body = Vec::new();
        loop {
            let (_, l) = lines.next().ok_or(
                "a stanza's body ends early (its last line must be shorter than 64 columns)",
            )?;
            if l.len() > COLUMNS {
                return Err("a stanza's body has a line longer than 64 columns".into());
            }
            body.extend(B64.decode(l).map_err(
                |_| "a stanza's body is not canonical base64 (or its last line is missing)",
            )?);
            if l.len() < COLUMNS {
                break;
            }
        }
        stanzas.push(Stanza { args, body });
    }
}

/// Where the header of `file` ends: after its first line that starts with `---`, where
/// [`open_header`] stops reading; `None` when no such line ends in it.
pub fn header_end(file: &[u8]) -> Option<usize> {
    let mut at = 0;
    while at < file.len() {
        let end = at + file[at..].iter().position(|b| *b == b'\n')? + 1;
        if file[at..].starts_with(b"---") {
            return Some(end);
        }
        at = end;
    }
    None
}
