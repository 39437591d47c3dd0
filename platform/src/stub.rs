//! The stub image: a one-page static ELF that a stub process `execveat`s.
//!
//! The page holds the ELF headers, a few instructions and the stub's seccomp program. The
//! sentry never lets the stub run on its own: the tracer takes over at the exec stop and
//! only ever points the stub at [`GADGET`] (a `syscall` followed by `int3`) to inject a host
//! syscall, or at guest code under `PTRACE_SYSEMU`. Anything else ends in `int3` or `ud2`,
//! which kills an untraced stub, so the stub fails closed.
//!
//! The page sits at [`STUB_BASE`], above every guest address ([`GUEST_TOP`] equals it) and
//! below the range where the host kernel may randomise the stub's own initial stack, so the
//! `execveat` can never collide with it.

use crate::error::PlatformError;
use crate::seccomp;
use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;

/// Address of the stub's code page in every stub process.
pub const STUB_BASE: u64 = 0x7ffa_f000_0000;
/// First address a guest may not map: guest memory is `[0, GUEST_TOP)`.
pub const GUEST_TOP: u64 = STUB_BASE;
/// Size of the stub's mapping.
pub const STUB_SIZE: u64 = 0x1000;

const EHDR_SIZE: usize = 64;
const PHDR_SIZE: usize = 56;
const CODE_OFFSET: usize = EHDR_SIZE + 2 * PHDR_SIZE;

/// The stub's instructions, at `CODE_OFFSET` in the page.
const CODE: [u8; 31] = [
    0xcc, // +0 _start: int3. Never reached while traced; kills an untraced stub.
    0x0f, 0x05, // +1 GADGET: syscall. Injected host syscalls execute here.
    0xcc, // +3 int3: the tracer reads the result at this trap.
    0x0f, 0x0b, // +4 ud2: a stub resumed past the trap by mistake dies.
    0x0f, 0x05, // +6 CLONE_GADGET: syscall (an injected thread clone).
    0x48, 0x85, 0xc0, // +8 test rax, rax
    0x74, 0x03, // +11 jz PARK: the new thread parks; the caller traps below.
    0xcc, // +13 int3: the caller's trap, with the new thread's tid in rax.
    0x0f, 0x0b, // +14 ud2
    0xb8, 0x22, 0x00, 0x00, 0x00, // +16 PARK: mov eax, 34 (pause)
    0x0f, 0x05, // +21 syscall: wait here until a tracer seizes this thread.
    0xeb, 0xf7, // +23 jmp PARK
    0xcc, 0xcc, 0xcc, 0xcc, 0xcc, 0xcc, // +25 padding (int3)
];

/// Entry point of the stub image.
const ENTRY: u64 = STUB_BASE + CODE_OFFSET as u64;
/// Address of the `syscall` instruction used for injection.
pub const GADGET: u64 = STUB_BASE + CODE_OFFSET as u64 + 1;
/// The instruction pointer the host kernel reports for a syscall made at [`GADGET`]
/// (the address after the 2-byte `syscall`).
pub const GADGET_RETURN: u64 = GADGET + 2;
/// Address of the `syscall` used to inject a thread `clone`.
pub const CLONE_GADGET: u64 = STUB_BASE + CODE_OFFSET as u64 + 6;
/// The reported instruction pointer of a syscall made at [`CLONE_GADGET`].
pub const CLONE_RETURN: u64 = CLONE_GADGET + 2;
/// The reported instruction pointer of the parked new thread's `pause`.
pub const PARK_RETURN: u64 = STUB_BASE + CODE_OFFSET as u64 + 23;

/// Offset of the `sock_fprog` (followed by its instructions) in the page.
const FPROG_OFFSET: usize = 0xd8;
/// Address of the `sock_fprog` in a stub, for the injected `seccomp()`.
pub const FPROG_ADDR: u64 = STUB_BASE + FPROG_OFFSET as u64;

