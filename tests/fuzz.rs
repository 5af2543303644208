//! Fuzzing bounded in time: mutated and generated inputs for the CSV, JSON Lines and Parquet
//! readers, the row validator, the SQL guard and session, the HTTP API and the PostgreSQL
//! endpoint. No panic, no hang, every rejection with a reason. Each target runs for
//! `HOTLINE_FUZZ_SECONDS` (2 by default; `scripts/fuzz.sh` gives 600) and prints its counts;
//! inputs that once failed are kept in `tests/fuzz/<target>/` and replayed first.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hotline::generate::OutputFormat;
use hotline::source::{SourceReader, validate_record};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::util::scratch;

/// Longest one input may take before it counts as a hang. A corrupt Parquet page header may
/// claim up to 2 GiB, which the decoder allocates before it finds the page short: a 19 KB file
/// found by this fuzzer took 31 s (on a busy machine) to be refused.
const HANG: Duration = Duration::from_secs(90);

/// Seconds each target runs.
fn budget() -> Duration {
    let seconds = std::env::var("HOTLINE_FUZZ_SECONDS").ok().and_then(|s| s.parse::<f64>().ok()).unwrap_or(2.0);
    Duration::from_secs_f64(seconds.max(0.1))
}

/// A target's tally, printed at the end (scripts/fuzz.sh collects the lines).
#[derive(Default)]
struct Tally {
    tried: u64,
    accepted: u64,
    rejected: u64,
    slowest: Duration,
}

impl Tally {
    fn report(&self, target: &str, started: Instant) {
        println!(
            "FUZZ {target}: {} inputs in {:.0} s, {} accepted, {} rejected with a reason, 0 panics, 0 hangs, slowest {:.2} s",
            self.tried,
            started.elapsed().as_secs_f64(),
            self.accepted,
            self.rejected,
            self.slowest.as_secs_f64()
        );
    }
}

/// Inputs kept from earlier failures of a target, replayed before the random ones.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz").join(target);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Runs one input; a panic or a hang fails the test, after the input is saved for the corpus.
fn run_one(target: &str, input: &[u8], tally: &mut Tally, f: impl FnOnce(&[u8]) -> bool) {
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| f(input)));
    let took = started.elapsed();
    tally.tried += 1;
    tally.slowest = tally.slowest.max(took);
    let keep = |why: &str| {
        let dir = scratch(&format!("fuzz-found-{target}"));
        let path = dir.join(format!(
            "{}-{:016x}.bin",
            why,
            hotline::source::content_digest(&[Some(String::from_utf8_lossy(input).into_owned(),)])
        ));
        std::fs::write(&path, input).unwrap();
        path
    };
    match outcome {
        Err(_) => panic!(
            "{target}: an input panicked; kept at {} (copy it into tests/fuzz/{target}/)",
            keep("panic").display()
        ),
        Ok(_) if took > HANG => panic!("{target}: an input took {took:?}; kept at {}", keep("hang").display()),
        Ok(true) => tally.accepted += 1,
        Ok(false) => tally.rejected += 1,
    }
}

/// Pieces that break parsers: quotes, separators, line ends, a byte-order mark, a CJK character
/// cut in half, numbers at the edges, nulls, long runs.
const TOKENS: &[&[u8]] = &[
    b",",
    b"\"",
    b"\"\"",
    b"\n",
    b"\r\n",
    b"\r",
    b"\xEF\xBB\xBF",
    b"\xE5\x8C",
    "投诉".as_bytes(),
    b"\0",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"null",
    b"true",
    b"-0",
    b"1e309",
    b"NaN",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"2023-02-30 25:61:61",
    b"0000-00-00",
    b"\\u0000",
    b"\\ud800",
    b"PAR1",
];

