//! The table the explorer writes: investigators' reviews of leads, one row per change (history).

use super::{Kind, TableDef};

/// One row per review of a lead: status, owner and note as set by a signed-in user. Rows are never
/// replaced; the latest row of a lead is its state. A new `link` run renumbers leads, so each row
/// also keeps the lead's entities, by which the review finds the lead again.
pub const LEAD_REVIEWS: TableDef = TableDef {
    name: "lead_reviews",
    columns: &[
        ("lead_id", Kind::Text),
        ("entity_ids", Kind::Text),
        ("status", Kind::Text),
        ("owner", Kind::Text),
        ("note", Kind::Text),
        ("reviewed_by", Kind::Text),
        ("reviewed_at", Kind::Time),
        ("link_snapshot", Kind::Int),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// What the table holds, for `\d` in the SQL shell.
pub fn about(name: &str) -> Option<&'static str> {
    (name == LEAD_REVIEWS.name).then_some(
        "reviews of leads (new, reviewing, confirmed, dismissed) with owner, note, who and when; one row per change",
    )
}
