//! `hotline serve --pg`: the warehouse over the PostgreSQL wire protocol (pgwire, through
//! datafusion-postgres), so psql, DBeaver, Superset, Metabase and pandas reach the same sessions
//! as `hotline sql`: SCRAM-SHA-256 sign-in against the explorer's users file, the user's role
//! deciding which tables exist, read-only statements only, a time limit per statement, a limit
//! on connections and statement size, optional or required TLS, and an audit record per statement.

use std::fmt::Debug;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SQLOptions, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::arrow_pg::datatypes::df::encode_dataframe;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::hooks::cursor::CursorStatementHook;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire;
use datafusion_postgres::{DfSessionService, QueryHook};
use futures::{Sink, Stream};
use pgwire::api::auth::sasl::SASLAuthStartupHandler;
use pgwire::api::auth::sasl::scram::ScramAuth;
use pgwire::api::auth::{AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler};
use pgwire::api::portal::{Format, Portal};
use pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use pgwire::api::results::{FieldInfo, Response, Tag};
use pgwire::api::stmt::QueryParser;
use pgwire::api::store::PortalStore;
use pgwire::api::{ClientInfo, ClientPortalStore, ErrorHandler, METADATA_USER, PgWireServerHandlers, Type};
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use pgwire::types::format::FormatOptions;
use tokio::net::TcpListener;

use super::ServeError;
use super::auth::Throttle;
use super::pg_catalogue::{
    CurrentSetting, ServedCatalogue, catalogue_rewrite, like_escapes_as_backslash, show_as_setting,
};
use super::users::{SCRAM_ITERATIONS, Users, parse_verifier};
use crate::sql::audit::{AuditLog, Who};
use crate::sql::guard::{self, Limits};
use crate::sql::{Role, SessionOptions, SqlError, open_session};
use crate::warehouse::Warehouse;

/// Connections served at once unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 64;

/// The catalogue (database) name clients see.
const DATABASE: &str = "datafusion";

/// Settings of the PostgreSQL endpoint.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// The warehouse folder.
    pub warehouse: PathBuf,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// PEM certificate chain and key: TLS is offered.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Refuse connections that did not negotiate TLS.
    pub require_tls: bool,
    /// Connections served at once; more are refused with SQLSTATE 53300.
    pub max_connections: usize,
    /// Statements that run at once; more wait their turn (within their time limit). Each running
    /// statement already uses every core, so more at once only share the cores and the memory
    /// pool thinner: 32 heavy statements at once on 2 cores held 14 GB and failed to sort.
    pub max_running: usize,
    /// Longest a statement may run.
    pub query_timeout: Duration,
    /// Memory the queries of one role may hold (default: a quarter of the machine's memory, so
    /// the two roles together stay within the half `hotline sql` takes).
    pub memory_limit: Option<usize>,
    /// Limits on statement size.
    pub limits: Limits,
}

impl PgConfig {
    /// Defaults for a warehouse: loopback port 5433, no TLS, 64 connections, 5 minutes a statement.
    pub fn new(warehouse: &std::path::Path) -> PgConfig {
        PgConfig {
            warehouse: warehouse.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 5433)),
            tls: None,
            require_tls: false,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_running: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            query_timeout: Duration::from_secs(300),
            memory_limit: None,
            limits: Limits::default(),
        }
    }
}

/// A PostgreSQL error with its SQLSTATE.
fn pg_error(severity: &str, code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(severity.to_owned(), code.to_owned(), message.into())))
}

/// SQLSTATE of a refused statement (read_only_sql_transaction).
const REFUSED: &str = "25006";
/// SQLSTATE of a statement over the size limits (program_limit_exceeded).
const TOO_BIG: &str = "54000";
/// SQLSTATE of a statement stopped by its time limit (query_canceled).
const CANCELLED: &str = "57014";

fn sql_error(error: &SqlError) -> PgWireError {
    match error {
        SqlError::Refused(m) => pg_error("ERROR", TOO_BIG, format!("refused: {m}")),
        SqlError::Parse(m) => pg_error("ERROR", "42601", m.clone()),
        other => pg_error("ERROR", "XX000", other.to_string()),
    }
}

/// The server's version as PostgreSQL words it: clients (SQLAlchemy, and so Superset) read the
/// major and minor version from `SELECT version()` and give up on any other form.
pub const VERSION: &str = "PostgreSQL 16.6 (hotline, Apache DataFusion 55) on x86_64-pc-linux-gnu";

/// `version()` answering [`VERSION`].
fn version_function() -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(|_| Ok(ColumnarValue::Scalar(datafusion::common::ScalarValue::Utf8(Some(VERSION.to_owned()))))),
    )
}

/// Built-in type names and their oids, for `to_regtype`.
const TYPE_OIDS: &[(&str, i32)] = &[
    ("bool", 16),
    ("boolean", 16),
    ("bytea", 17),
    ("int8", 20),
    ("bigint", 20),
    ("int2", 21),
    ("smallint", 21),
    ("int4", 23),
    ("integer", 23),
    ("text", 25),
    ("oid", 26),
    ("json", 114),
    ("float4", 700),
    ("real", 700),
    ("float8", 701),
    ("double precision", 701),
    ("varchar", 1043),
    ("character varying", 1043),
    ("date", 1082),
    ("time", 1083),
    ("timestamp", 1114),
    ("timestamptz", 1184),
    ("interval", 1186),
    ("numeric", 1700),
    ("uuid", 2950),
    ("jsonb", 3802),
];

/// `to_regtype(name)`: the oid of a built-in type, NULL for any other (psycopg, and so
/// SQLAlchemy, asks it on connect for types such as hstore that this server does not have).
fn to_regtype_function() -> datafusion::logical_expr::ScalarUDF {
    use datafusion::arrow::array::{Array, AsArray, Int32Array};
    use datafusion::arrow::datatypes::DataType;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    let oid = |name: Option<&str>| {
        let name = name?.trim().trim_start_matches("pg_catalog.").to_ascii_lowercase();
        TYPE_OIDS.iter().find(|(n, _)| *n == name).map(|(_, oid)| *oid)
    };
    create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Immutable,
        Arc::new(move |args| {
            let array = args[0].to_array(1)?;
            let text = datafusion::arrow::compute::cast(&array, &DataType::Utf8)?;
            let text = text.as_string::<i32>();
            let out: Int32Array =
                (0..text.len()).map(|i| if text.is_null(i) { None } else { oid(Some(text.value(i))) }).collect();
            Ok(match &args[0] {
                ColumnarValue::Scalar(_) => {
                    ColumnarValue::Scalar(datafusion::common::ScalarValue::try_from_array(&out, 0)?)
                }
                ColumnarValue::Array(_) => ColumnarValue::Array(Arc::new(out)),
            })
        }),
    )
}

