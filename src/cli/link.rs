//! `hotline link`, `hotline leads`, `hotline graph …` and `hotline eval leads`: argument parsing and printing.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use super::table::{Align, write_table};
use crate::eval::leads::{LeadsEvaluation, evaluate_leads};
use crate::link::expand::{Expansion, expand};
use crate::link::explore::{LeadRecord, LinkGraph, PathFound, read_leads};
use crate::link::export::{GraphFormat, write_graph};
use crate::link::leads::WORTH_A_LOOK;
use crate::link::{LinkSummary, Stage, link, session};
use crate::warehouse::Warehouse;

/// `hotline link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
}

/// Output formats of `hotline leads`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LeadsFormat {
    /// A table for the terminal, with the evidence under each lead.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line, as the data contract specifies.
    Jsonl,
}

/// `hotline leads`.
#[derive(Debug, Args)]
pub struct LeadsArgs {
    /// How many leads, best first.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = LeadsFormat::Table)]
    format: LeadsFormat,
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
}

/// `hotline graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    #[command(subcommand)]
    command: GraphCommand,
    /// Warehouse folder.
    #[arg(long, global = true, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
}

#[derive(Debug, Subcommand)]
enum GraphCommand {
    /// What a call, entity, phone (`phone:KEY`), counterparty (`org:KEY`) or place (`cell:R:C`) is linked to.
    Neighbors {
        /// The id.
        id: String,
        /// Hops.
        #[arg(long, default_value_t = 1)]
        depth: usize,
        /// Edges followed from each node, strongest first.
        #[arg(long, default_value_t = 15)]
        per_node: usize,
    },
    /// The strongest chain of evidence between two ids, hop by hop.
    Path {
        /// From.
        a: String,
        /// To.
        b: String,
    },
    /// Grow a series from a few calls, or from a lead (an organised group or a person of concern),
    /// step by step, with the reason each call joins.
    Expand {
        /// Seed call ids.
        #[arg(long = "from", num_args = 1.., required_unless_present = "lead", conflicts_with = "lead")]
        from: Vec<String>,
        /// Start from the calls of the lead of this rank (1 is the best) or id (`L0001`).
        #[arg(long)]
        lead: Option<String>,
        /// Steps.
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Write a lead's or an expansion's subgraph for Gephi, yEd, Cytoscape or i2-style tools.
    Export {
        /// The lead of this rank (1 is the best) or id (`L0001`).
        #[arg(long, conflicts_with = "from")]
        lead: Option<String>,
        /// Seed calls: export their expansion.
        #[arg(long = "from", num_args = 1..)]
        from: Vec<String>,
        /// Expansion steps (with --from).
        #[arg(long, default_value_t = 3)]
        steps: usize,
        /// Format.
        #[arg(long, value_enum)]
        format: GraphFormat,
        /// File to write (standard output when absent).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// Runs `hotline link`.
pub fn run_link(args: LinkArgs) -> Result<ExitCode> {
    let warehouse = Warehouse::open(&args.warehouse)?;
    let summary = link_with_spinner(&warehouse)?;
    let mut out = io::stdout().lock();
    print_link_summary(&mut out, &summary)?;
    let session = session(&args.warehouse)?;
    let leads = read_leads(&session, Some(5))?;
    print_leads(&mut out, &leads)?;
    Ok(ExitCode::SUCCESS)
}

/// Links with a spinner naming the stage.
pub fn link_with_spinner(warehouse: &Warehouse) -> Result<LinkSummary> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("link: {msg} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let summary = link(warehouse, &mut |stage: Stage| bar.set_message(stage.describe()))
        .context("link failed; nothing was committed")?;
    bar.finish_and_clear();
    Ok(summary)
}

/// Prints what a link run did.
pub fn print_link_summary<W: Write>(out: &mut W, s: &LinkSummary) -> io::Result<()> {
    let stages: Vec<String> = s.stage_seconds.iter().map(|(stage, t)| format!("{} {t:.1}", stage.short())).collect();
    writeln!(out, "link committed snapshot {} in {:.1} s ({} s)", s.snapshot, s.seconds, stages.join(", "))?;
    let mut rows: Vec<Vec<String>> = vec![vec!["calls".into(), s.calls.to_string()]];
    for (kind, n) in &s.links_by_kind {
        rows.push(vec![format!("evidence: {kind}"), n.to_string()]);
    }
    rows.push(vec!["ties between callers".into(), s.ties.to_string()]);
    rows.push(vec!["leads".into(), s.leads.len().to_string()]);
    rows.push(vec![format!("leads worth a look (score ≥ {WORTH_A_LOOK:.0} bits)"), s.worth_a_look.to_string()]);
    write_table(out, &["", "count"], &[Align::Left, Align::Right], &rows, 100)
}

/// Prints leads as a table with their evidence.
pub fn print_leads<W: Write>(out: &mut W, leads: &[LeadRecord]) -> io::Result<()> {
    if leads.is_empty() {
        return writeln!(out, "no leads");
    }
    for lead in leads {
        let mark = if lead.worth_a_look { "worth a look" } else { "below the threshold" };
        writeln!(
            out,
            "\n#{} {}  score {:.0} bits ({mark})  {} calls, {} callers",
            lead.rank,
            lead.lead_id,
            lead.score,
            lead.call_ids.len(),
            lead.callers
        )?;
        for sentence in &lead.evidence {
            for (i, line) in wrap(sentence, 110).iter().enumerate() {
                writeln!(out, "{}{line}", if i == 0 { "  - " } else { "    " })?;
            }
        }
    }
    Ok(())
}

/// Splits text into lines of at most `width` terminal columns (CJK characters count two),
/// breaking at spaces where it can.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
        if candidate.width() <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        // A word wider than the line is cut by columns.
        let mut piece = String::new();
        for c in word.chars() {
            let next = format!("{piece}{c}");
            if next.width() > width {
                lines.push(std::mem::take(&mut piece));
                piece.push(c);
            } else {
                piece = next;
            }
        }
        line = piece;
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Runs `hotline leads`.
pub fn run_leads(args: LeadsArgs) -> Result<ExitCode> {
    let session = session(&args.warehouse)?;
    let leads = read_leads(&session, Some(args.top))?;
    let mut out = io::stdout().lock();
    match args.format {
        LeadsFormat::Table => print_leads(&mut out, &leads)?,
        LeadsFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&leads)?)?,
        LeadsFormat::Jsonl => {
            for lead in &leads {
                let row = serde_json::json!({
                    "lead_id": lead.lead_id, "score": lead.score, "call_ids": lead.call_ids,
                    "entity_ids": lead.entity_ids, "evidence": lead.evidence,
                });
                writeln!(out, "{row}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `hotline graph …`.
pub fn run_graph(args: GraphArgs) -> Result<ExitCode> {
    let session = session(&args.warehouse)?;
    let mut out = io::stdout().lock();
    let load = || LinkGraph::load(&session);
    match args.command {
        GraphCommand::Neighbors { id, depth, per_node } => {
            let graph = load()?;
            let from = graph.find(&id)?;
            let found = graph.neighbours(from, depth.max(1), per_node.max(1));
            let node = &graph.graph[from];
            writeln!(
                out,
                "{} {} ({}): {} node(s) within {depth} hop(s)",
                node.kind.name(),
                node.id,
                node.label,
                found.len()
            )?;
            let rows: Vec<Vec<String>> = found
                .iter()
                .map(|&(d, via, n, edge)| {
                    let e = &graph.graph.raw_edges()[edge].weight;
                    let x = &graph.graph[n];
                    vec![
                        d.to_string(),
                        x.kind.name().to_owned(),
                        x.id.clone(),
                        x.label.clone(),
                        format!("{} {}", e.evidence, e.detail).trim().to_owned(),
                        graph.graph[via].id.clone(),
                    ]
                })
                .collect();
            let align = [Align::Right, Align::Left, Align::Left, Align::Left, Align::Left, Align::Left];
            write_table(&mut out, &["hop", "kind", "id", "what", "evidence", "from"], &align, &rows, 36)?;
        }
        GraphCommand::Path { a, b } => {
            let graph = load()?;
            let (from, to) = (graph.find(&a)?, graph.find(&b)?);
            let path = match graph.path(from, to) {
                PathFound::Path(path) => path,
                PathFound::None => {
                    writeln!(out, "no chain of evidence links {a} and {b}")?;
                    return Ok(ExitCode::from(1));
                }
                PathFound::GaveUp { examined } => {
                    writeln!(
                        out,
                        "no chain of evidence found between {a} and {b} within {examined} links examined \
                         (they are far apart or joined only through large hubs)"
                    )?;
                    return Ok(ExitCode::from(1));
                }
            };
            writeln!(out, "{} hop(s) from {a} to {b}:", path.len() - 1)?;
            for pair in path.windows(2) {
                let (x, y) = (&graph.graph[pair[0]], &graph.graph[pair[1]]);
                let e = graph.edge_between(pair[0], pair[1]);
                let evidence = e.map(|e| format!("{} {}", e.evidence, e.detail).trim().to_owned()).unwrap_or_default();
                writeln!(
                    out,
                    "  {} ({}) —[{}]→ {} {} ({})",
                    x.id,
                    x.kind.name(),
                    evidence,
                    y.kind.name(),
                    y.id,
                    y.label
                )?;
            }
        }
        GraphCommand::Expand { from, lead, steps, json } => {
            let seeds = match lead {
                Some(lead) => lead_calls(&session, &lead)?.0,
                None => from,
            };
            let expansion = expand(&args.warehouse, &seeds, steps)?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&expansion)?)?;
            } else {
                print_expansion(&mut out, &expansion)?;
            }
        }
        GraphCommand::Export { lead, from, steps, format, out: path } => {
            let (calls, name) = if let Some(lead) = lead {
                lead_calls(&session, &lead)?
            } else if !from.is_empty() {
                (
                    expand(&args.warehouse, &from, steps)?.calls_after(steps),
                    format!("expansion from {}", from.join(" ")),
                )
            } else {
                bail!("say which subgraph: --lead N or --from CALL_ID …");
            };
            let graph = load()?;
            let (nodes, edges) = graph.subgraph(&calls)?;
            match path {
                Some(path) => {
                    write_file(&path, |w| write_graph(w, &graph, &nodes, &edges, format, &name))?;
                    writeln!(out, "wrote {} nodes and {} edges to {}", nodes.len(), edges.len(), path.display())?;
                }
                None => write_graph(&mut out, &graph, &nodes, &edges, format, &name)?,
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The calls and id of the lead of a rank or id.
fn lead_calls(session: &crate::sql::Session, lead: &str) -> Result<(Vec<String>, String)> {
    let leads = read_leads(session, None)?;
    let found = leads
        .iter()
        .find(|l| l.lead_id == lead || l.rank.to_string() == lead)
        .with_context(|| format!("no lead {lead} (there are {})", leads.len()))?;
    Ok((found.call_ids.clone(), found.lead_id.clone()))
}

fn write_file(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> io::Result<()>) -> Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut writer = BufWriter::new(file);
    write(&mut writer).with_context(|| format!("cannot write {}", path.display()))?;
    writer.flush().with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Prints an expansion step by step.
pub fn print_expansion<W: Write>(out: &mut W, expansion: &Expansion) -> io::Result<()> {
    let seeds = &expansion.seeds;
    if seeds.len() <= 4 {
        writeln!(out, "series from {}", seeds.join(", "))?;
    } else {
        writeln!(out, "series from {} calls ({}, … {})", seeds.len(), seeds[..3].join(", "), seeds[seeds.len() - 1])?;
    }
    let mut total = expansion.seeds.len();
    for (i, step) in expansion.steps.iter().enumerate() {
        total += step.len();
        writeln!(out, "step {}: {} call(s) join ({} in the series)", i + 1, step.len(), total)?;
        for joined in step {
            writeln!(out, "  + {}  {}", joined.call_id, joined.reason)?;
        }
    }
    Ok(())
}

/// Runs `hotline eval leads`.
pub fn run_eval_leads(truth: &Path, warehouse: &Path, json: bool) -> Result<ExitCode> {
    let evaluation = evaluate_leads(warehouse, truth)?;
    let mut out = io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string(&evaluation)?)?;
    } else {
        print_evaluation(&mut out, &evaluation)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints the evaluation of leads against planted groups.
pub fn print_evaluation<W: Write>(out: &mut W, e: &LeadsEvaluation) -> io::Result<()> {
    let rows: Vec<Vec<String>> = e
        .groups
        .iter()
        .chain(&e.persons_of_concern)
        .map(|g| {
            vec![
                g.ring_id.clone(),
                g.kind.clone(),
                g.calls.to_string(),
                g.rank.map_or("-".into(), |r| r.to_string()),
                g.score.map_or("-".into(), |s| format!("{s:.0}")),
                format!("{:.3}", g.precision),
                format!("{:.3}", g.recall),
                if g.found { "yes".into() } else { "no".into() },
            ]
        })
        .collect();
    let align =
        [Align::Left, Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right, Align::Left];
    let header = ["group", "kind", "calls", "lead rank", "score", "precision", "recall", "found"];
    write_table(out, &header, &align, &rows, 30)?;
    writeln!(
        out,
        "{} leads; {} worth a look (≥ {WORTH_A_LOOK:.0} bits), {} of them matching no planted group or repeat caller",
        e.leads, e.worth_a_look, e.unplanted_worth_a_look
    )?;
    let (g, c) = (&e.recall_at_10, &e.concerns_at_10);
    writeln!(
        out,
        "found (top 10, precision and recall ≥ 0.8): {} of {} organised groups, {} of {} persons of concern; \
         leads worth a look are {:.0}% planted calls on average",
        g.found,
        g.groups,
        c.found,
        c.groups,
        100.0 * e.worth_a_look_precision
    )?;
    let (g, c) = (&e.recall_at_10_in_kind, &e.concerns_at_10_in_kind);
    writeln!(
        out,
        "found within their kind (top 10 organised groups, top 10 persons of concern): {} of {} groups, {} of {} persons",
        g.found, g.groups, c.found, c.groups
    )?;
    if !e.recall_by_tie.is_empty() {
        let ties: Vec<String> = e.recall_by_tie.iter().map(|(t, r)| format!("{t} {}/{}", r.found, r.groups)).collect();
        writeln!(out, "by tie: {}", ties.join(", "))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wrap;
    use unicode_width::UnicodeWidthStr;

    #[test]
    fn wrapped_lines_fit_the_width_counting_cjk_as_two() {
        let text =
            "4 caller(s) (8 resolved entities) filed 17 医美纠纷 call(s) against 10 organisations in 10 district(s)";
        let lines = wrap(text, 40);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.width() <= 40), "{lines:?}");
        assert_eq!(lines.join(" "), text);
        // A word wider than the line is cut, nothing is lost.
        let long = "医美纠纷".repeat(30);
        let cut = wrap(&long, 25);
        assert!(cut.iter().all(|l| l.width() <= 25));
        assert_eq!(cut.concat(), long);
    }
}
