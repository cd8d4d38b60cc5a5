//! `fetch` (storage → host), and the hashing and checksums `upload` and `unpack` share: streamed,
//! sha256 computed as bytes pass.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

use crate::docs::actions::FetchArgs;
use crate::report::events::{Event, Events};
use crate::storage::CopyFault;
use crate::task::{Outcome, TaskCtx};
use crate::transport::{Program, Reader, quote};

#[derive(Default)]
pub struct Tally {
    hasher: Sha256,
    bytes: u64,
    reported: u64,
}

/// Counts what flows through, hashes it when asked, and reports progress.
struct Hashing {
    inner: Reader,
    hash: bool,
    tally: Arc<Mutex<Tally>>,
    /// Where progress goes: the events, the task and its host; none for a quiet tally.
    progress: Option<(Events, usize, String)>,
    total: Option<u64>,
}

impl AsyncRead for Hashing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &res {
            let new = &buf.filled()[before..];
            let hash = self.hash;
            let mut t = self.tally.lock().expect("tally");
            if hash {
                t.hasher.update(new);
            }
            t.bytes += new.len() as u64;
            if t.bytes - t.reported >= 1 << 20
                && let Some((events, task, host)) = &self.progress
            {
                t.reported = t.bytes;
                events.emit(Event::Transfer {
                    task: *task,
                    host: host.clone(),
                    bytes: t.bytes,
                    total: self.total,
                    done: false,
                });
            }
        }
        res
    }
}

pub(super) fn hashing(
    ctx: &TaskCtx<'_>,
    inner: Reader,
    total: Option<u64>,
    hash: bool,
) -> (Reader, Arc<Mutex<Tally>>) {
    let progress = Some((ctx.events().clone(), ctx.task, ctx.host.name.clone()));
    tallied(inner, total, hash, progress)
}

fn tallied(
    inner: Reader,
    total: Option<u64>,
    hash: bool,
    progress: Option<(Events, usize, String)>,
) -> (Reader, Arc<Mutex<Tally>>) {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let r = Hashing {
        inner,
        hash,
        tally: tally.clone(),
        progress,
        total,
    };
    (Box::new(r), tally)
}

/// Counts and hashes what flows through, with no progress events (outside a task).
pub fn hashing_quiet(inner: Reader) -> (Reader, Arc<Mutex<Tally>>) {
    tallied(inner, None, true, None)
}

/// Tells what the storage had to retry (a lost connection, a read resumed from its offset).
pub(super) fn report_retries(
    ctx: &TaskCtx<'_>,
    storage: &dyn crate::storage::Storage,
    object: &str,
) -> usize {
    let notes = storage.retries(Some(object));
    for note in &notes {
        ctx.events().emit(Event::Storage {
            at: chrono::Utc::now(),
            text: format!("{}: {note}", ctx.host.name),
        });
    }
    notes.len()
}

pub fn finish(tally: &Arc<Mutex<Tally>>) -> (String, u64) {
    let t = std::mem::take(&mut *tally.lock().expect("tally"));
    (hex::encode(t.hasher.finalize()), t.bytes)
}

/// The first word of a `sha256sum` line, if it looks like a digest.
pub fn parse_digest(text: &str) -> Option<String> {
    let word = text
        .split_whitespace()
        .next()?
        .trim_start_matches("sha256:")
        .to_ascii_lowercase();
    (word.len() == 64 && word.bytes().all(|b| b.is_ascii_hexdigit())).then_some(word)
}

/// What a step says of the digest a download must have: `sha256` (else the signed manifest's, or
/// the sidecar's) and whether to check it at all (`verify: false` does not, for unsigned reads).
pub(super) struct Wanted {
    pub sha256: Option<String>,
    pub verify: bool,
}

