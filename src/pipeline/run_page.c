/* report.html: the quick-looks are drawn with GDAL (the run's composites, stretched and written by
 * the PNG driver), the charts are hand-written SVG from the indicator table, the rest is tables
 * from the rows and the provenance. No script and no remote resource. */
#include "pipeline/run_page.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cpl_conv.h>
#include <gdal.h>

#include "core/atomic_file.h"
#include "core/text.h"
#include "minewatch/error.h"
#include "minewatch/run_report.h"
#include "pipeline/html_page.h"
#include "pipeline/site_maps.h"

/* The indicators drawn as charts, in this order; each only where a period has a value. */
static const struct chart {
    const char *column, *title;
} charts[] = {
    {"ndvi_mean", "Mean NDVI of the composite"},
    {"forest_ha", "Forest"},
    {"forest_loss_ha", "Forest lost since the baseline"},
    {"veg_cleared_ha", "Vegetation cleared since the baseline"},
    {"disturbed_ha", "Bare or disturbed ground"},
    {"gfw_emissions_mg_co2e", "Gross emissions of the forest loss (GFW)"},
    {"hot_pixel_days", "Processing heat (hot pixels x scenes)"},
};
#define NCHARTS (sizeof charts / sizeof charts[0])

/* The colours of forest loss by the period it was first seen (1 = first monitoring period). */
static const unsigned char loss_rgb[6][3] = {{228, 26, 28}, {255, 127, 0},   {152, 78, 163},
                                             {166, 86, 40}, {247, 129, 191}, {77, 175, 74}};
static const unsigned char cleared_rgb[3] = {255, 215, 0};
#define QUICKLOOK_MAX_PX 900

static const mw_indicator_column *column(const char *name)
{
    for (int c = 0; c < mw_indicator_ncolumns; c++)
        if (!strcmp(mw_indicator_columns[c].name, name)) return &mw_indicator_columns[c];
    return NULL;
}

static double value_of(const mw_indicator_column *c, const mw_indicator_row *r)
{
    if (c->type == MW_COL_REAL) return *(const double *)((const char *)r + c->offset);
    if (c->type == MW_COL_INT) return (double)*(const long *)((const char *)r + c->offset);
    return NAN;
}

/* A composite's red, green and blue, decimated to at most QUICKLOOK_MAX_PX a side. */
typedef struct rgb_image {
    int w, h;
    float *band[3]; /* red, green, blue */
} rgb_image;

static void rgb_free(rgb_image *im)
{
    for (int i = 0; i < 3; i++)
        free(im->band[i]);
    memset(im, 0, sizeof *im);
}

static int step_for(int w, int h)
{
    const int m = w > h ? w : h;
    return m > QUICKLOOK_MAX_PX ? (m + QUICKLOOK_MAX_PX - 1) / QUICKLOOK_MAX_PX : 1;
}

static int read_rgb(const char *path, rgb_image *im)
{
    memset(im, 0, sizeof *im);
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) return -1;
    static const char *const names[3] = {"red", "green", "blue"};
    const int W = GDALGetRasterXSize(ds), H = GDALGetRasterYSize(ds), s = step_for(W, H);
    im->w = (W + s - 1) / s, im->h = (H + s - 1) / s;
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        GDALRasterBandH b = NULL;
        for (int k = 1; k <= GDALGetRasterCount(ds) && !b; k++)
            if (!strcmp(GDALGetDescription(GDALGetRasterBand(ds, k)), names[i]))
                b = GDALGetRasterBand(ds, k);
        im->band[i] = malloc((size_t)im->w * im->h * sizeof(float));
        /* nearest sampling every s-th pixel: what the page shows is pixels of the map */
        rc = b && im->band[i] &&
                     GDALRasterIO(b, GF_Read, 0, 0, im->w * s > W ? W : im->w * s,
                                  im->h * s > H ? H : im->h * s, im->band[i], im->w, im->h,
                                  GDT_Float32, 0, 0) == CE_None
                 ? 0
                 : -1;
    }
    GDALClose(ds);
    CPLErrorReset();
    if (rc) rgb_free(im);
    return rc;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The 2nd and 98th percentiles of the three bands pooled over the finite pixels: one stretch
 * for the site, the same for every band so the colours stay as they are. */
