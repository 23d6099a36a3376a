#define _GNU_SOURCE /* sync_file_range */
#include "minewatch/index_stream.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_string.h>
#include <cpl_vsi.h>
#include <gdal.h>
#include <gdal_utils.h>
#include <omp.h>

#include "core/atomic_file.h"
#include "core/big_buffer.h"
#include "core/simd.h"
#include "minewatch/error.h"

#define TILE 256

typedef struct source {
    const char *path; /* what each thread opens */
    int band;
    double scale, offset, nodata, saturated;
    int has_nodata, has_saturated;
    int handle;        /* which per-thread dataset: one per distinct path */
    GDALDataType type; /* native type, read without GDAL's conversion */
    int bw, bh;        /* native block: read with GDALReadBlock, bypassing the block cache */
    int by_block;      /* 0: a block too large to hold, read through GDALRasterIO instead */
} source;

/* Native numbers to float, no data and saturation to NaN: the one conversion of an input value.
 * Types up to 16 bits are exact in float and compare there (a vector loop); wider ones in double.
 */
#define MW_CONVERT(T, C)                                                                           \
    do {                                                                                           \
        const T *restrict p = in;                                                                  \
        const C ndc = (C)nd, satc = (C)sat;                                                        \
        _Pragma("omp simd") for (size_t i = 0; i < n; i++)                                         \
        {                                                                                          \
            const C d = (C)p[i];                                                                   \
            out[i] = ((hn && d == ndc) | (hs && d == satc)) ? NAN : (float)d;                      \
        }                                                                                          \
    } while (0)

MW_TARGET_CLONES
static void to_float(const source *s, const void *in, float *restrict out, size_t n)
{
    const int hn = s->has_nodata, hs = s->has_saturated;
    const double nd = s->nodata, sat = s->saturated;
    switch (s->type) {
    case GDT_Byte:
        MW_CONVERT(uint8_t, float);
        break;
    case GDT_UInt16:
        MW_CONVERT(uint16_t, float);
        break;
    case GDT_Int16:
        MW_CONVERT(int16_t, float);
        break;
    case GDT_UInt32:
        MW_CONVERT(uint32_t, double);
        break;
    case GDT_Int32:
        MW_CONVERT(int32_t, double);
        break;
    case GDT_Float32:
        MW_CONVERT(float, double);
        break;
    default:
        MW_CONVERT(double, double);
        break;
    }
}
#undef MW_CONVERT

/* Types read natively; anything else is asked of GDAL as Float64. */
static int native_type(GDALDataType t)
{
    return t == GDT_Byte || t == GDT_UInt16 || t == GDT_Int16 || t == GDT_UInt32 ||
           t == GDT_Int32 || t == GDT_Float32 || t == GDT_Float64;
}

#define MAX_BLOCK_BYTES                                                                            \
    ((size_t)16 << 20) /* larger blocks (single-strip files) go via RasterIO                       \
                        */

/* Rows [r0, r0+nr) and columns [xs, xs+cw) of sources idx[0..n) (one dataset, one block shape)
 * into dst[k] as float, cw values a row. Blocks are read in place with GDALReadBlock, every band
 * of a block in turn, so a pixel-interleaved file is read once per block; xs and cw are whole
 * blocks (or the whole width). */
static int read_blocks(GDALDatasetH h, const source *src, const int *idx, int n, int r0, int nr,
                       int xs, int cw, int W, int H, void *scratch, float *const dst[4])
{
    const int bw = src[idx[0]].bw, bh = src[idx[0]].bh;
    const int xe = xs + cw < W ? xs + cw : W;
    const size_t esize = (size_t)GDALGetDataTypeSizeBytes(src[idx[0]].type);
    for (int by = r0 / bh; by <= (r0 + nr - 1) / bh; by++) {
        const int y0 = by * bh > r0 ? by * bh : r0;
        const int y1 = (by + 1) * bh < r0 + nr ? (by + 1) * bh : r0 + nr;
        for (int bx = xs / bw; bx * bw < xe; bx++) {
            const int x0 = bx * bw, w = x0 + bw <= W ? bw : W - x0;
            for (int j = 0; j < n; j++) {
                const source *s = &src[idx[j]];
                if (GDALReadBlock(GDALGetRasterBand(h, s->band), bx, by, scratch) != CE_None)
                    return -1;
                for (int y = y0; y < y1 && y < H; y++)
                    to_float(s, (const char *)scratch + (size_t)(y - by * bh) * bw * esize,
                             dst[idx[j]] + (size_t)(y - r0) * cw + (x0 - xs), (size_t)w);
            }
        }
    }
    return 0;
}

