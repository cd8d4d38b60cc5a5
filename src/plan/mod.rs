//! The plan: steps × hosts as tasks in a petgraph DAG, checked for unknown references, cycles and templates.

pub mod check;
mod prepare;
pub mod render;
mod work;

use std::collections::{BTreeMap, BTreeSet};

use petgraph::algo::kosaraju_scc;
use petgraph::graph::{DiGraph, NodeIndex};

use crate::context::CONTROLLER;
use crate::diag::{Diag, Diagnostics, Source, did_you_mean};
use crate::docs::inventory::Inventory;
use crate::docs::playbook::{Playbook, Step};
pub use work::{Loop, When, Work, conjuncts};

/// A node of the DAG: one task, or the join that closes one step (all its hosts done).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Node {
    Task(usize),
    Join(usize),
}

#[derive(Clone, Debug)]
pub struct Task {
    pub step: usize,
    pub host: String,
}

#[derive(Clone, Debug)]
pub struct PlanStep {
    pub step: Step,
    pub work: Work,
    pub hosts: Vec<String>,
    /// Indices of the steps this one needs, after `--only` / `--skip`: those it names, and for a
    /// destructive step those of `after_preparation`.
    pub needs: Vec<usize>,
    /// The steps a destructive step waits for though it does not name them: every step that
    /// prepares (neither destructive nor after a destructive one), on every host.
    pub after_preparation: Vec<usize>,
    pub level: usize,
    pub tasks: Vec<usize>,
}

impl PlanStep {
    /// The steps this one names in `needs` (what the engine added for a destructive step left out).
    pub fn named_needs(&self) -> impl Iterator<Item = &usize> {
        self.needs
            .iter()
            .filter(|n| !self.after_preparation.contains(n))
    }
}

/// One DAG: the main steps, or the `on_failure` steps.
#[derive(Clone, Debug, Default)]
pub struct Dag {
    pub steps: Vec<PlanStep>,
    pub tasks: Vec<Task>,
    pub graph: DiGraph<Node, ()>,
    pub joins: Vec<NodeIndex>,
    pub task_nodes: Vec<NodeIndex>,
    pub levels: Vec<Vec<usize>>,
    pub critical_path: Vec<usize>,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub name: String,
    pub main: Dag,
    pub rollback: Dag,
    /// The `on_failure` steps tagged `always`: run after any failure, destructive or not.
    pub cleanup: Dag,
}

#[derive(Clone, Debug, Default)]
pub struct Filters {
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub limit: Vec<String>,
}

pub fn build(pb: &Playbook, inv: &Inventory, filters: &Filters, diags: &mut Diagnostics) -> Plan {
    let src = pb
        .source
        .clone()
        .unwrap_or_else(|| Source::new("playbook", ""));
    check_filters(pb, inv, filters, diags);
    let limit: Option<BTreeSet<String>> = (!filters.limit.is_empty()).then(|| {
        filters
            .limit
            .iter()
            .flat_map(|p| inv.resolve(p).unwrap_or_default())
            .collect()
    });
    let keep = |s: &Step| {
        let hit = |names: &[String]| names.iter().any(|n| *n == s.id || s.tags.contains(n));
        (filters.only.is_empty() || s.rollback || hit(&filters.only)) && !hit(&filters.skip)
    };
    let main = build_dag(&pb.steps, inv, &limit, &keep, (&src, &pb.groups), diags);
    let rollback = build_dag(
        &pb.on_failure,
        inv,
        &limit,
        &|_| true,
        (&src, &pb.groups),
        diags,
    );
    // The same steps again; their problems were reported just above.
    let mut again = Diagnostics::default();
    let cleanup = build_dag(
        &pb.on_failure,
        inv,
        &limit,
        &|s| s.tags.iter().any(|t| t == "always"),
        (&src, &pb.groups),
        &mut again,
    );
    Plan {
        name: pb.name.clone(),
        main,
        rollback,
        cleanup,
    }
}

