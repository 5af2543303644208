//! Reads every call with what linking compares: its resolved caller, phone key, category, place,
//! counterparty (as an organisation key or a named person), the caller's name as matching needs it,
//! and the rare shingles of its narrative. Raw names stay inside the process.

use std::collections::{HashMap, HashSet};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType};
use rayon::prelude::*;

use super::LinkError;
use super::mentions::{MentionKind, mentions, value as mention_value};
use super::text::shingles;
use crate::catalog::TextColumn;
use crate::pii::{name_pinyin, name_syllables};
use crate::sql::Session;
use crate::text::{Counterparty, CounterpartyReader, KnownNames, PersonRef, person_in_narrative};

/// Side of the square cells that "the same place" means, in metres.
pub const CELL_METRES: f64 = 500.0;

pub use crate::resolve::records::Interner;

/// The caller's name as a named-person reference is matched against it.
#[derive(Debug, Clone, Default)]
pub struct CallerName {
    /// Pinyin of the surname.
    pub surname: Option<u32>,
    /// Pinyin of the full name (None for `王先生`).
    pub full: Option<u32>,
    /// Sex, from the ID or the form of address.
    pub female: Option<bool>,
}

/// One call as linking sees it.
#[derive(Debug, Clone)]
pub struct Incident {
    /// When it was received (UTC microseconds).
    pub time: i64,
    /// Resolved caller (interned entity id).
    pub entity: u32,
    /// Phone key (interned), when a number was captured.
    pub phone: Option<u32>,
    /// Category (interned code).
    pub category: u32,
    /// District (interned).
    pub district: Option<u32>,
    /// Cell of [`CELL_METRES`] holding the call's point.
    pub cell: Option<(i32, i32)>,
    /// Point (lon, lat).
    pub point: Option<(f64, f64)>,
    /// Organisation named as counterparty (interned key).
    pub organisation: Option<u32>,
    /// The call this one was transferred from.
    pub source: Option<u32>,
    /// The caller's name.
    pub caller: CallerName,
    /// Words of escalation (1) or threat and self-harm (2) in the narrative (see [`super::concern`]).
    pub language: u8,
}

/// Every call of the warehouse, in the order read.
#[derive(Debug, Default)]
pub struct Incidents {
    /// Call ids.
    pub call_ids: Vec<String>,
    /// Threat or self-harm words of each call whose narrative has any (for evidence sentences).
    pub threat_words: HashMap<u32, Vec<&'static str>>,
    /// Call id → position.
    pub position: HashMap<String, u32>,
    /// The calls.
    pub list: Vec<Incident>,
    /// Entity ids.
    pub entities: Interner,
    /// Phone keys.
    pub phones: Interner,
    /// Categories.
    pub categories: Interner,
    /// Districts.
    pub districts: Interner,
    /// Organisation keys.
    pub organisations: Interner,
    /// A display label of each organisation key: its most frequent spelling.
    pub organisation_labels: Vec<String>,
    /// Every spelling of an organisation seen in a counterparty field (4 characters or more) → key.
    pub organisation_spellings: HashMap<String, u32>,
    /// Pinyin of names.
    pub pinyins: Interner,
    /// Full names (pinyin) each entity gave on any call.
    pub full_names: HashMap<u32, Vec<u32>>,
    /// The syllables (pinyin of each character) of each full name.
    pub syllables: HashMap<u32, Vec<u32>>,
    /// People named as counterparty, by call.
    pub named: HashMap<u32, PersonRef>,
    /// Full names (pinyin) of the warehouse's callers that an original call's words hold, wherever
    /// they stand (`此事肖红霞也知情`), other than the names its own caller gives; by call.
    pub name_mentions: HashMap<u32, Vec<u32>>,
    /// Narratives of calls that name a person (to find the organisation they speak of).
    pub named_narratives: HashMap<u32, String>,
    /// Rare-shingle sets of narratives, by call (empty when the narrative has too few rare shingles).
    pub shingles: Vec<Vec<u32>>,
    /// Every shingle of the narratives that have rare ones (empty otherwise), to verify candidates.
    pub full_shingles: Vec<Vec<u32>>,
    /// The clauses of each original call's narrative that other entities' calls repeat word for
    /// word (at least 2 and at most [`MAX_PHRASE_ENTITIES`] entities use each), by call.
    pub phrases: HashMap<u32, Vec<u64>>,
    /// Plates, phones and ID numbers named in calls' words (`plate:鄂E12345`; never written out).
    pub mention_values: Interner,
    /// The identifiers each original call names, by call.
    pub mentions: HashMap<u32, Vec<u32>>,
    /// The caller's own phone and ID of each call, where another call names them.
    pub own_mentioned: HashMap<u32, Vec<u32>>,
    /// The region code (the first six digits) of the caller's own ID number, by call, where the
    /// call gives a well-formed one, with a hash of the whole number (to count people, never shown).
    pub id_regions: HashMap<u32, (u32, u64)>,
}

