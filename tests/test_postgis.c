/* PostGIS as an output, against a real PostgreSQL started here (Debian's postgresql and postgis
 * packages, `make deps`): a run writes its indicators and loss patches, they read back equal to
 * the GeoPackages, a re-run replaces rather than duplicates, and a refused connection is a clear
 * error that leaves the database as it was and the files written; the same for the supply
 * graph of `minewatch graph --postgis`. */
#include <glob.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gdal.h>
#include <ogr_api.h>

#include "test_util.h"

static char *g_dir, g_bin[512], g_conn[1024];
static int g_port, g_started;

/* a command as the postgres user when we are root (initdb refuses root) */
static int as_db_user(const char *cmd, char **out)
{
    char full[4096];
    if (geteuid() == 0)
        snprintf(full, sizeof full, "runuser -u postgres -- sh -c '%s'", cmd);
    else
        snprintf(full, sizeof full, "%s", cmd);
    return tu_run(full, out);
}

static int setup(void **state)
{
    (void)state;
    GDALAllRegister();
    glob_t gl;
    if (glob("/usr/lib/postgresql/*/bin/initdb", 0, NULL, &gl) != 0 || gl.gl_pathc == 0) {
        fprintf(stderr,
                "PostgreSQL is not installed (make deps installs postgresql and postgis)\n");
        return -1;
    }
    snprintf(g_bin, sizeof g_bin, "%.*s", (int)(strlen(gl.gl_pathv[gl.gl_pathc - 1]) - 6),
             gl.gl_pathv[gl.gl_pathc - 1]); /* .../bin/ */
    globfree(&gl);
    g_dir = tu_mkdtemp("postgis");
    if (!g_dir) return -1;
    char cmd[4096], *out = NULL;
    snprintf(cmd, sizeof cmd,
             "chmod 755 %s && mkdir -p %s/db && chown -R postgres %s/db 2>/dev/null;"
             " true",
             g_dir, g_dir, g_dir);
    tu_run(cmd, NULL);
    g_port = 20000 + (int)(getpid() % 20000);
    snprintf(cmd, sizeof cmd, "%sinitdb -D %s/db/data -A trust -U postgres --no-sync -E UTF8",
             g_bin, g_dir);
    if (as_db_user(cmd, &out) != 0) {
        fprintf(stderr, "initdb failed:\n%s\n", out);
        free(out);
        return -1;
    }
    free(out);
    snprintf(cmd, sizeof cmd,
             "%spg_ctl -D %s/db/data -l %s/db/log -w -o \"-c listen_addresses= -k %s/db -p %d "
             "-c fsync=off\" start",
             g_bin, g_dir, g_dir, g_dir, g_port);
    if (as_db_user(cmd, &out) != 0) {
        fprintf(stderr, "the server did not start:\n%s\n", out);
        free(out);
        return -1;
    }
    free(out);
    g_started = 1;
    snprintf(
        cmd, sizeof cmd,
        "%spsql -h %s/db -p %d -U postgres -q -c \"CREATE DATABASE mw\" && %spsql -h %s/db -p %d "
        "-U postgres -d mw -q -c \"CREATE EXTENSION postgis\"",
        g_bin, g_dir, g_port, g_bin, g_dir, g_port);
    if (tu_run(cmd, &out) != 0) {
        fprintf(stderr, "cannot make the database (is postgis installed?):\n%s\n", out);
        free(out);
        return -1;
    }
    free(out);
    snprintf(g_conn, sizeof g_conn, "host=%s/db port=%d dbname=mw user=postgres", g_dir, g_port);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[2048];
    if (g_started) {
        snprintf(cmd, sizeof cmd, "%spg_ctl -D %s/db/data -m immediate -w stop", g_bin, g_dir);
        as_db_user(cmd, NULL);
    }
    if (g_dir) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
        tu_run(cmd, NULL);
        free(g_dir);
    }
    return 0;
}

static char *pipeline(const char *name, const char *conn)
{
    char *p = tu_path(g_dir, name), text[4096];
    snprintf(text, sizeof text,
             "name: pg-test\n"
             "sites: {catalogue: %s/aoi/critical_mineral_sites.geojson, ids: [cd-kamoto]}\n"
             "source: {type: simulator, seed: 7, scenes_per_period: 3, cloud_cover: 0.2}\n"
             "periods:\n  baseline: {start: 2021-06-01, end: 2021-09-30}\n"
             "  monitoring:\n    - {name: \"2023\", start: 2023-06-01, end: 2023-09-30}\n"
             "grid: {pixel_size_m: 30, buffer_m: 0}\n"
             "outputs: {formats: [gpkg, csv, maps], datacube: %s/tiles,\n"
             "          postgis: {connection: \"%s\", schema: minewatch}}\n",
             MW_SOURCE_DIR, g_dir, conn);
    tu_write(p, text);
    return p;
}

