/* The forest rule's citation and the loss-map opening. */
#ifndef MINEWATCH_FOREST_CHANGE_H
#define MINEWATCH_FOREST_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MW_FOREST_RULE_CITATION                                                                    \
    "Forest: composite NDVI >= forest_ndvi_min, a proxy for the Global Forest Watch definition "   \
    "(> 30 % canopy of trees >= 5 m; Hansen et al. 2013, Science 342:850). Loss: forest in the "   \
    "baseline, not forest now, and an NDVI drop >= loss_ndvi_drop_min (stand-replacing clearing)"

/* Morphological opening of a 0/1 loss map by a k x k square: a pixel stays only if some k x k
 * block holding it is all loss. With k = 2 this drops one-pixel slivers along edges, the mark of
 * sub-pixel misregistration between composites (Sentinel-2: up to ~1 px), while every patch at
 * least two pixels thick keeps its exact shape. k <= 1 leaves the map unchanged. scratch holds
 * w*h bytes. Soille P. 2003, Morphological Image Analysis, ch. 4 (opening). */
MW_API void mw_loss_open(uint8_t *loss, int w, int h, int k, uint8_t *scratch);
#define MW_LOSS_OPENING_CITATION                                                                   \
    "loss map opened by a k x k square (k = loss_min_width_px; Soille 2003, Morphological Image "  \
    "Analysis, ch. 4): removes slivers narrower than k pixels left by sub-pixel misregistration "  \
    "between composites"

#ifdef __cplusplus
}
#endif

#endif
