/* Tests of the pass test harness's matcher (tests/passes/filecheck.c): each directive
 * passes where it should and, above all, fails where it should, with a message that
 * says what was looked for. A harness whose checks cannot fail proves nothing. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "filecheck.h"
#include "testutil.h"

static const char TEXT[] =
    "main (float[1,4] x) => (float[1,4] y)\n"
    "   <float[4] b = {1, 2, 3, 4}>\n"
    "{\n"
    "   t = Add (x, b)\n"
    "   y  =  Relu (t)\n"
    "\n"
    "}\n";

/* Runs directives given as "KIND pattern" strings; returns the failing index or -1. */
static int run(const char *const *spec, size_t n, char **why)
{
    fc_directive d[16];
    for (size_t i = 0; i < n; i++) {
        const char *s = spec[i];
        const char *sp = strchr(s, ' ');
        size_t kn = sp ? (size_t)(sp - s) : strlen(s);
        fc_kind k = FC_CHECK;
        if (kn == 4 && !strncmp(s, "NEXT", 4))
            k = FC_NEXT;
        else if (kn == 4 && !strncmp(s, "SAME", 4))
            k = FC_SAME;
        else if (kn == 5 && !strncmp(s, "EMPTY", 5))
            k = FC_EMPTY;
        else if (kn == 3 && !strncmp(s, "NOT", 3))
            k = FC_NOT;
        d[i] = (fc_directive){.kind = k, .pattern = sp ? sp + 1 : "", .line = (unsigned)i + 1};
    }
    size_t failed;
    *why = NULL;
    bool ok = fc_match(d, n, TEXT, &failed, why);
    return ok ? -1 : (int)failed;
}

#define PASSES(...)                                                                        \
    do {                                                                                   \
        const char *const spec_[] = {__VA_ARGS__};                                         \
        char *why_;                                                                        \
        int r_ = run(spec_, sizeof(spec_) / sizeof(spec_[0]), &why_);                      \
        ck_assert_msg(r_ < 0, "directive %d failed: %s", r_, why_ ? why_ : "");            \
        free(why_);                                                                        \
    } while (0)

#define FAILS_AT(at, msg, ...)                                                             \
    do {                                                                                   \
        const char *const spec_[] = {__VA_ARGS__};                                         \
        char *why_;                                                                        \
        int r_ = run(spec_, sizeof(spec_) / sizeof(spec_[0]), &why_);                      \
        ck_assert_int_eq(r_, (at));                                                        \
        ck_assert_ptr_nonnull(why_);                                                       \
        ck_assert_msg(strstr(why_, (msg)) != NULL, "message '%s' lacks '%s'", why_, (msg)); \
        free(why_);                                                                        \
    } while (0)

START_TEST(test_check)
{
    PASSES("CHECK t = Add (x, b)", "CHECK y = Relu (t)");
    /* A run of spaces matches any run of spaces; the pattern is trimmed. */
    PASSES("CHECK   y = Relu (t)  ");
    /* In order only. */
    FAILS_AT(1, "no match for \"t = Add\" in the output from line 5 on", "CHECK Relu",
             "CHECK t = Add");
    FAILS_AT(0, "no match for \"Sigmoid\"", "CHECK Sigmoid");
    /* Two CHECKs on one line: the second starts after the first match. */
    PASSES("CHECK Add", "CHECK (x, b)");
    FAILS_AT(1, "no match", "CHECK (x, b)", "CHECK Add");
}
END_TEST

START_TEST(test_next_same_empty)
{
    PASSES("CHECK b = {1, 2, 3, 4}>", "NEXT {", "NEXT t = Add", "NEXT y = Relu", "EMPTY",
           "NEXT }");
    /* "{" first matches inside the constant, on line 2. */
    FAILS_AT(1, "on line 3 of the output (the line after the previous match): \"{\"", "CHECK {",
             "NEXT t = Add");
    FAILS_AT(1, "on line 5 of the output (the line after the previous match): \"   y  =  Relu",
             "CHECK t = Add", "NEXT Sigmoid");
    PASSES("CHECK t = Add", "SAME (x, b)");
    FAILS_AT(1, "on line 4 of the output after the previous match", "CHECK t = Add",
             "SAME Relu");
    FAILS_AT(1, "line 3 of the output is not empty: \"{\"", "CHECK {", "EMPTY");
    FAILS_AT(0, "needs a CHECK before it", "NEXT main");
}
END_TEST

START_TEST(test_not)
{
    PASSES("CHECK t = Add", "NOT Identity", "CHECK Relu");
    /* Between the two matches only. */
    PASSES("CHECK Relu", "NOT Add");
    FAILS_AT(1, "found \"Add\" on line 4 of the output: \"   t = Add (x, b)\"", "CHECK main",
             "NOT Add", "CHECK Relu");
    /* Trailing CHECK-NOTs hold to the end of the output. */
    FAILS_AT(1, "found \"}\" on line 7", "CHECK Relu", "NOT }");
    /* A leading CHECK-NOT holds from the start. */
    FAILS_AT(0, "found \"main\" on line 1", "NOT main", "CHECK Relu");
    /* On the match's own line, only before the match. */
    PASSES("CHECK y", "NOT Relu", "CHECK Relu");
    FAILS_AT(1, "found", "CHECK t = ", "NOT (x", "CHECK b)");
}
END_TEST

START_TEST(test_regex_and_captures)
{
    PASSES("CHECK float[{{[0-9]+}}] b = {{[{]}}1, 2");
    PASSES("CHECK [[OUT:]] = Add", "CHECK Relu ([[OUT]])");
    PASSES("CHECK <float[4] [[B:[a-z]+]] =", "CHECK Add (x, [[B]])");
    FAILS_AT(1, "no match for \"Relu ([[IN]])\"", "CHECK Add ([[IN:]],", "CHECK Relu ([[IN]])");
    FAILS_AT(0, "variable [[NOPE]] is used before it is captured", "CHECK [[NOPE]]");
    FAILS_AT(0, "bad regular expression", "CHECK {{a(}}");
    /* Regex characters in literal text are literal. */
    PASSES("CHECK float[1,4]");
    FAILS_AT(0, "no match", "CHECK float.1,4.");
}
END_TEST

static Suite *filecheck_suite(void)
{
    Suite *s = suite_create("filecheck");
    TCase *tc = tcase_create("filecheck");
    tcase_add_test(tc, test_check);
    tcase_add_test(tc, test_next_same_empty);
    tcase_add_test(tc, test_not);
    tcase_add_test(tc, test_regex_and_captures);
    suite_add_tcase(s, tc);
    return s;
}

MOF_TEST_MAIN(filecheck_suite)
