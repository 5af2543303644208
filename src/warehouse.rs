//! The warehouse folder: the marker that makes a folder one, its pseudonymisation key beside it, and the
//! snapshot protocol by which a batch becomes visible all at once or not at all.
//!
//! Layout: `DIR/.snapshots/NNNNNNNN/<table>/...` holds complete, immutable versions of every table;
//! `DIR/current` is a symlink to the newest committed snapshot and `DIR/<table>` a symlink to
//! `current/<table>`. A commit writes a new snapshot (hard-linking files it does not change), makes
//! it durable, and then replaces `current` with one atomic rename. A plain Parquet reader pointed at
//! `DIR/<table>` therefore sees one committed version, never a half-written batch. Sessions hold
//! the snapshot they read (`DIR/.readers/NNNNNNNN.lock`); old snapshots are removed four commits
//! after they stop being current, or by `vacuum`, unless held.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::pseudonym::{KEY_ENV, KeyError, PseudonymKey};

/// Environment variable naming the default warehouse folder.
pub const WAREHOUSE_ENV: &str = "HOTLINE_WAREHOUSE";

/// File that marks a folder as a hotline warehouse and records its layout version.
pub const MARKER: &str = "hotline-warehouse.json";

/// Layout version written by this build.
pub const LAYOUT_VERSION: u32 = 1;

/// Folder of the snapshots.
const SNAPSHOTS: &str = ".snapshots";

/// The warehouse's city profile (TOML), written by `init --city` or inferred by the first ingest.
pub const CITY_PROFILE: &str = "city.toml";

/// Committed snapshots kept besides the current one.
pub const SNAPSHOTS_KEPT: u64 = 4;

/// Folder of the audit log (outside the snapshots: it is appended to, never committed).
pub const AUDIT_DIR: &str = "audit";

/// Folder of the readers' holds on snapshots.
const READERS: &str = ".readers";

/// File of a snapshot holding the time of its commit (seconds since 1970).
const COMMITTED_AT: &str = ".committed_at";

/// File of a snapshot naming the command that committed it.
const COMMITTED_BY: &str = ".committed_by";

/// File of a snapshot listing every data file it holds (path under the snapshot, one a line), so
/// that a reader can tell a damaged snapshot from a smaller one.
pub const MANIFEST: &str = ".files";

/// The symlink to the committed snapshot.
const CURRENT: &str = "current";

/// Folder of a staging snapshot for a commit's temporary files.
const SCRATCH: &str = ".scratch";

/// Errors of warehouse set-up; each names the folder or file.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// File-system failure.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `init` on a folder that already is a warehouse.
    #[error("{0}: already a hotline warehouse")]
    AlreadyInitialised(PathBuf),
    /// `init` on a folder that holds other things.
    #[error("{0}: folder is not empty and is not a hotline warehouse; choose an empty or new folder")]
    NotEmpty(PathBuf),
    /// The key could not be had.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The folder is not a warehouse.
    #[error("{0}: not a hotline warehouse (run `hotline init --warehouse` first)")]
    NotAWarehouse(PathBuf),
    /// The stored city profile does not parse.
    #[error(transparent)]
    City(#[from] crate::city::CityError),
    /// A backup or restore aimed at a folder that holds something.
    #[error("{0}: not empty; a backup or a restore goes to a new or empty folder")]
    TargetNotEmpty(PathBuf),
    /// A snapshot asked for that is not (or no longer) kept.
    #[error("snapshot {id} is not kept here (kept: {kept}); older ones are removed as new commits are made")]
    SnapshotNotKept {
        /// The snapshot asked for.
        id: SnapshotId,
        /// The kept ones, listed.
        kept: String,
    },
    /// A table name that could escape the warehouse or clash with its own files.
    #[error("{0:?} is not a valid table name (lower-case letters, digits and _)")]
    BadTableName(String),
}

/// An opened warehouse.
#[derive(Debug, Clone)]
pub struct Warehouse {
    dir: PathBuf,
}

/// A committed snapshot's number.
pub type SnapshotId = u64;

fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name != CURRENT
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && name.as_bytes()[0].is_ascii_lowercase()
}

/// The error of a file-system call on `path`, for `map_err`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WarehouseError + use<> {
    let path = path.to_owned();
    move |source| WarehouseError::Io { path, source }
}

fn sync_dir(path: &Path) -> Result<(), WarehouseError> {
    fs::File::open(path)
        .and_then(|d| d.sync_all())
        .map_err(|source| WarehouseError::Io { path: path.to_owned(), source })
}

impl Warehouse {
    /// Opens a warehouse folder (reading needs nothing more; writing goes through [`Warehouse::begin`]).
    pub fn open(dir: &Path) -> Result<Warehouse, WarehouseError> {
        if !dir.join(MARKER).exists() {
            return Err(WarehouseError::NotAWarehouse(dir.to_owned()));
        }
        Ok(Warehouse { dir: dir.to_owned() })
    }

    /// The warehouse folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The warehouse's city profile: the stored one; Yichang's for a warehouse that holds calls
    /// ingested before profiles existed; `None` for a new warehouse whose first ingest is to infer it.
    pub fn city_profile(&self) -> Result<Option<crate::city::CityProfile>, WarehouseError> {
        let path = self.dir.join(CITY_PROFILE);
        match fs::read_to_string(&path) {
            Ok(text) => Ok(Some(crate::city::CityProfile::from_toml(&text, &path)?)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(self.current()?.map(|_| crate::city::CityProfile::yichang()))
            }
            Err(source) => Err(WarehouseError::Io { path, source }),
        }
    }

    /// The city profile, or one that knows nothing local when the warehouse has none yet.
    pub fn city_profile_or_empty(&self) -> Result<crate::city::CityProfile, WarehouseError> {
        Ok(self.city_profile()?.unwrap_or_else(|| crate::city::CityProfile::empty("none")))
    }

