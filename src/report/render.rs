//! A report's files: `report.html` (self-contained: inline CSS and SVG charts and map, system CJK
//! fonts, nothing fetched), `report.md`, and one CSV per table.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::{Figure, ReportData, TextTable};
use crate::hotspot::Hotspot;
use crate::hotspot::entity::EntityHotspot;

/// Fonts that carry Chinese on Linux, Windows and macOS, then the generic family.
pub const FONT_STACK: &str = "\"Noto Sans CJK SC\", \"Noto Sans SC\", \"Source Han Sans SC\", \"WenQuanYi Micro Hei\", \
     \"Microsoft YaHei\", \"PingFang SC\", sans-serif";

/// Every file of the report folder: (name, contents).
pub fn files(data: &ReportData) -> Vec<(String, String)> {
    vec![
        ("report.html".to_owned(), html(data)),
        ("report.md".to_owned(), markdown(data)),
        ("figures.csv".to_owned(), csv_of(&figures_table(data))),
        ("categories.csv".to_owned(), csv_of(&data.categories)),
        ("hotspots.csv".to_owned(), csv_of(&hotspots_table(data, usize::MAX))),
        ("entities.csv".to_owned(), csv_of(&entities_table(data, usize::MAX))),
        ("callers.csv".to_owned(), csv_of(&data.callers)),
        ("leads.csv".to_owned(), csv_of(&data.leads)),
    ]
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn percent(value: Option<f64>) -> String {
    value.map_or("–".to_owned(), |v| format!("{v:.1}%"))
}

fn change(figure: &Figure) -> String {
    match (figure.value, figure.previous) {
        (Some(now), Some(before)) => format!("{:+.1} pts", now - before),
        _ => "–".to_owned(),
    }
}

/// The headline figures as a table (the same in every format).
pub fn figures_table(data: &ReportData) -> TextTable {
    let header = ["figure", "name_zh", "numerator", "denominator", "value_pct", "previous_pct", "change"];
    TextTable {
        header: header.iter().map(|s| (*s).to_owned()).collect(),
        rows: data
            .figures
            .iter()
            .map(|f| {
                vec![
                    f.key.clone(),
                    f.name_zh.clone(),
                    f.numerator.to_string(),
                    f.denominator.to_string(),
                    f.value.map_or(String::new(), |v| format!("{v:.1}")),
                    f.previous.map_or(String::new(), |v| format!("{v:.1}")),
                    change(f),
                ]
            })
            .collect(),
    }
}

fn hot(data: &ReportData) -> impl Iterator<Item = &Hotspot> {
    data.hotspots.cells.iter().filter(|c| c.result.category.is_hot())
}

/// The hot cells, ranked, with where they are.
pub fn hotspots_table(data: &ReportData, top: usize) -> TextTable {
    let header = ["rank", "category", "district", "grid_ids", "top_address", "top_counterparty", "calls", "cell"];
    TextTable {
        header: header.iter().map(|s| (*s).to_owned()).collect(),
        rows: hot(data)
            .take(top)
            .enumerate()
            .map(|(i, c)| {
                vec![
                    (i + 1).to_string(),
                    c.result.category.name().to_owned(),
                    c.district.clone(),
                    c.grid_ids.join(" "),
                    c.top_address.clone(),
                    c.top_counterparty.clone(),
                    format!("{}", c.result.calls),
                    c.id.clone(),
                ]
            })
            .collect(),
    }
}

/// Counterparties and addresses many callers dispute.
pub fn entities_table(data: &ReportData, top: usize) -> TextTable {
    let mut header: Vec<String> = EntityHotspot::COLUMNS.iter().map(|s| (*s).to_owned()).collect();
    header.push("trend".to_owned());
    let rows = data
        .hotspots
        .entities
        .iter()
        .take(top)
        .map(|e| {
            let mut row = e.cells();
            row.push(e.trend_word().to_owned());
            row
        })
        .collect();
    TextTable { header, rows }
}

fn csv_of(table: &TextTable) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(&table.header);
    for row in &table.rows {
        let _ = writer.write_record(row);
    }
    String::from_utf8(writer.into_inner().unwrap_or_default()).unwrap_or_default()
}

