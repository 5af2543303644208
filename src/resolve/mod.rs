//! Identity resolution: one entity per real person behind calls made from several phones, under
//! varying names, to 110 and to 12345.
//!
//! Pipeline: calls and their restricted name/ID features are read from the warehouse ([`records`]);
//! calls agreeing exactly on phone, name and ID become one profile ([`profile`]); profiles sharing a
//! phone, an ID or a full name's pinyin are compared ([`cluster::candidate_pairs`]) with a
//! Fellegi–Sunter model whose u probabilities come from random pairs and m probabilities from EM
//! ([`train`], [`compare`]); pairs are linked strongest first under constraints that stop chaining
//! ([`cluster`]); platform hand-offs (`source_call_id`) link for certain. The result is written back
//! as `caller_entities`, `entities`, `resolve_model` and `resolve_runs` ([`tables`]).
//!
//! A second run after more calls were ingested is incremental: the earlier entities stay as they
//! were (they may only grow or merge), only pairs touching new calls are compared, the model is
//! reused, and entity ids of known people do not change. When the new calls outnumber the known
//! ones the model is retrained and everything compared again (ids still carried over by overlap).

pub mod cluster;
pub mod compare;
pub mod profile;
pub mod records;
pub mod subset;
pub mod train;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use self::cluster::{Candidate, ClusterSettings, Clusters, candidate_pairs, compare_pairs, score};
use self::compare::{COMPARISONS, Comparison, DEFS, Model, Term, agreement, compare, probability};
use self::profile::Profiles;
use self::records::Records;
use crate::catalog::TextColumn;
use crate::catalog::resolve::{CALLER_ENTITIES, ENTITIES, RESOLVE_FREQUENCIES, RESOLVE_MODEL, RESOLVE_RUNS};
use crate::catalog::{Cell, ParquetAppender, TableDef, TableError};
use crate::sql::{Session, SqlError};
use crate::warehouse::{Warehouse, WarehouseError};

/// Errors of identity resolution; each says what could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    /// Reading the warehouse through SQL failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The warehouse could not be opened or committed.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// A table held data of an unexpected shape.
    #[error("unexpected data: {0}")]
    Data(String),
    /// A text column held another type.
    #[error("unexpected data: {0}")]
    NotText(#[from] crate::catalog::NotText),
    /// Writing a table failed.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A call id that the warehouse does not hold.
    #[error("no call {0:?} in the warehouse")]
    UnknownCall(String),
    /// Explanation asked before any model exists.
    #[error("the warehouse has no resolve_model yet: run `hotline resolve` first")]
    NoModel,
}

/// How to run.
#[derive(Debug, Clone, Default)]
pub struct ResolveOptions {
    /// Retrain the model and compare every pair again, even when an earlier run exists (entity ids
    /// are still carried over by overlap).
    pub full: bool,
    /// Match weight (bits) a pair needs to be linked; `None`: the default.
    pub threshold: Option<f64>,
    /// Let an incremental run read every call, as a full run does, instead of only the blocks
    /// and entities new calls touch: slower, and the same entities (for checking that).
    pub read_everything: bool,
}

/// Stages reported to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading calls.
    Load,
    /// Grouping calls into profiles.
    Profiles,
    /// Estimating m and u.
    Train,
    /// Comparing candidate pairs.
    Compare,
    /// Clustering.
    Cluster,
    /// Writing tables.
    Write,
}

impl Stage {
    /// One word for the stage, for a timing line.
    pub fn short(self) -> &'static str {
        match self {
            Stage::Load => "read",
            Stage::Profiles => "profiles",
            Stage::Train => "train",
            Stage::Compare => "compare",
            Stage::Cluster => "link",
            Stage::Write => "write",
        }
    }

    /// What the stage does, for a progress line.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Load => "reading calls",
            Stage::Profiles => "grouping calls into profiles",
            Stage::Train => "estimating m and u (random pairs, EM)",
            Stage::Compare => "comparing candidate pairs",
            Stage::Cluster => "linking",
            Stage::Write => "writing caller_entities and entities",
        }
    }
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct ResolveSummary {
    /// `full` or `incremental`.
    pub mode: &'static str,
    /// Calls in the warehouse.
    pub calls: usize,
    /// Calls not resolved by an earlier run.
    pub new_calls: usize,
    /// Calls read: every call in a full run; in an incremental one the new calls, the blocks
    /// they touch and the entities those belong to.
    pub read_calls: usize,
    /// Profiles.
    pub profiles: usize,
    /// Candidate pairs compared.
    pub candidate_pairs: usize,
    /// Links made.
    pub links: u64,
    /// Links refused for contradicting IDs, names or sexes.
    pub refused_conflict: u64,
    /// Weak links between large clusters refused.
    pub refused_chain: u64,
    /// Entities.
    pub entities: usize,
    /// Earlier entities merged into another.
    pub merged_entities: usize,
    /// Weight threshold used.
    pub threshold: f64,
    /// Seconds taken.
    pub seconds: f64,
    /// Seconds per stage, in order.
    pub stage_seconds: Vec<(Stage, f64)>,
    /// The snapshot written.
    pub snapshot: u64,
}

