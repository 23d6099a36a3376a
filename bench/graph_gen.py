#!/usr/bin/python3
"""A generated supply graph for bench/graph.sh: N nodes in 8 stages, 10 edges a node from earlier
stages, 1,000 mine sites with indicators. usage: graph_gen.py DIR NODES EDGES"""
import json
import random
import sys

out, n, m = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rng = random.Random(7)
stages = ["mine", "concentrator", "refinery", "precursor", "cathode", "cell", "pack", "oem"]
nodes = []
for i in range(n):
    st = min(len(stages) - 1, i * len(stages) // n)
    nd = {"id": "n%d" % i, "stage": stages[st], "country": rng.choice(["CD", "ID", "AU", "IN", "GB", "FI", "CN"]),
          "outputs": {"p%d" % st: 1e7}, "direct_tco2e": round(rng.random() * 100, 3)}
    if st == 0:
        nd["sites"] = ["s%d" % rng.randrange(1000)]
    nodes.append(nd)
edges = []
for k in range(m):
    j = rng.randrange(n // len(stages), n)  # a node after the first stage
    st = min(len(stages) - 1, j * len(stages) // n)
    lo = (st - 1) * n // len(stages)
    hi = max(lo + 1, st * n // len(stages))
    i = rng.randrange(lo, hi)  # a supplier of the stage before
    si = min(len(stages) - 1, i * len(stages) // n)
    edges.append({"from": "n%d" % i, "to": "n%d" % j, "product": "p%d" % si, "tonnes": 1.0})
with open(out + "/graph.json", "w") as f:
    json.dump({"name": "generated", "year": 2024, "nodes": nodes, "edges": edges}, f)
with open(out + "/indicators.csv", "w") as f:
    f.write("site_id,period,forest_loss_ha,disturbed_ha,hot_pixel_days,gfw_emissions_mg_co2e\n")
    for s in range(1000):
        f.write("s%d,2024,%.2f,%.2f,0,%.1f\n" % (s, rng.random() * 50, rng.random() * 80, rng.random() * 9000))
