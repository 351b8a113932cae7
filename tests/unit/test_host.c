/* test_host.c: the plugin host, against purpose-built plugins (tests/plugins/): one
 * good, and one broken in each way the host must refuse, each giving one exact
 * message; folder scans, MOF_PLUGIN_PATH, static plugins and descriptor checks. */
/* mkdtemp, setenv, symlink and RTLD_NOLOAD. */
#define _GNU_SOURCE
#include "config.h"

#include <check.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mof/mof.h>

#include "testutil.h"

#define PLUGIN_DIR MOF_TEST_BUILDDIR "/tests/plugins/.libs"
#define PLUGIN(name) PLUGIN_DIR "/" name ".so"

/* good_plugin.c, linked into this program as a static plugin (MOF_PLUGIN_STATIC=good). */
const mof_plugin_desc *mof_plugin_entry_good(void);

/* Asserts that ctx holds exactly one diagnostic, formatted as want. */
static void assert_one_diag(const mof_context *ctx, const char *want)
{
    if (mof_context_n_diags(ctx) != 1)
        mof_test_print_diags(ctx);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
    char *s = mof_diag_format(mof_context_diag(ctx, 0));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    free(s);
}

static void assert_diag_eq(const mof_context *ctx, size_t i, const char *want)
{
    ck_assert_uint_gt(mof_context_n_diags(ctx), i);
    char *s = mof_diag_format(mof_context_diag(ctx, i));
    ck_assert_ptr_nonnull(s);
    ck_assert_str_eq(s, want);
    free(s);
}

/* A fresh temporary folder (removed by the fork's end only if empty: tests make few). */
static char *make_temp_dir(void)
{
    char *t = strdup("/tmp/mof-test-host-XXXXXX");
    ck_assert_ptr_nonnull(t);
    ck_assert_ptr_nonnull(mkdtemp(t));
    return t;
}

/* Links dir/name to target. */
static void link_into(const char *dir, const char *name, const char *target)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_int_eq(symlink(target, path), 0);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* Removes a test folder made by make_temp_dir and its entries. */
static void remove_dir(char *dir, const char *const *entries)
{
    char path[4096];
    for (size_t i = 0; entries[i]; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, entries[i]);
        unlink(path);
    }
    rmdir(dir);
    free(dir);
}

/* ------------------------------------------------------------------ the good plugin */

START_TEST(test_load_good)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("good_plugin")), MOF_OK);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    const mof_plugin_info *info = mof_context_plugin(ctx, 0);
    ck_assert_str_eq(info->name, "test-good");
    ck_assert_str_eq(info->version, "1.2.3");
    ck_assert_str_eq(info->description, "passes and a backend for mof's own tests");
    ck_assert_str_eq(info->license, "MIT");
    ck_assert_str_eq(info->path, PLUGIN("good_plugin"));
    ck_assert_uint_eq(info->n_passes, 4);
    ck_assert_uint_eq(info->n_backends, 1);
    ck_assert_ptr_null(mof_context_plugin(ctx, 1));

    /* Sorted by name, whatever the registration order. */
    const char *want[] = { "test-contract-needs-x", "test-fail", "test-noop",
                           "test-provides-x" };
    ck_assert_uint_eq(mof_context_n_passes(ctx), 4);
    for (size_t i = 0; i < 4; i++) {
        size_t pi = 99;
        const mof_pass_desc *p = mof_context_pass(ctx, i, &pi);
        ck_assert_ptr_nonnull(p);
        ck_assert_str_eq(p->name, want[i]);
        ck_assert_uint_eq(pi, 0);
        ck_assert_ptr_eq(mof_context_find_pass(ctx, want[i]), p);
    }
    ck_assert_ptr_null(mof_context_pass(ctx, 4, NULL));
    const mof_pass_desc *noop = mof_context_find_pass(ctx, "test-noop");
    ck_assert_str_eq(noop->params[0].name, "iterations");
    ck_assert_str_eq(noop->params[1].name, "mode");
    ck_assert_str_eq(noop->params[2].name, "verbose");
    ck_assert_ptr_null(noop->params[3].name);
    ck_assert_str_eq(mof_context_find_pass(ctx, "test-contract-needs-x")->requires[0], "x");
    ck_assert_str_eq(mof_context_find_pass(ctx, "test-provides-x")->provides[0], "x");
    ck_assert_ptr_null(mof_context_find_pass(ctx, "test-nope"));
    ck_assert_ptr_null(mof_context_find_pass(ctx, ""));
    ck_assert_ptr_null(mof_context_find_pass(ctx, "a"));
    ck_assert_ptr_null(mof_context_find_pass(ctx, "zzz"));

    ck_assert_uint_eq(mof_context_n_backends(ctx), 1);
    size_t bi = 99;
    const mof_backend_desc *b = mof_context_backend(ctx, 0, &bi);
    ck_assert_str_eq(b->name, "test-null");
    ck_assert_uint_eq(bi, 0);
    ck_assert_ptr_eq(mof_context_find_backend(ctx, "test-null"), b);
    ck_assert_ptr_null(mof_context_find_backend(ctx, "test-noop"));
    ck_assert_ptr_null(mof_context_backend(ctx, 1, NULL));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_load_same_file_twice)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("good_plugin")), MOF_OK);
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("good_plugin")), MOF_UNCHANGED);
    /* Another path to the same file is the same plugin. */
    ck_assert_status(ctx,
                     mof_context_load_plugin(ctx, PLUGIN_DIR "/../.libs/good_plugin.so"),
                     MOF_UNCHANGED);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    ck_assert_uint_eq(mof_context_n_passes(ctx), 4);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_destroy_unloads)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("good_plugin")), MOF_OK);
    void *h = dlopen(PLUGIN("good_plugin"), RTLD_NOW | RTLD_NOLOAD);
    ck_assert_ptr_nonnull(h);
    dlclose(h);
    mof_context_destroy(ctx);
    ck_assert_ptr_null(dlopen(PLUGIN("good_plugin"), RTLD_NOW | RTLD_NOLOAD));
}
END_TEST

