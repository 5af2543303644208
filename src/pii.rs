//! Personal-data helpers: canonical phone numbers, resident ID check digits, masked names.

/// The area code of warehouses made before city profiles existed (Yichang), and of the SQL
/// function `normalize_phone` when a session knows no profile.
pub const DEFAULT_AREA_CODE: &str = "0717";

/// Normalises a phone number as captured, a local number without an area code taken to be
/// Yichang's ([`DEFAULT_AREA_CODE`]); see [`normalize_phone_in`].
pub fn normalize_phone(raw: &str) -> Option<String> {
    normalize_phone_in(raw, DEFAULT_AREA_CODE)
}

/// Digits of a captured number with its separators removed, whether it was written in the
/// international form, and the national number (trunk 0 restored for a landline written
/// internationally). `None` when anything but digits and separators is left.
fn national_digits(raw: &str) -> Option<String> {
    let mut digits: String =
        raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '（' | '）' | '.' | '\u{3000}')).collect();
    if let Some(rest) = digits.strip_prefix('+') {
        digits = rest.to_owned();
    }
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let had_plus = raw.trim_start().starts_with('+');
    let (national, international) = if let Some(rest) = digits.strip_prefix("0086") {
        (rest, true)
    } else if digits.starts_with("86") && (had_plus || digits.len() == 13) {
        (&digits[2..], true)
    } else {
        (digits.as_str(), false)
    };
    // A landline written internationally drops its trunk 0.
    let is_mobile = national.len() == 11 && national.starts_with('1');
    Some(if international && !is_mobile && !national.starts_with('0') {
        format!("0{national}")
    } else {
        national.to_owned()
    })
}

/// Splits a national landline that starts with its trunk 0 into (area code, number).
fn split_area_code(national: &str) -> Option<(&str, &str)> {
    // Two-digit-after-trunk areas (010 Beijing, 02x big cities) have 3-digit codes.
    let code_len = if national.starts_with("01") || national.starts_with("02") { 3 } else { 4 };
    if national.len() <= code_len {
        return None;
    }
    let (code, number) = national.split_at(code_len);
    ((7..=8).contains(&number.len()) && !number.starts_with('0')).then_some((code, number))
}

/// Normalises a phone number as captured to one canonical form: a mobile as 11 digits
/// (no +86 / 0086 / spaces / dashes), a landline as `area-number` (`0935-6221234`), a local
/// number written without its area code taking `local_area_code` (the warehouse's city profile),
/// so `0935-6221234`, `09356221234` and `6221234` are one phone in a 0935 warehouse.
/// Returns `None` when the text is not a plausible Chinese phone number.
pub fn normalize_phone_in(raw: &str, local_area_code: &str) -> Option<String> {
    let national = national_digits(raw)?;
    if national.len() == 11 && national.starts_with('1') && matches!(national.as_bytes()[1], b'3'..=b'9') {
        return Some(national);
    }
    if national.starts_with('0') {
        return split_area_code(&national).map(|(code, number)| format!("{code}-{number}"));
    }
    if (7..=8).contains(&national.len()) && !national.starts_with('1') {
        return Some(format!("{local_area_code}-{national}"));
    }
    None
}

/// The area code a landline was written with (`0935-6221234`, `(0935)6221234`, `+86 935 6221234`
/// → `0935`); `None` for a mobile, a local number written without one, or not a phone.
pub fn written_area_code(raw: &str) -> Option<String> {
    let national = national_digits(raw)?;
    if !national.starts_with('0') {
        return None;
    }
    split_area_code(&national).map(|(code, _)| code.to_owned())
}

/// Weights of the ISO 7064 MOD 11-2 check on the first 17 digits of a resident ID.
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character of a resident ID from its first 17 digits (`None` if they are not 17 digits).
pub fn resident_id_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17.bytes().zip(ID_WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    Some(b"10X98765432"[(sum % 11) as usize] as char)
}

/// Upgrades a legacy 15-digit ID (two-digit year, no check) to 18 characters.
pub fn upgrade_legacy_id(id15: &str) -> Option<String> {
    if id15.len() != 15 || !id15.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first17 = format!("{}19{}", &id15[..6], &id15[6..]);
    resident_id_check_char(&first17).map(|c| format!("{first17}{c}"))
}

