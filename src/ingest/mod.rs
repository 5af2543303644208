//! Ingest: export files → validated, normalised, pseudonymised rows → one new warehouse snapshot, or none.
//!
//! A batch is every file of one `ingest` run. Rows are keyed by `call_id` / `order_id`: a key new to
//! the warehouse is accepted, a key whose row is identical is unchanged, a key whose row differs is
//! updated (the previous version moves to `<table>_history`). Bad rows go to `quarantine` with
//! file, line, column and reason. A file whose content hash is in `ingest_files` is skipped.

pub mod callers;
pub mod merge;

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};

use crate::catalog::{
    BatchBuilder, CALLER_CALLS, CALLS, CALLS_PII, Cell, INGEST_BATCHES, INGEST_FILES, ParquetAppender, QUARANTINE,
    QUARANTINE_PII, TableDef, TableError, Value, WORK_ORDERS, read_parquet, read_text_column,
};
use crate::city::{CityProfile, Inference};
use crate::contract::{Call, Reason, Table, Violation, WorkOrder};
use crate::pii::{
    NameParts, ResidentId, mask_name, name_pinyin, normalize_name, normalize_phone_in, parse_resident_id,
};
use crate::pseudonym::PseudonymKey;
use crate::source::{
    BatchKeys, KeyCheck, SourceError, SourceReader, SourceRecord, ValidRow, content_digest, duplicate_key_violation,
    key_digest, validate_record,
};
use crate::text::{
    CounterpartyKind, CounterpartyReader, CounterpartyReading, KnownNames, common_surnames, mask_narrative,
};
use crate::warehouse::{Commit, Warehouse, WarehouseError};
use datafusion::arrow::array::RecordBatch;
use merge::{HistoryWriter, MergeOutcome, MonthSpill, merge_table, month_of};

/// Errors that stop an ingest run (nothing is committed); each names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The warehouse could not be opened or committed.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// An input file was refused whole.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A warehouse table's rows could not be built, read or written.
    #[error("table {table}: {source}")]
    Table {
        /// The table.
        table: &'static str,
        /// What went wrong.
        source: TableError,
    },
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

/// What ingest needs of the warehouse's city to normalise a call once: the area code of local
/// numbers, the district keys, and the counterparty reader (the city's place names as prefixes,
/// the national surname list).
pub struct Normaliser {
    area_code: String,
    profile: CityProfile,
    reader: CounterpartyReader,
    names: KnownNames,
}

impl Normaliser {
    /// The normaliser of a city profile.
    pub fn new(profile: &CityProfile) -> Normaliser {
        let districts: Vec<&str> = profile.districts.iter().map(|d| d.name.as_str()).collect();
        let reader = CounterpartyReader::new(districts, &[], 1.0)
            .with_places(profile.place_prefixes())
            .with_surnames(common_surnames());
        Normaliser {
            area_code: profile.local_area_code().unwrap_or(UNKNOWN_AREA_CODE).to_owned(),
            profile: profile.clone(),
            reader,
            names: KnownNames::new(std::iter::empty()),
        }
    }
}

/// A valid call with what ingest derives from its personal data.
struct CallOut {
    call: Call,
    phone_key: Option<String>,
    id_key: Option<String>,
    name_masked: Option<String>,
    phone_canonical: Option<String>,
    name: Option<NameParts>,
    name_pinyin: Option<String>,
    id: Option<ResidentId>,
    district_key: Option<String>,
    counterparty: Option<CounterpartyReading>,
    counterparty_key: Option<String>,
    narrative_shown: String,
}

impl CallOut {
    fn new(call: Call, key: &PseudonymKey, norm: &Normaliser) -> CallOut {
        let area_code = norm.area_code.as_str();
        let phone_canonical = call.caller_phone.as_deref().and_then(|p| normalize_phone_in(p, area_code));
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
        let name_masked = call.caller_name.as_deref().map(mask_name);
        let name_pinyin = name.as_ref().and_then(|n| name_pinyin(&n.normalised));
        let district_key = call.district.as_deref().and_then(|d| norm.profile.district_key(d));
        let counterparty = call.counterparty.as_deref().map(|c| norm.reader.normalise(c));
        // A person's key is a pseudonym of the name: analysts can count one person's disputes
        // without reading the name.
        let counterparty_key = counterparty.as_ref().and_then(|c| match (c.kind, &c.key) {
            (CounterpartyKind::Person, Some(name)) => Some(format!("person:{}", key.pseudonym("counterparty", name))),
            (_, k) => k.clone(),
        });
        let narrative_shown = norm.names.mask(&mask_narrative(&call.narrative));
        CallOut {
            call,
            phone_key,
            id_key,
            name_masked,
            phone_canonical,
            name,
            name_pinyin,
            id,
            district_key,
            counterparty,
            counterparty_key,
            narrative_shown,
        }
    }

