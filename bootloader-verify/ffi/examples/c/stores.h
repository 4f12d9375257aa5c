/* Reference implementation of the two power-safe stores of
 * docs/device-format.md, over three flash callbacks: the two-copy ROOT
 * STORE (the trusted root across key rotations) and the two-copy
 * DEVICE-STATE STORE (installed security counter, last accepted role
 * versions, A/B slot states). Copy this file and stores.c (and sha256.c, or
 * route the digests to your hash peripheral) into a bootloader and supply
 * the callbacks of your flash driver.
 *
 * The rule both stores follow: the copy holding the current value is never
 * erased or written. An update erases the OTHER copy, programs the new
 * record with its SHA-256 last, and reads it back. A power cut at any step
 * leaves the current copy intact, and the copy being written fails its
 * digest (erased, torn or garbage), so the next boot reads the old value;
 * once the digest is written the new one. A host test cuts power at every
 * write and erase step, tearing each (tests/c/store_power_cut.c, run by
 * bootloader-verify/ffi/tests/stores.rs).
 *
 * Portable C99, no allocation, a few hundred bytes of stack per call. */
#ifndef EXAMPLE_STORES_H
#define EXAMPLE_STORES_H

#include <stddef.h>
#include <stdint.h>

#include "fwsign_verify.h"

/* The flash the stores live in. Each returns 0 on success.
 * - read: same signature as fwsign_flash_read_fn.
 * - program: NOR semantics are fine (bits only cleared): the stores write
 *   only erased bytes, each byte once. Offsets and lengths are multiples of
 *   8 except the root's length: the callback pads a short last write unit
 *   with 0xFF (erased). A flash whose write unit is larger than 8 bytes
 *   (32 on an STM32H7) cannot program the root header's two pieces (0..24,
 *   then the digest at 24..64) into one unit: program the 64 header bytes
 *   in one call there. That stays power-safe: the root is already complete,
 *   and a header cut short fails its digest.
 * - erase: whole erase sectors, offset and length multiples of the sector. */
typedef struct {
    int32_t (*read)(void *ctx, uint32_t offset, uint8_t *buf, size_t len);
    int32_t (*program)(void *ctx, uint32_t offset, const uint8_t *data, size_t len);
    int32_t (*erase)(void *ctx, uint32_t offset, uint32_t len);
    void *ctx;
} store_flash_t;

/* Where a store's two copies are. Each copy is copy_size bytes of whole erase
 * sectors of its own: the copies never share a sector, or erasing one would
 * destroy the other. */
typedef struct {
    store_flash_t flash;
    uint32_t copy_offset[2]; /* copy A, copy B */
    uint32_t copy_size;
} two_copy_store;

typedef enum {
    STORE_OK = 0,
    STORE_EMPTY = 1,     /* no valid copy: not provisioned (boot nothing) */
    STORE_FLASH = 2,     /* a flash callback failed (power cut, driver error) */
    STORE_TOO_LARGE = 3, /* the record does not fit a copy, or the caller's buffer */
    STORE_REFUSED = 4,   /* an older root than the current one, or a root whose
                          * version cannot be read, or an invalid state */
    STORE_READBACK = 5   /* the written copy did not read back valid */
} store_status;

/* --- the root store: records "FWRS", 64-byte header, then the root --- */

#define ROOT_RECORD_HEADER 64u

/* The current root (the valid copy with the highest version) into root
 * (cap bytes). Its digest is checked again over the bytes in RAM, so what
 * the caller gets is exactly what was stored. STORE_EMPTY: none valid. */
store_status root_store_read(const two_copy_store *s, uint8_t *root, size_t cap,
                             size_t *root_len, uint64_t *version);

/* Stores a root (canonical JSON) as the new current one: its version is
 * read from the JSON (signed.version). Refuses an older version than the
 * current root's, and the same version with different bytes (two valid
 * copies of one version must hold one root). Returns STORE_OK only once the
 * new copy reads back valid. Provisioning: call it on a blank store (writes
 * copy A), and again with the same root to fill copy B. */
store_status root_store_write(const two_copy_store *s, const uint8_t *root, size_t len);

/* As fwsign_store_root_fn, for fwsign_verify_slot: ctx is the
 * two_copy_store. Returns 0 once the root is stored durably. */
int32_t root_store_callback(void *ctx, const uint8_t *root, size_t len);

/* signed.version of a root in canonical JSON (no whitespace), or non-zero
 * when it cannot be found. Reads only the key at the top of "signed". */
int root_json_version(const uint8_t *json, size_t len, uint64_t *version);

/* --- the device-state store: records "FWDS" --- */

#define STATE_ROLE_NAME_CAP 63u /* bytes of a role name in a record */

typedef struct {
    uint8_t name_len;
    char name[STATE_ROLE_NAME_CAP]; /* not NUL-terminated when 63 bytes */
    uint64_t version;               /* last accepted version */
} state_role;

typedef struct {
    uint64_t sequence;    /* set by the store: which copy is newer */
    uint64_t counter;     /* installed security counter */
    uint8_t slot_state[2]; /* FWSIGN_SLOT_* of slots A and B */
    uint16_t role_count;   /* at most FWSIGN_MAX_ACCEPTED */
    state_role roles[FWSIGN_MAX_ACCEPTED];
} device_state;

/* Bytes of a record with role_count roles. */
#define STATE_RECORD_LEN(role_count) (32u + 72u * (uint32_t)(role_count) + 32u)

/* The current state (the valid copy with the highest sequence).
 * STORE_EMPTY: no valid copy, so the counter and role versions are unknown;
 * do not assume zeros (that is a rollback), boot nothing or re-provision. */
store_status state_store_read(const two_copy_store *s, device_state *state);

/* Writes *state as the new current record (sequence one above the current
 * copy's; state->sequence is set). STORE_OK only once it reads back valid. */
store_status state_store_write(const two_copy_store *s, device_state *state);

/* The accepted role versions for fwsign_device_t (pointing into state):
 * returns how many entries of out are used. */
size_t state_accepted(const device_state *state, fwsign_role_version_t out[FWSIGN_MAX_ACCEPTED]);

/* Raises the state after the booted image confirmed itself: the counter to
 * the image's (never lower; fwsign_confirm_counter's rule) and each role on
 * the verified chain to its verified version (new roles added). STORE_REFUSED
 * when a role name does not fit or the list is full. Persist it with
 * state_store_write. */
store_status state_confirm(device_state *state, const fwsign_verified_t *v);

#endif