/// A resident ID as given, checked and, when legacy, upgraded to 18 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentId {
    /// 18 characters, check character upper-case.
    pub canonical: String,
    /// Whether the check character was right (always true for an upgraded 15-digit ID, which had none).
    pub check_ok: bool,
    /// Date of birth, when the digits make a real date.
    pub birth: Option<chrono::NaiveDate>,
    /// Sex from the sequence digit's parity.
    pub female: bool,
    /// Administrative division code (first six digits).
    pub region: String,
}

/// Parses a resident ID (18 characters with a final `X`/`x` allowed, or legacy 15 digits).
/// A wrong check character is a flag, not a rejection; anything else is `None`.
pub fn parse_resident_id(raw: &str) -> Option<ResidentId> {
    let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect::<String>().to_uppercase();
    if !compact.is_ascii() {
        return None;
    }
    let (canonical, check_ok) = match compact.len() {
        15 => (upgrade_legacy_id(&compact)?, true),
        18 => {
            let (first17, last) = compact.split_at(17);
            let expected = resident_id_check_char(first17)?;
            if !(last.as_bytes()[0].is_ascii_digit() || last == "X") {
                return None;
            }
            (compact.clone(), last.starts_with(expected))
        }
        _ => return None,
    };
    let birth = chrono::NaiveDate::parse_from_str(&canonical[6..14], "%Y%m%d").ok();
    let female = canonical.as_bytes()[16] % 2 == 0;
    Some(ResidentId { region: canonical[..6].to_owned(), canonical, check_ok, birth, female })
}

/// Two-character surnames, so that 欧阳娜娜 is 欧阳 + 娜娜 (the compound surnames of the
/// Hundred Family Surnames still in use, and the common double-barrelled ones).
const COMPOUND_SURNAMES: [&str; 40] = [
    "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒", "夏侯", "长孙", "宇文",
    "端木", "独孤", "南宫", "西门", "轩辕", "呼延", "澹台", "公冶", "宗政", "濮阳", "太叔", "申屠", "闻人", "赫连",
    "钟离", "拓跋", "百里", "东郭", "第五", "万俟", "司空", "仲孙", "闾丘", "亓官", "左丘", "谷梁",
];

/// Forms of address that follow a surname and name nobody in particular, with the sex they imply.
const HONORIFICS: [(&str, Option<bool>); 30] = [
    ("老板娘", Some(true)),
    ("先生", Some(false)),
    ("女士", Some(true)),
    ("小姐", Some(true)),
    ("师傅", None),
    ("阿姨", Some(true)),
    ("老师", None),
    ("大爷", Some(false)),
    ("大妈", Some(true)),
    ("大娘", Some(true)),
    ("大哥", Some(false)),
    ("大姐", Some(true)),
    ("大叔", Some(false)),
    ("大婶", Some(true)),
    ("奶奶", Some(true)),
    ("爷爷", Some(false)),
    ("伯伯", Some(false)),
    ("老板", None),
    ("经理", None),
    ("医生", None),
    ("律师", None),
    ("警官", None),
    ("同学", None),
    ("总", None),
    ("工", None),
    ("哥", Some(false)),
    ("姐", Some(true)),
    ("叔", Some(false)),
    ("婶", Some(true)),
    ("伯", Some(false)),
];

/// Informal prefixes before a surname (老王, 小李, 阿陈) that name nobody in particular.
const INFORMAL_PREFIXES: [char; 3] = ['老', '小', '阿'];

/// How a name was given, which decides how strongly it can identify someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameForm {
    /// A full name (王建国, 欧阳娜娜, 阿依古丽·买买提).
    Full,
    /// Only a surname with a form of address (王先生, 王建国先生 is full), or an informal form (老王, 小李).
    SurnameOnly,
    /// A police-style anonymised form (陈某, 李某某): the surname only, and never a name to mask.
    Anonymised,
}

