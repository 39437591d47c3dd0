//! Seccomp for guests: the syscall filters a guest installs with `seccomp(2)` or
//! `prctl(PR_SET_SECCOMP)`, run by the sentry itself on every syscall of a task that has
//! any (as gVisor does). The host kernel never sees them.
//!
//! - [`Program`]: a classic BPF program, checked as Linux's `bpf_check_classic` and
//!   `seccomp_check_filter` check it (the opcodes seccomp allows, loads only of aligned
//!   `seccomp_data` words, jumps in range, scratch memory written before it is read, a
//!   return at the end), and its interpreter.
//! - [`Filter`]: an installed program on top of those installed before it. Chains are
//!   shared: fork, clone and exec keep the chain, and a new filter only adds a link.
//! - [`TaskSeccomp`]: a task's mode and chain. Its own sentry thread reads it on each
//!   syscall; another thread of its process may replace it (`SECCOMP_FILTER_FLAG_TSYNC`).
//!   A task that never entered a mode pays one atomic load per syscall.
//! - [`Action`]: what the chain decided for one call, by Linux's precedence: every filter
//!   runs, the most restrictive action wins, the newest filter among equals.
//! - [`set_strict`] and [`install_filter`]: the mode changes.
//!
//! What a task does with an [`Action`] (skip the call with an errno, SIGSYS, death) is
//! [`Task::seccomp_permits`].
//!
//! Differences from Linux: there is no user notification (`SECCOMP_RET_USER_NOTIF`
//! behaves as with no listener, ENOSYS; the syscall layer refuses listeners as a kernel
//! before 5.0 did), no tracer (`SECCOMP_RET_TRACE` fails the call with ENOSYS, as Linux
//! does without one), and the audit log is the sentry's debug log.

use super::process::{Process, TaskHandle};
use super::sigframe::SigInfo;
use super::task::{ExitStatus, Task};
use crate::abi::SockFilter;
use crate::strace;
use crate::syscalls::{names, table};
use nix::errno::Errno;
use parking_lot::Mutex;
use platform::Regs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// `AUDIT_ARCH_X86_64`: the only architecture guest syscalls come from.
pub const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
/// `BPF_MAXINSNS`: the longest program.
pub const MAX_INSNS: usize = 4096;
/// `MAX_INSNS_PER_PATH`: the most instructions a chain may hold, counted as Linux counts
/// them: each program as the eBPF it converts it to, 4 more for each filter below the
/// newest.
const MAX_INSNS_PER_PATH: usize = 32768;
/// The eBPF instructions Linux puts before a converted classic program (clearing A and
/// X, saving the context pointer).
const CONVERTED_PROLOGUE: usize = 3;
/// `sizeof(struct seccomp_data)`.
const DATA_SIZE: u32 = 64;
/// `BPF_MEMWORDS`: scratch memory words.
const MEM_WORDS: usize = 16;
/// `MAX_ERRNO`: the largest errno `SECCOMP_RET_ERRNO` can return.
const MAX_ERRNO: u16 = 4095;

/// `SECCOMP_RET_KILL_PROCESS`.
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
/// `SECCOMP_RET_KILL_THREAD`.
pub const RET_KILL_THREAD: u32 = 0;
/// `SECCOMP_RET_TRAP`.
pub const RET_TRAP: u32 = 0x0003_0000;
/// `SECCOMP_RET_ERRNO`.
pub const RET_ERRNO: u32 = 0x0005_0000;
/// `SECCOMP_RET_USER_NOTIF`.
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
/// `SECCOMP_RET_TRACE`.
pub const RET_TRACE: u32 = 0x7ff0_0000;
/// `SECCOMP_RET_LOG`.
pub const RET_LOG: u32 = 0x7ffc_0000;
/// `SECCOMP_RET_ALLOW`.
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// `SECCOMP_RET_ACTION_FULL`: the action part of a return value.
const RET_ACTION_FULL: u32 = 0xffff_0000;
/// `SECCOMP_RET_DATA`: the data part.
const RET_DATA: u32 = 0xffff;

/// `SECCOMP_FILTER_FLAG_TSYNC`: every thread of the process gets the new chain.
pub const FLAG_TSYNC: u32 = 1;
/// `SECCOMP_FILTER_FLAG_LOG`: log the filter's actions (the sentry logs them all).
pub const FLAG_LOG: u32 = 2;
/// `SECCOMP_FILTER_FLAG_SPEC_ALLOW`: keep speculation mitigations off (nothing to do).
pub const FLAG_SPEC_ALLOW: u32 = 4;
/// `SECCOMP_FILTER_FLAG_NEW_LISTENER`: return a user-notification fd.
pub const FLAG_NEW_LISTENER: u32 = 8;
/// `SECCOMP_FILTER_FLAG_TSYNC_ESRCH`: a failed TSYNC is ESRCH rather than a tid.
pub const FLAG_TSYNC_ESRCH: u32 = 16;
/// `SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`: notification waits only end by SIGKILL.
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// Why a mode change failed (the errno is chosen in [`crate::errno`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SeccompError {
    /// A bad operation, flag or program, or a change from the other mode.
    #[error("invalid seccomp operation, flags, mode change or program")]
    Invalid,
    /// A filter without `no_new_privs` or `CAP_SYS_ADMIN`.
    #[error("installing a filter needs no_new_privs or CAP_SYS_ADMIN")]
    NeedsNoNewPrivs,
    /// The chain would exceed `MAX_INSNS_PER_PATH`.
    #[error("the filter chain would be too long")]
    TooLong,
    /// TSYNC with `SECCOMP_FILTER_FLAG_TSYNC_ESRCH` found a thread that cannot follow.
    #[error("a thread cannot take the new filter")]
    CannotSync,
    /// `SECCOMP_GET_ACTION_AVAIL` for an action this kernel does not have.
    #[error("unknown seccomp action")]
    UnknownAction,
}

