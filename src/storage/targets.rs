//! More than one storage target (3-2-1), behind the one `Storage` trait.
//!
//! - **Writing**: an object is read once and its stream goes to every target at the same time, in
//!   chunks through small bounded channels, so memory stays bounded and the slowest target sets the
//!   pace. A target that fails is dropped from that object; the others finish their copy. Its
//!   sidecar, manifest and signature then go to the targets that hold the object. Failures are kept
//!   for the end of the run (`write_failures`): the run exits 1 naming each target.
//! - **Reading**: an object and its companions are read from one target, the first in order that
//!   has it. A copy found wrong later (a signature that does not verify, a digest that differs) is
//!   `reject`ed: the next target that has the object is used. Each fall-through is a note.
//! - **Listing**: the union of what every target answering holds.

use std::collections::HashMap;
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};

use super::{ObjectMeta, Op, Storage, StorageError};
use crate::transport::Reader;

/// Bytes read from the source at once, and chunks a target may lag behind.
const CHUNK: usize = 256 << 10;
const LAG: usize = 4;

pub struct Targets {
    each: Vec<(String, Arc<dyn Storage>)>,
    /// The target an object (and its companions) is read from.
    pins: Mutex<HashMap<String, usize>>,
    /// The targets whose copy of an object was refused.
    refused: Mutex<HashMap<String, Vec<usize>>>,
    /// The targets that took an object written in this run.
    holders: Mutex<HashMap<String, Vec<usize>>>,
    /// What could not be written: (target, object, why).
    failed: Mutex<Vec<(String, String, String)>>,
    /// Fall-throughs, by object, until they are reported.
    notes: Mutex<Vec<(String, String)>>,
}

/// The backup an object name belongs to: a sidecar, manifest or signature goes with its object.
fn base(name: &str) -> &str {
    for suffix in [super::SIG_SUFFIX, ".manifest.json", ".sha256"] {
        if let Some(b) = name.strip_suffix(suffix) {
            return b;
        }
    }
    name
}

impl Targets {
    pub fn new(each: Vec<(String, Box<dyn Storage>)>) -> Targets {
        Targets {
            each: each.into_iter().map(|(n, s)| (n, Arc::from(s))).collect(),
            pins: Mutex::default(),
            refused: Mutex::default(),
            holders: Mutex::default(),
            failed: Mutex::default(),
            notes: Mutex::default(),
        }
    }

    fn note(&self, object: &str, text: String) {
        self.notes
            .lock()
            .expect("notes")
            .push((base(object).to_string(), text));
    }

    /// The targets to read `name` from, in order: a companion from its backup's pinned target
    /// alone; the backup itself from its pinned target first, then every target whose copy was
    /// not refused.
    fn order(&self, name: &str) -> Vec<usize> {
        let b = base(name);
        let pinned = self.pins.lock().expect("pins").get(b).copied();
        if let Some(i) = pinned
            && b != name
        {
            return vec![i];
        }
        let refused = self.refused.lock().expect("refused");
        let out = refused.get(b).cloned().unwrap_or_default();
        pinned
            .into_iter()
            .chain((0..self.each.len()).filter(|i| !out.contains(i) && Some(*i) != pinned))
            .collect()
    }

