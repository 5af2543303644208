//! Profiles: calls that agree exactly on phone, name and ID are one node of the comparison graph,
//! so that a caller with 300 calls from one phone under one name costs one comparison, not 45,000.
//! Also the per-value statistics comparisons need: how common each name and surname is, and which
//! phones are shared by several people.

use std::collections::HashMap;

use super::records::Records;

/// Calls with the same phone, name and ID (calls without a phone or ID are profiles of their own).
#[derive(Debug, Clone)]
pub struct Profile {
    /// Indices into [`Records::calls`].
    pub calls: Vec<u32>,
    /// Interned phone key.
    pub phone: Option<u32>,
    /// Index of the name.
    pub name: Option<u32>,
    /// Interned ID key.
    pub id: Option<u32>,
    /// Sex from the ID or the form of address.
    pub female: Option<bool>,
    /// Districts of the calls with their counts, most frequent first.
    pub districts: Vec<(u32, u32)>,
    /// Categories of the calls (a few at most).
    pub categories: Vec<u32>,
    /// Counterparties named on the calls (a few at most).
    pub counterparties: Vec<u32>,
    /// First and last call.
    pub first: i64,
    /// Last call.
    pub last: i64,
    /// Whether it holds a call not resolved before (incremental runs compare only these).
    pub fresh: bool,
}

impl Profile {
    /// The district most of its calls are in.
    pub fn main_district(&self) -> Option<u32> {
        self.districts.first().map(|(d, _)| *d)
    }
}

const KEPT: usize = 8;

fn add_small(list: &mut Vec<u32>, value: u32) {
    if list.len() < KEPT && !list.contains(&value) {
        list.push(value);
    }
}

/// The profiles of a set of records, and the statistics of their values.
#[derive(Debug, Default)]
pub struct Profiles {
    /// Profiles in order of their first call in the records.
    pub list: Vec<Profile>,
    /// The profile of each call (parallel to [`Records::calls`]).
    pub of_call: Vec<u32>,
    /// For each phone key: whether it is shared (used under clearly different names or IDs).
    pub shared_phone: Vec<bool>,
    /// Profiles per name pinyin (full names only), for term-frequency adjustment.
    pub name_frequency: HashMap<u32, u32>,
    /// Profiles with a full name.
    pub full_named: u32,
    /// Profiles per surname pinyin.
    pub surname_frequency: HashMap<u32, u32>,
    /// Profiles with a surname.
    pub surnamed: u32,
    /// Σ tf² of full-name pinyins (computed once: comparisons read it millions of times).
    pub(super) name_collision: f64,
    /// Σ tf² of surnames.
    pub(super) surname_collision: f64,
}

impl Profiles {
    /// Groups calls into profiles; `fresh(i)` says whether call `i` is new to this run.
    pub fn build(records: &Records, fresh: &dyn Fn(usize) -> bool) -> Profiles {
        let mut by_key: HashMap<(u32, Option<u32>, Option<u32>), u32> = HashMap::new();
        let mut profiles = Profiles { of_call: Vec::with_capacity(records.calls.len()), ..Profiles::default() };
        for (i, call) in records.calls.iter().enumerate() {
            // Without a phone or an ID nothing ties two calls under the same name: each is its own.
            let anchored = call.phone.is_some() || call.id.is_some();
            let key = (call.phone.unwrap_or(u32::MAX), call.name, call.id);
            let index = match anchored.then(|| by_key.get(&key)).flatten() {
                Some(&p) => p,
                None => {
                    let p = profiles.list.len() as u32;
                    if anchored {
                        by_key.insert(key, p);
                    }
                    profiles.list.push(Profile {
                        calls: Vec::new(),
                        phone: call.phone,
                        name: call.name,
                        id: call.id,
                        female: records.female(call),
                        districts: Vec::new(),
                        categories: Vec::new(),
                        counterparties: Vec::new(),
                        first: call.received_at,
                        last: call.received_at,
                        fresh: false,
                    });
                    p
                }
            };
            profiles.of_call.push(index);
            let profile = &mut profiles.list[index as usize];
            profile.calls.push(i as u32);
            profile.first = profile.first.min(call.received_at);
            profile.last = profile.last.max(call.received_at);
            profile.fresh |= fresh(i);
            if let Some(d) = call.district {
                match profile.districts.iter_mut().find(|(x, _)| *x == d) {
                    Some((_, n)) => *n += 1,
                    None => profile.districts.push((d, 1)),
                }
            }
            add_small(&mut profile.categories, call.category);
            if let Some(c) = call.counterparty {
                add_small(&mut profile.counterparties, c);
            }
        }
        for profile in &mut profiles.list {
            profile.districts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        }
        profiles.count_values(records);
        let collision = |counts: &HashMap<u32, u32>, total: u32| -> f64 {
            let total = f64::from(total.max(1));
            // Summed in a fixed order, so the result does not depend on the map's hash seed.
            let mut counts: Vec<u32> = counts.values().copied().collect();
            counts.sort_unstable();
            counts.iter().map(|&n| (f64::from(n) / total).powi(2)).sum()
        };
        profiles.name_collision = collision(&profiles.name_frequency, profiles.full_named);
        profiles.surname_collision = collision(&profiles.surname_frequency, profiles.surnamed);
        profiles.mark_shared_phones(records);
        profiles
    }

