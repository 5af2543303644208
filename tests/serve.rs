//! The explorer (`hotline serve`) through a real HTTP client on 127.0.0.1:0: sign-in, roles and
//! restricted fields, CSRF, expiry, 400 on bad input, the graph and paths of a lead, reviews that
//! reach SQL and survive a new link run, the audit log, and the page's safety rules.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hotline::ingest::ingest;
use hotline::link::link;
use hotline::pseudonym::PseudonymKey;
use hotline::serve::users::Users;
use hotline::serve::{App, ServeConfig, bind};
use hotline::sql::Role;
use hotline::warehouse::{Warehouse, init};
use serde_json::{Value, json};

use crate::util::{rows_as, scratch, serve_in_thread};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/sample")
}

/// The sample, ingested, resolved and linked into a warehouse of its own (reviews write to it),
/// with an analyst and an investigator.
fn warehouse() -> PathBuf {
    static MADE: OnceLock<PathBuf> = OnceLock::new();
    MADE.get_or_init(|| {
        let dir = scratch("serve-sample").join("wh");
        init(&dir).unwrap();
        let warehouse = Warehouse::open(&dir).unwrap();
        // The key the server will find (HOTLINE_KEY or the key file init made), so that it can
        // turn a searched phone into the key ingest stored.
        let key = PseudonymKey::resolve(&hotline::warehouse::key_file_for(&dir)).unwrap();
        ingest(&warehouse, &[sample().join("calls.csv"), sample().join("work_orders.csv")], None, &key, &mut |_| {})
            .unwrap();
        hotline::resolve::resolve(&warehouse, &Default::default(), &mut |_| {}).unwrap();
        link(&warehouse, &mut |_| {}).unwrap();
        let mut users = Users::default();
        users.add("wang", Role::Investigator, "investigator password").unwrap();
        users.add("li", Role::Analyst, "analyst password").unwrap();
        users.save(&hotline::serve::users::default_users_file(&dir)).unwrap();
        dir
    })
    .clone()
}

/// Starts a server on 127.0.0.1:0 in a thread of its own; returns its base URL.
fn start(ttl: Duration) -> String {
    start_with(ttl, None).unwrap()
}

/// A server with a sign-in lifetime and TLS files, or why it did not start.
fn start_with(ttl: Duration, tls: Option<(PathBuf, PathBuf)>) -> Result<String, String> {
    let mut config = ServeConfig::new(&warehouse());
    config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
    config.session_ttl = ttl;
    config.tls = tls;
    let app = Arc::new(App::open(config).unwrap());
    serve_in_thread(move |tx| async move {
        match bind(app).await {
            Ok(bound) => {
                tx.send(Ok(format!("{}://{}", bound.scheme, bound.address))).unwrap();
                bound.serve(std::future::pending()).await.unwrap();
            }
            Err(e) => tx.send(Err(e.to_string())).unwrap(),
        }
    })
}

pub(crate) fn server() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| start(Duration::from_secs(3600)))
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A signed-in client: its cookie and CSRF token.
pub(crate) struct Client {
    base: String,
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

pub(crate) fn sign_in(base: &str, user: &str, password: &str) -> Client {
    let mut response =
        agent().post(format!("{base}/api/login")).send_json(json!({ "user": user, "password": password })).unwrap();
    assert_eq!(response.status(), 200, "sign-in of {user}");
    let set_cookie = response.headers().get("set-cookie").unwrap().to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    let body: Value = response.body_mut().read_json().unwrap();
    Client {
        base: base.to_owned(),
        cookie: set_cookie.split(';').next().unwrap().to_owned(),
        csrf: body["csrf"].as_str().unwrap().to_owned(),
    }
}

impl Client {
    fn get(&self, path: &str) -> (u16, Value) {
        let mut response = agent().get(format!("{}{path}", self.base)).header("cookie", &self.cookie).call().unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_json().unwrap_or(Value::Null))
    }

    fn post(&self, path: &str, body: Value, csrf: bool) -> (u16, Value) {
        let mut request = agent().post(format!("{}{path}", self.base)).header("cookie", &self.cookie);
        if csrf {
            request = request.header("x-csrf-token", &self.csrf);
        }
        let mut response = request.send_json(body).unwrap();
        let status = response.status().as_u16();
        (status, response.body_mut().read_json().unwrap_or(Value::Null))
    }
}

