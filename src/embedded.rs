//! Playbooks and templates shipped inside the binary, so one file is all a DR site needs.

const PLAYBOOKS: &[(&str, &str)] = &[
    (
        "standalone/restore.yml",
        include_str!("../playbooks/standalone/restore.yml"),
    ),
    (
        "standalone/backup.yml",
        include_str!("../playbooks/standalone/backup.yml"),
    ),
    (
        "standalone/drill.yml",
        include_str!("../playbooks/standalone/drill.yml"),
    ),
];

const TEMPLATES: &[(&str, &str)] = &[(
    "restore-marker.txt.j2",
    include_str!("../templates/restore-marker.txt.j2"),
)];

pub fn playbook(name: &str) -> Option<&'static str> {
    PLAYBOOKS.iter().find(|p| p.0 == name).map(|p| p.1)
}

pub fn template(name: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|p| p.0 == name).map(|p| p.1)
}
