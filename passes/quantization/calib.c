/* Calibration statistics, their files, the range methods and the calibration data
 * (see calib.h). */
#define _POSIX_C_SOURCE 200809L /* getline, strdup */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "calib.h"
#include "qutil.h"

#define QC_LOG2_BINS 12
#define QC_MIN_EXP (-126)
#define QC_EMPTY_EXP INT32_MIN

_Static_assert((1 << QC_LOG2_BINS) == QC_BINS, "QC_BINS is 2^QC_LOG2_BINS");

/* ------------------------------------------------------------------ stats */

void qc_stats_init(qc_stats *s)
{
    memset(s, 0, sizeof(*s));
}

void qc_stats_clear(qc_stats *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->items[i].name);
        free(s->items[i].hist);
    }
    free(s->items);
    qc_stats_init(s);
}

qc_stat *qc_stats_find(qc_stats *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->items[i].name, name) == 0)
            return &s->items[i];
    return NULL;
}

qc_stat *qc_stats_get(qc_stats *s, const char *name)
{
    qc_stat *st = qc_stats_find(s, name);
    if (st)
        return st;
    if (!qu_grow(&s->items, s->n, &s->cap, sizeof(*s->items)))
        return NULL;
    st = &s->items[s->n];
    memset(st, 0, sizeof(*st));
    st->name = strdup(name);
    st->hist = calloc(QC_BINS, sizeof(*st->hist));
    if (!st->name || !st->hist) {
        free(st->name);
        free(st->hist);
        return NULL;
    }
    st->min = INFINITY;
    st->max = -INFINITY;
    st->exp = QC_EMPTY_EXP;
    s->n++;
    return st;
}

/* floor(t / 2^shift) for an integer t. */
static int64_t floor_shift(int64_t t, int shift)
{
    if (shift >= 62)
        return t < 0 ? -1 : 0;
    int64_t d = (int64_t)1 << shift;
    int64_t q = t / d;
    if (t % d != 0 && t < 0)
        q--;
    return q;
}

/* Coarsens the histogram to R = 2^exp (exp above the current one). */
static void rebin(qc_stat *st, int exp)
{
    if (st->exp == QC_EMPTY_EXP) {
        st->exp = exp;
        return;
    }
    int shift = exp - st->exp;
    if (shift <= 0)
        return;
    int64_t tmp[QC_BINS];
    memset(tmp, 0, sizeof(tmp));
    for (int64_t i = 0; i < QC_BINS; i++) {
        if (!st->hist[i])
            continue;
        int64_t j = floor_shift(i - QC_BINS / 2, shift) + QC_BINS / 2;
        tmp[j] += st->hist[i];
    }
    memcpy(st->hist, tmp, sizeof(tmp));
    st->exp = exp;
}

/* The exponent e of the smallest power of two above a (a < 2^e), at least QC_MIN_EXP. */
static int exp_above(double a)
{
    int e = QC_MIN_EXP;
    if (a > 0) {
        frexp(a, &e);
        if (e < QC_MIN_EXP)
            e = QC_MIN_EXP;
    }
    return e;
}

mof_status qc_stat_add(qc_stat *st, const float *x, size_t n)
{
    double amax = 0;
    size_t finite = 0;
    float lo = st->min, hi = st->max;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        finite++;
        double a = fabs((double)x[i]);
        if (a > amax)
            amax = a;
        if (x[i] < lo)
            lo = x[i];
        if (x[i] > hi)
            hi = x[i];
    }
    st->nonfinite += (int64_t)(n - finite);
    if (!finite)
        return MOF_OK;
    int e = exp_above(amax);
    if (st->exp == QC_EMPTY_EXP || e > st->exp)
        rebin(st, e);
    double scale = ldexp(1.0, QC_LOG2_BINS - 1 - st->exp);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]))
            continue;
        /* Exact: a float times a power of two in double. */
        int64_t idx = (int64_t)floor((double)x[i] * scale) + QC_BINS / 2;
        st->hist[idx]++;
    }
    st->min = lo;
    st->max = hi;
    st->count += (int64_t)finite;
    return MOF_OK;
}

