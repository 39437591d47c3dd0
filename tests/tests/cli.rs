//! The `sentry run` command line: exit status propagation, refusing what
//! cannot run (127 / 126 with one line on stderr and nothing left running),
//! PATH lookup in the guest's environment, `--cwd`, `--root` and containment
//! inside it, environment inheritance and `--env`/`--clear-env`, and
//! `--strace` output.
//!
//! Leftover processes (a stub outliving its sentry) are detected by every
//! sentry run of the shared helpers and reported in `Outcome::notes`.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use tests::{
    Compare, Failures, Invocation, Outcome, Scratch, busybox, check_same, compare, contains,
    elf32_i386, guest_program, lines, os, rootfs, run_native, run_sentry, run_sentry_raw,
    run_sentry_with, write_file,
};

/// Status, stdout and stderr of a refused start: exactly `status`, nothing
/// on stdout, exactly one non-empty line on stderr, nothing left running.
fn refused(what: &str, out: &Outcome, status: i32) -> Result<(), String> {
    let stderr = out.stderr_str();
    let one_line = !stderr.trim().is_empty() && !stderr.trim_end_matches('\n').contains('\n');
    if out.status == status && out.stdout.is_empty() && one_line && out.notes.is_empty() {
        return Ok(());
    }
    Err(format!(
        "--- {what}: want status {status}, empty stdout, one stderr line, no leftovers;\n  \
         got status {}, stdout {:?}, stderr {:?}, notes {:?}",
        out.status,
        out.stdout_str(),
        stderr,
        out.notes
    ))
}

