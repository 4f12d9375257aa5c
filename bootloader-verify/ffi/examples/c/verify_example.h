/* The C example's platform-independent part: one slot checked through the
 * fwsign C ABI, with the built-in SHA-256 and again through the SHA-256 hook,
 * then the A/B decision. The trusted root comes from the two-copy root store
 * and the A/B states and confirmed counter go to the two-copy device-state
 * store (stores.c, over nor_flash.c here). host_main.c and mps2_main.c feed
 * it. */
#ifndef EXAMPLE_VERIFY_H
#define EXAMPLE_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "fwsign_verify.h"

typedef struct {
    const uint8_t *root;
    size_t root_len;
    const uint8_t *slot;       /* the slot's bytes as read from flash */
    size_t slot_len;           /* bytes at slot; the rest reads as erased (0xFF) */
    uint32_t slot_size;        /* the slot's size in flash */
    const char *hardware_id;
    size_t hardware_id_len;
    uint64_t installed_counter;
    const fwsign_role_version_t *accepted;
    size_t accepted_len;
    int has_time;
    int64_t now;
    /* This bootloader's version, checked against min_bootloader_version. */
    uint32_t bootloader_major, bootloader_minor, bootloader_patch;
} example_input;

/* Prints one line, "BOOT ..." or "REFUSE <code> <NAME>", and returns the exit
 * code: 0 boots, 1 refuses, 2 when the two hash paths disagree. */
int example_verify(const example_input *in);

#endif
