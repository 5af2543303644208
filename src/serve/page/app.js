// The explorer page: sign-in, the lead list, a lead's graph with expansion, paths, cards, a
// timeline and reviews, all from the JSON API. Text from the warehouse is only ever set with
// textContent, so a narrative holding markup shows as text.

import { COLOURS, layout, draw } from "/graph.js";
import { CATEGORY_COLOURS, drawMap } from "/map.js";

const $ = (id) => document.getElementById(id);
const state = { csrf: "", role: "", nodes: new Map(), edges: [], pos: new Map(), selected: [], hops: [], added: new Map(), lead: null, range: [0, 1000] };

async function api(path, options = {}) {
  const headers = { "content-type": "application/json" };
  if (options.method && options.method !== "GET") headers["x-csrf-token"] = state.csrf;
  const response = await fetch(path, { credentials: "same-origin", ...options, headers });
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw Object.assign(new Error(body.error || response.statusText), { status: response.status });
  return body;
}

function el(tag, text, attrs = {}) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function showSignedIn(me) {
  state.csrf = me.csrf; state.role = me.role;
  $("whoami").textContent = `${me.user} (${me.role})`;
  $("signin").hidden = true; $("app").hidden = false; $("logout").hidden = false; $("search-form").hidden = false;
  loadLeads();
  followHash();
}

// Deep links: #lead=L0003 opens a lead, #call=ID or #entity=ID a card.
function followHash() {
  const m = /^#(lead|call|entity)=([^&]+)$/.exec(location.hash);
  if (!m) return;
  const id = decodeURIComponent(m[2]);
  if (m[1] === "lead") openLead(id, null);
  else showNodeCard({ kind: m[1], id, label: "", degree: 0 });
}

async function start() {
  const legend = $("legend");
  for (const [kind, colour] of Object.entries(COLOURS)) {
    const s = el("span", kind); s.style.setProperty("--c", colour); legend.appendChild(s);
  }
  try { showSignedIn(await api("/api/me")); } catch { $("signin").hidden = false; }
  $("signin-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      showSignedIn(await api("/api/login", { method: "POST", body: JSON.stringify({ user: $("user").value, password: $("password").value }) }));
      $("signin-error").textContent = "";
    } catch (e) { $("signin-error").textContent = e.message; }
  });
  $("logout").addEventListener("click", async () => { await api("/api/logout", { method: "POST" }).catch(() => {}); location.reload(); });
  for (const id of ["filter-kind", "filter-status", "filter-category"]) $(id).addEventListener("change", loadLeads);
  $("expand").addEventListener("click", expand);
  $("collapse").addEventListener("click", collapse);
  $("dismiss").addEventListener("click", dismiss);
  $("path").addEventListener("click", findPath);
  $("explain").addEventListener("click", explain);
  for (const id of ["time-from", "time-to"]) $(id).addEventListener("input", moveTimeline);
  $("review-form").addEventListener("submit", saveReview);
  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); search(); });
  $("map-form").addEventListener("submit", (event) => { event.preventDefault(); loadMap(); });
  const mapLegend = $("map-legend");
  for (const [name, colour] of Object.entries(CATEGORY_COLOURS)) {
    if (name.includes("Hot") || name.startsWith("No")) { const s = el("span", name); s.style.setProperty("--c", colour); mapLegend.appendChild(s); }
  }
  window.addEventListener("hashchange", () => { if (state.csrf) followHash(); });
}

async function loadLeads() {
  const q = new URLSearchParams({ top: "100" });
  if ($("filter-kind").value) q.set("kind", $("filter-kind").value);
  if ($("filter-status").value) q.set("status", $("filter-status").value);
  if ($("filter-category").value.trim()) q.set("category", $("filter-category").value.trim());
  const tbody = $("leads").querySelector("tbody");
  tbody.replaceChildren();
  let body;
  try { body = await api("/api/leads?" + q); } catch (e) { tbody.appendChild(el("tr")).appendChild(el("td", e.message, { colspan: "7", class: "error" })); return; }
  for (const lead of body.leads) {
    const tr = el("tr", undefined, { "data-lead": lead.lead_id });
    for (const v of [lead.rank, lead.kind === "person_of_concern" ? "person" : "group", lead.score, lead.callers, lead.calls, lead.status]) tr.appendChild(el("td", v));
    tr.appendChild(el("td", lead.summary, { class: "summary", title: lead.summary }));
    tr.addEventListener("click", () => openLead(lead.lead_id, tr));
    tbody.appendChild(tr);
  }
}

