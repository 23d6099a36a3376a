/* The loopback HTTP server (tests/stac_test_server.py) and what its log tells, shared by the
 * STAC API tests and the ingest benchmark. */
#ifndef MW_HTTP_FIXTURE_H
#define MW_HTTP_FIXTURE_H

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gdal.h>
#include <jansson.h>

#include "minewatch/grid.h"

typedef struct http_server {
    pid_t pid;
    int port;
    int out; /* the server's stdout, kept open while it runs so its writes never fail */
} http_server;

/* Starts the server on root, logging to log, with extra arguments (NULL-terminated). The port is
 * 0 when it did not start. */
static inline http_server http_server_start(const char *script, const char *root, const char *log,
                                            const char *const *extra)
{
    http_server s = {-1, 0, -1};
    int fd[2];
    if (pipe(fd) != 0) return s;
    const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
    const char *argv[40] = {py, script, "--root", root, "--log", log};
    int n = 6;
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    s.pid = fork();
    if (s.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        dup2(fd[1], 1);
        close(fd[0]);
        execvp(py, (char *const *)argv);
        _exit(127);
    }
    close(fd[1]);
    char buf[32] = "";
    size_t got = 0;
    while (got + 1 < sizeof buf) { /* the port, up to its newline */
        ssize_t r = read(fd[0], buf + got, 1);
        if (r <= 0 || buf[got] == '\n') break;
        got++;
    }
    buf[got] = 0;
    s.out = fd[0];
    s.port = atoi(buf);
    return s;
}

static inline void http_server_stop(http_server *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
    }
    if (s->out >= 0) close(s->out);
    s->pid = -1;
    s->out = -1;
}

typedef struct http_log {
    int searches, gets;
    long bytes_for; /* bytes sent for paths ending with the suffix asked for */
} http_log;

static inline http_log http_log_read(const char *log, const char *suffix)
{
    http_log s = {0, 0, 0};
    FILE *f = fopen(log, "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        if (!j) continue;
        const char *m = json_string_value(json_object_get(j, "method"));
        const char *p = json_string_value(json_object_get(j, "path"));
        if (m && !strcmp(m, "POST") && p && !strcmp(p, "/search")) s.searches++;
        if (m && !strcmp(m, "GET")) s.gets++;
        size_t lp = p ? strlen(p) : 0, ls = suffix ? strlen(suffix) : 0;
        if (suffix && lp >= ls && !strcmp(p + lp - ls, suffix))
            s.bytes_for += (long)json_integer_value(json_object_get(j, "bytes"));
        json_decref(j);
    }
    if (f) fclose(f);
    return s;
}

/* Compressed bytes of the tiles of a tiled GeoTIFF that the grid's window touches; -1 if the
 * file cannot say. */
static inline long window_tile_bytes(const char *tif, const mw_grid *g)
{
    GDALDatasetH ds = GDALOpen(tif, GA_ReadOnly);
    if (!ds) return -1;
    double gt[6];
    GDALGetGeoTransform(ds, gt);
    GDALRasterBandH b = GDALGetRasterBand(ds, 1);
    int bw, bh;
    GDALGetBlockSize(b, &bw, &bh);
    int c0 = (int)floor((g->x0 - gt[0]) / gt[1]),
        c1 = (int)ceil((g->x0 + g->width * g->res - gt[0]) / gt[1]);
    int r0 = (int)floor((gt[3] - g->y0) / -gt[5]),
        r1 = (int)ceil((gt[3] - (g->y0 - g->height * g->res)) / -gt[5]);
    long sum = 0;
    for (int by = r0 / bh; by <= (r1 - 1) / bh && sum >= 0; by++)
        for (int bx = c0 / bw; bx <= (c1 - 1) / bw; bx++) {
            char k[64];
            snprintf(k, sizeof k, "BLOCK_SIZE_%d_%d", bx, by);
            const char *v = GDALGetMetadataItem(b, k, "TIFF");
            if (!v) {
                sum = -1;
                break;
            }
            sum += atol(v);
        }
    GDALClose(ds);
    return sum;
}

#endif
