//! What an incremental run reads: the calls no earlier run resolved, every call sharing a
//! blocking key with one of them (phone, ID, a name's pinyin), the calls handed off to or from
//! them, and every call of the entities all of those belong to. Blocks and entities are read
//! whole, so the pairs compared and the constraints checked are those a run over every call would
//! see; the rest of the warehouse is not read.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema};

use super::ResolveError;
use super::profile::Frequencies;
use super::records::{COLUMNS, Records, own_pinyin};
use crate::catalog::TextColumn;
use crate::pii::normalize_name;
use crate::sql::Session;

/// What the warehouse holds besides the calls read.
#[derive(Debug)]
pub struct Subset {
    /// The calls read, earlier and new (with their records).
    pub records: Records,
    /// `caller_entities` rows of the earlier calls read (`call_id, entity_id, confidence, link`).
    pub earlier_rows: Vec<RecordBatch>,
    /// Calls in the warehouse.
    pub total_calls: usize,
    /// Entities the previous run left.
    pub earlier_entities: usize,
    /// Highest number of an `E…` id in `entities`.
    pub max_number: u64,
    /// What the earlier run counted over every profile.
    pub frequencies: Frequencies,
    /// Calls resolved before that a later ingest revised (a corrected time, name or ID): their
    /// rows and their entities' rows are written again.
    pub revised: Vec<String>,
}

