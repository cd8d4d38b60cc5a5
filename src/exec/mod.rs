//! The executor: runs a DAG on tokio. A task starts as soon as everything it needs is done, bounded by
//! `--forks` and each host's limit; fail-fast or keep-going; rollback after a destructive step; Ctrl-C.

pub mod lock;
pub(crate) mod run_task;
pub mod undo;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::Utc;
use petgraph::Direction;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::plan::{Dag, Node};
use crate::report::events::{Event, Status};
use crate::task::RunShared;
use run_task::run_task;

pub struct Options {
    pub forks: usize,
    pub keep_going: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Done,
    Failed,
    Interrupted,
}

/// The interrupt state a run shares with the Ctrl-C handler.
#[derive(Default)]
pub struct Interrupt {
    pub count: std::sync::atomic::AtomicUsize,
    pub notify: tokio::sync::Notify,
}

/// The journal line of a task an interrupt cut short.
fn aborted(shared: &RunShared, dag: &Dag, t: usize, rollback: bool, why: &str) {
    let task = &dag.tasks[t];
    let now = Utc::now();
    shared.events.emit(Event::TaskFinished {
        task: t,
        step: dag.steps[task.step].step.id.clone(),
        host: task.host.clone(),
        rollback,
        at: now,
        started_at: now,
        status: Status::Aborted,
        exit_code: None,
        input_hash: String::new(),
        output: String::new(),
        message: why.into(),
        registered: None,
        destructive: dag.steps[task.step].step.destructive,
        ignored: false,
        undo: Vec::new(),
        undo_programs: Vec::new(),
    });
}

/// Runs a DAG to its end, or until failure or interrupt stops it.
pub async fn run_dag(
    shared: Arc<RunShared>,
    dag: Arc<Dag>,
    opts: &Options,
    rollback: bool,
    interrupt: Arc<Interrupt>,
) -> Ending {
    let graph = &dag.graph;
    let mut indeg: Vec<usize> = graph
        .node_indices()
        .map(|n| graph.neighbors_directed(n, Direction::Incoming).count())
        .collect();
    let mut ready: VecDeque<usize> = VecDeque::new();
    let global = Arc::new(Semaphore::new(opts.forks.max(1)));
    let mut per_host: HashMap<String, Arc<Semaphore>> = HashMap::new();
    for t in &dag.tasks {
        let limit = shared.hosts.get(&t.host).map_or(8, |h| h.max_parallel);
        per_host
            .entry(t.host.clone())
            .or_insert_with(|| Arc::new(Semaphore::new(limit)));
    }
    // Completing a node releases its successors; joins complete as soon as they are released.
    fn complete(
        n: petgraph::graph::NodeIndex,
        dag: &Dag,
        indeg: &mut [usize],
        ready: &mut VecDeque<usize>,
    ) {
        let mut stack = vec![n];
        while let Some(n) = stack.pop() {
            for s in dag.graph.neighbors_directed(n, Direction::Outgoing) {
                indeg[s.index()] -= 1;
                if indeg[s.index()] == 0 {
                    match dag.graph[s] {
                        Node::Task(t) => ready.push_back(t),
                        Node::Join(_) => stack.push(s),
                    }
                }
            }
        }
    }
    for n in graph.node_indices() {
        if indeg[n.index()] == 0 {
            match graph[n] {
                Node::Task(t) => ready.push_back(t),
                Node::Join(_) => complete(n, &dag, &mut indeg, &mut ready),
            }
        }
    }
    let mut running: JoinSet<(usize, Status)> = JoinSet::new();
    // Each running task by its join id, to name one that an interrupt cut short.
    let mut in_flight: HashMap<tokio::task::Id, (usize, tokio::task::AbortHandle)> = HashMap::new();
    let mut failed = false;
    let mut stopping = false;
    let mut seen_interrupts = interrupt.count.load(Ordering::SeqCst);
    loop {
        while !stopping && let Some(t) = ready.pop_front() {
            let (shared, dag, global, host) = (
                shared.clone(),
                dag.clone(),
                global.clone(),
                per_host[&dag.tasks[t].host].clone(),
            );
            let handle = running.spawn(async move {
                let _h = host.acquire_owned().await.expect("semaphore open");
                let _g = global.acquire_owned().await.expect("semaphore open");
                (t, run_task(shared, dag, t, rollback).await)
            });
            in_flight.insert(handle.id(), (t, handle));
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            done = running.join_next_with_id() => {
                let Some(res) = done else { break };
                match res {
                    Ok((id, (t, status))) => {
                        in_flight.remove(&id);
                        if status.succeeded() {
                            complete(dag.task_nodes[t], &dag, &mut indeg, &mut ready);
                        } else {
                            failed = true;
                            if !opts.keep_going {
                                stopping = true;
                            }
                        }
                    }
                    Err(e) => {
                        if let Some((t, _)) = in_flight.remove(&e.id()) {
                            let why = if e.is_cancelled() {
                                "cut short by the interrupt"
                            } else {
                                "the task stopped on an internal error"
                            };
                            aborted(&shared, &dag, t, rollback, why);
                        }
                        if !e.is_cancelled() {
                            failed = true;
                            stopping |= !opts.keep_going;
                        }
                    }
                }
            }
            _ = interrupt.notify.notified() => {
                let count = interrupt.count.load(Ordering::SeqCst);
                if count > seen_interrupts {
                    seen_interrupts = count;
                    stopping = true;
                    // Waits and running steps are cut short at once (their commands killed with
                    // everything they started); a destructive step runs to its end, so that what it
                    // changed is known and can be undone.
                    for (t, handle) in in_flight.values() {
                        if !dag.steps[dag.tasks[*t].step].step.destructive {
                            handle.abort();
                        }
                    }
                }
            }
        }
    }
    let interrupted = interrupt.count.load(Ordering::SeqCst) > 0;
    if interrupted {
        Ending::Interrupted
    } else if failed {
        Ending::Failed
    } else {
        Ending::Done
    }
}
