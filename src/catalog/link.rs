//! The warehouse tables linking writes: evidence between calls, ties between callers, the leads
//! and their members, and a row per run. Only ids, keys, counts and words: no raw personal data.

use super::{Kind, TableDef};

use Kind::{Bool, Float, Int, Text, Time};

/// One row per piece of evidence between two calls.
pub const INCIDENT_LINKS: TableDef = TableDef {
    name: "incident_links",
    columns: &[("call_a", Text), ("call_b", Text), ("evidence", Text), ("weight", Float), ("detail", Text)],
    key: None,
    time: None,
    restricted: false,
};

/// One row per tie between two callers, weighed in bits against chance.
pub const CALLER_TIES: TableDef = TableDef {
    name: "caller_ties",
    columns: &[
        ("entity_a", Text),
        ("entity_b", Text),
        ("entities_a", Text),
        ("entities_b", Text),
        ("tie", Text),
        ("count", Int),
        ("bits", Float),
        ("detail", Text),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// One row per lead, best first.
pub const LEADS: TableDef = TableDef {
    name: "leads",
    columns: &[
        ("lead_id", Text),
        ("rank", Int),
        ("score", Float),
        ("worth_a_look", Bool),
        ("calls", Int),
        ("callers", Int),
        ("entities", Int),
        ("reports", Int),
        ("category", Text),
        ("targets", Int),
        ("districts", Int),
        ("first_call", Time),
        ("last_call", Time),
        ("bits_shared_phone", Float),
        ("bits_co_target", Float),
        ("bits_same_script", Float),
        ("bits_named_by_others", Float),
        ("summary", Text),
        ("evidence", Text),
        ("kind", Text),
        ("bits_concern", Float),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// One row per call and per entity of a lead.
pub const LEAD_MEMBERS: TableDef = TableDef {
    name: "lead_members",
    columns: &[
        ("lead_id", Text),
        ("member", Text),
        ("call_id", Text),
        ("entity_id", Text),
        ("role", Text),
        ("degree", Int),
        ("betweenness", Float),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// One row per link run.
pub const LINK_RUNS: TableDef = TableDef {
    name: "link_runs",
    columns: &[
        ("snapshot", Int),
        ("started_at", Time),
        ("seconds", Float),
        ("calls", Int),
        ("incident_links", Int),
        ("caller_ties", Int),
        ("leads", Int),
        ("worth_a_look", Int),
        ("threshold", Float),
        ("baseline", Text),
    ],
    key: None,
    time: None,
    restricted: false,
};

/// Every table linking writes, for the SQL session.
pub const LINK_TABLES: [&TableDef; 5] = [&INCIDENT_LINKS, &CALLER_TIES, &LEADS, &LEAD_MEMBERS, &LINK_RUNS];

/// What each table holds, for `\d` in the SQL shell.
pub fn about(name: &str) -> Option<&'static str> {
    Some(match name {
        "incident_links" => {
            "evidence between two calls: handoff, same_caller, named_person, shared_phone, similar_narrative, same_counterparty, near_in_space_time"
        }
        "caller_ties" => {
            "ties between callers (shared phone, co-targeting, same script, named together, shared plate/phone/ID mention, naming each other) in bits against chance"
        }
        "leads" => "groups of calls that behave like an organised series, best first, with score and evidence",
        "lead_members" => {
            "the calls (member_call, report, transfer_record) and entities (with centrality) of each lead"
        }
        "link_runs" => {
            "one row per link run: calls, links, ties, leads, and the chance baseline (bits) the ties were weighed against"
        }
        _ => return None,
    })
}
