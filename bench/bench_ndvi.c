/* Benchmark (not a test): NDVI over a Sentinel-2-tile-sized raster (10980 x 10980, two UInt16
 * bands, tiled) with minewatch, gdal_calc.py (default and GDAL_CACHEMAX=64) and
 * otbcli_RadiometricIndices when installed, against a plain file copy as the I/O floor. Prints
 * the median wall time over runs, peak RSS, and the ratios. */
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

#include "core/atomic_file.h"
#include "core/hash_random.h"
#include "minewatch/grid.h"
#include "bench_util.h"

#define N 10980

typedef struct result {
    const char *name;
    double med_s, min_s, rss_mb;
    int ran;
} result;

/* Runs argv (env additions in env) `runs` times; median wall time and the largest peak RSS. The
 * output is removed before each run, so no tool pays for replacing the previous run's file. */
static result measure(const char *name, char *const argv[], const char *env, const char *out,
                      int runs)
{
    result r = {name, 0, 0, 0, 0};
    double t[16];
    for (int i = 0; i < runs && i < 16; i++) {
        unlink(out);
        sync();
        double t0 = now();
        pid_t p = fork();
        if (p == 0) {
            if (env) putenv((char *)env);
            int dn = open("/dev/null", O_WRONLY);
            dup2(dn, 1);
            execvp(argv[0], argv);
            _exit(127);
        }
        int st;
        struct rusage ru;
        wait4(p, &st, 0, &ru);
        t[i] = now() - t0;
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "%s failed (status %d)\n", name, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
            return r;
        }
        if (ru.ru_maxrss / 1024.0 > r.rss_mb) r.rss_mb = ru.ru_maxrss / 1024.0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp);
    r.med_s = t[runs / 2];
    r.min_s = t[0];
    r.ran = 1;
    return r;
}