static void stat_merge(qc_stat *d, const qc_stat *s)
{
    if (s->exp != QC_EMPTY_EXP) {
        if (d->exp == QC_EMPTY_EXP || s->exp > d->exp)
            rebin(d, s->exp);
        int shift = d->exp - s->exp;
        for (int64_t i = 0; i < QC_BINS; i++)
            if (s->hist[i])
                d->hist[floor_shift(i - QC_BINS / 2, shift) + QC_BINS / 2] += s->hist[i];
    }
    if (!d->dtype)
        d->dtype = s->dtype;
    if (s->min < d->min)
        d->min = s->min;
    if (s->max > d->max)
        d->max = s->max;
    d->count += s->count;
    d->nonfinite += s->nonfinite;
}

mof_status qc_stats_merge(qc_stats *dst, const qc_stats *src)
{
    for (size_t i = 0; i < src->n; i++) {
        qc_stat *d = qc_stats_get(dst, src->items[i].name);
        if (!d)
            return MOF_ERR_NOMEM;
        stat_merge(d, &src->items[i]);
    }
    dst->samples += src->samples;
    return MOF_OK;
}

bool qc_stats_equal(const qc_stats *a, const qc_stats *b)
{
    if (a->n != b->n || a->samples != b->samples)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const qc_stat *x = &a->items[i], *y = NULL;
        for (size_t j = 0; j < b->n && !y; j++)
            if (strcmp(b->items[j].name, x->name) == 0)
                y = &b->items[j];
        if (!y || memcmp(&x->min, &y->min, sizeof(float)) != 0 ||
            memcmp(&x->max, &y->max, sizeof(float)) != 0 || x->count != y->count ||
            x->nonfinite != y->nonfinite || x->exp != y->exp || x->dtype != y->dtype ||
            memcmp(x->hist, y->hist, QC_BINS * sizeof(*x->hist)) != 0)
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ files */

static void write_name(FILE *f, const char *name)
{
    for (const unsigned char *u = (const unsigned char *)name; *u; u++) {
        if (*u > ' ' && *u <= '~' && *u != '%')
            fputc(*u, f);
        else
            fprintf(f, "%%%02X", *u);
    }
}

mof_status qc_stats_write(mof_context *ctx, const qc_stats *s, const char *path)
{
    mof_output *o = mof_output_open_file(ctx, path);
    if (!o)
        return MOF_ERR_IO;
    FILE *f = mof_output_file(o);
    fprintf(f, "mof-quant-stats 1\nbins %d\nsamples %" PRId64 "\n", QC_BINS, s->samples);
    for (size_t i = 0; i < s->n; i++) {
        const qc_stat *st = &s->items[i];
        size_t nnz = 0;
        for (size_t k = 0; k < QC_BINS; k++)
            nnz += st->hist[k] != 0;
        fputs("tensor ", f);
        write_name(f, st->name);
        fprintf(f, " %d %a %a %" PRId64 " %" PRId64 " %d %zu\n", st->dtype, (double)st->min,
                (double)st->max,
                st->count, st->nonfinite, st->exp, nnz);
        size_t w = 0;
        for (size_t k = 0; k < QC_BINS; k++)
            if (st->hist[k])
                fprintf(f, "%s%zu:%" PRId64, w++ ? " " : "", k, st->hist[k]);
        fputc('\n', f);
    }
    if (ferror(f)) {
        mof_output_abort(o);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                          "cannot write the calibration statistics '%s'", path);
    }
    return mof_output_commit(o);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes a %XX-escaped name in place; false when malformed. */
static bool read_name(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r != '%') {
            *w++ = *r;
            continue;
        }
        int h = hexval((unsigned char)r[1]), l = h < 0 ? -1 : hexval((unsigned char)r[2]);
        if (h < 0 || l < 0)
            return false;
        *w++ = (char)(h * 16 + l);
        r += 2;
    }
    *w = 0;
    return true;
}

mof_status qc_stats_read(mof_context *ctx, qc_stats *s, const char *path)
{
    mof_status st = MOF_OK;
    qc_stats part;
    qc_stats_init(&part);
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    mof_location loc = { path, 0, 0 };
    FILE *f = fopen(path, "r");
    if (!f)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                          "cannot open the calibration statistics '%s': %s", path,
                          strerror(errno));
