//! Random streams and the small slips of writing that the generated world shares: one stream per
//! entity, landlines, homophone typos.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::city::pick;
use super::lexicon::HOMOPHONES;

/// SplitMix64: a well-mixed hash of a 64-bit value, used to derive independent streams.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A random stream for one entity of the generated world.
pub fn stream(seed: u64, a: u64, b: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ mix(a ^ mix(b))))
}

/// A random landline of an area in canonical form (`0717-6221234`).
pub fn random_landline(rng: &mut ChaCha8Rng, area_code: &str) -> String {
    format!("{area_code}-{}{:06}", rng.random_range(2..9u32), rng.random_range(0..1_000_000u32))
}

/// Replaces one character that has a homophone.
pub fn homophone_typo(rng: &mut ChaCha8Rng, text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let candidates: Vec<usize> = (0..chars.len()).filter(|&i| HOMOPHONES.iter().any(|(c, _)| *c == chars[i])).collect();
    if candidates.is_empty() {
        return text.to_owned();
    }
    let at = *pick(rng, &candidates);
    let mut out = chars.clone();
    if let Some((_, alternatives)) = HOMOPHONES.iter().find(|(c, _)| *c == chars[at])
        && !alternatives.is_empty()
    {
        out[at] = *pick(rng, alternatives);
    }
    out.into_iter().collect()
}
