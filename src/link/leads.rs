//! Leads: groups of callers whose calls behave like an organised series rather than coincidence.
//!
//! Callers (resolved entities; two entities on one phone under one surname count as one caller)
//! are tied by evidence of acting together, each weighed in bits against chance (−log₂ of how
//! likely it is between strangers, estimated from the data itself): phones shared across callers,
//! the same counterparties or places targeted (Poisson tail of the overlap given how popular each
//! target is), and near-identical narratives about different targets. Louvain communities of that
//! graph are the candidate groups; reports by third parties that name a member add their own bits.
//! A lead's score is the sum of its bits, so a score of 40 reads "about one in 2⁴⁰ by chance".

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use petgraph::graph::{NodeIndex, UnGraph};

use super::community::{betweenness, louvain};
use super::evidence::{CallLink, DAY, Evidence, RARE_NAME_ENTITIES};
use super::load::{Incident, Incidents};
use crate::contract::Taxonomy;
use crate::contract::timestamp::MICROS_PER_SEC;
use crate::contract::timestamp::shanghai_day;
use crate::geo::metres_between;

/// A target shared by more callers than this is a public nuisance, not a sign of coordination.
const MAX_TARGET_CALLERS: usize = 500;

/// Bits the evidence between two callers must reach, all kinds together, to tie them.
pub const MIN_TIE_BITS: f64 = 8.0;

/// Two callers share a place only when they called about it within this many days of each
/// other: neighbours share their streets all year, a team that works a junction does so at once.
pub const PLACE_WINDOW_DAYS: i64 = 28;

/// The district of a call that names none, in per-district counts.
const NO_DISTRICT: u32 = u32::MAX;

/// A caller with more targets than this in one category is a frequent caller: an overlap with
/// anyone is no evidence of acting together (their calls spread wherever the city is busy).
pub const MAX_SERIAL_TARGETS: usize = 30;

/// Bits a co-targeting overlap must reach to be counted as evidence at all.
const MIN_CO_TARGET_BITS: f64 = 3.0;

/// Bits beyond log₂ of the overlapping pairs of its category by which a co-targeting tie stands
/// out on its own (at 5 bits, about one such tie by chance in 32 categories' worth of pairs).
const CO_TARGET_MARGIN_BITS: f64 = 5.0;

/// Two claimants who share targets (one is enough) in one campaign are tied whatever the overlap's
/// bits when both are among this many most serial claimants of the category (callers with as many
/// different targets or more). A travelling team rarely claims twice against one branch, so one
/// branch in common, at the same weeks, among a category's dozen widest claimants is the tie.
const MAX_SERIAL_PEERS: u64 = 12;

/// Bits one target in common needs to count at all: chance gives two claimants this wide that one
/// branch at most half the time (where they claim at a few busy branches, it does not tie them).
const MIN_ONE_TARGET_BITS: f64 = 1.0;

/// Whether two callers' claims make one campaign: periods of similar length (the longer at most
/// twice the shorter, counting a week at least) that overlap for at least half the shorter, and
/// stand out in time (the longer at most 60% of the warehouse's `period`). A claimant who files
/// all year round and a team that worked one spring are not one campaign; nor, by time alone, are
/// two who both file all year.
fn one_campaign(a: (i64, i64), b: (i64, i64), period: f64) -> bool {
    let week = 7 * DAY;
    let (la, lb) = ((a.1 - a.0).max(week), (b.1 - b.0).max(week));
    let overlap = (a.1.min(b.1) - a.0.max(b.0)).max(0);
    la.max(lb) <= 2 * la.min(lb) && 2 * overlap >= la.min(lb) && (la.max(lb) as f64) <= 0.6 * period
}

/// Bits a tie can give at most (beyond this, chance estimates mean little).
const MAX_TIE_BITS: f64 = 40.0;

/// Bits one kind of evidence can add to a lead's score.
pub const KIND_CAP: f64 = 30.0;

/// Bits a kind of evidence needs to corroborate another.
const CORROBORATING_BITS: f64 = 8.0;

/// Kinds of evidence that corroborate each other (serial claims describe the members, not a tie).
const INDEPENDENT_KINDS: [&str; 10] = [
    "shared_phone",
    "co_target",
    "same_district",
    "same_script",
    "named_by_others",
    "named_together",
    "shared_mention",
    "names_other",
    "same_hour",
    "kin",
];

/// Score from which a lead is worth an investigator's look.
pub const WORTH_A_LOOK: f64 = 60.0;

/// Kinds of tie between two callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TieKind {
    /// They used the same phone.
    SharedPhone,
    /// They targeted the same counterparties or places.
    CoTarget,
    /// They filed near-identical narratives about different targets.
    Script,
    /// Both fit the person a third party's report names, at a target both claimed against.
    NamedTogether,
    /// Calls of both name the same vehicle plate, phone or ID number, or one names the other's own.
    SharedMention,
    /// One names the other by full name, both calling repeatedly in the category of the naming call.
    NamesOther,
    /// Calls of both about the same kind of matter at the same place within three hours, on several days.
    SameHour,
    /// Both among more people of one surname with ID numbers of one region, calling about one kind
    /// of matter, than that surname and region's share of the callers explains: a family at work.
    Kin,
    /// Both among a category's serial claimants gathered in one district, more than its share explains.
    SameDistrict,
}

impl TieKind {
    /// Name in the tables.
    pub fn name(self) -> &'static str {
        match self {
            TieKind::SharedPhone => "shared_phone",
            TieKind::CoTarget => "co_target",
            TieKind::Script => "same_script",
            TieKind::NamedTogether => "named_together",
            TieKind::SharedMention => "shared_mention",
            TieKind::NamesOther => "names_other",
            TieKind::SameHour => "same_hour",
            TieKind::SameDistrict => "same_district",
            TieKind::Kin => "kin",
        }
    }
}

/// A tie between two callers, with its weight in bits against chance.
#[derive(Debug, Clone, PartialEq)]
pub struct Tie {
    /// A caller (index into [`Callers::list`]).
    pub a: u32,
    /// The other.
    pub b: u32,
    /// Kind.
    pub kind: TieKind,
    /// How many shared phones, targets or narrative pairs.
    pub count: u32,
    /// −log₂ of the chance of this much between strangers.
    pub bits: f64,
    /// In words.
    pub detail: String,
    /// The calls that show the tie, for kinds whose calls no link records (the naming calls, the
    /// calls within hours of each other); empty for the others.
    pub calls: Vec<u32>,
}

/// Callers: resolved entities, joined when they share a phone under the same surname, or give one
/// rare full name.
#[derive(Debug, Default)]
pub struct Callers {
    /// Caller of each entity.
    pub of_entity: Vec<u32>,
    /// Entities of each caller.
    pub list: Vec<Vec<u32>>,
    /// Original calls (not transfer records) of each caller, in time order.
    pub calls: Vec<Vec<u32>>,
}

/// What was found, for the tables and the terminal.
#[derive(Debug, Clone)]
pub struct Lead {
    /// Rank-ordered id (`L0001` is the best).
    pub lead_id: String,
    /// Sum of the evidence bits.
    pub score: f64,
    /// Calls, in time order.
    pub calls: Vec<u32>,
    /// Entities of the members (interned), key members first.
    pub entities: Vec<u32>,
    /// Calls by others naming a member.
    pub reports: Vec<u32>,
    /// Degree and betweenness of each member caller, same order as `callers`.
    pub centrality: Vec<(u32, f64)>,
    /// Member callers, key members first.
    pub callers: Vec<u32>,
    /// Evidence sentences, the summary first.
    pub evidence: Vec<String>,
    /// Bits by kind of evidence (`shared_phone`, `co_target`, `same_script`, `named_by_others`).
    pub bits: BTreeMap<&'static str, f64>,
    /// Main category code.
    pub category: String,
    /// Distinct organisations and places targeted.
    pub targets: usize,
    /// Districts.
    pub districts: usize,
    /// First and last call.
    pub span: (i64, i64),
}

/// Bits of one report's naming of a caller (a `named_person` link's detail): a full name at the
/// rate two strangers share one; a surname at the chance that any of the callers who could have
/// fitted there (the count the detail gives) has that surname and sex, so that a surname among
/// a busy place's many callers says less than among a quiet one's few.
pub fn naming_bits(detail: &str, rates: &ChanceRates) -> f64 {
    if detail.contains("full name") {
        return rates.full_name_bits;
    }
    let could = f64::from(super::evidence::could_have_fitted(detail).unwrap_or(1).max(1));
    let one = (-rates.surname_bits).exp2();
    let any = 1.0 - (1.0 - one).powf(could);
    -any.max(one).log2()
}

/// log2 P(X ≥ k), X ~ Poisson(λ) (≤ 0).
pub fn log2_poisson_tail(k: u32, lambda: f64) -> f64 {
    // log2 P(X >= k), X ~ Poisson(lambda): sum the terms from k on in log space.
    if k == 0 {
        return 0.0;
    }
    if lambda <= 0.0 {
        return f64::NEG_INFINITY;
    }
    let ln_term = |i: u32| -> f64 { f64::from(i) * lambda.ln() - lambda - ln_factorial(i) };
    let first = ln_term(k);
    let mut sum = 0.0;
    for i in k..k + 200 {
        let t = (ln_term(i) - first).exp();
        sum += t;
        if t < 1e-12 {
            break;
        }
    }
    let ln_tail = (first + sum.ln()).min(0.0);
    ln_tail / std::f64::consts::LN_2
}

fn ln_factorial(n: u32) -> f64 {
    (1..=n).map(|i| f64::from(i).ln()).sum()
}

/// log₂ P(X ≥ k), X ~ Binomial(n, p) (≤ 0).
pub fn log2_binomial_tail(k: usize, n: usize, p: f64) -> f64 {
    if k == 0 {
        return 0.0;
    }
    if k > n || p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return 0.0;
    }
    let ln_choose = |n: usize, k: usize| ln_factorial(n as u32) - ln_factorial(k as u32) - ln_factorial((n - k) as u32);
    let ln_term = |i: usize| ln_choose(n, i) + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln();
    let first = ln_term(k);
    let sum: f64 = (k..=n).map(|i| (ln_term(i) - first).exp()).take_while(|t| *t > 1e-15).sum();
    (first + sum.ln()) / std::f64::consts::LN_2
}

/// A target of a call, within its category: the organisation it names (the branch in the call's
/// district), else its 500 m cell (shared only by calls within [`PLACE_WINDOW_DAYS`] of each other).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Target {
    Organisation(u32, u32, u32),
    Place((i32, i32), u32, i64),
}

impl Target {
    fn category(&self) -> u32 {
        match self {
            Target::Organisation(_, c, _) | Target::Place(_, c, _) => *c,
        }
    }
}

fn target(incidents: &Incidents, call: u32) -> Option<Target> {
    let x = &incidents.list[call as usize];
    match (x.organisation, x.cell) {
        // One brand has branches in several districts: the branch is the target.
        (Some(o), _) => Some(Target::Organisation(o, x.category, x.district.unwrap_or(NO_DISTRICT))),
        (None, Some(cell)) => Some(Target::Place(cell, x.category, 0)),
        _ => None,
    }
}

fn find(parent: &mut [u32], x: u32) -> u32 {
    let mut root = x;
    while parent[root as usize] != root {
        root = parent[root as usize];
    }
    let mut x = x;
    while parent[x as usize] != root {
        let next = parent[x as usize];
        parent[x as usize] = root;
        x = next;
    }
    root
}

/// What callers' names say about whether two entities could be one person.
struct NameSides<'a> {
    /// Full names (`full_names`) and their syllables, as read.
    incidents: &'a Incidents,
    /// Surnames (pinyin) each entity gave.
    surnames: Vec<Vec<u32>>,
    /// Each entity's sex where all its calls that tell agree.
    sex: Vec<Option<bool>>,
    /// Full names each entity gave on two calls or more: the name it goes by, not a slip.
    settled: Vec<Vec<u32>>,
}

impl<'a> NameSides<'a> {
    fn of(incidents: &'a Incidents) -> NameSides<'a> {
        let n = incidents.entities.len();
        let mut surnames: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut sex: Vec<Option<bool>> = vec![None; n];
        let mut mixed = vec![false; n];
        let mut given: HashMap<(u32, u32), u32> = HashMap::new();
        for x in &incidents.list {
            let e = x.entity as usize;
            if let Some(f) = x.caller.female {
                match sex[e] {
                    Some(s) if s != f => mixed[e] = true,
                    _ => sex[e] = Some(f),
                }
            }
            if let Some(s) = x.caller.surname
                && !surnames[e].contains(&s)
            {
                surnames[e].push(s);
            }
            // Transfer records repeat their source's name: one giving, not two.
            if let (Some(f), None) = (x.caller.full, x.source) {
                *given.entry((x.entity, f)).or_default() += 1;
            }
        }
        for (s, m) in sex.iter_mut().zip(&mixed) {
            if *m {
                *s = None;
            }
        }
        let mut settled: Vec<Vec<u32>> = vec![Vec::new(); n];
        let mut keys: Vec<_> = given.into_iter().filter(|&(_, count)| count >= 2).map(|(k, _)| k).collect();
        keys.sort_unstable();
        for (e, f) in keys {
            settled[e as usize].push(f);
        }
        NameSides { incidents, surnames, sex, settled }
    }

    /// The full names an entity gave.
    fn full(&self, e: u32) -> &[u32] {
        self.incidents.full_names.get(&e).map_or(&[], Vec::as_slice)
    }

    /// Whether two full names could be one name mistyped: three syllables or more each, one of
    /// them different (卢彦亮 and 卢彦靓). Two-character names that differ (胡丽, 胡静) are two
    /// names; so are names of different length.
    fn slip(&self, a: u32, b: u32) -> bool {
        let syllables = |f: &u32| self.incidents.syllables.get(f).map_or(&[][..], Vec::as_slice);
        self.full(a).iter().map(syllables).any(|p| {
            self.full(b)
                .iter()
                .map(syllables)
                .any(|q| p.len() >= 3 && p.len() == q.len() && p.iter().zip(q).filter(|(s, t)| s != t).count() == 1)
        })
    }

    fn same_surname(&self, a: u32, b: u32) -> bool {
        self.surnames[a as usize].iter().any(|s| self.surnames[b as usize].contains(s))
    }

    fn share_full_name(&self, a: u32, b: u32) -> bool {
        self.full(a).iter().any(|f| self.full(b).contains(f))
    }

    /// Whether two entities' names say they are two people: each gave full names, none in common,
    /// and they are of different sex (肖斌生 and 肖红霞) or each goes by its own name on two calls
    /// or more (胡丽 and 胡静, sisters on one phone) and neither name could be the other mistyped
    /// ([`NameSides::slip`]). One person gives another name now and then, so a new name given once
    /// does not part them.
    fn conflict(&self, a: u32, b: u32) -> bool {
        let (x, y) = (self.full(a), self.full(b));
        if x.is_empty() || y.is_empty() || x.iter().any(|f| y.contains(f)) {
            return false;
        }
        let other_sex = matches!((self.sex[a as usize], self.sex[b as usize]), (Some(p), Some(q)) if p != q);
        other_sex || (!self.settled[a as usize].is_empty() && !self.settled[b as usize].is_empty() && !self.slip(a, b))
    }
}

/// Union-find of entities into callers that never puts two entities whose names conflict into one.
struct Joins {
    parent: Vec<u32>,
    /// Members of each root.
    members: HashMap<u32, Vec<u32>>,
}

impl Joins {
    fn new(n: usize) -> Joins {
        Joins { parent: (0..n as u32).collect(), members: HashMap::new() }
    }

    fn root(&mut self, x: u32) -> u32 {
        find(&mut self.parent, x)
    }

    fn members(&self, root: u32) -> Vec<u32> {
        self.members.get(&root).cloned().unwrap_or_else(|| vec![root])
    }

    /// Joins the callers of `a` and `b` unless that would put two people in one.
    fn join(&mut self, a: u32, b: u32, sides: &NameSides) {
        let (ra, rb) = (self.root(a), self.root(b));
        if ra == rb {
            return;
        }
        let (ma, mb) = (self.members(ra), self.members(rb));
        if ma.iter().any(|&x| mb.iter().any(|&y| sides.conflict(x, y))) {
            return;
        }
        let (keep, gone) = (ra.min(rb), ra.max(rb));
        self.parent[gone as usize] = keep;
        self.members.remove(&ra);
        self.members.remove(&rb);
        let mut all = ma;
        all.extend(mb);
        self.members.insert(keep, all);
    }
}

impl Callers {
    /// Groups entities into callers: two entities on one phone whose names share a surname are
    /// taken for one person split by resolution, not two people acting together, unless their
    /// names say they are two people (see [`NameSides::conflict`]); an entity that gave no full
    /// name joins the one named caller of its surname on its phones, and none when there are two.
    pub fn build(incidents: &Incidents) -> Callers {
        let n = incidents.entities.len();
        let sides = NameSides::of(incidents);
        let mut phone_entities: HashMap<u32, Vec<u32>> = HashMap::new();
        for x in &incidents.list {
            if let Some(p) = x.phone {
                let list = phone_entities.entry(p).or_default();
                if !list.contains(&x.entity) {
                    list.push(x.entity);
                }
            }
        }
        let mut joins = Joins::new(n);
        let mut phones: Vec<&Vec<u32>> = phone_entities.values().filter(|l| l.len() > 1).collect();
        phones.sort();
        let named = |e: u32| incidents.full_names.contains_key(&e);
        // Named entities first: one name in common joins before a new name does.
        for shared_name_first in [true, false] {
            for list in &phones {
                for (i, &a) in list.iter().enumerate() {
                    for &b in &list[i + 1..] {
                        if !(named(a) && named(b) && sides.same_surname(a, b)) {
                            continue;
                        }
                        if sides.share_full_name(a, b) == shared_name_first {
                            joins.join(a, b, &sides);
                        }
                    }
                }
            }
        }
        // One full name that few resolved callers give, in calls of a category both make: one person
        // on several phones that resolution kept apart (a new phone, a typo of the number).
        let mut categories: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); n];
        for x in &incidents.list {
            categories[x.entity as usize].insert(x.category);
        }
        let entities_of_name = incidents.entities_by_full_name();
        for list in entities_of_name.values().filter(|l| (2..=RARE_NAME_ENTITIES).contains(&l.len())) {
            for (i, &a) in list.iter().enumerate() {
                for &b in &list[i + 1..] {
                    if !categories[a as usize].is_disjoint(&categories[b as usize]) {
                        joins.join(a, b, &sides);
                    }
                }
            }
        }
        // One full name given by several of a category's few serial claimants (three targets or
        // more each): one person on several phones under made-up names now and then, whom
        // strangers of that name are unlikely to be among so few. The chance that m − 1 of the
        // other serial claimants give the name is a Poisson tail of the name's share of named
        // entities times their number; under 2⁻⁸ (a tie's worth), the m are joined.
        {
            let named_entities = incidents.full_names.len().max(1) as f64;
            let mut targets: HashMap<(u32, u32), BTreeSet<Target>> = HashMap::new();
            for (call, x) in incidents.list.iter().enumerate() {
                if x.source.is_none()
                    && let Some(t) = target(incidents, call as u32)
                {
                    targets.entry((joins.root(x.entity), x.category)).or_default().insert(t);
                }
            }
            let mut serial_in: HashMap<u32, usize> = HashMap::new();
            let mut serial: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
            for (&(root, category), list) in &targets {
                if list.len() >= 3 {
                    *serial_in.entry(category).or_default() += 1;
                    for e in joins.members(root) {
                        for &f in sides.full(e) {
                            serial.entry((category, f)).or_default().push(root);
                        }
                    }
                }
            }
            for ((category, f), mut roots) in serial {
                roots.sort_unstable();
                roots.dedup();
                let share = entities_of_name.get(&f).map_or(1, Vec::len) as f64 / named_entities;
                let others = serial_in[&category].saturating_sub(1).max(1) as f64;
                let m = roots.len() as u32;
                if m >= 2 && -log2_poisson_tail(m - 1, share * others) >= MIN_TIE_BITS {
                    for &b in &roots[1..] {
                        joins.join(roots[0], b, &sides);
                    }
                }
            }
        }
        // Entities that gave a surname but no full name (王先生): each joins the named caller of
        // its surname on its phones when there is one; with two (a family's shared phone) it
        // could be either, so it joins neither; with none, the unnamed ones of the phone join.
        let mut candidates: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
        for list in &phones {
            for &a in list.iter().filter(|&&a| !named(a)) {
                for &b in list.iter().filter(|&&b| b != a && sides.same_surname(a, b)) {
                    candidates.entry(a).or_default().insert(b);
                }
            }
        }
        for (&a, others) in &candidates {
            let roots: BTreeSet<u32> = others.iter().filter(|&&b| named(b)).map(|&b| joins.root(b)).collect();
            match roots.len() {
                0 => {
                    for &b in others {
                        joins.join(a, b, &sides);
                    }
                }
                1 => {
                    joins.join(a, *roots.first().expect("one root"), &sides);
                }
                _ => {}
            }
        }
        let mut parent = joins.parent;
        let mut number: HashMap<u32, u32> = HashMap::new();
        let mut callers = Callers { of_entity: vec![0; n], ..Callers::default() };
        for e in 0..n as u32 {
            let root = find(&mut parent, e);
            let next = number.len() as u32;
            let c = *number.entry(root).or_insert(next);
            if c as usize == callers.list.len() {
                callers.list.push(Vec::new());
                callers.calls.push(Vec::new());
            }
            callers.list[c as usize].push(e);
            callers.of_entity[e as usize] = c;
        }
        let mut order: Vec<u32> = (0..incidents.list.len() as u32).collect();
        order.sort_by_key(|&c| (incidents.list[c as usize].time, c));
        for c in order {
            let x = &incidents.list[c as usize];
            if x.source.is_none() {
                callers.calls[callers.of_entity[x.entity as usize] as usize].push(c);
            }
        }
        callers
    }

    /// The caller of a call.
    pub fn of_call(&self, incidents: &Incidents, call: u32) -> u32 {
        self.of_entity[incidents.list[call as usize].entity as usize]
    }
}

