//! `not_older`: refuses to put a configuration backup in place over a newer one. The marker a
//! restore leaves in the configuration folder (`marker`) names the backup in place; a backup's name
//! carries the UTC time it was taken, and its signed manifest names it, so nobody without a key can
//! make an old backup look new. A `backup` taken before the one in place is refused unless the run
//! has `--allow-older` (at a terminal the run asks before it starts): storage rolled back to older
//! backups would otherwise put an old configuration over the live one, exit 0.

use chrono::{DateTime, Utc};

use crate::docs::actions::NotOlderArgs;
use crate::report::events::Event;
use crate::storage::shown;
use crate::task::{Outcome, TaskCtx};
use crate::transport::{Become, ExecRequest, Transport, quote};

/// The marker's line that names the backup in place.
const LINE: &str = "Configuration backup: ";

/// The backup the marker at `marker` names, read on the host; `None` when there is no marker (no
/// restore was made here) or it names none.
pub async fn in_place(
    transport: &dyn Transport,
    become_: Become,
    marker: &str,
) -> Result<Option<String>, String> {
    let mut req = ExecRequest::shell(format!(
        "if [ -f {m} ]; then head -c 4096 {m}; fi",
        m = quote(marker)
    ));
    req.become_ = become_;
    let out = transport.exec(req).await.map_err(|e| e.to_string())?;
    if !out.success() {
        return Err(format!(
            "the restore marker {marker} cannot be read: {}",
            crate::task::cause_line(&out.stderr).unwrap_or("no output")
        ));
    }
    Ok(out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(LINE))
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty()))
}

/// When `chosen` was taken before `live` (both by the times their names carry): the two times.
pub fn older(live: &str, chosen: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let l = crate::report::rpo::stamp_in(live)?;
    let c = crate::report::rpo::stamp_in(chosen)?;
    (c < l).then_some((l, c))
}

/// What is said of an older backup on `host`.
pub fn refusal(host: &str, live: &str, chosen: &str) -> Option<String> {
    let (l, c) = older(live, chosen)?;
    let t = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    Some(format!(
        "the configuration in place on {host} is {} (taken {}, its restore marker says); {} was taken {}, {} earlier: restoring it would roll the site back. Storage may have been rolled back (newer backups deleted or emptied): check it. To restore the older backup all the same, run again with --allow-older",
        shown(live),
        t(l),
        shown(chosen),
        t(c),
        crate::freshness::shown(l - c),
    ))
}

pub async fn run(ctx: &TaskCtx<'_>) -> Outcome {
    let NotOlderArgs {
        marker,
        backup: chosen,
    } = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let live = match in_place(ctx.transport, ctx.become_(), &marker).await {
        Ok(Some(live)) => live,
        Ok(None) => return Outcome::ok("no restore marker: no configuration restored here before"),
        Err(e) => return Outcome::failed(e),
    };
    let Some(why) = refusal(&ctx.host.name, &live, &chosen) else {
        return Outcome::ok(format!(
            "{} is not older than the configuration in place, {}",
            shown(&chosen),
            shown(&live)
        ));
    };
    if !ctx.shared.run.allow_older {
        return Outcome::failed(format!("refused: {why}"));
    }
    let text = format!(
        "WARNING: {} is older than the configuration in place on {}, {}: restored as --allow-older allows",
        shown(&chosen),
        ctx.host.name,
        shown(&live)
    );
    ctx.events().emit(Event::Note {
        at: Utc::now(),
        text: text.clone(),
    });
    Outcome::ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_taken_before_the_one_in_place_is_older() {
        let live = "director-config-20261128T020000Z.tar.zst.age";
        let old = "director-config-20261019T020000Z.tar.zst.age";
        assert!(older(live, old).is_some());
        assert_eq!(older(live, live), None);
        assert_eq!(older(old, live), None);
        assert_eq!(older("hand-made.tar", old), None);
        let why = refusal("dr-director", live, old).unwrap();
        assert!(
            why.contains("taken 2026-10-19T02:00:00Z, 40d 0h earlier"),
            "{why}"
        );
        assert!(why.contains("--allow-older"), "{why}");
    }
}