/// A caller's name as matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameParts {
    /// The name without white space and with one kind of middle dot (`王 建国` → `王建国`,
    /// `阿依古丽•买买提` → `阿依古丽·买买提`); a full name given with a form of address loses it
    /// (`王建国先生` → `王建国`).
    pub normalised: String,
    /// The surname, when one can be told; for a middle-dot name, its first part (the person's own
    /// name, by which such a caller is also called alone).
    pub surname: Option<String>,
    /// Whether only a surname was given (a form of address, an informal or an anonymised form):
    /// weak evidence.
    pub honorific_only: bool,
    /// How the name was given.
    pub form: NameForm,
    /// Sex implied by the form of address (先生, 大爷 male; 女士, 大妈 female).
    pub female_hint: Option<bool>,
}

/// The compound surnames names are read with (`欧阳`, `司马` …).
pub fn compound_surnames() -> &'static [&'static str] {
    &COMPOUND_SURNAMES
}

/// Middle dots as typed (`·`, `•`, `・`, `‧`, `.`, `．`), all read as `·`.
fn is_middle_dot(c: char) -> bool {
    matches!(c, '·' | '•' | '・' | '‧' | '.' | '．' | '∙' | '⋅')
}

/// The surname a name starts with: a known compound surname, else its first character.
fn leading_surname(name: &str) -> Option<String> {
    COMPOUND_SURNAMES
        .iter()
        .find(|s| name.starts_with(*s) && name.chars().count() > 2)
        .map(|s| (*s).to_owned())
        .or_else(|| name.chars().next().map(String::from))
}

/// Whether a text is a surname on its own: one character, or a compound surname.
fn is_surname(text: &str) -> bool {
    text.chars().count() == 1 || COMPOUND_SURNAMES.contains(&text)
}

/// Surnames whose reading as a surname is not their characters' most common reading (曾 is Zēng
/// as a surname, céng elsewhere), toneless: two spellings of one name must meet on one pinyin, and
/// 曾婧瑶 typed as its homophone 增婧瑶 is zengjingyao both ways only when 曾 is read as a surname.
const SURNAME_READINGS: [(&str, &str); 44] = [
    ("万俟", "moqi"),
    ("尉迟", "yuchi"),
    ("长孙", "zhangsun"),
    ("令狐", "linghu"),
    ("澹台", "tantai"),
    ("亓官", "qiguan"),
    ("曾", "zeng"),
    ("单", "shan"),
    ("解", "xie"),
    ("仇", "qiu"),
    ("区", "ou"),
    ("查", "zha"),
    ("朴", "piao"),
    ("盖", "ge"),
    ("乐", "yue"),
    ("缪", "miao"),
    ("翟", "zhai"),
    ("覃", "qin"),
    ("秘", "bi"),
    ("种", "chong"),
    ("召", "shao"),
    ("繁", "po"),
    ("员", "yun"),
    ("过", "guo"),
    ("句", "gou"),
    ("尉", "yu"),
    ("宓", "mi"),
    ("隗", "wei"),
    ("华", "hua"),
    ("任", "ren"),
    ("纪", "ji"),
    ("祭", "zhai"),
    ("莘", "shen"),
    ("阚", "kan"),
    ("能", "nai"),
    ("黑", "he"),
    ("都", "du"),
    ("柏", "bai"),
    ("薄", "bo"),
    ("沈", "shen"),
    ("石", "shi"),
    ("叶", "ye"),
    ("折", "she"),
    ("眭", "sui"),
];

/// The toneless pinyin of a name, syllables run together in lower case (`王建国` → `wangjianguo`):
/// the same person's name typed with a homophone character (`王建國`, `汪建国`) still matches on it.
/// The surname it starts with takes its reading as a surname (`曾`, `单`, `解` …: zeng, shan, xie);
/// every other character its most common reading. Latin letters are kept (lower case); anything
/// else is dropped; `None` when nothing is left. Also for a surname given alone.
pub fn name_pinyin(name: &str) -> Option<String> {
    match surname_reading(name) {
        (Some(reading), rest) => Some(format!("{reading}{}", text_pinyin(rest).unwrap_or_default())),
        (None, _) => text_pinyin(name),
    }
}

