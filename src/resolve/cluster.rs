//! Candidate pairs (blocking) and clustering. Blocking compares only profiles that share a phone, an
//! ID or a full name's pinyin (large name blocks are split by district), so the work grows with the
//! number of calls, not its square. Clustering links pairs strongest first and refuses a link that
//! would put two IDs, two sexes or two unrelated full names into one person, and a link between two
//! large clusters needs two independent pairs behind it: one weak link cannot chain two people.

use std::collections::{HashMap, HashSet};

use super::compare::{Comparison, Model, compare};
use super::profile::Profiles;
use super::records::Records;

/// Profiles above which a name block is split by district.
const NAME_BLOCK: usize = 64;

/// Profiles above which a phone or ID block is split by surname.
const KEY_BLOCK: usize = 400;

/// A scored candidate pair of profiles.
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// Profile index.
    pub a: u32,
    /// Profile index.
    pub b: u32,
    /// Levels and term frequency.
    pub comparison: Comparison,
    /// Match weight in bits.
    pub bits: f64,
}

/// Which blocking rule a pair came from first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Same phone key.
    Phone,
    /// Same full-name pinyin.
    Name,
    /// Same ID key.
    Id,
}

/// Candidate pairs of profiles, each once, with the rule that found it; with `fresh_only`, only pairs
/// with at least one profile holding a call new to this run.
pub fn candidate_pairs(records: &Records, profiles: &Profiles, fresh_only: bool) -> Vec<(u32, u32, Rule)> {
    let mut by_phone: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut by_id: HashMap<u32, Vec<u32>> = HashMap::new();
    let mut by_name: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, profile) in profiles.list.iter().enumerate() {
        let i = i as u32;
        if let Some(p) = profile.phone {
            by_phone.entry(p).or_default().push(i);
        }
        if let Some(id) = profile.id {
            by_id.entry(id).or_default().push(i);
        }
        if let Some(name) = profile.name.map(|n| &records.names[n as usize])
            && !name.honorific_only
        {
            by_name.entry(name.pinyin).or_default().push(i);
            // A middle-dot name is also blocked with its first part said alone.
            if let Some(own) = name.own_pinyin {
                by_name.entry(own).or_default().push(i);
            }
        }
    }
    let mut seen: HashSet<u64> = HashSet::new();
    let mut pairs = Vec::new();
    let mut emit = |block: &[u32], rule: Rule, pairs: &mut Vec<(u32, u32, Rule)>| {
        for (k, &a) in block.iter().enumerate() {
            for &b in &block[k + 1..] {
                if fresh_only && !profiles.list[a as usize].fresh && !profiles.list[b as usize].fresh {
                    continue;
                }
                let key = (u64::from(a.min(b)) << 32) | u64::from(a.max(b));
                if seen.insert(key) {
                    pairs.push((a.min(b), a.max(b), rule));
                }
            }
        }
    };
    let split = |block: &[u32], by: &dyn Fn(u32) -> Option<u32>| -> Vec<Vec<u32>> {
        let mut parts: HashMap<Option<u32>, Vec<u32>> = HashMap::new();
        for &p in block {
            parts.entry(by(p)).or_default().push(p);
        }
        let mut parts: Vec<_> = parts.into_iter().collect();
        parts.sort_by_key(|(k, _)| *k);
        parts.into_iter().map(|(_, v)| v).collect()
    };
    let surname = |p: u32| profiles.list[p as usize].name.and_then(|n| records.names[n as usize].surname_pinyin);
    let district = |p: u32| profiles.list[p as usize].main_district();
    let mut blocks = |map: HashMap<u32, Vec<u32>>, rule: Rule, limit: usize, by: &dyn Fn(u32) -> Option<u32>| {
        let mut keys: Vec<_> = map.into_iter().collect();
        keys.sort_by_key(|(k, _)| *k);
        for (_, block) in keys {
            if block.len() <= limit {
                emit(&block, rule, &mut pairs);
            } else {
                for part in split(&block, by) {
                    // A block still too large after splitting is compared in windows of time order.
                    let mut part = part;
                    part.sort_by_key(|&p| profiles.list[p as usize].first);
                    for window in part.chunks(limit) {
                        emit(window, rule, &mut pairs);
                    }
                }
            }
        }
    };
    blocks(by_phone, Rule::Phone, KEY_BLOCK, &surname);
    blocks(by_id, Rule::Id, KEY_BLOCK, &surname);
    blocks(by_name, Rule::Name, NAME_BLOCK, &district);
    pairs
}

/// Compares the profiles of every candidate pair (once: training and scoring both use the result).
pub fn compare_pairs(records: &Records, profiles: &Profiles, pairs: &[(u32, u32, Rule)]) -> Vec<Comparison> {
    use rayon::prelude::*;
    pairs
        .par_iter()
        .map(|&(a, b, _)| compare(records, profiles, &profiles.list[a as usize], &profiles.list[b as usize]))
        .collect()
}

