//! Ingest into the warehouse: every row accounted for, idempotent, updates with history, no raw personal data for analysts.

use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use hotline::catalog::{
    CALLS, CALLS_PII, INGEST_BATCHES, INGEST_FILES, Kind, QUARANTINE, Row, TableDef, Value, WORK_ORDERS,
    history_columns, read_parquet,
};
use hotline::contract::Table;
use hotline::generate::truth::read_malformed;
use hotline::ingest::{IngestSummary, ingest};
use hotline::pseudonym::PseudonymKey;
use hotline::warehouse::{MARKER, Warehouse};

use crate::util::scratch;

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
}

fn new_warehouse(name: &str) -> Warehouse {
    let dir = scratch(name).join("wh");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(MARKER), "{}").unwrap();
    Warehouse::open(&dir).unwrap()
}

fn key() -> PseudonymKey {
    PseudonymKey::from_hex(&"5a".repeat(32), "test").unwrap()
}

fn run(warehouse: &Warehouse, files: &[PathBuf]) -> IngestSummary {
    ingest(warehouse, files, None, &key(), &mut |_| {}).unwrap()
}

fn rows_of(warehouse: &Warehouse, name: &str, columns: &[(&'static str, Kind)]) -> Vec<Row> {
    let mut rows = Vec::new();
    let root = warehouse.table_dir(name);
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                rows.extend(read_parquet(&path, columns).unwrap());
            }
        }
    }
    rows
}

fn table_rows(warehouse: &Warehouse, def: &TableDef) -> Vec<Row> {
    rows_of(warehouse, def.name, def.columns)
}

/// A content checksum of the current rows of the data tables (order-independent).
fn checksum(warehouse: &Warehouse) -> BTreeSet<String> {
    [&CALLS, &CALLS_PII, &WORK_ORDERS, &QUARANTINE]
        .iter()
        .flat_map(|def| table_rows(warehouse, def).into_iter().map(move |r| format!("{}:{r:?}", def.name)))
        .collect()
}

