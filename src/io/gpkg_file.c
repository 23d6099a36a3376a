#include "io/gpkg_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <gdal.h>

#include "core/atomic_file.h"
#include "minewatch/error.h"

void *mw_gpkg_begin(const char *final_path, char **mem_path)
{
    static unsigned long counter;
    const unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    char name[96];
    snprintf(name, sizeof name, "/vsimem/mw_gpkg_%ld_%lu.gpkg", (long)getpid(), n);
    *mem_path = CPLStrdup(name);
    /* The same inputs give the same bytes: the GeoPackage's last_change stamps are fixed (to
     * SOURCE_DATE_EPOCH when set, the reproducible-builds convention), not the clock's. */
    char stamp[32] = "1970-01-01T00:00:00.000Z";
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        time_t t = (time_t)strtoll(sde, NULL, 10);
        struct tm tm;
        if (gmtime_r(&t, &tm)) strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S.000Z", &tm);
    }
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", stamp);
    GDALDatasetH ds = GDALCreate(GDALGetDriverByName("GPKG"), name, 0, 0, 0, GDT_Unknown, NULL);
    if (!ds) {
        CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
        mw_error_from_gdal(MW_ERR_IO, "cannot create '%s'", final_path);
        CPLFree(*mem_path);
        *mem_path = NULL;
    }
    return ds;
}

int mw_gpkg_finish(void *ds, char *mem_path, const char *final_path, int ok)
{
    int rc = ok ? 0 : -1;
    if (ds && mw_gdal_close_written(ds, final_path) && rc == 0) rc = -1;
    CPLSetThreadLocalConfigOption("OGR_CURRENT_DATE", NULL);
    char *tmp = rc == 0 ? mw_part_path(final_path) : NULL;
    if (rc == 0 && !tmp) rc = mw_error_set(MW_ERR_NOMEM, "out of memory");
    if (rc == 0) {
        CPLErrorReset();
        if (CPLCopyFile(tmp, mem_path) != 0)
            rc = mw_error_from_gdal(MW_ERR_IO, "writing '%s' failed (disk full?)", final_path);
    }
    if (rc == 0) rc = mw_commit_path(tmp, final_path);
    if (rc && tmp) mw_remove_tree(tmp);
    free(tmp);
    if (mem_path) VSIUnlink(mem_path);
    CPLFree(mem_path);
    return rc;
}
