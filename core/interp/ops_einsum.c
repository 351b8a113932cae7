/* ops_einsum.c: Einsum in the reference interpreter.
 *
 * The equation names each dim of each operand with a letter (a-z, A-Z); "..." stands
 * for the dims no letter names, right-aligned and broadcast across operands like numpy
 * operands. The output is given after "->", or else (implicit form) it is the
 * ellipsis dims followed by the letters used exactly once, in ASCII order, as numpy
 * does. A letter repeated within an operand takes its diagonal; a letter not in the
 * output is summed over.
 *
 * The kernel is the definition, written out: for each output element, the sum over
 * every value of the summed labels of the product of the operands' elements. Each
 * operand is read through a stride per label (the sum of the strides of its dims with
 * that label, 0 along a dim of size 1 that broadcasts), so diagonals and broadcasting
 * cost nothing extra. Floating types accumulate in double, integers in 64 bits
 * (wrapping); the result is stored once in the operands' type. */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "interp/kernel.h"

/* Labels 0-51 are the letters; ellipsis dim j (of n_ell) is label 52 + j. */
#define EIN_LETTERS 52

typedef struct einsum {
    size_t n_ops;
    int **labels;            /* labels[k]: one label per dim of operand k (owned) */
    int *ranks;              /* operand ranks */
    int n_ell;               /* ellipsis dims of the broadcast result */
    int n_labels;            /* EIN_LETTERS + n_ell */
    int out_rank;
    int *out;                /* the output's labels (owned) */
} einsum;

static void einsum_free(einsum *e)
{
    for (size_t k = 0; e->labels && k < e->n_ops; k++)
        free(e->labels[k]);
    free(e->labels);
    free(e->ranks);
    free(e->out);
    *e = (einsum){0};
}

static int letter_label(char c)
{
    if (c >= 'a' && c <= 'z')
        return c - 'a';
    if (c >= 'A' && c <= 'Z')
        return 26 + c - 'A';
    return -1;
}

/* A term of the equation: its letters' labels in order and where "..." stands (-1:
 * nowhere). Spaces are skipped. False, with *why set, when it is malformed. */
static bool parse_term(const char *s, size_t len, int *letters, int *n, int *ell,
                       const char **why)
{
    *n = 0;
    *ell = -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == ' ')
            continue;
        if (s[i] == '.') {
            if (*ell >= 0 || i + 2 >= len || s[i + 1] != '.' || s[i + 2] != '.') {
                *why = "a term has a stray '.' or more than one ellipsis";
                return false;
            }
            *ell = *n;
            i += 2;
            continue;
        }
        int l = letter_label(s[i]);
        if (l < 0) {
            *why = "a term holds a character other than a letter or '...'";
            return false;
        }
        letters[(*n)++] = l;
    }
    return true;
}

/* Parses eq for n_ops operands of the given ranks (-1: unknown, allowed only for a term
 * without an ellipsis, whose rank its letters tell). */
