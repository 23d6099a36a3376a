/* Reference (GFW) forest figures per site for `run`; see pipeline/site_reference_forest.h. */
#include "minewatch/treecover_run.h"
#include "pipeline/site_reference_forest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "minewatch/date.h"
#include "minewatch/error.h"

static int year_of(mw_day d)
{
    int y, m, dd;
    mw_day_to_ymd(d, &y, &m, &dd);
    return y;
}

int mw_site_reference_forest(const mw_pipeline *p, const mw_site *site, void *wpoly,
                             size_t mem_budget_mb, mw_indicator_row *rows, mw_rf_table *tab,
                             json_t *jsite)
{
    int last = 2000;
    for (size_t k = 0; k < p->n_periods; k++)
        if (year_of(p->periods[k].end) > last) last = year_of(p->periods[k].end);
    mw_treecover_params tp = {p->rf_min_cover, p->rf_min_size_ha, 2000, last};
    const int ny = last - 2000 + 1;
    mw_treecover_year *years = calloc((size_t)ny, sizeof *years);
    if (!years) return mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (mw_treecover_polygon(p->rf_treecover, p->rf_lossyear, p->rf_emissions, wpoly, &tp,
                             mem_budget_mb, years)) {
        free(years);
        return mw_error_prefix("reference forest");
    }
    /* the baseline's year: loss is counted from the year after it, like forest_loss_ha */
    int yb = year_of(p->periods[0].end);
    if (yb < 2000) yb = 2000;
    for (size_t k = 0; k < p->n_periods; k++) {
        int yp = year_of(p->periods[k].end);
        if (yp < 2000) continue; /* before Hansen's baseline: unknown */
        rows[k].gfw_treecover_ha = years[yp - 2000].treecover_ha;
        double loss = 0, emis = p->rf_emissions ? 0 : NAN;
        for (int y = yb + 1; y <= yp; y++) {
            loss += years[y - 2000].loss_ha;
            emis += years[y - 2000].emissions_mg_co2e; /* NaN stays NaN: unknown */
        }
        rows[k].gfw_loss_ha = loss;
        rows[k].gfw_emissions_mg_co2e = emis;
    }
    json_object_set_new(jsite, "reference_forest",
                        json_pack("{s:i,s:i,s:f,s:f}", "year_from", 2000, "year_to", last,
                                  "min_cover_pct", tp.min_cover_pct, "min_size_ha",
                                  tp.min_size_ha));
    if (mw_rf_table_append(tab, site->id, years, ny, 2000)) {
        free(years);
        return -1;
    }
    free(years);
    return 0;
}

int mw_rf_table_append(mw_rf_table *tab, const char *site_id, const mw_treecover_year *years,
                       int ny, int year_from)
{
    if (tab->nsites > 0 && (ny != tab->nyears || year_from != tab->year_from))
        return mw_error_set(MW_ERR_INPUT, "reference forest years of '%s' differ from the others'",
                            site_id);
    if (tab->nsites == tab->cap) {
        size_t c = tab->cap ? 2 * tab->cap : 16;
        char **ids = realloc(tab->site_ids, c * sizeof *ids);
        if (ids) tab->site_ids = ids;
        mw_treecover_year *ys = ids ? realloc(tab->years, c * (size_t)ny * sizeof *ys) : NULL;
        if (!ids || !ys) return mw_error_set(MW_ERR_NOMEM, "out of memory");
        tab->years = ys, tab->cap = c;
    }
    tab->nyears = ny, tab->year_from = year_from;
    tab->site_ids[tab->nsites] = mw_text_dup(site_id);
    memcpy(tab->years + tab->nsites * (size_t)ny, years, (size_t)ny * sizeof *years);
    tab->nsites++;
    return 0;
}

int mw_rf_table_write(const mw_rf_table *tab, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) return mw_error_set(MW_ERR_IO, "cannot write '%s'", path);
    fputs("site_id,year,treecover_ha,loss_ha,emissions_mg_co2e\n", f);
    for (size_t s = 0; s < tab->nsites; s++)
        for (int k = 0; k < tab->nyears; k++) {
            const mw_treecover_year *y = &tab->years[s * (size_t)tab->nyears + (size_t)k];
            mw_csv_cell(f, tab->site_ids[s], 1);
            fprintf(f, ",%d,%.4f,%.4f,", y->year, y->treecover_ha, y->loss_ha);
            if (isfinite(y->emissions_mg_co2e)) fprintf(f, "%.3f", y->emissions_mg_co2e);
            fputc('\n', f);
        }
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    return bad ? mw_error_set(MW_ERR_IO, "writing '%s' failed", path) : 0;
}

void mw_rf_table_free(mw_rf_table *tab)
{
    for (size_t s = 0; s < tab->nsites; s++)
        free(tab->site_ids[s]);
    free(tab->site_ids), free(tab->years);
    memset(tab, 0, sizeof *tab);
}
