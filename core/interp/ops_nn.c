/* ops_nn.c: the interpreter's neural-network operators, each with its shape function:
 * Conv, ConvTranspose, MatMul, Gemm, MaxPool, AveragePool, LpPool, GlobalAveragePool,
 * GlobalMaxPool, GlobalLpPool, MaxUnpool, BatchNormalization, InstanceNormalization,
 * LayerNormalization, MeanVarianceNormalization, LpNormalization, Flatten and LRN.
 *
 * Numerics: the products (Conv, ConvTranspose, MatMul, Gemm) run in float through
 * mof_sgemm for float, float16 and bfloat16 tensors (the 16-bit types are widened and the
 * result rounded once); double tensors take plain double loops, integer MatMul/Gemm
 * accumulate in 64-bit integers. Pools and normalizations compute in double for every
 * type and round once when storing.
 *
 * Convolution geometry: every spatial op maps "iteration" positions p (outputs of Conv
 * and pools, inputs of ConvTranspose) to "target" positions t = p * stride + tap *
 * dilation - pad_begin, axis by axis. A tap table (see taps_build) precomputes, per
 * kernel tap, which rows of the iteration space land inside the target and the valid
 * range along the last axis, so that every kernel's inner loop is a bounds-free strided
 * loop that gcc vectorises. Conv gathers through it (im2col + mof_sgemm, or directly
 * for one input channel per group: depthwise), ConvTranspose scatters through it
 * (mof_sgemm + col2im), pools reduce through it.
 *
 * Shape functions carry symbolic dims: the batch dim of Conv, pools and normalizations
 * passes through by name, and a spatial dim keeps its symbol when the op provably leaves
 * its size unchanged (stride 1 with "same" padding). */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ diagnostics */

/* Where a problem is reported: a running kernel or a shape function (one is set). */
typedef struct where {
    mof_kernel_ctx *kc;
    mof_infer_ctx *ic;
} where;

static const mof_node *where_node(const where *w)
{
    return w->kc ? w->kc->node : w->ic->node;
}

static int64_t where_opset(const where *w)
{
    return w->kc ? w->kc->opset : w->ic->opset;
}

/* Out of memory: a kernel says so; a shape function returns the status and lets the
 * inference walk name the node. */
static mof_status nomem(const where *w)
{
    if (w->kc)
        return mof_kernel_error(w->kc, MOF_ERR_NOMEM, "out of memory");
    return MOF_ERR_NOMEM;
}

static mof_status fail_status(const where *w, mof_status status, const char *fmt, ...)
    MOF_PRINTF(3, 4);
static mof_status fail_status(const where *w, mof_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *msg = mof_vasprintf(fmt, ap);
    va_end(ap);
    if (!msg)
        return nomem(w);
    mof_status st = w->kc ? mof_kernel_error(w->kc, status, "%s", msg)
                          : mof_infer_error(w->ic, "%s", msg);
    free(msg);
    return st;
}

#define fail(w, ...) fail_status((w), MOF_ERR_INVALID_MODEL, __VA_ARGS__)

/* ------------------------------------------------------------------ small helpers */

static int64_t ceil_div(int64_t a, int64_t b) /* b > 0 */
{
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static int64_t floor_div(int64_t a, int64_t b) /* b > 0 */
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t prod(const int64_t *d, size_t n)
{
    int64_t p = 1;
    for (size_t i = 0; i < n; i++)
        p *= d[i];
    return p;
}

/* Advances a row-major multi-index over dims (an odometer). */
static void odo_next(int64_t *idx, const int64_t *dims, size_t n)
{
    for (size_t i = n; i-- > 0;) {
        if (++idx[i] < dims[i])
            return;
        idx[i] = 0;
    }
}

static mof_status bad_dtype(mof_kernel_ctx *kc, const char *what, mof_dtype t)
{
    return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "%s of type %s is not supported", what,
                            mof_dtype_name(t));
}

/* The elements of a real tensor as float: borrowed when it is float, else a widened
 * copy returned in *owned too (the caller frees it). NULL when out of memory. */
static const float *f32_view(const mof_tensor *t, float **owned)
{
    *owned = NULL;
    if (t->dtype == MOF_DTYPE_FLOAT)
        return t->data;
    float *p = mof_malloc((size_t)t->numel * sizeof(float));
    if (!p)
        return NULL;
    const uint16_t *h = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        if (t->dtype == MOF_DTYPE_FLOAT16)
            p[i] = mof_half_to_float(h[i]);
        else if (t->dtype == MOF_DTYPE_BFLOAT16)
            p[i] = mof_bfloat16_to_float(h[i]);
        else
            p[i] = (float)mof_tensor_get_f64(t, i);
    }
    *owned = p;
    return p;
}

/* Where a float result for t is computed: t's own data when t is float, else a
 * scratch buffer (in *owned) that f32_store later rounds into t. */
static float *f32_dest(mof_tensor *t, float **owned)
{
    *owned = NULL;
    if (t->dtype == MOF_DTYPE_FLOAT)
        return t->data;
    *owned = mof_calloc((size_t)t->numel, sizeof(float));
    return *owned;
}

static void f32_store(mof_tensor *t, const float *src)
{
    if (t->dtype == MOF_DTYPE_FLOAT)
        return;
    uint16_t *h = t->data;
    for (int64_t i = 0; i < t->numel; i++) {
        if (t->dtype == MOF_DTYPE_FLOAT16)
            h[i] = mof_float_to_half(src[i]);
        else if (t->dtype == MOF_DTYPE_BFLOAT16)
            h[i] = mof_float_to_bfloat16(src[i]);
        else
            mof_tensor_set_f64(t, i, src[i]);
    }
}

/* The elements of a numeric tensor as double, borrowed or converted (see f32_view). */
static const double *f64_view(const mof_tensor *t, double **owned)
{
    *owned = NULL;
    if (t->dtype == MOF_DTYPE_DOUBLE)
        return t->data;
    double *p = mof_malloc((size_t)t->numel * sizeof(double));
    if (!p)
        return NULL;
    if (t->dtype == MOF_DTYPE_FLOAT) {
        const float *f = t->data;
        for (int64_t i = 0; i < t->numel; i++)
            p[i] = f[i];
    } else {
        for (int64_t i = 0; i < t->numel; i++)
            p[i] = mof_tensor_get_f64(t, i);
    }
    *owned = p;
    return p;
}

/* Rounds double results into t (of any numeric type). */
static void f64_store(mof_tensor *t, const double *src)
{
    if (t->dtype == MOF_DTYPE_DOUBLE) {
        if (t->data != (const void *)src)
            memcpy(t->data, src, (size_t)t->numel * sizeof(double));
    } else if (t->dtype == MOF_DTYPE_FLOAT) {
        float *f = t->data;
        for (int64_t i = 0; i < t->numel; i++)
            f[i] = (float)src[i];
    } else {
        for (int64_t i = 0; i < t->numel; i++)
            mof_tensor_set_f64(t, i, src[i]);
    }
}

/* Creates output i of the running node, reporting failure. */
static mof_status new_output(mof_kernel_ctx *kc, mof_tensor **out, mof_dtype dtype, size_t rank,
                             const int64_t *dims)
{
    *out = mof_tensor_create(dtype, rank, dims);
    if (!*out)
        return mof_kernel_error(kc, MOF_ERR_NOMEM,
                                "out of memory (or a size overflow) creating a %s output",
                                mof_dtype_name(dtype));
    return MOF_OK;
}

/* Strides with which a tensor of dims src (rank rs) is read when broadcast
 * unidirectionally to dims (rank r >= rs): 0 along broadcast axes. False when it does
 * not broadcast. */
static bool bcast_strides(size_t rs, const int64_t *src, size_t r, const int64_t *dims,
                          int64_t *str)
{
    if (rs > r)
        return false;
    int64_t s = 1;
    for (size_t i = r; i-- > 0;) {
        size_t k = r - 1 - i; /* counted from the right */
        if (k >= rs) {
            str[i] = 0;
            continue;
        }
        int64_t d = src[rs - 1 - k];
        if (d != 1 && d != dims[i])
            return false;
        str[i] = d == 1 ? 0 : s;
        s *= d;
    }
    return true;
}

/* ------------------------------------------------------------------ shapes */

static bool shape_known(const mof_shape *s, size_t i)
{
    return s->present && s->rank >= 0 && i < (size_t)s->rank && s->dims[i] >= 0;
}

/* ------------------------------------------------------------------ geometry */

typedef enum pad_mode { PAD_NOTSET, PAD_SAME_UPPER, PAD_SAME_LOWER, PAD_VALID } pad_mode;
typedef enum geom_kind { GEOM_CONV, GEOM_POOL, GEOM_CONV_TRANSPOSE } geom_kind;

/* The spatial geometry of a Conv, ConvTranspose or pool node. Unknown sizes are -1. */
typedef struct geom {
    size_t n;                /* spatial rank */
    geom_kind kind;
    pad_mode pad;
    bool ceil_mode;
    int64_t *k;              /* kernel */
    int64_t *s;              /* strides */
    int64_t *d;              /* dilations */
    int64_t *pb, *pe;        /* pads at the beginning and the end */
    int64_t *in, *out;       /* spatial sizes of the input and the output */
    int64_t *opad;           /* ConvTranspose output_padding */
    const int64_t *oshape;   /* ConvTranspose output_shape (borrowed, n entries) or NULL */
    int64_t *buf;
} geom;

static void geom_free(geom *g)
{
    free(g->buf);
    g->buf = NULL;
}

/* Reads an INTS attribute of n entries (or absent: all def), checking each >= min. */
static mof_status geom_ints(const where *w, const char *name, size_t n, int64_t def,
                            int64_t min, int64_t *dst)
{
    size_t count;
    const int64_t *v = mof_node_attr_ints(where_node(w), name, &count);
    if (!v) {
        for (size_t i = 0; i < n; i++)
            dst[i] = def;
        return MOF_OK;
    }
    if (count != n)
        return fail(w, "attribute '%s' has %zu values, expected %zu (one per spatial axis)",
                    name, count, n);
    for (size_t i = 0; i < n; i++) {
        if (v[i] < min)
            return fail(w, "attribute '%s': value %" PRId64 " is below %" PRId64, name, v[i],
                        min);
        dst[i] = v[i];
    }
    return MOF_OK;
}

/* Parses the node's spatial attributes for n spatial axes. wk: the kernel dims read from
 * the weights (entries -1 when unknown), or NULL (pools: kernel_shape is required). */
static mof_status geom_parse(const where *w, geom_kind kind, size_t n, const int64_t *wk,
                             geom *g)
{
    const mof_node *node = where_node(w);
    memset(g, 0, sizeof(*g));
    g->n = n;
    g->kind = kind;
    g->buf = mof_calloc(8 * (n ? n : 1), sizeof(int64_t));
    if (!g->buf)
        return nomem(w);
    int64_t *b = g->buf;
    g->k = b;
    g->s = b + n;
    g->d = b + 2 * n;
    g->pb = b + 3 * n;
    g->pe = b + 4 * n;
    g->in = b + 5 * n;
    g->out = b + 6 * n;
    g->opad = b + 7 * n;

    const char *ap = mof_node_attr_string(node, "auto_pad", "NOTSET", NULL);
    if (!strcmp(ap, "NOTSET") || !*ap)
        g->pad = PAD_NOTSET;
    else if (!strcmp(ap, "SAME_UPPER"))
        g->pad = PAD_SAME_UPPER;
    else if (!strcmp(ap, "SAME_LOWER"))
        g->pad = PAD_SAME_LOWER;
    else if (!strcmp(ap, "VALID"))
        g->pad = PAD_VALID;
    else
        return fail(w, "attribute 'auto_pad' is '%s'; expected NOTSET, SAME_UPPER, SAME_LOWER "
                       "or VALID", ap);

    size_t nk;
    const int64_t *ks = mof_node_attr_ints(node, "kernel_shape", &nk);
    if (ks) {
        if (nk != n)
            return fail(w, "attribute 'kernel_shape' has %zu values, expected %zu", nk, n);
        for (size_t i = 0; i < n; i++) {
            if (ks[i] < 1)
                return fail(w, "attribute 'kernel_shape': value %" PRId64 " is below 1", ks[i]);
            if (wk && wk[i] >= 0 && wk[i] != ks[i])
                return fail(w, "attribute 'kernel_shape' says %" PRId64 " on spatial axis %zu, "
                               "the weights have %" PRId64, ks[i], i, wk[i]);
            g->k[i] = ks[i];
        }
    } else if (!wk) {
        return fail(w, "attribute 'kernel_shape' is required");
    } else {
        for (size_t i = 0; i < n; i++)
            g->k[i] = wk[i] >= 0 ? wk[i] : -1;
    }

    mof_status st;
    if ((st = geom_ints(w, "strides", n, 1, 1, g->s)) != MOF_OK ||
        (st = geom_ints(w, "dilations", n, 1, 1, g->d)) != MOF_OK)
        return st;
    if (g->pad == PAD_NOTSET) {
        size_t np;
        const int64_t *pv = mof_node_attr_ints(node, "pads", &np);
        if (pv) {
            if (np != 2 * n)
                return fail(w, "attribute 'pads' has %zu values, expected %zu (begins, then ends)",
                            np, 2 * n);
            for (size_t i = 0; i < 2 * n; i++)
                if (pv[i] < 0)
                    return fail(w, "attribute 'pads': value %" PRId64 " is negative", pv[i]);
            memcpy(g->pb, pv, n * sizeof(int64_t));
            memcpy(g->pe, pv + n, n * sizeof(int64_t));
        }
    }
    if (kind == GEOM_POOL)
        g->ceil_mode = mof_node_attr_int(node, "ceil_mode", 0) != 0;
    if (kind == GEOM_CONV_TRANSPOSE) {
        if ((st = geom_ints(w, "output_padding", n, 0, 0, g->opad)) != MOF_OK)
            return st;
        size_t no;
        const int64_t *os = mof_node_attr_ints(node, "output_shape", &no);
        if (os) {
            /* The spatial sizes, possibly preceded by N and C. */
            if (no != n && no != n + 2)
                return fail(w, "attribute 'output_shape' has %zu values, expected %zu", no, n);
            g->oshape = os + (no - n);
            for (size_t i = 0; i < n; i++)
                if (g->oshape[i] < 0)
                    return fail(w, "attribute 'output_shape': value %" PRId64 " is negative",
                                g->oshape[i]);
        }
    }
    return MOF_OK;
}

