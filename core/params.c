/* params.c: typed parameters of passes and backends.
 *
 * Plugins declare parameters as data (mof_param_desc tables); nothing in a plugin ever
 * parses a string. This file is the only place that turns text into typed fields, so
 * that every pass accepts the same spellings and every error reads the same way:
 *
 *   pass 'quantize-static': parameter 'bits' = 12 is outside [2, 8]
 *
 * Each parse produces a "why" tail ("= 12 is outside [2, 8]") that callers prefix
 * with who is being checked (a parameter value, or a table's default). */
#define _POSIX_C_SOURCE 200809L /* strcasecmp */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <mof/host.h>

#include "params.h"

const char *mof_param_type_name(mof_param_type type)
{
    switch (type) {
    case MOF_PARAM_BOOL:
        return "bool";
    case MOF_PARAM_INT:
        return "int";
    case MOF_PARAM_FLOAT:
        return "float";
    case MOF_PARAM_STRING:
        return "string";
    case MOF_PARAM_CHOICE:
        return "choice";
    }
    return "?";
}

bool mof_is_kebab_case(const char *name)
{
    if (!name || !(name[0] >= 'a' && name[0] <= 'z'))
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        if (c == '-') {
            if (p[1] == '\0' || p[1] == '-')
                return false;
        } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            return false;
        }
    }
    return true;
}

