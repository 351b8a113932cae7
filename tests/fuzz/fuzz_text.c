/* fuzz_text.c: fuzz harness of the ONNX text syntax parser (mof_model_parse_text), and
 * of what follows a parse (see mof_fuzz_exercise_model: verify, binary save and
 * reload, print and parse back). */
#include <stdlib.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mof_fuzz_accepted = false;
    mof_context *ctx = mof_context_create();
    if (!ctx)
        mof_fuzz_fail(NULL, "mof_context_create failed");
    /* The text need not be NUL-terminated: libFuzzer's buffer is exactly size bytes,
     * so ASan catches a parser that reads past it. */
    mof_model *m = mof_model_parse_text(ctx, (const char *)data, size, "fuzz.onnxtxt");
    if (m) {
        mof_fuzz_accepted = true;
        mof_fuzz_exercise_model(ctx, m);
        mof_model_destroy(m);
    } else {
        mof_fuzz_check_failure_reported(ctx, "mof_model_parse_text");
    }
    mof_context_destroy(ctx);
    return 0;
}
