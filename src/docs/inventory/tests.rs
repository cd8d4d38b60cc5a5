use super::*;

fn inv(text: &str) -> (Inventory, Diagnostics) {
    let src = Source::new("master.yml", text);
    let node = crate::yaml::parse(text).unwrap();
    let mut d = Diagnostics::default();
    let inv = parse(&src, &node, &mut d);
    (inv, d)
}

#[test]
fn ansible_precedence_is_all_then_parent_then_child_then_host() {
    let (inv, d) = inv(
        "all:\n  vars: {x: all, y: all, z: all, w: all}\n  children:\n    parent:\n      vars: {x: parent, y: parent, z: parent}\n      children:\n        child:\n          vars: {x: child, y: child}\n          hosts:\n            h1: {x: host}\n",
    );
    assert!(d.is_empty());
    let h = inv.host("h1").unwrap();
    assert_eq!(h.vars["x"], "host");
    assert_eq!(h.vars["y"], "child");
    assert_eq!(h.vars["z"], "parent");
    assert_eq!(h.vars["w"], "all");
    assert_eq!(inv.resolve("parent").unwrap(), vec!["h1"]);
}

#[test]
fn ansible_connection_variables_map_to_settings() {
    let (inv, _) = inv(
        "all:\n  hosts:\n    a:\n      ansible_host: 10.0.0.1\n      ansible_port: 2222\n      ansible_user: dr\n    b:\n      ansible_connection: local\n",
    );
    let a = inv.host("a").unwrap();
    assert_eq!(
        (a.address.as_deref(), a.port, a.user.as_deref()),
        (Some("10.0.0.1"), 2222, Some("dr"))
    );
    assert_eq!(inv.host("b").unwrap().connection, Connection::Local);
}

#[test]
fn native_defaults_apply_and_hosts_override() {
    let (inv, d) = inv(
        "defaults: {user: dr, port: 2200}\nhosts:\n  a: {address: 1.2.3.4, port: 22, groups: [web]}\nvars: {site: x}\n",
    );
    assert!(d.is_empty());
    let a = inv.host("a").unwrap();
    assert_eq!((a.port, a.user.as_deref()), (22, Some("dr")));
    assert_eq!(a.vars["site"], "x");
    assert_eq!(inv.resolve("web").unwrap(), vec!["a"]);
}

#[test]
fn native_host_without_address_is_an_error() {
    let (_, d) = inv("hosts:\n  a: {groups: [web]}\n  b: {connection: local}\n");
    assert_eq!(d.list.len(), 1);
    assert_eq!(d.list[0].code, "host_no_address");
}
