//! Where backups live. `local` (a local or NFS folder) now; s3, azure, sftp and ftp plug into the same trait.

pub mod dal;
pub mod ftps;
pub mod local;
pub mod resume;
pub mod sftp_pw;

use std::ops::Range;

use chrono::{DateTime, Utc};

use crate::answers::Answers;
use crate::transport::{BoxFut, Reader};

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

pub trait Storage: Send + Sync {
    /// Names the server or folder, for messages.
    fn describe(&self) -> String;
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFut<'a, Result<Vec<ObjectMeta>, StorageError>>;
    fn stat<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<ObjectMeta, StorageError>>;
    fn get<'a>(
        &'a self,
        name: &'a str,
        range: Option<Range<u64>>,
    ) -> BoxFut<'a, Result<Reader, StorageError>>;
    fn put<'a>(&'a self, name: &'a str, data: Reader) -> BoxFut<'a, Result<u64, StorageError>>;
    fn delete<'a>(&'a self, name: &'a str) -> BoxFut<'a, Result<(), StorageError>>;
    /// What was retried since the last call (a lost connection, a read resumed from its offset),
    /// one masked line each, oldest first.
    fn retries(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Opens the storage the answers describe.
pub fn open(
    answers: &Answers,
    base: &std::path::Path,
    masker: &crate::secret::Masker,
) -> Result<Box<dyn Storage>, String> {
    match answers.storage_type().as_deref() {
        Some("local") => {
            let path = answers
                .text("storage.local.path")
                .ok_or("storage.local.path is not set")?;
            let p = std::path::Path::new(&path);
            let root = if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            };
            Ok(Box::new(local::LocalStorage::new(root)))
        }
        // A password login needs the pure-Rust SSH client; keys go through OpenDAL's SFTP service.
        Some("sftp")
            if answers.text("storage.sftp.password").is_some()
                && answers.text("storage.sftp.key_file").is_none() =>
        {
            let need = |k: &str| {
                answers
                    .text(&format!("storage.sftp.{k}"))
                    .ok_or_else(|| format!("storage.sftp.{k} is not set"))
            };
            let port = answers
                .text("storage.sftp.port")
                .unwrap_or_else(|| "22".into());
            let port = port
                .parse()
                .map_err(|_| format!("storage.sftp.port `{port}` is not a port number"))?;
            Ok(Box::new(sftp_pw::open(
                need("host")?,
                port,
                need("user")?,
                need("password")?,
                answers
                    .text("storage.sftp.path")
                    .unwrap_or_else(|| "/".into()),
                answers.text("storage.sftp.known_hosts"),
                masker.clone(),
            )))
        }
        // Explicit FTPS needs its own upload path (see ftps.rs); plain FTP goes through OpenDAL.
        Some("ftp") if answers.text("storage.ftp.tls").as_deref() == Some("true") => {
            let need = |k: &str| {
                answers
                    .text(&format!("storage.ftp.{k}"))
                    .ok_or_else(|| format!("storage.ftp.{k} is not set"))
            };
            Ok(Box::new(ftps::open(
                ftps::Settings {
                    host: need("host")?,
                    port: port(answers, "ftp", 21)?,
                    user: need("user")?,
                    password: answers.text("storage.ftp.password").unwrap_or_default(),
                    root: answers
                        .text("storage.ftp.path")
                        .unwrap_or_else(|| "/".into()),
                    ca_file: answers.text("storage.ftp.ca_file"),
                },
                masker.clone(),
            )))
        }
        Some(other) => Ok(Box::new(dal::open(answers, other, masker.clone())?)),
        None => Err("no storage configured: set storage.type".into()),
    }
}

fn port(answers: &Answers, kind: &str, default: u16) -> Result<u16, String> {
    match answers.text(&format!("storage.{kind}.port")) {
        None => Ok(default),
        Some(p) => p
            .parse()
            .map_err(|_| format!("storage.{kind}.port `{p}` is not a port number")),
    }
}
