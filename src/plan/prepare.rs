//! Preparation before any change, on every host.

use super::Dag;

/// No host is changed while another host's download, check or staging may still fail: the first
/// destructive step of each chain waits for every step that prepares, on every host. A step
/// prepares when it is not destructive and needs no destructive step, however far back; so it can
/// never need the destructive step that now waits for it, and no loop is made.
pub(super) fn before_destroying(dag: &mut Dag) {
    let n = dag.steps.len();
    // 0: not looked at, 1: being looked at (a loop, which is reported elsewhere), 2: prepares,
    // 3: after a destructive step.
    let mut state = vec![0u8; n];
    fn look(dag: &Dag, i: usize, state: &mut [u8]) -> bool {
        match state[i] {
            2 => return true,
            3 => return false,
            1 => return true,
            _ => {}
        }
        state[i] = 1;
        let prepares = !dag.steps[i].step.destructive
            && dag.steps[i].needs.iter().all(|&d| look(dag, d, state));
        state[i] = if prepares { 2 } else { 3 };
        prepares
    }
    let preparing: Vec<usize> = (0..n).filter(|&i| look(dag, i, &mut state)).collect();
    // The first destructive step of each chain: those after it wait for it already.
    for i in 0..n {
        if !dag.steps[i].step.destructive || dag.steps[i].needs.iter().any(|&d| state[d] != 2) {
            continue;
        }
        let added: Vec<usize> = preparing
            .iter()
            .copied()
            .filter(|p| !dag.steps[i].needs.contains(p))
            .collect();
        dag.steps[i].needs.extend(&added);
        dag.steps[i].after_preparation = added;
    }
}
