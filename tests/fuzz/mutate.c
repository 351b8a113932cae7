/* mutate.c: the mutation engine (see mutate.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mutate.h"

/* ------------------------------------------------------------------ random numbers */

void mof_fuzz_rng_seed(mof_fuzz_rng *r, uint64_t seed)
{
    r->state = seed ? seed : 0x9E3779B97F4A7C15ull;
}

uint64_t mof_fuzz_rand(mof_fuzz_rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

size_t mof_fuzz_below(mof_fuzz_rng *r, size_t n)
{
    return n ? (size_t)(mof_fuzz_rand(r) % n) : 0;
}

/* ------------------------------------------------------------------ dictionaries */

static int hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool mof_fuzz_dict_load(mof_fuzz_dict *d, const char *path)
{
    memset(d, 0, sizeof(*d));
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[4096];
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        const char *q = strchr(line, '"');
        const char *s = line;
        while (*s == ' ' || *s == '\t')
            s++;
        if (!q || *s == '#')
            continue;
        const char *end = strrchr(line, '"');
        if (end == q)
            continue;
        uint8_t *tok = malloc((size_t)(end - q));
        if (!tok) {
            ok = false;
            break;
        }
        size_t n = 0;
        for (const char *c = q + 1; c < end; c++) {
            if (*c == '\\' && c + 1 < end) {
                c++;
                if (*c == 'x' && c + 2 < end && hex_digit(c[1]) >= 0 && hex_digit(c[2]) >= 0) {
                    tok[n++] = (uint8_t)(hex_digit(c[1]) * 16 + hex_digit(c[2]));
                    c += 2;
                    continue;
                }
            }
            tok[n++] = (uint8_t)*c;
        }
        uint8_t **nt = realloc(d->tokens, (d->n + 1) * sizeof(*nt));
        size_t *nl = nt ? realloc(d->lens, (d->n + 1) * sizeof(*nl)) : NULL;
        if (nt)
            d->tokens = nt;
        if (!nt || !nl) {
            free(tok);
            ok = false;
            break;
        }
        d->lens = nl;
        d->tokens[d->n] = tok;
        d->lens[d->n] = n;
        d->n++;
    }
    fclose(f);
    if (!ok)
        mof_fuzz_dict_free(d);
    return ok;
}

void mof_fuzz_dict_free(mof_fuzz_dict *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->tokens[i]);
    free(d->tokens);
    free(d->lens);
    memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------ byte mutations */

static const uint64_t interesting[] = {
    0, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, 127, 128, 129, 255, 256,
    511, 512, 1000, 1024, 4096, 32767, 32768, 65535, 65536, 100000, 0x7FFFFFFFull,
    0x80000000ull, 0xFFFFFFFEull, 0xFFFFFFFFull, 0x100000000ull, 1ull << 53, 1ull << 62,
    0x7FFFFFFFFFFFFFFFull, 0x8000000000000000ull, 0xFFFFFFFFFFFFFFFEull,
    0xFFFFFFFFFFFFFFFFull,
};
#define N_INTERESTING (sizeof(interesting) / sizeof(interesting[0]))

static const char *const decimals[] = {
    "0", "-0", "1", "-1", "2", "3", "4", "7", "8", "16", "64", "255", "256", "1000",
    "65535", "65536", "2147483647", "2147483648", "-2147483648", "-2147483649",
    "4294967295", "4294967296", "9223372036854775807", "9223372036854775808",
    "-9223372036854775808", "-9223372036854775809", "18446744073709551616",
    "99999999999999999999999999999", "0.5", "-0.0", "1e-45", "1e-400", "1e38",
    "3.4028236e38", "1e308", "1e309", "-1e309", "nan", "inf", "-inf", "0x10", "1e",
    "1.", ".5", "+1", "00000000000000000001", "",
};
#define N_DECIMALS (sizeof(decimals) / sizeof(decimals[0]))

/* Inserts n bytes at pos (they are left as they were: the caller fills them). */
static size_t make_room(uint8_t *data, size_t size, size_t max_size, size_t pos, size_t *n)
{
    if (*n > max_size - size)
        *n = max_size - size;
    memmove(data + pos + *n, data + pos, size - pos);
    return size + *n;
}

static size_t delete_range(uint8_t *data, size_t size, size_t pos, size_t n)
{
    if (n > size - pos)
        n = size - pos;
    memmove(data + pos, data + pos + n, size - pos - n);
    return size - n;
}

