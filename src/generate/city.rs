//! The generated city, modelled on Yichang (宜昌): districts and counties with their codes, centres, populations, streets and grid cells.

use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};

use super::lexicon::{COMPOUND_STEMS, COMPOUND_SUFFIXES, LANDMARKS, STREETS};

/// A district or county of the city.
#[derive(Debug, Clone, Copy)]
pub struct District {
    /// Official name, e.g. `西陵区`.
    pub name: &'static str,
    /// Short name used in shop names, e.g. `西陵`.
    pub short: &'static str,
    /// Administrative division code (first six digits of a resident ID issued there).
    pub code: &'static str,
    /// Centre of the built-up area (WGS84 lon, lat).
    pub centre: (f64, f64),
    /// Spread of incidents around the centre, in kilometres (one standard deviation).
    pub spread_km: f64,
    /// Relative number of calls (population and activity).
    pub weight: f64,
    /// Whether the district is part of the central city.
    pub urban: bool,
}

/// Yichang's five central districts and eight county-level units.
#[rustfmt::skip]
pub const DISTRICTS: [District; 13] = [
    District { name: "西陵区", short: "西陵", code: "420502", centre: (111.2960, 30.7100), spread_km: 2.2, weight: 17.0, urban: true },
    District { name: "伍家岗区", short: "伍家岗", code: "420503", centre: (111.3600, 30.6500), spread_km: 2.6, weight: 14.0, urban: true },
    District { name: "点军区", short: "点军", code: "420504", centre: (111.2700, 30.6850), spread_km: 2.5, weight: 3.5, urban: true },
    District { name: "猇亭区", short: "猇亭", code: "420505", centre: (111.4300, 30.5300), spread_km: 2.2, weight: 3.0, urban: true },
    District { name: "夷陵区", short: "夷陵", code: "420506", centre: (111.3260, 30.7700), spread_km: 3.0, weight: 11.0, urban: true },
    District { name: "宜都市", short: "宜都", code: "420581", centre: (111.4500, 30.3800), spread_km: 2.5, weight: 8.0, urban: false },
    District { name: "当阳市", short: "当阳", code: "420582", centre: (111.7880, 30.8210), spread_km: 2.5, weight: 9.0, urban: false },
    District { name: "枝江市", short: "枝江", code: "420583", centre: (111.7600, 30.4250), spread_km: 2.5, weight: 9.0, urban: false },
    District { name: "远安县", short: "远安", code: "420525", centre: (111.6400, 31.0600), spread_km: 2.0, weight: 3.5, urban: false },
    District { name: "兴山县", short: "兴山", code: "420526", centre: (110.7480, 31.3480), spread_km: 1.8, weight: 3.0, urban: false },
    District { name: "秭归县", short: "秭归", code: "420527", centre: (110.9780, 30.8250), spread_km: 2.0, weight: 6.5, urban: false },
    District { name: "长阳土家族自治县", short: "长阳", code: "420528", centre: (111.2070, 30.4720), spread_km: 2.0, weight: 6.5, urban: false },
    District { name: "五峰土家族自治县", short: "五峰", code: "420529", centre: (110.6740, 30.1990), spread_km: 1.6, weight: 3.0, urban: false },
];

/// Kilometres per degree of latitude.
const KM_PER_DEG_LAT: f64 = 111.32;

/// Kilometres per degree of longitude at Yichang's latitude.
pub fn km_per_deg_lon() -> f64 {
    KM_PER_DEG_LAT * 30.7f64.to_radians().cos()
}

/// A place in the city: the district, a readable address, coordinates and the grid cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    /// Index into [`DISTRICTS`].
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

impl Place {
    /// The grid cell (about 500 m) the place falls in.
    pub fn grid_id(&self) -> String {
        grid_id(self.district, self.lon, self.lat)
    }
}

