//! `hotline serve`: the investigators' explorer, one axum process serving the embedded page and a
//! JSON API over the same engine functions the CLI uses (leads, the link graph, cards, reviews),
//! with sign-in, roles as `hotline sql --role` has them, CSRF tokens and an audit line per request.

pub mod api;
pub mod auth;
pub mod pg;
pub mod pg_catalogue;
pub mod reviews;
pub mod rows;
pub mod tls;
pub mod users;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::link::LinkError;
use crate::link::explore::LinkGraph;
use crate::sql::audit::AuditLog;
use crate::sql::{Role, Session, SessionOptions, SqlError, open_session};
use crate::warehouse::{Warehouse, WarehouseError};

/// Errors of the explorer; each names what it concerns.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The users file or a user is wrong.
    #[error("users: {0}")]
    Users(String),
    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The address could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The warehouse could not be opened.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
    /// A query failed.
    #[error(transparent)]
    Sql(#[from] SqlError),
    /// Reading the link graph failed.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// TLS could not be set up (the server does not start).
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Writing a review failed.
    #[error("writing lead_reviews: {0}")]
    Write(String),
}

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Warehouse folder.
    pub warehouse: PathBuf,
    /// Address to listen on (127.0.0.1:8080 by default; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Users file.
    pub users: PathBuf,
    /// How long a sign-in lasts.
    pub session_ttl: Duration,
    /// Longest a query of a request may run.
    pub query_timeout: Duration,
    /// Memory the queries of one session may hold.
    pub memory_limit: Option<usize>,
    /// PEM certificate chain and private key: served over HTTPS only, cookies marked Secure.
    pub tls: Option<(PathBuf, PathBuf)>,
}

impl ServeConfig {
    /// Defaults for a warehouse: loopback port 8080, the warehouse's users file, 8-hour sign-ins.
    pub fn new(warehouse: &Path) -> ServeConfig {
        ServeConfig {
            warehouse: warehouse.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            users: users::default_users_file(warehouse),
            session_ttl: Duration::from_secs(8 * 3600),
            query_timeout: Duration::from_secs(30),
            memory_limit: None,
            tls: None,
        }
    }
}

/// What one committed snapshot gives the server: a SQL session per role and the link graph.
pub struct Loaded {
    /// The snapshot.
    pub snapshot: u64,
    /// Sessions by role (analysts see no restricted table).
    pub analyst: Arc<Session>,
    /// The investigator's session.
    pub investigator: Arc<Session>,
    /// The graph of linked incidents (`None` before the first `hotline link`).
    pub graph: Option<Arc<LinkGraph>>,
    /// The files the graph was read from (a new snapshot that shares them keeps the graph).
    graph_files: Vec<(String, u64)>,
    /// The leads, read on first use.
    pub leads: std::sync::OnceLock<Vec<crate::link::explore::LeadRecord>>,
    /// Every review, read on first use (a review is a commit, so a snapshot's reviews never change).
    pub reviews: std::sync::OnceLock<Vec<reviews::Review>>,
}

impl Loaded {
    /// The session of a role.
    pub fn session(&self, role: Role) -> Arc<Session> {
        match role {
            Role::Analyst => self.analyst.clone(),
            Role::Investigator => self.investigator.clone(),
        }
    }
}

/// The server's state, shared by every request.
pub struct App {
    /// Settings.
    pub config: ServeConfig,
    /// The warehouse.
    pub warehouse: Warehouse,
    /// Users (read at start).
    pub users: users::Users,
    /// Signed-in sessions by token.
    pub sign_ins: Mutex<HashMap<String, auth::SignIn>>,
    /// Failed sign-ins by user name.
    pub throttle: Mutex<auth::Throttle>,
    /// Path searches run one at a time.
    pub path_searches: Arc<tokio::sync::Semaphore>,
    /// The audit log (one line per data request, with the user).
    pub audit: AuditLog,
    /// The pseudonymisation key, to turn a phone or ID number an investigator searches for into
    /// its key (`None` when neither HOTLINE_KEY nor the key file is there).
    pub key: Option<crate::pseudonym::PseudonymKey>,
    /// What the current snapshot gives (reloaded when a new snapshot is committed).
    loaded: Mutex<Option<Arc<Loaded>>>,
    /// Earlier snapshots requests asked for (`?snapshot=N`), a few kept loaded.
    earlier: Mutex<std::collections::BTreeMap<u64, Arc<Loaded>>>,
    /// Held while a snapshot is being loaded, so two requests do not load it twice.
    loading: Mutex<()>,
}

