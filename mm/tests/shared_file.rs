//! `MAP_SHARED` file mappings: pages shared by file identity across mappings and address
//! spaces, write-back to the file, and file changes made by syscalls seen through them.

mod common;

use common::{FakeHost, P, RwFile, assert_consistent, space};
use mm::{AddressSpace, Content, FileId, MapRequest, MappedFile, MmError, Prot};
use std::sync::Arc;

/// A mapped file over `src`, identified as inode `ino`.
fn mapped(src: &Arc<RwFile>, ino: u64) -> Arc<MappedFile> {
    Arc::new(MappedFile {
        path: "/f".into(),
        dev: 7,
        ino,
        source: src.clone(),
        version: None,
    })
}

fn shared(file: &Arc<MappedFile>, offset: u64, len: u64, prot: Prot) -> MapRequest {
    MapRequest {
        shared: true,
        content: Content::File {
            file: file.clone(),
            offset,
        },
        ..MapRequest::anon(len, prot)
    }
}

fn memfd_offset(a: &AddressSpace, addr: u64) -> u64 {
    a.vmas()
        .into_iter()
        .find(|v| v.start <= addr && addr < v.end)
        .map(|v| v.memfd_offset + (addr - v.start))
        .unwrap()
}

fn id(ino: u64) -> FileId {
    FileId { dev: 7, ino }
}

#[test]
fn mappings_of_one_file_share_pages_across_address_spaces() {
    let (a, mut h) = space();
    let src = Arc::new(RwFile::new(vec![b'a'; 3 * P as usize], true));
    let x = a
        .mmap(&mut h, shared(&mapped(&src, 1), 0, 2 * P, Prot::RW))
        .unwrap();
    // Another open of the same file, mapped at an offset, in a forked child.
    let child = a.fork().unwrap();
    let mut ch = FakeHost::default();
    child.install(&mut ch).unwrap();
    let y = child
        .mmap(&mut ch, shared(&mapped(&src, 1), P, 2 * P, Prot::RW))
        .unwrap();
    assert_eq!(memfd_offset(&a, x + P), memfd_offset(&child, y));
    assert_eq!(
        memfd_offset(&a, x),
        memfd_offset(&child, x),
        "fork shares them"
    );
    a.write(x + P, b"from a").unwrap();
    let mut buf = [0u8; 6];
    child.read(y, &mut buf).unwrap();
    assert_eq!(&buf, b"from a");
    child.write(y + P, b"tail").unwrap();
    assert_eq!(src.contents()[2 * P as usize], b'a', "not written back yet");
    // Another file's mapping does not share.
    let other = Arc::new(RwFile::new(vec![b'z'; P as usize], true));
    let z = a
        .mmap(&mut h, shared(&mapped(&other, 2), 0, P, Prot::RW))
        .unwrap();
    assert_eq!(a.read_obj::<u8>(z), Ok(b'z'));
    assert_consistent(&a, &h);
    assert_consistent(&child, &ch);
    drop(child);
    assert_eq!(
        src.contents()[2 * P as usize],
        b'a',
        "the parent still maps it"
    );
    a.munmap(&mut h, x, 2 * P).unwrap();
    let data = src.contents();
    assert_eq!(&data[P as usize..P as usize + 6], b"from a");
    assert_eq!(&data[2 * P as usize..2 * P as usize + 4], b"tail");
}

#[test]
fn msync_and_last_unmap_write_back_within_the_file_size() {
    let (a, mut h) = space();
    let src = Arc::new(RwFile::new(vec![b'a'; 100], true));
    let before = a.memory_file().resident_bytes();
    let x = a
        .mmap(&mut h, shared(&mapped(&src, 1), 0, 2 * P, Prot::RW))
        .unwrap();
    assert_eq!(a.read_obj::<u8>(x + 99), Ok(b'a'));
    assert_eq!(
        a.read_obj::<u8>(x + 100),
        Ok(0),
        "past the end of file reads zero"
    );
    a.write(x, b"hello").unwrap();
    a.write(x + 200, b"past eof").unwrap();
    a.write(x + P, b"next page").unwrap();
    assert_eq!(&src.contents()[..5], b"aaaaa");
    a.msync(x, P).unwrap();
    let data = src.contents();
    assert_eq!(data.len(), 100, "write-back never extends the file");
    assert_eq!(&data[..5], b"hello");
    a.write(x + 5, b"!").unwrap();
    a.munmap(&mut h, x, 2 * P).unwrap();
    assert_eq!(&src.contents()[..6], b"hello!");
    assert_eq!(a.memory_file().resident_bytes(), before, "pages freed");
    assert_eq!(a.msync(x, P), Err(MmError::NoMem));
}

