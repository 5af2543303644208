//! The audit log: one JSON line per query (who, as which role, what, how it ended), appended to
//! `DIR/audit/queries.jsonl` in the warehouse and readable by SQL as `audit_log` (investigator role).
//! Each record carries a chain value over itself and its predecessor's, keyed with the warehouse
//! key, so an edited, removed or inserted record is found by [`verify`]; full files are rotated to
//! `queries-<last seq>.jsonl` and the chain goes on in the next.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{Role, SqlError};
use crate::pseudonym::PseudonymKey;

/// Folder of the audit log inside the warehouse.
pub const AUDIT_DIR: &str = crate::warehouse::AUDIT_DIR;

/// File of the audit log inside [`AUDIT_DIR`].
pub const AUDIT_FILE: &str = "queries.jsonl";

/// Size at which the log file is rotated.
pub const AUDIT_ROTATE_BYTES: u64 = 64 << 20;

/// Lock file serialising appends of every process (the chain needs the last record's value).
const LOCK_FILE: &str = ".lock";

/// Domain of the chain's keyed digest (the key's pseudonyms use others).
const CHAIN_DOMAIN: &str = "audit-chain";

/// What the SQL of a seal record reads.
pub const SEAL_SQL: &str = "-- audit seal";

/// One audited query.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditRecord {
    /// When the query started (RFC 3339, UTC).
    pub at: String,
    /// The operating-system account that ran it.
    pub os_user: String,
    /// The role it ran as.
    pub role: String,
    /// The client's address, for a request that came over the network.
    pub client: Option<String>,
    /// The warehouse snapshot it read.
    pub snapshot: i64,
    /// The SQL text, with runs of seven or more digits (phone and ID numbers) redacted.
    pub sql: String,
    /// Rows returned (0 on error).
    pub rows: i64,
    /// Wall time in milliseconds.
    pub duration_ms: f64,
    /// `ok`, `error` or `refused`.
    pub outcome: String,
    /// The error, when there was one.
    pub error: Option<String>,
    /// Place in the chain (0 for its first record).
    pub seq: u64,
    /// The chain value of the record before (empty for the first).
    pub prev: String,
}

/// Who a record is for: an account and the role it ran as.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The account (`$USER`, or `web:NAME` for a signed-in user of the explorer).
    pub user: &'a str,
    /// The role.
    pub role: Role,
    /// The client's address (a PostgreSQL or HTTP client), if the request came over the network.
    pub client: Option<&'a str>,
}

/// The end of the chain: the last record's place and chain value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tail {
    next_seq: u64,
    chain: String,
}

/// An open audit log; a session that cannot write it runs no query.
#[derive(Debug)]
pub struct AuditLog {
    dir: PathBuf,
    path: PathBuf,
    /// The chain's end as this process last wrote it, with the file's length and inode then: when
    /// both are unchanged no other process has written since, and the file need not be read.
    tail: Mutex<Option<(u64, u64, Tail)>>,
    key: Option<PseudonymKey>,
    rotate_bytes: u64,
    os_user: String,
    role: Role,
}

/// The account running this process: `$USER`, else `$LOGNAME`, else the numeric uid.
pub fn os_user() -> String {
    for name in ["USER", "LOGNAME"] {
        if let Ok(user) = std::env::var(name)
            && !user.trim().is_empty()
        {
            return user;
        }
    }
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_owned())
        })
        .map_or_else(|| "unknown".to_owned(), |uid| format!("uid {uid}"))
}