START_TEST(test_two_contexts)
{
    mof_context *a = mof_context_create();
    mof_context *b = mof_context_create();
    ck_assert_status(a, mof_context_load_plugin(a, PLUGIN("good_plugin")), MOF_OK);
    ck_assert_status(b, mof_context_load_plugin(b, PLUGIN("good_plugin")), MOF_OK);
    mof_context_destroy(a);
    /* b still holds its own reference. */
    ck_assert_str_eq(mof_context_find_pass(b, "test-noop")->summary, "does nothing (tests)");
    mof_context_destroy(b);
}
END_TEST

/* ------------------------------------------------------------------ broken plugins */

START_TEST(test_bad_abi)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("bad_abi")), MOF_ERR_ABI);
    char want[512];
    snprintf(want, sizeof(want),
             "error: %s: cannot load plugin: ABI mismatch: plugin built for ABI %d, this mof "
             "has ABI %d", PLUGIN("bad_abi"), MOF_ABI_VERSION + 1, MOF_ABI_VERSION);
    assert_one_diag(ctx, want);
    ck_assert_int_eq(mof_context_diag(ctx, 0)->status, MOF_ERR_ABI);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 1);
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 0);
    /* Refused plugins are not kept open. */
    ck_assert_ptr_null(dlopen(PLUGIN("bad_abi"), RTLD_NOW | RTLD_NOLOAD));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_no_entry)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("no_entry")), MOF_ERR_ABI);
    assert_one_diag(ctx, "error: " PLUGIN("no_entry") ": cannot load plugin: no entry point: "
                         "the file does not export 'mof_plugin_entry'");
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 0);
    ck_assert_ptr_null(dlopen(PLUGIN("no_entry"), RTLD_NOW | RTLD_NOLOAD));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_missing_field)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("missing_field")), MOF_ERR_ABI);
    assert_one_diag(ctx, "error: " PLUGIN("missing_field") ": cannot load plugin: descriptor "
                         "is missing the field 'name'");
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 0);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_dup_name)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("good_plugin")), MOF_OK);
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("dup_name")),
                     MOF_ERR_INVALID_ARG);
    assert_one_diag(ctx, "error: " PLUGIN("dup_name") ": cannot load plugin: duplicate plugin "
                         "name: 'test-good' is already loaded from " PLUGIN("good_plugin"));
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->version, "1.2.3");
    ck_assert_ptr_null(mof_context_find_pass(ctx, "test-dup-name-pass"));
    ck_assert_ptr_null(dlopen(PLUGIN("dup_name"), RTLD_NOW | RTLD_NOLOAD));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_dup_pass)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("good_plugin")), MOF_OK);
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("dup_pass")),
                     MOF_ERR_INVALID_ARG);
    assert_one_diag(ctx, "error: " PLUGIN("dup_pass") ": cannot load plugin: pass 'test-noop' "
                         "is already registered by plugin 'test-good'");
    /* Nothing of the refused plugin stays, not even the pass it registered first. */
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    ck_assert_uint_eq(mof_context_n_passes(ctx), 4);
    ck_assert_ptr_null(mof_context_find_pass(ctx, "test-dup-pass-fresh"));
    ck_assert_str_eq(mof_context_find_pass(ctx, "test-noop")->summary, "does nothing (tests)");
    ck_assert_ptr_null(dlopen(PLUGIN("dup_pass"), RTLD_NOW | RTLD_NOLOAD));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_reg_fail)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("reg_fail")),
                     MOF_ERR_INVALID_ARG);
    assert_one_diag(ctx, "error: " PLUGIN("reg_fail") ": cannot load plugin: registration "
                         "failed: register_plugin returned an error (invalid argument)");
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 0);
    ck_assert_uint_eq(mof_context_n_passes(ctx), 0);
    ck_assert_ptr_null(mof_context_find_pass(ctx, "test-reg-fail-early"));
    ck_assert_ptr_null(dlopen(PLUGIN("reg_fail"), RTLD_NOW | RTLD_NOLOAD));
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_cannot_open)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, "/nonexistent/missing.so"), MOF_ERR_IO);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
    char *s = mof_diag_format(mof_context_diag(ctx, 0));
    const char *prefix = "error: /nonexistent/missing.so: cannot load plugin: cannot open: ";
    ck_assert_msg(strncmp(s, prefix, strlen(prefix)) == 0, "got: %s", s);
    ck_assert_msg(strstr(s, "No such file or directory") != NULL, "got: %s", s);
    /* dlerror's own copy of the file name is dropped. */
    ck_assert_msg(strstr(s + strlen(prefix), "missing.so") == NULL, "got: %s", s);
    free(s);

    /* Not a shared object at all. */
    char *dir = make_temp_dir();
    write_file(dir, "text.so", "this is not an ELF file\n");
    char path[4096];
    snprintf(path, sizeof(path), "%s/text.so", dir);
    mof_context_clear_diags(ctx);
    ck_assert_status(ctx, mof_context_load_plugin(ctx, path), MOF_ERR_IO);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
    s = mof_diag_format(mof_context_diag(ctx, 0));
    char want[4200];
    snprintf(want, sizeof(want), "error: %s: cannot load plugin: cannot open: ", path);
    ck_assert_msg(strncmp(s, want, strlen(want)) == 0, "got: %s", s);
    free(s);
    remove_dir(dir, (const char *const[]){ "text.so", NULL });

    mof_context_clear_diags(ctx);
    ck_assert_status(ctx, mof_context_load_plugin(ctx, ""), MOF_ERR_INVALID_ARG);
    assert_one_diag(ctx, "error: cannot load plugin: no file name given");
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_relative_path)
{
    /* A name without a slash is a file in the current folder, not a library to search
     * for. */
    ck_assert_int_eq(chdir(PLUGIN_DIR), 0);
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin(ctx, "good_plugin.so"), MOF_OK);
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->path, "good_plugin.so");
    ck_assert_status(ctx, mof_context_load_plugin(ctx, "libc.so.6"), MOF_ERR_IO);
    mof_context_destroy(ctx);
}
END_TEST

