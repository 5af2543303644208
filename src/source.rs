//! Reading export files (CSV, JSON Lines, Parquet) into raw records in contract column order, with their line numbers.

use std::collections::{BTreeSet, HashMap};
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::error::ArrowError;
use datafusion::parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use crate::contract::{Call, Presence, Reason, Table, Violation, WorkOrder, validate_call, validate_work_order};

/// Errors that refuse a whole file. Each names the file; none repeats a field value.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The extension is none of .csv, .jsonl, .ndjson, .parquet.
    #[error("{path}: unknown format (expected .csv, .jsonl, .ndjson or .parquet)")]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file is empty or has no header.
    #[error("{path}: empty file (no header or no columns)")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The columns name neither table and none was given.
    #[error(
        "{path}: cannot tell which table this is (no order_id, nor call_id with narrative); pass the table explicitly"
    )]
    UnknownTable {
        /// The file.
        path: PathBuf,
    },
    /// Required columns are absent.
    #[error("{path}: missing required column(s) of {table}: {}", missing.join(", "))]
    MissingColumns {
        /// The file.
        path: PathBuf,
        /// The table it was read as.
        table: Table,
        /// The absent columns.
        missing: Vec<&'static str>,
    },
    /// Text that is not UTF-8.
    #[error("{path}: line {line}: not valid UTF-8")]
    NotUtf8 {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
    },
    /// A CSV syntax error that makes the rest of the file unreadable.
    #[error("{path}: line {line}: invalid CSV: {message}")]
    Csv {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// Not a readable Parquet file, or a column of an unusable type.
    #[error("{path}: invalid Parquet: {message}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// Input file formats, chosen by extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl SourceFormat {
    /// The format of a path, by its extension.
    pub fn of_path(path: &Path) -> Option<SourceFormat> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "csv" => Some(SourceFormat::Csv),
            "jsonl" | "ndjson" => Some(SourceFormat::Jsonl),
            "parquet" => Some(SourceFormat::Parquet),
            _ => None,
        }
    }
}

/// One record read from a file: where it is and its fields in contract order, or why it is unreadable.
#[derive(Debug, Clone)]
pub struct SourceRecord {
    /// Line in a CSV or JSON Lines file (header is line 1 in CSV); 1-based row number in Parquet.
    pub line: u64,
    /// Fields in contract column order, or a record-level violation.
    pub fields: Result<Vec<Option<String>>, Violation>,
}

enum Inner {
    Csv {
        reader: csv::Reader<File>,
        positions: Vec<Option<usize>>,
        width: usize,
        record: csv::StringRecord,
    },
    Jsonl {
        reader: BufReader<File>,
        line: u64,
        buffer: String,
        first: Option<(u64, serde_json::Value)>,
    },
    Parquet {
        reader: ParquetRecordBatchReader,
        positions: Vec<Option<usize>>,
        batch: Option<(RecordBatch, Vec<Option<usize>>)>,
        next_row: usize,
        rows_before: u64,
    },
}

/// A streaming reader of one export file.
pub struct SourceReader {
    path: PathBuf,
    table: Table,
    format: SourceFormat,
    unknown_columns: BTreeSet<String>,
    inner: Inner,
    failed: bool,
}

/// The table a file holds, where each contract column is in it, and the columns it has that the contract does not know.
type ColumnCheck = (Table, Vec<Option<usize>>, BTreeSet<String>);

fn check_columns(path: &Path, names: &[String], table: Option<Table>) -> Result<ColumnCheck, SourceError> {
    let table = match table {
        Some(t) => t,
        None => Table::detect(names.iter().map(String::as_str))
            .ok_or_else(|| SourceError::UnknownTable { path: path.into() })?,
    };
    let positions: Vec<Option<usize>> =
        table.columns().iter().map(|c| names.iter().position(|n| n == c.name)).collect();
    let missing: Vec<&'static str> = table
        .columns()
        .iter()
        .zip(&positions)
        .filter(|(c, p)| p.is_none() && c.presence != Presence::Optional)
        .map(|(c, _)| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(SourceError::MissingColumns { path: path.into(), table, missing });
    }
    let unknown = names.iter().filter(|n| table.column_index(n).is_none()).cloned().collect();
    Ok((table, positions, unknown))
}

