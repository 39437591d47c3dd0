//! Debian's dynamic userland under sentry: coreutils, findutils, grep, sed,
//! tar, gzip, diffutils, bash, perl and python3, each invocation run natively
//! and under `sentry run` and compared (stdout, exit status, stderr where it is
//! deterministic, and the resulting tree for cases that write files).
//!
//! Every case runs twice, once per root:
//!
//! - **host root**: `sentry run /usr/bin/...` (default root `/`, a read-only
//!   overlay of the host; the temp dir is bound read-write by the helpers)
//!   against the same command run directly on the host;
//! - **Debian root**: `sentry run --root rootfs-debian ...` against the same
//!   command run natively inside that root (`chroot`, in a private mount
//!   namespace with a fresh `/proc` so that the native side sees what a booted
//!   system sees; the guest's `/proc` is the sentry's own). Read-only cases
//!   use the default overlay; cases that write files use `--rw-root` so their
//!   effects land on disk and the two trees can be compared.
//!
//! The Debian root is `<workspace>/rootfs-debian` (built by
//! `make rootfs-debian`), or `$SENTRY_DEBIAN_ROOT`; a missing root fails the
//! tests, it never skips them. Each case gets a fresh fixture directory at the
//! same guest path for the native and the sentry run (under the host's temp
//! dir, or under the Debian root's `/tmp`), populated with fixed contents and
//! fixed mtimes so that `ls -l`, `stat`, `find -newer` and `tar` agree.
//! Output whose order follows directory order (which Linux leaves unspecified)
//! is compared as a multiset of lines.
//!
//! The sentry's own diagnostics (`env_logger` lines such as `unimplemented
//! syscall ...`) are not guest output: they are removed from the sentry's
//! stderr before comparing, and printed once per test so they stay visible.
//!
//! Also here: `/proc/self/maps` read by `cat` under the sentry against the
//! sentry's VMA dump and against a native `cat /proc/self/maps`, and `ld.so`
//! run directly as the program.

use std::collections::BTreeSet;
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use tests::{
    Compare, Failures, Invocation, Outcome, Rng, TIMEOUT, compare, fixed_env, remove_tree,
    run_command, run_native, run_sentry_raw, run_sentry_with, scratch_base, set_mtime,
    set_tree_mtime, snapshot, workspace, write_file,
};

/// The mtime of every fixture entry: 2001-09-09 01:46:40 UTC.
const T_OLD: i64 = 1_000_000_000;
/// The mtime of `stamp`, the reference of `find -newer`.
const T_STAMP: i64 = 1_050_000_000;
/// The mtime of the two fixture files that are newer than `stamp`.
const T_NEW: i64 = 1_100_000_000;

/// The guest root a case runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// The host's `/`.
    Host,
    /// The debootstrapped Debian root.
    Debian,
}

impl Side {
    fn label(self) -> &'static str {
        match self {
            Side::Host => "host root",
            Side::Debian => "debian root",
        }
    }
}

