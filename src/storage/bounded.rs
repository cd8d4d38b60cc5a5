//! A bound on the whole of a transfer, not only on each exchange: a server that answers every read
//! in time but sends a byte every few seconds would otherwise hold a restore forever. A download
//! that has waited `storage.timeout` in all for its next 64 KiB is cut. Only the time spent waiting
//! for the server counts: a slow consumer (a host writing slowly) never trips it.

use std::ops::Range;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::{ObjectMeta, Op, Storage};
use crate::transport::Reader;

/// What a server must send within one `storage.timeout` of waiting.
pub const MIN_BYTES: u64 = 64 << 10;

/// Every backend behind the bound.
pub struct Bounded {
    inner: Box<dyn Storage>,
    window: Duration,
}

impl Bounded {
    pub fn new(inner: Box<dyn Storage>, window: Duration) -> Bounded {
        Bounded { inner, window }
    }
}

impl Storage for Bounded {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>> {
        self.inner.list(prefix)
    }
    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta> {
        self.inner.stat(name)
    }
    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader> {
        Box::pin(async move {
            let r = self.inner.get(name, range).await?;
            Ok(Box::new(MinRate {
                inner: r,
                window: self.window,
                what: format!("`{}` from {}", super::shown(name), self.inner.describe()),
                bytes: 0,
                waited: Duration::ZERO,
                pending_since: None,
                sleep: None,
            }) as Reader)
        })
    }
    fn put<'a>(&'a self, name: &'a str, data: Reader) -> Op<'a, u64> {
        self.inner.put(name, data)
    }
    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()> {
        self.inner.delete(name)
    }
    fn retries(&self, object: Option<&str>) -> Vec<String> {
        self.inner.retries(object)
    }
    fn free_space(&self) -> Option<u64> {
        self.inner.free_space()
    }
}

struct MinRate {
    inner: Reader,
    window: Duration,
    what: String,
    /// Bytes since the last full 64 KiB.
    bytes: u64,
    /// Time spent waiting for the server since then, not counting the wait under way.
    waited: Duration,
    pending_since: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl MinRate {
    fn stalled(&self) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!(
                "{} sent {} bytes in {}s of waiting (less than {} KiB: storage.timeout bounds the whole transfer): the transfer was cut",
                self.what,
                self.bytes,
                self.window.as_secs(),
                MIN_BYTES >> 10
            ),
        )
    }
}

impl AsyncRead for MinRate {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if let Some(since) = this.pending_since.take() {
                    this.waited += since.elapsed();
                }
                this.sleep = None;
                let n = (buf.filled().len() - before) as u64;
                this.bytes += n;
                if this.bytes >= MIN_BYTES {
                    this.bytes = 0;
                    this.waited = Duration::ZERO;
                } else if n > 0 && this.waited >= this.window {
                    return Poll::Ready(Err(this.stalled()));
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let since = *this.pending_since.get_or_insert_with(Instant::now);
                let deadline = since + this.window.saturating_sub(this.waited);
                if Instant::now() >= deadline {
                    return Poll::Ready(Err(this.stalled()));
                }
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if sleep.deadline() != deadline {
                    sleep.as_mut().reset(deadline);
                }
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(this.stalled()));
                }
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// Sends `chunk` bytes every `every`, `times` times.
    fn drip(chunk: usize, every: Duration, times: usize) -> Reader {
        let (mut tx, rx) = tokio::io::duplex(1 << 20);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for _ in 0..times {
                tokio::time::sleep(every).await;
                if tx.write_all(&vec![7u8; chunk]).await.is_err() {
                    return;
                }
            }
        });
        Box::new(rx)
    }

    fn bounded(r: Reader, window: Duration) -> MinRate {
        MinRate {
            inner: r,
            window,
            what: "`x` from a test".into(),
            bytes: 0,
            waited: Duration::ZERO,
            pending_since: None,
            sleep: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_drip_is_cut_and_a_steady_stream_is_not() {
        // One byte every 2 s: in time for any one exchange, never 64 KiB in 10 s.
        let mut slow = bounded(
            drip(1, Duration::from_secs(2), 1000),
            Duration::from_secs(10),
        );
        let mut out = Vec::new();
        let e = slow.read_to_end(&mut out).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
        assert!(out.len() < 10, "cut after about five bytes: {}", out.len());
        // 64 KiB every 5 s keeps going, however long it takes in all.
        let mut steady = bounded(
            drip(64 << 10, Duration::from_secs(5), 20),
            Duration::from_secs(10),
        );
        let mut out = Vec::new();
        steady.read_to_end(&mut out).await.unwrap();
        assert_eq!(out.len(), 20 * (64 << 10));
    }
}
