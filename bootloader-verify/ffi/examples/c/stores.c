/* See stores.h and docs/device-format.md (the record layouts). */
#include "stores.h"

#include <string.h>

#include "sha256.h"

/* --- little-endian fields --- */

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const uint8_t *p) { return get_u32(p) | (uint64_t)get_u32(p + 4) << 32; }

/* Constant-time compare is not needed (the digests only detect damage,
 * they are not secrets), but it costs nothing. */
static int same32(const uint8_t *a, const uint8_t *b) {
    uint8_t diff = 0;
    for (int i = 0; i < 32; i++) diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

static int flash_read(const two_copy_store *s, uint32_t at, uint8_t *buf, size_t len) {
    return s->flash.read(s->flash.ctx, at, buf, len) == 0;
}

static int flash_program(const two_copy_store *s, uint32_t at, const uint8_t *buf, size_t len) {
    return s->flash.program(s->flash.ctx, at, buf, len) == 0;
}

/* Hashes len bytes of flash at `at` into ctx, in small chunks (no buffer
 * the size of a record on the stack). */
static int hash_flash(const two_copy_store *s, uint32_t at, uint32_t len, sha256_ctx *ctx) {
    uint8_t chunk[64];
    while (len > 0) {
        uint32_t n = len < sizeof chunk ? len : (uint32_t)sizeof chunk;
        if (!flash_read(s, at, chunk, n)) return 0;
        sha256_update(ctx, chunk, n);
        at += n;
        len -= n;
    }
    return 1;
}

/* ===================== the root store ===================== */

/* A copy's header, when the copy is valid. */
typedef struct {
    uint64_t version;
    uint32_t len;
    uint8_t digest[32];
} root_copy;

/* Validates copy i (magic, format, fits, SHA-256 over header[0..24] and the
 * root as it stands in flash). Anything else (erased, torn, bit rot) is
 * invalid: returns 0. */
static int root_copy_valid(const two_copy_store *s, int i, root_copy *out) {
    uint8_t h[ROOT_RECORD_HEADER];
    uint32_t at = s->copy_offset[i];
    if (!flash_read(s, at, h, sizeof h)) return 0;
    if (memcmp(h, "FWRS", 4) != 0 || get_u16(h + 4) != 1) return 0;
    uint32_t len = get_u32(h + 16);
    if (s->copy_size < ROOT_RECORD_HEADER || len > s->copy_size - ROOT_RECORD_HEADER) return 0;
    sha256_ctx ctx;
    uint8_t digest[32];
    sha256_start(&ctx);
    sha256_update(&ctx, h, 24);
    if (!hash_flash(s, at + ROOT_RECORD_HEADER, len, &ctx)) return 0;
    sha256_finish(&ctx, digest);
    if (!same32(digest, h + 24)) return 0;
    out->version = get_u64(h + 8);
    out->len = len;
    memcpy(out->digest, digest, 32);
    return 1;
}

/* The current copy (highest valid version; A on a tie, both hold one root),
 * or -1. valid[] and copies[] describe both. */
static int root_current(const two_copy_store *s, root_copy copies[2], int valid[2]) {
    valid[0] = root_copy_valid(s, 0, &copies[0]);
    valid[1] = root_copy_valid(s, 1, &copies[1]);
    if (valid[0] && valid[1]) return copies[1].version > copies[0].version ? 1 : 0;
    if (valid[0]) return 0;
    if (valid[1]) return 1;
    return -1;
}

store_status root_store_read(const two_copy_store *s, uint8_t *root, size_t cap,
                             size_t *root_len, uint64_t *version) {
    root_copy copies[2];
    int valid[2];
    int cur = root_current(s, copies, valid);
    if (cur < 0) return STORE_EMPTY;
    if (copies[cur].len > cap) return STORE_TOO_LARGE;
    uint32_t at = s->copy_offset[cur];
    uint8_t h[24];
    if (!flash_read(s, at, h, sizeof h) ||
        !flash_read(s, at + ROOT_RECORD_HEADER, root, copies[cur].len)) {
        return STORE_FLASH;
    }
    /* Again over the copy in RAM: the caller verifies against these bytes,
     * so they, not the flash read a moment ago, are what must match. */
    sha256_ctx ctx;
    uint8_t digest[32];
    sha256_start(&ctx);
    sha256_update(&ctx, h, sizeof h);
    sha256_update(&ctx, root, copies[cur].len);
    sha256_finish(&ctx, digest);
    if (!same32(digest, copies[cur].digest)) return STORE_READBACK;
    *root_len = copies[cur].len;
    *version = copies[cur].version;
    return STORE_OK;
}

/* The 24 hashed header bytes of a record. */
static void root_header(uint8_t h[ROOT_RECORD_HEADER], uint64_t version, uint32_t len) {
    memset(h, 0, ROOT_RECORD_HEADER);
    memcpy(h, "FWRS", 4);
    put_u16(h + 4, 1);
    put_u64(h + 8, version);
    put_u32(h + 16, len);
}

store_status root_store_write(const two_copy_store *s, const uint8_t *root, size_t len) {
    uint64_t version;
    if (root_json_version(root, len, &version) != 0) return STORE_REFUSED;
    if (s->copy_size < ROOT_RECORD_HEADER || len > s->copy_size - ROOT_RECORD_HEADER) {
        return STORE_TOO_LARGE;
    }
    uint8_t h[ROOT_RECORD_HEADER];
    root_header(h, version, (uint32_t)len);
    sha256_ctx ctx;
    sha256_start(&ctx);
    sha256_update(&ctx, h, 24);
    sha256_update(&ctx, root, len);
    sha256_finish(&ctx, h + 24);

    root_copy copies[2];
    int valid[2];
    int cur = root_current(s, copies, valid);
    if (cur >= 0) {
        /* Never back: an older root would undo a key rotation. The same
         * version again is only the same root (provisioning copy B). */
        if (version < copies[cur].version) return STORE_REFUSED;
        if (version == copies[cur].version && !same32(h + 24, copies[cur].digest)) {
            return STORE_REFUSED;
        }
    }
    /* The copy that is not current; never the current one. */
    int target = cur < 0 ? 0 : 1 - cur;
    uint32_t at = s->copy_offset[target];
    /* Erase, the root, the hashed header fields, then the digest last: until
     * the digest is in place the copy is invalid, whatever else landed. */
    if (s->flash.erase(s->flash.ctx, at, s->copy_size) != 0) return STORE_FLASH;
    if (!flash_program(s, at + ROOT_RECORD_HEADER, root, len)) return STORE_FLASH;
    if (!flash_program(s, at, h, 24)) return STORE_FLASH;
    if (!flash_program(s, at + 24, h + 24, ROOT_RECORD_HEADER - 24)) return STORE_FLASH;
    /* Only a copy that reads back valid, with this root, is stored. */
    root_copy back;
    if (!root_copy_valid(s, target, &back) || back.version != version ||
        !same32(back.digest, h + 24)) {
        return STORE_READBACK;
    }
    return STORE_OK;
}

int32_t root_store_callback(void *ctx, const uint8_t *root, size_t len) {
    return root_store_write((const two_copy_store *)ctx, root, len) == STORE_OK ? 0 : 1;
}

/* Canonical JSON, as fwsign writes it and as the verifier checked it: no
 * whitespace, keys sorted. The envelope is {"signatures":[...],"signed":
 * {...}}; the version is the member "version" of "signed", at depth 2. The
 * walk follows strings (with their escapes) so a "version" inside a string
 * or a nested object is never taken. */
int root_json_version(const uint8_t *json, size_t len, uint64_t *version) {
    static const char signed_key[] = "\"signed\":{";
    static const char version_key[] = "\"version\":";
    int depth = 0, in_string = 0, in_signed = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = json[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = 0;
            continue;
        }
        if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (depth == 2 && in_signed) return 1; /* "signed" ended: no version */
            depth--;
        } else if (c == '"') {
            size_t rest = len - i;
            if (depth == 1 && rest >= sizeof signed_key - 1 &&
                memcmp(json + i, signed_key, sizeof signed_key - 1) == 0) {
                in_signed = 1;
                i += sizeof signed_key - 2; /* at the '{' */
                depth++;
                continue;
            }
            if (depth == 2 && in_signed && rest >= sizeof version_key - 1 &&
                memcmp(json + i, version_key, sizeof version_key - 1) == 0) {
                size_t j = i + sizeof version_key - 1;
                uint64_t v = 0;
                size_t digits = 0;
                for (; j < len && json[j] >= '0' && json[j] <= '9'; j++, digits++) {
                    if (v > (UINT64_MAX - 9) / 10) return 1; /* overflow */
                    v = v * 10 + (uint64_t)(json[j] - '0');
                }
                if (digits == 0 || j >= len || (json[j] != ',' && json[j] != '}')) return 1;
                *version = v;
                return 0;
            }
            in_string = 1;
        }
    }
    return 1;
}