/// Every resolved call with the raw words of its restricted row (older warehouses kept them in
/// `calls`) and the counterparty as ingest normalised it (null in rows ingested before that).
const SELECT: &str = "SELECT c.call_id, c.received_at, e.entity_id, c.phone_key, c.category, \
     COALESCE(c.district_key, c.district), c.lon, c.lat, COALESCE(p.counterparty, c.counterparty), \
     COALESCE(p.narrative, c.narrative), c.source_call_id, p.name_normalised, p.surname, p.female, p.honorific_only, \
     p.phone_canonical, p.id_canonical, c.counterparty_kind, c.counterparty_key \
     FROM calls c JOIN caller_entities e ON e.call_id = c.call_id LEFT JOIN calls_pii p ON p.call_id = c.call_id";

/// The cell of a point (as `grid_cell` numbers it).
pub fn cell_of(lon: f64, lat: f64) -> Option<(i32, i32)> {
    crate::geo::grid_cell_index(lon, lat, CELL_METRES)
}

fn data(e: impl std::fmt::Display) -> LinkError {
    LinkError::Data(e.to_string())
}

impl Incidents {
    /// Reads every resolved call of the session's snapshot.
    pub fn load(session: &Session) -> Result<Incidents, LinkError> {
        if !session.tables().iter().any(|t| t.name == "caller_entities") || !has_rows(session, "caller_entities")? {
            return Err(LinkError::NotResolved);
        }
        // In call_id order, sorted after collecting (see `collect_sorted`).
        let (_, batches) = session.collect_sorted(SELECT, 0)?;
        let mut incidents = Incidents::default();
        let mut raw_counterparty: Vec<Option<String>> = Vec::new();
        let mut normalised: HashMap<String, Counterparty> = HashMap::new();
        let mut narratives: Vec<String> = Vec::new();
        let mut pending_sources: Vec<(u32, String)> = Vec::new();
        let mut own_identifiers: Vec<(u32, Option<String>, Option<String>)> = Vec::new();
        let mut surname_counts: HashMap<String, usize> = HashMap::new();
        let mut district_keys = session.city().district_keys();
        let mut name_forms: HashMap<String, (bool, Option<bool>, Option<String>)> = HashMap::new();
        // Every full name a caller gave, as written, to find in others' words.
        let mut full_spellings: HashSet<String> = HashSet::new();
        for batch in &batches {
            let texts: Vec<TextColumn<'_>> = [0, 2, 3, 4, 5, 8, 9, 10, 11, 12, 15, 16, 17, 18]
                .iter()
                .map(|&i| TextColumn::of(batch.column(i)).map_err(data))
                .collect::<Result<_, _>>()?;
            let text = |k: usize, row: usize| -> Option<&str> { texts[k].get(row) };
            let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
            let received = cast(batch.column(1), &micros).map_err(data)?;
            let received = received.as_primitive::<TimestampMicrosecondType>();
            let lon = cast(batch.column(6), &DataType::Float64).map_err(data)?;
            let lat = cast(batch.column(7), &DataType::Float64).map_err(data)?;
            let (lon, lat) = (lon.as_primitive::<Float64Type>(), lat.as_primitive::<Float64Type>());
            let female = cast(batch.column(13), &DataType::Boolean).map_err(data)?;
            let female = female.as_boolean();
            let honorific = cast(batch.column(14), &DataType::Boolean).map_err(data)?;
            let honorific = honorific.as_boolean();
            for row in 0..batch.num_rows() {
                let (Some(call_id), Some(entity)) = (text(0, row), text(1, row)) else { continue };
                let position = incidents.call_ids.len() as u32;
                let point = (!lon.is_null(row) && !lat.is_null(row)).then(|| (lon.value(row), lat.value(row)));
                let name = text(8, row);
                // The name read again (an older ingest took 老王 or 陈某 for a full name).
                let parts = name.map(|n| {
                    name_forms
                        .entry(n.to_owned())
                        .or_insert_with(|| {
                            let parts = crate::pii::normalize_name(n);
                            (parts.honorific_only, parts.female_hint, parts.surname)
                        })
                        .clone()
                });
                let honorific_only =
                    (!honorific.is_null(row) && honorific.value(row)) || parts.as_ref().is_some_and(|p| p.0);
                let surname = if honorific_only { parts.as_ref().and_then(|p| p.2.as_deref()) } else { text(9, row) };
                let caller = CallerName {
                    surname: surname.and_then(name_pinyin).map(|p| incidents.pinyins.intern(&p)),
                    full: name.filter(|_| !honorific_only).and_then(name_pinyin).map(|p| incidents.pinyins.intern(&p)),
                    female: (!female.is_null(row)).then(|| female.value(row)).or(parts.and_then(|p| p.1)),
                };
                if let (Some(n), Some(_)) = (name, caller.full)
                    && !full_spellings.contains(n)
                {
                    full_spellings.insert(n.to_owned());
                }
                if let (Some(n), Some(f)) = (name, caller.full)
                    && !incidents.syllables.contains_key(&f)
                {
                    let syllables = name_syllables(n).iter().map(|p| incidents.pinyins.intern(p)).collect();
                    incidents.syllables.insert(f, syllables);
                }
                let incident = Incident {
                    time: received.value(row),
                    entity: incidents.entities.intern(entity),
                    phone: text(2, row).map(|p| incidents.phones.intern(p)),
                    category: incidents.categories.intern(text(3, row).unwrap_or("")),
                    district: text(4, row).and_then(|d| district_keys.key(d)).map(|d| incidents.districts.intern(&d)),
                    cell: point.and_then(|(x, y)| cell_of(x, y)),
                    point,
                    organisation: None,
                    source: None,
                    caller,
                    language: super::words::language_level(text(6, row).unwrap_or("")),
                };
                if incident.language >= 2 {
                    let words = super::words::threat_words_in(text(6, row).unwrap_or("")).collect();
                    incidents.threat_words.insert(position, words);
                }
                if let Some(source) = text(7, row) {
                    pending_sources.push((position, source.to_owned()));
                }
                if let Some(s) = text(9, row) {
                    match surname_counts.get_mut(s) {
                        Some(n) => *n += 1,
                        None => {
                            surname_counts.insert(s.to_owned(), 1);
                        }
                    }
                }
                if text(10, row).is_some() || text(11, row).is_some() {
                    own_identifiers.push((
                        position,
                        text(10, row).map(str::to_owned),
                        text(11, row).map(str::to_owned),
                    ));
                }
                if let (Some(raw), Some(kind)) = (text(5, row), text(12, row))
                    && !normalised.contains_key(raw)
                {
                    let reading = match (kind, text(13, row)) {
                        ("organisation", Some(key)) => Counterparty::Organisation(key.to_owned()),
                        // Whom a person reference names is read below, from the raw words.
                        ("person", _) => Counterparty::Person(PersonRef::default()),
                        _ => Counterparty::Other,
                    };
                    normalised.insert(raw.to_owned(), reading);
                }
                raw_counterparty.push(text(5, row).map(str::to_owned));
                narratives.push(text(6, row).unwrap_or("").to_owned());
                incidents.position.insert(call_id.to_owned(), position);
                incidents.call_ids.push(call_id.to_owned());
                incidents.list.push(incident);
            }
        }
        for x in &incidents.list {
            if let Some(f) = x.caller.full {
                let list = incidents.full_names.entry(x.entity).or_default();
                if !list.contains(&f) {
                    list.push(f);
                }
            }
        }
        for (position, _, id) in &own_identifiers {
            let Some(id) = id.as_deref().filter(|id| id.len() == 18) else { continue };
            if let Some(region) = id.get(..6).and_then(|r| r.parse::<u32>().ok()) {
                use std::hash::{Hash, Hasher};
                // Fixed keys: the same number hashes alike in every run.
                let mut hasher = std::collections::hash_map::DefaultHasher::new();
                id.hash(&mut hasher);
                incidents.id_regions.insert(*position, (region, hasher.finish()));
            }
        }
        for (position, source) in pending_sources {
            incidents.list[position as usize].source = incidents.position.get(&source).copied();
        }
        // Surnames at least 1 in 20,000 named callers give.
        let named: usize = surname_counts.values().sum();
        let surnames =
            surname_counts.into_iter().filter(|(_, n)| *n * 20_000 >= named && *n >= 2).map(|(s, _)| s).collect();
        incidents.read_counterparties(
            &raw_counterparty,
            &narratives,
            surnames,
            session.city().place_prefixes(),
            &normalised,
        );
        incidents.read_name_mentions(&raw_counterparty, &narratives, &full_spellings);
        let area_code = session.city().local_area_code().unwrap_or(crate::pii::DEFAULT_AREA_CODE).to_owned();
        incidents.read_mentions(&raw_counterparty, &narratives, &own_identifiers, &area_code);
        (incidents.shingles, incidents.full_shingles) = rare_shingles(&narratives);
        incidents.phrases = shared_phrases(&incidents.list, &narratives);
        Ok(incidents)
    }