/* Splits a total padding between begin and end: the odd one goes to the end for
 * SAME_UPPER, to the beginning otherwise. Floor division, so that a negative total (a
 * ConvTranspose output_shape larger than the natural output) extends the end. */
static void split_pad(pad_mode mode, int64_t total, int64_t *pb, int64_t *pe)
{
    int64_t half = floor_div(total, 2);
    if (mode == PAD_SAME_UPPER) {
        *pb = half;
        *pe = total - half;
    } else {
        *pb = total - half;
        *pe = half;
    }
}

/* Computes the output sizes (and pads, for auto_pad) from the input sizes in[] (entries
 * -1 when unknown: that output is unknown too, unless output_shape gives it). */
static mof_status geom_output(const where *w, geom *g, const int64_t *in)
{
    for (size_t i = 0; i < g->n; i++) {
        int64_t x = in[i], k = g->k[i], s = g->s[i];
        g->in[i] = x;
        g->out[i] = -1;
        if (g->kind == GEOM_CONV_TRANSPOSE && g->oshape) {
            g->out[i] = g->oshape[i];
            if (x >= 0 && k >= 0) {
                int64_t dk = (k - 1) * g->d[i] + 1;
                int64_t total = s * (x - 1) + g->opad[i] + dk - g->out[i];
                split_pad(g->pad == PAD_SAME_UPPER ? PAD_SAME_UPPER : PAD_SAME_LOWER, total,
                          &g->pb[i], &g->pe[i]);
            }
            continue;
        }
        if (x < 0 || k < 0)
            continue;
        int64_t dk = (k - 1) * g->d[i] + 1;
        if (g->kind == GEOM_CONV_TRANSPOSE) {
            if (g->pad == PAD_SAME_UPPER || g->pad == PAD_SAME_LOWER) {
                g->out[i] = x * s;
                split_pad(g->pad, s * (x - 1) + g->opad[i] + dk - g->out[i], &g->pb[i],
                          &g->pe[i]);
            } else {
                if (g->pad == PAD_VALID)
                    g->pb[i] = g->pe[i] = 0;
                g->out[i] = s * (x - 1) + g->opad[i] + dk - g->pb[i] - g->pe[i];
            }
            if (x < 1 || g->out[i] < 0)
                return fail(w, "spatial axis %zu: input size %" PRId64 " gives output size %" PRId64,
                            i, x, g->out[i]);
            continue;
        }
        if (g->pad == PAD_SAME_UPPER || g->pad == PAD_SAME_LOWER) {
            g->out[i] = ceil_div(x, s);
            int64_t total = (g->out[i] - 1) * s + dk - x;
            split_pad(g->pad, total > 0 ? total : 0, &g->pb[i], &g->pe[i]);
            continue;
        }
        if (g->pad == PAD_VALID)
            g->pb[i] = g->pe[i] = 0;
        int64_t span = x + g->pb[i] + g->pe[i] - dk;
        if (span < 0)
            return fail(w, "spatial axis %zu: the kernel extent %" PRId64 " exceeds the padded "
                           "input size %" PRId64, i, dk, x + g->pb[i] + g->pe[i]);
        if (g->ceil_mode && g->pad == PAD_NOTSET) {
            g->out[i] = ceil_div(span, s) + 1;
            /* The last window must start inside the input or the left padding. */
            if ((g->out[i] - 1) * s >= x + g->pb[i])
                g->out[i]--;
        } else {
            g->out[i] = span / s + 1;
        }
    }
    return MOF_OK;
}

/* True when output axis i provably has the size of input axis i whatever it is. */
static bool geom_keeps_size(const geom *g, size_t i)
{
    if (g->s[i] != 1 || g->k[i] < 0)
        return false;
    int64_t dk = (g->k[i] - 1) * g->d[i] + 1;
    if (g->kind == GEOM_CONV_TRANSPOSE) {
        if (g->oshape)
            return false;
        if (g->pad == PAD_SAME_UPPER || g->pad == PAD_SAME_LOWER)
            return true;
        int64_t pads = g->pad == PAD_VALID ? 0 : g->pb[i] + g->pe[i];
        return g->opad[i] + dk - 1 - pads == 0;
    }
    if (g->pad == PAD_SAME_UPPER || g->pad == PAD_SAME_LOWER)
        return true;
    int64_t pads = g->pad == PAD_VALID ? 0 : g->pb[i] + g->pe[i];
    return pads == dk - 1;
}

/* Output dims of a spatial op: batch from x, channels given (a number, else a symbol
 * or unknown), spatial from g (symbols carried where the size is unchanged). */
static mof_status geom_emit(const geom *g, const mof_shape *x, int64_t channels,
                            const char *channels_sym, mof_infer_ctx *ic, size_t k,
                            mof_dtype dtype)
{
    mof_dimvec v;
    if (mof_dimvec_init(&v, (int)g->n + 2) != MOF_OK)
        return MOF_ERR_NOMEM;
    mof_dimvec_take(&v, 0, x, 0);
    v.dims[1] = channels;
    v.syms[1] = channels < 0 ? channels_sym : NULL;
    for (size_t i = 0; i < g->n; i++) {
        v.dims[i + 2] = g->out[i];
        if (g->out[i] < 0 && x->rank >= 0 && geom_keeps_size(g, i))
            mof_dimvec_take(&v, (int)i + 2, x, (int)i + 2);
    }
    return mof_dimvec_emit(ic, k, dtype, &v);
}

/* ------------------------------------------------------------------ tap tables */

/* See the file comment. Iteration positions p along the last axis in [lo, hi) of a tap
 * land inside the target, at p * stride + off relative to the target row start. */
typedef struct taps {
    int64_t n_taps;          /* product of the kernel dims */
    int64_t n_rows;          /* product of the iteration dims but the last */
    int64_t len;             /* the last iteration dim */
    int64_t size;            /* product of the iteration dims */
    int64_t stride;          /* stride along the last axis */
    int64_t *lo, *hi, *off;  /* per tap */
    int64_t *row;            /* n_taps x n_rows: target row start (elements), -1: outside */
} taps;

static void taps_free(taps *t)
{
    free(t->lo);
    free(t->row);
    t->lo = t->row = NULL;
}

/* iter and target: the spatial dims iterated over and those mapped into. */
static bool taps_build(taps *t, const geom *g, const int64_t *iter, const int64_t *target)
{
    size_t n = g->n, last = n - 1;
    memset(t, 0, sizeof(*t));
    t->n_taps = prod(g->k, n);
    t->n_rows = prod(iter, last);
    t->len = iter[last];
    t->size = t->n_rows * t->len;
    t->stride = g->s[last];
    t->lo = mof_calloc((size_t)(3 * t->n_taps), sizeof(int64_t));
    t->row = mof_calloc((size_t)(t->n_taps * t->n_rows), sizeof(int64_t));
    int64_t *kidx = mof_calloc(n, sizeof(int64_t));
    int64_t *pidx = mof_calloc(n, sizeof(int64_t));
    if (!t->lo || !t->row || !kidx || !pidx) {
        free(kidx);
        free(pidx);
        taps_free(t);
        return false;
    }
    t->hi = t->lo + t->n_taps;
    t->off = t->lo + 2 * t->n_taps;
    int64_t tlen = target[last], s = t->stride;
    for (int64_t kk = 0; kk < t->n_taps; kk++) {
        int64_t o = kidx[last] * g->d[last] - g->pb[last];
        int64_t lo = o >= 0 ? 0 : ceil_div(-o, s);
        int64_t hi = tlen - o <= 0 ? 0 : ceil_div(tlen - o, s);
        if (hi > t->len)
            hi = t->len;
        if (lo > hi)
            lo = hi;
        t->lo[kk] = lo;
        t->hi[kk] = hi;
        t->off[kk] = o;
        memset(pidx, 0, n * sizeof(int64_t));
        for (int64_t r = 0; r < t->n_rows; r++) {
            int64_t pos = 0;
            bool inside = true;
            for (size_t i = 0; i < last; i++) {
                int64_t q = pidx[i] * g->s[i] + kidx[i] * g->d[i] - g->pb[i];
                if (q < 0 || q >= target[i])
                    inside = false;
                pos = pos * target[i] + q;
            }
            t->row[kk * t->n_rows + r] = inside ? pos * tlen : -1;
            odo_next(pidx, iter, last);
        }
        odo_next(kidx, g->k, n);
    }
    free(kidx);
    free(pidx);
    return true;
}

/* ------------------------------------------------------------------ Conv */

/* Scratch budget of the im2col / col2im column blocks, in floats (16 MiB): large
 * images are processed a block of rows at a time. */
#define COL_BUDGET (4 << 20)

/* Rows of the iteration space per column block, for columns of `depth` values. */
static int64_t col_block_rows(const taps *t, int64_t depth)
{
    int64_t per_row = depth * t->len;
    int64_t rows = per_row > 0 ? COL_BUDGET / per_row : t->n_rows;
    return rows < 1 ? 1 : rows > t->n_rows ? t->n_rows : rows;
}

/* The columns of one input channel for iteration rows [r0, r1): col[tap][p] =
 * x[target(p)] or 0, a block of n_taps x (r1 - r0) * len. */
static void im2col_f32(const taps *t, const float *x, float *col, int64_t r0, int64_t r1)
{
    int64_t width = (r1 - r0) * t->len;
    for (int64_t kk = 0; kk < t->n_taps; kk++) {
        int64_t lo = t->lo[kk], hi = t->hi[kk], off = t->off[kk], s = t->stride;
        for (int64_t r = r0; r < r1; r++) {
            float *dst = col + kk * width + (r - r0) * t->len;
            int64_t ro = t->row[kk * t->n_rows + r];
            if (ro < 0) {
                memset(dst, 0, (size_t)t->len * sizeof(float));
                continue;
            }
            const float *src = x + ro;
            for (int64_t p = 0; p < lo; p++)
                dst[p] = 0.0f;
            if (s == 1 && hi > lo)
                memcpy(dst + lo, src + lo + off, (size_t)(hi - lo) * sizeof(float));
            else
                for (int64_t p = lo; p < hi; p++)
                    dst[p] = src[p * s + off];
            for (int64_t p = hi; p < t->len; p++)
                dst[p] = 0.0f;
        }
    }
}

/* The sizes of a Conv or ConvTranspose computation. */
typedef struct conv_dims {
    int64_t batch, c_in, c_out, group;
    int64_t in_size, out_size;   /* spatial element counts */
} conv_dims;

/* y[0:n] += a * x[0:n]. In blocks of a constant length: gcc -O2 vectorises only loops
 * whose trip count it knows to be a multiple of the vector length. */
static void axpy_f32(float *restrict y, const float *restrict x, float a, int64_t n)
{
    int64_t p = 0;
    for (; p + 8 <= n; p += 8)
        for (int j = 0; j < 8; j++)
            y[p + j] += a * x[p + j];
    for (; p < n; p++)
        y[p] += a * x[p];
}

static void axpy_f64(double *restrict y, const double *restrict x, double a, int64_t n)
{
    int64_t p = 0;
    for (; p + 4 <= n; p += 4)
        for (int j = 0; j < 4; j++)
            y[p + j] += a * x[p + j];
    for (; p < n; p++)
        y[p] += a * x[p];
}

/* Conv by direct accumulation: y[m] = b[m] + sum over its group's channels and taps.
 * Used for one input channel per group (depthwise) in float, and for double. */
