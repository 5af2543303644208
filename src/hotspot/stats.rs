//! The statistics of hotspot analysis: Getis–Ord Gi* z-scores (as ArcGIS and PySAL esda compute
//! them with binary weights), normal p-values, Benjamini–Hochberg false-discovery-rate control,
//! the Mann–Kendall trend test, and ArcGIS's emerging hot spot categories.

/// Gi* z-score of every observation, with binary weights: `neighbours[i]` lists the observations
/// in i's neighbourhood, i itself included (the "star"). z_i = (Σ_j x_j − x̄ W_i) /
/// (S √((n W_i − W_i²) / (n − 1))), with W_i the neighbourhood's size and S the population
/// standard deviation of all x. 0 where the variance is 0.
pub fn gi_star(values: &[f64], neighbours: &[Vec<u32>]) -> Vec<f64> {
    let n = values.len() as f64;
    if values.len() < 2 {
        return vec![0.0; values.len()];
    }
    let mean = values.iter().sum::<f64>() / n;
    let variance = values.iter().map(|x| x * x).sum::<f64>() / n - mean * mean;
    let s = variance.max(0.0).sqrt();
    neighbours
        .iter()
        .map(|list| {
            let w = list.len() as f64;
            let sum: f64 = list.iter().map(|&j| values[j as usize]).sum();
            let denominator = s * ((n * w - w * w) / (n - 1.0)).max(0.0).sqrt();
            if denominator > 0.0 { (sum - mean * w) / denominator } else { 0.0 }
        })
        .collect()
}

/// The complementary error function (W. J. Cody's rational approximations, relative error
/// below 1e-15 over the whole line).
pub fn erfc(x: f64) -> f64 {
    if x.is_nan() {
        return f64::NAN;
    }
    let ax = x.abs();
    let result = if ax <= 0.468_75 {
        1.0 - erf_small(x)
    } else if ax < 4.0 {
        let value = erfc_middle(ax);
        if x < 0.0 { 2.0 - value } else { value }
    } else {
        let value = erfc_large(ax);
        if x < 0.0 { 2.0 - value } else { value }
    };
    result.clamp(0.0, 2.0)
}

// Cody's published coefficients, kept as printed.
#[allow(clippy::excessive_precision)]
fn erf_small(x: f64) -> f64 {
    const A: [f64; 5] = [
        3.161_123_743_870_565_6,
        113.864_154_151_050_16,
        377.485_237_685_302_0,
        3_209.377_589_138_469_5,
        0.185_777_706_184_603_15,
    ];
    const B: [f64; 4] =
        [23.601_290_952_344_122, 244.024_637_934_444_17, 1_282.616_526_077_372_3, 2_844.236_833_439_170_6];
    let z = x * x;
    let mut num = A[4] * z;
    let mut den = z;
    for i in 0..3 {
        num = (num + A[i]) * z;
        den = (den + B[i]) * z;
    }
    x * (num + A[3]) / (den + B[3])
}

// Cody's published coefficients, kept as printed.
#[allow(clippy::excessive_precision)]
fn erfc_middle(ax: f64) -> f64 {
    const C: [f64; 9] = [
        0.564_188_496_988_670_1,
        8.883_149_794_388_376,
        66.119_190_637_141_63,
        298.635_138_197_400_1,
        881.952_221_241_769_1,
        1_712.047_612_634_070_7,
        2_051.078_377_826_071_6,
        1_230.339_354_797_997_2,
        2.153_115_354_744_038_3e-8,
    ];
    const D: [f64; 8] = [
        15.744_926_110_709_835,
        117.693_950_891_312_5,
        537.181_101_862_009_9,
        1_621.389_574_566_690_3,
        3_290.799_235_733_459_7,
        4_362.619_090_143_247,
        3_439.367_674_143_721_6,
        1_230.339_354_803_749_4,
    ];
    let mut num = C[8] * ax;
    let mut den = ax;
    for i in 0..7 {
        num = (num + C[i]) * ax;
        den = (den + D[i]) * ax;
    }
    let r = (num + C[7]) / (den + D[7]);
    scaled(ax) * r
}

