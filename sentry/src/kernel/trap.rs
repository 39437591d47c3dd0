//! What the CPU told about the last fault: the trap number and error code Linux keeps per
//! thread and writes into every signal frame's `sigcontext` (`REG_TRAPNO`, `REG_ERR`).
//!
//! Under ptrace the host hands the sentry only the signal and its `siginfo`, not the
//! hardware error code, so the page-fault bits are rebuilt from what is known: a fault
//! at the instruction pointer is a fetch; a fault on a present page that is readable but
//! not writable is a write; otherwise the faulting instruction is decoded far enough to
//! tell a store (`mov` to memory, read-modify-write ALU forms, string stores, pushes,
//! SSE/AVX stores, ...) from a load. Anything not recognised is taken as a read.

use mm::AddressSpace;
use platform::{FaultInfo, Regs};

/// x86 exception vectors.
const X86_TRAP_DE: u64 = 0;
const X86_TRAP_DB: u64 = 1;
const X86_TRAP_BP: u64 = 3;
const X86_TRAP_UD: u64 = 6;
const X86_TRAP_GP: u64 = 13;
const X86_TRAP_PF: u64 = 14;
const X86_TRAP_MF: u64 = 16;

/// Page-fault error code bits.
const PF_PROT: u64 = 1;
const PF_WRITE: u64 = 2;
const PF_USER: u64 = 4;
const PF_INSTR: u64 = 0x10;

/// `si_code` values that say which fault it was.
const SEGV_ACCERR: i32 = 2;
const FPE_INTDIV: i32 = 1;
const TRAP_BRKPT: i32 = 1;
const SI_KERNEL: i32 = 0x80;

/// A thread's last trap (`thread.trap_nr` and `thread.error_code` in Linux).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Trap {
    /// Exception vector.
    pub nr: u64,
    /// Error code (page-fault bits for vector 14).
    pub err: u64,
}

impl Trap {
    /// The trap behind fault `f` at `regs`, in address space `mm`.
    pub fn of_fault(f: &FaultInfo, regs: &Regs, mm: &AddressSpace) -> Trap {
        let nr = match (f.signo, f.code) {
            (libc::SIGSEGV, SI_KERNEL) => X86_TRAP_GP,
            (libc::SIGSEGV | libc::SIGBUS, _) => X86_TRAP_PF,
            (libc::SIGILL, _) => X86_TRAP_UD,
            (libc::SIGFPE, FPE_INTDIV) => X86_TRAP_DE,
            (libc::SIGFPE, _) => X86_TRAP_MF,
            (libc::SIGTRAP, TRAP_BRKPT | SI_KERNEL) => X86_TRAP_BP,
            (libc::SIGTRAP, _) => X86_TRAP_DB,
            _ => 0,
        };
        let err = if nr == X86_TRAP_PF {
            page_fault_code(f, regs, mm)
        } else {
            0
        };
        Trap { nr, err }
    }
}

fn page_fault_code(f: &FaultInfo, regs: &Regs, mm: &AddressSpace) -> u64 {
    let present = f.signo == libc::SIGSEGV && f.code == SEGV_ACCERR;
    let mut err = PF_USER;
    if present {
        err |= PF_PROT;
    }
    if f.addr == regs.rip {
        return err | PF_INSTR;
    }
    let read_only = present
        && mm
            .prot_at(f.addr)
            .is_some_and(|p| p.readable() && !p.writable());
    if read_only || is_store(&code_at(mm, regs.rip), f.addr, regs) {
        err |= PF_WRITE;
    }
    err
}

/// Up to 15 bytes (the longest x86 instruction) at `rip`, fewer at the end of a mapping.
fn code_at(mm: &AddressSpace, rip: u64) -> Vec<u8> {
    let mut len = 15;
    while len > 0 {
        let mut buf = vec![0u8; len];
        if mm.read(rip, &mut buf).is_ok() {
            return buf;
        }
        len -= 1;
    }
    Vec::new()
}

/// Whether the instruction `code` faulting at `addr` was writing there.
fn is_store(code: &[u8], addr: u64, regs: &Regs) -> bool {
    // push, call and the like write just below the stack pointer.
    if addr < regs.rsp && regs.rsp - addr <= 8 {
        return true;
    }
    let mut i = 0;
    let mut opsize = false;
    while let Some(&b) = code.get(i) {
        match b {
            0x66 => opsize = true,
            0x67 | 0xf0 | 0xf2 | 0xf3 | 0x26 | 0x2e | 0x36 | 0x3e | 0x64 | 0x65 => {}
            _ => break,
        }
        i += 1;
    }
    if code.get(i).is_some_and(|b| b & 0xf0 == 0x40) {
        i += 1;
    }
    let Some(&op) = code.get(i) else {
        return false;
    };
    let reg_of = |at: usize| code.get(at).map(|m| (m >> 3) & 7);
    match op {
        0x0f => match code.get(i + 1) {
            Some(0x38) => false,
            Some(0x3a) => code.get(i + 2).is_some_and(|&o| sse_map3_store(o)),
            Some(&o) => two_byte_store(o, opsize, reg_of(i + 2)),
            None => false,
        },
        // VEX with two bytes (map 0F) and three bytes (map in the low bits).
        0xc5 => code
            .get(i + 1)
            .zip(code.get(i + 2))
            .is_some_and(|(&v, &o)| vex_store(1, o, v & 3 == 1)),
        0xc4 | 0x62 => match (code.get(i + 1), code.get(i + 2)) {
            (Some(&m), Some(&v)) => {
                let opcode_at = if op == 0x62 { i + 4 } else { i + 3 };
                let map = if op == 0x62 { m & 3 } else { m & 0x1f };
                code.get(opcode_at)
                    .is_some_and(|&o| vex_store(map, o, v & 3 == 1))
            }
            _ => false,
        },
        // ALU ops with the memory operand as destination (cmp only reads).
        0x00..=0x3f => op & 7 < 2 && op & 0xf8 != 0x38,
        0x86..=0x89 | 0x8c | 0x8f | 0xc6 | 0xc7 | 0xaa | 0xab => true,
        // movs reads at rsi and writes at rdi.
        0xa4 | 0xa5 => addr >= regs.rdi && addr - regs.rdi < 8,
        0x80 | 0x81 | 0x83 => reg_of(i + 1).is_some_and(|r| r != 7),
        0xc0 | 0xc1 | 0xd0..=0xd3 => true,
        0xf6 | 0xf7 => reg_of(i + 1).is_some_and(|r| r == 2 || r == 3),
        0xfe | 0xff => reg_of(i + 1).is_some_and(|r| r < 2),
        _ => false,
    }
}

