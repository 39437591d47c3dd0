//! The initial process stack, laid out exactly as Linux's `execve` leaves it on x86_64.
//!
//! From the top of the stack down (fs/exec.c and fs/binfmt_elf.c `create_elf_tables`):
//! an 8-byte zero word; the `AT_EXECFN` string; the environment strings, then the argument
//! strings (so in ascending addresses: argv[0] … argv[n-1], envp[0] … envp[m-1], execfn);
//! a random gap of up to 8 KiB and alignment to 16; the `AT_PLATFORM` string; 16
//! `AT_RANDOM` bytes; then, 16-byte aligned, `argc`, the argv pointers and NULL, the envp
//! pointers and NULL, and the auxiliary vector ending in `AT_NULL`.

/// Auxiliary vector keys the loader uses.
pub mod at {
    /// End of vector.
    pub const NULL: u64 = 0;
    /// Program headers address.
    pub const PHDR: u64 = 3;
    /// Size of one program header.
    pub const PHENT: u64 = 4;
    /// Number of program headers.
    pub const PHNUM: u64 = 5;
    /// Page size.
    pub const PAGESZ: u64 = 6;
    /// Interpreter base address.
    pub const BASE: u64 = 7;
    /// Flags (0).
    pub const FLAGS: u64 = 8;
    /// Program entry point.
    pub const ENTRY: u64 = 9;
    /// Real uid.
    pub const UID: u64 = 11;
    /// Effective uid.
    pub const EUID: u64 = 12;
    /// Real gid.
    pub const GID: u64 = 13;
    /// Effective gid.
    pub const EGID: u64 = 14;
    /// Platform string pointer.
    pub const PLATFORM: u64 = 15;
    /// CPU capabilities.
    pub const HWCAP: u64 = 16;
    /// Clock ticks per second.
    pub const CLKTCK: u64 = 17;
    /// Secure mode (setuid).
    pub const SECURE: u64 = 23;
    /// Pointer to 16 random bytes.
    pub const RANDOM: u64 = 25;
    /// More CPU capabilities.
    pub const HWCAP2: u64 = 26;
    /// rseq feature size.
    pub const RSEQ_FEATURE_SIZE: u64 = 27;
    /// rseq alignment.
    pub const RSEQ_ALIGN: u64 = 28;
    /// Filename passed to execve.
    pub const EXECFN: u64 = 31;
    /// vDSO address.
    pub const SYSINFO_EHDR: u64 = 33;
    /// Minimal signal stack size.
    pub const MINSIGSTKSZ: u64 = 51;
}

/// A value of the auxiliary vector, possibly pointing into the stack being built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuxVal {
    /// A plain value.
    Val(u64),
    /// Address of the `AT_EXECFN` string.
    ExecFn,
    /// Address of the platform string.
    Platform,
    /// Address of the random bytes.
    Random,
}

/// Everything the initial stack holds.
pub struct StackSpec<'a> {
    /// Arguments.
    pub argv: &'a [Vec<u8>],
    /// Environment.
    pub envp: &'a [Vec<u8>],
    /// The filename given to execve.
    pub execfn: &'a [u8],
    /// `AT_PLATFORM` string.
    pub platform: &'a [u8],
    /// `AT_RANDOM` bytes.
    pub random: [u8; 16],
    /// Bytes subtracted before alignment (Linux: random below 8 KiB with ASLR).
    pub random_gap: u64,
    /// The auxiliary vector without the final `AT_NULL`.
    pub auxv: &'a [(u64, AuxVal)],
}

/// The built stack: write `bytes` at `sp`; they end at the stack top.
#[derive(Debug)]
pub struct BuiltStack {
    /// Initial stack pointer (address of `argc`).
    pub sp: u64,
    /// Contents of `[sp, top)`.
    pub bytes: Vec<u8>,
}

