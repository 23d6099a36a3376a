/* GeoPackages are built in memory (/vsimem/) and then copied to their place: SQLite cannot open
 * a path longer than 512 bytes, and a long output folder must not make a vector output fail
 * where the rasters beside it succeed. The copy lands atomically, like every output. */
#ifndef MW_GPKG_FILE_H
#define MW_GPKG_FILE_H

#include <stddef.h>

/* A new, empty GeoPackage dataset in memory (GDALDatasetH), or NULL with an error naming
 * final_path. *mem_path gets its in-memory name (caller passes it to mw_gpkg_finish). */
void *mw_gpkg_begin(const char *final_path, char **mem_path);
/* Closes ds (checking the close), then, when ok, copies it to final_path whole or not at all.
 * Always frees the in-memory file and mem_path. Returns 0, or -1 with an error. */
int mw_gpkg_finish(void *ds, char *mem_path, const char *final_path, int ok);

/* The GeoPackage schema extension (gpkg_data_columns): a title and description per column of
 * table, read by GIS tools as the column's label and help; the unit goes in both. */
int mw_gpkg_describe_columns(void *ds, const char *table, size_t n, const char *const *columns,
                             const char *const *titles, const char *const *descriptions);
/* A QGIS style (QML) stored in the layer_styles table, the default for table: QGIS applies it
 * when the layer is opened. */
int mw_gpkg_add_style(void *ds, const char *table, const char *geometry_column, const char *name,
                      const char *qml, const char *description);

#endif
