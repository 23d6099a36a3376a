#!/usr/bin/python3
"""An independent computation of `minewatch treecover`'s figures, for the test suite: GDAL/OGR
reads the rasters and the polygons, GEOS (through OGR) gives each boundary pixel's covered area,
scipy labels the 4-connected forest patches, and each cell's area on the WGS 84 ellipsoid is
integrated numerically (not the closed form minewatch uses). Prints the same CSV as treecover.csv.

usage: treecover_reference.py AOI TREECOVER LOSSYEAR EMISSIONS Y0 Y1 MIN_COVER MIN_SIZE_HA [ID_FIELD]
"""
import math
import sys

import numpy as np
from osgeo import gdal, ogr, osr
from scipy import ndimage

gdal.UseExceptions()
aoi, tc_path, ly_path, em_path = sys.argv[1:5]
y0, y1 = int(sys.argv[5]), int(sys.argv[6])
min_cover, min_size = float(sys.argv[7]), float(sys.argv[8])
id_field = sys.argv[9] if len(sys.argv) > 9 else "id"

tc_ds = gdal.Open(tc_path)
gt = tc_ds.GetGeoTransform()
tc = tc_ds.GetRasterBand(1).ReadAsArray()
ly_ds = gdal.Open(ly_path)  # kept: a band outliving its dataset crashes the bindings
ly = ly_ds.GetRasterBand(1).ReadAsArray()
em_ds = gdal.Open(em_path) if em_path != "-" else None
em = em_ds.GetRasterBand(1).ReadAsArray().astype(np.float64) if em_ds else None
H, W = tc.shape

A, F = 6378137.0, 1 / 298.257223563
E2 = F * (2 - F)


def cell_area_m2(lat_a, lat_b, dlon):
    """M(phi) N(phi) cos(phi) integrated over the cell by 64-point Gauss-Legendre."""
    x, w = np.polynomial.legendre.leggauss(64)
    a, b = math.radians(min(lat_a, lat_b)), math.radians(max(lat_a, lat_b))
    phi = 0.5 * (b - a) * x + 0.5 * (b + a)
    s2 = np.sin(phi) ** 2
    m = A * (1 - E2) / (1 - E2 * s2) ** 1.5
    n = A / np.sqrt(1 - E2 * s2)
    return float(0.5 * (b - a) * np.sum(w * m * n * np.cos(phi))) * math.radians(abs(dlon))


def square(col, row):
    x0, y0 = gt[0] + col * gt[1], gt[3] + row * gt[5]
    r = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in ((x0, y0), (x0 + gt[1], y0), (x0 + gt[1], y0 + gt[5]), (x0, y0 + gt[5]), (x0, y0)):
        r.AddPoint_2D(x, y)
    p = ogr.Geometry(ogr.wkbPolygon)
    p.AddGeometry(r)
    return p


def coverage(geom):
    """Fraction of every cell inside geom: cells the boundary touches by GEOS intersection, the
    others by their centre (whole in or whole out)."""
    drv = gdal.GetDriverByName("MEM")
    srs = osr.SpatialReference()
    srs.ImportFromWkt(tc_ds.GetProjection())

    def burn(g, all_touched):
        ds = drv.Create("", W, H, 1, gdal.GDT_Byte)
        ds.SetGeoTransform(gt)
        vds = ogr.GetDriverByName("Memory").CreateDataSource("")
        lyr = vds.CreateLayer("g", srs)
        f = ogr.Feature(lyr.GetLayerDefn())
        f.SetGeometry(g)
        lyr.CreateFeature(f)
        gdal.RasterizeLayer(ds, [1], lyr, burn_values=[1],
                            options=["ALL_TOUCHED=TRUE"] if all_touched else [])
        return ds.GetRasterBand(1).ReadAsArray().astype(bool)

    inside = burn(geom, False)
    edge = burn(geom.Boundary(), True)
    cov = inside.astype(np.float64)
    cov[edge] = 0
    cell = abs(gt[1] * gt[5])
    for row, col in zip(*np.nonzero(edge)):
        cov[row, col] = square(col, row).Intersection(geom).GetArea() / cell
    return cov


src = ogr.Open(aoi)
layer = src.GetLayer(0)
defn = layer.GetLayerDefn()
has_id = defn.GetFieldIndex(id_field) >= 0
row_ha = np.array([cell_area_m2(gt[3] + r * gt[5], gt[3] + (r + 1) * gt[5], gt[1]) / 1e4
                   for r in range(H)])
print("site_id,year,treecover_ha,loss_ha,emissions_mg_co2e")
for feat in layer:
    sid = feat.GetFieldAsString(id_field) if has_id and feat.IsFieldSetAndNotNull(id_field) else str(feat.GetFID())
    cov = coverage(feat.GetGeometryRef())
    area = cov * row_ha[:, None]
    forest = (tc > min_cover) & (tc <= 100) & (cov > 0)
    labels, n = ndimage.label(forest, structure=[[0, 1, 0], [1, 1, 1], [0, 1, 0]])
    patch_ha = np.bincount(labels.ravel(), weights=area.ravel(), minlength=n + 1)
    keep = patch_ha > min_size
    keep[0] = False
    kept = keep[labels]
    base = area[kept].sum()
    lost_before = sum(area[kept & (ly == y - 2000)].sum() for y in range(2001, y0))
    cover = base - lost_before
    for y in range(y0, y1 + 1):
        lost = (kept & (ly == y - 2000)) if y > 2000 else np.zeros_like(kept)
        loss = area[lost].sum()
        cover -= loss
        e = None if em is None else em[lost]
        emis = "" if e is None or np.isnan(e).any() else "%.3f" % (e * cov[lost]).sum()
        print("%s,%d,%.4f,%.4f,%s" % (sid, y, cover, loss, emis))