#define DEFINE_CONV_DIRECT(T, NAME, AXPY)                                                    \
    static void NAME(const taps *t, const conv_dims *cd, const T *x, const T *w, const T *b, \
                     T *y)                                                                   \
    {                                                                                        \
        int64_t cg = cd->c_in / cd->group, mg = cd->c_out / cd->group, nt = t->n_taps;       \
        for (int64_t n = 0; n < cd->batch; n++)                                              \
            for (int64_t m = 0; m < cd->c_out; m++) {                                        \
                T *yp = y + (n * cd->c_out + m) * t->size;                                   \
                T bias = b ? b[m] : (T)0;                                                    \
                for (int64_t i = 0; i < t->size; i++)                                        \
                    yp[i] = bias;                                                            \
                for (int64_t c = 0; c < cg; c++) {                                           \
                    const T *xp = x + (n * cd->c_in + (m / mg) * cg + c) * cd->in_size;      \
                    const T *wp = w + (m * cg + c) * nt;                                     \
                    for (int64_t kk = 0; kk < nt; kk++) {                                    \
                        T wk = wp[kk];                                                       \
                        int64_t lo = t->lo[kk], hi = t->hi[kk], off = t->off[kk];            \
                        int64_t s = t->stride;                                               \
                        for (int64_t r = 0; r < t->n_rows; r++) {                            \
                            int64_t ro = t->row[kk * t->n_rows + r];                         \
                            if (ro < 0)                                                      \
                                continue;                                                    \
                            T *yr = yp + r * t->len;                                         \
                            const T *xr = xp + ro;                                           \
                            if (s == 1 && hi > lo)                                           \
                                AXPY(yr + lo, xr + lo + off, wk, hi - lo);                   \
                            else                                                             \
                                for (int64_t p = lo; p < hi; p++)                            \
                                    yr[p] += wk * xr[p * s + off];                           \
                        }                                                                    \
                    }                                                                        \
                }                                                                            \
            }                                                                                \
    }

DEFINE_CONV_DIRECT(float, conv_direct_f32, axpy_f32)
DEFINE_CONV_DIRECT(double, conv_direct_f64, axpy_f64)

/* Conv through im2col: per image, group and block of output rows,
 * Y_g[Mg, block] = W_g[Mg, Cg*K] x col[Cg*K, block]. */
static bool conv_gemm_f32(const taps *t, const geom *g, const conv_dims *cd, const float *x,
                          const float *w, const float *b, float *y)
{
    int64_t cg = cd->c_in / cd->group, mg = cd->c_out / cd->group;
    int64_t kdim = cg * t->n_taps, p = t->size;
    /* A 1x1 kernel with stride 1 and no padding reads the input as it is. */
    bool pointwise = true;
    for (size_t i = 0; i < g->n; i++)
        if (g->k[i] != 1 || g->s[i] != 1 || g->pb[i] || g->pe[i])
            pointwise = false;
    int64_t rows = pointwise ? t->n_rows : col_block_rows(t, kdim);
    float *col = NULL;
    if (!pointwise && !(col = mof_malloc((size_t)(kdim * rows * t->len) * sizeof(float))))
        return false;
    for (int64_t n = 0; n < cd->batch; n++)
        for (int64_t gr = 0; gr < cd->group; gr++) {
            const float *xg = x + (n * cd->c_in + gr * cg) * cd->in_size;
            float *yg = y + (n * cd->c_out + gr * mg) * p;
            if (b)
                for (int64_t m = 0; m < mg; m++)
                    for (int64_t i = 0; i < p; i++)
                        yg[m * p + i] = b[gr * mg + m];
            for (int64_t r0 = 0; r0 < t->n_rows; r0 += rows) {
                int64_t r1 = r0 + rows < t->n_rows ? r0 + rows : t->n_rows;
                int64_t width = (r1 - r0) * t->len;
                if (!pointwise)
                    for (int64_t c = 0; c < cg; c++)
                        im2col_f32(t, xg + c * cd->in_size, col + c * t->n_taps * width, r0,
                                   r1);
                mof_sgemm(false, false, mg, width, kdim, 1.0f, w + gr * mg * kdim, kdim,
                          pointwise ? xg : col, pointwise ? p : width, b ? 1.0f : 0.0f,
                          yg + r0 * t->len, p);
            }
        }
    free(col);
    return true;
}

/* Checks X, W, B of Conv / ConvTranspose and fills cd (except sizes). */
static mof_status conv_check(mof_kernel_ctx *kc, bool transpose, size_t n_in,
                             mof_tensor *const *in, conv_dims *cd)
{
    where w = {.kc = kc};
    const mof_tensor *x = in[0], *wt = in[1], *b = n_in > 2 ? in[2] : NULL;
    if (!mof_dtype_is_float(x->dtype))
        return bad_dtype(kc, "input X", x->dtype);
    if (wt->dtype != x->dtype || (b && b->dtype != x->dtype))
        return fail(&w, "X, W and B must have one type (X is %s, W %s%s%s)",
                    mof_dtype_name(x->dtype), mof_dtype_name(wt->dtype), b ? ", B " : "",
                    b ? mof_dtype_name(b->dtype) : "");
    if (x->rank < 3)
        return fail(&w, "input X has rank %zu; expected N x C x at least one spatial axis",
                    x->rank);
    if (wt->rank != x->rank)
        return fail(&w, "input W has rank %zu, X has rank %zu", wt->rank, x->rank);
    int64_t group = mof_node_attr_int(kc->node, "group", 1);
    if (group < 1)
        return fail(&w, "attribute 'group' is %" PRId64 "; expected at least 1", group);
    cd->batch = x->dims[0];
    cd->c_in = x->dims[1];
    cd->group = group;
    if (!transpose) {
        cd->c_out = wt->dims[0];
        if (cd->c_in != wt->dims[1] * group)
            return fail(&w, "X has %" PRId64 " channels; W expects %" PRId64 " x group %" PRId64,
                        cd->c_in, wt->dims[1], group);
        if (cd->c_out % group)
            return fail(&w, "W has %" PRId64 " output channels, not a multiple of group %" PRId64,
                        cd->c_out, group);
    } else {
        cd->c_out = wt->dims[1] * group;
        if (cd->c_in != wt->dims[0])
            return fail(&w, "X has %" PRId64 " channels, W has %" PRId64, cd->c_in,
                        wt->dims[0]);
        if (cd->c_in % group)
            return fail(&w, "X has %" PRId64 " channels, not a multiple of group %" PRId64,
                        cd->c_in, group);
    }
    if (b && (b->rank != 1 || b->dims[0] != cd->c_out))
        return fail(&w, "input B must be 1-D with %" PRId64 " values", cd->c_out);
    return MOF_OK;
}

/* Conv and ConvTranspose: [N, M, spatial...]. */
static mof_status conv_infer_common(mof_infer_ctx *ic, bool transpose)
{
    where w = {.ic = ic};
    const mof_shape *x = mof_infer_input(ic, 0), *wt = mof_infer_input(ic, 1);
    const mof_shape *b = mof_infer_input(ic, 2);
    if (!x || ic->n_out < 1)
        return MOF_OK;
    mof_dtype dtype = x->dtype;
    int rank = x->rank >= 0 ? x->rank : wt ? wt->rank : -1;
    if (rank < 0)
        return mof_shape_set(&ic->out[0], dtype, -1, NULL, NULL);
    if (rank < 3)
        return fail(&w, "input X has rank %d; expected N x C x at least one spatial axis", rank);
    if (wt && wt->rank >= 0 && wt->rank != rank)
        return fail(&w, "input W has rank %d, X has rank %d", wt->rank, rank);
    size_t n = (size_t)rank - 2;
    int64_t group = mof_node_attr_int(ic->node, "group", 1);
    if (group < 1)
        return fail(&w, "attribute 'group' is %" PRId64 "; expected at least 1", group);
    int64_t *wk = mof_malloc(n * sizeof(int64_t));
    int64_t *xin = mof_malloc(n * sizeof(int64_t));
    geom g = {0};
    mof_status st = MOF_ERR_NOMEM;
    if (!wk || !xin)
        goto done;
    for (size_t i = 0; i < n; i++) {
        wk[i] = wt && shape_known(wt, i + 2) ? wt->dims[i + 2] : -1;
        xin[i] = shape_known(x, i + 2) ? x->dims[i + 2] : -1;
    }
    int64_t c_in = shape_known(x, 1) ? x->dims[1] : -1, c_out = -1;
    if (!transpose) {
        if (wt && shape_known(wt, 0))
            c_out = wt->dims[0];
        if (c_in >= 0 && wt && shape_known(wt, 1) && c_in != wt->dims[1] * group) {
            st = fail(&w, "X has %" PRId64 " channels; W expects %" PRId64 " x group %" PRId64,
                      c_in, wt->dims[1], group);
            goto done;
        }
    } else {
        if (wt && shape_known(wt, 1))
            c_out = wt->dims[1] * group;
        if (c_in >= 0 && wt && shape_known(wt, 0) && c_in != wt->dims[0]) {
            st = fail(&w, "X has %" PRId64 " channels, W has %" PRId64, c_in, wt->dims[0]);
            goto done;
        }
    }
    if (c_out < 0 && b && shape_known(b, 0))
        c_out = b->dims[0];
    if ((st = geom_parse(&w, transpose ? GEOM_CONV_TRANSPOSE : GEOM_CONV, n, wk, &g)) !=
            MOF_OK ||
        (st = geom_output(&w, &g, xin)) != MOF_OK)
        goto done;
    /* X's rank may have come from W: its dims are then all unknown. */
    st = geom_emit(&g, x, c_out, NULL, ic, 0, dtype);
done:
    free(wk);
    free(xin);
    geom_free(&g);
    return st;
}

static mof_status conv_infer(mof_infer_ctx *ic)
{
    return conv_infer_common(ic, false);
}

/* ------------------------------------------------------------------ ConvTranspose */

/* Adds one channel's columns for iteration (input) rows [r0, r1) into its output
 * plane: y[target(p)] += col[tap][p]. */
static void col2im_f32(const taps *t, const float *col, float *y, int64_t r0, int64_t r1)
{
    int64_t width = (r1 - r0) * t->len;
    for (int64_t kk = 0; kk < t->n_taps; kk++) {
        int64_t lo = t->lo[kk], hi = t->hi[kk], off = t->off[kk], s = t->stride;
        for (int64_t r = r0; r < r1; r++) {
            int64_t ro = t->row[kk * t->n_rows + r];
            if (ro < 0)
                continue;
            const float *src = col + kk * width + (r - r0) * t->len;
            float *dst = y + ro;
            if (s == 1 && hi > lo)
                axpy_f32(dst + lo + off, src + lo, 1.0f, hi - lo);
            else
                for (int64_t p = lo; p < hi; p++)
                    dst[p * s + off] += src[p];
        }
    }
}

/* ConvTranspose in float: per image, group and block of input rows,
 * col[Mg*K, block] = W_g^T x X_g[Cg, block], then col2im scatters the columns into the
 * output planes (prefilled with the bias). */
static bool convt_gemm_f32(const taps *t, const conv_dims *cd, const float *x, const float *w,
                           const float *b, float *y)
{
    int64_t cg = cd->c_in / cd->group, mg = cd->c_out / cd->group, nt = t->n_taps;
    int64_t p = cd->in_size, rows = col_block_rows(t, mg * nt);
    float *col = mof_malloc((size_t)(mg * nt * rows * t->len) * sizeof(float));
    if (!col)
        return false;
    for (int64_t n = 0; n < cd->batch; n++)
        for (int64_t gr = 0; gr < cd->group; gr++) {
            const float *xg = x + (n * cd->c_in + gr * cg) * p;
            const float *wg = w + gr * cg * mg * nt;
            for (int64_t m = 0; m < mg; m++) {
                float *yp = y + (n * cd->c_out + gr * mg + m) * cd->out_size;
                float bias = b ? b[gr * mg + m] : 0.0f;
                for (int64_t i = 0; i < cd->out_size; i++)
                    yp[i] = bias;
            }
            for (int64_t r0 = 0; r0 < t->n_rows; r0 += rows) {
                int64_t r1 = r0 + rows < t->n_rows ? r0 + rows : t->n_rows;
                int64_t width = (r1 - r0) * t->len;
                mof_sgemm(true, false, mg * nt, width, cg, 1.0f, wg, mg * nt, xg + r0 * t->len,
                          p, 0.0f, col, width);
                for (int64_t m = 0; m < mg; m++)
                    col2im_f32(t, col + m * nt * width,
                               y + (n * cd->c_out + gr * mg + m) * cd->out_size, r0, r1);
            }
        }
    free(col);
    return true;
}

/* ConvTranspose in double, by direct scatter. */
static void convt_direct_f64(const taps *t, const conv_dims *cd, const double *x,
                             const double *w, const double *b, double *y)
{
    int64_t cg = cd->c_in / cd->group, mg = cd->c_out / cd->group, nt = t->n_taps;
    for (int64_t n = 0; n < cd->batch; n++) {
        for (int64_t m = 0; m < cd->c_out; m++) {
            double *yp = y + (n * cd->c_out + m) * cd->out_size;
            for (int64_t i = 0; i < cd->out_size; i++)
                yp[i] = b ? b[m] : 0.0;
        }
        for (int64_t c = 0; c < cd->c_in; c++) {
            const double *xp = x + (n * cd->c_in + c) * cd->in_size;
            int64_t gr = c / cg;
            for (int64_t m = 0; m < mg; m++) {
                double *yp = y + (n * cd->c_out + gr * mg + m) * cd->out_size;
                const double *wp = w + (c * mg + m) * nt;
                for (int64_t kk = 0; kk < nt; kk++) {
                    int64_t lo = t->lo[kk], hi = t->hi[kk], off = t->off[kk], s = t->stride;
                    for (int64_t r = 0; r < t->n_rows; r++) {
                        int64_t ro = t->row[kk * t->n_rows + r];
                        if (ro < 0)
                            continue;
                        const double *xr = xp + r * t->len;
                        for (int64_t q = lo; q < hi; q++)
                            yp[ro + q * s + off] += wp[kk] * xr[q];
                    }
                }
            }
        }
    }
}

