//! The calibrated generator of 110 / 12345 history with ground truth: streams calls and work orders day by day in constant memory.
//!
//! What is planted, and its truth files, are in [`plant`]: three fixed group recipes (`RING-1`
//! extortion ring, `RING-2` staged accidents, `RING-3` professional claimants), a randomised
//! family of further groups (`RING-F1` …, drawn per seed with their own size, categories, targets,
//! geography, span, platforms and ties; see `plant/family.rs`), escalating repeat callers and two
//! hotspots. `truth/groups.csv` lists every group with the parameters it was drawn with
//! ([`truth::read_groups`]).

pub mod city;
pub mod lexicon;
pub mod model;
pub mod noise;
pub mod people;
pub mod plant;
pub mod registry;
pub mod truth;
pub mod write;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal};

use crate::city::CityProfile;
use crate::contract::timestamp::{MICROS_PER_SEC, TimestampStyle, format_timestamp, from_shanghai, to_shanghai};
use crate::contract::{Category, Channel, Disposition, OrderStatus, Platform, Reason, Satisfaction, Table, Taxonomy};
use city::{City, CityLayoutError, Place, pick};
use lexicon::{CounterpartyKind, NARRATIVES};
use model::{CATEGORY_MODELS, CategoryModel, DayShape, targets};
use noise::stream;
use people::{Person, PersonKey, Pool, format_phone};
use plant::{Plan, TruthTag};
use registry::Registry;
pub use write::OutputFormat;
use write::{TableWriter, WriteError};

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateConfig {
    /// Call rows to write (original calls and transfer records together).
    pub calls: u64,
    /// Seed: the same seed and settings give byte-identical files.
    pub seed: u64,
    /// Output folder (created if missing).
    pub out: PathBuf,
    /// File format of the two tables.
    pub format: OutputFormat,
    /// First day (Asia/Shanghai).
    pub start: NaiveDate,
    /// Number of days.
    pub days: u32,
    /// Share of rows deliberately broken (listed in truth/malformed.csv).
    pub malformed_rate: f64,
    /// Whether to plant organised groups, escalating callers and hotspots.
    pub plant: bool,
    /// Whether planting adds the randomised family of organised groups (`RING-F1` …) to the
    /// three fixed recipes (only with `plant`).
    pub family: bool,
    /// The city the calls come from (districts, area code, names); Yichang by default.
    pub city: CityProfile,
}

impl Default for GenerateConfig {
    fn default() -> Self {
        GenerateConfig {
            calls: 10_000,
            seed: 1,
            out: PathBuf::from("generated"),
            format: OutputFormat::Csv,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap_or_default(),
            days: 365,
            malformed_rate: 0.002,
            plant: true,
            family: true,
            city: CityProfile::yichang(),
        }
    }
}

/// Tag of the stream a messy city's call-level extra forms are drawn from.
const MESSY_CALL_TAG: u64 = 0x3E55_0000_0001;

/// Fewest calls for which patterns are planted.
pub const MIN_CALLS_TO_PLANT: u64 = 5_000;

/// The command that made the committed sample in `data/sample`. It plants the fixed recipes
/// only: the tests and notebooks that read the sample count on its three groups.
pub const SAMPLE_COMMAND: &str = "hotline generate --calls 10000 --seed 20230719 --no-family --out data/sample";

/// The settings of [`SAMPLE_COMMAND`], writing to `out`.
pub fn sample_config(out: PathBuf) -> GenerateConfig {
    GenerateConfig { calls: 10_000, seed: 20_230_719, out, family: false, ..GenerateConfig::default() }
}

