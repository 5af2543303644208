//! Shared fixtures: generated batches made once per test run, and their rows loaded for checking.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use hotline::contract::{Call, Table, WorkOrder};
use hotline::generate::truth::{RingCall, read_call_person, read_rings, read_table};
use hotline::generate::{GenerateConfig, OutputFormat, generate};
use hotline::source::{ValidRow, validate_file};

/// A scratch folder for this test binary.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("hotline-tests").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// Generates a batch once per test run (shared by the tests that read it).
pub fn batch(name: &str, calls: u64, seed: u64, format: OutputFormat, plant: bool) -> PathBuf {
    static MADE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    let mut made = made.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = made.get(name) {
        return dir.clone();
    }
    let dir = scratch(name);
    let config = GenerateConfig { calls, seed, out: dir.clone(), format, plant, ..GenerateConfig::default() };
    generate(&config, &mut |_| {}).expect("generate");
    made.insert(name.to_owned(), dir.clone());
    dir
}

/// The reference batch: `generate --calls 200000 --seed 7`.
pub fn reference_batch() -> PathBuf {
    batch("ref-200k-seed7", 200_000, 7, OutputFormat::Csv, true)
}

/// Valid rows and truth of a batch.
pub struct Loaded {
    /// Valid calls in file order.
    pub calls: Vec<Call>,
    /// Valid work orders in file order.
    pub orders: Vec<WorkOrder>,
    /// Call id → index in `calls`.
    pub by_id: HashMap<String, usize>,
    /// Call id → true person.
    pub person: HashMap<String, String>,
    /// truth/rings.csv.
    pub rings: Vec<RingCall>,
    /// truth/repeat_callers.csv rows.
    pub repeat_callers: Vec<HashMap<String, String>>,
    /// truth/hotspots.csv rows.
    pub hotspots: Vec<HashMap<String, String>>,
}

impl Loaded {
    /// The call with this id.
    pub fn call(&self, id: &str) -> &Call {
        &self.calls[self.by_id[id]]
    }
}

/// Loads a batch folder.
pub fn load(dir: &Path) -> Loaded {
    let mut calls = Vec::new();
    let mut orders = Vec::new();
    for table in Table::ALL {
        let path = ["csv", "jsonl", "parquet"]
            .iter()
            .map(|e| dir.join(format!("{}.{e}", table.name())))
            .find(|p| p.exists())
            .expect("table file");
        validate_file(&path, Some(table), |row| match row {
            ValidRow::Call(c) => calls.push(c),
            ValidRow::WorkOrder(o) => orders.push(o),
        })
        .expect("readable");
    }
    let by_id = calls.iter().enumerate().map(|(i, c)| (c.call_id.clone(), i)).collect();
    let truth = dir.join("truth");
    Loaded {
        calls,
        orders,
        by_id,
        person: read_call_person(&truth).expect("call_person"),
        rings: read_rings(&truth).expect("rings"),
        repeat_callers: read_table(&truth.join("repeat_callers.csv")).expect("repeat_callers"),
        hotspots: read_table(&truth.join("hotspots.csv")).expect("hotspots"),
    }
}

/// The reference batch loaded once.
pub fn reference() -> &'static Loaded {
    static LOADED: OnceLock<Loaded> = OnceLock::new();
    LOADED.get_or_init(|| load(&reference_batch()))
}

/// A warehouse holding the committed sample (`data/sample`), ingested and resolved once per test run with a fixed key.
pub fn sample_warehouse() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        use hotline::ingest::ingest;
        use hotline::pseudonym::PseudonymKey;
        use hotline::warehouse::{Warehouse, init};
        let dir = scratch("sample-warehouse").join("wh");
        init(&dir).expect("init");
        let key = PseudonymKey::from_hex(&"5a".repeat(32), "test").expect("key");
        let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
        let files = [sample.join("calls.csv"), sample.join("work_orders.csv")];
        let warehouse = Warehouse::open(&dir).expect("open");
        ingest(&warehouse, &files, None, &key, &mut |_| {}).expect("ingest");
        // Resolved, so that the named queries count repeat callers by person as in use.
        hotline::resolve::resolve(&warehouse, &Default::default(), &mut |_| {}).expect("resolve");
        dir
    })
    .clone()
}

/// Copies a folder tree (symlinks as symlinks), e.g. a warehouse a test will commit to.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_dir(&entry.path(), &target);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).unwrap();
            std::os::unix::fs::symlink(link, &target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Every row of a query, each column as text (NULL as `∅`), in the query's order.
pub fn rows(dir: &Path, sql: &str) -> Vec<Vec<String>> {
    rows_as(dir, hotline::sql::Role::Analyst, sql)
        .into_iter()
        .map(|row| row.into_iter().map(|v| v.unwrap_or_else(|| "∅".to_owned())).collect())
        .collect()
}

/// Rows of a query as a role sees them, as text (`None` for null).
pub fn rows_as(dir: &Path, role: hotline::sql::Role, sql: &str) -> Vec<Vec<Option<String>>> {
    use datafusion::arrow::array::{Array, AsArray};
    use datafusion::arrow::datatypes::DataType;
    let options = hotline::sql::SessionOptions { role, audit: false, ..hotline::sql::SessionOptions::default() };
    let session = hotline::sql::open_session(dir, options).unwrap();
    let (_, batches) = session.collect(sql).unwrap();
    let mut out = Vec::new();
    for batch in &batches {
        let columns: Vec<_> = (0..batch.num_columns())
            .map(|i| datafusion::arrow::compute::cast(batch.column(i), &DataType::Utf8).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                columns.iter().map(|c| (!c.is_null(row)).then(|| c.as_string::<i32>().value(row).to_owned())).collect(),
            );
        }
    }
    out
}

/// Runs a server in a thread of its own (a large stack, the servers' runtime): `start` binds it
/// and sends what the test needs to reach it, or why it did not start, then serves. Returns what
/// was sent.
pub fn serve_in_thread<T, F, Fut>(start: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(std::sync::mpsc::Sender<Result<T, String>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(move || hotline::serve::runtime().unwrap().block_on(start(tx)))
        .unwrap();
    rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the server starts or says why not")
}
