/* mofrt_tensorio.c: .pb (TensorProto) and .npy tensor files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mofrt_tensorio.h"

static size_t mofrt_dtype_size(int dtype)
{
    switch (dtype) {
    case 1: case 6: case 12: return 4;
    case 2: case 3: case 9: return 1;
    case 4: case 5: case 10: case 16: return 2;
    case 7: case 11: case 13: return 8;
    default: return 0;
    }
}

static const char *mofrt_npy_descr(int dtype)
{
    switch (dtype) {
    case 1: return "<f4";
    case 2: return "|u1";
    case 3: return "|i1";
    case 5: return "<i2";
    case 6: return "<i4";
    case 7: return "<i8";
    case 9: return "|b1";
    case 10: return "<f2";
    case 11: return "<f8";
    default: return NULL;
    }
}

int mofrt_file_exists(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f)
        fclose(f);
    return f != NULL;
}

static unsigned char *mofrt_slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    unsigned char *d = NULL;
    long n;
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return NULL;
    }
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        d = (unsigned char *)malloc((size_t)n + 1);
        if (d && fread(d, 1, (size_t)n, f) != (size_t)n) {
            free(d);
            d = NULL;
        }
        *size = (size_t)n;
    }
    fclose(f);
    if (!d)
        fprintf(stderr, "%s: cannot read\n", path);
    return d;
}

static int mofrt_varint(const unsigned char *p, size_t n, size_t *i, uint64_t *v)
{
    int shift = 0;
    *v = 0;
    while (*i < n && shift < 64) {
        unsigned char b = p[(*i)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
        shift += 7;
    }
    return -1;
}

static int mofrt_check_shape(const char *path, int rank, const int64_t *dims, int frank,
                             const int64_t *fdims)
{
    int i, ok = rank == frank;
    for (i = 0; ok && i < rank; i++)
        ok = dims[i] == fdims[i];
    if (!ok) {
        fprintf(stderr, "%s: shape [", path);
        for (i = 0; i < frank; i++)
            fprintf(stderr, "%s%lld", i ? "," : "", (long long)fdims[i]);
        fprintf(stderr, "] differs from the model's [");
        for (i = 0; i < rank; i++)
            fprintf(stderr, "%s%lld", i ? "," : "", (long long)dims[i]);
        fprintf(stderr, "]\n");
    }
    return ok ? 0 : -1;
}

static int mofrt_read_pb(const char *path, const unsigned char *p, size_t n, int dtype, int rank,
                         const int64_t *dims, unsigned char *buf, size_t nbytes)
{
    size_t i = 0, esize = mofrt_dtype_size(dtype), filled = 0;
    int64_t fdims[8];
    int frank = 0, ftype = 0;
    while (i < n) {
        uint64_t key, v;
        if (mofrt_varint(p, n, &i, &key))
            goto bad;
        unsigned field = (unsigned)(key >> 3), wt = (unsigned)(key & 7);
        if (wt == 0) {
            if (mofrt_varint(p, n, &i, &v))
                goto bad;
            if (field == 1 && frank < 8)
                fdims[frank++] = (int64_t)v;
            else if (field == 2)
                ftype = (int)v;
            else if ((field == 5 || field == 7 || field == 11) && filled + esize <= nbytes) {
                memcpy(buf + filled, &v, esize); /* little-endian: low bytes first */
                filled += esize;
            }
        } else if (wt == 2) {
            size_t end;
            if (mofrt_varint(p, n, &i, &v) || v > n - i)
                goto bad;
            end = i + (size_t)v;
            if (field == 1) {
                while (i < end && frank < 8) {
                    if (mofrt_varint(p, end, &i, &v))
                        goto bad;
                    fdims[frank++] = (int64_t)v;
                }
            } else if (field == 9 || field == 4 || field == 10) {
                size_t len = end - i;
                if (filled + len > nbytes)
                    goto bad;
                memcpy(buf + filled, p + i, len);
                filled += len;
            } else if (field == 5 || field == 7 || field == 11) {
                while (i < end) {
                    if (mofrt_varint(p, end, &i, &v))
                        goto bad;
                    if (filled + esize > nbytes)
                        goto bad;
                    memcpy(buf + filled, &v, esize);
                    filled += esize;
                }
            }
            i = end;
        } else if (wt == 5) {
            if (i + 4 > n)
                goto bad;
            if (field == 4 && filled + 4 <= nbytes) {
                memcpy(buf + filled, p + i, 4);
                filled += 4;
            }
            i += 4;
        } else if (wt == 1) {
            if (i + 8 > n)
                goto bad;
            if (field == 10 && filled + 8 <= nbytes) {
                memcpy(buf + filled, p + i, 8);
                filled += 8;
            }
            i += 8;
        } else {
            goto bad;
        }
    }
    if (ftype != dtype) {
        fprintf(stderr, "%s: element type %d, the model wants %d\n", path, ftype, dtype);
        return -1;
    }
    if (mofrt_check_shape(path, rank, dims, frank, fdims))
        return -1;
    if (filled != nbytes) {
        fprintf(stderr, "%s: %zu bytes of data, %zu expected\n", path, filled, nbytes);
        return -1;
    }
    return 0;
bad:
    fprintf(stderr, "%s: not a valid TensorProto\n", path);
    return -1;
}

