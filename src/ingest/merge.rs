//! Month-at-a-time merge of a keyed table: a batch's rows are spilled by month as Arrow IPC, then
//! each month is merged by key with the warehouse's partition, sorted by time and written as Parquet.
//!
//! Memory is bounded by one month of one table (plus a 16-byte digest per key of the batch while
//! it is read), not by the size of the warehouse or of the batch.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use datafusion::arrow::compute::interleave_record_batch;
use datafusion::arrow::datatypes::{SchemaRef, TimestampMicrosecondType};
use datafusion::arrow::ipc::CompressionType;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use datafusion::arrow::row::{RowConverter, Rows, SortField};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::catalog::{OnFile, TableDef, TableError, history_columns, schema, writer_properties};
use crate::source::{BatchKeys, key_digest};

/// Rows per spilled batch and per batch handed to the Parquet writer.
const BATCH_ROWS: usize = 8192;

/// The Asia/Shanghai month of an instant as a number (year × 12 + month − 1), or −1 when unknown.
pub fn month_of(micros: Option<i64>) -> i32 {
    use chrono::Datelike;
    micros.and_then(crate::contract::timestamp::to_shanghai).map_or(-1, |t| t.year() * 12 + t.month0() as i32)
}

/// The partition folder of a month number.
pub fn partition_name(month: i32) -> String {
    if month < 0 { "month=unknown".to_owned() } else { format!("month={:04}-{:02}", month / 12, month % 12 + 1) }
}

/// The month number of a partition folder name.
fn partition_month(name: &str) -> Option<i32> {
    let rest = name.strip_prefix("month=")?;
    if rest == "unknown" {
        return Some(-1);
    }
    let (year, month) = rest.split_once('-')?;
    let (year, month) = (year.parse::<i32>().ok()?, month.parse::<i32>().ok()?);
    (1..=12).contains(&month).then_some(year * 12 + month - 1)
}

/// A batch's new rows of one keyed table, spilled to Arrow IPC files by month as they come.
pub struct MonthSpill {
    def: &'static TableDef,
    dir: PathBuf,
    months: BTreeMap<i32, StreamWriter<BufWriter<File>>>,
}

impl MonthSpill {
    /// A spill writing under `dir` (created).
    pub fn new(def: &'static TableDef, dir: PathBuf) -> Result<MonthSpill, TableError> {
        fs::create_dir_all(&dir).map_err(|e| read_error(&dir, e))?;
        Ok(MonthSpill { def, dir, months: BTreeMap::new() })
    }

    /// Appends rows of `month` (a batch with the table's schema).
    pub fn write(&mut self, month: i32, rows: &RecordBatch) -> Result<(), TableError> {
        let writer = match self.months.entry(month) {
            std::collections::btree_map::Entry::Occupied(slot) => slot.into_mut(),
            std::collections::btree_map::Entry::Vacant(slot) => {
                let path = self.dir.join(format!("{}.arrows", partition_name(month)));
                let file = File::create(&path).map_err(|e| read_error(&path, e))?;
                // LZ4 halves the bytes spilled for little CPU: at 10M calls the spill is gigabytes,
                // and writing it uncompressed runs into the kernel's dirty-page limits.
                let options = IpcWriteOptions::default()
                    .try_with_compression(Some(CompressionType::LZ4_FRAME))
                    .map_err(TableError::from)?;
                let writer = StreamWriter::try_new_with_options(
                    BufWriter::with_capacity(1 << 20, file),
                    &schema(self.def.columns),
                    options,
                )
                .map_err(|e| read_error(&path, e))?;
                slot.insert(writer)
            }
        };
        writer.write(rows).map_err(TableError::from)
    }

    /// Closes the files; returns each month's spill file.
    pub fn finish(self) -> Result<BTreeMap<i32, PathBuf>, TableError> {
        let mut files = BTreeMap::new();
        for (month, mut writer) in self.months {
            writer.finish().map_err(TableError::from)?;
            files.insert(month, self.dir.join(format!("{}.arrows", partition_name(month))));
        }
        Ok(files)
    }
}

/// What merging a table changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MergeOutcome {
    /// Keys new to the warehouse.
    pub new: u64,
    /// Keys whose row changed (the old version went to history).
    pub updated: u64,
    /// Keys whose row was identical.
    pub unchanged: u64,
    /// Partitions rewritten (relative folder names).
    pub rewritten: BTreeSet<String>,
}

