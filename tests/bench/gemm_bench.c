/* gemm_bench.c: measures mof_sgemm (the interpreter's GEMM) in GFLOP/s and checks it
 * against a naive product.
 *
 *   make tests/bench/gemm_bench && tests/bench/gemm_bench [M N K [reps]]
 *
 * Defaults to 512 x 512 x 512; also times the transposed variants. Built with the
 * library's own CFLAGS (gemm.c is compiled into the program, since mof_sgemm is
 * internal to libmof). */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "interp/op.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float frand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* Largest relative difference to a double-precision naive product. */
static double check(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a,
                    const float *b, const float *c)
{
    double worst = 0.0;
    for (int64_t i = 0; i < m; i += 7)
        for (int64_t j = 0; j < n; j += 5) {
            double s = 0.0, mag = 0.0;
            for (int64_t p = 0; p < k; p++) {
                double x = ta ? a[p * m + i] : a[i * k + p];
                double y = tb ? b[j * k + p] : b[p * n + j];
                s += x * y;
                mag += fabs(x * y);
            }
            double d = fabs(s - c[i * n + j]) / (mag + 1e-30);
            if (d > worst)
                worst = d;
        }
    return worst;
}

int main(int argc, char **argv)
{
    int64_t m = 512, n = 512, k = 512;
    int reps = 10;
    if (argc >= 4) {
        m = atoll(argv[1]);
        n = atoll(argv[2]);
        k = atoll(argv[3]);
    }
    if (argc >= 5)
        reps = atoi(argv[4]);
    if (m <= 0 || n <= 0 || k <= 0 || reps <= 0) {
        fprintf(stderr, "usage: %s [M N K [reps]]\n", argv[0]);
        return 2;
    }
    float *a = malloc((size_t)(m * k) * sizeof(float));
    float *b = malloc((size_t)(k * n) * sizeof(float));
    float *c = malloc((size_t)(m * n) * sizeof(float));
    if (!a || !b || !c) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    unsigned st = 1;
    for (int64_t i = 0; i < m * k; i++)
        a[i] = frand(&st);
    for (int64_t i = 0; i < k * n; i++)
        b[i] = frand(&st);

    int bad = 0;
    for (int v = 0; v < 4; v++) {
        bool ta = v & 1, tb = v & 2;
        int64_t lda = ta ? m : k, ldb = tb ? k : n;
        mof_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n); /* warm up */
        double err = check(ta, tb, m, n, k, a, b, c);
        double best = 1e30;
        for (int r = 0; r < reps; r++) {
            double t0 = now();
            mof_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
            double t = now() - t0;
            if (t < best)
                best = t;
        }
        double gflops = 2.0 * (double)m * (double)n * (double)k / best * 1e-9;
        printf("sgemm %c%c %lldx%lldx%lld: %.2f GFLOP/s (best of %d, %.3f ms), max rel err %.2e\n",
               ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)m, (long long)n, (long long)k,
               gflops, reps, best * 1e3, err);
        if (err > 1e-5)
            bad = 1;
    }
    free(a);
    free(b);
    free(c);
    return bad;
}
