//! The investigator's graph (petgraph): calls, callers, phones, counterparties and places as nodes,
//! evidence as edges, read back from the warehouse tables `link` wrote: neighbours, paths with the
//! evidence of each hop, subgraphs for export, and the leads.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, Int64Type, TimeUnit, TimestampMicrosecondType};
use petgraph::graph::{NodeIndex, UnGraph};
use petgraph::visit::EdgeRef;
use serde::Serialize;

use super::LinkError;
use super::load::cell_of;
use crate::sql::Session;

fn data(e: impl std::fmt::Display) -> LinkError {
    LinkError::Data(e.to_string())
}

/// Text values of a column, whatever its string type.
fn texts(batch: &RecordBatch, i: usize) -> Result<Vec<Option<String>>, LinkError> {
    let array = cast(batch.column(i), &DataType::Utf8).map_err(data)?;
    let array = array.as_string::<i32>();
    Ok((0..array.len()).map(|r| (!array.is_null(r)).then(|| array.value(r).to_owned())).collect())
}

fn floats(batch: &RecordBatch, i: usize) -> Result<Vec<Option<f64>>, LinkError> {
    let array = cast(batch.column(i), &DataType::Float64).map_err(data)?;
    let array = array.as_primitive::<Float64Type>();
    Ok((0..array.len()).map(|r| (!array.is_null(r)).then(|| array.value(r))).collect())
}

fn ints(batch: &RecordBatch, i: usize) -> Result<Vec<Option<i64>>, LinkError> {
    let array = cast(batch.column(i), &DataType::Int64).map_err(data)?;
    let array = array.as_primitive::<Int64Type>();
    Ok((0..array.len()).map(|r| (!array.is_null(r)).then(|| array.value(r))).collect())
}

fn times(batch: &RecordBatch, i: usize) -> Result<Vec<Option<i64>>, LinkError> {
    let array = cast(batch.column(i), &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(data)?;
    let array = array.as_primitive::<TimestampMicrosecondType>();
    Ok((0..array.len()).map(|r| (!array.is_null(r)).then(|| array.value(r))).collect())
}

/// A lead as the tables hold it.
#[derive(Debug, Clone, Serialize)]
pub struct LeadRecord {
    /// Id.
    pub lead_id: String,
    /// Rank (1 is the best).
    pub rank: i64,
    /// Score in bits.
    pub score: f64,
    /// Whether the score reaches "worth a look".
    pub worth_a_look: bool,
    /// Main category code.
    pub category: String,
    /// `organised_group` or `person_of_concern`.
    pub kind: String,
    /// Callers (people).
    pub callers: i64,
    /// Calls, in time order.
    pub call_ids: Vec<String>,
    /// Entities, key members first.
    pub entity_ids: Vec<String>,
    /// Evidence sentences, the summary first.
    pub evidence: Vec<String>,
}

fn run_links_exist(session: &Session) -> Result<bool, LinkError> {
    let (_, batches) = session.collect("SELECT count(*) FROM link_runs")?;
    Ok(batches.first().and_then(|b| ints(b, 0).ok()).and_then(|v| v.first().copied().flatten()).unwrap_or(0) > 0)
}

/// Reads the leads, best first (the top `limit` when given).
pub fn read_leads(session: &Session, limit: Option<usize>) -> Result<Vec<LeadRecord>, LinkError> {
    if !run_links_exist(session)? {
        return Err(LinkError::NotLinked);
    }
    let limit_sql = limit.map(|n| format!(" LIMIT {n}")).unwrap_or_default();
    let (_, batches) = session.collect(&format!(
        "SELECT lead_id, rank, score, worth_a_look, category, callers, evidence, kind FROM leads ORDER BY rank{limit_sql}"
    ))?;
    let mut leads = Vec::new();
    for batch in &batches {
        let (ids, ranks, scores) = (texts(batch, 0)?, ints(batch, 1)?, floats(batch, 2)?);
        let worth = cast(batch.column(3), &DataType::Boolean).map_err(data)?;
        let worth = worth.as_boolean();
        let (categories, callers, evidence) = (texts(batch, 4)?, ints(batch, 5)?, texts(batch, 6)?);
        let kinds = texts(batch, 7)?;
        for r in 0..batch.num_rows() {
            leads.push(LeadRecord {
                lead_id: ids[r].clone().unwrap_or_default(),
                rank: ranks[r].unwrap_or(0),
                score: scores[r].unwrap_or(0.0),
                worth_a_look: !worth.is_null(r) && worth.value(r),
                category: categories[r].clone().unwrap_or_default(),
                kind: kinds[r].clone().unwrap_or_default(),
                callers: callers[r].unwrap_or(0),
                call_ids: Vec::new(),
                entity_ids: Vec::new(),
                evidence: evidence[r].as_deref().unwrap_or("").lines().map(str::to_owned).collect(),
            });
        }
    }
    let index: HashMap<String, usize> = leads.iter().enumerate().map(|(i, l)| (l.lead_id.clone(), i)).collect();
    let last_rank = leads.iter().map(|l| l.rank).max().unwrap_or(0);
    let (_, batches) = session.collect(&format!(
        "SELECT m.lead_id, m.member, m.call_id, m.entity_id, c.received_at FROM lead_members m \
         JOIN leads l ON l.lead_id = m.lead_id LEFT JOIN calls c ON c.call_id = m.call_id \
         WHERE l.rank <= {last_rank} ORDER BY l.rank, m.member, c.received_at, m.call_id, \
         m.role = 'key_member' DESC, m.degree DESC, m.betweenness DESC, m.entity_id"
    ))?;
    for batch in &batches {
        let (ids, members, calls, entities) = (texts(batch, 0)?, texts(batch, 1)?, texts(batch, 2)?, texts(batch, 3)?);
        for r in 0..batch.num_rows() {
            let Some(&i) = ids[r].as_ref().and_then(|id| index.get(id)) else { continue };
            match members[r].as_deref() {
                Some("call") => leads[i].call_ids.extend(calls[r].clone()),
                Some("entity") => leads[i].entity_ids.extend(entities[r].clone()),
                _ => {}
            }
        }
    }
    Ok(leads)
}

/// Kinds of node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A call (incident).
    Call,
    /// A resolved caller.
    Entity,
    /// A phone key.
    Phone,
    /// An organisation named as counterparty.
    Counterparty,
    /// A 500 m cell.
    Place,
}

