//! The scheduler with a clock the test moves: catch-up after downtime, no period twice, retry
//! with backoff, one runner per job across processes, a run cut off mid-way done again, SIGTERM.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use hotline::report::Period;
use hotline::schedule::{Clock, Job, JobHistory, RunRecord, history, parse, record, run_due, try_lock};
use hotline::warehouse::{Warehouse, init};

struct TestClock {
    now: Cell<DateTime<Utc>>,
    slept: RefCell<Vec<Duration>>,
}

impl TestClock {
    fn at(rfc3339: &str) -> TestClock {
        TestClock { now: Cell::new(utc(rfc3339)), slept: RefCell::new(Vec::new()) }
    }

    fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        self.now.get()
    }

    fn sleep(&self, duration: Duration, _stop: &dyn Fn() -> bool) {
        self.slept.borrow_mut().push(duration);
        self.advance(duration);
    }
}

fn utc(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn warehouse(name: &str) -> Warehouse {
    let dir = crate::util::scratch(name).join("wh");
    init(&dir).unwrap();
    Warehouse::open(&dir).unwrap()
}

/// A weekly job at 08:00 on Mondays, Shanghai time, caught up from 1 July 2023.
fn weekly(out: &Path, extra: &str) -> Vec<Job> {
    let text = format!(
        "[[job]]\nname = \"weekly\"\ncron = \"0 8 * * Mon\"\nperiod = \"week\"\nout = \"{}\"\n\
         catch_up_from = 2023-07-01\nbackoff_seconds = 60\n{extra}",
        out.display()
    );
    parse(Path::new("schedule.toml"), &text).unwrap()
}

fn produced(warehouse: &Warehouse) -> Vec<(String, String)> {
    let session = hotline::sql::open_session(
        warehouse.dir(),
        hotline::sql::SessionOptions { audit: false, ..Default::default() },
    )
    .unwrap();
    let (_, batches) =
        session.collect("SELECT period, status FROM report_runs ORDER BY started_at, status DESC").unwrap();
    let mut out = Vec::new();
    for batch in &batches {
        let period = hotline::catalog::TextColumn::of(batch.column(0)).unwrap();
        let status = hotline::catalog::TextColumn::of(batch.column(1)).unwrap();
        for row in 0..batch.num_rows() {
            out.push((period.get(row).unwrap().to_owned(), status.get(row).unwrap().to_owned()));
        }
    }
    out
}

fn ok_periods(warehouse: &Warehouse) -> Vec<String> {
    produced(warehouse).into_iter().filter(|(_, s)| s == "ok").map(|(p, _)| p).collect()
}

fn fake_report(
    made: &RefCell<Vec<String>>,
) -> impl FnMut(&Job, Period) -> Result<PathBuf, hotline::schedule::RunFailure> + '_ {
    move |_, period| {
        made.borrow_mut().push(period.to_string());
        Ok(PathBuf::from(format!("reports/hotspots-{period}")))
    }
}

#[test]
fn after_downtime_each_missed_period_is_produced_once_and_never_twice() {
    let warehouse = warehouse("schedule-catch-up");
    let jobs = weekly(Path::new("reports"), "");
    // Down since July; started on Monday 31 July at 09:00 Shanghai.
    let clock = TestClock::at("2023-07-31T01:00:00Z");
    let made = RefCell::new(Vec::new());
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    assert_eq!(*made.borrow(), ["2023-W26", "2023-W27", "2023-W28", "2023-W29", "2023-W30"]);
    // Run again at once, and again an hour later: nothing is due.
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    clock.advance(Duration::hours(1));
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    assert_eq!(made.borrow().len(), 5);
    // A week later, the new week only.
    clock.advance(Duration::days(7));
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    assert_eq!(made.borrow().last().unwrap(), "2023-W31");
    let mut ok = ok_periods(&warehouse);
    ok.sort();
    assert_eq!(ok, ["2023-W26", "2023-W27", "2023-W28", "2023-W29", "2023-W30", "2023-W31"]);
    // Every attempt is recorded twice: running, then how it ended.
    assert_eq!(produced(&warehouse).len(), 12);
}

#[test]
fn a_failed_run_is_retried_with_backoff_and_recorded() {
    let warehouse = warehouse("schedule-retry");
    let jobs = weekly(Path::new("reports"), "retries = 2\n");
    let clock = TestClock::at("2023-07-10T01:00:00Z");
    let attempts = Cell::new(0);
    // W26 fails once then succeeds; W27 never succeeds.
    let mut flaky = |_: &Job, period: Period| {
        attempts.set(attempts.get() + 1);
        match (period.to_string().as_str(), attempts.get()) {
            ("2023-W26", 1) => Err("warehouse busy".into()),
            ("2023-W26", _) => Ok(PathBuf::from("reports/hotspots-2023-W26")),
            _ => Err("disk full".into()),
        }
    };
    let outcome = run_due(&warehouse, &jobs, &clock, &mut flaky, &|| false).unwrap();
    let statuses: Vec<(String, &str)> = outcome.records.iter().map(|r| (r.period.to_string(), r.status)).collect();
    assert_eq!(
        statuses,
        [
            ("2023-W26".to_owned(), "failed"),
            ("2023-W26".to_owned(), "ok"),
            ("2023-W27".to_owned(), "failed"),
            ("2023-W27".to_owned(), "failed"),
            ("2023-W27".to_owned(), "gave_up"),
        ]
    );
    // Backoff doubles: 60 s after the first failure of each period, then 120 s.
    assert_eq!(*clock.slept.borrow(), [Duration::seconds(60), Duration::seconds(60), Duration::seconds(120)]);
    assert_eq!(outcome.records[4].error.as_deref(), Some("disk full"));
    // The period that gave up is tried again on the next pass; the produced one is not.
    let again = RefCell::new(Vec::new());
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&again), &|| false).unwrap();
    assert_eq!(*again.borrow(), ["2023-W27"]);
}

