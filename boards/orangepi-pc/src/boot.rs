//! Boot code: QEMU (or U-Boot's `bootelf`) enters `_start` in ARM state, secure SVC mode,
//! MMU and caches off, on CPU 0 (CPUs 1-3 stay off).
//!
//! `_start` masks interrupts, gives the abort and undefined modes a small stack of their
//! own (so a fault can still print), sets the SVC stack, points VBAR at the vector table,
//! zeroes `.bss` and calls the firmware's `board_main` (see [`crate::entry!`]). `.data`
//! needs no copy: the image is loaded into DRAM at its link addresses (`link.x`).
//!
//! Every exception but reset is fatal: it prints its kind and return address and ends
//! the run (exit code 102 under QEMU with `-semihosting`).

core::arch::global_asm!(
    r#"
    .section .text.boot, "ax"
    .global _start
    .type _start, %function
    .arm
_start:
    cpsid aif
    cps #0x17
    ldr sp, =_exc_stack_top
    cps #0x1b
    ldr sp, =_exc_stack_top
    cps #0x13
    ldr sp, =_stack_top
    ldr r0, =_vectors
    mcr p15, 0, r0, c12, c0, 0
    mrc p15, 0, r0, c1, c0, 0
    bic r0, r0, #(1 << 13)
    mcr p15, 0, r0, c1, c0, 0
    isb
    ldr r0, =__bss_start
    ldr r1, =__bss_end
    mov r2, #0
1:
    cmp r0, r1
    strlo r2, [r0], #4
    blo 1b
    bl board_main
2:
    wfi
    b 2b

    .balign 32
_vectors:
    b _start
    b 10f
    b 11f
    b 12f
    b 13f
    b .
    b 14f
    b 15f
10:
    mov r0, #1
    b 20f
11:
    mov r0, #2
    b 20f
12:
    mov r0, #3
    b 20f
13:
    mov r0, #4
    b 20f
14:
    mov r0, #5
    b 20f
15:
    mov r0, #6
20:
    mov r1, lr
    bl board_exception
    b .
"#
);

#[unsafe(no_mangle)]
extern "C" fn board_exception(kind: u32, lr: u32) -> ! {
    let name = match kind {
        1 => "undefined instruction",
        2 => "supervisor call",
        3 => "prefetch abort",
        4 => "data abort",
        5 => "IRQ",
        _ => "FIQ",
    };
    crate::println!("\r\n*** exception: {name}, lr={lr:#010x}");
    crate::semihosting::exit(102)
}
