//! The generator: contract conformance, calibration, planted patterns, rhythm and determinism.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate, Timelike, Weekday};
use hotline::contract::timestamp::to_shanghai;
use hotline::contract::{Call, Platform, Reason, Table};
use hotline::demo::check_batch;
use hotline::figures::HeadlineCounts;
use hotline::generate::city::distance_m;
use hotline::generate::truth::{GroupTruth, Tie, read_groups, read_malformed};
use hotline::generate::{GenerateConfig, OutputFormat, generate};
use hotline::pii::normalize_phone;
use hotline::source::validate_file;

use crate::util::{Loaded, batch, reference, reference_batch, scratch};

fn rejected_set(dir: &Path) -> BTreeSet<(&'static str, u64, Reason)> {
    let mut set = BTreeSet::new();
    for table in Table::ALL {
        let path = ["csv", "jsonl", "parquet"]
            .iter()
            .map(|e| dir.join(format!("{}.{e}", table.name())))
            .find(|p| p.exists())
            .unwrap();
        let outcome = validate_file(&path, Some(table), |_| {}).unwrap();
        for row in outcome.rejected {
            set.insert((table.name(), row.line, row.violation.reason));
        }
    }
    set
}

fn truth_set(dir: &Path) -> BTreeSet<(&'static str, u64, Reason)> {
    read_malformed(&dir.join("truth")).unwrap().into_iter().map(|m| (m.table.name(), m.line, m.reason)).collect()
}

#[test]
fn reference_batch_passes_the_contract_except_the_rows_truth_lists_for_the_reason_it_gives() {
    let dir = reference_batch();
    let truth = truth_set(&dir);
    let rejected = rejected_set(&dir);
    assert!(truth.len() > 200, "the default rate breaks about 0.2% of rows, got {}", truth.len());
    let reasons: HashSet<Reason> = truth.iter().map(|(_, _, r)| *r).collect();
    assert!(reasons.len() >= 9, "breakage covers most rules: {reasons:?}");
    assert_eq!(rejected.difference(&truth).next(), None, "rejected but not planted");
    assert_eq!(truth.difference(&rejected).next(), None, "planted but not rejected (or for another reason)");
    // No broken call is attributed to a person.
    let malformed = read_malformed(&dir.join("truth")).unwrap();
    let people = &reference().person;
    let duplicates: HashSet<&str> =
        malformed.iter().filter(|m| m.reason == Reason::DuplicateKey).map(|m| m.call_id.as_str()).collect();
    for m in malformed.iter().filter(|m| m.table == Table::Calls && m.reason != Reason::DuplicateKey) {
        assert!(
            !people.contains_key(&m.call_id) || duplicates.contains(m.call_id.as_str()),
            "{} is broken yet in call_person",
            m.call_id
        );
    }
}

#[test]
fn headline_figures_are_within_one_and_a_half_points_of_calibration() {
    let data = reference();
    let mut counts = HeadlineCounts::default();
    for call in &data.calls {
        counts.add_call(call, data.person.get(&call.call_id).map(String::as_str));
    }
    for order in &data.orders {
        counts.add_order(order);
    }
    let figures = counts.figures();
    let mut checked = 0;
    for figure in &figures {
        let (Some(value), Some(target)) = (figure.value(), figure.target) else {
            continue;
        };
        assert!((value - target).abs() <= 0.015, "{} = {:.4}, target {target}", figure.name, value);
        assert!(figure.denominator > 1000, "{} rests on {} rows", figure.name, figure.denominator);
        checked += 1;
    }
    assert_eq!(checked, 7);
    let repeat = figures.iter().find(|f| f.name == "repeat_call_rate").unwrap().value().unwrap();
    assert!((0.01..0.25).contains(&repeat), "repeat-call rate {repeat}");
}

fn ring_calls<'a>(data: &'a Loaded, ring: &str, role: Option<&str>) -> Vec<&'a Call> {
    data.rings
        .iter()
        .filter(|r| r.ring_id == ring && role.is_none_or(|role| r.role == role))
        .filter_map(|r| data.by_id.get(&r.call_id).map(|&i| &data.calls[i]))
        .collect()
}

