//! The signature checks as pure functions: every forgery and its reason.

use super::signers::AllowedSigners;
use super::*;

fn key() -> PrivateKey {
    // A fixed seed: the tests need no randomness.
    let seed = [7u8; 32];
    let kp = ssh_key::private::Ed25519Keypair::from_seed(&seed);
    PrivateKey::from(kp)
}

fn other() -> PrivateKey {
    PrivateKey::from(ssh_key::private::Ed25519Keypair::from_seed(&[9u8; 32]))
}

fn allowed(k: &PrivateKey, opts: &str) -> Arc<AllowedSigners> {
    let line = format!("backup@dc {opts} {}", k.public_key().to_openssh().unwrap());
    Arc::new(AllowedSigners::parse(&line, "allowed_signers").unwrap())
}

fn now() -> DateTime<Utc> {
    "2026-11-23T03:00:00Z".parse().unwrap()
}

fn trust(signers: Option<Arc<AllowedSigners>>) -> Trust {
    Trust {
        signers,
        allow_unsigned: false,
        expect_encrypted: false,
        now: now(),
        seen: Default::default(),
    }
}

const OBJ: &str = "director-config-20261123T020000Z.tar.zst.age";

fn manifest(object: &str, at: &str) -> String {
    format!(
        "{{\"object\": \"{object}\", \"kind\": \"config\", \"created_at\": \"{at}\", \"stored\": {{\"sha256\": \"{}\", \"bytes\": 1}}, \"plain\": {{\"sha256\": \"{}\"}}}}\n",
        "a".repeat(64),
        "b".repeat(64)
    )
}

fn sign(k: &PrivateKey, ns: &str, text: &str) -> String {
    k.sign(ns, HashAlg::Sha512, text.as_bytes())
        .unwrap()
        .to_pem(LineEnding::LF)
        .unwrap()
}

#[test]
fn a_signed_manifest_is_accepted_and_names_its_signer() {
    let k = key();
    let m = manifest(OBJ, "2026-11-23T02:00:00Z");
    let v = judge(
        OBJ,
        Some(&m),
        Some(&sign(&k, NAMESPACE, &m)),
        &trust(Some(allowed(&k, "namespaces=\"setup-backup\""))),
    )
    .unwrap();
    assert_eq!(v.signer.as_deref(), Some("backup@dc"));
    assert_eq!(v.stored_sha256.unwrap(), "a".repeat(64));
    assert!(!v.unsigned);
}

#[test]
fn every_forgery_is_refused_with_its_reason() {
    let k = key();
    let t = trust(Some(allowed(&k, "")));
    let m = manifest(OBJ, "2026-11-23T02:00:00Z");
    let good = sign(&k, NAMESPACE, &m);
    let cases: Vec<(&str, Option<String>, Option<String>, &str)> = vec![
        ("unsigned", Some(m.clone()), None, "is not signed"),
        ("no manifest", None, Some(good.clone()), "has no manifest"),
        (
            "another key",
            Some(m.clone()),
            Some(sign(&other(), NAMESPACE, &m)),
            "does not list",
        ),
        (
            "another namespace",
            Some(m.clone()),
            Some(sign(&k, "file", &m)),
            "namespace `file`",
        ),
        (
            "edited after signing",
            Some(m.replace("\"config\"", "\"analytics\"")),
            Some(good.clone()),
            "changed after it was signed",
        ),
        (
            "garbage signature",
            Some(m.clone()),
            Some("not a signature".into()),
            "not an SSH signature",
        ),
    ];
    for (what, man, sig, want) in cases {
        let e = judge(OBJ, man.as_deref(), sig.as_deref(), &t).unwrap_err();
        assert!(e.contains(want), "{what}: {e}");
    }
    // A genuine signed manifest under a newer name.
    let e = judge(
        "director-config-20991231T235959Z.tar.zst.age",
        Some(&m),
        Some(&good),
        &t,
    )
    .unwrap_err();
    assert!(e.contains("copied under another name"), "{e}");
    // Signed, but dated ahead of the clock.
    let future = manifest(OBJ, "2026-11-23T04:00:00Z");
    let e = judge(OBJ, Some(&future), Some(&sign(&k, NAMESPACE, &future)), &t).unwrap_err();
    assert!(e.contains("lies in the future"), "{e}");
    // A few minutes ahead is clock drift, not a forgery.
    let drift = manifest(OBJ, "2026-11-23T03:05:00Z");
    assert!(judge(OBJ, Some(&drift), Some(&sign(&k, NAMESPACE, &drift)), &t).is_ok());
}

