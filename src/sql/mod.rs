//! SQL over the warehouse: the one function that opens a warehouse as a DataFusion session (tables
//! of one snapshot, roles, functions, memory pool, read-only rules), and running queries in it.
//!
//! Every command that reads the warehouse goes through [`open_session`]; later the scheduler and
//! the server will too.

pub mod audit;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod compact;
pub mod distinct;
pub mod export;
pub mod functions;
pub mod guard;
pub mod named;
pub mod normalised;
pub mod pool;
pub mod queries;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::json::JsonFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::TaskContext;
use datafusion::execution::disk_manager::DiskManagerBuilder;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use futures::StreamExt;

use crate::catalog::{self, Kind, history_columns, schema};
use crate::contract::taxonomy::Taxonomy;
use crate::warehouse::{Warehouse, WarehouseError};
use audit::AuditLog;
use guard::Limits;

/// Why a query did not run or did not finish.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// The statement is not allowed here (write, DDL, too large …).
    #[error("refused: {0}")]
    Refused(String),
    /// The SQL text does not parse.
    #[error("SQL syntax: {0}")]
    Parse(String),
    /// Planning or execution failed.
    #[error("{0}")]
    Engine(String),
    /// A named query is unknown or badly called.
    #[error("{0}")]
    Query(String),
    /// The query ran past its time limit and was cancelled.
    #[error("the query ran longer than {} s and was stopped (raise it with --timeout)", .0.as_secs())]
    Timeout(Duration),
    /// The audit log could not be written, so nothing runs.
    #[error("audit log: {0}")]
    Audit(String),
    /// The warehouse could not be opened.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// The snapshot lacks files its manifest lists.
    #[error("{0}")]
    Damaged(String),
    /// Results could not be written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<datafusion::error::DataFusionError> for SqlError {
    fn from(error: datafusion::error::DataFusionError) -> Self {
        // The innermost message is the useful one; DataFusion wraps it in context layers.
        SqlError::Engine(error.to_string())
    }
}

/// Who is asking: analysts see pseudonymised tables only; investigators also the personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Role {
    /// Pseudonymised tables only (the default).
    #[default]
    Analyst,
    /// Adds the restricted tables with raw phones, names and ID numbers, and the audit log.
    Investigator,
}

impl Role {
    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::Investigator => "investigator",
        }
    }
}

/// Settings of a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Role.
    pub role: Role,
    /// Memory the queries may hold before spilling or failing; `None`: half the machine's memory.
    pub memory_limit: Option<usize>,
    /// Longest a statement may run.
    pub timeout: Duration,
    /// Limits on statement size.
    pub limits: Limits,
    /// Whether to write the audit log (always, except in the engine's own tests).
    pub audit: bool,
    /// An earlier committed snapshot, still kept, to read instead of the current one.
    pub snapshot: Option<crate::warehouse::SnapshotId>,
    /// Plan joins to spill (sort-merge) rather than to hold one side (hash), at some cost in
    /// speed; `hotline sql --spill-joins`.
    pub spill_joins: bool,
    /// A Ballista scheduler (`HOST:PORT`) to run the queries on instead of this process
    /// (`hotline sql --cluster`); needs the `cluster` feature.
    pub cluster: Option<String>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            role: Role::Analyst,
            memory_limit: None,
            timeout: Duration::from_secs(300),
            limits: Limits::default(),
            audit: true,
            snapshot: None,
            spill_joins: false,
            cluster: None,
        }
    }
}

/// Half of this machine's memory (from /proc/meminfo), or 4 GiB when it cannot be read.
pub fn default_memory_limit() -> usize {
    let total_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse::<usize>().ok())
    });
    total_kib.map_or(4 << 30, |kib| kib * 1024 / 2)
}

/// A table analysts can query, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Name in SQL.
    pub name: String,
    /// Whether it holds raw personal data (investigator role only).
    pub restricted: bool,
    /// What it is.
    pub about: &'static str,
}

/// What a statement did.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryStats {
    /// Rows returned.
    pub rows: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// What a running statement hands its caller: the schema first, then batches.
pub enum Output<'a> {
    /// The result's columns, before any batch.
    Schema(&'a SchemaRef),
    /// Result rows.
    Batch(&'a RecordBatch),
}

/// Whether the caller wants more batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on.
    More,
    /// Stop the query (enough rows shown).
    Stop,
}

