"""Reference fixtures for hotline's hotspot statistics, computed with PySAL esda (Gi*) and
pymannkendall (Mann-Kendall), on a small deterministic space-time cube.

The cube: 12 x 10 grid cells, of which those with a call in any bin form the locations (as in
hotline's cube), 20 weekly bins, Poisson counts with a planted cluster that grows in the last
bins. Neighbourhood, as `hotline::hotspot::cube_gi_star(cube, 1, 1)`: the cube cells within one
ring (the 3 x 3 block, the cell itself included) in the current bin and the one before.

Re-make with:  python3 -m venv v && v/bin/pip install esda==2.9.0 libpysal==4.14.1 pymannkendall==1.4.3 && v/bin/python scripts/hotspot_fixtures.py
Writes tests/fixtures/hotspots/{cube,gi_star,mann_kendall}.csv.
"""
import csv
import pathlib

import numpy as np
import pymannkendall
from esda.getisord import G_Local
from libpysal.weights import W

out = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hotspots"
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(20231201)
rows, cols, bins = 12, 10, 20
rate = np.full((rows, cols), 0.6)
rate[rng.random((rows, cols)) < 0.25] = 0.0          # some cells never see a call
counts = rng.poisson(rate[:, :, None], size=(rows, cols, bins)).astype(float)
counts[5:7, 4:6, 14:] += rng.poisson(6.0, size=(2, 2, bins - 14))   # an emerging cluster
cells = [(r, c) for r in range(rows) for c in range(cols) if counts[r, c].sum() > 0]
index = {cell: i for i, cell in enumerate(cells)}
n_cells = len(cells)

def obs(i, t):
    return i * bins + t

neighbours = {}
for i, (r, c) in enumerate(cells):
    near = [index[(r + dr, c + dc)] for dr in (-1, 0, 1) for dc in (-1, 0, 1) if (r + dr, c + dc) in index]
    for t in range(bins):
        # esda adds the focal observation itself (star); list the others.
        neighbours[obs(i, t)] = sorted(
            obs(j, u) for j in near for u in range(max(t - 1, 0), t + 1) if obs(j, u) != obs(i, t))
y = np.array([counts[r, c, t] for (r, c) in cells for t in range(bins)])
w = W(neighbours, silence_warnings=True)
g = G_Local(y, w, transform="B", permutations=0, star=True)

with open(out / "cube.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["row", "col", "bin", "count"])
    for (r, c) in cells:
        for t in range(bins):
            writer.writerow([r, c, t, int(counts[r, c, t])])
with open(out / "gi_star.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["row", "col", "bin", "z"])
    for i, (r, c) in enumerate(cells):
        for t in range(bins):
            writer.writerow([r, c, t, repr(float(g.Zs[obs(i, t)]))])
with open(out / "mann_kendall.csv", "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["row", "col", "s", "var_s", "z", "p", "tau"])
    for i, (r, c) in enumerate(cells):
        series = [float(g.Zs[obs(i, t)]) for t in range(bins)]
        mk = pymannkendall.original_test(series)
        writer.writerow([r, c, repr(float(mk.s)), repr(float(mk.var_s)), repr(float(mk.z)), repr(float(mk.p)), repr(float(mk.Tau))])
print(f"{n_cells} cells x {bins} bins written to {out}")