    fn read_counterparties(
        &mut self,
        raw: &[Option<String>],
        narratives: &[String],
        surnames: std::collections::HashSet<String>,
        places: Vec<String>,
        normalised: &HashMap<String, Counterparty>,
    ) {
        let distinct: Vec<&str> = {
            let mut seen: Vec<&str> = raw.iter().flatten().map(String::as_str).collect();
            seen.sort_unstable();
            seen.dedup();
            seen
        };
        let districts: Vec<String> =
            (0..self.districts.len() as u32).map(|d| self.districts.value(d).to_owned()).collect();
        let reader = CounterpartyReader::new(districts.iter().map(String::as_str), &distinct, 0.05)
            .with_places(places)
            .with_surnames(surnames.clone());
        // Ingest's reading of a counterparty is the answer where it made one (one key per clinic in
        // every stage); this reader only tells whom a person reference names, and reads the
        // counterparties of rows ingested before ingest normalised them.
        let readings: HashMap<&str, Counterparty> = distinct
            .par_iter()
            .map(|s| {
                let reading = match normalised.get(*s) {
                    Some(Counterparty::Person(_)) => match reader.read(s) {
                        person @ Counterparty::Person(_) => person,
                        _ => Counterparty::Other,
                    },
                    Some(reading) => reading.clone(),
                    None => reader.read(s),
                };
                (*s, reading)
            })
            .collect();
        // People the narrative names, for calls whose counterparty field names none.
        let from_narrative: Vec<(usize, PersonRef)> = (0..raw.len())
            .into_par_iter()
            .filter(|&i| self.list[i].source.is_none())
            .filter(|&i| !matches!(raw[i].as_deref().map(|r| &readings[r]), Some(Counterparty::Person(_))))
            .filter_map(|i| person_in_narrative(&narratives[i], &surnames).map(|p| (i, p)))
            .collect();
        let mut spellings: HashMap<(u32, &str), usize> = HashMap::new();
        for (i, counterparty) in raw.iter().enumerate() {
            let Some(counterparty) = counterparty else { continue };
            match &readings[counterparty.as_str()] {
                Counterparty::Organisation(key) => {
                    let k = self.organisations.intern(key);
                    self.list[i].organisation = Some(k);
                    *spellings.entry((k, counterparty.as_str())).or_default() += 1;
                }
                // A transfer record repeats its source's words: the source speaks for both.
                Counterparty::Person(_) if self.list[i].source.is_some() => {}
                Counterparty::Person(person) => {
                    self.named.insert(i as u32, person.clone());
                    self.named_narratives.insert(i as u32, narratives[i].clone());
                }
                Counterparty::Other => {}
            }
        }
        for (i, person) in from_narrative {
            self.named.insert(i as u32, person);
            self.named_narratives.insert(i as u32, narratives[i].clone());
        }
        let mut best: Vec<(usize, &str)> = vec![(0, ""); self.organisations.len()];
        for ((k, spelling), n) in spellings {
            let slot = &mut best[k as usize];
            if n > slot.0 || (n == slot.0 && spelling < slot.1) {
                *slot = (n, spelling);
            }
        }
        self.organisation_labels = best.into_iter().map(|(_, s)| s.to_owned()).collect();
        for spelling in distinct {
            if let Counterparty::Organisation(key) = &readings[spelling]
                && spelling.chars().count() >= 4
                && let Some(k) = self.organisations.get(key)
            {
                self.organisation_spellings.insert(spelling.to_owned(), k);
            }
        }
    }

