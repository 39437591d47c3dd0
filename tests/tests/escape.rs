//! The escape suite: a hostile guest tries to break each rule of the
//! sandbox, and the test checks on the host that it did not.
//!
//! - Overlay: `rm -rf /` in a scratch root leaves the host tree byte for byte
//!   unchanged and the guest with only the synthetic mount points; the guest
//!   sees its own creates, writes, renames, chmods and deletes (compared
//!   with the same script run natively on a copy) while the host sees none;
//!   `--rw-root` and `--bind ...:rw` write through exactly as the native run
//!   did; `--bind ...:ro` refuses every write with EROFS; `--tmpfs` starts
//!   empty and leaves nothing behind.
//! - Paths: `..` past `/`, absolute and `..`-chain symlinks, symlink loops,
//!   `/proc/self/{root,cwd,fd/N}/..`, `openat` of `..` from a directory fd of
//!   `/`, a chroot breakout, a bind mount's `..`, and a rename race that moves
//!   the directory being walked between depths (in the overlay, with
//!   `--rw-root`, and in a bind) never open the secret files placed at each
//!   of the three levels above the root; their access times show that
//!   nothing read them.
//! - No host syscalls: `int $0x80`, `sysenter`, a jump or call to the stub's
//!   syscall gadget or to any syscall opcode in the (readable) stub page, a
//!   vsyscall, remapping the stub page, and privileged calls. Each would-be
//!   host syscall is a `mkdir` of a marker directory on the host, and the
//!   sentry runs with the default overlay root, so a marker can only appear
//!   if the host kernel executed the guest's instruction. While the guest
//!   blocks, its stub is checked: `Seccomp: 2`, only the memory file open,
//!   no host mapping but guest memory, the stub page and `[vsyscall]`, its
//!   own session, traced by the sentry.
//! - The sentry stays in charge: SIGKILL to the sentry (guest sleeping or
//!   spinning in threads) leaves no stub after 1 s; a guest crash is 139; a
//!   spinning guest ends at `--timeout`; SIGINT reaches a guest blocked on a
//!   full stdout pipe, Ctrl-C reaches a shell trap, SIGTERM/SIGHUP reach init.
//! - Limits: `--memory` (malloc until it fails, and every other way to get
//!   memory: unprotecting, mremap, NORESERVE, shared, fork copies, in-memory
//!   files), `--max-procs` against a fork bomb, `--max-fds`.
//!
//! The tests share one lock: most measure time or count processes, which
//! a concurrent fork bomb would disturb.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tests::{
    Background, Failures, Invocation, Outcome, Scratch, busybox, compare, fixed_env, guest_program,
    leftovers_after_exit, lines, os, run_command, run_native, run_sentry_raw, sentry_command,
    set_tree_mtime, snapshot, write_file,
};

/// Serializes the tests of this file (see the module doc).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// An old timestamp for fixtures, so that a change shows in [`snapshot`] and
/// a read shows in the access time (relatime updates an atime that is not
/// newer than the mtime).
const OLD: i64 = 1_000_000_000;

/// How the sentry process itself is started: cwd `/`, the fixed environment,
/// the default timeout (the program named here is not used).
fn sentry_process() -> Invocation {
    Invocation::new("sentry")
}

/// `sentry run` arguments: a cleared environment set to [`fixed_env`], then
/// `options`, then PROGRAM and ARGS. Unlike `run_sentry_with`, nothing of
/// the host is bound into the guest.
fn sentry_args<S: AsRef<std::ffi::OsStr>>(options: &[S], program_and_args: &[S]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["--clear-env".into()];
    for (k, v) in fixed_env() {
        args.push("--env".into());
        args.push(format!("{k}={v}").into());
    }
    args.extend(options.iter().map(|o| o.as_ref().to_owned()));
    args.extend(program_and_args.iter().map(|o| o.as_ref().to_owned()));
    args
}

/// Runs `sentry run OPTIONS PROGRAM ARGS...` (see [`sentry_args`]).
fn sentry<S: AsRef<std::ffi::OsStr>>(options: &[S], program_and_args: &[S]) -> Outcome {
    run_sentry_raw(&sentry_process(), &sentry_args(options, program_and_args))
}

/// A scratch "host root": a few directories and files, a symlink, a
/// read-only file, an empty directory, and a copy of busybox.
fn make_root(dir: &Path) {
    std::fs::create_dir_all(dir.join("bin")).expect("mkdir bin");
    std::fs::copy(busybox(), dir.join("bin/busybox")).expect("copy busybox");
    write_file(&dir.join("etc/greeting"), "hello from the host\n");
    write_file(&dir.join("etc/remove-me"), "doomed\n");
    write_file(&dir.join("data/sub/f"), "original contents\n");
    write_file(&dir.join("data/readonly"), "read only\n");
    std::fs::set_permissions(
        dir.join("data/readonly"),
        std::fs::Permissions::from_mode(0o444),
    )
    .expect("chmod");
    std::fs::create_dir_all(dir.join("data/empty-dir")).expect("mkdir");
    std::os::unix::fs::symlink("../etc/greeting", dir.join("data/greeting-link")).expect("ln");
    set_tree_mtime(dir, OLD);
}

/// Err with `what` and both snapshots unless `after` equals `before`.
fn unchanged(what: &str, before: &[String], after: &[String]) -> Result<(), String> {
    if before == after {
        return Ok(());
    }
    let gone: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
    let new: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
    Err(format!(
        "--- {what}: the host tree changed\n  before only: {gone:#?}\n  after only: {new:#?}"
    ))
}

/// Err unless the run ended with `status`, printed `stdout`, and left nothing.
fn expect_out(what: &str, out: &Outcome, status: i32, stdout: &str) -> Result<(), String> {
    if out.status == status && out.stdout_str() == stdout && out.notes.is_empty() {
        return Ok(());
    }
    Err(format!(
        "--- {what}: want status {status} and stdout {stdout:?};\n  got status {}, stdout {:?}, stderr {:?}, notes {:?}",
        out.status,
        out.stdout_str(),
        out.stderr_str(),
        out.notes
    ))
}

/// Whether stderr is exactly one non-empty line.
fn one_line(out: &Outcome) -> bool {
    let err = out.stderr_str();
    !err.trim().is_empty() && !err.trim_end_matches('\n').contains('\n')
}

// ---------------------------------------------------------------------------
// Overlay, binds, tmpfs
// ---------------------------------------------------------------------------

/// `rm -rf /` under the default overlay. Everything a guest can remove is
/// removed from its view; what is left are the mount points of the
/// synthetic `/dev` and `/proc` (a mount point cannot be removed, and its
/// contents are not files of the overlay). The rule does not depend on
/// whether the host root has directories there, so both kinds of root are
/// tried. The host tree must not change at all.
#[test]
fn overlay_rm_rf_root_leaves_host_untouched() {
    let _serial = serial();
    let mut failures = Failures::new();
    for with_mount_dirs in [true, false] {
        let scratch = Scratch::new("esc-rmrf");
        let root = scratch.join("root");
        make_root(&root);
        if with_mount_dirs {
            for d in ["dev", "proc"] {
                std::fs::create_dir(root.join(d)).expect("mkdir");
            }
            set_tree_mtime(&root, OLD);
        }
        let before = snapshot(&root);
        let out = sentry(
            &[os("--root"), os(&root)],
            &[
                os("/bin/busybox"),
                os("sh"),
                os("-c"),
                os("rm -rf / 2>/dev/null; ls -A /"),
            ],
        );
        let what = if with_mount_dirs {
            "rm -rf / with dev/ and proc/ in the host root"
        } else {
            "rm -rf / with no dev/ or proc/ in the host root"
        };
        failures.check(expect_out(what, &out, 0, "dev\nproc\n"));
        failures.check(unchanged(what, &before, &snapshot(&root)));
    }
    failures.finish("rm -rf / in the overlay");
}

