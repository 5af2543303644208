//! The report scheduler: jobs with cron expressions in a time zone, each scheduled instant
//! reporting the last whole period before it. Every run is recorded in the warehouse table
//! `report_runs`; after downtime each missed period is produced once, never twice; a failed run
//! is retried with backoff; a job holds a lock file while it runs, so two daemons never run it at
//! once. The clock is a parameter, so tests can move time.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use thiserror::Error;

use crate::catalog::TextColumn;
use crate::catalog::schedule::REPORT_RUNS;
use crate::catalog::{Cell, ParquetAppender};
use crate::report::{Period, PeriodKind};
use crate::sql::{SessionOptions, SqlError, open_session};
use crate::warehouse::{Warehouse, WarehouseError};

/// What can go wrong scheduling.
#[derive(Debug, Error)]
pub enum ScheduleError {
    /// The configuration could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration is wrong; names the file, line and reason.
    #[error("{path}:{line}: {reason}")]
    Config {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// Why.
        reason: String,
    },
    /// The warehouse could not be read or written.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// Reading `report_runs` failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// A lock file could not be opened.
    #[error("{path}: {source}")]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing `report_runs` failed.
    #[error("report_runs: {0}")]
    Write(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default, rename = "job")]
    jobs: Vec<JobConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JobConfig {
    name: String,
    cron: String,
    #[serde(default = "default_timezone")]
    timezone: String,
    #[serde(default = "default_report")]
    report: String,
    period: String,
    out: PathBuf,
    #[serde(default)]
    catch_up_from: Option<toml::value::Datetime>,
    #[serde(default = "default_retries")]
    retries: u32,
    #[serde(default = "default_backoff")]
    backoff_seconds: u64,
}

fn default_timezone() -> String {
    "Asia/Shanghai".to_owned()
}

fn default_report() -> String {
    "hotspots".to_owned()
}

fn default_retries() -> u32 {
    3
}

fn default_backoff() -> u64 {
    60
}

/// A scheduled report.
#[derive(Debug, Clone)]
pub struct Job {
    /// Unique name (also the lock file's).
    pub name: String,
    /// When it runs.
    pub cron: cron::Schedule,
    /// The time zone of the cron expression and of the periods.
    pub timezone: Tz,
    /// Report kind (`hotspots`).
    pub report: String,
    /// The period each run covers: the last whole day, week or month before it.
    pub period: PeriodKind,
    /// Output folder.
    pub out: PathBuf,
    /// Missed runs since this local date are caught up; without it, a job never run before
    /// starts with its latest scheduled instant.
    pub catch_up_from: Option<chrono::NaiveDate>,
    /// Retries after a failed attempt.
    pub retries: u32,
    /// Wait before the first retry; doubled for each next one.
    pub backoff: Duration,
}

/// Reads a schedule file (TOML, `[[job]]` tables).
pub fn load(path: &Path) -> Result<Vec<Job>, ScheduleError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScheduleError::Read { path: path.to_owned(), source })?;
    parse(path, &text)
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Parses a schedule; every error names the file, the line and the reason.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Job>, ScheduleError> {
    let error = |line: usize, reason: String| ScheduleError::Config { path: path.to_owned(), line, reason };
    let file: ConfigFile = toml::from_str(text).map_err(|e| {
        let line = e.span().map_or(0, |s| line_of(text, s.start));
        error(line, e.message().to_owned())
    })?;
    // The line of each job's `name`, for errors found after parsing.
    let job_line = |name: &str| text.find(&format!("\"{name}\"")).map_or(0, |offset| line_of(text, offset));
    let mut jobs = Vec::new();
    let mut names = BTreeSet::new();
    for config in file.jobs {
        let line = job_line(&config.name);
        if config.name.is_empty() || !config.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return Err(error(line, format!("job name {:?}: use letters, digits, - and _", config.name)));
        }
        if !names.insert(config.name.clone()) {
            return Err(error(line, format!("job {:?} is defined twice", config.name)));
        }
        // Five fields (minute hour day month weekday) as crontab writes them, or six/seven with seconds.
        let fields = config.cron.split_whitespace().count();
        let expression = if fields == 5 { format!("0 {}", config.cron) } else { config.cron.clone() };
        let cron = cron::Schedule::from_str(&expression)
            .map_err(|e| error(line, format!("job {}: cron {:?}: {e}", config.name, config.cron)))?;
        let timezone: Tz = config
            .timezone
            .parse()
            .map_err(|_| error(line, format!("job {}: unknown time zone {:?}", config.name, config.timezone)))?;
        let period = match config.period.as_str() {
            "day" => PeriodKind::Day,
            "week" => PeriodKind::Week,
            "month" => PeriodKind::Month,
            other => return Err(error(line, format!("job {}: period {other:?}: day, week or month", config.name))),
        };
        let catch_up_from = match &config.catch_up_from {
            None => None,
            Some(value) => Some(chrono::NaiveDate::parse_from_str(&value.to_string(), "%Y-%m-%d").map_err(|_| {
                error(line, format!("job {}: catch_up_from {value}: a date such as 2023-07-01", config.name))
            })?),
        };
        if config.report != "hotspots" {
            return Err(error(line, format!("job {}: report {:?}: only hotspots", config.name, config.report)));
        }
        jobs.push(Job {
            name: config.name,
            cron,
            timezone,
            report: config.report,
            period,
            out: config.out,
            catch_up_from,
            retries: config.retries.min(10),
            backoff: Duration::seconds(config.backoff_seconds.min(86_400) as i64),
        });
    }
    if jobs.is_empty() {
        return Err(error(1, "no [[job]] defined".to_owned()));
    }
    Ok(jobs)
}

