/* Per-site, per-period indicators: one table defines the columns for every writer. */
#ifndef MINEWATCH_INDICATOR_H
#define MINEWATCH_INDICATOR_H

#include <ogr_api.h>

#include <stddef.h>

#include "minewatch/export.h"
#include "minewatch/date.h"
#include "minewatch/site.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_indicator_row {
    const char *site_id;
    const char *site_name;
    const char *kind, *commodities, *country, *operator_name, *supply_node; /* the catalogue's */
    const char *period;
    mw_day period_start, period_end;
    long n_scenes;         /* scenes composited */
    long n_scenes_failed;  /* scenes of this period that could not be read */
    double clear_fraction; /* clear observations / (scenes x site pixels) */
    double valid_fraction; /* site pixels with a composite value */
    double area_ha;        /* site polygon area */
    double forest_ha;      /* forest in this period's composite */
    double forest_baseline_ha;
    double forest_loss_ha;           /* forest at baseline lost by this period */
    double forest_observed_fraction; /* baseline forest observed in this period: loss covers it */
    double ndvi_mean;
    long loss_patches;            /* forest-loss patches >= the MMU, lost by this period */
    double disturbed_ha;          /* bare or disturbed ground (land-cover class) */
    double water_ha;              /* open water */
    double built_ha;              /* bright built or industrial surfaces */
    double reveg_ha;              /* bare or disturbed earlier, vegetated now */
    double dnbr_high_ha;          /* dNBR in Key & Benson's high-severity class */
    double changed_ha;            /* generic multi-band change against the baseline */
    double veg_cleared_ha;        /* vegetated in the baseline, bare, disturbed or built now */
    double ndvi_trend_per_yr;     /* Theil-Sen slope of the site-mean NDVI over all periods */
    double ndvi_trend_p;          /* its Mann-Kendall p-value */
    double coreg_shift_px;        /* mean co-registration shift applied to the period's scenes */
    double gfw_treecover_ha;      /* reference_forest: Hansen tree cover at the end of the year */
    double gfw_loss_ha;           /* Hansen loss in the years after the baseline's up to this one */
    double gfw_emissions_mg_co2e; /* GFW gross emissions of that loss */
    double hot_pixel_days;        /* hot pixels summed over the period's scenes */
    double max_tai;               /* the largest thermal anomaly index of them */
    const char *pa_nearest;       /* protected_areas: the nearest area's name */
    double pa_distance_m;         /* from the site to it (0: they overlap) */
    double pa_overlap_ha;         /* of the site inside protected areas */
    double pa_forest_loss_ha;     /* of forest_loss_ha inside protected areas */
    const char *wkt_wgs84;        /* site geometry, for GIS outputs */
} mw_indicator_row;

typedef enum mw_column_type { MW_COL_TEXT, MW_COL_DATE, MW_COL_INT, MW_COL_REAL } mw_column_type;

typedef struct mw_indicator_column {
    const char *name;
    mw_column_type type;
    int decimals; /* REAL: digits written after the point (fixed, so outputs are repeatable) */
    const char *unit;
    const char *description;
    size_t offset; /* into mw_indicator_row */
    int stage;     /* which stage fills it: MW_STAGE_COMPOSITE needs the scenes (the composite
                      stage); MW_STAGE_ANY comes from the composites alone (the change stage) */
} mw_indicator_column;

enum { MW_STAGE_ANY, MW_STAGE_COMPOSITE };

MW_API extern const mw_indicator_column mw_indicator_columns[];
MW_API extern const int mw_indicator_ncolumns;

/* A row for one site and period with every number missing (NaN; counts 0): what a stage that
 * fails leaves, so an empty cell is never a 0 that was not measured. Driven by the table. */
MW_API void mw_indicator_row_reset(mw_indicator_row *r, const mw_site *site, const char *period,
                                   mw_day start, mw_day end);

/* Writers: whole file or nothing (temporary name, then rename). */
MW_API int mw_indicators_write_csv(const char *path, const mw_indicator_row *rows, size_t n);
/* The same without the columns only compositing knows (for `change`). */
MW_API int mw_indicators_write_csv_change(const char *path, const mw_indicator_row *rows, size_t n);
MW_API int mw_indicators_write_gpkg(const char *path, const mw_indicator_row *rows, size_t n);
/* Sets an OGR feature's (OGRFeatureH) fields named like the columns, rounded as the CSV, and its
 * geometry from the row: the GeoPackage and PostGIS writers share it. */
MW_API void mw_indicator_feature_fill(OGRFeatureH feature, const mw_indicator_row *r);
/* Formats one cell as the CSV writer does; "" for missing values. buf >= 64 bytes. */
MW_API void mw_indicator_format(const mw_indicator_column *c, const mw_indicator_row *r, char *buf,
                                size_t cap);

#ifdef __cplusplus
}
#endif

#endif
