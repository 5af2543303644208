//! The table the scheduler writes: one row per attempt and state change of a scheduled report run.

use super::{Kind, TableDef};

/// One row per attempt and state change of a scheduled run.
pub const REPORT_RUNS: TableDef = TableDef {
    name: "report_runs",
    columns: &[
        ("job", Kind::Text),
        ("report", Kind::Text),
        ("period", Kind::Text),
        ("scheduled_for", Kind::Time),
        ("attempt", Kind::Int),
        ("status", Kind::Text),
        ("started_at", Kind::Time),
        ("finished_at", Kind::Time),
        ("output", Kind::Text),
        ("error", Kind::Text),
        ("host_pid", Kind::Text),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// What the table holds, for `\d` in the SQL shell.
pub fn about(name: &str) -> Option<&'static str> {
    (name == REPORT_RUNS.name)
        .then_some("scheduled report runs: job, period, scheduled instant, attempt, status, output, error")
}