    /// Appends the analyst row and the restricted row.
    fn push(&self, batch: &str, calls: &mut BatchBuilder, pii: &mut BatchBuilder) -> Result<(), TableError> {
        let call = &self.call;
        let (lon, lat) = call.lon_lat.map_or((None, None), |(lon, lat)| (Some(lon), Some(lat)));
        calls.push(&[
            Cell::Text(Some(&call.call_id)),
            Cell::Text(Some(call.platform.code())),
            Cell::Time(Some(call.received_at)),
            Cell::Text(self.phone_key.as_deref()),
            Cell::Text(self.id_key.as_deref()),
            Cell::Text(self.name_masked.as_deref()),
            Cell::Text(call.address.as_deref()),
            Cell::Text(call.district.as_deref()),
            Cell::Text(call.grid_id.as_deref()),
            Cell::Float(lon),
            Cell::Float(lat),
            Cell::Text(Some(&call.category.code)),
            Cell::Text(self.counterparty.as_ref().map(|c| c.shown.as_str())),
            Cell::Text(Some(&self.narrative_shown)),
            Cell::Text(Some(call.disposition.code())),
            Cell::Text(call.source_call_id.as_deref()),
            Cell::Text(self.district_key.as_deref()),
            Cell::Text(self.counterparty.as_ref().map(|c| c.kind.code())),
            Cell::Text(self.counterparty_key.as_deref()),
            Cell::Text(Some(batch)),
        ])?;
        let name = self.name.as_ref();
        let id = self.id.as_ref();
        let birth = id.and_then(|i| i.birth).map(|b| b.to_string());
        pii.push(&[
            Cell::Text(Some(&call.call_id)),
            Cell::Time(Some(call.received_at)),
            Cell::Text(call.caller_phone.as_deref()),
            Cell::Text(self.phone_canonical.as_deref()),
            Cell::Text(call.caller_name.as_deref()),
            Cell::Text(name.map(|n| n.normalised.as_str())),
            Cell::Text(name.and_then(|n| n.surname.as_deref())),
            Cell::Text(self.name_pinyin.as_deref()),
            Cell::Bool(name.map(|n| n.honorific_only)),
            Cell::Text(call.caller_id_number.as_deref()),
            Cell::Text(id.map(|i| i.canonical.as_str())),
            Cell::Bool(id.map(|i| i.check_ok)),
            Cell::Text(birth.as_deref()),
            Cell::Bool(id.map(|i| i.female)),
            Cell::Text(call.counterparty.as_deref()),
            Cell::Text(Some(&call.narrative)),
            Cell::Text(Some(batch)),
        ])
    }
}

fn push_order(order: &WorkOrder, batch: &str, orders: &mut BatchBuilder) -> Result<(), TableError> {
    orders.push(&[
        Cell::Text(Some(&order.order_id)),
        Cell::Text(Some(&order.call_id)),
        Cell::Time(Some(order.created_at)),
        Cell::Text(Some(order.from_platform.code())),
        Cell::Text(order.to_platform.map(|p| p.code())),
        Cell::Text(Some(order.channel.code())),
        Cell::Text(order.department.as_deref()),
        Cell::Time(order.signed_at),
        Cell::Time(order.feedback_at),
        Cell::Time(order.closed_at),
        Cell::Text(Some(order.status.code())),
        Cell::Text(order.satisfaction.map(|s| s.code())),
        Cell::Time(order.callback_at),
        Cell::Text(Some(batch)),
    ])
}

