//! The targets over local folders: one stream to every target, companions where their object
//! went, a missing or refused copy passed over for the next target.

use super::*;
use tokio::io::AsyncReadExt;

fn folder(root: &std::path::Path, name: &str) -> (String, Box<dyn Storage>) {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    (
        name.to_string(),
        Box::new(crate::storage::local::LocalStorage::new(dir)),
    )
}

fn reader(bytes: Vec<u8>) -> Reader {
    Box::new(std::io::Cursor::new(bytes))
}

async fn read_all(s: &dyn Storage, name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    s.get(name, None)
        .await
        .unwrap()
        .read_to_end(&mut out)
        .await
        .unwrap();
    out
}

#[tokio::test]
async fn one_stream_reaches_every_target_whole_and_companions_follow_their_object() {
    let root = tempfile::tempdir().unwrap();
    let t = Targets::new(vec![folder(root.path(), "a"), folder(root.path(), "b")]);
    // Bigger than a chunk times the lag, so that the channels fill and drain.
    let data: Vec<u8> = (0..(3 * CHUNK * LAG + 12345))
        .map(|i| (i % 251) as u8)
        .collect();
    assert_eq!(
        t.put("x.tar", reader(data.clone())).await.unwrap(),
        data.len() as u64
    );
    t.put("x.tar.sha256", reader(b"d  x.tar\n".to_vec()))
        .await
        .unwrap();
    for side in ["a", "b"] {
        assert_eq!(
            std::fs::read(root.path().join(side).join("x.tar")).unwrap(),
            data
        );
        assert!(root.path().join(side).join("x.tar.sha256").exists());
    }
    assert_eq!(t.holders("x.tar"), Some(vec!["a".into(), "b".into()]));
    assert!(t.write_failures().is_empty());
}

#[tokio::test]
async fn a_target_that_cannot_write_is_reported_and_the_other_keeps_its_copy() {
    let root = tempfile::tempdir().unwrap();
    // `b` is a file, not a folder: nothing can be written under it.
    std::fs::write(root.path().join("b"), "not a folder").unwrap();
    let b: Box<dyn Storage> = Box::new(crate::storage::local::LocalStorage::new(
        root.path().join("b"),
    ));
    let t = Targets::new(vec![folder(root.path(), "a"), ("b".into(), b)]);
    t.put("x.tar", reader(vec![7; 1000])).await.unwrap();
    t.put("x.tar.sha256", reader(b"d\n".to_vec()))
        .await
        .unwrap();
    assert_eq!(t.holders("x.tar"), Some(vec!["a".into()]));
    let failures = t.write_failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0]
            .to_string()
            .starts_with("target b: `x.tar` not written"),
        "{failures:?}"
    );
    assert!(root.path().join("a/x.tar.sha256").exists());
}

#[tokio::test]
async fn a_missing_or_refused_copy_is_read_from_the_next_target_and_said() {
    let root = tempfile::tempdir().unwrap();
    let t = Targets::new(vec![folder(root.path(), "a"), folder(root.path(), "b")]);
    std::fs::write(root.path().join("b/x.tar"), "sound").unwrap();
    std::fs::write(root.path().join("b/x.tar.sha256"), "sum-b").unwrap();
    // Only b has it: read from b, and said.
    assert_eq!(read_all(&t, "x.tar").await, b"sound");
    let notes = t.retries(Some("x.tar"));
    assert!(
        notes[0].contains("read from target b (not on a)"),
        "{notes:?}"
    );
    // Both have it, a's copy is refused: the next read is b's, companions too.
    std::fs::write(root.path().join("a/y.tar"), "corrupt").unwrap();
    std::fs::write(root.path().join("a/y.tar.sha256"), "sum-a").unwrap();
    std::fs::write(root.path().join("b/y.tar"), "sound").unwrap();
    std::fs::write(root.path().join("b/y.tar.sha256"), "sum-b").unwrap();
    assert_eq!(read_all(&t, "y.tar").await, b"corrupt");
    assert!(t.reject("y.tar", "its digest is not the signed one"));
    assert_eq!(read_all(&t, "y.tar.sha256").await, b"sum-b");
    assert_eq!(read_all(&t, "y.tar").await, b"sound");
    assert!(!t.reject("y.tar", "again"), "no third target");
    let notes = t.retries(Some("y.tar"));
    assert!(
        notes.iter().any(|n| n.contains(
            "on target a is refused (its digest is not the signed one); trying target b"
        )),
        "{notes:?}"
    );
    // The listing is the union, each name once.
    let names: Vec<String> = t
        .list("")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["x.tar", "x.tar.sha256", "y.tar", "y.tar.sha256"]);
}

#[tokio::test]
async fn a_backup_whose_manifest_is_read_first_from_the_next_target_is_said_once() {
    let root = tempfile::tempdir().unwrap();
    let t = Targets::new(vec![folder(root.path(), "a"), folder(root.path(), "b")]);
    std::fs::write(root.path().join("b/x.tar"), "sound").unwrap();
    std::fs::write(root.path().join("b/x.tar.manifest.json"), "{}").unwrap();
    // The manifest is read first (as the gate checks a snapshot), then the backup itself.
    assert_eq!(read_all(&t, "x.tar.manifest.json").await, b"{}");
    assert_eq!(read_all(&t, "x.tar").await, b"sound");
    let notes = t.retries(Some("x.tar"));
    assert_eq!(
        notes,
        ["`x.tar` is read from target b (not on a)"],
        "{notes:?}"
    );
}

#[tokio::test]
async fn a_copy_is_checked_whole_and_said_why_it_is_not_the_one() {
    use crate::storage::{CopyFault, check_copy};
    let root = tempfile::tempdir().unwrap();
    let (_, s) = folder(root.path(), "a");
    std::fs::write(root.path().join("a/x.tar"), "sound").unwrap();
    let sound = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"sound"));
    let other = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"other"));
    assert_eq!(check_copy(s.as_ref(), "x.tar", &sound).await, Ok(()));
    assert_eq!(
        check_copy(s.as_ref(), "x.tar", &other).await,
        Err(CopyFault::Digest(sound.clone()))
    );
    // A folder where the copy should be: there, but no byte of it can be read.
    std::fs::create_dir(root.path().join("a/y.tar")).unwrap();
    let fault = check_copy(s.as_ref(), "y.tar", &sound).await.unwrap_err();
    assert_eq!(fault, CopyFault::Unreadable);
    assert_eq!(fault.why(), "it cannot be read whole");
    // Over two targets, a copy that cannot even be opened is passed over when the read starts, and
    // b's sound copy is the one checked.
    let (_, b) = folder(root.path(), "b");
    std::fs::write(root.path().join("b/y.tar"), "sound").unwrap();
    let t = Targets::new(vec![("a".into(), s), ("b".into(), b)]);
    assert_eq!(check_copy(&t, "y.tar", &sound).await, Ok(()));
    let notes = t.retries(Some("y.tar"));
    assert!(
        notes
            .iter()
            .any(|n| n.contains("`y.tar` is read from target b (a: ")
                && n.contains("not a regular file")),
        "{notes:?}"
    );
}