/// The reading of the surname a name starts with where it has one of its own, and the rest.
fn surname_reading(name: &str) -> (Option<&'static str>, &str) {
    match SURNAME_READINGS.iter().find(|(surname, _)| name.starts_with(surname)) {
        Some((surname, reading)) => (Some(*reading), &name[surname.len()..]),
        None => (None, name),
    }
}

/// The toneless pinyin of a text, each character at its most common reading, syllables run
/// together in lower case (a shop's name: `乐购` → `legou`); Latin letters kept, anything else
/// dropped; `None` when nothing is left.
pub fn text_pinyin(text: &str) -> Option<String> {
    use pinyin::ToPinyin;
    let mut out = String::new();
    for (c, reading) in text.chars().zip(text.to_pinyin()) {
        match reading {
            Some(reading) => out.push_str(reading.plain()),
            None if c.is_ascii_alphabetic() => out.push(c.to_ascii_lowercase()),
            None => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The syllables of a name's pinyin, the surname read as a surname (`曾婧瑶` → zeng, jing, yao).
pub fn name_syllables(name: &str) -> Vec<String> {
    use pinyin::ToPinyin;
    let (surname, rest) = surname_reading(name);
    surname.into_iter().chain(rest.to_pinyin().flatten().map(|p| p.plain())).map(str::to_owned).collect()
}

/// Splits a name as given into what identity matching compares.
pub fn normalize_name(raw: &str) -> NameParts {
    let mut normalised: String =
        raw.chars().filter(|c| !c.is_whitespace()).map(|c| if is_middle_dot(c) { '·' } else { c }).collect();
    let trimmed = normalised.trim_matches('·');
    if trimmed.len() != normalised.len() {
        normalised = trimmed.to_owned();
    }
    let surname_only = |normalised: String, surname: &str, female_hint| NameParts {
        surname: Some(surname.to_owned()),
        honorific_only: true,
        form: NameForm::SurnameOnly,
        female_hint,
        normalised,
    };
    // 陈某, 李某某, 欧阳某: an anonymised record names only the surname.
    for tail in ["某某", "某"] {
        if let Some(surname) = normalised.strip_suffix(tail)
            && !surname.is_empty()
            && is_surname(surname)
        {
            let surname = surname.to_owned();
            return NameParts { form: NameForm::Anonymised, ..surname_only(normalised, &surname, None) };
        }
    }
    for (honorific, female_hint) in HONORIFICS {
        if let Some(rest) = normalised.strip_suffix(honorific) {
            let n = rest.chars().count();
            if n >= 1 && is_surname(rest) {
                let rest = rest.to_owned();
                return surname_only(normalised, &rest, female_hint);
            }
            // A full name with a form of address after it (王建国先生) is the full name; only the
            // longer forms of address are taken off, since 哥/姐/总 end many given names.
            if (2..=4).contains(&n) && honorific.chars().count() >= 2 && !rest.contains('·') {
                let mut parts = normalize_name(rest);
                parts.female_hint = parts.female_hint.or(female_hint);
                return parts;
            }
        }
    }
    // 老王, 小李, 阿陈: an informal form of the surname.
    let mut chars = normalised.chars();
    if let Some(first) = chars.next()
        && INFORMAL_PREFIXES.contains(&first)
    {
        let rest = chars.as_str();
        if !rest.is_empty() && is_surname(rest) {
            let rest = rest.to_owned();
            return surname_only(normalised, &rest, None);
        }
    }
    if let Some((own, _)) = normalised.split_once('·')
        && !own.is_empty()
    {
        let own = own.to_owned();
        return NameParts {
            surname: Some(own),
            honorific_only: false,
            form: NameForm::Full,
            female_hint: None,
            normalised,
        };
    }
    let surname = leading_surname(&normalised);
    NameParts { surname, honorific_only: false, form: NameForm::Full, female_hint: None, normalised }
}

/// The first part of a middle-dot name (`阿依古丽·买买提` → `阿依古丽`), by which the caller is
/// also called alone.
pub fn own_name_part(normalised: &str) -> Option<&str> {
    normalised.split_once('·').map(|(own, _)| own).filter(|own| !own.is_empty())
}

/// Masks a name for analysts: the surname and one `*` per remaining character (`张**`). A
/// middle-dot name has no surname (its first part is the person's own name, the second the
/// father's), so it keeps only its first character and the dot (`阿***·***`). A surname with a form of address, an informal or an anonymised form
/// (`王先生`, `老王`, `陈某`) names nobody in particular and is kept as written.
pub fn mask_name(name: &str) -> String {
    let parts = normalize_name(name);
    let compact = parts.normalised;
    if parts.form != NameForm::Full {
        return compact;
    }
    let keep = match parts.surname.as_deref() {
        Some(_) if compact.contains('·') => 1,
        Some(surname) if compact.chars().count() > surname.chars().count() => surname.chars().count(),
        _ => 1,
    };
    compact.chars().enumerate().map(|(i, c)| if i < keep || c == '·' { c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn pinyin_runs_syllables_together_without_tones() {
        assert_eq!(name_pinyin("王建国").as_deref(), Some("wangjianguo"));
        assert_eq!(name_pinyin("王建國"), name_pinyin("王建国"));
        assert_eq!(name_pinyin("汪建国").as_deref(), Some("wangjianguo"));
        assert_eq!(name_pinyin("Li 娜").as_deref(), Some("lina"));
        assert_eq!(name_pinyin("·  "), None);
        // A surname read as a surname: 曾 is Zēng in a name, and meets its homophone 增.
        assert_eq!(name_pinyin("曾婧瑶").as_deref(), Some("zengjingyao"));
        assert_eq!(name_pinyin("曾婧瑶"), name_pinyin("增婧瑶"));
        assert_eq!(name_pinyin("曾").as_deref(), Some("zeng"));
        assert_eq!(name_pinyin("单田芳").as_deref(), Some("shantianfang"));
        assert_eq!(name_pinyin("尉迟恭").as_deref(), Some("yuchigong"));
        assert_eq!(name_pinyin("解缙"), name_pinyin("谢缙"));
        assert_eq!(name_syllables("曾婧瑶"), ["zeng", "jing", "yao"]);
        // Elsewhere the common reading: a shop's name is no surname.
        assert_eq!(text_pinyin("曾经").as_deref(), Some("cengjing"));
    }

    use super::*;

    #[test]
    fn every_captured_form_of_a_mobile_normalises_the_same() {
        for raw in
            ["13800001234", "+86 138-0000-1234", "0086 13800001234", "138 0000 1234", "8613800001234", "+8613800001234"]
        {
            assert_eq!(normalize_phone(raw).as_deref(), Some("13800001234"), "{raw}");
        }
    }

    #[test]
    fn landlines_get_their_area_code() {
        assert_eq!(normalize_phone("0717-6221234").as_deref(), Some("0717-6221234"));
        assert_eq!(normalize_phone("(0717)6221234").as_deref(), Some("0717-6221234"));
        assert_eq!(normalize_phone("07176221234").as_deref(), Some("0717-6221234"));
        assert_eq!(normalize_phone("6221234").as_deref(), Some("0717-6221234"));
        assert_eq!(normalize_phone("010-62212345").as_deref(), Some("010-62212345"));
        assert_eq!(normalize_phone("+86 717 6221234").as_deref(), Some("0717-6221234"));
    }

    #[test]
    fn a_local_number_takes_the_warehouses_area_code() {
        for raw in ["0935-6221234", "09356221234", "6221234", "(0935)6221234", "+86 935 6221234"] {
            assert_eq!(normalize_phone_in(raw, "0935").as_deref(), Some("0935-6221234"), "{raw}");
        }
        assert_eq!(normalize_phone_in("0311-86221234", "0935").as_deref(), Some("0311-86221234"));
        assert_eq!(written_area_code("0935-6221234").as_deref(), Some("0935"));
        assert_eq!(written_area_code("(010)62212345").as_deref(), Some("010"));
        assert_eq!(written_area_code("6221234"), None);
        assert_eq!(written_area_code("13800001234"), None);
    }

    #[test]
    fn garbage_is_not_a_phone() {
        for raw in ["", "abc", "12", "1380000123", "23800001234", "0717-0001234", "电话13800001234"] {
            assert_eq!(normalize_phone(raw), None, "{raw}");
        }
    }

    #[test]
    fn check_digits_follow_the_national_standard() {
        // GB 11643-1999 example.
        assert_eq!(resident_id_check_char("11010519491231002"), Some('X'));
        assert_eq!(resident_id_check_char("44052418800101001"), Some('4'));
        assert_eq!(resident_id_check_char("4405241880010100"), None);
        assert_eq!(upgrade_legacy_id("110105491231002").as_deref(), Some("11010519491231002X"));
    }

    #[test]
    fn resident_ids_are_checked_upgraded_and_read() {
        let id = parse_resident_id(" 11010519491231002x ").unwrap();
        assert_eq!(id.canonical, "11010519491231002X");
        assert!(id.check_ok);
        assert_eq!(id.birth, chrono::NaiveDate::from_ymd_opt(1949, 12, 31));
        assert!(id.female);
        assert_eq!(id.region, "110105");
        let wrong = parse_resident_id("110105194912310021").unwrap();
        assert!(!wrong.check_ok, "a wrong check digit is flagged, not rejected");
        let legacy = parse_resident_id("110105491231002").unwrap();
        assert_eq!(legacy.canonical, "11010519491231002X");
        for bad in ["", "1101051949123100", "11010519491231002Y", "ABCDEFGHIJKLMNOPQR", "王王王王王王", "王王王王王"]
        {
            assert_eq!(parse_resident_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_split_into_surname_and_honorific() {
        let honorific = normalize_name("王先生");
        assert_eq!((honorific.surname.as_deref(), honorific.honorific_only), (Some("王"), true));
        let spaced = normalize_name(" 王 建国");
        assert_eq!(
            (spaced.normalised.as_str(), spaced.surname.as_deref(), spaced.honorific_only),
            ("王建国", Some("王"), false)
        );
        assert_eq!(normalize_name("欧阳娜娜").surname.as_deref(), Some("欧阳"));
        assert_eq!(normalize_name("欧阳女士").surname.as_deref(), Some("欧阳"));
        assert_eq!(normalize_name("").surname, None);
    }

    #[test]
    fn names_are_masked_after_the_surname() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("王 建国"), "王**");
        assert_eq!(mask_name("王先生"), "王先生");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳**");
        assert_eq!(mask_name("阿依古丽·买买提"), "阿***·***");
        assert_eq!(mask_name("老王"), "老王");
        assert_eq!(mask_name("陈某某"), "陈某某");
        assert_eq!(mask_name(""), "");
    }

    #[test]
    fn informal_anonymised_and_dotted_names_are_understood() {
        for (raw, surname, form) in [
            ("老王", "王", NameForm::SurnameOnly),
            ("小李", "李", NameForm::SurnameOnly),
            ("阿陈", "陈", NameForm::SurnameOnly),
            ("陈某", "陈", NameForm::Anonymised),
            ("李某某", "李", NameForm::Anonymised),
            ("欧阳某", "欧阳", NameForm::Anonymised),
            ("王大爷", "王", NameForm::SurnameOnly),
            ("司徒先生", "司徒", NameForm::SurnameOnly),
            ("阿依古丽 • 买买提", "阿依古丽", NameForm::Full),
            ("长孙无忌", "长孙", NameForm::Full),
        ] {
            let parts = normalize_name(raw);
            assert_eq!((parts.surname.as_deref(), parts.form), (Some(surname), form), "{raw}");
            assert_eq!(parts.honorific_only, form != NameForm::Full, "{raw}");
        }
        assert_eq!(normalize_name("阿依古丽•买买提").normalised, "阿依古丽·买买提");
        assert_eq!(own_name_part("阿依古丽·买买提"), Some("阿依古丽"));
        assert_eq!(normalize_name("王大爷").female_hint, Some(false));
        assert_eq!(normalize_name("张阿姨").female_hint, Some(true));
        let full = normalize_name("王建国先生");
        assert_eq!((full.normalised.as_str(), full.form, full.female_hint), ("王建国", NameForm::Full, Some(false)));
        // A full name that merely starts with 小 or ends with 哥 is still a full name.
        assert_eq!(normalize_name("小明明").form, NameForm::Full);
        assert_eq!(normalize_name("李小哥").form, NameForm::Full);
    }
}
