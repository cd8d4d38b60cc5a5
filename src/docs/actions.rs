//! The actions a playbook step may name, and the keys each one takes.

/// Each action and the keys its mapping form accepts; `None` means a scalar or list form only.
pub const ACTIONS: &[(&str, Option<&[&str]>)] = &[
    ("shell", Some(&["cmd", "chdir", "stdin"])),
    ("command", Some(&["argv", "chdir", "stdin"])),
    ("script", Some(&["src", "args"])),
    ("copy", Some(&["src", "content", "dest", "mode"])),
    ("template", Some(&["src", "dest", "mode"])),
    ("fetch", Some(&["object", "dest", "sha256", "verify"])),
    (
        "upload",
        Some(&[
            "src",
            "command",
            "object",
            "seal",
            "if_exists",
            "manifest",
            "manifest_from",
        ]),
    ),
    ("service", Some(&["name", "state", "manager"])),
    ("maintenance", Some(&["state", "command", "off"])),
    ("unpack", Some(&["object", "dest", "sha256", "verify"])),
    ("install", Some(&["from", "to", "merge"])),
    (
        "postgres",
        Some(&[
            "op",
            "database",
            "user",
            "host",
            "port",
            "dump",
            "to",
            "missing",
            "counts_to",
            "owner",
        ]),
    ),
    (
        "wait_for",
        Some(&[
            "port", "host", "http", "status", "command", "service", "manager", "timeout", "delay",
        ]),
    ),
    ("assert", Some(&["that", "msg"])),
    ("debug", Some(&["msg", "var"])),
    (
        "analytics_gate",
        Some(&[
            "state_file",
            "prefix",
            "pattern",
            "mode",
            "snapshots",
            "since",
        ]),
    ),
    ("analytics_record", Some(&["state_file", "snapshot"])),
];
