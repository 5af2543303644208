//! `hotline cluster scheduler` and `hotline cluster executor`: thin wrappers that start Apache
//! DataFusion Ballista's scheduler and executor with this crate's functions (the `cluster`
//! feature).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

/// `hotline cluster …`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Run a Ballista scheduler: clients (`hotline sql --cluster HOST:PORT`) send it queries, it
    /// plans them into stages and hands the tasks to executors.
    Scheduler {
        /// Address to listen on (loopback by default; port 0 picks a free port, printed at start).
        #[arg(long, default_value = "127.0.0.1:50050")]
        bind: SocketAddr,
        /// Seconds without a heartbeat after which an executor is taken as lost and its tasks
        /// are run again elsewhere.
        #[arg(long, default_value_t = 30)]
        executor_timeout: u64,
        /// Attempts of a task before its query fails.
        #[arg(long, default_value_t = 4)]
        task_attempts: usize,
    },
    /// Run a Ballista executor: it asks the scheduler for tasks, reads the warehouse's files
    /// itself (the same path as the clients', e.g. on a shared file system) and serves its results.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, env = "HOTLINE_CLUSTER")]
        scheduler: String,
        /// Address for results (loopback by default; port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0")]
        bind: SocketAddr,
        /// Tasks run at once (default: one per core).
        #[arg(long, default_value_t = 0)]
        concurrency: usize,
        /// Folder for intermediate results (default: one under the system's temporary folder).
        #[arg(long)]
        work_dir: Option<PathBuf>,
        /// Seconds between heartbeats to the scheduler.
        #[arg(long, default_value_t = 5)]
        heartbeat: u64,
    },
}

/// Runs `hotline cluster …` until interrupted.
#[cfg(feature = "cluster")]
pub fn run_cluster(command: ClusterCommand) -> Result<ExitCode> {
    use anyhow::Context;
    use std::io::Write;

    use crate::sql::cluster::{ExecutorOptions, Scheduler, SchedulerOptions, run_executor};

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("hotline-cluster")
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()?;
    match command {
        ClusterCommand::Scheduler { bind, executor_timeout, task_attempts } => runtime.block_on(async {
            let listener =
                tokio::net::TcpListener::bind(bind).await.with_context(|| format!("cannot listen on {bind}"))?;
            let scheduler = Scheduler::new(listener, SchedulerOptions { executor_timeout, task_attempts }).await?;
            let address = scheduler.address()?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "scheduler listening on {address}")?;
            writeln!(out, "start executors with: hotline cluster executor --scheduler {address}")?;
            out.flush()?;
            drop(out);
            tokio::select! {
                served = scheduler.serve() => served?,
                _ = tokio::signal::ctrl_c() => {}
            }
            Ok(ExitCode::SUCCESS)
        }),
        ClusterCommand::Executor { scheduler, bind, concurrency, work_dir, heartbeat } => runtime.block_on(async {
            eprintln!("executor for the scheduler at {scheduler}");
            let options = ExecutorOptions { scheduler, bind, concurrency, work_dir, heartbeat };
            run_executor(options).await?;
            Ok(ExitCode::SUCCESS)
        }),
    }
}

/// Without the `cluster` feature there is no Ballista to start.
#[cfg(not(feature = "cluster"))]
pub fn run_cluster(_command: ClusterCommand) -> Result<ExitCode> {
    anyhow::bail!(
        "this hotline was built without the cluster feature; build it with `cargo build --release --features cluster`"
    )
}
