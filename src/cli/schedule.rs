//! `hotline schedule`: runs scheduled reports as a daemon, or once (from system cron).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result};
use clap::Args;

use crate::schedule::{PassOutcome, SystemClock, load, next_instant, report_runner, run_due};
use crate::warehouse::Warehouse;

/// `hotline schedule`.
#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Schedule file: `[[job]]` tables with name, cron (5 fields, or 6–7 with seconds), timezone
    /// (default Asia/Shanghai), period (day, week, month), out, and optionally catch_up_from,
    /// retries, backoff_seconds.
    #[arg(long)]
    config: PathBuf,
    /// Run what is due and exit (for system cron).
    #[arg(long)]
    once: bool,
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
}

fn print_outcome(outcome: &PassOutcome) {
    for run in outcome.records.iter() {
        let what =
            run.output.as_ref().map_or_else(|| run.error.clone().unwrap_or_default(), |p| p.display().to_string());
        println!("{} {} attempt {}: {} {}", run.job, run.period, run.attempt, run.status, what);
    }
    for job in &outcome.locked {
        println!("{job}: another process is running it; skipped");
    }
}

/// Runs `hotline schedule`.
pub fn run_schedule(args: ScheduleArgs) -> Result<ExitCode> {
    let jobs = load(&args.config)?;
    let warehouse = Warehouse::open(&args.warehouse)?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut runner = report_runner(&args.warehouse);
    if args.once {
        let outcome = run_due(&warehouse, &jobs, &SystemClock, &mut runner, &|| false)?;
        print_outcome(&outcome);
        let failed = outcome.records.iter().any(|r| r.status == "gave_up");
        return Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }
    // SIGTERM or Ctrl-C: the run in hand finishes and is recorded, nothing new starts.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (wake, mut woken) = tokio::sync::watch::channel(false);
    {
        let stop = stop.clone();
        std::thread::Builder::new().name("signals".into()).spawn(move || {
            let signals = tokio::runtime::Builder::new_current_thread().enable_all().build();
            let Ok(signals) = signals else { return };
            signals.block_on(async {
                let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
                    return;
                };
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                stop.store(true, Ordering::SeqCst);
                let _ = wake.send(true);
            });
        })?;
    }
    println!("scheduling {} job(s) from {}; SIGTERM stops after the run in hand", jobs.len(), args.config.display());
    loop {
        let outcome = run_due(&warehouse, &jobs, &SystemClock, &mut runner, &|| stop.load(Ordering::SeqCst))
            .context("a scheduled pass failed")?;
        print_outcome(&outcome);
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let now = chrono::Utc::now();
        let Some(next) = next_instant(&jobs, now) else { break };
        let wait = (next - now).to_std().unwrap_or_default();
        let stopped = runtime.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(wait) => false,
                _ = woken.changed() => true,
            }
        });
        if stopped {
            break;
        }
    }
    println!("stopped");
    Ok(ExitCode::SUCCESS)
}