#[test]
fn a_job_never_runs_twice_at_once() {
    let warehouse = warehouse("schedule-lock");
    let jobs = weekly(Path::new("reports"), "");
    let clock = TestClock::at("2023-07-31T01:00:00Z");
    // Another daemon holds the job's lock: this one skips the job.
    let held = try_lock(warehouse.dir(), "weekly").unwrap().expect("free");
    let made = RefCell::new(Vec::new());
    let outcome = run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    assert_eq!(outcome.locked, ["weekly"]);
    assert!(made.borrow().is_empty());
    drop(held);
    // Two schedulers at once on threads (separate lock handles, as two processes have): each
    // period is produced once between them.
    let dir = warehouse.dir().to_owned();
    let made_in_threads: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (dir, jobs) = (dir.clone(), jobs.clone());
                scope.spawn(move || {
                    let warehouse = Warehouse::open(&dir).unwrap();
                    let clock = TestClock::at("2023-07-31T01:00:00Z");
                    let made = RefCell::new(Vec::new());
                    let mut slow = |_: &Job, period: Period| {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        made.borrow_mut().push(period.to_string());
                        Ok(PathBuf::from("x"))
                    };
                    run_due(&warehouse, &jobs, &clock, &mut slow, &|| false).unwrap();
                    made.into_inner()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<String> = made_in_threads.concat();
    all.sort();
    assert_eq!(all, ["2023-W26", "2023-W27", "2023-W28", "2023-W29", "2023-W30"]);
    assert_eq!(ok_periods(&warehouse).len(), 5);
}

#[test]
fn a_run_cut_off_mid_way_is_done_again_once_after_a_restart() {
    let warehouse = warehouse("schedule-restart");
    let jobs = weekly(Path::new("reports"), "");
    let clock = TestClock::at("2023-07-17T01:00:00Z");
    let made = RefCell::new(Vec::new());
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    assert_eq!(*made.borrow(), ["2023-W26", "2023-W27", "2023-W28"]);
    // A week later the daemon starts W29 and the machine goes down: only "running" is recorded.
    clock.advance(Duration::days(7));
    let period = Period::parse("2023-W29", clock.now().date_naive()).unwrap();
    let started = RunRecord {
        job: "weekly".into(),
        period,
        scheduled_for: utc("2023-07-24T00:00:00Z"),
        attempt: 1,
        status: "running",
        started_at: clock.now(),
        finished_at: None,
        output: None,
        error: None,
    };
    record(&warehouse, &started).unwrap();
    let seen: JobHistory = history(warehouse.dir(), "weekly").unwrap();
    assert!(!seen.done.contains("2023-W29") && seen.pending_since.is_some());
    // After the restart W29 is produced, once, and later passes leave it alone.
    clock.advance(Duration::hours(2));
    made.borrow_mut().clear();
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &|| false).unwrap();
    assert_eq!(*made.borrow(), ["2023-W29"]);
    assert_eq!(ok_periods(&warehouse).iter().filter(|p| *p == "2023-W29").count(), 1);
}

#[test]
fn stopping_between_runs_starts_nothing_new() {
    let warehouse = warehouse("schedule-stop");
    let jobs = weekly(Path::new("reports"), "");
    let clock = TestClock::at("2023-07-31T01:00:00Z");
    let made = RefCell::new(Vec::new());
    // SIGTERM arrives during the first run: it finishes and is recorded; no other starts.
    let stop = || !made.borrow().is_empty();
    run_due(&warehouse, &jobs, &clock, &mut fake_report(&made), &stop).unwrap();
    assert_eq!(*made.borrow(), ["2023-W26"]);
    assert_eq!(
        produced(&warehouse),
        [("2023-W26".to_owned(), "running".to_owned()), ("2023-W26".to_owned(), "ok".to_owned())]
    );
}

#[test]
fn the_daemon_writes_real_reports_and_stops_cleanly_on_sigterm() {
    let dir = crate::util::scratch("schedule-daemon");
    let wh = dir.join("wh");
    crate::util::copy_dir(&crate::util::sample_warehouse(), &wh);
    let out = dir.join("reports");
    // Every minute, reporting yesterday: the latest instant is due at once (the sample holds
    // 2023, so yesterday's report is empty but complete).
    let config = dir.join("schedule.toml");
    std::fs::write(
        &config,
        format!("[[job]]\nname = \"daily\"\ncron = \"* * * * *\"\nperiod = \"day\"\nout = \"{}\"\n", out.display()),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["schedule", "--config", config.to_str().unwrap(), "--warehouse", wh.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the first report, then SIGTERM.
    let warehouse = Warehouse::open(&wh).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while ok_periods(&warehouse).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let killed = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("stopped"));
    let periods = ok_periods(&warehouse);
    assert_eq!(periods.len(), 1, "{periods:?}");
    let folder = out.join(format!("hotspots-{}", periods[0]));
    assert!(folder.join("report.html").is_file() && folder.join("report.md").is_file());
    // Every run that started also ended.
    let rows = produced(&warehouse);
    assert_eq!(
        rows.iter().filter(|(_, s)| s == "running").count(),
        rows.iter().filter(|(_, s)| s != "running").count()
    );
}
