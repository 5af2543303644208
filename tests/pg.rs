//! The PostgreSQL endpoint (`hotline serve --pg`) through Debian's `psql` against a server on
//! 127.0.0.1:0: the same answers as `hotline query run`, SCRAM sign-in and its refusals, roles down
//! to the catalogue, the read-only guard, size limits, TLS (offered and required), the connection
//! limit, and the audit record of every statement.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hotline::serve::pg::{PgConfig, PgServer, bind_pg};
use hotline::serve::users::Users;
use hotline::sql::Role;
use hotline::sql::audit::{AUDIT_DIR, AUDIT_FILE};
use serde_json::Value;

use crate::util::{copy_dir, sample_warehouse, scratch, serve_in_thread};

/// The resolved sample in a folder of its own (the endpoint appends to its audit log), with an
/// analyst `li` and an investigator `wang`.
fn warehouse() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = scratch("pg-sample").join("wh");
        copy_dir(&sample_warehouse(), &dir);
        let mut users = Users::default();
        users.add("li", Role::Analyst, "analyst password").unwrap();
        users.add("wang", Role::Investigator, "investigator password").unwrap();
        users.save(&hotline::serve::users::default_users_file(&dir)).unwrap();
        dir
    })
    .clone()
}

/// Starts an endpoint in a thread of its own; its port, or why it did not start.
fn start_with(change: impl FnOnce(&mut PgConfig)) -> Result<u16, String> {
    let dir = warehouse();
    let mut config = PgConfig::new(&dir);
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.query_timeout = Duration::from_secs(60);
    change(&mut config);
    let users = Users::load(&hotline::serve::users::default_users_file(&dir)).unwrap();
    let server = Arc::new(PgServer::open(config, users).map_err(|e| e.to_string())?);
    serve_in_thread(move |tx| async move {
        match bind_pg(server).await {
            Ok(bound) => {
                tx.send(Ok(bound.address.port())).unwrap();
                bound.serve(std::future::pending()).await.unwrap();
            }
            Err(e) => tx.send(Err(e.to_string())).unwrap(),
        }
    })
}

pub(crate) fn port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| start_with(|_| {}).unwrap())
}

/// What psql printed and whether it succeeded.
struct Psql {
    ok: bool,
    out: String,
    err: String,
}

