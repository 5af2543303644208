//! The integration test binary, organised by area (one module per area, helpers in `util`).

mod util;

mod architecture;
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
mod fuzz;
mod generate;
mod hotspot;
mod ingest;
mod link;
mod pg;
mod privacy;
mod report;
mod resolve;
mod schedule;
mod serve;
mod source;
mod sql;
mod warehouse;