/// A script of changes, run with its cwd at the root of the tree it changes
/// (relative paths only), that prints what it sees afterwards.
const CHANGES: &str = r#"
set -e
echo created > new.txt
echo appended >> etc/greeting
printf 'rewritten\n' > data/sub/f
mv data/sub data/moved
mv new.txt data/moved/new.txt
chmod 600 etc/greeting
chmod 711 data/moved
chmod 644 data/readonly
echo 'no longer read-only' >> data/readonly
mkdir -p made/deep/er
echo deep > made/deep/er/file
rm etc/remove-me
rmdir data/empty-dir
ln -s ../etc/greeting made/link
ln data/moved/new.txt made/hard
truncate -s 4 made/deep/er/file
cat etc/greeting data/moved/f data/moved/new.txt made/deep/er/file made/link made/hard data/readonly data/greeting-link
echo
stat -c '%n %a %s %h' etc/greeting data/moved data/moved/new.txt made/hard made/deep/er/file data/readonly
readlink made/link
for p in etc/remove-me data/empty-dir data/sub new.txt; do [ ! -e $p ] && echo "$p is gone"; done
find . -path ./dev -prune -o -path ./proc -prune -o -print | sort
"#;

/// A copy of a fresh [`make_root`] tree changed by [`CHANGES`] natively, and
/// what the script printed.
fn native_changes(scratch: &Scratch) -> (Vec<String>, Outcome) {
    let dir = scratch.join("native");
    make_root(&dir);
    let out = run_native(&Invocation::busybox(&["sh", "-c", CHANGES]).cwd(&dir));
    assert!(
        out.status == 0,
        "the change script fails natively: {}\n{}",
        out.stdout_str(),
        out.stderr_str()
    );
    (snapshot(&dir), out)
}

/// The guest changes its root freely and reads its changes back (the same
/// output as the native run on a real copy), the host tree stays as it was,
/// and a second guest starts from the unchanged tree again. A guest that
/// deletes its own binary can still run it, as natively.
#[test]
fn overlay_guest_sees_its_changes_host_does_not() {
    let _serial = serial();
    let scratch = Scratch::new("esc-overlay");
    let (_, native) = native_changes(&scratch);
    let root = scratch.join("root");
    make_root(&root);
    let before = snapshot(&root);
    let mut failures = Failures::new();

    let out = sentry(
        &[os("--root"), os(&root)],
        &[os("/bin/busybox"), os("sh"), os("-c"), os(CHANGES)],
    );
    failures.check(compare(
        "the change script in the overlay",
        &native,
        &out,
        Default::default(),
    ));
    failures.check(unchanged(
        "after the overlay run",
        &before,
        &snapshot(&root),
    ));

    let again = sentry(
        &[os("--root"), os(&root)],
        &[
            os("/bin/busybox"),
            os("sh"),
            os("-c"),
            os("cat etc/greeting etc/remove-me data/sub/f; ls data"),
        ],
    );
    failures.check(expect_out(
        "a second guest sees the host tree",
        &again,
        0,
        "hello from the host\ndoomed\noriginal contents\nempty-dir\ngreeting-link\nreadonly\nsub\n",
    ));

    // Deleting the very binary that runs: Linux keeps it reachable through
    // /proc/self/exe, which busybox sh executes for its applets.
    let script = "rm bin/busybox; cat etc/greeting; echo status $?";
    let native_copy = scratch.join("native-exe");
    make_root(&native_copy);
    let native = run_native(&Invocation::busybox(&["sh", "-c", script]).cwd(&native_copy));
    let out = sentry(
        &[os("--root"), os(&root)],
        &[os("/bin/busybox"), os("sh"), os("-c"), os(script)],
    );
    failures.check(compare(
        "running applets after deleting /bin/busybox",
        &native,
        &out,
        Default::default(),
    ));
    failures.check(unchanged(
        "after deleting /bin/busybox",
        &before,
        &snapshot(&root),
    ));
    failures.finish("overlay");
}

/// `--rw-root` writes through: the host tree ends exactly like the native
/// run's copy.
#[test]
fn rw_root_writes_through() {
    let _serial = serial();
    let scratch = Scratch::new("esc-rwroot");
    let (native_tree, native) = native_changes(&scratch);
    let root = scratch.join("root");
    make_root(&root);
    let mut failures = Failures::new();
    let out = sentry(
        &[os("--rw-root"), os("--root"), os(&root)],
        &[os("/bin/busybox"), os("sh"), os("-c"), os(CHANGES)],
    );
    failures.check(compare(
        "the change script with --rw-root",
        &native,
        &out,
        Default::default(),
    ));
    let tree = snapshot(&root);
    failures.check(if tree == native_tree {
        Ok(())
    } else {
        Err(format!(
            "--- --rw-root: the host tree differs from the native run's\n  native: {native_tree:#?}\n  sentry: {tree:#?}"
        ))
    });
    failures.finish("--rw-root");
}

/// `--bind X:/mnt:rw`: the changes land on the host exactly as natively;
/// the rest of the root (the overlay) stays untouched.
#[test]
fn rw_bind_writes_land_on_the_host() {
    let _serial = serial();
    let scratch = Scratch::new("esc-rwbind");
    let (native_tree, native) = native_changes(&scratch);
    let root = scratch.join("root");
    make_root(&root);
    let shared = scratch.join("shared");
    make_root(&shared);
    let root_before = snapshot(&root);
    let mut failures = Failures::new();
    let out = sentry(
        &[
            os("--root"),
            os(&root),
            os("--bind"),
            format!("{}:/mnt:rw", shared.display()).into(),
            os("--cwd"),
            os("/mnt"),
        ],
        &[os("/bin/busybox"), os("sh"), os("-c"), os(CHANGES)],
    );
    failures.check(compare(
        "the change script in a rw bind",
        &native,
        &out,
        Default::default(),
    ));
    let tree = snapshot(&shared);
    failures.check(if tree == native_tree {
        Ok(())
    } else {
        Err(format!(
            "--- --bind :rw: the host directory differs from the native run's\n  native: {native_tree:#?}\n  sentry: {tree:#?}"
        ))
    });
    failures.check(unchanged(
        "the root around a rw bind",
        &root_before,
        &snapshot(&root),
    ));
    failures.finish("--bind rw");
}

