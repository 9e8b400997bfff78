//! Ordering cycles (systemd.unit(5) After=/Before=) among loaded units: found
//! with Tarjan's strongly connected components, each printed as its shortest
//! loop through its first unit by name.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::Universe;

/// Ordering cycles over After=/Before= between known units: every unit on a
/// cycle -> `ordering cycle: a.service -> b.service -> a.service`, where `x -> y`
/// reads "x starts after y".
pub fn ordering_cycles(u: &Universe<'_>) -> BTreeMap<String, String> {
    let names: Vec<&str> = u
        .iter()
        .filter(|(_, n)| n.deps.is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
    // Edge x -> y: x waits for y.
    let mut edges: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); names.len()];
    for (i, name) in names.iter().enumerate() {
        let Some(d) = u.get(*name).and_then(|n| n.deps) else {
            continue;
        };
        for a in &d.after {
            if let Some(&j) = index.get(a.as_str())
                && j != i
            {
                edges[i].insert(j);
            }
        }
        for b in &d.before {
            if let Some(&j) = index.get(b.as_str())
                && j != i
            {
                edges[j].insert(i);
            }
        }
    }
    let mut out = BTreeMap::new();
    for scc in strongly_connected(&edges) {
        if scc.len() < 2 {
            continue;
        }
        let members: BTreeSet<usize> = scc.iter().copied().collect();
        let Some(&start) = members.iter().next() else {
            continue;
        };
        let path = shortest_cycle(&edges, &members, start);
        let text: Vec<&str> = path.iter().map(|&i| names[i]).collect();
        let message = format!("ordering cycle: {}", text.join(" -> "));
        for &m in &members {
            out.insert(names[m].to_string(), message.clone());
        }
    }
    out
}

/// Tarjan's algorithm, iterative.
fn strongly_connected(edges: &[BTreeSet<usize>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, its successors not yet visited)
        let mut work: Vec<(usize, Vec<usize>)> = Vec::new();
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        work.push((root, edges[root].iter().rev().copied().collect()));
        while let Some((v, succ)) = work.last_mut() {
            let v = *v;
            if let Some(w) = succ.pop() {
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, edges[w].iter().rev().copied().collect()));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some((parent, _)) = work.last() {
                low[*parent] = low[*parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut scc = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                out.push(scc);
            }
        }
    }
    out
}

/// The shortest path `start -> ... -> start` inside `members` (breadth first).
fn shortest_cycle(
    edges: &[BTreeSet<usize>],
    members: &BTreeSet<usize>,
    start: usize,
) -> Vec<usize> {
    let mut prev: BTreeMap<usize, usize> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in &edges[v] {
            if !members.contains(&w) {
                continue;
            }
            if w == start {
                // Walk back from `v` to `start`, then read it forwards.
                let mut path = vec![v];
                let mut at = v;
                while at != start {
                    at = prev.get(&at).copied().unwrap_or(start);
                    path.push(at);
                }
                path.reverse();
                path.push(start);
                return path;
            }
            if let std::collections::btree_map::Entry::Vacant(slot) = prev.entry(w) {
                slot.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}
