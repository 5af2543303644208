//! Identifiers written in a call's words: vehicle plates, phone numbers and resident ID numbers,
//! each in one canonical form so that two calls naming the same one match, and a caller's own
//! phone or ID can be found named in somebody else's call.
//!
//! The values stay inside the process: linking keeps them interned and writes only how many
//! calls share one.

use crate::pii::{normalize_phone_in, parse_resident_id};

/// What kind of identifier a mention is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MentionKind {
    /// A vehicle plate (`鄂E12345`, `冀A·D12345`).
    Plate,
    /// A phone number (a mobile, or a landline with or without its area code after 电话 / 号码).
    Phone,
    /// A resident ID number (18 characters, or 15 legacy digits).
    IdNumber,
}

impl MentionKind {
    /// Every kind.
    pub const ALL: [MentionKind; 3] = [MentionKind::Plate, MentionKind::Phone, MentionKind::IdNumber];

    /// Prefix of the interned value and name in evidence sentences.
    pub fn name(self) -> &'static str {
        match self {
            MentionKind::Plate => "plate",
            MentionKind::Phone => "phone",
            MentionKind::IdNumber => "id_number",
        }
    }

    /// The kind of an interned value (`plate:鄂E12345`).
    pub fn of_value(value: &str) -> Option<MentionKind> {
        let prefix = value.split(':').next()?;
        MentionKind::ALL.into_iter().find(|k| k.name() == prefix)
    }
}

/// The one-character abbreviations that begin a mainland plate.
const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// Words after which a bare 7- or 8-digit number is a local landline.
const PHONE_WORDS: [&str; 5] = ["电话", "号码", "手机", "联系方式", "座机"];

fn plate_char(c: char) -> bool {
    // Plates never use I or O; full-width forms were folded before.
    (c.is_ascii_uppercase() && c != 'I' && c != 'O') || c.is_ascii_digit()
}

/// Folds full-width ASCII (`ＡＢ１２`) to half-width and upper-cases letters.
fn fold(text: &str) -> Vec<char> {
    text.chars()
        .map(|c| match c {
            '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
            _ => c,
        })
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Plates in a text: a province, a letter, then five or six letters and digits (at least two
/// digits), with an optional `·`, `-` or space after the letter.
fn plates(chars: &[char], out: &mut Vec<(MentionKind, String)>) {
    let mut i = 0;
    while i + 7 <= chars.len() {
        if !PROVINCES.contains(chars[i]) || !chars[i + 1].is_ascii_uppercase() {
            i += 1;
            continue;
        }
        let mut j = i + 2;
        if j < chars.len() && matches!(chars[j], '·' | '•' | '-' | ' ' | '.') {
            j += 1;
        }
        let start = j;
        while j < chars.len() && plate_char(chars[j]) && j - start < 7 {
            j += 1;
        }
        let body: String = chars[start..j].iter().collect();
        let digits = body.chars().filter(char::is_ascii_digit).count();
        let followed_by_alnum = j < chars.len() && chars[j].is_ascii_alphanumeric();
        if (5..=6).contains(&body.len()) && digits >= 2 && !followed_by_alnum {
            out.push((MentionKind::Plate, format!("{}{}{body}", chars[i], chars[i + 1])));
            i = j;
        } else {
            i += 1;
        }
    }
}

/// Runs of digits (with `-` or a space between digit groups, an `X` closing an ID) that are
/// not part of a longer alphanumeric word.
fn digit_runs(chars: &[char]) -> Vec<(usize, String)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let boundary = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        if !chars[i].is_ascii_digit() || !boundary {
            i += 1;
            continue;
        }
        let start = i;
        let mut digits = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_ascii_digit() {
                digits.push(c);
                i += 1;
            } else if matches!(c, '-' | ' ')
                && i + 1 < chars.len()
                && chars[i + 1].is_ascii_digit()
                && !digits.is_empty()
            {
                i += 1;
            } else {
                break;
            }
        }
        if i < chars.len() && chars[i] == 'X' && digits.len() == 17 {
            digits.push('X');
            i += 1;
        }
        if i < chars.len() && chars[i].is_ascii_alphanumeric() {
            // Part of a longer code (an order number, a plate): not an identifier.
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            continue;
        }
        runs.push((start, digits));
    }
    runs
}

