#!/usr/bin/python3
"""The plain GDAL + numpy script `bench/pipeline.py` races minewatch against: for every site and
period, each scene's red, NIR and SCL are warped onto the site's grid (its UTM zone, 10 m,
bilinear reflectance, nearest SCL), cloud, shadow, cirrus, saturated and no-data pixels are
masked, the period's NDVI is the nanmedian of the scenes' NDVI, and forest loss is forest at
baseline (NDVI >= FOREST) that is observed, no longer forest and dropped by >= DROP. No
co-registration, land cover, maps, patches or polygons. Keep the thresholds those of
bench/pipeline.py's pipeline file.

usage: pipeline_peer.py SITES.geojson SCENE_FOLDER PERIODS_JSON  -> CSV on stdout
"""
import glob
import json
import os
import sys

import numpy as np
from osgeo import gdal, ogr, osr

gdal.UseExceptions()
FOREST, DROP, RES = 0.70, 0.30, 10.0
MASKED_SCL = [0, 1, 3, 8, 9, 10]  # no data, saturated, shadow, cloud medium/high, cirrus


def site_grid(feature):
    lon, lat = feature["geometry"]["coordinates"]
    epsg = (32600 if lat >= 0 else 32700) + int((lon + 180) // 6) + 1
    wgs, utm = osr.SpatialReference(), osr.SpatialReference()
    wgs.ImportFromEPSG(4326), utm.ImportFromEPSG(epsg)
    wgs.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    x, y, _ = osr.CoordinateTransformation(wgs, utm).TransformPoint(lon, lat)
    r = feature["properties"]["radius_m"]
    xmin, xmax = np.floor((x - r) / RES) * RES, np.ceil((x + r) / RES) * RES
    ymin, ymax = np.floor((y - r) / RES) * RES, np.ceil((y + r) / RES) * RES
    w, h = int(round((xmax - xmin) / RES)), int(round((ymax - ymin) / RES))
    xs = xmin + (np.arange(w) + 0.5) * RES
    ys = ymax - (np.arange(h) + 0.5) * RES
    inside = (xs[None, :] - x) ** 2 + (ys[:, None] - y) ** 2 <= r * r
    return epsg, (xmin, ymin, xmax, ymax), inside


def warp(path, epsg, bounds, alg, dtype):
    ds = gdal.Warp("", path, format="MEM", dstSRS="EPSG:%d" % epsg, outputBounds=bounds,
                   xRes=RES, yRes=RES, resampleAlg=alg, outputType=dtype)
    return ds.GetRasterBand(1).ReadAsArray()


def period_ndvi(items, epsg, bounds):
    stack = []
    for item, folder in items:
        a = item["assets"]
        red, nir = (warp(os.path.join(folder, a[k]["href"]), epsg, bounds, "bilinear",
                         gdal.GDT_Float32) for k in ("red", "nir"))
        scl = warp(os.path.join(folder, a["scl"]["href"]), epsg, bounds, "near", gdal.GDT_Byte)
        rb, nb = a["red"]["raster:bands"][0], a["nir"]["raster:bands"][0]
        red = red * rb.get("scale", 1) + rb.get("offset", 0)
        nir = nir * nb.get("scale", 1) + nb.get("offset", 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ndvi = (nir - red) / (nir + red)
        ndvi[np.isin(scl, MASKED_SCL)] = np.nan
        stack.append(ndvi)
    with np.errstate(all="ignore"):
        return np.nanmedian(np.stack(stack), axis=0)


def main():
    sites = json.load(open(sys.argv[1]))["features"]
    periods = json.loads(sys.argv[3])  # [[name, "YYYY-MM-DD", "YYYY-MM-DD"], ...]
    items = []
    for f in sorted(glob.glob(os.path.join(sys.argv[2], "*", "*.json"))):
        items.append((json.load(open(f)), os.path.dirname(f)))
    print("site_id,period,forest_loss_ha")
    for s in sites:
        epsg, bounds, inside = site_grid(s)
        centre = ogr.CreateGeometryFromJson(json.dumps(s["geometry"]))
        base = None
        for name, start, end in periods:
            mine = [(i, d) for i, d in items
                    if start <= i["properties"]["datetime"][:10] <= end
                    and ogr.CreateGeometryFromJson(json.dumps(i["geometry"])).Intersects(centre)]
            ndvi = period_ndvi(mine, epsg, bounds)
            if base is None:
                base = ndvi
                loss = 0
            else:
                with np.errstate(invalid="ignore"):
                    lost = inside & (base >= FOREST) & (ndvi < FOREST) & (base - ndvi >= DROP)
                loss = int(np.count_nonzero(lost))
            print("%s,%s,%.2f" % (s["properties"]["id"], name, loss * RES * RES / 1e4))


if __name__ == "__main__":
    main()
