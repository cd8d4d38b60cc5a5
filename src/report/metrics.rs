//! The run's metrics as a Prometheus text file (node_exporter's textfile collector format), at the
//! answer `metrics.textfile`, replaced in one rename. A success of one operation and component is
//! kept from the file's earlier contents until the same one succeeds again, so that an alert on a
//! stale backup keeps firing through failed runs.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

use super::rpo::Rpo;

/// What one run reports.
pub struct RunFacts<'a> {
    pub operation: &'a str,
    pub site: &'a str,
    /// The components the run worked on (`config`, `analytics`; `all` for a plain `run`).
    pub components: &'a [String],
    /// How the run ended (the report's `status`: `done` is a success).
    pub status: &'a str,
    /// How long it took (the report's `duration_seconds`).
    pub duration_seconds: f64,
    /// How old the restored data was (the report's `rpo`).
    pub rpo: Option<&'a Rpo>,
    /// When the run ended, in seconds since the epoch.
    pub finished: i64,
    /// Bytes stored per component (a backup).
    pub sizes: &'a BTreeMap<String, u64>,
}

const HELP: &[(&str, &str)] = &[
    (
        "setup_last_run_timestamp_seconds",
        "When the last run of the operation ended.",
    ),
    (
        "setup_last_run_status",
        "1 when the last run of the operation succeeded, 0 when it failed, was interrupted or refused.",
    ),
    (
        "setup_run_duration_seconds",
        "How long the last run of the operation took.",
    ),
    (
        "setup_last_success_timestamp_seconds",
        "When the operation last succeeded for the component.",
    ),
    (
        "setup_rpo_seconds",
        "How old the restored data of the component was when the last restore started.",
    ),
    (
        "setup_backup_size_bytes",
        "The size in storage of the component's last backup.",
    ),
];

/// A label value as the text format writes it.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The file's text: this run's samples over those of the earlier file that this run does not
/// replace (other operations, other components, older successes).
pub fn render(earlier: &str, f: &RunFacts) -> String {
    // name -> labels text -> value
    let mut samples: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for line in earlier.lines().filter(|l| !l.starts_with('#')) {
        let Some((head, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (name, labels) = match head.split_once('{') {
            Some((n, l)) => (n, format!("{{{l}")),
            None => (head, String::new()),
        };
        if HELP.iter().any(|(h, _)| *h == name) {
            samples
                .entry(name.to_string())
                .or_default()
                .insert(labels, value.to_string());
        }
    }
    let (op, site) = (label(f.operation), label(f.site));
    let run_labels = format!("{{operation=\"{op}\",site=\"{site}\"}}");
    let ok = f.status == "done";
    let mut set = |name: &str, labels: String, value: String| {
        samples
            .entry(name.to_string())
            .or_default()
            .insert(labels, value);
    };
    set(
        "setup_last_run_timestamp_seconds",
        run_labels.clone(),
        f.finished.to_string(),
    );
    set(
        "setup_last_run_status",
        run_labels.clone(),
        if ok { "1" } else { "0" }.to_string(),
    );
    set(
        "setup_run_duration_seconds",
        run_labels,
        format!("{}", f.duration_seconds),
    );
    for c in f.components {
        let labels = format!(
            "{{operation=\"{op}\",component=\"{}\",site=\"{site}\"}}",
            label(c)
        );
        if ok {
            set(
                "setup_last_success_timestamp_seconds",
                labels,
                f.finished.to_string(),
            );
        }
    }
    if ok && let Some(rpo) = f.rpo {
        for (c, age) in rpo.ages() {
            set(
                "setup_rpo_seconds",
                format!("{{component=\"{}\",site=\"{site}\"}}", label(c)),
                age.to_string(),
            );
        }
    }
    for (c, bytes) in f.sizes {
        set(
            "setup_backup_size_bytes",
            format!("{{component=\"{}\",site=\"{site}\"}}", label(c)),
            bytes.to_string(),
        );
    }
    let mut out = String::new();
    for (name, help) in HELP {
        let Some(s) = samples.get(*name) else {
            continue;
        };
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for (labels, value) in s {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    }
    out
}

/// Writes the file: a temporary file beside it, renamed over it (a collector never reads half a
/// file), readable by all (node_exporter runs as its own user).
pub fn write(path: &Path, f: &RunFacts) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let earlier = std::fs::read_to_string(path).unwrap_or_default();
    let text = render(&earlier, f);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension(format!("setup-tmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_run_keeps_the_last_success_and_other_operations_stay() {
        let comps = vec!["config".to_string()];
        let sizes = BTreeMap::new();
        let rpo = Rpo {
            config: Some(super::super::rpo::ConfigAge {
                as_of: "2026-11-20T02:00:00Z".into(),
                age_seconds: 60,
            }),
            analytics: None,
        };
        let first = render(
            "",
            &RunFacts {
                operation: "restore",
                site: "dr \"east\"",
                components: &comps,
                status: "done",
                duration_seconds: 1.5,
                rpo: Some(&rpo),
                finished: 1000,
                sizes: &sizes,
            },
        );
        assert!(first.contains("setup_last_success_timestamp_seconds{operation=\"restore\",component=\"config\",site=\"dr \\\"east\\\"\"} 1000"), "{first}");
        let second = render(
            &first,
            &RunFacts {
                operation: "restore",
                site: "dr \"east\"",
                components: &comps,
                status: "failed",
                duration_seconds: 2.0,
                rpo: None,
                finished: 2000,
                sizes: &sizes,
            },
        );
        assert!(
            second.contains("component=\"config\",site=\"dr \\\"east\\\"\"} 1000"),
            "{second}"
        );
        assert!(
            second.contains(
                "setup_last_run_status{operation=\"restore\",site=\"dr \\\"east\\\"\"} 0"
            ),
            "{second}"
        );
        assert!(
            second.contains("setup_rpo_seconds{component=\"config\",site=\"dr \\\"east\\\"\"} 60"),
            "{second}"
        );
        assert_eq!(
            second.matches("# TYPE setup_last_run_status gauge").count(),
            1
        );
    }
}
