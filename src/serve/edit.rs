//! How the server changes a document of its folder (answers.yml, backup.yml). The commands lock
//! hosts, not the folder's documents, so the server's edits take a lock of their own,
//! `.setup/serve/edit.lock` (flock, exclusive): one edit reads, changes and writes at a time. A
//! file is written whole into a temporary file beside it, synced, then renamed over it (and the
//! folder synced): a reader, a crash or a full disk finds the old file or the new one, never half
//! of one.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The edit lock, held until dropped (closing the file releases it).
pub struct Held {
    _file: std::fs::File,
}

/// Waits for the edit lock of the folder `dir` (without holding up the server's other requests).
pub async fn hold(dir: &Path) -> Result<Held, String> {
    let path = dir.join(".setup").join("serve").join("edit.lock");
    tokio::task::spawn_blocking(move || lock(&path))
        .await
        .map_err(|e| format!("the edit lock: {e}"))?
}

fn lock(path: &Path) -> Result<Held, String> {
    use std::os::fd::AsRawFd;
    let shown = |e: std::io::Error| format!("{}: {e}", path.display());
    std::fs::create_dir_all(path.parent().expect("a folder")).map_err(shown)?;
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(shown)?;
    loop {
        // SAFETY: flock(2) on a file this function opened and keeps open.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0 {
            return Ok(Held { _file: f });
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(shown(e));
        }
    }
}

/// Writes `text` as the whole of `path`: into a temporary file in the same folder, synced, then
/// renamed over `path`. `private` makes it owner-only (0600); otherwise it keeps the mode `path`
/// has (0644 for a new file). On any failure `path` is as it was and the temporary file is gone.
pub fn replace(path: &Path, text: &str, private: bool) -> std::io::Result<()> {
    replace_with(path, text, private, |f, bytes| f.write_all(bytes))
}

fn replace_with(
    path: &Path,
    text: &str,
    private: bool,
    write: impl FnOnce(&mut std::fs::File, &[u8]) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mode = if private {
        0o600
    } else {
        std::fs::metadata(path).map_or(0o644, |m| m.permissions().mode() & 0o7777)
    };
    let tmp = temporary(path);
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.set_permissions(std::fs::Permissions::from_mode(mode))?;
        write(&mut f, text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename itself is made durable by syncing the folder that holds both names.
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && let Ok(d) = std::fs::File::open(folder)
    {
        let _ = d.sync_all();
    }
    Ok(())
}

/// `.NAME.PID-N.tmp` beside `path`: its own for each write of this process.
fn temporary(path: &Path) -> PathBuf {
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = path
        .file_name()
        .map_or("document".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_that_fails_half_way_leaves_the_old_file_and_no_temporary_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("answers.yml");
        std::fs::write(&path, "storage.type: local\nstorage.local.path: store\n").unwrap();
        let failed = replace_with(&path, "storage.type: s3\n", true, |f, bytes| {
            f.write_all(&bytes[..4])?;
            Err(std::io::Error::other("the disk is full"))
        });
        assert!(failed.is_err());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "storage.type: local\nstorage.local.path: store\n"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "only answers.yml: {left:?}");
    }

    #[test]
    fn a_replaced_file_is_whole_and_keeps_its_mode_or_is_made_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("backup.yml");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        replace(&path, "new\n", false).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o640);
        replace(&path, "private\n", true).unwrap();
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_edit_lock_is_held_by_one_at_a_time() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".setup/serve/edit.lock");
        let held = lock(&path).unwrap();
        let other = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        // SAFETY: flock(2) on a file this test opened.
        let taken = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(
            taken, -1,
            "a second holder is refused while the first holds it"
        );
        drop(held);
        // SAFETY: as above.
        let taken = unsafe { libc::flock(other.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(taken, 0);
    }
}
