//! `caller_calls`: every original call with the person behind it and that person's previous call of
//! the same category, kept in step by ingest and resolve, so the 7-day repeat rule is a filter.
//!
//! The caller is the call's entity in `caller_entities` (what the last resolve run found) or, for a
//! call no resolve run has seen yet, its `phone_key`: the rule the named queries have always used.
//! `previous_at` is the nearest earlier original call of the same caller and category (the `LAG`
//! the queries computed over a join of every call with `caller_entities` and a sort by person).
//! Partitioned by month like `calls`; within a month a caller's calls are together, by category and time. A month
//! is written again only when its calls changed or a caller or previous call in it did; the others
//! are carried over from the earlier snapshot. After an incremental resolve run the earlier table
//! is patched for the callers whose calls changed (`patch`), not computed again from every call.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::fs::{self, File};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondArray, UInt32Array,
};
use datafusion::arrow::compute::take;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use super::merge::{partition_files, partitions};
use crate::catalog::ingest::CALLER_CALLS;
use crate::catalog::{OnFile, TableError, schema, writer_properties};

/// Rows per batch handed to the Parquet writer.
const BATCH_ROWS: usize = 64 * 1024;

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Refreshed {
    /// Month folders written anew (`month=YYYY-MM`).
    pub written: BTreeSet<String>,
    /// Month folders whose earlier files still hold: the caller carries them over.
    pub kept: BTreeSet<String>,
    /// Original calls in the table.
    pub rows: u64,
}

/// Whether a file of the earlier snapshot's `caller_calls` (path inside the table folder) is carried over.
pub fn carried(refreshed: &Refreshed, relative: &Path) -> bool {
    relative.components().next().is_some_and(|c| refreshed.kept.contains(&*c.as_os_str().to_string_lossy()))
}

/// Where a refresh reads and writes.
pub struct Folders<'a> {
    /// The `calls` table as it will be committed.
    pub calls: &'a Path,
    /// The `caller_entities` table as it will be committed (none before the first resolve run).
    pub entities: Option<&'a Path>,
    /// The `caller_calls` table of the earlier snapshot, if it has one.
    pub earlier: Option<&'a Path>,
    /// The new snapshot's `caller_calls` folder.
    pub out: &'a Path,
}

/// A 128-bit digest of a call id: two SipHash passes with different fixed keys (one in 2^128 to
/// confuse two calls, and fast enough for 10M ids).
fn digest(text: &str) -> u128 {
    let hash = |salt: u64| {
        let mut hasher =
            std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
        hasher.write_u64(salt);
        hasher.write(text.as_bytes());
        hasher.finish()
    };
    (u128::from(hash(0x6361_6c6c)) << 64) | u128::from(hash(0x7065_7273))
}

/// The columns of `path` named in `names`, in that order; a column the file lacks is all null.
fn read_columns(path: &Path, names: &[&str]) -> Result<Vec<Vec<Option<ArrayRef>>>, TableError> {
    let file = File::open(path).map_err(|e| e.on(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.on(path))?;
    let fields = builder.schema().fields().clone();
    let found: Vec<Option<usize>> = names.iter().map(|name| fields.iter().position(|f| f.name() == name)).collect();
    let mut roots: Vec<usize> = found.iter().flatten().copied().collect();
    roots.sort_unstable();
    roots.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots.iter().copied());
    let reader = builder.with_projection(mask).with_batch_size(BATCH_ROWS).build().map_err(|e| e.on(path))?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| e.on(path))?;
        out.push(
            found.iter().map(|at| at.map(|i| batch.column(roots.binary_search(&i).unwrap_or(0)).clone())).collect(),
        );
    }
    Ok(out)
}

/// A text column, checked to be one.
fn texts<'a>(path: &Path, name: &str, array: &'a Option<ArrayRef>) -> Result<Option<&'a StringArray>, TableError> {
    match array {
        None => Ok(None),
        Some(a) => a.as_string_opt::<i32>().map(Some).ok_or_else(|| TableError::ColumnType {
            path: path.to_owned(),
            column: name.to_owned(),
            found: a.data_type().clone(),
        }),
    }
}

/// A time column, checked to be one.
fn times<'a>(
    path: &Path,
    name: &str,
    array: &'a Option<ArrayRef>,
) -> Result<&'a TimestampMicrosecondArray, TableError> {
    array.as_ref().and_then(|a| a.as_primitive_opt::<TimestampMicrosecondType>()).ok_or_else(|| TableError::Foreign {
        path: path.to_owned(),
        reason: format!("no {name} column of microsecond times"),
    })
}

