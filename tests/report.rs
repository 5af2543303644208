//! Reports: figures equal independent counts and the named queries for the same period, every
//! format carries the same tables, nothing in the page is fetched, and files appear at once.

use std::path::{Path, PathBuf};

use hotline::report::{Period, gather, write_report};
use hotline::sql::{SessionOptions, open_session};

fn count(sql: &str) -> i64 {
    let session =
        open_session(&crate::util::sample_warehouse(), SessionOptions { audit: false, ..Default::default() }).unwrap();
    let (_, batches) = session.collect(sql).unwrap();
    let column =
        datafusion::arrow::compute::cast(batches[0].column(0), &datafusion::arrow::datatypes::DataType::Int64).unwrap();
    use datafusion::arrow::array::AsArray;
    column.as_primitive::<datafusion::arrow::datatypes::Int64Type>().value(0)
}

fn local_day(column: &str) -> String {
    format!("CAST({column} + INTERVAL '8 hours' AS DATE)")
}

#[test]
fn a_weeks_figures_equal_independent_counts_of_that_week() {
    let period = Period::parse("2023-W30", chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()).unwrap();
    let data = gather(&crate::util::sample_warehouse(), period).unwrap();
    let within = |column: &str| format!("{} BETWEEN DATE '2023-07-24' AND DATE '2023-07-30'", local_day(column));
    // 双非占比: valid 110 calls that are not police matters, over valid 110 calls, that week only.
    let valid = format!(
        "FROM calls c JOIN categories k ON k.code = c.category WHERE c.platform = '110' \
         AND c.category NOT LIKE 'INVALID.%' AND {}",
        within("c.received_at")
    );
    let figure = data.figures.iter().find(|f| f.key == "non_police_share").unwrap();
    assert_eq!(figure.denominator, count(&format!("SELECT count(*) {valid}")));
    assert_eq!(figure.numerator, count(&format!("SELECT count(*) {valid} AND NOT k.police_matter")));
    assert!(figure.denominator > 50, "the sample has a week's worth of 110 calls");
    // 3-minute signing over the week's work orders.
    let signing = data.figures.iter().find(|f| f.key == "signing_3min_rate").unwrap();
    assert_eq!(signing.denominator, count(&format!("SELECT count(*) FROM work_orders WHERE {}", within("created_at"))));
    // The category mix adds up to the week's original calls.
    let originals =
        count(&format!("SELECT count(*) FROM calls WHERE source_call_id IS NULL AND {}", within("received_at")));
    let mix: i64 = data.categories.rows.iter().map(|r| data.categories.get(r, "calls").parse::<i64>().unwrap()).sum();
    assert_eq!(mix, originals);
    // The volume chart covers the week before and the week, day by day.
    assert_eq!(data.daily.len(), 14);
    let week: i64 = data.daily.iter().filter(|d| d.day >= period.first).map(|d| d.calls).sum();
    assert_eq!(week, count(&format!("SELECT count(*) FROM calls WHERE {}", within("received_at"))));
    // The previous period's figure is the previous week's.
    let before = gather(&crate::util::sample_warehouse(), period.previous()).unwrap();
    let previous = before.figures.iter().find(|f| f.key == "non_police_share").unwrap().value;
    assert_eq!(figure.previous, previous);
}

#[test]
fn a_months_figures_equal_the_named_query_for_that_month() {
    let period = Period::parse("2023-07", chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()).unwrap();
    let data = gather(&crate::util::sample_warehouse(), period).unwrap();
    let (_, rows) = hotline::demo::named_query_as_text(
        &crate::util::sample_warehouse(),
        "headline_summary",
        &[("from_month", "2023-07"), ("to_month", "2023-07")],
    )
    .unwrap();
    assert_eq!(rows.len(), data.figures.len());
    for (row, figure) in rows.iter().zip(&data.figures) {
        assert_eq!(row[0], figure.key);
        assert_eq!(row[2].parse::<i64>().unwrap(), figure.numerator, "{}", figure.key);
        assert_eq!(row[3].parse::<i64>().unwrap(), figure.denominator, "{}", figure.key);
    }
}

