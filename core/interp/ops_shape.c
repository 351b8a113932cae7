/* ops_shape.c: shape and data-movement operators of the reference interpreter:
 * Shape, Size, Reshape, Transpose, Squeeze / Unsqueeze, Concat, Split, Slice, the
 * Gather and Scatter families, Expand, Tile, Pad, ConstantOfShape, Constant, Range,
 * NonZero, TopK, OneHot, Trilu, DepthToSpace / SpaceToDepth, Resize (and Upsample),
 * Compress, ReverseSequence, EyeLike and Unique.
 *
 * Data movement copies elements by size, so every element type works, strings
 * included (their bytes are duplicated). Most ops reduce to one of two walks: a strided
 * copy (Transpose, Slice, Concat, Split, Expand, Tile, DepthToSpace...), where source
 * and destination advance by fixed strides per dim, and a mapped copy (Pad, nearest
 * Resize), where each output coordinate of each dim names a source coordinate or the
 * fill value.
 *
 * Shape functions carry symbolic dims wherever the op keeps a dim unchanged, and read
 * constant inputs (a Reshape's shape, a Slice's starts) from mof_shape.value. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* ------------------------------------------------------------------ kernel helpers */

static mof_status unsupported_type(mof_kernel_ctx *kc, const char *what, mof_dtype t)
{
    return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED, "%s: %s tensors are not supported", what,
                            mof_dtype_name(t));
}

/* Reads an integer tensor (scalar or 1-D) as int64 values (*vals owned, may be NULL
 * when *n is 0). */
static mof_status get_ints(mof_kernel_ctx *kc, const mof_tensor *t, const char *what,
                           int64_t **vals, size_t *n)
{
    *vals = NULL;
    *n = 0;
    if (!mof_dtype_is_int(t->dtype))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s must be an integer tensor, not %s",
                                what, mof_dtype_name(t->dtype));
    if (t->rank > 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s must be 1-D, it has rank %zu",
                                what, t->rank);
    int64_t *v = mof_calloc((size_t)t->numel, sizeof(*v));
    if (!v)
        return mof_kernel_nomem(kc);
    for (int64_t i = 0; i < t->numel; i++)
        v[i] = mof_tensor_get_i64(t, i);
    *vals = v;
    *n = (size_t)t->numel;
    return MOF_OK;
}

/* An int64 copy of an INTS attribute (owned), so that callers free either source. */
static mof_status attr_ints(mof_kernel_ctx *kc, const char *name, int64_t **vals, size_t *n)
{
    const int64_t *a = mof_node_attr_ints(kc->node, name, n);
    *vals = mof_calloc(*n, sizeof(**vals));
    if (!*vals)
        return mof_kernel_nomem(kc);
    if (*n)
        memcpy(*vals, a, *n * sizeof(**vals));
    return MOF_OK;
}

/* Reports an invalid model with a fixed message. */
static mof_status invalid(mof_kernel_ctx *kc, const char *what)
{
    return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s", what);
}

/* ------------------------------------------------------------------ element copies */

static inline void copy_elem(char *d, const char *s, size_t es)
{
    switch (es) {
    case 1: memcpy(d, s, 1); break;
    case 2: memcpy(d, s, 2); break;
    case 4: memcpy(d, s, 4); break;
    case 8: memcpy(d, s, 8); break;
    default: memcpy(d, s, es); break;
    }
}

/* A new tensor of the given shape holding the elements of t in order (numel equal). */
static mof_tensor *copy_reshaped(mof_kernel_ctx *kc, const mof_tensor *t, size_t rank,
                                 const int64_t *dims)
{
    mof_tensor *r = mof_kernel_new_tensor(kc, t->dtype, rank, dims);
    if (!r)
        return NULL;
    MOF_ASSERT(r->numel == t->numel);
    if (!mof_tensor_copy_elems(r, 0, t, 0, t->numel)) {
        mof_tensor_unref(r);
        mof_kernel_nomem(kc);
        return NULL;
    }
    return r;
}

/* Copies a rank-r block of the given dims from src (offset soff, strides sstr) into dst
 * (offset doff, strides dstr). Strides are in elements and may be 0 (broadcast). */
static mof_status copy_strided(mof_kernel_ctx *kc, mof_tensor *dst, int64_t doff,
                               const int64_t *dstr, const mof_tensor *src, int64_t soff,
                               const int64_t *sstr, size_t r, const int64_t *dims)
{
    if (mof_dims_numel(r, dims) == 0)
        return MOF_OK;
    if (r == 0)
        return mof_tensor_copy_elems(dst, doff, src, soff, 1) ? MOF_OK : mof_kernel_nomem(kc);
    int64_t *idx = mof_calloc(r, sizeof(*idx));
    if (!idx)
        return mof_kernel_nomem(kc);
    bool strings = dst->dtype == MOF_DTYPE_STRING;
    size_t es = strings ? 0 : mof_dtype_size(dst->dtype);
    int64_t inner = dims[r - 1], ds = dstr[r - 1], ss = sstr[r - 1];
    bool contiguous = ds == 1 && ss == 1;
    mof_status st = MOF_OK;
    for (;;) {
        if (contiguous || strings) {
            if (contiguous) {
                if (!mof_tensor_copy_elems(dst, doff, src, soff, inner)) {
                    st = mof_kernel_nomem(kc);
                    break;
                }
            } else {
                bool ok = true;
                for (int64_t i = 0; i < inner && ok; i++)
                    ok = mof_tensor_copy_elems(dst, doff + i * ds, src, soff + i * ss, 1);
                if (!ok) {
                    st = mof_kernel_nomem(kc);
                    break;
                }
            }
        } else {
            char *d = (char *)dst->data + (size_t)doff * es;
            const char *s = (const char *)src->data + (size_t)soff * es;
            for (int64_t i = 0; i < inner; i++)
                copy_elem(d + (size_t)(i * ds) * es, s + (size_t)(i * ss) * es, es);
        }
        /* Advance the outer dims like an odometer. */
        size_t k = r - 1;
        for (;;) {
            if (k == 0)
                goto done;
            k--;
            idx[k]++;
            doff += dstr[k];
            soff += sstr[k];
            if (idx[k] < dims[k])
                break;
            doff -= dstr[k] * dims[k];
            soff -= sstr[k] * dims[k];
            idx[k] = 0;
        }
    }
done:
    free(idx);
    return st;
}

/* *out becomes a new tensor of dims (rank r) whose elements, in order, are those of x
 * read as a view of vr dims vdims (as many elements) from offset off with strides vs
 * (0: broadcast). On failure *out is untouched. */
static mof_status read_strided(mof_kernel_ctx *kc, const mof_tensor *x, size_t r,
                               const int64_t *dims, int64_t off, size_t vr,
                               const int64_t *vdims, const int64_t *vs, mof_tensor **out)
{
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, r, dims);
    int64_t *ys = mof_calloc(vr ? vr : 1, sizeof(*ys));
    mof_status st = MOF_ERR_NOMEM;
    if (!y || !ys) {
        if (y)
            st = mof_kernel_nomem(kc);
    } else {
        mof_strides(vr, vdims, ys);
        st = copy_strided(kc, y, 0, ys, x, off, vs, vr, vdims);
    }
    free(ys);
    mof_kernel_set_output(st, y, out);
    return st;
}

/* Fills dst from src through per-dim maps: the output element at (o_0, ..., o_r-1) is
 * the src element at (maps[0][o_0], ..., maps[r-1][o_r-1]), or fill's only element
 * when any map entry is negative. src and dst have the same rank. */
static mof_status copy_mapped(mof_kernel_ctx *kc, mof_tensor *dst, const mof_tensor *src,
                              int64_t *const *maps, const mof_tensor *fill)
{
    size_t r = dst->rank;
    if (dst->numel == 0)
        return MOF_OK;
    if (r == 0)
        return mof_tensor_copy_elems(dst, 0, src, 0, 1) ? MOF_OK : mof_kernel_nomem(kc);
    mof_status st = MOF_OK;
    int64_t *sstr = mof_calloc(r, sizeof(*sstr));
    int64_t *idx = mof_calloc(r, sizeof(*idx));
    int64_t *acc = mof_calloc(r + 1, sizeof(*acc));
    if (!sstr || !idx || !acc) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    mof_strides(r, src->dims, sstr);
    bool strings = dst->dtype == MOF_DTYPE_STRING;
    size_t es = strings ? 0 : mof_dtype_size(dst->dtype);
    char *d = dst->data;
    const char *s = src->data;
    const char *f = fill ? fill->data : NULL;
    /* acc[k]: the source offset of dims before k, -1 when some map says "fill". */
    for (size_t k = 0; k < r; k++) {
        int64_t m = maps[k][0];
        acc[k + 1] = acc[k] < 0 || m < 0 ? -1 : acc[k] + m * sstr[k];
    }
    int64_t p = 0;
    int64_t inner = dst->dims[r - 1];
    const int64_t *im = maps[r - 1];
    int64_t is = sstr[r - 1];
    for (;;) {
        int64_t base = acc[r - 1];
        for (int64_t o = 0; o < inner; o++, p++) {
            int64_t so = base < 0 || im[o] < 0 ? -1 : base + im[o] * is;
            if (strings) {
                bool ok = so < 0 ? mof_tensor_copy_elems(dst, p, fill, 0, 1)
                                 : mof_tensor_copy_elems(dst, p, src, so, 1);
                if (!ok) {
                    st = mof_kernel_nomem(kc);
                    goto done;
                }
            } else {
                copy_elem(d + (size_t)p * es, so < 0 ? f : s + (size_t)so * es, es);
            }
        }
        size_t k = r - 1;
        for (;;) {
            if (k == 0)
                goto done;
            k--;
            if (++idx[k] < dst->dims[k])
                break;
            idx[k] = 0;
        }
        for (size_t j = k; j + 1 < r; j++) {
            int64_t m = maps[j][idx[j]];
            acc[j + 1] = acc[j] < 0 || m < 0 ? -1 : acc[j] + m * sstr[j];
        }
    }
done:
    free(sstr);
    free(idx);
    free(acc);
    return st;
}

/* ------------------------------------------------------------------ inference helpers */

static const char *shape_sym(const mof_shape *s, int i)
{
    return s->dims[i] < 0 && s->syms ? s->syms[i] : NULL;
}

static mof_dtype in_dtype(const mof_infer_ctx *ic, size_t i)
{
    const mof_shape *s = mof_infer_input(ic, i);
    return s ? s->dtype : MOF_DTYPE_UNDEFINED;
}

/* The values of an integer input known during inference (owned), or false. */
static bool known_ints(const mof_shape *s, int64_t **vals, size_t *n)
{
    *vals = NULL;
    *n = 0;
    if (!s || !s->value || !mof_dtype_is_int(s->value->dtype) || s->value->rank > 1)
        return false;
    const mof_tensor *t = s->value;
    int64_t *v = mof_calloc((size_t)t->numel, sizeof(*v));
    if (!v)
        return false;
    for (int64_t i = 0; i < t->numel; i++)
        v[i] = mof_tensor_get_i64(t, i);
    *vals = v;
    *n = (size_t)t->numel;
    return true;
}

/* The length of a 1-D input when its shape says it, else -1. */
static int64_t known_len(const mof_shape *s)
{
    if (!s)
        return -1;
    if (s->value && s->value->rank <= 1)
        return s->value->numel;
    if (s->rank == 1)
        return s->dims[0];
    if (s->rank == 0)
        return 1;
    return -1;
}

/* ------------------------------------------------------------------ Shape, Size */

/* The [start, end) range of dims that Shape returns (opset 15 slices). */
static void shape_range(const mof_node *n, int64_t opset, int64_t r, int64_t *start,
                        int64_t *end)
{
    int64_t s = 0, e = r;
    if (opset >= 15) {
        s = mof_node_attr_int(n, "start", 0);
        e = mof_node_attr_int(n, "end", r);
        if (s < 0)
            s += r;
        if (e < 0)
            e += r;
        s = s < 0 ? 0 : s > r ? r : s;
        e = e < 0 ? 0 : e > r ? r : e;
    }
    *start = s;
    *end = e > s ? e : s;
}

static mof_status k_shape(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                          mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    int64_t s, e;
    shape_range(kc->node, kc->opset, (int64_t)in[0]->rank, &s, &e);
    int64_t len = e - s;
    mof_tensor *t = mof_kernel_new_tensor(kc, MOF_DTYPE_INT64, 1, &len);
    if (!t)
        return MOF_ERR_NOMEM;
    if (len)
        memcpy(t->data, in[0]->dims + s, (size_t)len * sizeof(int64_t));
    out[0] = t;
    return MOF_OK;
}

static mof_status infer_shape(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x || x->rank < 0)
        return mof_infer_set_rank(ic, 0, MOF_DTYPE_INT64, 1);
    int64_t s, e;
    shape_range(ic->node, ic->opset, x->rank, &s, &e);
    int64_t len = e - s;
    return mof_shape_set(&ic->out[0], MOF_DTYPE_INT64, 1, &len, NULL);
}

static mof_status k_size(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    int64_t n = in[0]->numel;
    out[0] = mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &n);
    return out[0] ? MOF_OK : mof_kernel_nomem(kc);
}

static mof_status infer_size(mof_infer_ctx *ic)
{
    return mof_infer_set_rank(ic, 0, MOF_DTYPE_INT64, 0);
}

/* ------------------------------------------------------------------ Reshape */

/* The requested shape: the attribute before opset 5, input 1 after. */
static mof_status reshape_target(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                 int64_t **shape, size_t *n)
{
    if (kc->opset < 5)
        return attr_ints(kc, "shape", shape, n);
    mof_status st = mof_kernel_need_input(kc, n_in, in, 1);
    if (st != MOF_OK)
        return st;
    return get_ints(kc, in[1], "the shape input", shape, n);
}

static mof_status k_reshape(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    int64_t *shape = NULL;
    size_t n = 0;
    if (st != MOF_OK || (st = reshape_target(kc, n_in, in, &shape, &n)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    bool allowzero = kc->opset >= 14 && mof_node_attr_int(kc->node, "allowzero", 0);
    int64_t known = 1;
    size_t minus = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] == 0 && !allowzero) {
            if (i >= x->rank) {
                st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                      "shape[%zu] is 0 (copy) but the input has rank %zu", i,
                                      x->rank);
                goto done;
            }
            shape[i] = x->dims[i];
        } else if (shape[i] == -1) {
            if (minus != SIZE_MAX) {
                st = invalid(kc, "the shape has more than one -1");
                goto done;
            }
            minus = i;
            continue;
        } else if (shape[i] < 0) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "shape[%zu] is %" PRId64, i,
                                  shape[i]);
            goto done;
        }
        if (shape[i] && known > INT64_MAX / shape[i]) {
            st = invalid(kc, "the requested shape overflows");
            goto done;
        }
        known *= shape[i];
    }
    if (minus != SIZE_MAX) {
        if (known == 0 || x->numel % known) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "cannot infer the -1 dim: %" PRId64
                                  " elements do not divide into parts of %" PRId64,
                                  x->numel, known);
            goto done;
        }
        shape[minus] = x->numel / known;
    } else if (known != x->numel) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                              "cannot reshape %" PRId64 " elements into %" PRId64, x->numel,
                              known);
        goto done;
    }
    out[0] = copy_reshaped(kc, x, n, shape);
    st = out[0] ? MOF_OK : MOF_ERR_NOMEM;
done:
    free(shape);
    return st;
}

/* Solves a -1 of a Reshape symbolically: the input's dims over the output's other dims,
 * cancelling equal symbols. Returns the dim or -1 when it cannot be known. */
static int64_t reshape_solve(const mof_shape *x, const mof_dimvec *o, int minus)
{
    int64_t num = 1, den = 1;
    size_t n_sym = 0;
    const char **syms = mof_calloc((size_t)x->rank + 1, sizeof(*syms));
    if (!syms)
        return -1;
    int64_t result = -1;
    for (int i = 0; i < x->rank; i++) {
        if (x->dims[i] >= 0) {
            if (x->dims[i] && num > INT64_MAX / x->dims[i])
                goto done;
            num *= x->dims[i];
        } else if (shape_sym(x, i)) {
            syms[n_sym++] = shape_sym(x, i);
        } else {
            goto done;
        }
    }
    for (int i = 0; i < o->rank; i++) {
        if (i == minus)
            continue;
        if (o->dims[i] >= 0) {
            if (o->dims[i] && den > INT64_MAX / o->dims[i])
                goto done;
            den *= o->dims[i];
            continue;
        }
        size_t k = 0;
        while (k < n_sym && !(o->syms[i] && !strcmp(syms[k], o->syms[i])))
            k++;
        if (k == n_sym)
            goto done;
        syms[k] = syms[--n_sym];
    }
    if (n_sym == 0 && den > 0 && num % den == 0)
        result = num / den;
done:
    free(syms);
    return result;
}

static mof_status infer_reshape(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    mof_dtype dt = x ? x->dtype : MOF_DTYPE_UNDEFINED;
    int64_t *shape = NULL;
    size_t n = 0;
    if (ic->opset < 5) {
        const int64_t *a = mof_node_attr_ints(ic->node, "shape", &n);
        shape = mof_calloc(n, sizeof(*shape));
        if (!shape)
            return MOF_ERR_NOMEM;
        if (n)
            memcpy(shape, a, n * sizeof(*shape));
    } else if (!known_ints(mof_infer_input(ic, 1), &shape, &n)) {
        return mof_infer_set_rank(ic, 0, dt, (int)known_len(mof_infer_input(ic, 1)));
    }
    bool allowzero = ic->opset >= 14 && mof_node_attr_int(ic->node, "allowzero", 0);
    mof_dimvec o;
    if (mof_dimvec_init(&o, (int)n) != MOF_OK) {
        free(shape);
        return MOF_ERR_NOMEM;
    }
    int minus = -1;
    for (int i = 0; i < (int)n; i++) {
        if (shape[i] == 0 && !allowzero) {
            if (x && x->rank >= 0 && i >= x->rank) {
                free(shape);
                mof_dimvec_free(&o);
                return mof_infer_error(ic, "shape[%d] is 0 (copy) but the input has rank %d",
                                       i, x->rank);
            }
            if (x && x->rank >= 0)
                mof_dimvec_take(&o, i, x, i);
        } else if (shape[i] == -1) {
            minus = i;
        } else {
            mof_dimvec_set(&o, i, shape[i]);
        }
    }
    if (minus >= 0 && x && x->rank >= 0)
        mof_dimvec_set(&o, minus, reshape_solve(x, &o, minus));
    free(shape);
    return mof_dimvec_emit(ic, 0, dt, &o);
}