/* Writes src over or into data at a random place. */
static size_t put_bytes(mof_fuzz_rng *r, uint8_t *data, size_t size, size_t max_size,
                        const uint8_t *src, size_t n, bool insert)
{
    if (n > max_size)
        n = max_size;
    size_t pos = mof_fuzz_below(r, size + 1);
    if (insert) {
        size = make_room(data, size, max_size, pos, &n);
    } else {
        if (pos + n > max_size)
            pos = max_size - n;
        if (pos + n > size)
            size = pos + n;
    }
    memmove(data + pos, src, n);
    return size;
}

static size_t mutate_decimal(mof_fuzz_rng *r, uint8_t *data, size_t size, size_t max_size)
{
    /* The first digit run at or after a random place, else anywhere. */
    size_t start = mof_fuzz_below(r, size + 1), i = start;
    while (i < size && !(data[i] >= '0' && data[i] <= '9'))
        i++;
    if (i == size) {
        for (i = 0; i < start && !(data[i] >= '0' && data[i] <= '9'); i++)
            ;
        if (i == start)
            return size;
    }
    size_t j = i;
    while (j < size && ((data[j] >= '0' && data[j] <= '9') || data[j] == '.' || data[j] == 'e'))
        j++;
    const char *d = decimals[mof_fuzz_below(r, N_DECIMALS)];
    size_t n = strlen(d);
    size = delete_range(data, size, i, j - i);
    size = make_room(data, size, max_size, i, &n);
    memcpy(data + i, d, n);
    return size;
}

/* A line: [*b, *e) including its '\n', around pos. */
static void line_at(const uint8_t *data, size_t size, size_t pos, size_t *b, size_t *e)
{
    size_t s = pos;
    while (s > 0 && data[s - 1] != '\n')
        s--;
    size_t t = pos;
    while (t < size && data[t] != '\n')
        t++;
    *b = s;
    *e = t < size ? t + 1 : t;
}

