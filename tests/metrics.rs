//! The metrics file (`metrics.textfile`) through the binary, read by Prometheus's own text-format
//! parser (the Python client's, installed by `scripts/test` beside ansible-core).

use crate::common;

use std::path::PathBuf;

use common::demo;
use serde_json::Value as J;

/// The venv's python: where `scripts/test` installed prometheus-client.
fn python() -> PathBuf {
    match std::env::var_os("ANSIBLE_INVENTORY") {
        Some(p) => PathBuf::from(p).with_file_name("python"),
        None => PathBuf::from(std::env::var("HOME").unwrap())
            .join(".cache/setup/ansible-venv/bin/python"),
    }
}

/// Every sample of the file as `(name, labels, value)`, as Prometheus parses it.
fn parse(path: &std::path::Path) -> Vec<(String, J, f64)> {
    let script = "import json, sys\nfrom prometheus_client.parser import text_string_to_metric_families\nout = []\nfor fam in text_string_to_metric_families(open(sys.argv[1]).read()):\n    assert fam.type == 'gauge', fam\n    for s in fam.samples:\n        out.append([s.name, s.labels, s.value])\nprint(json.dumps(out))\n";
    let out = std::process::Command::new(python())
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python");
    assert!(
        out.status.success(),
        "the parser refused the file: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Vec<(String, J, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    v
}

fn value(samples: &[(String, J, f64)], name: &str, want: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| n == name && want.iter().all(|(k, v)| l[*k] == *v))
        .map(|s| s.2)
}

#[test]
fn each_run_writes_metrics_that_prometheus_reads_and_a_failure_keeps_the_last_success() {
    let bed = demo();
    let args = [
        "standalone",
        "restore",
        "--now",
        "2026-11-23T03:00:00Z",
        "--set",
        "metrics.textfile=metrics/setup.prom",
    ];
    let out = bed.run(&args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let file = bed.path("metrics/setup.prom");
    let first = parse(&file);
    let restore = [("operation", "restore")];
    assert_eq!(value(&first, "setup_last_run_status", &restore), Some(1.0));
    let success = value(
        &first,
        "setup_last_success_timestamp_seconds",
        &[("operation", "restore"), ("component", "config")],
    )
    .expect("a success for config");
    assert!(success > 1.7e9, "{success}");
    assert_eq!(
        value(&first, "setup_rpo_seconds", &[("component", "config")]),
        Some((73 * 3600) as f64),
        "the RPO on the run's clock"
    );
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o644);
    // A failed run: status 0, and the last success stays what it was.
    common::failing_starts(&bed, false);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let mut forced = args.to_vec();
    forced.push("--force");
    let out = bed.run(&forced);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let second = parse(&file);
    assert_eq!(value(&second, "setup_last_run_status", &restore), Some(0.0));
    assert_eq!(
        value(
            &second,
            "setup_last_success_timestamp_seconds",
            &[("operation", "restore"), ("component", "config")],
        ),
        Some(success)
    );
    assert!(
        value(&second, "setup_last_run_timestamp_seconds", &restore).unwrap() > success,
        "the failed run's own time"
    );
    assert!(!std::fs::read_dir(bed.path("metrics")).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .contains("setup-tmp")
    }));
}

#[test]
fn a_backup_reports_the_size_it_stored_per_component_beside_the_restores_metrics() {
    let bed = common::dc_demo_one_store();
    // The same file as a restore wrote: the backup's samples join the restore's.
    bed.file(
        "demo-dc/m.prom",
        "# HELP setup_last_run_status x\n# TYPE setup_last_run_status gauge\nsetup_last_run_status{operation=\"restore\",site=\"dr\"} 1\n",
    );
    let out = bed.run(&[
        "-C",
        "demo-dc",
        "standalone",
        "backup",
        "--now",
        "2026-11-30T02:00:00Z",
        "--set",
        "metrics.textfile=m.prom",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let samples = parse(&bed.path("demo-dc/m.prom"));
    for c in ["config", "analytics"] {
        let size = value(&samples, "setup_backup_size_bytes", &[("component", c)]);
        assert!(size.is_some_and(|s| s > 100.0), "{c}: {samples:?}");
        assert!(
            value(
                &samples,
                "setup_last_success_timestamp_seconds",
                &[("operation", "backup"), ("component", c)]
            )
            .is_some()
        );
    }
    assert_eq!(
        value(
            &samples,
            "setup_last_run_status",
            &[("operation", "restore")]
        ),
        Some(1.0),
        "the restore's sample is kept"
    );
}