/// Hashes a [`digest`] by its low 64 bits: it is uniform already, and SipHash over 10M of them
/// again cost as much as making them.
#[derive(Default)]
struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u128(&mut self, value: u128) {
        self.0 = value as u64;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type ByDigest<V> = HashMap<u128, V, std::hash::BuildHasherDefault<DigestHasher>>;

/// Texts numbered in the order first seen, held once in one buffer and found by their [`digest`]
/// (two texts would have to share 128 bits to be taken for one): 10M phone keys fit in about 70
/// bytes each, where a map of owned strings took twice that.
#[derive(Default)]
struct Texts {
    bytes: String,
    ends: Vec<usize>,
    number: ByDigest<u32>,
}

impl Texts {
    fn len(&self) -> usize {
        self.ends.len()
    }

    fn get(&self, n: u32) -> &str {
        let n = n as usize;
        let start = if n == 0 { 0 } else { self.ends[n - 1] };
        &self.bytes[start..self.ends[n]]
    }

    /// The text's number, and whether it is new.
    fn intern(&mut self, text: &str) -> (u32, bool) {
        let next = self.ends.len() as u32;
        let n = *self.number.entry(digest(text)).or_insert(next);
        if n == next {
            self.bytes.push_str(text);
            self.ends.push(self.bytes.len());
        }
        (n, n == next)
    }
}

/// The entity of every call `caller_entities` names: call digest → entity number, and the names.
fn entities(folder: Option<&Path>) -> Result<(ByDigest<u32>, Texts), TableError> {
    let mut of_call = ByDigest::default();
    let mut names = Texts::default();
    let Some(folder) = folder.filter(|f| f.is_dir()) else { return Ok((of_call, names)) };
    for path in partition_files(folder)? {
        for batch in read_columns(&path, &["call_id", "entity_id"])? {
            let (Some(calls), Some(entities)) =
                (texts(&path, "call_id", &batch[0])?, texts(&path, "entity_id", &batch[1])?)
            else {
                return Err(TableError::Foreign { path, reason: "no call_id or entity_id column".into() });
            };
            for r in 0..calls.len() {
                if calls.is_null(r) || entities.is_null(r) {
                    continue;
                }
                let entity = entities.value(r);
                // The table is written entity by entity: mostly the same as the row before.
                let last = names.len().checked_sub(1).map(|n| n as u32);
                let n = match last.filter(|&n| names.get(n) == entity) {
                    Some(n) => n,
                    None => names.intern(entity).0,
                };
                of_call.insert(digest(calls.value(r)), n);
            }
        }
    }
    Ok((of_call, names))
}

/// An original call as the first pass sees it (24 bytes: 10M calls hold 240 MB).
#[derive(Clone, Copy)]
struct Seen {
    /// Caller number (`NO_CALLER`: neither an entity nor a phone_key).
    caller: u32,
    /// Category number.
    category: u16,
    /// Month number (index into the months read).
    month: u16,
    /// Position among the month's original calls, in file order.
    pos: u32,
    /// `received_at`, UTC microseconds (`i64::MIN` when missing).
    at: i64,
}

const NO_CALLER: u32 = u32::MAX;

/// One month's original calls after the first pass.
struct Month {
    name: String,
    folder: PathBuf,
    /// Per original call in file order: caller number and whether it is an entity.
    caller: Vec<u32>,
    /// Per original call: the previous call's time (`i64::MIN`: none).
    previous: Vec<i64>,
}

impl Month {
    fn previous_at(&self, pos: usize) -> Option<i64> {
        Some(self.previous[pos]).filter(|&at| at != i64::MIN)
    }
}

/// The callers and categories numbered by the first pass. A caller is found by the [`digest`] of
/// its text and keeps no copy of it: an entity's id is in the entities' [`Texts`], a phone_key is
/// read again with its row.
#[derive(Default)]
struct Interned {
    callers: ByDigest<u32>,
    /// Per caller: its entity number, or `NO_CALLER` for a phone_key.
    entity_of_caller: Vec<u32>,
    categories: Vec<String>,
    category_number: HashMap<String, u16>,
}

impl Interned {
    fn caller(&mut self, text: &str, entity: u32) -> u32 {
        let next = self.entity_of_caller.len() as u32;
        let n = *self.callers.entry(digest(text)).or_insert(next);
        if n == next {
            self.entity_of_caller.push(entity);
        }
        n
    }

    /// The text of caller `n` on a row whose phone_key is `phone`.
    fn text<'a>(&self, n: u32, entities: &'a Texts, phone: Option<&'a str>) -> Option<&'a str> {
        if n == NO_CALLER {
            return None;
        }
        match self.entity_of_caller[n as usize] {
            NO_CALLER => phone,
            e => Some(entities.get(e)),
        }
    }

    fn category(&mut self, text: Option<&str>) -> u16 {
        let text = text.unwrap_or("");
        if let Some(&n) = self.category_number.get(text) {
            return n;
        }
        let n = self.categories.len() as u16;
        self.categories.push(text.to_owned());
        self.category_number.insert(text.to_owned(), n);
        n
    }
}

/// The month folders of a table (`month=YYYY-MM`, in month order) with their names.
fn month_folders(table: Option<&Path>) -> Result<Vec<(String, PathBuf)>, TableError> {
    Ok(partitions(table)?
        .into_values()
        .map(|dir| (dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), dir))
        .collect())
}

