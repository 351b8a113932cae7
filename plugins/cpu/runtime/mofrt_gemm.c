/* mofrt_gemm.c: the packed SGEMM of mofrt_gemm.h.
 *
 * Per task (a range of columns of C and of panels of A): for each K block, B's block
 * (KC x columns) is packed into scratch as strips of NR columns (the im2col of a
 * convolution is generated row segment by row segment, never element by element), then
 * every (panel, strip) tile runs the micro-kernel; the partial sums of K blocks before
 * the last go through C, the last applies the epilogue. */
#include <string.h>

#include "mofrt_gemm.h"

/* GCC turns a * b + c into an FMA only with -ffp-contract=fast, which -std=c99 turns
 * off; the kernels ask for it (clang contracts within a statement by default). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("fp-contract=fast")
#endif

void mofrt_pack_a(const float *a, int64_t M, int64_t K, int64_t rs, int64_t cs, float *out)
{
    int64_t p, k, i;
    for (p = 0; p < M; p += MOFRT_MR)
        for (k = 0; k < K; k++)
            for (i = 0; i < MOFRT_MR; i++)
                *out++ = p + i < M ? a[(p + i) * rs + k * cs] : 0.0f;
}

/* Per thread: the packed B block (at most KC x NC), then one row of NC floats (an
 * im2col row), rounded to 64 bytes. */
static size_t mofrt_scratch_floats(int64_t K)
{
    size_t kc = K < 1 ? 1 : (K < MOFRT_KC ? (size_t)K : MOFRT_KC);
    return kc * MOFRT_NC + MOFRT_NC + 16;
}

size_t mofrt_sgemm_scratch(int64_t K, int threads)
{
    return (size_t)threads * mofrt_scratch_floats(K) * sizeof(float);
}

/* ------------------------------------------------------------------ packing B */

/* Width of strip s of a block of nc columns: NR, or the rest rounded up to VL. */
static int64_t mofrt_strip_w(int64_t nc, int64_t s)
{
    int64_t rest = nc - s * MOFRT_NR;
    if (rest >= MOFRT_NR)
        return MOFRT_NR;
    return (rest + MOFRT_VL - 1) / MOFRT_VL * MOFRT_VL;
}

/* Row k of the im2col matrix, columns [n0, n0 + nc), into row[0..nc). */
static void mofrt_im2col_row(const mofrt_bsrc *b, int64_t k, int64_t n0, int64_t nc,
                             float *MOFRT_RESTRICT row)
{
    int64_t kw = k % b->KW, kh = (k / b->KW) % b->KH, c = k / (b->KW * b->KH);
    const float *x = b->b + c * b->H * b->W;
    int64_t dh = kh * b->DH - b->PH, off = kw * b->DW - b->PW;
    int64_t oh = n0 / b->OW, ow = n0 % b->OW, j = 0;
    /* Valid ow for this kw: lo <= ow <= hi (0 <= ow * SW + off < W). */
    int64_t lo = off < 0 ? (-off + b->SW - 1) / b->SW : 0;
    int64_t hi = (b->W - 1 - off) < 0 ? -1 : (b->W - 1 - off) / b->SW;
    if (hi > b->OW - 1)
        hi = b->OW - 1;
    while (j < nc) {
        int64_t len = b->OW - ow, ih = oh * b->SH + dh, e, q;
        if (len > nc - j)
            len = nc - j;
        e = ow + len; /* this segment: ow .. e - 1 of output row oh */
        if (ih < 0 || ih >= b->H || lo > hi) {
            memset(row + j, 0, (size_t)len * sizeof *row);
        } else {
            const float *xr = x + ih * b->W + off;
            int64_t a0 = ow > lo ? ow : lo, a1 = e - 1 < hi ? e - 1 : hi;
            float *d = row + j - ow;
            for (q = ow; q < a0 && q < e; q++)
                d[q] = 0.0f;
            if (a0 <= a1) {
                if (b->SW == 1)
                    memcpy(d + a0, xr + a0, (size_t)(a1 - a0 + 1) * sizeof *row);
                else
                    for (q = a0; q <= a1; q++)
                        d[q] = xr[q * b->SW];
                q = a1 + 1;
            }
            for (; q < e; q++)
                d[q] = 0.0f;
        }
        j += len;
        ow = 0;
        oh++;
    }
}

