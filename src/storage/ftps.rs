//! Explicit FTPS (`AUTH TLS`, passive mode) on `suppaftp`, the crate OpenDAL's FTP service uses inside.
//!
//! OpenDAL's FTP service loses the tail of every FTPS upload: it closes the TLS data connection
//! without reading what the server sent on it (the TLS 1.3 session tickets), so the kernel answers
//! with a reset that discards the last bytes still queued at the server, which reports
//! `426 Failure reading network stream`. Here an upload sends its TLS close, reads the data
//! connection to its end, then waits for the server's `226`. Plain FTP stays on OpenDAL.
//!
//! The server certificate is checked against the system roots plus `storage.ftp.ca_file` (a PEM
//! bundle, for servers with a private CA); it is never skipped. A certificate in that file that is
//! the server's own (a self-signed one made with `openssl req -x509`, say) is trusted as exactly
//! that certificate: pinned, whatever its name or CA flags say.

use std::ops::Range;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use suppaftp::tokio::{AsyncRustlsConnector, AsyncRustlsStream, ImplAsyncFtpStream};
use suppaftp::tokio_rustls::TlsConnector;
use suppaftp::tokio_rustls::rustls::client::WebPkiServerVerifier;
use suppaftp::tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use suppaftp::tokio_rustls::rustls::{ClientConfig, RootCertStore};
use suppaftp::tokio_rustls::rustls::{DigitallySignedStruct, Error as TlsError, SignatureScheme};
use suppaftp::types::FileType;
use suppaftp::{FtpError, Status};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::resume::{self, Opening, Reopen, take_notes};
use super::{DirEntry, FileServer, KeepAlive, ObjectMeta, Op, Storage, StorageError};
use crate::secret::Masker;
use crate::transport::Reader;

type Ftp = ImplAsyncFtpStream<AsyncRustlsStream>;

pub struct Ftps {
    inner: Arc<Inner>,
}

struct Inner {
    srv: FileServer,
    ca_file: Option<PathBuf>,
}

impl std::ops::Deref for Inner {
    type Target = FileServer;
    fn deref(&self) -> &FileServer {
        &self.srv
    }
}

pub fn open(l: super::Login, masker: Masker) -> Ftps {
    let server = format!("FTPS server {}:{}", l.host, l.port);
    let (srv, ca_file) = FileServer::new(l, server, masker);
    Ftps {
        inner: Arc::new(Inner {
            srv,
            ca_file: ca_file.map(PathBuf::from),
        }),
    }
}

/// Every certificate of `storage.ftp.ca_file`, each trusted as itself when the server shows it.
fn roots_pinned(file: &Option<PathBuf>) -> Result<Vec<CertificateDer<'static>>, String> {
    let Some(file) = file else {
        return Ok(Vec::new());
    };
    CertificateDer::pem_file_iter(file)
        .map_err(|e| format!("storage.ftp.ca_file {}: {e}", file.display()))?
        .map(|c| c.map_err(|e| format!("storage.ftp.ca_file {}: {e}", file.display())))
        .collect()
}

/// The usual checks (system roots and `ca_file` as issuers), except that a server certificate
/// that is byte for byte one of `ca_file`'s is trusted as that server's own. The handshake
/// signatures are checked as always: the server must hold the certificate's key.
#[derive(Debug)]
struct Pinned {
    inner: Arc<WebPkiServerVerifier>,
    pinned: Vec<CertificateDer<'static>>,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        if self
            .pinned
            .iter()
            .any(|c| c.as_ref() == end_entity.as_ref())
        {
            return Ok(ServerCertVerified::assertion());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Runs one exchange with the server under the time limit.
async fn timed<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = Result<T, FtpError>>,
) -> Result<T, FtpError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(FtpError::ConnectionError(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no answer within {}s (storage.timeout)", limit.as_secs()),
        ))),
    }
}

/// One write or read on a data connection, under the time limit.
async fn within<T>(
    limit: Duration,
    fut: impl std::future::Future<Output = std::io::Result<T>>,
) -> std::io::Result<T> {
    tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
        Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("no progress within {}s (storage.timeout)", limit.as_secs()),
        ))
    })
}

fn status(e: &FtpError) -> Option<Status> {
    match e {
        FtpError::UnexpectedResponse(r) => Some(r.status),
        _ => None,
    }
}

