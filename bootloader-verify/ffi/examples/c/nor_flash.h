/* An in-RAM NOR flash for the example's stores on the host (and in QEMU):
 * the read/program/erase callbacks of store_flash_t over a byte array.
 *
 * It behaves as NOR flash does, so the stores are tested against the real
 * rules, not a friendlier memory: erase sets whole sectors to 0xFF, and
 * programming can only clear bits (the result is old & new), so writing
 * over unerased data yields neither value. A real bootloader replaces these
 * three callbacks with its flash driver's. */
#ifndef EXAMPLE_NOR_FLASH_H
#define EXAMPLE_NOR_FLASH_H

#include <stddef.h>
#include <stdint.h>

#include "stores.h"

typedef struct {
    uint8_t *bytes;       /* size bytes of "flash" */
    uint32_t size;
    uint32_t sector_size; /* erase granularity; a power of two */
} nor_flash;

/* Fills the flash with the erased value, as a blank part ships. */
void nor_flash_init(nor_flash *f, uint8_t *bytes, uint32_t size, uint32_t sector_size);

/* The callbacks; ctx is a nor_flash. Out-of-range or unaligned erases fail
 * (non-zero), as a flash driver refuses them. */
int32_t nor_flash_read(void *ctx, uint32_t offset, uint8_t *buf, size_t len);
int32_t nor_flash_program(void *ctx, uint32_t offset, const uint8_t *data, size_t len);
int32_t nor_flash_erase(void *ctx, uint32_t offset, uint32_t len);

/* The three callbacks over f, as a store_flash_t. */
store_flash_t nor_flash_callbacks(nor_flash *f);

#endif
