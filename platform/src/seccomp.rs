//! The stub's seccomp filter: host syscalls only from the stub's gadgets.
//!
//! Guest syscalls stop in `PTRACE_SYSEMU` before seccomp runs, so this filter only ever
//! judges syscalls the host kernel would really execute in the stub. It allows, for x86_64
//! code only: any syscall made at the injection gadget; `clone` made at the clone gadget;
//! `pause` made where a new thread parks. It kills the whole stub for anything else: a
//! tracer bug that resumed a guest syscall with `PTRACE_CONT` cannot turn into a host
//! syscall.
//!
//! One exception is traced rather than killed: a call into the legacy vsyscall page
//! (`0xffffffffff600000`), which the host kernel emulates as a syscall and shows to
//! seccomp. `SECCOMP_RET_TRACE` stops the stub for the sentry, which answers the call
//! itself and tells the host to skip it.

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Insn {
    pub code: u16,
    pub jt: u8,
    pub jf: u8,
    pub k: u32,
}

const BPF_LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const BPF_JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const BPF_RET_K: u16 = 0x06; // BPF_RET | BPF_K

const BPF_AND_K: u16 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const BPF_TAX: u16 = 0x07; // BPF_MISC | BPF_TAX
const BPF_TXA: u16 = 0x87; // BPF_MISC | BPF_TXA

const OFF_NR: u32 = 0; // offsetof(struct seccomp_data, nr)
const OFF_ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)
const OFF_IP_LO: u32 = 8; // offsetof(struct seccomp_data, instruction_pointer)
const OFF_IP_HI: u32 = 12;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRACE: u32 = 0x7ff0_0000;

/// The legacy vsyscall page, as seen in the upper and lower halves of the address.
const VSYSCALL_HI: u32 = 0xffff_ffff;
const VSYSCALL_LO: u32 = 0xff60_0000;
const PAGE_MASK: u32 = 0xffff_f000;

fn load(k: u32) -> Insn {
    Insn {
        code: BPF_LD_W_ABS,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Jump forward `jt` instructions if the accumulator equals `k`, else `jf`.
fn jeq(k: u32, jt: u8, jf: u8) -> Insn {
    Insn {
        code: BPF_JEQ_K,
        jt,
        jf,
        k,
    }
}

fn misc(code: u16) -> Insn {
    Insn {
        code,
        jt: 0,
        jf: 0,
        k: 0,
    }
}

fn and(k: u32) -> Insn {
    Insn {
        code: BPF_AND_K,
        jt: 0,
        jf: 0,
        k,
    }
}

fn ret(k: u32) -> Insn {
    Insn {
        code: BPF_RET_K,
        jt: 0,
        jf: 0,
        k,
    }
}

/// The filter program. All three return addresses lie in the stub page, so they share
/// their upper 32 bits.
pub(crate) fn stub_filter(gadget_return: u64, clone_return: u64, park_return: u64) -> Vec<Insn> {
    debug_assert!(
        gadget_return >> 32 == clone_return >> 32 && gadget_return >> 32 == park_return >> 32
    );
    // Offsets are relative to the next instruction; the vsyscall check starts at 14,
    // TRACE is at 18, ALLOW at 19, KILL at 20.
    vec![
        /* 0 */ load(OFF_ARCH),
        /* 1 */ jeq(AUDIT_ARCH_X86_64, 0, 18),
        /* 2 */ load(OFF_IP_HI),
        /* 3 */ jeq((gadget_return >> 32) as u32, 0, 10),
        /* 4 */ load(OFF_NR),
        /* 5 */ misc(BPF_TAX),
        /* 6 */ load(OFF_IP_LO),
        /* 7 */ jeq(gadget_return as u32, 11, 0),
        /* 8 */ jeq(clone_return as u32, 0, 2),
        /* 9 */ misc(BPF_TXA),
        /* 10 */ jeq(libc::SYS_clone as u32, 8, 9),
        /* 11 */ jeq(park_return as u32, 0, 8),
        /* 12 */ misc(BPF_TXA),
        /* 13 */ jeq(libc::SYS_pause as u32, 5, 6),
        /* 14 */ jeq(VSYSCALL_HI, 0, 5),
        /* 15 */ load(OFF_IP_LO),
        /* 16 */ and(PAGE_MASK),
        /* 17 */ jeq(VSYSCALL_LO, 0, 2),
        /* 18 */ ret(RET_TRACE),
        /* 19 */ ret(RET_ALLOW),
        /* 20 */ ret(RET_KILL_PROCESS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions the filter uses.
    fn run(prog: &[Insn], arch: u32, ip: u64, nr: u32) -> u32 {
        let data = |off: u32| match off {
            OFF_NR => nr,
            OFF_ARCH => arch,
            OFF_IP_LO => ip as u32,
            OFF_IP_HI => (ip >> 32) as u32,
            _ => panic!("unexpected load"),
        };
        let (mut pc, mut acc, mut x) = (0usize, 0u32, 0u32);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => acc = data(i.k),
                BPF_JEQ_K => pc += if acc == i.k { i.jt } else { i.jf } as usize,
                BPF_TAX => x = acc,
                BPF_TXA => acc = x,
                BPF_AND_K => acc &= i.k,
                BPF_RET_K => return i.k,
                _ => panic!("unexpected instruction"),
            }
        }
    }

    #[test]
    fn allows_only_the_gadgets() {
        let (g, c, p) = (0x7ffa_f000_00b3, 0x7ffa_f000_00b8, 0x7ffa_f000_00c7);
        let prog = stub_filter(g, c, p);
        let x86 = AUDIT_ARCH_X86_64;
        let (clone, pause, mmap) = (
            libc::SYS_clone as u32,
            libc::SYS_pause as u32,
            libc::SYS_mmap as u32,
        );
        assert_eq!(run(&prog, x86, g, mmap), RET_ALLOW);
        assert_eq!(run(&prog, x86, g, clone), RET_ALLOW);
        assert_eq!(run(&prog, x86, c, clone), RET_ALLOW);
        assert_eq!(run(&prog, x86, c, mmap), RET_KILL_PROCESS);
        assert_eq!(run(&prog, x86, p, pause), RET_ALLOW);
        assert_eq!(run(&prog, x86, p, mmap), RET_KILL_PROCESS);
        assert_eq!(run(&prog, x86, g + 1, mmap), RET_KILL_PROCESS);
        assert_eq!(run(&prog, x86, g + (1 << 32), mmap), RET_KILL_PROCESS);
        assert_eq!(run(&prog, x86, 0x401000, mmap), RET_KILL_PROCESS);
        assert_eq!(run(&prog, 0x4000_0003, g, mmap), RET_KILL_PROCESS);
        let time = libc::SYS_time as u32;
        assert_eq!(run(&prog, x86, 0xffff_ffff_ff60_0400, time), RET_TRACE);
        assert_eq!(
            run(&prog, x86, 0xffff_ffff_ff60_1000, time),
            RET_KILL_PROCESS
        );
        assert_eq!(
            run(&prog, x86, 0xffff_ffff_0060_0400, time),
            RET_KILL_PROCESS
        );
        assert_eq!(
            run(&prog, 0x4000_0003, 0xffff_ffff_ff60_0400, time),
            RET_KILL_PROCESS
        );
    }
}
