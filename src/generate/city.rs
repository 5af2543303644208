//! The generated city, laid out from a city profile ([`crate::city::CityProfile`]): districts and
//! counties with their codes, centres, populations, streets and grid cells, and how messily its
//! exports write them.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::lexicon::{
    COMPOUND_STEMS, COMPOUND_SUFFIXES, GENERIC_STREETS, LANDMARKS, PLATE_LETTERS, PROVINCE_PLATES, STREETS,
    YICHANG_COMPOUND_STEMS,
};
use crate::city::{CityProfile, DistrictProfile};

/// Spread of incidents around a district's centre when its profile gives none (km).
const DEFAULT_SPREAD_KM: f64 = 2.0;

/// Errors laying out a city from its profile; each names the profile and, where it applies, the district.
#[derive(Debug, thiserror::Error)]
pub enum CityLayoutError {
    /// The profile lists no district.
    #[error("city profile {0:?} lists no district: the generator needs places")]
    NoDistricts(String),
    /// The profile has no area code.
    #[error("city profile {0:?} has no area code: the generator needs one for landlines")]
    NoAreaCode(String),
    /// A district has no centre.
    #[error("city profile {profile:?}: district {district} has no centre = [lon, lat]: the generator needs places")]
    NoCentre {
        /// The profile.
        profile: String,
        /// The district.
        district: String,
    },
    /// A district's value is missing or out of range.
    #[error("city profile {profile:?}: district {district}: {problem}")]
    BadDistrict {
        /// The profile.
        profile: String,
        /// The district.
        district: String,
        /// What is wrong.
        problem: String,
    },
}

/// How messily a city's exports write what the generator knows; see [`Messiness::of`].
/// Rates are probabilities, drawn from streams of their own so that a tidy city draws nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Messiness {
    /// District column written as the district's short form.
    pub district_short: f64,
    /// District column written as one of the district's aliases (when it has any).
    pub district_alias: f64,
    /// A surname-and-honorific mention of someone over 45 or under 35 said as 老X / 小X instead.
    pub informal_of_honorific: f64,
    /// A full-name mention written the police way, surname and 某 (陈某, 李某某).
    pub anonymised_of_full: f64,
    /// People with a middle-dot name (阿依古丽·买买提).
    pub dotted_people: f64,
    /// People with a compound surname from the longer list (欧阳, 上官, 慕容 …).
    pub compound_surnames: f64,
    /// Landline captures written with full-width brackets or a space after the area code.
    pub landline_extra_forms: f64,
}

impl Messiness {
    /// The rates of the cities added after Yichang. An informal form is taken from about a fifth of
    /// the honorific mentions of people it fits (about 8% of name mentions), an anonymised one from
    /// about one full-name mention in eighteen (about 3%).
    pub const NEWER_CITIES: Messiness = Messiness {
        district_short: 0.15,
        district_alias: 0.03,
        informal_of_honorific: 0.21,
        anonymised_of_full: 0.055,
        dotted_people: 0.03,
        compound_surnames: 0.004,
        landline_extra_forms: 0.1,
    };

    /// The messiness of a profile: none for `yichang` (whose generated data must stay byte-identical
    /// to what it was before profiles existed), [`Messiness::NEWER_CITIES`] for every other profile.
    /// Decided in code, not in the profile, since profiles describe places, not exports.
    pub fn of(profile: &CityProfile) -> Option<Messiness> {
        (profile.profile != "yichang").then_some(Messiness::NEWER_CITIES)
    }
}

/// A district or county of the generated city.
#[derive(Debug, Clone, PartialEq)]
pub struct District {
    /// Official name, e.g. `西陵区`.
    pub name: String,
    /// Short name used in shop names, e.g. `西陵`.
    pub short: String,
    /// Other spellings exports use.
    pub aliases: Vec<String>,
    /// Administrative division code (first six digits of a resident ID issued there).
    pub code: String,
    /// Centre of the built-up area (WGS84 lon, lat).
    pub centre: (f64, f64),
    /// Spread of incidents around the centre, in kilometres (one standard deviation).
    pub spread_km: f64,
    /// Relative number of calls (population and activity).
    pub weight: f64,
    /// Whether the district is part of the central city.
    pub urban: bool,
    /// Street names.
    pub streets: Vec<String>,
}