impl Inner {
    fn error(&self, op: &'static str, object: &str, e: FtpError) -> StorageError {
        let (message, not_found) = match status(&e) {
            Some(Status::FileUnavailable) => ("no such object".to_string(), true),
            Some(Status::NotLoggedIn) => (
                "the server refused the credentials; check storage.ftp.user, storage.ftp.password"
                    .to_string(),
                false,
            ),
            _ => match &e {
                FtpError::SecureError(m) => (
                    format!(
                        "TLS: {m}; {}",
                        if self.ca_file.is_some() {
                            "the server's certificate is neither the one in storage.ftp.ca_file nor issued by a CA there"
                        } else {
                            "give the server's certificate (or its private CA) as storage.ftp.ca_file"
                        }
                    ),
                    false,
                ),
                FtpError::ConnectionError(io) => (
                    format!(
                        "{io}; check storage.ftp.host, storage.ftp.port, and that the server is up"
                    ),
                    false,
                ),
                other => (other.to_string(), false),
            },
        };
        self.fail(op, object, message, not_found)
    }

    fn tls(&self) -> Result<ClientConfig, String> {
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            let _ = roots.add(cert);
        }
        let pinned: Vec<CertificateDer<'static>> = roots_pinned(&self.ca_file)?;
        // Each is an issuer too (a private CA); one that cannot be is still pinned as itself.
        for cert in &pinned {
            let _ = roots.add(cert.clone());
        }
        if pinned.is_empty() {
            return Ok(ClientConfig::builder()
                .with_root_certificates(roots)
                .with_no_client_auth());
        }
        let inner = WebPkiServerVerifier::builder(Arc::new(roots))
            .build()
            .map_err(|e| format!("storage.ftp.ca_file: {e}"))?;
        Ok(ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Pinned { inner, pinned }))
            .with_no_client_auth())
    }

    /// A new control connection: TCP, `AUTH TLS`, login, binary mode.
    async fn connect(&self, op: &'static str, object: &str) -> Result<Ftp, StorageError> {
        let tls = self.tls().map_err(|m| self.fail(op, object, m, false))?;
        let connector = AsyncRustlsConnector::from(TlsConnector::from(Arc::new(tls)));
        timed(self.timeout, async {
            let ftp = Ftp::connect((self.host.as_str(), self.port)).await?;
            let mut ftp = ftp.into_secure(connector, &self.host).await?;
            ftp.login(self.user.as_str(), self.password.as_str())
                .await?;
            ftp.transfer_type(FileType::Binary).await?;
            Ok(ftp)
        })
        .await
        .map_err(|e| self.error(op, object, e))
    }
}

impl Reopen for Inner {
    /// A reader of `name` from `start` for `len` bytes: `REST start`, then `RETR`.
    fn reopen(self: Arc<Self>, name: String, start: u64, len: u64) -> Opening {
        Box::pin(async move {
            let name = name.as_str();
            let mut ftp = self.connect("get", name).await?;
            let path = self.path(name);
            let data = timed(self.timeout, async {
                if start > 0 {
                    ftp.resume_transfer(start as usize).await?;
                }
                ftp.retr_as_stream(path.as_str()).await
            })
            .await
            .map_err(|e| self.error("get", name, e))?;
            let reader: Reader = Box::new(KeepAlive {
                reader: data.take(len),
                _keep: ftp,
            });
            Ok(reader)
        })
    }

    fn notes(&self) -> (Arc<Mutex<Vec<String>>>, Masker) {
        (self.retries.clone(), self.masker.clone())
    }
}

