/* mofrt_int8.c: integer kernels of mof's cpu artifacts (see mofrt_int8.h for the
 * arithmetic, which is the reference interpreter's bit for bit).
 *
 * Layouts. Packed weights, per group: panels of MR rows; in a panel, for each pair of
 * k (kk), MR pairs (w[r][2kk], w[r][2kk+1]) of int16, each pair read as one 32-bit
 * word and broadcast. Packed columns (scratch): panels of NR columns; for each kk, NR
 * pairs (x[2kk][j], x[2kk+1][j]). One pmaddwd of a broadcast weight pair with 16 int16
 * of a column panel gives 8 exact int32 sums of two products (each |product| <=
 * 255 * 255, so no saturation), which are added, wrapping, to the accumulators. Odd k
 * and partial panels are padded with zeros, which add nothing.
 *
 * The AVX2 micro-kernel is used where the compiler targets AVX2 (-mavx2); elsewhere
 * the plain C one, which computes the same integers. */
#include "mofrt_int8.h"

#include <string.h>

#if defined(__AVX2__)
#include <immintrin.h>
#define MOFRT_I8_AVX2 1
#else
#define MOFRT_I8_AVX2 0
#endif

/* The u8 x s8 path is compiled (with a target attribute, whatever the build's flags)
 * for x86-64 with gcc or clang, and taken where the CPU has AVX512-VNNI; building with
 * -DMOFRT_I8_NO_VNNI leaves it out (the int16 path everywhere). */
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MOFRT_I8_NO_VNNI)
#include <immintrin.h>
#define MOFRT_I8_VNNI 1
#define MOFRT_I8_VNNI_TARGET __attribute__((target("avx2,avx512f,avx512vl,avx512vnni")))
#else
#define MOFRT_I8_VNNI 0
#endif

#define MR MOFRT_I8_MR
#define NR MOFRT_I8_NR

static int64_t ceil_div(int64_t a, int64_t b)
{
    return (a + b - 1) / b;
}

/* ------------------------------------------------------------------ micro-kernel */

/* acc[r][j] = sum over kk of the pairs' products, for one MR x NR tile. */
static void micro_kernel(int64_t k2, const int16_t *MOFRT_RESTRICT a,
                         const int16_t *MOFRT_RESTRICT b, int32_t acc[MR][NR])
{
#if MOFRT_I8_AVX2
    /* 8 accumulators, 2 column vectors, the broadcast weights and the product: 12 of
     * the 16 ymm registers, so nothing spills. */
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00;
    __m256i c21 = c00, c30 = c00, c31 = c00;
    for (int64_t kk = 0; kk < k2; kk++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + kk * 2 * NR));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + kk * 2 * NR + 16));
        const int16_t *ap = a + kk * 2 * MR;
        int32_t w;
        __m256i av;
#define MOFRT_I8_ROW(r, x0, x1)                                                           \
        memcpy(&w, ap + 2 * (r), 4);                                                      \
        av = _mm256_set1_epi32(w);                                                        \
        x0 = _mm256_add_epi32(x0, _mm256_madd_epi16(av, b0));                             \
        x1 = _mm256_add_epi32(x1, _mm256_madd_epi16(av, b1));
        MOFRT_I8_ROW(0, c00, c01)
        MOFRT_I8_ROW(1, c10, c11)
        MOFRT_I8_ROW(2, c20, c21)
        MOFRT_I8_ROW(3, c30, c31)
#undef MOFRT_I8_ROW
    }
    _mm256_storeu_si256((__m256i *)acc[0], c00);
    _mm256_storeu_si256((__m256i *)(acc[0] + 8), c01);
    _mm256_storeu_si256((__m256i *)acc[1], c10);
    _mm256_storeu_si256((__m256i *)(acc[1] + 8), c11);
    _mm256_storeu_si256((__m256i *)acc[2], c20);
    _mm256_storeu_si256((__m256i *)(acc[2] + 8), c21);
    _mm256_storeu_si256((__m256i *)acc[3], c30);
    _mm256_storeu_si256((__m256i *)(acc[3] + 8), c31);
#else
    uint32_t u[MR][NR];
    memset(u, 0, sizeof(u));
    for (int64_t kk = 0; kk < k2; kk++) {
        const int16_t *ap = a + kk * 2 * MR, *bp = b + kk * 2 * NR;
        for (int r = 0; r < MR; r++) {
            int32_t a0 = ap[2 * r], a1 = ap[2 * r + 1];
            for (int j = 0; j < NR; j++)
                u[r][j] += (uint32_t)(a0 * bp[2 * j] + a1 * bp[2 * j + 1]);
        }
    }
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            acc[r][j] = (int32_t)u[r][j];
#endif
}

/* ------------------------------------------------------------------ requantization */

/* Rounds half to even a float of magnitude below 2^22: adding 1.5 * 2^23 leaves no
 * fraction bits, so the addition rounds (to nearest even in the default mode), and
 * subtracting it back is exact. */
