#include "minewatch/severity.h"

#include <math.h>

/* Key & Benson's thresholds are in dNBR x 1000; one line per class, in increasing order. */
// clang-format off
const mw_severity_class mw_severity_classes[] = {
    {"enhanced_regrowth_high", -INFINITY},
    {"enhanced_regrowth_low", -0.250},
    {"unburned", -0.100},
    {"low", 0.100},
    {"moderate_low", 0.270},
    {"moderate_high", 0.440},
    {"high", 0.660},
};
// clang-format on
const int mw_severity_nclasses = (int)(sizeof mw_severity_classes / sizeof mw_severity_classes[0]);
const char *const mw_severity_citation =
    "Key C.H. & Benson N.C. 2006, Landscape assessment (LA): sampling and analysis methods, USDA "
    "Forest Service RMRS-GTR-164-CD (dNBR x 1000 thresholds -250, -100, 100, 270, 440, 660)";

int mw_severity_of(double dnbr)
{
    if (isnan(dnbr)) return -1;
    int k = 0;
    while (k + 1 < mw_severity_nclasses && dnbr >= mw_severity_classes[k + 1].dnbr_min)
        k++;
    return k;
}
