//! Pairwise precision, recall and F1 of a clustering against ground truth, counted from cluster sizes
//! (a cluster of n calls holds n(n-1)/2 pairs) so that 1M calls cost one pass, not 10¹² pairs.

use std::collections::HashMap;
use std::hash::Hash;
use std::path::Path;

use super::EvalError;

/// Pairwise agreement of a predicted clustering with the truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairwiseScore {
    /// Items scored (present in both).
    pub items: u64,
    /// Predicted clusters.
    pub clusters: u64,
    /// True clusters (people).
    pub people: u64,
    /// Pairs put together by the prediction.
    pub predicted_pairs: u64,
    /// Pairs together in the truth.
    pub true_pairs: u64,
    /// Pairs together in both.
    pub true_positive_pairs: u64,
}

fn pairs(n: u64) -> u64 {
    n * n.saturating_sub(1) / 2
}

impl PairwiseScore {
    /// Precision (1 when nothing was put together).
    pub fn precision(&self) -> f64 {
        if self.predicted_pairs == 0 { 1.0 } else { self.true_positive_pairs as f64 / self.predicted_pairs as f64 }
    }

    /// Recall (1 when the truth has no pairs).
    pub fn recall(&self) -> f64 {
        if self.true_pairs == 0 { 1.0 } else { self.true_positive_pairs as f64 / self.true_pairs as f64 }
    }

    /// Harmonic mean of precision and recall.
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }
}

/// Scores `(predicted, true)` labels of the same items.
pub fn pairwise<P: Hash + Eq, T: Hash + Eq>(labels: impl IntoIterator<Item = (P, T)>) -> PairwiseScore {
    let mut cells: HashMap<(P, T), u64> = HashMap::new();
    for label in labels {
        *cells.entry(label).or_default() += 1;
    }
    let mut predicted: HashMap<&P, u64> = HashMap::new();
    let mut truth: HashMap<&T, u64> = HashMap::new();
    let mut score =
        PairwiseScore { items: 0, clusters: 0, people: 0, predicted_pairs: 0, true_pairs: 0, true_positive_pairs: 0 };
    for ((p, t), n) in &cells {
        *predicted.entry(p).or_default() += n;
        *truth.entry(t).or_default() += n;
        score.true_positive_pairs += pairs(*n);
        score.items += n;
    }
    score.predicted_pairs = predicted.values().map(|&n| pairs(n)).sum();
    score.true_pairs = truth.values().map(|&n| pairs(n)).sum();
    score.clusters = predicted.len() as u64;
    score.people = truth.len() as u64;
    score
}

/// Reads `call_person.csv` (`call_id,person_id`).
pub fn read_truth(path: &Path) -> Result<HashMap<String, String>, EvalError> {
    let error = |message: String| EvalError::Truth { path: path.to_owned(), message };
    let mut reader = csv::Reader::from_path(path).map_err(|e| error(e.to_string()))?;
    let headers = reader.headers().map_err(|e| error(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim_start_matches('\u{feff}') == name)
            .ok_or_else(|| error(format!("no column {name}")))
    };
    let (call, person) = (column("call_id")?, column("person_id")?);
    let mut truth = HashMap::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| error(format!("line {}: {e}", i + 2)))?;
        match (record.get(call), record.get(person)) {
            (Some(c), Some(p)) if !c.is_empty() && !p.is_empty() => {
                truth.insert(c.to_owned(), p.to_owned());
            }
            _ => return Err(error(format!("line {}: empty call_id or person_id", i + 2))),
        }
    }
    Ok(truth)
}

