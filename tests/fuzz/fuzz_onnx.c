/* fuzz_onnx.c: fuzz harness of the ONNX loader (mof_model_load_buffer), and of what
 * follows a load (see mof_fuzz_exercise_model). No external data: the base folder is
 * NULL, so a model that names external data is refused without touching any file. */
#include <stdlib.h>

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mof_fuzz_accepted = false;
    mof_context *ctx = mof_context_create();
    if (!ctx)
        mof_fuzz_fail(NULL, "mof_context_create failed");
    mof_model *m = mof_model_load_buffer(ctx, data, size, "fuzz.onnx", NULL);
    if (m) {
        mof_fuzz_accepted = true;
        mof_fuzz_exercise_model(ctx, m);
        mof_model_destroy(m);
    } else {
        mof_fuzz_check_failure_reported(ctx, "mof_model_load_buffer");
    }
    mof_context_destroy(ctx);
    return 0;
}

#ifdef MOF_FUZZ_LIBFUZZER
#include "mutate.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

/* Under libFuzzer, half of the mutations act on the protobuf tree (mutate.h), so that
 * a change deep inside a model keeps every enclosing length right. */
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    mof_fuzz_rng r;
    mof_fuzz_rng_seed(&r, seed);
    if (mof_fuzz_below(&r, 2)) {
        size_t n = mof_fuzz_mutate_protobuf(&r, data, size, max_size, NULL, 0, NULL);
        if (n)
            return n;
    }
    return LLVMFuzzerMutate(data, size, max_size);
}
#endif
