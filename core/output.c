/* output.c: outputs written under a temporary name and renamed into place.
 *
 * A file output is a mkstemp() file ".NAME.tmp-XXXXXX" beside its target; a folder
 * output is a mkdtemp() folder of the same form. Committing flushes and syncs, then
 * renames over the target; an existing folder (or a file in the way of one) is first
 * moved aside to ".NAME.old-XXXXXX" and deleted once the new one is in place, so that
 * at every moment the target is either the old output or the new one. Aborting
 * removes the temporary file or folder. Nothing is ever half-written at the target. */
#define _XOPEN_SOURCE 700 /* mkstemp, mkdtemp, nftw, realpath, lstat */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mof/io.h>

#include "util.h"

struct mof_output {
    mof_context *ctx;
    bool is_dir;
    char *path;  /* the target */
    char *tmp;   /* where it is written now */
    FILE *f;     /* file outputs */
};

static mof_status out_fail(mof_context *ctx, const char *path, mof_status st,
                           const char *fmt, ...) MOF_PRINTF(4, 5);

static mof_status out_fail(mof_context *ctx, const char *path, mof_status st,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mof_vreport(ctx, MOF_SEVERITY_ERROR, st, &(mof_location){.file = path}, fmt, ap);
    va_end(ap);
    return st;
}

/* The process umask, read without changing it where the kernel tells it. */
static mode_t current_umask(void)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (f) {
        char line[256];
        unsigned mask;
        while (fgets(line, sizeof(line), f)) {
            if (sscanf(line, "Umask: %o", &mask) == 1) {
                fclose(f);
                return (mode_t)mask;
            }
        }
        fclose(f);
    }
    mode_t m = umask(022);
    umask(m);
    return m;
}

/* The last component of path (trailing slashes ignored): its offset and length.
 * False when there is none to put a sibling beside ("/", ".", ".."). */
static bool last_component(const char *path, size_t *start, size_t *len)
{
    size_t end = strlen(path);
    while (end > 1 && path[end - 1] == '/')
        end--;
    size_t base = end;
    while (base > 0 && path[base - 1] != '/')
        base--;
    *start = base;
    *len = end - base;
    return *len && !(*len == 1 && path[base] == '.') &&
           !(*len == 2 && path[base] == '.' && path[base + 1] == '.');
}

/* "DIR/.BASE.KIND-XXXXXX" for a path whose last component is valid; NULL when out
 * of memory. */
static char *sibling_template(const char *path, const char *kind)
{
    size_t base, len;
    if (!last_component(path, &base, &len))
        return NULL;
    return mof_asprintf("%.*s.%.*s.%s-XXXXXX", (int)base, path, (int)len, path + base, kind);
}

static void output_free(mof_output *o)
{
    free(o->path);
    free(o->tmp);
    free(o);
}

static mof_output *output_new(mof_context *ctx, const char *path, bool is_dir)
{
    if (!path || !*path) {
        out_fail(ctx, NULL, MOF_ERR_INVALID_ARG, "no output path given");
        return NULL;
    }
    mof_output *o = calloc(1, sizeof(*o));
    if (!o || !(o->path = mof_strdup(path))) {
        free(o);
        out_fail(ctx, path, MOF_ERR_NOMEM, "out of memory");
        return NULL;
    }
    o->ctx = ctx;
    o->is_dir = is_dir;
    size_t base, len;
    if (!last_component(path, &base, &len)) {
        out_fail(ctx, path, MOF_ERR_INVALID_ARG, "not a valid output path");
        output_free(o);
        return NULL;
    }
    if (!(o->tmp = sibling_template(path, "tmp"))) {
        out_fail(ctx, path, MOF_ERR_NOMEM, "out of memory");
        output_free(o);
        return NULL;
    }
    return o;
}

mof_output *mof_output_open_file(mof_context *ctx, const char *path)
{
    mof_output *o = output_new(ctx, path, false);
    if (!o)
        return NULL;
    int fd = mkstemp(o->tmp);
    if (fd < 0) {
        out_fail(ctx, path, MOF_ERR_IO, "cannot create a temporary file beside it: %s",
                 strerror(errno));
        output_free(o);
        return NULL;
    }
    /* mkstemp makes the file private; give it the permissions a new file gets. */
    (void)fchmod(fd, 0666 & ~current_umask());
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        out_fail(ctx, path, MOF_ERR_IO, "cannot open the temporary file: %s", strerror(errno));
        close(fd);
        unlink(o->tmp);
        output_free(o);
        return NULL;
    }
    return o;
}

