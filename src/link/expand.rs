//! Growing a series step by step from a few calls (深挖扩线), with the reason each call joins.
//!
//! The series starts with the seed calls, their callers and their categories. Each step adds,
//! all at once: the callers' other calls of those categories, and of any category when the call
//! names an organisation the series' calls name; hand-offs of the series' calls; reports that
//! name one of its callers; callers tied to its callers (shared phone, co-targeting, same script
//! weighed against templates, named together), each kind of tie weighed against the number of
//! callers the series is tied to by that kind; the other members of a lead worth a look that
//! holds one of its callers; and callers whose claims land on the series' targets beyond chance
//! (the rule leads are grown by). A category its callers call about together beyond chance (the
//! rule a lead takes a second category by) becomes the series' too. The same counterparty or
//! place alone is not enough: that is how ordinary disputes with one shop look.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use serde::Serialize;

use super::evidence::Evidence;
use super::explore::read_leads;
use super::leads::{
    AttachIndex, Callers, MIN_TIE_BITS, category_shares, named_counts, report_fits, shared_categories, ties,
};
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

/// A lead of the last link run: its id, score and member entities (interned).
#[derive(Debug, Clone)]
pub struct KnownLead {
    /// `L0001`…
    pub lead_id: String,
    /// Bits.
    pub score: f64,
    /// Member entities.
    pub entities: Vec<u32>,
}

/// Grows a series from seed calls for up to `steps` steps.
pub fn expand(warehouse: &Path, seeds: &[String], steps: usize) -> Result<Expansion, LinkError> {
    let session = session(warehouse)?;
    let incidents = Incidents::load(&session)?;
    let mut series: Vec<u32> = Vec::new();
    for s in seeds {
        let c = incidents.position.get(s).ok_or_else(|| LinkError::Unknown { kind: "call", id: s.clone() })?;
        series.push(*c);
    }
    // The leads of the last link run worth a look (beyond chance among all the groups the city
    // could hold).
    // A warehouse never linked has none, and the series grows without them.
    let read = if session.table_schema("link_runs").is_some() { read_leads(&session, None) } else { Ok(Vec::new()) };
    let read = match read {
        Err(LinkError::NotLinked) => Vec::new(),
        other => other?,
    };
    let leads: Vec<KnownLead> = read
        .into_iter()
        .filter(|l| l.worth_a_look)
        .map(|lead| {
            let entities = lead.entity_ids.iter().filter_map(|e| incidents.entities.get(e)).collect();
            KnownLead { lead_id: lead.lead_id, score: lead.score, entities }
        })
        .collect();
    let steps = grow(&incidents, &leads, &series, steps);
    let id = |call: u32| incidents.call_ids[call as usize].clone();
    let steps = steps
        .into_iter()
        .map(|step| step.into_iter().map(|(c, reason)| Joined { call_id: id(c), reason }).collect())
        .collect();
    Ok(Expansion { seeds: seeds.to_vec(), steps })
}

