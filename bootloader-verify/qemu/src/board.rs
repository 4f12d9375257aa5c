//! Board glue for QEMU's mps2-an386: the only `unsafe` of the firmware.

#![allow(
    unsafe_code,
    reason = "board glue: memory QEMU's loader filled, system registers and semihosting"
)]

unsafe extern "C" {
    /// cortex-m-rt's handler for exceptions and interrupts nothing handles.
    fn DefaultHandler();
}

/// Interrupts of the AN386 FPGA image (QEMU's `mps2-an386`).
const IRQS: usize = 32;

/// The device part of the vector table (cortex-m-rt's `device` feature):
/// the board's 32 interrupts, none used, instead of the 240 cortex-m-rt
/// fills in for a generic ARMv7-M (0.8 KiB of flash a bootloader for a
/// real part would not carry either).
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [unsafe extern "C" fn(); IRQS] = [DefaultHandler; IRQS];

/// Coprocessor Access Control Register.
const CPACR: *mut u32 = 0xE000_ED88 as *mut u32;
/// Full access to CP10 and CP11 (the FPU).
const CPACR_FPU: u32 = 0xF << 20;

/// Enables the FPU (CP10/CP11 full access), as any code built for the
/// hard-float ABI needs before its first floating-point instruction.
pub fn enable_fpu() {
    // SAFETY: CPACR is an always-present, word-aligned system register on
    // Cortex-M4F; setting CP10/CP11 access changes nothing but FPU access.
    unsafe {
        let v = core::ptr::read_volatile(CPACR);
        core::ptr::write_volatile(CPACR, v | CPACR_FPU);
    }
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}

/// `len` bytes of PSRAM at `addr`, where QEMU's `-device loader` put a case
/// or a slot before reset.
pub fn psram(addr: usize, len: usize) -> &'static [u8] {
    const PSRAM: usize = 0x2100_0000;
    const PSRAM_END: usize = 0x2200_0000;
    let in_psram = addr >= PSRAM && addr.checked_add(len).is_some_and(|end| end <= PSRAM_END);
    if !in_psram {
        return &[];
    }
    // SAFETY: the range lies within the board's 16 MiB PSRAM, which is
    // always mapped, initialised (zeros, or what the loader wrote) and is
    // written by nothing after reset: the firmware only reads it.
    unsafe { core::slice::from_raw_parts(addr as *const u8, len) }
}

/// `ADP_Stopped_ApplicationExit`: a normal exit, with the status code.
const APPLICATION_EXIT: usize = 0x2_0026;
/// Semihosting `SYS_EXIT_EXTENDED`, which carries an exit code on AArch32.
const SYS_EXIT_EXTENDED: usize = 0x20;

/// Ends the QEMU run with `code` as qemu-system-arm's exit status.
pub fn exit(code: u32) -> ! {
    let block = [APPLICATION_EXIT, code as usize];
    // SAFETY: SYS_EXIT_EXTENDED takes a pointer to a two-word block, which
    // lives on this stack frame for the call; QEMU ends the run.
    unsafe {
        cortex_m_semihosting::syscall(SYS_EXIT_EXTENDED, &block);
    }
    // Not reached under QEMU; on a debugger-less board, stop here.
    loop {
        cortex_m::asm::bkpt();
    }
}

/// Writes `bytes` to the host's console. Opens the console for each write,
/// so it is safe from the panic handler even if a panic struck mid-line.
pub(crate) fn write_console(bytes: &[u8]) {
    if let Ok(mut out) = cortex_m_semihosting::hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}

/// Runs a loop of exactly two instructions (`subs`, `bne`) per iteration,
/// `iterations` times (at least once): a known instruction count against
/// which [`crate::ticks`] calibrates SysTick ticks under `-icount`.
pub fn known_instruction_loop(iterations: u32) {
    let n = iterations.max(1);
    // SAFETY: the loop only decrements a register it owns until zero; it
    // touches no memory, no stack and no flags anyone reads afterwards.
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, #1",
            "bne 2b",
            n = inout(reg) n => _,
            options(nomem, nostack),
        );
    }
}

unsafe extern "C" {
    /// The lowest address the stack may grow to (cortex-m-rt's `link.x`).
    static _stack_end: u32;
}

const PAINT: u32 = 0xA5A5_A5A5;
/// Room left unpainted below the caller's stack pointer: an exception taken
/// while painting pushes its frame there.
const PAINT_MARGIN: usize = 128;

/// The lowest address the stack may grow to.
fn stack_bottom() -> usize {
    core::ptr::addr_of!(_stack_end) as usize
}

/// A stack painted below its caller's frame, for [`PaintedStack::used`].
pub struct PaintedStack {
    caller_sp: usize,
}

/// Paints the unused stack below the caller's frame with a pattern. Inlined,
/// so the stack pointer it reads is the caller's: [`PaintedStack::used`]
/// then measures exactly what the caller's later calls take, not the
/// caller's own locals (which are a test harness's, not the verifier's).
#[inline(always)]
pub fn paint_stack() -> PaintedStack {
    let sp = cortex_m::register::msp::read() as usize;
    let mut p = stack_bottom();
    while p.saturating_add(4) <= sp.saturating_sub(PAINT_MARGIN) {
        // SAFETY: [bottom, sp - margin) is RAM below the live stack that
        // nothing uses yet (the stack grows down to it; .bss ends below it);
        // the address is word-aligned (`_stack_end` is, by link.x's assert).
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p = p.saturating_add(4);
    }
    PaintedStack { caller_sp: sp }
}

