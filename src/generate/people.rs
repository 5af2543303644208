//! The synthetic population: each person is derived on demand from the seed and a person key, so the population costs no memory.

use chrono::{Datelike, NaiveDate};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::city::{DISTRICTS, pick, pick_district};
use super::lexicon::{GIVEN_CHARS_FEMALE, GIVEN_CHARS_MALE, HOMOPHONES, SURNAMES};
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

/// SplitMix64: a well-mixed hash of a 64-bit value, used to derive independent streams.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A random stream for one entity of the generated world.
pub fn stream(seed: u64, a: u64, b: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ mix(a ^ mix(b))))
}

/// One synthetic person with the habits that make their records messy.
#[derive(Debug, Clone)]
pub struct Person {
    /// Who this is.
    pub key: PersonKey,
    /// Surname (one or two characters).
    pub surname: &'static str,
    /// Given name.
    pub given: String,
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

/// A random Yichang landline in canonical form.
pub fn random_landline(rng: &mut ChaCha8Rng) -> String {
    format!("0717-{}{:06}", rng.random_range(2..9u32), rng.random_range(0..1_000_000u32))
}

impl Person {
    /// Derives the person for a key; the same seed and key always give the same person.
    pub fn derive(seed: u64, key: PersonKey, registry: &Registry) -> Person {
        let (tag, _) = key.pool.tag();
        let mut rng = stream(seed, tag, key.index);
        // A few households share a landline and mostly a surname.
        let household = key.index / 3;
        let mut home_rng = stream(seed, tag ^ 0xF00D, household);
        let shares_home = home_rng.random_bool(0.08) && matches!(key.pool, Pool::Occasional | Pool::Regular);
        let home_surname = weighted_surname(&mut home_rng);
        let home_landline = random_landline(&mut home_rng);
        let home_district = pick_district(&mut home_rng, false);

        let female = rng.random_bool(0.5);
        let surname = if shares_home && rng.random_bool(0.7) { home_surname } else { weighted_surname(&mut rng) };
        let chars = if female { GIVEN_CHARS_FEMALE } else { GIVEN_CHARS_MALE };
        let given_len = if rng.random_bool(0.75) { 2 } else { 1 };
        let given: String = (0..given_len).map(|_| *pick(&mut rng, chars)).collect();
        let age_days = rng.random_range(18 * 365..82 * 365);
        let birth = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default() - chrono::Days::new(age_days);
        let home_district = if shares_home { home_district } else { pick_district(&mut rng, false) };
        let id_number = make_id(&mut rng, DISTRICTS[home_district].code, birth, female);

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
        Person {
            key,
            surname,
            given,
            female,
            birth,
            home_district,
            id_number,
            phones,
            full_name_rate: rng.random_range(0.2..0.9),
            id_rate: if rng.random_bool(0.3) { rng.random_range(0.1..0.6) } else { rng.random_range(0.0..0.08) },
            phone_style: rng.random_range(0..5),
        }
    }

    /// Full name.
    pub fn full_name(&self) -> String {
        format!("{}{}", self.surname, self.given)
    }

    /// 先生 or 女士 after the surname.
    pub fn honorific_name(&self) -> String {
        format!("{}{}", self.surname, if self.female { "女士" } else { "先生" })
    }

    /// The name as a call-taker records it on one call: full, honorific, with a stray space,
    /// with a homophone typo, or not at all.
    pub fn name_as_given(&self, rng: &mut ChaCha8Rng) -> Option<String> {
        let roll = rng.random::<f64>();
        if roll < 0.06 {
            return None;
        }
        if rng.random::<f64>() >= self.full_name_rate {
            return Some(self.honorific_name());
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

    /// The phone as captured on one call, or `None` when withheld.
    pub fn phone_as_captured(&self, rng: &mut ChaCha8Rng) -> Option<String> {
        if rng.random_bool(0.02) {
            return None;
        }
        let phone = if rng.random_bool(0.8) { &self.phones[0] } else { pick(rng, &self.phones) };
        let style = if rng.random_bool(0.85) { self.phone_style } else { rng.random_range(0..5) };
        Some(format_phone(phone, style))
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

/// Replaces one character that has a homophone.
pub fn homophone_typo(rng: &mut ChaCha8Rng, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let candidates: Vec<usize> = (0..chars.len()).filter(|&i| HOMOPHONES.iter().any(|(c, _)| *c == chars[i])).collect();
    if candidates.is_empty() {
        return text.to_owned();
    }
    let at = *pick(rng, &candidates);
    let mut out = chars.clone();
    if let Some((_, alternatives)) = HOMOPHONES.iter().find(|(c, _)| *c == chars[at])
        && !alternatives.is_empty()
    {
        out[at] = *pick(rng, alternatives);
    }
    out.into_iter().collect()
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
    use crate::pii::normalize_phone;

    #[test]
    fn a_person_is_the_same_every_time_and_differs_by_key() {
        let registry = Registry::generate(3);
        let key = PersonKey { pool: Pool::Regular, index: 42 };
        let a = Person::derive(3, key, &registry);
        let b = Person::derive(3, key, &registry);
        assert_eq!(
            (a.full_name(), a.phones.clone(), a.id_number.clone()),
            (b.full_name(), b.phones.clone(), b.id_number.clone())
        );
        let c = Person::derive(3, PersonKey { pool: Pool::Regular, index: 43 }, &registry);
        assert_ne!(a.phones[0], c.phones[0]);
    }

    #[test]
    fn ids_carry_a_valid_check_digit_and_every_phone_form_normalises_back() {
        let registry = Registry::generate(3);
        for index in 0..200 {
            let person = Person::derive(9, PersonKey { pool: Pool::Occasional, index }, &registry);
            if person.id_number.len() == 18 {
                assert_eq!(resident_id_check_char(&person.id_number[..17]), person.id_number.chars().last());
            } else {
                assert_eq!(person.id_number.len(), 15);
            }
            for phone in &person.phones {
                for style in 0..5 {
                    assert_eq!(normalize_phone(&format_phone(phone, style)).as_deref(), Some(phone.as_str()));
                }
            }
        }
    }

    #[test]
    fn person_ids_name_their_pool() {
        assert_eq!(PersonKey { pool: Pool::Habitual(7), index: 42 }.person_id(), "P-H07-000042");
        assert_eq!(PersonKey { pool: Pool::Ring(1), index: 3 }.person_id(), "P-G1-03");
    }
}