#[test]
fn extortion_ring_travels_across_districts_and_clinics_and_victims_name_members() {
    let data = reference();
    let members: Vec<&Call> = ring_calls(data, "RING-1", None)
        .into_iter()
        .filter(|c| c.source_call_id.is_none() && c.category.code == "DISPUTE.MEDICAL_BEAUTY")
        .collect();
    assert!(members.len() >= 30, "dozens of disputes, got {}", members.len());
    let districts: HashSet<&str> = members.iter().filter_map(|c| c.district.as_deref()).collect();
    let clinics: HashSet<&str> = members.iter().filter_map(|c| c.counterparty.as_deref()).collect();
    assert!(districts.len() >= 4, "{districts:?}");
    assert!(clinics.len() >= 15, "{} clinics", clinics.len());
    let first = members.iter().map(|c| c.received_at).min().unwrap();
    let last = members.iter().map(|c| c.received_at).max().unwrap();
    assert!((last - first) / 86_400_000_000 >= 90, "spans months");
    let people: HashSet<&str> = members.iter().map(|c| data.person[&c.call_id].as_str()).collect();
    let phones: HashSet<String> =
        members.iter().filter_map(|c| c.caller_phone.as_deref().and_then(normalize_phone)).collect();
    assert!(people.len() >= 3 && phones.len() > people.len(), "{} people on {} phones", people.len(), phones.len());
    assert_eq!(ring_calls(data, "RING-1", Some("seed")).len(), 2);
    // Clinics report extortion naming a member: the named person's surname is a member's.
    let reports = ring_calls(data, "RING-1", Some("victim_report"));
    assert!(reports.len() >= 3);
    let surnames: HashSet<String> = members
        .iter()
        .filter_map(|c| c.caller_name.as_deref())
        .filter_map(|n| n.chars().next())
        .map(String::from)
        .collect();
    for report in reports {
        assert_eq!(report.category.code, "CRIM.EXTORTION");
        let named = report.counterparty.as_deref().unwrap_or("");
        assert!(surnames.iter().any(|s| named.contains(s.as_str())), "{named} names no member");
        assert!(report.narrative.contains(named), "the narrative names the person");
    }
}

#[test]
fn the_other_groups_differ_from_the_ring_in_category_geography_and_timing() {
    let data = reference();
    let staged: Vec<&Call> = ring_calls(data, "RING-2", Some("member_call"));
    assert!(staged.len() >= 18);
    assert!(staged.iter().all(|c| c.category.code == "TRAFFIC.ACCIDENT" && c.category.police_matter));
    let districts: HashSet<&str> = staged.iter().filter_map(|c| c.district.as_deref()).collect();
    assert!(districts.is_subset(&HashSet::from(["伍家岗区", "西陵区"])), "{districts:?}");
    let span =
        staged.iter().map(|c| c.received_at).max().unwrap() - staged.iter().map(|c| c.received_at).min().unwrap();
    assert!(span <= 50 * 86_400_000_000, "a burst of weeks");
    assert!(!ring_calls(data, "RING-2", Some("victim_report")).is_empty());

    let claimants: Vec<&Call> = ring_calls(data, "RING-3", Some("member_call"));
    assert!(claimants.len() >= 40);
    assert!(claimants.iter().all(|c| c.platform == Platform::P12345));
    assert!(claimants.iter().all(|c| matches!(c.category.code.as_str(), "COMPLAINT.PRICE" | "DISPUTE.CONSUMER")));
    let weekdays =
        claimants.iter().all(|c| !matches!(to_shanghai(c.received_at).unwrap().weekday(), Weekday::Sat | Weekday::Sun));
    assert!(weekdays, "office work");
    let districts: HashSet<&str> = claimants.iter().filter_map(|c| c.district.as_deref()).collect();
    assert!(districts.len() >= 6, "city-wide: {districts:?}");
    let span =
        claimants.iter().map(|c| c.received_at).max().unwrap() - claimants.iter().map(|c| c.received_at).min().unwrap();
    assert!(span >= 300 * 86_400_000_000, "steady all year");
    // Members share phones: fewer phones than people.
    let phones: HashSet<String> =
        claimants.iter().filter_map(|c| c.caller_phone.as_deref().and_then(normalize_phone)).collect();
    let people: HashSet<&str> = claimants.iter().map(|c| data.person[&c.call_id].as_str()).collect();
    assert!(phones.len() < people.len(), "{} phones, {} people", phones.len(), people.len());
}

