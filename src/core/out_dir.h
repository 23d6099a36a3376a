/* A run's output folder: one run at a time (a lock), outputs written aside and committed as a
 * whole, so a folder never mixes two runs, and a run killed at any moment leaves either the
 * previous outputs or the new ones, never a mixture that looks complete.
 *
 *   <root>/.minewatch/lock           held (flock) by the run writing to <root>
 *   <root>/.minewatch/staging-<pid>/ where the run writes, same layout as <root>
 *   <root>/.minewatch/commit.json    the journal: while it exists, files are being moved in
 *
 * A run killed before its commit leaves its staging folder, removed by the next run. A run
 * killed during its commit leaves the journal, and the next run finishes moving those files in
 * (roll forward) before it starts. */
#ifndef MW_OUT_DIR_H
#define MW_OUT_DIR_H

#include <stddef.h>

typedef struct mw_out_dir {
    char *root;    /* the user's output folder */
    char *meta;    /* <root>/.minewatch */
    char *staging; /* <root>/.minewatch/staging-<pid> */
    int lock_fd;
    int recovered; /* files an interrupted commit left, moved in by open */
} mw_out_dir;

/* Creates root if needed, takes its lock (refusing, with the other run's pid, when held),
 * completes or clears what an interrupted run left, and makes this run's staging folder. */
int mw_out_dir_open(const char *root, mw_out_dir *od);
/* <staging>/<rel>; caller frees. */
char *mw_out_dir_stage(const mw_out_dir *od, const char *rel);
/* <root>/<rel>; caller frees. */
char *mw_out_dir_final(const mw_out_dir *od, const char *rel);
/* The staged files (paths relative to staging, sorted, "provenance.json" last), NULL-terminated;
 * free with mw_out_dir_list_free. */
char **mw_out_dir_list(const mw_out_dir *od, size_t *n);
void mw_out_dir_list_free(char **list);
/* Moves every staged file into root, journaled: first every target is checked (a target that
 * exists and is not a regular file fails the commit before anything moves), then the journal
 * is written, the files renamed (provenance.json last) and the journal removed. */
int mw_out_dir_commit(mw_out_dir *od);
/* Removes what is left of the staging folder and releases the lock. */
void mw_out_dir_close(mw_out_dir *od);

/* An exclusive lock on <dir>/<name> (created if needed, never through a symbolic link).
 * wait = 0: fails at once when another process holds it, naming its pid; wait = 1: blocks.
 * Returns the descriptor to pass to mw_dir_unlock, or -1 with an error. */
int mw_dir_lock(const char *dir, const char *name, const char *what, int wait);
void mw_dir_unlock(int fd);

#endif
