//! The synthetic population: each person is derived on demand from the seed and a person key, so the population costs no memory.

use chrono::{Datelike, NaiveDate};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::city::{City, Messiness, pick};
use super::lexicon::{
    DOTTED_FATHERS, DOTTED_GIVEN_FEMALE, DOTTED_GIVEN_MALE, EXTRA_COMPOUND_SURNAMES, GIVEN_CHARS_FEMALE,
    GIVEN_CHARS_MALE, SURNAMES,
};
use super::noise::{homophone_typo, random_landline, stream};
use super::registry::Registry;
use crate::pii::resident_id_check_char;

/// The pools people are drawn from; the pool and index make the person id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pool {
    /// People who call once or twice in the period.
    Occasional,
    /// People who call now and then about anything.
    Regular,
    /// People who call again and again about one kind of problem (category index).
    Habitual(u16),
    /// Planted repeat callers whose language escalates.
    Escalator,
    /// Members of planted organised group `n`.
    Ring(u8),
    /// Staff of a registry counterparty (by registry index) who call on its behalf.
    Staff,
    /// Residents and workers near a planted hotspot.
    Local,
}

impl Pool {
    fn tag(self) -> (u64, &'static str) {
        match self {
            Pool::Occasional => (1, "O"),
            Pool::Regular => (2, "R"),
            Pool::Habitual(c) => (0x100 + u64::from(c), "H"),
            Pool::Escalator => (3, "E"),
            Pool::Ring(n) => (0x1000 + u64::from(n), "G"),
            Pool::Staff => (4, "S"),
            Pool::Local => (5, "L"),
        }
    }
}

/// Identifies one person: a pool and an index inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PersonKey {
    /// Pool.
    pub pool: Pool,
    /// Index in the pool.
    pub index: u64,
}

impl PersonKey {
    /// The ground-truth person id, e.g. `P-R000123` or `P-H07-000042`.
    pub fn person_id(&self) -> String {
        let (_, prefix) = self.pool.tag();
        match self.pool {
            Pool::Habitual(c) => format!("P-{prefix}{c:02}-{:06}", self.index),
            Pool::Ring(n) => format!("P-{prefix}{n}-{:02}", self.index),
            _ => format!("P-{prefix}{:07}", self.index),
        }
    }
}

/// Tag of the per-person streams of a messy city's name habits (xor-ed with the pool's tag).
const MESSY_PERSON_TAG: u64 = 0x3E55_0000_0000;

/// The day ages are counted to.
fn reference_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default()
}

/// One synthetic person with the habits that make their records messy.
#[derive(Debug, Clone)]
pub struct Person {
    /// Who this is.
    pub key: PersonKey,
    /// Surname (one or two characters); for a middle-dot name, the personal name (`阿依古丽`).
    pub surname: &'static str,
    /// Given name; for a middle-dot name, the father's name (`买买提`).
    pub given: String,
    /// Whether the name is a middle-dot name (`阿依古丽·买买提`), said in full or by its first part.
    pub dotted: bool,
    /// Sex, which picks 先生 / 女士 and the ID's sequence parity.
    pub female: bool,
    /// Date of birth.
    pub birth: NaiveDate,
    /// Where they live (index into the districts).
    pub home_district: usize,
    /// Resident ID as issued (18 characters; 15 for some older people).
    pub id_number: String,
    /// Phones in canonical form, most used first.
    pub phones: Vec<String>,
    /// How often they give their full name (else surname and honorific, or nothing).
    pub full_name_rate: f64,
    /// How often their ID number is taken down.
    pub id_rate: f64,
    /// How their phone number tends to be captured.
    pub phone_style: u8,
    /// How messily their city writes names and phones (`None`: as in Yichang).
    pub messiness: Option<Messiness>,
}

fn weighted_surname(rng: &mut ChaCha8Rng) -> &'static str {
    let total: u32 = SURNAMES.iter().map(|(_, w)| w).sum();
    let mut x = rng.random_range(0..total.max(1));
    for (surname, weight) in SURNAMES {
        if x < *weight {
            return surname;
        }
        x -= weight;
    }
    SURNAMES[0].0
}