/// Runs `psql` (CSV output, no prompt for a password) as a user with a password, if any; the
/// SQL goes in on standard input, so a statement may be larger than a command line.
fn psql_at(port: u16, user: &str, password: Option<&str>, ssl: &str, sql: &str) -> Psql {
    use std::io::Write;
    let mut command = Command::new("psql");
    command
        .arg(format!("host=127.0.0.1 port={port} user={user} dbname=hotline sslmode={ssl} connect_timeout=30"))
        .args(["--no-psqlrc", "-w", "-X", "-q", "--csv", "-v", "ON_ERROR_STOP=1", "-f", "-"])
        .env_remove("PGPASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let mut child = command.spawn().expect("psql runs (Debian's postgresql-client; scripts/test.sh installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let text = format!("{sql};\n");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(text.as_bytes());
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    Psql {
        ok: out.status.success(),
        out: String::from_utf8_lossy(&out.stdout).into_owned(),
        err: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// CSV lines as sorted rows of fields, numbers compared as numbers (PostgreSQL writes a float 0
/// as `0` and booleans as `t` / `f`, `hotline sql` as `0.0` and `true` / `false`); a table
/// function's rows come in no promised order.
fn same_rows(a: &str, b: &str) {
    let rows = |text: &str| -> Vec<Vec<String>> {
        let mut lines = text.trim_end().lines();
        let header = lines.next().unwrap_or_default().to_owned();
        let mut rows: Vec<Vec<String>> = lines
            .map(|l| {
                l.split(',')
                    .map(|f| match (f.parse::<f64>(), f) {
                        (Ok(x), _) => format!("{x:.6}"),
                        (_, "t") => "true".to_owned(),
                        (_, "f") => "false".to_owned(),
                        _ => f.to_owned(),
                    })
                    .collect()
            })
            .collect();
        rows.sort();
        rows.insert(0, vec![header]);
        rows
    };
    assert_eq!(rows(a), rows(b));
}

fn analyst(sql: &str) -> Psql {
    psql_at(port(), "li", Some("analyst password"), "disable", sql)
}

fn investigator(sql: &str) -> Psql {
    psql_at(port(), "wang", Some("investigator password"), "disable", sql)
}

fn hotline(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hotline")).args(args).arg("--warehouse").arg(dir).output().unwrap();
    assert!(out.status.success(), "hotline {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn audit_records(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join(AUDIT_DIR).join(AUDIT_FILE)).unwrap_or_default();
    text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Waits for the audit record of a statement (records are written once the answer is sent).
fn audited(dir: &Path, user: &str, sql_part: &str) -> Value {
    for _ in 0..100 {
        let found = audit_records(dir)
            .into_iter()
            .rev()
            .find(|r| r["os_user"] == user && r["sql"].as_str().is_some_and(|s| s.contains(sql_part)));
        if let Some(record) = found {
            return record;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no audit record of {user} for {sql_part:?}");
}

#[test]
fn a_named_query_over_psql_gives_the_rows_of_hotline_query_run() {
    let dir = warehouse();
    let expected = hotline(&dir, &["query", "run", "daily_volume", "--format", "csv"]);
    let got = analyst("SELECT * FROM q_daily_volume()");
    assert!(got.ok, "{}", got.err);
    assert!(expected.lines().count() > 10, "{expected}");
    same_rows(&got.out, &expected);
    // With parameters, positional in header order.
    let expected = hotline(
        &dir,
        &["query", "run", "category_mix", "-p", "from_day=2023-07-01", "-p", "to_day=2023-07-31", "--format", "csv"],
    );
    let got = analyst("SELECT * FROM q_category_mix('2023-07-01', '2023-07-31')");
    assert!(got.ok, "{}", got.err);
    same_rows(&got.out, &expected);
    // The same statement as `hotline sql` answers the same.
    let sql = "SELECT category_name(category) AS name, count(*) AS n FROM calls GROUP BY 1 ORDER BY 1";
    let got = analyst(sql);
    assert!(got.ok, "{}", got.err);
    same_rows(&got.out, &hotline(&dir, &["sql", sql, "--format", "csv"]));
    let record = audited(&dir, "pg:li", "q_category_mix");
    assert_eq!(record["role"], "analyst");
    assert_eq!(record["outcome"], "ok");
    assert!(record["client"].as_str().unwrap().starts_with("127.0.0.1:"), "{record}");
    assert!(record["rows"].as_i64().unwrap() > 0, "{record}");
}

#[test]
fn sign_in_needs_the_right_password_of_a_known_user() {
    let wrong = psql_at(port(), "li", Some("not the password"), "disable", "SELECT 1");
    assert!(!wrong.ok && wrong.err.to_lowercase().contains("password authentication failed"), "{}", wrong.err);
    let unknown = psql_at(port(), "nobody", Some("analyst password"), "disable", "SELECT 1");
    assert!(!unknown.ok && unknown.err.to_lowercase().contains("password authentication failed"), "{}", unknown.err);
    let none = psql_at(port(), "li", None, "disable", "SELECT 1");
    assert!(!none.ok && none.err.contains("no password supplied"), "{}", none.err);
    assert!(analyst("SELECT 1").ok, "the right password still signs in");
}

#[test]
fn five_wrong_passwords_lock_the_user_name_even_for_the_right_one() {
    let port = start_with(|_| {}).unwrap();
    for _ in 0..5 {
        assert!(!psql_at(port, "wang", Some("guess"), "disable", "SELECT 1").ok);
    }
    let locked = psql_at(port, "wang", Some("investigator password"), "disable", "SELECT 1");
    assert!(!locked.ok && locked.err.contains("try again"), "{}", locked.err);
    assert!(psql_at(port, "li", Some("analyst password"), "disable", "SELECT 1").ok, "another name is not locked");
}

#[test]
fn an_analyst_sees_no_restricted_table_through_any_catalogue() {
    let catalogues = [
        "SELECT table_name FROM information_schema.tables WHERE table_name LIKE '%pii%' OR table_name = 'audit_log'",
        "SELECT relname FROM pg_catalog.pg_class WHERE relname LIKE '%pii%' OR relname = 'audit_log'",
        "SELECT tablename FROM pg_catalog.pg_tables WHERE tablename LIKE '%pii%'",
    ];
    for sql in catalogues {
        let a = analyst(sql);
        assert!(a.ok, "{sql}: {}", a.err);
        assert_eq!(a.out.lines().count(), 1, "{sql}: only the header, got {}", a.out);
        let i = investigator(sql);
        assert!(i.ok && i.out.contains("calls_pii"), "{sql}: {} {}", i.out, i.err);
    }
    let direct = analyst("SELECT count(*) FROM calls_pii");
    assert!(!direct.ok && direct.err.contains("calls_pii"), "{}", direct.err);
    assert!(investigator("SELECT count(*) FROM calls_pii").ok);
}

#[test]
fn writes_copies_files_engine_settings_and_huge_statements_are_refused_and_the_server_goes_on() {
    let dir = warehouse();
    for sql in [
        "CREATE TABLE stolen AS SELECT * FROM calls",
        "DROP TABLE calls",
        "INSERT INTO calls SELECT * FROM calls",
        "DELETE FROM calls",
        "SELECT * INTO stolen FROM calls",
        "COPY calls TO '/tmp/hotline-stolen.csv'",
        "SET datafusion.runtime.memory_limit = '100G'",
    ] {
        let got = analyst(sql);
        assert!(!got.ok && got.err.contains("refused"), "{sql}: {} {}", got.out, got.err);
    }
    assert!(!Path::new("/tmp/hotline-stolen.csv").exists());
    let file = analyst("SELECT * FROM '/etc/passwd'");
    assert!(!file.ok, "a file path in FROM reads nothing: {}", file.out);
    let huge = format!("SELECT 1 AS x /* {} */", "x".repeat(10 << 20));
    let got = analyst(&huge);
    assert!(!got.ok && got.err.contains("bytes"), "{}", got.err.chars().take(300).collect::<String>());
    // Client settings and transactions are answered; the server still serves.
    let got = analyst(
        "BEGIN; SET application_name = 'dbeaver'; SET extra_float_digits = 3; SELECT count(*) AS n FROM calls; COMMIT",
    );
    assert!(got.ok, "{}", got.err);
    let refused = audited(&dir, "pg:li", "CREATE TABLE stolen");
    assert_eq!(refused["outcome"], "refused", "{refused}");
}

#[test]
fn tls_is_offered_with_a_certificate_and_required_with_require_tls() {
    let dir = scratch("pg-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let tls = Some((cert.clone(), key.clone()));
    let offered = start_with(|c| c.tls = tls.clone()).unwrap();
    let secure = psql_at(offered, "li", Some("analyst password"), "require", "SELECT ssl FROM (SELECT 1 AS ssl)");
    assert!(secure.ok, "{}", secure.err);
    assert!(
        psql_at(offered, "li", Some("analyst password"), "disable", "SELECT 1").ok,
        "plain is allowed unless required"
    );
    let required = start_with(|c| {
        c.tls = tls.clone();
        c.require_tls = true;
    })
    .unwrap();
    let plain = psql_at(required, "li", Some("analyst password"), "disable", "SELECT 1");
    assert!(!plain.ok && plain.err.contains("TLS"), "{}", plain.err);
    assert!(psql_at(required, "li", Some("analyst password"), "require", "SELECT 1").ok);
    // Files that cannot be loaded stop the endpoint from starting.
    let missing = start_with(|c| c.tls = Some((cert.clone(), dir.join("nokey.pem")))).unwrap_err();
    assert!(missing.contains("nokey.pem"), "{missing}");
}

#[test]
fn connections_past_the_limit_are_refused_and_the_rest_are_served() {
    let port = start_with(|c| c.max_connections = 4).unwrap();
    // Hold four connections open (each psql waits on its standard input), then ask a fifth.
    let mut held = Vec::new();
    for _ in 0..4 {
        let child = Command::new("psql")
            .arg(format!("host=127.0.0.1 port={port} user=li dbname=hotline sslmode=disable"))
            .args(["--no-psqlrc", "-w", "-X", "-q"])
            .env("PGPASSWORD", "analyst password")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        held.push(child);
    }
    std::thread::sleep(Duration::from_secs(2));
    let fifth = psql_at(port, "li", Some("analyst password"), "disable", "SELECT 1");
    assert!(!fifth.ok && fifth.err.contains("too many clients"), "{}", fifth.err);
    for mut child in held {
        drop(child.stdin.take());
        child.wait().unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(psql_at(port, "li", Some("analyst password"), "disable", "SELECT 1").ok, "served again once they left");
}

#[test]
fn a_statement_past_its_time_limit_is_cancelled_and_a_huge_cross_join_is_refused_before_it_runs() {
    let port = start_with(|c| c.query_timeout = Duration::from_secs(1)).unwrap();
    // Billions of rows joined on category: far past a second.
    let heavy = "SELECT count(*) FROM calls a JOIN calls b ON a.category = b.category \
                 JOIN calls c ON c.category = a.category JOIN calls d ON d.category = a.category \
                 JOIN calls e ON e.category = a.category";
    let started = std::time::Instant::now();
    let answer = psql_at(port, "li", Some("analyst password"), "disable", heavy);
    assert!(!answer.ok && answer.err.contains("canceling statement"), "{}", answer.err);
    assert!(started.elapsed() < Duration::from_secs(30), "cancelled after {:?}", started.elapsed());
    let next = psql_at(port, "li", Some("analyst password"), "disable", "SELECT 1 AS one");
    assert!(next.ok && next.out.contains("one"), "{}", next.err);
    // A cross join feeding an aggregate never yields, so no deadline could stop it: one past a
    // billion pairs is refused before it runs; a small one runs.
    let cross = "SELECT a.call_id, count(*) FROM calls a CROSS JOIN calls b CROSS JOIN calls c GROUP BY 1";
    let refused = psql_at(port, "li", Some("analyst password"), "disable", cross);
    assert!(!refused.ok && refused.err.contains("join without an equality"), "{}", refused.err);
    let small = "SELECT count(*) AS pairs FROM categories CROSS JOIN (SELECT 1 FROM calls LIMIT 10) x";
    let small = psql_at(port, "li", Some("analyst password"), "disable", small);
    assert!(small.ok && small.out.contains("pairs"), "{}", small.err);
}

#[test]
fn a_connection_to_hotline_at_n_reads_that_kept_snapshot() {
    let run = |database: &str| {
        let out = Command::new("psql")
            .arg(format!("host=127.0.0.1 port={} user=li dbname={database} sslmode=disable connect_timeout=30", port()))
            .args(["--no-psqlrc", "-w", "-X", "-A", "-t", "-c", "SELECT COUNT(*) FROM caller_entities"])
            .env("PGPASSWORD", "analyst password")
            .output()
            .expect("psql runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The sample warehouse: snapshot 1 is its ingest, snapshot 2 (current) its resolve.
    let (ok, now, err) = run("hotline");
    assert!(ok && now.parse::<u64>().unwrap() > 0, "{now} {err}");
    let (ok, before, err) = run("hotline@1");
    assert!(ok, "{err}");
    assert_eq!(before, "0", "before resolve there was no caller entity");
    let (ok, _, err) = run("hotline@99");
    assert!(!ok && err.contains("snapshot 99 is not kept"), "{err}");
    let (ok, _, err) = run("hotline@yesterday");
    assert!(!ok && err.contains("snapshot number"), "{err}");
}