/// Catalogue functions that tools call while introspecting, with the one answer they have here:
/// no table has a serial or identity column, a view definition or an index, and every type and
/// collation is visible.
fn catalogue_constants() -> Vec<(&'static str, datafusion::common::ScalarValue)> {
    use datafusion::common::ScalarValue;
    vec![
        // Asked only of identity columns and collations, which no table here has.
        ("json_build_object", ScalarValue::Utf8(None)),
        ("pg_get_serial_sequence", ScalarValue::Utf8(None)),
        ("pg_get_viewdef", ScalarValue::Utf8(None)),
        ("pg_get_indexdef", ScalarValue::Utf8(None)),
        // Comments: no table, column or type here carries one (the built-ins' descriptions in
        // pg_description are not looked up). pg_proc lists PostgreSQL's built-ins only, whose
        // signatures are not looked up either (pgjdbc asks a function's result type only to tell
        // set-returning functions apart).
        ("obj_description", ScalarValue::Utf8(None)),
        ("col_description", ScalarValue::Utf8(None)),
        ("shobj_description", ScalarValue::Utf8(None)),
        ("pg_get_function_result", ScalarValue::Utf8(None)),
        ("pg_get_function_arguments", ScalarValue::Utf8(None)),
        ("pg_get_function_identity_arguments", ScalarValue::Utf8(None)),
        ("pg_type_is_visible", ScalarValue::Boolean(Some(true))),
        ("pg_collation_is_visible", ScalarValue::Boolean(Some(true))),
    ]
}

/// A function of any arguments that always answers one value.
#[derive(Debug, PartialEq, Eq, Hash)]
struct Constant {
    name: &'static str,
    value: datafusion::common::ScalarValue,
    signature: datafusion::logical_expr::Signature,
}

