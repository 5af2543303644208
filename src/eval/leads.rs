//! Leads against the generator's `truth/rings.csv`: for each planted group, the rank of the lead
//! that matches it best, and that lead's precision and recall over the group's calls.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::EvalError;
use crate::link::concern::{KIND_CONCERN, KIND_GROUP};
use crate::link::explore::{LeadRecord, read_leads};

/// How one planted group was found.
#[derive(Debug, Clone, Serialize)]
pub struct GroupScore {
    /// Group id (`RING-1`).
    pub ring_id: String,
    /// Kind of group.
    pub kind: String,
    /// Calls of the group present in the warehouse.
    pub calls: usize,
    /// Rank of the best-matching lead (1 is the top), when any lead holds one of its calls.
    pub rank: Option<usize>,
    /// That lead's id.
    pub lead_id: Option<String>,
    /// That lead's score.
    pub score: Option<f64>,
    /// Share of the lead's calls that belong to the group.
    pub precision: f64,
    /// Share of the group's calls that the lead holds.
    pub recall: f64,
    /// Whether its best lead is in the top 10 with precision and recall of at least 0.8.
    pub found: bool,
    /// Rank of that lead among the leads of its kind (organised groups for a group, persons of
    /// concern for a repeat caller): what `WHERE kind = … ORDER BY rank` shows.
    pub rank_in_kind: Option<usize>,
    /// Whether that lead is in the top 10 of its kind with precision and recall of at least 0.8.
    pub found_in_kind: bool,
    /// How its targets were chosen (`repeat`, `distinct`, `none`), from `truth/groups.csv`.
    pub target_mode: Option<String>,
    /// The ties the generator gave it (`shared_phone`, `script`, …), from `truth/groups.csv`.
    pub ties: Vec<String>,
}

/// Rank, precision and recall a planted group's best lead must reach to count as found.
pub const FOUND_RANK: usize = 10;

/// Precision and recall a found group's best lead reaches at least.
pub const FOUND_SHARE: f64 = 0.8;

/// Share of groups found, overall and broken down.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Recall {
    /// Groups found / groups.
    pub found: usize,
    /// Groups.
    pub groups: usize,
}

/// What evaluation found.
#[derive(Debug, Clone, Serialize)]
pub struct LeadsEvaluation {
    /// One row per planted group.
    pub groups: Vec<GroupScore>,
    /// Each planted repeat caller (`truth/repeat_callers.csv`) and its best lead.
    pub persons_of_concern: Vec<GroupScore>,
    /// Leads in all.
    pub leads: usize,
    /// Leads at or above the "worth a look" score.
    pub worth_a_look: usize,
    /// Leads worth a look that match no planted group (their best group's precision under 0.5).
    pub unplanted_worth_a_look: usize,
    /// Organised groups found (recall@10), in all.
    pub recall_at_10: Recall,
    /// Organised groups whose lead is in the top 10 organised groups (precision and recall ≥ 0.8).
    pub recall_at_10_in_kind: Recall,
    /// The same by kind of group.
    pub recall_by_kind: BTreeMap<String, Recall>,
    /// The same by tie the group had (a group counts under each of its ties).
    pub recall_by_tie: BTreeMap<String, Recall>,
    /// Persons of concern found (recall@10).
    pub concerns_at_10: Recall,
    /// Persons of concern whose lead is in the top 10 persons of concern.
    pub concerns_at_10_in_kind: Recall,
    /// Mean precision of the leads worth a look (against their best-matching planted pattern).
    pub worth_a_look_precision: f64,
}

/// One row of `truth/groups.csv`: how a planted group was drawn.
#[derive(Debug, Clone, Default)]
pub struct GroupDraw {
    /// How its targets were chosen.
    pub target_mode: Option<String>,
    /// Its ties.
    pub ties: Vec<String>,
}

/// Reads `truth/groups.csv` (`ring_id,…,target_mode,…,ties` with ties `;`-separated), if present.
/// Unlike `generate::truth::read_groups`, which checks every column this project's generator
/// writes, it needs only `ring_id`: another generator's truth may say less.
pub fn read_group_draws(path: &Path) -> Result<HashMap<String, GroupDraw>, EvalError> {
    if !path.exists() {
        return Ok(HashMap::new());
    }
    let error = |message: String| EvalError::Truth { path: path.to_owned(), message };
    let mut reader = csv::Reader::from_path(path).map_err(|e| error(e.to_string()))?;
    let headers = reader.headers().map_err(|e| error(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim_start_matches('\u{feff}') == name);
    let ring = column("ring_id").ok_or_else(|| error("no column ring_id".to_owned()))?;
    let (mode, ties) = (column("target_mode"), column("ties"));
    let mut out = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| error(format!("line {}: {e}", i + 2)))?;
        let Some(id) = record.get(ring).filter(|r| !r.is_empty()) else {
            return Err(error(format!("line {}: empty ring_id", i + 2)));
        };
        let draw = GroupDraw {
            target_mode: mode.and_then(|m| record.get(m)).filter(|m| !m.is_empty()).map(str::to_owned),
            ties: ties
                .and_then(|t| record.get(t))
                .map(|t| t.split(';').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect())
                .unwrap_or_default(),
        };
        out.insert(id.to_owned(), draw);
    }
    Ok(out)
}

