//! The command-line delivery layer: parses arguments into settings, calls the engine and prints; nothing else lives here.

pub mod cluster;
pub mod hotspots;
pub mod link;
pub mod report;
pub mod resolve;
pub mod schedule;
pub mod serve;
pub mod sql;
pub mod table;

use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use crate::contract::Table;
use crate::demo::{DemoReport, DemoSettings, FileCheck, run_demo};
use crate::generate::{GenerateConfig, GenerateSummary, MIN_CALLS_TO_PLANT, OutputFormat, generate};
use crate::source::validate_file;
use table::{Align, write_table};

/// Stack size of the thread that runs commands (DataFusion plans deep queries recursively).
const MAIN_STACK_BYTES: usize = 64 * 1024 * 1024;

/// Analytics and repeat-caller intelligence for 110 / 12345 hotline data.
#[derive(Debug, Parser)]
#[command(name = "hotline", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a calibrated synthetic batch (calls, work orders) with ground truth.
    Generate(GenerateArgs),
    /// Check export files against the data contract and list every row that breaks it.
    Validate(ValidateArgs),
    /// Run every stage on freshly generated data and print what it found.
    Demo(DemoArgs),
    /// Lay out a new warehouse and its pseudonymisation key (HOTLINE_KEY, or a 0600 key file beside the folder).
    Init(InitArgs),
    /// Ingest export files into the warehouse as one batch: validate, normalise, pseudonymise, commit atomically.
    Ingest(IngestArgs),
    /// Query the warehouse in SQL: one statement, a file (-f), or the interactive shell.
    Sql(sql::SqlArgs),
    /// The named queries: every headline figure, transfer matrix, SLA league table …
    Query {
        #[command(subcommand)]
        command: sql::QueryCommand,
    },
    /// Resolve callers into entities (one per real person) across phones, name variants and platforms.
    Resolve(resolve::ResolveArgs),
    /// Link incidents: evidence between calls, ties between callers, and leads (organised series).
    Link(link::LinkArgs),
    /// The leads `link` found, best first, with their evidence.
    Leads(link::LeadsArgs),
    /// Explore the graph of linked incidents: neighbours, paths, expansion, export.
    Graph(link::GraphArgs),
    /// Dispute hotspots: Gi* over a space-time cube, Mann–Kendall trends, emerging hot spot categories.
    Hotspots(hotspots::HotspotArgs),
    /// Reports for duty officers: `report hotspots --period 2023-W30 --out DIR`.
    Report(report::ReportArgs),
    /// Run scheduled reports (cron expressions, time zone, catch-up, retries, one runner per job).
    Schedule(schedule::ScheduleArgs),
    /// The investigators' explorer: a web application over the warehouse (leads, graph, cards, reviews).
    Serve(serve::ServeArgs),
    /// Users of the explorer: `users add NAME --role investigator`, `users list`, `users remove NAME`.
    Users(serve::UsersArgs),
    /// The warehouse's own state: `warehouse snapshots` lists the kept commits.
    Warehouse {
        #[command(subcommand)]
        command: WarehouseCommand,
    },
    /// The audit log's chain: `audit verify` names the first edited, removed or inserted record;
    /// `audit seal` appends a keyed record that seals those written without the key.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Run SQL on several machines: a Ballista scheduler and executors (`hotline sql --cluster`).
    Cluster {
        #[command(subcommand)]
        command: cluster::ClusterCommand,
    },
    /// Measure a stage against generator truth.
    Eval {
        #[command(subcommand)]
        command: resolve::EvalCommand,
    },
}

