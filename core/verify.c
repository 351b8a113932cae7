/* verify.c: numeric verification: inputs for a model (random or from files), running it
 * with the reference interpreter, timing it, and comparing the outputs of two runs.
 *
 * Random inputs must be the same on every machine, so nothing here comes from the C
 * library's rand() or from floating-point arithmetic that could round differently:
 * a xoshiro256** generator (seeded through splitmix64, as its authors recommend)
 * gives 64-bit words, and each element takes the top bits of one word and scales them
 * by a power of two onto a grid that its type represents exactly. The order of draws
 * is fixed: input by input in graph order, element by element in row-major order.
 *
 * A comparison accumulates, per output, over every input set added: the largest
 * errors, the smallest cosine similarity, the sums of mismatches and top-1 rows, and
 * the single worst element (the one farthest past the tolerance, relative to it).
 * Element values are read as doubles whatever their type, which is exact for every
 * type up to 32-bit integers and float. */
#define _XOPEN_SOURCE 700 /* clock_gettime */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <mof/interp.h>
#include <mof/io.h>
#include <mof/ir.h>
#include <mof/verify.h>

#include "util.h"

/* ------------------------------------------------------------------ random numbers */

typedef struct rng {
    uint64_t s[4];
} rng;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static void rng_seed(rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

/* xoshiro256** 1.0 (Blackman and Vigna, public domain). */
static uint64_t rng_next(rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* ------------------------------------------------------------------ 16-bit floats */

static double half_to_double(uint16_t h)
{
    int exp = (h >> 10) & 0x1f;
    int man = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp(man, -24);
    else if (exp == 31)
        v = man ? NAN : INFINITY;
    else
        v = ldexp(man + 1024, exp - 25);
    return h & 0x8000 ? -v : v;
}

static double bfloat16_to_double(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof(f));
    return f;
}

/* The half of v, which must be 0 or a normal half with at most 11 significant bits
 * (every value of the random grid is). */
static uint16_t exact_half(double v)
{
    if (v == 0)
        return 0;
    uint16_t sign = v < 0 ? 0x8000 : 0;
    int e;
    double m = frexp(fabs(v), &e); /* |v| = m * 2^e, m in [0.5, 1) */
    uint16_t man = (uint16_t)((m * 2 - 1) * 1024);
    return (uint16_t)(sign | (uint16_t)((e - 1 + 15) << 10) | man);
}

/* ------------------------------------------------------------------ input shapes */

/* Parses "1,3,224,224" (blanks around dims allowed, "" is a scalar). */
static bool parse_dims(const char *text, size_t *rank, int64_t **dims, bool *nomem)
{
    *rank = 0;
    *dims = NULL;
    *nomem = false;
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0')
        return true;
    size_t cap = 0;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        int64_t v = 0;
        bool ok = *p >= '0' && *p <= '9';
        for (; *p >= '0' && *p <= '9'; p++) {
            int d = *p - '0';
            if (v > (INT64_MAX - d) / 10)
                ok = false;
            else
                v = v * 10 + d;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (!ok || (*p != ',' && *p != '\0'))
            goto bad;
        if (!MOF_GROW(*dims, cap, *rank + 1)) {
            *nomem = true;
            goto bad;
        }
        (*dims)[(*rank)++] = v;
        if (*p == '\0')
            return true;
        p++;
    }
bad:
    free(*dims);
    *dims = NULL;
    *rank = 0;
    return false;
}

/* "'a', 'b'" for the graph inputs of g (owned; NULL when out of memory). */
static char *input_names(const mof_graph *g)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_puts(&sb, "");
    for (size_t j = 0; j < mof_graph_n_inputs(g); j++)
        mof_strbuf_printf(&sb, "%s'%s'", j ? ", " : "", mof_value_name(mof_graph_input(g, j)));
    return mof_strbuf_take(&sb);
}

mof_status mof_model_set_input_shape(mof_model *model, const char *assignment)
{
    if (!model || !assignment)
        return MOF_ERR_INVALID_ARG;
    mof_context *ctx = mof_model_context(model);
    mof_location loc = { "--input-shape", 0, 0 };
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                          "'%s' is not of the form NAME=DIM,DIM,...", assignment);
    mof_status st = MOF_OK;
    char *name = mof_strndup(assignment, (size_t)(eq - assignment));
    size_t rank = 0;
    int64_t *dims = NULL;
    bool nomem = false;
    if (!name) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    if (!parse_dims(eq + 1, &rank, &dims, &nomem)) {
        if (nomem)
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        else
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                            "input '%s': shape '%s' is not a list of dims such as "
                            "'1,3,224,224'", name, eq + 1);
        goto out;
    }
    mof_graph *g = mof_model_graph(model);
    mof_value *v = NULL;
    for (size_t j = 0; j < mof_graph_n_inputs(g) && !v; j++)
        if (strcmp(mof_value_name(mof_graph_input(g, j)), name) == 0)
            v = mof_graph_input(g, j);
    if (!v) {
        char *names = input_names(g);
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                        "input '%s' is pinned, but the model has no graph input of that name "
                        "(its inputs: %s)", name, names && names[0] ? names : "none");
        free(names);
        goto out;
    }
    int have_rank = mof_value_rank(v);
    if (have_rank >= 0 && (size_t)have_rank != rank) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                        "input '%s' is pinned to rank %zu, but the model gives it rank %d",
                        name, rank, have_rank);
        goto out;
    }
    for (size_t d = 0; have_rank >= 0 && d < rank; d++) {
        int64_t have = mof_value_dim(v, d);
        if (have != MOF_DIM_UNKNOWN && have != dims[d])
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &loc,
                            "input '%s' is pinned with dim %zu = %" PRId64 ", but the model "
                            "fixes it to %" PRId64, name, d, dims[d], have);
    }
    if (st == MOF_OK) {
        mof_dtype dt = mof_value_has_type(v) ? mof_value_dtype(v) : MOF_DTYPE_UNDEFINED;
        st = mof_value_set_type(v, dt, (int)rank, dims, NULL);
        if (st != MOF_OK)
            mof_report(ctx, MOF_SEVERITY_ERROR, st, &loc, "input '%s': cannot set its shape: %s",
                       name, mof_status_str(st));
    }
out:
    free(dims);
    free(name);
    return st;
}

/* ------------------------------------------------------------------ random inputs */

void mof_tensors_release(size_t n, mof_tensor **tensors)
{
    for (size_t i = 0; tensors && i < n; i++) {
        mof_tensor_unref(tensors[i]);
        tensors[i] = NULL;
    }
}

