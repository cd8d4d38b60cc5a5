//! The fuzz corpus on stable: every seed of `fuzz/seeds/TARGET` and every crash `scripts/fuzz`
//! found (`fuzz/regressions/TARGET`) goes through the same entry point as the fuzz target.

use std::path::Path;

fn inputs(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn every_seed_and_every_found_crash_passes_its_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut ran = 0;
    for (name, target) in setup::fuzz::TARGETS {
        let seeds = inputs(&root.join("seeds").join(name));
        assert!(!seeds.is_empty(), "fuzz target `{name}` has no seeds");
        for file in seeds
            .iter()
            .chain(&inputs(&root.join("regressions").join(name)))
        {
            let data = std::fs::read(file).unwrap();
            let caught = std::panic::catch_unwind(|| target(&data));
            assert!(caught.is_ok(), "{name}: {} fails", file.display());
            ran += 1;
        }
    }
    let targets = std::fs::read_dir(root.join("fuzz_targets"))
        .unwrap()
        .count();
    assert_eq!(
        targets,
        setup::fuzz::TARGETS.len(),
        "a fuzz target is not replayed here"
    );
    assert!(ran > 50);
}