static void stretch_of(const rgb_image *im, double lo[3], double hi[3])
{
    const size_t n = (size_t)im->w * im->h;
    float *v = malloc((3 * n + 1) * sizeof *v);
    size_t m = 0;
    for (int i = 0; i < 3; i++)
        for (size_t p = 0; v && p < n; p++)
            if (isfinite(im->band[i][p])) v[m++] = im->band[i][p];
    double l = 0, h = 0.3;
    if (m >= 2) {
        qsort(v, m, sizeof *v, cmp_float);
        l = v[(size_t)(0.02 * (double)(m - 1))], h = v[(size_t)(0.98 * (double)(m - 1))];
        if (!(h > l)) h = l + 0.01;
    }
    for (int i = 0; i < 3; i++)
        lo[i] = l, hi[i] = h;
    free(v);
}

static int write_png(const char *path, int w, int h, unsigned char *const planes[3])
{
    GDALDriverH mem = GDALGetDriverByName("MEM"), png = GDALGetDriverByName("PNG");
    if (!mem || !png) return mw_error_set(MW_ERR_IO, "GDAL has no PNG driver for '%s'", path);
    GDALDatasetH m = GDALCreate(mem, "", w, h, 3, GDT_Byte, NULL);
    int rc = m ? 0 : -1;
    for (int i = 0; i < 3 && rc == 0; i++)
        if (GDALRasterIO(GDALGetRasterBand(m, i + 1), GF_Write, 0, 0, w, h, planes[i], w, h,
                         GDT_Byte, 0, 0) != CE_None)
            rc = -1;
    char *tmp = mw_part_path(path);
    GDALDatasetH out = rc == 0 && tmp ? GDALCreateCopy(png, tmp, m, FALSE, NULL, NULL, NULL) : NULL;
    if (!out)
        rc = mw_error_from_gdal(MW_ERR_IO, "cannot write '%s'", path);
    else if (mw_gdal_close_written(out, path))
        rc = -1;
    if (m) GDALClose(m);
    if (rc == 0) rc = mw_commit_path(tmp, path);
    if (rc && tmp) mw_remove_tree(tmp);
    free(tmp);
    return rc;
}

/* The image as bytes with the site's stretch; darken < 1 dims it under an overlay. No data is
 * dark grey. */
static void to_bytes(const rgb_image *im, const double lo[3], const double hi[3], double darken,
                     unsigned char *planes[3])
{
    const size_t n = (size_t)im->w * im->h;
    for (int i = 0; i < 3; i++)
        for (size_t p = 0; p < n; p++) {
            const float v = im->band[i][p];
            double t = isfinite(v) ? (v - lo[i]) / (hi[i] - lo[i]) : -1;
            planes[i][p] = t < 0 && !isfinite(v) ? 32
                                                 : (unsigned char)lround(255 * darken *
                                                                         (t < 0   ? 0
                                                                          : t > 1 ? 1
                                                                                  : t));
        }
}

/* A one-band Byte map sampled like the quick-look. */
static unsigned char *read_class_map(const char *path, const rgb_image *im)
{
    GDALDatasetH ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!ds) {
        CPLErrorReset();
        return NULL;
    }
    const int W = GDALGetRasterXSize(ds), H = GDALGetRasterYSize(ds), s = step_for(W, H);
    unsigned char *v = malloc((size_t)im->w * im->h);
    if (v &&
        GDALRasterIO(GDALGetRasterBand(ds, 1), GF_Read, 0, 0, im->w * s > W ? W : im->w * s,
                     im->h * s > H ? H : im->h * s, v, im->w, im->h, GDT_Byte, 0, 0) != CE_None) {
        free(v);
        v = NULL;
    }
    GDALClose(ds);
    CPLErrorReset();
    return v;
}

/* The quick-looks of one site; *what says which were written (bit 0 before, 1 after, 2
 * changes). */
