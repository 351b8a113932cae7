/* filecheck.h: the FileCheck-style matcher of the pass test harness
 * (run_pass_tests.c), a subset of LLVM's FileCheck:
 *
 *   CHECK: text        the next match, at or after the end of the previous one
 *   CHECK-NEXT: text   a match on the line right after the previous match's line
 *   CHECK-SAME: text   a match on the previous match's line, after it
 *   CHECK-EMPTY:       the line after the previous match's line is empty
 *   CHECK-NOT: text    no match between the previous match and the next one (or the
 *                      end of the text when no positive directive follows)
 *
 * A pattern is literal text, trimmed, in which a run of spaces matches any run of
 * spaces and tabs, and in which
 *   {{regex}}          matches a POSIX extended regular expression,
 *   [[NAME:regex]]     matches regex and captures what it matched as NAME
 *                      ([[NAME:]] captures a word: letters, digits and _ . : / -),
 *   [[NAME]]           matches exactly what NAME captured earlier.
 * A match never spans lines. Captures live for the whole list of directives, and a
 * later capture of the same name replaces the value. */
#ifndef MOF_FILECHECK_H
#define MOF_FILECHECK_H

#include <stdbool.h>
#include <stddef.h>

typedef enum fc_kind {
    FC_CHECK,
    FC_NEXT,
    FC_SAME,
    FC_EMPTY,
    FC_NOT,
} fc_kind;

typedef struct fc_directive {
    fc_kind kind;
    const char *pattern;   /* borrowed */
    unsigned line;         /* where the directive is, for messages */
} fc_directive;

/* The name of a directive kind as written ("CHECK-NEXT"). */
const char *fc_kind_name(fc_kind kind);

/* Runs the directives over text. Returns true when they all hold. Otherwise returns
 * false and sets *failed to the index of the directive that failed and *why to a
 * message (malloc'ed, owned by the caller) saying what was looked for and where, and
 * what was found instead for CHECK-NOT. */
bool fc_match(const fc_directive *dirs, size_t n, const char *text, size_t *failed, char **why);

#endif
