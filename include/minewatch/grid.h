/* The site grid: a north-up raster in the site's UTM zone, origin snapped to whole pixels. */
#ifndef MINEWATCH_GRID_H
#define MINEWATCH_GRID_H

#include <gdal.h>

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/site.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_grid {
    int epsg;
    double x0, y0; /* top-left corner, metres */
    double res;    /* pixel size, metres */
    int width, height;
} mw_grid;

/* Grid covering the site plus buffer_m on every side, its edges on the lattice of pixel size res
 * through (ox, oy). */
MW_API int mw_grid_for_site(const mw_site *site, double res, double buffer_m, double ox, double oy,
                            mw_grid *out);
/* The same in a CRS the user chose (a projected EPSG code in metres). */
MW_API int mw_grid_for_site_in(const mw_site *site, int epsg, double res, double buffer_m,
                               double ox, double oy, mw_grid *out);
MW_API void mw_grid_geotransform(const mw_grid *g, double gt[6]);
MW_API char *mw_grid_wkt(const mw_grid *g); /* caller frees with CPLFree */
/* A GDAL dataset (GDALDatasetH) laid on the grid: size, geotransform and CRS set. driver is a
 * GDAL short name ("MEM", "GTiff"); options are creation options (NULL-terminated, may be NULL).
 * NULL with an error naming path on failure. */
MW_API GDALDatasetH mw_grid_create_dataset(const mw_grid *g, const char *driver, const char *path,
                                           int nbands, int gdal_type, char **options);
/* 1 where the pixel centre lies inside the site polygon, else 0 (width*height bytes). */
MW_API int mw_grid_site_mask(const mw_grid *g, const mw_site *site, uint8_t *mask);
static inline size_t mw_grid_npix(const mw_grid *g)
{
    return (size_t)g->width * (size_t)g->height;
}

#ifdef __cplusplus
}
#endif

#endif
