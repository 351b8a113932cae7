/* fuzz_pipeline.c: fuzz harness of the pipeline parser: the XML file
 * (mof_pipeline_load_buffer: well-formedness, the RELAX NG schema, pass and backend
 * names and parameters checked against the registered plugins, contracts), then, for
 * a pipeline that loads, its accessors and the --set and --input-shape parsers; and
 * the one-line form (mof_pipeline_parse_list) of the same bytes. Nothing runs.
 *
 * The plugins come from MOF_PLUGIN_PATH (make check sets it to the plugins of the
 * build tree), loaded once into a context shared by all inputs.
 *
 * A <plugin path="..."> would make the parser dlopen whatever the fuzzer writes. The
 * relative paths are resolved against a folder that does not exist, so they all fail
 * to open; an input whose plugin path could be absolute (a path attribute value that
 * starts with '/' or a reference '&', or an ATTLIST that could default one) is
 * skipped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Never created: relative <plugin> paths resolve under it and cannot be opened. */
#define NO_DIR "/nonexistent/mof-fuzz-plugins"

static mof_context *shared_ctx;

static void release_ctx(void)
{
    mof_context_destroy(shared_ctx);
    shared_ctx = NULL;
}

static mof_context *get_ctx(void)
{
    if (shared_ctx)
        return shared_ctx;
    shared_ctx = mof_context_create();
    if (!shared_ctx)
        mof_fuzz_fail(NULL, "mof_context_create failed");
    /* Plugins that fail to load are reported on the context; the passes of the others
     * are still registered, and unknown names are part of what is fuzzed anyway. */
    (void)mof_context_load_default_plugins(shared_ctx, 0, NULL);
    if (mof_context_n_passes(shared_ctx) == 0)
        fprintf(stderr, "fuzz_pipeline: no pass plugin found (set MOF_PLUGIN_PATH); "
                        "every pass name is unknown\n");
    mof_context_clear_diags(shared_ctx);
    atexit(release_ctx);
    return shared_ctx;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

static bool is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* False when a <plugin> of this input could name an absolute path. */
static bool plugin_paths_are_safe(const uint8_t *data, size_t size)
{
    if (!find(data, size, "plugin"))
        return true;
    if (find(data, size, "ATTLIST"))
        return false;
    const uint8_t *end = data + size, *p = data;
    while ((p = find(p, (size_t)(end - p), "path")) != NULL) {
        const uint8_t *q = p + 4;
        while (q < end && is_space(*q))
            q++;
        if (q < end && *q == '=') {
            q++;
            while (q < end && is_space(*q))
                q++;
            if (q < end && (*q == '"' || *q == '\'')) {
                q++;
                if (q < end && (*q == '/' || *q == '&'))
                    return false;
            }
        }
        p += 4;
    }
    return true;
}

static void exercise_pipeline(mof_context *ctx, mof_pipeline *p, const char *text)
{
    const char *name = mof_pipeline_name(p);
    if (!name)
        mof_fuzz_fail(ctx, "a loaded pipeline has no name");
    const char *hash = mof_pipeline_hash(p);
    if (!hash || strlen(hash) != 64 || strspn(hash, "0123456789abcdef") != 64)
        mof_fuzz_fail(ctx, "the pipeline hash is not 64 hex digits: '%s'",
                      hash ? hash : "(null)");
    (void)mof_pipeline_n_passes(p);
    size_t nb = mof_pipeline_n_backends(p);
    for (size_t i = 0; i < nb; i++) {
        if (!mof_pipeline_backend_name(p, i))
            mof_fuzz_fail(ctx, "backend step %zu has no name", i);
        size_t np = mof_pipeline_backend_n_params(p, i);
        for (size_t j = 0; j < np; j++) {
            const char *value = NULL;
            if (!mof_pipeline_backend_param(p, i, j, &value) || !value)
                mof_fuzz_fail(ctx, "backend step %zu: parameter %zu has no name or value",
                              i, j);
        }
    }
    /* The same bytes as a --set and an --input-shape assignment: either is accepted or
     * refused with a diagnostic. */
    size_t before = mof_context_n_errors(ctx);
    mof_status st = mof_pipeline_set(p, text);
    if (st < 0 && st != MOF_ERR_NOMEM && mof_context_n_errors(ctx) == before)
        mof_fuzz_fail(ctx, "mof_pipeline_set refused '%s' without a diagnostic", text);
    before = mof_context_n_errors(ctx);
    st = mof_pipeline_set_input_shape(p, text);
    if (st < 0 && st != MOF_ERR_NOMEM && mof_context_n_errors(ctx) == before)
        mof_fuzz_fail(ctx, "mof_pipeline_set_input_shape refused '%s' without a diagnostic",
                      text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mof_fuzz_accepted = false;
    if (!plugin_paths_are_safe(data, size))
        return 0;
    mof_context *ctx = get_ctx();
    mof_context_clear_diags(ctx);

    /* The one-line form and the assignments read NUL-terminated strings. */
    char *text = malloc(size + 1);
    if (!text)
        mof_fuzz_fail(NULL, "out of memory");
    memcpy(text, data, size);
    text[size] = '\0';

    mof_pipeline *p = mof_pipeline_load_buffer(ctx, (const char *)data, size, "fuzz.xml",
                                               NO_DIR);
    if (p) {
        mof_fuzz_accepted = true;
        exercise_pipeline(ctx, p, text);
        mof_pipeline_destroy(p);
    } else {
        mof_fuzz_check_failure_reported(ctx, "mof_pipeline_load_buffer");
    }

    mof_context_clear_diags(ctx);
    p = mof_pipeline_parse_list(ctx, text);
    if (p)
        mof_pipeline_destroy(p);
    else if (mof_context_n_errors(ctx) == 0)
        mof_fuzz_fail(ctx, "mof_pipeline_parse_list failed without reporting an error");
    mof_context_clear_diags(ctx);
    free(text);
    return 0;
}
