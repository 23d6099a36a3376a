"""numpy's nanmedian over the same 24-date stack bench_composite times (a peer, not a test).

usage: /usr/bin/python3 nanmedian.py STACK.f32 DATES HEIGHT WIDTH OUT.f32 RUNS
Prints the median wall time of RUNS calls (loading the stack is not timed)."""
import sys
import time

import numpy as np

path, n, h, w, out, runs = sys.argv[1], *map(int, sys.argv[2:5]), sys.argv[5], int(sys.argv[6])
stack = np.fromfile(path, dtype=np.float32).reshape(n, h, w)
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    med = np.nanmedian(stack, axis=0)
    times.append(time.perf_counter() - t0)
med.astype(np.float32).tofile(out)
print(f"{sorted(times)[len(times) // 2]:.4f}")
