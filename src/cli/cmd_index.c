/* index (one registered spectral index over band files or a STAC item) and indices (the
 * registry). */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/atomic_file.h"
#include "minewatch/index_stream.h"
#include "minewatch/scene.h"
#include "minewatch/spectral_index.h"

static int cmd_index(cli *c, int argc, char **argv)
{
    if (argc != 1) return cli_bad_usage(c); /* -o is required (the table) */
    const mw_spectral_index *ix = mw_spectral_index_find(argv[0]);
    if (!ix) {
        fprintf(stderr, "minewatch: error: unknown index '%s'; 'minewatch indices' lists them\n",
                argv[0]);
        return EXIT_BAD_INPUT;
    }
    mw_index_input in[MW_BAND_COUNT] = {{0}};
    char *paths[MW_BAND_COUNT] = {0};
    mw_scene sc = {0};
    int have_scene = 0;
    if (c->item) {
        if (mw_stac_item_read(c->item, &sc)) return cli_exit_for_error();
        have_scene = 1;
    }
    for (int b = 0; b < MW_BAND_COUNT; b++) {
        in[b].band = 1;
        in[b].scale = c->scale;
        in[b].offset = c->offset;
        in[b].has_nodata = c->has_nodata;
        in[b].nodata = c->nodata;
        if (c->band_file[b]) {
            paths[b] = strdup(c->band_file[b]);
            char *colon = strrchr(paths[b], ':');
            if (colon && colon[1] && strspn(colon + 1, "0123456789") == strlen(colon + 1)) {
                long bn;
                if (cli_parse_long(colon + 1, 1, 65535, &bn)) {
                    fprintf(stderr,
                            "minewatch: error: --%s '%s': the band number after ':' must be 1 "
                            "to 65535\n",
                            mw_bands[b].name, c->band_file[b]);
                    for (int k = 0; k <= b; k++)
                        free(paths[k]);
                    if (have_scene) mw_scene_free(&sc);
                    return EXIT_BAD_INPUT;
                }
                *colon = 0;
                in[b].band = (int)bn;
            }
            in[b].path = paths[b];
        } else if (have_scene && sc.bands[b].href) {
            in[b].path = sc.bands[b].href;
            in[b].scale = sc.bands[b].scale;
            in[b].offset = sc.bands[b].offset;
            in[b].has_nodata = 1;
            in[b].nodata = sc.bands[b].nodata;
        }
    }
    /* the one command of this process: it may set GDAL's block cache (see index_stream.h) */
    mw_index_options o = {(size_t)c->mem_mb * 1024 * 1024 / 2, c->chunk_rows, c->cog, c->compress,
                          1};
    const char *item_path[1] = {c->item};
    int rc = mw_output_path_check(c->out, item_path, 1) || mw_index_compute(ix, in, c->out, &o)
                 ? cli_exit_for_error()
                 : EXIT_OK;
    if (rc == EXIT_OK && !c->quiet) printf("%s written to %s\n", ix->name, c->out);
    for (int b = 0; b < MW_BAND_COUNT; b++)
        free(paths[b]);
    if (have_scene) mw_scene_free(&sc);
    return rc;
}

static int cmd_indices(cli *c, int argc, char **argv)
{
    (void)argv;
    if (argc) return cli_bad_usage(c);
    for (int i = 0; i < mw_spectral_nindices; i++) {
        const mw_spectral_index *x = &mw_spectral_indices[i];
        printf("%-10s %-52s %s\n", x->name, x->formula, x->citation);
    }
    return EXIT_OK;
}

// clang-format off
static const cli_use index_uses[] = {{O_OUT, "the index raster (Float32, tiled GeoTIFF)", USE_REQUIRED | USE_IN_ARGS}, {O_ITEM, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_BLUE, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_GREEN, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_RED, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_NIR, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_NIR08, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_SWIR16, NULL, USE_IN_ARGS}, {O_BAND0 + MW_BAND_SWIR22, NULL, USE_IN_ARGS}, {O_SCALE, NULL, 0}, {O_OFFSET, NULL, 0}, {O_NODATA, NULL, 0}, {O_COG, NULL, 0}, {O_COMPRESS, NULL, 0}, {O_CHUNK, "rows per chunk (default: from --mem, whole input blocks); the output does not depend on it", 0}, {O_THREADS, NULL, 0}, {O_MEM, NULL, 0}, {0}};
// clang-format on
static const cli_use no_uses[] = {{0}};

const cli_command cli_cmd_index = {
    "index",
    "NAME -o OUT.tif (--item ITEM.json | --red FILE[:BAND] --nir FILE[:BAND] ...)",
    "compute one registered index from band files or a STAC item",
    "Computes a registered spectral index (see 'minewatch indices') into a Float32 tiled "
    "GeoTIFF,\n"
    "streaming row strips sized from --mem. Bands come from a STAC item (with its own "
    "radiometry)\n"
    "or from files: --blue --green --red --nir --nir08 --swir16 --swir22, each FILE or "
    "FILE:BAND.\n"
    "Reflectance = DN x scale + offset (default 1 and 0). No data, saturated values (the largest\n"
    "value of integer inputs), zero denominators and values outside the index's range are "
    "written\n"
    "as NaN, the no-data value of every real-valued map minewatch writes. Bands on different\n"
    "grids are aligned to the finest. The output is the same, byte for byte, for any thread\n"
    "count, --mem and --chunk-rows.\n",
    NULL,
    index_uses,
    cmd_index};

const cli_command cli_cmd_indices = {
    "indices",
    "",
    "list the registered spectral indices with formulae and citations",
    "Lists the spectral index registry: name, formula, bands and citation.\n",
    NULL,
    no_uses,
    cmd_indices};
