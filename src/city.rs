//! City profiles: the local knowledge a warehouse needs (city name and short name, area codes,
//! districts with their short forms and aliases, county-level suffixes) as data, one per warehouse.
//!
//! Built-in profiles are TOML files under `data/cities/` compiled in; a user's own profile is a TOML
//! file of the same shape. A warehouse made without one gets a profile inferred from its first
//! batch (see [`infer`]). The generator reads the optional per-district fields (`code`, `centre`,
//! `spread_km`, `weight`, `urban`, `streets`) to lay out a city of its own; the engine never does.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Built-in profiles: (name, TOML text).
pub const BUILTIN: [(&str, &str); 3] = [
    ("yichang", include_str!("../data/cities/yichang.toml")),
    ("shijiazhuang", include_str!("../data/cities/shijiazhuang.toml")),
    ("hulunbuir", include_str!("../data/cities/hulunbuir.toml")),
];

/// Errors reading a profile; each names the file or the profile.
#[derive(Debug, thiserror::Error)]
pub enum CityError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The TOML does not describe a profile.
    #[error("{path}: {message}")]
    Parse {
        /// The file (or `builtin:NAME`).
        path: PathBuf,
        /// What is wrong, with the line where TOML tells it.
        message: String,
    },
    /// Neither a built-in name nor a file.
    #[error("unknown city profile {0:?}: give a built-in name ({1}) or a TOML file")]
    Unknown(String, String),
}

/// A district or county-level unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictProfile {
    /// Official name (`西陵区`, `长阳土家族自治县`, `土默特左旗`).
    pub name: String,
    /// Short form used in speech, shop names and some exports (`西陵`, `长阳`, `土左`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub short: String,
    /// Other spellings seen in exports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Administrative division code (generator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Centre of the built-up area, WGS84 (lon, lat) (generator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub centre: Option<(f64, f64)>,
    /// Spread of incidents around the centre in km (generator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spread_km: Option<f64>,
    /// Relative number of calls (generator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Part of the central city (generator only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub urban: Option<bool>,
    /// Street names (generator only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streets: Vec<String>,
}

/// A city's local knowledge.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CityProfile {
    /// Profile name (`yichang`, or `inferred`).
    #[serde(default)]
    pub profile: String,
    /// Official name (`宜昌市`, `石家庄市`).
    #[serde(default)]
    pub name: String,
    /// Short name of any length (`宜昌`, `石家庄`, `呼和浩特`).
    #[serde(default)]
    pub short: String,
    /// Telephone area codes with their trunk 0 (`0717`); the first is the one a local number
    /// written without a code belongs to.
    #[serde(default)]
    pub area_codes: Vec<String>,
    /// County-level suffixes stripped from district and organisation names, longest first after
    /// loading (defaults cover 区, 县, 市, 旗, 自治县, 自治旗 …).
    #[serde(default)]
    pub county_suffixes: Vec<String>,
    /// Districts and counties.
    #[serde(default, rename = "district")]
    pub districts: Vec<DistrictProfile>,
}

/// County-level suffixes every profile knows.
const DEFAULT_SUFFIXES: [&str; 12] =
    ["自治县", "自治旗", "自治州", "新区", "林区", "特区", "矿区", "区", "县", "市", "旗", "盟"];

/// China's 56 nationalities as they appear in autonomous county names (长阳土家族自治县).
const ETHNIC_NAMES: [&str; 55] = [
    "蒙古族",
    "回族",
    "藏族",
    "维吾尔族",
    "苗族",
    "彝族",
    "壮族",
    "布依族",
    "朝鲜族",
    "满族",
    "侗族",
    "瑶族",
    "白族",
    "土家族",
    "哈尼族",
    "哈萨克族",
    "傣族",
    "黎族",
    "傈僳族",
    "佤族",
    "畲族",
    "高山族",
    "拉祜族",
    "水族",
    "东乡族",
    "纳西族",
    "景颇族",
    "柯尔克孜族",
    "土族",
    "达斡尔族",
    "仫佬族",
    "羌族",
    "布朗族",
    "撒拉族",
    "毛南族",
    "仡佬族",
    "锡伯族",
    "阿昌族",
    "普米族",
    "塔吉克族",
    "怒族",
    "乌孜别克族",
    "俄罗斯族",
    "鄂温克族",
    "德昂族",
    "保安族",
    "裕固族",
    "京族",
    "塔塔尔族",
    "独龙族",
    "鄂伦春族",
    "赫哲族",
    "门巴族",
    "珞巴族",
    "基诺族",
];

/// The short form of a county-level name by rule alone: its suffix and any nationality names before
/// it removed (`长阳土家族自治县` → `长阳`, `城关区` → `城关`), never below two characters.
pub fn district_stem(raw: &str, suffixes: &[String]) -> String {
    let mut name: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    let len = |s: &str| s.chars().count();
    let mut suffix_list: Vec<&str> = suffixes.iter().map(String::as_str).chain(DEFAULT_SUFFIXES).collect();
    suffix_list.sort_by_key(|s| std::cmp::Reverse(len(s)));
    if let Some(stem) = suffix_list.iter().find_map(|s| name.strip_suffix(s)).filter(|stem| len(stem) >= 2) {
        name = stem.to_owned();
    }
    while let Some(stem) = ETHNIC_NAMES.iter().find_map(|e| name.strip_suffix(e)).filter(|stem| len(stem) >= 2) {
        name = stem.to_owned();
    }
    name
}

