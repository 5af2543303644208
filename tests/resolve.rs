//! Identity resolution: the hard cases (shared shop phone, common name, homophone typo, honorific-only
//! name), accuracy against generator truth, and stable entity ids across incremental runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use hotline::eval::resolve::evaluate_warehouse;
use hotline::generate::OutputFormat;
use hotline::ingest::ingest;
use hotline::pii::resident_id_check_char;
use hotline::pseudonym::PseudonymKey;
use hotline::resolve::{ResolveOptions, ResolveSummary, explain, resolve};
use hotline::sql::{SessionOptions, open_session};
use hotline::warehouse::{Warehouse, init};

use crate::util::{batch, rows, scratch};

fn key() -> PseudonymKey {
    PseudonymKey::from_hex(&"5a".repeat(32), "test").unwrap()
}

fn new_warehouse(name: &str) -> PathBuf {
    let dir = scratch(name).join("wh");
    init(&dir).unwrap();
    dir
}

fn ingest_files(dir: &Path, files: &[PathBuf]) {
    ingest(&Warehouse::open(dir).unwrap(), files, None, &key(), &mut |_| {}).unwrap();
}

fn run_resolve(dir: &Path) -> ResolveSummary {
    resolve(&Warehouse::open(dir).unwrap(), &ResolveOptions::default(), &mut |_| {}).unwrap()
}

/// call_id → entity_id as the warehouse holds it.
fn entities(dir: &Path) -> HashMap<String, String> {
    use datafusion::arrow::array::AsArray;
    let session = open_session(dir, SessionOptions { audit: false, ..SessionOptions::default() }).unwrap();
    let (_, batches) = session.collect("SELECT call_id, entity_id FROM caller_entities").unwrap();
    let mut map = HashMap::new();
    for batch in &batches {
        let cast = |i: usize| {
            datafusion::arrow::compute::cast(batch.column(i), &datafusion::arrow::datatypes::DataType::Utf8).unwrap()
        };
        let (calls, ids) = (cast(0), cast(1));
        for row in 0..batch.num_rows() {
            map.insert(calls.as_string::<i32>().value(row).to_owned(), ids.as_string::<i32>().value(row).to_owned());
        }
    }
    map
}

fn resident_id(region: &str, birth: &str, sequence: u32) -> String {
    let first17 = format!("{region}{birth}{sequence:03}");
    format!("{first17}{}", resident_id_check_char(&first17).unwrap())
}

/// Hand-made calls for the hard cases, on top of a generated background that trains the model.
fn hard_cases(dir: &Path) -> PathBuf {
    let id_liu = resident_id("420502", "19850312", 137);
    let rows: Vec<[&str; 6]> = vec![
        // (a) A shop's landline used by three different people, each also calling from their own mobile.
        ["HC-A1", "0717-6000001", "张明远", "", "西陵区", "2023-03-02T10:00:00+08:00"],
        ["HC-A2", "0717-6000001", "李秀娟", "", "西陵区", "2023-03-03T10:00:00+08:00"],
        ["HC-A3", "0717-6000001", "赵志强", "", "西陵区", "2023-03-04T10:00:00+08:00"],
        ["HC-A4", "0717-6000001", "张明远", "", "西陵区", "2023-03-09T10:00:00+08:00"],
        ["HC-A5", "13900000001", "李秀娟", "", "西陵区", "2023-03-05T10:00:00+08:00"],
        ["HC-A6", "13900000002", "赵志强", "", "西陵区", "2023-03-06T10:00:00+08:00"],
        // (b) Two different people with a very common name, different phones and districts, no ID.
        ["HC-B1", "13900000011", "张伟", "", "西陵区", "2023-03-02T11:00:00+08:00"],
        ["HC-B2", "13900000011", "张伟", "", "西陵区", "2023-03-12T11:00:00+08:00"],
        ["HC-B3", "13900000012", "张伟", "", "夷陵区", "2023-03-03T11:00:00+08:00"],
        ["HC-B4", "13900000012", "张伟", "", "夷陵区", "2023-03-13T11:00:00+08:00"],
        // (c) A homophone typo on the same phone; (d) an honorific-only name on that phone, and on a stranger's.
        ["HC-C1", "13900000021", "王建国", "", "伍家岗区", "2023-03-02T12:00:00+08:00"],
        ["HC-C2", "13900000021", "汪建国", "", "伍家岗区", "2023-03-05T12:00:00+08:00"],
        ["HC-C3", "13900000021", "王先生", "", "伍家岗区", "2023-03-08T12:00:00+08:00"],
        ["HC-D1", "13900000022", "王先生", "", "当阳市", "2023-06-20T12:00:00+08:00"],
        // (e) One person on two phones, tied by the resident ID.
        ["HC-E1", "13900000031", "刘洋", &id_liu, "点军区", "2023-03-02T13:00:00+08:00"],
        ["HC-E2", "13900000032", "刘洋", &id_liu, "点军区", "2023-04-02T13:00:00+08:00"],
    ];
    let path = dir.join("hard_cases.csv");
    let mut out = String::from(
        "call_id,platform,received_at,caller_phone,caller_name,caller_id_number,address,district,grid_id,lon,lat,category,counterparty,narrative,disposition,source_call_id\n",
    );
    for [id, phone, name, id_number, district, at] in rows {
        out.push_str(&format!(
            "{id},12345,{at},{phone},{name},{id_number},,{district},,,,DISPUTE.CONSUMER,,来电人反映商品质量问题，要求商家退款。,ANSWERED,\n"
        ));
    }
    std::fs::write(&path, out).unwrap();
    path
}