/// What earlier runs decided, by call (index into [`Records::calls`]).
#[derive(Debug, Default)]
struct Earlier {
    /// Entity ids seen.
    entities: records::Interner,
    /// Link descriptions seen.
    links: records::Interner,
    /// Per call: entity (into `entities`), confidence, link (into `links`).
    of_call: Vec<Option<(u32, f64, Option<u32>)>>,
    /// Highest number of an `E…` id.
    max_number: u64,
}

impl Earlier {
    fn entity(&self, call: usize) -> Option<u32> {
        self.of_call.get(call).copied().flatten().map(|(e, _, _)| e)
    }
}

fn data_error(e: impl std::fmt::Display) -> ResolveError {
    ResolveError::Data(e.to_string())
}

/// What the earlier run decided for every call of the warehouse.
fn load_earlier(session: &Session, records: &Records) -> Result<Earlier, ResolveError> {
    let (_, batches) = session
        .collect("SELECT call_id, entity_id, confidence, link FROM caller_entities ORDER BY call_id, entity_id")?;
    earlier_from(&batches, records, 0)
}

/// What the earlier run decided for the calls of `records`, from `caller_entities` rows
/// (`call_id, entity_id, confidence, link`); `max_number` is the highest id number known besides.
fn earlier_from(batches: &[RecordBatch], records: &Records, max_number: u64) -> Result<Earlier, ResolveError> {
    use datafusion::arrow::datatypes::Float64Type;
    let mut earlier = Earlier { of_call: vec![None; records.calls.len()], max_number, ..Earlier::default() };
    for batch in batches {
        let (ids, entities, links) =
            (TextColumn::of(batch.column(0))?, TextColumn::of(batch.column(1))?, TextColumn::of(batch.column(3))?);
        let confidence = batch.column(2).as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            let (Some(id), Some(entity)) = (ids.get(row), entities.get(row)) else { continue };
            // Calls resolved before but no longer in the warehouse are forgotten.
            let Some(call) = records.call_ids.get(id) else { continue };
            if let Some(n) = entity.strip_prefix('E').and_then(|n| n.parse::<u64>().ok()) {
                earlier.max_number = earlier.max_number.max(n);
            }
            let entity = earlier.entities.intern(entity);
            let link = links.get(row).map(|l| earlier.links.intern(l));
            let confidence = if confidence.is_null(row) { 1.0 } else { confidence.value(row) };
            earlier.of_call[call as usize] = Some((entity, confidence, link));
        }
    }
    Ok(earlier)
}

/// The model the earlier run stored, if it is whole.
fn load_model(session: &Session) -> Result<Option<Model>, ResolveError> {
    use datafusion::arrow::datatypes::{Float64Type, Int64Type};
    let (_, batches) =
        session.collect("SELECT comparison, level, m, u FROM resolve_model ORDER BY comparison, level")?;
    let mut m: [Vec<f64>; COMPARISONS] = std::array::from_fn(|c| vec![f64::NAN; DEFS[c].levels.len()]);
    let mut u = m.clone();
    let mut prior = None;
    for batch in &batches {
        let names = TextColumn::of(batch.column(0))?;
        let levels = cast(batch.column(1), &DataType::Int64).map_err(data_error)?;
        let levels = levels.as_primitive::<Int64Type>();
        let ms = batch.column(2).as_primitive::<Float64Type>();
        let us = batch.column(3).as_primitive::<Float64Type>();
        for row in 0..batch.num_rows() {
            let Some(name) = names.get(row) else { continue };
            if name == "prior" {
                prior = Some(ms.value(row));
                continue;
            }
            let Some(c) = DEFS.iter().position(|d| d.name == name) else { continue };
            let level = levels.value(row) as usize;
            if level < m[c].len() {
                m[c][level] = ms.value(row);
                u[c][level] = us.value(row);
            }
        }
    }
    let complete = m.iter().chain(u.iter()).all(|v| v.iter().all(|x| x.is_finite()));
    let model = match prior {
        Some(prior) if complete => Some(Model { prior, m, u }),
        _ => None,
    };
    Ok(model)
}