/// A copy of `seed` with 1–8 random edits.
fn mutate(rng: &mut ChaCha8Rng, seed: &[u8]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for _ in 0..rng.random_range(1..=8) {
        let at = if out.is_empty() { 0 } else { rng.random_range(0..out.len()) };
        match rng.random_range(0..8) {
            0 if !out.is_empty() => out[at] ^= 1 << rng.random_range(0..8),
            1 => out.insert(at, rng.random()),
            2 if !out.is_empty() => {
                let end = (at + rng.random_range(1..64)).min(out.len());
                out.drain(at..end);
            }
            3 if !out.is_empty() => {
                let end = (at + rng.random_range(1..256)).min(out.len());
                let piece = out[at..end].to_vec();
                let to = rng.random_range(0..=out.len());
                out.splice(to..to, piece);
            }
            4 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            5 => out.truncate(at),
            6 => {
                let run = vec![if rng.random_bool(0.5) { b'x' } else { b'9' }; rng.random_range(1..20_000)];
                out.splice(at..at, run);
            }
            _ if at + 8 <= out.len() => {
                // An 8-byte word set to an edge value (lengths and offsets in binary formats).
                let word: u64 = [0, 1, u64::MAX, i64::MAX as u64, 1 << 31, 1 << 32][rng.random_range(0..6)];
                out[at..at + 8].copy_from_slice(&word.to_le_bytes());
            }
            _ => {}
        }
    }
    out
}

/// Reads a file to its end as ingest does: every record, and every valid-looking one through
/// the validator. Returns whether the file was accepted (opened and read without a file error).
fn read_whole(path: &Path) -> bool {
    let name = path.display().to_string();
    let reader = match SourceReader::open(path, None) {
        Ok(reader) => reader,
        Err(e) => {
            let message = e.to_string();
            assert!(
                message.contains(&name) && message.len() > name.len() + 2,
                "a rejection without a reason: {message}"
            );
            return false;
        }
    };
    let table = reader.table();
    let mut whole = true;
    for record in reader {
        match record {
            Err(e) => {
                let message = e.to_string();
                assert!(message.contains(&name), "a file error that does not name the file: {message}");
                whole = false;
            }
            Ok(record) => match record.fields {
                Err(violation) => assert!(!violation.detail.is_empty() || violation.column.is_some()),
                Ok(fields) => {
                    if let Err(violation) = validate_record(table, &fields) {
                        assert!(!violation.detail.is_empty(), "a violation without a reason: {violation:?}");
                    }
                }
            },
        }
    }
    whole
}

/// Seeds for a reader: a small generated batch in the format, calls and work orders.
fn seeds(format: OutputFormat, extension: &str) -> Vec<Vec<u8>> {
    let name = format!("fuzz-seed-{extension}");
    let dir = crate::util::batch(&name, 120, 31, format, true);
    ["calls", "work_orders"].iter().map(|t| std::fs::read(dir.join(format!("{t}.{extension}"))).unwrap()).collect()
}

fn fuzz_reader(target: &str, format: OutputFormat, extension: &str, seed_rng: u64) {
    let seeds = seeds(format, extension);
    let dir = scratch(&format!("fuzz-{target}"));
    let path = dir.join(format!("input.{extension}"));
    let mut rng = ChaCha8Rng::seed_from_u64(seed_rng);
    let mut tally = Tally::default();
    let started = Instant::now();
    let run = |input: &[u8], tally: &mut Tally| {
        std::fs::write(&path, input).unwrap();
        run_one(target, input, tally, |_| read_whole(&path));
    };
    for input in corpus(target) {
        run(&input, &mut tally);
    }
    // The seeds themselves are read whole.
    for seed in &seeds {
        std::fs::write(&path, seed).unwrap();
        assert!(read_whole(&path), "a seed of {target} is refused");
    }
    while started.elapsed() < budget() {
        let seed = &seeds[rng.random_range(0..seeds.len())];
        let input = mutate(&mut rng, seed);
        run(&input, &mut tally);
    }
    tally.report(target, started);
    assert!(tally.tried > 0 && tally.rejected + tally.accepted == tally.tried);
}

#[test]
fn csv_reader() {
    fuzz_reader("csv", OutputFormat::Csv, "csv", 1);
}

#[test]
fn jsonl_reader() {
    fuzz_reader("jsonl", OutputFormat::Jsonl, "jsonl", 2);
}

#[test]
fn parquet_reader() {
    fuzz_reader("parquet", OutputFormat::Parquet, "parquet", 3);
}

