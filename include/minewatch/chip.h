/* The site datacube: each scene's site window, harmonised to surface reflectance and QA-coded,
 * stored as a GeoTIFF chip on the site grid and reused by later runs. */
#ifndef MINEWATCH_CHIP_H
#define MINEWATCH_CHIP_H

#include <stdint.h>

#include "minewatch/band.h"
#include "minewatch/grid.h"
#include "minewatch/scene.h"

typedef struct mw_chip {
    char *path;               /* Float32 reflectance, one band per requested band, NaN = no data */
    char *qa_path;            /* Byte, mw_qa_flag bits */
    double clear_fraction;    /* of the site's pixels: observed and not excluded */
    double coverage_fraction; /* of the site's pixels: observed at all */
    int reused;               /* 1 if an existing chip with the same key was used */
} mw_chip;

/* Ingest one scene for one site. Returns 0 (chip ready), 1 (scene does not cover the site:
 * nothing written), or -1 with an error naming the scene. */
int mw_chip_ingest(const mw_scene *sc, const mw_grid *g, const char *site_dir, const mw_band *bands,
                   int nbands, const uint8_t *site_mask, uint8_t qa_exclude, mw_chip *out);
void mw_chip_free(mw_chip *c);
/* Writes <site_dir>/grid.json describing g (atomic). */
int mw_chip_write_grid(const char *site_dir, const mw_grid *g, const char *site_id);

#endif
