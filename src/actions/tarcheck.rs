//! Checks a tar archive as its bytes stream past, before the host writes them anywhere that matters.
//!
//! Refused: absolute paths, `..`, a path through a link of the same archive, device nodes and
//! FIFOs, setuid and setgid bits, links whose target is absolute or climbs with `..`, entry types
//! the check does not know, a bad header checksum, and an archive that stops before its end marker
//! (a truncated file). Links may only point down into the tree, so no set of archives unpacked into
//! one folder, in any order, can reach outside it.

use std::collections::HashSet;

const BLOCK: usize = 512;

#[derive(Default)]
pub struct Checker {
    /// Bytes of the current header, until a whole block is there.
    header: Vec<u8>,
    /// Data bytes (padding included) still to skip or collect for the current entry.
    remaining: u64,
    /// Data of a long-name or pax entry, collected.
    meta: Option<(u8, Vec<u8>)>,
    long_name: Option<String>,
    long_link: Option<String>,
    /// The size of the entry's data without padding, for long-name and pax data.
    meta_size: u64,
    links: HashSet<String>,
    ended: bool,
    pub entries: u64,
}

fn octal(field: &[u8]) -> Result<u64, String> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // base-256, for sizes of 8 GiB and more
        let mut v: u64 = 0;
        for &b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(b as u64))
                .ok_or("a size field overflows")?;
        }
        return Ok(v);
    }
    let text: String = field
        .iter()
        .take_while(|b| **b != 0)
        .map(|b| *b as char)
        .collect();
    let text = text.trim();
    if text.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(text, 8).map_err(|_| format!("a header field is not octal: {text:?}"))
}

