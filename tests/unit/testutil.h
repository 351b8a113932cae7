/* testutil.h: helpers for mof's Check unit tests. */
#ifndef MOF_TESTUTIL_H
#define MOF_TESTUTIL_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mof/mof.h>

/* Prints every diagnostic of ctx to stderr (to explain a failure). */
static inline void mof_test_print_diags(const mof_context *ctx)
{
    for (size_t i = 0; i < mof_context_n_diags(ctx); i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        fprintf(stderr, "  diag: %s\n", s ? s : "(out of memory)");
        free(s);
    }
}

/* Asserts that an expression returns `want`, printing the context's diagnostics. */
#define ck_assert_status(ctx, expr, want)                                                  \
    do {                                                                                   \
        mof_status st_ = (expr);                                                           \
        if (st_ != (want))                                                                 \
            mof_test_print_diags(ctx);                                                     \
        ck_assert_msg(st_ == (want), "%s returned %d (%s), expected %d (%s)", #expr,      \
                      (int)st_, mof_status_str(st_), (int)(want), mof_status_str(want));   \
    } while (0)

/* True when some diagnostic's formatted text contains `needle`. */
static inline int mof_test_diag_contains(const mof_context *ctx, const char *needle)
{
    int found = 0;
    for (size_t i = 0; i < mof_context_n_diags(ctx) && !found; i++) {
        char *s = mof_diag_format(mof_context_diag(ctx, i));
        found = s && strstr(s, needle) != NULL;
        free(s);
    }
    return found;
}

/* A main() running one suite in fork mode; exit status 0 when every test passed. */
#define MOF_TEST_MAIN(suite_fn)                                                            \
    int main(void)                                                                         \
    {                                                                                      \
        SRunner *sr = srunner_create(suite_fn());                                          \
        srunner_set_fork_status(sr, CK_FORK);                                              \
        srunner_run_all(sr, CK_NORMAL);                                                    \
        int failed = srunner_ntests_failed(sr);                                            \
        srunner_free(sr);                                                                  \
        return failed ? EXIT_FAILURE : EXIT_SUCCESS;                                       \
    }

#endif
