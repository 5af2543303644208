//! Plain-text tables whose columns line up by display width, so Chinese text aligns in a terminal.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// Writes a table with a header, a rule and rows; cells wider than `max_width` are cut with `…`.
pub fn write_table<W: Write>(
    out: &mut W,
    header: &[&str],
    align: &[Align],
    rows: &[Vec<String>],
    max_width: usize,
) -> io::Result<()> {
    let cells: Vec<Vec<String>> = rows.iter().map(|row| row.iter().map(|c| truncate(c, max_width)).collect()).collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.width()).collect();
    for row in &cells {
        for (i, cell) in row.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(cell.width());
            }
        }
    }
    let line = |out: &mut W, row: &[String]| -> io::Result<()> {
        let mut text = String::new();
        for (i, cell) in row.iter().enumerate() {
            let pad = widths.get(i).copied().unwrap_or(0).saturating_sub(cell.width());
            if i > 0 {
                text.push_str("  ");
            }
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    text.push_str(cell);
                    if i + 1 < row.len() {
                        text.push_str(&" ".repeat(pad));
                    }
                }
                Align::Right => {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                }
            }
        }
        writeln!(out, "{}", text.trim_end())
    };
    line(out, &header.iter().map(|h| (*h).to_owned()).collect::<Vec<_>>())?;
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    writeln!(out, "{}", rule.join("  "))?;
    for row in &cells {
        line(out, row)?;
    }
    Ok(())
}

/// Cuts text to a display width, ending with `…` when cut.
pub fn truncate(text: &str, max_width: usize) -> String {
    if text.width() <= max_width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut width = 0;
    for c in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if width + w + 1 > max_width {
            break;
        }
        out.push(c);
        width += w;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_and_ascii_columns_line_up_by_display_width() {
        let mut out = Vec::new();
        let rows = vec![vec!["双非占比".to_owned(), "25.4%".to_owned()], vec!["repeat".to_owned(), "3.1%".to_owned()]];
        write_table(&mut out, &["figure", "value"], &[Align::Left, Align::Right], &rows, 40).unwrap();
        let text = String::from_utf8(out).unwrap();
        let widths: Vec<usize> = text.lines().map(UnicodeWidthStr::width).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{text}");
        assert!(text.contains("双非占比  25.4%"));
    }

    #[test]
    fn long_cells_are_cut_to_the_width() {
        let cut = truncate("来电人称其在某某医疗美容诊所做了双眼皮手术", 12);
        assert!(cut.width() <= 12);
        assert!(cut.ends_with('…'));
    }
}
