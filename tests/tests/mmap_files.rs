//! `MAP_SHARED` file mappings through a C guest, `mmap_shared_file`, run natively and
//! under sentry on a host directory (a read-write bind), on the guest's `/dev/shm` tmpfs
//! and on the default overlay root (where the host file must stay untouched), and the
//! Python `mmap` case that used to read back the file's old bytes; `MREMAP_DONTUNMAP` of
//! each kind of mapping (`mremap_dontunmap`).

use std::ffi::OsStr;
use tests::{
    Compare, Failures, Invocation, Scratch, check_guest, check_same, compare, guest_program,
    remove_tree, run_native, run_sentry_raw, write_file,
};

#[test]
fn shared_file_mappings_on_a_host_directory() {
    let scratch = Scratch::new("mmap-files");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "mmap_shared_file",
        &[&arg],
        b"",
        0,
        &mut || {
            remove_tree(&dir);
            std::fs::create_dir(&dir).expect("create work dir");
        },
    );
    failures.finish("mmap_shared_file");
}

/// Natively a directory of the host's /dev/shm; under sentry the same path in the
/// guest's own /dev/shm tmpfs, which starts empty.
#[test]
fn shared_file_mappings_on_tmpfs() {
    let dir =
        std::path::PathBuf::from(format!("/dev/shm/sentry-mmap-files-{}", std::process::id()));
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "mmap_shared_file",
        &[&arg],
        b"",
        0,
        &mut || {
            remove_tree(&dir);
        },
    );
    remove_tree(&dir);
    failures.finish("mmap_shared_file on tmpfs");
}

/// A store through a shared mapping of a host file under the default overlay root reaches
/// the guest's copy of the file, never the host's.
#[test]
fn shared_file_mappings_leave_the_overlay_lower_layer_alone() {
    let scratch = Scratch::new("mmap-overlay");
    let file = scratch.join("lower");
    let native_file = scratch.join("native");
    let original = vec![b'L'; 8192];
    write_file(&file, &original);
    write_file(&native_file, &original);
    let program = guest_program("mmap_shared_file");
    let native = run_native(
        &Invocation::new(&program).args(&[OsStr::new("overlay"), native_file.as_os_str()]),
    );
    let inv = Invocation::new(&program);
    let sentry = run_sentry_raw(
        &inv,
        &[
            OsStr::new("--clear-env"),
            program.as_os_str(),
            OsStr::new("overlay"),
            file.as_os_str(),
        ],
    );
    let mut failures = Failures::new();
    failures.check(compare(
        "mmap_shared_file overlay",
        &native,
        &sentry,
        Compare::default(),
    ));
    failures.check(
        if std::fs::read(&file).expect("read lower file") == original {
            Ok(())
        } else {
            Err("the host file under the overlay changed".to_string())
        },
    );
    failures.finish("mmap_shared_file overlay");
}

/// `mmap.flush()` then reading the file with `read()` sees the store.
#[test]
fn python_mmap_store_reaches_the_file() {
    let python = "/usr/bin/python3";
    assert!(
        std::path::Path::new(python).is_file(),
        "{python} is missing (the Debian tests need it too)"
    );
    let script = "import mmap,tempfile\n\
                  f=tempfile.TemporaryFile(); f.write(b'a'*4096); f.flush()\n\
                  m=mmap.mmap(f.fileno(),4096); m[0:5]=b'hello'; m.flush(); f.seek(0)\n\
                  print(f.read(5))\n\
                  f.seek(10); f.write(b'XY'); f.flush(); print(m[8:14])";
    let inv = Invocation::new(python).args(&["-c", script]);
    let mut failures = Failures::new();
    failures.check(check_same("python mmap", &inv, Compare::default()));
    failures.finish("python mmap");
}

/// `MREMAP_DONTUNMAP` of private anonymous, shared and private file mappings.
#[test]
fn mremap_dontunmap() {
    tests::check_guest_in_scratch("mremap_dontunmap");
}
