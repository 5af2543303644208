//! The cluster: SQL on a Ballista scheduler and two executors gives the rows it gives locally, the
//! project's functions run on the executors, and a lost executor never makes a wrong answer.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use hotline::sql::{Session, SessionOptions, open_session, queries};

use crate::util::sample_warehouse;

fn local(dir: &Path) -> Session {
    open_session(dir, SessionOptions { audit: false, ..SessionOptions::default() }).unwrap()
}

fn on_cluster(dir: &Path, scheduler: &str) -> Session {
    let options = SessionOptions { audit: false, cluster: Some(scheduler.to_owned()), ..SessionOptions::default() };
    open_session(dir, options).unwrap()
}

/// A result as CSV lines (header first), the rows sorted: a distributed plan may return them in
/// another order.
fn sorted_lines(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = Vec::new();
    {
        let mut writer = datafusion::arrow::csv::WriterBuilder::new().with_header(false).build(&mut out);
        for batch in batches {
            writer.write(batch).unwrap();
        }
    }
    let mut lines: Vec<String> = String::from_utf8(out).unwrap().lines().map(str::to_owned).collect();
    lines.sort();
    lines
}

/// Hand-written queries of the kinds analysts write: window functions, distinct counts, joins of
/// calls with work orders and resolved callers, set operations, top-N, the taxonomy (an in-memory
/// table), a table with no files yet, and a named query as a table function.
const HAND_WRITTEN: &[&str] = &[
    "SELECT district, category, COUNT(*) AS n, \
            RANK() OVER (PARTITION BY district ORDER BY COUNT(*) DESC, category) AS r \
     FROM calls GROUP BY district, category",
    "SELECT call_id, phone_key, received_at, \
            LAG(received_at) OVER (PARTITION BY phone_key ORDER BY received_at, call_id) AS before \
     FROM calls WHERE phone_key IS NOT NULL",
    "SELECT month, COUNT(DISTINCT phone_key) AS phones, COUNT(DISTINCT category) AS categories, COUNT(*) AS calls \
     FROM calls GROUP BY month",
    "SELECT e.entity_id, COUNT(*) AS calls, COUNT(w.order_id) AS orders, COUNT(DISTINCT w.department) AS departments \
     FROM calls c JOIN caller_entities e ON e.call_id = c.call_id \
     LEFT JOIN work_orders w ON w.call_id = c.call_id GROUP BY e.entity_id",
    "SELECT district FROM calls WHERE platform = '110' UNION SELECT district FROM calls WHERE platform = '12345'",
    "SELECT category, platform FROM calls WHERE district_key IS NOT NULL \
     UNION ALL SELECT channel, to_platform FROM work_orders",
    "SELECT phone_key FROM calls WHERE platform = '110' INTERSECT SELECT phone_key FROM calls WHERE platform = '12345'",
    "SELECT call_id FROM calls EXCEPT SELECT call_id FROM work_orders",
    "SELECT call_id, received_at, category FROM calls ORDER BY received_at DESC, call_id LIMIT 25",
    "SELECT k.name_en, k.police_matter, COUNT(*) AS n FROM calls c JOIN categories k ON k.code = c.category \
     GROUP BY k.name_en, k.police_matter",
    "SELECT COUNT(*) AS leads FROM leads",
    "SELECT * FROM q_daily_volume('2023-07', '2023-07')",
];

/// Unions of single-partition inputs, which Ballista 55 answers wrongly (x, y, y, y; no rows) or
/// never: the session runs them in its own process.
const UNIONS_RUN_HERE: &[&str] = &[
    "SELECT 'x' AS a, COUNT(*) AS n FROM calls WHERE platform = '12345' \
     UNION ALL SELECT 'y', COUNT(*) FROM calls WHERE platform = '110'",
    "(SELECT call_id FROM calls ORDER BY call_id LIMIT 3) UNION ALL (SELECT call_id FROM calls ORDER BY call_id DESC LIMIT 3)",
    "WITH r AS (SELECT COUNT(*) AS n FROM calls WHERE platform = '110') \
     SELECT 1 AS o, COUNT(*) AS n FROM calls UNION ALL SELECT 2, (SELECT n FROM r) FROM work_orders",
];

/// Every project function, on every call's own values (not constants the planner could fold
/// before the query leaves this process), so each runs on the executors.
const EVERY_FUNCTION: &str = "SELECT call_id, normalize_phone(CONCAT('0717-', SUBSTR(call_id, -7))) AS phone, \
        text_sim(narrative, counterparty) AS sim, category_name(category) AS name, \
        is_police_matter(category) AS police, grid_cell(lon, lat, 500) AS cell, local_date(received_at) AS day \
     FROM calls";