#[test]
fn escalating_callers_call_again_and_again_and_their_language_hardens() {
    let data = reference();
    let mut by_person: HashMap<&str, Vec<(u32, u8, &str)>> = HashMap::new();
    for row in &data.repeat_callers {
        let Some(&i) = data.by_id.get(&row["call_id"]) else {
            continue;
        };
        by_person.entry(row["person_id"].as_str()).or_default().push((
            row["ordinal"].parse().unwrap(),
            row["escalation_level"].parse().unwrap(),
            data.calls[i].narrative.as_str(),
        ));
    }
    assert!(by_person.len() >= 4);
    for (person, mut calls) in by_person {
        calls.sort();
        assert!(calls.len() >= 15, "{person} made {} calls", calls.len());
        assert!(calls.windows(2).all(|w| w[0].1 <= w[1].1), "levels never fall");
        assert_eq!(calls.first().unwrap().1, 0);
        assert_eq!(calls.last().unwrap().1, 3);
        let last = calls.last().unwrap().2;
        assert!(
            ["过激", "同归于尽", "极端", "跳下去", "拼命", "后果自负", "不惜一切"].iter().any(|w| last.contains(w)),
            "{last}"
        );
    }
}

fn local_date(call: &Call) -> NaiveDate {
    to_shanghai(call.received_at).unwrap().date()
}

#[test]
fn hotspots_are_where_and_when_the_truth_says() {
    let data = reference();
    assert_eq!(data.hotspots.len(), 2);
    for hotspot in &data.hotspots {
        let centre = (hotspot["lon"].parse::<f64>().unwrap(), hotspot["lat"].parse::<f64>().unwrap());
        let radius: f64 = hotspot["radius_m"].parse().unwrap();
        let start = NaiveDate::parse_from_str(&hotspot["start"], "%Y-%m-%d").unwrap();
        let end = NaiveDate::parse_from_str(&hotspot["end"], "%Y-%m-%d").unwrap();
        let inside: Vec<&Call> = data
            .calls
            .iter()
            .filter(|c| c.source_call_id.is_none() && c.category.code == hotspot["category"])
            .filter(|c| c.lon_lat.is_some_and(|p| distance_m(p, centre) <= radius))
            .collect();
        let during = inside.iter().filter(|c| (start..=end).contains(&local_date(c))).count();
        let before = inside.len() - during;
        let days = (end - start).num_days() as f64 + 1.0;
        assert!(during as f64 >= 30.0, "{}: {during} calls inside", hotspot["hotspot_id"]);
        assert!(
            (during as f64 / days) > 5.0 * (before as f64 / 365.0f64.max(365.0 - days)).max(0.01),
            "{}: stands out",
            hotspot["hotspot_id"]
        );
        // Split the window in thirds: an emerging hotspot grows, a persistent one is there all along.
        let third = |k: i64| {
            let a = start + chrono::Duration::days((days as i64) * k / 3);
            let b = start + chrono::Duration::days((days as i64) * (k + 1) / 3);
            inside.iter().filter(|c| (a..b).contains(&local_date(c))).count()
        };
        let (t0, t1, t2) = (third(0), third(1), third(2));
        match hotspot["kind"].as_str() {
            "emerging" => assert!(t2 > t1 && t1 > t0, "rising: {t0} {t1} {t2}"),
            "persistent" => assert!(t0 >= 10 && t1 >= 10 && t2 >= 10, "steady: {t0} {t1} {t2}"),
            other => panic!("unknown kind {other}"),
        }
        let named = inside.iter().filter(|c| c.counterparty.as_deref().is_some_and(|n| !n.is_empty())).count();
        assert!(named * 2 > inside.len(), "most calls name the counterparty");
    }
}

