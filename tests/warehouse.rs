//! The warehouse commit protocol under real crashes: a writer process killed with SIGKILL at random moments.

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use hotline::warehouse::{MARKER, Warehouse};

use crate::util::scratch;

const CHILD_ENV: &str = "HOTLINE_TEST_CRASH_WRITER";

/// Commits forever: each snapshot writes its own number into three tables and a bulky file.
fn keep_committing(dir: &Path) {
    let warehouse = Warehouse::open(dir).expect("warehouse");
    let bulk = "x".repeat(256 * 1024);
    loop {
        let commit = warehouse.begin().expect("begin");
        let id = warehouse.current().expect("current").unwrap_or(0) + 1;
        for table in ["calls", "calls_pii", "work_orders"] {
            let folder = commit.table_dir(table).expect("table");
            fs::write(folder.join("bulk.parquet"), &bulk).expect("bulk");
            fs::write(folder.join("snapshot.txt"), id.to_string()).expect("write");
        }
        commit.commit().expect("commit");
    }
}

/// Runs as the killed writer when the parent test starts this binary with `CHILD_ENV` set.
#[test]
#[ignore = "run only as the child process of commits_survive_sigkill_at_random_moments"]
fn crash_writer_child() {
    if let Ok(dir) = std::env::var(CHILD_ENV) {
        keep_committing(Path::new(&dir));
    }
}

fn read_snapshot(dir: &Path, table: &str) -> Option<u64> {
    fs::read_to_string(dir.join(table).join("snapshot.txt")).ok().map(|t| t.parse().expect("a whole number"))
}

/// The `hotline` binary with the tests' key, its output discarded unless asked for.
fn hotline<S: AsRef<std::ffi::OsStr>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_hotline"));
    command.args(args).env("HOTLINE_KEY", "5a".repeat(32));
    command
}

/// The next number of a xorshift sequence: the tests' random moments, the same on every run.
fn next_random(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Kills `child` with SIGKILL after `random % span_ms` milliseconds unless it has ended by then,
/// and waits for it; says whether it was killed.
fn kill_at_random(child: &mut std::process::Child, random: u64, span_ms: u64) -> bool {
    std::thread::sleep(Duration::from_millis(random % span_ms.max(1)));
    let running = child.try_wait().unwrap().is_none();
    if running {
        child.kill().unwrap();
    }
    child.wait().unwrap();
    running
}

#[test]
fn commits_survive_sigkill_at_random_moments() {
    let dir = scratch("crash").join("wh");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(MARKER), "{}").unwrap();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut last_seen = 0;
    for round in 0..24 {
        let random = next_random(&mut state);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "warehouse::crash_writer_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + random % 150));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();

        let warehouse = Warehouse::open(&dir).unwrap();
        let current = warehouse.current().unwrap();
        let seen: Vec<Option<u64>> =
            ["calls", "calls_pii", "work_orders"].iter().map(|t| read_snapshot(&dir, t)).collect();
        assert!(seen.iter().all(|s| *s == current), "round {round}: tables {seen:?} disagree with current {current:?}");
        let now = current.unwrap_or(0);
        assert!(now >= last_seen, "round {round}: a committed snapshot was lost");
        last_seen = now;
    }
    assert!(last_seen > 0, "the writer committed at least once");
    // The next writer cleans up whatever the last kill left and commits on top.
    let warehouse = Warehouse::open(&dir).unwrap();
    let commit = warehouse.begin().unwrap();
    let leftovers = fs::read_dir(dir.join(".snapshots"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().parse::<u64>().map_or(true, |id| id > last_seen));
    assert_eq!(leftovers.count(), 1, "only the new staging folder besides committed snapshots");
    assert_eq!(commit.commit().unwrap(), last_seen + 1);
}

#[test]
fn a_backup_taken_while_commits_go_on_restores_one_whole_snapshot() {
    let dir = scratch("backup-live").join("wh");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(MARKER), "{}").unwrap();
    let warehouse = Warehouse::open(&dir).unwrap();
    // A first commit, then a writer committing all the while the backup copies.
    let commit = warehouse.begin().unwrap();
    for table in ["calls", "calls_pii", "work_orders"] {
        fs::write(commit.table_dir(table).unwrap().join("snapshot.txt"), "1").unwrap();
    }
    commit.commit().unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (dir, stop) = (dir.clone(), stop.clone());
        std::thread::spawn(move || {
            let warehouse = Warehouse::open(&dir).unwrap();
            let bulk = "x".repeat(256 * 1024);
            let mut commits = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let commit = warehouse.begin().unwrap();
                let id = commit.id();
                for table in ["calls", "calls_pii", "work_orders"] {
                    let folder = commit.table_dir(table).unwrap();
                    fs::write(folder.join("bulk.parquet"), &bulk).unwrap();
                    fs::write(folder.join("snapshot.txt"), id.to_string()).unwrap();
                }
                commit.commit().unwrap();
                commits += 1;
            }
            commits
        })
    };
    let root = dir.parent().unwrap();
    let mut backed = Vec::new();
    for i in 0..5 {
        std::thread::sleep(Duration::from_millis(30));
        let to = root.join(format!("backup-{i}"));
        let id = warehouse.backup(&to).unwrap();
        let restored = root.join(format!("restored-{i}"));
        assert_eq!(hotline::warehouse::restore(&to, &restored).unwrap(), id);
        let seen: Vec<Option<u64>> =
            ["calls", "calls_pii", "work_orders"].iter().map(|t| read_snapshot(&restored, t)).collect();
        assert!(seen.iter().all(|s| *s == Some(id)), "backup {i} of snapshot {id} mixes snapshots: {seen:?}");
        backed.push(id);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let commits = writer.join().unwrap();
    assert!(commits > 0 && backed.windows(2).any(|w| w[0] < w[1]), "commits went on during the backups: {backed:?}");
}