static bool is_floating(mof_dtype dt)
{
    return dt == MOF_DTYPE_FLOAT || dt == MOF_DTYPE_DOUBLE || dt == MOF_DTYPE_FLOAT16 ||
           dt == MOF_DTYPE_BFLOAT16;
}

static bool is_integer(mof_dtype dt)
{
    switch (dt) {
    case MOF_DTYPE_INT8: case MOF_DTYPE_INT16: case MOF_DTYPE_INT32: case MOF_DTYPE_INT64:
    case MOF_DTYPE_UINT8: case MOF_DTYPE_UINT16: case MOF_DTYPE_UINT32:
    case MOF_DTYPE_UINT64:
        return true;
    default:
        return false;
    }
}

/* "image=1,3,16,16" with each unknown dim of v shown as 1, for messages (owned). */
static char *pin_example(const mof_value *v)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_printf(&sb, "%s=", mof_value_name(v));
    int rank = mof_value_rank(v);
    for (int d = 0; d < rank; d++) {
        int64_t dim = mof_value_dim(v, (size_t)d);
        mof_strbuf_printf(&sb, "%s%" PRId64, d ? "," : "", dim >= 0 ? dim : 1);
    }
    return mof_strbuf_take(&sb);
}

/* Checks that input v can be made at random; reports why not. */
static mof_status check_random_input(mof_context *ctx, const mof_value *v)
{
    const char *name = mof_value_name(v);
    if (!mof_value_has_type(v) || mof_value_dtype(v) == MOF_DTYPE_UNDEFINED)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "input '%s' has no element type: no random values can be made "
                          "for it", name);
    mof_dtype dt = mof_value_dtype(v);
    if (!is_floating(dt) && !is_integer(dt) && dt != MOF_DTYPE_BOOL)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED, NULL,
                          "input '%s' is of type %s: random values are made only for "
                          "numbers and bool (give the inputs as files)", name,
                          mof_dtype_name(dt));
    int rank = mof_value_rank(v);
    if (rank < 0)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "input '%s' has no known shape: pin it (for example "
                          "--input-shape %s=1,3,224,224)", name, name);
    mof_status st = MOF_OK;
    for (int d = 0; d < rank; d++) {
        if (mof_value_dim(v, (size_t)d) >= 0)
            continue;
        const char *sym = mof_value_dim_symbol(v, (size_t)d);
        char *example = pin_example(v);
        char what[64] = "";
        if (sym)
            snprintf(what, sizeof(what), " ('%.40s')", sym);
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                        "input '%s': dim %d%s is not fixed, so no random input can be made: "
                        "pin it (for example --input-shape %s)", name, d,
                        sym ? what : " (unknown)", example ? example : name);
        free(example);
    }
    return st;
}

/* Fills t with random values of its type. */
static void fill_random(mof_tensor *t, rng *r)
{
    int64_t n = mof_tensor_numel(t);
    void *data = mof_tensor_data_mut(t);
    switch (mof_tensor_dtype(t)) {
    case MOF_DTYPE_FLOAT:
        for (int64_t i = 0; i < n; i++)
            ((float *)data)[i] = (float)((double)(rng_next(r) >> 40) * 0x1p-23 - 1.0);
        break;
    case MOF_DTYPE_DOUBLE:
        for (int64_t i = 0; i < n; i++)
            ((double *)data)[i] = (double)(rng_next(r) >> 11) * 0x1p-52 - 1.0;
        break;
    case MOF_DTYPE_FLOAT16:
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)data)[i] = exact_half((double)(rng_next(r) >> 53) * 0x1p-10 - 1.0);
        break;
    case MOF_DTYPE_BFLOAT16:
        for (int64_t i = 0; i < n; i++) {
            float f = (float)((double)(rng_next(r) >> 56) * 0x1p-7 - 1.0);
            uint32_t bits;
            memcpy(&bits, &f, sizeof(bits));
            ((uint16_t *)data)[i] = (uint16_t)(bits >> 16);
        }
        break;
    case MOF_DTYPE_BOOL:
        for (int64_t i = 0; i < n; i++)
            ((uint8_t *)data)[i] = (uint8_t)(rng_next(r) >> 63);
        break;
    default: {
        /* Integers: [0, 4) written in the type's width, little or big endian alike. */
        size_t size = mof_dtype_size(mof_tensor_dtype(t));
        for (int64_t i = 0; i < n; i++) {
            uint8_t v = (uint8_t)(rng_next(r) >> 62);
            unsigned char *p = (unsigned char *)data + (size_t)i * size;
            switch (size) {
            case 1: *(uint8_t *)p = v; break;
            case 2: *(uint16_t *)p = v; break;
            case 4: *(uint32_t *)p = v; break;
            default: *(uint64_t *)p = v; break;
            }
        }
        break;
    }
    }
}

mof_status mof_random_inputs(mof_context *ctx, const mof_model *model, uint64_t seed,
                             size_t n_inputs, mof_tensor **inputs)
{
    if (!ctx || !model || (n_inputs && !inputs))
        return MOF_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_inputs; i++)
        inputs[i] = NULL;
    const mof_graph *g = mof_model_graph(model);
    size_t n = mof_graph_n_inputs(g);
    if (n_inputs != n)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "the model has %zu graph inputs, room for %zu was given", n,
                          n_inputs);
    /* Check every input first, so that every problem is reported at once. */
    mof_status st = MOF_OK;
    for (size_t i = 0; i < n; i++) {
        const mof_value *v = mof_graph_input(g, i);
        if (mof_value_is_initializer(v))
            continue;
        mof_status s = check_random_input(ctx, v);
        if (s != MOF_OK && st == MOF_OK)
            st = s;
    }
    if (st != MOF_OK)
        return st;

    rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++) {
        const mof_value *v = mof_graph_input(g, i);
        if (mof_value_is_initializer(v))
            continue;
        size_t rank = (size_t)mof_value_rank(v);
        int64_t *dims = mof_calloc(rank ? rank : 1, sizeof(*dims));
        if (!dims) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        for (size_t d = 0; d < rank; d++)
            dims[d] = mof_value_dim(v, d);
        inputs[i] = mof_tensor_create(mof_value_dtype(v), rank, dims);
        free(dims);
        if (!inputs[i]) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL,
                            "input '%s': out of memory (or too large) making a random tensor",
                            mof_value_name(v));
            break;
        }
        fill_random(inputs[i], &r);
    }
    if (st != MOF_OK)
        mof_tensors_release(n_inputs, inputs);
    return st;
}

/* ------------------------------------------------------------------ input folders */

