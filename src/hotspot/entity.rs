//! Entity hotspots: counterparties and addresses that many different callers dispute, with the
//! monthly trend of their calls (Mann–Kendall).

use std::collections::{HashMap, HashSet};

use chrono::Datelike;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};

use super::stats::{MannKendall, mann_kendall};
use super::{HotspotError, HotspotSettings, data, matches_category};
use crate::catalog::TextColumn;
use crate::contract::timestamp::MICROS_PER_SEC;
use crate::sql::Session;

/// Distinct callers an entity needs to be a hotspot.
pub const MIN_CALLERS: usize = 5;

/// A counterparty or address many callers dispute.
#[derive(Debug, Clone)]
pub struct EntityHotspot {
    /// `counterparty` or `address`.
    pub kind: &'static str,
    /// Its most frequent spelling.
    pub name: String,
    /// The matching key (organisation key, or the address without spaces and punctuation).
    pub key: String,
    /// Most frequent district.
    pub district: String,
    /// Most frequent category.
    pub category: String,
    /// Calls.
    pub calls: usize,
    /// Distinct callers (resolved people, else phone keys).
    pub callers: usize,
    /// Calls per month from the first month of the data to the last.
    pub monthly: Vec<f64>,
    /// First month of the data (`YYYY-MM`).
    pub first_month: String,
    /// Trend of the monthly calls.
    pub trend: MannKendall,
}

impl EntityHotspot {
    /// Column names of [`EntityHotspot::cells`] (a table adds its own trend column).
    pub const COLUMNS: [&'static str; 6] = ["kind", "name", "district", "category", "callers", "calls"];

    /// Kind, name, district, category, callers and calls as display text.
    pub fn cells(&self) -> Vec<String> {
        vec![
            self.kind.to_owned(),
            self.name.clone(),
            self.district.clone(),
            self.category.clone(),
            self.callers.to_string(),
            self.calls.to_string(),
        ]
    }

    /// `rising`, `falling` or `flat` (Mann–Kendall at 0.05).
    pub fn trend_word(&self) -> &'static str {
        if self.trend.p >= 0.05 {
            "flat"
        } else if self.trend.z > 0.0 {
            "rising"
        } else {
            "falling"
        }
    }
}

#[derive(Default)]
struct Tally {
    spellings: HashMap<String, usize>,
    districts: HashMap<String, usize>,
    categories: HashMap<String, usize>,
    callers: HashSet<String>,
    months: HashMap<i32, f64>,
    calls: usize,
}

fn top(counts: &HashMap<String, usize>) -> String {
    counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(k, _)| k.clone()).unwrap_or_default()
}

fn month_index(date: chrono::NaiveDate) -> i32 {
    date.year() * 12 + date.month0() as i32
}

/// Finds the counterparties and addresses disputed by at least [`MIN_CALLERS`] distinct callers.
pub fn entity_hotspots(session: &Session, settings: &HotspotSettings) -> Result<Vec<EntityHotspot>, HotspotError> {
    let (_, batches) = session.collect(
        "SELECT c.counterparty, c.address, c.category, c.received_at, c.district, \
         coalesce(e.entity_id, c.phone_key) AS caller \
         FROM calls c LEFT JOIN caller_entities e ON e.call_id = c.call_id WHERE c.source_call_id IS NULL",
    )?;
    let keys = crate::sql::normalised::organisation_keys(session)?;
    let mut tallies: HashMap<(&'static str, String), Tally> = HashMap::new();
    let (mut first, mut last) = (i32::MAX, i32::MIN);
    for batch in &batches {
        let texts: Vec<TextColumn<'_>> =
            [0, 1, 2, 4, 5].iter().map(|&i| TextColumn::of(batch.column(i)).map_err(data)).collect::<Result<_, _>>()?;
        let time = cast(batch.column(3), &DataType::Timestamp(TimeUnit::Microsecond, None)).map_err(data)?;
        let time = time.as_primitive::<TimestampMicrosecondType>();
        for row in 0..batch.num_rows() {
            if time.is_null(row) {
                continue;
            }
            let local = time.value(row) + 8 * 3600 * MICROS_PER_SEC;
            let Some(date) = chrono::DateTime::from_timestamp_micros(local).map(|d| d.date_naive()) else { continue };
            if settings.from.is_some_and(|f| date < f) || settings.to.is_some_and(|t| date > t) {
                continue;
            }
            // The months of the period, whichever category they hold, so that a quiet month counts as 0.
            let month = month_index(date);
            first = first.min(month);
            last = last.max(month);
            let category = texts[2].get(row).unwrap_or("");
            if !matches_category(category, &settings.categories) {
                continue;
            }
            let caller = texts[4].get(row).unwrap_or("");
            let mut add = |kind: &'static str, key: String, spelling: &str| {
                let t = tallies.entry((kind, key)).or_default();
                *t.spellings.entry(spelling.to_owned()).or_default() += 1;
                if let Some(d) = texts[3].get(row) {
                    *t.districts.entry(d.to_owned()).or_default() += 1;
                }
                *t.categories.entry(category.to_owned()).or_default() += 1;
                if !caller.is_empty() {
                    t.callers.insert(caller.to_owned());
                }
                *t.months.entry(month).or_default() += 1.0;
                t.calls += 1;
            };
            if let Some(c) = texts[0].get(row)
                && let Some(key) = keys.get(c)
            {
                add("counterparty", key.clone(), c);
            }
            if let Some(a) = texts[1].get(row) {
                let key: String = a.chars().filter(|c| c.is_alphanumeric()).collect();
                if key.chars().count() >= 4 {
                    add("address", key, a);
                }
            }
        }
    }
    let mut out: Vec<EntityHotspot> = tallies
        .into_iter()
        .filter(|(_, t)| t.callers.len() >= MIN_CALLERS)
        .map(|((kind, key), t)| {
            let monthly: Vec<f64> = (first..=last).map(|m| t.months.get(&m).copied().unwrap_or(0.0)).collect();
            EntityHotspot {
                kind,
                name: top(&t.spellings),
                key,
                district: top(&t.districts),
                category: top(&t.categories),
                calls: t.calls,
                callers: t.callers.len(),
                trend: mann_kendall(&monthly),
                monthly,
                first_month: format!("{}-{:02}", first.div_euclid(12), first.rem_euclid(12) + 1),
            }
        })
        .collect();
    out.sort_by(|a, b| b.callers.cmp(&a.callers).then(b.calls.cmp(&a.calls)).then(a.key.cmp(&b.key)));
    Ok(out)
}