/* Packs B(k0 .. k0 + kc, n0 .. n0 + nc) as strips: strip s at out + s * kc * NR holds
 * kc rows of its width (mofrt_strip_w), zero-padded past nc. tmp: NC floats. */
static void mofrt_pack_b(const mofrt_bsrc *b, int64_t k0, int64_t kc, int64_t n0, int64_t nc,
                         float *MOFRT_RESTRICT out, float *MOFRT_RESTRICT tmp)
{
    int64_t ns = (nc + MOFRT_NR - 1) / MOFRT_NR, kk, s;
    int64_t padded = (ns - 1) * MOFRT_NR + mofrt_strip_w(nc, ns - 1);
    for (kk = 0; kk < kc; kk++) {
        const float *src;
        int64_t k = k0 + kk;
        if (!b->conv && b->cs == 1 && padded == nc) {
            src = b->b + k * b->rs + n0;
        } else {
            if (b->conv) {
                mofrt_im2col_row(b, k, n0, nc, tmp);
            } else {
                const float *r = b->b + k * b->rs + n0 * b->cs;
                int64_t j;
                if (b->cs == 1)
                    memcpy(tmp, r, (size_t)nc * sizeof *tmp);
                else
                    for (j = 0; j < nc; j++)
                        tmp[j] = r[j * b->cs];
            }
            if (padded > nc)
                memset(tmp + nc, 0, (size_t)(padded - nc) * sizeof *tmp);
            src = tmp;
        }
        for (s = 0; s < ns; s++) {
            int64_t w = mofrt_strip_w(nc, s);
            memcpy(out + s * kc * MOFRT_NR + kk * w, src + s * MOFRT_NR, (size_t)w * sizeof *out);
        }
    }
}

/* ------------------------------------------------------------------ micro-kernels */

/* Whether the epilogue runs in registers: residuals of unit column stride, ReLU, Clip. */
static int mofrt_epi_simple(const mofrt_epi *epi)
{
    int s;
    if (!epi)
        return 0;
    for (s = 0; s < epi->n; s++) {
        const mofrt_epi_step *st = &epi->step[s];
        if (st->add ? st->cs != 1
                    : (st->act != MOFRT_ACT_RELU && st->act != MOFRT_ACT_CLIP))
            return 0;
    }
    return 1;
}

#if MOFRT_VEC
/* The epilogue of a simple (mofrt_epi_simple) epi on one vector of row i, columns j... */
MOFRT_INLINE mofrt_vf mofrt_epi_v(mofrt_vf v, const mofrt_epi *epi, int64_t i, int64_t j)
{
    int s;
    if (epi->bias)
        v += mofrt_vsplat(epi->bias[i]);
    for (s = 0; s < epi->n; s++) {
        const mofrt_epi_step *st = &epi->step[s];
        if (st->add)
            v += mofrt_vload(st->res + i * st->rs + j);
        else if (st->act == MOFRT_ACT_RELU)
            v = mofrt_vmaxs(v, mofrt_vsplat(0.0f));
        else
            v = mofrt_vmins(mofrt_vmaxs(v, mofrt_vsplat(st->p[0])), mofrt_vsplat(st->p[1]));
    }
    return v;
}
#endif

/* out[i][0..nv*VL) = (in ? in[i] : 0) + sum_k a[k][i] * b[k][..], i < MR. a: MR floats
 * per k; b: nv * VL floats per k. in/out rows at ldin/ldout (may be the same). epi (a
 * simple one, or NULL): applied before the store, for rows m0.., columns n0... */