/// Where and why a program was refused (always EINVAL for the guest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("instruction {pc}: {reason}")]
pub struct InvalidProgram {
    /// The offending instruction (the length for an empty or too long program).
    pub pc: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl From<InvalidProgram> for SeccompError {
    fn from(e: InvalidProgram) -> SeccompError {
        log::debug!("seccomp filter refused: {e}");
        SeccompError::Invalid
    }
}

/// `struct seccomp_data`: what a filter sees of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// The syscall number.
    pub nr: i32,
    /// `AUDIT_ARCH_*` of the calling convention.
    pub arch: u32,
    /// The address after the syscall instruction (for a vsyscall, the entry called).
    pub instruction_pointer: u64,
    /// The six arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The call a guest stopped in: number, arguments and address from its registers.
    pub fn of(regs: &Regs) -> SeccompData {
        SeccompData {
            nr: regs.orig_rax as i32,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: regs.rip,
            args: [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9],
        }
    }

    /// The 32-bit word at byte `off` (validated: aligned and inside the structure).
    fn word(&self, off: u32) -> u32 {
        let half = |v: u64, high: bool| if high { (v >> 32) as u32 } else { v as u32 };
        match off {
            0 => self.nr as u32,
            4 => self.arch,
            8 | 12 => half(self.instruction_pointer, off == 12),
            _ => half(self.args[(off as usize - 16) / 8], off % 8 == 4),
        }
    }
}

/// The operand of an ALU instruction or a conditional jump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    /// The constant `k` (`BPF_K`).
    K(u32),
    /// The index register (`BPF_X`).
    X,
}

/// `BPF_ALU` operations seccomp allows (no `BPF_MOD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AluOp {
    Add,
    Sub,
    Mul,
    Div,
    Or,
    And,
    Lsh,
    Rsh,
    Xor,
}

/// Conditions of `BPF_JMP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cond {
    Eq,
    Gt,
    Ge,
    Set,
}

/// A checked instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    /// `A = seccomp_data[k]` (`BPF_LD|BPF_W|BPF_ABS`).
    LoadData(u32),
    /// `A = k` (`BPF_LD|BPF_IMM`; `BPF_LD|BPF_W|BPF_LEN` loads the data size).
    LoadA(u32),
    /// `X = k` (`BPF_LDX|BPF_IMM`, `BPF_LDX|BPF_W|BPF_LEN`).
    LoadX(u32),
    /// `A = M[k]`.
    LoadMemA(usize),
    /// `X = M[k]`.
    LoadMemX(usize),
    /// `M[k] = A` (`BPF_ST`).
    StoreA(usize),
    /// `M[k] = X` (`BPF_STX`).
    StoreX(usize),
    /// `A = A op src`.
    Alu(AluOp, Src),
    /// `A = -A`.
    Neg,
    /// Skip `k` instructions.
    Jump(u32),
    /// Skip `jt` instructions if `A cond src`, else `jf`.
    Branch {
        cond: Cond,
        src: Src,
        jt: u8,
        jf: u8,
    },
    /// Return `k`.
    RetK(u32),
    /// Return `A`.
    RetA,
    /// `X = A`.
    Tax,
    /// `A = X`.
    Txa,
}

/// Instruction classes and fields of a `code`.
const BPF_ALU: u16 = 0x04;
const BPF_JMP: u16 = 0x05;
const BPF_X: u16 = 0x08;
/// The bits of an ALU or jump code besides its class: operation and source.
const OP_SRC: u16 = 0xf8;

impl Op {
    /// Checks instruction `pc` of a program of `len` instructions.
    fn decode(insn: SockFilter, pc: usize, len: usize) -> Result<Op, InvalidProgram> {
        let bad = |reason| Err(InvalidProgram { pc, reason });
        let k = insn.k;
        let mem = |k: u32| -> Result<usize, InvalidProgram> {
            if (k as usize) < MEM_WORDS {
                Ok(k as usize)
            } else {
                Err(InvalidProgram {
                    pc,
                    reason: "scratch memory index out of range",
                })
            }
        };
        let src = if insn.code & BPF_X != 0 {
            Src::X
        } else {
            Src::K(k)
        };
        // A jump lands on an instruction after this one.
        let lands = |skip: usize| pc + 1 + skip < len;
        let op = match insn.code {
            0x20 if k >= DATA_SIZE || !k.is_multiple_of(4) => {
                return bad("load outside seccomp_data or unaligned");
            }
            0x20 => Op::LoadData(k),
            0x80 => Op::LoadA(DATA_SIZE),
            0x81 => Op::LoadX(DATA_SIZE),
            0x00 => Op::LoadA(k),
            0x01 => Op::LoadX(k),
            0x60 => Op::LoadMemA(mem(k)?),
            0x61 => Op::LoadMemX(mem(k)?),
            0x02 => Op::StoreA(mem(k)?),
            0x03 => Op::StoreX(mem(k)?),
            0x84 => Op::Neg,
            0x06 => Op::RetK(k),
            0x16 => Op::RetA,
            0x07 => Op::Tax,
            0x87 => Op::Txa,
            0x05 if !lands(k as usize) => return bad("jump out of the program"),
            0x05 => Op::Jump(k),
            code if code & !OP_SRC == BPF_ALU => {
                let op = match code & 0xf0 {
                    0x00 => AluOp::Add,
                    0x10 => AluOp::Sub,
                    0x20 => AluOp::Mul,
                    0x30 => AluOp::Div,
                    0x40 => AluOp::Or,
                    0x50 => AluOp::And,
                    0x60 => AluOp::Lsh,
                    0x70 => AluOp::Rsh,
                    0xa0 => AluOp::Xor,
                    _ => return bad("ALU operation seccomp does not allow"),
                };
                match (op, src) {
                    (AluOp::Div, Src::K(0)) => return bad("division by zero"),
                    (AluOp::Lsh | AluOp::Rsh, Src::K(32..)) => return bad("shift of 32 or more"),
                    _ => Op::Alu(op, src),
                }
            }
            code if code & !OP_SRC == BPF_JMP => {
                let cond = match code & 0xf0 {
                    0x10 => Cond::Eq,
                    0x20 => Cond::Gt,
                    0x30 => Cond::Ge,
                    0x40 => Cond::Set,
                    _ => return bad("jump seccomp does not allow"),
                };
                if !lands(insn.jt as usize) || !lands(insn.jf as usize) {
                    return bad("jump out of the program");
                }
                Op::Branch {
                    cond,
                    src,
                    jt: insn.jt,
                    jf: insn.jf,
                }
            }
            _ => return bad("opcode seccomp does not allow"),
        };
        Ok(op)
    }
}