fn check_filters(pb: &Playbook, inv: &Inventory, f: &Filters, diags: &mut Diagnostics) {
    let mut names: Vec<&str> = pb.steps.iter().map(|s| s.id.as_str()).collect();
    names.extend(
        pb.steps
            .iter()
            .flat_map(|s| s.tags.iter().map(String::as_str)),
    );
    for (flag, list) in [("--only", &f.only), ("--skip", &f.skip)] {
        for n in list {
            if !names.contains(&n.as_str()) {
                let sug = did_you_mean(n, names.iter().copied());
                diags.push(
                    Diag::plain(
                        "unknown_step",
                        format!("{flag} names `{n}`, which is no step id or tag"),
                    )
                    .help(
                        sug.map_or("run with --check to see the step ids".into(), |s| {
                            format!("did you mean `{s}`?")
                        }),
                    ),
                );
            }
        }
    }
    for n in &f.limit {
        if inv.resolve(n).is_none() {
            let sug = did_you_mean(n, inv.names());
            diags.push(
                Diag::plain(
                    "unknown_host",
                    format!("--limit names `{n}`, which is no host or group"),
                )
                .help(sug.map_or("see `setup inventory --list`".into(), |s| {
                    format!("did you mean `{s}`?")
                })),
            );
        }
    }
}

fn build_dag(
    steps: &[Step],
    inv: &Inventory,
    limit: &Option<BTreeSet<String>>,
    keep: &dyn Fn(&Step) -> bool,
    (src, optional): (&Source, &[String]),
    diags: &mut Diagnostics,
) -> Dag {
    let kept: Vec<&Step> = steps.iter().filter(|s| keep(s)).collect();
    let index: BTreeMap<&str, usize> = kept
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id.as_str(), i))
        .collect();
    let all_ids: Vec<&str> = steps.iter().map(|s| s.id.as_str()).collect();
    let mut dag = Dag::default();
    for s in &kept {
        let hosts = resolve_hosts(s, inv, limit, (src, optional), diags);
        let mut needs = Vec::new();
        for (n, node) in &s.needs {
            if let Some(i) = index.get(n.as_str()) {
                if !needs.contains(i) {
                    needs.push(*i);
                }
            } else if !all_ids.contains(&n.as_str()) {
                let sug = did_you_mean(n, all_ids.iter().copied());
                diags.push(
                    Diag::at(
                        "unknown_need",
                        src,
                        node.span,
                        format!("step `{}` needs `{n}`, which is no step", s.id),
                    )
                    .label("unknown step")
                    .help(
                        sug.map_or(format!("known steps: {}", all_ids.join(", ")), |x| {
                            format!("did you mean `{x}`?")
                        }),
                    ),
                );
            }
        }
        dag.steps.push(PlanStep {
            step: (*s).clone(),
            work: Work::of(s),
            hosts,
            needs,
            after_preparation: Vec::new(),
            level: 0,
            tasks: Vec::new(),
        });
    }
    prepare::before_destroying(&mut dag);
    if !report_cycles(&dag, src, diags) {
        dag.compute_levels();
    }
    dag.build_graph();
    dag
}

fn resolve_hosts(
    s: &Step,
    inv: &Inventory,
    limit: &Option<BTreeSet<String>>,
    (src, optional): (&Source, &[String]),
    diags: &mut Diagnostics,
) -> Vec<String> {
    let Some((patterns, _)) = &s.hosts else {
        return vec![CONTROLLER.to_string()];
    };
    let mut hosts: Vec<String> = Vec::new();
    for (p, node) in patterns {
        if p.contains("{{") {
            continue;
        }
        match inv.resolve(p) {
            Some(hs) => hosts.extend(
                hs.into_iter()
                    .filter(|h| !hosts.contains(h))
                    .collect::<Vec<_>>(),
            ),
            None if p == CONTROLLER => hosts.push(p.clone()),
            None if !inv.loaded() => {}
            // A group the playbook declares optional: an inventory without it runs those steps nowhere.
            None if optional.contains(p) => {}
            None => {
                let sug = did_you_mean(p, inv.names());
                diags.push(
                    Diag::at(
                        "unknown_host",
                        src,
                        node.span,
                        format!("step `{}` runs on `{p}`, which is no host or group", s.id),
                    )
                    .label("unknown host or group")
                    .help(sug.map_or(
                        "see `setup inventory --list` for hosts and groups".into(),
                        |x| format!("did you mean `{x}`?"),
                    )),
                );
            }
        }
    }
    if let Some(l) = limit {
        hosts.retain(|h| l.contains(h) || h == CONTROLLER);
    }
    if s.run_once {
        hosts.truncate(1);
    }
    hosts
}