/* ------------------------------------------------------------------ Transpose */

/* The permutation: the attribute, or the reversed dims. Checked to be one. */
static mof_status get_perm(mof_kernel_ctx *kc, const mof_node *node, size_t r, int64_t **perm)
{
    size_t n = 0;
    const int64_t *a = mof_node_attr_ints(node, "perm", &n);
    bool given = mof_node_has_attr(node, "perm");
    int64_t *p = mof_calloc(r, sizeof(*p));
    bool *seen = mof_calloc(r, sizeof(*seen));
    if (!p || !seen) {
        free(p);
        free(seen);
        return kc ? mof_kernel_nomem(kc) : MOF_ERR_NOMEM;
    }
    mof_status st = MOF_OK;
    if (given && n != r) {
        st = MOF_ERR_INVALID_MODEL;
        if (kc)
            mof_kernel_error(kc, st, "perm has %zu entries for rank %zu", n, r);
        goto done;
    }
    for (size_t i = 0; i < r; i++) {
        int64_t v = given ? a[i] : (int64_t)(r - 1 - i);
        if (v < 0)
            v += (int64_t)r;
        if (v < 0 || v >= (int64_t)r || seen[v]) {
            st = MOF_ERR_INVALID_MODEL;
            if (kc)
                mof_kernel_error(kc, st, "perm is not a permutation of %zu dims", r);
            goto done;
        }
        seen[v] = true;
        p[i] = v;
    }
done:
    free(seen);
    if (st != MOF_OK) {
        free(p);
        p = NULL;
    }
    *perm = p;
    return st;
}

static mof_status k_transpose(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = x->rank, rr = r ? r : 1;
    int64_t *perm = NULL;
    if ((st = get_perm(kc, kc->node, r, &perm)) != MOF_OK)
        return st;
    int64_t *dims = mof_calloc(rr, sizeof(*dims));
    int64_t *xs = mof_calloc(rr, sizeof(*xs));
    int64_t *ss = mof_calloc(rr, sizeof(*ss));
    if (!dims || !xs || !ss) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    mof_strides(r, x->dims, xs);
    for (size_t i = 0; i < r; i++) {
        dims[i] = x->dims[perm[i]];
        ss[i] = xs[perm[i]];
    }
    st = read_strided(kc, x, r, dims, 0, r, dims, ss, &out[0]);
done:
    free(perm);
    free(dims);
    free(xs);
    free(ss);
    return st;
}

static mof_status infer_transpose(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int64_t *perm = NULL;
    if (get_perm(NULL, ic->node, (size_t)x->rank, &perm) != MOF_OK)
        return mof_infer_error(ic, "perm is not a permutation of %d dims", x->rank);
    mof_dimvec o;
    if (mof_dimvec_init(&o, x->rank) != MOF_OK) {
        free(perm);
        return MOF_ERR_NOMEM;
    }
    for (int i = 0; i < x->rank; i++)
        mof_dimvec_take(&o, i, x, (int)perm[i]);
    free(perm);
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

/* ------------------------------------------------------------------ Squeeze, Unsqueeze */

/* The axes of Squeeze / Unsqueeze: the attribute before opset 13, input 1 after.
 * *given is false when there are none. */
static mof_status get_axes(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           int64_t **axes, size_t *n, bool *given)
{
    if (kc->opset < 13) {
        *given = mof_node_has_attr(kc->node, "axes");
        return attr_ints(kc, "axes", axes, n);
    }
    const mof_tensor *a = mof_kernel_input(n_in, in, 1);
    *given = a != NULL;
    if (!a) {
        *axes = NULL;
        *n = 0;
        return MOF_OK;
    }
    return get_ints(kc, a, "axes", axes, n);
}

/* Normalizes axes against rank r and checks they are distinct; marks[] (r entries)
 * receives which dims are named. */
static mof_status mark_axes(mof_kernel_ctx *kc, const int64_t *axes, size_t n, int64_t r,
                            bool *marks)
{
    for (size_t i = 0; i < n; i++) {
        int64_t a;
        mof_status st = mof_kernel_norm_axis(kc, axes[i], r, &a);
        if (st != MOF_OK)
            return st;
        if (marks[a])
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "axis %" PRId64 " is repeated",
                                    axes[i]);
        marks[a] = true;
    }
    return MOF_OK;
}

/* Squeeze (the named dims of size 1, or all of them, go) and Unsqueeze (dims of size 1
 * are inserted where named). */
static mof_status squeeze_run(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              mof_tensor **out, bool unsqueeze)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    int64_t *axes = NULL;
    size_t n = 0;
    bool given;
    if (st != MOF_OK || (st = get_axes(kc, n_in, in, &axes, &n, &given)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = unsqueeze ? x->rank + n : x->rank, k = 0;
    bool *marks = mof_calloc(r, sizeof(*marks));
    int64_t *dims = mof_calloc(r, sizeof(*dims));
    if (!marks || !dims) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    if (unsqueeze && !given) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "Unsqueeze needs axes");
        goto done;
    }
    if (given) {
        if ((st = mark_axes(kc, axes, n, (int64_t)r, marks)) != MOF_OK)
            goto done;
    } else {
        for (size_t i = 0; i < r; i++)
            marks[i] = x->dims[i] == 1;
    }
    for (size_t i = 0, j = 0; i < r; i++) {
        if (unsqueeze) {
            dims[k++] = marks[i] ? 1 : x->dims[j++];
        } else if (!marks[i]) {
            dims[k++] = x->dims[i];
        } else if (x->dims[i] != 1) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "cannot squeeze dim %zu of size %" PRId64, i, x->dims[i]);
            goto done;
        }
    }
    out[0] = copy_reshaped(kc, x, k, dims);
    st = out[0] ? MOF_OK : MOF_ERR_NOMEM;
done:
    free(axes);
    free(marks);
    free(dims);
    return st;
}

static mof_status k_squeeze(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            size_t n_out, mof_tensor **out)
{
    return squeeze_run(kc, n_in, in, out, false);
}

static mof_status k_unsqueeze(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              size_t n_out, mof_tensor **out)
{
    return squeeze_run(kc, n_in, in, out, true);
}

/* The axes of Squeeze / Unsqueeze at inference: false when not known. */
static bool infer_axes(mof_infer_ctx *ic, int64_t **axes, size_t *n, bool *given)
{
    if (ic->opset < 13) {
        *given = mof_node_has_attr(ic->node, "axes");
        const int64_t *a = mof_node_attr_ints(ic->node, "axes", n);
        *axes = mof_calloc(*n, sizeof(**axes));
        if (!*axes)
            return false;
        if (*n)
            memcpy(*axes, a, *n * sizeof(**axes));
        return true;
    }
    const mof_shape *a = mof_infer_input(ic, 1);
    *given = a != NULL;
    if (!a) {
        *axes = NULL;
        *n = 0;
        return true;
    }
    return known_ints(a, axes, n);
}

static mof_status squeeze_infer(mof_infer_ctx *ic, bool unsqueeze)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    int64_t *axes;
    size_t n;
    bool given;
    if (!infer_axes(ic, &axes, &n, &given))
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    if (x->rank < 0 || (unsqueeze && !given)) {
        free(axes);
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    }
    int r = unsqueeze ? x->rank + (int)n : x->rank;
    mof_status st = MOF_OK;
    bool *marks = mof_calloc((size_t)r, sizeof(*marks));
    mof_dimvec o = {0};
    if (!marks || mof_dimvec_init(&o, r) != MOF_OK) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || (unsqueeze && marks[a])) {
            st = mof_infer_error(ic, "axis %" PRId64 " is out of range%s for rank %d",
                                 axes[i], unsqueeze ? " or repeated" : "", r);
            goto done;
        }
        if (!unsqueeze && x->dims[a] >= 0 && x->dims[a] != 1) {
            st = mof_infer_error(ic, "cannot squeeze dim %" PRId64 " of size %" PRId64, a,
                                 x->dims[a]);
            goto done;
        }
        marks[a] = true;
    }
    for (int i = 0; !given && i < r; i++) {
        if (x->dims[i] < 0) {
            /* Whether a symbolic dim is 1 decides the rank. */
            st = mof_infer_set_rank(ic, 0, x->dtype, -1);
            goto done;
        }
        marks[i] = x->dims[i] == 1;
    }
    int k = 0;
    for (int i = 0, j = 0; i < r; i++) {
        if (unsqueeze && marks[i])
            mof_dimvec_set(&o, k++, 1);
        else if (unsqueeze)
            mof_dimvec_take(&o, k++, x, j++);
        else if (!marks[i])
            mof_dimvec_take(&o, k++, x, i);
    }
    o.rank = k;
    st = mof_dimvec_emit(ic, 0, x->dtype, &o);
done:
    mof_dimvec_free(&o);
    free(marks);
    free(axes);
    return st;
}

static mof_status infer_squeeze(mof_infer_ctx *ic)
{
    return squeeze_infer(ic, false);
}

static mof_status infer_unsqueeze(mof_infer_ctx *ic)
{
    return squeeze_infer(ic, true);
}

/* ------------------------------------------------------------------ Concat */

static mof_status k_concat(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    const mof_tensor *first = NULL;
    for (size_t i = 0; i < n_in && !first; i++)
        first = in[i];
    if (!first)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "Concat has no inputs");
    size_t r = first->rank;
    if (r == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "cannot concatenate scalars");
    int64_t axis;
    mof_status st = mof_kernel_axis(kc, kc->opset < 4 ? 1 : 0, (int64_t)r, &axis);
    if (st != MOF_OK)
        return st;
    if (kc->opset >= 4 && !mof_node_has_attr(kc->node, "axis"))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "Concat needs an axis");
    int64_t *dims = mof_calloc(r, sizeof(*dims));
    int64_t *ys = mof_calloc(r, sizeof(*ys));
    int64_t *xs = mof_calloc(r, sizeof(*xs));
    mof_tensor *y = NULL;
    if (!dims || !ys || !xs) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    memcpy(dims, first->dims, r * sizeof(*dims));
    dims[axis] = 0;
    for (size_t i = 0; i < n_in; i++) {
        const mof_tensor *t = in[i];
        if (!t)
            continue;
        if (t->dtype != first->dtype || t->rank != r) {
            st = invalid(kc, "the inputs differ in type or rank");
            goto done;
        }
        for (size_t d = 0; d < r; d++) {
            if ((int64_t)d != axis && t->dims[d] != first->dims[d]) {
                st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                      "input %zu has dim %zu of size %" PRId64
                                      ", input 0 has %" PRId64, i, d, t->dims[d],
                                      first->dims[d]);
                goto done;
            }
        }
        dims[axis] += t->dims[axis];
    }
    if (!(y = mof_kernel_new_tensor(kc, first->dtype, r, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    mof_strides(r, dims, ys);
    int64_t pos = 0;
    for (size_t i = 0; i < n_in; i++) {
        const mof_tensor *t = in[i];
        if (!t)
            continue;
        mof_strides(r, t->dims, xs);
        st = copy_strided(kc, y, pos * ys[axis], ys, t, 0, xs, r, t->dims);
        if (st != MOF_OK)
            goto done;
        pos += t->dims[axis];
    }
done:
    mof_kernel_set_output(st, y, &out[0]);
    free(dims);
    free(ys);
    free(xs);
    return st;
}

static mof_status infer_concat(mof_infer_ctx *ic)
{
    const mof_shape *ref = NULL;
    mof_dtype dt = MOF_DTYPE_UNDEFINED;
    for (size_t i = 0; i < ic->n_in; i++) {
        const mof_shape *s = mof_infer_input(ic, i);
        if (!s)
            continue;
        if (dt == MOF_DTYPE_UNDEFINED)
            dt = s->dtype;
        if (!ref && s->rank >= 0)
            ref = s;
    }
    if (!ref)
        return mof_infer_set_rank(ic, 0, dt, -1);
    int r = ref->rank;
    int64_t axis;
    mof_status st = mof_infer_axis(ic, ic->opset < 4 ? 1 : 0, r, &axis);
    if (st != MOF_OK)
        return st;
    mof_dimvec o;
    if (mof_dimvec_init(&o, r) != MOF_OK)
        return MOF_ERR_NOMEM;
    for (int d = 0; d < r; d++)
        mof_dimvec_take(&o, d, ref, d);
    int64_t total = 0;
    for (size_t i = 0; i < ic->n_in; i++) {
        const mof_shape *s = mof_infer_input(ic, i);
        if (!s)
            continue;
        if (s->rank < 0) {
            total = -1;
            continue;
        }
        if (s->rank != r) {
            mof_dimvec_free(&o);
            return mof_infer_error(ic, "input %zu has rank %d, input 0 has rank %d", i,
                                   s->rank, r);
        }
        for (int d = 0; d < r; d++) {
            if (d == axis)
                continue;
            if (o.dims[d] >= 0 && s->dims[d] >= 0 && o.dims[d] != s->dims[d]) {
                int64_t other = o.dims[d];
                mof_dimvec_free(&o);
                return mof_infer_error(ic, "input %zu has dim %d of size %" PRId64
                                       " where another input has %" PRId64, i, d,
                                       s->dims[d], other);
            }
            if (o.dims[d] < 0 && s->dims[d] >= 0)
                mof_dimvec_take(&o, d, s, d);
            else if (o.dims[d] < 0 && !o.syms[d])
                o.syms[d] = shape_sym(s, d);
        }
        if (total >= 0)
            total = s->dims[axis] >= 0 ? total + s->dims[axis] : -1;
    }
    mof_dimvec_set(&o, (int)axis, total);
    return mof_dimvec_emit(ic, 0, dt, &o);
}

/* ------------------------------------------------------------------ Split */

/* The part sizes of a Split along a dim of size d into n_out parts: the split list
 * (opset 13: input 1; opset 1: input 1 or the attribute; 2-12: the attribute), else
 * num_outputs (opset 18: the last part may be smaller), else equal parts. sizes[] has
 * n_out entries. kc NULL: at inference (then a split input must be known in vals). */
static mof_status split_sizes(mof_kernel_ctx *kc, const mof_node *node, int64_t opset,
                              const int64_t *split, size_t n_split, bool have_split,
                              int64_t d, size_t n_out, int64_t *sizes)
{
    if (have_split) {
        if (n_split != n_out) {
            if (kc)
                mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                 "split has %zu entries for %zu outputs", n_split, n_out);
            return MOF_ERR_INVALID_MODEL;
        }
        int64_t sum = 0;
        for (size_t i = 0; i < n_out; i++) {
            if (split[i] < 0) {
                if (kc)
                    mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "split[%zu] is negative", i);
                return MOF_ERR_INVALID_MODEL;
            }
            sizes[i] = split[i];
            sum += split[i];
        }
        if (d >= 0 && sum != d) {
            if (kc)
                mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                 "the split sizes add up to %" PRId64 ", the dim is %" PRId64,
                                 sum, d);
            return MOF_ERR_INVALID_MODEL;
        }
        return MOF_OK;
    }
    int64_t parts = (int64_t)n_out;
    if (opset >= 18 && mof_node_has_attr(node, "num_outputs")) {
        parts = mof_node_attr_int(node, "num_outputs", 0);
        if (parts != (int64_t)n_out) {
            if (kc)
                mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                 "num_outputs is %" PRId64 " but the node has %zu outputs",
                                 parts, n_out);
            return MOF_ERR_INVALID_MODEL;
        }
    }
    if (parts <= 0) {
        if (kc)
            mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "Split has no outputs");
        return MOF_ERR_INVALID_MODEL;
    }
    if (d < 0) {
        for (size_t i = 0; i < n_out; i++)
            sizes[i] = -1;
        return MOF_OK;
    }
    if (opset < 18 && d % parts) {
        if (kc)
            mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                             "a dim of %" PRId64 " does not split into %" PRId64
                             " equal parts", d, parts);
        return MOF_ERR_INVALID_MODEL;
    }
    /* Opset 18: parts of ceil(d / n), the last one what remains. */
    int64_t chunk = (d + parts - 1) / parts, left = d;
    for (size_t i = 0; i < n_out; i++) {
        sizes[i] = left < chunk ? left : chunk;
        left -= sizes[i];
    }
    return MOF_OK;
}

static mof_status k_split(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                          size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = x->rank;
    if (r == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "cannot split a scalar");
    int64_t axis;
    if ((st = mof_kernel_axis(kc, 0, (int64_t)r, &axis)) != MOF_OK)
        return st;
    int64_t *split = NULL;
    size_t n_split = 0;
    bool have = false;
    const mof_tensor *si = mof_kernel_input(n_in, in, 1);
    if ((kc->opset >= 13 || kc->opset < 2) && si) {
        have = true;
        st = get_ints(kc, si, "split", &split, &n_split);
    } else if (kc->opset < 13 && mof_node_has_attr(kc->node, "split")) {
        have = true;
        st = attr_ints(kc, "split", &split, &n_split);
    }
    if (st != MOF_OK)
        return st;
    int64_t *sizes = mof_calloc(n_out, sizeof(*sizes));
    int64_t *dims = mof_calloc(r, sizeof(*dims));
    int64_t *xs = mof_calloc(r, sizeof(*xs));
    if (!sizes || !dims || !xs) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    st = split_sizes(kc, kc->node, kc->opset, split, n_split, have, x->dims[axis], n_out,
                     sizes);
    if (st != MOF_OK)
        goto done;
    mof_strides(r, x->dims, xs);
    memcpy(dims, x->dims, r * sizeof(*dims));
    int64_t pos = 0;
    for (size_t i = 0; i < n_out; i++) {
        dims[axis] = sizes[i];
        if (mof_node_output(kc->node, i) &&
            (st = read_strided(kc, x, r, dims, pos * xs[axis], r, dims, xs, &out[i])) != MOF_OK)
            goto done;
        pos += sizes[i];
    }
done:
    if (st != MOF_OK) {
        for (size_t i = 0; i < n_out; i++) {
            mof_tensor_unref(out[i]);
            out[i] = NULL;
        }
    }
    free(split);
    free(sizes);
    free(dims);
    free(xs);
    return st;
}

