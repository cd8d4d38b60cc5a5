//! The YAML layer: values, spans, and the bounds on what a document may cost.

use super::*;

#[test]
fn spans_point_at_values() {
    let text = "a: 1\nb:\n  - x\n  - 'y'\n";
    let node = parse(text).unwrap();
    let b = node.get("b").unwrap();
    let Kind::Seq(items) = &b.kind else { panic!() };
    assert_eq!(&text[items[0].span.start..items[0].span.end()], "x");
    assert_eq!(node.get("a").unwrap().kind, Kind::Int(1));
    assert_eq!(items[1].kind, Kind::Str("y".into()));
}

#[test]
fn scalars_follow_the_core_schema() {
    let node = parse("a: ~\nb: true\nc: 1.5\nd: '1'\ne: 0x10\nf: 1.2.3\n").unwrap();
    assert!(node.get("a").unwrap().is_null());
    assert_eq!(node.get("b").unwrap().kind, Kind::Bool(true));
    assert_eq!(node.get("c").unwrap().kind, Kind::Float(1.5));
    assert_eq!(node.get("d").unwrap().kind, Kind::Str("1".into()));
    assert_eq!(node.get("e").unwrap().kind, Kind::Int(16));
    assert_eq!(node.get("f").unwrap().kind, Kind::Str("1.2.3".into()));
}

#[test]
fn non_ascii_offsets_are_bytes() {
    let text = "é: ü\nk: v\n";
    let node = parse(text).unwrap();
    let v = node.get("k").unwrap();
    assert_eq!(&text[v.span.start..v.span.end()], "v");
}

#[test]
fn anchors_and_aliases_resolve() {
    let node = parse("a: &x {k: 1}\nb: *x\n").unwrap();
    assert_eq!(node.get("b").unwrap().get("k").unwrap().kind, Kind::Int(1));
}

#[test]
fn block_nesting_is_bounded_before_the_stack_is() {
    let mut text = String::new();
    for depth in 0..300 {
        text.push_str(&format!("{}k:\n", " ".repeat(depth)));
    }
    let err = parse(&text).unwrap_err();
    assert_eq!(err.code, "yaml_too_deep");
    assert!(parse(&text[..text.len() / 2]).is_ok());
}

#[test]
fn duplicate_keys_and_alias_budgets_are_errors() {
    let err = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
    assert_eq!(
        err.message,
        "duplicate key `a` on line 3 (first given on line 1)"
    );
    assert!(parse("a: &x [1, 2]\nb: *x\nc: *x\n").is_ok());
    let mut bomb = String::from("a0: &a0 [x, x]\n");
    for i in 1..20 {
        bomb.push_str(&format!("a{i}: &a{i} [*a{p}, *a{p}]\n", p = i - 1));
    }
    assert_eq!(parse(&bomb).unwrap_err().code, "yaml_alias_budget");
    // Few nodes, but each alias copies a large value: bytes count too.
    let big = format!(
        "a: &a \"{}\"\nb: [{}]\n",
        "x".repeat(1 << 20),
        "*a, ".repeat(20)
    );
    let err = parse(&big).unwrap_err();
    assert_eq!(err.code, "yaml_alias_budget");
    assert!(err.message.contains("MiB of text"), "{}", err.message);
}

#[test]
fn tabs_in_indentation_are_found() {
    assert_eq!(find_tab_indent("a:\n\tb: 1\n"), Some(3));
    assert_eq!(find_tab_indent("a: 'x\ty'\n"), None);
}
