/* One SQL statement on a GDAL vector dataset (GeoPackage, PostgreSQL), its failure an error. */
#ifndef MW_GDAL_SQL_H
#define MW_GDAL_SQL_H

/* Runs statement on ds (GDALDatasetH); a result set, if any, is released. Returns 0, or -1
 * with an MW_ERR_IO error "<what>: <GDAL's message>". */
int mw_gdal_sql(void *ds, const char *statement, const char *what);

#endif
