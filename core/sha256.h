/* sha256.h: SHA-256 (FIPS 180-4), used for the pipeline hash that mof records in the
 * models and artifacts it writes. Internal to libmof. */
#ifndef MOF_SHA256_H
#define MOF_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MOF_SHA256_DIGEST_SIZE 32
/* 64 hex digits and a NUL. */
#define MOF_SHA256_HEX_SIZE 65

/* An incremental hash: init, update any number of times, final. */
typedef struct mof_sha256 {
    uint32_t state[8];
    uint64_t length;        /* bytes hashed so far */
    uint8_t block[64];      /* pending input, `used` bytes of it */
    size_t used;
} mof_sha256;

MOF_INTERNAL void mof_sha256_init(mof_sha256 *h);
MOF_INTERNAL void mof_sha256_update(mof_sha256 *h, const void *data, size_t size);
/* Writes the digest; h must be initialized again before reuse. */
MOF_INTERNAL void mof_sha256_final(mof_sha256 *h, uint8_t digest[MOF_SHA256_DIGEST_SIZE]);

/* The digest of size bytes as lower-case hex, NUL-terminated. */
MOF_INTERNAL void mof_sha256_hex(const void *data, size_t size, char hex[MOF_SHA256_HEX_SIZE]);

#endif
