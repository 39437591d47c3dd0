//! The stub's seccomp filter: host syscalls only from the gadget.
//!
//! Guest syscalls stop in `PTRACE_SYSEMU` before seccomp runs, so this filter only ever
//! judges syscalls the host kernel would really execute in the stub. It allows exactly
//! those made at the gadget (reported instruction pointer == the address after the
//! gadget's `syscall`) by x86_64 code, and kills the whole stub for anything else: a tracer
//! bug that resumed a guest syscall with `PTRACE_CONT` cannot turn into a host syscall.

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

const OFF_ARCH: u32 = 4; // offsetof(struct seccomp_data, arch)
const OFF_IP_LO: u32 = 8; // offsetof(struct seccomp_data, instruction_pointer)
const OFF_IP_HI: u32 = 12;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const RET_ALLOW: u32 = 0x7fff_0000;
const RET_KILL_PROCESS: u32 = 0x8000_0000;

fn load(k: u32) -> Insn {
    Insn {
        code: BPF_LD_W_ABS,
        jt: 0,
        jf: 0,
        k,
    }
}

/// Jump over `skip_if_false` instructions unless the accumulator equals `k`.
fn jeq(k: u32, skip_if_false: u8) -> Insn {
    Insn {
        code: BPF_JEQ_K,
        jt: 0,
        jf: skip_if_false,
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

/// The filter program allowing syscalls whose reported IP is `gadget_return`.
pub(crate) fn stub_filter(gadget_return: u64) -> Vec<Insn> {
    vec![
        load(OFF_ARCH),
        jeq(AUDIT_ARCH_X86_64, 5),
        load(OFF_IP_LO),
        jeq(gadget_return as u32, 3),
        load(OFF_IP_HI),
        jeq((gadget_return >> 32) as u32, 1),
        ret(RET_ALLOW),
        ret(RET_KILL_PROCESS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny interpreter for the instructions the filter uses.
    fn run(prog: &[Insn], arch: u32, ip: u64) -> u32 {
        let data = |off: u32| match off {
            OFF_ARCH => arch,
            OFF_IP_LO => ip as u32,
            OFF_IP_HI => (ip >> 32) as u32,
            _ => panic!("unexpected load"),
        };
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                BPF_LD_W_ABS => acc = data(i.k),
                BPF_JEQ_K => pc += if acc == i.k { i.jt } else { i.jf } as usize,
                BPF_RET_K => return i.k,
                _ => panic!("unexpected instruction"),
            }
        }
    }

    #[test]
    fn allows_only_the_gadget() {
        let gadget = 0x7ffa_f000_00b3;
        let prog = stub_filter(gadget);
        assert_eq!(run(&prog, AUDIT_ARCH_X86_64, gadget), RET_ALLOW);
        assert_eq!(run(&prog, AUDIT_ARCH_X86_64, gadget + 1), RET_KILL_PROCESS);
        assert_eq!(
            run(&prog, AUDIT_ARCH_X86_64, gadget + (1 << 32)),
            RET_KILL_PROCESS
        );
        assert_eq!(run(&prog, AUDIT_ARCH_X86_64, 0x401000), RET_KILL_PROCESS);
        assert_eq!(run(&prog, 0x4000_0003, gadget), RET_KILL_PROCESS);
    }
}