fn make_executable(path: &Path, bytes: &[u8]) {
    write_file(path, bytes);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn exit_status_propagates() {
    let mut failures = Failures::new();
    let exit_with = guest_program("exit_with");
    let cases: Vec<(Invocation, i32)> = vec![
        (Invocation::busybox(&["true"]), 0),
        (Invocation::busybox(&["false"]), 1),
        (Invocation::new(&exit_with).arg("0"), 0),
        (Invocation::new(&exit_with).arg("42"), 42),
        (Invocation::new(&exit_with).args(&["7", "_exit"]), 7),
        (Invocation::new(&exit_with).arg("255"), 255),
        (Invocation::new(&exit_with).arg("300"), 300 & 0xff),
        (
            Invocation::new(guest_program("exit_with-pie")).arg("42"),
            42,
        ),
    ];
    for (inv, status) in cases {
        let native = run_native(&inv);
        assert_eq!(native.status, status, "native `{}`", inv.describe());
        let sentry = run_sentry(&inv);
        failures.check(compare(
            &inv.describe(),
            &native,
            &sentry,
            Compare::default(),
        ));
    }
    failures.finish("exit status");
}

#[test]
fn missing_program_exits_127() {
    let mut failures = Failures::new();
    let scratch = Scratch::new("missing");
    for program in [
        "/nonexistent/program".to_string(),
        scratch.join("not-there").display().to_string(),
        "no-such-program-in-path".to_string(),
    ] {
        let out = run_sentry(&Invocation::new(&program));
        failures.check(refused(&format!("sentry run {program}"), &out, 127));
    }
    failures.finish("missing program");
}

#[test]
fn unrunnable_program_exits_126() {
    let scratch = Scratch::new("unrunnable");
    let busybox_bytes = std::fs::read(busybox()).expect("read busybox");

    let text = scratch.join("text-file");
    make_executable(&text, b"this is not an executable\n");
    let truncated = scratch.join("truncated-elf");
    make_executable(&truncated, &busybox_bytes[..100]);
    let elf32 = scratch.join("i386-elf");
    make_executable(&elf32, &elf32_i386(0));
    let mut aarch64 = busybox_bytes.clone();
    aarch64[18..20].copy_from_slice(&183u16.to_le_bytes()); // e_machine: EM_AARCH64
    let arm = scratch.join("aarch64-elf");
    make_executable(&arm, &aarch64);
    let empty = scratch.join("empty-file");
    make_executable(&empty, b"");
    let dir = scratch.join("a-directory");
    std::fs::create_dir(&dir).expect("mkdir");

    let mut failures = Failures::new();
    for program in [&text, &truncated, &elf32, &arm, &empty, &dir] {
        let out = run_sentry(&Invocation::new(program));
        failures.check(refused(
            &format!("sentry run {}", program.display()),
            &out,
            126,
        ));
    }
    failures.finish("unrunnable program");
}

/// PROGRAM without a slash is looked up in the guest's PATH (from `--env`),
/// not in the sentry's own.
#[test]
fn program_found_in_guest_path() {
    let mut failures = Failures::new();
    let test_dir = rootfs().join("test");
    let guest_path = format!("/nonexistent:{}", test_dir.display());

    // The sentry's own PATH (fixed_env) lacks rootfs/test: only the guest's has it.
    let inv = Invocation::new("exit_with").arg("42");
    let run_args: Vec<OsString> = vec![
        "--clear-env".into(),
        "--env".into(),
        format!("PATH={guest_path}").into(),
        "exit_with".into(),
        "42".into(),
    ];
    let sentry = run_sentry_raw(&inv, &run_args);
    let native = run_native(&inv.clone().env("PATH", &guest_path));
    failures.check(compare(
        "exit_with via guest PATH",
        &native,
        &sentry,
        Compare::default(),
    ));

    // And the guest's PATH wins over the sentry's: busybox ls, not the host's.
    let bin = rootfs().join("bin").display().to_string();
    let inv = Invocation::new("ls").arg("--help").env("PATH", &bin);
    failures.check(compare(
        "ls --help via guest PATH",
        &run_native(&inv),
        &run_sentry(&inv),
        Compare::default().with_stderr(),
    ));
    let inv = Invocation::new("ls").arg(rootfs()).env("PATH", &bin);
    failures.check(compare(
        "ls via guest PATH",
        &run_native(&inv),
        &run_sentry(&inv),
        Compare::default(),
    ));
    failures.finish("PATH lookup");
}

#[test]
fn working_directory() {
    let scratch = Scratch::new("cwd");
    write_file(&scratch.join("sub/file.txt"), "x\n");
    let sub = scratch.join("sub");
    let mut failures = Failures::new();

    // Default root `/`: the guest starts in the sentry's own cwd.
    for args in [&["pwd"][..], &["ls", "-l"][..]] {
        let inv = Invocation::busybox(args).cwd(&sub);
        failures.check(check_same("default cwd", &inv, Compare::default()));
    }
    // --cwd overrides it.
    for args in [&["pwd"][..], &["cat", "file.txt"][..]] {
        let native = run_native(&Invocation::busybox(args).cwd(&sub));
        let sentry = run_sentry_with(
            &Invocation::busybox(args).cwd(scratch.path()),
            &[os("--cwd"), os(&sub)],
        );
        failures.check(compare(
            &format!("--cwd {}", args.join(" ")),
            &native,
            &sentry,
            Compare::default(),
        ));
    }
    failures.finish("working directory");
}

/// `--root DIR`: guest paths resolve inside DIR, the default cwd is its `/`.
#[test]
fn root_option() {
    let root = rootfs();
    let mut failures = Failures::new();
    let root_args = [os("--root"), os(&root)];
    let cases: Vec<(Invocation, Invocation)> = vec![
        (
            Invocation::busybox(&["ls"]).arg(&root),
            Invocation::new("/bin/ls").arg("/"),
        ),
        (
            Invocation::busybox(&["ls", "-ln"]).arg(root.join("test")),
            Invocation::new("/bin/ls").args(&["-ln", "/test"]),
        ),
        (
            Invocation::busybox(&["echo", "/"]),
            Invocation::new("/bin/pwd"),
        ),
        (
            Invocation::busybox(&["ls"]).arg(root.join("bin")),
            Invocation::new("ls").arg("/bin"),
        ),
        (
            Invocation::new(guest_program("exit_with")).arg("5"),
            Invocation::new("/test/exit_with").arg("5"),
        ),
    ];
    for (native_inv, guest_inv) in cases {
        let native = run_native(&native_inv);
        let sentry = run_sentry_with(&guest_inv, &root_args);
        failures.check(compare(
            &format!("--root {} {}", root.display(), guest_inv.describe()),
            &native,
            &sentry,
            Compare::default(),
        ));
    }
    failures.finish("--root");
}

/// No path, `..` or symlink (relative or absolute) leads out of `--root`.
#[test]
fn root_contains_the_guest() {
    let host_passwd = std::fs::read_to_string("/etc/passwd").expect("host /etc/passwd");
    assert!(
        host_passwd.contains("root:"),
        "host /etc/passwd looks wrong"
    );

    let scratch = Scratch::new("contain");
    let root = scratch.join("root");
    std::fs::create_dir_all(root.join("bin")).expect("mkdir");
    std::fs::copy(busybox(), root.join("bin/busybox")).expect("copy busybox");
    std::os::unix::fs::symlink("../../../../../etc", root.join("esc")).expect("symlink");
    std::os::unix::fs::symlink("/etc/passwd", root.join("abs")).expect("symlink");
    std::fs::create_dir(root.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink("../../..", root.join("sub/up")).expect("symlink");
    // The sentry mounts /dev and /proc, and the harness binds /tmp; on Linux mount
    // points exist in the parent, so the native listing has them too.
    for mount_point in ["dev", "proc", "tmp"] {
        std::fs::create_dir(root.join(mount_point)).expect("mkdir");
    }
    write_file(&root.join("data.txt"), "inside the root\n");
    let root_args = [os("--root"), os(&root)];
    let mut failures = Failures::new();

    // The control: a file inside the root is readable.
    let out = run_sentry_with(
        &Invocation::new("/bin/busybox").args(&["cat", "/data.txt"]),
        &root_args,
    );
    failures.check(
        if out.status == 0 && out.stdout == b"inside the root\n" && out.notes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "--- cat /data.txt inside root: status {}, stdout {:?}, stderr {:?}",
                out.status,
                out.stdout_str(),
                out.stderr_str()
            ))
        },
    );

    for path in [
        "/esc/passwd",
        "../../../etc/passwd",
        "/../../etc/passwd",
        "/abs",
        "/sub/up/etc/passwd",
    ] {
        let inv = Invocation::new("/bin/busybox").args(&["cat", path]);
        let out = run_sentry_with(&inv, &root_args);
        let escaped = contains(&out.stdout, "root:");
        let enoent = contains(&out.stderr, "No such file or directory");
        failures.check(if !escaped && enoent && out.status == 1 && out.notes.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "--- cat {path} under --root {}: want ENOENT and status 1{}\n  status {}, stderr {:?}, notes {:?}",
                root.display(),
                if escaped { "; IT PRINTED THE HOST'S /etc/passwd" } else { "" },
                out.status,
                out.stderr_str(),
                out.notes
            ))
        });
    }

    // `..` at the guest root stays at the root.
    let native = run_native(&Invocation::busybox(&["ls", "-a"]).arg(&root));
    for dir in ["/", "/..", "/../..", "/sub/up"] {
        let sentry = run_sentry_with(
            &Invocation::new("/bin/busybox").args(&["ls", "-a", dir]),
            &root_args,
        );
        failures.check(compare(
            &format!("ls -a {dir} under --root"),
            &native,
            &sentry,
            Compare::default(),
        ));
    }
    failures.finish("--root containment");
}

