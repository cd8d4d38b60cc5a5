//! The age file format (age-encryption.org/v1) with X25519 recipients: what `age -r age1...` writes and
//! `age -d -i FILE` reads, byte for byte, on the ring primitives the TLS stack already builds
//! (ChaCha20-Poly1305, HKDF-SHA-256, HMAC-SHA-256) and the X25519 of curve25519-dalek that SSH uses.
//!
//! A file is a header (a version line, one stanza per recipient, a MAC over both) and a payload: a
//! 16-byte nonce, then the plaintext in 64 KiB chunks, each sealed with ChaCha20-Poly1305 under a key
//! derived from the file key and that nonce; the nonce of a chunk is its counter and a flag marking the
//! last chunk, so a stream cut short, reordered or extended fails to open.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use curve25519_dalek::montgomery::MontgomeryPoint;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{hkdf, hmac};
use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt,
};

const VERSION: &str = "age-encryption.org/v1";
const X25519_INFO: &[u8] = b"age-encryption.org/v1/X25519";
/// Plaintext bytes per payload chunk; each sealed chunk carries a 16-byte tag more.
pub const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;
/// No real header comes near this; a stream that does is not an age file.
const MAX_HEADER: usize = 64 * 1024;

/// An X25519 recipient, `age1...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient([u8; 32]);

/// An X25519 identity, `AGE-SECRET-KEY-1...`. Never printed: it has no `Display` and a redacted `Debug`;
/// its bytes are overwritten with zeros when it is dropped.
pub struct Identity([u8; 32]);

impl Drop for Identity {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites `buf` with zeros, as a store the compiler may not leave out because nothing reads
/// the bytes afterwards: how a key leaves no copy behind in memory this module is done with.
pub fn wipe(buf: &mut [u8]) {
    for b in buf.iter_mut() {
        // SAFETY: `b` is a valid, aligned and exclusive reference to one byte.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
    std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
}

/// Secret bytes that are overwritten with zeros when dropped: a file key, a derived key, a share.
pub struct Wiped<const N: usize>([u8; N]);

impl<const N: usize> Drop for Wiped<N> {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// The key of an age file's payload, found by [`open_header`]. Wiped when dropped.
pub type PayloadKey = Wiped<32>;

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Identity(..)")
    }
}

impl std::str::FromStr for Recipient {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (hrp, data) = bech32::decode(s)?;
        if hrp != "age" {
            return Err(format!("starts with `{hrp}1`, not `age1`"));
        }
        Ok(Recipient(
            data.try_into()
                .map_err(|_| "is not 32 bytes long".to_string())?,
        ))
    }
}

impl std::fmt::Display for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&bech32::encode("age", &self.0))
    }
}

impl Identity {
    #[cfg(test)]
    pub fn generate() -> Identity {
        let mut k = [0u8; 32];
        fill(&mut k);
        Identity(k)
    }

    /// One line of an identity file; the error never holds the line.
    pub fn parse(s: &str) -> Result<Identity, String> {
        let (hrp, mut data) =
            bech32::decode(s).map_err(|_| "is not an age identity".to_string())?;
        let key = <[u8; 32]>::try_from(&data[..]);
        wipe(&mut data);
        if hrp != "age-secret-key-" || !s.starts_with("AGE-SECRET-KEY-1") {
            return Err("is not an X25519 identity (AGE-SECRET-KEY-1...)".into());
        }
        Ok(Identity(
            key.map_err(|_| "is not 32 bytes long".to_string())?,
        ))
    }

    /// The identity as its file holds it. Only for writing such a file.
    #[cfg(test)]
    pub fn to_secret_string(&self) -> String {
        bech32::encode("age-secret-key-", &self.0).to_uppercase()
    }

    pub fn to_public(&self) -> Recipient {
        Recipient(MontgomeryPoint::mul_base_clamped(self.0).to_bytes())
    }
}

/// The identities of an identity file: one per line, `#` comments and blank lines skipped. An error
/// names the line, never its text.
pub fn identities(text: &str) -> Result<Vec<Identity>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(Identity::parse(line).map_err(|e| format!("line {} {e}", i + 1))?);
    }
    if out.is_empty() {
        return Err("no identity in it".into());
    }
    Ok(out)
}

fn fill(buf: &mut [u8]) {
    SystemRandom::new()
        .fill(buf)
        .expect("the system's random source answers");
}

struct Len(usize);
impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn hkdf32(ikm: &[u8], salt: &[u8], info: &[u8]) -> Wiped<32> {
    let mut out = Wiped([0u8; 32]);
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], Len(32))
        .and_then(|okm| okm.fill(&mut out.0))
        .expect("32 bytes are within HKDF-SHA-256's output");
    out
}

fn aead(key: &Wiped<32>) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, &key.0).expect("a 32-byte key"))
}

