use super::*;

fn resolve(
    sets: &[&str],
    env: &[(&str, &str)],
    file: Option<&str>,
    restore: Option<&str>,
) -> (Answers, Diagnostics) {
    let mut d = Diagnostics::default();
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sets = parse_sets(&sets, &mut d);
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    let envf = move |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let file_src = file.map(|f| Source::new("answers.yml", f));
    let file_node = file.map(|f| crate::yaml::parse(f).unwrap());
    let spec = match restore {
        Some(r) => {
            let src = Source::new("restore.yml", r);
            crate::docs::restore::parse(&src, &crate::yaml::parse(r).unwrap(), &mut d)
        }
        None => RestoreSpec::default(),
    };
    let inputs = Inputs {
        sets: &sets,
        env: &envf,
        file: file_src.as_ref().zip(file_node.as_ref()),
        restore: &spec,
        interactive: false,
        need_storage: true,
        tryer: None,
        targets: &[],
        listed: &[],
    };
    let a = Answers::resolve(inputs, &mut d);
    (a, d)
}

#[test]
fn set_beats_env_beats_file_beats_restore() {
    let restore = "storage: {type: local, path: /r}\n";
    let (a, d) = resolve(&[], &[], Some("storage.local.path: /f\n"), Some(restore));
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(a.text("storage.local.path").unwrap(), "/f");
    let (a, _) = resolve(
        &[],
        &[("SETUP_STORAGE_LOCAL_PATH", "/e")],
        Some("storage.local.path: /f\n"),
        Some(restore),
    );
    assert_eq!(a.text("storage.local.path").unwrap(), "/e");
    let (a, _) = resolve(
        &["storage.local.path=/s"],
        &[("SETUP_STORAGE_LOCAL_PATH", "/e")],
        None,
        Some(restore),
    );
    assert_eq!(a.text("storage.local.path").unwrap(), "/s");
    let (a, _) = resolve(&[], &[], None, Some(restore));
    assert_eq!(a.text("storage.local.path").unwrap(), "/r");
}

#[test]
fn missing_answers_are_all_listed() {
    let (_, d) = resolve(&["storage.type=s3"], &[], None, None);
    assert_eq!(d.list.len(), 1);
    let m = &d.list[0].message;
    assert!(
        m.contains("storage.s3.bucket") && m.contains("SETUP_STORAGE_S3_BUCKET"),
        "{m}"
    );
    assert!(
        !m.contains("storage.s3.region"),
        "defaults are not missing: {m}"
    );
}

#[test]
fn a_misspelt_key_never_echoes_its_value() {
    let (_, d) = resolve(
        &["storage.type=s3", "storage.s3.secert_key=TopSecret-123"],
        &[],
        None,
        None,
    );
    let unknown = d.list.iter().find(|x| x.code == "unknown_key").unwrap();
    let shown = format!("{unknown:?}");
    assert!(unknown.message.contains("storage.s3.secert_key"), "{shown}");
    assert!(!shown.contains("TopSecret-123"), "{shown}");
}

#[test]
fn alternatives_need_one_of_them() {
    let (_, d) = resolve(
        &["storage.type=sftp", "storage.host=h", "storage.user=u"],
        &[],
        None,
        None,
    );
    assert!(
        d.list[0].message.contains("storage.sftp.password"),
        "{:?}",
        d.list
    );
    let (_, d) = resolve(
        &[
            "storage.type=sftp",
            "storage.host=h",
            "storage.user=u",
            "storage.key_file=/k",
        ],
        &[],
        None,
        None,
    );
    assert!(d.is_empty(), "{:?}", d.list);
}

#[test]
fn secrets_are_registered_for_masking() {
    let (a, _) = resolve(
        &[
            "storage.type=ftp",
            "storage.host=h",
            "storage.user=u",
            "storage.password=s3cr3t!",
        ],
        &[],
        None,
        None,
    );
    let m = Masker::default();
    a.register_secrets(&m);
    assert_eq!(m.mask("x s3cr3t! y"), "x ******** y");
    assert!(a.storage_value().get("password").is_none());
}

#[test]
fn malformed_set_is_a_diagnostic() {
    let mut d = Diagnostics::default();
    let v = parse_sets(&["novalue".into(), "=x".into(), "a.b=1".into()], &mut d);
    assert_eq!(d.list.len(), 2);
    assert_eq!(v.len(), 1);
}

#[test]
fn an_s3_access_key_given_makes_its_secret_key_a_missing_answer() {
    let (_, d) = resolve(
        &[
            "storage.type=s3",
            "storage.bucket=b",
            "storage.access_key=ak",
        ],
        &[],
        None,
        None,
    );
    assert_eq!(d.list.len(), 1, "{:?}", d.list);
    assert!(
        d.list[0]
            .message
            .starts_with("storage.s3.secret_key (Secret access key): --set"),
        "{}",
        d.list[0].message
    );
    // Without an access key, the AWS environment gives both: nothing is missing.
    let (_, d) = resolve(&["storage.type=s3", "storage.bucket=b"], &[], None, None);
    assert!(d.is_empty(), "{:?}", d.list);
}