/// Trains the model on the profiles and the comparisons of their candidate pairs (u from random
/// pairs, m by two EM sessions).
pub fn train_model(records: &Records, profiles: &Profiles, patterns: &[Comparison]) -> Model {
    let u = train::estimate_u(records, profiles, patterns, 0x5EED);
    let mut by_phone: HashMap<compare::Pattern, f64> = HashMap::new();
    let mut by_name: HashMap<compare::Pattern, f64> = HashMap::new();
    for comparison in patterns {
        let p = comparison.pattern;
        if p[compare::PHONE] >= 2 {
            *by_phone.entry(p).or_default() += 1.0;
        }
        if p[compare::NAME] >= 4 {
            *by_name.entry(p).or_default() += 1.0;
        }
    }
    let phone_session = train::expectation_maximisation(&by_phone, &u, compare::PHONE);
    let name_session = train::expectation_maximisation(&by_name, &u, compare::NAME);
    train::combine(&phone_session, &name_session, u, profiles.list.len())
}

fn write_error(path: &Path, message: impl std::fmt::Display) -> ResolveError {
    ResolveError::Write { path: path.to_owned(), message: message.to_string() }
}

fn push_error(dir: &Path) -> impl Fn(TableError) -> ResolveError + '_ {
    move |e| write_error(dir, e)
}

fn appender(dir: &Path, def: &'static TableDef, file: &str) -> ParquetAppender {
    ParquetAppender::new(dir.join(file), def.columns)
}

/// Resolves every call of the warehouse into entities and commits the result as a new snapshot.
pub fn resolve(
    warehouse: &Warehouse,
    options: &ResolveOptions,
    progress: &mut dyn FnMut(Stage),
) -> Result<ResolveSummary, ResolveError> {
    let started = Instant::now();
    let started_at = chrono::Utc::now().timestamp_micros();
    let mut stage_seconds: Vec<(Stage, f64)> = Vec::new();
    let mut stage_started = Instant::now();
    let mut progress = |stage: Stage| {
        if let Some(last) = stage_seconds.last_mut() {
            last.1 = stage_started.elapsed().as_secs_f64();
        }
        stage_seconds.push((stage, 0.0));
        stage_started = Instant::now();
        progress(stage);
    };
    progress(Stage::Load);
    let session = Records::session(warehouse.dir())?;
    let stored_model = load_model(&session)?;
    // Incremental only while the earlier model was trained on most of the calls (`subset::read`
    // says when): once new calls outnumber the known ones, the model is retrained and every pair
    // compared again.
    let subset = match stored_model {
        Some(_) if !options.full => subset::read(&session)?,
        _ => None,
    };
    let incremental = subset.is_some();
    let mut revised_ids = Vec::new();
    let (records, earlier, total_calls, earlier_entities, stored_frequencies) = match subset {
        // Every call read, as a full run reads them, and the counts taken again from all.
        Some(subset) if options.read_everything => {
            let records = Records::load(&session)?;
            let earlier = load_earlier(&session, &records)?;
            revised_ids = subset.revised;
            (records, earlier, subset.total_calls, subset.earlier_entities, None)
        }
        Some(subset) => {
            let earlier = earlier_from(&subset.earlier_rows, &subset.records, subset.max_number)?;
            revised_ids = subset.revised;
            (subset.records, earlier, subset.total_calls, subset.earlier_entities, Some(subset.frequencies))
        }
        None => {
            let records = Records::load(&session)?;
            let earlier = load_earlier(&session, &records)?;
            let total = records.calls.len();
            (records, earlier, total, 0, None)
        }
    };
    let mut revised = vec![false; records.calls.len()];
    for id in &revised_ids {
        if let Some(call) = records.call_ids.get(id) {
            revised[call as usize] = true;
        }
    }
    drop(session);
    let new_calls = earlier.of_call.iter().filter(|e| e.is_none()).count();
    let fresh = |i: usize| !incremental || earlier.of_call[i].is_none();
    progress(Stage::Profiles);
    let mut profiles = Profiles::build(&records, &fresh);
    let frequencies = match stored_frequencies {
        Some(mut frequencies) => {
            frequencies.add_new(&records, &profiles, &fresh);
            profiles.weigh_by(&records, &frequencies);
            frequencies
        }
        None => profile::Frequencies::of(&records, &profiles),
    };
    progress(Stage::Compare);
    let pairs = candidate_pairs(&records, &profiles, incremental);
    let comparisons = compare_pairs(&records, &profiles, &pairs);
    let model = match stored_model.filter(|_| incremental) {
        Some(model) => model,
        None => {
            progress(Stage::Train);
            train_model(&records, &profiles, &comparisons)
        }
    };
    let candidates: Vec<Candidate> = score(&model, &pairs, comparisons);
    progress(Stage::Cluster);
    let settings = ClusterSettings {
        threshold: options.threshold.unwrap_or(ClusterSettings::default().threshold),
        ..ClusterSettings::default()
    };
    let mut clusters = Clusters::new(&records, &profiles);
    let handed_off = keep_earlier_and_hand_offs(&mut clusters, &records, &profiles, &earlier, incremental);
    clusters.link(candidates, &settings);

    let named = name_entities(&mut clusters, &records, &profiles, &earlier);

    progress(Stage::Write);
    let commit = warehouse.begin()?.by("resolve");
    let snapshot = commit.id();
    let written =
        Written { records: &records, profiles: &profiles, clusters: &clusters, earlier: &earlier, revised: &revised };
    let changed = write_entities(&commit, &written, &handed_off, &named, incremental)?;
    refresh_caller_calls(&commit, incremental.then_some(&changed))?;
    write_model(&commit, &model, started_at)?;
    write_frequencies(&commit, &frequencies)?;

    if let Some(last) = stage_seconds.last_mut() {
        last.1 = stage_started.elapsed().as_secs_f64();
    }
    let summary = ResolveSummary {
        mode: if incremental { "incremental" } else { "full" },
        calls: total_calls,
        new_calls,
        read_calls: records.calls.len(),
        profiles: profiles.list.len(),
        candidate_pairs: pairs.len(),
        links: clusters.linked,
        refused_conflict: clusters.refused_conflict,
        refused_chain: clusters.refused_chain,
        // An incremental run read the entities it could change; the others stand.
        entities: earlier_entities + named.roots.len() - earlier.entities.len().min(earlier_entities),
        merged_entities: named.merged,
        threshold: settings.threshold,
        seconds: started.elapsed().as_secs_f64(),
        stage_seconds,
        snapshot,
    };
    write_run(&commit, &summary, started_at)?;
    commit.commit()?;
    Ok(summary)
}