    /// Stores the city profile (atomically: written beside, synced, renamed).
    pub fn set_city_profile(&self, profile: &crate::city::CityProfile) -> Result<(), WarehouseError> {
        write_atomically(&self.dir.join(CITY_PROFILE), profile.to_toml().as_bytes())?;
        sync_dir(&self.dir)
    }

    /// The committed snapshot, if any commit has happened.
    pub fn current(&self) -> Result<Option<SnapshotId>, WarehouseError> {
        let link = self.dir.join(CURRENT);
        match fs::read_link(&link) {
            Ok(target) => Ok(target.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(WarehouseError::Io { path: link, source }),
        }
    }

    /// Folder of a table in the committed snapshot (through `DIR/<table>`); absent before its first commit.
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.dir.join(table)
    }

    /// The committed snapshots still kept, oldest first, each with the time its commit was made
    /// and its tables.
    pub fn snapshots(&self) -> Result<Vec<SnapshotInfo>, WarehouseError> {
        let Some(current) = self.current()? else { return Ok(Vec::new()) };
        let folder = self.dir.join(SNAPSHOTS);
        let mut out = Vec::new();
        for entry in fs::read_dir(&folder).map_err(io(&folder))? {
            let entry = entry.map_err(io(&folder))?;
            let Some(id) = entry.file_name().to_str().and_then(|n| n.parse::<SnapshotId>().ok()) else { continue };
            if id > current {
                continue;
            }
            let path = entry.path();
            let committed = match committed_at(&path) {
                Some(at) => at,
                None => continue,
            };
            let mut tables: Vec<String> = fs::read_dir(&path)
                .map_err(io(&path))?
                .flatten()
                .filter(|e| e.path().is_dir())
                .filter_map(|e| e.file_name().to_str().map(str::to_owned))
                .filter(|n| valid_table_name(n))
                .collect();
            tables.sort();
            let command = fs::read_to_string(path.join(COMMITTED_BY)).ok().map(|c| c.trim().to_owned());
            out.push(SnapshotInfo { id, committed, command, current: id == current, dir: path, tables });
        }
        out.sort_by_key(|s| s.id);
        Ok(out)
    }

    /// A snapshot to read instead of the current one: `id` when it is committed and still kept.
    pub fn kept_snapshot(&self, id: SnapshotId) -> Result<SnapshotId, WarehouseError> {
        let kept = self.snapshots()?;
        if kept.iter().any(|s| s.id == id) {
            return Ok(id);
        }
        let list: Vec<String> = kept.iter().map(|s| s.id.to_string()).collect();
        let kept = if list.is_empty() { "none".to_owned() } else { list.join(", ") };
        Err(WarehouseError::SnapshotNotKept { id, kept })
    }

    /// The folder of a committed snapshot (readers resolve `current` once and read this folder, so a
    /// commit during a query never mixes two snapshots).
    pub fn snapshot_dir(&self, id: SnapshotId) -> PathBuf {
        self.dir.join(SNAPSHOTS).join(format!("{id:08}"))
    }

