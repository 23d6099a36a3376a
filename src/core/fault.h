/* Fault injection for the tests: MW_FAULT_KILL_AT=<point>:<n> kills the process (SIGKILL, as a
 * power cut or an OOM killer would) the n-th time it passes the named point. The points are the
 * stages a run can die between: "scene" (a scene ingested), "period" (a period composited),
 * "site" (a site's maps written, its record not yet), "record" (a site's record committed),
 * "outputs" (the run's outputs staged, not yet committed). With MW_FAULT_ONCE_FILE=<path>, only
 * the first process of a job that reaches the point dies (it creates the file; the others see it
 * exists). */
#ifndef MW_FAULT_H
#define MW_FAULT_H

void mw_fault_point(const char *name);

#endif
