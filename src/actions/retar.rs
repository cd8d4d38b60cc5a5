//! The one reader of a backup's archive. The archive is read by the tar crate (every pax and GNU
//! extension honoured as GNU tar honours it: pax `size`, `path`, `linkpath`, long names), each entry
//! is checked by the rules of `tarcheck`, and what was read is written anew as a plain archive of
//! files, folders and links, with no owners and no mode bits above 0777. The host's `tar` only ever
//! reads that new archive: bytes that one parser might read differently from another (a pax `size`
//! that hides headers in a file's data, say) never reach it.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use tokio_util::io::SyncIoBridge;

use super::tarcheck::Rules;
use crate::transport::Reader;

/// What reading the archive found: entries checked so far, and why it was refused, if it was.
#[derive(Default, Debug)]
pub struct Verdict {
    pub entries: u64,
    pub refused: Option<String>,
    /// When asked for (`Some`), the path of each entry written, as written.
    pub seen: Option<Vec<String>>,
}

/// Remembers whether the source ran dry: an archive that ends before its end marker is truncated.
struct Source<R> {
    inner: R,
    ended: bool,
}

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended = true;
        }
        Ok(n)
    }
}

/// The archive `plain` as the host should receive it, read and checked on a blocking thread as it
/// streams; the verdict is final once the returned reader has ended. A refusal ends the stream
/// early, so the host's `tar` fails too; with `drain`, the rest of `plain` is still read (so that
/// a checksum over it is whole), without passing it on.
pub fn canonical(plain: Reader, drain: bool) -> (Reader, Arc<Mutex<Verdict>>) {
    let verdict = Arc::new(Mutex::new(Verdict::default()));
    let (tx, rx) = tokio::io::duplex(1 << 20);
    let mut input = SyncIoBridge::new(plain);
    let mut output = SyncIoBridge::new(tx);
    let v = verdict.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(why) = rewrite(&mut input, &mut output, &v) {
            v.lock().expect("verdict").refused = Some(why);
            if drain {
                let _ = std::io::copy(&mut input, &mut std::io::sink());
            }
        }
        // The host sees the end of the stream only once the verdict is there to read.
        drop(output);
    });
    (Box::new(rx), verdict)
}

fn text(bytes: &[u8], what: &str) -> Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} is not UTF-8"))
}

/// Reads `input` as a tar archive and writes what it holds to `output` anew, entry by entry.
pub fn rewrite(
    input: impl Read,
    output: impl Write,
    verdict: &Mutex<Verdict>,
) -> Result<(), String> {
    let mut source = Source {
        inner: input,
        ended: false,
    };
    let mut rules = Rules::default();
    let mut out = tar::Builder::new(output);
    {
        let mut archive = tar::Archive::new(&mut source);
        let entries = archive
            .entries()
            .map_err(|e| format!("not a tar archive: {e}"))?;
        for entry in entries {
            let mut e = entry.map_err(|e| format!("the archive cannot be read: {e}"))?;
            let kind = e.header().entry_type().as_byte();
            let path = text(&e.path_bytes(), "a file name")?;
            let link = match e.link_name_bytes() {
                Some(l) => text(&l, "a link target")?,
                None => String::new(),
            };
            let mode = e
                .header()
                .mode()
                .map_err(|e| format!("`{path}`: its mode cannot be read: {e}"))?
                as u64;
            if let Some(exts) = e
                .pax_extensions()
                .map_err(|err| format!("`{path}`: its pax header cannot be read: {err}"))?
            {
                for ext in exts {
                    let ext = ext.map_err(|err| format!("`{path}`: a pax record: {err}"))?;
                    if ext.key_bytes().starts_with(b"GNU.sparse") {
                        return Err(format!("`{path}` is a sparse file, which is not restored"));
                    }
                }
            }
            if kind == b'g' {
                return Err(
                    "the archive has a global pax header, which setup's backups never have".into(),
                );
            }
            rules.entry(kind, &path, &link, mode)?;
            let mut h = tar::Header::new_gnu();
            h.set_mode((mode & 0o777) as u32);
            h.set_mtime(e.header().mtime().unwrap_or(0));
            h.set_uid(0);
            h.set_gid(0);
            let written = match kind {
                b'0' | 0 | b'7' => {
                    let size = e.size();
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(size);
                    let mut counted = Counted {
                        inner: &mut e,
                        n: 0,
                    };
                    let r = out.append_data(&mut h, &path, &mut counted);
                    if counted.n != size {
                        return Err(format!(
                            "the archive is truncated: `{path}` stops after {} of its {size} bytes",
                            counted.n
                        ));
                    }
                    r
                }
                b'5' => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    out.append_data(&mut h, &path, std::io::empty())
                }
                b'1' | b'2' => {
                    h.set_entry_type(if kind == b'1' {
                        tar::EntryType::Link
                    } else {
                        tar::EntryType::Symlink
                    });
                    h.set_size(0);
                    out.append_link(&mut h, &path, &link)
                }
                // The rules refuse every other type; nothing else is written.
                _ => return Err(format!("`{path}`: an entry type that is not restored")),
            };
            written.map_err(|e| format!("writing the checked archive: {e}"))?;
            let mut v = verdict.lock().expect("verdict");
            v.entries += 1;
            if let Some(seen) = &mut v.seen {
                seen.push(path.clone());
            }
        }
    }
    if source.ended {
        return Err("the archive is truncated: it has no end-of-archive marker".into());
    }
    out.finish()
        .map_err(|e| format!("writing the checked archive: {e}"))?;
    // Read to the end, so that every stored byte is hashed.
    std::io::copy(&mut source, &mut std::io::sink())
        .map_err(|e| format!("the archive cannot be read to its end: {e}"))?;
    let mut output = out
        .into_inner()
        .map_err(|e| format!("writing the checked archive: {e}"))?;
    output
        .flush()
        .map_err(|e| format!("writing the checked archive: {e}"))?;
    Ok(())
}

/// Counts what a file's data gives, to tell a whole file from a truncated one.
struct Counted<'a, R> {
    inner: &'a mut R,
    n: u64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}