static bool file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* A set of tensors to read from a folder: the graph's inputs or outputs. */
typedef struct tensor_slots {
    const char *kind;          /* "input" or "output": files are <kind>_<k>.pb */
    size_t n;
    const char **names;        /* the values' names */
    bool *optional;            /* initializers that are also inputs */
    mof_tensor **tensors;      /* what was read, NULL where nothing was */
    char **from;               /* the file each came from */
} tensor_slots;

/* Binds tensor t (taken over) read from path to slot j; reports a second binding. */
static mof_status bind_slot(mof_context *ctx, tensor_slots *ts, size_t j, mof_tensor *t,
                            const char *path)
{
    if (ts->tensors[j]) {
        mof_tensor_unref(t);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG,
                          &(mof_location){ .file = path }, "%s '%s' is given twice: also by %s",
                          ts->kind, ts->names[j], ts->from[j]);
    }
    ts->from[j] = mof_strdup(path);
    if (!ts->from[j]) {
        mof_tensor_unref(t);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    }
    ts->tensors[j] = t;
    return MOF_OK;
}

/* Whether name can be a file name in a folder. */
static bool usable_as_file_name(const char *name)
{
    return name[0] && strchr(name, '/') == NULL && strcmp(name, ".") != 0 &&
           strcmp(name, "..") != 0;
}

/* Reads the slots from dir: <kind>_0.pb, <kind>_1.pb, ... (bound by TensorProto name,
 * else in order to the slots that are not optional), then NAME.npy and NAME.pb. */
static mof_status load_slots(mof_context *ctx, const char *dir, tensor_slots *ts)
{
    struct stat sb;
    if (stat(dir, &sb) != 0)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &(mof_location){ .file = dir },
                          "cannot read the %s folder: %s", ts->kind, strerror(errno));
    if (!S_ISDIR(sb.st_mode))
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &(mof_location){ .file = dir },
                          "not a folder (give a folder of %s_0.pb, ... or NAME.npy files)",
                          ts->kind);
    size_t n = ts->n, n_required = 0;
    size_t *required = mof_calloc(n ? n : 1, sizeof(*required));
    if (!required)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    for (size_t j = 0; j < n; j++)
        if (!ts->optional[j])
            required[n_required++] = j;

    mof_status st = MOF_OK;
    /* ONNX test data: input_0.pb, input_1.pb, ... up to the first missing number. */
    for (size_t k = 0;; k++) {
        char *path = mof_asprintf("%s/%s_%zu.pb", dir, ts->kind, k);
        if (!path) {
            st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
            break;
        }
        if (!file_exists(path)) {
            free(path);
            break;
        }
        char *tname = NULL;
        mof_tensor *t = mof_tensor_load(ctx, path, &tname);
        mof_status s = MOF_OK;
        if (!t) {
            s = MOF_ERR_PARSE;
        } else {
            size_t j = n;
            for (size_t q = 0; tname && q < n && j == n; q++)
                if (strcmp(ts->names[q], tname) == 0)
                    j = q;
            if (j == n && k < n_required)
                j = required[k];
            if (j == n) {
                mof_tensor_unref(t);
                s = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG,
                               &(mof_location){ .file = path },
                               "matches no graph %s: its name is '%s' and the model has %zu "
                               "%s%s to match", ts->kind, tname ? tname : "", n_required,
                               ts->kind, n_required == 1 ? "" : "s");
            } else {
                s = bind_slot(ctx, ts, j, t, path);
            }
        }
        if (s != MOF_OK && st == MOF_OK)
            st = s;
        free(tname);
        free(path);
    }

    /* One file per value, named after it. */
    static const char *const exts[] = { "npy", "pb" };
    for (size_t j = 0; j < n && st != MOF_ERR_NOMEM; j++) {
        if (!usable_as_file_name(ts->names[j]))
            continue;
        for (size_t e = 0; e < sizeof(exts) / sizeof(exts[0]); e++) {
            char *path = mof_asprintf("%s/%s.%s", dir, ts->names[j], exts[e]);
            if (!path) {
                st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
                break;
            }
            mof_status s = MOF_OK;
            if (file_exists(path)) {
                mof_tensor *t = mof_tensor_load(ctx, path, NULL);
                s = t ? bind_slot(ctx, ts, j, t, path) : MOF_ERR_PARSE;
            }
            if (s != MOF_OK && st == MOF_OK)
                st = s;
            free(path);
        }
    }

    for (size_t k = 0; k < n_required && st != MOF_ERR_NOMEM; k++) {
        size_t j = required[k];
        if (ts->tensors[j])
            continue;
        const char *name = ts->names[j];
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG,
                        &(mof_location){ .file = dir },
                        "no tensor for %s '%s' (expected %s_%zu.pb, or %s.npy)", ts->kind, name,
                        ts->kind, k, usable_as_file_name(name) ? name : "NAME");
    }
    free(required);
    return st;
}

/* Loads the graph's inputs (outputs false) or outputs (true) from dir. */
static mof_status load_graph_tensors(mof_context *ctx, const mof_model *model, const char *dir,
                                     bool outputs, size_t n_given, mof_tensor **tensors)
{
    if (!ctx || !model || !dir || (n_given && !tensors))
        return MOF_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_given; i++)
        tensors[i] = NULL;
    const mof_graph *g = mof_model_graph(model);
    tensor_slots ts = { .kind = outputs ? "output" : "input", .tensors = tensors };
    ts.n = outputs ? mof_graph_n_outputs(g) : mof_graph_n_inputs(g);
    if (n_given != ts.n)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "the model has %zu graph %ss, room for %zu was given", ts.n, ts.kind,
                          n_given);
    size_t w = ts.n ? ts.n : 1;
    ts.names = mof_calloc(w, sizeof(*ts.names));
    ts.optional = mof_calloc(w, sizeof(*ts.optional));
    ts.from = mof_calloc(w, sizeof(*ts.from));
    mof_status st;
    if (!ts.names || !ts.optional || !ts.from) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    } else {
        for (size_t j = 0; j < ts.n; j++) {
            const mof_value *v = outputs ? mof_graph_output(g, j) : mof_graph_input(g, j);
            ts.names[j] = mof_value_name(v);
            ts.optional[j] = !outputs && mof_value_is_initializer(v);
        }
        st = load_slots(ctx, dir, &ts);
    }
    for (size_t j = 0; ts.from && j < ts.n; j++)
        free(ts.from[j]);
    free(ts.from);
    free(ts.names);
    free(ts.optional);
    if (st != MOF_OK)
        mof_tensors_release(n_given, tensors);
    return st;
}

