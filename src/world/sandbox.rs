//! master.yml's `drill` group: sandbox hosts that a drill runs on alone, and that nothing else
//! touches.

use super::PlaybookRef;
use crate::diag::{Diag, Diagnostics};
use crate::docs::inventory::Inventory;
use crate::plan;

/// The hosts of master.yml's `drill` group are sandbox hosts (an isolated test network): a drill
/// runs on them alone, and no other built-in operation ever touches them. As a `--limit` of host
/// names; without a `drill` group the filters are as given.
pub(super) fn sandbox_hosts(
    given: &plan::Filters,
    inventory: &Inventory,
    pref: &PlaybookRef,
    diags: &mut Diagnostics,
) -> plan::Filters {
    let sandbox = inventory.resolve("drill").unwrap_or_default();
    let PlaybookRef::Builtin(name) = pref else {
        return given.clone();
    };
    if sandbox.is_empty() || given.limit.iter().any(|p| inventory.resolve(p).is_none()) {
        return given.clone();
    }
    let drill = name == "standalone/drill.yml";
    let wanted: Vec<String> = if given.limit.is_empty() {
        inventory.hosts.iter().map(|h| h.name.clone()).collect()
    } else {
        given
            .limit
            .iter()
            .flat_map(|p| inventory.resolve(p).unwrap_or_default())
            .collect()
    };
    let mut limit: Vec<String> = Vec::new();
    for h in wanted {
        if sandbox.contains(&h) == drill && !limit.contains(&h) {
            limit.push(h);
        }
    }
    if limit.is_empty() {
        let what = if drill {
            "the drill runs on the hosts of master.yml's `drill` group only, and --limit names none of them"
        } else {
            "the hosts of master.yml's `drill` group are sandbox hosts, which only a drill uses, and --limit names no other"
        };
        diags.push(
            Diag::plain("drill_hosts", what).help("see `setup inventory --list` for the groups"),
        );
        return given.clone();
    }
    plan::Filters {
        limit,
        ..given.clone()
    }
}