#if MOFRT_VEC
MOFRT_INLINE void mofrt_kern(int nv, int64_t kc, const float *MOFRT_RESTRICT a,
                             const float *MOFRT_RESTRICT b, const float *in, int64_t ldin,
                             float *out, int64_t ldout, const mofrt_epi *epi, int64_t m0,
                             int64_t n0)
{
    const mofrt_vf z = { 0 };
    mofrt_vf c00 = z, c01 = z, c02 = z, c10 = z, c11 = z, c12 = z;
    mofrt_vf c20 = z, c21 = z, c22 = z, c30 = z, c31 = z, c32 = z;
    int64_t k;
    const int w = nv * MOFRT_VL;
    if (in) {
        c00 = mofrt_vload(in);
        c10 = mofrt_vload(in + ldin);
        c20 = mofrt_vload(in + 2 * ldin);
        c30 = mofrt_vload(in + 3 * ldin);
        if (nv > 1) {
            c01 = mofrt_vload(in + MOFRT_VL);
            c11 = mofrt_vload(in + ldin + MOFRT_VL);
            c21 = mofrt_vload(in + 2 * ldin + MOFRT_VL);
            c31 = mofrt_vload(in + 3 * ldin + MOFRT_VL);
        }
        if (nv > 2) {
            c02 = mofrt_vload(in + 2 * MOFRT_VL);
            c12 = mofrt_vload(in + ldin + 2 * MOFRT_VL);
            c22 = mofrt_vload(in + 2 * ldin + 2 * MOFRT_VL);
            c32 = mofrt_vload(in + 3 * ldin + 2 * MOFRT_VL);
        }
    }
    for (k = 0; k < kc; k++) {
        const float *bk = b + k * w, *ak = a + k * MOFRT_MR;
        mofrt_vf b0 = mofrt_vload(bk), b1 = z, b2 = z, av;
        if (nv > 1)
            b1 = mofrt_vload(bk + MOFRT_VL);
        if (nv > 2)
            b2 = mofrt_vload(bk + 2 * MOFRT_VL);
        av = mofrt_vsplat(ak[0]);
        c00 += av * b0;
        if (nv > 1)
            c01 += av * b1;
        if (nv > 2)
            c02 += av * b2;
        av = mofrt_vsplat(ak[1]);
        c10 += av * b0;
        if (nv > 1)
            c11 += av * b1;
        if (nv > 2)
            c12 += av * b2;
        av = mofrt_vsplat(ak[2]);
        c20 += av * b0;
        if (nv > 1)
            c21 += av * b1;
        if (nv > 2)
            c22 += av * b2;
        av = mofrt_vsplat(ak[3]);
        c30 += av * b0;
        if (nv > 1)
            c31 += av * b1;
        if (nv > 2)
            c32 += av * b2;
    }
    if (epi) {
        c00 = mofrt_epi_v(c00, epi, m0, n0);
        c10 = mofrt_epi_v(c10, epi, m0 + 1, n0);
        c20 = mofrt_epi_v(c20, epi, m0 + 2, n0);
        c30 = mofrt_epi_v(c30, epi, m0 + 3, n0);
        if (nv > 1) {
            c01 = mofrt_epi_v(c01, epi, m0, n0 + MOFRT_VL);
            c11 = mofrt_epi_v(c11, epi, m0 + 1, n0 + MOFRT_VL);
            c21 = mofrt_epi_v(c21, epi, m0 + 2, n0 + MOFRT_VL);
            c31 = mofrt_epi_v(c31, epi, m0 + 3, n0 + MOFRT_VL);
        }
        if (nv > 2) {
            c02 = mofrt_epi_v(c02, epi, m0, n0 + 2 * MOFRT_VL);
            c12 = mofrt_epi_v(c12, epi, m0 + 1, n0 + 2 * MOFRT_VL);
            c22 = mofrt_epi_v(c22, epi, m0 + 2, n0 + 2 * MOFRT_VL);
            c32 = mofrt_epi_v(c32, epi, m0 + 3, n0 + 2 * MOFRT_VL);
        }
    }
    mofrt_vstore(out, c00);
    mofrt_vstore(out + ldout, c10);
    mofrt_vstore(out + 2 * ldout, c20);
    mofrt_vstore(out + 3 * ldout, c30);
    if (nv > 1) {
        mofrt_vstore(out + MOFRT_VL, c01);
        mofrt_vstore(out + ldout + MOFRT_VL, c11);
        mofrt_vstore(out + 2 * ldout + MOFRT_VL, c21);
        mofrt_vstore(out + 3 * ldout + MOFRT_VL, c31);
    }
    if (nv > 2) {
        mofrt_vstore(out + 2 * MOFRT_VL, c02);
        mofrt_vstore(out + ldout + 2 * MOFRT_VL, c12);
        mofrt_vstore(out + 2 * ldout + 2 * MOFRT_VL, c22);
        mofrt_vstore(out + 3 * ldout + 2 * MOFRT_VL, c32);
    }
}
#else
static void mofrt_kern(int nv, int64_t kc, const float *MOFRT_RESTRICT a,
                       const float *MOFRT_RESTRICT b, const float *in, int64_t ldin,
                       float *out, int64_t ldout, const mofrt_epi *epi, int64_t m0,
                       int64_t n0)
{
    float acc[MOFRT_MR][MOFRT_NR];
    int64_t k, i, j, w = nv * MOFRT_VL;
    for (i = 0; i < MOFRT_MR; i++)
        for (j = 0; j < w; j++)
            acc[i][j] = in ? in[i * ldin + j] : 0.0f;
    for (k = 0; k < kc; k++)
        for (i = 0; i < MOFRT_MR; i++)
            for (j = 0; j < w; j++)
                acc[i][j] += a[k * MOFRT_MR + i] * b[k * w + j];
    for (i = 0; i < MOFRT_MR; i++) {
        if (epi)
            mofrt_epi_row(epi, m0 + i, n0, acc[i], w);
        for (j = 0; j < w; j++)
            out[i * ldout + j] = acc[i][j];
    }
}
#endif

