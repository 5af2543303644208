//! Fellegi–Sunter comparison of two profiles: each comparison puts the pair on one of a few levels,
//! each level has an m probability (among true matches) and a u probability (among non-matches), and
//! the pair's match weight is the prior log-odds plus the sum of log2(m/u). Name and surname
//! agreement are adjusted by how common the value is (term frequency): two 张伟 agree less than two
//! 欧阳娜娜.

use super::profile::{Profile, Profiles};
use super::records::Records;

/// Number of comparisons.
pub const COMPARISONS: usize = 7;

/// One comparison and the names of its levels (level 0 is always "no data", weight 0).
#[derive(Debug, Clone, Copy)]
pub struct ComparisonDef {
    /// Short name.
    pub name: &'static str,
    /// Level descriptions, from "no data" to the strongest agreement.
    pub levels: &'static [&'static str],
}

/// Position of each comparison in a pattern.
pub const PHONE: usize = 0;
/// Resident ID.
pub const ID: usize = 1;
/// Name.
pub const NAME: usize = 2;
/// Sex.
pub const SEX: usize = 3;
/// District.
pub const DISTRICT: usize = 4;
/// Counterparty and category.
pub const CONTEXT: usize = 5;
/// Closeness in time.
pub const TIME: usize = 6;

/// The comparisons, in pattern order.
pub const DEFS: [ComparisonDef; COMPARISONS] = [
    ComparisonDef {
        name: "phone",
        levels: &["no phone on one side", "different phones", "same phone, shared by several people", "same phone"],
    },
    ComparisonDef {
        name: "resident ID",
        levels: &["no ID on one side", "different IDs", "different IDs, same date of birth", "same ID"],
    },
    ComparisonDef {
        name: "name",
        levels: &[
            "no name on one side",
            "different names",
            "same surname, one only 先生/女士",
            "similar full names",
            "same pinyin (homophone)",
            "same full name",
        ],
    },
    ComparisonDef { name: "sex", levels: &["unknown on one side", "different", "same"] },
    ComparisonDef {
        name: "district",
        levels: &["no district on one side", "different districts", "districts overlap", "same main district"],
    },
    ComparisonDef {
        name: "context",
        levels: &["nothing in common", "a category in common", "a counterparty in common"],
    },
    ComparisonDef {
        name: "time",
        levels: &["more than 90 days apart", "within 90 days", "within 7 days or overlapping"],
    },
];

/// The levels of one pair, one per comparison.
pub type Pattern = [u8; COMPARISONS];

/// A pair's comparison levels and the term frequencies behind its name level.
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    /// Levels.
    pub pattern: Pattern,
    /// For a name or surname agreement: the value's frequency relative to the average collision
    /// probability (u is multiplied by it).
    pub tf_factor: f64,
}

const DAY: i64 = 86_400_000_000;

fn female(profile: &Profile) -> Option<bool> {
    profile.female
}

/// Compares two profiles.
pub fn compare(records: &Records, profiles: &Profiles, a: &Profile, b: &Profile) -> Comparison {
    let mut pattern = [0u8; COMPARISONS];
    let mut tf_factor = 1.0;
    pattern[PHONE] = match (a.phone, b.phone) {
        (Some(x), Some(y)) if x == y => {
            if profiles.shared_phone[x as usize] {
                2
            } else {
                3
            }
        }
        (Some(_), Some(_)) => 1,
        _ => 0,
    };
    pattern[ID] = match (a.id, b.id) {
        (Some(x), Some(y)) if x == y => 3,
        (Some(x), Some(y)) => {
            let (bx, by) = (records.id_info[x as usize].birth, records.id_info[y as usize].birth);
            if bx.is_some() && bx == by { 2 } else { 1 }
        }
        _ => 0,
    };
    if let (Some(x), Some(y)) = (a.name, b.name) {
        let (nx, ny) = (&records.names[x as usize], &records.names[y as usize]);
        pattern[NAME] = if !nx.honorific_only && !ny.honorific_only {
            if x == y || nx.pinyin == ny.pinyin {
                tf_factor = profiles.name_tf(nx.pinyin) / profiles.name_collision().max(1e-12);
                if x == y { 5 } else { 4 }
            } else if (nx.surname_pinyin == ny.surname_pinyin
                && strsim::jaro_winkler(records.pinyins.value(nx.pinyin), records.pinyins.value(ny.pinyin)) >= 0.9)
                || nx.own_pinyin.is_some_and(|o| o == ny.pinyin || Some(o) == ny.own_pinyin)
                || ny.own_pinyin == Some(nx.pinyin)
            {
                // A middle-dot name and its first part alone (阿依古丽·买买提, 阿依古丽) are similar.
                3
            } else {
                1
            }
        } else {
            let sexes_clash = matches!((female(a), female(b)), (Some(p), Some(q)) if p != q);
            match (nx.surname_pinyin, ny.surname_pinyin) {
                (Some(p), Some(q)) if p == q && !sexes_clash => {
                    tf_factor = profiles.surname_tf(p) / profiles.surname_collision().max(1e-12);
                    2
                }
                _ => 1,
            }
        };
    }
    pattern[SEX] = match (female(a), female(b)) {
        (Some(p), Some(q)) => {
            if p == q {
                2
            } else {
                1
            }
        }
        _ => 0,
    };
    pattern[DISTRICT] = match (a.main_district(), b.main_district()) {
        (Some(x), Some(y)) if x == y => 3,
        (Some(_), Some(_)) => {
            if a.districts.iter().any(|(d, _)| b.districts.iter().any(|(e, _)| d == e)) {
                2
            } else {
                1
            }
        }
        _ => 0,
    };
    pattern[CONTEXT] = if a.counterparties.iter().any(|c| b.counterparties.contains(c)) {
        2
    } else if a.categories.iter().any(|c| b.categories.contains(c)) {
        1
    } else {
        0
    };
    let gap = (a.first.max(b.first) - a.last.min(b.last)).max(0);
    pattern[TIME] = if gap <= 7 * DAY {
        2
    } else if gap <= 90 * DAY {
        1
    } else {
        0
    };
    Comparison { pattern, tf_factor }
}

