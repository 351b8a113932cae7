/* tensor_file.c: tensor files: ONNX TensorProto (.pb, the format of ONNX's backend
 * test data) and NumPy arrays (.npy). */
#define _POSIX_C_SOURCE 200809L
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mof/io.h>

#include "ir_private.h"
#include "onnx_private.h"

/* ------------------------------------------------------------------ file helpers */

/* Reads a whole file into a malloc'ed buffer. */
static mof_status read_file(mof_context *ctx, const char *path, uint8_t **data, size_t *size)
{
    mof_location loc = {.file = path};
    FILE *f = fopen(path, "rb");
    if (!f)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "cannot open: %s",
                          strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "not a regular file");
    }
    uint8_t *buf = mof_malloc((size_t)st.st_size);
    if (!buf) {
        fclose(f);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, &loc, "out of memory");
    }
    size_t got = fread(buf, 1, (size_t)st.st_size, f);
    int err = ferror(f);
    fclose(f);
    if (err || got != (size_t)st.st_size) {
        free(buf);
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "read error");
    }
    *data = buf;
    *size = got;
    return MOF_OK;
}

static bool has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* ------------------------------------------------------------------ .npy */

/* NumPy descr strings of the element types mof maps. */
static const struct {
    const char *descr;
    mof_dtype dtype;
} npy_types[] = {
    {"<f4", MOF_DTYPE_FLOAT},   {"<f8", MOF_DTYPE_DOUBLE}, {"<f2", MOF_DTYPE_FLOAT16},
    {"|i1", MOF_DTYPE_INT8},    {"|u1", MOF_DTYPE_UINT8},  {"<i2", MOF_DTYPE_INT16},
    {"<u2", MOF_DTYPE_UINT16},  {"<i4", MOF_DTYPE_INT32},  {"<u4", MOF_DTYPE_UINT32},
    {"<i8", MOF_DTYPE_INT64},   {"<u8", MOF_DTYPE_UINT64}, {"|b1", MOF_DTYPE_BOOL},
    {"<c8", MOF_DTYPE_COMPLEX64}, {"<c16", MOF_DTYPE_COMPLEX128},
};

/* Finds `'key':` in the header dict and returns a pointer just past the colon. */
static const char *npy_field(const char *hdr, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof(pat), "'%s'", key);
    const char *p = strstr(hdr, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (isspace((unsigned char)*p))
        p++;
    return *p == ':' ? p + 1 : NULL;
}

static mof_tensor *npy_parse(mof_context *ctx, const char *path, const uint8_t *buf, size_t size)
{
    mof_location loc = {.file = path};
    const char *why = NULL;
    if (size < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) {
        why = "not a NumPy .npy file (bad magic)";
        goto bad;
    }
    unsigned major = buf[6];
    size_t hlen, hstart;
    if (major == 1) {
        hlen = buf[8] | (size_t)buf[9] << 8;
        hstart = 10;
    } else if ((major == 2 || major == 3) && size >= 12) {
        hlen = buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        hstart = 12;
    } else {
        why = "unsupported .npy version";
        goto bad;
    }
    if (hlen > size - hstart) {
        why = "truncated header";
        goto bad;
    }
    char *hdr = mof_strndup((const char *)buf + hstart, hlen);
    if (!hdr) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, &loc, "out of memory");
        return NULL;
    }
    mof_dtype dtype = MOF_DTYPE_UNDEFINED;
    int64_t dims[64];
    size_t rank = 0;
    const char *p = npy_field(hdr, "descr");
    while (p && isspace((unsigned char)*p))
        p++;
    if (p && *p == '\'') {
        for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++) {
            size_t n = strlen(npy_types[i].descr);
            if (strncmp(p + 1, npy_types[i].descr, n) == 0 && p[1 + n] == '\'')
                dtype = npy_types[i].dtype;
        }
    }
    const char *fo = npy_field(hdr, "fortran_order");
    while (fo && isspace((unsigned char)*fo))
        fo++;
    const char *sh = npy_field(hdr, "shape");
    while (sh && isspace((unsigned char)*sh))
        sh++;
    if (dtype == MOF_DTYPE_UNDEFINED)
        why = "unsupported or missing element type (descr)";
    else if (!fo || strncmp(fo, "False", 5) != 0)
        why = "Fortran-ordered arrays are not supported";
    else if (!sh || *sh != '(')
        why = "missing shape";
    for (const char *q = sh ? sh + 1 : NULL; !why && q && *q != ')';) {
        while (isspace((unsigned char)*q) || *q == ',')
            q++;
        if (*q == ')')
            break;
        char *end;
        errno = 0;
        long long d = strtoll(q, &end, 10);
        if (end == q || errno || d < 0 || rank == sizeof(dims) / sizeof(dims[0]))
            why = "malformed shape";
        else
            dims[rank++] = d;
        q = end;
    }
    free(hdr);
    if (why)
        goto bad;
    mof_tensor *t = mof_tensor_create(dtype, rank, dims);
    if (!t) {
        why = "tensor too large";
        goto bad;
    }
    if (mof_tensor_nbytes(t) != size - hstart - hlen) {
        mof_tensor_unref(t);
        why = "data size does not match the shape";
        goto bad;
    }
    if (mof_tensor_nbytes(t))
        memcpy(mof_tensor_data_mut(t), buf + hstart + hlen, mof_tensor_nbytes(t));
    return t;