#[test]
fn read_only_files_share_pages_but_never_write_back() {
    let (a, mut h) = space();
    let ro = Arc::new(RwFile::new(vec![b'r'; P as usize], false));
    let rw = Arc::new(RwFile::new(vec![b'r'; P as usize], true));
    let x = a
        .mmap(&mut h, shared(&mapped(&ro, 1), 0, P, Prot::READ))
        .unwrap();
    assert_eq!(a.mprotect(&mut h, x, P, Prot::RW), Err(MmError::Access));
    let y = a
        .mmap(&mut h, shared(&mapped(&rw, 1), 0, P, Prot::RW))
        .unwrap();
    assert_eq!(memfd_offset(&a, x), memfd_offset(&a, y));
    a.write(y, b"w").unwrap();
    assert_eq!(
        a.read_obj::<u8>(x),
        Ok(b'w'),
        "the read-only mapping sees stores"
    );
    a.msync(y, P).unwrap();
    assert_eq!(rw.contents()[0], b'w', "written through the writable open");
    assert_eq!(ro.contents()[0], b'r');
    let ro_only = Arc::new(RwFile::new(vec![b'r'; P as usize], false));
    let z = a
        .mmap(&mut h, shared(&mapped(&ro_only, 2), 0, P, Prot::READ))
        .unwrap();
    a.poke(z, b"x").unwrap();
    a.munmap(&mut h, z, P).unwrap();
    assert_eq!(ro_only.contents()[0], b'r');
}

#[test]
fn file_writes_reach_mappings_without_losing_their_stores() {
    let (a, mut h) = space();
    let src = Arc::new(RwFile::new(vec![b'a'; 2 * P as usize], true));
    let x = a
        .mmap(&mut h, shared(&mapped(&src, 1), 0, 2 * P, Prot::RW))
        .unwrap();
    a.write(x, b"MAPPED").unwrap();
    let shared_files = a.memory_file().shared_files();
    // A write(2) of bytes 10..15 of the same page: the store at 0..6 must survive.
    let w = shared_files.begin_write(|| Some((id(1), 10..15))).unwrap();
    assert!(w.tracked());
    src.data.lock()[10..15].copy_from_slice(b"WRITE");
    w.changed().unwrap();
    let mut buf = [0u8; 15];
    a.read(x, &mut buf).unwrap();
    assert_eq!(&buf, b"MAPPEDaaaaWRITE");
    assert_eq!(
        &src.contents()[..6],
        b"MAPPED",
        "written back before the write"
    );
    // Truncation zeroes what lies past the new end.
    let w = shared_files
        .begin_write(|| Some((id(1), 100..u64::MAX)))
        .unwrap();
    src.data.lock().truncate(100);
    w.changed().unwrap();
    assert_eq!(a.read_obj::<u8>(x + 99), Ok(b'a'));
    assert_eq!(a.read_obj::<u8>(x + 100), Ok(0));
    assert_eq!(a.read_obj::<u8>(x + P), Ok(0));
    // Other files are not tracked.
    assert!(
        !shared_files
            .begin_write(|| Some((id(9), 0..1)))
            .unwrap()
            .tracked()
    );
}

