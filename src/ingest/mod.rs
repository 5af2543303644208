//! Ingest: export files → validated, normalised, pseudonymised rows → one new warehouse snapshot, or none.
//!
//! A batch is every file of one `ingest` run. Rows are keyed by `call_id` / `order_id`: a key new to
//! the warehouse is accepted, a key whose row is identical is unchanged, a key whose row differs is
//! updated (the previous version moves to `<table>_history`). Bad rows go to `quarantine` with
//! file, line, column and reason. A file whose content hash is in `ingest_files` is skipped.

pub mod tables;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::contract::timestamp::to_shanghai;
use crate::contract::{Call, Reason, Table, WorkOrder};
use crate::pii::{mask_name, normalize_name, normalize_phone, parse_resident_id};
use crate::pseudonym::PseudonymKey;
use crate::source::{BatchValidator, SourceError, SourceReader, ValidRow};
use crate::warehouse::{Commit, Warehouse, WarehouseError};
use tables::{
    CALLS, CALLS_PII, INGEST_BATCHES, INGEST_FILES, QUARANTINE, QUARANTINE_PII, Row, TableDef, Value, WORK_ORDERS,
    history_columns, read_parquet, write_parquet,
};

/// Errors that stop an ingest run (nothing is committed); each names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The warehouse could not be opened or committed.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// An input file was refused whole.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A file could not be read or written.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// What one input file contributed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileOutcome {
    /// The file.
    pub path: PathBuf,
    /// Its table.
    pub table: Table,
    /// Records read.
    pub rows: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Columns the contract does not know (ignored).
    pub unknown_columns: Vec<String>,
}

/// What an ingest run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestSummary {
    /// The batch id (the snapshot number), when anything was committed.
    pub batch_id: Option<String>,
    /// Files ingested.
    pub files: Vec<FileOutcome>,
    /// Files skipped because their content was ingested before.
    pub skipped: Vec<PathBuf>,
    /// Records read from ingested files.
    pub rows_read: u64,
    /// Rows with keys new to the warehouse.
    pub accepted: u64,
    /// Rows that replaced a different earlier version.
    pub updated: u64,
    /// Rows identical to what the warehouse held (or repeated identically inside the batch).
    pub unchanged: u64,
    /// Quarantined rows by reason.
    pub quarantined: BTreeMap<Reason, u64>,
}

fn file_error(path: &Path, message: impl std::fmt::Display) -> IngestError {
    IngestError::File { path: path.to_owned(), message: message.to_string() }
}