/// How many earlier snapshots stay loaded at once.
const EARLIER_KEPT: usize = 4;

impl App {
    /// Opens the warehouse and the users file and loads the current snapshot.
    pub fn open(config: ServeConfig) -> Result<App, ServeError> {
        let warehouse = Warehouse::open(&config.warehouse)?;
        let users = users::Users::load(&config.users)?;
        let audit = AuditLog::open(&config.warehouse, Role::Investigator)?;
        let key = crate::pseudonym::PseudonymKey::resolve(&crate::warehouse::key_file_for(&config.warehouse)).ok();
        let app = App {
            config,
            warehouse,
            users,
            sign_ins: Mutex::new(HashMap::new()),
            throttle: Mutex::new(auth::Throttle::default()),
            path_searches: Arc::new(tokio::sync::Semaphore::new(1)),
            audit,
            key,
            loaded: Mutex::new(None),
            earlier: Mutex::new(std::collections::BTreeMap::new()),
            loading: Mutex::new(()),
        };
        app.current()?;
        Ok(app)
    }

    /// What the newest committed snapshot gives, loading it when it changed (blocking: call from
    /// a blocking task).
    pub fn current(&self) -> Result<Arc<Loaded>, ServeError> {
        let snapshot = self.warehouse.current()?.unwrap_or(0);
        if let Some(loaded) = self.loaded.lock().map_err(|_| poisoned())?.as_ref()
            && loaded.snapshot == snapshot
        {
            return Ok(loaded.clone());
        }
        let _loading = self.loading.lock().map_err(|_| poisoned())?;
        if let Some(loaded) = self.loaded.lock().map_err(|_| poisoned())?.as_ref()
            && loaded.snapshot == snapshot
        {
            return Ok(loaded.clone());
        }
        let previous = self.loaded.lock().map_err(|_| poisoned())?.clone();
        let loaded = self.load(snapshot, None, previous)?;
        *self.loaded.lock().map_err(|_| poisoned())? = Some(loaded.clone());
        Ok(loaded)
    }

    /// What a snapshot gives: the current one for `None` (or its own number), else an earlier
    /// kept one, read-only like every session here. A few earlier snapshots stay loaded, each
    /// held against vacuum meanwhile (blocking: call from a blocking task).
    pub fn at(&self, snapshot: Option<u64>) -> Result<Arc<Loaded>, ServeError> {
        let Some(id) = snapshot else { return self.current() };
        if self.warehouse.current()? == Some(id) {
            return self.current();
        }
        if let Some(found) = self.earlier.lock().map_err(|_| poisoned())?.get(&id) {
            return Ok(found.clone());
        }
        self.warehouse.kept_snapshot(id)?;
        let _loading = self.loading.lock().map_err(|_| poisoned())?;
        if let Some(found) = self.earlier.lock().map_err(|_| poisoned())?.get(&id) {
            return Ok(found.clone());
        }
        let loaded = self.load(id, Some(id), None)?;
        let mut earlier = self.earlier.lock().map_err(|_| poisoned())?;
        while earlier.len() >= EARLIER_KEPT {
            earlier.pop_first();
        }
        earlier.insert(id, loaded.clone());
        Ok(loaded)
    }