mof_status mof_load_inputs(mof_context *ctx, const mof_model *model, const char *dir,
                           size_t n_inputs, mof_tensor **inputs)
{
    return load_graph_tensors(ctx, model, dir, false, n_inputs, inputs);
}

mof_status mof_load_outputs(mof_context *ctx, const mof_model *model, const char *dir,
                            size_t n_outputs, mof_tensor **outputs)
{
    return load_graph_tensors(ctx, model, dir, true, n_outputs, outputs);
}

#define DATA_SET_PREFIX "test_data_set_"

/* test_data_set_2 before test_data_set_10. */
static int cmp_data_sets(const void *a, const void *b)
{
    const char *x = *(const char *const *)a + strlen(DATA_SET_PREFIX);
    const char *y = *(const char *const *)b + strlen(DATA_SET_PREFIX);
    size_t lx = strlen(x), ly = strlen(y);
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp(x, y);
}

mof_status mof_list_data_sets(const char *dir, char ***sets, size_t *n_sets)
{
    if (!sets || !n_sets)
        return MOF_ERR_INVALID_ARG;
    *sets = NULL;
    *n_sets = 0;
    if (!dir)
        return MOF_ERR_INVALID_ARG;
    DIR *d = opendir(dir);
    if (!d)
        return MOF_OK;
    char **list = NULL;
    size_t n = 0, cap = 0;
    mof_status st = MOF_OK;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strncmp(e->d_name, DATA_SET_PREFIX, strlen(DATA_SET_PREFIX)) != 0)
            continue;
        if (!MOF_GROW(list, cap, n + 1) || !(list[n] = mof_strdup(e->d_name))) {
            st = MOF_ERR_NOMEM;
            break;
        }
        n++;
    }
    closedir(d);
    if (st == MOF_OK && n) {
        qsort(list, n, sizeof(*list), cmp_data_sets);
        for (size_t i = 0; i < n && st == MOF_OK; i++) {
            char *full = mof_asprintf("%s/%s", dir, list[i]);
            if (!full) {
                st = MOF_ERR_NOMEM;
            } else {
                free(list[i]);
                list[i] = full;
            }
        }
    }
    if (st != MOF_OK) {
        mof_data_sets_free(list, n);
        return st;
    }
    *sets = list;
    *n_sets = n;
    return MOF_OK;
}

void mof_data_sets_free(char **sets, size_t n_sets)
{
    for (size_t i = 0; sets && i < n_sets; i++)
        free(sets[i]);
    free(sets);
}

/* ------------------------------------------------------------------ running */

mof_status mof_run_model(mof_context *ctx, const mof_model *model, size_t n_inputs,
                         mof_tensor *const *inputs, size_t n_outputs, mof_tensor **outputs)
{
    if (!ctx || !model || (n_outputs && !outputs) || (n_inputs && !inputs))
        return MOF_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_outputs; i++)
        outputs[i] = NULL;
    mof_interp *it = mof_interp_create(ctx, model);
    if (!it)
        return MOF_ERR_UNSUPPORTED;
    mof_status st = mof_interp_run(it, n_inputs, inputs, n_outputs, outputs);
    mof_interp_destroy(it);
    if (st != MOF_OK)
        mof_tensors_release(n_outputs, outputs);
    return st;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

mof_status mof_measure_latency(mof_interp *it, size_t n_inputs, mof_tensor *const *inputs,
                               size_t n_outputs, size_t n_warmup, size_t n_runs,
                               mof_latency *out)
{
    if (!it || !out || n_runs == 0)
        return MOF_ERR_INVALID_ARG;
    memset(out, 0, sizeof(*out));
    mof_tensor **outputs = mof_calloc(n_outputs ? n_outputs : 1, sizeof(*outputs));
    double *times = mof_calloc(n_runs, sizeof(*times));
    mof_status st = MOF_OK;
    if (!outputs || !times) {
        st = MOF_ERR_NOMEM;
        goto out;
    }
    for (size_t i = 0; i < n_warmup + n_runs && st == MOF_OK; i++) {
        double t0 = now();
        st = mof_interp_run(it, n_inputs, inputs, n_outputs, outputs);
        double t = now() - t0;
        mof_tensors_release(n_outputs, outputs);
        if (i >= n_warmup)
            times[i - n_warmup] = t;
    }
    if (st != MOF_OK)
        goto out;
    qsort(times, n_runs, sizeof(*times), compare_doubles);
    out->n_runs = n_runs;
    out->min = times[0];
    out->max = times[n_runs - 1];
    out->median = n_runs % 2 ? times[n_runs / 2]
                             : (times[n_runs / 2 - 1] + times[n_runs / 2]) / 2;
out:
    free(outputs);
    free(times);
    return st;
}

/* ------------------------------------------------------------------ tensor summaries */

static double elem(mof_dtype dt, const void *d, int64_t i);
static bool is_numeric(mof_dtype dt);
static char *type_text(const mof_tensor *t);

void mof_tensor_print_summary(FILE *out, const mof_tensor *t, size_t n_values)
{
    if (!out || !t)
        return;
    char *type = type_text(t);
    fputs(type ? type : mof_dtype_name(mof_tensor_dtype(t)), out);
    free(type);
    mof_dtype dt = mof_tensor_dtype(t);
    int64_t n = mof_tensor_numel(t);
    const void *data = mof_tensor_data(t);
    if (!is_numeric(dt)) {
        fputc('\n', out);
        if (dt == MOF_DTYPE_STRING && n_values > 0 && n > 0) {
            fputs(" ", out);
            for (int64_t i = 0; i < n && (size_t)i < n_values; i++) {
                const mof_string *str = &((const mof_string *)data)[i];
                fprintf(out, " \"%.*s\"", str->size > 40 ? 40 : (int)str->size, str->data);
            }
            fputs((size_t)n > n_values ? " ...\n" : "\n", out);
        }
        return;
    }
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    int64_t finite = 0, nans = 0, infs = 0;
    for (int64_t i = 0; i < n; i++) {
        double v = elem(dt, data, i);
        if (isnan(v)) {
            nans++;
        } else if (isinf(v)) {
            infs++;
        } else {
            lo = fmin(lo, v);
            hi = fmax(hi, v);
            sum += v;
            finite++;
        }
    }
    if (finite)
        fprintf(out, "  min %.6g  max %.6g  mean %.6g", lo, hi, sum / (double)finite);
    if (nans)
        fprintf(out, "  %" PRId64 " NaN", nans);
    if (infs)
        fprintf(out, "  %" PRId64 " infinite", infs);
    fputc('\n', out);
    if (n_values == 0 || n == 0)
        return;
    fputs(" ", out);
    for (int64_t i = 0; i < n && (size_t)i < n_values; i++)
        fprintf(out, " %.6g", elem(dt, data, i));
    fputs((size_t)n > n_values ? " ...\n" : "\n", out);
}