/* Conv, or (transpose) ConvTranspose: the geometry, then the product in double or
 * through float (see the file comment). */
static mof_status conv_common(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              mof_tensor **out, bool transpose)
{
    where w = {.kc = kc};
    conv_dims cd = {0};
    mof_status st = conv_check(kc, transpose, n_in, in, &cd);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *wt = in[1], *b = n_in > 2 ? in[2] : NULL;
    size_t n = x->rank - 2;
    geom g;
    taps t = {0};
    float *xo = NULL, *wo = NULL, *bo = NULL, *yo = NULL;
    int64_t *ydims = NULL;
    if ((st = geom_parse(&w, transpose ? GEOM_CONV_TRANSPOSE : GEOM_CONV, n, wt->dims + 2,
                         &g)) != MOF_OK ||
        (st = geom_output(&w, &g, x->dims + 2)) != MOF_OK)
        goto done;
    if (!(ydims = mof_malloc((n + 2) * sizeof(int64_t))))
        goto oom;
    ydims[0] = cd.batch;
    ydims[1] = cd.c_out;
    memcpy(ydims + 2, g.out, n * sizeof(int64_t));
    if ((st = new_output(kc, &out[0], x->dtype, n + 2, ydims)) != MOF_OK)
        goto done;
    if (out[0]->numel == 0)
        goto done;
    /* Conv iterates over output positions and gathers from the input; ConvTranspose
     * iterates over input positions and scatters into the output. */
    if (!(transpose ? taps_build(&t, &g, g.in, g.out) : taps_build(&t, &g, g.out, g.in)))
        goto oom;
    cd.in_size = prod(g.in, n);
    cd.out_size = prod(g.out, n);
    const void *bd = b ? b->data : NULL;
    if (x->dtype == MOF_DTYPE_DOUBLE && transpose) {
        convt_direct_f64(&t, &cd, x->data, wt->data, bd, out[0]->data);
    } else if (x->dtype == MOF_DTYPE_DOUBLE) {
        conv_direct_f64(&t, &cd, x->data, wt->data, bd, out[0]->data);
    } else {
        const float *xv = f32_view(x, &xo), *wv = f32_view(wt, &wo);
        const float *bv = b ? f32_view(b, &bo) : NULL;
        float *yv = f32_dest(out[0], &yo);
        if (!xv || !wv || (b && !bv) || !yv)
            goto oom;
        if (transpose) {
            if (!convt_gemm_f32(&t, &cd, xv, wv, bv, yv))
                goto oom;
        } else if (cd.c_in / cd.group == 1) {
            conv_direct_f32(&t, &cd, xv, wv, bv, yv);
        } else if (!conv_gemm_f32(&t, &g, &cd, xv, wv, bv, yv)) {
            goto oom;
        }
        f32_store(out[0], yv);
    }
    goto done;
oom:
    st = nomem(&w);
done:
    free(xo);
    free(wo);
    free(bo);
    free(yo);
    free(ydims);
    taps_free(&t);
    geom_free(&g);
    return st;
}

static mof_status conv_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                           mof_tensor **out)
{
    return conv_common(kc, n_in, in, out, false);
}

static mof_status convt_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            size_t n_out, mof_tensor **out)
{
    return conv_common(kc, n_in, in, out, true);
}

static mof_status convt_infer(mof_infer_ctx *ic)
{
    return conv_infer_common(ic, true);
}

/* ------------------------------------------------------------------ MatMul */

/* C[m, n] = sum A[m, k] B[k, n] for one matrix pair of a non-float type, row-major. */
static void matmul_plain(const mof_tensor *a, int64_t ao, const mof_tensor *b, int64_t bo,
                         mof_tensor *c, int64_t co, int64_t m, int64_t n, int64_t k)
{
    if (c->dtype == MOF_DTYPE_DOUBLE) {
        const double *ad = a->data, *bd = b->data;
        double *cd = c->data;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0.0;
                for (int64_t p = 0; p < k; p++)
                    s += ad[ao + i * k + p] * bd[bo + p * n + j];
                cd[co + i * n + j] = s;
            }
        return;
    }
    /* Integers wrap around like the hardware they model: unsigned 64-bit arithmetic. */
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            uint64_t s = 0;
            for (int64_t p = 0; p < k; p++)
                s += (uint64_t)mof_tensor_get_i64(a, ao + i * k + p) *
                     (uint64_t)mof_tensor_get_i64(b, bo + p * n + j);
            mof_tensor_set_i64(c, co + i * n + j, (int64_t)s);
        }
}

/* The MatMul shapes: 1-D operands are promoted (A to [1, K], B to [K, 1]) and the
 * promoted axis dropped from the result; batch dims broadcast. */
typedef struct mm_dims {
    int64_t m, n, k;
    size_t rb;               /* rank of the broadcast batch dims */
    int64_t *batch;          /* rb dims */
    int64_t *astr, *bstr;    /* per batch dim: matrix-index strides of A and B (0: broadcast) */
    size_t rout;
    int64_t *out;            /* result dims */
} mm_dims;

static void mm_free(mm_dims *d)
{
    free(d->batch);
    d->batch = NULL;
}

static mof_status mm_plan(const where *w, size_t ra, const int64_t *ad, size_t rb,
                          const int64_t *bd, mm_dims *d)
{
    memset(d, 0, sizeof(*d));
    if (ra < 1 || rb < 1)
        return fail(w, "MatMul operands must have rank 1 or more (got %zu and %zu)", ra, rb);
    d->m = ra == 1 ? 1 : ad[ra - 2];
    d->k = ad[ra - 1];
    int64_t kb = rb == 1 ? bd[0] : bd[rb - 2];
    d->n = rb == 1 ? 1 : bd[rb - 1];
    if (d->k != kb)
        return fail(w, "MatMul inner dims differ: A has %" PRId64 " columns, B %" PRId64 " rows",
                    d->k, kb);
    size_t ba = ra > 2 ? ra - 2 : 0, bb = rb > 2 ? rb - 2 : 0;
    d->rb = ba > bb ? ba : bb;
    size_t cap = 3 * d->rb + d->rb + 2;
    d->batch = mof_calloc(cap, sizeof(int64_t));
    if (!d->batch)
        return nomem(w);
    d->astr = d->batch + d->rb;
    d->bstr = d->astr + d->rb;
    d->out = d->bstr + d->rb;
    int64_t sa = 1, sb = 1;
    for (size_t i = d->rb; i-- > 0;) {
        size_t k = d->rb - 1 - i;
        int64_t da = k < ba ? ad[ba - 1 - k] : 1, db = k < bb ? bd[bb - 1 - k] : 1;
        if (da != db && da != 1 && db != 1) {
            mm_free(d);
            return fail(w, "MatMul batch dims %" PRId64 " and %" PRId64 " do not broadcast",
                        da, db);
        }
        d->batch[i] = da == 1 ? db : da;
        d->astr[i] = da == 1 ? 0 : sa;
        d->bstr[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    memcpy(d->out, d->batch, d->rb * sizeof(int64_t));
    d->rout = d->rb;
    if (ra > 1)
        d->out[d->rout++] = d->m;
    if (rb > 1)
        d->out[d->rout++] = d->n;
    return MOF_OK;
}

static mof_status matmul_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    where w = {.kc = kc};
    const mof_tensor *a = in[0], *b = in[1];
    if (!mof_dtype_is_float(a->dtype) && !mof_dtype_is_int(a->dtype))
        return bad_dtype(kc, "input A", a->dtype);
    if (b->dtype != a->dtype)
        return fail(&w, "A is %s but B is %s", mof_dtype_name(a->dtype),
                    mof_dtype_name(b->dtype));
    mm_dims d;
    mof_status st = mm_plan(&w, a->rank, a->dims, b->rank, b->dims, &d);
    if (st != MOF_OK)
        return st;
    float *ao = NULL, *bo = NULL, *co = NULL;
    int64_t *idx = NULL;
    if ((st = new_output(kc, &out[0], a->dtype, d.rout, d.out)) != MOF_OK)
        goto done;
    int64_t nb = prod(d.batch, d.rb), mk = d.m * d.k, kn = d.k * d.n, mn = d.m * d.n;
    if (out[0]->numel == 0)
        goto done;
    idx = mof_calloc(d.rb ? d.rb : 1, sizeof(int64_t));
    if (!idx)
        goto oom;
    bool fast = a->dtype == MOF_DTYPE_FLOAT || a->dtype == MOF_DTYPE_FLOAT16 ||
                a->dtype == MOF_DTYPE_BFLOAT16;
    const float *av = NULL, *bv = NULL;
    float *cv = NULL;
    if (fast) {
        av = f32_view(a, &ao);
        bv = f32_view(b, &bo);
        cv = f32_dest(out[0], &co);
        if (!av || !bv || !cv)
            goto oom;
        /* B shared by every batch: one product with the batches stacked as rows of A. */
        bool b_shared = true;
        for (size_t i = 0; i < d.rb; i++)
            if (d.bstr[i] || !d.astr[i])
                b_shared = d.batch[i] == 1 && b_shared;
        if (b_shared && nb > 1) {
            mof_sgemm(false, false, nb * d.m, d.n, d.k, 1.0f, av, d.k, bv, d.n, 0.0f, cv, d.n);
            nb = 0;
        }
    }
    for (int64_t q = 0; q < nb; q++) {
        int64_t ai = 0, bi = 0;
        for (size_t i = 0; i < d.rb; i++) {
            ai += idx[i] * d.astr[i];
            bi += idx[i] * d.bstr[i];
        }
        if (fast)
            mof_sgemm(false, false, d.m, d.n, d.k, 1.0f, av + ai * mk, d.k, bv + bi * kn, d.n,
                      0.0f, cv + q * mn, d.n);
        else
            matmul_plain(a, ai * mk, b, bi * kn, out[0], q * mn, d.m, d.n, d.k);
        odo_next(idx, d.batch, d.rb);
    }
    if (fast)
        f32_store(out[0], cv);
    goto done;
oom:
    st = nomem(&w);
done:
    free(ao);
    free(bo);
    free(co);
    free(idx);
    mm_free(&d);
    return st;
}

static mof_status matmul_infer(mof_infer_ctx *ic)
{
    where w = {.ic = ic};
    const mof_shape *a = mof_infer_input(ic, 0), *b = mof_infer_input(ic, 1);
    if (!a || !b || ic->n_out < 1)
        return MOF_OK;
    mof_dtype dtype = a->dtype != MOF_DTYPE_UNDEFINED ? a->dtype : b->dtype;
    if (a->rank < 0 || b->rank < 0)
        return mof_shape_set(&ic->out[0], dtype, -1, NULL, NULL);
    if (a->rank < 1 || b->rank < 1)
        return fail(&w, "MatMul operands must have rank 1 or more (got %d and %d)", a->rank,
                    b->rank);
    int ra = a->rank, rb = b->rank;
    int64_t ka = a->dims[ra - 1], kb = rb == 1 ? b->dims[0] : b->dims[rb - 2];
    if (ka >= 0 && kb >= 0 && ka != kb)
        return fail(&w, "MatMul inner dims differ: A has %" PRId64 " columns, B %" PRId64
                        " rows", ka, kb);
    /* The batch dims broadcast like elementwise operands. */
    mof_shape pa = *a, pb = *b, batch = {0};
    pa.rank = ra > 2 ? ra - 2 : 0;
    pb.rank = rb > 2 ? rb - 2 : 0;
    pa.value = pb.value = NULL;
    const mof_shape *ops[2] = {&pa, &pb};
    mof_status st = mof_shape_broadcast(ic, 2, ops, dtype, &batch);
    if (st != MOF_OK)
        return st;
    mof_dimvec v;
    int r = batch.rank + (ra > 1) + (rb > 1);
    if ((st = mof_dimvec_init(&v, r)) != MOF_OK) {
        mof_shape_clear(&batch);
        return st;
    }
    for (int i = 0; i < batch.rank; i++)
        mof_dimvec_take(&v, i, &batch, i);
    int k = batch.rank;
    if (ra > 1)
        mof_dimvec_take(&v, k++, a, ra - 2);
    if (rb > 1)
        mof_dimvec_take(&v, k, b, rb - 1);
    st = mof_dimvec_emit(ic, 0, dtype, &v); /* before the batch symbols go */
    mof_shape_clear(&batch);
    return st;
}

/* ------------------------------------------------------------------ Gemm */

static mof_status gemm_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    where w = {.kc = kc};
    const mof_tensor *a = in[0], *b = in[1], *c = n_in > 2 ? in[2] : NULL;
    const mof_node *node = kc->node;
    bool ta = mof_node_attr_int(node, "transA", 0) != 0;
    bool tb = mof_node_attr_int(node, "transB", 0) != 0;
    float alpha = mof_node_attr_float(node, "alpha", 1.0f);
    float beta = mof_node_attr_float(node, "beta", 1.0f);
    if (!mof_dtype_is_float(a->dtype) && !mof_dtype_is_int(a->dtype))
        return bad_dtype(kc, "input A", a->dtype);
    if (b->dtype != a->dtype || (c && c->dtype != a->dtype))
        return fail(&w, "A, B and C must have one type (A is %s, B %s%s%s)",
                    mof_dtype_name(a->dtype), mof_dtype_name(b->dtype), c ? ", C " : "",
                    c ? mof_dtype_name(c->dtype) : "");
    if (a->rank != 2 || b->rank != 2)
        return fail(&w, "A and B must be 2-D (got rank %zu and %zu)", a->rank, b->rank);
    int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
    int64_t kb = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
    if (k != kb)
        return fail(&w, "inner dims differ: op(A) is %" PRId64 " x %" PRId64 ", op(B) %" PRId64
                        " x %" PRId64, m, k, kb, n);
    int64_t dims[2] = {m, n}, cs[2] = {0, 0};
    if (c) {
        bool exact = c->rank == 2 && c->dims[0] == m && c->dims[1] == n;
        if (kc->opset < 7 && !mof_node_attr_int(node, "broadcast", 0) && !exact)
            return fail(&w, "C must be %" PRId64 " x %" PRId64 " when attribute 'broadcast' "
                            "is 0", m, n);
        if (!bcast_strides(c->rank, c->dims, 2, dims, cs))
            return fail(&w, "C (rank %zu) does not broadcast to %" PRId64 " x %" PRId64,
                        c->rank, m, n);
    }
    float *ao = NULL, *bo = NULL, *co = NULL, *yo = NULL;
    mof_status st = new_output(kc, &out[0], a->dtype, 2, dims);
    if (st != MOF_OK || out[0]->numel == 0)
        goto done;
    mof_tensor *y = out[0];
    if (a->dtype == MOF_DTYPE_DOUBLE || mof_dtype_is_int(a->dtype)) {
        /* Plain loops: the sum exact (double, or 64-bit integers), then the scaling as
         * ONNX writes it, alpha * (A B) + beta * C. */
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0.0;
                uint64_t si = 0;
                for (int64_t p = 0; p < k; p++) {
                    int64_t ia = ta ? p * m + i : i * k + p, ib = tb ? j * k + p : p * n + j;
                    if (mof_dtype_is_int(a->dtype))
                        si += (uint64_t)mof_tensor_get_i64(a, ia) *
                              (uint64_t)mof_tensor_get_i64(b, ib);
                    else
                        s += ((const double *)a->data)[ia] * ((const double *)b->data)[ib];
                }
                int64_t ci = i * cs[0] + j * cs[1];
                if (mof_dtype_is_int(a->dtype) && alpha == 1.0f && (!c || beta == 1.0f)) {
                    /* Unscaled: exact, wrapping like the integer type. */
                    if (c)
                        si += (uint64_t)mof_tensor_get_i64(c, ci);
                    mof_tensor_set_i64(y, i * n + j, (int64_t)si);
                    continue;
                }
                if (mof_dtype_is_int(a->dtype))
                    s = (double)(int64_t)si;
                double v = (double)alpha * s;
                if (c)
                    v += (double)beta * mof_tensor_get_f64(c, ci);
                mof_tensor_set_f64(y, i * n + j, v);
            }
        goto done;
    }
    const float *av = f32_view(a, &ao), *bv = f32_view(b, &bo);
    const float *cv = c ? f32_view(c, &co) : NULL;
    float *yv = f32_dest(y, &yo);
    if (!av || !bv || (c && !cv) || !yv) {
        st = nomem(&w);
        goto done;
    }
    if (c)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++)
                yv[i * n + j] = beta * cv[i * cs[0] + j * cs[1]];
    mof_sgemm(ta, tb, m, n, k, alpha, av, a->dims[1], bv, b->dims[1], c ? 1.0f : 0.0f, yv, n);
    f32_store(y, yv);