/// Values at the edges of what a field may hold.
fn edge_value(rng: &mut ChaCha8Rng) -> Option<String> {
    let long = "长".repeat(rng.random_range(1..50_000));
    let choices: [Option<&str>; 22] = [
        None,
        Some(""),
        Some(" "),
        Some("\u{feff}"),
        Some("0"),
        Some("-1"),
        Some("99999999999999999999999"),
        Some("1e400"),
        Some("NaN"),
        Some("inf"),
        Some("2023-02-29 10:00:00"),
        Some("2024-02-29T23:59:60+08:00"),
        Some("9999-12-31 23:59:59"),
        Some("1969-12-31T23:59:59Z"),
        Some("2023-07-01 10:00:00+25:00"),
        Some("110"),
        Some("PENDING"),
        Some("已办结"),
        Some("138 0013 8000"),
        Some("42050219800101123X"),
        Some("\u{0}\u{1}\u{7f}"),
        Some(&long),
    ];
    choices[rng.random_range(0..choices.len())].map(str::to_owned)
}

#[test]
fn validator() {
    use hotline::contract::Table;
    let target = "validator";
    let dir = crate::util::batch("fuzz-seed-csv", 120, 31, OutputFormat::Csv, true);
    let mut rows: Vec<(Table, Vec<Option<String>>)> = Vec::new();
    for file in ["calls.csv", "work_orders.csv"] {
        let reader = SourceReader::open(&dir.join(file), None).unwrap();
        let table = reader.table();
        rows.extend(reader.filter_map(|r| r.ok()?.fields.ok()).map(|f| (table, f)));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut tally = Tally::default();
    let started = Instant::now();
    while started.elapsed() < budget() {
        let (table, mut fields) = rows[rng.random_range(0..rows.len())].clone();
        for _ in 0..rng.random_range(1..=3) {
            let at = rng.random_range(0..fields.len());
            fields[at] = if rng.random_bool(0.3) {
                // Another row's value for another column: the right shape in the wrong place.
                let other = &rows[rng.random_range(0..rows.len())].1;
                other[rng.random_range(0..other.len())].clone()
            } else {
                edge_value(&mut rng)
            };
        }
        if rng.random_bool(0.05) {
            fields.truncate(rng.random_range(0..fields.len()));
        }
        let input = format!("{table:?}\n{fields:?}");
        run_one(target, input.as_bytes(), &mut tally, |_| match validate_record(table, &fields) {
            Ok(_) => true,
            Err(violation) => {
                assert!(!violation.detail.is_empty(), "a violation without a reason: {violation:?}");
                false
            }
        });
    }
    tally.report(target, started);
}

/// SQL pieces an analyst, or someone hostile, might write.
const SQL_PIECES: &[&str] = &[
    "SELECT * FROM calls",
    "SELECT COUNT(*) FROM calls c JOIN work_orders w ON w.call_id = c.call_id",
    "SELECT category_name(category), grid_cell(lat, lon, 500), local_date(received_at) FROM calls",
    "SELECT normalize_phone(narrative), text_sim(narrative, name_masked), is_police_matter(category) FROM calls",
    "SELECT repeat(narrative, 1000000) FROM calls",
    "SELECT lpad('x', 2147483647)",
    "SELECT array_repeat(1, 100000000)",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r",
    "SELECT * FROM calls a, calls b, calls c",
    "SELECT * FROM calls_pii",
    "SELECT * FROM audit_log",
    "COPY calls TO '/tmp/x.csv'",
    "CREATE TABLE t AS SELECT 1",
    "INSERT INTO calls SELECT * FROM calls",
    "SET datafusion.execution.target_partitions = 1000000",
    "SELECT * FROM read_parquet('/etc/passwd')",
    "SELECT * FROM q_repeat_callers(7)",
    "SELECT district, COUNT(DISTINCT phone_key) FROM calls GROUP BY district ORDER BY 2 DESC LIMIT 5",
    "SELECT regexp_replace(narrative, '(a*)*b', 'x') FROM calls",
    "SELECT CAST('9999999999999999999999' AS BIGINT)",
    "SELECT 1/0",
    "SELECT * FROM calls WHERE received_at > '2023-13-45'",
    "EXPLAIN ANALYZE SELECT * FROM calls",
    "SELECT 1; DROP TABLE calls",
];

fn random_sql(rng: &mut ChaCha8Rng, named: &[String]) -> String {
    let base = if rng.random_bool(0.3) && !named.is_empty() {
        named[rng.random_range(0..named.len())].clone()
    } else {
        SQL_PIECES[rng.random_range(0..SQL_PIECES.len())].to_owned()
    };
    let mut text = match rng.random_range(0..5) {
        0 => base,
        1 => format!("SELECT * FROM ({base}) AS s LIMIT {}", rng.random_range(0..100)),
        2 => format!("{}{base}{}", "(".repeat(rng.random_range(0..300)), ")".repeat(rng.random_range(0..300))),
        3 => {
            let other = SQL_PIECES[rng.random_range(0..SQL_PIECES.len())];
            format!("{base} UNION ALL {other}")
        }
        _ => format!("SELECT 1 {}", " OR 1 = 1".repeat(rng.random_range(0..5_000))),
    };
    if rng.random_bool(0.5) {
        let bytes = mutate(rng, text.as_bytes());
        text = String::from_utf8_lossy(&bytes).into_owned();
    }
    text
}

#[test]
fn sql_guard_and_session() {
    use hotline::sql::{Flow, Role, SessionOptions, open_session};
    let target = "sql";
    let named: Vec<String> = std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "sql"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect();
    let options = SessionOptions {
        role: Role::Analyst,
        memory_limit: Some(256 << 20),
        timeout: Duration::from_secs(3),
        audit: false,
        ..SessionOptions::default()
    };
    let session = open_session(&crate::util::sample_warehouse(), options).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let mut tally = Tally::default();
    let started = Instant::now();
    let mut inputs: Vec<Vec<u8>> = corpus(target);
    while started.elapsed() < budget() || !inputs.is_empty() {
        let input = inputs.pop().unwrap_or_else(|| random_sql(&mut rng, &named).into_bytes());
        let sql = String::from_utf8_lossy(&input).into_owned();
        run_one(target, &input, &mut tally, |_| {
            let mut rows = 0usize;
            match session.run(&sql, &mut |output| {
                if let hotline::sql::Output::Batch(batch) = output {
                    rows += batch.num_rows();
                }
                Ok(if rows > 100_000 { Flow::Stop } else { Flow::More })
            }) {
                Ok(_) => true,
                Err(error) => {
                    assert!(error.to_string().trim().len() > 3, "a refusal without a reason for {sql:?}");
                    false
                }
            }
        });
    }
    tally.report(target, started);
    // Still answering after all that.
    let (_, batches) = session.collect("SELECT COUNT(*) FROM calls").unwrap();
    assert_eq!(batches[0].num_rows(), 1);
}

/// Sends raw bytes on a new connection and reads what comes back within a moment, or nothing when
/// the server closes. `whole`: the client closes its side and everything is read (PostgreSQL);
/// otherwise reading stops at the end of the first line (an HTTP status line), as hyper may drop
/// a half-closed connection before it answers.
fn exchange(address: &str, request: &[u8], whole: bool) -> Vec<u8> {
    let Ok(mut stream) = TcpStream::connect(address) else { return Vec::new() };
    let _ = stream.set_read_timeout(Some(Duration::from_millis(1500)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(1500)));
    let _ = stream.write_all(request);
    let mut out = Vec::new();
    if whole {
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let _ = stream.take(64 << 10).read_to_end(&mut out);
        return out;
    }
    let mut buffer = [0u8; 4096];
    while !out.windows(2).any(|w| w == b"\r\n") && out.len() < 64 << 10 {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => out.extend_from_slice(&buffer[..n]),
        }
    }
    out
}

