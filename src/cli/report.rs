//! `hotline report hotspots`: a period's report as HTML, Markdown and CSV.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use crate::report::{Period, gather, write_report};

/// `hotline report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(subcommand)]
    kind: ReportKind,
}

#[derive(Debug, Subcommand)]
enum ReportKind {
    /// Headline figures with their change, call volume, category mix, a hotspot map, disputed
    /// counterparties, repeat callers and new leads for one period.
    Hotspots(HotspotReportArgs),
}

#[derive(Debug, Args)]
struct HotspotReportArgs {
    /// 2023-W30 (ISO week), 2023-07 (month), 2023-07-19 (day), last-week, last-month or yesterday
    /// (Asia/Shanghai).
    #[arg(long)]
    period: String,
    /// Folder; the report goes into its subfolder hotspots-PERIOD.
    #[arg(long, default_value = "reports")]
    out: PathBuf,
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
}

/// Today in Asia/Shanghai.
pub fn today_in_shanghai() -> chrono::NaiveDate {
    (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
}

/// Runs `hotline report`.
pub fn run_report(args: ReportArgs) -> Result<ExitCode> {
    match args.kind {
        ReportKind::Hotspots(args) => {
            let period = Period::parse(&args.period, today_in_shanghai())?;
            crate::warehouse::Warehouse::open(&args.warehouse)?;
            let data = gather(&args.warehouse, period).with_context(|| format!("report for {period} failed"))?;
            let dir = write_report(&data, &args.out)?;
            println!("wrote {}/report.html (and report.md, *.csv) for {period}", dir.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}