done:
    free(ao);
    free(bo);
    free(co);
    free(yo);
    return st;
}

static mof_status gemm_infer(mof_infer_ctx *ic)
{
    where w = {.ic = ic};
    const mof_shape *a = mof_infer_input(ic, 0), *b = mof_infer_input(ic, 1);
    const mof_shape *c = mof_infer_input(ic, 2);
    if (!a || !b || ic->n_out < 1)
        return MOF_OK;
    mof_dtype dtype = a->dtype != MOF_DTYPE_UNDEFINED ? a->dtype : b->dtype;
    if ((a->rank >= 0 && a->rank != 2) || (b->rank >= 0 && b->rank != 2))
        return fail(&w, "A and B must be 2-D (got rank %d and %d)", a->rank, b->rank);
    bool ta = mof_node_attr_int(ic->node, "transA", 0) != 0;
    bool tb = mof_node_attr_int(ic->node, "transB", 0) != 0;
    mof_dimvec v;
    mof_status st = mof_dimvec_init(&v, 2);
    if (st != MOF_OK)
        return st;
    mof_dimvec_take(&v, 0, a, ta ? 1 : 0);
    mof_dimvec_take(&v, 1, b, tb ? 0 : 1);
    int64_t ka = a->rank == 2 ? a->dims[ta ? 0 : 1] : -1;
    int64_t kb = b->rank == 2 ? b->dims[tb ? 1 : 0] : -1;
    if (ka >= 0 && kb >= 0 && ka != kb) {
        mof_dimvec_free(&v);
        return fail(&w, "inner dims differ: %" PRId64 " and %" PRId64, ka, kb);
    }
    /* C only broadcasts into the result; a known C dim may tell a dim of the result. */
    if (c && c->rank >= 0) {
        if (c->rank > 2) {
            mof_dimvec_free(&v);
            return fail(&w, "C has rank %d; it must broadcast to a matrix", c->rank);
        }
        for (int i = 0; i < c->rank; i++) {
            int j = 2 - c->rank + i;
            int64_t cd = c->dims[i];
            if (cd > 1 && v.dims[j] >= 0 && v.dims[j] != cd) {
                mof_dimvec_free(&v);
                return fail(&w, "C dim %" PRId64 " does not broadcast to %" PRId64, cd,
                            v.dims[j]);
            }
            if (cd > 1 && v.dims[j] < 0) {
                v.dims[j] = cd;
                v.syms[j] = NULL;
            }
        }
    }
    return mof_dimvec_emit(ic, 0, dtype, &v);
}

/* ------------------------------------------------------------------ pools */

/* Per output position, how many window taps land in [lo_b, hi_b) along axis i. */
static void pool_axis_counts(const geom *g, size_t i, int64_t lo_b, int64_t hi_b, int64_t *cnt)
{
    for (int64_t o = 0; o < g->out[i]; o++) {
        int64_t c = 0;
        for (int64_t k = 0; k < g->k[i]; k++) {
            int64_t q = o * g->s[i] + k * g->d[i] - g->pb[i];
            c += q >= lo_b && q < hi_b;
        }
        cnt[o] = c;
    }
}

/* The divisor of each output position of AveragePool (one plane). */
static bool pool_divisors(const geom *g, bool include_pad, double *div)
{
    size_t n = g->n;
    int64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += g->out[i];
    int64_t *cnt = mof_calloc((size_t)total + 1, sizeof(int64_t));
    int64_t *idx = mof_calloc(n, sizeof(int64_t));
    if (!cnt || !idx) {
        free(cnt);
        free(idx);
        return false;
    }
    int64_t base = 0;
    for (size_t i = 0; i < n; i++) {
        /* With count_include_pad the explicit pads count, the ceil_mode overhang not. */
        pool_axis_counts(g, i, include_pad ? -g->pb[i] : 0,
                         include_pad ? g->in[i] + g->pe[i] : g->in[i], cnt + base);
        base += g->out[i];
    }
    int64_t size = prod(g->out, n);
    for (int64_t o = 0; o < size; o++) {
        double c = 1.0;
        base = 0;
        for (size_t i = 0; i < n; i++) {
            c *= (double)cnt[base + idx[i]];
            base += g->out[i];
        }
        div[o] = c;
        odo_next(idx, g->out, n);
    }
    free(cnt);
    free(idx);
    return true;
}

/* What a pool computes over each window. */
typedef enum pool_kind { POOL_MAX, POOL_AVG, POOL_LP } pool_kind;

/* The exponent of LpPool and GlobalLpPool: attribute p, a float in their first version,
 * an int from version 2. */
static double pool_p(const mof_node *node)
{
    if (mof_node_attr_type(node, "p") == MOF_ATTR_FLOAT)
        return mof_node_attr_float(node, "p", 2.0f);
    return (double)mof_node_attr_int(node, "p", 2);
}

/* |v|^p, exact for the usual p = 1 and 2. */
static double abs_pow(double v, double p)
{
    return p == 2.0 ? v * v : p == 1.0 ? fabs(v) : pow(fabs(v), p);
}

static mof_status pool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out, pool_kind kind)
{
    bool is_max = kind == POOL_MAX;
    where w = {.kc = kc};
    const mof_tensor *x = in[0];
    bool ints_ok = is_max && (x->dtype == MOF_DTYPE_INT8 || x->dtype == MOF_DTYPE_UINT8);
    if (!mof_dtype_is_float(x->dtype) && !ints_ok)
        return bad_dtype(kc, "input X", x->dtype);
    if (x->rank < 3)
        return fail(&w, "input X has rank %zu; expected N x C x at least one spatial axis",
                    x->rank);
    size_t n = x->rank - 2;
    geom g;
    taps t = {0};
    double *xo = NULL, *yv = NULL, *div = NULL;
    int64_t *iv = NULL, *ydims = NULL;
    mof_status st;
    if ((st = geom_parse(&w, GEOM_POOL, n, NULL, &g)) != MOF_OK ||
        (st = geom_output(&w, &g, x->dims + 2)) != MOF_OK)
        goto done;
    if (!(ydims = mof_malloc((n + 2) * sizeof(int64_t))))
        goto oom;
    ydims[0] = x->dims[0];
    ydims[1] = x->dims[1];
    memcpy(ydims + 2, g.out, n * sizeof(int64_t));
    bool want_idx = is_max && n_out > 1 && mof_node_output(kc->node, 1);
    if ((st = new_output(kc, &out[0], x->dtype, n + 2, ydims)) != MOF_OK ||
        (want_idx && (st = new_output(kc, &out[1], MOF_DTYPE_INT64, n + 2, ydims)) != MOF_OK))
        goto done;
    if (out[0]->numel == 0)
        goto done;
    if (!taps_build(&t, &g, g.out, g.in))
        goto oom;
    const double *xv = f64_view(x, &xo);
    yv = mof_malloc((size_t)out[0]->numel * sizeof(double));
    if (!xv || !yv)
        goto oom;
    int64_t planes = x->dims[0] * x->dims[1], in_size = prod(g.in, n), out_size = t.size;
    if (is_max) {
        iv = mof_malloc((size_t)out[0]->numel * sizeof(int64_t));
        if (!iv)
            goto oom;
        for (int64_t i = 0; i < out[0]->numel; i++) {
            yv[i] = -INFINITY;
            iv[i] = -1;
        }
    } else {
        div = kind == POOL_AVG ? mof_malloc((size_t)out_size * sizeof(double)) : NULL;
        if (kind == POOL_AVG &&
            (!div ||
             !pool_divisors(&g, mof_node_attr_int(kc->node, "count_include_pad", 0) != 0, div)))
            goto oom;
        memset(yv, 0, (size_t)out[0]->numel * sizeof(double));
    }
    /* LpPool: (sum of |x|^p over the window)^(1/p); padding adds nothing. */
    double lp = kind == POOL_LP ? pool_p(kc->node) : 1.0;
    for (int64_t pl = 0; pl < planes; pl++) {
        const double *xp = xv + pl * in_size;
        double *yp = yv + pl * out_size;
        int64_t *ip = iv ? iv + pl * out_size : NULL;
        /* Taps in kernel order, so that among equal maxima the first of the window wins. */
        for (int64_t kk = 0; kk < t.n_taps; kk++) {
            int64_t lo = t.lo[kk], hi = t.hi[kk], off = t.off[kk], s = t.stride;
            for (int64_t r = 0; r < t.n_rows; r++) {
                int64_t ro = t.row[kk * t.n_rows + r];
                if (ro < 0)
                    continue;
                double *yr = yp + r * t.len;
                if (is_max) {
                    int64_t *ir = ip + r * t.len;
                    for (int64_t p = lo; p < hi; p++) {
                        int64_t at = ro + p * s + off;
                        /* NaN never wins; an all -inf window gives its first. */
                        if (xp[at] > yr[p] || (ir[p] < 0 && !isnan(xp[at]))) {
                            yr[p] = xp[at];
                            ir[p] = at;
                        }
                    }
                } else if (kind == POOL_LP) {
                    for (int64_t p = lo; p < hi; p++)
                        yr[p] += abs_pow(xp[ro + p * s + off], lp);
                } else {
                    for (int64_t p = lo; p < hi; p++)
                        yr[p] += xp[ro + p * s + off];
                }
            }
        }
        for (int64_t o = 0; kind != POOL_MAX && o < out_size; o++)
            yp[o] = kind == POOL_AVG ? yp[o] / div[o] : pow(yp[o], 1.0 / lp);
    }
    f64_store(out[0], yv);
    if (want_idx) {
        /* Indices into the flattened input; storage_order 1 numbers each plane's
         * elements column-major. */
        bool colmajor = mof_node_attr_int(kc->node, "storage_order", 0) != 0;
        int64_t *dst = out[1]->data, *coord = ydims; /* n + 2 entries, free to reuse */
        for (int64_t i = 0; i < out[0]->numel; i++) {
            int64_t at = iv[i], pl = i / out_size;
            if (at >= 0 && colmajor) {
                /* Row-major position -> coordinates -> column-major position. */
                int64_t cm = 0, mul = 1, rest = at;
                for (size_t a = n; a-- > 0;) {
                    coord[a] = rest % g.in[a];
                    rest /= g.in[a];
                }
                for (size_t a = 0; a < n; a++) {
                    cm += coord[a] * mul;
                    mul *= g.in[a];
                }
                at = cm;
            }
            dst[i] = at < 0 ? -1 : pl * in_size + at;
        }
    }
    goto done;
oom:
    st = nomem(&w);
done:
    free(xo);
    free(yv);
    free(iv);
    free(div);
    free(ydims);
    taps_free(&t);
    geom_free(&g);
    return st;
}

