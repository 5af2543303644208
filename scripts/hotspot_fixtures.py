"""Reference fixtures for hotline's hotspot statistics, computed with PySAL esda (Gi*),
pymannkendall (Mann-Kendall), SciPy (Benjamini-Hochberg) and xarray-spatial (the emerging hot
spot categories, as ArcGIS defines them), on two small deterministic space-time cubes.

The cube: 12 x 10 grid cells, of which those with a call in any bin form the locations (as in
hotline's cube), 20 weekly bins, Poisson counts with a planted cluster that grows in the last
bins. Neighbourhood, as `hotline::hotspot::cube_gi_star(cube, 1, 1)`: the cube cells within one
ring (the 3 x 3 block, the cell itself included) in the current bin and the one before.

The second cube ("patterns"): 18 x 18 cells, 20 monthly bins, Poisson background with planted
blocks that rise, fall, start late, stop early, flicker, and go quiet. Its categories come from
xarray-spatial's classifier, fed esda's z-scores, SciPy's BH-adjusted p-values and pymannkendall's
trend. With 20 bins, 90 % of the bins is exactly 18, so rounding conventions cannot differ.

Re-make with (xarray-spatial 0.10.20 declares Python >= 3.12; its classifier runs on 3.11 too):
  python3 -m venv v && v/bin/pip install esda==2.9.0 libpysal==4.14.1 pymannkendall==1.4.3 scipy==1.17.1
  v/bin/pip install --ignore-requires-python xarray-spatial==0.10.20
  v/bin/python scripts/hotspot_fixtures.py
Writes tests/fixtures/hotspots/{cube,gi_star,mann_kendall,patterns_cube,patterns_categories}.csv.
"""
import csv
import pathlib

import numpy as np
import pymannkendall
from esda.getisord import G_Local
from libpysal.weights import W
from scipy.stats import false_discovery_control, norm
from xrspatial.emerging_hotspots import _classify_single_pixel

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hotspots"
out.mkdir(parents=True, exist_ok=True)


def space_time_gi_star(counts):
    """esda's Gi* over the cells with a call, neighbours: 3 x 3 block, current and previous bin."""
    rows, cols, bins = counts.shape
    cells = [(r, c) for r in range(rows) for c in range(cols) if counts[r, c].sum() > 0]
    index = {cell: i for i, cell in enumerate(cells)}
    neighbours = {}
    for i, (r, c) in enumerate(cells):
        near = [index[(r + dr, c + dc)] for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (r + dr, c + dc) in index]
        for t in range(bins):
            neighbours[i * bins + t] = sorted(
                j * bins + u for j in near for u in range(max(t - 1, 0), t + 1) if (j, u) != (i, t))
    y = np.array([counts[r, c, t] for (r, c) in cells for t in range(bins)])
    g = G_Local(y, W(neighbours, silence_warnings=True), transform="B", permutations=0, star=True)
    return cells, np.asarray(g.Zs).reshape(len(cells), bins)


def write_cube(name, cells, counts):
    """The cube's counts, one row per cell and bin, as the Rust tests read them."""
    with open(out / name, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["row", "col", "bin", "count"])
        for (r, c) in cells:
            for t in range(counts.shape[2]):
                writer.writerow([r, c, t, int(counts[r, c, t])])


rng = np.random.default_rng(20231201)
rows, cols, bins = 12, 10, 20
rate = np.full((rows, cols), 0.6)
rate[rng.random((rows, cols)) < 0.25] = 0.0          # some cells never see a call
counts = rng.poisson(rate[:, :, None], size=(rows, cols, bins)).astype(float)
counts[5:7, 4:6, 14:] += rng.poisson(6.0, size=(2, 2, bins - 14))   # an emerging cluster
cells, z = space_time_gi_star(counts)
write_cube("cube.csv", cells, counts)
with open(out / "gi_star.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["row", "col", "bin", "z"])
    for i, (r, c) in enumerate(cells):
        for t in range(bins):
            writer.writerow([r, c, t, repr(float(z[i, t]))])
with open(out / "mann_kendall.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["row", "col", "s", "var_s", "z", "p", "tau"])
    for i, (r, c) in enumerate(cells):
        mk = pymannkendall.original_test([float(v) for v in z[i]])
        writer.writerow([r, c, repr(float(mk.s)), repr(float(mk.var_s)), repr(float(mk.z)), repr(float(mk.p)), repr(float(mk.Tau))])
print(f"{len(cells)} cells x {bins} bins written to {out}")


NAMES = {0: "No Pattern Detected", 1: "New", 2: "Consecutive", 3: "Intensifying", 4: "Persistent",
         5: "Diminishing", 6: "Sporadic", 7: "Oscillating", 8: "Historical"}

rows, cols, bins = 18, 18, 20
counts = rng.poisson(4.0, size=(rows, cols, bins)).astype(float)
t = np.arange(bins)
def plant(r, c, values, size=2):
    counts[r:r + size, c:c + size, :] += rng.poisson(np.broadcast_to(2.0 * values, (size, size, bins)))
plant(1, 1, np.where(t == bins - 1, 14.0, 0.0))                    # new
plant(1, 6, np.where(t >= bins - 4, 9.0, 0.0))                     # consecutive
plant(1, 11, 5.0 + 0.6 * t)                                        # intensifying
plant(6, 1, np.full(bins, 7.0))                                    # persistent
plant(6, 6, 20.0 - 0.6 * t)                                        # diminishing
plant(6, 11, np.where(np.isin(t, [2, 7, 12, 19]), 14.0, 0.0))      # sporadic
plant(11, 1, np.where(t < bins - 2, 8.0, 0.0))                     # historical
counts[10:16, 9:15, 2:7] = 0.0                                     # quiet for a while ...
plant(12, 11, np.where(np.isin(t, [14, 19]), 14.0, 0.0))         # ... then hot now and then: oscillating
counts[1:6, 15:18, 15:] = 0.0                                      # quiet at the end: new or consecutive cold
counts[15:18, 0:6, :] = rng.poisson(0.1, size=(3, 6, bins))        # a quiet corner: persistent cold
cells, z = space_time_gi_star(counts)
p = 2.0 * norm.sf(np.abs(z))
significant = (false_discovery_control(p.ravel(), method="bh") <= 0.05).reshape(z.shape)
write_cube("patterns_cube.csv", cells, counts)
seen = set()
with open(out / "patterns_categories.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["row", "col", "hot_bins", "cold_bins", "trend_z", "trend_p", "category"])
    for i, (r, c) in enumerate(cells):
        signs = np.where(significant[i], np.sign(z[i]), 0).astype(np.int8)
        mk = pymannkendall.original_test(z[i])
        code = int(_classify_single_pixel(signs * 95, bins, float(mk.z), float(mk.p), 0.05))
        name = NAMES[abs(code)] if code == 0 else f"{NAMES[abs(code)]} {'Hot' if code > 0 else 'Cold'} Spot"
        seen.add(name)
        writer.writerow([r, c, int((signs > 0).sum()), int((signs < 0).sum()), repr(float(mk.z)), repr(float(mk.p)), name])
print(f"patterns: {len(cells)} cells x {bins} bins, categories: {sorted(seen)}")