static float round_even_small(float v)
{
    const float magic = 12582912.0f;
    return (v + magic) - magic;
}

/* Writes n outputs of one output channel (row) from its accumulators. */
static void requant_row(const mofrt_i8_out *o, int64_t ch, const int32_t *acc, int64_t n,
                        void *y, int64_t stride)
{
    uint32_t bias = o->bias ? (uint32_t)o->bias[ch] : 0;
    float mult = o->mult[ch];
    float lo = (float)(o->lo - o->zp), hi = (float)(o->hi - o->zp);
    int32_t zp = o->zp;
#if MOFRT_I8_AVX2
    if (n == NR && stride == 1) {
        /* The same steps, 8 at a time: wrapping add, int32 -> float (round to nearest
         * even, as the C conversion), float product, clamp, round half to even (an
         * explicit mode, whatever MXCSR says), exact conversion back, zero point. */
        __m256i vb = _mm256_set1_epi32((int32_t)bias), vz = _mm256_set1_epi32(zp);
        __m256 vm = _mm256_set1_ps(mult), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
        __m256i r[2];
        for (int h = 0; h < 2; h++) {
            __m256i a = _mm256_add_epi32(_mm256_loadu_si256((const __m256i *)(acc + 8 * h)), vb);
            __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(a), vm);
            v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
            v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            r[h] = _mm256_add_epi32(_mm256_cvtps_epi32(v), vz);
        }
        /* Values are within the output type: the saturating packs only narrow. */
        __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r[0], r[1]), 0xD8);
        __m128i lo16 = _mm256_castsi256_si128(p16), hi16 = _mm256_extracti128_si256(p16, 1);
        __m128i b8 = o->y_signed ? _mm_packs_epi16(lo16, hi16) : _mm_packus_epi16(lo16, hi16);
        _mm_storeu_si128((__m128i *)y, b8);
        return;
    }
#endif
    if (o->y_signed) {
        int8_t *q = (int8_t *)y;
        for (int64_t j = 0; j < n; j++) {
            float v = (float)(int32_t)((uint32_t)acc[j] + bias) * mult;
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            q[j * stride] = (int8_t)((int32_t)round_even_small(v) + zp);
        }
    } else {
        uint8_t *q = (uint8_t *)y;
        for (int64_t j = 0; j < n; j++) {
            float v = (float)(int32_t)((uint32_t)acc[j] + bias) * mult;
            v = v < lo ? lo : v;
            v = v > hi ? hi : v;
            q[j * stride] = (uint8_t)((int32_t)round_even_small(v) + zp);
        }
    }
}

/* ------------------------------------------------------------------ the GEMM driver */

/* One GEMM per group: rows (output channels) from the packed weights, columns packed
 * panel by panel by `pack`, results requantized into y at
 * y + (group * rows + row) * row_stride + col * col_stride (elements). */
typedef struct gemm_job gemm_job;
struct gemm_job {
    int64_t groups, rows, k, cols;
    const int16_t *w;
    /* Packs columns [c0, c0 + NR) of group g (zeros past cols) into panel. */
    void (*pack)(const gemm_job *j, int64_t g, int64_t c0, int16_t *panel);
    const void *x;           /* pack's input */
    int64_t x_zp;
    int x_signed;
    const int32_t *kbase;    /* conv: input offset of each k; NULL for matmul */
    const mofrt_i8_conv *conv;
    const int16_t *xpad;     /* conv: the padded input, minus its zero point */
    void *y;
    int64_t row_stride, col_stride;
    const mofrt_i8_out *out;
    int64_t panels_per_block, blocks;   /* column blocks per group */
    unsigned char *scratch;  /* per thread: panels_per_block packed panels */
    size_t per_thread;
    /* The u8 x s8 path: weights in quads, the padded input in uint8. */
    const int8_t *w8;
    const uint8_t *xpad8;
};

#if MOFRT_I8_AVX2 || MOFRT_I8_VNNI
/* The runs of a panel's pixels (c0 .. c0 + NR - 1, those below cols) along output
 * rows: run q covers pixels [a[q], b[q]), and with the horizontal stride sw pixel jj
 * of run q reads the padded input at off[q] + jj * sw (plus the kernel position's
 * offset). Returns the number of runs (0 to NR). The packers below load each run's
 * values with one or two vector loads placed so that lane jj is pixel jj's value; the
 * loads reach up to 32 values before and after the values used, inside the padded
 * input's MOFRT_I8_XPAD_MARGIN bytes of slack. */
static int pixel_runs(const gemm_job *j, int64_t c0, int64_t sw, const int64_t *po,
                      int64_t *off, int *a, int *b)
{
    const mofrt_i8_conv *p = j->conv;
    int n = 0;
    for (int jj = 0; jj < NR && c0 + jj < j->cols;) {
        int64_t row = (c0 + jj) / p->ow;
        a[n] = jj;
        while (jj < NR && c0 + jj < j->cols && (c0 + jj) / p->ow == row)
            jj++;
        b[n] = jj;
        off[n] = po[a[n]] - (int64_t)a[n] * sw;
        n++;
    }
    return n;
}
#endif