/// Scores the warehouse's `caller_entities` and the naive "same phone_key" baseline against the
/// generator's `truth/call_person.csv`, over the calls present in both. A call without an entity
/// (ingested after the last resolve) or without a phone is a cluster of its own.
pub fn evaluate_warehouse(warehouse: &Path, truth_dir: &Path) -> Result<(PairwiseScore, PairwiseScore), EvalError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let truth = read_truth(&truth_dir.join("call_person.csv"))?;
    let session =
        crate::sql::open_session(warehouse, crate::sql::SessionOptions { audit: false, ..Default::default() })?;
    let (_, batches) = session.collect(
        "SELECT c.call_id, e.entity_id, c.phone_key FROM calls c LEFT JOIN caller_entities e ON e.call_id = c.call_id",
    )?;
    let mut resolved = Vec::new();
    let mut baseline = Vec::new();
    for batch in &batches {
        let column = |i: usize| {
            datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8)
                .map_err(|e| EvalError::Data(e.to_string()))
        };
        let (calls, entities, phones) = (column(0)?, column(1)?, column(2)?);
        let (calls, entities, phones) =
            (calls.as_string::<i32>(), entities.as_string::<i32>(), phones.as_string::<i32>());
        for row in 0..batch.num_rows() {
            let call = calls.value(row);
            let Some(person) = truth.get(call) else { continue };
            let entity = if entities.is_null(row) { format!("call:{call}") } else { entities.value(row).to_owned() };
            let phone = if phones.is_null(row) { format!("call:{call}") } else { phones.value(row).to_owned() };
            resolved.push((entity, person.as_str()));
            baseline.push((phone, person.as_str()));
        }
    }
    Ok((pairwise(resolved), pairwise(baseline)))
}

/// What the calls of one (entity, person) cell show of their caller: the phones, the names as
/// given and the districts.
#[derive(Debug, Default)]
struct CellFacts {
    calls: u64,
    phones: std::collections::BTreeSet<String>,
    /// Normalised full names given.
    full_names: std::collections::BTreeSet<String>,
    districts: std::collections::BTreeSet<String>,
}

/// Missed pairs (one person, two entities) and wrong pairs (two people, one entity), counted by
/// what sets the two sides apart or together. The causes are read from the calls' own fields, in
/// this order: for a missed pair, no phone in common with (`+`) how the names differ, or on a
/// common phone how the names differ; for a wrong pair, a phone in common (a household's or a
/// shop's line), one full name (a homonym), or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ErrorCauses {
    /// Missed pairs by cause.
    pub missed: std::collections::BTreeMap<String, u64>,
    /// Wrong pairs by cause.
    pub wrong: std::collections::BTreeMap<String, u64>,
}

fn name_difference(a: &CellFacts, b: &CellFacts) -> &'static str {
    if a.full_names.intersection(&b.full_names).next().is_some() {
        "same name"
    } else if a.full_names.is_empty() || b.full_names.is_empty() {
        "surname or informal form only"
    } else {
        let close = a.full_names.iter().any(|x| {
            b.full_names.iter().any(|y| {
                x.chars().count() == y.chars().count() && x.chars().zip(y.chars()).filter(|(p, q)| p != q).count() == 1
            })
        });
        if close { "name off by one character" } else { "other full name" }
    }
}

fn missed_cause(a: &CellFacts, b: &CellFacts) -> String {
    let names = name_difference(a, b);
    let phones = if a.phones.intersection(&b.phones).next().is_some() { "common phone" } else { "no common phone" };
    let district = if a.districts.intersection(&b.districts).next().is_none() { " + other district" } else { "" };
    format!("{phones} + {names}{district}")
}

fn wrong_cause(a: &CellFacts, b: &CellFacts) -> String {
    let phone = a.phones.intersection(&b.phones).next().is_some();
    let name = a.full_names.intersection(&b.full_names).next().is_some();
    match (phone, name) {
        (true, true) => "shared phone + same name",
        (true, false) => "shared phone",
        (false, true) => "homonym (same full name, no common phone)",
        (false, false) => "neither phone nor name in common",
    }
    .to_owned()
}

