/* mof/io.h: reading and writing ONNX models.
 *
 * Loading is faithful: what mof does not model (unknown fields, training info, model
 * functions, sparse initializers, doc strings, unknown ops and domains) is kept and
 * written back, so that load + save with no change writes the bytes protobuf-c packs
 * from the original. Tensor data stored as external data is memory-mapped, never
 * copied; a location that is absolute or leaves the model's folder is refused. */
#ifndef MOF_IO_H
#define MOF_IO_H

#include <stdio.h>

#include <mof/common.h>
#include <mof/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Loads an ONNX model file (the ONNX text syntax when its name ends in ".onnxtxt",
 * see <mof/text.h>). On error returns NULL after reporting one diagnostic that
 * names the file (truncated, corrupt, not ONNX, empty, external data refused, ...). */
MOF_API mof_model *mof_model_load(mof_context *ctx, const char *path);
/* Loads a model from memory; name is used in messages, base_dir (may be NULL: no
 * external data allowed) resolves external-data locations. */
MOF_API mof_model *mof_model_load_buffer(mof_context *ctx, const void *data, size_t size,
                                         const char *name, const char *base_dir);

/* How tensor data is written. */
typedef enum mof_external_mode {
    MOF_EXTERNAL_KEEP = 0,   /* as loaded: external stays external (into the new data file) */
    MOF_EXTERNAL_NONE = 1,   /* everything inline */
    MOF_EXTERNAL_ABOVE = 2,  /* tensors of at least threshold bytes go to the data file */
} mof_external_mode;

typedef struct mof_save_options {
    size_t size;                 /* sizeof(mof_save_options) */
    mof_external_mode external;
    size_t threshold;            /* for MOF_EXTERNAL_ABOVE, in bytes */
    const char *data_file;       /* data file name, relative to the model's folder;
                                    NULL means "<model file name>.data" */
} mof_save_options;

/* Fills opts with the defaults (MOF_EXTERNAL_KEEP, threshold 1 KiB). */
MOF_API void mof_save_options_init(mof_save_options *opts);

/* Writes the model to path through a temporary file renamed into place, so that a
 * failed save leaves nothing half-written. opts may be NULL for the defaults. A data
 * file, when one is needed, is written the same way beside it. */
MOF_API mof_status mof_model_save(const mof_model *m, const char *path,
                                  const mof_save_options *opts);
/* Serializes the model (inline data only) into a malloc'ed buffer owned by the caller. */
MOF_API mof_status mof_model_save_buffer(const mof_model *m, void **data, size_t *size);

/* ------------------------------------------------------------------ tensor files */

/* Reads a tensor file: an ONNX TensorProto (".pb", the ONNX test-data format) or a
 * NumPy array (".npy", version 1-3, little-endian, C order). name (may be NULL)
 * receives the TensorProto's name (owned, NULL when it has none or for .npy). Returns
 * NULL after one diagnostic naming the file. */
MOF_API mof_tensor *mof_tensor_load(mof_context *ctx, const char *path, char **name);
/* Writes a tensor file, in the format its extension names (".pb" or ".npy"), through
 * a temporary file renamed into place. name (may be NULL) is stored in a .pb. */
MOF_API mof_status mof_tensor_save(mof_context *ctx, const mof_tensor *t, const char *name,
                                   const char *path);

/* ------------------------------------------------------------------ atomic outputs */

/* An output being written under a temporary name beside its final path. Backends use
 * it so that a failed run never leaves a half-written artifact. */
typedef struct mof_output mof_output;

/* Starts writing the file `path` (its folder must exist). NULL with a diagnostic on
 * error. */
MOF_API mof_output *mof_output_open_file(mof_context *ctx, const char *path);
/* Starts writing the folder `path`: files go into mof_output_path(), a temporary
 * folder beside it. */
MOF_API mof_output *mof_output_open_dir(mof_context *ctx, const char *path);
/* The stream of a file output (borrowed), NULL for a folder output. */
MOF_API FILE *mof_output_file(mof_output *o);
/* Where to write now: the temporary file or folder (borrowed). */
MOF_API const char *mof_output_path(const mof_output *o);
/* Flushes, then renames into place (replacing an older file or folder). The output is
 * freed either way. */
MOF_API mof_status mof_output_commit(mof_output *o);
/* Removes what was written and frees the output. NULL is a no-op. */
MOF_API void mof_output_abort(mof_output *o);

#ifdef __cplusplus
}
#endif
#endif
