//! `setup storage-test`: a round trip through the configured storage, checked by sha256.

use crate::failure::Failure;
use crate::options::Options;

/// `setup storage-test`: a round trip through the configured storage, checked by sha256.
pub fn run(o: &Options, size_mb: u64, pause_after_mb: Option<u64>) -> Result<i32, Failure> {
    use sha2::Digest;
    use tokio::io::AsyncReadExt;
    let storage = super::open_storage(o)?.1;
    let rt = super::runtime();
    let size = size_mb * 1024 * 1024;
    let name = format!("setup-storage-test-{}.bin", std::process::id());
    // Deterministic content, generated as it streams: constant memory whatever the size.
    let byte_at = move |i: u64| ((i.wrapping_mul(2654435761) >> 13) & 0xff) as u8;
    let content = move |range: std::ops::Range<u64>| -> Vec<u8> { range.map(byte_at).collect() };
    let expected = {
        let mut h = sha2::Sha256::new();
        let mut at = 0;
        while at < size {
            let end = (at + (1 << 20)).min(size);
            h.update(content(at..end));
            at = end;
        }
        hex::encode(h.finalize())
    };
    let result: Result<(), String> = rt.block_on(async {
        let t0 = std::time::Instant::now();
        let (mut tx, rx) = tokio::io::duplex(1 << 20);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut at = 0;
            while at < size {
                let end = (at + (1 << 20)).min(size);
                tx.write_all(&content(at..end)).await?;
                at = end;
            }
            tx.shutdown().await
        });
        let written = storage.put(&name, Box::new(rx)).await.map_err(|e| e.to_string())?;
        writer.await.map_err(|e| e.to_string())?.map_err(|e| e.to_string())?;
        super::say!("put     {name}: {written} bytes in {:.2}s", t0.elapsed().as_secs_f64());
        let listed = storage.list("setup-storage-test-").await.map_err(|e| e.to_string())?;
        let found = listed.iter().find(|o| o.name == name).ok_or(format!("{name} was written but is not listed"))?;
        if found.size != size {
            return Err(format!("{name} is listed with {} bytes, not {size}", found.size));
        }
        super::say!("list    {name}: {} bytes", found.size);
        let t1 = std::time::Instant::now();
        let mut r = storage.get(&name, None).await.map_err(|e| e.to_string())?;
        let mut h = sha2::Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut got = 0u64;
        let mut pause = pause_after_mb.map(|mb| mb << 20);
        loop {
            if pause.is_some_and(|at| got >= at) {
                pause = None;
                eprintln!("paused after {got} bytes; press Enter to go on");
                let _ = tokio::task::spawn_blocking(|| std::io::stdin().read_line(&mut String::new())).await;
            }
            let n = r.read(&mut buf).await.map_err(|e| format!("reading {name}: {e}"))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            got += n as u64;
        }
        let digest = hex::encode(h.finalize());
        if digest != expected || got != size {
            return Err(format!("read back {got} bytes with sha256 {digest}; wrote {size} bytes with sha256 {expected}"));
        }
        super::say!("get     {name}: sha256 {digest} matches, {:.2}s", t1.elapsed().as_secs_f64());
        for note in storage.retries(None) {
            super::say!("retry   {note}");
        }
        let (start, end) = (size / 3, size / 3 + 4096.min(size));
        let mut part = Vec::new();
        storage.get(&name, Some(start..end)).await.map_err(|e| e.to_string())?.read_to_end(&mut part).await.map_err(|e| e.to_string())?;
        if part != content(start..end.min(size)) {
            return Err(format!("the ranged read {start}..{end} returned other bytes"));
        }
        super::say!("range   {name}: bytes {start}..{end} match");
        storage.delete(&name).await.map_err(|e| e.to_string())?;
        match storage.stat(&name).await {
            Err(e) if e.not_found => super::say!("delete  {name}: gone"),
            Err(e) => return Err(e.to_string()),
            Ok(_) => return Err(format!("{name} is still there after delete")),
        }
        Ok(())
    });
    match result {
        Ok(()) => {
            super::say!("{}: ok", storage.describe());
            Ok(0)
        }
        Err(e) => Err(Failure::Failed(format!(
            "storage test on {}: {e}",
            storage.describe()
        ))),
    }
}
