//! One guest address space and the memory behind it.
//!
//! Every guest page lives in one sparse memfd per sandbox ([`MemoryFile`]); the sentry maps
//! all of it once, so guest memory is read and written with `memcpy` ([`io`]), and each
//! guest VMA is a `MAP_SHARED|MAP_FIXED` view of a range of it in the stub process.
//! [`AddressSpace`] keeps the VMA map and implements Linux's mmap, munmap, mprotect,
//! mremap, brk and madvise, fork copies, and the VMA dump.
//!
//! The model, in short:
//! - A [`Vma`] has one contiguous backing range. Private backings are owned by exactly one
//!   VMA (fork copies them eagerly), shared backings are reference counted.
//! - `MAP_SHARED` mappings of one file share its pages ([`shared_file`]), which are written
//!   back to the file through [`FileSource`].
//! - The host stub is changed through [`platform::HostMapper`] under the address space's
//!   write lock, and memory is released only after the stub no longer maps it.
//! - Offsets of the memory file are allocated with slack so that heaps and `mremap`ed
//!   buffers usually grow in place; otherwise they are copied once into a bigger range.
//!
//! This crate must not know about files, tasks or syscalls: file contents arrive through
//! [`FileSource`], the host through [`platform::HostMapper`]. Raw pointers are confined to
//! [`memfile`].

mod alloc;
pub mod dump;
mod error;
pub mod io;
pub mod memfile;
mod range_set;
pub mod shared_file;
mod space;
mod vma;

pub use error::MmError;
pub use memfile::{MemRange, MemoryFile, PAGE_SIZE};
pub use shared_file::{FileId, FileWrite, SharedFileRef, SharedFiles};
pub use space::{
    AddressSpace, Content, Layout, MIN_ADDR, MapRequest, Placement, STACK_SIZE, VmaInfo, advice,
    page_down, page_up,
};
pub use vma::{Backing, FileSource, FileVersion, MappedFile, ObjectName, Prot, Vma, VmaName};
