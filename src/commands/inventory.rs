//! `setup inventory --list`: the resolved inventory, as `ansible-inventory --list` prints it.

use crate::diag::Diagnostics;
use crate::failure::Failure;
use crate::options::Options;

pub fn list(o: &Options) -> Result<i32, Failure> {
    let mut diags = Diagnostics::default();
    let inv = crate::world::load_inventory(o, &mut diags);
    diags.into_result()?;
    super::say!(
        "{}",
        serde_json::to_string_pretty(&inv.ansible_list()).expect("json")
    );
    Ok(0)
}