impl NodeKind {
    /// Name in exports.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Call => "call",
            NodeKind::Entity => "entity",
            NodeKind::Phone => "phone",
            NodeKind::Counterparty => "counterparty",
            NodeKind::Place => "place",
        }
    }
}

/// A node: its kind, id and a label a person can read (no raw personal data).
#[derive(Debug, Clone, Serialize)]
pub struct GraphNode {
    /// Kind.
    pub kind: NodeKind,
    /// Id (call id, entity id, `phone:…`, `org:…`, `cell:…`).
    pub id: String,
    /// What it is, in words.
    pub label: String,
}

/// An edge: the evidence and its strength.
#[derive(Debug, Clone, Serialize)]
pub struct GraphEdge {
    /// Kind of evidence (`caller`, `phone`, `counterparty`, `place`, or an `incident_links` kind).
    pub evidence: String,
    /// Strength, 0 to 1.
    pub weight: f64,
    /// What it rests on.
    pub detail: String,
}

/// Nodes of a subgraph, and its edges (both ends and the evidence).
pub type Subgraph = (Vec<NodeIndex>, Vec<(NodeIndex, NodeIndex, GraphEdge)>);

/// Links a path search examines at most (about a second's work on a 1M-call warehouse).
pub const PATH_SEARCH_LINKS: usize = 2_000_000;

/// What a path search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathFound {
    /// The nodes of the cheapest path, both ends included.
    Path(Vec<NodeIndex>),
    /// No chain of evidence joins the two.
    None,
    /// The search stopped after examining this many links without finding a chain.
    GaveUp {
        /// Links examined.
        examined: usize,
    },
}

/// One end of a two-ended shortest-path search: the best cost found so far to each node reached
/// and the node it was reached from, and the queue of nodes still to settle.
struct Side {
    dist: HashMap<NodeIndex, (f64, Option<NodeIndex>)>,
    queue: std::collections::BinaryHeap<Queued>,
    settled: HashSet<NodeIndex>,
}

/// A queued node, cheapest first.
struct Queued(f64, NodeIndex);

