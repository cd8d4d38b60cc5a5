//! SFTP through the pure-Rust `russh` client and `russh-sftp`, logged in with a password or a key.
//!
//! OpenDAL's SFTP service drives the system `ssh` in BatchMode: keys only, and no way to name the
//! known_hosts file. Here the host key is checked against `storage.sftp.known_hosts` (default
//! `~/.ssh/known_hosts`), never skipped; with `--accept-new-host-keys` a server the file does not
//! name yet is recorded there.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use russh::client;
use russh::keys::PublicKeyOrCertificate;
use russh_sftp::client::SftpSession;
use russh_sftp::client::error::Error as SftpError;
use russh_sftp::client::fs::File;
use russh_sftp::protocol::StatusCode;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::resume::{self, Opening, Reopen, take_notes};
use super::{DirEntry, FileServer, KeepAlive, ObjectMeta, Op, Storage, StorageError};
use crate::secret::Masker;
use crate::transport::Reader;

struct Conn {
    ssh: client::Handle<HostCheck>,
    sftp: SftpSession,
}

struct Inner {
    srv: FileServer,
    /// A private key file to log in with, instead of the password.
    key: Option<PathBuf>,
    known_hosts: PathBuf,
    accept_new: bool,
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
}

impl std::ops::Deref for Inner {
    type Target = FileServer;
    fn deref(&self) -> &FileServer {
        &self.srv
    }
}

pub struct SftpPassword {
    inner: Arc<Inner>,
}

/// Accepts the server only if its key is the one known_hosts records for it.
struct HostCheck {
    host: String,
    port: u16,
    known_hosts: PathBuf,
    accept_new: bool,
    refusal: Arc<Mutex<Option<String>>>,
}

impl client::Handler for HostCheck {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let PublicKeyOrCertificate::PublicKey { key, .. } = key else {
            self.refuse(
                "it presented a certificate; give it a plain host key in known_hosts".into(),
            );
            return Ok(false);
        };
        let file = self.known_hosts.display();
        let fp = key.fingerprint(Default::default());
        match russh::keys::check_known_hosts_path(&self.host, self.port, key, &self.known_hosts) {
            Ok(true) => return Ok(true),
            Ok(false) if self.accept_new => {
                match russh::keys::known_hosts::learn_known_hosts_path(
                    &self.host,
                    self.port,
                    key,
                    &self.known_hosts,
                ) {
                    Ok(()) => return Ok(true),
                    Err(e) => self.refuse(format!(
                        "its host key ({fp}) is new and could not be recorded in {file}: {e}"
                    )),
                }
            }
            Ok(false) => self.refuse(format!(
                "its host key ({fp}) is not in {file}; check the fingerprint, then add it, e.g. `ssh-keyscan -p {} {} >> {file}`, or pass --accept-new-host-keys to record it, or set storage.sftp.known_hosts",
                self.port, self.host
            )),
            Err(russh::keys::Error::KeyChanged { line }) => self.refuse(format!(
                "its host key ({fp}) DIFFERS from the one recorded at line {line} of {file}: refusing (the server was replaced, or someone is in the middle)"
            )),
            Err(e) => self.refuse(format!("cannot check its host key against {file}: {e}")),
        }
        Ok(false)
    }
}

impl HostCheck {
    fn refuse(&self, why: String) {
        if let Ok(mut r) = self.refusal.lock() {
            *r = Some(why);
        }
    }
}

pub fn open(
    l: super::Login,
    key: Option<PathBuf>,
    accept_new: bool,
    masker: Masker,
) -> SftpPassword {
    let server = format!("SFTP server {}@{}:{}", l.user, l.host, l.port);
    let (srv, known_hosts) = FileServer::new(l, server, masker);
    let known_hosts = known_hosts.map(PathBuf::from).unwrap_or_else(|| {
        std::env::home_dir()
            .unwrap_or_default()
            .join(".ssh/known_hosts")
    });
    SftpPassword {
        inner: Arc::new(Inner {
            srv,
            key,
            known_hosts,
            accept_new,
            conn: tokio::sync::Mutex::new(None),
        }),
    }
}

impl Inner {
    fn sftp_error(&self, op: &'static str, object: &str, e: SftpError) -> StorageError {
        match &e {
            SftpError::Status(s) if s.status_code == StatusCode::NoSuchFile => {
                self.fail(op, object, "no such object".into(), true)
            }
            SftpError::Status(s) if s.status_code == StatusCode::PermissionDenied => self.fail(
                op,
                object,
                format!("permission denied; check that storage.sftp.user `{}` may use storage.sftp.path", self.user),
                false,
            ),
            _ => self.fail(op, object, e.to_string(), false),
        }
    }

