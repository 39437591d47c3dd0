//! Path walks stay inside the guest root whatever the path and its symlinks say.

use fs::host::HostInode;
use fs::{Errno, FileType, Resolve, Vfs, WalkCtx};
use std::os::unix::fs::symlink;
use std::path::PathBuf;

/// A scratch tree:
///   root/a/b/file   root/a/up -> ../..   root/abs -> /a/b   root/esc -> ../../../../etc
///   root/loop1 -> loop2   root/loop2 -> loop1   root/dangling -> nowhere
/// and a file *outside* root that no walk may reach.
struct Tree {
    base: PathBuf,
    vfs: Vfs,
}

impl Tree {
    fn new(tag: &str) -> Tree {
        let base = std::env::temp_dir().join(format!("sentry-walk-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("root");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/file"), b"inside").unwrap();
        std::fs::write(base.join("secret"), b"outside").unwrap();
        symlink("../..", root.join("a/up")).unwrap();
        symlink("/a/b", root.join("abs")).unwrap();
        symlink("../../../../secret", root.join("esc")).unwrap();
        symlink("../secret", root.join("esc2")).unwrap();
        symlink("loop2", root.join("loop1")).unwrap();
        symlink("loop1", root.join("loop2")).unwrap();
        symlink("nowhere", root.join("dangling")).unwrap();
        let vfs = Vfs::new(HostInode::open_root(&root).unwrap());
        vfs.mount("/dev", fs::dev::devfs());
        Tree { base, vfs }
    }

    fn resolve(&self, path: &str) -> Result<Vec<u8>, Errno> {
        let root = self.vfs.root();
        let ctx = WalkCtx {
            root: &root,
            start: &root,
        };
        self.vfs
            .walk(&ctx, path.as_bytes(), true)?
            .existing()
            .map(|d| d.path().to_vec())
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.base);
    }
}

#[test]
fn dotdot_never_leaves_the_root() {
    let t = Tree::new("dotdot");
    assert_eq!(t.resolve("/../../..").unwrap(), b"/");
    assert_eq!(t.resolve("../../a/b/file").unwrap(), b"/a/b/file");
    assert_eq!(t.resolve("/a/up/a/up/a/b").unwrap(), b"/a/b");
    assert_eq!(t.resolve("/a/b/../../..").unwrap(), b"/");
    assert_eq!(t.resolve("../secret"), Err(Errno::ENOENT));
}

#[test]
fn symlinks_resolve_inside_the_root() {
    let t = Tree::new("links");
    assert_eq!(t.resolve("/abs/file").unwrap(), b"/a/b/file");
    assert_eq!(
        t.resolve("/esc"),
        Err(Errno::ENOENT),
        "a relative link past the root stops at the root"
    );
    assert_eq!(t.resolve("/esc2"), Err(Errno::ENOENT));
    assert_eq!(t.resolve("/loop1"), Err(Errno::ELOOP));
    assert_eq!(t.resolve("/dangling"), Err(Errno::ENOENT));
    let root = t.vfs.root();
    let ctx = WalkCtx {
        root: &root,
        start: &root,
    };
    let l = t.vfs.walk(&ctx, b"/dangling", false).unwrap();
    assert_eq!(l.child.unwrap().inode().file_type(), FileType::Symlink);
}

#[test]
fn trailing_slash_and_notdir() {
    let t = Tree::new("slash");
    assert_eq!(t.resolve("/a/b/file/"), Err(Errno::ENOTDIR));
    assert_eq!(t.resolve("/a/b/file/x"), Err(Errno::ENOTDIR));
    assert_eq!(t.resolve("/a/b/").unwrap(), b"/a/b");
    assert_eq!(t.resolve("/abs/").unwrap(), b"/a/b");
}

#[test]
fn mounts_replace_host_directories() {
    let t = Tree::new("mount");
    let root = t.vfs.root();
    let ctx = WalkCtx {
        root: &root,
        start: &root,
    };
    let null = t
        .vfs
        .walk(&ctx, b"/dev/null", true)
        .unwrap()
        .existing()
        .unwrap();
    assert_eq!(null.inode().file_type(), FileType::CharDev);
    assert_eq!(t.resolve("/dev/../a/b").unwrap(), b"/a/b");
    assert_eq!(
        t.resolve("/dev/sda"),
        Err(Errno::ENOENT),
        "no host device is reachable"
    );
}

