//! Planted patterns with ground truth: organised groups of three fixed recipes and a randomised
//! family of further groups (`plant/family.rs`), escalating repeat callers, an emerging and a persistent hotspot.

mod family;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::city::{City, pick};
use super::lexicon::{CounterpartyKind, ESCALATION, NARRATIVES};
use super::model::{CategoryModel, category_model};
use super::noise::stream;
use super::people::{Person, PersonKey, Pool, random_mobile};
use super::registry::Registry;
use super::truth::{GroupTruth, Tie};
use super::{EventSpec, GenerateConfig, fill, fill_template};
use crate::contract::timestamp::{MICROS_PER_SEC, from_shanghai, to_shanghai};
use crate::contract::{Platform, Taxonomy};

/// What the truth files say about one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TruthTag {
    /// The call belongs to a planted organised group.
    Ring {
        /// Group id, e.g. `RING-1` or `RING-F2`.
        ring_id: String,
        /// Kind of group.
        kind: String,
        /// `seed` (a natural starting point), `member_call`, `victim_report` or `transfer_record`.
        role: &'static str,
    },
    /// A call of a planted escalating repeat caller.
    Escalation {
        /// 1-based position among the person's calls.
        ordinal: u32,
        /// 0 (plain) to 3 (threats of extreme action).
        level: u8,
    },
    /// A call planted in a hotspot (listed in hotspots.csv by area, not by call).
    Hotspot,
}

impl TruthTag {
    /// The tag a transfer record of the same call carries.
    pub fn as_transfer(&self) -> TruthTag {
        match self {
            TruthTag::Ring { ring_id, kind, .. } => {
                TruthTag::Ring { ring_id: ring_id.clone(), kind: kind.clone(), role: "transfer_record" }
            }
            other => other.clone(),
        }
    }

    /// Writes the tag's truth row.
    pub fn write(
        &self,
        rings: &mut csv::Writer<std::fs::File>,
        repeat: &mut csv::Writer<std::fs::File>,
        call_id: &str,
        person_id: &str,
    ) -> csv::Result<()> {
        match self {
            TruthTag::Ring { ring_id, kind, role } => rings.write_record([ring_id, kind, call_id, role]),
            TruthTag::Escalation { ordinal, level } => {
                repeat.write_record([person_id, call_id, &ordinal.to_string(), &level.to_string()])
            }
            TruthTag::Hotspot => Ok(()),
        }
    }
}

/// A planted hotspot as written to `truth/hotspots.csv`.
#[derive(Debug, Clone)]
pub struct HotspotTruth {
    /// Id, e.g. `HS-1`.
    pub id: &'static str,
    /// Taxonomy code.
    pub category: &'static str,
    /// Centre.
    pub lon: f64,
    /// Centre.
    pub lat: f64,
    /// Radius in metres.
    pub radius_m: u32,
    /// First day (inclusive).
    pub start: NaiveDate,
    /// Last day (inclusive).
    pub end: NaiveDate,
    /// `emerging` or `persistent`.
    pub kind: &'static str,
    /// The counterparty the calls are about.
    pub counterparty: String,
}

/// Everything planted, in time order.
#[derive(Debug, Default)]
pub struct Plan {
    /// Planted calls sorted by time.
    pub events: Vec<EventSpec>,
    /// Original calls per pattern kind.
    pub kinds: Vec<(String, u64)>,
    /// Planted hotspots.
    pub hotspots: Vec<HotspotTruth>,
    /// Planted organised groups (the fixed recipes, then the family's), as written to `truth/groups.csv`.
    pub groups: Vec<GroupTruth>,
}

/// What a group was planted as; the rest of its `groups.csv` row is counted from its calls.
struct GroupDraw {
    ring_id: String,
    kind: String,
    target_mode: &'static str,
    ties: Vec<Tie>,
}

struct Planter<'a> {
    config: &'a GenerateConfig,
    registry: &'a Registry,
    city: &'a City,
    rng: ChaCha8Rng,
    events: Vec<EventSpec>,
    groups: Vec<GroupDraw>,
}

