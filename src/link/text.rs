//! What linking reads out of free text: the organisation or person a counterparty names, and the
//! rare character shingles of a narrative that near-duplicate detection (MinHash/LSH) compares.

use std::collections::HashMap;

use crate::pii::{name_pinyin, normalize_name};

/// What a counterparty field names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Counterparty {
    /// A shop, clinic, company …: its matching key (brand pinyin and kind of business).
    Organisation(String),
    /// A person, as a victim or witness names them.
    Person(PersonRef),
    /// Something else (a vehicle's owner, a description).
    Other,
}

/// A person as somebody else names them: a full name, or a surname with the sex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRef {
    /// Pinyin of the surname.
    pub surname: String,
    /// Pinyin of the full name, when one was given.
    pub full: Option<String>,
    /// Sex, when the words say it (先生 / 女士 / 男子 / 女子).
    pub female: Option<bool>,
}

/// Kinds of business: the words that end an organisation's name, longest first within a kind, and
/// the kind they stand for. Callers swap them freely (`XX诊所` for `XX整形美容医院`), so the key
/// keeps the kind, not the word.
const BUSINESS_KINDS: &[(&str, &[&str])] = &[
    (
        "medical",
        &[
            "医疗美容门诊部",
            "医疗美容诊所",
            "医疗美容医院",
            "整形美容医院",
            "皮肤管理中心",
            "医美门诊部",
            "美容诊所",
            "美容医院",
            "门诊部",
            "诊所",
            "医院",
            "医美",
        ],
    ),
    ("company", &["物业管理有限公司", "有限责任公司", "股份有限公司", "有限公司", "分公司", "公司", "集团", "项目部"]),
    ("property", &["物业管理处", "物业服务中心", "物业"]),
    ("nightlife", &["娱乐会所", "乐会所", "会所", "酒吧", "清吧", "KTV", "ktv"]),
    ("food", &["大排档", "火锅店", "餐馆", "饭店", "酒楼", "面馆", "烧烤", "餐厅", "食府", "小吃"]),
    ("market", &["购物广场", "生鲜超市", "超市", "商场", "市场"]),
    ("vehicle", &["电动车行", "动车行", "车行", "汽修厂", "4S店", "4s店"]),
];

/// Words of trade between a brand and its legal form (`天成建筑劳务有限公司` is 天成's): callers
/// leave them out as often as not.
const TRADE_WORDS: &[&str] = &[
    "劳务",
    "建筑",
    "建设",
    "工程",
    "装饰",
    "装修",
    "科技",
    "贸易",
    "商贸",
    "实业",
    "物流",
    "运输",
    "置业",
    "房地产",
    "开发",
    "投资",
    "管理",
    "服务",
    "文化",
    "传媒",
    "餐饮",
    "电子",
    "机械",
    "制造",
    "信息",
    "网络",
    "咨询",
];

/// Words that end a place of business but say little of its kind.
const GENERIC_ENDINGS: &[&str] = &["分店", "旗舰店", "专卖店", "店"];

/// Honorifics after a surname, with the sex they say (None: either).
const HONORIFICS: &[(&str, Option<bool>)] = &[
    ("先生", Some(false)),
    ("女士", Some(true)),
    ("小姐", Some(true)),
    ("师傅", None),
    ("阿姨", Some(true)),
    ("老板", None),
];

/// Words that mark a name as an organisation's rather than a person's.
const ORGANISATION_WORDS: &[&str] =
    &["公司", "诊所", "医院", "门诊", "中心", "超市", "酒吧", "物业", "学校", "银行", "项目", "工地", "火锅", "烧烤"];

/// Last characters of organisations' names (a given name rarely ends so).
const ORGANISATION_ENDINGS: &str = "店厂局站馆场厅社室楼坊堂府档部城行所院吧处队";

fn looks_like_organisation(text: &str) -> bool {
    ORGANISATION_WORDS.iter().any(|w| text.contains(w))
        || text.chars().last().is_some_and(|c| ORGANISATION_ENDINGS.contains(c))
}

/// Reads counterparty fields into organisation keys and person references.
#[derive(Debug, Clone, Default)]
pub struct CounterpartyReader {
    /// Place-name prefixes to drop (district names and their short forms, the city).
    prefixes: Vec<String>,
    /// Surnames callers give (when known): a "full name" must start with one.
    surnames: Option<std::collections::HashSet<String>>,
}

