/* mofrt.c: thread pool, aligned allocation and activations of mof's cpu artifacts. */
#if MOFRT_THREADS
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#endif
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mofrt.h"

void *mofrt_alloc(size_t size, size_t align)
{
    /* Over-allocate and keep the original pointer just below the aligned block. */
    unsigned char *raw = (unsigned char *)malloc(size + align + sizeof(void *));
    uintptr_t p;
    if (!raw)
        return NULL;
    p = ((uintptr_t)(raw + sizeof(void *)) + align - 1) & ~(uintptr_t)(align - 1);
    memcpy((void *)(p - sizeof(void *)), &raw, sizeof raw);
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

struct mofrt_pool {
    int n;
#if MOFRT_THREADS
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    unsigned long generation;
    int pending;
    int stop;
    mofrt_task fn;
    void *ctx;
    int64_t total;
#endif
};

#if MOFRT_THREADS
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
        mofrt_task fn;
        void *ctx;
        int64_t total, b, e;
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->generation == seen)
            pthread_cond_wait(&p->work, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->generation;
        fn = p->fn;
        ctx = p->ctx;
        total = p->total;
        pthread_mutex_unlock(&p->mu);
        mofrt_chunk(total, p->n, a.index, &b, &e);
        if (b < e)
            fn(ctx, b, e, a.index);
        pthread_mutex_lock(&p->mu);
        if (--p->pending == 0)
            pthread_cond_signal(&p->done);
        pthread_mutex_unlock(&p->mu);
    }
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
        p->stop = 1;
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
        pthread_mutex_lock(&p->mu);
        p->fn = fn;
        p->ctx = ctx;
        p->total = n;
        p->pending = p->n - 1;
        p->generation++;
        pthread_cond_broadcast(&p->work);
        pthread_mutex_unlock(&p->mu);
        mofrt_chunk(n, p->n, 0, &b, &e);
        if (b < e)
            fn(ctx, b, e, 0);
        pthread_mutex_lock(&p->mu);
        while (p->pending > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
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
