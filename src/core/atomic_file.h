/* Outputs appear whole or not at all: write to a temporary name beside the target, then rename. */
#ifndef MW_ATOMIC_FILE_H
#define MW_ATOMIC_FILE_H

/* "<stem>.part-<pid>.<ext>" beside the target; caller frees. */
char *mw_part_path(const char *final_path);
/* Rename tmp over final (files) and report failures with both names. */
int mw_commit_path(const char *tmp_path, const char *final_path);
/* Replace a folder: remove final_dir if present, then rename tmp_dir to it. */
int mw_commit_dir(const char *tmp_dir, const char *final_dir);
/* mkdir -p */
int mw_make_dirs(const char *dir);
/* rm -r, quietly: used to drop partial output after a failure. */
void mw_remove_tree(const char *path);

#endif