impl Storage for Ftps {
    fn describe(&self) -> String {
        self.inner.server.clone()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>> {
        Box::pin(async move {
            let inner = &self.inner;
            let mut ftp = inner.connect("list", "").await?;
            // A root folder that is not there is said at once, not waited for.
            let root = inner.root.path("");
            if let Err(e) = timed(inner.timeout, ftp.cwd(root.as_str())).await {
                let _ = timed(inner.timeout, ftp.quit()).await;
                return Err(match status(&e) {
                    Some(Status::FileUnavailable) => inner.fail(
                        "list",
                        "",
                        format!("the folder `{root}` does not exist on the server; check storage.ftp.path (a backup makes it)"),
                        false,
                    ),
                    _ => inner.error("list", "", e),
                });
            }
            let mut walk = inner.root.walk();
            while let Some((full, dir)) = walk.next_folder() {
                let lines = timed(inner.timeout, ftp.list(Some(full.as_str())))
                    .await
                    .map_err(|e| inner.error("list", &dir, e))?;
                let entries = lines
                    .iter()
                    .filter_map(|l| suppaftp::list::File::from_str(l).ok())
                    .map(|f| DirEntry {
                        name: f.name().rsplit('/').next().unwrap_or(f.name()).to_string(),
                        is_dir: f.is_directory(),
                        size: f.size() as u64,
                        modified: Some(chrono::DateTime::<chrono::Utc>::from(f.modified())),
                    });
                walk.add(&dir, entries);
            }
            let _ = timed(inner.timeout, ftp.quit()).await;
            Ok(walk.finish(prefix))
        })
    }

    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta> {
        Box::pin(async move {
            let inner = &self.inner;
            let mut ftp = inner.connect("stat", name).await?;
            let path = inner.path(name);
            let size = timed(inner.timeout, ftp.size(path.as_str()))
                .await
                .map_err(|e| inner.error("stat", name, e))?;
            let modified = timed(inner.timeout, ftp.mdtm(path.as_str()))
                .await
                .ok()
                .map(|t| t.and_utc());
            let _ = timed(inner.timeout, ftp.quit()).await;
            Ok(ObjectMeta {
                name: name.to_string(),
                size: size as u64,
                modified,
            })
        })
    }

    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader> {
        Box::pin(resume::get(self, &self.inner, name, range))
    }

    fn put<'a>(&'a self, name: &'a str, mut data: Reader) -> Op<'a, u64> {
        Box::pin(async move {
            let inner = &self.inner;
            let mut ftp = inner.connect("put", name).await?;
            let path = inner.path(name);
            // The root folder too, as plain FTP makes it: a server that has it answers 550.
            for dir in inner
                .root
                .own_folders()
                .into_iter()
                .chain(inner.root.parents(name))
            {
                let _ = timed(inner.timeout, ftp.mkdir(dir.as_str())).await;
            }
            // Written beside the target, renamed into place once the server confirmed it whole.
            let part = format!("{path}.part");
            let mut stream = timed(inner.timeout, ftp.put_with_stream(part.as_str()))
                .await
                .map_err(|e| inner.error("put", name, e))?;
            let copied = async {
                let mut buf = vec![0u8; 1 << 20];
                let mut total = 0u64;
                loop {
                    let n = data.read(&mut buf).await?;
                    if n == 0 {
                        break;
                    }
                    within(inner.timeout, stream.write_all(&buf[..n])).await?;
                    total += n as u64;
                }
                // TLS close, then read the data connection to its end, so that closing it does
                // not reset what the server has yet to read.
                within(inner.timeout, async {
                    stream.shutdown().await?;
                    let mut sink = [0u8; 4096];
                    while stream.read(&mut sink).await? > 0 {}
                    Ok(())
                })
                .await?;
                Ok::<u64, std::io::Error>(total)
            }
            .await;
            let total = match copied {
                Ok(n) => n,
                Err(e) => {
                    let _ = timed(inner.timeout, ftp.close_data_connection(stream)).await;
                    let _ = timed(inner.timeout, ftp.rm(part.as_str())).await;
                    return Err(inner.fail("put", name, e.to_string(), false));
                }
            };
            timed(inner.timeout, ftp.close_data_connection(stream))
                .await
                .map_err(|e| inner.error("put", name, e))?;
            // Servers that will not rename over an existing file get the old one removed first.
            if timed(inner.timeout, ftp.rename(part.as_str(), path.as_str()))
                .await
                .is_err()
            {
                let _ = timed(inner.timeout, ftp.rm(path.as_str())).await;
                timed(inner.timeout, ftp.rename(part.as_str(), path.as_str()))
                    .await
                    .map_err(|e| inner.error("put", name, e))?;
            }
            let _ = timed(inner.timeout, ftp.quit()).await;
            Ok(total)
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()> {
        Box::pin(async move {
            let mut ftp = self.inner.connect("delete", name).await?;
            let res = match timed(self.inner.timeout, ftp.rm(self.inner.path(name).as_str())).await
            {
                Err(e) if status(&e) == Some(Status::FileUnavailable) => Ok(()),
                r => r.map_err(|e| self.inner.error("delete", name, e)),
            };
            let _ = timed(self.inner.timeout, ftp.quit()).await;
            res
        })
    }

    fn retries(&self, object: Option<&str>) -> Vec<String> {
        take_notes(&self.inner.retries, object)
    }
}
