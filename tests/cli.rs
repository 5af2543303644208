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
    assert!(dir.join("warehouse/calls").exists());
    // Run again in the same folder: a fresh warehouse, the same key.
    let key = std::fs::read_to_string(dir.join("warehouse.key")).unwrap();
    let again = hotline().args(["demo", "--calls", "20000", "--dir"]).arg(&dir).output().unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(dir.join("warehouse.key")).unwrap(), key);
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

#[test]
fn init_lays_out_a_warehouse_with_a_private_key_beside_it_and_refuses_twice() {
    let root = scratch("cli-init");
    let warehouse = root.join("wh");
    let output = hotline().env_remove("HOTLINE_KEY").args(["init", "--warehouse"]).arg(&warehouse).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(warehouse.join(hotline::warehouse::MARKER).exists());
    let key_file = root.join("wh.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64);
    assert!(!String::from_utf8_lossy(&output.stdout).contains(key.trim()), "the key is never printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let again = hotline().env_remove("HOTLINE_KEY").args(["init", "--warehouse"]).arg(&warehouse).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already a hotline warehouse"));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key, "the key is not replaced");

    let occupied = root.join("occupied");
    std::fs::create_dir_all(&occupied).unwrap();
    std::fs::write(occupied.join("notes.txt"), "x").unwrap();
    let refused = hotline().env_remove("HOTLINE_KEY").args(["init", "--warehouse"]).arg(&occupied).output().unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not empty"));

    let from_env = root.join("env-wh");
    let with_env =
        hotline().env("HOTLINE_KEY", "ab".repeat(32)).args(["init", "--warehouse"]).arg(&from_env).output().unwrap();
    assert!(with_env.status.success());
    assert!(!root.join("env-wh.key").exists(), "no key file when the key comes from the environment");
    let bad_env = hotline()
        .env("HOTLINE_KEY", "secret-but-short")
        .args(["init", "--warehouse"])
        .arg(root.join("bad"))
        .output()
        .unwrap();
    assert_eq!(bad_env.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad_env.stderr);
    assert!(stderr.contains("HOTLINE_KEY") && !stderr.contains("secret-but-short"), "{stderr}");
}
