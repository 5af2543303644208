//! The audit log: one JSON line per query (who, as which role, what, how it ended), appended to
//! `DIR/audit/queries.jsonl` in the warehouse and readable by SQL as `audit_log` (investigator role).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use super::{Role, SqlError};

/// Folder of the audit log inside the warehouse.
pub const AUDIT_DIR: &str = crate::warehouse::AUDIT_DIR;

/// File of the audit log inside [`AUDIT_DIR`].
pub const AUDIT_FILE: &str = "queries.jsonl";

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

/// An open audit log; a session that cannot write it runs no query.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: Mutex<File>,
    /// The same open file, synced outside the lock.
    sync: File,
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
    /// Opens (creating if needed) the audit log of a warehouse for appending.
    pub fn open(warehouse: &Path, role: Role) -> Result<AuditLog, SqlError> {
        let dir = warehouse.join(AUDIT_DIR);
        let io = |path: &Path, e: std::io::Error| SqlError::Audit(format!("{}: {e}", path.display()));
        fs::create_dir_all(&dir).map_err(|e| io(&dir, e))?;
        let path = dir.join(AUDIT_FILE);
        let file = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| io(&path, e))?;
        let sync = file.try_clone().map_err(|e| io(&path, e))?;
        Ok(AuditLog { path, file: Mutex::new(file), sync, os_user: os_user(), role })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
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
        let record = AuditRecord {
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
        };
        let mut line = serde_json::to_string(&record).map_err(|e| SqlError::Audit(e.to_string()))?;
        line.push('\n');
        let failed = |e: std::io::Error| SqlError::Audit(format!("{}: {e}", self.path.display()));
        {
            let mut file = self.file.lock().map_err(|_| SqlError::Audit("the audit log lock is poisoned".into()))?;
            // One write of the whole line on a file opened for appending: concurrent sessions never interleave.
            file.write_all(line.as_bytes()).map_err(failed)?;
        }
        // Synced before returning, but outside the lock: a server's requests do not queue behind
        // one another's disk flushes (one flush covers every line written before it).
        self.sync.sync_data().map_err(failed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
