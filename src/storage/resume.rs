//! A download that survives a lost connection: on an error, or a stream that ends before the object
//! does, it opens the object again from the byte it reached (a ranged read, FTP `REST`, an SFTP seek),
//! after an exponential backoff, a bounded number of times in a row.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};

use super::StorageError;
use crate::secret::Masker;
use crate::transport::{BoxFut, Reader};

/// Opens the object at a byte offset; the reader it gives stops at the end of the wanted range.
pub type Open = Arc<dyn Fn(u64) -> BoxFut<'static, Result<Reader, String>> + Send + Sync>;

/// Opens `len` bytes of the object from a byte offset.
type OpenAt = Arc<dyn Fn(u64, u64) -> BoxFut<'static, Result<Reader, StorageError>> + Send + Sync>;

/// A resumable reader of `range` (default: all) of an object of `size` bytes. The first open happens
/// here, so that a missing object or a refused login is an error of the call, not of the first read.
async fn resumable(
    object: &str,
    size: u64,
    range: Option<std::ops::Range<u64>>,
    open_at: OpenAt,
    notes: Arc<Mutex<Vec<String>>>,
    masker: Masker,
) -> Result<Reader, StorageError> {
    let range = range.unwrap_or(0..size);
    let range = range.start.min(size)..range.end.min(size);
    let first = open_at(range.start, range.end - range.start).await?;
    let end = range.end;
    let open: Open = Arc::new(move |pos| {
        let f = open_at.clone();
        Box::pin(async move { f(pos, end - pos).await.map_err(|e| e.to_string()) })
    });
    Ok(Box::new(Resuming::new(
        open, first, object, range, notes, masker,
    )))
}

/// An object opened at an offset.
pub type Opening = BoxFut<'static, Result<Reader, StorageError>>;

/// A backend that can open an object again at an offset, and gathers notes of what it retried.
pub trait Reopen: Send + Sync + 'static {
    /// `len` bytes of `name` from byte `start`.
    fn reopen(self: Arc<Self>, name: String, start: u64, len: u64) -> Opening;
    /// Where resumptions are noted, and what to mask in the notes.
    fn notes(&self) -> (Arc<Mutex<Vec<String>>>, Masker);
}

/// `Storage::get` for a file server that reopens by itself: the object's size from `stat`, then
/// `range` (default: all) of it, resumed from its offset after a fault.
pub async fn get<T: Reopen>(
    storage: &dyn super::Storage,
    this: &Arc<T>,
    name: &str,
    range: Option<std::ops::Range<u64>>,
) -> Result<Reader, StorageError> {
    let size = storage.stat(name).await?.size;
    let (inner, object) = (this.clone(), name.to_string());
    let open_at: OpenAt = Arc::new(move |pos, len| inner.clone().reopen(object.clone(), pos, len));
    let (notes, masker) = this.notes();
    resumable(name, size, range, open_at, notes, masker).await
}

/// Hands over the notes gathered so far that name `object` (all of them for `None`); the others
/// stay for whoever reads that object.
pub fn take_notes(notes: &Mutex<Vec<String>>, object: Option<&str>) -> Vec<String> {
    let Ok(mut v) = notes.lock() else {
        return Vec::new();
    };
    let (mine, rest) = std::mem::take(&mut *v)
        .into_iter()
        .partition(|n: &String| object.is_none_or(|o| n.contains(o)));
    *v = rest;
    mine
}

/// Attempts in a row without a byte read before the download gives up.
const MAX_RETRIES: u32 = 5;

enum State {
    Reading(Reader),
    Opening(BoxFut<'static, Result<Reader, String>>),
}

pub struct Resuming {
    open: Open,
    object: String,
    pos: u64,
    end: u64,
    state: State,
    failures: u32,
    notes: Arc<Mutex<Vec<String>>>,
    masker: Masker,
}

impl Resuming {
    /// `first` reads `start..end`; `notes` gets one masked line per resumption.
    pub fn new(
        open: Open,
        first: Reader,
        object: &str,
        range: std::ops::Range<u64>,
        notes: Arc<Mutex<Vec<String>>>,
        masker: Masker,
    ) -> Resuming {
        Resuming {
            open,
            object: object.to_string(),
            pos: range.start,
            end: range.end,
            state: State::Reading(first),
            failures: 0,
            notes,
            masker,
        }
    }

