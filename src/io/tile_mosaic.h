/* A raster layer that is one file or a set of 10-degree tiles named by a template, read one
 * window at a time: only the blocks under the window are fetched (remote tiles by HTTP range
 * through io/http_reader.h), and a window across tile edges reads every tile it touches.
 *
 * A template holds {lat} and {lon}, replaced by the name of the tile's north-west corner as
 * Hansen's Global Forest Change and GFW's layers name them: {lat} 20N, 00N, 10S; {lon} 080W,
 * 000E, 170E. Tiles are 10 x 10 degrees in EPSG:4326 (Hansen's: 40000 x 40000 pixels of
 * 0.00025 degree); the pixel size is taken from the first tile opened, and a later tile that is
 * not on the same grid is refused. */
#ifndef MW_TILE_MOSAIC_H
#define MW_TILE_MOSAIC_H

#include <gdal.h>

typedef struct mw_tile_layer mw_tile_layer;

/* spec: a raster path, an http(s) URL, or a template as above. what names the layer in
 * messages ("treecover2000"). A template's grid comes from the tile holding the point
 * (lon, lat) in EPSG:4326. NULL with an error when the file (or that tile) cannot be opened. */
mw_tile_layer *mw_tile_layer_open(const char *spec, const char *what, double lon, double lat);
void mw_tile_layer_close(mw_tile_layer *l);
/* The layer's grid: geotransform (north up) and CRS as WKT (owned by the layer). */
void mw_tile_layer_grid(const mw_tile_layer *l, double gt[6], const char **wkt);
/* The spec with any URL query hidden, for messages and provenance (owned by the layer). */
const char *mw_tile_layer_name(const mw_tile_layer *l);
int mw_tile_layer_is_template(const mw_tile_layer *l);
/* Reads the window of w x h pixels at (x0, y0) of the layer's grid as type dt into buf; pixels
 * no file covers get fill. A tile that cannot be read fails the read, naming it. Not
 * thread-safe: one thread reads a layer. Returns 0 or -1. */
int mw_tile_layer_read(mw_tile_layer *l, long long x0, long long y0, int w, int h, GDALDataType dt,
                       double fill, void *buf);

#endif
