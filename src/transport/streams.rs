//! Reading and copying streams in buffers of fixed size, in constant memory.

use super::Reader;
use tokio::io::{AsyncRead, AsyncReadExt};

/// What a `put` wrote: its size and the sha256 of the bytes as they passed.
#[derive(Clone, Debug)]
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// Copies a stream, hashing it as it passes, in constant memory.
pub async fn copy_hashing<W: tokio::io::AsyncWrite + Unpin>(
    data: &mut Reader,
    out: &mut W,
) -> std::io::Result<Written> {
    use sha2::Digest;
    use tokio::io::AsyncWriteExt;
    const BUF: usize = 1024 * 1024;
    let mut hasher = sha2::Sha256::new();
    let (mut cur, mut next) = (vec![0u8; BUF], vec![0u8; BUF]);
    let mut bytes = 0u64;
    let mut n = read_at_least(data, &mut cur, BUF / 4).await?;
    // Reading the next buffer overlaps writing this one, so neither side waits on the other.
    while n > 0 {
        hasher.update(&cur[..n]);
        bytes += n as u64;
        let (written, read) = tokio::join!(
            out.write_all(&cur[..n]),
            read_at_least(data, &mut next, BUF / 4)
        );
        written?;
        n = read?;
        std::mem::swap(&mut cur, &mut next);
    }
    out.flush().await?;
    Ok(Written {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// Reads until `min` bytes of `buf` are filled or the stream ends; returns the count (0 at the end).
async fn read_at_least(data: &mut Reader, buf: &mut [u8], min: usize) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < min.min(buf.len()) {
        let n = data.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

/// The next `size` bytes of a stream in a buffer of their own (fewer only at its end; empty at
/// the end), read into fresh memory that is never zeroed first.
pub async fn fill(data: &mut Reader, size: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(size);
    // `read_buf` reads into the spare capacity only, so the buffer never grows past `size`.
    while buf.len() < size {
        if data.read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    Ok(buf)
}

/// Reads a stream to its end, keeping at most `cap` bytes.
pub async fn read_capped(mut r: impl AsyncRead + Unpin, cap: usize) -> (String, bool) {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let mut truncated = false;
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
                truncated |= n > room;
            }
        }
    }
    (String::from_utf8_lossy(&kept).into_owned(), truncated)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fill_gathers_short_reads_into_whole_buffers_and_never_grows_one() {
        let bytes: Vec<u8> = (0..2500u32).map(|i| (i % 251) as u8).collect();
        let (a, b) = bytes.split_at(1000);
        // Two sources read one after the other: the first read of each stops at its end.
        let mut data: Reader =
            Box::new(std::io::Cursor::new(a.to_vec()).chain(std::io::Cursor::new(b.to_vec())));
        let mut got = Vec::new();
        loop {
            let buf = fill(&mut data, 1024).await.unwrap();
            assert!(
                buf.capacity() == 1024,
                "a buffer grew to {}",
                buf.capacity()
            );
            if buf.is_empty() {
                break;
            }
            got.push(buf);
        }
        assert_eq!(
            got.iter().map(Vec::len).collect::<Vec<_>>(),
            [1024, 1024, 452]
        );
        assert_eq!(got.concat(), bytes);
    }
}