    /// Removes staging folders, snapshots newer than `current` and half-made `current` links
    /// (all leftovers of a crash).
    fn clean_up(&self) -> Result<(), WarehouseError> {
        let current = self.current()?.unwrap_or(0);
        let entries =
            fs::read_dir(&self.dir).map_err(|source| WarehouseError::Io { path: self.dir.clone(), source })?;
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(&format!(".{CURRENT}.")) {
                let path = entry.path();
                fs::remove_file(&path).map_err(|source| WarehouseError::Io { path, source })?;
            }
        }
        let snapshots = self.dir.join(SNAPSHOTS);
        let entries = match fs::read_dir(&snapshots) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(WarehouseError::Io { path: snapshots, source }),
        };
        for entry in entries {
            let entry = entry.map_err(|source| WarehouseError::Io { path: snapshots.clone(), source })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = match name.parse::<SnapshotId>() {
                Ok(id) => id > current,
                Err(_) => true,
            };
            if stale {
                let path = entry.path();
                fs::remove_dir_all(&path).map_err(|source| WarehouseError::Io { path, source })?;
            }
        }
        Ok(())
    }

    /// Removes the snapshots the manifest's retention lets go (the one before the current is always
    /// kept, for a reader that resolved `current` just before this commit), except those a reader
    /// holds.
    fn retire_old_snapshots(&self, newest: SnapshotId) -> Result<(), WarehouseError> {
        let retention = self.retention()?;
        self.remove_older(newest, Retention { keep: retention.keep.max(1), ..retention }).map(|_| ())
    }

    /// The retention kept in the manifest (four commits, any age, unless set).
    pub fn retention(&self) -> Result<Retention, WarehouseError> {
        let path = self.dir.join(MARKER);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let manifest: serde_json::Value = serde_json::from_str(&text).map_err(|e| WarehouseError::Io {
            path: path.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        })?;
        match manifest.get("retention") {
            None => Ok(Retention::default()),
            Some(value) => serde_json::from_value(value.clone()).map_err(|e| WarehouseError::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, format!("retention: {e}")),
            }),
        }
    }

    /// Stores a retention in the manifest (it applies from the next commit or vacuum).
    pub fn set_retention(&self, retention: Retention) -> Result<(), WarehouseError> {
        let _lock = self.writer_lock()?;
        let path = self.dir.join(MARKER);
        let text = fs::read_to_string(&path).map_err(io(&path))?;
        let mut manifest: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|_| serde_json::json!({}));
        if !manifest.is_object() {
            manifest = serde_json::json!({});
        }
        manifest["retention"] = serde_json::to_value(retention).unwrap_or_default();
        let mut text = serde_json::to_string_pretty(&manifest).unwrap_or_default();
        text.push('\n');
        write_atomically(&path, text.as_bytes())
    }

    /// Removes the committed snapshots that `retention` (the manifest's, when none is given) lets
    /// go, never the current one and never one a session holds ([`Warehouse::hold`]); waits for a
    /// running commit first.
    pub fn vacuum(&self, retention: Option<Retention>) -> Result<Vacuumed, WarehouseError> {
        let retention = match retention {
            Some(r) => r,
            None => self.retention()?,
        };
        let _lock = self.writer_lock()?;
        self.clean_up()?;
        match self.current()? {
            Some(current) => self.remove_older(current, retention),
            None => Ok(Vacuumed::default()),
        }
    }

    fn remove_older(&self, newest: SnapshotId, retention: Retention) -> Result<Vacuumed, WarehouseError> {
        let keep = retention.keep;
        let mut done = Vacuumed::default();
        let folder = self.dir.join(SNAPSHOTS);
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
            Err(source) => return Err(WarehouseError::Io { path: folder, source }),
        };
        let mut old: Vec<SnapshotId> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<SnapshotId>().ok()))
            .filter(|&id| id < newest.saturating_sub(keep))
            .collect();
        old.sort_unstable();
        if let Some(secs) = retention.older_than_secs {
            // A snapshot was readable as current until the next one was committed.
            let cutoff = std::time::SystemTime::now() - std::time::Duration::from_secs(secs);
            old.retain(|&id| self.superseded_at(id, newest).is_some_and(|at| at < cutoff));
        }
        for id in old {
            if self.held(id) {
                done.held.push(id);
                continue;
            }
            let dir = self.snapshot_dir(id);
            done.bytes += bytes_only_here(&dir);
            // Renamed out of the snapshots' names first: a removal cut off midway must not leave a
            // half snapshot that is still listed and readable by number. The next commit or
            // vacuum removes what is left (`clean_up`).
            let doomed = dir.with_extension("removing");
            fs::rename(&dir, &doomed).map_err(io(&dir))?;
            sync_dir(&self.dir.join(SNAPSHOTS))?;
            fs::remove_dir_all(&doomed).map_err(io(&doomed))?;
            let _ = fs::remove_file(self.hold_file(id));
            done.removed.push(id);
        }
        Ok(done)
    }

    /// When a snapshot stopped being current: the commit time of the next snapshot kept, up to `newest`.
    fn superseded_at(&self, id: SnapshotId, newest: SnapshotId) -> Option<std::time::SystemTime> {
        (id + 1..=newest).find_map(|next| committed_at(&self.snapshot_dir(next)))
    }

    /// Copies the current snapshot, held while it is copied (so commits may go on meanwhile), to
    /// `to` as a warehouse of its own: that snapshot under the same number, the marker and the
    /// city profile, and the audit log as it stands; never the key (keep it apart: the backup's
    /// pseudonyms are that key's). `to` must not exist or be empty. Returns the snapshot copied.
    pub fn backup(&self, to: &Path) -> Result<SnapshotId, WarehouseError> {
        let id = self.current()?.ok_or_else(|| WarehouseError::SnapshotNotKept { id: 0, kept: "none".into() })?;
        let _hold = self.hold(id);
        copy_snapshot(&self.dir, &self.snapshot_dir(id), id, to)?;
        Ok(id)
    }

    /// A reader's hold on a snapshot (a shared lock on `DIR/.readers/NNNNNNNN.lock`): while it
    /// lives, neither a commit nor [`Warehouse::vacuum`] removes that snapshot. A reader that may
    /// not write in the warehouse folder gets no hold, and reads as before (a snapshot is kept
    /// four commits after it stops being current).
    pub fn hold(&self, id: SnapshotId) -> SnapshotHold {
        let path = self.hold_file(id);
        let file = path
            .parent()
            .and_then(|dir| fs::create_dir_all(dir).ok())
            .and_then(|_| fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path).ok())
            .filter(|file| file.lock_shared().is_ok());
        SnapshotHold { _file: file }
    }

    fn hold_file(&self, id: SnapshotId) -> PathBuf {
        self.dir.join(READERS).join(format!("{id:08}.lock"))
    }

    /// Whether a reader holds a snapshot.
    fn held(&self, id: SnapshotId) -> bool {
        match fs::OpenOptions::new().write(true).open(self.hold_file(id)) {
            Ok(file) => matches!(file.try_lock(), Err(fs::TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }

    /// The writers' lock (`DIR/.lock`), waited for.
    fn writer_lock(&self) -> Result<fs::File, WarehouseError> {
        let lock_path = self.dir.join(".lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| WarehouseError::Io { path: lock_path.clone(), source })?;
        lock.lock().map_err(|source| WarehouseError::Io { path: lock_path, source })?;
        Ok(lock)
    }

    /// Starts a commit based on the current snapshot. Only one commit runs at a time (an exclusive
    /// lock on `DIR/.lock`, held until the commit ends, waits for any other); leftovers of a crashed
    /// commit are removed first.
    pub fn begin(&self) -> Result<Commit<'_>, WarehouseError> {
        let lock = self.writer_lock()?;
        self.clean_up()?;
        let base = self.current()?;
        let id = base.unwrap_or(0) + 1;
        let staging = self.dir.join(SNAPSHOTS).join(format!("{id:08}.staging"));
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(|source| WarehouseError::Io { path: staging.clone(), source })?;
        }
        fs::create_dir_all(&staging).map_err(|source| WarehouseError::Io { path: staging.clone(), source })?;
        Ok(Commit { warehouse: self, id, base, staging, command: None, committed: false, _lock: lock })
    }
}

/// Brings a backup ([`Warehouse::backup`]) back as the warehouse `to` (which must not exist or be
/// empty), reading only its committed snapshot. Returns that snapshot's number.
pub fn restore(backup: &Path, to: &Path) -> Result<SnapshotId, WarehouseError> {
    let from = Warehouse::open(backup)?;
    let id = from.current()?.ok_or_else(|| WarehouseError::SnapshotNotKept { id: 0, kept: "none".into() })?;
    copy_snapshot(backup, &from.snapshot_dir(id), id, to)?;
    Ok(id)
}

/// Lays out `to` as a warehouse whose one snapshot, `id`, is a copy of `snapshot`, with the
/// marker, city profile and audit log of the warehouse `from`. Every file is synced before the
/// copy takes the name `to`, so a copy cut off midway is no warehouse at all, and the same copy
/// made again succeeds.
fn copy_snapshot(from: &Path, snapshot: &Path, id: SnapshotId, to: &Path) -> Result<(), WarehouseError> {
    if to.exists() && fs::read_dir(to).map_err(io(to))?.next().is_some() {
        return Err(WarehouseError::TargetNotEmpty(to.to_owned()));
    }
    if !snapshot.is_dir() {
        return Err(WarehouseError::SnapshotNotKept { id, kept: "none".into() });
    }
    // Laid out in a hidden folder beside `to` and renamed into place whole: a copy cut off midway
    // leaves only that folder, which the next backup or restore to `to` starts by removing.
    let name = to.file_name().ok_or_else(|| WarehouseError::TargetNotEmpty(to.to_owned()))?;
    let parent = to.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let partial = parent.join(format!(".{}.partial", name.to_string_lossy()));
    if partial.exists() {
        fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    lay_out_copy(from, snapshot, id, &partial)?;
    if to.exists() {
        fs::remove_dir(to).map_err(io(to))?;
    }
    fs::rename(&partial, to).map_err(io(to))?;
    sync_dir(parent)
}

/// Writes the copy [`copy_snapshot`] makes into the new folder `to`.
fn lay_out_copy(from: &Path, snapshot: &Path, id: SnapshotId, to: &Path) -> Result<(), WarehouseError> {
    let target = to.join(SNAPSHOTS).join(format!("{id:08}"));
    let mut stack = vec![(snapshot.to_owned(), target.clone())];
    let mut tables = Vec::new();
    while let Some((source, dest)) = stack.pop() {
        fs::create_dir_all(&dest).map_err(io(&dest))?;
        // A restricted table's folder stays as closed as it was (0700).
        let mode = fs::metadata(&source).map_err(io(&source))?.permissions();
        fs::set_permissions(&dest, mode).map_err(io(&dest))?;
        for entry in fs::read_dir(&source).map_err(io(&source))? {
            let entry = entry.map_err(io(&source))?;
            let path = entry.path();
            let copy = dest.join(entry.file_name());
            if path.is_dir() {
                if source == snapshot {
                    tables.push(entry.file_name().to_string_lossy().into_owned());
                }
                stack.push((path, copy));
            } else {
                fs::copy(&path, &copy).map_err(io(&path))?;
                fs::File::open(&copy).and_then(|f| f.sync_all()).map_err(io(&copy))?;
            }
        }
        sync_dir(&dest)?;
    }
    for name in [CITY_PROFILE, AUDIT_DIR] {
        let path = from.join(name);
        if path.is_file() {
            fs::copy(&path, to.join(name)).map_err(io(&path))?;
        } else if path.is_dir() {
            let dest = to.join(name);
            fs::create_dir_all(&dest).map_err(io(&dest))?;
            for entry in fs::read_dir(&path).map_err(io(&path))?.flatten() {
                if entry.path().is_file() {
                    fs::copy(entry.path(), dest.join(entry.file_name())).map_err(io(&entry.path()))?;
                }
            }
        }
    }
    std::os::unix::fs::symlink(Path::new(SNAPSHOTS).join(format!("{id:08}")), to.join(CURRENT))
        .map_err(io(&to.join(CURRENT)))?;
    for table in tables.iter().filter(|t| valid_table_name(t)) {
        std::os::unix::fs::symlink(Path::new(CURRENT).join(table), to.join(table)).map_err(io(&to.join(table)))?;
    }
    sync_dir(to)?;
    // The marker last: until it is there, the copy is not a warehouse.
    fs::copy(from.join(MARKER), to.join(MARKER)).map_err(io(&from.join(MARKER)))?;
    sync_dir(to)
}

/// Bytes of the files under `dir` that no other snapshot shares (a file a later snapshot kept is
/// a hard link, freed only with its last name).
fn bytes_only_here(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut bytes = 0;
    let mut folders = vec![dir.to_owned()];
    while let Some(folder) = folders.pop() {
        for entry in fs::read_dir(&folder).into_iter().flatten().flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            if meta.is_dir() {
                folders.push(entry.path());
            } else if meta.nlink() == 1 {
                bytes += meta.len();
            }
        }
    }
    bytes
}

/// How long superseded snapshots are kept, from the warehouse's manifest: a snapshot goes once it
/// is more than `keep` commits older than the current one and, when `older_than` is set, was
/// superseded longer ago than that (so "what could be read on day D" stays answerable for that
/// long). Commits retire snapshots by it; `vacuum` by it or by its own settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    /// Snapshots kept before the current one, whatever their age.
    pub keep: SnapshotId,
    /// Seconds a superseded snapshot is kept at least (none: age does not matter).
    #[serde(default)]
    pub older_than_secs: Option<u64>,
}

