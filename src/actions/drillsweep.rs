//! A drill's own sandbox folders: made with the drill's marker in them (`drill: { do: sandbox }`,
//! and `unpack` with `marker: true`), and told from an operator's folders of a similar name by
//! that marker and by a run id's exact shape when a drill sweeps what an earlier one left
//! (`do: sweep`) or looks for what is left (`do: check_left`).

use crate::docs::actions::DrillArgs;

use super::command::argv_ok;
use crate::task::{Outcome, TaskCtx};

/// The file a drill writes into each sandbox folder it makes, holding `marker_text(run)`: what
/// tells a drill's folder from an operator's of a similar name. `LIST_SANDBOXES` and `MAKE_SANDBOX`
/// spell the name out too.
pub(super) const MARKER: &str = ".setup-drill";

/// What the marker of the drill `run` holds.
pub(super) fn marker_text(run: &str) -> String {
    format!("setup drill {run}")
}

/// Whether `s` has the exact shape of a run id as the engine makes them (`world::new_run_id`):
/// `YYYYMMDDTHHMMSSZ-xxxx`, the last four lowercase hexadecimal digits.
pub fn is_run_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 21
        && b.iter().enumerate().all(|(i, &c)| match i {
            0..=7 | 9..=14 => c.is_ascii_digit(),
            8 => c == b'T',
            15 => c == b'Z',
            16 => c == b'-',
            _ => c.is_ascii_digit() || (b'a'..=b'f').contains(&c),
        })
}

/// Whether a folder `<live>.drill-<suffix>` was made by a drill: `suffix` is a run id and the folder
/// (a real folder, not a link) holds that run's marker, a regular file. `marker` is what the marker
/// holds, `None` when there is none.
fn drill_made(suffix: &str, is_dir: bool, marker: Option<&str>) -> bool {
    is_run_id(suffix) && is_dir && marker.map(str::trim_end) == Some(marker_text(suffix).as_str())
}

/// For each live folder given: `<folder>.drill-*` on the host, each as its suffix, whether it is a
/// folder (not a link) and, when it holds a marker that is a regular file, its first line; all
/// NUL-separated.
const LIST_SANDBOXES: &str = r#"for base; do for p in "$base".drill-*; do [ -e "$p" ] || [ -L "$p" ] || continue; printf '%s\0%s\0' "$base" "${p#"$base".drill-}"; if [ -d "$p" ] && [ ! -L "$p" ]; then printf 'd\0'; else printf 'o\0'; fi; if [ -f "$p/.setup-drill" ] && [ ! -L "$p/.setup-drill" ]; then printf 'm%s\0' "$(head -c 200 "$p/.setup-drill" | head -n 1)"; else printf 'n\0'; fi; done; done"#;

/// The sandbox folders a drill made beside each folder of `sandboxes`, as paths on the host.
pub(super) async fn drill_sandboxes(
    ctx: &TaskCtx<'_>,
    a: &DrillArgs,
) -> Result<Vec<String>, String> {
    let live: Vec<String> = a
        .sandboxes
        .iter()
        .filter(|p| !p.trim_matches('/').is_empty())
        .cloned()
        .collect();
    if live.is_empty() {
        return Ok(Vec::new());
    }
    let mut argv: Vec<String> = ["sh", "-c", LIST_SANDBOXES, "sh"]
        .map(String::from)
        .to_vec();
    argv.extend(live.iter().cloned());
    let out = argv_ok(ctx, argv, "looking for drill sandbox folders").await?;
    let fields: Vec<&str> = out.stdout.split('\0').collect();
    let mut found = Vec::new();
    for entry in fields.chunks_exact(4) {
        let [base, suffix, kind, marker] = entry else {
            continue;
        };
        // Only the folders the host was asked about, named anew from what was matched.
        if !live.iter().any(|l| l == base) {
            continue;
        }
        if drill_made(suffix, *kind == "d", marker.strip_prefix('m')) {
            found.push(format!("{base}.drill-{suffix}"));
        }
    }
    Ok(found)
}

