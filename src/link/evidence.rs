//! Evidence that two calls are related, one kind at a time: hand-offs, the same caller, a shared
//! phone, the same counterparty, near-identical narratives (MinHash/LSH, verified by Jaccard), a
//! person named by one call who matches the caller of another, and closeness in space and time.

use std::collections::HashMap;

use rayon::prelude::*;

use super::load::{Incident, Incidents};
use super::text::{MINHASH_BANDS, band_keys, jaccard};
use crate::geo::metres_between;
use crate::text::PersonRef;

/// Microseconds in a day.
pub const DAY: i64 = 86_400_000_000;

/// Jaccard similarity of rare shingles above which two narratives count as near-identical.
pub const SIMILAR_NARRATIVE: f64 = 0.6;

/// How far back a report may name the caller of an earlier call, in days.
const NAMED_WINDOW_DAYS: i64 = 60;

/// How near a place must be for a named person to be looked for there, in metres.
const NAMED_NEAR_METRES: f64 = 300.0;

/// A full name at most this many resolved callers give is looked for anywhere in the city.
pub const RARE_NAME_ENTITIES: usize = 3;

/// How far before a report a call whose caller gives a rare full name it names may be, in days.
const RARE_NAME_BEFORE_DAYS: i64 = 365;

/// How far after a report such a call may be, in days.
const RARE_NAME_AFTER_DAYS: i64 = 30;

/// Calls of one category in one cell within this many hours are "near in space and time".
const NEAR_HOURS: i64 = 48;

/// Kinds of evidence, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Evidence {
    /// One call was transferred from the other (`source_call_id`).
    Handoff,
    /// The same resolved caller.
    SameCaller,
    /// A person one call names matches the caller of the other.
    NamedPerson,
    /// The same phone, used by different callers.
    SharedPhone,
    /// Near-identical narratives.
    SimilarNarrative,
    /// The same organisation as counterparty.
    SameCounterparty,
    /// The same category in the same 500 m cell within 48 hours.
    NearInSpaceTime,
}

impl Evidence {
    /// Every kind.
    pub const ALL: [Evidence; 7] = [
        Evidence::Handoff,
        Evidence::SameCaller,
        Evidence::NamedPerson,
        Evidence::SharedPhone,
        Evidence::SimilarNarrative,
        Evidence::SameCounterparty,
        Evidence::NearInSpaceTime,
    ];

    /// Name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            Evidence::Handoff => "handoff",
            Evidence::SameCaller => "same_caller",
            Evidence::NamedPerson => "named_person",
            Evidence::SharedPhone => "shared_phone",
            Evidence::SimilarNarrative => "similar_narrative",
            Evidence::SameCounterparty => "same_counterparty",
            Evidence::NearInSpaceTime => "near_in_space_time",
        }
    }

    /// The kind of a table name.
    pub fn from_name(name: &str) -> Option<Evidence> {
        Evidence::ALL.into_iter().find(|e| e.name() == name)
    }

    /// How strongly it ties two calls, 0 to 1 (a hand-off is the same incident).
    pub fn weight(self) -> f64 {
        match self {
            Evidence::Handoff => 1.0,
            Evidence::SameCaller => 0.9,
            Evidence::NamedPerson => 0.8,
            Evidence::SharedPhone => 0.7,
            Evidence::SimilarNarrative => 0.6,
            Evidence::SameCounterparty => 0.4,
            Evidence::NearInSpaceTime => 0.3,
        }
    }
}

/// One piece of evidence between two calls (`a` is the earlier, or the source).
#[derive(Debug, Clone, PartialEq)]
pub struct CallLink {
    /// A call.
    pub a: u32,
    /// The other call.
    pub b: u32,
    /// Kind.
    pub evidence: Evidence,
    /// Strength, 0 to 1.
    pub weight: f64,
    /// What it rests on, in words (no raw personal data).
    pub detail: String,
}

fn ordered(incidents: &Incidents, x: u32, y: u32) -> (u32, u32) {
    let (tx, ty) = (incidents.list[x as usize].time, incidents.list[y as usize].time);
    if (tx, x) <= (ty, y) { (x, y) } else { (y, x) }
}

/// Calls grouped by a key, each group in time order.
fn groups_by<K: std::hash::Hash + Eq + Send>(
    incidents: &Incidents,
    key: impl Fn(usize) -> Option<K> + Sync,
) -> Vec<Vec<u32>> {
    let mut groups: HashMap<K, Vec<u32>> = HashMap::new();
    for i in 0..incidents.list.len() {
        if let Some(k) = key(i) {
            groups.entry(k).or_default().push(i as u32);
        }
    }
    let mut out: Vec<Vec<u32>> = groups.into_values().filter(|g| g.len() > 1).collect();
    out.par_iter_mut().for_each(|g| g.sort_by_key(|&c| (incidents.list[c as usize].time, c)));
    // Groups in order of their first call, not in the map's (random) iteration order.
    out.sort_unstable_by_key(|g| g[0]);
    out
}

