/* A pipeline file (YAML): which sites, which scenes, which periods, which grid and thresholds. */
#ifndef MINEWATCH_PIPELINE_H
#define MINEWATCH_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/band.h"
#include "minewatch/date.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_source_type {
    MW_SOURCE_SIMULATOR,
    MW_SOURCE_LOCAL,
    MW_SOURCE_STAC_API
} mw_source_type;

typedef struct mw_pipeline {
    char *path; /* the file, as given */
    char *dir;  /* its folder: relative paths inside resolve against it */
    char *name;
    char *catalogue; /* site catalogue, resolved */
    char **site_ids; /* empty: every site in the catalogue */
    size_t n_site_ids;

    mw_source_type source_type;
    char *source_path; /* local: folder of STAC items (resolved); simulator: NULL */
    uint64_t sim_seed;
    int sim_scenes_per_period;
    double sim_cloud_cover;      /* mean fraction of each scene under cloud, 0..1 */
    char *stac_url;              /* stac_api: API root */
    char **stac_collections;     /* NULL-terminated */
    double stac_max_cloud_cover; /* percent, < 0: none */
    int stac_page_size, stac_max_items, stac_retries;
    double stac_timeout_s, stac_backoff_s;
    char *stac_sign_token_url; /* sign: planetary_computer -> the SAS token endpoint; else NULL */
    char **stac_sign_hosts;    /* NULL-terminated hosts the token is sent to ("*.x" = subdomains) */
    int stac_max_pages;        /* bounds of one search: pages, bytes per answer, seconds */
    int stac_max_response_mb;
    double stac_max_search_s;
    bool allow_local_assets; /* stac_api: may items point at local files? (default no) */

    mw_period *periods; /* [0] is the baseline, then monitoring periods in file order */
    size_t n_periods;

    double pixel_size_m;
    double buffer_m;
    double origin_x, origin_y; /* the grid lattice passes through this point (default 0, 0) */
    int resampling;            /* mw_resample for reflectance; QA is always nearest */
    int grid_epsg;             /* 0: the UTM zone of each site's centroid */
    uint8_t qa_exclude;        /* mw_qa_flag bits left out of composites */
    uint8_t qa_dilate;         /* mw_qa_flag bits grown by dilate_m */
    double dilate_m;
    int mask_source; /* mw_mask_source (minewatch/chip.h): auto, provider or screen */

    double forest_ndvi_min;    /* composite NDVI at or above this is forest */
    double loss_ndvi_drop_min; /* baseline minus later NDVI must reach this for loss */
    int min_clear_obs;         /* fewer clear observations than this: no data */
    int loss_min_width_px;     /* loss narrower than this (pixels) is dropped; 1 keeps all */
    int composite_method;      /* mw_composite_method */
    double loss_mmu_ha;        /* forest-loss patches smaller than this are dropped */
    double water_mndwi_min, veg_ndvi_min, built_iron_ratio_max; /* land-cover rules */
    int change_method;            /* mw_change_method of the generic change map */
    mw_band bands[MW_BAND_COUNT]; /* chip and composite bands, in order (red and nir among them) */
    int nbands;
    char *baseline_forest;          /* resolved raster of tree cover %, or NULL: the NDVI rule */
    double baseline_forest_min_pct; /* tree cover at or above this is baseline forest */
    /* reference_forest: Hansen GFC / GFW figures per site (minewatch/treecover.h); NULL: none */
    char *rf_treecover, *rf_lossyear, *rf_emissions; /* paths, URLs or tile templates */
    double rf_min_cover, rf_min_size_ha;
    /* protected_areas: an OGR layer of protected / key biodiversity areas; NULL: none */
    char *pa_path, *pa_name_field;
    double pa_max_distance_km;
    bool coregister;           /* align every chip to the site's reference before compositing */
    double coreg_min_snr;      /* shifts with a weaker phase-correlation peak are not applied */
    double coreg_max_shift_px; /* longer shifts are taken as false matches, not applied */

    bool write_gpkg, write_csv, write_maps, write_report, write_stac;
    char *datacube;                  /* resolved; NULL means <out>/tiles */
    char *pg_connection, *pg_schema; /* outputs.postgis: libpq conninfo and schema, or NULL */
} mw_pipeline;

/* Parse and validate; errors are "file:line:column: what is wrong" (kind MW_ERR_INPUT). */
MW_API int mw_pipeline_load(const char *path, mw_pipeline *out);
/* The same from text already read; path names it in messages and anchors relative paths. */
MW_API int mw_pipeline_parse(const char *path, const char *text, size_t len, mw_pipeline *out);
MW_API void mw_pipeline_free(mw_pipeline *p);
/* Every key of a pipeline file, from the tables the parser reads: Markdown tables, one per
 * section (the README's reference), and a commented template that parses to the defaults.
 * Caller frees; NULL when out of memory. */
MW_API char *mw_pipeline_reference(void);
MW_API char *mw_pipeline_template(void);

#ifdef __cplusplus
}
#endif

#endif
