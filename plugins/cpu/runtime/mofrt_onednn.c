/* mofrt_onednn.c: the oneDNN runtime of mof's cpu backend; see mofrt_onednn.h.
 *
 * Every op owns one primitive and the memory objects of its execution arguments.
 * Caller memory is wrapped by memory objects whose data handle is swapped only when a
 * run passes a different pointer (oneDNN zero-pads blocked memory on every handle
 * change, so rebinding at each run would cost a pass over the tensor). Constant
 * weights live in memory the op owns, in the primitive's preferred layout.
 *
 * Threads: oneDNN's CPU runtime is OpenMP (Debian's build) or TBB/sequential; with
 * OpenMP the op sets the calling thread's OpenMP thread count before it executes (one
 * thread for small ops, see SMALL_WORK). libgomp's workers spin a while at each
 * barrier by default, as ONNX Runtime's do: fastest on idle cores, but when other
 * processes share them a spinning worker can hold a core the other thread needs.
 * OMP_WAIT_POLICY=PASSIVE in the environment of the program (libgomp reads it when the
 * program starts, so a library cannot set it) makes them sleep instead. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#endif
#if defined(__linux__) && !defined(_DEFAULT_SOURCE)
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#endif
#include "mofrt_onednn.h"

#include <float.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include <oneapi/dnnl/dnnl.h>

#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
#include <omp.h>
#endif

/* Ops smaller than this (multiply-adds, or 8 per element moved) run on one thread:
 * splitting them costs more than the second thread saves: a barrier of spinning
 * workers (libgomp's default: cheap on idle cores, 5e5 measured best on idle cores for
 * MobileNetV2's small layers, 6-10% faster than 2e6; a worker spinning while the other
 * thread waits for a core shared with other processes stalls for a scheduler time
 * slice, so on shared cores use OMP_WAIT_POLICY=PASSIVE), or waking sleeping ones
 * under OMP_WAIT_POLICY=PASSIVE (tens of microseconds or more: SMALL_WORK_PASSIVE).
 * MOFRT_ONEDNN_SMALL_WORK=N in the environment overrides both. */
#define SMALL_WORK 5e5
#define SMALL_WORK_PASSIVE 4e6

struct mofrt_onednn {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int n_threads;
    double small_work; /* SMALL_WORK or SMALL_WORK_PASSIVE */
    int block;
    int refs;      /* ops alive, plus one until mofrt_onednn_destroy */
    void *scratch; /* the scratchpad every op shares (ops run one at a time) */
    size_t scratch_bytes, scratch_need;
    char error[256];
};

/* One execution argument: caller memory (rebound per run) or owned constant. */
enum { ARG_SRC, ARG_DST, ARG_SUM, ARG_SCRATCH, ARG_CONST };

typedef struct op_arg {
    int dnnl_arg;
    int role;
    dnnl_memory_t mem;
    void *owned; /* data of an ARG_CONST memory, freed with the op */
    const void *bound;
} op_arg;

#define OP_MAX_ARGS 8

struct mofrt_onednn_op {
    mofrt_onednn *rt;
    dnnl_primitive_t prim;
    const char *impl;
    int n_args;
    op_arg args[OP_MAX_ARGS];
    dnnl_exec_arg_t exec[OP_MAX_ARGS];
    size_t copy_bytes; /* a reorder between identical layouts: a copy */
    mofrt_onednn_op *pre; /* run first: the residual into dst (a sum post-op) */
    /* A convolution between tensors of different channel blocks (nChw16c and nChw8c:
     * no fast kernel takes both) computes on nChw8c copies: in converts src into
     * sbuf, out converts dbuf into dst. */
    mofrt_onednn_op *in, *out;
    float *sbuf, *dbuf;
    int threads; /* OpenMP threads it was created for and runs with (<= 0: default) */
};