/// Replaces every run of seven or more digits (with an optional trailing X, as in resident IDs) by
/// a marker giving only its length: SQL text often carries the number an investigator looked up.
pub fn redact_numbers(sql: &str) -> String {
    let chars: Vec<char> = sql.chars().collect();
    let mut out = String::with_capacity(sql.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            if i < chars.len() && matches!(chars[i], 'X' | 'x') && i - start == 17 {
                i += 1;
            }
            if i - start >= 7 {
                out.push_str(&format!("<{} digits redacted>", i - start));
            } else {
                out.extend(&chars[start..i]);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

impl AuditLog {
    /// Opens (creating if needed) the audit log of a warehouse for appending. Records are keyed
    /// with the warehouse key when this process has it (`HOTLINE_KEY` or the key file); without
    /// it they are chained by a plain hash, which the next keyed record seals.
    pub fn open(warehouse: &Path, role: Role) -> Result<AuditLog, SqlError> {
        let dir = warehouse.join(AUDIT_DIR);
        fs::create_dir_all(&dir).map_err(|e| failed(&dir, e))?;
        let path = dir.join(AUDIT_FILE);
        let key = PseudonymKey::resolve(&crate::warehouse::key_file_for(warehouse)).ok();
        Ok(AuditLog {
            dir,
            path,
            tail: Mutex::new(None),
            key,
            rotate_bytes: AUDIT_ROTATE_BYTES,
            os_user: os_user(),
            role,
        })
    }

    /// The same log keyed with another key, or with none (tests; a tool that signs for a warehouse
    /// it reads from elsewhere).
    pub fn with_key(mut self, key: Option<PseudonymKey>) -> AuditLog {
        self.key = key;
        self
    }

    /// The same log rotated at another size (tests rotate small files).
    pub fn with_rotation(mut self, bytes: u64) -> AuditLog {
        self.rotate_bytes = bytes.max(1);
        self
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this process writes keyed records (it has the warehouse key).
    pub fn keyed(&self) -> bool {
        self.key.is_some()
    }

    /// Appends one record durably.
    pub fn record(
        &self,
        snapshot: i64,
        started: chrono::DateTime<chrono::Utc>,
        sql: &str,
        rows: u64,
        duration: std::time::Duration,
        outcome: Result<(), &SqlError>,
    ) -> Result<(), SqlError> {
        let (outcome, error) = match outcome {
            Ok(()) => ("ok", None),
            Err(SqlError::Refused(message)) => ("refused", Some(message.clone())),
            Err(error) => ("error", Some(error.to_string())),
        };
        let who = Who { user: &self.os_user, role: self.role, client: None };
        self.append(who, snapshot, started, sql, rows, duration, outcome, error.as_deref())
    }

    /// Appends a keyed record that seals every record before it (records written without the key
    /// are only hash-chained until a keyed one follows). Needs the key.
    pub fn seal(&self) -> Result<(), SqlError> {
        if self.key.is_none() {
            return Err(SqlError::Audit(format!(
                "{}: sealing the audit log needs the warehouse key ({} or the key file)",
                self.path.display(),
                crate::pseudonym::KEY_ENV
            )));
        }
        let who = Who { user: &self.os_user, role: self.role, client: None };
        self.append(who, 0, chrono::Utc::now(), SEAL_SQL, 0, std::time::Duration::ZERO, "ok", None)
    }

    /// Appends one record of a request made for someone other than this process's account (a
    /// user signed in to `hotline serve`, as `web:NAME`); `what` is the request (method, path and
    /// query), with numbers redacted like SQL.
    #[allow(clippy::too_many_arguments)]
    pub fn append(
        &self,
        who: Who<'_>,
        snapshot: i64,
        started: chrono::DateTime<chrono::Utc>,
        what: &str,
        rows: u64,
        duration: std::time::Duration,
        outcome: &str,
        error: Option<&str>,
    ) -> Result<(), SqlError> {
        let mut record = AuditRecord {
            at: started.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            os_user: who.user.to_owned(),
            role: who.role.name().to_owned(),
            client: who.client.map(str::to_owned),
            snapshot,
            sql: redact_numbers(what),
            rows: rows as i64,
            duration_ms: duration.as_secs_f64() * 1000.0,
            outcome: outcome.to_owned(),
            error: error.map(redact_numbers),
            seq: 0,
            prev: String::new(),
        };
        let written = {
            let mut cached = self.tail.lock().map_err(|_| SqlError::Audit("the audit log lock is poisoned".into()))?;
            // Every process appending to this log takes the lock file in turn: the chain needs
            // the last record, and a rotation must not race an append.
            let lock_path = self.dir.join(LOCK_FILE);
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| failed(&lock_path, e))?;
            lock.lock().map_err(|e| failed(&lock_path, e))?;
            let mut file = self.open_for_append()?;
            let mut meta = file.metadata().map_err(|e| failed(&self.path, e))?;
            if meta.len() >= self.rotate_bytes {
                let tail = last_record(&self.dir)?;
                let last = tail.as_ref().map_or(0, |t| t.next_seq.saturating_sub(1));
                let rotated = self.dir.join(format!("queries-{last:016}.jsonl"));
                fs::rename(&self.path, &rotated).map_err(|e| failed(&rotated, e))?;
                File::open(&self.dir).and_then(|d| d.sync_all()).map_err(|e| failed(&self.dir, e))?;
                file = self.open_for_append()?;
                meta = file.metadata().map_err(|e| failed(&self.path, e))?;
            }
            use std::os::unix::fs::MetadataExt;
            let tail = match cached.as_ref() {
                Some((len, ino, tail)) if *len == meta.len() && *ino == meta.ino() => Some(tail.clone()),
                _ => last_record(&self.dir)?,
            };
            let (seq, prev) = tail.map_or((0, String::new()), |t| (t.next_seq, t.chain));
            record.seq = seq;
            record.prev = prev;
            let body = serde_json::to_string(&record).map_err(|e| SqlError::Audit(e.to_string()))?;
            let chain = chain_value(self.key.as_ref(), &record.prev, &body);
            let mut line = String::with_capacity(body.len() + 80);
            // A line torn by a crash is ended first, so this record stays a line of its own.
            if meta.len() > 0 && !ends_with_newline(&self.path, meta.len())? {
                line.push('\n');
            }
            line.push_str(&body[..body.len() - 1]);
            line.push_str(&format!(",\"chain\":\"{chain}\"}}\n"));
            // One write of the whole line on a file opened for appending.
            file.write_all(line.as_bytes()).map_err(|e| failed(&self.path, e))?;
            *cached = Some((meta.len() + line.len() as u64, meta.ino(), Tail { next_seq: seq + 1, chain }));
            file
        };
        // Synced before returning, but outside the locks: a server's requests do not queue behind
        // one another's disk flushes (one flush covers every line written before it).
        written.sync_data().map_err(|e| failed(&self.path, e))
    }

    fn open_for_append(&self) -> Result<File, SqlError> {
        OpenOptions::new().create(true).append(true).open(&self.path).map_err(|e| failed(&self.path, e))
    }
}

fn failed(path: &Path, e: std::io::Error) -> SqlError {
    SqlError::Audit(format!("{}: {e}", path.display()))
}

fn ends_with_newline(path: &Path, len: u64) -> Result<bool, SqlError> {
    let mut file = File::open(path).map_err(|e| failed(path, e))?;
    file.seek(SeekFrom::Start(len - 1)).map_err(|e| failed(path, e))?;
    let mut byte = [0u8];
    file.read_exact(&mut byte).map_err(|e| failed(path, e))?;
    Ok(byte[0] == b'\n')
}

/// The chain value of a record's text: `k:` and the keyed digest, or `h:` and a plain SHA-256
/// when the writer has no key (anyone could recompute that one; the next keyed record seals it).
fn chain_value(key: Option<&PseudonymKey>, prev: &str, body: &str) -> String {
    match key {
        Some(key) => format!("k:{}", hex::encode(key.mac(CHAIN_DOMAIN, &[prev.as_bytes(), body.as_bytes()]))),
        None => {
            let mut hash = Sha256::new();
            for part in [prev.as_bytes(), body.as_bytes()] {
                hash.update((part.len() as u64).to_le_bytes());
                hash.update(part);
            }
            format!("h:{}", hex::encode(hash.finalize()))
        }
    }
}

/// The log's files in chain order: rotated ones by their last record, then the current file.
fn log_files(dir: &Path) -> Result<Vec<PathBuf>, SqlError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(failed(dir, e)),
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == AUDIT_FILE || (n.starts_with("queries-") && n.ends_with(".jsonl")))
        })
        .collect();
    // `queries-…` sorts before `queries.jsonl` ('-' < '.').
    files.sort();
    Ok(files)
}

