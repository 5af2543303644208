//! Linked incidents and leads (串并分析): evidence between calls, ties between callers weighed
//! against chance, Louvain communities of callers scored as leads, and the investigator's graph.
//!
//! `link` reads the warehouse (calls, resolved callers, and the restricted names it matches
//! reports against) and writes `incident_links`, `caller_ties`, `leads`, `lead_members` and
//! `link_runs` in one commit. The engine knows nothing of terminals.

pub mod community;
pub mod concern;
pub mod evidence;
pub mod expand;
pub mod explore;
pub mod export;
pub mod leads;
pub mod load;
pub mod mentions;
pub mod text;
pub mod words;

use std::path::{Path, PathBuf};
use std::time::Instant;

use thiserror::Error;

use crate::catalog::link::{CALLER_TIES, INCIDENT_LINKS, LEAD_MEMBERS, LEADS, LINK_RUNS};
use crate::catalog::{Cell, ParquetAppender, TableDef};
use crate::sql::{Role, Session, SessionOptions, SqlError, open_session};
use crate::warehouse::{Warehouse, WarehouseError};
use evidence::CallLink;
use leads::{Callers, Lead, WORTH_A_LOOK, find_leads, ties};
use load::Incidents;

/// What can go wrong while linking.
#[derive(Debug, Error)]
pub enum LinkError {
    /// Reading the warehouse through SQL failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// The warehouse could not be opened or committed.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// Callers have not been resolved yet.
    #[error("the warehouse has no resolved callers: run `hotline resolve` first")]
    NotResolved,
    /// Linking has not run yet.
    #[error("the warehouse has no leads: run `hotline link` first")]
    NotLinked,
    /// A table held data of an unexpected shape.
    #[error("unexpected data: {0}")]
    Data(String),
    /// An id that is neither a call, an entity nor a lead of the warehouse.
    #[error("unknown {kind} `{id}`")]
    Unknown {
        /// What was looked for.
        kind: &'static str,
        /// The id given.
        id: String,
    },
    /// Writing a file or table failed.
    #[error("{path}: {message}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
}

/// Stages reported to the progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading calls and callers.
    Load,
    /// Finding evidence between calls.
    Evidence,
    /// Weighing ties between callers.
    Ties,
    /// Finding communities and scoring leads.
    Leads,
    /// Writing the tables.
    Write,
}

impl Stage {
    /// What the stage does, for a progress line.
    pub fn describe(self) -> &'static str {
        match self {
            Stage::Load => "reading calls and resolved callers",
            Stage::Evidence => "finding evidence between calls (hand-offs, phones, counterparties, narratives, names)",
            Stage::Ties => "weighing ties between callers against chance",
            Stage::Leads => "finding communities and scoring leads",
            Stage::Write => "writing incident_links, caller_ties, leads, lead_members",
        }
    }

    /// A short name for a one-line timing summary.
    pub fn short(self) -> &'static str {
        match self {
            Stage::Load => "load",
            Stage::Evidence => "evidence",
            Stage::Ties => "ties",
            Stage::Leads => "leads",
            Stage::Write => "write",
        }
    }
}

