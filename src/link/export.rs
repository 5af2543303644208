//! Writes a subgraph for Gephi, yEd, Cytoscape or i2-style tools: GraphML, GEXF 1.3, Graphviz DOT
//! and JSON (node-link).

use std::io::{self, Write};

use petgraph::graph::NodeIndex;
use serde_json::json;

use super::explore::{GraphEdge, LinkGraph};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    /// GraphML (yEd, Gephi, networkx).
    Graphml,
    /// GEXF 1.3 (Gephi).
    Gexf,
    /// Graphviz DOT.
    Dot,
    /// Node-link JSON (d3, networkx `node_link_graph`).
    Json,
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn dot(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', " ")
}

/// Writes the nodes and edges in a format.
pub fn write_graph<W: Write>(
    out: &mut W,
    graph: &LinkGraph,
    nodes: &[NodeIndex],
    edges: &[(NodeIndex, NodeIndex, GraphEdge)],
    format: GraphFormat,
    name: &str,
) -> io::Result<()> {
    let node = |n: NodeIndex| &graph.graph[n];
    match format {
        GraphFormat::Graphml => {
            writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
            writeln!(out, r#"<graphml xmlns="http://graphml.graphdrawing.org/xmlns">"#)?;
            for (id, on, ty) in [
                ("kind", "node", "string"),
                ("label", "node", "string"),
                ("evidence", "edge", "string"),
                ("weight", "edge", "double"),
                ("detail", "edge", "string"),
            ] {
                writeln!(out, r#"  <key id="{id}" for="{on}" attr.name="{id}" attr.type="{ty}"/>"#)?;
            }
            writeln!(out, r#"  <graph id="{}" edgedefault="undirected">"#, xml(name))?;
            for &n in nodes {
                let x = node(n);
                writeln!(
                    out,
                    r#"    <node id="{}"><data key="kind">{}</data><data key="label">{}</data></node>"#,
                    xml(&x.id),
                    x.kind.name(),
                    xml(&x.label)
                )?;
            }
            for (a, b, e) in edges {
                writeln!(
                    out,
                    r#"    <edge source="{}" target="{}"><data key="evidence">{}</data><data key="weight">{}</data><data key="detail">{}</data></edge>"#,
                    xml(&node(*a).id),
                    xml(&node(*b).id),
                    xml(&e.evidence),
                    e.weight,
                    xml(&e.detail)
                )?;
            }
            writeln!(out, "  </graph>\n</graphml>")
        }
        GraphFormat::Gexf => {
            writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
            writeln!(out, r#"<gexf xmlns="http://gexf.net/1.3" version="1.3">"#)?;
            writeln!(out, r#"  <meta><creator>hotline</creator><description>{}</description></meta>"#, xml(name))?;
            writeln!(out, r#"  <graph defaultedgetype="undirected" mode="static">"#)?;
            writeln!(
                out,
                r#"    <attributes class="node"><attribute id="kind" title="kind" type="string"/></attributes>"#
            )?;
            writeln!(
                out,
                r#"    <attributes class="edge"><attribute id="evidence" title="evidence" type="string"/><attribute id="detail" title="detail" type="string"/></attributes>"#
            )?;
            writeln!(out, "    <nodes>")?;
            for &n in nodes {
                let x = node(n);
                writeln!(
                    out,
                    r#"      <node id="{}" label="{}"><attvalues><attvalue for="kind" value="{}"/></attvalues></node>"#,
                    xml(&x.id),
                    xml(&x.label),
                    x.kind.name()
                )?;
            }
            writeln!(out, "    </nodes>\n    <edges>")?;
            for (i, (a, b, e)) in edges.iter().enumerate() {
                writeln!(
                    out,
                    r#"      <edge id="{i}" source="{}" target="{}" weight="{}" label="{}"><attvalues><attvalue for="evidence" value="{}"/><attvalue for="detail" value="{}"/></attvalues></edge>"#,
                    xml(&node(*a).id),
                    xml(&node(*b).id),
                    e.weight,
                    xml(&e.evidence),
                    xml(&e.evidence),
                    xml(&e.detail)
                )?;
            }
            writeln!(out, "    </edges>\n  </graph>\n</gexf>")
        }
        GraphFormat::Dot => {
            writeln!(out, "graph \"{}\" {{", dot(name))?;
            for &n in nodes {
                let x = node(n);
                writeln!(out, "  \"{}\" [label=\"{}\", kind=\"{}\"];", dot(&x.id), dot(&x.label), x.kind.name())?;
            }
            for (a, b, e) in edges {
                writeln!(
                    out,
                    "  \"{}\" -- \"{}\" [label=\"{}\", weight={}, detail=\"{}\"];",
                    dot(&node(*a).id),
                    dot(&node(*b).id),
                    dot(&e.evidence),
                    e.weight,
                    dot(&e.detail)
                )?;
            }
            writeln!(out, "}}")
        }
        GraphFormat::Json => {
            let value = json!({
                "directed": false,
                "multigraph": true,
                "graph": {"name": name},
                "nodes": nodes.iter().map(|&n| {
                    let x = node(n);
                    json!({"id": x.id, "kind": x.kind.name(), "label": x.label})
                }).collect::<Vec<_>>(),
                "links": edges.iter().map(|(a, b, e)| json!({
                    "source": node(*a).id, "target": node(*b).id,
                    "evidence": e.evidence, "weight": e.weight, "detail": e.detail,
                })).collect::<Vec<_>>(),
            });
            writeln!(out, "{value}")
        }
    }
}
