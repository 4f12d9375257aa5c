//! Choosing between two slots (A/B) so the device always boots a verified
//! image and an update that never confirms itself is rolled back.
//!
//! The caller keeps a [`SlotState`] per slot across resets. An updater that
//! has written a new image marks its slot [`SlotState::Trial`]. At boot:
//! - a verified trial slot is booted *as a trial*, and the decision asks the
//!   caller to persist that slot as [`SlotState::Failed`] before jumping to
//!   it; the image, once healthy, confirms itself (sets
//!   [`SlotState::Confirmed`]). So a trial still unconfirmed at the next boot
//!   is found failed, and the confirmed slot boots;
//! - otherwise the newest verified confirmed slot boots (higher security
//!   counter, then higher version);
//! - a slot that fails verification never boots, whatever its state.
//!
//! Security counters and role versions are raised only on confirm (see
//! [`confirm`]), so a trial that fails cannot lock the device out of its
//! previous image.

use core::cmp::Ordering;

use crate::version_order;

/// What the caller remembers about a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum SlotState {
    /// Nothing installed.
    Empty = 0,
    /// A new image, to be tried once.
    Trial = 1,
    /// An image that booted and confirmed itself.
    Confirmed = 2,
    /// An image that was tried and did not confirm, or was refused.
    Failed = 3,
}

/// A slot's facts at boot: its state, and the outcome of verifying it
/// (`None` when verification refused it).
#[derive(Debug, Clone, Copy)]
pub struct SlotFacts<'a> {
    /// The remembered state.
    pub state: SlotState,
    /// The verified image's security counter and version, if it verified.
    pub verified: Option<(u64, &'a [u8])>,
}

/// What to boot, and what to remember first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootDecision {
    /// The slot to boot (0 or 1), or `None`: nothing bootable.
    pub boot: Option<usize>,
    /// Whether it boots as a trial (it must confirm itself).
    pub trial: bool,
    /// States to persist *before* jumping to the image.
    pub persist: [Option<SlotState>; 2],
}

fn newer(a: (u64, &[u8]), b: (u64, &[u8])) -> Ordering {
    a.0.cmp(&b.0).then_with(|| version_order::compare(a.1, b.1))
}

/// Decides which slot boots.
pub fn choose(slots: [SlotFacts<'_>; 2]) -> BootDecision {
    let mut persist = [None, None];
    // A trial that does not verify is failed at once.
    for (i, s) in slots.iter().enumerate() {
        if s.state == SlotState::Trial
            && s.verified.is_none()
            && let Some(p) = persist.get_mut(i)
        {
            *p = Some(SlotState::Failed);
        }
    }
    let pick = |wanted: SlotState| -> Option<usize> {
        let mut best: Option<(usize, (u64, &[u8]))> = None;
        for (i, s) in slots.iter().enumerate() {
            if s.state != wanted {
                continue;
            }
            if let Some(v) = s.verified
                && best.is_none_or(|(_, b)| newer(v, b) == Ordering::Greater)
            {
                best = Some((i, v));
            }
        }
        best.map(|(i, _)| i)
    };
    if let Some(i) = pick(SlotState::Trial) {
        // Recorded as failed before the jump; confirming undoes it.
        if let Some(p) = persist.get_mut(i) {
            *p = Some(SlotState::Failed);
        }
        return BootDecision {
            boot: Some(i),
            trial: true,
            persist,
        };
    }
    BootDecision {
        boot: pick(SlotState::Confirmed),
        trial: false,
        persist,
    }
}

/// What a confirmed image lets the device raise: never lowers anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Confirmed {
    /// The security counter to store (the larger of installed and image).
    pub security_counter: u64,
}

/// Called by the running image once it is healthy: the new security counter
/// to store (role versions from the verification result are stored the same
/// way, each only ever raised).
pub fn confirm(installed_counter: u64, image_counter: u64) -> Confirmed {
    Confirmed {
        security_counter: installed_counter.max(image_counter),
    }
}