/// Chance rates the bits are measured against, estimated from the whole warehouse.
#[derive(Debug, Clone)]
pub struct ChanceRates {
    /// Bits of one phone shared by two callers whose names say they are different people.
    pub shared_phone_bits: f64,
    /// Bits of one near-identical narrative pair between two callers about different targets.
    pub script_pair_bits: f64,
    /// Bits of a report naming a caller by full name.
    pub full_name_bits: f64,
    /// Bits of a report naming a caller by surname (and sex).
    pub surname_bits: f64,
    /// Bits of one plate, phone or ID number that calls of two callers name, by kind of identifier
    /// (plate, phone, ID number).
    pub mention_bits: [f64; 3],
    /// Bits of each identifier (plate, phone or ID number) that ties callers: −log₂ of the share
    /// of its kind named by as many callers or more, or in as many calls or more, whichever is
    /// smaller. One identifier is one coincidence, however
    /// many of a group's pairs it ties, so a lead counts it once.
    pub identifier_bits: HashMap<u32, f64>,
}

impl ChanceRates {
    /// The rates as one JSON object, for `link_runs.baseline`: what this warehouse's strangers do,
    /// against which every tie of the run was weighed.
    pub fn describe(&self) -> String {
        serde_json::json!({
            "shared_phone_bits": self.shared_phone_bits,
            "script_pair_bits": self.script_pair_bits,
            "full_name_bits": self.full_name_bits,
            "surname_bits": self.surname_bits,
            "plate_bits": self.mention_bits[0],
            "phone_mention_bits": self.mention_bits[1],
            "id_number_bits": self.mention_bits[2],
        })
        .to_string()
    }
}

/// Every tie between callers that reaches its threshold.
pub fn ties(incidents: &Incidents, callers: &Callers, links: &[CallLink]) -> (Vec<Tie>, ChanceRates) {
    let mut out = Vec::new();
    let shared_phone_bits = shared_phone_ties(incidents, callers, &mut out);

    // The same targets: overlap against what popularity explains.
    let mut targets_of: Vec<Vec<Target>> = vec![Vec::new(); callers.list.len()];
    for (c, calls) in callers.calls.iter().enumerate() {
        let mut t: Vec<Target> = calls.iter().filter_map(|&call| target(incidents, call)).collect();
        t.sort_unstable();
        t.dedup();
        targets_of[c] = t;
    }
    // When each caller called about each place.
    let mut place_times: HashMap<Target, HashMap<u32, Vec<i64>>> = HashMap::new();
    let mut first_call = i64::MAX;
    let mut last_call = i64::MIN;
    for (c, calls) in callers.calls.iter().enumerate() {
        for &call in calls {
            let time = incidents.list[call as usize].time;
            first_call = first_call.min(time);
            last_call = last_call.max(time);
            if let Some(t @ Target::Place(..)) = target(incidents, call) {
                place_times.entry(t).or_default().entry(c as u32).or_default().push(time);
            }
        }
    }
    // The share of the period a window around one call covers.
    let span = (last_call - first_call).max(1) as f64;
    let place_window = ((2 * PLACE_WINDOW_DAYS * DAY) as f64 / span).min(1.0);
    let mut target_callers: HashMap<Target, Vec<u32>> = HashMap::new();
    for (c, list) in targets_of.iter().enumerate() {
        let mut per_category: HashMap<u32, usize> = HashMap::new();
        for t in list {
            *per_category.entry(t.category()).or_default() += 1;
        }
        for &t in list {
            if per_category[&t.category()] <= MAX_SERIAL_TARGETS {
                target_callers.entry(t).or_default().push(c as u32);
            }
        }
    }
    // The chance model. A target t of category c lies in district d (where most of its calls
    // are); a call of category c in district d lands on t with probability π(t) = calls on t /
    // calls of c in d. A caller with n calls of c in d has t among its targets with probability
    // p(t) = 1 − (1 − π(t))ⁿ. Given A's targets, the overlap expected of an unrelated B is
    // Σ_{t ∈ A} p_B(t); the larger of the two conditionings is used, so that callers who call a
    // lot in one district are not taken for accomplices of their neighbours.
    let mut target_calls: HashMap<Target, (f64, HashMap<u32, u32>)> = HashMap::new();
    let mut calls_in: HashMap<(u32, u32), f64> = HashMap::new();
    let mut caller_calls_in: Vec<Vec<((u32, u32), u32)>> = vec![Vec::new(); callers.list.len()];
    for (c, calls) in callers.calls.iter().enumerate() {
        for &call in calls {
            let x = &incidents.list[call as usize];
            let district = x.district.unwrap_or(NO_DISTRICT);
            if let Some(t) = target(incidents, call) {
                let slot = target_calls.entry(t).or_default();
                slot.0 += 1.0;
                *slot.1.entry(district).or_default() += 1;
            }
            *calls_in.entry((x.category, district)).or_default() += 1.0;
            let key = (x.category, district);
            match caller_calls_in[c].iter_mut().find(|e| e.0 == key) {
                Some(e) => e.1 += 1,
                None => caller_calls_in[c].push((key, 1)),
            }
        }
    }
    let mut calls_of_category: HashMap<u32, f64> = HashMap::new();
    for ((c, _), n) in &calls_in {
        *calls_of_category.entry(*c).or_default() += n;
    }
    // Per target: its (category, district) key, π within the district and π city-wide.
    let target_chance: HashMap<Target, ((u32, u32), f64, f64)> = target_calls
        .into_iter()
        .map(|(t, (n, districts))| {
            let district =
                districts.into_iter().max_by_key(|(d, k)| (*k, std::cmp::Reverse(*d))).map_or(NO_DISTRICT, |x| x.0);
            let key = (t.category(), district);
            let local = (n / calls_in.get(&key).copied().unwrap_or(n).max(1.0)).min(1.0);
            let city = (n / calls_of_category.get(&t.category()).copied().unwrap_or(n).max(1.0)).min(1.0);
            (t, (key, local, city))
        })
        .collect();
    let caller_category_calls: Vec<HashMap<u32, u32>> = caller_calls_in
        .iter()
        .map(|list| {
            let mut m: HashMap<u32, u32> = HashMap::new();
            for ((c, _), n) in list {
                *m.entry(*c).or_default() += n;
            }
            m
        })
        .collect();
    // The larger of the city-wide and the in-district chance, so that neither a caller who
    // travels nor one who stays near home is taken for an accomplice by chance.
    let expected_hits = |of: u32, given: u32, category: u32| -> f64 {
        targets_of[given as usize]
            .iter()
            .filter(|t| t.category() == category)
            .map(|t| {
                let (key, local, city) = target_chance[t];
                let n_local = caller_calls_in[of as usize].iter().find(|e| e.0 == key).map_or(0, |e| e.1);
                let n_city = caller_category_calls[of as usize].get(&key.0).copied().unwrap_or(0);
                let p_local = 1.0 - (1.0 - local).powi(n_local as i32);
                let p_city = 1.0 - (1.0 - city).powi(n_city as i32);
                // A place counts only within the window of the other's call there.
                let window = if matches!(t, Target::Place(..)) { place_window } else { 1.0 };
                p_local.max(p_city) * window
            })
            .sum()
    };
    let mut pairs: Vec<(u32, u32, u32)> = Vec::new();
    let window = PLACE_WINDOW_DAYS * DAY;
    for (t, list) in target_callers.iter().filter(|(_, l)| l.len() > 1 && l.len() <= MAX_TARGET_CALLERS) {
        let times = place_times.get(t);
        for (i, &a) in list.iter().enumerate() {
            for &b in &list[i + 1..] {
                if let Some(times) = times {
                    let (ta, tb) = (&times[&a], &times[&b]);
                    if !ta.iter().any(|x| tb.iter().any(|y| (x - y).abs() <= window)) {
                        continue;
                    }
                }
                let (a, b) = (a.min(b), a.max(b));
                pairs.push((a, b, t.category()));
            }
        }
    }
    {
        use rayon::slice::ParallelSliceMut;
        pairs.par_sort_unstable();
    }
    // Overlaps are counted within one category, against the chance of that category's targets.
    let mut overlaps: Vec<(u32, u32, u32, u32)> = Vec::new();
    let mut i = 0;
    while i < pairs.len() {
        let mut j = i + 1;
        while j < pairs.len() && pairs[j] == pairs[i] {
            j += 1;
        }
        let k = (j - i) as u32;
        overlaps.push((pairs[i].0, pairs[i].1, pairs[i].2, k));
        i = j;
    }
    // A group that works two categories (clinics and letting agents) shares one target in each:
    // such overlaps are counted over the categories together, each against its own chance.
    let mut across: Vec<(u32, u32, u32, Vec<u32>)> = Vec::new();
    for run in overlaps.chunk_by(|x, y| (x.0, x.1) == (y.0, y.1)) {
        if run.len() >= 2 {
            let k = run.iter().map(|o| o.3).sum();
            across.push((run[0].0, run[0].1, k, run.iter().map(|o| o.2).collect()));
        }
    }
    // A tie that stands out among the pairs of its category that overlap at all is kept on its
    // own: where few callers share a target (travelling claimants), a rarer overlap needs fewer
    // bits than where thousands of neighbours do. Every pair that shares one target could have
    // shared two by chance, so all of them count as tried, not only those that did.
    let mut candidates: HashMap<u32, f64> = HashMap::new();
    for o in &overlaps {
        *candidates.entry(o.2).or_default() += 1.0;
    }
    let mut significant: HashSet<(u32, u32)> = HashSet::new();
    let serial = SerialTail::build(incidents, callers);
    // First and last call of a caller in a category.
    let span_in = |c: u32, category: u32| -> (i64, i64) {
        let times =
            callers.calls[c as usize].iter().map(|&x| &incidents.list[x as usize]).filter(|x| x.category == category);
        times.fold((i64::MAX, i64::MIN), |(lo, hi), x| (lo.min(x.time), hi.max(x.time)))
    };
    let targets_in = |c: u32, category: u32| targets_of[c as usize].iter().filter(|t| t.category() == category).count();
    for (a, b, category, k) in overlaps {
        // Two of the category's few most serial claimants sharing targets: their volume explains
        // the overlap, but hardly anybody claims so widely, and rarely two at once.
        let fewer = targets_in(a, category).min(targets_in(b, category));
        let serial_pair = fewer >= 3
            && serial.at_least(category, fewer) <= MAX_SERIAL_PEERS
            && one_campaign(span_in(a, category), span_in(b, category), span);
        // One target in common counts only between two such claimants (checked first: most pairs
        // that overlap at all share one target), and only where chance would not give it them.
        if k == 1 && !serial_pair {
            continue;
        }
        let lambda = expected_hits(a, b, category).max(expected_hits(b, a, category));
        let bits = (-log2_poisson_tail(k, lambda)).min(MAX_TIE_BITS);
        if k == 1 && bits < MIN_ONE_TARGET_BITS {
            continue;
        }
        let stands_out = CO_TARGET_MARGIN_BITS + candidates[&category].log2();
        if serial_pair {
            significant.insert((a, b));
            out.push(Tie {
                a,
                b,
                kind: TieKind::CoTarget,
                count: k,
                // What the overlap itself says: the tie joins them, the group's serial claims
                // are weighed once, as the group's.
                bits: bits.max(0.5),
                detail: format!(
                    "{k} targets in common where chance explains {lambda:.2}; both among the {} callers with {fewer} or more targets of the category",
                    serial.at_least(category, fewer)
                ),
                calls: Vec::new(),
            });
            continue;
        }
        if bits >= MIN_CO_TARGET_BITS {
            if bits >= stands_out {
                significant.insert((a, b));
            }
            out.push(Tie {
                a,
                b,
                kind: TieKind::CoTarget,
                count: k,
                bits,
                detail: format!("{k} targets in common where chance explains {lambda:.2}"),
                calls: Vec::new(),
            });
        }
    }

    for (a, b, k, categories) in across {
        let lambda: f64 = categories.iter().map(|&c| expected_hits(a, b, c).max(expected_hits(b, a, c))).sum();
        let bits = (-log2_poisson_tail(k, lambda)).min(MAX_TIE_BITS);
        // Only where the categories together say more than the best of them alone.
        let best = out
            .iter()
            .filter(|t| t.kind == TieKind::CoTarget && (t.a, t.b) == (a, b))
            .map(|t| t.bits)
            .fold(0.0, f64::max);
        if bits < MIN_CO_TARGET_BITS || bits <= best {
            continue;
        }
        out.retain(|t| !(t.kind == TieKind::CoTarget && (t.a, t.b) == (a, b)));
        let pairs_of: f64 = categories.iter().map(|c| candidates.get(c).copied().unwrap_or(1.0)).sum();
        if bits >= CO_TARGET_MARGIN_BITS + pairs_of.log2() {
            significant.insert((a, b));
        }
        out.push(Tie {
            a,
            b,
            kind: TieKind::CoTarget,
            count: k,
            bits,
            detail: format!(
                "{k} targets in common over {} categories where chance explains {lambda:.2}",
                categories.len()
            ),
            calls: Vec::new(),
        });
    }

    let districts =
        Districts { calls_in: &calls_in, calls_of_category: &calls_of_category, caller_calls_in: &caller_calls_in };
    for t in district_ties(incidents, callers, &targets_of, &districts) {
        significant.insert((t.a, t.b));
        out.push(t);
    }

    let script_pair_bits = script_ties(incidents, callers, links, &mut out);

    // How often a name fits by chance.
    let mut full: BTreeMap<u32, f64> = BTreeMap::new();
    let mut surname: BTreeMap<u32, f64> = BTreeMap::new();
    for x in &incidents.list {
        if let Some(s) = x.caller.surname {
            *surname.entry(s).or_default() += 1.0;
            if let Some(f) = x.caller.full {
                *full.entry(f).or_default() += 1.0;
            }
        }
    }
    let collision = |counts: &BTreeMap<u32, f64>| -> f64 {
        let total: f64 = counts.values().sum();
        if total == 0.0 { 1.0 } else { counts.values().map(|n| (n / total).powi(2)).sum::<f64>() }
    };
    let (mention_ties, mention_bits, identifier_bits) = mention_ties(incidents, callers);
    out.extend(mention_ties);
    out.extend(same_hour_ties(incidents, callers));
    for t in kin_ties(incidents, callers) {
        significant.insert((t.a, t.b));
        out.push(t);
    }
    let rates = ChanceRates {
        shared_phone_bits,
        script_pair_bits,
        full_name_bits: (-collision(&full).log2()).clamp(1.0, 20.0),
        surname_bits: (-(collision(&surname) / 2.0).log2()).clamp(1.0, 20.0),
        mention_bits,
        identifier_bits,
    };

    // Callers who both fit one report's named person, each a repeat claimant (two or more calls)
    // in the category of the call that fits.
    let mut fitting: BTreeMap<u32, Vec<(u32, u32, bool, f64)>> = BTreeMap::new();
    for link in links.iter().filter(|l| l.evidence == Evidence::NamedPerson) {
        let c = callers.of_call(incidents, link.a);
        let category = incidents.list[link.a as usize].category;
        let repeat =
            callers.calls[c as usize].iter().filter(|&&x| incidents.list[x as usize].category == category).count() >= 2;
        if repeat {
            let bits = naming_bits(&link.detail, &rates);
            fitting.entry(link.b).or_default().push((c, category, link.detail.contains("full name"), bits));
        }
    }
    let mut together: BTreeMap<(u32, u32), (u32, f64)> = BTreeMap::new();
    for list in fitting.values() {
        for (i, x) in list.iter().enumerate() {
            for y in &list[i + 1..] {
                if x.0 != y.0 && x.1 == y.1 {
                    let bits = if x.2 && y.2 { rates.full_name_bits } else { x.3.min(y.3) };
                    let slot = together.entry((x.0.min(y.0), x.0.max(y.0))).or_default();
                    slot.0 += 1;
                    slot.1 += bits;
                }
            }
        }
    }
    // A repeat caller who names another repeat caller of the same category by full name.
    let mut names: BTreeMap<(u32, u32), Vec<u32>> = BTreeMap::new();
    for (call, named) in full_name_mentions(incidents, callers, links) {
        let by = callers.of_call(incidents, call);
        let category = incidents.list[call as usize].category;
        let repeat = |c: u32| {
            callers.calls[c as usize].iter().filter(|&&x| incidents.list[x as usize].category == category).count() >= 2
        };
        if named != by && repeat(named) && repeat(by) {
            names.entry((named.min(by), named.max(by))).or_default().push(call);
        }
    }
    for ((a, b), calls) in names {
        let n = calls.len() as u32;
        out.push(Tie {
            a,
            b,
            kind: TieKind::NamesOther,
            count: n,
            bits: (f64::from(n) * rates.full_name_bits).min(MAX_TIE_BITS),
            detail: format!("one names the other by full name in {n} call(s)"),
            calls,
        });
    }
    for ((a, b), (n, bits)) in together {
        out.push(Tie {
            a,
            b,
            kind: TieKind::NamedTogether,
            count: n,
            bits: bits.min(MAX_TIE_BITS),
            detail: format!("both fit the person {n} report(s) name"),
            calls: Vec::new(),
        });
    }
    // Keep the pairs whose evidence adds up.
    let mut total: HashMap<(u32, u32), f64> = HashMap::new();
    for t in &out {
        *total.entry((t.a, t.b)).or_default() += t.bits;
    }
    // A family by home district, among callers no other evidence already places with others.
    let mut placed: HashMap<u32, Vec<u32>> = HashMap::new();
    for (&(a, b), &bits) in &total {
        if bits >= MIN_TIE_BITS || significant.contains(&(a, b)) {
            placed.entry(a).or_default().push(b);
            placed.entry(b).or_default().push(a);
        }
    }
    for t in home_kin_ties(incidents, callers, &placed) {
        *total.entry((t.a, t.b)).or_default() += t.bits;
        significant.insert((t.a, t.b));
        out.push(t);
    }
    out.retain(|t| total[&(t.a, t.b)] >= MIN_TIE_BITS || significant.contains(&(t.a, t.b)));
    (out, rates)
}