impl PartialEq for Queued {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == std::cmp::Ordering::Equal
    }
}
impl Eq for Queued {}
impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Queued {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        other.0.total_cmp(&self.0).then_with(|| other.1.cmp(&self.1))
    }
}

impl Side {
    fn start(n: NodeIndex) -> Side {
        Side {
            dist: HashMap::from([(n, (0.0, None))]),
            queue: std::collections::BinaryHeap::from([Queued(0.0, n)]),
            settled: HashSet::new(),
        }
    }

    /// Cost of the nearest node not yet settled (infinite when none is left).
    fn top(&mut self) -> f64 {
        while let Some(q) = self.queue.peek() {
            if self.settled.contains(&q.1) {
                self.queue.pop();
            } else {
                return q.0;
            }
        }
        f64::INFINITY
    }

    fn pop(&mut self) -> Option<(f64, NodeIndex)> {
        while let Some(Queued(d, n)) = self.queue.pop() {
            if self.settled.insert(n) {
                return Some((d, n));
            }
        }
        None
    }

    fn offer(&mut self, n: NodeIndex, cost: f64, from: NodeIndex) {
        if self.settled.contains(&n) {
            return;
        }
        let better = self.dist.get(&n).is_none_or(|&(d, _)| cost < d);
        if better {
            self.dist.insert(n, (cost, Some(from)));
            self.queue.push(Queued(cost, n));
        }
    }

    /// The nodes from `n` back to this side's start.
    fn chain(&self, mut n: NodeIndex) -> Vec<NodeIndex> {
        let mut out = vec![n];
        while let Some(&(_, Some(p))) = self.dist.get(&n) {
            out.push(p);
            n = p;
        }
        out
    }
}

/// The graph of the whole warehouse.
#[derive(Debug, Default)]
pub struct LinkGraph {
    /// Nodes and edges.
    pub graph: UnGraph<GraphNode, GraphEdge>,
    /// Node of each id.
    pub index: HashMap<String, NodeIndex>,
    /// ln(degree) of each node, what a path pays to pass through it (filled by [`LinkGraph::hubs`]).
    hub: Vec<f64>,
}

