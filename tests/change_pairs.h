/* The two real labelled change pairs of ../shared/data, read the same way by the test and the
 * bench: OSCD Aguas Claras (Sentinel-2 L1C; B11 B12 resampled bilinearly onto the 10 m grid by
 * GDAL) and Taizhou (Landsat-7 ETM+, 6 bands), with their change and no-change masks. */
#ifndef MW_CHANGE_PAIRS_H
#define MW_CHANGE_PAIRS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gdal.h>

#define LABELLED_NB 6 /* bands of each date */

typedef struct labelled_pair {
    const char *name;
    int w, h;
    float *a[LABELLED_NB], *b[LABELLED_NB];
    uint8_t *yes, *no;
} labelled_pair;

/* Band `band` of path as float, resampled bilinearly to w x h when its size differs. */
static inline float *read_band(const char *path, int band, int w, int h)
{
    GDALDatasetH ds = GDALOpen(path, GA_ReadOnly);
    if (!ds) return NULL;
    float *v = malloc(sizeof(float) * (size_t)w * h);
    GDALRasterIOExtraArg arg;
    INIT_RASTERIO_EXTRA_ARG(arg);
    arg.eResampleAlg = GRIORA_Bilinear;
    if (v && GDALRasterIOEx(GDALGetRasterBand(ds, band), GF_Read, 0, 0, GDALGetRasterXSize(ds),
                            GDALGetRasterYSize(ds), v, w, h, GDT_Float32, 0, 0, &arg) != CE_None)
        free(v), v = NULL;
    GDALClose(ds);
    return v;
}

/* value < 0: nonzero is in the mask */
static inline uint8_t *read_mask(const char *path, int w, int h, int value)
{
    float *v = read_band(path, 1, w, h);
    if (!v) return NULL;
    uint8_t *m = malloc((size_t)w * h);
    for (size_t i = 0; i < (size_t)w * h; i++)
        m[i] = value < 0 ? v[i] != 0 : v[i] == value;
    free(v);
    return m;
}

static inline void labelled_pair_free(labelled_pair *p)
{
    for (int k = 0; k < LABELLED_NB; k++)
        free(p->a[k]), free(p->b[k]);
    free(p->yes), free(p->no);
}

static inline int load_oscd(const char *data, labelled_pair *p)
{
    static const char *bands[LABELLED_NB] = {"B02", "B03", "B04", "B08", "B11", "B12"};
    char path[2048];
    memset(p, 0, sizeof *p);
    p->name = "OSCD", p->w = 525, p->h = 471;
    for (int k = 0; k < LABELLED_NB; k++) {
        snprintf(path, sizeof path,
                 "%s/oscd_aguasclaras/imgs_1/"
                 "S2A_OPER_MSI_L1C_TL_EPA__20161227T091305_A001222_T22LHH_%s.tif",
                 data, bands[k]);
        p->a[k] = read_band(path, 1, p->w, p->h);
        snprintf(path, sizeof path, "%s/oscd_aguasclaras/imgs_2/T22LHH_20171015T133221_%s.tif",
                 data, bands[k]);
        p->b[k] = read_band(path, 1, p->w, p->h);
        if (!p->a[k] || !p->b[k]) return -1;
    }
    /* the label holds 1 (no change) and 2 (change) */
    snprintf(path, sizeof path, "%s/oscd_aguasclaras/cm/aguasclaras-cm.tif", data);
    p->yes = read_mask(path, p->w, p->h, 2);
    p->no = read_mask(path, p->w, p->h, 1);
    return p->yes && p->no ? 0 : -1;
}

static inline int load_taizhou(const char *data, labelled_pair *p)
{
    char path[2048];
    memset(p, 0, sizeof *p);
    p->name = "Taizhou", p->w = 400, p->h = 400;
    for (int k = 0; k < LABELLED_NB; k++) {
        snprintf(path, sizeof path, "%s/landsat7_changepair_taizhou/2000TM", data);
        p->a[k] = read_band(path, k + 1, p->w, p->h);
        snprintf(path, sizeof path, "%s/landsat7_changepair_taizhou/2003TM", data);
        p->b[k] = read_band(path, k + 1, p->w, p->h);
        if (!p->a[k] || !p->b[k]) return -1;
    }
    snprintf(path, sizeof path, "%s/landsat7_changepair_taizhou/change.bmp", data);
    p->yes = read_mask(path, p->w, p->h, -1);
    snprintf(path, sizeof path, "%s/landsat7_changepair_taizhou/unchanged.bmp", data);
    p->no = read_mask(path, p->w, p->h, -1);
    return p->yes && p->no ? 0 : -1;
}

#endif
