// The explorer's graph drawing: a deterministic force layout (positions seeded from node ids, a
// fixed number of steps) drawn as SVG; every label is set as text, never as markup.

const SVG = "http://www.w3.org/2000/svg";

export const COLOURS = {
  call: "#1f77b4",
  entity: "#d62728",
  phone: "#9467bd",
  counterparty: "#2ca02c",
  place: "#8c564b",
};

// FNV-1a of a string, as a number in [0, 1).
function unit(text, salt) {
  let h = 0x811c9dc5 ^ salt;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h / 4294967296;
}

// Positions for nodes (by id) given edges; nodes already placed keep their place as a start, so
// an expansion does not throw the drawing about.
export function layout(nodes, edges, previous, width, height) {
  const pos = new Map();
  for (const n of nodes) {
    const p = previous.get(n.id);
    pos.set(n.id, p ? { x: p.x, y: p.y } : { x: width * (0.1 + 0.8 * unit(n.id, 1)), y: height * (0.1 + 0.8 * unit(n.id, 2)) });
  }
  const ids = nodes.map((n) => n.id);
  const k = Math.sqrt((width * height) / Math.max(nodes.length, 1)) * 0.6;
  const steps = nodes.length > 200 ? 120 : 250;
  let temperature = width / 10;
  for (let step = 0; step < steps; step++) {
    const force = new Map(ids.map((id) => [id, { x: 0, y: 0 }]));
    for (let i = 0; i < ids.length; i++) {
      const a = pos.get(ids[i]);
      for (let j = i + 1; j < ids.length; j++) {
        const b = pos.get(ids[j]);
        let dx = a.x - b.x, dy = a.y - b.y;
        let d2 = dx * dx + dy * dy;
        if (d2 < 0.01) { dx = 0.1; dy = 0.1; d2 = 0.02; }
        const f = (k * k) / d2;
        force.get(ids[i]).x += dx * f; force.get(ids[i]).y += dy * f;
        force.get(ids[j]).x -= dx * f; force.get(ids[j]).y -= dy * f;
      }
    }
    for (const e of edges) {
      const a = pos.get(e.source), b = pos.get(e.target);
      if (!a || !b) continue;
      const dx = a.x - b.x, dy = a.y - b.y;
      const d = Math.sqrt(dx * dx + dy * dy) || 0.1;
      const f = d / k;
      force.get(e.source).x -= dx * f; force.get(e.source).y -= dy * f;
      force.get(e.target).x += dx * f; force.get(e.target).y += dy * f;
    }
    for (const id of ids) {
      const p = pos.get(id), f = force.get(id);
      const len = Math.sqrt(f.x * f.x + f.y * f.y) || 1;
      const move = Math.min(len, temperature);
      p.x = Math.min(width - 15, Math.max(15, p.x + (f.x / len) * move));
      p.y = Math.min(height - 15, Math.max(15, p.y + (f.y / len) * move));
    }
    temperature *= 0.98;
  }
  return pos;
}

// Draws nodes and edges into an SVG element; `onClick(node, event)` on a click.
export function draw(svg, nodes, edges, pos, state, onClick) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const hops = new Set((state.hops || []).map((h) => [h.source, h.target].sort().join("\u0000")));
  for (const e of edges) {
    const a = pos.get(e.source), b = pos.get(e.target);
    if (!a || !b) continue;
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", a.x); line.setAttribute("y1", a.y);
    line.setAttribute("x2", b.x); line.setAttribute("y2", b.y);
    line.setAttribute("class", hops.has([e.source, e.target].sort().join("\u0000")) ? "edge hop" : "edge");
    line.setAttribute("stroke-width", String(0.5 + 2 * (e.weight || 0)));
    const title = document.createElementNS(SVG, "title");
    title.textContent = e.evidence + (e.detail ? ": " + e.detail : "");
    line.appendChild(title);
    svg.appendChild(line);
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    if (!p) continue;
    const g = document.createElementNS(SVG, "g");
    g.setAttribute("class", state.selected.includes(n.id) ? "node selected" : "node");
    g.setAttribute("data-id", n.id);
    g.setAttribute("data-kind", n.kind);
    g.setAttribute("transform", `translate(${p.x},${p.y})`);
    const c = document.createElementNS(SVG, "circle");
    c.setAttribute("r", n.kind === "entity" ? 9 : 6);
    c.setAttribute("fill", COLOURS[n.kind] || "#777");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${n.kind} ${n.id}: ${n.label} (${n.degree} neighbours)`;
    c.appendChild(title);
    g.appendChild(c);
    if (nodes.length <= 120 || n.kind === "entity") {
      const t = document.createElementNS(SVG, "text");
      t.setAttribute("x", 10); t.setAttribute("y", 3);
      t.textContent = n.kind === "call" ? n.id : n.label.slice(0, 24);
      g.appendChild(t);
    }
    g.addEventListener("click", (event) => onClick(n, event));
    svg.appendChild(g);
  }
}