/* ===================== the device-state store ===================== */

#define STATE_HEADER 32u
#define STATE_ROLE 72u

static void state_header(uint8_t h[STATE_HEADER], const device_state *st) {
    memset(h, 0, STATE_HEADER);
    memcpy(h, "FWDS", 4);
    put_u16(h + 4, 1);
    put_u16(h + 6, st->role_count);
    put_u64(h + 8, st->sequence);
    put_u64(h + 16, st->counter);
    h[24] = st->slot_state[0];
    h[25] = st->slot_state[1];
}

static void state_role_bytes(uint8_t r[STATE_ROLE], const state_role *role) {
    memset(r, 0, STATE_ROLE);
    r[0] = role->name_len;
    memcpy(r + 1, role->name, role->name_len);
    put_u64(r + 64, role->version);
}

/* Validates copy i and parses it into *st (when st is not NULL; the
 * sequence and digest always into *seq, digest). */
static int state_copy_valid(const two_copy_store *s, int i, device_state *st, uint64_t *seq,
                            uint8_t digest[32]) {
    uint8_t h[STATE_HEADER], r[STATE_ROLE], stored[32];
    uint32_t at = s->copy_offset[i];
    if (!flash_read(s, at, h, sizeof h)) return 0;
    if (memcmp(h, "FWDS", 4) != 0 || get_u16(h + 4) != 1) return 0;
    uint16_t roles = get_u16(h + 6);
    if (roles > FWSIGN_MAX_ACCEPTED || STATE_RECORD_LEN(roles) > s->copy_size) return 0;
    /* A slot state outside FWSIGN_SLOT_* is refused as a damaged record:
     * fwsign_choose_boot would refuse it too. */
    if (h[24] > FWSIGN_SLOT_FAILED || h[25] > FWSIGN_SLOT_FAILED) return 0;
    sha256_ctx ctx;
    sha256_start(&ctx);
    sha256_update(&ctx, h, sizeof h);
    if (st) {
        st->sequence = get_u64(h + 8);
        st->counter = get_u64(h + 16);
        st->slot_state[0] = h[24];
        st->slot_state[1] = h[25];
        st->role_count = roles;
    }
    for (uint16_t k = 0; k < roles; k++) {
        if (!flash_read(s, at + STATE_HEADER + STATE_ROLE * k, r, sizeof r)) return 0;
        if (r[0] > STATE_ROLE_NAME_CAP) return 0;
        sha256_update(&ctx, r, sizeof r);
        if (st) {
            st->roles[k].name_len = r[0];
            memcpy(st->roles[k].name, r + 1, STATE_ROLE_NAME_CAP);
            st->roles[k].version = get_u64(r + 64);
        }
    }
    if (!flash_read(s, at + STATE_RECORD_LEN(roles) - 32, stored, sizeof stored)) return 0;
    sha256_finish(&ctx, digest);
    if (!same32(digest, stored)) return 0;
    *seq = get_u64(h + 8);
    return 1;
}