/// Rows of every table of the current snapshot, each counted in SQL (a table that cannot be read
/// fails the caller); the run logs (`*_runs`), which grow with every finished run, left out.
fn table_counts(dir: &Path) -> std::collections::BTreeMap<String, i64> {
    table_counts_at(dir, None)
}

/// [`table_counts`] of a kept snapshot (`None`: the current one).
fn table_counts_at(dir: &Path, snapshot: Option<u64>) -> std::collections::BTreeMap<String, i64> {
    use hotline::sql::{Role, SessionOptions, open_session};
    let options = SessionOptions { role: Role::Investigator, audit: false, snapshot, ..SessionOptions::default() };
    let session = open_session(dir, options).expect("the warehouse opens");
    let mut counts = std::collections::BTreeMap::new();
    for table in session.tables().iter().map(|t| t.name.clone()).filter(|t| !t.ends_with("_runs")) {
        let (_, batches) = session.collect(&format!("SELECT COUNT(*) FROM {table}")).expect("every table reads");
        let n = datafusion::arrow::array::AsArray::as_primitive::<datafusion::arrow::datatypes::Int64Type>(
            batches[0].column(0),
        )
        .value(0);
        counts.insert(table, n);
    }
    counts
}

#[test]
fn resolve_link_and_hotspots_killed_at_random_leave_a_readable_warehouse_and_a_rerun_converges() {
    use std::process::Stdio;
    // HOTLINE_TEST_KILLS raises the count (scripts and BENCHMARKS.md use 200).
    let wanted: u32 = std::env::var("HOTLINE_TEST_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let commands = ["resolve", "link", "hotspots"];
    let spawn = |command: &str, dir: &Path| {
        hotline([command.as_ref(), "--warehouse".as_ref(), dir.as_os_str()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    // Reference: each stage run once, uninterrupted and timed, on a copy of the sample warehouse.
    let reference = scratch("kill-stages-reference").join("wh");
    crate::util::copy_dir(&crate::util::sample_warehouse(), &reference);
    let mut spans = Vec::new();
    for command in commands {
        let started = std::time::Instant::now();
        assert!(spawn(command, &reference).wait().unwrap().success(), "{command} runs");
        spans.push((started.elapsed().as_millis() as u64 * 3 / 2).max(30));
    }
    let want = table_counts(&reference);

    let target = scratch("kill-stages-target").join("wh");
    crate::util::copy_dir(&crate::util::sample_warehouse(), &target);
    let accepted = table_counts(&target);
    let mut state: u64 = 0x5DEE_CE66_D1CE_4E5B;
    let (mut kills, mut finished) = (0u32, 0u32);
    for round in 0..wanted * 4 {
        if kills >= wanted {
            break;
        }
        let random = next_random(&mut state);
        let which = (random % 3) as usize;
        let mut child = spawn(commands[which], &target);
        if kill_at_random(&mut child, random >> 8, spans[which]) {
            kills += 1;
        } else {
            finished += 1;
        }
        // Readable, table by table, and not one accepted row of the ingested tables lost.
        let now = table_counts(&target);
        for table in ["calls", "calls_pii", "work_orders", "quarantine", "ingest_files"] {
            assert_eq!(now.get(table), accepted.get(table), "round {round} ({}): {table}", commands[which]);
        }
    }
    assert!(kills >= wanted, "only {kills} of {wanted} runs were killed mid-way ({finished} finished)");
    // Each stage run to the end once more gives what uninterrupted runs gave.
    for command in commands {
        assert!(spawn(command, &target).wait().unwrap().success(), "{command} runs after the kills");
    }
    assert_eq!(table_counts(&target), want);
}

/// Vacuum, backup and restore, each killed with SIGKILL at random moments: every snapshot still
/// listed reads whole, the source warehouse keeps its current snapshot, a cut-off copy is either
/// absent or a whole warehouse, and the same command run again finishes with what an
/// uninterrupted run gives.
#[test]
fn vacuum_backup_and_restore_killed_at_random_leave_whole_snapshots_and_a_rerun_converges() {
    use std::ffi::OsStr;
    use std::process::Stdio;
    let wanted: u32 = std::env::var("HOTLINE_TEST_KILLS").ok().and_then(|v| v.parse().ok()).unwrap_or(24);
    let root = scratch("kill-copies");
    // Thirteen snapshots: the sample, committed again unchanged twelve times.
    let base = root.join("base");
    crate::util::copy_dir(&crate::util::sample_warehouse(), &base);
    let warehouse = Warehouse::open(&base).unwrap();
    warehouse.set_retention(hotline::warehouse::Retention { keep: 1000, older_than_secs: None }).unwrap();
    for _ in 0..12 {
        warehouse.begin().unwrap().by("test").commit().unwrap();
    }
    let current = warehouse.current().unwrap().unwrap();
    let want = table_counts(&base);
    let kept: std::collections::BTreeMap<u64, _> =
        warehouse.snapshots().unwrap().iter().map(|s| (s.id, table_counts_at(&base, Some(s.id)))).collect();
    assert!(kept.len() >= 13, "{} snapshots kept", kept.len());
    let backup = root.join("backup");
    warehouse.backup(&backup).unwrap();
    let run = |args: &[&OsStr]| hotline(args).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    // The command of each kind, for a round's fresh target.
    let command = |kind: usize, target: &Path| -> Vec<std::ffi::OsString> {
        let words: Vec<&OsStr> = match kind {
            0 => vec![
                "warehouse".as_ref(),
                "vacuum".as_ref(),
                "--keep".as_ref(),
                "0".as_ref(),
                "--warehouse".as_ref(),
                target.as_os_str(),
            ],
            1 => vec![
                "warehouse".as_ref(),
                "backup".as_ref(),
                target.as_os_str(),
                "--warehouse".as_ref(),
                base.as_os_str(),
            ],
            _ => vec![
                "warehouse".as_ref(),
                "restore".as_ref(),
                backup.as_os_str(),
                "--warehouse".as_ref(),
                target.as_os_str(),
            ],
        };
        words.into_iter().map(OsStr::to_owned).collect()
    };
    let prepare = |kind: usize, round: u32| -> std::path::PathBuf {
        let target = root.join(format!("target-{round}"));
        if kind == 0 {
            crate::util::copy_dir(&base, &target);
        }
        target
    };
    // Each kind once, uninterrupted and timed.
    let mut spans = Vec::new();
    for kind in 0..3 {
        let target = prepare(kind, 1000 + kind as u32);
        let args = command(kind, &target);
        let started = std::time::Instant::now();
        assert!(run(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>()).wait().unwrap().success());
        spans.push((started.elapsed().as_millis() as u64 * 3 / 2).max(10));
    }
    let names = ["vacuum", "backup", "restore"];
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let (mut kills, mut finished) = (0u32, 0u32);
    let mut killed = [0u32; 3];
    for round in 0..wanted * 4 {
        if kills >= wanted {
            break;
        }
        let random = next_random(&mut state);
        let kind = (random % 3) as usize;
        let target = prepare(kind, round);
        let args = command(kind, &target);
        let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        if kill_at_random(&mut run(&args), random >> 8, spans[kind]) {
            kills += 1;
            killed[kind] += 1;
        } else {
            finished += 1;
        }
        let what = format!("round {round} ({})", names[kind]);
        // What the cut-off command left: the source is untouched, every snapshot still listed
        // reads whole, and a copy is there whole or not at all.
        assert_eq!(Warehouse::open(&base).unwrap().current().unwrap(), Some(current), "{what}");
        if kind == 0 {
            for snapshot in Warehouse::open(&target).unwrap().snapshots().unwrap() {
                assert_eq!(
                    Some(&table_counts_at(&target, Some(snapshot.id))),
                    kept.get(&snapshot.id),
                    "{what}: snapshot {}",
                    snapshot.id
                );
            }
        }
        // Run again to the end, unless a copy had been made whole (a copy never overwrites a
        // warehouse): the same as an uninterrupted run.
        if kind == 0 || !target.join(MARKER).exists() {
            let again = hotline(&args).output().unwrap();
            assert!(
                again.status.success(),
                "{what}: the command runs again after the kill: {}",
                String::from_utf8_lossy(&again.stderr)
            );
        }
        assert_eq!(table_counts(&target), want, "{what}");
        let left: Vec<u64> = Warehouse::open(&target).unwrap().snapshots().unwrap().iter().map(|s| s.id).collect();
        assert_eq!(left, vec![current], "{what}: the kept snapshots");
        let folders = fs::read_dir(target.join(".snapshots")).unwrap().count();
        assert_eq!(folders, 1, "{what}: no leftover folder beside the current snapshot");
        fs::remove_dir_all(&target).unwrap();
    }
    assert!(kills >= wanted, "only {kills} of {wanted} runs were killed mid-way ({finished} finished)");
    eprintln!("killed: {killed:?} (vacuum, backup, restore); {finished} runs finished before their kill");
    assert!(root.read_dir().unwrap().flatten().all(|e| !e.file_name().to_string_lossy().ends_with(".partial")));
}

/// What a reader saw in one session: the snapshot and the rows of three stages' tables.
type Seen = (i64, [i64; 4]);

fn stage_counts(session: &hotline::sql::Session) -> Result<[i64; 4], String> {
    let mut out = [0i64; 4];
    for (i, table) in ["calls", "work_orders", "caller_entities", "leads"].iter().enumerate() {
        let (_, batches) = session.collect(&format!("SELECT COUNT(*) FROM {table}")).map_err(|e| e.to_string())?;
        out[i] = datafusion::arrow::array::AsArray::as_primitive::<datafusion::arrow::datatypes::Int64Type>(
            batches[0].column(0),
        )
        .value(0);
    }
    Ok(out)
}

#[test]
fn readers_see_whole_snapshots_while_two_ingests_resolve_and_link_commit() {
    use hotline::generate::OutputFormat;
    use hotline::pseudonym::PseudonymKey;
    use hotline::sql::{SessionOptions, open_session};
    use std::sync::atomic::{AtomicBool, Ordering};
    let batches = [
        crate::util::batch("readers-a", 3_000, 41, OutputFormat::Csv, false),
        crate::util::batch("readers-b", 3_000, 42, OutputFormat::Csv, false),
    ];
    let files = |dir: &Path| vec![dir.join("calls.csv"), dir.join("work_orders.csv")];
    let key = PseudonymKey::from_hex(&"5a".repeat(32), "test").unwrap();
    // Reference: the two batches ingested one after the other.
    let reference = scratch("readers-reference").join("wh");
    crate::util::copy_dir(&crate::util::sample_warehouse(), &reference);
    let reference = Warehouse::open(&reference).unwrap();
    for batch in &batches {
        hotline::ingest::ingest(&reference, &files(batch), None, &key, &mut |_| {}).unwrap();
    }
    let options = || SessionOptions { audit: false, ..SessionOptions::default() };
    let want = stage_counts(&open_session(reference.dir(), options()).unwrap()).unwrap();

    let dir = scratch("readers-target").join("wh");
    crate::util::copy_dir(&crate::util::sample_warehouse(), &dir);
    let warehouse = Warehouse::open(&dir).unwrap();
    // Every snapshot stays readable afterwards, to check what the readers saw against it.
    warehouse.set_retention(hotline::warehouse::Retention { keep: 1000, older_than_secs: None }).unwrap();
    let stop = AtomicBool::new(false);
    let seen: Vec<Seen> = std::thread::scope(|s| {
        let readers: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = Vec::new();
                    while !stop.load(Ordering::Relaxed) || seen.len() < 3 {
                        let session = open_session(&dir, options()).expect("a reader opens the warehouse");
                        let counts = stage_counts(&session).expect("a reader's query succeeds");
                        seen.push((session.snapshot(), counts));
                    }
                    seen
                })
            })
            .collect();
        // Two ingests at once: the lock takes them in turn.
        std::thread::scope(|w| {
            for batch in &batches {
                let (warehouse, key) = (&warehouse, &key);
                w.spawn(move || hotline::ingest::ingest(warehouse, &files(batch), None, key, &mut |_| {}).unwrap());
            }
        });
        hotline::resolve::resolve(&warehouse, &Default::default(), &mut |_| {}).unwrap();
        hotline::link::link(&warehouse, &mut |_| {}).unwrap();
        stop.store(true, Ordering::Relaxed);
        readers.into_iter().flat_map(|r| r.join().unwrap()).collect()
    });
    // Neither ingest lost a row.
    let after = stage_counts(&open_session(&dir, options()).unwrap()).unwrap();
    assert_eq!(after[..2], want[..2], "calls and work orders after two concurrent ingests");
    // Each session saw one committed snapshot whole: the counts that snapshot holds.
    let snapshots: std::collections::BTreeSet<i64> = seen.iter().map(|s| s.0).collect();
    assert!(snapshots.len() >= 2, "the readers saw commits happen: {snapshots:?}");
    for (snapshot, counts) in &seen {
        let at = SessionOptions { snapshot: Some(*snapshot as u64), ..options() };
        let truth = stage_counts(&open_session(&dir, at).unwrap()).unwrap();
        assert_eq!(*counts, truth, "snapshot {snapshot}");
    }
}

