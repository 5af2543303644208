//! Text normalisation shared by every stage: what a counterparty field names (an organisation's
//! matching key, a person, a role word), people named in narratives, and the masking of names and
//! numbers in words that the analyst role sees. Ingest calls it once per call; later stages read
//! the columns it fills.

use std::collections::HashMap;

use crate::pii::{name_pinyin, normalize_name, text_pinyin};

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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Prefixes of two to four characters that at least `share` of the distinct organisation names
/// (and at least 3) carry: the city's name (宜昌, 石家庄, 呼和浩特), whatever the city is called.
pub fn frequent_prefixes(names: &[&str], share: f64) -> Vec<String> {
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
    let mut frequent: Vec<String> = counts
        .into_iter()
        .filter(|(_, n)| *n as f64 >= share * names.len() as f64 && *n >= 3)
        .map(|(p, _)| p)
        .collect();
    frequent.sort();
    frequent
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
        for prefix in frequent_prefixes(names, share) {
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
        let brand = text_pinyin(core)?;
        Some(if kind.is_empty() { brand } else { format!("{brand}/{kind}") })
    }
}

/// What kind of party a counterparty field names, as `calls.counterparty_kind` records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterpartyKind {
    /// A shop, clinic, company, landlord's agency …
    Organisation,
    /// A person, by full name, surname and form of address, or description (`自称姓陈的男子`).
    Person,
    /// A role word standing for whoever it is (`邻居`, `对方`, `卖家`).
    Role,
    /// Anything else (a vehicle's owner, a description of a place).
    Other,
}

impl CounterpartyKind {
    /// The code written in `calls.counterparty_kind`.
    pub fn code(self) -> &'static str {
        match self {
            CounterpartyKind::Organisation => "organisation",
            CounterpartyKind::Person => "person",
            CounterpartyKind::Role => "role",
            CounterpartyKind::Other => "other",
        }
    }
}

/// Role words: a counterparty that is one of these (or ends in one, `楼上邻居`) names a role, not
/// an organisation or a person.
const ROLE_WORDS: &[&str] = &[
    "邻居",
    "对方",
    "卖家",
    "买家",
    "商家",
    "店家",
    "店主",
    "房东",
    "租客",
    "房客",
    "业主",
    "司机",
    "乘客",
    "网友",
    "客户",
    "陌生人",
    "对门",
    "隔壁",
    "楼上",
    "楼下",
    "家属",
    "前夫",
    "前妻",
    "丈夫",
    "妻子",
    "老公",
    "老婆",
    "男友",
    "女友",
    "同事",
    "工友",
    "包工头",
    "雇主",
    "老板",
    "中介",
    "快递员",
    "外卖员",
    "骑手",
];

/// Common Chinese surnames (national, not any one city's): a counterparty read as a full name at
/// ingest must start with one of these or with a compound surname.
const COMMON_SURNAMES: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利呼居揭干但尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由";

/// The surnames a reader at ingest knows: [`COMMON_SURNAMES`] and the compound surnames.
pub fn common_surnames() -> std::collections::HashSet<String> {
    let mut out: std::collections::HashSet<String> = COMMON_SURNAMES.chars().map(String::from).collect();
    out.extend(crate::pii::compound_surnames().iter().map(|s| s.to_string()));
    out
}

/// A counterparty field as ingest normalises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterpartyReading {
    /// Its kind.
    pub kind: CounterpartyKind,
    /// For an organisation, its matching key (brand pinyin and kind of business); for a role, the
    /// role word; for a person, the text to pseudonymise (never stored as it is); else none.
    pub key: Option<String>,
    /// What the analyst role sees: a person's name masked (`陈**`), anything else as written.
    pub shown: String,
}

/// Whether cleaned text is, or ends in, a role word (`邻居`, `楼上邻居`, `网购卖家`).
fn role_of(text: &str) -> Option<&'static str> {
    let length = text.chars().count();
    ROLE_WORDS.iter().copied().filter(|w| text.ends_with(w) && length <= w.chars().count() + 3).max_by_key(|w| w.len())
}

impl CounterpartyReader {
    /// Normalises a counterparty field once, for `calls`: its kind, its key and what the analyst
    /// role may see. Anything that reads as a person's name is masked, known surname or not.
    pub fn normalise(&self, raw: &str) -> CounterpartyReading {
        let text = clean(raw);
        let shown_as_written = raw.trim().to_owned();
        if let Some(role) = role_of(&text).filter(|_| !looks_like_organisation(&text)) {
            return CounterpartyReading {
                kind: CounterpartyKind::Role,
                key: Some(role.to_owned()),
                shown: shown_as_written,
            };
        }
        let as_person = |text: &str| CounterpartyReading {
            kind: CounterpartyKind::Person,
            key: Some(normalize_name(text).normalised),
            shown: crate::pii::mask_name(text),
        };
        // A name of a surname nobody listed is still a name: mask it all the same (a brand of two
        // or three characters without a word of trade is taken for a name too; hiding is the safe side).
        if person_reference(&text).is_some_and(|p| p.full.is_some()) {
            return as_person(&text);
        }
        match self.read(raw) {
            Counterparty::Person(_) => as_person(&text),
            Counterparty::Organisation(key) => {
                CounterpartyReading { kind: CounterpartyKind::Organisation, key: Some(key), shown: shown_as_written }
            }
            Counterparty::Other => {
                CounterpartyReading { kind: CounterpartyKind::Other, key: None, shown: mask_numbers(&shown_as_written) }
            }
        }
    }
}

