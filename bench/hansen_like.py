#!/usr/bin/python3
"""A synthetic Hansen-like tile for bench/treecover.sh: treecover2000 (%), lossyear (0-23) and
gross emissions (Mg CO2e per pixel, NaN where no loss) of SIZE x SIZE pixels of 0.00025 degree,
as tiled DEFLATE GeoTIFFs (Hansen's own layout), and N random mine-sized polygons over it.

usage: hansen_like.py DIR SIZE N_POLYGONS"""
import json
import math
import sys

import numpy as np
from osgeo import gdal, osr

gdal.UseExceptions()
out, size, npoly = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
res, left, top = 0.00025, -75.0, 5.0  # an Amazon-like place
srs = osr.SpatialReference()
srs.ImportFromEPSG(4326)
co = ["TILED=YES", "BLOCKXSIZE=512", "BLOCKYSIZE=512", "COMPRESS=DEFLATE", "NUM_THREADS=2"]
ds = {}
for name, dt in (("treecover2000", gdal.GDT_Byte), ("lossyear", gdal.GDT_Byte),
                 ("emissions", gdal.GDT_Float32)):
    d = gdal.GetDriverByName("GTiff").Create("%s/%s.tif" % (out, name), size, size, 1, dt, co)
    d.SetGeoTransform((left, res, 0, top, 0, -res))
    d.SetProjection(srs.ExportToWkt())
    if name == "emissions":
        d.GetRasterBand(1).SetNoDataValue(float("nan"))
    ds[name] = d
rng = np.random.default_rng(42)
step = 1024
for y in range(0, size, step):
    h = min(step, size - y)
    # forest in blobs (coarse noise upsampled), cover 0-100, loss on 8 % of pixels
    coarse = rng.random((h // 16 + 2, size // 16 + 2))
    blob = np.kron(coarse, np.ones((16, 16)))[:h, :size]
    cover = np.where(blob < 0.7, 30 + rng.integers(0, 71, (h, size)), rng.integers(0, 30, (h, size)))
    loss = np.where(rng.random((h, size)) < 0.08, rng.integers(1, 24, (h, size)), 0)
    emis = np.where(loss > 0, 10 + 30 * rng.random((h, size)), np.nan).astype(np.float32)
    ds["treecover2000"].GetRasterBand(1).WriteArray(cover.astype(np.uint8), 0, y)
    ds["lossyear"].GetRasterBand(1).WriteArray(loss.astype(np.uint8), 0, y)
    ds["emissions"].GetRasterBand(1).WriteArray(emis, 0, y)
for d in ds.values():
    d.FlushCache()
ds = None
feats = []
span = size * res
for i in range(npoly):
    m = 0.021  # every polygon inside the tile
    cx, cy = left + m + (span - 2 * m) * rng.random(), top - m - (span - 2 * m) * rng.random()
    r = 0.002 + 0.018 * rng.random() ** 2  # 200 m to 2 km: mine pits to mine leases
    k = 12
    ring = []
    for j in range(k):
        t = 2 * math.pi * j / k
        rr = r * (0.6 + 0.4 * rng.random())
        ring.append([cx + rr * math.cos(t), cy + rr * math.sin(t)])
    ring.append(ring[0])
    feats.append({"type": "Feature", "properties": {"id": "s%05d" % i},
                  "geometry": {"type": "Polygon", "coordinates": [ring]}})
with open("%s/polygons.geojson" % out, "w") as f:
    json.dump({"type": "FeatureCollection", "features": feats}, f)
