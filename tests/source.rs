//! Reading export files: bad files are refused with the file and cause named, bad rows are named by line, nothing panics.

use std::io::Write;

use hotline::contract::{Reason, Table};
use hotline::source::{SourceError, validate_file};

use crate::util::{reference_batch, scratch};

const HEADER: &str = "call_id,platform,received_at,caller_phone,category,narrative,disposition";

fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = scratch("source").parent().unwrap().join(name);
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    path
}

#[test]
fn csv_with_bom_labels_and_extra_columns_is_read_and_unknown_columns_reported() {
    let text = format!(
        "\u{feff}{HEADER},remark\nC1,110,2023-07-19 13:02:11,,噪声扰民,楼上装修噪音,转办,x\nC2,12345,2023-07-19T05:02:11Z,138,CONSULT.POLICY,问社保,ANSWERED,\n"
    );
    let path = write("bom.csv", text.as_bytes());
    let reader = hotline::source::SourceReader::open(&path, None).unwrap();
    assert_eq!(reader.table(), Table::Calls);
    assert!(reader.unknown_columns().contains("remark"));
    let outcome = validate_file(&path, None, |_| {}).unwrap();
    assert_eq!((outcome.rows, outcome.valid), (2, 2));
}

#[test]
fn bad_rows_are_named_by_line_and_the_rest_goes_on() {
    let text = format!(
        "{HEADER}\nC1,110,2023-07-19 13:02:11,,噪声扰民,\"楼上装修, 噪音\",转办\nC2,110,2023-07-19 25:00:00,,噪声扰民,x,转办\nC3,110,2023-07-19 13:02:11,,噪声扰民,x\nC1,110,2023-07-19 13:02:11,,噪声扰民,\"楼上装修, 噪音\",转办\nC1,110,2023-07-19 13:02:12,,噪声扰民,other,转办\nC4,110,2023-07-19 13:02:11,,噪声扰民,x,转办\n"
    );
    let path = write("rows.csv", text.as_bytes());
    let outcome = validate_file(&path, None, |_| {}).unwrap();
    let found: Vec<(u64, Reason)> = outcome.rejected.iter().map(|r| (r.line, r.violation.reason)).collect();
    assert_eq!(found, vec![(3, Reason::BadTimestamp), (4, Reason::MalformedRecord), (6, Reason::DuplicateKey)]);
    assert_eq!((outcome.rows, outcome.valid, outcome.unchanged_duplicates), (6, 2, 1));
    assert_eq!(outcome.rows, outcome.valid + outcome.unchanged_duplicates + outcome.rejected.len() as u64);
}

#[test]
fn a_missing_required_column_refuses_the_file_naming_it() {
    let path = write("missing.csv", b"call_id,platform,received_at,narrative\nC1,110,2023-07-19 13:02:11,x\n");
    let error = validate_file(&path, Some(Table::Calls), |_| {}).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SourceError::MissingColumns { .. }));
    assert!(
        message.contains("missing.csv") && message.contains("category") && message.contains("caller_phone"),
        "{message}"
    );
}

#[test]
fn empty_truncated_corrupt_and_non_utf8_files_are_refused_with_the_file_named() {
    let parquet = std::fs::read(reference_batch().join("calls.csv")).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.csv", Vec::new()),
        ("empty.jsonl", Vec::new()),
        ("empty.parquet", Vec::new()),
        ("garbage.parquet", b"PAR1 this is not parquet".to_vec()),
        ("csv-in-disguise.parquet", parquet[..4096].to_vec()),
        ("latin1.csv", [HEADER.as_bytes(), b"\nC1,110,2023-07-19 13:02:11,,\xe9\xe9,x,ANSWERED\n"].concat()),
        ("unknown.csv", b"a,b\n1,2\n".to_vec()),
        ("notes.txt", b"hello".to_vec()),
    ];
    for (name, bytes) in cases {
        let path = write(name, &bytes);
        let error = validate_file(&path, None, |_| {}).expect_err(name);
        assert!(error.to_string().contains(name), "{name}: {error}");
    }
}

#[test]
fn a_truncated_parquet_file_is_an_error_not_a_panic() {
    let dir = crate::util::batch("fmt-Parquet", 30_000, 11, hotline::generate::OutputFormat::Parquet, true);
    let bytes = std::fs::read(dir.join("calls.parquet")).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 5, 100] {
        let path = write("truncated.parquet", &bytes[..cut]);
        let result = validate_file(&path, None, |_| {});
        assert!(result.is_err(), "cut at {cut}");
        assert!(result.unwrap_err().to_string().contains("truncated.parquet"));
    }
}

#[test]
fn json_lines_accept_missing_keys_numbers_and_report_bad_lines() {
    let text = concat!(
        r#"{"call_id":"J1","platform":110,"received_at":"2023-07-19T13:02:11+08:00","category":"CRIM.THEFT","narrative":"电动车被盗","disposition":"出警","lon":111.3,"lat":30.7}"#,
        "\n\n",
        r#"{"call_id":"J2","platform":"110","received_at":"2023-07-19T13:02:11+08:00","category":"CRIM.THEFT","narrative":{"x":1},"disposition":"出警"}"#,
        "\n",
        r#"{"call_id":"J3","platform":"110""#,
        "\n[1,2]\n",
    );
    let path = write("lines.jsonl", text.as_bytes());
    let outcome = validate_file(&path, None, |_| {}).unwrap();
    let found: Vec<(u64, Reason)> = outcome.rejected.iter().map(|r| (r.line, r.violation.reason)).collect();
    assert_eq!(found, vec![(3, Reason::BadType), (4, Reason::MalformedRecord), (5, Reason::MalformedRecord)]);
    assert_eq!(outcome.valid, 1);
}
