/* mofrt_conv.c: convolutions and pooling of mofrt_conv.h. */
#include <math.h>
#include <string.h>

#include "mofrt_conv.h"

/* FMA contraction for the depthwise and pooling rows, as in mofrt_gemm.c. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

/* The conv's own activation goes first, then the caller's steps, per image. */
static void mofrt_conv_epi(const mofrt_conv2d *p, const mofrt_epi *post, int64_t offset,
                           const float *bias, mofrt_epi *epi)
{
    int i;
    epi->bias = bias;
    epi->n = 0;
    if (p->act != MOFRT_ACT_NONE) {
        epi->step[0].add = 0;
        epi->step[0].res = NULL;
        epi->step[0].rs = epi->step[0].cs = 0;
        epi->step[0].act = p->act;
        epi->step[0].p[0] = p->act_p[0];
        epi->step[0].p[1] = p->act_p[1];
        epi->n = 1;
    }
    for (i = 0; post && i < post->n && epi->n < MOFRT_EPI_MAX; i++) {
        epi->step[epi->n] = post->step[i];
        if (post->step[i].add)
            epi->step[epi->n].res = post->step[i].res + offset;
        epi->n++;
    }
}

void mofrt_conv2d_gemm(mofrt_pool *pool, const mofrt_conv2d *p, const float *x,
                       const float *packed_w, const float *bias, const mofrt_epi *post,
                       float *y, void *scratch, int sthreads)
{
    int64_t n, g, cg = p->C / p->G, mg = p->M / p->G, K = cg * p->KH * p->KW;
    int64_t hw = p->OH * p->OW;
    int plain = p->KH == 1 && p->KW == 1 && p->SH == 1 && p->SW == 1 && p->PH == 0 &&
                p->PW == 0 && p->OH == p->H && p->OW == p->W;
    for (n = 0; n < p->N; n++)
        for (g = 0; g < p->G; g++) {
            mofrt_bsrc b;
            mofrt_epi epi;
            int64_t out_off = (n * p->M + g * mg) * hw;
            memset(&b, 0, sizeof b);
            b.b = x + (n * p->C + g * cg) * p->H * p->W;
            if (plain) {
                b.rs = p->H * p->W;
                b.cs = 1;
            } else {
                b.conv = 1;
                b.C = cg;
                b.H = p->H;
                b.W = p->W;
                b.KH = p->KH;
                b.KW = p->KW;
                b.SH = p->SH;
                b.SW = p->SW;
                b.PH = p->PH;
                b.PW = p->PW;
                b.DH = p->DH;
                b.DW = p->DW;
                b.OH = p->OH;
                b.OW = p->OW;
            }
            mofrt_conv_epi(p, post, out_off, bias ? bias + g * mg : NULL, &epi);
            mofrt_sgemm(pool, mg, hw, K, packed_w + g * MOFRT_PACKED_A_FLOATS(mg, K), &b,
                        y + out_off, hw, 1, &epi, scratch, sthreads);
        }
}

typedef struct mofrt_dw_job {
    const mofrt_conv2d *p;
    const float *x, *w, *bias;
    const mofrt_epi *post;
    float *y;
} mofrt_dw_job;

/* Row buffers of the fast paths (floats): an output row, and the padded input rows
 * (split into SW phases) of one output row. Wider rows take the generic path. */
#define MOFRT_ROW_MAX 1024
#define MOFRT_PROW_MAX 8192
#define MOFRT_TAPS_MAX 64

/* One phase of an input row xr (NULL: a row outside the input): d[j], j < wq, is input
 * column SW * j + off, padv outside [0, W). */