async function openLead(id, row) {
  for (const r of document.querySelectorAll("#leads tr.selected")) r.classList.remove("selected");
  if (row) row.classList.add("selected");
  const [lead, graph] = await Promise.all([api(`/api/leads/${encodeURIComponent(id)}`), api(`/api/graph?lead=${encodeURIComponent(id)}`)]);
  state.lead = lead;
  state.nodes = new Map(graph.nodes.map((n) => [n.id, n]));
  state.edges = graph.edges; state.pos = new Map(); state.selected = []; state.hops = []; state.added = new Map();
  $("graph-title").textContent = `${lead.lead_id}: ${lead.summary}`;
  showLeadCard(lead);
  showReview(lead);
  relayout();
}

function relayout() {
  const nodes = [...state.nodes.values()];
  state.pos = layout(nodes, state.edges, state.pos, 900, 600);
  redraw();
}

function callTime(node) {
  const m = /^(\d{4}-\d{2}-\d{2} \d{2}:\d{2})/.exec(node.label || "");
  return m ? Date.parse(m[1].replace(" ", "T") + ":00+08:00") : null;
}

function visible() {
  const times = [...state.nodes.values()].map(callTime).filter((t) => t !== null);
  if (!times.length) return { nodes: [...state.nodes.values()], label: "" };
  const lo = Math.min(...times), hi = Math.max(...times);
  const from = lo + ((hi - lo) * state.range[0]) / 1000, to = lo + ((hi - lo) * state.range[1]) / 1000;
  const keep = (n) => { const t = callTime(n); return t === null || (t >= from && t <= to); };
  const day = (t) => new Date(t + 8 * 3600e3).toISOString().slice(0, 10);
  return { nodes: [...state.nodes.values()].filter(keep), label: `${day(from)} – ${day(to)}` };
}

function redraw() {
  const { nodes, label } = visible();
  const ids = new Set(nodes.map((n) => n.id));
  const edges = state.edges.filter((e) => ids.has(e.source) && ids.has(e.target));
  $("time-range").textContent = label;
  draw($("graph"), nodes, edges, state.pos, state, select);
  const one = state.selected.length === 1 ? state.nodes.get(state.selected[0]) : null;
  $("expand").disabled = !one;
  $("expand").textContent = one ? `Expand (${one.degree} neighbours)` : "Expand";
  $("collapse").disabled = !(one && state.added.has(one.id));
  $("dismiss").disabled = state.selected.length === 0;
  $("path").disabled = state.selected.length !== 2;
  const calls = state.selected.map((id) => state.nodes.get(id)).filter((n) => n && n.kind === "call");
  $("explain").disabled = calls.length !== 2;
}

function moveTimeline() {
  const a = Number($("time-from").value), b = Number($("time-to").value);
  state.range = [Math.min(a, b), Math.max(a, b)];
  redraw();
}

function select(node, event) {
  if (event.shiftKey || event.ctrlKey || event.metaKey) {
    state.selected = state.selected.includes(node.id) ? state.selected.filter((x) => x !== node.id) : [...state.selected, node.id].slice(-2);
  } else {
    state.selected = [node.id];
  }
  redraw();
  showNodeCard(node);
}

async function expand() {
  const id = state.selected[0];
  const g = await api(`/api/graph?node=${encodeURIComponent(id)}&depth=1`);
  const added = [];
  for (const n of g.nodes) if (!state.nodes.has(n.id)) { state.nodes.set(n.id, n); added.push(n.id); }
  const seen = new Set(state.edges.map((e) => [e.source, e.target, e.evidence].join("\u0000")));
  for (const e of g.edges) if (!seen.has([e.source, e.target, e.evidence].join("\u0000"))) state.edges.push(e);
  state.added.set(id, added);
  relayout();
}

function removeNodes(ids) {
  for (const id of ids) { state.nodes.delete(id); state.pos.delete(id); }
  state.edges = state.edges.filter((e) => state.nodes.has(e.source) && state.nodes.has(e.target));
}

function collapse() {
  const id = state.selected[0];
  removeNodes(state.added.get(id) || []);
  state.added.delete(id);
  redraw();
}

function dismiss() {
  removeNodes(state.selected);
  state.selected = [];
  redraw();
}