/// Reports each dependency cycle as `a -> b -> a`; true when there was one.
fn report_cycles(dag: &Dag, src: &Source, diags: &mut Diagnostics) -> bool {
    let mut g: DiGraph<usize, ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = (0..dag.steps.len()).map(|i| g.add_node(i)).collect();
    for (i, s) in dag.steps.iter().enumerate() {
        for &n in &s.needs {
            g.add_edge(nodes[i], nodes[n], ());
        }
    }
    let mut found = false;
    for scc in kosaraju_scc(&g) {
        let members: BTreeSet<usize> = scc.iter().map(|n| g[*n]).collect();
        let first = *members.iter().next().expect("scc is not empty");
        if members.len() == 1 && !dag.steps[first].needs.contains(&first) {
            continue;
        }
        found = true;
        // Walk `needs` inside the component from its first step until the walk comes back.
        let mut path = vec![first];
        let mut cur = first;
        loop {
            let next = *dag.steps[cur]
                .needs
                .iter()
                .find(|n| members.contains(n) && (**n == first || !path.contains(n)))
                .unwrap_or(&first);
            if next == first {
                break;
            }
            path.push(next);
            cur = next;
        }
        let last = *path.last().expect("path has a start");
        let mut names: Vec<&str> = path
            .iter()
            .map(|i| dag.steps[*i].step.id.as_str())
            .collect();
        names.push(&dag.steps[first].step.id);
        let closing = dag.steps[last]
            .step
            .needs
            .iter()
            .find(|(n, _)| *n == dag.steps[first].step.id)
            .map(|(_, node)| node.span)
            .unwrap_or(dag.steps[last].step.id_node.span);
        diags.push(
            Diag::at(
                "dependency_cycle",
                src,
                closing,
                format!("dependency cycle: {}", names.join(" -> ")),
            )
            .label("this `needs` closes the loop")
            .help("steps cannot wait for each other: remove one of these `needs`"),
        );
    }
    found
}

impl Dag {
    fn compute_levels(&mut self) {
        let n = self.steps.len();
        let mut level = vec![usize::MAX; n];
        fn visit(i: usize, steps: &[PlanStep], level: &mut [usize]) -> usize {
            if level[i] != usize::MAX {
                return level[i];
            }
            let l = steps[i]
                .needs
                .iter()
                .map(|&d| visit(d, steps, level) + 1)
                .max()
                .unwrap_or(0);
            level[i] = l;
            l
        }
        for i in 0..n {
            visit(i, &self.steps, &mut level);
        }
        let depth = level.iter().copied().max().map_or(0, |m| m + 1);
        self.levels = vec![Vec::new(); depth];
        for (i, l) in level.iter().enumerate() {
            self.steps[i].level = *l;
            self.levels[*l].push(i);
        }
        self.critical_path = self.longest_path(|_| 1.0);
    }

    /// The heaviest chain of `needs`, by a weight per step.
    pub fn longest_path(&self, weight: impl Fn(usize) -> f64) -> Vec<usize> {
        let mut best: Vec<(f64, Option<usize>)> = vec![(0.0, None); self.steps.len()];
        for level in &self.levels {
            for &i in level {
                let prev = self.steps[i]
                    .needs
                    .iter()
                    .copied()
                    .max_by(|a, b| best[*a].0.total_cmp(&best[*b].0));
                best[i] = (prev.map_or(0.0, |p| best[p].0) + weight(i), prev);
            }
        }
        let Some(mut cur) =
            (0..self.steps.len()).max_by(|a, b| best[*a].0.total_cmp(&best[*b].0).then(b.cmp(a)))
        else {
            return Vec::new();
        };
        let mut path = vec![cur];
        while let Some(p) = best[cur].1 {
            path.push(p);
            cur = p;
        }
        path.reverse();
        path
    }

    fn build_graph(&mut self) {
        for (si, s) in self.steps.iter_mut().enumerate() {
            for h in &s.hosts {
                s.tasks.push(self.tasks.len());
                self.tasks.push(Task {
                    step: si,
                    host: h.clone(),
                });
            }
        }
        self.task_nodes = (0..self.tasks.len())
            .map(|t| self.graph.add_node(Node::Task(t)))
            .collect();
        self.joins = (0..self.steps.len())
            .map(|s| self.graph.add_node(Node::Join(s)))
            .collect();
        for (si, s) in self.steps.iter().enumerate() {
            for &t in &s.tasks {
                self.graph.add_edge(self.task_nodes[t], self.joins[si], ());
                for &need in &s.needs {
                    self.graph
                        .add_edge(self.joins[need], self.task_nodes[t], ());
                }
            }
        }
    }

    #[cfg(test)]
    pub fn step_index(&self, id: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.step.id == id)
    }
}

#[cfg(test)]
mod tests;
