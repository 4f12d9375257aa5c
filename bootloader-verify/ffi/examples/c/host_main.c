/* The C example on the host, linked against the host static library:
 *   verify_example ROOT SLOT HARDWARE_ID INSTALLED_COUNTER [SLOT_SIZE [BOOTLOADER_VERSION]]
 * BOOTLOADER_VERSION is this bootloader's MAJOR.MINOR.PATCH (default 1.0.0).
 * Exit 0 boots, 1 refuses, 2 on a usage or consistency error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verify_example.h"

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap *= 2);
            if (!bigger) free(buf);
            buf = bigger;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr,
                "usage: %s ROOT SLOT HARDWARE_ID INSTALLED_COUNTER [SLOT_SIZE [BOOTLOADER_VERSION]]\n",
                argv[0]);
        return 2;
    }
    example_input in = {0};
    in.root = read_file(argv[1], &in.root_len);
    in.slot = read_file(argv[2], &in.slot_len);
    if (!in.root || !in.slot) {
        fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    in.hardware_id = argv[3];
    in.hardware_id_len = strlen(argv[3]);
    in.installed_counter = strtoull(argv[4], NULL, 0);
    in.slot_size = argc > 5 ? (uint32_t)strtoul(argv[5], NULL, 0) : (uint32_t)in.slot_len;
    in.bootloader_major = 1;
    if (argc > 6) {
        unsigned major, minor, patch;
        if (sscanf(argv[6], "%u.%u.%u", &major, &minor, &patch) != 3) {
            fprintf(stderr, "BOOTLOADER_VERSION must be MAJOR.MINOR.PATCH: %s\n", argv[6]);
            return 2;
        }
        in.bootloader_major = major;
        in.bootloader_minor = minor;
        in.bootloader_patch = patch;
    }
    in.has_time = 1;
    in.now = (int64_t)time(NULL);
    return example_verify(&in);
}
