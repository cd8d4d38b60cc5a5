//! The rules every entry of a restored archive must keep, checked by the archive reader (`retar`)
//! before the host writes anything.
//!
//! Refused: absolute paths, `..`, a path through a link of the same archive, device nodes and
//! FIFOs, setuid and setgid bits, links whose target is absolute or climbs with `..`, entry types
//! the check does not know, a bad header checksum, and an archive that stops before its end marker
//! (a truncated file). Links may only point down into the tree, so no set of archives unpacked into
//! one folder, in any order, can reach outside it.

use std::collections::HashSet;

/// The rules every entry must keep, whoever read it: the links seen so far, for paths through them.
#[derive(Default)]
pub struct Rules {
    links: HashSet<String>,
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

impl Rules {
    /// One entry: its type byte, path, link target and mode; the first broken rule is the error.
    pub fn entry(&mut self, kind: u8, name: &str, link: &str, mode: u64) -> Result<(), String> {
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
    const BLOCK: usize = 512;

    fn header(name: &str, kind: u8, size: u64, link: &str, mode: u64) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(format!("{mode:07o}").as_bytes());
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = kind;
        h[157..157 + link.len()].copy_from_slice(link.as_bytes());
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
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

    /// The archive through the restore's reader: the entries it checked, or why it refused.
    fn check(bytes: &[u8]) -> Result<u64, String> {
        let verdict = std::sync::Mutex::new(crate::actions::retar::Verdict::default());
        crate::actions::retar::rewrite(bytes, std::io::sink(), &verdict)?;
        Ok(verdict.into_inner().unwrap().entries)
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