/* ------------------------------------------------------------------ folders */

START_TEST(test_load_dir_order_and_shadowing)
{
    char *dir = make_temp_dir();
    /* Made in reverse order: the scan must sort, not follow the folder. */
    link_into(dir, "40-dup-pass.so", PLUGIN("dup_pass"));
    link_into(dir, "30-abi.so", PLUGIN("bad_abi"));
    link_into(dir, "20-dup-name.so", PLUGIN("dup_name"));
    link_into(dir, "10-good.so", PLUGIN("good_plugin"));
    link_into(dir, ".hidden.so", PLUGIN("bad_abi"));
    write_file(dir, "README", "not a plugin\n");
    write_file(dir, "good.so.bak", "not a plugin\n");

    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin_dir(ctx, dir), MOF_ERR_ABI);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 3);
    char want[4096];
    snprintf(want, sizeof(want),
             "note: %s/20-dup-name.so: skipping plugin 'test-good': shadowed by %s/10-good.so",
             dir, dir);
    assert_diag_eq(ctx, 0, want);
    snprintf(want, sizeof(want),
             "error: %s/30-abi.so: cannot load plugin: ABI mismatch: plugin built for ABI %d, "
             "this mof has ABI %d", dir, MOF_ABI_VERSION + 1, MOF_ABI_VERSION);
    assert_diag_eq(ctx, 1, want);
    snprintf(want, sizeof(want),
             "error: %s/40-dup-pass.so: cannot load plugin: pass 'test-noop' is already "
             "registered by plugin 'test-good'", dir);
    assert_diag_eq(ctx, 2, want);
    ck_assert_uint_eq(mof_context_n_errors(ctx), 2);
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    snprintf(want, sizeof(want), "%s/10-good.so", dir);
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->path, want);

    /* Scanning again finds the same files: nothing new, and only the skipped and the
     * refused ones speak again. */
    mof_context_clear_diags(ctx);
    ck_assert_status(ctx, mof_context_load_plugin_dir(ctx, dir), MOF_ERR_ABI);
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 3);
    mof_context_destroy(ctx);
    remove_dir(dir, (const char *const[]){ "40-dup-pass.so", "30-abi.so", "20-dup-name.so",
                                           "10-good.so", ".hidden.so", "README",
                                           "good.so.bak", NULL });
}
END_TEST

START_TEST(test_load_dir_missing_or_not_a_dir)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin_dir(ctx, "/nonexistent/plugins"), MOF_OK);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);
    ck_assert_status(ctx, mof_context_load_plugin_dir(ctx, PLUGIN("good_plugin")), MOF_ERR_IO);
    assert_one_diag(ctx, "error: " PLUGIN("good_plugin") ": cannot read plugin folder: Not a "
                         "directory");
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 0);
    mof_context_destroy(ctx);
}
END_TEST