// Cody's published coefficients, kept as printed.
#[allow(clippy::excessive_precision)]
fn erfc_large(ax: f64) -> f64 {
    const P: [f64; 6] = [
        0.305_326_634_961_232_36,
        0.360_344_899_949_804_4,
        0.125_781_726_111_229_25,
        0.016_083_785_148_742_275,
        6.587_491_615_298_378e-4,
        0.016_315_387_137_302_097,
    ];
    const Q: [f64; 5] = [
        2.568_520_192_289_822,
        1.872_952_849_923_460_4,
        0.527_905_102_951_428_4,
        0.060_518_341_312_441_32,
        0.002_335_204_976_268_691_8,
    ];
    const SQRT_PI_INVERSE: f64 = 0.564_189_583_547_756_3;
    let z = 1.0 / (ax * ax);
    let mut num = P[5] * z;
    let mut den = z;
    for i in 0..4 {
        num = (num + P[i]) * z;
        den = (den + Q[i]) * z;
    }
    let r = z * (num + P[4]) / (den + Q[4]);
    let r = (SQRT_PI_INVERSE - r) / ax;
    scaled(ax) * r
}

/// exp(−x²), computed in two parts to keep precision.
fn scaled(ax: f64) -> f64 {
    let y = (ax * 16.0).trunc() / 16.0;
    let delta = (ax - y) * (ax + y);
    (-y * y).exp() * (-delta).exp()
}

/// Two-sided p-value of a standard normal z-score.
pub fn p_two_sided(z: f64) -> f64 {
    erfc(z.abs() / std::f64::consts::SQRT_2)
}

/// Benjamini–Hochberg: which p-values are significant at false-discovery rate `alpha`.
pub fn fdr_significant(p: &[f64], alpha: f64) -> Vec<bool> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut cutoff = None;
    for (rank, &i) in order.iter().enumerate() {
        if p[i] <= alpha * (rank + 1) as f64 / m as f64 {
            cutoff = Some(rank);
        }
    }
    let mut out = vec![false; m];
    if let Some(last) = cutoff {
        for &i in &order[..=last] {
            out[i] = true;
        }
    }
    out
}

/// A Mann–Kendall trend test (the original test, ties corrected).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannKendall {
    /// S = Σ_{i<j} sign(x_j − x_i).
    pub s: f64,
    /// Var(S), corrected for ties.
    pub var_s: f64,
    /// Continuity-corrected z.
    pub z: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// Kendall's tau = S / (n(n−1)/2).
    pub tau: f64,
}

/// Mann–Kendall trend of a series in time order.
pub fn mann_kendall(x: &[f64]) -> MannKendall {
    let n = x.len();
    let mut s = 0.0;
    for i in 0..n {
        for j in i + 1..n {
            s += (x[j] - x[i]).signum() * f64::from(u8::from(x[j] != x[i]));
        }
    }
    let mut sorted: Vec<f64> = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut ties = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && sorted[j] == sorted[i] {
            j += 1;
        }
        let t = (j - i) as f64;
        ties += t * (t - 1.0) * (2.0 * t + 5.0);
        i = j;
    }
    let nf = n as f64;
    let var_s = (nf * (nf - 1.0) * (2.0 * nf + 5.0) - ties) / 18.0;
    let z = if var_s <= 0.0 {
        0.0
    } else if s > 0.0 {
        (s - 1.0) / var_s.sqrt()
    } else if s < 0.0 {
        (s + 1.0) / var_s.sqrt()
    } else {
        0.0
    };
    let pairs = nf * (nf - 1.0) / 2.0;
    MannKendall { s, var_s, z, p: p_two_sided(z), tau: if pairs > 0.0 { s / pairs } else { 0.0 } }
}

/// ArcGIS Emerging Hot Spot Analysis categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// No pattern detected.
    NoPattern,
    /// Hot for the final bin only, never before.
    NewHot,
    /// One run of ≥ 2 hot bins ending at the final bin, never hot before it, < 90% hot.
    ConsecutiveHot,
    /// Hot in ≥ 90% of bins including the final one, clustering increasing significantly.
    IntensifyingHot,
    /// Hot in ≥ 90% of bins, no significant trend.
    PersistentHot,
    /// Hot in ≥ 90% of bins including the final one, clustering decreasing significantly.
    DiminishingHot,
    /// Hot in the final bin, on and off before, < 90% hot, never cold.
    SporadicHot,
    /// Hot in the final bin, cold in an earlier one, < 90% hot.
    OscillatingHot,
    /// Not hot in the final bin, hot in ≥ 90% of bins.
    HistoricalHot,
    /// Cold equivalents.
    NewCold,
    /// Cold equivalent of consecutive.
    ConsecutiveCold,
    /// Cold equivalent of intensifying.
    IntensifyingCold,
    /// Cold equivalent of persistent.
    PersistentCold,
    /// Cold equivalent of diminishing.
    DiminishingCold,
    /// Cold equivalent of sporadic.
    SporadicCold,
    /// Cold equivalent of oscillating.
    OscillatingCold,
    /// Cold equivalent of historical.
    HistoricalCold,
}