/// Words by which a caller gives their own name in a narrative (another's: [`NAMING_CUES`]).
const OWN_NAME_CUES: [&str; 3] = ["我叫", "本人叫", "姓名"];

/// Words before a 7- or 8-digit number that make it a telephone number.
const PHONE_CUES: [&str; 4] = ["电话", "号码", "手机", "座机"];

/// A narrative as the analyst role may see it: full names after a naming cue (`一名叫陈超的男子`)
/// masked as names are (`陈*`), every run of 11 or more digits (mobiles, resident IDs, bank cards)
/// and every 7- or 8-digit number after 电话 / 号码 kept to its first three digits. Police-style
/// `陈某` is already anonymous and stays.
pub fn mask_narrative(narrative: &str) -> String {
    // Most narratives hold neither a cue nor a digit: they are kept as they are, unexamined.
    let cued = NAMING_CUES.iter().chain(&OWN_NAME_CUES).any(|cue| narrative.contains(cue));
    if !cued && !narrative.bytes().any(|b| b.is_ascii_digit()) {
        return narrative.to_owned();
    }
    let chars: Vec<char> = narrative.chars().collect();
    let mut out: Vec<char> = chars.clone();
    let mut i = 0;
    while cued && i < chars.len() {
        for cue in ALL_CUE_CHARS.iter() {
            if chars[i..].starts_with(cue) {
                let start = i + cue.len();
                let skip = chars[start..].iter().take_while(|c| matches!(c, '：' | ':' | ' ')).count();
                let start = start + skip;
                let length =
                    chars[start..].iter().take(5).take_while(|c| !NAME_ENDS.contains(**c) && is_han(**c)).count();
                if (2..=4).contains(&length) {
                    let name: String = chars[start..start + length].iter().collect();
                    let keep = normalize_name(&name).surname.map_or(1, |s| s.chars().count()).min(length - 1);
                    for c in &mut out[start + keep..start + length] {
                        *c = '*';
                    }
                }
            }
        }
        i += 1;
    }
    mask_digit_runs(&chars, &mut out);
    out.into_iter().collect()
}

/// The full names of the people a warehouse knows (callers, and people named as counterparty),
/// found wherever they stand in a narrative: victims and witnesses name members of a group in
/// sentences of every shape, not only after a cue.
pub struct KnownNames {
    finder: Option<aho_corasick::AhoCorasick>,
    /// Characters kept of each name (its surname).
    keep: Vec<usize>,
    /// The names looked for, as normalised.
    names: Vec<String>,
}

impl KnownNames {
    /// A finder of these names; a name that is not a full name of Han characters is left out.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> KnownNames {
        let mut patterns: Vec<String> = Vec::new();
        let mut keep = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for name in names {
            let parts = normalize_name(name);
            let length = parts.normalised.chars().count();
            if parts.form != crate::pii::NameForm::Full
                || looks_like_organisation(&parts.normalised)
                || !(2..=4).contains(&length)
                || !parts.normalised.chars().all(is_han)
                || !seen.insert(parts.normalised.clone())
            {
                continue;
            }
            keep.push(parts.surname.map_or(1, |s| s.chars().count()).min(length - 1));
            patterns.push(parts.normalised);
        }
        let names = patterns.clone();
        let finder = (!patterns.is_empty())
            .then(|| {
                aho_corasick::AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&patterns)
                    .ok()
            })
            .flatten();
        KnownNames { finder, keep, names }
    }

    /// The known names a text holds, as normalised, each once, in the order they first appear.
    pub fn found_in(&self, text: &str) -> Vec<&str> {
        let Some(finder) = &self.finder else { return Vec::new() };
        let mut found: Vec<&str> = Vec::new();
        for m in finder.find_iter(text) {
            let name = self.names[m.pattern().as_usize()].as_str();
            if !found.contains(&name) {
                found.push(name);
            }
        }
        found
    }

    /// How many names it looks for.
    pub fn len(&self) -> usize {
        self.keep.len()
    }

    /// Whether it looks for none.
    pub fn is_empty(&self) -> bool {
        self.keep.is_empty()
    }

    /// The text with every known name masked (`朱婷兰也在场` → `朱**也在场`).
    pub fn mask(&self, text: &str) -> String {
        let Some(finder) = &self.finder else { return text.to_owned() };
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for found in finder.find_iter(text) {
            out.push_str(&text[last..found.start()]);
            let keep = self.keep[found.pattern().as_usize()];
            for (i, c) in text[found.start()..found.end()].chars().enumerate() {
                out.push(if i < keep { c } else { '*' });
            }
            last = found.end();
        }
        out.push_str(&text[last..]);
        out
    }
}