impl Op {
    /// How many eBPF instructions Linux's `bpf_convert_filter` makes of this one.
    fn converted_len(self) -> usize {
        match self {
            Op::RetK(_) => 2,
            // A check for division by zero comes first.
            Op::Alu(AluOp::Div, Src::X) => 5,
            Op::Branch { cond, src, jt, jf } => {
                // eBPF immediates are signed: a negative one goes through a register.
                let widen = usize::from(matches!(src, Src::K(k) if (k as i32) < 0));
                // A jump with both targets away becomes a jump and a JA, unless inverting
                // its condition makes the false target the next instruction.
                let one = jf == 0 || (jt == 0 && cond != Cond::Set);
                widen + if one { 1 } else { 2 }
            }
            _ => 1,
        }
    }
}

/// A checked classic BPF program.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Program {
    ops: Vec<Op>,
    /// Length of the eBPF program Linux would convert it to.
    converted_len: usize,
}

impl Program {
    /// Checks `insns` as Linux checks a seccomp filter.
    pub fn new(insns: &[SockFilter]) -> Result<Program, InvalidProgram> {
        let len = insns.len();
        if len == 0 || len > MAX_INSNS {
            return Err(InvalidProgram {
                pc: len,
                reason: "empty or longer than BPF_MAXINSNS",
            });
        }
        let ops = insns
            .iter()
            .enumerate()
            .map(|(pc, &insn)| Op::decode(insn, pc, len))
            .collect::<Result<Vec<_>, _>>()?;
        if !matches!(ops[len - 1], Op::RetK(_) | Op::RetA) {
            return Err(InvalidProgram {
                pc: len - 1,
                reason: "does not end in a return",
            });
        }
        check_memory(&ops)?;
        let converted = ops.iter().map(|op| op.converted_len()).sum::<usize>();
        Ok(Program {
            ops,
            converted_len: CONVERTED_PROLOGUE + converted,
        })
    }

    /// Runs the program on `data`; returns its `SECCOMP_RET_*` value. Division by zero
    /// returns 0 (`SECCOMP_RET_KILL_THREAD`), as Linux's classic BPF does.
    pub fn run(&self, data: &SeccompData) -> u32 {
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; MEM_WORDS];
        let mut pc = 0;
        loop {
            let op = self.ops[pc];
            pc += 1;
            let value = |src: Src| match src {
                Src::K(k) => k,
                Src::X => x,
            };
            match op {
                Op::LoadData(off) => a = data.word(off),
                Op::LoadA(k) => a = k,
                Op::LoadX(k) => x = k,
                Op::LoadMemA(i) => a = mem[i],
                Op::LoadMemX(i) => x = mem[i],
                Op::StoreA(i) => mem[i] = a,
                Op::StoreX(i) => mem[i] = x,
                Op::Alu(op, src) => {
                    let v = value(src);
                    a = match op {
                        AluOp::Add => a.wrapping_add(v),
                        AluOp::Sub => a.wrapping_sub(v),
                        AluOp::Mul => a.wrapping_mul(v),
                        AluOp::Div if v == 0 => return 0,
                        AluOp::Div => a / v,
                        AluOp::Or => a | v,
                        AluOp::And => a & v,
                        // Linux masks a shift count in a register to 5 bits.
                        AluOp::Lsh => a.wrapping_shl(v),
                        AluOp::Rsh => a.wrapping_shr(v),
                        AluOp::Xor => a ^ v,
                    };
                }
                Op::Neg => a = a.wrapping_neg(),
                Op::Jump(k) => pc += k as usize,
                Op::Branch { cond, src, jt, jf } => {
                    let v = value(src);
                    let taken = match cond {
                        Cond::Eq => a == v,
                        Cond::Gt => a > v,
                        Cond::Ge => a >= v,
                        Cond::Set => a & v != 0,
                    };
                    pc += if taken { jt } else { jf } as usize;
                }
                Op::RetK(k) => return k,
                Op::RetA => return a,
                Op::Tax => x = a,
                Op::Txa => a = x,
            }
        }
    }
}