static mof_status infer_split(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    mof_status st = MOF_OK;
    if (x->rank <= 0) {
        for (size_t i = 0; i < ic->n_out && st == MOF_OK; i++)
            st = mof_infer_set_rank(ic, i, x->dtype, x->rank);
        return st;
    }
    int r = x->rank;
    int64_t axis;
    if ((st = mof_infer_axis(ic, 0, r, &axis)) != MOF_OK)
        return st;
    int64_t *split = NULL;
    size_t n_split = 0;
    bool have = false, known = true;
    const mof_shape *si = mof_infer_input(ic, 1);
    if ((ic->opset >= 13 || ic->opset < 2) && si) {
        have = true;
        known = known_ints(si, &split, &n_split);
    } else if (ic->opset < 13 && mof_node_has_attr(ic->node, "split")) {
        const int64_t *a = mof_node_attr_ints(ic->node, "split", &n_split);
        have = true;
        split = mof_calloc(n_split, sizeof(*split));
        if (!split)
            return MOF_ERR_NOMEM;
        if (n_split)
            memcpy(split, a, n_split * sizeof(*split));
    }
    int64_t *sizes = mof_calloc(ic->n_out, sizeof(*sizes));
    if (!sizes) {
        free(split);
        return MOF_ERR_NOMEM;
    }
    if (!known) {
        for (size_t i = 0; i < ic->n_out; i++)
            sizes[i] = -1;
    } else if (split_sizes(NULL, ic->node, ic->opset, split, n_split, have, x->dims[axis],
                           ic->n_out, sizes) != MOF_OK) {
        st = mof_infer_error(ic, "the split does not fit a dim of %" PRId64
                             " into %zu outputs", x->dims[axis], ic->n_out);
    }
    for (size_t i = 0; i < ic->n_out && st == MOF_OK; i++) {
        mof_dimvec o;
        if (mof_dimvec_init(&o, r) != MOF_OK) {
            st = MOF_ERR_NOMEM;
            break;
        }
        for (int d = 0; d < r; d++)
            mof_dimvec_take(&o, d, x, d);
        /* One part of a symbolic dim is that dim. */
        if (!(ic->n_out == 1 && !have))
            mof_dimvec_set(&o, (int)axis, sizes[i]);
        st = mof_dimvec_emit(ic, i, x->dtype, &o);
    }
    free(split);
    free(sizes);
    return st;
}

/* ------------------------------------------------------------------ Slice */

/* Clamps one axis of a Slice per the ONNX rules; returns the output length. */
static int64_t slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step,
                          int64_t *first)
{
    if (start < 0)
        start += dim;
    if (end < 0)
        end += dim;
    int64_t len;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        len = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        len = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    *first = start;
    return len;
}

/* Slice's parameters as lists; axes and steps may come back NULL (defaults). */
typedef struct slice_args {
    int64_t *starts, *ends, *axes, *steps;
    size_t n;
} slice_args;

static void slice_args_free(slice_args *a)
{
    free(a->starts);
    free(a->ends);
    free(a->axes);
    free(a->steps);
    *a = (slice_args){0};
}

static mof_status slice_get(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            slice_args *a)
{
    *a = (slice_args){0};
    size_t ne, na = 0, ns = 0;
    mof_status st;
    if (kc->opset < 10) {
        if ((st = attr_ints(kc, "starts", &a->starts, &a->n)) != MOF_OK ||
            (st = attr_ints(kc, "ends", &a->ends, &ne)) != MOF_OK)
            goto fail;
        if (mof_node_has_attr(kc->node, "axes") &&
            (st = attr_ints(kc, "axes", &a->axes, &na)) != MOF_OK)
            goto fail;
    } else {
        const mof_tensor *ax = mof_kernel_input(n_in, in, 3), *sp = mof_kernel_input(n_in, in, 4);
        if ((st = mof_kernel_need_input(kc, n_in, in, 1)) != MOF_OK ||
            (st = mof_kernel_need_input(kc, n_in, in, 2)) != MOF_OK ||
            (st = get_ints(kc, in[1], "starts", &a->starts, &a->n)) != MOF_OK ||
            (st = get_ints(kc, in[2], "ends", &a->ends, &ne)) != MOF_OK ||
            (ax && (st = get_ints(kc, ax, "axes", &a->axes, &na)) != MOF_OK) ||
            (sp && (st = get_ints(kc, sp, "steps", &a->steps, &ns)) != MOF_OK))
            goto fail;
        if (!ax)
            na = a->n;
        if (!sp)
            ns = a->n;
    }
    if (!a->axes)
        na = a->n;
    if (ne != a->n || na != a->n || (a->steps && ns != a->n)) {
        st = invalid(kc, "starts, ends, axes and steps differ in length");
        goto fail;
    }
    return MOF_OK;
fail:
    slice_args_free(a);
    return st;
}

static mof_status k_slice(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                          size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    slice_args a;
    if (st != MOF_OK || (st = slice_get(kc, n_in, in, &a)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = x->rank, rr = r ? r : 1;
    int64_t *dims = mof_calloc(rr, sizeof(*dims));
    int64_t *xs = mof_calloc(rr, sizeof(*xs));
    int64_t *ss = mof_calloc(rr, sizeof(*ss));
    bool *seen = mof_calloc(rr, sizeof(*seen));
    if (!dims || !xs || !ss || !seen) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    mof_strides(r, x->dims, xs);
    memcpy(dims, x->dims, r * sizeof(*dims));
    memcpy(ss, xs, r * sizeof(*ss));
    int64_t off = 0;
    for (size_t i = 0; i < a.n; i++) {
        int64_t axis, first;
        st = mof_kernel_norm_axis(kc, a.axes ? a.axes[i] : (int64_t)i, (int64_t)r, &axis);
        if (st != MOF_OK)
            goto done;
        if (seen[axis]) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "axis %" PRId64 " is repeated",
                                  axis);
            goto done;
        }
        seen[axis] = true;
        int64_t step = a.steps ? a.steps[i] : 1;
        if (step == 0) {
            st = invalid(kc, "a step is 0");
            goto done;
        }
        dims[axis] = slice_axis(x->dims[axis], a.starts[i], a.ends[i], step, &first);
        if (dims[axis] > 0)
            off += first * xs[axis];
        ss[axis] = xs[axis] * step;
    }
    st = read_strided(kc, x, r, dims, off, r, dims, ss, &out[0]);
done:
    slice_args_free(&a);
    free(dims);
    free(xs);
    free(ss);
    free(seen);
    return st;
}

static mof_status infer_slice(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int r = x->rank;
    slice_args a = {0};
    size_t ne = 0, na = 0, ns = 0;
    bool known = true;
    if (ic->opset < 10) {
        const int64_t *v = mof_node_attr_ints(ic->node, "starts", &a.n);
        a.starts = mof_calloc(a.n, sizeof(int64_t));
        const int64_t *e = mof_node_attr_ints(ic->node, "ends", &ne);
        a.ends = mof_calloc(ne, sizeof(int64_t));
        if (!a.starts || !a.ends) {
            slice_args_free(&a);
            return MOF_ERR_NOMEM;
        }
        if (a.n)
            memcpy(a.starts, v, a.n * sizeof(int64_t));
        if (ne)
            memcpy(a.ends, e, ne * sizeof(int64_t));
        if (mof_node_has_attr(ic->node, "axes")) {
            const int64_t *ax = mof_node_attr_ints(ic->node, "axes", &na);
            if (!(a.axes = mof_calloc(na, sizeof(int64_t)))) {
                slice_args_free(&a);
                return MOF_ERR_NOMEM;
            }
            if (na)
                memcpy(a.axes, ax, na * sizeof(int64_t));
        } else {
            na = a.n;
        }
        ns = a.n;
    } else {
        known = known_ints(mof_infer_input(ic, 1), &a.starts, &a.n) &&
                known_ints(mof_infer_input(ic, 2), &a.ends, &ne);
        na = ns = a.n;
        if (known && mof_infer_input(ic, 3))
            known = known_ints(mof_infer_input(ic, 3), &a.axes, &na);
        if (known && mof_infer_input(ic, 4))
            known = known_ints(mof_infer_input(ic, 4), &a.steps, &ns);
    }
    mof_dimvec o;
    if (mof_dimvec_init(&o, r) != MOF_OK) {
        slice_args_free(&a);
        return MOF_ERR_NOMEM;
    }
    for (int d = 0; d < r; d++)
        mof_dimvec_take(&o, d, x, d);
    mof_status st = MOF_OK;
    if (!known) {
        /* Unknown starts or ends: the rank stays, every dim may change. */
        for (int d = 0; d < r; d++)
            mof_dimvec_set(&o, d, -1);
        goto emit;
    }
    if (ne != a.n || na != a.n || ns != a.n) {
        st = mof_infer_error(ic, "starts, ends, axes and steps differ in length");
        goto done;
    }
    for (size_t i = 0; i < a.n; i++) {
        int64_t axis = a.axes ? a.axes[i] : (int64_t)i;
        if (axis < 0)
            axis += r;
        if (axis < 0 || axis >= r) {
            st = mof_infer_error(ic, "axis %" PRId64 " is out of range for rank %d",
                                 a.axes ? a.axes[i] : (int64_t)i, r);
            goto done;
        }
        int64_t step = a.steps ? a.steps[i] : 1, first;
        if (step == 0) {
            st = mof_infer_error(ic, "a step is 0");
            goto done;
        }
        if (x->dims[axis] >= 0) {
            mof_dimvec_set(&o, (int)axis,
                           slice_axis(x->dims[axis], a.starts[i], a.ends[i], step, &first));
        } else {
            /* A symbolic dim survives a slice that keeps all of it. */
            bool all = step == 1 ? a.starts[i] == 0 && a.ends[i] >= INT32_MAX
                     : step == -1 ? a.starts[i] == -1 && a.ends[i] <= INT32_MIN
                                  : false;
            if (!all)
                mof_dimvec_set(&o, (int)axis, -1);
        }
    }
emit:
    st = mof_dimvec_emit(ic, 0, x->dtype, &o);
done:
    mof_dimvec_free(&o);
    slice_args_free(&a);
    return st;
}

/* ------------------------------------------------------------------ Gather family */

/* Reads index i of an int32/int64 index tensor and wraps a negative one; false when
 * out of [-dim, dim). */
static bool get_index(const mof_tensor *t, int64_t i, int64_t dim, int64_t *out)
{
    int64_t v = t->dtype == MOF_DTYPE_INT32 ? ((const int32_t *)t->data)[i]
                                            : ((const int64_t *)t->data)[i];
    if (v < -dim || v >= dim)
        return false;
    *out = v < 0 ? v + dim : v;
    return true;
}

static mof_status check_indices(mof_kernel_ctx *kc, const mof_tensor *t)
{
    if (t->dtype != MOF_DTYPE_INT32 && t->dtype != MOF_DTYPE_INT64)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "indices must be int32 or int64, not %s",
                                mof_dtype_name(t->dtype));
    return MOF_OK;
}

static mof_status bad_index(mof_kernel_ctx *kc, const mof_tensor *t, int64_t i, int64_t dim)
{
    return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                            "index %" PRId64 " is out of range for a dim of %" PRId64,
                            mof_tensor_get_i64(t, i), dim);
}

static mof_status k_gather(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK ||
        (st = check_indices(kc, in[1])) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *ind = in[1];
    size_t r = x->rank, q = ind->rank;
    if (r == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "cannot gather from a scalar");
    int64_t axis;
    if ((st = mof_kernel_axis(kc, 0, (int64_t)r, &axis)) != MOF_OK)
        return st;
    size_t ro = r - 1 + q;
    int64_t *dims = mof_calloc(ro ? ro : 1, sizeof(*dims));
    if (!dims)
        return mof_kernel_nomem(kc);
    int64_t outer = 1, inner = 1, dim = x->dims[axis];
    size_t k = 0;
    for (size_t i = 0; i < (size_t)axis; i++) {
        dims[k++] = x->dims[i];
        outer *= x->dims[i];
    }
    for (size_t i = 0; i < q; i++)
        dims[k++] = ind->dims[i];
    for (size_t i = (size_t)axis + 1; i < r; i++) {
        dims[k++] = x->dims[i];
        inner *= x->dims[i];
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, ro, dims);
    free(dims);
    if (!y)
        return MOF_ERR_NOMEM;
    int64_t n = ind->numel;
    for (int64_t j = 0; j < n; j++) {
        int64_t v;
        if (!get_index(ind, j, dim, &v)) {
            mof_tensor_unref(y);
            return bad_index(kc, ind, j, dim);
        }
        for (int64_t o = 0; o < outer; o++) {
            if (!mof_tensor_copy_elems(y, (o * n + j) * inner, x, (o * dim + v) * inner, inner)) {
                mof_tensor_unref(y);
                return mof_kernel_nomem(kc);
            }
        }
    }
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_gather(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0), *ind = mof_infer_input(ic, 1);
    if (!x)
        return MOF_OK;
    if (x->rank < 0 || !ind || ind->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int r = x->rank, q = ind->rank;
    int64_t axis;
    mof_status st = mof_infer_axis(ic, 0, r, &axis);
    if (st != MOF_OK)
        return st;
    mof_dimvec o;
    if (mof_dimvec_init(&o, r - 1 + q) != MOF_OK)
        return MOF_ERR_NOMEM;
    int k = 0;
    for (int i = 0; i < axis; i++)
        mof_dimvec_take(&o, k++, x, i);
    for (int i = 0; i < q; i++)
        mof_dimvec_take(&o, k++, ind, i);
    for (int i = (int)axis + 1; i < r; i++)
        mof_dimvec_take(&o, k++, x, i);
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

/* GatherElements / ScatterElements: the data offset of each element of the indices
 * (offs, owned): its own coordinates, the index along the axis. */
static mof_status elements_offsets(mof_kernel_ctx *kc, const mof_tensor *x,
                                   const mof_tensor *ind, int64_t **offs)
{
    size_t r = x->rank;
    int64_t axis;
    *offs = NULL;
    mof_status st = mof_kernel_axis(kc, 0, (int64_t)r, &axis);
    if (st != MOF_OK)
        return st;
    int64_t *xs = mof_calloc(r, sizeof(*xs));
    int64_t *idx = mof_calloc(r, sizeof(*idx));
    int64_t *o = mof_calloc((size_t)ind->numel, sizeof(*o));
    if (!xs || !idx || !o) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    mof_strides(r, x->dims, xs);
    for (int64_t j = 0; j < ind->numel; j++) {
        int64_t off = 0, v;
        if (!get_index(ind, j, x->dims[axis], &v)) {
            st = bad_index(kc, ind, j, x->dims[axis]);
            goto done;
        }
        for (size_t d = 0; d < r; d++) {
            int64_t c = (int64_t)d == axis ? v : idx[d];
            if (c >= x->dims[d]) {
                st = invalid(kc, "indices are larger than data outside the axis");
                goto done;
            }
            off += c * xs[d];
        }
        o[j] = off;
        for (size_t d = r; d-- > 0;) {
            if (++idx[d] < ind->dims[d])
                break;
            idx[d] = 0;
        }
    }
done:
    free(xs);
    free(idx);
    if (st == MOF_OK)
        *offs = o;
    else
        free(o);
    return st;
}

static mof_status k_gather_elements(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                    size_t n_out, mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK ||
        (st = check_indices(kc, in[1])) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *ind = in[1];
    if (x->rank == 0 || ind->rank != x->rank)
        return invalid(kc, "data and indices must have the same rank, at least 1");
    int64_t *offs;
    if ((st = elements_offsets(kc, x, ind, &offs)) != MOF_OK)
        return st;
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, x->rank, ind->dims);
    st = y ? MOF_OK : MOF_ERR_NOMEM;
    for (int64_t j = 0; st == MOF_OK && j < ind->numel; j++)
        if (!mof_tensor_copy_elems(y, j, x, offs[j], 1))
            st = mof_kernel_nomem(kc);
    mof_kernel_set_output(st, y, &out[0]);
    free(offs);
    return st;
}

static mof_status infer_gather_elements(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0), *ind = mof_infer_input(ic, 1);
    if (!x)
        return MOF_OK;
    if (!ind)
        return mof_infer_set_rank(ic, 0, x->dtype, x->rank);
    mof_status st = mof_shape_set(&ic->out[0], x->dtype, ind->rank, ind->dims, ind->syms);
    return st;
}

/* GatherND's geometry: batch count, tuples per batch, tuple length, slice size. */
typedef struct gnd {
    int64_t batch, tuples, last, slice, data_batch;
} gnd;

static mof_status gathernd_geometry(mof_kernel_ctx *kc, const mof_tensor *x,
                                    const mof_tensor *ind, int64_t b, gnd *g)
{
    size_t r = x->rank, q = ind->rank;
    if (b < 0 || q < 1 || r < 1 || (size_t)b >= q || (size_t)b >= r)
        return invalid(kc, "batch_dims must be less than the ranks of data and indices");
    g->last = ind->dims[q - 1];
    if (g->last < 1 || (size_t)(b + g->last) > r)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "index tuples of %" PRId64 " do not fit data of rank %zu",
                                g->last, r);
    g->batch = 1;
    for (size_t i = 0; i < (size_t)b; i++) {
        if (x->dims[i] != ind->dims[i])
            return invalid(kc, "the batch dims of data and indices differ");
        g->batch *= x->dims[i];
    }
    g->tuples = 1;
    for (size_t i = (size_t)b; i + 1 < q; i++)
        g->tuples *= ind->dims[i];
    g->slice = 1;
    for (size_t i = (size_t)(b + g->last); i < r; i++)
        g->slice *= x->dims[i];
    g->data_batch = 1;
    for (size_t i = (size_t)b; i < r; i++)
        g->data_batch *= x->dims[i];
    return MOF_OK;
}

/* The data offset of tuple t (of batch bt) of a GatherND / ScatterND, or -1 when an
 * index is out of range. */
static int64_t gathernd_offset(const mof_tensor *x, const mof_tensor *ind, int64_t b,
                               const gnd *g, const int64_t *xs, int64_t bt, int64_t t)
{
    int64_t off = bt * g->data_batch;
    int64_t base = (bt * g->tuples + t) * g->last;
    for (int64_t k = 0; k < g->last; k++) {
        int64_t v;
        if (!get_index(ind, base + k, x->dims[b + k], &v))
            return -1;
        off += v * xs[b + k];
    }
    return off;
}

