//! Where backups live: a local or NFS folder, S3, Azure Blob, SFTP or FTP/FTPS, behind one trait.

pub mod bounded;
pub mod dal;
pub mod ftps;
pub mod local;
mod names;
mod read;
pub mod resume;
pub mod sftp_pw;
mod target_keys;
pub mod targets;
pub mod write_failure;

use std::ops::Range;

use chrono::{DateTime, Utc};

use crate::answers::storage::{Backend, Server, SftpLogin, StorageSettings};
use crate::transport::{BoxFut, Reader};
pub use names::{SIG_SUFFIX, is_companion, printable, shown};
pub use read::{CopyFault, check_copy, lacking, read_text};
pub use target_keys::named;
pub use write_failure::WriteFailure;

#[derive(Clone, Debug, serde::Serialize)]
pub struct ObjectMeta {
    pub name: String,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct StorageError {
    pub server: String,
    pub op: &'static str,
    pub object: String,
    pub message: String,
    pub not_found: bool,
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.object.is_empty() {
            write!(f, "{} on {}: {}", self.op, self.server, self.message)
        } else {
            write!(
                f,
                "{} `{}` on {}: {}",
                self.op, self.object, self.server, self.message
            )
        }
    }
}

impl std::error::Error for StorageError {}

impl StorageError {
    /// An error of `op` on `object` at `server`, with every known secret masked out of the message.
    pub fn masked(
        server: &str,
        op: &'static str,
        object: &str,
        message: &str,
        not_found: bool,
        masker: &crate::secret::Masker,
    ) -> StorageError {
        StorageError {
            server: server.to_string(),
            op,
            object: object.to_string(),
            message: masker.mask(message),
            not_found,
        }
    }
}

/// What a storage operation gives, later.
pub type Op<'a, T> = BoxFut<'a, Result<T, StorageError>>;

pub trait Storage: Send + Sync {
    /// Names the server or folder, for messages.
    fn describe(&self) -> String;
    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>>;
    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta>;
    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader>;
    fn put<'a>(&'a self, name: &'a str, data: Reader) -> Op<'a, u64>;
    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()>;
    /// What was retried since it was last asked (a lost connection, a read resumed from its
    /// offset), one masked line each, oldest first: for one object, or for all (`None`).
    fn retries(&self, _object: Option<&str>) -> Vec<String> {
        Vec::new()
    }
    /// Free bytes, when the storage can tell (a local or NFS folder); object stores cannot.
    fn free_space(&self) -> Option<u64> {
        None
    }
    /// This copy of `object` is wrong (`why`): read it from the next target that has one. False
    /// when there is none (one storage has no other).
    fn reject(&self, _object: &str, _why: &str) -> bool {
        false
    }
    /// The names of the targets that took `object` when it was written in this run (more than one
    /// storage only).
    fn holders(&self, _object: &str) -> Option<Vec<String>> {
        None
    }
    /// What some target could not write while others could, one each, since it was last asked:
    /// the run ends with exit 1 naming them.
    fn write_failures(&self) -> Vec<WriteFailure> {
        Vec::new()
    }
    /// Each target by its name (more than one storage only).
    fn parts(&self) -> Vec<(&str, &dyn Storage)> {
        Vec::new()
    }
}

/// Opens the storage the settings describe; a relative local path is taken from `base`. Every
/// download is bounded as a whole (see `bounded`), not only exchange by exchange.
pub fn open(
    settings: &StorageSettings,
    base: &std::path::Path,
    masker: &crate::secret::Masker,
) -> Result<Box<dyn Storage>, String> {
    Ok(Box::new(bounded::Bounded::new(
        open_backend(settings, base, masker)?,
        settings.timeout,
    )))
}