START_TEST(test_load_dir_trailing_slash)
{
    char *dir = make_temp_dir();
    link_into(dir, "good.so", PLUGIN("good_plugin"));
    char with_slash[4096];
    snprintf(with_slash, sizeof(with_slash), "%s/", dir);
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_plugin_dir(ctx, with_slash), MOF_OK);
    char want[4096];
    snprintf(want, sizeof(want), "%s/good.so", dir);
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->path, want);
    mof_context_destroy(ctx);
    remove_dir(dir, (const char *const[]){ "good.so", NULL });
}
END_TEST

/* Index of the plugin loaded from path, or -1. */
static long plugin_from(const mof_context *ctx, const char *path)
{
    for (size_t i = 0; i < mof_context_n_plugins(ctx); i++)
        if (strcmp(mof_context_plugin(ctx, i)->path, path) == 0)
            return (long)i;
    return -1;
}

START_TEST(test_plugin_path)
{
    char *a = make_temp_dir();
    char *b = make_temp_dir();
    link_into(a, "good.so", PLUGIN("good_plugin"));
    link_into(b, "dup.so", PLUGIN("dup_name"));
    link_into(b, "fail.so", PLUGIN("reg_fail"));
    char env[8192];
    /* Empty entries are skipped; a missing folder is fine. */
    snprintf(env, sizeof(env), ":%s::/nonexistent/mof-plugins:%s:", a, b);
    ck_assert_int_eq(setenv("MOF_PLUGIN_PATH", env, 1), 0);

    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_load_default_plugins(ctx, 0, NULL), MOF_ERR_INVALID_ARG);
    char path[4096], want[8192];
    snprintf(path, sizeof(path), "%s/good.so", a);
    ck_assert_int_eq(plugin_from(ctx, path), 0);
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->version, "1.2.3");
    snprintf(want, sizeof(want), "note: %s/dup.so: skipping plugin 'test-good': shadowed by %s",
             b, path);
    assert_diag_eq(ctx, 0, want);
    snprintf(want, sizeof(want),
             "error: %s/fail.so: cannot load plugin: registration failed: register_plugin "
             "returned an error (invalid argument)", b);
    assert_diag_eq(ctx, 1, want);
    mof_context_destroy(ctx);

    /* --plugin-dir folders come before MOF_PLUGIN_PATH: b's test-good wins. */
    ctx = mof_context_create();
    const char *extra[] = { b };
    mof_context_load_default_plugins(ctx, 1, extra);
    snprintf(path, sizeof(path), "%s/dup.so", b);
    ck_assert_int_eq(plugin_from(ctx, path), 0);
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->version, "9.9.9");
    snprintf(path, sizeof(path), "%s/good.so", a);
    ck_assert_int_eq(plugin_from(ctx, path), -1);
    ck_assert_ptr_nonnull(mof_context_find_pass(ctx, "test-dup-name-pass"));
    ck_assert_ptr_null(mof_context_find_pass(ctx, "test-noop"));
    mof_context_destroy(ctx);

    /* Without MOF_PLUGIN_PATH only the installed folder is left. */
    ck_assert_int_eq(unsetenv("MOF_PLUGIN_PATH"), 0);
    ctx = mof_context_create();
    mof_context_load_default_plugins(ctx, 0, NULL);
    for (size_t i = 0; i < mof_context_n_plugins(ctx); i++)
        ck_assert_msg(strncmp(mof_context_plugin(ctx, i)->path, mof_installed_plugin_dir(),
                              strlen(mof_installed_plugin_dir())) == 0,
                      "%s", mof_context_plugin(ctx, i)->path);
    mof_context_destroy(ctx);

    remove_dir(a, (const char *const[]){ "good.so", NULL });
    remove_dir(b, (const char *const[]){ "dup.so", "fail.so", NULL });
}
END_TEST

START_TEST(test_installed_paths)
{
    const char *dir = mof_installed_plugin_dir();
    const char *schema = mof_installed_schema_path();
    ck_assert_ptr_nonnull(dir);
    ck_assert_ptr_nonnull(schema);
    ck_assert_str_eq(dir, MOF_PLUGINDIR);
    ck_assert_str_eq(schema, MOF_SCHEMADIR "/pipeline.rng");
}
END_TEST

/* ------------------------------------------------------------------ static plugins */

START_TEST(test_static_plugin)
{
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, mof_plugin_entry_good), MOF_OK);
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    const mof_plugin_info *info = mof_context_plugin(ctx, 0);
    ck_assert_str_eq(info->name, "test-good");
    ck_assert_str_eq(info->path, "(static)");
    ck_assert_uint_eq(info->n_passes, 4);
    ck_assert_uint_eq(info->n_backends, 1);
    ck_assert_ptr_nonnull(mof_context_find_pass(ctx, "test-fail"));
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, mof_plugin_entry_good),
                     MOF_UNCHANGED);
    ck_assert_uint_eq(mof_context_n_diags(ctx), 0);

    /* The same plugin as a module is a different plugin with the same name. */
    ck_assert_status(ctx, mof_context_load_plugin(ctx, PLUGIN("good_plugin")),
                     MOF_ERR_INVALID_ARG);
    assert_one_diag(ctx, "error: " PLUGIN("good_plugin") ": cannot load plugin: duplicate "
                         "plugin name: 'test-good' is already loaded from (static)");

    mof_context_clear_diags(ctx);
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, NULL), MOF_ERR_ABI);
    assert_one_diag(ctx, "error: (static): cannot load plugin: no entry point given");
    mof_context_destroy(ctx);
}
END_TEST

