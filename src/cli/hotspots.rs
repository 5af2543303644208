//! `hotline hotspots`: argument parsing, the terminal table, and the GeoJSON and CSV files.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::Args;
use serde_json::json;

use super::table::{Align, write_table};
use crate::hotspot::entity::EntityHotspot;
use crate::hotspot::stats::p_two_sided;
use crate::hotspot::{Bin, Grid, HotspotReport, HotspotSettings, find_hotspots, hotspots};
use crate::warehouse::Warehouse;

/// `hotline hotspots`.
#[derive(Debug, Args)]
pub struct HotspotArgs {
    /// Category codes or prefixes (`DISPUTE.*`); all categories when absent.
    #[arg(long = "category", num_args = 1..)]
    categories: Vec<String>,
    /// Cells: squares of a side in metres (`250m`, `500m` …) or H3 hexagons of a resolution (`h3:9`).
    /// 250 m squares tell one site from its busy surroundings; the neighbourhood spans 750 m.
    #[arg(long, default_value = "250m")]
    cell: Grid,
    /// Time bin (a year of data gives 12 months; weeks suit busy categories and long histories).
    #[arg(long, value_enum, default_value_t = Bin::Month)]
    bin: Bin,
    /// First day (inclusive).
    #[arg(long)]
    from: Option<NaiveDate>,
    /// Last day (inclusive).
    #[arg(long)]
    to: Option<NaiveDate>,
    /// Folder for hotspots.geojson and hotspots.csv.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Rows to print.
    #[arg(long, default_value_t = 15)]
    top: usize,
    /// Print and write the --out files without committing hotspot_cells and entity_hotspots
    /// (what-if runs, and notebooks on a shared warehouse, write nothing to it).
    #[arg(long)]
    no_commit: bool,
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
}

