#!/usr/bin/python3
"""Scaling of `minewatch run` over processes: sites per hour with 1 process and with 2 and 4 MPI
ranks (mpirun: rank 0 hands out the sites, the others compute), on simulated sites of mixed
sizes, and the peak memory (the sum over every minewatch process, sampled from /proc) against the
number of sites, which should stay flat. Every run starts from an empty datacube.

usage: bench/scale.py BUILD_DIR OUT_DIR
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time

BUILD, OUT = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
MW = os.path.join(BUILD, "minewatch")
MPIRUN = ["mpirun", "--allow-run-as-root", "--oversubscribe"]

# Mixed sizes: discs of 300 m to 1.5 km, spread over a 1-degree box near Kolwezi (one UTM zone).
RADII = [1500, 300, 900, 450, 1200, 600, 350, 1000, 750, 400, 1300, 500, 800, 320, 1100, 650]


def catalogue(n, path):
    feats = []
    for i in range(n):
        lon, lat = 25.0 + 0.9 * (i % 4) / 3, -10.2 - 0.9 * (i // 4) / 3
        feats.append({"type": "Feature",
                      "properties": {"id": "s%02d" % i, "name": "site %d" % i, "kind": "mine",
                                     "radius_m": RADII[i % len(RADII)]},
                      "geometry": {"type": "Point", "coordinates": [lon, lat]}})
    with open(path, "w") as f:
        json.dump({"type": "FeatureCollection", "features": feats}, f)


def pipeline(path, cat, source, out_formats="[csv, gpkg, maps]"):
    with open(path, "w") as f:
        f.write("name: scale\nsites: {catalogue: %s}\nsource: %s\n" % (cat, source))
        f.write("periods:\n  baseline: {start: 2021-06-01, end: 2021-09-30}\n"
                "  monitoring:\n    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n"
                "grid: {pixel_size_m: 10, buffer_m: 200}\n")
        f.write("outputs: {formats: %s}\n" % out_formats)


def measure(cmd):
    """Seconds and peak summed RSS (MB) of every minewatch process while cmd runs."""
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            total = 0
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open("/proc/%s/comm" % pid) as f:
                        if f.read().strip() != "minewatch":
                            continue
                    with open("/proc/%s/status" % pid) as f:
                        for line in f:
                            if line.startswith("VmRSS:"):
                                total += int(line.split()[1])
                except OSError:
                    pass
            peak[0] = max(peak[0], total)
            time.sleep(0.05)

    t = threading.Thread(target=sample)
    t.start()
    t0 = time.time()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    dt = time.time() - t0
    done.set()
    t.join()
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(cmd), r.stderr[-2000:]))
    return dt, peak[0] / 1024


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    n = 8
    cat = os.path.join(OUT, "sites.geojson")
    catalogue(n, cat)
    sim = os.path.join(OUT, "sim.yaml")
    pipeline(sim, cat, "{type: simulator, seed: 3, scenes_per_period: 3, cloud_cover: 0.2}")
    scenes = os.path.join(OUT, "scenes")
    subprocess.run([MW, "simulate", sim, "-o", scenes, "-q"], check=True)
    pl = os.path.join(OUT, "scale.yaml")
    pipeline(pl, cat, "{type: local, path: %s}" % scenes)
    print("%d simulated sites of mixed sizes (discs of %d to %d m, 10 m pixels), 2 periods x 3 "
          "scenes; every run from an empty datacube, --mem 1024 (the whole job's budget)"
          % (n, min(RADII[:n]), max(RADII[:n])))
    print("\n%-34s %8s %11s %14s %10s" % ("run", "seconds", "sites/hour", "peak MB (sum)",
                                          "vs 1 proc"))
    base = None
    ref = None
    for label, pre in [("1 process, 2 threads", []),
                       ("mpirun -np 2 (1 computing rank)", MPIRUN + ["-np", "2"]),
                       ("mpirun -np 3 (2 computing ranks)", MPIRUN + ["-np", "3"]),
                       ("mpirun -np 4 (3 computing ranks)", MPIRUN + ["-np", "4"])]:
        o = os.path.join(OUT, "run-" + label.split()[0] + label.split()[2].strip("()"))
        cube = o + "-cube"
        shutil.rmtree(o, ignore_errors=True)
        shutil.rmtree(cube, ignore_errors=True)
        dt, peak = measure(pre + [MW, "run", pl, "-o", o, "--datacube", cube, "-q"])
        with open(os.path.join(o, "indicators.csv"), "rb") as f:
            csv = f.read()
        same = "" if ref is None else ("  same bytes" if csv == ref else "  DIFFERENT")
        ref = ref or csv
        base = base or dt
        print("%-34s %8.1f %11.0f %14.0f %9.2fx%s" % (label, dt, n * 3600 / dt, peak, base / dt,
                                                      same))
    print("\npeak memory against the number of sites (1 process, 2 threads):")
    print("%8s %8s %14s" % ("sites", "seconds", "peak MB"))
    for k in (2, 4, 8, 16):
        c = os.path.join(OUT, "sites-%d.geojson" % k)
        catalogue(k, c)
        s2 = os.path.join(OUT, "sim-%d.yaml" % k)
        pipeline(s2, c, "{type: simulator, seed: 3, scenes_per_period: 3, cloud_cover: 0.2}",
                 "[csv]")
        o = os.path.join(OUT, "mem-%d" % k)
        shutil.rmtree(o, ignore_errors=True)
        dt, peak = measure([MW, "run", s2, "-o", o, "-q"])
        print("%8d %8.1f %14.0f" % (k, dt, peak))


main()