/// Every hand-off: the transfer record and the call it came from.
pub fn handoffs(incidents: &Incidents) -> Vec<CallLink> {
    incidents
        .list
        .iter()
        .enumerate()
        .filter_map(|(i, incident)| {
            let source = incident.source?;
            Some(CallLink {
                a: source,
                b: i as u32,
                evidence: Evidence::Handoff,
                weight: Evidence::Handoff.weight(),
                detail: "transferred between platforms".to_owned(),
            })
        })
        .collect()
}

/// Each call of a caller tied to the caller's call before it.
pub fn same_caller(incidents: &Incidents) -> Vec<CallLink> {
    let groups = groups_by(incidents, |i| Some(incidents.list[i].entity));
    let mut out = Vec::new();
    for group in groups {
        for pair in group.windows(2) {
            out.push(CallLink {
                a: pair[0],
                b: pair[1],
                evidence: Evidence::SameCaller,
                weight: Evidence::SameCaller.weight(),
                detail: incidents.entities.value(incidents.list[pair[0] as usize].entity).to_owned(),
            });
        }
    }
    out
}

/// A phone used by several callers: each caller's first call on it tied to the call before it on
/// that phone by another caller.
pub fn shared_phone(incidents: &Incidents) -> Vec<CallLink> {
    let groups = groups_by(incidents, |i| incidents.list[i].phone);
    let mut out = Vec::new();
    for group in groups {
        let mut seen: Vec<u32> = Vec::new();
        let mut last_of_other: Option<u32> = None;
        for &c in &group {
            let entity = incidents.list[c as usize].entity;
            if !seen.contains(&entity) {
                if let Some(previous) = last_of_other.filter(|&p| incidents.list[p as usize].entity != entity) {
                    let phone = incidents.list[c as usize].phone.map(|p| incidents.phones.value(p)).unwrap_or("");
                    out.push(CallLink {
                        a: previous,
                        b: c,
                        evidence: Evidence::SharedPhone,
                        weight: Evidence::SharedPhone.weight(),
                        detail: format!("phone {}", &phone[..phone.len().min(8)]),
                    });
                }
                seen.push(entity);
            }
            last_of_other = Some(c);
        }
    }
    out
}

/// Calls naming the same organisation, each tied to the one before it by another caller.
pub fn same_counterparty(incidents: &Incidents) -> Vec<CallLink> {
    let groups = groups_by(incidents, |i| incidents.list[i].organisation);
    let mut out = Vec::new();
    for group in groups {
        for pair in group.windows(2) {
            let (x, y) = (&incidents.list[pair[0] as usize], &incidents.list[pair[1] as usize]);
            if x.entity == y.entity || x.source == Some(pair[1]) || y.source == Some(pair[0]) {
                continue;
            }
            let label = x.organisation.map(|o| incidents.organisation_labels[o as usize].as_str()).unwrap_or("");
            out.push(CallLink {
                a: pair[0],
                b: pair[1],
                evidence: Evidence::SameCounterparty,
                weight: Evidence::SameCounterparty.weight(),
                detail: label.to_owned(),
            });
        }
    }
    out
}

/// Calls of one category in one cell within 48 hours, by different callers, each tied to the one before.
pub fn near_in_space_time(incidents: &Incidents) -> Vec<CallLink> {
    let groups = groups_by(incidents, |i| {
        let x = &incidents.list[i];
        x.cell.map(|cell| (cell, x.category))
    });
    let mut out = Vec::new();
    for group in groups {
        for pair in group.windows(2) {
            let (x, y) = (&incidents.list[pair[0] as usize], &incidents.list[pair[1] as usize]);
            if x.entity == y.entity || y.time - x.time > NEAR_HOURS * 3_600_000_000 || y.source.is_some() {
                continue;
            }
            let metres = match (x.point, y.point) {
                (Some(p), Some(q)) => metres_between(p, q),
                _ => continue,
            };
            out.push(CallLink {
                a: pair[0],
                b: pair[1],
                evidence: Evidence::NearInSpaceTime,
                weight: Evidence::NearInSpaceTime.weight(),
                detail: format!("{:.0} m, {:.0} h apart", metres, (y.time - x.time) as f64 / 3.6e9),
            });
        }
    }
    out
}

