//! ARM semihosting, only to end a QEMU run (`-semihosting`) with an exit code.
//!
//! Without a debugger or QEMU's semihosting the call is a plain SVC, which the exception
//! vector reports; the core then halts.

/// Ends the run with `code` (`SYS_EXIT_EXTENDED`, reason `ADP_Stopped_ApplicationExit`).
pub fn exit(code: u32) -> ! {
    let block = [0x2_0026u32, code];
    // SAFETY: the semihosting call reads the two-word block, which lives across the
    // call; under QEMU it does not return, elsewhere it raises an SVC exception.
    unsafe {
        core::arch::asm!(
            "svc #0x123456",
            inout("r0") 0x20u32 => _,
            in("r1") block.as_ptr(),
            options(nostack)
        );
    }
    loop {
        // SAFETY: `wfi` waits for an interrupt; with all masked it halts the core.
        unsafe { core::arch::asm!("wfi", options(nomem, nostack)) };
    }
}
