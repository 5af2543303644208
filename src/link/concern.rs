//! Persons of concern: one caller (however many phones and resolved entities) whose calls grow
//! more frequent, whose language escalates, or whose calls turn to threats or self-harm, scored in
//! bits against this warehouse's own callers so that they rank in one list with organised groups.
//!
//! Each signal is a tail probability under what the warehouse's callers do by chance, in bits
//! (−log2 p), capped at [`SIGNAL_CAP`]:
//! - **volume**: the share of callers with at least as many original calls;
//! - **acceleration**: the Laplace test for a rising rate of calls from the caller's first call to
//!   the end of the data (a Poisson process of constant rate gives a standard normal);
//! - **language**: how many of the calls use words of escalation (上访, 曝光, 忍无可忍 …) or of
//!   threat and self-harm (跳楼, 同归于尽, 汽油 …), against the share of all calls that do
//!   (binomial tail);
//! - **escalation**: whether those words grow over the calls (Mann–Kendall on call order).
//!
//! A person of concern is worth a look when Fisher's combination of the signals, multiplied by the
//! number of callers tried, stays below [`FAMILY_ALPHA`]: with nothing of concern in the data,
//! none is expected.

use std::collections::BTreeMap;

use super::leads::{Callers, Lead, log2_poisson_tail};
use super::load::Incidents;
pub use super::words::{ESCALATION_WORDS, THREAT_WORDS, language_level, threat_words_in};

/// Original calls below which a caller is not tried.
pub const MIN_CALLS: usize = 6;

/// Most bits one signal contributes.
pub const SIGNAL_CAP: f64 = 40.0;

/// Family-wise chance of one caller worth a look when nothing is of concern.
pub const FAMILY_ALPHA: f64 = 0.01;

/// log2 of the upper tail of the standard normal at z (≤ 0).
pub fn log2_normal_tail(z: f64) -> f64 {
    if z <= 0.0 {
        return (0.5f64 + 0.5 * erf_approx(-z / std::f64::consts::SQRT_2)).log2().min(0.0);
    }
    if z < 6.0 {
        return (0.5 * erfc_approx(z / std::f64::consts::SQRT_2)).log2();
    }
    // Mills ratio for the far tail.
    (-(z * z) / 2.0 - (z * (2.0 * std::f64::consts::PI).sqrt()).ln()) / std::f64::consts::LN_2
}

fn erf_approx(x: f64) -> f64 {
    1.0 - erfc_approx(x)
}