/// A line's record split into the text its chain value covers and that value.
fn split_chained(line: &str) -> Option<(&str, &str)> {
    const MARK: &str = ",\"chain\":\"";
    let at = line.rfind(MARK)?;
    let chain = line[at + MARK.len()..].strip_suffix("\"}")?;
    Some((&line[..at], chain))
}

/// The last chained record of the log (the newest file that has one), or none.
fn last_record(dir: &Path) -> Result<Option<Tail>, SqlError> {
    for path in log_files(dir)?.iter().rev() {
        let mut file = File::open(path).map_err(|e| failed(path, e))?;
        let len = file.metadata().map_err(|e| failed(path, e))?.len();
        // Read back from the end, more each time, until a whole line is in hand.
        let mut want = 64u64 << 10;
        loop {
            let from = len.saturating_sub(want);
            file.seek(SeekFrom::Start(from)).map_err(|e| failed(path, e))?;
            let mut bytes = Vec::with_capacity((len - from) as usize);
            (&mut file).take(len - from).read_to_end(&mut bytes).map_err(|e| failed(path, e))?;
            let text = String::from_utf8_lossy(&bytes);
            let mut lines: Vec<&str> = text.split('\n').collect();
            if from > 0 {
                // The first piece may be the end of a longer line.
                lines.remove(0);
            }
            for line in lines.iter().rev().filter(|l| !l.trim().is_empty()) {
                let Some((body, chain)) = split_chained(line) else { continue };
                let Ok(value) = serde_json::from_str::<serde_json::Value>(&format!("{body}}}")) else { continue };
                if let Some(seq) = value.get("seq").and_then(serde_json::Value::as_u64) {
                    return Ok(Some(Tail { next_seq: seq + 1, chain: chain.to_owned() }));
                }
            }
            if from == 0 {
                break;
            }
            want *= 4;
        }
    }
    Ok(None)
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Verified {
    /// Files read, in chain order.
    pub files: usize,
    /// Chained records read.
    pub records: u64,
    /// Records written before the chain began (an older build's), at the start of the log.
    pub unchained: u64,
    /// Chained records keyed with the warehouse key.
    pub keyed: u64,
    /// Records after the last keyed one: hash-chained only, so someone who can write the log
    /// could rewrite them unseen until a keyed record follows (`hotline audit seal`).
    pub unsealed: u64,
    /// The last record's place and chain value (note them elsewhere: a log cut short at its end
    /// shows only against them).
    pub last: Option<(u64, String)>,
    /// The first broken record, if any.
    pub broken: Option<Broken>,
}

/// The first record that breaks the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct Broken {
    /// Its file.
    pub file: PathBuf,
    /// Its line (from 1).
    pub line: usize,
    /// Why.
    pub reason: String,
}

