//! The warehouse tables identity resolution writes: the entity of every call, one row per entity,
//! the model it used and a row per run. None holds a raw phone, ID or name: keys, masks and counts.

use super::{Kind, TableDef};

use Kind::{Float, Int, Text, Time};

/// One row per call: the resolved person behind it.
pub const CALLER_ENTITIES: TableDef = TableDef {
    name: "caller_entities",
    columns: &[("call_id", Text), ("entity_id", Text), ("confidence", Float), ("link", Text), ("received_at", Time)],
    key: None,
    time: None,
    restricted: false,
};

/// One row per resolved person. List columns are comma-separated (`string_to_array(phone_keys, ',')`).
pub const ENTITIES: TableDef = TableDef {
    name: "entities",
    columns: &[
        ("entity_id", Text),
        ("calls", Int),
        ("original_calls", Int),
        ("phones", Int),
        ("phone_keys", Text),
        ("id_keys", Text),
        ("names_masked", Text),
        ("platforms", Text),
        ("categories", Text),
        ("districts", Text),
        ("first_seen", Time),
        ("last_seen", Time),
        ("min_confidence", Float),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// The Fellegi–Sunter model: m, u and weight of every comparison level, and the prior.
pub const RESOLVE_MODEL: TableDef = TableDef {
    name: "resolve_model",
    columns: &[
        ("comparison", Text),
        ("level", Int),
        ("description", Text),
        ("m", Float),
        ("u", Float),
        ("bits", Float),
        ("trained_at", Time),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// One row per resolve run, with what it did.
pub const RESOLVE_RUNS: TableDef = TableDef {
    name: "resolve_runs",
    columns: &[
        ("snapshot", Int),
        ("started_at", Time),
        ("seconds", Float),
        ("mode", Text),
        ("calls", Int),
        ("new_calls", Int),
        ("profiles", Int),
        ("candidate_pairs", Int),
        ("links", Int),
        ("refused_conflict", Int),
        ("refused_chain", Int),
        ("entities", Int),
        ("merged_entities", Int),
        ("threshold_bits", Float),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// How many profiles hold each surname (`kind` `surname`, `value` its pinyin) and the totals
/// term-frequency adjustment divides by (`kind` `total`): what an incremental run adds to.
pub const RESOLVE_FREQUENCIES: TableDef = TableDef {
    name: "resolve_frequencies",
    columns: &[("kind", Text), ("value", Text), ("profiles", Int)],
    key: None,
    time: None,
    restricted: false,
};

/// Every table resolution writes, for the SQL session.
pub const RESOLVE_TABLES: [&TableDef; 5] =
    [&CALLER_ENTITIES, &ENTITIES, &RESOLVE_MODEL, &RESOLVE_RUNS, &RESOLVE_FREQUENCIES];

/// What each table holds, for `\d` in the SQL shell.
pub fn about(name: &str) -> Option<&'static str> {
    Some(match name {
        "caller_entities" => {
            "the resolved person (entity_id) behind every call, with confidence and the link's evidence"
        }
        "entities" => {
            "one row per resolved person: calls, phone keys, masked names, platforms, categories, first/last seen"
        }
        "resolve_model" => "identity resolution's model: m, u and weight (bits) of each comparison level",
        "resolve_frequencies" => {
            "profiles per surname pinyin and the totals resolve weighs name agreement by (kept for incremental runs)"
        }
        "resolve_runs" => "one row per resolve run: mode, calls, pairs compared, links made and refused",
        _ => return None,
    })
}