    /// The live connection, opened (and logged in) when there is none or the last one dropped.
    async fn session(&self, op: &'static str, object: &str) -> Result<Arc<Conn>, StorageError> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref()
            && !c.ssh.is_closed()
        {
            return Ok(c.clone());
        }
        *slot = None;
        let conn = tokio::time::timeout(self.timeout, self.connect(op, object))
            .await
            .map_err(|_| {
                self.fail(op, object, format!("no answer within {}s (storage.timeout) while connecting and logging in; check storage.sftp.host, storage.sftp.port, and that the server is up", self.timeout.as_secs()), false)
            })??;
        let conn = Arc::new(conn);
        *slot = Some(conn.clone());
        Ok(conn)
    }

    async fn connect(&self, op: &'static str, object: &str) -> Result<Conn, StorageError> {
        let refusal = Arc::new(Mutex::new(None));
        let check = HostCheck {
            host: self.host.clone(),
            port: self.port,
            known_hosts: self.known_hosts.clone(),
            accept_new: self.accept_new,
            refusal: refusal.clone(),
        };
        let config = Arc::new(client::Config {
            inactivity_timeout: Some(Duration::from_secs(300)),
            keepalive_interval: Some(Duration::from_secs(30)),
            nodelay: true,
            ..Default::default()
        });
        let mut ssh = match client::connect(config, (self.host.as_str(), self.port), check).await {
            Ok(h) => h,
            Err(e) => {
                let message = match refusal.lock().ok().and_then(|r| r.clone()) {
                    Some(why) => format!("not trusted: {why}"),
                    None => format!(
                        "cannot connect ({e}); check storage.sftp.host, storage.sftp.port, and that the server is up"
                    ),
                };
                return Err(self.fail(op, object, message, false));
            }
        };
        let logged_in = self
            .log_in(&mut ssh)
            .await
            .map_err(|e| self.fail(op, object, format!("logging in: {e}"), false))?;
        if !logged_in {
            let what = if self.key.is_some() {
                "storage.sftp.key_file"
            } else {
                "storage.sftp.password"
            };
            return Err(self.fail(
                op,
                object,
                format!("the server refused the credentials; check storage.sftp.user, {what}"),
                false,
            ));
        }
        let failed = |e: String| self.fail(op, object, format!("starting SFTP: {e}"), false);
        let channel = ssh
            .channel_open_session()
            .await
            .map_err(|e| failed(e.to_string()))?;
        channel
            .request_subsystem(true, "sftp")
            .await
            .map_err(|e| failed(e.to_string()))?;
        let sftp = SftpSession::new(channel.into_stream())
            .await
            .map_err(|e| failed(e.to_string()))?;
        sftp.set_timeout(self.timeout.as_secs());
        Ok(Conn { ssh, sftp })
    }

    /// Password authentication, or keyboard-interactive answering every prompt with the password
    /// (servers that check passwords through PAM often offer only that).
    async fn log_in(&self, ssh: &mut client::Handle<HostCheck>) -> Result<bool, russh::Error> {
        use russh::MethodKind;
        use russh::client::KeyboardInteractiveAuthResponse as Kbd;
        if let Some(file) = &self.key {
            let key = russh::keys::load_secret_key(file, None).map_err(|e| {
                russh::Error::IO(std::io::Error::other(format!(
                    "storage.sftp.key_file {}: {e}",
                    file.display()
                )))
            })?;
            let hash = ssh.best_supported_rsa_hash().await?.flatten();
            let key = russh::keys::PrivateKeyWithHashAlg::new(Arc::new(key), hash);
            let done = ssh.authenticate_publickey(self.user.clone(), key).await?;
            return Ok(matches!(done, russh::client::AuthResult::Success));
        }
        let remaining = match ssh
            .authenticate_password(self.user.clone(), self.password.clone())
            .await?
        {
            russh::client::AuthResult::Success => return Ok(true),
            russh::client::AuthResult::Failure {
                remaining_methods, ..
            } => remaining_methods,
        };
        if !remaining.contains(&MethodKind::KeyboardInteractive) {
            return Ok(false);
        }
        let mut reply = ssh
            .authenticate_keyboard_interactive_start(self.user.clone(), None)
            .await?;
        // A few rounds at most: a server that keeps asking is refused.
        for _ in 0..4 {
            match reply {
                Kbd::Success => return Ok(true),
                Kbd::Failure { .. } => return Ok(false),
                Kbd::InfoRequest { prompts, .. } => {
                    let answers = prompts.iter().map(|_| self.password.clone()).collect();
                    reply = ssh
                        .authenticate_keyboard_interactive_respond(answers)
                        .await?;
                }
            }
        }
        Ok(false)
    }

    /// Forgets a connection that failed, so the next call opens a fresh one.
    async fn drop_conn(&self, dead: &Arc<Conn>) {
        let mut slot = self.conn.lock().await;
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, dead)) {
            *slot = None;
        }
    }
}

impl Reopen for Inner {
    fn notes(&self) -> (Arc<Mutex<Vec<String>>>, Masker) {
        (self.retries.clone(), self.masker.clone())
    }

