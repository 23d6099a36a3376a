/* Longitude/latitude boxes and geometries that may cross the antimeridian. A box with
 * west > east crosses it (the STAC and GeoJSON convention). */
#ifndef MINEWATCH_LONLAT_H
#define MINEWATCH_LONLAT_H

/* The smallest box holding every vertex of an OGRGeometryH in lon/lat. */
void mw_lonlat_bbox(void *geometry, double bbox[4]);
int mw_lonlat_bbox_overlap(const double a[4], const double b[4]);
/* A projected OGRGeometryH (EPSG code) turned into lon/lat, split at the antimeridian where it
 * crosses it. New geometry (caller destroys) or NULL. */
void *mw_lonlat_from_projected(void *geometry, int epsg);
/* Centroid longitude and latitude of a lon/lat geometry, correct across the antimeridian. */
void mw_lonlat_centroid(void *geometry, double *lon, double *lat);

#endif