/* Hand-made descriptors, returned by one entry point that serves them in turn. */
static const mof_plugin_desc *current_desc;

static const mof_plugin_desc *current_entry(void)
{
    return current_desc;
}

static mof_status noop_run(mof_pass_ctx *pc, mof_model *model, void *priv)
{
    return MOF_UNCHANGED;
}

static mof_status noop_emit(mof_backend_ctx *bc, const mof_model *model, const char *out,
                            void *priv)
{
    return MOF_OK;
}

/* The passes and backend that the registration below registers for the current case. */
static const mof_pass_desc *case_passes[3];
static const mof_backend_desc *case_backend;
static bool ignore_errors;

static mof_status register_case(mof_registrar *r)
{
    for (size_t i = 0; i < 3 && case_passes[i]; i++) {
        mof_status st = mof_register_pass(r, case_passes[i]);
        if (st != MOF_OK && !ignore_errors)
            return st;
    }
    if (case_backend) {
        mof_status st = mof_register_backend(r, case_backend);
        if (st != MOF_OK && !ignore_errors)
            return st;
    }
    return MOF_OK;
}

/* A well-formed descriptor whose registration is register_case. */
static mof_plugin_desc plugin_desc(void)
{
    return (mof_plugin_desc){ .abi_version = MOF_ABI_VERSION, .size = sizeof(mof_plugin_desc),
                              .build_signature = MOF_BUILD_SIGNATURE, .name = "test-case",
                              .version = "0.0.1", .register_plugin = register_case };
}

/* Registers desc as a static plugin and asserts the one error it gives: its whole
 * text, or (prefix) how it starts. */
static void expect_refused_text(const mof_plugin_desc *desc, mof_status want_status,
                                const char *want_text, bool prefix)
{
    mof_context *ctx = mof_context_create();
    /* Something registered before, to show that a refusal leaves it alone. */
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, mof_plugin_entry_good), MOF_OK);
    current_desc = desc;
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, current_entry), want_status);
    if (prefix) {
        ck_assert_uint_eq(mof_context_n_diags(ctx), 1);
        char *s = mof_diag_format(mof_context_diag(ctx, 0));
        ck_assert_ptr_nonnull(s);
        ck_assert_msg(strncmp(s, want_text, strlen(want_text)) == 0, "got: %s", s);
        free(s);
    } else {
        assert_one_diag(ctx, want_text);
    }
    ck_assert_uint_eq(mof_context_n_plugins(ctx), 1);
    ck_assert_uint_eq(mof_context_n_passes(ctx), 4);
    ck_assert_uint_eq(mof_context_n_backends(ctx), 1);
    mof_context_destroy(ctx);
}

static void expect_refused(const mof_plugin_desc *desc, mof_status want_status,
                           const char *want_text)
{
    expect_refused_text(desc, want_status, want_text, false);
}

static const mof_pass_desc ok_pass = {
    .size = sizeof(mof_pass_desc), .name = "case-ok", .summary = "fine", .run = noop_run
};

START_TEST(test_static_handshake)
{
    mof_plugin_desc d;
    char want[512];

    expect_refused(NULL, MOF_ERR_ABI,
                   "error: (static): cannot load plugin: the entry point returned no "
                   "descriptor");

    d = plugin_desc();
    d.abi_version = 0;
    snprintf(want, sizeof(want), "error: (static): cannot load plugin: ABI mismatch: plugin "
                                 "built for ABI 0, this mof has ABI %d", MOF_ABI_VERSION);
    expect_refused(&d, MOF_ERR_ABI, want);

    d = plugin_desc();
    d.size = 8;
    snprintf(want, sizeof(want), "error: (static): cannot load plugin: descriptor too small: "
                                 "8 bytes, this mof needs at least %zu", sizeof(mof_plugin_desc));
    expect_refused(&d, MOF_ERR_ABI, want);

    d = plugin_desc();
    d.build_signature = "abi=1;ptr=4";
    snprintf(want, sizeof(want), "error: (static): cannot load plugin: build signature "
                                 "mismatch: plugin built with 'abi=1;ptr=4', this mof has '%s'",
             MOF_BUILD_SIGNATURE);
    expect_refused(&d, MOF_ERR_ABI, want);

    d = plugin_desc();
    d.build_signature = NULL;
    expect_refused(&d, MOF_ERR_ABI, "error: (static): cannot load plugin: descriptor is "
                                    "missing the field 'build_signature'");
    d = plugin_desc();
    d.name = "";
    expect_refused(&d, MOF_ERR_ABI, "error: (static): cannot load plugin: descriptor is "
                                    "missing the field 'name'");
    d = plugin_desc();
    d.version = NULL;
    expect_refused(&d, MOF_ERR_ABI, "error: (static): cannot load plugin: descriptor is "
                                    "missing the field 'version'");
    d = plugin_desc();
    d.register_plugin = NULL;
    expect_refused(&d, MOF_ERR_ABI, "error: (static): cannot load plugin: descriptor is "
                                    "missing the field 'register_plugin'");

    /* A good one, with no description or license. */
    d = plugin_desc();
    case_passes[0] = &ok_pass;
    current_desc = &d;
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, current_entry), MOF_OK);
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->description, "");
    ck_assert_str_eq(mof_context_plugin(ctx, 0)->license, "");
    ck_assert_ptr_nonnull(mof_context_find_pass(ctx, "case-ok"));
    mof_context_destroy(ctx);
}
END_TEST