impl Default for Retention {
    fn default() -> Retention {
        Retention { keep: SNAPSHOTS_KEPT, older_than_secs: None }
    }
}

/// What [`Warehouse::vacuum`] did.
#[derive(Debug, Default)]
pub struct Vacuumed {
    /// Snapshots removed.
    pub removed: Vec<SnapshotId>,
    /// Snapshots old enough to go but held by a reader, left.
    pub held: Vec<SnapshotId>,
    /// Bytes freed.
    pub bytes: u64,
}

/// A reader's hold on a snapshot (see [`Warehouse::hold`]); released when dropped.
#[derive(Debug)]
pub struct SnapshotHold {
    _file: Option<fs::File>,
}

/// A committed snapshot still kept.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// Its number.
    pub id: SnapshotId,
    /// When its commit was made.
    pub committed: std::time::SystemTime,
    /// The command that made it (none for snapshots of older builds).
    pub command: Option<String>,
    /// Whether it is the current one.
    pub current: bool,
    /// Its folder.
    pub dir: PathBuf,
    /// Its tables' names.
    pub tables: Vec<String>,
}

impl SnapshotInfo {
    /// Rows of a table in this snapshot, from its Parquet files' footers (0 for a table it lacks).
    pub fn rows(&self, table: &str) -> Result<u64, WarehouseError> {
        use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
        let mut rows = 0u64;
        let mut folders = vec![self.dir.join(table)];
        while let Some(folder) = folders.pop() {
            let entries = match fs::read_dir(&folder) {
                Ok(entries) => entries,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(WarehouseError::Io { path: folder, source }),
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "parquet") {
                    let file =
                        fs::File::open(&path).map_err(|source| WarehouseError::Io { path: path.clone(), source })?;
                    let reader = SerializedFileReader::new(file).map_err(|e| WarehouseError::Io {
                        path: path.clone(),
                        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
                    })?;
                    rows += reader.metadata().file_metadata().num_rows().max(0) as u64;
                }
            }
        }
        Ok(rows)
    }
}