#define BAD(...)                                                                           \
    do {                                                                                   \
        loc.line = lineno;                                                                 \
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, &loc, __VA_ARGS__);        \
        goto done;                                                                         \
    } while (0)
    int bins = 0;
    long long samples = -1;
    for (int h = 0; h < 3; h++) {
        lineno++;
        if (getline(&line, &cap, f) < 0)
            BAD("truncated header: not a mof calibration statistics file");
        if (h == 0 && strcmp(line, "mof-quant-stats 1\n") != 0)
            BAD("not a mof calibration statistics file (expected 'mof-quant-stats 1')");
        if (h == 1 && (sscanf(line, "bins %d", &bins) != 1 || bins != QC_BINS))
            BAD("expected 'bins %d'", QC_BINS);
        if (h == 2 && (sscanf(line, "samples %lld", &samples) != 1 || samples < 0))
            BAD("expected 'samples N'");
    }
    part.samples = samples;
    for (;;) {
        lineno++;
        ssize_t len = getline(&line, &cap, f);
        if (len < 0)
            break;
        char name[4096];
        char smin[64], smax[64];
        long long count, nonfinite;
        int exp, dtype;
        size_t nnz;
        if (len >= (ssize_t)sizeof(name) ||
            sscanf(line, "tensor %4095s %d %63s %63s %lld %lld %d %zu", name, &dtype, smin,
                   smax, &count, &nonfinite, &exp, &nnz) != 8 || count < 0 || nonfinite < 0 ||
            dtype < 0 || dtype > 64 ||
            (exp != QC_EMPTY_EXP && (exp < QC_MIN_EXP || exp > 200)) || nnz > QC_BINS)
            BAD("expected 'tensor NAME DTYPE MIN MAX COUNT NONFINITE EXP NNZ'");
        if (!read_name(name))
            BAD("bad %%-escape in the tensor name");
        if (qc_stats_find(&part, name))
            BAD("tensor '%s' is listed twice", name);
        qc_stat *t = qc_stats_get(&part, name);
        if (!t) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            goto done;
        }
        char *end;
        t->min = strtof(smin, &end);
        if (*end)
            BAD("bad minimum '%s'", smin);
        t->max = strtof(smax, &end);
        if (*end)
            BAD("bad maximum '%s'", smax);
        t->dtype = dtype;
        t->count = count;
        t->nonfinite = nonfinite;
        t->exp = exp;
        lineno++;
        if (getline(&line, &cap, f) < 0)
            BAD("missing the histogram line of tensor '%s'", name);
        char *p = line;
        int64_t total = 0;
        for (size_t k = 0; k < nnz; k++) {
            errno = 0;
            unsigned long long idx = strtoull(p, &end, 10);
            if (end == p || *end != ':' || idx >= QC_BINS)
                BAD("bad histogram entry %zu of tensor '%s'", k + 1, name);
            p = end + 1;
            long long c = strtoll(p, &end, 10);
            if (end == p || c <= 0 || errno)
                BAD("bad histogram count %zu of tensor '%s'", k + 1, name);
            p = end;
            t->hist[idx] = c;
            total += c;
        }
        while (*p == ' ' || *p == '\n')
            p++;
        if (*p)
            BAD("more than %zu histogram entries for tensor '%s'", nnz, name);
        if (total != count)
            BAD("the histogram of tensor '%s' counts %" PRId64 " values, not %lld", name,
                total, count);
    }
    st = qc_stats_merge(s, &part);
    if (st == MOF_ERR_NOMEM)
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
#undef BAD
done:
    free(line);
    fclose(f);
    qc_stats_clear(&part);
    return st;
}

/* ------------------------------------------------------------------ ranges */

/* Bin width: 2R / QC_BINS. */
static double bin_width(const qc_stat *st)
{
    return ldexp(1.0, st->exp + 1 - QC_LOG2_BINS);
}

/* Replaces the zeros of a distribution of n bins (counts) by eps and takes as much off
 * its non-zero bins, in proportion to their number (the smoothing of the published
 * method: MXNet's and ONNX Runtime's smooth_distribution). eps shrinks where that would
 * take half or more of the smallest non-zero bin (Q spreads a count over up to 16 bins;
 * ORT asserts instead). False when it has no non-zero bin. */
static bool smooth(double *p, size_t n, double eps)
{
    size_t nz = 0;
    double least = INFINITY;
    for (size_t j = 0; j < n; j++) {
        if (p[j] != 0) {
            nz++;
            least = fmin(least, p[j]);
        }
    }
    if (!nz)
        return false;
    double eps1 = eps * (double)(n - nz) / (double)nz;
    if (eps1 > least / 2) {
        eps1 = least / 2;
        eps = eps1 * (double)nz / (double)(n - nz);
    }
    for (size_t j = 0; j < n; j++)
        p[j] += p[j] != 0 ? -eps1 : eps;
    return true;
}

