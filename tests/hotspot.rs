//! Hotspots against the reference implementations: Gi* z-scores from PySAL esda and Mann–Kendall
//! trends from pymannkendall on the committed fixture cube (scripts/hotspot_fixtures.py), and the
//! command end to end on the sample warehouse.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use hotline::hotspot::grid::square_key;
use hotline::hotspot::stats::mann_kendall;
use hotline::hotspot::{Cube, Grid, cube_gi_star};

const SQUARES: Grid = Grid::Square { metres: 500.0 };

fn fixture(name: &str) -> Vec<HashMap<String, String>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hotspots").join(name);
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            headers.iter().zip(r.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()
        })
        .collect()
}

fn number(row: &HashMap<String, String>, key: &str) -> f64 {
    row[key].parse().unwrap()
}

fn fixture_cube() -> Cube {
    cube_from(&fixture("cube.csv"))
}

fn cube_from(rows: &[HashMap<String, String>]) -> Cube {
    let bins = rows.iter().map(|r| number(r, "bin") as usize).max().unwrap() + 1;
    let mut cells: Vec<u64> =
        rows.iter().map(|r| square_key(number(r, "row") as i32, number(r, "col") as i32)).collect();
    cells.dedup();
    let mut counts = vec![0.0; cells.len() * bins];
    for r in rows {
        let cell = square_key(number(r, "row") as i32, number(r, "col") as i32);
        let i = cells.binary_search(&cell).unwrap();
        counts[i * bins + number(r, "bin") as usize] = number(r, "count");
    }
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
    let bin_starts = (0..bins as i64).map(|b| start + chrono::Duration::days(7 * b)).collect();
    Cube { cells, bins, bin_starts, counts }
}

#[test]
fn gi_star_agrees_with_esda_to_1e_9() {
    let cube = fixture_cube();
    let z = cube_gi_star(&cube, &SQUARES, 1, 1);
    let expected = fixture("gi_star.csv");
    assert_eq!(expected.len(), z.len());
    for (row, &mine) in expected.iter().zip(&z) {
        let reference = number(row, "z");
        assert!((mine - reference).abs() < 1e-9, "{row:?}: {mine} vs esda {reference}");
    }
    assert!(z.iter().any(|&v| v > 3.0), "the planted cluster shows");
}

#[test]
fn mann_kendall_agrees_with_pymannkendall_to_1e_9() {
    let cube = fixture_cube();
    let z = cube_gi_star(&cube, &SQUARES, 1, 1);
    let expected = fixture("mann_kendall.csv");
    assert_eq!(expected.len(), cube.cells.len());
    for (i, row) in expected.iter().enumerate() {
        let mk = mann_kendall(&z[i * cube.bins..(i + 1) * cube.bins]);
        for (mine, key) in [(mk.s, "s"), (mk.var_s, "var_s"), (mk.z, "z"), (mk.p, "p"), (mk.tau, "tau")] {
            let reference = number(row, key);
            assert!((mine - reference).abs() < 1e-9, "{row:?} {key}: {mine} vs {reference}");
        }
    }
}

#[test]
fn emerging_categories_agree_with_xarray_spatial_on_every_cell() {
    use hotline::hotspot::{HotspotSettings, analyse};
    let cube = cube_from(&fixture("patterns_cube.csv"));
    let expected = fixture("patterns_categories.csv");
    // The reference judges every cell, however few its calls.
    let settings = HotspotSettings { min_calls: 0.0, ..HotspotSettings::default() };
    let results = analyse(&cube, &settings);
    assert_eq!(results.len(), expected.len());
    let mut seen = std::collections::BTreeSet::new();
    for (mine, row) in results.iter().zip(&expected) {
        let cell = square_key(number(row, "row") as i32, number(row, "col") as i32);
        assert_eq!(mine.cell, cell);
        assert_eq!(mine.category.name(), row["category"], "{row:?}: {:?}", mine.signs);
        let hot = mine.signs.iter().filter(|&&s| s > 0).count();
        let cold = mine.signs.iter().filter(|&&s| s < 0).count();
        assert_eq!((hot, cold), (number(row, "hot_bins") as usize, number(row, "cold_bins") as usize), "{row:?}");
        assert!(
            (mine.trend.z - number(row, "trend_z")).abs() < 1e-9
                && (mine.trend.p - number(row, "trend_p")).abs() < 1e-9
        );
        seen.insert(row["category"].clone());
    }
    // The fixture exercises every hot category and cold ones too.
    for hot in
        ["New", "Consecutive", "Intensifying", "Persistent", "Diminishing", "Sporadic", "Oscillating", "Historical"]
    {
        assert!(seen.contains(&format!("{hot} Hot Spot")), "{seen:?}");
    }
    assert!(seen.iter().filter(|c| c.ends_with("Cold Spot")).count() >= 3, "{seen:?}");
}

