/* report.html: a run's evidence as a page a person reads, beside the indicators. */
#ifndef MW_RUN_PAGE_H
#define MW_RUN_PAGE_H

#include <stddef.h>

#include <jansson.h>

#include "minewatch/indicator.h"
#include "minewatch/pipeline.h"
#include "minewatch/run_report.h"

/* Writes html_path and its pictures into asset_dir (named in the page by asset_name, the
 * folder's name beside the page): per site, true-colour quick-looks of the baseline and the last
 * period with a composite (GDAL, one stretch per site so the two compare), the forest loss and
 * vegetation cleared over the last one with a legend, the indicators over the periods as
 * hand-written SVG charts, a table of every indicator with its unit, the scenes used with their
 * dates, clear fractions and masks, and the methods with their citations from the provenance.
 * maps_dir holds the run's maps (composites, forest loss, cleared). Returns 0, or -1 with an
 * MW_ERR_IO or MW_ERR_NOMEM message; a site whose maps are missing gets its text without
 * pictures. The run's problems so far (rep) head the page. */
int mw_run_page_write(const char *html_path, const char *asset_dir, const char *asset_name,
                      const char *maps_dir, const json_t *prov, const mw_pipeline *p,
                      const mw_indicator_row *rows, size_t nrows, const mw_run_report *rep);

#endif
