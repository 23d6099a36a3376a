/* minewatch under mpirun: sites handed out over MPI ranks (OpenMPI), their results gathered at
 * rank 0, which writes the outputs (see mw_site_dispatch in minewatch/run.h). */
#ifndef MW_MPI_DISPATCH_H
#define MW_MPI_DISPATCH_H

#include "minewatch/run.h"

enum { MW_MPI_NONE, MW_MPI_RANK, MW_MPI_SITE_PROCESS };

/* Starts MPI when the process was launched by mpirun (an MPI launcher's environment), and fills
 * d (rank, size, the transport) and *local_ranks (ranks on this machine): MW_MPI_RANK. A site
 * process (started by a worker rank, below) gets its rank's d without MPI: MW_MPI_SITE_PROCESS.
 * A plain process: MW_MPI_NONE, d untouched. */
int mw_mpi_start(int *argc, char ***argv, mw_site_dispatch *d, int *local_ranks);
/* A rank other than 0 in `run`, `ingest` or `merge`: computes nothing itself but starts the same
 * command as a site process and passes it the sites rank 0 hands out and rank 0 the results. A
 * site process that dies (out of memory, a crash) costs its site only: the site goes back to
 * rank 0 with the reason (rank 0 reports every failure), the next site gets a new process. */
void mw_mpi_supervise(mw_site_dispatch *d, int local_ranks);
/* Rank 0, after the run: if it never told the other ranks whether to start, tells them not to,
 * so none waits forever. */
void mw_mpi_release(mw_site_dispatch *d);
void mw_mpi_stop(void);

#endif