#[test]
fn callers_are_heavy_tailed_with_messy_identities() {
    let data = reference();
    let mut per_person: HashMap<&str, u32> = HashMap::new();
    let mut phones_per_person: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut names_per_person: HashMap<&str, HashSet<&str>> = HashMap::new();
    let mut people_per_phone: HashMap<String, HashSet<&str>> = HashMap::new();
    for call in data.calls.iter().filter(|c| c.source_call_id.is_none()) {
        let person = data.person[&call.call_id].as_str();
        *per_person.entry(person).or_default() += 1;
        if let Some(phone) = call.caller_phone.as_deref().and_then(normalize_phone) {
            phones_per_person.entry(person).or_default().insert(phone.clone());
            people_per_phone.entry(phone).or_default().insert(person);
        }
        if let Some(name) = call.caller_name.as_deref() {
            names_per_person.entry(person).or_default().insert(name);
        }
    }
    let mut counts: Vec<u32> = per_person.values().copied().collect();
    counts.sort_unstable();
    let median = counts[counts.len() / 2];
    let top = *counts.last().unwrap();
    assert!(median <= 2, "most people call once or twice (median {median})");
    assert!((25..=2_000).contains(&top), "a few call very often (top {top})");
    let multi_phone = phones_per_person.values().filter(|p| p.len() >= 2).count();
    assert!(multi_phone * 20 > phones_per_person.len() / 10, "several phones per person: {multi_phone}");
    let shared = people_per_phone.values().filter(|p| p.len() >= 2).count();
    assert!(shared >= 50, "phones shared by families and shops: {shared}");
    let variants = names_per_person.values().filter(|n| n.len() >= 2).count();
    assert!(variants >= 1000, "name variants: {variants}");
    let with_id = data.calls.iter().filter(|c| c.caller_id_number.is_some()).count() as f64 / data.calls.len() as f64;
    assert!((0.03..0.35).contains(&with_id), "IDs on a minority of calls: {with_id}");
    let spaced = data.calls.iter().filter(|c| c.caller_name.as_deref().is_some_and(|n| n.contains(' '))).count();
    assert!(spaced > 100);
    for call in data.calls.iter().filter_map(|c| c.caller_id_number.as_deref()) {
        let id = call.to_uppercase();
        assert!(id.len() == 18 || id.len() == 15);
        if id.len() == 18 {
            assert_eq!(hotline::pii::resident_id_check_char(&id[..17]), id.chars().last());
        }
    }
}

fn share<F: Fn(&Call) -> bool>(calls: &[&Call], f: F) -> f64 {
    calls.iter().filter(|c| f(c)).count() as f64 / calls.len().max(1) as f64
}

#[test]
fn calls_follow_daily_weekly_and_seasonal_rhythm() {
    let data = reference();
    let of = |code: &str| -> Vec<&Call> {
        data.calls.iter().filter(|c| c.category.code == code && c.source_call_id.is_none()).collect()
    };
    let hour = |c: &Call| to_shanghai(c.received_at).unwrap().hour();
    let month = |c: &Call| to_shanghai(c.received_at).unwrap().month();
    let noise = of("COMPLAINT.NOISE");
    assert!(share(&noise, |c| hour(c) >= 20 || hour(c) < 2) > 0.5, "noise at night");
    let cars = of("HELP.MOVE_CAR");
    assert!(share(&cars, |c| matches!(hour(c), 7..=8 | 17..=18)) > 0.3, "cars moved at rush hour");
    let drowning = of("RESCUE.DROWNING");
    assert!(share(&drowning, |c| matches!(month(c), 6..=8)) > 0.6, "drowning in summer");
    // Wages before the Spring Festival (22 January 2023; also early 2024's before 10 February).
    let wages = of("DISPUTE.LABOR");
    let day = |c: &Call| to_shanghai(c.received_at).unwrap().ordinal();
    let before_festival = share(&wages, |c| day(c) <= 19) / 19.0;
    let spring = share(&wages, |c| matches!(month(c), 4 | 5)) / 61.0;
    assert!(
        before_festival > 2.0 * spring,
        "wage disputes peak before the festival: {before_festival} vs {spring} a day"
    );
    let consult = of("CONSULT.POLICY");
    assert!(
        share(&consult, |c| matches!(to_shanghai(c.received_at).unwrap().weekday(), Weekday::Sat | Weekday::Sun)) < 0.2,
        "policy questions on office days (2/7 = 29% without rhythm)"
    );
}

#[test]
fn transfers_create_a_linked_record_and_a_work_order() {
    let data = reference();
    let orders_by_call: HashMap<&str, usize> = data.orders.iter().fold(HashMap::new(), |mut m, o| {
        *m.entry(o.call_id.as_str()).or_default() += 1;
        m
    });
    let transferred: Vec<&Call> = data
        .calls
        .iter()
        .filter(|c| c.platform == Platform::P110 && c.disposition == hotline::contract::Disposition::Transferred)
        .collect();
    assert!(transferred.len() > 5_000);
    let children: HashMap<&str, &Call> =
        data.calls.iter().filter_map(|c| c.source_call_id.as_deref().map(|s| (s, c))).collect();
    let linked = transferred
        .iter()
        .filter(|c| children.contains_key(c.call_id.as_str()) && orders_by_call.contains_key(c.call_id.as_str()))
        .count();
    assert!(linked as f64 > 0.99 * transferred.len() as f64, "{linked} of {}", transferred.len());
    for (source, child) in children.iter().filter(|(s, _)| data.by_id.contains_key(**s)).take(2000) {
        let parent = data.call(source);
        assert!(child.received_at > parent.received_at);
        assert_ne!(child.platform, parent.platform);
        assert_eq!(data.person[&child.call_id], data.person[&parent.call_id]);
    }
    let hand_backs = data.calls.iter().filter(|c| c.platform == Platform::P110 && c.source_call_id.is_some()).count();
    assert!(hand_backs > 100, "12345 hands police matters back to 110: {hand_backs}");
}

