/* provenance.json: what produced the indicators, from which scenes, with which tables. */
#ifndef MW_PROVENANCE_H
#define MW_PROVENANCE_H

#include <jansson.h>

#include "minewatch/pipeline.h"
#include "core/out_dir.h"
#include "minewatch/run.h"

json_t *mw_provenance_begin(const mw_pipeline *p, const mw_run_options *o);
/* change_provenance.json of `minewatch change`: the same head, the change stage's methods, and
 * "sites" for the composites read and the thresholds found. */
json_t *mw_provenance_begin_change(const mw_pipeline *p, const mw_run_options *o);
void mw_provenance_finish(json_t *prov, const mw_run_report *rep);
/* minewatch's version and build commit, and the versions of the libraries it links. */
json_t *mw_software_versions(void);
/* SHA-256 of a file as 64 hex digits; "" if unreadable. Caller frees. */
char *mw_sha256_file(const char *path);
/* SHA-256 of a string as 64 hex digits. Caller frees. */
char *mw_sha256_text(const char *text);
/* ISO 8601 UTC timestamp of now. */
void mw_utc_now(char buf[static 32]);
/* Commits a run's staged outputs, unless any failed to be written (stage "outputs" in the report:
 * a full disk): then nothing moves in and the earlier outputs stay whole. Failures go to rep. */
void mw_outputs_commit(mw_out_dir *od, mw_run_report *rep);
/* Stages prov as <name> in the output folder (atomic); 0, or -1 with the failure in rep (stage
 * "outputs", so nothing is committed). */
int mw_provenance_write(const json_t *prov, const mw_out_dir *od, const char *name,
                        mw_run_report *rep);
/* outputs.files: each staged file (path relative to the output folder) with its SHA-256. */
json_t *mw_provenance_output_files(const mw_out_dir *od);

#endif