static int mofrt_read_npy(const char *path, const unsigned char *p, size_t n, int dtype, int rank,
                          const int64_t *dims, unsigned char *buf, size_t nbytes)
{
    size_t hlen, off;
    int64_t fdims[8];
    int frank = 0;
    const char *descr = mofrt_npy_descr(dtype), *h, *s;
    char header[4096];
    if (n < 10 || memcmp(p, "\x93NUMPY", 6) != 0)
        goto bad;
    if (p[6] == 1) {
        hlen = (size_t)p[8] | ((size_t)p[9] << 8);
        off = 10;
    } else {
        if (n < 12)
            goto bad;
        hlen = (size_t)p[8] | ((size_t)p[9] << 8) | ((size_t)p[10] << 16) | ((size_t)p[11] << 24);
        off = 12;
    }
    if (hlen >= sizeof header || off + hlen > n)
        goto bad;
    memcpy(header, p + off, hlen);
    header[hlen] = '\0';
    h = header;
    if (!descr || !strstr(h, descr) || strstr(h, "'fortran_order': True")) {
        fprintf(stderr, "%s: element type or order differs from the model's (%s, C order)\n",
                path, descr ? descr : "?");
        return -1;
    }
    s = strstr(h, "'shape': (");
    if (!s)
        goto bad;
    s += 10;
    while (*s && *s != ')' && frank < 8) {
        char *end;
        long long v = strtoll(s, &end, 10);
        if (end == s)
            break;
        fdims[frank++] = v;
        s = end;
        while (*s == ',' || *s == ' ')
            s++;
    }
    if (mofrt_check_shape(path, rank, dims, frank, fdims))
        return -1;
    if (n - off - hlen != nbytes) {
        fprintf(stderr, "%s: %zu bytes of data, %zu expected\n", path, n - off - hlen, nbytes);
        return -1;
    }
    memcpy(buf, p + off + hlen, nbytes);
    return 0;
bad:
    fprintf(stderr, "%s: not a valid .npy file\n", path);
    return -1;
}

int mofrt_tensor_read(const char *path, int dtype, int rank, const int64_t *dims, void *buf,
                      size_t nbytes)
{
    size_t n = 0, l = strlen(path);
    unsigned char *p = mofrt_slurp(path, &n);
    int rc;
    if (!p)
        return -1;
    if (l > 4 && strcmp(path + l - 4, ".npy") == 0)
        rc = mofrt_read_npy(path, p, n, dtype, rank, dims, (unsigned char *)buf, nbytes);
    else
        rc = mofrt_read_pb(path, p, n, dtype, rank, dims, (unsigned char *)buf, nbytes);
    free(p);
    return rc;
}

static void mofrt_put_varint(FILE *f, uint64_t v)
{
    while (v >= 0x80) {
        fputc((int)(v & 0x7f) | 0x80, f);
        v >>= 7;
    }
    fputc((int)v, f);
}

int mofrt_tensor_write(const char *path, const char *name, int dtype, int rank,
                       const int64_t *dims, const void *buf, size_t nbytes)
{
    size_t l = strlen(path);
    int i, ok;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: cannot create\n", path);
        return -1;
    }
    if (l > 4 && strcmp(path + l - 4, ".npy") == 0) {
        char header[512];
        int hl = snprintf(header, sizeof header, "{'descr': '%s', 'fortran_order': False, "
                          "'shape': (", mofrt_npy_descr(dtype) ? mofrt_npy_descr(dtype) : "|u1");
        for (i = 0; i < rank; i++)
            hl += snprintf(header + hl, sizeof header - (size_t)hl, "%lld,%s",
                           (long long)dims[i], i + 1 < rank ? " " : "");
        hl += snprintf(header + hl, sizeof header - (size_t)hl, "), }");
        while ((10 + hl + 1) % 64)
            header[hl++] = ' ';
        header[hl++] = '\n';
        fwrite("\x93NUMPY\x01\x00", 1, 8, f);
        fputc(hl & 0xff, f);
        fputc((hl >> 8) & 0xff, f);
        fwrite(header, 1, (size_t)hl, f);
    } else {
        for (i = 0; i < rank; i++) {
            fputc(1 << 3, f);
            mofrt_put_varint(f, (uint64_t)dims[i]);
        }
        fputc(2 << 3, f);
        mofrt_put_varint(f, (uint64_t)dtype);
        if (name) {
            fputc((8 << 3) | 2, f);
            mofrt_put_varint(f, strlen(name));
            fwrite(name, 1, strlen(name), f);
        }
        fputc((9 << 3) | 2, f);
        mofrt_put_varint(f, nbytes);
    }
    ok = fwrite(buf, 1, nbytes, f) == nbytes;
    ok = (fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "%s: cannot write\n", path);
    return ok ? 0 : -1;
}

void mofrt_tensor_random(void *buf, int dtype, size_t n, unsigned long seed)
{
    uint64_t s = 0x9E3779B97F4A7C15ull * (seed + 1);
    size_t i;
    for (i = 0; i < n; i++) {
        uint64_t r;
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        r = s >> 40; /* 24 bits */
        switch (dtype) {
        case 1: ((float *)buf)[i] = (float)r / 8388608.0f - 1.0f; break;
        case 11: ((double *)buf)[i] = (double)r / 8388608.0 - 1.0; break;
        case 7: ((int64_t *)buf)[i] = (int64_t)(r % 10); break;
        case 6: ((int32_t *)buf)[i] = (int32_t)(r % 10); break;
        case 9: ((unsigned char *)buf)[i] = (unsigned char)(r & 1); break;
        default: ((unsigned char *)buf)[i] = (unsigned char)(r % 10); break;
        }
    }
}