/// A snapshot being written; dropped without [`Commit::commit`], it leaves nothing visible.
#[derive(Debug)]
pub struct Commit<'a> {
    warehouse: &'a Warehouse,
    id: SnapshotId,
    base: Option<SnapshotId>,
    staging: PathBuf,
    command: Option<String>,
    committed: bool,
    _lock: fs::File,
}

impl Commit<'_> {
    /// The snapshot number this commit will have.
    pub fn id(&self) -> SnapshotId {
        self.id
    }

    /// Folder to write a table's new files into (created on demand).
    pub fn table_dir(&self, table: &str) -> Result<PathBuf, WarehouseError> {
        if !valid_table_name(table) {
            return Err(WarehouseError::BadTableName(table.to_owned()));
        }
        let dir = self.staging.join(table);
        fs::create_dir_all(&dir).map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// The base snapshot's folder of a table (what readers see now), if that snapshot has one.
    pub fn base_table_dir(&self, table: &str) -> Option<PathBuf> {
        let dir = self.warehouse.snapshot_dir(self.base?).join(table);
        (valid_table_name(table) && dir.is_dir()).then_some(dir)
    }

    /// A private folder for this commit's temporary files (spilled rows); it is removed before the
    /// commit and, like the rest of the staging snapshot, after a crash.
    pub fn scratch_dir(&self) -> Result<PathBuf, WarehouseError> {
        let dir = self.staging.join(SCRATCH);
        fs::create_dir_all(&dir).map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// Carries files of the base snapshot's table into this one unchanged (hard links, no copy),
    /// except those for which `replace` says true (relative paths inside the table folder).
    pub fn keep(&self, table: &str, replace: impl Fn(&Path) -> bool) -> Result<u64, WarehouseError> {
        let Some(base) = self.base else { return Ok(0) };
        let from = self.warehouse.snapshot_dir(base).join(table);
        if !from.exists() {
            return Ok(0);
        }
        let to = self.table_dir(table)?;
        let mut kept = 0;
        let mut stack = vec![from.clone()];
        let mut folders = Vec::new();
        while let Some(dir) = stack.pop() {
            folders.push(dir.clone());
            let entries = fs::read_dir(&dir).map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
            for entry in entries {
                let entry = entry.map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
                let path = entry.path();
                let relative = path.strip_prefix(&from).unwrap_or(&path).to_owned();
                if path.is_dir() {
                    stack.push(path);
                } else if !replace(&relative) {
                    let target = to.join(&relative);
                    if let Some(parent) = target.parent() {
                        fs::create_dir_all(parent)
                            .map_err(|source| WarehouseError::Io { path: parent.to_owned(), source })?;
                    }
                    fs::hard_link(&path, &target)
                        .map_err(|source| WarehouseError::Io { path: target.clone(), source })?;
                    kept += 1;
                }
            }
        }
        // Folders keep their modes: a restricted table's stays 0700 in every later snapshot.
        for dir in folders {
            let target = to.join(dir.strip_prefix(&from).unwrap_or(&dir));
            if target.is_dir() {
                let mode = fs::metadata(&dir).map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
                fs::set_permissions(&target, mode.permissions())
                    .map_err(|source| WarehouseError::Io { path: target.clone(), source })?;
            }
        }
        Ok(kept)
    }

    /// Names the command making this commit (`ingest`, `resolve` …), for `hotline warehouse snapshots`.
    pub fn by(mut self, command: &str) -> Self {
        self.command = Some(command.to_owned());
        self
    }

    /// Makes the snapshot durable and visible in one atomic step; returns its id.
    pub fn commit(mut self) -> Result<SnapshotId, WarehouseError> {
        // 0. Temporary files are not part of the snapshot.
        let scratch = self.staging.join(SCRATCH);
        if scratch.exists() {
            fs::remove_dir_all(&scratch).map_err(|source| WarehouseError::Io { path: scratch.clone(), source })?;
        }
        // 0b. A table this commit did not write is carried over as it was: a stage writes its own
        // tables and never makes another stage's disappear.
        if let Some(base) = self.base {
            let base_dir = self.warehouse.snapshot_dir(base);
            let entries =
                fs::read_dir(&base_dir).map_err(|source| WarehouseError::Io { path: base_dir.clone(), source })?;
            for entry in entries {
                let entry = entry.map_err(|source| WarehouseError::Io { path: base_dir.clone(), source })?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.path().is_dir() && valid_table_name(&name) && !self.staging.join(&name).exists() {
                    self.keep(&name, |_| false)?;
                }
            }
        }
        // 0c. When it was committed, for `hotline warehouse snapshots` (a copied folder loses its times).
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let stamp = self.staging.join(COMMITTED_AT);
        fs::write(&stamp, now.to_string()).map_err(|source| WarehouseError::Io { path: stamp, source })?;
        if let Some(command) = &self.command {
            let by = self.staging.join(COMMITTED_BY);
            fs::write(&by, command).map_err(io(&by))?;
        }
        // 1. Every file and folder of the staging snapshot reaches the disk, and the manifest
        // lists its data files.
        let mut stack = vec![self.staging.clone()];
        let mut tables = Vec::new();
        let mut files: Vec<String> = Vec::new();
        while let Some(dir) = stack.pop() {
            let entries = fs::read_dir(&dir).map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
            for entry in entries {
                let entry = entry.map_err(|source| WarehouseError::Io { path: dir.clone(), source })?;
                let path = entry.path();
                if path.is_dir() {
                    if dir == self.staging {
                        tables.push(entry.file_name().to_string_lossy().into_owned());
                    }
                    stack.push(path);
                } else {
                    if dir != self.staging
                        && let Ok(relative) = path.strip_prefix(&self.staging)
                    {
                        files.push(relative.to_string_lossy().into_owned());
                    }
                    fs::File::open(&path)
                        .and_then(|f| f.sync_all())
                        .map_err(|source| WarehouseError::Io { path, source })?;
                }
            }
            sync_dir(&dir)?;
        }
        files.sort_unstable();
        let manifest = self.staging.join(MANIFEST);
        let mut listed = files.join("\n");
        listed.push('\n');
        fs::write(&manifest, listed)
            .and_then(|()| fs::File::open(&manifest)?.sync_all())
            .map_err(|source| WarehouseError::Io { path: manifest.clone(), source })?;
        sync_dir(&self.staging)?;
        // 2. The staging folder takes its final name.
        let final_dir = self.warehouse.snapshot_dir(self.id);
        fs::rename(&self.staging, &final_dir)
            .map_err(|source| WarehouseError::Io { path: final_dir.clone(), source })?;
        let snapshots = self.warehouse.dir.join(SNAPSHOTS);
        sync_dir(&snapshots)?;
        // 3. One rename switches `current`: the commit point.
        let dir = &self.warehouse.dir;
        let link = dir.join(CURRENT);
        let temporary = dir.join(format!(".{CURRENT}.{}", self.id));
        let _ = fs::remove_file(&temporary);
        let target = Path::new(SNAPSHOTS).join(format!("{:08}", self.id));
        std::os::unix::fs::symlink(&target, &temporary)
            .map_err(|source| WarehouseError::Io { path: temporary.clone(), source })?;
        fs::rename(&temporary, &link).map_err(|source| WarehouseError::Io { path: link.clone(), source })?;
        // 4. Each table is reachable at DIR/<table> through `current`.
        for table in &tables {
            let table_link = dir.join(table);
            if fs::symlink_metadata(&table_link).is_err() {
                std::os::unix::fs::symlink(Path::new(CURRENT).join(table), &table_link)
                    .map_err(|source| WarehouseError::Io { path: table_link.clone(), source })?;
            }
        }
        sync_dir(dir)?;
        self.committed = true;
        self.warehouse.retire_old_snapshots(self.id)?;
        Ok(self.id)
    }
}

impl Drop for Commit<'_> {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.staging);
        }
    }
}