impl PaintedStack {
    /// The deepest the stack went below the painting caller's frame since
    /// [`paint_stack`], in bytes.
    pub fn used(&self) -> usize {
        let mut p = stack_bottom();
        // SAFETY: reads word-aligned RAM within the stack region.
        while p < self.caller_sp && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
            p = p.saturating_add(4);
        }
        self.caller_sp.saturating_sub(p)
    }
}

// The runtime's `memcpy`, as a small bootloader links its own: a word loop
// (the Cortex-M4 does unaligned single-word LDR/STR in hardware, and
// nothing here sets CCR.UNALIGN_TRP) and a byte loop for the tail, 36 bytes
// of code. compiler_builtins' generic copy with its `__aeabi_memcpy4/8`
// entries is 1,054 B, and every `copy_from_slice` and struct move in the
// verifier links it (flash: docs/performance.md, "P-256 in Cortex-M4
// assembly"). One body serves all four names: the aligned variants may
// take the general path, and `memcpy` returns `dest` because r0 is never
// written. In the library, so the verifier image and the crypto-only
// baseline link the same copy and the verifier's share is unchanged.
core::arch::global_asm!(
    ".section .text.fwsign_memcpy,\"ax\",%progbits",
    ".global memcpy",
    ".global __aeabi_memcpy",
    ".global __aeabi_memcpy4",
    ".global __aeabi_memcpy8",
    ".type memcpy, %function",
    ".type __aeabi_memcpy, %function",
    ".type __aeabi_memcpy4, %function",
    ".type __aeabi_memcpy8, %function",
    ".thumb_func",
    "memcpy:",
    ".thumb_func",
    "__aeabi_memcpy:",
    ".thumb_func",
    "__aeabi_memcpy4:",
    ".thumb_func",
    "__aeabi_memcpy8:",
    // r0 dest, r1 src, r2 length; r12 walks dest so r0 is returned intact.
    "    mov r12, r0",
    "    subs r2, r2, #4",
    "    blo 2f",
    "1:  ldr r3, [r1], #4",
    "    str r3, [r12], #4",
    "    subs r2, r2, #4",
    "    bhs 1b",
    "2:  adds r2, r2, #4",
    "    beq 4f",
    "3:  ldrb r3, [r1], #1",
    "    strb r3, [r12], #1",
    "    subs r2, r2, #1",
    "    bne 3b",
    "4:  bx lr",
);

// The runtime's zeroing, for the same reason and in the same way: LLVM
// lowers a zeroing of known alignment to `__aeabi_memclr4` or
// `__aeabi_memclr8` and any other to `__aeabi_memclr`, and
// compiler_builtins gives each name its own inlined copy of its generic
// `memset` (208 + 174 + 174 B; `sha2`'s padding alone calls all three).
// One body serves the three names: the aligned variants may take the
// general path (unaligned single-word STR is done in hardware, as for the
// copy above). Four words a turn while 16 bytes are left, then words, then
// bytes: 52 bytes of code, and fewer instructions than compiler_builtins'
// copies (a plain word loop was 24 B smaller but cost the RustCrypto
// backend's P-256 check, which zeroes memory often, about 10,000
// instructions a signature). In the library, so both images link the same
// copy.
core::arch::global_asm!(
    ".section .text.fwsign_memclr,\"ax\",%progbits",
    ".global __aeabi_memclr",
    ".global __aeabi_memclr4",
    ".global __aeabi_memclr8",
    ".type __aeabi_memclr, %function",
    ".type __aeabi_memclr4, %function",
    ".type __aeabi_memclr8, %function",
    ".thumb_func",
    "__aeabi_memclr:",
    ".thumb_func",
    "__aeabi_memclr4:",
    ".thumb_func",
    "__aeabi_memclr8:",
    // r0 dest, r1 length; returns nothing, so r0 may walk. r1 holds the
    // bytes left less the current step's size, so a borrow ends a loop.
    "    movs r2, #0",
    "    subs r1, r1, #16",
    "    blo 2f",
    "1:  str r2, [r0], #4",
    "    str r2, [r0], #4",
    "    str r2, [r0], #4",
    "    str r2, [r0], #4",
    "    subs r1, r1, #16",
    "    bhs 1b",
    // From (left - 16) to (left - 4): no carry out means left < 4.
    "2:  adds r1, r1, #12",
    "    blo 4f",
    "3:  str r2, [r0], #4",
    "    subs r1, r1, #4",
    "    bhs 3b",
    "4:  adds r1, r1, #4",
    "    beq 6f",
    "5:  strb r2, [r0], #1",
    "    subs r1, r1, #1",
    "    bne 5b",
    "6:  bx lr",
);

// The runtime's comparison, for the same reason: compiler_builtins'
// `memcmp` is a byte loop unrolled four times (116 B); the slices the
// verifier compares (key IDs, digests, names) are short. One byte loop
// (24 bytes of code) serves `memcmp` and `bcmp`, which LLVM may call for
// an equality test (any non-zero result means "different" there): the
// difference of the first unequal bytes, as unsigned chars, or 0.
core::arch::global_asm!(
    ".section .text.fwsign_memcmp,\"ax\",%progbits",
    ".global memcmp",
    ".global bcmp",
    ".type memcmp, %function",
    ".type bcmp, %function",
    ".thumb_func",
    "memcmp:",
    ".thumb_func",
    "bcmp:",
    // r0 a, r1 b, r2 length.
    "1:  subs r2, r2, #1",
    "    blo 2f",
    "    ldrb r3, [r0], #1",
    "    ldrb r12, [r1], #1",
    "    subs r3, r3, r12",
    "    beq 1b",
    "    mov r0, r3",
    "    bx lr",
    "2:  movs r0, #0",
    "    bx lr",
);