/* ------------------------------------------------------------------ reports */

typedef struct out_acc {
    mof_output_diff d;     /* d.name and d.dims point into name and dims */
    char *name;
    int64_t *dims;
    double worst_key;      /* how bad worst_* is: see consider_worst */
    bool worst_failing;
    char *mismatch;        /* what differed, for a type mismatch */
} out_acc;

struct mof_verify_report {
    double rtol, atol;
    size_t n_sets;
    size_t n_outputs;
    out_acc *outs;
};

mof_verify_report *mof_verify_report_create(double rtol, double atol)
{
    if (!(rtol >= 0) || !(atol >= 0))
        return NULL;
    mof_verify_report *r = mof_calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->rtol = rtol;
    r->atol = atol;
    return r;
}

void mof_verify_report_destroy(mof_verify_report *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_outputs; i++) {
        free(r->outs[i].name);
        free(r->outs[i].dims);
        free(r->outs[i].mismatch);
    }
    free(r->outs);
    free(r);
}

double mof_verify_report_rtol(const mof_verify_report *r)
{
    return r ? r->rtol : 0;
}

double mof_verify_report_atol(const mof_verify_report *r)
{
    return r ? r->atol : 0;
}

size_t mof_verify_report_n_sets(const mof_verify_report *r)
{
    return r ? r->n_sets : 0;
}

size_t mof_verify_report_n_outputs(const mof_verify_report *r)
{
    return r ? r->n_outputs : 0;
}

const mof_output_diff *mof_verify_report_output(const mof_verify_report *r, size_t i)
{
    return r && i < r->n_outputs ? &r->outs[i].d : NULL;
}

bool mof_verify_report_passed(const mof_verify_report *r)
{
    if (!r || r->n_sets == 0)
        return false;
    for (size_t i = 0; i < r->n_outputs; i++)
        if (!r->outs[i].d.passed)
            return false;
    return true;
}

