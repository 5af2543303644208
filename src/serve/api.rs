//! The explorer's routes: the embedded page, sign-in, and the JSON API under `/api`. Every data
//! request runs on a blocking thread against the signed-in role's session and is appended to the
//! audit log with the user; bad ids and parameters get 400 with a reason.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use petgraph::graph::NodeIndex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::auth::{self, SignIn};
use super::{App, Loaded, ServeError, reviews, rows};
use crate::link::LinkError;
use crate::link::explore::{LeadRecord, LinkGraph, PathFound};
use crate::sql::Role;
use crate::sql::audit::Who;

/// What the page may load: its own scripts and styles only, no inline script, no other origin.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                       connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const INDEX_HTML: &str = include_str!("page/index.html");
const APP_JS: &str = include_str!("page/app.js");
const GRAPH_JS: &str = include_str!("page/graph.js");
const MAP_JS: &str = include_str!("page/map.js");
const STYLE_CSS: &str = include_str!("page/style.css");

/// Most nodes a neighbourhood request returns.
const MAX_NODES: usize = 400;

/// An error answer: a status and a reason, as `{"error": …}`.
#[derive(Debug)]
pub struct ApiError(pub StatusCode, pub String);

impl ApiError {
    fn bad(reason: impl Into<String>) -> ApiError {
        ApiError(StatusCode::BAD_REQUEST, reason.into())
    }
    fn not_found(reason: impl Into<String>) -> ApiError {
        ApiError(StatusCode::NOT_FOUND, reason.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.0, axum::Json(json!({ "error": self.1 }))).into_response();
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl From<ServeError> for ApiError {
    fn from(e: ServeError) -> ApiError {
        match e {
            ServeError::Link(LinkError::NotLinked) => {
                ApiError(StatusCode::CONFLICT, "the warehouse is not linked yet: run `hotline link`".into())
            }
            ServeError::Link(LinkError::Unknown { kind, id }) => ApiError::not_found(format!("no {kind} {id:?}")),
            ServeError::Warehouse(e @ crate::warehouse::WarehouseError::SnapshotNotKept { .. }) => {
                ApiError::not_found(e.to_string())
            }
            ServeError::Sql(crate::sql::SqlError::Timeout(_)) => {
                ApiError(StatusCode::SERVICE_UNAVAILABLE, "the query ran past the server's time limit".into())
            }
            other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        }
    }
}

type ApiResult = Result<Response, ApiError>;

/// The routes of a server.
pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }))
        .route("/app.js", get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }))
        .route("/graph.js", get(|| async { page(GRAPH_JS, "text/javascript; charset=utf-8") }))
        .route("/map.js", get(|| async { page(MAP_JS, "text/javascript; charset=utf-8") }))
        .route("/style.css", get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }))
        .route("/favicon.ico", get(|| async { StatusCode::NO_CONTENT }))
        .route("/api/health", get(health))
        .route("/api/login", post(login))
        .route("/api/logout", post(logout))
        .route("/api/me", get(me))
        .route("/api/leads", get(leads))
        .route("/api/leads/{id}", get(lead))
        .route("/api/leads/{id}/review", post(review))
        .route("/api/graph", get(graph))
        .route("/api/path", get(path))
        .route("/api/calls/{id}", get(call))
        .route("/api/entities/{id}", get(entity))
        .route("/api/explain", get(explain))
        .route("/api/search", get(search))
        .route("/api/hotspots", get(hotspots))
        .route("/api/hotspots/calls", get(cell_calls))
        .fallback(|| async { ApiError::not_found("no such page") })
        .layer(axum::middleware::map_response(secure_headers))
        .with_state(app)
}

async fn secure_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

fn page(body: &'static str, kind: &'static str) -> Response {
    ([(CONTENT_TYPE, kind), (CACHE_CONTROL, "no-cache")], body).into_response()
}

fn ok(value: Value) -> Response {
    let mut response = axum::Json(value).into_response();
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// An id as the tables write them (call, entity and lead ids): 1–64 ASCII letters, digits, `-`, `_`.
fn table_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ApiError> {
    let ok =
        !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(id) } else { Err(ApiError::bad(format!("bad {what} id: 1-64 letters, digits, - or _"))) }
}

/// A graph node id (`call id`, `entity id`, `phone:…`, `org:…`, `cell:…`): at most 200 characters,
/// no control characters.
fn node_id<'a>(what: &str, id: &'a str) -> Result<&'a str, ApiError> {
    if id.is_empty() || id.chars().count() > 200 || id.chars().any(char::is_control) {
        return Err(ApiError::bad(format!("bad {what}: a node id of 1-200 characters")));
    }
    Ok(id)
}

