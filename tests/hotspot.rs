//! Hotspots against the reference implementations: Gi* z-scores from PySAL esda and Mann–Kendall
//! trends from pymannkendall on the committed fixture cube (scripts/hotspot_fixtures.py), and the
//! command end to end on the sample warehouse.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;
use hotline::hotspot::stats::mann_kendall;
use hotline::hotspot::{Cube, cube_gi_star};

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
    let rows = fixture("cube.csv");
    let bins = rows.iter().map(|r| number(r, "bin") as usize).max().unwrap() + 1;
    let mut cells: Vec<(i32, i32)> = rows.iter().map(|r| (number(r, "row") as i32, number(r, "col") as i32)).collect();
    cells.dedup();
    let mut counts = vec![0.0; cells.len() * bins];
    for r in &rows {
        let cell = (number(r, "row") as i32, number(r, "col") as i32);
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
    let z = cube_gi_star(&cube, 1, 1);
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
    let z = cube_gi_star(&cube, 1, 1);
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
fn uniformly_random_calls_leave_at_most_five_percent_of_cells_hot() {
    use hotline::hotspot::{Bin, HotspotSettings, analyse, build_cube};
    use rand::{RngExt, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let start = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
    // 40,000 calls at uniformly random cells of a 60 × 60 grid over 52 weeks.
    let calls: Vec<(i32, i32, NaiveDate)> = (0..40_000)
        .map(|_| {
            let day = rng.random_range(0..364);
            (rng.random_range(0..60), rng.random_range(0..60), start + chrono::Duration::days(day))
        })
        .collect();
    let cube = build_cube(&calls, Bin::Week).unwrap();
    let results = analyse(&cube, &HotspotSettings::default());
    let hot = results.iter().filter(|r| r.category.is_hot()).count();
    assert!(hot * 20 <= results.len(), "{hot} of {} cells hot", results.len());
    let hot_bins: usize = results.iter().map(|r| r.signs.iter().filter(|&&s| s > 0).count()).sum();
    assert!(hot_bins * 20 <= results.len() * cube.bins, "{hot_bins} hot bins");
}

#[test]
fn the_command_writes_ranked_geojson_csv_and_the_table() {
    let dir = crate::util::scratch("hotspot-command");
    let wh = crate::util::sample_warehouse();
    // A copy: hotspots commits a snapshot, and the sample warehouse is shared by the SQL tests.
    let copy = dir.join("wh");
    copy_dir(&wh, &copy);
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

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).unwrap();
            std::os::unix::fs::symlink(link, &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