static void mofrt_phase_fill(float *d, int64_t wq, const float *xr, int64_t W, int64_t SW,
                             int64_t off, float padv)
{
    int64_t j = 0, lo, hi;
    if (!xr) {
        for (; j < wq; j++)
            d[j] = padv;
        return;
    }
    /* valid j: 0 <= SW * j + off <= W - 1 */
    lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
    hi = W - 1 - off < 0 ? -1 : (W - 1 - off) / SW;
    if (hi > wq - 1)
        hi = wq - 1;
    if (lo > wq)
        lo = wq;
    for (; j < lo; j++)
        d[j] = padv;
    if (SW == 1) {
        if (hi >= lo)
            memcpy(d + lo, xr + lo + off, (size_t)(hi - lo + 1) * sizeof *d);
        j = hi + 1 > lo ? hi + 1 : lo;
    } else {
#if MOFRT_VEC && MOFRT_VL == 8 && (defined(__clang__) || __GNUC__ >= 12)
        /* stride 2: two vectors in, their even lanes out, while both stay inside the row */
        for (; SW == 2 && j + MOFRT_VL - 1 <= hi && 2 * (j + MOFRT_VL) - 1 + off <= W - 1;
             j += MOFRT_VL) {
            const float *s = xr + 2 * j + off;
            mofrt_vf a = mofrt_vload(s), b = mofrt_vload(s + MOFRT_VL);
            mofrt_vstore(d + j, __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14));
        }
#endif
        for (; j <= hi; j++)
            d[j] = xr[SW * j + off];
    }
    for (; j < wq; j++)
        d[j] = padv;
}

/* The input row ih (`padv` outside [0, H) x [0, W)) seen from output columns: phase r,
 * element i is the padded row's element SW * i + r, i.e. input column SW * i + r - PW.
 * len: elements per phase. */
static void mofrt_phase_row(const float *x, int64_t H, int64_t W, int64_t ih, int64_t SW,
                            int64_t PW, int64_t len, float padv, float *out)
{
    const float *xr = ih >= 0 && ih < H ? x + ih * W : NULL;
    int64_t r;
    for (r = 0; r < SW; r++)
        mofrt_phase_fill(out + r * len, len, xr, W, SW, r - PW, padv);
}

/* Whether the fast (row-buffered, vectorised) paths take this geometry. */
static int mofrt_rows_fit(int64_t OW, int64_t KH, int64_t KW, int64_t SW, int64_t DW)
{
    int64_t owp = (OW + MOFRT_VL - 1) / MOFRT_VL * MOFRT_VL;
    int64_t len = owp + ((KW - 1) * DW) / SW + 1;
    return OW <= MOFRT_ROW_MAX && KH * KW <= MOFRT_TAPS_MAX && SW >= 1 && SW <= 4 &&
           KH * SW * len <= MOFRT_PROW_MAX;
}

/* acc[j] = b + sum over taps t of wt[t] * src[t][j], for j in [0, n) (n a multiple of
 * MOFRT_VL): the inner loop of both depthwise paths (3x3 kernels unrolled). */
static void mofrt_taps(const float *const *src, const float *wt, int64_t nt, float b,
                       float *acc, int64_t n)
{
    int64_t j, t;
#if MOFRT_VEC
    if (nt == 9) {
        const float *s0 = src[0], *s1 = src[1], *s2 = src[2], *s3 = src[3];
        const float *s4 = src[4], *s5 = src[5], *s6 = src[6], *s7 = src[7];
        const float *s8 = src[8];
        const mofrt_vf w0 = mofrt_vsplat(wt[0]), w1 = mofrt_vsplat(wt[1]);
        const mofrt_vf w2 = mofrt_vsplat(wt[2]), w3 = mofrt_vsplat(wt[3]);
        const mofrt_vf w4 = mofrt_vsplat(wt[4]), w5 = mofrt_vsplat(wt[5]);
        const mofrt_vf w6 = mofrt_vsplat(wt[6]), w7 = mofrt_vsplat(wt[7]);
        const mofrt_vf w8 = mofrt_vsplat(wt[8]), bv = mofrt_vsplat(b);
        for (j = 0; j < n; j += MOFRT_VL) {
            mofrt_vf v = bv + w0 * mofrt_vload(s0 + j);
            v += w1 * mofrt_vload(s1 + j);
            v += w2 * mofrt_vload(s2 + j);
            v += w3 * mofrt_vload(s3 + j);
            v += w4 * mofrt_vload(s4 + j);
            v += w5 * mofrt_vload(s5 + j);
            v += w6 * mofrt_vload(s6 + j);
            v += w7 * mofrt_vload(s7 + j);
            v += w8 * mofrt_vload(s8 + j);
            mofrt_vstore(acc + j, v);
        }
    } else {
        const mofrt_vf bv = mofrt_vsplat(b);
        for (j = 0; j < n; j += MOFRT_VL) {
            mofrt_vf v = bv;
            for (t = 0; t < nt; t++)
                v += mofrt_vsplat(wt[t]) * mofrt_vload(src[t] + j);
            mofrt_vstore(acc + j, v);
        }
    }
#else
    for (j = 0; j < n; j++) {
        float v = b;
        for (t = 0; t < nt; t++)
            v += wt[t] * src[t][j];
        acc[j] = v;
    }
#endif
}