mof_output *mof_output_open_dir(mof_context *ctx, const char *path)
{
    mof_output *o = output_new(ctx, path, true);
    if (!o)
        return NULL;
    if (!mkdtemp(o->tmp)) {
        out_fail(ctx, path, MOF_ERR_IO, "cannot create a temporary folder beside it: %s",
                 strerror(errno));
        output_free(o);
        return NULL;
    }
    (void)chmod(o->tmp, 0777 & ~current_umask());
    return o;
}

FILE *mof_output_file(mof_output *o)
{
    return o && !o->is_dir ? o->f : NULL;
}

const char *mof_output_path(const mof_output *o)
{
    return o ? o->tmp : NULL;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) != 0 ? -1 : 0;
}

/* Removes a file or a folder tree, never following symbolic links. */
static int remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path);
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Makes the rename durable; a failure here does not undo the output. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? mof_strndup(path, slash == path ? 1 : (size_t)(slash - path))
                      : mof_strdup(".");
    if (!dir)
        return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

static mof_status commit_file(mof_output *o)
{
    int err = 0;
    if (fflush(o->f) != 0 || (fsync(fileno(o->f)) != 0 && errno != EINVAL))
        err = errno;
    if (fclose(o->f) != 0 && !err)
        err = errno;
    o->f = NULL;
    if (err) {
        unlink(o->tmp);
        return out_fail(o->ctx, o->path, MOF_ERR_IO, "cannot write: %s", strerror(err));
    }
    if (rename(o->tmp, o->path) != 0) {
        err = errno;
        unlink(o->tmp);
        return out_fail(o->ctx, o->path, MOF_ERR_IO, "cannot rename the output into place: %s",
                        strerror(err));
    }
    sync_parent(o->path);
    return MOF_OK;
}

static mof_status commit_dir(mof_output *o)
{
    char *aside = NULL;
    struct stat st;
    mof_status status = MOF_OK;
    if (lstat(o->path, &st) == 0) {
        /* A directory can only be renamed over an empty one: move the old output
         * aside (onto an empty placeholder of its own kind) first. */
        aside = sibling_template(o->path, "old");
        bool made = false;
        if (aside && S_ISDIR(st.st_mode)) {
            made = mkdtemp(aside) != NULL;
        } else if (aside) {
            int fd = mkstemp(aside);
            if ((made = fd >= 0))
                close(fd);
        }
        if (!made || rename(o->path, aside) != 0) {
            status = out_fail(o->ctx, o->path, MOF_ERR_IO,
                              "cannot move the existing output aside: %s", strerror(errno));
            if (made)
                remove_tree(aside);
            goto fail;
        }
    } else if (errno != ENOENT) {
        status = out_fail(o->ctx, o->path, MOF_ERR_IO, "cannot replace: %s", strerror(errno));
        goto fail;
    }
    if (rename(o->tmp, o->path) != 0) {
        status = out_fail(o->ctx, o->path, MOF_ERR_IO, "cannot rename the output into place: %s",
                          strerror(errno));
        if (aside)
            (void)rename(aside, o->path);
        goto fail;
    }
    sync_parent(o->path);
    if (aside && remove_tree(aside) != 0)
        mof_report(o->ctx, MOF_SEVERITY_WARNING, MOF_ERR_IO, &(mof_location){.file = aside},
                   "cannot remove the previous output: %s", strerror(errno));
    free(aside);
    return MOF_OK;
fail:
    remove_tree(o->tmp);
    free(aside);
    return status;
}

mof_status mof_output_commit(mof_output *o)
{
    if (!o)
        return MOF_ERR_INVALID_ARG;
    mof_status st = o->is_dir ? commit_dir(o) : commit_file(o);
    output_free(o);
    return st;
}

void mof_output_abort(mof_output *o)
{
    if (!o)
        return;
    if (o->f)
        fclose(o->f);
    remove_tree(o->tmp);
    output_free(o);
}
