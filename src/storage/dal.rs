//! S3, Azure Blob and plain FTP through Apache OpenDAL: one streaming API, ranged reads, and the
//! same retry (exponential backoff, reads resumed from their offset) and timeout layers for every backend.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opendal::layers::{RetryEvent, RetryLayer, TimeoutLayer};
use opendal::{ErrorKind, Operator, services};
use tokio_util::compat::FuturesAsyncReadCompatExt;

use super::{ObjectMeta, Op, Storage, StorageError};
use crate::answers::storage::{Backend, StorageSettings, keys_to_check};
use crate::secret::Masker;
use crate::transport::Reader;

/// Large objects go up in parts of this size (multipart on S3, blocks on Azure), two at a time:
/// with the part being filled, at most 24 MiB of a stream are held however slow the server is.
const PART: usize = 8 * 1024 * 1024;

pub struct Dal {
    op: Operator,
    kind: String,
    server: String,
    masker: Masker,
    retries: Arc<Mutex<Vec<String>>>,
    limit: Duration,
    /// What holds the objects (`bucket `X``, `container `X``) and the answer that names it.
    home: Option<(String, String)>,
}

/// Builds the operator the settings describe.
pub fn open(settings: &StorageSettings, masker: Masker) -> Result<Dal, String> {
    let root = |p: &Option<String>| p.clone().unwrap_or_else(|| "/".into());
    let home = match &settings.backend {
        Backend::S3 { bucket, .. } => Some((format!("bucket `{bucket}`"), "bucket")),
        Backend::Azure { container, .. } => Some((format!("container `{container}`"), "container")),
        _ => None,
    }
    .map(|(what, field)| (what, crate::answers::storage::key(settings.kind(), field)));
    let (op, server) = match &settings.backend {
        Backend::S3 {
            endpoint,
            region,
            bucket,
            keys,
            path_style,
            prefix,
        } => {
            let mut b = services::S3::default()
                .bucket(bucket)
                .root(&root(prefix))
                .region(region);
            if let Some(e) = endpoint {
                b = b.endpoint(e);
            }
            if !path_style && endpoint.is_none() {
                b = b.enable_virtual_host_style();
            }
            // Explicit keys, or else the standard AWS environment and profile variables.
            if let Some((id, secret)) = keys {
                b = b
                    .access_key_id(id)
                    .secret_access_key(secret.expose())
                    .disable_config_load();
            }
            let server = format!(
                "S3 bucket `{bucket}` at {}",
                endpoint.as_deref().unwrap_or("AWS")
            );
            (Operator::new(b).map_err(|e| e.to_string())?, server)
        }
        Backend::Azure {
            account,
            container,
            access_key,
            sas,
            connection_string,
            endpoint,
            prefix,
        } => {
            let mut b = match connection_string {
                Some(cs) => services::Azblob::from_connection_string(cs.expose())
                    .map_err(|e| format!("storage.azure.connection_string: {}", e.kind()))?,
                None => services::Azblob::default(),
            };
            b = b.container(container).root(&root(prefix));
            if let Some(acc) = account {
                b = b.account_name(acc);
                if endpoint.is_none() && connection_string.is_none() {
                    b = b.endpoint(&format!("https://{acc}.blob.core.windows.net"));
                }
            }
            if let Some(e) = endpoint {
                b = b.endpoint(e);
            }
            if let Some(k) = access_key {
                b = b.account_key(k.expose());
            }
            if let Some(s) = sas {
                b = b.sas_token(s.expose());
            }
            let server = format!(
                "Azure container `{container}` at {}",
                endpoint
                    .as_deref()
                    .or(account.as_deref())
                    .unwrap_or("the connection string's account")
            );
            (Operator::new(b).map_err(|e| e.to_string())?, server)
        }
        Backend::Ftp {
            server: s,
            password,
            path,
            tls,
            ..
        } => {
            let scheme = if *tls { "ftps" } else { "ftp" };
            let b = services::Ftp::default()
                .endpoint(&format!("{scheme}://{}:{}", s.host, s.port))
                .root(path)
                .user(&s.user)
                .password(password.expose());
            (
                Operator::new(b).map_err(|e| e.to_string())?,
                format!(
                    "{} server {}:{}",
                    if *tls { "FTPS" } else { "FTP" },
                    s.host,
                    s.port
                ),
            )
        }
        Backend::Local { .. } | Backend::Sftp { .. } => {
            return Err(format!(
                "{} storage is not opened through OpenDAL",
                settings.kind()
            ));
        }
    };
    let t = settings.kind();
    let limit = settings.timeout;
    let retries = Arc::new(Mutex::new(Vec::new()));
    let notes = retries.clone();
    let note_masker = masker.clone();
    let notify = move |ev: RetryEvent<'_>| {
        let line = format!(
            "{}: {}; retry {} in {:.1}s{}",
            ev.op,
            first_line(&ev.err.to_string()),
            ev.attempt,
            ev.retry_after.as_secs_f64(),
            if ev.op == opendal::raw::Operation::Read {
                " (a read resumes from the byte it reached)"
            } else {
                ""
            }
        );
        if let Ok(mut v) = notes.lock() {
            v.push(note_masker.mask(&line));
        }
    };
    let op = op
        .layer(
            TimeoutLayer::new()
                .with_timeout(limit)
                .with_io_timeout(limit),
        )
        .layer(
            RetryLayer::new()
                .with_max_times(4)
                .with_min_delay(Duration::from_millis(200))
                .with_jitter()
                .with_notify(notify),
        );
    Ok(Dal {
        op,
        kind: t.to_string(),
        server,
        masker,
        retries,
        limit,
        home,
    })
}