/// erfc by the Numerical Recipes Chebyshev fit (relative error < 1.2e-7).
fn erfc_approx(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// P(χ² with 2k degrees of freedom ≥ x), closed form for even degrees of freedom.
pub fn chi2_even_tail(x: f64, k: usize) -> f64 {
    let half = x / 2.0;
    let mut term = 1.0;
    let mut sum = 1.0;
    for i in 1..k {
        term *= half / i as f64;
        sum += term;
    }
    ((-half).exp() * sum).min(1.0)
}

/// Mann–Kendall z of a series against its order (ties corrected); 0 when too short or constant.
pub fn mann_kendall_z(values: &[u8]) -> f64 {
    let n = values.len();
    if n < 4 {
        return 0.0;
    }
    let mut s = 0i64;
    for i in 0..n {
        for j in i + 1..n {
            s += i64::from(values[j] > values[i]) - i64::from(values[j] < values[i]);
        }
    }
    let mut ties: BTreeMap<u8, u64> = BTreeMap::new();
    for &v in values {
        *ties.entry(v).or_default() += 1;
    }
    let var_of = |t: f64| t * (t - 1.0) * (2.0 * t + 5.0);
    let var = (var_of(n as f64) - ties.values().map(|&t| var_of(t as f64)).sum::<f64>()) / 18.0;
    if var <= 0.0 {
        return 0.0;
    }
    let s = s as f64;
    let corrected = if s > 0.0 {
        s - 1.0
    } else if s < 0.0 {
        s + 1.0
    } else {
        0.0
    };
    corrected / var.sqrt()
}

/// Laplace's trend statistic of event times after the first, over the window from the first
/// event to `end`: standard normal for a constant rate, positive when calls come faster.
pub fn laplace_trend(times: &[i64], end: i64) -> f64 {
    let Some(&first) = times.first() else { return 0.0 };
    let span = (end - first) as f64;
    let later = &times[1..];
    if later.len() < 3 || span <= 0.0 {
        return 0.0;
    }
    let m = later.len() as f64;
    let mean = later.iter().map(|&t| (t - first) as f64).sum::<f64>() / m;
    (mean - span / 2.0) / (span * (1.0 / (12.0 * m)).sqrt())
}

/// The warehouse's baseline: what callers do by chance.
#[derive(Debug, Clone)]
pub struct Baseline {
    /// Callers tried (at least [`MIN_CALLS`] original calls).
    pub tried: usize,
    /// Callers with any original call.
    pub callers: usize,
    /// Share of original calls with escalation or threat words, by category (interned index):
    /// a repeat noise complaint says 多次反映 more often than a theft report does.
    pub escalation_share: Vec<f64>,
    /// Share of original calls with threat words, by category.
    pub threat_share: Vec<f64>,
    /// Original calls counted per caller, sorted descending (for the volume tail).
    volumes: Vec<usize>,
    /// The last call of the data.
    pub end: i64,
}

/// Weight, in calls, of the warehouse-wide share in each category's smoothed share.
const PRIOR_CALLS: f64 = 50.0;

impl Baseline {
    /// The baseline of the warehouse's calls and callers.
    pub fn of(incidents: &Incidents, callers: &Callers) -> Baseline {
        let categories = incidents.categories.len();
        let mut counts = vec![(0.0f64, 0.0f64, 0.0f64); categories];
        for c in incidents.list.iter().filter(|c| c.source.is_none()) {
            let slot = &mut counts[c.category as usize];
            slot.0 += 1.0;
            slot.1 += f64::from(u8::from(c.language >= 1));
            slot.2 += f64::from(u8::from(c.language >= 2));
        }
        let total: (f64, f64, f64) = counts.iter().fold((0.0, 0.0, 0.0), |a, c| (a.0 + c.0, a.1 + c.1, a.2 + c.2));
        // Smoothed, so one word in a quiet warehouse or category is not a certainty.
        let global = |k: f64| (k + 1.0) / (total.0 + 2.0);
        let share = |k: f64, n: f64, g: f64| (k + PRIOR_CALLS * g) / (n + PRIOR_CALLS);
        let (g1, g2) = (global(total.1), global(total.2));
        let mut volumes: Vec<usize> = callers.calls.iter().map(Vec::len).filter(|&k| k > 0).collect();
        volumes.sort_unstable_by(|a, b| b.cmp(a));
        Baseline {
            tried: volumes.iter().filter(|&&k| k >= MIN_CALLS).count(),
            callers: volumes.len(),
            escalation_share: counts.iter().map(|c| share(c.1, c.0, g1)).collect(),
            threat_share: counts.iter().map(|c| share(c.2, c.0, g2)).collect(),
            volumes,
            end: incidents.list.iter().map(|c| c.time).max().unwrap_or(0),
        }
    }

    /// Share of callers with at least `k` original calls.
    fn volume_tail(&self, k: usize) -> f64 {
        let at_least = self.volumes.partition_point(|&v| v >= k);
        at_least.max(1) as f64 / self.callers.max(1) as f64
    }
}

/// One caller's signals in bits.
#[derive(Debug, Clone, Copy, Default)]
pub struct Signals {
    /// Many calls.
    pub volume: f64,
    /// Calls coming faster.
    pub acceleration: f64,
    /// Words of escalation or threat.
    pub language: f64,
    /// Those words growing over the calls.
    pub escalation: f64,
}

impl Signals {
    fn all(&self) -> [f64; 4] {
        [self.volume, self.acceleration, self.language, self.escalation]
    }

    /// Sum of the signals' bits.
    pub fn total(&self) -> f64 {
        self.all().iter().sum()
    }

    /// −log2 of the chance that some caller tried scores this much (Fisher's method over the
    /// signals, times the callers tried).
    pub fn family_bits(&self, tried: usize) -> f64 {
        let x = 2.0 * std::f64::consts::LN_2 * self.total();
        let p = chi2_even_tail(x, 4).max(1e-300);
        -(p * tried.max(1) as f64).min(1.0).log2()
    }
}

fn capped(bits: f64) -> f64 {
    if bits.is_finite() { bits.clamp(0.0, SIGNAL_CAP) } else { SIGNAL_CAP }
}

/// The signals of one caller's original calls (time order).
pub fn signals(incidents: &Incidents, calls: &[u32], baseline: &Baseline) -> Signals {
    let n = calls.len();
    let times: Vec<i64> = calls.iter().map(|&c| incidents.list[c as usize].time).collect();
    let levels: Vec<u8> = calls.iter().map(|&c| incidents.list[c as usize].language).collect();
    let escalated = levels.iter().filter(|&&l| l >= 1).count();
    let threats = levels.iter().filter(|&&l| l >= 2).count();
    let expected = |shares: &[f64]| -> f64 {
        calls.iter().map(|&c| shares.get(incidents.list[c as usize].category as usize).copied().unwrap_or(1.0)).sum()
    };
    let language = (-log2_poisson_tail(escalated as u32, expected(&baseline.escalation_share)))
        .max(-log2_poisson_tail(threats as u32, expected(&baseline.threat_share)));
    Signals {
        volume: capped(-baseline.volume_tail(n).log2()),
        acceleration: capped(-log2_normal_tail(laplace_trend(&times, baseline.end))),
        language: capped(language),
        escalation: capped(-log2_normal_tail(mann_kendall_z(&levels))),
    }
}

/// Bits a person of concern needs to be worth a look: chance across the callers tried stays
/// below [`FAMILY_ALPHA`].
pub fn worth_a_look_bits() -> f64 {
    -FAMILY_ALPHA.log2()
}

/// `leads.kind` of an organised group.
pub const KIND_GROUP: &str = "organised_group";

/// `leads.kind` of a person of concern.
pub const KIND_CONCERN: &str = "person_of_concern";

/// The kind of a lead: persons of concern carry their signals' bits.
pub fn kind_of(lead: &Lead) -> &'static str {
    if lead.bits.contains_key("concern_volume") { KIND_CONCERN } else { KIND_GROUP }
}

