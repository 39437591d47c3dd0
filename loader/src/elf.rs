//! Parsing, validating and mapping ELF images.
//!
//! Everything that can reject a file happens in [`parse`], before the address space is
//! touched, so a failed `execve` leaves the caller's image intact.

use crate::LoadError;
use goblin::elf::header::{self, Header};
use goblin::elf::program_header::{self, ProgramHeader};
use mm::{
    AddressSpace, Content, MapRequest, MappedFile, PAGE_SIZE, Placement, Prot, VmaName, page_down,
    page_up,
};
use platform::HostMapper;
use std::sync::Arc;

/// Longest PT_INTERP path accepted (Linux: PATH_MAX).
const MAX_INTERP: u64 = 4096;
/// Size of an ELF64 file header.
pub const EHDR_SIZE: u64 = header::header64::SIZEOF_EHDR as u64;
/// Program headers accepted at most (Linux: 64 KiB of them).
const MAX_PHDRS_BYTES: u64 = 65536;

/// A validated ELF image.
pub struct Elf {
    /// The file.
    pub file: Arc<MappedFile>,
    /// `ET_DYN` (position independent).
    pub dynamic: bool,
    /// Entry point (unrelocated).
    pub entry: u64,
    /// Loadable segments.
    pub loads: Vec<ProgramHeader>,
    /// Number and size of program headers, and their unrelocated address.
    pub phnum: u64,
    /// Size of one program header.
    pub phent: u64,
    /// Unrelocated address of the program headers, if they are in a loaded segment.
    pub phdr_vaddr: u64,
    /// The `PT_INTERP` path, if any.
    pub interp: Option<Vec<u8>>,
    /// `PT_GNU_STACK` asks for an executable stack.
    pub exec_stack: bool,
}

/// Reads `len` bytes at `off`; a short read (the range passes the end of the file) is
/// EIO, as Linux's `elf_read` reports it.
fn read_exact(file: &MappedFile, off: u64, len: u64) -> Result<Vec<u8>, LoadError> {
    let eio = LoadError::Io(nix::errno::Errno::EIO);
    if off.checked_add(len).is_none() {
        return Err(eio);
    }
    let mut buf = vec![0u8; len as usize];
    let mut done = 0;
    while done < buf.len() {
        match file.source.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => return Err(eio),
            Ok(n) => done += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(LoadError::Io(e)),
        }
    }
    Ok(buf)
}

/// Parses and validates the ELF image in `file` (whose first bytes are `head`).
pub fn parse(file: Arc<MappedFile>, size: u64) -> Result<Elf, LoadError> {
    let head = read_exact(&file, 0, EHDR_SIZE)
        .map_err(|_| LoadError::Malformed("file is shorter than an ELF header"))?;
    if head[header::EI_CLASS] != header::ELFCLASS64 {
        return Err(LoadError::WrongArch("not a 64-bit ELF"));
    }
    if head[header::EI_DATA] != header::ELFDATA2LSB {
        return Err(LoadError::WrongArch("not a little-endian ELF"));
    }
    let hdr = header::header64::Header::parse(&head)
        .map(Header::from)
        .map_err(|_| LoadError::Malformed("bad ELF header"))?;
    if hdr.e_machine != header::EM_X86_64 {
        return Err(LoadError::WrongArch("not an x86_64 ELF"));
    }
    if hdr.e_type != header::ET_EXEC && hdr.e_type != header::ET_DYN {
        return Err(LoadError::Malformed("not an executable or shared object"));
    }
    if hdr.e_phentsize as usize != program_header::program_header64::SIZEOF_PHDR {
        return Err(LoadError::Malformed("bad program header size"));
    }
    let ph_bytes = hdr.e_phnum as u64 * hdr.e_phentsize as u64;
    if ph_bytes == 0 || ph_bytes > MAX_PHDRS_BYTES {
        return Err(LoadError::Malformed("bad program header count"));
    }
    if hdr
        .e_phoff
        .checked_add(ph_bytes)
        .is_none_or(|end| end > size)
    {
        return Err(LoadError::Malformed("program headers past end of file"));
    }
    let raw = read_exact(&file, hdr.e_phoff, ph_bytes)?;
    let ctx = goblin::container::Ctx::new(
        goblin::container::Container::Big,
        goblin::container::Endian::Little,
    );
    let phdrs = ProgramHeader::parse(&raw, 0, hdr.e_phnum as usize, ctx)
        .map_err(|_| LoadError::Malformed("bad program headers"))?;

    let mut loads = Vec::new();
    let mut interp = None;
    let mut exec_stack = false;
    for ph in &phdrs {
        match ph.p_type {
            program_header::PT_LOAD => {
                if ph.p_filesz > ph.p_memsz {
                    return Err(LoadError::Malformed(
                        "segment file size exceeds memory size",
                    ));
                }
                if ph
                    .p_offset
                    .checked_add(ph.p_filesz)
                    .is_none_or(|end| end > size)
                {
                    return Err(LoadError::Malformed("segment past end of file"));
                }
                if (ph.p_vaddr.wrapping_sub(ph.p_offset)) % PAGE_SIZE != 0 {
                    return Err(LoadError::Malformed(
                        "segment offset and address are not congruent",
                    ));
                }
                if ph
                    .p_vaddr
                    .checked_add(ph.p_memsz)
                    .is_none_or(|end| end >= platform::GUEST_TOP)
                {
                    return Err(LoadError::Malformed("segment outside the address space"));
                }
                loads.push(ph.clone());
            }
            program_header::PT_INTERP => {
                if interp.is_some() {
                    return Err(LoadError::Malformed("more than one PT_INTERP"));
                }
                if ph.p_filesz < 2 || ph.p_filesz > MAX_INTERP {
                    return Err(LoadError::Malformed("bad PT_INTERP size"));
                }
                // Past the end of the file, Linux's read comes up short: EIO.
                let mut path = read_exact(&file, ph.p_offset, ph.p_filesz)?;
                if path.pop() != Some(0) || path.contains(&0) {
                    return Err(LoadError::Malformed(
                        "PT_INTERP is not a NUL-terminated path",
                    ));
                }
                interp = Some(path);
            }
            program_header::PT_GNU_STACK => exec_stack = ph.p_flags & program_header::PF_X != 0,
            _ => {}
        }
    }
    if loads.is_empty() {
        return Err(LoadError::Malformed("no loadable segment"));
    }
    let phdr_vaddr = loads
        .iter()
        .find(|l| hdr.e_phoff >= l.p_offset && hdr.e_phoff + ph_bytes <= l.p_offset + l.p_filesz)
        .map(|l| l.p_vaddr + (hdr.e_phoff - l.p_offset))
        .unwrap_or(0);
    Ok(Elf {
        file,
        dynamic: hdr.e_type == header::ET_DYN,
        entry: hdr.e_entry,
        loads,
        phnum: hdr.e_phnum as u64,
        phent: hdr.e_phentsize as u64,
        phdr_vaddr,
        interp,
        exec_stack,
    })
}