#[test]
fn open_create_and_read_back() {
    let t = Tree::new("open");
    let root = t.vfs.root();
    let ctx = WalkCtx {
        root: &root,
        start: &root,
    };
    let w = fs::Waiter::new();
    let f = t
        .vfs
        .open(&ctx, b"/a/new", libc::O_CREAT | libc::O_WRONLY, 0o644)
        .unwrap();
    assert_eq!(f.write(&w, b"data").unwrap(), 4);
    assert_eq!(
        t.vfs
            .open(&ctx, b"/a/new", libc::O_CREAT | libc::O_EXCL, 0o644)
            .err(),
        Some(Errno::EEXIST)
    );
    assert_eq!(
        t.vfs.open(&ctx, b"/a", libc::O_WRONLY, 0).err(),
        Some(Errno::EISDIR)
    );
    assert_eq!(
        t.vfs.open(&ctx, b"/a/new", libc::O_DIRECTORY, 0).err(),
        Some(Errno::ENOTDIR)
    );
    assert_eq!(
        t.vfs.open(&ctx, b"/loop1", libc::O_RDONLY, 0).err(),
        Some(Errno::ELOOP)
    );
    assert_eq!(
        t.vfs
            .open(&ctx, b"/dangling", libc::O_RDONLY | libc::O_NOFOLLOW, 0)
            .err(),
        Some(Errno::ELOOP)
    );
    let r = t.vfs.open(&ctx, b"/abs/../new", libc::O_RDONLY, 0).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(r.read(&w, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"data");
    // Creating through a dangling link made by the guest lands inside the root.
    std::os::unix::fs::symlink("/made-by-link", t.base.join("root/mk")).unwrap();
    t.vfs
        .open(&ctx, b"/mk", libc::O_CREAT | libc::O_WRONLY, 0o644)
        .err();
    assert!(!std::path::Path::new("/made-by-link").exists());
}

#[test]
fn resolve_restrictions() {
    let t = Tree::new("resolve");
    let root = t.vfs.root();
    let ctx = WalkCtx {
        root: &root,
        start: &root,
    };
    let a = t.vfs.walk(&ctx, b"/a", true).unwrap().existing().unwrap();
    let from_a = WalkCtx {
        root: &root,
        start: &a,
    };
    let walk = |ctx: &WalkCtx<'_>, path: &str, resolve: Resolve| {
        t.vfs
            .walk_with(ctx, path.as_bytes(), true, resolve)
            .and_then(|l| l.existing())
            .map(|d| d.path().to_vec())
    };
    let beneath = Resolve {
        beneath: true,
        ..Resolve::default()
    };
    assert_eq!(walk(&from_a, "b/file", beneath).unwrap(), b"/a/b/file");
    assert_eq!(walk(&from_a, "b/../b", beneath).unwrap(), b"/a/b");
    assert_eq!(walk(&from_a, "..", beneath), Err(Errno::EXDEV));
    assert_eq!(walk(&from_a, "/a", beneath), Err(Errno::EXDEV));
    assert_eq!(walk(&from_a, "up", beneath), Err(Errno::EXDEV));
    let in_root = Resolve {
        in_root: true,
        ..Resolve::default()
    };
    assert_eq!(walk(&from_a, "/b/file", in_root).unwrap(), b"/a/b/file");
    assert_eq!(walk(&from_a, "../../b", in_root).unwrap(), b"/a/b");
    assert_eq!(walk(&from_a, "up/b", in_root).unwrap(), b"/a/b");
    let no_symlinks = Resolve {
        no_symlinks: true,
        ..Resolve::default()
    };
    assert_eq!(walk(&ctx, "/abs/file", no_symlinks), Err(Errno::ELOOP));
    assert_eq!(walk(&ctx, "/a/b/file", no_symlinks).unwrap(), b"/a/b/file");
    let no_xdev = Resolve {
        no_xdev: true,
        ..Resolve::default()
    };
    assert_eq!(walk(&ctx, "/dev/null", no_xdev), Err(Errno::EXDEV));
    assert_eq!(walk(&ctx, "/a/b", no_xdev).unwrap(), b"/a/b");
    let dev = t.vfs.walk(&ctx, b"/dev", true).unwrap().existing().unwrap();
    let from_dev = WalkCtx {
        root: &root,
        start: &dev,
    };
    assert_eq!(walk(&from_dev, "null", no_xdev).unwrap(), b"/dev/null");
    assert_eq!(walk(&from_dev, "..", no_xdev), Err(Errno::EXDEV));
}