/// The city the generator lays calls out in.
#[derive(Debug, Clone)]
pub struct City {
    /// Profile name (`yichang`).
    pub profile: String,
    /// Official name (`宜昌市`), the prefix of full addresses.
    pub name: String,
    /// Short name (`宜昌`), used in shop names.
    pub short: String,
    /// Area code of its landlines (`0717`).
    pub area_code: String,
    /// Districts and counties.
    pub districts: Vec<District>,
    /// How messy its exports are (`None`: tidy).
    pub messiness: Option<Messiness>,
    km_per_deg_lon: f64,
    origin: (f64, f64),
    plate_prefix: String,
    compound_stems: Vec<&'static str>,
    busiest_urban: Vec<usize>,
}

/// A place in the city: the district, a readable address, coordinates and the grid cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Index into [`City::districts`].
    pub district: usize,
    /// Free-text address as a call-taker writes it.
    pub address: String,
    /// A short form for narratives (street and number, or a landmark).
    pub short_address: String,
    /// WGS84 longitude.
    pub lon: f64,
    /// WGS84 latitude.
    pub lat: f64,
}

/// Kilometres per degree of latitude.
const KM_PER_DEG_LAT: f64 = 111.32;

/// Kilometres per degree of longitude at a latitude.
fn km_per_deg_lon_at(lat: f64) -> f64 {
    KM_PER_DEG_LAT * lat.to_radians().cos()
}

/// Rounds down to a multiple of half a degree.
fn floor_half_degree(x: f64) -> f64 {
    (x * 2.0).floor() / 2.0
}

fn lexicon_streets(name: &str) -> Option<Vec<String>> {
    let (_, streets) = STREETS.iter().find(|(d, _)| *d == name)?;
    Some(streets.iter().map(|s| (*s).to_owned()).collect())
}

fn layout_district(profile: &str, d: &DistrictProfile) -> Result<District, CityLayoutError> {
    let bad = |problem: &str| CityLayoutError::BadDistrict {
        profile: profile.to_owned(),
        district: d.name.clone(),
        problem: problem.to_owned(),
    };
    let centre =
        d.centre.ok_or_else(|| CityLayoutError::NoCentre { profile: profile.to_owned(), district: d.name.clone() })?;
    if !(centre.0.is_finite() && centre.1.is_finite() && centre.0.abs() <= 180.0 && centre.1.abs() < 85.0) {
        return Err(bad("centre is not a WGS84 [lon, lat]"));
    }
    let code = d.code.clone().ok_or_else(|| bad("has no code (six digits, GB/T 2260), needed for resident IDs"))?;
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("code is not six digits (GB/T 2260)"));
    }
    let weight = d.weight.unwrap_or(1.0);
    if !(weight.is_finite() && weight >= 0.0) {
        return Err(bad("weight is not a non-negative number"));
    }
    let spread_km = d.spread_km.unwrap_or(DEFAULT_SPREAD_KM);
    if !(spread_km.is_finite() && spread_km > 0.0) {
        return Err(bad("spread_km is not a positive number"));
    }
    let streets = if d.streets.is_empty() {
        lexicon_streets(&d.name).unwrap_or_else(|| GENERIC_STREETS.iter().map(|s| (*s).to_owned()).collect())
    } else {
        d.streets.clone()
    };
    Ok(District {
        name: d.name.clone(),
        short: d.short.clone(),
        aliases: d.aliases.clone(),
        code,
        centre,
        spread_km,
        weight,
        urban: d.urban.unwrap_or(false),
        streets,
    })
}

