//! The age format's official test vectors (C2SP CCTV, vendored in `tests/age-vectors`): every one
//! that applies to X25519 identities, each to the result it expects.

use sha2::{Digest, Sha256};

use super::super::*;
use super::zlib;

/// What a vector expects, in the words of its `expect:` line.
const SUCCESS: &str = "success";
const NO_MATCH: &str = "no match";
const HMAC: &str = "HMAC failure";
const HEADER: &str = "header failure";
const PAYLOAD: &str = "payload failure";

/// Refused as the vector expects, but a chunk earlier than the reference implementation: this
/// reader looks one chunk ahead, so a chunk whose last-chunk flag does not fit its place (marked
/// last with more data after it, or full and unmarked at the end) is refused before its plaintext
/// is released, where the reference releases it and refuses what follows.
const EARLIER: &str = "payload failure, one chunk earlier";

/// Vectors refused otherwise than they expect (each is still refused), with how.
const REFUSED_OTHERWISE: &[(&str, &str)] = &[
    ("stream_no_final_full", EARLIER),
    ("stream_no_final_two_chunks_full", EARLIER),
    ("stream_trailing_garbage_long", EARLIER),
    ("stream_trailing_garbage_short", EARLIER),
    ("stream_two_final_chunks", EARLIER),
    ("stream_two_final_chunks_full", EARLIER),
    ("stream_two_final_chunks_second", EARLIER),
];

struct Vector {
    name: String,
    expect: String,
    payload: Option<String>,
    identities: Vec<String>,
    file: Vec<u8>,
}

fn read(path: &std::path::Path) -> Vector {
    let raw = std::fs::read(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let split = raw
        .windows(2)
        .position(|w| w == b"\n\n")
        .unwrap_or_else(|| panic!("{name}: no empty line after its keys"));
    let keys = std::str::from_utf8(&raw[..split]).unwrap();
    let mut v = Vector {
        name: name.clone(),
        expect: String::new(),
        payload: None,
        identities: Vec::new(),
        file: raw[split + 2..].to_vec(),
    };
    let mut compressed = false;
    for line in keys.lines() {
        let (k, val) = line
            .split_once(": ")
            .unwrap_or_else(|| panic!("{name}: `{line}`"));
        match k {
            "expect" => v.expect = val.to_string(),
            "payload" => v.payload = Some(val.to_string()),
            "identity" => v.identities.push(val.to_string()),
            "compressed" => compressed = val == "zlib",
            "armored" | "passphrase" => panic!("{name}: `{k}` does not apply here"),
            _ => {}
        }
    }
    if compressed {
        v.file = zlib::inflate(&v.file).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    v
}

/// What this reader makes of a vector: the result in a vector's words, the plaintext it released,
/// and its message.
async fn outcome(v: &Vector) -> (&'static str, Vec<u8>, String) {
    let ids: Vec<Identity> = v
        .identities
        .iter()
        .map(|i| Identity::parse(i).unwrap_or_else(|e| panic!("{}: identity {e}", v.name)))
        .collect();
    let mut src = tokio::io::BufReader::new(&v.file[..]);
    let key = match open_header(&mut src, &ids).await {
        Ok(Some(key)) => key,
        Ok(None) => return (NO_MATCH, Vec::new(), String::new()),
        Err(e) if e.contains("MAC does not match") => return (HMAC, Vec::new(), e),
        Err(e) => return (HEADER, Vec::new(), e),
    };
    let mut out = Vec::new();
    match decrypt(&mut src, &mut out, &key).await {
        Ok(()) => (SUCCESS, out, String::new()),
        Err(e) => (PAYLOAD, out, e.to_string()),
    }
}

#[tokio::test]
async fn every_official_vector_that_applies_gives_its_expected_result() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/age-vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            !n.starts_with('.') && n != "README.md" && n != "LICENSE"
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 67, "the vendored vectors");
    let mut wrong = Vec::new();
    let mut otherwise = Vec::new();
    let mut headers = 0;
    for path in &files {
        let v = read(path);
        // What the reader accepts, it reads as a writer writes it: a header read encodes back
        // to its own bytes, so no two readers can understand one header two ways.
        if let Some(end) = header_end(&v.file)
            && let Ok(h) = parse_header(&v.file[..end])
        {
            assert_eq!(h.encode(), &v.file[..end], "{}", v.name);
            headers += 1;
        }
        let (got, released, message) = outcome(&v).await;
        let hash = hex::encode(Sha256::digest(&released));
        // Whatever plaintext was released must be what the vector says, failure or not.
        let payload_ok = v.payload.as_deref().is_none_or(|p| p == hash);
        if got == v.expect && payload_ok {
            continue;
        }
        if got == PAYLOAD && v.expect == PAYLOAD && released.len() % CHUNK == 0 {
            // Whole chunks only, the misplaced one not among them.
            otherwise.push((v.name.clone(), EARLIER, message));
        } else if v.expect == SUCCESS || got == SUCCESS || !payload_ok {
            wrong.push(format!(
                "{}: expected {}, got {got} ({message}); payload {hash}",
                v.name, v.expect
            ));
        } else {
            otherwise.push((v.name.clone(), got, message));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(headers > 40, "{headers} headers read");
    let names: Vec<(&str, &str)> = otherwise
        .iter()
        .map(|(n, got, _)| (n.as_str(), *got))
        .collect();
    assert_eq!(
        names, REFUSED_OTHERWISE,
        "refused for another reason than expected: {otherwise:#?}"
    );
}
