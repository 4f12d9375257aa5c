/* See nor_flash.h. */
#include "nor_flash.h"

#include <string.h>

void nor_flash_init(nor_flash *f, uint8_t *bytes, uint32_t size, uint32_t sector_size) {
    f->bytes = bytes;
    f->size = size;
    f->sector_size = sector_size;
    memset(bytes, 0xFF, size);
}

/* Whether [offset, offset + len) lies inside the flash (no overflow). */
static int in_range(const nor_flash *f, uint32_t offset, size_t len) {
    return offset <= f->size && len <= (size_t)(f->size - offset);
}

int32_t nor_flash_read(void *ctx, uint32_t offset, uint8_t *buf, size_t len) {
    const nor_flash *f = ctx;
    if (!in_range(f, offset, len)) return -1;
    memcpy(buf, f->bytes + offset, len);
    return 0;
}

int32_t nor_flash_program(void *ctx, uint32_t offset, const uint8_t *data, size_t len) {
    nor_flash *f = ctx;
    if (!in_range(f, offset, len)) return -1;
    /* NOR: programming only clears bits. */
    for (size_t i = 0; i < len; i++) f->bytes[offset + i] &= data[i];
    return 0;
}

int32_t nor_flash_erase(void *ctx, uint32_t offset, uint32_t len) {
    nor_flash *f = ctx;
    uint32_t mask = f->sector_size - 1;
    if (!in_range(f, offset, len) || (offset & mask) != 0 || (len & mask) != 0) return -1;
    memset(f->bytes + offset, 0xFF, len);
    return 0;
}

store_flash_t nor_flash_callbacks(nor_flash *f) {
    store_flash_t s = {nor_flash_read, nor_flash_program, nor_flash_erase, f};
    return s;
}