const mof_param_desc *mof_params_find(const mof_param_desc *table, const char *name)
{
    for (const mof_param_desc *d = table; d && d->name; d++)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

static size_t count_params(const mof_param_desc *table)
{
    size_t n = 0;
    while (table && table[n].name)
        n++;
    return n;
}

/* Writes a range bound: an integer for INT parameters when it is one, else %g. */
static void put_number(mof_strbuf *sb, double v, bool as_int)
{
    if (as_int && v == floor(v) && fabs(v) < 9.2e18)
        mof_strbuf_printf(sb, "%" PRId64, (int64_t)v);
    else
        mof_strbuf_printf(sb, "%g", v);
}

static void put_range(mof_strbuf *sb, const mof_param_desc *d)
{
    bool as_int = d->type == MOF_PARAM_INT;
    mof_strbuf_puts(sb, "[");
    put_number(sb, d->min, as_int);
    mof_strbuf_puts(sb, ", ");
    put_number(sb, d->max, as_int);
    mof_strbuf_puts(sb, "]");
}

static void put_choices(mof_strbuf *sb, const mof_param_desc *d, const char *sep)
{
    for (size_t i = 0; d->choices && d->choices[i]; i++)
        mof_strbuf_printf(sb, "%s%s", i ? sep : "", d->choices[i]);
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = { "true", "yes", "on", "1" };
    static const char *const no[] = { "false", "no", "off", "0" };
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

/* strtod obeys LC_NUMERIC; pipeline files always write '.', so translate it to the
 * current locale's decimal point before parsing. */
static bool parse_double(const char *s, double *out)
{
    const char *dp = localeconv()->decimal_point;
    char *copy = NULL;
    const char *src = s;
    if (dp && dp[0] && strcmp(dp, ".") != 0 && strchr(s, '.')) {
        mof_strbuf sb;
        mof_strbuf_init(&sb);
        for (const char *p = s; *p; p++) {
            if (*p == '.')
                mof_strbuf_puts(&sb, dp);
            else
                mof_strbuf_append(&sb, p, 1);
        }
        copy = mof_strbuf_take(&sb);
        if (!copy)
            return false;
        src = copy;
    }
    char *end;
    errno = 0;
    double v = strtod(src, &end);
    bool ok = src[0] && !isspace((unsigned char)src[0]) && *end == '\0';
    free(copy);
    if (!ok)
        return false;
    *out = v;
    return true;
}

/* Whether v lies in [lo, hi], compared as integers where the bounds allow it so that
 * large values are not rounded through double. */
static bool int_in_range(int64_t v, double lo, double hi)
{
    if (isnan(lo) || isnan(hi))
        return false;
    if (lo >= 9.2e18 || hi <= -9.2e18)
        return (double)v >= lo && (double)v <= hi;
    if (lo > -9.2e18 && v < (int64_t)ceil(lo))
        return false;
    if (hi < 9.2e18 && v > (int64_t)floor(hi))
        return false;
    return true;
}

/* Parses value for d into out (storage of d's type). On a bad value returns
 * MOF_ERR_INVALID_ARG and sets *why to a malloc'ed tail such as "= 12 is outside
 * [2, 8]" (NULL when out of memory). `suggest` adds the nearest choice for a typo; it
 * is off for a table's defaults, which are the plugin author's, not the user's. */
static mof_status parse_value(const mof_param_desc *d, const char *value, void *out,
                              char **why, bool suggest)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    *why = NULL;
    switch (d->type) {
    case MOF_PARAM_BOOL:
        if (parse_bool(value, out))
            return MOF_OK;
        mof_strbuf_printf(&sb, "= '%s' is not a boolean (use true/false, yes/no, on/off "
                               "or 1/0)", value);
        break;
    case MOF_PARAM_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (!value[0] || isspace((unsigned char)value[0]) || *end != '\0') {
            mof_strbuf_printf(&sb, "= '%s' is not an integer", value);
            break;
        }
        if (errno == ERANGE) {
            mof_strbuf_printf(&sb, "= %s is outside the range of a 64-bit integer", value);
            break;
        }
        if ((d->flags & MOF_PARAM_RANGE) && !int_in_range((int64_t)v, d->min, d->max)) {
            mof_strbuf_printf(&sb, "= %s is outside ", value);
            put_range(&sb, d);
            break;
        }
        *(int64_t *)out = (int64_t)v;
        return MOF_OK;
    }
    case MOF_PARAM_FLOAT: {
        double v;
        if (!parse_double(value, &v)) {
            mof_strbuf_printf(&sb, "= '%s' is not a number", value);
            break;
        }
        if (!isfinite(v)) {
            mof_strbuf_printf(&sb, "= %s is not a finite number", value);
            break;
        }
        if ((d->flags & MOF_PARAM_RANGE) && !(v >= d->min && v <= d->max)) {
            mof_strbuf_printf(&sb, "= %s is outside ", value);
            put_range(&sb, d);
            break;
        }
        *(double *)out = v;
        return MOF_OK;
    }
    case MOF_PARAM_STRING: {
        char *copy = mof_strdup(value);
        if (!copy)
            return MOF_ERR_NOMEM;
        *(char **)out = copy;
        return MOF_OK;
    }
    case MOF_PARAM_CHOICE: {
        size_t n = 0;
        for (; d->choices && d->choices[n]; n++) {
            if (strcmp(d->choices[n], value) == 0) {
                *(int *)out = (int)n;
                return MOF_OK;
            }
        }
        mof_strbuf_printf(&sb, "= '%s' is not one of: ", value);
        put_choices(&sb, d, ", ");
        const char *near = suggest && n ? mof_nearest_name(value, n, d->choices) : NULL;
        if (near)
            mof_strbuf_printf(&sb, "; did you mean '%s'?", near);
        break;
    }
    default:
        mof_strbuf_printf(&sb, "has an unknown type %d", (int)d->type);
        break;
    }
    *why = mof_strbuf_take(&sb);
    return *why ? MOF_ERR_INVALID_ARG : MOF_ERR_NOMEM;
}

/* Storage big enough and aligned for any parameter type. */
typedef union param_slot {
    bool b;
    int64_t i;
    double f;
    char *s;
    int c;
} param_slot;