/// Where the pseudonymisation key of a warehouse came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The `HOTLINE_KEY` environment variable.
    Environment,
    /// A key file created by `init`.
    NewFile(PathBuf),
    /// A key file that was already there (kept, so earlier pseudonyms still match).
    ExistingFile(PathBuf),
}

/// When a snapshot folder was committed: its stamp, or for snapshots committed before the time was
/// written down the folder's own time; none when the folder is gone.
/// The data files a snapshot's manifest lists that are missing or not files, in manifest order;
/// empty for a whole snapshot or one committed before snapshots had manifests.
pub fn missing_files(snapshot: &Path) -> Vec<String> {
    let Ok(listed) = fs::read_to_string(snapshot.join(MANIFEST)) else { return Vec::new() };
    listed.lines().filter(|l| !l.is_empty() && !snapshot.join(l).is_file()).map(str::to_owned).collect()
}

fn committed_at(snapshot: &Path) -> Option<std::time::SystemTime> {
    let stamped = fs::read_to_string(snapshot.join(COMMITTED_AT)).ok().and_then(|t| t.trim().parse::<u64>().ok());
    match stamped {
        Some(seconds) => Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds)),
        None => fs::metadata(snapshot).and_then(|m| m.modified()).ok(),
    }
}

/// Writes a file whole or not at all: a staging file beside it, synced, then renamed over it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WarehouseError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let staging = path.with_file_name(format!(".{name}.tmp"));
    let io = |p: &Path| {
        let p = p.to_owned();
        move |source| WarehouseError::Io { path: p, source }
    };
    let mut file = fs::File::create(&staging).map_err(io(&staging))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(io(&staging))?;
    fs::rename(&staging, path).map_err(io(path))
}

/// The key file of a warehouse: beside the folder, outside the Parquet data (`/data/wh` → `/data/wh.key`).
pub fn key_file_for(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "warehouse".into());
    name.push(".key");
    dir.with_file_name(name)
}