/// Rows of a query as the given role sees them (`None` for null).
fn texts(role: Role, sql: &str) -> Vec<Vec<Option<String>>> {
    rows_as(&warehouse(), role, sql)
}

fn strings(value: &Value, out: &mut HashSet<String>) {
    match value {
        Value::String(s) => {
            out.insert(s.clone());
        }
        Value::Array(list) => list.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

#[test]
fn sign_in_is_needed_and_wrong_passwords_are_refused() {
    let base = server();
    let mut health = agent().get(format!("{base}/api/health")).call().unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.body_mut().read_json::<Value>().unwrap()["status"], "ok");
    assert_eq!(agent().get(format!("{base}/api/leads")).call().unwrap().status(), 401);
    let forged =
        agent().get(format!("{base}/api/leads")).header("cookie", format!("hotline_session={}", "ab".repeat(32)));
    assert_eq!(forged.call().unwrap().status(), 401);
    let wrong = agent().post(format!("{base}/api/login")).send_json(json!({ "user": "wang", "password": "guess" }));
    assert_eq!(wrong.unwrap().status(), 401);
    let unknown = agent().post(format!("{base}/api/login")).send_json(json!({ "user": "nobody", "password": "guess" }));
    assert_eq!(unknown.unwrap().status(), 401);
    let not_json = agent().post(format!("{base}/api/login")).send("user=wang&password=x");
    assert_eq!(not_json.unwrap().status(), 400);
    // Signing out ends the session on the server, not only in the browser.
    let client = sign_in(base, "li", "analyst password");
    assert_eq!(client.get("/api/me").0, 200);
    assert_eq!(client.post("/api/logout", json!({}), false).0, 403, "sign-out needs the CSRF token");
    assert_eq!(client.post("/api/logout", json!({}), true).0, 200);
    assert_eq!(client.get("/api/me").0, 401);
}

#[test]
fn a_user_name_is_locked_after_five_wrong_passwords_even_for_the_right_one() {
    // A server of its own, so the lock does not reach the other tests' sign-ins.
    let base = start(Duration::from_secs(3600));
    let login = |password: &str| {
        agent().post(format!("{base}/api/login")).send_json(json!({ "user": "li", "password": password })).unwrap()
    };
    for _ in 0..4 {
        assert_eq!(login("guess").status(), 401);
    }
    let mut fifth = login("guess");
    assert_eq!(fifth.status(), 429);
    let wait: u64 = fifth.headers().get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(fifth.body_mut().read_json::<Value>().unwrap()["error"].as_str().unwrap().contains("try again"));
    assert_eq!(login("analyst password").status(), 429, "the right password waits for the lock too");
    // Another user name is not locked.
    sign_in(&base, "wang", "investigator password");
}

#[test]
fn with_a_certificate_the_explorer_speaks_https_only_and_files_it_cannot_load_stop_it() {
    let dir = scratch("serve-tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(made.success());
    let base = start_with(Duration::from_secs(3600), Some((cert.clone(), key.clone()))).unwrap();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let curl = |args: &[&str]| {
        let out = Command::new("curl")
            .args(["-sS", "-i", "--max-time", "60", "--cacert"])
            .arg(&cert)
            .args(args)
            .output()
            .expect("curl runs");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned())
    };
    let (ok, health) = curl(&[&format!("{base}/api/health")]);
    assert!(ok && health.starts_with("HTTP/1.1 200") && health.contains("\"ok\""), "{health}");
    let (ok, login) = curl(&[
        "-H",
        "content-type: application/json",
        "-d",
        r#"{"user": "li", "password": "analyst password"}"#,
        &format!("{base}/api/login"),
    ]);
    let cookie = login.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).unwrap_or_default();
    assert!(ok && cookie.contains("Secure") && cookie.contains("HttpOnly"), "{login}");
    // Plain HTTP to the TLS port gets no answer.
    let plain = agent().get(base.replace("https://", "http://") + "/api/health").call();
    assert!(plain.is_err(), "{plain:?}");
    // A key that is not there, or a certificate that is not one: the server does not start.
    let missing = start_with(Duration::from_secs(60), Some((cert.clone(), dir.join("nokey.pem")))).unwrap_err();
    assert!(missing.contains("nokey.pem"), "{missing}");
    std::fs::write(dir.join("junk.pem"), "junk\n").unwrap();
    let junk = start_with(Duration::from_secs(60), Some((dir.join("junk.pem"), key))).unwrap_err();
    assert!(junk.contains("junk.pem") && junk.contains("certificate"), "{junk}");
}