static void gemm_task(void *ctx, int64_t begin, int64_t end, int thread)
{
    const gemm_job *j = (const gemm_job *)ctx;
    int16_t *panels = (int16_t *)(j->scratch + (size_t)thread * j->per_thread);
    int64_t k2 = ceil_div(j->k, 2), rpanels = ceil_div(j->rows, MR);
    int64_t psize = k2 * 2 * NR;
    int32_t acc[MR][NR];
    size_t ysize = j->out->y_signed ? sizeof(int8_t) : sizeof(uint8_t);
    for (int64_t t = begin; t < end; t++) {
        int64_t g = t / j->blocks, blk = t % j->blocks;
        int64_t c0 = blk * j->panels_per_block * NR;
        int64_t np = ceil_div(j->cols - c0, NR);
        if (np > j->panels_per_block)
            np = j->panels_per_block;
        for (int64_t p = 0; p < np; p++)
            j->pack(j, g, c0 + p * NR, panels + p * psize);
        const int16_t *wg = j->w + g * rpanels * MR * k2 * 2;
        for (int64_t rp = 0; rp < rpanels; rp++) {
            const int16_t *a = wg + rp * MR * k2 * 2;
            int64_t r0 = rp * MR, nr = j->rows - r0 < MR ? j->rows - r0 : MR;
            for (int64_t p = 0; p < np; p++) {
                int64_t cc = c0 + p * NR, nc = j->cols - cc < NR ? j->cols - cc : NR;
                micro_kernel(k2, a, panels + p * psize, acc);
                for (int64_t r = 0; r < nr; r++) {
                    int64_t ch = g * j->rows + r0 + r;
                    unsigned char *yp = (unsigned char *)j->y +
                                        (size_t)(ch * j->row_stride + cc * j->col_stride) * ysize;
                    requant_row(j->out, ch, acc[r], nc, yp, j->col_stride);
                }
            }
        }
    }
}

static void gemm_run(gemm_job *j, mofrt_pool *pool)
{
    if (j->cols <= 0 || j->rows <= 0)
        return;
    mofrt_parallel_for(pool, j->groups * j->blocks, gemm_task, j);
}

/* ------------------------------------------------------------------ u8 x s8 (VNNI) */

static int vnni_wanted = 1;

void mofrt_i8_use_vnni(int on)
{
    vnni_wanted = on;
}

#if MOFRT_I8_VNNI
static int vnni_available(void)
{
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx2");
    }
    return have && vnni_wanted;
}

/* acc[r][j] = sum over k of x'[k][j] * w[r][k], four k at a time: one vpdpbusd of the
 * broadcast weight quad with 8 columns' quads gives 8 exact int32 sums of 4 products
 * (each within 16 bits), added to the accumulators (wrapping). */
MOFRT_I8_VNNI_TARGET
static void micro_kernel8(int64_t k4, const int8_t *MOFRT_RESTRICT a,
                          const uint8_t *MOFRT_RESTRICT b, int32_t acc[MR][NR])
{
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00;
    __m256i c21 = c00, c30 = c00, c31 = c00;
    for (int64_t kq = 0; kq < k4; kq++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + kq * 4 * NR));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(b + kq * 4 * NR + 32));
        const int8_t *ap = a + kq * 4 * MR;
        int32_t w;
        __m256i av;
#define MOFRT_I8_ROW8(r, x0, x1)                                                          \
        memcpy(&w, ap + 4 * (r), 4);                                                      \
        av = _mm256_set1_epi32(w);                                                        \
        x0 = _mm256_dpbusd_epi32(x0, b0, av);                                             \
        x1 = _mm256_dpbusd_epi32(x1, b1, av);
        MOFRT_I8_ROW8(0, c00, c01)
        MOFRT_I8_ROW8(1, c10, c11)
        MOFRT_I8_ROW8(2, c20, c21)
        MOFRT_I8_ROW8(3, c30, c31)
#undef MOFRT_I8_ROW8
    }
    _mm256_storeu_si256((__m256i *)acc[0], c00);
    _mm256_storeu_si256((__m256i *)(acc[0] + 8), c01);
    _mm256_storeu_si256((__m256i *)acc[1], c10);
    _mm256_storeu_si256((__m256i *)(acc[1] + 8), c11);
    _mm256_storeu_si256((__m256i *)acc[2], c20);
    _mm256_storeu_si256((__m256i *)(acc[2] + 8), c21);
    _mm256_storeu_si256((__m256i *)acc[3], c30);
    _mm256_storeu_si256((__m256i *)(acc[3] + 8), c31);
}