/// Joins what earlier runs decided (their entities only grow or merge) and each transfer record
/// with its source call; returns the profiles joined by a hand-off.
fn keep_earlier_and_hand_offs(
    clusters: &mut Clusters,
    records: &Records,
    profiles: &Profiles,
    earlier: &Earlier,
    incremental: bool,
) -> Vec<bool> {
    if incremental {
        let mut first_profile_of: Vec<Option<u32>> = vec![None; earlier.entities.len()];
        for i in 0..records.calls.len() {
            let Some(entity) = earlier.entity(i) else { continue };
            let profile = profiles.of_call[i];
            match first_profile_of[entity as usize] {
                Some(other) => {
                    clusters.join(other, profile);
                }
                None => first_profile_of[entity as usize] = Some(profile),
            }
        }
    }
    // A transfer record is the same call received again: its caller is the source call's caller.
    let mut handed_off = vec![false; profiles.list.len()];
    for (i, call) in records.calls.iter().enumerate() {
        if let Some(source) = call.source {
            let (a, b) = (profiles.of_call[i], profiles.of_call[source as usize]);
            if a != b && clusters.compatible(a, b) && clusters.join(a, b) {
                handed_off[a as usize] = true;
                handed_off[b as usize] = true;
            }
        }
    }
    handed_off
}

/// The entities of a clustering: each cluster's profiles, the clusters in order of their first
/// call, and each cluster's entity id.
struct NamedEntities {
    members: HashMap<u32, Vec<u32>>,
    roots: Vec<u32>,
    entity_of_root: HashMap<u32, String>,
    /// Earlier entities merged into others.
    merged: usize,
}

/// Entity ids: an earlier entity keeps its id (the largest one when several merged); new people
/// get new ids in order of their first call.
fn name_entities(clusters: &mut Clusters, records: &Records, profiles: &Profiles, earlier: &Earlier) -> NamedEntities {
    let mut members: HashMap<u32, Vec<u32>> = HashMap::new();
    for p in 0..profiles.list.len() as u32 {
        let root = clusters.find(p);
        members.entry(root).or_default().push(p);
    }
    let mut roots: Vec<u32> = members.keys().copied().collect();
    let first_of = |root: &u32| -> (i64, u32) {
        let calls = members[root].iter().flat_map(|&p| profiles.list[p as usize].calls.iter());
        calls.map(|&c| (records.calls[c as usize].received_at, c)).min().unwrap_or((0, 0))
    };
    roots.sort_by_cached_key(first_of);
    let mut next_number = earlier.max_number + 1;
    // Overlap of every new cluster with every earlier entity; an earlier id goes to the cluster
    // holding most of its calls, each id to one cluster and each cluster at most one id (an
    // incremental run never splits an earlier entity; a full run may, and then the larger part
    // keeps the id).
    let mut overlaps: Vec<(usize, u32, u32)> = Vec::new();
    for root in &roots {
        let mut old: Vec<(u32, usize)> = Vec::new();
        for &p in &members[root] {
            for &c in &profiles.list[p as usize].calls {
                if let Some(entity) = earlier.entity(c as usize) {
                    match old.iter_mut().find(|(e, _)| *e == entity) {
                        Some((_, n)) => *n += 1,
                        None => old.push((entity, 1)),
                    }
                }
            }
        }
        overlaps.extend(old.into_iter().map(|(entity, n)| (n, entity, *root)));
    }
    let value = |e: u32| earlier.entities.value(e);
    overlaps.sort_by(|a, b| b.0.cmp(&a.0).then(value(a.1).cmp(value(b.1))).then(a.2.cmp(&b.2)));
    let mut entity_of_root: HashMap<u32, String> = HashMap::new();
    let mut id_taken = vec![false; earlier.entities.len()];
    for &(_, entity, root) in &overlaps {
        if !id_taken[entity as usize] && !entity_of_root.contains_key(&root) {
            id_taken[entity as usize] = true;
            entity_of_root.insert(root, value(entity).to_owned());
        }
    }
    // Earlier entities (with calls still in the warehouse) whose id went to no cluster were merged.
    let mut present = vec![false; earlier.entities.len()];
    for (entity, _, _) in earlier.of_call.iter().flatten() {
        present[*entity as usize] = true;
    }
    let merged_entities = (0..present.len()).filter(|&e| present[e] && !id_taken[e]).count();
    for root in &roots {
        entity_of_root.entry(*root).or_insert_with(|| {
            let id = format!("E{next_number:08}");
            next_number += 1;
            id
        });
    }

    NamedEntities { members, roots, entity_of_root, merged: merged_entities }
}

