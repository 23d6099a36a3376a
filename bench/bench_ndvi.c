/* Benchmark (not a test): NDVI over a Sentinel-2-tile-sized raster (10980 x 10980, red and NIR as
 * UInt16) in the layouts users download, each with an uncompressed and a DEFLATE output, by
 * minewatch (2 threads and 1), gdal_calc.py (GDAL_CACHEMAX=64) and OTB BandMath, every tool
 * given the same output options (Float32, 256 x 256 tiles, DEFLATE with the floating-point
 * predictor at level 1, or none), against a plain copy of the input files as the I/O floor.
 * Prints median wall times, peak RSS and the ratios the goals are stated in.
 *
 * usage: bench_ndvi OUT_DIR MINEWATCH   (MW_BENCH_RUNS: runs of minewatch and the copy, default
 * 3; MW_BENCH_PEER_RUNS: runs of the peers, default 1) */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cpl_string.h>
#include <gdal.h>
#include <gdal_utils.h>

#include "core/atomic_file.h"
#include "core/hash_random.h"
#include "minewatch/grid.h"
#include "bench_util.h"

#define N 10980

typedef struct result {
    double med_s, rss_mb;
    int ran;
} result;

/* Runs argv (env additions in env) `runs` times, each until its output is on the disk (then
 * `sync FILE`, an fsync: minewatch commits its outputs that way, and a time without it would
 * only measure the page cache); median wall time and the largest peak RSS. The outputs are
 * removed before each run, so no tool pays for replacing the previous run's file. */
static result measure(char *const argv[], const char *env, const char *out, const char *out2,
                      int runs)
{
    result r = {0, 0, 0};
    double t[16];
    for (int i = 0; i < runs && i < 16; i++) {
        unlink(out);
        if (out2) unlink(out2);
        sync();
        double t0 = now();
        pid_t p = fork();
        if (p == 0) {
            if (env) putenv((char *)env);
            int dn = open("/dev/null", O_WRONLY);
            dup2(dn, 1), dup2(dn, 2);
            execvp(argv[0], argv);
            _exit(127);
        }
        int st, sst = 0;
        struct rusage ru;
        wait4(p, &st, 0, &ru);
        const pid_t q = fork();
        if (q == 0) {
            execlp("sync", "sync", out, (char *)NULL);
            _exit(127);
        }
        waitpid(q, &sst, 0);
        t[i] = now() - t0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "%s failed (status %d)\n", argv[0],
                    WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            return r;
        }
        if (ru.ru_maxrss / 1024.0 > r.rss_mb) r.rss_mb = ru.ru_maxrss / 1024.0;
    }
    r.med_s = median_of(t, runs < 16 ? runs : 16);
    r.ran = 1;
    return r;
}

/* The source: red and NIR as two bands of one uncompressed tiled file, made once. */
static void make_source(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) return;
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    co = CSLSetNameValue(co, "INTERLEAVE", "BAND");
    const mw_grid g = {32633, 499980, 5200020, 10, N, N};
    GDALDatasetH ds = mw_grid_create_dataset(&g, "GTiff", path, 2, GDT_UInt16, co);
    CSLDestroy(co);
    if (!ds) abort();
    uint16_t *row = malloc(sizeof(uint16_t) * N * 256);
    for (int b = 1; b <= 2; b++)
        for (int y0 = 0; y0 < N; y0 += 256) {
            int h = y0 + 256 <= N ? 256 : N - y0;
            /* a smooth field with noise, so DEFLATE has the work it has on real scenes */
            for (int y = 0; y < h; y++)
                for (int x = 0; x < N; x++)
                    row[(size_t)y * N + x] =
                        (uint16_t)((b == 1 ? 300 : 2500) + ((x / 97 + (y0 + y) / 89) % 7) * 120 +
                                   mw_unif(mw_hash4(b, (uint64_t)(y0 + y), (uint64_t)x, 7)) * 400);
            if (GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y0, N, h, row, N, h, GDT_UInt16,
                             0, 0) != CE_None)
                abort();
        }
    free(row);
    GDALClose(ds);
}

/* gdal_translate src (band `band`, 0: all) to dst with the options given, once. */
static void translate(const char *src, const char *dst, int band, const char *const *opts)
{
    struct stat st;
    if (stat(dst, &st) == 0) return;
    char **argv = NULL;
    if (band) {
        char b[8];
        snprintf(b, sizeof b, "%d", band);
        argv = CSLAddString(argv, "-b");
        argv = CSLAddString(argv, b);
    }
    for (int i = 0; opts[i]; i++)
        argv = CSLAddString(argv, opts[i]);
    GDALTranslateOptions *o = GDALTranslateOptionsNew(argv, NULL);
    GDALDatasetH s = GDALOpen(src, GA_ReadOnly);
    GDALDatasetH d = s ? GDALTranslate(dst, s, o, NULL) : NULL;
    if (!d) abort();
    GDALClose(d), GDALClose(s);
    GDALTranslateOptionsFree(o);
    CSLDestroy(argv);
}

