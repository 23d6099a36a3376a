/* Benchmark (not a test): read a 20 x 20 km site out of a full 110 x 110 km Sentinel-2-sized
 * scene, from disk and over HTTP (/vsicurl/ against tests/stac_test_server.py on loopback).
 * Prints bytes fetched against the window's own size, and ingest time per scene. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <jansson.h>
#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "core/atomic_file.h"
#include "core/hash_random.h"
#include "minewatch/chip.h"
#include "minewatch/error.h"
#include "minewatch/grid.h"
#include "minewatch/qa.h"
#include "minewatch/scene.h"
#include "minewatch/site.h"
#include "minewatch/warp.h"
#include "http_fixture.h"
#include "bench_util.h"

#define TILE_X0 499980.0
#define TILE_Y0 5200020.0
#define N10 10980
#define N20 5490

/* A tiled DEFLATE GeoTIFF filled block by block with texture, so compression is realistic. */
static void write_band(const char *path, int n, double res, GDALDataType t, int kind)
{
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "BLOCKXSIZE", "1024");
    co = CSLSetNameValue(co, "BLOCKYSIZE", "1024");
    co = CSLSetNameValue(co, "COMPRESS", "DEFLATE");
    co = CSLSetNameValue(co, "PREDICTOR", "2");
    const mw_grid g = {32633, TILE_X0, TILE_Y0, res, n, n};
    GDALDatasetH ds = mw_grid_create_dataset(&g, "GTiff", path, 1, t, co);
    CSLDestroy(co);
    if (!ds) abort();
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    GDALSetRasterNoDataValue(b, 0);
    uint16_t *buf = malloc(1024 * 1024 * 2);
    for (int by = 0; by < n; by += 1024)
        for (int bx = 0; bx < n; bx += 1024) {
            int w = bx + 1024 <= n ? 1024 : n - bx, h = by + 1024 <= n ? 1024 : n - by;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    uint64_t r = mw_hash4(kind, (uint64_t)(bx + x) / 7, (uint64_t)(by + y) / 7, 1);
                    double u = mw_unif(r),
                           v = mw_unif(mw_hash4(kind, (uint64_t)(bx + x), (uint64_t)(by + y), 2));
                    buf[(size_t)y * w + x] =
                        kind == 2 ? (uint16_t)(u < 0.15 ? 9 : 4)
                                  : (uint16_t)((kind ? 3000 : 400) + 1500 * u + 60 * v);
                }
            if (t == GDT_Byte) {
                uint8_t *b8 = (uint8_t *)buf;
                for (int i = 0; i < w * h; i++)
                    b8[i] = (uint8_t)buf[i];
            }
            if (GDALRasterIO(b, GF_Write, bx, by, w, h, buf, w, h, t, 0, 0) != CE_None) abort();
        }
    free(buf);
    GDALClose(ds);
}

