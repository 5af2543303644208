//! The registry of counterparties (clinics, shops, companies, bars ...) that callers complain about, generated from the seed.

use std::collections::HashSet;

use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::city::{City, Place, pick};
use super::lexicon::{COUNTERPARTY_NAMES, CounterpartyKind};
use super::noise::{homophone_typo, random_landline, stream};

/// One merchant, company or clinic.
#[derive(Debug, Clone)]
pub struct Counterparty {
    /// Registered name, e.g. `西陵颜如玉医疗美容诊所`.
    pub name: String,
    /// What people call it, e.g. `颜如玉诊所`.
    pub short: String,
    /// Brand stem, e.g. `颜如玉`.
    pub stem: String,
    /// Kind of business.
    pub kind: CounterpartyKind,
    /// Where it is.
    pub place: Place,
    /// Short form of its district (`西陵`), which callers put before its short name.
    pub district_short: String,
    /// Its landline (canonical form).
    pub phone: String,
}

/// How many of each kind the city has.
const SIZES: [(CounterpartyKind, usize); 14] = [
    (CounterpartyKind::MedicalBeautyClinic, 160),
    (CounterpartyKind::Restaurant, 500),
    (CounterpartyKind::Supermarket, 220),
    (CounterpartyKind::Shop, 500),
    (CounterpartyKind::Gym, 80),
    (CounterpartyKind::TrainingSchool, 100),
    (CounterpartyKind::ConstructionCompany, 150),
    (CounterpartyKind::Factory, 120),
    (CounterpartyKind::BarKtv, 150),
    (CounterpartyKind::PropertyCompany, 120),
    (CounterpartyKind::RentalAgency, 120),
    (CounterpartyKind::AutoShop, 100),
    (CounterpartyKind::Logistics, 80),
    (CounterpartyKind::Hotel, 100),
];

/// All counterparties, grouped by kind.
#[derive(Debug)]
pub struct Registry {
    /// Every counterparty.
    pub entries: Vec<Counterparty>,
    /// Indices of entries per kind, in `SIZES` order.
    by_kind: Vec<(CounterpartyKind, Vec<usize>)>,
}

/// What people call a business of this kind after its brand: 颜如玉诊所, 宏达公司, 安居物业.
fn short_suffix(kind: CounterpartyKind, suffix: &str) -> &str {
    use CounterpartyKind as K;
    match kind {
        K::MedicalBeautyClinic => {
            if suffix.contains("医院") {
                "医院"
            } else {
                "诊所"
            }
        }
        K::ConstructionCompany if suffix == "项目部" => "项目部",
        K::ConstructionCompany | K::Factory | K::Logistics if suffix.ends_with("公司") => "公司",
        K::PropertyCompany => "物业",
        K::RentalAgency => "中介",
        K::Gym => "健身",
        K::TrainingSchool => "培训",
        K::Hotel => "酒店",
        K::BarKtv if suffix.contains("KTV") => "KTV",
        K::AutoShop => "汽修",
        _ => last_chars(suffix, 3),
    }
}

fn last_chars(text: &str, n: usize) -> &str {
    let count = text.chars().count();
    if count <= n {
        return text;
    }
    let start = text.char_indices().nth(count - n).map_or(0, |(i, _)| i);
    &text[start..]
}

impl Registry {
    /// Generates the registry of a city for a seed.
    pub fn generate(seed: u64, city: &City) -> Registry {
        let mut rng = stream(seed, 0xC0C0, 0);
        let mut names = HashSet::new();
        let mut entries = Vec::new();
        let mut by_kind = Vec::new();
        for (kind, size) in SIZES {
            let Some((_, stems, suffixes)) = COUNTERPARTY_NAMES.iter().find(|(k, _, _)| *k == kind) else {
                by_kind.push((kind, Vec::new()));
                continue;
            };
            let mut indices = Vec::new();
            let mut attempts = 0;
            while indices.len() < size && attempts < size * 50 {
                attempts += 1;
                let urban_only = rng.random_bool(0.5);
                let district = city.pick_district(&mut rng, urban_only);
                let stem = pick(&mut rng, stems).replace("{city}", &city.short);
                let suffix = *pick(&mut rng, suffixes);
                let prefix = match rng.random_range(0..10) {
                    0..=4 => city.districts[district].short.as_str(),
                    5..=6 => city.short.as_str(),
                    _ => "",
                };
                let name = format!("{prefix}{stem}{suffix}");
                if !names.insert(name.clone()) {
                    continue;
                }
                let short = format!("{stem}{}", short_suffix(kind, suffix));
                indices.push(entries.len());
                entries.push(Counterparty {
                    name,
                    short,
                    stem,
                    kind,
                    place: city.random_place(&mut rng, district),
                    district_short: city.districts[district].short.clone(),
                    phone: random_landline(&mut rng, &city.area_code),
                });
            }
            by_kind.push((kind, indices));
        }
        Registry { entries, by_kind }
    }

    /// Indices of the counterparties of a kind.
    pub fn of_kind(&self, kind: CounterpartyKind) -> &[usize] {
        self.by_kind.iter().find(|(k, _)| *k == kind).map_or(&[], |(_, v)| v)
    }

    /// Picks a counterparty of one of the kinds; some attract far more complaints than others.
    pub fn pick(&self, rng: &mut ChaCha8Rng, kinds: &[CounterpartyKind]) -> Option<usize> {
        let kind = *pick(rng, kinds);
        let candidates = self.of_kind(kind);
        if candidates.is_empty() {
            return None;
        }
        let skew = rng.random::<f64>().powf(2.0);
        Some(candidates[((skew * candidates.len() as f64) as usize).min(candidates.len() - 1)])
    }

    /// How a caller names the counterparty: the registered name, the short name, or a garbled one.
    pub fn mention(&self, rng: &mut ChaCha8Rng, index: usize) -> String {
        let entry = &self.entries[index];
        match rng.random_range(0..100) {
            0..=59 => entry.name.clone(),
            60..=87 => entry.short.clone(),
            88..=94 => format!("{}{}", entry.district_short, entry.short),
            _ => homophone_typo(rng, &entry.short),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::city::CityProfile;

    #[test]
    fn registry_is_deterministic_with_unique_names_of_every_kind() {
        let city = City::from_profile(&CityProfile::yichang()).expect("lays out");
        let a = Registry::generate(11, &city);
        let b = Registry::generate(11, &city);
        assert_eq!(a.entries.len(), b.entries.len());
        assert!(a.entries.iter().zip(&b.entries).all(|(x, y)| x.name == y.name && x.phone == y.phone));
        let names: HashSet<&str> = a.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names.len(), a.entries.len());
        for (kind, size) in SIZES {
            assert!(a.of_kind(kind).len() >= size / 2, "{kind:?} has {}", a.of_kind(kind).len());
        }
    }

    #[test]
    fn another_city_names_its_shops_after_itself_and_its_districts() {
        let city = City::from_profile(&CityProfile::builtin("shijiazhuang").expect("built-in")).expect("lays out");
        let registry = Registry::generate(11, &city);
        assert!(registry.entries.iter().any(|e| e.name.starts_with("石家庄")));
        assert!(registry.entries.iter().all(|e| !e.name.contains("宜昌") && !e.name.contains('{')));
        assert!(registry.entries.iter().all(|e| e.phone.starts_with("0311-")));
        let shorts: Vec<&str> = city.districts.iter().map(|d| d.short.as_str()).collect();
        assert!(registry.entries.iter().any(|e| shorts.iter().any(|s| e.name.starts_with(s))));
    }
}