/// Errors of `generate`.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The settings cannot produce data.
    #[error("invalid settings: {0}")]
    Settings(String),
    /// The city profile does not describe places the generator can use.
    #[error(transparent)]
    City(#[from] CityLayoutError),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A folder could not be created.
    #[error("{path}: {source}")]
    Io {
        /// The folder or file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What was written.
#[derive(Debug, Clone, Default)]
pub struct GenerateSummary {
    /// Call rows written (including broken ones).
    pub calls: u64,
    /// Work-order rows written (including broken ones).
    pub work_orders: u64,
    /// Rows deliberately broken, by table and reason.
    pub malformed: Vec<(Table, Reason, u64)>,
    /// Calls of each planted pattern kind.
    pub planted: Vec<(String, u64)>,
    /// Files written.
    pub files: Vec<PathBuf>,
}

/// A call to be realised: who calls, when, where to and about what; the rest is drawn.
#[derive(Debug, Clone)]
pub struct EventSpec {
    /// Received at (UTC microseconds).
    pub time: i64,
    /// Receiving platform.
    pub platform: Platform,
    /// Taxonomy index.
    pub category: u16,
    /// Who calls.
    pub person: PersonKey,
    /// The counterparty (registry index) the call is about.
    pub counterparty: Option<usize>,
    /// What the caller names as the other party, when not a registry counterparty.
    pub counterparty_text: Option<String>,
    /// Where it happened (drawn when absent).
    pub place: Option<Place>,
    /// Narrative (drawn from templates when absent).
    pub narrative: Option<String>,
    /// Phone to use instead of the person's own (canonical form).
    pub phone: Option<String>,
    /// Name to record instead of the person's own.
    pub name: Option<String>,
    /// ID number to record on the call (else taken down at the person's own rate).
    pub id_number: Option<String>,
    /// The caller as planted, when the planter changed them (a family's surname and home); else
    /// the person is derived from `person`.
    pub caller: Option<Arc<Person>>,
    /// Platform the call is transferred to, whatever the desk would otherwise do with it.
    pub handoff: Option<Platform>,
    /// Whether `counterparty` and `counterparty_text` are final (none meaning none) rather than
    /// left for the draw to fill in.
    pub counterparty_decided: bool,
    /// Ground-truth tags.
    pub tags: Vec<TruthTag>,
}

impl EventSpec {
    /// A call by `person` to `platform` about category `category` at `time`; everything else is drawn.
    pub fn new(time: i64, platform: Platform, category: u16, person: PersonKey) -> EventSpec {
        EventSpec {
            time,
            platform,
            category,
            person,
            counterparty: None,
            counterparty_text: None,
            place: None,
            narrative: None,
            phone: None,
            name: None,
            id_number: None,
            caller: None,
            handoff: None,
            counterparty_decided: false,
            tags: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
struct CallDraft {
    time: i64,
    serial: u64,
    platform: Platform,
    person_id: String,
    fields: CallFields,
    source_serial: Option<u64>,
    has_dependents: bool,
    tags: Vec<TruthTag>,
}

#[derive(Debug, Clone)]
struct CallFields {
    phone: Option<String>,
    name: Option<String>,
    id_number: Option<String>,
    place: Option<Place>,
    show_coordinates: bool,
    category: u16,
    counterparty: Option<String>,
    narrative: String,
    disposition: Disposition,
}

#[derive(Debug, Clone)]
struct OrderDraft {
    time: i64,
    serial: u64,
    call_serial: u64,
    from: Platform,
    to: Option<Platform>,
    channel: Channel,
    department: Option<String>,
    signed: Option<i64>,
    feedback: Option<i64>,
    closed: Option<i64>,
    status: OrderStatus,
    satisfaction: Option<Satisfaction>,
    callback: Option<i64>,
}

#[derive(Debug, Clone)]
enum Draft {
    Call(Box<CallDraft>),
    Order(OrderDraft),
}

impl Draft {
    fn key(&self) -> (i64, u64) {
        match self {
            Draft::Call(c) => (c.time, c.serial),
            Draft::Order(o) => (o.time, o.serial),
        }
    }
}

/// The generator's state while streaming.
struct Generator<'a> {
    config: &'a GenerateConfig,
    taxonomy: &'static Taxonomy,
    city: City,
    registry: Registry,
    rng: ChaCha8Rng,
    /// Draws for a messy city's extra forms (never touched for a tidy one).
    messy: ChaCha8Rng,
    serial: u64,
    occasional: u64,
    regular_pool: u64,
    habitual_pool: u64,
    cutoff: i64,
    /// Cumulative category weights per day: 110 police, 110 non-police, 110 invalid, 12345.
    weights: [Vec<f64>; 4],
    ids: HashMap<u64, (String, i64)>,
    counters: HashMap<(String, NaiveDate), u32>,
    last_call_id: Option<String>,
    last_order_id: Option<String>,
    calls: TableWriter,
    orders: TableWriter,
    truth: Truth,
    summary: GenerateSummary,
    malformed: HashMap<(Table, Reason), u64>,
}

/// Writers of the ground-truth files.
struct Truth {
    call_person: csv::Writer<fs::File>,
    rings: csv::Writer<fs::File>,
    repeat_callers: csv::Writer<fs::File>,
    malformed: csv::Writer<fs::File>,
    dir: PathBuf,
}

fn csv_writer(path: &Path, header: &[&str]) -> Result<csv::Writer<fs::File>, GenerateError> {
    let io = |source| GenerateError::Io { path: path.to_owned(), source };
    let mut writer = csv::Writer::from_writer(fs::File::create(path).map_err(io)?);
    writer.write_record(header).map_err(|e| io(e.into()))?;
    Ok(writer)
}

impl Truth {
    fn create(dir: &Path) -> Result<Truth, GenerateError> {
        fs::create_dir_all(dir).map_err(|source| GenerateError::Io { path: dir.to_owned(), source })?;
        Ok(Truth {
            call_person: csv_writer(&dir.join("call_person.csv"), &["call_id", "person_id"])?,
            rings: csv_writer(&dir.join("rings.csv"), &["ring_id", "kind", "call_id", "role"])?,
            repeat_callers: csv_writer(
                &dir.join("repeat_callers.csv"),
                &["person_id", "call_id", "ordinal", "escalation_level"],
            )?,
            malformed: csv_writer(
                &dir.join("malformed.csv"),
                &["call_id", "line", "reason", "table", "order_id", "column"],
            )?,
            dir: dir.to_owned(),
        })
    }

    fn io(&self, name: &str, error: csv::Error) -> GenerateError {
        GenerateError::Io { path: self.dir.join(name), source: error.into() }
    }

    fn finish(self) -> Result<(), GenerateError> {
        for (name, writer) in [
            ("call_person.csv", self.call_person),
            ("rings.csv", self.rings),
            ("repeat_callers.csv", self.repeat_callers),
            ("malformed.csv", self.malformed),
        ] {
            let path = self.dir.join(name);
            let file = writer
                .into_inner()
                .map_err(|e| GenerateError::Io { path: path.clone(), source: std::io::Error::other(e.to_string()) })?;
            file.sync_all().map_err(|source| GenerateError::Io { path, source })?;
        }
        Ok(())
    }
}

/// Generates the batch and its truth into `config.out`, calling `progress` with call rows written so far.
pub fn generate(config: &GenerateConfig, progress: &mut dyn FnMut(u64)) -> Result<GenerateSummary, GenerateError> {
    if config.days == 0 {
        return Err(GenerateError::Settings("--days must be at least 1".into()));
    }
    if !(0.0..=0.5).contains(&config.malformed_rate) {
        return Err(GenerateError::Settings("--malformed-rate must be between 0 and 0.5".into()));
    }
    if config.start.checked_add_days(chrono::Days::new(u64::from(config.days) + 3)).is_none()
        || config.start.year() < 1990
    {
        return Err(GenerateError::Settings("--start and --days give dates out of range".into()));
    }
    let city = City::from_profile(&config.city)?;
    fs::create_dir_all(&config.out).map_err(|source| GenerateError::Io { path: config.out.clone(), source })?;
    let registry = Registry::generate(config.seed, &city);
    // Planted patterns need a few hundred calls of their own; below this they would crowd out
    // the background (and the row count could not be kept).
    let plan = if config.plant && config.calls >= MIN_CALLS_TO_PLANT {
        Plan::build(config, &registry, &city)
    } else {
        Plan::empty()
    };
    let mut generator = Generator::new(config, registry, city)?;
    let hotspots = config.out.join("truth").join("hotspots.csv");
    plant::write_hotspots(&hotspots, &plan.hotspots)
        .map_err(|e| GenerateError::Io { path: hotspots, source: e.into() })?;
    let groups = config.out.join("truth").join("groups.csv");
    truth::write_groups(&groups, &plan.groups).map_err(|e| GenerateError::Io { path: groups, source: e.into() })?;
    generator.run(plan, progress)?;
    generator.finish()
}

impl<'a> Generator<'a> {
    fn new(config: &'a GenerateConfig, registry: Registry, city: City) -> Result<Generator<'a>, GenerateError> {
        let calls = TableWriter::create(&config.out, Table::Calls, config.format)?;
        let orders = TableWriter::create(&config.out, Table::WorkOrders, config.format)?;
        let truth = Truth::create(&config.out.join("truth"))?;
        let end = config.start + Duration::days(i64::from(config.days) + 2);
        Ok(Generator {
            config,
            taxonomy: Taxonomy::builtin(),
            city,
            registry,
            rng: stream(config.seed, 0xBACC, 0),
            messy: stream(config.seed, MESSY_CALL_TAG, 0),
            serial: 0,
            occasional: 0,
            regular_pool: (config.calls / 10).max(100),
            habitual_pool: (config.calls / 4000).max(3),
            cutoff: from_shanghai(end.and_time(NaiveTime::MIN)),
            weights: Default::default(),
            ids: HashMap::new(),
            counters: HashMap::new(),
            last_call_id: None,
            last_order_id: None,
            calls,
            orders,
            truth,
            summary: GenerateSummary::default(),
            malformed: HashMap::new(),
        })
    }

    fn next_serial(&mut self) -> u64 {
        self.serial += 1;
        self.serial
    }

    fn run(&mut self, plan: Plan, progress: &mut dyn FnMut(u64)) -> Result<(), GenerateError> {
        let config = self.config;
        let dates: Vec<NaiveDate> = (0..config.days).map(|d| config.start + Duration::days(i64::from(d))).collect();
        let volumes: Vec<f64> = dates.iter().map(|&d| model::day_volume(d, config.start)).collect();
        let total_volume: f64 = volumes.iter().sum();
        let mut planted = plan.events.into_iter().peekable();
        let mut carried: Vec<Draft> = Vec::new();
        let mut cumulative = 0.0;
        let mut assigned: u64 = 0;
        let mut written_rows: u64 = 0;
        for (day, &date) in dates.iter().enumerate() {
            cumulative += volumes[day];
            let target = ((config.calls as f64) * cumulative / total_volume).round() as u64;
            let mut budget = target.saturating_sub(assigned);
            self.prepare_day(date);
            let day_end = from_shanghai((date + Duration::days(1)).and_time(NaiveTime::MIN));
            let mut drafts = std::mem::take(&mut carried);
            while let Some(spec) = planted.next_if(|s| s.time < day_end) {
                let before = drafts.len();
                self.realise(spec, &mut drafts);
                let rows = drafts[before..].iter().filter(|d| matches!(d, Draft::Call(_))).count() as u64;
                budget = budget.saturating_sub(rows);
                assigned += rows;
            }
            while budget > 0 {
                let spec = self.background_event(date);
                let before = drafts.len();
                self.realise(spec, &mut drafts);
                let rows = drafts[before..].iter().filter(|d| matches!(d, Draft::Call(_))).count() as u64;
                if rows > budget && day + 1 == dates.len() {
                    // Keep the total exact: on the last day, an event that would overshoot is redrawn.
                    // (Earlier days may overshoot by a row; the next day's budget absorbs it, which
                    // keeps dispositions unbiased.)
                    drafts.truncate(before);
                    continue;
                }
                budget = budget.saturating_sub(rows);
                assigned += rows;
            }
            drafts.sort_by_key(Draft::key);
            let last_day = day + 1 == dates.len();
            for draft in drafts {
                if draft.key().0 < day_end || last_day {
                    written_rows += self.emit(draft)?;
                } else {
                    carried.push(draft);
                }
            }
            self.ids.retain(|_, (_, t)| *t >= day_end - 2 * 86_400 * MICROS_PER_SEC);
            progress(written_rows);
        }
        self.summary.planted = plan.kinds;
        Ok(())
    }

    /// Per-day cumulative category weights for each platform class.
    fn prepare_day(&mut self, date: NaiveDate) {
        let weekday = date.weekday();
        let mut classes: [Vec<f64>; 4] = Default::default();
        for (i, category) in self.taxonomy.categories().iter().enumerate() {
            let model = &CATEGORY_MODELS[i];
            let factor = model::season_factor(model.season, date) * model::weekday_factor(model.shape, weekday);
            let police = if category.police_matter && !category.is_invalid() { model.weight_110 * factor } else { 0.0 };
            let non_police =
                if !category.police_matter && !category.is_invalid() { model.weight_110 * factor } else { 0.0 };
            let invalid = if category.is_invalid() { model.weight_110 } else { 0.0 };
            let at_12345 = model.weight_12345 * factor;
            for (class, weight) in [police, non_police, invalid, at_12345].into_iter().enumerate() {
                let previous = classes[class].last().copied().unwrap_or(0.0);
                classes[class].push(previous + weight);
            }
        }
        self.weights = classes;
    }

    fn draw_category(&mut self, class: usize) -> u16 {
        let weights = &self.weights[class];
        let total = weights.last().copied().unwrap_or(0.0);
        let x = self.rng.random::<f64>() * total;
        weights.partition_point(|&w| w <= x).min(weights.len() - 1) as u16
    }

    fn category(&self, index: u16) -> &'static Category {
        &self.taxonomy.categories()[usize::from(index)]
    }

    /// A background call: platform, category, time of day and caller drawn from the calibrated model.
    fn background_event(&mut self, date: NaiveDate) -> EventSpec {
        let roll = self.rng.random::<f64>();
        let (platform, category) = if roll < model::SHARE_110 {
            let class = if self.rng.random_bool(model::INVALID_110) {
                2
            } else if self.rng.random_bool(model::non_police_share_of_original_110()) {
                1
            } else {
                0
            };
            (Platform::P110, self.draw_category(class))
        } else if roll < model::SHARE_110 + model::SHARE_12345 {
            let class = if self.rng.random_bool(model::POLICE_AT_12345) { 0 } else { 3 };
            (Platform::P12345, self.draw_category(class))
        } else {
            let (platform, code) = *pick(
                &mut self.rng,
                &[
                    (Platform::P122, "TRAFFIC.ACCIDENT"),
                    (Platform::P122, "TRAFFIC.ACCIDENT"),
                    (Platform::P122, "TRAFFIC.ACCIDENT"),
                    (Platform::P122, "TRAFFIC.DUI"),
                    (Platform::P120, "MEDICAL.EMERGENCY"),
                    (Platform::P120, "MEDICAL.EMERGENCY"),
                    (Platform::P119, "FIRE.FIRE"),
                    (Platform::P95598, "HELP.POWER_OUTAGE"),
                    (Platform::P95598, "HELP.UTILITIES"),
                    (Platform::P12348, "CONSULT.LEGAL"),
                    (Platform::P12328, "COMPLAINT.TRAFFIC_ORDER"),
                    (Platform::P12338, "WOMEN.RIGHTS"),
                ],
            );
            (platform, self.taxonomy.get(code).map_or(0, |c| c.index))
        };
        let shape = CATEGORY_MODELS[usize::from(category)].shape;
        let time = self.time_of_day(date, shape);
        let person = self.draw_person(category);
        EventSpec::new(time, platform, category, person)
    }

    fn time_of_day(&mut self, date: NaiveDate, shape: DayShape) -> i64 {
        let hours = shape.hours();
        let total: f64 = hours.iter().sum();
        let mut x = self.rng.random::<f64>() * total;
        let mut hour = 23;
        for (h, w) in hours.iter().enumerate() {
            if x < *w {
                hour = h;
                break;
            }
            x -= w;
        }
        let seconds = hour as i64 * 3600 + self.rng.random_range(0..3600);
        from_shanghai(date.and_time(NaiveTime::MIN)) + seconds * MICROS_PER_SEC
    }

    /// Heavy-tailed callers: most call once, some now and then, a few about the same thing again and again.
    fn draw_person(&mut self, category: u16) -> PersonKey {
        let roll = self.rng.random::<f64>();
        if roll < 0.55 {
            self.occasional += 1;
            let index = if self.occasional > 50 && self.rng.random_bool(0.12) {
                self.occasional - self.rng.random_range(1..self.occasional.min(20_000))
            } else {
                self.occasional
            };
            PersonKey { pool: Pool::Occasional, index }
        } else if roll < 0.9 {
            let index = (self.regular_pool as f64 * self.rng.random::<f64>().powf(1.7)) as u64;
            PersonKey { pool: Pool::Regular, index }
        } else {
            let index = (self.habitual_pool as f64 * self.rng.random::<f64>().powf(2.5)) as u64;
            PersonKey { pool: Pool::Habitual(category), index }
        }
    }

    /// Turns an event into a call draft plus the transfer record and work order it causes.
    fn realise(&mut self, spec: EventSpec, out: &mut Vec<Draft>) {
        let category = self.category(spec.category);
        let model = &CATEGORY_MODELS[usize::from(spec.category)];
        let person = match &spec.caller {
            Some(caller) => Arc::clone(caller),
            None => Arc::new(Person::derive(self.config.seed, spec.person, &self.registry, &self.city)),
        };
        let city = &self.city;
        let messy = &mut self.messy;
        let rng = &mut self.rng;
        // The template decides whether the narrative names a counterparty.
        let template = match spec.narrative {
            Some(_) => None,
            None => Some(choose_template(rng, category)),
        };
        let counterparty = spec.counterparty.or_else(|| {
            if spec.counterparty_decided || spec.counterparty_text.is_some() || model.counterparties.is_empty() {
                return None;
            }
            let named = template.is_some_and(|t| t.contains("{counterparty}"));
            let wanted = named || rng.random_bool(if model.counterparty_central { 0.92 } else { 0.15 });
            let kinds = template.map_or(model.counterparties, |t| counterparty_kinds_for(t, model.counterparties));
            if wanted { self.registry.pick(rng, kinds) } else { None }
        });
        let place = spec.place.clone().unwrap_or_else(|| match counterparty {
            Some(c) => {
                let base = &self.registry.entries[c].place;
                let (lon, lat) = city.jitter(rng, (base.lon, base.lat), 0.03);
                Place { lon: city::round6(lon), lat: city::round6(lat), ..base.clone() }
            }
            None => {
                let district = if rng.random_bool(0.7) { person.home_district } else { city.pick_district(rng, false) };
                city.random_place(rng, district)
            }
        });
        let mention = spec.counterparty_text.clone().or_else(|| counterparty.map(|c| self.registry.mention(rng, c)));
        let narrative = match (&spec.narrative, template) {
            (Some(text), _) => text.clone(),
            (None, Some(template)) => fill(rng, city, template, model, mention.as_deref(), &place, None),
            (None, None) => fill_template(rng, city, category, model, mention.as_deref(), &place),
        };
        let consult = category.group() == "CONSULT";
        let located = match spec.platform {
            Platform::P12345 | Platform::P12348 => !consult && rng.random_bool(0.7),
            _ => !consult && rng.random_bool(0.88),
        };
        let disposition = match spec.handoff {
            Some(_) => Disposition::Transferred,
            None => draw_disposition(rng, spec.platform, category),
        };
        let phone = spec
            .phone
            .as_ref()
            .map(|p| format_phone(p, person.phone_style))
            .or_else(|| person.phone_as_captured(rng, messy));
        let name = spec.name.clone().or_else(|| person.name_as_given(rng, messy));
        let fields = CallFields {
            phone,
            name,
            id_number: spec.id_number.clone().or_else(|| person.id_as_given(rng)),
            place: (located || rng.random_bool(0.3)).then(|| place.clone()),
            show_coordinates: located,
            category: spec.category,
            counterparty: mention.clone(),
            narrative: narrative.clone(),
            disposition,
        };
        let call_serial = self.next_serial();
        let mut call = CallDraft {
            time: spec.time + if spec.platform == Platform::P110 { 0 } else { self.rng.random_range(0..1000) * 1000 },
            serial: call_serial,
            platform: spec.platform,
            person_id: spec.person.person_id(),
            fields,
            source_serial: None,
            has_dependents: false,
            tags: spec.tags.clone(),
        };
        let handoff = match disposition {
            Disposition::Transferred => spec.handoff.or_else(|| transfer_target(spec.platform, category)),
            _ => None,
        };
        if let Some(target) = handoff {
            call.has_dependents = true;
            let created = call.time + self.rng.random_range(20..150) * MICROS_PER_SEC;
            let channel = *pick(
                &mut self.rng,
                &[
                    Channel::OneKey,
                    Channel::OneKey,
                    Channel::OneKey,
                    Channel::ThreeWay,
                    Channel::ThreeWay,
                    Channel::Online,
                ],
            );
            let department = if target == Platform::P110 {
                Some("派出所".to_owned())
            } else {
                category.default_department.clone()
            };
            let order = self.order(created, call_serial, spec.platform, Some(target), channel, department);
            // The receiving platform records the call again, with its own capture of the caller.
            let rng = &mut self.rng;
            let messy = &mut self.messy;
            let child_disposition = if rng.random_bool(0.95) { Disposition::Dispatched } else { Disposition::Answered };
            let child_fields = CallFields {
                phone: spec
                    .phone
                    .as_ref()
                    .map(|p| format_phone(p, rng.random_range(0..5)))
                    .or_else(|| person.phone_as_captured(rng, messy)),
                name: spec.name.clone().or_else(|| person.name_as_given(rng, messy)),
                id_number: spec.id_number.clone().or_else(|| person.id_as_given(rng)),
                place: Some(place.clone()),
                show_coordinates: located,
                category: spec.category,
                counterparty: mention,
                narrative: format!("{}转来：{}", spec.platform.code(), narrative),
                disposition: child_disposition,
            };
            let child_serial = self.next_serial();
            let child = CallDraft {
                time: created + self.rng.random_range(2..40) * MICROS_PER_SEC,
                serial: child_serial,
                platform: target,
                person_id: call.person_id.clone(),
                fields: child_fields,
                source_serial: Some(call_serial),
                has_dependents: false,
                tags: spec.tags.iter().map(|t| t.as_transfer()).collect(),
            };
            out.push(Draft::Call(Box::new(call)));
            out.push(Draft::Call(Box::new(child)));
            out.push(Draft::Order(order));
        } else {
            let dispatched = disposition == Disposition::Dispatched;
            if dispatched {
                call.has_dependents = true;
            }
            let time = call.time;
            out.push(Draft::Call(Box::new(call)));
            if dispatched {
                let created = time + self.rng.random_range(30..300) * MICROS_PER_SEC;
                let department = category.default_department.clone();
                let order = self.order(created, call_serial, spec.platform, None, Channel::Online, department);
                out.push(Draft::Order(order));
            }
        }
    }

    /// A work order with SLA timestamps drawn to the published figures, cut at the export time.
    fn order(
        &mut self,
        created: i64,
        call_serial: u64,
        from: Platform,
        to: Option<Platform>,
        channel: Channel,
        department: Option<String>,
    ) -> OrderDraft {
        let rng = &mut self.rng;
        let sec = MICROS_PER_SEC;
        let never_signed = rng.random_bool(0.001);
        let signed = (!never_signed).then(|| {
            let delay = if rng.random_bool(targets::SIGNING_3MIN / 0.999) {
                let quick: f64 = LogNormal::new(3.6, 0.6).map(|d| d.sample(rng)).unwrap_or(40.0);
                quick.clamp(3.0, 178.0) as i64
            } else {
                rng.random_range(181..3 * 3600)
            };
            created + delay * sec
        });
        let returned = from == Platform::P110 && to.is_some() && rng.random_bool(targets::REFLOW);
        let feedback = signed.and_then(|s| {
            if rng.random_bool(0.003 / 0.999) {
                return None;
            }
            let on_time = rng.random_bool((targets::FEEDBACK_2H / 0.996).min(1.0));
            let latest = created + 7_190 * sec;
            Some(if on_time && s + 30 * sec < latest {
                rng.random_range(s + 30 * sec..latest)
            } else if on_time {
                s + sec
            } else {
                created + rng.random_range(7_201..3 * 86_400) * sec
            })
        });
        let closed = if returned {
            None
        } else {
            feedback.map(|f| {
                f + LogNormal::new(10.0f64, 1.0)
                    .map(|d| d.sample(rng))
                    .unwrap_or(20_000.0)
                    .clamp(600.0, 12.0 * 86_400.0) as i64
                    * sec
            })
        };
        let callback =
            closed.filter(|_| rng.random_bool(0.72)).map(|c| c + rng.random_range(2 * 3600..72 * 3600) * sec);
        let satisfaction = callback.map(|_| {
            let x = rng.random::<f64>();
            if x < 0.86 {
                Satisfaction::Satisfied
            } else if x < targets::SATISFACTION {
                Satisfaction::Basic
            } else {
                Satisfaction::Unsatisfied
            }
        });
        // What the export shows depends on what has happened by the export time.
        let cut = |t: Option<i64>| t.filter(|&t| t <= self.cutoff);
        let (signed, feedback, closed, callback) = (cut(signed), cut(feedback), cut(closed), cut(callback));
        let satisfaction = satisfaction.filter(|_| callback.is_some());
        let status = if returned && signed.is_some() {
            OrderStatus::Returned
        } else if closed.is_some() {
            OrderStatus::Closed
        } else if feedback.is_some() {
            OrderStatus::Feedback
        } else if signed.is_some() {
            OrderStatus::Signed
        } else {
            OrderStatus::Pending
        };
        let serial = self.next_serial();
        OrderDraft {
            time: created,
            serial,
            call_serial,
            from,
            to,
            channel,
            department,
            signed,
            feedback,
            closed,
            status,
            satisfaction,
            callback,
        }
    }

    fn next_id(&mut self, prefix: String, time: i64) -> String {
        let date = to_shanghai(time).map(|t| t.date()).unwrap_or_default();
        let counter = self.counters.entry((prefix.clone(), date)).or_insert(0);
        *counter += 1;
        let id = format!("{prefix}-{}-{:06}", date.format("%Y%m%d"), counter);
        if self.counters.len() > 64 {
            self.counters.retain(|(_, d), _| *d >= date - Duration::days(2));
        }
        id
    }

    /// Writes one draft (broken on purpose at the configured rate); returns call rows written.
    fn emit(&mut self, draft: Draft) -> Result<u64, GenerateError> {
        match draft {
            Draft::Call(call) => {
                let call_id = self.next_id(call.platform.code().to_owned(), call.time);
                if call.has_dependents {
                    self.ids.insert(call.serial, (call_id.clone(), call.time));
                }
                let source = call.source_serial.and_then(|s| self.ids.get(&s)).map(|(id, _)| id.clone());
                let mut fields = self.call_fields(&call, &call_id, source);
                // Planted calls stay intact; a call others refer to may break in any way but its key.
                let breakable = call.tags.is_empty();
                let broken = if breakable && self.rng.random_bool(self.config.malformed_rate) {
                    self.break_call(&mut fields, !call.has_dependents)
                } else {
                    None
                };
                let line = match broken {
                    Some((Reason::MalformedRecord, _)) => self.calls.write_unreadable(&fields)?,
                    _ => self.calls.write(&fields)?,
                };
                match broken {
                    Some((reason, column)) => {
                        let key = fields[0].clone().unwrap_or_default();
                        self.record_malformed(Table::Calls, &key, None, line, reason, column)?;
                    }
                    None => {
                        self.truth
                            .call_person
                            .write_record([call_id.as_str(), call.person_id.as_str()])
                            .map_err(|e| self.truth.io("call_person.csv", e))?;
                        for tag in &call.tags {
                            tag.write(&mut self.truth.rings, &mut self.truth.repeat_callers, &call_id, &call.person_id)
                                .map_err(|e| self.truth.io("rings.csv", e))?;
                        }
                        self.last_call_id = Some(call_id);
                    }
                }
                self.summary.calls += 1;
                Ok(1)
            }
            Draft::Order(order) => {
                let order_id = self.next_id(format!("WO{}", order.from.code()), order.time);
                let call_id = self.ids.get(&order.call_serial).map(|(id, _)| id.clone()).unwrap_or_default();
                let mut fields = order_fields(&order, &order_id, &call_id, &mut self.rng);
                let broken =
                    if self.rng.random_bool(self.config.malformed_rate) { self.break_order(&mut fields) } else { None };
                let line = match broken {
                    Some((Reason::MalformedRecord, _)) => self.orders.write_unreadable(&fields)?,
                    _ => self.orders.write(&fields)?,
                };
                if let Some((reason, column)) = broken {
                    let key = fields[0].clone().unwrap_or_default();
                    self.record_malformed(Table::WorkOrders, &call_id, Some(&key), line, reason, column)?;
                } else {
                    self.last_order_id = Some(order_id);
                }
                self.summary.work_orders += 1;
                Ok(0)
            }
        }
    }

    fn record_malformed(
        &mut self,
        table: Table,
        call_id: &str,
        order_id: Option<&str>,
        line: u64,
        reason: Reason,
        column: Option<&'static str>,
    ) -> Result<(), GenerateError> {
        self.truth
            .malformed
            .write_record([
                call_id,
                &line.to_string(),
                reason.code(),
                table.name(),
                order_id.unwrap_or(""),
                column.unwrap_or(""),
            ])
            .map_err(|e| self.truth.io("malformed.csv", e))?;
        *self.malformed.entry((table, reason)).or_insert(0) += 1;
        Ok(())
    }

    fn call_fields(&mut self, call: &CallDraft, call_id: &str, source: Option<String>) -> Vec<Option<String>> {
        let rng = &mut self.rng;
        let (city, messy) = (&self.city, &mut self.messy);
        let f = &call.fields;
        let category = &self.taxonomy.categories()[usize::from(f.category)];
        let style = match call.platform {
            Platform::P110 => TimestampStyle::ShanghaiLocal,
            Platform::P12345 => TimestampStyle::IsoOffset,
            _ => TimestampStyle::IsoUtcMillis,
        };
        let (lon, lat) = match (&f.place, f.show_coordinates) {
            (Some(p), true) => (Some(format!("{:.6}", p.lon)), Some(format!("{:.6}", p.lat))),
            _ => (None, None),
        };
        let category_text = if rng.random_bool(0.12) { category.name_zh.clone() } else { category.code.clone() };
        // 110 writes 出警 for a dispatch, other platforms 派单 (labels are listed in that order).
        let labels = f.disposition.labels();
        let label = if call.platform == Platform::P110 { labels.first() } else { labels.last() };
        let disposition = match label {
            Some(label) if rng.random_bool(0.15) => (*label).to_owned(),
            _ => f.disposition.code().to_owned(),
        };
        vec![
            Some(call_id.to_owned()),
            Some(call.platform.code().to_owned()),
            Some(format_timestamp(call.time, style)),
            f.phone.clone(),
            f.name.clone(),
            f.id_number.clone(),
            f.place.as_ref().map(|p| p.address.clone()),
            f.place.as_ref().filter(|_| rng.random_bool(0.97)).map(|p| city.district_as_written(p.district, messy)),
            f.place.as_ref().filter(|_| f.show_coordinates).map(|p| city.grid_of(p)),
            lon,
            lat,
            Some(category_text),
            f.counterparty.clone(),
            Some(f.narrative.clone()),
            Some(disposition),
            source,
        ]
    }

    /// Breaks a call row in one way; returns the reason and column the validator must report.
    fn break_call(
        &mut self,
        fields: &mut [Option<String>],
        key_may_change: bool,
    ) -> Option<(Reason, Option<&'static str>)> {
        use crate::contract::call_col as c;
        let text_format = self.config.format != OutputFormat::Parquet;
        let mut options: Vec<Reason> = vec![
            Reason::MissingValue,
            Reason::BadEnum,
            Reason::UnknownCategory,
            Reason::CoordinatesIncomplete,
            Reason::CoordinatesOutOfRange,
        ];
        if self.last_call_id.is_some() && key_may_change {
            options.push(Reason::DuplicateKey);
        }
        if text_format {
            options.extend([Reason::BadTimestamp, Reason::BadNumber, Reason::MalformedRecord]);
        }
        let has_coordinates = fields[c::LON].is_some();
        options.retain(|r| {
            has_coordinates
                || !matches!(r, Reason::CoordinatesIncomplete | Reason::CoordinatesOutOfRange | Reason::BadNumber)
        });
        let rng = &mut self.rng;
        let reason = *pick(rng, &options);
        let column = match reason {
            Reason::MissingValue => {
                let (index, name) = *pick(
                    rng,
                    &[
                        (c::NARRATIVE, "narrative"),
                        (c::CATEGORY, "category"),
                        (c::PLATFORM, "platform"),
                        (c::DISPOSITION, "disposition"),
                    ],
                );
                fields[index] = None;
                Some(name)
            }
            Reason::BadEnum => {
                if rng.random_bool(0.5) {
                    fields[c::PLATFORM] = Some(pick(rng, &["1100", "911", "市长热线"]).to_string());
                    Some("platform")
                } else {
                    fields[c::DISPOSITION] = Some(pick(rng, &["挂断", "CLOSED", "待定"]).to_string());
                    Some("disposition")
                }
            }
            Reason::UnknownCategory => {
                fields[c::CATEGORY] = Some(pick(rng, &["其他", "OTHER.UNKNOWN", "DISPUTE.MISC"]).to_string());
                Some("category")
            }
            Reason::CoordinatesIncomplete => {
                if rng.random_bool(0.5) {
                    fields[c::LAT] = None;
                    Some("lat")
                } else {
                    fields[c::LON] = None;
                    Some("lon")
                }
            }
            Reason::CoordinatesOutOfRange => {
                // Swapped columns, a classic export bug.
                fields.swap(c::LON, c::LAT);
                Some("lon")
            }
            Reason::DuplicateKey => {
                fields[c::CALL_ID] = self.last_call_id.clone();
                Some("call_id")
            }
            Reason::BadTimestamp => {
                let time = fields[c::RECEIVED_AT].clone().unwrap_or_default();
                fields[c::RECEIVED_AT] = Some(match rng.random_range(0..3) {
                    0 => time.replace('-', "/"),
                    1 => format!("{}25:61:00", &time[..time.len().min(11)]),
                    _ => "昨天下午".to_owned(),
                });
                Some("received_at")
            }
            Reason::BadNumber => {
                fields[c::LON] = fields[c::LON].as_ref().map(|v| v.replace('.', ","));
                Some("lon")
            }
            _ => None,
        };
        Some((reason, column))
    }

    fn break_order(&mut self, fields: &mut [Option<String>]) -> Option<(Reason, Option<&'static str>)> {
        use crate::contract::order_col as o;
        let text_format = self.config.format != OutputFormat::Parquet;
        let mut options = vec![Reason::MissingValue, Reason::BadEnum];
        if fields[o::SIGNED_AT].is_some() {
            options.push(Reason::TimestampOrder);
        }
        if self.last_order_id.is_some() {
            options.push(Reason::DuplicateKey);
        }
        if text_format {
            options.extend([Reason::BadTimestamp, Reason::MalformedRecord]);
        }
        let rng = &mut self.rng;
        let reason = *pick(rng, &options);
        let column = match reason {
            Reason::MissingValue => {
                let (index, name) =
                    *pick(rng, &[(o::CALL_ID, "call_id"), (o::CHANNEL, "channel"), (o::STATUS, "status")]);
                fields[index] = None;
                Some(name)
            }
            Reason::BadEnum => {
                fields[o::STATUS] = Some(pick(rng, &["已完成", "DONE", "处理中"]).to_string());
                Some("status")
            }
            Reason::TimestampOrder => {
                // Signed a minute before it was created: clocks out of step between systems.
                let created =
                    fields[o::CREATED_AT].as_deref().and_then(crate::contract::timestamp::parse_timestamp).unwrap_or(0);
                fields[o::SIGNED_AT] = Some(format_timestamp(created - 60 * MICROS_PER_SEC, TimestampStyle::IsoOffset));
                Some("signed_at")
            }
            Reason::DuplicateKey => {
                fields[o::ORDER_ID] = self.last_order_id.clone();
                Some("order_id")
            }
            Reason::BadTimestamp => {
                fields[o::CREATED_AT] = fields[o::CREATED_AT].as_ref().map(|t| t.replace('T', " at "));
                Some("created_at")
            }
            _ => None,
        };
        Some((reason, column))
    }

    fn finish(mut self) -> Result<GenerateSummary, GenerateError> {
        let calls_path = self.config.out.join(format!("calls.{}", self.config.format.extension()));
        let orders_path = self.config.out.join(format!("work_orders.{}", self.config.format.extension()));
        self.calls.finish()?;
        self.orders.finish()?;
        self.truth.finish()?;
        let mut malformed: Vec<(Table, Reason, u64)> =
            self.malformed.into_iter().map(|((t, r), n)| (t, r, n)).collect();
        malformed.sort_by_key(|(t, r, _)| (t.name(), *r));
        self.summary.malformed = malformed;
        self.summary.files = vec![calls_path, orders_path, self.config.out.join("truth")];
        Ok(self.summary)
    }
}

fn order_fields(order: &OrderDraft, order_id: &str, call_id: &str, rng: &mut ChaCha8Rng) -> Vec<Option<String>> {
    let style = TimestampStyle::IsoOffset;
    let ts = |t: Option<i64>| t.map(|t| format_timestamp(t, style));
    let label = rng.random_bool(0.15);
    let enum_text = |code: &str, labels: &[&str]| {
        if label { labels[0].to_owned() } else { code.to_owned() }
    };
    vec![
        Some(order_id.to_owned()),
        (!call_id.is_empty()).then(|| call_id.to_owned()),
        ts(Some(order.time)),
        Some(order.from.code().to_owned()),
        order.to.map(|p| p.code().to_owned()),
        Some(enum_text(order.channel.code(), order.channel.labels())),
        order.department.clone(),
        ts(order.signed),
        ts(order.feedback),
        ts(order.closed),
        Some(enum_text(order.status.code(), order.status.labels())),
        order.satisfaction.map(|s| enum_text(s.code(), s.labels())),
        ts(order.callback),
    ]
}

/// What the desk does with a call on a platform, drawn to the calibrated rates.
fn draw_disposition(rng: &mut ChaCha8Rng, platform: Platform, category: &Category) -> Disposition {
    let x = rng.random::<f64>();
    match platform {
        Platform::P110 if category.is_invalid() => Disposition::Invalid,
        Platform::P110 if !category.police_matter => {
            if x < targets::DIVERSION_RATE {
                Disposition::Transferred
            } else if x < targets::DIVERSION_RATE + targets::SELF_HANDLING_RATE {
                Disposition::Answered
            } else {
                Disposition::Dispatched
            }
        }
        Platform::P110 => {
            if x < 0.03 && category.default_platform != Platform::P110 {
                Disposition::Transferred
            } else if x < 0.87 {
                Disposition::Dispatched
            } else {
                Disposition::Answered
            }
        }
        Platform::P12345 if category.police_matter => Disposition::Transferred,
        Platform::P12345 if category.group() == "CONSULT" => {
            if x < 0.85 {
                Disposition::Answered
            } else {
                Disposition::Dispatched
            }
        }
        Platform::P12345 => {
            if x < 0.02 && !matches!(category.default_platform, Platform::P12345 | Platform::P110) {
                Disposition::Transferred
            } else if x < 0.78 {
                Disposition::Dispatched
            } else {
                Disposition::Answered
            }
        }
        _ => {
            if x < 0.9 {
                Disposition::Dispatched
            } else {
                Disposition::Answered
            }
        }
    }
}

/// Where a transferred call goes.
fn transfer_target(from: Platform, category: &Category) -> Option<Platform> {
    match from {
        Platform::P110 if category.default_platform == Platform::P110 => Some(Platform::P12345),
        Platform::P110 => Some(category.default_platform),
        Platform::P12345 if category.police_matter => Some(Platform::P110),
        Platform::P12345 if category.default_platform != Platform::P12345 => Some(category.default_platform),
        _ => None,
    }
}

/// A car plate of the city (`鄂E…` in Yichang).
pub fn random_plate(rng: &mut ChaCha8Rng, city: &City) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut plate = String::from(city.plate_prefix());
    if rng.random_bool(0.2) {
        plate.push('D');
        for _ in 0..5 {
            plate.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
        return plate;
    }
    for i in 0..5 {
        if i < 2 && rng.random_bool(0.35) {
            plate.push(char::from(LETTERS[rng.random_range(0..LETTERS.len())]));
        } else {
            plate.push(char::from(b'0' + rng.random_range(0..10u8)));
        }
    }
    plate
}

/// The kinds of business a template's story fits (a car repair is at a garage, a prepaid gym card at a gym).
fn counterparty_kinds_for(template: &str, default: &'static [CounterpartyKind]) -> &'static [CounterpartyKind] {
    use CounterpartyKind as K;
    const HINTS: &[(&str, &[CounterpartyKind])] = &[
        ("健身", &[K::Gym]),
        ("培训", &[K::TrainingSchool]),
        ("维修车辆", &[K::AutoShop]),
        ("就餐", &[K::Restaurant]),
        ("吃饭", &[K::Restaurant]),
        ("用餐", &[K::Restaurant]),
        ("菜品", &[K::Restaurant]),
        ("喝完酒", &[K::Restaurant, K::BarKtv]),
        ("订的房间", &[K::Hotel]),
        ("房价", &[K::Hotel]),
        ("快递", &[K::Logistics]),
        ("KTV", &[K::BarKtv]),
        ("营业到凌晨", &[K::BarKtv]),
        ("深夜喧哗", &[K::BarKtv]),
        ("油烟", &[K::Restaurant]),
        ("后厨", &[K::Restaurant]),
        ("排放黑烟", &[K::Factory]),
        ("偷排污水", &[K::Factory]),
        ("刺激性气味", &[K::Factory]),
        ("工地", &[K::ConstructionCompany]),
        ("装修工程款", &[K::ConstructionCompany]),
        ("试衣", &[K::Shop]),
        ("购买的商品", &[K::Shop, K::Supermarket]),
        ("充值的会员卡", &[K::Gym, K::Restaurant, K::Shop, K::Hotel]),
    ];
    HINTS.iter().find(|(word, _)| template.contains(word)).map_or(default, |(_, kinds)| *kinds)
}

/// A narrative template of the category (templates naming an unknown person are used less often).
pub fn choose_template(rng: &mut ChaCha8Rng, category: &Category) -> &'static str {
    let templates = NARRATIVES.iter().find(|(code, _)| *code == category.code).map_or(&[][..], |(_, t)| *t);
    let candidates: Vec<&'static str> =
        templates.iter().copied().filter(|t| !t.contains("{person}") || rng.random_bool(0.3)).collect();
    if candidates.is_empty() {
        "来电人反映{address}附近有情况，请求处理。"
    } else {
        candidates[rng.random_range(0..candidates.len())]
    }
}

/// Picks a narrative template of the category and fills its slots.
pub fn fill_template(
    rng: &mut ChaCha8Rng,
    city: &City,
    category: &Category,
    model: &CategoryModel,
    counterparty: Option<&str>,
    place: &Place,
) -> String {
    let template = choose_template(rng, category);
    fill(rng, city, template, model, counterparty, place, None)
}

/// Fills a template's slots (`{city}` with the city's short name).
pub fn fill(
    rng: &mut ChaCha8Rng,
    city: &City,
    template: &str,
    model: &CategoryModel,
    counterparty: Option<&str>,
    place: &Place,
    person: Option<&str>,
) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            out.push_str(&rest[open..]);
            rest = "";
            break;
        };
        let slot = &rest[open + 1..open + close];
        match slot {
            "counterparty" => out.push_str(counterparty.unwrap_or("对方")),
            "address" => out.push_str(&place.short_address),
            "amount" => {
                let (low, high) = if model.amount.1 > 0 { model.amount } else { (200, 5_000) };
                let raw = rng.random_range(low..=high.max(low));
                let rounded = if raw >= 10_000 {
                    raw / 1000 * 1000
                } else if raw >= 1000 {
                    raw / 100 * 100
                } else {
                    raw / 10 * 10
                };
                out.push_str(&rounded.max(10).to_string());
            }
            "plate" => out.push_str(&random_plate(rng, city)),
            "city" => out.push_str(&city.short),
            "months" => out.push_str(&rng.random_range(1..9u32).to_string()),
            "minutes" => out.push_str(&rng.random_range(5..61u32).to_string()),
            "person" => match person {
                Some(p) => out.push_str(p),
                None => {
                    let surname = lexicon::SURNAMES[rng.random_range(0..lexicon::SURNAMES.len().min(30))].0;
                    out.push_str(&format!("一名姓{surname}的{}", if rng.random_bool(0.6) { "男子" } else { "女子" }));
                }
            },
            "landmark" => out.push_str(pick::<&str>(rng, lexicon::LANDMARKS)),
            other => {
                out.push('{');
                out.push_str(other);
                out.push('}');
            }
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}
