/* fuzz.h: what the fuzz harnesses (fuzz_onnx.c, fuzz_text.c, fuzz_pipeline.c) share.
 *
 * Each harness defines the libFuzzer entry point LLVMFuzzerTestOneInput and is linked
 * either with libFuzzer (clang -fsanitize=fuzzer, `make fuzz`) or with driver.c, the
 * main() that `make check` runs (seeds, then a deterministic mutation loop). A harness
 * never prints on success; a broken invariant is a crash: mof_fuzz_fail prints why and
 * aborts, so that libFuzzer and the driver both keep the input that caused it. */
#ifndef MOF_FUZZ_H
#define MOF_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mof/mof.h>

#if defined(__GNUC__)
#define MOF_FUZZ_NORETURN __attribute__((noreturn))
#else
#define MOF_FUZZ_NORETURN
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Set by a harness when its input was accepted (the model or pipeline loaded): the
 * driver keeps such mutants as new starting points. libFuzzer ignores it. */
extern bool mof_fuzz_accepted;

/* Prints "fuzz: invariant broken: <message>" and the context's diagnostics (ctx may
 * be NULL), then aborts. */
MOF_FUZZ_NORETURN void mof_fuzz_fail(const mof_context *ctx, const char *fmt, ...)
    MOF_PRINTF(2, 3);

/* A failed load must say why: at least one error diagnostic, each one formattable. */
void mof_fuzz_check_failure_reported(const mof_context *ctx, const char *what);

/* Everything that follows a successful load, with the invariants that must hold for
 * any model mof accepted: mof_graph_verify (either verdict), stats, a deep copy that
 * saves to the same bytes, save to memory and reload (what mof writes it reads back,
 * and a second save gives the same bytes), print as text and, for a model that
 * verifies, parse that text back (the printed text is a fixed point after one round
 * trip). ctx is the model's context. */
void mof_fuzz_exercise_model(mof_context *ctx, mof_model *m);

#endif