fn foreign(path: &Path, reason: &str) -> TableError {
    TableError::Foreign { path: path.to_owned(), reason: reason.to_owned() }
}

fn read_error(path: &Path, e: impl OnFile) -> TableError {
    e.on(path)
}

/// The Parquet files of one partition folder.
pub(crate) fn partition_files(dir: &Path) -> Result<Vec<PathBuf>, TableError> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| read_error(dir, e))? {
        let path = entry.map_err(|e| read_error(dir, e))?.path();
        if path.extension().is_some_and(|e| e == "parquet") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// The month partitions of a table folder.
pub(crate) fn partitions(table_dir: Option<&Path>) -> Result<BTreeMap<i32, PathBuf>, TableError> {
    let mut found = BTreeMap::new();
    let Some(table_dir) = table_dir else { return Ok(found) };
    for entry in fs::read_dir(table_dir).map_err(|e| read_error(table_dir, e))? {
        let path = entry.map_err(|e| read_error(table_dir, e))?.path();
        let month = path.file_name().and_then(|n| n.to_str()).and_then(partition_month);
        if let (Some(month), true) = (month, path.is_dir()) {
            found.insert(month, path);
        }
    }
    Ok(found)
}

/// Reads a warehouse Parquet file, checking it has the table's schema. A file written before the
/// table gained columns (its columns are the table's in order, some missing) is read with those
/// columns null, so a warehouse made by an earlier version takes new batches.
fn read_parquet_batches(
    path: &Path,
    expected: &SchemaRef,
    mask_key_only: Option<usize>,
) -> Result<Vec<RecordBatch>, TableError> {
    let file = File::open(path).map_err(|e| read_error(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| read_error(path, e))?;
    let fields = builder.schema().fields().clone();
    // Where each of the table's columns is in the file (None: the file predates it).
    let mut positions: Vec<Option<usize>> = Vec::with_capacity(expected.fields().len());
    let mut next = 0;
    for want in expected.fields() {
        match fields.iter().position(|f| f.name() == want.name()) {
            Some(i) if i >= next && fields[i].data_type() == want.data_type() => {
                positions.push(Some(i));
                next = i + 1;
            }
            None => positions.push(None),
            Some(_) => return Err(foreign(path, "its columns differ")),
        }
    }
    if positions.iter().flatten().count() != fields.len() {
        return Err(foreign(path, "its columns differ"));
    }
    if let Some(column) = mask_key_only {
        let Some(Some(at)) = positions.get(column) else {
            return Err(foreign(path, "no key column"));
        };
        let mask = ProjectionMask::roots(builder.parquet_schema(), [*at]);
        let reader =
            builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| read_error(path, e))?;
        return reader.map(|batch| batch.map_err(|e| read_error(path, e))).collect();
    }
    let reader = builder.with_batch_size(BATCH_ROWS).build().map_err(|e| read_error(path, e))?;
    let complete = positions.iter().all(Option::is_some);
    reader
        .map(|batch| {
            let batch = batch.map_err(|e| read_error(path, e))?;
            if complete {
                return Ok(batch);
            }
            let columns: Vec<ArrayRef> = positions
                .iter()
                .zip(expected.fields())
                .map(|(at, field)| match at {
                    Some(i) => batch.column(*i).clone(),
                    None => datafusion::arrow::array::new_null_array(field.data_type(), batch.num_rows()),
                })
                .collect();
            RecordBatch::try_new(expected.clone(), columns).map_err(|e| read_error(path, e))
        })
        .collect()
}

/// Keys of the batch that already exist in another month of the warehouse (their row moves
/// partition), and the months they move out of. Reads only the key column of every partition.
pub fn moved_keys(
    def: &TableDef,
    base: Option<&Path>,
    batch_keys: &BatchKeys,
) -> Result<(HashSet<u128>, BTreeSet<i32>), TableError> {
    let mut moved = HashSet::new();
    let mut from = BTreeSet::new();
    if batch_keys.is_empty() {
        return Ok((moved, from));
    }
    let key = def.key.unwrap_or(0);
    let expected = schema(def.columns);
    for (month, dir) in partitions(base)? {
        for file in partition_files(&dir)? {
            for batch in read_parquet_batches(&file, &expected, Some(key))? {
                let keys = batch.column(0).as_string::<i32>();
                for k in keys.iter().flatten() {
                    let digest = key_digest(k);
                    if batch_keys.tag(digest).is_some_and(|m| m != month) {
                        moved.insert(digest);
                        from.insert(month);
                    }
                }
            }
        }
    }
    Ok((moved, from))
}

/// Content rows (every column but the last, `batch_id`) of a batch, converted on first use.
struct Contents {
    converter: RowConverter,
    rows: HashMap<usize, Rows>,
}

impl Contents {
    fn new(schema: &SchemaRef) -> Result<Contents, TableError> {
        let fields = schema.fields().iter().take(schema.fields().len() - 1);
        let converter = RowConverter::new(fields.map(|f| SortField::new(f.data_type().clone())).collect())
            .map_err(TableError::from)?;
        Ok(Contents { converter, rows: HashMap::new() })
    }

    fn of(&mut self, index: usize, batch: &RecordBatch) -> Result<&Rows, TableError> {
        if !self.rows.contains_key(&index) {
            let columns: Vec<ArrayRef> = batch.columns()[..batch.num_columns() - 1].to_vec();
            let rows = self.converter.convert_columns(&columns).map_err(TableError::from)?;
            self.rows.insert(index, rows);
        }
        Ok(&self.rows[&index])
    }

    fn same(
        &mut self,
        a: (usize, usize),
        a_batch: &RecordBatch,
        b: (usize, usize),
        b_batch: &RecordBatch,
    ) -> Result<bool, TableError> {
        let left = self.of(a.0, a_batch)?.row(a.1).owned();
        Ok(left.row() == self.of(b.0, b_batch)?.row(b.1))
    }
}

/// Merges one keyed table: every month with new rows or rows moving out is merged with its
/// warehouse partition and written to `out/<month>/part-0.parquet`; superseded rows are appended
/// to `history`. Months where nothing changed are not written (the caller keeps their files).
pub fn merge_table(
    def: &'static TableDef,
    base: Option<&Path>,
    spilled: &BTreeMap<i32, PathBuf>,
    moved: &HashSet<u128>,
    moved_from: &BTreeSet<i32>,
    out: &Path,
    history: &mut HistoryWriter,
) -> Result<MergeOutcome, TableError> {
    let existing = partitions(base)?;
    let months: BTreeSet<i32> = spilled.keys().chain(moved_from.iter()).copied().collect();
    let mut outcome = MergeOutcome::default();
    let expected = schema(def.columns);
    let key_column = def.key.unwrap_or(0);
    let time_column = def.time.unwrap_or(0);
    for month in months {
        // Batches [0, old) are the warehouse's, [old, ..) the batch's.
        let mut batches = Vec::new();
        if let Some(dir) = existing.get(&month) {
            for file in partition_files(dir)? {
                batches.extend(read_parquet_batches(&file, &expected, None)?);
            }
        }
        let old = batches.len();
        if let Some(path) = spilled.get(&month) {
            let file = File::open(path).map_err(|e| read_error(path, e))?;
            let reader = StreamReader::try_new(BufReader::with_capacity(1 << 20, file), None)
                .map_err(|e| read_error(path, e))?;
            for batch in reader {
                batches.push(batch.map_err(|e| read_error(path, e))?);
            }
        }
        let keys: Vec<&StringArray> = batches.iter().map(|b| b.column(key_column).as_string::<i32>()).collect();
        let mut index: HashMap<&str, (usize, usize)> = HashMap::new();
        for (b, array) in keys.iter().enumerate().take(old) {
            for r in 0..array.len() {
                if array.is_valid(r) {
                    index.insert(array.value(r), (b, r));
                }
            }
        }
        let mut contents = Contents::new(&expected)?;
        let mut superseded: HashSet<(usize, usize)> = HashSet::new();
        let mut kept: Vec<(usize, usize)> = Vec::new();
        let mut changed = 0u64;
        for (b, array) in keys.iter().enumerate().skip(old) {
            for r in 0..array.len() {
                let key = array.value(r);
                match index.get(key) {
                    Some(&at) if contents.same(at, &batches[at.0], (b, r), &batches[b])? => {
                        outcome.unchanged += 1;
                    }
                    Some(&at) => {
                        superseded.insert(at);
                        kept.push((b, r));
                        outcome.updated += 1;
                        changed += 1;
                    }
                    None => {
                        if !moved.is_empty() && moved.contains(&key_digest(key)) {
                            outcome.updated += 1;
                        } else {
                            outcome.new += 1;
                        }
                        kept.push((b, r));
                        changed += 1;
                    }
                }
            }
        }
        // Warehouse rows stay unless a new version replaces them here or elsewhere.
        for (b, array) in keys.iter().enumerate().take(old) {
            for r in 0..array.len() {
                if superseded.contains(&(b, r)) {
                    continue;
                }
                if !moved.is_empty() && moved.contains(&key_digest(array.value(r))) {
                    superseded.insert((b, r));
                    changed += 1;
                    continue;
                }
                kept.push((b, r));
            }
        }
        if changed == 0 {
            continue;
        }
        // Sorted by time, then key, within the file.
        let times: Vec<&[i64]> = batches
            .iter()
            .map(|b| b.column(time_column).as_primitive::<TimestampMicrosecondType>().values().as_ref())
            .collect();
        kept.sort_unstable_by(|&(ab, ar), &(bb, br)| {
            (times[ab][ar], keys[ab].value(ar)).cmp(&(times[bb][br], keys[bb].value(br)))
        });
        let name = partition_name(month);
        let dir = out.join(&name);
        fs::create_dir_all(&dir).map_err(|e| read_error(&dir, e))?;
        let path = dir.join("part-0.parquet");
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        let file = File::create(&path).map_err(|e| read_error(&path, e))?;
        let mut writer = ArrowWriter::try_new(file, expected.clone(), Some(writer_properties()))
            .map_err(|e| read_error(&path, e))?;
        for chunk in kept.chunks(BATCH_ROWS * 8) {
            let batch = interleave_record_batch(&refs, chunk).map_err(|e| read_error(&path, e))?;
            writer.write(&batch).map_err(|e| read_error(&path, e))?;
        }
        writer.close().map_err(|e| read_error(&path, e))?;
        let mut superseded: Vec<(usize, usize)> = superseded.into_iter().collect();
        superseded.sort_unstable();
        for chunk in superseded.chunks(BATCH_ROWS) {
            history.write(&interleave_record_batch(&refs, chunk).map_err(TableError::from)?)?;
        }
        outcome.rewritten.insert(name);
    }
    Ok(outcome)
}

/// The history file of a keyed table for one batch: superseded rows plus `superseded_by`.
pub struct HistoryWriter {
    path: PathBuf,
    def: &'static TableDef,
    batch: String,
    writer: Option<ArrowWriter<File>>,
}

impl HistoryWriter {
    /// A writer that creates `path` on its first row.
    pub fn new(path: PathBuf, def: &'static TableDef, batch: &str) -> HistoryWriter {
        HistoryWriter { path, def, batch: batch.to_owned(), writer: None }
    }

    fn write(&mut self, rows: &RecordBatch) -> Result<(), TableError> {
        if rows.num_rows() == 0 {
            return Ok(());
        }
        let columns = history_columns(self.def);
        let history_schema = schema(&columns);
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => {
                if let Some(parent) = self.path.parent() {
                    fs::create_dir_all(parent).map_err(|e| read_error(parent, e))?;
                }
                let file = File::create(&self.path).map_err(|e| read_error(&self.path, e))?;
                let writer = ArrowWriter::try_new(file, history_schema.clone(), Some(writer_properties()))
                    .map_err(|e| read_error(&self.path, e))?;
                self.writer.insert(writer)
            }
        };
        let mut arrays = rows.columns().to_vec();
        arrays.push(Arc::new(StringArray::from(vec![Some(self.batch.as_str()); rows.num_rows()])));
        let batch = RecordBatch::try_new(history_schema, arrays).map_err(TableError::from)?;
        writer.write(&batch).map_err(|e| read_error(&self.path, e))
    }

    /// Closes the file, if one was started.
    pub fn finish(self) -> Result<(), TableError> {
        match self.writer {
            Some(writer) => writer.close().map(|_| ()).map_err(|e| read_error(&self.path, e)),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip_and_months_follow_shanghai_time() {
        for month in [-1, 2023 * 12, 2023 * 12 + 11, 2024 * 12 + 1] {
            assert_eq!(partition_month(&partition_name(month)), Some(month));
        }
        assert_eq!(partition_month("month=2023-13"), None);
        assert_eq!(partition_month("batch=00000001.parquet"), None);
        // 2023-07-31 16:30 UTC is already 1 August in Asia/Shanghai.
        let instant = chrono::DateTime::parse_from_rfc3339("2023-07-31T16:30:00Z").unwrap().timestamp_micros();
        assert_eq!(partition_name(month_of(Some(instant))), "month=2023-08");
        assert_eq!(partition_name(month_of(None)), "month=unknown");
    }
}