fn same_files(a: &Path, b: &Path) -> bool {
    let mut names: Vec<_> = walk(a);
    names.sort();
    let mut other: Vec<_> = walk(b);
    other.sort();
    names == other && names.iter().all(|n| std::fs::read(a.join(n)).unwrap() == std::fs::read(b.join(n)).unwrap())
}

fn walk(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let make = |name: &str, seed: u64, format| {
        let dir = scratch(name);
        let config = GenerateConfig { calls: 20_000, seed, out: dir.clone(), format, ..GenerateConfig::default() };
        generate(&config, &mut |_| {}).unwrap();
        dir
    };
    for format in [OutputFormat::Csv, OutputFormat::Parquet] {
        let a = make(&format!("det-a-{format:?}"), 5, format);
        let b = make(&format!("det-b-{format:?}"), 5, format);
        let c = make(&format!("det-c-{format:?}"), 6, format);
        assert!(same_files(&a, &b), "{format:?}: same seed differs");
        assert!(!same_files(&a, &c), "{format:?}: another seed is identical");
    }
}

#[test]
fn the_committed_sample_regenerates_identically() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample");
    let config: GenerateConfig = hotline::generate::sample_config(scratch("sample-again"));
    generate(&config, &mut |_| {}).unwrap();
    assert!(same_files(&committed, &config.out), "data/sample differs from `{}`", hotline::generate::SAMPLE_COMMAND);
}

#[test]
fn jsonl_and_parquet_batches_pass_the_validator_except_the_listed_rows() {
    for format in [OutputFormat::Jsonl, OutputFormat::Parquet] {
        let dir = batch(&format!("fmt-{format:?}"), 30_000, 11, format, true);
        let truth = truth_set(&dir);
        assert!(!truth.is_empty());
        assert_eq!(rejected_set(&dir), truth, "{format:?}");
        let (files, agreement, figures) = check_batch(&dir).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(agreement.matched, agreement.planted);
        assert!(figures.iter().all(|f| f.denominator > 0));
    }
}

#[test]
fn with_nothing_planted_the_truth_lists_no_group_and_no_hotspot() {
    let dir = batch("no-plant", 20_000, 3, OutputFormat::Csv, false);
    let data = crate::util::load(&dir);
    assert!(data.rings.is_empty());
    assert!(data.hotspots.is_empty());
    assert!(data.repeat_callers.is_empty());
    assert!(read_groups(&dir.join("truth")).unwrap().is_empty(), "no family groups either");
    assert!(data.calls.len() > 19_000);
}

#[test]
fn total_rows_match_the_request_and_dates_stay_in_the_period() {
    let dir = batch("small-period", 5_000, 9, OutputFormat::Csv, true);
    let data = crate::util::load(&dir);
    let rows = validate_file(&dir.join("calls.csv"), None, |_| {}).unwrap().rows;
    assert_eq!(rows, 5_000);
    assert!(!data.rings.is_empty(), "5,000 calls are enough to plant");
    for calls in [0, 1, 999] {
        let tiny = scratch(&format!("tiny-{calls}"));
        let config = GenerateConfig { calls, out: tiny.clone(), ..GenerateConfig::default() };
        generate(&config, &mut |_| {}).unwrap();
        assert_eq!(validate_file(&tiny.join("calls.csv"), None, |_| {}).unwrap().rows, calls);
    }
    let first = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
    let last = NaiveDate::from_ymd_opt(2023, 12, 31).unwrap();
    let outside =
        data.calls.iter().filter(|c| c.source_call_id.is_none() && !(first..=last).contains(&local_date(c))).count();
    assert_eq!(outside, 0);
}

fn family(groups: &[GroupTruth]) -> Vec<&GroupTruth> {
    groups.iter().filter(|g| g.ring_id.starts_with("RING-F")).collect()
}