/// A random mobile number in canonical form.
pub fn random_mobile(rng: &mut ChaCha8Rng) -> String {
    const PREFIXES: [&str; 20] = [
        "130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "158", "159", "177",
        "180", "186", "187", "199",
    ];
    format!("{}{:08}", pick(rng, &PREFIXES), rng.random_range(0..100_000_000u32))
}

impl Person {
    /// Derives the person for a key in a city; the same seed, key and city always give the same person.
    pub fn derive(seed: u64, key: PersonKey, registry: &Registry, city: &City) -> Person {
        let (tag, _) = key.pool.tag();
        let mut rng = stream(seed, tag, key.index);
        // A few households share a landline and mostly a surname.
        let household = key.index / 3;
        let mut home_rng = stream(seed, tag ^ 0xF00D, household);
        let shares_home = home_rng.random_bool(0.08) && matches!(key.pool, Pool::Occasional | Pool::Regular);
        let home_surname = weighted_surname(&mut home_rng);
        let home_landline = random_landline(&mut home_rng, &city.area_code);
        let home_district = city.pick_district(&mut home_rng, false);

        let female = rng.random_bool(0.5);
        let surname = if shares_home && rng.random_bool(0.7) { home_surname } else { weighted_surname(&mut rng) };
        let chars = if female { GIVEN_CHARS_FEMALE } else { GIVEN_CHARS_MALE };
        let given_len = if rng.random_bool(0.75) { 2 } else { 1 };
        let given: String = (0..given_len).map(|_| *pick(&mut rng, chars)).collect();
        let age_days = rng.random_range(18 * 365..82 * 365);
        let birth = reference_day() - chrono::Days::new(age_days);
        let home_district = if shares_home { home_district } else { city.pick_district(&mut rng, false) };
        let id_number = make_id(&mut rng, &city.districts[home_district].code, birth, female);

        let mut phones = vec![random_mobile(&mut rng)];
        let extra = match rng.random_range(0..100) {
            0..=69 => 0,
            70..=91 => 1,
            _ => 2,
        };
        for _ in 0..extra {
            phones.push(random_mobile(&mut rng));
        }
        if shares_home {
            phones.push(home_landline);
        }
        if key.pool != Pool::Staff && rng.random_bool(0.02) && !registry.entries.is_empty() {
            // Works in a shop and sometimes calls from its phone.
            let shop = rng.random_range(0..registry.entries.len());
            phones.push(registry.entries[shop].phone.clone());
        }
        let mut person = Person {
            key,
            surname,
            given,
            dotted: false,
            female,
            birth,
            home_district,
            id_number,
            phones,
            full_name_rate: rng.random_range(0.2..0.9),
            id_rate: if rng.random_bool(0.3) { rng.random_range(0.1..0.6) } else { rng.random_range(0.0..0.08) },
            phone_style: rng.random_range(0..5),
            messiness: city.messiness,
        };
        if let Some(m) = city.messiness {
            person.vary_name(&mut stream(seed, tag ^ MESSY_PERSON_TAG, key.index), m);
        }
        person
    }

    /// In a messy city, gives a few people a middle-dot name or a rarer compound surname (drawn
    /// from the person's own messy stream, so the rest of the person is as in a tidy city).
    fn vary_name(&mut self, messy: &mut ChaCha8Rng, m: Messiness) {
        if messy.random_bool(m.dotted_people) {
            let given = if self.female { DOTTED_GIVEN_FEMALE } else { DOTTED_GIVEN_MALE };
            self.surname = *pick(messy, given);
            self.given = (*pick(messy, DOTTED_FATHERS)).to_owned();
            self.dotted = true;
        } else if messy.random_bool(m.compound_surnames) {
            self.surname = *pick(messy, EXTRA_COMPOUND_SURNAMES);
        }
    }

