//! Readers of the ground-truth files a generator writes beside a batch (never read by ingest), and the
//! format of `groups.csv` (written here too, so that its writer and reader cannot drift apart).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::contract::{Reason, Table};

/// Errors reading a truth file; each names the file and line.
#[derive(Debug, thiserror::Error)]
pub enum TruthError {
    /// Unreadable file or CSV.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A row with a missing or invalid field.
    #[error("{path}: line {line}: {message}")]
    Row {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: u64,
        /// What is wrong.
        message: String,
    },
}

/// One deliberately broken row.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MalformedRow {
    /// Table of the row.
    pub table: Table,
    /// Line or row number in that table's file.
    pub line: u64,
    /// The reason the validator must give.
    pub reason: Reason,
    /// The call concerned (may be empty).
    pub call_id: String,
}

/// Rows of a CSV file as (line, column → value).
type Rows = Vec<(u64, HashMap<String, String>)>;

fn read_rows(path: &Path) -> Result<Rows, TruthError> {
    let read = |message: String| TruthError::Read { path: path.to_owned(), message };
    let mut reader = csv::Reader::from_path(path).map_err(|e| read(e.to_string()))?;
    let headers = reader.headers().map_err(|e| read(e.to_string()))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| read(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        rows.push((line, headers.iter().zip(record.iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect()));
    }
    Ok(rows)
}

fn field<'a>(path: &Path, line: u64, row: &'a HashMap<String, String>, name: &str) -> Result<&'a str, TruthError> {
    row.get(name).map(String::as_str).ok_or_else(|| TruthError::Row {
        path: path.to_owned(),
        line,
        message: format!("no {name} column"),
    })
}

/// Reads `truth/malformed.csv`.
pub fn read_malformed(truth_dir: &Path) -> Result<Vec<MalformedRow>, TruthError> {
    let path = truth_dir.join("malformed.csv");
    read_rows(&path)?
        .into_iter()
        .map(|(line, row)| {
            let bad = |message: String| TruthError::Row { path: path.clone(), line, message };
            let table = field(&path, line, &row, "table").map(|t| Table::from_name(t).unwrap_or(Table::Calls))?;
            let reason_code = field(&path, line, &row, "reason")?;
            let reason = Reason::from_code(reason_code).ok_or_else(|| bad(format!("unknown reason {reason_code}")))?;
            let number = field(&path, line, &row, "line")?;
            let number = number.parse().map_err(|_| bad(format!("line {number:?} is not a number")))?;
            Ok(MalformedRow { table, line: number, reason, call_id: field(&path, line, &row, "call_id")?.to_owned() })
        })
        .collect()
}

/// Reads `truth/call_person.csv` into call id → person id.
pub fn read_call_person(truth_dir: &Path) -> Result<HashMap<String, String>, TruthError> {
    let path = truth_dir.join("call_person.csv");
    read_rows(&path)?
        .into_iter()
        .map(|(line, row)| {
            Ok((field(&path, line, &row, "call_id")?.to_owned(), field(&path, line, &row, "person_id")?.to_owned()))
        })
        .collect()
}

/// One row of `truth/rings.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingCall {
    /// Group id.
    pub ring_id: String,
    /// Kind of group.
    pub kind: String,
    /// A call of the group.
    pub call_id: String,
    /// Role of the call.
    pub role: String,
}

/// Reads `truth/rings.csv`.
pub fn read_rings(truth_dir: &Path) -> Result<Vec<RingCall>, TruthError> {
    let path = truth_dir.join("rings.csv");
    read_rows(&path)?
        .into_iter()
        .map(|(line, row)| {
            Ok(RingCall {
                ring_id: field(&path, line, &row, "ring_id")?.to_owned(),
                kind: field(&path, line, &row, "kind")?.to_owned(),
                call_id: field(&path, line, &row, "call_id")?.to_owned(),
                role: row.get("role").cloned().unwrap_or_default(),
            })
        })
        .collect()
}

/// Reads any truth CSV as rows of column → value (for hotspots.csv and repeat_callers.csv).
pub fn read_table(path: &Path) -> Result<Vec<HashMap<String, String>>, TruthError> {
    Ok(read_rows(path)?.into_iter().map(|(_, row)| row).collect())
}

/// A tie that binds a planted group's calls together, as named in `truth/groups.csv`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tie {
    /// Members call from one or two shared (burner) phones for part of their calls.
    SharedPhone,
    /// Members share a surname and a home district.
    Family,
    /// A member names another member (full name) as the counterparty or in the narrative.
    NamingEachOther,
    /// Two members call about the same counterparty or place within the hour.
    SameHour,
    /// Members' narratives come from one group script of near-identical sentences.
    Script,
    /// Third parties report the group, naming a member (or only describing one).
    VictimReports,
    /// One or two vehicle plates of the group recur in its calls.
    Plates,
    /// Members give their ID number on some calls, or a victim report quotes one.
    IdDocuments,
    /// Member calls are transferred between platforms.
    Handoffs,
}