/// A quarantined record as JSON: raw for the restricted table; for analysts, personal fields pseudonymised or masked.
fn quarantine_records(
    table: Table,
    fields: Option<&[Option<String>]>,
    key: &PseudonymKey,
    norm: &Normaliser,
) -> (String, String) {
    let area_code = norm.area_code.as_str();
    let Some(fields) = fields else { return (String::new(), String::new()) };
    let mut raw = serde_json::Map::new();
    let mut safe = serde_json::Map::new();
    for (column, value) in table.columns().iter().zip(fields) {
        let Some(value) = value else { continue };
        raw.insert(column.name.to_owned(), value.clone().into());
        let shown = match column.name {
            "caller_phone" => format!(
                "phone_key:{}",
                key.phone_key(&normalize_phone_in(value, area_code).unwrap_or_else(|| format!("raw:{}", value.trim())))
            ),
            "caller_id_number" => format!(
                "id_key:{}",
                key.id_key(
                    &parse_resident_id(value)
                        .map_or_else(|| format!("raw:{}", value.trim().to_uppercase()), |i| i.canonical)
                )
            ),
            "caller_name" => mask_name(value),
            "counterparty" => norm.reader.normalise(value).shown,
            "narrative" => norm.names.mask(&mask_narrative(value)),
            _ => value.clone(),
        };
        safe.insert(column.name.to_owned(), shown.into());
    }
    (serde_json::Value::Object(safe).to_string(), serde_json::Value::Object(raw).to_string())
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

/// An append-only table of this commit: the base snapshot's files kept, this batch's rows in one new file.
fn appender(commit: &Commit<'_>, def: &'static TableDef, batch: &str) -> Result<ParquetAppender, IngestError> {
    let dir = table_folder(commit, def, def.name)?;
    commit.keep(def.name, |_| false)?;
    Ok(ParquetAppender::new(dir.join(format!("batch={batch}.parquet")), def.columns))
}

fn finish_appender(appender: ParquetAppender, def: &TableDef) -> Result<(), IngestError> {
    appender
        .finish()
        .map(|_| ())
        .map_err(|e| IngestError::File { path: PathBuf::from(def.name), message: e.to_string() })
}

/// Records handed from the reading thread to the workers at a time.
const CHUNK_RECORDS: usize = 8192;

/// A record after the parallel stage: contract checks, normalisation and pseudonyms done.
struct Checked {
    key: u128,
    content: u64,
    month: i32,
    row: Result<CheckedRow, Violation>,
}

enum CheckedRow {
    Call(Box<CallOut>),
    Order(WorkOrder),
}

fn check_record(table: Table, record: &SourceRecord, key: &PseudonymKey, norm: &Normaliser) -> Checked {
    let fields = match &record.fields {
        Ok(fields) => fields,
        Err(violation) => return Checked { key: 0, content: 0, month: -1, row: Err(violation.clone()) },
    };
    match validate_record(table, fields) {
        Err(violation) => Checked { key: 0, content: 0, month: -1, row: Err(violation) },
        Ok(valid) => {
            let key_hash = key_digest(fields[0].as_deref().unwrap_or_default());
            let content = content_digest(fields);
            let (month, row) = match valid {
                ValidRow::Call(call) => {
                    (month_of(Some(call.received_at)), CheckedRow::Call(Box::new(CallOut::new(call, key, norm))))
                }
                ValidRow::WorkOrder(order) => (month_of(Some(order.created_at)), CheckedRow::Order(order)),
            };
            Checked { key: key_hash, content, month, row: Ok(row) }
        }
    }
}

/// Everything phase one writes to: spills of the keyed tables, quarantine, and the batch's keys.
struct BatchSink<'a> {
    batch: String,
    key: &'a PseudonymKey,
    /// The warehouse's city, as normalisation needs it.
    norm: Normaliser,
    calls: MonthSpill,
    calls_pii: MonthSpill,
    orders: MonthSpill,
    call_keys: BatchKeys,
    order_keys: BatchKeys,
    quarantine: ParquetAppender,
    quarantine_pii: ParquetAppender,
}

