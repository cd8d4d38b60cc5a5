//! Every kind of invalid input gives its own diagnostic: file:line:col, a caret, a help line, exit code 2.

use crate::common;

use common::{Bed, INVENTORY};

const PLAYBOOK: &str = "\
name: Test
vars: { staging: /var/tmp/x }
steps:
  - id: fetch
    hosts: director
    shell: echo {{ staging }}
  - id: restore
    hosts: director
    needs: [fetch]
    shell: echo {{ site }}
";

/// Runs `setup run pb.yml` on the given documents; asserts exit 2 and that no host was touched.
fn diag(inventory: &str, playbook: &str, restore: Option<&str>, extra: &[&str]) -> String {
    let bed = Bed::new();
    bed.file("master.yml", inventory).file("pb.yml", playbook);
    if let Some(r) = restore {
        bed.file("restore.yml", r);
    }
    let mut args = vec!["run", "pb.yml"];
    args.extend_from_slice(extra);
    let out = bed.run(&args);
    assert_eq!(
        out.code, 2,
        "stdout: {}\nstderr: {}",
        out.stdout, out.stderr
    );
    assert!(
        out.stdout.is_empty(),
        "nothing runs on invalid input: {}",
        out.stdout
    );
    assert!(!bed.path(".setup").exists(), "no run was recorded");
    bed.filter(&out.stderr)
}

#[test]
fn yaml_syntax_error() {
    insta::assert_snapshot!(diag(
        "hosts:\n  a: {address: 1.2.3.4\n  b: {address: 1.2.3.5}\n",
        PLAYBOOK,
        None,
        &[]
    ));
}

#[test]
fn tab_indentation() {
    insta::assert_snapshot!(diag(
        "hosts:\n\tdirector-1: {address: 1.2.3.4}\n",
        PLAYBOOK,
        None,
        &[]
    ));
}

#[test]
fn wrong_type() {
    let inv = INVENTORY.replace(
        "{ connection: local }",
        "{ connection: local, port: twenty-two }",
    );
    insta::assert_snapshot!(diag(&inv, PLAYBOOK, None, &[]));
}

#[test]
fn unknown_key_with_suggestion() {
    insta::assert_snapshot!(diag(
        "hosts:\n  director-1: { address: 10.0.0.1, groups: [director], user: dr, prot: 22 }\nvars: { site: x }\n",
        PLAYBOOK,
        None,
        &[]
    ));
}

#[test]
fn non_local_host_without_address() {
    insta::assert_snapshot!(diag(
        "hosts:\n  director-1: { groups: [director], user: dr }\nvars: { site: x }\n",
        PLAYBOOK,
        None,
        &[]
    ));
}