impl Category {
    /// ArcGIS's name.
    pub fn name(self) -> &'static str {
        match self {
            Category::NoPattern => "No Pattern Detected",
            Category::NewHot => "New Hot Spot",
            Category::ConsecutiveHot => "Consecutive Hot Spot",
            Category::IntensifyingHot => "Intensifying Hot Spot",
            Category::PersistentHot => "Persistent Hot Spot",
            Category::DiminishingHot => "Diminishing Hot Spot",
            Category::SporadicHot => "Sporadic Hot Spot",
            Category::OscillatingHot => "Oscillating Hot Spot",
            Category::HistoricalHot => "Historical Hot Spot",
            Category::NewCold => "New Cold Spot",
            Category::ConsecutiveCold => "Consecutive Cold Spot",
            Category::IntensifyingCold => "Intensifying Cold Spot",
            Category::PersistentCold => "Persistent Cold Spot",
            Category::DiminishingCold => "Diminishing Cold Spot",
            Category::SporadicCold => "Sporadic Cold Spot",
            Category::OscillatingCold => "Oscillating Cold Spot",
            Category::HistoricalCold => "Historical Cold Spot",
        }
    }

    /// Whether it is a hot category.
    pub fn is_hot(self) -> bool {
        matches!(
            self,
            Category::NewHot
                | Category::ConsecutiveHot
                | Category::IntensifyingHot
                | Category::PersistentHot
                | Category::DiminishingHot
                | Category::SporadicHot
                | Category::OscillatingHot
                | Category::HistoricalHot
        )
    }
}

/// Significance of one bin: +1 hot, −1 cold, 0 neither.
pub type Sign = i8;

/// The emerging hot spot category of one location from its bins' significance (time order)
/// and the Mann–Kendall trend of its Gi* z-scores (significant at `alpha`).
pub fn categorise(bins: &[Sign], trend: &MannKendall, alpha: f64) -> Category {
    let hot = categorise_side(bins, 1, trend, alpha);
    if hot != Category::NoPattern {
        return hot;
    }
    let cold = categorise_side(bins, -1, trend, alpha);
    match cold {
        Category::NewHot => Category::NewCold,
        Category::ConsecutiveHot => Category::ConsecutiveCold,
        Category::IntensifyingHot => Category::IntensifyingCold,
        Category::PersistentHot => Category::PersistentCold,
        Category::DiminishingHot => Category::DiminishingCold,
        Category::SporadicHot => Category::SporadicCold,
        Category::OscillatingHot => Category::OscillatingCold,
        Category::HistoricalHot => Category::HistoricalCold,
        other => other,
    }
}

