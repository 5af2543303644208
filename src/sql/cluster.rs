//! SQL on an Apache DataFusion Ballista cluster: the client side of a session (plans here, runs
//! on the cluster), and the scheduler and executor with this crate's functions and plan codec.
//!
//! A query is planned logically by the session (roles, read-only guard, named queries, audit all
//! stay where they are), sent to the scheduler, which plans it physically and splits it into
//! stages, and run by the executors, which read the warehouse's Parquet files themselves: every
//! executor must see the warehouse at the same path (a shared file system).

use std::io::Cursor;
use std::net::{SocketAddr, TcpListener as StdTcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::{SessionConfigExt, SessionStateExt};
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::{BallistaCluster, ClusterState};
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::catalog::TableProvider;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, TableReference};
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::{SessionState, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion::physical_plan::union::UnionExec;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

use super::{SqlError, engine, functions};

/// The environment variable naming the scheduler for `hotline sql` and `hotline query run`.
pub const CLUSTER_ENV: &str = "HOTLINE_CLUSTER";

/// The first bytes of a table this codec wrote itself (an in-memory table as Arrow IPC).
const MEMORY_TABLE_TAG: &[u8] = b"hotline-memtable\0";

/// Writes plans for the cluster: Ballista's own nodes, and in-memory tables (the taxonomy, and
/// the empty tables of an absent folder), which DataFusion's codec cannot carry, as Arrow IPC.
#[derive(Debug, Default)]
pub struct PlanCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for PlanCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> datafusion::error::Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> datafusion::error::Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> datafusion::error::Result<Arc<dyn TableProvider>> {
        let Some(ipc) = buf.strip_prefix(MEMORY_TABLE_TAG) else {
            return self.inner.try_decode_table_provider(buf, table_ref, schema, ctx);
        };
        let reader = StreamReader::try_new(Cursor::new(ipc), None)?;
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> datafusion::error::Result<()> {
        let Some(table) = node.downcast_ref::<MemTable>() else {
            return self.inner.try_encode_table_provider(table_ref, node, buf);
        };
        buf.extend_from_slice(MEMORY_TABLE_TAG);
        let mut writer = StreamWriter::try_new(&mut *buf, &table.schema())?;
        for partition in &table.batches {
            let batches = partition.try_read().map_err(|_| {
                DataFusionError::Execution(format!("table {table_ref} is being written and cannot be sent"))
            })?;
            for batch in batches.iter() {
                writer.write(batch)?;
            }
        }
        writer.finish()?;
        Ok(())
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> datafusion::error::Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> datafusion::error::Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// `host:port` resolved to one address, with the reason when it does not resolve.
pub fn resolve_address(address: &str) -> Result<SocketAddr, SqlError> {
    let bare = address.trim().trim_start_matches("http://").trim_start_matches("df://").trim_end_matches('/');
    bare.to_socket_addrs()
        .map_err(|e| SqlError::Engine(format!("the cluster address {bare:?} is not HOST:PORT ({e})")))?
        .next()
        .ok_or_else(|| SqlError::Engine(format!("the cluster address {bare:?} resolves to no address")))
}

/// Turns a local session's state into one whose queries run on the scheduler at `scheduler`
/// (checked to be listening first). This crate's functions and named queries are registered
/// again on the result, since Ballista replaces the function lists with its own.
pub fn client_context(local: &SessionContext, scheduler: &str) -> Result<SessionContext, SqlError> {
    let address = resolve_address(scheduler)?;
    std::net::TcpStream::connect_timeout(&address, Duration::from_secs(5)).map_err(|e| {
        SqlError::Engine(format!(
            "no Ballista scheduler answers at {address} ({e}); start one with `hotline cluster scheduler`"
        ))
    })?;
    let state = local.state();
    let config = state.config().clone().with_ballista_logical_extension_codec(Arc::new(PlanCodec::default()));
    let state = SessionStateBuilder::new_from_existing(state).with_config(config).build();
    // Ballista's adaptive planner (its default) stays on: with the static one, a query whose
    // executor was killed was run again and returned 58 groups where there are 40.
    let state = state.upgrade_for_ballista(format!("http://{address}")).map_err(engine)?;
    let ctx = SessionContext::new_with_state(state);
    functions::register(&ctx).map_err(engine)?;
    super::named::register(&ctx)?;
    Ok(ctx)
}

/// A watch on a scheduler's executors: ends, with what happened, when one is lost.
pub type LostExecutor = std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>;

/// Watches the scheduler at `scheduler` while a query runs, asking it every `every` how many
/// executors are alive. Ends, with a message, once it counts fewer than it has seen: an executor
/// stopped sending heartbeats (killed, its machine down, cut off). Ballista 55 takes a lost
/// executor's finished and running tasks back but, in trials, never ran the query to its end, so
/// the query is stopped rather than left to its time limit. Never ends while the scheduler does
/// not answer (the query's own errors and time limit cover that).
pub fn watch_executors(scheduler: &str, every: Duration) -> LostExecutor {
    let address = resolve_address(scheduler).ok();
    Box::pin(async move {
        let Some(address) = address else { return std::future::pending().await };
        let mut most: Option<usize> = None;
        loop {
            if let Some(live) = live_executors(address).await {
                match most {
                    Some(seen) if live < seen => {
                        return format!(
                            "an executor was lost while the query ran ({seen} alive, now {live}); \
                             Ballista does not finish a query whose executor is gone, so it was stopped: run it again"
                        );
                    }
                    _ => most = Some(most.unwrap_or(0).max(live)),
                }
            }
            tokio::time::sleep(every).await;
        }
    })
}

/// The number of executors the scheduler counts as alive (from its `/readyz` page, served on its
/// gRPC port), or `None` when it does not answer within two seconds or answers otherwise.
async fn live_executors(address: SocketAddr) -> Option<usize> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(address).await.ok()?;
        let request = format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = Vec::new();
        stream.take(4096).read_to_end(&mut answer).await.ok()?;
        Some(answer)
    };
    let answer = tokio::time::timeout(Duration::from_secs(2), ask).await.ok()??;
    parse_readyz(&String::from_utf8_lossy(&answer))
}

/// The executor count of a `/readyz` answer: `ready: N executors registered` (200) or
/// `not ready: N/M executors registered` (503).
fn parse_readyz(answer: &str) -> Option<usize> {
    let (head, body) = answer.split_once("\r\n\r\n")?;
    let status = head.lines().next()?;
    if !(status.starts_with("HTTP/1.") && (status.contains(" 200") || status.contains(" 503"))) {
        return None;
    }
    let rest = body.trim_start().strip_prefix("not ready: ").or_else(|| body.trim_start().strip_prefix("ready: "))?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The session the scheduler plans a client's query in: Ballista's defaults with this crate's
/// functions (a plan names them; the scheduler resolves them by name).
fn scheduler_session(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    let ctx = SessionContext::new_with_state(ballista_core::utils::default_session_builder(config)?);
    functions::register(&ctx)?;
    Ok(ctx.state())
}

/// Whether a plan has a shape Ballista 55 answers wrongly or never, so that the session runs it
/// in this process instead: a `UNION` with an input of a single partition (an aggregate without
/// groups, a sorted top-N, a scalar subquery's side).
///
/// Ballista gives each task of a stage its own slice of a union's partitions, and an input of one
/// partition computed in an earlier stage is read by every task or by none: on the committed
/// sample `SELECT 'x', COUNT(*) … UNION ALL SELECT 'y', COUNT(*) …` returned x, y, y, y, a union
/// of two `ORDER BY … LIMIT 3` returned no rows, and `headline_summary` never finished.
pub fn needs_one_process(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut found = false;
    let _ = plan.apply(|node| {
        if node.is::<UnionExec>() && node.children().iter().any(|c| c.output_partitioning().partition_count() == 1) {
            found = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}

/// Every function an executor may meet in a plan: DataFusion's and Ballista's, and this crate's
/// (the guarded `repeat` and padding functions included).
fn executor_functions() -> Result<BallistaFunctionRegistry, SqlError> {
    let ctx = SessionContext::new();
    functions::register(&ctx).map_err(engine)?;
    let state = ctx.state();
    let mut registry = BallistaFunctionRegistry::default();
    for (name, function) in state.scalar_functions() {
        registry.scalar_functions.insert(name.clone(), function.clone());
    }
    Ok(registry)
}

/// How a scheduler is run.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// Seconds without a heartbeat after which an executor counts as lost and its tasks are run
    /// elsewhere.
    pub executor_timeout: u64,
    /// Attempts of a task before its query fails.
    pub task_attempts: usize,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions { executor_timeout: 30, task_attempts: 4 }
    }
}

/// A scheduler bound to its port, not yet serving.
pub struct Scheduler {
    listener: tokio::net::TcpListener,
    server: ballista_scheduler::scheduler_server::SchedulerServer<LogicalPlanNode, PhysicalPlanNode>,
    cluster: Arc<dyn ClusterState>,
}

impl Scheduler {
    /// Sets up a scheduler on `listener` (in-memory cluster state, pull scheduling, this crate's
    /// plan codec and functions).
    pub async fn new(listener: tokio::net::TcpListener, options: SchedulerOptions) -> Result<Scheduler, SqlError> {
        let address = listener.local_addr()?;
        let mut config = SchedulerConfig::default()
            .with_hostname(address.ip().to_string())
            .with_port(address.port())
            .with_scheduler_policy(TaskSchedulingPolicy::PullStaged)
            .with_override_session_builder(Arc::new(scheduler_session));
        config.bind_host = address.ip().to_string();
        config.override_logical_codec = Some(Arc::new(PlanCodec::default()));
        config.executor_timeout_seconds = options.executor_timeout.max(2);
        config.expire_dead_executor_interval_seconds = (options.executor_timeout / 3).clamp(1, 15);
        config.no_executors_grace_period_seconds = config.executor_timeout_seconds;
        config.task_max_failures = options.task_attempts.max(1);
        config.stage_max_failures = options.task_attempts.max(1);
        let config = Arc::new(config);
        let cluster = BallistaCluster::new_from_config(&config).await.map_err(engine)?;
        let state = cluster.cluster_state();
        let server = create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, config).await.map_err(engine)?;
        Ok(Scheduler { listener, server, cluster: state })
    }

    /// Where it listens.
    pub fn address(&self) -> Result<SocketAddr, SqlError> {
        Ok(self.listener.local_addr()?)
    }

    /// The cluster's state (registered executors …), readable while it serves.
    pub fn cluster_state(&self) -> Arc<dyn ClusterState> {
        self.cluster.clone()
    }

    /// Serves until the process ends (or the future is dropped).
    pub async fn serve(self) -> Result<(), SqlError> {
        start_grpc_service_with_listener(self.listener, self.server).await.map_err(engine)
    }
}

/// How an executor is run.
#[derive(Debug, Clone)]
pub struct ExecutorOptions {
    /// The scheduler, `HOST:PORT`.
    pub scheduler: String,
    /// Where the executor serves its results to the next stage and the client (port 0: any free
    /// port).
    pub bind: SocketAddr,
    /// Tasks run at once (0: one per core).
    pub concurrency: usize,
    /// Folder for intermediate results (default: a folder under the system's temporary folder).
    pub work_dir: Option<PathBuf>,
    /// Seconds between heartbeats to the scheduler.
    pub heartbeat: u64,
}

/// A free port on `ip`, for a server that must be told its port before it binds.
fn free_port(ip: std::net::IpAddr) -> Result<u16, SqlError> {
    Ok(StdTcpListener::bind((ip, 0))?.local_addr()?.port())
}

/// Runs an executor until the process ends (or the future is dropped).
pub async fn run_executor(options: ExecutorOptions) -> Result<(), SqlError> {
    let scheduler = resolve_address(&options.scheduler)?;
    let ip = options.bind.ip();
    let port = if options.bind.port() == 0 { free_port(ip)? } else { options.bind.port() };
    let work_dir = match &options.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir().join(format!("hotline-executor-{}-{port}", std::process::id())),
    };
    std::fs::create_dir_all(&work_dir)?;
    let config = ExecutorProcessConfig {
        bind_host: ip.to_string(),
        external_host: Some(ip.to_string()),
        port,
        grpc_port: free_port(ip)?,
        scheduler_host: scheduler.ip().to_string(),
        scheduler_port: scheduler.port(),
        scheduler_connect_timeout_seconds: 10,
        vcores: options.concurrency,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        work_dir: Some(work_dir.display().to_string()),
        executor_heartbeat_interval_seconds: options.heartbeat.max(1),
        override_function_registry: Some(Arc::new(executor_functions()?)),
        print_thread_info: false,
        ..ExecutorProcessConfig::default()
    };
    let outcome = start_executor_process(Arc::new(config)).await.map_err(engine);
    // The shuffle files of a folder this process made for itself go with it (a folder given
    // with --work-dir is the operator's to keep).
    if options.work_dir.is_none() {
        let _ = std::fs::remove_dir_all(&work_dir);
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;

    fn table() -> (SchemaRef, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("code", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec!["CRIM.THEFT", "医美纠纷"])),
                Arc::new(Int64Array::from(vec![Some(1), None])),
            ],
        )
        .unwrap();
        (schema, batch)
    }

    #[test]
    fn the_readiness_page_gives_the_live_executors_and_anything_else_gives_none() {
        let ok = "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nready: 2 executors registered\n";
        assert_eq!(parse_readyz(ok), Some(2));
        let short = "HTTP/1.1 503 Service Unavailable\r\n\r\nnot ready: 0/1 executors registered\n";
        assert_eq!(parse_readyz(short), Some(0));
        for other in [
            "HTTP/1.1 404 Not Found\r\n\r\nready: 2 executors registered\n",
            "HTTP/1.1 200 OK\r\n\r\nok\n",
            "HTTP/1.1 200 OK\r\n\r\nready: many executors\n",
            "ready: 2 executors registered",
            "",
        ] {
            assert_eq!(parse_readyz(other), None, "{other:?}");
        }
    }

    #[test]
    fn an_in_memory_table_crosses_to_the_cluster_whole() {
        let (schema, batch) = table();
        let memory: Arc<dyn TableProvider> =
            Arc::new(MemTable::try_new(schema.clone(), vec![vec![batch.clone()]]).unwrap());
        let codec = PlanCodec::default();
        let name = TableReference::bare("categories");
        let mut buf = Vec::new();
        codec.try_encode_table_provider(&name, memory, &mut buf).unwrap();
        let ctx = SessionContext::new();
        let decoded = codec.try_decode_table_provider(&buf, &name, schema.clone(), &ctx.task_ctx()).unwrap();
        let decoded = decoded.downcast_ref::<MemTable>().expect("an in-memory table again");
        let batches = decoded.batches[0].try_read().unwrap().clone();
        assert_eq!(batches, vec![batch]);
        // Anything else is left to Ballista's codec, which refuses what it cannot write.
        let garbage = codec.try_decode_table_provider(b"not a table", &name, schema, &ctx.task_ctx());
        assert!(garbage.is_err());
    }

    #[test]
    fn a_union_of_single_partition_inputs_stays_in_this_process_and_other_plans_go() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let (schema, batch) = table();
        let config = SessionConfig::new().with_target_partitions(4);
        let ctx = SessionContext::new_with_config(config);
        let partitions = vec![vec![batch.clone()], vec![batch.clone()], vec![batch]];
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, partitions).unwrap())).unwrap();
        let plan = |sql: &str| runtime.block_on(async { ctx.sql(sql).await?.create_physical_plan().await }).unwrap();
        let unions = [
            "SELECT 'x' AS a, COUNT(*) AS n FROM t WHERE n = 1 UNION ALL SELECT 'y', COUNT(*) FROM t WHERE n IS NULL",
            "(SELECT code FROM t ORDER BY code LIMIT 1) UNION ALL (SELECT code FROM t ORDER BY code DESC LIMIT 1)",
        ];
        for sql in unions {
            assert!(needs_one_process(&plan(sql)), "{sql}");
        }
        let elsewhere = [
            "SELECT code, COUNT(*) FROM t GROUP BY code",
            "SELECT code FROM t UNION ALL SELECT code FROM t",
            "SELECT a.code FROM t a JOIN t b ON a.code = b.code",
        ];
        for sql in elsewhere {
            assert!(!needs_one_process(&plan(sql)), "{sql}");
        }
    }
}
