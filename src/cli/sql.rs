//! `hotline sql` (one statement, a file, or the interactive shell) and `hotline query` (named queries):
//! arguments, result printing by display width, and the shell's commands.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::util::display::FormatOptions;

use super::table::{Align, write_table};
use crate::sql::export::{ExportFormat, ResultWriter};
use crate::sql::queries;
use crate::sql::{FUNCTION_HELP, Flow, Output, Role, Session, SessionOptions, SqlError, open_session};

/// Where and how a command reads the warehouse.
#[derive(Debug, Args)]
pub struct SessionArgs {
    /// Warehouse folder.
    #[arg(long, env = crate::warehouse::WAREHOUSE_ENV, default_value = "warehouse")]
    pub warehouse: PathBuf,
    /// Role: analyst (pseudonymised tables) or investigator (adds raw personal data and the audit log).
    #[arg(long, value_enum, default_value_t = RoleArg::Analyst)]
    pub role: RoleArg,
    /// Memory queries may hold before they spill to disk or fail, e.g. 2G or 512M (default: half
    /// the RAM).
    #[arg(long, value_parser = parse_bytes)]
    pub memory_limit: Option<usize>,
    /// Plan joins as sort-merge joins, which spill, instead of hash joins, which hold their
    /// smaller side whole: for a join too large for the memory limit. Slower, so off by default.
    #[arg(long)]
    pub spill_joins: bool,
    /// Seconds a statement may run before it is stopped.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Read an earlier committed snapshot, still kept, instead of the current one (`hotline
    /// warehouse snapshots` lists them).
    #[arg(long)]
    pub snapshot: Option<u64>,
    /// Run the queries on a Ballista cluster: its scheduler, HOST:PORT (`hotline cluster
    /// scheduler`). Every executor must read the warehouse at this same path.
    #[arg(long, env = "HOTLINE_CLUSTER")]
    pub cluster: Option<String>,
}

impl SessionArgs {
    /// Opens the session these arguments describe.
    pub fn open(&self) -> Result<Session> {
        let options = SessionOptions {
            role: self.role.into(),
            memory_limit: self.memory_limit,
            timeout: Duration::from_secs(self.timeout.max(1)),
            snapshot: self.snapshot,
            spill_joins: self.spill_joins,
            cluster: self.cluster.clone(),
            ..SessionOptions::default()
        };
        open_session(&self.warehouse, options)
            .with_context(|| format!("cannot open the warehouse {}", self.warehouse.display()))
    }
}

/// A failed statement's error, with what to try when the memory limit refused a hash join's
/// table and joins were not planned to spill.
fn hinted(error: SqlError, spill_joins: bool) -> anyhow::Error {
    let join_refused = matches!(&error, SqlError::Engine(message) if message.contains("Resources exhausted") && message.contains("HashJoinInput"));
    let error = anyhow::Error::new(error);
    if join_refused && !spill_joins {
        error.context("a join holds one of its sides in memory, and the memory limit refused it: --spill-joins plans joins that spill to disk")
    } else {
        error
    }
}

/// Roles as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    /// Pseudonymised tables only.
    Analyst,
    /// Adds the restricted personal-data tables.
    Investigator,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Analyst => Role::Analyst,
            RoleArg::Investigator => Role::Investigator,
        }
    }
}

fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len()));
    let number: f64 = digits.parse().map_err(|_| format!("{text:?} is not a size like 2G or 512M"))?;
    let scale = match unit.trim().to_ascii_uppercase().trim_end_matches("IB").trim_end_matches('B') {
        "" => 1.0,
        "K" => 1024.0,
        "M" => 1024.0 * 1024.0,
        "G" => 1024.0 * 1024.0 * 1024.0,
        "T" => 1024.0f64.powi(4),
        other => return Err(format!("unknown size unit {other:?} (K, M, G or T)")),
    };
    Ok((number * scale) as usize)
}

/// Result formats as spelled on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ResultFormat {
    /// Columns aligned by display width (Chinese text lines up).
    Table,
    /// CSV with a header.
    Csv,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Parquet (needs --out).
    Parquet,
}