fn markdown_table(out: &mut String, table: &TextTable) {
    if table.rows.is_empty() {
        out.push_str("(none)\n\n");
        return;
    }
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let _ = writeln!(out, "| {} |", table.header.iter().map(|h| cell(h)).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(out, "|{}|", vec!["---"; table.header.len()].join("|"));
    for row in &table.rows {
        let _ = writeln!(out, "| {} |", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | "));
    }
    out.push('\n');
}

fn title(data: &ReportData) -> String {
    format!("热点研判报告 {} ({} – {})", data.period, data.period.first, data.period.last)
}

fn total_calls(data: &ReportData, first: chrono::NaiveDate, last: chrono::NaiveDate) -> i64 {
    data.daily.iter().filter(|d| d.day >= first && d.day <= last).map(|d| d.calls).sum()
}

fn volume_line(data: &ReportData) -> String {
    let now = total_calls(data, data.period.first, data.period.last);
    let before = total_calls(data, data.previous.first, data.previous.last);
    let change =
        if before > 0 { format!("{:+.1}%", 100.0 * (now - before) as f64 / before as f64) } else { "–".into() };
    format!("{now} calls in {} ({change} against {}: {before})", data.period, data.previous)
}

/// The Markdown version.
pub fn markdown(data: &ReportData) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", title(data));
    let _ = writeln!(out, "Warehouse snapshot {}. {}.\n", data.snapshot, volume_line(data));
    out.push_str("## Headline figures\n\n");
    markdown_table(&mut out, &figures_table(data));
    out.push_str("## Calls by category\n\n");
    markdown_table(&mut out, &data.categories);
    out.push_str("## Dispute hotspots\n\n");
    markdown_table(&mut out, &hotspots_table(data, 15));
    out.push_str("## Most disputed counterparties and addresses\n\n");
    markdown_table(&mut out, &entities_table(data, 10));
    out.push_str("## Top repeat callers (pseudonymised)\n\n");
    markdown_table(&mut out, &data.callers);
    out.push_str("## Leads worth a look\n\n");
    markdown_table(&mut out, &data.leads);
    out
}

fn html_table(out: &mut String, table: &TextTable, numeric: &[&str]) {
    if table.rows.is_empty() {
        out.push_str("<p class=\"none\">none in this period</p>\n");
        return;
    }
    out.push_str("<table><thead><tr>");
    for h in &table.header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for (h, c) in table.header.iter().zip(row) {
            let class = if numeric.contains(&h.as_str()) { " class=\"n\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
}

/// Daily calls by platform over the period before and the period, as an SVG line chart.
pub fn volume_chart(data: &ReportData) -> String {
    let (width, height, left, bottom, top) = (720.0, 220.0, 48.0, 28.0, 12.0);
    let days = &data.daily;
    let max = days.iter().map(|d| d.calls).max().unwrap_or(0).max(1) as f64;
    let n = days.len().max(2) as f64 - 1.0;
    let x = |i: usize| left + (width - left - 8.0) * i as f64 / n;
    let y = |v: i64| top + (height - top - bottom) * (1.0 - v as f64 / max);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"每日来电量\" \
         xmlns=\"http://www.w3.org/2000/svg\">"
    );
    if let Some(split) = days.iter().position(|d| d.day >= data.period.first) {
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{top}\" width=\"{:.1}\" height=\"{:.1}\" class=\"current\"/>",
            x(split),
            width - 8.0 - x(split),
            height - top - bottom
        );
    }
    for (label, pick, class) in [
        ("全部", (|d: &super::DayVolume| d.calls) as fn(&super::DayVolume) -> i64, "all"),
        ("110", |d| d.calls_110, "p110"),
        ("12345", |d| d.calls_12345, "p12345"),
    ] {
        let points: Vec<String> =
            days.iter().enumerate().map(|(i, d)| format!("{:.1},{:.1}", x(i), y(pick(d)))).collect();
        let _ = write!(
            svg,
            "<polyline class=\"{class}\" points=\"{}\"><title>{label}</title></polyline>",
            points.join(" ")
        );
    }
    let _ = write!(svg, "<text x=\"4\" y=\"{:.1}\" class=\"axis\">{}</text>", top + 10.0, max as i64);
    let _ = write!(svg, "<text x=\"4\" y=\"{:.1}\" class=\"axis\">0</text>", height - bottom);
    if let (Some(first), Some(last)) = (days.first(), days.last()) {
        let _ = write!(svg, "<text x=\"{left}\" y=\"{:.1}\" class=\"axis\">{}</text>", height - 8.0, first.day);
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{}</text>",
            width - 8.0,
            height - 8.0,
            last.day
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"legend\" text-anchor=\"middle\"><tspan class=\"all\">■ 全部</tspan> \
         <tspan class=\"p110\">■ 110</tspan> <tspan class=\"p12345\">■ 12345</tspan> 阴影：本期</text></svg>",
        width / 2.0,
        height - 8.0
    );
    svg
}

/// Calls by category in the period (top 10), as SVG bars with the count before beside them.
pub fn category_chart(data: &ReportData) -> String {
    let rows: Vec<&Vec<String>> = data.categories.rows.iter().take(10).collect();
    let before: HashMap<&str, &str> = data
        .categories_before
        .rows
        .iter()
        .map(|r| (data.categories_before.get(r, "category"), data.categories_before.get(r, "calls")))
        .collect();
    let max = rows.iter().filter_map(|r| data.categories.get(r, "calls").parse::<f64>().ok()).fold(1.0, f64::max);
    let (width, bar_height) = (720.0, 22.0);
    let height = bar_height * rows.len().max(1) as f64 + 8.0;
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"类别构成\" \
         xmlns=\"http://www.w3.org/2000/svg\">"
    );
    for (i, row) in rows.iter().enumerate() {
        let code = data.categories.get(row, "category");
        let name = data.categories.get(row, "name_zh");
        let calls: f64 = data.categories.get(row, "calls").parse().unwrap_or(0.0);
        let y = 4.0 + i as f64 * bar_height;
        let length = (width - 330.0) * calls / max;
        let _ = write!(
            svg,
            "<text x=\"150\" y=\"{:.1}\" text-anchor=\"end\">{}</text><rect x=\"158\" y=\"{y:.1}\" width=\"{length:.1}\" \
             height=\"{:.1}\" class=\"bar\"><title>{}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{} (上期 {})</text>",
            y + 15.0,
            escape(name),
            bar_height - 6.0,
            escape(code),
            162.0 + length,
            y + 15.0,
            calls as i64,
            before.get(code).copied().unwrap_or("0")
        );
    }
    svg.push_str("</svg>");
    svg
}