fn number(q: &HashMap<String, String>, name: &str, default: usize, max: usize) -> Result<usize, ApiError> {
    match q.get(name) {
        None => Ok(default),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::bad(format!("{name} must be a whole number from 1 to {max}"))),
        },
    }
}

/// Checks a request's parameters: those named, and `snapshot` (read when the request is taken).
fn only(q: &HashMap<String, String>, allowed: &[&str]) -> Result<(), ApiError> {
    match q.keys().find(|k| !allowed.contains(&k.as_str()) && k.as_str() != "snapshot") {
        Some(k) => Err(ApiError::bad(format!(
            "unknown parameter {k:?}; this endpoint takes {} (and snapshot)",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// The live sign-in of a request, else 401.
fn signed_in(app: &App, headers: &HeaderMap) -> Result<SignIn, ApiError> {
    let unauthorised = || ApiError(StatusCode::UNAUTHORIZED, "sign in first".into());
    let token = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(auth::cookie_token)
        .ok_or_else(unauthorised)?;
    let mut sessions = app.sign_ins.lock().map_err(|_| ApiError::from(super::poisoned()))?;
    auth::look_up(&mut sessions, token).ok_or_else(unauthorised)
}

/// A state-changing request's sign-in: it must carry the sign-in's CSRF token.
fn signed_in_changing(app: &App, headers: &HeaderMap) -> Result<SignIn, ApiError> {
    let who = signed_in(app, headers)?;
    let sent = headers.get(auth::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !auth::same_token(sent, &who.csrf) {
        return Err(ApiError(StatusCode::FORBIDDEN, format!("missing or wrong {} header", auth::CSRF_HEADER)));
    }
    Ok(who)
}

fn audit(
    app: &App,
    who: &SignIn,
    snapshot: u64,
    request: &str,
    started: (chrono::DateTime<chrono::Utc>, Instant),
    rows: u64,
    error: Option<&ApiError>,
) {
    let user = format!("web:{}", who.user);
    let (outcome, reason) = match error {
        None => ("ok", None),
        Some(e) if e.0.is_client_error() => ("refused", Some(e.1.as_str())),
        Some(e) => ("error", Some(e.1.as_str())),
    };
    let record = app.audit.append(
        Who { user: &user, role: who.role, client: None },
        snapshot as i64,
        started.0,
        request,
        rows,
        started.1.elapsed(),
        outcome,
        reason,
    );
    if let Err(e) = record {
        eprintln!("hotline serve: cannot write the audit log: {e}");
    }
}

/// A signed-in data request: the app, who asks (with the CSRF token checked when it changes
/// anything), and its request line for the audit log.
pub struct Asked {
    app: Arc<App>,
    who: SignIn,
    line: String,
    /// The earlier snapshot a reading request asked for (`?snapshot=N`); None reads the current.
    snapshot: Option<u64>,
}

/// The snapshot a request's query names (`snapshot=N`), if any.
fn asked_snapshot(query: Option<&str>) -> Result<Option<u64>, ApiError> {
    let Some(query) = query else { return Ok(None) };
    let mut found = None;
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name == "snapshot" {
            let id = value.parse::<u64>().ok().filter(|&n| n > 0).ok_or_else(|| {
                ApiError::bad("snapshot must be a snapshot number (see `hotline warehouse snapshots`)")
            })?;
            found = Some(id);
        }
    }
    Ok(found)
}

impl FromRequestParts<Arc<App>> for Asked {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Asked, ApiError> {
        let who = if parts.method == Method::GET {
            signed_in(app, &parts.headers)?
        } else {
            signed_in_changing(app, &parts.headers)?
        };
        // What an investigator searches for may be a phone or ID number: it never reaches the log.
        let line = if parts.uri.path() == "/api/search" {
            format!("{} /api/search (query withheld)", parts.method)
        } else {
            format!("{} {}", parts.method, parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str()))
        };
        let snapshot = asked_snapshot(parts.uri.query())?;
        if snapshot.is_some() && parts.method != Method::GET {
            return Err(ApiError::bad("an earlier snapshot is read-only: leave out snapshot= to change anything"));
        }
        Ok(Asked { app: app.clone(), who, line, snapshot })
    }
}

impl Asked {
    /// Runs the request on a blocking thread and audits it; `work` returns the answer and the
    /// number of rows it holds.
    async fn answer<F>(self, work: F) -> ApiResult
    where
        F: FnOnce(&App, &Loaded, &SignIn) -> Result<(Value, u64), ApiError> + Send + 'static,
    {
        let Asked { app, who, line: request, snapshot } = self;
        let started = (chrono::Utc::now(), Instant::now());
        let outcome = tokio::task::spawn_blocking(move || {
            let loaded = app.at(snapshot).map_err(ApiError::from);
            let snapshot = loaded.as_ref().map_or(0, |l| l.snapshot);
            let result = loaded.and_then(|loaded| work(&app, &loaded, &who));
            let (rows, error) = match &result {
                Ok((_, rows)) => (*rows, None),
                Err(e) => (0, Some(e)),
            };
            audit(&app, &who, snapshot, &request, started, rows, error);
            result
        })
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, format!("the request failed: {e}")))?;
        outcome.map(|(value, _)| ok(value))
    }
}

async fn health(State(app): State<Arc<App>>) -> Response {
    let snapshot = app.warehouse.current().ok().flatten().unwrap_or(0);
    ok(json!({ "status": "ok", "snapshot": snapshot }))
}

#[derive(Deserialize)]
struct Login {
    user: String,
    password: String,
}

async fn login(
    State(app): State<Arc<App>>,
    body: Result<axum::Json<Login>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let axum::Json(login) =
        body.map_err(|e| ApiError::bad(format!("send JSON {{\"user\": …, \"password\": …}}: {}", e.body_text())))?;
    if login.user.len() > 64 || login.password.len() > 1024 {
        return Err(ApiError::bad("user name or password too long"));
    }
    let started = (chrono::Utc::now(), Instant::now());
    let refused = |app: &App, user: String, error: ApiError| {
        let who = SignIn { user, role: Role::Analyst, csrf: String::new(), expires: Instant::now() };
        audit(app, &who, 0, "POST /api/login", started, 0, Some(&error));
        error
    };
    let locked =
        app.throttle.lock().map_err(|_| ApiError::from(super::poisoned()))?.locked(&login.user, Instant::now());
    if let Some(wait) = locked {
        return Ok(retry_after(refused(&app, login.user, locked_out(wait)), wait));
    }
    let checker = app.clone();
    let (name, password) = (login.user.clone(), login.password);
    let user = tokio::task::spawn_blocking(move || checker.users.verify(&name, &password).cloned())
        .await
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let Some(user) = user else {
        let lock =
            app.throttle.lock().map_err(|_| ApiError::from(super::poisoned()))?.failed(&login.user, Instant::now());
        return match lock {
            Some(wait) => Ok(retry_after(refused(&app, login.user, locked_out(wait)), wait)),
            None => {
                Err(refused(&app, login.user, ApiError(StatusCode::UNAUTHORIZED, "wrong user name or password".into())))
            }
        };
    };
    app.throttle.lock().map_err(|_| ApiError::from(super::poisoned()))?.succeeded(&user.name);
    let (id, sign_in) = {
        let mut sessions = app.sign_ins.lock().map_err(|_| ApiError::from(super::poisoned()))?;
        auth::sign_in(&mut sessions, &user.name, user.role(), app.config.session_ttl)
    };
    audit(&app, &sign_in, 0, "POST /api/login", started, 0, None);
    let mut response = ok(json!({ "user": sign_in.user, "role": sign_in.role.name(), "csrf": sign_in.csrf }));
    let cookie = auth::set_cookie(&id, app.config.session_ttl, app.config.tls.is_some());
    response
        .headers_mut()
        .insert(SET_COOKIE, HeaderValue::from_str(&cookie).map_err(|e| ApiError::bad(e.to_string()))?);
    Ok(response)
}

/// The refusal of a locked user name.
fn locked_out(wait: Duration) -> ApiError {
    ApiError(
        StatusCode::TOO_MANY_REQUESTS,
        format!("too many wrong passwords for this user name: try again in {} s", wait.as_secs().max(1)),
    )
}

/// An error response telling the client, in `Retry-After`, when to try again.
fn retry_after(error: ApiError, wait: Duration) -> Response {
    let mut response = error.into_response();
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from(wait.as_secs().max(1)));
    response
}

async fn logout(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    signed_in_changing(&app, &headers)?;
    if let Some(token) = headers.get_all(COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(auth::cookie_token) {
        app.sign_ins.lock().map_err(|_| ApiError::from(super::poisoned()))?.remove(token);
    }
    let mut response = ok(json!({ "signed_out": true }));
    response
        .headers_mut()
        .insert(SET_COOKIE, HeaderValue::from_str(&auth::clear_cookie()).map_err(|e| ApiError::bad(e.to_string()))?);
    Ok(response)
}

async fn me(State(app): State<Arc<App>>, headers: HeaderMap) -> ApiResult {
    let who = signed_in(&app, &headers)?;
    Ok(ok(json!({ "user": who.user, "role": who.role.name(), "csrf": who.csrf })))
}

/// The leads with their review state, cached per snapshot.
fn leads_of(loaded: &Loaded) -> Result<&Vec<LeadRecord>, ApiError> {
    if let Some(leads) = loaded.leads.get() {
        return Ok(leads);
    }
    let leads = crate::link::explore::read_leads(&loaded.analyst, None).map_err(ServeError::from)?;
    Ok(loaded.leads.get_or_init(|| leads))
}

/// Every review of the snapshot, cached with it.
fn reviews_of(loaded: &Loaded) -> Result<&Vec<reviews::Review>, ApiError> {
    if let Some(all) = loaded.reviews.get() {
        return Ok(all);
    }
    let all = reviews::read_all(&loaded.analyst)?;
    Ok(loaded.reviews.get_or_init(|| all))
}

fn lead_json(lead: &LeadRecord, history: Option<&Vec<reviews::Review>>, full: bool) -> Value {
    let last = history.and_then(|h| h.last());
    let mut v = json!({
        "lead_id": lead.lead_id,
        "rank": lead.rank,
        "score": (lead.score * 10.0).round() / 10.0,
        "worth_a_look": lead.worth_a_look,
        "kind": lead.kind,
        "category": lead.category,
        "callers": lead.callers,
        "calls": lead.call_ids.len(),
        "entities": lead.entity_ids.len(),
        "summary": lead.evidence.first().cloned().unwrap_or_default(),
        "status": last.map_or("new", |r| r.status.as_str()),
        "owner": last.map_or("", |r| r.owner.as_str()),
    });
    if full {
        v["evidence"] = json!(lead.evidence);
        v["call_ids"] = json!(lead.call_ids);
        v["entity_ids"] = json!(lead.entity_ids);
        v["reviews"] = json!(history.cloned().unwrap_or_default());
    }
    v
}

async fn leads(asked: Asked, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    only(&q, &["top", "kind", "category", "status"])?;
    let top = number(&q, "top", 50, 10_000)?;
    let (kind, category, status) = (q.get("kind").cloned(), q.get("category").cloned(), q.get("status").cloned());
    if let Some(s) = &status
        && !reviews::STATUSES.contains(&s.as_str())
    {
        return Err(ApiError::bad(format!("status must be one of {}", reviews::STATUSES.join(", "))));
    }
    asked
        .answer(move |_, loaded, _| {
            let leads = leads_of(loaded)?;
            let all = reviews_of(loaded)?;
            let history = reviews::by_lead(all, leads);
            let list: Vec<Value> = leads
                .iter()
                .filter(|l| kind.as_ref().is_none_or(|k| &l.kind == k))
                .filter(|l| category.as_ref().is_none_or(|c| l.category.starts_with(c.as_str())))
                .map(|l| lead_json(l, history.get(&l.lead_id), false))
                .filter(|v| status.as_ref().is_none_or(|s| v["status"] == s.as_str()))
                .take(top)
                .collect();
            let n = list.len() as u64;
            Ok((json!({ "leads": list }), n))
        })
        .await
}

fn find_lead<'a>(leads: &'a [LeadRecord], id: &str) -> Result<&'a LeadRecord, ApiError> {
    leads.iter().find(|l| l.lead_id == id).ok_or_else(|| ApiError::not_found(format!("no lead {id:?}")))
}