/// Lays out a new warehouse and makes sure it has a key; returns where the key came from.
pub fn init(dir: &Path) -> Result<KeySource, WarehouseError> {
    if dir.join(MARKER).exists() {
        return Err(WarehouseError::AlreadyInitialised(dir.to_owned()));
    }
    if dir.exists() && fs::read_dir(dir).map_err(io(dir))?.next().is_some() {
        return Err(WarehouseError::NotEmpty(dir.to_owned()));
    }
    let key_file = key_file_for(dir);
    let source = if std::env::var(KEY_ENV).is_ok_and(|k| !k.trim().is_empty()) {
        PseudonymKey::resolve(&key_file)?;
        KeySource::Environment
    } else if key_file.exists() {
        PseudonymKey::load(&key_file)?;
        KeySource::ExistingFile(key_file)
    } else {
        if let Some(parent) = key_file.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io(parent))?;
        }
        PseudonymKey::create_file(&key_file)?;
        KeySource::NewFile(key_file)
    };
    fs::create_dir_all(dir).map_err(io(dir))?;
    let marker = dir.join(MARKER);
    let staging = dir.join(format!(".{MARKER}.tmp"));
    let text = format!("{{\"format\": \"hotline-warehouse\", \"layout_version\": {LAYOUT_VERSION}}}\n");
    let mut file = fs::File::create(&staging).map_err(io(&staging))?;
    file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io(&staging))?;
    fs::rename(&staging, &marker).map_err(io(&marker))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
    Ok(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(name: &str) -> Warehouse {
        let root = std::env::temp_dir().join(format!("hotline-wh-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        let dir = root.join("wh");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(MARKER), "{}").unwrap();
        Warehouse::open(&dir).unwrap()
    }

    fn write(commit: &Commit<'_>, table: &str, file: &str, text: &str) {
        let path = commit.table_dir(table).unwrap().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn the_key_file_sits_beside_the_folder() {
        assert_eq!(key_file_for(Path::new("/data/wh")), PathBuf::from("/data/wh.key"));
        assert_eq!(key_file_for(Path::new("warehouse")), PathBuf::from("warehouse.key"));
    }

    #[test]
    fn a_commit_becomes_visible_at_once_and_an_abandoned_one_never() {
        let wh = fresh("visible");
        assert_eq!(wh.current().unwrap(), None);
        let commit = wh.begin().unwrap();
        write(&commit, "calls", "month=2023-07/part-0.parquet", "v1-july");
        write(&commit, "calls", "month=2023-08/part-0.parquet", "v1-august");
        assert!(!wh.table_dir("calls").exists(), "nothing visible before the commit");
        assert_eq!(commit.commit().unwrap(), 1);
        assert_eq!(fs::read_to_string(wh.table_dir("calls").join("month=2023-07/part-0.parquet")).unwrap(), "v1-july");

        let abandoned = wh.begin().unwrap();
        write(&abandoned, "calls", "month=2023-07/part-0.parquet", "v2-july");
        drop(abandoned);
        assert_eq!(wh.current().unwrap(), Some(1));
        assert_eq!(fs::read_to_string(wh.table_dir("calls").join("month=2023-07/part-0.parquet")).unwrap(), "v1-july");

        // A later commit replaces one partition and keeps the other without copying it.
        let commit = wh.begin().unwrap();
        assert_eq!(commit.keep("calls", |p| p.starts_with("month=2023-07")).unwrap(), 1);
        write(&commit, "calls", "month=2023-07/part-0.parquet", "v2-july");
        assert_eq!(commit.commit().unwrap(), 2);
        let calls = wh.table_dir("calls");
        assert_eq!(fs::read_to_string(calls.join("month=2023-07/part-0.parquet")).unwrap(), "v2-july");
        assert_eq!(fs::read_to_string(calls.join("month=2023-08/part-0.parquet")).unwrap(), "v1-august");
        assert!(matches!(wh.begin().unwrap().table_dir("../escape"), Err(WarehouseError::BadTableName(_))));
    }

    #[test]
    fn leftovers_of_a_crashed_commit_are_removed_and_never_read() {
        let wh = fresh("leftovers");
        let commit = wh.begin().unwrap();
        write(&commit, "calls", "a.parquet", "good");
        commit.commit().unwrap();
        // A crash after the snapshot was renamed but before `current` moved, and one mid-staging.
        let orphan = wh.dir().join(SNAPSHOTS).join("00000002");
        fs::create_dir_all(orphan.join("calls")).unwrap();
        fs::write(orphan.join("calls/a.parquet"), "half").unwrap();
        fs::create_dir_all(wh.dir().join(SNAPSHOTS).join("00000003.staging")).unwrap();
        assert_eq!(fs::read_to_string(wh.table_dir("calls").join("a.parquet")).unwrap(), "good");
        let next = wh.begin().unwrap();
        assert!(!orphan.exists());
        assert!(!wh.dir().join(SNAPSHOTS).join("00000003.staging").exists());
        assert_eq!(next.commit().unwrap(), 2);
    }

    #[test]
    fn kept_snapshots_are_listed_and_only_they_can_be_read() {
        let wh = fresh("listed");
        assert!(wh.snapshots().unwrap().is_empty());
        assert!(matches!(wh.kept_snapshot(1), Err(WarehouseError::SnapshotNotKept { .. })));
        for i in 0..7 {
            let commit = wh.begin().unwrap();
            write(&commit, "t", "x", &i.to_string());
            commit.commit().unwrap();
        }
        let listed = wh.snapshots().unwrap();
        let ids: Vec<SnapshotId> = listed.iter().map(|s| s.id).collect();
        assert_eq!(ids, vec![3, 4, 5, 6, 7]);
        assert!(listed.last().unwrap().current && listed.iter().filter(|s| s.current).count() == 1);
        assert_eq!(listed[0].tables, vec!["t".to_owned()]);
        let age = std::time::SystemTime::now().duration_since(listed[0].committed).unwrap();
        assert!(age.as_secs() < 600, "committed {age:?} ago");
        assert_eq!(fs::read_to_string(wh.snapshot_dir(wh.kept_snapshot(3).unwrap()).join("t/x")).unwrap(), "2");
        let error = wh.kept_snapshot(2).unwrap_err().to_string();
        assert!(error.contains("snapshot 2 is not kept") && error.contains("3, 4, 5, 6, 7"), "{error}");
        assert!(wh.kept_snapshot(8).is_err(), "a snapshot not yet committed");
    }

    #[test]
    fn a_held_snapshot_outlives_its_retirement_and_vacuum_frees_the_rest_but_never_the_current() {
        let wh = fresh("vacuum");
        let commit_one = |i: u64| {
            let commit = wh.begin().unwrap();
            // A file of its own each time, and one every snapshot shares (hard-linked).
            write(&commit, "t", "x", &"x".repeat(1000 + i as usize));
            if i == 0 {
                write(&commit, "s", "shared", "same");
            }
            commit.commit().unwrap()
        };
        for i in 0..8 {
            commit_one(i);
        }
        let hold = wh.hold(4);
        for i in 8..11 {
            commit_one(i);
        }
        let ids = |wh: &Warehouse| wh.snapshots().unwrap().iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(&wh), vec![4, 7, 8, 9, 10, 11], "snapshot 4 is held past its retirement");
        assert_eq!(fs::read_to_string(wh.snapshot_dir(4).join("t/x")).unwrap().len(), 1003);
        let vacuumed = wh.vacuum(Some(Retention { keep: 2, older_than_secs: None })).unwrap();
        assert_eq!((vacuumed.removed, vacuumed.held), (vec![7, 8], vec![4]));
        // Their own files and commit stamps; the shared file, still linked from later snapshots, is not freed.
        assert!((1006 + 1007..1006 + 1007 + 64).contains(&vacuumed.bytes), "{} bytes", vacuumed.bytes);
        drop(hold);
        let vacuumed = wh.vacuum(Some(Retention { keep: 0, older_than_secs: None })).unwrap();
        assert_eq!(vacuumed.removed, vec![4, 9, 10]);
        assert_eq!(ids(&wh), vec![11]);
        assert_eq!(fs::read_to_string(wh.table_dir("s").join("shared")).unwrap(), "same");
        assert_eq!(fs::read_to_string(wh.table_dir("t").join("x")).unwrap().len(), 1010);
    }

    #[test]
    fn retention_by_age_keeps_what_was_readable_within_the_period_and_lives_in_the_manifest() {
        let wh = fresh("retention");
        let day = 86_400u64;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        // Six commits made 100, 80, 60, 40, 20 and 0 days ago (their stamps set back).
        for i in 0..6u64 {
            let commit = wh.begin().unwrap();
            write(&commit, "t", "x", &i.to_string());
            let id = commit.commit().unwrap();
            fs::write(wh.snapshot_dir(id).join(COMMITTED_AT), (now - (100 - 20 * i) * day).to_string()).unwrap();
        }
        assert_eq!(wh.retention().unwrap(), Retention::default());
        let ids = |wh: &Warehouse| wh.snapshots().unwrap().iter().map(|s| s.id).collect::<Vec<_>>();
        assert_eq!(ids(&wh), vec![2, 3, 4, 5, 6], "four kept before the current one by default");
        // 50 days: snapshot 3 was current until 40 days ago (when 4 came) and stays; 2 gave way 60
        // days ago and goes, though only 1 commit is to be kept whatever the age.
        let fifty = Retention { keep: 1, older_than_secs: Some(50 * day) };
        let vacuumed = wh.vacuum(Some(fifty)).unwrap();
        assert_eq!(vacuumed.removed, vec![2]);
        assert_eq!(ids(&wh), vec![3, 4, 5, 6]);
        // Stored in the manifest, the policy governs later commits: 3 (current until 40 days ago)
        // ages out, 4 (until 20 days ago) stays, and the marker still marks a warehouse.
        wh.set_retention(Retention { keep: 1, older_than_secs: Some(30 * day) }).unwrap();
        assert_eq!(wh.retention().unwrap().older_than_secs, Some(30 * day));
        let commit = wh.begin().unwrap();
        write(&commit, "t", "x", "7");
        commit.commit().unwrap();
        assert_eq!(ids(&wh), vec![4, 5, 6, 7]);
        assert!(Warehouse::open(wh.dir()).is_ok());
        assert_eq!(fs::read_to_string(wh.table_dir("t").join("x")).unwrap(), "7");
    }

    #[test]
    fn a_backup_is_a_warehouse_of_the_current_snapshot_and_restores_as_it_was() {
        let wh = fresh("backup");
        for i in 0..3 {
            let commit = wh.begin().unwrap();
            write(&commit, "t", "x", &i.to_string());
            if i == 0 {
                use std::os::unix::fs::PermissionsExt;
                write(&commit, "secret", "y", "raw");
                let folder = commit.table_dir("secret").unwrap();
                fs::set_permissions(&folder, fs::Permissions::from_mode(0o700)).unwrap();
            }
            commit.commit().unwrap();
        }
        let backup = wh.dir().parent().unwrap().join("backup");
        assert_eq!(wh.backup(&backup).unwrap(), 3);
        assert!(matches!(wh.backup(&backup), Err(WarehouseError::TargetNotEmpty(_))), "never over another folder");
        let copy = Warehouse::open(&backup).unwrap();
        assert_eq!(copy.current().unwrap(), Some(3));
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&wh.snapshot_dir(3).join("secret")), 0o700, "carried over closed, two commits on");
        assert_eq!(mode(&copy.snapshot_dir(3).join("secret")), 0o700, "a restricted folder stays closed");
        assert_eq!(fs::read_to_string(copy.table_dir("t").join("x")).unwrap(), "2");
        let restored = wh.dir().parent().unwrap().join("restored");
        assert_eq!(restore(&backup, &restored).unwrap(), 3);
        let back = Warehouse::open(&restored).unwrap();
        assert_eq!(fs::read_to_string(back.table_dir("t").join("x")).unwrap(), "2");
        // The restored warehouse takes commits on top of the snapshot it came back as.
        let commit = back.begin().unwrap();
        write(&commit, "t", "x", "3");
        assert_eq!(commit.commit().unwrap(), 4);
    }

    #[test]
    fn old_snapshots_are_retired_but_recent_ones_kept_for_running_readers() {
        let wh = fresh("retire");
        for i in 0..10 {
            let commit = wh.begin().unwrap();
            write(&commit, "t", "x", &i.to_string());
            commit.commit().unwrap();
        }
        let kept = fs::read_dir(wh.dir().join(SNAPSHOTS)).unwrap().count() as u64;
        assert_eq!(kept, SNAPSHOTS_KEPT + 1);
        assert_eq!(fs::read_to_string(wh.table_dir("t").join("x")).unwrap(), "9");
    }
}
