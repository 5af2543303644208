//! Readers of the ground-truth files a generator writes beside a batch (never read by ingest).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::contract::{Reason, Table};

/// Errors reading a truth file; each names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    /// Unreadable file or CSV.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A row with a missing or invalid field.
    #[error("{path}: line {line}: {message}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// One deliberately broken row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MalformedRow {
    /// Table of the row.
    pub table: Table,
    /// Line or row number in that table's file.
    pub line: u64,
    /// The reason the validator must give.
    pub reason: Reason,
    /// The call concerned (may be empty).
    pub call_id: String,
}

/// Rows of a CSV file as (line, column → value).
type Rows = Vec<(u64, HashMap<String, String>)>;

fn read_rows(path: &Path) -> Result<Rows, TruthError> {
    let read = |message: String| TruthError::Read { path: path.to_owned(), message };
    let mut reader = csv::Reader::from_path(path).map_err(|e| read(e.to_string()))?;
    let headers = reader.headers().map_err(|e| read(e.to_string()))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| read(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, headers.iter().zip(record.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()));
    }
    Ok(rows)
}

fn field<'a>(path: &Path, line: u64, row: &'a HashMap<String, String>, name: &str) -> Result<&'a str, TruthError> {
    row.get(name).map(String::as_str).ok_or_else(|| TruthError::Row {
        path: path.to_owned(),
        line,
        message: format!("no {name} column"),
    })
}

/// Reads `truth/malformed.csv`.
pub fn read_malformed(truth_dir: &Path) -> Result<Vec<MalformedRow>, TruthError> {
    let path = truth_dir.join("malformed.csv");
    read_rows(&path)?
        .into_iter()
        .map(|(line, row)| {
            let bad = |message: String| TruthError::Row { path: path.clone(), line, message };
            let table = field(&path, line, &row, "table").map(|t| Table::from_name(t).unwrap_or(Table::Calls))?;
            let reason_code = field(&path, line, &row, "reason")?;
            let reason = Reason::from_code(reason_code).ok_or_else(|| bad(format!("unknown reason {reason_code}")))?;
            let number = field(&path, line, &row, "line")?;
            let number = number.parse().map_err(|_| bad(format!("line {number:?} is not a number")))?;
            Ok(MalformedRow { table, line: number, reason, call_id: field(&path, line, &row, "call_id")?.to_owned() })
        })
        .collect()
}

/// Reads `truth/call_person.csv` into call id → person id.
pub fn read_call_person(truth_dir: &Path) -> Result<HashMap<String, String>, TruthError> {
    let path = truth_dir.join("call_person.csv");
    read_rows(&path)?
        .into_iter()
        .map(|(line, row)| {
            Ok((field(&path, line, &row, "call_id")?.to_owned(), field(&path, line, &row, "person_id")?.to_owned()))
        })
        .collect()
}

/// One row of `truth/rings.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingCall {
    /// Group id.
    pub ring_id: String,
    /// Kind of group.
    pub kind: String,
    /// A call of the group.
    pub call_id: String,
    /// Role of the call.
    pub role: String,
}

/// Reads `truth/rings.csv`.
pub fn read_rings(truth_dir: &Path) -> Result<Vec<RingCall>, TruthError> {
    let path = truth_dir.join("rings.csv");
    read_rows(&path)?
        .into_iter()
        .map(|(line, row)| {
            Ok(RingCall {
                ring_id: field(&path, line, &row, "ring_id")?.to_owned(),
                kind: field(&path, line, &row, "kind")?.to_owned(),
                call_id: field(&path, line, &row, "call_id")?.to_owned(),
                role: row.get("role").cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads any truth CSV as rows of column → value (for hotspots.csv and repeat_callers.csv).
pub fn read_table(path: &Path) -> Result<Vec<HashMap<String, String>>, TruthError> {
    Ok(read_rows(path)?.into_iter().map(|(_, row)| row).collect())
}
