//! Loading a program into a fresh address space, as Linux's `execve` does.
//!
//! [`prepare`] resolves `#!` scripts, parses and validates the ELF executable and its
//! `PT_INTERP` interpreter, and checks the argument sizes: every reason to refuse an exec
//! is found there, before anything is mapped. [`Prepared::load`] then maps the segments
//! through `mm`, places the program break and builds the initial stack ([`stack`]).
//!
//! The loader opens files only through the [`Opener`] the caller gives it, so every path it
//! follows (interpreters included) is resolved inside the guest's root by the sentry's VFS.

mod elf;
mod script;
pub mod stack;

use mm::{AddressSpace, MapRequest, MappedFile, MmError, Placement, Prot, STACK_SIZE, VmaName};
use nix::errno::Errno;
use platform::HostMapper;
use stack::{AuxVal, StackSpec, at};
use std::sync::Arc;

/// Largest single argument or environment string (Linux: MAX_ARG_STRLEN, 32 pages).
pub const MAX_ARG_STRLEN: usize = 32 * 4096;
/// Largest total size of arguments and environment (Linux: a quarter of the 8 MiB stack).
pub const MAX_ARGS_TOTAL: usize = (STACK_SIZE / 4) as usize;
/// How many `#!` interpreters may be chained (Linux: 4 rewrites plus the final binary).
const MAX_INTERP_DEPTH: usize = 5;