/* The current copy (highest valid sequence), or -1; seq[] of both. */
static int state_current(const two_copy_store *s, uint64_t seq[2]) {
    uint8_t digest[32];
    int a = state_copy_valid(s, 0, NULL, &seq[0], digest);
    int b = state_copy_valid(s, 1, NULL, &seq[1], digest);
    if (a && b) return seq[1] > seq[0] ? 1 : 0;
    if (a) return 0;
    if (b) return 1;
    return -1;
}

store_status state_store_read(const two_copy_store *s, device_state *state) {
    uint64_t seq[2];
    uint8_t digest[32];
    int cur = state_current(s, seq);
    if (cur < 0) return STORE_EMPTY;
    memset(state, 0, sizeof *state);
    /* Parsed in the same pass as it is validated again. */
    if (!state_copy_valid(s, cur, state, &seq[cur], digest)) return STORE_READBACK;
    return STORE_OK;
}

store_status state_store_write(const two_copy_store *s, device_state *state) {
    if (state->role_count > FWSIGN_MAX_ACCEPTED) return STORE_REFUSED;
    if (state->slot_state[0] > FWSIGN_SLOT_FAILED || state->slot_state[1] > FWSIGN_SLOT_FAILED) {
        return STORE_REFUSED;
    }
    for (uint16_t k = 0; k < state->role_count; k++) {
        if (state->roles[k].name_len > STATE_ROLE_NAME_CAP) return STORE_REFUSED;
    }
    uint32_t len = STATE_RECORD_LEN(state->role_count);
    if (len > s->copy_size) return STORE_TOO_LARGE;
    uint64_t seq[2];
    int cur = state_current(s, seq);
    /* A sequence is never reused: one above the current copy's. */
    state->sequence = cur < 0 ? 1 : seq[cur] + 1;
    int target = cur < 0 ? 0 : 1 - cur;
    uint32_t at = s->copy_offset[target];

    uint8_t h[STATE_HEADER], r[STATE_ROLE], digest[32];
    sha256_ctx ctx;
    sha256_start(&ctx);
    /* Erase the other copy, program the record piece by piece, the digest
     * last: a cut anywhere before it leaves that copy invalid. */
    if (s->flash.erase(s->flash.ctx, at, s->copy_size) != 0) return STORE_FLASH;
    state_header(h, state);
    sha256_update(&ctx, h, sizeof h);
    if (!flash_program(s, at, h, sizeof h)) return STORE_FLASH;
    for (uint16_t k = 0; k < state->role_count; k++) {
        state_role_bytes(r, &state->roles[k]);
        sha256_update(&ctx, r, sizeof r);
        if (!flash_program(s, at + STATE_HEADER + STATE_ROLE * k, r, sizeof r)) return STORE_FLASH;
    }
    sha256_finish(&ctx, digest);
    if (!flash_program(s, at + len - 32, digest, sizeof digest)) return STORE_FLASH;
    uint64_t back_seq;
    uint8_t back[32];
    if (!state_copy_valid(s, target, NULL, &back_seq, back) || back_seq != state->sequence ||
        !same32(back, digest)) {
        return STORE_READBACK;
    }
    return STORE_OK;
}

