//! HTTPS for `setup serve --tls-cert FILE --tls-key FILE`: rustls (the ring provider the rest of
//! the tool uses) behind axum's listener. A handshake that does not finish within ten seconds is
//! dropped; handshakes run beside each other.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A client's address, as handlers see it (`ConnectInfo<Peer>`), over HTTP or HTTPS.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub SocketAddr);

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: axum::serve::IncomingStream<'_, TlsListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

impl
    axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, tokio::net::TcpListener>>
    for Peer
{
    fn connect_info(stream: axum::serve::IncomingStream<'_, tokio::net::TcpListener>) -> Peer {
        Peer(*stream.remote_addr())
    }
}

/// Handshakes under way at once; one more makes the oldest give way.
const HANDSHAKES: usize = 256;
/// The longest a handshake may take.
const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);

/// Accepts TCP connections and does their TLS handshakes beside each other, so that a client
/// that stalls its handshake holds up nobody else. At most [`HANDSHAKES`] are under way: a new
/// connection beyond that makes the oldest handshake give way (clients that open connections and
/// never speak cannot keep a real one out), and none takes longer than [`HANDSHAKE_WITHIN`].
pub struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    /// The handshakes under way, oldest first, by a number that grows.
    pending: Arc<std::sync::Mutex<std::collections::BTreeMap<u64, tokio::task::AbortHandle>>>,
    next: u64,
    ready_tx: tokio::sync::mpsc::Sender<(Stream, SocketAddr)>,
    ready_rx: tokio::sync::mpsc::Receiver<(Stream, SocketAddr)>,
}

type Stream = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;

impl TlsListener {
    pub fn new(tcp: tokio::net::TcpListener, acceptor: tokio_rustls::TlsAcceptor) -> TlsListener {
        let (ready_tx, ready_rx) = tokio::sync::mpsc::channel(64);
        TlsListener {
            tcp,
            acceptor,
            pending: Arc::default(),
            next: 0,
            ready_tx,
            ready_rx,
        }
    }
}

/// The acceptor for a PEM certificate chain and its PEM private key.
pub fn acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|i| i.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("--tls-cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {}: no certificate in it",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("--tls-key {}: {e}", key.display()))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("--tls-cert and --tls-key do not make a TLS identity: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

impl axum::serve::Listener for TlsListener {
    type Io = Stream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            tokio::select! {
                Some(ready) = self.ready_rx.recv() => return ready,
                got = self.tcp.accept() => {
                    let Ok((tcp, addr)) = got else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let id = self.next;
                    self.next += 1;
                    let (acceptor, ready) = (self.acceptor.clone(), self.ready_tx.clone());
                    let pending = self.pending.clone();
                    // The task is held by the lock until its handle is recorded: it cannot finish
                    // (and remove itself) before it is listed.
                    let mut list = self.pending.lock().expect("handshakes");
                    while list.len() >= HANDSHAKES {
                        if let Some((_, oldest)) = list.pop_first() {
                            oldest.abort();
                        }
                    }
                    let task = tokio::spawn(async move {
                        let handshake = acceptor.accept(tcp);
                        let done = tokio::time::timeout(HANDSHAKE_WITHIN, handshake).await;
                        pending.lock().expect("handshakes").remove(&id);
                        if let Ok(Ok(tls)) = done {
                            let _ = ready.send((tls, addr)).await;
                        }
                    });
                    list.insert(id, task.abort_handle());
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