/// Without `--clear-env` the guest inherits the sentry's environment;
/// `--env` adds and overrides; `--clear-env` starts from nothing.
#[test]
fn environment() {
    let mut failures = Failures::new();
    let sorted_env = |out: &Outcome| {
        let mut l: Vec<String> = lines(&out.stdout)
            .into_iter()
            .filter(|l| !l.starts_with("RUST_"))
            .collect();
        l.sort();
        Outcome {
            stdout: l.join("\n").into_bytes(),
            ..out.clone()
        }
    };
    let inv = Invocation::busybox(&["env"]).env("FROM_SENTRY", "inherited value");
    let cases: Vec<(Vec<&str>, Invocation)> = vec![
        (vec![], inv.clone()),
        (
            vec!["--env", "ADDED=1", "--env", "LC_ALL=POSIX"],
            inv.clone().env("ADDED", "1").env("LC_ALL", "POSIX"),
        ),
        (
            vec!["--clear-env", "--env", "ONLY=this"],
            Invocation {
                env: vec![("ONLY".into(), "this".into())],
                ..inv.clone()
            },
        ),
    ];
    for (options, native_inv) in cases {
        let mut run_args: Vec<OsString> = options.iter().map(OsString::from).collect();
        run_args.push(os(busybox()));
        run_args.push("env".into());
        let sentry = sorted_env(&run_sentry_raw(&inv, &run_args));
        let native = sorted_env(&run_native(&native_inv));
        failures.check(compare(
            &format!("sentry run {} busybox env", options.join(" ")),
            &native,
            &sentry,
            Compare::default(),
        ));
    }
    failures.finish("environment");
}