/// m and u probabilities of every level, and the prior probability that two profiles match.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Probability that two profiles drawn at random are the same person.
    pub prior: f64,
    /// m probabilities per comparison and level.
    pub m: [Vec<f64>; COMPARISONS],
    /// u probabilities per comparison and level.
    pub u: [Vec<f64>; COMPARISONS],
}

/// Whether a level's agreement is adjusted by term frequency.
pub fn tf_adjusted(comparison: usize, level: u8) -> bool {
    comparison == NAME && matches!(level, 2 | 4 | 5)
}

/// One term of a pair's match weight.
#[derive(Debug, Clone)]
pub struct Term {
    /// Comparison index.
    pub comparison: usize,
    /// Level.
    pub level: u8,
    /// m probability.
    pub m: f64,
    /// u probability (after term-frequency adjustment).
    pub u: f64,
    /// log2(m / u); 0 for "no data".
    pub bits: f64,
}

impl Model {
    /// Prior log-odds in bits.
    pub fn prior_bits(&self) -> f64 {
        (self.prior / (1.0 - self.prior)).log2()
    }

    /// The terms of a comparison.
    pub fn terms(&self, comparison: &Comparison) -> Vec<Term> {
        (0..COMPARISONS)
            .map(|c| {
                let level = comparison.pattern[c];
                let l = usize::from(level);
                let m = self.m[c][l];
                let mut u = self.u[c][l];
                if tf_adjusted(c, level) {
                    u = (u * comparison.tf_factor).clamp(1e-12, 1.0);
                }
                let bits = if level == 0 && c != CONTEXT && c != TIME { 0.0 } else { (m / u).log2() };
                Term { comparison: c, level, m, u, bits }
            })
            .collect()
    }

    /// Match weight in bits: prior log-odds plus every comparison's log2(m/u).
    pub fn weight(&self, comparison: &Comparison) -> f64 {
        self.prior_bits() + self.terms(comparison).iter().map(|t| t.bits).sum::<f64>()
    }
}

/// Match probability of a weight in bits.
pub fn probability(bits: f64) -> f64 {
    let odds = bits.exp2();
    if odds.is_infinite() { 1.0 } else { odds / (1.0 + odds) }
}

/// The comparisons on which a pair agrees, for the `link` column (`phone+name+district`).
pub fn agreement(pattern: &Pattern) -> String {
    let mut parts = Vec::new();
    if pattern[PHONE] >= 2 {
        parts.push(if pattern[PHONE] == 2 { "shared phone" } else { "phone" });
    }
    if pattern[ID] == 3 {
        parts.push("id");
    }
    match pattern[NAME] {
        5 => parts.push("name"),
        4 => parts.push("name pinyin"),
        3 => parts.push("similar name"),
        2 => parts.push("surname"),
        _ => {}
    }
    if pattern[DISTRICT] == 3 {
        parts.push("district");
    }
    if pattern[CONTEXT] == 2 {
        parts.push("counterparty");
    }
    if pattern[TIME] == 2 {
        parts.push("time");
    }
    parts.join("+")
}
