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

/// An X25519 identity, `AGE-SECRET-KEY-1...`. Never printed: it has no `Display` and a redacted `Debug`.
pub struct Identity([u8; 32]);

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
        let (hrp, data) = bech32::decode(s).map_err(|_| "is not an age identity".to_string())?;
        if hrp != "age-secret-key-" || !s.starts_with("AGE-SECRET-KEY-1") {
            return Err("is not an X25519 identity (AGE-SECRET-KEY-1...)".into());
        }
        Ok(Identity(
            data.try_into()
                .map_err(|_| "is not 32 bytes long".to_string())?,
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

fn hkdf32(ikm: &[u8], salt: &[u8], info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    hkdf::Salt::new(hkdf::HKDF_SHA256, salt)
        .extract(ikm)
        .expand(&[info], Len(32))
        .and_then(|okm| okm.fill(&mut out))
        .expect("32 bytes are within HKDF-SHA-256's output");
    out
}

fn aead(key: &[u8; 32]) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&CHACHA20_POLY1305, key).expect("a 32-byte key"))
}

/// X25519 of `secret` and `point`; refuses the all-zero result of a low-order point.
fn x25519(secret: [u8; 32], point: [u8; 32]) -> Result<[u8; 32], String> {
    let shared = MontgomeryPoint(point).mul_clamped(secret).to_bytes();
    if shared == [0u8; 32] {
        return Err("an X25519 share is a low-order point".into());
    }
    Ok(shared)
}

fn mac_key(file_key: &[u8; 16]) -> hmac::Key {
    hmac::Key::new(hmac::HMAC_SHA256, &hkdf32(file_key, &[], b"header"))
}

/// The header for `to`, and the file key it wraps.
fn header(to: &[Recipient]) -> Result<(Vec<u8>, [u8; 16]), String> {
    if to.is_empty() {
        return Err("no recipient to encrypt to".into());
    }
    let mut file_key = [0u8; 16];
    fill(&mut file_key);
    let mut h = format!("{VERSION}\n");
    for r in to {
        let mut eph = [0u8; 32];
        fill(&mut eph);
        let share = MontgomeryPoint::mul_base_clamped(eph).to_bytes();
        let shared = x25519(eph, r.0)?;
        let mut salt = share.to_vec();
        salt.extend_from_slice(&r.0);
        let key = aead(&hkdf32(&shared, &salt, X25519_INFO));
        let mut body = file_key.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key([0; 12]),
            Aad::empty(),
            &mut body,
        )
        .map_err(|_| "cannot wrap the file key".to_string())?;
        h += &format!("-> X25519 {}\n{}\n", B64.encode(share), B64.encode(&body));
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
    let key = aead(&hkdf32(&file_key, &nonce, b"payload"));
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

/// Reads the header of `src` and finds the file key with one of `ids`. `Ok(None)` when the file was
/// encrypted to none of them; an error when the stream is not an age file or its header was changed.
pub async fn open_header<R: AsyncBufRead + Unpin>(
    src: &mut R,
    ids: &[Identity],
) -> Result<Option<[u8; 16]>, String> {
    let mut text = Vec::new();
    let mut line = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    loop {
        line.clear();
        let n = (&mut *src)
            .take((MAX_HEADER - text.len().min(MAX_HEADER)) as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading the header: {e}"))?;
        if n == 0 || line.last() != Some(&b'\n') {
            return Err("the header ends early, or is too long".into());
        }
        let l = std::str::from_utf8(&line[..n - 1])
            .map_err(|_| "the header is not text".to_string())?
            .to_string();
        if l.starts_with("---") {
            text.extend_from_slice(b"---");
            let mac = l
                .strip_prefix("--- ")
                .and_then(|m| B64.decode(m).ok())
                .ok_or("the header's MAC line is malformed")?;
            return unwrap_key(&lines, &text, &mac, ids);
        }
        text.extend_from_slice(&line);
        lines.push(l);
    }
}

fn unwrap_key(
    lines: &[String],
    text: &[u8],
    mac: &[u8],
    ids: &[Identity],
) -> Result<Option<[u8; 16]>, String> {
    if lines.first().map(String::as_str) != Some(VERSION) {
        return Err(format!("the first line is not `{VERSION}`"));
    }
    // Stanzas: `-> TYPE ARGS...`, then a body of base64 lines, each 64 columns but the last.
    let mut stanzas: Vec<(Vec<&str>, Vec<u8>)> = Vec::new();
    let mut i = 1;
    while i < lines.len() {
        let args: Vec<&str> = lines[i]
            .strip_prefix("-> ")
            .ok_or("a stanza does not start with `-> `")?
            .split(' ')
            .collect();
        i += 1;
        let mut body = String::new();
        loop {
            let l = lines.get(i).ok_or("a stanza's body ends early")?;
            i += 1;
            body += l;
            if l.len() < 64 {
                break;
            }
        }
        let body = B64
            .decode(&body)
            .map_err(|_| "a stanza's body is not base64")?;
        stanzas.push((args, body));
    }
    let mut found = None;
    for (args, body) in &stanzas {
        if args.first() != Some(&"X25519") {
            continue;
        }
        let share: [u8; 32] = match (args.len(), args.get(1).and_then(|a| B64.decode(a).ok())) {
            (2, Some(s)) => s.try_into().map_err(|_| "an X25519 stanza is malformed")?,
            _ => return Err("an X25519 stanza is malformed".into()),
        };
        if body.len() != 32 {
            return Err("an X25519 stanza is malformed".into());
        }
        for id in ids {
            let Ok(shared) = x25519(id.0, share) else {
                return Err("an X25519 stanza is malformed".into());
            };
            let mut salt = share.to_vec();
            salt.extend_from_slice(&id.to_public().0);
            let key = aead(&hkdf32(&shared, &salt, X25519_INFO));
            let mut b = body.clone();
            if let Ok(k) =
                key.open_in_place(Nonce::assume_unique_for_key([0; 12]), Aad::empty(), &mut b)
            {
                found = Some(
                    <[u8; 16]>::try_from(&k[..]).map_err(|_| "a wrapped key is not 16 bytes")?,
                );
                break;
            }
        }
        if found.is_some() {
            break;
        }
    }
    let Some(file_key) = found else {
        return Ok(None);
    };
    hmac::verify(&mac_key(&file_key), text, mac)
        .map_err(|_| "the header was changed: its MAC does not match".to_string())?;
    Ok(Some(file_key))
}

/// Decrypts the payload that follows a header opened by [`open_header`] into `dst`. Every chunk is
/// checked before it is written; a stream cut short, extended or changed is an error.
pub async fn decrypt<R, W>(src: &mut R, dst: &mut W, file_key: &[u8; 16]) -> std::io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let bad = |what: &str| std::io::Error::other(format!("the encrypted payload {what}"));
    let mut nonce = [0u8; 16];
    if read_full(src, &mut nonce).await? < 16 {
        return Err(bad("ends before its nonce"));
    }
    let key = aead(&hkdf32(file_key, &nonce, b"payload"));
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

#[cfg(test)]
mod tests;
