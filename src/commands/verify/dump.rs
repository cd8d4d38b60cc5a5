//! The director's database dump in a verified archive, listed with `pg_restore --list`.

/// `pg_restore --list` of the archive's `director.dump`, if it has one: the number of items.
pub(super) async fn listing(file: &std::path::Path) -> Result<Option<usize>, String> {
    let list = tokio::process::Command::new("tar")
        .arg("-tf")
        .arg(file)
        .output()
        .await
        .map_err(|e| format!("tar: {e}"))?;
    let has_dump = String::from_utf8_lossy(&list.stdout)
        .lines()
        .any(|l| l.trim_start_matches("./") == "director.dump");
    if !has_dump {
        return Ok(None);
    }
    let dir = file.with_extension("d");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let extracted = tokio::process::Command::new("tar")
        .arg("-xf")
        .arg(file)
        .arg("-C")
        .arg(&dir)
        .arg("director.dump")
        .status()
        .await
        .map_err(|e| format!("tar: {e}"))?;
    let listed = if extracted.success() {
        tokio::process::Command::new("pg_restore")
            .arg("--list")
            .arg(dir.join("director.dump"))
            .output()
            .await
    } else {
        let _ = std::fs::remove_dir_all(&dir);
        return Err("cannot be taken out of the archive".into());
    };
    let _ = std::fs::remove_dir_all(&dir);
    match listed {
        Ok(o) if o.status.success() => Ok(Some(
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
                .count(),
        )),
        Ok(o) => Err(format!(
            "is not a readable dump: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!(
            "cannot be checked: pg_restore does not run here ({e}); install the PostgreSQL client tools"
        )),
    }
}