#[test]
fn every_row_of_the_sample_is_accepted_or_quarantined_for_the_reason_truth_gives() {
    let warehouse = new_warehouse("ingest-sample");
    let files = [sample().join("calls.csv"), sample().join("work_orders.csv")];
    let summary = run(&warehouse, &files);
    let quarantined: u64 = summary.quarantined.values().sum();
    assert_eq!(summary.accepted + summary.updated + summary.unchanged + quarantined, summary.rows_read);
    for file in &summary.files {
        let rows = hotline::source::validate_file(&file.path, None, |_| {}).unwrap().rows;
        assert_eq!(file.rows, rows, "{}", file.path.display());
    }
    let calls = table_rows(&warehouse, &CALLS);
    let orders = table_rows(&warehouse, &WORK_ORDERS);
    assert_eq!((calls.len() + orders.len()) as u64, summary.accepted);
    let truth: HashSet<(String, u64, String)> = read_malformed(&sample().join("truth"))
        .unwrap()
        .into_iter()
        .map(|m| (m.table.name().to_owned(), m.line, m.reason.code().to_owned()))
        .collect();
    let found: HashSet<(String, u64, String)> = table_rows(&warehouse, &QUARANTINE)
        .iter()
        .map(|r| {
            (
                r[3].text().unwrap().to_owned(),
                match r[2] {
                    Value::Int(Some(l)) => l as u64,
                    _ => 0,
                },
                r[5].text().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(found, truth);
    // Keys are unique in the tables analysts query, and every call has its restricted row.
    let ids: HashSet<&str> = calls.iter().filter_map(|r| r[0].text()).collect();
    assert_eq!(ids.len(), calls.len());
    assert_eq!(table_rows(&warehouse, &CALLS_PII).len(), calls.len());
    // Partitioned by month, sorted by time within a file.
    assert!(warehouse.table_dir("calls").join("month=2023-07/part-0.parquet").exists());
    let july = read_parquet(&warehouse.table_dir("calls").join("month=2023-07/part-0.parquet"), CALLS.columns).unwrap();
    assert!(july.windows(2).all(|w| w[0][2].time() <= w[1][2].time()));
}

#[test]
fn the_same_batch_three_times_changes_nothing() {
    let warehouse = new_warehouse("ingest-idempotent");
    let files = [sample().join("calls.csv"), sample().join("work_orders.csv")];
    run(&warehouse, &files);
    let (snapshot, sum) = (warehouse.current().unwrap(), checksum(&warehouse));
    for _ in 0..2 {
        let again = run(&warehouse, &files);
        assert_eq!(again.skipped.len(), 2);
        assert_eq!(again.batch_id, None);
        assert_eq!(warehouse.current().unwrap(), snapshot);
        assert_eq!(checksum(&warehouse), sum);
    }
    // The same rows in a file with other bytes (columns reordered) are all unchanged.
    let dir = scratch("ingest-reordered");
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_path(sample().join("work_orders.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let mut writer = csv::WriterBuilder::new().flexible(true).from_path(dir.join("orders.csv")).unwrap();
    let order: Vec<usize> = (0..headers.len()).rev().collect();
    writer.write_record(order.iter().map(|&i| &headers[i])).unwrap();
    for record in reader.records() {
        let record = record.unwrap();
        if record.len() == headers.len() {
            writer.write_record(order.iter().map(|&i| record.get(i).unwrap_or(""))).unwrap();
        }
    }
    writer.flush().unwrap();
    let data_only = |w: &Warehouse| -> BTreeSet<String> {
        checksum(w).into_iter().filter(|r| !r.starts_with("quarantine")).collect()
    };
    let before = data_only(&warehouse);
    let reordered = run(&warehouse, &[dir.join("orders.csv")]);
    assert_eq!((reordered.accepted, reordered.updated), (0, 0));
    assert!(reordered.unchanged > 6000);
    assert_eq!(data_only(&warehouse), before);
}

fn orders_file(dir: &Path, name: &str, status: &str, extra: &str) -> PathBuf {
    let path = dir.join(name);
    let header = "order_id,call_id,created_at,from_platform,to_platform,channel,department,signed_at,feedback_at,closed_at,status";
    let rows: String = (1..=3)
        .map(|i| {
            format!("WO-{i},110-20230719-00000{i},2023-07-19 10:0{i}:00,110,12345,ONE_KEY,城管局,{extra},{status}\n")
        })
        .collect();
    std::fs::write(&path, format!("{header}\n{rows}")).unwrap();
    path
}

#[test]
fn orders_re_exported_as_they_progress_end_in_their_latest_state_with_history_kept() {
    let warehouse = new_warehouse("ingest-updates");
    let dir = scratch("ingest-updates-files");
    let pending = run(&warehouse, &[orders_file(&dir, "a.csv", "PENDING", ",,")]);
    assert_eq!(pending.accepted, 3);
    let signed = run(&warehouse, &[orders_file(&dir, "b.csv", "已签收", "2023-07-19 10:10:00,,")]);
    assert_eq!((signed.accepted, signed.updated), (0, 3));
    let closed = run(
        &warehouse,
        &[orders_file(&dir, "c.csv", "CLOSED", "2023-07-19 10:10:00,2023-07-19 11:00:00,2023-07-20 09:00:00")],
    );
    assert_eq!((closed.accepted, closed.updated), (0, 3));
    let current = table_rows(&warehouse, &WORK_ORDERS);
    assert_eq!(current.len(), 3, "one row per order");
    assert!(current.iter().all(|r| r[10].text() == Some("CLOSED") && r[9].time().is_some()));
    let history = rows_of(&warehouse, "work_orders_history", &history_columns(&WORK_ORDERS));
    let mut states: Vec<(&str, &str)> = history.iter().map(|r| (r[0].text().unwrap(), r[10].text().unwrap())).collect();
    states.sort();
    assert_eq!(
        states,
        vec![
            ("WO-1", "PENDING"),
            ("WO-1", "SIGNED"),
            ("WO-2", "PENDING"),
            ("WO-2", "SIGNED"),
            ("WO-3", "PENDING"),
            ("WO-3", "SIGNED")
        ]
    );
    // A later batch that changes nothing for these orders keeps their history.
    let same = run(
        &warehouse,
        &[orders_file(&dir, "d.csv", "已办结", "2023-07-19 10:10:00,2023-07-19 11:00:00,2023-07-20 09:00:00")],
    );
    assert_eq!((same.accepted, same.updated, same.unchanged), (0, 0, 3));
    assert_eq!(rows_of(&warehouse, "work_orders_history", &history_columns(&WORK_ORDERS)).len(), 6);
    let batches = table_rows(&warehouse, &INGEST_BATCHES);
    assert_eq!(batches.len(), 4);
    assert_eq!(table_rows(&warehouse, &INGEST_FILES).len(), 4);

    // Time travel: each kept snapshot answers as the warehouse stood after its commit.
    let kept: Vec<u64> = warehouse.snapshots().unwrap().iter().map(|s| s.id).collect();
    assert_eq!(kept, vec![1, 2, 3, 4]);
    assert!(warehouse.snapshots().unwrap().iter().all(|s| s.command.as_deref() == Some("ingest")));
    let at = |snapshot: Option<u64>, sql: &str| -> Vec<String> {
        let options = hotline::sql::SessionOptions { audit: false, snapshot, ..Default::default() };
        let session = hotline::sql::open_session(warehouse.dir(), options).unwrap();
        let (_, batches) = session.collect(sql).unwrap();
        let mut out = Vec::new();
        for batch in &batches {
            let column =
                datafusion::arrow::compute::cast(batch.column(0), &datafusion::arrow::datatypes::DataType::Utf8)
                    .unwrap();
            let column = datafusion::arrow::array::AsArray::as_string::<i32>(&column);
            out.extend(column.iter().map(|v| v.unwrap_or("∅").to_owned()));
        }
        out
    };
    let statuses = "SELECT DISTINCT status FROM work_orders";
    assert_eq!(at(Some(1), statuses), vec!["PENDING"]);
    assert_eq!(at(Some(2), statuses), vec!["SIGNED"]);
    assert_eq!(at(None, statuses), vec!["CLOSED"]);
    assert_eq!(at(Some(1), "SELECT count(*) FROM work_orders_history"), vec!["0"]);
    assert_eq!(at(Some(3), "SELECT count(*) FROM work_orders_history"), vec!["6"]);
    let gone = hotline::sql::open_session(
        warehouse.dir(),
        hotline::sql::SessionOptions { audit: false, snapshot: Some(9), ..Default::default() },
    );
    let error = gone.err().expect("a snapshot never committed is refused").to_string();
    assert!(error.contains("snapshot 9 is not kept") && error.contains("1, 2, 3, 4"), "{error}");
}

#[test]
fn a_corrected_time_moves_the_row_to_its_new_month_without_a_duplicate() {
    let warehouse = new_warehouse("ingest-move");
    let dir = scratch("ingest-move-files");
    let header = "order_id,call_id,created_at,from_platform,to_platform,channel,department,signed_at,feedback_at,closed_at,status";
    let file = |name: &str, created_2: &str| {
        let path = dir.join(name);
        let rows = format!(
            "{header}\nWO-1,C-1,2023-07-19 10:00:00,110,12345,ONE_KEY,城管局,,,,PENDING\n\
             WO-2,C-2,{created_2},110,12345,ONE_KEY,城管局,,,,PENDING\n"
        );
        std::fs::write(&path, rows).unwrap();
        path
    };
    let first = run(&warehouse, &[file("a.csv", "2023-07-31 23:30:00")]);
    assert_eq!(first.accepted, 2);
    // The desk corrects WO-2's time across the month boundary: 2023-08-01 in Asia/Shanghai.
    let second = run(&warehouse, &[file("b.csv", "2023-08-01 00:30:00")]);
    assert_eq!((second.accepted, second.updated, second.unchanged), (0, 1, 1));
    let root = warehouse.table_dir("work_orders");
    let july = read_parquet(&root.join("month=2023-07/part-0.parquet"), WORK_ORDERS.columns).unwrap();
    let august = read_parquet(&root.join("month=2023-08/part-0.parquet"), WORK_ORDERS.columns).unwrap();
    let ids = |rows: &[Row]| rows.iter().map(|r| r[0].text().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!((ids(&july), ids(&august)), (vec!["WO-1".to_owned()], vec!["WO-2".to_owned()]));
    let history = rows_of(&warehouse, "work_orders_history", &history_columns(&WORK_ORDERS));
    assert_eq!(ids(&history), vec!["WO-2".to_owned()], "the July version is kept as history");
    assert_eq!(table_rows(&warehouse, &WORK_ORDERS).len(), 2);
}

/// Runs of digits that look like a mobile number (11 digits from 13..19) or a resident ID (17 digits and a check character).
fn personal_numbers(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            let with_check = i < chars.len() && matches!(chars[i], 'X' | 'x');
            if (run.len() == 11 && run.starts_with('1') && matches!(run.as_bytes()[1], b'3'..=b'9'))
                || run.len() == 18
                || (run.len() == 17 && with_check)
                || run.len() == 15
            {
                found.push(run);
            }
        } else {
            i += 1;
        }
    }
    found
}

#[test]
fn analyst_tables_hold_no_mobile_or_id_number_while_the_restricted_one_does() {
    let warehouse = new_warehouse("ingest-pii");
    run(&warehouse, &[sample().join("calls.csv"), sample().join("work_orders.csv")]);
    let text_cells = |def: &TableDef| -> Vec<String> {
        table_rows(&warehouse, def)
            .into_iter()
            .flat_map(|r| r.into_iter().filter_map(|v| v.text().map(str::to_owned)))
            .collect()
    };
    for def in [&CALLS, &WORK_ORDERS, &QUARANTINE, &INGEST_BATCHES, &INGEST_FILES] {
        assert!(!def.restricted);
        let leaks: Vec<String> = text_cells(def).iter().flat_map(|t| personal_numbers(t)).collect();
        assert!(
            leaks.is_empty(),
            "{}: {} personal numbers, e.g. a {}-digit one",
            def.name,
            leaks.len(),
            leaks[0].len()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for name in ["calls_pii", "quarantine_pii"] {
            let mode = std::fs::metadata(warehouse.table_dir(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{name} is readable by its owner only");
        }
    }
    let restricted: Vec<String> = text_cells(&CALLS_PII).iter().flat_map(|t| personal_numbers(t)).collect();
    assert!(restricted.len() > 1000, "the scan finds them where they are meant to be");
    // A table is refused by its file name, not read as calls.
    assert_eq!(Table::from_name("calls"), Some(Table::Calls));
}

fn data_rows(warehouse: &Warehouse) -> BTreeSet<String> {
    // Batch ids differ between runs; everything else must match.
    [&CALLS, &CALLS_PII, &WORK_ORDERS]
        .iter()
        .flat_map(|def| {
            table_rows(warehouse, def).into_iter().map(move |r| format!("{}:{:?}", def.name, &r[..r.len() - 1]))
        })
        .collect()
}

fn ingested_files(warehouse: &Warehouse) -> BTreeSet<String> {
    table_rows(warehouse, &INGEST_FILES).iter().filter_map(|r| r[0].text().map(str::to_owned)).collect()
}

#[test]
fn a_killed_ingest_leaves_the_whole_batch_or_none_and_a_rerun_converges() {
    use std::process::{Command, Stdio};
    let batches = [
        crate::util::batch("crash-a", 20_000, 21, hotline::generate::OutputFormat::Csv, true),
        crate::util::batch("crash-b", 20_000, 22, hotline::generate::OutputFormat::Csv, true),
    ];
    let inputs = |dir: &PathBuf| vec![dir.join("calls.csv"), dir.join("work_orders.csv")];
    let hotline = env!("CARGO_BIN_EXE_hotline");
    let spawn = |warehouse: &Warehouse, files: Vec<PathBuf>| {
        Command::new(hotline)
            .arg("ingest")
            .args(files)
            .arg("--warehouse")
            .arg(warehouse.dir())
            .env("HOTLINE_KEY", "5a".repeat(32))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Reference: the two batches ingested by the binary without interruption, timed so the
    // kills below land anywhere in a run, start to finish.
    let reference = new_warehouse("crash-reference");
    let started = std::time::Instant::now();
    assert!(spawn(&reference, inputs(&batches[0])).wait().unwrap().success());
    let mut span_ms = (started.elapsed().as_millis() as u64 * 3 / 2).max(50);
    let after_a = (data_rows(&reference), ingested_files(&reference));
    assert!(spawn(&reference, inputs(&batches[1])).wait().unwrap().success());
    let after_ab = (data_rows(&reference), ingested_files(&reference));

    let mut warehouse = new_warehouse("crash-target");
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut kills = 0;
    let mut completed = 0;
    let mut kills_in_a_row = 0;
    for round in 0..200 {
        if kills >= 20 && completed >= 1 {
            break;
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let next = if ingested_files(&warehouse).is_superset(&after_a.1) { &batches[1] } else { &batches[0] };
        let mut child = spawn(&warehouse, inputs(next));
        std::thread::sleep(std::time::Duration::from_millis(state % span_ms));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
            kills_in_a_row += 1;
            if kills_in_a_row >= 8 {
                // The machine is busier than when the span was measured: widen the window.
                span_ms = span_ms * 3 / 2;
                kills_in_a_row = 0;
            }
        } else {
            completed += 1;
            kills_in_a_row = 0;
        }
        child.wait().unwrap();
        // Whatever happened, the warehouse shows no batch, batch A, or batches A and B, whole.
        let seen = (data_rows(&warehouse), ingested_files(&warehouse));
        let whole = seen.1.is_empty() && seen.0.is_empty() || seen == after_a || seen == after_ab;
        assert!(whole, "round {round}: a partial batch is visible ({} files, {} rows)", seen.1.len(), seen.0.len());
        if seen == after_ab {
            // Both batches are in: start again on a fresh warehouse to keep killing real work.
            warehouse = new_warehouse(&format!("crash-target-{round}"));
        }
    }
    assert!(kills >= 20, "the test killed ingest mid-run only {kills} times");
    assert!(completed >= 1, "some runs finished between kills");
    // Re-running to completion converges on the uninterrupted result.
    run(&warehouse, &inputs(&batches[0]));
    run(&warehouse, &inputs(&batches[1]));
    assert_eq!(data_rows(&warehouse), after_ab.0);
}

#[test]
fn a_corrupt_file_in_the_batch_commits_nothing_and_names_the_file() {
    let warehouse = new_warehouse("ingest-corrupt");
    let dir = scratch("ingest-corrupt-files");
    std::fs::write(dir.join("broken.parquet"), b"PAR1 not really").unwrap();
    let error =
        ingest(&warehouse, &[sample().join("calls.csv"), dir.join("broken.parquet")], None, &key(), &mut |_| {})
            .unwrap_err();
    assert!(error.to_string().contains("broken.parquet"), "{error}");
    assert_eq!(warehouse.current().unwrap(), None, "nothing committed, not even the good file");
    // The good file was not marked as ingested: on its own it goes in whole.
    let retry = run(&warehouse, &[sample().join("calls.csv")]);
    let quarantined: u64 = retry.quarantined.values().sum();
    assert_eq!(retry.rows_read, 10_000);
    assert_eq!(retry.accepted + retry.unchanged + quarantined, 10_000);
    assert_eq!(warehouse.current().unwrap(), Some(1));
}

#[test]
fn every_quarantine_reason_reaches_the_quarantine_table_with_file_line_and_column() {
    use hotline::contract::Reason;
    let warehouse = new_warehouse("ingest-reasons");
    let dir = scratch("ingest-reasons-files");
    let calls = dir.join("calls.csv");
    std::fs::write(
        &calls,
        "call_id,platform,received_at,caller_phone,caller_name,lon,lat,category,narrative,disposition\n\
         C1,110,2023-07-19 10:00:00,13800001234,王建国,111.3,30.7,噪声扰民,吵,转办\n\
         C2,110,2023-07-19 10:00:00,,,111.3,30.7,噪声扰民,,转办\n\
         C3,110,2023-07-19 25:00:00,,,111.3,30.7,噪声扰民,吵,转办\n\
         C4,911,2023-07-19 10:00:00,,,111.3,30.7,噪声扰民,吵,转办\n\
         C5,110,2023-07-19 10:00:00,,,111.3,30.7,其他,吵,转办\n\
         C6,110,2023-07-19 10:00:00,,,east,30.7,噪声扰民,吵,转办\n\
         C7,110,2023-07-19 10:00:00,,,111.3,,噪声扰民,吵,转办\n\
         C8,110,2023-07-19 10:00:00,,,30.7,111.3,噪声扰民,吵,转办\n\
         C1,110,2023-07-19 10:00:00,13800001234,王建国,111.3,30.7,噪声扰民,不一样,转办\n\
         C9,110,2023-07-19 10:00:00,,,111.3,30.7,噪声扰民,吵\n",
    )
    .unwrap();
    let orders = dir.join("orders.jsonl");
    std::fs::write(
        &orders,
        concat!(
            r#"{"order_id":"W1","call_id":"C1","created_at":"2023-07-19T10:01:00+08:00","from_platform":"110","channel":"ONE_KEY","status":"SIGNED","signed_at":"2023-07-19T10:00:00+08:00"}"#,
            "\n",
            r#"{"order_id":"W2","call_id":"C1","created_at":"2023-07-19T10:01:00+08:00","from_platform":"110","channel":"ONE_KEY","status":{"x":1}}"#,
            "\n",
        ),
    )
    .unwrap();
    let summary = run(&warehouse, &[calls.clone(), orders.clone()]);
    let reasons: BTreeSet<Reason> = summary.quarantined.keys().copied().collect();
    assert_eq!(reasons, Reason::ALL.into_iter().collect::<BTreeSet<_>>(), "every reason is exercised");
    assert_eq!(summary.accepted, 1);
    let rows = table_rows(&warehouse, &QUARANTINE);
    assert_eq!(rows.len() as u64, summary.quarantined.values().sum::<u64>());
    for row in &rows {
        assert!(row[1].text().is_some_and(|f| f.ends_with("calls.csv") || f.ends_with("orders.jsonl")));
        assert!(matches!(row[2], Value::Int(Some(line)) if line >= 1));
        // The analyst copy of a record never holds the raw phone or name.
        let record = row[7].text().unwrap_or_default();
        assert!(!record.contains("13800001234") && !record.contains("王建国"), "{record}");
    }
    let duplicate = rows.iter().find(|r| r[5].text() == Some("duplicate_key")).unwrap();
    assert_eq!((duplicate[2].clone(), duplicate[4].text()), (Value::Int(Some(10)), Some("call_id")));
    assert!(duplicate[7].text().unwrap().contains("王**"), "the name is masked, not dropped");
}

/// A batch from a city with area code 0935: six calls, one landline written three ways.
fn city_0935_batch(dir: &Path) -> PathBuf {
    let header = "call_id,platform,received_at,caller_phone,caller_name,caller_id_number,address,district,grid_id,lon,lat,category,counterparty,narrative,disposition,source_call_id";
    let rows = [
        ("C-1", "0935-6221234", "城关区"),
        ("C-2", "09356221234", "城关"),
        ("C-3", "6221234", "城关区"),
        ("C-4", "(0935)8123456", "凉州区"),
        ("C-5", "0931-5551234", "凉州"),
        ("C-6", "0935-7771234", "城关区"),
    ];
    let body: String = rows
        .iter()
        .map(|(id, phone, district)| {
            format!("{id},12345,2023-07-19 10:00:00,{phone},王先生,,,{district},,,,DISPUTE.CONSUMER,,来电人反映问题。,ANSWERED,\n")
        })
        .collect();
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("calls.csv");
    std::fs::write(&path, format!("{header}\n{body}")).unwrap();
    path
}

#[test]
fn a_new_warehouse_infers_its_area_code_and_districts_and_keys_a_local_landline_as_one_phone() {
    let warehouse = new_warehouse("city-0935");
    assert!(warehouse.city_profile().unwrap().is_none(), "a new warehouse has no profile yet");
    let file = city_0935_batch(&scratch("city-0935-batch"));
    run(&warehouse, &[file]);
    let profile = warehouse.city_profile().unwrap().expect("the first ingest records what it inferred");
    assert_eq!(profile.local_area_code(), Some("0935"));
    assert_eq!(profile.district_key("城关"), profile.district_key("城关区"));
    assert_ne!(profile.district_key("城关"), profile.district_key("凉州区"));
    let phone_of = |id: &str| -> String {
        let rows = table_rows(&warehouse, &CALLS);
        let row = rows.iter().find(|r| r[0].text() == Some(id)).unwrap_or_else(|| panic!("{id} missing"));
        row[3].text().unwrap().to_owned()
    };
    assert_eq!(phone_of("C-1"), phone_of("C-2"));
    assert_eq!(phone_of("C-1"), phone_of("C-3"), "a local number without its area code is the same phone");
    assert_ne!(phone_of("C-1"), phone_of("C-6"));
}

#[test]
fn a_warehouse_made_before_city_profiles_keeps_yichang_and_a_named_profile_wins_over_inference() {
    let old = new_warehouse("city-legacy");
    run(&old, &[sample().join("calls.csv")]);
    std::fs::remove_file(old.dir().join(hotline::warehouse::CITY_PROFILE)).unwrap();
    let profile = old.city_profile().unwrap().expect("a warehouse with calls has a profile");
    assert_eq!((profile.profile.as_str(), profile.local_area_code()), ("yichang", Some("0717")));

    let named = new_warehouse("city-named");
    named.set_city_profile(&hotline::city::CityProfile::builtin("shijiazhuang").unwrap()).unwrap();
    run(&named, &[city_0935_batch(&scratch("city-named-batch"))]);
    assert_eq!(named.city_profile().unwrap().unwrap().local_area_code(), Some("0311"));
}

/// Rewrites every Parquet file of a table as an earlier version wrote it: without `dropped`.
fn drop_columns(warehouse: &Warehouse, table: &str, dropped: &[&str]) -> usize {
    use datafusion::parquet::arrow::ArrowWriter;
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let mut files = Vec::new();
    let mut stack = vec![warehouse.table_dir(table)];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                files.push(path);
            }
        }
    }
    for path in &files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
        let schema = reader.schema().clone();
        let keep: Vec<usize> =
            (0..schema.fields().len()).filter(|&i| !dropped.contains(&schema.field(i).name().as_str())).collect();
        let batches: Vec<_> = reader.build().unwrap().map(|b| b.unwrap().project(&keep).unwrap()).collect();
        let old_schema = std::sync::Arc::new(schema.project(&keep).unwrap());
        let mut writer = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), old_schema, None).unwrap();
        for batch in &batches {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
    }
    files.len()
}

#[test]
fn a_warehouse_whose_calls_predate_the_normalised_columns_takes_a_new_batch_and_reads_the_old_rows() {
    let warehouse = new_warehouse("ingest-old-columns");
    let dir = scratch("ingest-old-columns-files");
    let header = "call_id,platform,received_at,caller_phone,caller_name,caller_id_number,address,district,grid_id,lon,lat,category,counterparty,narrative,disposition,source_call_id";
    let file = |name: &str, rows: &[(&str, &str, &str)]| {
        let body: String = rows
            .iter()
            .map(|(id, counterparty, narrative)| {
                format!("{id},12345,2023-07-19 10:00:00,13800001234,王建国,,,西陵区,,,,DISPUTE.CONSUMER,{counterparty},{narrative},ANSWERED,\n")
            })
            .collect();
        let path = dir.join(name);
        std::fs::write(&path, format!("{header}\n{body}")).unwrap();
        path
    };
    run(
        &warehouse,
        &[file("a.csv", &[("C-1", "陈超", "一名叫陈超的男子上门索赔"), ("C-2", "俏佳人诊所", "整形失败要求赔偿")])],
    );
    // As an earlier version left it: calls without the normalised columns, calls_pii without the raw words.
    assert!(drop_columns(&warehouse, "calls", &["district_key", "counterparty_kind", "counterparty_key"]) > 0);
    assert!(drop_columns(&warehouse, "calls_pii", &["counterparty", "narrative"]) > 0);
    let second = run(
        &warehouse,
        &[file("b.csv", &[("C-2", "西陵俏佳人整形美容医院", "整形失败再次要求赔偿"), ("C-3", "楼上邻居", "噪音扰民")])],
    );
    assert_eq!((second.accepted, second.updated), (1, 1), "{second:?}");
    let rows = crate::util::rows(
        warehouse.dir(),
        "SELECT call_id, counterparty, district_key, counterparty_kind, counterparty_key FROM calls ORDER BY call_id",
    );
    let at = |id: &str| rows.iter().find(|r| r[0] == id).unwrap_or_else(|| panic!("{id} in {rows:?}")).clone();
    // The old row reads with nulls where it has no value; the new rows carry them.
    assert_eq!(at("C-1")[2..], ["∅", "∅", "∅"]);
    assert_eq!(at("C-2")[2..], ["西陵", "organisation", "qiaojiaren/medical"]);
    assert_eq!(at("C-3")[2..], ["西陵", "role", "邻居"]);
    // The clinic of the old and of the new spelling has one key for every stage.
    let options = hotline::sql::SessionOptions { audit: false, ..Default::default() };
    let session = hotline::sql::open_session(warehouse.dir(), options).unwrap();
    let keys = hotline::sql::normalised::organisation_keys(&session).unwrap();
    assert_eq!(keys.get("西陵俏佳人整形美容医院").map(String::as_str), Some("qiaojiaren/medical"), "{keys:?}");
    // A new row's person is masked for analysts and kept raw for investigators.
    let new = file("c.csv", &[("C-4", "陈超", "当时陈超也在场")]);
    run(&warehouse, &[new]);
    assert_eq!(at_row(&warehouse, "C-4"), ("陈*".to_owned(), "当时陈*也在场".to_owned()));
}

fn at_row(warehouse: &Warehouse, id: &str) -> (String, String) {
    let rows = crate::util::rows(
        warehouse.dir(),
        &format!("SELECT counterparty, narrative FROM calls WHERE call_id = '{id}'"),
    );
    (rows[0][0].clone(), rows[0][1].clone())
}
