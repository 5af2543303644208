//! The end-to-end demo: runs every stage that exists on freshly generated data and returns what it found.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use crate::contract::{Reason, Table};
use crate::eval::resolve::PairwiseScore;
use crate::figures::{Figure, HeadlineCounts};
use crate::generate::truth::{TruthError, read_malformed};
use crate::generate::{GenerateConfig, GenerateError, GenerateSummary, OutputFormat, generate};
use crate::ingest::{IngestError, IngestSummary, ingest};
use crate::pii::normalize_phone;
use crate::pseudonym::{KeyError, PseudonymKey};
use crate::source::{SourceError, ValidRow, validate_file};
use crate::sql::{SessionOptions, SqlError, open_session, queries};
use crate::warehouse::{self, Warehouse, WarehouseError};

/// What the demo runs on.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    /// Working folder (generated batch goes to `DIR/batch`).
    pub dir: PathBuf,
    /// Call rows to generate.
    pub calls: u64,
    /// Seed.
    pub seed: u64,
}

/// Errors of the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Generation failed.
    #[error("generate: {0}")]
    Generate(#[from] GenerateError),
    /// A generated file could not be read.
    #[error("validate: {0}")]
    Source(#[from] SourceError),
    /// A truth file could not be read.
    #[error("truth: {0}")]
    Truth(#[from] TruthError),
    /// The demo warehouse could not be set up.
    #[error("warehouse: {0}")]
    Warehouse(#[from] WarehouseError),
    /// Ingest failed.
    #[error("ingest: {0}")]
    Ingest(#[from] IngestError),
    /// The demo warehouse's key could not be had.
    #[error("key: {0}")]
    Key(#[from] KeyError),
    /// A named query failed.
    #[error("sql: {0}")]
    Sql(#[from] SqlError),
    /// Identity resolution failed.
    #[error("resolve: {0}")]
    Resolve(#[from] crate::resolve::ResolveError),
    /// Linking failed.
    #[error("link: {0}")]
    Link(#[from] crate::link::LinkError),
    /// The report could not be made.
    #[error("report: {0}")]
    Report(#[from] crate::report::ReportError),
    /// Hotspot analysis failed.
    #[error("hotspots: {0}")]
    Hotspot(#[from] crate::hotspot::HotspotError),
    /// Scoring against the generator's truth failed.
    #[error("eval: {0}")]
    Eval(#[from] crate::eval::EvalError),
}

/// A headline figure as the named query `headline_summary` computes it from the warehouse.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlFigure {
    /// Figure name.
    pub name: String,
    /// Chinese name.
    pub name_zh: String,
    /// Numerator.
    pub numerator: u64,
    /// Denominator.
    pub denominator: u64,
}

/// Runs `headline_summary` in a warehouse.
pub fn headline_figures_by_sql(warehouse: &Path) -> Result<Vec<SqlFigure>, DemoError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::Int64Type;
    let session = open_session(warehouse, SessionOptions::default())?;
    let sql = queries::find("headline_summary")?.bind(&[])?;
    let (_, batches) = session.collect(&sql)?;
    let mut figures = Vec::new();
    for batch in &batches {
        let text = |c: usize, i: usize| batch.column(c).as_string::<i32>().value(i).to_owned();
        let count = |c: usize, i: usize| {
            let column = batch.column(c).as_primitive::<Int64Type>();
            if column.is_null(i) { 0 } else { column.value(i).max(0) as u64 }
        };
        for i in 0..batch.num_rows() {
            figures.push(SqlFigure {
                name: text(0, i),
                name_zh: text(1, i),
                numerator: count(2, i),
                denominator: count(3, i),
            });
        }
    }
    Ok(figures)
}

/// Validation outcome of one file.
#[derive(Debug, Clone)]
pub struct FileCheck {
    /// Table.
    pub table: Table,
    /// File.
    pub path: PathBuf,
    /// Records read.
    pub rows: u64,
    /// Rows that pass.
    pub valid: u64,
    /// Rows rejected, by reason.
    pub rejected: BTreeMap<Reason, u64>,
}

/// How the validator's rejections compare with the generator's list of broken rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TruthAgreement {
    /// Rows the generator broke.
    pub planted: u64,
    /// Rows the validator rejected.
    pub rejected: u64,
    /// Rows in both, with the same reason.
    pub matched: u64,
}

/// Everything the demo found.
#[derive(Debug, Clone)]
pub struct DemoReport {
    /// What was generated.
    pub generated: GenerateSummary,
    /// Validation per file.
    pub files: Vec<FileCheck>,
    /// Rejections against the generator's truth.
    pub agreement: TruthAgreement,
    /// Headline figures recounted in plain Rust from the export rows (repeat calls by normalised phone).
    pub figures: Vec<Figure>,
    /// The warehouse the batch was ingested into.
    pub warehouse: PathBuf,
    /// What ingest did.
    pub ingested: IngestSummary,
    /// The headline figures through the named query, from the warehouse.
    pub sql_figures: Vec<SqlFigure>,
    /// What identity resolution did.
    pub resolved: crate::resolve::ResolveSummary,
    /// Pairwise score of the resolved entities against truth, and of the same-phone baseline.
    pub resolve_score: (PairwiseScore, PairwiseScore),
    /// The named query `repeat_callers` (top 10): header and formatted rows.
    pub top_callers: (Vec<String>, Vec<Vec<String>>),
    /// What linking did.
    pub linked: crate::link::LinkSummary,
    /// The top leads as the tables hold them.
    pub leads: Vec<crate::link::explore::LeadRecord>,
    /// The leads against the planted groups.
    pub lead_score: crate::eval::leads::LeadsEvaluation,
    /// The series grown from the extortion ring's two ordinary disputes (when planted).
    pub expansion: Option<crate::link::expand::Expansion>,
    /// The extortion ring's calls, to score the expansion.
    pub ring_calls: HashSet<String>,
    /// Dispute hotspots (categories `DISPUTE.*`, default cells and bins).
    pub hotspots: crate::hotspot::HotspotReport,
    /// How the planted hotspots came out, each in its own category.
    pub planted_hotspots: Vec<crate::eval::hotspots::PlantedCheck>,
    /// The report of the last full week of the data: its period and folder.
    pub report: Option<(crate::report::Period, PathBuf)>,
}

/// Runs a named query with parameters and formats its result as text cells.
pub fn named_query_as_text(
    warehouse: &Path,
    name: &str,
    params: &[(&str, &str)],
) -> Result<(Vec<String>, Vec<Vec<String>>), DemoError> {
    use datafusion::arrow::util::display::FormatOptions;
    let session = open_session(warehouse, SessionOptions::default())?;
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let sql = queries::find(name)?.bind(&params)?;
    let options = FormatOptions::default().with_null("-").with_timestamp_tz_format(Some("%Y-%m-%d"));
    Ok(crate::sql::export::collect_text(&session, &sql, &options)?)
}

/// Runs the demo; `progress` receives call rows generated so far.
pub fn run_demo(settings: &DemoSettings, progress: &mut dyn FnMut(u64)) -> Result<DemoReport, DemoError> {
    let batch = settings.dir.join("batch");
    let config = GenerateConfig {
        calls: settings.calls,
        seed: settings.seed,
        out: batch.clone(),
        format: OutputFormat::Csv,
        ..GenerateConfig::default()
    };
    let generated = generate(&config, progress)?;
    let (files, agreement, figures) = check_batch(&batch)?;
    // A fresh demo warehouse each run (its key file beside it is kept and reused).
    let warehouse_dir = settings.dir.join("warehouse");
    if warehouse_dir.join(warehouse::MARKER).exists() {
        std::fs::remove_dir_all(&warehouse_dir)
            .map_err(|source| WarehouseError::Io { path: warehouse_dir.clone(), source })?;
    }
    warehouse::init(&warehouse_dir)?;
    let key = PseudonymKey::resolve(&warehouse::key_file_for(&warehouse_dir))?;
    let opened = Warehouse::open(&warehouse_dir)?;
    let inputs: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let ingested = ingest(&opened, &inputs, None, &key, &mut |_| {})?;
    let resolved = crate::resolve::resolve(&opened, &crate::resolve::ResolveOptions::default(), &mut |_| {})?;
    let resolve_score = crate::eval::resolve::evaluate_warehouse(&warehouse_dir, &batch.join("truth"))?;
    let sql_figures = headline_figures_by_sql(&warehouse_dir)?;
    let top_callers = named_query_as_text(&warehouse_dir, "repeat_callers", &[("top", "10")])?;
    let linked = crate::link::link(&opened, &mut |_| {})?;
    let leads = crate::link::explore::read_leads(&crate::link::session(&warehouse_dir)?, Some(5))?;
    let lead_score = crate::eval::leads::evaluate_leads(&warehouse_dir, &batch.join("truth"))?;
    // The model case: start from the two ordinary disputes of the extortion ring and grow.
    let rings = crate::eval::leads::read_rings(&batch.join("truth").join("rings.csv"))?;
    let ring_calls: HashSet<String> =
        rings.iter().filter(|(_, kind, _)| kind == "extortion_ring").map(|(_, _, c)| c.clone()).collect();
    let mut seeds = crate::eval::leads::seed_calls(&batch.join("truth").join("rings.csv"))?;
    // Other planted groups have seeds too; the demo grows the ring's.
    seeds.retain(|c| ring_calls.contains(c));
    let expansion = if seeds.is_empty() { None } else { Some(crate::link::expand::expand(&warehouse_dir, &seeds, 3)?) };
    let hotspot_settings =
        crate::hotspot::HotspotSettings { categories: vec!["DISPUTE.*".to_owned()], ..Default::default() };
    let hotspots = crate::hotspot::hotspots(&opened, &hotspot_settings)?;
    let hotspot_truth = batch.join("truth").join("hotspots.csv");
    let planted_hotspots = if hotspot_truth.exists() {
        crate::eval::hotspots::check_planted(
            &warehouse_dir,
            &hotspot_truth,
            &crate::hotspot::HotspotSettings::default(),
        )?
    } else {
        Vec::new()
    };
    let report = match last_full_week(&warehouse_dir)? {
        Some(week) => {
            let data = crate::report::gather(&warehouse_dir, week)?;
            Some((week, crate::report::write_report(&data, &settings.dir.join("reports"))?))
        }
        None => None,
    };
    Ok(DemoReport {
        generated,
        files,
        agreement,
        figures,
        warehouse: warehouse_dir,
        ingested,
        sql_figures,
        resolved,
        resolve_score,
        top_callers,
        linked,
        leads,
        lead_score,
        expansion,
        ring_calls,
        hotspots,
        planted_hotspots,
        report,
    })
}

/// The last ISO week the warehouse's calls cover to its Sunday.
pub fn last_full_week(warehouse: &Path) -> Result<Option<crate::report::Period>, DemoError> {
    let session = open_session(warehouse, SessionOptions { audit: false, ..SessionOptions::default() })?;
    let (_, batches) = session.collect("SELECT CAST(max(received_at) + INTERVAL '8 hours' AS DATE) FROM calls")?;
    let Some(batch) = batches.first().filter(|b| b.num_rows() > 0) else { return Ok(None) };
    let column = datafusion::arrow::compute::cast(batch.column(0), &datafusion::arrow::datatypes::DataType::Date32)
        .map_err(|e| DemoError::Report(crate::report::ReportError::Data(e.to_string())))?;
    use datafusion::arrow::array::{Array, AsArray};
    let days = column.as_primitive::<datafusion::arrow::datatypes::Date32Type>();
    if days.is_null(0) {
        return Ok(None);
    }
    let last = chrono::NaiveDate::from_num_days_from_ce_opt(days.value(0) + 719_163).unwrap_or_default();
    let week = crate::report::Period::week_of(last);
    Ok(Some(if week.last == last { week } else { week.previous() }))
}

/// Validates a generated batch folder, compares with its truth and computes the headline figures.
pub fn check_batch(batch: &Path) -> Result<(Vec<FileCheck>, TruthAgreement, Vec<Figure>), DemoError> {
    let mut counts = HeadlineCounts::default();
    let mut files = Vec::new();
    let mut rejected_rows = HashSet::new();
    for table in Table::ALL {
        let Some(path) = ["csv", "jsonl", "parquet"]
            .iter()
            .map(|ext| batch.join(format!("{}.{ext}", table.name())))
            .find(|p| p.exists())
        else {
            continue;
        };
        let outcome = validate_file(&path, Some(table), |row| match row {
            ValidRow::Call(call) => {
                let caller = call.caller_phone.as_deref().and_then(normalize_phone);
                counts.add_call(&call, caller.as_deref());
            }
            ValidRow::WorkOrder(order) => counts.add_order(&order),
        })?;
        let mut rejected = BTreeMap::new();
        for row in &outcome.rejected {
            *rejected.entry(row.violation.reason).or_insert(0) += 1;
            rejected_rows.insert((table, row.line, row.violation.reason));
        }
        files.push(FileCheck { table, path, rows: outcome.rows, valid: outcome.valid, rejected });
    }
    let planted = read_malformed(&batch.join("truth"))?;
    let matched = planted.iter().filter(|m| rejected_rows.contains(&(m.table, m.line, m.reason))).count() as u64;
    let agreement = TruthAgreement { planted: planted.len() as u64, rejected: rejected_rows.len() as u64, matched };
    Ok((files, agreement, counts.figures()))
}