    /// Makes the person one of a family: the family's surname (a middle-dot name gives way to a
    /// plain one) and a home in its district, with the resident ID issued there.
    pub fn join_family(&mut self, rng: &mut ChaCha8Rng, city: &City, surname: &'static str, district: usize) {
        if self.dotted {
            let chars = if self.female { GIVEN_CHARS_FEMALE } else { GIVEN_CHARS_MALE };
            self.given = (0..2).map(|_| *pick(rng, chars)).collect();
            self.dotted = false;
        }
        self.surname = surname;
        self.home_district = district;
        self.id_number = make_id(rng, &city.districts[district].code, self.birth, self.female);
    }

    /// Age in whole years (at the start of 2024).
    pub fn age(&self) -> i64 {
        (reference_day() - self.birth).num_days() / 365
    }

    /// Full name (`王伟`, `阿依古丽·买买提`).
    pub fn full_name(&self) -> String {
        if self.dotted {
            return format!("{}·{}", self.surname, self.given);
        }
        format!("{}{}", self.surname, self.given)
    }

    /// 先生 or 女士 after the surname; for a middle-dot name, its first part.
    pub fn honorific_name(&self) -> String {
        if self.dotted {
            return self.surname.to_owned();
        }
        format!("{}{}", self.surname, if self.female { "女士" } else { "先生" })
    }

    /// 老X for someone over 45, 小X for someone under 35 (X the surname); none between or for a middle-dot name.
    pub fn informal_name(&self) -> Option<String> {
        let prefix = match self.age() {
            _ if self.dotted => return None,
            age if age > 45 => "老",
            age if age < 35 => "小",
            _ => return None,
        };
        Some(format!("{prefix}{}", self.surname))
    }

    /// The police way of anonymising a name: the surname and one 某 per given-name character (陈某, 李某某).
    pub fn anonymised_name(&self) -> String {
        format!("{}{}", self.surname, "某".repeat(self.given.chars().count()))
    }

    /// The short form said on one call: the honorific form, or in a messy city now and then 老X / 小X.
    fn short_name(&self, messy: &mut ChaCha8Rng) -> String {
        match (self.messiness, self.informal_name()) {
            (Some(m), Some(informal)) if messy.random_bool(m.informal_of_honorific) => informal,
            _ => self.honorific_name(),
        }
    }

    /// The name as a call-taker records it on one call: full, honorific, with a stray space,
    /// with a homophone typo, or not at all; in a messy city also 老X / 小X or 陈某 (those draws
    /// come from `messy`, which a tidy city never touches).
    pub fn name_as_given(&self, rng: &mut ChaCha8Rng, messy: &mut ChaCha8Rng) -> Option<String> {
        let roll = rng.random::<f64>();
        if roll < 0.06 {
            return None;
        }
        if rng.random::<f64>() >= self.full_name_rate {
            return Some(self.short_name(messy));
        }
        if let Some(m) = self.messiness
            && !self.dotted
            && messy.random_bool(m.anonymised_of_full)
        {
            return Some(self.anonymised_name());
        }
        let name = self.full_name();
        Some(match rng.random_range(0..100) {
            0..=79 => name,
            80..=89 => {
                let mut chars: Vec<char> = name.chars().collect();
                let at = rng.random_range(1..chars.len().max(2)).min(chars.len());
                chars.insert(at, ' ');
                chars.into_iter().collect()
            }
            _ => homophone_typo(rng, &name),
        })
    }

    /// The phone as captured on one call, or `None` when withheld (a messy city's extra landline
    /// forms drawn from `messy`).
    pub fn phone_as_captured(&self, rng: &mut ChaCha8Rng, messy: &mut ChaCha8Rng) -> Option<String> {
        if rng.random_bool(0.02) {
            return None;
        }
        let phone = if rng.random_bool(0.8) { &self.phones[0] } else { pick(rng, &self.phones) };
        let style = if rng.random_bool(0.85) { self.phone_style } else { rng.random_range(0..5) };
        Some(format_phone_in(phone, style, self.messiness, messy))
    }