/// Reads the whole log in chain order and checks every record against the key: its text against
/// its chain value, and its link to the one before. Stops at the first broken record.
pub fn verify(warehouse: &Path, key: &PseudonymKey) -> Result<Verified, SqlError> {
    let dir = warehouse.join(AUDIT_DIR);
    let files = log_files(&dir)?;
    let mut out = Verified { files: files.len(), ..Verified::default() };
    let mut expected: Option<Tail> = None;
    for path in &files {
        let text = fs::read(path).map_err(|e| failed(path, e))?;
        let text = String::from_utf8_lossy(&text);
        for (n, line) in text.split('\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let broken = |reason: String| Broken { file: path.clone(), line: n + 1, reason };
            let Some((body, chain)) = split_chained(line) else {
                let legacy = serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.get("seq").is_none());
                if legacy && expected.is_none() {
                    out.unchained += 1;
                    continue;
                }
                let reason = if legacy {
                    "a record without a chain value after the chain began (inserted, or its value removed)"
                } else {
                    "not a whole record (edited, or torn by a crash while it was written)"
                };
                out.broken = Some(broken(reason.into()));
                return Ok(out);
            };
            let Some((seq, prev)) = serde_json::from_str::<serde_json::Value>(&format!("{body}}}"))
                .ok()
                .and_then(|v| Some((v.get("seq")?.as_u64()?, v.get("prev")?.as_str()?.to_owned())))
            else {
                out.broken = Some(broken("not a whole record (edited, or torn while it was written)".into()));
                return Ok(out);
            };
            let (want_seq, want_prev) = expected.as_ref().map_or((0, ""), |t| (t.next_seq, t.chain.as_str()));
            if seq != want_seq || prev != want_prev {
                let reason = match expected {
                    None => format!("the log starts at record {seq}, not 0: earlier records were removed"),
                    Some(_) if seq != want_seq => format!(
                        "record {seq} follows record {}: records were removed or inserted",
                        want_seq.wrapping_sub(1)
                    ),
                    Some(_) => {
                        format!("record {seq} does not follow the record before it: that one was edited or replaced")
                    }
                };
                out.broken = Some(broken(reason));
                return Ok(out);
            }
            let recomputed = match chain.split_once(':') {
                Some(("k", _)) => chain_value(Some(key), &prev, &format!("{body}}}")),
                Some(("h", _)) => chain_value(None, &prev, &format!("{body}}}")),
                _ => String::new(),
            };
            if recomputed != chain {
                let reason = if chain.starts_with("k:") {
                    format!("record {seq} was edited after it was written, or keyed with another key")
                } else {
                    format!("record {seq} was edited after it was written")
                };
                out.broken = Some(broken(reason));
                return Ok(out);
            }
            out.records += 1;
            if chain.starts_with("k:") {
                out.keyed += 1;
                out.unsealed = 0;
            } else {
                out.unsealed += 1;
            }
            out.last = Some((seq, chain.to_owned()));
            expected = Some(Tail { next_seq: seq + 1, chain: chain.to_owned() });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("hotline-audit-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn key() -> PseudonymKey {
        PseudonymKey::from_hex(&"3c".repeat(32), "test").unwrap()
    }

    fn write(log: &AuditLog, n: usize, what: &str) {
        for i in 0..n {
            let when = chrono::Utc::now();
            log.record(
                7,
                when,
                &format!("SELECT {i} -- {what}"),
                i as u64,
                std::time::Duration::from_millis(3),
                Ok(()),
            )
            .unwrap();
        }
    }

    fn lines(path: &Path) -> Vec<String> {
        fs::read_to_string(path).unwrap().lines().map(str::to_owned).collect()
    }

    #[test]
    fn an_intact_chain_verifies_across_rotated_files_and_processes() {
        let wh = scratch("intact");
        let a = AuditLog::open(&wh, Role::Analyst).unwrap().with_key(Some(key())).with_rotation(2_000);
        let b = AuditLog::open(&wh, Role::Investigator).unwrap().with_key(Some(key())).with_rotation(2_000);
        // Two logs on one folder stand for two processes: each must read the other's last record.
        std::thread::scope(|s| {
            s.spawn(|| write(&a, 15, "a"));
            s.spawn(|| write(&b, 15, "b"));
        });
        let done = verify(&wh, &key()).unwrap();
        assert_eq!(done.broken, None);
        assert_eq!((done.records, done.keyed, done.unsealed, done.unchained), (30, 30, 0, 0));
        assert!(done.files > 3, "rotated into {} files", done.files);
        assert_eq!(done.last.as_ref().map(|l| l.0), Some(29));
        // Another key cannot have written it.
        let other = PseudonymKey::from_hex(&"3d".repeat(32), "test").unwrap();
        assert!(verify(&wh, &other).unwrap().broken.unwrap().reason.contains("another key"));
    }

    #[test]
    fn an_edited_removed_or_inserted_record_is_named() {
        let wh = scratch("edited");
        let log = AuditLog::open(&wh, Role::Analyst).unwrap().with_key(Some(key()));
        write(&log, 6, "x");
        let path = log.path().to_owned();
        let original = lines(&path);
        // An analyst's refused statement made to look harmless.
        let mut edited = original.clone();
        edited[3] = edited[3].replace("\"rows\":3", "\"rows\":0");
        assert_ne!(edited[3], original[3]);
        fs::write(&path, edited.join("\n") + "\n").unwrap();
        let broken = verify(&wh, &key()).unwrap().broken.unwrap();
        assert_eq!((broken.line, broken.file.clone()), (4, path.clone()));
        assert!(broken.reason.contains("record 3 was edited"), "{}", broken.reason);
        // A record taken out.
        let mut removed = original.clone();
        removed.remove(2);
        fs::write(&path, removed.join("\n") + "\n").unwrap();
        let broken = verify(&wh, &key()).unwrap().broken.unwrap();
        assert_eq!(broken.line, 3);
        assert!(broken.reason.contains("removed or inserted"), "{}", broken.reason);
        // A record made up without the key, chained by hash to the one before.
        let mut inserted = original.clone();
        let (body, _) = split_chained(&original[1]).unwrap();
        let forged_body = body.replace("SELECT 1", "SELECT 42");
        let forged = format!("{forged_body},\"chain\":\"{}\"}}", chain_value(None, "", &format!("{forged_body}}}")));
        inserted[1] = forged;
        fs::write(&path, inserted.join("\n") + "\n").unwrap();
        let broken = verify(&wh, &key()).unwrap().broken.unwrap();
        assert_eq!(broken.line, 2, "{}", broken.reason);
        // Put back, it verifies again.
        fs::write(&path, original.join("\n") + "\n").unwrap();
        assert_eq!(verify(&wh, &key()).unwrap().broken, None);
    }

    #[test]
    fn records_written_without_the_key_are_sealed_by_the_next_keyed_one() {
        let wh = scratch("sealed");
        // Records of an older build, before the chain, stay readable at the start.
        fs::create_dir_all(wh.join(AUDIT_DIR)).unwrap();
        fs::write(wh.join(AUDIT_DIR).join(AUDIT_FILE), "{\"at\":\"2026-01-01T00:00:00Z\",\"sql\":\"SELECT 1\"}\n")
            .unwrap();
        let plain = AuditLog::open(&wh, Role::Analyst).unwrap().with_key(None);
        write(&plain, 4, "no key");
        let done = verify(&wh, &key()).unwrap();
        assert_eq!((done.records, done.keyed, done.unsealed, done.unchained), (4, 0, 4, 1));
        let keyed = AuditLog::open(&wh, Role::Investigator).unwrap().with_key(Some(key()));
        assert!(plain.seal().is_err(), "sealing needs the key");
        keyed.seal().unwrap();
        let done = verify(&wh, &key()).unwrap();
        assert_eq!((done.records, done.keyed, done.unsealed, done.broken), (5, 1, 0, None));
        // A sealed unkeyed record rewritten with its hash recomputed still breaks the chain.
        let path = keyed.path().to_owned();
        let mut all = lines(&path);
        let (body, _) = split_chained(&all[2]).unwrap();
        let prev = serde_json::from_str::<serde_json::Value>(&format!("{body}}}")).unwrap()["prev"]
            .as_str()
            .unwrap()
            .to_owned();
        let body = body.replace("SELECT 1", "SELECT 9");
        all[2] = format!("{body},\"chain\":\"{}\"}}", chain_value(None, &prev, &format!("{body}}}")));
        fs::write(&path, all.join("\n") + "\n").unwrap();
        let broken = verify(&wh, &key()).unwrap().broken.unwrap();
        assert_eq!(broken.line, 4, "the next record no longer follows: {}", broken.reason);
    }

    #[test]
    fn a_line_torn_by_a_crash_is_named_and_the_log_goes_on() {
        let wh = scratch("torn");
        let log = AuditLog::open(&wh, Role::Analyst).unwrap().with_key(Some(key()));
        write(&log, 2, "before");
        let path = log.path().to_owned();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"at\":\"2026-").unwrap();
        let again = AuditLog::open(&wh, Role::Analyst).unwrap().with_key(Some(key()));
        write(&again, 1, "after");
        assert_eq!(lines(&path).len(), 4, "the torn line stays a line of its own");
        let broken = verify(&wh, &key()).unwrap().broken.unwrap();
        assert_eq!(broken.line, 3);
        assert!(broken.reason.contains("torn"), "{}", broken.reason);
    }

    #[test]
    fn phone_and_id_numbers_never_reach_the_log() {
        let sql = "SELECT * FROM calls_pii WHERE phone_canonical = '13812345678' OR id_canonical = '42050219800101123X' LIMIT 10";
        let redacted = redact_numbers(sql);
        assert!(!redacted.contains("13812345678") && !redacted.contains("4205021980"), "{redacted}");
        assert!(redacted.contains("<11 digits redacted>") && redacted.contains("<18 digits redacted>"));
        assert!(redacted.ends_with("LIMIT 10"));
        assert_eq!(redact_numbers("WHERE month = '2023-07' AND n > 123456"), "WHERE month = '2023-07' AND n > 123456");
    }
}
