//! Hostile executables and argument lists, given to `sentry run` as PROGRAM
//! and to a guest's `execve` (the `esc_exec` guest).
//!
//! Every file is crafted by the test from real bytes: the ELF header of
//! `rootfs/bin/busybox` with fields patched (class, byte order, machine,
//! program header table), or a tiny static executable built on that header
//! whose program headers are then made hostile (overlapping or huge
//! segments, `p_filesz > p_memsz`, a segment over the stub page, bad
//! `PT_INTERP`s), plus non-ELF files, `#!` scripts, a directory, a FIFO, a
//! file without the x bit, and argument lists over Linux's limits.
//!
//! - Guest `execve`: `esc_exec` runs natively and under the sentry on the
//!   same files (the scratch directory is bound at the same path) with the
//!   same `RLIMIT_STACK`; where Linux's answer is deterministic (an errno, or
//!   how the new program ended) the lines must be identical; where the
//!   sentry may legitimately refuse earlier than Linux (Linux fails after the
//!   point of no return and kills the process) the sentry's answer must be
//!   one of a listed set. The calling guest must survive every case.
//! - `sentry run FILE`: a file that Linux runs must give the native exit
//!   status; anything else exactly one line on stderr, nothing on stdout,
//!   status 126 (127 when a file is missing), no panic message, and no
//!   process left behind.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::stat::Mode;
use nix::unistd::mkfifo;
use tests::{
    Failures, Invocation, Outcome, Scratch, busybox, elf32_i386, guest_program, lines, run_command,
    scratch_base, sentry_command, write_file,
};

/// Where the tiny executables are loaded (the usual non-PIE base).
const BASE: u64 = 0x40_0000;
/// File offset of the code in a tiny executable.
const CODE_OFF: usize = 0x100;
/// File offset of the `PT_INTERP` string in a tiny executable.
const INTERP_OFF: usize = 0x200;
/// Size of a tiny executable's file (one page).
const PAGE: usize = 0x1000;
/// The sentry's stub page: guest addresses stay below it.
const STUB_PAGE: u64 = 0x7ffa_f000_0000;
/// `exit(42)`: mov edi, 42; mov eax, 60 (SYS_exit); syscall.
const EXIT_42: &[u8] = &[0xbf, 0x2a, 0, 0, 0, 0xb8, 0x3c, 0, 0, 0, 0x0f, 0x05];

const PT_LOAD: u32 = 1;
const PT_INTERP: u32 = 3;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// One program header.
#[derive(Clone, Copy)]
struct Phdr {
    p_type: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
    memsz: u64,
}

impl Phdr {
    fn load(offset: u64, vaddr: u64, filesz: u64, memsz: u64, flags: u32) -> Self {
        Phdr {
            p_type: PT_LOAD,
            flags,
            offset,
            vaddr,
            filesz,
            memsz,
        }
    }

    /// The one page of a tiny executable at [`BASE`], read and execute.
    fn text() -> Self {
        Phdr::load(0, BASE, PAGE as u64, PAGE as u64, PF_R | PF_X)
    }