static mof_status k_gathernd(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *ind = in[1];
    if (ind->dtype != MOF_DTYPE_INT64)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "indices must be int64, not %s",
                                mof_dtype_name(ind->dtype));
    int64_t b = kc->opset >= 12 ? mof_node_attr_int(kc->node, "batch_dims", 0) : 0;
    gnd g;
    if ((st = gathernd_geometry(kc, x, ind, b, &g)) != MOF_OK)
        return st;
    size_t r = x->rank, q = ind->rank;
    size_t ro = q - 1 + r - (size_t)(b + g.last);
    int64_t *dims = mof_calloc(ro ? ro : 1, sizeof(*dims));
    int64_t *xs = mof_calloc(r, sizeof(*xs));
    mof_tensor *y = NULL;
    if (!dims || !xs) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i + 1 < q; i++)
        dims[k++] = ind->dims[i];
    for (size_t i = (size_t)(b + g.last); i < r; i++)
        dims[k++] = x->dims[i];
    mof_strides(r, x->dims, xs);
    if (!(y = mof_kernel_new_tensor(kc, x->dtype, ro, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    for (int64_t bt = 0; bt < g.batch; bt++) {
        for (int64_t t = 0; t < g.tuples; t++) {
            int64_t off = gathernd_offset(x, ind, b, &g, xs, bt, t);
            if (off < 0) {
                st = invalid(kc, "an index is out of range");
                goto done;
            }
            if (!mof_tensor_copy_elems(y, (bt * g.tuples + t) * g.slice, x, off, g.slice)) {
                st = mof_kernel_nomem(kc);
                goto done;
            }
        }
    }
done:
    mof_kernel_set_output(st, y, &out[0]);
    free(dims);
    free(xs);
    return st;
}

static mof_status infer_gathernd(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0), *ind = mof_infer_input(ic, 1);
    if (!x)
        return MOF_OK;
    if (x->rank < 0 || !ind || ind->rank < 1 || ind->dims[ind->rank - 1] < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int64_t b = ic->opset >= 12 ? mof_node_attr_int(ic->node, "batch_dims", 0) : 0;
    int r = x->rank, q = ind->rank;
    int64_t last = ind->dims[q - 1];
    if (b < 0 || b >= q || b + last > r)
        return mof_infer_error(ic, "index tuples of %" PRId64 " do not fit data of rank %d",
                               last, r);
    mof_dimvec o;
    if (mof_dimvec_init(&o, q - 1 + r - (int)(b + last)) != MOF_OK)
        return MOF_ERR_NOMEM;
    int k = 0;
    for (int i = 0; i + 1 < q; i++) {
        mof_dimvec_take(&o, k, ind, i);
        if (i < b && o.dims[k] < 0 && x->dims[i] >= 0)
            mof_dimvec_take(&o, k, x, i);
        k++;
    }
    for (int i = (int)(b + last); i < r; i++)
        mof_dimvec_take(&o, k++, x, i);
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

/* ------------------------------------------------------------------ Scatter family */

typedef enum reduction { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction;

/* The reduction attribute: add / mul from opset 16, max / min from opset 18. */
static mof_status get_reduction(mof_kernel_ctx *kc, reduction *red)
{
    *red = RED_NONE;
    if (kc->opset < 16)
        return MOF_OK;
    const char *s = mof_node_attr_string(kc->node, "reduction", "none", NULL);
    if (!strcmp(s, "none"))
        *red = RED_NONE;
    else if (!strcmp(s, "add"))
        *red = RED_ADD;
    else if (!strcmp(s, "mul"))
        *red = RED_MUL;
    else if (kc->opset >= 18 && !strcmp(s, "max"))
        *red = RED_MAX;
    else if (kc->opset >= 18 && !strcmp(s, "min"))
        *red = RED_MIN;
    else
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "unknown reduction '%s'", s);
    return MOF_OK;
}

/* y[yi] = reduce(y[yi], u[ui]); false when out of memory. Floating types compute in
 * double (one rounding to the element type, as the type's own operation would);
 * integers wrap as two's complement. */
static bool scatter_apply(mof_tensor *y, int64_t yi, const mof_tensor *u, int64_t ui,
                          reduction red)
{
    if (red == RED_NONE)
        return mof_tensor_copy_elems(y, yi, u, ui, 1);
    if (mof_dtype_is_float(y->dtype)) {
        double a = mof_tensor_get_f64(y, yi), b = mof_tensor_get_f64(u, ui), v;
        switch (red) {
        case RED_ADD: v = a + b; break;
        case RED_MUL: v = a * b; break;
        case RED_MAX: v = isnan(a) || isnan(b) ? NAN : a > b ? a : b; break;
        default: v = isnan(a) || isnan(b) ? NAN : a < b ? a : b; break;
        }
        mof_tensor_set_f64(y, yi, v);
        return true;
    }
    int64_t a = mof_tensor_get_i64(y, yi), b = mof_tensor_get_i64(u, ui), v;
    bool gt = y->dtype == MOF_DTYPE_UINT64 ? (uint64_t)a > (uint64_t)b : a > b;
    switch (red) {
    case RED_ADD: v = (int64_t)((uint64_t)a + (uint64_t)b); break;
    case RED_MUL: v = (int64_t)((uint64_t)a * (uint64_t)b); break;
    case RED_MAX: v = gt ? a : b; break;
    default: v = gt ? b : a; break;
    }
    mof_tensor_set_i64(y, yi, v);
    return true;
}

/* The output of a scatter: a copy of the data. */
static mof_tensor *scatter_start(mof_kernel_ctx *kc, const mof_tensor *x, const mof_tensor *u,
                                 reduction red)
{
    if (u->dtype != x->dtype) {
        invalid(kc, "updates and data differ in type");
        return NULL;
    }
    if (red != RED_NONE && !mof_dtype_is_numeric(x->dtype)) {
        unsupported_type(kc, "a scatter reduction", x->dtype);
        return NULL;
    }
    return copy_reshaped(kc, x, x->rank, x->dims);
}

static mof_status k_scatternd(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              size_t n_out, mof_tensor **out)
{
    mof_status st;
    reduction red;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 3)) != MOF_OK ||
        (st = get_reduction(kc, &red)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *ind = in[1], *u = in[2];
    if (ind->dtype != MOF_DTYPE_INT64)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "indices must be int64, not %s",
                                mof_dtype_name(ind->dtype));
    gnd g;
    if ((st = gathernd_geometry(kc, x, ind, 0, &g)) != MOF_OK)
        return st;
    /* updates: indices.shape[:-1] + data.shape[last:] */
    size_t q = ind->rank, r = x->rank;
    bool ok = u->rank == q - 1 + r - (size_t)g.last;
    for (size_t i = 0; ok && i + 1 < q; i++)
        ok = u->dims[i] == ind->dims[i];
    for (size_t i = (size_t)g.last; ok && i < r; i++)
        ok = u->dims[q - 1 + i - (size_t)g.last] == x->dims[i];
    if (!ok)
        return invalid(kc, "updates do not have the shape indices[:-1] + data[last:]");
    int64_t *xs = mof_calloc(r, sizeof(*xs));
    mof_tensor *y = xs ? scatter_start(kc, x, u, red) : NULL;
    if (!y) {
        st = xs ? MOF_ERR_INVALID_MODEL : mof_kernel_nomem(kc);
        goto done;
    }
    mof_strides(r, x->dims, xs);
    for (int64_t t = 0; t < g.tuples; t++) {
        int64_t off = gathernd_offset(x, ind, 0, &g, xs, 0, t);
        if (off < 0) {
            st = invalid(kc, "an index is out of range");
            goto done;
        }
        for (int64_t s = 0; s < g.slice; s++) {
            if (!scatter_apply(y, off + s, u, t * g.slice + s, red)) {
                st = mof_kernel_nomem(kc);
                goto done;
            }
        }
    }
done:
    mof_kernel_set_output(st, y, &out[0]);
    free(xs);
    return st;
}

static mof_status k_scatter_elements(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                     size_t n_out, mof_tensor **out)
{
    mof_status st;
    reduction red;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 3)) != MOF_OK ||
        (st = check_indices(kc, in[1])) != MOF_OK || (st = get_reduction(kc, &red)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *ind = in[1], *u = in[2];
    size_t r = x->rank;
    if (r == 0 || ind->rank != r || u->rank != r)
        return invalid(kc, "data, indices and updates must have the same rank");
    for (size_t d = 0; d < r; d++)
        if (u->dims[d] != ind->dims[d])
            return invalid(kc, "updates and indices differ in shape");
    int64_t *offs;
    if ((st = elements_offsets(kc, x, ind, &offs)) != MOF_OK)
        return st;
    mof_tensor *y = scatter_start(kc, x, u, red);
    st = y ? MOF_OK : MOF_ERR_INVALID_MODEL;
    for (int64_t j = 0; st == MOF_OK && j < ind->numel; j++)
        if (!scatter_apply(y, offs[j], u, j, red))
            st = mof_kernel_nomem(kc);
    mof_kernel_set_output(st, y, &out[0]);
    free(offs);
    return st;
}

/* ------------------------------------------------------------------ Expand, Tile */

static mof_status k_expand(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    mof_status st;
    int64_t *shape = NULL;
    size_t n = 0;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK ||
        (st = get_ints(kc, in[1], "the shape input", &shape, &n)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = x->rank, ro = r > n ? r : n;
    int64_t *dims = mof_calloc(ro ? ro : 1, sizeof(*dims));
    int64_t *xs = mof_calloc(r ? r : 1, sizeof(*xs));
    int64_t *ss = mof_calloc(ro ? ro : 1, sizeof(*ss));
    if (!dims || !xs || !ss) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    mof_strides(r, x->dims, xs);
    for (size_t i = 0; i < ro; i++) {
        int64_t xd = i + r >= ro ? x->dims[i + r - ro] : 1;
        int64_t sd = i + n >= ro ? shape[i + n - ro] : 1;
        if (sd < 0) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the shape has a dim of %" PRId64,
                                  sd);
            goto done;
        }
        if (xd == sd || sd == 1)
            dims[i] = xd;
        else if (xd == 1)
            dims[i] = sd;
        else {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "cannot expand a dim of %" PRId64 " to %" PRId64, xd, sd);
            goto done;
        }
        ss[i] = i + r >= ro && xd == dims[i] ? xs[i + r - ro] : 0;
    }
    st = read_strided(kc, x, ro, dims, 0, ro, dims, ss, &out[0]);
done:
    free(shape);
    free(dims);
    free(xs);
    free(ss);
    return st;
}

static mof_status infer_expand(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    int64_t *shape;
    size_t n;
    if (!known_ints(mof_infer_input(ic, 1), &shape, &n)) {
        int64_t len = known_len(mof_infer_input(ic, 1));
        int rank = x->rank < 0 || len < 0 ? -1 : x->rank > len ? x->rank : (int)len;
        return mof_infer_set_rank(ic, 0, x->dtype, rank);
    }
    if (x->rank < 0) {
        free(shape);
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    }
    int r = x->rank, ro = r > (int)n ? r : (int)n;
    mof_dimvec o;
    if (mof_dimvec_init(&o, ro) != MOF_OK) {
        free(shape);
        return MOF_ERR_NOMEM;
    }
    mof_status st = MOF_OK;
    for (int i = 0; i < ro; i++) {
        int xi = i + r - ro;
        int64_t sd = i + (int)n >= ro ? shape[i + (int)n - ro] : 1;
        if (xi < 0) {
            mof_dimvec_set(&o, i, sd);
        } else if (sd == 1) {
            mof_dimvec_take(&o, i, x, xi);
        } else if (x->dims[xi] >= 0 && x->dims[xi] != 1 && x->dims[xi] != sd) {
            st = mof_infer_error(ic, "cannot expand a dim of %" PRId64 " to %" PRId64,
                                 x->dims[xi], sd);
            break;
        } else {
            mof_dimvec_set(&o, i, sd);
        }
    }
    free(shape);
    if (st != MOF_OK) {
        mof_dimvec_free(&o);
        return st;
    }
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

static mof_status k_tile(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    mof_status st;
    int64_t *rep = NULL;
    size_t n = 0;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 2)) != MOF_OK ||
        (st = get_ints(kc, in[1], "repeats", &rep, &n)) != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = x->rank;
    if (n != r) {
        free(rep);
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "repeats has %zu entries for rank %zu", n, r);
    }
    /* The output viewed with rank 2r as [rep0, d0, rep1, d1, ...] is the input
     * broadcast along the rep dims. */
    size_t rv = r ? 2 * r : 1;
    int64_t *dims = mof_calloc(r ? r : 1, sizeof(*dims));
    int64_t *vd = mof_calloc(rv, sizeof(*vd));
    int64_t *ss = mof_calloc(rv, sizeof(*ss));
    int64_t *xs = mof_calloc(r ? r : 1, sizeof(*xs));
    if (!dims || !vd || !ss || !xs) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    mof_strides(r, x->dims, xs);
    for (size_t i = 0; i < r; i++) {
        if (rep[i] < 0) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "repeats[%zu] is negative", i);
            goto done;
        }
        dims[i] = x->dims[i] * rep[i];
        vd[2 * i] = rep[i];
        vd[2 * i + 1] = x->dims[i];
        ss[2 * i] = 0;
        ss[2 * i + 1] = xs[i];
    }
    st = read_strided(kc, x, r, dims, 0, 2 * r, vd, ss, &out[0]);
done:
    free(rep);
    free(dims);
    free(vd);
    free(ss);
    free(xs);
    return st;
}

static mof_status infer_tile(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int64_t *rep;
    size_t n;
    mof_dimvec o;
    if (mof_dimvec_init(&o, x->rank) != MOF_OK)
        return MOF_ERR_NOMEM;
    if (!known_ints(mof_infer_input(ic, 1), &rep, &n))
        return mof_dimvec_emit(ic, 0, x->dtype, &o);
    if (n != (size_t)x->rank) {
        free(rep);
        mof_dimvec_free(&o);
        return mof_infer_error(ic, "repeats has %zu entries for rank %d", n, x->rank);
    }
    for (int i = 0; i < x->rank; i++) {
        if (rep[i] == 1)
            mof_dimvec_take(&o, i, x, i);
        else if (x->dims[i] >= 0 && rep[i] >= 0)
            mof_dimvec_set(&o, i, x->dims[i] * rep[i]);
    }
    free(rep);
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

/* ------------------------------------------------------------------ Pad */

typedef enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

static bool pad_mode_parse(const char *s, int64_t opset, pad_mode *m)
{
    if (!strcmp(s, "constant"))
        *m = PAD_CONSTANT;
    else if (!strcmp(s, "reflect"))
        *m = PAD_REFLECT;
    else if (!strcmp(s, "edge"))
        *m = PAD_EDGE;
    else if (opset >= 19 && !strcmp(s, "wrap"))
        *m = PAD_WRAP;
    else
        return false;
    return true;
}

/* Per-dim begin and end pads of a Pad node over rank r: from the attribute (pads, or
 * paddings before opset 2) or input 1, restricted to input 3's axes from opset 18.
 * pads[] receives 2r entries. */
static mof_status pad_amounts(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                              size_t r, int64_t *pads)
{
    int64_t *p = NULL, *axes = NULL;
    size_t n = 0, na = r;
    mof_status st;
    if (kc->opset < 11)
        st = attr_ints(kc, kc->opset < 2 ? "paddings" : "pads", &p, &n);
    else if ((st = mof_kernel_need_input(kc, n_in, in, 1)) == MOF_OK)
        st = get_ints(kc, in[1], "pads", &p, &n);
    if (st != MOF_OK)
        return st;
    const mof_tensor *ax = kc->opset >= 18 ? mof_kernel_input(n_in, in, 3) : NULL;
    if (ax && (st = get_ints(kc, ax, "axes", &axes, &na)) != MOF_OK)
        goto done;
    if (n != 2 * na) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                              "pads has %zu entries for %zu axes", n, na);
        goto done;
    }
    memset(pads, 0, 2 * r * sizeof(*pads));
    for (size_t i = 0; i < na; i++) {
        int64_t a = (int64_t)i;
        if (axes && (st = mof_kernel_norm_axis(kc, axes[i], (int64_t)r, &a)) != MOF_OK)
            goto done;
        pads[a] = p[i];
        pads[r + (size_t)a] = p[na + i];
    }
done:
    free(p);
    free(axes);
    return st;
}

/* The padded coordinate c (in input coordinates) mapped into [0, d), or -1 for the
 * constant. */
static int64_t pad_source(pad_mode m, int64_t c, int64_t d)
{
    if (c >= 0 && c < d)
        return c;
    switch (m) {
    case PAD_CONSTANT:
        return -1;
    case PAD_EDGE:
        return c < 0 ? 0 : d - 1;
    case PAD_WRAP:
        return ((c % d) + d) % d;
    case PAD_REFLECT:
    default: {
        if (d == 1)
            return 0;
        int64_t period = 2 * (d - 1), k = ((c % period) + period) % period;
        return k < d ? k : period - k;
    }
    }
}