fn day(t: i64) -> String {
    chrono::DateTime::from_timestamp_micros(t + 8 * 3_600_000_000)
        .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

impl LinkGraph {
    /// Builds the graph from the warehouse's analyst tables (no restricted table is read).
    pub fn load(session: &Session) -> Result<LinkGraph, LinkError> {
        if !run_links_exist(session)? {
            return Err(LinkError::NotLinked);
        }
        let mut g = LinkGraph::default();
        let readings = crate::sql::normalised::organisation_keys(session)?;
        let (_, entity_names) = session.collect("SELECT entity_id, names_masked, calls FROM entities")?;
        let mut masked: HashMap<String, String> = HashMap::new();
        for b in &entity_names {
            let (ids, names, calls) = (texts(b, 0)?, texts(b, 1)?, ints(b, 2)?);
            for r in 0..b.num_rows() {
                if let Some(id) = &ids[r] {
                    let names = names[r].as_deref().unwrap_or("");
                    let short: Vec<&str> = names.split(',').take(3).collect();
                    masked.insert(id.clone(), format!("{} ({} calls)", short.join("/"), calls[r].unwrap_or(0)));
                }
            }
        }
        let (_, batches) = session.collect(
            "SELECT c.call_id, c.received_at, c.category, c.district, c.phone_key, c.counterparty, c.lon, c.lat, e.entity_id \
             FROM calls c LEFT JOIN caller_entities e ON e.call_id = c.call_id ORDER BY c.call_id",
        )?;
        let taxonomy = crate::contract::Taxonomy::builtin();
        for b in &batches {
            let (ids, received, categories, districts) = (texts(b, 0)?, times(b, 1)?, texts(b, 2)?, texts(b, 3)?);
            let (phones, counterparties, lons, lats, entities) =
                (texts(b, 4)?, texts(b, 5)?, floats(b, 6)?, floats(b, 7)?, texts(b, 8)?);
            for r in 0..b.num_rows() {
                let Some(call_id) = ids[r].clone() else { continue };
                let category = categories[r].clone().unwrap_or_default();
                let name = taxonomy.get(&category).map_or(category.clone(), |c| c.name_zh.clone());
                let label = format!(
                    "{} {} {}",
                    received[r].map(day).unwrap_or_default(),
                    name,
                    districts[r].as_deref().unwrap_or("")
                );
                let call = g.node(NodeKind::Call, &call_id, || label);
                if let Some(entity) = &entities[r] {
                    let e = g.node(NodeKind::Entity, entity, || masked.get(entity).cloned().unwrap_or_default());
                    g.graph.add_edge(
                        call,
                        e,
                        GraphEdge { evidence: "caller".into(), weight: 0.9, detail: String::new() },
                    );
                }
                if let Some(phone) = &phones[r] {
                    let id = format!("phone:{}", &phone[..phone.len().min(12)]);
                    let p = g.node(NodeKind::Phone, &id, || format!("phone key {}", &phone[..phone.len().min(8)]));
                    g.graph.add_edge(
                        call,
                        p,
                        GraphEdge { evidence: "phone".into(), weight: 0.7, detail: String::new() },
                    );
                }
                if let Some(key) = counterparties[r].as_deref().and_then(|c| readings.get(c)) {
                    let id = format!("org:{key}");
                    let spelling = counterparties[r].clone().unwrap_or_default();
                    let o = g.node(NodeKind::Counterparty, &id, || spelling);
                    g.graph.add_edge(
                        call,
                        o,
                        GraphEdge { evidence: "counterparty".into(), weight: 0.4, detail: String::new() },
                    );
                }
                if let (Some(lon), Some(lat)) = (lons[r], lats[r])
                    && let Some((row, column)) = cell_of(lon, lat)
                {
                    let id = format!("cell:{row}:{column}");
                    let district = districts[r].clone().unwrap_or_default();
                    let p = g.node(NodeKind::Place, &id, || format!("500 m cell in {district}"));
                    g.graph.add_edge(
                        call,
                        p,
                        GraphEdge { evidence: "place".into(), weight: 0.2, detail: String::new() },
                    );
                }
            }
        }
        let (_, batches) = session.collect(
            "SELECT call_a, call_b, evidence, weight, detail FROM incident_links \
             WHERE evidence NOT IN ('same_caller', 'shared_phone') ORDER BY call_a, call_b, evidence, detail, weight",
        )?;
        for b in &batches {
            let (a, bb, evidence, weight, detail) =
                (texts(b, 0)?, texts(b, 1)?, texts(b, 2)?, floats(b, 3)?, texts(b, 4)?);
            for r in 0..b.num_rows() {
                let (Some(x), Some(y)) =
                    (a[r].as_ref().and_then(|i| g.index.get(i)), bb[r].as_ref().and_then(|i| g.index.get(i)))
                else {
                    continue;
                };
                g.graph.add_edge(
                    *x,
                    *y,
                    GraphEdge {
                        evidence: evidence[r].clone().unwrap_or_default(),
                        weight: weight[r].unwrap_or(0.0),
                        detail: detail[r].clone().unwrap_or_default(),
                    },
                );
            }
        }
        g.hubs();
        Ok(g)
    }

    /// Fills the cost of passing through each node from its degree; called once the edges are in.
    pub fn hubs(&mut self) {
        self.hub = self.graph.node_indices().map(|n| (self.graph.edges(n).count().max(1) as f64).ln()).collect();
    }

    fn node(&mut self, kind: NodeKind, id: &str, label: impl FnOnce() -> String) -> NodeIndex {
        if let Some(&n) = self.index.get(id) {
            return n;
        }
        let n = self.graph.add_node(GraphNode { kind, id: id.to_owned(), label: label() });
        self.index.insert(id.to_owned(), n);
        n
    }

    /// The node of an id (a call id, an entity id, or `phone:…`, `org:…`, `cell:…`).
    pub fn find(&self, id: &str) -> Result<NodeIndex, LinkError> {
        self.index.get(id).copied().ok_or_else(|| LinkError::Unknown { kind: "node", id: id.to_owned() })
    }

    /// Nodes within `depth` hops, each with its distance and the edge it was reached by.
    pub fn neighbours(
        &self,
        from: NodeIndex,
        depth: usize,
        per_node: usize,
    ) -> Vec<(usize, NodeIndex, NodeIndex, usize)> {
        let mut seen: HashSet<NodeIndex> = HashSet::from([from]);
        let mut frontier = vec![from];
        let mut out = Vec::new();
        for d in 1..=depth {
            let mut next = Vec::new();
            for &n in &frontier {
                let mut edges: Vec<_> = self.graph.edges(n).collect();
                edges.sort_by(|x, y| y.weight().weight.total_cmp(&x.weight().weight).then(x.id().cmp(&y.id())));
                for e in edges.into_iter().take(per_node) {
                    let other = if e.source() == n { e.target() } else { e.source() };
                    if seen.insert(other) {
                        out.push((d, n, other, e.id().index()));
                        next.push(other);
                    }
                }
            }
            frontier = next;
        }
        out
    }

    /// The edge between two nodes with the most weight.
    pub fn edge_between(&self, a: NodeIndex, b: NodeIndex) -> Option<&GraphEdge> {
        self.graph
            .edges(a)
            .filter(|e| e.target() == b || e.source() == b)
            .map(|e| e.weight())
            .max_by(|x, y| x.weight.total_cmp(&y.weight))
    }

    /// The cheapest path between two nodes, strong evidence and small hubs preferred: each hop
    /// costs 1 + 2 × (1 − weight) + the mean of ln(degree) of its two ends (the same ranking of
    /// paths as charging ln(degree) for each node entered, but symmetric, so the search can grow
    /// from both ends at once). At most [`PATH_SEARCH_LINKS`] links are examined: two items far
    /// apart, or joined only through hubs of thousands, are reported as such instead of the
    /// search walking the whole warehouse.
    pub fn path(&self, a: NodeIndex, b: NodeIndex) -> PathFound {
        self.path_within(a, b, PATH_SEARCH_LINKS)
    }

    /// [`LinkGraph::path`] with a budget of links to examine.
    pub fn path_within(&self, a: NodeIndex, b: NodeIndex, budget: usize) -> PathFound {
        if a == b {
            return PathFound::Path(vec![a]);
        }
        let hub = |n: NodeIndex| self.hub.get(n.index()).copied().unwrap_or(0.0);
        let mut sides = [Side::start(a), Side::start(b)];
        let (mut best, mut meet) = (f64::INFINITY, None::<(usize, NodeIndex, NodeIndex)>);
        let mut examined = 0usize;
        loop {
            let (top0, top1) = (sides[0].top(), sides[1].top());
            if top0 + top1 >= best || (top0.is_infinite() && top1.is_infinite()) {
                break;
            }
            // Grow the side whose nearest unsettled node is nearer (the smaller ball).
            let s = usize::from(top1 < top0);
            let Some((d, u)) = sides[s].pop() else { break };
            let hub_u = hub(u);
            for e in self.graph.edges(u) {
                examined += 1;
                let v = if e.source() == u { e.target() } else { e.source() };
                let c = d + 1.0 + 2.0 * (1.0 - e.weight().weight.clamp(0.0, 1.0)) + (hub_u + hub(v)) / 2.0;
                sides[s].offer(v, c, u);
                if let Some(&(dv, _)) = sides[1 - s].dist.get(&v)
                    && c + dv < best
                {
                    best = c + dv;
                    meet = Some((s, u, v));
                }
            }
            if examined > budget {
                return PathFound::GaveUp { examined };
            }
        }
        let Some((s, u, v)) = meet else { return PathFound::None };
        // The side `s` reached v from u; walk back to each end.
        let (near, far) = if s == 0 { (u, v) } else { (v, u) };
        let mut nodes = sides[0].chain(near);
        nodes.reverse();
        nodes.extend(sides[1].chain(far));
        PathFound::Path(nodes)
    }

    /// The subgraph of some calls: the calls, their callers, phones and counterparties, and every
    /// edge among them.
    pub fn subgraph(&self, calls: &[String]) -> Result<Subgraph, LinkError> {
        let mut nodes: Vec<NodeIndex> = Vec::new();
        let mut set: HashSet<NodeIndex> = HashSet::new();
        for c in calls {
            let n = self.index.get(c).copied().ok_or_else(|| LinkError::Unknown { kind: "call", id: c.clone() })?;
            if set.insert(n) {
                nodes.push(n);
            }
        }
        let call_nodes = nodes.clone();
        for &n in &call_nodes {
            for e in self.graph.edges(n) {
                let other = if e.source() == n { e.target() } else { e.source() };
                if matches!(self.graph[other].kind, NodeKind::Entity | NodeKind::Phone | NodeKind::Counterparty)
                    && set.insert(other)
                {
                    nodes.push(other);
                }
            }
        }
        let mut edges = Vec::new();
        for &n in &call_nodes {
            for e in self.graph.edges(n) {
                let other = if e.source() == n { e.target() } else { e.source() };
                let keep =
                    set.contains(&other) && (self.graph[other].kind != NodeKind::Call || n.index() < other.index());
                if keep {
                    edges.push((n, other, e.weight().clone()));
                }
            }
        }
        Ok((nodes, edges))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    fn edge(weight: f64) -> GraphEdge {
        GraphEdge { evidence: "test".into(), weight, detail: String::new() }
    }

    fn random_graph(seed: u64, nodes: usize, edges: usize) -> LinkGraph {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut g = LinkGraph::default();
        for i in 0..nodes {
            g.node(NodeKind::Call, &format!("c{i}"), String::new);
        }
        for _ in 0..edges {
            let (a, b) = (rng.random_range(0..nodes), rng.random_range(0..nodes));
            if a != b {
                g.graph.add_edge(NodeIndex::new(a), NodeIndex::new(b), edge(rng.random_range(0.0..1.0)));
            }
        }
        g.hubs();
        g
    }

    /// Cost of a path as the one-ended definition charges it: each hop 1 + 2 × (1 − weight) of
    /// its cheapest edge plus ln(degree) of the node entered.
    fn one_ended_cost(g: &LinkGraph, nodes: &[NodeIndex]) -> f64 {
        nodes
            .windows(2)
            .map(|w| {
                let best = g
                    .graph
                    .edges(w[0])
                    .filter(|e| e.target() == w[1] || e.source() == w[1])
                    .map(|e| 1.0 + 2.0 * (1.0 - e.weight().weight))
                    .fold(f64::INFINITY, f64::min);
                best + g.hub[w[1].index()]
            })
            .sum()
    }

    #[test]
    fn two_ended_search_finds_the_cheapest_path_as_a_one_ended_search_would() {
        for seed in 0..40 {
            let g = random_graph(seed, 60, 90);
            for (a, b) in [(0, 59), (3, 17), (10, 44)] {
                let (a, b) = (NodeIndex::new(a), NodeIndex::new(b));
                let reference = petgraph::algo::astar(
                    &g.graph,
                    a,
                    |n| n == b,
                    |e| 1.0 + 2.0 * (1.0 - e.weight().weight) + g.hub[e.target().index()],
                    |_| 0.0,
                );
                match (g.path(a, b), reference) {
                    (PathFound::Path(nodes), Some((cost, _))) => {
                        assert_eq!((nodes[0], *nodes.last().unwrap()), (a, b), "seed {seed}");
                        for w in nodes.windows(2) {
                            assert!(g.edge_between(w[0], w[1]).is_some(), "seed {seed}: a hop without an edge");
                        }
                        let got = one_ended_cost(&g, &nodes);
                        assert!((got - cost).abs() < 1e-9, "seed {seed}: cost {got} against {cost}");
                    }
                    (PathFound::None, None) => {}
                    (found, reference) => panic!("seed {seed}: {found:?} against {reference:?}"),
                }
            }
        }
    }

    #[test]
    fn a_search_over_budget_gives_up_and_an_island_has_no_path() {
        let g = random_graph(7, 2_000, 8_000);
        let (a, b) = (NodeIndex::new(0), NodeIndex::new(1_999));
        assert!(matches!(g.path(a, b), PathFound::Path(_)));
        assert!(matches!(g.path_within(a, b, 50), PathFound::GaveUp { examined } if examined > 50));
        let mut g = g;
        let island = g.node(NodeKind::Place, "cell:island", String::new);
        g.hubs();
        assert_eq!(g.path(a, island), PathFound::None);
        assert_eq!(g.path(a, a), PathFound::Path(vec![a]));
    }
}
