//! The warehouse folder: where it is, the marker that makes a folder one, and its pseudonymisation key beside it.

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

/// The key file of a warehouse: beside the folder, outside the Parquet data (`/data/wh` → `/data/wh.key`).
pub fn key_file_for(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().map(|n| n.to_os_string()).unwrap_or_else(|| "warehouse".into());
    name.push(".key");
    dir.with_file_name(name)
}

/// Lays out a new warehouse and makes sure it has a key; returns where the key came from.
pub fn init(dir: &Path) -> Result<KeySource, WarehouseError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| WarehouseError::Io { path, source }
    };
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

    #[test]
    fn the_key_file_sits_beside_the_folder() {
        assert_eq!(key_file_for(Path::new("/data/wh")), PathBuf::from("/data/wh.key"));
        assert_eq!(key_file_for(Path::new("warehouse")), PathBuf::from("warehouse.key"));
    }
}