static int site_pictures(const char *asset_dir, const char *maps_dir, const char *site,
                         const char *before, const char *after, int nmon, int *what)
{
    *what = 0;
    rgb_image b = {0}, a = {0};
    char *pb = mw_composite_map_path(maps_dir, site, before);
    char *pa = after ? mw_composite_map_path(maps_dir, site, after) : NULL;
    int have_b = pb && read_rgb(pb, &b) == 0, have_a = pa && read_rgb(pa, &a) == 0;
    free(pb), free(pa);
    if (!have_b) {
        rgb_free(&a);
        return 0;
    }
    double lo[3], hi[3];
    stretch_of(&b, lo, hi);
    const size_t n = (size_t)b.w * b.h;
    unsigned char *planes[3] = {malloc(n), malloc(n), malloc(n)};
    int rc = planes[0] && planes[1] && planes[2] ? 0 : mw_error_set(MW_ERR_NOMEM, "out of memory");
    char name[512];
    if (rc == 0) {
        to_bytes(&b, lo, hi, 1, planes);
        snprintf(name, sizeof name, "%s/%s_before.png", asset_dir, site);
        rc = write_png(name, b.w, b.h, planes);
        if (rc == 0) *what |= 1;
    }
    if (rc == 0 && have_a && a.w == b.w && a.h == b.h) {
        to_bytes(&a, lo, hi, 1, planes);
        snprintf(name, sizeof name, "%s/%s_after.png", asset_dir, site);
        rc = write_png(name, a.w, a.h, planes);
        if (rc == 0) *what |= 2;
        /* the changes over the last image, dimmed */
        char *pl = mw_map_path(maps_dir, site, "forest_loss", NULL, ".tif");
        char *pc = mw_map_path(maps_dir, site, "veg_cleared", after, ".tif");
        unsigned char *loss = pl ? read_class_map(pl, &a) : NULL,
                      *cleared = pc ? read_class_map(pc, &a) : NULL;
        free(pl), free(pc);
        if (rc == 0 && (loss || cleared)) {
            to_bytes(&a, lo, hi, 0.55, planes);
            for (size_t p = 0; p < n; p++) {
                const unsigned char *c = NULL;
                if (cleared && cleared[p] == 1) c = cleared_rgb;
                if (loss && loss[p] >= 1 && loss[p] <= nmon) c = loss_rgb[(loss[p] - 1) % 6];
                if (c)
                    for (int i = 0; i < 3; i++)
                        planes[i][p] = c[i];
            }
            snprintf(name, sizeof name, "%s/%s_changes.png", asset_dir, site);
            rc = write_png(name, a.w, a.h, planes);
            if (rc == 0) *what |= 4;
        }
        free(loss), free(cleared);
    }
    for (int i = 0; i < 3; i++)
        free(planes[i]);
    rgb_free(&b), rgb_free(&a);
    return rc;
}