/// Masks the long digit runs of a short text (a counterparty such as `13800001234车主`).
fn mask_numbers(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = chars.clone();
    mask_digit_runs(&chars, &mut out);
    out.into_iter().collect()
}

fn mask_digit_runs(chars: &[char], out: &mut [char]) {
    let mut i = 0;
    while i < chars.len() {
        if !chars[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        // A resident ID may end in X.
        while i < chars.len() && (chars[i].is_ascii_digit() || (i - start == 17 && matches!(chars[i], 'X' | 'x'))) {
            i += 1;
        }
        let length = i - start;
        let before: String = chars[start.saturating_sub(4)..start].iter().collect();
        let phone_cue = PHONE_CUES.iter().any(|c| before.contains(c));
        if length >= 11 || (phone_cue && (7..=8).contains(&length)) {
            for c in &mut out[start + 3..i] {
                *c = '*';
            }
        }
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

/// [`NAMING_CUES`] as characters, compared at every position of a narrative.
static NAMING_CUE_CHARS: std::sync::LazyLock<Vec<Vec<char>>> =
    std::sync::LazyLock::new(|| NAMING_CUES.iter().map(|cue| cue.chars().collect()).collect());

/// [`NAMING_CUES`] and [`OWN_NAME_CUES`] as characters.
static ALL_CUE_CHARS: std::sync::LazyLock<Vec<Vec<char>>> =
    std::sync::LazyLock::new(|| NAMING_CUES.iter().chain(&OWN_NAME_CUES).map(|cue| cue.chars().collect()).collect());

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
        for cue_chars in NAMING_CUE_CHARS.iter() {
            if chars[i..].starts_with(cue_chars) {
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
    fn ingest_tells_organisations_people_and_roles_and_masks_the_people() {
        let r = CounterpartyReader::new(["西陵区"], &[], 0.05).with_surnames(common_surnames());
        let clinic = r.normalise("西陵俏佳人整形美容医院");
        assert_eq!((clinic.kind, clinic.key.as_deref()), (CounterpartyKind::Organisation, Some("qiaojiaren/medical")));
        assert_eq!(clinic.shown, "西陵俏佳人整形美容医院");
        let person = r.normalise("陈超");
        assert_eq!((person.kind, person.shown.as_str()), (CounterpartyKind::Person, "陈*"));
        // A surname the list lacks is still a name to hide.
        let rare = r.normalise("乜建国");
        assert_eq!((rare.kind, rare.shown.as_str()), (CounterpartyKind::Person, "乜**"));
        assert_eq!(r.normalise("郭女士").kind, CounterpartyKind::Person);
        let role = r.normalise("楼上邻居");
        assert_eq!((role.kind, role.key.as_deref()), (CounterpartyKind::Role, Some("邻居")));
        assert_eq!(r.normalise("对方").kind, CounterpartyKind::Role);
        assert_eq!(r.normalise("邻居家政服务有限公司").kind, CounterpartyKind::Organisation);
    }

    #[test]
    fn narratives_lose_names_and_numbers_for_analysts() {
        assert_eq!(mask_narrative("被一名叫陈超的男子骗走5000元"), "被一名叫陈*的男子骗走5000元");
        assert_eq!(mask_narrative("对方自称叫欧阳娜娜，"), "对方自称叫欧阳**，");
        assert_eq!(
            mask_narrative("对方电话13800001234，身份证420502199001011234"),
            "对方电话138********，身份证420***************"
        );
        assert_eq!(mask_narrative("留下座机6221234"), "留下座机622****");
        assert_eq!(mask_narrative("经查陈某某多次敲诈，涉案金额12000元"), "经查陈某某多次敲诈，涉案金额12000元");
        assert_eq!(mask_narrative("车牌鄂E12345"), "车牌鄂E12345");
        let known = KnownNames::new(["朱婷兰", "欧阳娜娜", "老王", "陈某", "王先生"]);
        assert_eq!(known.len(), 2, "only full names");
        assert_eq!(known.mask("当时朱婷兰也在场，欧阳娜娜可以作证"), "当时朱**也在场，欧阳**可以作证");
        assert_eq!(known.mask("老王称"), "老王称");
        assert_eq!(known.found_in("此事欧阳娜娜也知情，朱婷兰称欧阳娜娜在场"), ["欧阳娜娜", "朱婷兰"]);
        assert!(known.found_in("老王称").is_empty());
    }
}
