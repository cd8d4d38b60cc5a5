//! `unpack` (storage → a fresh folder on the host, every entry checked on the way) and `install`
//! (that folder takes the live one's place by rename, or is merged into it), the safe way to put an
//! archive's files in place. No `tar -xf` of an unchecked file anywhere.

use serde_json::json;

use super::transfer::{finish, hashing, open_backup, report_retries};
use crate::authentic::Manifest;
use crate::docs::actions::{InstallArgs, UnpackArgs};
use crate::task::{Outcome, TaskCtx, Undo};
use crate::transport::{Program, quote};

/// A configuration backup taken on a site whose backup schedule differs from this site's (both from
/// backup.yml): said, since the restored site would not back up as the source did.
/// The manifest is the one read and checked before the download, not read again.
fn schedule_warning(ctx: &TaskCtx<'_>, object: &str, manifest: Option<&Manifest>) {
    let Some(m) = manifest else { return };
    if ctx.shared.schedule.is_empty() {
        return;
    }
    let mine = super::backup::schedule_of(&ctx.shared.schedule);
    let Some(theirs) = &m.schedule else { return };
    if m.kind.as_deref() == Some("config") && *theirs != mine {
        ctx.events().emit(crate::report::events::Event::Note {
            at: chrono::Utc::now(),
            text: format!(
                "warning: {object} comes from a site that backs up on {} (UTC), this site's backup.yml says {}: the sites' schedules differ",
                json!(theirs), json!(mine)
            ),
        });
    }
}

async fn remove(ctx: &TaskCtx<'_>, dir: &str) {
    let _ = ctx
        .transport
        .exec(ctx.request(Program::Shell(format!("rm -rf {}", quote(dir)))))
        .await;
}

/// A failed unpack. With another storage target to fall back on, the copy is read whole again, as
/// `verify` does: one with another digest is a checksum mismatch and one that cannot be read to its
/// end is unreadable (either falls through to the next target); a sound copy failed for another
/// reason, which stands.
async fn told(
    storage: &dyn crate::storage::Storage,
    object: &str,
    expected: &Option<String>,
    message: String,
) -> Outcome {
    use super::transfer::{MISMATCH, UNREADABLE};
    use crate::storage::CopyFault;
    if let Some(want) = expected
        && !storage.parts().is_empty()
        && !message.starts_with(MISMATCH)
        && let Err(fault) = crate::storage::check_copy(storage, object, want).await
    {
        return Outcome::failed(match fault {
            CopyFault::Digest(got) => {
                format!("{MISMATCH}{object}: expected sha256 {want}, got {got} ({message})")
            }
            CopyFault::Unreadable => format!("{UNREADABLE}{object} ({message})"),
        });
    }
    Outcome::failed(message)
}

/// `unpack: { object, dest }`: `dest` is made afresh and receives the archive, which streams from
/// storage through the controller: checksum and every entry checked on the way. Anything wrong and
/// `dest` is removed again. `dest` should be a new folder beside the live one (same file system),
/// for `install` to rename. `marker: true` (a drill's sandbox) writes the drill's marker into `dest`.
pub async fn unpack(ctx: &TaskCtx<'_>) -> Outcome {
    let Some(storage) = ctx.shared.storage.as_deref() else {
        return Outcome::failed("no storage is configured");
    };
    let a: UnpackArgs = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let object = match crate::authentic::resolve_config(storage, &a.object, &ctx.shared.trust).await
    {
        Ok(o) => o,
        Err(e) => return Outcome::failed(e.to_string()),
    };
    let dest = a.dest;
    let want = super::transfer::Wanted {
        sha256: a.sha256,
        verify: a.verify.unwrap_or(true),
    };
    if dest.trim_matches('/').is_empty() {
        return Outcome::failed("`unpack` needs a `dest` folder, and not `/`");
    }
    super::transfer::falling_through(ctx, storage, &object, || {
        unpack_once(ctx, &want, a.marker, storage, &object, &dest)
    })
    .await
}