fn text(field: &[u8]) -> String {
    let end = field.iter().position(|b| *b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// A relative path with no `..`, and `./` prefixes removed; None for the archive's root itself.
fn clean(path: &str) -> Result<Option<String>, String> {
    if path.starts_with('/') {
        return Err(format!("`{path}` is an absolute path"));
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return Err(format!("`{path}` climbs out with `..`"));
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

impl Checker {
    /// Takes the next bytes of the archive.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        while !bytes.is_empty() {
            if self.remaining > 0 {
                let n = (self.remaining.min(bytes.len() as u64)) as usize;
                if let Some((_, data)) = &mut self.meta {
                    let keep = (self.meta_size as usize).saturating_sub(data.len()).min(n);
                    if data.len() + keep > 1 << 20 {
                        return Err("a long name or pax header is over 1 MiB".into());
                    }
                    data.extend_from_slice(&bytes[..keep]);
                }
                self.remaining -= n as u64;
                bytes = &bytes[n..];
                if self.remaining == 0 {
                    self.end_meta()?;
                }
                continue;
            }
            let n = (BLOCK - self.header.len()).min(bytes.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == BLOCK {
                let block = std::mem::take(&mut self.header);
                self.header_block(&block)?;
            }
        }
        Ok(())
    }

    /// The stream ended: was the archive whole?
    pub fn finish(&self) -> Result<(), String> {
        if self.ended {
            return Ok(());
        }
        if self.remaining > 0 || !self.header.is_empty() {
            return Err("the archive is truncated: it stops in the middle of an entry".into());
        }
        Err("the archive is truncated: it has no end-of-archive marker".into())
    }

    fn header_block(&mut self, h: &[u8]) -> Result<(), String> {
        if self.ended {
            return Ok(());
        }
        if h.iter().all(|b| *b == 0) {
            self.ended = true;
            return Ok(());
        }
        let stored = octal(&h[148..156])?;
        let sum: u64 = h
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    *b as u64
                }
            })
            .sum();
        if stored != sum {
            return Err(
                "a header's checksum does not match: not a tar archive, or a damaged one".into(),
            );
        }
        let size = octal(&h[124..136])?;
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let kind = h[156];
        match kind {
            b'L' | b'K' | b'x' => {
                self.meta = Some((kind, Vec::new()));
                self.meta_size = size;
                self.remaining = padded;
                if padded == 0 {
                    self.end_meta()?;
                }
                return Ok(());
            }
            b'g' => {
                self.remaining = padded;
                return Ok(());
            }
            _ => {}
        }
        let mut name = text(&h[0..100]);
        if &h[257..262] == b"ustar" {
            let prefix = text(&h[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        let name = self.long_name.take().unwrap_or(name);
        let link = self.long_link.take().unwrap_or_else(|| text(&h[157..257]));
        self.entry(kind, &name, &link, octal(&h[100..108])?)?;
        self.entries += 1;
        // Only regular files carry data that is extracted; links and folders have none.
        self.remaining = if matches!(kind, b'0' | 0 | b'7') {
            padded
        } else {
            0
        };
        Ok(())
    }

    fn end_meta(&mut self) -> Result<(), String> {
        let Some((kind, data)) = self.meta.take() else {
            return Ok(());
        };
        match kind {
            b'L' => self.long_name = Some(text(&data)),
            b'K' => self.long_link = Some(text(&data)),
            _ => {
                // pax records: "LEN key=value\n"
                let mut rest = &data[..];
                while !rest.is_empty() {
                    let space = rest
                        .iter()
                        .position(|b| *b == b' ')
                        .ok_or("a pax record is malformed")?;
                    let len: usize = std::str::from_utf8(&rest[..space])
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .filter(|l| *l > space + 1 && *l <= rest.len())
                        .ok_or("a pax record is malformed")?;
                    let record = String::from_utf8_lossy(&rest[space + 1..len - 1]).into_owned();
                    if let Some((k, v)) = record.split_once('=') {
                        match k {
                            "path" => self.long_name = Some(v.to_string()),
                            "linkpath" => self.long_link = Some(v.to_string()),
                            _ => {}
                        }
                    }
                    rest = &rest[len..];
                }
            }
        }
        Ok(())
    }

    fn entry(&mut self, kind: u8, name: &str, link: &str, mode: u64) -> Result<(), String> {
        let Some(path) = clean(name)? else {
            return if kind == b'5' {
                Ok(())
            } else {
                Err(format!("`{name}` is not a file name"))
            };
        };
        let mut prefix = String::new();
        for part in path.split('/') {
            if !prefix.is_empty() && self.links.contains(&prefix) {
                return Err(format!("`{path}` goes through the link `{prefix}`"));
            }
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
        }
        if mode & 0o6000 != 0 {
            return Err(format!("`{path}` has the setuid or setgid bit"));
        }
        match kind {
            b'0' | 0 | b'7' | b'5' => Ok(()),
            b'1' | b'2' => {
                let what = if kind == b'2' { "symbolic" } else { "hard" };
                if link.starts_with('/') {
                    return Err(format!(
                        "{what} link `{path}` points to the absolute path `{link}`"
                    ));
                }
                if link.split('/').any(|p| p == "..") {
                    return Err(format!(
                        "{what} link `{path}` points to `{link}`: links may only point down into the archive"
                    ));
                }
                self.links.insert(path);
                Ok(())
            }
            b'3' | b'4' => Err(format!("`{path}` is a device node")),
            b'6' => Err(format!("`{path}` is a FIFO")),
            other => Err(format!(
                "`{path}` has an entry type this check does not know ({:?})",
                other as char
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, kind: u8, size: u64, link: &str, mode: u64) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|b| *b as u64).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn file(name: &str, body: &[u8]) -> Vec<u8> {
        let mut v = header(name, b'0', body.len() as u64, "", 0o644);
        v.extend_from_slice(body);
        v.resize(v.len().div_ceil(BLOCK) * BLOCK, 0);
        v
    }

    fn archive(parts: &[Vec<u8>]) -> Vec<u8> {
        let mut v: Vec<u8> = parts.concat();
        v.extend(vec![0u8; 2 * BLOCK]);
        v
    }

    fn check(bytes: &[u8]) -> Result<u64, String> {
        let mut c = Checker::default();
        // Feed in uneven pieces, as a network would.
        for piece in bytes.chunks(313) {
            c.feed(piece)?;
        }
        c.finish()?;
        Ok(c.entries)
    }

    #[test]
    fn a_plain_archive_passes() {
        let a = archive(&[
            header("./", b'5', 0, "", 0o755),
            header("etc/", b'5', 0, "", 0o755),
            file("etc/director.conf", b"site = dc-main\n"),
            header("etc/current", b'2', 0, "director.conf", 0o777),
            header("etc/again", b'1', 0, "etc/director.conf", 0o644),
        ]);
        assert_eq!(check(&a), Ok(5));
    }

    #[test]
    fn every_escape_is_refused() {
        let cases = [
            (archive(&[file("/etc/passwd", b"x")]), "absolute"),
            (archive(&[file("a/../../x", b"x")]), "climbs"),
            (
                archive(&[header("hook", b'2', 0, "/somewhere", 0o777)]),
                "absolute path",
            ),
            (
                archive(&[header("hook", b'2', 0, "../..", 0o777)]),
                "point down",
            ),
            (
                archive(&[header("h", b'1', 0, "../x", 0o644)]),
                "point down",
            ),
            (
                archive(&[
                    header("hook", b'2', 0, "sub", 0o777),
                    file("hook/file", b"x"),
                ]),
                "goes through the link",
            ),
            (archive(&[header("null", b'3', 0, "", 0o644)]), "device"),
            (archive(&[header("pipe", b'6', 0, "", 0o644)]), "FIFO"),
            (
                archive(&[file("x", b"x"), header("suid", b'0', 0, "", 0o4755)]),
                "setuid",
            ),
        ];
        for (bytes, want) in cases {
            let err = check(&bytes).unwrap_err();
            assert!(err.contains(want), "{err} (want {want})");
        }
    }

    #[test]
    fn long_names_are_checked_too() {
        let long = format!("{}/../../x", "d".repeat(120));
        let mut l = header("././@LongLink", b'L', long.len() as u64 + 1, "", 0);
        l.extend_from_slice(long.as_bytes());
        l.resize(l.len().div_ceil(BLOCK) * BLOCK, 0);
        let a = archive(&[l, file("short", b"x")]);
        assert!(check(&a).unwrap_err().contains("climbs"));
        let record = "path=/etc/shadow\n";
        let record = format!("{} {record}", record.len() + 3);
        let mut x = header("pax", b'x', record.len() as u64, "", 0);
        x.extend_from_slice(record.as_bytes());
        x.resize(x.len().div_ceil(BLOCK) * BLOCK, 0);
        let a = archive(&[x, file("short", b"x")]);
        assert!(check(&a).unwrap_err().contains("absolute"));
    }

    #[test]
    fn a_truncated_archive_is_refused() {
        let whole = archive(&[file("a", &[7u8; 3000]), file("b", b"x")]);
        assert!(check(&whole).is_ok());
        for cut in [whole.len() / 3, 2 * BLOCK + 10, whole.len() - 2 * BLOCK] {
            let err = check(&whole[..cut]).unwrap_err();
            assert!(err.contains("truncated"), "cut at {cut}: {err}");
        }
        let mut garbage = whole.clone();
        garbage[0] ^= 1;
        assert!(check(&garbage).unwrap_err().contains("checksum"));
    }
}
