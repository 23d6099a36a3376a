/* Protected-area exposure of a site; see pipeline/site_protected_areas.h. */
#include "pipeline/site_protected_areas.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>
#include <gdal_alg.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/text.h"
#include "minewatch/error.h"

int mw_protected_areas_open(const mw_pipeline *p, mw_protected_areas *pa)
{
    memset(pa, 0, sizeof *pa);
    GDALDatasetH ds = GDALOpenEx(p->pa_path, GDAL_OF_VECTOR | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds)
        return mw_error_from_gdal(MW_ERR_INPUT, "cannot open the protected areas '%s'", p->pa_path);
    OGRLayerH l = GDALDatasetGetLayerCount(ds) > 0 ? GDALDatasetGetLayer(ds, 0) : NULL;
    if (!l || !OGR_L_GetSpatialRef(l)) {
        GDALClose(ds);
        return mw_error_set(MW_ERR_INPUT,
                            "the protected areas '%s' have no layer with a coordinate reference "
                            "system",
                            p->pa_path);
    }
    OGRFeatureDefnH d = OGR_L_GetLayerDefn(l);
    pa->name_field = -1;
    if (p->pa_name_field) {
        pa->name_field = OGR_FD_GetFieldIndex(d, p->pa_name_field);
        if (pa->name_field < 0) {
            GDALClose(ds);
            return mw_error_set(MW_ERR_INPUT, "the protected areas '%s' have no field '%s'",
                                p->pa_path, p->pa_name_field);
        }
    } else { /* WDPA's, then common names */
        static const char *const guess[] = {"NAME", "name", "WDPAID", "SITE_NAME", "id", NULL};
        for (int i = 0; guess[i] && pa->name_field < 0; i++)
            pa->name_field = OGR_FD_GetFieldIndex(d, guess[i]);
    }
    pa->ds = ds, pa->layer = l, pa->max_m = p->pa_max_distance_km * 1000.0;
    return 0;
}

void mw_protected_areas_close(mw_protected_areas *pa)
{
    if (pa->ds) GDALClose(pa->ds);
    memset(pa, 0, sizeof *pa);
}

static char *area_name(OGRFeatureH f, int field)
{
    if (field >= 0 && OGR_F_IsFieldSetAndNotNull(f, field))
        return mw_text_dup(OGR_F_GetFieldAsString(f, field));
    char buf[40];
    snprintf(buf, sizeof buf, "feature %lld", (long long)OGR_F_GetFID(f));
    return mw_text_dup(buf);
}

static OGRGeometryH box(double x0, double y0, double x1, double y1)
{
    OGRGeometryH r = OGR_G_CreateGeometry(wkbLinearRing), p = OGR_G_CreateGeometry(wkbPolygon);
    OGR_G_AddPoint_2D(r, x0, y0), OGR_G_AddPoint_2D(r, x1, y0), OGR_G_AddPoint_2D(r, x1, y1);
    OGR_G_AddPoint_2D(r, x0, y1), OGR_G_AddPoint_2D(r, x0, y0);
    OGR_G_AddGeometryDirectly(p, r);
    return p;
}

/* g := g U piece (piece kept by the caller). */
static void add_union(OGRGeometryH *g, OGRGeometryH piece)
{
    if (!piece || OGR_G_IsEmpty(piece)) return;
    if (!*g) {
        *g = OGR_G_Clone(piece);
        return;
    }
    OGRGeometryH u = OGR_G_Union(*g, piece);
    if (u) {
        OGR_G_DestroyGeometry(*g);
        *g = u;
    }
}