/// `--bind X:/mnt:ro`: every kind of write fails with EROFS ("Read-only
/// file system"), reads work, the host directory does not change.
#[test]
fn ro_bind_refuses_writes() {
    let _serial = serial();
    let scratch = Scratch::new("esc-robind");
    let root = scratch.join("root");
    make_root(&root);
    let shared = scratch.join("shared");
    make_root(&shared);
    let before = snapshot(&shared);
    let writes = [
        "echo x > /mnt/new-file",
        "echo x >> /mnt/etc/greeting",
        "echo x > /mnt/etc/greeting",
        "rm /mnt/etc/remove-me",
        "rm -r /mnt/data",
        "rmdir /mnt/data/empty-dir",
        "mkdir /mnt/new-dir",
        "mv /mnt/etc/greeting /mnt/etc/renamed",
        "mv /mnt/etc/greeting /moved-out",
        "chmod 777 /mnt/etc/greeting",
        "chown 1:1 /mnt/etc/greeting",
        "touch /mnt/etc/greeting",
        "truncate -s 0 /mnt/etc/greeting",
        "ln -s target /mnt/new-link",
        "ln /mnt/etc/greeting /mnt/hard-link",
        "mkfifo /mnt/fifo",
    ];
    let mut script = String::new();
    for w in writes {
        script.push_str(&format!(
            "if ( {w} ) 2>/err; then echo '{w}: succeeded'; else grep -q 'Read-only file system' /err && echo '{w}: EROFS' || {{ echo '{w}: other error:'; cat /err; }}; fi\n"
        ));
    }
    script.push_str("cat /mnt/etc/greeting /mnt/data/sub/f\n");
    let expected: String = writes
        .iter()
        .map(|w| format!("{w}: EROFS\n"))
        .chain(["hello from the host\noriginal contents\n".to_string()])
        .collect();
    let out = sentry(
        &[
            os("--root"),
            os(&root),
            os("--bind"),
            format!("{}:/mnt:ro", shared.display()).into(),
        ],
        &[os("/bin/busybox"), os("sh"), os("-c"), os(&script)],
    );
    let mut failures = Failures::new();
    failures.check(expect_out("writes into a ro bind", &out, 0, &expected));
    failures.check(unchanged("a ro bind", &before, &snapshot(&shared)));
    failures.finish("--bind ro");
}

/// `--tmpfs /scratch` (a new directory) and `--tmpfs /data` (over a
/// non-empty host directory) start empty, hold what the guest writes, and
/// leave nothing on the host.
#[test]
fn tmpfs_starts_empty_and_leaves_nothing() {
    let _serial = serial();
    let scratch = Scratch::new("esc-tmpfs");
    let root = scratch.join("root");
    make_root(&root);
    let before = snapshot(&root);
    let script = "ls -A /scratch /data; \
                  echo one > /scratch/f; mkdir /scratch/d; echo two > /scratch/d/g; \
                  echo three > /data/h; cat /scratch/f /scratch/d/g /data/h; ls -A /scratch /data";
    let out = sentry(
        &[
            os("--root"),
            os(&root),
            os("--tmpfs"),
            os("/scratch"),
            os("--tmpfs"),
            os("/data"),
        ],
        &[os("/bin/busybox"), os("sh"), os("-c"), os(script)],
    );
    let mut failures = Failures::new();
    failures.check(expect_out(
        "--tmpfs",
        &out,
        0,
        "/data:\n\n/scratch:\none\ntwo\nthree\n/data:\nh\n\n/scratch:\nd\nf\n",
    ));
    failures.check(unchanged("--tmpfs", &before, &snapshot(&root)));
    failures.finish("--tmpfs");
}

// ---------------------------------------------------------------------------
// Paths
// ---------------------------------------------------------------------------

/// The marker written into every secret file.
const SECRET_MARKER: &str = "HOST-SECRET-d41d8cd98f00";

/// A root at `<scratch>/l1/l2/root` with a secret file at each of
/// `<scratch>/l1/l2`, `<scratch>/l1` and `<scratch>` (so an escape by one,
/// two or three levels would find one), a control file with the same old
/// times that the test reads itself, and the guest's symlink traps.
struct PathFixture {
    _scratch: Scratch,
    root: PathBuf,
    secrets: Vec<PathBuf>,
    control: PathBuf,
    /// A directory next to the root, for `--bind`.
    bind_src: PathBuf,
}

impl PathFixture {
    fn new() -> Self {
        let scratch = Scratch::new("esc-paths");
        let l2 = scratch.join("l1/l2");
        let root = l2.join("root");
        std::fs::create_dir_all(root.join("bin")).expect("mkdir");
        std::fs::copy(busybox(), root.join("bin/busybox")).expect("copy busybox");
        std::fs::create_dir_all(root.join("test")).expect("mkdir");
        std::fs::copy(guest_program("esc_paths"), root.join("test/esc_paths")).expect("copy");
        write_file(&root.join("inside.txt"), "inside the root\n");
        std::fs::create_dir_all(root.join("race/a/b/c/d")).expect("mkdir");
        let link = |target: &str, name: &str| {
            let path = root.join(name);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::os::unix::fs::symlink(target, &path).expect("symlink");
        };
        let secret_in_l2 = l2.join("secret");
        link(&secret_in_l2.display().to_string(), "abs");
        link(&l2.display().to_string(), "absdir");
        link("/etc/passwd", "abs-passwd");
        link("../../../../..", "up");
        link("../..", "bin/up2");
        link("chain2", "chain1");
        link("bin/chain3", "chain2");
        link("../../../..", "bin/chain3");
        link("loop2", "loop1");
        link("loop1", "loop2");
        link("self", "self");
        // c0 -> c1 -> ... -> c40 -> inside.txt: 41 links from c0, 40 from c1.
        for i in 0..=40 {
            let target = if i == 40 {
                "inside.txt".to_string()
            } else {
                format!("c{}", i + 1)
            };
            link(&target, &format!("c{i}"));
        }
        let bind_src = l2.join("bindsrc");
        std::fs::create_dir_all(bind_src.join("a/b/c/d")).expect("mkdir");
        std::os::unix::fs::symlink("../secret", bind_src.join("up")).expect("symlink");

        let secrets: Vec<PathBuf> = [&l2, &scratch.join("l1"), &scratch.path().to_path_buf()]
            .iter()
            .map(|d| d.join("secret"))
            .collect();
        for s in &secrets {
            write_file(s, format!("{SECRET_MARKER} {}\n", s.display()));
        }
        let control = scratch.join("control");
        write_file(&control, "control\n");
        for f in secrets.iter().chain([&control]) {
            tests::set_mtime(f, OLD);
        }
        PathFixture {
            _scratch: scratch,
            root,
            secrets,
            control,
            bind_src,
        }
    }

    /// Err if a secret was read or changed. Its access time only proves
    /// something if reading the control file moved the control's.
    fn check_secrets(&self) -> Result<(), String> {
        let atime = |p: &Path| std::fs::metadata(p).map(|m| m.atime()).unwrap_or(-1);
        let mut problems = Vec::new();
        let atime_works = {
            let _ = std::fs::read(&self.control);
            atime(&self.control) != OLD
        };
        for s in &self.secrets {
            if atime_works && atime(s) != OLD {
                problems.push(format!("{} was read (atime changed)", s.display()));
            }
            let want = format!("{SECRET_MARKER} {}\n", s.display());
            if std::fs::read_to_string(s).ok().as_deref() != Some(want.as_str()) {
                problems.push(format!("{} changed", s.display()));
            }
        }
        if !atime_works {
            println!(
                "note: this filesystem does not update atimes; secrets checked by content only"
            );
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "--- secrets outside the root: {}",
                problems.join("; ")
            ))
        }
    }
}

