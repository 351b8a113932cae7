/* mofrt.h: the common runtime of mof's cpu artifacts: a thread pool, aligned
 * allocation, activations. Portable C99 (+ pthreads when built with MOFRT_THREADS=1).
 *
 * Copied into each artifact with "mofrt" replaced by the artifact's runtime prefix, so
 * that several artifacts link into one program. */
#ifndef MOFRT_H
#define MOFRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Built with pthreads (1) or serial only (0): -DMOFRT_THREADS=1 in the artifact's
 * Makefile when threads > 1 was asked for. */
#ifndef MOFRT_THREADS
#define MOFRT_THREADS 0
#endif

#if defined(__GNUC__)
#define MOFRT_RESTRICT __restrict__
#define MOFRT_INLINE static inline __attribute__((always_inline))
#else
#define MOFRT_RESTRICT
#define MOFRT_INLINE static inline
#endif

/* ------------------------------------------------------------------ thread pool */

typedef struct mofrt_pool mofrt_pool;

/* A pool of n threads in all (the caller's thread counts as one: n - 1 workers).
 * NULL when out of memory or when threads cannot be started. n <= 1, or a build with
 * MOFRT_THREADS=0, gives a pool that runs everything on the caller's thread. */
mofrt_pool *mofrt_pool_create(int n);
void mofrt_pool_destroy(mofrt_pool *p);
int mofrt_pool_size(const mofrt_pool *p);

/* Runs fn(ctx, begin, end, thread) over [0, n) split into contiguous chunks, one per
 * thread at most, and returns when every chunk is done. `thread` is in
 * [0, mofrt_pool_size) and distinct for chunks running at the same time (use it to
 * index per-thread scratch). Not reentrant: call it from one thread at a time, never
 * from inside fn. */
typedef void (*mofrt_task)(void *ctx, int64_t begin, int64_t end, int thread);
void mofrt_parallel_for(mofrt_pool *p, int64_t n, mofrt_task fn, void *ctx);

/* ------------------------------------------------------------------ memory */

/* size bytes aligned to `align` (a power of two, >= sizeof(void *)); NULL on failure.
 * Free with mofrt_free. */
void *mofrt_alloc(size_t size, size_t align);
void mofrt_free(void *p);

/* ------------------------------------------------------------------ activations
 *
 * The activations of mof's fused ops (<mof/fused.h>), same numbering. */
typedef enum mofrt_act {
    MOFRT_ACT_NONE = 0,
    MOFRT_ACT_RELU,
    MOFRT_ACT_LEAKY_RELU,
    MOFRT_ACT_CLIP,
    MOFRT_ACT_SIGMOID,
    MOFRT_ACT_HARD_SIGMOID,
    MOFRT_ACT_HARD_SWISH,
    MOFRT_ACT_SILU
} mofrt_act;

/* y[i] = act(y[i]) for n elements; p: the activation's parameters (2). */
void mofrt_activate(float *y, int64_t n, mofrt_act act, const float *p);

/* One element (for kernels' epilogues). */
float mofrt_act1(float y, mofrt_act act, const float *p);

#ifdef __cplusplus
}
#endif
#endif
