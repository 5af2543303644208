//! Profiles: calls that agree exactly on phone, name and ID are one node of the comparison graph,
//! so that a caller with 300 calls from one phone under one name costs one comparison, not 45,000.
//! Also the per-value statistics comparisons need: how common each name and surname is, and which
//! phones are shared by several people.

use std::collections::{BTreeMap, HashMap};

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
        // Ties go by the district's name, not by the order districts were first read in: an
        // incremental run reads fewer calls and must choose as a run over every call does.
        let district = |d: u32| records.districts.value(d);
        for profile in &mut profiles.list {
            profile.districts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| district(a.0).cmp(district(b.0))));
        }
        profiles.count_values(records);
        let frequencies = Frequencies::of(records, &profiles);
        profiles.weigh_by(records, &frequencies);
        profiles.mark_shared_phones(records);
        profiles
    }

    /// Takes the warehouse-wide counts of [`Frequencies`] for term-frequency adjustment (the
    /// counts of full-name pinyins stay the profiles' own: a name compared is a name whose block
    /// was read whole).
    pub fn weigh_by(&mut self, records: &Records, frequencies: &Frequencies) {
        let share = |squares: u64, total: u64| squares as f64 / (total.max(1) as f64).powi(2);
        self.name_collision = share(frequencies.name_squares, frequencies.full_named);
        self.surname_collision = share(frequencies.surname_squares, frequencies.surnamed);
        self.full_named = u32::try_from(frequencies.full_named).unwrap_or(u32::MAX);
        self.surnamed = u32::try_from(frequencies.surnamed).unwrap_or(u32::MAX);
        for (surname, count) in &mut self.surname_frequency {
            let stored = frequencies.surnames.get(records.pinyins.value(*surname)).copied().unwrap_or(0);
            *count = u32::try_from(stored).unwrap_or(u32::MAX).max(1);
        }
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

    /// Whether a profile holds only calls an earlier run did not see.
    fn is_new(profile: &Profile, fresh: &dyn Fn(usize) -> bool) -> bool {
        profile.calls.iter().all(|&c| fresh(c as usize))
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

/// How many profiles hold each surname, with the totals term-frequency adjustment divides by,
/// over every profile of the warehouse. Each run stores them (`resolve_frequencies`), so that an
/// incremental run, which reads only the blocks new calls touch, weighs an agreement as a run over
/// every call would: it adds its new profiles to what the earlier run stored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Frequencies {
    /// Profiles with a full name.
    pub full_named: u64,
    /// Σ over full-name pinyins of the square of its profiles.
    pub name_squares: u64,
    /// Profiles with a surname.
    pub surnamed: u64,
    /// Σ over surnames of the square of its profiles.
    pub surname_squares: u64,
    /// Profiles per surname pinyin.
    pub surnames: BTreeMap<String, u64>,
}

impl Frequencies {
    /// The counts of a set of profiles (a full run: every profile of the warehouse).
    pub fn of(records: &Records, profiles: &Profiles) -> Frequencies {
        let squares = |counts: &HashMap<u32, u32>| counts.values().map(|&n| u64::from(n).pow(2)).sum::<u64>();
        Frequencies {
            full_named: u64::from(profiles.full_named),
            name_squares: squares(&profiles.name_frequency),
            surnamed: u64::from(profiles.surnamed),
            surname_squares: squares(&profiles.surname_frequency),
            surnames: profiles
                .surname_frequency
                .iter()
                .map(|(&s, &n)| (records.pinyins.value(s).to_owned(), u64::from(n)))
                .collect(),
        }
    }

    /// Adds the profiles that hold only new calls (`fresh`) to the counts an earlier run stored.
    /// A new profile's full name is the key of a block read whole, so the profiles that name had
    /// before are counted from `profiles` itself.
    pub fn add_new(&mut self, records: &Records, profiles: &Profiles, fresh: &dyn Fn(usize) -> bool) {
        let mut names: HashMap<u32, (u64, u64)> = HashMap::new();
        let mut surnames: HashMap<u32, u64> = HashMap::new();
        for profile in &profiles.list {
            let Some(name) = profile.name.map(|n| &records.names[n as usize]) else { continue };
            let new = Profiles::is_new(profile, fresh);
            if !name.honorific_only {
                let (before, added) = names.entry(name.pinyin).or_default();
                if new { *added += 1 } else { *before += 1 }
            }
            if new && let Some(s) = name.surname_pinyin {
                *surnames.entry(s).or_default() += 1;
            }
        }
        // Saturating: the stored counts are read from a file and may be anything.
        let grown = |before: u64, added: u64| {
            let after = before.saturating_add(added);
            after.saturating_mul(after).saturating_sub(before.saturating_mul(before))
        };
        for (before, added) in names.into_values().filter(|(_, added)| *added > 0) {
            self.full_named = self.full_named.saturating_add(added);
            self.name_squares = self.name_squares.saturating_add(grown(before, added));
        }
        for (surname, added) in surnames {
            let before = self.surnames.entry(records.pinyins.value(surname).to_owned()).or_default();
            self.surnamed = self.surnamed.saturating_add(added);
            self.surname_squares = self.surname_squares.saturating_add(grown(*before, added));
            *before = before.saturating_add(added);
        }
    }
}