impl CityProfile {
    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Option<CityProfile> {
        let (_, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        CityProfile::from_toml(text, Path::new(&format!("builtin:{name}"))).ok()
    }

    /// The names of the built-in profiles.
    pub fn builtin_names() -> Vec<&'static str> {
        BUILTIN.iter().map(|(n, _)| *n).collect()
    }

    /// The profile of Yichang, which warehouses made before profiles existed keep.
    pub fn yichang() -> CityProfile {
        CityProfile::builtin("yichang").unwrap_or_else(|| CityProfile::empty("yichang"))
    }

    /// A profile that knows nothing local.
    pub fn empty(profile: &str) -> CityProfile {
        CityProfile {
            profile: profile.to_owned(),
            name: String::new(),
            short: String::new(),
            area_codes: Vec::new(),
            county_suffixes: Vec::new(),
            districts: Vec::new(),
        }
    }

    /// A built-in name or a TOML file.
    pub fn load(spec: &str) -> Result<CityProfile, CityError> {
        if let Some(profile) = CityProfile::builtin(spec) {
            return Ok(profile);
        }
        let path = Path::new(spec);
        if !path.exists() {
            return Err(CityError::Unknown(spec.to_owned(), CityProfile::builtin_names().join(", ")));
        }
        let text = std::fs::read_to_string(path).map_err(|source| CityError::Io { path: path.to_owned(), source })?;
        CityProfile::from_toml(&text, path)
    }

    /// Parses a profile; errors name the file and the line.
    pub fn from_toml(text: &str, path: &Path) -> Result<CityProfile, CityError> {
        let mut profile: CityProfile =
            toml::from_str(text).map_err(|e| CityError::Parse { path: path.to_owned(), message: e.to_string() })?;
        let bad = |message: String| CityError::Parse { path: path.to_owned(), message };
        for code in &profile.area_codes {
            if !(3..=4).contains(&code.len()) || !code.starts_with('0') || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("area code {code:?} is not 0 and two or three digits")));
            }
        }
        for district in &mut profile.districts {
            if district.name.trim().is_empty() {
                return Err(bad("a district has no name".to_owned()));
            }
            if district.short.is_empty() {
                district.short = district_stem(&district.name, &profile.county_suffixes);
            }
        }
        if profile.short.is_empty() {
            profile.short = profile.name.strip_suffix('市').unwrap_or(&profile.name).to_owned();
        }
        if profile.profile.is_empty() {
            profile.profile = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        }
        Ok(profile)
    }

    /// The profile as TOML (what the warehouse stores).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// The area code a local number written without one belongs to.
    pub fn local_area_code(&self) -> Option<&str> {
        self.area_codes.first().map(String::as_str)
    }

    /// The district key of a district as written: the profile's district it names (by official
    /// name, short form or alias, with or without a suffix) as that district's short form, or the
    /// rule's stem for a district the profile does not know. `西陵` and `西陵区` give one key.
    pub fn district_key<'a>(&'a self, raw: &str) -> Option<String> {
        let stem = district_stem(raw, &self.county_suffixes);
        if stem.is_empty() {
            return None;
        }
        let forms =
            |d: &'a DistrictProfile| std::iter::once(&d.name).chain(std::iter::once(&d.short)).chain(&d.aliases);
        let written = raw.trim();
        // A spelling the profile lists wins over a shared stem (井陉矿区 and 井陉县 both stem to 井陉).
        if let Some(d) = self.districts.iter().find(|d| forms(d).any(|f| f == written)) {
            return Some(d.short.clone());
        }
        if let Some(d) =
            self.districts.iter().find(|d| forms(d).any(|f| district_stem(f, &self.county_suffixes) == stem))
        {
            return Some(d.short.clone());
        }
        Some(stem)
    }

    /// A reader of district keys that remembers what it has seen (exports repeat a few values).
    pub fn district_keys(&self) -> DistrictKeys<'_> {
        DistrictKeys { profile: self, seen: HashMap::new() }
    }

    /// Organisation-name prefixes that say where, not who: the city's name and short name and
    /// every district's name and short form, longest first.
    pub fn place_prefixes(&self) -> Vec<String> {
        let mut out: Vec<String> = [self.name.clone(), self.short.clone()]
            .into_iter()
            .chain(self.districts.iter().flat_map(|d| {
                std::iter::once(d.name.clone()).chain(std::iter::once(d.short.clone())).chain(d.aliases.iter().cloned())
            }))
            .filter(|s| s.chars().count() >= 2)
            .collect();
        out.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        out.dedup();
        out
    }
}

/// Memoised [`CityProfile::district_key`].
pub struct DistrictKeys<'a> {
    profile: &'a CityProfile,
    seen: HashMap<String, Option<String>>,
}