/// Reads `ring_id,kind,call_id[,role]`.
pub fn read_rings(path: &Path) -> Result<Vec<(String, String, String)>, EvalError> {
    let error = |message: String| EvalError::Truth { path: path.to_owned(), message };
    let mut reader = csv::Reader::from_path(path).map_err(|e| error(e.to_string()))?;
    let headers = reader.headers().map_err(|e| error(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| error(format!("no column {name}")))
    };
    let (ring, kind, call) = (column("ring_id")?, column("kind")?, column("call_id")?);
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| error(format!("line {}: {e}", i + 2)))?;
        match (record.get(ring), record.get(kind), record.get(call)) {
            (Some(r), Some(k), Some(c)) if !r.is_empty() && !c.is_empty() => {
                rows.push((r.to_owned(), k.to_owned(), c.to_owned()))
            }
            _ => return Err(error(format!("line {}: empty ring_id or call_id", i + 2))),
        }
    }
    Ok(rows)
}

/// The calls `rings.csv` marks as `seed` (the ordinary disputes an investigation starts from).
pub fn seed_calls(path: &Path) -> Result<Vec<String>, EvalError> {
    let error = |message: String| EvalError::Truth { path: path.to_owned(), message };
    let mut reader = csv::Reader::from_path(path).map_err(|e| error(e.to_string()))?;
    let headers = reader.headers().map_err(|e| error(e.to_string()))?.clone();
    let (Some(call), Some(role)) =
        (headers.iter().position(|h| h == "call_id"), headers.iter().position(|h| h == "role"))
    else {
        return Ok(Vec::new());
    };
    let mut seeds = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| error(format!("line {}: {e}", i + 2)))?;
        if record.get(role) == Some("seed")
            && let Some(c) = record.get(call)
        {
            seeds.push(c.to_owned());
        }
    }
    Ok(seeds)
}

/// Kind given to a planted repeat caller read from `repeat_callers.csv`.
pub const REPEAT_CALLER_KIND: &str = "repeat_caller";

/// `truth/repeat_callers.csv` (`person_id,call_id,…`) as rings of kind [`REPEAT_CALLER_KIND`].
pub fn read_repeat_callers(path: &Path) -> Result<Vec<(String, String, String)>, EvalError> {
    let truth = |message: String| EvalError::Truth { path: path.to_owned(), message };
    let mut reader = csv::Reader::from_path(path).map_err(|e| truth(e.to_string()))?;
    let headers = reader.headers().map_err(|e| truth(e.to_string()))?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name).ok_or_else(|| truth(format!("no column {name}")));
    let (person, call) = (column("person_id")?, column("call_id")?);
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| truth(format!("line {}: {e}", i + 2)))?;
        let (Some(p), Some(c)) = (record.get(person), record.get(call)) else { continue };
        out.push((p.to_owned(), REPEAT_CALLER_KIND.to_owned(), c.to_owned()));
    }
    Ok(out)
}

/// Scores the warehouse's leads against `truth_dir/rings.csv`.
pub fn evaluate_leads(warehouse: &Path, truth_dir: &Path) -> Result<LeadsEvaluation, EvalError> {
    let mut rings = read_rings(&truth_dir.join("rings.csv"))?;
    // Planted repeat callers (persons of concern) are scored like groups, each person a "ring".
    let repeat = truth_dir.join("repeat_callers.csv");
    if repeat.exists() {
        rings.extend(read_repeat_callers(&repeat)?);
    }
    let session = crate::link::session(warehouse)?;
    let leads = read_leads(&session, None)?;
    let (_, batches) = session.collect("SELECT call_id FROM calls")?;
    let mut present: HashSet<String> = HashSet::new();
    for batch in &batches {
        let ids = crate::catalog::TextColumn::of(batch.column(0)).map_err(|e| EvalError::Data(e.to_string()))?;
        for row in 0..batch.num_rows() {
            if let Some(id) = ids.get(row) {
                present.insert(id.to_owned());
            }
        }
    }
    let mut evaluation = score(&rings, &leads, &present);
    let draws = read_group_draws(&truth_dir.join("groups.csv"))?;
    if !draws.is_empty() {
        for g in &mut evaluation.groups {
            if let Some(draw) = draws.get(&g.ring_id) {
                g.target_mode = draw.target_mode.clone();
                g.ties = draw.ties.clone();
            }
        }
        evaluation.recall_by_tie = BTreeMap::new();
        for g in &evaluation.groups {
            for tie in &g.ties {
                let slot = evaluation.recall_by_tie.entry(tie.clone()).or_default();
                slot.groups += 1;
                slot.found += usize::from(g.found);
            }
        }
    }
    Ok(evaluation)
}