    /// A reader of `path` from `start` for `len` bytes, on the current connection.
    fn reopen(self: Arc<Self>, name: String, start: u64, len: u64) -> Opening {
        Box::pin(async move {
            let name = name.as_str();
            let conn = self.session("get", name).await?;
            let path = self.path(name);
            let opened = async {
                let mut f = conn.sftp.open(path.as_str()).await?;
                if start > 0 {
                    f.seek(SeekFrom::Start(start)).await?;
                }
                Ok::<File, SftpError>(f)
            };
            match tokio::time::timeout(self.timeout, opened).await {
                Ok(Ok(f)) => Ok(Box::new(KeepAlive {
                    reader: f.take(len),
                    _keep: conn,
                }) as Reader),
                Ok(Err(e)) => {
                    if !matches!(e, SftpError::Status(_)) {
                        self.drop_conn(&conn).await;
                    }
                    Err(self.sftp_error("get", name, e))
                }
                Err(_) => {
                    self.drop_conn(&conn).await;
                    Err(self.fail(
                        "get",
                        name,
                        format!("no answer within {}s", self.timeout.as_secs()),
                        false,
                    ))
                }
            }
        })
    }
}

impl Storage for SftpPassword {
    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>> {
        Box::pin(async move {
            let inner = &self.inner;
            let conn = inner.session("list", "").await?;
            let mut walk = inner.root.walk();
            while let Some((full, dir)) = walk.next_folder() {
                let entries = conn
                    .sftp
                    .read_dir(full)
                    .await
                    .map_err(|e| inner.sftp_error("list", &dir, e))?
                    .map(|e| {
                        let meta = e.metadata();
                        DirEntry {
                            name: e.file_name(),
                            is_dir: meta.is_dir(),
                            size: meta.len(),
                            modified: meta
                                .mtime
                                .and_then(|t| chrono::DateTime::from_timestamp(i64::from(t), 0)),
                        }
                    });
                walk.add(&dir, entries);
            }
            Ok(walk.finish(prefix))
        })
    }

    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta> {
        Box::pin(async move {
            let conn = self.inner.session("stat", name).await?;
            let m = conn
                .sftp
                .metadata(self.inner.path(name))
                .await
                .map_err(|e| self.inner.sftp_error("stat", name, e))?;
            Ok(ObjectMeta {
                name: name.to_string(),
                size: m.len(),
                modified: m
                    .mtime
                    .and_then(|t| chrono::DateTime::from_timestamp(i64::from(t), 0)),
            })
        })
    }

    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader> {
        Box::pin(resume::get(self, &self.inner, name, range))
    }

    fn put<'a>(&'a self, name: &'a str, mut data: Reader) -> Op<'a, u64> {
        Box::pin(async move {
            let inner = &self.inner;
            let conn = inner.session("put", name).await?;
            let path = inner.path(name);
            // Parent folders first; an existing one is fine.
            for dir in inner.root.parents(name) {
                let _ = conn.sftp.create_dir(dir.as_str()).await;
            }
            // Written beside the target, renamed into place once complete.
            let part = format!("{path}.part");
            let mut f = conn
                .sftp
                .create(part.as_str())
                .await
                .map_err(|e| inner.sftp_error("put", name, e))?;
            let copied = async {
                let mut src = tokio::io::BufReader::with_capacity(1 << 20, &mut data);
                let n = tokio::io::copy_buf(&mut src, &mut f).await?;
                f.shutdown().await?;
                Ok::<u64, std::io::Error>(n)
            }
            .await;
            let total = match copied {
                Ok(n) => n,
                Err(e) => {
                    let _ = conn.sftp.remove_file(part.as_str()).await;
                    return Err(inner.fail("put", name, e.to_string(), false));
                }
            };
            // SFTP's rename refuses an existing target on most servers: the old one goes first.
            if conn
                .sftp
                .rename(part.as_str(), path.as_str())
                .await
                .is_err()
            {
                let _ = conn.sftp.remove_file(path.as_str()).await;
                conn.sftp
                    .rename(part.as_str(), path.as_str())
                    .await
                    .map_err(|e| inner.sftp_error("put", name, e))?;
            }
            Ok(total)
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()> {
        Box::pin(async move {
            let conn = self.inner.session("delete", name).await?;
            match conn.sftp.remove_file(self.inner.path(name)).await {
                Ok(()) => Ok(()),
                Err(SftpError::Status(s)) if s.status_code == StatusCode::NoSuchFile => Ok(()),
                Err(e) => Err(self.inner.sftp_error("delete", name, e)),
            }
        })
    }

    fn describe(&self) -> String {
        self.inner.server.clone()
    }

    fn retries(&self, object: Option<&str>) -> Vec<String> {
        take_notes(&self.inner.retries, object)
    }
}