/// Stores in the 0F map (legacy SSE and integer forms).
fn two_byte_store(op: u8, opsize: bool, reg: Option<u8>) -> bool {
    match op {
        0x11 | 0x13 | 0x17 | 0x29 | 0x2b | 0x7f | 0xc3 | 0xd6 | 0xe7 => true,
        0x7e => opsize,
        0x90..=0x9f | 0xab | 0xb0 | 0xb1 | 0xb3 | 0xbb | 0xc0 | 0xc1 => true,
        0xba => reg.is_some_and(|r| r >= 5),
        0xc7 => reg == Some(1),
        0xae => reg.is_some_and(|r| r == 0 || r == 3 || r == 4 || r == 6),
        _ => false,
    }
}

/// Stores in the 0F 3A map (extracts to memory).
fn sse_map3_store(op: u8) -> bool {
    matches!(op, 0x14..=0x17 | 0x19 | 0x1d | 0x39 | 0x3b | 0x7d)
}

/// Stores among VEX/EVEX-encoded instructions of opcode `map`; `pp66` for the 66 prefix.
fn vex_store(map: u8, op: u8, pp66: bool) -> bool {
    match map {
        1 => match op {
            0x11 | 0x13 | 0x17 | 0x29 | 0x2b | 0x7f | 0xd6 | 0xe7 => true,
            0x7e => pp66,
            _ => false,
        },
        2 => matches!(op, 0x8e | 0x2e | 0x2f | 0xa0..=0xa3),
        3 => sse_map3_store(op),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regs() -> Regs {
        Regs {
            rsp: 0x7000_0000,
            rdi: 0x5000_0000,
            ..platform::zeroed_regs()
        }
    }

    #[test]
    fn tells_stores_from_loads() {
        let r = regs();
        let a = 0x1234_0000;
        // Stores.
        for code in [
            &[0x88, 0x07][..],                     // mov [rdi], al
            &[0x48, 0x89, 0x07],                   // mov [rdi], rax
            &[0xc7, 0x00, 1, 0, 0, 0],             // mov dword [rax], 1
            &[0xc6, 0x00, 0x7a],                   // mov byte [rax], 'z'
            &[0x48, 0x01, 0x07],                   // add [rdi], rax
            &[0x83, 0x07, 0x01],                   // add dword [rdi], 1
            &[0xff, 0x07],                         // inc dword [rdi]
            &[0xf3, 0x48, 0xab],                   // rep stosq
            &[0x0f, 0x11, 0x07],                   // movups [rdi], xmm0
            &[0x66, 0x0f, 0x7f, 0x07],             // movdqa [rdi], xmm0
            &[0xc5, 0xfe, 0x7f, 0x07],             // vmovdqu [rdi], ymm0
            &[0x62, 0xf1, 0xfe, 0x48, 0x7f, 0x07], // vmovdqu64 [rdi], zmm0
            &[0xf0, 0x48, 0x0f, 0xb1, 0x17],       // lock cmpxchg [rdi], rdx
        ] {
            assert!(is_store(code, a, &r), "{code:x?} is a store");
        }
        // Loads.
        for code in [
            &[0x8a, 0x07][..],         // mov al, [rdi]
            &[0x48, 0x8b, 0x07],       // mov rax, [rdi]
            &[0x48, 0x39, 0x07],       // cmp [rdi], rax
            &[0x83, 0x3f, 0x00],       // cmp dword [rdi], 0
            &[0x0f, 0x10, 0x07],       // movups xmm0, [rdi]
            &[0xc5, 0xfe, 0x6f, 0x07], // vmovdqu ymm0, [rdi]
            &[0xff, 0x37],             // push qword [rdi] (the load faulted)
            &[0x0f, 0xb6, 0x07],       // movzx eax, byte [rdi]
        ] {
            assert!(!is_store(code, a, &r), "{code:x?} is a load");
        }
        // A push faulting on the stack, movs by which side faulted.
        assert!(is_store(&[0x50], r.rsp - 8, &r));
        assert!(is_store(&[0xa4], r.rdi, &r));
        assert!(!is_store(&[0xa4], r.rdi - 4096, &r));
    }
}
