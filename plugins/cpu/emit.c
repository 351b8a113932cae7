/* emit.c: the cpu backend's emitter: static-shape checks, views, groups, the arena
 * plan, and the calls into the kernel providers (see provider.h and DESIGN.md). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu.h"

/* ------------------------------------------------------------------ strings */

void cpu_buf_append(cpu_buf *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->failed = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cpu_buf_vprintf(cpu_buf *b, const char *fmt, va_list ap)
{
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        b->failed = true;
    } else if ((size_t)n < sizeof small) {
        cpu_buf_append(b, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big)
            b->failed = true;
        else {
            vsnprintf(big, (size_t)n + 1, fmt, ap2);
            cpu_buf_append(b, big, (size_t)n);
            free(big);
        }
    }
    va_end(ap2);
}

void cpu_buf_printf(cpu_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cpu_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void cpu_buf_free(cpu_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void cpu_buf_c_string(cpu_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            cpu_buf_printf(b, "\\%c", *s);
        else if ((unsigned char)*s < 32 || *s == '?' || *s == 127)
            cpu_buf_printf(b, "\\%03o", (unsigned char)*s);
        else
            cpu_buf_append(b, s, 1);
    }
}

void cpu_buf_comment(cpu_buf *b, const char *s)
{
    for (; *s; s++) {
        cpu_buf_append(b, s, 1);
        if (*s == '*' && s[1] == '/')
            cpu_buf_append(b, " ", 1);
        else if (*s == '/' && s[1] == '*')
            cpu_buf_append(b, " ", 1);
    }
}

/* Adds a word to a space-separated set once. */
static void add_word(cpu_buf *b, const char *words)
{
    const char *p = words;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *q = p;
        while (*q && *q != ' ')
            q++;
        if (q > p) {
            bool found = false;
            for (const char *s = b->data; s && *s;) {
                while (*s == ' ')
                    s++;
                const char *t = s;
                while (*t && *t != ' ')
                    t++;
                if ((size_t)(t - s) == (size_t)(q - p) && memcmp(s, p, (size_t)(q - p)) == 0)
                    found = true;
                s = t;
            }
            if (!found) {
                if (b->len)
                    cpu_buf_append(b, " ", 1);
                cpu_buf_append(b, p, (size_t)(q - p));
            }
        }
        p = q;
    }
}

/* ------------------------------------------------------------------ provider API */

void cpu_emit_vprintf(cpu_emit *e, cpu_section s, const char *fmt, va_list ap)
{
    cpu_buf_vprintf(&e->sec[s], fmt, ap);
}

void cpu_emit_printf(cpu_emit *e, cpu_section s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cpu_buf_vprintf(&e->sec[s], fmt, ap);
    va_end(ap);
}

static size_t hash_ptr(const void *p, size_t n)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= (uintptr_t)0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    return (size_t)x & (n - 1);
}

static cpu_tensor *find_tensor(cpu_emit *e, const mof_value *v)
{
    if (!v || !e->n_slots)
        return NULL;
    for (size_t h = hash_ptr(v, e->n_slots);; h = (h + 1) & (e->n_slots - 1)) {
        if (!e->slots[h])
            return NULL;
        if (e->keys[h] == v)
            return &e->tensors[e->slots[h] - 1];
    }
}

const cpu_tensor *cpu_emit_tensor(cpu_emit *e, const mof_value *v)
{
    return find_tensor(e, v);
}

const char *cpu_emit_node_id(cpu_emit *e, const mof_node *node)
{
    snprintf(e->idbuf, sizeof e->idbuf, "n%u", (unsigned)mof_node_id(node));
    return e->idbuf;
}

mof_status cpu_emit_add_blob(cpu_emit *e, const void *data, size_t nbytes, size_t *offset)
{
    size_t off = (e->blob_len + 63) & ~(size_t)63;
    if (off + nbytes > e->blob_cap) {
        size_t cap = e->blob_cap ? e->blob_cap : 4096;
        while (cap < off + nbytes)
            cap *= 2;
        unsigned char *b = realloc(e->blob, cap);
        if (!b) {
            e->failed = true;
            return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        }
        e->blob = b;
        e->blob_cap = cap;
    }
    memset(e->blob + e->blob_len, 0, off - e->blob_len);
    if (nbytes)
        memcpy(e->blob + off, data, nbytes);
    e->blob_len = off + nbytes;
    *offset = off;
    return MOF_OK;
}