/// A warehouse with a generated background of 20,000 calls and the hard cases, resolved once.
fn hard_case_warehouse() -> &'static (PathBuf, HashMap<String, String>) {
    static MADE: std::sync::OnceLock<(PathBuf, HashMap<String, String>)> = std::sync::OnceLock::new();
    MADE.get_or_init(|| {
        let background = batch("resolve-bg-20k", 20_000, 5, OutputFormat::Csv, true);
        let dir = new_warehouse("resolve-hard-cases");
        let cases = hard_cases(dir.parent().unwrap());
        ingest_files(&dir, &[background.join("calls.csv"), cases]);
        let summary = run_resolve(&dir);
        assert_eq!(summary.mode, "full");
        (dir.clone(), entities(&dir))
    })
}

#[test]
fn a_shared_shop_phone_does_not_glue_its_callers_together() {
    let (_, e) = hard_case_warehouse();
    assert_ne!(e["HC-A1"], e["HC-A2"]);
    assert_ne!(e["HC-A1"], e["HC-A3"]);
    assert_ne!(e["HC-A2"], e["HC-A3"]);
    // The same person on the shop phone twice is still one person.
    assert_eq!(e["HC-A1"], e["HC-A4"]);
}

#[test]
fn a_common_name_on_different_phones_is_two_people() {
    let (_, e) = hard_case_warehouse();
    assert_eq!(e["HC-B1"], e["HC-B2"]);
    assert_eq!(e["HC-B3"], e["HC-B4"]);
    assert_ne!(e["HC-B1"], e["HC-B3"]);
}

#[test]
fn a_homophone_typo_on_the_same_phone_is_the_same_person() {
    let (_, e) = hard_case_warehouse();
    assert_eq!(e["HC-C1"], e["HC-C2"]);
}

#[test]
fn an_honorific_only_name_joins_its_phone_but_not_a_stranger() {
    let (_, e) = hard_case_warehouse();
    assert_eq!(e["HC-C1"], e["HC-C3"]);
    assert_ne!(e["HC-C1"], e["HC-D1"]);
}

#[test]
fn the_same_resident_id_on_two_phones_is_one_person() {
    let (_, e) = hard_case_warehouse();
    assert_eq!(e["HC-E1"], e["HC-E2"]);
}

#[test]
fn every_call_gets_exactly_one_entity_and_entities_add_up() {
    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    let (dir, e) = hard_case_warehouse();
    let session = open_session(dir, SessionOptions { audit: false, ..SessionOptions::default() }).unwrap();
    let count = |sql: &str| -> i64 {
        let (_, batches) = session.collect(sql).unwrap();
        batches[0].column(0).as_primitive::<Int64Type>().value(0)
    };
    let calls = count("SELECT COUNT(*) FROM calls");
    assert_eq!(count("SELECT COUNT(*) FROM caller_entities"), calls);
    assert_eq!(count("SELECT COUNT(DISTINCT call_id) FROM caller_entities"), calls);
    assert_eq!(count("SELECT CAST(SUM(calls) AS BIGINT) FROM entities"), calls);
    assert_eq!(
        count("SELECT COUNT(*) FROM entities") as usize,
        e.values().collect::<std::collections::HashSet<_>>().len()
    );
    // No raw personal data in the analyst tables: phone keys are letters only.
    assert_eq!(count("SELECT COUNT(*) FROM entities WHERE regexp_like(phone_keys, '[0-9]{7}')"), 0);
}

