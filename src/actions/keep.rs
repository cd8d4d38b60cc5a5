//! What restores keep aside, kept to the last N: `<dir>.pre-restore-<run>` and `<dir>.failed-<run>`
//! folders, the dumps of the live database, and the `<database>_pre_<run>` and
//! `<database>_failed_<run>` databases (`keep_last` and `postgres: { op: keep }`). A run id starts
//! with its time, so names sort oldest first; the newest N of each kind stay. What went and what
//! stays is the task's data (`kept_aside`), for the run's summary and `status`.

use super::pg::{Conn, derived, ident};
use crate::docs::actions::KeepLastArgs;
use crate::task::{Outcome, TaskCtx};
use crate::transport::{Program, quote};

/// The names among `names` that `switch` gives `database` for `what` (`pre`, `failed`) in some run,
/// oldest first (a run id starts with its time).
fn kept_aside(database: &str, what: &str, names: &[&str]) -> Vec<String> {
    // Every run id has the same length, so the head a long name is cut to is the same for all.
    let sample = derived(database, what, "20261123T204002Z-9d68");
    let head = &sample[..sample.len() - "20261123t204002z_9d68".len()];
    let mut found: Vec<String> = names
        .iter()
        .filter(|n| {
            n.strip_prefix(head).is_some_and(|run| {
                run.len() == 21
                    && run.as_bytes()[8] == b't'
                    && run
                        .chars()
                        .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase() || c == '_')
            })
        })
        .map(|n| n.to_string())
        .collect();
    found.sort();
    found
}

/// The newest `keep` of `names` (sorted oldest first) stay; the others go: (to remove, kept).
fn newest(names: Vec<String>, keep: usize) -> (Vec<String>, Vec<String>) {
    let cut = names.len().saturating_sub(keep);
    let mut names = names;
    let kept = names.split_off(cut);
    (names, kept)
}

/// `keep: N` as a count of at least 1: the newest copy is the way back from the run that made it.
fn keep_count(given: &str) -> Result<usize, String> {
    match given.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "`keep` must be a whole number of at least 1 (the answer keep_pre_restore), not `{given}`"
        )),
    }
}

/// `postgres: { op: keep, keep: N }`: the databases restores kept aside.
pub(super) async fn databases(
    ctx: &TaskCtx<'_>,
    keep: &str,
    conn: &Conn,
) -> Result<Outcome, String> {
    let n = keep_count(keep)?;
    let listed = conn
        .run(
            ctx,
            conn.psql("postgres", "SELECT datname FROM pg_database ORDER BY 1"),
        )
        .await?;
    let names: Vec<&str> = listed.lines().map(str::trim).collect();
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    for what in ["pre", "failed"] {
        let (drop, stay) = newest(kept_aside(&conn.database, what, &names), n);
        for d in drop {
            // DROP DATABASE runs alone: psql sends one `-c` as one transaction.
            conn.run(ctx, conn.psql("postgres", &Conn::close_sessions(&[&d])))
                .await?;
            let sql = format!("DROP DATABASE IF EXISTS {}", ident(&d));
            conn.run(ctx, conn.psql("postgres", &sql))
                .await
                .map_err(|e| format!("dropping {d}: {e}"))?;
            removed.push(format!("database {d}"));
        }
        kept.extend(stay.into_iter().map(|d| format!("database {d}")));
    }
    Ok(kept_outcome(removed, kept, n))
}

/// What `keep` removed and kept, as a task's outcome: said in its message, and in its data
/// (`kept_aside`) for the run's summary and `status`.
fn kept_outcome(removed: Vec<String>, kept: Vec<String>, n: usize) -> Outcome {
    let message = format!(
        "{}; kept (the last {n} of each): {}",
        if removed.is_empty() {
            "nothing older to remove".to_string()
        } else {
            format!("removed {}", removed.join(", "))
        },
        if kept.is_empty() {
            "none".to_string()
        } else {
            kept.join(", ")
        }
    );
    let data = serde_json::json!({ "kept_aside": { "removed": removed, "kept": kept, "keep": n } });
    let o = if removed.is_empty() {
        Outcome::ok(message)
    } else {
        Outcome::changed(message)
    };
    o.with_data(data)
}

/// The entries of the host that match each pattern of `globs` (one `*` each), oldest first (a run id
/// starts with its time): the script that lists them prints `glob-index<TAB>path` lines.
fn listing(globs: &[String]) -> Result<String, String> {
    let mut script = String::from("set -u; ");
    for (i, g) in globs.iter().enumerate() {
        let Some((head, tail)) = g.split_once('*').filter(|(_, t)| !t.contains('*')) else {
            return Err(format!("`keep_last`: `{g}` must hold exactly one `*`"));
        };
        if head.trim_matches('/').is_empty() || !head.starts_with('/') {
            return Err(format!(
                "`keep_last`: `{g}` must start with an absolute folder"
            ));
        }
        script += &format!(
            "for e in {}*{}; do if [ -e \"$e\" ] || [ -L \"$e\" ]; then printf '{i}\\t%s\\n' \"$e\"; fi; done; ",
            quote(head),
            quote(tail)
        );
    }
    Ok(script)
}

