#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "minewatch/indicator.h"

#define COL(n, stage, t, d, u, desc)                                                               \
    {                                                                                              \
#n, t, d, u, desc, offsetof(mw_indicator_row, n), stage                                    \
    }
/* Adding an indicator is one line here plus filling it in the run. */
const mw_indicator_column mw_indicator_columns[] = {
    COL(site_id, MW_STAGE_ANY, MW_COL_TEXT, 0, "", "site identifier in the site catalogue"),
    COL(site_name, MW_STAGE_ANY, MW_COL_TEXT, 0, "", "site name in the site catalogue"),
    COL(kind, MW_STAGE_ANY, MW_COL_TEXT, 0, "",
        "kind of site in the catalogue (mine, refinery, ...)"),
    COL(commodities, MW_STAGE_ANY, MW_COL_TEXT, 0, "", "commodities in the catalogue"),
    COL(country, MW_STAGE_ANY, MW_COL_TEXT, 0, "", "ISO 3166-1 alpha-2 country code"),
    COL(operator_name, MW_STAGE_ANY, MW_COL_TEXT, 0, "",
        "operator or owner as the catalogue gives it"),
    COL(supply_node, MW_STAGE_ANY, MW_COL_TEXT, 0, "", "the site's stage in the supply chain"),
    COL(period, MW_STAGE_ANY, MW_COL_TEXT, 0, "",
        "period name ('baseline' or a monitoring period)"),
    COL(period_start, MW_STAGE_ANY, MW_COL_DATE, 0, "date", "first day of the period"),
    COL(period_end, MW_STAGE_ANY, MW_COL_DATE, 0, "date", "last day of the period (inclusive)"),
    COL(n_scenes, MW_STAGE_COMPOSITE, MW_COL_INT, 0, "count", "scenes composited for the period"),
    COL(n_scenes_failed, MW_STAGE_COMPOSITE, MW_COL_INT, 0, "count",
        "scenes of the period that could not be read (see provenance)"),
    COL(clear_fraction, MW_STAGE_COMPOSITE, MW_COL_REAL, 4, "fraction",
        "clear observations / (scenes x site pixels)"),
    COL(valid_fraction, MW_STAGE_ANY, MW_COL_REAL, 4, "fraction",
        "site pixels with at least the minimum clear observations"),
    COL(area_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha", "site area (UTM grid plane)"),
    COL(forest_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha", "forest in this period's composite"),
    COL(forest_baseline_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha", "forest in the baseline composite"),
    COL(forest_loss_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha",
        "baseline forest lost by this period (0 for the baseline)"),
    COL(forest_observed_fraction, MW_STAGE_ANY, MW_COL_REAL, 4, "fraction",
        "share of baseline forest with a clear composite in this period: forest_loss_ha covers "
        "only that share"),
    COL(ndvi_mean, MW_STAGE_ANY, MW_COL_REAL, 4, "NDVI",
        "mean NDVI of the period composite over valid site pixels"),
    COL(loss_patches, MW_STAGE_ANY, MW_COL_INT, 0, "count",
        "8-connected forest-loss patches of at least the minimum mapping unit, lost by this "
        "period"),
    COL(disturbed_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha",
        "bare or disturbed ground (land-cover class)"),
    COL(water_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha", "open water (land-cover class)"),
    COL(built_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha",
        "bright built or industrial surfaces (land-cover class)"),
    COL(reveg_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha",
        "vegetated now and bare or disturbed in an earlier period (rehabilitation)"),
    COL(dnbr_high_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha",
        "dNBR against the baseline in Key & Benson's high-severity class"),
    COL(changed_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha",
        "generic multi-band change against the baseline (change.method: CVA with Otsu's "
        "threshold, or IR-MAD), whatever the cover"),
    COL(veg_cleared_ha, MW_STAGE_ANY, MW_COL_REAL, 2, "ha",
        "vegetated (forest or other vegetation) in the baseline, bare, disturbed or built now: "
        "land cleared, buried (tailings, mud) or built over"),
    COL(ndvi_trend_per_yr, MW_STAGE_ANY, MW_COL_REAL, 5, "NDVI/yr",
        "Theil-Sen slope of the site-mean NDVI over all periods (same on every row of a site)"),
    COL(ndvi_trend_p, MW_STAGE_ANY, MW_COL_REAL, 4, "p",
        "two-sided Mann-Kendall p-value of that trend; empty with fewer than 4 periods (3 points "
        "cannot give p < 0.296)"),
    COL(coreg_shift_px, MW_STAGE_COMPOSITE, MW_COL_REAL, 3, "px",
        "mean length of the co-registration shifts applied to this period's scenes"),
    COL(gfw_treecover_ha, MW_STAGE_COMPOSITE, MW_COL_REAL, 2, "ha",
        "reference_forest: Hansen GFC tree cover over the site at the end of the period's year "
        "(Global Forest Watch method, see 'minewatch treecover --help')"),
    COL(gfw_loss_ha, MW_STAGE_COMPOSITE, MW_COL_REAL, 2, "ha",
        "reference_forest: Hansen GFC tree-cover loss in the years after the baseline's year up "
        "to the period's (compare forest_loss_ha)"),
    COL(gfw_emissions_mg_co2e, MW_STAGE_COMPOSITE, MW_COL_REAL, 1, "Mg CO2e",
        "reference_forest: GFW gross emissions of that loss (Harris et al. 2021); empty without "
        "an emissions layer"),
    COL(hot_pixel_days, MW_STAGE_COMPOSITE, MW_COL_REAL, 0, "pixel-days",
        "hot pixels (thermal anomaly rules of Liu et al. 2021 on the SWIR bands; saturated ones "
        "count) summed over the period's scenes: furnace and flare activity at processing sites; "
        "empty without swir16 and swir22 among the bands"),
    COL(max_tai, MW_STAGE_COMPOSITE, MW_COL_REAL, 3, "TAI",
        "the largest thermal anomaly index (swir22 - swir16) / nir08 among those hot pixels"),
    COL(pa_nearest, MW_STAGE_COMPOSITE, MW_COL_TEXT, 0, "",
        "protected_areas: the nearest protected or key biodiversity area within "
        "max_distance_km (its name_field)"),
    COL(pa_distance_m, MW_STAGE_COMPOSITE, MW_COL_REAL, 0, "m",
        "protected_areas: distance from the site polygon to that area (0 when they overlap; "
        "empty when none is within max_distance_km)"),
    COL(pa_overlap_ha, MW_STAGE_COMPOSITE, MW_COL_REAL, 2, "ha",
        "protected_areas: site area inside protected areas (overlapping designations counted "
        "once)"),
    COL(pa_forest_loss_ha, MW_STAGE_COMPOSITE, MW_COL_REAL, 2, "ha",
        "protected_areas: the part of forest_loss_ha inside protected areas"),
};
#undef COL
const int mw_indicator_ncolumns =
    (int)(sizeof mw_indicator_columns / sizeof mw_indicator_columns[0]);

void mw_indicator_row_reset(mw_indicator_row *r, const mw_site *site, const char *period,
                            mw_day start, mw_day end)
{
    memset(r, 0, sizeof *r);
    for (int c = 0; c < mw_indicator_ncolumns; c++)
        if (mw_indicator_columns[c].type == MW_COL_REAL)
            *(double *)((char *)r + mw_indicator_columns[c].offset) = NAN;
    r->site_id = site->id;
    r->site_name = site->name;
    r->kind = site->kind, r->commodities = site->commodities, r->country = site->country;
    r->operator_name = site->operator_name, r->supply_node = site->supply_node;
    r->period = period;
    r->period_start = start;
    r->period_end = end;
}

void mw_indicator_format(const mw_indicator_column *c, const mw_indicator_row *r, char *buf,
                         size_t cap)
{
    const char *base = (const char *)r + c->offset;
    switch (c->type) {
    case MW_COL_TEXT: {
        const char *s = *(const char *const *)base;
        snprintf(buf, cap, "%s", s ? s : "");
        break;
    }
    case MW_COL_DATE:
        if (cap >= 11) mw_day_format(*(const mw_day *)base, buf);
        break;
    case MW_COL_INT:
        snprintf(buf, cap, "%ld", *(const long *)base);
        break;
    case MW_COL_REAL: {
        double v = *(const double *)base;
        if (isfinite(v))
            snprintf(buf, cap, "%.*f", c->decimals, v);
        else
            snprintf(buf, cap, "%s", "");
        break;
    }
    }
}