    fn count_values(&mut self, records: &Records) {
        for profile in &self.list {
            let Some(name) = profile.name.map(|n| &records.names[n as usize]) else { continue };
            if !name.honorific_only {
                *self.name_frequency.entry(name.pinyin).or_default() += 1;
                self.full_named += 1;
            }
            if let Some(s) = name.surname_pinyin {
                *self.surname_frequency.entry(s).or_default() += 1;
                self.surnamed += 1;
            }
        }
    }

    /// A phone is shared when it was used under two full names that cannot be one person's
    /// (different pinyin) or with two different IDs: a family landline, a shop's phone.
    fn mark_shared_phones(&mut self, records: &Records) {
        let mut seen: HashMap<u32, (Vec<u32>, Option<u32>, bool)> = HashMap::new();
        for profile in &self.list {
            let Some(phone) = profile.phone else { continue };
            let entry = seen.entry(phone).or_insert_with(|| (Vec::new(), None, false));
            if entry.2 {
                continue;
            }
            if let Some(id) = profile.id {
                match entry.1 {
                    Some(other) if other != id => entry.2 = true,
                    _ => entry.1 = Some(id),
                }
            }
            // A middle-dot name counts by its first part, which the same caller also gives alone.
            if let Some(name) = profile.name.map(|n| &records.names[n as usize])
                && !name.honorific_only
                && !entry.0.contains(&name.own_pinyin.unwrap_or(name.pinyin))
            {
                // Homophone typos give the same pinyin; any other difference is another person.
                entry.2 |= !entry.0.is_empty();
                if entry.0.len() < KEPT {
                    entry.0.push(name.own_pinyin.unwrap_or(name.pinyin));
                }
            }
        }
        self.shared_phone = vec![false; records.phones.len()];
        for (phone, (_, _, shared)) in seen {
            self.shared_phone[phone as usize] = shared;
        }
    }

    /// Share of profiles with a full name whose pinyin is this one.
    pub fn name_tf(&self, pinyin: u32) -> f64 {
        let n = self.name_frequency.get(&pinyin).copied().unwrap_or(1);
        f64::from(n) / f64::from(self.full_named.max(1))
    }

    /// Share of profiles with a surname whose surname is this one.
    pub fn surname_tf(&self, pinyin: u32) -> f64 {
        let n = self.surname_frequency.get(&pinyin).copied().unwrap_or(1);
        f64::from(n) / f64::from(self.surnamed.max(1))
    }

    /// Probability that two profiles drawn at random have the same full-name pinyin (Σ tf²).
    pub fn name_collision(&self) -> f64 {
        self.name_collision
    }

    /// Probability that two profiles drawn at random have the same surname (Σ tf²).
    pub fn surname_collision(&self) -> f64 {
        self.surname_collision
    }
}