static size_t mutate_bytes(mof_fuzz_rng *r, uint8_t *data, size_t size, size_t max_size,
                           const uint8_t *other, size_t other_size, const mof_fuzz_dict *dict,
                           unsigned flags)
{
    uint8_t tmp[64];
    for (int attempt = 0; attempt < 8; attempt++) {
        unsigned op = (unsigned)mof_fuzz_below(r, 16);
        switch (op) {
        case 0: /* flip a bit */
            if (!size)
                break;
            data[mof_fuzz_below(r, size)] ^= (uint8_t)(1u << mof_fuzz_below(r, 8));
            return size;
        case 1: { /* a random or an interesting byte */
            static const uint8_t bytes[] = { 0, 0xFF, 0x7F, 0x80, 0x01, '0', '9', ' ', '\n',
                                             '"', '\'', '<', '>', '/', '\\', '(', ')', '[',
                                             ']', '{', '}', ',', '=', ':', '-', '#', '&' };
            if (!size)
                break;
            size_t pos = mof_fuzz_below(r, size);
            data[pos] = mof_fuzz_below(r, 2) ? (uint8_t)mof_fuzz_rand(r)
                                             : bytes[mof_fuzz_below(r, sizeof(bytes))];
            return size;
        }
        case 2: { /* insert random bytes, or one byte repeated */
            size_t n = 1 + mof_fuzz_below(r, 8);
            bool repeat = mof_fuzz_below(r, 4) == 0;
            if (repeat)
                n = 1 + mof_fuzz_below(r, 64);
            uint8_t b = (uint8_t)mof_fuzz_rand(r);
            for (size_t i = 0; i < n; i++)
                tmp[i] = repeat ? b : (uint8_t)mof_fuzz_rand(r);
            if (size == max_size)
                break;
            return put_bytes(r, data, size, max_size, tmp, n, true);
        }
        case 3: { /* delete a range */
            if (!size)
                break;
            size_t pos = mof_fuzz_below(r, size);
            size_t n = 1 + mof_fuzz_below(r, mof_fuzz_below(r, 4) ? 8 : 128);
            return delete_range(data, size, pos, n);
        }
        case 4: { /* copy a range of the input elsewhere (over, or inserted) */
            if (size < 2)
                break;
            size_t from = mof_fuzz_below(r, size);
            size_t n = 1 + mof_fuzz_below(r, size - from < 64 ? size - from : 64);
            memcpy(tmp, data + from, n);
            return put_bytes(r, data, size, max_size, tmp, n, mof_fuzz_below(r, 2));
        }
        case 5: { /* splice: our head, the other input's tail */
            if (!other || !other_size)
                break;
            size_t cut = mof_fuzz_below(r, size + 1);
            size_t from = mof_fuzz_below(r, other_size);
            size_t n = other_size - from;
            if (n > max_size - cut)
                n = max_size - cut;
            memcpy(data + cut, other + from, n);
            return cut + n;
        }
        case 6: { /* insert a chunk of the other input */
            if (!other || !other_size || size == max_size)
                break;
            size_t from = mof_fuzz_below(r, other_size);
            size_t n = 1 + mof_fuzz_below(r, other_size - from < 64 ? other_size - from : 64);
            memcpy(tmp, other + from, n);
            return put_bytes(r, data, size, max_size, tmp, n, true);
        }
        case 7: { /* an interesting integer, 1/2/4/8 bytes, either byte order */
            static const size_t widths[] = { 1, 2, 4, 8 };
            size_t w = widths[mof_fuzz_below(r, 4)];
            uint64_t v = interesting[mof_fuzz_below(r, N_INTERESTING)];
            bool big = mof_fuzz_below(r, 2);
            for (size_t i = 0; i < w; i++)
                tmp[big ? w - 1 - i : i] = (uint8_t)(v >> (8 * i));
            return put_bytes(r, data, size, max_size, tmp, w, mof_fuzz_below(r, 4) == 0);
        }
        case 8: { /* add or subtract a little */
            if (!size)
                break;
            size_t pos = mof_fuzz_below(r, size);
            int delta = 1 + (int)mof_fuzz_below(r, 16);
            data[pos] = (uint8_t)(mof_fuzz_below(r, 2) ? data[pos] + delta : data[pos] - delta);
            return size;
        }
        case 9:
        case 10: /* a dictionary token, inserted or written over */
            if (!dict || !dict->n)
                break;
            {
                size_t k = mof_fuzz_below(r, dict->n);
                if (dict->lens[k] > sizeof(tmp))
                    break;
                return put_bytes(r, data, size, max_size, dict->tokens[k], dict->lens[k],
                                 op == 9 || mof_fuzz_below(r, 2));
            }
        case 11: /* a decimal number replaced by an interesting one */
            if (!(flags & MOF_FUZZ_TEXT) || !size)
                break;
            return mutate_decimal(r, data, size, max_size);
        case 12: { /* a line deleted or duplicated */
            if (!(flags & MOF_FUZZ_TEXT) || !size)
                break;
            size_t b, e;
            line_at(data, size, mof_fuzz_below(r, size), &b, &e);
            if (mof_fuzz_below(r, 2) || e - b > sizeof(tmp))
                return delete_range(data, size, b, e - b);
            size_t n = e - b;
            memcpy(tmp, data + b, n);
            return put_bytes(r, data, size, max_size, tmp, n, true);
        }
        case 13: /* truncate */
            if (!size)
                break;
            return mof_fuzz_below(r, size);
        case 14: { /* swap two bytes */
            if (size < 2)
                break;
            size_t a = mof_fuzz_below(r, size), b = mof_fuzz_below(r, size);
            uint8_t t = data[a];
            data[a] = data[b];
            data[b] = t;
            return size;
        }
        default: /* protobuf tree mutations, when asked for */
            if (!(flags & MOF_FUZZ_PROTOBUF))
                break;
            {
                size_t n = mof_fuzz_mutate_protobuf(r, data, size, max_size, other,
                                                    other_size, dict);
                if (n)
                    return n;
            }
            break;
        }
    }
    /* Nothing applied (an empty input, ...): add a byte. */
    if (size < max_size)
        data[size++] = (uint8_t)mof_fuzz_rand(r);
    return size;
}

size_t mof_fuzz_mutate(mof_fuzz_rng *r, uint8_t *data, size_t size, size_t max_size,
                       const uint8_t *other, size_t other_size, const mof_fuzz_dict *dict,
                       unsigned flags)
{
    if (size > max_size)
        size = max_size;
    /* Protobuf inputs: half of the mutations act on the decoded tree. */
    if ((flags & MOF_FUZZ_PROTOBUF) && mof_fuzz_below(r, 2)) {
        size_t n = mof_fuzz_mutate_protobuf(r, data, size, max_size, other, other_size, dict);
        if (n)
            return n;
    }
    return mutate_bytes(r, data, size, max_size, other, other_size, dict, flags);
}

/* ------------------------------------------------------------------ protobuf trees */