/* One channel of a depthwise convolution of strides 1 or 2, flat. The zero-padded
 * input plane is split into SH x SW phase planes (plane (a, b) holds the padded
 * elements (SH * i + a, SW * j + b)), each Wq = OW + (KW - 1) * DW / SW wide: then
 * output (oh, ow) reads every tap (kh, kw) at a fixed offset from position
 * oh * Wq + ow of one phase plane, so one vector loop runs over all OH * Wq positions
 * (the Wq - OW past each row's end are computed and dropped) instead of a short loop
 * and its set-up per output row. Planes larger than the buffer go in bands of output
 * rows. */
/* Zeros after the last phase plane: the last vector of a band reads up to
 * (KW - 1) * DW / SW + MOFRT_VL - 1 floats past it (into the dropped columns). */
#define MOFRT_FLAT_SLACK(p) (((p)->KW - 1) * (p)->DW / (p)->SW + MOFRT_VL)

static int mofrt_dw_flat_band(const mofrt_conv2d *p)
{
    int64_t np = p->SH * p->SW;
    int64_t qh = ((p->KH - 1) * p->DH) / p->SH;
    int64_t wq = p->OW + ((p->KW - 1) * p->DW) / p->SW;
    int64_t rows = (MOFRT_PROW_MAX - MOFRT_FLAT_SLACK(p)) / (np * wq) - qh;
    if (p->SH < 1 || p->SH > 2 || p->SW < 1 || p->SW > 2 || p->KH * p->KW > MOFRT_TAPS_MAX ||
        rows < 1)
        return 0;
    return (int)(rows < p->OH ? rows : p->OH);
}