int mw_site_pa_figures(mw_protected_areas *pa, void *upoly_v, const mw_grid *g,
                       mw_indicator_row *rows, size_t nrows, mw_run_result *res, json_t *jsite,
                       void **local_out)
{
    OGRGeometryH upoly = upoly_v;
    OGRLayerH l = pa->layer;
    *local_out = NULL;
    OGRSpatialReferenceH grid_srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(grid_srs, g->epsg);
    OSRSetAxisMappingStrategy(grid_srs, OAMS_TRADITIONAL_GIS_ORDER);
    OGRSpatialReferenceH lsrs = OSRClone(OGR_L_GetSpatialRef(l));
    OSRSetAxisMappingStrategy(lsrs, OAMS_TRADITIONAL_GIS_ORDER);
    OGRCoordinateTransformationH to_grid = OCTNewCoordinateTransformation(lsrs, grid_srs),
                                 to_layer = OCTNewCoordinateTransformation(grid_srs, lsrs);
    OGREnvelope se;
    OGR_G_GetEnvelope(upoly, &se);
    const double gx1 = g->x0 + g->width * g->res, gy0 = g->y0 - g->height * g->res;
    OGRGeometryH grid_box = box(g->x0, gy0, gx1, g->y0);
    double best = INFINITY;
    char *best_name = NULL;
    OGRGeometryH overlap = NULL, local = NULL;
    int rc = 0;
    /* Widening searches: every area within r of the site lies in the site's box grown by r. */
    for (double r = 1000; rc == 0; r *= 10) {
        if (r > pa->max_m) r = pa->max_m;
        double r_all =
            r > g->width * g->res + g->height * g->res ? r : g->width * g->res + g->height * g->res;
        OGRGeometryH search =
            box(se.MinX - r_all, se.MinY - r_all, se.MaxX + r_all, se.MaxY + r_all);
        if (!to_layer || OGR_G_Transform(search, to_layer) != OGRERR_NONE) {
            OGR_G_DestroyGeometry(search);
            rc = mw_error_set(MW_ERR_INPUT, "protected areas: the site cannot be placed in the "
                                            "layer's CRS");
            break;
        }
        OGR_L_SetSpatialFilter(l, search);
        OGR_G_DestroyGeometry(search);
        OGR_L_ResetReading(l);
        OGRFeatureH f;
        best = INFINITY;
        free(best_name), best_name = NULL;
        if (overlap) OGR_G_DestroyGeometry(overlap), overlap = NULL;
        if (local) OGR_G_DestroyGeometry(local), local = NULL;
        while ((f = OGR_L_GetNextFeature(l)) != NULL) {
            OGRGeometryH fg = OGR_F_GetGeometryRef(f);
            OGRGeometryH x = fg ? OGR_G_Clone(fg) : NULL;
            if (x && OGR_G_Transform(x, to_grid) == OGRERR_NONE && !OGR_G_IsEmpty(x)) {
                if (!OGR_G_IsValid(x)) { /* WDPA polygons are not always valid */
                    OGRGeometryH v = OGR_G_MakeValid(x);
                    if (v) OGR_G_DestroyGeometry(x), x = v;
                }
                double d = OGR_G_Distance(x, upoly);
                if (d >= 0 && d < best) {
                    best = d;
                    free(best_name);
                    best_name = area_name(f, pa->name_field);
                }
                if (d == 0) {
                    OGRGeometryH in = OGR_G_Intersection(x, upoly);
                    add_union(&overlap, in);
                    if (in) OGR_G_DestroyGeometry(in);
                }
                if (OGR_G_Intersects(x, grid_box)) {
                    OGRGeometryH in = OGR_G_Intersection(x, grid_box);
                    add_union(&local, in);
                    if (in) OGR_G_DestroyGeometry(in);
                }
            }
            if (x) OGR_G_DestroyGeometry(x);
            OGR_F_Destroy(f);
        }
        if (best <= r || r >= pa->max_m) break;
    }
    OGR_L_SetSpatialFilter(l, NULL);
    if (rc == 0) {
        const double ov = overlap ? OGR_G_Area(overlap) / 1e4 : 0;
        const char *kept = best_name ? mw_run_result_keep(res, mw_text_dup(best_name)) : NULL;
        for (size_t k = 0; k < nrows; k++) {
            rows[k].pa_nearest = kept;
            rows[k].pa_distance_m = isfinite(best) ? best : NAN;
            rows[k].pa_overlap_ha = ov;
            rows[k].pa_forest_loss_ha = local ? NAN : 0; /* set from the loss when it is known */
        }
        json_object_set_new(jsite, "protected_areas",
                            json_pack("{s:s?,s:o,s:f}", "nearest", best_name, "distance_m",
                                      isfinite(best) ? json_real(best) : json_null(), "overlap_ha",
                                      ov));
        *local_out = local;
        local = NULL;
    }
    free(best_name);
    if (overlap) OGR_G_DestroyGeometry(overlap);
    if (local) OGR_G_DestroyGeometry(local);
    OGR_G_DestroyGeometry(grid_box);
    if (to_grid) OCTDestroyCoordinateTransformation(to_grid);
    if (to_layer) OCTDestroyCoordinateTransformation(to_layer);
    OSRDestroySpatialReference(grid_srs);
    OSRDestroySpatialReference(lsrs);
    return rc;
}

int mw_site_pa_loss(void *local_v, const mw_grid *g, const mw_site_change *c,
                    mw_indicator_row *rows)
{
    OGRGeometryH local = local_v;
    if (!local) return 0;
    const size_t npix = mw_grid_npix(g);
    uint8_t *in = malloc(npix);
    GDALDatasetH ds = in ? mw_grid_create_dataset(g, "MEM", NULL, 1, GDT_Byte, NULL) : NULL;
    int band = 1;
    double burn = 1.0;
    CPLErr e =
        ds ? GDALRasterizeGeometries(ds, 1, &band, 1, &local, NULL, NULL, &burn, NULL, NULL, NULL)
           : CE_Failure;
    if (e == CE_None)
        e = GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, g->width, g->height, in, g->width,
                         g->height, GDT_Byte, 0, 0);
    if (ds) GDALClose(ds);
    if (e != CE_None) {
        free(in);
        return mw_error_from_gdal(MW_ERR_INTERNAL, "protected areas: rasterising failed");
    }
    const double px_ha = g->res * g->res / 1e4;
    rows[0].pa_forest_loss_ha = 0;
    for (size_t k = 1; k < c->nperiods; k++) {
        if (!c->per[k].ok) continue;
        const size_t byte = (k - 1) / 8;
        const uint8_t bit = (uint8_t)(1u << ((k - 1) % 8));
        long n = 0;
        for (size_t i = 0; i < npix; i++)
            n += in[i] && (c->lost_by[i * c->lost_bytes + byte] & bit);
        rows[k].pa_forest_loss_ha = n * px_ha;
    }
    free(in);
    return 0;
}
