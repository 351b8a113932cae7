/* fuzz_common.c: the checks every fuzz harness runs on a model it got to load. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

bool mof_fuzz_accepted;

static void print_diags(const mof_context *ctx)
{
    for (size_t i = 0; ctx && i < mof_context_n_diags(ctx); i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        fprintf(stderr, "  diag: %s\n", s ? s : "(out of memory)");
        free(s);
    }
}

void mof_fuzz_fail(const mof_context *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: invariant broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    print_diags(ctx);
    fflush(stderr);
    abort();
}

void mof_fuzz_check_failure_reported(const mof_context *ctx, const char *what)
{
    if (mof_context_n_errors(ctx) == 0)
        mof_fuzz_fail(ctx, "%s failed without reporting an error", what);
    for (size_t i = 0; i < mof_context_n_diags(ctx); i++) {
        const mof_diag *d = mof_context_diag(ctx, i);
        char *s = mof_diag_format(d);
        if (!s)
            mof_fuzz_fail(ctx, "cannot format diagnostic %zu", i);
        if (d->severity == MOF_SEVERITY_ERROR && (!d->message || !d->message[0]))
            mof_fuzz_fail(ctx, "%s: error diagnostic %zu has no message", what, i);
        free(s);
    }
}

/* The model as mof writes it; NULL (after failing) when the save fails. */
static uint8_t *save(mof_context *ctx, const mof_model *m, size_t *size, const char *what)
{
    void *data = NULL;
    mof_status st = mof_model_save_buffer(m, &data, size);
    if (st == MOF_ERR_NOMEM)
        mof_fuzz_fail(ctx, "%s: out of memory", what);
    if (st != MOF_OK)
        mof_fuzz_fail(ctx, "%s: mof_model_save_buffer failed: %s", what, mof_status_str(st));
    return data;
}

static bool same_bytes(const uint8_t *a, size_t na, const uint8_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na) == 0);
}

static void exercise_text(mof_context *ctx, const mof_model *m, mof_status verified)
{
    char *t1 = mof_model_print_text(m, NULL);
    if (!t1)
        mof_fuzz_fail(ctx, "mof_model_print_text returned NULL");
    /* A bounded print and one listing inferred types take other paths of the printer. */
    mof_text_options opts;
    mof_text_options_init(&opts);
    opts.max_elements = 4;
    opts.value_types = true;
    char *t_short = mof_model_print_text(m, &opts);
    if (!t_short)
        mof_fuzz_fail(ctx, "mof_model_print_text (max_elements 4) returned NULL");
    free(t_short);

    /* Only a model that verifies must print as text that parses back: the parser
     * rejects what mof_graph_verify rejects (a value defined twice, ...). A string
     * holding a NUL byte cannot be printed, so a parse error is not a bug then. */
    if (verified != MOF_OK) {
        free(t1);
        return;
    }
    mof_context *c2 = mof_context_create();
    if (!c2)
        mof_fuzz_fail(NULL, "mof_context_create failed");
    mof_model *m2 = mof_model_parse_text(c2, t1, strlen(t1), "printed.onnxtxt");
    if (m2) {
        char *t2 = mof_model_print_text(m2, NULL);
        if (!t2)
            mof_fuzz_fail(c2, "mof_model_print_text returned NULL");
        mof_model *m3 = mof_model_parse_text(c2, t2, strlen(t2), "reprinted.onnxtxt");
        if (!m3)
            mof_fuzz_fail(c2, "text printed from a parsed model does not parse:\n%s", t2);
        char *t3 = mof_model_print_text(m3, NULL);
        if (!t3)
            mof_fuzz_fail(c2, "mof_model_print_text returned NULL");
        if (strcmp(t2, t3) != 0)
            mof_fuzz_fail(c2, "printing is not stable over a text round trip:\n--- once\n%s"
                              "--- twice\n%s", t2, t3);
        free(t3);
        mof_model_destroy(m3);
        free(t2);
        mof_model_destroy(m2);
    } else {
        mof_fuzz_check_failure_reported(c2, "parsing printed text");
    }
    mof_context_destroy(c2);
    free(t1);
}

void mof_fuzz_exercise_model(mof_context *ctx, mof_model *m)
{
    mof_graph *g = mof_model_graph(m);
    if (!g)
        mof_fuzz_fail(ctx, "a loaded model has no main graph");
    size_t errors_before = mof_context_n_errors(ctx);
    mof_status verified = mof_graph_verify(ctx, g);
    if (verified != MOF_OK && verified != MOF_ERR_VERIFY)
        mof_fuzz_fail(ctx, "mof_graph_verify returned %s", mof_status_str(verified));
    if (verified == MOF_ERR_VERIFY && mof_context_n_errors(ctx) == errors_before)
        mof_fuzz_fail(ctx, "mof_graph_verify failed without reporting why");
    mof_model_stats stats;
    mof_model_get_stats(m, &stats);
    (void)mof_model_producer_name(m);
    for (size_t i = 0; i < mof_model_n_opsets(m); i++)
        (void)mof_model_opset_domain(m, i);

    size_t n1 = 0, n2 = 0, nd = 0;
    uint8_t *b1 = save(ctx, m, &n1, "saving the loaded model");

    /* A copy writes the same bytes. */
    mof_model *dup = mof_model_dup(m);
    if (!dup)
        mof_fuzz_fail(ctx, "mof_model_dup returned NULL");
    uint8_t *bd = save(ctx, dup, &nd, "saving a copy");
    if (!same_bytes(b1, n1, bd, nd))
        mof_fuzz_fail(ctx, "a copy of the model saves to other bytes (%zu vs %zu)", n1, nd);
    free(bd);
    mof_model_destroy(dup);

    /* What mof writes, mof reads back, and writing it again changes nothing. */
    mof_model *back = mof_model_load_buffer(ctx, b1, n1, "saved.onnx", NULL);
    if (!back)
        mof_fuzz_fail(ctx, "a model mof saved does not load back");
    uint8_t *b2 = save(ctx, back, &n2, "saving the reloaded model");
    if (!same_bytes(b1, n1, b2, n2))
        mof_fuzz_fail(ctx, "save, load, save is not stable (%zu vs %zu bytes)", n1, n2);
    mof_status verified_back = mof_graph_verify(ctx, mof_model_graph(back));
    if (verified_back != verified)
        mof_fuzz_fail(ctx, "the reloaded model verifies as %s, the original as %s",
                      mof_status_str(verified_back), mof_status_str(verified));
    free(b2);
    mof_model_destroy(back);
    free(b1);

    exercise_text(ctx, m, verified);
}
