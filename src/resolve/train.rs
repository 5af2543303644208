//! Estimating the model from the data, as Splink does: u probabilities from random pairs of profiles,
//! m probabilities by expectation maximisation over blocked pairs (one session blocked on phone,
//! which cannot learn the phone's m, one blocked on the name's pinyin, which cannot learn the name's;
//! each supplies what the other cannot), and the prior from the first session's match count.

use std::collections::HashMap;

use rand::{RngExt, SeedableRng};

#[cfg(test)]
use super::compare::DISTRICT;
use super::compare::{COMPARISONS, Comparison, DEFS, ID, Model, NAME, PHONE, Pattern, compare};
use super::profile::Profiles;
use super::records::Records;

/// Random pairs drawn for the u probabilities.
pub const U_SAMPLE: usize = 2_000_000;

/// EM iterations (the histogram of patterns is small, so this is cheap).
const EM_ITERATIONS: usize = 40;

/// Whether a pair counts towards the u probabilities of comparison `c`: it must disagree on an
/// identifier independent of `c` (different names for every comparison but the name; different
/// phones for the name), so that the true matches among random pairs do not inflate u. Without this,
/// "same phone" among random pairs is mostly the same person calling twice, and its u (so its weight)
/// is wrong by orders of magnitude.
fn reference_non_match(c: usize, pattern: &Pattern) -> bool {
    let other_id = pattern[ID] != 3;
    if c == NAME { pattern[PHONE] == 1 && other_id } else { pattern[NAME] == 1 && other_id }
}

/// Pairs of `n` items.
fn pairs_of(n: u64) -> f64 {
    (n as f64) * (n.saturating_sub(1) as f64) / 2.0
}

/// u probabilities. Common levels come from random pairs of profiles that are reference non-matches
/// for the comparison (see [`reference_non_match`]). The rare agreement levels (same phone, same ID,
/// same name or pinyin) are too rare among non-matches for any sample to see at a million calls;
/// they are counted exactly instead: pairs that agree on the level but disagree on the reference
/// identifier (from the candidate pairs, or from value counts for names), over all pairs times the
/// sampled share of reference non-matches. Add-one-half smoothing keeps every u finite.
pub fn estimate_u(
    records: &Records,
    profiles: &Profiles,
    candidates: &[Comparison],
    seed: u64,
) -> [Vec<f64>; COMPARISONS] {
    let n = profiles.list.len();
    let mut counts: [Vec<f64>; COMPARISONS] = std::array::from_fn(|c| vec![0.0; DEFS[c].levels.len()]);
    let mut reference = [0.0f64; COMPARISONS];
    let mut drawn = 0.0f64;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    if n >= 2 {
        for _ in 0..U_SAMPLE.min(n * (n - 1) / 2) {
            let a = rng.random_range(0..n);
            let b = rng.random_range(0..n);
            if a == b {
                continue;
            }
            let comparison = compare(records, profiles, &profiles.list[a], &profiles.list[b]);
            drawn += 1.0;
            for c in 0..COMPARISONS {
                if reference_non_match(c, &comparison.pattern) {
                    counts[c][usize::from(comparison.pattern[c])] += 1.0;
                    reference[c] += 1.0;
                }
            }
        }
    }
    let mut u: [Vec<f64>; COMPARISONS] = std::array::from_fn(|c| {
        let levels = counts[c].len() as f64;
        counts[c].iter().map(|k| (k + 0.5) / (reference[c] + 0.5 * levels)).collect()
    });
    // Exact counts of the rare agreement levels among reference non-matches.
    let all_pairs = pairs_of(n as u64).max(1.0);
    let share = |c: usize| (reference[c] / drawn.max(1.0)).max(1e-9);
    let mut rare: HashMap<(usize, u8), f64> = HashMap::new();
    for comparison in candidates {
        let p = comparison.pattern;
        for (c, levels) in [(PHONE, &[2u8, 3][..]), (ID, &[3u8][..])] {
            if levels.contains(&p[c]) && reference_non_match(c, &p) {
                *rare.entry((c, p[c])).or_default() += 1.0;
            }
        }
        // Same-name pairs on one phone are not reference non-matches for the name; subtracted below.
        if matches!(p[NAME], 4 | 5) && !reference_non_match(NAME, &p) {
            *rare.entry((NAME, p[NAME])).or_default() -= 1.0;
        }
    }
    // Every same-name (same pinyin) pair, blocked or not, from value counts.
    let exact_pairs: f64 = {
        let mut by_name: HashMap<u32, u64> = HashMap::new();
        for profile in &profiles.list {
            if let Some(name) = profile.name.filter(|&x| !records.names[x as usize].honorific_only) {
                *by_name.entry(name).or_default() += 1;
            }
        }
        by_name.values().map(|&k| pairs_of(k)).sum()
    };
    let pinyin_pairs: f64 = profiles.name_frequency.values().map(|&k| pairs_of(u64::from(k))).sum();
    *rare.entry((NAME, 5)).or_default() += exact_pairs;
    *rare.entry((NAME, 4)).or_default() += pinyin_pairs - exact_pairs;
    for c in [PHONE, ID, NAME] {
        let levels: &[u8] = match c {
            PHONE => &[2, 3],
            ID => &[3],
            _ => &[4, 5],
        };
        for &level in levels {
            let count = rare.get(&(c, level)).copied().unwrap_or(0.0).max(0.0);
            u[c][usize::from(level)] = (count + 0.5) / (all_pairs * share(c));
        }
        // The common levels keep their sampled proportions within what the rare ones leave.
        let rare_total: f64 = levels.iter().map(|&l| u[c][usize::from(l)]).sum();
        let common_total: f64 = (0..u[c].len()).filter(|l| !levels.contains(&(*l as u8))).map(|l| u[c][l]).sum();
        for l in (0..u[c].len()).filter(|l| !levels.contains(&(*l as u8))) {
            u[c][l] *= (1.0 - rare_total).max(1e-9) / common_total.max(1e-12);
        }
    }
    u
}