impl SourceReader {
    /// Opens a file, checks its columns and detects its table unless `table` is given.
    pub fn open(path: &Path, table: Option<Table>) -> Result<SourceReader, SourceError> {
        let format = SourceFormat::of_path(path).ok_or_else(|| SourceError::UnknownFormat { path: path.into() })?;
        let file = File::open(path).map_err(|source| SourceError::Io { path: path.into(), source })?;
        let (table, unknown_columns, inner) = match format {
            SourceFormat::Csv => {
                let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(file);
                let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
                let names: Vec<String> = headers
                    .iter()
                    .enumerate()
                    .map(|(i, h)| if i == 0 { h.trim_start_matches('\u{feff}') } else { h }.trim().to_owned())
                    .collect();
                if names.iter().all(String::is_empty) {
                    return Err(SourceError::Empty { path: path.into() });
                }
                let (table, positions, unknown) = check_columns(path, &names, table)?;
                let width = names.len();
                (table, unknown, Inner::Csv { reader, positions, width, record: csv::StringRecord::new() })
            }
            SourceFormat::Jsonl => {
                let mut reader = BufReader::new(file);
                let mut line = 0;
                let mut buffer = String::new();
                // The first object names the columns.
                let first = loop {
                    buffer.clear();
                    let n = reader.read_line(&mut buffer).map_err(|e| read_error(path, line + 1, e))?;
                    if n == 0 {
                        return Err(SourceError::Empty { path: path.into() });
                    }
                    line += 1;
                    if !buffer.trim().is_empty() {
                        break serde_json::from_str::<serde_json::Value>(&buffer).ok().map(|v| (line, v));
                    }
                };
                let names: Vec<String> = match &first {
                    Some((_, serde_json::Value::Object(map))) => map.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                // A JSON line may omit a key whose value is null, so columns cannot be required here;
                // a missing required value is reported row by row instead.
                let table = match table {
                    Some(t) => t,
                    None => Table::detect(names.iter().map(String::as_str))
                        .ok_or_else(|| SourceError::UnknownTable { path: path.into() })?,
                };
                let unknown = names.iter().filter(|n| table.column_index(n).is_none()).cloned().collect();
                let first = first.or(Some((line, serde_json::Value::String(buffer.clone()))));
                (table, unknown, Inner::Jsonl { reader, line, buffer: String::new(), first })
            }
            SourceFormat::Parquet => {
                let builder = std::panic::catch_unwind(|| ParquetRecordBatchReaderBuilder::try_new(file))
                    .map_err(|_| parquet_error(path, "corrupt footer (the decoder gave up)"))?
                    .map_err(|e| parquet_error(path, e))?;
                let names: Vec<String> = builder.schema().fields().iter().map(|f| f.name().clone()).collect();
                let (table, positions, unknown) = check_columns(path, &names, table)?;
                let reader = builder.with_batch_size(8192).build().map_err(|e| parquet_error(path, e))?;
                (table, unknown, Inner::Parquet { reader, positions, batch: None, next_row: 0, rows_before: 0 })
            }
        };
        Ok(SourceReader { path: path.into(), table, format, unknown_columns, inner, failed: false })
    }

    /// The table the file holds.
    pub fn table(&self) -> Table {
        self.table
    }

    /// The file's format.
    pub fn format(&self) -> SourceFormat {
        self.format
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Columns the contract does not know (ignored; reported once per file).
    pub fn unknown_columns(&self) -> &BTreeSet<String> {
        &self.unknown_columns
    }

    fn next_inner(&mut self) -> Option<Result<SourceRecord, SourceError>> {
        let path = &self.path;
        let table = self.table;
        match &mut self.inner {
            Inner::Csv { reader, positions, width, record } => match reader.read_record(record) {
                Ok(false) => None,
                Ok(true) => {
                    let line = record.position().map_or(0, |p| p.line());
                    let fields = if record.len() != *width {
                        Err(Violation::new(
                            Reason::MalformedRecord,
                            None,
                            format!("{} fields where the header has {width}", record.len()),
                        ))
                    } else {
                        Ok(positions
                            .iter()
                            .map(|p| p.and_then(|i| record.get(i)).filter(|v| !v.is_empty()).map(str::to_owned))
                            .collect())
                    };
                    Some(Ok(SourceRecord { line, fields }))
                }
                Err(e) => Some(Err(csv_error(path, e))),
            },
            Inner::Jsonl { reader, line, buffer, first } => {
                if let Some((first_line, value)) = first.take() {
                    return Some(Ok(SourceRecord { line: first_line, fields: json_fields(table, value) }));
                }
                loop {
                    buffer.clear();
                    match reader.read_line(buffer) {
                        Ok(0) => return None,
                        Ok(_) => {
                            *line += 1;
                            if buffer.trim().is_empty() {
                                continue;
                            }
                            let fields = match serde_json::from_str::<serde_json::Value>(buffer) {
                                Ok(value) => json_fields(table, value),
                                Err(e) => Err(Violation::new(
                                    Reason::MalformedRecord,
                                    None,
                                    format!("invalid JSON at column {}: {:?}", e.column(), e.classify()),
                                )),
                            };
                            return Some(Ok(SourceRecord { line: *line, fields }));
                        }
                        Err(e) => return Some(Err(read_error(path, *line + 1, e))),
                    }
                }
            }
            Inner::Parquet { reader, positions, batch, next_row, rows_before } => loop {
                if let Some((current, columns)) = batch {
                    if *next_row < current.num_rows() {
                        let row = *next_row;
                        *next_row += 1;
                        let fields = columns
                            .iter()
                            .map(|c| {
                                c.and_then(|i| {
                                    let array = current.column(i).as_string::<i32>();
                                    (!array.is_null(row))
                                        .then(|| array.value(row))
                                        .filter(|v| !v.is_empty())
                                        .map(str::to_owned)
                                })
                            })
                            .collect();
                        return Some(Ok(SourceRecord { line: *rows_before + row as u64 + 1, fields: Ok(fields) }));
                    }
                    *rows_before += current.num_rows() as u64;
                }
                // The parquet crate panics on some corrupt pages (a bit-packed run longer than its
                // buffer, found by tests/fuzz.rs): such a file is refused like any corrupt one.
                let next =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.next())).unwrap_or_else(|_| {
                        Some(Err(ArrowError::ParquetError("corrupt page (the decoder gave up)".into())))
                    });
                match next {
                    None => return None,
                    Some(Err(e)) => return Some(Err(parquet_error(path, e))),
                    Some(Ok(raw)) => match parquet_as_text(&raw, positions) {
                        Ok(converted) => {
                            *batch = Some(converted);
                            *next_row = 0;
                        }
                        Err(message) => {
                            return Some(Err(SourceError::Parquet { path: path.clone(), message }));
                        }
                    },
                }
            },
        }
    }
}