impl Tie {
    /// Every tie, in the order `groups.csv` lists them.
    pub const ALL: [Tie; 9] = [
        Tie::SharedPhone,
        Tie::Family,
        Tie::NamingEachOther,
        Tie::SameHour,
        Tie::Script,
        Tie::VictimReports,
        Tie::Plates,
        Tie::IdDocuments,
        Tie::Handoffs,
    ];

    /// The name written in `groups.csv` (`shared_phone`).
    pub fn name(self) -> &'static str {
        match self {
            Tie::SharedPhone => "shared_phone",
            Tie::Family => "family",
            Tie::NamingEachOther => "naming_each_other",
            Tie::SameHour => "same_hour",
            Tie::Script => "script",
            Tie::VictimReports => "victim_reports",
            Tie::Plates => "plates",
            Tie::IdDocuments => "id_documents",
            Tie::Handoffs => "handoffs",
        }
    }

    /// The tie of a name.
    pub fn from_name(name: &str) -> Option<Tie> {
        Tie::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// One row of `truth/groups.csv`: a planted organised group and the parameters it was drawn with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupTruth {
    /// Group id (`RING-1`, `RING-F3`), as in `rings.csv`.
    pub ring_id: String,
    /// Kind, as in `rings.csv` (`extortion_ring`, or for a family group category and target mode: `fraud_distinct`).
    pub kind: String,
    /// Taxonomy codes of the members' own calls, most frequent first (victim reports not counted).
    pub categories: Vec<String>,
    /// Members (distinct callers of the member calls).
    pub members: u32,
    /// Distinct phones the member calls are made from (shared phones included).
    pub phones: u32,
    /// `repeat` (a few counterparties hit again and again), `distinct` (a new counterparty each
    /// call) or `none` (street incidents: places, no counterparty).
    pub target_mode: String,
    /// Distinct districts the group's calls happen in.
    pub districts: u32,
    /// Day of the group's first call (Asia/Shanghai).
    pub start: chrono::NaiveDate,
    /// Day of its last call.
    pub end: chrono::NaiveDate,
    /// Platforms (codes) that received the group's original calls.
    pub platforms: Vec<String>,
    /// Original calls planted (member calls and victim reports; transfer records not counted).
    pub calls: u32,
    /// Names of the ties the group has (see [`Tie::name`]).
    pub ties: Vec<String>,
}

impl GroupTruth {
    /// Whether the group has a tie.
    pub fn has(&self, tie: Tie) -> bool {
        self.ties.iter().any(|t| t == tie.name())
    }
}

/// The header of `truth/groups.csv`.
pub const GROUPS_HEADER: [&str; 12] = [
    "ring_id",
    "kind",
    "category",
    "members",
    "phones",
    "target_mode",
    "districts",
    "start",
    "end",
    "platforms",
    "calls",
    "ties",
];

/// Reads `truth/groups.csv` (one row per planted group; lists are `;`-separated, dates
/// `YYYY-MM-DD`), so that an evaluator can break recall down by kind and by tie. A batch made
/// before the file existed has none: an absent file reads as no groups.
pub fn read_groups(truth_dir: &Path) -> Result<Vec<GroupTruth>, TruthError> {
    let path = truth_dir.join("groups.csv");
    if !path.exists() {
        return Ok(Vec::new());
    }
    let list = |text: &str| -> Vec<String> { text.split(';').filter(|s| !s.is_empty()).map(str::to_owned).collect() };
    read_rows(&path)?
        .into_iter()
        .map(|(line, row)| {
            let bad = |message: String| TruthError::Row { path: path.clone(), line, message };
            let get = |name: &str| field(&path, line, &row, name);
            let number = |name: &str| -> Result<u32, TruthError> {
                let text = get(name)?;
                text.parse().map_err(|_| bad(format!("{name} {text:?} is not a number")))
            };
            let date = |name: &str| -> Result<chrono::NaiveDate, TruthError> {
                let text = get(name)?;
                chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                    .map_err(|_| bad(format!("{name} {text:?} is not a date")))
            };
            Ok(GroupTruth {
                ring_id: get("ring_id")?.to_owned(),
                kind: get("kind")?.to_owned(),
                categories: list(get("category")?),
                members: number("members")?,
                phones: number("phones")?,
                target_mode: get("target_mode")?.to_owned(),
                districts: number("districts")?,
                start: date("start")?,
                end: date("end")?,
                platforms: list(get("platforms")?),
                calls: number("calls")?,
                ties: list(get("ties")?),
            })
        })
        .collect()
}

/// Writes `truth/groups.csv`.
pub fn write_groups(path: &Path, groups: &[GroupTruth]) -> csv::Result<()> {
    let mut writer = csv::Writer::from_path(path)?;
    writer.write_record(GROUPS_HEADER)?;
    for g in groups {
        writer.write_record([
            g.ring_id.clone(),
            g.kind.clone(),
            g.categories.join(";"),
            g.members.to_string(),
            g.phones.to_string(),
            g.target_mode.clone(),
            g.districts.to_string(),
            g.start.to_string(),
            g.end.to_string(),
            g.platforms.join(";"),
            g.calls.to_string(),
            g.ties.join(";"),
        ])?;
    }
    writer.flush()?;
    Ok(())
}