/// The Debian root: `$SENTRY_DEBIAN_ROOT`, else `<workspace>/rootfs-debian`.
///
/// Panics with instructions if it has not been built.
fn debian_root() -> PathBuf {
    let path = std::env::var_os("SENTRY_DEBIAN_ROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("rootfs-debian"));
    let complete =
        path.join(".complete").is_file() || std::env::var_os("SENTRY_DEBIAN_ROOT").is_some();
    assert!(
        complete && path.join("usr/bin/bash").is_file() && path.join("usr/bin/python3").is_file(),
        "Debian root not built: {} (needs .complete, usr/bin/bash, usr/bin/python3; run \
         `make rootfs-debian`, or set SENTRY_DEBIAN_ROOT)",
        path.display()
    );
    std::path::absolute(&path)
        .expect("absolute Debian root")
        .canonicalize()
        .expect("canonical Debian root")
}

/// One command: argv (argv[0] is an absolute guest path, or a path relative
/// to the fixture directory), stdin, and how to compare.
#[derive(Clone, Debug)]
struct Case {
    name: &'static str,
    argv: Vec<String>,
    stdin: Vec<u8>,
    /// The exit status the native run must have (else the case is broken).
    status: i32,
    /// Compare stderr too.
    stderr: bool,
    /// Compare output as a multiset of lines.
    unordered: bool,
    /// The case writes files: compare the fixture trees afterwards, and run
    /// the Debian-root sentry side with `--rw-root`.
    writes: bool,
}

/// A case running `argv` (stderr compared, native status 0).
fn cmd(name: &'static str, argv: &[&str]) -> Case {
    Case {
        name,
        argv: argv.iter().map(|s| s.to_string()).collect(),
        stdin: Vec::new(),
        status: 0,
        stderr: true,
        unordered: false,
        writes: false,
    }
}

/// A case running `bash -c SCRIPT`.
fn bash(name: &'static str, script: &str) -> Case {
    cmd(name, &["/bin/bash", "-c", script])
}

/// A case running `perl -e SCRIPT`.
fn perl(name: &'static str, script: &str) -> Case {
    cmd(name, &["/usr/bin/perl", "-e", script])
}

/// A case running `python3 -c SCRIPT`.
fn python(name: &'static str, script: &str) -> Case {
    cmd(name, &["/usr/bin/python3", "-c", script])
}

impl Case {
    fn stdin(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.stdin = bytes.as_ref().to_vec();
        self
    }

    fn status(mut self, status: i32) -> Self {
        self.status = status;
        self
    }

    fn no_stderr(mut self) -> Self {
        self.stderr = false;
        self
    }

    fn unordered(mut self) -> Self {
        self.unordered = true;
        self
    }

    fn writes(mut self) -> Self {
        self.writes = true;
        self
    }

    fn how(&self) -> Compare {
        Compare {
            stderr: self.stderr,
            unordered: self.unordered,
        }
    }
}

/// A fixture directory: its path on the host and the same directory as the
/// guest (and the native chroot) sees it. Removed on drop.
struct CaseDir {
    host: PathBuf,
    guest: PathBuf,
}

impl CaseDir {
    fn new(side: Side, tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("sentry-debian-{tag}-{}-{n}", std::process::id());
        match side {
            Side::Host => {
                let path = scratch_base().join(name);
                CaseDir {
                    host: path.clone(),
                    guest: path,
                }
            }
            Side::Debian => CaseDir {
                host: debian_root().join("tmp").join(&name),
                guest: Path::new("/tmp").join(name),
            },
        }
    }
}

impl Drop for CaseDir {
    fn drop(&mut self) {
        remove_tree(&self.host);
    }
}

const SCRIPT: &str = r#"#!/bin/bash
echo "$(basename "$0") args: $# $*"
shift
printf '<%s>' "$@"
echo
exit 3
"#;

/// (Re)creates the fixture in `dir`.
fn populate(dir: &Path) {
    remove_tree(dir);
    std::fs::create_dir_all(dir).expect("create fixture dir");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod fixture");
    write_file(&dir.join("nums.txt"), "10\n2\n33\n2\n-5\n7\n10\n100\n0\n");
    write_file(
        &dir.join("words.txt"),
        "pear\napple\nfig\napple\nbanana\nfig\nfig\ncherry\n",
    );
    write_file(
        &dir.join("words2.txt"),
        "pear\napple\nkiwi\nbanana\nfig\ncherry\n",
    );
    write_file(
        &dir.join("passwd.txt"),
        "root:x:0:0:root:/root:/bin/bash\n\
         daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
         bin:x:2:2:bin:/bin:/usr/sbin/nologin\n\
         nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n\
         alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash\n",
    );
    write_file(&dir.join("stamp"), "");
    write_file(&dir.join("script.sh"), SCRIPT);
    write_file(&dir.join("tree/a/one.txt"), "one\nfoo bar\n");
    write_file(&dir.join("tree/a/two.log"), "two\nlog line with foo\n");
    write_file(&dir.join("tree/b/c/three.txt"), "three\nfoo\nbaz\n");
    write_file(&dir.join("tree/b/four.dat"), Rng::new(42).bytes(3000));
    write_file(&dir.join("tree/empty.txt"), "");
    std::os::unix::fs::symlink("a/one.txt", dir.join("tree/link")).expect("symlink");
    for exe in ["script.sh", "tree/b/c/three.txt"] {
        std::fs::set_permissions(dir.join(exe), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    set_tree_mtime(dir, T_OLD);
    set_mtime(&dir.join("tree/a/two.log"), T_NEW);
    set_mtime(&dir.join("tree/b/c/three.txt"), T_NEW);
    set_mtime(&dir.join("stamp"), T_STAMP);
}

/// `cmd` runs chrooted into `root` with cwd `cwd`, in its own mount
/// namespace with a fresh `/proc` mounted at `root/proc`.
fn chroot_into(cmd: &mut Command, root: &Path, cwd: &Path) {
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).expect("path without NUL");
    let root_c = c(root);
    let proc_c = c(&root.join("proc"));
    let cwd_c = c(cwd);
    let check = |rc: libc::c_int| {
        if rc == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    let enter = move || {
        // SAFETY: plain system calls with valid NUL-terminated strings (made
        // before the fork) or null pointers where the kernel accepts them.
        unsafe {
            check(libc::unshare(libc::CLONE_NEWNS))?;
            check(libc::mount(
                std::ptr::null(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ))?;
            let fresh = libc::mount(
                c"proc".as_ptr(),
                proc_c.as_ptr(),
                c"proc".as_ptr(),
                0,
                std::ptr::null(),
            );
            if fresh != 0 {
                // A container may refuse a new proc instance: bind the host's.
                check(libc::mount(
                    c"/proc".as_ptr(),
                    proc_c.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND | libc::MS_REC,
                    std::ptr::null(),
                ))?;
            }
            check(libc::chroot(root_c.as_ptr()))?;
            check(libc::chdir(cwd_c.as_ptr()))?;
        }
        Ok(())
    };
    // SAFETY: `enter` runs in the forked child before exec and only makes
    // async-signal-safe system calls; it allocates nothing.
    unsafe {
        cmd.pre_exec(enter);
    }
}

/// Runs `argv` natively on `side` with cwd `cwd` (a guest path).
fn native_run(side: Side, argv: &[String], stdin: &[u8], cwd: &Path) -> Outcome {
    match side {
        Side::Host => {
            let inv = Invocation::new(&argv[0])
                .args(&argv[1..])
                .cwd(cwd)
                .stdin(stdin);
            run_native(&inv)
        }
        Side::Debian => {
            let mut cmd = Command::new(&argv[0]);
            cmd.args(&argv[1..])
                .env_clear()
                .envs(fixed_env())
                .current_dir("/");
            chroot_into(&mut cmd, &debian_root(), cwd);
            run_command(cmd, stdin, TIMEOUT, false)
        }
    }
}

/// Runs `argv` under the sentry on `side` with cwd `cwd` (a guest path),
/// with `options` before the program (and `--rw-root` on the Debian side when
/// `rw`).
fn sentry_run(
    side: Side,
    argv: &[String],
    stdin: &[u8],
    cwd: &Path,
    rw: bool,
    options: &[String],
) -> Outcome {
    let inv = Invocation::new(&argv[0])
        .args(&argv[1..])
        .cwd(cwd)
        .stdin(stdin);
    match side {
        Side::Host => run_sentry_with(&inv, options),
        Side::Debian => {
            let mut args: Vec<String> = vec!["--clear-env".into()];
            for (k, v) in fixed_env() {
                args.push("--env".into());
                args.push(format!("{k}={v}"));
            }
            args.push("--root".into());
            args.push(debian_root().display().to_string());
            if rw {
                args.push("--rw-root".into());
            }
            args.push("--cwd".into());
            args.push(cwd.display().to_string());
            args.extend(options.iter().cloned());
            args.extend(argv.iter().cloned());
            run_sentry_raw(&inv.cwd("/"), &args)
        }
    }
}

/// Whether `line` is one of the sentry's own `env_logger` lines
/// (`[2026-01-02T03:04:05Z WARN  sentry::syscalls] ...`).
fn is_sentry_log(line: &str) -> bool {
    line.starts_with('[')
        && line
            .find(']')
            .is_some_and(|end| line[..end].contains("Z ") && line[..end].contains(" sentry"))
}

/// Removes the sentry's diagnostics from `out.stderr` and returns them.
fn strip_sentry_log(out: &mut Outcome) -> Vec<String> {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut kept = Vec::new();
    let mut logs = Vec::new();
    for piece in text.split_inclusive('\n') {
        if is_sentry_log(piece.trim_end_matches('\n')) {
            logs.push(piece.trim_end().to_string());
        } else {
            kept.push(piece);
        }
    }
    if !logs.is_empty() {
        out.stderr = kept.concat().into_bytes();
    }
    logs
}

/// The sentry diagnostics seen by a group (timestamps dropped so repeats
/// collapse), printed once at its end.
#[derive(Default)]
struct Diagnostics(BTreeSet<String>);

impl Diagnostics {
    fn add(&mut self, logs: Vec<String>) {
        for line in logs {
            let tail = line.split_once(']').map_or(line.as_str(), |(_, t)| t);
            self.0.insert(tail.trim().to_string());
        }
    }

    fn print(&self, group: &str) {
        if !self.0.is_empty() {
            println!("{group}: sentry diagnostics on stderr (removed before comparing):");
            for line in &self.0 {
                println!("  {line}");
            }
        }
    }
}

/// Runs one case on one side: fresh fixture, native run; fresh fixture,
/// sentry run; compare.
fn run_case(side: Side, case: &Case, diags: &mut Diagnostics) -> Result<(), String> {
    let dir = CaseDir::new(side, "case");
    let label = format!(
        "[{}] {}: {}",
        side.label(),
        case.name,
        Invocation::new(&case.argv[0])
            .args(&case.argv[1..])
            .describe()
    );

    populate(&dir.host);
    let native = native_run(side, &case.argv, &case.stdin, &dir.guest);
    let native_tree = case.writes.then(|| snapshot(&dir.host));
    if native.status != case.status || !native.notes.is_empty() {
        return Err(format!(
            "--- {label}\n  native run exited {} (expected {}), notes {:?}: the case or this \
             host is broken, not sentry\n  native stdout: {}\n  native stderr: {}",
            native.status,
            case.status,
            native.notes,
            native.stdout_str(),
            native.stderr_str()
        ));
    }

    populate(&dir.host);
    let mut sentry = sentry_run(side, &case.argv, &case.stdin, &dir.guest, case.writes, &[]);
    diags.add(strip_sentry_log(&mut sentry));
    let sentry_tree = case.writes.then(|| snapshot(&dir.host));

    let mut result = compare(&label, &native, &sentry, case.how());
    if native_tree != sentry_tree {
        let native_tree = native_tree.unwrap_or_default();
        let sentry_tree = sentry_tree.unwrap_or_default();
        let only_native: Vec<_> = native_tree
            .iter()
            .filter(|l| !sentry_tree.contains(l))
            .collect();
        let only_sentry: Vec<_> = sentry_tree
            .iter()
            .filter(|l| !native_tree.contains(l))
            .collect();
        let report = format!(
            "  resulting trees differ:\n    only native: {only_native:?}\n    only sentry: {only_sentry:?}\n"
        );
        result = Err(match result {
            Ok(()) => format!("--- {label}\n{report}"),
            Err(r) => format!("{r}{report}"),
        });
    }
    result
}

/// Runs every case on both roots and fails with every mismatch.
fn run_group(group: &str, cases: &[Case]) {
    let started = Instant::now();
    let mut diags = Diagnostics::default();
    let mut failures = Failures::new();
    for side in [Side::Host, Side::Debian] {
        for case in cases {
            failures.check(run_case(side, case, &mut diags));
        }
    }
    println!(
        "{group}: {n} cases, each on the host root and on the debian root ({} comparisons) \
         in {:.1} s",
        2 * cases.len(),
        started.elapsed().as_secs_f64(),
        n = cases.len()
    );
    diags.print(group);
    failures.finish(group);
}

/// coreutils (and diffutils) on text: sorting, counting, cutting, hashing,
/// formatting, identity and error exits.
#[test]
fn coreutils_text_tools() {
    let fruit = "pear\napple\nfig\n";
    run_group(
        "coreutils text tools",
        &[
            cmd("sort -n", &["/usr/bin/sort", "-n", "nums.txt"]),
            cmd("sort -u", &["/usr/bin/sort", "-u", "words.txt"]),
            cmd(
                "sort -t: -k3,3nr",
                &["/usr/bin/sort", "-t:", "-k3,3nr", "passwd.txt"],
            ),
            cmd("sort stdin", &["/usr/bin/sort", "-r"]).stdin(fruit),
            cmd(
                "wc",
                &["/usr/bin/wc", "words.txt", "passwd.txt", "tree/b/four.dat"],
            ),
            cmd("wc -l stdin", &["/usr/bin/wc", "-l"]).stdin(fruit),
            cmd(
                "cut -d: -f1,3",
                &["/usr/bin/cut", "-d:", "-f1,3", "passwd.txt"],
            ),
            cmd("cut -c", &["/usr/bin/cut", "-c", "2-4", "words.txt"]),
            cmd("tr a-z A-Z", &["/usr/bin/tr", "a-z", "A-Z"]).stdin(fruit),
            cmd("tr -d", &["/usr/bin/tr", "-d", "aeiou\\n"]).stdin(fruit),
            cmd("tr -s", &["/usr/bin/tr", "-s", "p"]).stdin("apppple ppear\n"),
            cmd("head -n 3", &["/usr/bin/head", "-n", "3", "words.txt"]),
            cmd(
                "head -c (binary)",
                &["/usr/bin/head", "-c", "100", "tree/b/four.dat"],
            ),
            cmd("tail -n 2", &["/usr/bin/tail", "-n", "2", "words.txt"]),
            cmd(
                "tail -c +",
                &["/usr/bin/tail", "-c", "+2990", "tree/b/four.dat"],
            ),
            cmd("uniq -c", &["/usr/bin/uniq", "-c"]).stdin("a\na\nb\nc\nc\nc\na\n"),
            cmd("cat -n", &["/usr/bin/cat", "-n", "words.txt", "nums.txt"]),
            cmd("tac", &["/usr/bin/tac", "words.txt"]),
            cmd(
                "paste -d,",
                &["/usr/bin/paste", "-d,", "nums.txt", "words.txt"],
            ),
            cmd(
                "od -t x1z",
                &[
                    "/usr/bin/od",
                    "-A",
                    "x",
                    "-t",
                    "x1z",
                    "-N",
                    "48",
                    "tree/b/four.dat",
                ],
            ),
            cmd(
                "md5sum",
                &[
                    "/usr/bin/md5sum",
                    "words.txt",
                    "nums.txt",
                    "tree/b/four.dat",
                ],
            ),
            cmd(
                "sha256sum",
                &["/usr/bin/sha256sum", "passwd.txt", "tree/b/four.dat"],
            ),
            cmd("sha256sum stdin", &["/usr/bin/sha256sum"]).stdin("sentry\n"),
            cmd("seq", &["/usr/bin/seq", "1", "3", "20"]),
            cmd("seq -w -s", &["/usr/bin/seq", "-w", "-s", ",", "8", "11"]),
            cmd(
                "printf",
                &[
                    "/usr/bin/printf",
                    "%5.2f|%-4s|%x|%o|%c|%b\\n",
                    "3.14159",
                    "ab",
                    "255",
                    "8",
                    "xyz",
                    "t\\tab",
                ],
            ),
            cmd("expr", &["/usr/bin/expr", "6", "*", "7"]),
            cmd("expr false", &["/usr/bin/expr", "0", "+", "0"]).status(1),
            cmd("comm", &["/usr/bin/comm", "-3", "words2.txt", "words2.txt"]),
            cmd("cmp differ", &["/usr/bin/cmp", "words.txt", "words2.txt"]).status(1),
            cmd("diff", &["/usr/bin/diff", "words.txt", "words2.txt"]).status(1),
            cmd(
                "diff -u",
                &["/usr/bin/diff", "-u", "words.txt", "words2.txt"],
            )
            .status(1),
            cmd("date -u -d @0", &["/usr/bin/date", "-u", "-d", "@0"]),
            cmd(
                "date +format",
                &[
                    "/usr/bin/date",
                    "-u",
                    "-d",
                    "@1000000000",
                    "+%Y-%m-%d %H:%M:%S %s %j %A",
                ],
            ),
            cmd(
                "env -i",
                &["/usr/bin/env", "-i", "A=1", "B=two", "/usr/bin/env"],
            ),
            cmd("env", &["/usr/bin/env"]),
            cmd("id -u", &["/usr/bin/id", "-u"]),
            cmd("id -gn", &["/usr/bin/id", "-g", "-n"]),
            cmd("uname -m", &["/usr/bin/uname", "-m"]),
            cmd("uname -s -o", &["/usr/bin/uname", "-s", "-o"]),
            cmd("basename", &["/usr/bin/basename", "/a/b/c.txt", ".txt"]),
            cmd("dirname", &["/usr/bin/dirname", "/a/b/c.txt", "d"]),
            cmd("true", &["/usr/bin/true"]),
            cmd("false", &["/usr/bin/false"]).status(1),
            cmd("getconf PAGESIZE", &["/usr/bin/getconf", "PAGESIZE"]),
            cmd("missing file", &["/usr/bin/cat", "nope.txt"]).status(1),
            cmd("bad option", &["/usr/bin/sort", "--bogus"]).status(2),
        ],
    );
}

/// Listing, stat, find, grep, sed, xargs, tar, gzip and file-changing
/// commands over the fixture tree.
#[test]
fn files_and_archives() {
    run_group(
        "files and archives",
        &[
            cmd(
                "ls -la",
                &[
                    "/usr/bin/ls",
                    "-la",
                    "--time-style=long-iso",
                    "tree",
                    "tree/a",
                ],
            ),
            cmd(
                "ls -lnR",
                &["/usr/bin/ls", "-lnR", "--time-style=+", "tree"],
            ),
            cmd("ls -1At", &["/usr/bin/ls", "-1At", "tree/a", "tree/b"]),
            cmd("ls -d missing", &["/usr/bin/ls", "-d", "tree", "nothere"]).status(2),
            cmd(
                "stat -c",
                &[
                    "/usr/bin/stat",
                    "-c",
                    "%n %s %a %F %Y %h %U",
                    "words.txt",
                    "tree",
                    "tree/link",
                    "script.sh",
                ],
            ),
            cmd(
                "stat -L -c",
                &["/usr/bin/stat", "-L", "-c", "%n %s %F", "tree/link"],
            ),
            cmd("readlink", &["/usr/bin/readlink", "tree/link"]),
            cmd("readlink -f", &["/usr/bin/readlink", "-f", "tree/link"]),
            cmd(
                "realpath",
                &["/usr/bin/realpath", "tree/a/../b/c", "tree/link"],
            ),
            cmd(
                "du -s --apparent-size -b (files)",
                &[
                    "/usr/bin/du",
                    "-s",
                    "--apparent-size",
                    "-b",
                    "tree/a/one.txt",
                    "tree/b/four.dat",
                    "words.txt",
                ],
            ),
            cmd(
                "du -s --apparent-size -b (dir)",
                &["/usr/bin/du", "-s", "--apparent-size", "-b", "tree"],
            ),
            cmd("grep -r", &["/usr/bin/grep", "-r", "foo", "tree"]).unordered(),
            cmd("grep -rl", &["/usr/bin/grep", "-rl", "o", "tree"]).unordered(),
            cmd(
                "grep -E -c",
                &["/usr/bin/grep", "-E", "-c", "^(apple|fig)$", "words.txt"],
            ),
            cmd(
                "grep -n -i",
                &["/usr/bin/grep", "-n", "-i", "APPLE", "words.txt"],
            ),
            cmd("grep -v -w", &["/usr/bin/grep", "-vw", "fig", "words.txt"]),
            cmd("grep no match", &["/usr/bin/grep", "zzz", "words.txt"]).status(1),
            cmd("grep missing file", &["/usr/bin/grep", "x", "nope.txt"]).status(2),
            cmd("sed -n 2,4p", &["/usr/bin/sed", "-n", "2,4p", "words.txt"]),
            cmd(
                "sed -E backrefs",
                &[
                    "/usr/bin/sed",
                    "-E",
                    r"s/^([a-z]+):x:([0-9]+).*/\2 \1/",
                    "passwd.txt",
                ],
            ),
            cmd(
                "sed stdin",
                &["/usr/bin/sed", "-e", "s/p/P/g", "-e", "$a\\end"],
            )
            .stdin("apple\npear\n"),
            bash(
                "sed -i on a copy",
                "cp words.txt w && /usr/bin/sed -i -e 's/fig/FIG/g' -e '/apple/d' w && cat w",
            )
            .writes(),
            cmd("find -newer", &["/usr/bin/find", "tree", "-newer", "stamp"]).unordered(),
            cmd(
                "find -type f -name",
                &["/usr/bin/find", "tree", "-type", "f", "-name", "*.txt"],
            )
            .unordered(),
            cmd(
                "find -printf",
                &[
                    "/usr/bin/find",
                    ".",
                    "-type",
                    "f",
                    "-printf",
                    "%p %s %m %TY %y\\n",
                ],
            )
            .unordered(),
            cmd(
                "find -exec",
                &[
                    "/usr/bin/find",
                    "tree",
                    "-name",
                    "*.txt",
                    "-exec",
                    "/usr/bin/wc",
                    "-c",
                    "{}",
                    ";",
                ],
            )
            .unordered(),
            cmd(
                "find -mindepth -maxdepth -type l",
                &[
                    "/usr/bin/find",
                    "tree",
                    "-mindepth",
                    "1",
                    "-maxdepth",
                    "1",
                    "-type",
                    "l",
                ],
            ),
            cmd("xargs -n 2", &["/usr/bin/xargs", "-n", "2", "/bin/echo"]).stdin("a b c d e\n"),
            bash(
                "find -print0 | xargs -0",
                "/usr/bin/find tree -type f -print0 | sort -z | /usr/bin/xargs -0 md5sum",
            ),
            bash(
                "tar czf + tar xzf + diff -r",
                "set -e; /bin/tar czf t.tgz tree; mkdir out; /bin/tar xzf t.tgz -C out; \
                 diff -r tree out/tree && echo same; /bin/tar tzf t.tgz | sort; rm t.tgz",
            )
            .writes(),
            bash(
                "tar tv listing",
                "/bin/tar cf - -C tree . | /bin/tar tvf - | sort -k6",
            ),
            bash(
                "tar to stdout",
                "/bin/tar cf - tree/a tree/b/c | /bin/tar xOf - tree/a/one.txt tree/b/c/three.txt",
            ),
            bash(
                "gzip -9 | gunzip",
                "/bin/gzip -9 -c words.txt | /bin/gunzip -c | cmp - words.txt && echo roundtrip ok",
            ),
            bash(
                "gzip -9 -n | md5sum",
                "/bin/gzip -9 -n -c tree/b/four.dat | md5sum",
            ),
            bash(
                "gzip -9 / gunzip files",
                "cp passwd.txt p && /bin/gzip -9 p && ls p* && /bin/gzip -l p.gz | tail -n 1 && \
                 /bin/gunzip p.gz && cmp p passwd.txt && ls p*",
            )
            .writes(),
            bash(
                "sha256sum -c",
                "sha256sum words.txt nums.txt > sums && sha256sum -c sums",
            )
            .writes(),
            bash(
                "cp mv ln chmod rm mkdir touch",
                "set -e; mkdir -p d/e; cp -a tree d/e/; mv d/e/tree/a d/e/tree/z; \
                 chmod 700 d/e/tree/z; ln -s ../x d/l; ln words.txt d/hard; \
                 rm d/e/tree/b/four.dat; touch -d '2001-01-01 00:00:00' d/new; \
                 stat -c '%n %h %a %Y' d/hard d/new d/e/tree/z; ls -l --time-style=+%F d/new",
            )
            .writes(),
            cmd(
                "dd",
                &[
                    "/usr/bin/dd",
                    "if=tree/b/four.dat",
                    "bs=7",
                    "count=3",
                    "status=none",
                ],
            ),
            cmd("run a #! script by path", &["./script.sh", "a", "b c", "d"]).status(3),
            bash(
                "sort spilling to temp files",
                "seq 200000 | sort -r -S 1M -T . | md5sum; ls",
            ),
            bash(
                "split and tee",
                "split -l 3 words.txt part_ && ls part_* && cat part_ab; \
                 echo hello | tee t1 t2 > /dev/null; cat t1 t2",
            )
            .writes(),
        ],
    );
}

/// bash: arrays, functions, expansions, process substitution, job control,
/// traps, `read`/`mapfile`, shell options and signals.
#[test]
fn bash_scripts() {
    run_group(
        "bash",
        &[
            bash(
                "arrays",
                r#"a=(x y "z w"); a+=(q); echo ${#a[@]} "${a[2]}" "${a[@]:1:2}"
                   for i in "${!a[@]}"; do printf '%s=%s\n' "$i" "${a[$i]}"; done
                   unset 'a[1]'; echo "${a[@]}" "${!a[@]}""#,
            ),
            bash(
                "associative arrays",
                r#"declare -A h=([one]=1 [two]=2 [three]=3); h[four]=4; h[one]+=0
                   for k in $(printf '%s\n' "${!h[@]}" | sort); do echo "$k=${h[$k]}"; done
                   echo ${#h[@]}; [[ -v h[two] ]] && echo has-two; unset 'h[two]'; echo ${#h[@]}"#,
            ),
            bash(
                "functions and local",
                r#"f() { local x=$1; x=$((x * 2)); echo "in:$x"; g; }; g() { echo "g:$x"; }
                   x=5; f 21; echo "out:$x"
                   fact() { if (( $1 <= 1 )); then echo 1; else echo $(( $1 * $(fact $(( $1 - 1 ))) )); fi; }
                   fact 10; r() { return 42; }; r; echo "ret=$?""#,
            ),
            bash(
                "process substitution",
                r#"diff <(sort words.txt) <(sort -u words.txt); echo "rc=$?"
                   while read -r l; do echo "[$l]"; done < <(head -n 2 words.txt)
                   exec 5> >(cat); p=$!; paste <(seq 3) <(seq 4 6) >&5; exec 5>&-; wait $p; echo waited"#,
            ),
            bash(
                "$(< file) and here-strings",
                r#"c=$(< nums.txt); echo ${#c}; read -r a b <<< "hello world"; echo "$b $a"
                   tr a-z A-Z <<< "$(< words.txt)" | head -n 2
                   cat <<EOF
x=$((1 + 2)) $(echo sub)
EOF
                   cat <<'EOF'
literal $HOME
EOF"#,
            ),
            bash(
                "[[ =~ ]]",
                r#"for s in abc123 x9 none 42; do
                     if [[ $s =~ ^([a-z]+)([0-9]+)$ ]]; then echo "${BASH_REMATCH[1]}:${BASH_REMATCH[2]}"
                     elif [[ $s == [0-9]* ]]; then echo "num:$s"; else echo "no:$s"; fi
                   done"#,
            ),
            bash(
                "job control: jobs, kill %1, wait",
                "set -m; /bin/sleep 5 & jobs; kill %1; wait %1; echo status=$?; jobs; echo end",
            ),
            bash(
                "background jobs and wait -n",
                r#"/bin/sleep 0.2 & p=$!; (exit 7) & q=$!; wait $q; echo "q=$?"
                   wait -n; echo "n=$?"; wait $p 2>/dev/null; echo "p done""#,
            ),
            bash(
                "traps",
                r#"trap 'echo bye' EXIT; trap 'echo got USR1' USR1; kill -USR1 $$
                   trap 'echo got TERM' TERM; kill -TERM $$; trap - TERM
                   f() { return 7; }; trap 'echo "err $?"' ERR; f; trap - ERR
                   (trap 'echo sub-exit' EXIT; exit 3); echo "sub=$?""#,
            ),
            bash(
                "read -a and mapfile",
                r#"read -ra arr <<< "a b  c"; echo ${#arr[@]} "${arr[2]}"
                   mapfile -t lines < words.txt; echo ${#lines[@]} "${lines[-1]}"
                   printf '%s,' "${lines[@]:2:3}"; echo
                   IFS=: read -r u x uid rest < passwd.txt; echo "$u $uid"
                   mapfile -t -s 1 -n 2 two < nums.txt; declare -p two"#,
            ),
            bash(
                "brace expansion",
                "echo {a,b}{1..3} {10..1..3} x{,y,z} {a..e} {01..03}; echo pre-{x,y{1,2}}-post",
            ),
            bash(
                "set -euo pipefail",
                "set -euo pipefail; echo start; false | true; echo unreachable",
            )
            .status(1),
            bash(
                "set -u",
                "set -u; echo ${undefined_variable}; echo unreachable",
            )
            .status(127),
            bash(
                "pipelines and PIPESTATUS",
                r#"seq 1 1000 | grep 7 | wc -l; (exit 4) || echo "sub $?"
                   { echo a; echo b; } | tac; false | true | (exit 3); echo "${PIPESTATUS[@]}""#,
            ),
            bash(
                "string and arithmetic expansion",
                r#"s="Hello, World"; echo "${s,,} ${s^^} ${s/World/There} ${s:7} ${#s} ${s%,*} ${s#*, }"
                   printf -v v '%03d' 7; echo "$v $((2**20)) $((17 % 5)) $((-7 / 2)) $((0x1f)) $((8#17))"
                   declare -i n=5; n+=3; echo $n; echo "${undefined:-default} ${s:+set}""#,
            ),
            bash(
                "getopts and shift",
                r#"set -- -a -b val x y; while getopts ab: o; do echo "$o ${OPTARG-}"; done
                   shift $((OPTIND - 1)); echo "rest $# $*""#,
            ),
            bash(
                "case, loops, umask",
                r#"for w in $(< words.txt); do case $w in a*) echo "A $w";; f*|p*) echo "FP $w";; *) :;; esac; done
                   i=0; while (( i < 3 )); do ((i++)); done; until [ $i -eq 0 ]; do i=$((i-1)); done; echo $i
                   umask 027; umask; umask -S"#,
            ),
            bash(
                "redirections and fds",
                r#"exec 3>&1; echo to-three >&3; exec 3>&-; { echo out; echo err >&2; } 2>&1 | sort
                   echo x > f1; echo y >> f1; cat f1; exec 4<f1; read -r l <&4; echo "fd4:$l"; rm f1
                   ls /dev/fd/ > /dev/null && echo devfd"#,
            )
            .writes(),
            bash(
                "command substitution and subshells",
                r#"a=$(echo $(echo nested) $(( $(echo 3) * 2 ))); echo "$a"; ( cd tree && pwd -P | sed 's|.*/||' )
                   v=outer; (v=inner; echo $v); echo $v; echo $BASH_SUBSHELL $(echo $BASH_SUBSHELL)"#,
            ),
            cmd(
                "bash script file",
                &["/bin/bash", "script.sh", "one", "two", "three"],
            )
            .status(3),
            bash("exit status", "echo before; exit 42").status(42),
            bash(
                "killed by a signal",
                "/bin/bash -c 'kill -SEGV $$'; echo \"child=$?\"; kill -TERM $$",
            )
            .status(143)
            .no_stderr(),
        ],
    );
}

/// perl (perl-base): regexes, formats, hashes, fork/wait, pipes, system,
/// files, signals.
#[test]
fn perl_one_liners() {
    run_group(
        "perl",
        &[
            perl(
                "regexes",
                r#"my $s = "2024-01-15 x=42 y=7"; my @n = $s =~ /(\d+)/g; print join(",", @n), "\n";
                   (my $t = $s) =~ s/(\w)=(\d+)/"$1:" . $2 * 2/ge; print "$t\n";
                   print "lookahead\n" if "foobar" =~ /^foo(?=bar)/;
                   my %h = ("k1=v1;k2=v2" =~ /(\w+)=(\w+)/g); print join(" ", map {"$_>$h{$_}"} sort keys %h), "\n";
                   print join("|", split /\s*,\s*/, "a , b,c ,d"), "\n"; (my $u = "abc") =~ tr/a-c/A-C/; print "$u\n";"#,
            ),
            perl(
                "sprintf",
                r#"printf("%05.1f|%-6s|%x|%o|%e|%s\n", 3.14159, "ab", 255, 8, 12345.678,
                          join ":", map { sprintf "%02d", $_ } 1..5);
                   my $s = sprintf("%*d|%-*s|%.3s|%+d|%%", 6, 42, 4, "x", "abcdef", 5); print "$s\n";"#,
            ),
            perl(
                "hashes and sorting",
                r#"my %h; $h{$_}++ for qw(a b a c b a); print "$_=$h{$_}\n" for sort keys %h;
                   my @s = sort { $h{$b} <=> $h{$a} || $a cmp $b } keys %h; print "@s\n";
                   my %inv = reverse %h; print join(",", map { "$_:$inv{$_}" } sort { $a <=> $b } keys %inv), "\n";
                   print scalar(keys %h), " ", exists $h{z} ? "z" : "no-z", "\n";
                   print join(" ", sort { $a <=> $b } (10, 2, 33, 1)), "\n";"#,
            ),
            perl(
                "fork and waitpid",
                r#"$| = 1; my @kids; for my $i (1..3) { my $p = fork; die "fork: $!" unless defined $p;
                     if ($p == 0) { exit $i * 10 } push @kids, $p }
                   for my $p (@kids) { waitpid($p, 0) == $p or die; print $? >> 8, "\n" }
                   print waitpid(-1, 0), "\n";"#,
            ),
            perl(
                "open pipes",
                r#"open(my $fh, "-|", "echo", "x") or die "open: $!"; my $l = <$fh>; close $fh; print "got $l";
                   open(my $o, "|-", "tr", "a-z", "A-Z") or die; print $o "piped\n"; close $o; print "status $?\n";
                   open(my $sh, "-|", "/bin/sh -c 'echo one; echo two; exit 2'") or die; my @l = <$sh>;
                   close $sh; print scalar(@l), " lines, exit ", $? >> 8, "\n";"#,
            ),
            perl(
                "system and backticks",
                r#"$| = 1; my $r = system("/bin/sh", "-c", "exit 3"); print $r >> 8, "\n";
                   system("echo from system"); my $out = `printf '%s' back`; print "$out $?\n";
                   print system("/nonexistent/prog") == -1 ? "failed\n" : "ran\n";"#,
            ),
            perl(
                "files and -e tests",
                r#"open(my $f, "<", "words.txt") or die; my @w = <$f>; close $f; chomp @w;
                   my %seen; my @u = grep { !$seen{$_}++ } @w; print "@u\n";
                   print -e "tree/link" ? "exists " : "", -l "tree/link" ? "link " : "", -d "tree" ? "dir " : "",
                         -s "tree/b/four.dat", "\n";
                   opendir(my $d, "tree/a") or die; print join(",", sort grep { !/^\./ } readdir $d), "\n";
                   my @st = stat("words.txt"); print "$st[7] $st[9]\n"; print scalar(gmtime(0)), "\n";"#,
            ),
            cmd(
                "perl -lane",
                &[
                    "/usr/bin/perl",
                    "-F:",
                    "-lane",
                    "print $F[0] if $F[2] < 100",
                    "passwd.txt",
                ],
            ),
            cmd(
                "perl -ne",
                &["/usr/bin/perl", "-ne", "print if /a/ .. /fig/", "words.txt"],
            ),
            bash(
                "perl -i",
                "cp words.txt w && /usr/bin/perl -i -pe 's/apple/APPLE/' w && cat w",
            )
            .writes(),
            perl("die", r#"print "before\n"; die "boom\n";"#).status(255),
            perl(
                "signals and alarm",
                r#"$| = 1; $SIG{USR1} = sub { print "usr1\n" }; kill "USR1", $$; sleep 0 for 1..3;
                   $SIG{ALRM} = sub { die "alarm\n" }; eval { alarm 1; select(undef, undef, undef, 5); };
                   print "caught $@"; print "pid ok\n" if $$ > 0 && getppid() >= 0;"#,
            ),
        ],
    );
}

/// python3: the standard library's text, hashing, process (pidfds among them), thread,
/// signal (a SIGPROF sampling profiler among them) and file modules.
#[test]
fn python_programs() {
    run_group(
        "python3",
        &[
            python(
                "json",
                r#"import json
d = json.loads('{"a": [1, 2, {"b": null}], "c": "\u00e9", "n": 1e3}')
print(json.dumps(d, sort_keys=True))
print(json.dumps({"x": 1.5, "y": [True, False]}, indent=1))
print(json.dumps(open("words.txt").read().split()), json.loads("[1.25, -0, 1e400]"))"#,
            ),
            python(
                "re",
                r#"import re
print(re.findall(r"(\w+)=(\d+)", "a=1 bb=22 c=x"))
print(re.sub(r"(?P<w>\w+)@", r"<\g<w>>", "me@ you@"))
print(bool(re.fullmatch(r"[0-9a-f]{8}", "deadbeef")), re.split(r"[,;]\s*", "a, b;c"))
m = re.search(r"(?m)^(\w+):x:(\d+)", open("passwd.txt").read()); print(m.groups(), m.span())"#,
            ),
            python(
                "hashlib",
                r#"import hashlib
print(hashlib.sha256(b"sentry").hexdigest())
print(hashlib.md5(open("words.txt", "rb").read()).hexdigest())
h = hashlib.sha1(); h.update(open("tree/b/four.dat", "rb").read()); print(h.hexdigest())
print(hashlib.blake2b(b"x", digest_size=8).hexdigest())"#,
            ),
            python(
                "subprocess",
                r#"import subprocess
r = subprocess.run(["echo", "hi"], capture_output=True); print(r.returncode, r.stdout, r.stderr)
print(subprocess.check_output("echo a | tr a b", shell=True))
print(subprocess.run(["/bin/sh", "-c", "exit 5"]).returncode)
p = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
print(p.communicate(b"through cat\n"), p.returncode)
print(subprocess.run("sort -n nums.txt | head -n 3", shell=True, capture_output=True, text=True).stdout, end="")"#,
            ),
            python(
                "threading",
                r#"import threading
n = 0
lock = threading.Lock()
def work():
    global n
    for _ in range(5000):
        with lock:
            n += 1
ts = [threading.Thread(target=work) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join()
print(n, threading.active_count())
ev = threading.Event(); out = []
t = threading.Thread(target=lambda: (ev.wait(), out.append("woken"))); t.start(); ev.set(); t.join(); print(out)"#,
            ),
            python(
                "multiprocessing Pool(2).map",
                r#"from multiprocessing import Pool
def sq(x):
    return x * x
if __name__ == "__main__":
    with Pool(2) as p:
        print(p.map(sq, range(10)))
        print(sorted(p.imap_unordered(sq, [7, 8, 9])))"#,
            ),
            python(
                "os.fork and os.waitpid",
                r#"import os
pid = os.fork()
if pid == 0:
    os._exit(7)
_, st = os.waitpid(pid, 0)
print(os.WIFEXITED(st), os.WEXITSTATUS(st))
r, w = os.pipe()
if os.fork() == 0:
    os.close(r); os.write(w, b"child says hi"); os._exit(0)
os.close(w); print(os.read(r, 100)); print(os.wait()[1])"#,
            ),
            python(
                "os.pidfd_open with select.poll and select.epoll",
                r#"import os, select, signal
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w); os.read(r, 1); os._exit(5)
os.close(r)
fd = os.pidfd_open(pid)
p = select.poll(); p.register(fd, select.POLLIN)
print("running:", p.poll(0), os.get_inheritable(fd))
os.close(w)
print("exited:", p.poll(5000) == [(fd, select.POLLIN)])
info = os.waitid(os.P_PIDFD, fd, os.WEXITED)
print("waitid:", info.si_pid == pid, info.si_code == os.CLD_EXITED, info.si_status)
print("reaped:", p.poll(0) == [(fd, select.POLLIN | select.POLLHUP)])
os.close(fd)
pid = os.fork()
if pid == 0:
    signal.pause(); os._exit(0)
fd = os.pidfd_open(pid, os.O_NONBLOCK)
ep = select.epoll(); ep.register(fd, select.EPOLLIN)
print("epoll running:", ep.poll(0))
try:
    os.waitid(os.P_PIDFD, fd, os.WEXITED)
except BlockingIOError as e:
    print("nonblocking waitid:", e.errno == 11)
signal.pidfd_send_signal(fd, signal.SIGTERM)
print("epoll exited:", ep.poll(5) == [(fd, select.EPOLLIN)])
info = os.waitid(os.P_PIDFD, fd, os.WEXITED)
print("killed:", info.si_code == os.CLD_KILLED, info.si_status == signal.SIGTERM)
try:
    signal.pidfd_send_signal(fd, signal.SIGTERM)
except ProcessLookupError:
    print("after the reap: ESRCH")
try:
    os.pidfd_open(pid)
except ProcessLookupError:
    print("pidfd_open after the reap: ESRCH")"#,
            ),
            python(
                "tempfile",
                r#"import tempfile, os
with tempfile.TemporaryDirectory() as d:
    p = os.path.join(d, "f")
    with open(p, "w") as f:
        f.write("data")
    print(os.listdir(d), open(p).read(), oct(os.stat(d).st_mode & 0o777))
gone = os.path.exists(d)
with tempfile.NamedTemporaryFile("w+") as f:
    f.write("abc"); f.flush(); f.seek(0); print(f.read(), os.path.exists(f.name))
print(gone, os.path.exists(f.name))
fd, name = tempfile.mkstemp(dir="."); os.write(fd, b"x"); os.close(fd); print(os.path.getsize(name)); os.unlink(name)"#,
            ),
            python(
                "signal.alarm with a handler",
                r#"import signal, time, sys
def handler(signum, frame):
    print("alarm", signum == signal.SIGALRM, flush=True)
    sys.exit(3)
signal.signal(signal.SIGALRM, handler)
signal.alarm(1)
time.sleep(5)
print("not reached")"#,
            )
            .status(3),
            python(
                "ITIMER_PROF sampling profiler, ITIMER_VIRTUAL",
                r#"import signal, time, collections
samples = collections.Counter()
def on_prof(sig, frame):
    samples[frame.f_code.co_name] += 1
signal.signal(signal.SIGPROF, on_prof)
signal.setitimer(signal.ITIMER_PROF, 0.005, 0.005)
def busy():
    start = time.process_time()
    while time.process_time() - start < 0.5:
        pass
busy()
left, interval = signal.setitimer(signal.ITIMER_PROF, 0)
total = sum(samples.values())
print("samples between 10 and 200:", 10 <= total <= 200)
print("most in busy():", samples["busy"] * 2 > total)
print("interval was", interval, "and it was armed:", left > 0)
print("now:", signal.getitimer(signal.ITIMER_PROF))
fired = []
signal.signal(signal.SIGVTALRM, lambda s, f: fired.append(s))
signal.setitimer(signal.ITIMER_VIRTUAL, 0.05)
time.sleep(0.2)
print("SIGVTALRM while sleeping:", fired)
start = time.process_time()
while time.process_time() - start < 2 and not fired:
    pass
print("SIGVTALRM while spinning:", fired)"#,
            ),
            python(
                "time.sleep",
                r#"import time
t = time.monotonic(); time.sleep(0.05); d = time.monotonic() - t
print(0.05 <= d < 2, time.gmtime(0).tm_year, time.strftime("%Y-%m-%d", time.gmtime(86400 * 365)))"#,
            ),
            python(
                "os and pathlib",
                r#"import os, pathlib, stat
print(sorted(os.listdir("tree")))
for root, dirs, files in sorted(os.walk("tree")):
    print(root, sorted(dirs), sorted(files))
p = pathlib.Path("tree/link"); print(p.is_symlink(), os.readlink(p), p.resolve().name, p.read_text().split())
st = os.stat("script.sh"); print(stat.filemode(st.st_mode), st.st_size, st.st_mtime)
print(os.getcwd() == os.path.realpath("."), os.environ.get("TZ"), os.getuid())"#,
            ),
            python("stdin", "import sys; print(sum(int(l) for l in sys.stdin))")
                .stdin("1\n2\n3\n40\n"),
            cmd(
                "python3 -m json.tool",
                &["/usr/bin/python3", "-m", "json.tool", "--sort-keys"],
            )
            .stdin(r#"{"b": [1, 2], "a": {"c": null}}"#),
            python(
                "zlib and gzip",
                r#"import gzip, zlib, io
print(zlib.crc32(b"abc"), zlib.adler32(b"abc"))
print(gzip.decompress(gzip.compress(b"hello" * 100, mtime=0))[:10], len(zlib.compress(b"a" * 1000, 9)))"#,
            ),
            python(
                "uncaught exception",
                "def f():\n    raise ValueError('bad')\nf()",
            )
            .status(1),
            python("sys.exit", "import sys; print('bye'); sys.exit(9)").status(9),
        ],
    );
}

/// The dynamic loader run as the program: `ld.so PROGRAM ARGS...`.
#[test]
fn ld_so_runs_programs_directly() {
    run_group(
        "ld.so",
        &[
            cmd(
                "ld.so /bin/true",
                &["/lib64/ld-linux-x86-64.so.2", "/bin/true"],
            ),
            cmd(
                "ld.so /bin/echo hi",
                &["/lib64/ld-linux-x86-64.so.2", "/bin/echo", "hi"],
            ),
            cmd(
                "ld.so /bin/false",
                &["/lib64/ld-linux-x86-64.so.2", "/bin/false"],
            )
            .status(1),
            cmd(
                "ld.so python3",
                &[
                    "/lib64/ld-linux-x86-64.so.2",
                    "/usr/bin/python3",
                    "-c",
                    "print(6 * 7)",
                ],
            ),
            cmd(
                "ld.so --verify",
                &["/lib64/ld-linux-x86-64.so.2", "--verify", "/bin/true"],
            ),
        ],
    );
    // Beyond agreeing with native: the literal expectations of the issue.
    for side in [Side::Host, Side::Debian] {
        let dir = CaseDir::new(side, "ldso");
        populate(&dir.host);
        let ld = "/lib64/ld-linux-x86-64.so.2".to_string();
        let mut t = sentry_run(
            side,
            &[ld.clone(), "/bin/true".into()],
            b"",
            &dir.guest,
            false,
            &[],
        );
        strip_sentry_log(&mut t);
        assert_eq!(t.status, 0, "[{}] ld.so /bin/true: {t:?}", side.label());
        let e = sentry_run(
            side,
            &[ld, "/bin/echo".into(), "hi".into()],
            b"",
            &dir.guest,
            false,
            &[],
        );
        assert_eq!(
            (e.status, e.stdout_str().as_str()),
            (0, "hi\n"),
            "[{}] ld.so /bin/echo hi",
            side.label()
        );
    }
}

/// One `/proc/PID/maps` line or one VMA dump line.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Vma {
    start: u64,
    end: u64,
    perms: String,
    /// File offset (maps) or memfd offset (dump).
    offset: u64,
    /// `major:minor inode` (maps only).
    dev_inode: String,
    name: String,
}

fn parse_maps_line(line: &str) -> Option<Vma> {
    let mut it = line.split_whitespace();
    let (start, end) = it.next()?.split_once('-')?;
    let perms = it.next()?.to_string();
    let offset = u64::from_str_radix(it.next()?, 16).ok()?;
    let dev = it.next()?;
    let inode = it.next()?;
    let name = it.collect::<Vec<_>>().join(" ");
    Some(Vma {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        perms,
        offset,
        dev_inode: format!("{dev} {inode}"),
        name,
    })
}

fn parse_dump_line(line: &str) -> Option<Vma> {
    let mut parts = line.splitn(4, ' ');
    let (start, end) = parts.next()?.split_once('-')?;
    let perms = parts.next()?.to_string();
    let offset = u64::from_str_radix(parts.next()?, 16).ok()?;
    let name = parts.next().unwrap_or("").trim().to_string();
    Some(Vma {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        perms,
        offset,
        dev_inode: String::new(),
        name,
    })
}

/// The complete dump blocks as `(when, vmas)`.
fn parse_dump(text: &str) -> Vec<(String, Vec<Vma>)> {
    let mut blocks = Vec::new();
    let mut current: Option<(String, Vec<Vma>)> = None;
    for line in text.lines() {
        if let Some(header) = line
            .strip_prefix("== vmas ")
            .and_then(|h| h.strip_suffix(" =="))
        {
            let when = header
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("when="))
                .unwrap_or("")
                .to_string();
            current = Some((when, Vec::new()));
        } else if line == "== end ==" {
            blocks.extend(current.take());
        } else if let (Some((_, vmas)), Some(vma)) = (current.as_mut(), parse_dump_line(line)) {
            vmas.push(vma);
        }
    }
    blocks
}

/// The file-backed lines of a maps listing as `(path, perms, file offset,
/// length, dev inode)`, in address order: what must not depend on where
/// ASLR put things.
fn file_layout(maps: &[Vma]) -> Vec<(String, String, u64, u64, String)> {
    let mut out: Vec<_> = maps
        .iter()
        .filter(|v| v.name.starts_with('/'))
        .map(|v| {
            (
                v.name.clone(),
                v.perms.clone(),
                v.offset,
                v.end - v.start,
                v.dev_inode.clone(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Checks one `cat /proc/self/maps` under the sentry against its VMA dump
/// and against the native run's; returns the problems found.
fn check_maps(side: Side, root: &Path) -> Vec<String> {
    let dir = CaseDir::new(side, "maps");
    populate(&dir.host);
    let dump_file = scratch_base().join(format!(
        "sentry-debian-maps-{}-{:?}.txt",
        std::process::id(),
        side
    ));
    let _ = std::fs::remove_file(&dump_file);
    let argv = ["/bin/cat".to_string(), "/proc/self/maps".to_string()];
    let native = native_run(side, &argv, b"", &dir.guest);
    let mut sentry = sentry_run(
        side,
        &argv,
        b"",
        &dir.guest,
        false,
        &[format!("--dump-vmas={}", dump_file.display())],
    );
    strip_sentry_log(&mut sentry);
    let dump = std::fs::read_to_string(&dump_file).unwrap_or_default();
    let _ = std::fs::remove_file(&dump_file);

    let mut problems = Vec::new();
    let mut problem = |p: String| problems.push(format!("[{}] {p}", side.label()));
    if native.status != 0 || sentry.status != 0 {
        problem(format!(
            "exit status: native {}, sentry {} (sentry stderr {:?})",
            native.status,
            sentry.status,
            sentry.stderr_str()
        ));
    }
    let maps: Vec<Vma> = sentry
        .stdout_str()
        .lines()
        .filter_map(parse_maps_line)
        .collect();
    let malformed = sentry
        .stdout_str()
        .lines()
        .filter(|l| parse_maps_line(l).is_none())
        .count();
    if malformed > 0 || maps.is_empty() {
        problem(format!(
            "{malformed} malformed maps lines, {} parsed:\n{}",
            maps.len(),
            sentry.stdout_str()
        ));
    }
    for pair in maps.windows(2) {
        if pair[0].end > pair[1].start || pair[0].start >= pair[0].end {
            problem(format!(
                "maps not sorted/disjoint: {:?} then {:?}",
                pair[0], pair[1]
            ));
        }
    }
    let blocks = parse_dump(&dump);
    let exec = blocks.iter().find(|(w, _)| w == "exec").map(|(_, v)| v);
    let exit = blocks
        .iter()
        .rev()
        .find(|(w, _)| w == "exit")
        .map(|(_, v)| v);
    let (Some(exec), Some(exit)) = (exec, exit) else {
        problem(format!("no exec and exit blocks in the VMA dump:\n{dump}"));
        return problems;
    };
    let key = |v: &Vma| (v.start, v.end, v.perms.clone(), v.name.clone());
    let dumped: BTreeSet<_> = exec.iter().chain(exit).map(key).collect();
    for line in &maps {
        if !dumped.contains(&key(line)) {
            problem(format!(
                "maps line {:x}-{:x} {} {:?} is in neither the exec nor the exit dump",
                line.start, line.end, line.perms, line.name
            ));
        }
    }
    let listed: BTreeSet<_> = maps.iter().map(key).collect();
    for vma in exit.iter().filter(|v| !v.name.is_empty()) {
        if !listed.contains(&key(vma)) {
            problem(format!("exit-dump VMA {vma:?} is missing from maps"));
        }
    }
    // Every file mapping names the file's real device and inode.
    for line in maps.iter().filter(|v| v.name.starts_with('/')) {
        let host = root.join(line.name.trim_start_matches('/'));
        match std::fs::metadata(&host) {
            Ok(meta) => {
                let dev = meta.dev();
                let want = format!(
                    "{:02x}:{:02x} {}",
                    libc::major(dev),
                    libc::minor(dev),
                    meta.ino()
                );
                if line.dev_inode != want {
                    problem(format!(
                        "{}: dev/inode {:?}, the file's is {want:?}",
                        line.name, line.dev_inode
                    ));
                }
            }
            Err(e) => problem(format!(
                "{}: mapped file not found on the host: {e}",
                line.name
            )),
        }
    }
    // The same files, segments, offsets and sizes as Linux maps them.
    let native_maps: Vec<Vma> = native
        .stdout_str()
        .lines()
        .filter_map(parse_maps_line)
        .collect();
    let (want, got) = (file_layout(&native_maps), file_layout(&maps));
    if want != got {
        problem(format!(
            "file mappings differ from native:\n  only native: {:?}\n  only sentry: {:?}",
            want.iter().filter(|x| !got.contains(x)).collect::<Vec<_>>(),
            got.iter().filter(|x| !want.contains(x)).collect::<Vec<_>>()
        ));
    }
    // Linux's special names, except the vDSO's, which the sentry does not provide.
    let specials = |m: &[Vma]| -> BTreeSet<String> {
        m.iter()
            .filter(|v| {
                v.name.starts_with('[')
                    && !["[vdso]", "[vvar]", "[vvar_vclock]", "[vsyscall]"]
                        .contains(&v.name.as_str())
            })
            .map(|v| v.name.clone())
            .collect()
    };
    if specials(&native_maps) != specials(&maps) {
        problem(format!(
            "special mappings: native {:?}, sentry {:?}",
            specials(&native_maps),
            specials(&maps)
        ));
    }
    println!(
        "[{}] /proc/self/maps: {} lines, dump blocks {:?}",
        side.label(),
        maps.len(),
        blocks
            .iter()
            .map(|(w, v)| format!("{w}:{}", v.len()))
            .collect::<Vec<_>>()
    );
    problems
}

/// `cat /proc/self/maps` under the sentry agrees with the VMA dump and with
/// Linux's layout of the same files.
#[test]
fn proc_self_maps_matches_the_vma_dump() {
    let mut problems = check_maps(Side::Host, Path::new("/"));
    problems.extend(check_maps(Side::Debian, &debian_root()));
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
