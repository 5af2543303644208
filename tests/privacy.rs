//! Personal data stays with the investigator role: no caller's full name reaches a table, an
//! evidence sentence or a report that the analyst role sees.

use std::collections::HashSet;
use std::path::Path;

use hotline::pii::{NameForm, normalize_name};

use crate::util::rows;

/// The full names callers give in an export's `calls.csv` (normalised, Han only).
fn full_names(calls_csv: &Path) -> HashSet<String> {
    let mut reader = csv::Reader::from_path(calls_csv).expect("calls.csv");
    let headers = reader.headers().expect("header").clone();
    let at = headers.iter().position(|h| h == "caller_name").expect("a caller_name column");
    let mut names = HashSet::new();
    for record in reader.records().flatten() {
        let Some(raw) = record.get(at).filter(|r| !r.is_empty()) else { continue };
        let parts = normalize_name(raw);
        let han = parts.normalised.chars().all(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        if parts.form == NameForm::Full && han && parts.normalised.chars().count() >= 2 {
            names.insert(parts.normalised);
        }
    }
    names
}

/// Every text an analyst can read from a linked warehouse (every table the analyst role is given)
/// and from a report written from it, each with where it came from, is free of the callers' full
/// names: a name of three or more characters nowhere inside a text, a two-character name as no
/// whole value (inside longer words two characters often spell something else).
pub fn no_full_name_reaches_an_analyst(warehouse: &Path, calls_csv: &Path) {
    let names = full_names(calls_csv);
    assert!(names.len() > 1_000, "the export gives {} full names", names.len());
    let (long, short): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| n.chars().count() >= 3);
    let short: HashSet<&str> = short.into_iter().map(String::as_str).collect();
    let mut texts: Vec<(String, String)> = Vec::new();
    let options = hotline::sql::SessionOptions { audit: false, ..Default::default() };
    let session = hotline::sql::open_session(warehouse, options).expect("analyst session");
    let tables: Vec<String> = session.tables().iter().filter(|t| !t.restricted).map(|t| t.name.clone()).collect();
    assert!(tables.iter().any(|t| t == "calls") && !tables.iter().any(|t| t == "calls_pii"));
    for table in ["calls", "leads", "caller_ties", "incident_links", "hotspot_cells", "entity_hotspots", "entities"] {
        assert!(!rows(warehouse, &format!("SELECT * FROM {table} LIMIT 1")).is_empty(), "{table} has rows");
    }
    for table in &tables {
        for row in rows(warehouse, &format!("SELECT * FROM {table}")) {
            texts.extend(row.into_iter().map(|cell| (table.clone(), cell)));
        }
    }
    let month = rows(warehouse, "SELECT CAST(max(received_at) AS VARCHAR) FROM calls")[0][0][..7].to_owned();
    let period = hotline::report::Period::parse(&month, chrono::Utc::now().date_naive()).expect("a month");
    let data = hotline::report::gather(warehouse, period).expect("report data");
    let out = warehouse.with_file_name("report");
    hotline::report::write_report(&data, &out).expect("report");
    for entry in std::fs::read_dir(&out).expect("report folder").flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path()) {
            texts.push((entry.path().display().to_string(), text));
        }
    }
    let long: HashSet<&str> = long.into_iter().map(String::as_str).collect();
    let mut found: Vec<String> = Vec::new();
    for (place, text) in texts.iter().filter(|(_, t)| !t.is_ascii()) {
        if short.contains(text.as_str()) {
            found.push(format!("{place}: a cell is the name {text}"));
        }
        let chars: Vec<char> = text.chars().collect();
        for width in [3, 4] {
            for window in chars.windows(width) {
                let candidate: String = window.iter().collect();
                if long.contains(candidate.as_str()) {
                    let start = text.find(&candidate).unwrap_or(0);
                    let context: String = text[start..].chars().take(40).collect();
                    found.push(format!("{place}: {candidate} in …{context}"));
                }
            }
        }
        if found.len() > 20 {
            break;
        }
    }
    assert!(found.is_empty(), "{} full names reach the analyst role:\n{}", found.len(), found.join("\n"));
}