/* im2col of NR output pixels into quads of k from the padded uint8 input: for strides
 * 1 and 2, per run of pixel_runs one unaligned 16-byte load (two, and a pack of their
 * even bytes, for stride 2), masked to the run and OR-ed together; SSE2. */
static void conv_pack8(const gemm_job *j, int64_t g, int64_t c0, uint8_t *panel)
{
    const mofrt_i8_conv *p = j->conv;
    int64_t wp = p->w + p->pl + p->pr, hp = p->h + p->pt + p->pb;
    int64_t cg = p->c / p->groups, k = j->k, k4 = ceil_div(k, 4);
    const uint8_t *xg = j->xpad8 + g * cg * hp * wp;
    int64_t po[NR];
    for (int jj = 0; jj < NR; jj++) {
        int64_t c = c0 + jj;
        po[jj] = c < j->cols ? (c / p->ow) * p->sh * wp + (c % p->ow) * p->sw : 0;
    }
    if (p->sw == 1 || p->sw == 2) {
        int64_t off[NR];
        int ra[NR], rb[NR];
        int nruns = pixel_runs(j, c0, p->sw, po, off, ra, rb);
        __m128i mask[NR];
        for (int q = 0; q < nruns; q++) {
            uint8_t m[NR];
            for (int t = 0; t < NR; t++)
                m[t] = t >= ra[q] && t < rb[q] ? 0xff : 0;
            mask[q] = _mm_loadu_si128((const __m128i *)m);
        }
        const __m128i even = _mm_set1_epi16(0x00ff), zero = _mm_setzero_si128();
        for (int64_t kq = 0; kq < k4; kq++) {
            __m128i r[4];
            for (int t = 0; t < 4; t++) {
                int64_t kx = 4 * kq + t;
                r[t] = zero;
                if (kx >= k)
                    continue;
                const uint8_t *src = xg + j->kbase[kx];
                for (int q = 0; q < nruns; q++) {
                    const uint8_t *a = src + off[q];
                    __m128i v = _mm_loadu_si128((const __m128i *)a);
                    if (p->sw == 2) {
                        __m128i w = _mm_loadu_si128((const __m128i *)(a + 16));
                        v = _mm_packus_epi16(_mm_and_si128(v, even), _mm_and_si128(w, even));
                    }
                    r[t] = _mm_or_si128(r[t], _mm_and_si128(v, mask[q]));
                }
            }
            /* four rows of NR bytes interleaved into quads */
            __m128i ab0 = _mm_unpacklo_epi8(r[0], r[1]), ab1 = _mm_unpackhi_epi8(r[0], r[1]);
            __m128i cd0 = _mm_unpacklo_epi8(r[2], r[3]), cd1 = _mm_unpackhi_epi8(r[2], r[3]);
            uint8_t *d = panel + kq * 4 * NR;
            _mm_storeu_si128((__m128i *)d, _mm_unpacklo_epi16(ab0, cd0));
            _mm_storeu_si128((__m128i *)(d + 16), _mm_unpackhi_epi16(ab0, cd0));
            _mm_storeu_si128((__m128i *)(d + 32), _mm_unpacklo_epi16(ab1, cd1));
            _mm_storeu_si128((__m128i *)(d + 48), _mm_unpackhi_epi16(ab1, cd1));
        }
        return;
    }
    for (int64_t kq = 0; kq < k4; kq++) {
        uint8_t *d = panel + kq * 4 * NR;
        for (int t = 0; t < 4; t++) {
            int64_t kx = 4 * kq + t;
            const uint8_t *src = kx < k ? xg + j->kbase[kx] : NULL;
            for (int jj = 0; jj < NR; jj++)
                d[4 * jj + t] = src && c0 + jj < j->cols ? src[po[jj]] : 0;
        }
    }
}

static void gemm_task8(void *ctx, int64_t begin, int64_t end, int thread)
{
    const gemm_job *j = (const gemm_job *)ctx;
    uint8_t *panels = j->scratch + (size_t)thread * j->per_thread;
    int64_t k4 = ceil_div(j->k, 4), rpanels = ceil_div(j->rows, MR);
    int64_t psize = k4 * 4 * NR;
    int32_t acc[MR][NR];
    size_t ysize = j->out->y_signed ? sizeof(int8_t) : sizeof(uint8_t);
    for (int64_t t = begin; t < end; t++) {
        int64_t g = t / j->blocks, blk = t % j->blocks;
        int64_t c0 = blk * j->panels_per_block * NR;
        int64_t np = ceil_div(j->cols - c0, NR);
        if (np > j->panels_per_block)
            np = j->panels_per_block;
        for (int64_t p = 0; p < np; p++)
            conv_pack8(j, g, c0 + p * NR, panels + p * psize);
        const int8_t *wg = j->w8 + g * rpanels * MR * k4 * 4;
        for (int64_t rp = 0; rp < rpanels; rp++) {
            const int8_t *a = wg + rp * MR * k4 * 4;
            int64_t r0 = rp * MR, nr = j->rows - r0 < MR ? j->rows - r0 : MR;
            for (int64_t p = 0; p < np; p++) {
                int64_t cc = c0 + p * NR, nc = j->cols - cc < NR ? j->cols - cc : NR;
                micro_kernel8(k4, a, panels + p * psize, acc);
                for (int64_t r = 0; r < nr; r++) {
                    int64_t ch = g * j->rows + r0 + r;
                    unsigned char *yp = (unsigned char *)j->y +
                                        (size_t)(ch * j->row_stride + cc * j->col_stride) * ysize;
                    requant_row(j->out, ch, acc[r], nc, yp, j->col_stride);
                }
            }
        }
    }
}
#endif