static double size_mb(const char *a, const char *b)
{
    struct stat s1, s2;
    stat(a, &s1), stat(b, &s2);
    return (double)(s1.st_size + (strcmp(a, b) ? s2.st_size : 0)) / 1e6;
}

typedef struct layout {
    const char *name;
    char red[1040], nir[1040]; /* file:band as minewatch takes them */
    const char *red_file, *nir_file;
    int red_band, nir_band;
} layout;

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "out/bench/ndvi";
    const char *mw = argc > 2 ? argv[2] : "build/minewatch";
    int runs = getenv("MW_BENCH_RUNS") ? atoi(getenv("MW_BENCH_RUNS")) : 3;
    int peer_runs = getenv("MW_BENCH_PEER_RUNS") ? atoi(getenv("MW_BENCH_PEER_RUNS")) : 1;
    if (runs < 1) runs = 1;
    if (peer_runs < 1) peer_runs = 1;
    GDALAllRegister();
    mw_make_dirs(dir);
    char src[1024], path[8][1024];
    snprintf(src, sizeof src, "%s/source.tif", dir);
    static const char *const names[] = {"red_cog1024.tif", "nir_cog1024.tif", "red_cog256.tif",
                                        "nir_cog256.tif",  "bands_tiled.tif", "out_copy.tif",
                                        "out_tool.tif",    "out_copy2.tif"};
    for (int i = 0; i < 8; i++)
        snprintf(path[i], sizeof path[i], "%s/%s", dir, names[i]);
    double t0 = now();
    const pid_t maker = fork(); /* in a child: GDAL's cache must not swell the peaks measured */
    if (maker == 0) {
        make_source(src);
        /* As Earth Search and Planetary Computer serve Sentinel-2 L2A: one DEFLATE COG a band,
         * 1024 blocks, horizontal predictor; and the same with 256 tiles (Landsat C2's COGs). */
        const char *const cog1024[] = {
            "-of", "COG",         "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=1024",
            "-co", "PREDICTOR=2", "-co", "OVERVIEWS=NONE",   NULL};
        const char *const cog256[] = {
            "-of", "COG",         "-co", "COMPRESS=DEFLATE", "-co", "BLOCKSIZE=256",
            "-co", "PREDICTOR=2", "-co", "OVERVIEWS=NONE",   NULL};
        const char *const tiled[] = {"-co", "TILED=YES", "-co", "INTERLEAVE=BAND", NULL};
        translate(src, path[0], 1, cog1024), translate(src, path[1], 2, cog1024);
        translate(src, path[2], 1, cog256), translate(src, path[3], 2, cog256);
        translate(src, path[4], 0, tiled);
        _exit(0);
    }
    int made = 0;
    waitpid(maker, &made, 0);
    if (!WIFEXITED(made) || WEXITSTATUS(made)) return 1;
    layout L[3] = {{.name = "two single-band DEFLATE COGs, 1024 blocks (S2 L2A as served)"},
                   {.name = "two single-band DEFLATE COGs, 256 tiles"},
                   {.name = "one 2-band band-interleaved tiled GeoTIFF, uncompressed"}};
    for (int l = 0; l < 3; l++) {
        const int two = l == 2;
        L[l].red_file = path[two ? 4 : 2 * l];
        L[l].nir_file = path[two ? 4 : 2 * l + 1];
        L[l].red_band = 1, L[l].nir_band = two ? 2 : 1;
        if (snprintf(L[l].red, sizeof L[l].red, "%s:%d", L[l].red_file, L[l].red_band) >=
                (int)sizeof L[l].red ||
            snprintf(L[l].nir, sizeof L[l].nir, "%s:%d", L[l].nir_file, L[l].nir_band) >=
                (int)sizeof L[l].nir)
            abort();
    }
    printf(
        "NDVI over %d x %d (UInt16 red and NIR; inputs made in %.0f s); outputs Float32, "
        "256 x 256 tiles, removed and synced before each run, timed until on the disk; inputs in "
        "the page cache.\n"
        "minewatch and the copy: median of %d run(s); the peers: %d run(s).\n",
        N, N, now() - t0, runs, peer_runs);
    /* the copy floor: the uncompressed two bands copied as one file */
    char *cp_argv[] = {"cp", path[4], path[5], NULL};
    const result floor = measure(cp_argv, NULL, path[5], NULL, runs);
    printf("copy of the uncompressed 2-band input (%.0f MB): %.2f s\n", size_mb(path[4], path[4]),
           floor.med_s);
    int have_otb = access("/usr/bin/otbcli_BandMath", X_OK) == 0;
    for (int l = 0; l < 3; l++) {
        printf("\n== input: %s, %.0f MB\n", L[l].name, size_mb(L[l].red_file, L[l].nir_file));
        for (int deflate = 0; deflate < 2; deflate++) {
            const char *comp = deflate ? "deflate" : "none";
            char *mw2[] = {(char *)mw,   "index",     "ndvi", "--red", L[l].red,
                           "--nir",      L[l].nir,    "-o",   path[6], "--compress",
                           (char *)comp, "--threads", "2",    "-q",    NULL};
            char *mw1[] = {(char *)mw,   "index",     "ndvi", "--red", L[l].red,
                           "--nir",      L[l].nir,    "-o",   path[6], "--compress",
                           (char *)comp, "--threads", "1",    "-q",    NULL};
            char rb[16], nb[16];
            snprintf(rb, sizeof rb, "--A_band=%d", L[l].red_band);
            snprintf(nb, sizeof nb, "--B_band=%d", L[l].nir_band);
            char *gc[40] = {"/usr/bin/python3",
                            "/usr/bin/gdal_calc.py",
                            "-A",
                            (char *)L[l].red_file,
                            rb,
                            "-B",
                            (char *)L[l].nir_file,
                            nb,
                            "--calc=(B.astype(numpy.float32)-A)/(B.astype(numpy.float32)+A)",
                            "--type=Float32",
                            "--NoDataValue=nan",
                            "--outfile",
                            path[6],
                            "--overwrite",
                            "--quiet",
                            "--co=TILED=YES",
                            "--co=BLOCKXSIZE=256",
                            "--co=BLOCKYSIZE=256",
                            deflate ? "--co=COMPRESS=DEFLATE" : "--co=COMPRESS=NONE",
                            deflate ? "--co=PREDICTOR=3" : NULL,
                            "--co=ZLEVEL=1",
                            NULL};
            char otb_out[1400];
            snprintf(otb_out, sizeof otb_out,
                     "%s?&gdal:co:TILED=YES&gdal:co:BLOCKXSIZE=256&gdal:co:BLOCKYSIZE=256"
                     "&gdal:co:COMPRESS=%s%s",
                     path[6], deflate ? "DEFLATE" : "NONE",
                     deflate ? "&gdal:co:PREDICTOR=3&gdal:co:ZLEVEL=1" : "");
            char exp[64];
            snprintf(exp, sizeof exp, "(im%db%d-im1b1)/(im%db%d+im1b1)", l == 2 ? 1 : 2,
                     L[l].nir_band, l == 2 ? 1 : 2, L[l].nir_band);
            char *otb[] = {"otbcli_BandMath",
                           "-il",
                           (char *)L[l].red_file,
                           l == 2 ? NULL : (char *)L[l].nir_file,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL,
                           NULL};
            int k = l == 2 ? 3 : 4;
            otb[k++] = "-out", otb[k++] = otb_out, otb[k++] = "float", otb[k++] = "-exp",
            otb[k++] = exp;
            const result m2 = measure(mw2, NULL, path[6], NULL, runs);
            const result m1 = measure(mw1, NULL, path[6], NULL, runs);
            const result g = measure(gc, "GDAL_CACHEMAX=64", path[6], NULL, peer_runs);
            const result o =
                have_otb ? measure(otb, NULL, path[6], NULL, peer_runs) : (result){0, 0, 0};
            printf("-- output %s\n", deflate ? "DEFLATE (predictor 3, level 1)" : "uncompressed");
            printf("   %-34s %7s %9s %s\n", "tool", "s", "peak MB", "ratio");
            printf("   %-34s %7.2f %9.0f  1 thread / 2 threads %.2fx (goal >= 1.7x); / copy "
                   "%.2fx (goal <= 3x)\n",
                   "minewatch, 2 threads", m2.med_s, m2.rss_mb, m1.med_s / m2.med_s,
                   m2.med_s / floor.med_s);
            printf("   %-34s %7.2f %9.0f\n", "minewatch, 1 thread", m1.med_s, m1.rss_mb);
            if (g.ran)
                printf("   %-34s %7.2f %9.0f  %.1fx minewatch's time (goal >= 4x)\n",
                       "gdal_calc.py, GDAL_CACHEMAX=64", g.med_s, g.rss_mb, g.med_s / m2.med_s);
            if (o.ran)
                printf("   %-34s %7.2f %9.0f  %.1fx minewatch's time (goal >= 20x)\n",
                       "otbcli_BandMath", o.med_s, o.rss_mb, o.med_s / m2.med_s);
            else
                printf("   otbcli_BandMath: %s\n",
                       have_otb ? "failed" : "not installed (apt-get install otb-bin)");
            fflush(stdout);
        }
    }
    unlink(path[6]), unlink(path[5]);
    return 0;
}
