//! Signal frames: Linux's x86_64 `rt_sigframe`, built on the guest stack for a handler and
//! taken apart again by `rt_sigreturn`.
//!
//! Layout (from the frame's address up): the return address (`sa_restorer`), the
//! `ucontext` (flags, link, `uc_stack`, the 256-byte `sigcontext`, the 8-byte signal mask),
//! the 128-byte `siginfo`; above it, 64-byte aligned, the XSAVE image of the FPU state
//! followed by the `FP_XSTATE_MAGIC2` word, which `sigcontext.fpstate` points to.

use super::task::Task;
use super::trap::Trap;
use crate::abi::StackT;
use mm::MmError;
use platform::Regs;

/// Size of `siginfo_t`.
pub const SIGINFO_SIZE: usize = 128;
const UCONTEXT_SIZE: u64 = 304;
const FRAME_SIZE: u64 = 8 + UCONTEXT_SIZE + SIGINFO_SIZE as u64;
const SIGCONTEXT_OFFSET: u64 = 8 + 40;
const SIGMASK_OFFSET: u64 = SIGCONTEXT_OFFSET + 256;
const SIGINFO_OFFSET: u64 = 8 + UCONTEXT_SIZE;
const REDZONE: u64 = 128;

const UC_FP_XSTATE: u64 = 1;
const UC_SIGCONTEXT_SS: u64 = 2;
const UC_STRICT_RESTORE_SS: u64 = 4;

const FP_XSTATE_MAGIC1: u32 = 0x4650_5853;
const FP_XSTATE_MAGIC2: u32 = 0x4650_5845;
/// Offset of `sw_reserved` (the `fpx_sw_bytes`) in the FXSAVE area.
const SW_RESERVED: usize = 464;
/// Size of the legacy FXSAVE area.
const FXSAVE_SIZE: usize = 512;

/// EFLAGS bits a guest may change through `rt_sigreturn` (Linux's `FIX_EFLAGS`).
const FIX_EFLAGS: u64 = 0x0004_0dd5 | 0x0020_0000;
/// `SS_ONSTACK`.
pub const SS_ONSTACK: i32 = 1;
/// `SS_DISABLE`.
pub const SS_DISABLE: i32 = 2;

/// `si_code` of a POSIX timer's signal.
const SI_TIMER: i32 = -2;
/// `si_code` of a seccomp filter's SIGSYS.
const SYS_SECCOMP: i32 = 1;

/// A `siginfo_t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigInfo(pub [u8; SIGINFO_SIZE]);

impl SigInfo {
    fn with(signo: i32, code: i32) -> SigInfo {
        let mut b = [0u8; SIGINFO_SIZE];
        b[0..4].copy_from_slice(&signo.to_ne_bytes());
        b[8..12].copy_from_slice(&code.to_ne_bytes());
        SigInfo(b)
    }

