//! Dispute hotspots in space and time: a space-time cube of call counts (250 m squares or H3 cells × day, week
//! or month bins), Getis–Ord Gi* over space-time neighbourhoods as ArcGIS's Emerging Hot Spot
//! Analysis computes it, Benjamini–Hochberg control of false discoveries, a Mann–Kendall trend per
//! cell, and ArcGIS's emerging hot spot categories. Writes `hotspot_cells`; the CLI adds GeoJSON
//! and CSV.

pub mod entity;
pub mod grid;
pub mod stats;

use std::collections::HashMap;
use std::path::PathBuf;

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use thiserror::Error;

use crate::catalog::TextColumn;
use crate::catalog::hotspot::{ENTITY_HOTSPOTS, HOTSPOT_CELLS};
use crate::catalog::{Cell, ParquetAppender, TableError};
use crate::contract::timestamp::MICROS_PER_SEC;
use crate::sql::{Session, SessionOptions, SqlError, open_session};
use crate::warehouse::{Warehouse, WarehouseError};
pub use grid::{CellKey, Grid};
use stats::{Category, MannKendall, Sign, categorise, fdr_significant, mann_kendall, p_two_sided};

/// What can go wrong in hotspot analysis.
#[derive(Debug, Error)]
pub enum HotspotError {
    /// Reading the warehouse failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The warehouse could not be opened or committed.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// A table held data of an unexpected shape.
    #[error("unexpected data: {0}")]
    Data(String),
    /// Nothing to analyse.
    #[error("no located calls match the period and categories")]
    Empty,
    /// Writing failed.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Width of a time bin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Bin {
    /// Calendar days (Asia/Shanghai).
    Day,
    /// ISO weeks.
    Week,
    /// Calendar months.
    Month,
}

/// How the cube is built and judged.
#[derive(Debug, Clone)]
pub struct HotspotSettings {
    /// Category codes or prefixes (`DISPUTE.` or `DISPUTE.*`); empty for all.
    pub categories: Vec<String>,
    /// The cells: squares or H3 hexagons.
    pub grid: Grid,
    /// Time bin.
    pub bin: Bin,
    /// First day (inclusive).
    pub from: Option<NaiveDate>,
    /// Last day (inclusive).
    pub to: Option<NaiveDate>,
    /// Spatial neighbourhood: cells within this many rings (1: the 3 × 3 block of squares, or a
    /// hexagon and its six neighbours).
    pub rings: u32,
    /// Temporal neighbourhood: this many preceding bins with the current one (as ArcGIS's
    /// "neighborhood time step").
    pub time_steps: usize,
    /// Significance level (after FDR correction for bins; for the trend test as is).
    pub alpha: f64,
    /// Calls a cell needs over the period to be given a category (a lone call in a quiet
    /// place stands out statistically and means nothing).
    pub min_calls: f64,
}

impl Default for HotspotSettings {
    fn default() -> Self {
        HotspotSettings {
            categories: Vec::new(),
            grid: Grid::Square { metres: 250.0 },
            bin: Bin::Month,
            from: None,
            to: None,
            rings: 1,
            time_steps: 1,
            alpha: 0.05,
            min_calls: 5.0,
        }
    }
}

/// A space-time cube of counts: located cells × consecutive bins.
#[derive(Debug, Clone)]
pub struct Cube {
    /// Cells with at least one call, in key order.
    pub cells: Vec<CellKey>,
    /// Number of bins.
    pub bins: usize,
    /// First day of each bin.
    pub bin_starts: Vec<NaiveDate>,
    /// Counts, cell-major (`cell * bins + bin`).
    pub counts: Vec<f64>,
}

/// One cell's result.
#[derive(Debug, Clone)]
pub struct CellResult {
    /// The cell.
    pub cell: CellKey,
    /// Calls in it.
    pub calls: f64,
    /// Gi* z of each bin.
    pub z: Vec<f64>,
    /// Significance of each bin after FDR correction.
    pub signs: Vec<Sign>,
    /// Trend of the z-scores.
    pub trend: MannKendall,
    /// Emerging hot spot category.
    pub category: Category,
}

