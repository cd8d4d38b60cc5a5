//! Rollback's first half: every change a task recorded how to undo is taken back, newest first, on
//! the host where it was made, each with a journal line saying what was undone.

use std::sync::Arc;

use chrono::Utc;

use crate::report::events::Event;
use crate::task::RunShared;
use crate::transport::ExecRequest;

/// Undoes every recorded change, newest first; true when all of them were undone.
pub async fn undo_all(shared: &Arc<RunShared>) -> bool {
    let entries: Vec<_> = std::mem::take(&mut *shared.undo.lock().expect("undo"));
    let mut all = true;
    for e in entries.into_iter().rev() {
        let mut req = ExecRequest::new(e.undo.program.clone());
        req.env = e.undo.env.clone();
        if e.become_ {
            req.become_ = Some(shared.become_password.clone());
        }
        let result = match shared.transport(&e.host).exec(req).await {
            Ok(out) if out.success() => Ok(()),
            Ok(out) => Err(crate::task::Outcome::from_exec(&out).message),
            Err(err) => Err(err.to_string()),
        };
        all &= result.is_ok();
        shared.events.emit(Event::Undone {
            at: Utc::now(),
            task: e.task,
            step: e.step,
            host: e.host,
            ok: result.is_ok(),
            describe: e.undo.describe,
            message: shared.masker.mask(&result.err().unwrap_or_default()),
        });
    }
    all
}