/* A private struct for the parameter cases. */
struct priv {
    int64_t bits;
    double scale;
    int mode;
    bool flag;
};
static const char *const modes[] = { "a", "b", NULL };
static const char *const no_modes[] = { NULL };

/* A pass with one parameter p, checked for the start of the message it gives (the
 * wording after the parameter's name is params.c's). */
static void expect_param_refused(mof_param_desc p, const char *reason)
{
    mof_param_desc table[2] = { p, { 0 } };
    mof_pass_desc pass = { .size = sizeof(mof_pass_desc), .name = "case-params",
                           .summary = "s", .params = table, .priv_size = sizeof(struct priv),
                           .run = noop_run };
    memset(case_passes, 0, sizeof(case_passes));
    case_passes[0] = &pass;
    mof_plugin_desc d = plugin_desc();
    char want[1024];
    snprintf(want, sizeof(want), "error: (static): cannot load plugin: %s", reason);
    expect_refused_text(&d, MOF_ERR_INVALID_ARG, want, true);
    memset(case_passes, 0, sizeof(case_passes));
}

START_TEST(test_static_pass_checks)
{
    mof_plugin_desc d = plugin_desc();
    memset(case_passes, 0, sizeof(case_passes));
    case_backend = NULL;
    ignore_errors = false;

    mof_pass_desc p = ok_pass;
    p.size = 0;
    case_passes[0] = &p;
    char want[512];
    snprintf(want, sizeof(want), "error: (static): cannot load plugin: pass #1: descriptor "
                                 "size is 0 bytes, this mof needs at least %zu (set .size = "
                                 "sizeof(mof_pass_desc))", sizeof(mof_pass_desc));
    expect_refused(&d, MOF_ERR_INVALID_ARG, want);

    p = ok_pass;
    p.name = "Bad_Name";
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass name 'Bad_Name' is not "
                   "kebab-case");
    p.name = NULL;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass #1: descriptor is missing the "
                   "field 'name'");
    p.name = "trailing-";
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass name 'trailing-' is not "
                   "kebab-case");
    p = ok_pass;
    p.summary = NULL;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass 'case-ok': descriptor is "
                   "missing the field 'summary'");
    p = ok_pass;
    p.run = NULL;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass 'case-ok': descriptor is "
                   "missing the field 'run'");
    p = ok_pass;
    p.flags = MOF_PASS_EXACT | MOF_PASS_CHANGES_NUMERICS;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass 'case-ok': MOF_PASS_EXACT and "
                   "MOF_PASS_CHANGES_NUMERICS exclude each other");
    p.flags = MOF_PASS_CHANGES_NUMERICS;
    p.tolerance = -1;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass 'case-ok': tolerance -1 is not a "
                   "finite number >= 0");
    p = ok_pass;
    static const char *const empty_prop[] = { "", NULL };
    p.provides = empty_prop;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass 'case-ok': empty property name "
                   "in 'provides'");

    /* Two passes of one name in one plugin; the first of a refused plugin is dropped
     * too. */
    mof_pass_desc other = ok_pass;
    other.name = "case-other";
    case_passes[0] = &other;
    case_passes[1] = &ok_pass;
    case_passes[2] = &ok_pass;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass 'case-ok' is already registered "
                   "by plugin 'test-case'");

    /* Registration errors count even when the plugin ignores them. */
    ignore_errors = true;
    p = ok_pass;
    p.run = NULL;
    case_passes[0] = &p;
    case_passes[1] = &other;
    case_passes[2] = NULL;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: pass 'case-ok': descriptor is "
                   "missing the field 'run'");
    ignore_errors = false;
    case_passes[0] = NULL;
    memset(case_passes, 0, sizeof(case_passes));

    ck_assert_int_eq(mof_register_pass(NULL, &ok_pass), MOF_ERR_INVALID_ARG);
    ck_assert_int_eq(mof_register_backend(NULL, NULL), MOF_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_static_param_checks)
{
    case_backend = NULL;
    ignore_errors = false;
    expect_param_refused((mof_param_desc){ .name = "bits", .type = MOF_PARAM_INT,
                                           .offset = offsetof(struct priv, bits), .def = "12",
                                           .min = 2, .max = 8, .flags = MOF_PARAM_RANGE },
                         "pass 'case-params': the default of parameter 'bits' = 12 is outside "
                         "[2, 8]");
    expect_param_refused((mof_param_desc){ .name = "Bits", .type = MOF_PARAM_INT,
                                           .offset = offsetof(struct priv, bits) },
                         "pass 'case-params': parameter name 'Bits' is not kebab-case "
                         "(lower-case words joined by '-')");
    expect_param_refused((mof_param_desc){ .name = "mode", .type = MOF_PARAM_CHOICE,
                                           .offset = offsetof(struct priv, mode),
                                           .choices = no_modes },
                         "pass 'case-params': parameter 'mode' is a choice without choices");
    expect_param_refused((mof_param_desc){ .name = "mode", .type = MOF_PARAM_CHOICE,
                                           .offset = offsetof(struct priv, mode),
                                           .choices = modes, .def = "c" },
                         "pass 'case-params': the default of parameter 'mode' = 'c' is not "
                         "one of: a, b");
    expect_param_refused((mof_param_desc){ .name = "flag", .type = (mof_param_type)9,
                                           .offset = offsetof(struct priv, flag) },
                         "pass 'case-params': parameter 'flag' has an unknown type 9");
    expect_param_refused((mof_param_desc){ .name = "scale", .type = MOF_PARAM_FLOAT,
                                           .offset = sizeof(struct priv) },
                         "pass 'case-params': parameter 'scale' is stored at offset 24, "
                         "outside its 24-byte private struct");

    /* Every problem of a table goes into the one message. */
    mof_param_desc table[] = {
        { .name = "bits", .type = MOF_PARAM_INT, .offset = offsetof(struct priv, bits) },
        { .name = "bits", .type = MOF_PARAM_INT, .offset = offsetof(struct priv, bits) },
        { 0 }
    };
    mof_pass_desc pass = { .size = sizeof(mof_pass_desc), .name = "case-params",
                           .summary = "s", .params = table, .priv_size = sizeof(struct priv),
                           .run = noop_run };
    case_passes[0] = &pass;
    mof_plugin_desc d = plugin_desc();
    expect_refused_text(&d, MOF_ERR_INVALID_ARG,
                        "error: (static): cannot load plugin: pass 'case-params': parameter "
                        "'bits' is declared twice; pass 'case-params': ", true);
    memset(case_passes, 0, sizeof(case_passes));
}
END_TEST