#[test]
fn an_expired_sign_in_is_refused() {
    let base = start(Duration::from_secs(1));
    let client = sign_in(&base, "li", "analyst password");
    assert_eq!(client.get("/api/me").0, 200);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(client.get("/api/me").0, 401);
    assert_eq!(client.get("/api/leads").0, 401);
}

#[test]
fn bad_ids_and_parameters_get_400_with_a_reason_and_unknown_ids_404() {
    let client = sign_in(server(), "wang", "investigator password");
    for path in [
        "/api/leads?top=abc",
        "/api/leads?top=0",
        "/api/leads?status=maybe",
        "/api/leads?order=rank",
        "/api/graph",
        "/api/graph?lead=L0001&node=x",
        "/api/graph?node=x&depth=9",
        "/api/calls/x'%20OR%20'1'='1",
        "/api/entities/E1;DROP",
        "/api/explain?a=1",
        "/api/path?from=a",
    ] {
        let (status, body) = client.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {body}");
    }
    assert_eq!(client.get("/api/calls/110-19990101-000001").0, 404);
    assert_eq!(client.get("/api/leads/L9999").0, 404);
    assert_eq!(client.get("/api/graph?node=nowhere").0, 404);
    assert_eq!(client.get("/api/nothing").0, 404);
}

#[test]
fn a_lead_opens_as_a_graph_that_expands_and_a_path_joins_two_of_its_calls() {
    let client = sign_in(server(), "li", "analyst password");
    let (status, list) = client.get("/api/leads?top=5");
    assert_eq!(status, 200, "{list}");
    let leads = list["leads"].as_array().unwrap();
    assert_eq!(leads.len(), 5);
    assert!(leads.windows(2).all(|w| w[0]["rank"].as_i64() < w[1]["rank"].as_i64()));
    let (_, groups) = client.get("/api/leads?kind=organised_group&top=100");
    assert!(groups["leads"].as_array().unwrap().iter().all(|l| l["kind"] == "organised_group"));
    let id = leads[0]["lead_id"].as_str().unwrap();
    let (_, lead) = client.get(&format!("/api/leads/{id}"));
    let calls: Vec<&str> = lead["call_ids"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(calls.len() >= 2, "{lead}");
    assert!(!lead["evidence"].as_array().unwrap().is_empty());

    let (status, graph) = client.get(&format!("/api/graph?lead={id}"));
    assert_eq!(status, 200);
    let nodes = graph["nodes"].as_array().unwrap();
    let ids: HashSet<&str> = nodes.iter().filter_map(|n| n["id"].as_str()).collect();
    assert!(calls.iter().all(|c| ids.contains(c)), "every call of the lead is drawn");
    let kinds: HashSet<&str> = nodes.iter().filter_map(|n| n["kind"].as_str()).collect();
    assert!(kinds.contains("call") && kinds.contains("entity"), "{kinds:?}");
    for e in graph["edges"].as_array().unwrap() {
        assert!(ids.contains(e["source"].as_str().unwrap()) && ids.contains(e["target"].as_str().unwrap()));
    }
    // Expanding a node gives its neighbours, as many as its degree said (up to the cap).
    let entity = nodes.iter().find(|n| n["kind"] == "entity").unwrap();
    let (status, around) = client.get(&format!("/api/graph?node={}&depth=1", entity["id"].as_str().unwrap()));
    assert_eq!(status, 200);
    let degree = entity["degree"].as_u64().unwrap() as usize;
    assert_eq!(around["nodes"].as_array().unwrap().len(), 1 + degree.min(40), "{around}");

    let (first, last) = (calls[0], calls[calls.len() - 1]);
    let (status, path) = client.get(&format!("/api/path?from={first}&to={last}"));
    assert_eq!(status, 200);
    assert_eq!(path["found"], true);
    let hops = path["hops"].as_array().unwrap();
    assert_eq!(hops.len() + 1, path["nodes"].as_array().unwrap().len());
    assert!(hops.iter().all(|h| h["evidence"].as_str().is_some_and(|e| !e.is_empty())));
}

#[test]
fn analysts_get_no_restricted_value_and_investigators_do() {
    let base = server();
    let (analyst, investigator) =
        (sign_in(base, "li", "analyst password"), sign_in(base, "wang", "investigator password"));
    let (_, list) = analyst.get("/api/leads?top=3");
    let mut checked = 0;
    for lead in list["leads"].as_array().unwrap() {
        let id = lead["lead_id"].as_str().unwrap();
        let (_, detail) = analyst.get(&format!("/api/leads/{id}"));
        for call in detail["call_ids"].as_array().unwrap().iter().take(5).filter_map(Value::as_str) {
            let raw = texts(
                Role::Investigator,
                &format!(
                    "SELECT caller_phone, CASE WHEN honorific_only THEN NULL ELSE caller_name END, caller_id_number \
                 FROM calls_pii WHERE call_id = '{call}'"
                ),
            );
            // A bare honorific (刘先生) identifies no one: analysts see it as the masked name.
            let secrets: Vec<String> =
                raw.iter().flatten().flatten().filter(|v| v.chars().count() >= 2).cloned().collect();
            let mut seen = HashSet::new();
            let (status, card) = analyst.get(&format!("/api/calls/{call}"));
            assert_eq!(status, 200);
            assert!(card.get("restricted").is_none(), "{card}");
            strings(&card, &mut seen);
            let entity = card["entity_id"].as_str().unwrap().to_owned();
            strings(&analyst.get(&format!("/api/entities/{entity}")).1, &mut seen);
            strings(&analyst.get(&format!("/api/graph?node={call}&depth=2")).1, &mut seen);
            for secret in &secrets {
                let leak: Vec<&String> = seen.iter().filter(|s| s.contains(secret.as_str())).collect();
                assert!(leak.is_empty(), "an analyst saw a restricted value of {call}: {secret} in {leak:?}");
            }
            let (_, card) = investigator.get(&format!("/api/calls/{call}"));
            if !secrets.is_empty() {
                let mut shown = HashSet::new();
                strings(&card["restricted"], &mut shown);
                assert!(secrets.iter().all(|s| shown.contains(s)), "the investigator sees the raw values: {card}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "checked {checked} calls");
}

#[test]
fn a_review_needs_the_csrf_token_shows_in_sql_and_follows_its_lead_to_a_new_link_run() {
    let client = sign_in(server(), "wang", "investigator password");
    let (_, list) = client.get("/api/leads?top=1");
    let lead = list["leads"][0].clone();
    let id = lead["lead_id"].as_str().unwrap().to_owned();
    let review = json!({ "status": "confirmed", "owner": "wang", "note": "<script>alert(1)</script> 同一伙人" });
    let (status, _) = client.post(&format!("/api/leads/{id}/review"), review.clone(), false);
    assert_eq!(status, 403, "no CSRF token, no change");
    let (status, body) = client.post(&format!("/api/leads/{id}/review"), json!({ "status": "solved" }), true);
    assert_eq!(status, 400, "{body}");
    let (status, body) = client.post(&format!("/api/leads/{id}/review"), review, true);
    assert_eq!(status, 200, "{body}");
    let (_, detail) = client.get(&format!("/api/leads/{id}"));
    assert_eq!(detail["status"], "confirmed");
    assert_eq!(detail["reviews"].as_array().unwrap().len(), 1);
    let (_, confirmed) = client.get("/api/leads?status=confirmed");
    assert_eq!(confirmed["leads"].as_array().unwrap().len(), 1);

    let stored = texts(Role::Analyst, "SELECT lead_id, status, owner, note, reviewed_by FROM lead_reviews");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0][0].as_deref(), Some(id.as_str()));
    assert_eq!(stored[0][1].as_deref(), Some("confirmed"));
    assert_eq!(stored[0][4].as_deref(), Some("wang"));

    // A new link run keeps the review, and it still belongs to the lead of the same people.
    link(&Warehouse::open(&warehouse()).unwrap(), &mut |_| {}).unwrap();
    let (_, again) = client.get("/api/leads?status=confirmed");
    let again = again["leads"].as_array().unwrap();
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["summary"], lead["summary"]);
}

#[test]
fn the_hotspot_map_is_geojson_cells_with_their_category_and_a_cell_lists_its_calls() {
    let client = sign_in(server(), "li", "analyst password");
    let (status, map) = client.get("/api/hotspots?category=DISPUTE.*&from=2023-01-01&to=2023-12-31");
    assert_eq!(status, 200, "{map}");
    assert_eq!(map["type"], "FeatureCollection");
    let features = map["features"].as_array().unwrap();
    assert!(!features.is_empty());
    for f in features {
        let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
        assert!(ring.len() >= 4 && ring.first() == ring.last(), "a closed polygon: {f}");
        assert!(
            f["properties"]["category"].as_str().unwrap().ends_with("Spot")
                || f["properties"]["category"] == "No Pattern Detected"
        );
    }
    assert!(map["districts"].as_array().unwrap().len() >= 2);
    let busiest = features.iter().max_by_key(|f| f["properties"]["calls"].as_f64().unwrap() as i64).unwrap();
    let cell = busiest["properties"]["cell"].as_str().unwrap();
    let (status, calls) =
        client.get(&format!("/api/hotspots/calls?category=DISPUTE.*&from=2023-01-01&to=2023-12-31&cell={cell}"));
    assert_eq!(status, 200, "{calls}");
    let listed = calls["calls"].as_array().unwrap();
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|c| c["category"].as_str().unwrap().starts_with("DISPUTE.")));
    for bad in [
        "/api/hotspots?from=2023-13-01",
        "/api/hotspots?from=2023-06-01&to=2023-01-01",
        "/api/hotspots?category=x';--",
        "/api/hotspots/calls?cell=250m:1:x",
    ] {
        assert_eq!(client.get(bad).0, 400, "{bad}");
    }
}