    /// The callers' full names each original call's counterparty and narrative hold (see
    /// [`Incidents::name_mentions`]).
    fn read_name_mentions(&mut self, raw: &[Option<String>], narratives: &[String], spellings: &HashSet<String>) {
        let mut names: Vec<&str> = spellings.iter().map(String::as_str).collect();
        names.sort_unstable();
        let known = KnownNames::new(names);
        if known.is_empty() {
            return;
        }
        let found: Vec<(u32, Vec<String>)> = (0..self.list.len())
            .into_par_iter()
            .filter(|&i| self.list[i].source.is_none())
            .filter_map(|i| {
                let mut pinyins: Vec<String> = Vec::new();
                for text in [raw[i].as_deref(), Some(narratives[i].as_str())].into_iter().flatten() {
                    for name in known.found_in(text) {
                        if let Some(p) = name_pinyin(name)
                            && !pinyins.contains(&p)
                        {
                            pinyins.push(p);
                        }
                    }
                }
                (!pinyins.is_empty()).then_some((i as u32, pinyins))
            })
            .collect();
        for (call, pinyins) in found {
            let entity = self.list[call as usize].entity;
            let own = self.full_names.get(&entity);
            let ids: Vec<u32> = pinyins
                .iter()
                .filter_map(|p| self.pinyins.get(p))
                .filter(|id| !own.is_some_and(|o| o.contains(id)))
                .collect();
            if !ids.is_empty() {
                self.name_mentions.insert(call, ids);
            }
        }
    }