/// One row's share of a month's fingerprint.
fn row_print(call: &str, caller: Option<&str>, previous: Option<i64>) -> u64 {
    let mut hasher =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().build_hasher();
    hasher.write(call.as_bytes());
    hasher.write_u8(0xff);
    match caller {
        Some(c) => hasher.write(c.as_bytes()),
        None => hasher.write_u8(0),
    }
    hasher.write_u8(0xff);
    hasher.write_i64(previous.unwrap_or(i64::MIN));
    hasher.write_u8(u8::from(previous.is_some()));
    hasher.finish()
}

/// The fingerprint of an earlier snapshot's month of `caller_calls` (none if unreadable: written again).
fn earlier_print(folder: &Path) -> Option<u64> {
    let mut print = 0u64;
    for path in partition_files(folder).ok()? {
        for batch in read_columns(&path, &["call_id", "caller", "previous_at"]).ok()? {
            let calls = texts(&path, "call_id", &batch[0]).ok()??;
            let callers = texts(&path, "caller", &batch[1]).ok()??;
            let previous = times(&path, "previous_at", &batch[2]).ok()?;
            for r in 0..calls.len() {
                let caller = (!callers.is_null(r)).then(|| callers.value(r));
                let before = (!previous.is_null(r)).then(|| previous.value(r));
                print = print.wrapping_add(row_print(calls.value(r), caller, before));
            }
        }
    }
    Some(print)
}

/// Brings `caller_calls` in step with `calls` and `caller_entities`. `changed` names the month
/// folders of `calls` this commit wrote anew (every one of them is written again here); any other
/// month is written only if a caller or a previous call in it differs from the earlier snapshot's.
pub fn refresh(folders: &Folders<'_>, changed: &BTreeSet<String>) -> Result<Refreshed, TableError> {
    let (entity_of, entity_names) = entities(folders.entities)?;
    let months = month_folders(Some(folders.calls).filter(|f| f.is_dir()))?;
    if months.len() > usize::from(u16::MAX) {
        return Err(TableError::Foreign {
            path: folders.calls.to_owned(),
            reason: format!("{} month partitions, more than caller_calls handles", months.len()),
        });
    }

    // First pass: who called, about what and when, for every original call.
    let mut interned = Interned::default();
    let mut caller_of_entity = vec![NO_CALLER; entity_names.len()];
    // Sized from the files' footers: grown by doubling, 10M calls held twice the rows for a moment.
    let mut rows = 0usize;
    for (_, folder) in &months {
        for path in partition_files(folder)? {
            let file = File::open(&path).map_err(|e| e.on(&path))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| e.on(&path))?;
            rows += usize::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        }
    }
    let mut seen: Vec<Seen> = Vec::with_capacity(rows);
    let mut month_rows: Vec<Month> = Vec::with_capacity(months.len());
    for (m, (name, folder)) in months.iter().enumerate() {
        let mut month = Month { name: name.clone(), folder: folder.clone(), caller: Vec::new(), previous: Vec::new() };
        for path in partition_files(folder)? {
            let columns = ["call_id", "phone_key", "category", "received_at", "source_call_id"];
            for batch in read_columns(&path, &columns)? {
                let Some(calls) = texts(&path, "call_id", &batch[0])? else {
                    return Err(TableError::Foreign { path, reason: "no call_id column".into() });
                };
                let phones = texts(&path, "phone_key", &batch[1])?;
                let categories = texts(&path, "category", &batch[2])?;
                let at = times(&path, "received_at", &batch[3])?;
                let sources = texts(&path, "source_call_id", &batch[4])?;
                for r in 0..calls.len() {
                    if sources.is_some_and(|s| s.is_valid(r)) || calls.is_null(r) {
                        continue;
                    }
                    let caller = match entity_of.get(&digest(calls.value(r))) {
                        Some(&e) => match caller_of_entity[e as usize] {
                            NO_CALLER => {
                                let n = interned.caller(entity_names.get(e), e);
                                caller_of_entity[e as usize] = n;
                                n
                            }
                            n => n,
                        },
                        None => match phones.filter(|p| p.is_valid(r)) {
                            Some(p) => interned.caller(p.value(r), NO_CALLER),
                            None => NO_CALLER,
                        },
                    };
                    let category = interned.category(categories.filter(|c| c.is_valid(r)).map(|c| c.value(r)));
                    seen.push(Seen {
                        caller,
                        category,
                        month: m as u16,
                        pos: month.caller.len() as u32,
                        at: if at.is_valid(r) { at.value(r) } else { i64::MIN },
                    });
                    month.caller.push(caller);
                }
            }
        }
        month.previous = vec![i64::MIN; month.caller.len()];
        month_rows.push(month);
    }
    drop(entity_of);

    // The previous call of the same caller and category: the neighbour in (caller, category, time).
    seen.par_sort_unstable_by_key(|s| (s.caller, s.category, s.at, s.month, s.pos));
    for pair in seen.windows(2) {
        let (before, call) = (pair[0], pair[1]);
        if call.caller != NO_CALLER
            && before.caller == call.caller
            && before.category == call.category
            && before.at != i64::MIN
        {
            month_rows[call.month as usize].previous[call.pos as usize] = before.at;
        }
    }
    // The order rows are written in: by caller (numbered as first seen), category and time within
    // each month. `seen` is sorted again in place rather than copied (10M calls: 240 MB).
    let mut order: Vec<Vec<u32>> = month_rows.iter().map(|m| Vec::with_capacity(m.caller.len())).collect();
    {
        let mut category_rank: Vec<u16> = (0..interned.categories.len() as u16).collect();
        category_rank.sort_unstable_by(|&a, &b| interned.categories[a as usize].cmp(&interned.categories[b as usize]));
        let mut rank_of_category = vec![0u16; category_rank.len()];
        for (r, &c) in category_rank.iter().enumerate() {
            rank_of_category[c as usize] = r as u16;
        }
        seen.par_sort_unstable_by_key(|s| (s.month, s.caller, rank_of_category[s.category as usize], s.at, s.pos));
        for s in &seen {
            order[s.month as usize].push(s.pos);
        }
        drop(seen);
    }
    let (interned, entity_names) = (&interned, &entity_names);

    // Which months differ from the earlier snapshot's.
    let earlier = |name: &str| folders.earlier.map(|e| e.join(name)).filter(|d| d.is_dir());
    let decisions: Vec<Result<bool, TableError>> = month_rows
        .par_iter()
        .map(|month| {
            let Some(before) = earlier(&month.name) else { return Ok(true) };
            if changed.contains(&month.name) {
                return Ok(true);
            }
            // The call ids again, for the fingerprint (the first pass kept none).
            let mut pos = 0usize;
            let mut print = 0u64;
            for path in partition_files(&month.folder)? {
                for batch in read_columns(&path, &["call_id", "source_call_id", "phone_key"])? {
                    let Some(calls) = texts(&path, "call_id", &batch[0])? else { continue };
                    let sources = texts(&path, "source_call_id", &batch[1])?;
                    let phones = texts(&path, "phone_key", &batch[2])?;
                    for r in 0..calls.len() {
                        if sources.is_some_and(|s| s.is_valid(r)) || calls.is_null(r) {
                            continue;
                        }
                        let phone = phones.filter(|p| p.is_valid(r)).map(|p| p.value(r));
                        let text = interned.text(month.caller[pos], entity_names, phone);
                        print = print.wrapping_add(row_print(calls.value(r), text, month.previous_at(pos)));
                        pos += 1;
                    }
                }
            }
            Ok(earlier_print(&before) != Some(print))
        })
        .collect();
    let mut refreshed =
        Refreshed { rows: month_rows.iter().map(|m| m.caller.len() as u64).sum(), ..Default::default() };
    let mut write = Vec::new();
    for ((month, decision), order) in month_rows.iter().zip(decisions).zip(order) {
        if decision? {
            if !month.caller.is_empty() {
                write.push((month, order));
            }
            refreshed.written.insert(month.name.clone());
        } else {
            refreshed.kept.insert(month.name.clone());
        }
    }
    write
        .into_par_iter()
        .map(|(month, order)| write_month(folders.out, month, &order, interned, entity_names))
        .collect::<Result<Vec<()>, _>>()?;
    Ok(refreshed)
}

