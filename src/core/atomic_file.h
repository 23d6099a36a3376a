/* Outputs appear whole or not at all: write to a temporary name beside the target, check that
 * every byte reached the disk, then rename. Only what minewatch made is ever removed, and removal
 * never follows a symbolic link. */
#ifndef MW_ATOMIC_FILE_H
#define MW_ATOMIC_FILE_H

/* "<stem>.part-<pid>-<n>.<ext>" beside the target, unique within and across processes; caller
 * frees. */
char *mw_part_path(const char *final_path);
/* 1 if name is such a temporary name made by process pid (any n); *pid gets the process. */
int mw_part_name_pid(const char *name, long *pid);
/* Flush tmp to the disk, then rename it over final_path. Refuses (and leaves final_path as it
 * was) when final_path exists and is not a regular file: a device, a folder, a symbolic link. */
int mw_commit_path(const char *tmp_path, const char *final_path);
/* Replace a folder minewatch made: move final_dir aside, rename tmp_dir to it, remove the old
 * one (without following links). */
int mw_commit_dir(const char *tmp_dir, const char *final_dir);
/* mkdir -p */
int mw_make_dirs(const char *dir);
/* rm -r of something minewatch made, quietly; a symbolic link is removed itself, never followed,
 * at the top or anywhere below. */
void mw_remove_tree(const char *path);
/* Closes a GDAL dataset that was written and reports a failure GDAL raised while flushing it (a
 * full disk, a write error): GDAL 3.6's GDALClose returns nothing, so the error state is read. */
int mw_gdal_close_written(void *dataset, const char *path);
/* An output path the user named (`index -o`): refused when it exists and is not a regular file,
 * or is the same file as one of the inputs (NULL entries and non-local paths are skipped). */
int mw_output_path_check(const char *path, const char *const *inputs, int ninputs);

#endif
