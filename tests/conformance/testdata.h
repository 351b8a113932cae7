/* testdata.h: what the two ONNX node test runners share (conformance.c, the reference
 * interpreter; cpu_conformance.c, the cpu backend): allocation that exits on failure,
 * the test folder listing, and the comparison of computed outputs with the stored ones.
 * Test code, linked into both programs; not part of libmof. */
#ifndef MOF_TESTS_TESTDATA_H
#define MOF_TESTS_TESTDATA_H

#include <stdbool.h>
#include <stddef.h>

#include <mof/mof.h>

/* The name of the program, defined by each runner ("conformance", ...): the x*
 * functions print "NAME: out of memory" and exit with status 2 on failure. */
extern const char testdata_program[];

void testdata_oom(void);
void *xcalloc(size_t n, size_t size);     /* calloc of at least one byte */
void *xrealloc(void *p, size_t size);     /* realloc of at least one byte */
char *xstrdup(const char *s);

/* Whether path is a regular file. */
bool is_file(const char *path);

/* The sorted names of dir's entries that start with prefix, *count of them (owned,
 * free with free_names; NULL when dir cannot be read). */
char **list_dir(const char *dir, const char *prefix, size_t *count);
void free_names(char **names, size_t n);

/* The first error diagnostic of ctx, formatted (owned), or "(no diagnostic)". */
char *first_error(mof_context *ctx);

/* Writes t's type into buf: "float[1,3,224,224]". */
void format_shape(char *buf, size_t size, const mof_tensor *t);

/* Whether got matches the stored output want: same element type and shape; floats
 * within |a - b| <= 1e-5 + rtol |b| (rtol 1e-3, 1/128 for bfloat16; NaN matches NaN),
 * strings and everything else exactly. On a mismatch writes the reason into why. */
bool tensors_match(const mof_tensor *got, const mof_tensor *want, char *why, size_t size);

/* Whether tensor t fits the declared type of value v (dtype, rank, numeric dims). */
bool fits_type(const mof_tensor *t, const mof_value *v);

/* The per-op rows of a runner's table: the tests whose main graph uses op. */
typedef struct op_row {
    char *op;                 /* owned */
    int claimed, passed, failed;
    int constant;             /* cpu_conformance: how many ran with constant inputs */
} op_row;

typedef struct op_table {
    op_row *rows;
    size_t n_rows, cap_rows;
} op_table;

/* The row of op in t, added (zeroed) when there is none. */
op_row *op_table_row(op_table *t, const char *op);

/* Sorts the rows by op name. */
void op_table_sort(op_table *t);

#endif
