/* The site datacube: each scene's site window, harmonised to surface reflectance and QA-coded,
 * stored as a GeoTIFF chip on the site grid and reused by later runs. */
#ifndef MINEWATCH_CHIP_H
#define MINEWATCH_CHIP_H

#include <stdint.h>

#include "minewatch/export.h"
#include "minewatch/band.h"
#include "minewatch/grid.h"
#include "minewatch/scene.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which cloud and shadow mask a scene's QA band comes from. */
typedef enum mw_mask_source {
    MW_MASK_AUTO,     /* the scene's own (SCL, QA_PIXEL) when it has one, else the screen */
    MW_MASK_PROVIDER, /* the scene's own only: a scene without one is left out */
    MW_MASK_SCREEN,   /* the built-in screen (minewatch/cloud_screen.h) for every scene */
} mw_mask_source;
MW_API extern const char *const mw_mask_source_names[3]; /* "auto", "provider", "screen" */

typedef struct mw_chip {
    char *path;               /* Float32 reflectance, one band per requested band, NaN = no data */
    char *qa_path;            /* Byte, mw_qa_flag bits */
    char *mask;               /* where its QA came from: "SCL", "QA_PIXEL" or the screen's record */
    double clear_fraction;    /* of the site's pixels: observed and not excluded */
    double coverage_fraction; /* of the site's pixels: observed at all */
    int reused;               /* 1 if an existing chip with the same key was used */
} mw_chip;

typedef struct mw_ingest_options {
    const mw_band *bands; /* harmonised bands to keep, in chip band order */
    int nbands;
    int resample;       /* mw_resample for reflectance; QA is always nearest */
    uint8_t qa_exclude; /* for the chip's clear fraction */
    uint8_t qa_dilate;  /* QA flags grown by dilate_m */
    double dilate_m;
    /* Co-registration: resample the scene so its content moves by (shift_dx, shift_dy) pixels,
     * out(x) = scene(x - shift); one resampling from the scene, written as <chip>_coreg.tif. */
    double shift_dx, shift_dy;
    int mask_source; /* mw_mask_source */
    /* A chip for the co-registration estimate only (bands: NIR), written as <chip>_nir.tif: the
     * shift is estimated before the scene's full chip is made, so the scene is resampled once. */
    int estimate_only;
} mw_ingest_options;

/* Ingest one scene for one site into a COG chip. Returns 0 (chip ready), 1 (scene does not cover
 * the site: nothing written), or -1 with an error naming the scene. */
MW_API int mw_chip_ingest(const mw_scene *sc, const mw_grid *g, const char *site_dir,
                          const mw_ingest_options *o, const uint8_t *site_mask, mw_chip *out);
MW_API void mw_chip_free(mw_chip *c);
/* Writes <site_dir>/grid.json describing g (atomic). */
MW_API int mw_chip_write_grid(const char *site_dir, const mw_grid *g, const char *site_id);

#ifdef __cplusplus
}
#endif

#endif
