/* load_text.c: text model files: reading one (mof_model_load_text, which
 * mof_model_load calls for *.onnxtxt) and writing one through an atomic output. */
#define _POSIX_C_SOURCE 200809L /* fileno */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mof/io.h>
#include <mof/text.h>

#include "onnx_text.h"

bool mof_path_is_text_model(const char *path)
{
    size_t n = path ? strlen(path) : 0, k = strlen(MOF_TEXT_EXTENSION);
    return n > k && strcmp(path + n - k, MOF_TEXT_EXTENSION) == 0;
}

mof_model *mof_model_load_text(mof_context *ctx, const char *path)
{
    mof_location loc = {path, 0, 0};
    if (!path) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_INVALID_ARG, NULL, "no model file given");
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) != 0) {
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "cannot open: %s", strerror(errno));
        if (f)
            fclose(f);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        fclose(f);
        mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "%s",
                   S_ISDIR(st.st_mode) ? "is a directory, not a text model"
                                       : "not a regular file");
        return NULL;
    }
    /* Read to the end rather than trusting st_size: the file may be growing. */
    char *text = NULL;
    size_t len = 0, cap = 0;
    mof_model *m = NULL;
    for (;;) {
        if (len == cap) {
            size_t ncap = cap ? 2 * cap : (size_t)st.st_size + 4096;
            char *p = ncap > cap ? realloc(text, ncap) : NULL;
            if (!p) {
                mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, &loc, "out of memory");
                goto out;
            }
            text = p;
            cap = ncap;
        }
        size_t got = fread(text + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "cannot read: %s",
                           strerror(errno));
                goto out;
            }
            break;
        }
    }
    m = mof_model_parse_text(ctx, text, len, path);
out:
    free(text);
    fclose(f);
    return m;
}

mof_status mof_model_save_text(const mof_model *model, const char *path,
                               const mof_text_options *opts)
{
    mof_context *ctx = mof_model_context(model);
    char *text = mof_model_print_text(model, opts);
    if (!text)
        return mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_NOMEM, NULL, "out of memory");
    mof_output *o = mof_output_open_file(ctx, path);
    mof_status st = MOF_ERR_IO;
    if (o) {
        FILE *f = mof_output_file(o);
        if (fputs(text, f) == EOF) {
            mof_location loc = {path, 0, 0};
            mof_report(ctx, MOF_SEVERITY_ERROR, MOF_ERR_IO, &loc, "cannot write: %s",
                       strerror(errno));
            mof_output_abort(o);
        } else {
            st = mof_output_commit(o);
        }
    }
    free(text);
    return st;
}