async fn lead(asked: Asked, Path(id): Path<String>) -> ApiResult {
    let id = table_id("lead", &id)?.to_owned();
    asked
        .answer(move |_, loaded, _| {
            let leads = leads_of(loaded)?;
            let lead = find_lead(leads, &id)?;
            let all = reviews_of(loaded)?;
            let history = reviews::by_lead(all, leads);
            Ok((lead_json(lead, history.get(&lead.lead_id), true), lead.call_ids.len() as u64))
        })
        .await
}

#[derive(Deserialize)]
struct ReviewBody {
    status: String,
    #[serde(default)]
    owner: String,
    #[serde(default)]
    note: String,
}

async fn review(
    asked: Asked,
    Path(id): Path<String>,
    body: Result<axum::Json<ReviewBody>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let id = table_id("lead", &id)?.to_owned();
    let axum::Json(body) =
        body.map_err(|e| ApiError::bad(format!("send JSON {{\"status\", \"owner\", \"note\"}}: {}", e.body_text())))?;
    if !reviews::STATUSES.contains(&body.status.as_str()) {
        return Err(ApiError::bad(format!("status must be one of {}", reviews::STATUSES.join(", "))));
    }
    if body.owner.chars().count() > 64 || body.note.chars().count() > reviews::MAX_NOTE_CHARS {
        return Err(ApiError::bad(format!("owner at most 64 characters, note at most {}", reviews::MAX_NOTE_CHARS)));
    }
    asked
        .answer(move |app, loaded, who| {
            let leads = leads_of(loaded)?;
            let lead = find_lead(leads, &id)?;
            reviews::record(&app.warehouse, lead, &body.status, &body.owner, &body.note, &who.user)?;
            Ok((json!({ "lead_id": id, "status": body.status, "owner": body.owner }), 1))
        })
        .await
}

