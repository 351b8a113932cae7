/* filecheck.c: see filecheck.h. Patterns become POSIX extended regular expressions
 * (regcomp), literal text escaped, so that {{regex}} and captures come for free. */
#define _POSIX_C_SOURCE 200809L
#include "filecheck.h"

#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What [[NAME:]] matches: a value name, a number, a dim. */
#define WORD_REGEX "[A-Za-z0-9_.:/-]+"

const char *fc_kind_name(fc_kind kind)
{
    switch (kind) {
    case FC_CHECK: return "CHECK";
    case FC_NEXT: return "CHECK-NEXT";
    case FC_SAME: return "CHECK-SAME";
    case FC_EMPTY: return "CHECK-EMPTY";
    case FC_NOT: return "CHECK-NOT";
    }
    return "?";
}

/* ------------------------------------------------------------------ strings */

typedef struct buf {
    char *s;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p)
            abort(); /* a test program: out of memory is fatal */
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void buf_puts(buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));
static char *fmt(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    int n = vsnprintf(NULL, 0, f, ap);
    va_end(ap);
    char *s = malloc((size_t)n + 1);
    if (!s)
        abort();
    va_start(ap, f);
    vsnprintf(s, (size_t)n + 1, f, ap);
    va_end(ap);
    return s;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ------------------------------------------------------------------ variables */

typedef struct var {
    char *name, *value;
} var;

typedef struct vars {
    var *v;
    size_t n;
} vars;

static const char *var_get(const vars *vs, const char *name, size_t len)
{
    for (size_t i = vs->n; i-- > 0;) {
        if (strlen(vs->v[i].name) == len && memcmp(vs->v[i].name, name, len) == 0)
            return vs->v[i].value;
    }
    return NULL;
}

static void var_set(vars *vs, const char *name, const char *value, size_t len)
{
    var *v = realloc(vs->v, (vs->n + 1) * sizeof(*v));
    if (!v)
        abort();
    vs->v = v;
    v[vs->n].name = dup_n(name, strlen(name));
    v[vs->n].value = dup_n(value, len);
    vs->n++;
}

static void vars_free(vars *vs)
{
    for (size_t i = 0; i < vs->n; i++) {
        free(vs->v[i].name);
        free(vs->v[i].value);
    }
    free(vs->v);
}

/* ------------------------------------------------------------------ patterns */

typedef struct pattern {
    regex_t re;
    bool compiled;
    size_t n_groups;
    size_t n_caps;
    char **cap_names;
    size_t *cap_groups;
} pattern;

static void pattern_free(pattern *p)
{
    if (p->compiled)
        regfree(&p->re);
    for (size_t i = 0; i < p->n_caps; i++)
        free(p->cap_names[i]);
    free(p->cap_names);
    free(p->cap_groups);
    memset(p, 0, sizeof(*p));
}

/* Capturing groups of a regex: '(' not escaped and not in a bracket expression. */
static size_t count_groups(const char *r, size_t n)
{
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i] == '\\') {
            i++;
        } else if (r[i] == '[') {
            i++;
            if (i < n && r[i] == '^')
                i++;
            if (i < n && r[i] == ']')
                i++;
            while (i < n && r[i] != ']')
                i++;
        } else if (r[i] == '(') {
            count++;
        }
    }
    return count;
}

static void add_literal(buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' || s[i] == '\t') {
            while (i + 1 < n && (s[i + 1] == ' ' || s[i + 1] == '\t'))
                i++;
            buf_puts(b, "[ \t]+");
        } else {
            if (strchr(".[]{}()\\*+?^$|", s[i]))
                buf_add(b, "\\", 1);
            buf_add(b, &s[i], 1);
        }
    }
}