fn category_index(code: &str) -> u16 {
    Taxonomy::builtin().get(code).map_or(0, |c| c.index)
}

fn model(code: &str) -> CategoryModel {
    category_model(code).copied().unwrap_or(super::model::CATEGORY_MODELS[0])
}

impl Plan {
    /// Nothing planted.
    pub fn empty() -> Plan {
        Plan::default()
    }

    /// Plans every pattern for the configured period in a city.
    pub fn build(config: &GenerateConfig, registry: &Registry, city: &City) -> Plan {
        let mut planter = Planter {
            config,
            registry,
            city,
            rng: stream(config.seed, 0x9A4A, 0),
            events: Vec::new(),
            groups: Vec::new(),
        };
        let mut kinds = Vec::new();
        planter.counted(&mut kinds, "extortion_ring", Planter::medical_beauty_ring);
        planter.counted(&mut kinds, "staged_accident", Planter::staged_accident_ring);
        planter.counted(&mut kinds, "professional_claimants", Planter::professional_claimants);
        // What the fixed recipes are, in the family's terms. RING-2's plates are each victim's own
        // (a new one every call), so they tie nothing together.
        for (ring_id, kind, target_mode, ties) in [
            ("RING-1", "extortion_ring", "repeat", vec![Tie::SharedPhone, Tie::VictimReports]),
            ("RING-2", "staged_accident", "none", vec![Tie::VictimReports]),
            ("RING-3", "professional_claimants", "distinct", vec![Tie::SharedPhone, Tie::Script]),
        ] {
            planter.groups.push(GroupDraw { ring_id: ring_id.into(), kind: kind.into(), target_mode, ties });
        }
        planter.counted(&mut kinds, "escalating_caller", Planter::escalating_callers);
        let mut hotspots = Vec::new();
        planter.counted(&mut kinds, "hotspot_emerging", |p| hotspots.push(p.emerging_hotspot()));
        planter.counted(&mut kinds, "hotspot_persistent", |p| hotspots.push(p.persistent_hotspot()));
        // Last, each from streams of its own, so the recipes above are drawn as they always were.
        if config.family {
            planter.counted(&mut kinds, "family_group", Planter::family_groups);
        }
        let mut events = planter.events;
        let last = from_shanghai((config.start + Duration::days(i64::from(config.days))).and_time(NaiveTime::MIN))
            - MICROS_PER_SEC;
        for event in &mut events {
            event.time = event.time.min(last);
        }
        events.sort_by_key(|e| e.time);
        let groups = planter.groups.iter().map(|g| summarise(g, &events, config.seed, registry, city)).collect();
        Plan { events, kinds, hotspots, groups }
    }
}

