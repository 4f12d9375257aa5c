/* See verify_example.h. Portable C99: the same file runs on the host and on
 * the Cortex-M4 (newlib, semihosting). */
#include "verify_example.h"

#include <stdio.h>
#include <string.h>

#include "nor_flash.h"
#include "sha256.h"
#include "stores.h"

/* Working memory for the slot's metadata (its trailer): the size the guide
 * recommends and `fwsign device pack` packs for by default. */
static uint8_t metadata[FWSIGN_METADATA_LEN];

/* --- flash: the slot in memory, erased (0xFF) past the written bytes --- */

typedef struct {
    const uint8_t *bytes;
    size_t len;
    uint32_t size;
} ram_flash;

static int32_t flash_read(void *ctx, uint32_t offset, uint8_t *buf, size_t len) {
    const ram_flash *f = ctx;
    if (offset > f->size || len > f->size - offset) return -1; /* past the slot */
    for (size_t i = 0; i < len; i++) {
        size_t at = (size_t)offset + i;
        buf[i] = at < f->len ? f->bytes[at] : 0xFF;
    }
    return 0;
}

/* --- the SHA-256 hook: a "hardware engine" (software here) --- */

typedef struct {
    sha256_ctx sha;
    size_t bytes;
} engine;

static int32_t engine_start(void *ctx) {
    engine *e = ctx;
    sha256_start(&e->sha);
    e->bytes = 0;
    return 0;
}

static int32_t engine_update(void *ctx, const uint8_t *data, size_t len) {
    engine *e = ctx;
    sha256_update(&e->sha, data, len);
    e->bytes += len;
    return 0;
}

static int32_t engine_finish(void *ctx, uint8_t *digest) {
    engine *e = ctx;
    sha256_finish(&e->sha, digest);
    return 0;
}

/* --- the stores: stores.c's two-copy root and device-state stores, here in
 * an in-RAM NOR flash (nor_flash.c). A real bootloader gives them its flash
 * driver's callbacks and two erase sectors each, write-protected after
 * boot. --- */

#define SECTOR 0x1000u
#define ROOT_COPY 0x4000u  /* a root of up to 16 KiB - 64 bytes */
#define STATE_COPY 0x1000u /* a state record of up to 32 roles: 2368 bytes */

static uint8_t store_flash_bytes[2 * ROOT_COPY + 2 * STATE_COPY];
static nor_flash store_flash;
static two_copy_store root_store, state_store;
static uint8_t trusted_root[ROOT_COPY - ROOT_RECORD_HEADER];

static void stores_init(void) {
    nor_flash_init(&store_flash, store_flash_bytes, sizeof store_flash_bytes, SECTOR);
    store_flash_t cb = nor_flash_callbacks(&store_flash);
    root_store = (two_copy_store){cb, {0, ROOT_COPY}, ROOT_COPY};
    state_store = (two_copy_store){cb, {2 * ROOT_COPY, 2 * ROOT_COPY + STATE_COPY}, STATE_COPY};
}

/* fwsign_verify_slot hands a verified newer root here: stored in the
 * two-copy store, 0 only once it reads back. */
static int32_t store_root(void *ctx, const uint8_t *root, size_t len) {
    int32_t rc = root_store_callback(ctx, root, len);
    printf("STORE-ROOT %u bytes: %s\n", (unsigned)len, rc == 0 ? "stored" : "FAILED");
    return rc;
}

static fwsign_status_t verify(const example_input *in, const uint8_t *root, size_t root_len,
                              const fwsign_sha256_t *sha, fwsign_verified_t *out) {
    ram_flash flash_ctx = {in->slot, in->slot_len, in->slot_size};
    fwsign_flash_t flash = {flash_read, &flash_ctx};
    fwsign_device_t device = {
        .hardware_id = in->hardware_id,
        .hardware_id_len = in->hardware_id_len,
        .installed_counter = in->installed_counter,
        .accepted = in->accepted,
        .accepted_len = in->accepted_len,
        .has_trusted_time = in->has_time ? 1 : 0,
        .trusted_time = in->now,
        .bootloader_version_major = in->bootloader_major,
        .bootloader_version_minor = in->bootloader_minor,
        .bootloader_version_patch = in->bootloader_patch,
    };
    return fwsign_verify_slot(root, root_len, &flash, in->slot_size, &device, metadata,
                              sizeof metadata, sha, store_root, &root_store, out);
}