impl DistrictKeys<'_> {
    /// The key of a district as written.
    pub fn key(&mut self, raw: &str) -> Option<String> {
        if let Some(key) = self.seen.get(raw) {
            return key.clone();
        }
        let key = self.profile.district_key(raw);
        self.seen.insert(raw.to_owned(), key.clone());
        key
    }
}

/// What a batch tells of its city when no profile was given.
#[derive(Debug, Default)]
pub struct Inference {
    area_codes: HashMap<String, u64>,
    districts: HashMap<String, u64>,
}

impl Inference {
    /// Counts one call's phone as captured and district as written.
    pub fn observe(&mut self, phone: Option<&str>, district: Option<&str>) {
        if let Some(code) = phone.and_then(crate::pii::written_area_code) {
            *self.area_codes.entry(code).or_default() += 1;
        }
        if let Some(d) = district.map(str::trim).filter(|d| !d.is_empty()) {
            *self.districts.entry(d.to_owned()).or_default() += 1;
        }
    }

    /// The inferred profile: the area code most landlines written with one carry, and the districts
    /// by their stems, each under its most frequent spelling with the others as aliases.
    pub fn profile(&self) -> CityProfile {
        let mut profile = CityProfile::empty("inferred");
        let mut codes: Vec<(&String, &u64)> = self.area_codes.iter().collect();
        codes.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        profile.area_codes = codes.first().map(|(c, _)| (*c).clone()).into_iter().collect();
        let mut by_stem: HashMap<String, Vec<(&String, u64)>> = HashMap::new();
        for (written, &n) in &self.districts {
            by_stem.entry(district_stem(written, &[])).or_default().push((written, n));
        }
        let mut stems: Vec<_> = by_stem.into_iter().collect();
        stems.sort_by(|a, b| a.0.cmp(&b.0));
        for (stem, mut forms) in stems {
            // The official name is the longest common spelling; the others are aliases.
            forms.sort_by(|a, b| b.0.chars().count().cmp(&a.0.chars().count()).then(b.1.cmp(&a.1)).then(a.0.cmp(b.0)));
            let name = forms[0].0.clone();
            let aliases = forms[1..].iter().map(|(f, _)| (*f).clone()).filter(|f| *f != stem).collect();
            profile.districts.push(DistrictProfile {
                name,
                short: stem,
                aliases,
                code: None,
                centre: None,
                spread_km: None,
                weight: None,
                urban: None,
                streets: Vec::new(),
            });
        }
        profile
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn district_stems_drop_suffixes_and_nationalities() {
        assert_eq!(district_stem("西陵区", &[]), "西陵");
        assert_eq!(district_stem("城关区", &[]), "城关");
        assert_eq!(district_stem("城关", &[]), "城关");
        assert_eq!(district_stem("长阳土家族自治县", &[]), "长阳");
        assert_eq!(district_stem("土默特左旗", &[]), "土默特左");
        assert_eq!(district_stem("彝良县", &[]), "彝良");
        assert_eq!(district_stem("郊区", &[]), "郊区", "never below two characters");
        assert_eq!(district_stem("双江拉祜族佤族布朗族傣族自治县", &[]), "双江");
    }

    #[test]
    fn every_builtin_profile_loads_and_keys_its_districts() {
        for name in CityProfile::builtin_names() {
            let profile = CityProfile::builtin(name).unwrap_or_else(|| panic!("{name} does not load"));
            assert!(!profile.districts.is_empty(), "{name}");
            assert!(profile.local_area_code().is_some(), "{name}");
            for d in &profile.districts {
                assert_eq!(profile.district_key(&d.name), profile.district_key(&d.short), "{name}: {}", d.name);
            }
        }
        let yichang = CityProfile::yichang();
        assert_eq!(yichang.local_area_code(), Some("0717"));
        assert_eq!(yichang.district_key("西陵"), yichang.district_key("西陵区"));
        assert_ne!(yichang.district_key("西陵"), yichang.district_key("夷陵区"));
    }

    #[test]
    fn a_bad_profile_names_its_file_and_reason() {
        let err = CityProfile::from_toml("area_codes = [\"717\"]", Path::new("my.toml")).unwrap_err().to_string();
        assert!(err.contains("my.toml") && err.contains("717"), "{err}");
        let err = CityProfile::from_toml("nmae = 1", Path::new("x.toml")).unwrap_err().to_string();
        assert!(err.contains("x.toml") && err.contains("nmae"), "{err}");
        assert!(CityProfile::load("no-such-city").is_err());
    }

    #[test]
    fn inference_takes_the_commonest_area_code_and_joins_district_spellings() {
        let mut inference = Inference::default();
        for _ in 0..5 {
            inference.observe(Some("0935-6221234"), Some("城关区"));
        }
        inference.observe(Some("0931-1234567"), Some("城关"));
        inference.observe(Some("13800001234"), Some("红古区"));
        let profile = inference.profile();
        assert_eq!(profile.local_area_code(), Some("0935"));
        assert_eq!(profile.district_key("城关"), profile.district_key("城关区"));
        assert_eq!(profile.districts.len(), 2);
    }
}
