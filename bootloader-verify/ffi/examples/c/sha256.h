/* A small software SHA-256 (FIPS 180-4), standing in for a hardware hash
 * engine to show the fwsign_sha256_t hook. A real bootloader would drive
 * its SHA-256 peripheral from the same three callbacks. */
#ifndef EXAMPLE_SHA256_H
#define EXAMPLE_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t length;   /* bytes hashed so far */
    uint8_t block[64];
    size_t used;       /* bytes in block */
} sha256_ctx;

void sha256_start(sha256_ctx *ctx);
void sha256_update(sha256_ctx *ctx, const uint8_t *data, size_t len);
void sha256_finish(sha256_ctx *ctx, uint8_t digest[32]);

#endif
