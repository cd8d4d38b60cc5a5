//! A file read from an SSH host, checked against the digest the host reported.

use std::sync::Arc;

use openssh::Session;
use sha2::{Digest, Sha256};
use tokio::io::AsyncRead;

/// A download that fails at its end if its sha256 is not the one the host reported.
pub(super) struct Verified {
    pub(super) inner: Box<dyn AsyncRead + Send + Unpin>,
    pub(super) hasher: Sha256,
    pub(super) expected: String,
    pub(super) path: String,
    pub(super) _child: openssh::Child<Arc<Session>>,
}

impl AsyncRead for Verified {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &res {
            let n = buf.filled().len() - before;
            if n == 0 {
                let got = hex::encode(std::mem::take(&mut self.hasher).finalize());
                if got != self.expected {
                    return std::task::Poll::Ready(Err(std::io::Error::other(format!(
                        "{}: sha256 of what arrived ({got}) differs from the host's ({})",
                        self.path, self.expected
                    ))));
                }
            } else {
                let filled = buf.filled()[before..].to_vec();
                self.hasher.update(&filled);
            }
        }
        res
    }
}