impl BatchSink<'_> {
    fn quarantine(
        &mut self,
        table: Table,
        file_name: &str,
        record: &SourceRecord,
        violation: &Violation,
    ) -> Result<(), TableError> {
        let (safe, raw) = quarantine_records(table, record.fields.as_deref().ok(), self.key, &self.norm);
        let line = Cell::Int(Some(record.line as i64));
        self.quarantine.push(&[
            Cell::Text(Some(&self.batch)),
            Cell::Text(Some(file_name)),
            line,
            Cell::Text(Some(table.name())),
            Cell::Text(violation.column),
            Cell::Text(Some(violation.reason.code())),
            Cell::Text(Some(&violation.detail)),
            Cell::Text(Some(&safe)),
        ])?;
        self.quarantine_pii.push(&[
            Cell::Text(Some(&self.batch)),
            Cell::Text(Some(file_name)),
            line,
            Cell::Text(Some(&raw)),
        ])
    }

    /// Takes one checked record in file order: the batch rule on keys, then quarantine for a bad
    /// record. Returns the row to store (with its month) when the record is the first of its key.
    fn take(
        &mut self,
        table: Table,
        file_name: &str,
        record: &SourceRecord,
        checked: Checked,
        summary: &mut IngestSummary,
        outcome: &mut FileOutcome,
    ) -> Result<Option<(i32, CheckedRow)>, TableError> {
        let violation = match checked.row {
            Ok(row) => {
                let keys = match row {
                    CheckedRow::Call(_) => &mut self.call_keys,
                    CheckedRow::Order(_) => &mut self.order_keys,
                };
                match keys.admit(checked.key, checked.content, checked.month) {
                    KeyCheck::First => return Ok(Some((checked.month, row))),
                    KeyCheck::Repeat => {
                        summary.unchanged += 1;
                        return Ok(None);
                    }
                    KeyCheck::Conflict => duplicate_key_violation(table),
                }
            }
            Err(violation) => violation,
        };
        *summary.quarantined.entry(violation.reason).or_insert(0) += 1;
        outcome.quarantined += 1;
        self.quarantine(table, file_name, record, &violation)?;
        Ok(None)
    }

    /// Writes rows built by [`build_batches`] to the spills.
    fn spill(&mut self, built: Vec<(SpillTable, i32, RecordBatch)>) -> Result<(), TableError> {
        for (table, month, batch) in built {
            let spill = match table {
                SpillTable::Calls => &mut self.calls,
                SpillTable::CallsPii => &mut self.calls_pii,
                SpillTable::Orders => &mut self.orders,
            };
            spill.write(month, &batch)?;
        }
        Ok(())
    }
}

/// Which spill a built batch goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum SpillTable {
    Calls,
    CallsPii,
    Orders,
}

/// Builds Arrow batches, by table and month, of rows taken from one chunk.
fn build_batches(rows: &[(i32, CheckedRow)], batch: &str) -> Result<Vec<(SpillTable, i32, RecordBatch)>, TableError> {
    let mut calls: BTreeMap<i32, BatchBuilder> = BTreeMap::new();
    let mut calls_pii: BTreeMap<i32, BatchBuilder> = BTreeMap::new();
    let mut orders: BTreeMap<i32, BatchBuilder> = BTreeMap::new();
    for (month, row) in rows {
        match row {
            CheckedRow::Call(call) => call.push(
                batch,
                calls.entry(*month).or_insert_with(|| BatchBuilder::new(CALLS.columns)),
                calls_pii.entry(*month).or_insert_with(|| BatchBuilder::new(CALLS_PII.columns)),
            )?,
            CheckedRow::Order(order) => push_order(
                order,
                batch,
                orders.entry(*month).or_insert_with(|| BatchBuilder::new(WORK_ORDERS.columns)),
            )?,
        }
    }
    let mut built = Vec::new();
    for (table, builders) in
        [(SpillTable::Calls, calls), (SpillTable::CallsPii, calls_pii), (SpillTable::Orders, orders)]
    {
        for (month, mut builder) in builders {
            built.push((table, month, builder.finish()?));
        }
    }
    Ok(built)
}

