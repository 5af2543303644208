//! The tables the hotspot stage writes: hotspot cells and entity hotspots.

use super::{Kind, TableDef};

/// One row of `hotspot_cells`.
pub const HOTSPOT_CELLS: TableDef = TableDef {
    name: "hotspot_cells",
    columns: &[
        ("cell", Kind::Text),
        ("rank", Kind::Int),
        ("category", Kind::Text),
        ("hot", Kind::Bool),
        ("lon", Kind::Float),
        ("lat", Kind::Float),
        ("district", Kind::Text),
        ("grid_ids", Kind::Text),
        ("top_address", Kind::Text),
        ("top_counterparty", Kind::Text),
        ("calls", Kind::Int),
        ("bins", Kind::Int),
        ("hot_bins", Kind::Int),
        ("cold_bins", Kind::Int),
        ("last_z", Kind::Float),
        ("last_p", Kind::Float),
        ("trend_tau", Kind::Float),
        ("trend_z", Kind::Float),
        ("trend_p", Kind::Float),
        ("first_bin", Kind::Text),
        ("bin", Kind::Text),
        ("categories", Kind::Text),
        ("outline_wkt", Kind::Text),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// One row per entity hotspot.
pub const ENTITY_HOTSPOTS: TableDef = TableDef {
    name: "entity_hotspots",
    columns: &[
        ("rank", Kind::Int),
        ("kind", Kind::Text),
        ("name", Kind::Text),
        ("key", Kind::Text),
        ("district", Kind::Text),
        ("category", Kind::Text),
        ("calls", Kind::Int),
        ("callers", Kind::Int),
        ("months", Kind::Int),
        ("first_month", Kind::Text),
        ("last_month", Kind::Text),
        ("monthly_calls", Kind::Text),
        ("trend", Kind::Text),
        ("trend_tau", Kind::Float),
        ("trend_z", Kind::Float),
        ("trend_p", Kind::Float),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// What each table holds, for `\d` in the SQL shell.
pub fn about(name: &str) -> Option<&'static str> {
    Some(match name {
        "hotspot_cells" => {
            "hotspot cells: emerging hot spot category, Gi* of the last bin, Mann–Kendall trend, place labels"
        }
        "entity_hotspots" => "counterparties and addresses disputed by many distinct callers, with their monthly trend",
        _ => return None,
    })
}