#[test]
fn the_report_folder_holds_the_same_tables_in_every_format_and_fetches_nothing() {
    let dir = crate::util::scratch("report-files");
    let period = Period::parse("2023-W30", chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()).unwrap();
    let data = gather(&crate::util::sample_warehouse(), period).unwrap();
    let folder = write_report(&data, &dir).unwrap();
    assert_eq!(folder, dir.join("hotspots-2023-W30"));
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    let markdown = std::fs::read_to_string(folder.join("report.md")).unwrap();
    // Self-contained: no script, stylesheet, image or font is loaded from anywhere.
    for needle in ["<script", "<link", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(needle), "{needle}");
    }
    assert!(html.contains("Noto Sans CJK SC") && html.contains("<svg class=\"map\""));
    // Every headline figure appears, the same, in HTML, Markdown and CSV.
    let csv = std::fs::read_to_string(folder.join("figures.csv")).unwrap();
    for f in &data.figures {
        let value = f.value.map(|v| format!("{v:.1}")).unwrap();
        assert!(html.contains(&format!("{value}%")) && markdown.contains(&format!("| {value} |")), "{}", f.key);
        assert!(csv.contains(&format!("{},{},{},{},{value}", f.key, f.name_zh, f.numerator, f.denominator)));
    }
    // Every hot cell of the table is a polygon on the map.
    let hot = data.hotspots.cells.iter().filter(|c| c.result.category.is_hot()).count();
    assert_eq!(html.matches("class=\"hot\"").count(), hot);
    // Writing again replaces the folder whole, and clears what a run killed mid-way left beside it.
    std::fs::create_dir_all(dir.join(".hotspots-2023-W30.partial-99999")).unwrap();
    write_report(&data, &dir).unwrap();
    let names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["hotspots-2023-W30"]);
}

fn browser() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .filter_map(|name| {
            let out = std::process::Command::new("sh").args(["-c", &format!("command -v {name}")]).output().ok()?;
            let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
            (!path.is_empty()).then(|| PathBuf::from(path))
        })
        .next()
        .expect(
            "no chromium: run the README's test command (scripts/test.sh), which installs chromium and fonts-noto-cjk",
        )
}

fn headless(browser: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(browser)
        .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions"])
        .arg(format!("--user-data-dir={}", crate::util::scratch("report-browser-profile").display()))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_report_renders_in_headless_chromium_with_chinese_fonts_and_no_console_error() {
    let browser = browser();
    // The page's first font families are installed for Chinese (fontconfig is what Chromium asks).
    let fonts = std::process::Command::new("fc-list").args([":lang=zh", "family"]).output().expect("fc-list");
    let fonts = String::from_utf8_lossy(&fonts.stdout).into_owned();
    assert!(
        ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei"].iter().any(|f| fonts.contains(f)),
        "no Chinese font of the page's font stack is installed: {fonts}"
    );
    let dir = crate::util::scratch("report-browser");
    let period = Period::parse("2023-W30", chrono::NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()).unwrap();
    let data = gather(&crate::util::sample_warehouse(), period).unwrap();
    let folder = write_report(&data, &dir).unwrap();
    let html = std::fs::read_to_string(folder.join("report.html")).unwrap();
    // A probe copy records script errors, console errors and every resource the page loads.
    let probe = r#"<script>window.__errors=[];addEventListener('error',e=>__errors.push(String(e.message||e.type)),true);
console.error=(...a)=>__errors.push(a.join(' '));console.warn=(...a)=>__errors.push(a.join(' '));
addEventListener('load',()=>{const p=document.createElement('pre');p.id='probe';p.textContent=JSON.stringify({
errors:__errors,resources:performance.getEntriesByType('resource').map(r=>r.name),svgs:document.querySelectorAll('svg').length,
width:document.documentElement.scrollWidth});document.body.appendChild(p);});</script>"#;
    let probed = html.replacen("<head>", &format!("<head>{probe}"), 1);
    std::fs::write(folder.join("probe.html"), probed).unwrap();
    let url = format!("file://{}", folder.join("probe.html").display());
    let out = headless(&browser, &["--virtual-time-budget=3000", "--window-size=800,1200", "--dump-dom", &url]);
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + "<pre id=\"probe\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">");
    let probe: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(probe["errors"], serde_json::json!([]), "console or script errors");
    assert_eq!(probe["resources"], serde_json::json!([]), "the page loaded something");
    assert!(probe["svgs"].as_u64().unwrap() >= 3, "{probe}");
    assert!(probe["width"].as_u64().unwrap() <= 800, "the page is wider than the window: {probe}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("Failed to load resource") && !stderr.contains("Uncaught"), "{stderr}");
    // A screenshot of the real page, kept under target/ for a person to look at.
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("report-2023-W30.png");
    let _ = std::fs::remove_file(&shot);
    let url = format!("file://{}", folder.join("report.html").display());
    let out = headless(
        &browser,
        &["--window-size=800,2400", "--hide-scrollbars", &format!("--screenshot={}", shot.display()), &url],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0) > 20_000, "no screenshot at {}", shot.display());
}