impl Constant {
    fn new(name: &'static str, value: datafusion::common::ScalarValue) -> Constant {
        let signature =
            datafusion::logical_expr::Signature::variadic_any(datafusion::logical_expr::Volatility::Immutable);
        Constant { name, value, signature }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for Constant {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(
        &self,
        _: &[datafusion::arrow::datatypes::DataType],
    ) -> datafusion::error::Result<datafusion::arrow::datatypes::DataType> {
        Ok(self.value.data_type())
    }

    fn invoke_with_args(
        &self,
        _: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        Ok(datafusion::logical_expr::ColumnarValue::Scalar(self.value.clone()))
    }
}

/// The sessions of one snapshot: a DataFusion context per role, each with the pg_catalog schema
/// and the functions clients ask for on connect.
struct Services {
    snapshot: i64,
    analyst: Arc<DfSessionService>,
    investigator: Arc<DfSessionService>,
}

impl Services {
    fn of(&self, role: Role) -> &Arc<DfSessionService> {
        match role {
            Role::Analyst => &self.analyst,
            Role::Investigator => &self.investigator,
        }
    }
}

/// The endpoint's state, shared by every connection.
pub struct PgServer {
    config: PgConfig,
    warehouse: Warehouse,
    users: Users,
    audit: AuditLog,
    throttle: Mutex<Throttle>,
    services: Mutex<Option<Arc<Services>>>,
    /// Sessions of earlier snapshots that connections asked for (`hotline@N`), a few kept.
    earlier: Mutex<std::collections::BTreeMap<u64, Arc<Services>>>,
    loading: tokio::sync::Mutex<()>,
    connections: Arc<tokio::sync::Semaphore>,
    running: Arc<tokio::sync::Semaphore>,
}

impl PgServer {
    /// Opens the warehouse and its audit log and checks that the sessions can be built.
    pub fn open(config: PgConfig, users: Users) -> Result<PgServer, ServeError> {
        let warehouse = Warehouse::open(&config.warehouse)?;
        let audit = AuditLog::open(&config.warehouse, Role::Analyst)?;
        let connections = Arc::new(tokio::sync::Semaphore::new(config.max_connections.max(1)));
        let running = Arc::new(tokio::sync::Semaphore::new(config.max_running.max(1)));
        let server = PgServer {
            config,
            warehouse,
            users,
            audit,
            throttle: Mutex::new(Throttle::default()),
            services: Mutex::new(None),
            earlier: Mutex::new(std::collections::BTreeMap::new()),
            loading: tokio::sync::Mutex::new(()),
            connections,
            running,
        };
        let first = server.build(None)?;
        *server.services.lock().map_err(|_| super::poisoned())? = Some(Arc::new(first));
        Ok(server)
    }

    /// The sessions of the committed snapshot, or of an earlier kept one (blocking: opens the
    /// warehouse's tables).
    fn build(&self, earlier: Option<u64>) -> Result<Services, ServeError> {
        let open = |role: Role| -> Result<Arc<DfSessionService>, ServeError> {
            let options = SessionOptions {
                role,
                audit: false,
                timeout: self.config.query_timeout,
                memory_limit: self.config.memory_limit.or_else(|| Some(crate::sql::default_memory_limit() / 2)),
                limits: self.config.limits,
                snapshot: earlier,
                spill_joins: false,
                cluster: None,
            };
            let session = open_session(&self.config.warehouse, options)?;
            let ctx: SessionContext = session.context().clone();
            let catalogue_error = |e: String| ServeError::Sql(SqlError::Engine(format!("pg_catalog: {e}")));
            setup_pg_catalog(&ctx, DATABASE, EmptyContextProvider).map_err(|e| catalogue_error(e.to_string()))?;
            let database = ctx.catalog(DATABASE).ok_or_else(|| catalogue_error("no catalogue".into()))?;
            let built = database.schema("pg_catalog").ok_or_else(|| catalogue_error("not built".into()))?;
            database
                .register_schema("pg_catalog", Arc::new(ServedCatalogue::new(built)))
                .map_err(|e| catalogue_error(e.to_string()))?;
            ctx.register_udf(version_function());
            ctx.register_udf(to_regtype_function());
            ctx.register_udf(CurrentSetting::udf());
            for (name, value) in catalogue_constants() {
                ctx.register_udf(datafusion::logical_expr::ScalarUDF::new_from_impl(Constant::new(name, value)));
            }
            let hooks: Vec<Arc<dyn QueryHook>> = vec![
                Arc::new(ReadOnly),
                Arc::new(CursorStatementHook),
                Arc::new(SetShowHook),
                Arc::new(TransactionStatementHook),
            ];
            Ok(Arc::new(DfSessionService::new_with_hooks(Arc::new(ctx), hooks)))
        };
        let snapshot = match earlier {
            Some(id) => id as i64,
            None => self.warehouse.current()?.map_or(0, |s| s as i64),
        };
        Ok(Services { snapshot, analyst: open(Role::Analyst)?, investigator: open(Role::Investigator)? })
    }

    /// The sessions a connection reads: the current snapshot's, or those of the earlier one it
    /// asked for by its database name (`hotline@N`, read-only like every session here).
    async fn services_for(self: &Arc<Self>, who: &Asker) -> PgWireResult<Arc<Services>> {
        let Some(id) = who.snapshot else { return self.services().await };
        let internal = |e: String| pg_error("ERROR", "XX000", e);
        if let Some(found) = self.earlier.lock().map_err(|_| internal("a lock is poisoned".into()))?.get(&id) {
            return Ok(found.clone());
        }
        self.warehouse.kept_snapshot(id).map_err(|e| pg_error("FATAL", "3D000", e.to_string()))?;
        let _loading = self.loading.lock().await;
        let server = self.clone();
        let built = tokio::task::spawn_blocking(move || server.build(Some(id)))
            .await
            .map_err(|e| internal(e.to_string()))?
            .map_err(|e| internal(e.to_string()))?;
        let built = Arc::new(built);
        let mut earlier = self.earlier.lock().map_err(|_| internal("a lock is poisoned".into()))?;
        // A few earlier snapshots stay open; each holds its snapshot against vacuum meanwhile.
        while earlier.len() >= 4 {
            earlier.pop_first();
        }
        earlier.insert(id, built.clone());
        Ok(built)
    }

    /// The sessions of the newest committed snapshot, built anew when it changed.
    async fn services(self: &Arc<Self>) -> PgWireResult<Arc<Services>> {
        let internal = |e: String| pg_error("ERROR", "XX000", e);
        let snapshot = self.warehouse.current().map_err(|e| internal(e.to_string()))?.map_or(0, |s| s as i64);
        let cached = || -> PgWireResult<Option<Arc<Services>>> {
            let guard = self.services.lock().map_err(|_| internal("a lock is poisoned".into()))?;
            Ok(guard.as_ref().filter(|s| s.snapshot == snapshot).cloned())
        };
        if let Some(services) = cached()? {
            return Ok(services);
        }
        let _loading = self.loading.lock().await;
        if let Some(services) = cached()? {
            return Ok(services);
        }
        let server = self.clone();
        // Opening a session starts (and drops) a runtime of its own: not on this runtime's threads.
        let built = tokio::task::spawn_blocking(move || server.build(None))
            .await
            .map_err(|e| internal(e.to_string()))?
            .map_err(|e| internal(e.to_string()))?;
        let built = Arc::new(built);
        *self.services.lock().map_err(|_| internal("a lock is poisoned".into()))? = Some(built.clone());
        Ok(built)
    }

    /// Who a signed-in connection is: user, role, client address.
    fn who<C: ClientInfo + ?Sized>(&self, client: &C) -> PgWireResult<Asker> {
        let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_default();
        let role = self
            .users
            .users
            .iter()
            .find(|u| u.name == user)
            .map(|u| u.role())
            .ok_or_else(|| pg_error("FATAL", "28000", format!("no user {user:?}")))?;
        let database = client.metadata().get(pgwire::api::METADATA_DATABASE).map(String::as_str).unwrap_or(DATABASE);
        let snapshot = snapshot_of_database(database)?;
        Ok(Asker { user, role, client: client.socket_addr().to_string(), snapshot })
    }

    /// Appends one audit record (off the runtime's threads: the log is synced to disk).
    fn audit(
        self: &Arc<Self>,
        who: &Asker,
        snapshot: i64,
        started: (chrono::DateTime<chrono::Utc>, Instant),
        sql: &str,
        rows: u64,
        error: Option<&PgWireError>,
    ) {
        let (started, took) = (started.0, started.1.elapsed());
        let (outcome, message) = match error {
            None => ("ok", None),
            Some(e) => (if refused(e) { "refused" } else { "error" }, Some(error_text(e))),
        };
        let server = self.clone();
        let (who, sql) = (who.clone(), sql.to_owned());
        let write = move || {
            let user = format!("pg:{}", who.user);
            let record = server.audit.append(
                Who { user: &user, role: who.role, client: Some(&who.client) },
                snapshot,
                started,
                &sql,
                rows,
                took,
                outcome,
                message.as_deref(),
            );
            if let Err(e) = record {
                eprintln!("hotline serve --pg: cannot write the audit log: {e}");
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => drop(handle.spawn_blocking(write)),
            Err(_) => write(),
        }
    }
}

/// Who asked: the signed-in user, the role and the client's address.
#[derive(Debug, Clone)]
struct Asker {
    user: String,
    role: Role,
    client: String,
    /// An earlier snapshot asked for by connecting to `hotline@N`; none: the current one.
    snapshot: Option<u64>,
}

/// The snapshot a database name asks for: `hotline@N` reads snapshot N, any other name the
/// current one.
fn snapshot_of_database(database: &str) -> PgWireResult<Option<u64>> {
    match database.rsplit_once('@') {
        None => Ok(None),
        Some((_, number)) => number.parse::<u64>().map(Some).map_err(|_| {
            pg_error("FATAL", "3D000", format!("database {database:?}: after @ comes a snapshot number (hotline@12)"))
        }),
    }
}

/// Whether an error is a refusal by the guard (outcome `refused` in the audit log).
fn refused(error: &PgWireError) -> bool {
    matches!(error, PgWireError::UserError(info) if info.code == REFUSED || info.code == TOO_BIG)
}

/// The message of an error, as the client sees it.
fn error_text(error: &PgWireError) -> String {
    match error {
        PgWireError::UserError(info) => info.message.clone(),
        PgWireError::ApiError(e) => e.to_string(),
        other => other.to_string(),
    }
}

/// The read-only guard, first of the hooks: queries (and EXPLAIN of them) are planned here and
/// refused unless the plan reads only (no DDL, DML, COPY or `SELECT … INTO`); client settings,
/// SHOW, transactions and cursors over a query go on to datafusion-postgres's hooks; any other
/// statement is refused, and so is `SET datafusion.…`, which would change every connection's
/// shared settings (the memory limit among them).
#[derive(Debug)]
struct ReadOnly;

enum Verdict {
    /// Plan and run it here.
    Plan,
    /// Answer with this command tag and do nothing: savepoints and the session clean-ups pools
    /// send, which a read-only session has nothing to do for.
    Nothing(&'static str),
    /// Let the later hooks answer.
    Pass,
    /// Refused, with the reason.
    Refuse(String),
}

fn verdict(statement: &Statement) -> Verdict {
    match statement {
        Statement::Query(_) => Verdict::Plan,
        Statement::Explain { statement, .. } if matches!(statement.as_ref(), Statement::Query(_)) => Verdict::Plan,
        Statement::Set(set) => {
            let names: Vec<String> = match set {
                Set::SingleAssignment { variable, .. } => vec![variable.to_string()],
                Set::ParenthesizedAssignments { variables, .. } => variables.iter().map(|v| v.to_string()).collect(),
                Set::MultipleAssignments { assignments } => assignments.iter().map(|a| a.name.to_string()).collect(),
                Set::SetTimeZone { .. } | Set::SetNames { .. } | Set::SetNamesDefault { .. } => vec![],
                Set::SetTransaction { .. } => vec![],
                _ => return Verdict::Refuse("this SET is refused here".into()),
            };
            match names.iter().find(|n| n.to_ascii_lowercase().starts_with("datafusion")) {
                Some(name) => Verdict::Refuse(format!(
                    "SET {name} is refused: engine settings are the server's and shared by every connection"
                )),
                None => Verdict::Pass,
            }
        }
        Statement::ShowVariable { .. }
        | Statement::ShowVariables { .. }
        | Statement::ShowTables { .. }
        | Statement::ShowColumns { .. }
        | Statement::ShowCatalogs { .. }
        | Statement::ShowSchemas { .. }
        | Statement::ShowDatabases { .. }
        | Statement::StartTransaction { .. }
        | Statement::Commit { .. }
        | Statement::Rollback { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. } => Verdict::Pass,
        Statement::Savepoint { .. } => Verdict::Nothing("SAVEPOINT"),
        Statement::ReleaseSavepoint { .. } => Verdict::Nothing("RELEASE"),
        Statement::Discard { .. } => Verdict::Nothing("DISCARD ALL"),
        Statement::Deallocate { .. } => Verdict::Nothing("DEALLOCATE"),
        Statement::Declare { stmts } => {
            // A cursor over a query runs that query: it must read only, like any other.
            if stmts.iter().all(|d| d.for_query.is_some()) {
                Verdict::Pass
            } else {
                Verdict::Refuse(read_only(statement))
            }
        }
        other => Verdict::Refuse(read_only(other)),
    }
}

fn read_only(statement: &Statement) -> String {
    let text = statement.to_string();
    let words: Vec<&str> = text.split_whitespace().take(2).collect();
    format!(
        "{} statements are refused: the warehouse is read-only here; only queries (SELECT, WITH, VALUES), \
         EXPLAIN, SHOW and the session settings clients send on connect run",
        words.join(" ").to_uppercase()
    )
}

/// Plans a statement and refuses any plan that would change something.
async fn read_only_plan(statement: &Statement, ctx: &SessionContext) -> PgWireResult<LogicalPlan> {
    let state = ctx.state();
    // Catalogue queries are rewritten where DataFusion cannot take them as written: LIKE …
    // ESCAPE '/' always (the translation is exact), the rest of [`catalogue_rewrite`] only when
    // the query as written cannot be planned or optimised (SQLAlchemy's reflection); the error
    // is then the first one's.
    let catalogue = catalogue_only(statement);
    let translated = catalogue.then(|| like_escapes_as_backslash(statement)).flatten();
    let statement = translated.as_ref().unwrap_or(statement);
    let plan_of = async |statement: Statement| {
        let plan = state.statement_to_plan(DfStatement::Statement(Box::new(statement))).await?;
        if catalogue {
            state.optimize(&plan)?;
        }
        Ok::<_, datafusion::error::DataFusionError>(plan)
    };
    let plan = match plan_of(statement.clone()).await {
        Ok(plan) => plan,
        Err(e) => {
            let retry = match catalogue.then(|| catalogue_rewrite(statement)).flatten() {
                Some(rewritten) => plan_of(rewritten).await.ok(),
                None => None,
            };
            retry.ok_or_else(|| PgWireError::ApiError(Box::new(e)))?
        }
    };
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
        .verify_plan(&plan)
        .map_err(|e| pg_error("ERROR", REFUSED, format!("refused: the warehouse is read-only here ({e})")))?;
    let physical = physical_plan_for_sizing(&state, &plan).await;
    if let Some(rows) = physical.as_ref().and_then(oversized_cross_join) {
        return Err(pg_error(
            "ERROR",
            TOO_BIG,
            format!(
                "refused: a join without an equality here pairs about {rows:.1e} rows, more than {MAX_CROSS_ROWS:.0e}; \
                 such a join cannot be stopped at the time limit once it runs (add a join condition or filter first)"
            ),
        ));
    }
    Ok(plan)
}

/// The physical plan of a statement, to size its joins. A statement with parameters ($1) is
/// planned with a default value of each parameter's type (the inputs' sizes hardly depend on
/// the values); one whose parameter types cannot be told is not sized.
async fn physical_plan_for_sizing(
    state: &datafusion::execution::SessionState,
    plan: &LogicalPlan,
) -> Option<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
    use datafusion::common::ScalarValue;
    if let Ok(physical) = state.create_physical_plan(plan).await {
        return Some(physical);
    }
    let mut types: Vec<(usize, Option<datafusion::arrow::datatypes::DataType>)> = plan
        .get_parameter_types()
        .ok()?
        .into_iter()
        .filter_map(|(name, t)| name.trim_start_matches('$').parse::<usize>().ok().map(|n| (n, t)))
        .collect();
    types.sort_by_key(|(n, _)| *n);
    // Defaults (0, ''), not nulls: `x <> NULL` would let the optimiser drop the whole input.
    let values: Vec<ScalarValue> =
        types.iter().map(|(_, t)| t.as_ref().and_then(|t| ScalarValue::new_default(t).ok())).collect::<Option<_>>()?;
    let bound = plan.clone().with_param_values(values).ok()?;
    state.create_physical_plan(&bound).await.ok()
}

/// Rows a join without an equality (a cross or nested-loop join) may pair at most. Such a join
/// feeding an aggregate holds a core without a point where its statement could be stopped.
const MAX_CROSS_ROWS: f64 = 1e9;

/// The pairs of the first join without an equality whose inputs' estimated rows multiply past
/// [`MAX_CROSS_ROWS`].
fn oversized_cross_join(plan: &Arc<dyn datafusion::physical_plan::ExecutionPlan>) -> Option<f64> {
    use datafusion::physical_plan::joins::{CrossJoinExec, NestedLoopJoinExec};
    use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};
    if plan.is::<CrossJoinExec>() || plan.is::<NestedLoopJoinExec>() {
        let rows = |c: &Arc<dyn ExecutionPlan>| {
            let statistics = StatisticsContext::default().compute(c.as_ref(), &StatisticsArgs::new()).ok()?;
            statistics.num_rows.get_value().map(|&n| n as f64)
        };
        let children = plan.children();
        if let [left, right] = children.as_slice()
            && let (Some(l), Some(r)) = (rows(left), rows(right))
            && l * r > MAX_CROSS_ROWS
        {
            return Some(l * r);
        }
    }
    plan.children().into_iter().find_map(oversized_cross_join)
}

/// Checks a cursor's query the same way.
async fn check_cursor(statement: &Statement, ctx: &SessionContext) -> PgWireResult<()> {
    if let Statement::Declare { stmts } = statement {
        for declare in stmts {
            if let Some(query) = &declare.for_query {
                read_only_plan(&Statement::Query(query.clone()), ctx).await?;
            }
        }
    }
    Ok(())
}

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let setting = show_as_setting(statement);
        let statement = setting.as_ref().unwrap_or(statement);
        match verdict(statement) {
            Verdict::Refuse(why) => Some(Err(pg_error("ERROR", REFUSED, format!("refused: {why}")))),
            Verdict::Nothing(tag) => Some(Ok(Response::Execution(Tag::new(tag)))),
            Verdict::Pass => check_cursor(statement, ctx).await.err().map(Err),
            Verdict::Plan => {
                let answer = async {
                    let plan = read_only_plan(statement, ctx).await?;
                    let frame = ctx.execute_logical_plan(plan).await.map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                    Ok(Response::Query(encode_dataframe(frame, &Format::UnifiedText, Some(options)).await?))
                };
                Some(answer.await)
            }
        }
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &Statement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let setting = show_as_setting(statement);
        let statement = setting.as_ref().unwrap_or(statement);
        match verdict(statement) {
            Verdict::Refuse(why) => Some(Err(pg_error("ERROR", REFUSED, format!("refused: {why}")))),
            Verdict::Nothing(_) => Some(Ok(LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
                produce_one_row: false,
                schema: Arc::new(datafusion::common::DFSchema::empty()),
            }))),
            Verdict::Pass => check_cursor(statement, ctx).await.err().map(Err),
            Verdict::Plan => Some(read_only_plan(statement, ctx).await),
        }
    }

    async fn handle_extended_query(
        &self,
        statement: &Statement,
        plan: &LogicalPlan,
        _params: &ParamValues,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        if show_as_setting(statement).is_some() {
            // Answered here, from the plan made when it was parsed: the SHOW hook after this one
            // would answer its own value. In text, as SHOW answers.
            let answer = async {
                let frame =
                    ctx.execute_logical_plan(plan.clone()).await.map_err(|e| PgWireError::ApiError(Box::new(e)))?;
                let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
                Ok(Response::Query(encode_dataframe(frame, &Format::UnifiedText, Some(options)).await?))
            };
            return Some(answer.await);
        }
        // Plans were checked when parsed; what needs no plan is answered here.
        match verdict(statement) {
            Verdict::Nothing(tag) => Some(Ok(Response::Execution(Tag::new(tag)))),
            _ => None,
        }
    }
}