const char *cpu_emit_weight_expr(cpu_emit *e, const cpu_tensor *t)
{
    if (!t)
        return NULL;
    cpu_tensor *base = (cpu_tensor *)(t->alias_of ? t->alias_of : t);
    if (base->storage != CPU_STORAGE_WEIGHT || !base->data)
        return NULL;
    if (!base->expr[0]) {
        size_t off;
        if (cpu_emit_add_blob(e, mof_tensor_data(base->data), base->nbytes, &off) != MOF_OK)
            return NULL;
        base->offset = off;
        snprintf(base->expr, sizeof base->expr, "((const %s *)(W + %zu))", base->ctype, off);
    }
    if (t != base)
        memcpy(((cpu_tensor *)t)->expr, base->expr, sizeof base->expr);
    return base->expr;
}

void cpu_emit_scratch(cpu_emit *e, size_t nbytes)
{
    nbytes = (nbytes + 63) & ~(size_t)63;
    if (nbytes > e->scratch)
        e->scratch = nbytes;
}

mof_status cpu_emit_runtime(cpu_emit *e, const char *file)
{
    for (size_t i = 0; i < e->n_runtime; i++)
        if (strcmp(e->runtime[i], file) == 0)
            return MOF_OK;
    bool known = false;
    for (size_t i = 0; i < cpu_n_runtime_files; i++)
        if (strcmp(cpu_runtime_files[i].name, file) == 0)
            known = true;
    if (!known)
        return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOT_FOUND, NULL,
                          "runtime file '%s' is not built into the cpu plugin", file);
    char **r = realloc(e->runtime, (e->n_runtime + 1) * sizeof *r);
    char *copy = r ? malloc(strlen(file) + 1) : NULL;
    if (copy)
        memcpy(copy, file, strlen(file) + 1);
    if (!copy) {
        if (r)
            e->runtime = r;
        e->failed = true;
        return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    }
    e->runtime = r;
    e->runtime[e->n_runtime++] = copy;
    return MOF_OK;
}

void cpu_emit_cflags(cpu_emit *e, const char *flags) { add_word(&e->cflags, flags); }
void cpu_emit_ldlibs(cpu_emit *e, const char *libs) { add_word(&e->ldlibs, libs); }
void cpu_emit_require_isa(cpu_emit *e, const char *feature) { add_word(&e->isa, feature); }
const char *cpu_emit_prefix(const cpu_emit *e) { return e->prefix; }
const char *cpu_emit_rt_prefix(const cpu_emit *e) { return e->rt_prefix; }
int cpu_emit_threads(const cpu_emit *e) { return (int)e->params->threads; }
mof_context *cpu_emit_context(cpu_emit *e) { return e->ctx; }
const mof_model *cpu_emit_model(const cpu_emit *e) { return e->model; }

mof_status cpu_emit_error(cpu_emit *e, const mof_node *node, mof_status status,
                          const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    e->failed = true;
    if (node)
        return mof_report_node(e->ctx, MOF_SEVERITY_ERROR, status, node, "%s", msg);
    return mof_report(e->ctx, MOF_SEVERITY_ERROR, status, NULL, "%s", msg);
}

/* ------------------------------------------------------------------ helpers */

const char *cpu_ctype(mof_dtype dtype)
{
    switch (dtype) {
    case MOF_DTYPE_FLOAT: return "float";
    case MOF_DTYPE_DOUBLE: return "double";
    case MOF_DTYPE_UINT8: return "uint8_t";
    case MOF_DTYPE_INT8: return "int8_t";
    case MOF_DTYPE_UINT16: return "uint16_t";
    case MOF_DTYPE_INT16: return "int16_t";
    case MOF_DTYPE_INT32: return "int32_t";
    case MOF_DTYPE_INT64: return "int64_t";
    case MOF_DTYPE_UINT32: return "uint32_t";
    case MOF_DTYPE_UINT64: return "uint64_t";
    case MOF_DTYPE_BOOL: return "uint8_t";
    case MOF_DTYPE_FLOAT16: return "uint16_t";
    case MOF_DTYPE_BFLOAT16: return "uint16_t";
    default: return NULL;
    }
}