/* Compiles a pattern with the variables defined so far; *err on failure. */
static bool compile(pattern *p, const char *pat, const vars *vs, char **err)
{
    memset(p, 0, sizeof(*p));
    size_t len = strlen(pat);
    while (len && (pat[len - 1] == ' ' || pat[len - 1] == '\t'))
        len--;
    while (len && (*pat == ' ' || *pat == '\t')) {
        pat++;
        len--;
    }
    if (!len) {
        *err = fmt("empty pattern");
        return false;
    }
    buf b = {0};
    for (size_t i = 0; i < len;) {
        const char *s = pat + i;
        const char *close;
        if (i + 1 < len && s[0] == '{' && s[1] == '{' && (close = strstr(s + 2, "}}")) &&
            close < pat + len) {
            size_t rn = (size_t)(close - (s + 2));
            buf_add(&b, "(", 1);
            buf_add(&b, s + 2, rn);
            buf_add(&b, ")", 1);
            p->n_groups += 1 + count_groups(s + 2, rn);
            i += rn + 4;
        } else if (i + 1 < len && s[0] == '[' && s[1] == '[' && (close = strstr(s + 2, "]]")) &&
                   close < pat + len) {
            const char *inner = s + 2;
            size_t in = (size_t)(close - inner);
            const char *colon = memchr(inner, ':', in);
            if (colon) {
                size_t nn = (size_t)(colon - inner);
                const char *r = colon + 1;
                size_t rn = in - nn - 1;
                if (!rn) {
                    r = WORD_REGEX;
                    rn = strlen(r);
                }
                p->cap_names = realloc(p->cap_names, (p->n_caps + 1) * sizeof(char *));
                p->cap_groups = realloc(p->cap_groups, (p->n_caps + 1) * sizeof(size_t));
                if (!p->cap_names || !p->cap_groups)
                    abort();
                p->cap_names[p->n_caps] = dup_n(inner, nn);
                p->cap_groups[p->n_caps] = p->n_groups + 1;
                p->n_caps++;
                buf_add(&b, "(", 1);
                buf_add(&b, r, rn);
                buf_add(&b, ")", 1);
                p->n_groups += 1 + count_groups(r, rn);
            } else {
                const char *value = var_get(vs, inner, in);
                if (!value) {
                    *err = fmt("variable [[%.*s]] is used before it is captured", (int)in,
                               inner);
                    free(b.s);
                    pattern_free(p);
                    return false;
                }
                add_literal(&b, value, strlen(value));
            }
            i += in + 4;
        } else {
            /* Literal text up to the next {{ or [[. */
            size_t k = i + 1;
            while (k < len && !((pat[k] == '{' && k + 1 < len && pat[k + 1] == '{') ||
                                (pat[k] == '[' && k + 1 < len && pat[k + 1] == '[')))
                k++;
            add_literal(&b, s, k - i);
            i = k;
        }
    }
    int rc = regcomp(&p->re, b.s, REG_EXTENDED | REG_NEWLINE);
    free(b.s);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &p->re, msg, sizeof(msg));
        *err = fmt("bad regular expression: %s", msg);
        pattern_free(p);
        return false;
    }
    p->compiled = true;
    return true;
}

/* ------------------------------------------------------------------ matching */

typedef struct line {
    const char *s;
    size_t n;
} line;

/* Matches p in line[from, to); the match's offsets go to *ms, *me and its captures to
 * vs (NULL: not recorded). */
static bool match_in(const pattern *p, const line *l, size_t from, size_t to, size_t *ms,
                     size_t *me, vars *vs)
{
    if (from > to)
        return false;
    char *s = dup_n(l->s + from, to - from);
    regmatch_t *m = calloc(p->n_groups + 1, sizeof(*m));
    if (!m)
        abort();
    int flags = (from ? REG_NOTBOL : 0) | (to < l->n ? REG_NOTEOL : 0);
    bool found = regexec(&p->re, s, p->n_groups + 1, m, flags) == 0;
    if (found) {
        *ms = from + (size_t)m[0].rm_so;
        *me = from + (size_t)m[0].rm_eo;
        for (size_t i = 0; vs && i < p->n_caps; i++) {
            const regmatch_t *g = &m[p->cap_groups[i]];
            if (g->rm_so >= 0)
                var_set(vs, p->cap_names[i], s + g->rm_so, (size_t)(g->rm_eo - g->rm_so));
        }
    }
    free(m);
    free(s);
    return found;
}

/* A CHECK-NOT waiting for the next positive match. */
typedef struct pending {
    size_t index;
    pattern p;
} pending;

/* Looks for any pending CHECK-NOT between (l0, c0) and (l1, c1); on a hit, fills the
 * failure and returns false. */
static bool check_nots(pending *nots, size_t n_nots, const line *lines, size_t l0, size_t c0,
                       size_t l1, size_t c1, const fc_directive *dirs, size_t *failed,
                       char **why)
{
    for (size_t k = 0; k < n_nots; k++) {
        for (size_t l = l0; l <= l1; l++) {
            size_t from = l == l0 ? c0 : 0, to = l == l1 ? c1 : lines[l].n;
            size_t ms, me;
            if (match_in(&nots[k].p, &lines[l], from, to, &ms, &me, NULL)) {
                *failed = nots[k].index;
                *why = fmt("found \"%s\" on line %zu of the output: \"%.*s\"",
                           dirs[nots[k].index].pattern, l + 1, (int)lines[l].n, lines[l].s);
                return false;
            }
        }
    }
    return true;
}