fn graph_of(loaded: &Loaded) -> Result<&LinkGraph, ApiError> {
    loaded.graph.as_deref().ok_or_else(|| ServeError::Link(LinkError::NotLinked).into())
}

fn node_json(g: &LinkGraph, n: NodeIndex) -> Value {
    let node = &g.graph[n];
    json!({ "id": node.id, "kind": node.kind.name(), "label": node.label, "degree": g.graph.neighbors(n).count() })
}

fn edge_json(g: &LinkGraph, a: NodeIndex, b: NodeIndex, e: &crate::link::explore::GraphEdge) -> Value {
    json!({ "source": g.graph[a].id, "target": g.graph[b].id, "evidence": e.evidence, "weight": e.weight, "detail": e.detail })
}

async fn graph(asked: Asked, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    only(&q, &["lead", "node", "depth"])?;
    let depth = number(&q, "depth", 1, 3)?;
    let lead = q.get("lead").map(|l| table_id("lead", l).map(str::to_owned)).transpose()?;
    let node = q.get("node").map(|n| node_id("node", n).map(str::to_owned)).transpose()?;
    if lead.is_some() == node.is_some() {
        return Err(ApiError::bad("give lead=ID or node=ID (with depth=1..3)"));
    }
    asked
        .answer(move |_, loaded, _| {
            let g = graph_of(loaded)?;
            let (nodes, edges): (Vec<NodeIndex>, Vec<Value>) = if let Some(lead) = lead {
                let l = find_lead(leads_of(loaded)?, &lead)?;
                let (nodes, edges) = g.subgraph(&l.call_ids).map_err(ServeError::from)?;
                let edges = edges.iter().map(|(a, b, e)| edge_json(g, *a, *b, e)).collect();
                (nodes, edges)
            } else {
                let from = g.find(node.as_deref().unwrap_or_default()).map_err(ServeError::from)?;
                let mut nodes = vec![from];
                let mut edges = Vec::new();
                for (_, parent, child, edge) in g.neighbours(from, depth, 40).into_iter().take(MAX_NODES) {
                    nodes.push(child);
                    if let Some(e) = g.graph.edge_weight(petgraph::graph::EdgeIndex::new(edge)) {
                        edges.push(edge_json(g, parent, child, e));
                    }
                }
                (nodes, edges)
            };
            let n = nodes.len() as u64;
            let nodes: Vec<Value> = nodes.iter().map(|&x| node_json(g, x)).collect();
            Ok((json!({ "nodes": nodes, "edges": edges }), n))
        })
        .await
}

