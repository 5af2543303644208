//! The `hotline` binary end to end: generate, validate and demo as a user runs them.

use std::process::Command;

use crate::util::scratch;

fn hotline() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hotline"))
}

#[test]
fn demo_generates_validates_and_prints_the_headline_figures() {
    let dir = scratch("cli-demo");
    // The demo's own key file is under test: a key in the environment would stand in for it.
    let output =
        hotline().args(["demo", "--calls", "20000", "--dir"]).arg(&dir).env_remove("HOTLINE_KEY").output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    for expected in
        ["双非占比", "分流率", "3分钟签收率", "满意率", "extortion_ring", "rejections matching truth/malformed.csv"]
    {
        assert!(stdout.contains(expected), "missing {expected}:\n{stdout}");
    }
    assert!(dir.join("batch/calls.csv").exists());
    assert!(dir.join("warehouse/calls").exists());
    // It ends with the command that serves its warehouse and a demo user whose password works.
    assert!(stdout.contains(&format!("hotline serve --warehouse {}", dir.join("warehouse").display())), "{stdout}");
    let password = stdout.split("with the password ").nth(1).and_then(|r| r.split(';').next()).unwrap();
    let users = hotline::serve::users::Users::load(&dir.join("warehouse/users.toml")).unwrap();
    assert_eq!(users.verify("demo", password).map(|u| u.role.as_str()), Some("investigator"));
    // Run again in the same folder: a fresh warehouse, the same key.
    let key = std::fs::read_to_string(dir.join("warehouse.key")).unwrap();
    let again =
        hotline().args(["demo", "--calls", "20000", "--dir"]).arg(&dir).env_remove("HOTLINE_KEY").output().unwrap();
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

#[test]
fn sql_runs_one_statement_in_every_format_and_refuses_writes_with_exit_2() {
    let warehouse = crate::util::sample_warehouse();
    let run = |args: &[&str]| hotline().arg("sql").args(args).arg("--warehouse").arg(&warehouse).output().unwrap();
    let table =
        run(&["SELECT category_name(category) AS 类别, COUNT(*) AS n FROM calls GROUP BY 1 ORDER BY 2 DESC LIMIT 3"]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(table.status.success(), "{text}{}", String::from_utf8_lossy(&table.stderr));
    assert!(text.contains("类别") && text.contains("(3 rows)"), "{text}");
    let csv =
        run(&["SELECT district, COUNT(*) AS n FROM calls GROUP BY district ORDER BY district", "--format", "csv"]);
    let csv_text = String::from_utf8_lossy(&csv.stdout);
    assert!(csv_text.starts_with("district,n\n"), "{csv_text}");
    let jsonl = run(&["SELECT 1 AS a UNION ALL SELECT 2", "--format", "jsonl"]);
    assert_eq!(String::from_utf8_lossy(&jsonl.stdout).lines().count(), 2);
    let out = scratch("cli-sql-out").join("r.parquet");
    let parquet = run(&["SELECT * FROM work_orders", "--format", "parquet", "--out", out.to_str().unwrap()]);
    assert!(parquet.status.success() && std::fs::metadata(&out).unwrap().len() > 1000);
    let refused = run(&["DROP TABLE calls"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refused"));
}

#[test]
fn sql_exits_0_when_the_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let warehouse = crate::util::sample_warehouse();
    let mut child = hotline()
        .args(["sql", "SELECT * FROM calls a, calls b", "--format", "csv", "--warehouse"])
        .arg(&warehouse)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("call_id,"));
    // The pipe is closed here, as `| head -1` would.
    let status = child.wait().unwrap();
    assert!(status.success(), "exit {status:?}");
}

#[test]
fn named_queries_are_listed_shown_and_run_with_parameters() {
    let warehouse = crate::util::sample_warehouse();
    let list = hotline().args(["query", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("headline_summary"));
    let show = hotline().args(["query", "show", "headline_summary"]).output().unwrap();
    assert!(String::from_utf8_lossy(&show.stdout).contains("from_month"));
    let all = hotline()
        .args(["query", "run", "headline_summary", "--format", "csv", "--warehouse"])
        .arg(&warehouse)
        .output()
        .unwrap();
    let july = hotline()
        .args([
            "query",
            "run",
            "headline_summary",
            "-p",
            "from_month=2023-07",
            "-p",
            "to_month=2023-07",
            "--format",
            "csv",
        ])
        .arg("--warehouse")
        .arg(&warehouse)
        .output()
        .unwrap();
    assert!(all.status.success() && july.status.success(), "{}", String::from_utf8_lossy(&july.stderr));
    assert_ne!(all.stdout, july.stdout, "the month range changes the figures");
    let unknown = hotline().args(["query", "run", "headline_summary", "-p", "nope=1"]).output().unwrap();
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn the_shell_reads_multi_line_statements_and_backslash_commands() {
    use std::io::Write;
    use std::process::Stdio;
    let warehouse = crate::util::sample_warehouse();
    let home = scratch("cli-shell-home");
    let mut child = hotline()
        .args(["sql", "--warehouse"])
        .arg(&warehouse)
        .env("HOME", &home)
        .env_remove("XDG_STATE_HOME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let script = "\\d\n\\d work_orders\nSELECT COUNT(*)\n  AS orders_total\n  FROM work_orders;\nDROP TABLE calls;\n\\format csv\nSELECT 1 AS one;\n\\q\n";
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("quarantine") && stdout.contains("categories"), "\\d lists tables:\n{stdout}");
    assert!(stdout.contains("satisfaction") && stdout.contains("Timestamp"), "\\d work_orders:\n{stdout}");
    assert!(stdout.contains("orders_total"), "the multi-line statement ran:\n{stdout}");
    assert!(stderr.contains("refused"), "the DROP was refused and the shell went on:\n{stderr}");
    assert!(stdout.contains("one\n1\n"), "\\format csv took effect:\n{stdout}");
    let history = std::fs::read_to_string(home.join(".local/state/hotline/sql_history")).unwrap_or_default();
    assert!(history.contains("orders_total"), "history is kept:\n{history}");
}

#[test]
fn audit_verify_passes_an_untouched_log_and_names_the_first_edited_record() {
    let warehouse = scratch("cli-audit").join("wh");
    let init = hotline().env_remove("HOTLINE_KEY").args(["init", "--warehouse"]).arg(&warehouse).output().unwrap();
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    for sql in ["SELECT 1", "SELECT 2", "DROP TABLE calls", "SELECT 3"] {
        hotline().env_remove("HOTLINE_KEY").args(["sql", sql, "--warehouse"]).arg(&warehouse).output().unwrap();
    }
    let verify = || {
        hotline().env_remove("HOTLINE_KEY").args(["audit", "verify", "--warehouse"]).arg(&warehouse).output().unwrap()
    };
    let good = verify();
    let text = String::from_utf8_lossy(&good.stdout);
    assert!(good.status.success(), "{text}{}", String::from_utf8_lossy(&good.stderr));
    assert!(text.contains("4 record(s) in 1 file(s) verified: 4 keyed"), "{text}");
    // Someone who can write the file hides the refused DROP.
    let log = warehouse.join("audit/queries.jsonl");
    let edited = std::fs::read_to_string(&log).unwrap().replace("\"outcome\":\"refused\"", "\"outcome\":\"ok\"");
    std::fs::write(&log, edited).unwrap();
    let bad = verify();
    let text = String::from_utf8_lossy(&bad.stdout);
    assert_eq!(bad.status.code(), Some(1), "{text}");
    assert!(text.contains("line 3") && text.contains("record 2 was edited"), "{text}");
    // Without the key there is nothing to verify against.
    let key = warehouse.with_file_name("wh.key");
    std::fs::rename(&key, key.with_extension("moved")).unwrap();
    let keyless = verify();
    assert!(!keyless.status.success());
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("needs the warehouse key"));
}