#[test]
fn explain_lists_every_comparison_and_adds_up() {
    let (dir, _) = hard_case_warehouse();
    let same = explain(dir, "HC-C1", "HC-C2").unwrap();
    assert!(!same.same_profile);
    assert_eq!(same.terms.len(), hotline::resolve::compare::COMPARISONS);
    let sum = same.prior_bits + same.terms.iter().map(|t| t.bits).sum::<f64>();
    assert!((sum - same.total_bits).abs() < 1e-9);
    assert!(same.probability > 0.9, "homophone on one phone: {}", same.probability);
    let strangers = explain(dir, "HC-B1", "HC-B3").unwrap();
    assert!(strangers.total_bits < same.total_bits);
    assert!(explain(dir, "HC-C1", "no-such-call").is_err());
}

#[test]
fn resolution_beats_the_same_phone_baseline_on_generated_truth() {
    let (dir, _) = hard_case_warehouse();
    let background = batch("resolve-bg-20k", 20_000, 5, OutputFormat::Csv, true);
    let (resolved, baseline) = evaluate_warehouse(dir, &background.join("truth")).unwrap();
    assert!(resolved.items > 19_000);
    assert!(resolved.precision() >= 0.97, "precision {:.4}", resolved.precision());
    assert!(resolved.f1() >= 0.93, "F1 {:.4}", resolved.f1());
    assert!(resolved.f1() > baseline.f1() + 0.02, "F1 {:.4} vs baseline {:.4}", resolved.f1(), baseline.f1());
}

/// Splits a CSV file after `first` records (keeping the header in both parts).
fn split_csv(path: &Path, first: usize, out: &Path) -> (PathBuf, PathBuf) {
    // Flexible: the generated file holds deliberately malformed rows with missing fields.
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let (a, b) = (out.join("part1.csv"), out.join("part2.csv"));
    let mut wa = csv::WriterBuilder::new().flexible(true).from_path(&a).unwrap();
    let mut wb = csv::WriterBuilder::new().flexible(true).from_path(&b).unwrap();
    wa.write_record(&headers).unwrap();
    wb.write_record(&headers).unwrap();
    for (i, record) in reader.records().enumerate() {
        let record = record.unwrap();
        if i < first { wa.write_record(&record).unwrap() } else { wb.write_record(&record).unwrap() }
    }
    (a, b)
}

#[test]
fn entity_ids_of_known_people_survive_an_incremental_run() {
    let background = batch("resolve-bg-20k", 20_000, 5, OutputFormat::Csv, true);
    let dir = new_warehouse("resolve-incremental");
    let (part1, part2) = split_csv(&background.join("calls.csv"), 14_000, dir.parent().unwrap());
    ingest_files(&dir, &[part1]);
    let first = run_resolve(&dir);
    assert_eq!(first.mode, "full");
    let before = entities(&dir);
    ingest_files(&dir, &[part2]);
    // A stage that only ingests keeps the resolve tables (stale, never lost).
    assert_eq!(entities(&dir), before);
    let second = run_resolve(&dir);
    assert_eq!(second.mode, "incremental");
    assert!(second.new_calls > 5_000 && second.new_calls < second.calls);
    assert!(
        second.candidate_pairs < first.candidate_pairs * 2,
        "{} vs {}",
        second.candidate_pairs,
        first.candidate_pairs
    );
    let after = entities(&dir);
    // Every earlier call keeps its entity unless that entity merged into another earlier one.
    let old_ids: std::collections::HashSet<&String> = before.values().collect();
    let changed: Vec<&String> = before.iter().filter(|(call, id)| after[*call] != **id).map(|(c, _)| c).collect();
    for call in &changed {
        assert!(old_ids.contains(&after[*call]), "{call} moved to a new id");
    }
    assert!(changed.len() * 100 <= before.len(), "{} of {} calls changed entity", changed.len(), before.len());
    // New calls of people already known mostly join their existing entity.
    let truth = hotline::eval::resolve::read_truth(&background.join("truth/call_person.csv")).unwrap();
    let mut known_people: HashMap<&str, std::collections::HashSet<&String>> = HashMap::new();
    for (call, id) in &before {
        if let Some(person) = truth.get(call) {
            known_people.entry(person).or_default().insert(id);
        }
    }
    let (mut joined, mut returning) = (0, 0);
    for (call, id) in &after {
        if before.contains_key(call) {
            continue;
        }
        if let Some(earlier) = truth.get(call).and_then(|p| known_people.get(p.as_str())) {
            returning += 1;
            if earlier.contains(id) {
                joined += 1;
            }
        }
    }
    assert!(returning > 500);
    assert!(joined * 10 >= returning * 8, "{joined} of {returning} returning callers kept an existing entity");
}

