//! The family of randomised organised groups (`RING-F1`, `RING-F2`, …): per seed a few groups
//! whose size, categories, targets, geography, span, platforms and ties are each drawn, so that
//! lead detection can be measured on group shapes nobody wrote a rule for.
//!
//! Each group draws from a stream of its own (`stream(seed, 0x9A4B, k)`) and its members come
//! from a pool of its own (`Pool::Ring(10 + k)`), so the fixed recipes' calls are as they were
//! and one group's draws do not move another's. The ties a group has are drawn independently of
//! each other (at least two per group), so every tie is present in some groups and absent in
//! others; `truth/groups.csv` lists them.

use std::ops::Range;
use std::sync::Arc;

use rand::RngExt;

use super::{GroupDraw, Planter, TruthTag, category_index, model};
use crate::contract::timestamp::MICROS_PER_SEC;
use crate::contract::{Platform, Taxonomy};
use crate::generate::city::{Place, pick};
use crate::generate::lexicon::{CounterpartyKind, NARRATIVES, SURNAMES};
use crate::generate::model::DayShape;
use crate::generate::noise::stream;
use crate::generate::people::{Person, PersonKey, Pool, random_mobile};
use crate::generate::truth::Tie;
use crate::generate::{EventSpec, choose_template, counterparty_kinds_for, fill, random_plate};

/// Tag of the family's random streams (group `k` draws from `stream(seed, STREAM, k)`; `k = 0` draws the count).
const STREAM: u64 = 0x9A4B;

/// The categories a group is drawn from: police matters and non-police disputes.
pub const CATEGORIES: [&str; 14] = [
    "CRIM.FRAUD",
    "CRIM.THEFT",
    "CRIM.EXTORTION",
    "CRIM.ASSAULT",
    "PUBORD.FIGHT",
    "PUBORD.DISTURB",
    "TRAFFIC.ACCIDENT",
    "DISPUTE.CONSUMER",
    "DISPUTE.LABOR",
    "DISPUTE.RENTAL",
    "DISPUTE.PROPERTY_MGMT",
    "DISPUTE.MEDICAL_BEAUTY",
    "COMPLAINT.PRICE",
    "COMPLAINT.ENVIRONMENT",
];

/// Most groups a batch gets, however large.
const MAX_GROUPS: u64 = 40;

/// Third parties who report group `k` are `Pool::Local` people from `REPORTERS + k * 1000` on
/// (clear of the people the fixed recipes and hotspots draw from that pool).
const REPORTERS: u64 = 300_000;

const TRAFFIC: &str = "TRAFFIC.ACCIDENT";

/// How a group chooses whom its calls are about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// A few registry counterparties hit again and again.
    Repeat,
    /// A different counterparty every call.
    Distinct,
    /// Street incidents: places, no counterparty.
    None,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Repeat => "repeat",
            Mode::Distinct => "distinct",
            Mode::None => "none",
        }
    }
}

/// The short name a kind is built from: `CRIM.FRAUD` → `fraud`, `DISPUTE.PROPERTY_MGMT` → `property_mgmt`.
pub fn short_name(code: &str) -> String {
    code.split_once('.').map_or(code, |(_, rest)| rest).to_lowercase()
}

/// Lines a member adds about the group's car.
const PLATE_LINES: &[&str] =
    &["来电人驾驶的车辆车牌为{plate}。", "涉事车辆车牌号{plate}。", "来电人称当时开着车牌{plate}的车辆在场。"];

/// Lines a victim adds about the group's car.
const REPORT_PLATE_LINES: &[&str] =
    &["对方乘坐一辆车牌为{plate}的车辆离开。", "对方开的车车牌是{plate}。", "对方一伙人是开着{plate}的车来的。"];

/// Lines by which a member names another.
const NAMING_LINES: &[&str] =
    &["同行的{name}可以作证。", "当时{name}也在场。", "此事{name}也知情，可一并联系。", "与其一同前往的还有{name}。"];

/// Lines by which a victim quotes a member's ID number.
const ID_LINES: &[&str] = &["对方留下的身份证号为{id}。", "对方曾出示身份证，号码{id}。"];

/// A group script's closing sentence, the same on every call of the script.
const SCRIPT_CLOSINGS: &[&str] = &[
    "来电人表示已掌握相关证据，依据有关法律规定要求对方赔偿损失，请求有关部门依法查处。",
    "其称已多次协商无果，要求依法处理并书面答复。",
    "来电人要求相关部门立即介入，否则将向上级部门反映。",
    "来电人称保留追究对方法律责任的权利，请求尽快处理并回复。",
];

/// The small changes between a script's sentences.
const SCRIPT_SWAPS: &[(&str, &str)] = &[
    ("报警人称", "报警人反映"),
    ("来电人称", "来电人反映"),
    ("要求", "请求"),
    ("多次", "反复"),
    ("赔偿", "补偿"),
    ("拒绝", "不予理会"),
    ("商家", "店家"),
];

/// Openings that make a further script sentence when no swap applies.
const SCRIPT_OPENINGS: &[&str] = &["再次反映：", "补充反映：", "情况说明："];