/// Linux's `check_load_and_stores`: no path may read a scratch word it has not written.
/// Like Linux, it walks the program in order, carrying what is known across a return.
fn check_memory(ops: &[Op]) -> Result<(), InvalidProgram> {
    let mut at_entry = vec![u16::MAX; ops.len()];
    let mut valid: u16 = 0;
    for (pc, op) in ops.iter().enumerate() {
        valid &= at_entry[pc];
        match *op {
            Op::StoreA(i) | Op::StoreX(i) => valid |= 1 << i,
            Op::LoadMemA(i) | Op::LoadMemX(i) if valid & (1 << i) == 0 => {
                return Err(InvalidProgram {
                    pc,
                    reason: "scratch memory read before it is written",
                });
            }
            Op::Jump(k) => {
                at_entry[pc + 1 + k as usize] &= valid;
                valid = u16::MAX;
            }
            Op::Branch { jt, jf, .. } => {
                at_entry[pc + 1 + jt as usize] &= valid;
                at_entry[pc + 1 + jf as usize] &= valid;
                valid = u16::MAX;
            }
            _ => {}
        }
    }
    Ok(())
}

/// An installed filter and, through `prev`, every filter installed before it (Linux's
/// `seccomp_filter` list). Tasks that inherited a chain share it.
#[derive(Debug)]
pub struct Filter {
    program: Program,
    prev: Option<Arc<Filter>>,
}

/// A task's seccomp mode (`SECCOMP_MODE_*`, as `PR_GET_SECCOMP` reports it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// No seccomp.
    #[default]
    Disabled = 0,
    /// Only read, write, exit and rt_sigreturn.
    Strict = 1,
    /// Filters.
    Filter = 2,
}

/// What a task's seccomp state decided for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `SECCOMP_RET_ALLOW`: the call runs.
    Allow,
    /// `SECCOMP_RET_LOG`: the call runs and is logged.
    Log,
    /// `SECCOMP_RET_ERRNO`: the call is skipped and fails with this errno (0: returns 0).
    Errno(u16),
    /// `SECCOMP_RET_TRACE`: for a tracer; without one the call fails with ENOSYS.
    Trace(u16),
    /// `SECCOMP_RET_USER_NOTIF`: for a listener; without one the call fails with ENOSYS.
    UserNotif,
    /// `SECCOMP_RET_TRAP`: the call is skipped and SIGSYS forced on the task.
    Trap(u16),
    /// `SECCOMP_RET_KILL_THREAD`: the thread dies of SIGSYS (the process, with its last).
    KillThread(u16),
    /// `SECCOMP_RET_KILL_PROCESS` (or an unknown action): the process dies of SIGSYS.
    KillProcess(u16),
    /// Strict mode refused the call: the thread dies of SIGKILL.
    KillStrict,
}

impl Action {
    /// The action of a filter's return value.
    pub fn of(ret: u32) -> Action {
        let data = (ret & RET_DATA) as u16;
        match ret & RET_ACTION_FULL {
            RET_ALLOW => Action::Allow,
            RET_LOG => Action::Log,
            RET_ERRNO => Action::Errno(data),
            RET_TRACE => Action::Trace(data),
            RET_USER_NOTIF => Action::UserNotif,
            RET_TRAP => Action::Trap(data),
            RET_KILL_THREAD => Action::KillThread(data),
            _ => Action::KillProcess(data),
        }
    }
}

/// Whether `SECCOMP_GET_ACTION_AVAIL` reports `action` (an exact `SECCOMP_RET_*` value)
/// available: every action but user notification.
pub fn action_available(action: u32) -> Result<(), SeccompError> {
    match action {
        RET_KILL_PROCESS | RET_KILL_THREAD | RET_TRAP | RET_ERRNO | RET_TRACE | RET_LOG
        | RET_ALLOW => Ok(()),
        _ => Err(SeccompError::UnknownAction),
    }
}

/// The precedence of a return value: the lower, the more restrictive (Linux compares the
/// action bits as a signed number, which puts `KILL_PROCESS` first).
fn precedence(ret: u32) -> i32 {
    (ret & RET_ACTION_FULL) as i32
}

/// The syscalls strict mode allows: read, write, exit and rt_sigreturn.
const STRICT_ALLOWED: [i64; 4] = [
    libc::SYS_read,
    libc::SYS_write,
    libc::SYS_exit,
    libc::SYS_rt_sigreturn,
];

/// A task's mode and filter chain (Linux's `struct seccomp`).
#[derive(Clone, Debug, Default)]
struct State {
    mode: Mode,
    filter: Option<Arc<Filter>>,
}

impl State {
    /// The chain, newest filter first.
    fn filters(&self) -> impl Iterator<Item = &Filter> {
        std::iter::successors(self.filter.as_deref(), |f| f.prev.as_deref())
    }

    /// Whether `ancestor` is this chain or one of its tails (no chain is the tail of all).
    fn descends_from(&self, ancestor: &Option<Arc<Filter>>) -> bool {
        let Some(ancestor) = ancestor else {
            return true;
        };
        let mut link = self.filter.as_ref();
        while let Some(f) = link {
            if Arc::ptr_eq(f, ancestor) {
                return true;
            }
            link = f.prev.as_ref();
        }
        false
    }

    fn decide(&self, data: &SeccompData) -> Action {
        match self.mode {
            Mode::Disabled => Action::Allow,
            Mode::Strict if STRICT_ALLOWED.contains(&(data.nr as i64)) => Action::Allow,
            Mode::Strict => Action::KillStrict,
            Mode::Filter => {
                let mut ret = RET_ALLOW;
                for f in self.filters() {
                    let r = f.program.run(data);
                    if precedence(r) < precedence(ret) {
                        ret = r;
                    }
                }
                Action::of(ret)
            }
        }
    }
}