#[test]
fn an_incremental_run_reads_what_new_calls_touch_and_decides_as_a_run_over_every_call_would() {
    let background = batch("resolve-bg-20k", 20_000, 5, OutputFormat::Csv, true);
    let dir = new_warehouse("resolve-subset");
    let (part1, part2) = split_csv(&background.join("calls.csv"), 16_000, dir.parent().unwrap());
    ingest_files(&dir, std::slice::from_ref(&part1));
    run_resolve(&dir);
    ingest_files(&dir, &[part2]);
    let everything = scratch("resolve-subset-everything").join("wh");
    crate::util::copy_dir(&dir, &everything);
    let afresh = scratch("resolve-subset-full").join("wh");
    crate::util::copy_dir(&dir, &afresh);
    let run =
        |dir: &Path, options: ResolveOptions| resolve(&Warehouse::open(dir).unwrap(), &options, &mut |_| {}).unwrap();

    let subset = run(&dir, ResolveOptions::default());
    let reference = run(&everything, ResolveOptions { read_everything: true, ..ResolveOptions::default() });
    assert_eq!((subset.mode, reference.mode), ("incremental", "incremental"));
    assert!(
        subset.profiles * 10 < reference.profiles * 9,
        "read {} profiles of {}",
        subset.profiles,
        reference.profiles
    );
    let counts = |s: &ResolveSummary| (s.calls, s.new_calls, s.candidate_pairs, s.links, s.entities, s.merged_entities);
    assert_eq!(counts(&subset), counts(&reference));
    let tables = [
        "SELECT call_id, entity_id, confidence, link, received_at FROM caller_entities ORDER BY call_id",
        "SELECT * FROM entities ORDER BY entity_id",
        "SELECT call_id, caller, entity_id, previous_at FROM caller_calls ORDER BY call_id",
        "SELECT kind, value, profiles FROM resolve_frequencies ORDER BY kind, value",
    ];
    for sql in tables {
        assert_eq!(rows(&dir, sql), rows(&everything, sql), "{sql}");
    }
    // Earlier rows were carried over, the replaced ones left out: one row per call, and the
    // entities table agrees with it.
    let calls = rows(&dir, "SELECT count(*) FROM calls")[0][0].clone();
    assert_eq!(rows(&dir, "SELECT count(*), count(DISTINCT call_id) FROM caller_entities")[0], [calls.clone(), calls]);
    let disagree = "SELECT count(*) FROM entities n FULL JOIN \
         (SELECT entity_id, count(*) AS calls FROM caller_entities GROUP BY entity_id) e ON e.entity_id = n.entity_id \
         WHERE n.calls IS DISTINCT FROM e.calls";
    assert_eq!(rows(&dir, disagree), [["0"]]);
    assert_eq!(rows(&dir, "SELECT count(*) FROM entities")[0][0], subset.entities.to_string());
    // The counts it added to are those a full run takes from every profile.
    run(&afresh, ResolveOptions { full: true, ..ResolveOptions::default() });
    assert_eq!(rows(&dir, tables[3]), rows(&afresh, tables[3]));

    // With nothing new, nothing changes.
    let before: Vec<_> = tables.iter().map(|sql| rows(&dir, sql)).collect();
    let again = run(&dir, ResolveOptions::default());
    assert_eq!((again.mode, again.new_calls, again.entities), ("incremental", 0, subset.entities));
    assert_eq!(tables.iter().map(|sql| rows(&dir, sql)).collect::<Vec<_>>(), before);

    // A call the desk corrects later is written again with its entity.
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(&part1).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = headers.iter().position(|h| h == "received_at").unwrap();
    let plain = |t: &str| t.len() == 19 && t.as_bytes()[10] == b' ' && t[17..].bytes().all(|b| b.is_ascii_digit());
    let mut record = reader.records().map(Result::unwrap).find(|r| plain(&r[at])).unwrap();
    let time = record[at].to_owned();
    let seconds: u32 = time[17..].parse().unwrap();
    let corrected = format!("{}{:02}", &time[..17], (seconds + 30) % 60);
    record = record.iter().enumerate().map(|(i, v)| if i == at { corrected.as_str() } else { v }).collect();
    let correction = dir.parent().unwrap().join("correction.csv");
    let mut writer = csv::WriterBuilder::new().flexible(true).from_path(&correction).unwrap();
    writer.write_record(&headers).unwrap();
    writer.write_record(&record).unwrap();
    writer.flush().unwrap();
    drop(writer);
    ingest_files(&dir, &[correction]);
    let stale = "SELECT count(*) FROM caller_entities e JOIN calls c ON c.call_id = e.call_id \
         WHERE e.received_at IS DISTINCT FROM c.received_at";
    assert_eq!(rows(&dir, stale), [["1"]], "the correction was not ingested as one");
    let revised = run(&dir, ResolveOptions::default());
    assert_eq!((revised.mode, revised.new_calls), ("incremental", 0));
    assert_eq!(rows(&dir, stale), [["0"]]);
    assert_eq!(rows(&dir, disagree), [["0"]]);
}