#if defined(__GNUC__)
static void rt_err(mofrt_onednn *rt, dnnl_status_t s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#endif

static void *alloc64(size_t bytes)
{
    /* 2 MiB or more (weights, scratchpads): on a 2 MiB boundary, in transparent huge
     * pages where Linux gives them on request (see mofrt_alloc in mofrt.c). */
    size_t huge = (size_t)2 << 20, align = bytes >= huge ? huge : 64;
    void *p = NULL;
    if (posix_memalign(&p, align, bytes ? bytes : 64) != 0)
        return NULL;
#if defined(MADV_HUGEPAGE)
    if (align == huge)
        (void)madvise(p, bytes, MADV_HUGEPAGE); /* advice only */
#endif
    return p;
}

static void rt_err(mofrt_onednn *rt, dnnl_status_t s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(rt->error, sizeof rt->error, fmt, ap);
    va_end(ap);
    if (s != dnnl_success && n >= 0 && (size_t)n < sizeof rt->error)
        snprintf(rt->error + n, sizeof rt->error - (size_t)n, ": oneDNN status %d",
                 (int)s);
}

mofrt_onednn *mofrt_onednn_create(int n_threads)
{
    mofrt_onednn *rt = calloc(1, sizeof *rt);
    if (!rt)
        return NULL;
    rt->n_threads = n_threads;
    rt->refs = 1;
    /* the wait policy libgomp read from the same variable when the program started */
    const char *policy = getenv("OMP_WAIT_POLICY");
    rt->small_work = policy && (!strcmp(policy, "PASSIVE") || !strcmp(policy, "passive"))
                         ? SMALL_WORK_PASSIVE
                         : SMALL_WORK;
    /* MOFRT_ONEDNN_SMALL_WORK=N overrides the threshold (multiply-adds). */
    const char *sw = getenv("MOFRT_ONEDNN_SMALL_WORK");
    if (sw && *sw) {
        char *end = NULL;
        double v = strtod(sw, &end);
        if (end && !*end && v >= 0)
            rt->small_work = v;
    }
    if (dnnl_engine_create(&rt->engine, dnnl_cpu, 0) != dnnl_success)
        goto fail;
    if (dnnl_stream_create(&rt->stream, rt->engine, dnnl_stream_default_flags)
        != dnnl_success)
        goto fail;
    /* nChw16c where oneDNN runs AVX-512 kernels (they want it), else nChw8c (AVX2);
     * MOFRT_ONEDNN_BLOCK=8|16 in the environment overrides (for benchmarks). */
    rt->block = (dnnl_get_effective_cpu_isa() & dnnl_cpu_isa_avx512_core)
                        == dnnl_cpu_isa_avx512_core
                    ? 16
                    : 8;
    const char *env = getenv("MOFRT_ONEDNN_BLOCK");
    if (env && (!strcmp(env, "8") || !strcmp(env, "16")))
        rt->block = atoi(env);
    return rt;
fail:
    mofrt_onednn_destroy(rt);
    return NULL;
}

void mofrt_onednn_prefer_block8(mofrt_onednn *rt)
{
    const char *env = getenv("MOFRT_ONEDNN_BLOCK");
    if (!(env && (!strcmp(env, "8") || !strcmp(env, "16"))))
        rt->block = 8;
}

/* Releases what an op's creation built (each may be NULL). */
static void descs_free(dnnl_primitive_desc_t pd, dnnl_post_ops_t po, dnnl_primitive_attr_t attr)
{
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
}

/* Ops keep the runtime (its engine) alive: the artifact may destroy them in any order. */
static void rt_unref(mofrt_onednn *rt)
{
    if (--rt->refs > 0)
        return;
    free(rt->scratch);
    if (rt->stream)
        dnnl_stream_destroy(rt->stream);
    if (rt->engine)
        dnnl_engine_destroy(rt->engine);
    free(rt);
}

void mofrt_onednn_destroy(mofrt_onednn *rt)
{
    if (rt)
        rt_unref(rt);
}

const char *mofrt_onednn_error(const mofrt_onednn *rt)
{
    return rt ? rt->error : "out of memory";
}

int mofrt_onednn_block(const mofrt_onednn *rt)
{
    return rt->block;
}

void mofrt_onednn_set_block(mofrt_onednn *rt, int block)
{
    rt->block = block == 16 ? 16 : 8;
}

/* An op's own layout (never the emitter's): nChw8c whatever the runtime's block. */
#define LAYOUT_B8 ((mofrt_onednn_layout)2)

/* The channel block of a BLOCKED tensor of c channels: the runtime's block when c is
 * a multiple of it, else 8. */
static int blk(const mofrt_onednn *rt, int c)
{
    return c % rt->block == 0 ? rt->block : 8;
}

size_t mofrt_onednn_nchw_floats(const mofrt_onednn *rt, mofrt_onednn_layout layout, int n,
                              int c, int h, int w)
{
    size_t cp = (size_t)c;
    if (layout != MOFRT_ONEDNN_PLAIN) {
        size_t b = layout == LAYOUT_B8 ? 8 : (size_t)blk(rt, c);
        cp = (cp + b - 1) / b * b;
    }
    return (size_t)n * cp * (size_t)h * (size_t)w;
}

static dnnl_format_tag_t act_tag(const mofrt_onednn *rt, mofrt_onednn_layout l, int c)
{
    if (l == MOFRT_ONEDNN_PLAIN)
        return dnnl_nchw;
    if (l == LAYOUT_B8)
        return dnnl_nChw8c;
    return blk(rt, c) == 16 ? dnnl_nChw16c : dnnl_nChw8c;
}

static dnnl_status_t md_nchw(const mofrt_onednn *rt, dnnl_memory_desc_t *md, int n,
                             int c, int h, int w, mofrt_onednn_layout l)
{
    dnnl_dims_t d = {n, c, h, w};
    return dnnl_memory_desc_init_by_tag(md, 4, d, dnnl_f32, act_tag(rt, l, c));
}

/* oneDNN sizes its work split for the thread count when a primitive is created
 * (and runs with it), so the count is set before both. */
static void set_threads(int n)
{
#if DNNL_CPU_THREADING_RUNTIME == DNNL_RUNTIME_OMP
    if (n > 0 && omp_get_max_threads() != n)
        omp_set_num_threads(n);
#else
    (void)n;
#endif
}

/* A new op of about `work` multiply-adds (see SMALL_WORK). */
static mofrt_onednn_op *op_new(mofrt_onednn *rt, double work)
{
    mofrt_onednn_op *op = calloc(1, sizeof *op);
    if (!op) {
        rt_err(rt, dnnl_success, "out of memory");
        return NULL;
    }
    op->rt = rt;
    op->threads = rt->n_threads > 1 && work < rt->small_work ? 1 : rt->n_threads;
    set_threads(op->threads);
    rt->refs++;
    return op;
}

void mofrt_onednn_op_destroy(mofrt_onednn_op *op)
{
    if (!op)
        return;
    for (int i = 0; i < op->n_args; i++) {
        if (op->args[i].mem)
            dnnl_memory_destroy(op->args[i].mem);
        free(op->args[i].owned);
    }
    mofrt_onednn_op_destroy(op->pre);
    mofrt_onednn_op_destroy(op->in);
    mofrt_onednn_op_destroy(op->out);
    free(op->sbuf);
    free(op->dbuf);
    if (op->prim)
        dnnl_primitive_destroy(op->prim);
    rt_unref(op->rt);
    free(op);
}

/* Adds an argument of md; caller memory gets no handle until the first run. */
static dnnl_status_t op_add_arg(mofrt_onednn_op *op, int dnnl_arg, int role,
                                const dnnl_memory_desc_t *md)
{
    op_arg *a = &op->args[op->n_args];
    dnnl_status_t s;
    if (role == ARG_CONST) {
        size_t bytes = dnnl_memory_desc_get_size(md);
        a->owned = alloc64(bytes);
        if (!a->owned)
            return dnnl_out_of_memory;
        memset(a->owned, 0, bytes);
        s = dnnl_memory_create(&a->mem, md, op->rt->engine, a->owned);
    } else {
        s = dnnl_memory_create(&a->mem, md, op->rt->engine, DNNL_MEMORY_NONE);
    }
    if (s != dnnl_success)
        return s;
    a->dnnl_arg = dnnl_arg;
    a->role = role;
    op->exec[op->n_args].arg = dnnl_arg;
    op->exec[op->n_args].memory = a->mem;
    op->n_args++;
    return dnnl_success;
}

/* Reorders user data (plain md, read-only) into the op's constant argument. */
static dnnl_status_t reorder_const(mofrt_onednn *rt, const dnnl_memory_desc_t *user_md,
                                   const void *data, dnnl_memory_t to)
{
    const dnnl_memory_desc_t *to_md = NULL;
    dnnl_memory_t from = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_status_t s = dnnl_memory_get_memory_desc(to, &to_md);
    if (s != dnnl_success)
        return s;
    s = dnnl_memory_create(&from, user_md, rt->engine, (void *)data);
    if (s != dnnl_success)
        goto out;
    s = dnnl_reorder_primitive_desc_create(&pd, user_md, rt->engine, to_md, rt->engine,
                                           NULL);
    if (s != dnnl_success)
        goto out;
    s = dnnl_primitive_create(&r, pd);
    if (s != dnnl_success)
        goto out;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    s = dnnl_primitive_execute(r, rt->stream, 2, args);
    if (s == dnnl_success)
        s = dnnl_stream_wait(rt->stream);
out:
    if (r)
        dnnl_primitive_destroy(r);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (from)
        dnnl_memory_destroy(from);
    return s;
}

/* Appends the activation as eltwise post-ops. */
static dnnl_status_t append_act(dnnl_post_ops_t po, mofrt_onednn_act act, const float *p)
{
    switch (act) {
    case MOFRT_ONEDNN_ACT_NONE:
        return dnnl_success;
    case MOFRT_ONEDNN_ACT_RELU:
        return dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, 0.f, 0.f);
    case MOFRT_ONEDNN_ACT_LEAKY_RELU:
        return dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_relu, p[0], 0.f);
    case MOFRT_ONEDNN_ACT_CLIP: {
        /* oneDNN's clip takes finite bounds */
        float lo = p[0] < -FLT_MAX ? -FLT_MAX : p[0];
        float hi = p[1] > FLT_MAX ? FLT_MAX : p[1];
        return dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip_v2, lo, hi);
    }
    case MOFRT_ONEDNN_ACT_SIGMOID:
        return dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_logistic, 0.f, 0.f);
    case MOFRT_ONEDNN_ACT_HARD_SIGMOID: {
        dnnl_status_t s =
            dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_linear, p[0], p[1]);
        if (s != dnnl_success)
            return s;
        return dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_clip_v2, 0.f, 1.f);
    }
    case MOFRT_ONEDNN_ACT_HARD_SWISH:
        return dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_hardswish, 0.f, 0.f);
    case MOFRT_ONEDNN_ACT_SILU:
        return dnnl_post_ops_append_eltwise(po, 1.f, dnnl_eltwise_swish, 1.f, 0.f);
    }
    return dnnl_invalid_arguments;
}