/// A task's seccomp state, as its own thread and the other threads of its process see it.
#[derive(Debug, Default)]
pub struct TaskSeccomp {
    /// Set once the task enters a mode, never cleared (a mode cannot be left): the one
    /// check a task without seccomp makes per syscall.
    on: AtomicBool,
    state: Mutex<State>,
}

impl TaskSeccomp {
    /// Takes `from`'s mode and chain (for a new task, which has none yet).
    pub fn inherit(&self, from: &TaskSeccomp) {
        let state = from.state.lock().clone();
        let on = state.mode != Mode::Disabled;
        *self.state.lock() = state;
        self.on.store(on, Ordering::Release);
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.state.lock().mode
    }

    /// Number of filters in the chain.
    pub fn filter_count(&self) -> usize {
        self.state.lock().filters().count()
    }

    /// What the task's mode and filters decide for the call `data` describes; `None`
    /// (without building the data) if the task has no seccomp mode.
    pub fn check(&self, data: impl FnOnce() -> SeccompData) -> Option<Action> {
        if !self.on.load(Ordering::Acquire) {
            return None;
        }
        Some(self.state.lock().decide(&data()))
    }

    /// Enters strict mode (again); EINVAL in filter mode.
    fn enter_strict(&self) -> Result<(), SeccompError> {
        let mut state = self.state.lock();
        if state.mode == Mode::Filter {
            return Err(SeccompError::Invalid);
        }
        self.set(&mut state, Mode::Strict, None);
        Ok(())
    }

    fn set(&self, state: &mut State, mode: Mode, filter: Option<Arc<Filter>>) {
        state.mode = mode;
        state.filter = filter;
        self.on.store(true, Ordering::Release);
    }
}

/// `SECCOMP_SET_MODE_STRICT` for thread `caller` of `process`: EINVAL once in filter mode.
pub fn set_strict(process: &Process, caller: &TaskHandle) -> Result<(), SeccompError> {
    // Mode changes of a process's threads happen one at a time (TSYNC looks at them all).
    let _threads = process.tasks.lock();
    caller.seccomp.enter_strict()
}

/// `SECCOMP_SET_MODE_FILTER`: installs `program` on top of thread `caller`'s chain (a
/// thread of `process`) with `FLAG_*` `flags`. Returns 0, or with `FLAG_TSYNC` (without
/// `FLAG_TSYNC_ESRCH`) the tid of a thread that cannot take the new chain, in which case
/// nothing changes. A thread can take it if it has no mode, or filters that the caller's
/// chain descends from; it then gets the caller's chain, and its `no_new_privs` if set.
pub fn install_filter(
    process: &Process,
    caller: &TaskHandle,
    program: Program,
    flags: u32,
) -> Result<u64, SeccompError> {
    // Mode changes of a process's threads happen one at a time.
    install_among(&process.tasks.lock(), caller, program, flags)
}

/// [`install_filter`] for `caller` among its process's `threads`.
fn install_among(
    threads: &[Arc<TaskHandle>],
    caller: &TaskHandle,
    program: Program,
    flags: u32,
) -> Result<u64, SeccompError> {
    let mut state = caller.seccomp.state.lock();
    if state.mode == Mode::Strict {
        return Err(SeccompError::Invalid);
    }
    let total = state.filters().fold(program.converted_len, |n, f| {
        n + f.program.converted_len + 4
    });
    if total > MAX_INSNS_PER_PATH {
        return Err(SeccompError::TooLong);
    }
    let others = || threads.iter().filter(|t| t.tid != caller.tid);
    if flags & FLAG_TSYNC != 0 {
        let stuck = others().find(|t| {
            let theirs = t.seccomp.state.lock();
            match theirs.mode {
                Mode::Disabled => false,
                Mode::Strict => true,
                Mode::Filter => !state.descends_from(&theirs.filter),
            }
        });
        match stuck {
            Some(_) if flags & FLAG_TSYNC_ESRCH != 0 => return Err(SeccompError::CannotSync),
            Some(t) => return Ok(t.tid as u64),
            None => {}
        }
    }
    let filter = Some(Arc::new(Filter {
        program,
        prev: state.filter.take(),
    }));
    if flags & FLAG_TSYNC != 0 {
        let nnp = caller.no_new_privs.load(Ordering::SeqCst);
        for t in others() {
            let mut theirs = t.seccomp.state.lock();
            t.seccomp.set(&mut theirs, Mode::Filter, filter.clone());
            if nnp {
                t.no_new_privs.store(true, Ordering::SeqCst);
            }
        }
    }
    caller.seccomp.set(&mut state, Mode::Filter, filter);
    Ok(0)
}