/// The file a month of `caller_calls` is written to (`DIR/part-0.parquet`), the table's schema and
/// a writer of it.
fn month_writer(
    dir: &Path,
) -> Result<(PathBuf, datafusion::arrow::datatypes::SchemaRef, ArrowWriter<File>), TableError> {
    fs::create_dir_all(dir).map_err(|e| e.on(dir))?;
    let path = dir.join("part-0.parquet");
    let file = File::create(&path).map_err(|e| e.on(&path))?;
    let schema = schema(CALLER_CALLS.columns);
    let writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties())).map_err(|e| e.on(&path))?;
    Ok((path, schema, writer))
}

/// Writes one month of `caller_calls`: the month's original calls in `order` (positions).
fn write_month(
    out: &Path,
    month: &Month,
    order: &[u32],
    interned: &Interned,
    entity_names: &Texts,
) -> Result<(), TableError> {
    let names =
        ["call_id", "phone_key", "platform", "category", "district", "counterparty", "received_at", "source_call_id"];
    let types: Vec<DataType> = (0..7)
        .map(|i| if i == 6 { DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())) } else { DataType::Utf8 })
        .collect();
    // The month's original calls, in file order, as whole columns.
    let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); 7];
    for path in partition_files(&month.folder)? {
        for batch in read_columns(&path, &names)? {
            let rows = batch[0].as_ref().map_or(0, |a| a.len());
            let sources = texts(&path, "source_call_id", &batch[7])?;
            let calls = texts(&path, "call_id", &batch[0])?;
            let keep: UInt32Array = (0..rows as u32)
                .filter(|&r| {
                    !sources.is_some_and(|s| s.is_valid(r as usize)) && calls.is_some_and(|c| c.is_valid(r as usize))
                })
                .map(Some)
                .collect();
            for (i, column) in batch.iter().take(7).enumerate() {
                let array = match column {
                    Some(a) => take(a.as_ref(), &keep, None).map_err(|e| e.on(&path))?,
                    None => datafusion::arrow::array::new_null_array(&types[i], keep.len()),
                };
                parts[i].push(array);
            }
        }
    }
    let whole: Vec<ArrayRef> = parts
        .iter()
        .map(|p| {
            let refs: Vec<&dyn Array> = p.iter().map(|a| a.as_ref()).collect();
            datafusion::arrow::compute::concat(&refs)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| e.on(&month.folder))?;
    if whole[0].len() != month.caller.len() {
        return Err(TableError::Foreign {
            path: month.folder.clone(),
            reason: "the month's calls changed while caller_calls was written".into(),
        });
    }
    let (path, schema, mut writer) = month_writer(&out.join(&month.name))?;
    for chunk in order.chunks(BATCH_ROWS) {
        let indices = UInt32Array::from(chunk.to_vec());
        let pick = |i: usize| take(whole[i].as_ref(), &indices, None).map_err(|e| e.on(&path));
        let phones = pick(1)?;
        let phone_texts = phones.as_string_opt::<i32>();
        let mut caller = StringBuilder::with_capacity(chunk.len(), chunk.len() * 16);
        let mut entity = StringBuilder::with_capacity(chunk.len(), chunk.len() * 10);
        let mut previous = Vec::with_capacity(chunk.len());
        for (i, &pos) in chunk.iter().enumerate() {
            let c = month.caller[pos as usize];
            let phone = phone_texts.filter(|p| p.is_valid(i)).map(|p| p.value(i));
            caller.append_option(interned.text(c, entity_names, phone));
            match c {
                NO_CALLER => entity.append_null(),
                c => match interned.entity_of_caller[c as usize] {
                    NO_CALLER => entity.append_null(),
                    e => entity.append_value(entity_names.get(e)),
                },
            }
            previous.push(month.previous_at(pos as usize));
        }
        let previous: ArrayRef = Arc::new(TimestampMicrosecondArray::from(previous).with_timezone("UTC"));
        let columns: Vec<ArrayRef> = vec![
            pick(0)?,
            Arc::new(caller.finish()),
            Arc::new(entity.finish()),
            phones,
            pick(2)?,
            pick(3)?,
            pick(4)?,
            pick(5)?,
            pick(6)?,
            previous,
        ];
        let batch = RecordBatch::try_new(schema.clone(), columns).map_err(|e| e.on(&path))?;
        writer.write(&batch).map_err(|e| e.on(&path))?;
    }
    writer.close().map_err(|e| e.on(&path))?;
    Ok(())
}