bool cpu_value_static(const mof_value *v)
{
    if (!v || !mof_value_has_type(v) || mof_value_rank(v) < 0)
        return false;
    for (int i = 0; i < mof_value_rank(v); i++)
        if (mof_value_dim(v, (size_t)i) < 0)
            return false;
    return true;
}

mof_activation cpu_node_activation(const mof_node *node, float params[2])
{
    const char *name = mof_node_attr_string(node, "activation", "", NULL);
    mof_activation a = mof_activation_from_name(name);
    float def[2] = { 0, 0 };
    int n = mof_activation_n_params(a, def);
    if (n < 0)
        return MOF_ACTIVATION_UNKNOWN;
    size_t count = 0;
    const float *p = mof_node_attr_floats(node, "activation_params", &count);
    if (count > (size_t)n)
        return MOF_ACTIVATION_UNKNOWN;
    for (int i = 0; i < 2; i++)
        params[i] = (size_t)i < count ? p[i] : def[i];
    return a;
}

/* ------------------------------------------------------------------ providers */

static const cpu_provider *chain_for(const cpu_emit *e, const mof_node *n, const char **why)
{
    const cpu_provider *chain[16];
    size_t len = cpu_provider_chain(e->params->kernels, chain, 16);
    const char *first_why = NULL;
    for (size_t i = 0; i < len; i++) {
        const char *w = NULL;
        if (chain[i]->supports(n, &w))
            return chain[i];
        if (!first_why)
            first_why = w;
    }
    *why = first_why ? first_why : "no kernel provider implements it";
    return NULL;
}

/* ------------------------------------------------------------------ the model walk */

static bool is_view_op(const mof_node *n)
{
    const char *op = mof_node_op_type(n);
    if (mof_node_domain(n)[0])
        return false;
    return !strcmp(op, "Reshape") || !strcmp(op, "Flatten") || !strcmp(op, "Squeeze") ||
           !strcmp(op, "Unsqueeze") || !strcmp(op, "Identity");
}

typedef struct group_rec {
    const cpu_provider *prov;
    cpu_group g;
    const mof_node *last;    /* the last node of the group: its position is the group's */
} group_rec;

static mof_status add_tensor(cpu_emit *e, const mof_value *v)
{
    if (find_tensor(e, v))
        return MOF_OK;
    cpu_tensor *t = &e->tensors[e->n_tensors];
    memset(t, 0, sizeof *t);
    t->value = v;
    t->name = mof_value_name(v);
    t->dtype = mof_value_dtype(v);
    t->ctype = cpu_ctype(t->dtype);
    int rank = mof_value_rank(v);
    const mof_tensor *data = mof_value_is_constant(v) ? mof_value_tensor(v) : NULL;
    if (data) {
        rank = (int)mof_tensor_rank(data);
        t->dtype = mof_tensor_dtype(data);
        t->ctype = cpu_ctype(t->dtype);
    }
    if (!t->ctype)
        return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                          "value '%s': element type %s is not supported by the cpu backend",
                          t->name, mof_dtype_name(t->dtype));
    if (rank < 0 || rank > CPU_MAX_RANK)
        return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                          "value '%s' has %s; the cpu backend needs static shapes (run "
                          "infer-shapes and fold-constants first)",
                          t->name, rank < 0 ? "no known shape" : "a rank above 8");
    t->rank = rank;
    t->numel = 1;
    for (int i = 0; i < rank; i++) {
        int64_t d = data ? mof_tensor_dims(data)[i] : mof_value_dim(v, (size_t)i);
        if (d < 0) {
            const char *sym = mof_value_dim_symbol(v, (size_t)i);
            if (mof_value_is_graph_input(v))
                return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                                  "input '%s': dim %d is %s%s%s; the cpu backend needs static "
                                  "shapes: pin it with --input-shape %s=... (or an "
                                  "<input-shape> in the pipeline)",
                                  t->name, i, sym ? "symbolic ('" : "unknown",
                                  sym ? sym : "", sym ? "')" : "", t->name);
            return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                              "value '%s': dim %d is %s; the cpu backend needs static shapes "
                              "(pin the inputs with --input-shape and run infer-shapes and "
                              "fold-constants first)",
                              t->name, i, sym ? sym : "unknown");
        }
        t->dims[i] = d;
        t->numel *= d;
    }
    t->nbytes = (size_t)t->numel * mof_dtype_size(t->dtype);
    t->data = data;
    if (data)
        t->storage = CPU_STORAGE_WEIGHT;
    size_t idx = e->n_tensors++;
    for (size_t h = hash_ptr(v, e->n_slots);; h = (h + 1) & (e->n_slots - 1))
        if (!e->slots[h]) {
            e->slots[h] = idx + 1;
            e->keys[h] = v;
            break;
        }
    return MOF_OK;
}

