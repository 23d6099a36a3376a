#!/usr/bin/python3
"""The whole pipeline against a plain GDAL + numpy script (bench/pipeline_peer.py): two simulated
10 x 10 km sites (discs of 5 km radius, about 1000 x 1000 px at 10 m), 3 periods x 8 scenes,
read as a local STAC folder. minewatch runs with a fresh datacube and again with every chip
reused; the script warps, masks, takes nanmedians and computes NDVI forest loss. Prints the times,
their ratios (goals: >= 5x fresh, >= 10x reused) and both tools' forest loss per site and period.

usage: bench/pipeline.py BUILD_DIR OUT_DIR
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import time

BUILD, OUT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
MW = os.path.join(BUILD, "minewatch")
HERE = os.path.dirname(os.path.abspath(__file__))
SITES = [("big1", 25.42, -10.73), ("big2", 122.16, -2.81)]
PERIODS = [("baseline", "2021-06-01", "2021-09-30"), ("2023", "2023-06-01", "2023-09-30"),
           ("2024", "2024-06-01", "2024-09-30")]
# the peer's thresholds (bench/pipeline_peer.py) are these
COMMON = """periods:
  baseline: {start: 2021-06-01, end: 2021-09-30}
  monitoring:
    - {name: "2023", start: 2023-06-01, end: 2023-09-30}
    - {name: "2024", start: 2024-06-01, end: 2024-09-30}
grid: {pixel_size_m: 10, buffer_m: 0}
thresholds: {forest_ndvi_min: 0.70, loss_ndvi_drop_min: 0.30}
"""


def timed(cmd, **kw):
    subprocess.run(["sync"])
    t0 = time.monotonic()
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit("%s failed:\n%s" % (cmd[0], r.stderr[-3000:]))
    subprocess.run(["sync"])
    return time.monotonic() - t0, r.stdout


def main():
    os.makedirs(OUT, exist_ok=True)
    cat = os.path.join(OUT, "sites.geojson")
    with open(cat, "w") as f:
        json.dump({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {"id": i, "name": i, "kind": "mine",
                                               "radius_m": 5000},
             "geometry": {"type": "Point", "coordinates": [lon, lat]}}
            for i, lon, lat in SITES]}, f)
    scenes = os.path.join(OUT, "scenes")
    if not os.path.isdir(scenes):
        sim = os.path.join(OUT, "sim.yaml")
        with open(sim, "w") as f:
            f.write("name: pbench\nsites: {catalogue: %s}\n" % cat)
            f.write("source: {type: simulator, seed: 7, scenes_per_period: 8, cloud_cover: 0.2}\n")
            f.write(COMMON + "outputs: {formats: [csv]}\n")
        subprocess.run([MW, "simulate", sim, "-o", scenes, "-q"], check=True)
    pl = os.path.join(OUT, "pipeline.yaml")
    with open(pl, "w") as f:
        f.write("name: pbench\nsites: {catalogue: %s}\nsource: {type: local, path: %s}\n"
                % (cat, scenes))
        f.write(COMMON + "outputs: {formats: [gpkg, csv, maps]}\n")
    out, cube = os.path.join(OUT, "out"), os.path.join(OUT, "cube")
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(cube, ignore_errors=True)
    run = [MW, "run", pl, "-o", out, "--datacube", cube, "-q"]
    fresh, _ = timed(run)
    rows = {(r["site_id"], r["period"]): float(r["forest_loss_ha"] or "nan")
            for r in csv.DictReader(open(os.path.join(out, "indicators.csv")))}
    shutil.rmtree(out)
    reused, _ = timed(run)
    peer, text = timed(["/usr/bin/python3", os.path.join(HERE, "pipeline_peer.py"), cat, scenes,
                        json.dumps(PERIODS)])
    theirs = {(r["site_id"], r["period"]): float(r["forest_loss_ha"])
              for r in csv.DictReader(io.StringIO(text))}
    print("2 sites of 10 x 10 km (10 m), 3 periods x 8 scenes, a local STAC folder; each run "
          "until its outputs are on the disk\n")
    print("%-44s %8s %10s" % ("run", "seconds", "script / it"))
    print("%-44s %8.1f %9.2fx (goal >= 5x)" % ("minewatch run, fresh datacube", fresh,
                                               peer / fresh))
    print("%-44s %8.1f %9.2fx (goal >= 10x)" % ("minewatch run, every chip reused", reused,
                                                peer / reused))
    print("%-44s %8.1f" % ("GDAL + numpy script (bench/pipeline_peer.py)", peer))
    print("\nforest loss (ha)       minewatch     script   difference")
    for k in sorted(theirs):
        if k[1] == "baseline":
            continue
        a, b = rows.get(k, float("nan")), theirs[k]
        print("%-6s %-8s %15.2f %10.2f %+10.1f %%" % (k[0], k[1], a, b, 100 * (b - a) / a))


if __name__ == "__main__":
    main()
