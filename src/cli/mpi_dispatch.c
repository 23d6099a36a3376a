#include "mpi_dispatch.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mpi.h>

#include "minewatch/error.h"

enum { TAG_SITE = 1, TAG_HEAD, TAG_TEXT };

typedef struct mpi_ctx {
    int agreed;
} mpi_ctx;

static mpi_ctx g_ctx;

/* Waiting ranks sleep instead of spinning: OpenMPI's blocking calls poll a core each, and the
 * cores belong to the ranks that compute. */
static void nap(void)
{
    const struct timespec t = {0, 2000000};
    nanosleep(&t, NULL);
}

static void wait_for(MPI_Request *r, MPI_Status *st)
{
    int done = 0;
    while (MPI_Test(r, &done, st) == MPI_SUCCESS && !done)
        nap();
}

static int agree(void *ctx, int status)
{
    mpi_ctx *c = ctx;
    c->agreed = 1;
    MPI_Request r;
    MPI_Ibcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD, &r);
    wait_for(&r, MPI_STATUS_IGNORE);
    return status;
}

static void send_site(int to, int64_t site)
{
    MPI_Send(&site, 1, MPI_INT64_T, to, TAG_SITE, MPI_COMM_WORLD);
}

/* Rank 0: the sites in the order given, each to the first rank that is free (dynamic balancing:
 * sites differ greatly in size), until every result is back. */
static int coordinate(int size, size_t n, const size_t *order, char **texts)
{
    size_t next = 0, back = 0;
    int busy = 0;
    for (int r = 1; r < size; r++) {
        if (next < n)
            send_site(r, (int64_t)order[next++]), busy++;
        else
            send_site(r, -1);
    }
    while (busy > 0) {
        int flag = 0;
        MPI_Status st;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_HEAD, MPI_COMM_WORLD, &flag, &st);
        if (!flag) {
            nap();
            continue;
        }
        int64_t head[2];
        MPI_Recv(head, 2, MPI_INT64_T, st.MPI_SOURCE, TAG_HEAD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        char *text = malloc((size_t)head[1] + 1);
        MPI_Recv(text ? text : (char[1]){0}, text ? (int)head[1] : 0, MPI_CHAR, st.MPI_SOURCE,
                 TAG_TEXT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (text) text[head[1]] = 0;
        if (texts && head[0] >= 0 && (size_t)head[0] < n && text) {
            texts[head[0]] = text;
            back++;
        } else
            free(text);
        if (next < n)
            send_site(st.MPI_SOURCE, (int64_t)order[next++]);
        else
            send_site(st.MPI_SOURCE, -1), busy--;
    }
    return back == n || !texts
               ? 0
               : mw_error_set(MW_ERR_IO, "%zu of %zu sites' results came back", back, n);
}

/* Another rank: computes the sites it is given, sends each result back, until told to stop. */
static int work(char *(*obtain)(size_t, void *), void *user)
{
    for (;;) {
        int64_t site = -1;
        MPI_Request r;
        MPI_Irecv(&site, 1, MPI_INT64_T, 0, TAG_SITE, MPI_COMM_WORLD, &r);
        wait_for(&r, MPI_STATUS_IGNORE);
        if (site < 0) return 0;
        char *text = obtain((size_t)site, user);
        const size_t len = text ? strlen(text) : 0;
        int64_t head[2] = {site, (int64_t)len};
        MPI_Send(head, 2, MPI_INT64_T, 0, TAG_HEAD, MPI_COMM_WORLD);
        MPI_Send(text ? text : "", (int)len, MPI_CHAR, 0, TAG_TEXT, MPI_COMM_WORLD);
        free(text);
    }
}

static int spread(void *ctx, size_t n, const size_t *order, char *(*obtain)(size_t, void *),
                  void *user, char **texts)
{
    (void)ctx;
    int rank = 0, size = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return rank == 0 ? coordinate(size, n, order, texts) : work(obtain, user);
}

int mw_mpi_start(int *argc, char ***argv, mw_site_dispatch *d, int *local_ranks)
{
    /* only under a launcher: a plain run must not start MPI's runtime */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return 0;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) return 0;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, local_ranks);
    MPI_Comm_free(&node);
    d->agree = agree;
    d->spread = spread;
    d->ctx = &g_ctx;
    return 1;
}

void mw_mpi_release(mw_site_dispatch *d)
{
    if (d->rank == 0 && d->size > 1 && !((mpi_ctx *)d->ctx)->agreed) agree(d->ctx, -1);
}

void mw_mpi_stop(void)
{
    MPI_Finalize();
}
