//! How the planted hotspots of `truth/hotspots.csv` came out of the hotspot analysis.

use std::path::Path;

use super::EvalError;
use crate::hotspot::stats::Category;
use crate::hotspot::{HotspotSettings, find_hotspots};
use crate::sql::{SessionOptions, open_session};

/// How one planted hotspot (`truth/hotspots.csv`) came out.
#[derive(Debug, Clone)]
pub struct PlantedCheck {
    /// `HS-1` …
    pub id: String,
    /// `emerging` or `persistent`.
    pub kind: String,
    /// Its category code.
    pub category_code: String,
    /// The cell holding its centre, and that cell's category (None when the cell has no call).
    pub cell: Option<(String, Category)>,
    /// Whether the category is what the kind should give (new, consecutive or intensifying for
    /// an emerging hotspot; persistent for a persistent one).
    pub as_planted: bool,
    /// The counterparty as planted, and its rank among its category's disputed counterparties.
    pub counterparty: String,
    /// 1-based rank by distinct callers (None: not among them).
    pub counterparty_rank: Option<usize>,
    /// Counterparties of the category disputed by at least 5 distinct callers.
    pub counterparties: usize,
}

/// Runs the analysis (nothing written) for each planted hotspot's category and reports the
/// category of the cell at its centre and the rank of its counterparty.
pub fn check_planted(warehouse: &Path, truth: &Path, base: &HotspotSettings) -> Result<Vec<PlantedCheck>, EvalError> {
    let rows = crate::generate::truth::read_table(truth)
        .map_err(|e| EvalError::Truth { path: truth.to_owned(), message: e.to_string() })?;
    let session = open_session(warehouse, SessionOptions { audit: false, ..SessionOptions::default() })?;
    let keys = crate::sql::normalised::organisation_keys(&session)?;
    let mut out = Vec::new();
    for row in rows {
        let field = |k: &str| row.get(k).cloned().unwrap_or_default();
        let (lon, lat) = (
            field("lon").parse::<f64>().map_err(|e| EvalError::Data(e.to_string()))?,
            field("lat").parse::<f64>().map_err(|e| EvalError::Data(e.to_string()))?,
        );
        let settings = HotspotSettings { categories: vec![field("category")], ..base.clone() };
        let report = find_hotspots(&session, &settings)?;
        let cell = settings.grid.cell_of(lon, lat);
        let found = report.cells.iter().find(|c| Some(c.result.cell) == cell);
        let category = found.map(|c| c.result.category);
        let kind = field("kind");
        let as_planted = match kind.as_str() {
            "emerging" => {
                matches!(category, Some(Category::NewHot | Category::ConsecutiveHot | Category::IntensifyingHot))
            }
            "persistent" => category == Some(Category::PersistentHot),
            _ => false,
        };
        let counterparty = field("counterparty");
        let key = keys.get(&counterparty);
        let counterparty_rank = report
            .entities
            .iter()
            .filter(|e| e.kind == "counterparty")
            .position(|e| Some(&e.key) == key)
            .map(|r| r + 1);
        out.push(PlantedCheck {
            id: field("hotspot_id"),
            kind,
            category_code: field("category"),
            cell: found.map(|c| (c.id.clone(), c.result.category)),
            as_planted,
            counterparty,
            counterparty_rank,
            counterparties: report.entities.iter().filter(|e| e.kind == "counterparty").count(),
        });
    }
    Ok(out)
}