/* Rows through GDAL's own path (cache and conversion): for blocks too large to hold. */
static int read_rasterio(GDALDatasetH h, const source *s, int r0, int nr, int W, double *tmp,
                         float *dst)
{
    if (GDALRasterIO(GDALGetRasterBand(h, s->band), GF_Read, 0, r0, W, nr, tmp, W, nr, GDT_Float64,
                     0, 0) != CE_None)
        return -1;
    source d = *s;
    d.type = GDT_Float64;
    to_float(&d, tmp, dst, (size_t)W * nr);
    return 0;
}

/* The output is written tile by tile with GDALWriteBlock, in tile order, so the file's layout is
 * fixed by the tile grid alone, never by the chunk height or the thread that computed a chunk.
 * Each thread computes its chunk straight into tile layout; chunks that cover whole tile rows
 * are written from there, and a tile row split between chunks is gathered in `stage` first. */
typedef struct tile_writer {
    GDALRasterBandH band;
    int W, H, ntx;
    float *stage; /* one tile row (ntx tiles) being filled by consecutive chunks */
} tile_writer;

#define TILE_PX ((size_t)TILE * TILE)

/* Rows [r0, r0+nr) and the tile columns of [xs, xs+cw) of the index into `tiles` (tile rows
 * from r0/TILE on), from band rows of cw values; no data as the no-data value and the padding
 * past the right edge fixed, so every byte written is defined. */
static void compute_tiles(const mw_spectral_index *ix, const float *const rows[MW_BAND_COUNT],
                          const double *scale, const double *offset, int whole, int r0, int nr,
                          int xs, int cw, int W, float *tiles)
{
    const int ntx = (W + TILE - 1) / TILE, ty0 = r0 / TILE;
    const int xe = xs + cw < W ? xs + cw : W;
    for (int y = r0; y < r0 + nr; y++) {
        float *trow =
            tiles + ((size_t)(y / TILE - ty0) * ntx * TILE_PX) + (size_t)(y % TILE) * TILE;
        for (int tx = xs / TILE; tx * TILE < xe; tx++) {
            const int x0 = tx * TILE, w = x0 + TILE <= W ? TILE : W - x0;
            const float *seg[MW_BAND_COUNT] = {0};
            for (int k = 0; k < ix->nbands; k++) {
                const int b = ix->bands[k];
                seg[b] = rows[b] + (size_t)(y - r0) * cw + (x0 - xs);
            }
            float *d = trow + (size_t)tx * TILE_PX;
            if (whole)
                mw_spectral_index_row_int(ix, seg, scale, offset, d, (size_t)w);
            else
                mw_spectral_index_row_dn(ix, seg, scale, offset, d, (size_t)w);
#pragma omp simd
            for (int x = 0; x < w; x++) /* NaN compares false */
                d[x] = d[x] == d[x] ? d[x] : MW_INDEX_NODATA;
            for (int x = w; x < TILE; x++)
                d[x] = MW_INDEX_NODATA;
        }
    }
}

static int write_tiles(tile_writer *t, float *tiles, int ty)
{
    const int valid = ty * TILE + TILE <= t->H ? TILE : t->H - ty * TILE;
    for (int tx = 0; tx < t->ntx; tx++) {
        float *tile = tiles + (size_t)tx * TILE_PX;
        for (size_t i = (size_t)valid * TILE; i < TILE_PX; i++)
            tile[i] = MW_INDEX_NODATA; /* rows past the bottom edge */
        if (GDALWriteBlock(t->band, tx, ty, tile) != CE_None) return -1;
    }
    return 0;
}