/// What a run decided, for writing.
struct Written<'a> {
    records: &'a Records,
    profiles: &'a Profiles,
    clusters: &'a Clusters,
    earlier: &'a Earlier,
    /// Per call: revised by an ingest since the earlier run (its row is written again).
    revised: &'a [bool],
}

/// Writes `caller_entities` (every call's entity, confidence and evidence) and `entities`. A full
/// run writes both whole. An incremental run writes the rows that are new or differ from the
/// earlier run's into a file of its own, and carries the earlier files over without the rows
/// these replace (a file holding none is carried over as it is).
fn write_entities(
    commit: &crate::warehouse::Commit,
    written: &Written<'_>,
    handed_off: &[bool],
    named: &NamedEntities,
    incremental: bool,
) -> Result<HashMap<String, String>, ResolveError> {
    let Written { records, profiles, clusters, earlier, revised } = *written;
    // Calls whose entity is new or another than before, or that an ingest revised (incremental
    // runs): `caller_calls` changes for them and for the other calls of their entities.
    let mut changed: HashMap<String, String> = HashMap::new();
    let table_dir = |def: &TableDef| commit.table_dir(def.name).map_err(ResolveError::from);
    let NamedEntities { members, roots, entity_of_root, .. } = named;
    let file = if incremental { format!("run={:08}.parquet", commit.id()) } else { "part-0.parquet".to_owned() };
    let calls_dir = table_dir(&CALLER_ENTITIES)?;
    let mut calls_out = appender(&calls_dir, &CALLER_ENTITIES, &file);
    let entities_dir = table_dir(&ENTITIES)?;
    let mut entities_out = appender(&entities_dir, &ENTITIES, &file);
    // Earlier rows replaced: of calls (in `caller_entities`) and of entities (in `entities`).
    let mut replaced_calls: HashSet<&str> = HashSet::new();
    let mut replaced_entities: HashSet<&str> = HashSet::new();
    let mut rows: Vec<(u32, f64, String)> = Vec::new();
    for root in roots {
        let entity = &entity_of_root[root];
        let profiles_of = &members[root];
        let single = profiles_of.len() == 1;
        let mut min_confidence: f64 = 1.0;
        let mut calls: Vec<u32> = profiles_of.iter().flat_map(|&p| profiles.list[p as usize].calls.clone()).collect();
        calls.sort_by_key(|&c| (records.calls[c as usize].received_at, c));
        rows.clear();
        for &c in &calls {
            let p = profiles.of_call[c as usize] as usize;
            let (confidence, link): (f64, String) = if single {
                (1.0, String::new())
            } else if let Some((probability, comparison)) = clusters.best[p] {
                (probability, agreement(&comparison.pattern))
            } else if handed_off[p] {
                (1.0, "hand-off".to_owned())
            } else if let Some((_, confidence, link)) = earlier.of_call[c as usize] {
                (confidence, link.map(|l| earlier.links.value(l).to_owned()).unwrap_or_default())
            } else {
                (1.0, String::new())
            };
            min_confidence = min_confidence.min(confidence);
            rows.push((c, confidence, link));
        }
        if incremental {
            let same = |&(c, confidence, ref link): &(u32, f64, String)| {
                !revised[c as usize]
                    && earlier.of_call[c as usize].is_some_and(|(e, earlier_confidence, earlier_link)| {
                        earlier.entities.value(e) == entity
                            && earlier_confidence == confidence
                            && earlier_link.map_or("", |l| earlier.links.value(l)) == link
                    })
            };
            rows.retain(|row| !same(row));
            if rows.is_empty() {
                continue;
            }
            for &c in &calls {
                if let Some((e, _, _)) = earlier.of_call[c as usize] {
                    replaced_entities.insert(earlier.entities.value(e));
                }
            }
            for &(c, _, _) in &rows {
                let id = records.call_ids.value(records.calls[c as usize].call);
                if earlier.of_call[c as usize].is_some() {
                    replaced_calls.insert(id);
                }
                let moved = earlier.of_call[c as usize].is_none_or(|(e, _, _)| earlier.entities.value(e) != entity);
                if moved || revised[c as usize] {
                    changed.insert(id.to_owned(), entity.clone());
                }
            }
        }
        for (c, confidence, link) in &rows {
            let (c, confidence) = (*c, *confidence);
            let call = &records.calls[c as usize];
            calls_out
                .push(&[
                    Cell::Text(Some(records.call_ids.value(call.call))),
                    Cell::Text(Some(entity)),
                    Cell::Float(Some(confidence)),
                    Cell::Text((!link.is_empty()).then_some(link.as_str())),
                    Cell::Time(Some(call.received_at)),
                ])
                .map_err(push_error(&calls_dir))?;
        }
        let mut phones: Vec<&str> = Vec::new();
        let mut ids: Vec<&str> = Vec::new();
        let mut names: Vec<&str> = Vec::new();
        let mut platforms: Vec<&str> = Vec::new();
        let mut categories: Vec<&str> = Vec::new();
        let mut districts: Vec<&str> = Vec::new();
        let mut original = 0i64;
        fn add<'a>(list: &mut Vec<&'a str>, value: &'a str) {
            if !list.contains(&value) {
                list.push(value);
            }
        }
        for &c in &calls {
            let call = &records.calls[c as usize];
            if let Some(p) = call.phone {
                add(&mut phones, records.phones.value(p));
            }
            if let Some(i) = call.id {
                add(&mut ids, records.ids.value(i));
            }
            if let Some(n) = call.name {
                add(&mut names, &records.names[n as usize].masked);
            }
            add(&mut platforms, records.platforms.value(call.platform));
            add(&mut categories, records.categories.value(call.category));
            if let Some(d) = call.district {
                add(&mut districts, records.districts.value(d));
            }
            if call.source.is_none() {
                original += 1;
            }
        }
        let first = calls.first().map(|&c| records.calls[c as usize].received_at);
        let last = calls.last().map(|&c| records.calls[c as usize].received_at);
        let joined = |list: &[&str]| list.join(",");
        let (phones_text, ids_text, names_text) = (joined(&phones), joined(&ids), joined(&names));
        let (platforms_text, categories_text, districts_text) =
            (joined(&platforms), joined(&categories), joined(&districts));
        entities_out
            .push(&[
                Cell::Text(Some(entity)),
                Cell::Int(Some(calls.len() as i64)),
                Cell::Int(Some(original)),
                Cell::Int(Some(phones.len() as i64)),
                Cell::Text(Some(&phones_text)),
                Cell::Text(Some(&ids_text)),
                Cell::Text(Some(&names_text)),
                Cell::Text(Some(&platforms_text)),
                Cell::Text(Some(&categories_text)),
                Cell::Text(Some(&districts_text)),
                Cell::Time(first),
                Cell::Time(last),
                Cell::Float(Some(min_confidence)),
            ])
            .map_err(push_error(&entities_dir))?;
    }
    calls_out.finish().map_err(push_error(&calls_dir))?;
    entities_out.finish().map_err(push_error(&entities_dir))?;
    if incremental {
        let (calls, entities) = rayon::join(
            || carry_without(commit, &CALLER_ENTITIES, "call_id", &replaced_calls),
            || carry_without(commit, &ENTITIES, "entity_id", &replaced_entities),
        );
        calls?;
        entities?;
    }
    Ok(changed)
}

