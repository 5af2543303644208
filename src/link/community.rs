//! Community detection (Louvain modularity optimisation, Blondel et al. 2008) and betweenness
//! centrality (Brandes 2001) for the graphs linking builds; petgraph has neither.

use std::collections::{HashMap, VecDeque};

use petgraph::graph::UnGraph;
use petgraph::visit::EdgeRef;

/// Louvain communities of an undirected weighted graph of `n` nodes: each node's community
/// number (dense, 0-based, in order of first node). Deterministic: nodes are visited in order.
pub fn louvain(n: usize, edges: &[(u32, u32, f64)]) -> Vec<u32> {
    let mut membership: Vec<u32> = (0..n as u32).collect();
    let mut graph: Vec<Vec<(u32, f64)>> = vec![Vec::new(); n];
    for &(a, b, w) in edges {
        if a == b {
            graph[a as usize].push((a, 2.0 * w));
        } else {
            graph[a as usize].push((b, w));
            graph[b as usize].push((a, w));
        }
    }
    loop {
        let (level, moved) = one_level(&graph);
        if !moved {
            break;
        }
        for m in membership.iter_mut() {
            *m = level[*m as usize];
        }
        let communities = level.iter().copied().max().map_or(0, |m| m as usize + 1);
        if communities == graph.len() {
            break;
        }
        // Aggregate: one node per community.
        let mut next: Vec<HashMap<u32, f64>> = vec![HashMap::new(); communities];
        for (a, list) in graph.iter().enumerate() {
            for &(b, w) in list {
                *next[level[a] as usize].entry(level[b as usize]).or_default() += w;
            }
        }
        graph = next
            .into_iter()
            .map(|m| {
                let mut list: Vec<(u32, f64)> = m.into_iter().collect();
                list.sort_by_key(|e| e.0);
                list
            })
            .collect();
    }
    membership
}

/// One pass of local moves; returns dense community numbers and whether any node moved.
fn one_level(graph: &[Vec<(u32, f64)>]) -> (Vec<u32>, bool) {
    let n = graph.len();
    let degree: Vec<f64> = graph.iter().map(|l| l.iter().map(|e| e.1).sum()).collect();
    let total: f64 = degree.iter().sum();
    let mut community: Vec<u32> = (0..n as u32).collect();
    if total <= 0.0 {
        return (community, false);
    }
    let mut community_degree = degree.clone();
    let mut moved_any = false;
    let mut weight_to: HashMap<u32, f64> = HashMap::new();
    for _round in 0..100 {
        let mut moved = false;
        for node in 0..n {
            let own = community[node];
            weight_to.clear();
            for &(other, w) in &graph[node] {
                if other as usize != node {
                    *weight_to.entry(community[other as usize]).or_default() += w;
                }
            }
            community_degree[own as usize] -= degree[node];
            let gain = |c: u32, w: f64| w - community_degree[c as usize] * degree[node] / total;
            let mut best = (own, gain(own, weight_to.get(&own).copied().unwrap_or(0.0)));
            let mut candidates: Vec<(&u32, &f64)> = weight_to.iter().collect();
            candidates.sort_by_key(|(c, _)| **c);
            for (&c, &w) in candidates {
                let g = gain(c, w);
                if g > best.1 + 1e-12 {
                    best = (c, g);
                }
            }
            community_degree[best.0 as usize] += degree[node];
            if best.0 != own {
                community[node] = best.0;
                moved = true;
                moved_any = true;
            }
        }
        if !moved {
            break;
        }
    }
    let mut dense: HashMap<u32, u32> = HashMap::new();
    let numbered: Vec<u32> = community
        .iter()
        .map(|c| {
            let next = dense.len() as u32;
            *dense.entry(*c).or_insert(next)
        })
        .collect();
    (numbered, moved_any)
}

/// Betweenness centrality of every node (unweighted shortest paths, undirected: each pair counted
/// once), normalised to 0–1 by the number of pairs not involving the node.
pub fn betweenness<N, E>(graph: &UnGraph<N, E>) -> Vec<f64> {
    let n = graph.node_count();
    let mut centrality = vec![0.0; n];
    for s in graph.node_indices() {
        let mut stack = Vec::new();
        let mut predecessors: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut paths = vec![0.0f64; n];
        let mut distance = vec![-1i64; n];
        paths[s.index()] = 1.0;
        distance[s.index()] = 0;
        let mut queue = VecDeque::from([s]);
        while let Some(v) = queue.pop_front() {
            stack.push(v.index());
            for edge in graph.edges(v) {
                let w = if edge.source() == v { edge.target() } else { edge.source() };
                if distance[w.index()] < 0 {
                    distance[w.index()] = distance[v.index()] + 1;
                    queue.push_back(w);
                }
                if distance[w.index()] == distance[v.index()] + 1 {
                    paths[w.index()] += paths[v.index()];
                    predecessors[w.index()].push(v.index());
                }
            }
        }
        let mut dependency = vec![0.0f64; n];
        while let Some(w) = stack.pop() {
            for &v in &predecessors[w] {
                dependency[v] += paths[v] / paths[w] * (1.0 + dependency[w]);
            }
            if w != s.index() {
                centrality[w] += dependency[w];
            }
        }
    }
    let pairs = if n > 2 { ((n - 1) * (n - 2)) as f64 } else { 1.0 };
    centrality.into_iter().map(|c| c / pairs).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_cliques_joined_by_one_edge_are_two_communities() {
        let mut edges = Vec::new();
        for group in [0u32, 5] {
            for a in group..group + 5 {
                for b in a + 1..group + 5 {
                    edges.push((a, b, 1.0));
                }
            }
        }
        edges.push((4, 5, 1.0));
        let c = louvain(10, &edges);
        assert!(c[..5].iter().all(|&x| x == c[0]));
        assert!(c[5..].iter().all(|&x| x == c[5]));
        assert_ne!(c[0], c[5]);
    }

    #[test]
    fn weight_decides_where_a_bridge_node_goes() {
        // Node 2 is tied weakly to 0-1 and strongly to 3-4.
        let edges = [(0, 1, 5.0), (0, 2, 0.5), (1, 2, 0.5), (2, 3, 5.0), (2, 4, 5.0), (3, 4, 5.0)];
        let c = louvain(5, &edges);
        assert_eq!(c[2], c[3]);
        assert_ne!(c[2], c[0]);
        // Isolated nodes stay alone.
        assert_eq!(louvain(3, &[]), vec![0, 1, 2]);
    }

    #[test]
    fn the_middle_of_a_path_is_the_most_between() {
        let mut g: UnGraph<(), ()> = UnGraph::new_undirected();
        let nodes: Vec<_> = (0..5).map(|_| g.add_node(())).collect();
        for pair in nodes.windows(2) {
            g.add_edge(pair[0], pair[1], ());
        }
        let b = betweenness(&g);
        // Path 0-1-2-3-4: node 2 lies on 4 of the 6 pairs not involving it.
        assert!((b[2] - 4.0 / 6.0 * 2.0 / 2.0).abs() < 1e-9, "{b:?}");
        assert_eq!(b[0], 0.0);
        assert!(b[1] > b[0] && b[2] > b[1]);
    }
}