#[test]
fn private_mappings_see_shared_stores() {
    let (a, mut h) = space();
    let src = Arc::new(RwFile::new(vec![b'a'; P as usize], true));
    let file = mapped(&src, 1);
    let x = a.mmap(&mut h, shared(&file, 0, P, Prot::RW)).unwrap();
    a.write(x, b"shared").unwrap();
    let mut private = shared(&file, 0, P, Prot::READ);
    private.shared = false;
    let p = a.mmap(&mut h, private).unwrap();
    let mut buf = [0u8; 6];
    a.read(p, &mut buf).unwrap();
    assert_eq!(&buf, b"shared");
    assert_ne!(memfd_offset(&a, p), memfd_offset(&a, x));
}

#[test]
fn mremap_keeps_sharing_and_grows_from_the_file() {
    let (a, mut h) = space();
    let src = Arc::new(RwFile::new(vec![b'a'; 4 * P as usize], true));
    let file = mapped(&src, 1);
    let x = a.mmap(&mut h, shared(&file, 0, P, Prot::RW)).unwrap();
    let y = a.mmap(&mut h, shared(&file, 0, 4 * P, Prot::RW)).unwrap();
    a.write(y + 2 * P, b"y").unwrap();
    let moved = a.mremap(&mut h, x, P, 3 * P, true, None).unwrap();
    assert_eq!(a.read_obj::<u8>(moved + 2 * P), Ok(b'y'));
    assert_eq!(memfd_offset(&a, moved + 2 * P), memfd_offset(&a, y + 2 * P));
    let dup = a.mremap(&mut h, y + P, 0, P, true, None).unwrap();
    assert_eq!(memfd_offset(&a, dup), memfd_offset(&a, y + P));
    assert_consistent(&a, &h);
}

#[test]
fn an_object_that_cannot_grow_is_superseded_without_losing_stores() {
    let (a, mut h) = space();
    let src = Arc::new(RwFile::new(vec![b'a'; P as usize], true));
    let file = mapped(&src, 1);
    let x = a.mmap(&mut h, shared(&file, 0, P, Prot::RW)).unwrap();
    a.write(x, b"old").unwrap();
    // Private memory takes the offsets after the file's reserved range.
    let anon = a
        .mmap(&mut h, MapRequest::anon(64 << 20, Prot::RW))
        .unwrap();
    a.write(anon, b"in the way").unwrap();
    let big = 8 << 20;
    let y = a.mmap(&mut h, shared(&file, 0, big, Prot::RW)).unwrap();
    assert_ne!(memfd_offset(&a, x), memfd_offset(&a, y), "superseded");
    let mut buf = [0u8; 3];
    a.read(y, &mut buf).unwrap();
    assert_eq!(
        &buf, b"old",
        "the new object loads after the old one wrote back"
    );
    a.write(y + 1, b"N").unwrap();
    a.msync(y, P).unwrap();
    assert_eq!(
        a.read_obj::<u8>(x + 1),
        Ok(b'N'),
        "write-backs reach the old object"
    );
    let z = a.mmap(&mut h, shared(&file, 0, P, Prot::RW)).unwrap();
    assert_eq!(
        memfd_offset(&a, z),
        memfd_offset(&a, y),
        "later mappings use the new one"
    );
    a.munmap(&mut h, x, P).unwrap();
    a.munmap(&mut h, y, big).unwrap();
    a.munmap(&mut h, z, P).unwrap();
    assert_eq!(&src.contents()[..3], b"oNd");
}

#[test]
fn madvise_remove_zeroes_the_file() {
    let (a, mut h) = space();
    let src = Arc::new(RwFile::new(vec![b'a'; 2 * P as usize], true));
    let x = a
        .mmap(&mut h, shared(&mapped(&src, 1), 0, 2 * P, Prot::RW))
        .unwrap();
    a.madvise(x, P, mm::advice::REMOVE).unwrap();
    assert_eq!(a.read_obj::<u8>(x), Ok(0));
    assert_eq!(a.read_obj::<u8>(x + P), Ok(b'a'));
    assert_eq!(src.contents()[0], 0);
    assert_eq!(src.contents()[P as usize], b'a');
    a.mprotect(&mut h, x, P, Prot::READ).unwrap();
    assert_eq!(a.madvise(x, P, mm::advice::REMOVE), Err(MmError::Access));
}