/// Time as the scheduler sees it.
pub trait Clock {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
    /// Waits, ending early when `stop` says so (a test clock just moves forward).
    fn sleep(&self, duration: Duration, stop: &dyn Fn() -> bool);
}

/// The machine's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep(&self, duration: Duration, stop: &dyn Fn() -> bool) {
        let until = std::time::Instant::now() + duration.to_std().unwrap_or_default();
        while !stop() {
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(200)));
        }
    }
}

/// The period a run scheduled at `at` reports: the last whole day, week or month before the
/// local date of `at`.
pub fn period_for(job: &Job, at: DateTime<Utc>) -> Period {
    let local = at.with_timezone(&job.timezone).date_naive();
    match job.period {
        PeriodKind::Day => Period::day(local - Duration::days(1)),
        PeriodKind::Week => Period::week_of(local).previous(),
        PeriodKind::Month => Period::month_of(local).previous(),
    }
}

/// What `report_runs` says of a job.
#[derive(Debug, Clone, Default)]
pub struct JobHistory {
    /// Periods produced.
    pub done: BTreeSet<String>,
    /// The latest scheduled instant any attempt was for.
    pub last_scheduled: Option<DateTime<Utc>>,
    /// The earliest scheduled instant of a period attempted but not produced.
    pub pending_since: Option<DateTime<Utc>>,
}

/// Reads a job's history from the warehouse.
pub fn history(warehouse: &Path, job: &str) -> Result<JobHistory, ScheduleError> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
    let session = open_session(warehouse, SessionOptions { audit: false, ..SessionOptions::default() })?;
    let (_, batches) = session.collect(&format!(
        "SELECT period, status, scheduled_for FROM report_runs WHERE job = '{}'",
        job.replace('\'', "''")
    ))?;
    let mut out = JobHistory::default();
    let mut attempted: Vec<(String, DateTime<Utc>)> = Vec::new();
    for batch in &batches {
        let data = |e: datafusion::arrow::error::ArrowError| ScheduleError::Write(e.to_string());
        let period = TextColumn::of(batch.column(0)).map_err(|e| ScheduleError::Write(e.to_string()))?;
        let status = TextColumn::of(batch.column(1)).map_err(|e| ScheduleError::Write(e.to_string()))?;
        let at = datafusion::arrow::compute::cast(batch.column(2), &DataType::Timestamp(TimeUnit::Microsecond, None))
            .map_err(data)?;
        let at = at.as_primitive::<TimestampMicrosecondType>();
        for row in 0..batch.num_rows() {
            if status.get(row) == Some("ok")
                && let Some(p) = period.get(row)
            {
                out.done.insert(p.to_owned());
            }
            if !at.is_null(row)
                && let Some(instant) = DateTime::from_timestamp_micros(at.value(row))
            {
                out.last_scheduled = out.last_scheduled.max(Some(instant));
                attempted.push((period.get(row).unwrap_or_default().to_owned(), instant));
            }
        }
    }
    out.pending_since = attempted.iter().filter(|(p, _)| !out.done.contains(p)).map(|(_, at)| *at).min();
    Ok(out)
}