static mof_status maxpool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              size_t n_out, mof_tensor **out)
{
    return pool_run(kc, n_in, in, n_out, out, POOL_MAX);
}

static mof_status avgpool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              size_t n_out, mof_tensor **out)
{
    return pool_run(kc, n_in, in, n_out, out, POOL_AVG);
}

static mof_status lppool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    return pool_run(kc, n_in, in, n_out, out, POOL_LP);
}

static mof_status pool_infer(mof_infer_ctx *ic)
{
    where w = {.ic = ic};
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x || ic->n_out < 1)
        return MOF_OK;
    mof_status st = MOF_OK;
    bool want_idx = ic->n_out > 1 && mof_node_output(ic->node, 1);
    if (x->rank < 0) {
        st = mof_shape_set(&ic->out[0], x->dtype, -1, NULL, NULL);
        if (st == MOF_OK && want_idx)
            st = mof_shape_set(&ic->out[1], MOF_DTYPE_INT64, -1, NULL, NULL);
        return st;
    }
    if (x->rank < 3)
        return fail(&w, "input X has rank %d; expected N x C x at least one spatial axis",
                    x->rank);
    size_t n = (size_t)x->rank - 2;
    geom g;
    int64_t *xin = mof_malloc(n * sizeof(int64_t));
    if (!xin)
        return MOF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++)
        xin[i] = x->dims[i + 2];
    if ((st = geom_parse(&w, GEOM_POOL, n, NULL, &g)) == MOF_OK &&
        (st = geom_output(&w, &g, xin)) == MOF_OK) {
        const char *csym = x->syms ? x->syms[1] : NULL;
        st = geom_emit(&g, x, x->dims[1], csym, ic, 0, x->dtype);
        if (st == MOF_OK && want_idx)
            st = geom_emit(&g, x, x->dims[1], csym, ic, 1, MOF_DTYPE_INT64);
    }
    geom_free(&g);
    free(xin);
    return st;
}

/* GlobalAveragePool / GlobalMaxPool / GlobalLpPool: [N, C, 1, ...]. */
static mof_status global_pool_run(mof_kernel_ctx *kc, mof_tensor *const *in, mof_tensor **out,
                                  pool_kind kind)
{
    where w = {.kc = kc};
    const mof_tensor *x = in[0];
    if (!mof_dtype_is_float(x->dtype))
        return bad_dtype(kc, "input X", x->dtype);
    if (x->rank < 2)
        return fail(&w, "input X has rank %zu; expected N x C x spatial axes", x->rank);
    int64_t *dims = mof_malloc(x->rank * sizeof(int64_t));
    double *xo = NULL, *yv = NULL;
    mof_status st = MOF_OK;
    if (!dims)
        return nomem(&w);
    dims[0] = x->dims[0];
    dims[1] = x->dims[1];
    for (size_t i = 2; i < x->rank; i++)
        dims[i] = 1;
    if ((st = new_output(kc, &out[0], x->dtype, x->rank, dims)) != MOF_OK)
        goto done;
    int64_t planes = x->dims[0] * x->dims[1], size = prod(x->dims + 2, x->rank - 2);
    const double *xv = f64_view(x, &xo);
    yv = mof_malloc((size_t)(planes ? planes : 1) * sizeof(double));
    if (!xv || !yv) {
        st = nomem(&w);
        goto done;
    }
    double lp = kind == POOL_LP ? pool_p(kc->node) : 1.0;
    for (int64_t p = 0; p < planes; p++) {
        const double *xp = xv + p * size;
        double acc = kind == POOL_MAX ? -INFINITY : 0.0;
        for (int64_t i = 0; i < size; i++) {
            if (kind == POOL_MAX)
                acc = xp[i] > acc || isnan(xp[i]) ? xp[i] : acc;
            else
                acc += kind == POOL_LP ? abs_pow(xp[i], lp) : xp[i];
        }
        yv[p] = kind == POOL_MAX ? acc : kind == POOL_AVG ? acc / (double)size
                                                          : pow(acc, 1.0 / lp);
    }
    f64_store(out[0], yv);
done:
    free(dims);
    free(xo);
    free(yv);
    return st;
}

static mof_status global_avgpool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                     size_t n_out, mof_tensor **out)
{
    return global_pool_run(kc, in, out, POOL_AVG);
}

static mof_status global_maxpool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                     size_t n_out, mof_tensor **out)
{
    return global_pool_run(kc, in, out, POOL_MAX);
}

static mof_status global_lppool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                    size_t n_out, mof_tensor **out)
{
    return global_pool_run(kc, in, out, POOL_LP);
}

static mof_status global_pool_infer(mof_infer_ctx *ic)
{
    where w = {.ic = ic};
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x || ic->n_out < 1)
        return MOF_OK;
    if (x->rank < 0)
        return mof_shape_set(&ic->out[0], x->dtype, -1, NULL, NULL);
    if (x->rank < 2)
        return fail(&w, "input X has rank %d; expected N x C x spatial axes", x->rank);
    mof_dimvec v;
    mof_status st = mof_dimvec_init(&v, x->rank);
    if (st != MOF_OK)
        return st;
    mof_dimvec_take(&v, 0, x, 0);
    mof_dimvec_take(&v, 1, x, 1);
    for (int i = 2; i < x->rank; i++)
        v.dims[i] = 1;
    return mof_dimvec_emit(ic, 0, x->dtype, &v);
}

/* ------------------------------------------------------------------ normalizations */

/* ------------------------------------------------------------------ normalizations */

/* BatchNormalization. Inference: Y = (X - mean) / sqrt(var + epsilon) * scale + B with
 * per-channel parameters (or, before opset 9 with spatial = 0, per-activation ones of
 * shape C x D1 x ...). Training (opset 14+: training_mode = 1; before: when an optional
 * statistics output is asked for, is_test being ignored as by other runtimes)
 * normalizes with the batch statistics (the biased variance) and outputs the running
 * statistics stat * momentum + batch_stat * (1 - momentum); opsets before 14 also
 * output the batch statistics themselves as saved_mean and saved_var. In inference
 * mode, running statistics asked for are the given ones. */
static mof_status bn_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    static const char *const names[5] = {"X", "scale", "B", "input_mean", "input_var"};
    where w = {.kc = kc};
    const mof_node *node = kc->node;
    const mof_tensor *x = in[0];
    if (n_in < 5)
        return fail(&w, "BatchNormalization takes 5 inputs, the node has %zu", n_in);
    for (int i = 0; i < 5; i++)
        if (!in[i] || !mof_dtype_is_float(in[i]->dtype))
            return in[i] ? bad_dtype(kc, names[i], in[i]->dtype)
                         : fail(&w, "input '%s' is missing", names[i]);
    if (x->rank < 2)
        return fail(&w, "input X has rank %zu; expected N x C x ...", x->rank);
    int64_t nb = x->dims[0], c = x->dims[1], inner = prod(x->dims + 2, x->rank - 2);
    int64_t np = in[1]->numel;
    for (int i = 1; i < 5; i++)
        if (in[i]->numel != np || (np != c && np != c * inner))
            return fail(&w, "input '%s' has %" PRId64 " values; expected %" PRId64
                            " (one per channel)", names[i], in[i]->numel, c);
    double eps = mof_node_attr_float(node, "epsilon", 1e-5f);
    double mom = mof_node_attr_float(node, "momentum", 0.9f);
    bool training = false;
    if (kc->opset >= 14)
        training = mof_node_attr_int(node, "training_mode", 0) != 0;
    else
        for (size_t i = 1; i < n_out; i++)
            training = training || mof_node_output(node, i);

    double *owned[5] = {0}, *yv = NULL, *bmean = NULL, *stats = NULL;
    const double *v[5];
    mof_status st = new_output(kc, &out[0], x->dtype, x->rank, x->dims);
    if (st != MOF_OK)
        return st;
    for (int i = 0; i < 5; i++)
        if (!(v[i] = f64_view(in[i], &owned[i])))
            goto oom;
    yv = mof_malloc((size_t)x->numel * sizeof(double));
    bmean = mof_calloc((size_t)(2 * np), sizeof(double));
    stats = mof_malloc((size_t)np * sizeof(double));
    if (!yv || !bmean || !stats)
        goto oom;
    double *bvar = bmean + np;
    const double *xv = v[0], *scale = v[1], *bias = v[2], *mean = v[3], *var = v[4];
    /* The parameter of element (b, ch, i): per channel, or per activation. */
#define BN_PARAM(ch, i) (np == c ? (ch) : (ch) * inner + (i))
    if (training) {
        double count = (double)(np == c ? nb * inner : nb);
        for (int64_t b = 0; b < nb; b++)
            for (int64_t ch = 0; ch < c; ch++)
                for (int64_t i = 0; i < inner; i++)
                    bmean[BN_PARAM(ch, i)] += xv[(b * c + ch) * inner + i];
        for (int64_t p = 0; p < np; p++)
            bmean[p] /= count;
        for (int64_t b = 0; b < nb; b++)
            for (int64_t ch = 0; ch < c; ch++)
                for (int64_t i = 0; i < inner; i++) {
                    double dv = xv[(b * c + ch) * inner + i] - bmean[BN_PARAM(ch, i)];
                    bvar[BN_PARAM(ch, i)] += dv * dv;
                }
        for (int64_t p = 0; p < np; p++)
            bvar[p] /= count;
        mean = bmean;
        var = bvar;
    }
    for (int64_t p = 0; p < np; p++)
        stats[p] = scale[p] / sqrt(var[p] + eps);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t i = 0; i < inner; i++) {
                int64_t p = BN_PARAM(ch, i), e = (b * c + ch) * inner + i;
                yv[e] = (xv[e] - mean[p]) * stats[p] + bias[p];
            }
#undef BN_PARAM
    f64_store(out[0], yv);
    /* Outputs 1.. : running mean and variance, then (before opset 14) the batch ones. */
    for (size_t o = 1; o < n_out && o < 5; o++) {
        if (!mof_node_output(node, o))
            continue;
        const mof_tensor *like = in[o == 1 || o == 3 ? 3 : 4];
        const double *given = o == 1 || o == 3 ? v[3] : v[4];
        const double *batch = o == 1 || o == 3 ? bmean : bvar;
        if ((st = new_output(kc, &out[o], like->dtype, like->rank, like->dims)) != MOF_OK)
            goto done;
        for (int64_t p = 0; p < np; p++) {
            if (o >= 3)
                stats[p] = batch[p];
            else if (training)
                stats[p] = given[p] * mom + batch[p] * (1.0 - mom);
            else
                stats[p] = given[p];
        }
        f64_store(out[o], stats);
    }
    goto done;
oom:
    st = nomem(&w);
done:
    for (int i = 0; i < 5; i++)
        free(owned[i]);
    free(yv);
    free(bmean);
    free(stats);
    return st;
}

static mof_status bn_infer(mof_infer_ctx *ic)
{
    mof_status st = mof_infer_same(ic);
    for (size_t o = 1; st == MOF_OK && o < ic->n_out && o < 5; o++) {
        const mof_shape *like = mof_infer_input(ic, o == 1 || o == 3 ? 3 : 4);
        if (like)
            st = mof_shape_set(&ic->out[o], like->dtype, like->rank, like->dims, like->syms);
    }
    return st;
}

/* The mean and (biased) variance of n values x[0], x[stride], ... */
static void mean_var(const double *x, int64_t n, int64_t stride, double *mean, double *var)
{
    double m = 0.0, v = 0.0;
    for (int64_t i = 0; i < n; i++)
        m += x[i * stride];
    m /= (double)n;
    for (int64_t i = 0; i < n; i++)
        v += (x[i * stride] - m) * (x[i * stride] - m);
    *mean = m;
    *var = v / (double)n;
}

/* InstanceNormalization: each (image, channel) plane normalized by its own mean and
 * (biased) variance, then scaled and shifted per channel. */