/// Carries the earlier snapshot's files of a table into the commit, without the rows whose text
/// `column` is one of `replaced`: a file holding none is carried over as it is (a hard link), one
/// holding some is written again without them under the same name.
fn carry_without(
    commit: &crate::warehouse::Commit,
    def: &TableDef,
    column: &str,
    replaced: &HashSet<&str>,
) -> Result<(), ResolveError> {
    use crate::catalog::{any_text, copy_without};
    let Some(base) = commit.base_table_dir(def.name) else { return Ok(()) };
    let hit = |value: &str| replaced.contains(value);
    let mut affected: HashSet<PathBuf> = HashSet::new();
    if !replaced.is_empty() {
        let entries = std::fs::read_dir(&base).map_err(|e| write_error(&base, e))?;
        for entry in entries {
            let path = entry.map_err(|e| write_error(&base, e))?.path();
            if path.extension().is_some_and(|e| e == "parquet")
                && any_text(&path, column, &hit).map_err(push_error(&base))?
            {
                affected.insert(path.strip_prefix(&base).unwrap_or(&path).to_owned());
            }
        }
    }
    commit.keep(def.name, |relative| affected.contains(relative))?;
    let out = commit.table_dir(def.name)?;
    for relative in &affected {
        copy_without(&base.join(relative), &out.join(relative), column, &hit).map_err(push_error(&out))?;
    }
    Ok(())
}