/// The scheduled instants due by `now` and the periods they report, oldest first, one per
/// period not produced yet: every instant since `catch_up_from`; else since the earliest attempt
/// that produced nothing (a run that failed or was cut off), or after the last attempted instant;
/// for a job never run, only the latest instant.
pub fn due(job: &Job, history: &JobHistory, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, Period)> {
    let now_local = now.with_timezone(&job.timezone);
    let from = job.catch_up_from.and_then(|d| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(job.timezone).earliest())
            .map(|t| t.with_timezone(&Utc))
    });
    // Instants within the last 10 years at most, so a bad catch-up date cannot run forever.
    let floor = now - Duration::days(3660);
    let second = Duration::seconds(1);
    let start = from.map(|f| f - second).or(history.pending_since.map(|p| p - second)).or(history.last_scheduled);
    let instants: Vec<DateTime<Utc>> = match start {
        Some(start) => {
            let start = start.max(floor).with_timezone(&job.timezone);
            job.cron.after(&start).take_while(|t| *t <= now_local).take(5000).map(|t| t.with_timezone(&Utc)).collect()
        }
        None => {
            // Never run and no catch-up date: the latest instant of the last 400 days only.
            let start = (now - Duration::days(400)).with_timezone(&job.timezone);
            job.cron
                .after(&start)
                .take_while(|t| *t <= now_local)
                .last()
                .map(|t| t.with_timezone(&Utc))
                .into_iter()
                .collect()
        }
    };
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for at in instants {
        let period = period_for(job, at);
        let key = period.to_string();
        if !history.done.contains(&key) && seen.insert(key) {
            out.push((at, period));
        }
    }
    out
}

/// One recorded state of a run.
#[derive(Debug, Clone)]
pub struct RunRecord {
    /// Job.
    pub job: String,
    /// Period reported.
    pub period: Period,
    /// Scheduled instant.
    pub scheduled_for: DateTime<Utc>,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// `running`, `ok`, `failed` (will be retried), `gave_up` (retries exhausted).
    pub status: &'static str,
    /// Started.
    pub started_at: DateTime<Utc>,
    /// Ended (None while running).
    pub finished_at: Option<DateTime<Utc>>,
    /// Folder written.
    pub output: Option<PathBuf>,
    /// Why it failed.
    pub error: Option<String>,
}

/// Appends a row to `report_runs` in its own commit (earlier rows are carried over).
pub fn record(warehouse: &Warehouse, run: &RunRecord) -> Result<(), ScheduleError> {
    let commit = warehouse.begin()?.by("schedule");
    let snapshot = commit.id();
    commit.keep(REPORT_RUNS.name, |_| false)?;
    let dir = commit.table_dir(REPORT_RUNS.name)?;
    let mut out = ParquetAppender::new(dir.join(format!("run={snapshot:08}.parquet")), REPORT_RUNS.columns);
    let period = run.period.to_string();
    let output = run.output.as_ref().map(|p| p.display().to_string());
    let who = format!("{}:{}", hostname(), std::process::id());
    out.push(&[
        Cell::Text(Some(&run.job)),
        Cell::Text(Some("hotspots")),
        Cell::Text(Some(&period)),
        Cell::Time(Some(run.scheduled_for.timestamp_micros())),
        Cell::Int(Some(i64::from(run.attempt))),
        Cell::Text(Some(run.status)),
        Cell::Time(Some(run.started_at.timestamp_micros())),
        Cell::Time(run.finished_at.map(|t| t.timestamp_micros())),
        Cell::Text(output.as_deref()),
        Cell::Text(run.error.as_deref()),
        Cell::Text(Some(&who)),
    ])
    .map_err(|e| ScheduleError::Write(e.to_string()))?;
    out.finish().map_err(|e| ScheduleError::Write(e.to_string()))?;
    commit.commit()?;
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "localhost".to_owned())
}

/// A job's lock, held while it runs; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct JobLock {
    _file: File,
}

