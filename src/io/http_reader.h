/* Remote rasters read through a GDAL virtual file system of minewatch's own, /vsimwhttp/<url>,
 * on libcurl: each read is one HTTP range request that may receive at most the bytes it asked
 * for, only http(s) is spoken (redirects too), and every request has a timeout, a low-speed
 * limit and bounded retries. GDAL's /vsicurl/ in GDAL 3.6 keeps whatever a server sends for a
 * range (a 2 GiB answer to a 16 kB read took 1.1 GB of memory) and lets libcurl follow a redirect
 * to ftp://; this reader does neither. A window's tiles come in parallel through GDAL's
 * multi-range read; small reads are served from 64 kB blocks kept per open file. */
#ifndef MW_HTTP_READER_H
#define MW_HTTP_READER_H

#include <stddef.h>

#define MW_HTTP_PREFIX "/vsimwhttp/"

typedef struct mw_http_limits {
    double timeout_s;      /* each request; also how long a transfer may stall */
    int retries;           /* after the first attempt: network errors, 429 and 5xx */
    double backoff_s;      /* before the first retry; doubles each time */
    size_t max_read_bytes; /* the most one read may ask for (a bigger read is split) */
} mw_http_limits;

/* Registers /vsimwhttp/ with GDAL (once; thread-safe). Returns 0, or -1 with an error. */
int mw_http_reader_install(void);
/* The limits every later request uses (process-wide, like GDAL's own HTTP options). */
void mw_http_reader_configure(const mw_http_limits *limits);

#endif
