//! `setup inventory --list` against the real `ansible-inventory --list` on inventories of different shapes.
//! ansible-core is installed from PyPI into a venv by `scripts/test`; set ANSIBLE_INVENTORY to use another.

use crate::common;

use std::path::PathBuf;
use std::process::Command;

fn ansible_inventory() -> PathBuf {
    if let Some(p) = std::env::var_os("ANSIBLE_INVENTORY") {
        return PathBuf::from(p);
    }
    let home = std::env::var("HOME").expect("HOME is set");
    let p = PathBuf::from(home).join(".cache/setup/ansible-venv/bin/ansible-inventory");
    assert!(
        p.exists(),
        "ansible-inventory not found at {}: run `scripts/test`, which installs ansible-core into that venv",
        p.display()
    );
    p
}

fn list(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn inventory_list_matches_ansible_inventory() {
    let dir = common::repo().join("tests/inventories");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(files.len() >= 30);
    let ansible = ansible_inventory();
    for f in files {
        let want = list(
            Command::new(&ansible)
                .arg("-i")
                .arg(&f)
                .arg("--list")
                .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true"),
        );
        let got = list(
            Command::new(env!("CARGO_BIN_EXE_setup"))
                .args(["inventory", "--list", "-i"])
                .arg(&f),
        );
        assert_eq!(
            got,
            want,
            "{}: setup\n{got:#}\nansible\n{want:#}",
            f.display()
        );
    }
}

/// What Ansible refuses, setup refuses too: exit 2 with a diagnostic naming the file and line.
#[test]
fn what_ansible_refuses_setup_refuses() {
    let dir = common::repo().join("tests/inventories/refused");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let ansible = ansible_inventory();
    for f in files {
        let theirs = Command::new(&ansible)
            .arg("-i")
            .arg(&f)
            .arg("--list")
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
            .output()
            .unwrap();
        assert!(
            !theirs.status.success(),
            "{}: ansible accepts it",
            f.display()
        );
        let ours = Command::new(env!("CARGO_BIN_EXE_setup"))
            .args(["inventory", "--list", "-i"])
            .arg(&f)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&ours.stderr);
        assert_eq!(ours.status.code(), Some(2), "{}: {err}", f.display());
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            err.contains(&format!("{name}:3:")),
            "{}: {err}",
            f.display()
        );
    }
}
