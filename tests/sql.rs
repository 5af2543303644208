//! SQL: the session over a warehouse, read-only rules, hostile queries, roles, audit, named queries.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::Int64Type;
use hotline::figures::HeadlineCounts;
use hotline::source::{ValidRow, validate_file};
use hotline::sql::audit::{AUDIT_DIR, AUDIT_FILE};
use hotline::sql::{Role, Session, SessionOptions, SqlError, open_session, queries};

use crate::util::{sample_warehouse, scratch};

fn session(role: Role) -> Session {
    open_session(&sample_warehouse(), SessionOptions { role, ..SessionOptions::default() }).unwrap()
}

fn scalar_i64(session: &Session, sql: &str) -> i64 {
    let (_, batches) = session.collect(sql).unwrap();
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[test]
fn every_warehouse_table_is_queryable_with_its_month_partition() {
    let s = session(Role::Analyst);
    assert_eq!(
        scalar_i64(&s, "SELECT COUNT(*) FROM calls"),
        scalar_i64(&s, "SELECT SUM(accepted) - (SELECT COUNT(*) FROM work_orders) FROM ingest_batches")
    );
    assert!(scalar_i64(&s, "SELECT COUNT(*) FROM calls WHERE month = '2023-07'") > 0);
    assert!(scalar_i64(&s, "SELECT COUNT(*) FROM quarantine") > 0);
    assert_eq!(
        scalar_i64(&s, "SELECT COUNT(*) FROM (SELECT call_id FROM calls GROUP BY call_id HAVING COUNT(*) > 1)"),
        0
    );
    assert_eq!(scalar_i64(&s, "SELECT COUNT(*) FROM categories WHERE is_police_matter(code) <> police_matter"), 0);
}

#[test]
fn describe_lists_a_tables_columns_and_hides_personal_ones_from_analysts() {
    let s = session(Role::Analyst);
    let (_, batches) = s.collect("DESCRIBE calls").unwrap();
    let names: Vec<String> = batches
        .iter()
        .flat_map(|b| {
            let column = b.column(0).as_string_view_opt().map(|a| a.iter().flatten().map(str::to_owned).collect());
            column.unwrap_or_else(|| {
                b.column(0).as_string::<i32>().iter().flatten().map(str::to_owned).collect::<Vec<_>>()
            })
        })
        .collect();
    assert!(names.iter().any(|n| n == "phone_key"), "{names:?}");
    assert!(!names.iter().any(|n| n == "phone" || n == "name"), "{names:?}");
    assert!(s.collect("DESCRIBE calls_pii").is_err());
}

fn refused(session: &Session, sql: &str) -> bool {
    matches!(session.collect(sql), Err(SqlError::Refused(_)))
}

#[test]
fn writes_ddl_copy_and_set_are_refused() {
    let s = session(Role::Analyst);
    for sql in [
        "CREATE TABLE t AS SELECT 1",
        "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/tmp'",
        "CREATE VIEW v AS SELECT 1",
        "DROP TABLE calls",
        "INSERT INTO calls SELECT * FROM calls",
        "DELETE FROM calls",
        "UPDATE calls SET district = NULL",
        "COPY calls TO '/tmp/stolen.parquet'",
        "SET datafusion.execution.target_partitions = 1",
        "SELECT 1; DROP TABLE calls",
    ] {
        assert!(refused(&s, sql), "{sql}");
    }
    assert!(scalar_i64(&s, "SELECT COUNT(*) FROM calls") > 0, "the session still works");
}

#[test]
fn hostile_queries_end_in_an_error_and_the_process_lives_on() {
    let s = session(Role::Analyst);
    let ors = (0..5000).map(|i| format!("call_id = 'x{i}'")).collect::<Vec<_>>().join(" OR ");
    let unions = vec!["SELECT call_id FROM calls"; 3000].join(" UNION ALL ");
    let nested = format!("SELECT {}1{} AS x", "(".repeat(2000), ")".repeat(2000));
    let deep_case = format!("SELECT {} 1 {}", "CASE WHEN true THEN ".repeat(300), " END".repeat(300));
    for sql in [
        format!("SELECT COUNT(*) FROM calls WHERE {ors}"),
        unions,
        nested,
        deep_case,
        "SELECT repeat('x', 2000000000)".to_owned(),
        "SELECT length(repeat(narrative, 1000000)) FROM calls".to_owned(),
        "SELECT lpad('x', 2000000000)".to_owned(),
        "SELECT array_repeat(1, 2000000000)".to_owned(),
        "SELECT * FROM '/etc/passwd'".to_owned(),
        format!("SELECT * FROM '{}'", Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample/calls.csv").display()),
        "SELECT * FROM read_parquet('/tmp/x.parquet')".to_owned(),
    ] {
        let outcome = s.collect(&sql);
        assert!(outcome.is_err(), "{}… ran", &sql[..sql.len().min(60)]);
    }
    assert_eq!(scalar_i64(&s, "SELECT 40 + 2"), 42);
}

#[test]
fn under_a_chosen_memory_limit_joins_are_planned_to_spill_and_give_the_same_rows() {
    let join = "SELECT c.call_id, w.order_id, w.department FROM calls c JOIN work_orders w ON w.call_id = c.call_id \
                ORDER BY c.call_id, w.order_id";
    let open = |spill_joins: bool| {
        let options = SessionOptions { memory_limit: Some(256 << 20), spill_joins, ..SessionOptions::default() };
        open_session(&sample_warehouse(), options).unwrap()
    };
    let plan = |s: &Session| -> String {
        let (_, batches) = s.collect(&format!("EXPLAIN {join}")).unwrap();
        to_csv(&batches)
    };
    let (hashed, spilling) = (open(false), open(true));
    assert!(plan(&hashed).contains("HashJoinExec"), "{}", plan(&hashed));
    assert!(plan(&spilling).contains("SortMergeJoin"), "{}", plan(&spilling));
    let rows = |s: &Session| to_csv(&s.collect(join).unwrap().1);
    let same = rows(&hashed);
    assert!(same.lines().count() > 100, "the sample's calls have work orders");
    assert_eq!(rows(&spilling), same);
}

#[test]
fn a_query_past_its_time_limit_is_stopped() {
    let options = SessionOptions { timeout: std::time::Duration::from_millis(200), ..SessionOptions::default() };
    let s = open_session(&sample_warehouse(), options).unwrap();
    let slow = "SELECT COUNT(*) FROM generate_series(1, 1000000000000) AS t(x) WHERE x % 7 = 3";
    assert!(matches!(s.collect(slow), Err(SqlError::Timeout(_))));
    assert_eq!(scalar_i64(&s, "SELECT 1"), 1);
}

#[test]
fn analysts_cannot_reach_personal_data_and_investigators_can() {
    let analyst = session(Role::Analyst);
    for sql in [
        "SELECT * FROM calls_pii",
        "SELECT * FROM calls_pii_history",
        "SELECT * FROM quarantine_pii",
        "SELECT * FROM audit_log",
        "SELECT caller_phone FROM calls",
        "SELECT caller_id_number FROM calls",
        "SELECT caller_name FROM calls",
    ] {
        assert!(analyst.collect(sql).is_err(), "{sql} ran for an analyst");
    }
    let (_, tables) = analyst.collect("SELECT table_name FROM information_schema.tables").unwrap();
    let names: Vec<String> = tables
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(|i| b.column(0).as_string::<i32>().value(i).to_owned()).collect::<Vec<_>>())
        .collect();
    assert!(names.contains(&"calls".to_owned()));
    assert!(!names.iter().any(|n| n.contains("pii") || n == "audit_log"), "{names:?}");
    assert!(analyst.collect("SELECT name_pinyin FROM calls").is_err());
    let investigator = session(Role::Investigator);
    assert!(scalar_i64(&investigator, "SELECT COUNT(*) FROM calls_pii") > 0);
    // Matching features derived at ingest sit beside the raw values.
    assert!(scalar_i64(&investigator, "SELECT COUNT(*) FROM calls_pii WHERE name_pinyin IS NOT NULL") > 0);
    assert_eq!(
        scalar_i64(&investigator, "SELECT COUNT(*) FROM calls c JOIN calls_pii p USING (call_id)"),
        scalar_i64(&investigator, "SELECT COUNT(*) FROM calls")
    );
}

#[test]
fn every_query_is_audited_without_raw_numbers() {
    let dir = scratch("sql-audit").join("wh");
    hotline::warehouse::init(&dir).unwrap();
    let s = open_session(&dir, SessionOptions { role: Role::Investigator, ..SessionOptions::default() }).unwrap();
    s.collect("SELECT 1 AS one").unwrap();
    assert!(s.collect("SELECT * FROM calls_pii WHERE phone_canonical = '13812345678'").is_ok());
    assert!(s.collect("DROP TABLE calls").is_err());
    assert!(s.collect("SELECT nonsense FROM nowhere").is_err());
    let log = std::fs::read_to_string(dir.join(AUDIT_DIR).join(AUDIT_FILE)).unwrap();
    let records: Vec<serde_json::Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let outcomes: Vec<&str> = records.iter().map(|r| r["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["ok", "ok", "refused", "error"]);
    assert!(
        records.iter().all(|r| r["role"] == "investigator" && r["os_user"].as_str().is_some_and(|u| !u.is_empty()))
    );
    assert_eq!(records[0]["rows"], 1);
    assert!(!log.contains("13812345678"), "a raw phone reached the audit log");
    // The investigator can read the log in SQL.
    let again = open_session(&dir, SessionOptions { role: Role::Investigator, ..SessionOptions::default() }).unwrap();
    assert_eq!(scalar_i64(&again, "SELECT COUNT(*) FROM audit_log WHERE outcome = 'refused'"), 1);
}

fn to_csv(batches: &[RecordBatch]) -> String {
    let mut out = Vec::new();
    {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(true).build(&mut out);
        for batch in batches {
            writer.write(batch).unwrap();
        }
    }
    String::from_utf8(out).unwrap()
}

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/queries")
}

/// Every named query on the committed sample, against its snapshot (HOTLINE_UPDATE_SNAPSHOTS=1 rewrites them).
#[test]
fn every_named_query_matches_its_snapshot_on_the_sample() {
    let s = session(Role::Analyst);
    let update = std::env::var_os("HOTLINE_UPDATE_SNAPSHOTS").is_some();
    let mut failures = Vec::new();
    for query in queries::all().unwrap().values() {
        let sql = query.bind(&[]).unwrap();
        let (schema, batches) = s.collect(&sql).unwrap_or_else(|e| panic!("{}: {e}", query.name));
        let csv = if batches.is_empty() {
            let header: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            format!("{}\n", header.join(","))
        } else {
            to_csv(&batches)
        };
        let path = snapshot_dir().join(format!("{}.csv", query.name));
        if update {
            std::fs::create_dir_all(snapshot_dir()).unwrap();
            std::fs::write(&path, &csv).unwrap();
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == csv => {}
            Ok(_) => failures.push(format!("{}: differs from {}", query.name, path.display())),
            Err(_) => failures.push(format!("{}: no snapshot {}", query.name, path.display())),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Each named query as a table function gives the rows of the query itself (as a set: a table's
/// rows have no order), with its defaults and with arguments; bad calls say what is wrong.
#[test]
fn every_named_query_is_a_table_function_with_the_same_rows() {
    let s = session(Role::Analyst);
    let sorted = |batches: &[RecordBatch]| {
        let mut lines: Vec<String> = to_csv(batches).lines().map(str::to_owned).collect();
        lines.sort();
        lines
    };
    for query in queries::all().unwrap().values() {
        let (_, direct) = s.collect(&query.bind(&[]).unwrap()).unwrap();
        let (_, function) = s.collect(&format!("SELECT * FROM q_{}()", query.name)).unwrap();
        assert_eq!(sorted(&function), sorted(&direct), "{}", query.name);
    }
    let bound = queries::find("daily_volume").unwrap();
    let values = [("from_month".to_owned(), "2023-07".to_owned()), ("to_month".to_owned(), "2023-07".to_owned())];
    let (_, direct) = s.collect(&bound.bind(&values).unwrap()).unwrap();
    let (_, function) = s.collect("SELECT * FROM q_daily_volume('2023-07', '2023-07')").unwrap();
    assert_eq!(sorted(&function), sorted(&direct));
    assert_eq!(direct.iter().map(|b| b.num_rows()).sum::<usize>(), 31, "the days of July");
    // NULL takes the default.
    let (_, defaulted) = s.collect("SELECT * FROM q_daily_volume(NULL, '2023-07')").unwrap();
    assert!(defaulted.iter().map(|b| b.num_rows()).sum::<usize>() > 31);
    for (sql, says) in [
        ("SELECT * FROM q_daily_volume('2023-01', '2023-02', '', 'extra')", "at most 3"),
        ("SELECT * FROM q_daily_volume(month)", "must be a literal"),
        ("SELECT * FROM q_no_such_query()", "q_no_such_query"),
    ] {
        let error = s.collect(sql).unwrap_err().to_string();
        assert!(error.contains(says), "{sql}: {error}");
    }
}

/// The headline figures from SQL equal those counted in plain Rust over the raw sample files.
#[test]
fn headline_figures_in_sql_match_an_independent_count() {
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    // The repeat rule counts by person: the true person of the generator's truth here, the
    // resolved entity in SQL.
    let person = hotline::eval::resolve::read_truth(&sample.join("truth/call_person.csv")).unwrap();
    let mut counts = HeadlineCounts::default();
    validate_file(&sample.join("calls.csv"), None, |row| {
        if let ValidRow::Call(call) = row {
            counts.add_call(&call, person.get(&call.call_id).map(String::as_str));
        }
    })
    .unwrap();
    validate_file(&sample.join("work_orders.csv"), None, |row| {
        if let ValidRow::WorkOrder(order) = row {
            counts.add_order(&order);
        }
    })
    .unwrap();
    let independent: BTreeMap<&str, (u64, u64)> =
        counts.figures().iter().map(|f| (f.name, (f.numerator, f.denominator))).collect();
    let s = session(Role::Analyst);
    let sql = queries::find("headline_summary").unwrap().bind(&[]).unwrap();
    let (_, batches) = s.collect(&sql).unwrap();
    let mut from_sql = BTreeMap::new();
    for batch in &batches {
        for i in 0..batch.num_rows() {
            let name = batch.column(0).as_string::<i32>().value(i).to_owned();
            let numerator = batch.column(2).as_primitive::<Int64Type>().value(i) as u64;
            let denominator = batch.column(3).as_primitive::<Int64Type>().value(i) as u64;
            from_sql.insert(name, (numerator, denominator));
        }
    }
    for (name, expected) in &independent {
        let got = from_sql.get(*name).copied();
        if *name == "repeat_call_rate" {
            // SQL counts by resolved entity, plain Rust by the true person: resolution is not perfect.
            let (n, d) = got.unwrap();
            assert_eq!(d, expected.1, "original calls");
            assert!(
                (n as f64 - expected.0 as f64).abs() <= expected.0 as f64 * 0.05 + 2.0,
                "{name}: {n} vs {:?}",
                expected
            );
        } else {
            assert_eq!(got, Some(*expected), "{name}");
        }
    }
}

#[test]
fn analyst_functions_do_what_their_help_says() {
    let s = session(Role::Analyst);
    let (_, b) = s
        .collect(
            "SELECT normalize_phone('+86 138-1234-5678') AS p, text_sim('医美纠纷', '医美纠纷') AS same, \
             category_name('CRIM.THEFT') AS name, is_police_matter('CRIM.THEFT') AS police, \
             grid_cell(111.29, 30.70, 500) AS cell, local_date(TIMESTAMP '2023-07-31T16:30:00Z') AS day",
        )
        .unwrap();
    let row = &b[0];
    assert_eq!(row.column(0).as_string::<i32>().value(0), "13812345678");
    assert_eq!(row.column(1).as_primitive::<datafusion::arrow::datatypes::Float64Type>().value(0), 1.0);
    assert_eq!(row.column(2).as_string::<i32>().value(0), "盗窃");
    assert!(row.column(3).as_boolean().value(0));
    assert!(row.column(4).as_string::<i32>().value(0).starts_with("500m:"));
    assert_eq!(row.column(5).as_primitive::<datafusion::arrow::datatypes::Date32Type>().value(0), 19570, "2023-08-01");
    assert!(row.column(0).is_valid(0));
}