/// Breaks the missed and wrong pairs of `caller_entities` down by cause (see [`ErrorCauses`]).
/// Reads the restricted `calls_pii` (an investigator's evaluation); prints no value of it.
pub fn error_causes(warehouse: &Path, truth_dir: &Path) -> Result<ErrorCauses, EvalError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let truth = read_truth(&truth_dir.join("call_person.csv"))?;
    let options =
        crate::sql::SessionOptions { audit: false, role: crate::sql::Role::Investigator, ..Default::default() };
    let session = crate::sql::open_session(warehouse, options)?;
    let (_, batches) = session.collect(
        "SELECT c.call_id, e.entity_id, c.phone_key, p.caller_name, COALESCE(c.district_key, c.district) \
         FROM calls c LEFT JOIN caller_entities e ON e.call_id = c.call_id LEFT JOIN calls_pii p ON p.call_id = c.call_id",
    )?;
    let mut cells: HashMap<(String, String), CellFacts> = HashMap::new();
    for batch in &batches {
        let columns: Vec<_> = (0..5)
            .map(|i| {
                datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8)
                    .map_err(|e| EvalError::Data(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        let text = |i: usize, row: usize| {
            let column = columns[i].as_string::<i32>();
            (!column.is_null(row)).then(|| column.value(row))
        };
        for row in 0..batch.num_rows() {
            let Some(call) = text(0, row) else { continue };
            let Some(person) = truth.get(call) else { continue };
            let entity = text(1, row).map_or_else(|| format!("call:{call}"), str::to_owned);
            let facts = cells.entry((entity, person.clone())).or_default();
            facts.calls += 1;
            if let Some(phone) = text(2, row) {
                facts.phones.insert(phone.to_owned());
            }
            match text(3, row).map(crate::pii::normalize_name) {
                Some(parts) if parts.form == crate::pii::NameForm::Full => {
                    facts.full_names.insert(parts.normalised);
                }
                _ => {}
            }
            if let Some(district) = text(4, row) {
                facts.districts.insert(district.to_owned());
            }
        }
    }
    let mut by_person: HashMap<&str, Vec<&CellFacts>> = HashMap::new();
    let mut by_entity: HashMap<&str, Vec<&CellFacts>> = HashMap::new();
    for ((entity, person), facts) in &cells {
        by_person.entry(person).or_default().push(facts);
        by_entity.entry(entity).or_default().push(facts);
    }
    let mut causes = ErrorCauses::default();
    let count = |groups: HashMap<&str, Vec<&CellFacts>>,
                 out: &mut std::collections::BTreeMap<String, u64>,
                 cause: fn(&CellFacts, &CellFacts) -> String| {
        for list in groups.values() {
            for i in 0..list.len() {
                for j in i + 1..list.len() {
                    *out.entry(cause(list[i], list[j])).or_default() += list[i].calls * list[j].calls;
                }
            }
        }
    };
    count(by_person, &mut causes.missed, missed_cause);
    count(by_entity, &mut causes.wrong, wrong_cause);
    Ok(causes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_counts_come_from_cluster_sizes() {
        // Truth: {1,2,3} {4,5}; prediction: {1,2} {3,4,5}.
        let labels = [("a", "x"), ("a", "x"), ("b", "x"), ("b", "y"), ("b", "y")];
        let score = pairwise(labels);
        assert_eq!(score.true_pairs, 3 + 1);
        assert_eq!(score.predicted_pairs, 1 + 3);
        assert_eq!(score.true_positive_pairs, 1 + 1);
        assert!((score.precision() - 0.5).abs() < 1e-12);
        assert!((score.recall() - 0.5).abs() < 1e-12);
        let perfect = pairwise([(1, 1), (1, 1), (2, 2)]);
        assert_eq!(perfect.f1(), 1.0);
    }

    #[test]
    fn errors_are_put_down_to_what_the_calls_show() {
        let facts = |phones: &[&str], names: &[&str], district: &str| CellFacts {
            calls: 1,
            phones: phones.iter().map(|s| s.to_string()).collect(),
            full_names: names.iter().map(|s| s.to_string()).collect(),
            districts: [district.to_string()].into_iter().collect(),
        };
        let home = facts(&["p1"], &["王建国"], "西陵");
        assert_eq!(
            missed_cause(&home, &facts(&["p2"], &["王建國"], "西陵")),
            "no common phone + name off by one character"
        );
        assert_eq!(missed_cause(&home, &facts(&["p1"], &[], "西陵")), "common phone + surname or informal form only");
        assert_eq!(
            missed_cause(&home, &facts(&["p3"], &["王建国"], "伍家岗")),
            "no common phone + same name + other district"
        );
        assert_eq!(wrong_cause(&home, &facts(&["p1"], &["李娜"], "西陵")), "shared phone");
        assert_eq!(
            wrong_cause(&home, &facts(&["p9"], &["王建国"], "西陵")),
            "homonym (same full name, no common phone)"
        );
    }
}
