/* Host test harness for the example's two-copy stores (examples/c/stores.c):
 * power cut at every write and erase step, torn writes, bit rot, rollback.
 * Built and run by bootloader-verify/ffi/tests/stores.rs, one scenario per
 * Rust test:
 *
 *   store_power_cut root-power-cut | state-power-cut | bit-rot | root-rollback
 *                   | empty | confirm | real-root PATH VERSION
 *
 * Prints what it checked; exits 0 when every check held, 1 on the first
 * failure (with what was read), 2 on a usage error.
 *
 * The flash is examples/c/nor_flash.c (NOR rules: erase to 0xFF, programming
 * only clears bits) behind a wrapper that loses power at a chosen step: that
 * step is torn (nothing of it lands; a prefix lands and the next byte is half
 * done; or the whole range is garbage), and nothing after it is written.
 * Then the device "reboots": the wrapper is disarmed and the store read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nor_flash.h"
#include "stores.h"

#define SECTOR 4096u
#define COPY 8192u /* two sectors a copy: a root of up to 8 KiB - 64 */
#define FLASH_SIZE (2 * COPY)
#define MAX_STEPS 64

static int checks;

#define CHECK(cond, ...)                                                                     \
    do {                                                                                     \
        checks++;                                                                            \
        if (!(cond)) {                                                                       \
            printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                           \
            printf(__VA_ARGS__);                                                             \
            printf("\n");                                                                    \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* --- a flash that loses power --- */

enum tear { TEAR_NOTHING, TEAR_PREFIX, TEAR_GARBAGE };
static const char *const tear_names[] = {"nothing lands", "prefix lands", "garbage"};

typedef struct {
    nor_flash ram;
    int steps;          /* program and erase calls so far */
    size_t step_len[MAX_STEPS];
    int cut_at;         /* the step power is lost in; -1: never */
    enum tear tear;
    size_t tear_len;    /* TEAR_PREFIX: bytes that land before the half-done one */
    int cut;            /* power is gone */
    uint32_t rng;
} cut_flash;

static uint8_t noise(cut_flash *f) {
    f->rng ^= f->rng << 13;
    f->rng ^= f->rng >> 17;
    f->rng ^= f->rng << 5;
    return (uint8_t)f->rng;
}

/* Counts the step; returns 1 when it runs whole, 0 when power is (or was)
 * lost: then it has applied the tear itself. */
static int step(cut_flash *f, uint32_t offset, const uint8_t *data, size_t len, int erase) {
    if (f->cut) return 0;
    int k = f->steps++;
    if (k < MAX_STEPS) f->step_len[k] = len;
    if (k != f->cut_at) return 1;
    f->cut = 1;
    uint8_t *mem = f->ram.bytes + offset;
    if (offset > f->ram.size || len > f->ram.size - offset) return 0;
    if (f->tear == TEAR_PREFIX) {
        for (size_t i = 0; i < f->tear_len && i < len; i++) mem[i] = erase ? 0xFF : mem[i] & data[i];
        if (f->tear_len < len) {
            /* The half-done byte: some of its bits changed, not all. */
            size_t i = f->tear_len;
            mem[i] = erase ? (uint8_t)(mem[i] | noise(f)) : (uint8_t)(mem[i] & (data[i] | noise(f)));
        }
    } else if (f->tear == TEAR_GARBAGE) {
        for (size_t i = 0; i < len; i++) {
            mem[i] = erase ? noise(f) : (uint8_t)(mem[i] & (data[i] | noise(f)));
        }
    }
    return 0;
}

static int32_t cut_read(void *ctx, uint32_t offset, uint8_t *buf, size_t len) {
    cut_flash *f = ctx;
    return nor_flash_read(&f->ram, offset, buf, len);
}

static int32_t cut_program(void *ctx, uint32_t offset, const uint8_t *data, size_t len) {
    cut_flash *f = ctx;
    if (!step(f, offset, data, len, 0)) return -1;
    return nor_flash_program(&f->ram, offset, data, len);
}

static int32_t cut_erase(void *ctx, uint32_t offset, uint32_t len) {
    cut_flash *f = ctx;
    if (!step(f, offset, NULL, len, 1)) return -1;
    return nor_flash_erase(&f->ram, offset, len);
}

static uint8_t flash_bytes[FLASH_SIZE];
static uint8_t snapshot[FLASH_SIZE];
static cut_flash flash;
static two_copy_store store;

static void flash_setup(void) {
    nor_flash_init(&flash.ram, flash_bytes, FLASH_SIZE, SECTOR);
    store.flash = (store_flash_t){cut_read, cut_program, cut_erase, &flash};
    store.copy_offset[0] = 0;
    store.copy_offset[1] = COPY;
    store.copy_size = COPY;
    flash.cut_at = -1;
}

/* Power on: nothing armed, step counter reset. */
static void reboot(void) {
    flash.cut = 0;
    flash.cut_at = -1;
    flash.steps = 0;
}

static void arm(int k, enum tear tear, size_t tear_len, uint32_t seed) {
    reboot();
    flash.cut_at = k;
    flash.tear = tear;
    flash.tear_len = tear_len;
    flash.rng = seed * 2654435761u + 1;
}

/* The tears tried at a step of len bytes: nothing, a prefix of 0, 1, half
 * and all but one byte (each with a half-done next byte), garbage. */
static int tears(size_t len, enum tear tear[8], size_t tear_len[8]) {
    size_t prefixes[] = {0, 1, len / 2, len ? len - 1 : 0};
    int n = 0;
    tear[n] = TEAR_NOTHING, tear_len[n++] = 0;
    for (int i = 0; i < 4; i++) {
        int dup = prefixes[i] >= len;
        for (int j = 0; j < i; j++) dup |= prefixes[j] == prefixes[i];
        if (!dup) tear[n] = TEAR_PREFIX, tear_len[n++] = prefixes[i];
    }
    tear[n] = TEAR_GARBAGE, tear_len[n++] = 0;
    return n;
}

/* --- the values: roots and states --- */

/* A root in canonical JSON with this version, about len bytes long (a long
 * key value pads it), with "version" strings elsewhere that must not be
 * taken for signed.version. */
static size_t make_root(uint8_t *out, size_t cap, uint64_t version, size_t len) {
    int n = snprintf((char *)out, cap,
                     "{\"signatures\":[{\"keyid\":\"version\",\"sig\":\"\\\"version\\\":9\"}],"
                     "\"signed\":{\"_type\":\"root\",\"expires\":\"2030-01-01T00:00:00Z\","
                     "\"keys\":{\"k1\":{\"keytype\":\"ed25519\",\"keyval\":{\"public\":\"");
    while ((size_t)n + 200 < len && (size_t)n + 200 < cap) out[n++] = (uint8_t)('a' + version % 26);
    n += snprintf((char *)out + n, cap - (size_t)n,
                  "\"},\"scheme\":\"ed25519\",\"x\":{\"version\":7}}},\"roles\":{\"root\":"
                  "{\"keyids\":[\"k1\"],\"threshold\":1}},\"spec_version\":\"1.0.31\","
                  "\"version\":%llu}}",
                  (unsigned long long)version);
    return (size_t)n;
}

typedef struct {
    uint8_t bytes[COPY];
    size_t len;
} root_value;

static root_value roots[8]; /* roots[v]: version v */

static void make_roots(void) {
    static const size_t lens[8] = {0, 3000, 3400, 1200, 5000, 2900, 8000, 700};
    for (uint64_t v = 1; v < 8; v++) {
        roots[v].len = make_root(roots[v].bytes, sizeof roots[v].bytes, v, lens[v]);
        uint64_t got;
        CHECK(root_json_version(roots[v].bytes, roots[v].len, &got) == 0 && got == v,
              "version of made root v%llu", (unsigned long long)v);
    }
}

/* The root the store reads now: its version, or 0 when none is valid; -1
 * when a "valid" read returned bytes that are no root written (garbage). */
static int64_t read_root(void) {
    static uint8_t buf[COPY];
    size_t len = 0;
    uint64_t version = 0;
    store_status st = root_store_read(&store, buf, sizeof buf, &len, &version);
    if (st == STORE_EMPTY) return 0;
    if (st != STORE_OK || version == 0 || version >= 8) return -1;
    if (len != roots[version].len || memcmp(buf, roots[version].bytes, len) != 0) return -1;
    return (int64_t)version;
}

static store_status write_root(uint64_t v) {
    return root_store_write(&store, roots[v].bytes, roots[v].len);
}

/* States differing in every field and in length (0, 1, 3 and 32 roles). */
static device_state states[6];

static void make_states(void) {
    static const uint16_t counts[6] = {0, 1, 3, FWSIGN_MAX_ACCEPTED, 0, 2};
    for (int i = 0; i < 6; i++) {
        device_state *s = &states[i];
        memset(s, 0, sizeof *s);
        s->counter = 100 + (uint64_t)i;
        s->slot_state[0] = (uint8_t)(i % 4);
        s->slot_state[1] = (uint8_t)((i + 1) % 4);
        s->role_count = counts[i];
        for (uint16_t k = 0; k < counts[i]; k++) {
            int n = snprintf(s->roles[k].name, sizeof s->roles[k].name, "role-%d-%u", i, k);
            s->roles[k].name_len = (uint8_t)n;
            s->roles[k].version = 1000u * (uint64_t)i + k;
        }
    }
    /* A 63-byte name: the longest a record holds. */
    memset(states[3].roles[0].name, 'n', STATE_ROLE_NAME_CAP);
    states[3].roles[0].name_len = STATE_ROLE_NAME_CAP;
}

static int same_state(const device_state *a, const device_state *b) {
    if (a->counter != b->counter || a->slot_state[0] != b->slot_state[0] ||
        a->slot_state[1] != b->slot_state[1] || a->role_count != b->role_count) {
        return 0;
    }
    for (uint16_t k = 0; k < a->role_count; k++) {
        if (a->roles[k].name_len != b->roles[k].name_len || a->roles[k].version != b->roles[k].version ||
            memcmp(a->roles[k].name, b->roles[k].name, a->roles[k].name_len) != 0) {
            return 0;
        }
    }
    return 1;
}

/* Which of states[] the store reads now: its index, -2 when none is valid,
 * -1 for a "valid" read that is none of them (garbage). */
static int read_state(void) {
    device_state got;
    store_status st = state_store_read(&store, &got);
    if (st == STORE_EMPTY) return -2;
    if (st != STORE_OK) return -1;
    for (int i = 0; i < 6; i++) {
        if (same_state(&got, &states[i])) return i;
    }
    return -1;
}

static store_status write_state(int i) {
    device_state s = states[i];
    return state_store_write(&store, &s);
}

/* --- the power-cut sweep, for either store --- */

typedef struct {
    const char *name;
    int (*read)(void);                 /* the value's id; see read_root / read_state */
    store_status (*write)(int value);  /* writes value id */
    int old_value, new_value, next[2];
} sweep;

static int read_root_id(void) { return (int)read_root(); }
static store_status write_root_id(int v) { return write_root((uint64_t)v); }

/* From the flash as it stands (holding s->old_value): for each step k of
 * the update to new_value and each tear of it, cut power there, reboot, and
 * check the store reads the old or the new value (the new one if the write
 * reported success), then that two more updates work. */
static void power_cut_sweep(const sweep *s) {
    memcpy(snapshot, flash_bytes, sizeof snapshot);
    reboot();
    CHECK(s->read() == s->old_value, "%s: start", s->name);
    /* A clean run counts the steps and their lengths. */
    CHECK(s->write(s->new_value) == STORE_OK, "%s: clean update", s->name);
    int steps = flash.steps;
    size_t lens[MAX_STEPS];
    CHECK(steps >= 3 && steps <= MAX_STEPS, "%s: %d steps", s->name, steps);
    memcpy(lens, flash.step_len, sizeof lens);
    CHECK(s->read() == s->new_value, "%s: clean update reads new", s->name);
    int cuts = 0, old_seen = 0, new_seen = 0;
    for (int k = 0; k < steps; k++) {
        enum tear tear[8];
        size_t tear_len[8];
        int n = tears(lens[k], tear, tear_len);
        for (int t = 0; t < n; t++) {
            memcpy(flash_bytes, snapshot, sizeof snapshot);
            arm(k, tear[t], tear_len[t], (uint32_t)(k * 8 + t));
            store_status rc = s->write(s->new_value);
            reboot();
            int got = s->read();
            CHECK(got == s->old_value || got == s->new_value,
                  "%s: cut in step %d of %d (%zu bytes, %s %zu): read %d, not old %d or new %d",
                  s->name, k, steps, lens[k], tear_names[tear[t]], tear_len[t], got, s->old_value,
                  s->new_value);
            CHECK(rc != STORE_OK || got == s->new_value,
                  "%s: step %d: the write reported success but the store reads %d", s->name, k, got);
            old_seen += got == s->old_value;
            new_seen += got == s->new_value;
            /* The device goes on: the next updates work from here. */
            for (int i = 0; i < 2; i++) {
                CHECK(s->write(s->next[i]) == STORE_OK, "%s: step %d: update %d after the cut",
                      s->name, k, i);
                reboot();
                CHECK(s->read() == s->next[i], "%s: step %d: update %d after the cut reads %d",
                      s->name, k, i, s->read());
            }
            cuts++;
        }
    }
    CHECK(old_seen > 0, "%s: no cut kept the old value", s->name);
    printf("%s: %d write steps, %d power cuts (each tear of each step): old value kept %d times, "
           "new value %d times, never anything else; the next two updates worked after each\n",
           s->name, steps, cuts, old_seen, new_seen);
}

static int root_power_cut(void) {
    /* Provisioned: copy A holds v1, copy B is erased. */
    flash_setup();
    CHECK(write_root(1) == STORE_OK, "provision");
    power_cut_sweep(&(sweep){"root store, one copy (v1 -> v2)", read_root_id, write_root_id, 1, 2, {3, 4}});
    /* After a rotation: A holds v1, B v2 (current); the update writes A. */
    flash_setup();
    CHECK(write_root(1) == STORE_OK && write_root(2) == STORE_OK, "two copies");
    power_cut_sweep(&(sweep){"root store, two copies (v2 -> v3)", read_root_id, write_root_id, 2, 3, {4, 5}});
    /* B holds garbage from an earlier torn write. */
    flash_setup();
    CHECK(write_root(1) == STORE_OK, "provision");
    for (uint32_t i = 0; i < COPY; i++) flash_bytes[COPY + i] = (uint8_t)(i * 151u + 7u);
    power_cut_sweep(&(sweep){"root store, garbage copy (v1 -> v2)", read_root_id, write_root_id, 1, 2, {6, 7}});
    /* Provisioning copy B with the same root as A: v1 whatever happens. */
    flash_setup();
    CHECK(write_root(1) == STORE_OK, "provision");
    power_cut_sweep(&(sweep){"root store, provisioning copy B (v1 -> v1)", read_root_id, write_root_id, 1, 1, {2, 3}});
    return 0;
}

static int state_power_cut(void) {
    flash_setup();
    CHECK(write_state(0) == STORE_OK, "first record");
    power_cut_sweep(&(sweep){"state store, one copy (0 -> 3: 32 roles)", read_state, write_state, 0, 3, {1, 2}});
    flash_setup();
    CHECK(write_state(0) == STORE_OK && write_state(2) == STORE_OK, "two copies");
    power_cut_sweep(&(sweep){"state store, two copies (2 -> 1)", read_state, write_state, 2, 1, {3, 4}});
    flash_setup();
    CHECK(write_state(3) == STORE_OK && write_state(4) == STORE_OK, "two copies");
    power_cut_sweep(&(sweep){"state store, 32 roles -> none (4 -> 5)", read_state, write_state, 4, 5, {3, 0}});
    return 0;
}

/* A bit of every byte of the current copy's record flipped in turn (bit
 * rot, a stray write): the store reads the other copy's value or none, never the damaged
 * record. */
static int bit_rot(void) {
    flash_setup();
    CHECK(write_root(1) == STORE_OK && write_root(2) == STORE_OK, "two roots");
    size_t record = ROOT_RECORD_HEADER + roots[2].len;
    memcpy(snapshot, flash_bytes, sizeof snapshot);
    /* One bit a byte, a different bit each byte: every byte is covered
     * and the sweep stays well under a second. */
    for (size_t i = 0; i < record; i++) {
        int bit = (int)(i % 8);
        memcpy(flash_bytes, snapshot, sizeof snapshot);
        flash_bytes[COPY + i] ^= (uint8_t)(1u << bit);
        int64_t got = read_root();
        /* Bytes 56..64 are reserved and not hashed (the format's digest
         * covers bytes 0..24 and the root), so a flip there changes nothing
         * that is read: the copy still holds v2. */
        CHECK(got == 1 || (i >= 56 && i < 64 && got == 2), "root: byte %zu bit %d: read v%lld", i,
              bit, (long long)got);
    }
    /* With one copy only, damage leaves no root: boot nothing. */
    flash_setup();
    CHECK(write_root(1) == STORE_OK, "one root");
    flash_bytes[ROOT_RECORD_HEADER + 10] ^= 4;
    CHECK(read_root() == 0, "one damaged copy reads as none");

    flash_setup();
    CHECK(write_state(2) == STORE_OK && write_state(3) == STORE_OK, "two states");
    record = STATE_RECORD_LEN(states[3].role_count);
    memcpy(snapshot, flash_bytes, sizeof snapshot);
    for (size_t i = 0; i < record; i++) {
        int bit = (int)(i % 8);
        memcpy(flash_bytes, snapshot, sizeof snapshot);
        flash_bytes[COPY + i] ^= (uint8_t)(1u << bit);
        int got = read_state();
        CHECK(got == 2, "state: byte %zu bit %d: read %d", i, bit, got);
    }
    printf("bit rot: a bit of every byte of the newest root record (%zu bytes) and state record "
           "(%zu bytes) flipped in turn: the older copy is read, never the damaged one\n",
           ROOT_RECORD_HEADER + roots[2].len, record);
    return 0;
}

/* A root older than the current one is never stored (it would undo a key
 * rotation), nor another root under the current version. */
static int root_rollback(void) {
    flash_setup();
    CHECK(write_root(1) == STORE_OK && write_root(2) == STORE_OK && write_root(3) == STORE_OK,
          "three roots");
    reboot();
    CHECK(write_root(2) == STORE_REFUSED, "older root stored");
    CHECK(write_root(1) == STORE_REFUSED, "older root stored");
    CHECK(read_root() == 3, "current root after refusals");
    static uint8_t other[COPY];
    size_t len = make_root(other, sizeof other, 3, 900);
    CHECK(root_store_write(&store, other, len) == STORE_REFUSED, "another root as v3 stored");
    CHECK(read_root() == 3, "current root");
    CHECK(flash.steps == 0, "a refused root wrote %d steps", flash.steps);
    /* Unreadable versions are refused, not stored as version 0. */
    const char *bad[] = {"{}", "{\"signatures\":[],\"signed\":{\"version\":-1}}",
                         "{\"signatures\":[],\"signed\":{\"x\":{\"version\":4}}}",
                         "{\"signatures\":[],\"signed\":{\"version\":99999999999999999999}}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(root_store_write(&store, (const uint8_t *)bad[i], strlen(bad[i])) == STORE_REFUSED,
              "root without a readable version stored: %s", bad[i]);
    }
    /* Too large for a copy: refused before anything is erased. */
    static uint8_t big[COPY + 100];
    len = make_root(big, sizeof big, 9, sizeof big - 10);
    CHECK(root_store_write(&store, big, len) == STORE_TOO_LARGE, "oversized root");
    CHECK(flash.steps == 0 && read_root() == 3, "oversized root touched the flash");
    printf("root rollback: older roots, a different root under the current version, roots without "
           "a version and oversized roots are refused without touching the flash\n");
    return 0;
}

/* Erased flash is an unprovisioned store, not zeros: a device must not
 * start from counter 0 after its state was erased. */
static int empty(void) {
    flash_setup();
    CHECK(read_root() == 0, "blank root store");
    CHECK(read_state() == -2, "blank state store");
    device_state s;
    CHECK(state_store_read(&store, &s) == STORE_EMPTY, "blank state store status");
    printf("empty: an erased root store and state store read as unprovisioned (STORE_EMPTY)\n");
    return 0;
}

/* The confirm path: only raises, and feeds fwsign_device_t. */
static int confirm(void) {
    device_state s = {0};
    s.counter = 7;
    s.role_count = 1;
    s.roles[0].name_len = 7;
    memcpy(s.roles[0].name, "targets", 7);
    s.roles[0].version = 9;
    fwsign_verified_t v;
    memset(&v, 0, sizeof v);
    v.security_counter = 5;
    v.role_count = 2;
    memcpy(v.roles[0].role, "targets", 8);
    v.roles[0].role_len = 7;
    v.roles[0].version = 4;
    memcpy(v.roles[1].role, "board-a", 8);
    v.roles[1].role_len = 7;
    v.roles[1].version = 3;
    CHECK(state_confirm(&s, &v) == STORE_OK, "confirm");
    CHECK(s.counter == 7, "counter lowered to %llu", (unsigned long long)s.counter);
    CHECK(s.role_count == 2 && s.roles[0].version == 9 && s.roles[1].version == 3, "roles");
    v.security_counter = 8;
    v.roles[0].version = 10;
    CHECK(state_confirm(&s, &v) == STORE_OK && s.counter == 8 && s.roles[0].version == 10, "raise");
    fwsign_role_version_t accepted[FWSIGN_MAX_ACCEPTED];
    CHECK(state_accepted(&s, accepted) == 2 && accepted[1].role_len == 7 &&
              memcmp(accepted[1].role, "board-a", 7) == 0 && accepted[1].version == 3,
          "accepted list");
    flash_setup();
    CHECK(state_store_write(&store, &s) == STORE_OK && s.sequence == 1, "persist");
    device_state back;
    CHECK(state_store_read(&store, &back) == STORE_OK && same_state(&back, &s), "read back");
    printf("confirm: the counter and role versions are only raised, and round-trip the store\n");

    /* A full store (hashed bins: each release may pass through another
     * bin): `targets` is still raised and the counter too; a role not in
     * the store goes without a floor instead of refusing the confirm. */
    device_state full = {0};
    full.role_count = FWSIGN_MAX_ACCEPTED;
    memcpy(full.roles[0].name, "targets", 7);
    full.roles[0].name_len = 7;
    for (uint16_t k = 1; k < FWSIGN_MAX_ACCEPTED; k++) {
        full.roles[k].name_len = (uint8_t)snprintf((char *)full.roles[k].name, 8, "bins-%02x", k);
        full.roles[k].version = 1;
    }
    memcpy(v.roles[1].role, "bins-ff", 8);
    v.roles[1].role_len = 7;
    v.roles[0].version = 12;
    v.security_counter = 9;
    CHECK(state_confirm(&full, &v) == STORE_OK, "confirm into a full store");
    CHECK(full.role_count == FWSIGN_MAX_ACCEPTED && full.roles[0].version == 12 && full.counter == 9,
          "full store: targets and counter raised");
    printf("confirm: a full store keeps targets' floor and the counter, and floors no new role\n");
    return 0;
}

/* A root exactly as `fwsign device root` writes it. */
static int real_root(const char *path, const char *want) {
    static uint8_t buf[COPY];
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "open %s", path);
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    uint64_t version;
    CHECK(root_json_version(buf, len, &version) == 0, "version of %s", path);
    CHECK(version == strtoull(want, NULL, 10), "version %llu, want %s", (unsigned long long)version,
          want);
    flash_setup();
    CHECK(root_store_write(&store, buf, len) == STORE_OK, "store the real root");
    static uint8_t back[COPY];
    size_t back_len;
    uint64_t back_version;
    CHECK(root_store_read(&store, back, sizeof back, &back_len, &back_version) == STORE_OK &&
              back_len == len && memcmp(back, buf, len) == 0 && back_version == version,
          "read the real root back");
    CHECK(root_store_read(&store, back, len - 1, &back_len, &back_version) == STORE_TOO_LARGE,
          "a buffer one byte short");
    printf("real root: %zu bytes, signed.version %llu, stored and read back byte for byte\n", len,
           (unsigned long long)version);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s SCENARIO\n", argv[0]);
        return 2;
    }
    make_roots();
    make_states();
    const char *s = argv[1];
    int rc;
    if (strcmp(s, "root-power-cut") == 0) rc = root_power_cut();
    else if (strcmp(s, "state-power-cut") == 0) rc = state_power_cut();
    else if (strcmp(s, "bit-rot") == 0) rc = bit_rot();
    else if (strcmp(s, "root-rollback") == 0) rc = root_rollback();
    else if (strcmp(s, "empty") == 0) rc = empty();
    else if (strcmp(s, "confirm") == 0) rc = confirm();
    else if (strcmp(s, "real-root") == 0 && argc == 4) rc = real_root(argv[2], argv[3]);
    else {
        fprintf(stderr, "unknown scenario %s\n", s);
        return 2;
    }
    printf("%d checks passed\n", checks);
    return rc;
}