fn open_backend(
    settings: &StorageSettings,
    base: &std::path::Path,
    masker: &crate::secret::Masker,
) -> Result<Box<dyn Storage>, String> {
    let timeout = settings.timeout;
    let expand = |p: &Option<String>| {
        p.as_deref()
            .map(|p| crate::transport::ssh::expand_home(p).display().to_string())
    };
    match &settings.backend {
        Backend::Local { path } => Ok(Box::new(local::LocalStorage::new(base.join(path)))),
        // SFTP goes through the pure-Rust SSH client, a password or a key alike: its host key is
        // checked against storage.sftp.known_hosts, which OpenDAL's service cannot be given.
        Backend::Sftp {
            server,
            login,
            path,
            known_hosts,
        } => {
            let (password, key) = match login {
                SftpLogin::Password(p) => (p.clone(), None),
                SftpLogin::Key(k) => (
                    crate::secret::Secret::new(String::new()),
                    Some(crate::transport::ssh::expand_home(k)),
                ),
            };
            Ok(Box::new(sftp_pw::open(
                Login::new(server, &password, path, expand(known_hosts), timeout),
                key,
                settings.accept_new_host_keys,
                masker.clone(),
            )))
        }
        // Explicit FTPS needs its own upload path (see ftps.rs); plain FTP goes through OpenDAL.
        Backend::Ftp {
            server,
            password,
            path,
            tls: true,
            ca_file,
        } => Ok(Box::new(ftps::open(
            Login::new(server, password, path, expand(ca_file), timeout),
            masker.clone(),
        ))),
        _ => Ok(Box::new(dal::open(settings, masker.clone())?)),
    }
}

/// Where object names land in a file server's tree (password SFTP, FTPS).
pub struct RemoteRoot(String);

impl RemoteRoot {
    pub fn new(root: &str) -> RemoteRoot {
        RemoteRoot(root.trim_end_matches('/').to_string())
    }

    /// The full path of an object, or of a folder below the root (`""`: the root itself).
    pub fn path(&self, name: &str) -> String {
        match (name.trim_start_matches('/'), self.0.as_str()) {
            ("", "") => "/".to_string(),
            ("", root) => root.to_string(),
            (name, root) => format!("{root}/{name}"),
        }
    }

    /// The root and the folders above it, outermost first (none for `/`).
    pub fn own_folders(&self) -> Vec<String> {
        let parts: Vec<&str> = self.0.split('/').collect();
        (0..parts.len())
            .filter(|n| !parts[*n].is_empty())
            .map(|n| parts[..=n].join("/"))
            .collect()
    }

    /// The folders an object needs, outermost first.
    pub fn parents(&self, name: &str) -> Vec<String> {
        let parts: Vec<&str> = name.trim_start_matches('/').split('/').collect();
        (1..parts.len())
            .map(|n| self.path(&parts[..n].join("/")))
            .collect()
    }

    /// A walk of the tree below the root, folder by folder.
    pub fn walk(&self) -> TreeWalk<'_> {
        TreeWalk {
            root: self,
            folders: vec![String::new()],
            found: Vec::new(),
        }
    }
}

/// Lists a file server's tree: take a folder with `next_folder`, list it, hand its entries to
/// `add`; `finish` gives what `Storage::list` returns.
pub struct TreeWalk<'a> {
    root: &'a RemoteRoot,
    folders: Vec<String>,
    found: Vec<ObjectMeta>,
}

impl TreeWalk<'_> {
    /// The next folder to list: its full path, and its name relative to the root.
    pub fn next_folder(&mut self) -> Option<(String, String)> {
        let dir = self.folders.pop()?;
        Some((self.root.path(&dir), dir))
    }

    /// The entries of `dir`: folders are walked later, objects are kept.
    pub fn add(&mut self, dir: &str, entries: impl IntoIterator<Item = DirEntry>) {
        for e in entries {
            if e.name == "." || e.name == ".." {
                continue;
            }
            let rel = if dir.is_empty() {
                e.name
            } else {
                format!("{dir}/{}", e.name)
            };
            if e.is_dir {
                self.folders.push(rel);
            } else {
                self.found.push(ObjectMeta {
                    name: rel,
                    size: e.size,
                    modified: e.modified,
                });
            }
        }
    }

    /// The objects under `prefix`, sorted.
    pub fn finish(self, prefix: &str) -> Vec<ObjectMeta> {
        finish_listing(self.found, prefix)
    }
}

/// One entry of a folder listed on a file server.
pub struct DirEntry {
    pub name: String,
    pub is_dir: bool,
    pub size: u64,
    pub modified: Option<DateTime<Utc>>,
}

/// A reader that keeps what it needs open (a connection, a session) until it is dropped.
pub struct KeepAlive<R, K> {
    pub reader: R,
    /// Held only to stay open while the reader reads.
    pub _keep: K,
}