#[test]
fn investigators_find_calls_by_phone_analysts_may_not_and_the_number_is_never_logged() {
    let base = server();
    let (analyst, investigator) =
        (sign_in(base, "li", "analyst password"), sign_in(base, "wang", "investigator password"));
    let raw = texts(
        Role::Investigator,
        "SELECT call_id, caller_phone FROM calls_pii WHERE caller_phone LIKE '1%' AND length(caller_phone) = 11 ORDER BY call_id LIMIT 1",
    );
    let (call, phone) = (raw[0][0].clone().unwrap(), raw[0][1].clone().unwrap());
    // Written as people write it: with spaces and the country code.
    let written = format!("+86 {} {} {}", &phone[..3], &phone[3..7], &phone[7..]);
    let (status, body) = analyst.get(&format!("/api/search?q={}", written.replace('+', "%2B").replace(' ', "%20")));
    assert_eq!(status, 403, "{body}");
    let (status, body) =
        investigator.get(&format!("/api/search?q={}", written.replace('+', "%2B").replace(' ', "%20")));
    assert_eq!(status, 200, "{body}");
    let mut seen = HashSet::new();
    strings(&body, &mut seen);
    assert!(seen.contains(&call), "{body}");
    assert!(!seen.iter().any(|s| s.contains(&phone)), "the answer does not repeat the number");
    let (_, by_id) = analyst.get(&format!("/api/search?q={call}"));
    assert_eq!(by_id["results"][0]["id"], call.as_str());
    let log = std::fs::read_to_string(warehouse().join("audit/queries.jsonl")).unwrap();
    assert!(!log.contains(&phone) && !log.contains(&written), "the number reached the audit log");
    assert!(log.contains("GET /api/search (query withheld)"));
    assert_eq!(analyst.get("/api/search?q=").0, 400);
}