bool fc_match(const fc_directive *dirs, size_t n, const char *text, size_t *failed, char **why)
{
    *why = NULL;
    *failed = 0;
    /* The lines; a final newline ends the last line rather than starting an empty one. */
    line *lines = NULL;
    size_t n_lines = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lines = realloc(lines, (n_lines + 1) * sizeof(*lines));
        if (!lines)
            abort();
        lines[n_lines++] = (line){p, len};
        p += len + (nl ? 1 : 0);
    }
    if (!n_lines) {
        lines = malloc(sizeof(*lines));
        if (!lines)
            abort();
        lines[n_lines++] = (line){text, 0};
    }

    vars vs = {0};
    pending *nots = NULL;
    size_t n_nots = 0;
    bool ok = true, matched = false;
    size_t pos_line = 0, pos_col = 0;   /* the end of the previous match */
    for (size_t i = 0; i < n && ok; i++) {
        const fc_directive *d = &dirs[i];
        const char *name = fc_kind_name(d->kind);
        if (d->kind == FC_NOT) {
            nots = realloc(nots, (n_nots + 1) * sizeof(*nots));
            if (!nots)
                abort();
            nots[n_nots].index = i;
            if (!compile(&nots[n_nots].p, d->pattern, &vs, why)) {
                *failed = i;
                ok = false;
                break;
            }
            n_nots++;
            continue;
        }
        if (d->kind != FC_CHECK && !matched) {
            *failed = i;
            *why = fmt("%s needs a CHECK before it", name);
            ok = false;
            break;
        }
        size_t L = 0, ms = 0, me = 0;
        bool found = false;
        if (d->kind == FC_EMPTY) {
            L = pos_line + 1;
            if (L >= n_lines || lines[L].n != 0) {
                *failed = i;
                *why = L >= n_lines ? fmt("the output has no line %zu to be empty", L + 1)
                                    : fmt("line %zu of the output is not empty: \"%.*s\"",
                                          L + 1, (int)lines[L].n, lines[L].s);
                ok = false;
                break;
            }
            found = true;
        } else {
            pattern p;
            if (!compile(&p, d->pattern, &vs, why)) {
                *failed = i;
                ok = false;
                break;
            }
            if (d->kind == FC_CHECK) {
                for (L = pos_line; L < n_lines && !found; L++)
                    found = match_in(&p, &lines[L], L == pos_line ? pos_col : 0, lines[L].n,
                                     &ms, &me, &vs);
                L--;
                if (!found)
                    *why = fmt("no match for \"%s\" in the output from line %zu on", d->pattern,
                               pos_line + 1);
            } else if (d->kind == FC_NEXT) {
                L = pos_line + 1;
                found = L < n_lines && match_in(&p, &lines[L], 0, lines[L].n, &ms, &me, &vs);
                if (!found)
                    *why = L < n_lines
                               ? fmt("no match for \"%s\" on line %zu of the output (the line "
                                     "after the previous match): \"%.*s\"",
                                     d->pattern, L + 1, (int)lines[L].n, lines[L].s)
                               : fmt("no match for \"%s\": the previous match was on the last "
                                     "line", d->pattern);
            } else {
                L = pos_line;
                found = match_in(&p, &lines[L], pos_col, lines[L].n, &ms, &me, &vs);
                if (!found)
                    *why = fmt("no match for \"%s\" on line %zu of the output after the "
                               "previous match: \"%.*s\"",
                               d->pattern, L + 1, (int)lines[L].n, lines[L].s);
            }
            pattern_free(&p);
            if (!found) {
                *failed = i;
                ok = false;
                break;
            }
        }
        /* The CHECK-NOTs before this directive hold between the two matches. */
        if (!check_nots(nots, n_nots, lines, pos_line, pos_col, L, ms, dirs, failed, why)) {
            ok = false;
            break;
        }
        for (size_t k = 0; k < n_nots; k++)
            pattern_free(&nots[k].p);
        n_nots = 0;
        matched = true;
        pos_line = L;
        pos_col = me;
    }
    if (ok && n_nots)
        ok = check_nots(nots, n_nots, lines, pos_line, pos_col, n_lines - 1,
                        lines[n_lines - 1].n, dirs, failed, why);
    for (size_t k = 0; k < n_nots; k++)
        pattern_free(&nots[k].p);
    free(nots);
    vars_free(&vs);
    free(lines);
    return ok;
}