/// The signals' bits of a person of concern (0 for a group).
pub fn concern_bits(lead: &Lead) -> f64 {
    lead.bits.iter().filter(|(k, _)| k.starts_with("concern_")).map(|(_, b)| b).sum()
}

/// Persons of concern placed on the leads' scale: a lead's score is worth a look at
/// `worth_a_look` bits, and a person of concern reaches it exactly when chance across the callers
/// tried falls below [`FAMILY_ALPHA`]; above that, each bit beyond chance is a bit of score.
pub fn on_lead_scale(concerns: Vec<Concern>, worth_a_look: f64) -> Vec<Lead> {
    concerns
        .into_iter()
        .map(|c| {
            let mut lead = c.lead;
            lead.score = (worth_a_look + c.family_bits - worth_a_look_bits()).max(0.0);
            lead
        })
        .collect()
}

/// A person of concern as found.
#[derive(Debug, Clone)]
pub struct Concern {
    /// The lead (its score is the signals' sum).
    pub lead: Lead,
    /// The signals.
    pub signals: Signals,
    /// Bits beyond chance across the callers tried.
    pub family_bits: f64,
}

const WEEK: i64 = 7 * 86_400_000_000;

/// Every caller whose signals are unlike chance, best first (not yet numbered).
pub fn persons_of_concern(incidents: &Incidents, callers: &Callers, baseline: &Baseline) -> Vec<Concern> {
    let mut out = Vec::new();
    // Transfer records belong to the person whose call they carry on.
    let mut transfers: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (i, call) in incidents.list.iter().enumerate() {
        if let Some(source) = call.source {
            transfers.entry(source).or_default().push(i as u32);
        }
    }
    for (caller, calls) in callers.calls.iter().enumerate() {
        if calls.len() < MIN_CALLS {
            continue;
        }
        let signals = signals(incidents, calls, baseline);
        let family_bits = signals.family_bits(baseline.tried);
        // Only a caller whose calls say something besides their number: volume alone is a
        // frequent caller, not a person of concern.
        if family_bits <= 0.0 || signals.language + signals.acceleration + signals.escalation < 10.0 {
            continue;
        }
        let mut lead = concern_lead(incidents, callers, caller as u32, calls, &signals);
        let mut all: Vec<u32> = calls
            .iter()
            .flat_map(|c| std::iter::once(*c).chain(transfers.get(c).into_iter().flatten().copied()))
            .collect();
        all.sort_by_key(|&c| (incidents.list[c as usize].time, c));
        lead.calls = all;
        out.push(Concern { lead, signals, family_bits });
    }
    out.sort_by(|a, b| b.lead.score.total_cmp(&a.lead.score).then(a.lead.calls.first().cmp(&b.lead.calls.first())));
    out
}