/// Scores compared candidate pairs with the model.
pub fn score(model: &Model, pairs: &[(u32, u32, Rule)], comparisons: Vec<Comparison>) -> Vec<Candidate> {
    pairs
        .iter()
        .zip(comparisons)
        .map(|(&(a, b, _), comparison)| Candidate { a, b, comparison, bits: model.weight(&comparison) })
        .collect()
}

/// What a cluster holds that a merge must not contradict.
#[derive(Debug, Clone, Default)]
struct Summary {
    calls: u32,
    ids: Vec<u32>,
    names: Vec<u32>,
    female: Option<bool>,
}

const SUMMARY_KEPT: usize = 8;

impl Summary {
    fn conflicts(&self, other: &Summary) -> bool {
        let disjoint = |a: &[u32], b: &[u32]| !a.is_empty() && !b.is_empty() && !a.iter().any(|x| b.contains(x));
        disjoint(&self.ids, &other.ids)
            || disjoint(&self.names, &other.names)
            || matches!((self.female, other.female), (Some(a), Some(b)) if a != b)
    }

    fn absorb(&mut self, other: Summary) {
        self.calls += other.calls;
        for id in other.ids {
            if !self.ids.contains(&id) && self.ids.len() < SUMMARY_KEPT {
                self.ids.push(id);
            }
        }
        for name in other.names {
            if !self.names.contains(&name) && self.names.len() < SUMMARY_KEPT {
                self.names.push(name);
            }
        }
        self.female = self.female.or(other.female);
    }
}

/// Settings of the clustering.
#[derive(Debug, Clone, Copy)]
pub struct ClusterSettings {
    /// Pairs below this match weight (bits) are not linked.
    pub threshold: f64,
    /// A pair at or above this weight links even two large clusters on its own.
    pub strong: f64,
    /// Clusters of at least this many calls are "large".
    pub large: u32,
}

impl Default for ClusterSettings {
    fn default() -> Self {
        ClusterSettings { threshold: 6.0, strong: 20.0, large: 5 }
    }
}

/// Union-find over profiles with the constraints that stop chaining.
#[derive(Debug)]
pub struct Clusters {
    parent: Vec<u32>,
    summary: Vec<Summary>,
    /// Best link into its cluster for each profile: (match probability, pattern index into `links`).
    pub best: Vec<Option<(f64, Comparison)>>,
    /// Links refused because they would join contradicting clusters.
    pub refused_conflict: u64,
    /// Weak links between two large clusters that found no second pair.
    pub refused_chain: u64,
    /// Links made.
    pub linked: u64,
}

impl Clusters {
    /// Every profile its own cluster.
    pub fn new(records: &Records, profiles: &Profiles) -> Clusters {
        let summary = profiles
            .list
            .iter()
            .map(|p| Summary {
                calls: p.calls.len() as u32,
                ids: p.id.into_iter().collect(),
                names: p
                    .name
                    .map(|n| &records.names[n as usize])
                    .filter(|n| !n.honorific_only)
                    .map(|n| std::iter::once(n.pinyin).chain(n.own_pinyin).collect())
                    .unwrap_or_default(),
                female: p.female,
            })
            .collect();
        Clusters {
            parent: (0..profiles.list.len() as u32).collect(),
            summary,
            best: vec![None; profiles.list.len()],
            refused_conflict: 0,
            refused_chain: 0,
            linked: 0,
        }
    }