#[test]
fn a_30k_batch_lists_its_groups_with_the_parameters_their_calls_show() {
    // The batch the JSONL format test makes (shared when both run).
    let dir = batch("fmt-Jsonl", 30_000, 11, OutputFormat::Jsonl, true);
    let data = crate::util::load(&dir);
    let groups = read_groups(&dir.join("truth")).unwrap();
    let fam = family(&groups);
    assert!((2..=5).contains(&fam.len()), "{} family groups", fam.len());
    let classic: Vec<(&str, &str, String)> =
        groups[..3].iter().map(|g| (g.ring_id.as_str(), g.kind.as_str(), g.ties.join(";"))).collect();
    assert_eq!(
        classic,
        [
            ("RING-1", "extortion_ring", "shared_phone;victim_reports".to_owned()),
            ("RING-2", "staged_accident", "victim_reports".to_owned()),
            ("RING-3", "professional_claimants", "shared_phone;script".to_owned()),
        ]
    );
    for g in &groups {
        let id = &g.ring_id;
        let rows: Vec<_> = data.rings.iter().filter(|r| &r.ring_id == id).collect();
        assert!(rows.iter().all(|r| r.kind == g.kind), "{id}: one kind");
        assert!(rows.iter().all(|r| data.by_id.contains_key(&r.call_id)), "{id}: a call missing from calls");
        let originals: Vec<&Call> =
            rows.iter().filter(|r| r.role != "transfer_record").map(|r| data.call(&r.call_id)).collect();
        assert_eq!(originals.len(), g.calls as usize, "{id}: calls");
        let members: HashSet<&str> = rows
            .iter()
            .filter(|r| matches!(r.role.as_str(), "seed" | "member_call"))
            .map(|r| data.person[&r.call_id].as_str())
            .collect();
        assert_eq!(members.len(), g.members as usize, "{id}: members");
        assert_eq!(originals.iter().map(|c| local_date(c)).min(), Some(g.start), "{id}: start");
        assert_eq!(originals.iter().map(|c| local_date(c)).max(), Some(g.end), "{id}: end");
        let platforms: BTreeSet<&str> = originals.iter().map(|c| c.platform.code()).collect();
        assert_eq!(platforms, g.platforms.iter().map(String::as_str).collect(), "{id}: platforms");
        let ids: HashSet<&str> = originals.iter().map(|c| c.call_id.as_str()).collect();
        for transfer in rows.iter().filter(|r| r.role == "transfer_record") {
            let source = data.call(&transfer.call_id).source_call_id.as_deref().unwrap_or("");
            assert!(ids.contains(source), "{id}: {} comes from outside the group", transfer.call_id);
        }
        if id.starts_with("RING-F") {
            assert_eq!(rows.iter().filter(|r| r.role == "seed").count(), 2, "{id}: two seeds");
            assert!(g.ties.len() >= 2 && g.ties.iter().all(|t| Tie::from_name(t).is_some()), "{id}: {:?}", g.ties);
            let categories: HashSet<&str> = originals
                .iter()
                .zip(rows.iter().filter(|r| r.role != "transfer_record"))
                .filter(|(_, r)| r.role != "victim_report")
                .map(|(c, _)| c.category.code.as_str())
                .collect();
            assert_eq!(categories, g.categories.iter().map(String::as_str).collect(), "{id}: categories");
        }
    }
}

/// Every plate-like string (`鄂E` and five more) in a text.
fn plates(text: &str) -> Vec<String> {
    text.match_indices("鄂E").map(|(at, _)| text[at..].chars().take(7).collect()).collect()
}