/* ------------------------------------------------------------------ QLinearConv */

/* Scratch (see mofrt_i8_conv_scratch): the padded input (int16, one image), the k
 * offsets, then per thread a block of packed columns. */
typedef struct conv_layout {
    int64_t hp, wp, k, cols;
    size_t xpad_bytes, kbase_bytes, per_thread;
    int64_t ppb, blocks;
} conv_layout;

static void conv_layout_make(const mofrt_i8_conv *p, conv_layout *l)
{
    l->hp = p->h + p->pt + p->pb;
    l->wp = p->w + p->pl + p->pr;
    l->k = p->c / p->groups * p->kh * p->kw;
    l->cols = p->oh * p->ow;
    l->xpad_bytes = mofrt_i8_xpad_bytes(p->c * l->hp * l->wp);
    l->kbase_bytes = mofrt_i8_align64((size_t)l->k * sizeof(int32_t));
    mofrt_i8_blocking(l->k, l->cols, &l->ppb, &l->blocks, &l->per_thread);
}

/* im2col of NR output pixels from the padded input: a gather through the offsets of
 * the kernel positions (kbase) and of the pixels. */
static void conv_pack(const gemm_job *j, int64_t g, int64_t c0, int16_t *panel)
{
    const mofrt_i8_conv *p = j->conv;
    int64_t wp = p->w + p->pl + p->pr, hp = p->h + p->pt + p->pb;
    int64_t cg = p->c / p->groups, k = j->k, k2 = ceil_div(k, 2);
    const int16_t *xg = j->xpad + g * cg * hp * wp;
    int64_t po[NR];
    int full = 1;
    for (int jj = 0; jj < NR; jj++) {
        int64_t c = c0 + jj;
        if (c < j->cols) {
            int64_t oh = c / p->ow, ow = c % p->ow;
            po[jj] = oh * p->sh * wp + ow * p->sw;
        } else {
            po[jj] = 0;
            full = 0;
        }
    }
#if MOFRT_I8_AVX2
    /* Strides 1 and 2: the runs of pixel_runs, one 256-bit load per run (two and a
     * pack of the even values for stride 2); two k are interleaved into pairs with
     * unpack (and a lane fix-up). */
    if (p->sw == 1 || p->sw == 2) {
        int64_t off[NR];
        int ra[NR], rb[NR];
        int nruns = pixel_runs(j, c0, p->sw, po, off, ra, rb);
        __m256i mask[NR];
        for (int q = 0; q < nruns; q++) {
            int16_t m[NR];
            for (int t = 0; t < NR; t++)
                m[t] = (int16_t)(t >= ra[q] && t < rb[q] ? -1 : 0);
            mask[q] = _mm256_loadu_si256((const __m256i *)m);
        }
        const __m256i low = _mm256_set1_epi32(0xffff);
        for (int64_t kk = 0; kk < k2; kk++) {
            __m256i v2[2];
            for (int t = 0; t < 2; t++) {
                int64_t kx = 2 * kk + t;
                v2[t] = _mm256_setzero_si256();
                if (kx >= k)
                    continue;
                const int16_t *src = xg + j->kbase[kx];
                for (int q = 0; q < nruns; q++) {
                    const int16_t *a = src + off[q];
                    __m256i v = _mm256_loadu_si256((const __m256i *)a);
                    if (p->sw == 2) {
                        /* the low halves of the 32-bit lanes, packed without saturation
                         * (they are below 65536), then the 64-bit quads reordered */
                        __m256i w = _mm256_loadu_si256((const __m256i *)(a + 16));
                        v = _mm256_packus_epi32(_mm256_and_si256(v, low),
                                                _mm256_and_si256(w, low));
                        v = _mm256_permute4x64_epi64(v, 0xd8);
                    }
                    v2[t] = _mm256_or_si256(v2[t], _mm256_and_si256(v, mask[q]));
                }
            }
            __m256i lo = _mm256_unpacklo_epi16(v2[0], v2[1]);
            __m256i hi = _mm256_unpackhi_epi16(v2[0], v2[1]);
            _mm256_storeu_si256((__m256i *)(panel + kk * 2 * NR),
                                _mm256_permute2x128_si256(lo, hi, 0x20));
            _mm256_storeu_si256((__m256i *)(panel + kk * 2 * NR + 16),
                                _mm256_permute2x128_si256(lo, hi, 0x31));
        }
        return;
    }
#endif
    for (int64_t kk = 0; kk < k2; kk++) {
        int16_t *d = panel + kk * 2 * NR;
        for (int t = 0; t < 2; t++) {
            int64_t kx = 2 * kk + t;
            if (kx >= k) {
                for (int jj = 0; jj < NR; jj++)
                    d[2 * jj + t] = 0;
                continue;
            }
            const int16_t *src = xg + j->kbase[kx];
            for (int jj = 0; jj < NR; jj++)
                d[2 * jj + t] = src[po[jj]];
        }
    }
    if (!full)
        for (int64_t kk = 0; kk < k2; kk++)
            for (int jj = (int)(j->cols - c0); jj < NR; jj++)
                panel[kk * 2 * NR + 2 * jj] = panel[kk * 2 * NR + 2 * jj + 1] = 0;
}