/// Takes a job's lock without waiting: `None` when another process (or another scheduler in this
/// one) holds it.
pub fn try_lock(warehouse: &Path, job: &str) -> Result<Option<JobLock>, ScheduleError> {
    let dir = warehouse.join(".schedule");
    std::fs::create_dir_all(&dir).map_err(|source| ScheduleError::Lock { path: dir.clone(), source })?;
    let path = dir.join(format!("{job}.lock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| ScheduleError::Lock { path: path.clone(), source })?;
    match file.try_lock() {
        Ok(()) => Ok(Some(JobLock { _file: file })),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(source)) => Err(ScheduleError::Lock { path, source }),
    }
}

/// What one pass did for one job.
#[derive(Debug, Clone, Default)]
pub struct PassOutcome {
    /// Runs that ended, in order (every attempt).
    pub records: Vec<RunRecord>,
    /// Jobs skipped because another process held their lock.
    pub locked: Vec<String>,
}

/// Why a run failed, as the runner tells it (recorded in `schedule_runs.error`).
pub type RunFailure = Box<dyn std::error::Error + Send + Sync>;

/// Makes a report: returns the folder written, or why it failed.
pub type Runner<'a> = dyn FnMut(&Job, Period) -> Result<PathBuf, RunFailure> + 'a;

/// Runs every due period of every job once, oldest first, retrying failures with backoff;
/// `stop` is asked between runs and before each retry (SIGTERM: the run in hand finishes, nothing
/// new starts).
pub fn run_due(
    warehouse: &Warehouse,
    jobs: &[Job],
    clock: &dyn Clock,
    runner: &mut Runner<'_>,
    stop: &dyn Fn() -> bool,
) -> Result<PassOutcome, ScheduleError> {
    let mut outcome = PassOutcome::default();
    for job in jobs {
        if stop() {
            break;
        }
        let Some(_lock) = try_lock(warehouse.dir(), &job.name)? else {
            outcome.locked.push(job.name.clone());
            continue;
        };
        // Read under the lock: another daemon may have just produced a period.
        let history = history(warehouse.dir(), &job.name)?;
        for (scheduled_for, period) in due(job, &history, clock.now()) {
            if stop() {
                break;
            }
            let attempts = job.retries + 1;
            for attempt in 1..=attempts {
                let started_at = clock.now();
                let mut run = RunRecord {
                    job: job.name.clone(),
                    period,
                    scheduled_for,
                    attempt,
                    status: "running",
                    started_at,
                    finished_at: None,
                    output: None,
                    error: None,
                };
                record(warehouse, &run)?;
                let result = runner(job, period);
                run.finished_at = Some(clock.now());
                match result {
                    Ok(folder) => {
                        run.status = "ok";
                        run.output = Some(folder);
                    }
                    Err(why) => {
                        run.status = if attempt == attempts { "gave_up" } else { "failed" };
                        run.error = Some(why.to_string());
                    }
                }
                record(warehouse, &run)?;
                let ok = run.status == "ok";
                outcome.records.push(run);
                if ok || attempt == attempts || stop() {
                    break;
                }
                clock.sleep(job.backoff * 2i32.pow(attempt - 1), stop);
            }
        }
    }
    Ok(outcome)
}

/// The next scheduled instant of any job after `now`.
pub fn next_instant(jobs: &[Job], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    jobs.iter()
        .filter_map(|job| job.cron.after(&now.with_timezone(&job.timezone)).next().map(|t| t.with_timezone(&Utc)))
        .min()
}

/// The runner of real reports: gathers and writes a hotspot report for the period.
pub fn report_runner(warehouse: &Path) -> impl FnMut(&Job, Period) -> Result<PathBuf, RunFailure> + '_ {
    move |job, period| {
        let data = crate::report::gather(warehouse, period)?;
        Ok(crate::report::write_report(&data, &job.out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_errors_name_the_line() {
        let path = Path::new("schedule.toml");
        let good = "[[job]]\nname = \"weekly\"\ncron = \"0 8 * * Mon\"\nperiod = \"week\"\nout = \"reports\"\n";
        let jobs = parse(path, good).unwrap();
        assert_eq!(jobs[0].timezone, chrono_tz::Asia::Shanghai);
        assert_eq!((jobs[0].retries, jobs[0].backoff), (3, Duration::seconds(60)));
        let bad_cron = good.replace("0 8 * * Mon", "0 8 * *");
        let error = parse(path, &bad_cron).unwrap_err().to_string();
        assert!(error.starts_with("schedule.toml:2: job weekly: cron"), "{error}");
        let unknown = format!("{good}colour = \"red\"\n");
        let error = parse(path, &unknown).unwrap_err().to_string();
        assert!(error.starts_with("schedule.toml:6:"), "{error}");
        let zone = good.replace("period", "timezone = \"Mars/Olympus\"\nperiod");
        assert!(parse(path, &zone).unwrap_err().to_string().contains("unknown time zone"));
        let twice = format!("{good}{good}");
        assert!(parse(path, &twice).unwrap_err().to_string().contains("defined twice"));
    }

    #[test]
    fn a_run_reports_the_last_whole_period_before_it_in_its_time_zone() {
        let jobs = parse(
            Path::new("s.toml"),
            "[[job]]\nname = \"w\"\ncron = \"30 0 * * Mon\"\nperiod = \"week\"\nout = \"r\"\n\
             [[job]]\nname = \"m\"\ncron = \"0 6 1 * *\"\nperiod = \"month\"\nout = \"r\"\n",
        )
        .unwrap();
        // Monday 31 July 2023 00:30 in Shanghai is still Sunday 30 July in UTC.
        let at = DateTime::parse_from_rfc3339("2023-07-30T16:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(period_for(&jobs[0], at).to_string(), "2023-W30");
        let at = DateTime::parse_from_rfc3339("2023-07-31T22:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(period_for(&jobs[1], at).to_string(), "2023-07");
        assert_eq!(
            next_instant(&jobs[..1], at),
            Some(DateTime::parse_from_rfc3339("2023-08-06T16:30:00Z").unwrap().with_timezone(&Utc))
        );
    }
}