#[test]
fn duplicate_step_id() {
    let pb = format!("{PLAYBOOK}  - id: fetch\n    shell: 'true'\n");
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn step_with_two_actions() {
    let pb = PLAYBOOK.replace(
        "    shell: echo {{ staging }}\n",
        "    shell: echo {{ staging }}\n    command: ls /\n",
    );
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn step_with_no_action() {
    let pb = PLAYBOOK.replace("    shell: echo {{ staging }}\n", "");
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn needs_an_unknown_step() {
    let pb = PLAYBOOK.replace("needs: [fetch]", "needs: [fecth]");
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn hosts_names_an_unknown_group() {
    let pb = PLAYBOOK.replacen("hosts: director", "hosts: directr", 1);
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn dependency_cycle_prints_the_loop() {
    let pb = PLAYBOOK.replace(
        "    hosts: director\n    shell: echo {{ staging }}",
        "    hosts: director\n    needs: [restore]\n    shell: echo {{ staging }}",
    );
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn undefined_variable_with_suggestion() {
    let pb = PLAYBOOK.replace("echo {{ staging }}", "echo {{ stagng }}");
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn misspelt_restore_attribute() {
    let pb = PLAYBOOK.replace("echo {{ staging }}", "echo {{ restore.config_bakup }}");
    insta::assert_snapshot!(diag(INVENTORY, &pb, Some("config_backup: c.tar\n"), &[]));
}

#[test]
fn invalid_analytics_mode() {
    insta::assert_snapshot!(diag(
        INVENTORY,
        PLAYBOOK,
        Some("config_backup: c.tar\nanalytics: { mode: dayly }\n"),
        &[]
    ));
}

#[test]
fn invalid_analytics_mode_from_set() {
    insta::assert_snapshot!(diag(
        INVENTORY,
        PLAYBOOK,
        None,
        &["--set", "analytics.mode=current_week"]
    ));
}

#[test]
fn unknown_storage_type() {
    insta::assert_snapshot!(diag(
        INVENTORY,
        PLAYBOOK,
        Some("storage: { type: s4, bucket: b }\n"),
        &[]
    ));
}

#[test]
fn malformed_set() {
    insta::assert_snapshot!(diag(INVENTORY, PLAYBOOK, None, &["--set", "storage.type"]));
}

#[test]
fn every_error_in_every_document_in_one_run() {
    let pb = PLAYBOOK
        .replace("needs: [fetch]", "needs: [fecth]")
        .replace("{{ site }}", "{{ sitee }}");
    let out = diag(
        "hosts:\n  director-1: { groups: [director], prot: 22 }\n",
        &pb,
        Some("analytics: { mode: never }\n"),
        &["--set", "=x"],
    );
    for needle in [
        "unknown key `prot`",
        "has no address",
        "needs `fecth`",
        "undefined variable `sitee`",
        "invalid analytics mode",
        "malformed --set",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn missing_answers_are_listed_together_in_ci() {
    let bed = Bed::new();
    bed.file("master.yml", INVENTORY).file("pb.yml", "steps:\n  - id: get\n    hosts: director\n    fetch: { object: a.tar, dest: /tmp/a.tar }\n");
    let out = bed.run(&["run", "pb.yml", "--set", "storage.type=s3"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(bed.filter(&out.stderr));
}

#[test]
fn secrets_on_a_command_line_are_refused() {
    let pb = PLAYBOOK.replace("echo {{ staging }}", "echo {{ secret.become_password }}");
    insta::assert_snapshot!(diag(INVENTORY, &pb, None, &[]));
}

#[test]
fn a_bad_storage_answer_points_where_it_was_given() {
    let bed = Bed::new();
    bed.file("master.yml", INVENTORY)
        .file("pb.yml", "steps:\n  - id: get\n    hosts: director\n    fetch: { object: a.tar, dest: /tmp/a.tar }\n")
        .file(
            "answers.yml",
            "storage.type: sftp\nstorage.sftp.host: backup.example\nstorage.sftp.user: dr\nstorage.sftp.key_file: /k\nstorage.sftp.port: twenty-two\n",
        );
    let out = bed.run(&["run", "pb.yml", "--set", "storage.timeout=soon"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(!bed.path(".setup").exists(), "no run was recorded");
    insta::assert_snapshot!(bed.filter(&out.stderr));
}

#[test]
fn a_storage_command_reads_no_inventory_and_checks_its_answers() {
    let bed = Bed::new();
    // A broken master.yml does not matter to a command that only talks to storage.
    bed.file("master.yml", "hosts: [")
        .file("answers.yml", "storage.type: ftp\nstorage.ftp.host: h\nstorage.ftp.user: u\nstorage.ftp.password: p\nstorage.ftp.tls: maybe\n");
    let out = bed.run(&["standalone", "list"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let err = bed.filter(&out.stderr);
    assert!(
        err.contains("`storage.ftp.tls` is `maybe`, not true or false"),
        "{err}"
    );
    assert!(
        err.contains("answers.yml:5"),
        "points into answers.yml: {err}"
    );
    assert!(!err.contains("master.yml"), "{err}");
}

/// A billion-laughs document: each level doubles the one before, ten times over.
fn alias_bomb() -> String {
    let mut text = String::from("vars:\n  l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = i - 1;
        text.push_str(&format!(
            "  l{i}: &l{i} [*l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}, *l{prev}]\n"
        ));
    }
    text.push_str("hosts:\n  director-1: { groups: [director], connection: local }\n");
    text
}

#[test]
fn an_alias_bomb_is_refused_in_bounded_memory() {
    let text = alias_bomb();
    assert!(text.len() < 1000, "a small document: {}", text.len());
    insta::assert_snapshot!(diag(&text, PLAYBOOK, None, &[]));
}

#[test]
fn nesting_beyond_the_limit_is_refused() {
    let short = |s: &str| s.chars().take(600).collect::<String>();
    // 10,000 levels in restore.yml vars: refused at load, not a crash mid-run.
    let deep = format!("vars:\n  v: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    let out = diag(INVENTORY, PLAYBOOK, Some(&deep), &[]);
    assert!(
        out.contains("nesting deeper than 256 levels"),
        "{}",
        short(&out)
    );
    assert!(out.contains("restore.yml:2:"), "{}", short(&out));
    // 100,000 levels in host vars.
    let deep = format!(
        "hosts:\n  director-1: {{ groups: [director], vars: {{ v: {}{} }} }}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let out = diag(&deep, PLAYBOOK, None, &[]);
    assert!(
        out.contains("nesting deeper than 256 levels"),
        "{}",
        short(&out)
    );
    // And in an answers file, as a block structure.
    let bed = Bed::new();
    let answers = format!("storage.type: {}\n", "[".repeat(100_000));
    bed.file("master.yml", INVENTORY)
        .file("pb.yml", PLAYBOOK)
        .file("answers.yml", &answers);
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 2, "{}", short(&out.stderr));
    assert!(
        out.stderr.contains("nesting deeper than 256 levels"),
        "{}",
        short(&out.stderr)
    );
}

#[test]
fn a_duplicate_key_names_both_lines() {
    let inv = "hosts:\n  director-1: { groups: [director], connection: local }\n  analytics-1: { groups: [analytics], connection: local }\n  director-1: { groups: [analytics], connection: local }\n";
    insta::assert_snapshot!(diag(inv, PLAYBOOK, None, &[]));
    let restore = "components: [config]\nconfig_backup: a.tar\ncomponents: [analytics]\n";
    let out = diag(INVENTORY, PLAYBOOK, Some(restore), &[]);
    assert!(
        out.contains("duplicate key `components` on line 3 (first given on line 1)"),
        "{out}"
    );
}

#[test]
fn a_numeric_host_name_and_a_bad_host_range() {
    insta::assert_snapshot!(diag(
        "web:\n  hosts:\n    1234: {}\n    node[1:x]: {}\n    db[01:100]:\n",
        PLAYBOOK,
        None,
        &[]
    ));
}

#[test]
fn a_vault_value_used_in_a_step() {
    insta::assert_snapshot!(diag(
        "all:\n  children:\n    director:\n      hosts:\n        d1:\n          ansible_connection: local\n          db_pass: !vault |\n            $ANSIBLE_VAULT;1.1;AES256\n            6162636465\n",
        "steps:\n  - id: use\n    hosts: director\n    env: { PW: \"{{ db_pass }}\" }\n    shell: echo hi\n",
        None,
        &[]
    ));
}

#[test]
fn a_connection_setup_cannot_drive_lists_but_is_refused_by_a_run_that_uses_it() {
    let bed = Bed::new();
    bed.file(
        "master.yml",
        "switches:\n  hosts:\n    sw1: { ansible_connection: network_cli }\nlinux:\n  hosts:\n    lin1: { ansible_connection: local }\n",
    )
    .file("pb.yml", "steps:\n  - { id: hello, hosts: all, shell: 'echo hi > said-hi' }\n");
    let list = bed.run(&["inventory", "--list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let out = bed.run(&["run", "pb.yml"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("host `sw1` uses connection `network_cli`"),
        "{}",
        out.stderr
    );
    assert!(!bed.path("said-hi").exists());
    let out = bed.run(&["run", "pb.yml", "--limit", "linux"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(bed.path("said-hi").exists());
}

/// An action's arguments are checked against its declaration before anything runs: a key it does
/// not take, a required one missing, and a value written in the playbook that is not of its type
/// (a templated one is read once rendered).
#[test]
fn an_actions_arguments_are_checked_against_its_declaration() {
    let text = diag(
        INVENTORY,
        "steps:
  - id: wait
    hosts: director
    wait_for: { port: 22, timeout: soon }
  - id: put
    hosts: director
    copy: { content: x, dset: /tmp/x }
  - id: templated
    hosts: director
    wait_for: { port: 22, timeout: '{{ 30 }}' }
",
        None,
        &[],
    );
    assert!(
        text.contains(
            "wrong type for `timeout` of `wait_for`: `soon` where a whole number belongs"
        ),
        "{text}"
    );
    assert!(text.contains("unknown key `dset` in `copy`"), "{text}");
    assert!(text.contains("`copy` needs `dest`"), "{text}");
    assert_eq!(
        text.matches("wrong type for `timeout`").count(),
        1,
        "a templated value is not judged before it is rendered: {text}"
    );
}