static void mofrt_dw_flat(const mofrt_conv2d *p, int64_t band, const float *x,
                          const float *w, float b, const mofrt_epi *epi, float *y)
{
    float xp[MOFRT_PROW_MAX], acc[MOFRT_PROW_MAX];
    const float *src[MOFRT_TAPS_MAX];
    int64_t np = p->SH * p->SW, nt = p->KH * p->KW, t;
    int64_t qh = ((p->KH - 1) * p->DH) / p->SH;
    int64_t wq = p->OW + ((p->KW - 1) * p->DW) / p->SW;
    int64_t hq = band + qh; /* plane rows a band reads */
    int64_t oh0, i, a, bb;
    for (t = 0; t < nt; t++) {
        int64_t dy = (t / p->KW) * p->DH, dx = (t % p->KW) * p->DW;
        float *plane = xp + ((dy % p->SH) * p->SW + dx % p->SW) * hq * wq;
        src[t] = plane + (dy / p->SH) * wq + dx / p->SW;
    }
    /* (the last vectors of the last plane read past it: zeros) */
    memset(xp + np * hq * wq, 0, (size_t)MOFRT_FLAT_SLACK(p) * sizeof *xp);
    for (oh0 = 0; oh0 < p->OH; oh0 += band) {
        int64_t rows = p->OH - oh0 < band ? p->OH - oh0 : band;
        int64_t n = (rows * wq + MOFRT_VL - 1) / MOFRT_VL * MOFRT_VL;
        /* plane (a, bb) row i: padded row SH * (oh0 + i) + a = input row that - PH */
        for (a = 0; a < p->SH; a++)
            for (bb = 0; bb < p->SW; bb++) {
                float *plane = xp + (a * p->SW + bb) * hq * wq;
                for (i = 0; i < hq; i++) {
                    int64_t ih = p->SH * (oh0 + i) + a - p->PH;
                    mofrt_phase_fill(plane + i * wq, wq,
                                     ih >= 0 && ih < p->H ? x + ih * p->W : NULL, p->W,
                                     p->SW, bb - p->PW, 0.0f);
                }
            }
        mofrt_taps(src, w, nt, b, acc, n);
        for (i = 0; i < rows; i++)
            memcpy(y + (oh0 + i) * p->OW, acc + i * wq, (size_t)p->OW * sizeof *y);
    }
    mofrt_epi_row(epi, 0, 0, y, p->OH * p->OW);
}

/* One channel of a depthwise convolution, row by row: the taps of an output row read
 * the phase rows at fixed offsets, so the sum over taps runs on whole vectors. */
static void mofrt_dw_fast(const mofrt_conv2d *p, const float *x, const float *w, float b,
                          const mofrt_epi *epi, float *y)
{
    float acc[MOFRT_ROW_MAX + MOFRT_VL];
    float rows[MOFRT_PROW_MAX];
    const float *src[MOFRT_TAPS_MAX];
    float wt[MOFRT_TAPS_MAX];
    int64_t owp = (p->OW + MOFRT_VL - 1) / MOFRT_VL * MOFRT_VL;
    int64_t len = owp + ((p->KW - 1) * p->DW) / p->SW + 1;
    int64_t oh, kh, kw;
    /* Slot of a phase row: ih mod KH when DH == 1 (the rows of consecutive output rows
     * overlap: each is built once), else kh. tag: the row a slot holds. */
    int64_t tag[MOFRT_TAPS_MAX];
    for (kh = 0; kh < p->KH; kh++)
        tag[kh] = -1;
    for (oh = 0; oh < p->OH; oh++) {
        int64_t nt = 0;
        for (kh = 0; kh < p->KH; kh++) {
            int64_t ih = oh * p->SH - p->PH + kh * p->DH;
            int64_t slot;
            float *ph;
            if (ih < 0 || ih >= p->H)
                continue;
            slot = p->DH == 1 ? ih % p->KH : kh;
            ph = rows + slot * p->SW * len;
            if (tag[slot] != ih) {
                mofrt_phase_row(x, p->H, p->W, ih, p->SW, p->PW, len, 0.0f, ph);
                tag[slot] = ih;
            }
            for (kw = 0; kw < p->KW; kw++) {
                int64_t o = kw * p->DW;
                src[nt] = ph + (o % p->SW) * len + o / p->SW;
                wt[nt++] = w[kh * p->KW + kw];
            }
        }
        mofrt_taps(src, wt, nt, b, acc, owp);
        mofrt_epi_row(epi, 0, oh * p->OW, acc, p->OW);
        memcpy(y + oh * p->OW, acc, (size_t)p->OW * sizeof *acc);
    }
}

