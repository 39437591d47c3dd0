//! Guest register state as the kernel's ptrace ABI lays it out.

/// General-purpose registers of a guest thread (`struct user_regs_struct`), including
/// `fs_base`/`gs_base`.
pub type Regs = libc::user_regs_struct;

/// Legacy FXSAVE area (`struct user_fpregs_struct`, 512 bytes): x87, MXCSR and XMM state.
pub type FpState = libc::user_fpregs_struct;

/// Returns all-zero registers.
pub fn zeroed_regs() -> Regs {
    // Every field is an integer, so zero is a valid value; spelled out to stay safe code.
    Regs {
        r15: 0,
        r14: 0,
        r13: 0,
        r12: 0,
        rbp: 0,
        rbx: 0,
        r11: 0,
        r10: 0,
        r9: 0,
        r8: 0,
        rax: 0,
        rcx: 0,
        rdx: 0,
        rsi: 0,
        rdi: 0,
        orig_rax: 0,
        rip: 0,
        cs: 0,
        eflags: 0,
        rsp: 0,
        ss: 0,
        fs_base: 0,
        gs_base: 0,
        ds: 0,
        es: 0,
        fs: 0,
        gs: 0,
    }
}

/// The FPU state of a fresh image (what `execve` leaves): x87 control word 0x37f,
/// MXCSR 0x1f80, every register zero.
pub fn initial_fpstate() -> FpState {
    // SAFETY: `user_fpregs_struct` is plain integers and integer arrays, for which the
    // all-zero bit pattern is a valid value.
    let mut fp: FpState = unsafe { std::mem::zeroed() };
    fp.cwd = 0x37f;
    fp.mxcsr = 0x1f80;
    fp
}
