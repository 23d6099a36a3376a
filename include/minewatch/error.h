/* Errors: functions return 0 on success and -1 on failure, leaving a message in a thread-local
 * buffer (the libvips convention). The kind decides the CLI's exit status. */
#ifndef MINEWATCH_ERROR_H
#define MINEWATCH_ERROR_H

#include <stdarg.h>

#include "minewatch/export.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mw_error_kind {
    MW_ERR_NONE = 0,
    MW_ERR_INPUT,    /* a file, site or parameter the user gave is wrong: fix the input */
    MW_ERR_IO,       /* reading or writing failed (disk, permissions, corrupt raster) */
    MW_ERR_NOMEM,    /* allocation failed or the memory budget is too small */
    MW_ERR_INTERNAL, /* a bug in minewatch */
} mw_error_kind;

#if defined(__GNUC__)
#define MW_PRINTF(f, a) __attribute__((format(printf, f, a)))
#define MW_VPRINTF(f) __attribute__((format(printf, f, 0)))
#else
#define MW_PRINTF(f, a)
#define MW_VPRINTF(f)
#endif

/* Set the calling thread's error (replaces any previous one). Always returns -1. */
MW_API int mw_error_set(mw_error_kind kind, const char *fmt, ...) MW_PRINTF(2, 3);
MW_API int mw_error_setv(mw_error_kind kind, const char *fmt, va_list ap) MW_VPRINTF(2);
/* Prefix context to the current message: "context: previous message". Returns -1. */
MW_API int mw_error_prefix(const char *fmt, ...) MW_PRINTF(1, 2);
MW_API const char *
mw_error_message(void); /* "" when none; valid until the next call on this thread */
MW_API mw_error_kind mw_error_get_kind(void);
MW_API void mw_error_clear(void);
/* Append GDAL's last error message (if any) to the current error. */
MW_API int mw_error_from_gdal(mw_error_kind kind, const char *fmt, ...) MW_PRINTF(2, 3);

#ifdef __cplusplus
}
#endif

#endif