static size_t type_size(mof_param_type type)
{
    switch (type) {
    case MOF_PARAM_BOOL:
        return sizeof(bool);
    case MOF_PARAM_INT:
        return sizeof(int64_t);
    case MOF_PARAM_FLOAT:
        return sizeof(double);
    case MOF_PARAM_STRING:
        return sizeof(char *);
    case MOF_PARAM_CHOICE:
        return sizeof(int);
    }
    return 0;
}

static size_t type_align(mof_param_type type)
{
    switch (type) {
    case MOF_PARAM_BOOL:
        return alignof(bool);
    case MOF_PARAM_INT:
        return alignof(int64_t);
    case MOF_PARAM_FLOAT:
        return alignof(double);
    case MOF_PARAM_STRING:
        return alignof(char *);
    case MOF_PARAM_CHOICE:
        return alignof(int);
    }
    return 1;
}

mof_status mof_param_parse(mof_context *ctx, const mof_param_owner *owner,
                           const mof_param_desc *d, const char *value,
                           const mof_location *loc, void *out)
{
    char *why;
    mof_status st = parse_value(d, value, out, &why, true);
    if (st == MOF_ERR_INVALID_ARG)
        mof_report(ctx, MOF_SEVERITY_ERROR, st, loc, "%s '%s': parameter '%s' %s",
                   owner->kind, owner->name, d->name, why);
    else if (st == MOF_ERR_NOMEM)
        mof_report(ctx, MOF_SEVERITY_ERROR, st, loc, "out of memory");
    free(why);
    return st;
}

/* The first error wins; NOMEM beats everything. */
static mof_status worse(mof_status a, mof_status b)
{
    if (a == MOF_ERR_NOMEM || b == MOF_ERR_NOMEM)
        return MOF_ERR_NOMEM;
    return a < 0 ? a : b;
}

static void report_unknown(mof_context *ctx, const mof_param_owner *owner,
                           const mof_param_desc *table, const mof_param_arg *arg)
{
    size_t n = count_params(table);
    if (n == 0) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &arg->loc,
                   "%s '%s': unknown parameter '%s' (it has no parameters)", owner->kind,
                   owner->name, arg->name);
        return;
    }
    const char **names = mof_calloc(n, sizeof(*names));
    const char *near = NULL;
    if (names) {
        for (size_t i = 0; i < n; i++)
            names[i] = table[i].name;
        near = mof_nearest_name(arg->name, n, names);
    }
    if (near) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &arg->loc,
                   "%s '%s': unknown parameter '%s'; did you mean '%s'?", owner->kind,
                   owner->name, arg->name, near);
    } else {
        mof_strbuf sb;
        mof_strbuf_init(&sb);
        for (size_t i = 0; i < n; i++)
            mof_strbuf_printf(&sb, "%s%s", i ? ", " : "", table[i].name);
        char *list = mof_strbuf_take(&sb);
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &arg->loc,
                   "%s '%s': unknown parameter '%s' (its parameters are: %s)", owner->kind,
                   owner->name, arg->name, list ? list : "...");
        free(list);
    }
    free(names);
}

static void report_duplicate(mof_context *ctx, const mof_param_owner *owner,
                             const mof_param_arg *first, const mof_param_arg *dup)
{
    char where[64] = "";
    if (first->loc.line && first->loc.line != dup->loc.line)
        snprintf(where, sizeof(where), " (first at line %u)", first->loc.line);
    else if (first->loc.column)
        snprintf(where, sizeof(where), " (first at column %u)", first->loc.column);
    mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &dup->loc,
               "%s '%s': parameter '%s' is given more than once%s", owner->kind, owner->name,
               dup->name, where);
}

/* A short description of what a parameter accepts: "int in [2, 8]", "one of a, b". */
static char *describe_accepts(const mof_param_desc *d)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    if (d->type == MOF_PARAM_CHOICE) {
        mof_strbuf_puts(&sb, "one of ");
        put_choices(&sb, d, ", ");
    } else {
        mof_strbuf_puts(&sb, mof_param_type_name(d->type));
        if ((d->flags & MOF_PARAM_RANGE) &&
            (d->type == MOF_PARAM_INT || d->type == MOF_PARAM_FLOAT)) {
            mof_strbuf_puts(&sb, " in ");
            put_range(&sb, d);
        }
    }
    return mof_strbuf_take(&sb);
}

