//! The tables ingest writes: calls and their restricted personal data, work orders, quarantine and the batch manifest.

use super::{Kind, TableDef};

use Kind::{Bool, Float, Int, Text, Time};

/// Analyst-visible calls: pseudonymised, no raw phone, ID or name. A counterparty that is a person
/// is masked, and so are names and long numbers in the narrative (the raw words are in
/// `calls_pii`). `district_key`, `counterparty_kind` and `counterparty_key` are the normalised
/// forms every later stage reads; rows ingested before they existed hold nulls there.
pub const CALLS: TableDef = TableDef {
    name: "calls",
    columns: &[
        ("call_id", Text),
        ("platform", Text),
        ("received_at", Time),
        ("phone_key", Text),
        ("id_key", Text),
        ("name_masked", Text),
        ("address", Text),
        ("district", Text),
        ("grid_id", Text),
        ("lon", Float),
        ("lat", Float),
        ("category", Text),
        ("counterparty", Text),
        ("narrative", Text),
        ("disposition", Text),
        ("source_call_id", Text),
        ("district_key", Text),
        ("counterparty_kind", Text),
        ("counterparty_key", Text),
        ("batch_id", Text),
    ],
    key: Some(0),
    time: Some(2),
    restricted: false,
};

/// Restricted: the raw personal data of each call and the features matching derives from it.
pub const CALLS_PII: TableDef = TableDef {
    name: "calls_pii",
    columns: &[
        ("call_id", Text),
        ("received_at", Time),
        ("caller_phone", Text),
        ("phone_canonical", Text),
        ("caller_name", Text),
        ("name_normalised", Text),
        ("surname", Text),
        ("name_pinyin", Text),
        ("honorific_only", Bool),
        ("caller_id_number", Text),
        ("id_canonical", Text),
        ("id_check_ok", Bool),
        ("birth_date", Text),
        ("female", Bool),
        ("counterparty", Text),
        ("narrative", Text),
        ("batch_id", Text),
    ],
    key: Some(0),
    time: Some(1),
    restricted: true,
};

/// Work orders, typed (they hold no personal data).
pub const WORK_ORDERS: TableDef = TableDef {
    name: "work_orders",
    columns: &[
        ("order_id", Text),
        ("call_id", Text),
        ("created_at", Time),
        ("from_platform", Text),
        ("to_platform", Text),
        ("channel", Text),
        ("department", Text),
        ("signed_at", Time),
        ("feedback_at", Time),
        ("closed_at", Time),
        ("status", Text),
        ("satisfaction", Text),
        ("callback_at", Time),
        ("batch_id", Text),
    ],
    key: Some(0),
    time: Some(2),
    restricted: false,
};

/// Rows that broke the contract, with personal fields pseudonymised or masked.
pub const QUARANTINE: TableDef = TableDef {
    name: "quarantine",
    columns: &[
        ("batch_id", Text),
        ("file", Text),
        ("line", Int),
        ("table_name", Text),
        ("column_name", Text),
        ("reason", Text),
        ("detail", Text),
        ("record", Text),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// Restricted: quarantined records exactly as they came.
pub const QUARANTINE_PII: TableDef = TableDef {
    name: "quarantine_pii",
    columns: &[("batch_id", Text), ("file", Text), ("line", Int), ("record", Text)],
    key: None,
    time: None,
    restricted: true,
};

/// One row per ingest run.
pub const INGEST_BATCHES: TableDef = TableDef {
    name: "ingest_batches",
    columns: &[
        ("batch_id", Text),
        ("started_at", Time),
        ("finished_at", Time),
        ("files", Int),
        ("rows_read", Int),
        ("accepted", Int),
        ("updated", Int),
        ("unchanged", Int),
        ("quarantined", Int),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// The manifest: every input file ingested, by content hash (a file seen before is skipped).
pub const INGEST_FILES: TableDef = TableDef {
    name: "ingest_files",
    columns: &[
        ("sha256", Text),
        ("file", Text),
        ("bytes", Int),
        ("table_name", Text),
        ("batch_id", Text),
        ("rows_read", Int),
        ("quarantined", Int),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// Every original call (not a transfer) with the person behind it: `caller` is the resolved entity
/// of `caller_entities` or, for a call no resolve run has seen yet, its `phone_key`; `previous_at`
/// is the same caller's nearest earlier original call of the same category. Kept in step by ingest
/// and resolve, partitioned by month, a caller's calls together (by category and time) within a month: the 7-day repeat rule
/// is `previous_at >= received_at - INTERVAL '7 days'`, with no join and no window.
pub const CALLER_CALLS: TableDef = TableDef {
    name: "caller_calls",
    columns: &[
        ("call_id", Text),
        ("caller", Text),
        ("entity_id", Text),
        ("phone_key", Text),
        ("platform", Text),
        ("category", Text),
        ("district", Text),
        ("counterparty", Text),
        ("received_at", Time),
        ("previous_at", Time),
    ],
    key: None,
    time: Some(8),
    restricted: false,
};

/// What each table holds, for `\d` in the SQL shell.
pub fn about(name: &str) -> Option<&'static str> {
    Some(match name {
        "calls" => {
            "calls, latest version of each call_id; phone_key / id_key pseudonyms, masked names, normalised district and counterparty"
        }
        "calls_pii" => "RESTRICTED raw phone, name, ID, counterparty and narrative of each call, with normalised forms",
        "work_orders" => "work orders (hand-offs), latest version of each order_id",
        "calls_history" => "superseded versions of calls rows (superseded_by = batch)",
        "calls_pii_history" => "RESTRICTED superseded versions of calls_pii rows",
        "work_orders_history" => "superseded versions of work orders (PENDING → SIGNED → …)",
        "quarantine" => "rows that broke the data contract: file, line, column, reason (personal fields masked)",
        "quarantine_pii" => "RESTRICTED quarantined records exactly as they came",
        "ingest_batches" => "one row per ingest run with its counts",
        "ingest_files" => "every input file ingested, by content hash",
        "caller_calls" => {
            "original calls with their caller (entity, or phone_key until resolved) and the caller's previous call of the same category"
        }
        _ => return None,
    })
}