/// A group's `groups.csv` row: its draw, and what its planted calls add up to.
fn summarise(draw: &GroupDraw, events: &[EventSpec], seed: u64, registry: &Registry, city: &City) -> GroupTruth {
    let taxonomy = Taxonomy::builtin();
    let mut members = BTreeSet::new();
    let mut phones = BTreeSet::new();
    let mut categories: BTreeMap<&str, u32> = BTreeMap::new();
    let mut districts = BTreeSet::new();
    let mut platforms = BTreeSet::new();
    let mut derived: HashMap<PersonKey, Vec<String>> = HashMap::new();
    let (mut first, mut last, mut calls) = (i64::MAX, i64::MIN, 0);
    for event in events {
        let Some(role) = event.tags.iter().find_map(|t| match t {
            TruthTag::Ring { ring_id, role, .. } if *ring_id == draw.ring_id => Some(*role),
            _ => None,
        }) else {
            continue;
        };
        calls += 1;
        (first, last) = (first.min(event.time), last.max(event.time));
        // Numeric order for numeric codes: 110, 122, 12345.
        let code = event.platform.code();
        platforms.insert((code.len(), code));
        if let Some(place) = &event.place {
            districts.insert(place.district);
        }
        if role == "victim_report" {
            continue;
        }
        members.insert(event.person.person_id());
        let code = taxonomy.categories()[usize::from(event.category)].code.as_str();
        *categories.entry(code).or_default() += 1;
        match (&event.phone, &event.caller) {
            (Some(phone), _) => {
                phones.insert(phone.clone());
            }
            (None, Some(caller)) => phones.extend(caller.phones.iter().cloned()),
            (None, None) => phones.extend(
                derived
                    .entry(event.person)
                    .or_insert_with(|| Person::derive(seed, event.person, registry, city).phones)
                    .iter()
                    .cloned(),
            ),
        }
    }
    let mut categories: Vec<(&str, u32)> = categories.into_iter().collect();
    categories.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let date = |t: i64| to_shanghai(t).map(|t| t.date()).unwrap_or_default();
    let mut ties = draw.ties.clone();
    ties.sort();
    GroupTruth {
        ring_id: draw.ring_id.clone(),
        kind: draw.kind.clone(),
        categories: categories.into_iter().map(|(c, _)| c.to_owned()).collect(),
        members: members.len() as u32,
        phones: phones.len() as u32,
        target_mode: draw.target_mode.to_owned(),
        districts: districts.len() as u32,
        start: date(if calls > 0 { first } else { 0 }),
        end: date(if calls > 0 { last } else { 0 }),
        platforms: platforms.into_iter().map(|(_, p)| p.to_owned()).collect(),
        calls,
        ties: ties.into_iter().map(|t| t.name().to_owned()).collect(),
    }
}

