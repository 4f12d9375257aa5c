//! A/B selection and the counter to store once an image confirmed itself.

use fwsign_bootloader_verify::boot_select::{self, SlotFacts, SlotState};

use crate::boundary::{out_ok, ref_in, str_in};
use crate::status::fwsign_status_t::{self, *};
use crate::types::{fwsign_boot_decision_t, fwsign_slot_facts_t};
use crate::{
    FWSIGN_NONE, FWSIGN_SLOT_CONFIRMED, FWSIGN_SLOT_EMPTY, FWSIGN_SLOT_FAILED, FWSIGN_SLOT_TRIAL,
};

/// Decides which of two slots boots (A/B), from each slot's remembered state
/// and this boot's verification result: a verified trial boots once as a
/// trial (persist it `FAILED` first; the image confirms itself), otherwise the
/// newest verified confirmed slot; an unverified slot never boots.
///
/// # Safety
///
/// `slot_a` and `slot_b` must point to valid `fwsign_slot_facts_t` whose
/// `version` (when `verified`) points to `version_len` bytes; `out` must
/// point to writable memory for one `fwsign_boot_decision_t`.
///
/// Alignment is checked, not assumed: a misaligned `slot_a`, `slot_b` or
/// `out` is refused with `FWSIGN_ERR_INVALID_ARGUMENT` instead of being
/// read or written (undefined behaviour); a misaligned `out` is not written.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fwsign_choose_boot(
    slot_a: *const fwsign_slot_facts_t,
    slot_b: *const fwsign_slot_facts_t,
    out: *mut fwsign_boot_decision_t,
) -> fwsign_status_t {
    if let Err(status) = out_ok(out) {
        return status;
    }
    let nothing = fwsign_boot_decision_t {
        boot: FWSIGN_NONE,
        trial: 0,
        persist: [FWSIGN_NONE; 2],
    };
    // SAFETY: `out` is not NULL and aligned (checked above), and the caller
    // guarantees it is writable.
    unsafe { out.write(nothing) };
    // SAFETY: the caller guarantees both pointers are NULL, misaligned (both
    // refused by `ref_in`) or valid.
    let (a, b) = match (unsafe { ref_in(slot_a) }, unsafe { ref_in(slot_b) }) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(status), _) | (_, Err(status)) => return status,
    };
    // SAFETY: the caller guarantees `a`'s version pointer and length.
    let fa = match unsafe { facts_in(a) } {
        Ok(f) => f,
        Err(status) => return status,
    };
    // SAFETY: the caller guarantees `b`'s version pointer and length.
    let fb = match unsafe { facts_in(b) } {
        Ok(f) => f,
        Err(status) => return status,
    };
    let decision = boot_select::choose([fa, fb]);
    let slot_index = |i: usize| u8::try_from(i).unwrap_or(FWSIGN_NONE);
    let decided = fwsign_boot_decision_t {
        boot: decision.boot.map_or(FWSIGN_NONE, slot_index),
        trial: u8::from(decision.trial),
        persist: decision.persist.map(|p| p.map_or(FWSIGN_NONE, |s| s as u8)),
    };
    // SAFETY: as above.
    unsafe { out.write(decided) };
    FWSIGN_OK
}

/// # Safety
///
/// When `f.verified` is non-zero, `f.version` must point to `f.version_len`
/// readable bytes.
unsafe fn facts_in(f: &fwsign_slot_facts_t) -> Result<SlotFacts<'_>, fwsign_status_t> {
    let state = match f.state {
        FWSIGN_SLOT_EMPTY => SlotState::Empty,
        FWSIGN_SLOT_TRIAL => SlotState::Trial,
        FWSIGN_SLOT_CONFIRMED => SlotState::Confirmed,
        FWSIGN_SLOT_FAILED => SlotState::Failed,
        _ => return Err(FWSIGN_ERR_INVALID_ARGUMENT),
    };
    let verified = if f.verified != 0 {
        // SAFETY: forwarded from this function's contract.
        let version = unsafe { str_in(f.version, f.version_len, false) }?;
        Some((f.security_counter, version))
    } else {
        None
    };
    Ok(SlotFacts { state, verified })
}

/// The security counter to store once a booted image has confirmed itself:
/// the larger of the installed counter and the image's (never lower).
#[unsafe(no_mangle)]
pub extern "C" fn fwsign_confirm_counter(installed_counter: u64, image_counter: u64) -> u64 {
    boot_select::confirm(installed_counter, image_counter).security_counter
}