static mof_status k_pad(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                        mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    size_t r = x->rank;
    pad_mode mode;
    const char *ms = mof_node_attr_string(kc->node, "mode", "constant", NULL);
    if (!pad_mode_parse(ms, kc->opset, &mode))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "unknown mode '%s'", ms);
    int64_t *pads = mof_calloc(2 * r, sizeof(*pads));
    int64_t *dims = mof_calloc(r ? r : 1, sizeof(*dims));
    int64_t **maps = mof_calloc(r ? r : 1, sizeof(*maps));
    mof_tensor *y = NULL, *fill = NULL;
    if (!pads || !dims || !maps) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    if ((st = pad_amounts(kc, n_in, in, r, pads)) != MOF_OK)
        goto done;
    for (size_t i = 0; i < r; i++) {
        dims[i] = x->dims[i] + pads[i] + pads[r + i];
        if (dims[i] < 0) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "pads make dim %zu negative", i);
            goto done;
        }
        if (mode != PAD_CONSTANT && x->dims[i] == 0 && dims[i] > 0) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                  "cannot pad an empty dim in %s mode", ms);
            goto done;
        }
        if (!(maps[i] = mof_calloc((size_t)dims[i], sizeof(int64_t)))) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
        for (int64_t o = 0; o < dims[i]; o++)
            maps[i][o] = pad_source(mode, o - pads[i], x->dims[i]);
    }
    /* The constant, as one element of the data's type. */
    const mof_tensor *cv = kc->opset >= 11 ? mof_kernel_input(n_in, in, 2) : NULL;
    if (cv && cv->numel >= 1) {
        if (cv->dtype != x->dtype) {
            st = invalid(kc, "constant_value and data differ in type");
            goto done;
        }
        if (cv->numel != 1) {
            st = invalid(kc, "constant_value is not a scalar");
            goto done;
        }
        fill = copy_reshaped(kc, cv, 0, NULL);
    } else {
        fill = mof_kernel_new_tensor(kc, x->dtype, 0, NULL);
        if (fill && kc->opset < 11 && x->dtype != MOF_DTYPE_STRING)
            mof_tensor_set_f64(fill, 0, mof_node_attr_float(kc->node, "value", 0.0f));
    }
    if (!fill) {
        if (st == MOF_OK)
            st = MOF_ERR_NOMEM;
        goto done;
    }
    if (!(y = mof_kernel_new_tensor(kc, x->dtype, r, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    st = copy_mapped(kc, y, x, maps, fill);
done:
    mof_kernel_set_output(st, y, &out[0]);
    mof_tensor_unref(fill);
    if (maps)
        for (size_t i = 0; i < r; i++)
            free(maps[i]);
    free(maps);
    free(pads);
    free(dims);
    return st;
}

static mof_status infer_pad(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int r = x->rank;
    int64_t *p = NULL, *axes = NULL;
    size_t n = 0, na = (size_t)r;
    bool known = true, have_axes = false;
    if (ic->opset < 11) {
        const int64_t *a = mof_node_attr_ints(ic->node, ic->opset < 2 ? "paddings" : "pads", &n);
        if (!(p = mof_calloc(n, sizeof(*p))))
            return MOF_ERR_NOMEM;
        if (n)
            memcpy(p, a, n * sizeof(*p));
    } else {
        known = known_ints(mof_infer_input(ic, 1), &p, &n);
        if (ic->opset >= 18 && mof_infer_input(ic, 3)) {
            have_axes = true;
            if (!known_ints(mof_infer_input(ic, 3), &axes, &na))
                known = false;
        }
    }
    mof_dimvec o;
    if (mof_dimvec_init(&o, r) != MOF_OK) {
        free(p);
        free(axes);
        return MOF_ERR_NOMEM;
    }
    mof_status st = MOF_OK;
    if (!known) {
        /* Without the pads every dim may change, unless only some axes are padded. */
        for (int d = 0; d < r; d++)
            mof_dimvec_set(&o, d, -1);
        goto emit;
    }
    if (n != 2 * na) {
        st = mof_infer_error(ic, "pads has %zu entries for %zu axes", n, na);
        goto done;
    }
    for (int d = 0; d < r; d++)
        mof_dimvec_take(&o, d, x, d);
    for (size_t i = 0; i < na; i++) {
        int64_t a = have_axes ? axes[i] : (int64_t)i;
        if (a < 0)
            a += r;
        if (a < 0 || a >= r) {
            st = mof_infer_error(ic, "axis %" PRId64 " is out of range for rank %d",
                                 have_axes ? axes[i] : (int64_t)i, r);
            goto done;
        }
        int64_t add = p[i] + p[na + i];
        if (add == 0)
            continue;
        if (x->dims[a] >= 0) {
            if (x->dims[a] + add < 0) {
                st = mof_infer_error(ic, "pads make dim %" PRId64 " negative", a);
                goto done;
            }
            mof_dimvec_set(&o, (int)a, x->dims[a] + add);
        } else {
            mof_dimvec_set(&o, (int)a, -1);
        }
    }
emit:
    st = mof_dimvec_emit(ic, 0, x->dtype, &o);
done:
    mof_dimvec_free(&o);
    free(p);
    free(axes);
    return st;
}

/* ------------------------------------------------------------------ ConstantOfShape */

static mof_status k_constant_of_shape(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                      size_t n_out, mof_tensor **out)
{
    mof_status st;
    int64_t *shape = NULL;
    size_t n = 0;
    if ((st = mof_kernel_need_input(kc, n_in, in, 0)) != MOF_OK ||
        (st = get_ints(kc, in[0], "the shape input", &shape, &n)) != MOF_OK)
        return st;
    const mof_tensor *v = mof_node_attr_tensor(kc->node, "value");
    mof_tensor *y = NULL;
    for (size_t i = 0; i < n; i++) {
        if (shape[i] < 0) {
            st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "shape[%zu] is %" PRId64, i,
                                  shape[i]);
            goto done;
        }
    }
    if (v && v->numel != 1) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                              "value must hold one element, it has %" PRId64, v->numel);
        goto done;
    }
    if (!(y = mof_kernel_new_tensor(kc, v ? v->dtype : MOF_DTYPE_FLOAT, n, shape))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    if (v) {
        for (int64_t i = 0; i < y->numel; i++) {
            if (!mof_tensor_copy_elems(y, i, v, 0, 1)) {
                st = mof_kernel_nomem(kc);
                goto done;
            }
        }
    }
done:
    mof_kernel_set_output(st, y, &out[0]);
    free(shape);
    return st;
}

static mof_status infer_constant_of_shape(mof_infer_ctx *ic)
{
    const mof_tensor *v = mof_node_attr_tensor(ic->node, "value");
    mof_dtype dt = v ? v->dtype : MOF_DTYPE_FLOAT;
    int64_t *shape;
    size_t n;
    if (!known_ints(mof_infer_input(ic, 0), &shape, &n))
        return mof_infer_set_rank(ic, 0, dt, (int)known_len(mof_infer_input(ic, 0)));
    mof_status st = mof_shape_set(&ic->out[0], dt, (int)n, shape, NULL);
    free(shape);
    return st;
}

/* ------------------------------------------------------------------ Constant */

/* The attribute of a Constant node giving its value (NULL when none). */
static const mof_attr *constant_attr(const mof_node *n)
{
    static const char *const names[] = {
        "value", "value_float", "value_floats", "value_int", "value_ints",
        "value_string", "value_strings", "sparse_value",
    };
    for (size_t i = 0; i < n->n_attrs; i++)
        for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
            if (n->attrs[i].name && !strcmp(n->attrs[i].name, names[k]))
                return &n->attrs[i];
    return NULL;
}

static mof_status k_constant(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    const mof_attr *a = constant_attr(kc->node);
    if (!a)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "Constant has no value attribute");
    const char *name = a->name;
    mof_tensor *y = NULL;
    if (!strcmp(name, "value")) {
        if (a->type != MOF_ATTR_TENSOR || !a->t)
            return invalid(kc, "value is not a tensor");
        out[0] = mof_tensor_ref(a->t);
        return MOF_OK;
    }
    if (!strcmp(name, "sparse_value"))
        return mof_kernel_error(kc, MOF_ERR_UNSUPPORTED,
                                "sparse_value is not supported by the interpreter");
    int64_t count = (int64_t)a->n;
    if (!strcmp(name, "value_float") && a->type == MOF_ATTR_FLOAT) {
        y = mof_tensor_create_from(MOF_DTYPE_FLOAT, 0, NULL, &a->f);
    } else if (!strcmp(name, "value_floats") && a->type == MOF_ATTR_FLOATS) {
        y = mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, &count, a->floats);
    } else if (!strcmp(name, "value_int") && a->type == MOF_ATTR_INT) {
        y = mof_tensor_create_from(MOF_DTYPE_INT64, 0, NULL, &a->i);
    } else if (!strcmp(name, "value_ints") && a->type == MOF_ATTR_INTS) {
        y = mof_tensor_create_from(MOF_DTYPE_INT64, 1, &count, a->ints);
    } else if (!strcmp(name, "value_string") && a->type == MOF_ATTR_STRING) {
        y = mof_tensor_create(MOF_DTYPE_STRING, 0, NULL);
        mof_string s = {a->s_size, a->s};
        if (y && !mof_string_assign(y->data, &s)) {
            mof_tensor_unref(y);
            y = NULL;
        }
    } else if (!strcmp(name, "value_strings") && a->type == MOF_ATTR_STRINGS) {
        y = mof_tensor_create(MOF_DTYPE_STRING, 1, &count);
        for (size_t i = 0; y && i < a->n; i++) {
            if (!mof_string_assign(&((mof_string *)y->data)[i], &a->strings[i])) {
                mof_tensor_unref(y);
                y = NULL;
            }
        }
    } else {
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute %s has the wrong type",
                                name);
    }
    if (!y)
        return mof_kernel_nomem(kc);
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_constant(mof_infer_ctx *ic)
{
    const mof_attr *a = constant_attr(ic->node);
    if (!a || ic->n_out < 1)
        return MOF_OK;
    int64_t count = (int64_t)a->n;
    switch (a->type) {
    case MOF_ATTR_TENSOR:
        if (!a->t)
            return MOF_OK;
        {
            mof_status st = mof_shape_set(&ic->out[0], a->t->dtype, (int)a->t->rank,
                                          a->t->dims, NULL);
            /* Borrowed from the node, which outlives the inference of this node. */
            ic->out[0].value = a->t;
            return st;
        }
    case MOF_ATTR_FLOAT: return mof_infer_set_rank(ic, 0, MOF_DTYPE_FLOAT, 0);
    case MOF_ATTR_INT: return mof_infer_set_rank(ic, 0, MOF_DTYPE_INT64, 0);
    case MOF_ATTR_STRING: return mof_infer_set_rank(ic, 0, MOF_DTYPE_STRING, 0);
    case MOF_ATTR_FLOATS: return mof_shape_set(&ic->out[0], MOF_DTYPE_FLOAT, 1, &count, NULL);
    case MOF_ATTR_INTS: return mof_shape_set(&ic->out[0], MOF_DTYPE_INT64, 1, &count, NULL);
    case MOF_ATTR_STRINGS:
        return mof_shape_set(&ic->out[0], MOF_DTYPE_STRING, 1, &count, NULL);
    default: return MOF_OK;
    }
}

/* ------------------------------------------------------------------ Range */

/* The length of a Range: max(ceil((limit - start) / delta), 0). NULL on success, else
 * why it cannot be computed. */
static const char *range_count(const mof_tensor *s, const mof_tensor *l, const mof_tensor *d,
                               int64_t *count)
{
    /* Limits the length to what can be allocated at all, so that the conversions below
     * stay defined. */
    const double max_len = 9.0e15;
    if (mof_dtype_is_float(s->dtype)) {
        double a = mof_tensor_get_f64(s, 0), b = mof_tensor_get_f64(l, 0);
        double c = mof_tensor_get_f64(d, 0);
        if (c == 0 || isnan(a) || isnan(b) || isnan(c))
            return "delta is 0 or a value is NaN";
        double n = ceil((b - a) / c);
        if (n > max_len)
            return "the range is too long";
        *count = n > 0 ? (int64_t)n : 0;
        return NULL;
    }
    int64_t a = mof_tensor_get_i64(s, 0), b = mof_tensor_get_i64(l, 0);
    int64_t c = mof_tensor_get_i64(d, 0);
    if (c == 0)
        return "delta is 0";
    /* In double first: the difference of two int64 may overflow. */
    double span = ((double)b - (double)a) / (double)c;
    if (span > max_len)
        return "the range is too long";
    if (span <= 0) {
        *count = 0;
        return NULL;
    }
    *count = c > 0 ? (b - a + c - 1) / c : (a - b + (-c) - 1) / (-c);
    return NULL;
}

static mof_status k_range(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                          mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 3)) != MOF_OK)
        return st;
    const mof_tensor *s = in[0], *l = in[1], *d = in[2];
    if (s->numel != 1 || l->numel != 1 || d->numel != 1)
        return invalid(kc, "start, limit and delta must be scalars");
    if (s->dtype != l->dtype || s->dtype != d->dtype)
        return invalid(kc, "start, limit and delta differ in type");
    if (!mof_dtype_is_float(s->dtype) && !mof_dtype_is_int(s->dtype))
        return unsupported_type(kc, "Range", s->dtype);
    int64_t n = 0;
    const char *why = range_count(s, l, d, &n);
    if (why)
        return invalid(kc, why);
    mof_tensor *y = mof_kernel_new_tensor(kc, s->dtype, 1, &n);
    if (!y)
        return MOF_ERR_NOMEM;
    if (mof_dtype_is_float(s->dtype)) {
        double a = mof_tensor_get_f64(s, 0), c = mof_tensor_get_f64(d, 0);
        for (int64_t i = 0; i < n; i++)
            mof_tensor_set_f64(y, i, a + (double)i * c);
    } else {
        int64_t a = mof_tensor_get_i64(s, 0), c = mof_tensor_get_i64(d, 0);
        for (int64_t i = 0; i < n; i++)
            mof_tensor_set_i64(y, i, a + i * c);
    }
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_range(mof_infer_ctx *ic)
{
    mof_dtype dt = in_dtype(ic, 0);
    const mof_shape *s = mof_infer_input(ic, 0), *l = mof_infer_input(ic, 1);
    const mof_shape *d = mof_infer_input(ic, 2);
    int64_t n = -1;
    if (s && l && d && s->value && l->value && d->value && s->value->numel == 1 &&
        l->value->numel == 1 && d->value->numel == 1 && s->value->dtype == l->value->dtype &&
        s->value->dtype == d->value->dtype &&
        (mof_dtype_is_float(s->value->dtype) || mof_dtype_is_int(s->value->dtype)) &&
        range_count(s->value, l->value, d->value, &n))
        n = -1; /* a bad range is the kernel's to report */
    return mof_shape_set(&ic->out[0], dt, 1, &n, NULL);
}

/* ------------------------------------------------------------------ NonZero */

static bool elem_nonzero(const mof_tensor *t, int64_t i)
{
    if (t->dtype == MOF_DTYPE_STRING)
        return ((const mof_string *)t->data)[i].size != 0;
    if (mof_dtype_is_float(t->dtype))
        return mof_tensor_get_f64(t, i) != 0.0; /* NaN counts as non-zero */
    return mof_tensor_get_i64(t, i) != 0;
}

static mof_status k_nonzero(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    if (!mof_dtype_is_numeric(x->dtype) && x->dtype != MOF_DTYPE_STRING)
        return unsupported_type(kc, "NonZero", x->dtype);
    /* A scalar reads as a 1-D tensor of one element, as numpy does. */
    size_t r = x->rank ? x->rank : 1;
    int64_t nnz = 0;
    for (int64_t i = 0; i < x->numel; i++)
        nnz += elem_nonzero(x, i);
    int64_t dims[2] = {(int64_t)r, nnz};
    mof_tensor *y = mof_kernel_new_tensor(kc, MOF_DTYPE_INT64, 2, dims);
    int64_t *idx = mof_calloc(r, sizeof(*idx));
    if (!y || !idx) {
        mof_tensor_unref(y);
        free(idx);
        return y ? mof_kernel_nomem(kc) : MOF_ERR_NOMEM;
    }
    int64_t *yd = y->data, k = 0;
    for (int64_t i = 0; i < x->numel; i++) {
        if (elem_nonzero(x, i)) {
            for (size_t d = 0; d < r; d++)
                yd[(int64_t)d * nnz + k] = idx[d];
            k++;
        }
        for (size_t d = x->rank; d-- > 0;) {
            if (++idx[d] < x->dims[d])
                break;
            idx[d] = 0;
        }
    }
    free(idx);
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_nonzero(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    int64_t dims[2] = {x && x->rank >= 0 ? (x->rank ? x->rank : 1) : -1, -1};
    return mof_shape_set(&ic->out[0], MOF_DTYPE_INT64, 2, dims, NULL);
}

/* ------------------------------------------------------------------ TopK */

/* One slice to sort: keys read by class of the element type. */
typedef struct topk_keys {
    const mof_tensor *x;
    int64_t base, stride;   /* element j of the slice is x[base + j * stride] */
    bool largest;
} topk_keys;

/* The order of elements ia of x and ib of y (one element type): -1, 0 or 1 by value,
 * NaN the largest (and equal to NaN), strings by their bytes. */
static int elem_cmp(const mof_tensor *x, int64_t ia, const mof_tensor *y, int64_t ib)
{
    mof_dtype t = x->dtype;
    if (t == MOF_DTYPE_STRING) {
        const mof_string *a = (const mof_string *)x->data + ia;
        const mof_string *b = (const mof_string *)y->data + ib;
        size_t n = a->size < b->size ? a->size : b->size;
        int c = n ? memcmp(a->data, b->data, n) : 0;
        if (c)
            return c < 0 ? -1 : 1;
        return a->size < b->size ? -1 : a->size > b->size ? 1 : 0;
    }
    if (mof_dtype_is_float(t)) {
        double va = mof_tensor_get_f64(x, ia), vb = mof_tensor_get_f64(y, ib);
        bool na = isnan(va), nb = isnan(vb);
        return na || nb ? (na && nb ? 0 : na ? 1 : -1) : va < vb ? -1 : va > vb ? 1 : 0;
    }
    if (t == MOF_DTYPE_UINT64) {
        uint64_t va = (uint64_t)mof_tensor_get_i64(x, ia);
        uint64_t vb = (uint64_t)mof_tensor_get_i64(y, ib);
        return va < vb ? -1 : va > vb ? 1 : 0;
    }
    int64_t va = mof_tensor_get_i64(x, ia), vb = mof_tensor_get_i64(y, ib);
    return va < vb ? -1 : va > vb ? 1 : 0;
}

/* <0 when slice element a comes before b: by value, then by index. */
static int topk_cmp(const void *ctx, int64_t a, int64_t b)
{
    const topk_keys *k = ctx;
    int c = elem_cmp(k->x, k->base + a * k->stride, k->x, k->base + b * k->stride);
    if (k->largest)
        c = -c;
    return c ? c : (a < b ? -1 : a > b ? 1 : 0);
}

/* Sorts idx[0..n) with a (stable) merge sort by cmp(ctx, a, b) <= 0. */
static void merge_sort(int (*cmp)(const void *ctx, int64_t a, int64_t b), const void *ctx,
                       int64_t *idx, int64_t *tmp, int64_t n)
{
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            int64_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi)
                tmp[o++] = cmp(ctx, idx[i], idx[j]) <= 0 ? idx[i++] : idx[j++];
            while (i < mid)
                tmp[o++] = idx[i++];
            while (j < hi)
                tmp[o++] = idx[j++];
        }
        memcpy(idx, tmp, (size_t)n * sizeof(*idx));
    }
}