static bool einsum_parse(const char *eq, size_t n_ops, const int *ranks, einsum *e,
                         const char **why)
{
    *e = (einsum){.n_ops = n_ops};
    size_t len = strlen(eq);
    const char *arrow = strstr(eq, "->");
    size_t lhs = arrow ? (size_t)(arrow - eq) : len;
    e->labels = mof_calloc(n_ops ? n_ops : 1, sizeof(*e->labels));
    e->ranks = mof_calloc(n_ops ? n_ops : 1, sizeof(*e->ranks));
    int *letters = mof_calloc(len + 1, sizeof(int));
    int *ell_at = mof_calloc(n_ops ? n_ops : 1, sizeof(int));
    int *n_let = mof_calloc(n_ops ? n_ops : 1, sizeof(int));
    int **let = mof_calloc(n_ops ? n_ops : 1, sizeof(int *));
    int count[EIN_LETTERS] = {0};
    bool ok = false;
    *why = "out of memory";
    if (!e->labels || !e->ranks || !letters || !ell_at || !n_let || !let)
        goto done;
    /* The terms, and how many dims each ellipsis stands for. */
    size_t start = 0;
    for (size_t k = 0; k < n_ops; k++) {
        const char *comma = memchr(eq + start, ',', lhs - start);
        size_t end = comma ? (size_t)(comma - eq) : lhs;
        if (!comma && k + 1 < n_ops) {
            *why = "the equation has fewer terms than the node has inputs";
            goto done;
        }
        if (!(let[k] = mof_calloc(end - start + 1, sizeof(int))) ||
            !parse_term(eq + start, end - start, let[k], &n_let[k], &ell_at[k], why))
            goto done;
        int r = ranks[k];
        if (r < 0 && ell_at[k] >= 0) {
            *why = "unknown rank";
            goto done;
        }
        if (r < 0)
            r = n_let[k];
        if (ell_at[k] < 0 ? r != n_let[k] : r < n_let[k]) {
            *why = "a term does not have as many letters as its operand has dims";
            goto done;
        }
        e->ranks[k] = r;
        if (ell_at[k] >= 0 && r - n_let[k] > e->n_ell)
            e->n_ell = r - n_let[k];
        for (int i = 0; i < n_let[k]; i++)
            count[let[k][i]]++;
        start = end + 1;
        if (k + 1 == n_ops && comma) {
            *why = "the equation has more terms than the node has inputs";
            goto done;
        }
    }
    e->n_labels = EIN_LETTERS + e->n_ell;
    for (size_t k = 0; k < n_ops; k++) {
        int r = e->ranks[k], ne = ell_at[k] >= 0 ? r - n_let[k] : 0;
        if (!(e->labels[k] = mof_calloc((size_t)r + 1, sizeof(int))))
            goto done;
        for (int d = 0, i = 0; d < r; d++) {
            if (ell_at[k] >= 0 && d >= ell_at[k] && d < ell_at[k] + ne)
                e->labels[k][d] = EIN_LETTERS + e->n_ell - ne + (d - ell_at[k]);
            else
                e->labels[k][d] = let[k][i++];
        }
    }
    /* The output. */
    int n_out = 0, out_ell = -1;
    if (arrow) {
        size_t olen = len - lhs - 2;
        if (!parse_term(arrow + 2, olen, letters, &n_out, &out_ell, why))
            goto done;
        for (int i = 0; i < n_out; i++) {
            bool seen = false;
            for (int j = 0; j < i; j++)
                seen = seen || letters[j] == letters[i];
            if (seen || !count[letters[i]]) {
                *why = "an output letter is repeated or names no input dim";
                goto done;
            }
        }
    } else {
        out_ell = 0;
        for (int l = 0; l < EIN_LETTERS; l++) {
            /* ASCII order: the uppercase letters first. */
            int lab = l < 26 ? 26 + l : l - 26;
            if (count[lab] == 1)
                letters[n_out++] = lab;
        }
    }
    int oe = out_ell >= 0 ? e->n_ell : 0;
    e->out_rank = n_out + oe;
    if (!(e->out = mof_calloc((size_t)e->out_rank + 1, sizeof(int))))
        goto done;
    for (int d = 0, i = 0; d < e->out_rank; d++) {
        if (out_ell >= 0 && d >= out_ell && d < out_ell + oe)
            e->out[d] = EIN_LETTERS + (d - out_ell);
        else
            e->out[d] = letters[i++];
    }
    ok = true;
done:
    for (size_t k = 0; let && k < n_ops; k++)
        free(let[k]);
    free(let);
    free(letters);
    free(ell_at);
    free(n_let);
    if (!ok)
        einsum_free(e);
    return ok;
}

/* The size of each label (-1: unused); false with *why when operands disagree. A dim of
 * size 1 broadcasts. */