/// Runs `hotline hotspots`.
pub fn run_hotspots(args: HotspotArgs) -> Result<ExitCode> {
    let settings = HotspotSettings {
        categories: args.categories.clone(),
        grid: args.cell,
        bin: args.bin,
        from: args.from,
        to: args.to,
        ..HotspotSettings::default()
    };
    let warehouse = Warehouse::open(&args.warehouse)?;
    let report = if args.no_commit {
        let options = crate::sql::SessionOptions { audit: false, ..Default::default() };
        let session = crate::sql::open_session(warehouse.dir(), options)?;
        find_hotspots(&session, &settings).context("hotspots failed")?
    } else {
        hotspots(&warehouse, &settings).context("hotspots failed; nothing was committed")?
    };
    let mut out = io::stdout().lock();
    print_hotspots(&mut out, &report, args.top)?;
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        write_atomically(&dir.join("hotspots.geojson"), |w| write_geojson(w, &report))?;
        write_atomically(&dir.join("hotspots.csv"), |w| write_csv(w, &report))?;
        writeln!(out, "wrote {0}/hotspots.geojson and {0}/hotspots.csv", dir.display())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn write_atomically(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let temporary = path.with_extension("partial");
    let file = File::create(&temporary).with_context(|| format!("cannot create {}", temporary.display()))?;
    let mut writer = BufWriter::new(file);
    write(&mut writer)?;
    writer.flush()?;
    std::fs::rename(&temporary, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Prints the hot cells, ranked, with where they are.
pub fn print_hotspots<W: Write>(out: &mut W, report: &HotspotReport, top: usize) -> io::Result<()> {
    let hot = report.cells.iter().filter(|c| c.result.category.is_hot()).count();
    writeln!(
        out,
        "{} calls in {} cells × {} bins from {}; {hot} hot cells; {}",
        report.calls,
        report.cells.len(),
        report.bin_starts.len(),
        report.bin_starts.first().map(|d| d.to_string()).unwrap_or_default(),
        if report.snapshot == 0 {
            "not committed".to_owned()
        } else {
            format!("committed snapshot {}", report.snapshot)
        }
    )?;
    let rows: Vec<Vec<String>> = report
        .cells
        .iter()
        .filter(|c| c.result.category.is_hot())
        .take(top)
        .map(|c| {
            let r = &c.result;
            vec![
                r.category.name().to_owned(),
                c.district.clone(),
                c.top_address.clone(),
                c.top_counterparty.clone(),
                format!("{:.0}", r.calls),
                format!("{}/{}", r.signs.iter().filter(|&&s| s > 0).count(), r.signs.len()),
                format!("{:.1}", r.z.last().copied().unwrap_or(0.0)),
                format!("{:+.2}", r.trend.tau),
            ]
        })
        .collect();
    let align =
        [Align::Left, Align::Left, Align::Left, Align::Left, Align::Right, Align::Right, Align::Right, Align::Right];
    write_table(
        out,
        &["category", "district", "most frequent address", "counterparty", "calls", "hot bins", "last z", "trend"],
        &align,
        &rows,
        22,
    )?;
    writeln!(out, "\ncounterparties and addresses disputed by the most distinct callers:")?;
    let rows: Vec<Vec<String>> = report
        .entities
        .iter()
        .take(top)
        .map(|e| {
            let mut row = e.cells();
            row.push(format!("{} ({:+.2})", e.trend_word(), e.trend.tau));
            row
        })
        .collect();
    let align = [Align::Left, Align::Left, Align::Left, Align::Left, Align::Right, Align::Right, Align::Left];
    let mut header = EntityHotspot::COLUMNS.to_vec();
    header.push("trend");
    write_table(out, &header, &align, &rows, 30)
}

/// A GeoJSON FeatureCollection of the cells, ranked, with category, scores, trend and labels.
pub fn write_geojson<W: Write>(out: &mut W, report: &HotspotReport) -> Result<()> {
    let features: Vec<serde_json::Value> = report
        .cells
        .iter()
        .enumerate()
        .map(|(rank, c)| {
            let r = &c.result;
            let ring: Vec<[f64; 2]> = c.outline.iter().map(|(x, y)| [*x, *y]).collect();
            let last = r.z.last().copied().unwrap_or(0.0);
            json!({
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {
                    "rank": rank + 1, "cell": c.id, "category": r.category.name(), "hot": r.category.is_hot(),
                    "district": c.district, "grid_ids": c.grid_ids, "top_address": c.top_address,
                    "top_counterparty": c.top_counterparty, "calls": r.calls,
                    "hot_bins": r.signs.iter().filter(|&&s| s > 0).count(),
                    "cold_bins": r.signs.iter().filter(|&&s| s < 0).count(), "bins": r.signs.len(),
                    "last_z": last, "last_p": p_two_sided(last),
                    "trend_tau": r.trend.tau, "trend_z": r.trend.z, "trend_p": r.trend.p,
                },
            })
        })
        .collect();
    serde_json::to_writer(&mut *out, &json!({"type": "FeatureCollection", "features": features}))?;
    writeln!(out)?;
    Ok(())
}

/// The same as CSV.
pub fn write_csv<W: Write>(out: &mut W, report: &HotspotReport) -> Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer.write_record([
        "rank",
        "cell",
        "category",
        "district",
        "grid_ids",
        "top_address",
        "top_counterparty",
        "calls",
        "hot_bins",
        "bins",
        "last_z",
        "trend_tau",
        "trend_z",
        "trend_p",
        "lon",
        "lat",
    ])?;
    for (rank, c) in report.cells.iter().enumerate() {
        let r = &c.result;
        writer.write_record([
            (rank + 1).to_string(),
            c.id.clone(),
            r.category.name().to_owned(),
            c.district.clone(),
            c.grid_ids.join(" "),
            c.top_address.clone(),
            c.top_counterparty.clone(),
            format!("{}", r.calls),
            r.signs.iter().filter(|&&s| s > 0).count().to_string(),
            r.signs.len().to_string(),
            format!("{:.6}", r.z.last().copied().unwrap_or(0.0)),
            format!("{:.6}", r.trend.tau),
            format!("{:.6}", r.trend.z),
            format!("{:.6}", r.trend.p),
            format!("{:.6}", c.centre.0),
            format!("{:.6}", c.centre.1),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
