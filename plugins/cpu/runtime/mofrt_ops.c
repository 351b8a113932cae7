/* mofrt_ops.c: kernels of mofrt_ops.h. Sums are accumulated in double, as the reference
 * interpreter does. */
#include <math.h>

#include "mofrt_ops.h"

void mofrt_softmax(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, int log)
{
    int64_t o, i, k;
    for (o = 0; o < outer; o++)
        for (i = 0; i < inner; i++) {
            const float *xs = x + o * len * inner + i;
            float *ys = y + o * len * inner + i;
            float m = -INFINITY;
            double s = 0;
            for (k = 0; k < len; k++)
                if (xs[k * inner] > m)
                    m = xs[k * inner];
            for (k = 0; k < len; k++) {
                double e = exp((double)xs[k * inner] - m);
                s += e;
                if (!log)
                    ys[k * inner] = (float)e;
            }
            for (k = 0; k < len; k++) {
                if (log)
                    ys[k * inner] = (float)((double)xs[k * inner] - m - log1p(s - 1.0));
                else
                    ys[k * inner] = (float)(ys[k * inner] / s);
            }
        }
}

void mofrt_layernorm(const float *x, const float *scale, const float *bias, float *y,
                     int64_t outer, int64_t len, float epsilon)
{
    int64_t o, k;
    for (o = 0; o < outer; o++) {
        const float *xr = x + o * len;
        float *yr = y + o * len;
        double mean = 0, var = 0, inv;
        for (k = 0; k < len; k++)
            mean += xr[k];
        mean /= (double)len;
        for (k = 0; k < len; k++) {
            double d = xr[k] - mean;
            var += d * d;
        }
        var /= (double)len;
        inv = 1.0 / sqrt(var + (double)epsilon);
        for (k = 0; k < len; k++)
            yr[k] = (float)((xr[k] - mean) * inv * scale[k] + (bias ? bias[k] : 0.0f));
    }
}

void mofrt_reduce(const float *x, float *y, int64_t outer, int64_t len, int64_t inner, int kind)
{
    int64_t o, i, k;
    if (inner == 1 && kind != 2 && kind != 3) {
        /* Sums along a contiguous row: four partial sums (in double) break the chain
         * of dependent adds. */
        for (o = 0; o < outer; o++) {
            const float *xs = x + o * len;
            double s0 = 0, s1 = 0, s2 = 0, s3 = 0, s;
            if (kind >= 4) {
                for (k = 0; k + 4 <= len; k += 4) {
                    s0 += (double)xs[k] * xs[k];
                    s1 += (double)xs[k + 1] * xs[k + 1];
                    s2 += (double)xs[k + 2] * xs[k + 2];
                    s3 += (double)xs[k + 3] * xs[k + 3];
                }
                for (; k < len; k++)
                    s0 += (double)xs[k] * xs[k];
            } else {
                for (k = 0; k + 4 <= len; k += 4) {
                    s0 += xs[k];
                    s1 += xs[k + 1];
                    s2 += xs[k + 2];
                    s3 += xs[k + 3];
                }
                for (; k < len; k++)
                    s0 += xs[k];
            }
            s = (s0 + s1) + (s2 + s3);
            if (kind == 1)
                s /= (double)len;
            else if (kind == 5)
                s = sqrt(s);
            y[o] = (float)s;
        }
        return;
    }
    for (o = 0; o < outer; o++)
        for (i = 0; i < inner; i++) {
            const float *xs = x + o * len * inner + i;
            double s = kind == 2 ? -INFINITY : (kind == 3 ? INFINITY : 0.0);
            for (k = 0; k < len; k++) {
                double v = xs[k * inner];
                if (kind == 2)
                    s = v > s ? v : s;
                else if (kind == 3)
                    s = v < s ? v : s;
                else if (kind >= 4)
                    s += v * v;
                else
                    s += v;
            }
            if (kind == 1)
                s /= (double)len;
            else if (kind == 5)
                s = sqrt(s);
            y[o * inner + i] = (float)s;
        }
}