/// The plate prefix of the city's cars: province abbreviation and the city's letter (`鄂E`), from the
/// first district's code (the letter `A` for a city the lexicon has none for).
fn plate_prefix(code: &str) -> String {
    let province = PROVINCE_PLATES.iter().find(|(p, _)| code.starts_with(p)).map_or("", |(_, a)| *a);
    let letter = PLATE_LETTERS.iter().find(|(p, _)| code.starts_with(p)).map_or('A', |(_, l)| *l);
    format!("{province}{letter}")
}

impl City {
    /// Lays out the city a profile describes. A district without a weight weighs 1, without a
    /// spread spreads 2 km, without streets takes the lexicon's (or generic ones); without a
    /// centre or code it is an error naming it. When no district is marked urban, all are.
    pub fn from_profile(profile: &CityProfile) -> Result<City, CityLayoutError> {
        let name = &profile.profile;
        if profile.districts.is_empty() {
            return Err(CityLayoutError::NoDistricts(name.clone()));
        }
        let area_code = profile.local_area_code().ok_or_else(|| CityLayoutError::NoAreaCode(name.clone()))?;
        let mut districts =
            profile.districts.iter().map(|d| layout_district(name, d)).collect::<Result<Vec<_>, _>>()?;
        if districts.iter().map(|d| d.weight).sum::<f64>() <= 0.0 {
            return Err(CityLayoutError::BadDistrict {
                profile: name.clone(),
                district: "(all)".to_owned(),
                problem: "weights add up to zero".to_owned(),
            });
        }
        if !districts.iter().any(|d| d.urban) {
            districts.iter_mut().for_each(|d| d.urban = true);
        }
        let mean_lat = districts.iter().map(|d| d.centre.1).sum::<f64>() / districts.len() as f64;
        let min_lon = districts.iter().map(|d| d.centre.0).fold(f64::INFINITY, f64::min);
        let min_lat = districts.iter().map(|d| d.centre.1).fold(f64::INFINITY, f64::min);
        let mut busiest_urban: Vec<usize> = (0..districts.len()).filter(|&i| districts[i].urban).collect();
        busiest_urban.sort_by(|&a, &b| districts[b].weight.total_cmp(&districts[a].weight));
        let compound_stems = if name == "yichang" {
            COMPOUND_STEMS.to_vec()
        } else {
            COMPOUND_STEMS.iter().copied().filter(|s| !YICHANG_COMPOUND_STEMS.contains(s)).collect()
        };
        Ok(City {
            profile: name.clone(),
            name: profile.name.clone(),
            short: profile.short.clone(),
            area_code: area_code.to_owned(),
            plate_prefix: plate_prefix(&districts[0].code),
            messiness: Messiness::of(profile),
            // At the districts' mean latitude to a tenth of a degree (30.7° for Yichang).
            km_per_deg_lon: km_per_deg_lon_at((mean_lat * 10.0).round() / 10.0),
            // Half a degree or more south-west of every centre, on a half-degree.
            origin: (floor_half_degree(min_lon - 0.5), floor_half_degree(min_lat - 0.5)),
            districts,
            compound_stems,
            busiest_urban,
        })
    }

    /// Kilometres per degree of longitude in the city.
    pub fn km_per_deg_lon(&self) -> f64 {
        self.km_per_deg_lon
    }

    /// The `rank`-th busiest urban district (0 the busiest; the last one when there are fewer).
    pub fn busiest_urban(&self, rank: usize) -> usize {
        self.busiest_urban[rank.min(self.busiest_urban.len() - 1)]
    }

    /// The car plate prefix (`鄂E`).
    pub fn plate_prefix(&self) -> &str {
        &self.plate_prefix
    }

    /// The grid cell (about 500 m) a place falls in.
    pub fn grid_of(&self, place: &Place) -> String {
        self.grid_id(place.district, place.lon, place.lat)
    }