/// Grid cell id: the district code then column and row of a ~500 m lattice.
pub fn grid_id(district: usize, lon: f64, lat: f64) -> String {
    let col = ((lon - 110.0) * km_per_deg_lon() / 0.5).floor().max(0.0) as u32;
    let row = ((lat - 29.5) * KM_PER_DEG_LAT / 0.5).floor().max(0.0) as u32;
    format!("{}{:04}{:04}", DISTRICTS[district].code, col % 10_000, row % 10_000)
}

/// Picks a district by weight.
pub fn pick_district(rng: &mut ChaCha8Rng, urban_only: bool) -> usize {
    let total: f64 = DISTRICTS.iter().filter(|d| d.urban || !urban_only).map(|d| d.weight).sum();
    let mut x = rng.random::<f64>() * total;
    for (i, d) in DISTRICTS.iter().enumerate() {
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

fn streets(district: usize) -> &'static [&'static str] {
    let name = DISTRICTS[district].name;
    STREETS.iter().find(|(d, _)| *d == name).map_or(&["人民路"][..], |(_, s)| s)
}

/// Offsets a point by a normal jitter of `sd_km` kilometres.
pub fn jitter(rng: &mut ChaCha8Rng, (lon, lat): (f64, f64), sd_km: f64) -> (f64, f64) {
    let normal = Normal::new(0.0, sd_km.max(1e-6)).unwrap_or_else(|_| Normal::new(0.0, 1.0).expect("unit normal"));
    let dx = normal.sample(rng);
    let dy = normal.sample(rng);
    (lon + dx / km_per_deg_lon(), lat + dy / KM_PER_DEG_LAT)
}

/// A random place in a district: street address near the centre.
pub fn random_place(rng: &mut ChaCha8Rng, district: usize) -> Place {
    let d = &DISTRICTS[district];
    let (lon, lat) = jitter(rng, d.centre, d.spread_km);
    place_at(rng, district, lon, lat)
}

/// A place at given coordinates with a generated address.
pub fn place_at(rng: &mut ChaCha8Rng, district: usize, lon: f64, lat: f64) -> Place {
    let d = &DISTRICTS[district];
    let street = pick(rng, streets(district));
    let number = rng.random_range(1..400);
    let compound = format!("{}{}", pick(rng, COMPOUND_STEMS), pick(rng, COMPOUND_SUFFIXES));
    let (address, short_address) = match rng.random_range(0..10) {
        0..=4 => (
            format!(
                "宜昌市{}{street}{number}号{compound}{}栋{}单元",
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

/// Rounds to six decimals (about 0.1 m), as positioning systems report.
pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// Distance in metres between two WGS84 points (equirectangular, fine within a city).
pub fn distance_m((lon1, lat1): (f64, f64), (lon2, lat2): (f64, f64)) -> f64 {
    let dx = (lon1 - lon2) * km_per_deg_lon();
    let dy = (lat1 - lat2) * KM_PER_DEG_LAT;
    (dx * dx + dy * dy).sqrt() * 1000.0
}

/// A uniformly chosen element.
pub fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

/// The district whose name is given.
pub fn district_index(name: &str) -> Option<usize> {
    DISTRICTS.iter().position(|d| d.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn places_fall_in_their_district_and_near_its_centre() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (district, expected) in DISTRICTS.iter().enumerate() {
            let place = random_place(&mut rng, district);
            assert!(place.address.contains(expected.name));
            let km = distance_m(expected.centre, (place.lon, place.lat)) / 1000.0;
            assert!(km < 6.0 * expected.spread_km, "{km} km");
            assert!(place.grid_id().starts_with(expected.code));
        }
    }

    #[test]
    fn grid_cells_are_about_half_a_kilometre() {
        let a = grid_id(0, 111.2960, 30.7100);
        let b = grid_id(0, 111.2960 + 0.6 / km_per_deg_lon(), 30.7100);
        assert_ne!(a, b);
        assert_eq!(a.len(), 14);
    }
}
