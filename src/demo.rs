//! The demo's sample backups: small tar archives with sha256 sidecars and signed manifests, written
//! by the tool itself.

use std::path::Path;

use chrono::{Datelike, Duration, NaiveDate};
use serde_json::{Map, Value as J};
use sha2::{Digest as _, Sha256};

use crate::authentic::{Digest, Encryption, Manifest};

/// A minimal ustar archive of regular files.
pub fn tar(files: &[(&str, &[u8])], mtime: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let field = |h: &mut [u8; 512], at: usize, len: usize, v: u64| {
            let s = format!("{:0width$o}\0", v, width = len - 1);
            h[at..at + len].copy_from_slice(s.as_bytes());
        };
        field(&mut h, 100, 8, 0o644);
        field(&mut h, 108, 8, 0);
        field(&mut h, 116, 8, 0);
        field(&mut h, 124, 12, data.len() as u64);
        field(&mut h, 136, 12, mtime);
        h[148..156].copy_from_slice(b"        ");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// A manifest's file list, as the DC's backup records it: how many files, and the sha256 of their
/// `./` paths sorted bytewise, each ended by a NUL.
pub fn files_facts(paths: &[&str]) -> Map<String, J> {
    let mut list: Vec<String> = paths
        .iter()
        .map(|p| format!("./{}", p.trim_start_matches("./")))
        .collect();
    list.sort();
    let mut h = Sha256::new();
    for p in &list {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    Map::from_iter([
        ("files".to_string(), J::from(list.len())),
        (
            "files_sha256".to_string(),
            J::from(hex::encode(h.finalize())),
        ),
    ])
}

/// One sample backup: the tar, its sidecar, and its manifest signed with the demo's key.
struct Sample<'a> {
    dir: &'a Path,
    key: Option<&'a crate::authentic::SigningKey>,
}

impl Sample<'_> {
    fn write(&self, name: &str, bytes: &[u8], facts: Map<String, J>) -> std::io::Result<()> {
        std::fs::write(self.dir.join(name), bytes)?;
        let digest = hex::encode(Sha256::digest(bytes));
        std::fs::write(
            self.dir.join(format!("{name}.sha256")),
            format!("{digest}  {name}\n"),
        )?;
        let Some(key) = self.key else { return Ok(()) };
        let size = bytes.len() as u64;
        let m = Manifest {
            object: name.to_string(),
            plain: Some(Digest::new(size, &digest)),
            stored: Some(Digest::new(size, &digest)),
            compression: Some("none".into()),
            encryption: Some(Encryption::Named("none".into())),
            source_host: Some("demo".into()),
            tool: Some("setup demo-backups".into()),
            ..Manifest::default()
        }
        .with(facts)
        .map_err(std::io::Error::other)?;
        let text = m.text();
        let sig = key.sign(text.as_bytes()).map_err(std::io::Error::other)?;
        std::fs::write(self.dir.join(format!("{name}.manifest.json")), &text)?;
        std::fs::write(
            self.dir
                .join(format!("{name}{}", crate::authentic::SIG_SUFFIX)),
            sig,
        )
    }
}

/// Writes the sample backups into `dir`; with a key, each with a manifest that key signs.
pub fn write_backups(
    dir: &Path,
    key: Option<&crate::authentic::SigningKey>,
) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let out = Sample { dir, key };
    let config = tar(
        &[
            (
                "director.conf",
                b"site = dc-main\nlisten = 0.0.0.0:8443\nanalytics = analytics-1:9200\n",
            ),
            ("tenants.conf", b"acme = enabled\n"),
        ],
        1_795_658_400,
    );
    out.write(
        "director-config-20261120T020000Z.tar",
        &config,
        Map::from_iter([
            ("kind".to_string(), J::from("config")),
            ("created_at".to_string(), J::from("2026-11-20T02:00:00Z")),
        ]),
    )?;
    // Daily analytics snapshots: one in 2026-W43, none in W44 (a gap), then every day of W45 to W47.
    let first = NaiveDate::from_ymd_opt(2026, 11, 2).expect("valid date");
    let mut days = vec![NaiveDate::from_ymd_opt(2026, 10, 25).expect("valid date")];
    days.extend((0..21).map(|i| first + Duration::days(i)));
    for day in days {
        let name = format!("analytics-{day}.tar");
        let index = format!(
            "{{\"date\": \"{day}\", \"week\": \"{}\", \"events\": {}}}\n",
            crate::gate::week_label(day),
            1000 + day.ordinal()
        );
        let path = format!("indices/{day}.json");
        let body = tar(&[(&path, index.as_bytes())], 1_795_658_400);
        // Taken at 00:30 UTC the next day, once the day was over.
        let taken = format!("{}T00:30:00Z", day + Duration::days(1));
        let mut facts = files_facts(&[&path]);
        facts.extend([
            ("kind".to_string(), J::from("analytics")),
            ("day".to_string(), J::from(day.to_string())),
            ("created_at".to_string(), J::from(taken)),
        ]);
        out.write(&name, &body, facts)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_headers_have_valid_checksums() {
        let t = tar(&[("a.txt", b"hello")], 0);
        assert_eq!(t.len(), 512 + 512 + 1024);
        let mut h = t[..512].to_vec();
        let stored = u32::from_str_radix(std::str::from_utf8(&h[148..154]).unwrap(), 8).unwrap();
        h[148..156].copy_from_slice(b"        ");
        assert_eq!(stored, h.iter().map(|b| *b as u32).sum::<u32>());
    }
}