#[test]
fn every_data_request_is_audited_with_its_user_and_no_number() {
    let client = sign_in(server(), "li", "analyst password");
    let (_, list) = client.get("/api/leads?top=2");
    let id = list["leads"][0]["lead_id"].as_str().unwrap().to_owned();
    client.get(&format!("/api/graph?lead={id}"));
    client.get("/api/calls/110-20230101-13812345678");
    let log = std::fs::read_to_string(warehouse().join("audit/queries.jsonl")).unwrap();
    let mine: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["os_user"] == "web:li" && r["role"] == "analyst")
        .collect();
    let requests: Vec<&str> = mine.iter().filter_map(|r| r["sql"].as_str()).collect();
    assert!(requests.contains(&"GET /api/leads?top=2"), "{requests:?}");
    assert!(requests.contains(&format!("GET /api/graph?lead={id}").as_str()), "{requests:?}");
    assert!(!log.contains("13812345678"), "a number reached the audit log");
    assert!(mine.iter().any(|r| r["outcome"] == "refused" || r["outcome"] == "ok"));
}

#[test]
fn an_earlier_snapshot_is_read_with_snapshot_n_audited_as_such_and_never_changed() {
    let client = sign_in(server(), "li", "analyst password");
    // The sample warehouse: snapshot 1 is its ingest, 2 its resolve, 3 its link.
    let (status, body) = client.get("/api/leads?snapshot=2");
    assert_eq!(status, 409, "no leads before the link run: {body}");
    let (status, then) = client.get("/api/leads?top=3&snapshot=3");
    assert_eq!(status, 200, "{then}");
    assert_eq!(then["leads"].as_array().unwrap().len(), 3, "{then}");
    let (status, call) = client.get("/api/calls/12345-20230101-000001?snapshot=1");
    assert_eq!(status, 200, "{call}");
    let (status, body) = client.get("/api/leads?snapshot=99");
    assert_eq!(status, 404, "{body}");
    assert!(body["error"].as_str().unwrap().contains("not kept"), "{body}");
    for bad in ["/api/leads?snapshot=abc", "/api/leads?snapshot=0", "/api/leads?snapshot=-1"] {
        assert_eq!(client.get(bad).0, 400, "{bad}");
    }
    let investigator = sign_in(server(), "wang", "investigator password");
    let (status, body) =
        investigator.post("/api/leads/L0001/review?snapshot=3", json!({ "status": "confirmed" }), true);
    assert_eq!(status, 400, "{body}");
    assert!(body["error"].as_str().unwrap().contains("read-only"), "{body}");
    // The audit log says which snapshot each request read.
    let log = std::fs::read_to_string(warehouse().join("audit/queries.jsonl")).unwrap();
    let read: Vec<i64> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|r| r["sql"] == "GET /api/leads?top=3&snapshot=3" && r["os_user"] == "web:li")
        .filter_map(|r| r["snapshot"].as_i64())
        .collect();
    assert!(!read.is_empty() && read.iter().all(|&s| s == 3), "{read:?}");
}