#[test]
fn every_tie_binds_some_family_groups_and_not_others_and_shows_in_their_calls() {
    let mut with: HashMap<&str, usize> = HashMap::new();
    let mut without: HashMap<&str, usize> = HashMap::new();
    let mut named_each_other = 0;
    for seed in 1..=6 {
        let dir = batch(&format!("family-{seed}"), 5_000, seed, OutputFormat::Csv, true);
        let data = crate::util::load(&dir);
        let groups = read_groups(&dir.join("truth")).unwrap();
        assert!((2..=5).contains(&family(&groups).len()), "seed {seed}");
        for g in family(&groups) {
            let id = &g.ring_id;
            for tie in Tie::ALL {
                *if g.has(tie) { &mut with } else { &mut without }.entry(tie.name()).or_default() += 1;
            }
            let rows: Vec<_> = data.rings.iter().filter(|r| &r.ring_id == id).collect();
            let of_role = |roles: &[&str]| -> Vec<&Call> {
                rows.iter().filter(|r| roles.contains(&r.role.as_str())).map(|r| data.call(&r.call_id)).collect()
            };
            let members = of_role(&["seed", "member_call"]);
            let reports = of_role(&["victim_report"]);
            let person = |c: &Call| data.person[&c.call_id].as_str();
            assert_eq!(g.has(Tie::VictimReports), !reports.is_empty(), "{id}: {} reports", reports.len());
            if g.has(Tie::SharedPhone) {
                let mut people_of: HashMap<String, HashSet<&str>> = HashMap::new();
                for c in &members {
                    if let Some(phone) = c.caller_phone.as_deref().and_then(normalize_phone) {
                        people_of.entry(phone).or_default().insert(person(c));
                    }
                }
                assert!(people_of.values().any(|p| p.len() >= 2), "{id}: no phone two members call from");
            }
            if g.has(Tie::Handoffs) {
                assert!(rows.iter().any(|r| r.role == "transfer_record"), "{id}: no transfer");
            }
            if g.has(Tie::Plates) {
                let texts: Vec<String> = members
                    .iter()
                    .chain(&reports)
                    .map(|c| format!("{}{}", c.narrative, c.counterparty.as_deref().unwrap_or("")))
                    .collect();
                let recurring = texts
                    .iter()
                    .flat_map(|t| plates(t))
                    .any(|p| texts.iter().filter(|t| t.contains(p.as_str())).count() >= 2);
                assert!(recurring, "{id}: no plate recurs");
            }
            if g.has(Tie::Family) {
                let mut firsts: HashMap<char, usize> = HashMap::new();
                let names: Vec<&str> = members.iter().filter_map(|c| c.caller_name.as_deref()).collect();
                for name in &names {
                    *firsts.entry(name.chars().next().unwrap()).or_default() += 1;
                }
                let top = firsts.values().max().copied().unwrap_or(0);
                assert!(top * 10 >= names.len() * 8, "{id}: {firsts:?}");
            }
            if g.has(Tie::Script) {
                let mut sentences: HashMap<&str, usize> = HashMap::new();
                for c in &members {
                    let own: HashSet<&str> = c.narrative.split('。').filter(|s| s.chars().count() > 8).collect();
                    for sentence in own {
                        *sentences.entry(sentence).or_default() += 1;
                    }
                }
                let top = sentences.values().max().copied().unwrap_or(0);
                assert!(top * 2 > members.len(), "{id}: the commonest sentence is in {top} of {}", members.len());
            }
            if g.has(Tie::SameHour) {
                let hour = 3_600_000_000;
                let paired = members.iter().any(|a| {
                    members.iter().any(|b| {
                        person(a) != person(b)
                            && a.received_at / hour == b.received_at / hour
                            && (a.address.is_none() || b.address.is_none() || a.address == b.address)
                    })
                });
                assert!(paired, "{id}: no two members call within one hour");
            }
            if g.has(Tie::IdDocuments) {
                let given = members.iter().any(|c| c.caller_id_number.is_some())
                    || reports.iter().any(|c| c.narrative.contains("身份证"));
                assert!(given, "{id}: no ID number");
            }
            if g.has(Tie::NamingEachOther) {
                // A member's full name as they gave it, in another member's call.
                let full: Vec<(&str, &str)> = members
                    .iter()
                    .filter_map(|c| c.caller_name.as_deref().map(|n| (person(c), n)))
                    .filter(|(_, n)| {
                        n.chars().count() >= 2 && !n.ends_with("先生") && !n.ends_with("女士") && !n.contains(' ')
                    })
                    .collect();
                let named = members.iter().any(|c| {
                    full.iter().any(|(p, n)| {
                        *p != person(c) && (c.narrative.contains(n) || c.counterparty.as_deref() == Some(n))
                    })
                });
                named_each_other += usize::from(named);
            }
        }
    }
    for tie in Tie::ALL {
        let (w, wo) = (with.get(tie.name()).copied().unwrap_or(0), without.get(tie.name()).copied().unwrap_or(0));
        assert!(w > 0 && wo > 0, "{}: in {w} groups, not in {wo}", tie.name());
    }
    assert!(named_each_other > 0, "no member is named by another");
}
