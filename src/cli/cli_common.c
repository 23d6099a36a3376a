/* What every command does the same way: errors to exit statuses, the run report, the default
 * output folder, records as CSV or JSON. See cli.h. */
#include "cli.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/text.h"
#include "minewatch/error.h"

int cli_fail_input(const char *msg)
{
    fprintf(stderr, "minewatch: error: %s\n", msg);
    return EXIT_BAD_INPUT;
}

int cli_exit_for_error(void)
{
    fprintf(stderr, "minewatch: error: %s\n", mw_error_message());
    return mw_error_get_kind() == MW_ERR_INPUT ? EXIT_BAD_INPUT : EXIT_PARTIAL;
}

char *cli_default_out(const char *name, const char *sub)
{
    size_t n = strlen(name) + (sub ? strlen(sub) : 0) + 8;
    char *s = malloc(n);
    if (s) snprintf(s, n, "out/%s%s%s", name, sub ? "/" : "", sub ? sub : "");
    return s;
}

void cli_print_report(const mw_run_report *rep)
{
    if (rep->n == 0) return;
    fprintf(stderr, "minewatch: %zu problem(s) in this run:\n", rep->n);
    for (size_t i = 0; i < rep->n; i++) {
        const mw_failure *f = &rep->items[i];
        fprintf(stderr, "  [%s]%s%s%s%s %s\n", f->stage, *f->site_id ? " site " : "", f->site_id,
                *f->scene_id ? " scene " : "", f->scene_id, f->message);
    }
}

/* Records (objects of strings and numbers) as CSV with the given columns, or as a JSON array. */
void cli_print_records(json_t *recs, const char *const *cols, const char *format)
{
    if (!strcmp(format, "json")) {
        json_dumpf(recs, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        fputc('\n', stdout);
        return;
    }
    for (int k = 0; cols[k]; k++)
        printf("%s%s", k ? "," : "", cols[k]);
    fputc('\n', stdout);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        for (int k = 0; cols[k]; k++) {
            json_t *v = json_object_get(r, cols[k]);
            if (k) fputc(',', stdout);
            if (json_is_string(v))
                mw_csv_cell(stdout, json_string_value(v), 1);
            else if (json_is_number(v))
                printf("%.10g", json_number_value(v));
        }
        fputc('\n', stdout);
    }
}
