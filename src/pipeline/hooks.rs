//! Hooks on the controller (`hooks.before`, `hooks.after`, `hooks.on_failure` answers): shell
//! commands run around a run, with its facts in the environment (`SETUP_RUN_ID`,
//! `SETUP_OPERATION`, `SETUP_SITE`; after it also `SETUP_STATUS`, `SETUP_EXIT_CODE`,
//! `SETUP_REPORT`). A `before` hook that fails stops the run before any host is touched; an
//! `after` or `on_failure` hook that fails is a warning.

use std::time::Duration;

use crate::answers::Answers;
use crate::failure::Failure;
use crate::report::events::{Event, Events};
use crate::task::RunShared;
use crate::world::World;

/// The run's facts for its hooks.
pub type Facts = Vec<(&'static str, String)>;

/// `hooks.before`: a failure stops the run before any host is touched (exit 1).
pub async fn before(
    w: &World,
    shared: &RunShared,
    events: &Events,
    facts: &Facts,
) -> Result<(), Failure> {
    let refs: Vec<(&str, String)> = facts.iter().map(|(k, v)| (*k, v.clone())).collect();
    let Some(Err(e)) = run(&w.answers, "hooks.before", &w.dir, &refs).await else {
        return Ok(());
    };
    let e = shared.masker.mask(&e);
    events.emit(Event::RunFinished {
        at: chrono::Utc::now(),
        status: "refused".into(),
        exit_code: 1,
    });
    events.finish();
    Err(Failure::Failed(format!(
        "nothing was run: {e} (hooks.before must succeed for the run to start)"
    )))
}

/// `hooks.after` once a run succeeded, `hooks.on_failure` otherwise, with its end in the
/// environment; a failure is a warning on screen and in the journal.
pub async fn after(
    w: &World,
    shared: &RunShared,
    events: &Events,
    facts: &Facts,
    (status, code): (&str, i32),
    run_dir: &std::path::Path,
) {
    let mut env: Vec<(&str, String)> = facts.iter().map(|(k, v)| (*k, v.clone())).collect();
    env.extend([
        ("SETUP_STATUS", status.to_string()),
        ("SETUP_EXIT_CODE", code.to_string()),
        (
            "SETUP_REPORT",
            run_dir.join("report.json").display().to_string(),
        ),
    ]);
    let hook = if status == "done" {
        "hooks.after"
    } else {
        "hooks.on_failure"
    };
    if let Some(Err(e)) = run(&w.answers, hook, &w.dir, &env).await {
        let e = shared.masker.mask(&e);
        events.emit(Event::Note {
            at: chrono::Utc::now(),
            text: format!("WARNING: {e}"),
        });
        eprintln!("warning: {e}");
    }
}

/// How long a hook may run.
const LIMIT: Duration = Duration::from_secs(300);

/// Runs the hook `key` if the answers give one; its failure as text.
pub async fn run(
    answers: &Answers,
    key: &str,
    dir: &std::path::Path,
    env: &[(&str, String)],
) -> Option<Result<(), String>> {
    let command = answers.text(key)?;
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(&command)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let result = match tokio::time::timeout(LIMIT, cmd.status()).await {
        Ok(Ok(s)) if s.success() => Ok(()),
        Ok(Ok(s)) => Err(format!(
            "the {key} hook exited {}",
            s.code().map_or("on a signal".into(), |c| c.to_string())
        )),
        Ok(Err(e)) => Err(format!("the {key} hook cannot be run: {e}")),
        Err(_) => Err(format!(
            "the {key} hook did not end within {}s",
            LIMIT.as_secs()
        )),
    };
    Some(result)
}