/* Makes the primitive of pd, records its implementation, and adds the scratchpad. */
static dnnl_status_t op_finish(mofrt_onednn_op *op, dnnl_primitive_desc_t pd)
{
    dnnl_status_t s = dnnl_primitive_create(&op->prim, pd);
    if (s != dnnl_success)
        return s;
    const char *impl = NULL;
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl)
        == dnnl_success)
        op->impl = impl; /* static strings of the implementation */
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (bytes > 0) {
        s = op_add_arg(op, DNNL_ARG_SCRATCHPAD, ARG_SCRATCH, sp);
        if (bytes > op->rt->scratch_need)
            op->rt->scratch_need = bytes;
    }
    return s;
}

static dnnl_status_t make_attr(dnnl_primitive_attr_t *attr, dnnl_post_ops_t *po)
{
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s != dnnl_success)
        return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s != dnnl_success)
        return s;
    return dnnl_post_ops_create(po);
}

/* A convolution computed by algorithm alg (dnnl_convolution_direct or _winograd). */
static mofrt_onednn_op *conv_create(mofrt_onednn *rt, const mofrt_onednn_conv_params *p,
                                    const float *weights, const float *bias,
                                    dnnl_alg_kind_t alg)
{
    int g = p->group > 1 ? p->group : 1;
    mofrt_onednn_op *op =
        op_new(rt, (double)p->n * p->k * p->oh * p->ow * (p->c / g) * p->kh * p->kw);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    const char *what = "convolution";
    if (!op)
        return NULL;
    dnnl_memory_desc_t src, dst, wany, wuser, bmd;
    dnnl_dims_t wd5 = {g, p->k / g, p->c / g, p->kh, p->kw};
    dnnl_dims_t wd4 = {p->k, p->c, p->kh, p->kw};
    dnnl_dims_t bd = {p->k};
    dnnl_dims_t strides = {p->stride_h, p->stride_w};
    dnnl_dims_t dil = {p->dil_h - 1, p->dil_w - 1};
    dnnl_dims_t pl = {p->pad_t, p->pad_l}, pr = {p->pad_b, p->pad_r};
    mofrt_onednn_layout sl = p->src_layout, dl = p->dst_layout;
    if (sl == MOFRT_ONEDNN_BLOCKED && dl == MOFRT_ONEDNN_BLOCKED
        && blk(rt, p->c) != blk(rt, p->k)) {
        sl = dl = LAYOUT_B8;
        what = "convolution's nChw8c copies";
        if (act_tag(rt, p->src_layout, p->c) != dnnl_nChw8c) {
            op->in = mofrt_onednn_reorder_create(rt, p->n, p->c, p->h, p->w, p->src_layout, sl);
            op->sbuf = alloc64(mofrt_onednn_nchw_floats(rt, sl, p->n, p->c, p->h, p->w)
                               * sizeof(float));
            if (!op->in || !op->sbuf) {
                s = dnnl_out_of_memory;
                goto fail;
            }
        }
        if (act_tag(rt, p->dst_layout, p->k) != dnnl_nChw8c) {
            op->out = mofrt_onednn_reorder_create(rt, p->n, p->k, p->oh, p->ow, dl,
                                                  p->dst_layout);
            op->dbuf = alloc64(mofrt_onednn_nchw_floats(rt, dl, p->n, p->k, p->oh, p->ow)
                               * sizeof(float));
            if (!op->out || !op->dbuf) {
                s = dnnl_out_of_memory;
                goto fail;
            }
        }
        what = "convolution";
    }
    if ((s = md_nchw(rt, &src, p->n, p->c, p->h, p->w, sl)) != dnnl_success
        || (s = md_nchw(rt, &dst, p->n, p->k, p->oh, p->ow, dl)) != dnnl_success)
        goto fail;
    if (g > 1) {
        s = dnnl_memory_desc_init_by_tag(&wany, 5, wd5, dnnl_f32, dnnl_format_tag_any);
        if (s == dnnl_success)
            s = dnnl_memory_desc_init_by_tag(&wuser, 5, wd5, dnnl_f32, dnnl_goihw);
    } else {
        s = dnnl_memory_desc_init_by_tag(&wany, 4, wd4, dnnl_f32, dnnl_format_tag_any);
        if (s == dnnl_success)
            s = dnnl_memory_desc_init_by_tag(&wuser, 4, wd4, dnnl_f32, dnnl_oihw);
    }
    if (s != dnnl_success)
        goto fail;
    if ((s = dnnl_memory_desc_init_by_tag(&bmd, 1, bd, dnnl_f32, dnnl_x)) != dnnl_success)
        goto fail;
    dnnl_convolution_desc_t cd;
    s = dnnl_dilated_convolution_forward_desc_init(
        &cd, dnnl_forward_inference, alg, &src, &wany,
        bias ? &bmd : NULL, &dst, strides, dil, pl, pr);
    if (s != dnnl_success)
        goto fail;
    if ((s = make_attr(&attr, &po)) != dnnl_success)
        goto fail;
    /* The residual: a binary post-op reads it where it is when its layout is dst's;
     * otherwise a reorder first writes it into dst and a sum post-op adds to it. */
    /* (Winograd kernels take no binary post-op) */
    int binary_sum = p->has_sum && act_tag(rt, p->sum_layout, p->k) == act_tag(rt, dl, p->k)
                     && alg != dnnl_convolution_winograd;
    if (binary_sum
        && (s = dnnl_post_ops_append_binary(po, dnnl_binary_add, &dst)) != dnnl_success)
        goto fail;
    if (p->has_sum && !binary_sum) {
        if ((s = dnnl_post_ops_append_sum(po, 1.f)) != dnnl_success)
            goto fail;
        op->pre = mofrt_onednn_reorder_create(rt, p->n, p->k, p->oh, p->ow,
                                              p->sum_layout, dl);
        if (!op->pre) {
            mofrt_onednn_op_destroy(op);
            return NULL;
        }
    }
    if ((s = append_act(po, p->act, p->act_params)) != dnnl_success)
        goto fail;
    if ((s = dnnl_primitive_attr_set_post_ops(attr, po)) != dnnl_success)
        goto fail;
    what = "convolution primitive";
    set_threads(op->threads); /* (the reorders above set theirs) */
    s = dnnl_primitive_desc_create(&pd, &cd, attr, rt->engine, NULL);
    if (s != dnnl_success)
        goto fail;
    what = "convolution arguments";
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if ((s = op_add_arg(op, DNNL_ARG_SRC, ARG_SRC, &src)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_DST, ARG_DST, &dst)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_WEIGHTS, ARG_CONST, wmd)) != dnnl_success)
        goto fail;
    what = "weights reorder";
    if ((s = reorder_const(rt, &wuser, weights, op->args[op->n_args - 1].mem))
        != dnnl_success)
        goto fail;
    if (bias) {
        what = "bias";
        if ((s = op_add_arg(op, DNNL_ARG_BIAS, ARG_CONST, &bmd)) != dnnl_success)
            goto fail;
        memcpy(op->args[op->n_args - 1].owned, bias, (size_t)p->k * sizeof(float));
    }
    if (binary_sum
        && (s = op_add_arg(op, DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1,
                           ARG_SUM, &dst))
               != dnnl_success)
        goto fail;
    what = "convolution primitive";
    if ((s = op_finish(op, pd)) != dnnl_success)
        goto fail;
    descs_free(pd, po, attr);
    return op;
