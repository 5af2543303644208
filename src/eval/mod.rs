//! Evaluation against generator truth: identity resolution (pairwise precision, recall, F1 beside
//! the same-phone baseline), leads (planted groups and repeat callers found in the top ten) and
//! hotspots (planted hotspots as categorised). The only code that reads `truth/`; no engine stage
//! imports it.

pub mod hotspots;
pub mod leads;
pub mod resolve;

use std::path::PathBuf;

/// Why an evaluation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// A truth file is missing or malformed.
    #[error("{path}: {message}")]
    Truth {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the line when known.
        message: String,
    },
    /// Reading the warehouse failed.
    #[error(transparent)]
    Sql(#[from] crate::sql::SqlError),
    /// Reading the leads failed.
    #[error(transparent)]
    Link(#[from] crate::link::LinkError),
    /// Running the hotspot analysis failed.
    #[error(transparent)]
    Hotspot(#[from] crate::hotspot::HotspotError),
    /// A table held data of an unexpected shape.
    #[error("unexpected data: {0}")]
    Data(String),
}