impl ResultFormat {
    fn export(self) -> Option<ExportFormat> {
        match self {
            ResultFormat::Table => None,
            ResultFormat::Csv => Some(ExportFormat::Csv),
            ResultFormat::Json => Some(ExportFormat::Json),
            ResultFormat::Jsonl => Some(ExportFormat::Jsonl),
            ResultFormat::Parquet => Some(ExportFormat::Parquet),
        }
    }
}

/// How results are written.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Result format.
    #[arg(long, value_enum, default_value_t = ResultFormat::Table)]
    pub format: ResultFormat,
    /// Write results to this file instead of the terminal.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Rows shown in table format (the query stops once they are in).
    #[arg(long, default_value_t = 1000)]
    pub max_rows: usize,
    /// Print how long each statement took (to standard error).
    #[arg(long)]
    pub timing: bool,
}

/// `hotline sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL to run; without it (and without -f) the interactive shell starts.
    pub query: Option<String>,
    /// Run the statements of a file.
    #[arg(short = 'f', long, conflicts_with = "query")]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub session: SessionArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `hotline query`.
#[derive(Debug, Subcommand)]
pub enum QueryCommand {
    /// List the named queries.
    List,
    /// Show a named query's parameters and SQL.
    Show {
        /// Query name.
        name: String,
    },
    /// Run a named query.
    Run {
        /// Query name.
        name: String,
        /// A parameter, NAME=VALUE (repeatable).
        #[arg(short = 'p', long = "param", value_parser = parse_param)]
        params: Vec<(String, String)>,
        #[command(flatten)]
        session: SessionArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("{text:?}: a parameter is NAME=VALUE"))?;
    Ok((name.trim().to_owned(), value.to_owned()))
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

/// Formats batches as rows of display strings.
fn rows_of(batch: &RecordBatch, rows: &mut Vec<Vec<String>>, limit: usize) -> Result<(), SqlError> {
    crate::sql::export::append_display_rows(batch, &FormatOptions::default().with_null("NULL"), rows, limit)
}

/// Prints results in one format to the terminal or a file.
struct Printer {
    format: ResultFormat,
    out_path: Option<PathBuf>,
    max_rows: usize,
    timing: bool,
}

/// The results of one statement as it arrives.
enum Pending {
    None,
    Table { schema: SchemaRef, rows: Vec<Vec<String>>, total: u64 },
    Export(Box<ResultWriter<Box<dyn Write + Send>>>),
}

impl Printer {
    fn from_args(args: &OutputArgs) -> Result<Printer> {
        if args.format == ResultFormat::Parquet && args.out.is_none() {
            anyhow::bail!("--format parquet needs --out FILE");
        }
        Ok(Printer { format: args.format, out_path: args.out.clone(), max_rows: args.max_rows, timing: args.timing })
    }

    fn sink(&self) -> Result<Box<dyn Write + Send>, SqlError> {
        Ok(match &self.out_path {
            Some(path) => Box::new(BufWriter::new(
                File::create(path)
                    .map_err(|e| SqlError::Io(io::Error::new(e.kind(), format!("{}: {e}", path.display()))))?,
            )),
            None => Box::new(BufWriter::new(io::stdout())),
        })
    }