int example_verify(const example_input *in) {
    if (fwsign_abi_version() != FWSIGN_ABI_VERSION) {
        printf("ABI MISMATCH library %u header %u\n", (unsigned)fwsign_abi_version(),
               (unsigned)FWSIGN_ABI_VERSION);
        return 2;
    }
    /* Manufacturing: the provisioned root into the root store (copy A).
     * Every boot: the current root from the store, never from the slot. */
    stores_init();
    size_t root_len = 0;
    uint64_t root_version = 0;
    if (root_store_write(&root_store, in->root, in->root_len) != STORE_OK ||
        root_store_read(&root_store, trusted_root, sizeof trusted_root, &root_len, &root_version) !=
            STORE_OK) {
        printf("ROOT-STORE cannot provision the root\n");
        return 2;
    }
    fwsign_verified_t v;
    fwsign_status_t status = verify(in, trusted_root, root_len, NULL, &v);

    /* Again through the hook: the verdict must not depend on the engine. */
    engine e = {0};
    fwsign_sha256_t hook = {engine_start, engine_update, engine_finish, &e};
    fwsign_verified_t v2;
    fwsign_status_t hooked = verify(in, trusted_root, root_len, &hook, &v2);
    uint64_t now_version = 0;
    if (root_store_read(&root_store, trusted_root, sizeof trusted_root, &root_len, &now_version) !=
        STORE_OK) {
        printf("ROOT-STORE unreadable after the update\n");
        return 2;
    }
    if (now_version != root_version) {
        printf("ROOT-STORE v%llu -> v%llu\n", (unsigned long long)root_version,
               (unsigned long long)now_version);
    }
    if (hooked != status) {
        printf("HASH-HOOK MISMATCH %d %s vs %d %s\n", (int)status, fwsign_status_name(status),
               (int)hooked, fwsign_status_name(hooked));
        return 2;
    }
    if (status != FWSIGN_OK) {
        printf("REFUSE %d %s\n", (int)status, fwsign_status_name(status));
        return 1;
    }
    if (e.bytes != v.image_size) {
        printf("HASH-HOOK hashed %u bytes of %u\n", (unsigned)e.bytes, (unsigned)v.image_size);
        return 2;
    }
    printf("BOOT %s %s counter=%llu root=v%llu image=0x%x+%u chain=", v.target, v.version,
           (unsigned long long)v.security_counter, (unsigned long long)v.root_version,
           (unsigned)v.image_offset, (unsigned)v.image_size);
    for (uint32_t i = 0; i < v.role_count; i++) {
        printf("%s%s@%llu", i ? "," : "", v.roles[i].role,
               (unsigned long long)v.roles[i].version);
    }
    printf(" hash-hook=%u bytes\n", (unsigned)e.bytes);

    /* A/B: this slot as a fresh trial in slot 0, slot 1 empty. */
    fwsign_slot_facts_t a = {FWSIGN_SLOT_TRIAL, 1, v.security_counter, v.version, v.version_len};
    fwsign_slot_facts_t b = {FWSIGN_SLOT_EMPTY, 0, 0, NULL, 0};
    fwsign_boot_decision_t d;
    if (fwsign_choose_boot(&a, &b, &d) != FWSIGN_OK || d.boot != 0 || !d.trial ||
        d.persist[0] != FWSIGN_SLOT_FAILED) {
        printf("AB unexpected decision\n");
        return 2;
    }
    printf("AB boot slot %u as trial; persist slot 0 = FAILED first; on confirm store counter %llu\n",
           (unsigned)d.boot,
           (unsigned long long)fwsign_confirm_counter(in->installed_counter, v.security_counter));

    /* The device-state store: the updater marked slot 0 TRIAL; the
     * decision's states are persisted BEFORE the jump, so a trial that
     * never confirms is found FAILED at the next boot. */
    device_state state = {0};
    state.counter = in->installed_counter;
    state.slot_state[0] = FWSIGN_SLOT_TRIAL;
    state.slot_state[1] = FWSIGN_SLOT_EMPTY;
    for (int i = 0; i < 2; i++) {
        if (d.persist[i] != FWSIGN_NONE) state.slot_state[i] = d.persist[i];
    }
    if (state_store_write(&state_store, &state) != STORE_OK) {
        printf("STATE-STORE cannot persist the decision\n");
        return 2;
    }
    /* ...jump; the image passes its self-test and confirms itself (see
     * docs/bootloader-integration.md when the store is write-protected by
     * then): its slot CONFIRMED, the counter and role versions raised. */
    state.slot_state[d.boot] = FWSIGN_SLOT_CONFIRMED;
    if (state_confirm(&state, &v) != STORE_OK || state_store_write(&state_store, &state) != STORE_OK ||
        state_store_read(&state_store, &state) != STORE_OK) {
        printf("STATE-STORE cannot confirm\n");
        return 2;
    }
    printf("STATE-STORE confirmed slot %u: counter %llu, %u role versions, record %llu\n",
           (unsigned)d.boot, (unsigned long long)state.counter, (unsigned)state.role_count,
           (unsigned long long)state.sequence);
    return 0;
}