impl Iterator for SourceReader {
    type Item = Result<SourceRecord, SourceError>;

    /// The next record; after a file-level error the reader stops.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.next_inner();
        if matches!(item, Some(Err(_))) {
            self.failed = true;
        }
        item
    }
}

fn json_fields(table: Table, value: serde_json::Value) -> Result<Vec<Option<String>>, Violation> {
    let serde_json::Value::Object(map) = value else {
        return Err(Violation::new(Reason::MalformedRecord, None, "line is not a JSON object"));
    };
    table
        .columns()
        .iter()
        .map(|c| match map.get(c.name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) => Ok((!s.is_empty()).then(|| s.clone())),
            Some(serde_json::Value::Number(n)) => Ok(Some(n.to_string())),
            Some(serde_json::Value::Bool(b)) => Ok(Some(b.to_string())),
            Some(_) => {
                Err(Violation::new(Reason::BadType, Some(c.name), "an object or array where a value is expected"))
            }
        })
        .collect()
}

/// Casts the contract columns of a Parquet batch to text, returning the batch and where each column is.
fn parquet_as_text(
    batch: &RecordBatch,
    positions: &[Option<usize>],
) -> Result<(RecordBatch, Vec<Option<usize>>), String> {
    let mut columns = Vec::new();
    let mut fields = Vec::new();
    let mut at = Vec::new();
    for position in positions {
        match position {
            Some(i) => {
                let column = batch.column(*i);
                let name = batch.schema().field(*i).name().clone();
                let text = match column.data_type() {
                    DataType::Utf8 => column.clone(),
                    DataType::Timestamp(_, _) => {
                        // RFC 3339 in UTC (or naive, which the contract reads as Asia/Shanghai).
                        cast(column, &DataType::Utf8).map_err(|e| format!("column {name}: {e}"))?
                    }
                    DataType::Struct(_)
                    | DataType::List(_)
                    | DataType::LargeList(_)
                    | DataType::Map(_, _)
                    | DataType::Binary
                    | DataType::LargeBinary => {
                        return Err(format!("column {name} has unusable type {}", column.data_type()));
                    }
                    _ => cast(column, &DataType::Utf8).map_err(|e| format!("column {name}: {e}"))?,
                };
                at.push(Some(columns.len()));
                fields.push(datafusion::arrow::datatypes::Field::new(name, DataType::Utf8, true));
                columns.push(text);
            }
            None => at.push(None),
        }
    }
    let schema = std::sync::Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
    let options = datafusion::arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    let converted = RecordBatch::try_new_with_options(schema, columns, &options).map_err(|e| e.to_string())?;
    Ok((converted, at))
}