impl Task {
    /// Runs the task's seccomp mode and filters on the syscall it stopped in (number and
    /// arguments in its registers) and acts on the decision; returns whether the call may
    /// run. A skipped call leaves its result in `rax`: `-errno` for `SECCOMP_RET_ERRNO`
    /// (capped at `MAX_ERRNO`), ENOSYS for TRACE and USER_NOTIF (no tracer, no listener),
    /// the syscall number for TRAP (Linux's rollback, which the SIGSYS handler sees).
    pub(super) fn seccomp_permits(&mut self) -> bool {
        let Some(action) = self.handle.seccomp.check(|| SeccompData::of(&self.regs)) else {
            return true;
        };
        let data = SeccompData::of(&self.regs);
        let nr = self.regs.orig_rax;
        if action != Action::Allow {
            log::debug!(
                "task {}: seccomp {action:?} for {} from {:#x}",
                self.tid,
                names::name(nr),
                data.instruction_pointer
            );
        }
        let fail = |e: u16| Some((-i64::from(e)) as u64);
        let rax = match action {
            Action::Allow | Action::Log => return true,
            Action::Errno(e) => fail(e.min(MAX_ERRNO)),
            Action::Trace(_) | Action::UserNotif => fail(Errno::ENOSYS as u16),
            Action::Trap(d) => {
                self.regs.rax = nr;
                let info = SigInfo::seccomp(data.nr, data.arch, data.instruction_pointer, d);
                self.force_signal(info);
                None
            }
            Action::KillThread(_) if self.process.tasks.lock().len() > 1 => {
                self.thread_exit = true;
                self.exit = Some(ExitStatus::killed(libc::SIGSYS));
                None
            }
            Action::KillThread(_) | Action::KillProcess(_) => {
                self.die_of(libc::SIGSYS);
                None
            }
            Action::KillStrict => {
                self.thread_exit = true;
                self.exit = Some(ExitStatus::killed(libc::SIGKILL));
                None
            }
        };
        if let Some(rax) = rax {
            self.regs.rax = rax;
        }
        if self.kernel.opts.strace {
            strace::Call::before(self, nr, table::lookup(nr)).finish_filtered(self, rax);
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LD_ABS: u16 = 0x20;
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;

    fn insn(code: u16, jt: u8, jf: u8, k: u32) -> SockFilter {
        SockFilter { code, jt, jf, k }
    }

    fn stmt(code: u16, k: u32) -> SockFilter {
        insn(code, 0, 0, k)
    }

    fn ret(k: u32) -> SockFilter {
        stmt(RET_K, k)
    }

    /// `nr == target ? on_match : ALLOW`.
    fn match_nr(target: i64, on_match: u32) -> Program {
        Program::new(&[
            stmt(LD_ABS, 0),
            insn(JEQ_K, 0, 1, target as u32),
            ret(on_match),
            ret(RET_ALLOW),
        ])
        .expect("valid")
    }

    fn call(nr: i64) -> SeccompData {
        SeccompData {
            nr: nr as i32,
            arch: AUDIT_ARCH_X86_64,
            instruction_pointer: 0x1234_5678_9abc_def0,
            args: [1, 2, 3, 0xffff_ffff_0000_0004, 5, 6],
        }
    }

    fn refused(insns: &[SockFilter]) -> &'static str {
        Program::new(insns).expect_err("must be refused").reason
    }

    #[test]
    fn refuses_what_linux_refuses() {
        assert!(Program::new(&[]).is_err());
        assert!(Program::new(&vec![ret(0); MAX_INSNS + 1]).is_err());
        assert!(Program::new(&vec![ret(0); MAX_INSNS]).is_ok());
        // Loads outside seccomp_data, unaligned, of bytes or halves, indirect.
        assert!(refused(&[stmt(LD_ABS, 64), ret(0)]).contains("outside"));
        assert!(refused(&[stmt(LD_ABS, 2), ret(0)]).contains("unaligned"));
        for code in [0x28, 0x30, 0x40, 0xb1] {
            assert!(refused(&[stmt(code, 0), ret(0)]).contains("opcode"));
        }
        // BPF_MOD, division by a zero constant, shifts of 32.
        assert!(refused(&[stmt(0x94, 3), ret(0)]).contains("ALU"));
        assert!(refused(&[stmt(0x34, 0), ret(0)]).contains("division"));
        assert!(refused(&[stmt(0x64, 32), ret(0)]).contains("shift"));
        assert!(Program::new(&[stmt(0x74, 31), ret(0)]).is_ok());
        // Jumps past the end, JA with the X bit.
        assert!(refused(&[stmt(0x05, 1), ret(0)]).contains("jump"));
        assert!(refused(&[insn(JEQ_K, 1, 0, 0), ret(0)]).contains("jump"));
        assert!(refused(&[insn(JEQ_K, 0, 1, 0), ret(0)]).contains("jump"));
        assert!(refused(&[stmt(0x0d, 0), ret(0)]).contains("jump"));
        // Scratch memory out of range, or read before written.
        assert!(refused(&[stmt(0x02, 16), ret(0)]).contains("index"));
        assert!(refused(&[stmt(0x60, 3), ret(0)]).contains("before"));
        // No return at the end.
        assert!(refused(&[ret(0), stmt(0x00, 1)]).contains("return"));
        // Unknown bits in a code.
        assert!(refused(&[stmt(0x0106, 0)]).contains("opcode"));
    }

    #[test]
    fn memory_must_be_written_on_every_path() {
        // Written on one branch only, read where the branches join.
        let one_branch = [
            stmt(LD_ABS, 0),
            insn(JEQ_K, 0, 1, 39),
            stmt(0x02, 5),
            stmt(0x60, 5),
            ret(0),
        ];
        assert!(refused(&one_branch).contains("before"));
        // Written before the branch: fine on both.
        let before = [
            stmt(0x02, 5),
            stmt(LD_ABS, 0),
            insn(JEQ_K, 0, 1, 39),
            stmt(0x61, 5),
            stmt(0x60, 5),
            ret(0),
        ];
        assert!(Program::new(&before).is_ok());
    }

    #[test]
    fn interprets_classic_bpf() {
        let d = call(39);
        let run = |insns: &[SockFilter]| Program::new(insns).expect("valid").run(&d);
        // Every seccomp_data word.
        for (off, want) in [
            (0, 39),
            (4, AUDIT_ARCH_X86_64),
            (8, 0x9abc_def0),
            (12, 0x1234_5678),
            (16, 1),
            (20, 0),
            (40, 4),
            (44, 0xffff_ffff),
            (56, 6),
        ] {
            assert_eq!(run(&[stmt(LD_ABS, off), stmt(0x16, 0)]), want, "word {off}");
        }
        // ALU with constants and X, scratch memory, TAX/TXA, LEN, NEG.
        let alu = [
            stmt(0x00, 7),     // A = 7
            stmt(0x24, 6),     // A *= 6 (42)
            stmt(0x01, 5),     // X = 5
            stmt(0x0c, 0),     // A += X (47)
            stmt(0x02, 0),     // M[0] = A
            stmt(0x80, 0),     // A = len (64)
            stmt(0x3c, 0),     // A /= X (12)
            stmt(0x07, 0),     // X = A
            stmt(0x60, 0),     // A = M[0] (47)
            stmt(0x1c, 0),     // A -= X (35)
            stmt(0x54, 0x21),  // A &= 0x21 (33)
            stmt(0xa4, 3),     // A ^= 3 (34)
            stmt(0x44, 0x100), // A |= 0x100
            stmt(0x64, 4),     // A <<= 4
            stmt(0x74, 1),     // A >>= 1
            stmt(0x16, 0),
        ];
        assert_eq!(run(&alu), ((34 | 0x100) << 4) >> 1);
        assert_eq!(
            run(&[stmt(0x00, 5), stmt(0x84, 0), stmt(0x16, 0)]),
            5u32.wrapping_neg()
        );
        // Shift counts in X are taken modulo 32; division by a zero X returns 0.
        let shift = [stmt(0x00, 1), stmt(0x01, 33), stmt(0x6c, 0), stmt(0x16, 0)];
        assert_eq!(run(&shift), 2);
        let div = [stmt(0x00, 1), stmt(0x01, 0), stmt(0x3c, 0), ret(RET_ALLOW)];
        assert_eq!(run(&div), 0);
        // Conditional jumps: JGT, JGE, JSET, with K and X; JA.
        let jumps = [
            stmt(LD_ABS, 0),      // 39
            insn(0x25, 1, 0, 39), // 39 > 39? no
            insn(0x35, 1, 0, 39), // 39 >= 39? yes -> skip 1
            ret(1),
            insn(0x45, 1, 0, 0x40), // 39 & 0x40? no
            stmt(0x05, 1),          // ja +1
            ret(2),
            stmt(0x01, 0x20),    // X = 0x20
            insn(0x4d, 0, 1, 0), // 39 & X? yes
            ret(3),
            ret(4),
        ];
        assert_eq!(run(&jumps), 3);
    }

    #[test]
    fn decodes_actions() {
        assert_eq!(Action::of(RET_ALLOW), Action::Allow);
        assert_eq!(Action::of(RET_ALLOW | 7), Action::Allow);
        assert_eq!(Action::of(RET_LOG), Action::Log);
        assert_eq!(Action::of(RET_ERRNO | 1), Action::Errno(1));
        assert_eq!(Action::of(RET_TRAP | 0xbeef), Action::Trap(0xbeef));
        assert_eq!(Action::of(RET_TRACE | 2), Action::Trace(2));
        assert_eq!(Action::of(RET_USER_NOTIF), Action::UserNotif);
        assert_eq!(Action::of(RET_KILL_THREAD | 9), Action::KillThread(9));
        assert_eq!(Action::of(RET_KILL_PROCESS), Action::KillProcess(0));
        // Unknown actions kill the process.
        assert_eq!(Action::of(0x0001_0000), Action::KillProcess(0));
        assert_eq!(Action::of(0x7ffe_0000), Action::KillProcess(0));
        assert!(action_available(RET_LOG).is_ok());
        assert!(action_available(RET_USER_NOTIF).is_err());
        assert!(action_available(RET_ERRNO | 1).is_err());
    }

    fn handle(tid: i32) -> Arc<TaskHandle> {
        TaskHandle::new(tid, 0)
    }

    #[test]
    fn stacked_filters_most_restrictive_wins() {
        let me = handle(1);
        let threads = [me.clone()];
        let install = |p| install_among(&threads, &me, p, 0).expect("installed");
        assert_eq!(me.seccomp.check(|| call(39)), None);
        install(match_nr(libc::SYS_getpid, RET_ERRNO | 1));
        install(match_nr(libc::SYS_getpid, RET_ERRNO | 2));
        install(match_nr(libc::SYS_getppid, RET_TRACE));
        assert_eq!(me.seccomp.mode(), Mode::Filter);
        assert_eq!(me.seccomp.filter_count(), 3);
        // Equal actions: the newest filter's data.
        assert_eq!(me.seccomp.check(|| call(39)), Some(Action::Errno(2)));
        assert_eq!(me.seccomp.check(|| call(110)), Some(Action::Trace(0)));
        assert_eq!(me.seccomp.check(|| call(0)), Some(Action::Allow));
        install(match_nr(libc::SYS_getpid, RET_TRAP | 5));
        install(match_nr(libc::SYS_getpid, RET_LOG));
        assert_eq!(me.seccomp.check(|| call(39)), Some(Action::Trap(5)));
        install(match_nr(libc::SYS_getpid, RET_KILL_THREAD));
        install(match_nr(libc::SYS_getpid, RET_KILL_PROCESS));
        assert_eq!(me.seccomp.check(|| call(39)), Some(Action::KillProcess(0)));
        // A child gets the same chain.
        let child = TaskHandle::child_of(2, &me);
        assert_eq!(child.seccomp.filter_count(), 7);
        assert_eq!(
            child.seccomp.check(|| call(39)),
            Some(Action::KillProcess(0))
        );
        // Strict mode cannot follow filters.
        assert_eq!(me.seccomp.enter_strict(), Err(SeccompError::Invalid));
    }

    #[test]
    fn strict_mode_allows_four_calls() {
        let me = handle(1);
        me.seccomp.enter_strict().expect("strict");
        for nr in [
            libc::SYS_read,
            libc::SYS_write,
            libc::SYS_exit,
            libc::SYS_rt_sigreturn,
        ] {
            assert_eq!(me.seccomp.check(|| call(nr)), Some(Action::Allow));
        }
        for nr in [libc::SYS_exit_group, libc::SYS_getpid, libc::SYS_prctl] {
            assert_eq!(me.seccomp.check(|| call(nr)), Some(Action::KillStrict));
        }
        let threads = [me.clone()];
        let p = match_nr(0, RET_ALLOW);
        assert_eq!(
            install_among(&threads, &me, p, 0),
            Err(SeccompError::Invalid)
        );
    }

    #[test]
    fn chains_are_limited() {
        let me = handle(1);
        let threads = [me.clone()];
        // 4096 returns are 8195 eBPF instructions: 3 fit, not 4 (as on Linux).
        let big = || Program::new(&vec![ret(RET_ALLOW); MAX_INSNS]).expect("valid");
        assert_eq!(big().converted_len, 8195);
        for _ in 0..3 {
            install_among(&threads, &me, big(), 0).expect("fits");
        }
        assert_eq!(
            install_among(&threads, &me, big(), 0),
            Err(SeccompError::TooLong)
        );
    }

    #[test]
    fn counts_instructions_as_linux_converts_them() {
        // Lengths measured on Linux 6.18: 99 copies of an instruction between
        // `X = 1` and a return of ALLOW.
        let measure = |body: SockFilter| {
            let mut insns = vec![stmt(0x01, 1)];
            insns.extend(std::iter::repeat_n(body, 99));
            insns.push(ret(RET_ALLOW));
            Program::new(&insns).expect("valid").converted_len
        };
        assert_eq!(measure(stmt(0x00, RET_ALLOW)), 105);
        assert_eq!(measure(insn(JEQ_K, 0, 0, 5)), 105);
        assert_eq!(measure(insn(JEQ_K, 0, 0, 0x8000_0000)), 204);
        assert_eq!(measure(insn(0x4d, 0, 0, 0x8000_0000)), 105);
        assert_eq!(measure(stmt(0x3c, 0)), 501);
        assert_eq!(measure(stmt(0x34, 3)), 105);
        assert_eq!(measure(stmt(0x02, 0)), 105);
        // 100 jumps over the next instruction (the last one to it) and two returns.
        let jumps = |code: u16, jt: u8, k: u32| {
            let mut insns: Vec<_> = (0..100)
                .map(|i| {
                    let far = u8::from(i < 99);
                    insn(code, jt * far, far, k)
                })
                .collect();
            insns.extend([ret(RET_ALLOW), ret(RET_ALLOW)]);
            Program::new(&insns).expect("valid").converted_len
        };
        assert_eq!(jumps(JEQ_K, 0, 5), 107);
        assert_eq!(jumps(0x45, 0, 5), 206);
        assert_eq!(jumps(0x25, 1, 5), 206);
        assert_eq!(jumps(0x35, 0, 0x9000_0000), 207);
    }

    #[test]
    fn tsync_reaches_threads_that_can_follow() {
        let (me, other, strict) = (handle(1), handle(2), handle(3));
        other.no_new_privs.store(false, Ordering::SeqCst);
        me.no_new_privs.store(true, Ordering::SeqCst);
        let threads = [me.clone(), other.clone()];
        let ok = install_among(&threads, &me, match_nr(39, RET_ERRNO | 3), FLAG_TSYNC);
        assert_eq!(ok, Ok(0));
        assert_eq!(other.seccomp.check(|| call(39)), Some(Action::Errno(3)));
        assert!(other.no_new_privs());
        // The other thread's chain is an ancestor of ours: it can follow again.
        let again = install_among(&threads, &me, match_nr(40, RET_ERRNO | 4), FLAG_TSYNC);
        assert_eq!(again, Ok(0));
        assert_eq!(other.seccomp.filter_count(), 2);
        // A filter of its own makes it diverge: its tid, or ESRCH; nothing changes.
        install_among(&threads, &other, match_nr(41, RET_ERRNO | 5), 0).expect("own");
        let diverged = install_among(&threads, &me, match_nr(42, RET_KILL_PROCESS), FLAG_TSYNC);
        assert_eq!(diverged, Ok(2));
        let esrch = FLAG_TSYNC | FLAG_TSYNC_ESRCH;
        let diverged = install_among(&threads, &me, match_nr(42, RET_KILL_PROCESS), esrch);
        assert_eq!(diverged, Err(SeccompError::CannotSync));
        assert_eq!(me.seccomp.filter_count(), 2);
        // A thread in strict mode never can.
        strict.seccomp.enter_strict().expect("strict");
        let threads = [me.clone(), strict.clone()];
        let stuck = install_among(&threads, &me, match_nr(42, RET_KILL_PROCESS), FLAG_TSYNC);
        assert_eq!(stuck, Ok(3));
    }
}