/// The calls each step adds to a series grown from `seeds`, with why; `leads` are those worth a
/// look, whose members join when one of them is a series caller (an investigator reads the lead
/// a call's caller is in).
pub fn grow(incidents: &Incidents, leads: &[KnownLead], seeds: &[u32], steps: usize) -> Vec<Vec<(u32, String)>> {
    let mut series: HashSet<u32> = seeds.iter().copied().collect();
    let links = collect_evidence(incidents);
    let callers = Callers::build(incidents);
    let (ties, rates) = ties(incidents, &callers, &links);
    let fits = report_fits(incidents, &callers, &links, &rates);
    let named = named_counts(incidents, &callers, &links, &rates);
    let index = AttachIndex::build(incidents, &callers);
    let mut leads_of: HashMap<u32, Vec<usize>> = HashMap::new();
    let mut lead_members: Vec<(&str, f64, Vec<u32>)> = Vec::new();
    for lead in leads {
        let mut members: Vec<u32> = lead.entities.iter().map(|&e| callers.of_entity[e as usize]).collect();
        members.sort_unstable();
        members.dedup();
        for &m in &members {
            leads_of.entry(m).or_default().push(lead_members.len());
        }
        lead_members.push((&lead.lead_id, lead.score, members));
    }
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
    let seeded: BTreeSet<u32> = series.iter().map(|&c| incidents.list[c as usize].category).collect();
    let mut categories = seeded.clone();
    let shares = category_shares(incidents);
    let mut group: Vec<u32> = series.iter().map(|&c| callers.of_call(incidents, c)).collect();
    group.sort_unstable();
    group.dedup();
    let entity = |caller: u32| incidents.entities.value(callers.list[caller as usize][0]).to_owned();
    let id = |call: u32| incidents.call_ids[call as usize].as_str();
    let mut out = Vec::new();
    for _ in 0..steps {
        // The categories the series works: the seeds', and those its callers call about together
        // beyond what each one's number of calls and the category's share explain (the rule leads
        // take a group's second category by).
        categories.extend(shared_categories(incidents, &callers, &shares, &group));
        let mut joins: Vec<(u32, String)> = Vec::new();
        let mut taken: HashSet<u32> = HashSet::new();
        let mut join = |call: u32, why: String, joins: &mut Vec<(u32, String)>| {
            if !series.contains(&call) && taken.insert(call) {
                joins.push((call, why));
            }
        };
        let mut new_callers: Vec<(u32, String)> = Vec::new();
        // Callers tied to the series' callers, then callers whose claims land on its targets. The
        // more callers the series is tied to by one kind of evidence, the more ties of that kind
        // chance alone gives it: a tie must beat the lead threshold by log₂ of the callers tied to
        // the series by its kind (callers already in it are no trial). Each kind is its own trial:
        // a hundred weak co-targeting ties do not make a phone shared with one caller more likely
        // by chance.
        let mut neighbours: HashMap<&'static str, BTreeSet<u32>> = HashMap::new();
        for &g in &group {
            for &t in ties_of.get(&g).into_iter().flatten() {
                let other = if ties[t].a == g { ties[t].b } else { ties[t].a };
                if group.binary_search(&other).is_err() {
                    neighbours.entry(ties[t].kind.name()).or_default().insert(other);
                }
            }
        }
        let needed =
            |kind: &'static str| MIN_TIE_BITS + (neighbours.get(kind).map_or(1, BTreeSet::len).max(1) as f64).log2();
        for &g in &group {
            for &t in ties_of.get(&g).into_iter().flatten() {
                let tie = &ties[t];
                let other = if tie.a == g { tie.b } else { tie.a };
                if tie.bits < needed(tie.kind.name()) {
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
        for &g in &group {
            for &l in leads_of.get(&g).into_iter().flatten() {
                let (id, score, members) = &lead_members[l];
                for &other in members {
                    if group.binary_search(&other).is_err() && !new_callers.iter().any(|(c, _)| *c == other) {
                        let why = format!("its caller is in lead {id} ({score:.0} bits) with {}", entity(g));
                        new_callers.push((other, why));
                    }
                }
            }
        }
        let members: HashSet<u32> = group.iter().copied().collect();
        for (x, bits, why) in index.attach(incidents, &callers, &group, &members, &fits, &named) {
            if !new_callers.iter().any(|(c, _)| *c == x) {
                let weight = if bits > 0.0 { format!(" ({bits:.0} bits)") } else { String::new() };
                new_callers.push((x, format!("its caller {}: {why}{weight}", entity(x))));
            }
        }
        let category_why = |k: u32| {
            if seeded.contains(&k) {
                String::new()
            } else {
                format!(", in {}, which its callers call about together beyond chance", incidents.categories.value(k))
            }
        };
        // The organisations the series' calls name: a series caller's call about one of them
        // belongs to the series whatever its category (the extortion at a bar, then the noise
        // complaints against the same bar).
        let organisations: HashSet<u32> =
            series.iter().filter_map(|&c| incidents.list[c as usize].organisation).collect();
        for &g in &group {
            for &c in &callers.calls[g as usize] {
                let x = &incidents.list[c as usize];
                if categories.contains(&x.category) {
                    join(
                        c,
                        format!("same caller ({}) as the series{}", entity(g), category_why(x.category)),
                        &mut joins,
                    );
                } else if x.organisation.is_some_and(|o| organisations.contains(&o)) {
                    let why =
                        format!("same caller ({}) as the series, about an organisation its calls name", entity(g));
                    join(c, why, &mut joins);
                }
            }
        }
        for (x, why) in &new_callers {
            for &c in &callers.calls[*x as usize] {
                let k = incidents.list[c as usize].category;
                if categories.contains(&k) {
                    join(c, format!("{why}{}", category_why(k)), &mut joins);
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
        out.push(joins);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::evidence::DAY;
    use crate::link::load::{CallerName, Incident};

    /// One call: entity (its own phone and surname), category, organisation named, day.
    type Call<'a> = (u32, &'a str, Option<&'a str>, i64);

    /// Incidents of these calls (ids `C0`, `C1`, … in this order) after 200 strangers' calls of
    /// category `A`, each about an organisation of its own, so that `A` is common and others rare.
    fn incidents(calls: &[Call<'_>]) -> Incidents {
        let strangers: Vec<(u32, String)> = (0..200).map(|i| (100 + i, format!("shop{i}"))).collect();
        let all = calls
            .iter()
            .map(|&(e, k, o, d)| (e, k, o.map(str::to_owned), d))
            .chain(strangers.into_iter().map(|(e, o)| (e, "A", Some(o), 30)));
        let mut x = Incidents::default();
        for (i, (entity, category, organisation, day)) in all.enumerate() {
            while x.entities.len() <= entity as usize {
                let next = x.entities.len();
                x.entities.intern(&format!("E{next}"));
            }
            let id = format!("C{i}");
            x.position.insert(id.clone(), i as u32);
            x.call_ids.push(id);
            let organisation = organisation.map(|o| x.organisations.intern(&o));
            if x.organisation_labels.len() < x.organisations.len() {
                x.organisation_labels.push(format!("org{}", x.organisation_labels.len()));
            }
            let caller =
                CallerName { surname: Some(x.pinyins.intern(&format!("s{entity}"))), full: None, female: None };
            x.list.push(Incident {
                time: day * DAY + i as i64,
                entity,
                phone: Some(x.phones.intern(&format!("p{entity}"))),
                category: x.categories.intern(category),
                district: None,
                cell: None,
                point: None,
                organisation,
                source: None,
                caller,
                language: 0,
            });
            x.shingles.push(Vec::new());
            x.full_shingles.push(Vec::new());
        }
        x
    }

    fn joined(steps: &[Vec<(u32, String)>], step: usize) -> Vec<u32> {
        let mut calls: Vec<u32> = steps.get(step).into_iter().flatten().map(|(c, _)| *c).collect();
        calls.sort_unstable();
        calls
    }

    #[test]
    fn a_callers_call_about_an_organisation_of_the_series_joins_whatever_its_category() {
        // The seed: an extortion (A) at the bar; the same caller then complains (B) about the bar,
        // and about a shop the series never named.
        let x = incidents(&[(0, "A", Some("bar"), 1), (0, "B", Some("bar"), 5), (0, "B", Some("shop"), 9)]);
        let steps = grow(&x, &[], &[0], 3);
        assert_eq!(joined(&steps, 0), [1], "{steps:?}");
        assert!(steps[0][0].1.contains("an organisation its calls name"), "{steps:?}");
        assert_eq!(steps.len(), 1, "nothing more joins: {steps:?}");
    }

    #[test]
    fn a_lead_worth_a_look_brings_its_members_and_their_common_rare_category_follows() {
        // Entities 0 and 5 share nothing but the lead of the last link run; both also call about
        // the rare category C. Entity 7 is in another lead and stays out.
        let x = incidents(&[
            (0, "A", Some("x1"), 1),
            (0, "C", None, 2),
            (5, "A", Some("x2"), 3),
            (5, "C", None, 4),
            (7, "A", Some("x3"), 5),
        ]);
        let lead = |id: &str, entities: Vec<u32>| KnownLead { lead_id: id.to_owned(), score: 70.0, entities };
        let leads = [lead("L0001", vec![0, 5]), lead("L0002", vec![7])];
        let steps = grow(&x, &leads, &[0], 3);
        // Step 1: the other member's call of the seed's category, by the lead.
        assert_eq!(joined(&steps, 0), [2], "{steps:?}");
        assert!(steps[0][0].1.contains("in lead L0001"), "{steps:?}");
        // Step 2: C, which both members call about and 2 of 205 calls are, is the series' too.
        assert_eq!(joined(&steps, 1), [1, 3], "{steps:?}");
        assert!(
            steps[1].iter().all(|(_, why)| why.contains("in C, which its callers call about together")),
            "{steps:?}"
        );
        // Without the lead, the seed's caller stands alone.
        let alone = grow(&x, &leads[1..], &[0], 3);
        assert!(alone.is_empty(), "{alone:?}");
    }
}