/// Columns `which` (indices into the table's columns) of one month of an earlier `caller_calls`,
/// each one array over the month's files in order. `None` when a column is not of the table's type.
fn read_month(dir: &Path, which: &[usize]) -> Result<Option<Vec<ArrayRef>>, TableError> {
    let table = schema(CALLER_CALLS.columns);
    let names: Vec<&str> = which.iter().map(|&i| CALLER_CALLS.columns[i].0).collect();
    let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); names.len()];
    for path in partition_files(dir)? {
        for batch in read_columns(&path, &names)? {
            let rows = batch.iter().flatten().map(|a| a.len()).next().unwrap_or(0);
            for (k, column) in batch.into_iter().enumerate() {
                let want = table.field(which[k]).data_type();
                parts[k].push(match column {
                    Some(a) if a.data_type() == want => a,
                    Some(_) => return Ok(None),
                    None => datafusion::arrow::array::new_null_array(want, rows),
                });
            }
        }
    }
    let whole = parts
        .iter()
        .zip(which)
        .map(|(p, &i)| match p.as_slice() {
            [] => Ok(datafusion::arrow::array::new_empty_array(table.field(i).data_type())),
            [one] => Ok(one.clone()),
            many => datafusion::arrow::compute::concat(&many.iter().map(|a| a.as_ref()).collect::<Vec<_>>()),
        })
        .collect::<Result<Vec<ArrayRef>, _>>()
        .map_err(|e| e.on(dir))?;
    Ok(Some(whole))
}

/// Who made each call of a month and when, as an earlier `caller_calls` says: call_id, caller,
/// category and received_at (the columns a patch decides by).
const KEY_COLUMNS: [usize; 4] = [0, 1, 5, 8];

/// A month's [`KEY_COLUMNS`], typed.
struct MonthKeys<'a> {
    call: &'a StringArray,
    caller: &'a StringArray,
    category: &'a StringArray,
    at: &'a TimestampMicrosecondArray,
}

