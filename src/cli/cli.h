/* The command line: every option once, each command with the options it takes; help and usage
 * are written from these tables (and the man page from the help). */
#ifndef MW_CLI_H
#define MW_CLI_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "minewatch/band.h"
#include "minewatch/run_report.h"
#include "mpi_dispatch.h"

enum { EXIT_OK = 0, EXIT_PARTIAL = 1, EXIT_BAD_INPUT = 2 };

/* Option ids: the short letter where there is one. */
enum {
    O_HELP = 'h',
    O_VERSION = 'V',
    O_QUIET = 'q',
    O_OUT = 'o',
    O_LOG = 256,
    O_THREADS,
    O_MEM,
    O_CHUNK,
    O_SHARD,
    O_CUBE,
    O_SEED,
    O_FORMAT,
    O_KIND,
    O_COMMODITY,
    O_ITEM,
    O_SCALE,
    O_OFFSET,
    O_NODATA,
    O_COG,
    O_COMPRESS,
    O_TREECOVER,
    O_LOSSYEAR,
    O_EMISSIONS,
    O_YEARS,
    O_MIN_COVER,
    O_MIN_SIZE,
    O_ID_FIELD,
    O_INDICATORS,
    O_PERIOD,
    O_EXPOSURE,
    O_REMOVE,
    O_EVIDENCE,
    O_POSTGIS,
    O_POSTGIS_SCHEMA,
    O_TEMPLATE,
    O_REFERENCE,
    O_BAND0 /* + mw_band: --blue ... --swir22 */
};

typedef struct cli cli;

/* An option a command takes; doc NULL: the option's own text. */
enum { USE_REQUIRED = 1, USE_IN_ARGS = 2 /* shown in the command's arguments instead */ };
typedef struct cli_use {
    int id;
    const char *doc;
    int flags;
} cli_use;

typedef struct cli_command {
    const char *name;
    const char *args;    /* after the name in the synopsis, e.g. "PIPELINE" */
    const char *summary; /* for the main help */
    const char *about;   /* paragraphs before the options */
    const char *after;   /* paragraphs after them, or NULL */
    const cli_use *uses; /* ends with {0} */
    int (*run)(cli *c, int argc, char **argv);
} cli_command;

struct cli {
    const cli_command *command;           /* the one being run */
    const char *band_file[MW_BAND_COUNT]; /* --red FILE[:BAND] ... */
    const char *item;
    double scale, offset, nodata;
    const char *compress;
    int has_nodata, cog;
    int quiet, threads, chunk_rows, help, version;
    long mem_mb;
    const char *out, *datacube;
    int shard_k, shard_n;          /* run --shard K/N */
    const char *const *merge_dirs; /* merge DIR... */
    size_t nmerge;
    mw_site_dispatch *dispatch; /* under mpirun; else NULL */
    int local_ranks;            /* ranks on this machine: they share its cores and --mem */
    int site_process;           /* computes a worker rank's sites (see mpi_dispatch.h) */
    const char *kind, *commodity;
    long long seed;
    int have_seed;
    int tty;
    FILE *log_file;     /* --log FILE: every message as a JSON line */
    const char *format; /* sites, indicators: text (default), csv or json */
    char *command_line;
    /* graph */
    const char *indicators, *period, *remove, *evidence, *postgis, *postgis_schema;
    int exposure;
    /* treecover */
    const char *treecover, *lossyear, *emissions, *years, *id_field;
    double min_cover, min_size_ha; /* required options (the table says so) */
    /* pipeline */
    int template_, reference;
};

/* Reads the options into c and finds the command (c->command; NULL: none given). An option the
 * command does not take, an unknown one or a bad value is reported with the command's usage:
 * returns EXIT_BAD_INPUT. Else EXIT_OK, the command's arguments in *args. */
int cli_parse(cli *c, int argc, char **argv, const cli_command *const *commands, size_t ncommands,
              int *nargs, char ***args);
/* The help of cmd (NULL: the program's) to f. */
void cli_help(FILE *f, const cli_command *cmd, const cli_command *const *commands,
              size_t ncommands);
/* A whole number s in [lo, hi] into *out: 0, else -1. */
int cli_parse_long(const char *s, long lo, long hi, long *out);
/* The command's usage to stderr: EXIT_BAD_INPUT. */
int cli_bad_usage(const cli *c);

/* What every command does the same way (cli_common.c). */
/* "minewatch: error: msg" to stderr: EXIT_BAD_INPUT. */
int cli_fail_input(const char *msg);
/* The library's last error to stderr: EXIT_BAD_INPUT for bad input, else EXIT_PARTIAL. */
int cli_exit_for_error(void);
/* out/<name>[/<sub>], malloc'd (NULL: out of memory). */
char *cli_default_out(const char *name, const char *sub);
/* A run's problems, one line each, to stderr. */
void cli_print_report(const mw_run_report *rep);
/* Records (objects of strings and numbers) to stdout as CSV with the given columns (NULL-ended),
 * or as a JSON array when format is "json". */
void cli_print_records(json_t *recs, const char *const *cols, const char *format);

/* The commands, one file each or by kind (cmd_*.c). */
extern const cli_command cli_cmd_run, cli_cmd_change, cli_cmd_merge, cli_cmd_ingest,
    cli_cmd_simulate, cli_cmd_pipeline, cli_cmd_sites, cli_cmd_index, cli_cmd_graph,
    cli_cmd_treecover, cli_cmd_indices, cli_cmd_indicators;

#endif
