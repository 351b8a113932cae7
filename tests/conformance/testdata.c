/* testdata.c: what the ONNX node test runners share; see testdata.h. */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "config.h"

#include "testdata.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ small helpers */

void testdata_oom(void)
{
    fprintf(stderr, "%s: out of memory\n", testdata_program);
    exit(2);
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p)
        testdata_oom();
    return p;
}

void *xrealloc(void *p, size_t size)
{
    p = realloc(p, size ? size : 1);
    if (!p)
        testdata_oom();
    return p;
}

char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (!p)
        testdata_oom();
    return p;
}

bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **list_dir(const char *dir, const char *prefix, size_t *count)
{
    DIR *d = opendir(dir);
    *count = 0;
    if (!d)
        return NULL;
    size_t cap = 64, n = 0;
    char **names = xcalloc(cap, sizeof(*names));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, prefix, strlen(prefix)))
            continue;
        if (n == cap) {
            cap *= 2;
            names = xrealloc(names, cap * sizeof(*names));
        }
        names[n++] = xstrdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_str);
    *count = n;
    return names;
}

void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

char *first_error(mof_context *ctx)
{
    for (size_t i = 0; i < mof_context_n_diags(ctx); i++) {
        const mof_diag *d = mof_context_diag(ctx, i);
        if (d->severity == MOF_SEVERITY_ERROR) {
            char *s = mof_diag_format(d);
            if (s)
                return s;
        }
    }
    return xstrdup("(no diagnostic)");
}

/* ------------------------------------------------------------------ comparison */

static double elem_f64(const mof_tensor *t, int64_t i)
{
    const void *d = mof_tensor_data(t);
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_FLOAT: return ((const float *)d)[i];
    case MOF_DTYPE_DOUBLE: return ((const double *)d)[i];
    case MOF_DTYPE_FLOAT16: {
        uint16_t h = ((const uint16_t *)d)[i];
        int e = (h >> 10) & 0x1f, m = h & 0x3ff;
        double v = e == 0 ? ldexp(m, -24) : e == 31 ? (m ? NAN : INFINITY)
                                                   : ldexp(m + 1024, e - 25);
        return h & 0x8000 ? -v : v;
    }
    case MOF_DTYPE_BFLOAT16: {
        uint32_t bits = (uint32_t)((const uint16_t *)d)[i] << 16;
        float f;
        memcpy(&f, &bits, sizeof(f));
        return f;
    }
    default: return 0;
    }
}

static bool is_float_type(mof_dtype t)
{
    return t == MOF_DTYPE_FLOAT || t == MOF_DTYPE_DOUBLE || t == MOF_DTYPE_FLOAT16 ||
           t == MOF_DTYPE_BFLOAT16;
}

void format_shape(char *buf, size_t size, const mof_tensor *t)
{
    size_t len = (size_t)snprintf(buf, size, "%s[", mof_dtype_name(mof_tensor_dtype(t)));
    for (size_t i = 0; i < mof_tensor_rank(t) && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%lld", i ? "," : "",
                                (long long)mof_tensor_dims(t)[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

bool tensors_match(const mof_tensor *got, const mof_tensor *want, char *why,
                          size_t size)
{
    mof_dtype dt = mof_tensor_dtype(want);
    bool same_shape = mof_tensor_dtype(got) == dt && mof_tensor_rank(got) == mof_tensor_rank(want);
    for (size_t i = 0; same_shape && i < mof_tensor_rank(want); i++)
        same_shape = mof_tensor_dims(got)[i] == mof_tensor_dims(want)[i];
    if (!same_shape) {
        char a[160], b[160];
        format_shape(a, sizeof(a), got);
        format_shape(b, sizeof(b), want);
        snprintf(why, size, "got %s, expected %s", a, b);
        return false;
    }
    int64_t n = mof_tensor_numel(want);
    if (is_float_type(dt)) {
        double rtol = dt == MOF_DTYPE_BFLOAT16 ? 1.0 / 128 : 1e-3;
        for (int64_t i = 0; i < n; i++) {
            double a = elem_f64(got, i), b = elem_f64(want, i);
            if ((isnan(a) && isnan(b)) || a == b)
                continue;
            if (!(fabs(a - b) <= 1e-5 + rtol * fabs(b))) {
                snprintf(why, size, "element %lld is %.9g, expected %.9g", (long long)i, a, b);
                return false;
            }
        }
        return true;
    }
    if (dt == MOF_DTYPE_STRING) {
        const mof_string *a = mof_tensor_data(got), *b = mof_tensor_data(want);
        for (int64_t i = 0; i < n; i++) {
            if (a[i].size != b[i].size || (a[i].size && memcmp(a[i].data, b[i].data, a[i].size))) {
                snprintf(why, size, "element %lld is \"%.*s\", expected \"%.*s\"", (long long)i,
                         (int)(a[i].size > 40 ? 40 : a[i].size), a[i].data ? a[i].data : "",
                         (int)(b[i].size > 40 ? 40 : b[i].size), b[i].data ? b[i].data : "");
                return false;
            }
        }
        return true;
    }
    size_t es = mof_dtype_size(dt);
    const unsigned char *a = mof_tensor_data(got), *b = mof_tensor_data(want);
    for (int64_t i = 0; i < n; i++) {
        if (memcmp(a + (size_t)i * es, b + (size_t)i * es, es)) {
            snprintf(why, size, "element %lld differs (exact comparison of %s)", (long long)i,
                     mof_dtype_name(dt));
            return false;
        }
    }
    return true;
}

bool fits_type(const mof_tensor *t, const mof_value *v)
{
    mof_dtype dt = mof_value_dtype(v);
    int rank = mof_value_rank(v);
    bool ok = dt == MOF_DTYPE_UNDEFINED || dt == mof_tensor_dtype(t);
    ok = ok && (rank < 0 || (size_t)rank == mof_tensor_rank(t));
    for (int i = 0; ok && i < rank; i++) {
        int64_t d = mof_value_dim(v, (size_t)i);
        ok = d < 0 || d == mof_tensor_dims(t)[i];
    }
    return ok;
}

/* ------------------------------------------------------------------ per-op table */

op_row *op_table_row(op_table *t, const char *op)
{
    for (size_t i = 0; i < t->n_rows; i++)
        if (!strcmp(t->rows[i].op, op))
            return &t->rows[i];
    if (t->n_rows == t->cap_rows) {
        t->cap_rows = t->cap_rows ? 2 * t->cap_rows : 64;
        t->rows = xrealloc(t->rows, t->cap_rows * sizeof(*t->rows));
    }
    t->rows[t->n_rows] = (op_row){ .op = xstrdup(op) };
    return &t->rows[t->n_rows++];
}

static int cmp_row(const void *a, const void *b)
{
    return strcmp(((const op_row *)a)->op, ((const op_row *)b)->op);
}

void op_table_sort(op_table *t)
{
    if (t->n_rows)
        qsort(t->rows, t->n_rows, sizeof(*t->rows), cmp_row);
}
