//! Hotspot reports for a period: figures from the named queries and the warehouse's tables (with
//! the period before for comparison), dispute hotspots up to the period's end, rendered as one
//! self-contained HTML page (inline SVG, no network), Markdown and CSV, written atomically.

pub mod period;
pub mod render;

use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use thiserror::Error;

use crate::hotspot::{Bin, HotspotError, HotspotReport, HotspotSettings, find_hotspots};
use crate::sql::{Session, SessionOptions, SqlError, open_session, queries};
pub use period::{Period, PeriodKind};

/// What can go wrong making a report.
#[derive(Debug, Error)]
pub enum ReportError {
    /// A query failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The hotspot analysis failed.
    #[error(transparent)]
    Hotspot(#[from] HotspotError),
    /// A result had an unexpected shape.
    #[error("unexpected data: {0}")]
    Data(String),
    /// Writing the files failed.
    #[error("{path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A query's result as display text.
#[derive(Debug, Clone, Default)]
pub struct TextTable {
    /// Column names.
    pub header: Vec<String>,
    /// Rows of cells.
    pub rows: Vec<Vec<String>>,
}

impl TextTable {
    /// The cell of a row under a column name ("" when absent).
    pub fn get<'a>(&'a self, row: &'a [String], column: &str) -> &'a str {
        self.header.iter().position(|h| h == column).and_then(|i| row.get(i)).map_or("", String::as_str)
    }
}

/// A headline figure for the period and the one before.
#[derive(Debug, Clone)]
pub struct Figure {
    /// `diversion_rate` …
    pub key: String,
    /// 分流率 …
    pub name_zh: String,
    /// Numerator in the period.
    pub numerator: i64,
    /// Denominator in the period.
    pub denominator: i64,
    /// Percentage in the period (None when the denominator is 0).
    pub value: Option<f64>,
    /// Percentage in the period before.
    pub previous: Option<f64>,
}

/// Calls of one day.
#[derive(Debug, Clone, Copy)]
pub struct DayVolume {
    /// Local date.
    pub day: NaiveDate,
    /// All calls.
    pub calls: i64,
    /// 110 calls.
    pub calls_110: i64,
    /// 12345 calls.
    pub calls_12345: i64,
}

/// Everything a report shows.
#[derive(Debug, Clone)]
pub struct ReportData {
    /// The period.
    pub period: Period,
    /// The period before.
    pub previous: Period,
    /// Warehouse snapshot read.
    pub snapshot: i64,
    /// Headline figures (`headline_summary`).
    pub figures: Vec<Figure>,
    /// Calls per day over the period before and the period (`daily_volume`).
    pub daily: Vec<DayVolume>,
    /// Calls by category in the period (`category_mix`).
    pub categories: TextTable,
    /// Calls by category in the period before.
    pub categories_before: TextTable,
    /// Top repeat callers in the period (`repeat_callers`), pseudonymised.
    pub callers: TextTable,
    /// Leads worth a look with a call in the period.
    pub leads: TextTable,
    /// Dispute hotspots up to the period's end.
    pub hotspots: HotspotReport,
}

/// Runs a named query in the session and returns its rows as text.
pub fn named_query(session: &Session, name: &str, params: &[(&str, String)]) -> Result<TextTable, ReportError> {
    let params: Vec<(String, String)> = params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    let sql = queries::find(name)?.bind(&params)?;
    query(session, &sql)
}

fn query(session: &Session, sql: &str) -> Result<TextTable, ReportError> {
    use datafusion::arrow::util::display::FormatOptions;
    let options = FormatOptions::default().with_null("").with_timestamp_tz_format(Some("%Y-%m-%d %H:%M"));
    let (header, rows) = crate::sql::export::collect_text(session, sql, &options)?;
    Ok(TextTable { header, rows })
}

fn period_params(period: &Period) -> Vec<(&'static str, String)> {
    let (from_month, to_month) = period.months();
    vec![
        ("from_month", from_month),
        ("to_month", to_month),
        ("from_day", period.first.to_string()),
        ("to_day", period.last.to_string()),
    ]
}

fn headline(session: &Session, period: &Period) -> Result<TextTable, ReportError> {
    named_query(session, "headline_summary", &period_params(period))
}

/// How far back the hotspot cube reaches, and its bins, for a period of this kind.
pub fn hotspot_settings(period: &Period) -> HotspotSettings {
    let (bin, back) = match period.kind {
        PeriodKind::Day => (Bin::Day, Duration::days(27)),
        PeriodKind::Week => (Bin::Week, Duration::weeks(25)),
        PeriodKind::Month => (Bin::Month, Duration::days(0)),
    };
    let from = match period.kind {
        PeriodKind::Month => period.first.checked_sub_months(chrono::Months::new(11)).unwrap_or(period.first),
        _ => period.first - back,
    };
    HotspotSettings {
        categories: vec!["DISPUTE.*".to_owned()],
        bin,
        from: Some(from),
        to: Some(period.last),
        ..HotspotSettings::default()
    }
}

/// Gathers a report's figures from one snapshot of the warehouse.
pub fn gather(warehouse: &Path, period: Period) -> Result<ReportData, ReportError> {
    let session = open_session(warehouse, SessionOptions::default())?;
    let previous = period.previous();
    let now = headline(&session, &period)?;
    let before = headline(&session, &previous)?;
    let number = |t: &TextTable, row: &[String], column: &str| t.get(row, column).parse::<f64>().ok();
    let figures = now
        .rows
        .iter()
        .map(|row| {
            let key = now.get(row, "figure").to_owned();
            let previous = before
                .rows
                .iter()
                .find(|r| before.get(r, "figure") == key)
                .and_then(|r| number(&before, r, "value_pct"));
            Figure {
                name_zh: now.get(row, "name_zh").to_owned(),
                numerator: number(&now, row, "numerator").unwrap_or(0.0) as i64,
                denominator: number(&now, row, "denominator").unwrap_or(0.0) as i64,
                value: number(&now, row, "value_pct"),
                previous,
                key,
            }
        })
        .collect();
    let span = Period { kind: period.kind, first: previous.first, last: period.last };
    let (from_month, to_month) = span.months();
    let volume = named_query(&session, "daily_volume", &[("from_month", from_month), ("to_month", to_month)])?;
    let daily = volume
        .rows
        .iter()
        .filter_map(|row| {
            let day = NaiveDate::parse_from_str(volume.get(row, "day"), "%Y-%m-%d").ok()?;
            let n = |c: &str| volume.get(row, c).parse::<i64>().unwrap_or(0);
            (day >= span.first && day <= span.last).then(|| DayVolume {
                day,
                calls: n("calls"),
                calls_110: n("calls_110"),
                calls_12345: n("calls_12345"),
            })
        })
        .collect();
    let days = |p: &Period| vec![("from_day", p.first.to_string()), ("to_day", p.last.to_string())];
    let categories = named_query(&session, "category_mix", &days(&period))?;
    let categories_before = named_query(&session, "category_mix", &days(&previous))?;
    let mut caller_params = period_params(&period);
    caller_params.extend([("top", "10".to_owned()), ("min_calls", "2".to_owned())]);
    let callers = named_query(&session, "repeat_callers", &caller_params)?;
    let has_leads = session.tables().iter().any(|t| t.name == "leads");
    let leads = if has_leads {
        query(
            &session,
            &format!(
                "SELECT lead_id, score, calls, callers, category, first_call, last_call, summary FROM leads \
                 WHERE worth_a_look AND CAST(last_call + INTERVAL '8 hours' AS DATE) >= DATE '{}' \
                 AND CAST(first_call + INTERVAL '8 hours' AS DATE) <= DATE '{}' ORDER BY score DESC LIMIT 10",
                period.first, period.last
            ),
        )?
    } else {
        TextTable::default()
    };
    // A period without located disputes still gets its report, with no hotspot in it.
    let settings = hotspot_settings(&period);
    let hotspots = match find_hotspots(&session, &settings) {
        Err(HotspotError::Empty) => HotspotReport {
            cells: Vec::new(),
            bin_starts: Vec::new(),
            calls: 0,
            entities: Vec::new(),
            snapshot: 0,
            bin: settings.bin,
        },
        other => other?,
    };
    Ok(ReportData {
        period,
        previous,
        snapshot: session.snapshot(),
        figures,
        daily,
        categories,
        categories_before,
        callers,
        leads,
        hotspots,
    })
}

/// The files of a report folder, written into `out/hotspots-PERIOD/` all at once: the folder is
/// made beside its final name and renamed into place, so a reader never sees half a report.
pub fn write_report(data: &ReportData, out: &Path) -> Result<PathBuf, ReportError> {
    let write_error = |path: &Path| {
        let path = path.to_owned();
        move |source| ReportError::Write { path, source }
    };
    std::fs::create_dir_all(out).map_err(write_error(out))?;
    let name = format!("hotspots-{}", data.period);
    let target = out.join(&name);
    let partial = out.join(format!(".{name}.partial-{}", std::process::id()));
    // What a run killed mid-way left of this report (its job's lock keeps writers of one period apart).
    if let Ok(entries) = std::fs::read_dir(out) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if file.starts_with(&format!(".{name}.partial-")) || file.starts_with(&format!(".{name}.old-")) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    std::fs::create_dir_all(&partial).map_err(write_error(&partial))?;
    for (file, text) in render::files(data) {
        let path = partial.join(file);
        std::fs::write(&path, text).map_err(write_error(&path))?;
    }
    // Replace an earlier report of the same period as one step: move it aside, move in, clear.
    let old = out.join(format!(".{name}.old-{}", std::process::id()));
    if target.exists() {
        std::fs::rename(&target, &old).map_err(write_error(&target))?;
    }
    std::fs::rename(&partial, &target).map_err(write_error(&target))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(target)
}
