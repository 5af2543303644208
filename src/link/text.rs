//! The rare character shingles of a narrative that near-duplicate detection (MinHash/LSH) compares,
//! and the clauses a copied script repeats word for word.

/// Hashes of a narrative's character trigrams, digits folded to one symbol (so amounts and
/// house numbers do not make two copies of one story differ), sorted and without repeats.
pub fn shingles(narrative: &str) -> Vec<u32> {
    let chars: Vec<char> =
        narrative.chars().filter(|c| c.is_alphanumeric()).map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
    let mut out: Vec<u32> = chars
        .windows(3)
        .filter(|w| !(w[0] == '#' && w[1] == '#' && w[2] == '#'))
        .map(|w| {
            let h = fnv1a(w.iter().copied());
            (h ^ (h >> 32)) as u32
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// FNV-1a over characters.
fn fnv1a(chars: impl Iterator<Item = char>) -> u64 {
    chars.fold(0xcbf2_9ce4_8422_2325, |h, c| (h ^ u64::from(u32::from(c))).wrapping_mul(0x0000_0100_0000_01b3))
}

/// Number of MinHash values per narrative: bands × rows.
pub const MINHASH_BANDS: usize = 10;
/// Rows per band: two narratives with Jaccard similarity s share a band with probability
/// 1 − (1 − s^r)^b: 0.99 at s = 0.6, 0.09 at s = 0.2.
pub const MINHASH_ROWS: usize = 3;

fn mix(x: u64) -> u64 {
    // splitmix64 finaliser.
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The band keys of a shingle set: each band's rows of minimum hashes, hashed together.
pub fn band_keys(set: &[u32]) -> [u64; MINHASH_BANDS] {
    let mut minima = [u64::MAX; MINHASH_BANDS * MINHASH_ROWS];
    for &s in set {
        let base = mix(u64::from(s));
        for (i, m) in minima.iter_mut().enumerate() {
            let h = mix(base ^ (i as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
            if h < *m {
                *m = h;
            }
        }
    }
    let mut keys = [0u64; MINHASH_BANDS];
    for (b, key) in keys.iter_mut().enumerate() {
        let mut h = b as u64;
        for r in 0..MINHASH_ROWS {
            h = mix(h ^ minima[b * MINHASH_ROWS + r]);
        }
        *key = h;
    }
    keys
}

/// Punctuation that ends a clause.
const CLAUSE_ENDS: [char; 12] = ['。', '，', '；', '！', '？', ',', ';', '!', '?', '\n', '：', ':'];

/// A clause shorter than this (letters and digits) is stock wording (`请求处理`), not a script.
pub const MIN_CLAUSE_CHARS: usize = 8;

/// Hashes of a narrative's clauses (split at sentence and clause punctuation), each of its letters
/// and digits only and at least [`MIN_CLAUSE_CHARS`] long; sorted and without repeats. A script's
/// sentence copied onto calls about different targets gives one hash on each, however the rest of
/// the story differs.
pub fn clauses(narrative: &str) -> Vec<u64> {
    let mut out: Vec<u64> = narrative
        .split(CLAUSE_ENDS)
        .filter_map(|clause| {
            let letters = || clause.chars().filter(|c| c.is_alphanumeric());
            (letters().count() >= MIN_CLAUSE_CHARS).then(|| mix(fnv1a(letters())))
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard similarity of two sorted sets.
pub fn jaccard(a: &[u32], b: &[u32]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 { 0.0 } else { both as f64 / union as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_copies_share_a_band_and_strangers_do_not() {
        let a = shingles(
            "来电人称在某某超市购买的进口红酒已超过保质期，依据食品安全法第一百四十八条要求十倍赔偿，商家拒绝。",
        );
        let b = shingles(
            "来电人称在另一家店购买的婴儿奶粉已超过保质期，依据食品安全法第一百四十八条要求十倍赔偿，商家拒绝。",
        );
        let c = shingles("报警人称其停在小区门口的电动车被盗，车辆为绿色，价值约三千元，请求出警。");
        assert!(jaccard(&a, &b) > 0.5, "{}", jaccard(&a, &b));
        assert!(jaccard(&a, &c) < 0.1);
        let (ka, kb, kc) = (band_keys(&a), band_keys(&b), band_keys(&c));
        assert!(ka.iter().zip(&kb).any(|(x, y)| x == y));
        assert!(!ka.iter().zip(&kc).any(|(x, y)| x == y));
        // Amounts do not matter.
        assert_eq!(shingles("索要赔偿5000元"), shingles("索要赔偿80000元"));
    }

    #[test]
    fn a_copied_clause_hashes_alike_in_different_stories() {
        let a = clauses("来电人称万科物业停其家水电，请求处理。其称已多次协商无果，要求依法处理并书面答复。");
        let b = clauses("来电人称龙湖物业以未交物业费为由停水，要求处理。其称已多次协商无果，要求依法处理并书面答复");
        let shared: Vec<&u64> = a.iter().filter(|h| b.contains(h)).collect();
        // 其称已多次协商无果 and 要求依法处理并书面答复; 请求处理 and 要求处理 are too short to count.
        assert_eq!(shared.len(), 2, "{a:?} {b:?}");
        assert_eq!(a.len(), 3);
        assert!(clauses("请求处理。要求出警。").is_empty());
    }
}