static mof_status in_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    where w = {.kc = kc};
    const mof_tensor *x = in[0];
    if (n_in < 3 || !in[1] || !in[2])
        return fail(&w, "InstanceNormalization takes inputs X, scale and B");
    for (int i = 0; i < 3; i++)
        if (!mof_dtype_is_float(in[i]->dtype))
            return bad_dtype(kc, i == 0 ? "input X" : i == 1 ? "scale" : "B", in[i]->dtype);
    if (x->rank < 2)
        return fail(&w, "input X has rank %zu; expected N x C x ...", x->rank);
    int64_t nb = x->dims[0], c = x->dims[1], inner = prod(x->dims + 2, x->rank - 2);
    if (in[1]->numel != c || in[2]->numel != c)
        return fail(&w, "scale and B must have %" PRId64 " values (one per channel)", c);
    double eps = mof_node_attr_float(kc->node, "epsilon", 1e-5f);
    double *xo = NULL, *so = NULL, *bo = NULL, *yv = NULL;
    mof_status st = new_output(kc, &out[0], x->dtype, x->rank, x->dims);
    if (st != MOF_OK)
        return st;
    const double *xv = f64_view(x, &xo), *sv = f64_view(in[1], &so), *bv = f64_view(in[2], &bo);
    yv = mof_malloc((size_t)x->numel * sizeof(double));
    if (!xv || !sv || !bv || !yv) {
        st = nomem(&w);
        goto done;
    }
    for (int64_t pl = 0; pl < nb * c; pl++) {
        const double *xp = xv + pl * inner;
        double *yp = yv + pl * inner;
        double mean, var;
        mean_var(xp, inner, 1, &mean, &var);
        double k = sv[pl % c] / sqrt(var + eps);
        for (int64_t i = 0; i < inner; i++)
            yp[i] = (xp[i] - mean) * k + bv[pl % c];
    }
    f64_store(out[0], yv);
done:
    free(xo);
    free(so);
    free(bo);
    free(yv);
    return st;
}

/* Expands a tensor broadcast unidirectionally to dims (rank r) into doubles; NULL when
 * out of memory. The shapes are checked by the caller. */
static double *expand_f64(const mof_tensor *t, size_t r, const int64_t *dims,
                          const int64_t *str)
{
    int64_t total = prod(dims, r);
    double *dst = mof_malloc((size_t)total * sizeof(double));
    int64_t *idx = mof_calloc(r ? r : 1, sizeof(int64_t));
    if (!dst || !idx) {
        free(dst);
        free(idx);
        return NULL;
    }
    for (int64_t e = 0; e < total; e++) {
        int64_t at = 0;
        for (size_t i = 0; i < r; i++)
            at += idx[i] * str[i];
        dst[e] = mof_tensor_get_f64(t, at);
        odo_next(idx, dims, r);
    }
    free(idx);
    return dst;
}

/* LayerNormalization (opset 17): each row of the axes from `axis` on is normalized by
 * its mean and (biased) variance, computed in double (at least the precision of
 * stash_type), then scaled and shifted by Scale and B broadcast to X. Mean and
 * InvStdDev have X's shape with the normalized axes set to 1, and type stash_type. */
static mof_status ln_axis(const where *w, int rank, int64_t *axis)
{
    int64_t a = mof_node_attr_int(where_node(w), "axis", -1);
    if (a < -rank || a >= rank)
        return fail(w, "attribute 'axis' is %" PRId64 "; expected it in [%d, %d]", a, -rank,
                    rank - 1);
    *axis = a < 0 ? a + rank : a;
    return MOF_OK;
}

static mof_status ln_stash(const where *w, mof_dtype *dtype)
{
    int64_t s = mof_node_attr_int(where_node(w), "stash_type", MOF_DTYPE_FLOAT);
    if (s != MOF_DTYPE_FLOAT && s != MOF_DTYPE_DOUBLE && s != MOF_DTYPE_FLOAT16 &&
        s != MOF_DTYPE_BFLOAT16)
        return fail(w, "attribute 'stash_type' is %" PRId64 "; expected a floating-point type",
                    s);
    *dtype = (mof_dtype)s;
    return MOF_OK;
}

static mof_status ln_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    where w = {.kc = kc};
    const mof_tensor *x = in[0], *scale = n_in > 1 ? in[1] : NULL, *b = n_in > 2 ? in[2] : NULL;
    if (!scale)
        return fail(&w, "input Scale is missing");
    if (!mof_dtype_is_float(x->dtype))
        return bad_dtype(kc, "input X", x->dtype);
    if (!mof_dtype_is_float(scale->dtype) || (b && !mof_dtype_is_float(b->dtype)))
        return bad_dtype(kc, "Scale or B",
                         !mof_dtype_is_float(scale->dtype) ? scale->dtype : b->dtype);
    if (x->rank < 1)
        return fail(&w, "input X must have rank 1 or more");
    int64_t axis;
    mof_dtype stash;
    mof_status st;
    if ((st = ln_axis(&w, (int)x->rank, &axis)) != MOF_OK || (st = ln_stash(&w, &stash)))
        return st;
    double eps = mof_node_attr_float(kc->node, "epsilon", 1e-5f);
    size_t r = x->rank;
    int64_t outer = prod(x->dims, (size_t)axis), inner = prod(x->dims + axis, r - (size_t)axis);
    int64_t *str = mof_calloc(2 * r + 1, sizeof(int64_t)), *sdims = str + r;
    double *xo = NULL, *sv = NULL, *bv = NULL, *yv = NULL, *mv = NULL;
    if (!str)
        return nomem(&w);
    if (!bcast_strides(scale->rank, scale->dims, r, x->dims, str)) {
        st = fail(&w, "Scale (rank %zu) does not broadcast to X", scale->rank);
        goto done;
    }
    if (!(sv = expand_f64(scale, r, x->dims, str)))
        goto oom;
    if (b) {
        if (!bcast_strides(b->rank, b->dims, r, x->dims, str)) {
            st = fail(&w, "B (rank %zu) does not broadcast to X", b->rank);
            goto done;
        }
        if (!(bv = expand_f64(b, r, x->dims, str)))
            goto oom;
    }
    for (size_t i = 0; i < r; i++)
        sdims[i] = i < (size_t)axis ? x->dims[i] : 1;
    if ((st = new_output(kc, &out[0], x->dtype, r, x->dims)) != MOF_OK)
        goto done;
    for (size_t o = 1; o < n_out && o < 3; o++)
        if (mof_node_output(kc->node, o) &&
            (st = new_output(kc, &out[o], stash, r, sdims)) != MOF_OK)
            goto done;
    const double *xv = f64_view(x, &xo);
    yv = mof_malloc((size_t)x->numel * sizeof(double));
    mv = mof_malloc((size_t)(2 * outer) * sizeof(double));
    if (!xv || !yv || !mv)
        goto oom;
    for (int64_t q = 0; q < outer; q++) {
        const double *xp = xv + q * inner;
        double mean, var;
        mean_var(xp, inner, 1, &mean, &var);
        double inv = 1.0 / sqrt(var + eps);
        mv[q] = mean;
        mv[outer + q] = inv;
        for (int64_t i = 0; i < inner; i++) {
            int64_t e = q * inner + i;
            yv[e] = (xp[i] - mean) * inv * sv[e] + (bv ? bv[e] : 0.0);
        }
    }
    f64_store(out[0], yv);
    for (size_t o = 1; o < n_out && o < 3; o++)
        if (out[o])
            f64_store(out[o], mv + (o - 1) * outer);
    goto done;
oom:
    st = nomem(&w);
done:
    free(str);
    free(xo);
    free(sv);
    free(bv);
    free(yv);
    free(mv);
    return st;
}

static mof_status ln_infer(mof_infer_ctx *ic)
{
    where w = {.ic = ic};
    const mof_shape *x = mof_infer_input(ic, 0);
    mof_dtype stash;
    mof_status st = ln_stash(&w, &stash);
    if (st != MOF_OK || !x)
        return st;
    if ((st = mof_infer_same(ic)) != MOF_OK || ic->n_out < 2)
        return st;
    int64_t axis = 0;
    if (x->rank >= 0 && (st = ln_axis(&w, x->rank, &axis)) != MOF_OK)
        return st;
    for (size_t o = 1; o < ic->n_out && o < 3; o++) {
        if (x->rank < 0) {
            st = mof_shape_set(&ic->out[o], stash, -1, NULL, NULL);
        } else {
            mof_dimvec v;
            if ((st = mof_dimvec_init(&v, x->rank)) != MOF_OK)
                return st;
            for (int i = 0; i < x->rank; i++) {
                if (i < axis)
                    mof_dimvec_take(&v, i, x, i);
                else
                    v.dims[i] = 1;
            }
            st = mof_dimvec_emit(ic, o, stash, &v);
        }
        if (st != MOF_OK)
            return st;
    }
    return MOF_OK;
}

/* LRN: across channels, y = x / (bias + alpha / size * sum of x^2 over the window)^beta,
 * the window spanning channels c - floor((size-1)/2) .. c + ceil((size-1)/2). */
static mof_status lrn_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                          size_t n_out, mof_tensor **out)
{
    where w = {.kc = kc};
    const mof_tensor *x = in[0];
    const mof_node *node = kc->node;
    if (!mof_dtype_is_float(x->dtype))
        return bad_dtype(kc, "input X", x->dtype);
    if (x->rank < 2)
        return fail(&w, "input X has rank %zu; expected N x C x ...", x->rank);
    int64_t size = mof_node_attr_int(node, "size", 0);
    if (mof_node_attr_type(node, "size") != MOF_ATTR_INT || size < 1)
        return fail(&w, "attribute 'size' is required and must be at least 1");
    double alpha = mof_node_attr_float(node, "alpha", 1e-4f);
    double beta = mof_node_attr_float(node, "beta", 0.75f);
    double bias = mof_node_attr_float(node, "bias", 1.0f);
    int64_t nb = x->dims[0], c = x->dims[1], inner = prod(x->dims + 2, x->rank - 2);
    int64_t before = (size - 1) / 2, after = size - 1 - before;
    double *xo = NULL, *yv = NULL;
    mof_status st = new_output(kc, &out[0], x->dtype, x->rank, x->dims);
    if (st != MOF_OK)
        return st;
    const double *xv = f64_view(x, &xo);
    yv = mof_malloc((size_t)x->numel * sizeof(double));
    if (!xv || !yv) {
        st = nomem(&w);
        goto done;
    }
    for (int64_t b = 0; b < nb; b++)
        for (int64_t ch = 0; ch < c; ch++) {
            int64_t lo = ch - before < 0 ? 0 : ch - before;
            int64_t hi = ch + after >= c ? c - 1 : ch + after;
            for (int64_t i = 0; i < inner; i++) {
                double sq = 0.0;
                for (int64_t q = lo; q <= hi; q++) {
                    double v = xv[(b * c + q) * inner + i];
                    sq += v * v;
                }
                int64_t e = (b * c + ch) * inner + i;
                yv[e] = xv[e] / pow(bias + alpha / (double)size * sq, beta);
            }
        }
    f64_store(out[0], yv);
done:
    free(xo);
    free(yv);
    return st;
}

/* ------------------------------------------------------------------ MVN, LpNormalization */

/* MOF_OK when input 0 is given and floating-point. */
static mof_status float_input(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st == MOF_OK && !mof_dtype_is_float(in[0]->dtype))
        st = bad_dtype(kc, "input X", in[0]->dtype);
    return st;
}

/* The offset of each element of x (numel entries in goff) in the tensor reduced over
 * the axes flagged. Returns the number of groups. */
static int64_t group_offsets(const mof_tensor *x, const bool *flags, int64_t *goff)
{
    size_t r = x->rank;
    int64_t groups = 1;
    for (size_t d = 0; d < r; d++)
        if (!flags[d])
            groups *= x->dims[d];
    for (int64_t i = 0; i < x->numel; i++) {
        int64_t rest = i, off = 0, s = 1;
        for (size_t d = r; d-- > 0;) {
            int64_t c = rest % x->dims[d];
            rest /= x->dims[d];
            if (!flags[d]) {
                off += c * s;
                s *= x->dims[d];
            }
        }
        goff[i] = off;
    }
    return groups;
}

/* MeanVarianceNormalization: Y = (X - mean) / (std + 1e-9) with the mean and the
 * (biased) standard deviation over the axes (default [0, 2, 3]), as the op's function
 * body computes them. */
