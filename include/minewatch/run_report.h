/* What went wrong in a run, per site and scene. A failure never stops the other sites. */
#ifndef MINEWATCH_RUN_REPORT_H
#define MINEWATCH_RUN_REPORT_H

#include <stddef.h>

#include "minewatch/export.h"
#include "minewatch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mw_failure {
    char *site_id;  /* "" when not tied to a site */
    char *scene_id; /* "" when not tied to a scene */
    char *stage;    /* catalogue, ingest, composite, indicators, outputs */
    char *message;
} mw_failure;

typedef struct mw_run_report {
    mw_failure *items;
    size_t n, cap;
} mw_run_report;

/* Thread-safe. */
MW_API void mw_report_add(mw_run_report *r, const char *site_id, const char *scene_id,
                          const char *stage, const char *fmt, ...) MW_PRINTF(5, 6);
/* Orders the failures by site, scene, stage and message, so that the list does not depend on
 * which thread reported first. */
MW_API void mw_report_order(mw_run_report *r);
MW_API size_t mw_report_count_for(const mw_run_report *r, const char *site_id);
MW_API size_t mw_report_count_stage(const mw_run_report *r, const char *stage);
MW_API void mw_report_free(mw_run_report *r);

#ifdef __cplusplus
}
#endif

#endif