static bool absorbable(cpu_emit *e, const cpu_tensor *y, const mof_node *next, cpu_post *post)
{
    const char *op = mof_node_op_type(next);
    memset(post, 0, sizeof *post);
    post->node = next;
    if (mof_node_domain(next)[0] || mof_node_n_outputs(next) != 1 || y->dtype != MOF_DTYPE_FLOAT)
        return false;
    const cpu_tensor *out = find_tensor(e, mof_node_output(next, 0));
    if (!out || out->numel != y->numel || out->dtype != y->dtype)
        return false;
    if (!strcmp(op, "Add") && mof_node_n_inputs(next) == 2) {
        const mof_value *a = mof_node_input(next, 0), *b = mof_node_input(next, 1);
        const mof_value *other = a == y->value ? b : a;
        if (a == b)
            return false;
        const cpu_tensor *o = find_tensor(e, other);
        if (!o || o->numel != y->numel || o->dtype != MOF_DTYPE_FLOAT || o->rank != y->rank)
            return false;
        for (int i = 0; i < o->rank; i++)
            if (o->dims[i] != y->dims[i])
                return false;
        post->kind = CPU_POST_ADD;
        post->other = o;
        return true;
    }
    post->kind = CPU_POST_ACTIVATION;
    post->params[0] = post->params[1] = 0;
    if (!strcmp(op, "Relu")) {
        post->activation = MOF_ACTIVATION_RELU;
    } else if (!strcmp(op, "LeakyRelu")) {
        post->activation = MOF_ACTIVATION_LEAKY_RELU;
        post->params[0] = mof_node_attr_float(next, "alpha", 0.01f);
    } else if (!strcmp(op, "Sigmoid")) {
        post->activation = MOF_ACTIVATION_SIGMOID;
    } else if (!strcmp(op, "HardSigmoid")) {
        post->activation = MOF_ACTIVATION_HARD_SIGMOID;
        post->params[0] = mof_node_attr_float(next, "alpha", 0.2f);
        post->params[1] = mof_node_attr_float(next, "beta", 0.5f);
    } else if (!strcmp(op, "HardSwish")) {
        post->activation = MOF_ACTIVATION_HARD_SWISH;
    } else if (!strcmp(op, "Clip")) {
        post->activation = MOF_ACTIVATION_CLIP;
        post->params[0] = -INFINITY;
        post->params[1] = INFINITY;
        if (mof_node_has_attr(next, "min") || mof_node_has_attr(next, "max")) {
            post->params[0] = mof_node_attr_float(next, "min", -INFINITY);
            post->params[1] = mof_node_attr_float(next, "max", INFINITY);
        }
        for (size_t i = 1; i < mof_node_n_inputs(next) && i < 3; i++) {
            const mof_value *v = mof_node_input(next, i);
            if (!v)
                continue;
            const mof_tensor *t = mof_value_is_constant(v) ? mof_value_tensor(v) : NULL;
            if (!t || mof_tensor_dtype(t) != MOF_DTYPE_FLOAT || mof_tensor_numel(t) != 1)
                return false;
            post->params[i - 1] = *(const float *)mof_tensor_data(t);
        }
    } else {
        return false;
    }
    return true;
}

/* Arena planning: one record per planned tensor. */
typedef struct plan_rec {
    cpu_tensor *t;
    size_t first, last;   /* positions (group indices) of definition and last use */
    size_t size;
    bool placed;
} plan_rec;

