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
}