/// Scores leads against planted groups (calls absent from the warehouse are left out).
pub fn score(rings: &[(String, String, String)], leads: &[LeadRecord], present: &HashSet<String>) -> LeadsEvaluation {
    let mut groups: BTreeMap<&str, (&str, HashSet<&str>)> = BTreeMap::new();
    for (ring, kind, call) in rings {
        if present.contains(call) {
            groups.entry(ring).or_insert_with(|| (kind, HashSet::new())).1.insert(call);
        }
    }
    // Each lead's rank among the leads of its kind.
    let mut seen_of_kind: HashMap<&str, usize> = HashMap::new();
    let rank_in_kind: Vec<usize> = leads
        .iter()
        .map(|l| {
            let n = seen_of_kind.entry(l.kind.as_str()).or_default();
            *n += 1;
            *n
        })
        .collect();
    let mut best_precision_of_lead: HashMap<&str, f64> = HashMap::new();
    let mut scores = Vec::new();
    for (ring, (kind, calls)) in &groups {
        let mut best: Option<(f64, usize, &LeadRecord, f64, f64)> = None;
        for (i, lead) in leads.iter().enumerate() {
            let hits = lead.call_ids.iter().filter(|c| calls.contains(c.as_str())).count();
            if hits == 0 {
                continue;
            }
            let precision = hits as f64 / lead.call_ids.len() as f64;
            let recall = hits as f64 / calls.len() as f64;
            let f1 = 2.0 * precision * recall / (precision + recall);
            let slot = best_precision_of_lead.entry(&lead.lead_id).or_default();
            *slot = slot.max(precision);
            if best.as_ref().is_none_or(|b| f1 > b.0) {
                best = Some((f1, i + 1, lead, precision, recall));
            }
        }
        scores.push(match best {
            Some((_, rank, lead, precision, recall)) => GroupScore {
                ring_id: (*ring).to_owned(),
                kind: (*kind).to_owned(),
                calls: calls.len(),
                rank: Some(rank),
                lead_id: Some(lead.lead_id.clone()),
                score: Some(lead.score),
                precision,
                recall,
                found: rank <= FOUND_RANK && precision >= FOUND_SHARE && recall >= FOUND_SHARE,
                rank_in_kind: Some(rank_in_kind[rank - 1]),
                found_in_kind: rank_in_kind[rank - 1] <= FOUND_RANK
                    && precision >= FOUND_SHARE
                    && recall >= FOUND_SHARE
                    && lead.kind == if *kind == REPEAT_CALLER_KIND { KIND_CONCERN } else { KIND_GROUP },
                target_mode: None,
                ties: Vec::new(),
            },
            None => GroupScore {
                ring_id: (*ring).to_owned(),
                kind: (*kind).to_owned(),
                calls: calls.len(),
                rank: None,
                lead_id: None,
                score: None,
                precision: 0.0,
                recall: 0.0,
                found: false,
                rank_in_kind: None,
                found_in_kind: false,
                target_mode: None,
                ties: Vec::new(),
            },
        });
    }
    let worth: Vec<&LeadRecord> = leads.iter().filter(|l| l.worth_a_look).collect();
    let (persons_of_concern, scores): (Vec<GroupScore>, Vec<GroupScore>) =
        scores.into_iter().partition(|g| g.kind == REPEAT_CALLER_KIND);
    let recall = |list: &[&GroupScore]| Recall { found: list.iter().filter(|g| g.found).count(), groups: list.len() };
    let in_kind =
        |list: &[GroupScore]| Recall { found: list.iter().filter(|g| g.found_in_kind).count(), groups: list.len() };
    let mut by_kind: BTreeMap<String, Vec<&GroupScore>> = BTreeMap::new();
    for g in &scores {
        by_kind.entry(g.kind.clone()).or_default().push(g);
    }
    let precision_of = |l: &LeadRecord| best_precision_of_lead.get(l.lead_id.as_str()).copied().unwrap_or(0.0);
    LeadsEvaluation {
        recall_at_10: recall(&scores.iter().collect::<Vec<_>>()),
        recall_by_kind: by_kind.iter().map(|(k, list)| (k.clone(), recall(list))).collect(),
        recall_by_tie: BTreeMap::new(),
        concerns_at_10: recall(&persons_of_concern.iter().collect::<Vec<_>>()),
        recall_at_10_in_kind: in_kind(&scores),
        concerns_at_10_in_kind: in_kind(&persons_of_concern),
        worth_a_look_precision: if worth.is_empty() {
            0.0
        } else {
            worth.iter().map(|l| precision_of(l)).sum::<f64>() / worth.len() as f64
        },
        groups: scores,
        persons_of_concern,
        leads: leads.len(),
        worth_a_look: worth.len(),
        unplanted_worth_a_look: worth.iter().filter(|l| precision_of(l) < 0.5).count(),
    }
}
