//! `upload` (host → storage): a file of the host or a command's output, streamed through the
//! controller with its sha256; sealed (zstd, age) backups with their manifest.

use std::collections::BTreeMap;

use serde_json::{Value as J, json};

use super::transfer::{finish, hashing, hashing_quiet, report_retries};
use crate::authentic::{Digest, Encryption, Manifest};
use crate::docs::actions::UploadArgs;
use crate::report::events::Event;
use crate::task::{Outcome, TaskCtx};
use crate::transport::Program;

/// A schedule as JSON: `{"config": "02:00", ...}`.
pub(super) fn schedule_of(schedule: &[(String, String)]) -> BTreeMap<String, String> {
    schedule.iter().cloned().collect()
}

/// A small JSON file of the task's host.
async fn read_host_json(ctx: &TaskCtx<'_>, path: &str) -> Result<J, String> {
    use tokio::io::AsyncReadExt;
    let mut text = String::new();
    let r = ctx
        .transport
        .get(path, ctx.become_())
        .await
        .map_err(|e| e.to_string())?;
    r.take(1 << 20)
        .read_to_string(&mut text)
        .await
        .map_err(|e| format!("reading {path}: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))
}

/// Whether `object` is in storage already: Err(not found) when it is not. With more than one
/// target, on any target that answers (one that does not fails the write itself, by name).
async fn present(
    storage: &dyn crate::storage::Storage,
    object: &str,
) -> Result<(), crate::storage::StorageError> {
    let parts = storage.parts();
    if parts.is_empty() {
        return storage.stat(object).await.map(|_| ());
    }
    for (_, part) in parts {
        if part.stat(object).await.is_ok() {
            return Ok(());
        }
    }
    Err(crate::storage::StorageError {
        server: storage.describe(),
        op: "stat",
        object: object.to_string(),
        message: "on no target".into(),
        not_found: true,
    })
}

/// Whether an object's manifest marks it partial (`"partial": true`).
async fn is_partial(storage: &dyn crate::storage::Storage, object: &str) -> bool {
    let manifest = format!("{object}.manifest.json");
    match crate::storage::read_text(storage, &manifest, 1 << 20).await {
        Ok(Some(text)) => serde_json::from_str::<J>(&text)
            .is_ok_and(|m| m["partial"] == true || m["partial"] == "true"),
        _ => false,
    }
}

/// Before a backup: when the storage can tell its free space, at least as much as the last backup
/// of the same kind (the name before its date) took.
async fn room_for(storage: &dyn crate::storage::Storage, object: &str) -> Result<(), String> {
    let Some(free) = storage.free_space() else {
        return Ok(());
    };
    let kind = object
        .find(|c: char| c.is_ascii_digit())
        .map_or(object, |i| &object[..i]);
    // The estimate is a courtesy: a storage that cannot be listed now (a local folder the first
    // upload has not made yet) is left to the upload itself to judge.
    let Ok(listed) = storage.list(kind).await else {
        return Ok(());
    };
    let last = listed
        .into_iter()
        .filter(|o| !crate::storage::is_companion(&o.name))
        .max_by(|a, b| a.name.cmp(&b.name));
    match last {
        Some(o) if o.size > free => Err(format!(
            "{} has {free} bytes free, and the last backup of this kind, {}, took {}, so {object} would not fit; {STORAGE_FULL}",
            storage.describe(),
            o.name,
            o.size
        )),
        _ => Ok(()),
    }
}

/// What to do when the storage has no room for a backup.
const STORAGE_FULL: &str = "the storage is full: delete old backups (`setup standalone prune`, with a `retention` in backup.yml), or grow the bucket or folder; nothing was left under the backup's name";

/// A write refused for space says so, and what to do about it.
fn with_space_hint(message: String) -> String {
    const FULL: &[&str] = &[
        "No space left",
        "Disk quota exceeded",
        "QuotaExceeded",
        "InsufficientStorage",
        "EntityTooLarge",
        "552 ",
        "452 ",
    ];
    if FULL.iter().any(|k| message.contains(k)) {
        format!("{message}; {STORAGE_FULL}")
    } else {
        message
    }
}

/// `upload: { src, object }`: a file of the task's host streams to storage with a `.sha256`
/// sidecar; `command:` instead of `src:` streams what that shell command writes on stdout (a command
/// that fails fails the upload, and nothing is left under the object's name). With `seal: true` it
/// is compressed and encrypted on the controller on its way (to backup.yml's recipients) and a
/// `.manifest.json` describes it (`manifest:` and `manifest_from:` add fields); `if_exists: refuse`
/// keeps an existing object unless `--force`.
pub async fn upload(ctx: &TaskCtx<'_>) -> Outcome {
    let Some(storage) = ctx.shared.storage.as_deref() else {
        return Outcome::failed("no storage is configured");
    };
    let a: UploadArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let (object, seal) = (a.object.clone(), a.seal);
    if a.if_exists.as_deref() == Some("refuse") && !ctx.shared.run.force {
        match present(storage, &object).await {
            // A partial snapshot (a failover's "today so far") is replaced by the whole day.
            Ok(_) if is_partial(storage, &object).await => {}
            Ok(_) => {
                return Outcome::failed(format!(
                    "`{object}` is already in {}: it is taken once; --force replaces it",
                    storage.describe()
                ));
            }
            Err(e) if e.not_found => {}
            Err(e) => return Outcome::failed(e.to_string()),
        }
    }
    if let Err(e) = room_for(storage, &object).await {
        return Outcome::failed(e);
    }
    let recipients = match seal {
        true => match crate::seal::recipients(&ctx.shared.recipients) {
            Ok(r) if !r.is_empty() => r,
            Ok(_) => {
                return Outcome::failed(
                    "no recipients to encrypt to: add `recipients` to backup.yml",
                );
            }
            Err(e) => return Outcome::failed(e),
        },
        false => Vec::new(),
    };
    // A file of the host, or what a command writes on stdout (streamed; never a file first).
    let (src, opened) = match &a.command {
        Some(cmd) => {
            let program = Program::Shell(format!("{}{cmd}", super::command::STRICT));
            (
                "the archive command".to_string(),
                ctx.transport.stream(ctx.request(program)).await,
            )
        }
        None => {
            let src = a.src.clone().unwrap_or_default();
            let opened = ctx.transport.get(&src, ctx.become_()).await;
            (src, opened)
        }
    };
    let reader = match opened {
        Ok(r) => r,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let (reader, plain) = hashing_quiet(reader);
    let reader = if seal {
        match crate::seal::seal(reader, &recipients) {
            Ok(r) => r,
            Err(e) => return Outcome::failed(e),
        }
    } else {
        reader
    };
    let (reader, tally) = hashing(ctx, reader, None, true);
    let put = storage.put(&object, reader).await;
    report_retries(ctx, storage, &object);
    let (digest, bytes) = finish(&tally);
    let (plain_digest, plain_bytes) = finish(&plain);
    ctx.events().emit(Event::Transfer {
        task: ctx.task,
        host: ctx.host.name.clone(),
        bytes,
        total: Some(bytes),
        done: true,
    });
    if let Err(e) = put {
        return Outcome::failed(with_space_hint(e.to_string()));
    }
    let base = object.rsplit('/').next().unwrap_or(&object);
    let mut extra = vec![(format!("{object}.sha256"), format!("{digest}  {base}\n"))];
    if seal {
        let m = Manifest {
            object: object.clone(),
            created_at: ctx.shared.run.now.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            source_host: Some(ctx.host.name.clone()),
            plain: Some(Digest::new(plain_bytes, &plain_digest)),
            stored: Some(Digest::new(bytes, &digest)),
            compression: Some("zstd".into()),
            encryption: Some(Encryption::Age {
                age: ctx.shared.recipients.clone(),
            }),
            tool: Some(format!("setup {}", env!("CARGO_PKG_VERSION"))),
            schedule: (!ctx.shared.schedule.is_empty()).then(|| schedule_of(&ctx.shared.schedule)),
            // With more than one storage target: the ones that took the object.
            targets: storage.holders(&object),
            ..Manifest::default()
        };
        // What the step adds (its `kind`, say), a `"true"` rendered from a template as true.
        let added = a
            .manifest
            .clone()
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| {
                let v = match v.as_str() {
                    Some("true") => J::Bool(true),
                    Some("false") => J::Bool(false),
                    _ => v,
                };
                (k, v)
            });
        let m = match m.with(added.collect()) {
            Ok(m) => m,
            Err(e) => return Outcome::failed(e),
        };
        // Facts the host wrote while it made the archive (row counts, a file-list digest).
        let m = match &a.manifest_from {
            Some(path) => match read_host_json(ctx, path).await {
                Ok(J::Object(more)) => match m.with(more) {
                    Ok(m) => m,
                    Err(e) => return Outcome::failed(format!("{path}: {e}")),
                },
                Ok(_) => return Outcome::failed(format!("{path} is not a JSON object")),
                Err(e) => return Outcome::failed(e),
            },
            None => m,
        };
        // The manifest as it is stored is what is signed: every byte of it, the object's name,
        // kind, time and both digests among them.
        let text = m.text();
        let Some(key) = ctx.shared.signing_key.as_deref() else {
            return Outcome::failed(
                "no signing key: add `signing_key` to backup.yml (backups are always signed)",
            );
        };
        let sig = match key.sign(text.as_bytes()) {
            Ok(s) => s,
            Err(e) => return Outcome::failed(e),
        };
        extra.push((format!("{object}.manifest.json"), text));
        extra.push((format!("{object}{}", crate::storage::SIG_SUFFIX), sig));
    }
    for (name, text) in extra {
        if let Err(e) = storage
            .put(&name, Box::new(std::io::Cursor::new(text.into_bytes())))
            .await
        {
            return Outcome::failed(with_space_hint(e.to_string()));
        }
    }
    let how = if seal {
        format!(", {plain_bytes} bytes before zstd and age, manifest signed")
    } else {
        String::new()
    };
    let on = match storage.holders(&object) {
        Some(h) => format!(", on {}", h.join(" and ")),
        None => String::new(),
    };
    Outcome::changed(format!(
        "{src} -> {object}, {bytes} bytes{how}, sha256 {digest}{on}"
    ))
    .with_data(json!({"sha256": digest, "bytes": bytes, "plain_bytes": plain_bytes}))
}