    /// Schedules a fresh open at the current offset, or gives up.
    fn retry(&mut self, why: String) -> std::io::Result<()> {
        let why = self.masker.mask(&why);
        if self.failures >= MAX_RETRIES {
            return Err(std::io::Error::other(format!(
                "{why}; gave up after {MAX_RETRIES} attempts to resume `{}` at byte {}",
                self.object, self.pos
            )));
        }
        self.failures += 1;
        let delay = Duration::from_millis(200u64 << self.failures);
        if let Ok(mut v) = self.notes.lock() {
            v.push(format!(
                "read `{}`: {why}; resuming from byte {} in {:.1}s (retry {})",
                self.object,
                self.pos,
                delay.as_secs_f64(),
                self.failures
            ));
        }
        let (open, pos) = (self.open.clone(), self.pos);
        self.state = State::Opening(Box::pin(async move {
            tokio::time::sleep(delay).await;
            open(pos).await
        }));
        Ok(())
    }
}

impl AsyncRead for Resuming {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.pos >= this.end {
                return Poll::Ready(Ok(()));
            }
            let why = match &mut this.state {
                State::Reading(r) => {
                    let before = buf.filled().len();
                    match Pin::new(r).poll_read(cx, buf) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Ok(())) => {
                            let n = (buf.filled().len() - before) as u64;
                            if n > 0 || buf.remaining() == 0 {
                                this.pos += n;
                                this.failures = 0;
                                return Poll::Ready(Ok(()));
                            }
                            format!("the connection ended at byte {} of {}", this.pos, this.end)
                        }
                        Poll::Ready(Err(e)) => e.to_string(),
                    }
                }
                State::Opening(f) => match f.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(r)) => {
                        this.state = State::Reading(r);
                        continue;
                    }
                    Poll::Ready(Err(e)) => e,
                },
            };
            if let Err(e) = this.retry(why) {
                return Poll::Ready(Err(e));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    /// A reader over `data[pos..]` that fails after `cut` bytes, the first `fails` times it is opened.
    fn flaky(data: Arc<Vec<u8>>, cut: usize, fails: Arc<Mutex<u32>>) -> Open {
        Arc::new(move |pos| {
            let (data, fails) = (data.clone(), fails.clone());
            Box::pin(async move {
                let rest = data[pos as usize..].to_vec();
                let mut left = fails.lock().unwrap();
                if *left > 0 && rest.len() > cut {
                    *left -= 1;
                    let head = std::io::Cursor::new(rest[..cut].to_vec());
                    let err = tokio::io::AsyncReadExt::chain(head, Broken);
                    return Ok(Box::new(err) as Reader);
                }
                Ok(Box::new(std::io::Cursor::new(rest)) as Reader)
            })
        })
    }

    struct Broken;
    impl AsyncRead for Broken {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "connection aborted",
            )))
        }
    }

    async fn read_all(fails: u32, cut: usize) -> (std::io::Result<Vec<u8>>, Vec<String>) {
        let data: Arc<Vec<u8>> = Arc::new((0..100_000u32).map(|i| (i % 251) as u8).collect());
        let open = flaky(data.clone(), cut, Arc::new(Mutex::new(fails)));
        let first = open(0).await.unwrap();
        let notes = Arc::new(Mutex::new(Vec::new()));
        let mut r = Resuming::new(
            open,
            first,
            "obj",
            0..data.len() as u64,
            notes.clone(),
            Masker::default(),
        );
        let mut out = Vec::new();
        let res = r.read_to_end(&mut out).await.map(|_| out);
        let notes = notes.lock().unwrap().clone();
        if let Ok(got) = &res {
            assert_eq!(got, &*data);
        }
        (res, notes)
    }

    #[test]
    fn notes_go_to_the_object_they_name() {
        let notes = Mutex::new(vec![
            "read `a.tar`: x".to_string(),
            "read `b.tar`: y".to_string(),
        ]);
        assert_eq!(take_notes(&notes, Some("b.tar")), ["read `b.tar`: y"]);
        assert_eq!(take_notes(&notes, None), ["read `a.tar`: x"]);
        assert!(take_notes(&notes, None).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn resumes_from_the_byte_reached() {
        let (res, notes) = read_all(3, 30_000).await;
        assert!(res.is_ok());
        assert_eq!(notes.len(), 3, "{notes:?}");
        assert!(notes[0].contains("resuming from byte 30000"), "{notes:?}");
        assert!(notes[1].contains("resuming from byte 60000"), "{notes:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn gives_up_when_no_byte_comes() {
        // Every open fails at once: no progress, so the retries run out.
        let (res, notes) = read_all(100, 0).await;
        let e = res.unwrap_err().to_string();
        assert!(e.contains("gave up after 5 attempts"), "{e}");
        assert_eq!(notes.len(), 5);
    }

    #[tokio::test(start_paused = true)]
    async fn a_short_stream_is_resumed_not_taken_as_the_end() {
        let data: Arc<Vec<u8>> = Arc::new(vec![7u8; 1000]);
        let d = data.clone();
        let open: Open = Arc::new(move |pos| {
            let d = d.clone();
            Box::pin(async move {
                Ok(Box::new(std::io::Cursor::new(d[pos as usize..].to_vec())) as Reader)
            })
        });
        let first: Reader = Box::new(std::io::Cursor::new(data[..400].to_vec()));
        let notes = Arc::new(Mutex::new(Vec::new()));
        let mut r = Resuming::new(open, first, "o", 0..1000, notes.clone(), Masker::default());
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, *data);
        assert!(notes.lock().unwrap()[0].contains("ended at byte 400 of 1000"));
    }
}
