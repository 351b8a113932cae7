/* mofrt.c: thread pool, aligned allocation and activations of mof's cpu artifacts. */
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#endif
#if MOFRT_THREADS && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif
#if MOFRT_THREADS
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#endif
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mofrt.h"

#define MOFRT_HUGE_PAGE ((size_t)2 << 20)

void *mofrt_alloc(size_t size, size_t align)
{
    /* Blocks of 2 MiB or more (arenas, weights) start on a 2 MiB boundary and ask
     * Linux for transparent huge pages (where THP is "madvise", the default of many
     * distributions, nothing else does): fewer TLB misses, 3% off MobileNetV2. */
    int huge = size >= MOFRT_HUGE_PAGE && align < MOFRT_HUGE_PAGE;
    if (huge)
        align = MOFRT_HUGE_PAGE;
    /* Over-allocate and keep the original pointer just below the aligned block. */
    unsigned char *raw = (unsigned char *)malloc(size + align + sizeof(void *));
    uintptr_t p;
    if (!raw)
        return NULL;
    p = ((uintptr_t)(raw + sizeof(void *)) + align - 1) & ~(uintptr_t)(align - 1);
    memcpy((void *)(p - sizeof(void *)), &raw, sizeof raw);
#if defined(MADV_HUGEPAGE)
    if (huge)
        (void)madvise((void *)p, size, MADV_HUGEPAGE); /* advice only */
#endif
    return (void *)p;
}

void mofrt_free(void *p)
{
    void *raw;
    if (!p)
        return;
    memcpy(&raw, (unsigned char *)p - sizeof(void *), sizeof raw);
    free(raw);
}

/* The pool: workers spin a while on the generation counter before they sleep on a
 * condition variable, and the caller spins a while on the pending count before it
 * sleeps, so that back-to-back parallel loops (a network's layers) cost no system
 * calls, while an idle pool sleeps. Spinning is bounded in time: MOFRT_SPIN_US in the
 * environment (microseconds, default 1000, none when the pool has more threads than
 * there are online processors; 0: never spin, for shared cores). */
struct mofrt_pool {
    int n;
#if MOFRT_THREADS
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    unsigned long generation; /* atomic: bumped once per parallel loop */
    int pending;              /* atomic: workers still running the current loop */
    int sleepers;             /* atomic: workers waiting on `work` */
    int waiting;              /* atomic: 1 while the caller waits on `done` */
    int stop;                 /* atomic */
    double spin_s;
    mofrt_task fn;
    void *ctx;
    int64_t total;
#endif
};

#if MOFRT_THREADS
#if !defined(__GNUC__)
#error "threads > 1 needs the __atomic builtins of gcc or clang (or build with threads=1)"
#endif
#define MOFRT_LD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define MOFRT_ST(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define MOFRT_ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_SEQ_CST)

static void mofrt_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static double mofrt_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Spins until done(p, arg) or p->spin_s seconds have passed; returns done's value. */
static int mofrt_spin(mofrt_pool *p, int (*done)(mofrt_pool *, unsigned long),
                      unsigned long arg)
{
    double until = 0;
    long i;
    if (p->spin_s <= 0)
        return done(p, arg);
    for (i = 0;; i++) {
        if (done(p, arg))
            return 1;
        mofrt_relax();
        if ((i & 255) == 255) {
            double t = mofrt_now();
            if (until == 0)
                until = t + p->spin_s;
            else if (t > until)
                return 0;
        }
    }
}

static int mofrt_new_work(mofrt_pool *p, unsigned long seen)
{
    return MOFRT_LD(p->generation) != seen || MOFRT_LD(p->stop);
}

static int mofrt_all_done(mofrt_pool *p, unsigned long unused)
{
    (void)unused;
    return MOFRT_LD(p->pending) == 0;
}

typedef struct mofrt_worker_arg {
    mofrt_pool *p;
    int index;
} mofrt_worker_arg;

static void mofrt_chunk(int64_t total, int n, int i, int64_t *b, int64_t *e)
{
    int64_t q = total / n, r = total % n;
    *b = i * q + (i < r ? i : r);
    *e = *b + q + (i < r ? 1 : 0);
}

