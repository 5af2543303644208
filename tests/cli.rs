//! The `hotline` binary end to end: generate, validate and demo as a user runs them.

use std::process::Command;

use crate::util::scratch;

fn hotline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotline"))
}

#[test]
fn demo_generates_validates_and_prints_the_headline_figures() {
    let dir = scratch("cli-demo");
    let output = hotline().args(["demo", "--calls", "20000", "--dir"]).arg(&dir).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for expected in
        ["双非占比", "分流率", "3分钟签收率", "满意率", "extortion_ring", "rejections matching truth/malformed.csv"]
    {
        assert!(stdout.contains(expected), "missing {expected}:\n{stdout}");
    }
    assert!(dir.join("batch/calls.csv").exists());
}

#[test]
fn validate_exits_1_when_rows_break_the_contract_and_2_on_an_unreadable_file() {
    let dir = scratch("cli-validate");
    let generated = hotline()
        .args(["generate", "--calls", "3000", "--seed", "4", "--malformed-rate", "0.02", "--out"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(generated.status.success());
    let checked = hotline().arg("validate").arg(dir.join("calls.csv")).output().unwrap();
    assert_eq!(checked.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&checked.stdout).contains("rejected"));
    let clean = hotline()
        .args(["generate", "--calls", "500", "--malformed-rate", "0", "--out"])
        .arg(dir.join("clean"))
        .output()
        .unwrap();
    assert!(clean.status.success());
    assert_eq!(hotline().arg("validate").arg(dir.join("clean/work_orders.csv")).status().unwrap().code(), Some(0));
    let missing = hotline().arg("validate").arg(dir.join("nope.csv")).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.csv"));
}

#[test]
fn bad_settings_are_refused_with_a_message() {
    let dir = scratch("cli-bad");
    let output = hotline().args(["generate", "--days", "0", "--out"]).arg(&dir).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--days"));
}