fn concern_lead(incidents: &Incidents, callers: &Callers, caller: u32, calls: &[u32], signals: &Signals) -> Lead {
    let entities = callers.list[caller as usize].clone();
    let list = |c: u32| &incidents.list[c as usize];
    let mut phones: Vec<u32> = calls.iter().filter_map(|&c| list(c).phone).collect();
    phones.sort_unstable();
    phones.dedup();
    let mut organisations: BTreeMap<u32, usize> = BTreeMap::new();
    let mut categories: BTreeMap<u32, usize> = BTreeMap::new();
    let mut districts: Vec<u32> = Vec::new();
    for &c in calls {
        if let Some(o) = list(c).organisation {
            *organisations.entry(o).or_default() += 1;
        }
        *categories.entry(list(c).category).or_default() += 1;
        if let Some(d) = list(c).district
            && !districts.contains(&d)
        {
            districts.push(d);
        }
    }
    let top = |m: &BTreeMap<u32, usize>| m.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(k, n)| (*k, *n));
    let category = top(&categories).map(|(k, _)| incidents.categories.value(k).to_owned()).unwrap_or_default();
    let (first, last) = (list(calls[0]).time, list(calls[calls.len() - 1]).time);
    let weeks = ((last - first) / WEEK + 1).max(1);
    let about = match top(&organisations) {
        Some((_, n)) if n * 2 >= calls.len() => format!(" about one counterparty ({n} of them)"),
        _ => String::new(),
    };
    let mut evidence = vec![format!(
        "one caller, {} phone(s), {} calls (besides transfer records) in {weeks} week(s){about}, mostly {category}: person of concern, signals {:.0} bits",
        phones.len(),
        calls.len(),
        signals.total()
    )];
    let weekly = weekly_counts(incidents, calls);
    let third = weekly.len().div_ceil(3).max(1);
    let early: usize = weekly.iter().take(third).sum();
    let late: usize = weekly.iter().rev().take(third).sum();
    if signals.acceleration >= 3.0 {
        evidence.push(format!(
            "calls coming faster: {early} in the first {third} week(s) of the span, {late} in the last {third} ({:.0} bits)",
            signals.acceleration
        ));
    }
    let levels: Vec<u8> = calls.iter().map(|&c| list(c).language).collect();
    let escalated = levels.iter().filter(|&&l| l >= 1).count();
    let threats = levels.iter().filter(|&&l| l >= 2).count();
    if escalated > 0 {
        let mut words: Vec<&str> = Vec::new();
        for &c in calls.iter().rev() {
            for &w in incidents.threat_words.get(&c).into_iter().flatten() {
                if !words.contains(&w) && words.len() < 3 {
                    words.push(w);
                }
            }
        }
        let tail_threats = levels.iter().rev().take_while(|&&l| l >= 2).count();
        let said = if words.is_empty() { String::new() } else { format!(", saying {}", words.join(" / ")) };
        let last =
            if tail_threats > 1 { format!("; the last {tail_threats} in a row threaten") } else { String::new() };
        evidence.push(format!(
            "{escalated} call(s) with words of escalation, {threats} of threat or self-harm{said}{last} ({:.0} bits against the categories' usual wording)",
            signals.language
        ));
    }
    if signals.escalation >= 3.0 {
        evidence.push(format!("the language grows over the calls ({:.0} bits)", signals.escalation));
    }
    if signals.volume >= 3.0 {
        evidence.push(format!("more calls than all but a small share of callers ({:.0} bits)", signals.volume));
    }
    if entities.len() > 1 {
        let names: Vec<&str> = entities.iter().map(|&e| incidents.entities.value(e)).take(4).collect();
        evidence.push(format!("{} resolved entities taken for one caller: {}", entities.len(), names.join(", ")));
    }
    let mut bits = BTreeMap::new();
    bits.insert("concern_volume", signals.volume);
    bits.insert("concern_acceleration", signals.acceleration);
    bits.insert("concern_language", signals.language);
    bits.insert("concern_escalation", signals.escalation);
    Lead {
        lead_id: String::new(),
        score: signals.total(),
        calls: calls.to_vec(),
        entities,
        reports: Vec::new(),
        centrality: vec![(0, 0.0)],
        callers: vec![caller],
        evidence,
        bits,
        category,
        targets: organisations.len(),
        districts: districts.len(),
        span: (first, last),
    }
}