    /// The ID number when the call-taker takes it down (a minority of calls).
    pub fn id_as_given(&self, rng: &mut ChaCha8Rng) -> Option<String> {
        if !rng.random_bool(self.id_rate) {
            return None;
        }
        Some(if rng.random_bool(0.3) { self.id_number.to_lowercase() } else { self.id_number.clone() })
    }
}

/// Formats a canonical phone in one of the ways exports capture it.
pub fn format_phone(canonical: &str, style: u8) -> String {
    if let Some((code, number)) = canonical.split_once('-') {
        return match style % 4 {
            0 => canonical.to_owned(),
            1 => format!("({code}){number}"),
            2 => format!("{code}{number}"),
            _ => number.to_owned(),
        };
    }
    let (a, b, c) = (&canonical[..3], &canonical[3..7], &canonical[7..]);
    match style {
        0 => canonical.to_owned(),
        1 => format!("+86 {a}-{b}-{c}"),
        2 => format!("0086 {canonical}"),
        3 => format!("{a} {b} {c}"),
        _ => format!("+86{canonical}"),
    }
}

/// [`format_phone`], and in a messy city now and then a landline with full-width brackets
/// (`（0311）8123456`) or a space after its area code (`0311 8123456`).
pub fn format_phone_in(canonical: &str, style: u8, messiness: Option<Messiness>, messy: &mut ChaCha8Rng) -> String {
    if let Some(m) = messiness
        && let Some((code, number)) = canonical.split_once('-')
        && messy.random_bool(m.landline_extra_forms)
    {
        return if messy.random_bool(0.5) { format!("（{code}）{number}") } else { format!("{code} {number}") };
    }
    format_phone(canonical, style)
}