impl<R: tokio::io::AsyncRead + Unpin, K: Unpin> tokio::io::AsyncRead for KeepAlive<R, K> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().reader).poll_read(cx, buf)
    }
}

/// A listing as `Storage::list` gives it: the names under `prefix`, sorted.
fn finish_listing(mut out: Vec<ObjectMeta>, prefix: &str) -> Vec<ObjectMeta> {
    out.retain(|o| o.name.starts_with(prefix));
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A file server reached with a user and a password (SFTP with a password, FTPS).
pub struct Login {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    /// The folder the object names are relative to.
    pub root: String,
    /// What to trust the server by: a known_hosts file (SFTP) or a CA file (FTPS).
    pub trust: Option<String>,
    /// Longest wait for one exchange with the server.
    pub timeout: std::time::Duration,
}

/// What both password file-server backends (SFTP, FTPS) keep: where the server is, how to log
/// in, how long to wait, and the notes of what was retried.
pub struct FileServer {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub root: RemoteRoot,
    /// Longest wait for one server round trip.
    pub timeout: std::time::Duration,
    /// Names the server, for messages.
    pub server: String,
    pub masker: crate::secret::Masker,
    pub retries: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl FileServer {
    /// The server of a login, named `server` in messages; the login's trust setting is handed back.
    pub fn new(
        l: Login,
        server: String,
        masker: crate::secret::Masker,
    ) -> (FileServer, Option<String>) {
        let srv = FileServer {
            root: RemoteRoot::new(&l.root),
            host: l.host,
            port: l.port,
            user: l.user,
            password: l.password,
            timeout: l.timeout,
            server,
            masker,
            retries: Default::default(),
        };
        (srv, l.trust)
    }

    /// An error of `op` on `object` at this server, secrets masked.
    pub fn fail(
        &self,
        op: &'static str,
        object: &str,
        message: String,
        not_found: bool,
    ) -> StorageError {
        StorageError::masked(&self.server, op, object, &message, not_found, &self.masker)
    }

    /// The full path of an object.
    pub fn path(&self, name: &str) -> String {
        self.root.path(name)
    }
}

impl Login {
    fn new(
        server: &Server,
        password: &crate::secret::Secret,
        root: &str,
        trust: Option<String>,
        timeout: std::time::Duration,
    ) -> Login {
        Login {
            host: server.host.clone(),
            port: server.port,
            user: server.user.clone(),
            password: password.expose().to_string(),
            root: root.to_string(),
            trust,
            timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RemoteRoot;

    #[test]
    fn remote_paths() {
        let r = RemoteRoot::new("/srv/backups/");
        assert_eq!(r.path("a/b.tar"), "/srv/backups/a/b.tar");
        assert_eq!(r.path(""), "/srv/backups");
        assert_eq!(
            r.parents("a/b/c.tar"),
            ["/srv/backups/a", "/srv/backups/a/b"]
        );
        assert!(r.parents("c.tar").is_empty());
        assert_eq!(
            RemoteRoot::new("/srv/backups/").own_folders(),
            ["/srv", "/srv/backups"]
        );
        assert_eq!(RemoteRoot::new("srv/b").own_folders(), ["srv", "srv/b"]);
        assert!(RemoteRoot::new("/").own_folders().is_empty());
        let top = RemoteRoot::new("/");
        assert_eq!(top.path(""), "/");
        assert_eq!(top.path("x"), "/x");
    }

    #[test]
    fn a_walk_goes_down_folders_and_keeps_objects() {
        let entry = |name: &str, is_dir| super::DirEntry {
            name: name.into(),
            is_dir,
            size: 1,
            modified: None,
        };
        let r = RemoteRoot::new("/srv");
        let mut w = r.walk();
        assert_eq!(w.next_folder(), Some(("/srv".into(), "".into())));
        w.add(
            "",
            [entry(".", true), entry("dr", true), entry("b.tar", false)],
        );
        assert_eq!(w.next_folder(), Some(("/srv/dr".into(), "dr".into())));
        w.add("dr", [entry("a.tar", false)]);
        assert_eq!(w.next_folder(), None);
        let names: Vec<_> = w.finish("").into_iter().map(|o| o.name).collect();
        assert_eq!(names, ["b.tar", "dr/a.tar"]);
    }
}