size_t qc_kl_search(const int64_t *h, size_t used, size_t nq)
{
    if (used <= nq)
        return used;
    double *p = malloc(used * sizeof(*p)), *q = malloc(used * sizeof(*q));
    if (!p || !q) {
        free(p);
        free(q);
        return used;
    }
    double best = INFINITY;
    size_t best_i = used;
    double tail = 0;
    for (size_t j = nq; j < used; j++)
        tail += (double)h[j];
    for (size_t i = nq; i <= used; i++) {
        /* P: the first i bins, the outliers beyond folded into the last. */
        for (size_t j = 0; j < i; j++)
            p[j] = (double)h[j];
        p[i - 1] += tail;
        /* Q: the first i bins (without the outliers) merged into nq levels, level c
         * the bins [c i / nq, (c + 1) i / nq), each level's sum spread evenly over
         * the bins where P is non-zero. (MXNet and ONNX Runtime give every level
         * floor(i / nq) bins and the last one the remainder: for i just under 2 nq
         * that last level is half the range, and the search then favours such i.) */
        for (size_t c = 0; c < nq; c++) {
            size_t s = c * i / nq, e = (c + 1) * i / nq;
            double sum = 0;
            size_t nz = 0;
            for (size_t j = s; j < e; j++) {
                sum += (double)h[j];
                nz += p[j] != 0;
            }
            for (size_t j = s; j < e; j++)
                q[j] = p[j] != 0 ? sum / (double)nz : 0;
        }
        double kl = INFINITY;
        if (smooth(p, i, QC_KL_EPS) && smooth(q, i, QC_KL_EPS)) {
            double ps = 0, qs = 0;
            for (size_t j = 0; j < i; j++) {
                ps += p[j];
                qs += q[j];
            }
            kl = 0;
            for (size_t j = 0; j < i; j++) {
                double pj = p[j] / ps, qj = q[j] / qs;
                kl += pj * log(pj / qj);
            }
        }
        if (kl < best) {
            best = kl;
            best_i = i;
        }
        if (i < used)
            tail -= (double)h[i];
    }
    free(p);
    free(q);
    return best_i;
}

int qc_kl_coarsen(int64_t *h, size_t *used, size_t nq, int64_t n)
{
    int k = 0;
    double cap = fmax((double)n / QC_KL_PER_BIN, (double)nq);
    while ((double)*used > cap && *used > nq) {
        size_t half = (*used + 1) / 2;
        for (size_t j = 0; j < half; j++)
            h[j] = h[2 * j] + (2 * j + 1 < *used ? h[2 * j + 1] : 0);
        for (size_t j = half; j < *used; j++)
            h[j] = 0;
        *used = half;
        k++;
    }
    return k;
}

void qc_range(const qc_stat *st, qc_method method, double percentile, int n_levels,
              float *lo, float *hi)
{
    *lo = *hi = 0;
    if (!st || st->count == 0)
        return;
    double rlo = st->min, rhi = st->max;
    double w = bin_width(st);
    if (method == QC_PERCENTILE) {
        double frac = percentile / 100.0;
        double want_lo = (1.0 - frac) * (double)st->count, want_hi = frac * (double)st->count;
        int64_t cum = 0;
        bool lo_set = false;
        for (int64_t i = 0; i < QC_BINS; i++) {
            cum += st->hist[i];
            if (!lo_set && (double)cum > want_lo) {
                rlo = fmax(rlo, (double)(i - QC_BINS / 2) * w);
                lo_set = true;
            }
            if ((double)cum >= want_hi) {
                rhi = fmin(rhi, (double)(i - QC_BINS / 2 + 1) * w);
                break;
            }
        }
    } else if (method == QC_ENTROPY) {
        int64_t ab[QC_BINS / 2];
        memset(ab, 0, sizeof(ab));
        /* Signed bin t = i - B/2 covers [t w, (t+1) w); for t < 0 its |x| lie in
         * (-(t+1) w, -t w], bin -t-1 of the |x| histogram. */
        for (int64_t i = 0; i < QC_BINS; i++) {
            int64_t t = i - QC_BINS / 2;
            ab[t >= 0 ? t : -t - 1] += st->hist[i];
        }
        size_t used = 0;
        for (size_t j = 0; j < QC_BINS / 2; j++)
            if (ab[j])
                used = j + 1;
        /* The first bin holds the exact zeros, which every scale represents exactly;
         * after a Relu they are a spike (half the values or more) that Q spreads over
         * the rest of the first level, which makes every level wider than one bin look
         * far from P: left in, the search picks the narrowest range (output SQNR
         * 6.7 dB on the digits CNN, 7.7 on ResNet-18). It takes no part in the search. */
        int64_t n = st->count - ab[0];
        ab[0] = 0;
        int k = qc_kl_coarsen(ab, &used, (size_t)n_levels, n);
        size_t keep = qc_kl_search(ab, used, (size_t)n_levels);
        double t = ldexp((double)keep * w, k);
        rlo = fmax(rlo, -t);
        rhi = fmin(rhi, t);
    }
    if (rlo > rhi)
        rlo = rhi = 0;
    *lo = (float)rlo;
    *hi = (float)rhi;
}