static int cmp_size_desc(const void *a, const void *b)
{
    const plan_rec *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

static size_t place_all(plan_rec *recs, size_t n, size_t *offsets)
{
    /* Greedy by size: each tensor at the lowest offset that fits among the already
     * placed tensors whose lifetimes overlap it. */
    size_t total = 0;
    size_t *cand = malloc((n + 1) * sizeof *cand);
    if (!cand)
        return SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        size_t nc = 0;
        cand[nc++] = 0;
        for (size_t j = 0; j < i; j++)
            if (!(recs[j].last < recs[i].first || recs[i].last < recs[j].first))
                cand[nc++] = offsets[j] + recs[j].size;
        size_t best = SIZE_MAX;
        for (size_t c = 0; c < nc; c++) {
            size_t off = cand[c];
            if (off >= best)
                continue;
            bool ok = true;
            for (size_t j = 0; j < i && ok; j++)
                if (!(recs[j].last < recs[i].first || recs[i].last < recs[j].first) &&
                    off < offsets[j] + recs[j].size && offsets[j] < off + recs[i].size)
                    ok = false;
            if (ok)
                best = off;
        }
        offsets[i] = best;
        if (best + recs[i].size > total)
            total = best + recs[i].size;
    }
    free(cand);
    return total;
}

static mof_status plan_arena(cpu_emit *e, const group_rec *groups, size_t n_groups)
{
    plan_rec *recs = calloc(e->n_tensors + 1, sizeof *recs);
    size_t *offsets = calloc(e->n_tensors + 1, sizeof *offsets);
    size_t *where = calloc(e->n_tensors + 1, sizeof *where); /* tensor index -> rec + 1 */
    mof_status st = MOF_OK;
    if (!recs || !offsets || !where) {
        st = mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    size_t n = 0;
    for (size_t gi = 0; gi < n_groups; gi++) {
        /* Definition: the group's result. */
        cpu_tensor *t = (cpu_tensor *)groups[gi].g.out;
        if (t && t->storage == CPU_STORAGE_ARENA) {
            size_t ti = (size_t)(t - e->tensors);
            if (!where[ti]) {
                recs[n] = (plan_rec){ t, gi, gi, (t->nbytes + 63) & ~(size_t)63, false };
                where[ti] = ++n;
            }
        }
        /* Other outputs of the primary (Split, LayerNormalization's extras). */
        const mof_node *node = groups[gi].g.node;
        for (size_t o = 0; o < mof_node_n_outputs(node); o++) {
            cpu_tensor *u = find_tensor(e, mof_node_output(node, o));
            if (!u || u->storage != CPU_STORAGE_ARENA || u == t)
                continue;
            size_t ui = (size_t)(u - e->tensors);
            if (!where[ui]) {
                recs[n] = (plan_rec){ u, gi, gi, (u->nbytes + 63) & ~(size_t)63, false };
                where[ui] = ++n;
            }
        }
    }
    /* Uses: every input of every node of each group, through aliases. */
    for (size_t gi = 0; gi < n_groups; gi++) {
        const mof_node *nodes[CPU_MAX_POST + 1];
        size_t nn = 0;
        nodes[nn++] = groups[gi].g.node;
        for (size_t p = 0; p < groups[gi].g.n_post; p++)
            nodes[nn++] = groups[gi].g.post[p].node;
        for (size_t k = 0; k < nn; k++)
            for (size_t i = 0; i < mof_node_n_inputs(nodes[k]); i++) {
                cpu_tensor *u = find_tensor(e, mof_node_input(nodes[k], i));
                if (!u)
                    continue;
                if (u->alias_of)
                    u = (cpu_tensor *)u->alias_of;
                size_t ui = (size_t)(u - e->tensors);
                if (where[ui] && recs[where[ui] - 1].last < gi)
                    recs[where[ui] - 1].last = gi;
            }
    }
    /* Peak of simultaneously live bytes. */
    size_t peak = 0;
    for (size_t gi = 0; gi < n_groups; gi++) {
        size_t live = 0;
        for (size_t i = 0; i < n; i++)
            if (recs[i].first <= gi && gi <= recs[i].last)
                live += recs[i].size;
        if (live > peak)
            peak = live;
    }
    qsort(recs, n, sizeof *recs, cmp_size_desc);
    size_t total = place_all(recs, n, offsets);
    if (total == SIZE_MAX) {
        st = mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        recs[i].t->offset = offsets[i];
    e->arena_act = total;
    e->peak_live = peak;
out:
    free(recs);
    free(offsets);
    free(where);
    return st;
}

static void set_expr(cpu_tensor *t)
{
    switch (t->storage) {
    case CPU_STORAGE_INPUT:
        snprintf(t->expr, sizeof t->expr, "((const %s *)in[%d])", t->ctype, t->index);
        break;
    case CPU_STORAGE_OUTPUT:
        snprintf(t->expr, sizeof t->expr, "((%s *)out[%d])", t->ctype, t->index);
        break;
    case CPU_STORAGE_ARENA:
        snprintf(t->expr, sizeof t->expr, "((%s *)(A + %zu))", t->ctype, t->offset);
        break;
    default:
        break;
    }
}

mof_status cpu_emit_run(cpu_emit *e)
{
    const mof_graph *g = e->graph;
    mof_status st = MOF_OK;
    group_rec *groups = NULL;
    bool *absorbed = NULL;

    /* Every value of the main graph: inputs, initializers, node outputs. */
    size_t cap = mof_graph_n_inputs(g) + mof_graph_n_initializers(g) + 1;
    for (const mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        cap += mof_node_n_outputs(n);
        if (mof_node_n_subgraphs(n))
            return mof_report_node(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, n,
                                   "control flow (subgraphs) is not supported by the cpu "
                                   "backend");
    }
    e->n_slots = 64;
    while (e->n_slots < cap * 2)
        e->n_slots *= 2;
    e->tensors = calloc(cap, sizeof *e->tensors);
    e->slots = calloc(e->n_slots, sizeof *e->slots);
    e->keys = calloc(e->n_slots, sizeof *e->keys);
    if (!e->tensors || !e->slots || !e->keys)
        return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");

    /* Support first: an unsupported op fails the emit before anything else. */
    size_t n_nodes = 0, n_bad = 0;
    for (const mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n), n_nodes++) {
        const char *why = NULL;
        if (!is_view_op(n) && !chain_for(e, n, &why)) {
            const char *dom = mof_node_domain(n);
            mof_report_node(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, n,
                            "op %s%s%s is not supported by the cpu backend: %s", dom,
                            dom[0] ? "." : "", mof_node_op_type(n), why);
            n_bad++;
        }
    }
    if (n_bad)
        return MOF_ERR_UNSUPPORTED;

    for (size_t i = 0; i < mof_graph_n_inputs(g); i++) {
        const mof_value *v = mof_graph_input(g, i);
        /* An overridable initializer (also a graph input) is an input. */
        if ((st = add_tensor(e, v)) != MOF_OK)
            return st;
        cpu_tensor *t = find_tensor(e, v);
        t->storage = CPU_STORAGE_INPUT;
        t->index = (int)i;
        t->data = NULL;
    }
    for (size_t i = 0; i < mof_graph_n_initializers(g); i++)
        if ((st = add_tensor(e, mof_graph_initializer(g, i))) != MOF_OK)
            return st;
    for (const mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n))
        for (size_t o = 0; o < mof_node_n_outputs(n); o++) {
            const mof_value *v = mof_node_output(n, o);
            if (!v)
                continue;
            if ((st = add_tensor(e, v)) != MOF_OK)
                return st;
            find_tensor(e, v)->storage = CPU_STORAGE_ARENA;
        }
    for (size_t i = 0; i < mof_graph_n_outputs(g); i++) {
        cpu_tensor *t = find_tensor(e, mof_graph_output(g, i));
        if (!t)
            return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                              "graph output %zu has no value", i);
        if (t->storage == CPU_STORAGE_OUTPUT)
            return mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                              "value '%s' is listed twice as a graph output; the cpu "
                              "backend needs distinct outputs", t->name);
        if (t->storage == CPU_STORAGE_ARENA) {
            t->storage = CPU_STORAGE_OUTPUT;
            t->index = (int)i;
        }
    }
    /* Views: no code, no copy. */
    for (const mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n)) {
        if (!is_view_op(n) || mof_node_n_inputs(n) < 1)
            continue;
        cpu_tensor *y = find_tensor(e, mof_node_output(n, 0));
        cpu_tensor *x = find_tensor(e, mof_node_input(n, 0));
        if (!x || !y || y->storage != CPU_STORAGE_ARENA || x->nbytes != y->nbytes)
            continue;
        const cpu_tensor *base = x->alias_of ? x->alias_of : x;
        y->storage = CPU_STORAGE_ALIAS;
        y->alias_of = base;
        if (base->storage == CPU_STORAGE_WEIGHT)
            y->data = base->data;
    }

    /* Groups, in node order; a group sits at its last node's position. */
    groups = calloc(n_nodes + 1, sizeof *groups);
    absorbed = calloc(n_nodes + 1, sizeof *absorbed);
    const mof_node **order = calloc(n_nodes + 1, sizeof *order);
    if (!groups || !absorbed || !order) {
        free(order);
        st = mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    size_t k = 0;
    for (const mof_node *n = mof_graph_first_node(g); n; n = mof_node_next(n))
        order[k++] = n;
    size_t n_groups = 0;
    for (size_t i = 0; i < n_nodes; i++) {
        const mof_node *n = order[i];
        if (absorbed[i])
            continue;
        cpu_tensor *y0 = find_tensor(e, mof_node_output(n, 0));
        if (is_view_op(n) && y0 && y0->storage == CPU_STORAGE_ALIAS)
            continue;
        const char *why = NULL;
        group_rec *gr = &groups[n_groups];
        gr->prov = is_view_op(n) ? &cpu_provider_portable : chain_for(e, n, &why);
        gr->g.node = n;
        gr->last = n;
        gr->g.out = y0;
        /* Post-ops, while the provider takes them. */
        const cpu_tensor *y = y0;
        while (gr->prov->accepts_post && y && gr->g.n_post < CPU_MAX_POST &&
               mof_node_n_outputs(gr->last) == 1 && y->storage == CPU_STORAGE_ARENA &&
               mof_value_n_uses(y->value) == 1) {
            const mof_node *next = mof_value_use(y->value, 0, NULL);
            cpu_post post;
            if (!absorbable(e, y, next, &post) ||
                !gr->prov->accepts_post(n, gr->g.n_post, &post))
                break;
            size_t j = i + 1;
            while (j < n_nodes && order[j] != next)
                j++;
            if (j == n_nodes || absorbed[j])
                break;
            absorbed[j] = true;
            gr->g.post[gr->g.n_post++] = post;
            gr->last = next;
            y = find_tensor(e, mof_node_output(next, 0));
            gr->g.out = y;
        }
        n_groups++;
    }
    /* Order groups by their last node's position. */
    {
        group_rec *sorted = calloc(n_groups + 1, sizeof *sorted);
        if (!sorted) {
            free(order);
            st = mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            goto out;
        }
        size_t m = 0;
        for (size_t i = 0; i < n_nodes; i++)
            for (size_t gi = 0; gi < n_groups; gi++)
                if (groups[gi].last == order[i])
                    sorted[m++] = groups[gi];
        memcpy(groups, sorted, n_groups * sizeof *groups);
        free(sorted);
    }
    free(order);
    /* Values inside a group are never materialised. */
    for (size_t gi = 0; gi < n_groups; gi++) {
        const mof_node *prev = groups[gi].g.node;
        for (size_t p = 0; p < groups[gi].g.n_post; p++) {
            cpu_tensor *mid = find_tensor(e, mof_node_output(prev, 0));
            if (mid && mid->storage == CPU_STORAGE_ARENA)
                mid->storage = 0;
            prev = groups[gi].g.post[p].node;
        }
    }

    if ((st = plan_arena(e, groups, n_groups)) != MOF_OK)
        goto out;
    for (size_t i = 0; i < e->n_tensors; i++)
        set_expr(&e->tensors[i]);
    for (size_t i = 0; i < e->n_tensors; i++) {
        cpu_tensor *t = &e->tensors[i];
        if (t->storage == CPU_STORAGE_ALIAS) {
            if (t->alias_of->storage == CPU_STORAGE_WEIGHT)
                cpu_emit_weight_expr(e, t);
            else
                memcpy(t->expr, t->alias_of->expr, sizeof t->expr);
        }
    }

    /* Graph outputs that no node writes (an input or a constant listed as output). */
    for (size_t i = 0; i < mof_graph_n_outputs(g); i++) {
        cpu_tensor *t = find_tensor(e, mof_graph_output(g, i));
        if (t->storage == CPU_STORAGE_OUTPUT)
            continue;
        const char *src = t->storage == CPU_STORAGE_WEIGHT ? cpu_emit_weight_expr(e, t)
                                                           : t->expr;
        if (t->storage == CPU_STORAGE_ALIAS && t->alias_of->storage == CPU_STORAGE_WEIGHT)
            src = cpu_emit_weight_expr(e, t);
        cpu_emit_printf(e, CPU_SEC_RUN, "memcpy(out[%zu], %s, %zu); /* output '%s' */\n", i,
                        src ? src : "NULL", t->nbytes, t->name);
    }

    /* Providers' begin, once each, then each group. */
    const cpu_provider *begun[16];
    size_t n_begun = 0;
    for (size_t gi = 0; gi < n_groups && st == MOF_OK; gi++) {
        const cpu_provider *p = groups[gi].prov;
        bool seen = false;
        for (size_t b = 0; b < n_begun; b++)
            seen |= begun[b] == p;
        if (!seen && n_begun < 16) {
            begun[n_begun++] = p;
            if (p->begin)
                st = p->begin(e);
        }
    }
    for (size_t gi = 0; gi < n_groups && st == MOF_OK; gi++) {
        const cpu_group *gg = &groups[gi].g;
        const char *name = mof_node_name(gg->node);
        e->cur = gg->node;
        /* the label: "provider: Op name + Post..." (a comment, and the profile entry) */
        cpu_buf label = {0};
        cpu_buf_printf(&label, "%s: %s%s%s", groups[gi].prov->name, mof_node_op_type(gg->node),
                       name[0] ? " " : "", name);
        for (size_t p = 0; p < gg->n_post; p++)
            cpu_buf_printf(&label, " + %s", mof_node_op_type(gg->post[p].node));
        cpu_buf comment = {0};
        cpu_buf_comment(&comment, label.data ? label.data : "");
        cpu_emit_printf(e, CPU_SEC_RUN, "{ /* %s */\n", comment.data ? comment.data : "");
        cpu_emit_printf(e, CPU_SEC_RUN, "double prof_t0_ = %s_prof_now();\n", e->prefix);
        cpu_buf_printf(&e->prof_labels, "%s    \"", e->n_prof ? ",\n" : "");
        cpu_buf_c_string(&e->prof_labels, label.data ? label.data : "");
        cpu_buf_printf(&e->prof_labels, "\"");
        if (label.failed || comment.failed)
            e->prof_labels.failed = true;
        cpu_buf_free(&label);
        cpu_buf_free(&comment);
        st = groups[gi].prov->emit(e, gg);
        cpu_emit_printf(e, CPU_SEC_RUN, "%s_prof_add(m, %zu, prof_t0_);\n}\n", e->prefix,
                        e->n_prof++);
        if (st != MOF_OK && mof_context_n_errors(e->ctx) == 0)
            cpu_emit_error(e, gg->node, st, "the %s provider failed to emit it",
                           groups[gi].prov->name);
    }
    e->cur = NULL;
    if (e->prof_labels.failed)
        e->sec[CPU_SEC_RUN].failed = true;
    for (int s = 0; s < CPU_SEC_COUNT && st == MOF_OK; s++)
        if (e->sec[s].failed)
            st = mof_report(e->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    if (st == MOF_OK && e->failed)
        st = MOF_ERR_UNSUPPORTED;
out:
    free(groups);
    free(absorbed);
    return st;
}

void cpu_emit_fini(cpu_emit *e)
{
    for (int s = 0; s < CPU_SEC_COUNT; s++)
        cpu_buf_free(&e->sec[s]);
    cpu_buf_free(&e->cflags);
    cpu_buf_free(&e->prof_labels);
    cpu_buf_free(&e->ldlibs);
    cpu_buf_free(&e->isa);
    free(e->blob);
    free(e->tensors);
    free(e->slots);
    free(e->keys);
    for (size_t i = 0; i < e->n_runtime; i++)
        free(e->runtime[i]);
    free(e->runtime);
}