#if MOFRT_I8_VNNI
/* The u8 x s8 path of mofrt_i8_conv_run (same scratch layout, bytes instead of int16). */
static void conv_run8(const mofrt_i8_conv *p, const conv_layout *l, gemm_job *j,
                      const void *x, void *y, unsigned char *s, mofrt_pool *pool)
{
    uint8_t *xpad = s + MOFRT_I8_XPAD_MARGIN;
    mofrt_i8_out o8 = p->out;
    o8.bias = p->bias_u8;
    j->out = &o8;
    j->xpad8 = xpad;
    /* x' = x (uint8) or x + 128 (int8); the padding holds x_zp'. */
    int32_t shift = p->x_signed ? 128 : 0;
    uint8_t zpad = (uint8_t)(p->x_zp + shift);
    size_t ysize = p->out.y_signed ? sizeof(int8_t) : sizeof(uint8_t);
    for (int64_t n = 0; n < p->n; n++) {
        const uint8_t *xn = (const uint8_t *)x + (size_t)(n * p->c * p->h * p->w);
        memset(xpad, zpad, (size_t)(p->c * l->hp * l->wp));
        for (int64_t c = 0; c < p->c; c++)
            for (int64_t h = 0; h < p->h; h++) {
                uint8_t *d = xpad + (c * l->hp + h + p->pt) * l->wp + p->pl;
                const uint8_t *src = xn + (c * p->h + h) * p->w;
                if (shift)
                    for (int64_t i = 0; i < p->w; i++)
                        d[i] = (uint8_t)(src[i] ^ 0x80);
                else
                    memcpy(d, src, (size_t)p->w);
            }
        j->y = (unsigned char *)y + (size_t)(n * p->m * l->cols) * ysize;
        if (l->cols > 0 && j->rows > 0)
            mofrt_parallel_for(pool, j->groups * j->blocks, gemm_task8, j);
    }
}
#endif

void mofrt_i8_conv_run(const mofrt_i8_conv *p, const int16_t *w, const int8_t *w8,
                       const void *x, void *y, void *scratch, mofrt_pool *pool)
{
    conv_layout l;
    conv_layout_make(p, &l);
    unsigned char *s = (unsigned char *)scratch;
    int16_t *xpad = (int16_t *)(s + MOFRT_I8_XPAD_MARGIN);
    int32_t *kbase = (int32_t *)(s + l.xpad_bytes);
    int64_t cg = p->c / p->groups, kk = 0;
    for (int64_t c = 0; c < cg; c++)
        for (int64_t a = 0; a < p->kh; a++)
            for (int64_t b = 0; b < p->kw; b++)
                kbase[kk++] = (int32_t)((c * l.hp + a * p->dh) * l.wp + b * p->dw);
    gemm_job j = {
        .groups = p->groups, .rows = p->m / p->groups, .k = l.k, .cols = l.cols, .w = w,
        .pack = conv_pack, .kbase = kbase, .conv = p, .xpad = xpad,
        .row_stride = l.cols, .col_stride = 1, .out = &p->out,
        .panels_per_block = l.ppb, .blocks = l.blocks,
        .scratch = s + l.xpad_bytes + l.kbase_bytes, .per_thread = l.per_thread,
    };
#if MOFRT_I8_VNNI
    if (w8 && p->bias_u8 && vnni_available()) {
        j.w8 = w8;
        conv_run8(p, &l, &j, x, y, s, pool);
        return;
    }
#else
    (void)w8;
#endif
    size_t ysize = p->out.y_signed ? sizeof(int8_t) : sizeof(uint8_t);
    size_t xsize = p->x_signed ? sizeof(int8_t) : sizeof(uint8_t);
    for (int64_t n = 0; n < p->n; n++) {
        /* The padded input minus its zero point: the padding holds 0, which is what a
         * position in the padding contributes in the interpreter. */
        const unsigned char *xn = (const unsigned char *)x + (size_t)(n * p->c * p->h * p->w) * xsize;
        memset(xpad, 0, (size_t)(p->c * l.hp * l.wp) * sizeof(int16_t));
        for (int64_t c = 0; c < p->c; c++)
            for (int64_t h = 0; h < p->h; h++) {
                int16_t *d = xpad + (c * l.hp + h + p->pt) * l.wp + p->pl;
                int64_t i0 = (c * p->h + h) * p->w;
                if (p->x_signed) {
                    const int8_t *src = (const int8_t *)xn + i0;
                    for (int64_t i = 0; i < p->w; i++)
                        d[i] = (int16_t)(src[i] - p->x_zp);
                } else {
                    const uint8_t *src = xn + i0;
                    for (int64_t i = 0; i < p->w; i++)
                        d[i] = (int16_t)(src[i] - p->x_zp);
                }
            }
        j.y = (unsigned char *)y + (size_t)(n * p->m * l.cols) * ysize;
        gemm_run(&j, pool);
    }
}