async function findPath() {
  const [a, b] = state.selected;
  const box = $("path-result");
  box.replaceChildren(el("h2", "Path"));
  const p = await api(`/api/path?from=${encodeURIComponent(a)}&to=${encodeURIComponent(b)}`);
  if (!p.found) { box.appendChild(el("p", p.gave_up ? p.why : "No chain of evidence joins them.")); return; }
  for (const n of p.nodes) if (!state.nodes.has(n.id)) state.nodes.set(n.id, n);
  for (const h of p.hops) state.edges.push(h);
  state.hops = p.hops;
  const ol = box.appendChild(el("ol"));
  for (const h of p.hops) ol.appendChild(el("li", `${h.source} → ${h.target}: ${h.evidence}${h.detail ? " (" + h.detail + ")" : ""}`));
  relayout();
}

async function explain() {
  const [a, b] = state.selected;
  const e = await api(`/api/explain?a=${encodeURIComponent(a)}&b=${encodeURIComponent(b)}`);
  const card = $("card");
  card.replaceChildren(el("h2", `Match explanation ${a} / ${b}`));
  card.appendChild(el("p", e.same_profile ? "Same phone, name and ID: one profile." : `${e.total_bits.toFixed(2)} bits → probability ${e.probability.toFixed(4)}`));
  const table = card.appendChild(el("table", undefined, { id: "waterfall" }));
  const head = table.appendChild(el("tr"));
  for (const h of ["comparison", "level", "bits", "total"]) head.appendChild(el("th", h));
  for (const s of e.steps) {
    const tr = table.appendChild(el("tr"));
    for (const v of [s.comparison, s.level, s.bits.toFixed(2), s.total.toFixed(2)]) tr.appendChild(el("td", v));
  }
}

function dl(card, pairs) {
  const list = card.appendChild(el("dl"));
  for (const [k, v] of pairs) {
    if (v === null || v === undefined || v === "") continue;
    list.appendChild(el("dt", k));
    list.appendChild(el("dd", typeof v === "object" ? JSON.stringify(v) : v));
  }
  return list;
}

function showLeadCard(lead) {
  const card = $("card");
  card.replaceChildren(el("h2", `Lead ${lead.lead_id} (${lead.kind})`));
  dl(card, [["rank", lead.rank], ["score (bits)", lead.score], ["category", lead.category], ["callers", lead.callers], ["calls", lead.calls], ["status", lead.status]]);
  const ul = card.appendChild(el("ul"));
  for (const s of lead.evidence) ul.appendChild(el("li", s));
}

async function showNodeCard(node) {
  const card = $("card");
  card.replaceChildren(el("h2", `${node.kind} ${node.id}`));
  try {
    if (node.kind === "call") {
      const c = await api(`/api/calls/${encodeURIComponent(node.id)}`);
      dl(card, [["received", c.received_at], ["platform", c.platform], ["category", `${c.category_name || ""} ${c.category}`], ["district", c.district], ["address", c.address], ["counterparty", c.counterparty], ["disposition", c.disposition], ["caller", c.name_masked], ["entity", c.entity_id], ["transferred from", c.source_call_id]]);
      card.appendChild(el("p", c.narrative, { class: "narrative" }));
      if (c.restricted) {
        const r = card.appendChild(el("div", undefined, { class: "restricted" }));
        r.appendChild(el("h2", "Restricted (investigator)"));
        dl(r, [["phone", c.restricted.caller_phone], ["name", c.restricted.caller_name], ["ID number", c.restricted.caller_id_number]]);
      }
      if (c.work_orders.length) {
        card.appendChild(el("h2", "Work orders"));
        for (const w of c.work_orders) dl(card, [["order", w.order_id], ["created", w.created_at], ["department", w.department], ["status", w.status], ["closed", w.closed_at], ["satisfaction", w.satisfaction]]);
      }
    } else if (node.kind === "entity") {
      const e = await api(`/api/entities/${encodeURIComponent(node.id)}`);
      dl(card, [["calls", e.calls], ["phones", e.phones], ["phone keys", e.phone_keys], ["names (masked)", e.names_masked], ["platforms", e.platforms], ["categories", e.categories], ["districts", e.districts], ["first seen", e.first_seen], ["last seen", e.last_seen]]);
      const ol = card.appendChild(el("ol"));
      for (const c of e.call_list) ol.appendChild(el("li", `${c.received_at} ${c.platform} ${c.category} ${c.district || ""} ${c.counterparty || ""}`));
    } else {
      dl(card, [["what", node.label], ["neighbours", node.degree]]);
    }
  } catch (e) { card.appendChild(el("p", e.message, { class: "error" })); }
}