/* Checks (and, when priv is not NULL, stores) every argument. */
static mof_status check_args(mof_context *ctx, const mof_param_owner *owner,
                             const mof_param_desc *table, size_t n_args,
                             const mof_param_arg *args, void *priv)
{
    mof_status st = MOF_OK;
    for (size_t i = 0; i < n_args; i++) {
        const mof_param_arg *a = &args[i];
        const mof_param_desc *d = mof_params_find(table, a->name);
        if (!d) {
            report_unknown(ctx, owner, table, a);
            st = worse(st, MOF_ERR_INVALID_ARG);
            continue;
        }
        size_t first = 0;
        while (first < i && strcmp(args[first].name, a->name) != 0)
            first++;
        if (first < i) {
            report_duplicate(ctx, owner, &args[first], a);
            st = worse(st, MOF_ERR_INVALID_ARG);
            continue;
        }
        param_slot slot = { 0 };
        mof_status pst = mof_param_parse(ctx, owner, d, a->value, &a->loc, &slot);
        if (pst != MOF_OK) {
            st = worse(st, pst);
            continue;
        }
        if (priv) {
            char *field = (char *)priv + d->offset;
            if (d->type == MOF_PARAM_STRING) {
                char *old;
                memcpy(&old, field, sizeof(old));
                free(old);
            }
            memcpy(field, &slot, type_size(d->type));
        } else if (d->type == MOF_PARAM_STRING) {
            free(slot.s);
        }
    }
    for (const mof_param_desc *d = table; d && d->name; d++) {
        if (!(d->flags & MOF_PARAM_REQUIRED))
            continue;
        size_t i = 0;
        while (i < n_args && strcmp(args[i].name, d->name) != 0)
            i++;
        if (i < n_args)
            continue;
        char *accepts = describe_accepts(d);
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, &owner->loc,
                   "%s '%s': missing required parameter '%s' (%s%s%s)", owner->kind,
                   owner->name, d->name, accepts ? accepts : "?", d->help ? ": " : "",
                   d->help ? d->help : "");
        free(accepts);
        st = worse(st, MOF_ERR_INVALID_ARG);
    }
    return st;
}

mof_status mof_params_check(mof_context *ctx, const mof_param_owner *owner,
                            const mof_param_desc *table, size_t n_args,
                            const mof_param_arg *args)
{
    return check_args(ctx, owner, table, n_args, args, NULL);
}

mof_status mof_params_apply(mof_context *ctx, const mof_param_owner *owner,
                            const mof_param_desc *table, size_t n_args,
                            const mof_param_arg *args, void *priv)
{
    mof_status st = MOF_OK;
    for (const mof_param_desc *d = table; d && d->name; d++) {
        if ((d->flags & MOF_PARAM_REQUIRED) || !d->def)
            continue;   /* zero (false, 0, NULL, the first choice) */
        param_slot slot = { 0 };
        char *why;
        mof_status pst = parse_value(d, d->def, &slot, &why, false);
        if (pst == MOF_ERR_INVALID_ARG)
            mof_report(ctx, MOF_SEVERITY_ERROR, pst, &owner->loc,
                       "%s '%s': the default of parameter '%s' %s", owner->kind,
                       owner->name, d->name, why);
        free(why);
        if (pst != MOF_OK) {
            st = worse(st, pst);
            continue;
        }
        memcpy((char *)priv + d->offset, &slot, type_size(d->type));
    }
    if (st != MOF_OK)
        return st;
    return check_args(ctx, owner, table, n_args, args, priv);
}