async fn unpack_once(
    ctx: &TaskCtx<'_>,
    want: &super::transfer::Wanted,
    marker: bool,
    storage: &dyn crate::storage::Storage,
    object: &str,
    dest: &str,
) -> Outcome {
    let (object, dest) = (object.to_string(), dest.to_string());
    let (expected, size, reader, verified) = match open_backup(ctx, want, storage, &object).await {
        Ok(b) => b,
        Err(o) => return o,
    };
    let (reader, tally) = hashing(ctx, reader, Some(size), true);
    // Encrypted and compressed backups are opened here, in the stream, before the host sees a byte.
    let identity = ctx
        .shared
        .age_identity
        .as_ref()
        .map(|s| s.expose().to_string());
    let reader = match crate::seal::open(reader, &object, identity.as_deref()).await {
        Ok(r) => r,
        Err(e) => {
            let message = format!("{e}; nothing was unpacked");
            return told(storage, &object, &expected, message).await;
        }
    };
    // The plain archive's digest too: a drill compares it with the one the DC recorded.
    let (reader, plain) = super::transfer::hashing_quiet(reader);
    // The host's tar reads only the archive as the controller's reader understood and checked it,
    // written anew: never the stored bytes themselves. No owners, no setuid bits, no devices.
    let (checked, verdict) = super::retar::canonical(reader, false);
    let d = quote(&dest);
    // A drill's sandbox holds its marker from the start (and again after the archive's files).
    let marker = if marker {
        format!("{}; ", super::drillsweep::write_marker(ctx, &dest))
    } else {
        String::new()
    };
    let mut req = ctx.request(Program::Shell(format!(
        "set -eu; rm -rf {d}; mkdir -p {d}; {marker}tar -xf - -C {d} --no-same-owner --no-same-permissions; cat > /dev/null; {marker}"
    )));
    req.stdin = Some(checked);
    let out = ctx.transport.exec(req).await;
    report_retries(ctx, storage, &object);
    let (digest, bytes) = finish(&tally);
    let refused = verdict.lock().expect("verdict").refused.clone();
    let failure = match (&refused, &out) {
        (Some(why), _) => Some(format!(
            "{object} refused before anything live was touched: {why}; {dest} was removed"
        )),
        (None, Err(e)) => Some(format!("unpacking {object}: {e}")),
        (None, Ok(o)) if !o.success() => Some(format!(
            "unpacking {object} into {dest}: {}",
            Outcome::from_exec(o).message
        )),
        _ => match &expected {
            Some(want) if *want != digest => Some(format!(
                "{}{object}: expected sha256 {want}, got {digest}; {dest} was removed",
                super::transfer::MISMATCH
            )),
            _ => None,
        },
    };
    if let Some(message) = failure {
        remove(ctx, &dest).await;
        return told(storage, &object, &expected, message).await;
    }
    schedule_warning(ctx, &object, verified.manifest.as_ref());
    let entries = verdict.lock().expect("verdict").entries;
    let how = if expected.is_some() {
        "verified"
    } else {
        "NOT verified"
    };
    Outcome::changed(format!(
        "{object} -> {dest}: {entries} entries checked, {bytes} bytes, sha256 {how}, {}",
        verified.by()
    ))
    .with_data(json!({
        "dest": dest, "object": object, "sha256": digest, "bytes": bytes, "entries": entries,
        "plain_sha256": finish(&plain).0, "signer": verified.signer,
    }))
}

/// Links in the folder that point outside it (absolute, or climbing with `..`), if any: a merge
/// into such a folder could write through them.
const ESCAPING_LINKS: &str = "find \"$t\" -type l \\( -lname '/*' -o -lname '..' -o -lname '../*' -o -lname '*/..' -o -lname '*/../*' \\) -print | head -n 5";

/// `install: { from, to }` puts an unpacked folder in place. By default `to` is replaced by rename:
/// the old folder is kept beside it as `<to>.pre-restore-<run>`, and the engine can undo the swap.
/// `merge: true` copies `from` into `to` instead (for incremental data), after checking that no
/// link in `to` leads outside it; a merge cannot be undone. `from` stays where it is (the run's
/// cleanup removes it), so a resumed run can merge every item again, in order, whatever a killed
/// run had merged.
pub async fn install(ctx: &TaskCtx<'_>) -> Outcome {
    let InstallArgs { from, to, merge } = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    if to.trim_matches('/').is_empty() || from.trim_matches('/').is_empty() {
        return Outcome::failed("`install` needs `from` and `to` folders, and neither may be `/`");
    }
    let run = &ctx.shared.run.id;
    let (f, t) = (quote(&from), quote(&to));
    let old = format!("{to}.pre-restore-{run}");
    let o = quote(&old);
    let check = format!(
        "set -eu; f={f}; t={t}; [ -d \"$f\" ] || {{ echo \"$f is not there: nothing to install\" >&2; exit 1; }}; \
         mkdir -p \"$(dirname \"$t\")\"; "
    );
    let script = if merge {
        format!(
            "{check}if [ -L \"$t\" ]; then echo \"$t is a symbolic link: refusing to merge into it\" >&2; exit 1; fi; \
             mkdir -p \"$t\"; bad=$({ESCAPING_LINKS}); \
             if [ -n \"$bad\" ]; then echo \"links in $t point outside it: $bad\" >&2; exit 1; fi; \
             cp -a \"$f/.\" \"$t/\""
        )
    } else {
        format!(
            "{check}rm -rf {o}; if [ -e \"$t\" ] || [ -L \"$t\" ]; then mv \"$t\" {o}; echo kept; fi; mv \"$f\" \"$t\""
        )
    };
    let out = match ctx
        .transport
        .exec(ctx.request(Program::Shell(script)))
        .await
    {
        Ok(out) => out,
        Err(e) => return Outcome::from_transport(&e),
    };
    if !out.success() {
        return Outcome::from_exec(&out);
    }
    if merge {
        return Outcome::changed(format!("{from} merged into {to}"));
    }
    let kept = out.stdout.contains("kept");
    let failed = quote(&format!("{to}.failed-{run}"));
    let undo = Undo {
        program: Program::Shell(format!(
            "set -eu; t={t}; if [ -e \"$t\" ] || [ -L \"$t\" ]; then rm -rf {failed}; mv \"$t\" {failed}; fi; \
             if [ -e {o} ]; then mv {o} \"$t\"; fi"
        )),
        describe: if kept {
            format!("put the previous {to} back (the restored one is kept as {to}.failed-{run})")
        } else {
            format!("moved the restored {to} aside as {to}.failed-{run} (there was none before)")
        },
        env: Vec::new(),
    };
    let message = if kept {
        format!("{from} is now {to}; the previous one is kept as {old}")
    } else {
        format!("{from} is now {to} (there was none before)")
    };
    Outcome::changed(message).with_undo(undo)
}