#[test]
fn the_allowed_signers_line_limits_namespace_and_time() {
    let k = key();
    let m = manifest(OBJ, "2026-11-23T02:00:00Z");
    let s = sign(&k, NAMESPACE, &m);
    let only_git = trust(Some(allowed(&k, "namespaces=\"git\"")));
    assert!(judge(OBJ, Some(&m), Some(&s), &only_git).is_err());
    let glob = trust(Some(allowed(&k, "namespaces=\"git,setup-*\"")));
    assert!(judge(OBJ, Some(&m), Some(&s), &glob).is_ok());
    let expired = trust(Some(allowed(&k, "valid-before=20260101")));
    assert!(judge(OBJ, Some(&m), Some(&s), &expired).is_err());
    // A key retired at 02:30 signs nothing new, whatever time the manifest claims: the check is at
    // the time of verification (03:00), not the signed 02:00.
    let retired = trust(Some(allowed(&k, "valid-before=202611230230Z")));
    let e = judge(OBJ, Some(&m), Some(&s), &retired).unwrap_err();
    assert!(e.contains("not valid now (2026-11-23T03:00:00Z"), "{e}");
    // A backup this site saw before the key was retired stays trusted.
    let seen_before = trust(Some(allowed(&k, "valid-before=202611230230Z")));
    let mut earlier = seen_before.clone();
    earlier.now = "2026-11-23T02:10:00Z".parse().unwrap();
    earlier.signers = trust(Some(allowed(&k, ""))).signers;
    assert!(judge(OBJ, Some(&m), Some(&s), &earlier).is_ok());
    assert!(judge(OBJ, Some(&m), Some(&s), &seen_before).is_ok());
    // Another manifest by the same key, never seen before the retirement, is refused.
    let other = manifest(OBJ, "2026-11-23T02:00:01Z");
    let e = judge(
        OBJ,
        Some(&other),
        Some(&sign(&k, NAMESPACE, &other)),
        &seen_before,
    )
    .unwrap_err();
    assert!(e.contains("not valid now"), "{e}");
    let later = trust(Some(allowed(
        &k,
        "valid-after=20260101,valid-before=20270101Z",
    )));
    assert!(judge(OBJ, Some(&m), Some(&s), &later).is_ok());
    assert!(AllowedSigners::parse("a bogus-option ssh-ed25519 AAAA", "f").is_err());
    assert!(AllowedSigners::parse("# only a comment\n", "f").is_err());
}

#[test]
fn unsigned_backups_need_the_flag_and_plain_ones_an_unencrypted_site() {
    let m = manifest(OBJ, "2026-11-23T02:00:00Z");
    let e = judge(OBJ, Some(&m), None, &trust(None)).unwrap_err();
    assert!(e.contains("trusted_signers"), "{e}");
    let mut t = trust(None);
    t.allow_unsigned = true;
    let v = judge(OBJ, Some(&m), None, &t).unwrap();
    assert!(v.unsigned && v.by().contains("UNSIGNED"));
    // Even unsigned, a manifest for another name is refused.
    assert!(judge("other.tar", Some(&m), None, &t).is_err());
    // A sidecar alone: no digest from here, the caller reads the sidecar.
    assert!(
        judge("x.tar", None, None, &t)
            .unwrap()
            .stored_sha256
            .is_none()
    );
    t.expect_encrypted = true;
    let e = judge("director-config-20991231T235959Z.tar", None, None, &t).unwrap_err();
    assert!(e.contains("not encrypted"), "{e}");
}