/// Err if `out` shows an opened secret, or a host path leaked into it.
fn no_secret(what: &str, out: &Outcome, fixture: &PathFixture) -> Result<(), String> {
    let text = format!("{}{}", out.stdout_str(), out.stderr_str());
    let leaked = text.contains(SECRET_MARKER) || text.contains("root:x:0:0");
    let host_path = text.contains(&fixture.root.display().to_string());
    if leaked || host_path {
        return Err(format!(
            "--- {what}: {}\n{text}",
            if leaked {
                "THE GUEST READ A HOST FILE OUTSIDE ITS ROOT"
            } else {
                "a host path leaked into the guest's view"
            }
        ));
    }
    Ok(())
}

/// Every path trick, opened by the guest: nothing outside the root opens;
/// `..` and symlinks resolve as if the root were `/` (ENOENT for the
/// missing `/secret`), loops give ELOOP after Linux's 40 links.
#[test]
fn paths_never_leave_the_root() {
    let _serial = serial();
    let fixture = PathFixture::new();
    let root_opts = [os("--root"), os(&fixture.root)];
    let mut failures = Failures::new();

    let cases: &[(&str, &str)] = &[
        ("/inside.txt", "OPENED inside the root"),
        ("/../secret", "ENOENT"),
        ("/../../../secret", "ENOENT"),
        ("../../secret", "ENOENT"),
        ("/bin/../../secret", "ENOENT"),
        ("/race/a/b/c/d/../../../../../../../../secret", "ENOENT"),
        ("/../inside.txt", "OPENED inside the root"),
        ("/abs", "ENOENT"),
        ("/absdir/secret", "ENOENT"),
        ("/abs-passwd", "ENOENT"),
        ("/up/secret", "ENOENT"),
        ("/up/inside.txt", "OPENED inside the root"),
        ("/bin/up2/secret", "ENOENT"),
        ("/chain1/secret", "ENOENT"),
        ("/loop1", "ELOOP"),
        ("/loop1/x", "ELOOP"),
        ("/self", "ELOOP"),
        ("/c1", "OPENED inside the root"),
        ("/c0", "ELOOP"),
        ("/proc/self/root/../secret", "ENOENT"),
        ("/proc/self/root/../../../secret", "ENOENT"),
        ("/proc/1/root/../secret", "ENOENT"),
        ("/proc/self/cwd/../../secret", "ENOENT"),
        ("/dev/../../secret", "ENOENT"),
        ("/proc/../../secret", "ENOENT"),
    ];
    let mut argv = vec![os("/test/esc_paths"), os("open")];
    argv.extend(cases.iter().map(|(p, _)| os(p)));
    let out = sentry(&root_opts, &argv);
    let expected: String = cases.iter().map(|(p, r)| format!("{p}: {r}\n")).collect();
    failures.check(expect_out(
        "esc_paths open ... under --root",
        &out,
        0,
        &expected,
    ));
    failures.check(no_secret("esc_paths open", &out, &fixture));

    // The symlink-count rule is Linux's: check the expectation natively
    // (relative paths from the root directory itself).
    let native = run_native(
        &Invocation::new(guest_program("esc_paths"))
            .args(&["open", "c1", "c0", "loop1", "self"])
            .cwd(&fixture.root),
    );
    failures.check(expect_out(
        "native symlink limits",
        &native,
        0,
        "c1: OPENED inside the root\nc0: ELOOP\nloop1: ELOOP\nself: ELOOP\n",
    ));

    let out = sentry(&root_opts, &[os("/test/esc_paths"), os("magic")]);
    let expected = "proc_self_cwd_up: ENOENT\n\
                    proc_self_cwd_up3: ENOENT\n\
                    proc_self_root_up: ENOENT\n\
                    proc_1_root_up: ENOENT\n\
                    proc_self_cwd_etc: ENOENT\n\
                    proc_fd_up: ENOENT\n\
                    proc_opath_fd_up: ENOENT\n\
                    dev_fd_up: ENOENT\n\
                    openat_up: ENOENT\n\
                    openat_up2: ENOENT\n\
                    openat_passwd: ENOENT\n\
                    openat_opath_up: ENOENT\n\
                    fchdir_up: cwd=/\n\
                    fchdir_up_open: ENOENT\n\
                    guest_symlink: ENOENT\n\
                    guest_symlink_up: ENOENT\n";
    let stdout = out.stdout_str();
    // chroot is either refused, or allowed and then contained.
    let chroot_ok = stdout.ends_with("chroot: EPERM\n")
        || stdout.ends_with("chroot: ok\nchroot_breakout: cwd=/\nchroot_breakout_open: ENOENT\n");
    failures.check(
        if out.status == 0 && stdout.starts_with(expected) && chroot_ok && out.notes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "--- esc_paths magic: want\n{expected}(then a refused or contained chroot)\n  got status {}, stdout:\n{stdout}  stderr {:?}, notes {:?}",
                out.status,
                out.stderr_str(),
                out.notes
            ))
        },
    );
    failures.check(no_secret("esc_paths magic", &out, &fixture));

    // `..` at a bind mount's root goes to the guest's parent directory, never
    // to the host directory above the bound one (which holds a secret).
    let bind = format!("{}:/mnt:rw", fixture.bind_src.display());
    let bind_cases: &[(&str, &str)] = &[
        ("/mnt/../secret", "ENOENT"),
        ("/mnt/../inside.txt", "OPENED inside the root"),
        ("/mnt/a/../../secret", "ENOENT"),
        ("/mnt/a/b/c/d/../../../../../secret", "ENOENT"),
        ("/mnt/up", "ENOENT"),
    ];
    let mut argv = vec![os("/test/esc_paths"), os("open")];
    argv.extend(bind_cases.iter().map(|(p, _)| os(p)));
    let out = sentry(
        &[os("--root"), os(&fixture.root), os("--bind"), os(&bind)],
        &argv,
    );
    let expected: String = bind_cases
        .iter()
        .map(|(p, r)| format!("{p}: {r}\n"))
        .collect();
    failures.check(expect_out(
        "esc_paths open through a bind",
        &out,
        0,
        &expected,
    ));
    failures.check(no_secret("esc_paths open through a bind", &out, &fixture));

    failures.check(fixture.check_secrets());
    failures.finish("paths");
}

/// Parses `race: renames=R opens=O opened=K errors=E:n,...`.
fn race_summary(stdout: &str) -> Option<(u64, u64, u64, String)> {
    let line = stdout.lines().find(|l| l.starts_with("race: renames="))?;
    let field = |name: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .map(str::to_string)
    };
    Some((
        field("renames=")?.parse().ok()?,
        field("opens=")?.parse().ok()?,
        field("opened=")?.parse().ok()?,
        field("errors=")?,
    ))
}