    /// Opens a snapshot's sessions and graph; `earlier` names an earlier snapshot to read, and
    /// `previous` is what was loaded before (its graph is kept when the tables are the same files).
    fn load(
        &self,
        snapshot: u64,
        earlier: Option<u64>,
        previous: Option<Arc<Loaded>>,
    ) -> Result<Arc<Loaded>, ServeError> {
        let open = |role: Role| -> Result<Arc<Session>, ServeError> {
            let options = SessionOptions {
                role,
                audit: false,
                timeout: self.config.query_timeout,
                memory_limit: self.config.memory_limit,
                snapshot: earlier,
                ..SessionOptions::default()
            };
            Ok(Arc::new(open_session(&self.config.warehouse, options)?))
        };
        let (analyst, investigator) = (open(Role::Analyst)?, open(Role::Investigator)?);
        let graph_files = self.graph_files(snapshot);
        // A review commits a snapshot too: the graph's tables are then the same files, hard-linked.
        let leads = std::sync::OnceLock::new();
        let graph = match previous {
            Some(p) if !graph_files.is_empty() && p.graph_files == graph_files => {
                if let Some(known) = p.leads.get() {
                    let _ = leads.set(known.clone());
                }
                p.graph.clone()
            }
            _ => match LinkGraph::load(&analyst) {
                Ok(graph) => Some(Arc::new(graph)),
                Err(LinkError::NotLinked) => None,
                Err(e) => return Err(e.into()),
            },
        };
        let reviews = std::sync::OnceLock::new();
        Ok(Arc::new(Loaded { snapshot, analyst, investigator, graph, graph_files, leads, reviews }))
    }
}

impl App {
    /// Every file of the tables the graph and the leads are read from, by path and inode.
    fn graph_files(&self, snapshot: u64) -> Vec<(String, u64)> {
        let root = self.warehouse.snapshot_dir(snapshot);
        let mut out = Vec::new();
        for table in ["calls", "caller_entities", "entities", "incident_links", "leads", "lead_members", "link_runs"] {
            let mut stack = vec![root.join(table)];
            while let Some(dir) = stack.pop() {
                let Ok(entries) = std::fs::read_dir(&dir) else { continue };
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.is_dir() {
                        stack.push(path);
                    } else if let Ok(meta) = entry.metadata() {
                        #[cfg(unix)]
                        let inode = std::os::unix::fs::MetadataExt::ino(&meta);
                        #[cfg(not(unix))]
                        let inode = meta.len();
                        let name = path.strip_prefix(&root).unwrap_or(&path).display().to_string();
                        out.push((name, inode));
                    }
                }
            }
        }
        out.sort();
        out
    }
}

pub(crate) fn poisoned() -> ServeError {
    ServeError::Write("a lock of the server's state is poisoned".into())
}

/// A bound server: its address, and the future that serves until `shutdown` resolves.
pub struct Bound {
    /// The address it listens on.
    pub address: SocketAddr,
    /// `https` or `http`.
    pub scheme: &'static str,
    listener: Listening,
    app: Arc<App>,
}

enum Listening {
    Plain(tokio::net::TcpListener),
    Tls(tls::TlsListener),
}

/// Binds the address, with TLS when the configuration names a certificate and key (call inside a
/// tokio runtime). Files that cannot be loaded are an error: the server never falls back to plain
/// text.
pub async fn bind(app: Arc<App>) -> Result<Bound, ServeError> {
    let address = app.config.listen;
    let config = match &app.config.tls {
        Some((cert, key)) => Some(tls::server_config(cert, key, &[b"http/1.1"])?),
        None => None,
    };
    let listener =
        tokio::net::TcpListener::bind(address).await.map_err(|source| ServeError::Bind { address, source })?;
    let address = listener.local_addr().map_err(|source| ServeError::Bind { address, source })?;
    let (listener, scheme) = match config {
        Some(config) => (
            Listening::Tls(
                tls::TlsListener::new(listener, config).map_err(|source| ServeError::Bind { address, source })?,
            ),
            "https",
        ),
        None => (Listening::Plain(listener), "http"),
    };
    Ok(Bound { address, scheme, listener, app })
}

impl Bound {
    /// Serves until `shutdown` resolves.
    pub async fn serve(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let address = self.address;
        let router = api::router(self.app);
        match self.listener {
            Listening::Plain(l) => axum::serve(l, router).with_graceful_shutdown(shutdown).await,
            Listening::Tls(l) => axum::serve(l, router).with_graceful_shutdown(shutdown).await,
        }
        .map_err(|source| ServeError::Bind { address, source })
    }
}

/// The runtime a server runs on: worker and blocking threads with stacks deep enough for
/// DataFusion's planning. Some operators (a cross join feeding an aggregate) hold a worker for
/// minutes without yielding; workers beyond the cores keep connections, sign-ins and statement
/// deadlines served meanwhile (the operating system shares the cores among them).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2 * cores + 2)
        .thread_name("hotline-serve")
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()
}