function showReview(lead) {
  $("review-form").hidden = false;
  $("review-status").value = lead.status;
  $("review-owner").value = lead.owner || "";
  $("review-note").value = "";
  $("review-saved").textContent = "";
  const ol = $("review-history");
  ol.replaceChildren();
  for (const r of lead.reviews) ol.appendChild(el("li", `${r.reviewed_at} ${r.reviewed_by}: ${r.status}${r.owner ? " (owner " + r.owner + ")" : ""}${r.note ? " — " + r.note : ""}`));
}

async function saveReview(event) {
  event.preventDefault();
  if (!state.lead) return;
  const id = state.lead.lead_id;
  try {
    await api(`/api/leads/${encodeURIComponent(id)}/review`, { method: "POST", body: JSON.stringify({ status: $("review-status").value, owner: $("review-owner").value, note: $("review-note").value }) });
    $("review-saved").textContent = "Saved.";
    const lead = await api(`/api/leads/${encodeURIComponent(id)}`);
    state.lead = lead; showReview(lead); $("review-saved").textContent = "Saved.";
    loadLeads();
  } catch (e) { $("review-saved").textContent = e.message; }
}

async function search() {
  const box = $("search-results");
  box.replaceChildren(el("h2", "Search"));
  try {
    const body = await api("/api/search?" + new URLSearchParams({ q: $("search").value }));
    if (!body.results.length) box.appendChild(el("p", "Nothing found."));
    const ol = box.appendChild(el("ol"));
    for (const r of body.results) {
      const li = ol.appendChild(el("li", `${r.kind} ${r.id} ${r.label || ""}`, { "data-id": r.id }));
      li.addEventListener("click", async () => {
        const g = await api(`/api/graph?node=${encodeURIComponent(r.id)}&depth=1`);
        state.nodes = new Map(g.nodes.map((n) => [n.id, n]));
        state.edges = g.edges; state.pos = new Map(); state.selected = [r.id]; state.hops = []; state.added = new Map();
        $("graph-title").textContent = `${r.kind} ${r.id} and its neighbours`;
        relayout();
        showNodeCard(g.nodes[0]);
      });
    }
  } catch (e) { box.appendChild(el("p", e.message, { class: "error" })); }
}

function mapQuery() {
  const q = new URLSearchParams();
  if ($("map-category").value.trim()) q.set("category", $("map-category").value.trim());
  if ($("map-from").value) q.set("from", $("map-from").value);
  if ($("map-to").value) q.set("to", $("map-to").value);
  return q;
}

async function loadMap() {
  $("map-status").textContent = "drawing …";
  try {
    const collection = await api("/api/hotspots?" + mapQuery());
    const hot = collection.features.filter((f) => f.properties.hot).length;
    $("map-status").textContent = `${collection.features.length} cells, ${hot} hot`;
    drawMap($("map"), collection, showCell);
  } catch (e) { $("map-status").textContent = e.message; }
}

async function showCell(feature, element) {
  for (const c of document.querySelectorAll("#map .cell.selected")) c.classList.remove("selected");
  element.classList.add("selected");
  const p = feature.properties;
  const card = $("cell-card");
  card.replaceChildren(el("h2", `${p.category} ${p.cell}`));
  dl(card, [["district", p.district], ["calls", p.calls], ["last Gi* z", p.last_z === null ? "" : p.last_z.toFixed(2)], ["trend τ", p.trend_tau.toFixed(2)], ["top address", p.top_address], ["top counterparty", p.top_counterparty]]);
  const q = mapQuery(); q.set("cell", p.cell);
  try {
    const body = await api("/api/hotspots/calls?" + q);
    const ol = card.appendChild(el("ol", undefined, { id: "cell-calls" }));
    for (const c of body.calls) {
      const li = ol.appendChild(el("li", `${c.received_at} ${c.category} ${c.counterparty || ""}`, { "data-call": c.call_id }));
      li.addEventListener("click", () => showNodeCard({ kind: "call", id: c.call_id, label: "", degree: 0 }));
    }
  } catch (e) { card.appendChild(el("p", e.message, { class: "error" })); }
}

start();