impl<'a> MonthKeys<'a> {
    /// The keys among `columns`, at `at` (positions of call_id, caller, category, received_at).
    fn of(columns: &'a [ArrayRef], at: [usize; 4]) -> Option<MonthKeys<'a>> {
        Some(MonthKeys {
            call: columns.get(at[0])?.as_string_opt::<i32>()?,
            caller: columns.get(at[1])?.as_string_opt::<i32>()?,
            category: columns.get(at[2])?.as_string_opt::<i32>()?,
            at: columns.get(at[3])?.as_primitive_opt::<TimestampMicrosecondType>()?,
        })
    }
}

/// A row of `caller_calls` whose caller's calls changed, as it will be written.
struct Moved<'a> {
    month: usize,
    row: u32,
    caller: &'a str,
    category: &'a str,
    /// `received_at`, UTC microseconds (`i64::MIN` when missing).
    at: i64,
    call: &'a str,
}

/// Brings `caller_calls` in step after an incremental resolve run that gave the calls in `changed`
/// (call id → entity id) their entity, and changed no other call's. The earlier snapshot's table
/// is patched instead of computed again from every call: the callers whose calls change are the
/// entities those calls join and the callers they leave (an entity, or for a call no run had
/// resolved, its phone_key); every row of those callers gets its caller and previous call again,
/// and a month holding none of them is carried over. `None` when there is no earlier table to
/// patch, or it has a month the calls do not: [`refresh`] then computes it from the calls.
pub fn patch(folders: &Folders<'_>, changed: &HashMap<String, String>) -> Result<Option<Refreshed>, TableError> {
    let Some(earlier) = folders.earlier.filter(|e| e.is_dir()) else { return Ok(None) };
    let months = month_folders(Some(earlier))?;
    let call_months = month_folders(Some(folders.calls).filter(|c| c.is_dir()))?;
    // A month of calls with no original call has no folder here.
    let call_months: BTreeSet<&String> = call_months.iter().map(|m| &m.0).collect();
    if months.iter().any(|m| !call_months.contains(&m.0)) {
        return Ok(None);
    }

    // Who made each call and when, as the earlier table says (a column of another type: computed
    // again instead).
    let read: Vec<Option<Vec<ArrayRef>>> =
        months.par_iter().map(|(_, dir)| read_month(dir, &KEY_COLUMNS)).collect::<Result<_, _>>()?;
    let mut keys: Vec<MonthKeys<'_>> = Vec::with_capacity(read.len());
    for columns in &read {
        match columns.as_deref().and_then(|c| MonthKeys::of(c, [0, 1, 2, 3])) {
            Some(k) => keys.push(k),
            None => return Ok(None),
        }
    }
    fn text(array: &StringArray, r: usize) -> Option<&str> {
        array.is_valid(r).then(|| array.value(r))
    }

    // The callers whose calls change: those the changed calls leave and the entities they join.
    let mut affected: HashSet<&str> = changed.values().map(String::as_str).collect();
    for k in &keys {
        for r in 0..k.call.len() {
            if let Some(c) = text(k.call, r).filter(|c| changed.contains_key(*c)).and(text(k.caller, r)) {
                affected.insert(c);
            }
        }
    }
    let moves = |k: &MonthKeys<'_>, r: usize| {
        text(k.call, r).is_some_and(|c| changed.contains_key(c))
            || text(k.caller, r).is_some_and(|c| affected.contains(c))
    };

    // Every row of those callers, with its caller now; the previous call of each is its neighbour
    // in (caller, category, time, call id), as `refresh` finds it.
    let mut moved: Vec<Moved<'_>> = Vec::new();
    for (month, k) in keys.iter().enumerate() {
        for r in 0..k.call.len() {
            if !moves(k, r) {
                continue;
            }
            let call = k.call.value(r);
            let caller = match changed.get(call) {
                Some(entity) => entity.as_str(),
                None => k.caller.value(r),
            };
            let category = text(k.category, r).unwrap_or("");
            let at = if k.at.is_valid(r) { k.at.value(r) } else { i64::MIN };
            moved.push(Moved { month, row: r as u32, caller, category, at, call });
        }
    }
    moved.par_sort_unstable_by(|a, b| (a.caller, a.category, a.at, a.call).cmp(&(b.caller, b.category, b.at, b.call)));
    // Per month and row: the index into `moved` (u32::MAX: the row stays as it was).
    let mut at_move: Vec<Vec<u32>> = keys.iter().map(|k| vec![u32::MAX; k.call.len()]).collect();
    let mut touched = vec![false; keys.len()];
    let mut previous: Vec<Option<i64>> = vec![None; moved.len()];
    for (i, m) in moved.iter().enumerate() {
        at_move[m.month][m.row as usize] = i as u32;
        touched[m.month] = true;
        if let Some(before) = i.checked_sub(1).map(|b| &moved[b])
            && before.caller == m.caller
            && before.category == m.category
            && before.at != i64::MIN
        {
            previous[i] = Some(before.at);
        }
    }

    // The months holding such a row are read whole and written again, two at a time at most; the
    // others are carried over.
    let rows: u64 = keys.iter().map(|k| k.call.len() as u64).sum();
    let mut refreshed = Refreshed { rows, ..Default::default() };
    let mut write = Vec::new();
    for (((name, dir), &touched), at_move) in months.iter().zip(&touched).zip(&at_move) {
        if touched {
            refreshed.written.insert(name.clone());
            write.push((name, dir, at_move));
        } else {
            refreshed.kept.insert(name.clone());
        }
    }
    let (moved, previous) = (&moved, &previous);
    let every: Vec<usize> = (0..CALLER_CALLS.columns.len()).collect();
    write
        .into_par_iter()
        .map(|(name, dir, at_move)| {
            let other = || TableError::Foreign {
                path: dir.clone(),
                reason: "a column not of the table's type, or the month changed while it was patched".into(),
            };
            let columns = read_month(dir, &every)?.ok_or_else(other)?;
            let month = MonthColumns::of(&columns).filter(|c| c.keys.call.len() == at_move.len()).ok_or_else(other)?;
            patch_month(&folders.out.join(name), &month, at_move, moved, previous, changed)
        })
        .collect::<Result<Vec<()>, _>>()?;
    Ok(Some(refreshed))
}