/// Reads one file on a thread of its own, checks its records on every core, and takes them in order.
fn ingest_file(
    reader: SourceReader,
    sink: &mut BatchSink<'_>,
    outcome: &mut FileOutcome,
    summary: &mut IngestSummary,
    progress: &mut dyn FnMut(u64),
) -> Result<(), IngestError> {
    let table = reader.table();
    let path = reader.path().to_owned();
    let file_name = path.display().to_string();
    let key = sink.key;
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Result<Vec<SourceRecord>, SourceError>>(4);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let mut chunk = Vec::with_capacity(CHUNK_RECORDS);
            for record in reader {
                match record {
                    Ok(record) => {
                        chunk.push(record);
                        if chunk.len() == CHUNK_RECORDS
                            && sender
                                .send(Ok(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_RECORDS))))
                                .is_err()
                        {
                            return;
                        }
                    }
                    Err(error) => {
                        let _ = sender.send(Err(error));
                        return;
                    }
                }
            }
            if !chunk.is_empty() {
                let _ = sender.send(Ok(chunk));
            }
        });
        for chunk in receiver {
            let chunk = chunk?;
            // Contract checks, normalisation and pseudonyms on every core; the batch rule on keys in
            // file order; Arrow batches built on every core; then the spills, in order.
            let checked: Vec<Checked> =
                chunk.par_iter().map(|record| check_record(table, record, key, &sink.norm)).collect();
            let mut taken = Vec::with_capacity(chunk.len());
            for (record, checked) in chunk.iter().zip(checked) {
                outcome.rows += 1;
                summary.rows_read += 1;
                let row = sink.take(table, &file_name, record, checked, summary, outcome);
                taken.extend(row.map_err(|e| file_error(&path, e))?);
            }
            let batch = sink.batch.clone();
            let parts = taken.len().div_ceil(rayon::current_num_threads()).max(1);
            let built: Vec<_> = taken.par_chunks(parts).map(|part| build_batches(part, &batch)).collect();
            for part in built {
                sink.spill(part.map_err(|e| file_error(&path, e))?).map_err(|e| file_error(&path, e))?;
            }
            progress(summary.rows_read);
        }
        Ok(())
    })
}

/// One keyed table's merge: its spilled months and the keys that move partition.
struct MergePlan {
    def: &'static TableDef,
    spilled: BTreeMap<i32, PathBuf>,
    moved: HashSet<u128>,
    moved_from: std::collections::BTreeSet<i32>,
}

fn merge_error(def: &TableDef, source: TableError) -> IngestError {
    IngestError::Table { table: def.name, source }
}

/// Finds the rows of a keyed table that move partition (reading only the warehouse's key column).
fn plan_merge(
    commit: &Commit<'_>,
    def: &'static TableDef,
    spilled: BTreeMap<i32, PathBuf>,
    keys: &BatchKeys,
) -> Result<MergePlan, IngestError> {
    let base = commit.base_table_dir(def.name);
    let (moved, moved_from) = merge::moved_keys(def, base.as_deref(), keys).map_err(|e| merge_error(def, e))?;
    Ok(MergePlan { def, spilled, moved, moved_from })
}

