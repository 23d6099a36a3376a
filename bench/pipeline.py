#!/usr/bin/python3
"""The whole pipeline against a plain GDAL + numpy script (bench/pipeline_peer.py): two simulated
10 x 10 km sites (discs of 5 km radius, about 1000 x 1000 px at 10 m), 3 periods x 8 scenes,
read as a local STAC folder. minewatch runs with a fresh datacube and again with every chip
reused, twice: the default pipeline (6 bands, co-registration, maps, polygons) and one given the
script's work (red and NIR, no co-registration, the loss table alone); the script warps, masks,
takes nanmedians and computes NDVI forest loss. Prints the times, their ratios (goals: >= 5x
fresh, >= 10x reused) and the forest loss per site and period.

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
    def pipeline(name, extra):
        path = os.path.join(OUT, name)
        with open(path, "w") as f:
            f.write("name: pbench\nsites: {catalogue: %s}\nsource: {type: local, path: %s}\n"
                    % (cat, scenes))
            f.write(COMMON + extra)
        return path

    def fresh_and_reused(pl, tag):
        out, cube = os.path.join(OUT, "out-" + tag), os.path.join(OUT, "cube-" + tag)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(cube, ignore_errors=True)
        run = [MW, "run", pl, "-o", out, "--datacube", cube, "-q"]
        fresh, _ = timed(run)
        rows = {(r["site_id"], r["period"]): float(r["forest_loss_ha"] or "nan")
                for r in csv.DictReader(open(os.path.join(out, "indicators.csv")))}
        shutil.rmtree(out)
        reused, _ = timed(run)
        return fresh, reused, rows

    # everything a run does by default: 6 bands, co-registration, maps, polygons
    full = fresh_and_reused(pipeline("pipeline.yaml", "outputs: {formats: [gpkg, csv, maps]}\n"),
                            "full")
    # the script's work: red and NIR, no co-registration, the loss table alone
    same = fresh_and_reused(pipeline("same.yaml", "bands: [red, nir]\n"
                                     "coregistration: {enabled: false}\n"
                                     "outputs: {formats: [csv]}\n"), "same")
    peer, text = timed(["/usr/bin/python3", os.path.join(HERE, "pipeline_peer.py"), cat, scenes,
                        json.dumps(PERIODS)])
    theirs = {(r["site_id"], r["period"]): float(r["forest_loss_ha"])
              for r in csv.DictReader(io.StringIO(text))}
    print("2 sites of 10 x 10 km (10 m), 3 periods x 8 scenes, a local STAC folder; each run "
          "until its outputs are on the disk\n")
    print("%-72s %8s %10s" % ("run", "seconds", "script / it"))
    for what, (fresh, reused, _) in (("default pipeline", full),
                                     ("the script's work (red+NIR, no coreg, CSV)", same)):
        print("%-72s %8.1f %9.2fx (goal >= 5x)" % ("minewatch, %s, fresh datacube" % what, fresh,
                                                   peer / fresh))
        print("%-72s %8.1f %9.2fx (goal >= 10x)" % ("minewatch, %s, chips reused" % what, reused,
                                                    peer / reused))
    print("%-72s %8.1f" % ("GDAL + numpy script (bench/pipeline_peer.py)", peer))
    print("\nforest loss (ha)    default pipeline   script's work     script")
    for k in sorted(theirs):
        if k[1] == "baseline":
            continue
        a, b, c = full[2].get(k, float("nan")), same[2].get(k, float("nan")), theirs[k]
        print("%-6s %-8s %12.2f %+5.1f%% %11.2f %+5.1f%% %10.2f" % (
            k[0], k[1], a, 100 * (c - a) / a, b, 100 * (c - b) / b, c))


if __name__ == "__main__":
    main()
