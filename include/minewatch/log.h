/* Diagnostics go to a sink the caller installs; the library never writes to stdout. */
#ifndef MINEWATCH_LOG_H
#define MINEWATCH_LOG_H

#include "minewatch/export.h"
#include "minewatch/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_log_level { MW_LOG_DEBUG, MW_LOG_INFO, MW_LOG_WARN, MW_LOG_ERROR } mw_log_level;
typedef void (*mw_log_sink)(mw_log_level level, const char *msg, void *user);

MW_API void mw_log_set_sink(mw_log_sink sink, void *user); /* NULL: discard */
MW_API void mw_log(mw_log_level level, const char *fmt, ...) MW_PRINTF(2, 3);

/* Progress of long work: called with done/total; the sink decides whether to draw. */
typedef void (*mw_progress_sink)(const char *stage, long done, long total, void *user);
MW_API void mw_progress_set_sink(mw_progress_sink sink, void *user);
MW_API void mw_progress(const char *stage, long done, long total);

#ifdef __cplusplus
}
#endif

#endif