/// The digest `object` must have: the step's `sha256`, else the `.sha256` file beside it in storage.
/// None only when `verify: false`; a storage that cannot be read is an error of its own.
async fn expected_digest(
    want: &Wanted,
    storage: &dyn crate::storage::Storage,
    object: &str,
) -> Result<Option<String>, Outcome> {
    let expected = match &want.sha256 {
        Some(s) => match parse_digest(s) {
            Some(d) => Some(d),
            None => {
                return Err(Outcome::failed(format!(
                    "`sha256` for {object} is not a sha256 digest"
                )));
            }
        },
        None => match crate::storage::read_text(storage, &format!("{object}.sha256"), 4096).await {
            Ok(text) => text.as_deref().and_then(parse_digest),
            Err(e) => {
                return Err(Outcome::failed(format!(
                    "cannot read `{object}.sha256`: {e}"
                )));
            }
        },
    };
    if expected.is_none() && want.verify {
        return Err(Outcome::failed(format!(
            "no checksum for `{object}`: give `sha256:` or keep `{object}.sha256` beside it in storage (or set `verify: false`)"
        )));
    }
    Ok(expected)
}

/// A backup ready to stream: the digest it must have, its size, and a reader from its start. Its
/// manifest's signature is checked first (see `authentic`): a backup this site does not trust is
/// refused before a byte of it is read, and the digest it must hash to is the signed one.
pub(super) async fn open_backup(
    ctx: &TaskCtx<'_>,
    want: &Wanted,
    storage: &dyn crate::storage::Storage,
    object: &str,
) -> Result<(Option<String>, u64, Reader, crate::authentic::Verified), Outcome> {
    let size = match storage.stat(object).await {
        Ok(m) => m.size,
        Err(e) if e.not_found => {
            return Err(Outcome::failed(format!(
                "backup `{}` is not in {}: see `setup standalone list` for what is there",
                crate::storage::shown(object),
                storage.describe()
            )));
        }
        Err(e) => return Err(Outcome::failed(e.to_string())),
    };
    let verified = crate::authentic::check(storage, object, &ctx.shared.trust)
        .await
        .map_err(|why| {
            Outcome::failed(format!(
                "{}; nothing was downloaded",
                crate::authentic::refused(object, &why)
            ))
        })?;
    ctx.events().emit(Event::Authenticated {
        at: chrono::Utc::now(),
        host: ctx.host.name.clone(),
        object: crate::storage::shown(object),
        signer: verified.signer.clone(),
        unsigned: verified.unsigned,
    });
    let expected = match (&verified.stored_sha256, verified.unsigned) {
        (Some(signed), false) => {
            // A digest the step gives must agree with the signed one.
            if let Some(given) = &want.sha256
                && parse_digest(given).as_deref() != Some(signed.as_str())
            {
                return Err(Outcome::failed(format!(
                    "the step's `sha256` for {object} is not the digest its signed manifest gives ({signed})"
                )));
            }
            // The sidecar is for people checking by hand; one that disagrees means tampering
            // (another target's copy may be sound).
            if let Ok(Some(text)) =
                crate::storage::read_text(storage, &format!("{object}.sha256"), 4096).await
                && parse_digest(&text).as_deref() != Some(signed.as_str())
            {
                if storage.reject(object, "its sidecar disagrees with its signed manifest") {
                    return Box::pin(open_backup(ctx, want, storage, object)).await;
                }
                return Err(Outcome::failed(format!(
                    "{}; nothing was downloaded",
                    crate::authentic::refused(
                        object,
                        &format!(
                            "its sidecar {object}.sha256 disagrees with its signed manifest ({signed}): the storage was tampered with"
                        )
                    )
                )));
            }
            Some(signed.clone())
        }
        _ => {
            ctx.events().emit(Event::Note {
                at: chrono::Utc::now(),
                text: format!(
                    "warning: {}: read without a trusted signature (--allow-unsigned)",
                    crate::storage::shown(object)
                ),
            });
            expected_digest(want, storage, object).await?
        }
    };
    let reader = storage
        .get(object, None)
        .await
        .map_err(|e| Outcome::failed(e.to_string()))?;
    Ok((expected, size, reader, verified))
}

/// The start of the message of a download whose digest is not the one it must have.
pub(super) const MISMATCH: &str = "checksum mismatch for ";
/// The start of the message of a download whose copy could not be read to its end.
pub(super) const UNREADABLE: &str = "cannot read the whole copy of ";

