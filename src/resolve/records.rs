//! What identity resolution compares, read from the warehouse: one compact record per call, with
//! every text value interned so that comparisons are integer equality.

use std::path::Path;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};

use super::ResolveError;
use crate::catalog::TextColumn;
use crate::pii::{name_pinyin, parse_resident_id};
use crate::sql::{Role, Session, SessionOptions, open_session};

/// A table of distinct strings; a value is known by its index. The values are held once, one
/// after another in one buffer, and found through a hash table of their indices: 10M call ids
/// are one allocation, not two strings each, and dropping them is freeing one buffer.
#[derive(Default)]
pub struct Interner {
    /// Every value, in the order first seen.
    bytes: String,
    /// Where each value ends in `bytes`.
    ends: Vec<usize>,
    /// Indices, found by the hash of their value.
    index: hashbrown::HashTable<u32>,
    hasher: hashbrown::DefaultHashBuilder,
}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner").field("values", &self.ends.len()).finish()
    }
}

/// Value `i` of an interner's buffer.
fn slice<'a>(bytes: &'a str, ends: &[usize], i: u32) -> &'a str {
    let i = i as usize;
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
}

impl Interner {
    /// The index of a value, adding it when new.
    pub fn intern(&mut self, value: &str) -> u32 {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(value);
        let Interner { bytes, ends, index, hasher } = self;
        if let Some(&i) = index.find(hash, |&i| slice(bytes, ends, i) == value) {
            return i;
        }
        let i = ends.len() as u32;
        bytes.push_str(value);
        ends.push(bytes.len());
        index.insert_unique(hash, i, |&j| hasher.hash_one(slice(bytes, ends, j)));
        i
    }

    /// The index of a value already seen.
    pub fn get(&self, value: &str) -> Option<u32> {
        use std::hash::BuildHasher;
        let hash = self.hasher.hash_one(value);
        self.index.find(hash, |&i| slice(&self.bytes, &self.ends, i) == value).copied()
    }

    /// The value of an index.
    pub fn value(&self, i: u32) -> &str {
        slice(&self.bytes, &self.ends, i)
    }