/// An ID number: 18 characters with a valid check, or the legacy 15 digits for some people born before 1970.
fn make_id(rng: &mut ChaCha8Rng, region: &str, birth: NaiveDate, female: bool) -> String {
    let mut sequence = rng.random_range(0..500u32) * 2 + 1;
    if female {
        sequence -= 1;
    }
    if birth.year() < 1970 && rng.random_bool(0.3) {
        return format!("{region}{:02}{:02}{:02}{sequence:03}", birth.year() % 100, birth.month(), birth.day());
    }
    let first17 = format!("{region}{}{sequence:03}", birth.format("%Y%m%d"));
    let check = resident_id_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::city::CityProfile;
    use crate::pii::normalize_phone_in;
    use rand::SeedableRng;
    use std::collections::HashSet;

    fn city(name: &str) -> City {
        City::from_profile(&CityProfile::builtin(name).expect("built-in")).expect("lays out")
    }

    #[test]
    fn a_person_is_the_same_every_time_and_differs_by_key() {
        let city = city("yichang");
        let registry = Registry::generate(3, &city);
        let key = PersonKey { pool: Pool::Regular, index: 42 };
        let a = Person::derive(3, key, &registry, &city);
        let b = Person::derive(3, key, &registry, &city);
        assert_eq!(
            (a.full_name(), a.phones.clone(), a.id_number.clone()),
            (b.full_name(), b.phones.clone(), b.id_number.clone())
        );
        let c = Person::derive(3, PersonKey { pool: Pool::Regular, index: 43 }, &registry, &city);
        assert_ne!(a.phones[0], c.phones[0]);
    }

    #[test]
    fn ids_carry_a_valid_check_digit_and_every_phone_form_normalises_back() {
        for name in CityProfile::builtin_names() {
            let city = city(name);
            let registry = Registry::generate(3, &city);
            let mut messy = ChaCha8Rng::seed_from_u64(5);
            for index in 0..200 {
                let person = Person::derive(9, PersonKey { pool: Pool::Occasional, index }, &registry, &city);
                if person.id_number.len() == 18 {
                    assert_eq!(resident_id_check_char(&person.id_number[..17]), person.id_number.chars().last());
                } else {
                    assert_eq!(person.id_number.len(), 15);
                }
                assert!(city.districts.iter().any(|d| person.id_number.starts_with(&d.code)));
                for phone in &person.phones {
                    for style in 0..5 {
                        let written = format_phone_in(phone, style, city.messiness, &mut messy);
                        let canonical = normalize_phone_in(&written, &city.area_code);
                        assert_eq!(canonical.as_deref(), Some(phone.as_str()), "{name}: {written}");
                    }
                }
            }
        }
    }

    #[test]
    fn messy_cities_have_dotted_and_compound_names_and_informal_and_anonymised_forms() {
        let city = city("hulunbuir");
        let registry = Registry::generate(3, &city);
        let (mut rng, mut messy) = (ChaCha8Rng::seed_from_u64(1), ChaCha8Rng::seed_from_u64(2));
        let people: Vec<Person> = (0..4000)
            .map(|index| Person::derive(4, PersonKey { pool: Pool::Occasional, index }, &registry, &city))
            .collect();
        let dotted = people.iter().filter(|p| p.dotted).count();
        assert!((60..=190).contains(&dotted), "{dotted} of 4000 dotted");
        assert!(people.iter().any(|p| EXTRA_COMPOUND_SURNAMES.contains(&p.surname) && !p.dotted));
        let mut said: Vec<(&Person, String)> = Vec::new();
        for person in &people {
            for _ in 0..5 {
                if let Some(name) = person.name_as_given(&mut rng, &mut messy) {
                    said.push((person, name));
                }
            }
        }
        let share =
            |f: &dyn Fn(&Person, &str) -> bool| said.iter().filter(|(p, n)| f(p, n)).count() as f64 / said.len() as f64;
        let informal = share(&|p, n| p.informal_name().as_deref() == Some(n));
        let anonymised = share(&|p, n| !p.dotted && n == p.anonymised_name());
        assert!((0.055..0.105).contains(&informal), "informal {informal}");
        assert!((0.02..0.045).contains(&anonymised), "anonymised {anonymised}");
        assert!(said.iter().any(|(p, n)| p.dotted && n.contains('·')));
        assert!(said.iter().any(|(p, n)| p.dotted && n == p.surname));
        let old = people.iter().find(|p| !p.dotted && p.age() > 45).expect("someone over 45");
        assert_eq!(old.informal_name(), Some(format!("老{}", old.surname)));
    }

    #[test]
    fn yichang_people_draw_nothing_from_the_messy_stream() {
        let city = city("yichang");
        let registry = Registry::generate(3, &city);
        let (mut rng, mut messy) = (ChaCha8Rng::seed_from_u64(1), ChaCha8Rng::seed_from_u64(2));
        let untouched = messy.clone();
        for index in 0..300 {
            let person = Person::derive(4, PersonKey { pool: Pool::Regular, index }, &registry, &city);
            person.name_as_given(&mut rng, &mut messy);
            person.phone_as_captured(&mut rng, &mut messy);
            assert!(!person.dotted);
        }
        assert!(messy == untouched, "yichang drew from the messy stream");
    }

    #[test]
    fn a_messy_city_writes_landlines_in_six_ways_and_mobiles_as_ever() {
        let mut messy = ChaCha8Rng::seed_from_u64(3);
        let m = Some(Messiness::NEWER_CITIES);
        let forms: HashSet<String> =
            (0..400).map(|i| format_phone_in("0470-8123456", (i % 5) as u8, m, &mut messy)).collect();
        let expected = ["0470-8123456", "(0470)8123456", "04708123456", "8123456", "（0470）8123456", "0470 8123456"];
        assert_eq!(forms, expected.iter().map(|s| (*s).to_owned()).collect());
        assert_eq!(format_phone_in("13912345678", 3, m, &mut messy), format_phone("13912345678", 3));
    }

    #[test]
    fn person_ids_name_their_pool() {
        assert_eq!(PersonKey { pool: Pool::Habitual(7), index: 42 }.person_id(), "P-H07-000042");
        assert_eq!(PersonKey { pool: Pool::Ring(1), index: 3 }.person_id(), "P-G1-03");
    }
}