/// X25519 of `secret` and `point`; refuses the all-zero result of a low-order point.
fn x25519(secret: &[u8; 32], point: [u8; 32]) -> Result<Wiped<32>, String> {
    let shared = Wiped(MontgomeryPoint(point).mul_clamped(*secret).to_bytes());
    if shared.0 == [0u8; 32] {
        return Err("an X25519 share is a low-order point".into());
    }
    Ok(shared)
}

/// The key that wraps the file key for the X25519 recipient `to`, from the shared secret.
fn wrap_key(shared: &Wiped<32>, share: &[u8; 32], to: &Recipient) -> LessSafeKey {
    let mut salt = share.to_vec();
    salt.extend_from_slice(&to.0);
    aead(&hkdf32(&shared.0, &salt, X25519_INFO))
}

fn mac_key(file_key: &Wiped<16>) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, &hkdf32(&file_key.0, &[], b"header").0)
}

/// The header for `to`, and the file key it wraps.
fn header(to: &[Recipient]) -> Result<(Vec<u8>, Wiped<16>), String> {
    if to.is_empty() {
        return Err("no recipient to encrypt to".into());
    }
    let mut file_key = Wiped([0u8; 16]);
    fill(&mut file_key.0);
    let mut h = format!("{VERSION}\n");
    for r in to {
        let mut eph = Wiped([0u8; 32]);
        fill(&mut eph.0);
        let share = MontgomeryPoint::mul_base_clamped(eph.0).to_bytes();
        let shared = x25519(&eph.0, r.0)?;
        let mut body = file_key.0.to_vec();
        wrap_key(&shared, &share, r)
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key([0; 12]),
                Aad::empty(),
                &mut body,
            )
            .map_err(|_| "cannot wrap the file key".to_string())?;
        h += &encode_stanza(&["X25519", &B64.encode(share)], &body);
    }
    h += "---";
    let mac = hmac::sign(&mac_key(&file_key), h.as_bytes());
    h += &format!(" {}\n", B64.encode(mac.as_ref()));
    Ok((h.into_bytes(), file_key))
}

fn chunk_nonce(counter: u64, last: bool) -> Nonce {
    // 11 bytes of counter: more chunks than 2^64 never come, so the top 3 bytes stay zero.
    let mut n = [0u8; 12];
    n[3..11].copy_from_slice(&counter.to_be_bytes());
    n[11] = last as u8;
    Nonce::assume_unique_for_key(n)
}

/// Reads until `buf` is full or the stream ends; the number of bytes read.
async fn read_full<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]).await? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Encrypts all of `src` to `to` into `dst`, as `age -r` does. `dst` is flushed, not shut down.
pub async fn encrypt<R, W>(src: &mut R, dst: &mut W, to: &[Recipient]) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let (head, file_key) = header(to).map_err(std::io::Error::other)?;
    let mut nonce = [0u8; 16];
    fill(&mut nonce);
    dst.write_all(&head).await?;
    dst.write_all(&nonce).await?;
    let key = aead(&hkdf32(&file_key.0, &nonce, b"payload"));
    drop(file_key);
    let mut chunks = Chunks::new(CHUNK);
    while let Some((buf, n, counter, last)) = chunks.next(src).await? {
        let tag = key
            .seal_in_place_separate_tag(chunk_nonce(counter, last), Aad::empty(), &mut buf[..n])
            .map_err(|_| std::io::Error::other("cannot seal a chunk"))?;
        buf[n..n + TAG].copy_from_slice(tag.as_ref());
        dst.write_all(&buf[..n + TAG]).await?;
    }
    dst.flush().await
}

/// A stream read in chunks of `size` bytes, one chunk ahead: a chunk is the last when the stream
/// ends within it or right after it. Each buffer has room for a tag after its chunk.
struct Chunks {
    cur: Vec<u8>,
    next: Vec<u8>,
    size: usize,
    /// Bytes in `cur`, then in `next`.
    n: usize,
    m: usize,
    counter: u64,
    started: bool,
    ended: bool,
}

impl Chunks {
    fn new(size: usize) -> Chunks {
        Chunks {
            cur: vec![0; size + TAG],
            next: vec![0; size + TAG],
            size,
            n: 0,
            m: 0,
            counter: 0,
            started: false,
            ended: false,
        }
    }

    /// The next chunk: its buffer, its length, its counter and whether it is the last; `None` after
    /// the last.
    async fn next<R: AsyncRead + Unpin>(
        &mut self,
        src: &mut R,
    ) -> std::io::Result<Option<(&mut [u8], usize, u64, bool)>> {
        if self.ended {
            return Ok(None);
        }
        if self.started {
            std::mem::swap(&mut self.cur, &mut self.next);
            self.n = self.m;
            self.counter += 1;
        } else {
            self.n = read_full(src, &mut self.cur[..self.size]).await?;
            self.started = true;
        }
        self.ended = self.n < self.size || {
            self.m = read_full(src, &mut self.next[..self.size]).await?;
            self.m == 0
        };
        Ok(Some((&mut self.cur, self.n, self.counter, self.ended)))
    }
}