START_TEST(test_static_backend_checks)
{
    mof_plugin_desc d = plugin_desc();
    memset(case_passes, 0, sizeof(case_passes));
    ignore_errors = false;
    static const mof_op_support ops[] = { { "", "Relu", 1, 0 }, { NULL, NULL, 0, 0 } };
    const mof_backend_desc ok = { .size = sizeof(mof_backend_desc), .name = "case-backend",
                                  .summary = "s", .ops = ops, .emit = noop_emit };
    mof_backend_desc b = ok;
    case_backend = &b;

    b.size = 4;
    char want[512];
    snprintf(want, sizeof(want), "error: (static): cannot load plugin: backend #1: descriptor "
                                 "size is 4 bytes, this mof needs at least %zu (set .size = "
                                 "sizeof(mof_backend_desc))", sizeof(mof_backend_desc));
    expect_refused(&d, MOF_ERR_INVALID_ARG, want);
    b = ok;
    b.emit = NULL;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: backend 'case-backend': descriptor is "
                   "missing the field 'emit'");
    b = ok;
    b.name = "CPU";
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: backend name 'CPU' is not kebab-case");
    b = ok;
    b.name = "test-null";
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: backend 'test-null' is already "
                   "registered by plugin 'test-good'");
    static const mof_op_support bad_ops[] = { { "", NULL, 0, 0 }, { NULL, NULL, 0, 0 } };
    b = ok;
    b.ops = bad_ops;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: backend 'case-backend': supported op "
                   "#1 lacks its op type");
    static const mof_op_support bad_range[] = { { "", "Relu", 13, 7 }, { NULL, NULL, 0, 0 } };
    b.ops = bad_range;
    expect_refused(&d, MOF_ERR_INVALID_ARG,
                   "error: (static): cannot load plugin: backend 'case-backend': supported op "
                   "'Relu' has an empty opset range [13, 7]");

    /* The good one, beside good_plugin's backend. */
    b = ok;
    current_desc = &d;
    mof_context *ctx = mof_context_create();
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, mof_plugin_entry_good), MOF_OK);
    ck_assert_status(ctx, mof_context_add_static_plugin(ctx, current_entry), MOF_OK);
    ck_assert_uint_eq(mof_context_plugin(ctx, 1)->n_backends, 1);
    ck_assert_uint_eq(mof_context_n_backends(ctx), 2);
    size_t pi = 99;
    ck_assert_str_eq(mof_context_backend(ctx, 0, &pi)->name, "case-backend");
    ck_assert_uint_eq(pi, 1);
    ck_assert_str_eq(mof_context_backend(ctx, 1, &pi)->name, "test-null");
    ck_assert_uint_eq(pi, 0);
    mof_context_destroy(ctx);
    case_backend = NULL;
}
END_TEST

