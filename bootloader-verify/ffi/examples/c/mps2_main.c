/* The C example on QEMU's mps2-an386 (Cortex-M4F), linked against the
 * thumbv7em-none-eabihf static library. QEMU's -device loader puts the case
 * (device facts and trusted root) at CASE_ADDR and the slot at SLOT_ADDR,
 * in the case format the Rust test firmware reads (see
 * bootloader-verify/qemu/src/main.rs). Output and exit code go through
 * semihosting (newlib's rdimon): 0 boots, 1 refuses, 2 inconsistent,
 * 4 malformed case. */
#include <stdio.h>
#include <string.h>

#include "verify_example.h"

#define CASE_ADDR 0x21000000u
#define SLOT_ADDR 0x21100000u
#define SLOT_MAX 0x00F00000u
#define MAX_ACCEPTED 8

static uint32_t u32_at(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t u64_at(const uint8_t *p) { return u32_at(p) | (uint64_t)u32_at(p + 4) << 32; }

static size_t padded(size_t n) { return (n + 3) & ~(size_t)3; }

int main(void) {
    const uint8_t *c = (const uint8_t *)CASE_ADDR;
    if (memcmp(c, "FWCA", 4) != 0 || u32_at(c + 4) != 2) {
        printf("BADCASE no case at 0x%08x\n", (unsigned)CASE_ADDR);
        return 4;
    }
    example_input in = {0};
    in.slot_size = u32_at(c + 8);
    in.root_len = u32_at(c + 12);
    in.installed_counter = u64_at(c + 16);
    in.now = (int64_t)u64_at(c + 24);
    in.has_time = u32_at(c + 32) != 0;
    in.hardware_id_len = u32_at(c + 36);
    size_t accepted = u32_at(c + 40);
    in.bootloader_major = u32_at(c + 48);
    in.bootloader_minor = u32_at(c + 52);
    in.bootloader_patch = u32_at(c + 56);
    if (in.slot_size > SLOT_MAX || accepted > MAX_ACCEPTED) {
        printf("BADCASE sizes\n");
        return 4;
    }
    const uint8_t *p = c + 64;
    in.hardware_id = (const char *)p;
    p += padded(in.hardware_id_len);
    static fwsign_role_version_t roles[MAX_ACCEPTED];
    for (size_t i = 0; i < accepted; i++) {
        roles[i].role_len = u32_at(p);
        roles[i].version = u64_at(p + 8);
        roles[i].role = (const char *)(p + 16);
        p += 16 + padded(roles[i].role_len);
    }
    in.accepted = roles;
    in.accepted_len = accepted;
    in.root = p;
    in.slot = (const uint8_t *)SLOT_ADDR;
    in.slot_len = in.slot_size; /* PSRAM past the loaded slot reads as zeros */
    return example_verify(&in);
}