/// `hotline warehouse`.
#[derive(Debug, Subcommand)]
enum WarehouseCommand {
    /// The committed snapshots still kept, oldest first: number, commit time and rows by table
    /// (`hotline sql --snapshot N` reads one).
    Snapshots {
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
    /// Copy the current snapshot to a new folder as a warehouse of its own (commits may go on
    /// meanwhile); the key is not copied: keep it apart.
    Backup {
        /// New or empty folder for the backup.
        to: PathBuf,
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
    /// Bring a backup back as a new warehouse (a new or empty folder).
    Restore {
        /// The backup's folder.
        backup: PathBuf,
        /// Warehouse folder to create.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
    /// Write the current calls and work orders back out as the data contract's CSV files, with
    /// the raw personal data (investigators' data: the files are 0600): to ingest them into a new
    /// warehouse under a new key when the key is rotated.
    ExportSource {
        /// Folder for calls.csv and work_orders.csv (existing files are never overwritten).
        to: PathBuf,
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
    /// Remove the snapshots the retention lets go (the manifest's, or --keep / --older-than given
    /// here), never the current one, never one a running session reads, and free their files.
    Vacuum {
        #[command(flatten)]
        retention: RetentionArgs,
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
    /// Show the retention kept in the manifest, or set it (it governs every later commit and
    /// vacuum).
    Retention {
        #[command(flatten)]
        retention: RetentionArgs,
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
}

/// A retention given on the command line, over the one kept in the manifest.
#[derive(Debug, Args)]
struct RetentionArgs {
    /// Earlier snapshots to keep besides the current one, whatever their age.
    #[arg(long)]
    keep: Option<u64>,
    /// Keep also every snapshot that was current within this period (`90d`, `12h`, `2w`; `0` for none).
    #[arg(long, value_parser = parse_age)]
    older_than: Option<u64>,
}

impl RetentionArgs {
    fn given(&self) -> bool {
        self.keep.is_some() || self.older_than.is_some()
    }

    /// `base` with what was given here put over it.
    fn over(&self, mut base: crate::warehouse::Retention) -> crate::warehouse::Retention {
        base.keep = self.keep.unwrap_or(base.keep);
        if let Some(secs) = self.older_than {
            base.older_than_secs = (secs > 0).then_some(secs);
        }
        base
    }
}

/// A period such as `90d`, `12h`, `2w`, `30m` or `45s`, in seconds.
fn parse_age(text: &str) -> std::result::Result<u64, String> {
    let text = text.trim();
    if text == "0" {
        return Ok(0);
    }
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: a number and a unit, such as 90d, 12h or 2w"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h, d or w (90d, 12h, 2w)")),
    };
    n.checked_mul(unit).ok_or_else(|| format!("{text:?}: too long a period"))
}

fn describe_retention(r: crate::warehouse::Retention) -> String {
    match r.older_than_secs {
        Some(secs) if secs > 0 => format!(
            "keep {} snapshot(s) before the current one, and every one current within the last {}",
            r.keep,
            if secs % 86_400 == 0 { format!("{} day(s)", secs / 86_400) } else { format!("{secs} s") }
        ),
        _ => format!("keep {} snapshot(s) before the current one", r.keep),
    }
}

/// `hotline audit`.
#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check every record of the audit log against the warehouse key (needs the key); exits 1 and
    /// names the first broken record.
    Verify {
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
    /// Append a keyed record, sealing the records written by sessions that had no key.
    Seal {
        /// Warehouse folder.
        #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
        warehouse: PathBuf,
    },
}

fn run_audit(command: AuditCommand) -> Result<ExitCode> {
    use crate::sql::audit;
    match command {
        AuditCommand::Seal { warehouse } => {
            crate::warehouse::Warehouse::open(&warehouse)?;
            let log = audit::AuditLog::open(&warehouse, crate::sql::Role::Investigator)?;
            log.seal()?;
            println!("sealed the audit log of {}", warehouse.display());
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Verify { warehouse } => {
            crate::warehouse::Warehouse::open(&warehouse)?;
            let key_file = crate::warehouse::key_file_for(&warehouse);
            let key = crate::pseudonym::PseudonymKey::resolve(&key_file)
                .context("verifying the audit log needs the warehouse key")?;
            let done = audit::verify(&warehouse, &key)?;
            let mut out = std::io::stdout().lock();
            if let Some(broken) = &done.broken {
                writeln!(
                    out,
                    "BROKEN at {} line {}: {}\n{} record(s) before it verified",
                    broken.file.display(),
                    broken.line,
                    broken.reason,
                    done.records
                )?;
                return Ok(ExitCode::from(1));
            }
            writeln!(
                out,
                "{} record(s) in {} file(s) verified: {} keyed, {} written before the chain began",
                done.records, done.files, done.keyed, done.unchained
            )?;
            if let Some((seq, chain)) = &done.last {
                writeln!(out, "last record {seq}, chain value {chain} (keep it elsewhere: it shows a log cut short)")?;
            }
            if done.unsealed > 0 {
                writeln!(
                    out,
                    "{} record(s) at the end were written without the key and are not sealed yet; run `hotline audit seal`",
                    done.unsealed
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Lists the kept snapshots with the rows of each table (history tables and empty ones left out),
/// or removes old ones.
fn run_warehouse(command: WarehouseCommand) -> Result<ExitCode> {
    let warehouse = match command {
        WarehouseCommand::Snapshots { warehouse } => warehouse,
        WarehouseCommand::Backup { to, warehouse } => {
            let id = crate::warehouse::Warehouse::open(&warehouse)?
                .backup(&to)
                .with_context(|| format!("cannot back {} up to {}", warehouse.display(), to.display()))?;
            println!("snapshot {id} of {} backed up to {} (the key is not in it)", warehouse.display(), to.display());
            return Ok(ExitCode::SUCCESS);
        }
        WarehouseCommand::Restore { backup, warehouse } => {
            let id = crate::warehouse::restore(&backup, &warehouse)
                .with_context(|| format!("cannot restore {} as {}", backup.display(), warehouse.display()))?;
            println!(
                "snapshot {id} restored as {} (its pseudonyms need the key it was made with)",
                warehouse.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        WarehouseCommand::Retention { retention: given, warehouse } => {
            let opened = crate::warehouse::Warehouse::open(&warehouse)?;
            let retention = given.over(opened.retention()?);
            if given.given() {
                opened.set_retention(retention)?;
            }
            println!("{}: {}", warehouse.display(), describe_retention(retention));
            return Ok(ExitCode::SUCCESS);
        }
        WarehouseCommand::ExportSource { to, warehouse } => {
            let options = crate::sql::SessionOptions { role: crate::sql::Role::Investigator, ..Default::default() };
            let session = crate::sql::open_session(&warehouse, options)
                .with_context(|| format!("cannot open the warehouse {}", warehouse.display()))?;
            let done = crate::sql::export::export_source(&session, &to)
                .with_context(|| format!("cannot export {} to {}", warehouse.display(), to.display()))?;
            println!(
                "{} calls and {} work orders of snapshot {} written to {} as contract CSV, with raw personal data: \
                 keep them as closed as the warehouse, and remove them once ingested",
                done.calls,
                done.work_orders,
                session.snapshot(),
                to.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        WarehouseCommand::Vacuum { retention: given, warehouse } => {
            let opened = crate::warehouse::Warehouse::open(&warehouse)?;
            let retention = given.over(opened.retention()?);
            let done = opened.vacuum(Some(retention))?;
            let keep = describe_retention(retention);
            let list = |ids: &[u64]| ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            let mut out = std::io::stdout().lock();
            match done.removed.as_slice() {
                [] => writeln!(out, "nothing to remove ({keep})")?,
                removed => writeln!(
                    out,
                    "removed snapshot(s) {}; {:.1} MB freed",
                    list(removed),
                    done.bytes as f64 / 1_000_000.0
                )?,
            }
            if !done.held.is_empty() {
                writeln!(out, "kept snapshot(s) {}: a running session reads them", list(&done.held))?;
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let opened = crate::warehouse::Warehouse::open(&warehouse)?;
    let snapshots = opened.snapshots()?;
    let mut out = std::io::stdout().lock();
    if snapshots.is_empty() {
        writeln!(out, "no snapshot: nothing has been committed to {}", warehouse.display())?;
        return Ok(ExitCode::SUCCESS);
    }
    for snapshot in &snapshots {
        let at: chrono::DateTime<chrono::Utc> = snapshot.committed.into();
        let mut counts = Vec::new();
        for table in snapshot.tables.iter().filter(|t| !t.ends_with("_history")) {
            let rows = snapshot.rows(table)?;
            if rows > 0 {
                counts.push(format!("{table} {rows}"));
            }
        }
        let mark = if snapshot.current { "  (current)" } else { "" };
        let by = snapshot.command.as_deref().map(|c| format!("  {c}")).unwrap_or_default();
        writeln!(out, "snapshot {}  {}{by}{mark}", snapshot.id, at.format("%Y-%m-%d %H:%M:%S UTC"))?;
        // Rows by table, wrapped to fit a terminal.
        let mut line = String::from("   ");
        for count in counts {
            if line.len() > 3 && line.len() + count.len() > 76 {
                writeln!(out, "{line}")?;
                line = String::from("   ");
            }
            line.push(' ');
            line.push_str(&count);
        }
        writeln!(out, "{line}")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
struct IngestArgs {
    /// Export files (.csv, .jsonl, .ndjson, .parquet); a file ingested before (same content) is skipped.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
    /// Table of the files (detected from the columns when omitted).
    #[arg(long, value_parser = parse_table)]
    table: Option<Table>,
}

#[derive(Debug, Args)]
struct InitArgs {
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    warehouse: PathBuf,
    /// City profile: a built-in name (yichang, shijiazhuang, hulunbuir) or a TOML file; without
    /// one, the first ingest infers the area code and districts from the data.
    #[arg(long)]
    city: Option<String>,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// Call rows to write (original calls and transfer records).
    #[arg(long, default_value_t = 10_000)]
    calls: u64,
    /// Seed; the same seed and settings give byte-identical files.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder.
    #[arg(long)]
    out: PathBuf,
    /// File format.
    #[arg(long, value_enum, default_value_t = FormatArg::Csv)]
    format: FormatArg,
    /// First day, YYYY-MM-DD (Asia/Shanghai).
    #[arg(long, default_value = "2023-01-01")]
    start: NaiveDate,
    /// Number of days.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// Share of rows deliberately broken (listed in truth/malformed.csv).
    #[arg(long, default_value_t = 0.002)]
    malformed_rate: f64,
    /// Plant nothing (no organised groups, escalating callers or hotspots).
    #[arg(long)]
    no_plant: bool,
    /// Plant the three fixed group recipes only, not the randomised family of groups (RING-F1 …).
    #[arg(long)]
    no_family: bool,
    /// City the calls come from: a built-in profile (yichang, shijiazhuang, hulunbuir) or a TOML file.
    #[arg(long, default_value = "yichang")]
    city: String,
}

/// File formats as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum FormatArg {
    /// CSV with a header row.
    Csv,
    /// JSON Lines.
    Jsonl,
    /// Parquet (zstd).
    Parquet,
}

impl From<FormatArg> for OutputFormat {
    fn from(arg: FormatArg) -> OutputFormat {
        match arg {
            FormatArg::Csv => OutputFormat::Csv,
            FormatArg::Jsonl => OutputFormat::Jsonl,
            FormatArg::Parquet => OutputFormat::Parquet,
        }
    }
}

impl GenerateArgs {
    fn resolve(self) -> Result<GenerateConfig> {
        let city = crate::city::CityProfile::load(&self.city)?;
        Ok(GenerateConfig {
            calls: self.calls,
            seed: self.seed,
            out: self.out,
            format: self.format.into(),
            start: self.start,
            days: self.days,
            malformed_rate: self.malformed_rate,
            plant: !self.no_plant,
            family: !self.no_family,
            city,
        })
    }
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// Files to check (.csv, .jsonl, .ndjson, .parquet).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Table of the files (detected from the columns when omitted).
    #[arg(long, value_parser = parse_table)]
    table: Option<Table>,
    /// List at most this many rejected rows per file.
    #[arg(long, default_value_t = 20)]
    show: usize,
}

fn parse_table(name: &str) -> Result<Table, String> {
    Table::from_name(name).ok_or_else(|| format!("unknown table {name:?} (calls or work_orders)"))
}

#[derive(Debug, Args)]
struct DemoArgs {
    /// Working folder.
    #[arg(long, default_value = "hotline-demo")]
    dir: PathBuf,
    /// Call rows to generate.
    #[arg(long, default_value_t = 100_000)]
    calls: u64,
    /// Seed.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// City the calls come from: a built-in profile (yichang, shijiazhuang, hulunbuir) or a TOML file.
    #[arg(long, default_value = "yichang")]
    city: String,
}

impl DemoArgs {
    fn settings(self) -> Result<DemoSettings> {
        let city = crate::city::CityProfile::load(&self.city)?;
        // The demo's settings do not carry a city yet (src/demo.rs); until they do, only Yichang runs.
        if city.profile != "yichang" {
            anyhow::bail!("demo --city {}: the demo runs on Yichang only for now (use generate --city)", self.city);
        }
        Ok(DemoSettings { dir: self.dir, calls: self.calls, seed: self.seed })
    }
}

/// Entry point of the binary: runs the command on a thread with a large stack and maps the outcome to an exit code
/// (0 success or broken pipe, 1 a check found problems, 2 an error).
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome =
        std::thread::Builder::new().name("hotline".into()).stack_size(MAIN_STACK_BYTES).spawn(move || run(cli));
    let result = match outcome {
        Ok(handle) => {
            handle.join().unwrap_or_else(|_| Err(anyhow::anyhow!("internal error: the command thread panicked")))
        }
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the command thread")),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if is_broken_pipe(&error) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Whether the reader of our output went away (`hotline sql … | head`): an I/O error of that kind
/// anywhere in the chain, on its own or as a SQL result that could not be written.
fn is_broken_pipe(error: &anyhow::Error) -> bool {
    let broken = |e: &io::Error| e.kind() == io::ErrorKind::BrokenPipe;
    error.chain().any(|cause| {
        cause.downcast_ref::<io::Error>().is_some_and(broken)
            || matches!(cause.downcast_ref::<crate::sql::SqlError>(), Some(crate::sql::SqlError::Io(e)) if broken(e))
    })
}

/// Runs a parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Generate(args) => run_generate(args.resolve()?),
        Command::Validate(args) => run_validate(args),
        Command::Demo(args) => run_demo_command(args.settings()?),
        Command::Init(args) => run_init(&args.warehouse, args.city.as_deref()),
        Command::Ingest(args) => run_ingest(args),
        Command::Sql(args) => sql::run_sql(args),
        Command::Query { command } => sql::run_query(command),
        Command::Resolve(args) => resolve::run_resolve(args),
        Command::Eval { command } => resolve::run_eval(command),
        Command::Link(args) => link::run_link(args),
        Command::Hotspots(args) => hotspots::run_hotspots(args),
        Command::Report(args) => report::run_report(args),
        Command::Schedule(args) => schedule::run_schedule(args),
        Command::Leads(args) => link::run_leads(args),
        Command::Graph(args) => link::run_graph(args),
        Command::Serve(args) => serve::run_serve(args),
        Command::Users(args) => serve::run_users(args),
        Command::Warehouse { command } => run_warehouse(command),
        Command::Audit { command } => run_audit(command),
        Command::Cluster { command } => cluster::run_cluster(command),
    }
}

fn progress_bar(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let style = ProgressStyle::with_template("{msg} [{bar:30}] {human_pos}/{human_len} rows, {per_sec}, eta {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what.to_owned());
    bar
}

fn run_generate(config: GenerateConfig) -> Result<ExitCode> {
    let started = Instant::now();
    let bar = progress_bar(config.calls, "generate");
    let summary = generate(&config, &mut |rows| bar.set_position(rows)).context("generate failed")?;
    bar.finish_and_clear();
    let mut out = io::stdout().lock();
    print_generated(&mut out, &summary, Some(started.elapsed().as_secs_f64()))?;
    Ok(ExitCode::SUCCESS)
}

fn print_generated<W: Write>(out: &mut W, summary: &GenerateSummary, seconds: Option<f64>) -> io::Result<()> {
    let took = seconds.map(|s| format!(" in {s:.1} s")).unwrap_or_default();
    writeln!(out, "generated {} calls and {} work orders{took}", summary.calls, summary.work_orders)?;
    for file in &summary.files {
        writeln!(out, "  {}", file.display())?;
    }
    let broken: u64 = summary.malformed.iter().map(|(_, _, n)| n).sum();
    writeln!(out, "{broken} rows broken on purpose (truth/malformed.csv)")?;
    if summary.planted.is_empty() {
        writeln!(out, "nothing planted (--no-plant, or fewer than {MIN_CALLS_TO_PLANT} calls)")?;
    } else {
        let rows: Vec<Vec<String>> =
            summary.planted.iter().map(|(kind, n)| vec![kind.clone(), n.to_string()]).collect();
        write_table(out, &["planted pattern", "calls"], &[Align::Left, Align::Right], &rows, 40)?;
    }
    Ok(())
}

fn run_init(dir: &std::path::Path, city: Option<&str>) -> Result<ExitCode> {
    use crate::warehouse::{KeySource, Warehouse, init};
    // The profile is read before anything is laid out, so a bad one leaves no half-made warehouse.
    let profile = city.map(crate::city::CityProfile::load).transpose()?;
    let source = init(dir).with_context(|| format!("cannot initialise the warehouse {}", dir.display()))?;
    let mut out = io::stdout().lock();
    writeln!(out, "warehouse {} initialised", dir.display())?;
    match &profile {
        Some(profile) => {
            Warehouse::open(dir)?.set_city_profile(profile)?;
            writeln!(out, "city profile: {} ({})", profile.profile, profile.name)?;
        }
        None => writeln!(out, "city profile: to be inferred from the first batch (area code, districts)")?,
    }
    match source {
        KeySource::Environment => writeln!(out, "pseudonymisation key: from {}", crate::pseudonym::KEY_ENV)?,
        KeySource::NewFile(path) => writeln!(
            out,
            "pseudonymisation key: new, in {} (mode 0600; keep it out of shared folders and back it up)",
            path.display()
        )?,
        KeySource::ExistingFile(path) => writeln!(out, "pseudonymisation key: kept the existing {}", path.display())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn run_ingest(args: IngestArgs) -> Result<ExitCode> {
    use crate::warehouse::{Warehouse, key_file_for};
    let warehouse = Warehouse::open(&args.warehouse)?;
    let key = crate::pseudonym::PseudonymKey::resolve(&key_file_for(&args.warehouse))?;
    let started = Instant::now();
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("ingest {human_pos} rows, {per_sec}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    let summary = crate::ingest::ingest(&warehouse, &args.files, args.table, &key, &mut |rows| bar.set_position(rows))
        .context("ingest failed; nothing was committed")?;
    bar.finish_and_clear();
    let mut out = io::stdout().lock();
    for path in &summary.skipped {
        writeln!(out, "{}: ingested before (same content), skipped", path.display())?;
    }
    for file in &summary.files {
        if !file.unknown_columns.is_empty() {
            writeln!(out, "{}: ignored unknown column(s) {}", file.path.display(), file.unknown_columns.join(", "))?;
        }
    }
    let Some(batch) = &summary.batch_id else {
        writeln!(out, "nothing new; the warehouse is unchanged")?;
        return Ok(ExitCode::SUCCESS);
    };
    let quarantined: u64 = summary.quarantined.values().sum();
    let reasons: Vec<String> = summary.quarantined.iter().map(|(r, n)| format!("{r} {n}")).collect();
    let rows = vec![
        vec!["read".to_owned(), summary.rows_read.to_string()],
        vec!["accepted (new)".to_owned(), summary.accepted.to_string()],
        vec!["updated".to_owned(), summary.updated.to_string()],
        vec!["unchanged".to_owned(), summary.unchanged.to_string()],
        vec!["quarantined".to_owned(), format!("{quarantined} {}", reasons.join(", "))],
    ];
    writeln!(out, "batch {batch} committed in {:.1} s", started.elapsed().as_secs_f64())?;
    write_table(&mut out, &["rows", "count"], &[Align::Left, Align::Left], &rows, 90)?;
    Ok(ExitCode::SUCCESS)
}

fn run_validate(args: ValidateArgs) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    let mut problems = false;
    for path in &args.files {
        let outcome =
            validate_file(path, args.table, |_| {}).with_context(|| format!("cannot validate {}", path.display()))?;
        problems |= !outcome.rejected.is_empty();
        writeln!(
            out,
            "{}: {} rows, {} valid, {} unchanged duplicates, {} rejected",
            path.display(),
            outcome.rows,
            outcome.valid,
            outcome.unchanged_duplicates,
            outcome.rejected.len()
        )?;
        let rows: Vec<Vec<String>> = outcome
            .rejected
            .iter()
            .take(args.show)
            .map(|r| {
                vec![
                    r.line.to_string(),
                    r.violation.reason.code().to_owned(),
                    r.violation.column.unwrap_or("").to_owned(),
                    r.violation.detail.clone(),
                ]
            })
            .collect();
        if !rows.is_empty() {
            write_table(
                &mut out,
                &["line", "reason", "column", "detail"],
                &[Align::Right, Align::Left, Align::Left, Align::Left],
                &rows,
                60,
            )?;
        }
    }
    Ok(if problems { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn run_demo_command(settings: DemoSettings) -> Result<ExitCode> {
    let started = Instant::now();
    let bar = progress_bar(settings.calls, "generate");
    let report = run_demo(&settings, &mut |rows| bar.set_position(rows)).context("demo failed")?;
    bar.finish_and_clear();
    let mut out = io::stdout().lock();
    print_demo(&mut out, &report, started.elapsed().as_secs_f64())?;
    let (user, password) = serve::add_demo_user(&report.warehouse)?;
    writeln!(out, "\n== explore it: the investigators' explorer, and SQL from your own tools ==")?;
    writeln!(
        out,
        "hotline serve --warehouse {} --listen 127.0.0.1:8080 --pg 127.0.0.1:5433",
        report.warehouse.display()
    )?;
    writeln!(
        out,
        "then open http://127.0.0.1:8080/ and sign in as {user} (investigator) with the password {password}; \
         psql, DBeaver or Superset connect to postgresql://{user}@127.0.0.1:5433/hotline with the same password; \
         the user was made for this demo warehouse only"
    )?;
    Ok(ExitCode::SUCCESS)
}

fn percent(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |v| format!("{:.1}%", v * 100.0))
}

/// Prints the demo report.
pub fn print_demo<W: Write>(out: &mut W, report: &DemoReport, seconds: f64) -> io::Result<()> {
    writeln!(out, "== 1. generate ==")?;
    print_generated(out, &report.generated, None)?;
    writeln!(out, "\n== 2. validate against the data contract ==")?;
    let rows: Vec<Vec<String>> = report.files.iter().map(file_row).collect();
    write_table(
        out,
        &["table", "rows", "valid", "rejected", "by reason"],
        &[Align::Left, Align::Right, Align::Right, Align::Right, Align::Left],
        &rows,
        70,
    )?;
    let a = report.agreement;
    writeln!(
        out,
        "rejections matching truth/malformed.csv (same line and reason): {} of {} planted, {} rejected",
        a.matched, a.planted, a.rejected
    )?;
    writeln!(out, "\n== 3. ingest into the warehouse ==")?;
    let i = &report.ingested;
    let quarantined: u64 = i.quarantined.values().sum();
    writeln!(
        out,
        "{}: batch {} — {} rows read, {} accepted, {} updated, {} unchanged, {} quarantined",
        report.warehouse.display(),
        i.batch_id.as_deref().unwrap_or("-"),
        i.rows_read,
        i.accepted,
        i.updated,
        i.unchanged,
        quarantined
    )?;
    writeln!(out, "analyst tables hold phone_key / id_key and masked names; raw values only in calls_pii")?;
    writeln!(out, "\n== 4. resolve callers into people: `hotline resolve` ==")?;
    resolve::print_summary(out, &report.resolved)?;
    let (resolved, baseline) = &report.resolve_score;
    writeln!(out, "against the generator's truth ({} calls of {} people), pairwise:", resolved.items, resolved.people)?;
    resolve::print_scores(out, resolved, baseline)?;
    writeln!(out, "\ntop repeat callers (`hotline query run repeat_callers -p top=10`):")?;
    // The columns that fit a terminal; the query itself has more (calls_110, counterparties).
    let (header, rows) = &report.top_callers;
    let shown = ["rank", "caller", "names", "calls", "phones", "categories", "districts", "first_call", "last_call"];
    let columns: Vec<usize> = shown.iter().filter_map(|name| header.iter().position(|h| h == name)).collect();
    let header: Vec<&str> = columns.iter().map(|&i| header[i].as_str()).collect();
    let rows: Vec<Vec<String>> = rows.iter().map(|row| columns.iter().map(|&i| row[i].clone()).collect()).collect();
    let aligns: Vec<Align> = header
        .iter()
        .map(|h| if matches!(*h, "caller" | "names" | "first_call" | "last_call") { Align::Left } else { Align::Right })
        .collect();
    write_table(out, &header, &aligns, &rows, 24)?;
    writeln!(out, "\n== 5. headline figures: `hotline query run headline_summary` on the warehouse ==")?;
    let rows: Vec<Vec<String>> = report
        .sql_figures
        .iter()
        .map(|f| {
            let value = (f.denominator > 0).then(|| f.numerator as f64 / f.denominator as f64);
            let own = report.figures.iter().find(|r| r.name == f.name);
            let check = match own {
                Some(r) if (r.numerator, r.denominator) == (f.numerator, f.denominator) => "same".to_owned(),
                Some(r) => format!("{} / {}", r.numerator, r.denominator),
                None => "-".to_owned(),
            };
            vec![
                f.name.clone(),
                f.name_zh.clone(),
                percent(value),
                percent(own.and_then(|r| r.target)),
                format!("{} / {}", f.numerator, f.denominator),
                check,
            ]
        })
        .collect();
    write_table(
        out,
        &["figure", "名称", "value", "target", "numerator / denominator", "plain-Rust check"],
        &[Align::Left, Align::Left, Align::Right, Align::Right, Align::Right, Align::Left],
        &rows,
        40,
    )?;
    writeln!(out, "the check column recounts every figure from the validated export rows without SQL; the")?;
    writeln!(out, "repeat-call rate counts resolved people in SQL and normalised phones in the check.")?;
    writeln!(out, "\n== 6. link incidents into leads: `hotline link`, `hotline leads` ==")?;
    link::print_link_summary(out, &report.linked)?;
    link::print_leads(out, &report.leads)?;
    writeln!(out, "\nagainst the planted groups (`hotline eval leads`):")?;
    link::print_evaluation(out, &report.lead_score)?;
    if let Some(expansion) = &report.expansion {
        writeln!(out, "\nfrom the extortion ring's two ordinary disputes:")?;
        writeln!(out, "hotline graph expand --from {}", expansion.seeds.join(" "))?;
        for step in 1..=expansion.steps.len() {
            let calls = expansion.calls_after(step);
            let found = calls.iter().filter(|c| report.ring_calls.contains(*c)).count();
            let first = expansion.steps[step - 1].first().map(|j| table::truncate(&j.reason, 100)).unwrap_or_default();
            writeln!(
                out,
                "  step {step}: {} calls in the series, {found} of the ring's {} ({} foreign)",
                calls.len(),
                report.ring_calls.len(),
                calls.len() - found
            )?;
            writeln!(out, "    e.g. {first}")?;
        }
    }
    writeln!(out, "\n== 7. dispute hotspots: `hotline hotspots --category 'DISPUTE.*'` ==")?;
    hotspots::print_hotspots(out, &report.hotspots, 5)?;
    if !report.planted_hotspots.is_empty() {
        writeln!(out, "\nplanted hotspots (truth/hotspots.csv), each in its own category:")?;
        for check in &report.planted_hotspots {
            let (cell, category) =
                check.cell.as_ref().map_or(("no cell".to_owned(), "no calls"), |(id, c)| (id.clone(), c.name()));
            let rank = check
                .counterparty_rank
                .map_or("not listed".to_owned(), |r| format!("{r} of {} by distinct callers", check.counterparties));
            writeln!(
                out,
                "  {} {} {}: {cell} {category} ({}); counterparty {rank}",
                check.id,
                check.kind,
                check.category_code,
                if check.as_planted { "as planted" } else { "NOT as planted" }
            )?;
        }
    }
    if let Some((period, folder)) = &report.report {
        writeln!(out, "\n== 8. weekly report: `hotline report hotspots --period {period}` ==")?;
        writeln!(out, "{}/report.html (and report.md, *.csv)", folder.display())?;
    }
    writeln!(out, "\nexplore: hotline sql --warehouse {}", report.warehouse.display())?;
    writeln!(out, "total {seconds:.1} s")
}

fn file_row(f: &FileCheck) -> Vec<String> {
    let reasons: Vec<String> = f.rejected.iter().map(|(r, n)| format!("{r} {n}")).collect();
    vec![
        f.table.name().to_owned(),
        f.rows.to_string(),
        f.valid.to_string(),
        f.rejected.values().sum::<u64>().to_string(),
        reasons.join(", "),
    ]
}
