/* onednn_conv_bench.c: GFLOP/s of one convolution through the cpu backend's oneDNN
 * runtime (plugins/cpu/runtime/mofrt_onednn.c), and the machine's FMA peak.
 *
 *   onednn_conv_bench [--threads N] [--runs R] [--layout plain|blocked8|blocked16]
 *                     [C H W K KH STRIDE PAD]
 *
 * Default: a ResNet 3x3 convolution, N=1, 64 -> 64 channels, 56x56, pad 1, stride 1
 * (0.231 GFLOP). Prints oneDNN's implementation name, the median time of R runs
 * after warm-up, GFLOP/s (2 * MACs / time) and the share of the peak, measured with a
 * loop of independent AVX2 FMAs on one thread (times the thread count).
 * Built and run by tests/bench/run-cpu-latency.sh (or by hand:
 * cc -O2 -Iplugins/cpu/runtime tests/bench/onednn_conv_bench.c
 *    plugins/cpu/runtime/mofrt_onednn.c -ldnnl -lgomp). */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <immintrin.h>

#include "mofrt_onednn.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* FMA peak of one core: 12 independent chains of 8-wide FMAs (more than latency x
 * throughput of current cores), in registers. */
__attribute__((target("avx2,fma"))) static double fma_peak_gflops(void)
{
    __m256 a0 = _mm256_set1_ps(0.f), a1 = _mm256_set1_ps(1e-3f),
           a2 = _mm256_set1_ps(2e-3f), a3 = _mm256_set1_ps(3e-3f),
           a4 = _mm256_set1_ps(4e-3f), a5 = _mm256_set1_ps(5e-3f),
           a6 = _mm256_set1_ps(6e-3f), a7 = _mm256_set1_ps(7e-3f),
           a8 = _mm256_set1_ps(8e-3f), a9 = _mm256_set1_ps(9e-3f),
           a10 = _mm256_set1_ps(1e-2f), a11 = _mm256_set1_ps(1.1e-2f);
    const __m256 m = _mm256_set1_ps(0.999999f), b = _mm256_set1_ps(1e-7f);
    const long iters = 10000000;
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = now();
        for (long it = 0; it < iters; it++) {
#define FMA12(x) x = _mm256_fmadd_ps(x, m, b)
            FMA12(a0); FMA12(a1); FMA12(a2); FMA12(a3); FMA12(a4); FMA12(a5);
            FMA12(a6); FMA12(a7); FMA12(a8); FMA12(a9); FMA12(a10); FMA12(a11);
            __asm__ volatile("" : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4),
                             "+x"(a5), "+x"(a6), "+x"(a7), "+x"(a8), "+x"(a9),
                             "+x"(a10), "+x"(a11));
#undef FMA12
        }
        double dt = now() - t0;
        double g = (double)iters * 12 * 8 * 2 / dt * 1e-9;
        if (g > best)
            best = g;
    }
    float sink[8];
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    _mm256_storeu_ps(sink, s);
    if (sink[0] == 12345.f) /* keeps the loop */
        printf("#");
    return best;
}

int main(int argc, char **argv)
{
    int threads = 1, runs = 50, block = 8;
    mofrt_onednn_layout layout = MOFRT_ONEDNN_BLOCKED;
    int dims[7] = {64, 56, 56, 64, 3, 1, 1}, nd = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--layout") && i + 1 < argc) {
            const char *l = argv[++i];
            layout = strcmp(l, "plain") ? MOFRT_ONEDNN_BLOCKED : MOFRT_ONEDNN_PLAIN;
            block = strcmp(l, "blocked16") ? 8 : 16;
        } else if (nd < 7)
            dims[nd++] = atoi(argv[i]);
        else {
            fprintf(stderr, "usage: %s [--threads N] [--runs R] [--layout "
                            "plain|blocked8|blocked16] [C H W K KH STRIDE PAD]\n",
                    argv[0]);
            return 2;
        }
    }
    if (runs < 1)
        runs = 1;
    int c = dims[0], h = dims[1], w = dims[2], k = dims[3], kh = dims[4], st = dims[5],
        pad = dims[6];
    int oh = (h + 2 * pad - kh) / st + 1, ow = (w + 2 * pad - kh) / st + 1;
    mofrt_onednn *rt = mofrt_onednn_create(threads);
    if (!rt) {
        fprintf(stderr, "onednn_conv_bench: cannot create the oneDNN runtime\n");
        return 1;
    }
    mofrt_onednn_set_block(rt, block);
    mofrt_onednn_conv_params p = {
        .n = 1, .c = c, .h = h, .w = w, .k = k, .oh = oh, .ow = ow, .kh = kh, .kw = kh,
        .group = 1, .stride_h = st, .stride_w = st, .dil_h = 1, .dil_w = 1,
        .pad_t = pad, .pad_l = pad, .pad_b = pad, .pad_r = pad,
        .src_layout = layout, .dst_layout = layout, .act = MOFRT_ONEDNN_ACT_RELU,
    };
    size_t nw = (size_t)k * c * kh * kh;
    size_t nx = mofrt_onednn_nchw_floats(rt, layout, 1, c, h, w);
    size_t ny = mofrt_onednn_nchw_floats(rt, layout, 1, k, oh, ow);
    float *wt = malloc(nw * sizeof *wt), *bias = malloc((size_t)k * sizeof *bias);
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
    double *t = malloc((size_t)runs * sizeof *t);
    if (!wt || !bias || !x || !y || !t) {
        fprintf(stderr, "onednn_conv_bench: out of memory\n");
        return 1;
    }
    srand(1);
    for (size_t i = 0; i < nw; i++)
        wt[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int i = 0; i < k; i++)
        bias[i] = 0.01f * (float)i;
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)rand() / RAND_MAX;
    mofrt_onednn_op *op = mofrt_onednn_conv_create(rt, &p, wt, bias);
    if (!op) {
        fprintf(stderr, "onednn_conv_bench: %s\n", mofrt_onednn_error(rt));
        return 1;
    }
    for (int i = 0; i < 5; i++)
        if (mofrt_onednn_op_run(op, x, y, NULL) != 0) {
            fprintf(stderr, "onednn_conv_bench: %s\n", mofrt_onednn_error(rt));
            return 1;
        }
    for (int i = 0; i < runs; i++) {
        double t0 = now();
        mofrt_onednn_op_run(op, x, y, NULL);
        t[i] = now() - t0;
    }
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    double med = t[runs / 2];
    double flop = 2.0 * (double)k * oh * ow * (double)c * kh * kh;
    double peak = fma_peak_gflops() * threads;
    printf("conv %dx%d %d->%d %dx%d stride %d pad %d, %d thread(s), layout %s: "
           "impl %s, median %.3f ms, %.1f GFLOP/s, FMA peak %.1f GFLOP/s (%.0f%%)\n",
           kh, kh, c, k, h, w, st, pad, threads,
           layout == MOFRT_ONEDNN_PLAIN ? "nchw" : block == 16 ? "nChw16c" : "nChw8c",
           mofrt_onednn_op_impl(op), med * 1e3, flop / med * 1e-9, peak,
           100.0 * flop / med * 1e-9 / peak);
    mofrt_onednn_op_destroy(op);
    mofrt_onednn_destroy(rt);
    free(wt);
    free(bias);
    free(x);
    free(y);
    free(t);
    return 0;
}
