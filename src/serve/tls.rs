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

/// Accepts TCP connections and does their TLS handshakes beside each other (at most 256 at once;
/// more are dropped), so that a client that stalls its handshake holds up nobody else.
pub struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    pending: Arc<tokio::sync::Semaphore>,
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
            pending: Arc::new(tokio::sync::Semaphore::new(256)),
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
                    let Ok(slot) = self.pending.clone().try_acquire_owned() else {
                        continue;
                    };
                    let (acceptor, ready) = (self.acceptor.clone(), self.ready_tx.clone());
                    tokio::spawn(async move {
                        let handshake = acceptor.accept(tcp);
                        if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), handshake).await {
                            let _ = ready.send((tls, addr)).await;
                        }
                        drop(slot);
                    });
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}