/* Element i of a numeric tensor as a double. */
static double elem(mof_dtype dt, const void *d, int64_t i)
{
    switch (dt) {
    case MOF_DTYPE_FLOAT: return ((const float *)d)[i];
    case MOF_DTYPE_DOUBLE: return ((const double *)d)[i];
    case MOF_DTYPE_FLOAT16: return half_to_double(((const uint16_t *)d)[i]);
    case MOF_DTYPE_BFLOAT16: return bfloat16_to_double(((const uint16_t *)d)[i]);
    case MOF_DTYPE_INT8: return ((const int8_t *)d)[i];
    case MOF_DTYPE_INT16: return ((const int16_t *)d)[i];
    case MOF_DTYPE_INT32: return ((const int32_t *)d)[i];
    case MOF_DTYPE_INT64: return (double)((const int64_t *)d)[i];
    case MOF_DTYPE_UINT8: return ((const uint8_t *)d)[i];
    case MOF_DTYPE_UINT16: return ((const uint16_t *)d)[i];
    case MOF_DTYPE_UINT32: return ((const uint32_t *)d)[i];
    case MOF_DTYPE_UINT64: return (double)((const uint64_t *)d)[i];
    case MOF_DTYPE_BOOL: return ((const uint8_t *)d)[i] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

static bool is_numeric(mof_dtype dt)
{
    return is_floating(dt) || is_integer(dt) || dt == MOF_DTYPE_BOOL;
}

/* "float[1,10]" (owned). */
static char *type_text(const mof_tensor *t)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_printf(&sb, "%s[", mof_dtype_name(mof_tensor_dtype(t)));
    for (size_t d = 0; d < mof_tensor_rank(t); d++)
        mof_strbuf_printf(&sb, "%s%" PRId64, d ? "," : "", mof_tensor_dims(t)[d]);
    mof_strbuf_puts(&sb, "]");
    return mof_strbuf_take(&sb);
}

/* Records element i of input set `set` as the worst so far when it is worse: an
 * element past the tolerance beats any within it; among those past it, the larger
 * error relative to the tolerance wins; among those within, the larger error. */
static void consider_worst(out_acc *o, size_t set, int64_t i, double a, double b, bool failing,
                           double key)
{
    bool worse = o->d.worst_set < 0 || (failing && !o->worst_failing) ||
                 (failing == o->worst_failing && key > o->worst_key);
    if (!worse)
        return;
    o->d.worst_set = (int64_t)set;
    o->d.worst_index = i;
    o->d.worst_ref = a;
    o->d.worst_got = b;
    o->worst_failing = failing;
    o->worst_key = key;
}

/* Compares one output of one input set. */
static mof_status compare_output(mof_verify_report *r, out_acc *o, size_t set,
                                 const mof_tensor *a, const mof_tensor *b)
{
    mof_dtype dt = mof_tensor_dtype(a);
    size_t rank = mof_tensor_rank(a);
    const int64_t *dims = mof_tensor_dims(a);
    /* The reference's shape, for the table (the last input set's). */
    if (o->d.rank != rank || !o->dims) {
        int64_t *copy = mof_calloc(rank ? rank : 1, sizeof(*copy));
        if (!copy)
            return MOF_ERR_NOMEM;
        free(o->dims);
        o->dims = copy;
    }
    if (rank)
        memcpy(o->dims, dims, rank * sizeof(*dims));
    o->d.rank = rank;
    o->d.dims = o->dims;
    o->d.dtype = dt;
    if (dt != mof_tensor_dtype(b) || rank != mof_tensor_rank(b) ||
        (rank && memcmp(dims, mof_tensor_dims(b), rank * sizeof(*dims)) != 0)) {
        if (!o->mismatch) {
            char *ta = type_text(a), *tb = type_text(b);
            o->mismatch = ta && tb ? mof_asprintf("%s in the reference, %s in the model "
                                                  "under test", ta, tb)
                                   : NULL;
            free(ta);
            free(tb);
            if (!o->mismatch)
                return MOF_ERR_NOMEM;
        }
        o->d.type_mismatch = true;
        o->d.passed = false;
        o->d.cosine = NAN;
        return MOF_OK;
    }

    int64_t n = mof_tensor_numel(a);
    const void *da = mof_tensor_data(a), *db = mof_tensor_data(b);
    o->d.n_elements += n;

    if (!is_numeric(dt)) {
        /* Strings, complex numbers: equality only. */
        size_t size = dt == MOF_DTYPE_STRING ? 0 : mof_dtype_size(dt);
        int64_t bad = 0;
        for (int64_t i = 0; i < n; i++) {
            bool eq;
            if (dt == MOF_DTYPE_STRING) {
                const mof_string *sa = &((const mof_string *)da)[i];
                const mof_string *sb = &((const mof_string *)db)[i];
                eq = sa->size == sb->size && (sa->size == 0 ||
                                              memcmp(sa->data, sb->data, sa->size) == 0);
            } else {
                eq = memcmp((const char *)da + (size_t)i * size,
                            (const char *)db + (size_t)i * size, size) == 0;
            }
            if (!eq) {
                bad++;
                consider_worst(o, set, i, NAN, NAN, true, 0);
            }
        }
        if (bad) {
            o->d.max_abs = o->d.max_rel = INFINITY;
            o->d.cosine = 0;
            o->d.n_mismatches += bad;
            o->d.passed = false;
        } else if (o->d.worst_set < 0 && n > 0) {
            consider_worst(o, set, 0, NAN, NAN, false, 0);
        }
        return MOF_OK;
    }

    double dot = 0, na = 0, nb = 0;
    for (int64_t i = 0; i < n; i++) {
        double x = elem(dt, da, i), y = elem(dt, db, i);
        double err, rel, tol = r->atol + r->rtol * fabs(x);
        bool ok;
        if (isnan(x) || isnan(y)) {
            ok = isnan(x) && isnan(y);
            err = rel = ok ? 0 : INFINITY;
        } else if (isinf(x) || isinf(y)) {
            ok = x == y;
            err = rel = ok ? 0 : INFINITY;
        } else {
            err = fabs(x - y);
            ok = err <= tol;
            rel = err / fmax(fabs(x), MOF_VERIFY_TINY);
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        if (err > o->d.max_abs)
            o->d.max_abs = err;
        if (rel > o->d.max_rel)
            o->d.max_rel = rel;
        if (!ok) {
            o->d.n_mismatches++;
            o->d.passed = false;
        }
        consider_worst(o, set, i, x, y, !ok, ok ? err : err / fmax(tol, DBL_MIN));
    }
    double cosine;
    if (na == 0 && nb == 0)
        cosine = 1;
    else if (na == 0 || nb == 0)
        cosine = 0;
    else
        cosine = fmax(-1.0, fmin(1.0, dot / (sqrt(na) * sqrt(nb))));
    if (!(cosine >= o->d.cosine) && !isnan(o->d.cosine))
        o->d.cosine = cosine;

    /* Classifier-like: does each row pick the same class? */
    if (is_floating(dt) && rank == 2 && dims[1] > 1) {
        int64_t rows = dims[0], cols = dims[1];
        for (int64_t row = 0; row < rows; row++) {
            int64_t ia = 0, ib = 0;
            for (int64_t c = 1; c < cols; c++) {
                if (elem(dt, da, row * cols + c) > elem(dt, da, row * cols + ia))
                    ia = c;
                if (elem(dt, db, row * cols + c) > elem(dt, db, row * cols + ib))
                    ib = c;
            }
            o->d.top1_rows++;
            o->d.top1_agree += ia == ib;
        }
    }
    return MOF_OK;
}

mof_status mof_verify_report_add(mof_verify_report *r, size_t n_outputs,
                                 const char *const *names, mof_tensor *const *ref,
                                 mof_tensor *const *got)
{
    if (!r || (n_outputs && (!ref || !got)))
        return MOF_ERR_INVALID_ARG;
    for (size_t i = 0; i < n_outputs; i++)
        if (!ref[i] || !got[i])
            return MOF_ERR_INVALID_ARG;
    if (r->n_sets > 0 && n_outputs != r->n_outputs)
        return MOF_ERR_INVALID_ARG;
    if (r->n_sets == 0 && r->n_outputs == 0 && n_outputs > 0) {
        r->outs = mof_calloc(n_outputs, sizeof(*r->outs));
        if (!r->outs)
            return MOF_ERR_NOMEM;
        r->n_outputs = n_outputs;
        for (size_t i = 0; i < n_outputs; i++) {
            out_acc *o = &r->outs[i];
            o->name = names && names[i] ? mof_strdup(names[i]) : mof_asprintf("output_%zu", i);
            if (!o->name)
                return MOF_ERR_NOMEM;
            o->d.name = o->name;
            o->d.dtype = mof_tensor_dtype(ref[i]);
            o->d.cosine = 1;
            o->d.passed = true;
            o->d.worst_set = -1;
            o->d.worst_index = -1;
        }
    }
    for (size_t i = 0; i < n_outputs; i++) {
        mof_status st = compare_output(r, &r->outs[i], r->n_sets, ref[i], got[i]);
        if (st != MOF_OK)
            return st;
    }
    r->n_sets++;
    return MOF_OK;
}

/* "[0,3]": the multi-index of flat index i in dims (appended to sb). */
static void put_index(mof_strbuf *sb, size_t rank, const int64_t *dims, int64_t i)
{
    if (rank == 0) {
        mof_strbuf_puts(sb, "[]");
        return;
    }
    int64_t *idx = mof_calloc(rank, sizeof(*idx));
    if (!idx) {
        mof_strbuf_printf(sb, "#%" PRId64, i);
        return;
    }
    for (size_t d = rank; d-- > 0;) {
        int64_t n = dims[d] > 0 ? dims[d] : 1;
        idx[d] = i % n;
        i /= n;
    }
    mof_strbuf_puts(sb, "[");
    for (size_t d = 0; d < rank; d++)
        mof_strbuf_printf(sb, "%s%" PRId64, d ? "," : "", idx[d]);
    mof_strbuf_puts(sb, "]");
    free(idx);
}

char *mof_verify_report_summary(const mof_verify_report *r)
{
    if (!r)
        return NULL;
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_puts(&sb, "");
    if (r->n_sets == 0) {
        mof_strbuf_puts(&sb, "nothing was compared");
        return mof_strbuf_take(&sb);
    }
    for (size_t k = 0; k < r->n_outputs; k++) {
        const out_acc *o = &r->outs[k];
        const mof_output_diff *d = &o->d;
        if (d->passed)
            continue;
        if (d->type_mismatch) {
            mof_strbuf_printf(&sb, "output '%s': the element type or shape differs: %s",
                              d->name, o->mismatch ? o->mismatch : "?");
            return mof_strbuf_take(&sb);
        }
        mof_strbuf_printf(&sb, "output '%s': ", d->name);
        if (is_numeric(d->dtype)) {
            mof_strbuf_printf(&sb, "max abs error %.3g at ", d->max_abs);
            put_index(&sb, d->rank, d->dims, d->worst_index);
            mof_strbuf_printf(&sb, " (ref %.7g, got %.7g) is past atol %g + rtol %g * |ref|",
                              d->worst_ref, d->worst_got, r->atol, r->rtol);
        } else {
            mof_strbuf_puts(&sb, "elements differ");
        }
        mof_strbuf_printf(&sb, " in %" PRId64 " of %" PRId64 " elements", d->n_mismatches,
                          d->n_elements);
        if (r->n_sets > 1)
            mof_strbuf_printf(&sb, " (worst in input set %" PRId64 " of %zu)",
                              d->worst_set + 1, r->n_sets);
        if (is_numeric(d->dtype))
            mof_strbuf_printf(&sb, "; max rel error %.3g, cosine %.6f", d->max_rel, d->cosine);
        if (d->top1_rows)
            mof_strbuf_printf(&sb, ", top-1 agreement %" PRId64 "/%" PRId64, d->top1_agree,
                              d->top1_rows);
        return mof_strbuf_take(&sb);
    }
    double max_abs = 0, max_rel = 0, cosine = 1;
    const char *where = NULL;
    for (size_t k = 0; k < r->n_outputs; k++) {
        const mof_output_diff *d = &r->outs[k].d;
        if (!where || d->max_abs > max_abs) {
            max_abs = d->max_abs;
            where = d->name;
        }
        max_rel = fmax(max_rel, d->max_rel);
        cosine = fmin(cosine, d->cosine);
    }
    mof_strbuf_printf(&sb, "%zu output%s within atol %g + rtol %g * |ref| on %zu input "
                      "set%s", r->n_outputs, r->n_outputs == 1 ? "" : "s", r->atol, r->rtol,
                      r->n_sets, r->n_sets == 1 ? "" : "s");
    if (where)
        mof_strbuf_printf(&sb, ": max abs error %.3g (output '%s'), max rel error %.3g, "
                          "min cosine %.6f", max_abs, where, max_rel, cosine);
    return mof_strbuf_take(&sb);
}

static void format_num(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else if (isinf(v))
        snprintf(buf, size, "%sinf", v < 0 ? "-" : "");
    else
        snprintf(buf, size, "%.3g", v);
}

void mof_verify_report_print(const mof_verify_report *r, FILE *out)
{
    if (!r || !out)
        return;
    int wname = 6, wtype = 4;
    char **types = mof_calloc(r->n_outputs ? r->n_outputs : 1, sizeof(*types));
    for (size_t k = 0; k < r->n_outputs; k++) {
        const mof_output_diff *d = &r->outs[k].d;
        mof_strbuf sb;
        mof_strbuf_init(&sb);
        mof_strbuf_printf(&sb, "%s[", mof_dtype_name(d->dtype));
        for (size_t i = 0; i < d->rank; i++)
            mof_strbuf_printf(&sb, "%s%" PRId64, i ? "," : "", d->dims[i]);
        mof_strbuf_puts(&sb, "]");
        char *t = mof_strbuf_take(&sb);
        if (types)
            types[k] = t;
        else
            free(t);
        int l = (int)strlen(d->name);
        wname = l > wname ? l : wname;
        l = types && types[k] ? (int)strlen(types[k]) : 1;
        wtype = l > wtype ? l : wtype;
    }
    fprintf(out, "%-*s  %-*s  %10s  %10s  %10s  %9s  %s\n", wname, "output", wtype, "type",
            "max abs", "max rel", "cosine", "top-1", "result");
    for (size_t k = 0; k < r->n_outputs; k++) {
        const mof_output_diff *d = &r->outs[k].d;
        char abs_s[32], rel_s[32], cos_s[32], top1[48] = "-";
        format_num(abs_s, sizeof(abs_s), d->type_mismatch ? NAN : d->max_abs);
        format_num(rel_s, sizeof(rel_s), d->type_mismatch ? NAN : d->max_rel);
        if (isnan(d->cosine) || d->type_mismatch || !is_numeric(d->dtype))
            snprintf(cos_s, sizeof(cos_s), "-");
        else
            snprintf(cos_s, sizeof(cos_s), "%.6f", d->cosine);
        if (d->top1_rows)
            snprintf(top1, sizeof(top1), "%" PRId64 "/%" PRId64, d->top1_agree, d->top1_rows);
        const char *result = d->type_mismatch ? "TYPE" : d->passed ? "ok" : "FAIL";
        fprintf(out, "%-*s  %-*s  %10s  %10s  %10s  %9s  %s", wname, d->name, wtype,
                types && types[k] ? types[k] : "?", abs_s, rel_s, cos_s, top1, result);
        if (!d->passed && !d->type_mismatch)
            fprintf(out, " (%" PRId64 " of %" PRId64 " elements)", d->n_mismatches,
                    d->n_elements);
        fputc('\n', out);
    }
    for (size_t k = 0; types && k < r->n_outputs; k++)
        free(types[k]);
    free(types);
}

static void json_string(mof_strbuf *sb, const char *s)
{
    mof_strbuf_puts(sb, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            mof_strbuf_printf(sb, "\\%c", *p);
        else if (*p == '\n')
            mof_strbuf_puts(sb, "\\n");
        else if (*p == '\t')
            mof_strbuf_puts(sb, "\\t");
        else if (*p < 0x20)
            mof_strbuf_printf(sb, "\\u%04x", *p);
        else
            mof_strbuf_append(sb, (const char *)p, 1);
    }
    mof_strbuf_puts(sb, "\"");
}

static void json_number(mof_strbuf *sb, double v)
{
    if (isnan(v) || isinf(v)) {
        mof_strbuf_puts(sb, "null");
        return;
    }
    /* The shortest text that reads back as v. */
    char buf[32];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*g", prec, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    mof_strbuf_puts(sb, buf);
}

char *mof_verify_report_json(const mof_verify_report *r)
{
    if (!r)
        return NULL;
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_puts(&sb, "{\"rtol\": ");
    json_number(&sb, r->rtol);
    mof_strbuf_puts(&sb, ", \"atol\": ");
    json_number(&sb, r->atol);
    mof_strbuf_printf(&sb, ", \"input_sets\": %zu, \"passed\": %s, \"outputs\": [", r->n_sets,
                      mof_verify_report_passed(r) ? "true" : "false");
    for (size_t k = 0; k < r->n_outputs; k++) {
        const mof_output_diff *d = &r->outs[k].d;
        mof_strbuf_puts(&sb, k ? ", {\"name\": " : "{\"name\": ");
        json_string(&sb, d->name);
        mof_strbuf_printf(&sb, ", \"dtype\": \"%s\", \"shape\": [", mof_dtype_name(d->dtype));
        for (size_t i = 0; i < d->rank; i++)
            mof_strbuf_printf(&sb, "%s%" PRId64, i ? ", " : "", d->dims[i]);
        mof_strbuf_printf(&sb, "], \"elements\": %" PRId64 ", \"max_abs\": ", d->n_elements);
        json_number(&sb, d->max_abs);
        mof_strbuf_puts(&sb, ", \"max_rel\": ");
        json_number(&sb, d->max_rel);
        mof_strbuf_puts(&sb, ", \"cosine\": ");
        json_number(&sb, d->cosine);
        mof_strbuf_printf(&sb, ", \"mismatches\": %" PRId64 ", \"top1_rows\": %" PRId64
                          ", \"top1_agree\": %" PRId64 ", \"type_mismatch\": %s"
                          ", \"passed\": %s, \"worst\": ", d->n_mismatches, d->top1_rows,
                          d->top1_agree, d->type_mismatch ? "true" : "false",
                          d->passed ? "true" : "false");
        if (d->worst_set < 0) {
            mof_strbuf_puts(&sb, "null");
        } else {
            mof_strbuf_printf(&sb, "{\"set\": %" PRId64 ", \"index\": %" PRId64 ", \"ref\": ",
                              d->worst_set, d->worst_index);
            json_number(&sb, d->worst_ref);
            mof_strbuf_puts(&sb, ", \"got\": ");
            json_number(&sb, d->worst_got);
            mof_strbuf_puts(&sb, "}");
        }
        mof_strbuf_puts(&sb, "}");
    }
    mof_strbuf_puts(&sb, "]}");
    return mof_strbuf_take(&sb);
}

/* ------------------------------------------------------------------ comparing models */

void mof_verify_options_init(mof_verify_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof(*opts));
    opts->size = sizeof(*opts);
    opts->rtol = MOF_VERIFY_DEFAULT_RTOL;
    opts->atol = MOF_VERIFY_DEFAULT_ATOL;
    opts->n_random = MOF_VERIFY_DEFAULT_SETS;
}

/* Runs a model on one input set; reports which model failed. */
static mof_status run_one(mof_context *ctx, mof_interp *it, const char *which, size_t set,
                          size_t n_inputs, mof_tensor *const *inputs, size_t n_outputs,
                          mof_tensor **outputs)
{
    mof_status st = mof_interp_run(it, n_inputs, inputs, n_outputs, outputs);
    if (st != MOF_OK)
        mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "the %s model failed on input set %zu",
                   which, set + 1);
    return st;
}