fn category_colour(name: &str) -> &'static str {
    match name {
        "New Hot Spot" => "#b2182b",
        "Consecutive Hot Spot" => "#d6604d",
        "Intensifying Hot Spot" => "#e7298a",
        "Persistent Hot Spot" => "#f4a582",
        "Diminishing Hot Spot" => "#fdae61",
        "Sporadic Hot Spot" => "#fee090",
        "Oscillating Hot Spot" => "#c2a5cf",
        "Historical Hot Spot" => "#d9d9d9",
        _ => "#f0f0f0",
    }
}

/// The hot cells coloured by category and numbered by rank over the cube's busiest cells in
/// grey, with district names at the call-weighted middle of their cells, as SVG: an
/// equirectangular view framed on the hot cells (the whole cube when none is hot).
pub fn hotspot_map(data: &ReportData) -> String {
    let cells = &data.hotspots.cells;
    let (width, height) = (720.0, 480.0);
    let mut svg = format!(
        "<svg class=\"map\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"热点地图\" \
         xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"{width}\" height=\"{height}\" class=\"sea\"/>"
    );
    let hot: Vec<&Hotspot> = cells.iter().filter(|c| c.result.category.is_hot()).collect();
    let framed: Vec<&Hotspot> = if hot.is_empty() { cells.iter().collect() } else { hot.clone() };
    if framed.is_empty() {
        svg.push_str("</svg>");
        return svg;
    }
    let (mut west, mut east, mut south, mut north) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (lon, lat) in framed.iter().flat_map(|c| c.outline.iter()) {
        (west, east, south, north) = (west.min(*lon), east.max(*lon), south.min(*lat), north.max(*lat));
    }
    // A margin of a fifth around the hot cells, and at least 2 km across.
    let squash = ((south + north) / 2.0).to_radians().cos();
    let (margin_x, margin_y) = (((east - west) * 0.2).max(0.01), ((north - south) * 0.2).max(0.01));
    (west, east, south, north) = (west - margin_x, east + margin_x, south - margin_y, north + margin_y);
    let scale = (width / ((east - west) * squash)).min(height / (north - south));
    let (offset_x, offset_y) =
        ((width - (east - west) * squash * scale) / 2.0, (height - (north - south) * scale) / 2.0);
    let project = |(lon, lat): (f64, f64)| (offset_x + (lon - west) * squash * scale, offset_y + (north - lat) * scale);
    let inside = |(x, y): (f64, f64)| (0.0..=width).contains(&x) && (0.0..=height).contains(&y);
    let polygon = |cell: &Hotspot| -> String {
        cell.outline.iter().map(|&p| project(p)).map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")
    };
    // The busiest cells in view as the city's outline, so the page stays light at a million calls.
    let mut background: Vec<&Hotspot> =
        cells.iter().filter(|c| !c.result.category.is_hot() && inside(project(c.centre))).collect();
    background.sort_by(|a, b| b.result.calls.total_cmp(&a.result.calls));
    for cell in background.iter().take(3000) {
        let _ = write!(svg, "<polygon points=\"{}\" class=\"cell\"/>", polygon(cell));
    }
    let mut districts: HashMap<&str, (f64, f64, f64)> = HashMap::new();
    for cell in cells.iter().filter(|c| !c.district.is_empty()) {
        let entry = districts.entry(&cell.district).or_default();
        entry.0 += cell.centre.0 * cell.result.calls;
        entry.1 += cell.centre.1 * cell.result.calls;
        entry.2 += cell.result.calls;
    }
    let mut names: Vec<(&str, (f64, f64, f64))> = districts.into_iter().filter(|(_, v)| v.2 > 0.0).collect();
    names.sort_by(|a, b| a.0.cmp(b.0));
    for (name, (x, y, weight)) in names {
        let (px, py) = project((x / weight, y / weight));
        if (40.0..=width - 40.0).contains(&px) && (14.0..=height - 4.0).contains(&py) {
            let _ = write!(
                svg,
                "<text x=\"{px:.1}\" y=\"{py:.1}\" class=\"district\" text-anchor=\"middle\">{}</text>",
                escape(name)
            );
        }
    }
    // Hot cells: the cell itself, and a numbered marker that stays visible however far out the view is.
    for (rank, cell) in hot.iter().enumerate() {
        let name = cell.result.category.name();
        let colour = category_colour(name);
        let label = format!("{} · {} · {} · {}", rank + 1, name, cell.district, cell.top_address);
        let _ = write!(
            svg,
            "<polygon points=\"{}\" fill=\"{colour}\" class=\"hot\"><title>{}</title></polygon>",
            polygon(cell),
            escape(&label)
        );
        let (x, y) = project(cell.centre);
        let _ = write!(svg, "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"7\" fill=\"{colour}\" class=\"marker\"/>");
        if rank < 15 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" class=\"rank\" text-anchor=\"middle\">{}</text>",
                y + 4.0,
                rank + 1
            );
        }
    }
    // Legend of the categories on the map.
    let mut shown: Vec<&str> = hot.iter().map(|c| c.result.category.name()).collect();
    shown.sort_unstable();
    shown.dedup();
    for (i, name) in shown.iter().enumerate() {
        let y = 16.0 + i as f64 * 16.0;
        let _ = write!(
            svg,
            "<rect x=\"8\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"24\" y=\"{y:.1}\" class=\"legend\">{}</text>",
            y - 10.0,
            category_colour(name),
            escape(name)
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" class=\"axis\" text-anchor=\"end\">{:.1} km</text>",
        width - 8.0,
        height - 8.0,
        (east - west) * squash * 111.32
    );
    svg.push_str("</svg>");
    svg
}

