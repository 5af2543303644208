// The hotspot map: cells of a category and period as SVG polygons, coloured by emerging hot spot
// category (ArcGIS's palette order), district labels at the centre of their cells; no tiles, only
// the warehouse's own coordinates. Labels are set as text.

const SVG = "http://www.w3.org/2000/svg";

export const CATEGORY_COLOURS = {
  "New Hot Spot": "#ffbfbf",
  "Consecutive Hot Spot": "#ff8a8a",
  "Intensifying Hot Spot": "#d7191c",
  "Persistent Hot Spot": "#b2182b",
  "Diminishing Hot Spot": "#f4a582",
  "Sporadic Hot Spot": "#fdae61",
  "Oscillating Hot Spot": "#e66101",
  "Historical Hot Spot": "#c51b7d",
  "New Cold Spot": "#c6dbef",
  "Consecutive Cold Spot": "#9ecae1",
  "Intensifying Cold Spot": "#2171b5",
  "Persistent Cold Spot": "#08519c",
  "Diminishing Cold Spot": "#6baed6",
  "Sporadic Cold Spot": "#74a9cf",
  "Oscillating Cold Spot": "#4292c6",
  "Historical Cold Spot": "#807dba",
  "No Pattern Detected": "#e0e0e0",
};

// Draws a FeatureCollection; `onCell(feature, element)` on a click.
export function drawMap(svg, collection, onCell) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const [width, height] = [900, 560];
  let [x0, y0, x1, y1] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const f of collection.features) {
    for (const [x, y] of f.geometry.coordinates[0]) {
      x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
    }
  }
  if (!isFinite(x0)) return;
  // Equirectangular at the area's latitude: a degree of longitude is cos(lat) of one of latitude.
  const squeeze = Math.cos((((y0 + y1) / 2) * Math.PI) / 180);
  const scale = Math.min((width - 20) / Math.max((x1 - x0) * squeeze, 1e-9), (height - 20) / Math.max(y1 - y0, 1e-9));
  const px = (x) => 10 + (x - x0) * squeeze * scale;
  const py = (y) => height - 10 - (y - y0) * scale;
  // Quiet cells first, hot ones on top.
  const order = [...collection.features].sort((a, b) => Number(a.properties.hot) - Number(b.properties.hot));
  for (const f of order) {
    const path = document.createElementNS(SVG, "path");
    const d = f.geometry.coordinates[0].map(([x, y], i) => `${i ? "L" : "M"}${px(x).toFixed(1)},${py(y).toFixed(1)}`).join("") + "Z";
    path.setAttribute("d", d);
    path.setAttribute("class", "cell");
    path.setAttribute("data-cell", f.properties.cell);
    path.setAttribute("data-hot", String(f.properties.hot));
    path.setAttribute("fill", CATEGORY_COLOURS[f.properties.category] || "#e0e0e0");
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${f.properties.category}: ${f.properties.calls} calls, ${f.properties.district}`;
    path.appendChild(title);
    path.addEventListener("click", () => onCell(f, path));
    svg.appendChild(path);
  }
  for (const d of collection.districts || []) {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", px(d.lon)); t.setAttribute("y", py(d.lat));
    t.setAttribute("class", "district");
    t.setAttribute("text-anchor", "middle");
    t.textContent = d.district;
    svg.appendChild(t);
  }
}