fn csv_error(path: &Path, error: csv::Error) -> SourceError {
    let line = error.position().map_or(0, |p| p.line());
    match error.kind() {
        csv::ErrorKind::Utf8 { pos, .. } => {
            SourceError::NotUtf8 { path: path.into(), line: pos.as_ref().map_or(line, |p| p.line()) }
        }
        csv::ErrorKind::Io(e) => {
            SourceError::Io { path: path.into(), source: std::io::Error::new(e.kind(), e.to_string()) }
        }
        _ => SourceError::Csv { path: path.into(), line, message: error.to_string() },
    }
}

fn read_error(path: &Path, line: u64, error: std::io::Error) -> SourceError {
    if error.kind() == std::io::ErrorKind::InvalidData {
        SourceError::NotUtf8 { path: path.into(), line }
    } else {
        SourceError::Io { path: path.into(), source: error }
    }
}

fn parquet_error(path: &Path, error: impl std::fmt::Display) -> SourceError {
    SourceError::Parquet { path: path.into(), message: error.to_string() }
}

/// A row that breaks the contract, where it is and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedRow {
    /// Line (CSV, JSON Lines) or 1-based row (Parquet).
    pub line: u64,
    /// The row's key, when it has one.
    pub key: Option<String>,
    /// The rule it breaks.
    pub violation: Violation,
}

/// A valid row of either table.
#[derive(Debug, Clone, PartialEq)]
pub enum ValidRow {
    /// A `calls` row.
    Call(Call),
    /// A `work_orders` row.
    WorkOrder(WorkOrder),
}

/// The outcome of validating a whole file against the contract.
#[derive(Debug, Default)]
pub struct FileValidation {
    /// Records read.
    pub rows: u64,
    /// Rows that pass (first of their key).
    pub valid: u64,
    /// Later rows identical to an earlier row of the same key.
    pub unchanged_duplicates: u64,
    /// Rows that break the contract.
    pub rejected: Vec<RejectedRow>,
}

/// Checks one record against the contract alone (no batch rule); safe to run on many threads.
pub fn validate_record(table: Table, fields: &[Option<String>]) -> Result<ValidRow, Violation> {
    Ok(match table {
        Table::Calls => ValidRow::Call(validate_call(fields)?),
        Table::WorkOrders => ValidRow::WorkOrder(validate_work_order(fields)?),
    })
}

/// A 128-bit digest of a row key (SHA-256, truncated): a batch remembers keys by digest, not by
/// text, so ten million keys cost 16 bytes each, and no two keys share a digest in practice.
pub fn key_digest(key: &str) -> u128 {
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(key.trim().as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    u128::from_le_bytes(bytes)
}

/// A digest of a record's content, to tell an identical repeat from a conflicting one.
pub fn content_digest(fields: &[Option<String>]) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    fields.hash(&mut hasher);
    hasher.finish()
}

