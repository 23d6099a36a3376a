/* A scene: one acquisition, its band assets and how to turn its numbers into reflectance. */
#ifndef MINEWATCH_SCENE_H
#define MINEWATCH_SCENE_H

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/band.h"
#include "minewatch/date.h"
#include "minewatch/sensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_scene_asset {
    char *href;   /* absolute path or /vsicurl/ URL without its query; NULL when the scene lacks
                     the band. Safe to show and store: it is what messages, keys and provenance use */
    double scale; /* reflectance = DN * scale + offset */
    double offset;
    double nodata;   /* DN value meaning no data */
    char *signature; /* access token query (Planetary Computer SAS): added only when reading, never
                        written to keys, tags, provenance or messages */
    char *query;     /* the href's own query string, if any (a presigned URL's signature lives
                        there): kept apart from href and added only when reading, like signature */
    int band;        /* the band of the file to read, from 1 (0: the first); a stack's band */
} mw_scene_asset;

/* The path GDAL opens: href plus its signature, if any. Caller frees. */
MW_API char *mw_scene_asset_read_path(const mw_scene_asset *a);

typedef struct mw_scene {
    char *id;
    char *item_path;
    char *platform;
    mw_sensor sensor;
    const char *sensor_code; /* from the sensor table, e.g. "S2"; used in chip names */
    mw_day day;
    double seconds;       /* of day, UTC */
    char *datetime;       /* as written in the item */
    double cloud_cover;   /* percent, NaN if unknown */
    double sun_azimuth;   /* degrees clockwise from north, at the scene centre */
    double sun_elevation; /* degrees above the horizon; not above 0: unknown */
    char *baseline;       /* Sentinel-2 processing baseline, "" if unknown or not Sentinel-2 */
    double bbox[4];       /* lon/lat: west, south, east, north */
    char *offset_source;  /* where scale/offset came from, for provenance */
    mw_scene_asset bands[MW_BAND_COUNT];
    mw_qa_source qa_source;
    mw_scene_asset qa;     /* SCL, QA_PIXEL or a manifest's mask */
    uint8_t *qa_lut;       /* MW_QA_FROM_CLASSES: QA flags of each mask value 0-255 */
    mw_scene_asset radsat; /* Landsat QA_RADSAT, optional */
} mw_scene;

typedef struct mw_scene_catalog {
    mw_scene *scenes;
    size_t n;
} mw_scene_catalog;

/* Parse one STAC item file. Returns 0, 1 when the item holds no reflectance bands minewatch uses
 * (a thermal or angle product: not an error), or -1 with an error naming the file. Asset hrefs
 * may be http(s) URLs (read through /vsicurl/) or local paths (relative to the item); any other
 * scheme and GDAL's own /vsi prefixes are refused. */
MW_API int mw_stac_item_read(const char *path, mw_scene *out);
/* The same from an already parsed JSON document (json_t *); path is for messages and hrefs. */
MW_API int mw_stac_item_from_json(json_t *json_root, const char *path, mw_scene *out);
/* An item from a remote catalogue (a STAC API page): its asset hrefs must be absolute http(s)
 * URLs; local paths only when allow_local (the user's explicit choice). */
MW_API int mw_stac_item_from_remote_json(json_t *json_root, const char *where, int allow_local,
                                         mw_scene *out);
/* A Landsat Collection 2 Level-2 product folder described by its MTL (*_MTL.json, .xml or .txt;
 * no STAC item needed):
 * band files, date, cloud cover and the scale/offset the MTL itself gives. Same returns. */
MW_API int mw_landsat_mtl_read(const char *mtl_json_path, mw_scene *out);
/* The same from the parsed MTL (json_t *); path names it and anchors its band files. */
MW_API int mw_landsat_mtl_from_json(json_t *json_root, const char *path, mw_scene *out);
/* The same from the text (ODL) form of the MTL in memory; errors name path:line. */
MW_API int mw_landsat_mtl_from_text(const char *text, size_t len, const char *path, mw_scene *out);
/* A Sentinel-2 L2A SAFE folder described by its MTD_MSIL2A.xml: the product's own quantification
 * and BOA_ADD_OFFSET per band, band files (JP2 or GeoTIFF), footprint. Returns 0 or -1. */
MW_API int mw_safe_read(const char *mtd_msil2a_path, mw_scene *out);
/* Plain band files described by a manifest, <name>.scene.yaml (format in the README): date,
 * sensor, which file is which band, scale, offset and no data, an optional mask with the QA
 * class of each of its values, sun angles. Every band must open and share one grid. Errors name
 * manifest:line:col. Returns 0 or -1. */
MW_API int mw_scene_manifest_read(const char *path, mw_scene *out);
/* The same from the manifest's text in memory; path names it and anchors its file names. */
MW_API int mw_scene_manifest_parse(const char *path, const char *text, size_t len, mw_scene *out);
MW_API void mw_scene_free(mw_scene *s);
/* Drops scenes whose id was seen before in catalogue order, keeping the first; each dropped one
 * goes to on_dup (its id, the path kept, the path dropped). A scene found twice (two folders, a
 * link) is composited once. */
typedef void (*mw_scene_dup_fn)(const char *id, const char *kept, const char *dropped, void *user);
MW_API void mw_scene_catalog_dedupe(mw_scene_catalog *cat, mw_scene_dup_fn on_dup, void *user);

/* Called for each item that could not be read; the scan goes on. */
typedef void (*mw_scan_failure_fn)(const char *path, const char *message, void *user);
/* Find and parse every STAC item (*.json whose "type" is "Feature") under dir, sorted by
 * datetime then id so that runs are repeatable. Fails only when dir itself cannot be read. */
MW_API int mw_scene_catalog_scan(const char *dir, mw_scene_catalog *out, mw_scan_failure_fn on_fail,
                                 void *user);
MW_API void mw_scene_catalog_free(mw_scene_catalog *cat);

#ifdef __cplusplus
}
#endif

#endif