static mof_status k_topk(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in, size_t n_out,
                         mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    if (!mof_dtype_is_numeric(x->dtype) || x->dtype == MOF_DTYPE_BOOL)
        return unsupported_type(kc, "TopK", x->dtype);
    size_t r = x->rank;
    if (r == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "TopK of a scalar");
    int64_t axis, k;
    if ((st = mof_kernel_axis(kc, -1, (int64_t)r, &axis)) != MOF_OK)
        return st;
    if (kc->opset < 10) {
        k = mof_node_attr_int(kc->node, "k", -1);
    } else {
        if ((st = mof_kernel_need_input(kc, n_in, in, 1)) != MOF_OK)
            return st;
        if (in[1]->numel != 1 || !mof_dtype_is_int(in[1]->dtype))
            return invalid(kc, "K must be one integer");
        k = mof_tensor_get_i64(in[1], 0);
    }
    int64_t dim = x->dims[axis];
    if (k < 0 || k > dim)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "k = %" PRId64 " is out of range for a dim of %" PRId64, k,
                                dim);
    bool largest = kc->opset < 11 || mof_node_attr_int(kc->node, "largest", 1);
    /* sorted = 0 leaves the order open; sorted order is one of the allowed ones. */
    int64_t *dims = mof_calloc(r, sizeof(*dims));
    int64_t *idx = mof_calloc((size_t)dim, sizeof(*idx));
    int64_t *tmp = mof_calloc((size_t)dim, sizeof(*tmp));
    mof_tensor *v = NULL, *ix = NULL;
    if (!dims || !idx || !tmp) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    memcpy(dims, x->dims, r * sizeof(*dims));
    dims[axis] = k;
    if (!(v = mof_kernel_new_tensor(kc, x->dtype, r, dims)) ||
        !(ix = mof_kernel_new_tensor(kc, MOF_DTYPE_INT64, r, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    int64_t outer = 1, inner = 1;
    for (size_t i = 0; i < (size_t)axis; i++)
        outer *= x->dims[i];
    for (size_t i = (size_t)axis + 1; i < r; i++)
        inner *= x->dims[i];
    int64_t *ixd = ix->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in_ = 0; in_ < inner; in_++) {
            topk_keys keys = {x, o * dim * inner + in_, inner, largest};
            for (int64_t j = 0; j < dim; j++)
                idx[j] = j;
            merge_sort(topk_cmp, &keys, idx, tmp, dim);
            for (int64_t j = 0; j < k; j++) {
                int64_t yo = (o * k + j) * inner + in_;
                mof_tensor_copy_elems(v, yo, x, keys.base + idx[j] * inner, 1);
                ixd[yo] = idx[j];
            }
        }
    }
done:
    if (st == MOF_OK) {
        out[0] = v;
        if (n_out > 1 && mof_node_output(kc->node, 1))
            out[1] = ix;
        else
            mof_tensor_unref(ix);
    } else {
        mof_tensor_unref(v);
        mof_tensor_unref(ix);
    }
    free(dims);
    free(idx);
    free(tmp);
    return st;
}

static mof_status infer_topk(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    mof_status st = MOF_OK;
    if (x->rank < 0) {
        if ((st = mof_infer_set_rank(ic, 0, x->dtype, -1)) == MOF_OK)
            st = mof_infer_set_rank(ic, 1, MOF_DTYPE_INT64, -1);
        return st;
    }
    int r = x->rank;
    int64_t axis;
    if ((st = mof_infer_axis(ic, -1, r, &axis)) != MOF_OK)
        return st;
    int64_t k = -1;
    if (ic->opset < 10) {
        k = mof_node_attr_int(ic->node, "k", -1);
    } else {
        const mof_shape *ks = mof_infer_input(ic, 1);
        if (ks && ks->value && ks->value->numel == 1 && mof_dtype_is_int(ks->value->dtype))
            k = mof_tensor_get_i64(ks->value, 0);
    }
    for (size_t o = 0; o < 2 && st == MOF_OK; o++) {
        mof_dimvec d;
        if (mof_dimvec_init(&d, r) != MOF_OK)
            return MOF_ERR_NOMEM;
        for (int i = 0; i < r; i++)
            mof_dimvec_take(&d, i, x, i);
        mof_dimvec_set(&d, (int)axis, k);
        st = mof_dimvec_emit(ic, o, o ? MOF_DTYPE_INT64 : x->dtype, &d);
    }
    return st;
}

/* ------------------------------------------------------------------ OneHot */

static mof_status k_onehot(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    mof_status st;
    if ((st = mof_kernel_need_inputs(kc, n_in, in, 3)) != MOF_OK)
        return st;
    const mof_tensor *ind = in[0], *dp = in[1], *vals = in[2];
    if (!mof_dtype_is_numeric(ind->dtype) || !mof_dtype_is_numeric(dp->dtype))
        return invalid(kc, "indices and depth must be numeric");
    if (dp->numel != 1)
        return invalid(kc, "depth must hold one value");
    if (vals->numel != 2)
        return invalid(kc, "values must hold two elements: off and on");
    int64_t depth = mof_tensor_get_i64(dp, 0);
    if (depth < 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "depth is %" PRId64, depth);
    size_t r = ind->rank;
    int64_t axis;
    if ((st = mof_kernel_axis(kc, -1, (int64_t)r + 1, &axis)) != MOF_OK)
        return st;
    int64_t *dims = mof_calloc(r + 1, sizeof(*dims));
    if (!dims)
        return mof_kernel_nomem(kc);
    int64_t inner = 1;
    for (size_t i = 0, k = 0; i <= r; i++) {
        if ((int64_t)i == axis) {
            dims[i] = depth;
            continue;
        }
        dims[i] = ind->dims[k];
        if ((int64_t)i > axis)
            inner *= ind->dims[k];
        k++;
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, vals->dtype, r + 1, dims);
    free(dims);
    if (!y)
        return MOF_ERR_NOMEM;
    for (int64_t i = 0; i < y->numel; i++) {
        if (!mof_tensor_copy_elems(y, i, vals, 0, 1)) {
            mof_tensor_unref(y);
            return mof_kernel_nomem(kc);
        }
    }
    for (int64_t j = 0; j < ind->numel; j++) {
        /* Fractional indices truncate, as a cast to int64 does. */
        int64_t v = mof_tensor_get_i64(ind, j);
        if (v < 0)
            v += depth;
        if (v < 0 || v >= depth)
            continue;
        int64_t pre = j / inner, post = j % inner;
        if (!mof_tensor_copy_elems(y, (pre * depth + v) * inner + post, vals, 1, 1)) {
            mof_tensor_unref(y);
            return mof_kernel_nomem(kc);
        }
    }
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_onehot(mof_infer_ctx *ic)
{
    const mof_shape *ind = mof_infer_input(ic, 0), *dp = mof_infer_input(ic, 1);
    mof_dtype dt = in_dtype(ic, 2);
    if (!ind || ind->rank < 0)
        return mof_infer_set_rank(ic, 0, dt, -1);
    int r = ind->rank;
    int64_t axis;
    mof_status st = mof_infer_axis(ic, -1, r + 1, &axis);
    if (st != MOF_OK)
        return st;
    int64_t depth = -1;
    if (dp && dp->value && dp->value->numel == 1 && mof_dtype_is_numeric(dp->value->dtype))
        depth = mof_tensor_get_i64(dp->value, 0);
    mof_dimvec o;
    if (mof_dimvec_init(&o, r + 1) != MOF_OK)
        return MOF_ERR_NOMEM;
    for (int i = 0, k = 0; i <= r; i++) {
        if (i == axis)
            mof_dimvec_set(&o, i, depth);
        else
            mof_dimvec_take(&o, i, ind, k++);
    }
    return mof_dimvec_emit(ic, 0, dt, &o);
}

/* ------------------------------------------------------------------ Trilu */

static mof_status k_trilu(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                          size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *kt = mof_kernel_input(n_in, in, 1);
    if (x->rank < 2)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "Trilu needs rank 2 or more");
    int64_t k = 0;
    if (kt) {
        if (kt->numel != 1 || !mof_dtype_is_int(kt->dtype))
            return invalid(kc, "k must be one integer");
        k = mof_tensor_get_i64(kt, 0);
    }
    bool upper = mof_node_attr_int(kc->node, "upper", 1) != 0;
    mof_tensor *y = copy_reshaped(kc, x, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    int64_t rows = x->dims[x->rank - 2], cols = x->dims[x->rank - 1];
    int64_t mats = rows > 0 && cols > 0 ? x->numel / (rows * cols) : 0;
    size_t es = x->dtype == MOF_DTYPE_STRING ? sizeof(mof_string) : mof_dtype_size(x->dtype);
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < rows; i++) {
            for (int64_t j = 0; j < cols; j++) {
                bool keep = upper ? j - i >= k : j - i <= k;
                if (keep)
                    continue;
                int64_t e = (m * rows + i) * cols + j;
                if (x->dtype == MOF_DTYPE_STRING)
                    free(((mof_string *)y->data)[e].data);
                memset((char *)y->data + (size_t)e * es, 0, es);
            }
        }
    }
    out[0] = y;
    return MOF_OK;
}

/* ------------------------------------------------------------------ DepthToSpace, SpaceToDepth */

static mof_status k_depth_space(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                size_t n_out, mof_tensor **out, bool to_space)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    if (x->rank != 4)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the input must be 4-D, it has rank %zu",
                                x->rank);
    int64_t b = mof_node_attr_int(kc->node, "blocksize", 0);
    if (b < 1)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "blocksize is %" PRId64, b);
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t dims[4], vd[6], ss[6];
    if (to_space) {
        if (C % (b * b))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "%" PRId64 " channels do not divide by blocksize^2", C);
        int64_t c = C / (b * b);
        const char *mode = kc->opset >= 11 ? mof_node_attr_string(kc->node, "mode", "DCR", NULL)
                                           : "DCR";
        bool crd = !strcmp(mode, "CRD");
        if (!crd && strcmp(mode, "DCR"))
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "unknown mode '%s'", mode);
        dims[0] = N, dims[1] = c, dims[2] = H * b, dims[3] = W * b;
        /* The output viewed as [N, c, H, b, W, b]; the input as [N, b, b, c, H, W] (DCR)
         * or [N, c, b, b, H, W] (CRD). */
        int64_t s_b1 = crd ? b * H * W : b * c * H * W, s_b2 = crd ? H * W : c * H * W;
        int64_t s_c = crd ? b * b * H * W : H * W;
        int64_t v[6] = {N, c, H, b, W, b}, s[6] = {C * H * W, s_c, W, s_b1, 1, s_b2};
        memcpy(vd, v, sizeof(v));
        memcpy(ss, s, sizeof(s));
    } else {
        if (H % b || W % b)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "%" PRId64 "x%" PRId64 " does not divide by blocksize",
                                    H, W);
        int64_t h = H / b, w = W / b;
        dims[0] = N, dims[1] = C * b * b, dims[2] = h, dims[3] = w;
        /* The output viewed as [N, b, b, C, h, w]; the input as [N, C, h, b, w, b]. */
        int64_t v[6] = {N, b, b, C, h, w}, s[6] = {C * H * W, W, 1, H * W, b * W, b};
        memcpy(vd, v, sizeof(v));
        memcpy(ss, s, sizeof(s));
    }
    return read_strided(kc, x, 4, dims, 0, 6, vd, ss, &out[0]);
}

static mof_status k_depth_to_space(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                   size_t n_out, mof_tensor **out)
{
    return k_depth_space(kc, n_in, in, n_out, out, true);
}

static mof_status k_space_to_depth(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                   size_t n_out, mof_tensor **out)
{
    return k_depth_space(kc, n_in, in, n_out, out, false);
}

static int64_t mul_dim(int64_t d, int64_t b) { return d >= 0 ? d * b : -1; }
static int64_t div_dim(int64_t d, int64_t b) { return d >= 0 && b > 0 && d % b == 0 ? d / b : -1; }

static mof_status infer_depth_space(mof_infer_ctx *ic, bool to_space)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, 4);
    if (x->rank != 4)
        return mof_infer_error(ic, "the input must be 4-D, it has rank %d", x->rank);
    int64_t b = mof_node_attr_int(ic->node, "blocksize", 0);
    if (b < 1)
        return mof_infer_error(ic, "blocksize is %" PRId64, b);
    mof_dimvec o;
    if (mof_dimvec_init(&o, 4) != MOF_OK)
        return MOF_ERR_NOMEM;
    mof_dimvec_take(&o, 0, x, 0);
    if (to_space) {
        mof_dimvec_set(&o, 1, div_dim(x->dims[1], b * b));
        mof_dimvec_set(&o, 2, mul_dim(x->dims[2], b));
        mof_dimvec_set(&o, 3, mul_dim(x->dims[3], b));
    } else {
        mof_dimvec_set(&o, 1, mul_dim(x->dims[1], b * b));
        mof_dimvec_set(&o, 2, div_dim(x->dims[2], b));
        mof_dimvec_set(&o, 3, div_dim(x->dims[3], b));
    }
    if (b == 1)
        for (int i = 1; i < 4; i++)
            mof_dimvec_take(&o, i, x, i);
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

static mof_status infer_depth_to_space(mof_infer_ctx *ic) { return infer_depth_space(ic, true); }
static mof_status infer_space_to_depth(mof_infer_ctx *ic) { return infer_depth_space(ic, false); }

/* ------------------------------------------------------------------ Resize */

typedef enum rs_mode { RS_NEAREST, RS_LINEAR, RS_CUBIC } rs_mode;
typedef enum rs_coord {
    CT_HALF_PIXEL, CT_PYTORCH_HALF_PIXEL, CT_ALIGN_CORNERS, CT_ASYMMETRIC,
    CT_TF_HALF_PIXEL_FOR_NN, CT_TF_CROP_AND_RESIZE, CT_HALF_PIXEL_SYMMETRIC,
} rs_coord;
/* NM_SIMPLE (Upsample, Resize-10): floor when upsampling, ceil when downsampling, as
 * ONNX Runtime rounds there. */
typedef enum rs_nearest {
    NM_PREFER_FLOOR, NM_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE,
} rs_nearest;
typedef enum rs_policy { KAR_STRETCH, KAR_NOT_LARGER, KAR_NOT_SMALLER } rs_policy;

typedef struct rs_params {
    rs_mode mode;
    rs_coord coord;
    rs_nearest nearest;
    double cubic_a;
    bool exclude_outside;
    double extrapolation;
    bool antialias;            /* opset 18 */
    rs_policy policy;          /* opset 18 */
    const int64_t *axes;       /* opset 18, borrowed from the node; NULL: every dim */
    size_t n_axes;
} rs_params;

/* The index of s in names[0..n), or -1. */
static int name_index(const char *s, const char *const *names, int n)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(s, names[i]))
            return i;
    return -1;
}

/* Reads the attributes of the node's opset; on error *bad names the attribute. */
static bool rs_params_get(const mof_node *n, int64_t opset, rs_params *p, const char **bad)
{
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const coords[] = {
        "half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
        "tf_half_pixel_for_nn", "tf_crop_and_resize", "half_pixel_symmetric",
    };
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                           "ceil"};
    static const char *const policies[] = {"stretch", "not_larger", "not_smaller"};
    *p = (rs_params){0};
    int m = name_index(mof_node_attr_string(n, "mode", "nearest", NULL), modes, 3);
    int c = name_index(mof_node_attr_string(n, "coordinate_transformation_mode", "half_pixel",
                                            NULL), coords, opset >= 19 ? 7 : 6);
    int nm = name_index(mof_node_attr_string(n, "nearest_mode", "round_prefer_floor", NULL),
                        nearests, 4);
    int kp = opset >= 18 ? name_index(mof_node_attr_string(n, "keep_aspect_ratio_policy",
                                                           "stretch", NULL), policies, 3)
                         : 0;
    *bad = m < 0 ? "mode" : c < 0 ? "coordinate_transformation_mode"
         : nm < 0 ? "nearest_mode" : kp < 0 ? "keep_aspect_ratio_policy" : NULL;
    if (*bad)
        return false;
    p->mode = (rs_mode)m;
    p->coord = (rs_coord)c;
    p->nearest = (rs_nearest)nm;
    p->policy = (rs_policy)kp;
    p->cubic_a = mof_node_attr_float(n, "cubic_coeff_a", -0.75f);
    p->exclude_outside = mof_node_attr_int(n, "exclude_outside", 0) != 0;
    p->extrapolation = mof_node_attr_float(n, "extrapolation_value", 0.0f);
    if (opset >= 18) {
        p->antialias = mof_node_attr_int(n, "antialias", 0) != 0;
        if (mof_node_has_attr(n, "axes"))
            p->axes = mof_node_attr_ints(n, "axes", &p->n_axes);
    }
    return true;
}

/* The dims the scales / sizes / roi entries refer to: the axes normalized (checked to
 * be distinct), or every dim. ax[] has room for rank entries; returns how many. */
static bool rs_axes(const rs_params *p, int64_t r, int64_t *ax, size_t *n)
{
    if (!p->axes) {
        for (int64_t i = 0; i < r; i++)
            ax[i] = i;
        *n = (size_t)r;
        return true;
    }
    if (p->n_axes > (size_t)r)
        return false;
    for (size_t i = 0; i < p->n_axes; i++) {
        int64_t a = p->axes[i] < 0 ? p->axes[i] + r : p->axes[i];
        if (a < 0 || a >= r)
            return false;
        for (size_t k = 0; k < i; k++)
            if (ax[k] == a)
                return false;
        ax[i] = a;
    }
    *n = p->n_axes;
    return true;
}

/* Per-dim output size, scale and roi. Dims not named by the axes keep their size with
 * scale 1. A sized dim's scale is out / in, as the ONNX reference computes it, unless a
 * keep_aspect_ratio_policy picks one scale for all the axes (the output size is then
 * rounded half up). */
static mof_status rs_geometry(mof_kernel_ctx *kc, const rs_params *p, const mof_tensor *x,
                              const mof_tensor *roi, const mof_tensor *sc,
                              const mof_tensor *sz, int64_t *dims, double *scale,
                              double *roi_s, double *roi_e)
{
    size_t r = x->rank, n;
    bool has_sc = sc && sc->numel > 0, has_sz = sz && sz->numel > 0;
    int64_t *ax = mof_calloc(r ? r : 1, sizeof(*ax));
    mof_status st = MOF_OK;
    if (!ax)
        return mof_kernel_nomem(kc);
    if (!rs_axes(p, (int64_t)r, ax, &n)) {
        st = invalid(kc, "axes are out of range or repeated");
        goto done;
    }
    for (size_t d = 0; d < r; d++) {
        dims[d] = x->dims[d];
        scale[d] = 1.0;
        roi_s[d] = 0.0;
        roi_e[d] = 1.0;
    }
    if (has_sc == has_sz) {
        st = invalid(kc, "exactly one of scales and sizes must be given");
        goto done;
    }
    const mof_tensor *t = has_sc ? sc : sz;
    if ((size_t)t->numel != n) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                              "%s has %" PRId64 " entries for %zu axes",
                              has_sc ? "scales" : "sizes", t->numel, n);
        goto done;
    }
    if (has_sc ? !mof_dtype_is_float(sc->dtype) : !mof_dtype_is_int(sz->dtype)) {
        st = invalid(kc, "scales must be floating-point and sizes integers");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        size_t d = (size_t)ax[i];
        if (has_sc) {
            double s = mof_tensor_get_f64(sc, (int64_t)i);
            double o = floor((double)x->dims[d] * s);
            if (!(s > 0) || isinf(s) || o > 9.0e15) {
                st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "scales[%zu] is %g", i, s);
                goto done;
            }
            scale[d] = s;
            dims[d] = (int64_t)o;
        } else {
            int64_t o = mof_tensor_get_i64(sz, (int64_t)i);
            if (o < 0 || (x->dims[d] == 0 && o > 0)) {
                st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                      "sizes[%zu] is %" PRId64 " for a dim of %" PRId64, i, o,
                                      x->dims[d]);
                goto done;
            }
            dims[d] = o;
            scale[d] = x->dims[d] ? (double)o / (double)x->dims[d] : 1.0;
        }
    }
    if (has_sz && p->policy != KAR_STRETCH && n > 0) {
        double s = scale[ax[0]];
        for (size_t i = 1; i < n; i++) {
            double v = scale[ax[i]];
            s = p->policy == KAR_NOT_LARGER ? (v < s ? v : s) : (v > s ? v : s);
        }
        for (size_t i = 0; i < n; i++) {
            size_t d = (size_t)ax[i];
            scale[d] = s;
            dims[d] = (int64_t)(s * (double)x->dims[d] + 0.5);
        }
    }
    if (p->coord == CT_TF_CROP_AND_RESIZE) {
        if (!roi || (size_t)roi->numel != 2 * n || !mof_dtype_is_float(roi->dtype)) {
            st = invalid(kc, "tf_crop_and_resize needs a roi of 2 values per axis");
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            roi_s[ax[i]] = mof_tensor_get_f64(roi, (int64_t)i);
            roi_e[ax[i]] = mof_tensor_get_f64(roi, (int64_t)(n + i));
        }
    }
