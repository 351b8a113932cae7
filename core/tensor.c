/* tensor.c: reference-counted tensors. Data is owned (malloc) or borrowed from a
 * memory-mapped external-data file; a tensor that is shared is never written. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ir_private.h"

void mof_blob_free(mof_blob *b)
{
    free(b->data);
    b->data = NULL;
    b->size = 0;
}

bool mof_blob_copy(mof_blob *dst, const mof_blob *src)
{
    dst->data = NULL;
    dst->size = 0;
    if (!src->size)
        return true;
    dst->data = mof_malloc(src->size);
    if (!dst->data)
        return false;
    memcpy(dst->data, src->data, src->size);
    dst->size = src->size;
    return true;
}

void mof_mapping_unref(mof_mapping *m)
{
    if (!m || --m->refcount > 0)
        return;
    if (m->addr && m->length)
        munmap(m->addr, m->length);
    free(m);
}

int64_t mof_dims_numel(size_t rank, const int64_t *dims)
{
    int64_t n = 1;
    for (size_t i = 0; i < rank; i++) {
        if (dims[i] < 0)
            return -1;
        if (dims[i] && n > INT64_MAX / dims[i])
            return -1;
        n *= dims[i];
    }
    return n;
}

static size_t elem_size(mof_dtype dtype)
{
    return dtype == MOF_DTYPE_STRING ? sizeof(mof_string) : mof_dtype_size(dtype);
}

/* A tensor header with copied dims and computed sizes; data is left NULL. */
static mof_tensor *tensor_head(mof_dtype dtype, size_t rank, const int64_t *dims)
{
    size_t esize = elem_size(dtype);
    int64_t numel = mof_dims_numel(rank, dims);
    if (!esize || numel < 0 || (uint64_t)numel > SIZE_MAX / esize)
        return NULL;
    mof_tensor *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->dims = mof_malloc(rank * sizeof(int64_t));
    if (!t->dims) {
        free(t);
        return NULL;
    }
    if (rank)
        memcpy(t->dims, dims, rank * sizeof(int64_t));
    t->refcount = 1;
    t->dtype = dtype;
    t->rank = rank;
    t->numel = numel;
    t->nbytes = (size_t)numel * esize;
    return t;
}

mof_tensor *mof_tensor_create(mof_dtype dtype, size_t rank, const int64_t *dims)
{
    mof_tensor *t = tensor_head(dtype, rank, dims);
    if (!t)
        return NULL;
    /* calloc zero-fills numbers and leaves strings empty ({0, NULL}). */
    t->data = mof_calloc(1, t->nbytes);
    if (!t->data) {
        mof_tensor_unref(t);
        return NULL;
    }
    return t;
}

mof_tensor *mof_tensor_create_from(mof_dtype dtype, size_t rank, const int64_t *dims,
                                   const void *data)
{
    if (dtype == MOF_DTYPE_STRING)
        return NULL;
    mof_tensor *t = mof_tensor_create(dtype, rank, dims);
    if (t && t->nbytes)
        memcpy(t->data, data, t->nbytes);
    return t;
}

mof_tensor *mof_tensor_wrap(mof_dtype dtype, size_t rank, const int64_t *dims, void *data,
                            size_t nbytes, mof_mapping *mapping)
{
    mof_tensor *t = tensor_head(dtype, rank, dims);
    if (!t || t->nbytes != nbytes) {
        if (t) {
            free(t->dims);
            free(t);
        }
        return NULL;
    }
    t->data = data;
    if (mapping) {
        mapping->refcount++;
        t->mapping = mapping;
    }
    return t;
}

mof_tensor *mof_tensor_ref(mof_tensor *t)
{
    if (t)
        t->refcount++;
    return t;
}

void mof_tensor_proto_free(mof_tensor_proto *p)
{
    if (!p)
        return;
    free(p->name);
    free(p->doc_string);
    for (size_t i = 0; i < p->n_external; i++) {
        free(p->external[i].key);
        free(p->external[i].value);
    }
    free(p->external);
    mof_blob_free(&p->extra);
    free(p);
}

