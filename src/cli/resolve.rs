//! `hotline resolve`, `hotline resolve explain` and `hotline eval resolve`: argument parsing and printing.

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use super::table::{Align, write_table};
use crate::eval::resolve::{PairwiseScore, error_causes, evaluate_warehouse};
use crate::resolve::compare::DEFS;
use crate::resolve::{Explanation, ResolveOptions, ResolveSummary, Stage, explain, resolve};
use crate::warehouse::Warehouse;

/// `hotline resolve`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ResolveArgs {
    #[command(subcommand)]
    command: Option<ResolveCommand>,
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
    /// Retrain and compare everything again (entity ids are still carried over).
    #[arg(long)]
    full: bool,
    /// Match weight in bits a pair needs to be linked (default 6: probability 0.985).
    #[arg(long)]
    threshold: Option<f64>,
}

#[derive(Debug, Subcommand)]
enum ResolveCommand {
    /// Why two calls are (or are not) the same person: every comparison, its weight, and the total.
    Explain {
        /// First call id.
        call_a: String,
        /// Second call id.
        call_b: String,
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
}

/// `hotline eval`.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Pairwise precision, recall and F1 of caller_entities against generator truth, beside the
    /// naive "same phone" baseline.
    Resolve {
        /// The generator's truth folder (holds call_person.csv).
        #[arg(long)]
        truth: PathBuf,
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// For each planted group of truth/rings.csv: the rank of the best-matching lead, its precision and recall.
    Leads {
        /// The generator's truth folder (holds rings.csv).
        #[arg(long)]
        truth: PathBuf,
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs `hotline resolve [explain]`.
pub fn run_resolve(args: ResolveArgs) -> Result<ExitCode> {
    if let Some(ResolveCommand::Explain { call_a, call_b, warehouse }) = args.command {
        let explanation = explain(&warehouse, &call_a, &call_b).context("cannot explain")?;
        print_explanation(&mut io::stdout().lock(), &explanation)?;
        return Ok(ExitCode::SUCCESS);
    }
    let warehouse = Warehouse::open(&args.warehouse)?;
    let options = ResolveOptions { full: args.full, threshold: args.threshold, ..ResolveOptions::default() };
    let summary = run_with_spinner(&warehouse, &options)?;
    print_summary(&mut io::stdout().lock(), &summary)?;
    Ok(ExitCode::SUCCESS)
}

/// Resolves with a spinner naming the stage.
pub fn run_with_spinner(warehouse: &Warehouse, options: &ResolveOptions) -> Result<ResolveSummary> {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("resolve: {msg} {spinner} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let summary = resolve(warehouse, options, &mut |stage: Stage| bar.set_message(stage.describe()))
        .context("resolve failed; nothing was committed")?;
    bar.finish_and_clear();
    Ok(summary)
}

/// Prints what a run did.
pub fn print_summary<W: Write>(out: &mut W, s: &ResolveSummary) -> io::Result<()> {
    let stages: Vec<String> = s.stage_seconds.iter().map(|(stage, t)| format!("{} {t:.1}", stage.short())).collect();
    writeln!(
        out,
        "resolve ({}) committed snapshot {} in {:.1} s ({} s)",
        s.mode,
        s.snapshot,
        s.seconds,
        stages.join(", ")
    )?;
    let rows = vec![
        vec!["calls".to_owned(), s.calls.to_string()],
        vec!["new calls".to_owned(), s.new_calls.to_string()],
        vec!["calls read (new ones, the blocks and entities they touch)".to_owned(), s.read_calls.to_string()],
        vec!["profiles (same phone, name, ID)".to_owned(), s.profiles.to_string()],
        vec!["candidate pairs compared".to_owned(), s.candidate_pairs.to_string()],
        vec![format!("links made (≥ {:.1} bits)", s.threshold), s.links.to_string()],
        vec!["links refused: contradicting ID, name or sex".to_owned(), s.refused_conflict.to_string()],
        vec!["links refused: one weak link between large clusters".to_owned(), s.refused_chain.to_string()],
        vec!["entities".to_owned(), s.entities.to_string()],
        vec!["earlier entities merged into another".to_owned(), s.merged_entities.to_string()],
    ];
    write_table(out, &["", "count"], &[Align::Left, Align::Right], &rows, 60)
}

fn format_time(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros)
        .map(|t| (t + chrono::Duration::hours(8)).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// Prints an explanation as a waterfall: each comparison's weight as a bar from the running total.
pub fn print_explanation<W: Write>(out: &mut W, e: &Explanation) -> io::Result<()> {
    let dash = || "-".to_owned();
    let rows: Vec<Vec<String>> = e
        .calls
        .iter()
        .map(|c| {
            vec![
                c.call_id.clone(),
                c.platform.clone(),
                format_time(c.received_at),
                c.phone_key.clone().map_or_else(dash, |k| format!("{k}…")),
                c.name_masked.clone().unwrap_or_else(dash),
                if c.has_id { "yes".into() } else { dash() },
                c.district.clone().unwrap_or_else(dash),
                c.category.clone(),
                c.profile_calls.to_string(),
                c.entity_id.clone().unwrap_or_else(dash),
            ]
        })
        .collect();
    write_table(
        out,
        &["call", "platform", "received", "phone key", "name", "ID", "district", "category", "profile calls", "entity"],
        &[Align::Left; 10],
        &rows,
        40,
    )?;
    writeln!(out)?;
    if e.same_profile {
        writeln!(out, "same phone, name and ID: one profile, the same person by construction")?;
        return Ok(());
    }
    let scale = 2.0; // characters per bit
    let mut running = e.prior_bits;
    let mut lines = vec![("prior".to_owned(), "two profiles drawn at random".to_owned(), None, e.prior_bits, running)];
    for t in &e.terms {
        running += t.bits;
        lines.push((
            DEFS[t.comparison].name.to_owned(),
            DEFS[t.comparison].levels[usize::from(t.level)].to_owned(),
            Some((t.m, t.u)),
            t.bits,
            running,
        ));
    }
    let low = lines.iter().map(|l| l.4.min(l.4 - l.3)).fold(0.0f64, f64::min);
    let high = lines.iter().map(|l| l.4.max(l.4 - l.3)).fold(0.0f64, f64::max);
    let column = |bits: f64| ((bits - low) * scale).round() as usize;
    let width = column(high) + 1;
    let mut table = Vec::new();
    for (name, level, mu, bits, total) in &lines {
        let (from, to) = (column(total - bits), column(*total));
        let (lo, hi) = (from.min(to), from.max(to));
        let mut bar: Vec<char> = vec![' '; width];
        for cell in bar.iter_mut().take(hi.max(lo + 1)).skip(lo) {
            *cell = if *bits >= 0.0 { '█' } else { '░' };
        }
        bar[column(0.0).min(width - 1)] = '│';
        table.push(vec![
            name.clone(),
            level.clone(),
            mu.map_or_else(String::new, |(m, _)| format!("{m:.3}")),
            mu.map_or_else(String::new, |(_, u)| format!("{u:.2e}")),
            format!("{bits:+.2}"),
            format!("{total:+.2}"),
            bar.into_iter().collect(),
        ]);
    }
    write_table(
        out,
        &["comparison", "level", "m", "u", "bits", "total", "waterfall (│ = 0 bits, █ for, ░ against)"],
        &[Align::Left, Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Left],
        &table,
        120,
    )?;
    writeln!(
        out,
        "\nmatch weight {:+.2} bits → probability {:.6}; {}",
        e.total_bits,
        e.probability,
        match (&e.calls[0].entity_id, &e.calls[1].entity_id) {
            (Some(a), Some(b)) if a == b => format!("resolved as one person ({a})"),
            (Some(a), Some(b)) => format!("resolved as two people ({a}, {b})"),
            _ => "not resolved yet".to_owned(),
        }
    )
}

/// Runs `hotline eval …`.
pub fn run_eval(command: EvalCommand) -> Result<ExitCode> {
    let (truth, warehouse, json) = match command {
        EvalCommand::Resolve { truth, warehouse, json } => (truth, warehouse, json),
        EvalCommand::Leads { truth, warehouse, json } => return super::link::run_eval_leads(&truth, &warehouse, json),
    };
    let (resolved, baseline) = evaluate_warehouse(&warehouse, &truth)?;
    let causes = error_causes(&warehouse, &truth)?;
    let mut out = io::stdout().lock();
    if json {
        let row = |s: &PairwiseScore| {
            serde_json::json!({
                "precision": s.precision(), "recall": s.recall(), "f1": s.f1(), "clusters": s.clusters,
                "predicted_pairs": s.predicted_pairs, "true_pairs": s.true_pairs,
                "true_positive_pairs": s.true_positive_pairs,
            })
        };
        let value = serde_json::json!({
            "calls": resolved.items, "people": resolved.people,
            "resolve": row(&resolved), "same_phone_baseline": row(&baseline),
            "missed_pairs_by_cause": causes.missed, "wrong_pairs_by_cause": causes.wrong,
        });
        writeln!(out, "{value}")?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{} calls of {} people (truth), pairwise:", resolved.items, resolved.people)?;
    print_scores(&mut out, &resolved, &baseline)?;
    writeln!(out, "true pairs: {}", resolved.true_pairs)?;
    for (title, list) in [("missed pairs by cause", &causes.missed), ("wrong pairs by cause", &causes.wrong)] {
        let total: u64 = list.values().sum();
        writeln!(out, "\n{title} ({total}):")?;
        let mut rows: Vec<(&String, &u64)> = list.iter().collect();
        rows.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(cause, n)| {
                vec![(*cause).clone(), n.to_string(), format!("{:.1}%", **n as f64 * 100.0 / total.max(1) as f64)]
            })
            .collect();
        write_table(&mut out, &["cause", "pairs", "share"], &[Align::Left, Align::Right, Align::Right], &table, 72)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Prints resolution's pairwise score beside the same-phone baseline's.
pub fn print_scores<W: Write>(out: &mut W, resolved: &PairwiseScore, baseline: &PairwiseScore) -> io::Result<()> {
    let row = |name: &str, s: &PairwiseScore| {
        vec![
            name.to_owned(),
            format!("{:.4}", s.precision()),
            format!("{:.4}", s.recall()),
            format!("{:.4}", s.f1()),
            s.clusters.to_string(),
            s.predicted_pairs.to_string(),
        ]
    };
    write_table(
        out,
        &["method", "precision", "recall", "F1", "clusters", "pairs linked"],
        &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Right, Align::Right],
        &[row("hotline resolve", resolved), row("same phone (baseline)", baseline)],
        40,
    )
}