/// What victims at a business say (a `{counterparty}` is named).
const REPORTS_AT: &[&str] = &[
    "{counterparty}负责人报警称，{person}等人多次到店纠缠，要求赔偿{amount}元，否则就天天来闹。",
    "{counterparty}工作人员报警称，{person}带人堵在店门口索要{amount}元，严重影响经营，怀疑是一伙人专门干这个。",
    "{counterparty}老板报警称，近期{person}以各种理由上门索赔{amount}元，听说附近几家店也遇到过同一伙人。",
];

/// What victims of each kind of group say elsewhere.
const REPORTS_FRAUD: &[&str] = &[
    "报警人称被{person}以帮忙办事为由骗走{amount}元，事后发现对方同伙用同样手法骗了多人。",
    "报警人称在{address}附近被{person}等人设局骗走{amount}元，对方有好几个人配合。",
];
const REPORTS_THEFT: &[&str] = &[
    "报警人称在{address}发现{person}与同伙多次在附近行窃，其被偷走财物约{amount}元。",
    "报警人称其财物在{address}被盗，监控显示系{person}等人所为，损失约{amount}元。",
];
const REPORTS_VIOLENCE: &[&str] = &[
    "报警人称在{address}被{person}等几人无故纠缠殴打，对方经常在这一带闹事。",
    "报警人称{person}带着几个人在{address}寻衅滋事，扬言还会再来。",
];
const REPORTS_TRAFFIC: &[&str] = &[
    "驾驶员报警称在{address}被{person}拦下，对方称被车辆刮伤，索要{amount}元，怀疑是故意碰瓷。",
    "报警人称在{address}与{person}的车辆发生碰撞，事后发现对方多次以同样方式索赔。",
];
const REPORTS_MONEY: &[&str] = &[
    "报警人称{person}等人以各种理由多次纠缠，索要{amount}元，不给就闹事。",
    "报警人称{person}一伙人在{address}反复上门吵闹，要求赔偿{amount}元。",
];

/// Everything drawn for one group that its calls are made from.
struct Group {
    ring_id: String,
    kind: String,
    ties: Vec<Tie>,
    primary: &'static str,
    second: Option<&'static str>,
    mode: Mode,
    districts: Vec<usize>,
    callers: Vec<Arc<Person>>,
    activity: Vec<f64>,
    burners: Vec<String>,
    sharers: Vec<usize>,
    platforms: Vec<Platform>,
    plates: Vec<String>,
    script: Vec<String>,
    /// The kinds of counterparty the primary category's calls are about (those the script's story fits).
    kinds: &'static [CounterpartyKind],
    /// The counterparties a `repeat` group hits.
    regulars: Vec<usize>,
    /// The places a `none` group's incidents cluster around.
    spots: Vec<Place>,
    /// Counterparties a `distinct` group has already named.
    used: Vec<usize>,
}

impl Group {
    fn has(&self, tie: Tie) -> bool {
        self.ties.contains(&tie)
    }
}

fn police(code: &str) -> bool {
    Taxonomy::builtin().get(code).is_some_and(|c| c.police_matter)
}

/// A police way of masking an ID number: the region and the last four kept (`420502********123X`).
fn masked_id(id: &str) -> String {
    if id.len() < 12 || !id.is_ascii() {
        return id.to_owned();
    }
    format!("{}{}{}", &id[..6], "*".repeat(id.len() - 10), &id[id.len() - 4..])
}

