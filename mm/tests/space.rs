//! Address-space semantics against a fake host that records what the stub would map.

mod common;

use common::{Bytes, FakeHost, P, TOP, assert_consistent, space};
use mm::{
    AddressSpace, Content, MapRequest, MemRange, MmError, ObjectName, Placement, Prot, VmaName,
};
use std::sync::Arc;

fn fixed(addr: u64, len: u64, prot: Prot) -> MapRequest {
    MapRequest {
        addr,
        placement: Placement::Fixed,
        ..MapRequest::anon(len, prot)
    }
}

#[test]
fn mmap_hint_fixed_and_noreplace() {
    let (a, mut h) = space();
    let x = a
        .mmap(
            &mut h,
            MapRequest {
                addr: 0x1000_0000,
                ..MapRequest::anon(3 * P, Prot::RW)
            },
        )
        .unwrap();
    assert_eq!(x, 0x1000_0000, "a free hint is honoured");
    let y = a
        .mmap(
            &mut h,
            MapRequest {
                addr: 0x1000_0000,
                ..MapRequest::anon(P, Prot::RW)
            },
        )
        .unwrap();
    assert_ne!(y, x, "a taken hint is not");
    let noreplace = MapRequest {
        addr: x + P,
        placement: Placement::FixedNoReplace,
        ..MapRequest::anon(P, Prot::RW)
    };
    assert_eq!(a.mmap(&mut h, noreplace), Err(MmError::Exists));
    a.write(x, b"hello").unwrap();
    a.mmap(&mut h, fixed(x + P, P, Prot::READ)).unwrap();
    assert_eq!(
        a.vmas()
            .iter()
            .filter(|v| v.start >= x && v.end <= x + 3 * P)
            .count(),
        3
    );
    let mut b = [0u8; 5];
    a.read(x, &mut b).unwrap();
    assert_eq!(&b, b"hello");
    assert_eq!(
        a.write(x + P, b"x"),
        Err(MmError::Fault),
        "the fixed replacement is read-only"
    );
    assert_eq!(
        a.mmap(&mut h, fixed(x + 1, P, Prot::RW)),
        Err(MmError::Invalid)
    );
    assert_eq!(
        a.mmap(&mut h, fixed(0x1000, P, Prot::RW)),
        Err(MmError::Perm)
    );
    assert_eq!(
        a.mmap(&mut h, fixed(TOP - P, 2 * P, Prot::RW)),
        Err(MmError::NoMem)
    );
    assert_eq!(
        a.mmap(&mut h, MapRequest::anon(0, Prot::RW)),
        Err(MmError::Invalid)
    );
    assert_consistent(&a, &h);
}

#[test]
fn munmap_middle_splits_and_frees() {
    let (a, mut h) = space();
    let x = a.mmap(&mut h, MapRequest::anon(10 * P, Prot::RW)).unwrap();
    for i in 0..10 {
        a.write(x + i * P, &[i as u8 + 1]).unwrap();
    }
    let before = a.memory_file().resident_bytes();
    a.munmap(&mut h, x + 3 * P, 4 * P).unwrap();
    assert!(
        a.memory_file().resident_bytes() <= before - 4 * P,
        "unmapped pages are freed"
    );
    assert_eq!(a.read_obj::<u8>(x + 2 * P), Ok(3));
    assert_eq!(a.read_obj::<u8>(x + 7 * P), Ok(8));
    assert_eq!(a.read_obj::<u8>(x + 3 * P), Err(MmError::Fault));
    assert_eq!(a.check_mapped(x, 10 * P), Err(MmError::NoMem));
    assert_eq!(a.munmap(&mut h, x + 1, P), Err(MmError::Invalid));
    a.munmap(&mut h, x + 3 * P, 4 * P).unwrap();
    assert_consistent(&a, &h);
}

#[test]
fn mprotect_splits_and_requires_mapping() {
    let (a, mut h) = space();
    let x = a.mmap(&mut h, MapRequest::anon(4 * P, Prot::RW)).unwrap();
    a.mprotect(&mut h, x + P, 2 * P, Prot::READ).unwrap();
    assert_eq!(a.vmas().len(), 3);
    assert!(a.write(x, b"a").is_ok());
    assert_eq!(a.write(x + P, b"a"), Err(MmError::Fault));
    assert!(a.write(x + 3 * P, b"a").is_ok());
    assert_eq!(
        a.mprotect(&mut h, x + 3 * P, 2 * P, Prot::READ),
        Err(MmError::NoMem)
    );
    assert_consistent(&a, &h);
}

