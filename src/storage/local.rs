//! A local or NFS folder as backup storage.

use std::ops::Range;
use std::path::{Component, Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::{ObjectMeta, Op, Storage, StorageError};
use crate::transport::Reader;

pub struct LocalStorage {
    root: PathBuf,
}

impl LocalStorage {
    pub fn new(root: PathBuf) -> Self {
        LocalStorage { root }
    }

    fn err(
        &self,
        op: &'static str,
        object: &str,
        e: impl std::fmt::Display,
        not_found: bool,
    ) -> StorageError {
        StorageError {
            server: self.describe(),
            op,
            object: object.into(),
            message: e.to_string(),
            not_found,
        }
    }

    /// The path of an object; names may not climb out of the folder.
    fn path(&self, op: &'static str, name: &str) -> Result<PathBuf, StorageError> {
        let rel = Path::new(name);
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(self.err(
                op,
                name,
                "object names are relative and may not contain `..`",
                false,
            ));
        }
        Ok(self.root.join(rel))
    }

    fn meta(name: String, m: &std::fs::Metadata) -> ObjectMeta {
        ObjectMeta {
            name,
            size: m.len(),
            modified: m.modified().ok().map(chrono::DateTime::from),
        }
    }
}

impl Storage for LocalStorage {
    fn describe(&self) -> String {
        format!("local folder {}", self.root.display())
    }

    fn free_space(&self) -> Option<u64> {
        use std::os::unix::ffi::OsStrExt;
        let path = std::ffi::CString::new(self.root.as_os_str().as_bytes()).ok()?;
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid NUL-terminated path and a zeroed struct for the call to fill.
        let rc = unsafe { libc::statvfs(path.as_ptr(), &mut st) };
        (rc == 0).then(|| st.f_bavail as u64 * st.f_frsize as u64)
    }

    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>> {
        Box::pin(async move {
            let mut out = Vec::new();
            let mut todo = vec![self.root.clone()];
            while let Some(dir) = todo.pop() {
                let mut rd = tokio::fs::read_dir(&dir)
                    .await
                    .map_err(|e| self.err("list", prefix, e, false))?;
                while let Some(entry) = rd
                    .next_entry()
                    .await
                    .map_err(|e| self.err("list", prefix, e, false))?
                {
                    let m = entry
                        .metadata()
                        .await
                        .map_err(|e| self.err("list", prefix, e, false))?;
                    let rel = entry
                        .path()
                        .strip_prefix(&self.root)
                        .map(|p| p.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    if m.is_dir() {
                        todo.push(entry.path());
                    } else if m.is_file() && rel.starts_with(prefix) && !rel.contains(".setup-tmp-")
                    {
                        out.push(Self::meta(rel, &m));
                    }
                }
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }

    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta> {
        Box::pin(async move {
            let p = self.path("stat", name)?;
            let m = tokio::fs::metadata(&p).await.map_err(|e| {
                self.err(
                    "stat",
                    name,
                    no_such(&e),
                    e.kind() == std::io::ErrorKind::NotFound,
                )
            })?;
            if !m.is_file() {
                return Err(self.err("stat", name, NOT_REGULAR, false));
            }
            Ok(Self::meta(name.to_string(), &m))
        })
    }

    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader> {
        Box::pin(async move {
            let p = self.path("get", name)?;
            // Opened without blocking: a FIFO named like a backup would hold `open` forever.
            let opened = tokio::task::spawn_blocking(move || {
                use std::os::unix::fs::OpenOptionsExt;
                let f = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&p)?;
                let regular = f.metadata()?.is_file();
                Ok::<_, std::io::Error>((f, regular))
            })
            .await
            .map_err(|e| self.err("get", name, e, false))?;
            let (f, regular) = opened.map_err(|e| {
                self.err(
                    "get",
                    name,
                    no_such(&e),
                    e.kind() == std::io::ErrorKind::NotFound,
                )
            })?;
            if !regular {
                return Err(self.err("get", name, NOT_REGULAR, false));
            }
            let mut f = tokio::fs::File::from_std(f);
            match range {
                None => Ok(Box::new(f) as Reader),
                Some(r) => {
                    f.seek(std::io::SeekFrom::Start(r.start))
                        .await
                        .map_err(|e| self.err("get", name, e, false))?;
                    Ok(Box::new(f.take(r.end.saturating_sub(r.start))) as Reader)
                }
            }
        })
    }

    fn put<'a>(&'a self, name: &'a str, mut data: Reader) -> Op<'a, u64> {
        Box::pin(async move {
            let p = self.path("put", name)?;
            if let Some(parent) = p.parent() {
                tokio::fs::create_dir_all(parent)
                    .await
                    .map_err(|e| self.err("put", name, e, false))?;
            }
            let tmp = p.with_extension(format!("setup-tmp-{}", std::process::id()));
            let mut f = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| self.err("put", name, e, false))?;
            let written = async {
                let n = tokio::io::copy(&mut data, &mut f).await?;
                f.sync_all().await?;
                tokio::fs::rename(&tmp, &p).await?;
                Ok::<u64, std::io::Error>(n)
            }
            .await;
            // A failed write leaves nothing behind.
            written.map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                self.err("put", name, e, false)
            })
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()> {
        Box::pin(async move {
            let p = self.path("delete", name)?;
            tokio::fs::remove_file(&p).await.map_err(|e| {
                self.err(
                    "delete",
                    name,
                    no_such(&e),
                    e.kind() == std::io::ErrorKind::NotFound,
                )
            })
        })
    }
}

/// Only regular files are objects: a FIFO, a device or a socket is refused, never opened for reading.
const NOT_REGULAR: &str =
    "not a regular file (a FIFO, a device or a socket named like an object): refused";

fn no_such(e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::NotFound {
        "no such object".into()
    } else {
        e.to_string()
    }
}
