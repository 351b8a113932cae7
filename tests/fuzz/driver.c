/* driver.c: runs a libFuzzer harness (LLVMFuzzerTestOneInput) without libFuzzer, so
 * that `make check` fuzzes with gcc under ASan/UBSan.
 *
 *   fuzz_onnx [-seconds N] [-runs N] [-seed N] [-dict FILE] [-artifacts DIR]
 *             [-timeout N] [-max-len N] FILE|DIR...
 *
 * Every FILE (and every file of each DIR, in name order) is run once; with -seconds
 * or -runs, a deterministic mutation loop follows: an xorshift generator seeded with
 * -seed picks an input of the pool (the files, and mutants the harness accepted),
 * stacks 1-4 mutations (mutate.h; protobuf-aware for the ONNX harness) and runs the
 * result. Without an option it only runs the files: `fuzz_onnx crash-onnx-XXXX.onnx`
 * reproduces a failure.
 *
 * A crash, a sanitizer report, a broken invariant (abort) or an input running longer
 * than -timeout seconds writes the input to DIR/crash-<harness>-<hash><ext> (or
 * timeout-...) and prints that path. Leaks: under LeakSanitizer the loop checks for
 * leaks every LEAK_BATCH inputs; on a leak it writes the inputs of the batch and runs
 * itself on them, one leak check per file, to name the one that leaks. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuzz.h"
#include "mutate.h"

#ifndef MOF_FUZZ_NAME
#error "MOF_FUZZ_NAME (onnx, text, pipeline) must be defined"
#endif
#ifndef MOF_FUZZ_EXT
#define MOF_FUZZ_EXT ".bin"
#endif
#ifndef MOF_FUZZ_FLAGS
#define MOF_FUZZ_FLAGS 0
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOF_FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MOF_FUZZ_ASAN 1
#endif
#ifdef MOF_FUZZ_ASAN
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#define PROG "tests/fuzz/fuzz_" MOF_FUZZ_NAME
#define LEAK_BATCH 128
#define POOL_MAX 1024

typedef struct input {
    uint8_t *data;
    size_t size;
    char *path; /* NULL for a mutant */
} input;

/* What is running now, for the crash handlers. */
static const uint8_t *volatile cur_data;
static volatile size_t cur_size;
static const char *volatile cur_path;
/* Short enough that every message below fits its buffer. */
#define ARTIFACTS_MAX 1024
#define ARTIFACT_PATH_MAX (ARTIFACTS_MAX + 64)
static char artifacts[ARTIFACTS_MAX] = ".";
static volatile sig_atomic_t reported;

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* Writes data to DIR/<kind>-<harness>-<hash><ext>; the path goes to out. Uses only
 * what is safe enough in a signal handler. */
static bool write_artifact(const char *kind, const uint8_t *data, size_t size, char *out,
                           size_t out_size)
{
    snprintf(out, out_size, "%s/%s-%s-%016llx%s", artifacts, kind, MOF_FUZZ_NAME,
             (unsigned long long)fnv1a(data, size), MOF_FUZZ_EXT);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return false;
    size_t done = 0;
    while (done < size) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            close(fd);
            return false;
        }
        done += (size_t)w;
    }
    return close(fd) == 0;
}

static void say(const char *s)
{
    ssize_t r = write(2, s, strlen(s));
    (void)r;
}

static void report_input(const char *kind)
{
    if (reported)
        return;
    reported = 1;
    char msg[2 * PATH_MAX + 4 * ARTIFACT_PATH_MAX], path[ARTIFACT_PATH_MAX];
    if (cur_path) {
        snprintf(msg, sizeof(msg), "\nfuzz: %s on the input file %s\nfuzz: reproduce with: "
                 "%s %s\n", kind, cur_path, PROG, cur_path);
    } else if (cur_data && write_artifact(strcmp(kind, "timeout") == 0 ? "timeout" : "crash",
                                          cur_data, cur_size, path, sizeof(path))) {
        snprintf(msg, sizeof(msg), "\nfuzz: %s on a mutated input (%zu bytes), saved as %s\n"
                 "fuzz: reproduce with: %s %s\n", kind, (size_t)cur_size, path, PROG, path);
    } else if (cur_data) {
        snprintf(msg, sizeof(msg), "\nfuzz: %s; the input could not be saved in %s\n", kind,
                 artifacts);
    } else {
        snprintf(msg, sizeof(msg), "\nfuzz: %s outside any input (state shared by all "
                 "inputs, or the driver)\n", kind);
    }
    say(msg);
}

#ifdef MOF_FUZZ_ASAN
static void on_sanitizer_death(void)
{
    report_input("sanitizer report");
}
#endif

static void on_signal(int sig)
{
    report_input(sig == SIGALRM ? "timeout" : "crash");
    signal(sig == SIGALRM ? SIGABRT : sig, SIG_DFL);
    raise(sig == SIGALRM ? SIGABRT : sig);
}

static void install_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
#ifdef MOF_FUZZ_ASAN
    /* ASan reports SEGV, BUS and FPE itself, then calls this. */
    __sanitizer_set_death_callback(on_sanitizer_death);