size_t state_accepted(const device_state *state, fwsign_role_version_t out[FWSIGN_MAX_ACCEPTED]) {
    size_t n = state->role_count <= FWSIGN_MAX_ACCEPTED ? state->role_count : FWSIGN_MAX_ACCEPTED;
    for (size_t k = 0; k < n; k++) {
        out[k].role = state->roles[k].name;
        out[k].role_len = state->roles[k].name_len;
        out[k].version = state->roles[k].version;
    }
    return n;
}

store_status state_confirm(device_state *state, const fwsign_verified_t *v) {
    /* Only ever raised: a confirmed older image must not lower them. */
    if (v->security_counter > state->counter) state->counter = v->security_counter;
    for (uint32_t i = 0; i < v->role_count && i < FWSIGN_MAX_CHAIN; i++) {
        const fwsign_role_version_out_t *role = &v->roles[i];
        if (role->role_len > STATE_ROLE_NAME_CAP) return STORE_REFUSED;
        uint16_t k = 0;
        while (k < state->role_count && !(state->roles[k].name_len == role->role_len &&
                                          memcmp(state->roles[k].name, role->role,
                                                 role->role_len) == 0)) {
            k++;
        }
        if (k == state->role_count) {
            /* Full: `targets` (written at manufacturing, first in every
             * chain) must be kept; any other role goes without a floor.
             * docs/architecture.md, "Role-version floors with hashed bins",
             * says why the security counter and the floored `targets`'
             * keys bound a replay of a role left out. */
            if (state->role_count >= FWSIGN_MAX_ACCEPTED) {
                if (i == 0) return STORE_REFUSED;
                continue;
            }
            state->role_count++;
            memset(&state->roles[k], 0, sizeof state->roles[k]);
            state->roles[k].name_len = (uint8_t)role->role_len;
            memcpy(state->roles[k].name, role->role, role->role_len);
        }
        if (role->version > state->roles[k].version) state->roles[k].version = role->version;
    }
    return STORE_OK;
}