fn bin_start(date: NaiveDate, bin: Bin) -> NaiveDate {
    match bin {
        Bin::Day => date,
        Bin::Week => date - chrono::Duration::days(i64::from(date.weekday().num_days_from_monday())),
        Bin::Month => date.with_day(1).unwrap_or(date),
    }
}

fn next_bin(start: NaiveDate, bin: Bin) -> NaiveDate {
    match bin {
        Bin::Day => start + chrono::Duration::days(1),
        Bin::Week => start + chrono::Duration::days(7),
        Bin::Month => start.checked_add_months(chrono::Months::new(1)).unwrap_or(start),
    }
}

/// A located call, as the cube needs it, with the words that label its place.
#[derive(Debug, Clone)]
pub struct LocatedCall {
    /// Cell.
    pub cell: CellKey,
    /// Local date.
    pub date: NaiveDate,
    /// District.
    pub district: Option<String>,
    /// Grid id.
    pub grid_id: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Counterparty.
    pub counterparty: Option<String>,
}

pub(crate) fn data(e: impl std::fmt::Display) -> HotspotError {
    HotspotError::Data(e.to_string())
}

pub(crate) fn matches_category(code: &str, patterns: &[String]) -> bool {
    patterns.is_empty()
        || patterns.iter().any(|p| {
            let p = p.trim_end_matches('*');
            code == p || (p.ends_with('.') && code.starts_with(p)) || code.starts_with(&format!("{p}."))
        })
}

/// The located original calls (not transfer records) of the period and categories, and the days
/// the warehouse's located calls of the period cover in any category (what decides whether a
/// bin is whole: a rare category's first call says nothing about when the data begins).
#[derive(Debug, Clone, Default)]
pub struct CallsRead {
    /// Calls of the categories.
    pub calls: Vec<LocatedCall>,
    /// First and last day with a located call of any category, within `--from`/`--to`.
    pub period: Option<(NaiveDate, NaiveDate)>,
}