/// Why a program cannot be executed. [`LoadError::errno`] gives the `execve` errno.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be opened (ENOENT, EACCES, ...).
    #[error("{}", .0.desc())]
    Open(Errno),
    /// The file is not an ELF or `#!` script.
    #[error("Exec format error (not an ELF executable or script)")]
    NotExecutable,
    /// An ELF for another machine or class.
    #[error("Exec format error ({0})")]
    WrongArch(&'static str),
    /// A broken ELF.
    #[error("Exec format error ({0})")]
    Malformed(&'static str),
    /// The `PT_INTERP` interpreter is not a usable ELF.
    #[error("Accessing a corrupted shared library ({0})")]
    BadInterp(&'static str),
    /// Too many nested `#!` interpreters.
    #[error("Too many levels of symbolic links (#! interpreters nest too deeply)")]
    Loop,
    /// Arguments and environment too large.
    #[error("Argument list too long")]
    TooBig,
    /// Reading the file failed.
    #[error("I/O error: {}", .0.desc())]
    Io(Errno),
    /// Mapping failed.
    #[error("mapping the image: {0}")]
    Mm(#[from] MmError),
}

impl LoadError {
    /// The errno `execve` returns for this error.
    pub fn errno(&self) -> Errno {
        match self {
            LoadError::Open(e) | LoadError::Io(e) => *e,
            LoadError::NotExecutable | LoadError::WrongArch(_) | LoadError::Malformed(_) => {
                Errno::ENOEXEC
            }
            LoadError::BadInterp(_) => Errno::ELIBBAD,
            LoadError::Loop => Errno::ELOOP,
            LoadError::TooBig => Errno::E2BIG,
            LoadError::Mm(MmError::NoMem) => Errno::ENOMEM,
            LoadError::Mm(_) => Errno::EFAULT,
        }
    }
}

/// An executable file opened for `execve`.
pub struct ExecFile {
    /// The file's identity and contents.
    pub file: Arc<MappedFile>,
    /// Its size in bytes.
    pub size: u64,
}

/// Opens files for the loader inside the guest's root.
pub trait Opener {
    /// Opens `path` for execution: it must exist, be a regular file, and be executable
    /// (errors as `execve` reports them: ENOENT, EACCES, ...).
    fn open_exec(&self, path: &[u8]) -> Result<ExecFile, LoadError>;
}

/// A program ready to be mapped: the executable, its interpreter, the final argv.
pub struct Prepared {
    exe: elf::Elf,
    interp: Option<elf::Elf>,
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
    execfn: Vec<u8>,
}

/// Resolves `path` (following `#!` lines), validates the images and the argument sizes.
pub fn prepare(
    opener: &dyn Opener,
    path: &[u8],
    argv: Vec<Vec<u8>>,
    envp: Vec<Vec<u8>>,
) -> Result<Prepared, LoadError> {
    check_args(&argv, &envp)?;
    let execfn = path.to_vec();
    let mut argv = argv;
    let mut path = path.to_vec();
    for _ in 0..MAX_INTERP_DEPTH {
        let exe = opener.open_exec(&path)?;
        let mut head = [0u8; script::BINPRM_BUF_SIZE];
        let n = read_head(&exe, &mut head)?;
        let head = &head[..n];
        if head.starts_with(b"\x7fELF") {
            let exe = elf::parse(exe.file, exe.size)?;
            let interp = match &exe.interp {
                None => None,
                Some(ipath) => {
                    let i = opener.open_exec(ipath)?;
                    // Linux reads the interpreter's header in full (EIO when it is
                    // shorter) and refuses what is not an x86_64 ELF with ELIBBAD.
                    if i.size < elf::EHDR_SIZE {
                        return Err(LoadError::Io(Errno::EIO));
                    }
                    let ielf = elf::parse(i.file, i.size).map_err(|e| match e {
                        LoadError::Malformed(why) | LoadError::WrongArch(why) => {
                            LoadError::BadInterp(why)
                        }
                        other => other,
                    })?;
                    if ielf.interp.is_some() {
                        return Err(LoadError::BadInterp(
                            "the interpreter itself has an interpreter",
                        ));
                    }
                    Some(ielf)
                }
            };
            check_args(&argv, &envp)?;
            return Ok(Prepared {
                exe,
                interp,
                argv,
                envp,
                execfn,
            });
        }
        if let Some(sh) = script::parse_shebang(head) {
            // argv becomes: interpreter [arg] script-path argv[1..]
            let mut new_argv = vec![sh.interp.clone()];
            new_argv.extend(sh.arg);
            new_argv.push(path.clone());
            new_argv.extend(argv.into_iter().skip(1));
            argv = new_argv;
            path = sh.interp;
            continue;
        }
        return Err(LoadError::NotExecutable);
    }
    Err(LoadError::Loop)
}

fn read_head(exe: &ExecFile, buf: &mut [u8]) -> Result<usize, LoadError> {
    let mut done = 0;
    while done < buf.len() {
        match exe.file.source.read_at(&mut buf[done..], done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(LoadError::Io(e)),
        }
    }
    Ok(done)
}

fn check_args(argv: &[Vec<u8>], envp: &[Vec<u8>]) -> Result<(), LoadError> {
    let mut total = 0usize;
    for s in argv.iter().chain(envp) {
        if s.len() + 1 > MAX_ARG_STRLEN {
            return Err(LoadError::TooBig);
        }
        total += s.len() + 1 + 8;
    }
    if total > MAX_ARGS_TOTAL {
        Err(LoadError::TooBig)
    } else {
        Ok(())
    }
}

/// Per-exec values that come from the kernel rather than the file.
pub struct ExecParams {
    /// `AT_UID`, `AT_EUID`, `AT_GID`, `AT_EGID`.
    pub ids: [u32; 4],
    /// `AT_HWCAP`, `AT_HWCAP2`, `AT_MINSIGSTKSZ` as the host reports them.
    pub hwcap: u64,
    /// `AT_HWCAP2`.
    pub hwcap2: u64,
    /// `AT_MINSIGSTKSZ`.
    pub minsigstksz: u64,
    /// 16 bytes for `AT_RANDOM`.
    pub random: [u8; 16],
    /// Random gap below the strings (bytes, < 8192) and brk offset (bytes, < 32 MiB).
    pub stack_gap: u64,
    /// Random offset of the program break.
    pub brk_gap: u64,
}

/// What the new image starts with.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Initial instruction pointer (the interpreter's entry, if any).
    pub entry: u64,
    /// Initial stack pointer.
    pub sp: u64,
    /// The argv the program got (after `#!` rewriting).
    pub argv: Vec<Vec<u8>>,
    /// The environment the program got.
    pub envp: Vec<Vec<u8>>,
    /// The executable that was loaded (the interpreter for scripts).
    pub exe: Arc<MappedFile>,
}

impl Prepared {
    /// The filename given to `execve` (`AT_EXECFN`).
    pub fn execfn(&self) -> &[u8] {
        &self.execfn
    }

    /// Guest path of the executable image (after `#!` resolution).
    pub fn exe_path(&self) -> &str {
        &self.exe.file.path
    }

    /// Maps everything into the empty address space `space` and builds the stack.
    pub fn load(
        self,
        space: &AddressSpace,
        host: &mut dyn HostMapper,
        params: &ExecParams,
    ) -> Result<Loaded, LoadError> {
        let layout = space.layout();
        let (bias, end) = self
            .exe
            .map(space, host, self.exe.dynamic.then_some(layout.pie_base))?;
        let brk = mm::page_up(end).ok_or(LoadError::Malformed("image too large"))?;
        space.set_brk_start(brk + params.brk_gap);
        let (entry, base) = match &self.interp {
            Some(i) => {
                let (ibias, _) = i.map(space, host, None)?;
                (ibias + i.entry, ibias)
            }
            None => (bias + self.exe.entry, 0),
        };
        let stack_prot = if self.exe.exec_stack {
            Prot(Prot::RW.0 | Prot::EXEC.0)
        } else {
            Prot::RW
        };
        let stack_req = MapRequest {
            addr: layout.stack_top - STACK_SIZE,
            placement: Placement::Fixed,
            name: Some(VmaName::Stack),
            ..MapRequest::anon(STACK_SIZE, stack_prot)
        };
        space.mmap(host, stack_req)?;

        let auxv = [
            (at::MINSIGSTKSZ, AuxVal::Val(params.minsigstksz)),
            (at::HWCAP, AuxVal::Val(params.hwcap)),
            (at::PAGESZ, AuxVal::Val(mm::PAGE_SIZE)),
            (at::CLKTCK, AuxVal::Val(100)),
            (at::PHDR, AuxVal::Val(bias + self.exe.phdr_vaddr)),
            (at::PHENT, AuxVal::Val(self.exe.phent)),
            (at::PHNUM, AuxVal::Val(self.exe.phnum)),
            (at::BASE, AuxVal::Val(base)),
            (at::FLAGS, AuxVal::Val(0)),
            (at::ENTRY, AuxVal::Val(bias + self.exe.entry)),
            (at::UID, AuxVal::Val(params.ids[0] as u64)),
            (at::EUID, AuxVal::Val(params.ids[1] as u64)),
            (at::GID, AuxVal::Val(params.ids[2] as u64)),
            (at::EGID, AuxVal::Val(params.ids[3] as u64)),
            (at::SECURE, AuxVal::Val(0)),
            (at::RANDOM, AuxVal::Random),
            (at::HWCAP2, AuxVal::Val(params.hwcap2)),
            (at::EXECFN, AuxVal::ExecFn),
            (at::PLATFORM, AuxVal::Platform),
            (at::RSEQ_FEATURE_SIZE, AuxVal::Val(28)),
            (at::RSEQ_ALIGN, AuxVal::Val(32)),
        ];
        let spec = StackSpec {
            argv: &self.argv,
            envp: &self.envp,
            execfn: &self.execfn,
            platform: b"x86_64",
            random: params.random,
            random_gap: params.stack_gap,
            auxv: &auxv,
        };
        let built = stack::build(layout.stack_top, &spec);
        space.write(built.sp, &built.bytes)?;
        Ok(Loaded {
            entry,
            sp: built.sp,
            argv: self.argv,
            envp: self.envp,
            exe: self.exe.file.clone(),
        })
    }
}