/// An open warehouse as a SQL session over one committed snapshot.
pub struct Session {
    ctx: SessionContext,
    /// On a cluster, this process's own context over the same tables, for the statements the
    /// cluster would answer wrongly.
    local: Option<SessionContext>,
    /// Always `Some` until the session is dropped (see its `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    options: SessionOptions,
    snapshot: i64,
    tables: Vec<TableInfo>,
    audit: Option<AuditLog>,
    city: crate::city::CityProfile,
    /// The warehouse folder (named in a cluster's errors: every executor must read it).
    dir: PathBuf,
    /// The session's hold on the snapshot it reads.
    _hold: Option<crate::warehouse::SnapshotHold>,
}

/// The analyst functions and tables, for help screens.
pub use functions::HELP as FUNCTION_HELP;

/// Month-partitioned tables carry the partition as a `month` column ('YYYY-MM', Asia/Shanghai).
const PARTITION_COLUMN: &str = "month";

/// The size past which a repartition's spill file is sealed: one byte, so every spilled batch has
/// a file of its own (see `open_session`).
const REPARTITION_SPILL_FILE_BYTES: usize = 1;

/// `caller_calls` computed from `calls` and `caller_entities`, for snapshots written before the
/// table was (the rows ingest and resolve write; ties in time are ordered by call id, as they are).
pub const CALLER_CALLS_VIEW: &str = "SELECT c.call_id, COALESCE(e.entity_id, c.phone_key) AS caller, e.entity_id, \
     c.phone_key, c.platform, c.category, c.district, c.counterparty, c.received_at, \
     CASE WHEN COALESCE(e.entity_id, c.phone_key) IS NOT NULL THEN LAG(c.received_at) OVER ( \
         PARTITION BY COALESCE(e.entity_id, c.phone_key), c.category ORDER BY c.received_at, c.call_id) END AS previous_at, \
     c.month \
     FROM calls c LEFT JOIN caller_entities e ON e.call_id = c.call_id WHERE c.source_call_id IS NULL";

/// What a table holds: the catalogue's tables, and the two the session adds itself.
fn about(name: &str) -> &'static str {
    match name {
        "categories" => "the call taxonomy: code, Chinese and English name, police matter or not",
        "audit_log" => "RESTRICTED every query run against this warehouse: who, role, SQL, rows, outcome",
        _ => catalog::about(name),
    }
}

fn engine(error: impl std::fmt::Display) -> SqlError {
    SqlError::Engine(error.to_string())
}

/// Registers a folder of Parquet files as a table with a fixed schema (an absent folder is an empty table).
fn register_folder(
    ctx: &SessionContext,
    name: &str,
    folder: &Path,
    file_schema: SchemaRef,
    partitioned: bool,
) -> Result<(), SqlError> {
    // Text is read as Utf8View: short strings (codes, districts) stay inline and long ones are
    // borrowed from the decoded page instead of copied, which is what scans and group-bys spend on.
    let viewed = |f: &Field| {
        if f.data_type() == &DataType::Utf8 { f.clone().with_data_type(DataType::Utf8View) } else { f.clone() }
    };
    let file_schema: SchemaRef =
        Arc::new(Schema::new(file_schema.fields().iter().map(|f| viewed(f)).collect::<Vec<Field>>()));
    let mut fields: Vec<Field> = file_schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    if partitioned {
        fields.push(Field::new(PARTITION_COLUMN, DataType::Utf8, false));
    }
    if !folder.is_dir() {
        let empty = MemTable::try_new(Arc::new(Schema::new(fields)), vec![vec![]]).map_err(engine)?;
        ctx.register_table(name, Arc::new(empty)).map_err(engine)?;
        return Ok(());
    }
    let url = ListingTableUrl::parse(format!("{}/", folder.display())).map_err(engine)?;
    let mut options = ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if partitioned {
        options = options.with_table_partition_cols(vec![(PARTITION_COLUMN.to_owned(), DataType::Utf8)]);
    }
    let config = ListingTableConfig::new(url).with_listing_options(options).with_schema(file_schema);
    let table = ListingTable::try_new(config).map_err(engine)?;
    ctx.register_table(name, Arc::new(table)).map_err(engine)?;
    Ok(())
}