    /// Runs `op` on the targets for `name` in order until one answers; the backup is then read
    /// from that target. Each target passed over is a note.
    async fn first<'a, T, F>(&'a self, name: &'a str, op: F) -> Result<T, StorageError>
    where
        F: Fn(&'a dyn Storage) -> Op<'a, T>,
    {
        let b = base(name);
        let mut last: Option<StorageError> = None;
        let mut all_missing = true;
        let mut passed = Vec::new();
        for i in self.order(name) {
            let (t, s) = &self.each[i];
            match op(s.as_ref()).await {
                Ok(v) => {
                    let before = self.pins.lock().expect("pins").insert(b.to_string(), i);
                    // Said whichever of the backup's files is read first (the gate reads its
                    // manifest before the backup itself is downloaded from the same target).
                    if !passed.is_empty() {
                        self.note(
                            name,
                            format!(
                                "`{}` is read from target {t} ({})",
                                super::shown(b),
                                passed.join("; ")
                            ),
                        );
                    }
                    if let Some(old) = before
                        && old != i
                    {
                        self.refused
                            .lock()
                            .expect("refused")
                            .entry(b.to_string())
                            .or_default()
                            .push(old);
                    }
                    return Ok(v);
                }
                Err(e) => {
                    all_missing &= e.not_found;
                    passed.push(if e.not_found {
                        format!("not on {t}")
                    } else {
                        format!("{t}: {e}")
                    });
                    last = Some(e);
                }
            }
        }
        Err(match last {
            Some(mut e) => {
                e.not_found = all_missing;
                if all_missing {
                    e.server = self.describe();
                }
                e
            }
            None => StorageError {
                server: self.describe(),
                op: "get",
                object: name.to_string(),
                message: "every target's copy was refused".into(),
                not_found: true,
            },
        })
    }

    /// Writes one stream to every target in `to` at once; the indices that took it whole.
    async fn fan_out(
        &self,
        name: &str,
        mut data: Reader,
        to: &[usize],
    ) -> Vec<(usize, Result<u64, StorageError>)> {
        let mut senders = Vec::new();
        let mut puts = Vec::new();
        for &i in to {
            let (tx, rx) = tokio::sync::mpsc::channel(LAG);
            senders.push(Some(tx));
            let reader: Reader = Box::new(Channel {
                rx,
                chunk: Arc::new(Vec::new()),
                at: 0,
            });
            // Each target writes on a task of its own: the client work of one (an HTTP request, an
            // SSH channel's encryption) runs beside the other's and beside the feed.
            let (s, name) = (self.each[i].1.clone(), name.to_string());
            let put = tokio::spawn(async move { s.put(&name, reader).await });
            puts.push(async move {
                let done = put.await.unwrap_or_else(|e| {
                    Err(StorageError {
                        server: String::new(),
                        op: "put",
                        object: String::new(),
                        message: format!("the upload stopped: {e}"),
                        not_found: false,
                    })
                });
                (i, done)
            });
        }
        let feed = async move {
            loop {
                match crate::transport::fill(&mut data, CHUNK).await {
                    Ok(chunk) if chunk.is_empty() => break,
                    Ok(chunk) => {
                        let chunk = Arc::new(chunk);
                        for s in senders.iter_mut() {
                            if let Some(tx) = s
                                && tx.send(Ok(chunk.clone())).await.is_err()
                            {
                                *s = None;
                            }
                        }
                        if senders.iter().all(Option::is_none) {
                            break;
                        }
                    }
                    Err(e) => {
                        for tx in senders.iter().flatten() {
                            let _ = tx.send(Err(e.to_string())).await;
                        }
                        break;
                    }
                }
            }
        };
        let (_, done) = tokio::join!(feed, futures_util::future::join_all(puts));
        done
    }
}

/// A target's side of the fan-out: the chunks the source sends, then its end (or its error).
struct Channel {
    rx: tokio::sync::mpsc::Receiver<Result<Arc<Vec<u8>>, String>>,
    chunk: Arc<Vec<u8>>,
    at: usize,
}

impl AsyncRead for Channel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        loop {
            if self.at < self.chunk.len() {
                let n = buf.remaining().min(self.chunk.len() - self.at);
                let at = self.at;
                buf.put_slice(&self.chunk[at..at + n]);
                self.at += n;
                return Poll::Ready(Ok(()));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(Ok(c))) => {
                    self.chunk = c;
                    self.at = 0;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(std::io::Error::other(e))),
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Storage for Targets {
    fn describe(&self) -> String {
        self.each
            .iter()
            .map(|(n, s)| format!("{n} ({})", s.describe()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn list<'a>(&'a self, prefix: &'a str) -> Op<'a, Vec<ObjectMeta>> {
        Box::pin(async move {
            let mut out: Vec<ObjectMeta> = Vec::new();
            let mut errors = Vec::new();
            for (t, s) in &self.each {
                match s.list(prefix).await {
                    Ok(found) => {
                        for o in found {
                            if !out.iter().any(|x| x.name == o.name) {
                                out.push(o);
                            }
                        }
                    }
                    Err(e) => errors.push((t.clone(), e)),
                }
            }
            if errors.len() == self.each.len()
                && let Some((_, e)) = errors.pop()
            {
                return Err(e);
            }
            for (t, e) in errors {
                self.note("", format!("target {t} cannot be listed: {e}"));
            }
            out.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(out)
        })
    }

    fn stat<'a>(&'a self, name: &'a str) -> Op<'a, ObjectMeta> {
        Box::pin(self.first(name, move |s| s.stat(name)))
    }

    fn get<'a>(&'a self, name: &'a str, range: Option<Range<u64>>) -> Op<'a, Reader> {
        Box::pin(self.first(name, move |s| s.get(name, range.clone())))
    }

    fn put<'a>(&'a self, name: &'a str, data: Reader) -> Op<'a, u64> {
        Box::pin(async move {
            // A companion goes where its object went; an object to every target.
            let to: Vec<usize> = match self.holders.lock().expect("holders").get(base(name)) {
                Some(h) if base(name) != name => h.clone(),
                _ => (0..self.each.len()).collect(),
            };
            let done = self.fan_out(name, data, &to).await;
            let mut took = Vec::new();
            let mut last = None;
            for (i, r) in done {
                match r {
                    Ok(n) => took.push((i, n)),
                    Err(e) => {
                        self.failed.lock().expect("failed").push((
                            self.each[i].0.clone(),
                            name.to_string(),
                            e.to_string(),
                        ));
                        last = Some(e);
                    }
                }
            }
            if base(name) == name {
                self.holders
                    .lock()
                    .expect("holders")
                    .insert(name.to_string(), took.iter().map(|(i, _)| *i).collect());
            }
            match (took.first(), last) {
                (Some((_, n)), _) => Ok(*n),
                (None, Some(e)) => Err(e),
                (None, None) => Err(StorageError {
                    server: self.describe(),
                    op: "put",
                    object: name.to_string(),
                    message: "no target to write to".into(),
                    not_found: false,
                }),
            }
        })
    }

    fn delete<'a>(&'a self, name: &'a str) -> Op<'a, ()> {
        Box::pin(async move {
            let mut last = None;
            let mut any = false;
            for (_, s) in &self.each {
                match s.delete(name).await {
                    Ok(()) => any = true,
                    Err(e) if e.not_found => {}
                    Err(e) => last = Some(e),
                }
            }
            match last {
                Some(e) => Err(e),
                None if !any => Err(StorageError {
                    server: self.describe(),
                    op: "delete",
                    object: name.to_string(),
                    message: "not on any target".into(),
                    not_found: true,
                }),
                None => Ok(()),
            }
        })
    }

    fn retries(&self, object: Option<&str>) -> Vec<String> {
        let mut out: Vec<String> = self
            .each
            .iter()
            .flat_map(|(_, s)| s.retries(object))
            .collect();
        let mut notes = self.notes.lock().expect("notes");
        notes.retain(|(o, text)| {
            if object.is_none_or(|x| base(x) == o) {
                out.push(text.clone());
                false
            } else {
                true
            }
        });
        out
    }

    fn free_space(&self) -> Option<u64> {
        self.each.iter().filter_map(|(_, s)| s.free_space()).min()
    }

    fn reject(&self, object: &str, why: &str) -> bool {
        let b = base(object).to_string();
        let Some(i) = self.pins.lock().expect("pins").remove(&b) else {
            return false;
        };
        let mut refused = self.refused.lock().expect("refused");
        let list = refused.entry(b.clone()).or_default();
        list.push(i);
        let left: Vec<&str> = (0..self.each.len())
            .filter(|j| !list.contains(j))
            .map(|j| self.each[j].0.as_str())
            .collect();
        drop(refused);
        self.note(
            &b,
            format!(
                "the copy of `{}` on target {} is refused ({why}){}",
                super::shown(&b),
                self.each[i].0,
                match left.first() {
                    Some(next) => format!("; trying target {next}"),
                    None => "; no other target has one".into(),
                }
            ),
        );
        !left.is_empty()
    }

    fn holders(&self, object: &str) -> Option<Vec<String>> {
        let h = self.holders.lock().expect("holders");
        h.get(object)
            .map(|list| list.iter().map(|i| self.each[*i].0.clone()).collect())
    }

    fn write_failures(&self) -> Vec<super::WriteFailure> {
        std::mem::take(&mut *self.failed.lock().expect("failed"))
            .into_iter()
            .map(|(target, object, why)| super::WriteFailure {
                target,
                object,
                why,
            })
            .collect()
    }

    fn parts(&self) -> Vec<(&str, &dyn Storage)> {
        self.each
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_ref()))
            .collect()
    }
}

#[cfg(test)]
#[path = "targets_tests/tests.rs"]
mod tests;