#[test]
fn a_warehouse_that_more_than_doubles_is_resolved_afresh_and_ids_stay_unique() {
    let background = batch("resolve-bg-20k", 20_000, 5, OutputFormat::Csv, true);
    let dir = new_warehouse("resolve-regrow");
    let (part1, part2) = split_csv(&background.join("calls.csv"), 4_000, dir.parent().unwrap());
    ingest_files(&dir, &[part1]);
    run_resolve(&dir);
    let before = entities(&dir);
    ingest_files(&dir, &[part2]);
    let second = run_resolve(&dir);
    // The model of 4,000 calls is not reused for 20,000: retrained, every pair compared again.
    assert_eq!(second.mode, "full");
    let after = entities(&dir);
    assert_eq!(after.len(), second.calls);
    // An id names one entity: the calls of an id are exactly the calls of one cluster.
    let ids: std::collections::HashSet<&String> = after.values().collect();
    assert_eq!(ids.len(), second.entities, "an entity id was given to two clusters");
    let kept = before.iter().filter(|(call, id)| after[*call] == **id).count();
    assert!(kept * 100 >= before.len() * 95, "{kept} of {} earlier calls kept their id", before.len());
}

#[test]
fn resolution_is_the_same_on_one_thread_and_on_two() {
    let background = batch("resolve-bg-20k", 20_000, 5, OutputFormat::Csv, true);
    let first = new_warehouse("resolve-determinism-1");
    ingest_files(&first, &[background.join("calls.csv")]);
    // A second copy of the very same snapshot (same key, same ingest).
    let second = scratch("resolve-determinism-2").join("wh");
    crate::util::copy_dir(&first, &second);
    let in_pool = |threads: usize, dir: &Path| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        pool.install(|| run_resolve(dir))
    };
    let (one, two) = (in_pool(1, &first), in_pool(2, &second));
    assert_eq!((one.mode, two.mode), ("full", "full"));
    assert_eq!((one.links, one.entities), (two.links, two.entities));
    for sql in [
        "SELECT call_id, entity_id, confidence, link, received_at FROM caller_entities ORDER BY call_id",
        "SELECT * FROM entities ORDER BY entity_id",
        // All but the run's timestamp (trained_at).
        "SELECT comparison, level, description, m, u, bits FROM resolve_model ORDER BY comparison, level",
    ] {
        let (a, b) = (rows(&first, sql), rows(&second, sql));
        assert!(a.len() > 1_000 || sql.contains("resolve_model"), "{sql}: {} rows", a.len());
        assert_eq!(a.len(), b.len(), "{sql}");
        let differ: Vec<(&Vec<String>, &Vec<String>)> = a.iter().zip(&b).filter(|(x, y)| x != y).collect();
        assert!(differ.is_empty(), "{sql}: {} rows differ, e.g. {:?}", differ.len(), &differ[..differ.len().min(3)]);
    }
}

/// The rows `caller_calls` holds and the join and window it replaces (`CALLER_CALLS_VIEW`) does
/// not, and the other way round, and the table's row count.
fn caller_calls_differences(dir: &Path) -> (usize, usize, usize) {
    let view = hotline::sql::CALLER_CALLS_VIEW;
    let columns = "call_id, caller, entity_id, phone_key, platform, category, district, counterparty, received_at, \
                   previous_at, month";
    let count = |sql: String| rows(dir, &sql)[0][0].parse::<usize>().unwrap();
    let stored = format!("SELECT {columns} FROM caller_calls");
    let computed = format!("SELECT {columns} FROM ({view}) AS v");
    (
        count(format!("SELECT COUNT(*) FROM ({stored} EXCEPT {computed}) AS d")),
        count(format!("SELECT COUNT(*) FROM ({computed} EXCEPT {stored}) AS d")),
        count("SELECT COUNT(*) FROM caller_calls".to_owned()),
    )
}