fail:
    rt_err(rt, s, "%s (%dx%d conv, %d->%d channels, %dx%d input, group %d)", what, p->kh,
           p->kw, p->c, p->k, p->h, p->w, g);
    descs_free(pd, po, attr);
    mofrt_onednn_op_destroy(op);
    return NULL;
}

/* 3x3 convolutions of stride 1, dense and ungrouped, between blocked tensors run
 * Winograd's algorithm where oneDNN has it (AVX-512: F(2x2, 3x3) / F(4x4, 3x3), about
 * half the multiplications; errors stay ~1e-6 relative on ResNet-18's logits), else
 * the direct kernels. MOFRT_ONEDNN_WINOGRAD=0 in the environment turns it off. */
mofrt_onednn_op *mofrt_onednn_conv_create(mofrt_onednn *rt, const mofrt_onednn_conv_params *p,
                                      const float *weights, const float *bias)
{
    const char *env = getenv("MOFRT_ONEDNN_WINOGRAD");
    if (p->kh == 3 && p->kw == 3 && p->stride_h == 1 && p->stride_w == 1 && p->dil_h == 1
        && p->dil_w == 1 && p->group <= 1 && p->src_layout == MOFRT_ONEDNN_BLOCKED
        && p->dst_layout == MOFRT_ONEDNN_BLOCKED && p->c % 16 == 0 && p->k % 16 == 0
        && !(env && !strcmp(env, "0"))) {
        mofrt_onednn_op *op = conv_create(rt, p, weights, bias, dnnl_convolution_winograd);
        if (op)
            return op;
        rt->error[0] = 0; /* no Winograd kernel for it: the direct one */
    }
    return conv_create(rt, p, weights, bias, dnnl_convolution_direct);
}

