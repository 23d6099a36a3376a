/* Site catalogue: mine and processing sites read with OGR from any vector format. */
#ifndef MINEWATCH_SITE_H
#define MINEWATCH_SITE_H

#include <stddef.h>

#include <ogr_api.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_site {
    char *id, *name, *kind, *commodities, *country, *operator_name, *supply_node, *source;
    double radius_m; /* > 0 for point sites: the site is the disc of this radius */
    double lon, lat; /* centroid, degrees (WGS 84) */
    char *wkt_wgs84; /* geometry as read (point or polygon), lon/lat order */
} mw_site;

typedef struct mw_site_catalog {
    char *path;
    mw_site *sites;
    size_t n;
} mw_site_catalog;

/* Loads every feature; an invalid feature fails the whole load with a message naming the file
 * and the feature, because a silently dropped site would vanish from an audit. */
MW_API int mw_site_catalog_load(const char *path, mw_site_catalog *out);
MW_API void mw_site_catalog_free(mw_site_catalog *cat);
MW_API const mw_site *mw_site_catalog_find(const mw_site_catalog *cat, const char *id);

/* EPSG code of the WGS 84 / UTM zone holding the site's centroid. */
MW_API int mw_site_utm_epsg(const mw_site *site);
/* The site area as a polygon in the given projected CRS (point sites become discs), for the
 * caller to destroy with OGR_G_DestroyGeometry; NULL with an error. */
MW_API OGRGeometryH mw_site_polygon(const mw_site *site, int epsg);
/* The site area as a polygon in WGS 84 lon/lat, for outputs. */
MW_API OGRGeometryH mw_site_polygon_wgs84(const mw_site *site, int utm_epsg);

#ifdef __cplusplus
}
#endif

#endif