/* Bounds of the decoded tree: deeper or further fields stay opaque bytes. */
#define PB_MAX_DEPTH 64
#define PB_MAX_NODES 50000

typedef struct pnode {
    uint32_t field;
    uint8_t wt;         /* wire type: 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32 */
    bool msg;           /* wt 2 whose payload decoded as a message: children */
    uint64_t v;         /* varint or fixed value */
    const uint8_t *raw; /* wt 2: the payload */
    size_t raw_len;
    int first, next;    /* first child, next sibling; -1 for none */
} pnode;

typedef struct ptree {
    pnode *n;
    size_t len, cap;
    uint8_t **owned; /* payloads edited by mutations */
    size_t n_owned;
    bool failed;
} ptree;

static int new_node(ptree *t)
{
    if (t->len == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        pnode *n = realloc(t->n, cap * sizeof(*n));
        if (!n) {
            t->failed = true;
            return -1;
        }
        t->n = n;
        t->cap = cap;
    }
    memset(&t->n[t->len], 0, sizeof(pnode));
    t->n[t->len].first = t->n[t->len].next = -1;
    return (int)t->len++;
}

static bool read_varint(const uint8_t *p, size_t len, size_t *pos, uint64_t *v)
{
    uint64_t x = 0;
    for (unsigned shift = 0; shift < 64 && *pos < len; shift += 7) {
        uint8_t b = p[(*pos)++];
        x |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) {
            *v = x;
            return true;
        }
    }
    return false;
}

/* Decodes p[0..len) as a message; its fields become a sibling list whose head goes to
 * *first. False (nodes rolled back) when the bytes are not a message. */