/// Lays out the stack below `top` (exclusive).
pub fn build(top: u64, spec: &StackSpec<'_>) -> BuiltStack {
    // Strings, placed from the top down; `strings` collects them in ascending order.
    let mut p = top - 8;
    let execfn_addr = {
        p -= spec.execfn.len() as u64 + 1;
        p
    };
    let strings_len: u64 = spec
        .argv
        .iter()
        .chain(spec.envp)
        .map(|s| s.len() as u64 + 1)
        .sum();
    p -= strings_len;
    let strings_start = p;
    let mut ptrs = Vec::with_capacity(spec.argv.len() + spec.envp.len());
    let mut q = strings_start;
    for s in spec.argv.iter().chain(spec.envp) {
        ptrs.push(q);
        q += s.len() as u64 + 1;
    }
    p = (p - spec.random_gap) & !0xf;
    p -= spec.platform.len() as u64 + 1;
    let platform_addr = p;
    p -= 16;
    let random_addr = p;

    let aux_words = (spec.auxv.len() as u64 + 1) * 2;
    let items = (spec.argv.len() as u64 + 1) + (spec.envp.len() as u64 + 1) + 1;
    let sp = (p - aux_words * 8 - items * 8) & !0xf;

    let mut bytes = vec![0u8; (top - sp) as usize];
    let mut put = |addr: u64, data: &[u8]| {
        let at = (addr - sp) as usize;
        bytes[at..at + data.len()].copy_from_slice(data);
    };
    let mut q = strings_start;
    for s in spec.argv.iter().chain(spec.envp) {
        put(q, s);
        q += s.len() as u64 + 1;
    }
    put(execfn_addr, spec.execfn);
    put(platform_addr, spec.platform);
    put(random_addr, &spec.random);

    let mut words: Vec<u64> = Vec::with_capacity(items as usize + aux_words as usize);
    words.push(spec.argv.len() as u64);
    words.extend_from_slice(&ptrs[..spec.argv.len()]);
    words.push(0);
    words.extend_from_slice(&ptrs[spec.argv.len()..]);
    words.push(0);
    for &(key, val) in spec.auxv {
        words.push(key);
        words.push(match val {
            AuxVal::Val(v) => v,
            AuxVal::ExecFn => execfn_addr,
            AuxVal::Platform => platform_addr,
            AuxVal::Random => random_addr,
        });
    }
    words.push(at::NULL);
    words.push(0);
    let table: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    put(sp, &table);
    BuiltStack { sp, bytes }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(b: &BuiltStack, addr: u64) -> u64 {
        let at = (addr - b.sp) as usize;
        u64::from_le_bytes(b.bytes[at..at + 8].try_into().unwrap())
    }

    fn cstr(b: &BuiltStack, addr: u64) -> Vec<u8> {
        let at = (addr - b.sp) as usize;
        b.bytes[at..]
            .iter()
            .take_while(|&&c| c != 0)
            .copied()
            .collect()
    }

    #[test]
    fn layout_matches_linux() {
        let top = 0x7fff_0000_0000;
        let argv = vec![b"ls".to_vec(), b"-l".to_vec()];
        let envp = vec![b"A=1".to_vec()];
        let auxv = [
            (at::PAGESZ, AuxVal::Val(4096)),
            (at::RANDOM, AuxVal::Random),
            (at::EXECFN, AuxVal::ExecFn),
            (at::PLATFORM, AuxVal::Platform),
        ];
        let spec = StackSpec {
            argv: &argv,
            envp: &envp,
            execfn: b"/bin/ls",
            platform: b"x86_64",
            random: [7; 16],
            random_gap: 0x123,
            auxv: &auxv,
        };
        let b = build(top, &spec);
        assert_eq!(b.sp % 16, 0);
        assert_eq!(b.sp + b.bytes.len() as u64, top);
        assert_eq!(word(&b, top - 8), 0, "end marker");
        assert_eq!(word(&b, b.sp), 2, "argc");
        let argv0 = word(&b, b.sp + 8);
        let argv1 = word(&b, b.sp + 16);
        assert_eq!(word(&b, b.sp + 24), 0);
        let env0 = word(&b, b.sp + 32);
        assert_eq!(word(&b, b.sp + 40), 0);
        assert_eq!(cstr(&b, argv0), b"ls");
        assert_eq!(argv1, argv0 + 3, "strings are contiguous");
        assert_eq!(env0, argv1 + 3, "env strings follow argv strings");
        assert_eq!(cstr(&b, env0), b"A=1");
        let execfn = env0 + 4;
        assert_eq!(cstr(&b, execfn), b"/bin/ls");
        assert_eq!(
            execfn + 8,
            top - 8,
            "execfn sits right below the end marker"
        );
        // auxv
        let aux = b.sp + 48;
        assert_eq!((word(&b, aux), word(&b, aux + 8)), (at::PAGESZ, 4096));
        let random = word(&b, aux + 24);
        assert_eq!(&b.bytes[(random - b.sp) as usize..][..16], &[7; 16]);
        assert_eq!(word(&b, aux + 40), execfn);
        let platform = word(&b, aux + 56);
        assert_eq!(cstr(&b, platform), b"x86_64");
        assert_eq!(
            random + 16,
            platform,
            "random bytes right below the platform string"
        );
        assert!(
            platform + 7 <= (argv0 - 0x123) & !0xf,
            "platform below the aligned gap"
        );
        assert_eq!((word(&b, aux + 64), word(&b, aux + 72)), (at::NULL, 0));
        assert!(aux + 80 <= random, "the vector ends below the random bytes");
    }
}