/// The inode of every file of a warehouse's `caller_calls` (a month carried over keeps its inode).
fn caller_calls_files(dir: &Path) -> HashMap<String, u64> {
    use std::os::unix::fs::MetadataExt;
    let table = dir.join("caller_calls");
    let mut files = HashMap::new();
    for month in std::fs::read_dir(&table).unwrap() {
        let month = month.unwrap().path();
        for file in std::fs::read_dir(&month).unwrap() {
            let file = file.unwrap().path();
            let name = file.strip_prefix(&table).unwrap().display().to_string();
            files.insert(name, std::fs::metadata(&file).unwrap().ino());
        }
    }
    files
}

#[test]
fn caller_calls_stays_in_step_with_the_join_and_window_it_replaces_through_ingest_and_resolve() {
    let background = batch("resolve-bg-20k", 20_000, 5, OutputFormat::Csv, true);
    let dir = new_warehouse("resolve-caller-calls");
    let (part1, part2) = split_csv(&background.join("calls.csv"), 14_000, dir.parent().unwrap());
    // The second batch also corrects an earlier call: another category, so its caller's previous
    // calls change in both categories.
    let corrected = {
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(&part1).unwrap();
        let headers = reader.headers().unwrap().clone();
        let at = headers.iter().position(|h| h == "category").unwrap();
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).take(200).collect();
        let mut record = records.iter().skip(100).find(|r| r.len() == headers.len()).unwrap().clone();
        let other = records.iter().map(|r| r[at].to_owned()).find(|c| c != &record[at]).unwrap();
        record = record.iter().enumerate().map(|(i, v)| if i == at { other.as_str() } else { v }).collect();
        let path = dir.parent().unwrap().join("part2-corrected.csv");
        let mut writer = csv::WriterBuilder::new().flexible(true).from_path(&path).unwrap();
        writer.write_record(&headers).unwrap();
        writer.write_record(&record).unwrap();
        for row in csv::ReaderBuilder::new().flexible(true).from_path(&part2).unwrap().records() {
            writer.write_record(&row.unwrap()).unwrap();
        }
        path
    };
    let originals = |dir: &Path| -> usize {
        rows(dir, "SELECT COUNT(*) FROM calls WHERE source_call_id IS NULL")[0][0].parse().unwrap()
    };

    ingest_files(&dir, &[part1]);
    let (stored_only, computed_only, stored) = caller_calls_differences(&dir);
    assert_eq!((stored_only, computed_only, stored), (0, 0, originals(&dir)), "after the first ingest");
    assert!(stored > 10_000);
    // Before any resolve run every caller is a phone_key.
    assert_eq!(rows(&dir, "SELECT COUNT(entity_id) FROM caller_calls")[0][0], "0");

    run_resolve(&dir);
    let (stored_only, computed_only, stored) = caller_calls_differences(&dir);
    assert_eq!((stored_only, computed_only, stored), (0, 0, originals(&dir)), "after resolve");
    let repeats_by_entity: usize = rows(
        &dir,
        "SELECT COUNT(*) FROM caller_calls WHERE entity_id IS NOT NULL AND previous_at >= received_at - INTERVAL '7 days'",
    )[0][0]
        .parse()
        .unwrap();
    assert!(repeats_by_entity > 100, "{repeats_by_entity} repeat calls by resolved people");

    // A resolve run that changes no entity writes no month again.
    let before = caller_calls_files(&dir);
    run_resolve(&dir);
    assert_eq!(caller_calls_files(&dir), before);

    ingest_files(&dir, &[corrected]);
    let (stored_only, computed_only, stored) = caller_calls_differences(&dir);
    assert_eq!((stored_only, computed_only, stored), (0, 0, originals(&dir)), "after the second ingest");
    // The new calls count by phone_key until a resolve run sees them.
    let unresolved: usize =
        rows(&dir, "SELECT COUNT(*) FROM caller_calls WHERE entity_id IS NULL AND caller IS NOT NULL")[0][0]
            .parse()
            .unwrap();
    assert!(unresolved > 4_000, "{unresolved} calls by phone_key");

    run_resolve(&dir);
    let (stored_only, computed_only, stored) = caller_calls_differences(&dir);
    assert_eq!((stored_only, computed_only, stored), (0, 0, originals(&dir)), "after the second resolve");
}