mofrt_onednn_op *mofrt_onednn_pool_create(mofrt_onednn *rt, const mofrt_onednn_pool_params *p)
{
    mofrt_onednn_op *op = op_new(rt, (double)p->n * p->c * p->oh * p->ow * p->kh * p->kw);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    if (!op)
        return NULL;
    dnnl_memory_desc_t src, dst;
    dnnl_dims_t strides = {p->stride_h, p->stride_w}, kernel = {p->kh, p->kw};
    dnnl_dims_t dil = {p->dil_h - 1, p->dil_w - 1};
    dnnl_dims_t pl = {p->pad_t, p->pad_l}, pr = {p->pad_b, p->pad_r};
    dnnl_alg_kind_t alg = p->kind == MOFRT_ONEDNN_POOL_MAX ? dnnl_pooling_max
                          : p->kind == MOFRT_ONEDNN_POOL_AVG_INCLUDE_PAD
                              ? dnnl_pooling_avg_include_padding
                              : dnnl_pooling_avg_exclude_padding;
    dnnl_pooling_v2_desc_t d;
    if ((s = md_nchw(rt, &src, p->n, p->c, p->h, p->w, p->src_layout)) != dnnl_success
        || (s = md_nchw(rt, &dst, p->n, p->c, p->oh, p->ow, p->dst_layout))
               != dnnl_success
        || (s = dnnl_pooling_v2_forward_desc_init(&d, dnnl_forward_inference, alg, &src,
                                                  &dst, strides, kernel, dil, pl, pr))
               != dnnl_success
        || (s = make_attr(&attr, &po)) != dnnl_success
        || (s = dnnl_primitive_desc_create(&pd, &d, attr, rt->engine, NULL))
               != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_SRC, ARG_SRC, &src)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_DST, ARG_DST, &dst)) != dnnl_success
        || (s = op_finish(op, pd)) != dnnl_success)
        goto fail;
    descs_free(pd, po, attr);
    return op;
fail:
    rt_err(rt, s, "pooling (%dx%d window, %d channels, %dx%d input)", p->kh, p->kw,
           p->c, p->h, p->w);
    descs_free(pd, po, attr);
    mofrt_onednn_op_destroy(op);
    return NULL;
}