#[test]
fn mremap_grow_shrink_move() {
    let (a, mut h) = space();
    let x = a.mmap(&mut h, MapRequest::anon(2 * P, Prot::RW)).unwrap();
    a.write(x + P, b"keep").unwrap();
    // Block growth in place with a neighbour.
    a.mmap(&mut h, fixed(x + 2 * P, P, Prot::RW)).unwrap();
    assert_eq!(
        a.mremap(&mut h, x, 2 * P, 4 * P, false, None),
        Err(MmError::NoMem)
    );
    let y = a.mremap(&mut h, x, 2 * P, 4 * P, true, None).unwrap();
    assert_ne!(x, y);
    let mut b = [0u8; 4];
    a.read(y + P, &mut b).unwrap();
    assert_eq!(&b, b"keep");
    assert_eq!(
        a.read_obj::<u8>(x),
        Err(MmError::Fault),
        "the old range is gone"
    );
    assert_eq!(a.mremap(&mut h, y, 4 * P, P, false, None), Ok(y));
    assert_eq!(a.read_obj::<u8>(y + P), Err(MmError::Fault));
    assert_eq!(
        a.mremap(&mut h, y, P, 64 * P, false, None),
        Err(MmError::NoMem),
        "x's neighbour is in the way"
    );
    // Grow in place into free space.
    let y = a
        .mmap(
            &mut h,
            MapRequest {
                addr: 0x3000_0000,
                ..MapRequest::anon(P, Prot::RW)
            },
        )
        .unwrap();
    let g = a.mremap(&mut h, y, P, 64 * P, false, None).unwrap();
    assert_eq!(g, y);
    a.write(y + 63 * P, b"z").unwrap();
    // Fixed move.
    let dst = 0x2000_0000;
    assert_eq!(
        a.mremap(&mut h, y, 64 * P, 64 * P, true, Some(dst)),
        Ok(dst)
    );
    assert_eq!(a.read_obj::<u8>(dst + 63 * P), Ok(b'z'));
    assert_eq!(
        a.mremap(&mut h, dst + 60 * P, 8 * P, P, false, None),
        Err(MmError::Fault)
    );
    assert_consistent(&a, &h);
}

#[test]
fn brk_grows_and_shrinks() {
    let (a, mut h) = space();
    a.set_brk_start(0x60_0123);
    assert_eq!(a.brk(&mut h, 0), 0x60_0123);
    assert_eq!(a.brk(&mut h, 0x60_0123 + 100_000), 0x60_0123 + 100_000);
    a.write(0x60_0123 + 99_999, b"x").unwrap();
    assert_eq!(a.brk(&mut h, 0x70_0000 + 10 * P), 0x70_0000 + 10 * P);
    assert_eq!(a.read_obj::<u8>(0x60_0123 + 99_999), Ok(b'x'));
    let heap: Vec<_> = a
        .vmas()
        .into_iter()
        .filter(|v| v.name == "[heap]")
        .collect();
    assert_eq!(heap.len(), 1, "the heap stays one VMA");
    assert_eq!(a.brk(&mut h, 0x60_2000), 0x60_2000);
    assert_eq!(a.read_obj::<u8>(0x60_0123 + 99_999), Err(MmError::Fault));
    assert_eq!(
        a.brk(&mut h, 0x1000),
        0x60_2000,
        "below the start: unchanged"
    );
    // A mapping in the way stops the break.
    a.mmap(&mut h, fixed(0x80_0000, P, Prot::RW)).unwrap();
    assert_eq!(a.brk(&mut h, 0x90_0000), 0x60_2000);
    assert_consistent(&a, &h);
}