/// Runs a download (`once`) again from the next storage target while the copy it read has the
/// wrong digest or could not be read whole, and another target has one (one storage: once).
pub(super) async fn falling_through<'c, F, Fut>(
    ctx: &'c TaskCtx<'_>,
    storage: &'c dyn crate::storage::Storage,
    object: &'c str,
    once: F,
) -> Outcome
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Outcome> + 'c,
{
    loop {
        let out = once().await;
        let why = if out.message.starts_with(MISMATCH) {
            Some(CopyFault::NOT_SIGNED)
        } else if out.message.starts_with(UNREADABLE) {
            Some(CopyFault::UNREADABLE)
        } else {
            None
        };
        if out.status == crate::report::events::Status::Failed
            && let Some(why) = why
            && storage.reject(object, why)
        {
            report_retries(ctx, storage, object);
            continue;
        }
        return out;
    }
}

pub async fn fetch(ctx: &TaskCtx<'_>) -> Outcome {
    let Some(storage) = ctx.shared.storage.as_deref() else {
        return Outcome::failed("no storage is configured");
    };
    let a: FetchArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let want = Wanted {
        sha256: a.sha256,
        verify: a.verify.unwrap_or(true),
    };
    let (object, dest) = (a.object, a.dest);
    falling_through(ctx, storage, &object, || {
        fetch_once(ctx, &want, storage, &object, &dest)
    })
    .await
}

async fn fetch_once(
    ctx: &TaskCtx<'_>,
    want: &Wanted,
    storage: &dyn crate::storage::Storage,
    object: &str,
    dest: &str,
) -> Outcome {
    let (object, dest) = (object.to_string(), dest.to_string());
    let (expected, size, reader, verified) = match open_backup(ctx, want, storage, &object).await {
        Ok(b) => b,
        Err(o) => return o,
    };
    // The transport hashes what it writes; this reader only counts, for progress.
    let (reader, tally) = hashing(ctx, reader, Some(size), false);
    let part = format!("{dest}.part");
    let put = ctx.transport.put(&part, reader, None, ctx.become_()).await;
    let retried = report_retries(ctx, storage, &object);
    let (_, mut bytes) = finish(&tally);
    ctx.events().emit(Event::Transfer {
        task: ctx.task,
        host: ctx.host.name.clone(),
        bytes,
        total: Some(size),
        done: true,
    });
    let remove_part = || {
        ctx.transport
            .exec(crate::transport::ExecRequest::shell(format!(
                "rm -f {}",
                quote(&part)
            )))
    };
    let digest = match put {
        Ok(w) => {
            bytes = w.bytes;
            w.sha256
        }
        Err(e) => {
            let _ = remove_part().await;
            return Outcome::failed(format!("fetching {object}: {e}"));
        }
    };
    if let Some(want) = &expected
        && *want != digest
    {
        let _ = remove_part().await;
        return Outcome::failed(format!(
            "{MISMATCH}{object}: expected sha256 {want}, got {digest}; the partial file was removed"
        ));
    }
    let mv = ctx
        .transport
        .exec(ctx.request(Program::Shell(format!(
            "mv -f {} {}",
            quote(&part),
            quote(&dest)
        ))))
        .await;
    match mv {
        Ok(o) if o.success() => {
            let how = if expected.is_some() {
                "verified"
            } else {
                "NOT verified"
            };
            let resumed = match retried {
                0 => String::new(),
                n => format!(" ({n} retried after a fault)"),
            };
            Outcome::changed(format!(
                "{object} -> {dest}, {bytes} bytes, sha256 {how}, {}{resumed}",
                verified.by()
            ))
            .with_data(json!({"sha256": digest, "bytes": bytes, "dest": dest, "retries": retried}))
        }
        Ok(o) => Outcome::failed(format!("moving {part} into place: {}", o.stderr.trim())),
        Err(e) => Outcome::failed(e.to_string()),
    }
}