    /// Runs SQL in the session and prints each statement's result.
    fn run(&self, session: &Session, sql: &str) -> Result<(), SqlError> {
        let mut pending = Pending::None;
        let mut finished: Vec<Pending> = Vec::new();
        let max_rows = self.max_rows;
        let result = session.run(sql, &mut |output| match output {
            Output::Schema(schema) => {
                let next = match self.format.export() {
                    None => Pending::Table { schema: schema.clone(), rows: Vec::new(), total: 0 },
                    Some(format) => Pending::Export(Box::new(ResultWriter::new(format, self.sink()?, schema)?)),
                };
                finished.push(std::mem::replace(&mut pending, next));
                Ok(Flow::More)
            }
            Output::Batch(batch) => match &mut pending {
                Pending::Table { rows, total, .. } => {
                    *total += batch.num_rows() as u64;
                    rows_of(batch, rows, max_rows)?;
                    Ok(if rows.len() >= max_rows { Flow::Stop } else { Flow::More })
                }
                Pending::Export(writer) => {
                    writer.write(batch)?;
                    Ok(Flow::More)
                }
                Pending::None => Ok(Flow::More),
            },
        });
        finished.push(pending);
        let stats = result?;
        let mut stats = stats.into_iter();
        for done in finished {
            match done {
                Pending::None => continue,
                Pending::Table { schema, rows, total } => {
                    let mut out = self.sink()?;
                    let header: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                    let align: Vec<Align> = schema
                        .fields()
                        .iter()
                        .map(|f| if is_numeric(f.data_type()) { Align::Right } else { Align::Left })
                        .collect();
                    write_table(&mut out, &header, &align, &rows, 60)?;
                    let shown = rows.len();
                    if total > shown as u64 {
                        writeln!(out, "(first {shown} rows shown; the query was stopped there — raise --max-rows)")?;
                    } else {
                        writeln!(out, "({shown} row{})", if shown == 1 { "" } else { "s" })?;
                    }
                    out.flush()?;
                }
                Pending::Export(writer) => writer.finish()?,
            }
            if let Some(stat) = stats.next()
                && self.timing
            {
                eprintln!("time: {:.3} s, {} rows", stat.elapsed.as_secs_f64(), stat.rows);
            }
        }
        Ok(())
    }
}

/// Runs `hotline sql`.
pub fn run_sql(args: SqlArgs) -> Result<ExitCode> {
    let printer = Printer::from_args(&args.output)?;
    let session = args.session.open()?;
    let sql = match (&args.query, &args.file) {
        (Some(sql), _) => sql.clone(),
        (None, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        (None, None) => return repl(&session, printer, args.session.spill_joins),
    };
    printer.run(&session, &sql).map_err(|e| hinted(e, args.session.spill_joins))?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `hotline query`.
pub fn run_query(command: QueryCommand) -> Result<ExitCode> {
    let mut out = io::stdout().lock();
    match command {
        QueryCommand::List => {
            let rows: Vec<Vec<String>> =
                queries::all()?.values().map(|q| vec![q.name.clone(), q.description.clone()]).collect();
            write_table(&mut out, &["query", "what it shows"], &[Align::Left, Align::Left], &rows, 100)?;
        }
        QueryCommand::Show { name } => {
            let query = queries::find(&name)?;
            writeln!(out, "{} — {}", query.name, query.description)?;
            if !query.params.is_empty() {
                let rows: Vec<Vec<String>> = query
                    .params
                    .iter()
                    .map(|p| vec![p.name.clone(), p.default.clone(), p.description.clone()])
                    .collect();
                write_table(&mut out, &["parameter", "default", "meaning"], &[Align::Left; 3], &rows, 80)?;
            }
            writeln!(out)?;
            writeln!(out, "{}", query.sql.trim_end())?;
        }
        QueryCommand::Run { name, params, session, output } => {
            let query = queries::find(&name)?;
            let sql = query.bind(&params)?;
            let printer = Printer::from_args(&output)?;
            let spill_joins = session.spill_joins;
            let session = session.open()?;
            drop(out);
            printer.run(&session, &sql).map_err(|e| hinted(e, spill_joins))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The shell's help text.
fn help(session: &Session) -> String {
    let mut text = String::from(
        "statements end with ;   \\d  tables   \\d NAME  columns   \\timing  on/off   \\format table|csv|json|jsonl\n\
         \\q  quit   \\?  this help   named queries: hotline query list\n\nfunctions:\n",
    );
    for (signature, about) in FUNCTION_HELP {
        text.push_str(&format!("  {signature:38} {about}\n"));
    }
    text.push_str(&format!("\nrole {}, snapshot {}", session.role().name(), session.snapshot()));
    text
}

mod shell {
    //! Line editing for the shell: completion of table names and SQL keywords.
    use rustyline::completion::{Completer, Pair};
    use rustyline::{Context, Helper, Highlighter, Hinter, Validator};

    /// Completes the word before the cursor from table names and keywords.
    #[derive(Helper, Highlighter, Hinter, Validator)]
    pub struct SqlHelper {
        /// Words offered.
        pub words: Vec<String>,
    }

    impl Completer for SqlHelper {
        type Candidate = Pair;

        fn complete(&self, line: &str, pos: usize, _: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
            let start = line[..pos].rfind(|c: char| !(c.is_alphanumeric() || c == '_')).map_or(0, |i| i + 1);
            let prefix = line[start..pos].to_lowercase();
            if prefix.is_empty() {
                return Ok((start, Vec::new()));
            }
            let found = self
                .words
                .iter()
                .filter(|w| w.to_lowercase().starts_with(&prefix))
                .map(|w| Pair { display: w.clone(), replacement: w.clone() })
                .collect();
            Ok((start, found))
        }
    }
}

fn history_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(base.join("hotline").join("sql_history"))
}

fn repl(session: &Session, mut printer: Printer, spill_joins: bool) -> Result<ExitCode> {
    use rustyline::error::ReadlineError;
    let mut words: Vec<String> = session.tables().iter().map(|t| t.name.clone()).collect();
    words.extend(
        ["SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "LIMIT", "WITH", "JOIN", "COUNT", "DISTINCT"]
            .map(str::to_owned),
    );
    words.extend(
        FUNCTION_HELP
            .iter()
            .filter_map(|(sig, _)| sig.split('(').next().map(str::to_owned))
            .filter(|name| !name.ends_with("NAME")),
    );
    // Each named query's table function by its own name.
    words.extend(crate::sql::queries::all()?.into_keys().map(|name| format!("{}{name}", crate::sql::named::PREFIX)));
    let mut editor = rustyline::Editor::<shell::SqlHelper, rustyline::history::DefaultHistory>::new()
        .context("cannot start the line editor")?;
    editor.set_helper(Some(shell::SqlHelper { words }));
    let history = history_file();
    if let Some(path) = &history {
        let _ = editor.load_history(path);
    }
    println!(
        "hotline sql — warehouse snapshot {}, role {}. End statements with ;  \\? for help, \\q to quit.",
        session.snapshot(),
        session.role().name()
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() { "hotline> " } else { "     ..> " };
        let line = match editor.readline(prompt) {
            Ok(line) => line,
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("cannot read a line"),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            let mut parts = trimmed.split_whitespace();
            match (parts.next().unwrap_or(""), parts.next()) {
                ("\\q", _) => break,
                ("\\?" | "\\h", _) => println!("{}", help(session)),
                ("\\timing", _) => {
                    printer.timing = !printer.timing;
                    println!("timing {}", if printer.timing { "on" } else { "off" });
                }
                ("\\format", Some(name)) => match ResultFormat::from_str(name, true) {
                    Ok(ResultFormat::Parquet) => {
                        println!("parquet needs a file: use hotline sql --format parquet --out FILE")
                    }
                    Ok(format) => {
                        printer.format = format;
                        println!("format {name}");
                    }
                    Err(_) => println!("formats: table, csv, json, jsonl"),
                },
                ("\\d", None) => {
                    let rows: Vec<Vec<String>> =
                        session.tables().iter().map(|t| vec![t.name.clone(), t.about.to_owned()]).collect();
                    write_table(&mut io::stdout(), &["table", "holds"], &[Align::Left; 2], &rows, 100)?;
                }
                ("\\d", Some(table)) => match session.table_schema(table) {
                    Some(schema) => {
                        let rows: Vec<Vec<String>> =
                            schema.fields().iter().map(|f| vec![f.name().clone(), f.data_type().to_string()]).collect();
                        write_table(&mut io::stdout(), &["column", "type"], &[Align::Left; 2], &rows, 80)?;
                    }
                    None => println!("no table {table} for the {} role (\\d lists them)", session.role().name()),
                },
                (other, _) => println!("unknown command {other}; \\? lists them"),
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !trimmed.ends_with(';') {
            continue;
        }
        let sql = std::mem::take(&mut buffer);
        let _ = editor.add_history_entry(crate::sql::audit::redact_numbers(sql.trim()));
        if let Err(error) = printer.run(session, &sql) {
            if let SqlError::Io(e) = &error
                && e.kind() == io::ErrorKind::BrokenPipe
            {
                break;
            }
            eprintln!("error: {:#}", hinted(error, spill_joins));
        }
    }
    if let Some(path) = &history {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = editor.save_history(path);
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(parse_bytes("512M"), Ok(512 << 20));
        assert_eq!(parse_bytes("2G"), Ok(2 << 30));
        assert_eq!(parse_bytes("1.5GiB"), Ok(3 << 29));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3Q").is_err());
    }
}