    fn put_i32(&mut self, off: usize, v: i32) {
        self.0[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }

    fn put_u64(&mut self, off: usize, v: u64) {
        self.0[off..off + 8].copy_from_slice(&v.to_ne_bytes());
    }

    /// Sent by `kill`/`tgkill` from `pid` running as `uid` (`SI_USER` or `SI_TKILL`).
    pub fn user(signo: i32, code: i32, pid: i32, uid: u32) -> SigInfo {
        let mut s = SigInfo::with(signo, code);
        s.put_i32(16, pid);
        s.put_i32(20, uid as i32);
        s
    }

    /// A message queue notification (`code` `SI_MESGQ`) for a message that `pid`, running
    /// as `uid`, sent; `value` is the registration's `sigev_value`.
    pub fn mesgq(signo: i32, code: i32, pid: i32, uid: u32, value: u64) -> SigInfo {
        let mut s = SigInfo::user(signo, code, pid, uid);
        s.put_u64(24, value);
        s
    }

    /// Raised by the kernel itself (`SI_KERNEL`).
    pub fn kernel(signo: i32) -> SigInfo {
        SigInfo::with(signo, 0x80)
    }

    /// A CPU fault at `addr`.
    pub fn fault(signo: i32, code: i32, addr: u64) -> SigInfo {
        let mut s = SigInfo::with(signo, code);
        s.put_u64(16, addr);
        s
    }

    /// SIGSYS from a seccomp filter (`SYS_SECCOMP`): syscall `nr` of architecture `arch`
    /// made from `call_addr` (the address after the syscall instruction), the filter's
    /// return data in `si_errno`.
    pub fn seccomp(nr: i32, arch: u32, call_addr: u64, data: u16) -> SigInfo {
        let mut s = SigInfo::with(libc::SIGSYS, SYS_SECCOMP);
        s.put_i32(4, i32::from(data));
        s.put_u64(16, call_addr);
        s.put_i32(24, nr);
        s.put_i32(28, arch as i32);
        s
    }

    /// SIGCHLD for child `pid` (code `CLD_*`, `status` = exit code or signal).
    pub fn child(code: i32, pid: i32, uid: u32, status: i32, cpu_us: (u64, u64)) -> SigInfo {
        let mut s = SigInfo::with(libc::SIGCHLD, code);
        s.put_i32(16, pid);
        s.put_i32(20, uid as i32);
        s.put_i32(24, status);
        s.put_u64(32, cpu_us.0 / 10_000);
        s.put_u64(40, cpu_us.1 / 10_000);
        s
    }

    /// Raised by POSIX timer `timerid` (`SI_TIMER`) with `overrun` expirations beyond the
    /// first, carrying the timer's `tag` in the kernel-private `si_sys_private` slot
    /// (see [`super::posix_timer`]).
    pub fn timer(signo: i32, timerid: i32, overrun: u64, value: u64, tag: u32) -> SigInfo {
        let mut s = SigInfo::with(signo, SI_TIMER);
        s.put_i32(16, timerid);
        s.put_u64(24, value);
        s.put_i32(32, tag as i32);
        s.set_overrun(overrun);
        s
    }

    /// For a signal a POSIX timer queued: the timer id and the tag it was queued with.
    pub fn timer_tag(&self) -> Option<(i32, u32)> {
        let tag = self.get_i32(32) as u32;
        (self.get_i32(8) == SI_TIMER && tag != 0).then(|| (self.get_i32(16), tag))
    }

    /// Removes the timer tag (before the guest sees the siginfo).
    pub fn clear_timer_tag(&mut self) {
        self.put_i32(32, 0);
    }

    /// `si_overrun` of a timer signal.
    pub fn overrun(&self) -> i32 {
        self.get_i32(20)
    }

    /// Sets `si_overrun`, saturating at `INT_MAX` like Linux.
    pub fn set_overrun(&mut self, n: u64) {
        self.put_i32(20, n.min(i32::MAX as u64) as i32);
    }

    fn get_i32(&self, off: usize) -> i32 {
        i32::from_ne_bytes(self.0[off..off + 4].try_into().expect("4 bytes"))
    }

    /// Queued by `rt_sigqueueinfo`: the caller's siginfo, with its signal number.
    pub fn raw(signo: i32, bytes: [u8; SIGINFO_SIZE]) -> SigInfo {
        let mut s = SigInfo(bytes);
        s.put_i32(0, signo);
        s
    }

    /// The signal number.
    pub fn signo(&self) -> i32 {
        i32::from_ne_bytes(self.0[0..4].try_into().expect("4 bytes"))
    }
}

/// What a handler is entered with.
pub struct Delivery {
    /// Signal number.
    pub sig: i32,
    /// Its siginfo.
    pub info: SigInfo,
    /// Handler address.
    pub handler: u64,
    /// `sa_restorer`.
    pub restorer: u64,
    /// `SA_*` flags.
    pub flags: u64,
    /// The signal mask to save in the frame (restored by sigreturn).
    pub saved_mask: u64,
}

/// Whether `sp` lies on the alternate stack `alt`. Never, as on Linux, for a stack set up
/// with `SS_AUTODISARM`: it is disarmed while in use, so being on it again is a mistake.
pub fn on_stack(alt: &StackT, sp: u64) -> bool {
    alt.flags & (1 << 31) == 0 && sp > alt.sp && sp - alt.sp <= alt.size
}

fn sigcontext(regs: &Regs, trap: Trap, fpstate: u64, mask: u64, cr2: u64) -> [u64; 32] {
    let mut sc = [0u64; 32];
    let seg = (regs.cs & 0xffff)
        | ((regs.gs & 0xffff) << 16)
        | ((regs.fs & 0xffff) << 32)
        | ((regs.ss & 0xffff) << 48);
    let vals = [
        regs.r8,
        regs.r9,
        regs.r10,
        regs.r11,
        regs.r12,
        regs.r13,
        regs.r14,
        regs.r15,
        regs.rdi,
        regs.rsi,
        regs.rbp,
        regs.rbx,
        regs.rdx,
        regs.rax,
        regs.rcx,
        regs.rsp,
        regs.rip,
        regs.eflags,
        seg,
        trap.err,
        trap.nr,
        mask,
        cr2,
        fpstate,
    ];
    sc[..vals.len()].copy_from_slice(&vals);
    sc
}

/// Builds the frame for `d` on `task`'s stack and points its registers at the handler.
pub fn setup(task: &mut Task, d: &Delivery) -> Result<(), MmError> {
    let regs = task.regs;
    let alt = task.altstack;
    let mut sp = regs.rsp;
    let onstack = alt.is_some_and(|a| on_stack(&a, sp));
    match alt {
        Some(a) if d.flags & libc::SA_ONSTACK as u64 != 0 && !onstack => sp = a.sp + a.size,
        _ => sp -= REDZONE,
    }
    let mut xstate = task.stub.xstate().unwrap_or_default();
    if xstate.len() >= FXSAVE_SIZE {
        let total = (xstate.len() + 4) as u32;
        xstate[SW_RESERVED..SW_RESERVED + 4].copy_from_slice(&FP_XSTATE_MAGIC1.to_ne_bytes());
        xstate[SW_RESERVED + 4..SW_RESERVED + 8].copy_from_slice(&total.to_ne_bytes());
        let features = u64::from_ne_bytes(
            xstate[FXSAVE_SIZE..FXSAVE_SIZE + 8]
                .try_into()
                .expect("8 bytes"),
        );
        xstate[SW_RESERVED + 8..SW_RESERVED + 16].copy_from_slice(&(features | 3).to_ne_bytes());
        let size = xstate.len() as u32;
        xstate[SW_RESERVED + 16..SW_RESERVED + 20].copy_from_slice(&size.to_ne_bytes());
        xstate.extend_from_slice(&FP_XSTATE_MAGIC2.to_ne_bytes());
    }
    let fpstate = (sp - xstate.len() as u64) & !63;
    let frame = ((fpstate - FRAME_SIZE) & !15) - 8;
    let mm = task.mm();
    if !xstate.is_empty() {
        mm.write(fpstate, &xstate)?;
    }
    let cr2 = if matches!(d.sig, libc::SIGSEGV | libc::SIGBUS) {
        u64::from_ne_bytes(d.info.0[16..24].try_into().expect("8 bytes"))
    } else {
        0
    };
    let mut bytes = vec![0u8; FRAME_SIZE as usize];
    bytes[0..8].copy_from_slice(&d.restorer.to_ne_bytes());
    let uc_flags =
        UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | if xstate.is_empty() { 0 } else { UC_FP_XSTATE };
    bytes[8..16].copy_from_slice(&uc_flags.to_ne_bytes());
    let stack = alt.unwrap_or(StackT {
        flags: SS_DISABLE,
        ..StackT::default()
    });
    let stack_flags = if onstack { SS_ONSTACK } else { stack.flags };
    bytes[24..32].copy_from_slice(&stack.sp.to_ne_bytes());
    bytes[32..36].copy_from_slice(&stack_flags.to_ne_bytes());
    bytes[40..48].copy_from_slice(&stack.size.to_ne_bytes());
    let sc = sigcontext(
        &regs,
        task.trap,
        if xstate.is_empty() { 0 } else { fpstate },
        d.saved_mask,
        cr2,
    );
    for (i, v) in sc.iter().enumerate() {
        let at = SIGCONTEXT_OFFSET as usize + i * 8;
        bytes[at..at + 8].copy_from_slice(&v.to_ne_bytes());
    }
    bytes[SIGMASK_OFFSET as usize..SIGMASK_OFFSET as usize + 8]
        .copy_from_slice(&d.saved_mask.to_ne_bytes());
    bytes[SIGINFO_OFFSET as usize..SIGINFO_OFFSET as usize + SIGINFO_SIZE]
        .copy_from_slice(&d.info.0);
    mm.write(frame, &bytes)?;

    if let (Some(a), true) = (alt, d.flags & libc::SA_ONSTACK as u64 != 0)
        && a.flags & (1 << 31) != 0
    {
        task.altstack = None;
    }
    let r = &mut task.regs;
    r.rsp = frame;
    r.rip = d.handler;
    r.rdi = d.sig as u64;
    r.rsi = frame + SIGINFO_OFFSET;
    r.rdx = frame + 8;
    r.rax = 0;
    r.eflags &= !(0x400 | 0x100 | 0x10000);
    r.orig_rax = u64::MAX;
    if let Err(e) = task.stub.set_fpregs(platform::initial_fpstate()) {
        log::debug!("resetting FPU state for a handler: {e}");
    }
    Ok(())
}

/// `rt_sigreturn`: restores registers, signal mask, alternate stack and FPU state from the
/// frame the handler returned through; returns the restored `rax`.
pub fn restore(task: &mut Task) -> Result<u64, MmError> {
    let frame = task.regs.rsp.wrapping_sub(8);
    let mm = task.mm();
    let mut bytes = vec![0u8; FRAME_SIZE as usize];
    mm.read(frame, &mut bytes)?;
    let word = |at: u64| {
        u64::from_ne_bytes(
            bytes[at as usize..at as usize + 8]
                .try_into()
                .expect("8 bytes"),
        )
    };
    let sc = |i: u64| word(SIGCONTEXT_OFFSET + i * 8);
    let r = &mut task.regs;
    (r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15) =
        (sc(0), sc(1), sc(2), sc(3), sc(4), sc(5), sc(6), sc(7));
    (
        r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx, r.rsp, r.rip,
    ) = (
        sc(8),
        sc(9),
        sc(10),
        sc(11),
        sc(12),
        sc(13),
        sc(14),
        sc(15),
        sc(16),
    );
    r.eflags = (r.eflags & !FIX_EFLAGS) | (sc(17) & FIX_EFLAGS);
    r.orig_rax = u64::MAX;
    let rax = r.rax;
    let fpstate = sc(23);
    let mask = word(SIGMASK_OFFSET);
    task.set_sigmask(mask);
    let ss = StackT {
        sp: word(24),
        flags: i32::from_ne_bytes(bytes[32..36].try_into().expect("4 bytes")),
        pad: 0,
        size: word(40),
    };
    if ss.flags & SS_DISABLE != 0 {
        task.altstack = None;
    } else if ss.size > 0 {
        task.altstack = Some(StackT {
            flags: ss.flags & !SS_ONSTACK,
            ..ss
        });
    }
    if fpstate != 0 {
        restore_fpstate(task, fpstate)?;
    }
    Ok(rax)
}

fn restore_fpstate(task: &mut Task, addr: u64) -> Result<(), MmError> {
    let mm = task.mm();
    let mut fx = vec![0u8; FXSAVE_SIZE];
    mm.read(addr, &mut fx)?;
    let magic = u32::from_ne_bytes(
        fx[SW_RESERVED..SW_RESERVED + 4]
            .try_into()
            .expect("4 bytes"),
    );
    let size = u32::from_ne_bytes(
        fx[SW_RESERVED + 16..SW_RESERVED + 20]
            .try_into()
            .expect("4 bytes"),
    ) as usize;
    let state = if magic == FP_XSTATE_MAGIC1 && (FXSAVE_SIZE..=16384).contains(&size) {
        let mut all = vec![0u8; size];
        mm.read(addr, &mut all)?;
        all
    } else {
        fx
    };
    if let Err(e) = task.stub.set_xstate(&state) {
        log::debug!("restoring FPU state: {e}");
    }
    Ok(())
}