static bool einsum_sizes(const einsum *e, const mof_tensor *const *ts, int64_t *size,
                         const char **why)
{
    for (int l = 0; l < e->n_labels; l++)
        size[l] = -1;
    for (size_t k = 0; k < e->n_ops; k++) {
        for (int d = 0; d < e->ranks[k]; d++) {
            int l = e->labels[k][d];
            int64_t s = ts[k]->dims[d];
            if (size[l] < 0 || size[l] == 1)
                size[l] = s;
            else if (s != 1 && s != size[l]) {
                *why = "operands give one label different sizes";
                return false;
            }
        }
    }
    for (int d = 0; d < e->out_rank; d++)
        if (size[e->out[d]] < 0)
            size[e->out[d]] = 1;
    return true;
}

static mof_status k_einsum(mof_kernel_ctx *kc, size_t n_in, mof_tensor *const *in,
                           size_t n_out, mof_tensor **out)
{
    if (n_in == 0)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "Einsum needs an input");
    mof_status st = mof_kernel_need_inputs(kc, n_in, in, n_in);
    if (st != MOF_OK)
        return st;
    mof_dtype dt = in[0]->dtype;
    bool is_float = mof_dtype_is_float(dt);
    if (!is_float && !mof_dtype_is_int(dt))
        return mof_kernel_unsupported_type(kc, dt);
    for (size_t k = 1; k < n_in; k++)
        if (in[k]->dtype != dt)
            return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "input %zu is %s, input 0 is %s",
                                    k, mof_dtype_name(in[k]->dtype), mof_dtype_name(dt));
    const char *eq = mof_node_attr_string(kc->node, "equation", NULL, NULL);
    if (!eq)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "attribute 'equation' is missing");
    int *ranks = mof_calloc(n_in, sizeof(int));
    if (!ranks)
        return mof_kernel_nomem(kc);
    for (size_t k = 0; k < n_in; k++)
        ranks[k] = (int)in[k]->rank;
    einsum e;
    const char *why;
    bool parsed = einsum_parse(eq, n_in, ranks, &e, &why);
    free(ranks);
    if (!parsed)
        return mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "equation '%s': %s", eq, why);
    size_t nl = (size_t)e.n_labels;
    int64_t *size = mof_calloc(nl, sizeof(int64_t));
    int64_t *str = mof_calloc(nl * n_in, sizeof(int64_t));  /* str[k * nl + l] */
    int64_t *dims = mof_calloc((size_t)e.out_rank + 1, sizeof(int64_t));
    int *sum = mof_calloc(nl, sizeof(int));
    int64_t *idx = mof_calloc(nl, sizeof(int64_t)), *off = mof_calloc(n_in, sizeof(int64_t));
    mof_tensor *y = NULL;
    int n_sum = 0;
    if (!size || !str || !dims || !sum || !idx || !off) {
        st = mof_kernel_nomem(kc);
        goto done;
    }
    if (!einsum_sizes(&e, (const mof_tensor *const *)in, size, &why)) {
        st = mof_kernel_error(kc, MOF_ERR_INVALID_MODEL, "equation '%s': %s", eq, why);
        goto done;
    }
    for (size_t k = 0; k < n_in; k++) {
        int64_t s = 1;
        for (int d = (int)in[k]->rank; d-- > 0;) {
            if (in[k]->dims[d] != 1)
                str[k * nl + (size_t)e.labels[k][d]] += s;
            s *= in[k]->dims[d];
        }
    }
    /* The summed labels: used by an input, not in the output. */
    for (int l = 0; l < e.n_labels; l++) {
        bool in_out = false;
        for (int d = 0; d < e.out_rank; d++)
            in_out = in_out || e.out[d] == l;
        if (!in_out && size[l] >= 0)
            sum[n_sum++] = l;
    }
    for (int d = 0; d < e.out_rank; d++)
        dims[d] = size[e.out[d]];
    if (!(y = mof_kernel_new_tensor(kc, dt, (size_t)e.out_rank, dims))) {
        st = MOF_ERR_NOMEM;
        goto done;
    }
    int64_t inner = 1;
    for (int j = 0; j < n_sum; j++)
        inner *= size[sum[j]];
    int64_t *oidx = dims;   /* reused: the output index */
    memset(oidx, 0, ((size_t)e.out_rank + 1) * sizeof(int64_t));
    for (int64_t o = 0; o < y->numel; o++) {
        for (size_t k = 0; k < n_in; k++) {
            off[k] = 0;
            for (int d = 0; d < e.out_rank; d++)
                off[k] += oidx[d] * str[k * nl + (size_t)e.out[d]];
        }
        for (int j = 0; j < n_sum; j++)
            idx[j] = 0;
        double accf = 0.0;
        uint64_t acci = 0;
        for (int64_t q = 0; q < inner; q++) {
            if (is_float) {
                double p = 1.0;
                for (size_t k = 0; k < n_in; k++)
                    p *= mof_tensor_get_f64(in[k], off[k]);
                accf += p;
            } else {
                uint64_t p = 1;
                for (size_t k = 0; k < n_in; k++)
                    p *= (uint64_t)mof_tensor_get_i64(in[k], off[k]);
                acci += p;
            }
            /* Next summed index, the offsets following. */
            for (int j = n_sum; j-- > 0;) {
                size_t l = (size_t)sum[j];
                for (size_t k = 0; k < n_in; k++)
                    off[k] += str[k * nl + l];
                if (++idx[j] < size[l])
                    break;
                for (size_t k = 0; k < n_in; k++)
                    off[k] -= str[k * nl + l] * size[l];
                idx[j] = 0;
            }
        }
        if (is_float)
            mof_tensor_set_f64(y, o, accf);
        else
            mof_tensor_set_i64(y, o, (int64_t)acci);
        for (int d = e.out_rank; d-- > 0;) {
            if (++oidx[d] < size[e.out[d]])
                break;
            oidx[d] = 0;
        }
    }
