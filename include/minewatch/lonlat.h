/* Longitude/latitude boxes and geometries that may cross the antimeridian. A box with
 * west > east crosses it (the STAC and GeoJSON convention). */
#ifndef MINEWATCH_LONLAT_H
#define MINEWATCH_LONLAT_H

#include <ogr_api.h>
#include <ogr_srs_api.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* WGS 84 (EPSG:4326) with x longitude and y latitude, whatever the EPSG axis order: the CRS of
 * every lon/lat output. New (caller destroys with OSRDestroySpatialReference), or NULL. */
MW_API OGRSpatialReferenceH mw_lonlat_srs(void);
/* The smallest box holding every vertex of a geometry in lon/lat. */
MW_API void mw_lonlat_bbox(OGRGeometryH geometry, double bbox[4]);
MW_API int mw_lonlat_bbox_overlap(const double a[4], const double b[4]);
/* A projected OGRGeometryH (EPSG code) turned into lon/lat, split at the antimeridian where it
 * crosses it. New geometry (caller destroys) or NULL. */
MW_API OGRGeometryH mw_lonlat_from_projected(OGRGeometryH geometry, int epsg);
/* Centroid longitude and latitude of a lon/lat geometry, correct across the antimeridian. */
MW_API void mw_lonlat_centroid(OGRGeometryH geometry, double *lon, double *lat);
/* Area in m^2 of a cell between latitudes lat0 and lat1 and dlon wide (degrees) on the WGS 84
 * ellipsoid: the exact area of a band between two parallels (authalic latitude formula). */
MW_API double mw_ellipsoid_cell_area_m2(double lat0, double lat1, double dlon);

#ifdef __cplusplus
}
#endif

#endif