mofrt_onednn_op *mofrt_onednn_matmul_create(mofrt_onednn *rt,
                                        const mofrt_onednn_matmul_params *p,
                                        const float *b, const float *bias)
{
    mofrt_onednn_op *op = op_new(rt, (double)p->m * p->k * p->n);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    float *scaled = NULL;
    dnnl_status_t s = dnnl_success;
    const char *what = "matmul";
    if (!op)
        return NULL;
    dnnl_memory_desc_t a, bany, buser, bmd, y;
    dnnl_dims_t ad = {p->m, p->k}, bd = {p->k, p->n}, yd = {p->m, p->n};
    dnnl_dims_t biasd = {1, p->n};
    if ((s = dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_f32, dnnl_ab)) != dnnl_success
        || (s = dnnl_memory_desc_init_by_tag(&y, 2, yd, dnnl_f32, dnnl_ab)) != dnnl_success
        || (s = dnnl_memory_desc_init_by_tag(&bany, 2, bd, dnnl_f32, dnnl_format_tag_any))
               != dnnl_success
        || (s = dnnl_memory_desc_init_by_tag(&buser, 2, bd, dnnl_f32,
                                             p->trans_b ? dnnl_ba : dnnl_ab))
               != dnnl_success
        || (s = dnnl_memory_desc_init_by_tag(&bmd, 2, biasd, dnnl_f32, dnnl_ab))
               != dnnl_success)
        goto fail;
    dnnl_matmul_desc_t d;
    if ((s = dnnl_matmul_desc_init(&d, &a, &bany, bias ? &bmd : NULL, &y)) != dnnl_success
        || (s = make_attr(&attr, &po)) != dnnl_success
        || (s = append_act(po, p->act, p->act_params)) != dnnl_success
        || (s = dnnl_primitive_attr_set_post_ops(attr, po)) != dnnl_success)
        goto fail;
    what = "matmul primitive";
    if ((s = dnnl_primitive_desc_create(&pd, &d, attr, rt->engine, NULL)) != dnnl_success)
        goto fail;
    const dnnl_memory_desc_t *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    if ((s = op_add_arg(op, DNNL_ARG_SRC, ARG_SRC, &a)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_DST, ARG_DST, &y)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_WEIGHTS, ARG_CONST, wmd)) != dnnl_success)
        goto fail;
    const float *bsrc = b;
    if (p->alpha != 1.f) {
        size_t nb = (size_t)p->k * (size_t)p->n;
        scaled = malloc(nb * sizeof *scaled);
        if (!scaled) {
            s = dnnl_out_of_memory;
            goto fail;
        }
        for (size_t i = 0; i < nb; i++)
            scaled[i] = b[i] * p->alpha;
        bsrc = scaled;
    }
    what = "weights reorder";
    if ((s = reorder_const(rt, &buser, bsrc, op->args[op->n_args - 1].mem)) != dnnl_success)
        goto fail;
    if (bias) {
        what = "bias";
        if ((s = op_add_arg(op, DNNL_ARG_BIAS, ARG_CONST, &bmd)) != dnnl_success)
            goto fail;
        memcpy(op->args[op->n_args - 1].owned, bias, (size_t)p->n * sizeof(float));
    }
    what = "matmul primitive";
    if ((s = op_finish(op, pd)) != dnnl_success)
        goto fail;
    free(scaled);
    descs_free(pd, po, attr);
    return op;
fail:
    rt_err(rt, s, "%s ([%d x %d] x [%d x %d])", what, p->m, p->k, p->k, p->n);
    free(scaled);
    descs_free(pd, po, attr);
    mofrt_onednn_op_destroy(op);
    return NULL;
}

mofrt_onednn_op *mofrt_onednn_binary_create(mofrt_onednn *rt, const mofrt_onednn_binary_params *p)
{
    mofrt_onednn_op *op = op_new(rt, 8.0 * p->n * p->c * p->h * p->w);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    if (!op)
        return NULL;
    dnnl_memory_desc_t a, b, y;
    dnnl_binary_desc_t d;
    if ((s = md_nchw(rt, &a, p->n, p->c, p->h, p->w, p->src0_layout)) != dnnl_success
        || (s = md_nchw(rt, &b, p->n, p->c, p->h, p->w, p->src1_layout)) != dnnl_success
        || (s = md_nchw(rt, &y, p->n, p->c, p->h, p->w, p->dst_layout)) != dnnl_success
        || (s = dnnl_binary_desc_init(&d, dnnl_binary_add, &a, &b, &y)) != dnnl_success
        || (s = make_attr(&attr, &po)) != dnnl_success
        || (s = append_act(po, p->act, p->act_params)) != dnnl_success
        || (s = dnnl_primitive_attr_set_post_ops(attr, po)) != dnnl_success
        || (s = dnnl_primitive_desc_create(&pd, &d, attr, rt->engine, NULL)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_SRC_0, ARG_SRC, &a)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_SRC_1, ARG_SUM, &b)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_DST, ARG_DST, &y)) != dnnl_success
        || (s = op_finish(op, pd)) != dnnl_success)
        goto fail;
    descs_free(pd, po, attr);
    return op;