/* ------------------------------------------------------------------ QLinearMatMul */

static void matmul_pack(const gemm_job *j, int64_t g, int64_t c0, int16_t *panel)
{
    int64_t k = j->k, k2 = ceil_div(k, 2);
    (void)g;
    for (int jj = 0; jj < NR; jj++) {
        int64_t row = c0 + jj;
        if (row >= j->cols) {
            for (int64_t kk = 0; kk < k2; kk++)
                panel[kk * 2 * NR + 2 * jj] = panel[kk * 2 * NR + 2 * jj + 1] = 0;
            continue;
        }
        for (int64_t kx = 0; kx < 2 * k2; kx++) {
            int16_t v = 0;
            if (kx < k)
                v = (int16_t)((j->x_signed ? ((const int8_t *)j->x)[row * k + kx]
                                           : ((const uint8_t *)j->x)[row * k + kx]) - j->x_zp);
            panel[(kx / 2) * 2 * NR + 2 * jj + (kx & 1)] = v;
        }
    }
}

void mofrt_i8_matmul_run(const mofrt_i8_matmul *p, const int16_t *w, const void *a, void *y,
                         void *scratch, mofrt_pool *pool)
{
    gemm_job j = {
        .groups = 1, .rows = p->n, .k = p->k, .cols = p->rows, .w = w,
        .pack = matmul_pack, .x = a, .x_zp = p->a_zp, .x_signed = p->a_signed,
        .y = y, .row_stride = 1, .col_stride = p->n, .out = &p->out,
        .scratch = (unsigned char *)scratch,
    };
    mofrt_i8_blocking(p->k, p->rows, &j.panels_per_block, &j.blocks, &j.per_thread);
    gemm_run(&j, pool);
}

/* ------------------------------------------------------------------ element-wise */

/* round(q) + zp saturated to [lo, hi], as the interpreter's saturate_round; q may be
 * anything, NaN and infinities included. */
static int32_t saturate_round(float q, int32_t zp, int32_t lo, int32_t hi)
{
    if (q != q)
        return 0;
    float flo = (float)(lo - zp), fhi = (float)(hi - zp);
    q = q < flo ? flo : q;
    q = q > fhi ? fhi : q;
    return (int32_t)round_even_small(q) + zp;
}

void mofrt_i8_quantize(const float *x, int64_t n, float scale, int32_t zp, int y_signed,
                       void *y)
{
#if MOFRT_I8_AVX2
    /* 16 at a time: the division, NaN -> 0, clamp, round half to even, zero point. */
    int32_t lo = y_signed ? -128 : 0, hi = y_signed ? 127 : 255;
    __m256 vs = _mm256_set1_ps(scale), vlo = _mm256_set1_ps((float)(lo - zp));
    __m256 vhi = _mm256_set1_ps((float)(hi - zp));
    __m256i vz = _mm256_set1_epi32(zp);
    int64_t i0 = 0;
    for (; i0 + 16 <= n; i0 += 16) {
        __m256i r[2];
        for (int h = 0; h < 2; h++) {
            __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i0 + 8 * h), vs);
            __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
            v = _mm256_min_ps(_mm256_max_ps(v, vlo), vhi);
            v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m256i q = _mm256_add_epi32(_mm256_cvtps_epi32(v), vz);
            r[h] = _mm256_andnot_si256(_mm256_castps_si256(nan), q);
        }
        __m256i p16 = _mm256_permute4x64_epi64(_mm256_packs_epi32(r[0], r[1]), 0xD8);
        __m128i l16 = _mm256_castsi256_si128(p16), h16 = _mm256_extracti128_si256(p16, 1);
        _mm_storeu_si128((__m128i *)((uint8_t *)y + i0),
                         y_signed ? _mm_packs_epi16(l16, h16) : _mm_packus_epi16(l16, h16));
    }
    x += i0;
    n -= i0;
    y = (uint8_t *)y + i0;