/// Whether a statement reads no warehouse table: settings, SHOW, transactions, and queries of
/// `pg_catalog` and `information_schema` only, which clients send on connect and while browsing.
/// Such statements are cheap and do not wait for a turn behind the analysts' queries.
fn catalogue_only(statement: &Statement) -> bool {
    let Ok((tables, _)) =
        datafusion::sql::resolve::resolve_table_references(&DfStatement::Statement(Box::new(statement.clone())), true)
    else {
        return false;
    };
    tables.iter().all(|t| match t.schema() {
        Some(schema) => schema == "pg_catalog" || schema == "information_schema",
        // Unqualified catalogue names, as PostgreSQL's search path finds them.
        None => t.table().starts_with("pg_"),
    })
}

/// [`catalogue_only`] of every statement of a text (false if it does not parse).
fn catalogue_only_text(sql: &str) -> bool {
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    match datafusion::sql::sqlparser::parser::Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(statements) => !statements.is_empty() && statements.iter().all(catalogue_only),
        Err(_) => false,
    }
}

/// What a statement's audit record is waiting for: the rows its answer streams out. The record
/// is written when the last of its answers is dropped (sent, failed or abandoned).
struct Ticket {
    server: Arc<PgServer>,
    who: Asker,
    snapshot: i64,
    sql: String,
    started: (chrono::DateTime<chrono::Utc>, Instant),
    rows: AtomicU64,
    error: Mutex<Option<PgWireError>>,
    /// The statement's turn to run, given back when its answers are done.
    turn: Mutex<Option<tokio::sync::OwnedSemaphorePermit>>,
}