fail:
    rt_err(rt, s, "add of [%d, %d, %d, %d]", p->n, p->c, p->h, p->w);
    descs_free(pd, po, attr);
    mofrt_onednn_op_destroy(op);
    return NULL;
}

/* The end of the create functions below: frees what is left and returns op, or on
 * failure records the reason and returns NULL. */
static mofrt_onednn_op *op_done(mofrt_onednn_op *op, dnnl_status_t s, dnnl_primitive_desc_t pd,
                                dnnl_post_ops_t po, dnnl_primitive_attr_t attr,
                                const char *what)
{
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (po)
        dnnl_post_ops_destroy(po);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (s == dnnl_success)
        return op;
    rt_err(op->rt, s, "%s", what);
    mofrt_onednn_op_destroy(op);
    return NULL;
}

mofrt_onednn_op *mofrt_onednn_softmax_create(mofrt_onednn *rt, int outer, int len)
{
    mofrt_onednn_op *op = op_new(rt, 8.0 * outer * len);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    if (!op)
        return NULL;
    dnnl_memory_desc_t x;
    dnnl_dims_t d = {outer, len};
    dnnl_softmax_v2_desc_t sd;
    if ((s = dnnl_memory_desc_init_by_tag(&x, 2, d, dnnl_f32, dnnl_ab)) == dnnl_success
        && (s = dnnl_softmax_v2_forward_desc_init(&sd, dnnl_forward_inference,
                                                  dnnl_softmax_accurate, &x, &x, 1))
               == dnnl_success
        && (s = make_attr(&attr, &po)) == dnnl_success
        && (s = dnnl_primitive_desc_create(&pd, &sd, attr, rt->engine, NULL)) == dnnl_success
        && (s = op_add_arg(op, DNNL_ARG_SRC, ARG_SRC, &x)) == dnnl_success
        && (s = op_add_arg(op, DNNL_ARG_DST, ARG_DST, &x)) == dnnl_success)
        s = op_finish(op, pd);
    return op_done(op, s, pd, po, attr, "softmax");
}

mofrt_onednn_op *mofrt_onednn_layernorm_create(mofrt_onednn *rt, int rows, int len, float eps,
                                             const float *scale, const float *bias)
{
    mofrt_onednn_op *op = op_new(rt, 8.0 * rows * len);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    if (!op)
        return NULL;
    dnnl_memory_desc_t x, v;
    dnnl_dims_t d = {rows, len}, vd = {len};
    dnnl_layer_normalization_desc_t ld;
    unsigned flags = dnnl_use_scale | (bias ? dnnl_use_shift : 0u);
    if ((s = dnnl_memory_desc_init_by_tag(&x, 2, d, dnnl_f32, dnnl_ab)) != dnnl_success
        || (s = dnnl_memory_desc_init_by_tag(&v, 1, vd, dnnl_f32, dnnl_x)) != dnnl_success
        || (s = dnnl_layer_normalization_forward_desc_init(&ld, dnnl_forward_inference, &x,
                                                           NULL, eps, flags))
               != dnnl_success
        || (s = make_attr(&attr, &po)) != dnnl_success
        || (s = dnnl_primitive_desc_create(&pd, &ld, attr, rt->engine, NULL)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_SRC, ARG_SRC, &x)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_DST, ARG_DST, &x)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_SCALE, ARG_CONST, &v)) != dnnl_success)
        return op_done(op, s, pd, po, attr, "layer normalization");
    memcpy(op->args[op->n_args - 1].owned, scale, (size_t)len * sizeof(float));
    if (bias) {
        if ((s = op_add_arg(op, DNNL_ARG_SHIFT, ARG_CONST, &v)) != dnnl_success)
            return op_done(op, s, pd, po, attr, "layer normalization");
        memcpy(op->args[op->n_args - 1].owned, bias, (size_t)len * sizeof(float));
    }
    /* the statistics, where the implementation writes them: memory of the op's own */
    const int stats[2] = {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE};
    for (int i = 0; i < 2; i++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md,
                                                                     stats[i]);
        if (md && dnnl_memory_desc_get_size(md) > 0
            && (s = op_add_arg(op, stats[i], ARG_CONST, md)) != dnnl_success)
            return op_done(op, s, pd, po, attr, "layer normalization statistics");
    }
    s = op_finish(op, pd);
    return op_done(op, s, pd, po, attr, "layer normalization");
}

mofrt_onednn_op *mofrt_onednn_bmm_create(mofrt_onednn *rt, const mofrt_onednn_bmm_params *p)
{
    mofrt_onednn_op *op = op_new(rt, (double)p->batch * p->m * p->k * p->n);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s;
    if (!op)
        return NULL;
    dnnl_memory_desc_t a, b, y;
    dnnl_dims_t ad = {p->batch, p->m, p->k}, bd = {p->batch, p->k, p->n};
    dnnl_dims_t yd = {p->batch, p->m, p->n};
    dnnl_matmul_desc_t d;
    if ((s = dnnl_memory_desc_init_by_tag(&a, 3, ad, dnnl_f32, dnnl_abc)) == dnnl_success
        && (s = dnnl_memory_desc_init_by_tag(&b, 3, bd, dnnl_f32, dnnl_abc)) == dnnl_success
        && (s = dnnl_memory_desc_init_by_tag(&y, 3, yd, dnnl_f32, dnnl_abc)) == dnnl_success
        && (s = dnnl_matmul_desc_init(&d, &a, &b, NULL, &y)) == dnnl_success
        && (s = make_attr(&attr, &po)) == dnnl_success
        && (s = append_act(po, p->act, p->act_params)) == dnnl_success
        && (s = dnnl_primitive_attr_set_post_ops(attr, po)) == dnnl_success
        && (s = dnnl_primitive_desc_create(&pd, &d, attr, rt->engine, NULL)) == dnnl_success
        && (s = op_add_arg(op, DNNL_ARG_SRC, ARG_SRC, &a)) == dnnl_success
        && (s = op_add_arg(op, DNNL_ARG_WEIGHTS, ARG_SUM, &b)) == dnnl_success
        && (s = op_add_arg(op, DNNL_ARG_DST, ARG_DST, &y)) == dnnl_success)
        s = op_finish(op, pd);
    return op_done(op, s, pd, po, attr, "batched matmul");
}

