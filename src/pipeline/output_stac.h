/* A STAC catalogue of a run's outputs, so STAC browsers and clients index the results. */
#ifndef MW_OUTPUT_STAC_H
#define MW_OUTPUT_STAC_H

#include <stddef.h>

#include <jansson.h>

#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"

/* Writes stac_dir/collection.json and one item per site and period, stac_dir/<site>_<period>.json
 * (STAC 1.0.0, projection and raster extensions; hrefs relative, the catalogue self-contained):
 * the site's geometry, the period as start/end datetimes, its indicators as properties, the
 * grid (proj:epsg, proj:shape, proj:transform) and as assets the maps of that period and the
 * site's period-independent maps (maps_rel is the maps folder seen from stac_dir), each with its
 * roles, media type and, for rasters, raster:bands read from the file. Only maps that exist are
 * listed. Returns 0 or -1 with an MW_ERR_IO or MW_ERR_NOMEM message. */
int mw_output_stac_write(const char *stac_dir, const char *maps_dir, const char *maps_rel,
                         const json_t *prov, const mw_pipeline *p, const mw_indicator_row *rows,
                         size_t nrows);

#endif
