//! Backups at rest: compressed with zstd and encrypted with age (X25519 recipients) on the
//! controller as they stream to storage, and opened the same way, in the stream, on their way back.
//! The name says what was done: `NAME.tar.zst.age` is a tar, compressed, then encrypted.

use crate::transport::{Reader, Streamed};
use async_compression::tokio::{bufread::ZstdDecoder, write::ZstdEncoder};
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;

/// The bytes a stage reads at once, and the most one pipe between two stages holds: large enough
/// that the stages wake each other seldom, small enough that memory stays low.
const BUF: usize = 256 << 10;

/// Parses `age1...` recipients; each bad one is named.
pub fn recipients(list: &[String]) -> Result<Vec<crate::age::Recipient>, String> {
    list.iter()
        .map(|r| {
            r.trim()
                .parse::<crate::age::Recipient>()
                .map_err(|e| format!("`{r}` is not an age X25519 recipient (age1...): {e}"))
        })
        .collect()
}

/// The stored bytes of `plain`: zstd-compressed, then age-encrypted to every recipient. A failure
/// of the source or the compression is an error at the end of the stream, never a short object.
/// Reading the source (and hashing it, when the caller wraps it so), compressing and encrypting
/// each run on a task of their own, joined by bounded pipes: a pipeline over the cores, as
/// `tar | zstd | age` would be.
pub fn seal(plain: Reader, to: &[crate::age::Recipient]) -> Result<Reader, String> {
    if to.is_empty() {
        return Err("cannot encrypt: no recipient".into());
    }
    let to = to.to_vec();
    let read = stage(
        plain,
        "sealing the backup (reading)",
        |src, mut tx| async move {
            tokio::io::copy_buf(&mut tokio::io::BufReader::with_capacity(BUF, src), &mut tx)
                .await?;
            tx.shutdown().await
        },
    );
    let compressed = stage(
        read,
        "sealing the backup (compressing)",
        |src, tx| async move {
            // The encoder writes in small pieces; they reach the pipe 256 KiB at a time.
            let mut z = ZstdEncoder::new(tokio::io::BufWriter::with_capacity(BUF, tx));
            tokio::io::copy_buf(&mut tokio::io::BufReader::with_capacity(BUF, src), &mut z).await?;
            // Ends the zstd frame, then the pipe.
            z.shutdown().await
        },
    );
    Ok(stage(
        compressed,
        "sealing the backup (encrypting)",
        |mut src, mut tx| async move {
            crate::age::encrypt(&mut src, &mut tx, &to).await?;
            tx.shutdown().await
        },
    ))
}

/// Runs `work` on a task of its own, from `src` into a bounded pipe whose other end is returned.
/// The end of the pipe is the end of the stream only if `work` finished: a failure anywhere up
/// the pipeline is an error at the end, never a short stream.
fn stage<F, Fut>(src: Reader, what: &'static str, work: F) -> Reader
where
    F: FnOnce(Reader, tokio::io::DuplexStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let (tx, rx) = tokio::io::duplex(BUF);
    let (done_tx, done_rx) = oneshot::channel();
    tokio::spawn(async move {
        let _ = done_tx.send(work(src, tx).await);
    });
    let done = Box::pin(async move {
        match done_rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(std::io::Error::other(format!("{what}: {e}"))),
            Err(_) => Err(std::io::Error::other(format!("{what}: stopped"))),
        }
    });
    Box::new(Streamed::new(Box::new(rx), done))
}

/// What a name says was done to the tar inside, outermost last.
pub fn layers(name: &str) -> (bool, bool) {
    let encrypted = name.ends_with(".age");
    let compressed = name.trim_end_matches(".age").ends_with(".zst");
    (compressed, encrypted)
}