/* A line chart of one indicator over the periods, hand-written SVG. */
static void chart_svg(FILE *f, const char *site, const struct chart *ch,
                      const mw_indicator_column *col, const mw_indicator_row *const *rows,
                      size_t np)
{
    double vmin = INFINITY, vmax = -INFINITY;
    for (size_t k = 0; k < np; k++) {
        const double v = value_of(col, rows[k]);
        if (isfinite(v)) vmin = fmin(vmin, v), vmax = fmax(vmax, v);
    }
    if (!isfinite(vmin)) return;
    if (vmin > 0 && strcmp(col->unit, "NDVI")) vmin = 0; /* areas from zero */
    if (vmax - vmin < 1e-9) vmax = vmin + (fabs(vmin) > 0 ? fabs(vmin) * 0.1 : 1);
    const int W = 360, H = 200, L = 56, R = 28, T = 30, B = 44;
    const double xs = np > 1 ? (double)(W - L - R) / (double)(np - 1) : 0;
    fprintf(f,
            "<svg class=\"chart\" id=\"chart-%s-%s\" role=\"img\" "
            "xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans,Arial,sans-serif\" font-size=\"11\"><title>",
            site, col->name, W, H, W, H);
    mw_html_esc(f, ch->title);
    fputs("</title><text x=\"4\" y=\"16\" font-size=\"12\" font-weight=\"bold\" fill=\"#2f5d50\">",
          f);
    mw_html_esc(f, ch->title);
    fputs(" (", f);
    mw_html_esc(f, col->unit);
    fputs(")</text>\n", f);
    for (int t = 0; t <= 4; t++) { /* gridlines and their values */
        const double v = vmin + (vmax - vmin) * t / 4.0;
        const double y = T + (H - T - B) * (1 - t / 4.0);
        fprintf(f,
                "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#dde3e0\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" fill=\"#4a555f\">",
                L, y, W - R, y, L - 4, y + 4);
        mw_html_num(f, v);
        fputs("</text>\n", f);
    }
    fputs("<polyline fill=\"none\" stroke=\"#2f5d50\" stroke-width=\"2\" points=\"", f);
    for (size_t k = 0; k < np; k++) {
        const double v = value_of(col, rows[k]);
        if (isfinite(v))
            fprintf(f, "%.1f,%.1f ", L + xs * (double)k,
                    T + (H - T - B) * (1 - (v - vmin) / (vmax - vmin)));
    }
    fputs("\"/>\n", f);
    for (size_t k = 0; k < np; k++) {
        const double v = value_of(col, rows[k]);
        const double x = L + xs * (double)k;
        if (isfinite(v)) {
            fprintf(f,
                    "<circle class=\"point\" cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"#2f5d50\">"
                    "<title>",
                    x, T + (H - T - B) * (1 - (v - vmin) / (vmax - vmin)));
            mw_html_esc(f, rows[k]->period);
            fputs(": ", f);
            mw_html_num(f, v);
            fputs("</title></circle>", f);
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#1d2329\">", x,
                H - B + 16);
        mw_html_esc(f, rows[k]->period);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
}

static void scenes_table(FILE *f, const char *site, const json_t *psite)
{
    static const char *const cols[] = {"period", "scene",   "sensor", "acquired (UTC)",
                                       "clear",  "covered", "mask",   "co-registration shift (px)",
                                       NULL};
    fprintf(f, "<table id=\"scenes-%s\">", site);
    mw_html_head_row(f, cols);
    size_t k, i;
    json_t *per, *sc;
    json_array_foreach(json_object_get(psite, "periods"), k, per)
    {
        json_array_foreach(json_object_get(per, "scenes"), i, sc)
        {
            fputs("<tr>", f);
            mw_html_td_text(f, mw_html_str(per, "name"));
            mw_html_td_text(f, mw_html_str(sc, "id"));
            mw_html_td_text(f, mw_html_str(sc, "sensor"));
            mw_html_td_text(f, mw_html_str(sc, "datetime"));
            fputs("<td class=\"n\">", f);
            mw_html_percent(f, mw_html_number(json_object_get(sc, "clear_fraction")));
            fputs("</td><td class=\"n\">", f);
            mw_html_percent(f, mw_html_number(json_object_get(sc, "coverage_fraction")));
            fputs("</td>", f);
            mw_html_td_text(f, mw_html_str(sc, "mask"));
            const json_t *co = json_object_get(sc, "coregistration");
            const double dx = mw_html_number(json_object_get(co, "dx_px")),
                         dy = mw_html_number(json_object_get(co, "dy_px"));
            const int applied = json_is_true(json_object_get(co, "applied"));
            mw_html_td_num(f, applied && isfinite(dx) && isfinite(dy) ? hypot(dx, dy) : NAN);
            fputs("</tr>\n", f);
        }
    }
    fputs("</tbody></table>\n", f);
}

static void indicators_table(FILE *f, const char *site, const mw_indicator_row *const *rows,
                             size_t np)
{
    fprintf(f, "<table id=\"indicators-%s\"><thead><tr><th>indicator</th><th>unit</th>", site);
    for (size_t k = 0; k < np; k++) {
        fputs("<th>", f);
        mw_html_esc(f, rows[k]->period);
        fputs("</th>", f);
    }
    fputs("</tr></thead><tbody>\n", f);
    for (int c = 0; c < mw_indicator_ncolumns; c++) {
        const mw_indicator_column *col = &mw_indicator_columns[c];
        if (!strcmp(col->name, "site_id") || !strcmp(col->name, "site_name") ||
            !strcmp(col->name, "period"))
            continue;
        fputs("<tr><td title=\"", f);
        mw_html_esc(f, col->description);
        fputs("\">", f);
        mw_html_esc(f, col->name);
        fputs("</td>", f);
        mw_html_td_text(f, col->unit);
        for (size_t k = 0; k < np; k++) {
            char buf[128];
            mw_indicator_format(col, rows[k], buf, sizeof buf);
            fputs(col->type == MW_COL_TEXT ? "<td>" : "<td class=\"n\">", f);
            if (*buf)
                mw_html_esc(f, buf);
            else
                fputs("&ndash;", f);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n", f);
}

/* Every method of the provenance that names a citation, as rows: where, the rule, the source. */
static void method_rows(FILE *f, const char *path, const json_t *v)
{
    if (json_is_object(v)) {
        const json_t *cit = json_object_get(v, "citation");
        if (json_is_string(cit)) {
            const char *rule = *mw_html_str(v, "rule")      ? mw_html_str(v, "rule")
                               : *mw_html_str(v, "formula") ? mw_html_str(v, "formula")
                                                            : mw_html_str(v, "method");
            fputs("<tr>", f);
            mw_html_td_text(f, path);
            mw_html_td_text(f, rule);
            fputs("<td class=\"src\">", f);
            mw_html_esc(f, json_string_value(cit));
            fputs("</td></tr>\n", f);
        }
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            char sub[256];
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", k);
            if (json_is_object(x) || json_is_array(x))
                method_rows(f, sub, x);
            else if (json_is_string(x) && strcmp(k, "citation") && strcmp(k, "rule") &&
                     strcmp(k, "formula") && strcmp(k, "method") &&
                     strlen(json_string_value(x)) > 60) {
                fputs("<tr>", f);
                mw_html_td_text(f, sub);
                fputs("<td></td><td class=\"src\">", f);
                mw_html_esc(f, json_string_value(x));
                fputs("</td></tr>\n", f);
            }
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            char sub[256];
            snprintf(sub, sizeof sub, "%s[%s]", path,
                     *mw_html_str(x, "name") ? mw_html_str(x, "name") : "");
            if (json_is_object(x) && json_is_string(json_object_get(x, "citation")))
                method_rows(f, sub, x);
        }
    }
}

int mw_run_page_write(const char *html_path, const char *asset_dir, const char *asset_name,
                      const char *maps_dir, const json_t *prov, const mw_pipeline *p,
                      const mw_indicator_row *rows, size_t nrows, const mw_run_report *rep)
{
    if (mw_make_dirs(asset_dir)) return -1;
    char *tmp = mw_part_path(html_path);
    FILE *f = tmp ? fopen(tmp, "w") : NULL;
    if (!f) {
        free(tmp);
        return mw_error_set(MW_ERR_IO, "cannot write '%s'", html_path);
    }
    int rc = 0;
    const json_t *psites = json_object_get(prov, "sites");
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>minewatch "
          "run: ",
          f);
    mw_html_esc(f, p->name);
    fprintf(f,
            "</title>\n<style>\n%s"
            ".figs{display:flex;flex-wrap:wrap;gap:12px}.figs figure{margin:0}"
            ".figs img{max-width:360px;image-rendering:pixelated;border:1px solid #c9d1d6}"
            "figcaption{font-size:12px;color:#3c4650;max-width:360px}"
            ".charts{display:flex;flex-wrap:wrap;gap:8px}"
            ".swatch{display:inline-block;width:12px;height:12px;margin:0 4px 0 10px;"
            "vertical-align:middle;border:1px solid #888}\n"
            "</style></head>\n<body>\n<header><h1>Run report: ",
            mw_html_style);
    mw_html_esc(f, p->name);
    fputs("</h1>\n<p class=\"sub\">", f);
    fputs("minewatch ", f);
    mw_html_esc(f, mw_html_str(json_object_get(prov, "software"), "minewatch"));
    fputs(" &#183; started ", f);
    mw_html_esc(f, mw_html_str(prov, "started_utc"));
    fputs(" &#183; pipeline <code>", f);
    mw_html_esc(f, mw_html_str(json_object_get(prov, "pipeline"), "path"));
    fputs("</code> (SHA-256 <code>", f);
    mw_html_esc(f, mw_html_str(json_object_get(prov, "pipeline"), "sha256"));
    fprintf(f,
            "</code>) &#183; %zu site(s) &#183; <a href=\"provenance.json\">provenance.json</a> "
            "&#183; <a href=\"indicators.csv\">indicators.csv</a></p>\n",
            json_array_size(psites));
    fprintf(f, "<p class=\"note\" id=\"problems\">%zu problem(s) in this run", rep ? rep->n : 0);
    if (rep && rep->n) {
        fputs(":</p><ul>\n", f);
        for (size_t i = 0; i < rep->n && i < 50; i++) {
            fputs("<li>[", f);
            mw_html_esc(f, rep->items[i].stage);
            fputs("] ", f);
            if (*rep->items[i].site_id) {
                mw_html_esc(f, rep->items[i].site_id);
                fputs(": ", f);
            }
            mw_html_esc(f, rep->items[i].message);
            fputs("</li>\n", f);
        }
        fputs("</ul>", f);
    } else
        fputs(".</p>", f);
    fputs("<nav><p>Sites: ", f);
    size_t si;
    json_t *ps;
    json_array_foreach(psites, si, ps)
    {
        fprintf(f, "%s<a href=\"#site-%s\">", si ? " &#183; " : "", mw_html_str(ps, "id"));
        mw_html_esc(f, mw_html_str(ps, "id"));
        fputs("</a>", f);
    }
    fputs("</p></nav></header>\n", f);
    const mw_indicator_row **site_rows = malloc((p->n_periods + 1) * sizeof *site_rows);
    if (!site_rows) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
    json_array_foreach(psites, si, ps)
    {
        if (rc) break;
        const char *id = mw_html_str(ps, "id");
        size_t np = 0;
        for (size_t r = 0; r < nrows && np < p->n_periods; r++)
            if (!strcmp(rows[r].site_id, id)) site_rows[np++] = &rows[r];
        fprintf(f, "<section class=\"site\" id=\"site-%s\"><h2>", id);
        mw_html_esc(f, mw_html_str(ps, "name"));
        fprintf(f, " <code>%s</code></h2>\n", id);
        /* the last period with a composite is the "after" */
        const char *after = NULL;
        for (size_t k = 1; k < np; k++)
            if (site_rows[k]->n_scenes > 0 && isfinite(site_rows[k]->valid_fraction))
                after = site_rows[k]->period;
        int what = 0;
        if (p->write_maps && np)
            rc = site_pictures(asset_dir, maps_dir, id, p->periods[0].name, after,
                               (int)p->n_periods - 1, &what);
        if (rc) break;
        if (what) {
            fputs("<div class=\"figs\">\n", f);
            if (what & 1)
                fprintf(f,
                        "<figure><img src=\"%s/%s_before.png\" alt=\"true colour, baseline\">"
                        "<figcaption>True colour, %s (baseline composite)</figcaption></figure>\n",
                        asset_name, id, p->periods[0].name);
            if (what & 2)
                fprintf(f,
                        "<figure><img src=\"%s/%s_after.png\" alt=\"true colour, %s\">"
                        "<figcaption>True colour, %s (composite), the baseline's stretch"
                        "</figcaption></figure>\n",
                        asset_name, id, after, after);
            if (what & 4) {
                fprintf(f,
                        "<figure><img src=\"%s/%s_changes.png\" alt=\"changes over %s\">"
                        "<figcaption class=\"legend\">Changes over %s, dimmed:",
                        asset_name, id, after, after);
                for (size_t k = 1; k < p->n_periods; k++)
                    fprintf(f,
                            "<span class=\"swatch\" style=\"background:rgb(%d,%d,%d)\"></span>"
                            "forest loss first seen in %s",
                            loss_rgb[(k - 1) % 6][0], loss_rgb[(k - 1) % 6][1],
                            loss_rgb[(k - 1) % 6][2], p->periods[k].name);
                fprintf(f,
                        "<span class=\"swatch\" style=\"background:rgb(%d,%d,%d)\"></span>"
                        "other vegetation cleared by %s</figcaption></figure>\n",
                        cleared_rgb[0], cleared_rgb[1], cleared_rgb[2], after);
            }
            fputs("</div>\n", f);
        } else
            fputs("<p class=\"note\">No composite map of this site: no picture.</p>\n", f);
        fputs("<h3>Over the periods</h3><div class=\"charts\">\n", f);
        for (size_t c = 0; c < NCHARTS; c++) {
            const mw_indicator_column *col = column(charts[c].column);
            if (col) chart_svg(f, id, &charts[c], col, site_rows, np);
        }
        fputs("</div>\n<h3>Indicators</h3>\n", f);
        indicators_table(f, id, site_rows, np);
        fputs("<h3>Scenes used</h3>\n", f);
        scenes_table(f, id, ps);
        fputs("</section>\n", f);
    }
    free(site_rows);
    fputs("<section id=\"methods\"><h2>Methods and sources</h2>\n<table id=\"methods-table\">"
          "<thead><tr><th>method</th><th>rule</th><th>source</th></tr></thead><tbody>\n",
          f);
    method_rows(f, "", json_object_get(prov, "methods"));
    fputs("</tbody></table>\n<p class=\"note\">Quick-looks: the run's composites drawn with GDAL "
          "(PNG driver), every n-th pixel up to 900 a side, stretched between the 2nd and 98th "
          "percentiles of the baseline; charts: SVG written from the indicator table.</p>\n"
          "</section>\n</body></html>\n",
          f);
    int bad = ferror(f);
    bad |= fclose(f) != 0;
    if (rc == 0 && bad) rc = mw_error_set(MW_ERR_IO, "writing '%s' failed", html_path);
    if (rc == 0) rc = mw_commit_path(tmp, html_path);
    if (rc) mw_remove_tree(tmp);
    free(tmp);
    return rc;
}
