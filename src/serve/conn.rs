//! Connections: each accepted stream is served as HTTP/1.1 by hyper, with a time limit on a
//! request's headers (a client that opens a connection and sends half a request is dropped after
//! [`HEADERS_WITHIN`], as is one that keeps a connection idle between requests), and the client's
//! address handed to the handlers as `ConnectInfo<Peer>`. Ctrl-C stops accepting and lets the
//! requests in flight finish.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;

use super::tls::Peer;

/// The longest a client may take to send a request's headers.
pub const HEADERS_WITHIN: Duration = Duration::from_secs(10);

/// Serves `app` on every connection `listener` accepts until `shutdown` completes.
pub async fn serve<L>(mut listener: L, app: Router, shutdown: impl std::future::Future<Output = ()>)
where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let mut shutdown = std::pin::pin!(shutdown);
    let closing = tokio_util::sync::CancellationToken::new();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let service = TowerToHyperService::new(tower::util::MapRequest::new(
            app.clone(),
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(Peer(addr)));
                req
            },
        ));
        let closing = closing.clone();
        connections.spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADERS_WITHIN);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = closing.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(10), conn).await;
                }
            }
        });
        // Finished connections are reaped as new ones come.
        while connections.try_join_next().is_some() {}
    }
    closing.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(15), async {
        while connections.join_next().await.is_some() {}
    })
    .await;
}