/// The plain tar of a stored backup: decrypted with the identity file, then decompressed, as it
/// streams. A wrong or missing identity is an error here, before a byte of the tar is read.
pub async fn open(stored: Reader, name: &str, identity: Option<&str>) -> Result<Reader, String> {
    let (compressed, encrypted) = layers(name);
    let mut r = stored;
    if encrypted {
        let path = identity.ok_or_else(|| {
            format!("`{name}` is encrypted: give the path of its age identity file as the answer age_identity (e.g. SETUP_AGE_IDENTITY)")
        })?;
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("the age identity file {path} cannot be read: {e}"))?;
        let ids = crate::age::identities(&text);
        // The file's text holds the secret keys too: wiped once they are read.
        crate::age::wipe(&mut text.into_bytes());
        let ids =
            ids.map_err(|e| format!("the age identity file {path} holds no usable identity: {e}"))?;
        let mut src = tokio::io::BufReader::with_capacity(BUF, r);
        let key = match crate::age::open_header(&mut src, &ids).await {
            Ok(Some(key)) => key,
            Ok(None) => {
                return Err(format!(
                    "`{name}` was not encrypted to the identity in {path}: give the identity of one of the backup's recipients"
                ));
            }
            Err(e) => return Err(format!("`{name}` cannot be decrypted: {e}")),
        };
        r = stage(
            Box::new(src),
            "opening the backup (decrypting)",
            move |mut src, mut tx| async move {
                crate::age::decrypt(&mut src, &mut tx, &key).await?;
                tx.shutdown().await
            },
        );
    }
    if compressed {
        let mut z = ZstdDecoder::new(tokio::io::BufReader::with_capacity(BUF, r));
        // Read the input to its end, so that every stored byte is hashed.
        z.multiple_members(true);
        r = Box::new(z);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

    fn key() -> (crate::age::Identity, crate::age::Recipient) {
        let id = crate::age::Identity::generate();
        let r = id.to_public();
        (id, r)
    }

    #[tokio::test]
    async fn a_sealed_stream_opens_with_its_identity_only() {
        let (id, to) = key();
        let plain: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let mut stored = Vec::new();
        seal(Box::new(std::io::Cursor::new(plain.clone())), &[to])
            .unwrap()
            .read_to_end(&mut stored)
            .await
            .unwrap();
        assert!(
            stored.len() < plain.len() / 10,
            "compressed: {}",
            stored.len()
        );
        assert!(!stored.windows(16).any(|w| w == &plain[1000..1016]));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("id.txt");
        std::fs::write(&file, id.to_secret_string()).unwrap();
        let f = file.to_str().unwrap();
        let mut back = Vec::new();
        open(
            Box::new(std::io::Cursor::new(stored.clone())),
            "x.tar.zst.age",
            Some(f),
        )
        .await
        .unwrap()
        .read_to_end(&mut back)
        .await
        .unwrap();
        assert_eq!(back, plain);
        // Another identity, or none: a clear refusal before any byte.
        let (other, _) = key();
        std::fs::write(&file, other.to_secret_string()).unwrap();
        let e = open(
            Box::new(std::io::Cursor::new(stored.clone())),
            "x.tar.zst.age",
            Some(f),
        )
        .await
        .err()
        .unwrap();
        assert!(e.contains("was not encrypted to the identity"), "{e}");
        let e = open(
            Box::new(std::io::Cursor::new(stored.clone())),
            "x.tar.zst.age",
            None,
        )
        .await
        .err()
        .unwrap();
        assert!(e.contains("age_identity"), "{e}");
        // A flipped byte: decryption fails in the stream.
        std::fs::write(&file, id.to_secret_string()).unwrap();
        let mut bad = stored;
        let n = bad.len() - 20;
        bad[n] ^= 1;
        let mut out = Vec::new();
        let r = open(
            Box::new(std::io::Cursor::new(bad)),
            "x.tar.zst.age",
            Some(f),
        )
        .await
        .unwrap()
        .read_to_end(&mut out)
        .await;
        assert!(r.is_err());
    }

    #[tokio::test]
    async fn a_failing_source_is_an_error_not_a_short_object() {
        struct Broken(u8);
        impl AsyncRead for Broken {
            fn poll_read(
                mut self: Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<std::io::Result<()>> {
                if self.0 == 0 {
                    return Poll::Ready(Err(std::io::Error::other("host went away")));
                }
                self.0 -= 1;
                buf.put_slice(&[7u8; 1000]);
                Poll::Ready(Ok(()))
            }
        }
        let (_, to) = key();
        let mut out = Vec::new();
        let r = seal(Box::new(Broken(50)), &[to])
            .unwrap()
            .read_to_end(&mut out)
            .await;
        let e = r.err().unwrap().to_string();
        assert!(e.contains("host went away"), "{e}");
    }

    #[test]
    fn names_say_what_was_done() {
        assert_eq!(layers("a.tar"), (false, false));
        assert_eq!(layers("a.tar.zst"), (true, false));
        assert_eq!(layers("a.tar.zst.age"), (true, true));
        assert!(recipients(&["nope".into()]).is_err());
    }
}
