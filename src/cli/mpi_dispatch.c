#include "mpi_dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mpi.h>

#include "minewatch/error.h"
#include "minewatch/log.h"

extern char **environ;

enum { TAG_SITE = 1, TAG_HEAD, TAG_TEXT };
enum { RESULT_TEXT = 0, RESULT_LOST = 1 }; /* what a worker rank sends back for a site */
enum { FD_SITES = 3, FD_RESULTS = 4 };     /* a site process's pipes to its rank */

typedef struct mpi_ctx {
    int agreed;
    char **argv;    /* the command, for the site processes */
    char exe[4096]; /* this program (by its own name, so `ps` and /proc name the processes) */
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
static int coordinate(int size, size_t n, const size_t *order, char **texts, char **why)
{
    size_t next = 0, back = 0, lost = 0;
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
        int64_t head[3]; /* site, length, RESULT_* */
        MPI_Recv(head, 3, MPI_INT64_T, st.MPI_SOURCE, TAG_HEAD, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        char *text = malloc((size_t)head[1] + 1);
        MPI_Recv(text ? text : (char[1]){0}, text ? (int)head[1] : 0, MPI_CHAR, st.MPI_SOURCE,
                 TAG_TEXT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (text) text[head[1]] = 0;
        char **to = head[2] == RESULT_TEXT ? texts : why;
        if (to && head[0] >= 0 && (size_t)head[0] < n && text && !to[head[0]]) {
            to[head[0]] = text;
            back += head[2] == RESULT_TEXT;
            lost += head[2] == RESULT_LOST;
        } else
            free(text);
        if (next < n)
            send_site(st.MPI_SOURCE, (int64_t)order[next++]);
        else
            send_site(st.MPI_SOURCE, -1), busy--;
    }
    /* each site lost with its process has its own reason */
    return back + lost == n || !texts
               ? 0
               : mw_error_set(MW_ERR_IO, "%zu of %zu sites' results came back", back, n);
}

static int spread(void *ctx, size_t n, const size_t *order, char *(*obtain)(size_t, void *),
                  void *user, char **texts, char **why)
{
    (void)ctx, (void)obtain, (void)user;
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return coordinate(size, n, order, texts, why);
}

/* ---- a worker rank: its sites are computed by a site process it watches ---- */

static int write_all(int fd, const void *buf, size_t n)
{
    for (const char *p = buf; n > 0;) {
        const ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w, n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, void *buf, size_t n)
{
    for (char *p = buf; n > 0;) {
        const ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r, n -= (size_t)r;
    }
    return 0;
}

typedef struct site_process {
    pid_t pid; /* 0: none running */
    int to, from;
} site_process;

/* A pipe whose ends are above the descriptors the site process gets them at (so moving them
 * there cannot clash), closed on exec in this process. */
static int high_pipe(int fd[2])
{
    int p[2];
    if (pipe(p)) return -1;
    for (int i = 0; i < 2; i++) {
        fd[i] = fcntl(p[i], F_DUPFD_CLOEXEC, 10);
        close(p[i]);
    }
    if (fd[0] >= 0 && fd[1] >= 0) return 0;
    if (fd[0] >= 0) close(fd[0]);
    if (fd[1] >= 0) close(fd[1]);
    return -1;
}

/* The same program and command, told by MINEWATCH_SITE_PROCESS to take its sites from its rank
 * (descriptor 3) and give the results back (descriptor 4) instead of starting MPI. */
static int start_site_process(site_process *sp, int local_ranks)
{
    int down[2], up[2];
    if (high_pipe(down)) return -1;
    if (high_pipe(up)) {
        close(down[0]), close(down[1]);
        return -1;
    }
    char n[16];
    snprintf(n, sizeof n, "%d", local_ranks);
    setenv("MINEWATCH_SITE_PROCESS", "1", 1);
    setenv("MINEWATCH_LOCAL_RANKS", n, 1);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, down[0], FD_SITES);
    posix_spawn_file_actions_adddup2(&fa, up[1], FD_RESULTS);
    posix_spawnattr_t at; /* SIGPIPE as the program normally has it (the rank ignores it) */
    posix_spawnattr_init(&at);
    sigset_t pipe_sig;
    sigemptyset(&pipe_sig);
    sigaddset(&pipe_sig, SIGPIPE);
    posix_spawnattr_setsigdefault(&at, &pipe_sig);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF);
    const int rc = posix_spawn(&sp->pid, g_ctx.exe, &fa, &at, g_ctx.argv, environ);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    close(down[0]), close(up[1]);
    if (rc) {
        close(down[1]), close(up[0]);
        sp->pid = 0;
        errno = rc;
        return -1;
    }
    sp->to = down[1], sp->from = up[0];
    return 0;
}

/* The site process ended (or is ended): why, into buf. */
static void end_site_process(site_process *sp, char *buf, size_t cap)
{
    close(sp->to), close(sp->from);
    int st = 0;
    while (waitpid(sp->pid, &st, 0) < 0 && errno == EINTR)
        ;
    if (buf && WIFSIGNALED(st))
        snprintf(buf, cap, "was killed by signal %d (%s%s)", WTERMSIG(st), strsignal(WTERMSIG(st)),
                 WTERMSIG(st) == SIGKILL ? ": out of memory, or killed by hand" : "");
    else if (buf)
        snprintf(buf, cap, "ended with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    sp->pid = 0;
}

/* Site i through the site process (started when there is none): its result text, or NULL with
 * why the process could not give one in lost. */
static char *through_site_process(site_process *sp, int64_t site, int local_ranks, char *lost,
                                  size_t cap)
{
    char host[64] = "";
    gethostname(host, sizeof host - 1);
    if (!sp->pid && start_site_process(sp, local_ranks)) {
        snprintf(lost, cap, "its process could not be started on %s: %s", host, strerror(errno));
        return NULL;
    }
    const pid_t pid = sp->pid;
    int64_t len = -1;
    char *text = NULL;
    if (write_all(sp->to, &site, sizeof site) == 0 && read_all(sp->from, &len, sizeof len) == 0 &&
        len >= 0 && (text = malloc((size_t)len + 1)) &&
        read_all(sp->from, text, (size_t)len) == 0) {
        text[len] = 0;
        return text;
    }
    free(text);
    char how[160];
    end_site_process(sp, how, sizeof how);
    snprintf(lost, cap,
             "the process computing it (process %d on %s) %s; the other sites went on. Run again: "
             "only the sites without a finished record are redone",
             (int)pid, host, how);
    return NULL;
}

void mw_mpi_supervise(mw_site_dispatch *d, int local_ranks)
{
    if (agree(d->ctx, 0) != 0) return; /* rank 0 could not start: it says why */
    signal(SIGPIPE, SIG_IGN);          /* a site process that died is seen by its pipes */
    site_process sp = {0};
    for (;;) {
        int64_t site = -1;
        MPI_Request r;
        MPI_Irecv(&site, 1, MPI_INT64_T, 0, TAG_SITE, MPI_COMM_WORLD, &r);
        wait_for(&r, MPI_STATUS_IGNORE);
        if (site < 0) break;
        char lost[512] = "";
        char *text = through_site_process(&sp, site, local_ranks, lost, sizeof lost);
        if (!text) mw_log(MW_LOG_ERROR, "site %lld: %s", (long long)site + 1, lost);
        const char *out = text ? text : lost;
        const size_t len = strlen(out);
        int64_t head[3] = {site, (int64_t)len, text ? RESULT_TEXT : RESULT_LOST};
        MPI_Send(head, 3, MPI_INT64_T, 0, TAG_HEAD, MPI_COMM_WORLD);
        MPI_Send(out, (int)len, MPI_CHAR, 0, TAG_TEXT, MPI_COMM_WORLD);
        free(text);
    }
    if (sp.pid) end_site_process(&sp, NULL, 0); /* its sites pipe closes: it ends */
}

/* ---- a site process: sites from its rank's pipe, results back the same way ---- */

static int pipe_agree(void *ctx, int status)
{
    (void)ctx;
    return status; /* its rank started it after rank 0 agreed */
}

static int pipe_spread(void *ctx, size_t n, const size_t *order, char *(*obtain)(size_t, void *),
                       void *user, char **texts, char **why)
{
    (void)ctx, (void)n, (void)order, (void)texts, (void)why;
    int64_t site;
    while (read_all(FD_SITES, &site, sizeof site) == 0) {
        char *text = obtain((size_t)site, user);
        const int64_t len = text ? (int64_t)strlen(text) : 0;
        const int bad =
            write_all(FD_RESULTS, &len, sizeof len) || write_all(FD_RESULTS, text, (size_t)len);
        free(text);
        if (bad) return mw_error_set(MW_ERR_IO, "the rank that started this process is gone");
    }
    return 0;
}

static int env_int(const char *name, int fallback)
{
    const char *v = getenv(name);
    return v && atoi(v) > 0 ? atoi(v) : fallback;
}

int mw_mpi_start(int *argc, char ***argv, mw_site_dispatch *d, int *local_ranks)
{
    if (getenv("MINEWATCH_SITE_PROCESS")) { /* started by a worker rank: no MPI of its own */
        d->rank = env_int("OMPI_COMM_WORLD_RANK", 1);
        d->size = env_int("OMPI_COMM_WORLD_SIZE", 2);
        *local_ranks = env_int("MINEWATCH_LOCAL_RANKS", 1);
        d->agree = pipe_agree;
        d->spread = pipe_spread;
        d->ctx = NULL;
        return MW_MPI_SITE_PROCESS;
    }
    /* only under a launcher: a plain run must not start MPI's runtime */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return MW_MPI_NONE;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return MW_MPI_NONE;
    MPI_Comm_rank(MPI_COMM_WORLD, &d->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &d->size);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, local_ranks);
    MPI_Comm_free(&node);
    g_ctx.argv = *argv;
    const ssize_t n = readlink("/proc/self/exe", g_ctx.exe, sizeof g_ctx.exe - 1);
    if (n > 0)
        g_ctx.exe[n] = 0;
    else
        snprintf(g_ctx.exe, sizeof g_ctx.exe, "/proc/self/exe");
    d->agree = agree;
    d->spread = spread;
    d->ctx = &g_ctx;
    return MW_MPI_RANK;
}

void mw_mpi_release(mw_site_dispatch *d)
{
    if (d->rank == 0 && d->size > 1 && d->ctx && !((mpi_ctx *)d->ctx)->agreed) agree(d->ctx, -1);
}

void mw_mpi_stop(void)
{
    MPI_Finalize();
}