/// Fewest serial claimants of a category (three targets or more each) whose home district is one
/// that make a gathering there.
const MIN_DISTRICT_CLAIMANTS: usize = 3;

/// Most: more serial claimants than this at home in one district are its ordinary trade (or
/// several groups), and joining them all would make nobody's lead.
const MAX_DISTRICT_CLAIMANTS: usize = 12;

/// Calls per (category, district), per category, and per caller and (category, district).
struct Districts<'a> {
    calls_in: &'a HashMap<(u32, u32), f64>,
    calls_of_category: &'a HashMap<u32, f64>,
    caller_calls_in: &'a [Vec<((u32, u32), u32)>],
}

/// Serial claimants of a category gathered in one district (a team working one area, each member
/// claiming against different businesses): a caller's home district in a category is where more
/// than half its calls of the category are; of the category's S serial claimants, k at home in
/// one district whose claims overlap in time, where the district's share p of the category's
/// other calls explains S·p, weigh −log₂ P(Binomial(S, p) ≥ k). A gathering that stands out among
/// all (category, district) cells holding a serial claimant, by the co-targeting margin, ties its
/// members in a chain (first claim first) sharing its bits, so that the group's lead counts them
/// once.
fn district_ties(
    incidents: &Incidents,
    callers: &Callers,
    targets_of: &[Vec<Target>],
    districts: &Districts<'_>,
) -> Vec<Tie> {
    let mut serial_in: HashMap<u32, usize> = HashMap::new();
    // A serial claimant and the span of its claims in the category.
    type Claimant = (u32, (i64, i64));
    let mut home: BTreeMap<(u32, u32), Vec<Claimant>> = BTreeMap::new();
    for (c, list) in targets_of.iter().enumerate() {
        // Organisations only: a caller who reports one place again a month later has a second
        // place target, not a second business.
        let mut per_category: BTreeMap<u32, usize> = BTreeMap::new();
        for t in list.iter().filter(|t| matches!(t, Target::Organisation(..))) {
            *per_category.entry(t.category()).or_default() += 1;
        }
        for (&category, &n) in &per_category {
            if n < 3 {
                continue;
            }
            *serial_in.entry(category).or_default() += 1;
            if n > MAX_SERIAL_TARGETS {
                continue;
            }
            let mine = districts.caller_calls_in[c].iter().filter(|e| e.0.0 == category);
            let all: u32 = mine.clone().map(|e| e.1).sum();
            let Some(best) = mine.filter(|e| e.0.1 != NO_DISTRICT).max_by_key(|e| (e.1, std::cmp::Reverse(e.0.1)))
            else {
                continue;
            };
            if 2 * best.1 > all {
                let times = callers.calls[c]
                    .iter()
                    .map(|&x| &incidents.list[x as usize])
                    .filter(|x| x.category == category)
                    .map(|x| x.time);
                let span = times.fold((i64::MAX, i64::MIN), |(lo, hi), t| (lo.min(t), hi.max(t)));
                home.entry(best.0).or_default().push((c as u32, span));
            }
        }
    }
    let stands_out = CO_TARGET_MARGIN_BITS + (home.len().max(1) as f64).log2();
    let mut out = Vec::new();
    for ((category, district), mut members) in home {
        // Claimants whose claims overlap in time, in runs: a gathering is of one period.
        members.sort_by_key(|m| (m.1.0, m.0));
        let mut runs: Vec<Vec<Claimant>> = Vec::new();
        for m in members {
            match runs.last_mut() {
                Some(run) if m.1.0 <= run.iter().map(|x| x.1.1).max().unwrap_or(i64::MIN) => run.push(m),
                _ => runs.push(vec![m]),
            }
        }
        let serial = serial_in[&category];
        for run in runs.iter().filter(|r| (MIN_DISTRICT_CLAIMANTS..=MAX_DISTRICT_CLAIMANTS).contains(&r.len())) {
            let calls_of = |c: u32, here: bool| -> f64 {
                let calls = districts.caller_calls_in[c as usize].iter();
                let wanted = calls.filter(|e| e.0.0 == category && (!here || e.0.1 == district));
                wanted.map(|e| f64::from(e.1)).sum()
            };
            let theirs_here: f64 = run.iter().map(|m| calls_of(m.0, true)).sum();
            let theirs: f64 = run.iter().map(|m| calls_of(m.0, false)).sum();
            let here = districts.calls_in.get(&(category, district)).copied().unwrap_or(0.0) - theirs_here;
            let all = districts.calls_of_category.get(&category).copied().unwrap_or(0.0) - theirs;
            let p = ((here.max(0.0) + 1.0) / (all.max(0.0) + 1.0)).min(1.0);
            let k = run.len();
            let bits = (-log2_binomial_tail(k, serial.max(k), p)).min(MAX_TIE_BITS);
            if bits < stands_out {
                continue;
            }
            let expected = serial as f64 * p;
            for pair in run.windows(2) {
                let (a, b) = (pair[0].0.min(pair[1].0), pair[0].0.max(pair[1].0));
                out.push(Tie {
                    a,
                    b,
                    kind: TieKind::SameDistrict,
                    count: 1,
                    bits: bits / (k - 1) as f64,
                    detail: format!(
                        "both among {k} of the category's {serial} serial claimants at home in one district, where its share explains {expected:.1}"
                    ),
                    calls: Vec::new(),
                });
            }
        }
    }
    out
}

/// A full name the calls of more callers than this hold is a word or a public figure, not a
/// person somebody in the group names (a name such as 高峰 inside 高峰期).
const MAX_NAMING_CALLERS: usize = 12;

/// Every (call, caller) where the call names the caller by full name: after a naming cue and
/// fitting the report's place or organisation (a named-person link), or anywhere in its words when
/// at most [`RARE_NAME_ENTITIES`] resolved callers give that name and few callers' calls hold it.
fn full_name_mentions(incidents: &Incidents, callers: &Callers, links: &[CallLink]) -> BTreeSet<(u32, u32)> {
    let mut out: BTreeSet<(u32, u32)> = links
        .iter()
        .filter(|l| l.evidence == Evidence::NamedPerson && l.detail.contains("full name"))
        .map(|l| (l.b, callers.of_call(incidents, l.a)))
        .collect();
    let entities_of_name = incidents.entities_by_full_name();
    let mut naming_callers: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for (&call, names) in &incidents.name_mentions {
        for &f in names {
            naming_callers.entry(f).or_default().insert(callers.of_call(incidents, call));
        }
    }
    for (&call, names) in &incidents.name_mentions {
        for f in names {
            let Some(entities) = entities_of_name.get(f) else { continue };
            if entities.len() > RARE_NAME_ENTITIES || naming_callers[f].len() > MAX_NAMING_CALLERS {
                continue;
            }
            out.extend(entities.iter().map(|&e| (call, callers.of_entity[e as usize])));
        }
    }
    out
}

/// Ties of callers who share a phone, each weighed by how rare sharing a phone is here; returns
/// that weight in bits.
fn shared_phone_ties(incidents: &Incidents, callers: &Callers, out: &mut Vec<Tie>) -> f64 {
    // Shared phones between callers.
    let mut phone_callers: HashMap<u32, Vec<u32>> = HashMap::new();
    for x in &incidents.list {
        if let Some(p) = x.phone {
            let c = callers.of_entity[x.entity as usize];
            let list = phone_callers.entry(p).or_default();
            if !list.contains(&c) {
                list.push(c);
            }
        }
    }
    let shared = phone_callers.values().filter(|l| l.len() > 1).count();
    let share = (shared as f64 / phone_callers.len().max(1) as f64).max(1e-6);
    let shared_phone_bits = (-share.log2()).clamp(2.0, 12.0);
    // Each phone two callers share is a tie between them (a lead counts each phone once per
    // caller beyond the first).
    let mut phone_pairs: HashMap<(u32, u32), (u32, f64)> = HashMap::new();
    for list in phone_callers.values().filter(|l| l.len() > 1 && l.len() <= 20) {
        let share = shared_phone_bits;
        for (i, &a) in list.iter().enumerate() {
            for &b in &list[i + 1..] {
                let slot = phone_pairs.entry((a.min(b), a.max(b))).or_default();
                slot.0 += 1;
                slot.1 += share;
            }
        }
    }
    let mut phone_pairs: Vec<((u32, u32), (u32, f64))> = phone_pairs.into_iter().collect();
    phone_pairs.sort_unstable_by_key(|x| x.0);
    for ((a, b), (n, bits)) in phone_pairs {
        out.push(Tie {
            a,
            b,
            kind: TieKind::SharedPhone,
            count: n,
            bits,
            detail: format!("{n} phone(s) in common"),
            calls: Vec::new(),
        });
    }
    shared_phone_bits
}

/// Two callers, the lower index first.
type CallerPair = (u32, u32);

/// A clause on more calls than this is one caller's habit or the category's wording, too common
/// to pair every two of its calls.
const MAX_PHRASE_CALLS: usize = 200;

/// Ties of callers whose narratives are near-identical (or repeat a rare clause word for word)
/// about different targets far apart,
/// weighed against how often the category's templates make strangers' narratives alike; returns
/// the warehouse-wide rate of such pairs in bits.
fn script_ties(incidents: &Incidents, callers: &Callers, links: &[CallLink], out: &mut Vec<Tie>) -> f64 {
    // Near-identical narratives about different targets far apart. Templates make strangers'
    // narratives alike too, so the overlap is weighed against the rate of such pairs in the
    // category: λ = Σ_c n_A(c) · n_B(c) · q(c), q(c) = such pairs / pairs of calls of c.
    // Pairs of calls alike: near-identical narratives, or narratives that repeat a clause few
    // callers use, word for word.
    let mut alike: BTreeSet<(u32, u32)> = links
        .iter()
        .filter(|l| l.evidence == Evidence::SimilarNarrative)
        .map(|l| (l.a.min(l.b), l.a.max(l.b)))
        .collect();
    // Whole narratives alike: a template's popularity shows in these; a clause copied as a habit
    // (below) is rare wording already.
    let near = alike.clone();
    let mut calls_of_phrase: HashMap<u64, Vec<u32>> = HashMap::new();
    for (&call, phrases) in &incidents.phrases {
        for &h in phrases {
            calls_of_phrase.entry(h).or_default().push(call);
        }
    }
    // A script is the caller's way of putting things: only callers who use the clause on two calls
    // or more, and on a third of their calls of the category at least, pair by it (a template's
    // chance variant seldom falls twice to one caller, and a heavy caller's many calls are not a
    // script for having two clauses alike).
    let mut calls_in: HashMap<(u32, u32), usize> = HashMap::new();
    for (c, calls) in callers.calls.iter().enumerate() {
        for &x in calls {
            *calls_in.entry((c as u32, incidents.list[x as usize].category)).or_default() += 1;
        }
    }
    let key = |x: u32| (callers.of_call(incidents, x), incidents.list[x as usize].category);
    for calls in calls_of_phrase.values().filter(|c| c.len() <= MAX_PHRASE_CALLS) {
        let mut uses: HashMap<(u32, u32), usize> = HashMap::new();
        for &x in calls {
            *uses.entry(key(x)).or_default() += 1;
        }
        let habit = |x: u32| {
            let n = uses[&key(x)];
            n >= 2 && 3 * n >= calls_in.get(&key(x)).copied().unwrap_or(0)
        };
        let repeated: Vec<u32> = calls.iter().copied().filter(|&x| habit(x)).collect();
        for (i, &x) in repeated.iter().enumerate() {
            for &y in &repeated[i + 1..] {
                alike.insert((x.min(y), x.max(y)));
            }
        }
    }
    let mut script_pairs: HashMap<CallerPair, (u32, BTreeSet<u32>)> = HashMap::new();
    let mut pairs_in: HashMap<u32, f64> = HashMap::new();
    // How many strangers' calls each call is alike to: wording that a template gives many calls
    // pairs often by chance, wording a group made up pairs only within the group.
    let mut degree: HashMap<u32, f64> = HashMap::new();
    let mut pair_counts: HashMap<(u32, u32, u32), f64> = HashMap::new();
    let mut near_in: HashMap<u32, f64> = HashMap::new();
    for (a, b) in alike {
        let (ca, cb) = (callers.of_call(incidents, a), callers.of_call(incidents, b));
        let (x, y) = (&incidents.list[a as usize], &incidents.list[b as usize]);
        let far_apart = match (x.point, y.point) {
            (Some(p), Some(q)) => metres_between(p, q) > 1_000.0,
            _ => x.district.is_some() && y.district.is_some() && x.district != y.district,
        };
        if ca == cb || x.category != y.category || target(incidents, a) == target(incidents, b) || !far_apart {
            continue;
        }
        *pairs_in.entry(x.category).or_default() += 1.0;
        if near.contains(&(a, b)) {
            *degree.entry(a).or_default() += 1.0;
            *degree.entry(b).or_default() += 1.0;
            *pair_counts.entry((ca.min(cb), ca.max(cb), x.category)).or_default() += 1.0;
            *near_in.entry(x.category).or_default() += 1.0;
        }
        let slot = script_pairs.entry((ca.min(cb), ca.max(cb))).or_default();
        slot.0 += 1;
        slot.1.extend([a, b]);
    }
    let mut calls_of: HashMap<u32, f64> = HashMap::new();
    for calls in &callers.calls {
        for &c in calls {
            *calls_of.entry(incidents.list[c as usize].category).or_default() += 1.0;
        }
    }
    let rate: HashMap<u32, f64> = pairs_in
        .iter()
        .map(|(c, n)| {
            let calls = calls_of.get(c).copied().unwrap_or(2.0).max(2.0);
            (*c, n / (calls * (calls - 1.0) / 2.0))
        })
        .collect();
    // Ordered maps wherever floats are summed over their entries: a sum must not depend on a
    // HashMap's random iteration order.
    let calls_by_category = |caller: u32| -> BTreeMap<u32, f64> {
        let mut m = BTreeMap::new();
        for &c in &callers.calls[caller as usize] {
            *m.entry(incidents.list[c as usize].category).or_default() += 1.0;
        }
        m
    };
    let total_pairs: f64 = pairs_in.values().sum();
    let all_pairs: f64 = calls_of.values().map(|n| n * (n - 1.0) / 2.0).sum::<f64>().max(1.0);
    let script_pair_bits = (-(total_pairs / all_pairs).max(1e-12).log2()).clamp(0.0, MAX_TIE_BITS);
    let mut script_pairs: Vec<(CallerPair, (u32, BTreeSet<u32>))> =
        script_pairs.into_iter().filter(|(_, (n, _))| *n >= 2).collect();
    script_pairs.sort_unstable();
    // Each caller's sum of its calls' degrees, by category.
    let degrees_by_category = |caller: u32| -> BTreeMap<u32, f64> {
        let mut m = BTreeMap::new();
        for &c in &callers.calls[caller as usize] {
            *m.entry(incidents.list[c as usize].category).or_default() += degree.get(&c).copied().unwrap_or(0.0);
        }
        m
    };
    for ((a, b), (n, calls)) in script_pairs {
        let (ma, mb) = (calls_by_category(a), calls_by_category(b));
        // Chance pairs two ways, the larger counts: the category's rate of alike pairs between
        // any two of its calls, and the pairs the two callers' wording would make with anyone
        // (each one's alike pairs with third parties, as a configuration model spreads them).
        let uniform: f64 =
            ma.iter().map(|(c, na)| na * mb.get(c).copied().unwrap_or(0.0) * rate.get(c).copied().unwrap_or(0.0)).sum();
        let (da, db) = (degrees_by_category(a), degrees_by_category(b));
        let configuration: f64 = da
            .iter()
            .filter_map(|(c, &sa)| {
                let pairs = near_in.get(c).copied().filter(|&m| m > 0.0)?;
                let sb = db.get(c).copied()?;
                let own = pair_counts.get(&(a, b, *c)).copied().unwrap_or(0.0);
                Some((sa - own).max(0.0) * (sb - own).max(0.0) / (2.0 * pairs))
            })
            .sum();
        let lambda = uniform.max(configuration);
        let bits = (-log2_poisson_tail(n, lambda)).min(MAX_TIE_BITS);
        if bits >= MIN_CO_TARGET_BITS {
            out.push(Tie {
                a,
                b,
                kind: TieKind::Script,
                count: n,
                bits,
                detail: format!(
                    "{n} pairs of near-identical narratives or copied clauses about different targets where templates explain {lambda:.2}"
                ),
                calls: calls.into_iter().collect(),
            });
        }
    }
    script_pair_bits
}

/// A plate, phone or ID number named by at most this many callers' calls ties them; more, and it
/// is a landmark everybody names (a shop's phone, a car parked in everyone's way).
const MAX_MENTION_CALLERS: usize = 12;

/// Ties of callers whose calls name the same identifier, or one of whom names the other's own
/// phone or ID. Each shared identifier weighs −log₂ of the share of identifiers of its kind that
/// more than one caller names in this warehouse (at least 2 bits, at most 14): where strangers
/// seldom name one plate, two callers who do are seldom strangers.
fn mention_ties(incidents: &Incidents, callers: &Callers) -> (Vec<Tie>, [f64; 3], HashMap<u32, f64>) {
    use super::mentions::MentionKind;
    // Per identifier: callers who name it, and callers whose own phone or ID it is.
    let mut holders: BTreeMap<u32, BTreeMap<u32, bool>> = BTreeMap::new();
    // Per identifier: the calls that name it.
    let mut naming_calls: HashMap<u32, usize> = HashMap::new();
    for (c, calls) in callers.calls.iter().enumerate() {
        for &call in calls {
            for &v in incidents.mentions.get(&call).into_iter().flatten() {
                holders.entry(v).or_default().insert(c as u32, true);
                *naming_calls.entry(v).or_default() += 1;
            }
            for &v in incidents.own_mentioned.get(&call).into_iter().flatten() {
                holders.entry(v).or_default().entry(c as u32).or_insert(false);
            }
        }
    }
    let kind_of = |v: u32| -> usize {
        match MentionKind::of_value(incidents.mention_values.value(v)) {
            Some(MentionKind::Plate) | None => 0,
            Some(MentionKind::Phone) => 1,
            Some(MentionKind::IdNumber) => 2,
        }
    };
    // Per kind, how many identifiers are named at all, and how many by m callers or more: an
    // identifier more callers name than chance makes of any is stronger evidence for each pair.
    let mut named = [0usize; 3];
    let mut by_callers: [BTreeMap<usize, usize>; 3] = Default::default();
    let mut by_calls: [BTreeMap<usize, usize>; 3] = Default::default();
    for (&v, list) in &holders {
        if list.values().any(|&m| m) {
            named[kind_of(v)] += 1;
            *by_callers[kind_of(v)].entry(list.len()).or_default() += 1;
            *by_calls[kind_of(v)].entry(naming_calls.get(&v).copied().unwrap_or(0)).or_default() += 1;
        }
    }
    let share_of = |counts: &BTreeMap<usize, usize>, k: usize, m: usize| -> f64 {
        let n: usize = counts.range(m..).map(|(_, n)| n).sum();
        (n as f64 / named[k].max(1) as f64).max(1e-6)
    };
    let share_at_least = |k: usize, m: usize| share_of(&by_callers[k], k, m);
    let weigh = |share: f64| (-share.log2()).clamp(2.0, 14.0);
    let bits: [f64; 3] = [weigh(share_at_least(0, 2)), weigh(share_at_least(1, 2)), weigh(share_at_least(2, 2))];
    let mut pairs: BTreeMap<(u32, u32), (u32, f64, [u32; 3])> = BTreeMap::new();
    let mut identifier_bits: HashMap<u32, f64> = HashMap::new();
    for (&v, list) in holders.iter().filter(|(_, l)| l.len() > 1 && l.len() <= MAX_MENTION_CALLERS) {
        let k = kind_of(v);
        let each = weigh(share_at_least(k, list.len()));
        // In a lead, an identifier weighs what its rarity says, by the callers who name it or by
        // the calls (a car in one accident after another is rarer than in one).
        let calls = naming_calls.get(&v).copied().unwrap_or(0);
        identifier_bits.insert(v, each.max(weigh(share_of(&by_calls[k], k, calls))));
        let list: Vec<(u32, bool)> = list.iter().map(|(c, m)| (*c, *m)).collect();
        for (i, &(a, ma)) in list.iter().enumerate() {
            for &(b, mb) in &list[i + 1..] {
                // Two callers on one phone is a shared phone, counted there.
                if !(ma || mb) {
                    continue;
                }
                let slot = pairs.entry((a.min(b), a.max(b))).or_default();
                slot.0 += 1;
                slot.1 += each;
                slot.2[k] += 1;
            }
        }
    }
    let ties = pairs
        .into_iter()
        .map(|((a, b), (n, total, by_kind))| {
            let what: Vec<String> = MentionKind::ALL
                .iter()
                .zip(by_kind)
                .filter(|(_, n)| *n > 0)
                .map(|(k, n)| format!("{n} {}", k.name()))
                .collect();
            Tie {
                a,
                b,
                kind: TieKind::SharedMention,
                count: n,
                bits: total.min(MAX_TIE_BITS),
                detail: format!("{} named in calls of both", what.join(", ")),
                calls: Vec::new(),
            }
        })
        .collect();
    (ties, bits, identifier_bits)
}