/// Brings `caller_calls` in step with the entities just written (months where no caller and no
/// previous call changed are carried over). After an incremental run, `changed` holds the calls
/// whose entity changed (call id → entity id) and the earlier table is patched for them; a full
/// run, or an earlier table that cannot be patched, computes it again from every call.
fn refresh_caller_calls(
    commit: &crate::warehouse::Commit,
    changed: Option<&HashMap<String, String>>,
) -> Result<(), ResolveError> {
    use crate::ingest::callers;
    let name = crate::catalog::CALLER_CALLS.name;
    let Some(calls) = commit.base_table_dir(crate::catalog::CALLS.name) else { return Ok(()) };
    let entities = commit.table_dir(CALLER_ENTITIES.name)?;
    let earlier = commit.base_table_dir(name);
    let out = commit.table_dir(name)?;
    let folders = callers::Folders { calls: &calls, entities: Some(&entities), earlier: earlier.as_deref(), out: &out };
    let patched = match changed {
        Some(changed) => callers::patch(&folders, changed).map_err(push_error(&out))?,
        None => None,
    };
    let refreshed = match patched {
        Some(refreshed) => refreshed,
        None => callers::refresh(&folders, &Default::default()).map_err(push_error(&out))?,
    };
    commit.keep(name, |relative| !callers::carried(&refreshed, relative))?;
    Ok(())
}

/// Writes `resolve_model`: the prior, and m, u and weight of every comparison level.
fn write_model(commit: &crate::warehouse::Commit, model: &Model, started_at: i64) -> Result<(), ResolveError> {
    let table_dir = |def: &TableDef| commit.table_dir(def.name).map_err(ResolveError::from);
    let model_dir = table_dir(&RESOLVE_MODEL)?;
    let mut model_out = appender(&model_dir, &RESOLVE_MODEL, "part-0.parquet");
    model_out
        .push(&[
            Cell::Text(Some("prior")),
            Cell::Int(Some(0)),
            Cell::Text(Some("probability that two profiles drawn at random are one person")),
            Cell::Float(Some(model.prior)),
            Cell::Float(None),
            Cell::Float(Some(model.prior_bits())),
            Cell::Time(Some(started_at)),
        ])
        .map_err(push_error(&model_dir))?;
    for (c, def) in DEFS.iter().enumerate() {
        for (level, description) in def.levels.iter().enumerate() {
            let (m, u) = (model.m[c][level], model.u[c][level]);
            model_out
                .push(&[
                    Cell::Text(Some(def.name)),
                    Cell::Int(Some(level as i64)),
                    Cell::Text(Some(description)),
                    Cell::Float(Some(m)),
                    Cell::Float(Some(u)),
                    Cell::Float(Some((m / u).log2())),
                    Cell::Time(Some(started_at)),
                ])
                .map_err(push_error(&model_dir))?;
        }
    }
    model_out.finish().map_err(push_error(&model_dir))?;
    Ok(())
}

/// Writes `resolve_frequencies`: profiles per surname and the totals.
fn write_frequencies(
    commit: &crate::warehouse::Commit,
    frequencies: &profile::Frequencies,
) -> Result<(), ResolveError> {
    let dir = commit.table_dir(RESOLVE_FREQUENCIES.name)?;
    let mut out = appender(&dir, &RESOLVE_FREQUENCIES, "part-0.parquet");
    let count = |n: u64| Cell::Int(Some(i64::try_from(n).unwrap_or(i64::MAX)));
    let totals = [
        ("full_named", frequencies.full_named),
        ("name_squares", frequencies.name_squares),
        ("surnamed", frequencies.surnamed),
        ("surname_squares", frequencies.surname_squares),
    ];
    for (name, n) in totals {
        out.push(&[Cell::Text(Some("total")), Cell::Text(Some(name)), count(n)]).map_err(push_error(&dir))?;
    }
    for (surname, &n) in &frequencies.surnames {
        out.push(&[Cell::Text(Some("surname")), Cell::Text(Some(surname)), count(n)]).map_err(push_error(&dir))?;
    }
    out.finish().map_err(push_error(&dir))?;
    Ok(())
}

