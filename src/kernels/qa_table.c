#include "minewatch/qa.h"

#include <string.h>

const mw_qa_flag_info mw_qa_flags[] = {
    {MW_QA_NODATA, "nodata", "no observation (outside the swath or fill)"},
    {MW_QA_CLOUD, "cloud", "opaque cloud (medium or high probability)"},
    {MW_QA_SHADOW, "shadow", "cloud shadow"},
    {MW_QA_CIRRUS, "cirrus", "thin cirrus"},
    {MW_QA_SNOW, "snow", "snow or ice"},
    {MW_QA_WATER, "water", "water (informative; not excluded by default)"},
    {MW_QA_SATURATED, "saturated", "saturated or defective pixel"},
    {MW_QA_DARK, "dark", "dark area or topographic shadow (informative)"},
};
const int mw_qa_nflags = (int)(sizeof mw_qa_flags / sizeof mw_qa_flags[0]);

int mw_qa_flag_by_name(const char *name)
{
    for (int i = 0; i < mw_qa_nflags; i++)
        if (strcmp(name, mw_qa_flags[i].name) == 0) return mw_qa_flags[i].bit;
    return 0;
}

/* The ESA SCL legend (see MW_SCL_CITATION); the index is the SCL value. */
const mw_scl_class mw_scl_classes[12] = {
    {0, "no_data", MW_QA_NODATA},
    {1, "saturated_or_defective", MW_QA_SATURATED},
    {2, "dark_area_pixels", MW_QA_DARK},
    {3, "cloud_shadows", MW_QA_SHADOW},
    {4, "vegetation", 0},
    {5, "not_vegetated", 0},
    {6, "water", MW_QA_WATER},
    {7, "unclassified", 0},
    {8, "cloud_medium_probability", MW_QA_CLOUD},
    {9, "cloud_high_probability", MW_QA_CLOUD},
    {10, "thin_cirrus", MW_QA_CIRRUS},
    {11, "snow", MW_QA_SNOW},
};

/* USGS, Landsat 8-9 Collection 2 Level 2 Science Product Guide (LSDS-1619), QA_PIXEL. */
const mw_qa_pixel_bit mw_landsat_qa_pixel_bits[8] = {
    {0, "fill", MW_QA_NODATA}, {1, "dilated_cloud", MW_QA_CLOUD}, {2, "cirrus", MW_QA_CIRRUS},
    {3, "cloud", MW_QA_CLOUD}, {4, "cloud_shadow", MW_QA_SHADOW}, {5, "snow", MW_QA_SNOW},
    {6, "clear", 0},           {7, "water", MW_QA_WATER},
};

uint8_t mw_qa_from_landsat(uint16_t qp, uint16_t radsat)
{
    uint8_t q = 0;
    for (int i = 0; i < 8; i++)
        if (qp & (1u << mw_landsat_qa_pixel_bits[i].bit)) q |= mw_landsat_qa_pixel_bits[i].qa;
    if (radsat & 0x1FFu) q |= MW_QA_SATURATED; /* bands 1-9 */
    return q;
}

void mw_qa_dilate(uint8_t *qa, int w, int h, uint8_t bits, int r, uint8_t *src)
{
    if (r <= 0 || !bits) return;
    memcpy(src, qa, (size_t)w * h);
    /* Separable max filter on the selected bits: rows, then columns. */
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t m = 0;
            for (int d = -r; d <= r; d++) {
                int xx = x + d;
                if (xx >= 0 && xx < w) m |= src[(size_t)y * w + xx] & bits;
            }
            qa[(size_t)y * w + x] = (uint8_t)(src[(size_t)y * w + x] | m);
        }
    memcpy(src, qa, (size_t)w * h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t m = 0;
            for (int d = -r; d <= r; d++) {
                int yy = y + d;
                if (yy >= 0 && yy < h) m |= src[(size_t)yy * w + x] & bits;
            }
            qa[(size_t)y * w + x] = (uint8_t)(src[(size_t)y * w + x] | m);
        }
}
