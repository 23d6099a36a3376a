#!/usr/bin/python3
"""The peer of bench/treecover.sh: a straightforward GDAL + numpy + scipy zonal computation of
the same figures, as a user would write it: per polygon, read the window of the three rasters,
rasterize the polygon onto it (GDAL, pixel centres), forest = cover > MIN_COVER, 4-connected
patches (scipy.ndimage.label) of more than MIN_SIZE ha, per-row cell areas on the WGS 84
ellipsoid, loss and emissions per year with numpy.bincount. (Pixel centres rather than exact
coverage: the straightforward way does not have exact coverage.)

usage: treecover_peer.py AOI TREECOVER LOSSYEAR EMISSIONS Y0 Y1 MIN_COVER MIN_SIZE_HA OUT.csv"""
import math
import sys

import numpy as np
from osgeo import gdal, ogr
from scipy import ndimage

gdal.UseExceptions()
aoi, tcp, lyp, emp = sys.argv[1:5]
y0, y1, min_cover, min_size, out = int(sys.argv[5]), int(sys.argv[6]), float(sys.argv[7]), float(sys.argv[8]), sys.argv[9]
tc_ds, ly_ds, em_ds = gdal.Open(tcp), gdal.Open(lyp), gdal.Open(emp)
gt = tc_ds.GetGeoTransform()
W, H = tc_ds.RasterXSize, tc_ds.RasterYSize
a, f = 6378137.0, 1 / 298.257223563
e = math.sqrt(f * (2 - f))
b = a * (1 - f)


def q(lat):
    s = math.sin(math.radians(lat))
    return s / (2 * (1 - e * e * s * s)) + math.log((1 + e * s) / (1 - e * s)) / (4 * e)


src = ogr.Open(aoi)
lyr = src.GetLayer(0)
mem = gdal.GetDriverByName("MEM")
four = [[0, 1, 0], [1, 1, 1], [0, 1, 0]]
with open(out, "w") as fo:
    fo.write("site_id,year,treecover_ha,loss_ha,emissions_mg_co2e\n")
    for feat in lyr:
        g = feat.GetGeometryRef()
        minx, maxx, miny, maxy = g.GetEnvelope()
        x0 = max(0, int(math.floor((minx - gt[0]) / gt[1])))
        x1 = min(W, int(math.ceil((maxx - gt[0]) / gt[1])))
        yy0 = max(0, int(math.floor((maxy - gt[3]) / gt[5])))
        yy1 = min(H, int(math.ceil((miny - gt[3]) / gt[5])))
        w, h = x1 - x0, yy1 - yy0
        tc = tc_ds.GetRasterBand(1).ReadAsArray(x0, yy0, w, h)
        ly = ly_ds.GetRasterBand(1).ReadAsArray(x0, yy0, w, h)
        em = em_ds.GetRasterBand(1).ReadAsArray(x0, yy0, w, h).astype(np.float64)
        m = mem.Create("", w, h, 1, gdal.GDT_Byte)
        m.SetGeoTransform((gt[0] + x0 * gt[1], gt[1], 0, gt[3] + yy0 * gt[5], 0, gt[5]))
        vds = ogr.GetDriverByName("Memory").CreateDataSource("")
        vl = vds.CreateLayer("p")
        ft = ogr.Feature(vl.GetLayerDefn())
        ft.SetGeometry(g)
        vl.CreateFeature(ft)
        gdal.RasterizeLayer(m, [1], vl, burn_values=[1])
        inside = m.GetRasterBand(1).ReadAsArray().astype(bool)
        lats = gt[3] + (yy0 + np.arange(h + 1)) * gt[5]
        row_ha = np.array([abs(q(lats[i]) - q(lats[i + 1])) for i in range(h)]) * b * b * math.radians(gt[1]) / 1e4
        area = np.broadcast_to(row_ha[:, None], (h, w))
        forest = inside & (tc > min_cover) & (tc <= 100)
        labels, n = ndimage.label(forest, structure=four)
        patch = np.bincount(labels.ravel(), weights=area.ravel(), minlength=n + 1)
        keep = patch > min_size
        keep[0] = False
        kept = keep[labels]
        loss = np.bincount(ly[kept], weights=area[kept], minlength=256)
        emis = np.bincount(ly[kept], weights=np.nan_to_num(em[kept]), minlength=256)
        cover = area[kept].sum() - loss[1:max(1, y0 - 2000)].sum()
        sid = feat.GetField("id")
        for y in range(y0, y1 + 1):
            k = y - 2000
            l = loss[k] if k > 0 else 0.0
            cover -= l
            fo.write("%s,%d,%.4f,%.4f,%.3f\n" % (sid, y, cover, l, emis[k] if k > 0 else 0.0))