/* Called in row order with each chunk's tiles. */
static int put_chunk(tile_writer *t, float *tiles, int r0, int nr)
{
    const int ty0 = r0 / TILE;
    for (int ty = ty0; ty * TILE < r0 + nr; ty++) {
        const int top = ty * TILE, end = top + TILE <= t->H ? top + TILE : t->H;
        const int a = r0 > top ? r0 : top, b = r0 + nr < end ? r0 + nr : end;
        float *mine = tiles + (size_t)(ty - ty0) * t->ntx * TILE_PX;
        if (a == top && b == end) {
            if (write_tiles(t, mine, ty)) return -1;
            continue;
        }
        for (int tx = 0; tx < t->ntx; tx++)
            memcpy(t->stage + tx * TILE_PX + (size_t)(a - top) * TILE,
                   mine + tx * TILE_PX + (size_t)(a - top) * TILE,
                   (size_t)(b - a) * TILE * sizeof(float));
        if (b == end && write_tiles(t, t->stage, ty)) return -1;
    }
    return 0;
}

static int same_grid(GDALDatasetH a, GDALDatasetH b)
{
    double ga[6], gb[6];
    if (GDALGetRasterXSize(a) != GDALGetRasterXSize(b) ||
        GDALGetRasterYSize(a) != GDALGetRasterYSize(b))
        return 0;
    if (GDALGetGeoTransform(a, ga) != CE_None || GDALGetGeoTransform(b, gb) != CE_None) return 0;
    for (int i = 0; i < 6; i++)
        if (fabs(ga[i] - gb[i]) > 1e-9 * (fabs(ga[i]) + 1)) return 0;
    return 1;
}

/* The largest value of an integer type: a saturated detector reading. */
static int saturated_value(GDALDataType t, double *v)
{
    switch (t) {
    case GDT_Byte:
        *v = 255;
        return 1;
    case GDT_UInt16:
        *v = 65535;
        return 1;
    case GDT_Int16:
        *v = 32767;
        return 1;
    default:
        return 0;
    }
}

/* Bands on different grids are aligned onto the union of their extents; bands of different
 * places would make that union a huge, mostly empty raster (two tiles far apart: 33006 x 882428
 * pixels). They must cover the same area, within a tenth. */
static int bands_apart(const mw_spectral_index *ix, const mw_index_input *in, double ext[][4])
{
    double u[4] = {ext[0][0], ext[0][1], ext[0][2], ext[0][3]}, v[4] = {u[0], u[1], u[2], u[3]};
    double largest = 0;
    for (int k = 0; k < ix->nbands; k++) {
        u[0] = fmin(u[0], ext[k][0]), u[1] = fmin(u[1], ext[k][1]);
        u[2] = fmax(u[2], ext[k][2]), u[3] = fmax(u[3], ext[k][3]);
        v[0] = fmax(v[0], ext[k][0]), v[1] = fmax(v[1], ext[k][1]);
        v[2] = fmin(v[2], ext[k][2]), v[3] = fmin(v[3], ext[k][3]);
        largest = fmax(largest, (ext[k][2] - ext[k][0]) * (ext[k][3] - ext[k][1]));
    }
    const double uni = (u[2] - u[0]) * (u[3] - u[1]);
    const double inter = v[2] > v[0] && v[3] > v[1] ? (v[2] - v[0]) * (v[3] - v[1]) : 0;
    if (inter > 0 && uni <= 1.1 * largest) return 0;
    return mw_error_set(MW_ERR_INPUT,
                        "index '%s': the input bands cover different areas ('%s' spans %g..%g x "
                        "%g..%g, '%s' %g..%g x %g..%g%s); give bands of one scene",
                        ix->name, in[ix->bands[0]].path, ext[0][0], ext[0][2], ext[0][1], ext[0][3],
                        in[ix->bands[1]].path, ext[1][0], ext[1][2], ext[1][1], ext[1][3],
                        inter > 0 ? "" : ", not overlapping at all");
}