static void write_item(const char *dir)
{
    json_t *a = json_object();
    const char *keys[3] = {"red", "nir", "scl"},
               *files[3] = {"./B04.tif", "./B08.tif", "./SCL.tif"};
    for (int i = 0; i < 3; i++) {
        json_t *as = json_pack("{s:s}", "href", files[i]);
        if (i < 2)
            json_object_set_new(
                as, "raster:bands",
                json_pack("[{s:i,s:f,s:f}]", "nodata", 0, "scale", 1e-4, "offset", -0.1));
        json_object_set_new(a, keys[i], as);
    }
    json_t *item = json_pack(
        "{s:s,s:s,s:s,s:[f,f,f,f],s:{s:s,s:s,s:s,s:f},s:o,s:[]}", "type", "Feature", "stac_version",
        "1.0.0", "id", "S2A_BENCH_20230815", "bbox", 14.99, 45.95, 16.45, 46.96, "properties",
        "datetime", "2023-08-15T10:00:00Z", "platform", "sentinel-2a", "s2:processing_baseline",
        "05.09", "eo:cloud_cover", 15.0, "assets", a, "links");
    char *p = CPLStrdup(CPLFormFilename(dir, "item", "json"));
    json_dump_file(item, p, JSON_INDENT(1));
    CPLFree(p);
    json_decref(item);
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "out/bench/ingest";
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);
    mw_make_dirs(dir);
    char *scene = CPLStrdup(CPLFormFilename(dir, "scene", NULL));
    mw_make_dirs(scene);
    char b04[1024], b08[1024], scl[1024], log[1024], cube[1024], gp[1024];
    snprintf(b04, sizeof b04, "%s/B04.tif", scene);
    snprintf(b08, sizeof b08, "%s/B08.tif", scene);
    snprintf(scl, sizeof scl, "%s/SCL.tif", scene);
    snprintf(log, sizeof log, "%s/server.jsonl", dir);
    snprintf(cube, sizeof cube, "%s/tiles", dir);
    snprintf(gp, sizeof gp, "%s/site.gpkg", dir);
    double t0 = now();
    if (file_size(b04) < 0) {
        write_band(b04, N10, 10, GDT_UInt16, 0);
        write_band(b08, N10, 10, GDT_UInt16, 1);
        write_band(scl, N20, 20, GDT_Byte, 2);
    }
    write_item(scene);
    printf("scene: 3 bands of a %d x %d (110 x 110 km) tile, %.1f MB on disk, made in %.1f s\n",
           N10, N10, (file_size(b04) + file_size(b08) + file_size(scl)) / 1e6, now() - t0);
    /* A 20 x 20 km site in the tile's middle. */
    remove(gp);
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), gp, 0, 0, 0, GDT_Unknown, NULL);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    OSRImportFromEPSG(srs, 32633);
    OGRLayerH l = GDALDatasetCreateLayer(ds, "s", srs, wkbPolygon, NULL);
    OGRFieldDefnH fd = OGR_Fld_Create("id", OFTString);
    if (OGR_L_CreateField(l, fd, 1) != OGRERR_NONE) return 1;
    OGR_Fld_Destroy(fd);
    OGRFeatureH f = OGR_F_Create(OGR_L_GetLayerDefn(l));
    OGR_F_SetFieldString(f, 0, "bench-site");
    char wkt[] =
        "POLYGON((545000 5135000,565000 5135000,565000 5155000,545000 5155000,545000 5135000))";
    char *pw = wkt;
    OGRGeometryH g;
    OGR_G_CreateFromWkt(&pw, srs, &g);
    OGR_F_SetGeometryDirectly(f, g);
    if (OGR_L_CreateFeature(l, f) != OGRERR_NONE) return 1;
    OGR_F_Destroy(f);
    OSRDestroySpatialReference(srs);
    GDALClose(ds);
    mw_site_catalog cat;
    if (mw_site_catalog_load(gp, &cat)) return fprintf(stderr, "%s\n", mw_error_message()), 1;
    mw_grid grid;
    mw_grid_for_site(&cat.sites[0], 10, 0, TILE_X0, TILE_Y0, &grid);
    uint8_t *mask = malloc(mw_grid_npix(&grid));
    mw_grid_site_mask(&grid, &cat.sites[0], mask);
    static const mw_band bands[2] = {MW_BAND_RED, MW_BAND_NIR};
    mw_ingest_options o = {bands, 2, 1, MW_QA_DEFAULT_EXCLUDE, 0, 0, 0, 0, MW_MASK_AUTO, 0};
    char itempath[1024];
    snprintf(itempath, sizeof itempath, "%s/item.json", scene);

    /* 1. From disk */
    mw_scene sc;
    if (mw_stac_item_read(itempath, &sc)) return fprintf(stderr, "%s\n", mw_error_message()), 1;
    VSIRmdirRecursive(cube);
    mw_make_dirs(cube);
    mw_chip chip;
    double t1 = now();
    if (mw_chip_ingest(&sc, &grid, cube, &o, mask, &chip))
        return fprintf(stderr, "%s\n", mw_error_message()), 1;
    double local_s = now() - t1;
    mw_chip_free(&chip);
    /* A co-registered chip samples the scene off its lattice: the direct read against GDAL's
     * warper, red (10 m, bilinear) and SCL (20 m, nearest) shifted by (0.37, -0.21) px. The
     * warper runs second, with the blocks already in GDAL's cache. */
    mw_grid shifted = grid;
    shifted.x0 -= 0.37 * grid.res, shifted.y0 -= 0.21 * grid.res;
    const size_t npix = mw_grid_npix(&grid);
    float *va = malloc(npix * sizeof *va), *vb = malloc(npix * sizeof *vb);
    double direct_s[2], warper_s[2];
    int equal[2];
    for (int k = 0; k < 2; k++) {
        const mw_scene_asset *a = k ? &sc.qa : &sc.bands[MW_BAND_RED];
        mw_warp_spec ws = {k ? MW_RESAMPLE_NEAREST : MW_RESAMPLE_BILINEAR,
                           k ? GDT_Byte : GDT_Float32,
                           !k,
                           0,
                           0,
                           0,
                           0};
        const size_t bytes = npix * (k ? 1 : sizeof(float));
        double t = now();
        if (mw_warp_to_grid(a, &shifted, &ws, va))
            return fprintf(stderr, "%s\n", mw_error_message()), 1;
        direct_s[k] = now() - t;
        ws.gdal_warper_only = 1;
        t = now();
        if (mw_warp_to_grid(a, &shifted, &ws, vb))
            return fprintf(stderr, "%s\n", mw_error_message()), 1;
        warper_s[k] = now() - t;
        equal[k] = memcmp(va, vb, bytes) == 0;
    }
    free(va), free(vb);
    mw_scene_free(&sc);

    /* 2. Over HTTP from the loopback server */
    remove(log);
    http_server srv = http_server_start("tests/stac_test_server.py", scene, log, NULL);
    int port = srv.port;
    if (port <= 0)
        return fprintf(stderr,
                       "cannot start tests/stac_test_server.py (run from the source tree)\n"),
               1;
    json_t *item = json_load_file(itempath, 0, NULL);
    const char *k;
    json_t *a;
    json_object_foreach(json_object_get(item, "assets"), k, a)
    {
        char u[256];
        snprintf(u, sizeof u, "http://127.0.0.1:%d/%s", port,
                 json_string_value(json_object_get(a, "href")) + 2);
        json_object_set_new(a, "href", json_string(u));
    }
    CPLSetConfigOption("GDAL_DISABLE_READDIR_ON_OPEN", "EMPTY_DIR");
    if (mw_stac_item_from_json(item, itempath, &sc))
        return fprintf(stderr, "%s\n", mw_error_message()), 1;
    json_decref(item);
    VSIRmdirRecursive(cube);
    mw_make_dirs(cube);
    double t2 = now();
    int rc = mw_chip_ingest(&sc, &grid, cube, &o, mask, &chip);
    double remote_s = now() - t2;
    http_server_stop(&srv);
    if (rc) return fprintf(stderr, "%s\n", mw_error_message()), 1;
    mw_chip_free(&chip);
    mw_scene_free(&sc);
    long fetched = http_log_read(log, "/B04.tif").bytes_for, tiles = window_tile_bytes(b04, &grid);
    double raw = (double)grid.width * grid.height * 2;
    printf("site window: %d x %d px (20 x 20 km) of %d x %d\n", grid.width, grid.height, N10, N10);
    printf("B04 over HTTP: fetched %.2f MB; window's tiles %.2f MB -> %.2fx (goal <= 1.5x); raw "
           "window %.2f MB -> "
           "%.2fx; whole file %.2f MB -> %.1f%%\n",
           fetched / 1e6, tiles / 1e6, fetched / (double)tiles, raw / 1e6, fetched / raw,
           file_size(b04) / 1e6, 100.0 * fetched / file_size(b04));
    printf("all 3 assets over HTTP: fetched %.2f MB of %.2f MB on disk\n",
           (http_log_read(log, "/B04.tif").bytes_for + http_log_read(log, "/B08.tif").bytes_for +
            http_log_read(log, "/SCL.tif").bytes_for) /
               1e6,
           (file_size(b04) + file_size(b08) + file_size(scl)) / 1e6);
    printf("ingest time per scene (red, nir, SCL -> COG chip): %.2f s from disk, %.2f s over "
           "loopback HTTP\n",
           local_s, remote_s);
    for (int b = 0; b < 2; b++)
        printf("%s onto the grid shifted (0.37, -0.21) px, %s: read directly %.3f s, GDAL's warper "
               "%.3f s (%.1fx), values %s\n",
               b ? "SCL (20 m)" : "B04 (10 m)", b ? "nearest" : "bilinear", direct_s[b],
               warper_s[b], warper_s[b] / direct_s[b], equal[b] ? "bit-identical" : "DIFFER");
    free(mask);
    mw_site_catalog_free(&cat);
    CPLFree(scene);
    return 0;
}