/// Merges the keyed tables (on threads of their own) and carries untouched partitions over.
fn merge_keyed_tables(
    commit: &Commit<'_>,
    batch: &str,
    plans: Vec<MergePlan>,
) -> Result<Vec<MergeOutcome>, IngestError> {
    let mut prepared = Vec::new();
    for plan in plans {
        let def = plan.def;
        let out = table_folder(commit, def, def.name)?;
        let history_dir = table_folder(commit, def, &format!("{}_history", def.name))?;
        let history = HistoryWriter::new(history_dir.join(format!("batch={batch}.parquet")), def, batch);
        prepared.push((plan, commit.base_table_dir(def.name), out, history));
    }
    let results: Vec<Result<MergeOutcome, IngestError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = prepared
            .into_iter()
            .map(|(plan, base, out, mut history)| {
                scope.spawn(move || {
                    let def = plan.def;
                    let outcome = merge_table(
                        def,
                        base.as_deref(),
                        &plan.spilled,
                        &plan.moved,
                        &plan.moved_from,
                        &out,
                        &mut history,
                    )
                    .and_then(|outcome| history.finish().map(|()| outcome))
                    .map_err(|e| merge_error(def, e))?;
                    let rewritten = &outcome.rewritten;
                    commit.keep(def.name, |relative| {
                        relative
                            .components()
                            .next()
                            .is_some_and(|c| rewritten.contains(&*c.as_os_str().to_string_lossy()))
                    })?;
                    commit.keep(&format!("{}_history", def.name), |_| false)?;
                    Ok(outcome)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| {
                    Err(IngestError::File { path: PathBuf::from("merge"), message: "a merge thread failed".into() })
                })
            })
            .collect()
    });
    results.into_iter().collect()
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
    let commit = warehouse.begin()?.by("ingest");
    let batch = format!("{:08}", commit.id());
    let mut seen: HashSet<String> = HashSet::new();
    for file in table_files(warehouse, INGEST_FILES.name)? {
        for row in read_parquet(&file, INGEST_FILES.columns).map_err(|e| file_error(&file, e))? {
            if let Some(hash) = row[0].text() {
                seen.insert(hash.to_owned());
            }
        }
    }
    let scratch = commit.scratch_dir()?;
    let spill =
        |def: &'static TableDef| MonthSpill::new(def, scratch.join(def.name)).map_err(|e| file_error(&scratch, e));
    let (profile, inferred) = match warehouse.city_profile()? {
        Some(profile) => (profile, false),
        None => (infer_profile(files, table)?, true),
    };
    let mut sink = BatchSink {
        batch: batch.clone(),
        key,
        norm: {
            let norm = Normaliser::new(&profile);
            let names = known_names(warehouse, files, table, &norm.reader)?;
            norm.knowing(names)
        },
        calls: spill(&CALLS)?,
        calls_pii: spill(&CALLS_PII)?,
        orders: spill(&WORK_ORDERS)?,
        call_keys: BatchKeys::default(),
        order_keys: BatchKeys::default(),
        quarantine: appender(&commit, &QUARANTINE, &batch)?,
        quarantine_pii: appender(&commit, &QUARANTINE_PII, &batch)?,
    };
    let mut summary = IngestSummary::default();
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
        let mut outcome =
            FileOutcome { path: path.clone(), table: file_table, rows: 0, quarantined: 0, unknown_columns };
        ingest_file(reader, &mut sink, &mut outcome, &mut summary, progress)?;
        manifest.push(vec![
            text(Some(&hash)),
            text(Some(&path.display().to_string())),
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
    let BatchSink { calls, calls_pii, orders, call_keys, order_keys, quarantine, quarantine_pii, .. } = sink;
    let finish = |spill: MonthSpill| spill.finish().map_err(|e| file_error(&scratch, e));
    let plans = vec![
        plan_merge(&commit, &CALLS, finish(calls)?, &call_keys)?,
        plan_merge(&commit, &CALLS_PII, finish(calls_pii)?, &call_keys)?,
        plan_merge(&commit, &WORK_ORDERS, finish(orders)?, &order_keys)?,
    ];
    // The batch's keys are not needed to merge: free them before months are loaded.
    drop((call_keys, order_keys));
    finish_appender(quarantine, &QUARANTINE)?;
    finish_appender(quarantine_pii, &QUARANTINE_PII)?;
    let outcomes = merge_keyed_tables(&commit, &batch, plans)?;
    // The merge's months are gone; what they took goes back before caller_calls reads every call.
    crate::memory::release_free_memory();
    // The calls as they will be committed, with the entities of the last resolve run.
    let calls_dir = commit.table_dir(CALLS.name)?;
    let entities_dir = commit.base_table_dir(crate::catalog::resolve::CALLER_ENTITIES.name);
    let earlier = commit.base_table_dir(CALLER_CALLS.name);
    let out = commit.table_dir(CALLER_CALLS.name)?;
    let folders = callers::Folders {
        calls: &calls_dir,
        entities: entities_dir.as_deref(),
        earlier: earlier.as_deref(),
        out: &out,
    };
    let refreshed = callers::refresh(&folders, &outcomes[0].rewritten).map_err(|e| merge_error(&CALLER_CALLS, e))?;
    commit.keep(CALLER_CALLS.name, |relative| !callers::carried(&refreshed, relative))?;
    // Counts are of calls and orders; the restricted copy of calls mirrors the calls.
    for (def, outcome) in [&CALLS, &CALLS_PII, &WORK_ORDERS].iter().zip(&outcomes) {
        if def.restricted {
            continue;
        }
        summary.accepted += outcome.new;
        summary.updated += outcome.updated;
        summary.unchanged += outcome.unchanged;
    }
    let mut files_table = appender(&commit, &INGEST_FILES, &batch)?;
    for row in &manifest {
        let cells: Vec<Cell<'_>> = row.iter().map(Value::cell).collect();
        files_table.push(&cells).map_err(|e| file_error(Path::new(INGEST_FILES.name), e))?;
    }
    finish_appender(files_table, &INGEST_FILES)?;
    let quarantined: u64 = summary.quarantined.values().sum();
    let count = |n: u64| Cell::Int(Some(n as i64));
    let mut batches = appender(&commit, &INGEST_BATCHES, &batch)?;
    batches
        .push(&[
            Cell::Text(Some(&batch)),
            Cell::Time(Some(started)),
            Cell::Time(Some(chrono::Utc::now().timestamp_micros())),
            count(summary.files.len() as u64),
            count(summary.rows_read),
            count(summary.accepted),
            count(summary.updated),
            count(summary.unchanged),
            count(quarantined),
        ])
        .map_err(|e| file_error(Path::new(INGEST_BATCHES.name), e))?;
    finish_appender(batches, &INGEST_BATCHES)?;
    commit.commit()?;
    if inferred {
        warehouse.set_city_profile(&profile)?;
    }
    summary.batch_id = Some(batch);
    Ok(summary)
}

impl Normaliser {
    /// The same, masking these people's names wherever a narrative gives them.
    fn knowing(mut self, names: Vec<String>) -> Normaliser {
        self.names = KnownNames::new(names.iter().map(String::as_str));
        self
    }
}

/// The full names of the people this batch and the warehouse know: every caller's name, and every
/// counterparty that is a person. Narratives name them in sentences of any shape; the analyst
/// copy of a narrative masks them all.
fn known_names(
    warehouse: &Warehouse,
    files: &[PathBuf],
    table: Option<Table>,
    reader: &CounterpartyReader,
) -> Result<Vec<String>, IngestError> {
    let columns = Table::Calls.columns();
    let position = |name: &str| columns.iter().position(|c| c.name == name);
    let (Some(name), Some(counterparty)) = (position("caller_name"), position("counterparty")) else {
        return Ok(Vec::new());
    };
    let mut names: HashSet<String> = HashSet::new();
    let person = |text: &str, names: &mut HashSet<String>| {
        if !names.contains(text) && reader.normalise(text).kind == CounterpartyKind::Person {
            names.insert(text.to_owned());
        }
    };
    for file in table_files(warehouse, CALLS_PII.name)? {
        names.extend(read_text_column(&file, "caller_name").map_err(|e| file_error(&file, e))?);
        for text in read_text_column(&file, "counterparty").map_err(|e| file_error(&file, e))? {
            person(&text, &mut names);
        }
    }
    for path in files {
        let source = SourceReader::open(path, table)?;
        if source.table() != Table::Calls {
            continue;
        }
        for record in source {
            // A broken record is quarantined by the run itself; here it only names nobody.
            let Ok(fields) = record?.fields else { continue };
            if let Some(Some(n)) = fields.get(name) {
                names.insert(n.clone());
            }
            if let Some(Some(c)) = fields.get(counterparty) {
                person(c, &mut names);
            }
        }
    }
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    Ok(names)
}

/// The area code given to local numbers when neither a profile nor the data name one.
pub const UNKNOWN_AREA_CODE: &str = "0000";

/// Calls read from each file to infer a city profile.
const INFERENCE_RECORDS: usize = 200_000;

/// The city profile a new warehouse's first batch tells: the area code most landlines written with
/// one carry, and the districts with their spellings (from up to 200,000 calls of each file).
fn infer_profile(files: &[PathBuf], table: Option<Table>) -> Result<CityProfile, IngestError> {
    let columns = Table::Calls.columns();
    let position = |name: &str| columns.iter().position(|c| c.name == name);
    let (Some(phone), Some(district), Some(counterparty)) =
        (position("caller_phone"), position("district"), position("counterparty"))
    else {
        return Ok(CityProfile::empty("inferred"));
    };
    let mut inference = Inference::default();
    let mut counterparties: HashSet<String> = HashSet::new();
    for path in files {
        let reader = SourceReader::open(path, table)?;
        if reader.table() != Table::Calls {
            continue;
        }
        for record in reader.take(INFERENCE_RECORDS) {
            let Ok(fields) = record?.fields else { continue };
            let field = |i: usize| fields.get(i).and_then(|f| f.as_deref());
            inference.observe(field(phone), field(district));
            if let Some(c) = field(counterparty) {
                counterparties.insert(c.to_owned());
            }
        }
    }
    let mut profile = inference.profile();
    // The city's name: the prefix many different organisations carry (石家庄…, 宜昌…).
    let names: Vec<&str> = counterparties.iter().map(String::as_str).collect();
    let places = profile.place_prefixes();
    let mut prefixes: Vec<String> = crate::text::frequent_prefixes(&names, 0.05)
        .into_iter()
        .filter(|p| !places.iter().any(|place| place.starts_with(p.as_str())))
        .collect();
    prefixes.sort_by_key(|p| p.chars().count());
    if let (Some(short), Some(name)) = (prefixes.first(), prefixes.last()) {
        profile.short = short.clone();
        profile.name = name.clone();
    }
    Ok(profile)
}