#else
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
#endif
}

static unsigned timeout_s = 25;

static void run_one(const uint8_t *data, size_t size, const char *path)
{
    /* An exact-size copy, so that ASan sees a read past the end. */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy) {
        fprintf(stderr, "fuzz: out of memory\n");
        exit(1);
    }
    if (size)
        memcpy(copy, data, size);
    cur_data = copy;
    cur_size = size;
    cur_path = path;
    alarm(timeout_s);
    LLVMFuzzerTestOneInput(copy, size);
    alarm(0);
    cur_data = NULL;
    cur_path = NULL;
    free(copy);
}

static bool leaks_now(void)
{
#ifdef MOF_FUZZ_ASAN
    return __lsan_do_recoverable_leak_check() != 0;
#else
    return false;
#endif
}

/* ------------------------------------------------------------------ inputs */

typedef struct pool {
    input *items;
    size_t n, cap, n_files;
} pool;

static bool pool_add(pool *p, uint8_t *data, size_t size, char *path)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        input *items = realloc(p->items, cap * sizeof(*items));
        if (!items)
            return false;
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = (input){ data, size, path };
    return true;
}

static void pool_free(pool *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].data);
        free(p->items[i].path);
    }
    free(p->items);
    memset(p, 0, sizeof(*p));
}

