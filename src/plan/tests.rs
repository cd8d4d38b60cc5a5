use super::*;

fn plan(inv: &str, pb: &str) -> (Plan, Diagnostics) {
    let mut d = Diagnostics::default();
    let isrc = Source::new("master.yml", inv);
    let inv = crate::docs::inventory::parse(&isrc, &crate::yaml::parse(inv).unwrap(), &mut d);
    let psrc = Source::new("pb.yml", pb);
    let pb = crate::docs::playbook::parse(&psrc, &crate::yaml::parse(pb).unwrap(), &mut d);
    let p = build(&pb, &inv, &Filters::default(), &mut d);
    (p, d)
}

const INV: &str = "hosts:\n  a: {address: 1.1.1.1, groups: [web]}\n  b: {address: 1.1.1.2, groups: [web]}\n  c: {address: 1.1.1.3, groups: [db]}\n";

#[test]
fn tasks_are_steps_times_hosts_and_needs_wait_for_every_host() {
    let (p, d) = plan(
        INV,
        "steps:\n  - {id: x, hosts: web, shell: 'true'}\n  - {id: y, hosts: db, needs: [x], shell: 'true'}\n  - {id: z, hosts: all, shell: 'true', run_once: true}\n",
    );
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(p.main.tasks.len(), 4);
    let y = p.main.step_index("y").unwrap();
    let x = p.main.step_index("x").unwrap();
    let ty = p.main.task_nodes[p.main.steps[y].tasks[0]];
    let preds: Vec<_> = p
        .main
        .graph
        .neighbors_directed(ty, petgraph::Direction::Incoming)
        .collect();
    assert_eq!(preds, vec![p.main.joins[x]]);
    assert_eq!(
        p.main
            .graph
            .neighbors_directed(p.main.joins[x], petgraph::Direction::Incoming)
            .count(),
        2
    );
    assert_eq!(p.main.levels, vec![vec![0, 2], vec![1]]);
}

#[test]
fn cycles_name_the_loop() {
    let (_, d) = plan(
        INV,
        "steps:\n  - {id: a, needs: [b], shell: x}\n  - {id: b, needs: [a], shell: x}\n  - {id: c, needs: [c], shell: x}\n",
    );
    let msgs: Vec<_> = d.list.iter().map(|x| x.message.clone()).collect();
    assert!(
        msgs.contains(&"dependency cycle: a -> b -> a".to_string()),
        "{msgs:?}"
    );
    assert!(
        msgs.contains(&"dependency cycle: c -> c".to_string()),
        "{msgs:?}"
    );
}

#[test]
fn critical_path_follows_the_longest_chain() {
    let (p, _) = plan(
        INV,
        "steps:\n  - {id: a, shell: x}\n  - {id: b, needs: [a], shell: x}\n  - {id: c, needs: [b], shell: x}\n  - {id: d, needs: [a], shell: x}\n",
    );
    let ids: Vec<_> = p
        .main
        .critical_path
        .iter()
        .map(|i| p.main.steps[*i].step.id.clone())
        .collect();
    assert_eq!(ids, vec!["a", "b", "c"]);
}

#[test]
fn unknown_references_are_errors() {
    let (_, d) = plan(
        INV,
        "steps:\n  - {id: a, hosts: wbe, needs: [zz], shell: x}\n",
    );
    let codes: Vec<_> = d.list.iter().map(|x| x.code).collect();
    assert_eq!(codes, vec!["unknown_host", "unknown_need"]);
}