mofrt_onednn_op *mofrt_onednn_reorder_create(mofrt_onednn *rt, int n, int c, int h, int w,
                                         mofrt_onednn_layout from, mofrt_onednn_layout to)
{
    mofrt_onednn_op *op = op_new(rt, 8.0 * n * c * h * w);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_status_t s;
    if (!op)
        return NULL;
    /* Identical bytes (same layout, or one pixel per image and whole blocks): the
     * reorder is a copy. */
    int c_whole = c % blk(rt, c) == 0;
    if (act_tag(rt, from, c) == act_tag(rt, to, c) || (h * w == 1 && c_whole)) {
        op->copy_bytes = mofrt_onednn_nchw_floats(rt, from, n, c, h, w) * sizeof(float);
        op->impl = "copy";
        return op;
    }
    dnnl_memory_desc_t src, dst;
    if ((s = md_nchw(rt, &src, n, c, h, w, from)) != dnnl_success
        || (s = md_nchw(rt, &dst, n, c, h, w, to)) != dnnl_success
        || (s = dnnl_primitive_attr_create(&attr)) != dnnl_success
        || (s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user))
               != dnnl_success
        || (s = dnnl_reorder_primitive_desc_create(&pd, &src, rt->engine, &dst,
                                                   rt->engine, attr))
               != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_FROM, ARG_SRC, &src)) != dnnl_success
        || (s = op_add_arg(op, DNNL_ARG_TO, ARG_DST, &dst)) != dnnl_success
        || (s = op_finish(op, pd)) != dnnl_success)
        goto fail;
    dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return op;
fail:
    rt_err(rt, s, "reorder of [%d, %d, %d, %d]", n, c, h, w);
    if (pd)
        dnnl_primitive_desc_destroy(pd);
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    mofrt_onednn_op_destroy(op);
    return NULL;
}

int mofrt_onednn_op_run(mofrt_onednn_op *op, const float *src, float *dst, const float *sum)
{
    mofrt_onednn *rt = op->rt;
    float *final_dst = dst;
    if (op->in) {
        if (mofrt_onednn_op_run(op->in, src, op->sbuf, NULL) != 0)
            return -1;
        src = op->sbuf;
    }
    if (op->out)
        dst = op->dbuf;
    if (op->pre) {
        if (mofrt_onednn_op_run(op->pre, sum, dst, NULL) != 0)
            return -1;
        sum = NULL;
    }
    if (op->copy_bytes) {
        if ((const void *)src != (void *)dst)
            memmove(dst, src, op->copy_bytes);
        return 0;
    }
    if (rt->scratch_need > rt->scratch_bytes) {
        /* the first run after the ops were created: one scratchpad for all */
        free(rt->scratch);
        rt->scratch_bytes = 0;
        rt->scratch = alloc64(rt->scratch_need);
        if (!rt->scratch) {
            rt_err(rt, dnnl_out_of_memory, "scratchpad of %zu bytes", rt->scratch_need);
            return -1;
        }
        rt->scratch_bytes = rt->scratch_need;
    }
    for (int i = 0; i < op->n_args; i++) {
        op_arg *a = &op->args[i];
        const void *want = a->role == ARG_SRC   ? (const void *)src
                           : a->role == ARG_DST ? (const void *)dst
                           : a->role == ARG_SUM ? (const void *)sum
                                                : rt->scratch;
        if (a->role == ARG_CONST || want == a->bound)
            continue;
        dnnl_status_t s = dnnl_memory_set_data_handle_v2(a->mem, (void *)want, rt->stream);
        if (s != dnnl_success) {
            rt_err(rt, s, "binding a tensor of a %s", op->impl ? op->impl : "primitive");
            return -1;
        }
        a->bound = want;
    }
    set_threads(op->threads);
    dnnl_status_t s = dnnl_primitive_execute(op->prim, rt->stream, op->n_args, op->exec);
    if (s == dnnl_success)
        s = dnnl_stream_wait(rt->stream);
    if (s != dnnl_success) {
        rt_err(rt, s, "executing %s", op->impl ? op->impl : "a primitive");
        return -1;
    }
    if (op->out)
        return mofrt_onednn_op_run(op->out, dst, final_dst, NULL);
    return 0;
}

const char *mofrt_onednn_op_impl(const mofrt_onednn_op *op)
{
    return op->impl ? op->impl : "unknown";
}