/// Builds the stub image bytes.
fn build_image() -> Vec<u8> {
    let filter = seccomp::stub_filter(GADGET_RETURN, CLONE_RETURN, PARK_RETURN);
    let filter_offset = FPROG_OFFSET + 16;
    let size = filter_offset + filter.len() * 8;
    assert!(size <= STUB_SIZE as usize && CODE_OFFSET + CODE.len() <= FPROG_OFFSET);

    let mut img = Vec::with_capacity(size);
    // ELF header.
    img.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0]);
    img.extend_from_slice(&[0; 8]);
    push16(&mut img, 2); // e_type: ET_EXEC
    push16(&mut img, 62); // e_machine: EM_X86_64
    push32(&mut img, 1); // e_version
    push64(&mut img, ENTRY);
    push64(&mut img, EHDR_SIZE as u64); // e_phoff
    push64(&mut img, 0); // e_shoff
    push32(&mut img, 0); // e_flags
    push16(&mut img, EHDR_SIZE as u16);
    push16(&mut img, PHDR_SIZE as u16);
    push16(&mut img, 2); // e_phnum
    push16(&mut img, 64); // e_shentsize
    push16(&mut img, 0); // e_shnum
    push16(&mut img, 0); // e_shstrndx
    // PT_LOAD: the whole page, read + execute.
    push32(&mut img, 1);
    push32(&mut img, 5);
    push64(&mut img, 0);
    push64(&mut img, STUB_BASE);
    push64(&mut img, STUB_BASE);
    push64(&mut img, size as u64);
    push64(&mut img, size as u64);
    push64(&mut img, 0x1000);
    // PT_GNU_STACK, read + write: keeps READ_IMPLIES_EXEC off, so the injected mmaps get
    // exactly the protections asked for.
    push32(&mut img, 0x6474_e551);
    push32(&mut img, 6);
    img.extend_from_slice(&[0; 48]);
    debug_assert_eq!(img.len(), CODE_OFFSET);
    img.extend_from_slice(&CODE);
    img.resize(FPROG_OFFSET, 0);
    // struct sock_fprog { u16 len; u8 pad[6]; u64 filter; }
    push16(&mut img, filter.len() as u16);
    img.extend_from_slice(&[0; 6]);
    push64(&mut img, STUB_BASE + filter_offset as u64);
    for insn in &filter {
        push16(&mut img, insn.code);
        img.push(insn.jt);
        img.push(insn.jf);
        push32(&mut img, insn.k);
    }
    img
}

fn push16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn push32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn push64(v: &mut Vec<u8>, x: u64) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// The sealed memfd holding the stub image, created once per sentry.
pub(crate) fn image_fd() -> Result<BorrowedFd<'static>, PlatformError> {
    static IMAGE: OnceLock<OwnedFd> = OnceLock::new();
    if let Some(fd) = IMAGE.get() {
        return Ok(fd.as_fd());
    }
    let fd = create_image_fd()?;
    Ok(IMAGE.get_or_init(|| fd).as_fd())
}

fn create_image_fd() -> Result<OwnedFd, PlatformError> {
    let name = c"sentry-stub";
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING | libc::MFD_EXEC;
    // SAFETY: memfd_create takes a NUL-terminated name and flags; it touches no memory of
    // ours beyond reading the name.
    let mut raw = unsafe { libc::memfd_create(name.as_ptr(), flags) };
    if raw < 0 {
        // Kernels before 6.3 reject MFD_EXEC; their memfds are executable by default.
        // SAFETY: as above.
        raw = unsafe {
            libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING)
        };
    }
    if raw < 0 {
        return Err(PlatformError::host("memfd_create(stub image)"));
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut file = std::fs::File::from(fd);
    file.write_all(&build_image())
        .map_err(|e| PlatformError::Io("writing the stub image", e))?;
    let fd = OwnedFd::from(file);
    let seals = libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_ADD_SEALS(nix::fcntl::SealFlag::from_bits_truncate(seals)),
    )
    .map_err(|e| PlatformError::Errno("sealing the stub image", e))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_fits_one_page_and_gadget_is_a_syscall() {
        let img = build_image();
        assert!(img.len() <= STUB_SIZE as usize);
        let gadget = (GADGET - STUB_BASE) as usize;
        assert_eq!(&img[gadget..gadget + 3], &[0x0f, 0x05, 0xcc]);
        let clone = (CLONE_GADGET - STUB_BASE) as usize;
        assert_eq!(&img[clone..clone + 2], &[0x0f, 0x05]);
        let park_syscall = (PARK_RETURN - 2 - STUB_BASE) as usize;
        assert_eq!(&img[park_syscall..park_syscall + 2], &[0x0f, 0x05]);
        // jz PARK lands on the mov.
        let jz = clone + 5;
        assert_eq!(img[jz], 0x74);
        assert_eq!(img[jz + 2 + img[jz + 1] as usize], 0xb8);
        // jmp PARK goes back to the mov.
        let jmp = park_syscall + 2;
        assert_eq!(
            (jmp + 2) as isize + (img[jmp + 1] as i8) as isize,
            park_syscall as isize - 5
        );
        assert_eq!(&img[..4], b"\x7fELF");
    }
}