/// The self-contained HTML page.
pub fn html(data: &ReportData) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title><style>\
         body{{font-family:{FONT_STACK};margin:24px auto;max-width:760px;color:#222;line-height:1.5}}\
         svg text{{font-family:{FONT_STACK};font-size:12px;fill:#333}}\
         h1{{font-size:22px}}h2{{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}}\
         table{{border-collapse:collapse;width:100%;font-size:13px}}th,td{{border-bottom:1px solid #eee;\
         padding:3px 6px;text-align:left}}td.n{{text-align:right;font-variant-numeric:tabular-nums}}\
         .cards{{display:flex;flex-wrap:wrap;gap:8px}}.card{{border:1px solid #ddd;border-radius:6px;\
         padding:6px 10px;min-width:150px}}.card b{{font-size:20px;display:block}}.up{{color:#b2182b}}\
         .down{{color:#2166ac}}.chart,.map{{width:100%;height:auto}}.current{{fill:#f3f3f3}}\
         polyline.all,polyline.p110,polyline.p12345{{fill:none;stroke-width:1.5}}.all{{stroke:#444;fill:#444}}.p110{{stroke:#2166ac;fill:#2166ac}}\
         .p12345{{stroke:#d6604d;fill:#d6604d}}.bar{{fill:#6a9ec5}}.cell{{fill:#e8e8e8;stroke:none}}\
         .hot{{stroke:#600;stroke-width:.5}}.marker{{stroke:#600;stroke-width:1;opacity:.85}}\
         .rank{{font-size:9px;font-weight:bold;fill:#000}}.sea{{fill:#fbfbf8}}.legend{{font-size:11px}}.district{{font-size:13px;font-weight:bold;fill:#222;\
         paint-order:stroke;stroke:#fff;stroke-width:3px}}.axis{{fill:#777}}.none{{color:#777}}\
         </style></head><body>\n<h1>{}</h1>\n<p>仓库快照 {} · {}</p>\n",
        escape(&title(data)),
        escape(&title(data)),
        data.snapshot,
        escape(&volume_line(data))
    );
    out.push_str("<h2>核心指标 Headline figures</h2>\n<div class=\"cards\">");
    for f in &data.figures {
        let arrow = match (f.value, f.previous) {
            (Some(a), Some(b)) if a > b => "<span class=\"up\">▲</span>",
            (Some(a), Some(b)) if a < b => "<span class=\"down\">▼</span>",
            _ => "",
        };
        let _ = write!(
            out,
            "<div class=\"card\">{}<b>{}</b>{arrow} {} <small>({}/{}; 上期 {})</small></div>",
            escape(&f.name_zh),
            percent(f.value),
            escape(&change(f)),
            f.numerator,
            f.denominator,
            percent(f.previous)
        );
    }
    out.push_str("</div>\n<h2>来电量 Call volume</h2>\n");
    out.push_str(&volume_chart(data));
    out.push_str("\n<h2>类别构成 Calls by category</h2>\n");
    out.push_str(&category_chart(data));
    let _ = write!(
        out,
        "\n<h2>纠纷热点 Dispute hotspots</h2>\n<p>{} 个网格, {} 个时段 (截至 {}); 热点网格 {} 个</p>\n",
        data.hotspots.cells.len(),
        data.hotspots.bin_starts.len(),
        data.period.last,
        hot(data).count()
    );
    out.push_str(&hotspot_map(data));
    html_table(&mut out, &hotspots_table(data, 15), &["rank", "calls"]);
    out.push_str("<h2>高频纠纷对象 Most disputed counterparties and addresses</h2>\n");
    html_table(&mut out, &entities_table(data, 10), &["callers", "calls"]);
    out.push_str("<h2>重复来电人 Top repeat callers (pseudonymised)</h2>\n");
    html_table(
        &mut out,
        &data.callers,
        &["rank", "calls", "calls_110", "phones", "categories", "districts", "counterparties"],
    );
    out.push_str("<h2>线索 Leads worth a look</h2>\n");
    html_table(&mut out, &data.leads, &["score", "calls", "callers"]);
    out.push_str("</body></html>\n");
    out
}