void mof_params_free(const mof_param_desc *table, void *priv)
{
    if (!priv)
        return;
    for (const mof_param_desc *d = table; d && d->name; d++) {
        if (d->type != MOF_PARAM_STRING)
            continue;
        char *s;
        memcpy(&s, (char *)priv + d->offset, sizeof(s));
        free(s);
        s = NULL;
        memcpy((char *)priv + d->offset, &s, sizeof(s));
    }
}

mof_status mof_params_check_table(mof_context *ctx, const mof_param_owner *owner,
                                  const mof_param_desc *table, size_t priv_size)
{
    mof_status st = MOF_OK;
    const mof_location *loc = owner->loc.file || owner->loc.line ? &owner->loc : NULL;
#define TABLE_ERROR(...)                                                                   \
    do {                                                                                   \
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, loc, __VA_ARGS__);       \
        st = MOF_ERR_INVALID_ARG;                                                          \
    } while (0)
    for (size_t i = 0; table && table[i].name; i++) {
        const mof_param_desc *d = &table[i];
        if (!mof_is_kebab_case(d->name))
            TABLE_ERROR("%s '%s': parameter name '%s' is not kebab-case (lower-case words "
                        "joined by '-')", owner->kind, owner->name, d->name);
        for (size_t j = 0; j < i; j++) {
            if (strcmp(table[j].name, d->name) == 0) {
                TABLE_ERROR("%s '%s': parameter '%s' is declared twice", owner->kind,
                            owner->name, d->name);
                break;
            }
        }
        size_t size = type_size(d->type);
        if (size == 0) {
            TABLE_ERROR("%s '%s': parameter '%s' has an unknown type %d", owner->kind,
                        owner->name, d->name, (int)d->type);
            continue;
        }
        if (d->flags & ~(unsigned)(MOF_PARAM_REQUIRED | MOF_PARAM_RANGE))
            TABLE_ERROR("%s '%s': parameter '%s' has unknown flags 0x%x", owner->kind,
                        owner->name, d->name,
                        d->flags & ~(unsigned)(MOF_PARAM_REQUIRED | MOF_PARAM_RANGE));
        if (d->offset > priv_size || priv_size - d->offset < size)
            TABLE_ERROR("%s '%s': parameter '%s' is stored at offset %zu, outside its "
                        "%zu-byte private struct", owner->kind, owner->name, d->name,
                        d->offset, priv_size);
        else if (d->offset % type_align(d->type) != 0)
            TABLE_ERROR("%s '%s': parameter '%s' is stored at offset %zu, which is not "
                        "aligned for its type (%s)", owner->kind, owner->name, d->name,
                        d->offset, mof_param_type_name(d->type));
        for (size_t j = 0; j < i; j++) {
            const mof_param_desc *o = &table[j];
            size_t osize = type_size(o->type);
            if (osize && d->offset < o->offset + osize && o->offset < d->offset + size) {
                TABLE_ERROR("%s '%s': parameters '%s' and '%s' overlap in the private "
                            "struct", owner->kind, owner->name, o->name, d->name);
                break;
            }
        }
        if (d->type == MOF_PARAM_CHOICE) {
            if (!d->choices || !d->choices[0]) {
                TABLE_ERROR("%s '%s': parameter '%s' is a choice without choices",
                            owner->kind, owner->name, d->name);
                continue;
            }
            for (size_t k = 0; d->choices[k]; k++)
                for (size_t j = 0; j < k; j++)
                    if (strcmp(d->choices[j], d->choices[k]) == 0)
                        TABLE_ERROR("%s '%s': parameter '%s' lists the choice '%s' twice",
                                    owner->kind, owner->name, d->name, d->choices[k]);
        }
        if (d->flags & MOF_PARAM_RANGE) {
            if (d->type != MOF_PARAM_INT && d->type != MOF_PARAM_FLOAT)
                TABLE_ERROR("%s '%s': parameter '%s' has a range but is a %s", owner->kind,
                            owner->name, d->name, mof_param_type_name(d->type));
            else if (!(d->min <= d->max))
                TABLE_ERROR("%s '%s': parameter '%s' has an empty range [%g, %g]",
                            owner->kind, owner->name, d->name, d->min, d->max);
        }
        if (d->def && !(d->flags & MOF_PARAM_REQUIRED)) {
            param_slot slot = { 0 };
            char *why;
            mof_status pst = parse_value(d, d->def, &slot, &why, false);
            if (pst == MOF_ERR_INVALID_ARG)
                TABLE_ERROR("%s '%s': the default of parameter '%s' %s", owner->kind,
                            owner->name, d->name, why);
            else if (pst != MOF_OK)
                st = worse(st, pst);
            else if (d->type == MOF_PARAM_STRING)
                free(slot.s);
            free(why);
        }
    }
