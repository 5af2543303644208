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

#[test]
fn commits_survive_sigkill_at_random_moments() {
    let dir = scratch("crash").join("wh");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(MARKER), "{}").unwrap();
    let mut state: u64 = 0x2545_F491_4F6C_DD1D;
    let mut last_seen = 0;
    for round in 0..24 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--ignored", "--exact", "warehouse::crash_writer_child", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, &dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(20 + state % 150));
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