#[test]
fn http_api() {
    let target = "http";
    let base = crate::serve::server();
    let address = base.trim_start_matches("http://").to_owned();
    let client = crate::serve::sign_in(base, "wang", "investigator password");
    let paths = [
        "/api/leads",
        "/api/leads/L0001",
        "/api/graph?lead=L0001&depth=2",
        "/api/path?a=C1&b=C2",
        "/api/calls/C000001",
        "/api/entities/E1",
        "/api/explain?a=C1&b=C2",
        "/api/search?q=%E6%8A%95%E8%AF%89",
        "/api/hotspots?category=0101&from=2023-01-01&to=2023-12-31",
        "/api/hotspots/calls?cell=1",
        "/api/me",
        "/",
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let mut tally = Tally::default();
    let started = Instant::now();
    while started.elapsed() < budget() {
        let path = paths[rng.random_range(0..paths.len())];
        let cookie = if rng.random_bool(0.7) { format!("Cookie: {}\r\n", client.cookie) } else { String::new() };
        let request = if rng.random_bool(0.2) {
            let body = r#"{"user":"wang","password":"investigator password"}"#;
            format!(
                "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        } else if rng.random_bool(0.2) {
            let body = r#"{"status":"confirmed","note":"核实"}"#;
            format!(
                "POST /api/leads/L0001/review HTTP/1.1\r\nHost: x\r\n{cookie}X-CSRF-Token: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                client.csrf,
                body.len()
            )
        } else {
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n{cookie}Connection: close\r\n\r\n")
        };
        let input = mutate(&mut rng, request.as_bytes());
        run_one(target, &input, &mut tally, |input| {
            let reply = exchange(&address, input, false);
            // An answer is a status line; a 2xx is an accepted input, anything else (an error
            // status, or a closed connection for bytes that are not HTTP) a rejection.
            reply.starts_with(b"HTTP/1.1 2")
        });
        if tally.tried % 200 == 0 {
            let health = exchange(&address, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false);
            assert!(
                health.starts_with(b"HTTP/1.1 200"),
                "the server stopped answering after {} inputs: {}",
                tally.tried,
                String::from_utf8_lossy(&health)
            );
        }
    }
    tally.report(target, started);
    let health = exchange(&address, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false);
    assert!(health.starts_with(b"HTTP/1.1 200"), "the server answers after the run");
}

/// A PostgreSQL message: its type byte, its length, its body.
fn pg_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![kind];
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

#[test]
fn postgres_endpoint() {
    // Before sign-in is where any client on the network can reach: startup, TLS and cancel
    // requests, and SCRAM messages. Statements after sign-in are the SQL target's.
    let target = "pg";
    let port = crate::pg::port();
    let address = format!("127.0.0.1:{port}");
    // A user name of its own: the wrong proofs it sends lock that name, and the other tests of
    // the shared server sign in as `li`.
    let mut startup_body = 196_608u32.to_be_bytes().to_vec();
    startup_body.extend_from_slice(b"user\0fuzz\0database\0hotline\0application_name\0fuzz\0\0");
    let mut startup = ((startup_body.len() + 4) as u32).to_be_bytes().to_vec();
    startup.extend_from_slice(&startup_body);
    let mut first = b"SCRAM-SHA-256\0".to_vec();
    let client_first = b"n,,n=fuzz,r=rOprNGfwEbeRWgbNEkqO";
    first.extend_from_slice(&(client_first.len() as u32).to_be_bytes());
    first.extend_from_slice(client_first);
    let seeds: Vec<Vec<u8>> = vec![
        startup.clone(),
        [startup.clone(), pg_message(b'p', &first)].concat(),
        [startup.clone(), pg_message(b'p', &first), pg_message(b'p', b"c=biws,r=x,p=AAAA")].concat(),
        [8u32.to_be_bytes().to_vec(), 80_877_103u32.to_be_bytes().to_vec()].concat(),
        [16u32.to_be_bytes().to_vec(), 80_877_102u32.to_be_bytes().to_vec(), vec![0; 8]].concat(),
    ];
    // The server's first answer to a startup: an authentication request ('R').
    let asks = |reply: &[u8]| reply.first() == Some(&b'R');
    assert!(asks(&exchange(&address, &seeds[0], true)), "the endpoint asks a client to sign in");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut tally = Tally::default();
    let started = Instant::now();
    while started.elapsed() < budget() {
        let which = rng.random_range(0..seeds.len());
        let input = mutate(&mut rng, &seeds[which]);
        run_one(target, &input, &mut tally, |input| {
            let reply = exchange(&address, input, true);
            // An error response names its reason (a message of type 'E' with an 'M' field).
            if reply.first() == Some(&b'E') {
                assert!(reply.contains(&b'M'), "an error without a message");
            }
            asks(&reply) && !reply.contains(&b'E')
        });
        if tally.tried % 200 == 0 {
            assert!(
                asks(&exchange(&address, &seeds[0], true)),
                "the endpoint stopped answering after {} inputs",
                tally.tried
            );
        }
    }
    tally.report(target, started);
    assert!(asks(&exchange(&address, &seeds[0], true)), "the endpoint answers after the run");
}
