/* util.c: allocation, strings, growable arrays and a name map used inside libmof. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void mof_internal_error(const char *file, int line, const char *what)
{
    fprintf(stderr, "mof: internal error at %s:%d: %s\n"
                    "mof: this is a bug in mof or in a loaded plugin; please report it\n",
            file, line, what);
    abort();
}

void *mof_malloc(size_t size)
{
    return malloc(size ? size : 1);
}

void *mof_calloc(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

void *mof_reallocarray(void *p, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    size_t bytes = n * size;
    return realloc(p, bytes ? bytes : 1);
}

char *mof_strdup(const char *s)
{
    return s ? mof_strndup(s, strlen(s)) : NULL;
}

char *mof_strndup(const char *s, size_t n)
{
    char *r = malloc(n + 1);
    if (!r)
        return NULL;
    memcpy(r, s, n);
    r[n] = '\0';
    return r;
}

char *mof_vasprintf(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *r = malloc((size_t)n + 1);
    if (r)
        vsnprintf(r, (size_t)n + 1, fmt, ap);
    return r;
}

char *mof_asprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *r = mof_vasprintf(fmt, ap);
    va_end(ap);
    return r;
}

bool mof_str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

bool mof_grow(void **items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return false;
        ncap *= 2;
    }
    void *p = mof_reallocarray(*items, ncap, size);
    if (!p)
        return false;
    *items = p;
    *cap = ncap;
    return true;
}

void mof_strbuf_init(mof_strbuf *sb)
{
    memset(sb, 0, sizeof(*sb));
}

void mof_strbuf_append(mof_strbuf *sb, const char *s, size_t n)
{
    if (sb->failed)
        return;
    if (!mof_grow((void **)&sb->data, &sb->cap, sb->len + n + 1, 1)) {
        sb->failed = true;
        return;
    }
    memcpy(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void mof_strbuf_puts(mof_strbuf *sb, const char *s)
{
    mof_strbuf_append(sb, s, strlen(s));
}

void mof_strbuf_printf(mof_strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = mof_vasprintf(fmt, ap);
    va_end(ap);
    if (!s) {
        sb->failed = true;
        return;
    }
    mof_strbuf_puts(sb, s);
    free(s);
}

char *mof_strbuf_take(mof_strbuf *sb)
{
    if (sb->failed) {
        mof_strbuf_free(sb);
        return NULL;
    }
    char *r = sb->data ? sb->data : mof_strdup("");
    mof_strbuf_init(sb);
    return r;
}

void mof_strbuf_free(mof_strbuf *sb)
{
    free(sb->data);
    mof_strbuf_init(sb);
}

/* Open addressing with linear probing; a NULL key is empty, TOMB a removed entry. */
struct mof_map_slot {
    const char *key;
    void *value;
};
static const char TOMB[1];

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ull;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void mof_map_init(mof_map *m)
{
    memset(m, 0, sizeof(*m));
}

void mof_map_free(mof_map *m)
{
    free(m->slots);
    mof_map_init(m);
}

static struct mof_map_slot *map_find(const mof_map *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = hash_str(key) & mask;; i = (i + 1) & mask) {
        struct mof_map_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->key != TOMB && strcmp(s->key, key) == 0)
            return s;
    }
}

void *mof_map_get(const mof_map *m, const char *key)
{
    struct mof_map_slot *s = map_find(m, key);
    return s ? s->value : NULL;
}

static bool map_rehash(mof_map *m, size_t ncap)
{
    struct mof_map_slot *old = m->slots;
    size_t ocap = m->cap;
    m->slots = calloc(ncap, sizeof(*m->slots));
    if (!m->slots) {
        m->slots = old;
        return false;
    }
    m->cap = ncap;
    m->count = 0;
    m->tombs = 0;
    for (size_t i = 0; i < ocap; i++) {
        if (old[i].key && old[i].key != TOMB) {
            size_t j = hash_str(old[i].key) & (ncap - 1);
            while (m->slots[j].key)
                j = (j + 1) & (ncap - 1);
            m->slots[j] = old[i];
            m->count++;
        }
    }
    free(old);
    return true;
}

bool mof_map_put(mof_map *m, const char *key, void *value)
{
    struct mof_map_slot *s = map_find(m, key);
    if (s) {
        s->key = key;
        s->value = value;
        return true;
    }
    if ((m->count + m->tombs + 1) * 4 > m->cap * 3) {
        /* Grow until at most half full; a table clogged by removals is rebuilt at
         * the same size. */
        size_t ncap = m->cap ? m->cap : 16;
        while ((m->count + 1) * 2 > ncap)
            ncap *= 2;
        if (!map_rehash(m, ncap))
            return false;
    }
    size_t mask = m->cap - 1;
    size_t i = hash_str(key) & mask;
    while (m->slots[i].key && m->slots[i].key != TOMB)
        i = (i + 1) & mask;
    if (m->slots[i].key == TOMB)
        m->tombs--;
    m->slots[i].key = key;
    m->slots[i].value = value;
    m->count++;
    return true;
}

void mof_map_remove(mof_map *m, const char *key)
{
    struct mof_map_slot *s = map_find(m, key);
    if (s) {
        s->key = TOMB;
        s->value = NULL;
        m->count--;
        m->tombs++;
    }
}

size_t mof_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if ((la > lb ? la - lb : lb - la) >= cap)
        return cap;
    size_t *row = malloc((lb + 1) * sizeof(*row));
    if (!row)
        return cap;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d < cap ? d : cap;
}