#[test]
fn madvise_dontneed_zeroes_private_not_shared() {
    let (a, mut h) = space();
    let x = a.mmap(&mut h, MapRequest::anon(2 * P, Prot::RW)).unwrap();
    let s = a
        .mmap(
            &mut h,
            MapRequest {
                shared: true,
                ..MapRequest::anon(P, Prot::RW)
            },
        )
        .unwrap();
    a.write(x, b"a").unwrap();
    a.write(s, b"b").unwrap();
    a.madvise(x, 2 * P, mm::advice::DONTNEED).unwrap();
    a.madvise(s, P, mm::advice::DONTNEED).unwrap();
    assert_eq!(a.read_obj::<u8>(x), Ok(0));
    assert_eq!(a.read_obj::<u8>(s), Ok(b'b'));
    assert_eq!(
        a.madvise(x + 1, P, mm::advice::DONTNEED),
        Err(MmError::Invalid)
    );
    assert_eq!(a.madvise(x, P, 999), Err(MmError::Invalid));
}

#[test]
fn fork_copies_private_and_shares_shared() {
    let (a, mut h) = space();
    let x = a.mmap(&mut h, MapRequest::anon(P, Prot::RW)).unwrap();
    let s = a
        .mmap(
            &mut h,
            MapRequest {
                shared: true,
                ..MapRequest::anon(P, Prot::RW)
            },
        )
        .unwrap();
    a.write(x, b"p").unwrap();
    let child = a.fork().unwrap();
    let mut ch = FakeHost::default();
    child.install(&mut ch).unwrap();
    assert_consistent(&child, &ch);
    child.write(x, b"c").unwrap();
    child.write(s, b"S").unwrap();
    assert_eq!(a.read_obj::<u8>(x), Ok(b'p'), "private memory is copied");
    assert_eq!(a.read_obj::<u8>(s), Ok(b'S'), "shared memory is shared");
}

fn object_request(mem: &Arc<MemRange>, addr: u64) -> MapRequest {
    let name = Arc::new(ObjectName {
        path: "/SYSV00000000 (deleted)".into(),
        dev: 1,
        ino: 7,
    });
    MapRequest {
        addr,
        shared: true,
        placement: Placement::FixedNoReplace,
        content: Content::Object {
            mem: mem.clone(),
            name,
        },
        ..MapRequest::anon(mem.len(), Prot::RW)
    }
}

#[test]
fn object_mappings_share_pages_and_count_references() {
    let (a, mut h) = space();
    let mem = Arc::new(MemRange::zeroed(a.memory_file(), 3 * P).unwrap());
    let x = a.mmap(&mut h, object_request(&mem, 0x1000_0000)).unwrap();
    let y = a.mmap(&mut h, object_request(&mem, 0x2000_0000)).unwrap();
    assert_consistent(&a, &h);
    a.write(x + P, b"o").unwrap();
    assert_eq!(
        a.read_obj::<u8>(y + P),
        Ok(b'o'),
        "both views show one object"
    );
    assert_eq!(Arc::strong_count(&mem), 3);
    a.mprotect(&mut h, x, P, Prot::READ).unwrap();
    assert_eq!(
        Arc::strong_count(&mem),
        4,
        "a split VMA holds its own reference"
    );
    let v = a.vmas().into_iter().find(|v| v.start == x + P).unwrap();
    assert_eq!(
        (v.name.as_str(), v.dev_ino, v.file_offset),
        ("/SYSV00000000 (deleted)", (1, 7), P)
    );
    let child = a.fork().unwrap();
    assert_eq!(Arc::strong_count(&mem), 7, "fork keeps the attachments");
    drop(child);
    let too_long = MapRequest {
        len: 4 * P,
        ..object_request(&mem, 0x3000_0000)
    };
    assert_eq!(a.mmap(&mut h, too_long), Err(MmError::Invalid));
}