/// The hot categories for `side` = +1; for −1 the same rules on cold bins (named as hot, mapped
/// by the caller). For cold spots "intensifying" means z falling (colder), so the trend flips.
fn categorise_side(bins: &[Sign], side: Sign, trend: &MannKendall, alpha: f64) -> Category {
    let n = bins.len();
    if n == 0 {
        return Category::NoPattern;
    }
    let is = |b: Sign| b == side;
    let count = bins.iter().filter(|&&b| is(b)).count();
    let share = count as f64 / n as f64;
    let last = is(bins[n - 1]);
    let opposite_ever = bins.iter().any(|&b| b == -side);
    let rising = trend.p < alpha && trend.z * f64::from(side) > 0.0;
    let falling = trend.p < alpha && trend.z * f64::from(side) < 0.0;
    if last {
        if share >= 0.9 {
            return if rising {
                Category::IntensifyingHot
            } else if falling {
                Category::DiminishingHot
            } else {
                Category::PersistentHot
            };
        }
        if count == 1 {
            return Category::NewHot;
        }
        // The final run of significant bins.
        let run = bins.iter().rev().take_while(|&&b| is(b)).count();
        if run >= 2 && run == count {
            return Category::ConsecutiveHot;
        }
        if opposite_ever {
            return Category::OscillatingHot;
        }
        return Category::SporadicHot;
    }
    if share >= 0.9 {
        return Category::HistoricalHot;
    }
    Category::NoPattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gi_star_of_a_hot_cluster_on_a_line() {
        // Five observations on a line, neighbours: self and adjacent.
        let x = [1.0, 1.0, 10.0, 12.0, 1.0];
        let neighbours: Vec<Vec<u32>> = (0..5u32).map(|i| (i.saturating_sub(1)..=(i + 1).min(4)).collect()).collect();
        let z = gi_star(&x, &neighbours);
        // By hand for i = 2: n = 5, mean 5, S² = (1+1+100+144+1)/5 − 25 = 24.4, W = 3.
        let expected = (23.0 - 15.0) / (24.4f64.sqrt() * ((15.0 - 9.0) / 4.0f64).sqrt());
        assert!((z[2] - expected).abs() < 1e-12, "{z:?}");
        assert!(z[3] > 0.0 && z[0] < 0.0);
        // Constant values: no clustering to speak of.
        assert!(gi_star(&[2.0; 5], &neighbours).iter().all(|&v| v == 0.0));
    }

    #[test]
    fn normal_tail_matches_known_values() {
        assert!((p_two_sided(1.959_963_984_540_054) - 0.05).abs() < 1e-14);
        assert!((p_two_sided(0.0) - 1.0).abs() < 1e-15);
        assert!((erfc(0.3) - 0.671_373_240_540_872_6).abs() < 1e-15);
        assert!((erfc(2.5) - 4.069_520_174_449_59e-4).abs() < 1e-18);
        assert!((erfc(6.0) - 2.151_973_671_249_891_3e-17).abs() < 1e-30);
        assert!((erfc(-1.0) - 1.842_700_792_949_715).abs() < 1e-15);
    }

    #[test]
    fn benjamini_hochberg_keeps_the_step_up_set() {
        let p = [0.01, 0.04, 0.03, 0.2, 0.005];
        // Sorted: 0.005 (≤ 0.01), 0.01 (≤ 0.02), 0.03 (≤ 0.03), 0.04 (> 0.04? equal → in), 0.2.
        assert_eq!(fdr_significant(&p, 0.05), vec![true, true, true, false, true]);
        assert_eq!(fdr_significant(&[0.5, 0.9], 0.05), vec![false, false]);
    }

    #[test]
    fn mann_kendall_matches_the_closed_form() {
        let up: Vec<f64> = (0..10).map(f64::from).collect();
        let mk = mann_kendall(&up);
        assert_eq!(mk.s, 45.0);
        assert!((mk.var_s - 125.0).abs() < 1e-12);
        assert!((mk.z - 44.0 / 125f64.sqrt()).abs() < 1e-12);
        assert_eq!(mk.tau, 1.0);
        // Ties reduce the variance: n = 4, one pair tied → (4·3·13 − 2·1·9)/18.
        let tied = mann_kendall(&[1.0, 2.0, 2.0, 3.0]);
        assert_eq!(tied.s, 5.0);
        assert!((tied.var_s - (156.0 - 18.0) / 18.0).abs() < 1e-12);
    }

    #[test]
    fn categories_follow_arcgis_definitions() {
        let flat = MannKendall { s: 0.0, var_s: 1.0, z: 0.0, p: 1.0, tau: 0.0 };
        let up = MannKendall { s: 30.0, var_s: 10.0, z: 3.0, p: 0.002, tau: 0.6 };
        let down = MannKendall { s: -30.0, var_s: 10.0, z: -3.0, p: 0.002, tau: -0.6 };
        let a = 0.05;
        assert_eq!(categorise(&[0, 0, 0, 0, 1], &flat, a), Category::NewHot);
        assert_eq!(categorise(&[0, 0, 0, 1, 1], &flat, a), Category::ConsecutiveHot);
        assert_eq!(categorise(&[1; 10], &flat, a), Category::PersistentHot);
        assert_eq!(categorise(&[1; 10], &up, a), Category::IntensifyingHot);
        assert_eq!(categorise(&[1; 10], &down, a), Category::DiminishingHot);
        assert_eq!(categorise(&[1, 0, 1, 0, 1], &flat, a), Category::SporadicHot);
        assert_eq!(categorise(&[1, -1, 0, 0, 1], &flat, a), Category::OscillatingHot);
        assert_eq!(categorise(&[1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], &flat, a), Category::HistoricalHot);
        assert_eq!(categorise(&[0, 0, 0, 0, -1], &flat, a), Category::NewCold);
        // Colder and colder is an intensifying cold spot.
        assert_eq!(categorise(&[-1; 10], &down, a), Category::IntensifyingCold);
        assert_eq!(categorise(&[0, 0, 0, 0, 0], &flat, a), Category::NoPattern);
        // A hot run interrupted before the final run is not consecutive.
        assert_eq!(categorise(&[1, 0, 0, 1, 1], &flat, a), Category::SporadicHot);
    }
}