/// Calls per week from the first call on.
fn weekly_counts(incidents: &Incidents, calls: &[u32]) -> Vec<usize> {
    let first = incidents.list[calls[0] as usize].time;
    let mut weeks: Vec<usize> = Vec::new();
    for &c in calls {
        let w = ((incidents.list[c as usize].time - first) / WEEK) as usize;
        if weeks.len() <= w {
            weeks.resize(w + 1, 0);
        }
        weeks[w] += 1;
    }
    weeks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::leads::log2_binomial_tail;

    #[test]
    fn language_levels_tell_threats_from_escalation() {
        assert_eq!(language_level("来电人称已经走投无路，扬言要从楼上跳下去。"), 2);
        assert_eq!(language_level("来电人称再不解决就去上访。"), 1);
        assert_eq!(language_level("楼上漏水，请物业处理。"), 0);
    }

    #[test]
    fn tails_agree_with_known_values() {
        // P(X ≥ 3), X ~ Bin(10, 0.1) = 0.0701908.
        assert!((log2_binomial_tail(3, 10, 0.1).exp2() - 0.070_190_8).abs() < 1e-6);
        assert!((log2_normal_tail(1.96).exp2() - 0.024_997_9).abs() < 1e-5);
        assert!((log2_normal_tail(0.0).exp2() - 0.5).abs() < 1e-6);
        assert!((log2_normal_tail(8.0) - (6.22e-16f64).log2()).abs() < 0.1);
        // χ² with 4 degrees of freedom: P(≥ 9.488) = 0.05.
        assert!((chi2_even_tail(9.4877, 2) - 0.05).abs() < 1e-4);
    }

    #[test]
    fn trend_statistics_see_rising_and_steady_series() {
        let day = 86_400_000_000i64;
        let steady: Vec<i64> = (0..30).map(|i| i * 10 * day).collect();
        assert!(laplace_trend(&steady, 300 * day).abs() < 1.0);
        // Times as the square root of uniform steps come thicker towards the end; as the square, thinner.
        let rising: Vec<i64> = (0..30).map(|i| ((i as f64 / 30.0).sqrt() * 300.0) as i64 * day).collect();
        let falling: Vec<i64> = (0..30).map(|i| ((i as f64 / 30.0).powi(2) * 300.0) as i64 * day).collect();
        assert!(laplace_trend(&falling, 300 * day) < -2.0);
        assert!(laplace_trend(&rising, 300 * day) > 2.0);
        assert!(mann_kendall_z(&[0, 0, 0, 1, 1, 1, 2, 2, 2, 2]) > 3.0);
        assert_eq!(mann_kendall_z(&[1, 1, 1, 1, 1]), 0.0);
    }
}