static void *mofrt_worker(void *arg)
{
    mofrt_worker_arg a = *(mofrt_worker_arg *)arg;
    mofrt_pool *p = a.p;
    unsigned long seen = 0;
    free(arg);
    for (;;) {
        int64_t b, e;
        if (!mofrt_spin(p, mofrt_new_work, seen)) {
            /* Sleep. The caller bumps the generation, then reads sleepers; this reads
             * the generation after counting itself in: one of the two sees the
             * other (all sequentially consistent), and the broadcast takes the mutex
             * this holds until it waits. */
            pthread_mutex_lock(&p->mu);
            MOFRT_ADD(p->sleepers, 1);
            while (!mofrt_new_work(p, seen))
                pthread_cond_wait(&p->work, &p->mu);
            MOFRT_ADD(p->sleepers, -1);
            pthread_mutex_unlock(&p->mu);
        }
        if (MOFRT_LD(p->stop))
            return NULL;
        seen = MOFRT_LD(p->generation);
        mofrt_chunk(p->total, p->n, a.index, &b, &e);
        if (b < e)
            p->fn(p->ctx, b, e, a.index);
        /* The same handshake with the caller waiting for the last worker. */
        if (MOFRT_ADD(p->pending, -1) == 0 && MOFRT_LD(p->waiting)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

/* MOFRT_SPIN_US when set; else 1 ms, or no spinning when the pool has more threads
 * than the machine has online processors (a spinning worker would hold a core that a
 * preempted one needs, as libgomp also avoids). */
static double mofrt_spin_seconds(int threads)
{
    const char *env = getenv("MOFRT_SPIN_US");
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (env && *env) {
        char *end = NULL;
        double v = strtod(env, &end);
        if (end && !*end && v >= 0)
            return v * 1e-6;
    }
    return cpus > 0 && threads > cpus ? 0 : 1e-3;
}
#endif

mofrt_pool *mofrt_pool_create(int n)
{
    mofrt_pool *p = (mofrt_pool *)calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n < 1 ? 1 : n;
#if MOFRT_THREADS
    if (p->n > 1) {
        int i;
        p->threads = (pthread_t *)calloc((size_t)p->n, sizeof *p->threads);
        if (!p->threads) {
            free(p);
            return NULL;
        }
        p->spin_s = mofrt_spin_seconds(p->n);
        pthread_mutex_init(&p->mu, NULL);
        pthread_cond_init(&p->work, NULL);
        pthread_cond_init(&p->done, NULL);
        for (i = 1; i < p->n; i++) {
            mofrt_worker_arg *a = (mofrt_worker_arg *)malloc(sizeof *a);
            /* The worker reads and frees its argument at once: fill it first. */
            if (a) {
                a->p = p;
                a->index = i;
            }
            if (!a || pthread_create(&p->threads[i], NULL, mofrt_worker, a) != 0) {
                free(a);
                p->n = i;
                mofrt_pool_destroy(p);
                return NULL;
            }
        }
    }
#else
    p->n = 1;
#endif
    return p;
}

void mofrt_pool_destroy(mofrt_pool *p)
{
    if (!p)
        return;
#if MOFRT_THREADS
    if (p->threads) {
        int i;
        pthread_mutex_lock(&p->mu);
        MOFRT_ST(p->stop, 1);
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        for (i = 1; i < p->n; i++)
            pthread_join(p->threads[i], NULL);
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->done);
        free(p->threads);
    }
#endif
    free(p);
}

int mofrt_pool_size(const mofrt_pool *p)
{
    return p ? p->n : 1;
}

void mofrt_parallel_for(mofrt_pool *p, int64_t n, mofrt_task fn, void *ctx)
{
    if (n <= 0)
        return;
#if MOFRT_THREADS
    if (p && p->n > 1 && n > 1) {
        int64_t b, e;
        /* Publish the loop, then the generation (workers read the loop after it). */
        p->fn = fn;
        p->ctx = ctx;
        p->total = n;
        MOFRT_ST(p->pending, p->n - 1);
        MOFRT_ADD(p->generation, 1);
        if (MOFRT_LD(p->sleepers) > 0) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->work);
            pthread_mutex_unlock(&p->mu);
        }
        mofrt_chunk(n, p->n, 0, &b, &e);
        if (b < e)
            fn(ctx, b, e, 0);
        if (!mofrt_spin(p, mofrt_all_done, 0)) {
            pthread_mutex_lock(&p->mu);
            MOFRT_ST(p->waiting, 1);
            while (MOFRT_LD(p->pending) != 0)
                pthread_cond_wait(&p->done, &p->mu);
            MOFRT_ST(p->waiting, 0);
            pthread_mutex_unlock(&p->mu);
        }
        return;
    }
#endif
    (void)p;
    fn(ctx, 0, n, 0);
}

float mofrt_act1(float y, mofrt_act act, const float *p)
{
    switch (act) {
    case MOFRT_ACT_RELU: return y > 0 ? y : 0;
    case MOFRT_ACT_LEAKY_RELU: return y < 0 ? p[0] * y : y;
    case MOFRT_ACT_CLIP: return y < p[0] ? p[0] : (y > p[1] ? p[1] : y);
    case MOFRT_ACT_SIGMOID: return (float)(1.0 / (1.0 + exp(-(double)y)));
    case MOFRT_ACT_HARD_SIGMOID: {
        double v = (double)p[0] * y + p[1];
        return (float)(v < 0 ? 0 : (v > 1 ? 1 : v));
    }
    case MOFRT_ACT_HARD_SWISH: {
        double v = (double)y / 6.0 + 0.5;
        return (float)(y * (v < 0 ? 0 : (v > 1 ? 1 : v)));
    }
    case MOFRT_ACT_SILU: return (float)(y / (1.0 + exp(-(double)y)));
    default: return y;
    }
}

void mofrt_activate(float *y, int64_t n, mofrt_act act, const float *p)
{
    int64_t i;
    switch (act) {
    case MOFRT_ACT_NONE:
        return;
    case MOFRT_ACT_RELU:
        for (i = 0; i < n; i++)
            y[i] = y[i] > 0 ? y[i] : 0;
        return;
    case MOFRT_ACT_CLIP: {
        float lo = p[0], hi = p[1];
        for (i = 0; i < n; i++) {
            float v = y[i] < lo ? lo : y[i];
            y[i] = v > hi ? hi : v;
        }
        return;
    }
    default:
        for (i = 0; i < n; i++)
            y[i] = mofrt_act1(y[i], act, p);
        return;
    }
}
