/* Minimal start-up for QEMU's mps2-an386 (Cortex-M4F) with newlib's rdimon
 * (semihosting) C runtime: the vector table, and a reset handler that enables
 * the FPU before anything else runs - the static library is built for the
 * hard-float ABI - then enters newlib's _start (stack, .bss, main, exit). */
#include <stdint.h>

extern uint32_t __stack_top;
extern void _start(void);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

/* Ends the QEMU run with `code` (semihosting SYS_EXIT_EXTENDED). */
static void semihost_exit(uint32_t code) {
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, code};
    register uint32_t r0 __asm__("r0") = 0x20u;
    register uint32_t *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt #0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}

void Reset_Handler(void) {
    SCB_CPACR |= 0xFu << 20; /* CP10 and CP11: full access */
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    _start();
}

/* Any fault ends the run with code 5, never with a boot's or refusal's. */
void Fault_Handler(void) { semihost_exit(5); }

__attribute__((section(".isr_vector"), used)) void (*const vectors[16])(void) = {
    (void (*)(void))(&__stack_top),
    Reset_Handler,
    Fault_Handler, /* NMI */
    Fault_Handler, /* HardFault */
    Fault_Handler, /* MemManage */
    Fault_Handler, /* BusFault */
    Fault_Handler, /* UsageFault */
    0, 0, 0, 0,
    Fault_Handler, /* SVCall */
    Fault_Handler, /* DebugMonitor */
    0,
    Fault_Handler, /* PendSV */
    Fault_Handler, /* SysTick */
};