/// Reads the located original calls (not transfer records) of the period and categories.
pub fn read_calls(session: &Session, settings: &HotspotSettings) -> Result<CallsRead, HotspotError> {
    let (_, batches) = session.collect(
        "SELECT lon, lat, received_at, category, district, grid_id, address, counterparty FROM calls \
         WHERE lon IS NOT NULL AND lat IS NOT NULL AND source_call_id IS NULL",
    )?;
    let mut out = Vec::new();
    let mut period: Option<(NaiveDate, NaiveDate)> = None;
    for batch in &batches {
        let lon = cast(batch.column(0), &DataType::Float64).map_err(data)?;
        let lat = cast(batch.column(1), &DataType::Float64).map_err(data)?;
        let (lon, lat) = (lon.as_primitive::<Float64Type>(), lat.as_primitive::<Float64Type>());
        let time = cast(batch.column(2), &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(data)?;
        let time = time.as_primitive::<TimestampMicrosecondType>();
        let texts: Vec<TextColumn<'_>> =
            (3..8).map(|i| TextColumn::of(batch.column(i)).map_err(data)).collect::<Result<_, _>>()?;
        for row in 0..batch.num_rows() {
            if lon.is_null(row) || lat.is_null(row) || time.is_null(row) {
                continue;
            }
            let local = time.value(row) + 8 * 3600 * MICROS_PER_SEC;
            let Some(date) = chrono::DateTime::from_timestamp_micros(local).map(|d| d.date_naive()) else {
                continue;
            };
            if settings.from.is_some_and(|f| date < f) || settings.to.is_some_and(|t| date > t) {
                continue;
            }
            period = Some(period.map_or((date, date), |(a, b)| (a.min(date), b.max(date))));
            let category = texts[0].get(row).unwrap_or("");
            if !matches_category(category, &settings.categories) {
                continue;
            }
            let Some(cell) = settings.grid.cell_of(lon.value(row), lat.value(row)) else { continue };
            out.push(LocatedCall {
                cell,
                date,
                district: texts[1].get(row).map(str::to_owned),
                grid_id: texts[2].get(row).map(str::to_owned),
                address: texts[3].get(row).map(str::to_owned),
                counterparty: texts[4].get(row).map(str::to_owned),
            });
        }
    }
    Ok(CallsRead { calls: out, period })
}

/// Builds the cube: every bin of the period (the calls' own first and last days when `None`),
/// except a first or last bin the period covers only in part (a short bin would read as a drop
/// in calls and bend every trend), and every cell with a call in those bins.
pub fn build_cube(calls: &[(CellKey, NaiveDate)], bin: Bin, period: Option<(NaiveDate, NaiveDate)>) -> Option<Cube> {
    let (first, last) = match period {
        Some(p) => p,
        None => (calls.iter().map(|c| c.1).min()?, calls.iter().map(|c| c.1).max()?),
    };
    if calls.is_empty() || first > last {
        return None;
    }
    let mut bin_starts = vec![bin_start(first, bin)];
    while next_bin(*bin_starts.last()?, bin) <= last {
        let next = next_bin(*bin_starts.last()?, bin);
        bin_starts.push(next);
    }
    if bin_starts.len() > 2 && bin_starts[0] < first {
        bin_starts.remove(0);
    }
    if bin_starts.len() > 2 && next_bin(*bin_starts.last()?, bin) - chrono::Duration::days(1) > last {
        bin_starts.pop();
    }
    let end = next_bin(*bin_starts.last()?, bin);
    let inside = |date: NaiveDate| date >= bin_starts[0] && date < end;
    let bins = bin_starts.len();
    let mut cells: Vec<CellKey> = calls.iter().filter(|c| inside(c.1)).map(|c| c.0).collect();
    cells.sort_unstable();
    cells.dedup();
    let index: HashMap<CellKey, usize> = cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let mut counts = vec![0.0; cells.len() * bins];
    for &(cell, date) in calls.iter().filter(|c| inside(c.1)) {
        let b = bin_starts.partition_point(|s| *s <= date) - 1;
        counts[index[&cell] * bins + b] += 1.0;
    }
    Some(Cube { cells, bins, bin_starts, counts })
}

/// Gi* z of every (cell, bin) of the cube: the neighbourhood is the cells within `rings` rings
/// that are in the cube, in the current bin and the `time_steps` before it (fewer at the start).
pub fn cube_gi_star(cube: &Cube, grid: &Grid, rings: u32, time_steps: usize) -> Vec<f64> {
    let index: HashMap<CellKey, usize> = cube.cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let neighbours: Vec<Vec<usize>> = cube
        .cells
        .iter()
        .map(|&cell| grid.neighbourhood(cell, rings).iter().filter_map(|c| index.get(c).copied()).collect())
        .collect();
    let n = cube.counts.len() as f64;
    let mean = cube.counts.iter().sum::<f64>() / n;
    let s = (cube.counts.iter().map(|x| x * x).sum::<f64>() / n - mean * mean).max(0.0).sqrt();
    let bins = cube.bins;
    let mut z = vec![0.0; cube.counts.len()];
    for (i, list) in neighbours.iter().enumerate() {
        for t in 0..bins {
            let from = t.saturating_sub(time_steps);
            let mut sum = 0.0;
            for &j in list {
                sum += cube.counts[j * bins + from..=j * bins + t].iter().sum::<f64>();
            }
            let w = (list.len() * (t - from + 1)) as f64;
            let denominator = s * ((n * w - w * w) / (n - 1.0)).max(0.0).sqrt();
            z[i * bins + t] = if denominator > 0.0 { (sum - mean * w) / denominator } else { 0.0 };
        }
    }
    z
}

/// Every cell's bins, significance, trend and category.
pub fn analyse(cube: &Cube, settings: &HotspotSettings) -> Vec<CellResult> {
    let z = cube_gi_star(cube, &settings.grid, settings.rings, settings.time_steps);
    let p: Vec<f64> = z.iter().map(|&v| p_two_sided(v)).collect();
    let significant = fdr_significant(&p, settings.alpha);
    let bins = cube.bins;
    cube.cells
        .iter()
        .enumerate()
        .map(|(i, &cell)| {
            let zs: Vec<f64> = z[i * bins..(i + 1) * bins].to_vec();
            let signs: Vec<Sign> = (0..bins)
                .map(|t| {
                    let k = i * bins + t;
                    if !significant[k] {
                        0
                    } else if z[k] > 0.0 {
                        1
                    } else {
                        -1
                    }
                })
                .collect();
            let trend = mann_kendall(&zs);
            let calls: f64 = cube.counts[i * bins..(i + 1) * bins].iter().sum();
            let category = if calls < settings.min_calls {
                Category::NoPattern
            } else {
                categorise(&signs, &trend, settings.alpha)
            };
            CellResult { cell, calls, z: zs, signs, trend, category }
        })
        .collect()
}

/// A cell with its labels, as written and printed.
#[derive(Debug, Clone)]
pub struct Hotspot {
    /// The analysis.
    pub result: CellResult,
    /// Cell id (`250m:ROW:COLUMN` or `h3:INDEX`).
    pub id: String,
    /// Centre.
    pub centre: (f64, f64),
    /// Outline (lon, lat), closed.
    pub outline: Vec<(f64, f64)>,
    /// Most frequent district.
    pub district: String,
    /// Grid ids seen, most frequent first (up to three).
    pub grid_ids: Vec<String>,
    /// Most frequent address.
    pub top_address: String,
    /// Most frequent counterparty.
    pub top_counterparty: String,
}

fn most_frequent<'a>(values: impl Iterator<Item = &'a str>, keep: usize) -> Vec<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut list: Vec<(&str, usize)> = counts.into_iter().collect();
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    list.into_iter().take(keep).map(|(v, _)| v.to_owned()).collect()
}