impl Drop for Chunks {
    /// The buffers held plaintext.
    fn drop(&mut self) {
        wipe(&mut self.cur);
        wipe(&mut self.next);
    }
}

/// Reads the header of `src` and the payload's nonce that follows it, and finds the payload's key
/// with one of `ids`. `Ok(None)` when the file was encrypted to none of them; an error when the
/// stream is not an age file or its header was changed. The file key itself is wiped here.
pub async fn open_header<R: AsyncBufRead + Unpin>(
    src: &mut R,
    ids: &[Identity],
) -> Result<Option<PayloadKey>, String> {
    let mut text = Vec::new();
    loop {
        let start = text.len();
        let n = (&mut *src)
            .take((MAX_HEADER - start.min(MAX_HEADER)) as u64)
            .read_until(b'\n', &mut text)
            .await
            .map_err(|e| format!("reading the header: {e}"))?;
        if n == 0 || text.last() != Some(&b'\n') {
            return Err("the header ends early, or is too long".into());
        }
        // Not an age file: said at once, not after reading 64 KiB of something else.
        if start == 0 && text != format!("{VERSION}\n").as_bytes() {
            return Err(format!("the first line is not `{VERSION}`"));
        }
        if text[start..].starts_with(b"---") {
            break;
        }
    }
    let header = parse_header(&text)?;
    let Some(file_key) = unwrap_key(&header, ids)? else {
        return Ok(None);
    };
    hmac::verify(&mac_key(&file_key), &text[..header.covered], &header.mac)
        .map_err(|_| "the header was changed: its MAC does not match".to_string())?;
    let mut nonce = [0u8; 16];
    let n = read_full(src, &mut nonce)
        .await
        .map_err(|e| format!("reading the payload's nonce: {e}"))?;
    if n < 16 {
        return Err("the file ends before its payload's nonce".into());
    }
    Ok(Some(hkdf32(&file_key.0, &nonce, b"payload")))
}

/// The file key, from the first X25519 stanza that one of `ids` opens. An X25519 stanza read before
/// it that is malformed is an error; stanzas of other types are passed over.
fn unwrap_key(header: &Header, ids: &[Identity]) -> Result<Option<Wiped<16>>, String> {
    const MALFORMED: &str = "an X25519 stanza is malformed";
    for s in &header.stanzas {
        if s.args[0] != "X25519" {
            continue;
        }
        let share: [u8; 32] = match &s.args[1..] {
            [a] => B64.decode(a).ok().and_then(|v| v.try_into().ok()),
            _ => None,
        }
        .ok_or(MALFORMED)?;
        if s.body.len() != 16 + TAG {
            return Err(MALFORMED.into());
        }
        for id in ids {
            let shared = x25519(&id.0, share).map_err(|e| format!("{MALFORMED}: {e}"))?;
            let mut b = s.body.clone();
            let opened = wrap_key(&shared, &share, &id.to_public())
                .open_in_place(Nonce::assume_unique_for_key([0; 12]), Aad::empty(), &mut b)
                .map(|k| Wiped(<[u8; 16]>::try_from(&k[..]).expect("16 bytes and a tag")));
            wipe(&mut b);
            if let Ok(key) = opened {
                return Ok(Some(key));
            }
        }
    }
    Ok(None)
}

/// Decrypts the payload that follows a header opened by [`open_header`] into `dst`. Every chunk is
/// checked before it is written; a stream cut short, extended or changed is an error.
pub async fn decrypt<R, W>(src: &mut R, dst: &mut W, key: &PayloadKey) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let bad = |what: &str| std::io::Error::other(format!("the encrypted payload {what}"));
    let key = aead(key);
    let mut chunks = Chunks::new(CHUNK + TAG);
    while let Some((buf, n, counter, last)) = chunks.next(src).await? {
        // Only a file with no plaintext at all ends with an empty chunk.
        if n < TAG || (n == TAG && counter > 0) {
            return Err(bad("ends early (a chunk is cut short)"));
        }
        let plain = key
            .open_in_place(chunk_nonce(counter, last), Aad::empty(), &mut buf[..n])
            .map_err(|_| bad("was changed or cut short (a chunk does not authenticate)"))?;
        dst.write_all(plain).await?;
    }
    dst.flush().await
}

mod bech32;
mod header;

use header::encode_stanza;
pub use header::{Header, header_end, parse_header};

#[cfg(test)]
mod tests;