mof_status mof_verify_models(mof_context *ctx, const mof_model *ref, const mof_model *got,
                             const mof_verify_options *opts, mof_verify_report **report)
{
    if (report)
        *report = NULL;
    if (!ctx || !ref || !got)
        return MOF_ERR_INVALID_ARG;
    mof_verify_options o;
    mof_verify_options_init(&o);
    if (opts) {
        size_t n = opts->size && opts->size < sizeof(o) ? opts->size : sizeof(o);
        memcpy(&o, opts, n);
        o.size = sizeof(o);
    }
    const mof_graph *gr = mof_model_graph(ref), *gg = mof_model_graph(got);
    size_t n_in = mof_graph_n_inputs(gr), n_out = mof_graph_n_outputs(gr);
    if (!(o.rtol >= 0) || !(o.atol >= 0))
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "the tolerances must be non-negative numbers (rtol %g, atol %g)",
                          o.rtol, o.atol);
    if (!o.inputs_dir && o.n_random == 0)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "no input sets to compare on (n_random is 0)");
    if (mof_graph_n_inputs(gg) != n_in || mof_graph_n_outputs(gg) != n_out)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL,
                          "the models do not have the same interface: %zu inputs and %zu "
                          "outputs against %zu and %zu", n_in, n_out, mof_graph_n_inputs(gg),
                          mof_graph_n_outputs(gg));

    mof_status st = MOF_OK;
    mof_interp *ir = NULL, *ig = NULL;
    mof_verify_report *rep = mof_verify_report_create(o.rtol, o.atol);
    mof_tensor **inputs = mof_calloc(n_in ? n_in : 1, sizeof(*inputs));
    mof_tensor **ro = mof_calloc(n_out ? n_out : 1, sizeof(*ro));
    mof_tensor **go = mof_calloc(n_out ? n_out : 1, sizeof(*go));
    const char **names = mof_calloc(n_out ? n_out : 1, sizeof(*names));
    if (!rep || !inputs || !ro || !go || !names) {
        st = mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n_out; i++)
        names[i] = mof_value_name(mof_graph_output(gr, i));
    ir = mof_interp_create(ctx, ref);
    ig = mof_interp_create(ctx, got);
    if (!ir || !ig) {
        st = MOF_ERR_UNSUPPORTED;
        goto out;
    }
    size_t n_sets = o.inputs_dir ? 1 : o.n_random;
    for (size_t k = 0; k < n_sets && st == MOF_OK; k++) {
        st = o.inputs_dir ? mof_load_inputs(ctx, ref, o.inputs_dir, n_in, inputs)
                          : mof_random_inputs(ctx, ref, o.seed + k, n_in, inputs);
        if (st == MOF_OK)
            st = run_one(ctx, ir, "reference", k, n_in, inputs, n_out, ro);
        if (st == MOF_OK)
            st = run_one(ctx, ig, "compared", k, n_in, inputs, n_out, go);
        if (st == MOF_OK) {
            st = mof_verify_report_add(rep, n_out, names, ro, go);
            if (st != MOF_OK)
                mof_report(ctx, MOF_SEVERITY_ERROR, st, NULL, "out of memory");
        }
        mof_tensors_release(n_in, inputs);
        mof_tensors_release(n_out, ro);
        mof_tensors_release(n_out, go);
    }
    if (st == MOF_OK && !mof_verify_report_passed(rep))
        st = MOF_ERR_VERIFY;
    if ((st == MOF_OK || st == MOF_ERR_VERIFY) && report) {
        *report = rep;
        rep = NULL;
    }

out:
    mof_interp_destroy(ir);
    mof_interp_destroy(ig);
    mof_verify_report_destroy(rep);
    free(inputs);
    free(ro);
    free(go);
    free(names);
    return st;
}