/// Rows an incremental run writes instead of reading everything: `None` when there is nothing
/// earlier to build on, or when the new calls outnumber the known ones (then a full run retrains).
pub fn read(session: &Session) -> Result<Option<Subset>, ResolveError> {
    let tables = ["caller_entities", "entities", "resolve_frequencies"];
    if tables.iter().any(|t| session.table_schema(t).is_none()) {
        return Ok(None);
    }
    // A warehouse resolved before the counts were kept is resolved in full once.
    let Some(frequencies) = stored_frequencies(session)? else { return Ok(None) };
    let total_calls = count(session, "SELECT count(*) FROM calls")?;
    // The new calls' ids and months first (a few columns read), then their records from those
    // months' partitions only (a new batch is mostly of recent months; ingest files a call and
    // its restricted row under the same month).
    let mut new_ids: Vec<String> = Vec::new();
    let mut months: BTreeSet<String> = BTreeSet::new();
    let unresolved = "SELECT call_id, month FROM calls c WHERE NOT EXISTS \
         (SELECT 1 FROM caller_entities e WHERE e.call_id = c.call_id)";
    for_texts(session, unresolved, |row| {
        new_ids.extend(row[0].map(str::to_owned));
        months.extend(row[1].map(str::to_owned));
    })?;
    let new_ids: Vec<&str> = new_ids.iter().map(String::as_str).collect();
    register(session, "resolve_new", &new_ids)?;
    let plain = |m: &String| m.chars().all(|c| c.is_ascii_digit() || c == '-');
    let in_months = if !months.is_empty() && months.iter().all(plain) {
        let list: Vec<String> = months.iter().map(|m| format!("'{m}'")).collect();
        format!("AND p.month IN ({}) WHERE c.month IN ({})", list.join(","), list.join(","))
    } else {
        String::new()
    };
    let new = Records::load_query(
        session,
        &format!(
            "{COLUMNS} FROM calls c JOIN resolve_new s ON s.k = c.call_id \
             LEFT JOIN calls_pii p ON p.call_id = c.call_id AND p.month = c.month {in_months} ORDER BY c.call_id"
        ),
    )?;
    let known = total_calls.saturating_sub(new.calls.len());
    if known == 0 || new.calls.len() > known {
        return Ok(None);
    }

    // The blocking keys of the new calls, as `cluster::candidate_pairs` blocks them.
    let phones: Vec<&str> = (0..new.phones.len() as u32).map(|i| new.phones.value(i)).collect();
    let ids: Vec<&str> = (0..new.ids.len() as u32).map(|i| new.ids.value(i)).collect();
    let mut pinyins: HashSet<&str> = HashSet::new();
    for name in new.names.iter().filter(|n| !n.honorific_only) {
        pinyins.insert(new.pinyins.value(name.pinyin));
        if let Some(own) = name.own_pinyin {
            pinyins.insert(new.pinyins.value(own));
        }
    }
    let mut names: Vec<&str> = pinyins.iter().copied().collect();
    names.sort_unstable();
    register(session, "resolve_phones", &phones)?;
    register(session, "resolve_ids", &ids)?;
    register(session, "resolve_names", &names)?;

    // Earlier calls in those blocks, and those handed off to or from a new call. A name block
    // also holds middle-dot names whose first part alone reads as the key: those are few, and
    // their pinyin is worked out here as `Records` works it out.
    let mut touched: HashSet<String> = HashSet::new();
    let queries = [
        "SELECT call_id FROM calls WHERE phone_key IN (SELECT k FROM resolve_phones)",
        "SELECT call_id FROM calls WHERE id_key IN (SELECT k FROM resolve_ids)",
        "SELECT call_id FROM calls_pii WHERE name_pinyin IN (SELECT k FROM resolve_names)",
        "SELECT call_id FROM calls_pii WHERE name_normalised IN (SELECT k FROM resolve_names)",
        "SELECT source_call_id FROM calls WHERE source_call_id IS NOT NULL AND call_id IN (SELECT k FROM resolve_new)",
        "SELECT call_id FROM calls WHERE source_call_id IN (SELECT k FROM resolve_new)",
    ];
    for sql in queries {
        for_texts(session, sql, |row| {
            if let Some(id) = row[0] {
                touched.insert(id.to_owned());
            }
        })?;
    }
    let mut own_of: HashMap<String, bool> = HashMap::new();
    for_texts(
        session,
        "SELECT call_id, name_normalised FROM calls_pii WHERE strpos(name_normalised, '·') > 0",
        |row| {
            let (Some(id), Some(name)) = (row[0], row[1]) else { return };
            let hit = *own_of.entry(name.to_owned()).or_insert_with(|| {
                own_pinyin(&normalize_name(name).normalised).is_some_and(|p| pinyins.contains(p.as_str()))
            });
            if hit {
                touched.insert(id.to_owned());
            }
        },
    )?;
    // Calls an ingest since the last run revised: their entities are read and written again.
    let mut revised: Vec<String> = Vec::new();
    if session.table_schema("ingest_batches").is_some() && session.table_schema("resolve_runs").is_some() {
        let sql = "SELECT c.call_id FROM calls c JOIN ingest_batches b ON b.batch_id = c.batch_id \
             WHERE b.finished_at >= (SELECT max(started_at) FROM resolve_runs) \
             AND EXISTS (SELECT 1 FROM caller_entities e WHERE e.call_id = c.call_id)";
        for_texts(session, sql, |row| revised.extend(row[0].map(str::to_owned)))?;
    }
    touched.extend(revised.iter().cloned());
    let mut touched: Vec<&str> = touched.iter().map(String::as_str).collect();
    touched.sort_unstable();
    register(session, "resolve_touched", &touched)?;

    // Every call of the entities they belong to, with what the earlier run decided.
    let (_, earlier_rows) = session.collect(
        "SELECT call_id, entity_id, confidence, link FROM caller_entities WHERE entity_id IN \
         (SELECT entity_id FROM caller_entities WHERE call_id IN (SELECT k FROM resolve_touched)) \
         ORDER BY call_id, entity_id",
    )?;
    let mut subset: HashSet<&str> = new_ids.iter().copied().collect();
    for batch in &earlier_rows {
        let ids = TextColumn::of(batch.column(0))?;
        subset.extend((0..batch.num_rows()).filter_map(|r| ids.get(r)));
    }
    let mut subset: Vec<&str> = subset.into_iter().collect();
    subset.sort_unstable();
    register(session, "resolve_subset", &subset)?;
    drop(subset);
    let records = Records::load_query_into(
        session,
        &format!(
            "{COLUMNS} FROM calls c JOIN resolve_subset s ON s.k = c.call_id \
             LEFT JOIN calls_pii p ON p.call_id = c.call_id ORDER BY c.call_id"
        ),
        new,
    )?;
    let earlier_entities = count(session, "SELECT count(*) FROM entities")?;
    let max_number = count(
        session,
        "SELECT COALESCE(max(TRY_CAST(substr(entity_id, 2) AS BIGINT)), 0) FROM entities \
         WHERE starts_with(entity_id, 'E')",
    )? as u64;
    Ok(Some(Subset { records, earlier_rows, total_calls, earlier_entities, max_number, frequencies, revised }))
}