#[test]
fn uniformly_random_calls_leave_at_most_five_percent_of_cells_hot() {
    use hotline::hotspot::{Bin, HotspotSettings, analyse, build_cube};
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
    // 40,000 calls at uniformly random places in a 25 km square over 52 weeks.
    let calls: Vec<(f64, f64, NaiveDate)> = (0..40_000)
        .map(|_| {
            let day = rng.random_range(0..364);
            (
                111.2 + rng.random::<f64>() * 0.26,
                30.6 + rng.random::<f64>() * 0.225,
                start + chrono::Duration::days(day),
            )
        })
        .collect();
    for (grid, bin) in [(SQUARES, Bin::Week), (SQUARES, Bin::Month), ("h3:8".parse().unwrap(), Bin::Week)] {
        let located: Vec<(u64, NaiveDate)> = calls.iter().map(|&(x, y, d)| (grid.cell_of(x, y).unwrap(), d)).collect();
        let cube = build_cube(&located, bin, None).unwrap();
        let settings = HotspotSettings { grid, bin, ..HotspotSettings::default() };
        let results = analyse(&cube, &settings);
        assert!(results.len() > 300, "{grid}: {} cells", results.len());
        let hot = results.iter().filter(|r| r.category.is_hot()).count();
        assert!(hot * 20 <= results.len(), "{grid} {bin:?}: {hot} of {} cells hot", results.len());
        let hot_bins: usize = results.iter().map(|r| r.signs.iter().filter(|&&s| s > 0).count()).sum();
        assert!(hot_bins * 20 <= results.len() * cube.bins, "{grid} {bin:?}: {hot_bins} hot bins");
    }
}

#[test]
fn the_planted_hotspots_get_their_categories_and_counterparties() {
    use hotline::eval::hotspots::check_planted;
    use hotline::hotspot::HotspotSettings;
    let truth = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/truth/hotspots.csv");
    // As an analyst would run it: the planted category, default cells (250 m) and bins (months).
    let checks = check_planted(&crate::util::sample_warehouse(), &truth, &HotspotSettings::default()).unwrap();
    assert_eq!(checks.iter().map(|c| c.kind.as_str()).collect::<Vec<_>>(), ["emerging", "persistent"]);
    for check in &checks {
        // New, consecutive or intensifying where the emerging one was planted; persistent for the other.
        assert!(check.as_planted, "{check:?}");
        // The counterparty is among the three most disputed of its category, by organisation key
        // (its full name, short names and typos counted together).
        assert!(check.counterparty_rank.is_some_and(|r| r <= 3), "{check:?}");
    }
}

#[test]
fn the_command_writes_ranked_geojson_csv_and_the_table() {
    let dir = crate::util::scratch("hotspot-command");
    let wh = crate::util::sample_warehouse();
    // A copy: hotspots commits a snapshot, and the sample warehouse is shared by the SQL tests.
    let copy = dir.join("wh");
    crate::util::copy_dir(&wh, &copy);
    let key = wh.with_extension("key");
    if key.exists() {
        std::fs::copy(&key, copy.with_extension("key")).unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["hotspots", "--warehouse", copy.to_str().unwrap(), "--category", "DISPUTE.*", "--bin", "month"])
        .args(["--out", dir.join("out").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(dir.join("out/hotspots.geojson")).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["type"], "FeatureCollection");
    let features = value["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for (i, f) in features.iter().enumerate() {
        assert_eq!(f["properties"]["rank"], i + 1);
        assert_eq!(f["geometry"]["type"], "Polygon");
        assert_eq!(f["geometry"]["coordinates"][0].as_array().unwrap().len(), 5);
        assert!(f["properties"]["category"].is_string() && f["properties"]["district"].is_string());
    }
    let csv_rows = std::fs::read_to_string(dir.join("out/hotspots.csv")).unwrap().lines().count();
    assert_eq!(csv_rows, features.len() + 1);
    let session = hotline::sql::open_session(
        &copy,
        hotline::sql::SessionOptions { audit: false, ..hotline::sql::SessionOptions::default() },
    )
    .unwrap();
    let (_, batches) = session.collect("SELECT count(*) FROM hotspot_cells").unwrap();
    let count =
        datafusion::arrow::compute::cast(batches[0].column(0), &datafusion::arrow::datatypes::DataType::Int64).unwrap();
    use datafusion::arrow::array::AsArray;
    assert_eq!(count.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0) as usize, features.len());
}