static GIntBig count(const char *table)
{
    char dsn[1200];
    snprintf(dsn, sizeof dsn, "PG:%s active_schema=minewatch", g_conn);
    GDALDatasetH ds = GDALOpenEx(dsn, GDAL_OF_VECTOR, NULL, NULL, NULL);
    if (!ds) return -1;
    OGRLayerH l = GDALDatasetGetLayerByName(ds, table);
    GIntBig n = l ? OGR_L_GetFeatureCount(l, 1) : -1;
    GDALClose(ds);
    return n;
}

/* Every field of the GeoPackage feature fg equal in the database row fd (reals to `digits`
 * significant digits); the number of values compared. */
static int same_fields(OGRFeatureH fg, OGRFeatureH fd, const char *where, int digits)
{
    int compared = 0;
    for (int i = 0; i < OGR_F_GetFieldCount(fg); i++) {
        const char *name = OGR_Fld_GetNameRef(OGR_F_GetFieldDefnRef(fg, i));
        const int j = OGR_F_GetFieldIndex(fd, name);
        if (j < 0) fail_msg("the database has no column %s", name);
        const int null_g = !OGR_F_IsFieldSetAndNotNull(fg, i),
                  null_d = !OGR_F_IsFieldSetAndNotNull(fd, j);
        if (null_g != null_d) fail_msg("%s %s: null in one only", where, name);
        if (null_g) continue;
        char vg[64], vd[64];
        if (OGR_Fld_GetType(OGR_F_GetFieldDefnRef(fg, i)) == OFTReal) {
            snprintf(vg, sizeof vg, "%.*g", digits, OGR_F_GetFieldAsDouble(fg, i));
            snprintf(vd, sizeof vd, "%.*g", digits, OGR_F_GetFieldAsDouble(fd, j));
        } else {
            snprintf(vg, sizeof vg, "%s", OGR_F_GetFieldAsString(fg, i));
            snprintf(vd, sizeof vd, "%s", OGR_F_GetFieldAsString(fd, j));
        }
        if (strcmp(vg, vd))
            fail_msg("%s %s: '%s' in the GeoPackage, '%s' in PostGIS", where, name, vg, vd);
        compared++;
    }
    return compared;
}