fn sha256_of(path: &Path) -> Result<(String, u64), IngestError> {
    let mut file = fs::File::open(path).map_err(|e| file_error(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| file_error(path, e))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((hex::encode(hasher.finalize()), bytes))
}

fn text(value: Option<&str>) -> Value {
    Value::Text(value.map(str::to_owned))
}

/// The warehouse rows of a valid call: the analyst row and the restricted personal-data row.
fn call_rows(call: &Call, key: &PseudonymKey, batch: &str) -> (Row, Row) {
    let phone_canonical = call.caller_phone.as_deref().and_then(normalize_phone);
    let phone_key = match (&phone_canonical, &call.caller_phone) {
        (Some(canonical), _) => Some(key.phone_key(canonical)),
        // Not a recognisable number: still pseudonymised, never stored raw for analysts.
        (None, Some(raw)) => Some(key.phone_key(&format!("raw:{}", raw.trim()))),
        (None, None) => None,
    };
    let id = call.caller_id_number.as_deref().and_then(parse_resident_id);
    let id_key = match (&id, &call.caller_id_number) {
        (Some(id), _) => Some(key.id_key(&id.canonical)),
        (None, Some(raw)) => Some(key.id_key(&format!("raw:{}", raw.trim().to_uppercase()))),
        (None, None) => None,
    };
    let name = call.caller_name.as_deref().map(normalize_name);
    let (lon, lat) = call.lon_lat.map_or((None, None), |(lon, lat)| (Some(lon), Some(lat)));
    let analyst = vec![
        text(Some(&call.call_id)),
        text(Some(call.platform.code())),
        Value::Time(Some(call.received_at)),
        Value::Text(phone_key),
        Value::Text(id_key),
        Value::Text(call.caller_name.as_deref().map(mask_name)),
        text(call.address.as_deref()),
        text(call.district.as_deref()),
        text(call.grid_id.as_deref()),
        Value::Float(lon),
        Value::Float(lat),
        text(Some(&call.category.code)),
        text(call.counterparty.as_deref()),
        text(Some(&call.narrative)),
        text(Some(call.disposition.code())),
        text(call.source_call_id.as_deref()),
        text(Some(batch)),
    ];
    let restricted = vec![
        text(Some(&call.call_id)),
        Value::Time(Some(call.received_at)),
        text(call.caller_phone.as_deref()),
        Value::Text(phone_canonical),
        text(call.caller_name.as_deref()),
        Value::Text(name.as_ref().map(|n| n.normalised.clone())),
        Value::Text(name.as_ref().and_then(|n| n.surname.clone())),
        Value::Bool(name.as_ref().map(|n| n.honorific_only)),
        text(call.caller_id_number.as_deref()),
        Value::Text(id.as_ref().map(|i| i.canonical.clone())),
        Value::Bool(id.as_ref().map(|i| i.check_ok)),
        Value::Text(id.as_ref().and_then(|i| i.birth).map(|b| b.to_string())),
        Value::Bool(id.as_ref().map(|i| i.female)),
        text(Some(batch)),
    ];
    (analyst, restricted)
}

fn order_row(order: &WorkOrder, batch: &str) -> Row {
    vec![
        text(Some(&order.order_id)),
        text(Some(&order.call_id)),
        Value::Time(Some(order.created_at)),
        text(Some(order.from_platform.code())),
        text(order.to_platform.map(|p| p.code())),
        text(Some(order.channel.code())),
        text(order.department.as_deref()),
        Value::Time(order.signed_at),
        Value::Time(order.feedback_at),
        Value::Time(order.closed_at),
        text(Some(order.status.code())),
        text(order.satisfaction.map(|s| s.code())),
        Value::Time(order.callback_at),
        text(Some(batch)),
    ]
}

/// A quarantined record as JSON: raw for the restricted table; for analysts, personal fields pseudonymised or masked.
fn quarantine_records(table: Table, fields: Option<&[Option<String>]>, key: &PseudonymKey) -> (String, String) {
    let Some(fields) = fields else { return (String::new(), String::new()) };
    let mut raw = serde_json::Map::new();
    let mut safe = serde_json::Map::new();
    for (column, value) in table.columns().iter().zip(fields) {
        let Some(value) = value else { continue };
        raw.insert(column.name.to_owned(), value.clone().into());
        let shown = match column.name {
            "caller_phone" => format!(
                "phone_key:{}",
                key.phone_key(&normalize_phone(value).unwrap_or_else(|| format!("raw:{}", value.trim())))
            ),
            "caller_id_number" => format!(
                "id_key:{}",
                key.id_key(
                    &parse_resident_id(value)
                        .map_or_else(|| format!("raw:{}", value.trim().to_uppercase()), |i| i.canonical)
                )
            ),
            "caller_name" => mask_name(value),
            _ => value.clone(),
        };
        safe.insert(column.name.to_owned(), shown.into());
    }
    (serde_json::Value::Object(safe).to_string(), serde_json::Value::Object(raw).to_string())
}

/// The Asia/Shanghai month of an instant as a number (year × 12 + month − 1), or −1 when unknown.
fn month_of(micros: Option<i64>) -> i32 {
    use chrono::Datelike;
    micros.and_then(to_shanghai).map_or(-1, |t| t.year() * 12 + t.month0() as i32)
}

/// The partition folder of a month number.
fn partition_name(month: i32) -> String {
    if month < 0 { "month=unknown".to_owned() } else { format!("month={:04}-{:02}", month / 12, month % 12 + 1) }
}

/// Every file of a table in the committed snapshot.
fn table_files(warehouse: &Warehouse, table: &str) -> Result<Vec<PathBuf>, IngestError> {
    let root = warehouse.table_dir(table);
    let mut files = Vec::new();
    if !root.exists() {
        return Ok(files);
    }
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).map_err(|e| file_error(&dir, e))? {
            let path = entry.map_err(|e| file_error(&dir, e))?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// A keyed table being merged: every current row by key (with its month), and what changed.
struct Merge {
    rows: HashMap<String, (i32, Row)>,
    touched: BTreeSet<i32>,
    superseded: Vec<Row>,
}

impl Merge {
    fn load(warehouse: &Warehouse, def: &TableDef) -> Result<Merge, IngestError> {
        let key = def.key.unwrap_or(0);
        let mut rows = HashMap::new();
        for file in table_files(warehouse, def.name)? {
            for row in read_parquet(&file, def.columns).map_err(|e| file_error(&file, e))? {
                if let Some(k) = row[key].text() {
                    rows.insert(k.to_owned(), (Merge::month(def, &row), row));
                }
            }
        }
        Ok(Merge { rows, touched: BTreeSet::new(), superseded: Vec::new() })
    }

    fn month(def: &TableDef, row: &Row) -> i32 {
        month_of(def.time.and_then(|t| row[t].time()))
    }

    /// Applies a new version; returns whether it was new, updated or unchanged.
    fn apply(&mut self, def: &TableDef, row: Row, batch: &str) -> Change {
        let key = row[def.key.unwrap_or(0)].text().unwrap_or_default().to_owned();
        let month = Merge::month(def, &row);
        // Content is every column but the last, batch_id.
        let same = |old: &Row| old.len() == row.len() && old[..old.len() - 1] == row[..row.len() - 1];
        match self.rows.get(&key) {
            Some((_, old)) if same(old) => Change::Unchanged,
            Some((old_month, old)) => {
                self.touched.insert(*old_month);
                self.touched.insert(month);
                let mut history = old.clone();
                history.push(Value::Text(Some(batch.to_owned())));
                self.superseded.push(history);
                self.rows.insert(key, (month, row));
                Change::Updated
            }
            None => {
                self.touched.insert(month);
                self.rows.insert(key, (month, row));
                Change::New
            }
        }
    }

    /// Writes the touched partitions into the commit and carries the others over.
    fn write(&self, commit: &Commit<'_>, def: &TableDef, batch: &str) -> Result<(), IngestError> {
        let history = format!("{}_history", def.name);
        if self.touched.is_empty() && self.superseded.is_empty() {
            commit.keep(def.name, |_| false)?;
            commit.keep(&history, |_| false)?;
            if def.restricted {
                table_folder(commit, def, def.name)?;
            }
            return Ok(());
        }
        let touched: BTreeSet<String> = self.touched.iter().map(|m| partition_name(*m)).collect();
        commit.keep(def.name, |relative| {
            relative.components().next().is_some_and(|c| touched.contains(&*c.as_os_str().to_string_lossy()))
        })?;
        let mut by_month: BTreeMap<i32, Vec<&Row>> = BTreeMap::new();
        for (month, row) in self.rows.values() {
            if self.touched.contains(month) {
                by_month.entry(*month).or_default().push(row);
            }
        }
        let table_dir = table_folder(commit, def, def.name)?;
        let time = def.time.unwrap_or(0);
        let key = def.key.unwrap_or(0);
        for (month, mut rows) in by_month {
            // Sorted by time, then key, within the file.
            rows.sort_unstable_by(|a, b| (a[time].time(), a[key].text()).cmp(&(b[time].time(), b[key].text())));
            let dir = table_dir.join(partition_name(month));
            fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
            let path = dir.join("part-0.parquet");
            write_parquet(&path, def.columns, &rows).map_err(|e| file_error(&path, e))?;
        }
        commit.keep(&history, |_| false)?;
        if !self.superseded.is_empty() {
            let path = table_folder(commit, def, &history)?.join(format!("batch={batch}.parquet"));
            let rows: Vec<&Row> = self.superseded.iter().collect();
            write_parquet(&path, &history_columns(def), &rows).map_err(|e| file_error(&path, e))?;
        }
        Ok(())
    }
}

enum Change {
    New,
    Updated,
    Unchanged,
}

/// A table folder of this commit; a restricted table's folder is readable by its owner only, so an
/// analyst's account cannot open the raw personal data even with a plain Parquet reader.
fn table_folder(commit: &Commit<'_>, def: &TableDef, name: &str) -> Result<PathBuf, IngestError> {
    let dir = commit.table_dir(name)?;
    #[cfg(unix)]
    if def.restricted {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).map_err(|e| file_error(&dir, e))?;
    }
    Ok(dir)
}

/// Appends rows to an append-only table as one new file of this batch.
fn append(commit: &Commit<'_>, def: &TableDef, batch: &str, rows: &[Row]) -> Result<(), IngestError> {
    commit.keep(def.name, |_| false)?;
    if rows.is_empty() {
        if def.restricted {
            table_folder(commit, def, def.name)?;
        }
        return Ok(());
    }
    let path = table_folder(commit, def, def.name)?.join(format!("batch={batch}.parquet"));
    let rows: Vec<&Row> = rows.iter().collect();
    write_parquet(&path, def.columns, &rows).map_err(|e| file_error(&path, e))
}

/// Ingests files into the warehouse as one batch; `progress` receives records read so far.
pub fn ingest(
    warehouse: &Warehouse,
    files: &[PathBuf],
    table: Option<Table>,
    key: &PseudonymKey,
    progress: &mut dyn FnMut(u64),
) -> Result<IngestSummary, IngestError> {
    let started = chrono::Utc::now().timestamp_micros();
    let commit = warehouse.begin()?;
    let batch = format!("{:08}", commit.id());
    let mut seen: HashSet<String> = HashSet::new();
    for file in table_files(warehouse, INGEST_FILES.name)? {
        for row in read_parquet(&file, INGEST_FILES.columns).map_err(|e| file_error(&file, e))? {
            if let Some(hash) = row[0].text() {
                seen.insert(hash.to_owned());
            }
        }
    }
    let mut summary = IngestSummary::default();
    let mut validators: HashMap<Table, BatchValidator> = HashMap::new();
    let mut calls = Vec::new();
    let mut orders = Vec::new();
    let mut quarantine = Vec::new();
    let mut quarantine_pii = Vec::new();
    let mut manifest = Vec::new();
    for path in files {
        let (hash, bytes) = sha256_of(path)?;
        if !seen.insert(hash.clone()) {
            summary.skipped.push(path.clone());
            continue;
        }
        let reader = SourceReader::open(path, table)?;
        let file_table = reader.table();
        let unknown_columns = reader.unknown_columns().iter().cloned().collect();
        let validator = validators.entry(file_table).or_insert_with(|| BatchValidator::new(file_table));
        let mut outcome =
            FileOutcome { path: path.clone(), table: file_table, rows: 0, quarantined: 0, unknown_columns };
        let file_name = path.display().to_string();
        for record in reader {
            let record = record?;
            outcome.rows += 1;
            summary.rows_read += 1;
            if summary.rows_read % 65_536 == 0 {
                progress(summary.rows_read);
            }
            let checked = record.fields.as_ref().map_err(Clone::clone).and_then(|fields| validator.check(fields));
            match checked {
                Ok(Some(ValidRow::Call(call))) => calls.push(call_rows(&call, key, &batch)),
                Ok(Some(ValidRow::WorkOrder(order))) => orders.push(order_row(&order, &batch)),
                Ok(None) => summary.unchanged += 1,
                Err(violation) => {
                    outcome.quarantined += 1;
                    *summary.quarantined.entry(violation.reason).or_insert(0) += 1;
                    let (safe, raw) = quarantine_records(file_table, record.fields.as_deref().ok(), key);
                    let line = Value::Int(Some(record.line as i64));
                    quarantine.push(vec![
                        text(Some(&batch)),
                        text(Some(&file_name)),
                        line.clone(),
                        text(Some(file_table.name())),
                        text(violation.column),
                        text(Some(violation.reason.code())),
                        text(Some(&violation.detail)),
                        text(Some(&safe)),
                    ]);
                    quarantine_pii.push(vec![text(Some(&batch)), text(Some(&file_name)), line, text(Some(&raw))]);
                }
            }
        }
        manifest.push(vec![
            text(Some(&hash)),
            text(Some(&file_name)),
            Value::Int(Some(bytes as i64)),
            text(Some(file_table.name())),
            text(Some(&batch)),
            Value::Int(Some(outcome.rows as i64)),
            Value::Int(Some(outcome.quarantined as i64)),
        ]);
        summary.files.push(outcome);
    }
    progress(summary.rows_read);
    if summary.files.is_empty() {
        // Every file was ingested before: nothing changes, no snapshot is made.
        return Ok(summary);
    }

    let mut call_merge = Merge::load(warehouse, &CALLS)?;
    let mut pii_merge = Merge::load(warehouse, &CALLS_PII)?;
    for (analyst, restricted) in calls {
        match call_merge.apply(&CALLS, analyst, &batch) {
            Change::New => summary.accepted += 1,
            Change::Updated => summary.updated += 1,
            Change::Unchanged => summary.unchanged += 1,
        }
        pii_merge.apply(&CALLS_PII, restricted, &batch);
    }
    let mut order_merge = Merge::load(warehouse, &WORK_ORDERS)?;
    for row in orders {
        match order_merge.apply(&WORK_ORDERS, row, &batch) {
            Change::New => summary.accepted += 1,
            Change::Updated => summary.updated += 1,
            Change::Unchanged => summary.unchanged += 1,
        }
    }
    call_merge.write(&commit, &CALLS, &batch)?;
    pii_merge.write(&commit, &CALLS_PII, &batch)?;
    order_merge.write(&commit, &WORK_ORDERS, &batch)?;
    append(&commit, &QUARANTINE, &batch, &quarantine)?;
    append(&commit, &QUARANTINE_PII, &batch, &quarantine_pii)?;
    append(&commit, &INGEST_FILES, &batch, &manifest)?;
    let quarantined: u64 = summary.quarantined.values().sum();
    let count = |n: u64| Value::Int(Some(n as i64));
    let batch_row = vec![
        text(Some(&batch)),
        Value::Time(Some(started)),
        Value::Time(Some(chrono::Utc::now().timestamp_micros())),
        count(summary.files.len() as u64),
        count(summary.rows_read),
        count(summary.accepted),
        count(summary.updated),
        count(summary.unchanged),
        count(quarantined),
    ];
    append(&commit, &INGEST_BATCHES, &batch, &[batch_row])?;
    commit.commit()?;
    summary.batch_id = Some(batch);
    Ok(summary)
}