impl Planter<'_> {
    /// Plants the family's groups: 2–5 per seed up to 300,000 calls, one more for each further
    /// 250,000 (begun).
    pub(super) fn family_groups(&mut self) {
        let mut rng = stream(self.config.seed, STREAM, 0);
        let extra = self.config.calls.saturating_sub(300_000).div_ceil(250_000);
        let count = (rng.random_range(2..=5u64) + extra).min(MAX_GROUPS);
        let saved = std::mem::replace(&mut self.rng, rng);
        for k in 1..=count {
            self.rng = stream(self.config.seed, STREAM, k);
            self.family_group(k);
        }
        self.rng = saved;
    }

    /// Draws group `k` and plants its calls.
    fn family_group(&mut self, k: u64) {
        let mut group = self.draw_group(k);
        let total = self.rng.random_range(12..=60usize);
        let days = self.config.days;
        let span = if days <= 14 { days } else { self.rng.random_range(14..=days) };
        let first_day = self.rng.random_range(0..=days - span);
        // Every member calls at least once (in a random order), then the busier ones more.
        let mut order: Vec<usize> = (0..group.callers.len()).collect();
        for i in (1..order.len()).rev() {
            let j = self.rng.random_range(0..=i);
            order.swap(i, j);
        }
        let mut made: Vec<(EventSpec, usize)> = Vec::new();
        let mut pairs = 0;
        while made.len() < total {
            let m = match order.get(made.len()) {
                Some(&m) if made.len() < order.len() => m,
                _ => self.weighted_member(&group.activity),
            };
            let code = match group.second {
                Some(second) if self.rng.random_bool(0.3) => second,
                _ => group.primary,
            };
            let day = f64::from(first_day) + self.rng.random_range(0.0..f64::from(span));
            let hours = self.hours_of(code);
            let mut time = self.at(self.date(day), hours);
            let paired = group.has(Tie::SameHour) && made.len() + 1 < total && (pairs < 2 || self.rng.random_bool(0.3));
            let hour = 3600 * MICROS_PER_SEC;
            if paired {
                // Keep both calls inside one clock hour (Shanghai is a whole number of hours off UTC).
                time = time - time.rem_euclid(hour) + self.rng.random_range(0..1800) * MICROS_PER_SEC;
            }
            let (counterparty, place) = self.next_target(&mut group, code);
            let early = made.len() < 2;
            let spec = self.member_call(&group, m, code, time, counterparty, place.clone(), early);
            made.push((spec, m));
            if paired {
                let others: Vec<usize> = (0..group.callers.len()).filter(|&o| o != m).collect();
                let other = *pick(&mut self.rng, &others);
                // At least half an hour is left of the hour: the other member calls within it.
                let left = (hour - time.rem_euclid(hour)) / MICROS_PER_SEC - 1;
                let later = time + self.rng.random_range(120..left) * MICROS_PER_SEC;
                let spec = self.member_call(&group, other, code, later, counterparty, place, false);
                made.push((spec, other));
                pairs += 1;
            }
        }
        // Each member who shares a phone makes their first call on it, so the sharing is there
        // even when chance would have left it out.
        if let Some(burner) = group.burners.first() {
            for &m in &group.sharers {
                if let Some((spec, _)) = made.iter_mut().find(|(_, who)| *who == m) {
                    spec.phone = Some(burner.clone());
                }
            }
        }
        let reports = if group.has(Tie::VictimReports) { self.victim_reports(&group, k, &made) } else { Vec::new() };
        made.sort_by_key(|(spec, _)| spec.time);
        let tag = |role| TruthTag::Ring { ring_id: group.ring_id.clone(), kind: group.kind.clone(), role };
        for (i, (mut spec, _)) in made.into_iter().enumerate() {
            spec.tags = vec![tag(if i < 2 { "seed" } else { "member_call" })];
            self.events.push(spec);
        }
        for mut spec in reports {
            spec.tags = vec![tag("victim_report")];
            self.events.push(spec);
        }
        self.groups.push(GroupDraw {
            ring_id: group.ring_id,
            kind: group.kind,
            target_mode: group.mode.name(),
            ties: group.ties,
        });
    }

    /// Draws a group's members, ties, categories, targets, geography, platforms and phones.
    fn draw_group(&mut self, k: u64) -> Group {
        let (seed, registry, city) = (self.config.seed, self.registry, self.city);
        let n = self.rng.random_range(2..=8u64);
        let pool = Pool::Ring(10 + k as u8);
        let mut members: Vec<Person> =
            (0..n).map(|index| Person::derive(seed, PersonKey { pool, index }, registry, city)).collect();
        let mut ties: Vec<Tie> = Tie::ALL.into_iter().filter(|_| self.rng.random_bool(0.4)).collect();
        while ties.len() < 2 {
            let tie = *pick(&mut self.rng, &Tie::ALL);
            if !ties.contains(&tie) {
                ties.push(tie);
            }
        }
        ties.sort();
        let primary = *pick(&mut self.rng, &CATEGORIES);
        // A street incident has no counterparty; a dispute always has one.
        let mode = match model(primary) {
            m if m.counterparties.is_empty() => Mode::None,
            m if m.counterparty_central => *pick(&mut self.rng, &[Mode::Repeat, Mode::Distinct]),
            _ => *pick(&mut self.rng, &[Mode::Repeat, Mode::Distinct, Mode::None]),
        };
        // A second category of the same half (police or not) that fits the targets; staged
        // accidents go with extortion and fraud.
        let fits = |c: &str| match (primary, c) {
            (TRAFFIC, "CRIM.EXTORTION" | "CRIM.FRAUD") => true,
            (TRAFFIC, _) => false,
            (_, TRAFFIC) => matches!(primary, "CRIM.EXTORTION" | "CRIM.FRAUD"),
            _ => c != primary && police(c) == police(primary) && (mode != Mode::None || !model(c).counterparty_central),
        };
        let alike: Vec<&'static str> = CATEGORIES.into_iter().filter(|c| fits(c)).collect();
        let second = (!alike.is_empty() && self.rng.random_bool(0.35)).then(|| *pick(&mut self.rng, &alike));
        let districts = self.draw_districts();
        if ties.contains(&Tie::Family) {
            let surname = match members.iter().find(|m| !m.dotted) {
                Some(m) => m.surname,
                None => SURNAMES[self.rng.random_range(0..30.min(SURNAMES.len()))].0,
            };
            for member in &mut members {
                member.join_family(&mut self.rng, city, surname, districts[0]);
            }
        }
        for member in &mut members {
            let count = self.rng.random_range(1..=3usize);
            member.phones.truncate(count);
            while member.phones.len() < count {
                member.phones.push(random_mobile(&mut self.rng));
            }
        }
        let (burners, sharers) = if ties.contains(&Tie::SharedPhone) {
            let burners: Vec<String> =
                (0..self.rng.random_range(1..=2)).map(|_| random_mobile(&mut self.rng)).collect();
            let mut all: Vec<usize> = (0..members.len()).collect();
            for i in (1..all.len()).rev() {
                let j = self.rng.random_range(0..=i);
                all.swap(i, j);
            }
            all.truncate(self.rng.random_range(2..=members.len()));
            all.sort_unstable();
            (burners, all)
        } else {
            (Vec::new(), Vec::new())
        };
        let activity = (0..members.len()).map(|_| self.rng.random_range(0.3..1.0)).collect();
        let traffic = primary == TRAFFIC || second == Some(TRAFFIC);
        let platforms = if self.rng.random_bool(0.5) {
            vec![match primary {
                TRAFFIC if self.rng.random_bool(0.5) => Platform::P122,
                code if police(code) => Platform::P110,
                _ => Platform::P12345,
            }]
        } else if traffic {
            vec![Platform::P110, Platform::P12345, Platform::P122]
        } else {
            vec![Platform::P110, Platform::P12345]
        };
        let plates = if ties.contains(&Tie::Plates) {
            (0..self.rng.random_range(1..=2)).map(|_| random_plate(&mut self.rng, city)).collect()
        } else {
            Vec::new()
        };
        let (script, kinds) = if ties.contains(&Tie::Script) {
            self.group_script(primary, mode)
        } else {
            (Vec::new(), model(primary).counterparties)
        };
        let regulars = if mode == Mode::Repeat {
            let mut candidates = self.candidates(kinds, &districts);
            let want = self.rng.random_range(1..=4usize).min(candidates.len());
            (0..want).map(|_| candidates.swap_remove(self.rng.random_range(0..candidates.len()))).collect()
        } else {
            Vec::new()
        };
        let spots = if mode == Mode::None {
            let count = if districts.len() > 3 { self.rng.random_range(3..=6) } else { self.rng.random_range(1..=4) };
            (0..count)
                .map(|_| {
                    let district = *pick(&mut self.rng, &districts);
                    city.random_place(&mut self.rng, district)
                })
                .collect()
        } else {
            Vec::new()
        };
        Group {
            ring_id: format!("RING-F{k}"),
            kind: format!("{}_{}", short_name(primary), mode.name()),
            ties,
            primary,
            second,
            mode,
            districts,
            callers: members.into_iter().map(Arc::new).collect(),
            activity,
            burners,
            sharers,
            platforms,
            plates,
            script,
            kinds,
            regulars,
            spots,
            used: Vec::new(),
        }
    }

    /// One district, two or three, or the whole city.
    fn draw_districts(&mut self) -> Vec<usize> {
        let all = self.city.districts.len();
        match self.rng.random_range(0..3) {
            0 => vec![self.city.pick_district(&mut self.rng, false)],
            1 => {
                let want = self.rng.random_range(2..=3usize).min(all);
                let mut chosen = Vec::new();
                for _ in 0..100 {
                    if chosen.len() == want {
                        break;
                    }
                    let district = self.city.pick_district(&mut self.rng, false);
                    if !chosen.contains(&district) {
                        chosen.push(district);
                    }
                }
                chosen
            }
            _ => (0..all).collect(),
        }
    }

    /// Registry counterparties of the kinds in the districts (anywhere when none is there).
    fn candidates(&self, kinds: &[CounterpartyKind], districts: &[usize]) -> Vec<usize> {
        let all: Vec<usize> = kinds.iter().flat_map(|&kind| self.registry.of_kind(kind).iter().copied()).collect();
        let inside: Vec<usize> =
            all.iter().copied().filter(|&i| districts.contains(&self.registry.entries[i].place.district)).collect();
        if inside.is_empty() { all } else { inside }
    }

    fn weighted_member(&mut self, activity: &[f64]) -> usize {
        let total: f64 = activity.iter().sum();
        let mut x = self.rng.random_range(0.0..total);
        for (i, weight) in activity.iter().enumerate() {
            if x < *weight {
                return i;
            }
            x -= weight;
        }
        activity.len() - 1
    }

    /// The hours a category's calls come in.
    fn hours_of(&mut self, code: &str) -> Range<u32> {
        match model(code).shape {
            DayShape::Night => 18..24,
            DayShape::Rush if self.rng.random_bool(0.5) => 7..9,
            DayShape::Rush => 17..20,
            DayShape::Office => 9..17,
            _ => 8..21,
        }
    }

    /// Whom the next call is about (a registry counterparty, or none) and where it happens.
    fn next_target(&mut self, group: &mut Group, code: &str) -> (Option<usize>, Place) {
        let kinds = if code == group.primary { group.kinds } else { model(code).counterparties };
        let counterparty = match group.mode {
            _ if kinds.is_empty() => None,
            Mode::Repeat => {
                // The group's regular targets of the call's kinds; a first one of them when there is none yet.
                let regulars: Vec<usize> = group
                    .regulars
                    .iter()
                    .copied()
                    .filter(|&c| kinds.contains(&self.registry.entries[c].kind))
                    .collect();
                if regulars.is_empty() {
                    let candidates = self.candidates(kinds, &group.districts);
                    let chosen = (!candidates.is_empty()).then(|| *pick(&mut self.rng, &candidates));
                    group.regulars.extend(chosen);
                    chosen
                } else {
                    Some(*pick(&mut self.rng, &regulars))
                }
            }
            Mode::Distinct => {
                let candidates = self.candidates(kinds, &group.districts);
                let mut chosen = None;
                for _ in 0..12 {
                    if candidates.is_empty() {
                        break;
                    }
                    let c = *pick(&mut self.rng, &candidates);
                    chosen = Some(c);
                    if !group.used.contains(&c) {
                        break;
                    }
                }
                if let Some(c) = chosen {
                    group.used.push(c);
                }
                chosen
            }
            _ => None,
        };
        let place = match counterparty {
            Some(c) => {
                let entry = &self.registry.entries[c];
                self.city.place_near(&mut self.rng, entry.place.district, (entry.place.lon, entry.place.lat), 0.02)
            }
            None if !group.spots.is_empty() && self.rng.random_bool(0.6) => {
                let spot = pick(&mut self.rng, &group.spots).clone();
                self.city.place_near(&mut self.rng, spot.district, (spot.lon, spot.lat), 0.3)
            }
            None => {
                let district = *pick(&mut self.rng, &group.districts);
                self.city.random_place(&mut self.rng, district)
            }
        };
        (counterparty, place)
    }

    /// An ordinary narrative template of the category, naming a counterparty or not as the call
    /// does (and when it does, one whose story fits a business of its kind).
    fn ordinary_template(&mut self, code: &str, named: Option<CounterpartyKind>) -> &'static str {
        let templates = NARRATIVES.iter().find(|(c, _)| *c == code).map_or(&[][..], |(_, t)| *t);
        let defaults = model(code).counterparties;
        let plain = |t: &&'static str| !t.contains("{person}") && t.contains("{counterparty}") == named.is_some();
        let mut fitting: Vec<&'static str> = templates
            .iter()
            .copied()
            .filter(plain)
            .filter(|t| named.is_none_or(|kind| counterparty_kinds_for(t, defaults).contains(&kind)))
            .collect();
        if fitting.is_empty() {
            fitting = templates.iter().copied().filter(plain).collect();
        }
        if fitting.is_empty() {
            let category = &Taxonomy::builtin().categories()[usize::from(category_index(code))];
            choose_template(&mut self.rng, category)
        } else {
            fitting[self.rng.random_range(0..fitting.len())]
        }
    }

    /// A group script: two or three near-identical sentences (one template, small changes, one
    /// closing) and the kinds of counterparty its story fits.
    fn group_script(&mut self, code: &str, mode: Mode) -> (Vec<String>, &'static [CounterpartyKind]) {
        let defaults = model(code).counterparties;
        let named = (mode != Mode::None && !defaults.is_empty()).then(|| *pick(&mut self.rng, defaults));
        let base = self.ordinary_template(code, named);
        let kinds = counterparty_kinds_for(base, defaults);
        let closing = *pick(&mut self.rng, SCRIPT_CLOSINGS);
        let want = self.rng.random_range(2..=3usize);
        let mut script = vec![format!("{base}{closing}")];
        let mut swaps: Vec<(&str, &str)> =
            SCRIPT_SWAPS.iter().copied().filter(|(from, _)| base.contains(from)).collect();
        while script.len() < want {
            let sentence = if swaps.is_empty() {
                format!("{}{base}{closing}", pick(&mut self.rng, SCRIPT_OPENINGS))
            } else {
                let (from, to) = swaps.swap_remove(self.rng.random_range(0..swaps.len()));
                format!("{}{closing}", base.replacen(from, to, 1))
            };
            if !script.contains(&sentence) {
                script.push(sentence);
            }
        }
        (script, kinds)
    }

    /// One call by member `m` about `counterparty` at `place`; an `early` call shows every tie of
    /// the group that a call can show (so that each is there, however few the calls).
    #[allow(clippy::too_many_arguments)] // the call's who, what, when and where
    fn member_call(
        &mut self,
        group: &Group,
        m: usize,
        code: &'static str,
        time: i64,
        counterparty: Option<usize>,
        place: Place,
        early: bool,
    ) -> EventSpec {
        let caller = &group.callers[m];
        let mut platform = *pick(&mut self.rng, &group.platforms);
        let mut handoff = None;
        if group.has(Tie::Handoffs) && (early || self.rng.random_bool(0.4)) {
            // Police matters reach 12345 (or 122) and go on to 110; disputes reach 110 and go on to 12345.
            (platform, handoff) = match code {
                TRAFFIC => (Platform::P122, Some(Platform::P110)),
                code if police(code) => (Platform::P12345, Some(Platform::P110)),
                _ => (Platform::P110, Some(Platform::P12345)),
            };
        }
        let mut spec = self.spec(time, platform, code, caller.key);
        spec.handoff = handoff;
        spec.counterparty_decided = true;
        spec.caller = Some(Arc::clone(caller));
        let mention = counterparty.map(|c| self.registry.mention(&mut self.rng, c));
        let mut template = match group.script.as_slice() {
            script if !script.is_empty() && self.rng.random_bool(0.85) => pick(&mut self.rng, script).clone(),
            _ => self.ordinary_template(code, counterparty.map(|c| self.registry.entries[c].kind)).to_owned(),
        };
        let plate = (!group.plates.is_empty() && (early || self.rng.random_bool(0.45)))
            .then(|| if early { group.plates[0].clone() } else { pick(&mut self.rng, &group.plates).clone() });
        if let Some(plate) = &plate {
            if template.contains("{plate}") {
                template = template.replace("{plate}", plate);
            } else {
                template.push_str(&pick(&mut self.rng, PLATE_LINES).replace("{plate}", plate));
            }
        }
        let named = (group.has(Tie::NamingEachOther) && (early || self.rng.random_bool(0.35))).then(|| {
            let others: Vec<usize> = (0..group.callers.len()).filter(|&o| o != m).collect();
            group.callers[*pick(&mut self.rng, &others)].full_name()
        });
        let mut named_in_narrative = named.clone();
        let counterparty_text = match (mention, &named, &plate) {
            (Some(mention), _, _) => Some(mention),
            (None, Some(name), _) if self.rng.random_bool(0.5) => {
                named_in_narrative = None;
                Some(name.clone())
            }
            (None, _, Some(plate)) if code == TRAFFIC => Some(format!("{plate}车主")),
            _ => None,
        };
        let mut narrative =
            fill(&mut self.rng, self.city, &template, &model(code), counterparty_text.as_deref(), &place, None);
        if let Some(name) = named_in_narrative {
            narrative.push_str(&pick(&mut self.rng, NAMING_LINES).replace("{name}", &name));
        }
        let burner = group.sharers.contains(&m) && !group.burners.is_empty() && self.rng.random_bool(0.4);
        spec.phone = Some(if burner {
            pick(&mut self.rng, &group.burners).clone()
        } else if self.rng.random_bool(0.7) {
            caller.phones[0].clone()
        } else {
            pick(&mut self.rng, &caller.phones).clone()
        });
        if self.rng.random_bool(0.12) {
            // Another name, or the surname alone.
            let made_up = pick(&mut self.rng, &["丽", "静", "芳", "敏", "婷", "强", "军", "勇", "华"]);
            spec.name = Some(if caller.dotted || self.rng.random_bool(0.4) {
                caller.surname.to_owned()
            } else {
                format!("{}{made_up}", caller.surname)
            });
        }
        if group.has(Tie::IdDocuments) && (early || self.rng.random_bool(0.45)) {
            spec.id_number = Some(caller.id_number.clone());
        }
        spec.counterparty = counterparty;
        spec.counterparty_text = counterparty_text;
        spec.narrative = Some(narrative);
        spec.place = Some(place);
        spec
    }

    /// How a victim names a member: full name, surname with 先生 / 女士, 自称姓X的男子, 陈某, or only a description.
    fn victim_reference(&mut self, person: &Person) -> String {
        let sex = if person.female { "女子" } else { "男子" };
        match self.rng.random_range(0..5) {
            0 => person.full_name(),
            1 => person.honorific_name(),
            2 if person.dotted => format!("自称叫{}的{sex}", person.surname),
            2 => format!("自称姓{}的{sex}", person.surname),
            3 if !person.dotted => person.anonymised_name(),
            _ => {
                let age = match person.age() / 10 {
                    0 | 1 => "不到二十岁",
                    2 => "二十多岁",
                    3 => "三十多岁",
                    4 => "四十多岁",
                    5 => "五十多岁",
                    6 => "六十多岁",
                    _ => "七十岁左右",
                };
                format!("一名{age}的{sex}")
            }
        }
    }

    /// Third parties report the group some time after member calls, naming (or describing) the member.
    fn victim_reports(&mut self, group: &Group, k: u64, made: &[(EventSpec, usize)]) -> Vec<EventSpec> {
        let count = self.rng.random_range(2..=6usize).min(made.len());
        let mut reports = Vec::new();
        for j in 0..count {
            let (base, m) = &made[self.rng.random_range(0..made.len())];
            let later = base.time + self.rng.random_range(3600..10 * 86_400) * MICROS_PER_SEC;
            let reporter = PersonKey { pool: Pool::Local, index: REPORTERS + k * 1000 + j as u64 };
            let code = if police(group.primary) {
                group.primary
            } else {
                *pick(&mut self.rng, &["CRIM.EXTORTION", "PUBORD.DISTURB"])
            };
            let mut spec = self.spec(later, Platform::P110, code, reporter);
            spec.counterparty_decided = true;
            let member = Arc::clone(&group.callers[*m]);
            let who = self.victim_reference(&member);
            let base_place =
                base.place.clone().unwrap_or_else(|| self.city.random_place(&mut self.rng, group.districts[0]));
            let place =
                self.city.place_near(&mut self.rng, base_place.district, (base_place.lon, base_place.lat), 0.01);
            let at_business = base.counterparty.filter(|_| group.primary != TRAFFIC);
            let templates = match (at_business, group.primary) {
                (Some(_), _) => REPORTS_AT,
                (None, "CRIM.FRAUD") => REPORTS_FRAUD,
                (None, "CRIM.THEFT") => REPORTS_THEFT,
                (None, "CRIM.ASSAULT" | "PUBORD.FIGHT" | "PUBORD.DISTURB") => REPORTS_VIOLENCE,
                (None, TRAFFIC) => REPORTS_TRAFFIC,
                _ => REPORTS_MONEY,
            };
            let template = *pick(&mut self.rng, templates);
            let business = at_business.map(|c| self.registry.entries[c].name.clone());
            let mut narrative =
                fill(&mut self.rng, self.city, template, &model(code), business.as_deref(), &place, Some(&who));
            if !group.plates.is_empty() && self.rng.random_bool(0.6) {
                let plate = pick(&mut self.rng, &group.plates);
                narrative.push_str(&pick(&mut self.rng, REPORT_PLATE_LINES).replace("{plate}", plate));
            }
            if group.has(Tie::IdDocuments) && self.rng.random_bool(0.5) {
                let id =
                    if self.rng.random_bool(0.5) { member.id_number.clone() } else { masked_id(&member.id_number) };
                narrative.push_str(&pick(&mut self.rng, ID_LINES).replace("{id}", &id));
            }
            spec.narrative = Some(narrative);
            spec.counterparty_text = Some(who);
            spec.place = Some(place);
            reports.push(spec);
        }
        reports
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::super::Plan;
    use super::*;
    use crate::city::CityProfile;
    use crate::generate::GenerateConfig;
    use crate::generate::city::City;
    use crate::generate::registry::Registry;

    fn plan(seed: u64, calls: u64) -> Plan {
        let city = City::from_profile(&CityProfile::yichang()).expect("lays out");
        let registry = Registry::generate(seed, &city);
        Plan::build(&GenerateConfig { calls, seed, ..GenerateConfig::default() }, &registry, &city)
    }

    /// The family's planned calls by group id, with their roles.
    fn family_calls(plan: &Plan) -> HashMap<String, Vec<(&EventSpec, &'static str)>> {
        let mut groups: HashMap<String, Vec<(&EventSpec, &'static str)>> = HashMap::new();
        for event in &plan.events {
            for tag in &event.tags {
                if let TruthTag::Ring { ring_id, role, .. } = tag
                    && ring_id.starts_with("RING-F")
                {
                    groups.entry(ring_id.clone()).or_default().push((event, role));
                }
            }
        }
        groups
    }

    #[test]
    fn each_seed_gets_two_to_five_groups_and_big_batches_a_few_more() {
        let mut counts = HashSet::new();
        for seed in 1..=12 {
            let plan = plan(seed, 20_000);
            let family = plan.groups.iter().filter(|g| g.ring_id.starts_with("RING-F")).count();
            assert!((2..=5).contains(&family), "seed {seed}: {family}");
            counts.insert(family);
            assert_eq!(family_calls(&plan).len(), family);
            let ids: Vec<&str> = plan.groups.iter().map(|g| g.ring_id.as_str()).collect();
            assert_eq!(&ids[..4], ["RING-1", "RING-2", "RING-3", "RING-F1"]);
        }
        assert!(counts.len() >= 3, "{counts:?}");
        let big = plan(3, 1_000_000).groups.iter().filter(|g| g.ring_id.starts_with("RING-F")).count();
        assert!((5..=8).contains(&big), "{big} groups in a million calls");
    }

    #[test]
    fn without_the_family_only_the_fixed_recipes_are_planted_and_drawn_as_with_it() {
        let city = City::from_profile(&CityProfile::yichang()).expect("lays out");
        let registry = Registry::generate(4, &city);
        let config = GenerateConfig { calls: 20_000, seed: 4, ..GenerateConfig::default() };
        let with = Plan::build(&config, &registry, &city);
        let without = Plan::build(&GenerateConfig { family: false, ..config }, &registry, &city);
        assert_eq!(without.groups.len(), 3);
        assert!(family_calls(&without).is_empty());
        // The family draws from streams of its own: everything else is planned the same.
        let other = |plan: &Plan| -> Vec<(i64, PersonKey, Option<String>)> {
            plan.events
                .iter()
                .filter(|e| {
                    !e.tags.iter().any(|t| matches!(t, TruthTag::Ring { ring_id, .. } if ring_id.starts_with("RING-F")))
                })
                .map(|e| (e.time, e.person, e.narrative.clone()))
                .collect()
        };
        assert_eq!(other(&with), other(&without));
        assert_eq!(with.groups[..3], without.groups[..]);
    }

    #[test]
    fn groups_are_drawn_within_their_bounds_and_their_ties_are_really_there() {
        let mut seen: HashMap<Tie, (usize, usize)> = HashMap::new();
        for seed in 1..=8 {
            let plan = plan(seed, 20_000);
            let calls = family_calls(&plan);
            for group in plan.groups.iter().filter(|g| g.ring_id.starts_with("RING-F")) {
                let planted = &calls[&group.ring_id];
                let members: Vec<&EventSpec> =
                    planted.iter().filter(|(_, r)| *r != "victim_report").map(|(e, _)| *e).collect();
                let id = &group.ring_id;
                assert!((12..=60).contains(&members.len()), "{id}: {} member calls", members.len());
                assert!((2..=8).contains(&group.members), "{id}: {} members", group.members);
                assert_eq!(planted.iter().filter(|(_, r)| *r == "seed").count(), 2, "{id}");
                assert_eq!(group.calls as usize, planted.len(), "{id}");
                assert!(group.ties.len() >= 2, "{id}: {:?}", group.ties);
                assert!(group.end >= group.start + chrono::Duration::days(0), "{id}");
                let short = short_name(&group.categories[0]);
                assert!(group.kind.starts_with(&short) && group.kind.ends_with(&group.target_mode), "{}", group.kind);
                assert!(members.iter().all(|e| matches!(e.person.pool, Pool::Ring(n) if n > 10)));
                for tie in Tie::ALL {
                    let entry = seen.entry(tie).or_default();
                    if group.has(tie) { entry.0 += 1 } else { entry.1 += 1 }
                }
                let phones_of = |phone: &str| -> HashSet<PersonKey> {
                    members.iter().filter(|e| e.phone.as_deref() == Some(phone)).map(|e| e.person).collect()
                };
                let shared = members.iter().filter_map(|e| e.phone.as_deref()).any(|p| phones_of(p).len() >= 2);
                if group.has(Tie::SharedPhone) {
                    assert!(shared, "{id}: no phone shared");
                }
                if group.has(Tie::SameHour) {
                    let hour = 3600 * MICROS_PER_SEC;
                    let paired = members.iter().any(|a| {
                        members.iter().any(|b| {
                            a.person != b.person
                                && a.time / hour == b.time / hour
                                && a.counterparty == b.counterparty
                                && a.place == b.place
                        })
                    });
                    assert!(paired, "{id}: no two members about one target in one hour");
                }
                let reports = planted.iter().filter(|(_, r)| *r == "victim_report").count();
                assert_eq!(group.has(Tie::VictimReports), reports >= 2, "{id}: {reports} reports");
                if group.has(Tie::VictimReports) {
                    assert!(planted.iter().all(|(e, r)| *r != "victim_report" || e.person.pool == Pool::Local));
                }
                if group.has(Tie::Family) {
                    let surnames: HashSet<&str> =
                        members.iter().filter_map(|e| e.caller.as_ref()).map(|p| p.surname).collect();
                    let homes: HashSet<usize> =
                        members.iter().filter_map(|e| e.caller.as_ref()).map(|p| p.home_district).collect();
                    assert_eq!((surnames.len(), homes.len()), (1, 1), "{id}: {surnames:?}");
                }
                if group.has(Tie::Handoffs) {
                    assert!(members.iter().any(|e| e.handoff.is_some_and(|to| to != e.platform)), "{id}");
                } else {
                    assert!(members.iter().all(|e| e.handoff.is_none()), "{id}");
                }
                if group.has(Tie::IdDocuments) {
                    assert!(members.iter().any(|e| e.id_number.is_some()), "{id}");
                }
                if group.has(Tie::Plates) {
                    let texts: Vec<String> = planted
                        .iter()
                        .map(|(e, _)| {
                            format!(
                                "{}{}",
                                e.narrative.as_deref().unwrap_or(""),
                                e.counterparty_text.as_deref().unwrap_or("")
                            )
                        })
                        .collect();
                    let plates: HashSet<String> = texts
                        .iter()
                        .flat_map(|t| t.match_indices("鄂E").map(|(at, _)| t[at..].chars().take(7).collect()))
                        .collect();
                    let recurs = plates.iter().any(|p| texts.iter().filter(|t| t.contains(p.as_str())).count() >= 2);
                    assert!(recurs, "{id}: no recurring plate");
                }
                if group.has(Tie::Script) {
                    let mut closings: HashMap<&str, usize> = HashMap::new();
                    for e in &members {
                        let text = e.narrative.as_deref().unwrap_or("");
                        if let Some(closing) = SCRIPT_CLOSINGS.iter().find(|c| text.contains(*c)) {
                            *closings.entry(closing).or_default() += 1;
                        }
                    }
                    let top = closings.values().max().copied().unwrap_or(0);
                    assert!(top * 2 > members.len(), "{id}: {top} of {} on the script", members.len());
                }
            }
        }
        for tie in Tie::ALL {
            let (with, without) = seen.get(&tie).copied().unwrap_or_default();
            assert!(with > 0 && without > 0, "{}: in {with} groups, not in {without}", tie.name());
        }
    }

    #[test]
    fn kinds_are_built_from_the_category_short_name() {
        assert_eq!(short_name("CRIM.FRAUD"), "fraud");
        assert_eq!(short_name("DISPUTE.PROPERTY_MGMT"), "property_mgmt");
        assert_eq!(format!("{}_{}", short_name("PUBORD.FIGHT"), Mode::None.name()), "fight_none");
    }

    #[test]
    fn every_category_is_in_the_taxonomy_and_both_halves_have_several() {
        let taxonomy = Taxonomy::builtin();
        assert!(CATEGORIES.iter().all(|c| taxonomy.get(c).is_some()), "unknown code");
        let police_matters = CATEGORIES.iter().filter(|c| police(c)).count();
        assert!((2..CATEGORIES.len() - 1).contains(&police_matters));
    }

    #[test]
    fn a_masked_id_keeps_the_region_and_the_last_four() {
        assert_eq!(masked_id("42050219800101123X"), "420502********123X");
        assert_eq!(masked_id("420502800101123"), "420502*****1123");
    }
}
