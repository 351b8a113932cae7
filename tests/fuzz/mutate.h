/* mutate.h: the deterministic mutation engine of the fuzz driver (driver.c), and of
 * the ONNX harness's libFuzzer custom mutator: byte-level mutations (bit flips,
 * random bytes, inserts, deletes, copies, splices, interesting integers, decimal
 * numbers, dictionary tokens) and, for protobuf inputs, mutations of the decoded
 * message tree (field numbers, wire types, varint values, deleted, duplicated,
 * swapped and transplanted fields, edited payloads) written back with every length
 * prefix recomputed, so that a change deep inside a model keeps the model parseable. */
#ifndef MOF_FUZZ_MUTATE_H
#define MOF_FUZZ_MUTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* xorshift64*: the same seed gives the same mutations. */
typedef struct mof_fuzz_rng {
    uint64_t state;
} mof_fuzz_rng;

void mof_fuzz_rng_seed(mof_fuzz_rng *r, uint64_t seed);
uint64_t mof_fuzz_rand(mof_fuzz_rng *r);
/* A number in [0, n), n > 0. */
size_t mof_fuzz_below(mof_fuzz_rng *r, size_t n);

/* Tokens inserted or written over the input (a libFuzzer -dict file's entries). */
typedef struct mof_fuzz_dict {
    size_t n;
    uint8_t **tokens;
    size_t *lens;
} mof_fuzz_dict;

/* Reads a libFuzzer dictionary file (lines `name="token"` or `"token"`, with \\, \"
 * and \xNN escapes; # comments). Returns false when the file cannot be read. */
bool mof_fuzz_dict_load(mof_fuzz_dict *d, const char *path);
void mof_fuzz_dict_free(mof_fuzz_dict *d);

enum {
    MOF_FUZZ_PROTOBUF = 1u << 0, /* the input is a protobuf message: mutate its tree too */
    MOF_FUZZ_TEXT = 1u << 1,     /* the input is text: decimal numbers, printable bytes */
};

/* Applies one random mutation to data[0..size) in place; the buffer holds max_size
 * bytes. other (may be NULL) is a second input to splice from. Returns the new size
 * (at most max_size). */
size_t mof_fuzz_mutate(mof_fuzz_rng *r, uint8_t *data, size_t size, size_t max_size,
                       const uint8_t *other, size_t other_size, const mof_fuzz_dict *dict,
                       unsigned flags);

/* One mutation of the protobuf tree only; returns 0 (data unchanged) when data does
 * not decode as a message or the result would not fit. */
size_t mof_fuzz_mutate_protobuf(mof_fuzz_rng *r, uint8_t *data, size_t size,
                                size_t max_size, const uint8_t *other, size_t other_size,
                                const mof_fuzz_dict *dict);

#endif
