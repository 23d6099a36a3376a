"""Reference trends for test_trend: scipy's Theil-Sen slope, and the Mann-Kendall S, Z and p
written out with numpy (tests only).

usage: /usr/bin/python3 trend_reference.py SERIES.txt
Each input line: t0 .. tn-1 | v0 .. vn-1 (nan allowed). Each output line: slope S z p."""
import sys

import numpy as np
from scipy.special import erfc
from scipy.stats import theilslopes

for line in open(sys.argv[1]):
    ts, vs = line.split("|")
    t, v = np.array(ts.split(), float), np.array(vs.split(), float)
    keep = np.isfinite(v)
    t, v = t[keep], v[keep]
    slope = theilslopes(v, t)[0]
    n = len(v)
    s = int(sum(np.sign(v[j] - v[i]) for i in range(n) for j in range(i + 1, n)))
    _, counts = np.unique(v, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - sum(g * (g - 1) * (2 * g + 5) for g in counts)) / 18
    z = (s - np.sign(s)) / np.sqrt(var) if var > 0 else 0.0
    print(f"{slope:.17g} {s} {z:.17g} {erfc(abs(z) / np.sqrt(2)):.17g}")