fn clean(raw: &str) -> String {
    // A branch in brackets names the same organisation.
    let mut out = String::with_capacity(raw.len());
    let mut depth = 0u32;
    for c in raw.chars() {
        match c {
            '(' | '（' | '[' | '【' => depth += 1,
            ')' | '）' | ']' | '】' => depth = depth.saturating_sub(1),
            _ if depth == 0 && c.is_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

impl CounterpartyReader {
    /// A reader that drops the given place names (and their forms without 区/县/市) as prefixes,
    /// plus any two-character prefix shared by at least `share` of the distinct organisation names.
    pub fn new<'a>(districts: impl IntoIterator<Item = &'a str>, names: &[&str], share: f64) -> CounterpartyReader {
        let mut prefixes: Vec<String> = Vec::new();
        for district in districts {
            let district = clean(district);
            prefixes.push(crate::city::district_stem(&district, &[]));
            prefixes.push(district);
        }
        // The city: a prefix of two to four characters that many different organisations carry
        // (宜昌, 石家庄, 呼和浩特), whatever the city is called.
        let mut counts: HashMap<String, usize> = HashMap::new();
        for name in names {
            let name = clean(name);
            let length = name.chars().count();
            for n in 2..=4 {
                if length > n + 2 {
                    *counts.entry(name.chars().take(n).collect()).or_default() += 1;
                }
            }
        }
        let mut frequent: Vec<(String, usize)> =
            counts.into_iter().filter(|(_, n)| *n as f64 >= share * names.len() as f64 && *n >= 3).collect();
        frequent.sort();
        for (prefix, _) in frequent {
            if !prefixes.contains(&prefix) {
                prefixes.push(format!("{prefix}市"));
                prefixes.push(prefix);
            }
        }
        prefixes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        prefixes.dedup();
        CounterpartyReader { prefixes, surnames: None }
    }

    /// Also drops these place names (a city profile's city and district names) as prefixes.
    pub fn with_places(mut self, places: impl IntoIterator<Item = String>) -> CounterpartyReader {
        for place in places {
            let place = clean(&place);
            if place.chars().count() >= 2 && !self.prefixes.contains(&place) {
                self.prefixes.push(place);
            }
        }
        self.prefixes.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
        self
    }

    /// Only names starting with one of these surnames are taken for a person's full name.
    pub fn with_surnames(mut self, surnames: std::collections::HashSet<String>) -> CounterpartyReader {
        self.surnames = Some(surnames);
        self
    }

    /// What the counterparty text names.
    pub fn read(&self, raw: &str) -> Counterparty {
        let text = clean(raw);
        if text.is_empty() {
            return Counterparty::Other;
        }
        if let Some(person) = person_reference(&text) {
            let known = |s: &String| self.surnames.as_ref().is_none_or(|set| set.contains(s));
            if person.full.is_none() || normalize_name(&text).surname.as_ref().is_some_and(known) {
                return Counterparty::Person(person);
            }
        }
        if text.chars().any(|c| c.is_ascii_digit()) && text.ends_with("车主") {
            return Counterparty::Other;
        }
        match self.organisation_key(&text) {
            Some(key) => Counterparty::Organisation(key),
            None => Counterparty::Other,
        }
    }

    /// The matching key of an organisation's name: its brand in pinyin (so a homophone typo still
    /// matches) and its kind of business; `None` when nothing is left of it.
    pub fn organisation_key(&self, text: &str) -> Option<String> {
        let mut core: &str = text;
        for prefix in &self.prefixes {
            if let Some(rest) = core.strip_prefix(prefix.as_str())
                && rest.chars().count() >= 2
            {
                core = rest;
                break;
            }
        }
        let mut kind = "";
        'kinds: for (name, endings) in BUSINESS_KINDS {
            for ending in *endings {
                if let Some(rest) = core.strip_suffix(ending)
                    && rest.chars().count() >= 2
                {
                    core = rest;
                    kind = name;
                    break 'kinds;
                }
            }
        }
        'trade: loop {
            for word in TRADE_WORDS {
                if let Some(rest) = core.strip_suffix(word)
                    && rest.chars().count() >= 2
                {
                    core = rest;
                    continue 'trade;
                }
            }
            break;
        }
        if kind.is_empty() {
            for ending in GENERIC_ENDINGS {
                if let Some(rest) = core.strip_suffix(ending)
                    && rest.chars().count() >= 2
                {
                    core = rest;
                    break;
                }
            }
        }
        let brand = name_pinyin(core)?;
        Some(if kind.is_empty() { brand } else { format!("{brand}/{kind}") })
    }
}