/// What the batch rule on keys says of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyCheck {
    /// The first row of its key in the batch: taken.
    First,
    /// Identical to an earlier row of the same key: unchanged, not taken again.
    Repeat,
    /// Same key as an earlier row, different content: a `duplicate_key` violation.
    Conflict,
}

/// Hashes a key digest by its own bits: a SHA-256 digest is already uniform, so hashing it again
/// (as the standard map's SipHash would) is wasted work on every row of a batch.
#[derive(Debug, Default, Clone, Copy)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached for u128 keys; FNV-1a keeps it correct for anything else.
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = (value as u64) ^ ((value >> 64) as u64);
    }
}

/// The keys a batch has taken so far, each with its content digest and a tag the caller chooses
/// (ingest keeps the row's month there, to find rows that move partition).
#[derive(Debug, Default)]
pub struct BatchKeys {
    seen: HashMap<u128, (u64, i32), std::hash::BuildHasherDefault<DigestHasher>>,
}

impl BatchKeys {
    /// Applies the batch rule to a row's key and content.
    pub fn admit(&mut self, key: u128, content: u64, tag: i32) -> KeyCheck {
        match self.seen.entry(key) {
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert((content, tag));
                KeyCheck::First
            }
            std::collections::hash_map::Entry::Occupied(slot) if slot.get().0 == content => KeyCheck::Repeat,
            std::collections::hash_map::Entry::Occupied(_) => KeyCheck::Conflict,
        }
    }

    /// The tag of a key taken by this batch.
    pub fn tag(&self, key: u128) -> Option<i32> {
        self.seen.get(&key).map(|&(_, tag)| tag)
    }

    /// Keys taken.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no key was taken.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// The violation of a row whose key an earlier, different row of the batch already has.
pub fn duplicate_key_violation(table: Table) -> Violation {
    Violation::new(
        Reason::DuplicateKey,
        Some(table.key_column()),
        "an earlier row of this batch has the same key and different content",
    )
}

/// Validates a record, including the batch rule on keys: the first row of a key is taken, an
/// identical later row is unchanged (`Ok(None)`), a different later row is a `duplicate_key`.
pub struct BatchValidator {
    table: Table,
    keys: BatchKeys,
}

impl BatchValidator {
    /// A validator for one batch of `table`.
    pub fn new(table: Table) -> Self {
        BatchValidator { table, keys: BatchKeys::default() }
    }

    /// Checks one record.
    pub fn check(&mut self, fields: &[Option<String>]) -> Result<Option<ValidRow>, Violation> {
        let row = validate_record(self.table, fields)?;
        let key = key_digest(fields[0].as_deref().unwrap_or_default());
        match self.keys.admit(key, content_digest(fields), 0) {
            KeyCheck::First => Ok(Some(row)),
            KeyCheck::Repeat => Ok(None),
            KeyCheck::Conflict => Err(duplicate_key_violation(self.table)),
        }
    }
}

/// Reads a whole file and checks every row against the contract, calling `on_valid` for each valid row.
pub fn validate_file(
    path: &Path,
    table: Option<Table>,
    mut on_valid: impl FnMut(ValidRow),
) -> Result<FileValidation, SourceError> {
    let reader = SourceReader::open(path, table)?;
    let mut validator = BatchValidator::new(reader.table());
    let mut outcome = FileValidation::default();
    for record in reader {
        let record = record?;
        outcome.rows += 1;
        let key = record.fields.as_ref().ok().and_then(|fields| fields[0].clone());
        match record.fields.and_then(|fields| validator.check(&fields)) {
            Ok(Some(row)) => {
                outcome.valid += 1;
                on_valid(row);
            }
            Ok(None) => outcome.unchanged_duplicates += 1,
            Err(violation) => outcome.rejected.push(RejectedRow { line: record.line, key, violation }),
        }
    }
    Ok(outcome)
}