static void mofrt_kern_w(int64_t w, int64_t kc, const float *MOFRT_RESTRICT a,
                         const float *MOFRT_RESTRICT b, const float *in, int64_t ldin,
                         float *out, int64_t ldout, const mofrt_epi *epi, int64_t m0,
                         int64_t n0)
{
    if (w == 3 * MOFRT_VL)
        mofrt_kern(3, kc, a, b, in, ldin, out, ldout, epi, m0, n0);
    else if (w == 2 * MOFRT_VL)
        mofrt_kern(2, kc, a, b, in, ldin, out, ldout, epi, m0, n0);
    else
        mofrt_kern(1, kc, a, b, in, ldin, out, ldout, epi, m0, n0);
}

/* ------------------------------------------------------------------ epilogue */

void mofrt_epi_row(const mofrt_epi *epi, int64_t i, int64_t j0, float *y, int64_t n)
{
    int64_t j = 0;
    int s;
    float bias;
    if (!epi)
        return;
    bias = epi->bias ? epi->bias[i] : 0.0f;
    if (bias != 0.0f) {
#if MOFRT_VEC
        mofrt_vf bv = mofrt_vsplat(bias);
        for (; j + MOFRT_VL <= n; j += MOFRT_VL)
            mofrt_vstore(y + j, mofrt_vload(y + j) + bv);
#endif
        for (; j < n; j++)
            y[j] += bias;
    }
    for (s = 0; s < epi->n; s++) {
        const mofrt_epi_step *st = &epi->step[s];
        j = 0;
        if (st->add) {
            const float *r = st->res + i * st->rs + j0 * st->cs;
            if (st->cs == 1) {
#if MOFRT_VEC
                for (; j + MOFRT_VL <= n; j += MOFRT_VL)
                    mofrt_vstore(y + j, mofrt_vload(y + j) + mofrt_vload(r + j));
#endif
                for (; j < n; j++)
                    y[j] += r[j];
            } else {
                for (; j < n; j++)
                    y[j] += r[j * st->cs];
            }
        } else if (st->act == MOFRT_ACT_RELU || st->act == MOFRT_ACT_CLIP) {
            float lo = st->act == MOFRT_ACT_RELU ? 0.0f : st->p[0];
#if MOFRT_VEC
            mofrt_vf lv = mofrt_vsplat(lo), hv = mofrt_vsplat(st->p[1]);
            if (st->act == MOFRT_ACT_RELU)
                for (; j + MOFRT_VL <= n; j += MOFRT_VL)
                    mofrt_vstore(y + j, mofrt_vmaxs(mofrt_vload(y + j), lv));
            else
                for (; j + MOFRT_VL <= n; j += MOFRT_VL)
                    mofrt_vstore(y + j, mofrt_vmins(mofrt_vmaxs(mofrt_vload(y + j), lv), hv));
#endif
            for (; j < n; j++) {
                float v = y[j] < lo ? lo : y[j];
                y[j] = st->act == MOFRT_ACT_CLIP && v > st->p[1] ? st->p[1] : v;
            }
        } else {
            mofrt_activate(y, n, st->act, st->p);
        }
    }
}

/* ------------------------------------------------------------------ driver */

typedef struct mofrt_gemm_job {
    int64_t M, N, K, n_panels;
    int64_t n_strips, n_chunks, m_chunks;
    const float *a;
    const mofrt_bsrc *b;
    float *c;
    int64_t rs_c, cs_c;
    const mofrt_epi *epi;
    int simple;                /* mofrt_epi_simple(epi) */
    unsigned char *scratch;
} mofrt_gemm_job;