    /// The plates, phones and IDs each original call's counterparty and narrative name, and the
    /// callers' own phones and IDs that some call names.
    fn read_mentions(
        &mut self,
        raw: &[Option<String>],
        narratives: &[String],
        own: &[(u32, Option<String>, Option<String>)],
        area_code: &str,
    ) {
        // A caller who gives their own number or ID in the words says nothing of anyone else.
        let mut own_of: HashMap<u32, Vec<String>> = HashMap::new();
        for (call, phone, id) in own {
            let list = own_of.entry(*call).or_default();
            list.extend(phone.as_deref().map(|p| mention_value(MentionKind::Phone, p)));
            list.extend(id.as_deref().map(|i| mention_value(MentionKind::IdNumber, i)));
        }
        let found: Vec<(u32, Vec<String>)> = (0..self.list.len())
            .into_par_iter()
            .filter(|&i| self.list[i].source.is_none())
            .filter_map(|i| {
                let mut values: Vec<String> = Vec::new();
                let own = own_of.get(&(i as u32));
                for text in [raw[i].as_deref(), Some(narratives[i].as_str())].into_iter().flatten() {
                    for (kind, canonical) in mentions(text, area_code) {
                        let v = mention_value(kind, &canonical);
                        if !values.contains(&v) && !own.is_some_and(|o| o.contains(&v)) {
                            values.push(v);
                        }
                    }
                }
                (!values.is_empty()).then_some((i as u32, values))
            })
            .collect();
        for (call, values) in found {
            let ids: Vec<u32> = values.iter().map(|v| self.mention_values.intern(v)).collect();
            self.mentions.insert(call, ids);
        }
        for (call, phone, id) in own {
            let mut ids = Vec::new();
            if let Some(p) =
                phone.as_deref().and_then(|p| self.mention_values.get(&mention_value(MentionKind::Phone, p)))
            {
                ids.push(p);
            }
            if let Some(i) =
                id.as_deref().and_then(|i| self.mention_values.get(&mention_value(MentionKind::IdNumber, i)))
            {
                ids.push(i);
            }
            if !ids.is_empty() {
                self.own_mentioned.insert(*call, ids);
            }
        }
    }