static mof_status mvn_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                          size_t n_out, mof_tensor **out)
{
    where w = {.kc = kc};
    mof_status st = float_input(kc, n_in, in);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    static const int64_t def_axes[3] = {0, 2, 3};
    size_t n_axes;
    const int64_t *axes = mof_node_attr_ints(kc->node, "axes", &n_axes);
    if (!mof_node_has_attr(kc->node, "axes")) {
        axes = def_axes;
        n_axes = 3;
    }
    size_t r = x->rank;
    bool *flags = mof_calloc(r ? r : 1, sizeof(*flags));
    int64_t *goff = mof_calloc((size_t)x->numel, sizeof(*goff));
    double *xo = NULL, *yv = NULL, *sum = NULL;
    if (!flags || !goff)
        goto oom;
    for (size_t i = 0; i < n_axes; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + (int64_t)r : axes[i];
        if (a < 0 || a >= (int64_t)r) {
            st = fail(&w, "axis %" PRId64 " is out of range for rank %zu", axes[i], r);
            goto done;
        }
        flags[a] = true;
    }
    int64_t groups = group_offsets(x, flags, goff);
    int64_t count = groups ? x->numel / groups : 0;
    const double *xv = f64_view(x, &xo);
    yv = mof_malloc((size_t)x->numel * sizeof(double));
    sum = mof_calloc((size_t)(2 * groups), sizeof(double));
    if (!xv || !yv || !sum)
        goto oom;
    double *sq = sum + groups;
    for (int64_t i = 0; i < x->numel; i++)
        sum[goff[i]] += xv[i];
    for (int64_t k = 0; k < groups; k++)
        sum[k] /= (double)count;
    for (int64_t i = 0; i < x->numel; i++)
        sq[goff[i]] += (xv[i] - sum[goff[i]]) * (xv[i] - sum[goff[i]]);
    for (int64_t k = 0; k < groups; k++)
        sq[k] = sqrt(sq[k] / (double)count) + 1e-9;
    for (int64_t i = 0; i < x->numel; i++)
        yv[i] = (xv[i] - sum[goff[i]]) / sq[goff[i]];
    if ((st = new_output(kc, &out[0], x->dtype, r, x->dims)) == MOF_OK)
        f64_store(out[0], yv);
    goto done;
oom:
    st = nomem(&w);
done:
    free(flags);
    free(goff);
    free(xo);
    free(yv);
    free(sum);
    return st;
}

/* LpNormalization: X divided by its L1 or L2 norm along the axis (a zero norm gives
 * zeros). */
static mof_status lpnorm_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    where w = {.kc = kc};
    mof_status st = float_input(kc, n_in, in);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    int64_t axis, p = mof_node_attr_int(kc->node, "p", 2);
    if ((st = mof_kernel_axis(kc, -1, (int64_t)x->rank, &axis)) != MOF_OK)
        return st;
    if (p != 1 && p != 2)
        return fail(&w, "attribute 'p' is %" PRId64 "; expected 1 or 2", p);
    int64_t outer = prod(x->dims, (size_t)axis), len = x->dims[axis];
    int64_t inner = prod(x->dims + axis + 1, x->rank - (size_t)axis - 1);
    double *xo = NULL, *yv = mof_malloc((size_t)x->numel * sizeof(double));
    const double *xv = f64_view(x, &xo);
    if (!xv || !yv) {
        st = nomem(&w);
        goto done;
    }
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t q = 0; q < inner; q++) {
            const double *xp = xv + o * len * inner + q;
            double *yp = yv + o * len * inner + q;
            double norm = 0.0;
            for (int64_t j = 0; j < len; j++)
                norm += abs_pow(xp[j * inner], (double)p);
            norm = p == 2 ? sqrt(norm) : norm;
            for (int64_t j = 0; j < len; j++)
                yp[j * inner] = norm == 0.0 ? 0.0 : xp[j * inner] / norm;
        }
    }
    if ((st = new_output(kc, &out[0], x->dtype, x->rank, x->dims)) == MOF_OK)
        f64_store(out[0], yv);
done:
    free(xo);
    free(yv);
    return st;
}

/* ------------------------------------------------------------------ MaxUnpool */

/* MaxUnpool's geometry: the spatial sizes a MaxPool of these attributes maps onto X's
 * (*natural, n + 2 dims with N and C), and the output dims: output_shape when given,
 * else the natural ones. */
static mof_status unpool_dims(const where *w, int rank, const int64_t *xdims,
                              const int64_t *oshape, size_t n_oshape, int64_t *natural,
                              int64_t *dims)
{
    if (rank < 3)
        return fail(w, "input X has rank %d; expected N x C x at least one spatial axis",
                    rank);
    size_t n = (size_t)rank - 2;
    geom g;
    mof_status st = geom_parse(w, GEOM_POOL, n, NULL, &g);
    if (st != MOF_OK)
        return st;
    natural[0] = xdims[0];
    natural[1] = xdims[1];
    for (size_t i = 0; i < n; i++) {
        int64_t x = xdims[i + 2];
        natural[i + 2] = x < 0 ? -1 : (x - 1) * g.s[i] + g.k[i] - g.pb[i] - g.pe[i];
    }
    geom_free(&g);
    if (oshape && n_oshape != (size_t)rank)
        return fail(w, "output_shape has %zu values for rank %d", n_oshape, rank);
    for (int i = 0; i < rank; i++)
        dims[i] = oshape ? oshape[i] : natural[i];
    return MOF_OK;
}

/* MaxUnpool: X's values land where the indices (into the natural output, flattened)
 * point, zeros elsewhere; a larger output_shape pads the natural output at the end of
 * each axis, as the ONNX reference does. */
static mof_status maxunpool_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                size_t n_out, mof_tensor **out)
{
    where w = {.kc = kc};
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, 2);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *ind = in[1], *os = mof_kernel_input(n_in, in, 2);
    if (!mof_dtype_is_numeric(x->dtype))
        return bad_dtype(kc, "input X", x->dtype);
    if (ind->dtype != MOF_DTYPE_INT64 || ind->numel != x->numel)
        return fail(&w, "input I must be int64 with one index per element of X");
    if (os && (os->dtype != MOF_DTYPE_INT64 || os->rank != 1))
        return fail(&w, "output_shape must be a 1-D int64 tensor");
    size_t r = x->rank;
    int64_t *natural = mof_calloc(2 * r + 2, sizeof(int64_t)), *dims = natural + r + 1;
    mof_tensor *nat = NULL;
    if (!natural)
        return nomem(&w);
    if ((st = unpool_dims(&w, (int)r, x->dims, os ? os->data : NULL,
                          os ? (size_t)os->numel : 0, natural, dims)) != MOF_OK ||
        (st = new_output(kc, &out[0], x->dtype, r, dims)) != MOF_OK)
        goto done;
    bool same = !memcmp(natural, dims, r * sizeof(int64_t));
    nat = same ? mof_tensor_ref(out[0]) : mof_kernel_new_tensor(kc, x->dtype, r, natural);
    if (!nat) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    const int64_t *iv = ind->data;
    for (int64_t i = 0; i < x->numel; i++) {
        if (iv[i] < 0 || iv[i] >= nat->numel) {
            st = fail(&w, "index %" PRId64 " is out of range for an output of %" PRId64
                          " elements", iv[i], nat->numel);
            goto done;
        }
        mof_tensor_copy_elems(nat, iv[i], x, i, 1);
    }
    /* Each element of the natural output at its coordinates in the output, if there. */
    for (int64_t i = 0; !same && i < nat->numel; i++) {
        int64_t rest = i, at = 0, stride = 1;
        bool inside = true;
        for (size_t d = r; d-- > 0;) {
            int64_t c = rest % natural[d];
            rest /= natural[d];
            inside = inside && c < dims[d];
            at += c * stride;
            stride *= dims[d];
        }
        if (inside)
            mof_tensor_copy_elems(out[0], at, nat, i, 1);
    }
done:
    if (st != MOF_OK) {
        mof_tensor_unref(out[0]);
        out[0] = NULL;
    }
    mof_tensor_unref(nat);
    free(natural);
    return st;
}

static mof_status maxunpool_infer(mof_infer_ctx *ic)
{
    where w = {.ic = ic};
    const mof_shape *x = mof_infer_input(ic, 0), *os = mof_infer_input(ic, 2);
    if (!x)
        return MOF_OK;
    int rank = x->rank;
    if (rank < 0 && os && os->rank == 1)
        rank = (int)os->dims[0];
    if (rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    const mof_tensor *osv = os && os->value && os->value->dtype == MOF_DTYPE_INT64 &&
                                    os->value->rank == 1
                                ? os->value
                                : NULL;
    if (os && !osv)
        return mof_infer_set_rank(ic, 0, x->dtype, rank);
    int64_t *buf = mof_calloc(3 * (size_t)rank + 3, sizeof(int64_t));
    mof_dimvec v = {0};
    mof_status st = MOF_ERR_NOMEM;
    if (!buf || mof_dimvec_init(&v, rank) != MOF_OK)
        goto done;
    int64_t *xd = buf, *natural = buf + rank + 1, *dims = natural + rank + 1;
    for (int i = 0; i < rank; i++)
        xd[i] = x->rank == rank ? x->dims[i] : -1;
    if ((st = unpool_dims(&w, rank, xd, osv ? osv->data : NULL, osv ? (size_t)osv->numel : 0,
                          natural, dims)) != MOF_OK)
        goto done;
    for (int i = 0; i < rank; i++) {
        mof_dimvec_set(&v, i, dims[i]);
        if (i < 2 && !osv)
            mof_dimvec_take(&v, i, x, i);
    }
    st = mof_dimvec_emit(ic, 0, x->dtype, &v);
done:
    mof_dimvec_free(&v);
    free(buf);
    return st;
}

/* ------------------------------------------------------------------ Flatten */

static mof_status flatten_axis(const where *w, int rank, int64_t *axis)
{
    int64_t a = mof_node_attr_int(where_node(w), "axis", 1);
    int64_t min = where_opset(w) >= 11 ? -rank : 0;
    if (a < min || a > rank)
        return fail(w, "attribute 'axis' is %" PRId64 "; expected it in [%" PRId64 ", %d]", a,
                    min, rank);
    *axis = a < 0 ? a + rank : a;
    return MOF_OK;
}

static mof_status flatten_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              size_t n_out, mof_tensor **out)
{
    where w = {.kc = kc};
    const mof_tensor *x = in[0];
    int64_t axis;
    mof_status st = flatten_axis(&w, (int)x->rank, &axis);
    if (st != MOF_OK)
        return st;
    int64_t dims[2] = {prod(x->dims, (size_t)axis), prod(x->dims + axis, x->rank - (size_t)axis)};
    if ((st = new_output(kc, &out[0], x->dtype, 2, dims)) != MOF_OK)
        return st;
    if (x->dtype != MOF_DTYPE_STRING) {
        if (x->nbytes)
            memcpy(out[0]->data, x->data, x->nbytes);
        return MOF_OK;
    }
    const mof_string *src = x->data;
    mof_string *dst = out[0]->data;
    for (int64_t i = 0; i < x->numel; i++) {
        if (!(dst[i].data = mof_malloc(src[i].size ? src[i].size : 1))) {
            mof_tensor_unref(out[0]);
            out[0] = NULL;
            return nomem(&w);
        }
        if (src[i].size)
            memcpy(dst[i].data, src[i].data, src[i].size);
        dst[i].size = src[i].size;
    }
    return MOF_OK;
}

/* The product of dims [lo, hi) of s: a number, else the one symbolic dim when all the
 * others are 1, else unknown. */
static void flatten_dim(mof_dimvec *v, int i, const mof_shape *s, int lo, int hi)
{
    int64_t p = 1;
    int unknown = -1, n_unknown = 0;
    for (int j = lo; j < hi; j++) {
        if (s->dims[j] < 0) {
            unknown = j;
            n_unknown++;
        } else {
            p *= s->dims[j];
        }
    }
    if (n_unknown == 0)
        v->dims[i] = p;
    else if (n_unknown == 1 && p == 1)
        mof_dimvec_take(v, i, s, unknown);
}

static mof_status flatten_infer(mof_infer_ctx *ic)
{
    where w = {.ic = ic};
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x || ic->n_out < 1)
        return MOF_OK;
    mof_dimvec v;
    mof_status st = mof_dimvec_init(&v, 2);
    if (st != MOF_OK)
        return st;
    if (x->rank >= 0) {
        int64_t axis;
        if ((st = flatten_axis(&w, x->rank, &axis)) != MOF_OK) {
            mof_dimvec_free(&v);
            return st;
        }
        flatten_dim(&v, 0, x, 0, (int)axis);
        flatten_dim(&v, 1, x, (int)axis, x->rank);
    }
    return mof_dimvec_emit(ic, 0, x->dtype, &v);
}

/* ------------------------------------------------------------------ the table */

const mof_op_def mof_ops_nn[] = {
    {"", "Conv", 1, 0, conv_run, conv_infer},
    {"", "ConvTranspose", 1, 0, convt_run, convt_infer},
    {"", "MatMul", 1, 0, matmul_run, matmul_infer},
    {"", "Gemm", 1, 0, gemm_run, gemm_infer},
    {"", "MaxPool", 1, 0, maxpool_run, pool_infer},
    {"", "AveragePool", 1, 0, avgpool_run, pool_infer},
    {"", "GlobalAveragePool", 1, 0, global_avgpool_run, global_pool_infer},
    {"", "GlobalMaxPool", 1, 0, global_maxpool_run, global_pool_infer},
    {"", "LpPool", 1, 0, lppool_run, pool_infer},
    {"", "GlobalLpPool", 1, 0, global_lppool_run, global_pool_infer},
    {"", "BatchNormalization", 1, 0, bn_run, bn_infer},
    {"", "InstanceNormalization", 1, 0, in_run, mof_infer_same},
    {"", "LayerNormalization", 17, 0, ln_run, ln_infer},
    {"", "LRN", 1, 0, lrn_run, mof_infer_same},
    {"", "MeanVarianceNormalization", 9, 0, mvn_run, mof_infer_same},
    {"", "LpNormalization", 1, 0, lpnorm_run, mof_infer_same},
    {"", "MaxUnpool", 9, 0, maxunpool_run, maxunpool_infer},
    {"", "Flatten", 1, 0, flatten_run, flatten_infer},
    {0},
};