/* One tile: rows m0.. of panel p, columns n0 .. n0 + nr (strip of width w). */
static void mofrt_tile(const mofrt_gemm_job *g, const float *ap, const float *bs, int64_t w,
                       int64_t kc, int first, int last, int64_t m0, int64_t n0, int64_t nr)
{
    int64_t mr = g->M - m0 < MOFRT_MR ? g->M - m0 : MOFRT_MR, i, j;
    float *c = g->c + m0 * g->rs_c + n0 * g->cs_c;
    if (g->cs_c == 1 && mr == MOFRT_MR && nr == w) {
        /* Straight into C (partial sums included); the epilogue in registers when it
         * is simple, else on C's rows. */
        mofrt_kern_w(w, kc, ap, bs, first ? NULL : c, g->rs_c, c, g->rs_c,
                     last && g->simple ? g->epi : NULL, m0, n0);
        if (last && g->epi && !g->simple)
            for (i = 0; i < mr; i++)
                mofrt_epi_row(g->epi, m0 + i, n0, c + i * g->rs_c, nr);
        return;
    } else {
        float acc[MOFRT_MR * MOFRT_NR];
        if (!first)
            memset(acc, 0, sizeof acc);
        if (!first)
            for (i = 0; i < mr; i++)
                for (j = 0; j < nr; j++)
                    acc[i * w + j] = c[i * g->rs_c + j * g->cs_c];
        mofrt_kern_w(w, kc, ap, bs, first ? NULL : acc, w, acc, w, NULL, 0, 0);
        for (i = 0; i < mr; i++) {
            float *row = acc + i * w;
            if (last)
                mofrt_epi_row(g->epi, m0 + i, n0, row, nr);
            if (g->cs_c == 1)
                memcpy(c + i * g->rs_c, row, (size_t)nr * sizeof *row);
            else
                for (j = 0; j < nr; j++)
                    c[i * g->rs_c + j * g->cs_c] = row[j];
        }
    }
}

static void mofrt_gemm_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const mofrt_gemm_job *g = (const mofrt_gemm_job *)ctx;
    size_t per = mofrt_scratch_floats(g->K);
    float *bp = (float *)(g->scratch + (size_t)thread * per * sizeof(float));
    float *tmp = bp + per - MOFRT_NC - 16;
    int64_t t;
    for (t = begin; t < end; t++) {
        int64_t chunk = t / g->m_chunks, mc = t % g->m_chunks;
        int64_t s0 = chunk * g->n_strips / g->n_chunks, s1 = (chunk + 1) * g->n_strips / g->n_chunks;
        int64_t p0 = mc * g->n_panels / g->m_chunks, p1 = (mc + 1) * g->n_panels / g->m_chunks;
        int64_t n0 = s0 * MOFRT_NR, n1 = s1 * MOFRT_NR, nc, k0;
        if (n1 > g->N)
            n1 = g->N;
        nc = n1 - n0;
        if (nc <= 0 || p0 >= p1)
            continue;
        for (k0 = 0; k0 < g->K; k0 += MOFRT_KC) {
            int64_t kc = g->K - k0 < MOFRT_KC ? g->K - k0 : MOFRT_KC, p, s;
            int64_t ns = (nc + MOFRT_NR - 1) / MOFRT_NR;
            int first = k0 == 0, last = k0 + kc >= g->K;
            mofrt_pack_b(g->b, k0, kc, n0, nc, bp, tmp);
            for (s = 0; s < ns; s++) {
                int64_t w = mofrt_strip_w(nc, s);
                int64_t sn0 = n0 + s * MOFRT_NR, nr = n1 - sn0 < w ? n1 - sn0 : w;
                const float *bs = bp + s * kc * MOFRT_NR;
                for (p = p0; p < p1; p++)
                    mofrt_tile(g, g->a + p * MOFRT_MR * g->K + k0 * MOFRT_MR, bs, w, kc, first,
                               last, p * MOFRT_MR, sn0, nr);
            }
        }
    }
}

typedef struct mofrt_gemv_job {
    int64_t M, K;
    const float *a;
    const mofrt_bsrc *b;
    float *c;
    int64_t rs_c;
    const mofrt_epi *epi;
} mofrt_gemv_job;