impl Ticket {
    fn fail(&self, error: PgWireError) {
        if let Ok(mut slot) = self.error.lock() {
            slot.get_or_insert(error);
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let error = self.error.lock().ok().and_then(|mut e| e.take());
        let rows = self.rows.load(Ordering::Relaxed);
        self.server.audit(&self.who, self.snapshot, self.started, &self.sql, rows, error.as_ref());
    }
}

/// A result's rows, counted for the audit and cut off at the statement's deadline.
struct Watched {
    rows: pgwire::api::results::SendableRowStream,
    deadline: Pin<Box<tokio::time::Sleep>>,
    ticket: Arc<Ticket>,
    done: bool,
}

impl Stream for Watched {
    type Item = PgWireResult<pgwire::messages::data::DataRow>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.done = true;
            // Drop the rows' stream now: that stops the statement's running tasks, which a client
            // that never reads on would otherwise keep busy.
            self.rows = Box::pin(futures::stream::empty());
            let error = timed_out(self.ticket.server.config.query_timeout);
            self.ticket.fail(timed_out(self.ticket.server.config.query_timeout));
            return Poll::Ready(Some(Err(error)));
        }
        match self.rows.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(row))) => {
                self.ticket.rows.fetch_add(1, Ordering::Relaxed);
                Poll::Ready(Some(Ok(row)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                self.rows = Box::pin(futures::stream::empty());
                self.ticket.fail(pg_error("ERROR", "XX000", error_text(&e)));
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(None) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed_out(limit: Duration) -> PgWireError {
    pg_error("ERROR", CANCELLED, format!("canceling statement: it ran longer than {} s", limit.as_secs()))
}

/// The query handlers of every connection: each statement goes to the session of the signed-in
/// user's role, under the size limits and the time limit, and is audited.
pub struct Queries {
    server: Arc<PgServer>,
}

impl Queries {
    /// Wraps the answers' rows so the audit counts them and the deadline cuts them off.
    fn watch(&self, responses: Vec<Response>, ticket: &Arc<Ticket>, deadline: tokio::time::Instant) -> Vec<Response> {
        responses
            .into_iter()
            .map(|response| match response {
                Response::Query(mut query) => {
                    let rows = std::mem::replace(&mut query.data_rows, Box::pin(futures::stream::empty()));
                    query.data_rows = Box::pin(Watched {
                        rows,
                        deadline: Box::pin(tokio::time::sleep_until(deadline)),
                        ticket: ticket.clone(),
                        done: false,
                    });
                    Response::Query(query)
                }
                other => other,
            })
            .collect()
    }

    /// Runs a statement's planning under its deadline; a failure is the ticket's outcome.
    async fn within<T>(
        &self,
        ticket: &Arc<Ticket>,
        deadline: tokio::time::Instant,
        answer: impl std::future::Future<Output = PgWireResult<T>>,
    ) -> PgWireResult<T> {
        match tokio::time::timeout_at(deadline, answer).await {
            Err(_) => {
                let limit = self.server.config.query_timeout;
                ticket.fail(timed_out(limit));
                Err(timed_out(limit))
            }
            Ok(Err(e)) => {
                ticket.fail(pg_error("ERROR", error_code(&e), error_text(&e)));
                Err(e)
            }
            Ok(Ok(value)) => Ok(value),
        }
    }

    fn ticket(
        &self,
        who: Asker,
        snapshot: i64,
        sql: &str,
        started: (chrono::DateTime<chrono::Utc>, Instant),
    ) -> Arc<Ticket> {
        Arc::new(Ticket {
            server: self.server.clone(),
            who,
            snapshot,
            sql: sql.to_owned(),
            started,
            rows: AtomicU64::new(0),
            error: Mutex::new(None),
            turn: Mutex::new(None),
        })
    }

    /// Waits for the statement's turn to run (the wait counts against its time limit).
    async fn take_turn(&self, ticket: &Arc<Ticket>, deadline: tokio::time::Instant) -> PgWireResult<()> {
        let running = self.server.running.clone();
        let wait = async move { running.acquire_owned().await.map_err(|e| pg_error("ERROR", "XX000", e.to_string())) };
        let turn = self.within(ticket, deadline, wait).await?;
        if let Ok(mut slot) = ticket.turn.lock() {
            *slot = Some(turn);
        }
        Ok(())
    }
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let started = (chrono::Utc::now(), Instant::now());
        let who = self.server.who(client)?;
        if let Err(e) = guard::check_size(query, &self.server.config.limits) {
            let error = sql_error(&e);
            let shown: String = query.chars().take(2_000).collect();
            self.server.audit(&who, 0, started, &shown, 0, Some(&error));
            return Err(error);
        }
        let services = self.server.services_for(&who).await?;
        let ticket = self.ticket(who.clone(), services.snapshot, query, started);
        let deadline = tokio::time::Instant::now() + self.server.config.query_timeout;
        if !catalogue_only_text(query) {
            self.take_turn(&ticket, deadline).await?;
        }
        let service = services.of(who.role).clone();
        let answer = SimpleQueryHandler::do_query(service.as_ref(), client, query);
        let responses = self.within(&ticket, deadline, answer).await?;
        Ok(self.watch(responses, &ticket, deadline))
    }
}

fn error_code(error: &PgWireError) -> &str {
    match error {
        PgWireError::UserError(info) => info.code.as_str(),
        _ => "XX000",
    }
}

/// The statement kept between Parse and Execute: the SQL text and, once planned, the statement
/// and its plan (datafusion-postgres's own form).
type Prepared = (String, Option<(Statement, LogicalPlan)>);

/// Parses prepared statements in the session of the connection's role.
pub struct RoleParser {
    server: Arc<PgServer>,
}

#[async_trait]
impl QueryParser for RoleParser {
    type Statement = Prepared;

    async fn parse_sql<C>(&self, client: &C, sql: &str, types: &[Option<Type>]) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let started = (chrono::Utc::now(), Instant::now());
        let who = self.server.who(client)?;
        if let Err(e) = guard::check_size(sql, &self.server.config.limits) {
            let error = sql_error(&e);
            let shown: String = sql.chars().take(2_000).collect();
            self.server.audit(&who, 0, started, &shown, 0, Some(&error));
            return Err(error);
        }
        let services = self.server.services_for(&who).await?;
        let parsed = services.of(who.role).query_parser().parse_sql(client, sql, types).await;
        if let Err(e) = &parsed {
            self.server.audit(&who, services.snapshot, started, sql, 0, Some(e));
        }
        parsed
    }

    fn get_parameter_types(&self, statement: &Prepared) -> PgWireResult<Vec<Type>> {
        match self.any_parser() {
            Some(parser) => parser.get_parameter_types(statement),
            None => Ok(vec![]),
        }
    }

    fn get_result_schema(&self, statement: &Prepared, format: Option<&Format>) -> PgWireResult<Vec<FieldInfo>> {
        match self.any_parser() {
            Some(parser) => parser.get_result_schema(statement, format),
            None => Ok(vec![]),
        }
    }
}

impl RoleParser {
    /// A parser to describe a planned statement with (describing reads only the plan).
    fn any_parser(&self) -> Option<Arc<datafusion_postgres::Parser>> {
        let services = self.server.services.lock().ok()?.clone()?;
        Some(services.analyst.query_parser())
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Prepared;
    type QueryParser = RoleParser;

    fn query_parser(&self) -> Arc<RoleParser> {
        Arc::new(RoleParser { server: self.server.clone() })
    }

    async fn do_query<C>(&self, client: &mut C, portal: &Portal<Prepared>, max_rows: usize) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let started = (chrono::Utc::now(), Instant::now());
        let who = self.server.who(client)?;
        let services = self.server.services_for(&who).await?;
        let ticket = self.ticket(who.clone(), services.snapshot, &portal.statement.statement.0, started);
        let deadline = tokio::time::Instant::now() + self.server.config.query_timeout;
        let light = portal.statement.statement.1.as_ref().is_none_or(|(statement, _)| catalogue_only(statement));
        if !light {
            self.take_turn(&ticket, deadline).await?;
        }
        let service = services.of(who.role).clone();
        let answer = ExtendedQueryHandler::do_query(service.as_ref(), client, portal, max_rows);
        let response = self.within(&ticket, deadline, answer).await?;
        Ok(self.watch(vec![response], &ticket, deadline).remove(0))
    }
}

/// Passwords for SCRAM: the verifier of a known user, or a random one for an unknown user or
/// one without a verifier (the exchange then fails as a wrong password would, so a client cannot
/// tell which names exist). A name locked by too many wrong passwords is refused outright.
#[derive(Debug)]
struct Verifiers {
    server: Arc<PgServer>,
}

impl Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer").field("listen", &self.config.listen).finish_non_exhaustive()
    }
}