bad:
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_PARSE, &loc, "%s", why);
    return NULL;
}

static mof_status npy_write(mof_context *ctx, const mof_tensor *t, FILE *f, const char *path)
{
    const char *descr = NULL;
    for (size_t i = 0; i < sizeof(npy_types) / sizeof(npy_types[0]); i++) {
        if (npy_types[i].dtype == mof_tensor_dtype(t))
            descr = npy_types[i].descr;
    }
    if (!descr)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_UNSUPPORTED,
                          &(mof_location){.file = path}, "%s tensors cannot be written as .npy",
                          mof_dtype_name(mof_tensor_dtype(t)));
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    mof_strbuf_printf(&sb, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr);
    for (size_t i = 0; i < mof_tensor_rank(t); i++)
        mof_strbuf_printf(&sb, "%lld,%s", (long long)mof_tensor_dims(t)[i],
                          i + 1 < mof_tensor_rank(t) ? " " : "");
    mof_strbuf_puts(&sb, "), }");
    /* Pad with spaces so that magic + header is a multiple of 64 bytes, then '\n'. */
    while ((10 + sb.len + 1) % 64)
        mof_strbuf_puts(&sb, " ");
    mof_strbuf_puts(&sb, "\n");
    char *hdr = mof_strbuf_take(&sb);
    if (!hdr)
        return MOF_ERR_NOMEM;
    size_t hlen = strlen(hdr);
    uint8_t pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(hlen & 0xff),
                       (uint8_t)(hlen >> 8)};
    bool ok = fwrite(pre, 1, sizeof(pre), f) == sizeof(pre) && fwrite(hdr, 1, hlen, f) == hlen &&
              fwrite(mof_tensor_data(t), 1, mof_tensor_nbytes(t), f) == mof_tensor_nbytes(t);
    free(hdr);
    return ok ? MOF_OK
              : mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &(mof_location){.file = path},
                           "write error: %s", strerror(errno));
}

/* ------------------------------------------------------------------ public */

mof_tensor *mof_tensor_load(mof_context *ctx, const char *path, char **name)
{
    if (name)
        *name = NULL;
    uint8_t *buf = NULL;
    size_t size = 0;
    if (read_file(ctx, path, &buf, &size) < 0)
        return NULL;
    mof_tensor *t;
    if (has_suffix(path, ".npy") || (size >= 6 && memcmp(buf, "\x93NUMPY", 6) == 0))
        t = npy_parse(ctx, path, buf, size);
    else
        t = mof_onnx_tensor_from_buffer(ctx, path, buf, size, name);
    free(buf);
    return t;
}

mof_status mof_tensor_save(mof_context *ctx, const mof_tensor *t, const char *name,
                           const char *path)
{
    mof_output *o = mof_output_open_file(ctx, path);
    if (!o)
        return MOF_ERR_IO;
    mof_status st;
    if (has_suffix(path, ".npy"))
        st = npy_write(ctx, t, mof_output_file(o), path);
    else
        st = mof_onnx_tensor_write(ctx, t, name, mof_output_file(o), path);
    if (st < 0) {
        mof_output_abort(o);
        return st;
    }
    return mof_output_commit(o);
}