    /// The entities that gave each full name (pinyin), in order.
    pub fn entities_by_full_name(&self) -> std::collections::BTreeMap<u32, Vec<u32>> {
        let mut out: std::collections::BTreeMap<u32, Vec<u32>> = std::collections::BTreeMap::new();
        for (&entity, names) in &self.full_names {
            for &f in names {
                out.entry(f).or_default().push(entity);
            }
        }
        for list in out.values_mut() {
            list.sort_unstable();
        }
        out
    }

    /// The organisations a narrative mentions by any spelling seen in a counterparty field.
    pub fn organisations_mentioned(&self, narrative: &str) -> Vec<u32> {
        let spellings = &self.organisation_spellings;
        let chars: Vec<char> = narrative.chars().collect();
        let mut found = Vec::new();
        for start in 0..chars.len() {
            for length in (3..=20).rev() {
                if start + length > chars.len() {
                    continue;
                }
                let candidate: String = chars[start..start + length].iter().collect();
                if let Some(&k) = spellings.get(&candidate) {
                    if !found.contains(&k) {
                        found.push(k);
                    }
                    break;
                }
            }
        }
        found
    }
}

fn has_rows(session: &Session, table: &str) -> Result<bool, LinkError> {
    let (_, batches) = session.collect(&format!("SELECT 1 FROM {table} LIMIT 1"))?;
    Ok(batches.iter().any(|b| b.num_rows() > 0))
}

/// A clause more entities than this use is the category's stock wording, not one group's script.
pub const MAX_PHRASE_ENTITIES: usize = 40;

/// The clauses of each original call that between 2 and [`MAX_PHRASE_ENTITIES`] entities use.
pub(crate) fn shared_phrases(list: &[Incident], narratives: &[String]) -> HashMap<u32, Vec<u64>> {
    let per_call: Vec<Vec<u64>> = narratives
        .par_iter()
        .enumerate()
        .map(|(i, n)| if list[i].source.is_some() { Vec::new() } else { super::text::clauses(n) })
        .collect();
    let mut users: Vec<(u64, u32)> =
        per_call.iter().enumerate().flat_map(|(i, hashes)| hashes.iter().map(move |&h| (h, list[i].entity))).collect();
    users.par_sort_unstable();
    users.dedup();
    let mut entities: HashMap<u64, usize> = HashMap::new();
    for (h, _) in &users {
        *entities.entry(*h).or_default() += 1;
    }
    per_call
        .into_iter()
        .enumerate()
        .filter_map(|(i, hashes)| {
            let kept: Vec<u64> =
                hashes.into_iter().filter(|h| (2..=MAX_PHRASE_ENTITIES).contains(&entities[h])).collect();
            (!kept.is_empty()).then_some((i as u32, kept))
        })
        .collect()
}

/// The shingles of each narrative that are rare in the whole collection: template wording that
/// thousands of calls share says nothing of a link, the words a copied script adds do.
/// A shingle is rare when at most `max(20, min(200, calls / 5000))` narratives hold it.
fn rare_shingles(narratives: &[String]) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let sets: Vec<Vec<u32>> = narratives.par_iter().map(|n| shingles(n)).collect();
    let mut frequency: HashMap<u32, u32> = HashMap::with_capacity(sets.len());
    for set in &sets {
        for &s in set {
            *frequency.entry(s).or_default() += 1;
        }
    }
    let cap = (narratives.len() / 5000).clamp(20, 200) as u32;
    sets.into_par_iter()
        .map(|set| {
            let rare: Vec<u32> = set.iter().copied().filter(|s| frequency[s] <= cap).collect();
            if rare.len() >= 8 { (rare, set) } else { (Vec::new(), Vec::new()) }
        })
        .unzip()
}
