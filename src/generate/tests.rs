//! Batches of the cities added after Yichang: they pass the contract, name the profile's districts,
//! dial its area code and carry the messy name forms.

use std::collections::HashSet;
use std::path::PathBuf;

use super::lexicon::EXTRA_COMPOUND_SURNAMES;
use super::{GenerateConfig, generate};
use crate::city::CityProfile;
use crate::contract::{Table, call_col as c};
use crate::pii::normalize_phone_in;
use crate::source::validate_file;

/// A batch of `calls` rows of a built-in city, nothing broken on purpose, in a folder named by `tag`.
fn batch(name: &str, calls: u64, tag: &str) -> (PathBuf, CityProfile) {
    let profile = CityProfile::builtin(name).expect("built-in profile");
    let out = std::env::temp_dir().join(format!("hotline-gen-{}-{name}-{tag}", std::process::id()));
    let config = GenerateConfig {
        calls,
        seed: 5,
        out: out.clone(),
        malformed_rate: 0.0,
        city: profile.clone(),
        ..Default::default()
    };
    generate(&config, &mut |_| {}).expect("generates");
    (out, profile)
}

fn call_rows(dir: &std::path::Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(dir.join("calls.csv")).expect("calls.csv");
    reader.records().map(|r| r.expect("a record").iter().map(str::to_owned).collect()).collect()
}

fn share(rows: &[Vec<String>], column: usize, f: impl Fn(&str) -> bool) -> f64 {
    let filled: Vec<&str> = rows.iter().map(|r| r[column].as_str()).filter(|v| !v.is_empty()).collect();
    filled.iter().filter(|v| f(v)).count() as f64 / filled.len().max(1) as f64
}

/// The checks every messy city's batch passes.
fn check_city(name: &str) {
    let (dir, profile) = batch(name, 5_000, "check");
    for table in Table::ALL {
        let path = dir.join(format!("{}.csv", table.name()));
        let outcome = validate_file(&path, Some(table), |_| {}).expect("readable");
        assert!(outcome.rejected.is_empty(), "{name} {}: {:?}", table.name(), &outcome.rejected[..1]);
    }
    let rows = call_rows(&dir);
    let truth = csv::Reader::from_path(dir.join("truth").join("call_person.csv")).expect("truth").records().count();
    assert_eq!(truth, rows.len(), "{name}: every call tied to its person");

    let official: HashSet<&str> = profile.districts.iter().map(|d| d.name.as_str()).collect();
    let short: HashSet<&str> = profile.districts.iter().map(|d| d.short.as_str()).collect();
    let alias: HashSet<&str> = profile.districts.iter().flat_map(|d| d.aliases.iter().map(String::as_str)).collect();
    let known = |d: &str| official.contains(d) || short.contains(d) || alias.contains(d);
    assert_eq!(share(&rows, c::DISTRICT, known), 1.0, "{name}: districts are the profile's");
    let short_only = share(&rows, c::DISTRICT, |d| short.contains(d) && !official.contains(d));
    assert!((0.10..0.20).contains(&short_only), "{name}: short forms {short_only}");
    assert!(share(&rows, c::DISTRICT, |d| alias.contains(d)) > 0.001, "{name}: aliases");

    let code = profile.local_area_code().expect("area code");
    let landlines: Vec<String> =
        rows.iter().filter_map(|r| normalize_phone_in(&r[c::CALLER_PHONE], code)).filter(|p| p.contains('-')).collect();
    assert!(landlines.len() > 20, "{name}: {} landlines", landlines.len());
    assert!(landlines.iter().all(|p| p.starts_with(&format!("{code}-"))), "{name}: landlines dial {code}");
    let with_code = [code.to_owned(), format!("({code})"), format!("（{code}）")];
    assert!(
        rows.iter().any(|r| with_code.iter().any(|w| r[c::CALLER_PHONE].starts_with(w))),
        "{name}: a landline written with its code"
    );
    assert!(rows.iter().any(|r| r[c::CALLER_PHONE].len() == 7), "{name}: a local number without its code");

    let informal = share(&rows, c::CALLER_NAME, |n| {
        let mut chars = n.chars();
        matches!(chars.next(), Some('老' | '小')) && (2..=3).contains(&n.chars().count()) && !n.ends_with('某')
    });
    assert!((0.04..0.14).contains(&informal), "{name}: 老X / 小X {informal}");
    let anonymised = share(&rows, c::CALLER_NAME, |n| n.ends_with('某'));
    assert!((0.015..0.05).contains(&anonymised), "{name}: 陈某 {anonymised}");
    assert!(share(&rows, c::CALLER_NAME, |n| n.contains('·')) > 0.003, "{name}: middle-dot names");
    assert!(rows.iter().all(|r| !r.join("").contains("宜昌")), "{name}: nothing of Yichang");
    assert!(rows.iter().any(|r| r[c::ADDRESS].starts_with(&profile.name)), "{name}: full addresses name the city");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_shijiazhuang_batch_passes_the_contract_with_its_districts_phones_and_names() {
    check_city("shijiazhuang");
}

#[test]
fn a_hulunbuir_batch_passes_the_contract_with_its_districts_phones_and_names() {
    check_city("hulunbuir");
}

#[test]
fn compound_surnames_stay_rare() {
    let (dir, _) = batch("hulunbuir", 3_000, "surnames");
    let rows = call_rows(&dir);
    let compound = share(&rows, c::CALLER_NAME, |n| EXTRA_COMPOUND_SURNAMES.iter().any(|s| n.starts_with(s)));
    assert!(compound < 0.03, "{compound}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_profile_without_a_centre_is_an_error_naming_the_district() {
    let toml = "name = \"某市\"\narea_codes = [\"0999\"]\n[[district]]\nname = \"甲区\"\ncode = \"659901\"\n";
    let profile = CityProfile::from_toml(toml, std::path::Path::new("x.toml")).expect("parses");
    let out = std::env::temp_dir().join(format!("hotline-gen-{}-nocentre", std::process::id()));
    let config = GenerateConfig { calls: 100, out: out.clone(), city: profile, ..Default::default() };
    let err = generate(&config, &mut |_| {}).expect_err("no centre").to_string();
    assert!(err.contains("甲区") && err.contains("centre"), "{err}");
    assert!(!out.exists(), "nothing written");
}