static void mofrt_dw_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const mofrt_dw_job *j = (const mofrt_dw_job *)ctx;
    const mofrt_conv2d *p = j->p;
    int64_t hw = p->OH * p->OW, nc, oh, ow, kh, kw;
    int fast = mofrt_rows_fit(p->OW, p->KH, p->KW, p->SW, p->DW);
    int band = mofrt_dw_flat_band(p);
    (void)thread;
    for (nc = begin; nc < end; nc++) {
        if (band > 0) {
            int64_t c = nc % p->C;
            mofrt_epi epi;
            mofrt_conv_epi(p, j->post, nc * hw, NULL, &epi);
            mofrt_dw_flat(p, band, j->x + nc * p->H * p->W, j->w + c * p->KH * p->KW,
                          j->bias ? j->bias[c] : 0.0f, &epi, j->y + nc * hw);
            continue;
        }
        if (fast) {
            int64_t c = nc % p->C;
            mofrt_epi epi;
            mofrt_conv_epi(p, j->post, nc * hw, NULL, &epi);
            mofrt_dw_fast(p, j->x + nc * p->H * p->W, j->w + c * p->KH * p->KW,
                          j->bias ? j->bias[c] : 0.0f, &epi, j->y + nc * hw);
            continue;
        }
        {
        int64_t c = nc % p->C;
        const float *x = j->x + nc * p->H * p->W;
        const float *w = j->w + c * p->KH * p->KW;
        float *y = j->y + nc * hw;
        float b = j->bias ? j->bias[c] : 0.0f;
        mofrt_epi epi;
        for (oh = 0; oh < p->OH; oh++) {
            float *yr = y + oh * p->OW;
            for (ow = 0; ow < p->OW; ow++)
                yr[ow] = b;
            for (kh = 0; kh < p->KH; kh++) {
                int64_t ih = oh * p->SH - p->PH + kh * p->DH;
                const float *xr;
                if (ih < 0 || ih >= p->H)
                    continue;
                xr = x + ih * p->W;
                for (kw = 0; kw < p->KW; kw++) {
                    float wv = w[kh * p->KW + kw];
                    int64_t off = kw * p->DW - p->PW;
                    /* Valid ow: 0 <= ow * SW + off < W. */
                    int64_t lo = off < 0 ? (-off + p->SW - 1) / p->SW : 0;
                    int64_t hi = (p->W - 1 - off) < 0 ? -1 : (p->W - 1 - off) / p->SW;
                    if (hi > p->OW - 1)
                        hi = p->OW - 1;
                    if (p->SW == 1) {
                        const float *xs = xr + off;
                        for (ow = lo; ow <= hi; ow++)
                            yr[ow] += wv * xs[ow];
                    } else if (p->SW == 2) {
                        const float *xs = xr + off;
                        for (ow = lo; ow <= hi; ow++)
                            yr[ow] += wv * xs[2 * ow];
                    } else {
                        for (ow = lo; ow <= hi; ow++)
                            yr[ow] += wv * xr[ow * p->SW + off];
                    }
                }
            }
        }
        {
            /* Epilogue on this channel: bias is in, conv act then the steps. */
            int s;
            int64_t i;
            mofrt_conv_epi(p, j->post, nc * hw, NULL, &epi);
            for (s = 0; s < epi.n; s++) {
                if (epi.step[s].add) {
                    const float *r = epi.step[s].res;
                    for (i = 0; i < hw; i++)
                        y[i] += r[i];
                } else {
                    mofrt_activate(y, hw, epi.step[s].act, epi.step[s].p);
                }
            }
        }
        }
    }
}

void mofrt_conv2d_depthwise(mofrt_pool *pool, const mofrt_conv2d *p, const float *x,
                            const float *w, const float *bias, const mofrt_epi *post, float *y)
{
    mofrt_dw_job j;
    j.p = p;
    j.x = x;
    j.w = w;
    j.bias = bias;
    j.post = post;
    j.y = y;
    mofrt_parallel_for(pool, p->N * p->C, mofrt_dw_task, &j);
}

typedef struct mofrt_pool_job {
    const mofrt_pool2d *p;
    const float *x;
    float *y;
} mofrt_pool_job;

/* Max pooling of one channel, row by row on the phase rows (padding as -inf: the same
 * as skipping it; NaN propagates as in the generic path). */