static bool read_file(const char *path, uint8_t **data, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            uint8_t *nb = realloc(buf, cap *= 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool ok = buf && !ferror(f);
    fclose(f);
    if (!ok) {
        free(buf);
        return false;
    }
    *data = buf;
    *size = n;
    return true;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool add_path(pool *p, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            fprintf(stderr, "fuzz: %s: %s\n", path, strerror(errno));
            return false;
        }
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        bool ok = true;
        while (ok && (e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char **nn = realloc(names, (n + 1) * sizeof(*nn));
            size_t len = strlen(path) + strlen(e->d_name) + 2;
            char *full = nn ? malloc(len) : NULL;
            if (nn)
                names = nn;
            if (!full) {
                ok = false;
                break;
            }
            snprintf(full, len, "%s/%s", path, e->d_name);
            names[n++] = full;
        }
        closedir(d);
        if (n)
            qsort(names, n, sizeof(*names), cmp_str);
        for (size_t i = 0; i < n; i++) {
            struct stat fs;
            if (ok && stat(names[i], &fs) == 0 && S_ISREG(fs.st_mode))
                ok = add_path(p, names[i]);
            free(names[i]);
        }
        free(names);
        return ok;
    }
    uint8_t *data;
    size_t size;
    char *copy = strdup(path);
    if (!copy || !read_file(path, &data, &size)) {
        fprintf(stderr, "fuzz: cannot read %s\n", path);
        free(copy);
        return false;
    }
    if (!pool_add(p, data, size, copy)) {
        free(data);
        free(copy);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------ leak hunting */

/* Writes the batch and runs this program on it, one leak check per file. */
static void hunt_leak(const char *self, input *batch, size_t n)
{
    char **argv = calloc(n + 2, sizeof(*argv));
    if (!argv)
        exit(1);
    argv[0] = (char *)self;
    size_t k = 1;
    for (size_t i = 0; i < n; i++) {
        char path[ARTIFACT_PATH_MAX];
        if (write_artifact("leak", batch[i].data, batch[i].size, path, sizeof(path)))
            argv[k++] = strdup(path);
    }
    fprintf(stderr, "fuzz: memory leaked by one of the last %zu inputs (saved as "
                    "%s/leak-%s-*%s); rerunning them one by one\n",
            n, artifacts, MOF_FUZZ_NAME, MOF_FUZZ_EXT);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        execv(self, argv);
        _exit(127);
    }
    int status = 0;
    if (pid > 0)
        waitpid(pid, &status, 0);
    for (size_t i = 1; i < k; i++)
        free(argv[i]);
    free(argv);
    exit(1);
}

/* ------------------------------------------------------------------ main */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(void)
{
    fprintf(stderr, "usage: %s [-seconds N] [-runs N] [-seed N] [-dict FILE] "
                    "[-artifacts DIR] [-timeout N] [-max-len N] FILE|DIR...\n", PROG);
    exit(2);
}

int main(int argc, char **argv)
{
    double seconds = 0;
    unsigned long long runs = 0, seed = 1;
    size_t max_len = 0;
    const char *dict_path = NULL;
    pool p = { 0 };
    mof_fuzz_dict dict = { 0 };
    const char *env = getenv("MOF_FUZZ_ARTIFACTS");
    if (env && *env)
        snprintf(artifacts, sizeof(artifacts), "%s", env);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < argc;
        if (strcmp(a, "-seconds") == 0 && has_value)
            seconds = strtod(argv[++i], NULL);
        else if (strcmp(a, "-runs") == 0 && has_value)
            runs = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "-seed") == 0 && has_value)
            seed = strtoull(argv[++i], NULL, 10);
        else if (strcmp(a, "-dict") == 0 && has_value)
            dict_path = argv[++i];
        else if (strcmp(a, "-artifacts") == 0 && has_value)
            snprintf(artifacts, sizeof(artifacts), "%s", argv[++i]);
        else if (strcmp(a, "-timeout") == 0 && has_value)
            timeout_s = (unsigned)strtoul(argv[++i], NULL, 10);
        else if (strcmp(a, "-max-len") == 0 && has_value)
            max_len = (size_t)strtoull(argv[++i], NULL, 10);
        else if (a[0] == '-')
            usage();
        else if (!add_path(&p, a))
            return 1;
    }
    if (dict_path && !mof_fuzz_dict_load(&dict, dict_path)) {
        fprintf(stderr, "fuzz: cannot read the dictionary %s\n", dict_path);
        return 1;
    }
    bool mutate = seconds > 0 || runs > 0;
    if (mutate && p.n == 0)
        pool_add(&p, NULL, 0, NULL); /* start from the empty input */
    p.n_files = p.n;
    install_handlers();

    /* The files, each once, with a leak check after each. */
    size_t files_accepted = 0;
    for (size_t i = 0; i < p.n_files; i++) {
        run_one(p.items[i].data, p.items[i].size, p.items[i].path);
        files_accepted += mof_fuzz_accepted;
        if (leaks_now()) {
            fprintf(stderr, "fuzz: memory leaked by the input file %s\nfuzz: reproduce "
                            "with: %s %s\n", p.items[i].path, PROG, p.items[i].path);
            return 1;
        }
    }
    if (!mutate) {
        printf("%s: %zu input%s run (%zu accepted), no failure\n", PROG, p.n_files,
               p.n_files == 1 ? "" : "s", files_accepted);
        pool_free(&p);
        mof_fuzz_dict_free(&dict);
        return 0;
    }

    if (!max_len) {
        for (size_t i = 0; i < p.n; i++)
            if (p.items[i].size * 2 > max_len)
                max_len = p.items[i].size * 2;
        if (max_len < 4096)
            max_len = 4096;
        if (max_len > (1u << 20))
            max_len = 1u << 20;
    }
    uint8_t *buf = malloc(max_len);
    input *batch = calloc(LEAK_BATCH, sizeof(*batch));
    if (!buf || !batch)
        return 1;
    size_t n_batch = 0;
    mof_fuzz_rng rng;
    mof_fuzz_rng_seed(&rng, seed);
    const char *self = "/proc/self/exe";
    char self_path[PATH_MAX];
    ssize_t sl = readlink(self, self_path, sizeof(self_path) - 1);
    if (sl > 0) {
        self_path[sl] = '\0';
        self = self_path;
    }

    double start = now_s(), deadline = start + seconds;
    unsigned long long execs = 0, accepted = 0;
    while ((runs == 0 || execs < runs) && (seconds <= 0 || now_s() < deadline)) {
        const input *base = &p.items[mof_fuzz_below(&rng, p.n)];
        const input *other = &p.items[mof_fuzz_below(&rng, p.n)];
        size_t size = base->size < max_len ? base->size : max_len;
        if (size)
            memcpy(buf, base->data, size);
        size_t n_mut = 1 + mof_fuzz_below(&rng, 4);
        for (size_t m = 0; m < n_mut; m++)
            size = mof_fuzz_mutate(&rng, buf, size, max_len, other->data, other->size,
                                   dict.n ? &dict : NULL, MOF_FUZZ_FLAGS);
        run_one(buf, size, NULL);
        execs++;

        /* Remember the batch for the leak check. */
        free(batch[n_batch].data);
        batch[n_batch].data = malloc(size ? size : 1);
        if (!batch[n_batch].data)
            return 1;
        if (size)
            memcpy(batch[n_batch].data, buf, size);
        batch[n_batch].size = size;
        n_batch++;

        /* Mutants the harness accepted become starting points too. */
        if (mof_fuzz_accepted) {
            accepted++;
            uint8_t *keep = malloc(size ? size : 1);
            if (keep) {
                if (size)
                    memcpy(keep, buf, size);
                if (p.n < POOL_MAX) {
                    if (!pool_add(&p, keep, size, NULL))
                        free(keep);
                } else if (p.n > p.n_files && mof_fuzz_below(&rng, 4) == 0) {
                    size_t k = p.n_files + mof_fuzz_below(&rng, p.n - p.n_files);
                    free(p.items[k].data);
                    p.items[k].data = keep;
                    p.items[k].size = size;
                } else {
                    free(keep);
                }
            }
        }
        if (n_batch == LEAK_BATCH) {
            if (leaks_now())
                hunt_leak(self, batch, n_batch);
            n_batch = 0;
        }
    }
    if (n_batch && leaks_now())
        hunt_leak(self, batch, n_batch);
    printf("%s: %zu files (%zu accepted), %llu mutated inputs in %.1f s (%llu accepted, "
           "pool %zu), seed %llu, no failure\n", PROG, p.n_files, files_accepted, execs,
           now_s() - start, accepted, p.n, seed);

    for (size_t i = 0; i < LEAK_BATCH; i++)
        free(batch[i].data);
    free(batch);
    free(buf);
    pool_free(&p);
    mof_fuzz_dict_free(&dict);
    return 0;
}