/// Near-identical narratives: MinHash bands of each call's rare shingles put candidates in the same
/// bucket; a candidate pair counts when its Jaccard similarity reaches [`SIMILAR_NARRATIVE`].
/// Buckets of more than `max_bucket` calls (boilerplate nobody copied on purpose) are skipped.
pub fn similar_narratives(incidents: &Incidents, max_bucket: usize) -> Vec<CallLink> {
    let keys: Vec<Option<[u64; MINHASH_BANDS]>> =
        incidents.shingles.par_iter().map(|s| (!s.is_empty()).then(|| band_keys(s))).collect();
    let mut candidates: Vec<(u32, u32)> = Vec::new();
    for band in 0..MINHASH_BANDS {
        let mut bucket: Vec<(u64, u32)> =
            keys.iter().enumerate().filter_map(|(i, k)| k.map(|k| (k[band], i as u32))).collect();
        bucket.par_sort_unstable();
        let mut start = 0;
        while start < bucket.len() {
            let mut end = start + 1;
            while end < bucket.len() && bucket[end].0 == bucket[start].0 {
                end += 1;
            }
            if end - start <= max_bucket {
                for i in start..end {
                    for j in i + 1..end {
                        candidates.push((bucket[i].1, bucket[j].1));
                    }
                }
            }
            start = end;
        }
    }
    candidates.par_sort_unstable();
    candidates.dedup();
    candidates
        .par_iter()
        .filter_map(|&(x, y)| {
            let (cx, cy) = (&incidents.list[x as usize], &incidents.list[y as usize]);
            if cx.source == Some(y) || cy.source == Some(x) || (cx.source.is_some() && cx.source == cy.source) {
                return None;
            }
            // Candidates share rare wording; the whole narratives must be alike too (two different
            // stories that end with the same rare stock phrase are not copies).
            let rare = jaccard(&incidents.shingles[x as usize], &incidents.shingles[y as usize]);
            let similarity = jaccard(&incidents.full_shingles[x as usize], &incidents.full_shingles[y as usize]);
            (rare >= 0.3 && similarity >= SIMILAR_NARRATIVE).then(|| {
                let (a, b) = ordered(incidents, x, y);
                CallLink {
                    a,
                    b,
                    evidence: Evidence::SimilarNarrative,
                    weight: Evidence::SimilarNarrative.weight() * similarity,
                    detail: format!("narratives {:.0}% alike", similarity * 100.0),
                }
            })
        })
        .collect()
}

/// Whether the caller of a call fits a person as somebody else names them, and how: `full name`
/// (the call's name, or another name its resolved caller gave), or `surname and sex` / `surname`
/// when the call gave only a surname and a form of address.
pub fn name_fits(incidents: &Incidents, call: u32, person: &PersonRef) -> Option<&'static str> {
    let x = &incidents.list[call as usize];
    let caller = &x.caller;
    let surname = caller.surname.map(|s| incidents.pinyins.value(s))?;
    if let Some(full) = &person.full {
        let own = caller.full.map(|f| incidents.pinyins.value(f));
        let known =
            incidents.full_names.get(&x.entity).into_iter().flatten().any(|&f| incidents.pinyins.value(f) == full);
        if own == Some(full.as_str()) || (own.is_none() && known) {
            return Some("full name");
        }
        if own.is_some() || surname != person.surname {
            return None;
        }
        return Some("surname");
    }
    if surname != person.surname {
        return None;
    }
    match (person.female, caller.female) {
        (Some(a), Some(b)) if a != b => None,
        (Some(_), Some(_)) => Some("surname and sex"),
        _ => Some("surname"),
    }
}

/// A `named_person` link's detail: how the name fits, and how many callers there could have
/// fitted it (read back by [`could_have_fitted`]).
fn naming_detail(how: &str, could: usize) -> String {
    format!("named by {how}, one of {could} caller(s) there")
}

/// How many callers could have fitted a `named_person` link's name, from its detail (see
/// [`naming_detail`]); none for a detail that does not say.
pub fn could_have_fitted(detail: &str) -> Option<u32> {
    detail.split("one of ").nth(1)?.split(' ').next()?.parse().ok()
}

