#include "io/gdal_sql.h"

#include <cpl_error.h>
#include <gdal.h>

#include "minewatch/error.h"

int mw_gdal_sql(void *ds, const char *statement, const char *what)
{
    CPLErrorReset();
    OGRLayerH r = GDALDatasetExecuteSQL(ds, statement, NULL, NULL);
    if (r) GDALDatasetReleaseResultSet(ds, r);
    return CPLGetLastErrorType() >= CE_Failure ? mw_error_from_gdal(MW_ERR_IO, "%s", what) : 0;
}