#[test]
fn every_named_and_hand_written_query_gives_the_same_rows_on_a_cluster_as_locally() {
    let dir = sample_warehouse();
    let cluster = Cluster::start(2, 2);
    let here = local(&dir);
    let there = on_cluster(&dir, &cluster.scheduler);
    let mut statements: Vec<(String, String)> =
        queries::all().unwrap().values().map(|q| (format!("named query {}", q.name), q.bind(&[]).unwrap())).collect();
    statements.extend(HAND_WRITTEN.iter().chain(UNIONS_RUN_HERE).map(|sql| (sql.to_string(), sql.to_string())));
    statements.push(("every function".into(), EVERY_FUNCTION.into()));
    let mut failures = Vec::new();
    let mut here_only = Vec::new();
    for (what, sql) in &statements {
        if !there.runs_on_cluster(sql).unwrap() {
            here_only.push(what.clone());
        }
        let (_, expected) = here.collect(sql).unwrap_or_else(|e| panic!("{what} locally: {e}"));
        match there.collect(sql) {
            Ok((_, got)) => {
                let (expected, got) = (sorted_lines(&expected), sorted_lines(&got));
                if expected != got {
                    failures.push(format!(
                        "{what}: {} rows locally, {} on the cluster, or other values",
                        expected.len(),
                        got.len()
                    ));
                }
            }
            Err(error) => failures.push(format!("{what}: {error}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // What ran in this process is the union shapes, no more: every named query runs on the cluster
    // (`headline_summary` counts its figures in one-row aggregates joined to a list of the figures,
    // not in a union of them).
    let mut expected_here: Vec<String> = UNIONS_RUN_HERE.iter().map(|s| s.to_string()).collect();
    here_only.sort();
    expected_here.sort();
    assert_eq!(here_only, expected_here);
    // The function query ran over every call, so it cannot have been answered by constants.
    let (_, rows) = there.collect(EVERY_FUNCTION).unwrap();
    let (_, calls) = here.collect("SELECT call_id FROM calls").unwrap();
    let count = |batches: &[RecordBatch]| batches.iter().map(|b| b.num_rows()).sum::<usize>();
    assert!(count(&calls) > 9_000);
    assert_eq!(count(&rows), count(&calls));
}

#[test]
fn a_session_on_a_cluster_keeps_the_read_only_guard_and_says_when_no_scheduler_answers() {
    let dir = sample_warehouse();
    // Port 1 (tcpmux) is served by nothing here; a port freed by this test could be taken by an
    // executor of a test running beside it.
    let free = "127.0.0.1:1";
    let options = SessionOptions { audit: false, cluster: Some(free.to_string()), ..SessionOptions::default() };
    let error = open_session(&dir, options).err().expect("nobody listens there").to_string();
    assert!(error.contains("no Ballista scheduler answers") && error.contains(free), "{error}");

    let cluster = Cluster::start(1, 1);
    let there = on_cluster(&dir, &cluster.scheduler);
    let refused = there.collect("DROP TABLE calls").unwrap_err().to_string();
    assert!(refused.starts_with("refused"), "{refused}");
}

#[test]
fn a_snapshot_missing_a_file_it_lists_is_refused_locally_and_on_a_cluster_never_a_smaller_answer() {
    let dir = crate::util::scratch("cluster-damaged").join("wh");
    crate::util::copy_dir(&sample_warehouse(), &dir);
    let (_, whole) = local(&dir).collect("SELECT count(*) FROM calls").unwrap();
    assert_eq!(whole.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    // One month of calls is gone (a partial copy, or an executor's mount without it): tables list
    // their folders when a query runs, so without the manifest the month would drop out unseen.
    let months = std::fs::read_dir(dir.join("current/calls")).unwrap().map(|e| e.unwrap().path());
    let month = months.filter(|p| p.is_dir()).min().expect("a month folder");
    let file = std::fs::read_dir(&month).unwrap().map(|e| e.unwrap().path()).min().expect("a Parquet file");
    std::fs::remove_file(&file).unwrap();
    let refused = |options: SessionOptions| -> String {
        open_session(&dir, options).err().expect("a damaged snapshot opens no session").to_string()
    };
    let error = refused(SessionOptions { audit: false, ..SessionOptions::default() });
    assert!(error.contains("lacks 1 of the files its manifest lists") && error.contains("calls/month="), "{error}");
    let cluster = Cluster::start(1, 1);
    let error =
        refused(SessionOptions { audit: false, cluster: Some(cluster.scheduler.clone()), ..SessionOptions::default() });
    assert!(error.contains("lacks 1 of the files its manifest lists"), "{error}");
}

/// A child process killed when the test ends, whatever its outcome.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn hotline(args: &[&str]) -> Process {
    Process(
        Command::new(env!("CARGO_BIN_EXE_hotline"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

/// A scheduler and executors on loopback, as processes of `hotline cluster` (a task slot or more
/// each), stopped when dropped.
struct Cluster {
    process: Process,
    scheduler: String,
    executors: Vec<Process>,
    /// One cluster at a time: an executor is told a port found free before it binds it, and two
    /// starting at once could be told the same one.
    _alone: std::sync::MutexGuard<'static, ()>,
}

impl Cluster {
    fn start(executors: usize, slots: usize) -> Cluster {
        static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let alone = ALONE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut process = hotline(&["cluster", "scheduler", "--bind", "127.0.0.1:0", "--executor-timeout", "10"]);
        let mut first = String::new();
        let mut lines = BufReader::new(process.0.stdout.take().unwrap());
        lines.read_line(&mut first).unwrap();
        // The rest of its output is read to the end, so that it never writes to a closed pipe.
        std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
        assert!(first.starts_with("scheduler listening on 127.0.0.1:"), "{first}");
        let scheduler = first.trim().rsplit(' ').next().unwrap().to_owned();
        let slots = slots.to_string();
        // Their shuffle files stay in the build's scratch folder, emptied on the next run: a
        // killed executor cannot clear its own.
        static STARTED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let executors = (0..executors)
            .map(|_| {
                let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let work = crate::util::scratch(&format!("cluster-executor-{n}"));
                hotline(&[
                    "cluster",
                    "executor",
                    "--scheduler",
                    &scheduler,
                    "--concurrency",
                    &slots,
                    "--heartbeat",
                    "1",
                    "--work-dir",
                    work.to_str().unwrap(),
                ])
            })
            .collect::<Vec<_>>();
        wait_for_executors(&scheduler, executors.len());
        Cluster { process, scheduler, executors, _alone: alone }
    }
}

/// Waits until the scheduler's readiness page counts `count` live executors.
fn wait_for_executors(scheduler: &str, count: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let wanted = format!("ready: {count} executors");
    loop {
        let body = ureq::get(&format!("http://{scheduler}/readyz"))
            .call()
            .ok()
            .and_then(|mut r| r.body_mut().read_to_string().ok())
            .unwrap_or_default();
        if body.contains(&wanted) {
            return;
        }
        assert!(Instant::now() < deadline, "{count} executors did not register: {body:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The scheduler and two executors as processes of `hotline cluster`; one executor is killed
/// while a query runs. The query then fails saying why or is run again to the right answer, and
/// the scheduler goes on serving with the other executor.
#[test]
fn an_executor_killed_mid_query_never_gives_a_wrong_answer_and_the_scheduler_serves_on() {
    let dir = sample_warehouse();
    let mut cluster = Cluster::start(2, 1);
    let address = cluster.scheduler.clone();
    let mut doomed = cluster.executors.pop().unwrap();

    // Pairs of calls of one category and how alike their narratives are: a few seconds of work.
    let heavy = "SELECT a.category, COUNT(*) AS pairs, SUM(CASE WHEN text_sim(a.narrative, b.narrative) > 0.5 THEN 1 ELSE 0 END) AS alike \
                 FROM calls a JOIN calls b ON a.category = b.category AND a.call_id < b.call_id GROUP BY a.category";
    let (_, expected) = local(&dir).collect(heavy).unwrap();
    let expected = sorted_lines(&expected);
    // Ballista 55 takes a lost executor's tasks back but did not finish the query in trials; the
    // session sees the executor go (10 s without a heartbeat here) and stops the query saying so,
    // long before this time limit.
    let options = SessionOptions {
        audit: false,
        cluster: Some(address.clone()),
        timeout: Duration::from_secs(120),
        ..SessionOptions::default()
    };
    let there = open_session(&dir, options).unwrap();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        doomed.0.kill().unwrap();
        doomed.0.wait().unwrap();
    });
    let outcome = there.collect(heavy);
    killer.join().unwrap();
    match outcome {
        Ok((_, got)) => assert_eq!(sorted_lines(&got), expected, "a query that ends gives the right answer"),
        Err(error) => {
            let error = error.to_string();
            assert!(error.starts_with(&format!("on the cluster at {address}")), "a failure says where: {error}");
            assert!(error.contains("an executor was lost while the query ran"), "and why: {error}");
        }
    }
    let count = "SELECT platform, COUNT(*) AS calls FROM calls GROUP BY platform";
    let (_, counted) = there.collect(count).expect("the scheduler serves on");
    let (_, expected) = local(&dir).collect(count).unwrap();
    assert_eq!(sorted_lines(&counted), sorted_lines(&expected));
    assert!(cluster.process.0.try_wait().unwrap().is_none(), "the scheduler is still running");
}
