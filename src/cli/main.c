/* minewatch: satellite evidence for critical-mineral supply chains. Only the program decides the
 * exit status: 0 ok, 1 some sites or scenes failed, 2 bad usage or bad input files. This file
 * sets up the process (MPI, threads, GDAL, the log and progress sinks) and hands over to the
 * command (cmd_*.c). */
#include <stdio.h> /* first: it says whether this is glibc */
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cpl_error.h>
#include <gdal.h>
#include <jansson.h>
#include <omp.h>

#include "core/memory.h"
#include "io/http_reader.h"
#include "pipeline/provenance.h"
#include "cli.h"
#include "mpi_dispatch.h"
#include "minewatch/log.h"
#include "minewatch/version.h"

static void utc_now(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* On a terminal: messages between progress lines. Without one (a scheduled job): every stage
 * and site on its own line with its time, so the job leaves a record. --log: JSON lines too. */
static void log_sink(mw_log_level lv, const char *msg, void *user)
{
    const cli *c = user;
    static const char *const level[] = {"debug", "info", "warning", "error"};
    char now[32];
    utc_now(now);
    if (c->log_file && lv != MW_LOG_DEBUG) {
        json_t *j = json_pack("{s:s,s:s,s:s}", "time", now, "level", level[lv], "message", msg);
        char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
        if (line) fprintf(c->log_file, "%s\n", line), fflush(c->log_file);
        free(line);
        json_decref(j);
    }
    if (lv == MW_LOG_DEBUG || (lv == MW_LOG_INFO && c->quiet)) return;
    char who[32] = "minewatch"; /* under mpirun, which rank says it */
    if (c->dispatch) snprintf(who, sizeof who, "minewatch[%d]", c->dispatch->rank);
    if (c->tty)
        fprintf(stderr, "%s%s: %s%s\n", c->quiet ? "" : "\r\033[K", who,
                lv >= MW_LOG_WARN ? "warning: " : "", msg);
    else
        fprintf(stderr, "%s %s: %s%s\n", now, who, lv >= MW_LOG_WARN ? "warning: " : "", msg);
}

static void progress_sink(const char *stage, long done, long total, void *user)
{
    (void)user;
    fprintf(stderr, "\r\033[K%s %ld/%ld", stage, done, total);
    if (done >= total) fputs("\r\033[K", stderr);
    fflush(stderr);
}

static char *join_args(int argc, char **argv)
{
    size_t n = 1;
    for (int i = 0; i < argc; i++)
        n += strlen(argv[i]) + 1;
    char *s = calloc(n, 1);
    for (int i = 0; i < argc && s; i++) {
        if (i) strcat(s, " ");
        strcat(s, argv[i]);
    }
    return s;
}

/* The commands, in the order the help lists them (each defined in its cmd_*.c). */
static const cli_command *const commands[] = {
    &cli_cmd_run,      &cli_cmd_change,    &cli_cmd_merge,   &cli_cmd_ingest,
    &cli_cmd_simulate, &cli_cmd_pipeline,  &cli_cmd_sites,   &cli_cmd_index,
    &cli_cmd_graph,    &cli_cmd_treecover, &cli_cmd_indices, &cli_cmd_indicators};
#define NCOMMANDS (sizeof commands / sizeof *commands)

static int run_main(cli *cp, int argc, char **argv)
{
    cli c = *cp;
    int nargs;
    char **args;
    int rc = cli_parse(&c, argc, argv, commands, NCOMMANDS, &nargs, &args);
    cp->log_file = c.log_file; /* main closes it */
    if (rc) return rc;
    if (c.version) {
        json_t *sv = mw_software_versions();
        printf("minewatch %s (commit %s)\n", MW_VERSION_STRING,
               json_string_value(json_object_get(sv, "git_commit")));
        const char *k;
        json_t *x;
        json_object_foreach(sv, k, x) if (strcmp(k, "minewatch") && strcmp(k, "git_commit"))
            printf("  %-9s %s\n", k, json_string_value(x));
        json_decref(sv);
        return EXIT_OK;
    }
    if (!c.command || c.help) {
        cli_help(c.help ? stdout : stderr, c.command, commands, NCOMMANDS);
        return c.help ? EXIT_OK : EXIT_BAD_INPUT;
    }
    if (c.dispatch && c.dispatch->size > 1) {
        /* the ranks on a machine share its cores and the memory budget */
        if (!c.threads) {
            const int per = omp_get_num_procs() / (c.local_ranks > 0 ? c.local_ranks : 1);
            c.threads = per > 0 ? per : 1;
        }
        c.mem_mb /= c.local_ranks > 0 ? c.local_ranks : 1;
        const char *cmd0 = c.command->name;
        const int spreads =
            !strcmp(cmd0, "run") || !strcmp(cmd0, "ingest") || !strcmp(cmd0, "merge");
        if (c.dispatch->rank != 0 && !c.site_process) { /* its sites go to its site process */
            mw_log_set_sink(log_sink, &c);              /* it says which site's process died */
            if (spreads) mw_mpi_supervise(c.dispatch, c.local_ranks);
            mw_log_set_sink(NULL, NULL);
            return EXIT_OK; /* rank 0 says what failed */
        }
    }
    if (c.threads) omp_set_num_threads(c.threads);
    GDALAllRegister();
    mw_http_reader_install();                 /* remote assets: see io/http_reader.h */
    CPLSetErrorHandler(CPLQuietErrorHandler); /* GDAL's messages reach the user through ours */
    /* GDAL's block cache is an eighth of what the budget leaves beside the process itself
     * (4 to 256 MB): the rest is planned per site (see pipeline/site_memory.h). */
    {
        const GIntBig mb = 1024 * 1024, left = (GIntBig)c.mem_mb * mb - (GIntBig)mw_memory_rss();
        GIntBig cache = left / 8;
        if (cache < 4 * mb) cache = 4 * mb;
        if (cache > 256 * mb) cache = 256 * mb;
        GDALSetCacheMax64(cache);
    }
    mw_log_set_sink(log_sink, &c);
    if (c.tty && !c.quiet) mw_progress_set_sink(progress_sink, NULL);
    return c.command->run(&c, nargs, args);
}

int main(int argc, char **argv)
{
#ifdef __GLIBC__
    /* Large buffers (site planes, chunks) come from mmap and go back to the system when freed.
     * glibc otherwise raises this threshold after the first such free and keeps later ones in
     * its heap, which let the resident set grow past the memory budget period after period. A
     * fixed 8 MB keeps GDAL's warp and block buffers (which come and go by the thousand) in the
     * heap: from 256 kB, their page faults were a seventh of a fresh run. */
    mallopt(M_MMAP_THRESHOLD, 8 * 1024 * 1024);
#endif
    cli c = {.mem_mb = 1024, .tty = isatty(STDERR_FILENO), .scale = 1.0};
    c.command_line = join_args(argc, argv);
    mw_site_dispatch mpi = {0};
    const int with_mpi = mw_mpi_start(&argc, &argv, &mpi, &c.local_ranks);
    if (with_mpi != MW_MPI_NONE && mpi.size > 1) c.dispatch = &mpi;
    c.site_process = with_mpi == MW_MPI_SITE_PROCESS;
    int rc = run_main(&c, argc, argv);
    if (with_mpi == MW_MPI_RANK) mw_mpi_stop();
    free(c.command_line); /* every exit path comes through here */
    if (c.log_file) fclose(c.log_file);
    return rc;
}
