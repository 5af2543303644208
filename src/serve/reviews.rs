//! Reviews of leads (`lead_reviews`): each change is a new row in its own commit, and a review
//! follows its lead across `link` runs by the lead's entities, since lead ids are renumbered.

use std::collections::{BTreeSet, HashMap};

use serde::Serialize;

use super::{ServeError, rows};
use crate::catalog::review::LEAD_REVIEWS;
use crate::catalog::{Cell, ParquetAppender};
use crate::link::explore::LeadRecord;
use crate::sql::Session;
use crate::warehouse::Warehouse;

/// Statuses a review can set.
pub const STATUSES: [&str; 4] = ["new", "reviewing", "confirmed", "dismissed"];

/// Longest owner and note accepted, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;

/// A review as stored.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Review {
    /// The lead id it was made on (of that link run).
    pub lead_id: String,
    /// The lead's entities then, comma-separated and sorted.
    pub entity_ids: String,
    /// Status.
    pub status: String,
    /// Who owns the lead.
    pub owner: String,
    /// Note.
    pub note: String,
    /// Who set it.
    pub reviewed_by: String,
    /// When (UTC+8).
    pub reviewed_at: String,
}

/// The sorted, comma-joined entities of a lead.
pub fn entity_key(lead: &LeadRecord) -> String {
    let set: BTreeSet<&str> = lead.entity_ids.iter().map(String::as_str).collect();
    set.into_iter().collect::<Vec<_>>().join(",")
}

/// Appends a review in its own commit.
pub fn record(
    warehouse: &Warehouse,
    lead: &LeadRecord,
    status: &str,
    owner: &str,
    note: &str,
    user: &str,
) -> Result<(), ServeError> {
    let write = |e: &dyn std::fmt::Display| ServeError::Write(e.to_string());
    let commit = warehouse.begin()?.by("review");
    let snapshot = commit.id();
    commit.keep(LEAD_REVIEWS.name, |_| false)?;
    let dir = commit.table_dir(LEAD_REVIEWS.name)?;
    let mut out = ParquetAppender::new(dir.join(format!("review={snapshot:08}.parquet")), LEAD_REVIEWS.columns);
    let key = entity_key(lead);
    out.push(&[
        Cell::Text(Some(&lead.lead_id)),
        Cell::Text(Some(&key)),
        Cell::Text(Some(status)),
        Cell::Text(Some(owner)),
        Cell::Text(Some(note)),
        Cell::Text(Some(user)),
        Cell::Time(Some(chrono::Utc::now().timestamp_micros())),
        Cell::Int(Some(snapshot as i64)),
    ])
    .map_err(|e| write(&e))?;
    out.finish().map_err(|e| write(&e))?;
    commit.commit()?;
    Ok(())
}

/// Every review, oldest first.
pub fn read_all(session: &Session) -> Result<Vec<Review>, ServeError> {
    let (_, batches) = session.collect(
        "SELECT lead_id, entity_ids, status, owner, note, reviewed_by, reviewed_at FROM lead_reviews \
         ORDER BY reviewed_at, link_snapshot",
    )?;
    let text = |row: &serde_json::Map<String, serde_json::Value>, k: &str| {
        row.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned()
    };
    Ok(rows::to_json(&batches)?
        .iter()
        .map(|row| Review {
            lead_id: text(row, "lead_id"),
            entity_ids: text(row, "entity_ids"),
            status: text(row, "status"),
            owner: text(row, "owner"),
            note: text(row, "note"),
            reviewed_by: text(row, "reviewed_by"),
            reviewed_at: text(row, "reviewed_at"),
        })
        .collect())
}

/// Share of entities two leads have in common (Jaccard).
fn overlap(a: &str, b: &BTreeSet<&str>) -> f64 {
    let a: BTreeSet<&str> = a.split(',').filter(|s| !s.is_empty()).collect();
    let common = a.intersection(b).count();
    let union = a.union(b).count();
    if union == 0 { 0.0 } else { common as f64 / union as f64 }
}

/// The review history of each current lead: a review belongs to the current lead that shares most
/// of its entities, half of them at least (the same people, renumbered by a new run).
pub fn by_lead(reviews: &[Review], leads: &[LeadRecord]) -> HashMap<String, Vec<Review>> {
    let sets: Vec<BTreeSet<&str>> = leads.iter().map(|l| l.entity_ids.iter().map(String::as_str).collect()).collect();
    let mut out: HashMap<String, Vec<Review>> = HashMap::new();
    for review in reviews {
        let best = sets
            .iter()
            .enumerate()
            .map(|(i, set)| (overlap(&review.entity_ids, set), i))
            .max_by(|x, y| x.0.total_cmp(&y.0).then(y.1.cmp(&x.1)));
        if let Some((share, i)) = best
            && share >= 0.5
        {
            out.entry(leads[i].lead_id.clone()).or_default().push(review.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(id: &str, entities: &[&str]) -> LeadRecord {
        LeadRecord {
            lead_id: id.into(),
            rank: 1,
            score: 1.0,
            worth_a_look: true,
            category: String::new(),
            kind: String::new(),
            callers: 1,
            call_ids: Vec::new(),
            entity_ids: entities.iter().map(|e| e.to_string()).collect(),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn a_review_follows_its_people_to_the_renumbered_lead() {
        let old = lead("L0003", &["E2", "E1", "E3"]);
        let review = Review {
            lead_id: "L0003".into(),
            entity_ids: entity_key(&old),
            status: "confirmed".into(),
            owner: "li".into(),
            note: String::new(),
            reviewed_by: "li".into(),
            reviewed_at: String::new(),
        };
        assert_eq!(review.entity_ids, "E1,E2,E3");
        let now = [lead("L0001", &["E9", "E8"]), lead("L0007", &["E1", "E2", "E3", "E4"])];
        let found = by_lead(std::slice::from_ref(&review), &now);
        assert_eq!(found.keys().collect::<Vec<_>>(), vec!["L0007"]);
        // Other people: the review belongs to no lead.
        assert!(by_lead(&[review], &[lead("L0001", &["E1", "E7", "E8", "E9"])]).is_empty());
    }
}
