/* Per-site maps on the site grid and the change stage's outputs, shared by `run` and `change`. */
#ifndef MW_SITE_MAPS_H
#define MW_SITE_MAPS_H

#include <jansson.h>

#include "minewatch/grid.h"
#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "minewatch/run_report.h"
#include "minewatch/site_change.h"

/* One no-data convention for every map minewatch writes: NaN in real-valued maps, the type's
 * largest value in integer maps (255 Byte, 65535 UInt16, 4294967295 UInt32). The writers set
 * it; callers fill their planes with it. */
#define MW_MAP_NODATA_RULE "NaN in real-valued maps; the type's largest value in integer maps"
double mw_map_nodata(int gdal_type);

/* What a map holds: nbands planes of npix values of GDAL type gdal_type each, a description,
 * and per band a name and a unit (either array may be NULL; "" for no unit). */
typedef struct mw_map_bands {
    int gdal_type;
    int nbands;
    const void *const *planes;
    const char *desc;
    const char *const *band_names;
    const char *const *units;
} mw_map_bands;
/* The planes as a Cloud-Optimised GeoTIFF (DEFLATE, internal overviews: averaged for real
 * values, nearest for integers), no data per the convention above, whole or not at all. */
int mw_write_map(const char *path, const mw_grid *g, const mw_map_bands *m);

/* The colours of the monitoring periods (1 = the first) in loss maps, pictures and legends. */
extern const unsigned char mw_period_palette[6][3];

/* A class of a one-band Byte map: its value, name and colour. */
typedef struct mw_map_class {
    int value;
    const char *name;
    unsigned char r, g, b;
} mw_map_class;
/* A class map (Byte, 255 no data): the same COG with a colour table (GIS tools draw it at once),
 * the classes' names in the band's metadata (CLASS_<value>=name), and a raster attribute table
 * (value, class, colour, pixels, hectares) in <path>.aux.xml, committed before the map. */
int mw_write_class_map(const char *path, const mw_grid *g, const unsigned char *plane,
                       const char *desc, const mw_map_class *classes, int nclasses);

/* <maps>/<site>_<what>[_<period>]<ext>; NULL with an error when the id or period is not a safe
 * file name (see core/name_check.h). */
char *mw_map_path(const char *maps_dir, const char *site_id, const char *what, const char *period,
                  const char *ext);
/* <maps>/<site>_composite_<period>.tif: the bands `change` starts from. */
char *mw_composite_map_path(const char *maps_dir, const char *site_id, const char *period);

mw_change_config mw_pipeline_change_config(const mw_pipeline *p, int chunk_rows);
/* The user's baseline forest raster (tree cover %) on the grid: 1 at or above
 * baseline_forest_min_pct, 0 below, 255 no data; *out NULL when the pipeline names none.
 * Averaged onto the grid, so a 30 m Hansen pixel splits as its canopy does. */
int mw_load_baseline_forest(const mw_pipeline *p, const mw_grid *g, uint8_t **out);
double mw_period_mid_year(const mw_period *per);

/* Fills the change columns of rows[0..nperiods). */
void mw_change_fill_rows(mw_indicator_row *rows, const mw_site_change *c);
/* Land-cover, loss, dNBR and trend maps, the loss patches and the transition table. */
void mw_change_write_outputs(const char *maps_dir, const char *site_id, const mw_grid *g,
                             const mw_pipeline *p, const mw_site_change *c, mw_run_report *rep);
/* Writes the loss patches as polygons (GeoPackage, grid CRS; fields patch_id, site_id, period,
 * area_ha, pixels, mean_dndvi), one feature per patch of each period, whole or not at all. */
int mw_loss_patches_write(const char *path, const mw_grid *g, const char *site_id,
                          const mw_site_change *c, const char *const *period_names);
/* The change stage's rules and citations, for provenance. */
json_t *mw_change_methods_json(const mw_pipeline *p);

#endif
