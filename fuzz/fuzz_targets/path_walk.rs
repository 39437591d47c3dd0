//! Fuzzes the path walk: arbitrary paths over a host tree full of hostile symlinks must
//! never resolve to anything outside the root, and never panic.

#![no_main]

use fs::host::HostInode;
use fs::{Vfs, WalkCtx};
use libfuzzer_sys::fuzz_target;
use std::os::unix::fs::{MetadataExt, symlink};
use std::sync::OnceLock;

struct Tree {
    vfs: Vfs,
    /// (dev, ino) of the directory holding the root, which no walk may reach.
    outside: (u64, u64),
    secret: (u64, u64),
}

fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let base = std::env::temp_dir().join(format!("sentry-fuzz-walk-{}", std::process::id()));
        let root = base.join("root");
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(root.join("a/b/c")).unwrap();
        std::fs::write(base.join("secret"), b"outside").unwrap();
        std::fs::write(root.join("a/file"), b"inside").unwrap();
        for (name, target) in [
            ("up", "../../../../.."),
            ("abs", "/a/b"),
            ("esc", "../secret"),
            ("loop", "loop"),
            ("a/b/back", "../.."),
            ("a/b/c/deep", "../../../../../../secret"),
            ("slash", "/"),
            ("dot", "."),
        ] {
            symlink(target, root.join(name)).unwrap();
        }
        let md = |p: &std::path::Path| {
            let m = std::fs::metadata(p).unwrap();
            (m.dev(), m.ino())
        };
        let vfs = Vfs::new(HostInode::open_root(&root).unwrap());
        Tree { vfs, outside: md(&base), secret: md(&base.join("secret")) }
    })
}

fuzz_target!(|data: &[u8]| {
    let t = tree();
    let root = t.vfs.root();
    let ctx = WalkCtx { root: &root, start: &root };
    for follow in [true, false] {
        let Ok(l) = t.vfs.walk(&ctx, data, follow) else { continue };
        for d in [Some(l.parent), l.child].into_iter().flatten() {
            let st = d.inode().stat().unwrap();
            let id = (st.dev, st.ino);
            assert!(id != t.outside && id != t.secret, "walked out of the root: {:?}", String::from_utf8_lossy(data));
        }
    }
});
