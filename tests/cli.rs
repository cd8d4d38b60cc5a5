//! The command line's shape: each standalone operation takes the flags that belong to it, and clap
//! refuses any other as bad input (exit 2), before anything is read or written.

use crate::common;

use common::Bed;

#[test]
fn a_flag_of_another_operation_is_refused_with_exit_2_and_nothing_touched() {
    let bed = Bed::new();
    for (args, said) in [
        (&["standalone", "backup", "--dc", "dc"][..], "'--dc'"),
        (&["standalone", "restore", "--dc", "dc"], "'--dc'"),
        (&["standalone", "restore", "--list"], "'--list'"),
        (&["standalone", "failover", "--clean"], "'--clean'"),
        (&["standalone", "verify", "--force"], "'--force'"),
        (&["standalone", "drill", "--force"], "'--force'"),
        (
            &["standalone", "backup", "--allow-older"],
            "'--allow-older'",
        ),
        (&["standalone", "restore", "--from", "a"], "'--from'"),
        (&["standalone", "list", "--to", "b"], "'--to'"),
        (
            &["standalone", "drill", "--list", "--clean"],
            "cannot be used with",
        ),
        (&["standalone", "copy", "--from", "a"], "--to <TARGET>"),
        (&["standalone", "copy"], "--from <TARGET>"),
        (&["standalone", "schedule"], "install"),
        (&["standalone", "schedule", "show", "extra"], "'extra'"),
        (&["standalone", "status", "install"], "'install'"),
        (&["validate", "--force"], "'--force'"),
        // An operation's flag goes after its word.
        (&["--force", "standalone", "backup"], "'--force'"),
    ] {
        let out = bed.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains(said), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("Usage: setup"),
            "{args:?}: {}",
            out.stderr
        );
        let left: Vec<_> = std::fs::read_dir(bed.path("")).unwrap().flatten().collect();
        assert!(left.is_empty(), "{args:?} left {left:?}");
    }
}

#[test]
fn each_operation_explains_its_own_flags() {
    let bed = Bed::new();
    for (op, flags) in [
        ("restore", &["--force", "--allow-older"][..]),
        ("backup", &["--force"]),
        ("failover", &["--dc <DIR>", "--force", "--allow-older"]),
        ("drill", &["--list", "--clean"]),
        ("copy", &["--from <TARGET>", "--to <TARGET>"]),
        ("schedule", &["install", "show", "remove"]),
    ] {
        let out = bed.run(&["standalone", op, "--help"]);
        assert_eq!(out.code, 0, "{op}: {}", out.stderr);
        for flag in flags {
            assert!(
                out.stdout.contains(flag),
                "{op} --help lacks {flag}:\n{}",
                out.stdout
            );
        }
        // The flags every command shares are there too.
        assert!(out.stdout.contains("--set <KEY=VALUE>"), "{}", out.stdout);
    }
    // An operation that takes none of them does not offer them.
    let out = bed.run(&["standalone", "verify", "--help"]);
    for flag in ["--force", "--allow-older", "--dc", "--list", "--from"] {
        assert!(!out.stdout.contains(flag), "verify --help offers {flag}");
    }
    let out = bed.run(&["run", "--help"]);
    assert!(out.stdout.contains("--force") && out.stdout.contains("--allow-older"));
}
