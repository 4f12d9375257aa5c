//! A 64-bit tick counter from SysTick, for counting instructions.
//!
//! SysTick runs on the CPU clock (25 MHz on mps2-an386). Under QEMU's
//! `-icount shift=0` every instruction advances virtual time by 1 ns, so one
//! tick is a fixed number of instructions (40); `bench/device` measures that
//! factor in the same run with `calibrate` instead of assuming it. Without
//! `-icount` ticks follow the host's wall clock and mean nothing.
//!
//! Without the `timing` feature nothing is counted: [`time`] only runs its
//! closure, so the images carry no instrumentation.

#[cfg(feature = "timing")]
use core::sync::atomic::{AtomicU32, Ordering};
#[cfg(feature = "timing")]
use cortex_m::peripheral::SYST;
#[cfg(feature = "timing")]
use cortex_m::peripheral::syst::SystClkSource;
#[cfg(feature = "timing")]
use cortex_m_rt::exception;

/// SysTick's counter is 24 bits wide.
#[cfg(feature = "timing")]
const RELOAD: u32 = 0x00FF_FFFF;

/// How many times the counter wrapped since [`start`].
#[cfg(feature = "timing")]
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[cfg(feature = "timing")]
#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Starts the counter from zero, counting CPU clock ticks.
#[cfg(feature = "timing")]
pub fn start(mut syst: SYST) {
    syst.disable_counter();
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    WRAPS.store(0, Ordering::Relaxed);
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Ticks since [`start`].
#[cfg(feature = "timing")]
pub fn now() -> u64 {
    loop {
        let before = WRAPS.load(Ordering::Relaxed);
        let down = SYST::get_current();
        // A wrap between the two loads leaves `down` ambiguous: read again.
        if WRAPS.load(Ordering::Relaxed) == before {
            let up = u64::from(RELOAD.saturating_sub(down));
            return (u64::from(before) << 24) | up;
        }
    }
}

/// Ticks taken by `f`, and its result.
#[cfg(feature = "timing")]
pub fn time<R>(f: impl FnOnce() -> R) -> (u64, R) {
    let t0 = now();
    let r = f();
    (now().saturating_sub(t0), r)
}

/// `f`'s result, with 0 ticks: nothing is counted without `timing`.
#[cfg(not(feature = "timing"))]
pub fn time<R>(f: impl FnOnce() -> R) -> (u64, R) {
    (0, f())
}

/// Instructions in the calibration loop.
#[cfg(feature = "timing")]
pub const CALIBRATION_INSTRUCTIONS: u32 = 2_000_000;

/// A `TICKS` line begun with the run's calibration (`calibration=<ticks>
/// calibration_instructions=<n>`), for the image to add its own figures.
#[cfg(feature = "timing")]
pub fn line(calibration: u64) -> crate::console::Line {
    let mut line = crate::console::Line::new();
    line.str("TICKS calibration=")
        .u64(calibration)
        .str(" calibration_instructions=")
        .u64(CALIBRATION_INSTRUCTIONS.into());
    line
}

/// Ticks taken by [`CALIBRATION_INSTRUCTIONS`] instructions: the
/// instructions-per-tick factor for every other figure of the same run.
#[cfg(feature = "timing")]
pub fn calibrate() -> u64 {
    time(|| crate::board::known_instruction_loop(CALIBRATION_INSTRUCTIONS / 2)).0
}