fn categories_table() -> Result<MemTable, SqlError> {
    use datafusion::arrow::array::{BooleanArray, StringArray};
    let categories = Taxonomy::builtin().categories();
    let schema = Arc::new(Schema::new(vec![
        Field::new("code", DataType::Utf8, false),
        Field::new("name_zh", DataType::Utf8, false),
        Field::new("name_en", DataType::Utf8, false),
        Field::new("police_matter", DataType::Boolean, false),
        Field::new("default_platform", DataType::Utf8, false),
        Field::new("default_department", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(StringArray::from_iter_values(categories.iter().map(|c| c.code.as_str()))),
            Arc::new(StringArray::from_iter_values(categories.iter().map(|c| c.name_zh.as_str()))),
            Arc::new(StringArray::from_iter_values(categories.iter().map(|c| c.name_en.as_str()))),
            Arc::new(BooleanArray::from_iter(categories.iter().map(|c| Some(c.police_matter)))),
            Arc::new(StringArray::from_iter_values(categories.iter().map(|c| c.default_platform.code()))),
            Arc::new(StringArray::from_iter(categories.iter().map(|c| c.default_department.as_deref()))),
        ],
    )
    .map_err(engine)?;
    MemTable::try_new(schema, vec![vec![batch]]).map_err(engine)
}

fn audit_schema() -> SchemaRef {
    use datafusion::arrow::datatypes::TimeUnit;
    Arc::new(Schema::new(vec![
        Field::new("at", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new("os_user", DataType::Utf8, true),
        Field::new("role", DataType::Utf8, true),
        Field::new("client", DataType::Utf8, true),
        Field::new("snapshot", DataType::Int64, true),
        Field::new("sql", DataType::Utf8, true),
        Field::new("rows", DataType::Int64, true),
        Field::new("duration_ms", DataType::Float64, true),
        Field::new("outcome", DataType::Utf8, true),
        Field::new("error", DataType::Utf8, true),
        Field::new("seq", DataType::Int64, true),
    ]))
}

/// The engine every session runs on, before any table: `memory` bytes in a pool that spills,
/// spill and join settings, this crate's plan rules, the analyst functions and named queries.
fn engine_context(memory: usize, options: &SessionOptions) -> Result<SessionContext, SqlError> {
    let mut config = SessionConfig::new().with_information_schema(true);
    let partitions = config.options().execution.target_partitions.max(1);
    let disk = DiskManagerBuilder::default().with_max_spill_merge_fan_in(pool::merge_fan_in(memory, partitions));
    let runtime_env = RuntimeEnvBuilder::new()
        .with_memory_pool(pool::session_pool(memory))
        .with_disk_manager_builder(disk)
        .build_arc()
        .map_err(engine)?;
    // Each sorting partition sets this much aside to merge its spill files; DataFusion's 10 MiB
    // would leave nothing of a small limit, so a quarter of each partition's share at most.
    config.options_mut().execution.sort_spill_reservation_bytes =
        config.options().execution.sort_spill_reservation_bytes.min(memory / (4 * partitions));
    // A repartition that spills writes its batches to a pool of files and reads back only the
    // oldest; two of its inputs spilling at once opened two files, the batch the reader waited
    // for was in the newer one, and the query stopped with every thread idle (apache/datafusion
    // #24883, fixed after 55.2). One file per spilled batch is sealed before its batch is
    // announced, so the oldest file always holds what the reader waits for.
    config.options_mut().execution.max_spill_file_size_bytes =
        datafusion::config::ConfigNonZeroUsize::try_new(REPARTITION_SPILL_FILE_BYTES).map_err(engine)?;
    // Asked for, joins are planned as sort-merge joins, which spill (a hash join must hold its
    // build side whole: at 10M calls, calls × work orders failed under 512 MB).
    if options.spill_joins {
        config.options_mut().optimizer.prefer_hash_join = false;
    }
    config.options_mut().sql_parser.recursion_limit =
        datafusion::config::ConfigNonZeroUsize::try_new(options.limits.max_depth.max(1)).map_err(engine)?;
    // DataFusion's own plan rules, then batches compacted before each sort (see `compact`);
    // several distinct counts split into groupings that spill (see `distinct`).
    let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
    rules.push(Arc::new(compact::CompactBeforeSort));
    let state = datafusion::execution::SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime_env)
        .with_default_features()
        .with_physical_optimizer_rules(rules)
        .with_optimizer_rule(distinct::rule())
        .build();
    let ctx = SessionContext::new_with_state(state);
    functions::register(&ctx).map_err(engine)?;
    named::register(&ctx)?;
    Ok(ctx)
}

/// The session's context with its queries sent to the Ballista scheduler at `scheduler`.
#[cfg(feature = "cluster")]
fn remote_context(local: &SessionContext, scheduler: &str) -> Result<SessionContext, SqlError> {
    cluster::client_context(local, scheduler)
}

/// Whether a statement's plan must run in this process rather than on the cluster.
#[cfg(feature = "cluster")]
fn needs_one_process(plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> bool {
    cluster::needs_one_process(plan)
}

/// A future that ends, with what happened, once the scheduler at `scheduler` has lost an executor
/// (Ballista 55 would wait for it forever); checked every second.
#[cfg(feature = "cluster")]
fn executor_watch(scheduler: &str) -> Option<cluster::LostExecutor> {
    Some(cluster::watch_executors(scheduler, Duration::from_secs(1)))
}

/// Without the `cluster` feature there are no executors to watch.
#[cfg(not(feature = "cluster"))]
fn executor_watch(_scheduler: &str) -> Option<std::future::Pending<String>> {
    None
}

/// Without the `cluster` feature every plan runs in this process.
#[cfg(not(feature = "cluster"))]
fn needs_one_process(_plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> bool {
    true
}

/// Without the `cluster` feature there is no Ballista client to hand the queries to.
#[cfg(not(feature = "cluster"))]
fn remote_context(_local: &SessionContext, scheduler: &str) -> Result<SessionContext, SqlError> {
    Err(SqlError::Refused(format!(
        "this hotline was built without the cluster feature, so it cannot run queries on {scheduler}; \
         build it with `cargo build --release --features cluster`"
    )))
}

/// Opens a warehouse as a SQL session: the committed snapshot's tables (or a kept earlier one's,
/// `options.snapshot`) for the role, the latest
/// version of every key (history tables hold earlier ones), the analyst functions, a memory pool
/// that spills, and read-only rules. This is the one place a `SessionContext` is built (through
/// `engine_context`, which the engine's own tests use without a warehouse).
pub fn open_session(dir: &Path, options: SessionOptions) -> Result<Session, SqlError> {
    let warehouse = Warehouse::open(dir)?;
    let snapshot = match options.snapshot {
        Some(id) => Some(warehouse.kept_snapshot(id)?),
        None => warehouse.current()?,
    };
    // Held while the session lives, so that neither a commit nor a vacuum removes it; checked
    // again once held, in case it went between.
    let hold = snapshot.map(|id| warehouse.hold(id));
    if let Some(id) = snapshot
        && !warehouse.snapshot_dir(id).is_dir()
    {
        warehouse.kept_snapshot(id)?;
    }
    let city = warehouse.city_profile_or_empty()?;
    let root: Option<PathBuf> = snapshot.map(|id| warehouse.snapshot_dir(id));
    // A file the snapshot's manifest lists and that cannot be read would silently drop out of
    // every answer (tables list their folders when a query runs).
    if let (Some(id), Some(root)) = (snapshot, &root) {
        let missing = crate::warehouse::missing_files(root);
        if let Some(first) = missing.first() {
            return Err(SqlError::Damaged(format!(
                "snapshot {id} of {} lacks {} of the files its manifest lists (first {first}): the warehouse is damaged or was copied in part, and no query would see all its rows",
                dir.display(),
                missing.len()
            )));
        }
    }
    let memory = options.memory_limit.unwrap_or_else(default_memory_limit);
    let ctx = engine_context(memory, &options)?;
    // On a cluster the session keeps its local context for the plans Ballista cannot run right
    // (`needs_one_process`). Both share one catalogue list, made before any table is registered:
    // building the remote state puts a fresh default catalogue into it.
    let (ctx, local) = match &options.cluster {
        None => (ctx, None),
        Some(scheduler) => (remote_context(&ctx, scheduler)?, Some(ctx)),
    };

    let mut tables = Vec::new();
    let investigator = options.role == Role::Investigator;
    let folder = |name: &str| root.as_ref().map_or_else(|| dir.join(".none").join(name), |r| r.join(name));
    for def in catalog::tables() {
        if def.restricted && !investigator {
            continue;
        }
        let keyed = catalog::is_keyed(def);
        register_folder(&ctx, def.name, &folder(def.name), schema(def.columns), catalog::is_partitioned(def))?;
        tables.push(TableInfo { name: def.name.to_owned(), restricted: def.restricted, about: about(def.name) });
        if keyed {
            let history = format!("{}_history", def.name);
            let columns: Vec<(&'static str, Kind)> = history_columns(def);
            register_folder(&ctx, &history, &folder(&history), schema(&columns), false)?;
            tables.push(TableInfo { name: history.clone(), restricted: def.restricted, about: about(&history) });
        }
    }
    // A snapshot written before `caller_calls` existed: the same rows, computed when queried.
    if root.is_some() && !folder(catalog::CALLER_CALLS.name).is_dir() && folder(catalog::CALLS.name).is_dir() {
        let view = futures::executor::block_on(ctx.sql(CALLER_CALLS_VIEW)).map_err(engine)?.into_view();
        ctx.deregister_table(catalog::CALLER_CALLS.name).map_err(engine)?;
        ctx.register_table(catalog::CALLER_CALLS.name, view).map_err(engine)?;
    }
    ctx.register_table("categories", Arc::new(categories_table()?)).map_err(engine)?;
    tables.push(TableInfo { name: "categories".into(), restricted: false, about: about("categories") });

    let audit = if options.audit { Some(AuditLog::open(dir, options.role)?) } else { None };
    if investigator {
        let audit_dir = dir.join(audit::AUDIT_DIR);
        if audit_dir.is_dir() {
            let url = ListingTableUrl::parse(format!("{}/", audit_dir.display())).map_err(engine)?;
            let listing = ListingOptions::new(Arc::new(JsonFormat::default())).with_file_extension(".jsonl");
            let config = ListingTableConfig::new(url).with_listing_options(listing).with_schema(audit_schema());
            ctx.register_table("audit_log", Arc::new(ListingTable::try_new(config).map_err(engine)?))
                .map_err(engine)?;
            tables.push(TableInfo { name: "audit_log".into(), restricted: true, about: about("audit_log") });
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .thread_name("hotline-sql")
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()
        .map_err(SqlError::Io)?;
    Ok(Session {
        ctx,
        local,
        runtime: Some(runtime),
        options,
        snapshot: snapshot.map_or(0, |s| s as i64),
        tables,
        audit,
        city,
        dir: dir.to_path_buf(),
        _hold: hold,
    })
}

impl Drop for Session {
    fn drop(&mut self) {
        // A session may be dropped on a thread of another runtime (a server's), where waiting for
        // this one's threads to stop is forbidden: they are told to stop and left to do so.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Session {
    /// The session's own runtime (planning and execution run on it).
    fn runtime(&self) -> &tokio::runtime::Runtime {
        // Only `drop` takes it, and nothing runs after that.
        self.runtime.as_ref().expect("a session's runtime lives as long as the session")
    }

    /// The warehouse's city profile (district keys, area code, place names).
    pub fn city(&self) -> &crate::city::CityProfile {
        &self.city
    }

    /// The tables this session's role can query.
    pub fn tables(&self) -> &[TableInfo] {
        &self.tables
    }

    /// The snapshot the session reads (0 for an empty warehouse).
    pub fn snapshot(&self) -> i64 {
        self.snapshot
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.options.role
    }

    /// The underlying DataFusion context (for the engine's own stages).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// The schema of a table, if this role can see it.
    pub fn table_schema(&self, name: &str) -> Option<SchemaRef> {
        if !self.tables.iter().any(|t| t.name == name) {
            return None;
        }
        let provider = self.runtime().block_on(self.ctx.table_provider(name)).ok()?;
        Some(provider.schema())
    }

    /// Runs every statement of `sql` in order, handing results to `output`; each statement is
    /// checked, planned, run under the time limit, and audited (whatever its outcome).
    pub fn run(
        &self,
        sql: &str,
        output: &mut dyn FnMut(Output<'_>) -> Result<Flow, SqlError>,
    ) -> Result<Vec<QueryStats>, SqlError> {
        let started_at = chrono::Utc::now();
        let started = Instant::now();
        let statements = match guard::read_only_statements(sql, &self.options.limits) {
            Ok(statements) => statements,
            Err(error) => {
                self.audit(started_at, sql, 0, started.elapsed(), Err(&error))?;
                return Err(error);
            }
        };
        let mut all = Vec::new();
        for statement in statements {
            let text = statement.to_string();
            let started_at = chrono::Utc::now();
            let started = Instant::now();
            let mut rows = 0u64;
            let outcome = self.run_statement(statement, &mut rows, output).map_err(|e| self.on_cluster(e));
            self.audit(started_at, &text, rows, started.elapsed(), outcome.as_ref().map(|_| ()))?;
            outcome?;
            all.push(QueryStats { rows, elapsed: started.elapsed() });
        }
        Ok(all)
    }

    /// Runs SQL and collects the result as one batch sorted by a column (ascending, nulls first).
    /// The sort is done here, not by an `ORDER BY`: DataFusion's sort reserves memory for every
    /// batch's whole view buffers, so sorting a million calls with their narratives asked for
    /// 28 GB and failed, while the rows themselves take a few hundred MB.
    pub fn collect_sorted(&self, sql: &str, column: usize) -> Result<(SchemaRef, Vec<RecordBatch>), SqlError> {
        use datafusion::arrow::compute::{concat_batches, sort_to_indices, take_record_batch};
        let (schema, batches) = self.collect(sql)?;
        if batches.is_empty() {
            return Ok((schema, batches));
        }
        // Views are made plain text first: after a join every batch's views may point into every
        // buffer of the other side, and concatenating them would copy those buffers once per batch.
        let plain = |b: &RecordBatch| -> Result<RecordBatch, SqlError> {
            let columns = b
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    DataType::Utf8View => datafusion::arrow::compute::cast(c, &DataType::Utf8).map_err(engine),
                    _ => Ok(c.clone()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            let fields: Vec<Field> = b
                .schema()
                .fields()
                .iter()
                .zip(&columns)
                .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
                .collect();
            RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(engine)
        };
        let batches = batches.iter().map(plain).collect::<Result<Vec<_>, _>>()?;
        let batch = concat_batches(&batches[0].schema(), &batches).map_err(engine)?;
        drop(batches);
        if column >= batch.num_columns() {
            return Err(SqlError::Engine(format!("no column {column} to sort by")));
        }
        let order = sort_to_indices(batch.column(column), None, None).map_err(engine)?;
        let sorted = take_record_batch(&batch, &order).map_err(engine)?;
        Ok((schema, vec![sorted]))
    }

    /// Whether a (single, read-only) statement would run on the session's cluster: false for a
    /// local session, and for the plans a cluster would answer wrongly, which run here.
    pub fn runs_on_cluster(&self, sql: &str) -> Result<bool, SqlError> {
        let Some(local) = &self.local else {
            return Ok(false);
        };
        let statements = guard::read_only_statements(sql, &self.options.limits)?;
        let [statement] = statements.as_slice() else {
            return Err(SqlError::Refused(format!("one statement, not {}", statements.len())));
        };
        self.runtime().block_on(async {
            let plan = local.state().statement_to_plan(statement.clone()).await?;
            Ok(self.kept_here(&plan).await?.is_none())
        })
    }

    /// On a cluster, the physical plan of a statement this process runs itself (see
    /// `needs_one_process`), with the task context to run it in; `None`: the session's context runs it.
    async fn kept_here(
        &self,
        plan: &datafusion::logical_expr::LogicalPlan,
    ) -> Result<Option<(Arc<dyn datafusion::physical_plan::ExecutionPlan>, Arc<TaskContext>)>, SqlError> {
        let Some(local) = &self.local else {
            return Ok(None);
        };
        let physical = local.state().create_physical_plan(plan).await?;
        Ok(needs_one_process(&physical).then(|| (physical, local.task_ctx())))
    }

    /// Runs SQL and collects the result (for the engine's own stages and tests; audited like any query).
    pub fn collect(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), SqlError> {
        let mut schema = None;
        let mut batches = Vec::new();
        self.run(sql, &mut |out| {
            match out {
                Output::Schema(s) => schema = Some(s.clone()),
                Output::Batch(b) => batches.push(b.clone()),
            }
            Ok(Flow::More)
        })?;
        let schema = schema.unwrap_or_else(|| Arc::new(Schema::empty()));
        Ok((schema, batches))
    }

    fn audit(
        &self,
        started_at: chrono::DateTime<chrono::Utc>,
        sql: &str,
        rows: u64,
        elapsed: Duration,
        outcome: Result<(), &SqlError>,
    ) -> Result<(), SqlError> {
        match &self.audit {
            Some(log) => log.record(self.snapshot, started_at, sql, rows, elapsed, outcome),
            None => Ok(()),
        }
    }

    /// An engine error of a session on a cluster, saying so, and what to check when a file could
    /// not be read (an executor without the warehouse at the same path).
    fn on_cluster(&self, error: SqlError) -> SqlError {
        let (Some(scheduler), SqlError::Engine(message)) = (&self.options.cluster, &error) else {
            return error;
        };
        let unreadable = ["No such file", "os error 2", "Permission denied", "Object at location", "not found"]
            .iter()
            .any(|sign| message.contains(sign));
        let hint = if unreadable {
            format!(
                "; every executor must read the warehouse at the same path ({}), e.g. on a shared file system",
                self.dir.display()
            )
        } else {
            String::new()
        };
        SqlError::Engine(format!("on the cluster at {scheduler}: {message}{hint}"))
    }

    fn run_statement(
        &self,
        statement: DfStatement,
        rows: &mut u64,
        output: &mut dyn FnMut(Output<'_>) -> Result<Flow, SqlError>,
    ) -> Result<(), SqlError> {
        let limit = self.options.timeout;
        let deadline = {
            let _entered = self.runtime().enter();
            tokio::time::Instant::now() + limit
        };
        let timed_out = || SqlError::Timeout(limit);
        // Planning runs here, on the caller's large stack.
        let planned = self.runtime().block_on(async {
            tokio::time::timeout_at(deadline, async {
                let state = self.ctx.state();
                let plan = state.statement_to_plan(statement).await?;
                SQLOptions::new()
                    .with_allow_ddl(false)
                    .with_allow_dml(false)
                    .with_allow_statements(false)
                    .verify_plan(&plan)
                    .map_err(|e| SqlError::Refused(e.to_string()))?;
                if let Some((physical, task)) = self.kept_here(&plan).await? {
                    return Ok((datafusion::physical_plan::execute_stream(physical, task)?, None));
                }
                let frame = self.ctx.execute_logical_plan(plan).await?;
                let watch = self.options.cluster.as_deref().and_then(executor_watch);
                Ok::<_, SqlError>((frame.execute_stream().await?, watch))
            })
            .await
        });
        let (mut stream, watch) = planned.map_err(|_| timed_out())??;
        let schema = stream.schema();
        if output(Output::Schema(&schema))? == Flow::Stop {
            return Ok(());
        }
        // Execution runs as a task of its own, so the deadline holds even while an operator is busy.
        // On a cluster it also ends, saying why, when an executor is lost meanwhile.
        let (sender, mut receiver) = tokio::sync::mpsc::channel(2);
        let task = self.runtime().spawn(async move {
            let lost_sender = sender.clone();
            let forward = async move {
                while let Some(batch) = stream.next().await {
                    if sender.send(batch.map_err(SqlError::from)).await.is_err() {
                        break;
                    }
                }
            };
            match watch {
                None => forward.await,
                Some(lost) => tokio::select! {
                    _ = forward => {}
                    message = lost => {
                        let _ = lost_sender.send(Err(SqlError::Engine(message))).await;
                    }
                },
            }
        });
        let result = loop {
            match self.runtime().block_on(async { tokio::time::timeout_at(deadline, receiver.recv()).await }) {
                Err(_) => break Err(timed_out()),
                Ok(None) => break Ok(()),
                Ok(Some(batch)) => {
                    let batch = match batch {
                        Ok(batch) => batch,
                        Err(error) => break Err(error),
                    };
                    *rows += batch.num_rows() as u64;
                    match output(Output::Batch(&batch)) {
                        Ok(Flow::More) => {}
                        Ok(Flow::Stop) => break Ok(()),
                        Err(error) => break Err(error),
                    }
                }
            }
        };
        task.abort();
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::physical_plan::repartition::RepartitionExec;
    use datafusion::physical_plan::{ExecutionPlan, collect};

    /// Four partitions of 25,000 rows in batches of 1,000: a group, and two texts long enough
    /// that a repartition's buffered batches outgrow a small pool.
    fn table() -> Arc<MemTable> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("g", DataType::Int64, false),
            Field::new("a", DataType::Utf8, false),
            Field::new("b", DataType::Utf8, false),
        ]));
        let partitions = (0..4i64)
            .map(|p| {
                let rows = (0..25_000i64).map(|i| p * 25_000 + i);
                let g = Int64Array::from_iter_values(rows.clone().map(|x| x % 17));
                let a =
                    StringArray::from_iter_values(rows.clone().map(|x| format!("caller {:>24}", x * 7919 % 30_011)));
                let b = StringArray::from_iter_values(rows.map(|x| format!("narrative {:>40}", x % 9_973)));
                let columns: Vec<datafusion::arrow::array::ArrayRef> = vec![Arc::new(g), Arc::new(a), Arc::new(b)];
                RecordBatch::try_new(Arc::clone(&schema), columns)
                    .map(|batch| (0..25).map(|i| batch.slice(i * 1_000, 1_000)).collect::<Vec<_>>())
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .unwrap();
        Arc::new(MemTable::try_new(schema, partitions).unwrap())
    }

    /// Batches the plan's repartitions wrote to disk.
    fn spilled_by_repartitions(plan: &Arc<dyn ExecutionPlan>) -> usize {
        let own = match plan.downcast_ref::<RepartitionExec>() {
            Some(_) => plan.metrics().and_then(|m| m.spill_count()).unwrap_or(0),
            None => 0,
        };
        own + plan.children().into_iter().map(spilled_by_repartitions).sum::<usize>()
    }

    /// The engine's spilling repartitions (DataFusion 55 reads their spill files through a pool
    /// that stalled with two files open, apache/datafusion#24883): under a limit that makes them
    /// spill, distinct counts over sort-merge joins finish every time with the rows an unlimited
    /// run gives. The stall itself showed at 1M calls and more (1 run in 13 before the setting
    /// in `engine_context`, 0 in 40 after); at this size it did not show in 40 runs without it.
    #[test]
    fn repartitions_that_spill_from_several_inputs_at_once_finish_with_the_right_rows() {
        let sql = "SELECT g, COUNT(DISTINCT a) AS callers, COUNT(DISTINCT b) AS texts FROM t GROUP BY g ORDER BY g";
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_stack_size(16 << 20)
            .enable_all()
            .build()
            .unwrap();
        let run = |memory: usize| {
            let options = SessionOptions { spill_joins: true, ..SessionOptions::default() };
            let ctx = engine_context(memory, &options).unwrap();
            ctx.register_table("t", table()).unwrap();
            runtime.block_on(async {
                let plan = ctx.sql(sql).await?.create_physical_plan().await?;
                let work = collect(Arc::clone(&plan), ctx.task_ctx());
                match tokio::time::timeout(Duration::from_secs(20), work).await {
                    Ok(batches) => Ok(Some((batches?, spilled_by_repartitions(&plan)))),
                    Err(_) => Ok::<_, datafusion::error::DataFusionError>(None),
                }
            })
        };
        let (expected, spilled) = run(1 << 30).unwrap().expect("the query finishes with memory to spare");
        assert_eq!(spilled, 0);
        let expected = datafusion::arrow::util::pretty::pretty_format_batches(&expected).unwrap().to_string();
        let mut spills = 0;
        for attempt in 0..20 {
            let Some((batches, spilled)) = run(limit()).unwrap_or_else(|e| panic!("attempt {attempt}: {e}")) else {
                panic!("attempt {attempt} stopped: a spilling repartition waited for a batch it never read")
            };
            let got = datafusion::arrow::util::pretty::pretty_format_batches(&batches).unwrap().to_string();
            assert_eq!(got, expected, "attempt {attempt}");
            spills += spilled;
        }
        assert!(spills > 0, "the limit makes the repartitions spill");
    }

    /// A limit under which the repartitions spill and the rest of the plan still fits: 18 MB for
    /// each partition the engine plans (a partition's operators share the pool).
    fn limit() -> usize {
        let partitions = SessionConfig::new().options().execution.target_partitions.max(1);
        partitions * (18 << 20)
    }
}
