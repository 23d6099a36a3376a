/* A driver for the fuzz targets without libFuzzer, for `make test`: it replays every file of the
 * corpus folders given, then, with --seconds N, mutates them for N seconds (bit flips, byte
 * changes, insertions and deletions, duplicated and spliced runs, tokens of the formats) with a
 * fixed seed, so a failure reproduces. Built under ASan + UBSan, a crash or leak fails the test.
 * `make fuzz` runs the same targets under libFuzzer, coverage-guided, for long runs. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

typedef struct input {
    uint8_t *d;
    size_t n;
} input;

static input *g_in;
static size_t g_n, g_cap;

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    if (n < 0 || n > (16 << 20)) {
        fclose(f);
        return;
    }
    uint8_t *d = malloc((size_t)n + 1);
    size_t got = d ? fread(d, 1, (size_t)n, f) : 0;
    fclose(f);
    if (!d) return;
    if (g_n == g_cap) {
        g_cap = g_cap ? g_cap * 2 : 64;
        g_in = realloc(g_in, g_cap * sizeof *g_in);
    }
    g_in[g_n++] = (input){d, got};
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) return;
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *dir = opendir(path);
    struct dirent *e;
    while (dir && (e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        add_file(p);
    }
    if (dir) closedir(dir);
}

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static const char *const tokens[] = {"{",
                                     "}",
                                     "[",
                                     "]",
                                     ":",
                                     ",",
                                     "\"",
                                     "\n",
                                     "- ",
                                     "null",
                                     "true",
                                     "1e308",
                                     "-1",
                                     "0",
                                     "NaN",
                                     "\\u0000",
                                     "../",
                                     "/vsi",
                                     "file:///",
                                     "http://",
                                     "gopher://",
                                     "?sig=x",
                                     "'",
                                     "&a",
                                     "*a",
                                     "!!str",
                                     "\"type\"",
                                     "\"Feature\"",
                                     "\"assets\"",
                                     "\"href\"",
                                     "\"id\"",
                                     "\"properties\"",
                                     "\"datetime\"",
                                     "\"bbox\"",
                                     "\"links\"",
                                     "\"next\"",
                                     "\"features\"",
                                     "<",
                                     ">",
                                     "</",
                                     "name:",
                                     "sites:",
                                     "periods:",
                                     "source:",
                                     "\xff",
                                     "\t",
                                     "%s%n"};

/* One mutation of buf (n bytes, room for cap), returns the new length. */
static size_t mutate(uint8_t *buf, size_t n, size_t cap)
{
    switch (rnd() % 7) {
    case 0: /* flip a bit */
        if (n) buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
        return n;
    case 1: /* set a byte */
        if (n) buf[rnd() % n] = (uint8_t)rnd();
        return n;
    case 2: { /* delete a run */
        if (!n) return n;
        size_t a = rnd() % n, len = 1 + rnd() % (n - a < 64 ? n - a : 64);
        memmove(buf + a, buf + a + len, n - a - len);
        return n - len;
    }
    case 3: { /* insert a token */
        const char *t = tokens[rnd() % (sizeof tokens / sizeof *tokens)];
        size_t len = strlen(t), a = n ? rnd() % (n + 1) : 0;
        if (n + len > cap) return n;
        memmove(buf + a + len, buf + a, n - a);
        memcpy(buf + a, t, len);
        return n + len;
    }
    case 4: { /* duplicate a run */
        if (!n) return n;
        size_t a = rnd() % n, len = 1 + rnd() % (n - a < 256 ? n - a : 256), at = rnd() % (n + 1);
        if (n + len > cap) return n;
        uint8_t tmp[256];
        memcpy(tmp, buf + a, len);
        memmove(buf + at + len, buf + at, n - at);
        memcpy(buf + at, tmp, len);
        return n + len;
    }
    case 5: { /* splice with another input */
        const input *o = &g_in[rnd() % g_n];
        if (!o->n || !n) return n;
        size_t a = rnd() % n, b = rnd() % o->n, len = o->n - b;
        if (a + len > cap) len = cap - a;
        memcpy(buf + a, o->d + b, len);
        return a + len;
    }
    default: /* truncate */
        return n ? rnd() % n : 0;
    }
}

int main(int argc, char **argv)
{
    double seconds = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            g_rng = strtoull(argv[++i], NULL, 10) | 1;
        else
            add_path(argv[i]);
    }
    if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
    if (g_n == 0) {
        fprintf(stderr, "%s: no corpus files given\n", argv[0]);
        return 2;
    }
    for (size_t i = 0; i < g_n; i++)
        LLVMFuzzerTestOneInput(g_in[i].d, g_in[i].n);
    long runs = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const size_t cap = 1 << 20;
    uint8_t *buf = malloc(cap);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (double)(t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) * 1e-9;
        if (el >= seconds) break;
        const input *in = &g_in[rnd() % g_n];
        size_t n = in->n < cap ? in->n : cap;
        memcpy(buf, in->d, n);
        int m = 1 + (int)(rnd() % 8);
        for (int k = 0; k < m; k++)
            n = mutate(buf, n, cap);
        /* a copy of exactly n bytes, so ASan sees reads past the input's end */
        uint8_t *exact = malloc(n ? n : 1);
        memcpy(exact, buf, n);
        LLVMFuzzerTestOneInput(exact, n);
        free(exact);
        runs++;
    }
    fprintf(stderr, "%s: replayed %zu input(s), ran %ld mutated input(s) in %.0f s\n", argv[0], g_n,
            runs, seconds);
    free(buf);
    for (size_t i = 0; i < g_n; i++)
        free(g_in[i].d);
    free(g_in);
    return 0;
}