/* ------------------------------------------------------------------ nearest name */

START_TEST(test_nearest_name)
{
    const char *names[] = { "fold-constants", "dead-code", "eliminate-identity",
                            "fuse-conv-bn", "dce" };
    size_t n = sizeof(names) / sizeof(names[0]);
    ck_assert_str_eq(mof_nearest_name("dead-cod", n, names), "dead-code");
    ck_assert_str_eq(mof_nearest_name("daed-code", n, names), "dead-code");
    ck_assert_str_eq(mof_nearest_name("fuse-conv-bm", n, names), "fuse-conv-bn");
    ck_assert_str_eq(mof_nearest_name("eliminate-identiy", n, names), "eliminate-identity");
    /* A prefix is a suggestion however far. */
    ck_assert_str_eq(mof_nearest_name("fold", n, names), "fold-constants");
    ck_assert_str_eq(mof_nearest_name("dead-code-elimination", n, names), "dead-code");
    /* Short names allow two edits. */
    ck_assert_str_eq(mof_nearest_name("cse", n, names), "dce");
    ck_assert_str_eq(mof_nearest_name("xcx", n, names), "dce");
    ck_assert_ptr_null(mof_nearest_name("xyz", n, names));
    ck_assert_ptr_null(mof_nearest_name("quantize", n, names));
    ck_assert_ptr_null(mof_nearest_name("", n, names));
    ck_assert_ptr_null(mof_nearest_name("dead", 0, names));
    ck_assert_ptr_null(mof_nearest_name("dead", 0, NULL));
    /* An exact match is its own nearest name. */
    ck_assert_str_eq(mof_nearest_name("dce", n, names), "dce");

    /* Ties go to the first in the table. */
    const char *tie[] = { "abc", "abd" };
    ck_assert_str_eq(mof_nearest_name("abx", 2, tie), "abc");
    const char *tie2[] = { "abd", "abc" };
    ck_assert_str_eq(mof_nearest_name("abx", 2, tie2), "abd");
    /* The closer wins over the earlier. */
    const char *closer[] = { "quantize-dynamic", "quantize-static" };
    ck_assert_str_eq(mof_nearest_name("quantize-statik", 2, closer), "quantize-static");
    /* Limit max(2, len/3): 12 letters allow 4 edits, not 5. */
    const char *far[] = { "abcdefghijkl" };
    ck_assert_str_eq(mof_nearest_name("abcdefghWXYZ", 1, far), "abcdefghijkl");
    ck_assert_ptr_null(mof_nearest_name("abcdefgVWXYZ", 1, far));
    /* NULL entries are skipped. */
    const char *holes[] = { NULL, "dead-code" };
    ck_assert_str_eq(mof_nearest_name("dead-cod", 2, holes), "dead-code");
}
END_TEST

static Suite *host_suite(void)
{
    Suite *s = suite_create("host");
    TCase *load = tcase_create("load");
    tcase_add_test(load, test_load_good);
    tcase_add_test(load, test_load_same_file_twice);
    tcase_add_test(load, test_destroy_unloads);
    tcase_add_test(load, test_two_contexts);
    tcase_add_test(load, test_relative_path);
    suite_add_tcase(s, load);
    TCase *broken = tcase_create("broken");
    tcase_add_test(broken, test_bad_abi);
    tcase_add_test(broken, test_no_entry);
    tcase_add_test(broken, test_missing_field);
    tcase_add_test(broken, test_dup_name);
    tcase_add_test(broken, test_dup_pass);
    tcase_add_test(broken, test_reg_fail);
    tcase_add_test(broken, test_cannot_open);
    suite_add_tcase(s, broken);
    TCase *dirs = tcase_create("folders");
    tcase_add_test(dirs, test_load_dir_order_and_shadowing);
    tcase_add_test(dirs, test_load_dir_missing_or_not_a_dir);
    tcase_add_test(dirs, test_load_dir_trailing_slash);
    tcase_add_test(dirs, test_plugin_path);
    tcase_add_test(dirs, test_installed_paths);
    suite_add_tcase(s, dirs);
    TCase *stat = tcase_create("static");
    tcase_add_test(stat, test_static_plugin);
    tcase_add_test(stat, test_static_handshake);
    tcase_add_test(stat, test_static_pass_checks);
    tcase_add_test(stat, test_static_param_checks);
    tcase_add_test(stat, test_static_backend_checks);
    suite_add_tcase(s, stat);
    TCase *names = tcase_create("names");
    tcase_add_test(names, test_nearest_name);
    suite_add_tcase(s, names);
    return s;
}

MOF_TEST_MAIN(host_suite)