#[test]
fn the_page_is_served_with_a_strict_policy_and_sets_text_never_markup() {
    let base = server();
    let page = agent().get(format!("{base}/")).call().unwrap();
    let csp = page.headers().get("content-security-policy").unwrap().to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("default-src 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"));
    let html = agent().get(format!("{base}/")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(html.contains("type=\"module\"") && !html.contains("http://") && !html.contains("https://"));
    assert!(!html.contains("<script>"), "no inline script");
    for asset in ["/app.js", "/graph.js", "/map.js"] {
        let js = agent().get(format!("{base}{asset}")).call().unwrap().body_mut().read_to_string().unwrap();
        // The SVG namespace is a name, not an address anything is loaded from.
        let js = js.replace("\"http://www.w3.org/2000/svg\"", "SVG_NAMESPACE");
        assert!(js.contains("textContent"), "{asset}");
        for sink in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "http://", "https://"] {
            assert!(!js.contains(sink), "{asset} uses {sink}");
        }
    }
}

#[test]
fn the_command_line_adds_users_from_standard_input_and_serves_on_a_free_port() {
    let dir = warehouse();
    let users = scratch("serve-cli").join("users.toml");
    let users_arg = users.display().to_string();
    let mut add = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["users", "add", "zhao", "--role", "investigator", "--users", &users_arg])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    assert!(add.wait().unwrap().success());
    let list =
        Command::new(env!("CARGO_BIN_EXE_hotline")).args(["users", "list", "--users", &users_arg]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "zhao\tinvestigator");
    assert!(!std::fs::read_to_string(&users).unwrap().contains("a long enough password"));
    let bad = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["users", "add", "x", "--role", "admin", "--users", &users_arg])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("admin"));

    let mut serve = Command::new(env!("CARGO_BIN_EXE_hotline"))
        .args(["serve", "--warehouse", &dir.display().to_string(), "--listen", "127.0.0.1:0", "--users", &users_arg])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(serve.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .map(|u| u.trim_end_matches('/').to_owned());
    let result = url.as_ref().map(|u| sign_in(u, "zhao", "a long enough password").get("/api/leads?top=1").0);
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert_eq!(result, Some(200), "{line}");
}