    /// Grid cell id: the district code then column and row of a ~500 m lattice.
    pub fn grid_id(&self, district: usize, lon: f64, lat: f64) -> String {
        let col = ((lon - self.origin.0) * self.km_per_deg_lon / 0.5).floor().max(0.0) as u32;
        let row = ((lat - self.origin.1) * KM_PER_DEG_LAT / 0.5).floor().max(0.0) as u32;
        format!("{}{:04}{:04}", self.districts[district].code, col % 10_000, row % 10_000)
    }

    /// Picks a district by weight.
    pub fn pick_district(&self, rng: &mut ChaCha8Rng, urban_only: bool) -> usize {
        let total: f64 = self.districts.iter().filter(|d| d.urban || !urban_only).map(|d| d.weight).sum();
        let mut x = rng.random::<f64>() * total;
        for (i, d) in self.districts.iter().enumerate() {
            if urban_only && !d.urban {
                continue;
            }
            if x < d.weight {
                return i;
            }
            x -= d.weight;
        }
        0
    }

    /// Offsets a point by a normal jitter of `sd_km` kilometres.
    pub fn jitter(&self, rng: &mut ChaCha8Rng, (lon, lat): (f64, f64), sd_km: f64) -> (f64, f64) {
        let normal = Normal::new(0.0, sd_km.max(1e-6)).unwrap_or_else(|_| Normal::new(0.0, 1.0).expect("unit normal"));
        let dx = normal.sample(rng);
        let dy = normal.sample(rng);
        (lon + dx / self.km_per_deg_lon, lat + dy / KM_PER_DEG_LAT)
    }

    /// A random place in a district: street address near the centre.
    pub fn random_place(&self, rng: &mut ChaCha8Rng, district: usize) -> Place {
        let d = &self.districts[district];
        let (lon, lat) = self.jitter(rng, d.centre, d.spread_km);
        self.place_at(rng, district, lon, lat)
    }

    /// A place near given coordinates in a district, with an address drawn there.
    pub fn place_near(&self, rng: &mut ChaCha8Rng, district: usize, centre: (f64, f64), sd_km: f64) -> Place {
        let (lon, lat) = self.jitter(rng, centre, sd_km);
        self.place_at(rng, district, lon, lat)
    }

    /// A place at given coordinates with a generated address.
    pub fn place_at(&self, rng: &mut ChaCha8Rng, district: usize, lon: f64, lat: f64) -> Place {
        let d = &self.districts[district];
        let street = pick(rng, &d.streets);
        let number = rng.random_range(1..400);
        let compound = format!("{}{}", pick(rng, &self.compound_stems), pick(rng, COMPOUND_SUFFIXES));
        let (address, short_address) = match rng.random_range(0..10) {
            0..=4 => (
                format!(
                    "{}{}{street}{number}号{compound}{}栋{}单元",
                    self.name,
                    d.name,
                    rng.random_range(1..30),
                    rng.random_range(1..6)
                ),
                format!("{street}{compound}"),
            ),
            5..=7 => (format!("{}{street}{number}号", d.name), format!("{street}{number}号")),
            _ => {
                let landmark = pick(rng, LANDMARKS);
                (format!("{}{street}{landmark}附近", d.name), format!("{street}{landmark}"))
            }
        };
        Place { district, address, short_address, lon: round6(lon), lat: round6(lat) }
    }

    /// The district column as an export writes it: the official name, or in a messy city now and
    /// then the short form or an alias (drawn from `messy`, which a tidy city never touches).
    pub fn district_as_written(&self, district: usize, messy: &mut ChaCha8Rng) -> String {
        let d = &self.districts[district];
        let Some(m) = self.messiness else {
            return d.name.clone();
        };
        let x = messy.random::<f64>();
        if x < m.district_short {
            d.short.clone()
        } else if x < m.district_short + m.district_alias && !d.aliases.is_empty() {
            pick(messy, &d.aliases).clone()
        } else {
            d.name.clone()
        }
    }