    fn interp(len: usize) -> Self {
        Phdr {
            p_type: PT_INTERP,
            flags: PF_R,
            offset: INTERP_OFF as u64,
            vaddr: BASE + INTERP_OFF as u64,
            filesz: len as u64,
            memsz: len as u64,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(56);
        b.extend_from_slice(&self.p_type.to_le_bytes());
        b.extend_from_slice(&self.flags.to_le_bytes());
        for v in [
            self.offset,
            self.vaddr,
            self.vaddr,
            self.filesz,
            self.memsz,
            0x1000,
        ] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b
    }
}

fn put16(f: &mut [u8], at: usize, v: u16) {
    f[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put64(f: &mut [u8], at: usize, v: u64) {
    f[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// The real ELF header of busybox (x86_64, ET_EXEC, little endian).
fn busybox_header() -> Vec<u8> {
    let bytes = std::fs::read(busybox()).expect("read busybox");
    assert_eq!(&bytes[..4], b"\x7fELF", "busybox is not ELF");
    assert_eq!(bytes[4], 2, "busybox is not ELFCLASS64");
    bytes[..64].to_vec()
}

/// A tiny static executable: busybox's ELF header pointing at `phdrs`, the
/// `exit(42)` code at [`CODE_OFF`] (the entry point, at [`BASE`] +
/// `CODE_OFF`), `interp` at [`INTERP_OFF`], `size` bytes in all.
fn tiny(phdrs: &[Phdr], interp: &[u8], size: usize) -> Vec<u8> {
    let mut f = busybox_header();
    put64(&mut f, 24, BASE + CODE_OFF as u64); // e_entry
    put64(&mut f, 32, 64); // e_phoff
    put64(&mut f, 40, 0); // e_shoff
    put16(&mut f, 54, 56); // e_phentsize
    put16(&mut f, 56, phdrs.len() as u16); // e_phnum
    put16(&mut f, 60, 0); // e_shnum
    put16(&mut f, 62, 0); // e_shstrndx
    for p in phdrs {
        f.extend_from_slice(&p.bytes());
    }
    assert!(f.len() <= CODE_OFF, "too many program headers");
    f.resize(CODE_OFF, 0);
    f.extend_from_slice(EXIT_42);
    f.resize(INTERP_OFF, 0);
    f.extend_from_slice(interp);
    f.resize(size.max(f.len()), 0);
    f
}

/// What a case's guest `execve` must give under the sentry.
enum Expect {
    /// Exactly the native line (Linux's answer is deterministic).
    Native,
    /// Linux fails after the point of no return (or its answer depends on
    /// privileges and kernel configuration); the sentry may refuse earlier:
    /// one of these results (the text after `NAME: `).
    OneOf(&'static [&'static str]),
}

/// One hostile file (or argument list) and what must happen to it.
struct Case {
    /// The argument given to `esc_exec` (a path, maybe with an `@` prefix).
    arg: String,
    /// The guest's `execve` result.
    expect: Expect,
    /// `sentry run` status when Linux does not run the file (126 or 127);
    /// `None` when Linux runs it (the native status is expected then) or
    /// when the case cannot be given to `sentry run` (argument lists).
    cli_refusal: Option<i32>,
}

/// Writes `bytes` to `dir/name` with `mode`.
fn file(dir: &Path, name: &str, bytes: &[u8], mode: u32) -> PathBuf {
    let path = dir.join(name);
    write_file(&path, bytes);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    path
}

/// Builds every hostile file in `dir` and returns the cases.
fn build_cases(dir: &Path) -> Vec<Case> {
    let header = busybox_header();
    let mut cases = Vec::new();
    let mut add = |path: &Path, expect: Expect, cli: Option<i32>| {
        cases.push(Case {
            arg: path.display().to_string(),
            expect,
            cli_refusal: cli,
        })
    };

    // Not ELF at all.
    add(
        &file(dir, "text", b"just some text\n", 0o755),
        Expect::Native,
        Some(126),
    );
    add(&file(dir, "empty", b"", 0o755), Expect::Native, Some(126));
    add(
        &file(dir, "garbage", &[0xff; 512], 0o755),
        Expect::Native,
        Some(126),
    );
    let mut not_exec = tiny(&[Phdr::text()], b"", PAGE);
    not_exec.truncate(PAGE);
    add(
        &file(dir, "no-x-bit", &not_exec, 0o644),
        Expect::Native,
        Some(126),
    );
    let sub = dir.join("a-directory");
    std::fs::create_dir_all(&sub).expect("mkdir");
    add(&sub, Expect::Native, Some(126));
    let fifo = dir.join("a-fifo");
    mkfifo(&fifo, Mode::from_bits_truncate(0o755)).expect("mkfifo");
    add(&fifo, Expect::Native, Some(126));
    add(Path::new("/dev/null"), Expect::Native, Some(126));
    add(&dir.join("missing"), Expect::Native, Some(127));
    // ENOTDIR: the program does not exist (dash and busybox sh say 127 too).
    add(&dir.join("no-x-bit/child"), Expect::Native, Some(127));

    // The tiny executable (on busybox's real header), with header fields patched.
    let ok = tiny(&[Phdr::text()], b"", PAGE);
    let patched = |at: usize, bytes: &[u8]| {
        let mut f = ok.clone();
        f[at..at + bytes.len()].copy_from_slice(bytes);
        f
    };
    add(&file(dir, "tiny", &ok, 0o755), Expect::Native, None);
    // A real i386 executable runs natively (IA32 emulation); the sentry has no
    // 32-bit ABI and must refuse it.
    add(
        &file(dir, "i386", &elf32_i386(42), 0o755),
        Expect::OneOf(&["ENOEXEC"]),
        Some(126),
    );
    // ELFCLASS32 with EM_X86_64 is x32, which Linux may try and crash on.
    add(
        &file(dir, "elfclass32", &patched(4, &[1]), 0o755),
        Expect::OneOf(&["ENOEXEC", "ran, signal SEGV"]),
        Some(126),
    );
    // Linux ignores EI_DATA and runs it; refusing a big-endian x86_64 header
    // is stricter than Linux and accepted.
    add(
        &file(dir, "big-endian", &patched(5, &[2]), 0o755),
        Expect::OneOf(&["ENOEXEC", "ran, exit 42"]),
        Some(126),
    );
    add(
        &file(dir, "aarch64", &patched(18, &183u16.to_le_bytes()), 0o755),
        Expect::Native,
        Some(126),
    );
    add(
        &file(dir, "et-rel", &patched(16, &1u16.to_le_bytes()), 0o755),
        Expect::Native,
        Some(126),
    );
    add(
        &file(dir, "et-core", &patched(16, &4u16.to_le_bytes()), 0o755),
        Expect::Native,
        Some(126),
    );
    add(
        &file(dir, "truncated-header", &header[..40], 0o755),
        Expect::Native,
        Some(126),
    );
    add(
        &file(dir, "magic-only", b"\x7fELF", 0o755),
        Expect::Native,
        Some(126),
    );

    // The program header table.
    add(
        &file(dir, "phnum-zero", &patched(56, &[0, 0]), 0o755),
        Expect::Native,
        Some(126),
    );
    let mut past_eof = ok.clone();
    put64(&mut past_eof, 32, 0x10_0000); // e_phoff far past the end
    add(
        &file(dir, "phdrs-past-eof", &past_eof, 0o755),
        Expect::Native,
        Some(126),
    );
    let mut phoff_wrap = ok.clone();
    put64(&mut phoff_wrap, 32, u64::MAX - 16);
    add(
        &file(dir, "phoff-wraps", &phoff_wrap, 0o755),
        Expect::Native,
        Some(126),
    );
    let mut phnum_huge = ok.clone();
    put16(&mut phnum_huge, 56, 0xffff);
    add(
        &file(dir, "phnum-huge", &phnum_huge, 0o755),
        Expect::Native,
        Some(126),
    );
    let mut phentsize = ok.clone();
    put16(&mut phentsize, 54, 32);
    add(
        &file(dir, "phentsize-32", &phentsize, 0o755),
        Expect::Native,
        Some(126),
    );

    // Segments.
    add(
        &file(
            dir,
            "overlap-same",
            &tiny(&[Phdr::text(), Phdr::text()], b"", PAGE),
            0o755,
        ),
        Expect::Native,
        None,
    );
    let rw_over_text = Phdr::load(0x800, BASE + 0x800, 0x800, 0x1000, PF_R | PF_W);
    add(
        &file(
            dir,
            "overlap-rw-over-text",
            &tiny(&[Phdr::text(), rw_over_text], b"", PAGE),
            0o755,
        ),
        Expect::Native,
        None,
    );
    let huge = Phdr::load(0, BASE, PAGE as u64, 1 << 46, PF_R | PF_X | PF_W);
    add(
        &file(dir, "memsz-2pow46", &tiny(&[huge], b"", PAGE), 0o755),
        Expect::OneOf(&[
            "ENOMEM",
            "ENOEXEC",
            "EINVAL",
            "ran, signal SEGV",
            "ran, signal KILL",
        ]),
        Some(126),
    );
    let filesz_gt = Phdr::load(0, BASE, PAGE as u64, 0x800, PF_R | PF_X);
    add(
        &file(
            dir,
            "filesz-gt-memsz",
            &tiny(&[filesz_gt], b"", PAGE),
            0o755,
        ),
        Expect::OneOf(&["ENOEXEC", "EINVAL", "ran, signal SEGV"]),
        Some(126),
    );
    let filesz_past_eof = Phdr::load(0, BASE, 0x10_0000, 0x10_0000, PF_R | PF_X);
    add(
        &file(
            dir,
            "filesz-past-eof",
            &tiny(&[filesz_past_eof], b"", PAGE),
            0o755,
        ),
        Expect::OneOf(&[
            "ENOEXEC",
            "EINVAL",
            "EIO",
            "ran, exit 42",
            "ran, signal SEGV",
            "ran, signal BUS",
        ]),
        Some(126),
    );
    let mut no_entry = tiny(&[Phdr::text()], b"", PAGE);
    put64(&mut no_entry, 24, 0x10); // e_entry outside every segment
    add(
        &file(dir, "entry-unmapped", &no_entry, 0o755),
        Expect::Native,
        None,
    );
    let stack_only = Phdr {
        p_type: PT_GNU_STACK,
        flags: PF_R | PF_W,
        offset: 0,
        vaddr: 0,
        filesz: 0,
        memsz: 0,
    };
    add(
        &file(dir, "no-pt-load", &tiny(&[stack_only], b"", PAGE), 0o755),
        Expect::OneOf(&["ENOEXEC", "ran, signal SEGV"]),
        Some(126),
    );
    // Over the stub page: Linux runs it (the address is an ordinary one on the
    // host); under the sentry it must never replace the stub's code.
    let mut at_stub = tiny(
        &[Phdr::load(
            0,
            STUB_PAGE,
            PAGE as u64,
            PAGE as u64,
            PF_R | PF_X,
        )],
        b"",
        PAGE,
    );
    put64(&mut at_stub, 24, STUB_PAGE + CODE_OFF as u64);
    add(
        &file(dir, "load-at-stub", &at_stub, 0o755),
        Expect::OneOf(&[
            "ENOMEM",
            "ENOEXEC",
            "EINVAL",
            "ran, signal SEGV",
            "ran, signal KILL",
        ]),
        Some(126),
    );
    let mut across_stub = tiny(
        &[Phdr::load(
            0,
            STUB_PAGE - PAGE as u64,
            PAGE as u64,
            3 * PAGE as u64,
            PF_R | PF_W | PF_X,
        )],
        b"",
        PAGE,
    );
    put64(
        &mut across_stub,
        24,
        STUB_PAGE - PAGE as u64 + CODE_OFF as u64,
    );
    add(
        &file(dir, "load-across-stub", &across_stub, 0o755),
        Expect::OneOf(&[
            "ENOMEM",
            "ENOEXEC",
            "EINVAL",
            "ran, signal SEGV",
            "ran, signal KILL",
        ]),
        Some(126),
    );
    let kernel = Phdr::load(
        0,
        0xffff_8000_0000_0000,
        PAGE as u64,
        PAGE as u64,
        PF_R | PF_X,
    );
    let mut in_kernel = tiny(&[kernel], b"", PAGE);
    put64(&mut in_kernel, 24, 0xffff_8000_0000_0000 + CODE_OFF as u64);
    add(
        &file(dir, "load-in-kernel-half", &in_kernel, 0o755),
        Expect::OneOf(&[
            "ENOMEM",
            "ENOEXEC",
            "EINVAL",
            "ran, signal SEGV",
            "ran, signal KILL",
        ]),
        Some(126),
    );

    // PT_INTERP.
    let text_file = file(dir, "interp-is-text", b"not an interpreter\n", 0o755);
    let with_interp = |name: &str, interp: &[u8], len: usize, size: usize| {
        file(
            dir,
            name,
            &tiny(&[Phdr::interp(len), Phdr::text()], interp, size),
            0o755,
        )
    };
    let missing = b"/nonexistent/ld-linux-x86-64.so.2\0";
    add(
        &with_interp("interp-missing", missing, missing.len(), PAGE),
        Expect::Native,
        Some(127),
    );
    let mut long = vec![b'a'; 5000];
    long[0] = b'/';
    long[4999] = 0;
    add(
        &with_interp("interp-too-long", &long, long.len(), 2 * PAGE),
        Expect::Native,
        Some(126),
    );
    let unterminated = b"/lib64/ld-linux-x86-64.so.2";
    add(
        &with_interp(
            "interp-unterminated",
            unterminated,
            unterminated.len(),
            PAGE,
        ),
        Expect::Native,
        Some(126),
    );
    add(
        &with_interp("interp-empty", b"\0", 1, PAGE),
        Expect::Native,
        Some(126),
    );
    let mut text_interp = text_file.display().to_string().into_bytes();
    text_interp.push(0);
    add(
        &with_interp("interp-not-elf", &text_interp, text_interp.len(), PAGE),
        Expect::Native,
        Some(126),
    );
    let long_text = file(
        dir,
        "interp-is-long-text",
        "not an interpreter\n".repeat(10).as_bytes(),
        0o755,
    );
    let mut long_text_interp = long_text.display().to_string().into_bytes();
    long_text_interp.push(0);
    add(
        &with_interp(
            "interp-not-elf-long",
            &long_text_interp,
            long_text_interp.len(),
            PAGE,
        ),
        Expect::Native,
        Some(126),
    );
    let mut dir_interp = dir.display().to_string().into_bytes();
    dir_interp.push(0);
    add(
        &with_interp("interp-directory", &dir_interp, dir_interp.len(), PAGE),
        Expect::Native,
        Some(126),
    );
    let mut past = tiny(&[Phdr::interp(missing.len()), Phdr::text()], missing, PAGE);
    put64(&mut past, 64 + 8, 0x10_0000); // PT_INTERP's p_offset past the end
    add(
        &file(dir, "interp-past-eof", &past, 0o755),
        Expect::Native,
        Some(126),
    );

    // `#!` scripts.
    add(
        &file(
            dir,
            "shebang-missing",
            b"#!/nonexistent/interpreter\n",
            0o755,
        ),
        Expect::Native,
        Some(127),
    );
    let shebang_dir = format!("#!{}\n", dir.display());
    add(
        &file(dir, "shebang-directory", shebang_dir.as_bytes(), 0o755),
        Expect::Native,
        Some(126),
    );
    let long_line = format!("#!/{}\n", "x".repeat(400));
    add(
        &file(dir, "shebang-too-long", long_line.as_bytes(), 0o755),
        Expect::Native,
        Some(126),
    );
    let looping = dir.join("shebang-loop");
    let script = format!("#!{}\n", looping.display());
    add(
        &file(dir, "shebang-loop", script.as_bytes(), 0o755),
        Expect::Native,
        Some(126),
    );
    add(
        &file(dir, "shebang-empty", b"#!\n", 0o755),
        Expect::Native,
        Some(126),
    );

    // Argument lists, for execve only: `sentry run` cannot even be started
    // with them by the host (see `sentry_run_argument_list_limits`).
    let t = busybox().display().to_string();
    for (arg, expect) in [
        (format!("@args=1048576:{t}"), Expect::Native),
        (format!("@args=3145728:{t}"), Expect::Native),
        (format!("@arg=131071:{t}"), Expect::Native),
        (format!("@arg=131072:{t}"), Expect::Native),
        (format!("@arg=200000:{t}"), Expect::Native),
        (format!("@env=200000:{t}"), Expect::Native),
    ] {
        cases.push(Case {
            arg,
            expect,
            cli_refusal: None,
        });
    }
    cases
}

/// `cmd` with `RLIMIT_STACK` set to `bytes` (soft and hard) in the child:
/// Linux's limit on exec arguments is a quarter of it.
fn with_stack_limit(mut cmd: std::process::Command, bytes: u64) -> std::process::Command {
    // SAFETY: the closure runs in the forked child before exec and only calls
    // setrlimit(2), which is async-signal-safe; it touches no lock or allocator.
    unsafe {
        cmd.pre_exec(move || {
            setrlimit(Resource::RLIMIT_STACK, bytes, bytes).map_err(std::io::Error::from)
        });
    }
    cmd
}

/// `sentry run` arguments as `run_sentry_with` makes them (cleared
/// environment, the scratch base bound read-write at the same path) for
/// `program args...`.
fn sentry_args(inv: &Invocation) -> Vec<OsString> {
    let tmp = scratch_base();
    let mut run_args: Vec<OsString> = vec![
        "--clear-env".into(),
        "--bind".into(),
        format!("{}:{}:rw", tmp.display(), tmp.display()).into(),
    ];
    for (k, v) in &inv.env {
        run_args.push("--env".into());
        run_args.push(format!("{k}={v}").into());
    }
    run_args.push(inv.program.clone());
    run_args.extend(inv.args.iter().cloned());
    run_args
}

/// Runs `inv` natively with `RLIMIT_STACK` = `stack`.
fn native_with_stack(inv: &Invocation, stack: u64) -> Outcome {
    let mut cmd = std::process::Command::new(&inv.program);
    cmd.args(&inv.args)
        .env_clear()
        .envs(inv.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&inv.cwd);
    run_command(with_stack_limit(cmd, stack), &inv.stdin, inv.timeout, false)
}

/// Runs `inv` under `sentry run` with `RLIMIT_STACK` = `stack` for the sentry
/// (which its guest inherits).
fn sentry_with_stack(inv: &Invocation, stack: u64) -> Outcome {
    let cmd = sentry_command(inv, &sentry_args(inv));
    run_command(with_stack_limit(cmd, stack), &inv.stdin, inv.timeout, true)
}

/// `NAME: RESULT` lines of an `esc_exec` run, by NAME.
fn results(out: &Outcome) -> Vec<(String, String)> {
    lines(&out.stdout)
        .into_iter()
        .filter_map(|l| {
            let (name, result) = l.split_once(": ")?;
            Some((name.to_string(), result.to_string()))
        })
        .collect()
}

fn panicked(out: &Outcome) -> bool {
    let err = out.stderr_str();
    err.contains("internal error") || err.contains("panicked") || err.contains("RUST_BACKTRACE")
}

/// The default 8 MiB stack limit: exec arguments may take 2 MiB.
const STACK_8M: u64 = 8 << 20;

#[test]
fn guest_execve_of_hostile_files() {
    let scratch = Scratch::new("hostile-exec");
    let cases = build_cases(scratch.path());
    let inv = Invocation::new(guest_program("esc_exec"))
        .args(&cases.iter().map(|c| c.arg.as_str()).collect::<Vec<_>>());
    let native = native_with_stack(&inv, STACK_8M);
    let sentry = sentry_with_stack(&inv, STACK_8M);
    let want_survived = format!("survived {}", cases.len());
    assert!(
        native.status == 0 && lines(&native.stdout).last() == Some(&want_survived),
        "native esc_exec run is broken (status {}):\n{}\n{}",
        native.status,
        native.stdout_str(),
        native.stderr_str()
    );
    let native_results = results(&native);
    let sentry_results = results(&sentry);

    let mut failures = Failures::new();
    failures.check(
        if sentry.status == 0
            && lines(&sentry.stdout).last() == Some(&want_survived)
            && sentry.notes.is_empty()
            && !panicked(&sentry)
        {
            Ok(())
        } else {
            Err(format!(
                "--- the calling guest must survive every case: status {}, last line {:?}, notes {:?}, stderr {:?}",
                sentry.status,
                lines(&sentry.stdout).last(),
                sentry.notes,
                sentry.stderr_str()
            ))
        },
    );
    for (i, case) in cases.iter().enumerate() {
        let (name, want_native) = &native_results[i];
        let got = sentry_results
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_str());
        let ok = match &case.expect {
            Expect::Native => got == Some(want_native.as_str()),
            Expect::OneOf(allowed) => got.is_some_and(|g| allowed.contains(&g)),
        };
        failures.check(if ok {
            Ok(())
        } else {
            Err(format!(
                "--- execve {name}: sentry gave {got:?}; native Linux gave {want_native:?}{}",
                match &case.expect {
                    Expect::Native => String::new(),
                    Expect::OneOf(allowed) => format!(" (accepted from the sentry: {allowed:?})"),
                }
            ))
        });
    }
    println!("native:\n{}", native.stdout_str());
    println!("sentry:\n{}", sentry.stdout_str());
    failures.finish("guest execve of hostile files");
}

#[test]
fn sentry_run_refuses_hostile_files() {
    let scratch = Scratch::new("hostile-run");
    let cases = build_cases(scratch.path());
    let mut failures = Failures::new();
    for case in cases.iter().filter(|c| !c.arg.starts_with('@')) {
        let inv = Invocation::new(&case.arg);
        let out = sentry_with_stack(&inv, STACK_8M);
        let stderr = out.stderr_str();
        let one_line = !stderr.trim().is_empty() && !stderr.trim_end_matches('\n').contains('\n');
        let result = match case.cli_refusal {
            Some(status) => {
                if out.status == status
                    && out.stdout.is_empty()
                    && one_line
                    && !panicked(&out)
                    && out.notes.is_empty()
                {
                    Ok(())
                } else {
                    Err(format!(
                        "want status {status}, empty stdout, one stderr line"
                    ))
                }
            }
            None => {
                let native = native_with_stack(&inv, STACK_8M);
                if out.status == native.status && !panicked(&out) && out.notes.is_empty() {
                    Ok(())
                } else {
                    Err(format!("want native status {}", native.status))
                }
            }
        };
        failures.check(result.map_err(|want| {
            format!(
                "--- sentry run {}: {want}, no panic, nothing left running;\n  got status {}, stdout {:?}, stderr {:?}, notes {:?}",
                case.arg,
                out.status,
                out.stdout_str(),
                stderr,
                out.notes
            )
        }));
    }
    failures.finish("sentry run of hostile files");
}

/// Argument lists over Linux's limits given to `sentry run` itself.
///
/// One argument over 128 KiB (MAX_ARG_STRLEN) cannot be given: the host
/// refuses to start the sentry with it (the guest `execve` cases cover it).
/// 3 MiB of arguments can reach the sentry only if its own `RLIMIT_STACK`
/// allows them (Linux allows a quarter of it, at most 6 MiB), so the sentry
/// runs with a 64 MiB limit here; the sentry's exec limit is a fixed 2 MiB
/// (like gVisor's `ExecMaxTotalSize`), so the guest cannot be started: one
/// line, 126. A 1 MiB list is the control: it must run.
#[test]
fn sentry_run_argument_list_limits() {
    let mut failures = Failures::new();
    let arg = "a".repeat(1023);
    for (total, want) in [(1usize << 20, 0), (3 << 20, 126)] {
        let mut inv = Invocation::busybox(&["sh", "-c", "echo $#", "sh"]);
        for _ in 0..total / 1024 {
            inv = inv.arg(&arg);
        }
        let out = sentry_with_stack(&inv, 64 << 20);
        let stderr = out.stderr_str();
        let one_line = !stderr.trim().is_empty() && !stderr.trim_end_matches('\n').contains('\n');
        let ok = out.status == want
            && out.notes.is_empty()
            && !panicked(&out)
            && if want == 0 {
                out.stdout_str() == format!("{}\n", total / 1024)
            } else {
                out.stdout.is_empty() && one_line && stderr.contains("Argument list too long")
            };
        failures.check(if ok {
            Ok(())
        } else {
            Err(format!(
                "--- sentry run with {} KiB of arguments: want status {want}{}; got status {}, stdout {:?}, stderr {:?}, notes {:?}",
                total / 1024,
                if want == 0 { " and the count" } else { ", one line `Argument list too long`" },
                out.status,
                out.stdout_str(),
                stderr,
                out.notes
            ))
        });
    }
    failures.finish("argument list limits");
}
