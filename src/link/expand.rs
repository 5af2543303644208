//! Growing a series step by step from a few calls (深挖扩线), with the reason each call joins.
//!
//! The series starts with the seed calls, their callers and their categories. Each step adds,
//! all at once: the callers' other calls of those categories; hand-offs of the series' calls;
//! reports that name one of its callers; callers tied to its callers (shared phone,
//! co-targeting, same script weighed against templates, named together); and callers
//! whose claims land on the series' targets beyond chance (the rule leads are grown by). The same
//! counterparty or place alone is not enough: that is how ordinary disputes with one shop look.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::evidence::Evidence;
use super::leads::{AttachIndex, Callers, MIN_TIE_BITS, named_counts, report_fits, ties};
use super::load::Incidents;
use super::{LinkError, collect_evidence, session};

/// A call that joined a series, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Joined {
    /// The call.
    pub call_id: String,
    /// Why it joined.
    pub reason: String,
}

/// A series grown from seed calls.
#[derive(Debug, Clone, Serialize)]
pub struct Expansion {
    /// Where it started.
    pub seeds: Vec<String>,
    /// The calls each step added.
    pub steps: Vec<Vec<Joined>>,
}

impl Expansion {
    /// Every call of the series after `steps` steps.
    pub fn calls_after(&self, steps: usize) -> Vec<String> {
        let mut out = self.seeds.clone();
        for step in self.steps.iter().take(steps) {
            out.extend(step.iter().map(|j| j.call_id.clone()));
        }
        out
    }
}

/// Grows a series from seed calls for up to `steps` steps.
pub fn expand(warehouse: &Path, seeds: &[String], steps: usize) -> Result<Expansion, LinkError> {
    let incidents = Incidents::load(&session(warehouse)?)?;
    let mut series: HashSet<u32> = HashSet::new();
    for s in seeds {
        let c = incidents.position.get(s).ok_or_else(|| LinkError::Unknown { kind: "call", id: s.clone() })?;
        series.insert(*c);
    }
    let links = collect_evidence(&incidents);
    let callers = Callers::build(&incidents);
    let (ties, rates) = ties(&incidents, &callers, &links);
    let fits = report_fits(&incidents, &callers, &links, &rates);
    let named = named_counts(&incidents, &callers, &links, &rates);
    let index = AttachIndex::build(&incidents, &callers);
    let mut links_of: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, l) in links.iter().enumerate() {
        if matches!(l.evidence, Evidence::Handoff | Evidence::NamedPerson) {
            links_of.entry(l.a).or_default().push(i);
            links_of.entry(l.b).or_default().push(i);
        }
    }
    let mut ties_of: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, t) in ties.iter().enumerate() {
        ties_of.entry(t.a).or_default().push(i);
        ties_of.entry(t.b).or_default().push(i);
    }
    let categories: BTreeSet<u32> = series.iter().map(|&c| incidents.list[c as usize].category).collect();
    let mut group: Vec<u32> = series.iter().map(|&c| callers.of_call(&incidents, c)).collect();
    group.sort_unstable();
    group.dedup();
    let entity = |caller: u32| incidents.entities.value(callers.list[caller as usize][0]).to_owned();
    let id = |call: u32| incidents.call_ids[call as usize].clone();
    let mut out = Vec::new();
    for _ in 0..steps {
        let mut joins: Vec<(u32, String)> = Vec::new();
        let mut taken: HashSet<u32> = HashSet::new();
        let mut join = |call: u32, why: String, joins: &mut Vec<(u32, String)>| {
            if !series.contains(&call) && taken.insert(call) {
                joins.push((call, why));
            }
        };
        let mut new_callers: Vec<(u32, String)> = Vec::new();
        // Callers tied to the series' callers, then callers whose claims land on its targets. The
        // more callers the series touches, the more ties chance alone gives it: a tie must beat
        // the lead threshold by log₂ of the callers it is tied to.
        let mut neighbours: BTreeSet<u32> = BTreeSet::new();
        for &g in &group {
            for &t in ties_of.get(&g).into_iter().flatten() {
                neighbours.insert(if ties[t].a == g { ties[t].b } else { ties[t].a });
            }
        }
        let needed = MIN_TIE_BITS + (neighbours.len().max(1) as f64).log2();
        for &g in &group {
            for &t in ties_of.get(&g).into_iter().flatten() {
                let tie = &ties[t];
                let other = if tie.a == g { tie.b } else { tie.a };
                if tie.bits < needed {
                    continue;
                }
                if !group.contains(&other) && !new_callers.iter().any(|(c, _)| *c == other) {
                    let why = format!(
                        "its caller is tied to {}: {}, {} ({:.0} bits)",
                        entity(g),
                        tie.kind.name(),
                        tie.detail,
                        tie.bits
                    );
                    new_callers.push((other, why));
                }
            }
        }
        let members: HashSet<u32> = group.iter().copied().collect();
        for (x, bits, why) in index.attach(&incidents, &callers, &group, &members, &fits, &named) {
            if !new_callers.iter().any(|(c, _)| *c == x) {
                let weight = if bits > 0.0 { format!(" ({bits:.0} bits)") } else { String::new() };
                new_callers.push((x, format!("its caller {}: {why}{weight}", entity(x))));
            }
        }
        for &g in &group {
            for &c in &callers.calls[g as usize] {
                if categories.contains(&incidents.list[c as usize].category) {
                    join(c, format!("same caller ({}) as the series", entity(g)), &mut joins);
                }
            }
        }
        for (x, why) in &new_callers {
            for &c in &callers.calls[*x as usize] {
                if categories.contains(&incidents.list[c as usize].category) {
                    join(c, why.clone(), &mut joins);
                }
            }
        }
        let mut current: Vec<u32> = series.iter().copied().collect();
        current.sort_unstable();
        for s in current {
            for &l in links_of.get(&s).into_iter().flatten() {
                let link = &links[l];
                let other = if link.a == s { link.b } else { link.a };
                match link.evidence {
                    Evidence::Handoff => join(other, format!("transfer record of {}", id(s)), &mut joins),
                    Evidence::NamedPerson if link.a == s => {
                        join(other, format!("names the caller of {} ({})", id(s), link.detail), &mut joins)
                    }
                    _ => {}
                }
            }
        }
        group.extend(new_callers.into_iter().map(|(c, _)| c));
        group.sort_unstable();
        group.dedup();
        if joins.is_empty() {
            break;
        }
        joins.sort_by_key(|(c, _)| (incidents.list[*c as usize].time, *c));
        series.extend(joins.iter().map(|(c, _)| *c));
        out.push(joins.into_iter().map(|(c, reason)| Joined { call_id: id(c), reason }).collect());
    }
    Ok(Expansion { seeds: seeds.to_vec(), steps: out })
}
