"""scikit-image's phase_cross_correlation on two raster bands: the reference the co-registration
test compares minewatch with (tests only).

usage: /usr/bin/python3 skimage_coreg.py REF_FILE REF_BAND MOV_FILE MOV_BAND [UPSAMPLE]
Prints "dy dx seconds" (seconds: the call alone, not the reads)."""
import sys
import time

import numpy as np
from osgeo import gdal
from skimage.registration import phase_cross_correlation


def band(path, b):
    ds = gdal.Open(path)  # held: a band outlived by its dataset crashes GDAL's Python bindings
    return ds.GetRasterBand(int(b)).ReadAsArray().astype(np.float64)


ref, mov = band(sys.argv[1], sys.argv[2]), band(sys.argv[3], sys.argv[4])
up = int(sys.argv[5]) if len(sys.argv) > 5 else 100
t0 = time.perf_counter()
shift, _, _ = phase_cross_correlation(ref, mov, upsample_factor=up)
print(f"{shift[0]:.6f} {shift[1]:.6f} {time.perf_counter() - t0:.6f}")