impl Planter<'_> {
    /// Runs one planting step and records how many calls it planted.
    fn counted<F: FnOnce(&mut Self)>(&mut self, kinds: &mut Vec<(String, u64)>, name: &str, plant: F) {
        let before = self.events.len();
        plant(self);
        kinds.push((name.to_owned(), (self.events.len() - before) as u64));
    }

    fn date(&self, day: f64) -> NaiveDate {
        let day = day.clamp(0.0, f64::from(self.config.days) - 1.0);
        self.config.start + Duration::days(day as i64)
    }

    fn at(&mut self, date: NaiveDate, hours: std::ops::Range<u32>) -> i64 {
        let second = self.rng.random_range(hours.start * 3600..hours.end * 3600);
        from_shanghai(date.and_time(NaiveTime::MIN)) + i64::from(second) * MICROS_PER_SEC
    }

    fn days(&self) -> f64 {
        f64::from(self.config.days)
    }

    fn spec(&self, time: i64, platform: Platform, code: &str, person: PersonKey) -> EventSpec {
        EventSpec::new(time, platform, category_index(code), person)
    }

    /// How an accomplice is named by a victim: full name, surname and sex, or a description.
    fn reference(&mut self, person: &Person) -> String {
        let sex = if person.female { "女子" } else { "男子" };
        match self.rng.random_range(0..3) {
            0 => person.full_name(),
            1 => person.honorific_name(),
            _ if person.dotted => format!("自称叫{}的{sex}", person.surname),
            _ => format!("自称姓{}的{sex}", person.surname),
        }
    }

    fn template_with_person(&mut self, code: &str) -> Option<&'static str> {
        let templates = NARRATIVES.iter().find(|(c, _)| *c == code).map(|(_, t)| *t)?;
        let with: Vec<&'static str> =
            templates.iter().copied().filter(|t| t.contains("{person}") && t.contains("{counterparty}")).collect();
        (!with.is_empty()).then(|| *pick(&mut self.rng, &with))
    }

    /// (a) A travelling medical-beauty extortion ring as in the Yichang case.
    fn medical_beauty_ring(&mut self) {
        let tag = |role| TruthTag::Ring { ring_id: "RING-1".into(), kind: "extortion_ring".into(), role };
        let members: Vec<Person> = (0..4)
            .map(|i| {
                Person::derive(self.config.seed, PersonKey { pool: Pool::Ring(1), index: i }, self.registry, self.city)
            })
            .collect();
        let burner = random_mobile(&mut self.rng);
        // Clinics in as many districts as possible, taken round-robin.
        let clinics = self.spread_over_districts(CounterpartyKind::MedicalBeautyClinic, 18);
        let calls = 36;
        let (first, span) = (self.days() * 0.2, (self.days() * 0.45).max(1.0));
        let mut targeted = Vec::new();
        let beauty = "DISPUTE.MEDICAL_BEAUTY";
        let mut greedy = model(beauty);
        greedy.amount = (30_000, 200_000);
        for i in 0..calls {
            let day = first + span * f64::from(i) / f64::from(calls) + self.rng.random_range(0.0..1.5);
            let date = self.date(day);
            let time = self.at(date, 9..18);
            let m = self.rng.random_range(0..members.len());
            let member = &members[m];
            let clinic = clinics[i as usize % clinics.len()];
            let platform = if self.rng.random_bool(0.7) { Platform::P12345 } else { Platform::P110 };
            let mut spec = self.spec(time, platform, beauty, member.key);
            let entry = &self.registry.entries[clinic];
            spec.counterparty = Some(clinic);
            spec.counterparty_text = Some(self.registry.mention(&mut self.rng, clinic));
            let place =
                self.city.place_near(&mut self.rng, entry.place.district, (entry.place.lon, entry.place.lat), 0.02);
            // The first two look like any ordinary dispute: small sums.
            let amounts = if i < 2 { model(beauty) } else { greedy };
            let category = &Taxonomy::builtin().categories()[usize::from(spec.category)];
            spec.narrative = Some(fill_template(
                &mut self.rng,
                self.city,
                category,
                &amounts,
                spec.counterparty_text.as_deref(),
                &place,
            ));
            spec.place = Some(place);
            if m < 2 && self.rng.random_bool(0.3) {
                spec.phone = Some(burner.clone());
            } else {
                spec.phone = Some(pick(&mut self.rng, &member.phones).clone());
            }
            if self.rng.random_bool(0.15) {
                // A made-up given name.
                let made_up = pick(&mut self.rng, &["丽", "静", "芳", "敏", "婷", "强"]);
                spec.name = Some(if member.dotted {
                    member.surname.to_owned()
                } else {
                    format!("{}{made_up}", member.surname)
                });
            }
            spec.tags = vec![tag(if i < 2 { "seed" } else { "member_call" })];
            if i >= 4 {
                targeted.push((clinic, time, m));
            }
            self.events.push(spec);
        }
        // Some clinics report extortion, naming the member who claimed.
        let mut reported = Vec::new();
        for (clinic, time, m) in targeted {
            if reported.len() == 6 || reported.contains(&clinic) {
                continue;
            }
            reported.push(clinic);
            let later = time + self.rng.random_range(2 * 86_400..12 * 86_400) * MICROS_PER_SEC;
            let staff = PersonKey { pool: Pool::Staff, index: clinic as u64 };
            let mut spec = self.spec(later, Platform::P110, "CRIM.EXTORTION", staff);
            let entry = &self.registry.entries[clinic];
            let who = self.reference(&members[m]);
            let place =
                self.city.place_near(&mut self.rng, entry.place.district, (entry.place.lon, entry.place.lat), 0.01);
            let template = self.template_with_person("CRIM.EXTORTION").unwrap_or("{counterparty}负责人报警称，{person}以术后效果不好为由多次到店吵闹，索要赔偿{amount}元，否则就到网上曝光。");
            let mut amounts = model("CRIM.EXTORTION");
            amounts.amount = (50_000, 300_000);
            spec.narrative =
                Some(fill(&mut self.rng, self.city, template, &amounts, Some(&entry.name), &place, Some(&who)));
            spec.counterparty_text = Some(who);
            spec.place = Some(place);
            spec.phone = Some(entry.phone.clone());
            spec.tags = vec![tag("victim_report")];
            self.events.push(spec);
        }
    }

    fn spread_over_districts(&mut self, kind: CounterpartyKind, count: usize) -> Vec<usize> {
        let mut by_district: Vec<Vec<usize>> = vec![Vec::new(); self.city.districts.len()];
        for &i in self.registry.of_kind(kind) {
            by_district[self.registry.entries[i].place.district].push(i);
        }
        let mut chosen = Vec::new();
        let mut round = 0;
        while chosen.len() < count && round < 50 {
            for list in by_district.iter_mut() {
                if round < list.len() && chosen.len() < count {
                    let at = self.rng.random_range(round..list.len());
                    list.swap(round, at);
                    chosen.push(list[round]);
                }
            }
            round += 1;
        }
        // Interleave so consecutive calls hit different districts.
        let mut interleaved = chosen.clone();
        for i in (1..interleaved.len()).rev() {
            let j = self.rng.random_range(0..=i);
            interleaved.swap(i, j);
        }
        interleaved
    }

    /// (d1) Staged traffic accidents (碰瓷): a police matter, a few urban junctions, weeks of rush-hour bursts.
    fn staged_accident_ring(&mut self) {
        let tag = |role| TruthTag::Ring { ring_id: "RING-2".into(), kind: "staged_accident".into(), role };
        let members: Vec<Person> = (0..3)
            .map(|i| {
                Person::derive(self.config.seed, PersonKey { pool: Pool::Ring(2), index: i }, self.registry, self.city)
            })
            .collect();
        let junctions: Vec<(usize, (f64, f64))> = (0..4)
            .map(|i| {
                // The second busiest urban district, then the busiest (伍家岗区, 西陵区 in Yichang).
                let district = self.city.busiest_urban(if i < 2 { 1 } else { 0 });
                let place = self.city.random_place(&mut self.rng, district);
                (district, (place.lon, place.lat))
            })
            .collect();
        let first = self.days() * 0.55;
        let span = (self.days() * 0.3).clamp(1.0, 45.0);
        let mut burst_days: Vec<f64> = (0..10).map(|_| first + self.rng.random_range(0.0..span)).collect();
        burst_days.sort_by(f64::total_cmp);
        let accident = "TRAFFIC.ACCIDENT";
        let mut victims = Vec::new();
        for day in burst_days {
            let date = self.date(day);
            for _ in 0..self.rng.random_range(2..4) {
                let hours = if self.rng.random_bool(0.5) { 7..9 } else { 17..20 };
                let time = self.at(date, hours);
                let m = self.rng.random_range(0..members.len());
                let platform = if self.rng.random_bool(0.6) { Platform::P122 } else { Platform::P110 };
                let mut spec = self.spec(time, platform, accident, members[m].key);
                let (district, point) = *pick(&mut self.rng, &junctions);
                let place = self.city.place_near(&mut self.rng, district, point, 0.04);
                let plate = super::random_plate(&mut self.rng, self.city);
                let category = &Taxonomy::builtin().categories()[usize::from(spec.category)];
                spec.narrative =
                    Some(fill_template(&mut self.rng, self.city, category, &model(accident), None, &place));
                spec.counterparty_text = Some(format!("{plate}车主"));
                spec.place = Some(place.clone());
                spec.tags = vec![tag("member_call")];
                victims.push((time, m, place));
                self.events.push(spec);
            }
        }
        // A few drivers report being set up, naming the claimant.
        for (k, index) in [1usize, 5, 9, 14].into_iter().enumerate() {
            let Some((time, m, place)) = victims.get(index).cloned() else {
                continue;
            };
            let later = time + self.rng.random_range(3600..3 * 86_400) * MICROS_PER_SEC;
            let driver = PersonKey { pool: Pool::Local, index: 90_000 + k as u64 };
            let mut spec = self.spec(later, Platform::P110, "CRIM.EXTORTION", driver);
            let who = self.reference(&members[m]);
            let template = *pick(
                &mut self.rng,
                &[
                    "报警人称前几天驾车途经{address}时与一行人发生轻微碰擦，对方{person}当场倒地索要{amount}元，事后听说对方多次以同样方式索赔，怀疑系故意碰瓷。",
                    "报警人称在{address}路口倒车时{person}突然靠近车尾倒地，随后要求私了赔偿{amount}元，行车记录仪显示对方系故意为之。",
                    "驾驶员来电称其车辆在{address}被{person}拦下，对方称被车门刮伤，索要医药费{amount}元，报警人认为是碰瓷。",
                ],
            );
            let mut amounts = model("CRIM.EXTORTION");
            amounts.amount = (800, 6_000);
            spec.narrative = Some(fill(&mut self.rng, self.city, template, &amounts, None, &place, Some(&who)));
            spec.counterparty_text = Some(who);
            spec.place = Some(place);
            spec.tags = vec![tag("victim_report")];
            self.events.push(spec);
        }
    }

    /// (d2) Professional claimants (职业索赔): consumer complaints city-wide, steady all period, office hours, one shared script.
    fn professional_claimants(&mut self) {
        let tag =
            TruthTag::Ring { ring_id: "RING-3".into(), kind: "professional_claimants".into(), role: "member_call" };
        let members: Vec<Person> = (0..5)
            .map(|i| {
                Person::derive(self.config.seed, PersonKey { pool: Pool::Ring(3), index: i }, self.registry, self.city)
            })
            .collect();
        let phones: Vec<String> = (0..3).map(|_| random_mobile(&mut self.rng)).collect();
        let scripts = [
            "来电人称在{counterparty}购买的{item}已超过保质期，依据《食品安全法》第一百四十八条要求商家支付价款十倍赔偿，商家拒绝，请求市场监管部门依法处理。",
            "来电人反映{counterparty}销售的{item}标签不符合国家标准，依据《食品安全法》第一百四十八条要求退一赔十，商家不予理会，请求依法查处。",
            "来电人称其在{counterparty}购买{item}，发现为过期食品，要求按《食品安全法》第一百四十八条十倍赔偿，并请求监管部门对商家立案查处。",
            "来电人反映{counterparty}出售的{item}无中文标签，违反《食品安全法》，要求商家退货并十倍赔偿，请求市场监管局处理。",
        ];
        let items =
            ["进口红酒", "婴儿奶粉", "牛肉干", "蜂蜜", "进口巧克力", "保健酒", "海参", "燕窝", "坚果礼盒", "橄榄油"];
        let calls = 48;
        for i in 0..calls {
            let mut day =
                self.days() * (0.05 + 0.9 * f64::from(i) / f64::from(calls)) + self.rng.random_range(0.0..2.0);
            // Weekdays only.
            while matches!(self.date(day).weekday(), Weekday::Sat | Weekday::Sun) && day < self.days() - 1.0 {
                day += 1.0;
            }
            let date = self.date(day);
            let time = self.at(date, 9..17);
            let member = &members[self.rng.random_range(0..members.len())];
            let code = if self.rng.random_bool(0.5) { "COMPLAINT.PRICE" } else { "DISPUTE.CONSUMER" };
            let mut spec = self.spec(time, Platform::P12345, code, member.key);
            let shop = self.registry.pick(&mut self.rng, &[CounterpartyKind::Supermarket, CounterpartyKind::Shop]);
            let mention = shop.map(|s| self.registry.entries[s].name.clone());
            let script =
                scripts[self.rng.random_range(0..scripts.len())].replace("{item}", pick::<&str>(&mut self.rng, &items));
            let place = match shop {
                Some(s) => self.registry.entries[s].place.clone(),
                None => self.city.random_place(&mut self.rng, self.city.busiest_urban(0)),
            };
            spec.narrative =
                Some(fill(&mut self.rng, self.city, &script, &model(code), mention.as_deref(), &place, None));
            spec.counterparty = shop;
            spec.counterparty_text = mention;
            spec.place = Some(place);
            spec.phone = Some(pick(&mut self.rng, &phones).clone());
            spec.name = Some(member.full_name());
            spec.tags = vec![tag.clone()];
            self.events.push(spec);
        }
    }

    /// (b) Frequent repeat callers whose language escalates.
    fn escalating_callers(&mut self) {
        let count = 4 + (self.config.calls / 250_000).min(8);
        let categories =
            ["COMPLAINT.NOISE", "DISPUTE.PROPERTY_MGMT", "DISPUTE.LABOR", "DISPUTE.NEIGHBOR", "DISPUTE.RENTAL"];
        for k in 0..count {
            let key = PersonKey { pool: Pool::Escalator, index: k };
            let person = Person::derive(self.config.seed, key, self.registry, self.city);
            let code = categories[k as usize % categories.len()];
            let category_model = model(code);
            let counterparty = (!category_model.counterparties.is_empty())
                .then(|| self.registry.pick(&mut self.rng, category_model.counterparties))
                .flatten();
            let place = match counterparty {
                Some(c) => self.registry.entries[c].place.clone(),
                None => self.city.random_place(&mut self.rng, person.home_district),
            };
            let n = self.rng.random_range(18..41).min(self.config.days.max(2));
            for i in 0..n {
                let fraction = f64::from(i) / f64::from(n);
                let day = self.days() * (0.05 + 0.9 * fraction.powf(0.6));
                let date = self.date(day);
                let time = self.at(date, 8..22);
                let platform = if self.rng.random_bool(0.8) { Platform::P12345 } else { Platform::P110 };
                let mut spec = self.spec(time, platform, code, key);
                let level: u8 = match fraction {
                    f if f < 0.3 => 0,
                    f if f < 0.6 => 1,
                    f if f < 0.85 => 2,
                    _ => 3,
                };
                let mention = counterparty.map(|c| self.registry.mention(&mut self.rng, c));
                let category = &Taxonomy::builtin().categories()[usize::from(spec.category)];
                let mut narrative =
                    fill_template(&mut self.rng, self.city, category, &category_model, mention.as_deref(), &place);
                if level > 0 {
                    narrative.push_str(pick::<&str>(&mut self.rng, ESCALATION[usize::from(level) - 1]));
                }
                spec.narrative = Some(narrative);
                spec.counterparty = counterparty;
                spec.counterparty_text = mention;
                spec.place = Some(place.clone());
                spec.tags = vec![TruthTag::Escalation { ordinal: i + 1, level }];
                self.events.push(spec);
            }
        }
    }

    /// A counterparty in the central city that background calls seldom name (the registry's quiet tail),
    /// so that what is planted around it stands out as new.
    fn urban_entry(&mut self, kind: CounterpartyKind) -> Option<usize> {
        let all = self.registry.of_kind(kind);
        let tail = &all[all.len() * 7 / 10..];
        let urban: Vec<usize> = tail
            .iter()
            .copied()
            .filter(|&i| self.city.districts[self.registry.entries[i].place.district].urban)
            .collect();
        (!urban.is_empty()).then(|| *pick(&mut self.rng, &urban))
    }

    /// Plants one hotspot call near `centre` (district, centre, spread in km) about a counterparty.
    fn plant_in_hotspot(
        &mut self,
        mut spec: EventSpec,
        (district, centre, spread_km): (usize, (f64, f64), f64),
        counterparty: Option<usize>,
        mention: Option<String>,
    ) {
        let place = self.city.place_near(&mut self.rng, district, centre, spread_km);
        let category = &Taxonomy::builtin().categories()[usize::from(spec.category)];
        let model = model(&category.code);
        spec.narrative = Some(fill_template(&mut self.rng, self.city, category, &model, mention.as_deref(), &place));
        spec.counterparty = counterparty;
        spec.counterparty_text = mention;
        spec.place = Some(place);
        spec.tags = vec![TruthTag::Hotspot];
        self.events.push(spec);
    }

    /// (c) An emerging hotspot: wage disputes climbing at one construction site over the last part of the period.
    fn emerging_hotspot(&mut self) -> HotspotTruth {
        let code = "DISPUTE.LABOR";
        let company = self.urban_entry(CounterpartyKind::ConstructionCompany);
        let fallback = self.city.busiest_urban(1);
        let centre = company.map_or(self.city.districts[fallback].centre, |c| {
            (self.registry.entries[c].place.lon, self.registry.entries[c].place.lat)
        });
        let district = company.map_or(fallback, |c| self.registry.entries[c].place.district);
        let start_day = (self.days() * 0.7).floor();
        let length = (self.days() - start_day).max(1.0);
        let n = (self.config.calls / 2500).max(40);
        for i in 0..n {
            // Density rising as the square of time: few calls at first, many at the end.
            let x = self.rng.random::<f64>().cbrt();
            let date = self.date(start_day + x * length);
            let time = self.at(date, 8..18);
            let platform = if self.rng.random_bool(0.6) { Platform::P12345 } else { Platform::P110 };
            let worker = PersonKey { pool: Pool::Local, index: 100_000 + i * 4 / 5 };
            let mention = company.map(|c| self.registry.mention(&mut self.rng, c));
            self.plant_in_hotspot(self.spec(time, platform, code, worker), (district, centre, 0.08), company, mention);
        }
        HotspotTruth {
            id: "HS-1",
            category: code,
            lon: centre.0,
            lat: centre.1,
            radius_m: 300,
            start: self.date(start_day),
            end: self.date(self.days() - 1.0),
            kind: "emerging",
            counterparty: company.map(|c| self.registry.entries[c].name.clone()).unwrap_or_default(),
        }
    }

    /// (c) A persistent hotspot: night-time noise from one bar all period long, heavier at weekends.
    fn persistent_hotspot(&mut self) -> HotspotTruth {
        let code = "COMPLAINT.NOISE";
        let bar = self.urban_entry(CounterpartyKind::BarKtv);
        let fallback = self.city.busiest_urban(0);
        let centre = bar.map_or(self.city.districts[fallback].centre, |b| {
            (self.registry.entries[b].place.lon, self.registry.entries[b].place.lat)
        });
        let district = bar.map_or(fallback, |b| self.registry.entries[b].place.district);
        let n = (self.config.calls / 800).max(60);
        let residents = 20 + n / 8;
        for i in 0..n {
            let mut day = self.rng.random_range(0.0..self.days());
            if !matches!(self.date(day).weekday(), Weekday::Fri | Weekday::Sat) && self.rng.random_bool(0.3) {
                day = (day + 1.0).min(self.days() - 1.0);
            }
            let date = self.date(day);
            let time = self.at(date, 20..24) + if self.rng.random_bool(0.3) { 3 * 3600 * MICROS_PER_SEC } else { 0 };
            let platform = if self.rng.random_bool(0.55) { Platform::P110 } else { Platform::P12345 };
            let resident = PersonKey { pool: Pool::Local, index: 200_000 + i % residents };
            let mention = bar.filter(|_| self.rng.random_bool(0.75)).map(|b| self.registry.mention(&mut self.rng, b));
            self.plant_in_hotspot(self.spec(time, platform, code, resident), (district, centre, 0.07), bar, mention);
        }
        HotspotTruth {
            id: "HS-2",
            category: code,
            lon: centre.0,
            lat: centre.1,
            radius_m: 250,
            start: self.config.start,
            end: self.date(self.days() - 1.0),
            kind: "persistent",
            counterparty: bar.map(|b| self.registry.entries[b].name.clone()).unwrap_or_default(),
        }
    }
}

/// Writes `truth/hotspots.csv`.
pub fn write_hotspots(path: &std::path::Path, hotspots: &[HotspotTruth]) -> csv::Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record([
        "hotspot_id",
        "category",
        "lon",
        "lat",
        "radius_m",
        "start",
        "end",
        "kind",
        "counterparty",
    ])?;
    for h in hotspots {
        writer.write_record([
            h.id.to_owned(),
            h.category.to_owned(),
            format!("{:.6}", h.lon),
            format!("{:.6}", h.lat),
            h.radius_m.to_string(),
            h.start.to_string(),
            h.end.to_string(),
            h.kind.to_owned(),
            h.counterparty.clone(),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
