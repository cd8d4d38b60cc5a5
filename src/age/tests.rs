use super::*;
use std::io::Write;
use std::process::{Command, Stdio};

async fn seal_bytes(plain: &[u8], to: &[Recipient]) -> Vec<u8> {
    let mut out = Vec::new();
    encrypt(&mut &plain[..], &mut out, to).await.unwrap();
    out
}

/// The plaintext, `Ok(None)` for no matching identity, or the error.
async fn open_bytes(sealed: &[u8], ids: &[Identity]) -> Result<Option<Vec<u8>>, String> {
    let mut src = tokio::io::BufReader::new(sealed);
    let Some(key) = open_header(&mut src, ids).await? else {
        return Ok(None);
    };
    let mut out = Vec::new();
    decrypt(&mut src, &mut out, &key)
        .await
        .map_err(|e| e.to_string())?;
    Ok(Some(out))
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn every_length_round_trips_to_each_recipient() {
    let (a, b) = (Identity::generate(), Identity::generate());
    let to = [a.to_public(), b.to_public()];
    for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5] {
        let plain = data(n);
        let sealed = seal_bytes(&plain, &to).await;
        let chunks = n.div_ceil(CHUNK).max(1);
        let header = sealed.len() - 16 - n - chunks * TAG;
        assert!(
            header > 100 && header < 400,
            "{n}: header of {header} bytes"
        );
        for id in [&a, &b] {
            let back = open_bytes(&sealed, std::slice::from_ref(id)).await.unwrap();
            assert_eq!(back.as_deref(), Some(&plain[..]), "length {n}");
        }
        let other = Identity::generate();
        assert_eq!(open_bytes(&sealed, &[other]).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_changed_cut_or_extended_file_never_opens() {
    let id = Identity::generate();
    let plain = data(2 * CHUNK + 100);
    let sealed = seal_bytes(&plain, &[id.to_public()]).await;
    let ids = [id];
    let payload = sealed.len() - (16 + plain.len() + 3 * TAG);
    // A flipped bit anywhere in the payload; cut at a chunk boundary or mid-chunk; bytes appended.
    for at in [payload + 3, payload + 16 + 10, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[at] ^= 1;
        assert!(open_bytes(&bad, &ids).await.is_err(), "flip at {at}");
    }
    for len in [
        payload + 16,
        payload + 16 + CHUNK + TAG,
        payload + 16 + 2 * (CHUNK + TAG),
        sealed.len() - 1,
    ] {
        let e = open_bytes(&sealed[..len], &ids).await.unwrap_err();
        assert!(e.contains("payload"), "cut at {len}: {e}");
    }
    let mut longer = sealed.clone();
    longer.extend_from_slice(&[0u8; 40]);
    assert!(open_bytes(&longer, &ids).await.is_err());
    // The header: its MAC, a stanza, the version line.
    let text = String::from_utf8_lossy(&sealed[..payload]).to_string();
    let mac_at = text.find("--- ").unwrap() + 5;
    let mut bad = sealed.clone();
    bad[mac_at] = if bad[mac_at] == b'A' { b'B' } else { b'A' };
    let e = open_bytes(&bad, &ids).await.unwrap_err();
    assert!(e.contains("MAC"), "{e}");
    let mut bad = sealed.clone();
    bad[3] = b'X';
    assert!(
        open_bytes(&bad, &ids)
            .await
            .unwrap_err()
            .contains("first line")
    );
    assert!(open_bytes(b"not an age file at all", &ids).await.is_err());
}

#[test]
fn keys_read_back_and_bad_ones_are_named_without_their_text() {
    let id = Identity::generate();
    let secret = id.to_secret_string();
    assert!(secret.starts_with("AGE-SECRET-KEY-1") && secret.len() == 74);
    let r = id.to_public();
    let text = r.to_string();
    assert!(text.starts_with("age1") && text.len() == 62, "{text}");
    assert_eq!(text.parse::<Recipient>().unwrap(), r);
    assert_eq!(Identity::parse(&secret).unwrap().to_public(), r);
    // One character mistyped: the checksum catches it.
    let mut typo = text.clone().into_bytes();
    typo[10] = if typo[10] == b'q' { b'p' } else { b'q' };
    assert!(
        String::from_utf8(typo)
            .unwrap()
            .parse::<Recipient>()
            .is_err()
    );
    assert!(secret.parse::<Recipient>().is_err());
    let file = format!("# created: now\n# public key: {text}\n{secret}\n\n");
    assert_eq!(identities(&file).unwrap().len(), 1);
    let e = identities(&format!("{secret}\n{text}\n")).unwrap_err();
    assert!(e.starts_with("line 2") && !e.contains("age1"), "{e}");
    assert!(identities("# nothing\n").is_err());
    assert!(!format!("{:?}", id).contains("AGE"));
}

fn tool(name: &str) -> Command {
    assert!(
        Command::new("sh")
            .args(["-c", &format!("command -v {name}")])
            .output()
            .unwrap()
            .status
            .success(),
        "`{name}` is needed (scripts/test installs it)"
    );
    Command::new(name)
}

/// The age tool reads what this module writes, and this module reads what the age tool writes.
#[tokio::test]
async fn the_age_tool_and_this_module_read_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let keyfile = dir.path().join("key.txt");
    assert!(
        tool("age-keygen")
            .arg("-o")
            .arg(&keyfile)
            .output()
            .unwrap()
            .status
            .success()
    );
    let pubkey = String::from_utf8(
        tool("age-keygen")
            .arg("-y")
            .arg(&keyfile)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let ids = identities(&std::fs::read_to_string(&keyfile).unwrap()).unwrap();
    assert_eq!(ids[0].to_public().to_string(), pubkey.trim());
    for n in [0, 5, CHUNK, 3 * CHUNK + 17] {
        let plain = data(n);
        // Written here, read by `age -d`.
        let sealed = seal_bytes(&plain, &[pubkey.trim().parse().unwrap()]).await;
        let mut age = tool("age")
            .arg("-d")
            .arg("-i")
            .arg(&keyfile)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = age.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&sealed));
        let out = age.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(
            out.status.success(),
            "age -d: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, plain, "age -d of {n} bytes");
        // Written by `age -r`, read here.
        let input = dir.path().join("plain");
        std::fs::write(&input, &plain).unwrap();
        let out = tool("age")
            .arg("-r")
            .arg(pubkey.trim())
            .arg(&input)
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            open_bytes(&out.stdout, &ids).await.unwrap().as_deref(),
            Some(&plain[..])
        );
    }
}

mod vectors;
mod zlib;
