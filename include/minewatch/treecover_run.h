/* The treecover command and the reference-forest figures of one polygon: the layers read over
 * polygons, the figures of minewatch/treecover.h, the outputs. */
#ifndef MINEWATCH_TREECOVER_RUN_H
#define MINEWATCH_TREECOVER_RUN_H

#include <stddef.h>

#include <ogr_api.h>

#include "minewatch/export.h"
#include "minewatch/run_report.h"
#include "minewatch/treecover.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The command: every polygon of an AOI against the three layers, into DIR/treecover.csv
 * (site_id,year,treecover_ha,loss_ha,emissions_mg_co2e), DIR/treecover.gpkg (layer treecover,
 * the same rows and a note) and DIR/provenance.json, committed together. */
typedef struct mw_treecover_options {
    const char *aoi;       /* any OGR vector source; its first layer */
    const char *id_field;  /* NULL: "id" if the layer has it, else the feature id */
    const char *treecover; /* path, URL or tile template ({lat}, {lon}; see io/tile_mosaic.h) */
    const char *lossyear;
    const char *emissions; /* NULL: no emissions (the column stays empty, never 0) */
    mw_treecover_params params;
    const char *out_dir;
    size_t mem_budget_mb;
    const char *command_line;
} mw_treecover_options;

typedef struct mw_treecover_result {
    long polygons, failed;
} mw_treecover_result;

/* The figures of one polygon (in lon/lat, WGS 84) for `run`'s reference-forest section: the
 * layers are opened, read over the polygon only, and closed. Returns 0 or -1. */
MW_API int mw_treecover_polygon(const char *treecover, const char *lossyear, const char *emissions,
                                OGRGeometryH geometry_lonlat, const mw_treecover_params *p,
                                size_t mem_budget_mb, mw_treecover_year *years);

/* -1 with an error when nothing can be computed (AOI or rasters unreadable, grids that differ,
 * output folder busy). A polygon that fails (outside the rasters, not a polygon, too large for
 * the budget) is reported and gets rows with empty figures; the others go on. */
MW_API int mw_treecover_run(const mw_treecover_options *o, mw_run_report *report,
                            mw_treecover_result *result);

#ifdef __cplusplus
}
#endif

#endif