impl Dal {
    fn err(&self, op: &'static str, object: &str, e: opendal::Error) -> StorageError {
        // A bucket or container that is not there is no missing object: it is the setting to fix.
        if let Some((what, key)) = &self.home {
            let text = chain(&e);
            // A listing finds no object missing: a 404 to it is the bucket's or container's.
            if ["NoSuchBucket", "ContainerNotFound"]
                .iter()
                .any(|k| text.contains(k))
                || (op == "list" && e.kind() == ErrorKind::NotFound)
            {
                let message = format!("the {what} does not exist; check {key}");
                return StorageError::masked(
                    &self.server,
                    op,
                    object,
                    &message,
                    false,
                    &self.masker,
                );
            }
        }
        let not_found = e.kind() == ErrorKind::NotFound;
        let message = match e.kind() {
            ErrorKind::NotFound => "no such object".to_string(),
            ErrorKind::PermissionDenied => format!(
                "the server refused the credentials ({}); check {}",
                e.kind(),
                self.credential_keys()
            ),
            _ => {
                // The whole cause chain: "error sending request" alone does not say why.
                let text = chain(&e);
                if [
                    "InvalidAccessKeyId",
                    "SignatureDoesNotMatch",
                    "AuthenticationFailed",
                    "AccessDenied",
                    "530 ",
                    "Permission denied",
                    "authentication",
                ]
                .iter()
                .any(|k| text.contains(k))
                {
                    format!(
                        "the server refused the credentials; check {}",
                        self.credential_keys()
                    )
                } else if text.contains("timeout reached") || text.contains("timed out") {
                    format!(
                        "no answer within {}s (storage.timeout), after retries; check {}, and that the server is up",
                        self.limit.as_secs(),
                        self.connection_keys()
                    )
                } else if [
                    "failed to connect",
                    "Connection refused",
                    "connection refused",
                    "dns error",
                ]
                .iter()
                .any(|k| text.contains(k))
                {
                    format!(
                        "cannot connect or log in; check {}, and that the server is up",
                        self.connection_keys(),
                    )
                } else {
                    first_line(&text)
                }
            }
        };
        StorageError::masked(&self.server, op, object, &message, not_found, &self.masker)
    }

    fn connection_keys(&self) -> String {
        keys_to_check(&self.kind, false)
    }