static void make_input(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) return;
    char **co = CSLSetNameValue(NULL, "TILED", "YES");
    const mw_grid g = {32633, 499980, 5200020, 10, N, N};
    GDALDatasetH ds = mw_grid_create_dataset(&g, "GTiff", path, 2, GDT_UInt16, co);
    CSLDestroy(co);
    if (!ds) abort();
    uint16_t *row = malloc(sizeof(uint16_t) * N * 256);
    for (int b = 1; b <= 2; b++)
        for (int y0 = 0; y0 < N; y0 += 256) {
            int h = y0 + 256 <= N ? 256 : N - y0;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < N; x++)
                    row[(size_t)y * N + x] =
                        (uint16_t)((b == 1 ? 300 : 2500) +
                                   mw_unif(mw_hash4(b, (uint64_t)(y0 + y), (uint64_t)x, 7)) * 1500);
            if (GDALRasterIO(GDALGetRasterBand(ds, b), GF_Write, 0, y0, N, h, row, N, h, GDT_UInt16,
                             0, 0) != CE_None)
                abort();
        }
    free(row);
    GDALClose(ds);
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "out/bench/ndvi";
    const char *mw = argc > 2 ? argv[2] : "build/minewatch";
    int runs = getenv("MW_BENCH_RUNS") ? atoi(getenv("MW_BENCH_RUNS")) : 3;
    if (runs < 1) runs = 1;
    GDALAllRegister();
    mw_make_dirs(dir);
    char in[1024], o_cp[1024], o_mw[1024], o_gc[1024], o_otb[1024], red[1100], nir[1100];
    snprintf(in, sizeof in, "%s/input.tif", dir);
    snprintf(o_cp, sizeof o_cp, "%s/copy.tif", dir);
    snprintf(o_mw, sizeof o_mw, "%s/ndvi_minewatch.tif", dir);
    snprintf(o_gc, sizeof o_gc, "%s/ndvi_gdal_calc.tif", dir);
    snprintf(o_otb, sizeof o_otb, "%s/ndvi_otb.tif", dir);
    snprintf(red, sizeof red, "%s:1", in);
    snprintf(nir, sizeof nir, "%s:2", in);
    double t0 = now();
    make_input(in);
    struct stat st;
    stat(in, &st);
    printf("input: %d x %d, 2 x UInt16, tiled, uncompressed, %.0f MB (made in %.1f s); %d run(s) "
           "each, median;\noutputs Float32, removed (and synced) before each run; input in the "
           "page cache\n",
           N, N, st.st_size / 1e6, now() - t0, runs);
    char *cp_argv[] = {"cp", in, o_cp, NULL};
    char *mw2[] = {(char *)mw,   "index", "ndvi",      "--red", red,     "--nir", nir,  "-o", o_mw,
                   "--compress", "none",  "--threads", "2",     "--mem", "192",   "-q", NULL};
    char *mw1[] = {(char *)mw,   "index", "ndvi",      "--red", red,     "--nir", nir,  "-o", o_mw,
                   "--compress", "none",  "--threads", "1",     "--mem", "192",   "-q", NULL};
    char *gc[] = {"/usr/bin/python3",
                  "/usr/bin/gdal_calc.py",
                  "-A",
                  in,
                  "--A_band=1",
                  "-B",
                  in,
                  "--B_band=2",
                  "--calc=(B.astype(numpy.float32)-A)/(B.astype(numpy.float32)+A)",
                  "--type=Float32",
                  "--NoDataValue=nan",
                  "--outfile",
                  o_gc,
                  "--overwrite",
                  "--quiet",
                  NULL};
    char *otb[] = {"otbcli_RadiometricIndices",
                   "-in",
                   in,
                   "-out",
                   o_otb,
                   "float",
                   "-channels.red",
                   "1",
                   "-channels.nir",
                   "2",
                   "-list",
                   "Vegetation:NDVI",
                   NULL};
    result r[6];
    r[0] = measure("file copy (I/O floor)", cp_argv, NULL, o_cp, runs);
    r[1] = measure("minewatch index, 2 threads", mw2, NULL, o_mw, runs);
    r[2] = measure("minewatch index, 1 thread", mw1, NULL, o_mw, runs);
    r[3] = measure("gdal_calc.py (default cache)", gc, NULL, o_gc, runs);
    r[4] = measure("gdal_calc.py GDAL_CACHEMAX=64", gc, "GDAL_CACHEMAX=64", o_gc, runs);
    int have_otb = access("/usr/bin/otbcli_RadiometricIndices", X_OK) == 0;
    r[5] = have_otb ? measure("otbcli_RadiometricIndices", otb, NULL, o_otb, runs)
                    : (result){"otbcli_RadiometricIndices", 0, 0, 0, 0};
    printf("\n%-32s %9s %9s %10s %14s\n", "tool", "median s", "min s", "peak RSS", "vs minewatch");
    for (int i = 0; i < 6; i++) {
        if (!r[i].ran) {
            printf("%-32s %s\n", r[i].name,
                   i == 5 && !have_otb ? "not installed (apt-get install otb-bin)" : "failed");
            continue;
        }
        printf("%-32s %9.2f %9.2f %7.0f MB %13.1fx\n", r[i].name, r[i].med_s, r[i].min_s,
               r[i].rss_mb, r[i].med_s / r[1].med_s);
    }
    if (r[1].ran && r[0].ran) {
        printf("\nminewatch (2 threads) / copy floor: %.2fx (goal <= 3x)\n",
               r[1].med_s / r[0].med_s);
        if (r[4].ran)
            printf("gdal_calc.py GDAL_CACHEMAX=64 / minewatch: %.1fx (goal >= 4x)\n",
                   r[4].med_s / r[1].med_s);
        if (r[5].ran)
            printf("otbcli_RadiometricIndices / minewatch: %.1fx (goal >= 20x)\n",
                   r[5].med_s / r[1].med_s);
        if (r[2].ran) printf("1 thread / 2 threads: %.2fx\n", r[2].med_s / r[1].med_s);
        printf("minewatch peak RSS: %.0f MB (goal <= 256 MB)\n", r[1].rss_mb);
    }
    return 0;
}
