/* Burn severity from dNBR = NBR(before) - NBR(after), classed by Key & Benson's table: fires set
 * to clear land for mines and smelter fuelwood show up here. */
#ifndef MINEWATCH_SEVERITY_H
#define MINEWATCH_SEVERITY_H

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_severity_class {
    const char *name;
    double dnbr_min; /* the class holds dnbr_min <= dNBR < the next class's dnbr_min */
} mw_severity_class;

MW_API extern const mw_severity_class mw_severity_classes[];
MW_API extern const int mw_severity_nclasses;
MW_API extern const char *const mw_severity_citation;

/* Index into mw_severity_classes, or -1 for NaN. */
MW_API int mw_severity_of(double dnbr);

#ifdef __cplusplus
}
#endif

#endif