/* ------------------------------------------------------------------ calibration data */

typedef enum source_kind { SRC_RANDOM, SRC_DIRS, SRC_FILES } source_kind;

struct qc_source {
    mof_context *ctx;
    const mof_model *model;
    source_kind kind;
    size_t n;              /* samples */
    size_t n_inputs;
    char **dirs;           /* SRC_DIRS: n folders */
    mof_tensor **whole;    /* SRC_FILES: per graph input, the whole file (NULL: none) */
    int64_t *rows;         /* SRC_FILES: per graph input, first-dim rows per sample */
};

size_t qc_source_n(const qc_source *src)
{
    return src->n;
}

bool qc_source_is_random(const qc_source *src)
{
    return src->kind == SRC_RANDOM;
}

void qc_source_destroy(qc_source *src)
{
    if (!src)
        return;
    mof_data_sets_free(src->dirs, src->n);
    if (src->whole)
        for (size_t i = 0; i < src->n_inputs; i++)
            mof_tensor_unref(src->whole[i]);
    free(src->whole);
    free(src->rows);
    free(src);
}

static char *path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (p) {
        memcpy(p, a, la);
        p[la] = '/';
        memcpy(p + la + 1, b, lb + 1);
    }
    return p;
}

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static mof_status open_files(qc_source *src, const char *dir)
{
    mof_context *ctx = src->ctx;
    const mof_graph *g = mof_model_graph(src->model);
    src->whole = calloc(src->n_inputs ? src->n_inputs : 1, sizeof(*src->whole));
    src->rows = calloc(src->n_inputs ? src->n_inputs : 1, sizeof(*src->rows));
    if (!src->whole || !src->rows)
        return MOF_ERR_NOMEM;
    bool have_n = false;
    for (size_t i = 0; i < src->n_inputs; i++) {
        const mof_value *v = mof_graph_input(g, i);
        const char *name = mof_value_name(v);
        char *npy = NULL, *pb = NULL;
        size_t ln = strlen(name);
        npy = malloc(ln + 5);
        pb = malloc(ln + 4);
        if (!npy || !pb) {
            free(npy);
            free(pb);
            return MOF_ERR_NOMEM;
        }
        snprintf(npy, ln + 5, "%s.npy", name);
        snprintf(pb, ln + 4, "%s.pb", name);
        char *pn = path_join(dir, npy), *pp = path_join(dir, pb);
        free(npy);
        free(pb);
        if (!pn || !pp) {
            free(pn);
            free(pp);
            return MOF_ERR_NOMEM;
        }
        const char *path = file_exists(pn) ? pn : file_exists(pp) ? pp : NULL;
        if (!path) {
            free(pn);
            free(pp);
            if (mof_value_is_initializer(v))
                continue;
            return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                              "calibration folder '%s' has no test_data_set_* folders and no "
                              "'%s.npy' or '%s.pb' for graph input '%s'", dir, name, name, name);
        }
        mof_tensor *t = mof_tensor_load(ctx, path, NULL);
        mof_location loc = { path, 0, 0 };
        mof_status st = MOF_OK;
        if (!t) {
            st = MOF_ERR_IO;
        } else if (mof_tensor_dtype(t) == MOF_DTYPE_STRING || mof_tensor_rank(t) == 0) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                            "calibration data for input '%s' must be a numeric tensor with a "
                            "batch dim", name);
        } else if (mof_value_rank(v) >= 0 && (size_t)mof_value_rank(v) != mof_tensor_rank(t)) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                            "calibration data for input '%s' has rank %zu, the input has "
                            "rank %d (stack the samples along the input's first dim)", name,
                            mof_tensor_rank(t), mof_value_rank(v));
        } else {
            int64_t rows = mof_value_rank(v) > 0 ? mof_value_dim(v, 0) : MOF_DIM_UNKNOWN;
            if (rows <= 0)
                rows = 1;
            int64_t total = mof_tensor_dims(t)[0];
            if (total == 0 || total % rows != 0) {
                st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                                "calibration data for input '%s' has %" PRId64 " rows, not a "
                                "positive multiple of the input's batch of %" PRId64,
                                name, total, rows);
            } else if (have_n && (size_t)(total / rows) != src->n) {
                st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                                "calibration data for input '%s' holds %" PRId64 " samples, "
                                "the other inputs' %zu", name, total / rows, src->n);
            } else {
                src->n = (size_t)(total / rows);
                have_n = true;
                src->rows[i] = rows;
            }
        }
        free(pn);
        free(pp);
        if (st != MOF_OK) {
            mof_tensor_unref(t);
            return st;
        }
        src->whole[i] = t;
    }
    if (!have_n)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "calibration folder '%s': the model has no input to calibrate", dir);
    return MOF_OK;
}