/// Two calls of one category at one place are "at the same time" when this close (three hours).
const SAME_TIME: i64 = 3 * 3_600_000_000;

/// A cell more callers than this call about in one category is a public place whose callers
/// may meet within hours anyway (a bar's neighbours at closing time): coincidences there are
/// weighed against the cell's own rate, not the district's.
const BUSY_CELL_CALLERS: usize = 20;

/// Ties of callers whose calls of one category come within three hours of each other at the same
/// place (the same district, and within a kilometre where both have a point) on two or more
/// occasions (see [`occasions`]).
/// Chance is the rate of such pairs among all pairs of calls by different callers, in this
/// warehouse: of the category in the district, or in the cell for a busy cell. λ sums that rate
/// over the pairs of the two callers' calls, or is the occasions they meet with one's calls moved by
/// whole days, whichever is larger; the bits are less log₂ of how many callers the busier of the
/// two met at all (how many pairs were tried).
fn same_hour_ties(incidents: &Incidents, callers: &Callers) -> Vec<Tie> {
    type Key = (u32, u32);
    let mut caller_of: HashMap<u32, u32> = HashMap::new();
    let mut by_key: BTreeMap<Key, Vec<(i64, u32)>> = BTreeMap::new();
    let mut cell_calls: HashMap<(u32, (i32, i32)), HashMap<u32, f64>> = HashMap::new();
    for (c, calls) in callers.calls.iter().enumerate() {
        for &call in calls {
            let x = &incidents.list[call as usize];
            let Some(d) = x.district else { continue };
            caller_of.insert(call, c as u32);
            by_key.entry((x.category, d)).or_default().push((x.time, call));
            if let Some(cell) = x.cell {
                *cell_calls.entry((x.category, cell)).or_default().entry(c as u32).or_default() += 1.0;
            }
        }
    }
    let pairs_of = |per_caller: &HashMap<u32, f64>| {
        let n: f64 = per_caller.values().sum();
        (n * n - per_caller.values().map(|m| m * m).sum::<f64>()) / 2.0
    };
    let busy_cell = |category: u32, call: u32| -> Option<(u32, (i32, i32))> {
        let cell = incidents.list[call as usize].cell?;
        let key = (category, cell);
        cell_calls.get(&key).is_some_and(|m| m.len() > BUSY_CELL_CALLERS).then_some(key)
    };
    let mut district_rate: HashMap<Key, f64> = HashMap::new();
    let mut cell_coincidences: HashMap<(u32, (i32, i32)), f64> = HashMap::new();
    let mut days: BTreeMap<(u32, u32), (BTreeSet<i64>, BTreeSet<u32>)> = BTreeMap::new();
    let mut calls_of: HashMap<(u32, Key), Vec<u32>> = HashMap::new();
    for (key, list) in by_key.iter_mut() {
        list.sort_unstable();
        let mut per_caller: HashMap<u32, f64> = HashMap::new();
        for &(_, call) in list.iter() {
            let c = caller_of[&call];
            *per_caller.entry(c).or_default() += 1.0;
            calls_of.entry((c, *key)).or_default().push(call);
        }
        let mut coincidences = 0.0;
        for (i, &(t, x)) in list.iter().enumerate() {
            let (cx, px) = (caller_of[&x], incidents.list[x as usize].point);
            for &(u, y) in &list[i + 1..] {
                if u - t > SAME_TIME {
                    break;
                }
                let cy = caller_of[&y];
                let near = match (px, incidents.list[y as usize].point) {
                    (Some(p), Some(q)) => metres_between(p, q) <= 1_000.0,
                    _ => true,
                };
                if cx == cy || !near {
                    continue;
                }
                coincidences += 1.0;
                if let Some(cell) = busy_cell(key.0, x).filter(|c| busy_cell(key.0, y) == Some(*c)) {
                    *cell_coincidences.entry(cell).or_default() += 1.0;
                }
                let slot = days.entry((cx.min(cy), cx.max(cy))).or_default();
                slot.0.insert(t);
                slot.1.extend([x, y]);
            }
        }
        let pairs = pairs_of(&per_caller);
        district_rate.insert(*key, if pairs > 0.0 { coincidences / pairs } else { 0.0 });
    }
    let cell_rate = |cell: (u32, (i32, i32))| -> f64 {
        let pairs = cell_calls.get(&cell).map_or(0.0, &pairs_of);
        if pairs > 0.0 { cell_coincidences.get(&cell).copied().unwrap_or(0.0) / pairs } else { 0.0 }
    };
    // Whole-day shifts spread over the period, for the pairs' own chance of meeting.
    let (first, last) =
        incidents.list.iter().fold((i64::MAX, i64::MIN), |(lo, hi), x| (lo.min(x.time), hi.max(x.time)));
    let period_days = if first <= last { (last - first).div_euclid(DAY) + 1 } else { 1 };
    let period = (first, period_days);
    let mut shifts: Vec<i64> =
        (1..=MEETING_SHIFTS).map(|j| j * period_days / (MEETING_SHIFTS + 1)).filter(|&d| d > 0).collect();
    shifts.dedup();
    let mut keys_of: HashMap<u32, Vec<Key>> = HashMap::new();
    for (c, key) in calls_of.keys() {
        keys_of.entry(*c).or_default().push(*key);
    }
    // How many callers each met at least once: a caller who calls all year meets hundreds, and
    // among so many pairs a few meet on two or three occasions by chance.
    let mut partners: HashMap<u32, u32> = HashMap::new();
    for &(a, b) in days.keys() {
        *partners.entry(a).or_default() += 1;
        *partners.entry(b).or_default() += 1;
    }
    let mut out = Vec::new();
    for ((a, b), (on, together)) in days {
        let k = occasions(&on) as u32;
        if k < 2 {
            continue;
        }
        let tried = f64::from(partners[&a].max(partners[&b])).log2();
        let mut shared: Vec<&Key> = keys_of[&a].iter().filter(|key| calls_of.contains_key(&(b, **key))).collect();
        shared.sort_unstable();
        let mut lambda = 0.0;
        for &key in &shared {
            for &x in &calls_of[&(a, *key)] {
                for &y in &calls_of[&(b, *key)] {
                    lambda += match busy_cell(key.0, x).filter(|c| busy_cell(key.0, y) == Some(*c)) {
                        Some(cell) => cell_rate(cell).max(district_rate[key]),
                        None => district_rate[key],
                    };
                }
            }
        }
        if -log2_poisson_tail(k, lambda) - tried < MIN_CO_TARGET_BITS {
            continue;
        }
        // The pair's own chance: how often they meet when one's calls are moved by whole days
        // (their hours, places and rhythm kept), so that two callers who call about one place
        // every evening all year are not taken for accomplices.
        let lists: Vec<(&[u32], &[u32])> =
            shared.iter().map(|key| (calls_of[&(a, **key)].as_slice(), calls_of[&(b, **key)].as_slice())).collect();
        let shifted = shifts.iter().map(|&s| meeting_days(incidents, &lists, s, period) as f64).sum::<f64>()
            / shifts.len().max(1) as f64;
        let lambda = lambda.max(shifted);
        let bits = (-log2_poisson_tail(k, lambda) - tried).min(MAX_TIE_BITS);
        if bits >= MIN_CO_TARGET_BITS {
            out.push(Tie {
                a,
                b,
                kind: TieKind::SameHour,
                count: k,
                bits,
                detail: format!(
                    "within three hours of each other at one place on {k} occasions (half a day or more apart) where chance explains {lambda:.3} (of {} callers met)",
                    partners[&a].max(partners[&b])
                ),
                calls: together.into_iter().collect(),
            });
        }
    }
    out
}

/// How many whole-day shifts of one caller's calls measure a pair's own chance of meeting.
const MEETING_SHIFTS: i64 = 16;

/// Occasions on which a call of the first caller comes within three hours of a call of the second
/// at one place (as [`same_hour_ties`] counts them), with the second's calls moved on by `shift`
/// days, wrapping around the period `(first call, days)`.
fn meeting_days(incidents: &Incidents, lists: &[(&[u32], &[u32])], shift: i64, (first, days): (i64, i64)) -> usize {
    let span = days * DAY;
    let mut met: BTreeSet<i64> = BTreeSet::new();
    for &(ours, theirs) in lists {
        let mut moved: Vec<(i64, u32)> = theirs
            .iter()
            .map(|&y| (first + (incidents.list[y as usize].time - first + shift * DAY).rem_euclid(span), y))
            .collect();
        moved.sort_unstable();
        for &x in ours {
            let (t, p) = (incidents.list[x as usize].time, incidents.list[x as usize].point);
            let from = moved.partition_point(|&(u, _)| u < t - SAME_TIME);
            let near = moved[from..].iter().take_while(|&&(u, _)| u <= t + SAME_TIME).any(|&(_, y)| {
                match (p, incidents.list[y as usize].point) {
                    (Some(p), Some(q)) => metres_between(p, q) <= 1_000.0,
                    _ => true,
                }
            });
            if near {
                met.insert(t);
            }
        }
    }
    occasions(&met)
}

/// Hours between two meetings that make them two occasions rather than one.
const OCCASION_GAP: i64 = 12 * 3_600_000_000;

/// How many occasions these meeting times (UTC microseconds) are: a meeting more than
/// [`OCCASION_GAP`] after the one before begins a new one. A night's quarrel at a bar that runs
/// from 23:30 to 00:30 is one occasion, not two days, and two mornings are two.
fn occasions(times: &BTreeSet<i64>) -> usize {
    let mut last: Option<i64> = None;
    let mut count = 0;
    for &t in times {
        if last.is_none_or(|l| t - l > OCCASION_GAP) {
            count += 1;
        }
        last = Some(t);
    }
    count
}

/// Callers' surnames and ID regions, and how rare each is among this warehouse's callers.
pub struct Kinship {
    /// Surnames (pinyin) each caller gave.
    surnames_of: Vec<BTreeSet<u32>>,
    /// Regions of the ID numbers each caller showed.
    regions_of: Vec<BTreeSet<u32>>,
    /// Callers giving each surname, and callers giving any.
    surname_counts: (HashMap<u32, f64>, f64),
    /// Callers showing an ID of each region, and callers showing any.
    region_counts: (HashMap<u32, f64>, f64),
}

impl Kinship {
    /// Reads every caller's surnames and ID regions.
    pub fn build(incidents: &Incidents, callers: &Callers) -> Kinship {
        let mut surnames_of: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); callers.list.len()];
        let mut regions_of: Vec<BTreeSet<u32>> = vec![BTreeSet::new(); callers.list.len()];
        for (c, calls) in callers.calls.iter().enumerate() {
            for &call in calls {
                if let Some(s) = incidents.list[call as usize].caller.surname {
                    surnames_of[c].insert(s);
                }
                if let Some((r, _)) = incidents.id_regions.get(&call) {
                    regions_of[c].insert(*r);
                }
            }
        }
        let counts = |sets: &[BTreeSet<u32>]| -> (HashMap<u32, f64>, f64) {
            let mut counts: HashMap<u32, f64> = HashMap::new();
            let mut total: f64 = 0.0;
            for set in sets.iter().filter(|s| !s.is_empty()) {
                total += 1.0;
                for v in set {
                    *counts.entry(*v).or_default() += 1.0;
                }
            }
            (counts, total.max(1.0))
        };
        Kinship { surname_counts: counts(&surnames_of), region_counts: counts(&regions_of), surnames_of, regions_of }
    }

    /// −log₂ of the share of callers giving `value` (at most 20).
    fn bits((counts, total): &(HashMap<u32, f64>, f64), value: u32) -> f64 {
        (-(counts.get(&value).copied().unwrap_or(1.0) / total).log2()).clamp(0.0, 20.0)
    }

    /// Bits of kinship between two callers: those of the rarest surname both give, plus those of
    /// the region that issued both one's ID numbers where both show one; `None` where they give no
    /// surname in common, or show ID numbers of different regions only.
    pub fn between(&self, a: u32, b: u32) -> Option<f64> {
        let rarest = |x: &BTreeSet<u32>, y: &BTreeSet<u32>, counts: &(HashMap<u32, f64>, f64)| -> Option<f64> {
            x.intersection(y).map(|v| Self::bits(counts, *v)).max_by(f64::total_cmp)
        };
        let surname = rarest(&self.surnames_of[a as usize], &self.surnames_of[b as usize], &self.surname_counts)?;
        let (ra, rb) = (&self.regions_of[a as usize], &self.regions_of[b as usize]);
        let region = rarest(ra, rb, &self.region_counts);
        if region.is_none() && !ra.is_empty() && !rb.is_empty() {
            return None;
        }
        Some(surname + region.unwrap_or(0.0))
    }

    /// Surnames a caller gave.
    fn surnames(&self, c: u32) -> &BTreeSet<u32> {
        &self.surnames_of[c as usize]
    }
}

/// Fewest different ID numbers of one surname and region in a category that make a family at work
/// (three strangers of a rare surname from one county meet by chance in a warehouse's many cells).
const MIN_KIN: usize = 4;

/// Families at work: in a category, the people (different ID numbers) who give one surname and
/// show ID numbers of one region, where the category's people with ID numbers and that surname and
/// region's share of all people with ID numbers explain λ. A count whose Poisson tail stands out
/// by the co-targeting margin among every (category, surname, region) cell holding two people or
/// more ties the callers holding those numbers in a chain (first call first) that shares its bits.
/// The calls of the category of the chain's two ends show each tie.
fn kin_ties(incidents: &Incidents, callers: &Callers) -> Vec<Tie> {
    type Cell = (u32, u32, u32);
    let mut cells: BTreeMap<Cell, (BTreeSet<u64>, BTreeMap<u32, i64>)> = BTreeMap::new();
    let mut people_in: HashMap<u32, HashSet<u64>> = HashMap::new();
    let mut people: HashMap<(u32, u32), HashSet<u64>> = HashMap::new();
    let mut everybody: HashSet<u64> = HashSet::new();
    for (c, calls) in callers.calls.iter().enumerate() {
        for &call in calls {
            let x = &incidents.list[call as usize];
            let Some(&(region, id)) = incidents.id_regions.get(&call) else { continue };
            if x.source.is_some() {
                continue;
            }
            people_in.entry(x.category).or_default().insert(id);
            let Some(surname) = x.caller.surname else { continue };
            everybody.insert(id);
            people.entry((surname, region)).or_default().insert(id);
            let cell = cells.entry((x.category, surname, region)).or_default();
            cell.0.insert(id);
            let first = cell.1.entry(c as u32).or_insert(x.time);
            *first = (*first).min(x.time);
        }
    }
    let tried = cells.values().filter(|c| c.0.len() >= 2).count();
    let stands_out = CO_TARGET_MARGIN_BITS + (tried.max(1) as f64).log2();
    let everybody = everybody.len().max(1) as f64;
    let mut out = Vec::new();
    for ((category, surname, region), (ids, holders)) in cells {
        let k = ids.len();
        if k < MIN_KIN || holders.len() < 2 {
            continue;
        }
        let share = people.get(&(surname, region)).map_or(0, HashSet::len) as f64 / everybody;
        let lambda = people_in.get(&category).map_or(0, HashSet::len) as f64 * share;
        let bits = (-log2_poisson_tail(k as u32, lambda)).min(MAX_TIE_BITS);
        if bits < stands_out {
            continue;
        }
        let chain: Vec<(i64, u32)> = holders.into_iter().map(|(c, t)| (t, c)).collect();
        let detail = format!(
            "both among {k} people of one surname with ID numbers of one region calling about the category, where their share explains {lambda:.2}"
        );
        out.extend(kin_chain(incidents, callers, category, chain, bits, &detail));
    }
    out
}

/// Kin ties of one cell: its callers chained by first call (`(first call, caller)`), sharing the
/// cell's bits, each tie shown by both ends' original calls of the category.
fn kin_chain(
    incidents: &Incidents,
    callers: &Callers,
    category: u32,
    mut chain: Vec<(i64, u32)>,
    bits: f64,
    detail: &str,
) -> Vec<Tie> {
    chain.sort_unstable();
    let calls_of = |c: u32| {
        callers.calls[c as usize].iter().copied().filter(move |&x| {
            incidents.list[x as usize].category == category && incidents.list[x as usize].source.is_none()
        })
    };
    let links = chain.len().saturating_sub(1).max(1) as f64;
    chain
        .windows(2)
        .map(|pair| {
            let (a, b) = (pair[0].1.min(pair[1].1), pair[0].1.max(pair[1].1));
            Tie {
                a,
                b,
                kind: TieKind::Kin,
                count: 1,
                bits: bits / links,
                detail: detail.to_owned(),
                calls: calls_of(a).chain(calls_of(b)).collect(),
            }
        })
        .collect()
}

/// Fewest days with calls of a category that make a caller a repeat caller of it.
const MIN_REPEAT_DAYS: usize = 3;

