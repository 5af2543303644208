//! hotline: analytics and repeat-caller intelligence for 110 (police) and 12345 (government service) hotline data.
//!
//! The engine modules (contract, source, generate, figures, demo) know nothing of terminals;
//! [`cli`] is the thin delivery layer that parses arguments and prints.

pub mod catalog;
pub mod city;
pub mod cli;
pub mod contract;
pub mod demo;
pub mod eval;
pub mod figures;
pub mod generate;
pub mod geo;
pub mod hotspot;
pub mod ingest;
pub mod link;
pub mod memory;
pub mod pii;
pub mod pseudonym;
pub mod report;
pub mod resolve;
pub mod schedule;
pub mod serve;
pub mod source;
pub mod sql;
pub mod text;
pub mod warehouse;