/// Makes this run's sandbox folder `dir` afresh: the marker first (a drill killed while it copies
/// still leaves a folder the next drill knows as its own), then the copy, then the marker again.
/// The marker is written anew (`set -C`): whatever the copy put at its name, a link included, is
/// removed first, never written through.
const MAKE_SANDBOX: &str = r#"set -eu; d=$1; m=$2; from=$3; mark() { rm -rf "$d/.setup-drill"; (set -C; printf '%s\n' "$m" > "$d/.setup-drill"); }; rm -rf "$d"; mkdir -p "$d"; mark; if [ -n "$from" ] && [ -d "$from" ]; then cp -a "$from/." "$d/"; mark; fi"#;

/// The shell line that writes this run's marker into the folder `dir`, anew as `MAKE_SANDBOX` does.
pub(super) fn write_marker(ctx: &TaskCtx<'_>, dir: &str) -> String {
    let marker = crate::transport::quote(&format!("{dir}/{MARKER}"));
    format!(
        "rm -rf {marker}; (set -C; printf '%s\\n' {} > {marker})",
        crate::transport::quote(&marker_text(&ctx.shared.run.id)),
    )
}

pub(super) async fn sandbox(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let dir = a.dir.clone().unwrap_or_default();
    if dir.trim_matches('/').is_empty() {
        return Err("`drill` with `do: sandbox` needs a `dir` folder, and not `/`".into());
    }
    let from = a.copy_of.clone().unwrap_or_default();
    let marker = marker_text(&ctx.shared.run.id);
    let argv = ["sh", "-c", MAKE_SANDBOX, "sh", &dir, &marker, &from]
        .map(String::from)
        .to_vec();
    argv_ok(ctx, argv, &format!("making {dir}")).await?;
    Ok(Outcome::changed(if from.is_empty() {
        format!("{dir} made")
    } else {
        format!("{dir} made, a copy of {from}")
    }))
}

pub(super) async fn sweep(ctx: &TaskCtx<'_>, a: &DrillArgs) -> Result<Outcome, String> {
    let found = drill_sandboxes(ctx, a).await?;
    if found.is_empty() {
        return Ok(Outcome::ok("no sandbox folder of an earlier drill"));
    }
    let mut argv: Vec<String> = ["rm", "-rf", "--"].map(String::from).to_vec();
    argv.extend(found.iter().cloned());
    argv_ok(
        ctx,
        argv,
        "removing the sandbox folders an earlier drill left",
    )
    .await?;
    Ok(Outcome::changed(format!("removed {}", found.join(", "))))
}

#[cfg(test)]
mod tests {
    use super::{drill_made, is_run_id, marker_text};

    #[test]
    fn a_run_id_has_one_exact_shape() {
        assert!(is_run_id("20261207T184910Z-0a9f"));
        for not in [
            "notes",
            "2025-archive",
            "20261207T184910Z-0A9F",
            "20261207T184910Z-0a9g",
            "20261207T184910Z-0a9f0",
            "20261207t184910z-0a9f",
            "2026120xT184910Z-0a9f",
            "20261207T184910Z_0a9f",
            "",
        ] {
            assert!(!is_run_id(not), "{not}");
        }
    }

    #[test]
    fn only_a_folder_a_drill_made_is_one() {
        let run = "20261130T000000Z-dead";
        let marker = marker_text(run);
        assert!(drill_made(run, true, Some(&marker)));
        assert!(drill_made(run, true, Some(&format!("{marker}\n"))));
        assert!(!drill_made(run, true, None));
        assert!(!drill_made(run, false, Some(&marker)));
        assert!(!drill_made(
            run,
            true,
            Some("setup drill 20261130T000000Z-beef")
        ));
        assert!(!drill_made("notes", true, Some("setup drill notes")));
    }
}