mof_tensor_proto *mof_tensor_proto_dup(const mof_tensor_proto *p)
{
    if (!p)
        return NULL;
    mof_tensor_proto *q = calloc(1, sizeof(*q));
    if (!q)
        return NULL;
    *q = *p;
    q->name = NULL;
    q->doc_string = NULL;
    q->external = NULL;
    q->n_external = 0;
    q->extra = (mof_blob){0};
    if ((p->name && !(q->name = mof_strdup(p->name))) ||
        (p->doc_string && !(q->doc_string = mof_strdup(p->doc_string))) ||
        !mof_blob_copy(&q->extra, &p->extra))
        goto fail;
    if (p->n_external) {
        q->external = calloc(p->n_external, sizeof(*q->external));
        if (!q->external)
            goto fail;
        q->n_external = p->n_external;
        for (size_t i = 0; i < p->n_external; i++) {
            const mof_kv *kv = &p->external[i];
            if ((kv->key && !(q->external[i].key = mof_strdup(kv->key))) ||
                (kv->value && !(q->external[i].value = mof_strdup(kv->value))))
                goto fail;
        }
    }
    return q;
fail:
    mof_tensor_proto_free(q);
    return NULL;
}

void mof_tensor_unref(mof_tensor *t)
{
    if (!t || --t->refcount > 0)
        return;
    if (t->mapping) {
        mof_mapping_unref(t->mapping);
    } else {
        if (t->dtype == MOF_DTYPE_STRING && t->data) {
            mof_string *s = t->data;
            for (int64_t i = 0; i < t->numel; i++)
                free(s[i].data);
        }
        free(t->data);
    }
    mof_tensor_proto_free(t->proto);
    free(t->dims);
    free(t);
}

mof_dtype mof_tensor_dtype(const mof_tensor *t) { return t->dtype; }
size_t mof_tensor_rank(const mof_tensor *t) { return t->rank; }
const int64_t *mof_tensor_dims(const mof_tensor *t) { return t->dims; }
int64_t mof_tensor_numel(const mof_tensor *t) { return t->numel; }
size_t mof_tensor_nbytes(const mof_tensor *t) { return t->nbytes; }
const void *mof_tensor_data(const mof_tensor *t) { return t->data; }
bool mof_tensor_is_external(const mof_tensor *t) { return t->mapping != NULL; }

void *mof_tensor_data_mut(mof_tensor *t)
{
    return t->refcount == 1 && !t->mapping ? t->data : NULL;
}

mof_tensor *mof_tensor_dup(const mof_tensor *t)
{
    mof_tensor *c = mof_tensor_create(t->dtype, t->rank, t->dims);
    if (!c)
        return NULL;
    if (t->dtype == MOF_DTYPE_STRING) {
        const mof_string *src = t->data;
        mof_string *dst = c->data;
        for (int64_t i = 0; i < t->numel; i++) {
            dst[i].data = mof_malloc(src[i].size);
            if (!dst[i].data) {
                mof_tensor_unref(c);
                return NULL;
            }
            if (src[i].size)
                memcpy(dst[i].data, src[i].data, src[i].size);
            dst[i].size = src[i].size;
        }
    } else if (t->nbytes) {
        memcpy(c->data, t->data, t->nbytes);
    }
    if (t->proto && !(c->proto = mof_tensor_proto_dup(t->proto))) {
        mof_tensor_unref(c);
        return NULL;
    }
    /* The copy's data is owned and in memory: it is no longer stored externally. */
    if (c->proto && c->proto->store == MOF_STORE_EXTERNAL) {
        for (size_t i = 0; i < c->proto->n_external; i++) {
            free(c->proto->external[i].key);
            free(c->proto->external[i].value);
        }
        free(c->proto->external);
        c->proto->external = NULL;
        c->proto->n_external = 0;
        c->proto->has_data_location = false;
        c->proto->store = MOF_STORE_RAW;
    }
    return c;
}

bool mof_tensor_equal(const mof_tensor *a, const mof_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank ||
        (a->rank && memcmp(a->dims, b->dims, a->rank * sizeof(int64_t)) != 0))
        return false;
    if (a->dtype != MOF_DTYPE_STRING)
        return a->nbytes == 0 || memcmp(a->data, b->data, a->nbytes) == 0;
    const mof_string *x = a->data, *y = b->data;
    for (int64_t i = 0; i < a->numel; i++) {
        if (x[i].size != y[i].size || (x[i].size && memcmp(x[i].data, y[i].data, x[i].size)))
            return false;
    }
    return true;
}