/// The counts `resolve_frequencies` holds; `None` when it holds no totals.
fn stored_frequencies(session: &Session) -> Result<Option<Frequencies>, ResolveError> {
    let (_, batches) = session.collect("SELECT kind, value, CAST(profiles AS BIGINT) FROM resolve_frequencies")?;
    let mut frequencies = Frequencies::default();
    let mut totals = 0;
    for batch in &batches {
        let (kinds, values) = (TextColumn::of(batch.column(0))?, TextColumn::of(batch.column(1))?);
        let counts = batch.column(2).as_primitive::<Int64Type>();
        for r in 0..batch.num_rows() {
            let (Some(kind), Some(value)) = (kinds.get(r), values.get(r)) else { continue };
            let count = if counts.is_null(r) { 0 } else { u64::try_from(counts.value(r)).unwrap_or(0) };
            match (kind, value) {
                ("surname", surname) => {
                    frequencies.surnames.insert(surname.to_owned(), count);
                }
                ("total", "full_named") => (frequencies.full_named, totals) = (count, totals + 1),
                ("total", "name_squares") => (frequencies.name_squares, totals) = (count, totals + 1),
                ("total", "surnamed") => (frequencies.surnamed, totals) = (count, totals + 1),
                ("total", "surname_squares") => (frequencies.surname_squares, totals) = (count, totals + 1),
                _ => {}
            }
        }
    }
    Ok((totals == 4).then_some(frequencies))
}

/// A one-column table `k` of text values, for the queries above to join.
fn register(session: &Session, name: &str, values: &[&str]) -> Result<(), ResolveError> {
    let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Utf8, false)]));
    let column = Arc::new(StringArray::from_iter_values(values.iter()));
    let batch = RecordBatch::try_new(schema, vec![column]).map_err(super::data_error)?;
    session.context().register_batch(name, batch).map_err(super::data_error)?;
    Ok(())
}

/// The one integer a query returns (0 for none).
fn count(session: &Session, sql: &str) -> Result<usize, ResolveError> {
    let (_, batches) = session.collect(sql)?;
    let value = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .map(|b| {
            let column = datafusion::arrow::compute::cast(b.column(0), &DataType::Int64).map_err(super::data_error)?;
            let column = column.as_primitive::<Int64Type>();
            Ok::<i64, ResolveError>(if column.is_null(0) { 0 } else { column.value(0) })
        })
        .transpose()?
        .unwrap_or(0);
    Ok(usize::try_from(value).unwrap_or(0))
}

/// Hands every row of a query of text columns to `each`.
fn for_texts(session: &Session, sql: &str, mut each: impl FnMut(&[Option<&str>])) -> Result<(), ResolveError> {
    let (_, batches) = session.collect(sql)?;
    let mut row: Vec<Option<&str>> = Vec::new();
    for batch in &batches {
        let columns: Vec<TextColumn<'_>> = batch.columns().iter().map(TextColumn::of).collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            row.clear();
            row.extend(columns.iter().map(|c| c.get(r)));
            each(&row);
        }
    }
    Ok(())
}
