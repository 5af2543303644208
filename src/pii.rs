//! Personal-data helpers: canonical phone numbers, resident ID check digits, masked names.

/// The local area code assumed for a landline written without one (Yichang).
pub const LOCAL_AREA_CODE: &str = "0717";

/// Normalises a phone number as captured to one canonical form: a mobile as 11 digits
/// (no +86 / 0086 / spaces / dashes), a landline as `area-number` (`0717-6221234`).
/// Returns `None` when the text is not a plausible Chinese phone number.
pub fn normalize_phone(raw: &str) -> Option<String> {
    let mut digits: String =
        raw.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '（' | '）' | '.' | '\u{3000}')).collect();
    if let Some(rest) = digits.strip_prefix('+') {
        digits = rest.to_owned();
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
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
    if national.len() == 11 && national.starts_with('1') && matches!(national.as_bytes()[1], b'3'..=b'9') {
        return Some(national.to_owned());
    }
    // A landline written internationally drops its trunk 0.
    let with_trunk =
        if international && !national.starts_with('0') { format!("0{national}") } else { national.to_owned() };
    if with_trunk.starts_with('0') {
        // Two-digit-after-trunk areas (010 Beijing, 02x big cities) have 3-digit codes.
        let code_len = if with_trunk.starts_with("01") || with_trunk.starts_with("02") { 3 } else { 4 };
        let (code, number) = with_trunk.split_at(code_len.min(with_trunk.len()));
        if (7..=8).contains(&number.len()) && !number.starts_with('0') {
            return Some(format!("{code}-{number}"));
        }
        return None;
    }
    if (7..=8).contains(&with_trunk.len()) && !with_trunk.starts_with('1') {
        return Some(format!("{LOCAL_AREA_CODE}-{with_trunk}"));
    }
    None
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

/// Masks a name for analysts: the surname and one `*` per remaining character (`张**`).
/// Honorific forms keep their honorific (`王先生` → `王先生`, since it names nobody).
pub fn mask_name(name: &str) -> String {
    let compact: String = name.chars().filter(|c| !c.is_whitespace()).collect();
    for honorific in ["先生", "女士", "师傅", "小姐", "阿姨"] {
        if let Some(surname) = compact.strip_suffix(honorific)
            && surname.chars().count() <= 2
        {
            return compact;
        }
    }
    let mut chars = compact.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
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

/// Two-character surnames, so that 欧阳娜娜 is 欧阳 + 娜娜.
const COMPOUND_SURNAMES: [&str; 12] =
    ["欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "司徒", "夏侯"];

/// Forms of address that follow a surname and name nobody in particular.
const HONORIFICS: [&str; 6] = ["先生", "女士", "师傅", "小姐", "阿姨", "老师"];

/// A caller's name as matching needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameParts {
    /// The name without white space (`王 建国` → `王建国`).
    pub normalised: String,
    /// The surname, when one can be told.
    pub surname: Option<String>,
    /// Whether only a surname and a form of address were given (`王先生`): weak evidence.
    pub honorific_only: bool,
}

/// The toneless pinyin of a name, syllables run together in lower case (`王建国` → `wangjianguo`):
/// the same person's name typed with a homophone character (`王建國`, `汪建国`) still matches on it.
/// Latin letters are kept (lower case); anything else is dropped; `None` when nothing is left.
/// Each character takes its most common reading, so a surname read unusually (单 as Shàn) differs.
pub fn name_pinyin(name: &str) -> Option<String> {
    use pinyin::ToPinyin;
    let mut out = String::new();
    for (c, reading) in name.chars().zip(name.to_pinyin()) {
        match reading {
            Some(reading) => out.push_str(reading.plain()),
            None if c.is_ascii_alphabetic() => out.push(c.to_ascii_lowercase()),
            None => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Splits a name as given into what identity matching compares.
pub fn normalize_name(raw: &str) -> NameParts {
    let normalised: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    for honorific in HONORIFICS {
        if let Some(surname) = normalised.strip_suffix(honorific)
            && (1..=2).contains(&surname.chars().count())
        {
            return NameParts { surname: Some(surname.to_owned()), honorific_only: true, normalised };
        }
    }
    let surname = COMPOUND_SURNAMES
        .iter()
        .find(|s| normalised.starts_with(*s) && normalised.chars().count() > 2)
        .map(|s| (*s).to_owned())
        .or_else(|| normalised.chars().next().map(String::from));
    NameParts { surname, honorific_only: false, normalised }
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
        assert_eq!(mask_name(""), "");
    }
}