/// Key rotation: the accepted records written back out as contract CSV (raw personal data, files
/// 0600, investigators only) and ingested into a new warehouse under a new key give the same calls
/// and work orders, with not one pseudonym in common with the old key's.
#[test]
fn a_source_export_ingested_under_a_new_key_keeps_every_record_and_changes_every_pseudonym() {
    use std::collections::BTreeSet;
    use std::os::unix::fs::PermissionsExt;

    use crate::util::{rows, rows_as};
    use hotline::pseudonym::PseudonymKey;
    use hotline::sql::export::export_source;
    use hotline::sql::{Role, SessionOptions, SqlError, open_session};
    let root = scratch("rekey");
    let old = crate::util::sample_warehouse();
    let options = |role| SessionOptions { role, audit: false, ..SessionOptions::default() };
    let analyst = open_session(&old, options(Role::Analyst)).unwrap();
    assert!(matches!(export_source(&analyst, &root.join("refused")), Err(SqlError::Refused(_))));
    let files = root.join("source");
    let investigator = open_session(&old, options(Role::Investigator)).unwrap();
    let done = export_source(&investigator, &files).unwrap();
    for name in ["calls.csv", "work_orders.csv"] {
        let mode = fs::metadata(files.join(name)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} holds raw personal data");
    }
    assert!(export_source(&investigator, &files).is_err(), "an export never writes over files");

    let new = root.join("wh");
    hotline::warehouse::init(&new).unwrap();
    let key = PseudonymKey::from_hex(&"6b".repeat(32), "test").unwrap();
    let sources = [files.join("calls.csv"), files.join("work_orders.csv")];
    hotline::ingest::ingest(&Warehouse::open(&new).unwrap(), &sources, None, &key, &mut |_| {}).unwrap();

    let calls = "SELECT call_id, platform, received_at, name_masked, address, district, grid_id, lon, lat, category, \
                 counterparty, counterparty_kind, narrative, disposition, source_call_id FROM calls ORDER BY call_id";
    let orders = "SELECT order_id, call_id, created_at, from_platform, to_platform, channel, department, signed_at, \
                  feedback_at, closed_at, status, satisfaction, callback_at FROM work_orders ORDER BY order_id";
    let raw = "SELECT call_id, caller_phone, caller_name, caller_id_number, counterparty, narrative FROM calls_pii \
               ORDER BY call_id";
    let before = rows(&old, calls);
    assert_eq!(before.len() as u64, done.calls);
    assert!(before.len() > 9_000, "the sample's calls");
    assert_eq!(rows(&new, calls), before);
    assert_eq!(rows(&new, orders), rows(&old, orders));
    assert_eq!(rows(&new, orders).len() as u64, done.work_orders);
    assert_eq!(rows_as(&new, Role::Investigator, raw), rows_as(&old, Role::Investigator, raw));
    // Every pseudonym is the new key's: as many distinct phones and ID numbers, none in common.
    for column in ["phone_key", "id_key"] {
        let keys = |dir: &Path| -> BTreeSet<String> {
            rows(dir, &format!("SELECT DISTINCT {column} FROM calls WHERE {column} IS NOT NULL"))
                .into_iter()
                .map(|mut r| r.remove(0))
                .collect()
        };
        let (was, now) = (keys(&old), keys(&new));
        assert!(was.len() > 100, "{column}: {}", was.len());
        assert_eq!(was.len(), now.len(), "{column}: one pseudonym for one value, as before");
        assert!(was.is_disjoint(&now), "{column}: a pseudonym of the old key survived");
    }
}