#[test]
fn detach_unmaps_the_pieces_of_one_attach() {
    let (a, mut h) = space();
    let mem = Arc::new(MemRange::zeroed(a.memory_file(), 3 * P).unwrap());
    let other = Arc::new(MemRange::zeroed(a.memory_file(), P).unwrap());
    let x = 0x1000_0000;
    a.mmap(&mut h, object_request(&mem, x)).unwrap();
    a.mmap(&mut h, object_request(&other, x + 3 * P)).unwrap();
    a.mprotect(&mut h, x + P, P, Prot::READ).unwrap();
    a.munmap(&mut h, x, P).unwrap();
    let is_mem = |m: &Arc<MemRange>| Arc::ptr_eq(m, &mem);
    let none = |r: Result<Option<Arc<MemRange>>, MmError>| r.is_ok_and(|o| o.is_none());
    assert!(
        none(a.detach(&mut h, x + P, is_mem)),
        "pieces sit at their offsets from x"
    );
    assert!(
        none(a.detach(&mut h, x, |_| false)),
        "only attached objects count"
    );
    let detached = a.detach(&mut h, x, is_mem).unwrap();
    assert!(detached.is_some_and(|d| Arc::ptr_eq(&d, &mem)));
    assert_consistent(&a, &h);
    assert_eq!(Arc::strong_count(&mem), 1, "every piece is gone");
    assert_eq!(a.vmas().len(), 1, "the next object stays");
}

#[test]
fn private_file_mapping_copies_contents_with_offset() {
    let (a, mut h) = space();
    let mut data = vec![b'a'; P as usize];
    data.extend(vec![b'b'; 100]);
    let file = Arc::new(mm::MappedFile {
        path: "/f".into(),
        dev: 1,
        ino: 2,
        source: Arc::new(Bytes(data)),
        version: None,
    });
    let req = MapRequest {
        content: Content::File { file, offset: P },
        ..MapRequest::anon(2 * P, Prot::READ)
    };
    let x = a.mmap(&mut h, req).unwrap();
    assert_eq!(a.read_obj::<u8>(x), Ok(b'b'));
    assert_eq!(a.read_obj::<u8>(x + 99), Ok(b'b'));
    assert_eq!(a.read_obj::<u8>(x + 100), Ok(0));
    let v = &a.vmas()[0];
    assert_eq!((v.name.as_str(), v.file_offset), ("/f", P));
    assert!(matches!(VmaName::Heap, VmaName::Heap));
}

#[test]
fn strings_stop_at_nul_and_faults() {
    let (a, mut h) = space();
    let x = a.mmap(&mut h, MapRequest::anon(P, Prot::RW)).unwrap();
    a.write(x + P - 3, b"abc").unwrap();
    assert_eq!(
        a.read_cstring(x + P - 3, 100),
        Err(MmError::Fault),
        "runs into unmapped memory"
    );
    a.write(x, b"hello\0").unwrap();
    assert_eq!(a.read_cstring(x, 100).unwrap(), b"hello");
    assert_eq!(a.read_cstring(x, 3), Err(MmError::TooLong));
}

#[test]
fn read_only_file_pages_are_shared_until_written() {
    let (a, mut h) = space();
    let data = vec![b'x'; 2 * P as usize];
    let version = mm::FileVersion {
        dev: 1,
        ino: 9,
        mtime_ns: 5,
        size: 2 * P,
    };
    let file = Arc::new(mm::MappedFile {
        path: "/lib".into(),
        dev: 1,
        ino: 9,
        source: Arc::new(Bytes(data)),
        version: Some(version),
    });
    let ro = |addr| MapRequest {
        addr,
        content: Content::File {
            file: file.clone(),
            offset: 0,
        },
        ..MapRequest::anon(2 * P, Prot::READ)
    };
    let x = a.mmap(&mut h, ro(0x1000_0000)).unwrap();
    let child = a.fork().unwrap();
    let y = a.mmap(&mut h, ro(0x2000_0000)).unwrap();
    let off = |s: &AddressSpace, addr| {
        s.vmas()
            .into_iter()
            .find(|v| v.start == addr)
            .unwrap()
            .memfd_offset
    };
    assert_eq!(
        off(&a, x),
        off(&a, y),
        "a second mapping reuses the cached pages"
    );
    assert_eq!(off(&a, x), off(&child, x), "fork shares them");
    let before = a.memory_file().resident_bytes();
    a.mprotect(&mut h, x, P, Prot::RW).unwrap();
    a.write(x, b"private").unwrap();
    assert_ne!(off(&a, x), off(&a, y), "writing needs a private copy");
    assert_eq!(a.read_obj::<u8>(y), Ok(b'x'), "the cache is untouched");
    assert_eq!(child.read_obj::<u8>(x), Ok(b'x'));
    assert!(a.memory_file().resident_bytes() >= before);
    assert_consistent(&a, &h);
}