done:
    mof_kernel_set_output(st, y, &out[0]);
    einsum_free(&e);
    free(size);
    free(str);
    free(dims);
    free(sum);
    free(idx);
    free(off);
    return st;
}

/* The output's dims: for each output label, the first input dim with it that is not 1
 * (number or symbol), else 1 when every dim with it is 1, else unknown. */
static mof_status infer_einsum(mof_infer_ctx *ic)
{
    const char *eq = mof_node_attr_string(ic->node, "equation", NULL, NULL);
    const mof_shape *x0 = mof_infer_input(ic, 0);
    if (!eq || !x0 || ic->n_in == 0)
        return MOF_OK;
    mof_dtype dt = x0->dtype;
    int *ranks = mof_calloc(ic->n_in, sizeof(int));
    if (!ranks)
        return MOF_ERR_NOMEM;
    for (size_t k = 0; k < ic->n_in; k++)
        ranks[k] = ic->in[k].present ? ic->in[k].rank : -1;
    einsum e;
    const char *why;
    bool parsed = einsum_parse(eq, ic->n_in, ranks, &e, &why);
    free(ranks);
    if (!parsed)
        return strcmp(why, "unknown rank") ? mof_infer_error(ic, "equation '%s': %s", eq, why)
                                           : mof_infer_set_rank(ic, 0, dt, -1);
    mof_dimvec v;
    mof_status st = mof_dimvec_init(&v, e.out_rank);
    for (int d = 0; st == MOF_OK && d < e.out_rank; d++) {
        bool all_one = true;
        for (size_t k = 0; k < ic->n_in && v.dims[d] < 0 && !v.syms[d]; k++) {
            const mof_shape *s = &ic->in[k];
            for (int j = 0; s->rank >= 0 && j < s->rank; j++) {
                if (e.labels[k][j] != e.out[d] || s->dims[j] == 1)
                    continue;
                all_one = false;
                mof_dimvec_take(&v, d, s, j);
                break;
            }
            all_one = all_one && s->rank >= 0;
        }
        if (all_one && v.dims[d] < 0 && !v.syms[d])
            mof_dimvec_set(&v, d, 1);
    }
    if (st == MOF_OK)
        st = mof_dimvec_emit(ic, 0, dt, &v);
    einsum_free(&e);
    return st;
}

const mof_op_def mof_ops_einsum[] = {
    {"", "Einsum", 12, 0, k_einsum, infer_einsum},
    {0},
};
