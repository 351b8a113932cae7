/* mofrt_tensorio.h: tensor files for the example program: ONNX TensorProto (.pb) and
 * NumPy (.npy), little-endian hosts. */
#ifndef MOFRT_TENSORIO_H
#define MOFRT_TENSORIO_H

#include <stddef.h>
#include <stdint.h>

/* Reads a .pb or .npy file (by extension) into buf, which holds nbytes; the file's
 * element type (ONNX number) and shape must be `dtype` and dims[rank]. Prints a message
 * naming the file and returns -1 on error. */
int mofrt_tensor_read(const char *path, int dtype, int rank, const int64_t *dims, void *buf,
                      size_t nbytes);
/* Writes a .pb TensorProto (raw_data) or a .npy (by extension). */
int mofrt_tensor_write(const char *path, const char *name, int dtype, int rank,
                       const int64_t *dims, const void *buf, size_t nbytes);
/* Fills n elements with pseudo-random values in [-1, 1) (integers: 0..9, bools 0/1). */
void mofrt_tensor_random(void *buf, int dtype, size_t n, unsigned long seed);
int mofrt_file_exists(const char *path);

#endif