static void round_trip(void **state)
{
    (void)state;
    char *pl = pipeline("pg.yaml", g_conn), *o1 = tu_path(g_dir, "run1"), cmd[4096], *out;
    snprintf(cmd, sizeof cmd, "%s run %s -o %s -q", MW_CLI, pl, o1);
    int rc = tu_run(cmd, &out);
    if (rc != 0) fail_msg("run exited %d:\n%s", rc, out);
    free(out);
    /* every indicator row reads back equal to the GeoPackage's */
    char *gp = tu_path(o1, "indicators.gpkg"), dsn[1200];
    snprintf(dsn, sizeof dsn, "PG:%s active_schema=minewatch", g_conn);
    GDALDatasetH g = GDALOpenEx(gp, GDAL_OF_VECTOR, NULL, NULL, NULL),
                 d = GDALOpenEx(dsn, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(g), assert_non_null(d);
    OGRLayerH lg = GDALDatasetGetLayerByName(g, "site_indicators"),
              ld = GDALDatasetGetLayerByName(d, "site_indicators");
    assert_non_null(lg), assert_non_null(ld);
    assert_int_equal(OGR_L_GetFeatureCount(lg, 1), 2);
    assert_int_equal(OGR_L_GetFeatureCount(ld, 1), 2);
    OGRFeatureH fg;
    int compared = 0;
    while ((fg = OGR_L_GetNextFeature(lg)) != NULL) {
        char where[256];
        snprintf(where, sizeof where, "site_id = '%s' AND period = '%s'",
                 OGR_F_GetFieldAsString(fg, OGR_F_GetFieldIndex(fg, "site_id")),
                 OGR_F_GetFieldAsString(fg, OGR_F_GetFieldIndex(fg, "period")));
        OGR_L_SetAttributeFilter(ld, where);
        OGR_L_ResetReading(ld);
        OGRFeatureH fd = OGR_L_GetNextFeature(ld);
        if (!fd) fail_msg("no database row where %s", where);
        compared += same_fields(fg, fd, where, 17); /* every bit: the indicators are rounded */
        OGRGeometryH a = OGR_F_GetGeometryRef(fg), b = OGR_F_GetGeometryRef(fd);
        assert_non_null(a), assert_non_null(b);
        assert_true(fabs(OGR_G_Area(a) - OGR_G_Area(b)) < 1e-12 * (1 + OGR_G_Area(a)));
        OGR_F_Destroy(fd);
        OGR_F_Destroy(fg);
    }
    printf("%d values compared\n", compared);
    assert_true(compared > 60);
    GDALClose(g), GDALClose(d);
    const GIntBig patches = count("forest_loss_patches");
    assert_true(patches > 0);
    /* a re-run replaces its rows */
    char *o2 = tu_path(g_dir, "run2");
    snprintf(cmd, sizeof cmd, "%s run %s -o %s -q", MW_CLI, pl, o2);
    assert_int_equal(tu_run(cmd, NULL), 0);
    assert_int_equal(count("site_indicators"), 2);
    assert_int_equal(count("forest_loss_patches"), patches);
    /* a refused connection: a clear error, the files written, the database as it was */
    char bad[1100];
    snprintf(bad, sizeof bad, "host=%s/db port=%d dbname=mw user=postgres", g_dir, g_port + 1);
    char *pb = pipeline("pg-bad.yaml", bad), *o3 = tu_path(g_dir, "run3");
    snprintf(cmd, sizeof cmd, "%s run %s -o %s -q", MW_CLI, pb, o3);
    assert_int_equal(tu_run(cmd, &out), 1);
    if (!strstr(out, "[postgis]") || !strstr(out, "cannot connect to PostgreSQL at") ||
        !strstr(out, "nothing was written to the database"))
        fail_msg("the refused connection is not said:\n%s", out);
    free(out);
    char *csv = tu_path(o3, "indicators.csv");
    assert_int_equal(access(csv, F_OK), 0);
    assert_int_equal(count("site_indicators"), 2);
    free(csv), free(pb), free(o3), free(o2), free(gp), free(o1), free(pl);
}

/* `graph --postgis`: the supply graph's nodes and flows, read back equal to graph.gpkg with
 * their points and lines; a re-run of the graph and period replaces them; a refused connection
 * keeps the files; a password or a schema that is no SQL name is refused before anything. */
static void graph_round_trip(void **state)
{
    (void)state;
    char *ind = tu_path(g_dir, "run1/indicators.csv");
    if (access(ind, F_OK)) skip(); /* round_trip made it */
    char *gj = tu_path(g_dir, "graph.json");
    tu_write(gj, "{\"name\": \"pg chain\", \"year\": 2023, \"nodes\": ["
                 "{\"id\": \"mine\", \"stage\": \"mine\", \"country\": \"CD\", \"lon\": 25.42, "
                 "\"lat\": -10.71, \"sites\": [\"cd-kamoto\"], \"outputs\": {\"Co\": 1000}},"
                 "{\"id\": \"refinery\", \"stage\": \"refinery\", \"country\": \"FI\", "
                 "\"lon\": 23.03, \"lat\": 63.84, \"outputs\": {\"Co chem\": 600}},"
                 "{\"id\": \"buyer\", \"stage\": \"oem\", \"country\": \"GB\", "
                 "\"outputs\": {\"cells\": 10}}],"
                 "\"edges\": [{\"from\": \"mine\", \"to\": \"refinery\", \"product\": \"Co\", "
                 "\"tonnes\": 600, \"basis\": \"reported\"},"
                 "{\"from\": \"refinery\", \"to\": \"buyer\", \"product\": \"Co chem\", "
                 "\"tonnes\": 300}]}");
    char *og = tu_path(g_dir, "graph1"), cmd[4096], *out;
    snprintf(cmd, sizeof cmd,
             "%s graph %s --indicators %s --period 2023 -o %s -q --postgis \"%s\" "
             "--postgis-schema chains",
             MW_CLI, gj, ind, og, g_conn);
    int rc = tu_run(cmd, &out);
    if (rc != 0) fail_msg("graph exited %d:\n%s", rc, out);
    free(out);
    char *gp = tu_path(og, "graph.gpkg"), dsn[1200];
    snprintf(dsn, sizeof dsn, "PG:%s active_schema=chains", g_conn);
    GDALDatasetH g = GDALOpenEx(gp, GDAL_OF_VECTOR, NULL, NULL, NULL),
                 d = GDALOpenEx(dsn, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_non_null(g), assert_non_null(d);
    static const char *const layers[2][2] = {{"graph_nodes", "supply_graph_nodes"},
                                             {"graph_edges", "supply_graph_edges"}};
    int compared = 0, geoms = 0;
    for (int k = 0; k < 2; k++) {
        OGRLayerH lg = GDALDatasetGetLayerByName(g, layers[k][0]),
                  ld = GDALDatasetGetLayerByName(d, layers[k][1]);
        assert_non_null(lg), assert_non_null(ld);
        assert_int_equal(OGR_L_GetFeatureCount(ld, 1), k ? 2 : 3);
        OGRFeatureH fg;
        while ((fg = OGR_L_GetNextFeature(lg)) != NULL) {
            char where[256];
            snprintf(where, sizeof where,
                     k ? "from_node = '%s' AND to_node = '%s'" : "node_id = '%s'",
                     OGR_F_GetFieldAsString(fg, 0), OGR_F_GetFieldAsString(fg, 1));
            OGR_L_SetAttributeFilter(ld, where);
            OGR_L_ResetReading(ld);
            OGRFeatureH fd = OGR_L_GetNextFeature(ld);
            if (!fd) fail_msg("no %s row where %s", layers[k][1], where);
            assert_string_equal(OGR_F_GetFieldAsString(fd, OGR_F_GetFieldIndex(fd, "graph")),
                                "pg chain");
            assert_string_equal(OGR_F_GetFieldAsString(fd, OGR_F_GetFieldIndex(fd, "period")),
                                "2023");
            /* OGR's PostgreSQL driver sends a real as 15 significant digits */
            compared += same_fields(fg, fd, where, 15);
            OGRGeometryH a = OGR_F_GetGeometryRef(fg), b = OGR_F_GetGeometryRef(fd);
            assert_true((a == NULL) == (b == NULL)); /* the buyer has no position */
            if (a) {
                assert_true(OGR_G_Equals(a, b));
                geoms++;
            }
            OGR_F_Destroy(fd);
            OGR_F_Destroy(fg);
        }
    }
    GDALClose(g), GDALClose(d);
    printf("%d graph values and %d geometries compared\n", compared, geoms);
    assert_int_equal(geoms, 3); /* two points, one line: the flow to the buyer has no line */
    /* 4 values a node (no name, no operator, emissions empty: the run has no emissions layer)
     * and 5 a flow (its emissions empty too) */
    assert_int_equal(compared, 3 * 4 + 2 * 5);
    /* a re-run replaces */
    assert_int_equal(tu_run(cmd, NULL), 0);
    snprintf(dsn, sizeof dsn, "PG:%s active_schema=chains", g_conn);
    d = GDALOpenEx(dsn, GDAL_OF_VECTOR, NULL, NULL, NULL);
    assert_int_equal(OGR_L_GetFeatureCount(GDALDatasetGetLayerByName(d, "supply_graph_nodes"), 1),
                     3);
    assert_int_equal(OGR_L_GetFeatureCount(GDALDatasetGetLayerByName(d, "supply_graph_edges"), 1),
                     2);
    GDALClose(d);
    /* a refused connection: exit 1, said, the files there */
    char *og2 = tu_path(g_dir, "graph2");
    snprintf(cmd, sizeof cmd,
             "%s graph %s --indicators %s --period 2023 -o %s -q "
             "--postgis \"host=%s/db port=%d dbname=mw user=postgres\"",
             MW_CLI, gj, ind, og2, g_dir, g_port + 1);
    assert_int_equal(tu_run(cmd, &out), 1);
    if (!strstr(out, "cannot connect to PostgreSQL at") || !strstr(out, "--postgis"))
        fail_msg("the refused connection is not said:\n%s", out);
    free(out);
    char *nodes = tu_path(og2, "graph_nodes.csv");
    assert_int_equal(access(nodes, F_OK), 0);
    /* no password, and a schema name that is SQL: refused before anything is written */
    char *og3 = tu_path(g_dir, "graph3");
    snprintf(cmd, sizeof cmd,
             "%s graph %s --indicators %s --period 2023 -o %s -q --postgis \"dbname=mw "
             "password=x\"",
             MW_CLI, gj, ind, og3);
    assert_int_equal(tu_run(cmd, &out), 2);
    assert_non_null(strstr(out, "--postgis must not hold a password"));
    free(out);
    snprintf(cmd, sizeof cmd,
             "%s graph %s --indicators %s --period 2023 -o %s -q --postgis \"%s\" "
             "--postgis-schema 'x\\\"; DROP'",
             MW_CLI, gj, ind, og3, g_conn);
    assert_int_equal(tu_run(cmd, &out), 2);
    assert_non_null(strstr(out, "--postgis-schema must be a lower-case SQL name"));
    free(out);
    assert_int_equal(access(og3, F_OK), -1);
    free(og3), free(nodes), free(og2), free(gp), free(og), free(gj), free(ind);
}

/* A password in the pipeline file is refused at load: it would end up in provenance. */
static void no_password_in_the_file(void **state)
{
    (void)state;
    char *pl = pipeline("pg-pw.yaml", "host=localhost dbname=mw password=secret"), cmd[2048], *out;
    snprintf(cmd, sizeof cmd, "%s run %s -o %s/pw -q", MW_CLI, pl, g_dir);
    assert_int_equal(tu_run(cmd, &out), 2);
    assert_non_null(strstr(out, "must not hold a password: put it in ~/.pgpass"));
    free(out), free(pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(graph_round_trip),
        cmocka_unit_test(no_password_in_the_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