mof_status qc_source_open(mof_context *ctx, const mof_model *model, const char *spec,
                          qc_source **out)
{
    *out = NULL;
    qc_source *src = calloc(1, sizeof(*src));
    if (!src)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    src->ctx = ctx;
    src->model = model;
    src->n_inputs = mof_graph_n_inputs(mof_model_graph(model));
    mof_status st = MOF_OK;
    if (strncmp(spec, "random:", 7) == 0) {
        char *end;
        errno = 0;
        long long n = strtoll(spec + 7, &end, 10);
        if (end == spec + 7 || *end || n <= 0 || n > 1000000 || errno) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                            "calibration '%s': expected random:N with N in [1, 1000000]", spec);
            goto done;
        }
        src->kind = SRC_RANDOM;
        src->n = (size_t)n;
        goto done;
    }
    struct stat sb;
    if (stat(spec, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, NULL,
                        "calibration '%s' is not a folder (nor random:N)", spec);
        goto done;
    }
    bool found = false;
    char *flat = path_join(spec, "input_0.pb");
    if (!flat) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto done;
    }
    if (file_exists(flat)) {
        /* One ONNX test-data set: the folder itself is the one sample. */
        free(flat);
        src->kind = SRC_DIRS;
        src->dirs = calloc(1, sizeof(*src->dirs));
        if (!src->dirs || !(src->dirs[0] = strdup(spec))) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            goto done;
        }
        src->n = 1;
        goto done;
    }
    free(flat);
    st = mof_list_data_sets(spec, &src->dirs, &src->n);
    found = src->n > 0;
    if (st == MOF_OK && found) {
        src->kind = SRC_DIRS;
        goto done;
    }
    if (st == MOF_OK) {
        src->kind = SRC_FILES;
        st = open_files(src, spec);
    }
    if (st == MOF_ERR_NOMEM)
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
done:
    if (st != MOF_OK)
        qc_source_destroy(src);
    else
        *out = src;
    return st;
}

mof_status qc_source_get(qc_source *src, size_t k, size_t n_inputs, mof_tensor **inputs)
{
    for (size_t i = 0; i < n_inputs; i++)
        inputs[i] = NULL;
    if (k >= src->n || n_inputs != src->n_inputs)
        return MOF_ERR_INVALID_ARG;
    switch (src->kind) {
    case SRC_RANDOM:
        return mof_random_inputs(src->ctx, src->model, 0x9e3779b9u + (uint64_t)k, n_inputs,
                                 inputs);
    case SRC_DIRS:
        return mof_load_inputs(src->ctx, src->model, src->dirs[k], n_inputs, inputs);
    case SRC_FILES:
        for (size_t i = 0; i < n_inputs; i++) {
            const mof_tensor *w = src->whole[i];
            if (!w)
                continue;
            size_t rank = mof_tensor_rank(w);
            int64_t *dims = malloc(rank * sizeof(*dims));
            if (dims) {
                memcpy(dims, mof_tensor_dims(w), rank * sizeof(*dims));
                dims[0] = src->rows[i];
                size_t row_bytes = mof_tensor_nbytes(w) / (size_t)mof_tensor_dims(w)[0];
                const char *base = mof_tensor_data(w);
                inputs[i] = mof_tensor_create_from(mof_tensor_dtype(w), rank, dims,
                                                   base + k * (size_t)src->rows[i] * row_bytes);
                free(dims);
            }
            if (!inputs[i]) {
                mof_tensors_release(n_inputs, inputs);
                return mof_report(src->ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL,
                                  "out of memory");
            }
        }
        return MOF_OK;
    }
    return MOF_ERR_INTERNAL;
}