    /// The district whose official name is given.
    pub fn district_index(&self, name: &str) -> Option<usize> {
        self.districts.iter().position(|d| d.name == name)
    }
}

/// Rounds to six decimals (about 0.1 m), as positioning systems report.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Distance in metres between two WGS84 points (equirectangular at their mean latitude, fine within a city).
pub fn distance_m((lon1, lat1): (f64, f64), (lon2, lat2): (f64, f64)) -> f64 {
    let dx = (lon1 - lon2) * km_per_deg_lon_at((lat1 + lat2) / 2.0);
    let dy = (lat1 - lat2) * KM_PER_DEG_LAT;
    (dx * dx + dy * dy).sqrt() * 1000.0
}

/// A uniformly chosen element.
pub fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn city(name: &str) -> City {
        City::from_profile(&CityProfile::builtin(name).expect("built-in")).expect("lays out")
    }

    #[test]
    fn places_fall_in_their_district_and_near_its_centre() {
        for name in CityProfile::builtin_names() {
            let city = city(name);
            let mut rng = ChaCha8Rng::seed_from_u64(1);
            for (district, expected) in city.districts.iter().enumerate() {
                let place = city.random_place(&mut rng, district);
                assert!(place.address.contains(&expected.name));
                let km = distance_m(expected.centre, (place.lon, place.lat)) / 1000.0;
                assert!(km < 6.0 * expected.spread_km, "{name}: {km} km");
                assert!(city.grid_of(&place).starts_with(&expected.code));
            }
        }
    }

    #[test]
    fn grid_cells_are_about_half_a_kilometre() {
        let city = city("yichang");
        assert_eq!(city.km_per_deg_lon(), km_per_deg_lon_at(30.7));
        assert_eq!(city.origin, (110.0, 29.5));
        let a = city.grid_id(0, 111.2960, 30.7100);
        let b = city.grid_id(0, 111.2960 + 0.6 / city.km_per_deg_lon(), 30.7100);
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
    }

    #[test]
    fn yichang_is_tidy_and_the_newer_cities_are_messy() {
        assert_eq!(city("yichang").messiness, None);
        assert_eq!(city("yichang").plate_prefix(), "鄂E");
        assert_eq!(city("yichang").busiest_urban(0), 0);
        assert_eq!(city("yichang").busiest_urban(1), 1);
        let hulunbuir = city("hulunbuir");
        assert_eq!(hulunbuir.messiness, Some(Messiness::NEWER_CITIES));
        assert_eq!(hulunbuir.plate_prefix(), "蒙E");
        assert_eq!(city("shijiazhuang").plate_prefix(), "冀A");
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mo = hulunbuir.district_index("莫力达瓦达斡尔族自治旗").expect("莫旗");
        let written: Vec<String> = (0..400).map(|_| hulunbuir.district_as_written(mo, &mut rng)).collect();
        assert!(written.iter().any(|w| w == "莫旗") && written.iter().any(|w| w == "莫力达瓦旗"));
    }

    #[test]
    fn a_profile_without_centres_or_with_gaps_is_told_or_filled_in() {
        let toml = "name = \"某市\"\narea_codes = [\"0999\"]\n[[district]]\nname = \"甲区\"\ncode = \"659901\"\n";
        let profile = CityProfile::from_toml(toml, std::path::Path::new("x.toml")).expect("parses");
        let err = City::from_profile(&profile).expect_err("no centre").to_string();
        assert!(err.contains("甲区") && err.contains("centre"), "{err}");
        let toml = format!("{toml}centre = [87.6, 43.8]\n");
        let profile = CityProfile::from_toml(&toml, std::path::Path::new("x.toml")).expect("parses");
        let city = City::from_profile(&profile).expect("lays out");
        let d = &city.districts[0];
        assert_eq!((d.weight, d.spread_km, d.urban), (1.0, DEFAULT_SPREAD_KM, true));
        assert!(!d.streets.is_empty());
    }
}
