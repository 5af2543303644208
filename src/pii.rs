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

#[cfg(test)]
mod tests {
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
    fn names_are_masked_after_the_surname() {
        assert_eq!(mask_name("张伟"), "张*");
        assert_eq!(mask_name("王 建国"), "王**");
        assert_eq!(mask_name("王先生"), "王先生");
        assert_eq!(mask_name(""), "");
    }
}