#[async_trait]
impl AuthSource for Verifiers {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let name = login.user().unwrap_or_default();
        let locked = self.server.throttle.lock().ok().and_then(|t| t.locked(name, Instant::now()));
        if let Some(wait) = locked {
            return Err(pg_error(
                "FATAL",
                "28P01",
                format!("too many wrong passwords for this user name: try again in {} s", wait.as_secs().max(1)),
            ));
        }
        let known = self.server.users.users.iter().find(|u| u.name == name).and_then(|u| u.pg_scram.as_deref());
        match known.and_then(parse_verifier) {
            Some((salt, salted)) => Ok(Password::new(Some(salt), salted)),
            None => {
                let salt: [u8; 16] = rand::random();
                let salted: [u8; 32] = rand::random();
                Ok(Password::new(Some(salt.to_vec()), salted.to_vec()))
            }
        }
    }
}

/// Sign-in: TLS first when required, then SCRAM-SHA-256; a successful sign-in clears the user
/// name's failures.
pub struct Startup {
    inner: SASLAuthStartupHandler<DefaultServerParameterProvider>,
    server: Arc<PgServer>,
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(&self, client: &mut C, message: PgWireFrontendMessage) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if self.server.config.require_tls && !client.is_secure() {
            return Err(pg_error("FATAL", "28000", "this server accepts TLS connections only (use sslmode=require)"));
        }
        self.inner.on_startup(client, message).await?;
        if matches!(client.state(), pgwire::api::PgWireConnectionState::ReadyForQuery)
            && let Some(user) = client.metadata().get(METADATA_USER)
            && let Ok(mut throttle) = self.server.throttle.lock()
        {
            throttle.succeeded(user);
        }
        Ok(())
    }
}