done:
    free(ax);
    return st;
}

/* The input coordinate of output coordinate o along a dim of in elements resized to
 * out; *outside is set when tf_crop_and_resize maps it out of the input. Like the ONNX
 * reference (and its test data), the "output length" in the align_corners and
 * tf_crop_and_resize formulas is scale * in, not the integer out. */
static double rs_source(const rs_params *p, int64_t o, double scale, int64_t in, int64_t out,
                        double roi_start, double roi_end, bool *outside)
{
    double x = (double)o, len = (double)in, ow = scale * len;
    *outside = false;
    switch (p->coord) {
    case CT_HALF_PIXEL:
        return (x + 0.5) / scale - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        double adjustment = (double)out / ow, center = len / 2;
        return center * (1 - adjustment) + (x + 0.5) / scale - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL:
        /* The spec's and ONNX Runtime's 0 for a single output (the reference has -0.5,
         * which gives the same result for nearest and linear but not for cubic). */
        return out > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case CT_ALIGN_CORNERS:
        return ow == 1 ? 0.0 : x * (len - 1) / (ow - 1);
    case CT_ASYMMETRIC:
        return x / scale;
    case CT_TF_HALF_PIXEL_FOR_NN:
        return (x + 0.5) / scale;
    case CT_TF_CROP_AND_RESIZE:
    default: {
        double v = ow == 1 ? (roi_end - roi_start) * (len - 1) / 2
                           : x * (roi_end - roi_start) * (len - 1) / (ow - 1);
        v += roi_start * (len - 1);
        *outside = v < 0 || v > len - 1;
        return v;
    }
    }
}

/* One dim's interpolation: for each output coordinate, ntaps input coordinates (edge
 * clamped) and their weights; outside[o] marks the extrapolated ones. */
typedef struct rs_taps {
    int64_t ntaps;
    int64_t *idx;
    double *w;
    bool *outside;
} rs_taps;

static void rs_taps_free(rs_taps *t)
{
    free(t->idx);
    free(t->w);
    free(t->outside);
}