    /// The cluster of a profile.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grand = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grand;
            x = grand;
        }
        x
    }

    /// Joins two clusters unconditionally (what an earlier run decided, or a platform hand-off).
    pub fn join(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (keep, gone) =
            if self.summary[ra as usize].calls >= self.summary[rb as usize].calls { (ra, rb) } else { (rb, ra) };
        let moved = std::mem::take(&mut self.summary[gone as usize]);
        self.summary[keep as usize].absorb(moved);
        self.parent[gone as usize] = keep;
        true
    }

    /// Whether two clusters may be joined without contradiction.
    pub fn compatible(&mut self, a: u32, b: u32) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        ra == rb || !self.summary[ra as usize].conflicts(&self.summary[rb as usize])
    }

    /// Links candidates strongest first under the settings.
    pub fn link(&mut self, mut candidates: Vec<Candidate>, settings: &ClusterSettings) {
        candidates.retain(|c| c.bits >= settings.threshold);
        candidates.sort_by(|x, y| y.bits.total_cmp(&x.bits).then(x.a.cmp(&y.a)).then(x.b.cmp(&y.b)));
        let mut pending: HashMap<(u32, u32), u32> = HashMap::new();
        for candidate in candidates {
            let (ra, rb) = (self.find(candidate.a), self.find(candidate.b));
            let p = super::compare::probability(candidate.bits);
            if ra != rb {
                if self.summary[ra as usize].conflicts(&self.summary[rb as usize]) {
                    self.refused_conflict += 1;
                    continue;
                }
                let large = self.summary[ra as usize].calls.min(self.summary[rb as usize].calls) >= settings.large;
                if large && candidate.bits < settings.strong {
                    let support = pending.entry((ra.min(rb), ra.max(rb))).or_default();
                    *support += 1;
                    if *support < 2 {
                        self.refused_chain += 1;
                        continue;
                    }
                }
                self.join(ra, rb);
                self.linked += 1;
            }
            for profile in [candidate.a, candidate.b] {
                let best = &mut self.best[profile as usize];
                if best.is_none_or(|(q, _)| p > q) {
                    *best = Some((p, candidate.comparison));
                }
            }
        }
        // A chain refusal that was later overcome by a second pair is not a refusal.
        self.refused_chain = self.refused_chain.saturating_sub(pending.values().filter(|&&n| n >= 2).count() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::compare::{COMPARISONS, Comparison};
    use crate::resolve::profile::Profile;

    /// Profiles of `calls` calls each, with an optional ID (interned index).
    fn profiles(spec: &[(usize, Option<u32>)]) -> Profiles {
        let list = spec
            .iter()
            .map(|&(calls, id)| Profile {
                calls: (0..calls as u32).collect(),
                phone: None,
                name: None,
                id,
                female: None,
                districts: Vec::new(),
                categories: Vec::new(),
                counterparties: Vec::new(),
                first: 0,
                last: 0,
                fresh: true,
            })
            .collect();
        Profiles { list, ..Profiles::default() }
    }

    fn candidate(a: u32, b: u32, bits: f64) -> Candidate {
        Candidate { a, b, comparison: Comparison { pattern: [0; COMPARISONS], tf_factor: 1.0 }, bits }
    }

    #[test]
    fn one_weak_pair_does_not_chain_two_large_clusters_but_two_do() {
        let records = Records::default();
        // Two people of three profiles and nine calls each: 0-1-2 and 3-4-5.
        let profiles = profiles(&[(3, None); 6]);
        let mut clusters = Clusters::new(&records, &profiles);
        for (a, b) in [(0, 1), (1, 2), (3, 4), (4, 5)] {
            clusters.join(a, b);
        }
        let settings = ClusterSettings::default();
        clusters.link(vec![candidate(0, 3, 10.0)], &settings);
        assert_ne!(clusters.find(0), clusters.find(3), "one weak pair joined two clusters of nine calls");
        assert_eq!(clusters.refused_chain, 1);
        let mut clusters = Clusters::new(&records, &profiles);
        for (a, b) in [(0, 1), (1, 2), (3, 4), (4, 5)] {
            clusters.join(a, b);
        }
        clusters.link(vec![candidate(0, 3, 10.0), candidate(1, 4, 9.0)], &settings);
        assert_eq!(clusters.find(0), clusters.find(3), "two independent pairs should join them");
        let mut clusters = Clusters::new(&records, &profiles);
        for (a, b) in [(0, 1), (1, 2), (3, 4), (4, 5)] {
            clusters.join(a, b);
        }
        clusters.link(vec![candidate(2, 5, settings.strong + 1.0)], &settings);
        assert_eq!(clusters.find(0), clusters.find(5), "a strong pair joins on its own");
    }

    #[test]
    fn a_small_cluster_joins_on_one_pair_and_weak_pairs_below_threshold_never_do() {
        let records = Records::default();
        let profiles = profiles(&[(20, None), (1, None), (1, None)]);
        let mut clusters = Clusters::new(&records, &profiles);
        let settings = ClusterSettings::default();
        clusters.link(vec![candidate(0, 1, 7.0), candidate(0, 2, settings.threshold - 0.5)], &settings);
        assert_eq!(clusters.find(0), clusters.find(1));
        assert_ne!(clusters.find(0), clusters.find(2));
    }

    #[test]
    fn two_resident_ids_never_end_in_one_cluster() {
        let records = Records::default();
        // 0 and 2 hold different IDs; 1 has none and links strongly to both.
        let profiles = profiles(&[(1, Some(0)), (1, None), (1, Some(1))]);
        let mut clusters = Clusters::new(&records, &profiles);
        clusters.link(vec![candidate(0, 1, 30.0), candidate(1, 2, 29.0)], &ClusterSettings::default());
        assert_eq!(clusters.find(0), clusters.find(1));
        assert_ne!(clusters.find(1), clusters.find(2));
        assert_eq!(clusters.refused_conflict, 1);
    }
}