/* What mw_index_compute reads and how: the sources (after alignment), the grid, and the chunks. */
typedef struct index_plan {
    source src[4];
    char vrt[128], one[4][160]; /* /vsimem VRTs made to align the bands ("" none) */
    int W, H;
    double gt[6];
    char *wkt;
    const char *paths[4]; /* one dataset per distinct path, each thread its own handles */
    int npaths;
    size_t scratch_bytes;  /* the largest native block */
    int cw, rows, nstrips; /* column segment, chunk height, chunks */
} index_plan;

/* Opens and checks every input (band, no-data, saturation, extent); bands on different grids
 * are aligned to the finest through a VRT. *first: the dataset whose grid is the output's. */
static int index_inputs(const mw_spectral_index *ix, const mw_index_input in[MW_BAND_COUNT],
                        index_plan *pl, GDALDatasetH *first_out)
{
    source *src = pl->src;
    char *vrt = pl->vrt;
    char(*one)[160] = pl->one;
    GDALDatasetH first = NULL;
    int aligned = 1;
    double ext[4][4]; /* each input's extent: west, south, east, north */
    for (int k = 0; k < ix->nbands; k++) {
        const mw_index_input *p = &in[ix->bands[k]];
        if (!p->path)
            return mw_error_set(MW_ERR_INPUT,
                                "index '%s' needs the '%s' band (%s); give it with --%s FILE",
                                ix->name, mw_bands[ix->bands[k]].name,
                                mw_bands[ix->bands[k]].s2_name, mw_bands[ix->bands[k]].name);
        GDALDatasetH ds = GDALOpenEx(p->path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
        if (!ds) {
            if (first) GDALClose(first);
            return mw_error_from_gdal(MW_ERR_INPUT, "cannot open '%s' (band %s)", p->path,
                                      mw_bands[ix->bands[k]].name);
        }
        int nb = GDALGetRasterCount(ds);
        if (p->band < 1 || p->band > nb) {
            GDALClose(ds);
            if (first) GDALClose(first);
            return mw_error_set(MW_ERR_INPUT, "'%s' has %d band(s); band %d was asked for %s",
                                p->path, nb, p->band, mw_bands[ix->bands[k]].name);
        }
        GDALRasterBandH b = GDALGetRasterBand(ds, p->band);
        int hn = 0;
        double nd = GDALGetRasterNoDataValue(b, &hn);
        src[k] = (source){.path = p->path,
                          .band = p->band,
                          .scale = p->scale,
                          .offset = p->offset,
                          .nodata = p->has_nodata ? p->nodata : nd,
                          .has_nodata = p->has_nodata || hn};
        src[k].has_saturated = saturated_value(GDALGetRasterDataType(b), &src[k].saturated);
        double gt[6] = {0, 1, 0, 0, 0, 1};
        GDALGetGeoTransform(ds, gt);
        const double xa = gt[0], xb = gt[0] + gt[1] * GDALGetRasterXSize(ds);
        const double ya = gt[3], yb = gt[3] + gt[5] * GDALGetRasterYSize(ds);
        ext[k][0] = fmin(xa, xb), ext[k][2] = fmax(xa, xb);
        ext[k][1] = fmin(ya, yb), ext[k][3] = fmax(ya, yb);
        if (!first)
            first = ds;
        else {
            aligned &= same_grid(first, ds);
            GDALClose(ds);
        }
    }
    if (!aligned && bands_apart(ix, in, ext)) {
        GDALClose(first);
        return -1;
    }
    if (!aligned) {
        /* Bands on different grids (10 m and 20 m): a VRT on the finest grid, one band each. */
        /* Bands taken from multi-band files are first cut out into single-band VRTs. */
        const char *paths[4];
        for (int k = 0; k < ix->nbands; k++) {
            paths[k] = src[k].path;
            one[k][0] = 0;
            if (src[k].band == 1) continue;
            snprintf(one[k], sizeof pl->one[k], "/vsimem/mw_index_%ld_%p_%d.vrt", (long)getpid(),
                     (void *)src, k);
            char bn[16];
            snprintf(bn, sizeof bn, "%d", src[k].band);
            char *targv[] = {"-of", "VRT", "-b", bn, NULL};
            GDALTranslateOptions *to = GDALTranslateOptionsNew(targv, NULL);
            GDALDatasetH sd = GDALOpen(src[k].path, GA_ReadOnly);
            GDALDatasetH t = sd ? GDALTranslate(one[k], sd, to, NULL) : NULL;
            GDALTranslateOptionsFree(to);
            if (t) GDALClose(t);
            if (sd) GDALClose(sd);
            if (!t) {
                GDALClose(first);
                return mw_error_from_gdal(MW_ERR_INPUT, "cannot take band %d of '%s'", src[k].band,
                                          src[k].path);
            }
            paths[k] = one[k];
        }
        snprintf(vrt, sizeof pl->vrt, "/vsimem/mw_index_%ld_%p.vrt", (long)getpid(), (void *)src);
        char *argv[] = {"-separate", "-resolution", "highest", "-r", "nearest", NULL};
        GDALBuildVRTOptions *bo = GDALBuildVRTOptionsNew(argv, NULL);
        GDALDatasetH v = GDALBuildVRT(vrt, ix->nbands, NULL, paths, bo, NULL);
        GDALBuildVRTOptionsFree(bo);
        if (!v) {
            GDALClose(first);
            return mw_error_from_gdal(MW_ERR_INPUT, "cannot align the input bands onto one grid");
        }
        GDALClose(v);
        for (int k = 0; k < ix->nbands; k++) {
            src[k].path = vrt;
            src[k].band = k + 1;
        }
        GDALClose(first);
        first = GDALOpen(vrt, GA_ReadOnly);
    }
    *first_out = first;
    return first ? 0 : mw_error_from_gdal(MW_ERR_INPUT, "cannot open the aligned bands");
}

/* The output grid from first (closed here), how each source is read (native type and block),
 * the column segments and the chunk height. */
static int index_layout(const mw_spectral_index *ix, const mw_index_options *o, index_plan *pl,
                        GDALDatasetH first)
{
    source *src = pl->src;
    const int W = GDALGetRasterXSize(first), H = GDALGetRasterYSize(first);
    double *gt = pl->gt;
    GDALGetGeoTransform(first, gt);
    char *wkt = CPLStrdup(GDALGetProjectionRef(first));
    GDALClose(first);
    /* How each source is read: its native type and block, one dataset per distinct path. */
    const char **paths = pl->paths;
    int npaths = 0, maxbh = 1;
    size_t scratch_bytes = 0;
    for (int k = 0; k < ix->nbands; k++) {
        int j = 0;
        while (j < npaths && strcmp(paths[j], src[k].path) != 0)
            j++;
        if (j == npaths) paths[npaths++] = src[k].path;
        src[k].handle = j;
        GDALDatasetH ds = GDALOpen(src[k].path, GA_ReadOnly);
        if (!ds) {
            CPLFree(wkt);
            return mw_error_from_gdal(MW_ERR_INPUT, "cannot open '%s'", src[k].path);
        }
        GDALRasterBandH b = GDALGetRasterBand(ds, src[k].band);
        GDALGetBlockSize(b, &src[k].bw, &src[k].bh);
        src[k].type = GDALGetRasterDataType(b);
        GDALClose(ds);
        const size_t bb =
            (size_t)src[k].bw * src[k].bh * (size_t)GDALGetDataTypeSizeBytes(src[k].type);
        src[k].by_block = native_type(src[k].type) && bb <= MAX_BLOCK_BYTES;
        if (src[k].by_block && bb > scratch_bytes) scratch_bytes = bb;
        if (src[k].by_block && src[k].bh > maxbh) maxbh = src[k].bh;
    }
    /* Column segments: when every source is read by whole blocks whose widths are whole output
     * tiles, a chunk is read and computed a few blocks wide at a time (cw columns: the widest
     * block, a multiple of every other), so a thread holds a few blocks of each band instead of
     * whole rows; else the whole width at once. */
    int cw = 0;
    for (int k = 0; k < ix->nbands; k++) {
        const int bw = src[k].bw;
        if (!src[k].by_block || bw % TILE || (cw && (cw > bw ? cw % bw : bw % cw)))
            cw = W;
        else if (bw > cw)
            cw = bw;
    }
    if (cw > W) cw = W;
    /* Chunk height: whole input blocks, so no block is read twice, and at least 512 rows (a
     * chunk is a unit of the ordered write: small ones balance the threads); lower only when the
     * budget (every thread's tiles and band segments) asks for it. Or exactly the rows asked
     * for. */
    int nthreads = omp_get_max_threads();
    size_t per_row = ((size_t)W + (size_t)cw * (size_t)ix->nbands) * sizeof(float);
    int rows = o->chunk_rows;
    if (rows <= 0) {
        const int unit = maxbh < TILE ? TILE : maxbh;
        const int fit = (int)(o->mem_budget_bytes / ((size_t)nthreads * per_row)) / unit * unit;
        rows = (512 + unit - 1) / unit * unit;
        if (fit < rows) rows = fit < unit ? unit : fit;
    }
    if (rows > H) rows = H;
    const int nstrips = (H + rows - 1) / rows;
    pl->W = W, pl->H = H, pl->wkt = wkt, pl->npaths = npaths, pl->scratch_bytes = scratch_bytes;
    pl->cw = cw, pl->rows = rows, pl->nstrips = nstrips;
    return 0;
}

/* Reads, computes and writes every chunk: read and computed on every thread, handed to the
 * file in row order. 0, or -1 with *first_err (caller frees) saying which rows failed. */
static int index_stream(const mw_spectral_index *ix, const index_plan *pl, GDALRasterBandH ob,
                        const double scale[MW_BAND_COUNT], const double offset[MW_BAND_COUNT],
                        int whole, int flush_fd, char **first_err_out)
{
    const source *src = pl->src;
    const int W = pl->W, H = pl->H, cw = pl->cw, rows = pl->rows, nstrips = pl->nstrips,
              npaths = pl->npaths;
    const char *const *paths = pl->paths;
    const size_t scratch_bytes = pl->scratch_bytes;
    int failed = 0;
    char *first_err = NULL;
    const int ntx = (W + TILE - 1) / TILE;
    /* tile rows a chunk can touch: one more when chunks do not start on a tile row */
    const int span = rows % TILE == 0 ? rows / TILE : (rows - 1 + TILE - 1) / TILE + 1;
    tile_writer tw = {ob, W, H, ntx, mw_big_alloc((size_t)ntx * TILE_PX * sizeof(float))};
    if (!tw.stage) failed = 1, first_err = strdup("out of memory");
#pragma omp parallel
    {
        GDALDatasetH h[4] = {0};
        float *buf = mw_big_alloc((size_t)cw * rows * sizeof(float) * (size_t)ix->nbands);
        float *tiles = mw_big_alloc((size_t)span * ntx * TILE_PX * sizeof(float));
        void *scratch = malloc(scratch_bytes ? scratch_bytes : 1);
        double *f64 = NULL;
        int ok = buf && tiles && scratch;
        for (int j = 0; j < npaths && ok; j++)
            ok = (h[j] = GDALOpen(paths[j], GA_ReadOnly)) != NULL;
        for (int k = 0; k < ix->nbands && ok; k++)
            if (!src[k].by_block && !f64)
                ok = (f64 = malloc((size_t)W * rows * sizeof(double))) != NULL;
        float *dst[4] = {0};
        const float *rowsp[MW_BAND_COUNT] = {0};
        for (int k = 0; k < ix->nbands && buf; k++) {
            dst[k] = buf + (size_t)k * cw * rows;
            rowsp[ix->bands[k]] = dst[k];
        }
#pragma omp for ordered schedule(static, 1)
        for (int s = 0; s < nstrips; s++) {
            const int r0 = s * rows, nr = r0 + rows <= H ? rows : H - r0;
            int err = !ok;
            for (int xs = 0; xs < W && !err; xs += cw) {
                /* Sources of one dataset with one block shape are read together, block by
                 * block. */
                int done[4] = {0};
                for (int k = 0; k < ix->nbands && !err; k++) {
                    if (done[k]) continue;
                    if (!src[k].by_block) { /* only with cw == W */
                        err = read_rasterio(h[src[k].handle], &src[k], r0, nr, W, f64, dst[k]);
                        done[k] = 1;
                        continue;
                    }
                    int idx[4], m = 0;
                    for (int j = k; j < ix->nbands; j++)
                        if (!done[j] && src[j].by_block && src[j].handle == src[k].handle &&
                            src[j].bw == src[k].bw && src[j].bh == src[k].bh &&
                            src[j].type == src[k].type)
                            idx[m++] = j, done[j] = 1;
                    err = read_blocks(h[src[k].handle], src, idx, m, r0, nr, xs, cw, W, H, scratch,
                                      dst);
                }
                if (!err) compute_tiles(ix, rowsp, scale, offset, whole, r0, nr, xs, cw, W, tiles);
            }
#pragma omp ordered
            {
                /* In row order: the tiles go to the file in the same order whatever the thread
                 * count or chunk height. */
                if (!err && !failed) {
                    CPLErrorReset();
                    err = put_chunk(&tw, tiles, r0, nr) != 0;
                    err |= CPLGetLastErrorType() == CE_Failure;
#ifdef SYNC_FILE_RANGE_WRITE
                    if (flush_fd >= 0) sync_file_range(flush_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
#endif
                }
                if (err && !failed) {
                    failed = 1;
                    mw_error_from_gdal(MW_ERR_IO,
                                       "index '%s': reading or writing rows %d-%d failed", ix->name,
                                       r0, r0 + nr - 1);
                    first_err = strdup(mw_error_message());
                }
            }
        }
        for (int j = 0; j < npaths; j++)
            if (h[j]) GDALClose(h[j]);
        free(buf), free(tiles), free(scratch), free(f64);
    }
    free(tw.stage);
    *first_err_out = first_err;
    return failed ? -1 : 0;
}

int mw_index_compute(const mw_spectral_index *ix, const mw_index_input in[MW_BAND_COUNT],
                     const char *out_path, const mw_index_options *o)
{
    index_plan pl = {0};
    source *src = pl.src;
    const char *vrt = pl.vrt;
    char(*one)[160] = pl.one;
    int rc = 0;
    /* The output never replaces an input or a device: the rename would destroy it. */
    const char *in_paths[4] = {0};
    for (int k = 0; k < ix->nbands; k++)
        in_paths[k] = in[ix->bands[k]].path;
    if (mw_output_path_check(out_path, in_paths, ix->nbands)) return -1;
    GDALDatasetH first = NULL;
    if (index_inputs(ix, in, &pl, &first) || index_layout(ix, o, &pl, first)) return -1;
    const int W = pl.W, H = pl.H;
    double *gt = pl.gt;
    char *wkt = pl.wkt;
    const int nthreads = omp_get_max_threads();
    char *tmp = mw_part_path(out_path), *tmp2 = o->cog ? mw_part_path(tmp) : NULL;
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "BLOCKXSIZE", "256");
    co = CSLSetNameValue(co, "BLOCKYSIZE", "256");
    const char *comp = o->compress ? o->compress : "DEFLATE";
    co = CSLSetNameValue(co, "COMPRESS", comp);
    if (strcasecmp(comp, "NONE") != 0) co = CSLSetNameValue(co, "PREDICTOR", "3");
    if (strcasecmp(comp, "DEFLATE") == 0) co = CSLSetNameValue(co, "ZLEVEL", "1");
    if ((double)W * H * 4 > 3.5e9) co = CSLSetNameValue(co, "BIGTIFF", "YES");
    /* Tiles are compressed on every thread by GTiff's own pool and still written in the order
     * they were handed over, so the file's bytes do not depend on the thread count. */
    char nt[16];
    snprintf(nt, sizeof nt, "%d", nthreads);
    if (strcasecmp(comp, "NONE") != 0 && nthreads > 1) co = CSLSetNameValue(co, "NUM_THREADS", nt);
    GDALDatasetH out =
        GDALCreate(GDALGetDriverByName("GTiff"), o->cog ? tmp2 : tmp, W, H, 1, GDT_Float32, co);
    CSLDestroy(co);
    if (!out) {
        CPLFree(wkt);
        free(tmp), free(tmp2);
        return mw_error_from_gdal(MW_ERR_IO, "cannot create '%s'", out_path);
    }
    GDALSetGeoTransform(out, gt);
    GDALSetProjection(out, wkt);
    CPLFree(wkt);
    /* The file goes to the disk while later chunks are computed (writeback started after each
     * chunk), so the fsync of the commit finds little left to write. */
    const int flush_fd = o->cog ? -1 : open(tmp, O_RDONLY | O_CLOEXEC);
    GDALRasterBandH ob = GDALGetRasterBand(out, 1);
    GDALSetRasterNoDataValue(ob, MW_INDEX_NODATA);
    GDALSetDescription(ob, ix->name);
    GDALSetMetadataItem(out, "MW_INDEX", ix->name, NULL);
    GDALSetMetadataItem(out, "MW_FORMULA", ix->formula, NULL);
    GDALSetMetadataItem(out, "MW_CITATION", ix->citation, NULL);
    double scale[MW_BAND_COUNT] = {0}, offset[MW_BAND_COUNT] = {0};
    for (int k = 0; k < ix->nbands; k++) {
        scale[ix->bands[k]] = src[k].scale;
        offset[ix->bands[k]] = src[k].offset;
    }
    /* Every block is read and written directly, so GDAL's cache would only hold the other bands
     * of pixel-interleaved blocks that GTiff copies in ahead (FillCacheForOtherBands): allocating
     * and filling those costs a fifth of the run. A cache smaller than one block per band turns
     * that off; it is restored on return. Only when the caller allows it: the setting is the
     * process's. */
    const GIntBig cache_before = GDALGetCacheMax64();
    int direct = o->may_set_block_cache;
    GIntBig smallest = cache_before;
    for (int k = 0; k < ix->nbands; k++) {
        direct &= src[k].by_block;
        const GIntBig bb = (GIntBig)src[k].bw * src[k].bh * GDALGetDataTypeSizeBytes(src[k].type);
        if (bb < smallest) smallest = bb;
    }
    if (direct && !vrt[0]) GDALSetCacheMax64(smallest);
    int whole = 1; /* every input holds whole DN that float arithmetic keeps exact */
    for (int k = 0; k < ix->nbands; k++)
        whole &= src[k].type == GDT_Byte || src[k].type == GDT_UInt16 || src[k].type == GDT_Int16;
    char *first_err = NULL;
    int failed = index_stream(ix, &pl, ob, scale, offset, whole, flush_fd, &first_err) != 0;
    if (flush_fd >= 0) close(flush_fd);
    if (direct && !vrt[0]) GDALSetCacheMax64(cache_before);
    if (mw_gdal_close_written(out, out_path) && !failed) {
        failed = 1;
        first_err = strdup(mw_error_message());
    }
    if (vrt[0]) VSIUnlink(vrt);
    for (int k = 0; k < 4; k++)
        if (one[k][0]) VSIUnlink(one[k]);
    if (!failed && o->cog) {
        GDALDatasetH t = GDALOpen(tmp2, GA_ReadOnly);
        char **cc = CSLSetNameValue(NULL, "COMPRESS", "DEFLATE");
        cc = CSLSetNameValue(cc, "PREDICTOR", "YES");
        cc = CSLSetNameValue(cc, "LEVEL", "1");
        cc = CSLSetNameValue(cc, "NUM_THREADS", nt);
        GDALDatasetH c =
            t ? GDALCreateCopy(GDALGetDriverByName("COG"), tmp, t, FALSE, cc, NULL, NULL) : NULL;
        CSLDestroy(cc);
        if (!c) {
            failed = 1;
            mw_error_from_gdal(MW_ERR_IO, "cannot write the COG '%s'", out_path);
            first_err = strdup(mw_error_message());
        } else if (mw_gdal_close_written(c, out_path)) {
            failed = 1;
            first_err = strdup(mw_error_message());
        }
        if (t) GDALClose(t);
        mw_remove_tree(tmp2);
    }
    if (failed) {
        mw_error_set(MW_ERR_IO, "%s", first_err ? first_err : "index failed");
        mw_remove_tree(tmp);
        rc = -1;
    } else {
        rc = mw_commit_path(tmp, out_path);
    }
    free(first_err);
    free(tmp), free(tmp2);
    return rc;
}