/// A person named in a counterparty field: `自称姓陈的男子`, `陈先生`, `陈超`.
pub fn person_reference(text: &str) -> Option<PersonRef> {
    if let Some(rest) = text.strip_prefix("自称姓").or_else(|| text.strip_prefix("姓")) {
        let (surname, tail) = rest.split_once('的').unwrap_or((rest, ""));
        let female = if tail.starts_with('女') {
            Some(true)
        } else if tail.starts_with('男') {
            Some(false)
        } else {
            None
        };
        if (1..=2).contains(&surname.chars().count()) {
            return Some(PersonRef { surname: name_pinyin(surname)?, full: None, female });
        }
        return None;
    }
    for (honorific, female) in HONORIFICS {
        if let Some(surname) = text.strip_suffix(honorific)
            && (1..=2).contains(&surname.chars().count())
            && surname.chars().all(is_han)
        {
            return Some(PersonRef { surname: name_pinyin(surname)?, full: None, female: *female });
        }
    }
    let length = text.chars().count();
    let parts = normalize_name(text);
    let given = length - parts.surname.as_ref().map_or(0, |s| s.chars().count());
    if (1..=2).contains(&given) && text.chars().all(is_han) && !looks_like_organisation(text) {
        return Some(PersonRef {
            surname: name_pinyin(parts.surname.as_deref()?)?,
            full: name_pinyin(&parts.normalised),
            female: None,
        });
    }
    None
}

/// Words after which a narrative gives the name of somebody else than the caller.
const NAMING_CUES: [&str; 6] = ["名叫", "叫做", "一个叫", "一名叫", "自称叫", "自称是"];

/// Characters that end a name written inside a sentence.
const NAME_ENDS: &str = "的，。、,；;：:（(）) 以在于称将把被向对从到多等和与又还说带拿要让";

/// Characters that follow 某 when it means "a certain" place or thing, not a person (某小区).
const NOT_A_PERSON_AFTER: &str = "公小店单厂区村街路医学超商处地酒饭宾人些种天日月年项次";

/// A person a narrative names, other than its caller: `一名叫陈超的男子`, `自称姓陈的女子`, or a
/// police-style `陈某` / `陈某某`. `surnames` are the surnames callers give in this warehouse (a
/// name must start with one). The first such mention counts.
pub fn person_in_narrative(narrative: &str, surnames: &std::collections::HashSet<String>) -> Option<PersonRef> {
    let chars: Vec<char> = narrative.chars().collect();
    let text_at =
        |start: usize, len: usize| -> String { chars[start..(start + len).min(chars.len())].iter().collect() };
    for i in 0..chars.len() {
        // 自称姓陈的男子 / 姓陈的女子.
        if chars[i] == '姓' {
            let start = if i >= 2 && chars[i - 2] == '自' && chars[i - 1] == '称' { i - 2 } else { i };
            let phrase = text_at(start, 8);
            if let Some(end) = phrase.find('的') {
                let sex: String = phrase[end..].chars().take(3).collect();
                if (sex.contains("男") || sex.contains("女"))
                    && let Some(p) = person_reference(&format!("{}{sex}", &phrase[..end]))
                {
                    return Some(p);
                }
            }
        }
        for cue in NAMING_CUES {
            let cue_chars: Vec<char> = cue.chars().collect();
            if chars[i..].starts_with(&cue_chars) {
                let start = i + cue_chars.len();
                let length =
                    chars[start..].iter().take(5).take_while(|c| !NAME_ENDS.contains(**c) && is_han(**c)).count();
                if (2..=4).contains(&length) {
                    let name = text_at(start, length);
                    let parts = normalize_name(&name);
                    let known = parts.surname.as_ref().is_some_and(|s| surnames.contains(s));
                    if known && let Some(p) = person_reference(&name).filter(|p| p.full.is_some()) {
                        return Some(p);
                    }
                }
            }
        }
        // 陈某 / 陈某某, not 某小区.
        if chars[i] == '某' && i >= 1 && (i < 2 || chars[i - 2] != '某') {
            let next = chars.get(i + 1).copied();
            let next = if next == Some('某') { chars.get(i + 2).copied() } else { next };
            let surname = chars[i - 1].to_string();
            if surnames.contains(&surname) && !next.is_some_and(|c| NOT_A_PERSON_AFTER.contains(c)) {
                let after: String = chars[i + 1..].iter().take(4).collect();
                let female = if after.contains('女') {
                    Some(true)
                } else if after.contains('男') {
                    Some(false)
                } else {
                    None
                };
                return Some(PersonRef { surname: name_pinyin(&surname)?, full: None, female });
            }
        }
    }
    None
}