fn priority(category: Category) -> u8 {
    match category {
        Category::NewHot => 0,
        Category::IntensifyingHot => 1,
        Category::ConsecutiveHot => 2,
        Category::PersistentHot => 3,
        Category::SporadicHot => 4,
        Category::OscillatingHot => 5,
        Category::DiminishingHot => 6,
        Category::HistoricalHot => 7,
        Category::NoPattern => 9,
        _ => 8,
    }
}

/// A closed ring as a WKT polygon, for SQL users and GIS tools.
pub fn wkt_polygon(ring: &[(f64, f64)]) -> String {
    let points: Vec<String> = ring.iter().map(|(x, y)| format!("{x:.7} {y:.7}")).collect();
    format!("POLYGON(({}))", points.join(", "))
}

/// What a run found.
#[derive(Debug, Clone)]
pub struct HotspotReport {
    /// Cells, ranked: hot categories first (new, intensifying, consecutive, persistent …), then by the last z.
    pub cells: Vec<Hotspot>,
    /// Bins and their first days.
    pub bin_starts: Vec<NaiveDate>,
    /// Calls counted.
    pub calls: usize,
    /// Counterparties and addresses many callers dispute, most callers first.
    pub entities: Vec<entity::EntityHotspot>,
    /// Snapshot written (0 until committed).
    pub snapshot: u64,
    /// Bin width.
    pub bin: Bin,
}

/// Builds the cube from one snapshot (the session's) and analyses it, without writing anything.
pub fn find_hotspots(session: &Session, settings: &HotspotSettings) -> Result<HotspotReport, HotspotError> {
    let CallsRead { calls, period } = read_calls(session, settings)?;
    let located: Vec<(CellKey, NaiveDate)> = calls.iter().map(|c| (c.cell, c.date)).collect();
    let cube = build_cube(&located, settings.bin, period).ok_or(HotspotError::Empty)?;
    let results = analyse(&cube, settings);
    let mut by_cell: HashMap<CellKey, Vec<&LocatedCall>> = HashMap::new();
    for c in &calls {
        by_cell.entry(c.cell).or_default().push(c);
    }
    let mut cells: Vec<Hotspot> = results
        .into_iter()
        .map(|result| {
            let list = by_cell.get(&result.cell).map(Vec::as_slice).unwrap_or(&[]);
            let first = |v: Vec<String>| v.into_iter().next().unwrap_or_default();
            Hotspot {
                id: settings.grid.id(result.cell),
                centre: settings.grid.centre(result.cell),
                outline: settings.grid.outline(result.cell),
                district: first(most_frequent(list.iter().filter_map(|c| c.district.as_deref()), 1)),
                grid_ids: most_frequent(list.iter().filter_map(|c| c.grid_id.as_deref()), 3),
                top_address: first(most_frequent(list.iter().filter_map(|c| c.address.as_deref()), 1)),
                top_counterparty: first(most_frequent(list.iter().filter_map(|c| c.counterparty.as_deref()), 1)),
                result,
            }
        })
        .collect();
    cells.sort_by(|a, b| {
        priority(a.result.category)
            .cmp(&priority(b.result.category))
            .then(b.result.z.last().unwrap_or(&0.0).total_cmp(a.result.z.last().unwrap_or(&0.0)))
            .then(a.id.cmp(&b.id))
    });
    let entities = entity::entity_hotspots(session, settings)?;
    Ok(HotspotReport {
        cells,
        bin_starts: cube.bin_starts,
        calls: calls.len(),
        entities,
        snapshot: u64::try_from(session.snapshot()).unwrap_or(0),
        bin: settings.bin,
    })
}

