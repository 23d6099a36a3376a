/* minewatch under mpirun: sites handed out over MPI ranks (OpenMPI), their results gathered at
 * rank 0, which writes the outputs (see mw_site_dispatch in minewatch/run.h). */
#ifndef MW_MPI_DISPATCH_H
#define MW_MPI_DISPATCH_H

#include "minewatch/run.h"

/* Starts MPI when the process was launched by mpirun (an MPI launcher's environment), and fills
 * d (rank, size, the transport) and *local_ranks (ranks on this machine). Returns 1 when MPI
 * runs, 0 when this is a plain process (d untouched). */
int mw_mpi_start(int *argc, char ***argv, mw_site_dispatch *d, int *local_ranks);
/* Rank 0, after the run: if it never told the other ranks whether to start, tells them not to,
 * so none waits forever. */
void mw_mpi_release(mw_site_dispatch *d);
void mw_mpi_stop(void);

#endif