impl Elf {
    /// Lowest page and end of the loadable image (unrelocated).
    fn span(&self) -> (u64, u64) {
        let lo = self
            .loads
            .iter()
            .map(|l| page_down(l.p_vaddr))
            .min()
            .unwrap_or(0);
        let hi = self
            .loads
            .iter()
            .map(|l| l.p_vaddr + l.p_memsz)
            .max()
            .unwrap_or(0);
        (lo, hi)
    }

    /// Maps the segments. An `ET_DYN` image goes at `base` if given, else wherever the
    /// address space puts a mapping of its size; returns the load bias and the end of the
    /// highest segment.
    pub fn map(
        &self,
        space: &AddressSpace,
        host: &mut dyn HostMapper,
        base: Option<u64>,
    ) -> Result<(u64, u64), LoadError> {
        let (lo, hi) = self.span();
        let total = page_up(hi - lo).ok_or(LoadError::Malformed("image too large"))?;
        let bias = if !self.dynamic {
            0
        } else {
            let start = match base {
                Some(b) => b,
                None => {
                    // Reserve a span the size of the image, then map over it.
                    let at = space.mmap(host, MapRequest::anon(total, Prot::NONE))?;
                    space.munmap(host, at, total)?;
                    at
                }
            };
            start - lo
        };
        for seg in &self.loads {
            map_segment(space, host, &self.file, seg, bias)?;
        }
        Ok((bias, bias + hi))
    }
}

fn prot_of(ph: &ProgramHeader) -> Prot {
    let mut p = 0;
    if ph.p_flags & program_header::PF_R != 0 {
        p |= Prot::READ.0;
    }
    if ph.p_flags & program_header::PF_W != 0 {
        p |= Prot::WRITE.0;
    }
    if ph.p_flags & program_header::PF_X != 0 {
        p |= Prot::EXEC.0;
    }
    Prot(p)
}

/// Maps one PT_LOAD like Linux's `elf_map` + `padzero` + bss: file pages privately, the
/// tail of the last file page zeroed, anonymous pages for the rest of `p_memsz`.
fn map_segment(
    space: &AddressSpace,
    host: &mut dyn HostMapper,
    file: &Arc<MappedFile>,
    seg: &ProgramHeader,
    bias: u64,
) -> Result<(), LoadError> {
    let prot = prot_of(seg);
    let vaddr = bias + seg.p_vaddr;
    let start = page_down(vaddr);
    let file_end = vaddr + seg.p_filesz;
    let mem_end = page_up(vaddr + seg.p_memsz).ok_or(LoadError::Malformed("segment too large"))?;
    let mapped_file_end = page_up(file_end).ok_or(LoadError::Malformed("segment too large"))?;
    if seg.p_filesz > 0 {
        let req = MapRequest {
            addr: start,
            placement: Placement::Fixed,
            content: Content::File {
                file: file.clone(),
                offset: seg.p_offset - (vaddr - start),
            },
            ..MapRequest::anon(mapped_file_end - start, prot)
        };
        space.mmap(host, req)?;
        // Bytes of the last file page beyond p_filesz belong to .bss: zero them.
        let pad = mapped_file_end - file_end;
        if pad > 0 && seg.p_memsz > seg.p_filesz {
            space.poke(file_end, &vec![0u8; pad as usize])?;
        }
    }
    let anon_start = if seg.p_filesz > 0 {
        mapped_file_end
    } else {
        start
    };
    if mem_end > anon_start {
        let req = MapRequest {
            addr: anon_start,
            placement: Placement::Fixed,
            name: Some(VmaName::Anon),
            ..MapRequest::anon(mem_end - anon_start, prot)
        };
        space.mmap(host, req)?;
    }
    Ok(())
}