/// Families at work where few show ID numbers: in a category, the repeat callers (calls on
/// [`MIN_REPEAT_DAYS`] days or more) at home in one district (more than half their calls of the
/// category there) who give one surname, where the district's repeat callers of the category
/// times that surname's share of the callers at home in the district (its own families, not the
/// city's) explain λ. A count whose Poisson tail stands out by the co-targeting margin among every
/// (category, district, surname) cell holding two such callers ties them in a chain (first call
/// first) that shares its bits, as [`kin_ties`] does. A caller that other evidence (`placed`: each
/// caller's partners in ties that stand) already ties to someone outside the cell stays out of
/// the chain: it is placed, and a surname is too common a coincidence to join two groups by.
fn home_kin_ties(incidents: &Incidents, callers: &Callers, placed: &HashMap<u32, Vec<u32>>) -> Vec<Tie> {
    // Each caller's home district (of all its calls) and one surname.
    let mut at_home: HashMap<u32, f64> = HashMap::new();
    let mut surnames_at_home: HashMap<(u32, u32), f64> = HashMap::new();
    type Cell = (u32, u32, u32);
    let mut cells: BTreeMap<Cell, Vec<(i64, u32)>> = BTreeMap::new();
    let mut repeat_in: HashMap<(u32, u32), f64> = HashMap::new();
    for (c, calls) in callers.calls.iter().enumerate() {
        let list: Vec<&Incident> =
            calls.iter().map(|&x| &incidents.list[x as usize]).filter(|x| x.source.is_none()).collect();
        let mut names: BTreeMap<u32, usize> = BTreeMap::new();
        for x in &list {
            if let Some(s) = x.caller.surname {
                *names.entry(s).or_default() += 1;
            }
        }
        let Some(surname) = names.into_iter().max_by_key(|(s, n)| (*n, std::cmp::Reverse(*s))).map(|x| x.0) else {
            continue;
        };
        let Some(home) = home_district(&list) else { continue };
        *at_home.entry(home).or_default() += 1.0;
        *surnames_at_home.entry((home, surname)).or_default() += 1.0;
        let mut categories: BTreeMap<u32, Vec<&Incident>> = BTreeMap::new();
        for x in &list {
            categories.entry(x.category).or_default().push(x);
        }
        for (category, of) in categories {
            let days: BTreeSet<i64> = of.iter().map(|x| shanghai_day(x.time)).collect();
            if days.len() < MIN_REPEAT_DAYS {
                continue;
            }
            let Some(district) = home_district(&of) else { continue };
            *repeat_in.entry((category, district)).or_default() += 1.0;
            let first = of.iter().map(|x| x.time).min().unwrap_or(0);
            cells.entry((category, district, surname)).or_default().push((first, c as u32));
        }
    }
    let tried = cells.values().filter(|c| c.len() >= 2).count();
    let stands_out = CO_TARGET_MARGIN_BITS + (tried.max(1) as f64).log2();
    let mut out = Vec::new();
    for ((category, district, surname), mut chain) in cells {
        let k = chain.len();
        if k < MIN_KIN {
            continue;
        }
        let members: HashSet<u32> = chain.iter().map(|m| m.1).collect();
        chain.retain(|m| placed.get(&m.1).is_none_or(|partners| partners.iter().all(|p| members.contains(p))));
        if chain.len() < 2 {
            continue;
        }
        let share = surnames_at_home.get(&(district, surname)).copied().unwrap_or(0.0)
            / at_home.get(&district).copied().unwrap_or(1.0).max(1.0);
        let lambda = repeat_in.get(&(category, district)).copied().unwrap_or(0.0) * share;
        let bits = (-log2_poisson_tail(k as u32, lambda)).min(MAX_TIE_BITS);
        if bits < stands_out {
            continue;
        }
        let detail = format!(
            "both among {k} repeat callers of one surname at home in one district calling about the category, where its repeat callers there and the surname's share there explain {lambda:.2}"
        );
        out.extend(kin_chain(incidents, callers, category, chain, bits, &detail));
    }
    out
}

/// The district where more than half of these calls are, if one is.
fn home_district(calls: &[&Incident]) -> Option<u32> {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for x in calls {
        if let Some(d) = x.district {
            *counts.entry(d).or_default() += 1;
        }
    }
    let (d, n) = counts.into_iter().max_by_key(|(d, n)| (*n, std::cmp::Reverse(*d)))?;
    (2 * n > calls.len()).then_some(d)
}

/// Finds the leads: Louvain communities of the tie graph, each with its calls, reports naming its
/// members, score, key members and evidence sentences; best first.
pub fn find_leads(
    incidents: &Incidents,
    callers: &Callers,
    links: &[CallLink],
    ties: &[Tie],
    rates: &ChanceRates,
) -> Vec<Lead> {
    // Reports naming a caller (by another caller).
    let mut reports_naming: HashMap<u32, Vec<(u32, &str)>> = HashMap::new();
    for link in links.iter().filter(|l| l.evidence == Evidence::NamedPerson) {
        let named = callers.of_call(incidents, link.a);
        let list = reports_naming.entry(named).or_default();
        if !list.iter().any(|(r, _)| *r == link.b) {
            list.push((link.b, link.detail.as_str()));
        }
    }
    let mut handoffs_of: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, x) in incidents.list.iter().enumerate() {
        if let Some(s) = x.source {
            handoffs_of.entry(s).or_default().push(i as u32);
        }
    }

    // Nodes: callers with a tie, or named in reports by two or more others.
    let mut nodes: Vec<u32> = ties.iter().flat_map(|t| [t.a, t.b]).collect();
    nodes.extend(reports_naming.iter().filter(|(_, r)| r.len() >= 2).map(|(c, _)| *c));
    nodes.sort_unstable();
    nodes.dedup();
    let index: HashMap<u32, u32> = nodes.iter().enumerate().map(|(i, &c)| (c, i as u32)).collect();
    let mut weights: HashMap<(u32, u32), f64> = HashMap::new();
    for t in ties {
        let (a, b) = (index[&t.a], index[&t.b]);
        *weights.entry((a.min(b), a.max(b))).or_default() += t.bits;
    }
    let mut edges: Vec<(u32, u32, f64)> = weights.into_iter().map(|((a, b), w)| (a, b, w)).collect();
    edges.sort_by_key(|x| (x.0, x.1));
    // Groups: connected callers; a component too large to be one group is split into its
    // Louvain communities.
    let community = components_split(nodes.len(), &edges, MAX_GROUP_CALLERS);
    let mut members: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (i, &c) in community.iter().enumerate() {
        members.entry(c).or_default().push(nodes[i]);
    }
    let mut ties_of: HashMap<u32, Vec<&Tie>> = HashMap::new();
    for t in ties {
        ties_of.entry(t.a).or_default().push(t);
        ties_of.entry(t.b).or_default().push(t);
    }

    // Grow each group by callers whose claims land on its targets far beyond chance, or who fit
    // the person a report about its targets names, or who give a member's full name.
    let fits_of_report = report_fits(incidents, callers, links, rates);
    let index = AttachIndex::build(incidents, callers);
    let mut taken: HashSet<u32> = members.values().filter(|g| g.len() >= 2).flatten().copied().collect();
    let mut attachments: HashMap<u32, Vec<(u32, f64, String)>> = HashMap::new();
    let named_callers = named_counts(incidents, callers, links, rates);
    let mut order: Vec<u32> = members.keys().copied().collect();
    order.sort_by_key(|k| (std::cmp::Reverse(members[k].len()), *k));
    for community in order {
        let group = members.get_mut(&community).expect("community");
        if group.len() < 2 {
            continue;
        }
        for _round in 0..3 {
            let found = index.attach(incidents, callers, group, &taken, &fits_of_report, &named_callers);
            if found.is_empty() {
                break;
            }
            for (x, bits, why) in found {
                group.push(x);
                taken.insert(x);
                attachments.entry(community).or_default().push((x, bits, why));
            }
        }
    }

    let serial = SerialTail::build(incidents, callers);
    let category_share = category_shares(incidents);
    let context = GroupContext {
        incidents,
        callers,
        links,
        rates,
        ties_of: &ties_of,
        reports_naming: &reports_naming,
        handoffs_of: &handoffs_of,
        attachments: &attachments,
        taken: &taken,
        serial: &serial,
        taxonomy: Taxonomy::builtin(),
        category_share: &category_share,
    };
    let mut leads: Vec<Lead> =
        members.iter().filter_map(|(community, group)| group_lead(&context, *community, group)).collect();
    leads.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.calls.first().cmp(&b.calls.first())));
    for (i, lead) in leads.iter_mut().enumerate() {
        lead.lead_id = format!("L{:04}", i + 1);
    }
    leads
}

/// What every group's lead is built from, in one run.
struct GroupContext<'a> {
    incidents: &'a Incidents,
    callers: &'a Callers,
    links: &'a [CallLink],
    rates: &'a ChanceRates,
    ties_of: &'a HashMap<u32, Vec<&'a Tie>>,
    reports_naming: &'a HashMap<u32, Vec<(u32, &'a str)>>,
    handoffs_of: &'a HashMap<u32, Vec<u32>>,
    attachments: &'a HashMap<u32, Vec<(u32, f64, String)>>,
    taken: &'a HashSet<u32>,
    serial: &'a SerialTail,
    taxonomy: &'a Taxonomy,
    /// Each category's share of the original calls.
    category_share: &'a HashMap<u32, f64>,
}

/// Each category's share of the original calls (transfer records left out).
pub(super) fn category_shares(incidents: &Incidents) -> HashMap<u32, f64> {
    let mut counts: HashMap<u32, f64> = HashMap::new();
    for x in incidents.list.iter().filter(|x| x.source.is_none()) {
        *counts.entry(x.category).or_default() += 1.0;
    }
    let total: f64 = counts.values().sum::<f64>().max(1.0);
    counts.into_iter().map(|(k, n)| (k, n / total)).collect()
}

/// Categories a group works beyond those its evidence names: where more of its callers call
/// than each caller's number of calls and the category's share of all calls explain (a group
/// staging accidents whose members also report frauds), by a tie's worth of bits.
pub(super) fn shared_categories(
    incidents: &Incidents,
    callers: &Callers,
    category_share: &HashMap<u32, f64>,
    group: &[u32],
) -> Vec<u32> {
    let mut present: BTreeMap<u32, u32> = BTreeMap::new();
    let mut sizes: Vec<i32> = Vec::with_capacity(group.len());
    for &c in group {
        let original = callers.calls[c as usize].iter().filter(|&&x| incidents.list[x as usize].source.is_none());
        let mut seen: Vec<u32> = original.map(|&x| incidents.list[x as usize].category).collect();
        sizes.push(seen.len() as i32);
        seen.sort_unstable();
        seen.dedup();
        for k in seen {
            *present.entry(k).or_default() += 1;
        }
    }
    present
        .into_iter()
        .filter(|&(k, n)| {
            let share = category_share.get(&k).copied().unwrap_or(1.0);
            let expected: f64 = sizes.iter().map(|&m| 1.0 - (1.0 - share).powi(m)).sum();
            n >= 2 && -log2_poisson_tail(n, expected) >= MIN_TIE_BITS
        })
        .map(|(k, _)| k)
        .collect()
}

/// The lead of one group of callers: its evidence in bits, its calls, key members and sentences;
/// `None` for a group too thin to be a lead (a lone caller another group took in, one caller
/// with fewer than two reports naming them, no calls).
fn group_lead(context: &GroupContext<'_>, community: u32, group: &[u32]) -> Option<Lead> {
    let GroupContext {
        incidents,
        callers,
        links,
        rates,
        ties_of,
        reports_naming,
        handoffs_of,
        attachments,
        taken,
        serial,
        taxonomy,
        ..
    } = *context;
    let community = &community;
    // A lone caller another group took in is part of that group's lead.
    if group.len() == 1 && taken.contains(&group[0]) {
        return None;
    }
    let in_group: HashSet<u32> = group.iter().copied().collect();
    // Each tie is listed under both its callers: kept once, where first met.
    let mut seen: HashSet<*const Tie> = HashSet::new();
    let inner: Vec<&Tie> = group
        .iter()
        .flat_map(|c| ties_of.get(c).into_iter().flatten().copied())
        .filter(|t| in_group.contains(&t.a) && in_group.contains(&t.b))
        .filter(|t| seen.insert(std::ptr::from_ref(*t)))
        .collect();
    let reports: Vec<(u32, u32, &str)> = group
        .iter()
        .flat_map(|c| reports_naming.get(c).into_iter().flatten().map(move |(r, how)| (*c, *r, *how)))
        .filter(|(_, r, _)| !in_group.contains(&callers.of_call(incidents, *r)))
        .collect();
    if group.len() < 2 && reports.len() < 2 {
        return None;
    }
    let mut bits: BTreeMap<&'static str, f64> = BTreeMap::new();
    for t in inner.iter().filter(|t| !matches!(t.kind, TieKind::SharedPhone | TieKind::SharedMention)) {
        *bits.entry(t.kind.name()).or_default() += t.bits;
    }
    // An identifier counts once, however many pairs of members it ties.
    let shared_identifiers = if inner.iter().any(|t| t.kind == TieKind::SharedMention) {
        shared_identifiers(incidents, callers, group, rates)
    } else {
        Vec::new()
    };
    if !shared_identifiers.is_empty() {
        bits.insert("shared_mention", shared_identifiers.iter().sum::<f64>());
    }
    // A phone counts once per caller beyond the first who used it.
    let mut phone_users: HashMap<u32, HashSet<u32>> = HashMap::new();
    for &c in group {
        for &call in &callers.calls[c as usize] {
            if let Some(p) = incidents.list[call as usize].phone {
                phone_users.entry(p).or_default().insert(c);
            }
        }
    }
    let extra_users: usize = phone_users.values().map(|u| u.len() - 1).sum();
    if extra_users > 0 && inner.iter().any(|t| t.kind == TieKind::SharedPhone) {
        bits.insert("shared_phone", extra_users as f64 * rates.shared_phone_bits);
    }
    let attached = attachments.get(community).map(Vec::as_slice).unwrap_or(&[]);
    let attached_bits: f64 = attached.iter().map(|a| a.1).sum();
    if attached_bits > 0.0 {
        bits.insert("attached", attached_bits);
    }
    // Each reporter counts once.
    let mut reporters: BTreeMap<u32, f64> = BTreeMap::new();
    for (_, r, how) in &reports {
        let b = naming_bits(how, rates);
        let reporter = callers.of_call(incidents, *r);
        let slot = reporters.entry(reporter).or_default();
        *slot = slot.max(b);
    }
    let named_bits: f64 = reporters.values().sum();
    if named_bits > 0.0 {
        bits.insert("named_by_others", named_bits);
    }

    // The calls: members' calls in the categories their evidence concerns, the reports, and
    // the transfer records of both.
    let evidence_calls = evidence_calls(incidents, callers, group, &inner, links, &in_group);
    let mut category_counts: HashMap<u32, usize> = HashMap::new();
    for &c in &evidence_calls {
        *category_counts.entry(incidents.list[c as usize].category).or_default() += 1;
    }
    let top = category_counts.iter().max_by_key(|(k, n)| (**n, std::cmp::Reverse(**k))).map(|(k, _)| *k);
    // Serial claims: members who each claimed against several different targets of the
    // main category, as rare among all callers of that category as the tail says.
    let mut serial_members = 0usize;
    if group.len() >= 2
        && let Some(c) = top
    {
        let mut serial_bits = 0.0;
        for &m in group.iter() {
            let mut own: Vec<Target> = callers.calls[m as usize]
                .iter()
                .filter(|&&x| incidents.list[x as usize].category == c)
                .filter_map(|&x| target(incidents, x))
                .collect();
            own.sort_unstable();
            own.dedup();
            if own.len() >= 3 {
                serial_members += 1;
                serial_bits += serial.bits(c, own.len());
            }
        }
        if serial_members >= 2 {
            bits.insert("serial_claims", serial_bits);
        }
    }
    // Each kind of evidence counts up to KIND_CAP bits, and a lead that rests on one kind
    // alone counts half: breadth of corroboration, not one overwhelming signal, ranks first.
    let capped: BTreeMap<&'static str, f64> = bits.iter().map(|(k, b)| (*k, b.min(KIND_CAP))).collect();
    let strong = |k: &str| capped.get(k).is_some_and(|b| *b >= CORROBORATING_BITS);
    let kinds = INDEPENDENT_KINDS.iter().filter(|k| strong(k)).count()
        + usize::from(strong("attached") && !strong("co_target"));
    let total: f64 = capped.values().sum();
    let score = if kinds >= 2 { total } else { total / 2.0 };
    let mut categories: HashSet<u32> =
        category_counts.iter().filter(|(k, n)| Some(**k) == top || **n >= 2).map(|(k, _)| *k).collect();
    categories.extend(shared_categories(incidents, callers, context.category_share, group));
    let mut calls: Vec<u32> = group
        .iter()
        .flat_map(|&c| callers.calls[c as usize].iter().copied())
        .filter(|&c| categories.contains(&incidents.list[c as usize].category))
        .collect();
    let member_calls = calls.len();
    let mut report_calls: Vec<u32> = reports.iter().map(|(_, r, _)| *r).collect();
    report_calls.sort_unstable();
    report_calls.dedup();
    calls.extend(report_calls.iter().copied());
    let originals = calls.clone();
    for c in originals {
        calls.extend(handoffs_of.get(&c).into_iter().flatten().copied());
    }
    calls.sort_by_key(|&c| (incidents.list[c as usize].time, c));
    calls.dedup();
    if calls.is_empty() {
        return None;
    }

    let KeyMembers { callers: lead_callers, centrality, entities, first: key_member } =
        key_members(incidents, callers, group, &inner, &reports, &calls);

    let description = describe(&Facts {
        incidents,
        callers,
        taxonomy,
        group,
        calls: &calls,
        report_calls: &report_calls,
        member_calls,
        entities: entities.len(),
        top,
        bits: &bits,
        inner: &inner,
        attached,
        extra_users,
        shared_identifiers: shared_identifiers.len(),
        serial_members,
        named_bits,
        reports: &reports,
        reporters: reporters.len(),
        kinds,
        key_member: lead_callers.first().copied().zip(key_member),
    });
    Some(Lead {
        lead_id: String::new(),
        score,
        calls,
        entities,
        reports: report_calls,
        centrality,
        callers: lead_callers,
        evidence: description.evidence,
        bits,
        category: description.category,
        targets: description.targets,
        districts: description.districts,
        span: description.span,
    })
}

/// Bits of each identifier that calls of two or more of the group's callers hold, one of them
/// naming it (the rule of a shared-mention tie), from the run's `identifier_bits`.
fn shared_identifiers(incidents: &Incidents, callers: &Callers, group: &[u32], rates: &ChanceRates) -> Vec<f64> {
    let mut holders: BTreeMap<u32, (BTreeSet<u32>, bool)> = BTreeMap::new();
    for &c in group {
        for &call in &callers.calls[c as usize] {
            for &v in incidents.mentions.get(&call).into_iter().flatten() {
                let slot = holders.entry(v).or_default();
                slot.0.insert(c);
                slot.1 = true;
            }
            for &v in incidents.own_mentioned.get(&call).into_iter().flatten() {
                holders.entry(v).or_default().0.insert(c);
            }
        }
    }
    holders
        .into_iter()
        .filter(|(_, (who, named))| *named && who.len() >= 2)
        .filter_map(|(v, _)| rates.identifier_bits.get(&v).copied())
        .collect()
}

/// What a group's lead says of itself, from which its sentences are written.
struct Facts<'a> {
    incidents: &'a Incidents,
    callers: &'a Callers,
    taxonomy: &'a Taxonomy,
    group: &'a [u32],
    calls: &'a [u32],
    report_calls: &'a [u32],
    member_calls: usize,
    entities: usize,
    top: Option<u32>,
    bits: &'a BTreeMap<&'static str, f64>,
    inner: &'a [&'a Tie],
    attached: &'a [(u32, f64, String)],
    extra_users: usize,
    /// Plates, phones and ID numbers that tie members.
    shared_identifiers: usize,
    serial_members: usize,
    named_bits: f64,
    reports: &'a [(u32, u32, &'a str)],
    reporters: usize,
    kinds: usize,
    key_member: Option<(u32, (u32, usize))>,
}

/// A lead's sentences, main category, targets, districts and span.
struct Description {
    evidence: Vec<String>,
    category: String,
    targets: usize,
    districts: usize,
    span: (i64, i64),
}