    fn credential_keys(&self) -> String {
        keys_to_check(&self.kind, true)
    }
}

/// An error with every cause below it, as one line of text.
fn chain(e: &opendal::Error) -> String {
    std::iter::successors(Some(e as &dyn std::error::Error), |c| c.source())
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).chars().take(300).collect()
}

impl Storage for Dal {
    fn describe(&self) -> String {
        self.server.clone()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>> {
        Box::pin(async move {
            let entries = self
                .op
                .list_with("")
                .recursive(true)
                .await
                .map_err(|e| self.err("list", prefix, e))?;
            let mut out = Vec::new();
            for e in entries {
                let name = e.path().trim_start_matches('/').to_string();
                // Folders (a plain FTP listing names the root itself, as `/`) are no objects.
                if name.is_empty() || name.ends_with('/') || !name.starts_with(prefix) {
                    continue;
                }
                let meta = e.metadata();
                let (size, modified) =
                    if meta.content_length() > 0 || meta.last_modified().is_some() {
                        (meta.content_length(), meta.last_modified())
                    } else {
                        let m = self
                            .op
                            .stat(&name)
                            .await
                            .map_err(|er| self.err("stat", &name, er))?;
                        (m.content_length(), m.last_modified())
                    };
                out.push(ObjectMeta {
                    name,
                    size,
                    modified: modified.and_then(to_chrono),
                });
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }

    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta> {
        Box::pin(async move {
            let m = self
                .op
                .stat(name)
                .await
                .map_err(|e| self.err("stat", name, e))?;
            Ok(ObjectMeta {
                name: name.to_string(),
                size: m.content_length(),
                modified: m.last_modified().and_then(to_chrono),
            })
        })
    }

    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader> {
        Box::pin(async move {
            // One streamed request for the whole range: chunked reads would issue a ranged request
            // per part, which some servers answer by reading from the start of the file each time.
            // A connection lost mid-read is resumed from its offset by the retry layer.
            let reader = self
                .op
                .reader_with(name)
                .await
                .map_err(|e| self.err("get", name, e))?;
            let r = match range {
                Some(r) => reader.into_futures_async_read(r).await,
                None => reader.into_futures_async_read(..).await,
            }
            .map_err(|e| self.err("get", name, e))?;
            Ok(Box::new(r.compat()) as Reader)
        })
    }

    fn put<'a>(&'a self, name: &'a str, mut data: Reader) -> Op<'a, u64> {
        Box::pin(async move {
            let mut w = self
                .op
                .writer_with(name)
                .chunk(PART)
                .concurrent(2)
                .await
                .map_err(|e| self.err("put", name, e))?;
            let mut total = 0u64;
            let written: Result<(), StorageError> = async {
                loop {
                    let buf = crate::transport::fill(&mut data, 1024 * 1024)
                        .await
                        .map_err(|e| {
                            StorageError::masked(
                                &self.server,
                                "put",
                                name,
                                &format!("reading the source: {e}"),
                                false,
                                &self.masker,
                            )
                        })?;
                    if buf.is_empty() {
                        break;
                    }
                    total += buf.len() as u64;
                    w.write(buf).await.map_err(|e| self.err("put", name, e))?;
                }
                w.close().await.map_err(|e| self.err("put", name, e))?;
                Ok(())
            }
            .await;
            if let Err(e) = written {
                // Drops the parts uploaded so far (S3 multipart, Azure blocks) where the service can.
                let _ = w.abort().await;
                return Err(e);
            }
            Ok(total)
        })
    }

    fn retries(&self, object: Option<&str>) -> Vec<String> {
        super::resume::take_notes(&self.retries, object)
    }

    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()> {
        Box::pin(async move {
            self.op
                .delete(name)
                .await
                .map_err(|e| self.err("delete", name, e))
        })
    }
}

fn to_chrono(t: opendal::raw::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    let inner = t.into_inner();
    chrono::DateTime::from_timestamp(inner.as_second(), inner.subsec_nanosecond().max(0) as u32)
}