fn is_han(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

/// Hashes of a narrative's character trigrams, digits folded to one symbol (so amounts and
/// house numbers do not make two copies of one story differ), sorted and without repeats.
pub fn shingles(narrative: &str) -> Vec<u32> {
    let chars: Vec<char> =
        narrative.chars().filter(|c| c.is_alphanumeric()).map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
    let mut out: Vec<u32> = chars
        .windows(3)
        .filter(|w| !(w[0] == '#' && w[1] == '#' && w[2] == '#'))
        .map(|w| {
            let mut h: u64 = 0xcbf2_9ce4_8422_2325;
            for c in w {
                h ^= u64::from(u32::from(*c));
                h = h.wrapping_mul(0x0000_0100_0000_01b3);
            }
            (h ^ (h >> 32)) as u32
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
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
    fn narratives_name_people_by_cue_by_surname_and_sex_and_police_style() {
        let surnames: std::collections::HashSet<String> = ["陈", "王", "向"].iter().map(|s| s.to_string()).collect();
        let read = |text: &str| person_in_narrative(text, &surnames);
        let full = read("报警人称被一名叫陈超的男子骗走5000元").expect("a named man");
        assert_eq!((full.surname.as_str(), full.full.as_deref()), ("chen", Some("chenchao")));
        let described = read("店主称一自称姓王的女子多次来店索赔").expect("surname and sex");
        assert_eq!((described.surname.as_str(), described.full, described.female), ("wang", None, Some(true)));
        let police = read("经查，陈某某以维权为名多次敲诈").expect("police style");
        assert_eq!((police.surname.as_str(), police.full), ("chen", None));
        // A certain residential compound, an unknown surname, or no name at all: nobody.
        assert!(read("来电人反映向某小区物业长期不作为").is_none());
        assert!(read("一名叫赵六的男子").is_none());
        assert!(read("来电人反映小区噪音扰民").is_none());
    }

    fn reader() -> CounterpartyReader {
        let names = ["宜昌美莎皮肤管理中心", "宜昌盛达家电城", "宜昌明珠手机店", "宜昌湘味酒楼"];
        CounterpartyReader::new(["西陵区", "伍家岗区", "长阳土家族自治县"], &names, 0.5)
    }

    #[test]
    fn one_clinic_named_three_ways_has_one_key() {
        let r = reader();
        let full = r.read("西陵俏佳人整形美容医院");
        assert_eq!(full, Counterparty::Organisation("qiaojiaren/medical".into()));
        assert_eq!(r.read("俏佳人诊所"), full);
        assert_eq!(r.read("西陵 俏佳人诊所"), full);
        assert_eq!(r.read("俏佳人诊所（西陵店）"), full);
        // A homophone typo still matches; another kind of business with the brand does not.
        assert_eq!(r.read("巧佳人诊所"), full);
        assert_ne!(r.read("俏佳人火锅店"), full);
        assert_eq!(r.read("宜昌美莎皮肤管理中心"), r.read("美莎诊所"));
        assert_eq!(r.read("西陵天成建筑劳务有限公司"), r.read("天成公司"));
    }

    #[test]
    fn people_are_told_from_organisations() {
        let r = reader();
        let person = |s: &str, full: Option<&str>, female| {
            Counterparty::Person(PersonRef { surname: s.into(), full: full.map(Into::into), female })
        };
        assert_eq!(r.read("陈超"), person("chen", Some("chenchao"), None));
        assert_eq!(r.read("郭媛欣"), person("guo", Some("guoyuanxin"), None));
        assert!(matches!(r.read("一品饭店"), Counterparty::Organisation(_)));
        // Four characters without a compound surname, or an unknown surname, is a business.
        assert!(matches!(r.read("力美健身"), Counterparty::Organisation(_)));
        let known = r.clone().with_surnames(["陈".to_owned()].into_iter().collect());
        assert!(matches!(known.read("陈超"), Counterparty::Person(_)));
        assert!(matches!(known.read("晨曦"), Counterparty::Organisation(_)));
        assert!(matches!(r.read("万隆母婴店"), Counterparty::Organisation(_)));
        assert_eq!(r.read("郭女士"), person("guo", None, Some(true)));
        assert_eq!(r.read("自称姓陈的男子"), person("chen", None, Some(false)));
        assert_eq!(r.read("欧阳娜娜"), person("ouyang", Some("ouyangnana"), None));
        assert_eq!(r.read("鄂EQ3548车主"), Counterparty::Other);
        assert!(matches!(r.read("长江公司"), Counterparty::Organisation(_)));
        assert!(matches!(r.read("老王大排档"), Counterparty::Organisation(_)));
    }

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
}
