//! The host locks of a run: taken before any task runs (a held one refuses the run, exit 3), and
//! what happened to each, as journal lines.

use std::sync::Arc;

use crate::exec::lock;
use crate::failure::Failure;
use crate::options::Options;
use crate::report::events::{Event, Events};

/// The journal line of what happened to a host's lock.
pub(super) fn lock_event(
    host: String,
    action: &str,
    previous: Option<&lock::Owner>,
    message: Option<String>,
) -> Event {
    Event::Lock {
        at: chrono::Utc::now(),
        host,
        action: action.into(),
        previous: previous.map(|p| serde_json::to_value(p).expect("json")),
        message,
    }
}

/// Takes the host locks before any task runs; a held lock refuses the run (exit 3).
pub(super) async fn take_locks(
    o: &Options,
    shared: &Arc<crate::task::RunShared>,
    events: &Events,
    hosts: &[String],
    me: &lock::Owner,
) -> Result<(), Failure> {
    match lock::take_all(shared, hosts, me, o.break_lock).await {
        Ok(taken) => {
            for (host, t) in taken {
                let (action, previous, stopped) = match t {
                    lock::Taken::Fresh => ("taken", None, None),
                    lock::Taken::TookOver(p, s) => {
                        ("taken over from a run that is gone", Some(p), Some(s))
                    }
                    lock::Taken::Broke(p) => ("broken by --break-lock", p, None),
                    lock::Taken::Shared => (
                        "already held by this run (the same machine under another name)",
                        None,
                        None,
                    ),
                };
                let stopped = match stopped {
                    Some(Ok(0)) | None => String::new(),
                    Some(Ok(n)) => format!(
                        "; stopped what it left running ({n} process group{})",
                        if n == 1 { "" } else { "s" }
                    ),
                    Some(Err(e)) => format!(
                        "; could not look for what it left running ({}): check the host by hand",
                        shared.masker.mask(&e)
                    ),
                };
                let message = previous.as_ref().map(|p| {
                    format!(
                        "lock on {host} {action}: was held by {}{stopped}",
                        p.describe()
                    )
                });
                if let Some(m) = &message {
                    events.emit(Event::Note {
                        at: chrono::Utc::now(),
                        text: format!("WARNING: {m}"),
                    });
                }
                events.emit(lock_event(host, action, previous.as_ref(), message));
            }
            Ok(())
        }
        Err(refused) => {
            let lines: Vec<String> = refused.iter().map(|r| format!("  - {r}")).collect();
            for r in &refused {
                events.emit(lock_event(
                    r.host().to_string(),
                    "refused",
                    None,
                    Some(r.to_string()),
                ));
            }
            let only_failures = refused
                .iter()
                .all(|r| matches!(r, lock::Refusal::Failed { .. }));
            let text = format!(
                "nothing was run: the host locks could not be taken\n{}",
                lines.join("\n")
            );
            Err(if only_failures {
                Failure::Failed(text)
            } else {
                Failure::Refused(format!(
                    "{text}\nIf that run is gone (its controller crashed or was powered off), run again with --break-lock."
                ))
            })
        }
    }
}