#endif
    if (y_signed) {
        int8_t *q = (int8_t *)y;
        for (int64_t i = 0; i < n; i++)
            q[i] = (int8_t)saturate_round(x[i] / scale, zp, -128, 127);
    } else {
        uint8_t *q = (uint8_t *)y;
        for (int64_t i = 0; i < n; i++)
            q[i] = (uint8_t)saturate_round(x[i] / scale, zp, 0, 255);
    }
}

void mofrt_i8_quantize_axis(const float *x, int64_t outer, int64_t channels, int64_t inner,
                            const float *scale, const int32_t *zp, int y_signed, void *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            int64_t i0 = (o * channels + c) * inner;
            if (y_signed)
                mofrt_i8_quantize(x + i0, inner, scale[c], zp[c], 1, (int8_t *)y + i0);
            else
                mofrt_i8_quantize(x + i0, inner, scale[c], zp[c], 0, (uint8_t *)y + i0);
        }
}

void mofrt_i8_dequantize(const void *x, int x_kind, int64_t outer, int64_t channels,
                         int64_t inner, const float *scale, const int32_t *zp, float *y)
{
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < channels; c++) {
            int64_t i0 = (o * channels + c) * inner;
            float s = scale[c];
            int32_t z = zp[c];
            float *d = y + i0;
            if (x_kind == 0) {
                const uint8_t *src = (const uint8_t *)x + i0;
                for (int64_t i = 0; i < inner; i++)
                    d[i] = (float)(src[i] - z) * s;
            } else if (x_kind == 1) {
                const int8_t *src = (const int8_t *)x + i0;
                for (int64_t i = 0; i < inner; i++)
                    d[i] = (float)(src[i] - z) * s;
            } else {
                /* int32: the difference in 64 bits, converted once, as the interpreter */
                const int32_t *src = (const int32_t *)x + i0;
                for (int64_t i = 0; i < inner; i++)
                    d[i] = (float)((int64_t)src[i] - z) * s;
            }
        }
}

void mofrt_i8_max(const void *x, int64_t n, int32_t lo, int x_signed, void *y)
{
    if (x_signed) {
        const int8_t *s = (const int8_t *)x;
        int8_t *d = (int8_t *)y;
        for (int64_t i = 0; i < n; i++)
            d[i] = (int8_t)(s[i] < lo ? lo : s[i]);
    } else {
        const uint8_t *s = (const uint8_t *)x;
        uint8_t *d = (uint8_t *)y;
        for (int64_t i = 0; i < n; i++)
            d[i] = (uint8_t)(s[i] < lo ? lo : s[i]);
    }
}

/* Max of each window: first down the kernel's rows into a row of column maxima (a
 * contiguous, vectorisable pass), then along the row. */
void mofrt_i8_maxpool(const mofrt_i8_pool *p, const void *x, void *y, void *scratch)
{
    int16_t *col = (int16_t *)scratch;   /* p->w entries */
    for (int64_t c = 0; c < p->planes; c++)
        for (int64_t oy = 0; oy < p->oh; oy++) {
            for (int64_t i = 0; i < p->w; i++)
                col[i] = -1000;
            for (int64_t a = 0; a < p->kh; a++) {
                int64_t iy = oy * p->sh - p->pt + a * p->dh;
                if (iy < 0 || iy >= p->h)
                    continue;
                int64_t row = (c * p->h + iy) * p->w;
                if (p->x_signed) {
                    const int8_t *src = (const int8_t *)x + row;
                    for (int64_t i = 0; i < p->w; i++)
                        col[i] = (int16_t)(src[i] > col[i] ? src[i] : col[i]);
                } else {
                    const uint8_t *src = (const uint8_t *)x + row;
                    for (int64_t i = 0; i < p->w; i++)
                        col[i] = (int16_t)(src[i] > col[i] ? src[i] : col[i]);
                }
            }
            int64_t o = (c * p->oh + oy) * p->ow;
            for (int64_t ox = 0; ox < p->ow; ox++) {
                int32_t best = -1000;
                int64_t ix0 = ox * p->sw - p->pl;
                if (ix0 >= 0 && ix0 + (p->kw - 1) * p->dw < p->w) {
                    /* every tap inside the row: no bounds checks */
                    const int16_t *cx = col + ix0;
                    for (int64_t b = 0; b < p->kw; b++)
                        best = cx[b * p->dw] > best ? cx[b * p->dw] : best;
                } else {
                    for (int64_t b = 0; b < p->kw; b++) {
                        int64_t ix = ix0 + b * p->dw;
                        if (ix >= 0 && ix < p->w && col[ix] > best)
                            best = col[ix];
                    }
                }
                if (p->x_signed)
                    ((int8_t *)y)[o + ox] = (int8_t)best;
                else
                    ((uint8_t *)y)[o + ox] = (uint8_t)best;
            }
        }
}