/// One guest process renames `/race/a/b` to `/race/b` and back 10,000
/// times while two others keep opening paths with more `..` than the
/// directory they walk is deep: in the overlay, with `--rw-root` (real host
/// renames), and in a read-write bind (whose host parent holds a secret).
/// No open may succeed; every failure is ENOENT; the host tree ends as it
/// began (an even number of renames).
#[test]
fn rename_race_never_escapes() {
    let _serial = serial();
    let fixture = PathFixture::new();
    let bind = format!("{}:/mnt:rw", fixture.bind_src.display());
    let mut failures = Failures::new();
    let root_before = snapshot(&fixture.root);
    let bind_before = snapshot(&fixture.bind_src);
    let variants: Vec<(&str, Vec<OsString>, &str)> = vec![
        ("overlay", vec![os("--root"), os(&fixture.root)], "/race"),
        (
            "--rw-root",
            vec![os("--rw-root"), os("--root"), os(&fixture.root)],
            "/race",
        ),
        (
            "rw bind",
            vec![os("--root"), os(&fixture.root), os("--bind"), os(&bind)],
            "/mnt",
        ),
    ];
    for (what, options, base) in variants {
        let started = Instant::now();
        let out = sentry(
            &options,
            &[os("/test/esc_paths"), os("race"), os(base), os("10000")],
        );
        println!(
            "race ({what}): {:.1} s: {}",
            started.elapsed().as_secs_f64(),
            out.stdout_str().trim()
        );
        let summary = race_summary(&out.stdout_str());
        let ok = matches!(
            &summary,
            Some((10000, opens, 0, errors)) if *opens > 0 && *errors == format!("ENOENT:{opens}")
        );
        failures.check(
            if ok && out.status == 0 && out.notes.is_empty() && !out.stdout_str().contains("OPENED") {
                Ok(())
            } else {
                Err(format!(
                    "--- rename race ({what}): want 10000 renames, no open succeeding, only ENOENT;\n  got status {}, stdout {:?}, stderr {:?}, notes {:?}",
                    out.status,
                    out.stdout_str(),
                    out.stderr_str(),
                    out.notes
                ))
            },
        );
        failures.check(no_secret(&format!("rename race ({what})"), &out, &fixture));
    }
    failures.check(unchanged(
        "root after the races",
        &root_before,
        &snapshot(&fixture.root),
    ));
    failures.check(unchanged(
        "bind after the race",
        &bind_before,
        &snapshot(&fixture.bind_src),
    ));
    failures.check(fixture.check_secrets());
    failures.finish("rename race");
}

// ---------------------------------------------------------------------------
// No host syscalls
// ---------------------------------------------------------------------------

/// Children of `sentry` that are stub processes (exe `/memfd:sentry-stub`),
/// not zombies.
fn stubs_of(sentry: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            fields.get(1).and_then(|p| p.parse::<i32>().ok()) == Some(sentry)
                && fields.first() != Some(&"Z")
                && is_stub(pid)
        })
        .collect()
}

/// Whether `pid` is a live (not zombie) stub process.
fn is_stub(pid: i32) -> bool {
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .and_then(|(_, r)| r.split_whitespace().next().map(str::to_string))
        });
    state.is_some_and(|s| s != "Z")
        && std::fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|e| e.to_string_lossy().contains("sentry-stub"))
}