/// Starting m probabilities: "no data" as common as among random pairs, the rest rising with agreement.
fn initial_m(u: &[Vec<f64>; COMPARISONS]) -> [Vec<f64>; COMPARISONS] {
    std::array::from_fn(|c| {
        let levels = u[c].len();
        let mut m: Vec<f64> = (0..levels).map(|l| if l == 0 { u[c][0] } else { (l * l) as f64 }).collect();
        let data: f64 = m[1..].iter().sum();
        let share = 1.0 - m[0];
        for v in &mut m[1..] {
            *v = *v / data * share;
        }
        m
    })
}

/// Result of one EM session.
#[derive(Debug, Clone)]
pub struct Session {
    /// m estimates (the blocked comparison's are meaningless).
    pub m: [Vec<f64>; COMPARISONS],
    /// Share of the session's pairs that are matches.
    pub lambda: f64,
    /// Pairs in the session.
    pub pairs: f64,
}

/// EM over a histogram of patterns with u fixed; `blocked` is the comparison the pairs were blocked on,
/// left out of the likelihood.
pub fn expectation_maximisation(
    histogram: &HashMap<Pattern, f64>,
    u: &[Vec<f64>; COMPARISONS],
    blocked: usize,
) -> Session {
    let mut m = initial_m(u);
    let mut lambda = 0.5;
    // In pattern order: floating-point sums must not depend on the map's (random) iteration order.
    let mut histogram: Vec<(&Pattern, f64)> = histogram.iter().map(|(p, &n)| (p, n)).collect();
    histogram.sort_unstable_by_key(|(p, _)| **p);
    let total: f64 = histogram.iter().map(|(_, n)| n).sum();
    for _ in 0..EM_ITERATIONS {
        let mut matched: [Vec<f64>; COMPARISONS] = std::array::from_fn(|c| vec![0.0; u[c].len()]);
        let mut matches = 0.0;
        for &(pattern, count) in &histogram {
            let (mut pm, mut pu) = (lambda, 1.0 - lambda);
            for c in (0..COMPARISONS).filter(|&c| c != blocked) {
                let l = usize::from(pattern[c]);
                pm *= m[c][l];
                pu *= u[c][l];
            }
            let w = if pm + pu > 0.0 { pm / (pm + pu) } else { 0.0 } * count;
            matches += w;
            for c in 0..COMPARISONS {
                matched[c][usize::from(pattern[c])] += w;
            }
        }
        lambda = (matches / total.max(1.0)).clamp(1e-9, 1.0 - 1e-9);
        for c in 0..COMPARISONS {
            let sum: f64 = matched[c].iter().sum();
            if sum > 0.0 {
                m[c] = matched[c].iter().map(|k| (k / sum).max(1e-6)).collect();
            }
        }
    }
    Session { m, lambda, pairs: total }
}

/// Combines a session blocked on phone and one blocked on name into the model; the prior is the
/// number of matches among phone-blocked pairs, scaled up by the share of matches that share a phone,
/// over all pairs of profiles.
pub fn combine(by_phone: &Session, by_name: &Session, u: [Vec<f64>; COMPARISONS], profiles: usize) -> Model {
    let m: [Vec<f64>; COMPARISONS] = std::array::from_fn(|c| match c {
        PHONE => by_name.m[c].clone(),
        NAME => by_phone.m[c].clone(),
        _ => by_phone.m[c].iter().zip(&by_name.m[c]).map(|(a, b)| (a + b) / 2.0).collect(),
    });
    let phone_agree = (m[PHONE][2] + m[PHONE][3]).max(1e-3);
    let matches = by_phone.lambda * by_phone.pairs / phone_agree;
    let all_pairs = (profiles as f64) * (profiles as f64 - 1.0) / 2.0;
    let prior = (matches / all_pairs.max(1.0)).clamp(1e-12, 0.5);
    Model { prior, m, u }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn em_separates_a_mixture_and_learns_m_of_unblocked_fields() {
        // 300 matches and 700 non-matches compared on name and district; u is known, m is learnt.
        let mut u: [Vec<f64>; COMPARISONS] = std::array::from_fn(|c| {
            let mut v = vec![1e-9; DEFS[c].levels.len()];
            v[0] = 1.0;
            v
        });
        u[NAME] = vec![1e-9, 0.99, 1e-9, 1e-9, 1e-9, 0.01];
        u[DISTRICT] = vec![1e-9, 0.9, 1e-9, 0.1];
        let (m_name, m_district) = (0.9, 0.8);
        let mut histogram = HashMap::new();
        for (name, p_match, p_non) in [(5u8, m_name, 0.01), (1, 1.0 - m_name, 0.99)] {
            for (district, q_match, q_non) in [(3u8, m_district, 0.1), (1, 1.0 - m_district, 0.9)] {
                let mut pattern = [0u8; COMPARISONS];
                pattern[NAME] = name;
                pattern[DISTRICT] = district;
                histogram.insert(pattern, 300.0 * p_match * q_match + 700.0 * p_non * q_non);
            }
        }
        let session = expectation_maximisation(&histogram, &u, PHONE);
        assert!((session.lambda - 0.3).abs() < 0.02, "lambda {}", session.lambda);
        assert!((session.m[NAME][5] - 0.9).abs() < 0.02, "m(name exact) {}", session.m[NAME][5]);
        assert!((session.m[DISTRICT][3] - 0.8).abs() < 0.02, "m(district) {}", session.m[DISTRICT][3]);
    }
}
