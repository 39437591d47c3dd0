//! The directory tree that the `ls -laR` workload lists.
//!
//! Created once per bench run in the host's temp directory and removed when
//! the [`Tree`] is dropped, including when the bench unwinds.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// A temporary tree of `dirs` directories holding `files` empty files each.
pub struct Tree {
    /// The tree's top directory.
    root: PathBuf,
}

impl Tree {
    /// Creates the tree under the host's temp directory.
    pub fn create(dirs: usize, files: usize) -> io::Result<Tree> {
        let root = std::env::temp_dir().join(format!("sentry-bench-{}", std::process::id()));
        // A crashed run with the same pid may have left one behind.
        if root.exists() {
            fs::remove_dir_all(&root)?;
        }
        fs::create_dir(&root)?;
        // From here on, dropping `tree` removes whatever was created.
        let tree = Tree { root };
        for d in 0..dirs {
            let dir = tree.root.join(format!("d{d:03}"));
            fs::create_dir(&dir)?;
            for f in 0..files {
                File::create(dir.join(format!("f{f:03}")))?;
            }
        }
        Ok(tree)
    }

    /// The top directory.
    pub fn path(&self) -> &Path {
        &self.root
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        if let Err(err) = fs::remove_dir_all(&self.root) {
            eprintln!("bench: cannot remove {}: {err}", self.root.display());
        }
    }
}