/// The columns of a month read whole, typed (`None`: not of the table's types).
struct MonthColumns<'a> {
    all: &'a [ArrayRef],
    keys: MonthKeys<'a>,
    entity: &'a StringArray,
    previous: &'a TimestampMicrosecondArray,
}

impl<'a> MonthColumns<'a> {
    fn of(all: &'a [ArrayRef]) -> Option<MonthColumns<'a>> {
        Some(MonthColumns {
            all,
            keys: MonthKeys::of(all, KEY_COLUMNS)?,
            entity: all.get(2)?.as_string_opt::<i32>()?,
            previous: all.get(9)?.as_primitive_opt::<TimestampMicrosecondType>()?,
        })
    }
}

/// Writes a patched month: the moved rows' caller, entity and previous call replaced, the rows
/// ordered by caller, category, time and call id.
fn patch_month(
    dir: &Path,
    c: &MonthColumns<'_>,
    at_move: &[u32],
    moved: &[Moved<'_>],
    previous: &[Option<i64>],
    changed: &HashMap<String, String>,
) -> Result<(), TableError> {
    let rows = c.keys.call.len();
    let mut caller = StringBuilder::with_capacity(rows, rows * 16);
    let mut entity = StringBuilder::with_capacity(rows, rows * 10);
    let mut before: Vec<Option<i64>> = Vec::with_capacity(rows);
    for (r, &i) in at_move.iter().enumerate() {
        fn old(a: &StringArray, r: usize) -> Option<&str> {
            a.is_valid(r).then(|| a.value(r))
        }
        match i {
            u32::MAX => {
                caller.append_option(old(c.keys.caller, r));
                entity.append_option(old(c.entity, r));
                before.push(c.previous.is_valid(r).then(|| c.previous.value(r)));
            }
            i => {
                caller.append_value(moved[i as usize].caller);
                entity
                    .append_option(changed.get(c.keys.call.value(r)).map(String::as_str).or_else(|| old(c.entity, r)));
                before.push(previous[i as usize]);
            }
        }
    }
    let caller = caller.finish();
    let entity = entity.finish();
    let before: ArrayRef = Arc::new(TimestampMicrosecondArray::from(before).with_timezone("UTC"));
    let mut order: Vec<u32> = (0..rows as u32).collect();
    let key = |r: u32| {
        let r = r as usize;
        (
            caller.is_valid(r).then(|| caller.value(r)),
            c.keys.category.is_valid(r).then(|| c.keys.category.value(r)),
            if c.keys.at.is_valid(r) { c.keys.at.value(r) } else { i64::MIN },
            c.keys.call.value(r),
        )
    };
    order.sort_unstable_by(|&a, &b| key(a).cmp(&key(b)));
    let (caller, entity): (ArrayRef, ArrayRef) = (Arc::new(caller), Arc::new(entity));
    let columns: Vec<&ArrayRef> = c
        .all
        .iter()
        .enumerate()
        .map(|(i, a)| match i {
            1 => &caller,
            2 => &entity,
            9 => &before,
            _ => a,
        })
        .collect();
    let (path, schema, mut writer) = month_writer(dir)?;
    for chunk in order.chunks(BATCH_ROWS) {
        let indices = UInt32Array::from(chunk.to_vec());
        let picked = columns
            .iter()
            .map(|a| take(a.as_ref(), &indices, None))
            .collect::<Result<Vec<ArrayRef>, _>>()
            .map_err(|e| e.on(&path))?;
        let batch = RecordBatch::try_new(schema.clone(), picked).map_err(|e| e.on(&path))?;
        writer.write(&batch).map_err(|e| e.on(&path))?;
    }
    writer.close().map_err(|e| e.on(&path))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Row<'a> = (&'a str, Option<&'a str>, Option<&'a str>, i64, Option<i64>);
    /// A written row: call, caller, entity, previous_at.
    type Written = (String, Option<String>, Option<String>, Option<i64>);

    /// Writes one month of `caller_calls`: (call, caller, entity, received_at, previous_at), all of
    /// one category.
    fn write(dir: &Path, rows: &[Row<'_>]) {
        fs::create_dir_all(dir).unwrap();
        let n = rows.len();
        let texts = |f: &dyn Fn(&Row<'_>) -> Option<String>| -> ArrayRef {
            Arc::new(StringArray::from(rows.iter().map(f).collect::<Vec<_>>()))
        };
        let times = |f: &dyn Fn(&Row<'_>) -> Option<i64>| -> ArrayRef {
            Arc::new(TimestampMicrosecondArray::from(rows.iter().map(f).collect::<Vec<_>>()).with_timezone("UTC"))
        };
        let columns = vec![
            texts(&|r| Some(r.0.to_owned())),
            texts(&|r| r.1.map(str::to_owned)),
            texts(&|r| r.2.map(str::to_owned)),
            texts(&|r| r.1.filter(|c| !c.starts_with('E')).map(str::to_owned)),
            texts(&|_| Some("110".to_owned())),
            texts(&|_| Some("DISPUTE.LABOR".to_owned())),
            texts(&|_| None),
            texts(&|_| None),
            times(&|r| Some(r.3)),
            times(&|r| r.4),
        ];
        let schema = schema(CALLER_CALLS.columns);
        let batch = RecordBatch::try_new(schema.clone(), columns).unwrap();
        assert_eq!(batch.num_rows(), n);
        let file = File::create(dir.join("part-0.parquet")).unwrap();
        let mut writer = ArrowWriter::try_new(file, schema, None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    /// (call, caller, entity, previous_at) of a month written by `patch`, by call.
    fn read(dir: &Path) -> Vec<Written> {
        let every: Vec<usize> = (0..CALLER_CALLS.columns.len()).collect();
        let columns = read_month(dir, &every).unwrap().unwrap();
        let c = MonthColumns::of(&columns).unwrap();
        let text = |a: &StringArray, r: usize| a.is_valid(r).then(|| a.value(r).to_owned());
        let mut rows: Vec<_> = (0..c.keys.call.len())
            .map(|r| {
                let previous = c.previous.is_valid(r).then(|| c.previous.value(r));
                (c.keys.call.value(r).to_owned(), text(c.keys.caller, r), text(c.entity, r), previous)
            })
            .collect();
        rows.sort();
        rows
    }

    #[test]
    fn a_patch_moves_the_changed_calls_and_their_callers_other_calls_and_carries_the_rest() {
        let root = std::env::temp_dir().join(format!("hotline-caller-calls-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (calls, earlier, out) = (root.join("calls"), root.join("earlier"), root.join("out"));
        for month in ["month=2023-01", "month=2023-02", "month=2023-03"] {
            fs::create_dir_all(calls.join(month)).unwrap();
        }
        // c1 is new (counted by its phone_key); E2's first call c4 joins E1, so E2's c5 loses its
        // previous call and E1's calls gain c1 and c4 between theirs. E3 is untouched.
        write(
            &earlier.join("month=2023-01"),
            &[
                ("c1", Some("p1"), None, 10, None),
                ("c2", Some("E1"), Some("E1"), 20, None),
                ("c3", Some("E1"), Some("E1"), 40, Some(20)),
            ],
        );
        write(
            &earlier.join("month=2023-02"),
            &[("c4", Some("E2"), Some("E2"), 100, None), ("c5", Some("E2"), Some("E2"), 120, Some(100))],
        );
        write(&earlier.join("month=2023-03"), &[("c6", Some("E3"), Some("E3"), 200, None)]);
        let changed: HashMap<String, String> =
            [("c1", "E1"), ("c4", "E1")].into_iter().map(|(c, e)| (c.to_owned(), e.to_owned())).collect();
        let folders = Folders { calls: &calls, entities: None, earlier: Some(&earlier), out: &out };
        let refreshed = patch(&folders, &changed).unwrap().expect("patched");
        assert_eq!(refreshed.written, ["month=2023-01", "month=2023-02"].map(str::to_owned).into());
        assert_eq!(refreshed.kept, ["month=2023-03"].map(str::to_owned).into());
        assert!(!out.join("month=2023-03").exists());
        let e1 = || Some("E1".to_owned());
        assert_eq!(
            read(&out.join("month=2023-01")),
            vec![
                ("c1".into(), e1(), e1(), None),
                ("c2".into(), e1(), e1(), Some(10)),
                ("c3".into(), e1(), e1(), Some(20))
            ]
        );
        let e2 = Some("E2".to_owned());
        assert_eq!(
            read(&out.join("month=2023-02")),
            vec![("c4".into(), e1(), e1(), Some(40)), ("c5".into(), e2.clone(), e2, None)]
        );

        // Nothing changed: every month carried over. A month the calls do not have: not patched.
        let unchanged = patch(&folders, &HashMap::new()).unwrap().expect("patched");
        assert!(unchanged.written.is_empty() && unchanged.kept.len() == 3);
        fs::remove_dir_all(calls.join("month=2023-03")).unwrap();
        assert!(patch(&folders, &changed).unwrap().is_none());
        let _ = fs::remove_dir_all(&root);
    }
}