/// Counts wrong passwords against the user name and audits refused sign-ins.
pub struct Errors {
    server: Arc<PgServer>,
}

impl ErrorHandler for Errors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        if let PgWireError::InvalidPassword(_) = error {
            let user = client.metadata().get(METADATA_USER).cloned().unwrap_or_default();
            if let Ok(mut throttle) = self.server.throttle.lock() {
                throttle.failed(&user, Instant::now());
            }
            // PostgreSQL's own words, which clients and people search for.
            let refusal = pg_error("FATAL", "28P01", format!("password authentication failed for user \"{user}\""));
            let who = Asker { user, role: Role::Analyst, client: client.socket_addr().to_string(), snapshot: None };
            self.server.audit(&who, 0, (chrono::Utc::now(), Instant::now()), "sign-in", 0, Some(&refusal));
            *error = refusal;
        }
    }
}

/// The handlers of one connection (pgwire asks for them once per connection).
struct Handlers {
    server: Arc<PgServer>,
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        Arc::new(Queries { server: self.server.clone() })
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        Arc::new(Queries { server: self.server.clone() })
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        let mut scram = ScramAuth::new(Arc::new(Verifiers { server: self.server.clone() }));
        scram.set_iterations(SCRAM_ITERATIONS);
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = "16.6 (hotline)".to_owned();
        let inner = SASLAuthStartupHandler::new(Arc::new(parameters)).with_scram(scram);
        Arc::new(Startup { inner, server: self.server.clone() })
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(Errors { server: self.server.clone() })
    }
}

/// The endpoint bound to its address.
pub struct PgBound {
    /// The address it listens on.
    pub address: SocketAddr,
    listener: TcpListener,
    tls: Option<pgwire::tokio::TlsAcceptor>,
    server: Arc<PgServer>,
}