/// A call that names a person (a victim naming who extorted them) tied to earlier calls whose
/// caller fits the name and that concern an organisation the narrative mentions or happened within
/// 300 m, up to 60 days before: the latest such call of each caller, for at most eight callers.
pub fn named_person(incidents: &Incidents) -> Vec<CallLink> {
    let mut by_organisation: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut by_cell: HashMap<(i32, i32), Vec<u32>> = HashMap::new();
    for (i, incident) in incidents.list.iter().enumerate() {
        if incident.source.is_some() {
            continue;
        }
        if let Some(o) = incident.organisation {
            by_organisation.entry(o).or_default().push(i as u32);
        }
        if let Some(cell) = incident.cell {
            by_cell.entry(cell).or_default().push(i as u32);
        }
    }
    // Original calls of each full name (pinyin), for names few entities give.
    let mut by_full_name: HashMap<&str, Vec<u32>> = HashMap::new();
    let mut entities_of_name: HashMap<&str, Vec<u32>> = HashMap::new();
    for (&entity, names) in &incidents.full_names {
        for &f in names {
            entities_of_name.entry(incidents.pinyins.value(f)).or_default().push(entity);
        }
    }
    for (i, incident) in incidents.list.iter().enumerate() {
        if incident.source.is_some() {
            continue;
        }
        if let Some(f) = incident.caller.full {
            let name = incidents.pinyins.value(f);
            if entities_of_name.get(name).is_some_and(|e| e.len() <= RARE_NAME_ENTITIES) {
                by_full_name.entry(name).or_default().push(i as u32);
            }
        }
    }
    let mut named: Vec<(&u32, &PersonRef)> = incidents.named.iter().collect();
    named.sort_by_key(|(c, _)| **c);
    named
        .par_iter()
        .flat_map_iter(|&(&report, person)| {
            let r = &incidents.list[report as usize];
            let mut candidates: Vec<u32> = Vec::new();
            if let Some(narrative) = incidents.named_narratives.get(&report) {
                for o in incidents.organisations_mentioned(narrative) {
                    candidates.extend(by_organisation.get(&o).into_iter().flatten().copied());
                }
            }
            if let (Some((row, column)), Some(point)) = (r.cell, r.point) {
                for dr in -1..=1 {
                    for dc in -1..=1 {
                        for &c in by_cell.get(&(row + dr, column + dc)).into_iter().flatten() {
                            let near = incidents.list[c as usize]
                                .point
                                .is_some_and(|q| metres_between(point, q) <= NAMED_NEAR_METRES);
                            if near {
                                candidates.push(c);
                            }
                        }
                    }
                }
            }
            candidates.sort_unstable();
            candidates.dedup();
            // A candidate call by someone else up to the window before the report.
            let in_window =
                |x: &Incident| x.entity != r.entity && (0..=NAMED_WINDOW_DAYS * DAY).contains(&(r.time - x.time));
            // How many callers could have fitted: those of the candidate calls in the window, at
            // the branch the report is about (the organisation's calls in its district).
            let mut could: Vec<u32> = candidates
                .iter()
                .map(|&c| &incidents.list[c as usize])
                .filter(|x| in_window(x))
                .filter(|x| r.district.is_none() || x.district.is_none() || x.district == r.district)
                .map(|x| x.entity)
                .collect();
            could.sort_unstable();
            could.dedup();
            let could = could.len().max(1);
            let mut fits: Vec<(i64, u32, &'static str)> = candidates
                .into_iter()
                .filter_map(|c| {
                    let x = &incidents.list[c as usize];
                    if c == report || !in_window(x) {
                        return None;
                    }
                    name_fits(incidents, c, person).map(|how| (x.time, c, how))
                })
                .collect();
            // A full name few callers give is looked for city-wide, over a longer window.
            let rare = person.full.as_deref().and_then(|f| by_full_name.get(f)).into_iter().flatten();
            for &c in rare {
                let x = &incidents.list[c as usize];
                let before = r.time - x.time;
                let near = (-RARE_NAME_AFTER_DAYS * DAY..=RARE_NAME_BEFORE_DAYS * DAY).contains(&before);
                if c != report && x.entity != r.entity && near && !fits.iter().any(|f| f.1 == c) {
                    fits.extend(name_fits(incidents, c, person).filter(|h| *h == "full name").map(|h| (x.time, c, h)));
                }
            }
            // The latest fitting call of each caller, full-name fits first, at most eight callers.
            fits.sort_by_key(|&(time, c, how)| std::cmp::Reverse((how == "full name", time, c)));
            let mut callers_seen: Vec<u32> = Vec::new();
            fits.retain(|&(_, c, _)| {
                let entity = incidents.list[c as usize].entity;
                let new = !callers_seen.contains(&entity);
                callers_seen.push(entity);
                new
            });
            fits.truncate(8);
            fits.into_iter().map(move |(_, c, how)| CallLink {
                a: c,
                b: report,
                evidence: Evidence::NamedPerson,
                weight: if how == "full name" { 0.9 } else { 0.7 },
                detail: naming_detail(how, could),
            })
        })
        .collect()
}