async fn path(asked: Asked, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    only(&q, &["from", "to"])?;
    let from = node_id("from", q.get("from").map_or("", String::as_str))?.to_owned();
    let to = node_id("to", q.get("to").map_or("", String::as_str))?.to_owned();
    // One path search at a time: each may examine millions of links, and run side by side they
    // would hold both cores while the lead list and graphs, a few milliseconds each, wait.
    let searches = asked.app.path_searches.clone();
    let _turn = searches.acquire_owned().await.map_err(|e| ApiError(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    asked
        .answer(move |_, loaded, _| {
            let g = graph_of(loaded)?;
            let (a, b) = (g.find(&from).map_err(ServeError::from)?, g.find(&to).map_err(ServeError::from)?);
            let nodes = match g.path(a, b) {
                PathFound::Path(nodes) => nodes,
                PathFound::None => return Ok((json!({ "nodes": [], "hops": [], "found": false }), 0)),
                PathFound::GaveUp { examined } => {
                    let why = format!(
                        "no chain found within {examined} links examined: the two are far apart or joined only \
                         through large hubs; try nodes nearer each other"
                    );
                    return Ok((json!({ "nodes": [], "hops": [], "found": false, "gave_up": true, "why": why }), 0));
                }
            };
            let hops: Vec<Value> = nodes
                .windows(2)
                .filter_map(|w| g.edge_between(w[0], w[1]).map(|e| edge_json(g, w[0], w[1], e)))
                .collect();
            let n = nodes.len() as u64;
            let nodes: Vec<Value> = nodes.iter().map(|&x| node_json(g, x)).collect();
            Ok((json!({ "nodes": nodes, "hops": hops, "found": true }), n))
        })
        .await
}

async fn call(asked: Asked, Path(id): Path<String>) -> ApiResult {
    let id = table_id("call", &id)?.to_owned();
    asked.answer(move |_, loaded, who| {
        let session = loaded.session(who.role);
        let (_, batches) = session
            .collect(&format!(
                "SELECT c.call_id, c.platform, c.received_at, c.category, k.name_zh AS category_name, c.district, c.address, \
                 c.lon, c.lat, c.counterparty, c.narrative, c.disposition, c.source_call_id, c.name_masked, c.phone_key, \
                 e.entity_id FROM calls c LEFT JOIN categories k ON k.code = c.category \
                 LEFT JOIN caller_entities e ON e.call_id = c.call_id WHERE c.call_id = '{id}'"
            ))
            .map_err(ServeError::from)?;
        let mut card = rows::to_json(&batches)?.into_iter().next().ok_or_else(|| ApiError::not_found(format!("no call {id:?}")))?;
        let (_, orders) = session
            .collect(&format!(
                "SELECT order_id, created_at, from_platform, to_platform, department, status, closed_at, satisfaction \
                 FROM work_orders WHERE call_id = '{id}' ORDER BY created_at, order_id"
            ))
            .map_err(ServeError::from)?;
        card.insert("work_orders".into(), Value::Array(rows::to_json(&orders)?.into_iter().map(Value::Object).collect()));
        if who.role == Role::Investigator {
            let (_, pii) = session
                .collect(&format!(
                    "SELECT caller_phone, caller_name, caller_id_number FROM calls_pii WHERE call_id = '{id}'"
                ))
                .map_err(ServeError::from)?;
            if let Some(row) = rows::to_json(&pii)?.into_iter().next() {
                card.insert("restricted".into(), Value::Object(row));
            }
        }
        Ok((Value::Object(card), 1))
    })
    .await
}

async fn entity(asked: Asked, Path(id): Path<String>) -> ApiResult {
    let id = table_id("entity", &id)?.to_owned();
    asked.answer(move |_, loaded, who| {
        let session = loaded.session(who.role);
        let (_, batches) = session
            .collect(&format!(
                "SELECT entity_id, calls, original_calls, phones, phone_keys, names_masked, platforms, categories, districts, \
                 first_seen, last_seen, min_confidence FROM entities WHERE entity_id = '{id}'"
            ))
            .map_err(ServeError::from)?;
        let mut card = rows::to_json(&batches)?.into_iter().next().ok_or_else(|| ApiError::not_found(format!("no entity {id:?}")))?;
        let (_, calls) = session
            .collect(&format!(
                "SELECT c.call_id, c.received_at, c.platform, c.category, c.district, c.counterparty FROM caller_entities e \
                 JOIN calls c ON c.call_id = e.call_id WHERE e.entity_id = '{id}' ORDER BY c.received_at, c.call_id LIMIT 500"
            ))
            .map_err(ServeError::from)?;
        let calls = rows::to_json(&calls)?;
        let n = calls.len() as u64;
        card.insert("call_list".into(), Value::Array(calls.into_iter().map(Value::Object).collect()));
        Ok((Value::Object(card), n))
    })
    .await
}

async fn explain(asked: Asked, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    only(&q, &["a", "b"])?;
    let a = table_id("call", q.get("a").map_or("", String::as_str))?.to_owned();
    let b = table_id("call", q.get("b").map_or("", String::as_str))?.to_owned();
    asked.answer(move |app, _, _| {
        let e = crate::resolve::explain(&app.config.warehouse, &a, &b).map_err(|e| match e {
            crate::resolve::ResolveError::UnknownCall(id) => ApiError::not_found(format!("no call {id:?}")),
            other => ApiError(StatusCode::CONFLICT, other.to_string()),
        })?;
        let defs = crate::resolve::compare::DEFS;
        let mut running = e.prior_bits;
        let mut steps = vec![json!({ "comparison": "prior", "level": "two profiles drawn at random", "bits": e.prior_bits, "total": running })];
        for t in &e.terms {
            running += t.bits;
            steps.push(json!({
                "comparison": defs[t.comparison].name,
                "level": defs[t.comparison].levels[usize::from(t.level)],
                "m": t.m, "u": t.u, "bits": t.bits, "total": running,
            }));
        }
        let calls: Vec<Value> = e
            .calls
            .iter()
            .map(|c| json!({ "call_id": c.call_id, "platform": c.platform, "received_at": rows::local_time(c.received_at),
                             "phone_key": c.phone_key, "name_masked": c.name_masked, "entity_id": c.entity_id }))
            .collect();
        let n = steps.len() as u64;
        Ok((json!({ "calls": calls, "same_profile": e.same_profile, "steps": steps, "total_bits": e.total_bits, "probability": e.probability }), n))
    })
    .await
}

/// Category and period of a hotspot request: `category` a code or prefix (`DISPUTE.*`), `from`
/// and `to` days (YYYY-MM-DD).
fn hotspot_settings(q: &HashMap<String, String>) -> Result<crate::hotspot::HotspotSettings, ApiError> {
    let mut settings = crate::hotspot::HotspotSettings::default();
    if let Some(c) = q.get("category").filter(|c| !c.is_empty()) {
        let ok =
            c.len() <= 64 && c.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"._*".contains(&b));
        if !ok {
            return Err(ApiError::bad("category: a code or prefix such as DISPUTE.* (capitals, digits, . _ *)"));
        }
        settings.categories = vec![c.clone()];
    }
    let day = |name: &str| -> Result<Option<chrono::NaiveDate>, ApiError> {
        q.get(name)
            .filter(|d| !d.is_empty())
            .map(|d| {
                chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| ApiError::bad(format!("{name} must be a day, YYYY-MM-DD")))
            })
            .transpose()
    };
    (settings.from, settings.to) = (day("from")?, day("to")?);
    if let (Some(a), Some(b)) = (settings.from, settings.to)
        && a > b
    {
        return Err(ApiError::bad("from is after to"));
    }
    Ok(settings)
}