/// What a link run did.
#[derive(Debug, Clone)]
pub struct LinkSummary {
    /// Calls read.
    pub calls: usize,
    /// Evidence rows by kind.
    pub links_by_kind: Vec<(&'static str, usize)>,
    /// Ties between callers.
    pub ties: usize,
    /// Leads found (best first), as written.
    pub leads: Vec<Lead>,
    /// How many reach the "worth a look" score.
    pub worth_a_look: usize,
    /// Wall time.
    pub seconds: f64,
    /// Seconds by stage.
    pub stage_seconds: Vec<(Stage, f64)>,
    /// Snapshot written.
    pub snapshot: u64,
}

/// The session linking reads through: matching a report's named person needs the restricted
/// names, so it has the investigator role; only keys, ids and words leave the process.
pub fn session(dir: &Path) -> Result<Session, LinkError> {
    let options = SessionOptions { role: Role::Investigator, audit: false, ..SessionOptions::default() };
    Ok(open_session(dir, options)?)
}

fn write_error(path: &Path, message: impl std::fmt::Display) -> LinkError {
    LinkError::Write { path: path.to_owned(), message: message.to_string() }
}

/// Finds every piece of evidence between calls.
pub fn collect_evidence(incidents: &Incidents) -> Vec<CallLink> {
    let mut links = evidence::handoffs(incidents);
    links.extend(evidence::same_caller(incidents));
    links.extend(evidence::named_person(incidents));
    links.extend(evidence::shared_phone(incidents));
    links.extend(evidence::similar_narratives(incidents, 64));
    links.extend(evidence::same_counterparty(incidents));
    links.extend(evidence::near_in_space_time(incidents));
    links
}

/// Links every call of the warehouse and commits the evidence and leads as a new snapshot.
pub fn link(warehouse: &Warehouse, progress: &mut dyn FnMut(Stage)) -> Result<LinkSummary, LinkError> {
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
    let incidents = {
        let session = session(warehouse.dir())?;
        Incidents::load(&session)?
    };
    progress(Stage::Evidence);
    let links = collect_evidence(&incidents);
    progress(Stage::Ties);
    let callers = Callers::build(&incidents);
    let (ties, rates) = ties(&incidents, &callers, &links);
    progress(Stage::Leads);
    let mut leads = find_leads(&incidents, &callers, &links, &ties, &rates);
    let baseline = concern::Baseline::of(&incidents, &callers);
    let concerns = concern::persons_of_concern(&incidents, &callers, &baseline);
    leads.extend(concern::on_lead_scale(concerns, WORTH_A_LOOK));
    leads.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.calls.first().cmp(&b.calls.first())));
    for (i, lead) in leads.iter_mut().enumerate() {
        lead.lead_id = format!("L{:04}", i + 1);
    }

    progress(Stage::Write);
    let commit = warehouse.begin()?.by("link");
    let snapshot = commit.id();
    let table_dir = |def: &TableDef| commit.table_dir(def.name).map_err(LinkError::from);
    let call_id = |c: u32| incidents.call_ids[c as usize].as_str();
    let entity_of_call = |c: u32| incidents.entities.value(incidents.list[c as usize].entity);

    let dir = table_dir(&INCIDENT_LINKS)?;
    let mut out = ParquetAppender::new(dir.join("part-0.parquet"), INCIDENT_LINKS.columns);
    for l in &links {
        out.push(&[
            Cell::Text(Some(call_id(l.a))),
            Cell::Text(Some(call_id(l.b))),
            Cell::Text(Some(l.evidence.name())),
            Cell::Float(Some(l.weight)),
            Cell::Text(Some(&l.detail)),
        ])
        .map_err(|e| write_error(&dir, e))?;
    }
    out.finish().map_err(|e| write_error(&dir, e))?;

    let dir = table_dir(&CALLER_TIES)?;
    let mut out = ParquetAppender::new(dir.join("part-0.parquet"), CALLER_TIES.columns);
    let entities_of = |caller: u32| -> String {
        let list: Vec<&str> = callers.list[caller as usize].iter().map(|&e| incidents.entities.value(e)).collect();
        list.join(",")
    };
    for t in &ties {
        let (a, b) = (entities_of(t.a), entities_of(t.b));
        out.push(&[
            Cell::Text(a.split(',').next()),
            Cell::Text(b.split(',').next()),
            Cell::Text(Some(&a)),
            Cell::Text(Some(&b)),
            Cell::Text(Some(t.kind.name())),
            Cell::Int(Some(i64::from(t.count))),
            Cell::Float(Some(t.bits)),
            Cell::Text(Some(&t.detail)),
        ])
        .map_err(|e| write_error(&dir, e))?;
    }
    out.finish().map_err(|e| write_error(&dir, e))?;

    let dir = table_dir(&LEADS)?;
    let mut out = ParquetAppender::new(dir.join("part-0.parquet"), LEADS.columns);
    let members_dir = table_dir(&LEAD_MEMBERS)?;
    let mut members = ParquetAppender::new(members_dir.join("part-0.parquet"), LEAD_MEMBERS.columns);
    for (rank, lead) in leads.iter().enumerate() {
        let bits = |k: &str| Cell::Float(Some(lead.bits.get(k).copied().unwrap_or(0.0)));
        let evidence = lead.evidence.join("\n");
        out.push(&[
            Cell::Text(Some(&lead.lead_id)),
            Cell::Int(Some(rank as i64 + 1)),
            Cell::Float(Some(lead.score)),
            Cell::Bool(Some(lead.score >= WORTH_A_LOOK)),
            Cell::Int(Some(lead.calls.len() as i64)),
            Cell::Int(Some(lead.callers.len() as i64)),
            Cell::Int(Some(lead.entities.len() as i64)),
            Cell::Int(Some(lead.reports.len() as i64)),
            Cell::Text(Some(&lead.category)),
            Cell::Int(Some(lead.targets as i64)),
            Cell::Int(Some(lead.districts as i64)),
            Cell::Time(Some(lead.span.0)),
            Cell::Time(Some(lead.span.1)),
            bits("shared_phone"),
            bits("co_target"),
            bits("same_script"),
            bits("named_by_others"),
            Cell::Text(lead.evidence.first().map(String::as_str)),
            Cell::Text(Some(&evidence)),
            Cell::Text(Some(concern::kind_of(lead))),
            Cell::Float(Some(concern::concern_bits(lead))),
        ])
        .map_err(|e| write_error(&dir, e))?;
        for &c in &lead.calls {
            let role = if lead.reports.contains(&c) {
                "report"
            } else if incidents.list[c as usize].source.is_some() {
                "transfer_record"
            } else {
                "member_call"
            };
            members
                .push(&[
                    Cell::Text(Some(&lead.lead_id)),
                    Cell::Text(Some("call")),
                    Cell::Text(Some(call_id(c))),
                    Cell::Text(Some(entity_of_call(c))),
                    Cell::Text(Some(role)),
                    Cell::Int(None),
                    Cell::Float(None),
                ])
                .map_err(|e| write_error(&members_dir, e))?;
        }
        for (i, &caller) in lead.callers.iter().enumerate() {
            let (degree, between) = lead.centrality[i];
            for &e in &callers.list[caller as usize] {
                if !lead.entities.contains(&e) {
                    continue;
                }
                members
                    .push(&[
                        Cell::Text(Some(&lead.lead_id)),
                        Cell::Text(Some("entity")),
                        Cell::Text(None),
                        Cell::Text(Some(incidents.entities.value(e))),
                        Cell::Text(Some(if i == 0 { "key_member" } else { "member" })),
                        Cell::Int(Some(i64::from(degree))),
                        Cell::Float(Some(between)),
                    ])
                    .map_err(|e| write_error(&members_dir, e))?;
            }
        }
    }
    out.finish().map_err(|e| write_error(&dir, e))?;
    members.finish().map_err(|e| write_error(&members_dir, e))?;

    if let Some(last) = stage_seconds.last_mut() {
        last.1 = stage_started.elapsed().as_secs_f64();
    }
    let worth_a_look = leads.iter().filter(|l| l.score >= WORTH_A_LOOK).count();
    let mut links_by_kind: Vec<(&'static str, usize)> =
        evidence::Evidence::ALL.iter().map(|e| (e.name(), links.iter().filter(|l| l.evidence == *e).count())).collect();
    links_by_kind.retain(|(_, n)| *n > 0);
    let seconds = started.elapsed().as_secs_f64();
    commit.keep(LINK_RUNS.name, |_| false)?;
    let dir = table_dir(&LINK_RUNS)?;
    let mut runs = ParquetAppender::new(dir.join(format!("run={snapshot:08}.parquet")), LINK_RUNS.columns);
    let count = |n: usize| Cell::Int(Some(n as i64));
    runs.push(&[
        Cell::Int(Some(snapshot as i64)),
        Cell::Time(Some(started_at)),
        Cell::Float(Some(seconds)),
        count(incidents.list.len()),
        count(links.len()),
        count(ties.len()),
        count(leads.len()),
        count(worth_a_look),
        Cell::Float(Some(WORTH_A_LOOK)),
        Cell::Text(Some(&rates.describe())),
    ])
    .map_err(|e| write_error(&dir, e))?;
    runs.finish().map_err(|e| write_error(&dir, e))?;
    commit.commit()?;
    Ok(LinkSummary {
        calls: incidents.list.len(),
        links_by_kind,
        ties: ties.len(),
        leads,
        worth_a_look,
        seconds,
        stage_seconds,
        snapshot,
    })
}