    /// Number of distinct values.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether nothing was interned.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

/// A caller's name as matching sees it (one per distinct normalised name).
#[derive(Debug, Clone)]
pub struct NameInfo {
    /// Masked form for display (`王**`, `王先生`).
    pub masked: String,
    /// Toneless pinyin of the whole name (interned in [`Records::pinyins`]); for an honorific-only
    /// name, of the surname alone.
    pub pinyin: u32,
    /// Toneless pinyin of the surname (interned in [`Records::pinyins`]).
    pub surname_pinyin: Option<u32>,
    /// Only a surname and a form of address (`王先生`): weak evidence.
    pub honorific_only: bool,
    /// Sex implied by the form of address (先生 male; 女士, 小姐 female).
    pub female_hint: Option<bool>,
    /// For a middle-dot name, the pinyin of its first part (`阿依古丽·买买提` → `ayiguli`), by
    /// which the same caller is also called alone (interned in [`Records::pinyins`]).
    pub own_pinyin: Option<u32>,
    /// The characters, for string similarity (never printed).
    pub chars: Vec<char>,
}

/// Facts a resident ID carries besides itself.
#[derive(Debug, Clone, Copy)]
pub struct IdInfo {
    /// Date of birth as YYYYMMDD.
    pub birth: Option<u32>,
    /// Sex from the sequence digit.
    pub female: bool,
}

/// One call as resolution sees it.
#[derive(Debug, Clone)]
pub struct CallRecord {
    /// Index into [`Records::call_ids`].
    pub call: u32,
    /// Received, microseconds since the epoch (UTC).
    pub received_at: i64,
    /// Interned `phone_key`.
    pub phone: Option<u32>,
    /// Interned `id_key` (only IDs whose check character is right).
    pub id: Option<u32>,
    /// Index into [`Records::names`].
    pub name: Option<u32>,
    /// Interned district key (the city profile's: `西陵` and `西陵区` are one).
    pub district: Option<u32>,
    /// Interned category code.
    pub category: u32,
    /// Interned counterparty, normalised (letters and digits only, lower case).
    pub counterparty: Option<u32>,
    /// The call this record was transferred from (index into [`Records::call_ids`]), when present.
    pub source: Option<u32>,
    /// Platform code (interned).
    pub platform: u32,
}

/// Every call of the warehouse, ready to compare.
#[derive(Debug, Default)]
pub struct Records {
    /// Calls in load order.
    pub calls: Vec<CallRecord>,
    /// Call ids.
    pub call_ids: Interner,
    /// Phone keys.
    pub phones: Interner,
    /// ID keys.
    pub ids: Interner,
    /// What each ID says (parallel to `ids`).
    pub id_info: Vec<IdInfo>,
    /// Normalised names (never printed).
    pub name_values: Interner,
    /// What each name says (parallel to `name_values`).
    pub names: Vec<NameInfo>,
    /// Pinyin strings of names and surnames.
    pub pinyins: Interner,
    /// Districts.
    pub districts: Interner,
    /// Category codes.
    pub categories: Interner,
    /// Counterparties (normalised).
    pub counterparties: Interner,
    /// Platforms.
    pub platforms: Interner,
}

/// The columns resolution reads of a call (`c`: `calls`, `p`: `calls_pii`), in the order [`Records::load_query`] takes them.
pub const COLUMNS: &str = "SELECT c.call_id, c.received_at, c.platform, c.phone_key, c.id_key, c.district, c.category, \
     c.counterparty, c.source_call_id, p.name_normalised, p.honorific_only, p.id_canonical, p.id_check_ok, \
     p.surname, p.name_pinyin";

/// The pinyin of a middle-dot name's first part (`阿依古丽·买买提` → `ayiguli`), by which the same
/// caller is also called alone; `None` for any other name (`normalised` as `normalize_name` gives).
pub fn own_pinyin(normalised: &str) -> Option<String> {
    crate::pii::own_name_part(normalised).and_then(name_pinyin)
}

/// Letters and digits of a counterparty, lower case: `XX医美 (西陵店)` and `xx医美西陵店` agree.
fn normalise_counterparty(raw: &str) -> String {
    raw.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

impl Records {
    /// The session resolution reads through: it needs the restricted table of names and ID
    /// numbers, so it has the investigator role; nothing it reads leaves the process except as
    /// keys, masks and counts.
    pub fn session(dir: &Path) -> Result<Session, ResolveError> {
        let options = SessionOptions { role: Role::Investigator, audit: false, ..SessionOptions::default() };
        Ok(open_session(dir, options)?)
    }

    /// Reads every call of the session's snapshot with the features matching needs (the name's
    /// surname and pinyin as ingest derived them into `calls_pii`).
    pub fn load(session: &Session) -> Result<Records, ResolveError> {
        Self::load_query(
            session,
            &format!("{COLUMNS} FROM calls c LEFT JOIN calls_pii p ON p.call_id = c.call_id ORDER BY c.call_id"),
        )
    }

    /// Reads the calls a query of [`COLUMNS`] returns.
    pub fn load_query(session: &Session, sql: &str) -> Result<Records, ResolveError> {
        Self::load_query_into(session, sql, Records::default())
    }

    /// Reads the calls a query of [`COLUMNS`] returns, starting from the values (names, phones,
    /// IDs …) `seen` already holds, so that what is known of a name is not worked out again; its
    /// calls are dropped.
    pub fn load_query_into(session: &Session, sql: &str, seen: Records) -> Result<Records, ResolveError> {
        let (_, batches) = session.collect(sql)?;
        let mut records = Records { calls: Vec::new(), call_ids: Interner::default(), ..seen };
        let mut pending_sources: Vec<(usize, String)> = Vec::new();
        let mut district_keys = session.city().district_keys();
        for batch in &batches {
            let texts: Vec<TextColumn<'_>> = [0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 13, 14]
                .iter()
                .map(|&i| TextColumn::of(batch.column(i)))
                .collect::<Result<_, _>>()?;
            let text = |k: usize, row: usize| -> Option<&str> { texts[k].get(row) };
            let micros = DataType::Timestamp(TimeUnit::Microsecond, None);
            let received = cast(batch.column(1), &micros).map_err(|e| ResolveError::Data(e.to_string()))?;
            let received = received.as_primitive::<TimestampMicrosecondType>();
            let honorific = batch.column(10).as_boolean_opt().cloned();
            let check_ok = batch.column(12).as_boolean_opt().cloned();
            for row in 0..batch.num_rows() {
                let Some(call_id) = text(0, row) else { continue };
                let call = records.call_ids.intern(call_id);
                let name = text(8, row).filter(|n| !n.is_empty()).map(|n| {
                    let honorific_only = honorific.as_ref().is_some_and(|h| !h.is_null(row) && h.value(row));
                    records.name(n, honorific_only, text(10, row), text(11, row))
                });
                let id_ok = check_ok.as_ref().is_some_and(|c| !c.is_null(row) && c.value(row));
                let id = match (text(3, row), text(9, row)) {
                    (Some(key), Some(canonical)) if id_ok => Some(records.id(key, canonical)),
                    _ => None,
                };
                let record = CallRecord {
                    call,
                    received_at: if received.is_null(row) { 0 } else { received.value(row) },
                    platform: records.platforms.intern(text(1, row).unwrap_or("")),
                    phone: text(2, row).map(|p| records.phones.intern(p)),
                    id,
                    name,
                    district: text(4, row).and_then(|d| district_keys.key(d)).map(|d| records.districts.intern(&d)),
                    category: records.categories.intern(text(5, row).unwrap_or("")),
                    counterparty: text(6, row)
                        .map(normalise_counterparty)
                        .filter(|c| !c.is_empty())
                        .map(|c| records.counterparties.intern(&c)),
                    source: None,
                };
                if let Some(source) = text(7, row).filter(|s| !s.is_empty()) {
                    pending_sources.push((records.calls.len(), source.to_owned()));
                }
                records.calls.push(record);
            }
        }
        for (at, source) in pending_sources {
            records.calls[at].source = records.call_ids.get(&source);
        }
        Ok(records)
    }

    /// A name's features. The name is read again with [`crate::pii::normalize_name`] and
    /// [`name_pinyin`], so a warehouse ingested by an older reader still gets informal (老王),
    /// anonymised (陈某) and middle-dot names and surnames' readings right; the pinyin ingest
    /// stored is used where the name gives none.
    fn name(&mut self, normalised: &str, honorific_only: bool, surname: Option<&str>, pinyin: Option<&str>) -> u32 {
        if let Some(i) = self.name_values.get(normalised) {
            return i;
        }
        let i = self.name_values.intern(normalised);
        let parts = crate::pii::normalize_name(normalised);
        let honorific_only = honorific_only || parts.honorific_only;
        let surname =
            if honorific_only { parts.surname.as_deref().or(surname) } else { surname.or(parts.surname.as_deref()) };
        let surname_pinyin = surname.and_then(name_pinyin).map(|p| self.pinyins.intern(&p));
        let pinyin = if honorific_only {
            surname_pinyin.unwrap_or_else(|| self.pinyins.intern(""))
        } else {
            // Read again too: a warehouse ingested before surnames were read as surnames (曾 as
            // céng) meets its homophones (增) once resolved again.
            let computed = name_pinyin(&parts.normalised);
            self.pinyins.intern(computed.as_deref().or(pinyin).unwrap_or(normalised))
        };
        let own_pinyin =
            (!honorific_only).then(|| own_pinyin(&parts.normalised)).flatten().map(|p| self.pinyins.intern(&p));
        self.names.push(NameInfo {
            masked: crate::pii::mask_name(normalised),
            pinyin,
            surname_pinyin,
            honorific_only,
            female_hint: parts.female_hint,
            own_pinyin,
            chars: normalised.chars().collect(),
        });
        i
    }

    fn id(&mut self, key: &str, canonical: &str) -> u32 {
        if let Some(i) = self.ids.get(key) {
            return i;
        }
        let i = self.ids.intern(key);
        let parsed = parse_resident_id(canonical);
        self.id_info.push(IdInfo {
            birth: parsed.as_ref().and_then(|p| p.birth).map(|b| {
                use chrono::Datelike;
                b.year() as u32 * 10_000 + b.month() * 100 + b.day()
            }),
            female: parsed.is_some_and(|p| p.female),
        });
        i
    }

    /// Sex of a call's caller as far as its ID or form of address tells.
    pub fn female(&self, call: &CallRecord) -> Option<bool> {
        call.id
            .map(|i| self.id_info[i as usize].female)
            .or_else(|| call.name.and_then(|n| self.names[n as usize].female_hint))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interner_numbers_values_in_order_first_seen_and_finds_them_again() {
        let mut interner = Interner::default();
        assert!(interner.is_empty());
        assert_eq!(interner.get(""), None);
        let values: Vec<String> = (0..50_000).map(|i| format!("110-2023{:06}", i * 7 % 50_000)).collect();
        for (i, value) in values.iter().enumerate() {
            assert_eq!(interner.intern(value), i as u32);
        }
        // The empty string and text that is a prefix or a join of others are values of their own.
        let empty = interner.intern("");
        let joined = interner.intern(&format!("{}{}", values[0], values[1]));
        assert_ne!(empty, joined);
        assert_eq!(interner.len(), values.len() + 2);
        for (i, value) in values.iter().enumerate() {
            assert_eq!(interner.intern(value), i as u32, "seen before: same number");
            assert_eq!(interner.get(value), Some(i as u32));
            assert_eq!(interner.value(i as u32), value);
        }
        assert_eq!(interner.value(empty), "");
        assert_eq!(interner.get("西陵区"), None);
        assert_eq!(interner.len(), values.len() + 2);
    }
}