/// Waits up to `timeout` for a stub of `sentry` to exist.
fn wait_for_stubs(sentry: i32, timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        let stubs = stubs_of(sentry);
        if !stubs.is_empty() || Instant::now() >= deadline {
            return stubs;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `timeout` for every pid in `stubs` to be gone (or a zombie);
/// returns the ones still running (after killing them, so nothing lingers).
fn stubs_gone(stubs: &[i32], timeout: Duration) -> Vec<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        let alive: Vec<i32> = stubs.iter().copied().filter(|&p| is_stub(p)).collect();
        if alive.is_empty() || Instant::now() >= deadline {
            for &p in &alive {
                let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            }
            return alive;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What is wrong with stub `pid` of `sentry`, by its /proc entries.
fn inspect_stub(pid: i32, sentry: i32) -> Vec<String> {
    let mut problems = Vec::new();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    if !status.lines().any(|l| l == "Seccomp:\t2") {
        problems.push(format!(
            "stub {pid}: no `Seccomp:\\t2` line in its status: {:?}",
            status.lines().find(|l| l.starts_with("Seccomp:"))
        ));
    }
    let tracer: i32 = status
        .lines()
        .find_map(|l| l.strip_prefix("TracerPid:\t"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let tracer_tgid: i32 = std::fs::read_to_string(format!("/proc/{tracer}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:\t"))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if tracer == 0 || tracer_tgid != sentry {
        problems.push(format!(
            "stub {pid}: traced by {tracer} (process {tracer_tgid}), not by the sentry {sentry}"
        ));
    }
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.flatten()
                .map(|e| {
                    format!(
                        "{} -> {}",
                        e.file_name().to_string_lossy(),
                        std::fs::read_link(e.path())
                            .map(|t| t.display().to_string())
                            .unwrap_or_default()
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if fds.len() != 1 || !fds[0].starts_with("3 -> /memfd:sentry-memory") {
        problems.push(format!(
            "stub {pid}: open fds {fds:?}, want only 3 -> /memfd:sentry-memory"
        ));
    }
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
    for line in maps.lines() {
        let name = line.split_whitespace().nth(5).unwrap_or("");
        let allowed = name.starts_with("/memfd:sentry-memory")
            || name.starts_with("/memfd:sentry-stub")
            || ["[vsyscall]", "[vdso]", "[vvar]", "[vvar_vclock]"].contains(&name);
        if !allowed {
            problems.push(format!("stub {pid}: host mapping {line:?}"));
        }
        if name.starts_with("/memfd:sentry-stub")
            && !line.starts_with("7ffaf0000000-7ffaf0001000 r-x")
        {
            problems.push(format!("stub {pid}: stub page mapped as {line:?}"));
        }
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let sid = stat
        .rsplit_once(')')
        .and_then(|(_, r)| r.split_whitespace().nth(3).map(str::to_string));
    if sid != Some(pid.to_string()) {
        problems.push(format!("stub {pid}: session {sid:?}, want its own"));
    }
    problems
}

/// `esc_syscalls`: 32-bit entries, the stub's gadget and every syscall
/// opcode in the stub page, a vsyscall, remapping the stub page and the
/// privileged calls, each with the answer Linux gives an unprivileged
/// process without a 32-bit ABI, and no marker directory on the host. The
/// probes that Linux defines the same way natively (faults) are compared
/// with a native run.
#[test]
fn guest_cannot_make_host_syscalls() {
    let _serial = serial();
    let scratch = Scratch::new("esc-syscalls");
    let native_markers = scratch.join("native-markers");
    let guest_markers = scratch.join("guest-markers");
    for d in [&native_markers, &guest_markers] {
        std::fs::create_dir(d).expect("mkdir");
    }
    let program = guest_program("esc_syscalls");
    let mut failures = Failures::new();

    let native = run_native(&Invocation::new(&program).arg("native").arg(&native_markers));
    assert_eq!(
        native.status,
        0,
        "native esc_syscalls: {}",
        native.stderr_str()
    );
    let native_line = |name: &str| {
        lines(&native.stdout)
            .into_iter()
            .find(|l| l.starts_with(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("native esc_syscalls printed no {name} line"))
    };

    // The default overlay root: a mkdir the sentry emulated could only land
    // in the overlay, so a marker on the host means the host kernel did it.
    let run_args = sentry_args(
        &[] as &[OsString],
        &[os(&program), os("all"), os(&guest_markers)],
    );
    let mut sentry = Background::spawn(sentry_command(&sentry_process(), &run_args));
    let sentry_pid = sentry.pid().as_raw();
    let out = sentry.stdout_lines();
    let mut stdin = sentry.child().stdin.take().expect("stdin");
    let mut err_pipe = sentry.child().stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let mut got = Vec::new();
    loop {
        match out.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line == "ready" => break,
            Ok(line) => got.push(line),
            Err(_) => {
                let status = sentry.wait_timeout(Duration::from_secs(1));
                panic!("no `ready` from esc_syscalls (status {status:?}); it printed {got:#?}");
            }
        }
    }
    // The probes' children are reaped; their stubs may take a moment to go.
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut stubs = stubs_of(sentry_pid);
    while stubs.len() > 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        stubs = stubs_of(sentry_pid);
    }
    failures.check(if stubs.len() == 1 {
        Ok(())
    } else {
        Err(format!(
            "--- want one stub while the guest blocks, found {stubs:?}"
        ))
    });
    for &stub in &stubs {
        let problems = inspect_stub(stub, sentry_pid);
        failures.check(if problems.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "--- the stub of a blocked guest:\n  {}",
                problems.join("\n  ")
            ))
        });
    }
    let _ = stdin.write_all(b"go\n");
    drop(stdin);
    while let Ok(line) = out.recv_timeout(Duration::from_secs(20)) {
        got.push(line);
    }
    let status = sentry.wait_timeout(Duration::from_secs(10));
    let stderr = stderr.join().unwrap_or_default();

    let mut expected: Vec<String> = ["int80_getpid: -38", "int80_mkdir: -38"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for name in ["sysenter", "gadget_jmp", "gadget_call", "stub_write"] {
        expected.push(native_line(name));
    }
    expected.extend(
        [
            "mmap_fixed: ENOMEM",
            "mmap_fixed_noreplace: ENOMEM",
            "mmap_fixed_straddle: ENOMEM",
            "mmap_hint: below the stub",
            "mprotect_stub: ENOMEM",
            "madvise_stub: ENOMEM",
            "priv_ptrace_traceme: EPERM",
            "priv_ptrace_attach: EPERM",
            "priv_process_vm_readv: EPERM",
            "priv_process_vm_writev: EPERM",
            "priv_kexec_load: EPERM",
            "priv_bpf: EPERM",
            "priv_mount: EPERM",
            "priv_umount2: EPERM",
            "priv_unshare: EPERM",
            "priv_setns: EPERM",
            "priv_init_module: EPERM",
            "priv_perf_event_open: EACCES",
            "priv_io_uring_setup: ENOSYS",
            "gadget_jmp_after: signal SEGV",
            "stub_write_after: signal SEGV",
            "done",
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    for want in &expected {
        failures.check(if got.contains(want) {
            Ok(())
        } else {
            let name = want.split(':').next().unwrap_or(want);
            Err(format!(
                "--- esc_syscalls: want `{want}`, got {:?}",
                got.iter().find(|l| l.starts_with(&format!("{name}:")))
            ))
        });
    }
    // Lines whose exact answer is the sentry's choice, within limits.
    let line_of = |name: &str| {
        got.iter()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or("(missing)")
            .to_string()
    };
    let scan = line_of("stub_scan");
    failures.check(
        if scan == "unreadable"
            || scan
                .split_once(": ")
                .is_some_and(|(_, how)| how.split(", ").all(|h| h == "signal SEGV"))
        {
            Ok(())
        } else {
            Err(format!(
                "--- stub_scan: every syscall opcode in the stub page must fault (SIGSEGV); got {scan:?}"
            ))
        },
    );
    let vsyscall = line_of("vsyscall");
    failures.check(
        if ["signal SEGV", "signal KILL", "signal SYS", "exit 0"].contains(&vsyscall.as_str()) {
            Ok(())
        } else {
            Err(format!(
                "--- vsyscall: want a fault or an emulated time(); got {vsyscall:?}"
            ))
        },
    );
    for (name, allowed) in [
        ("mremap_onto_stub", &["EINVAL", "ENOMEM", "EFAULT"][..]),
        ("munmap_stub", &["ok", "EINVAL"][..]),
        ("shmat_stub", &["EINVAL", "ENOMEM", "shmget ENOSYS"][..]),
    ] {
        let v = line_of(name);
        failures.check(if allowed.contains(&v.as_str()) {
            Ok(())
        } else {
            Err(format!("--- {name}: want one of {allowed:?}; got {v:?}"))
        });
    }
    failures.check(
        if status == Some(0) && leftovers_after_exit(sentry.pid()).is_empty() {
            Ok(())
        } else {
            Err(format!(
                "--- esc_syscalls under the sentry: status {status:?} (want 0), stderr {stderr:?}"
            ))
        },
    );

    let markers: Vec<String> = std::fs::read_dir(&guest_markers)
        .expect("read markers")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    failures.check(if markers.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "--- THE HOST KERNEL EXECUTED GUEST SYSCALLS: marker directories {markers:?} exist on the host"
        ))
    });
    failures.finish("no host syscalls");
}

// ---------------------------------------------------------------------------
// The sentry stays in charge
// ---------------------------------------------------------------------------

/// SIGKILL to the sentry while its guest sleeps, and while a guest spins in
/// four threads: within 1 s no stub of it is left running.
#[test]
fn sigkill_to_the_sentry_leaves_no_stub() {
    let _serial = serial();
    let mut failures = Failures::new();
    let cases: Vec<(&str, Vec<OsString>, Option<&str>)> = vec![
        (
            "sleep 100",
            vec![os(busybox()), os("sleep"), os("100")],
            None,
        ),
        (
            "4 spinning threads",
            vec![os(guest_program("esc_spin")), os("4")],
            Some("spinning 4"),
        ),
    ];
    for (what, argv, ready) in cases {
        let mut sentry = Background::spawn(sentry_command(
            &sentry_process(),
            &sentry_args(&[] as &[OsString], &argv),
        ));
        let pid = sentry.pid().as_raw();
        if let Some(ready) = ready {
            let out = sentry.stdout_lines();
            let line = out.recv_timeout(Duration::from_secs(10));
            if line.as_deref() != Ok(ready) {
                failures.check(Err(format!(
                    "--- {what}: no {ready:?} from the guest: {line:?}"
                )));
                continue;
            }
        }
        let stubs = wait_for_stubs(pid, Duration::from_secs(10));
        if stubs.is_empty() {
            failures.check(Err(format!("--- {what}: no stub appeared")));
            continue;
        }
        let threads = std::fs::read_dir(format!("/proc/{}/task", stubs[0]))
            .map(|d| d.count())
            .unwrap_or(0);
        println!("{what}: sentry {pid}, stubs {stubs:?} ({threads} threads in the first)");
        kill(sentry.pid(), Signal::SIGKILL).expect("kill -KILL the sentry");
        let started = Instant::now();
        let left = stubs_gone(&stubs, Duration::from_secs(1));
        failures.check(if left.is_empty() {
            println!("{what}: stubs gone {:?} after the SIGKILL", started.elapsed());
            Ok(())
        } else {
            Err(format!(
                "--- {what}: stubs {left:?} still running 1 s after SIGKILL to the sentry (killed now)"
            ))
        });
        failures.check(
            if sentry.wait_timeout(Duration::from_secs(5)) == Some(128 + 9) {
                Ok(())
            } else {
                Err(format!("--- {what}: the sentry did not die of SIGKILL"))
            },
        );
    }
    failures.finish("SIGKILL to the sentry");
}

/// A guest killed by SIGSEGV: status 139, its output before the fault kept,
/// nothing left running.
#[test]
fn guest_crash_is_139() {
    let _serial = serial();
    let out = sentry(
        &[] as &[OsString],
        &[os(guest_program("esc_syscalls")), os("segv")],
    );
    let mut failures = Failures::new();
    failures.check(expect_out("a NULL store", &out, 139, "about to fault\n"));
    failures.finish("guest crash");
}

/// `--timeout 1` ends a guest that spins without syscalls (alone, and in
/// four threads): 124 within 2 s, one line, nothing left.
#[test]
fn timeout_ends_a_spinning_guest() {
    let _serial = serial();
    let mut failures = Failures::new();
    for threads in ["0", "4"] {
        let started = Instant::now();
        let out = sentry(
            &[os("--timeout"), os("1")],
            &[os(guest_program("esc_spin")), os(threads)],
        );
        let elapsed = started.elapsed();
        failures.check(
            if out.status == 124
                && out.stdout_str() == format!("spinning {threads}\n")
                && one_line(&out)
                && out.notes.is_empty()
                && elapsed < Duration::from_millis(2500)
            {
                Ok(())
            } else {
                Err(format!(
                    "--- --timeout 1, {threads} spinning threads: want 124 within ~2 s, one line; got {} after {elapsed:?}, stdout {:?}, stderr {:?}, notes {:?}",
                    out.status,
                    out.stdout_str(),
                    out.stderr_str(),
                    out.notes
                ))
            },
        );
    }
    failures.finish("--timeout");
}

/// Starts `sentry run` on a busybox command with stdout not read.
fn spawn_busybox(args: &[&str]) -> Background {
    let mut argv = vec![os(busybox())];
    argv.extend(args.iter().map(os));
    let inv = sentry_process();
    Background::spawn(sentry_command(
        &inv,
        &sentry_args(&[] as &[OsString], &argv),
    ))
}

/// Reads a pipe to the end on a thread.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

/// A guest floods stdout into a pipe nobody reads, so it (or the sentry
/// writing for it) blocks; SIGINT to the sentry must still end a guest that
/// takes the default action at once (130), as natively, without the pipe
/// being drained. A guest with an INT trap in a restarting write (busybox
/// sh) runs the trap once the write returns, as natively: after draining,
/// status 7 and the trap's output.
#[test]
fn sigint_reaches_a_guest_blocked_on_a_full_pipe() {
    let _serial = serial();
    let mut failures = Failures::new();

    let mut yes = spawn_busybox(&["yes"]);
    std::thread::sleep(Duration::from_millis(500));
    kill(yes.pid(), Signal::SIGINT).expect("kill -INT");
    let status = yes.wait_timeout(Duration::from_secs(2));
    let leftovers = leftovers_after_exit(yes.pid());
    let stdout = drain(yes.child().stdout.take().expect("stdout"));
    failures.check(if status == Some(130) && leftovers.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "--- busybox yes into a full pipe, SIGINT: want 130 within 2 s without draining; got {status:?}, leftovers {leftovers:?}"
        ))
    });
    if status.is_none() {
        let _ = stdout.join();
        yes.wait_timeout(Duration::from_secs(5));
    }

    let script = "trap 'echo INT >&2; exit 7' INT; while :; do echo flood; done";
    let mut trap = spawn_busybox(&["sh", "-c", script]);
    std::thread::sleep(Duration::from_millis(500));
    kill(trap.pid(), Signal::SIGINT).expect("kill -INT");
    std::thread::sleep(Duration::from_millis(200));
    let stderr = drain(trap.child().stderr.take().expect("stderr"));
    let stdout = drain(trap.child().stdout.take().expect("stdout"));
    let status = trap.wait_timeout(Duration::from_secs(5));
    let flooded = stdout.join().unwrap_or_default().len();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    failures.check(if status == Some(7) && stderr == "INT\n" && flooded > 0 {
        Ok(())
    } else {
        Err(format!(
            "--- sh with an INT trap flooding a full pipe, SIGINT, then drained: want status 7 and `INT` on stderr; got {status:?}, stderr {stderr:?}, {flooded} bytes of stdout"
        ))
    });
    failures.finish("SIGINT with a full pipe");
}

/// Runs a busybox sh `script` under the sentry that prints `ready` and
/// waits, sends `signal` to the sentry, and returns (status, stdout after
/// `ready`).
fn signal_the_sentry(script: &str, signal: Signal) -> Result<(i32, String), String> {
    let mut sentry = spawn_busybox(&["sh", "-c", script]);
    let out = sentry.stdout_lines();
    match out.recv_timeout(Duration::from_secs(10)) {
        Ok(l) if l == "ready" => {}
        other => return Err(format!("no `ready` from the guest: {other:?}")),
    }
    // The shell is in its loop once the first sleep has started.
    std::thread::sleep(Duration::from_millis(300));
    kill(sentry.pid(), signal).map_err(|e| format!("kill: {e}"))?;
    let status = sentry
        .wait_timeout(Duration::from_secs(5))
        .ok_or("the sentry still runs 5 s after the signal")?;
    let mut stdout = String::new();
    while let Ok(l) = out.recv_timeout(Duration::from_secs(1)) {
        stdout.push_str(&l);
        stdout.push('\n');
    }
    let left = leftovers_after_exit(sentry.pid());
    if !left.is_empty() {
        return Err(format!("left running: {left:?}"));
    }
    Ok((status, stdout))
}

/// SIGINT (Ctrl-C) to the sentry reaches the guest's foreground group: the
/// shell's trap runs. SIGTERM and SIGHUP reach the guest's init.
#[test]
fn host_signals_reach_the_guest() {
    let _serial = serial();
    let mut failures = Failures::new();
    for (signal, name, status) in [
        (Signal::SIGINT, "INT", 5),
        (Signal::SIGTERM, "TERM", 6),
        (Signal::SIGHUP, "HUP", 8),
    ] {
        let script = format!(
            "trap 'echo {name}; exit {status}' {name}; echo ready; while :; do sleep 0.1; done"
        );
        let want = format!("{name}\n");
        failures.check(match signal_the_sentry(&script, signal) {
            Ok((s, out)) if s == status && out == want => Ok(()),
            Ok((s, out)) => Err(format!(
                "--- SIG{name} to the sentry: want status {status}, stdout {want:?}; got {s}, {out:?}"
            )),
            Err(e) => Err(format!("--- SIG{name} to the sentry: {e}")),
        });
    }
    failures.finish("host signals");
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

/// `--memory 64M`: malloc'ing and touching 1 MiB chunks fails inside the
/// guest (glibc sees ENOMEM) below the limit, and the guest exits normally.
#[test]
fn memory_limit_malloc_fails_in_the_guest() {
    let _serial = serial();
    let out = sentry(
        &[os("--memory"), os("64M")],
        &[os(guest_program("esc_limits")), os("malloc")],
    );
    let got: Option<u64> = out
        .stdout_str()
        .trim()
        .strip_prefix("malloc: failed after ")
        .and_then(|s| s.strip_suffix(" MiB"))
        .and_then(|s| s.parse().ok());
    assert!(
        out.status == 0 && out.notes.is_empty() && got.is_some_and(|n| (16..64).contains(&n)),
        "--memory 64M, malloc until it fails: want status 0 and `malloc: failed after N MiB` with 16 <= N < 64; \
         got status {}, stdout {:?}, stderr {:?}, notes {:?}",
        out.status,
        out.stdout_str(),
        out.stderr_str(),
        out.notes
    );
}

/// `--memory 64M` against every other way to get memory. Each must either
/// fail inside the guest (which then exits 0, having touched no more than
/// the limit) or end the sandbox with 137 and one line, with no more than
/// the limit plus the watchdog's slack ever touched.
#[test]
fn memory_limit_holds_on_every_path() {
    let _serial = serial();
    const LIMIT_MIB: u64 = 64;
    const SLACK_MIB: u64 = 64;
    let mut failures = Failures::new();
    for mode in [
        "mprotect",
        "mremap",
        "noreserve",
        "shared",
        "fork",
        "file",
        "memfd",
    ] {
        let started = Instant::now();
        let out = sentry(
            &[os("--memory"), os("64M"), os("--timeout"), os("20")],
            &[os(guest_program("esc_limits")), os(mode)],
        );
        let stdout = out.stdout_str();
        // Progress lines: `touched N MiB`, `written N MiB`; a whole 256 MiB
        // touched, or a child that wrote its 40 MiB copy next to the parent's,
        // means the limit was exceeded.
        let peak = stdout
            .lines()
            .filter_map(|l| {
                let n = l
                    .strip_prefix("touched ")
                    .or_else(|| l.strip_prefix("written "))?;
                n.strip_suffix(" MiB")?.parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        let fork_copies = if stdout.contains("fork-child: wrote its copy") {
            80
        } else {
            0
        };
        let peak = peak.max(fork_copies);
        let escaped = stdout.contains("touched all 256 MiB") || peak > LIMIT_MIB + SLACK_MIB;
        let status_ok = match out.status {
            0 => peak <= LIMIT_MIB && !stdout.contains("fork-child"),
            137 => one_line(&out),
            _ => false,
        };
        println!(
            "--memory 64M, {mode}: status {} after {:.1} s, peak {peak} MiB, last line {:?}",
            out.status,
            started.elapsed().as_secs_f64(),
            stdout.lines().last()
        );
        failures.check(if status_ok && !escaped && out.notes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "--- --memory 64M, {mode}: want a failure inside the guest (status 0) or 137 with one line, \
                 and at most {LIMIT_MIB} MiB (+{SLACK_MIB} MiB before a kill) touched;\n  got status {}, peak {peak} MiB, stdout {:?}, stderr {:?}, notes {:?}",
                out.status,
                stdout,
                out.stderr_str(),
                out.notes
            ))
        });
    }
    failures.finish("--memory");
}

/// A fork bomb under `--max-procs 50 --timeout 5`, as given
/// (`f(){ f|f& }; f`: init returns at once, and the sandbox ends with it,
/// status 0 or 124) and kept going (init sleeps, so only the timeout ends
/// it: 124). The sentry never runs more than 50 stubs, ends in time, and
/// leaves no stub behind.
#[test]
fn fork_bomb_is_contained() {
    let _serial = serial();
    let mut failures = Failures::new();
    for (script, statuses) in [
        ("f(){ f|f& }; f", &[0, 124][..]),
        ("f(){ f|f& }; f; sleep 30", &[124][..]),
    ] {
        failures.check(fork_bomb(script, statuses));
    }
    failures.finish("fork bomb");
}

fn fork_bomb(script: &str, statuses: &[i32]) -> Result<(), String> {
    let argv = [os(busybox()), os("sh"), os("-c"), os(script)];
    let opts = [os("--max-procs"), os("50"), os("--timeout"), os("5")];
    let started = Instant::now();
    let mut sentry = Background::spawn(sentry_command(
        &sentry_process(),
        &sentry_args(&opts, &argv),
    ));
    let mut err_pipe = sentry.child().stderr.take().expect("stderr");
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let pid = sentry.pid().as_raw();
    let mut peak = 0;
    let mut seen = std::collections::BTreeSet::new();
    let status = loop {
        if let Some(status) = sentry.wait_timeout(Duration::ZERO) {
            break Some(status);
        }
        if started.elapsed() > Duration::from_secs(10) {
            break None;
        }
        let stubs = stubs_of(pid);
        peak = peak.max(stubs.len());
        seen.extend(stubs);
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    let seen: Vec<i32> = seen.into_iter().collect();
    let left = stubs_gone(&seen, Duration::from_secs(2));
    let leftovers = leftovers_after_exit(sentry.pid());
    let stderr = stderr.join().unwrap_or_default();
    println!(
        "fork bomb {script:?}: status {status:?} after {elapsed:?}, at most {peak} stubs at once, {} seen; stderr {:?}",
        seen.len(),
        stderr.lines().take(3).collect::<Vec<_>>()
    );
    if status.is_some_and(|s| statuses.contains(&s))
        && peak <= 50
        && left.is_empty()
        && leftovers.is_empty()
        && elapsed < Duration::from_secs(8)
    {
        Ok(())
    } else {
        Err(format!(
            "--- fork bomb {script:?} under --max-procs 50 --timeout 5: want status {statuses:?} within 8 s, \
             at most 50 stubs, none left;\n  got status {status:?} after {elapsed:?}, peak {peak} stubs, \
             still running {left:?}, leftovers {leftovers:?}, stderr {stderr:?}"
        ))
    }
}

/// `--max-fds 20`: opening files fails with EMFILE at fd 20, exactly as
/// natively under `RLIMIT_NOFILE` 20.
#[test]
fn max_fds_gives_emfile() {
    let _serial = serial();
    let program = guest_program("esc_limits");
    let mut cmd = std::process::Command::new(&program);
    cmd.arg("fds").env_clear().envs(fixed_env());
    // SAFETY: runs in the forked child before exec and only calls
    // setrlimit(2), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| setrlimit(Resource::RLIMIT_NOFILE, 20, 20).map_err(std::io::Error::from));
    }
    let native = run_command(cmd, b"", Duration::from_secs(10), false);
    let out = sentry(&[os("--max-fds"), os("20")], &[os(&program), os("fds")]);
    let mut failures = Failures::new();
    failures.check(expect_out(
        "native under RLIMIT_NOFILE 20",
        &native,
        0,
        "fds: EMFILE at fd 20\n",
    ));
    failures.check(expect_out(
        "--max-fds 20",
        &out,
        0,
        "fds: EMFILE at fd 20\n",
    ));
    failures.finish("--max-fds");
}