fn hotspot_error(e: crate::hotspot::HotspotError) -> ApiError {
    match e {
        crate::hotspot::HotspotError::Empty => ApiError::not_found("no located calls of that category in that period"),
        other => ApiError(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

/// The hotspot cells of a category and period as GeoJSON polygons with their emerging hot spot
/// category, and a label point per district (the centre of its calls' cells).
async fn hotspots(asked: Asked, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    only(&q, &["category", "from", "to"])?;
    let settings = hotspot_settings(&q)?;
    asked
        .answer(move |_, loaded, who| {
            let report = crate::hotspot::find_hotspots(&loaded.session(who.role), &settings).map_err(hotspot_error)?;
            let mut districts: HashMap<&str, (f64, f64, f64)> = HashMap::new();
            let features: Vec<Value> = report
                .cells
                .iter()
                .map(|h| {
                    let d = districts.entry(h.district.as_str()).or_default();
                    (d.0, d.1, d.2) = (d.0 + h.centre.0, d.1 + h.centre.1, d.2 + 1.0);
                    let ring: Vec<[f64; 2]> = h.outline.iter().map(|&(x, y)| [x, y]).collect();
                    json!({
                        "type": "Feature",
                        "geometry": { "type": "Polygon", "coordinates": [ring] },
                        "properties": {
                            "cell": h.id, "category": h.result.category.name(), "hot": h.result.category.is_hot(),
                            "calls": h.result.calls, "district": h.district, "top_address": h.top_address,
                            "top_counterparty": h.top_counterparty, "last_z": h.result.z.last(),
                            "trend_tau": h.result.trend.tau, "trend_p": h.result.trend.p,
                        }
                    })
                })
                .collect();
            let mut labels: Vec<Value> = districts
                .iter()
                .filter(|(name, _)| !name.is_empty())
                .map(|(name, (x, y, n))| json!({ "district": name, "lon": x / n, "lat": y / n }))
                .collect();
            labels.sort_by(|a, b| a["district"].as_str().cmp(&b["district"].as_str()));
            let n = features.len() as u64;
            Ok((json!({ "type": "FeatureCollection", "features": features, "districts": labels }), n))
        })
        .await
}

/// The calls of one 250 m hotspot cell in a category and period.
async fn cell_calls(asked: Asked, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    only(&q, &["cell", "category", "from", "to"])?;
    let settings = hotspot_settings(&q)?;
    let cell = q.get("cell").map_or("", String::as_str);
    let parts: Vec<&str> = cell.split(':').collect();
    let ok = parts.len() == 3
        && parts[0].strip_suffix('m').is_some_and(|m| m.parse::<u32>().is_ok_and(|m| (1..=100_000).contains(&m)))
        && parts[1..].iter().all(|p| p.parse::<i64>().is_ok());
    if !ok {
        return Err(ApiError::bad("cell: a square cell id such as 250m:ROW:COLUMN"));
    }
    let metres = parts[0].trim_end_matches('m').to_owned();
    let cell = cell.to_owned();
    asked
        .answer(move |_, loaded, who| {
            let mut filter = String::new();
            if let Some(c) = settings.categories.first() {
                let prefix = c.trim_end_matches('*');
                filter += &if c.ends_with('*') {
                    format!(" AND starts_with(category, '{prefix}')")
                } else {
                    format!(" AND category = '{c}'")
                };
            }
            if let Some(d) = settings.from {
                filter += &format!(" AND local_date(received_at) >= DATE '{d}'");
            }
            if let Some(d) = settings.to {
                filter += &format!(" AND local_date(received_at) <= DATE '{d}'");
            }
            let (_, batches) = loaded
                .session(who.role)
                .collect(&format!(
                    "SELECT call_id, received_at, platform, category, district, counterparty FROM calls \
                     WHERE source_call_id IS NULL AND grid_cell(lon, lat, {metres}) = '{cell}'{filter} \
                     ORDER BY received_at, call_id LIMIT 500"
                ))
                .map_err(ServeError::from)?;
            let calls = rows::to_json(&batches)?;
            let n = calls.len() as u64;
            Ok((json!({ "cell": cell, "calls": calls }), n))
        })
        .await
}

/// Search by call id, entity id or counterparty name; investigators also by phone or ID number,
/// which the server turns into its key (the number itself is neither logged nor sent back).
async fn search(asked: Asked, Query(q): Query<HashMap<String, String>>) -> ApiResult {
    only(&q, &["q"])?;
    let text = q.get("q").map_or("", |t| t.trim()).to_owned();
    if text.is_empty() || text.chars().count() > 100 || text.chars().any(char::is_control) {
        return Err(ApiError::bad("q: 1-100 characters"));
    }
    asked
        .answer(move |app, loaded, who| {
            let mut hits: Vec<Value> = Vec::new();
            let session = loaded.session(who.role);
            let digits: String = text.chars().filter(char::is_ascii_digit).collect();
            let area_code = session.city().local_area_code().unwrap_or(crate::pii::DEFAULT_AREA_CODE).to_owned();
            let phone = (digits.len() >= 7).then(|| crate::pii::normalize_phone_in(&text, &area_code)).flatten();
            let id_number = crate::pii::parse_resident_id(&text);
            if phone.is_some() || id_number.is_some() {
                if who.role != Role::Investigator {
                    return Err(ApiError(StatusCode::FORBIDDEN, "searching by phone or ID number needs the investigator role".into()));
                }
                let key = app.key.as_ref().ok_or_else(|| {
                    ApiError(StatusCode::CONFLICT, "the server has no pseudonymisation key (HOTLINE_KEY or the key file)".into())
                })?;
                let (column, value) = match (&id_number, &phone) {
                    (Some(id), _) => ("id_key", key.id_key(&id.canonical)),
                    (None, Some(p)) => ("phone_key", key.phone_key(p)),
                    (None, None) => return Err(ApiError::bad("q: neither a phone nor an ID number")),
                };
                let (_, batches) = session
                    .collect(&format!(
                        "SELECT c.call_id, c.received_at, c.category, e.entity_id FROM calls c \
                         LEFT JOIN caller_entities e ON e.call_id = c.call_id WHERE c.{column} = '{value}' \
                         ORDER BY c.received_at, c.call_id LIMIT 200"
                    ))
                    .map_err(ServeError::from)?;
                let mut entities = std::collections::BTreeSet::new();
                for row in rows::to_json(&batches)? {
                    if let Some(e) = row.get("entity_id").and_then(Value::as_str) {
                        entities.insert(e.to_owned());
                    }
                    hits.push(json!({ "kind": "call", "id": row["call_id"], "label": format!("{} {}", row["received_at"].as_str().unwrap_or(""), row["category"].as_str().unwrap_or("")) }));
                }
                let mut found: Vec<Value> = entities.into_iter().map(|e| json!({ "kind": "entity", "id": e, "label": "" })).collect();
                found.extend(hits);
                let n = found.len() as u64;
                return Ok((json!({ "results": found, "by": column }), n));
            }
            if let Some(g) = loaded.graph.as_deref() {
                if let Some(&n) = g.index.get(text.as_str()) {
                    let node = &g.graph[n];
                    hits.push(json!({ "kind": node.kind.name(), "id": node.id, "label": node.label }));
                }
                let needle = text.to_lowercase();
                let mut counterparties: Vec<Value> = g
                    .graph
                    .node_weights()
                    .filter(|n| n.kind == crate::link::explore::NodeKind::Counterparty && n.label.to_lowercase().contains(&needle))
                    .take(20)
                    .map(|n| json!({ "kind": "counterparty", "id": n.id, "label": n.label }))
                    .collect();
                counterparties.sort_by(|a, b| a["label"].as_str().cmp(&b["label"].as_str()));
                hits.extend(counterparties);
            }
            let n = hits.len() as u64;
            Ok((json!({ "results": hits, "by": "id_or_name" }), n))
        })
        .await
}