/// Binds the endpoint's address (call inside a tokio runtime). Certificate files that cannot be
/// loaded are an error: the endpoint never falls back to plain text.
pub async fn bind_pg(server: Arc<PgServer>) -> Result<PgBound, ServeError> {
    let address = server.config.listen;
    let tls = match &server.config.tls {
        Some((cert, key)) => {
            Some(pgwire::tokio::TlsAcceptor::from(super::tls::server_config(cert, key, &[b"postgresql"])?))
        }
        None if server.config.require_tls => {
            return Err(ServeError::Users("--require-tls needs --tls-cert and --tls-key".into()));
        }
        None => None,
    };
    let listener = TcpListener::bind(address).await.map_err(|source| ServeError::Bind { address, source })?;
    let address = listener.local_addr().map_err(|source| ServeError::Bind { address, source })?;
    Ok(PgBound { address, listener, tls, server })
}

/// The ErrorResponse a refused connection gets before it is closed: too many clients.
fn too_many_clients() -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [(b'S', "FATAL"), (b'V', "FATAL"), (b'C', "53300"), (b'M', "sorry, too many clients already")]
    {
        body.push(field);
        body.extend_from_slice(value.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut message = vec![b'E'];
    message.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    message.extend_from_slice(&body);
    message
}

impl PgBound {
    /// Serves connections until `shutdown` resolves; each connection is a task of its own, so a
    /// client that sends garbage or goes away mid-query disturbs no other.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let handlers = Arc::new(Handlers { server: self.server.clone() });
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => return Ok(()),
                accepted = self.listener.accept() => accepted,
            };
            let (socket, _peer) = match accepted {
                Ok(pair) => pair,
                // Out of file descriptors and the like: wait a moment rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = socket.set_nodelay(true);
            let Ok(permit) = self.server.connections.clone().try_acquire_owned() else {
                tokio::spawn(async move {
                    use tokio::io::AsyncWriteExt;
                    let mut socket = socket;
                    let _ = tokio::time::timeout(Duration::from_secs(5), socket.write_all(&too_many_clients())).await;
                });
                continue;
            };
            let (handlers, tls) = (handlers.clone(), self.tls.clone());
            tokio::spawn(async move {
                let _permit = permit;
                // pgwire 0.41 panics on some malformed frames (a length field shorter than the
                // frame, found by tests/fuzz.rs); that ends this one connection, never the server.
                let connection = pgwire::tokio::process_socket(socket, tls, handlers);
                if futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(connection)).await.is_err() {
                    eprintln!("hotline pg: closed a connection that sent a malformed message");
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn verdict_of(sql: &str) -> Verdict {
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, sql).unwrap();
        verdict(&statements.remove(0))
    }

    #[test]
    fn queries_are_planned_client_settings_pass_and_everything_else_is_refused() {
        for sql in ["SELECT 1", "WITH a AS (SELECT 1) SELECT * FROM a", "VALUES (1)", "EXPLAIN SELECT 1"] {
            assert!(matches!(verdict_of(sql), Verdict::Plan), "{sql}");
        }
        for sql in [
            "SET application_name = 'dbeaver'",
            "SET extra_float_digits = 3",
            "SET TIME ZONE 'Asia/Shanghai'",
            "SHOW transaction isolation level",
            "BEGIN",
            "COMMIT",
            "ROLLBACK",
            "DECLARE c CURSOR FOR SELECT 1",
        ] {
            assert!(matches!(verdict_of(sql), Verdict::Pass), "{sql}");
        }
        for (sql, tag) in
            [("SAVEPOINT a", "SAVEPOINT"), ("RELEASE SAVEPOINT a", "RELEASE"), ("DISCARD ALL", "DISCARD ALL")]
        {
            assert!(matches!(verdict_of(sql), Verdict::Nothing(t) if t == tag), "{sql}");
        }
        for sql in [
            "INSERT INTO calls VALUES (1)",
            "UPDATE calls SET district = 'x'",
            "DELETE FROM calls",
            "CREATE TABLE t (a INT)",
            "DROP TABLE calls",
            "COPY calls TO '/tmp/x.csv'",
            "SET datafusion.execution.target_partitions = 1",
            "SET datafusion.runtime.memory_limit = '100G'",
            "EXPLAIN INSERT INTO calls VALUES (1)",
            "GRANT SELECT ON calls TO li",
        ] {
            assert!(matches!(verdict_of(sql), Verdict::Refuse(_)), "{sql}");
        }
    }

    #[tokio::test]
    async fn a_plan_that_writes_is_refused_even_when_it_parses_as_a_query() {
        let ctx = SessionContext::new();
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, "SELECT 1 AS a INTO stolen").unwrap();
        let error = read_only_plan(&statements.remove(0), &ctx).await.unwrap_err();
        assert!(refused(&error), "{error:?}");
        assert!(ctx.table_exist("stolen").map(|e| !e).unwrap_or(true));
        let mut statements = Parser::parse_sql(&PostgreSqlDialect {}, "SELECT 1 AS a").unwrap();
        assert!(read_only_plan(&statements.remove(0), &ctx).await.is_ok());
    }

    #[test]
    fn only_statements_that_read_no_warehouse_table_skip_the_queue() {
        for sql in [
            "SET application_name = 'x'",
            "SHOW transaction isolation level",
            "SELECT 1",
            "SELECT version()",
            "SELECT relname FROM pg_catalog.pg_class",
            "SELECT typname FROM pg_type WHERE oid = 23",
            "SELECT table_name FROM information_schema.tables",
            "BEGIN; SELECT 1; COMMIT",
        ] {
            assert!(catalogue_only_text(sql), "{sql}");
        }
        for sql in [
            "SELECT count(*) FROM calls",
            "SELECT * FROM q_headline_summary()",
            "SELECT relname FROM pg_class JOIN calls ON true",
            "WITH c AS (SELECT * FROM entities) SELECT * FROM c",
            "SELECT * FROM public.calls",
            "not sql at all",
            "",
        ] {
            assert!(!catalogue_only_text(sql), "{sql}");
        }
    }

    #[test]
    fn too_many_clients_is_a_postgresql_error_response() {
        let message = too_many_clients();
        assert_eq!(message[0], b'E');
        let length = u32::from_be_bytes([message[1], message[2], message[3], message[4]]) as usize;
        assert_eq!(length + 1, message.len());
        let text = String::from_utf8_lossy(&message[5..]);
        assert!(text.contains("C53300\0") && text.contains("too many clients"), "{text}");
    }
}