/// The lead's evidence in sentences, the summary first, each kind with its bits.
fn describe(facts: &Facts<'_>) -> Description {
    let &Facts {
        incidents,
        callers,
        taxonomy,
        group,
        calls,
        report_calls,
        member_calls,
        entities,
        top,
        bits,
        inner,
        attached,
        extra_users,
        shared_identifiers,
        serial_members,
        named_bits,
        reports,
        reporters,
        kinds,
        key_member,
    } = facts;
    let member_set: Vec<u32> = calls.iter().copied().filter(|c| !report_calls.contains(c)).collect();
    let mut targets: HashSet<Target> = HashSet::new();
    let mut organisations: HashSet<u32> = HashSet::new();
    let mut districts: HashSet<u32> = HashSet::new();
    let mut phones: HashSet<u32> = HashSet::new();
    for &c in &member_set {
        let x = &incidents.list[c as usize];
        if let Some(t) = target(incidents, c) {
            targets.insert(t);
        }
        if let Some(o) = x.organisation {
            organisations.insert(o);
        }
        if let Some(d) = x.district {
            districts.insert(d);
        }
        if let Some(p) = x.phone {
            phones.insert(p);
        }
    }
    let category_code = top.map(|k| incidents.categories.value(k).to_owned()).unwrap_or_default();
    let category_name = taxonomy.get(&category_code).map_or(category_code.clone(), |c| c.name_zh.clone());
    let times: Vec<i64> = member_set.iter().map(|&c| incidents.list[c as usize].time).collect();
    let span = (times.iter().copied().min().unwrap_or(0), times.iter().copied().max().unwrap_or(0));
    let day = |t: i64| {
        chrono::DateTime::from_timestamp_micros(t + 8 * 3600 * MICROS_PER_SEC)
            .map(|d| d.format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let against = if organisations.len() >= targets.len() / 2 {
        format!("against {} organisations", organisations.len())
    } else {
        format!("at {} places", targets.len())
    };
    let shown = |b: f64| {
        if b > KIND_CAP {
            format!("{b:.0} bits, counted {KIND_CAP:.0}")
        } else if b < 0.5 {
            // A surname among a busy place's many callers: shown, but it hardly counts.
            "under 1 bit".to_owned()
        } else {
            format!("{b:.0} bits")
        }
    };
    let mut evidence = vec![format!(
        "{} caller(s) ({} resolved entities) using {} phone(s) filed {} {} call(s) {} in {} district(s) between {} and {}",
        group.len(),
        entities,
        phones.len(),
        member_calls,
        category_name,
        against,
        districts.len(),
        day(span.0),
        day(span.1)
    )];
    let count_of = |kind: TieKind| inner.iter().filter(|t| t.kind == kind).map(|t| t.count).sum::<u32>();
    if let Some(b) = bits.get("shared_phone") {
        evidence.push(format!(
            "callers whose names say they are different people share phones ({extra_users} use(s) of a phone by one more caller; {})",
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("co_target") {
        evidence.push(format!(
            "pairs of callers claimed against {} of the same targets, beyond what the targets' popularity explains ({})",
            count_of(TieKind::CoTarget),
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("same_script") {
        evidence.push(format!(
            "{} pair(s) of near-identical narratives about different targets far apart ({})",
            count_of(TieKind::Script),
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("attached") {
        let (why, n) = attached.iter().filter(|a| a.1 > 0.0).fold((None, 0), |(w, n), a| (w.or(Some(&a.2)), n + 1));
        evidence.push(format!(
            "{n} caller(s) joined the group, e.g. {} ({})",
            why.map_or("", String::as_str),
            shown(*b)
        ));
    }
    let aliases = attached.iter().filter(|a| a.1 <= 0.0).count();
    if aliases > 0 {
        evidence.push(format!(
            "{aliases} caller(s) give a member's full name on other phones: taken for that member, no evidence of a group"
        ));
    }
    if let Some(b) = bits.get("shared_mention") {
        evidence.push(format!(
            "members' calls name the same vehicle plates, phones or ID numbers ({shared_identifiers}, each counted once; {})",
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("same_hour") {
        evidence.push(format!(
            "members called about the same matter at one place within three hours of each other ({} occasion(s); {})",
            count_of(TieKind::SameHour),
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("same_district") {
        evidence.push(format!(
            "members are among the few serial claimants of the category at home in one district, more than its share explains ({})",
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("kin") {
        evidence.push(format!(
            "members are more people of one surname, with ID numbers of one region, calling about this than the surname and region's share of callers explains ({})",
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("names_other") {
        evidence.push(format!(
            "members name each other by full name ({} call(s); {})",
            count_of(TieKind::NamesOther),
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("named_together") {
        evidence.push(format!(
            "members fit the person named in the same report(s) ({} time(s); {})",
            count_of(TieKind::NamedTogether),
            shown(*b)
        ));
    }
    if let Some(b) = bits.get("serial_claims") {
        evidence.push(format!(
            "{serial_members} members each claimed against 3 or more different targets, as few callers of this kind do ({})",
            shown(*b)
        ));
    }
    if named_bits > 0.0 {
        let full = reports.iter().filter(|r| r.2.contains("full name")).count();
        evidence.push(format!(
            "{} report(s) by {} other caller(s) name a member ({} by full name, {} by surname; {})",
            report_calls.len(),
            reporters,
            full,
            reports.len() - full,
            shown(named_bits)
        ));
    }
    if kinds < 2 {
        evidence.push("one kind of evidence only: the score counts it half".to_owned());
    }
    if let Some((first, (degree, named))) = key_member {
        let names: Vec<&str> =
            callers.list[first as usize].iter().map(|&e| incidents.entities.value(e)).take(3).collect();
        evidence.push(format!(
            "key member {} (ties to {degree} of {} callers, named in {named} report(s))",
            names.join("/"),
            group.len().saturating_sub(1),
        ));
    }
    Description { evidence, category: category_code, targets: targets.len(), districts: districts.len(), span }
}

/// The key members of a group, best first: the most tied and most named callers (degree in the
/// group's tie graph plus reports naming them, then betweenness), with their entities that hold
/// any of the lead's calls.
struct KeyMembers {
    /// Member callers, key members first.
    callers: Vec<u32>,
    /// Degree and betweenness of each, same order.
    centrality: Vec<(u32, f64)>,
    /// Their entities, in the same order, each caller's busiest first.
    entities: Vec<u32>,
    /// The key member's ties and the reports naming them.
    first: Option<(u32, usize)>,
}

fn key_members(
    incidents: &Incidents,
    callers: &Callers,
    group: &[u32],
    inner: &[&Tie],
    reports: &[(u32, u32, &str)],
    calls: &[u32],
) -> KeyMembers {
    let mut graph: UnGraph<u32, f64> = UnGraph::new_undirected();
    let node_of: HashMap<u32, NodeIndex> = group.iter().map(|&c| (c, graph.add_node(c))).collect();
    for t in inner {
        if graph.find_edge(node_of[&t.a], node_of[&t.b]).is_none() {
            graph.add_edge(node_of[&t.a], node_of[&t.b], t.bits);
        }
    }
    let between = betweenness(&graph);
    let mut ranked: Vec<(u32, u32, f64, usize)> = group
        .iter()
        .map(|&c| {
            let n = node_of[&c];
            let named = reports.iter().filter(|(m, _, _)| *m == c).count();
            (c, graph.neighbors(n).count() as u32, between[n.index()], named)
        })
        .collect();
    ranked.sort_by(|x, y| {
        (y.3 + y.1 as usize, y.2).partial_cmp(&(x.3 + x.1 as usize, x.2)).unwrap_or(std::cmp::Ordering::Equal)
    });
    let lead_callers: Vec<u32> = ranked.iter().map(|r| r.0).collect();
    let centrality: Vec<(u32, f64)> = ranked.iter().map(|r| (r.1, r.2)).collect();
    let mut entities: Vec<u32> = Vec::new();
    for &c in &lead_callers {
        let mut own: Vec<u32> = callers.list[c as usize].clone();
        own.sort_by_key(|&e| {
            std::cmp::Reverse(calls.iter().filter(|&&x| incidents.list[x as usize].entity == e).count())
        });
        for e in own {
            if calls.iter().any(|&x| incidents.list[x as usize].entity == e) {
                entities.push(e);
            }
        }
    }

    KeyMembers { first: ranked.first().map(|r| (r.1, r.3)), callers: lead_callers, centrality, entities }
}

/// The callers each report's named person fits, each with the bits of its fit (see [`naming_bits`]).
pub fn report_fits(
    incidents: &Incidents,
    callers: &Callers,
    links: &[CallLink],
    rates: &ChanceRates,
) -> HashMap<u32, Vec<(u32, f64)>> {
    let mut fits_of_report: HashMap<u32, Vec<(u32, f64)>> = HashMap::new();
    for link in links.iter().filter(|l| l.evidence == Evidence::NamedPerson) {
        let list = fits_of_report.entry(link.b).or_default();
        let c = callers.of_call(incidents, link.a);
        let bits = naming_bits(&link.detail, rates);
        match list.iter_mut().find(|f| f.0 == c) {
            Some(f) => f.1 = f.1.max(bits),
            None => list.push((c, bits)),
        }
    }
    fits_of_report
}

/// How many reports by others name each caller, and their bits together (see [`naming_bits`]).
pub fn named_counts(
    incidents: &Incidents,
    callers: &Callers,
    links: &[CallLink],
    rates: &ChanceRates,
) -> HashMap<u32, (usize, f64)> {
    let mut reports: HashMap<u32, BTreeMap<u32, f64>> = HashMap::new();
    for link in links.iter().filter(|l| l.evidence == Evidence::NamedPerson) {
        let slot = reports.entry(callers.of_call(incidents, link.a)).or_default().entry(link.b).or_default();
        *slot = slot.max(naming_bits(&link.detail, rates));
    }
    reports.into_iter().map(|(c, r)| (c, (r.len(), r.values().sum()))).collect()
}

/// Callers a group can hold before its component is split into Louvain communities.
const MAX_GROUP_CALLERS: usize = 40;

/// Connected components of a weighted graph; a component of more than `max` nodes is split into
/// its Louvain communities. Returns each node's group number.
fn components_split(n: usize, edges: &[(u32, u32, f64)], max: usize) -> Vec<u32> {
    let mut parent: Vec<u32> = (0..n as u32).collect();
    for &(a, b, _) in edges {
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        if ra != rb {
            parent[ra.max(rb) as usize] = ra.min(rb);
        }
    }
    let roots: Vec<u32> = (0..n as u32).map(|x| find(&mut parent, x)).collect();
    let mut size: HashMap<u32, usize> = HashMap::new();
    for &r in &roots {
        *size.entry(r).or_default() += 1;
    }
    let mut group: Vec<u32> = roots.clone();
    let large: Vec<u32> = {
        let mut l: Vec<u32> = size.iter().filter(|(_, s)| **s > max).map(|(r, _)| *r).collect();
        l.sort_unstable();
        l
    };
    let mut next = n as u32;
    for root in large {
        let nodes: Vec<u32> = (0..n as u32).filter(|&x| roots[x as usize] == root).collect();
        let local: HashMap<u32, u32> = nodes.iter().enumerate().map(|(i, &x)| (x, i as u32)).collect();
        let sub: Vec<(u32, u32, f64)> = edges
            .iter()
            .filter(|(a, _, _)| roots[*a as usize] == root)
            .map(|&(a, b, w)| (local[&a], local[&b], w))
            .collect();
        let communities = louvain(nodes.len(), &sub);
        for (i, &x) in nodes.iter().enumerate() {
            group[x as usize] = next + communities[i];
        }
        next += communities.iter().copied().max().map_or(0, |m| m + 1);
    }
    group
}

/// The full names a caller gave, over its entities (a name may come more than once).
fn full_names_of<'a>(incidents: &'a Incidents, entities: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    entities.iter().flat_map(|e| incidents.full_names.get(e).into_iter().flatten().copied())
}

/// Bits a caller needs to join a group it has no tie with.
const ATTACH_BITS: f64 = 10.0;

/// The most a member's full name given by another caller says (one chance in a million).
const MAX_NAME_BITS: f64 = 20.0;

/// Who claimed against which target, for growing groups.
pub struct AttachIndex {
    /// Callers of each target.
    callers_of: HashMap<Target, Vec<u32>>,
    /// Calls on each target.
    calls_on: HashMap<Target, f64>,
    /// Calls of each category.
    calls_of_category: HashMap<u32, f64>,
    /// Callers' surnames and ID regions.
    kinship: Kinship,
    /// How many callers give each full name.
    callers_of_name: HashMap<u32, u32>,
    /// Callers who give any full name.
    named_callers: f64,
}

impl AttachIndex {
    /// Indexes every caller's targets.
    pub fn build(incidents: &Incidents, callers: &Callers) -> AttachIndex {
        let mut index = AttachIndex {
            callers_of: HashMap::new(),
            calls_on: HashMap::new(),
            calls_of_category: HashMap::new(),
            kinship: Kinship::build(incidents, callers),
            callers_of_name: HashMap::new(),
            named_callers: 0.0,
        };
        for entities in &callers.list {
            let names: BTreeSet<u32> = full_names_of(incidents, entities).collect();
            if !names.is_empty() {
                index.named_callers += 1.0;
            }
            for f in names {
                *index.callers_of_name.entry(f).or_default() += 1;
            }
        }
        for (c, calls) in callers.calls.iter().enumerate() {
            for &x in calls {
                *index.calls_of_category.entry(incidents.list[x as usize].category).or_default() += 1.0;
                if let Some(t) = target(incidents, x) {
                    *index.calls_on.entry(t).or_default() += 1.0;
                    let list = index.callers_of.entry(t).or_default();
                    if list.last() != Some(&(c as u32)) {
                        list.push(c as u32);
                    }
                }
            }
        }
        index
    }

    /// Callers not yet in a group who should join this one, with their bits as evidence of the
    /// group (less what a member's own name on another phone adds, which is one person) and why.
    #[allow(clippy::too_many_arguments)]
    pub fn attach(
        &self,
        incidents: &Incidents,
        callers: &Callers,
        group: &[u32],
        taken: &HashSet<u32>,
        fits_of_report: &HashMap<u32, Vec<(u32, f64)>>,
        named_callers: &HashMap<u32, (usize, f64)>,
    ) -> Vec<(u32, f64, String)> {
        let group_named = group.iter().any(|m| named_callers.contains_key(m));
        let mut category_calls: HashMap<u32, u32> = HashMap::new();
        for &m in group {
            for &x in &callers.calls[m as usize] {
                if target(incidents, x).is_some() {
                    *category_calls.entry(incidents.list[x as usize].category).or_default() += 1;
                }
            }
        }
        let Some((&category, &n_group)) = category_calls.iter().max_by_key(|(c, n)| (**n, std::cmp::Reverse(**c)))
        else {
            return Vec::new();
        };
        // Organisations only: a shared place needs the time of both calls, which ties weigh.
        let group_targets: HashSet<Target> = group
            .iter()
            .flat_map(|&m| callers.calls[m as usize].iter())
            .filter_map(|&x| target(incidents, x))
            .filter(|t| t.category() == category && matches!(t, Target::Organisation(..)))
            .collect();
        let mut overlap: HashMap<u32, u32> = HashMap::new();
        for t in &group_targets {
            for &x in self.callers_of.get(t).into_iter().flatten() {
                if !taken.contains(&x) && !group.contains(&x) {
                    *overlap.entry(x).or_default() += 1;
                }
            }
        }
        // Reports whose named person fits a member and x: how many, and x's fits' bits together.
        let mut named_with: HashMap<u32, (u32, f64)> = HashMap::new();
        for fits in fits_of_report.values() {
            if fits.iter().any(|(c, _)| group.contains(c)) {
                for &(x, bits) in fits {
                    if !taken.contains(&x) && !group.contains(&x) {
                        let slot = named_with.entry(x).or_default();
                        slot.0 += 1;
                        slot.1 += bits;
                    }
                }
            }
        }
        let full_names: HashSet<u32> =
            group.iter().flat_map(|&m| full_names_of(incidents, &callers.list[m as usize])).collect();
        let group_surnames: BTreeSet<u32> = group.iter().flat_map(|&m| self.kinship.surnames(m)).copied().collect();
        let name_chance_bits = {
            let members_named =
                group.iter().filter(|&&m| full_names_of(incidents, &callers.list[m as usize]).next().is_some()).count()
                    as f64;
            let mut holders: f64 =
                full_names.iter().map(|f| self.callers_of_name.get(f).copied().unwrap_or(0) as f64).sum();
            // The group's own members hold each of their names at least once.
            holders = (holders - full_names.len() as f64).max(1.0);
            let others = (self.named_callers - members_named).max(1.0);
            (-(holders / others).min(1.0).log2()).min(MAX_NAME_BITS)
        };
        let total = self.calls_of_category.get(&category).copied().unwrap_or(1.0).max(1.0);
        let mut candidates: Vec<u32> = overlap.keys().chain(named_with.keys()).copied().collect();
        if group_named {
            candidates.extend(named_callers.keys().filter(|c| !taken.contains(c) && !group.contains(c)));
        }
        candidates.sort_unstable();
        candidates.dedup();
        let mut out = Vec::new();
        for x in candidates {
            // Ordered: λ below is a float sum over it.
            let own: BTreeSet<Target> = callers.calls[x as usize]
                .iter()
                .filter_map(|&c| target(incidents, c))
                .filter(|t| t.category() == category && matches!(t, Target::Organisation(..)))
                .collect();
            if own.is_empty() || own.len() > MAX_SERIAL_TARGETS {
                continue;
            }
            let k = overlap.get(&x).copied().unwrap_or(0);
            // Given x's targets, how many would the group's calls hit by chance.
            let lambda: f64 = own
                .iter()
                .map(|t| 1.0 - (1.0 - self.calls_on.get(t).copied().unwrap_or(0.0) / total).powi(n_group as i32))
                .sum();
            let co_target = if k >= 2 { (-log2_poisson_tail(k, lambda)).clamp(0.0, MAX_TIE_BITS) } else { 0.0 };
            let named = named_with.get(&x).map_or(0.0, |n| n.1);
            let same_name = full_names_of(incidents, &callers.list[x as usize]).any(|f| full_names.contains(&f));
            // Any of the group's names could be shared by chance: the share of the other named
            // callers who give one of them, each name counted by how many callers give it.
            let name_bits = if same_name { name_chance_bits } else { 0.0 };
            // Named by victims too, as the group is: each report at its naming's bits.
            let (own_reports, own_named) =
                if group_named { named_callers.get(&x).copied().unwrap_or((0, 0.0)) } else { (0, 0.0) };
            // A member's surname, less the chance of meeting any of the group's surnames.
            let kin = group.iter().filter_map(|&m| self.kinship.between(x, m)).fold(0.0, f64::max);
            let kin = if kin > 0.0 { (kin - (group_surnames.len().max(1) as f64).log2()).max(0.0) } else { 0.0 };
            let bits = co_target + named + name_bits + own_named + kin;
            // A report names a surname, which many share: it joins a caller who also claimed
            // against one of the group's own targets, or who gives a member's full name.
            if bits >= ATTACH_BITS && (k >= 1 || same_name) {
                let mut why = Vec::new();
                if co_target > 0.0 {
                    why.push(format!("{k} of its targets are the group's where chance explains {lambda:.1}"));
                }
                if named > 0.0 {
                    why.push(format!("fits the person named in {} report(s) with a member", named_with[&x].0));
                }
                if same_name {
                    why.push("gives a member's full name".to_owned());
                } else if kin > 0.0 {
                    why.push("gives a member's surname".to_owned());
                }
                if own_reports > 0 {
                    why.push(format!("named in {own_reports} report(s) of its own"));
                }
                // A member's own name on another phone is one person resolution kept apart: it
                // grows the group's calls, but is no evidence that the group is organised.
                out.push((x, bits - name_bits, why.join("; ")));
            }
        }
        out
    }
}

/// How many callers of each category claimed against at least d different targets.
struct SerialTail {
    /// Per category: callers with exactly d targets (index d), and in all.
    counts: HashMap<u32, Vec<u64>>,
}

impl SerialTail {
    fn build(incidents: &Incidents, callers: &Callers) -> SerialTail {
        let mut counts: HashMap<u32, Vec<u64>> = HashMap::new();
        for calls in &callers.calls {
            let mut by_category: HashMap<u32, Vec<Target>> = HashMap::new();
            for &x in calls {
                if let Some(t) = target(incidents, x) {
                    by_category.entry(t.category()).or_default().push(t);
                }
            }
            for (c, mut list) in by_category {
                list.sort_unstable();
                list.dedup();
                let slot = counts.entry(c).or_default();
                if slot.len() <= list.len() {
                    slot.resize(list.len() + 1, 0);
                }
                slot[list.len()] += 1;
            }
        }
        SerialTail { counts }
    }

    /// How many of the category's callers have at least `d` targets.
    fn at_least(&self, category: u32, d: usize) -> u64 {
        self.counts.get(&category).map_or(0, |counts| counts.iter().skip(d).sum())
    }

    /// −log₂ of the share of the category's callers with at least `d` targets (at most 20).
    fn bits(&self, category: u32, d: usize) -> f64 {
        let Some(counts) = self.counts.get(&category) else { return 0.0 };
        let all: u64 = counts.iter().sum();
        let tail: u64 = counts.iter().skip(d).sum();
        if all == 0 {
            return 0.0;
        }
        (-(tail.max(1) as f64 / all as f64).log2()).clamp(0.0, 20.0)
    }
}

/// Calls of a group that carry its evidence: those on shared phones and targets, near-identical
/// narratives, and those a report names.
fn evidence_calls(
    incidents: &Incidents,
    callers: &Callers,
    group: &[u32],
    ties: &[&Tie],
    links: &[CallLink],
    in_group: &HashSet<u32>,
) -> Vec<u32> {
    let mut shared_targets: HashSet<Target> = HashSet::new();
    let mut shared_phones: HashSet<u32> = HashSet::new();
    let mut target_owners: HashMap<Target, HashSet<u32>> = HashMap::new();
    let mut phone_owners: HashMap<u32, HashSet<u32>> = HashMap::new();
    for &c in group {
        for &call in &callers.calls[c as usize] {
            if let Some(t) = target(incidents, call) {
                target_owners.entry(t).or_default().insert(c);
            }
            if let Some(p) = incidents.list[call as usize].phone {
                phone_owners.entry(p).or_default().insert(c);
            }
        }
    }
    if ties.iter().any(|t| t.kind == TieKind::CoTarget) {
        shared_targets.extend(target_owners.iter().filter(|(_, o)| o.len() > 1).map(|(t, _)| *t));
    }
    if ties.iter().any(|t| t.kind == TieKind::SharedPhone) {
        shared_phones.extend(phone_owners.iter().filter(|(_, o)| o.len() > 1).map(|(p, _)| *p));
    }
    let mut mention_owners: HashMap<u32, HashSet<u32>> = HashMap::new();
    if ties.iter().any(|t| t.kind == TieKind::SharedMention) {
        for &c in group {
            for &call in &callers.calls[c as usize] {
                let own = incidents.own_mentioned.get(&call).into_iter().flatten();
                for &v in incidents.mentions.get(&call).into_iter().flatten().chain(own) {
                    mention_owners.entry(v).or_default().insert(c);
                }
            }
        }
    }
    let shared_mention = |call: u32| {
        let own = incidents.own_mentioned.get(&call).into_iter().flatten();
        incidents
            .mentions
            .get(&call)
            .into_iter()
            .flatten()
            .chain(own)
            .any(|v| mention_owners.get(v).is_some_and(|o| o.len() > 1))
    };
    let mut out: Vec<u32> = ties.iter().flat_map(|t| t.calls.iter().copied()).collect();
    for &c in group {
        for &call in &callers.calls[c as usize] {
            let x = &incidents.list[call as usize];
            if shared_mention(call) {
                out.push(call);
                continue;
            }
            let on_target = target(incidents, call).is_some_and(|t| shared_targets.contains(&t));
            let on_phone = x.phone.is_some_and(|p| shared_phones.contains(&p));
            if on_target || on_phone {
                out.push(call);
            }
        }
    }
    for link in links {
        let pair = match link.evidence {
            Evidence::SimilarNarrative | Evidence::NamedPerson => (link.a, link.b),
            _ => continue,
        };
        for call in [pair.0, pair.1] {
            if in_group.contains(&callers.of_call(incidents, call)) && incidents.list[call as usize].source.is_none() {
                let other = if call == pair.0 { pair.1 } else { pair.0 };
                if link.evidence == Evidence::NamedPerson || in_group.contains(&callers.of_call(incidents, other)) {
                    out.push(call);
                }
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::load::{CallerName, Incident};

    /// One call: entity, phone, surname, full name, female.
    type Call<'a> = (u32, u32, &'a str, Option<&'a str>, Option<bool>);

    /// Chance rates of a typical warehouse, for tests that weigh names.
    fn rates() -> ChanceRates {
        ChanceRates {
            shared_phone_bits: 9.0,
            script_pair_bits: 9.0,
            full_name_bits: 14.0,
            surname_bits: 6.0,
            mention_bits: [5.0; 3],
            identifier_bits: HashMap::new(),
        }
    }

    /// Incidents of these calls, in this order.
    fn incidents(calls: &[Call<'_>]) -> Incidents {
        let mut incidents = Incidents::default();
        for (i, &(entity, phone, surname, full, female)) in calls.iter().enumerate() {
            while incidents.entities.len() <= entity as usize {
                let next = incidents.entities.len();
                incidents.entities.intern(&format!("E{next}"));
            }
            let full = full.map(|f| incidents.pinyins.intern(f));
            if let Some(f) = full {
                incidents.full_names.entry(entity).or_default().push(f);
            }
            incidents.call_ids.push(format!("C{i}"));
            incidents.list.push(Incident {
                time: i as i64,
                entity,
                phone: Some(phone),
                category: 0,
                district: None,
                cell: None,
                point: None,
                organisation: None,
                source: None,
                caller: CallerName { surname: Some(incidents.pinyins.intern(surname)), full, female },
                language: 0,
            });
        }
        incidents
    }

    #[test]
    fn callers_who_each_repeat_a_rare_clause_share_a_script_and_a_heavy_caller_does_not() {
        // Entities 0 and 1 (two calls each) and 2 (nine calls) with their own phones and names;
        // 3 and 4 are strangers who use the clause once each.
        let mut calls: Vec<Call<'_>> = vec![(0, 0, "xiao", None, None), (0, 0, "xiao", None, None)];
        calls.extend([(1, 1, "xiao", None, None), (1, 1, "xiao", None, None)]);
        calls.extend((0..9).map(|_| (2, 2, "wang", None, None)));
        calls.extend([(3, 3, "li", None, None), (4, 4, "zhao", None, None)]);
        let mut incidents = incidents(&calls);
        let script = "其称已多次协商无果，要求依法处理并书面答复。";
        let mut narratives = Vec::new();
        for (i, x) in incidents.list.iter_mut().enumerate() {
            // Every call about its own organisation, in districts that alternate.
            x.organisation = Some(i as u32);
            x.district = Some(i as u32 % 2);
            let own = format!("来电人称第{i}家物业停其家水电");
            let heavy_without = x.entity == 2 && i % 5 != 0;
            narratives.push(if heavy_without { format!("{own}。") } else { format!("{own}，{script}") });
        }
        incidents.phrases = crate::link::load::shared_phrases(&incidents.list, &narratives);
        let callers = Callers::build(&incidents);
        let mut out = Vec::new();
        script_ties(&incidents, &callers, &[], &mut out);
        let pairs: Vec<(u32, u32)> = out
            .iter()
            .filter(|t| t.kind == TieKind::Script)
            .map(|t| (callers.list[t.a as usize][0], callers.list[t.b as usize][0]))
            .collect();
        assert_eq!(pairs, [(0, 1)], "{out:?}");
        let tie = out.iter().find(|t| t.kind == TieKind::Script).expect("a script tie");
        assert_eq!(tie.calls, [0, 1, 2, 3], "the calls that show it");
    }

    #[test]
    fn meetings_half_a_day_apart_are_two_occasions_and_a_night_across_midnight_is_one() {
        let at = |text: &str| crate::contract::timestamp::parse_timestamp(text).expect("a timestamp");
        // One night at a bar, 23:30 to 00:30 local: one occasion, though two calendar days.
        let night: BTreeSet<i64> = [at("2023-05-01 23:30:00"), at("2023-05-02 00:30:00")].into();
        assert_eq!(occasions(&night), 1);
        // Two mornings, and that night: three.
        let mut more = night.clone();
        more.extend([at("2023-05-03 09:00:00"), at("2023-05-04 09:00:00"), at("2023-05-04 10:00:00")]);
        assert_eq!(occasions(&more), 3);
        assert_eq!(occasions(&BTreeSet::new()), 0);
    }

    #[test]
    fn a_template_many_strangers_share_ties_nobody_and_a_made_up_sentence_does() {
        // Entities 0 and 1 (three calls each) and ten strangers (2–11, two calls each) tell their
        // story in one template; 200 more strangers (12–211) each in their own words; 212 and 213
        // (three calls each) share a sentence nobody else uses.
        let mut calls: Vec<Call<'_>> = Vec::new();
        calls.extend((0..3).map(|_| (0, 0, "wang", None, None)));
        calls.extend((0..3).map(|_| (1, 1, "li", None, None)));
        for e in 2..212 {
            calls.extend((0..2).map(|_| (e, e, "zhang", None, None)));
        }
        calls.extend((0..3).map(|_| (212, 212, "zhao", None, None)));
        calls.extend((0..3).map(|_| (213, 213, "chen", None, None)));
        let mut incidents = incidents(&calls);
        for (i, x) in incidents.list.iter_mut().enumerate() {
            // Every call about its own organisation, in its own district.
            x.organisation = Some(i as u32);
            x.district = Some(i as u32);
        }
        let of = |entities: std::ops::Range<u32>| -> Vec<u32> {
            (0..calls.len() as u32).filter(|&c| entities.contains(&calls[c as usize].0)).collect()
        };
        let mut links = Vec::new();
        for set in [of(0..12), of(212..214)] {
            for (i, &a) in set.iter().enumerate() {
                for &b in &set[i + 1..] {
                    links.push(CallLink {
                        a,
                        b,
                        evidence: Evidence::SimilarNarrative,
                        weight: 1.0,
                        detail: String::new(),
                    });
                }
            }
        }
        let callers = Callers::build(&incidents);
        let mut out = Vec::new();
        script_ties(&incidents, &callers, &links, &mut out);
        let bits = |x: u32, y: u32| {
            let (cx, cy) = (callers.of_entity[x as usize], callers.of_entity[y as usize]);
            out.iter().filter(|t| (t.a, t.b) == (cx.min(cy), cx.max(cy))).map(|t| t.bits).sum::<f64>()
        };
        // Nine alike pairs each; the template's users pair with everyone who uses it.
        assert!(bits(0, 1) < MIN_TIE_BITS, "template users: {} bits", bits(0, 1));
        assert!(bits(212, 213) >= 30.0, "made-up sentence: {} bits", bits(212, 213));
    }

    #[test]
    fn one_phone_joins_one_persons_names_but_not_a_family() {
        let x = incidents(&[
            // 肖斌生 and 肖红霞 on one phone: a family.
            (0, 0, "xiao", Some("xiaobinsheng"), Some(false)),
            (1, 0, "xiao", Some("xiaohongxia"), Some(true)),
            // 李小 who once said 李芳: one person.
            (2, 1, "li", Some("lixiao"), Some(false)),
            (3, 1, "li", Some("lifang"), None),
            // 王先生 (no full name) and 王建国: one person.
            (4, 2, "wang", None, Some(false)),
            (5, 2, "wang", Some("wangjianguo"), Some(false)),
            // Another surname on that phone: somebody else.
            (6, 2, "chen", Some("chenchao"), Some(false)),
            // 赵洁菲 on two phones: one person.
            (7, 3, "zhao", Some("zhaojiefei"), Some(true)),
            (8, 4, "zhao", Some("zhaojiefei"), Some(true)),
            // 胡丽 and 胡静, sisters on one phone, each going by her own name on two calls: two
            // people, and 胡女士 on that phone (no full name) could be either, so joins neither.
            (9, 5, "hu", Some("huli"), Some(true)),
            (9, 5, "hu", Some("huli"), Some(true)),
            (10, 5, "hu", Some("hujing"), Some(true)),
            (10, 5, "hu", Some("hujing"), Some(true)),
            (11, 5, "hu", None, Some(true)),
            // 胡强 on another phone with 胡先生: one person.
            (12, 6, "hu", Some("huqiang"), Some(false)),
            (13, 6, "hu", None, Some(false)),
            // 卢彦亮, twice typed 卢彦靓 (one character of three): one person.
            (14, 7, "lu", Some("luyanliang"), None),
            (14, 7, "lu", Some("luyanliang"), None),
            (15, 7, "lu", Some("luyanjing"), None),
            (15, 7, "lu", Some("luyanjing"), None),
        ]);
        let mut x = x;
        for (full, syllables) in [("luyanliang", ["lu", "yan", "liang"]), ("luyanjing", ["lu", "yan", "jing"])] {
            let f = x.pinyins.get(full).unwrap();
            let list = syllables.iter().map(|s| x.pinyins.intern(s)).collect();
            x.syllables.insert(f, list);
        }
        let callers = Callers::build(&x);
        let caller = |e: usize| callers.of_entity[e];
        assert_ne!(caller(0), caller(1));
        assert_eq!(caller(2), caller(3));
        assert_eq!(caller(4), caller(5));
        assert_ne!(caller(5), caller(6));
        assert_eq!(caller(7), caller(8));
        assert_ne!(caller(9), caller(10));
        assert_ne!(caller(11), caller(9));
        assert_ne!(caller(11), caller(10));
        assert_eq!(caller(12), caller(13));
        assert_eq!(caller(14), caller(15));
    }

    /// A city of ten districts: 400 one-off callers of category 0 and ten serial claimants (three
    /// businesses each), one at home in each district, beside six more serial claimants at home
    /// in `team_district(m)`, their calls interleaved with the others' in time.
    fn serial_claimants_beside(team_district: impl Fn(u32) -> u32) -> (Incidents, Callers) {
        let mut calls: Vec<(u32, u32)> = (0..400).map(|i| (i, i % 10)).collect();
        for _ in 0..3 {
            calls.extend((0..10).map(|s| (400 + s, s)));
            calls.extend((0..6).map(|m| (410 + m, team_district(m))));
        }
        let list: Vec<Call<'_>> = calls.iter().map(|&(e, _)| (e, e, "x", None, None)).collect();
        let mut x = incidents(&list);
        for (i, (call, &(_, district))) in x.list.iter_mut().zip(&calls).enumerate() {
            call.district = Some(district);
            call.organisation = Some(i as u32);
        }
        let callers = Callers::build(&x);
        (x, callers)
    }

    #[test]
    fn serial_claimants_gathered_in_one_district_are_tied_and_spread_ones_are_not() {
        let (x, callers) = serial_claimants_beside(|_| 3);
        let (found, _) = ties(&x, &callers, &[]);
        let gathered: Vec<&Tie> = found.iter().filter(|t| t.kind == TieKind::SameDistrict).collect();
        // The six and the one other claimant at home there, chained: six ties sharing the bits.
        assert_eq!(gathered.len(), 6, "{gathered:?}");
        let members: BTreeSet<u32> = gathered.iter().flat_map(|t| [t.a, t.b]).collect();
        let expected: BTreeSet<u32> = (410..416).chain([403]).map(|e| callers.of_entity[e]).collect();
        assert_eq!(members, expected);
        let bits: f64 = gathered.iter().map(|t| t.bits).sum();
        assert!(bits > 10.0, "{bits} bits");

        // The same six spread over the districts as everybody else is: nothing.
        let (x, callers) = serial_claimants_beside(|m| (m * 3) % 10);
        let (found, _) = ties(&x, &callers, &[]);
        assert!(found.iter().all(|t| t.kind != TieKind::SameDistrict));
    }

    /// A year of category-0 calls: 400 one-off callers, `background` serial claimants with four
    /// branches each spread over the year, and a team of three with four branches each who share
    /// one branch per pair; the team's calls fall in six weeks unless `team_all_year`.
    fn a_team_of_serial_claimants(background: u32, team_all_year: bool) -> (Incidents, Callers) {
        let day = crate::link::evidence::DAY;
        // (entity, organisation, day)
        let mut calls: Vec<(u32, u32, i64)> = (0..400).map(|i| (i, 1000 + i, i64::from(i) * 365 / 400)).collect();
        for s in 0..background {
            calls.extend((0..4).map(|j| (400 + s, 2000 + 4 * s + j, i64::from(s * 7 + j * 90))));
        }
        let team = 400 + background;
        let branches = [[1, 2, 10, 11], [1, 3, 12, 13], [2, 3, 14, 15]];
        for (m, list) in branches.iter().enumerate() {
            for (j, &o) in list.iter().enumerate() {
                let when = if team_all_year && m == 1 { j as i64 * 110 } else { 100 + 10 * j as i64 + m as i64 };
                calls.push((team + m as u32, o, when));
            }
        }
        calls.sort_by_key(|c| c.2);
        let list: Vec<Call<'_>> = calls.iter().map(|&(e, _, _)| (e, e, "x", None, None)).collect();
        let mut x = incidents(&list);
        for (call, &(_, o, when)) in x.list.iter_mut().zip(&calls) {
            call.organisation = Some(o);
            call.district = Some(o % 10);
            call.time = when * day;
        }
        let callers = Callers::build(&x);
        (x, callers)
    }

    #[test]
    fn serial_claimants_of_one_campaign_sharing_one_branch_a_pair_are_tied() {
        let pairs = |background: u32, all_year: bool| -> BTreeSet<(u32, u32)> {
            let (x, callers) = a_team_of_serial_claimants(background, all_year);
            let team: Vec<u32> = (0..3).map(|m| callers.of_entity[(400 + background + m) as usize]).collect();
            let (found, _) = ties(&x, &callers, &[]);
            found
                .iter()
                .filter(|t| t.kind == TieKind::CoTarget && team.contains(&t.a) && team.contains(&t.b))
                .map(|t| (t.a, t.b))
                .collect()
        };
        // Among 8 claimants as wide, the team's three pairs (one branch each) are tied.
        assert_eq!(pairs(5, false).len(), 3);
        // One member who claims all year is no part of the six weeks' campaign.
        assert_eq!(pairs(5, true).len(), 1);
        // Among 23 as wide, one branch in common is what their volume explains.
        assert!(pairs(20, false).is_empty());
    }

    #[test]
    fn a_name_three_serial_claimants_of_a_category_give_is_one_person_and_a_common_one_is_not() {
        // 2,000 named callers of other matters, among them four more 王友 and forty 张伟.
        let mut names: Vec<String> = (0..2000).map(|i| format!("x{i}")).collect();
        for (i, name) in names.iter_mut().enumerate().take(44) {
            *name = if i < 4 { "wangyou".into() } else { "zhangwei".into() };
        }
        let mut calls: Vec<Call<'_>> =
            names.iter().enumerate().map(|(i, n)| (i as u32, i as u32, "x", Some(n.as_str()), None)).collect();
        // Serial claimants of category 0, each on its own phone with three targets of its own:
        // three give 王友 (one person with three phones), two give 张伟.
        let serial = [(2000, "wangyou"), (2001, "wangyou"), (2002, "wangyou"), (2003, "zhangwei"), (2004, "zhangwei")];
        for (e, name) in serial {
            calls.extend((0..3).map(|_| (e, e, "wang", Some(name), None)));
        }
        let mut x = incidents(&calls);
        for (i, call) in x.list.iter_mut().enumerate() {
            if i < 2000 {
                call.category = 1;
            } else {
                call.organisation = Some(i as u32);
            }
        }
        let callers = Callers::build(&x);
        let caller = |e: usize| callers.of_entity[e];
        assert_eq!(caller(2000), caller(2001));
        assert_eq!(caller(2000), caller(2002));
        assert_ne!(caller(2003), caller(2004), "a name one caller in fifty gives is no evidence");
        assert_ne!(caller(0), caller(2000), "nor is the name itself, outside the serial claimants");
    }

    #[test]
    fn a_weak_overlap_of_two_targets_counts_against_every_pair_that_shares_one() {
        // 2,400 strangers (entities 0–2399) call once each about one of 40 organisations, 60 to
        // each, so some 70,000 pairs share a target. 2400 and 2401 call three times each about
        // organisations 0 and 1 (about 6.6 bits): the only pair that shares two, but one of
        // thousands that could have, so no tie. 2402 and 2403 both call about organisations 10
        // to 14, which chance hardly explains (about 15 bits): a tie.
        let surnames: Vec<String> = (0..2404).map(|i| format!("s{i}")).collect();
        let mut calls: Vec<Call<'_>> = (0..2400).map(|i| (i, i, surnames[i as usize].as_str(), None, None)).collect();
        let mut targets: Vec<u32> = (0..2400).map(|i| i % 40).collect();
        let claims: [(u32, &[u32]); 4] =
            [(2400, &[0, 1, 0]), (2401, &[0, 1, 1]), (2402, &[10, 11, 12, 13, 14]), (2403, &[10, 11, 12, 13, 14])];
        for (entity, list) in claims {
            for &t in list {
                calls.push((entity, entity, surnames[entity as usize].as_str(), None, None));
                targets.push(t);
            }
        }
        let mut incidents = incidents(&calls);
        for (x, t) in incidents.list.iter_mut().zip(&targets) {
            x.organisation = Some(*t);
        }
        let callers = Callers::build(&incidents);
        let (ties, _) = ties(&incidents, &callers, &[]);
        let pairs: Vec<(u32, u32, u32)> = ties
            .iter()
            .filter(|t| t.kind == TieKind::CoTarget)
            .map(|t| (callers.list[t.a as usize][0], callers.list[t.b as usize][0], t.count))
            .collect();
        assert_eq!(pairs, [(2402, 2403, 5)], "{ties:?}");
    }

    #[test]
    fn a_claimant_with_a_members_rare_surname_joins_the_group_and_a_stranger_with_the_same_claims_does_not() {
        // 2,000 strangers (entities 10–2009) surnamed wang, one claim each over 40 clinics; the
        // group (0 and 1, surnamed lu) claims against clinics 0–5 twice each; 2 (lu) and 3 (wang)
        // each claim against clinics 0 and 1 once, on phones of their own.
        let mut calls: Vec<Call<'_>> = Vec::new();
        let mut clinics: Vec<u32> = Vec::new();
        for member in 0..2 {
            for clinic in 0..6 {
                calls.extend([(member, member, "lu", None, None), (member, member, "lu", None, None)]);
                clinics.extend([clinic, clinic]);
            }
        }
        for (entity, surname) in [(2, "lu"), (3, "wang")] {
            calls.extend([(entity, entity, surname, None, None), (entity, entity, surname, None, None)]);
            clinics.extend([0, 1]);
        }
        for stranger in 10..2010 {
            calls.push((stranger, stranger, "wang", None, None));
            clinics.push(stranger % 40);
        }
        let mut incidents = incidents(&calls);
        for (x, clinic) in incidents.list.iter_mut().zip(&clinics) {
            x.organisation = Some(*clinic);
            x.district = Some(0);
        }
        let callers = Callers::build(&incidents);
        let index = AttachIndex::build(&incidents, &callers);
        let caller = |e: u32| callers.of_entity[e as usize];
        let group = [caller(0), caller(1)];
        let found = index.attach(&incidents, &callers, &group, &HashSet::new(), &HashMap::new(), &HashMap::new());
        let joined: Vec<u32> = found.iter().map(|f| callers.list[f.0 as usize][0]).collect();
        assert_eq!(joined, [2], "{found:?}");
        assert!(found[0].2.contains("surname"), "{}", found[0].2);
        // Kin, by surname; and not where ID numbers of two regions say otherwise.
        let kinship = Kinship::build(&incidents, &callers);
        assert!(kinship.between(caller(0), caller(2)).is_some_and(|b| b > 9.0));
        assert_eq!(kinship.between(caller(0), caller(3)), None);
        let mut documented = incidents;
        documented.id_regions.extend([(0, (420_502, 1)), (24, (110_101, 2))]);
        let kinship = Kinship::build(&documented, &callers);
        assert_eq!(kinship.between(caller(0), caller(2)), None, "IDs of two regions");
    }

    #[test]
    fn a_family_of_one_surname_and_region_at_work_in_one_category_is_tied_and_three_such_strangers_are_not() {
        // 2,000 strangers over 20 categories, 50 surnames and 7 regions, one call each; a family
        // of six (zhong, region 420505, an ID number each) calling twice each in category 0;
        // three more zhong of that region in category 1.
        let names: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
        let mut calls: Vec<Call<'_>> = Vec::new();
        let mut facts: Vec<(u32, u32, u64)> = Vec::new();
        for e in 0..2000u32 {
            calls.push((e, e, names[e as usize % 50].as_str(), None, None));
            facts.push((e % 20, 100_000 + e % 7, u64::from(e)));
        }
        for member in 0..6u32 {
            for _ in 0..2 {
                calls.push((2000 + member, 2000 + member, "zhong", None, None));
                facts.push((0, 420_505, 10_000 + u64::from(member)));
            }
        }
        for stranger in 0..3u32 {
            calls.push((2006 + stranger, 2006 + stranger, "zhong", None, None));
            facts.push((1, 420_505, 20_000 + u64::from(stranger)));
        }
        let mut incidents = incidents(&calls);
        for (i, (category, region, id)) in facts.into_iter().enumerate() {
            incidents.list[i].category = category;
            incidents.id_regions.insert(i as u32, (region, id));
        }
        let callers = Callers::build(&incidents);
        let found = kin_ties(&incidents, &callers);
        let mut tied: Vec<u32> =
            found.iter().flat_map(|t| [callers.list[t.a as usize][0], callers.list[t.b as usize][0]]).collect();
        tied.sort_unstable();
        tied.dedup();
        assert_eq!(tied, (2000..2006).collect::<Vec<u32>>(), "{found:?}");
        // A chain sharing the bits, each tie shown by both ends' calls of the category.
        assert_eq!(found.len(), 5);
        assert!(found.iter().all(|t| t.kind == TieKind::Kin && t.calls.len() == 4), "{found:?}");
        let bits: f64 = found.iter().map(|t| t.bits).sum();
        assert!(bits > 15.0, "{bits}");
    }

    #[test]
    fn repeat_callers_of_one_surname_at_home_in_one_district_are_kin_unless_placed_elsewhere() {
        // 1,000 strangers of 50 surnames in 5 districts, one call each; 40 repeat callers of
        // category 0 (three days each) of 40 surnames, 8 at home in each district; six zhong at
        // home in district 0, repeat callers of category 0, the last of them already tied by
        // other evidence to stranger 0.
        let names: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
        let mut calls: Vec<Call<'_>> = Vec::new();
        let mut facts: Vec<(u32, i64)> = Vec::new();
        for e in 0..1000u32 {
            calls.push((e, e, names[e as usize % 50].as_str(), None, None));
            facts.push((e % 5, i64::from(e % 300)));
        }
        for r in 0..40u32 {
            for day in 0..3 {
                calls.push((1000 + r, 1000 + r, names[r as usize].as_str(), None, None));
                facts.push((r % 5, i64::from(10 * r) + day));
            }
        }
        for m in 0..6u32 {
            for day in 0..3 {
                calls.push((1040 + m, 1040 + m, "zhong", None, None));
                facts.push((0, i64::from(20 * m) + 7 * day));
            }
        }
        let mut x = incidents(&calls);
        for (i, (district, day)) in facts.into_iter().enumerate() {
            x.list[i].district = Some(district);
            x.list[i].time = day * DAY;
            x.list[i].category = u32::from(x.list[i].entity < 1000);
        }
        let callers = Callers::build(&x);
        let caller = |e: u32| callers.of_entity[e as usize];
        let placed: HashMap<u32, Vec<u32>> = [(caller(1045), vec![caller(0)]), (caller(0), vec![caller(1045)])].into();
        let found = home_kin_ties(&x, &callers, &placed);
        let mut tied: Vec<u32> =
            found.iter().flat_map(|t| [callers.list[t.a as usize][0], callers.list[t.b as usize][0]]).collect();
        tied.sort_unstable();
        tied.dedup();
        assert_eq!(tied, (1040..1045).collect::<Vec<u32>>(), "{found:?}");
        assert_eq!(found.len(), 4, "a chain");
        assert!(found.iter().all(|t| t.kind == TieKind::Kin && t.calls.len() == 6), "{found:?}");
        let bits: f64 = found.iter().map(|t| t.bits).sum();
        assert!(bits > 10.0, "{bits}");
        // Unplaced, the sixth joins the chain.
        assert_eq!(home_kin_ties(&x, &callers, &HashMap::new()).len(), 5);
    }

    #[test]
    fn a_surname_among_many_callers_who_could_fit_says_less_than_among_few() {
        let rates = rates();
        let one = naming_bits("named by surname and sex, one of 1 caller(s) there", &rates);
        let few = naming_bits("named by surname, one of 3 caller(s) there", &rates);
        let many = naming_bits("named by surname, one of 200 caller(s) there", &rates);
        assert!((one - 6.0).abs() < 1e-9, "{one}");
        // 1 − (63/64)³ ≈ 0.046: about 4.4 bits.
        assert!((4.3..4.6).contains(&few), "{few}");
        // Among 200 some stranger almost surely has the surname.
        assert!(many < 0.1, "{many}");
        assert_eq!(naming_bits("named by full name, one of 200 caller(s) there", &rates), 14.0);
        // A link written before the count was recorded weighs as the surname rate.
        assert!((naming_bits("named by surname", &rates) - 6.0).abs() < 1e-9);
    }

    #[test]
    fn a_rare_full_name_in_anothers_words_names_that_caller() {
        let mut x = incidents(&[
            (0, 0, "xiao", Some("xiaobinsheng"), Some(false)),
            (1, 1, "xiao", Some("xiaohongxia"), Some(true)),
            (2, 2, "zhang", Some("zhangwei"), Some(false)),
        ]);
        for e in 3..7 {
            x.entities.intern(&format!("E{e}"));
            let f = x.pinyins.get("zhangwei").unwrap();
            x.full_names.entry(e).or_default().push(f);
        }
        let hongxia = x.pinyins.get("xiaohongxia").unwrap();
        let zhangwei = x.pinyins.get("zhangwei").unwrap();
        // 肖斌生's call names 肖红霞, and 张伟, whom five resolved callers call themselves.
        x.name_mentions.insert(0, vec![hongxia, zhangwei]);
        let callers = Callers::build(&x);
        let found = full_name_mentions(&x, &callers, &[]);
        assert_eq!(found.into_iter().collect::<Vec<_>>(), [(0, callers.of_entity[1])]);
    }

    #[test]
    fn a_caller_who_calls_every_day_meets_neighbours_by_chance_and_two_who_meet_on_six_days_are_tied() {
        const HOUR: i64 = 3_600_000_000;
        // At one spot: a caller (entity 2) at noon every day, and 40 neighbours (10–49) at noon
        // on two days each. Five kilometres away: 3,000 callers (100 and up) twice each at any
        // hour, and two (0 and 1) who call within the hour of each other on six days.
        let home = (114.0, 30.0);
        let away = (114.05, 30.0);
        let mut plan: Vec<(u32, i64, (f64, f64))> = Vec::new();
        for day in 0..364 {
            plan.push((2, day * DAY + 12 * HOUR, home));
        }
        for n in 0..40 {
            for day in [n * 9, n * 9 + 4] {
                plan.push((10 + n as u32, day * DAY + 12 * HOUR, home));
            }
        }
        let mut seed: u64 = 7;
        let mut next = |m: u64| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 33) % m
        };
        for c in 0..3_000 {
            for _ in 0..2 {
                plan.push((100 + c, next(364) as i64 * DAY + next(24) as i64 * HOUR, away));
            }
        }
        for day in [20, 75, 130, 190, 250, 310] {
            plan.push((0, day * DAY + 20 * HOUR, away));
            plan.push((1, day * DAY + 20 * HOUR + HOUR / 2, away));
        }
        let calls: Vec<Call<'_>> = plan.iter().map(|&(e, _, _)| (e, e, "wang", None, None)).collect();
        let mut incidents = incidents(&calls);
        for (x, &(_, time, point)) in incidents.list.iter_mut().zip(&plan) {
            x.time = time;
            x.point = Some(point);
            x.district = Some(0);
        }
        let callers = Callers::build(&incidents);
        let caller = |e: u32| callers.of_entity[e as usize];
        let ties = same_hour_ties(&incidents, &callers);
        let heavy: Vec<&Tie> = ties.iter().filter(|t| t.a == caller(2) || t.b == caller(2)).collect();
        assert!(heavy.is_empty(), "{heavy:?}");
        let pair = ties.iter().find(|t| (t.a, t.b) == (caller(0).min(caller(1)), caller(0).max(caller(1))));
        assert!(pair.is_some_and(|t| t.count == 6 && t.bits >= 20.0), "{pair:?}");
    }

    #[test]
    fn a_tie_between_two_members_counts_once_in_their_lead() {
        // Two callers of three calls each, tied once: four days at one place, 20 bits.
        let calls: Vec<Call<'_>> =
            (0..6).map(|i| (i / 3, i / 3, if i < 3 { "wang" } else { "li" }, None, None)).collect();
        let mut incidents = incidents(&calls);
        incidents.categories.intern("DISPUTE.CONSUMER");
        let callers = Callers::build(&incidents);
        let (a, b) = (callers.of_entity[0].min(callers.of_entity[1]), callers.of_entity[0].max(callers.of_entity[1]));
        let tie = Tie {
            a,
            b,
            kind: TieKind::SameHour,
            count: 4,
            bits: 20.0,
            detail: "within three hours of each other at one place on 4 occasions".to_owned(),
            calls: (0..6).collect(),
        };
        let leads = find_leads(&incidents, &callers, &[], &[tie], &rates());
        assert_eq!(leads.len(), 1, "{leads:?}");
        assert_eq!(leads[0].bits.get("same_hour"), Some(&20.0), "{:?}", leads[0].bits);
        assert!(leads[0].evidence.iter().any(|e| e.contains("(4 occasion(s); 20 bits")), "{:?}", leads[0].evidence);
    }

    #[test]
    fn one_plate_three_strangers_name_counts_once_in_their_lead_and_a_car_in_many_calls_weighs_more() {
        // 1,000 callers each name a plate of their own once; callers 1000, 1001 and 1002 each name
        // one other plate once (three strangers naming one car); callers 1003 and 1004 name a third
        // plate, one in three calls and the other in two.
        let mut calls: Vec<Call<'_>> = (0..1000).map(|i| (i, i, "x", None, None)).collect();
        for (m, surname) in (1000..1005).zip(["zhao", "qian", "sun", "li", "zhou"]) {
            let n = match m {
                1003 => 3,
                1004 => 2,
                _ => 1,
            };
            calls.extend((0..n).map(|_| (m, m, surname, None, None)));
        }
        let mut x = incidents(&calls);
        x.categories.intern("TRAFFIC.ACCIDENT");
        for call in 0..x.list.len() as u32 {
            let plate = match x.list[call as usize].entity {
                e @ 0..1000 => format!("plate:鄂E{e:05}"),
                1000..1003 => "plate:鄂EA0001".to_owned(),
                _ => "plate:鄂EB0002".to_owned(),
            };
            let v = x.mention_values.intern(&plate);
            x.mentions.insert(call, vec![v]);
        }
        let callers = Callers::build(&x);
        let (ties, rates) = ties(&x, &callers, &[]);
        let strangers = [1000, 1001, 1002].map(|e| callers.of_entity[e]);
        let tied = |t: &&Tie| t.kind == TieKind::SharedMention && strangers.contains(&t.a) && strangers.contains(&t.b);
        assert_eq!(ties.iter().filter(tied).count(), 3, "three pairs tied by one plate");
        let leads = find_leads(&x, &callers, &[], &ties, &rates);
        let lead_of = |entity: usize| {
            let c = callers.of_entity[entity];
            leads.iter().find(|l| l.callers.contains(&c)).expect("a lead")
        };
        // One plate three of 1,002 plates' namers share: about log₂ 1002 bits, once, not three times.
        let three = lead_of(1000);
        let bits = three.bits["shared_mention"];
        assert!((9.0..11.0).contains(&bits), "{:?}", three.bits);
        assert!(three.evidence.iter().any(|e| e.contains("(1, each counted once")), "{:?}", three.evidence);
        // A car two callers name in five calls weighs what five calls say, more than two callers.
        let five = lead_of(1003);
        assert!(
            five.bits["shared_mention"] > rates.mention_bits[0] + 0.5,
            "{:?} against {:?}",
            five.bits,
            rates.mention_bits
        );
    }

    #[test]
    fn a_campaign_is_two_similar_overlapping_periods_shorter_than_the_warehouse() {
        let day = 86_400_000_000_i64;
        let year = 365.0 * day as f64;
        // Two claimants who worked one spring together.
        assert!(one_campaign((60 * day, 160 * day), (70 * day, 150 * day), year));
        // A year-round claimant beside one who filed for a few months.
        assert!(!one_campaign((0, 360 * day), (70 * day, 150 * day), year));
        // Two who both file all year: time says nothing.
        assert!(!one_campaign((0, 360 * day), (5 * day, 350 * day), year));
        // Similar lengths that hardly overlap.
        assert!(!one_campaign((0, 60 * day), (50 * day, 110 * day), year));
    }

    #[test]
    fn a_rare_category_most_members_call_about_is_the_groups_and_a_common_one_is_not() {
        // 1,000 strangers' calls: category 0 (accidents) 60%, 1 (noise) 39%, 2 (fraud) 1%.
        let mut calls: Vec<Call<'_>> = (0..1000).map(|i| (i, i, "x", None, None)).collect();
        // A group of four: accidents each, three of them also a fraud, all four a noise call.
        for m in 1000..1004 {
            calls.extend((0..3).map(|_| (m, m, "y", None, None)));
        }
        let mut x = incidents(&calls);
        for (i, call) in x.list.iter_mut().enumerate() {
            call.category = match i {
                0..600 => 0,
                600..990 => 1,
                990..1000 => 2,
                _ => match (i - 1000) % 3 {
                    0 => 0,
                    1 => 1,
                    _ if i < 1009 => 2,
                    _ => 0,
                },
            };
        }
        let callers = Callers::build(&x);
        let shares = category_shares(&x);
        let group: Vec<u32> = (1000..1004).map(|e| callers.of_entity[e]).collect();
        let found = shared_categories(&x, &callers, &shares, &group);
        assert!(found.contains(&2), "three of four members reporting a 1% category: {found:?}");
        assert!(!found.contains(&1), "everybody's noise calls are no sign of the group: {found:?}");
        // One member's fraud alone is not enough.
        let lone = shared_categories(&x, &callers, &shares, &group[..1]);
        assert!(!lone.contains(&2));
    }

    #[test]
    fn poisson_tail_matches_closed_forms() {
        // P(X >= 1) = 1 - e^-λ.
        let l = 0.3f64;
        assert!((log2_poisson_tail(1, l) - (1.0 - (-l).exp()).log2()).abs() < 1e-9);
        // P(X >= 2) for small λ is about λ²/2.
        let l = 1e-3f64;
        assert!((log2_poisson_tail(2, l) - (l * l / 2.0).log2()).abs() < 0.01);
        assert_eq!(log2_poisson_tail(0, 5.0), 0.0);
        // Expected overlaps are no surprise.
        assert!(log2_poisson_tail(20, 20.0) > -1.5);
    }
}