#undef TABLE_ERROR
    return st;
}

/* The effective default, as help shows it. */
static char *describe_default(const mof_param_desc *d)
{
    if (d->flags & MOF_PARAM_REQUIRED)
        return mof_strdup("required");
    if (d->def)
        return d->type == MOF_PARAM_STRING ? mof_asprintf("default '%s'", d->def)
                                           : mof_asprintf("default %s", d->def);
    switch (d->type) {
    case MOF_PARAM_BOOL:
        return mof_strdup("default false");
    case MOF_PARAM_INT:
    case MOF_PARAM_FLOAT:
        return mof_strdup("default 0");
    case MOF_PARAM_CHOICE:
        return mof_asprintf("default %s", d->choices && d->choices[0] ? d->choices[0] : "?");
    case MOF_PARAM_STRING:
        break;
    }
    return mof_strdup("no default");
}

static char *describe_type(const mof_param_desc *d)
{
    mof_strbuf sb;
    mof_strbuf_init(&sb);
    if (d->type == MOF_PARAM_CHOICE) {
        mof_strbuf_puts(&sb, "{");
        put_choices(&sb, d, "|");
        mof_strbuf_puts(&sb, "}");
    } else {
        mof_strbuf_puts(&sb, mof_param_type_name(d->type));
        if ((d->flags & MOF_PARAM_RANGE) &&
            (d->type == MOF_PARAM_INT || d->type == MOF_PARAM_FLOAT)) {
            mof_strbuf_puts(&sb, " ");
            put_range(&sb, d);
        }
    }
    return mof_strbuf_take(&sb);
}

void mof_params_describe(FILE *out, const mof_param_desc *params, const char *indent)
{
    size_t n = count_params(params);
    if (!out || n == 0)
        return;
    if (!indent)
        indent = "";
    char **types = mof_calloc(n, sizeof(*types));
    char **defs = mof_calloc(n, sizeof(*defs));
    if (!types || !defs)
        goto out;
    int wname = 0, wtype = 0, wdef = 0;
    for (size_t i = 0; i < n; i++) {
        types[i] = describe_type(&params[i]);
        defs[i] = describe_default(&params[i]);
        if (!types[i] || !defs[i])
            goto out;
        int l = (int)strlen(params[i].name);
        wname = l > wname ? l : wname;
        l = (int)strlen(types[i]);
        wtype = l > wtype ? l : wtype;
        l = (int)strlen(defs[i]);
        wdef = l > wdef ? l : wdef;
    }
    for (size_t i = 0; i < n; i++) {
        const char *help = params[i].help;
        if (help && help[0])
            fprintf(out, "%s%-*s  %-*s  %-*s  %s\n", indent, wname, params[i].name, wtype,
                    types[i], wdef, defs[i], help);
        else
            fprintf(out, "%s%-*s  %-*s  %s\n", indent, wname, params[i].name, wtype,
                    types[i], defs[i]);
    }
out:
    for (size_t i = 0; i < n; i++) {
        if (types)
            free(types[i]);
        if (defs)
            free(defs[i]);
    }
    free(types);
    free(defs);
}