static int64_t clamp_index(int64_t i, int64_t n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

/* The cubic convolution kernel of coefficient A at distance x. */
static double cubic_kernel(double x, double A)
{
    x = fabs(x);
    if (x <= 1)
        return ((A + 2) * x - (A + 3)) * x * x + 1;
    if (x < 2)
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
    return 0;
}

static bool rs_taps_make(const rs_params *p, int64_t in, int64_t out, double scale,
                         double roi_start, double roi_end, rs_taps *t)
{
    /* Antialiasing (opset 18) stretches the filter by 1 / scale when downscaling, so the
     * taps reach further: the window starts at offset `start` from the left tap. */
    bool aa = p->antialias && p->mode != RS_NEAREST;
    double s = aa && scale < 1 ? scale : 1.0;
    int64_t start = 0;
    if (p->mode == RS_LINEAR)
        start = aa ? (int64_t)floor(-1.0 / s) + 1 : 0;
    else if (p->mode == RS_CUBIC)
        start = aa ? (int64_t)floor(-2.0 / s) + 1 : -1;
    t->ntaps = p->mode == RS_NEAREST ? 1 : 2 - 2 * start;
    size_t n = (size_t)out * (size_t)t->ntaps;
    t->idx = mof_calloc(n, sizeof(*t->idx));
    t->w = mof_calloc(n, sizeof(*t->w));
    t->outside = mof_calloc((size_t)out, sizeof(*t->outside));
    if (!t->idx || !t->w || !t->outside) {
        rs_taps_free(t);
        return false;
    }
    for (int64_t o = 0; o < out; o++) {
        double x = rs_source(p, o, scale, in, out, roi_start, roi_end, &t->outside[o]);
        int64_t *idx = t->idx + o * t->ntaps;
        double *w = t->w + o * t->ntaps;
        /* Like the ONNX reference: the taps are the nearest input coordinates, the left
         * ones preferred, so that the ratio to the left tap lies in (0, 1]. */
        double fl = floor(x);
        bool integral = x == fl;
        int64_t lo = (int64_t)fl - (integral ? 1 : 0);
        double ratio = integral ? 1.0 : x - fl;
        if (p->mode == RS_NEAREST) {
            bool right;
            if (integral)
                right = true;
            else if (p->nearest == NM_PREFER_FLOOR)
                right = ratio > 0.5;
            else if (p->nearest == NM_PREFER_CEIL)
                right = ratio >= 0.5;
            else
                right = p->nearest == NM_CEIL || (p->nearest == NM_SIMPLE && scale < 1);
            idx[0] = clamp_index(lo + (right ? 1 : 0), in);
            w[0] = 1.0;
            continue;
        }
        double A = p->cubic_a;
        if (!aa && p->mode == RS_LINEAR) {
            w[0] = 1.0 - ratio;
            w[1] = ratio;
        } else if (!aa) {
            double r1 = ratio + 1, r0 = ratio, s0 = 1 - ratio, s1 = 2 - ratio;
            w[0] = ((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A;
            w[1] = ((A + 2) * r0 - (A + 3)) * r0 * r0 + 1;
            w[2] = ((A + 2) * s0 - (A + 3)) * s0 * s0 + 1;
            w[3] = ((A * s1 - 5 * A) * s1 + 8 * A) * s1 - 4 * A;
        } else {
            double sum = 0;
            for (int64_t k = 0; k < t->ntaps; k++) {
                double d = ((double)(start + k) - ratio) * s;
                double v = p->mode == RS_LINEAR ? 1 - fabs(d) : cubic_kernel(d, A);
                w[k] = p->mode == RS_LINEAR && v < 0 ? 0 : v;
                sum += w[k];
            }
            for (int64_t k = 0; k < t->ntaps && sum != 0; k++)
                w[k] /= sum;
        }
        double sum = 0;
        for (int64_t k = 0; k < t->ntaps; k++) {
            int64_t c = lo + start + k;
            if (p->exclude_outside && (c < 0 || c >= in))
                w[k] = 0;
            sum += w[k];
            idx[k] = clamp_index(c, in);
        }
        if (p->exclude_outside && sum != 0)
            for (int64_t k = 0; k < t->ntaps; k++)
                w[k] /= sum;
    }
    return true;
}

/* Linear and cubic: one dim at a time, in double. */
static mof_status rs_interpolate(mof_kernel_ctx *kc, const rs_params *p, const mof_tensor *x,
                                 const rs_taps *taps, const int64_t *dims, mof_tensor *y)
{
    size_t r = x->rank;
    mof_status st = MOF_OK;
    int64_t *cur = mof_calloc(r ? r : 1, sizeof(*cur));
    double *a = mof_calloc((size_t)x->numel, sizeof(*a)), *b = NULL;
    if (!cur || !a) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    for (int64_t i = 0; i < x->numel; i++)
        a[i] = mof_tensor_get_f64(x, i);
    memcpy(cur, x->dims, r * sizeof(*cur));
    for (size_t d = 0; d < r; d++) {
        int64_t outer = 1, inner = 1, in = cur[d], out = dims[d];
        for (size_t i = 0; i < d; i++)
            outer *= cur[i];
        for (size_t i = d + 1; i < r; i++)
            inner *= cur[i];
        const rs_taps *t = &taps[d];
        int64_t nt = t->ntaps;
        bool identity = in == out;
        for (int64_t o = 0; identity && o < out; o++)
            for (int64_t k = 0; k < nt && identity; k++)
                identity = !t->outside[o] &&
                           (t->w[o * nt + k] == 0 ||
                            (t->w[o * nt + k] == 1 && t->idx[o * nt + k] == o));
        if (identity)
            continue;
        int64_t n = outer * out * inner;
        if (!(b = mof_calloc((size_t)n, sizeof(*b)))) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
        for (int64_t u = 0; u < outer; u++) {
            for (int64_t o = 0; o < out; o++) {
                double *dst = b + (u * out + o) * inner;
                if (t->outside[o]) {
                    for (int64_t v = 0; v < inner; v++)
                        dst[v] = p->extrapolation;
                    continue;
                }
                for (int64_t k = 0; k < nt; k++) {
                    double w = t->w[o * nt + k];
                    if (w == 0)
                        continue;
                    const double *src = a + (u * in + t->idx[o * nt + k]) * inner;
                    for (int64_t v = 0; v < inner; v++)
                        dst[v] += w * src[v];
                }
            }
        }
        free(a);
        a = b;
        b = NULL;
        cur[d] = out;
    }
    /* Integer types truncate toward zero, as the ONNX reference's cast does, after
     * saturating (cubic overshoots). */
    double lo = -INFINITY, hi = INFINITY;
    switch (y->dtype) {
    case MOF_DTYPE_UINT8: lo = 0, hi = 255; break;
    case MOF_DTYPE_INT8: lo = -128, hi = 127; break;
    case MOF_DTYPE_UINT16: lo = 0, hi = 65535; break;
    case MOF_DTYPE_INT16: lo = -32768, hi = 32767; break;
    case MOF_DTYPE_INT32: lo = -2147483648.0, hi = 2147483647.0; break;
    case MOF_DTYPE_UINT32: lo = 0, hi = 4294967295.0; break;
    case MOF_DTYPE_UINT64: lo = 0; break;
    default: break;
    }
    for (int64_t i = 0; i < y->numel; i++) {
        double v = a[i];
        v = v < lo ? lo : v > hi ? hi : v;
        mof_tensor_set_f64(y, i, v);
    }
done:
    free(cur);
    free(a);
    free(b);
    return st;
}

/* Resizes x per p, to scales sc or sizes sz (one of them given, the other NULL or
 * empty); roi for tf_crop_and_resize. */
static mof_status resize_run(mof_kernel_ctx *kc, const rs_params *pp, const mof_tensor *x,
                             const mof_tensor *roi, const mof_tensor *sc,
                             const mof_tensor *sz, mof_tensor **out)
{
    mof_status st;
    rs_params p = *pp;
    if (p.mode != RS_NEAREST && !mof_dtype_is_numeric(x->dtype))
        return unsupported_type(kc, "linear and cubic Resize", x->dtype);
    size_t r = x->rank, rr = r ? r : 1;
    int64_t *dims = mof_calloc(rr, sizeof(*dims));
    double *scale = mof_calloc(rr, sizeof(*scale));
    double *roi_s = mof_calloc(rr, sizeof(*roi_s));
    double *roi_e = mof_calloc(rr, sizeof(*roi_e));
    rs_taps *taps = mof_calloc(rr, sizeof(*taps));
    int64_t **maps = mof_calloc(rr, sizeof(*maps));
    mof_tensor *y = NULL, *fill = NULL;
    if (!dims || !scale || !roi_s || !roi_e || !taps || !maps) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    st = rs_geometry(kc, &p, x, roi, sc, sz, dims, scale, roi_s, roi_e);
    if (st != MOF_OK)
        goto done;
    for (size_t d = 0; d < r; d++) {
        if (!rs_taps_make(&p, x->dims[d], dims[d], scale[d], roi_s[d], roi_e[d], &taps[d])) {
            st = mof_kernel_nomem(kc);
            goto done;
        }
    }
    if (!(y = mof_kernel_new_tensor(kc, x->dtype, r, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    if (p.mode != RS_NEAREST) {
        st = rs_interpolate(kc, &p, x, taps, dims, y);
        goto done;
    }
    /* Nearest copies elements exactly; extrapolated ones take the fill. */
    for (size_t d = 0; d < r; d++) {
        maps[d] = taps[d].idx;
        for (int64_t o = 0; o < dims[d]; o++)
            if (taps[d].outside[o])
                maps[d][o] = -1;
    }
    if (!(fill = mof_kernel_new_tensor(kc, x->dtype, 0, NULL))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    if (mof_dtype_is_numeric(x->dtype))
        mof_tensor_set_f64(fill, 0, p.extrapolation);
    st = copy_mapped(kc, y, x, maps, fill);
done:
    mof_kernel_set_output(st, y, &out[0]);
    mof_tensor_unref(fill);
    if (taps)
        for (size_t d = 0; d < r; d++)
            rs_taps_free(&taps[d]);
    free(taps);
    free(maps);
    free(dims);
    free(scale);
    free(roi_s);
    free(roi_e);
    return st;
}

static mof_status k_resize(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    rs_params p;
    const char *bad;
    if (!rs_params_get(kc->node, kc->opset, &p, &bad))
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "%s '%s' is not supported", bad,
                                mof_node_attr_string(kc->node, bad, "", NULL));
    return resize_run(kc, &p, in[0], mof_kernel_input(n_in, in, 1),
                      mof_kernel_input(n_in, in, 2), mof_kernel_input(n_in, in, 3), &out[0]);
}

static mof_status infer_resize(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0), *sc = mof_infer_input(ic, 2);
    const mof_shape *sz = mof_infer_input(ic, 3);
    if (!x)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int r = x->rank;
    rs_params p;
    const char *bad;
    if (!rs_params_get(ic->node, ic->opset, &p, &bad))
        return mof_infer_error(ic, "%s '%s' is not supported", bad,
                               mof_node_attr_string(ic->node, bad, "", NULL));
    mof_dimvec o;
    int64_t *ax = mof_calloc((size_t)r + 1, sizeof(*ax));
    size_t n = 0;
    if (!ax || mof_dimvec_init(&o, r) != MOF_OK) {
        free(ax);
        return MOF_ERR_NOMEM;
    }
    mof_status st = MOF_OK;
    if (!rs_axes(&p, r, ax, &n)) {
        st = mof_infer_error(ic, "axes are out of range or repeated");
        goto done;
    }
    for (int d = 0; d < r; d++)
        mof_dimvec_take(&o, d, x, d);
    /* The dims named by the axes change; with an unknown scales or sizes input, or a
     * shared scale (keep_aspect_ratio_policy), they are known only from numbers. */
    const mof_tensor *scv = sc && sc->value && sc->value->numel > 0 ? sc->value : NULL;
    const mof_tensor *szv = sz && sz->value && sz->value->numel > 0 ? sz->value : NULL;
    bool sc_unknown = sc && !sc->value && known_len(sc) != 0;
    bool sz_unknown = sz && !sz->value && known_len(sz) != 0;
    bool known = !sc_unknown && !sz_unknown && (!scv != !szv);
    const mof_tensor *t = scv ? scv : szv;
    if (known && (size_t)t->numel != n) {
        st = mof_infer_error(ic, "%s has %" PRId64 " entries for %zu axes",
                             scv ? "scales" : "sizes", t->numel, n);
        goto done;
    }
    if (known && szv && p.policy != KAR_STRETCH) {
        double s = 0;
        for (size_t i = 0; i < n && known; i++) {
            int64_t in = x->dims[ax[i]];
            known = in > 0 && mof_dtype_is_int(szv->dtype);
            double v = known ? (double)mof_tensor_get_i64(szv, (int64_t)i) / (double)in : 0;
            s = i == 0 ? v : p.policy == KAR_NOT_LARGER ? (v < s ? v : s) : (v > s ? v : s);
        }
        for (size_t i = 0; i < n; i++)
            mof_dimvec_set(&o, (int)ax[i],
                           known ? (int64_t)(s * (double)x->dims[ax[i]] + 0.5) : -1);
        goto emit;
    }
    for (size_t i = 0; i < n; i++) {
        int d = (int)ax[i];
        if (!known) {
            mof_dimvec_set(&o, d, -1);
        } else if (szv) {
            mof_dimvec_set(&o, d, mof_dtype_is_int(szv->dtype)
                                      ? mof_tensor_get_i64(szv, (int64_t)i) : -1);
        } else {
            double s = mof_dtype_is_float(scv->dtype) ? mof_tensor_get_f64(scv, (int64_t)i) : -1;
            if (s == 1.0)
                continue;
            mof_dimvec_set(&o, d, x->dims[d] >= 0 && s > 0 && (double)x->dims[d] * s < 9.0e15
                              ? (int64_t)floor((double)x->dims[d] * s) : -1);
        }
    }
emit:
    st = mof_dimvec_emit(ic, 0, x->dtype, &o);
done:
    mof_dimvec_free(&o);
    free(ax);
    return st;
}

/* ------------------------------------------------------------------ Compress */

/* The positions Compress keeps along a dim of d (all elements when axis is false): the
 * true entries of the 1-D condition; one past d is an error. *keep (owned) lists them. */
static mof_status compress_keep(mof_kernel_ctx *kc, const mof_tensor *c, int64_t d,
                                int64_t **keep, int64_t *n)
{
    *keep = NULL;
    *n = 0;
    if (c->rank != 1 || !mof_dtype_is_numeric(c->dtype))
        return invalid(kc, "the condition must be a 1-D bool tensor");
    int64_t *k = mof_calloc((size_t)c->numel, sizeof(*k));
    if (!k)
        return mof_kernel_nomem(kc);
    for (int64_t i = 0; i < c->numel; i++) {
        if (!mof_tensor_get_i64(c, i))
            continue;
        if (i >= d) {
            free(k);
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "the condition selects position %" PRId64
                                    " of a dim of %" PRId64, i, d);
        }
        k[(*n)++] = i;
    }
    *keep = k;
    return MOF_OK;
}

/* Compress: the slices along axis (or, without an axis, the elements of the flattened
 * input) that the condition selects. */
static mof_status k_compress(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, 2);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    bool flat = !mof_node_has_attr(kc->node, "axis");
    int64_t axis = 0, *keep = NULL, n = 0;
    if (!flat && (st = mof_kernel_axis(kc, 0, (int64_t)x->rank, &axis)) != MOF_OK)
        return st;
    int64_t d = flat ? x->numel : x->dims[axis];
    if ((st = compress_keep(kc, in[1], d, &keep, &n)) != MOF_OK)
        return st;
    size_t r = flat ? 1 : x->rank;
    int64_t *dims = mof_calloc(r ? r : 1, sizeof(*dims));
    mof_tensor *y = NULL;
    if (!dims) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    if (!flat)
        memcpy(dims, x->dims, r * sizeof(*dims));
    dims[flat ? 0 : axis] = n;
    if (!(y = mof_kernel_new_tensor(kc, x->dtype, r, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    int64_t outer = flat ? 1 : mof_dims_numel((size_t)axis, x->dims);
    int64_t inner = flat ? 1 : mof_dims_numel(r - (size_t)axis - 1, x->dims + axis + 1);
    for (int64_t o = 0; o < outer && st == MOF_OK; o++)
        for (int64_t j = 0; j < n && st == MOF_OK; j++)
            if (!mof_tensor_copy_elems(y, (o * n + j) * inner, x, (o * d + keep[j]) * inner,
                                       inner))
                st = mof_kernel_nomem(kc);
done:
    mof_kernel_set_output(st, y, &out[0]);
    free(keep);
    free(dims);
    return st;
}

static mof_status infer_compress(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0), *c = mof_infer_input(ic, 1);
    if (!x)
        return MOF_OK;
    /* The kept count, when the condition is known. */
    int64_t n = -1;
    if (c && c->value && c->value->rank == 1 && mof_dtype_is_numeric(c->value->dtype)) {
        n = 0;
        for (int64_t i = 0; i < c->value->numel; i++)
            n += mof_tensor_get_i64(c->value, i) != 0;
    }
    if (!mof_node_has_attr(ic->node, "axis"))
        return mof_shape_set(&ic->out[0], x->dtype, 1, &n, NULL);
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    int64_t axis;
    mof_status st = mof_infer_axis(ic, 0, x->rank, &axis);
    mof_dimvec o;
    if (st != MOF_OK || (st = mof_dimvec_init(&o, x->rank)) != MOF_OK)
        return st;
    for (int i = 0; i < x->rank; i++)
        mof_dimvec_take(&o, i, x, i);
    mof_dimvec_set(&o, (int)axis, n);
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

/* ------------------------------------------------------------------ ReverseSequence */

/* ReverseSequence: for each batch entry b, the first sequence_lens[b] slices along the
 * time axis in reverse order; the rest as they are. */
static mof_status k_reverse_sequence(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                                     size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, 2);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0], *lens = in[1];
    int64_t ta = mof_node_attr_int(kc->node, "time_axis", 0);
    int64_t ba = mof_node_attr_int(kc->node, "batch_axis", 1);
    if (x->rank < 2 || (ta != 0 && ta != 1) || (ba != 0 && ba != 1) || ta == ba)
        return invalid(kc, "time_axis and batch_axis must be 0 and 1 of an input of rank 2 "
                           "or more");
    int64_t batch = x->dims[ba], time = x->dims[ta];
    if (!mof_dtype_is_int(lens->dtype) || lens->rank != 1 || lens->numel != batch)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                "sequence_lens must be an integer tensor of %" PRId64
                                " entries", batch);
    for (int64_t b = 0; b < batch; b++) {
        int64_t l = mof_tensor_get_i64(lens, b);
        if (l < 0 || l > time)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL,
                                    "sequence_lens[%" PRId64 "] = %" PRId64
                                    " is not in [0, %" PRId64 "]", b, l, time);
    }
    mof_tensor *y = mof_kernel_new_tensor(kc, x->dtype, x->rank, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    int64_t inner = mof_dims_numel(x->rank - 2, x->dims + 2);
    for (int64_t i0 = 0; i0 < x->dims[0] && st == MOF_OK; i0++) {
        for (int64_t i1 = 0; i1 < x->dims[1] && st == MOF_OK; i1++) {
            int64_t b = ba == 0 ? i0 : i1, t = ta == 0 ? i0 : i1;
            int64_t l = mof_tensor_get_i64(lens, b), src = t < l ? l - 1 - t : t;
            int64_t si = ta == 0 ? src * x->dims[1] + i1 : i0 * x->dims[1] + src;
            if (!mof_tensor_copy_elems(y, (i0 * x->dims[1] + i1) * inner, x, si * inner,
                                       inner))
                st = mof_kernel_nomem(kc);
        }
    }
    mof_kernel_set_output(st, y, &out[0]);
    return st;
}

/* ------------------------------------------------------------------ EyeLike */

/* The output type of EyeLike: the dtype attribute, else the input's. */
static mof_dtype eyelike_dtype(const mof_node *n, mof_dtype in)
{
    return mof_node_has_attr(n, "dtype") ? (mof_dtype)mof_node_attr_int(n, "dtype", 0) : in;
}

static mof_status k_eyelike(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                            size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    mof_dtype dt = eyelike_dtype(kc->node, x->dtype);
    if (!mof_dtype_is_numeric(dt))
        return unsupported_type(kc, "EyeLike", dt);
    if (x->rank != 2)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "the input must be 2-D, it has "
                                "rank %zu", x->rank);
    int64_t k = mof_node_attr_int(kc->node, "k", 0);
    mof_tensor *y = mof_kernel_new_tensor(kc, dt, 2, x->dims);
    if (!y)
        return MOF_ERR_NOMEM;
    for (int64_t i = 0; i < x->dims[0]; i++)
        if (i + k >= 0 && i + k < x->dims[1])
            mof_tensor_set_i64(y, i * x->dims[1] + i + k, 1);
    out[0] = y;
    return MOF_OK;
}

static mof_status infer_eyelike(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    mof_dtype dt = eyelike_dtype(ic->node, x->dtype);
    return mof_infer_like(ic, 0, x, mof_dtype_is_numeric(dt) ? dt : MOF_DTYPE_UNDEFINED);
}

/* ------------------------------------------------------------------ Unique */

/* The slices Unique compares: slice i (of n) holds elements outer o, inner q at
 * (o * n + i) * inner + q; without an axis, the elements themselves. */
typedef struct uq_slices {
    const mof_tensor *x;
    int64_t n, outer, inner;
} uq_slices;

/* Lexicographic order of the values of slices a and b. */
static int uq_value_cmp(const uq_slices *u, int64_t a, int64_t b)
{
    for (int64_t o = 0; o < u->outer; o++) {
        for (int64_t q = 0; q < u->inner; q++) {
            int c = elem_cmp(u->x, (o * u->n + a) * u->inner + q, u->x,
                             (o * u->n + b) * u->inner + q);
            if (c)
                return c;
        }
    }
    return 0;
}

/* By value, then by index: equal slices sort by first occurrence. */
static int uq_cmp(const void *ctx, int64_t a, int64_t b)
{
    int c = uq_value_cmp(ctx, a, b);
    return c ? c : (a < b ? -1 : a > b ? 1 : 0);
}

/* Orders groups by where they first occur (firsts are distinct). */
static int uq_first_cmp(const void *ctx, int64_t a, int64_t b)
{
    const int64_t *first = ctx;
    return first[a] < first[b] ? -1 : first[a] > first[b] ? 1 : 0;
}

/* Unique: the distinct slices along axis (elements without one), sorted or in the order
 * of their first occurrence, with the index of that occurrence, for each input slice
 * the index of its unique slice, and the counts. */
static mof_status k_unique(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const mof_tensor *x = in[0];
    if (!mof_dtype_is_numeric(x->dtype) && x->dtype != MOF_DTYPE_STRING)
        return unsupported_type(kc, "Unique", x->dtype);
    bool flat = !mof_node_has_attr(kc->node, "axis");
    bool sorted = mof_node_attr_int(kc->node, "sorted", 1) != 0;
    int64_t axis = 0;
    if (!flat && (st = mof_kernel_axis(kc, 0, (int64_t)x->rank, &axis)) != MOF_OK)
        return st;
    uq_slices u = {x, x->numel, 1, 1};
    if (!flat) {
        u.n = x->dims[axis];
        u.outer = mof_dims_numel((size_t)axis, x->dims);
        u.inner = mof_dims_numel(x->rank - (size_t)axis - 1, x->dims + axis + 1);
    }
    int64_t n = u.n, m = 0;
    size_t cap = (size_t)(n ? n : 1);
    int64_t *buf = mof_calloc(6 * cap, sizeof(int64_t));
    int64_t *dims = mof_calloc(x->rank + 1, sizeof(int64_t));
    mof_tensor *y[4] = {0};
    if (!buf || !dims) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    int64_t *order = buf, *tmp = buf + cap, *first = buf + 2 * cap, *count = buf + 3 * cap;
    int64_t *inverse = buf + 4 * cap, *pos = buf + 5 * cap;
    for (int64_t i = 0; i < n; i++)
        order[i] = i;
    merge_sort(uq_cmp, &u, order, tmp, n);
    for (int64_t k = 0; k < n; k++) {
        int64_t i = order[k];
        if (k == 0 || uq_value_cmp(&u, order[k - 1], i) != 0) {
            first[m] = i;
            count[m++] = 0;
        }
        count[m - 1]++;
        inverse[i] = m - 1;
    }
    /* pos[g]: the output position of group g (sorted order, or first occurrence). */
    for (int64_t g = 0; g < m; g++)
        order[g] = g;
    if (!sorted)
        merge_sort(uq_first_cmp, first, order, tmp, m);
    for (int64_t p = 0; p < m; p++)
        pos[order[p]] = p;
    if (!flat)
        memcpy(dims, x->dims, x->rank * sizeof(int64_t));
    dims[flat ? 0 : axis] = m;
    int64_t ndim[3] = {m, n, m};
    if (!(y[0] = mof_kernel_new_tensor(kc, x->dtype, flat ? 1 : x->rank, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    for (size_t k = 1; k < 4 && k < n_out; k++) {
        if (mof_node_output(kc->node, k) &&
            !(y[k] = mof_kernel_new_tensor(kc, MOF_DTYPE_INT64, 1, &ndim[k - 1]))) {
            st = MOF_ERR_NOMEM;
            goto done;
        }
    }
    for (int64_t p = 0; p < m; p++) {
        int64_t g = order[p];
        for (int64_t o = 0; o < u.outer; o++) {
            if (!mof_tensor_copy_elems(y[0], (o * m + p) * u.inner, x,
                                       (o * n + first[g]) * u.inner, u.inner)) {
                st = mof_kernel_nomem(kc);
                goto done;
            }
        }
        if (y[1])
            ((int64_t *)y[1]->data)[p] = first[g];
        if (y[3])
            ((int64_t *)y[3]->data)[p] = count[g];
    }
    for (int64_t i = 0; y[2] && i < n; i++)
        ((int64_t *)y[2]->data)[i] = pos[inverse[i]];
    for (size_t k = 0; k < 4 && k < n_out; k++) {
        out[k] = y[k];
        y[k] = NULL;
    }
done:
    for (size_t k = 0; k < 4; k++)
        mof_tensor_unref(y[k]);
    free(buf);
    free(dims);
    return st;
}

static mof_status infer_unique(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0);
    if (!x)
        return MOF_OK;
    bool flat = !mof_node_has_attr(ic->node, "axis");
    mof_status st = MOF_OK;
    int64_t axis = 0, n = -1;
    if (flat && x->rank >= 0) {
        n = 1;
        for (int i = 0; i < x->rank && n >= 0; i++)
            n = x->dims[i] >= 0 ? n * x->dims[i] : -1;
    } else if (!flat && x->rank >= 0) {
        if ((st = mof_infer_axis(ic, 0, x->rank, &axis)) != MOF_OK)
            return st;
        n = x->dims[axis];
    }
    if (flat || x->rank < 0) {
        st = mof_infer_set_rank(ic, 0, x->dtype, flat ? 1 : -1);
    } else {
        mof_dimvec o;
        if ((st = mof_dimvec_init(&o, x->rank)) != MOF_OK)
            return st;
        for (int i = 0; i < x->rank; i++)
            if (i != axis)
                mof_dimvec_take(&o, i, x, i);
        st = mof_dimvec_emit(ic, 0, x->dtype, &o);
    }
    for (size_t k = 1; st == MOF_OK && k < 4 && k < ic->n_out; k++)
        st = k == 2 ? mof_shape_set(&ic->out[k], MOF_DTYPE_INT64, 1, &n, NULL)
                    : mof_infer_set_rank(ic, k, MOF_DTYPE_INT64, 1);
    return st;
}

/* ------------------------------------------------------------------ Upsample */

/* Upsample and Resize-10: nearest or (bi)linear interpolation in asymmetric coordinates,
 * to the scales of the attribute (Upsample before opset 9) or of input 1. */
static mof_status k_upsample(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                             size_t n_out, mof_tensor **out)
{
    mof_status st = mof_kernel_need_input(kc, n_in, in, 0);
    if (st != MOF_OK)
        return st;
    const char *mode = mof_node_attr_string(kc->node, "mode", "nearest", NULL);
    rs_params p = {.coord = CT_ASYMMETRIC, .nearest = NM_SIMPLE, .cubic_a = -0.75};
    if (!strcmp(mode, "nearest"))
        p.mode = RS_NEAREST;
    else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear"))
        p.mode = RS_LINEAR;
    else
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "mode '%s' is not supported", mode);
    if (strcmp(mof_node_op_type(kc->node), "Upsample") || kc->opset >= 9) {
        if ((st = mof_kernel_need_input(kc, n_in, in, 1)) != MOF_OK)
            return st;
        return resize_run(kc, &p, in[0], NULL, in[1], NULL, &out[0]);
    }
    size_t n;
    const float *f = mof_node_attr_floats(kc->node, "scales", &n);
    int64_t len = (int64_t)n;
    mof_tensor *sc = f ? mof_tensor_create_from(MOF_DTYPE_FLOAT, 1, &len, f) : NULL;
    if (!f)
        return invalid(kc, "attribute 'scales' is required");
    if (!sc)
        return mof_kernel_nomem(kc);
    st = resize_run(kc, &p, in[0], NULL, sc, NULL, &out[0]);
    mof_tensor_unref(sc);
    return st;
}

static mof_status infer_upsample(mof_infer_ctx *ic)
{
    const mof_shape *x = mof_infer_input(ic, 0), *ss = mof_infer_input(ic, 1);
    if (!x)
        return MOF_OK;
    if (x->rank < 0)
        return mof_infer_set_rank(ic, 0, x->dtype, -1);
    size_t n = 0;
    const float *attr = NULL;
    const mof_tensor *sv = NULL;
    if (!strcmp(mof_node_op_type(ic->node), "Upsample") && ic->opset < 9)
        attr = mof_node_attr_floats(ic->node, "scales", &n);
    else if (ss && ss->value && mof_dtype_is_float(ss->value->dtype))
        sv = ss->value, n = (size_t)ss->value->numel;
    mof_dimvec o;
    mof_status st = mof_dimvec_init(&o, x->rank);
    if (st != MOF_OK)
        return st;
    bool known = (attr || sv) && n == (size_t)x->rank;
    for (int i = 0; i < x->rank; i++) {
        double s = !known ? -1 : attr ? attr[i] : mof_tensor_get_f64(sv, i);
        if (s == 1.0)
            mof_dimvec_take(&o, i, x, i);
        else if (s > 0 && x->dims[i] >= 0 && (double)x->dims[i] * s < 9.0e15)
            mof_dimvec_set(&o, i, (int64_t)floor((double)x->dims[i] * s));
    }
    return mof_dimvec_emit(ic, 0, x->dtype, &o);
}

/* ------------------------------------------------------------------ the table */


const mof_op_def mof_ops_shape[] = {
    {"", "Shape", 1, 0, k_shape, infer_shape},
    {"", "Size", 1, 0, k_size, infer_size},
    {"", "Reshape", 1, 0, k_reshape, infer_reshape},
    {"", "Transpose", 1, 0, k_transpose, infer_transpose},
    {"", "Squeeze", 1, 0, k_squeeze, infer_squeeze},
    {"", "Unsqueeze", 1, 0, k_unsqueeze, infer_unsqueeze},
    {"", "Concat", 1, 0, k_concat, infer_concat},
    {"", "Split", 1, 0, k_split, infer_split},
    {"", "Slice", 1, 0, k_slice, infer_slice},
    {"", "Gather", 1, 0, k_gather, infer_gather},
    {"", "GatherElements", 11, 0, k_gather_elements, infer_gather_elements},
    {"", "GatherND", 11, 0, k_gathernd, infer_gathernd},
    {"", "ScatterND", 11, 0, k_scatternd, mof_infer_same},
    {"", "ScatterElements", 11, 0, k_scatter_elements, mof_infer_same},
    {"", "Scatter", 9, 10, k_scatter_elements, mof_infer_same},
    {"", "Expand", 8, 0, k_expand, infer_expand},
    {"", "Tile", 6, 0, k_tile, infer_tile},
    {"", "Pad", 1, 0, k_pad, infer_pad},
    {"", "ConstantOfShape", 9, 0, k_constant_of_shape, infer_constant_of_shape},
    {"", "Constant", 1, 0, k_constant, infer_constant},
    {"", "Range", 11, 0, k_range, infer_range},
    {"", "NonZero", 9, 0, k_nonzero, infer_nonzero},
    {"", "TopK", 1, 0, k_topk, infer_topk},
    {"", "OneHot", 9, 0, k_onehot, infer_onehot},
    {"", "Trilu", 14, 0, k_trilu, mof_infer_same},
    {"", "DepthToSpace", 1, 0, k_depth_to_space, infer_depth_to_space},
    {"", "SpaceToDepth", 1, 0, k_space_to_depth, infer_space_to_depth},
    {"", "Resize", 10, 10, k_upsample, infer_upsample},
    {"", "Resize", 11, 0, k_resize, infer_resize},
    {"", "Upsample", 7, 9, k_upsample, infer_upsample},
    {"", "Compress", 9, 0, k_compress, infer_compress},
    {"", "ReverseSequence", 10, 0, k_reverse_sequence, mof_infer_same},
    {"", "EyeLike", 9, 0, k_eyelike, infer_eyelike},
    {"", "Unique", 11, 0, k_unique, infer_unique},
    {0},
};