/// Finds the hotspots and commits `hotspot_cells` and `entity_hotspots` in one snapshot.
pub fn hotspots(warehouse: &Warehouse, settings: &HotspotSettings) -> Result<HotspotReport, HotspotError> {
    let session = open_session(warehouse.dir(), SessionOptions { audit: false, ..SessionOptions::default() })?;
    let mut report = find_hotspots(&session, settings)?;
    let commit = warehouse.begin()?.by("hotspots");
    let snapshot = commit.id();
    let dir = commit.table_dir(HOTSPOT_CELLS.name)?;
    let write_error = |e: TableError| HotspotError::Write { path: dir.clone(), message: e.to_string() };
    let mut out = ParquetAppender::new(dir.join("part-0.parquet"), HOTSPOT_CELLS.columns);
    let bin_name = format!("{:?}", settings.bin).to_lowercase();
    let categories = settings.categories.join(",");
    for (rank, h) in report.cells.iter().enumerate() {
        let r = &h.result;
        let last = r.z.len().saturating_sub(1);
        let grid_ids = h.grid_ids.join(",");
        let first_bin = report.bin_starts.first().map(|d| d.to_string()).unwrap_or_default();
        out.push(&[
            Cell::Text(Some(&h.id)),
            Cell::Int(Some(rank as i64 + 1)),
            Cell::Text(Some(r.category.name())),
            Cell::Bool(Some(r.category.is_hot())),
            Cell::Float(Some(h.centre.0)),
            Cell::Float(Some(h.centre.1)),
            Cell::Text(Some(&h.district)),
            Cell::Text(Some(&grid_ids)),
            Cell::Text(Some(&h.top_address)),
            Cell::Text(Some(&h.top_counterparty)),
            Cell::Int(Some(r.calls as i64)),
            Cell::Int(Some(r.z.len() as i64)),
            Cell::Int(Some(r.signs.iter().filter(|&&s| s > 0).count() as i64)),
            Cell::Int(Some(r.signs.iter().filter(|&&s| s < 0).count() as i64)),
            Cell::Float(r.z.get(last).copied()),
            Cell::Float(r.z.get(last).map(|&z| p_two_sided(z))),
            Cell::Float(Some(r.trend.tau)),
            Cell::Float(Some(r.trend.z)),
            Cell::Float(Some(r.trend.p)),
            Cell::Text(Some(&first_bin)),
            Cell::Text(Some(&bin_name)),
            Cell::Text(Some(&categories)),
            Cell::Text(Some(&wkt_polygon(&h.outline))),
        ])
        .map_err(write_error)?;
    }
    out.finish().map_err(write_error)?;
    let dir = commit.table_dir(ENTITY_HOTSPOTS.name)?;
    let write_error = |e: TableError| HotspotError::Write { path: dir.clone(), message: e.to_string() };
    let mut out = ParquetAppender::new(dir.join("part-0.parquet"), ENTITY_HOTSPOTS.columns);
    for (rank, e) in report.entities.iter().enumerate() {
        let months = e.monthly.iter().filter(|&&n| n > 0.0).count();
        let monthly: Vec<String> = e.monthly.iter().map(|n| format!("{n:.0}")).collect();
        let last_month = {
            let (y, m) = (&e.first_month[..4], &e.first_month[5..]);
            let start =
                y.parse::<i32>().unwrap_or(0) * 12 + m.parse::<i32>().unwrap_or(1) - 1 + e.monthly.len() as i32 - 1;
            format!("{}-{:02}", start.div_euclid(12), start.rem_euclid(12) + 1)
        };
        out.push(&[
            Cell::Int(Some(rank as i64 + 1)),
            Cell::Text(Some(e.kind)),
            Cell::Text(Some(&e.name)),
            Cell::Text(Some(&e.key)),
            Cell::Text(Some(&e.district)),
            Cell::Text(Some(&e.category)),
            Cell::Int(Some(e.calls as i64)),
            Cell::Int(Some(e.callers as i64)),
            Cell::Int(Some(months as i64)),
            Cell::Text(Some(&e.first_month)),
            Cell::Text(Some(&last_month)),
            Cell::Text(Some(&monthly.join(","))),
            Cell::Text(Some(e.trend_word())),
            Cell::Float(Some(e.trend.tau)),
            Cell::Float(Some(e.trend.z)),
            Cell::Float(Some(e.trend.p)),
        ])
        .map_err(write_error)?;
    }
    out.finish().map_err(write_error)?;
    commit.commit()?;
    report.snapshot = snapshot;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cube_gi_star_agrees_with_the_general_formula() {
        // 4 cells in a row of the grid, 5 weekly bins.
        let day = |d: u32| NaiveDate::from_ymd_opt(2023, 1, d).unwrap();
        let mut calls = Vec::new();
        for (cell, date, n) in [(0, 2, 3), (1, 9, 5), (1, 16, 6), (2, 16, 1), (3, 23, 2), (1, 29, 7), (0, 29, 1)] {
            for _ in 0..n {
                calls.push((grid::square_key(10, 100 + cell), day(date)));
            }
        }
        let cube = build_cube(&calls, Bin::Week, None).unwrap();
        // 2 Jan 2023 is a Monday and 29 Jan a Sunday: four whole weeks.
        assert_eq!(cube.bins, 4);
        // A week the data covers only in part is left out.
        let mut longer = calls.clone();
        longer.push((grid::square_key(10, 100), day(31)));
        assert_eq!(build_cube(&longer, Bin::Week, None).unwrap().bins, 4);
        // Whether a bin is whole is judged by the period, not by the first and last calls.
        // A quiet last week of the period is a bin of zeros, not left out.
        let period = Some((day(1), NaiveDate::from_ymd_opt(2023, 2, 5).unwrap()));
        let whole = build_cube(&calls, Bin::Week, period).unwrap();
        assert_eq!((whole.bins, whole.bin_starts[0]), (5, day(2)));
        assert_eq!(whole.counts[..5], [3.0, 0.0, 0.0, 1.0, 0.0]);
        let fast = cube_gi_star(&cube, &Grid::Square { metres: 500.0 }, 1, 1);
        // The same neighbourhoods listed explicitly.
        let bins = cube.bins as u32;
        let neighbours: Vec<Vec<u32>> = (0..cube.cells.len() as u32)
            .flat_map(|i| {
                (0..bins).map(move |t| {
                    let mut list = Vec::new();
                    for j in i.saturating_sub(1)..=(i + 1).min(3) {
                        for u in t.saturating_sub(1)..=t {
                            list.push(j * bins + u);
                        }
                    }
                    list
                })
            })
            .collect();
        let slow = stats::gi_star(&cube.counts, &neighbours);
        for (a, b) in fast.iter().zip(&slow) {
            assert!((a - b).abs() < 1e-12, "{fast:?}\n{slow:?}");
        }
    }

    #[test]
    fn category_patterns_match_codes_and_prefixes() {
        let p = |s: &[&str]| s.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
        assert!(matches_category("DISPUTE.LABOR", &p(&["DISPUTE.*"])));
        assert!(matches_category("DISPUTE.LABOR", &p(&["DISPUTE"])));
        assert!(matches_category("DISPUTE.LABOR", &p(&["DISPUTE.LABOR"])));
        assert!(!matches_category("DISPUTE.LABOR", &p(&["DISPUTE.LAB"])));
        assert!(matches_category("ANY", &[]));
    }
}