static bool parse_msg(ptree *t, const uint8_t *p, size_t len, int depth, int *first)
{
    size_t mark = t->len, pos = 0;
    int prev = -1;
    *first = -1;
    while (pos < len) {
        uint64_t tag, v = 0;
        if (!read_varint(p, len, &pos, &tag))
            goto fail;
        uint64_t field = tag >> 3;
        uint8_t wt = (uint8_t)(tag & 7);
        if (field == 0 || field > 0x1FFFFFFF)
            goto fail;
        const uint8_t *raw = NULL;
        size_t raw_len = 0;
        switch (wt) {
        case 0:
            if (!read_varint(p, len, &pos, &v))
                goto fail;
            break;
        case 1:
        case 5: {
            size_t w = wt == 1 ? 8 : 4;
            if (len - pos < w)
                goto fail;
            for (size_t i = 0; i < w; i++)
                v |= (uint64_t)p[pos + i] << (8 * i);
            pos += w;
            break;
        }
        case 2:
            if (!read_varint(p, len, &pos, &v) || v > len - pos)
                goto fail;
            raw = p + pos;
            raw_len = (size_t)v;
            pos += raw_len;
            break;
        default:
            goto fail;
        }
        int kids = -1;
        bool msg = false;
        if (wt == 2 && raw_len > 0 && depth < PB_MAX_DEPTH && t->len < PB_MAX_NODES)
            msg = parse_msg(t, raw, raw_len, depth + 1, &kids);
        if (t->failed)
            goto fail;
        int i = new_node(t);
        if (i < 0)
            goto fail;
        pnode *n = &t->n[i];
        n->field = (uint32_t)field;
        n->wt = wt;
        n->v = v;
        n->raw = raw;
        n->raw_len = raw_len;
        n->msg = msg;
        n->first = kids;
        if (prev < 0)
            *first = i;
        else
            t->n[prev].next = i;
        prev = i;
    }
    return true;
fail:
    t->len = mark;
    *first = -1;
    return false;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t node_size(const ptree *t, int i, int depth);

static size_t body_size(const ptree *t, int i, int depth)
{
    const pnode *n = &t->n[i];
    switch (n->wt) {
    case 0:
        return varint_len(n->v);
    case 1:
        return 8;
    case 5:
        return 4;
    case 2:
        if (!n->msg)
            return n->raw_len;
        {
            size_t s = 0;
            for (int k = n->first; k >= 0; k = t->n[k].next)
                s += node_size(t, k, depth + 1);
            return s;
        }
    default:
        return 0;
    }
}

static size_t node_size(const ptree *t, int i, int depth)
{
    const pnode *n = &t->n[i];
    if (depth > 4 * PB_MAX_DEPTH)
        return SIZE_MAX / 4; /* cannot happen: trees are built without cycles */
    size_t body = body_size(t, i, depth);
    size_t s = varint_len(((uint64_t)n->field << 3) | n->wt) + body;
    return n->wt == 2 ? s + varint_len(body) : s;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
    while (v >= 0x80) {
        *o++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *o++ = (uint8_t)v;
    return o;
}

static uint8_t *emit(const ptree *t, int i, uint8_t *o)
{
    const pnode *n = &t->n[i];
    o = put_varint(o, ((uint64_t)n->field << 3) | n->wt);
    switch (n->wt) {
    case 0:
        return put_varint(o, n->v);
    case 1:
    case 5:
        for (size_t b = 0; b < (n->wt == 1 ? 8u : 4u); b++)
            *o++ = (uint8_t)(n->v >> (8 * b));
        return o;
    case 2:
        o = put_varint(o, body_size(t, i, 0));
        if (!n->msg) {
            if (n->raw_len)
                memcpy(o, n->raw, n->raw_len);
            return o + n->raw_len;
        }
        for (int k = n->first; k >= 0; k = t->n[k].next)
            o = emit(t, k, o);
        return o;
    default:
        return o;
    }
}

/* Every node under root (root excluded) with its parent. */
typedef struct pref {
    int node, parent;
} pref;

static void collect(const ptree *t, int parent, pref *out, size_t *n, size_t cap)
{
    for (int k = t->n[parent].first; k >= 0 && *n < cap; k = t->n[k].next) {
        out[(*n)++] = (pref){ k, parent };
        if (t->n[k].msg)
            collect(t, k, out, n, cap);
    }
}

/* A deep copy of node i (its next link cleared); -1 when the budget runs out. */
static int deep_copy(ptree *t, int i, int depth)
{
    if (depth > PB_MAX_DEPTH || t->len >= PB_MAX_NODES)
        return -1;
    int c = new_node(t);
    if (c < 0)
        return -1;
    pnode copy = t->n[i];
    copy.next = -1;
    copy.first = -1;
    t->n[c] = copy;
    int prev = -1;
    for (int k = t->n[i].first; k >= 0; k = t->n[k].next) {
        int kc = deep_copy(t, k, depth + 1);
        if (kc < 0)
            return -1;
        if (prev < 0)
            t->n[c].first = kc;
        else
            t->n[prev].next = kc;
        prev = kc;
    }
    return c;
}

static void unlink_child(ptree *t, int parent, int node)
{
    int *link = &t->n[parent].first;
    while (*link >= 0 && *link != node)
        link = &t->n[*link].next;
    if (*link == node)
        *link = t->n[node].next;
}

static void insert_child(mof_fuzz_rng *r, ptree *t, int parent, int node)
{
    int *link = &t->n[parent].first;
    size_t skip = mof_fuzz_below(r, 8);
    while (*link >= 0 && skip--)
        link = &t->n[*link].next;
    t->n[node].next = *link;
    *link = node;
}

static bool edit_payload(mof_fuzz_rng *r, ptree *t, pnode *n, const mof_fuzz_dict *dict)
{
    size_t cap = n->raw_len + 80;
    uint8_t *buf = malloc(cap);
    uint8_t **owned = realloc(t->owned, (t->n_owned + 1) * sizeof(*owned));
    if (!buf || !owned) {
        free(buf);
        if (owned)
            t->owned = owned;
        return false;
    }
    t->owned = owned;
    t->owned[t->n_owned++] = buf;
    if (n->raw_len)
        memcpy(buf, n->raw, n->raw_len);
    n->raw_len = mutate_bytes(r, buf, n->raw_len, cap, NULL, 0, dict, MOF_FUZZ_TEXT);
    n->raw = buf;
    n->msg = false;
    n->first = -1;
    return true;
}

static bool mutate_tree(mof_fuzz_rng *r, ptree *t, int root, int other_root,
                        const mof_fuzz_dict *dict)
{
    size_t cap = t->len, count = 0;
    pref *refs = malloc((cap ? cap : 1) * sizeof(*refs));
    if (!refs)
        return false;
    collect(t, root, refs, &count, cap);
    bool done = false;
    if (!count)
        goto out;
    pref at = refs[mof_fuzz_below(r, count)];
    pnode *n = &t->n[at.node];
    switch (mof_fuzz_below(r, 10)) {
    case 0: /* the value: interesting, or nearby */
        if (n->wt == 2)
            break;
        n->v = mof_fuzz_below(r, 3) ? interesting[mof_fuzz_below(r, N_INTERESTING)]
                                    : n->v + (uint64_t)mof_fuzz_below(r, 5) - 2;
        if (n->wt == 5)
            n->v &= 0xFFFFFFFFu;
        done = true;
        break;
    case 1: /* the field number */
        n->field = mof_fuzz_below(r, 2) ? (uint32_t)(1 + mof_fuzz_below(r, 32))
                                        : (n->field > 1 ? n->field - 1 : n->field + 1);
        done = true;
        break;
    case 2: { /* the wire type */
        static const uint8_t wts[] = { 0, 1, 2, 5 };
        uint8_t wt = wts[mof_fuzz_below(r, 4)];
        if (wt == n->wt)
            break;
        if (n->wt == 2)
            n->v = n->raw_len;
        else if (wt == 2) {
            n->raw = (const uint8_t *)"\x08\x01";
            n->raw_len = 2;
        }
        n->msg = false;
        n->first = -1;
        n->wt = wt;
        done = true;
        break;
    }
    case 3: /* delete the field */
        unlink_child(t, at.parent, at.node);
        done = true;
        break;
    case 4: { /* duplicate it (a sibling sharing its children: no cycle) */
        int c = new_node(t);
        if (c < 0)
            break;
        n = &t->n[at.node];
        t->n[c] = *n;
        n->next = c;
        done = true;
        break;
    }
    case 5: { /* swap it with its next sibling */
        int nx = n->next;
        if (nx < 0)
            break;
        pnode a = *n, b = t->n[nx];
        int an = a.next, bn = b.next;
        t->n[at.node] = b;
        t->n[at.node].next = an;
        t->n[nx] = a;
        t->n[nx].next = bn;
        done = true;
        break;
    }
    case 6: /* edit the payload of a string, bytes or message field */
    case 7:
        if (n->wt != 2)
            break;
        done = edit_payload(r, t, n, dict);
        break;
    case 8: { /* transplant a copy of a field (of this input or the other) */
        int src_root = other_root >= 0 && mof_fuzz_below(r, 2) ? other_root : root;
        size_t scount = 0;
        pref *srefs = malloc(t->len * sizeof(*srefs));
        if (!srefs)
            break;
        collect(t, src_root, srefs, &scount, t->len);
        int src = scount ? srefs[mof_fuzz_below(r, scount)].node : -1;
        free(srefs);
        if (src < 0)
            break;
        int c = deep_copy(t, src, 0);
        if (c < 0)
            break;
        /* Into a message field, or the top level. */
        int parent = root;
        if (t->n[at.node].msg && mof_fuzz_below(r, 4))
            parent = at.node;
        else if (mof_fuzz_below(r, 2))
            parent = at.parent;
        insert_child(r, t, parent, c);
        done = true;
        break;
    }
    default: /* move it first among its siblings (parsers that expect an order) */
        unlink_child(t, at.parent, at.node);
        t->n[at.node].next = t->n[at.parent].first;
        t->n[at.parent].first = at.node;
        done = true;
        break;
    }
out:
    free(refs);
    return done;
}

size_t mof_fuzz_mutate_protobuf(mof_fuzz_rng *r, uint8_t *data, size_t size,
                                size_t max_size, const uint8_t *other, size_t other_size,
                                const mof_fuzz_dict *dict)
{
    ptree t = { 0 };
    size_t result = 0;
    int root = new_node(&t), other_root = -1, first;
    if (root < 0 || !parse_msg(&t, data, size, 0, &first) || first < 0)
        goto out;
    t.n[root].wt = 2;
    t.n[root].msg = true;
    t.n[root].first = first;
    if (other && other_size) {
        int o = new_node(&t);
        if (o >= 0 && parse_msg(&t, other, other_size, 0, &first) && first >= 0) {
            other_root = o;
            t.n[o].wt = 2;
            t.n[o].msg = true;
            t.n[o].first = first;
        }
    }
    if (!mutate_tree(r, &t, root, other_root, dict))
        goto out;
    size_t n = body_size(&t, root, 0);
    if (n > max_size || n == 0)
        goto out;
    /* data still holds the bytes the tree points into: write to a copy first. */
    uint8_t *outbuf = malloc(n);
    if (!outbuf)
        goto out;
    uint8_t *o = outbuf;
    for (int k = t.n[root].first; k >= 0; k = t.n[k].next)
        o = emit(&t, k, o);
    memcpy(data, outbuf, n);
    free(outbuf);
    result = n;
out:
    for (size_t i = 0; i < t.n_owned; i++)
        free(t.owned[i]);
    free(t.owned);
    free(t.n);
    return result;
}