/// Whether `path` is `head` and then a run id (`20261123T024422Z-5b6a…`): only what a run named
/// is ever counted, never a live folder a too wide pattern would also match.
fn by_a_run(head: &str, path: &str) -> bool {
    path.strip_prefix(head).is_some_and(|rest| {
        let b = rest.as_bytes();
        b.len() >= 16 && b[..8].iter().all(u8::is_ascii_digit) && b[8] == b'T' && b[15] == b'Z'
    })
}

/// `keep_last: { globs, keep }`: of what restores kept aside on the host (each pattern, e.g.
/// `/etc/director.pre-restore-*`, names one kind), the newest `keep` of each kind stay and the older
/// ones are removed. Its data (`kept_aside`: removed, kept) feeds the run's summary and `status`.
pub async fn keep_last(ctx: &TaskCtx<'_>) -> Outcome {
    let KeepLastArgs { globs, keep } = match ctx.typed() {
        Ok(a) => a,
        Err(e) => return Outcome::failed(e),
    };
    let n = match keep_count(&keep) {
        Ok(n) => n,
        Err(e) => return Outcome::failed(e),
    };
    let script = match listing(&globs) {
        Ok(s) => s,
        Err(e) => return Outcome::failed(e),
    };
    let out = match ctx
        .transport
        .exec(ctx.request(Program::Shell(script)))
        .await
    {
        Ok(out) if out.success() => out,
        Ok(out) => return Outcome::from_exec(&out),
        Err(e) => return Outcome::from_transport(&e),
    };
    let (mut removed, mut kept) = (Vec::new(), Vec::new());
    for (i, g) in globs.iter().enumerate() {
        let head = g.split_once('*').map_or("", |(h, _)| h);
        let mut found: Vec<String> = out
            .stdout
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter(|(k, p)| k.parse::<usize>() == Ok(i) && by_a_run(head, p))
            .map(|(_, p)| p.to_string())
            .collect();
        found.sort();
        let (gone, stay) = newest(found, n);
        removed.extend(gone);
        kept.extend(stay);
    }
    if !removed.is_empty() {
        let list: Vec<String> = removed.iter().map(|r| quote(r)).collect();
        let rm = format!("rm -rf -- {}", list.join(" "));
        match ctx.transport.exec(ctx.request(Program::Shell(rm))).await {
            Ok(out) if out.success() => {}
            Ok(out) => return Outcome::from_exec(&out),
            Err(e) => return Outcome::from_transport(&e),
        }
    }
    kept_outcome(removed, kept, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_copies_a_restore_kept_aside_are_counted_and_the_newest_stay() {
        let names = [
            "director",
            "director_pre_20261123t204002z_9d68",
            "director_pre_20261124t010000z_0a1b",
            "director_pre_20261122t000000z_ffff",
            "director_failed_20261123t204002z_9d68",
            "director_pre_notes",
            "director_setup_new",
            "directory_pre_20261123t204002z_9d68",
            "other_pre_20261123t204002z_9d68",
        ];
        let pre = kept_aside("director", "pre", &names);
        assert_eq!(
            pre,
            [
                "director_pre_20261122t000000z_ffff",
                "director_pre_20261123t204002z_9d68",
                "director_pre_20261124t010000z_0a1b"
            ]
        );
        let (gone, kept) = newest(pre, 2);
        assert_eq!(gone, ["director_pre_20261122t000000z_ffff"]);
        assert_eq!(kept.len(), 2);
        assert_eq!(
            kept_aside("director", "failed", &names),
            ["director_failed_20261123t204002z_9d68"]
        );
        let long = "d".repeat(70);
        let cut = derived(&long, "pre", "20261123T204002Z-9d68");
        assert_eq!(kept_aside(&long, "pre", &[cut.as_str()]), [cut]);
        assert_eq!(newest(vec!["a".into()], 2), (vec![], vec!["a".to_string()]));
    }

    #[test]
    fn a_folder_counts_only_when_a_run_named_it() {
        let head = "/etc/director.pre-restore-";
        assert!(by_a_run(
            head,
            "/etc/director.pre-restore-20261123T024422Z-5b6a"
        ));
        assert!(by_a_run(
            "/var/lib/setup/pre-restore/director-",
            "/var/lib/setup/pre-restore/director-20261123T024422Z-5b6a.dump"
        ));
        assert!(!by_a_run("/etc/director", "/etc/director"));
        assert!(!by_a_run(
            "/etc/director",
            "/etc/director.pre-restore-20261123T024422Z-5b6a"
        ));
        assert!(!by_a_run(head, "/etc/director.pre-restore-notes"));
        assert!(listing(&["/etc/director.pre-restore-".into()]).is_err());
        assert!(listing(&["/*".into()]).is_err());
        assert!(listing(&["/etc/a*b*".into()]).is_err());
    }
}