/* N == 1 on a matrix B: panels times a vector. */
static void mofrt_gemv_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const mofrt_gemv_job *g = (const mofrt_gemv_job *)ctx;
    int64_t p, k, i;
    (void)thread;
    for (p = begin; p < end; p++) {
        const float *a = g->a + p * MOFRT_MR * g->K;
        float acc[4][MOFRT_MR];
        int64_t m0 = p * MOFRT_MR, mr = g->M - m0 < MOFRT_MR ? g->M - m0 : MOFRT_MR;
        memset(acc, 0, sizeof acc);
        for (k = 0; k + 4 <= g->K; k += 4) {
            int u;
            for (u = 0; u < 4; u++) {
                float x = g->b->b[(k + u) * g->b->rs];
                for (i = 0; i < MOFRT_MR; i++)
                    acc[u][i] += a[(k + u) * MOFRT_MR + i] * x;
            }
        }
        for (; k < g->K; k++) {
            float x = g->b->b[k * g->b->rs];
            for (i = 0; i < MOFRT_MR; i++)
                acc[0][i] += a[k * MOFRT_MR + i] * x;
        }
        for (i = 0; i < mr; i++) {
            float v = acc[0][i] + acc[1][i] + acc[2][i] + acc[3][i];
            mofrt_epi_row(g->epi, m0 + i, 0, &v, 1);
            g->c[(m0 + i) * g->rs_c] = v;
        }
    }
}

void mofrt_sgemm(mofrt_pool *pool, int64_t M, int64_t N, int64_t K, const float *packed_a,
                 const mofrt_bsrc *b, float *c, int64_t rs_c, int64_t cs_c,
                 const mofrt_epi *epi, void *scratch, int sthreads)
{
    int threads = mofrt_pool_size(pool);
    int64_t n_panels = (M + MOFRT_MR - 1) / MOFRT_MR;
    double flops = 2.0 * (double)M * (double)N * (double)K;
    if (M <= 0 || N <= 0)
        return;
    /* mofrt_parallel_for splits over the whole pool: a pool larger than the scratch
     * was sized for runs this GEMM on the caller's thread. Below 1 MFLOP (about 10 us
     * of work) handing work to the pool's workers costs more than they save (the
     * transformer encoder's 32x32x32 attention products; its 128x32x128 ones, 1 MFLOP,
     * gain: 0.39 -> 0.31 ms on 2 threads against a threshold of 4 MFLOP). */
    if (flops < 1e6 || threads > sthreads)
        threads = 1;
    if (K <= 0) {
        /* An empty sum: the epilogue of zeros. */
        int64_t i, j;
        for (i = 0; i < M; i++)
            for (j = 0; j < N; j++) {
                float v = 0.0f;
                mofrt_epi_row(epi, i, j, &v, 1);
                c[i * rs_c + j * cs_c] = v;
            }
        return;
    }
    if (N == 1 && !b->conv) {
        mofrt_gemv_job g;
        g.M = M;
        g.K = K;
        g.a = packed_a;
        g.b = b;
        g.c = c;
        g.rs_c = rs_c;
        g.epi = epi;
        if (threads > 1)
            mofrt_parallel_for(pool, n_panels, mofrt_gemv_task, &g);
        else
            mofrt_gemv_task(&g, 0, n_panels, 0);
        return;
    } else {
        mofrt_gemm_job g;
        int64_t per = MOFRT_NC / MOFRT_NR;
        g.M = M;
        g.N = N;
        g.K = K;
        g.n_panels = n_panels;
        g.a = packed_a;
        g.b = b;
        g.c = c;
        g.rs_c = rs_c;
        g.cs_c = cs_c;
        g.epi = epi;
        g.simple = mofrt_epi_simple(epi);
        g.scratch = (unsigned char *)scratch;
        g.n_strips = (N + MOFRT_NR - 1) / MOFRT_NR;
        g.n_chunks = (g.n_strips + per - 1) / per;
        g.m_chunks = 1;
        if (threads > 1) {
            if (g.n_strips >= 2 * threads) {
                /* Columns: a multiple of the threads, balanced to a strip. */
                g.n_chunks = (g.n_chunks + threads - 1) / threads * threads;
            } else {
                g.m_chunks = threads < n_panels ? threads : n_panels;
            }
        }
        if (threads > 1 && g.n_chunks * g.m_chunks > 1)
            mofrt_parallel_for(pool, g.n_chunks * g.m_chunks, mofrt_gemm_task, &g);
        else
            mofrt_gemm_task(&g, 0, g.n_chunks * g.m_chunks, 0);
    }
}
