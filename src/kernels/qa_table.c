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