static void mofrt_maxpool_fast(const mofrt_pool2d *p, const float *x, float *y)
{
    float acc[MOFRT_ROW_MAX + MOFRT_VL];
    float rows[MOFRT_PROW_MAX];
    int64_t owp = (p->OW + MOFRT_VL - 1) / MOFRT_VL * MOFRT_VL;
    int64_t len = owp + ((p->KW - 1) * p->DW) / p->SW + 1;
    int64_t oh, kh, kw, j;
    for (oh = 0; oh < p->OH; oh++) {
        for (j = 0; j < owp; j++)
            acc[j] = -INFINITY;
        for (kh = 0; kh < p->KH; kh++) {
            int64_t ih = oh * p->SH - p->PH + kh * p->DH;
            if (ih < 0 || ih >= p->H)
                continue;
            mofrt_phase_row(x, p->H, p->W, ih, p->SW, p->PW, len, -INFINITY, rows);
            for (kw = 0; kw < p->KW; kw++) {
                int64_t o = kw * p->DW;
                const float *s = rows + (o % p->SW) * len + o / p->SW;
#if MOFRT_VEC
                for (j = 0; j < owp; j += MOFRT_VL) {
                    mofrt_vf m = mofrt_vload(acc + j), v = mofrt_vload(s + j);
                    mofrt_vi k = (mofrt_vi)(v > m) | (mofrt_vi)(v != v);
                    mofrt_vstore(acc + j, (mofrt_vf)(((mofrt_vi)v & k) | ((mofrt_vi)m & ~k)));
                }
#else
                for (j = 0; j < owp; j++)
                    if (s[j] > acc[j] || s[j] != s[j])
                        acc[j] = s[j];
#endif
            }
        }
        memcpy(y + oh * p->OW, acc, (size_t)p->OW * sizeof *acc);
    }
}

static void mofrt_pool_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const mofrt_pool_job *j = (const mofrt_pool_job *)ctx;
    const mofrt_pool2d *p = j->p;
    int64_t nc, oh, ow, kh, kw;
    int fast = p->max && mofrt_rows_fit(p->OW, 1, p->KW, p->SW, p->DW);
    (void)thread;
    for (nc = begin; nc < end; nc++) {
        if (fast) {
            mofrt_maxpool_fast(p, j->x + nc * p->H * p->W, j->y + nc * p->OH * p->OW);
            continue;
        }
        const float *x = j->x + nc * p->H * p->W;
        float *y = j->y + nc * p->OH * p->OW;
        for (oh = 0; oh < p->OH; oh++)
            for (ow = 0; ow < p->OW; ow++) {
                float m = -INFINITY;
                double s = 0;
                int64_t cnt = 0, win = 0;
                for (kh = 0; kh < p->KH; kh++) {
                    int64_t ih = oh * p->SH - p->PH + kh * p->DH;
                    for (kw = 0; kw < p->KW; kw++) {
                        int64_t iw = ow * p->SW - p->PW + kw * p->DW;
                        /* The window as count_include_pad counts it: inside the padded
                         * input (pads on both sides). */
                        if (ih < p->H + p->PH && iw < p->W + p->PW)
                            win++;
                        if (ih < 0 || ih >= p->H || iw < 0 || iw >= p->W)
                            continue;
                        float v = x[ih * p->W + iw];
                        if (v > m || v != v)
                            m = v;
                        s += v;
                        cnt++;
                    }
                }
                if (p->max)
                    y[oh * p->OW + ow] = m;
                else
                    y[oh * p->OW + ow] =
                        (float)(s / (double)(p->count_include_pad ? win : (cnt ? cnt : 1)));
            }
    }
}

void mofrt_pool2d_run(mofrt_pool *pool, const mofrt_pool2d *p, const float *x, float *y)
{
    mofrt_pool_job j;
    j.p = p;
    j.x = x;
    j.y = y;
    mofrt_parallel_for(pool, p->N * p->C, mofrt_pool_task, &j);
}