/// Every identifier a text names, canonical, in order of appearance, each once.
/// `area_code` completes a local landline written without one (`电话6221234`).
pub fn mentions(text: &str, area_code: &str) -> Vec<(MentionKind, String)> {
    if !text.bytes().any(|b| b.is_ascii_digit()) && !text.chars().any(|c| ('０'..='９').contains(&c)) {
        return Vec::new();
    }
    let chars = fold(text);
    let mut out = Vec::new();
    plates(&chars, &mut out);
    for (start, digits) in digit_runs(&chars) {
        let id_like = digits.len() == 18 || (digits.len() == 15 && !digits.starts_with('0'));
        if id_like && let Some(id) = parse_resident_id(&digits).filter(|id| id.check_ok && id.birth.is_some()) {
            out.push((MentionKind::IdNumber, id.canonical));
            continue;
        }
        let mobile = digits.len() == 11 && digits.starts_with('1');
        let with_code = digits.starts_with('0') && (10..=12).contains(&digits.len());
        let before: String = chars[start.saturating_sub(6)..start].iter().collect();
        let local = (7..=8).contains(&digits.len()) && PHONE_WORDS.iter().any(|w| before.contains(w));
        if (mobile || with_code || local)
            && let Some(phone) = normalize_phone_in(&digits, area_code)
        {
            out.push((MentionKind::Phone, phone));
        }
    }
    let mut seen = Vec::new();
    out.retain(|m| {
        let new = !seen.contains(m);
        if new {
            seen.push(m.clone());
        }
        new
    });
    out
}

/// The interned form of a mention (`plate:鄂E12345`), the same for a caller's own phone or ID.
pub fn value(kind: MentionKind, canonical: &str) -> String {
    format!("{}:{canonical}", kind.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<String> {
        mentions(text, "0717").into_iter().map(|(k, v)| value(k, &v)).collect()
    }

    #[test]
    fn plates_are_read_in_any_spacing_and_width() {
        assert_eq!(found("车牌号鄂E12345的白色轿车"), ["plate:鄂E12345"]);
        assert_eq!(found("冀A·D12345车主"), ["plate:冀AD12345"]);
        assert_eq!(found("蒙Ｅ１２Ａ３４逃逸"), ["plate:蒙E12A34"]);
        // Too short, too long, or without digits: not a plate.
        assert!(found("鄂E123").is_empty());
        assert!(found("鄂EABCDE").is_empty());
        assert!(found("鄂E1234567").is_empty());
    }

    #[test]
    fn phones_are_canonical_and_local_numbers_need_a_phone_word() {
        assert_eq!(found("对方手机138-0000-1234一直不接"), ["phone:13800001234"]);
        assert_eq!(found("店里电话6221234"), ["phone:0717-6221234"]);
        assert_eq!(found("座机0311-86221234"), ["phone:0311-86221234"]);
        // A sum of money or a date is no phone.
        assert!(found("索要赔偿6221234元").is_empty());
        assert!(found("2023年7月19日").is_empty());
        // Part of an order number.
        assert!(found("订单号SN13800001234A").is_empty());
    }

    #[test]
    fn resident_ids_must_pass_their_check() {
        // 11010519491231002X is the standard's own example.
        assert_eq!(found("对方身份证号11010519491231002x"), ["id_number:11010519491231002X"]);
        assert!(found("身份证号110105194912310021").is_empty());
    }

    #[test]
    fn each_identifier_is_counted_once_per_text() {
        assert_eq!(found("13800001234，再打13800001234"), ["phone:13800001234"]);
        assert_eq!(MentionKind::of_value("plate:鄂E12345"), Some(MentionKind::Plate));
    }
}