/// The `--strace` lines of stderr, each with an optional `[pid N] ` prefix
/// removed and runs of spaces collapsed (strace pads before ` = `).
fn strace_lines(stderr: &[u8]) -> Vec<String> {
    lines(stderr)
        .into_iter()
        .map(|l| {
            let l = match (l.starts_with("[pid "), l.find("] ")) {
                (true, Some(i)) => &l[i + 2..],
                _ => &l[..],
            };
            l.split(' ')
                .filter(|w| !w.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect()
}

#[test]
fn strace_prints_syscalls() {
    let scratch = Scratch::new("strace");
    write_file(&scratch.join("hello.txt"), "hello\n");
    let mut failures = Failures::new();

    let inv = Invocation::busybox(&["cat", "/nonexistent-file"]);
    let native = run_native(&inv);
    let traced = run_sentry_with(&inv, &["--strace"]);
    failures.check(compare(
        "cat /nonexistent-file (stdout, status)",
        &native,
        &traced,
        Compare::default(),
    ));
    let want = "openat(AT_FDCWD, \"/nonexistent-file\", O_RDONLY";
    let found = strace_lines(&traced.stderr)
        .iter()
        .any(|l| l.starts_with(want) && l.ends_with(") = -1 ENOENT (No such file or directory)"));
    failures.check(if found && contains(&traced.stderr, "cat: can't open '/nonexistent-file'") {
        Ok(())
    } else {
        Err(format!(
            "--- --strace cat /nonexistent-file: want a line `{want}...) = -1 ENOENT (No such file or directory)` \
             and cat's own message on stderr; stderr was:\n{}",
            traced.stderr_str()
        ))
    });

    // busybox cat copies with sendfile(); echo writes with write().
    for (args, call) in [
        (&["cat", "hello.txt"][..], "sendfile(1, "),
        (&["echo", "hello"][..], "write(1, "),
    ] {
        let inv = Invocation::busybox(args).cwd(scratch.path());
        let native = run_native(&inv);
        let traced = run_sentry_with(&inv, &["--strace"]);
        failures.check(compare(
            &format!("{} (stdout, status)", args.join(" ")),
            &native,
            &traced,
            Compare::default(),
        ));
        let found = strace_lines(&traced.stderr)
            .iter()
            .any(|l| l.starts_with(call) && l.ends_with(") = 6"));
        failures.check(if found {
            Ok(())
        } else {
            Err(format!(
                "--- --strace {}: want a line `{call}...) = 6`; stderr was:\n{}",
                args.join(" "),
                traced.stderr_str()
            ))
        });
    }
    failures.finish("--strace");
}