/// Appends this run's row to `resolve_runs`.
fn write_run(commit: &crate::warehouse::Commit, summary: &ResolveSummary, started_at: i64) -> Result<(), ResolveError> {
    let snapshot = summary.snapshot;
    let table_dir = |def: &TableDef| commit.table_dir(def.name).map_err(ResolveError::from);
    commit.keep(RESOLVE_RUNS.name, |_| false)?;
    let runs_dir = table_dir(&RESOLVE_RUNS)?;
    let mut runs = appender(&runs_dir, &RESOLVE_RUNS, &format!("run={snapshot:08}.parquet"));
    let count = |n: usize| Cell::Int(Some(n as i64));
    runs.push(&[
        Cell::Int(Some(snapshot as i64)),
        Cell::Time(Some(started_at)),
        Cell::Float(Some(summary.seconds)),
        Cell::Text(Some(summary.mode)),
        count(summary.calls),
        count(summary.new_calls),
        count(summary.profiles),
        count(summary.candidate_pairs),
        count(summary.links as usize),
        count(summary.refused_conflict as usize),
        count(summary.refused_chain as usize),
        count(summary.entities),
        count(summary.merged_entities),
        Cell::Float(Some(summary.threshold)),
    ])
    .map_err(push_error(&runs_dir))?;
    runs.finish().map_err(push_error(&runs_dir))?;
    Ok(())
}

/// One call as an explanation shows it: nothing raw.
#[derive(Debug, Clone)]
pub struct CallView {
    /// Call id.
    pub call_id: String,
    /// Platform.
    pub platform: String,
    /// Received (UTC microseconds).
    pub received_at: i64,
    /// Phone key (first 8 letters), when there is a phone.
    pub phone_key: Option<String>,
    /// Whether an ID was taken down.
    pub has_id: bool,
    /// Masked name.
    pub name_masked: Option<String>,
    /// Main district of its profile.
    pub district: Option<String>,
    /// Category.
    pub category: String,
    /// Calls in its profile (same phone, name and ID).
    pub profile_calls: usize,
    /// Entity in the warehouse, if resolved.
    pub entity_id: Option<String>,
}

/// Why two calls are or are not the same person.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The two calls.
    pub calls: [CallView; 2],
    /// Prior log-odds (bits).
    pub prior_bits: f64,
    /// One term per comparison.
    pub terms: Vec<Term>,
    /// Total match weight (bits).
    pub total_bits: f64,
    /// Match probability.
    pub probability: f64,
    /// Whether the two calls share a profile (then they are one person by construction).
    pub same_profile: bool,
}

/// Explains the comparison of two calls with the stored model, term by term.
pub fn explain(dir: &Path, call_a: &str, call_b: &str) -> Result<Explanation, ResolveError> {
    let session = Records::session(dir)?;
    let records = Records::load(&session)?;
    let earlier = load_earlier(&session, &records)?;
    let model = load_model(&session)?.ok_or(ResolveError::NoModel)?;
    let profiles = Profiles::build(&records, &|_| false);
    let find = |id: &str| -> Result<usize, ResolveError> {
        let call = records.call_ids.get(id).ok_or_else(|| ResolveError::UnknownCall(id.to_owned()))?;
        records.calls.iter().position(|c| c.call == call).ok_or_else(|| ResolveError::UnknownCall(id.to_owned()))
    };
    let (a, b) = (find(call_a)?, find(call_b)?);
    let view = |i: usize| {
        let call = &records.calls[i];
        let profile = &profiles.list[profiles.of_call[i] as usize];
        let id = records.call_ids.value(call.call).to_owned();
        CallView {
            entity_id: earlier.entity(i).map(|e| earlier.entities.value(e).to_owned()),
            call_id: id,
            platform: records.platforms.value(call.platform).to_owned(),
            received_at: call.received_at,
            phone_key: call.phone.map(|p| records.phones.value(p).chars().take(8).collect()),
            has_id: call.id.is_some(),
            name_masked: call.name.map(|n| records.names[n as usize].masked.clone()),
            district: profile.main_district().map(|d| records.districts.value(d).to_owned()),
            category: records.categories.value(call.category).to_owned(),
            profile_calls: profile.calls.len(),
        }
    };
    let (pa, pb) = (profiles.of_call[a], profiles.of_call[b]);
    let comparison = compare(&records, &profiles, &profiles.list[pa as usize], &profiles.list[pb as usize]);
    let terms = model.terms(&comparison);
    let total_bits = model.prior_bits() + terms.iter().map(|t| t.bits).sum::<f64>();
    Ok(Explanation {
        calls: [view(a), view(b)],
        prior_bits: model.prior_bits(),
        terms,
        total_bits,
        probability: probability(total_bits),
        same_profile: pa == pb,
    })
}
