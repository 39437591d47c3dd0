//! Pseudo-terminals: `/dev/ptmx` and `/dev/pts` inside the sentry, compared with the
//! host's. A C guest (`pty`) covers the devpts nodes and ioctls, the line discipline's
//! editing, echo and modes, closing either end, and a session leader with the replica
//! as its controlling terminal receiving the terminal's signals and hangup; Python's
//! `pty.fork` and `pty.openpty`, and util-linux `script`, run as they do natively.

use tests::{Compare, Failures, Invocation, check_guest, check_same, python3};

#[test]
fn devpts_line_discipline_and_controlling_terminal() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "pty", &[], b"", 0, &mut || {});
    failures.finish("pty");
}

/// `pty.fork()`: the child on the replica as a session leader with a controlling
/// terminal, the parent typing a line, reading the echo and the child's output to EIO;
/// then `openpty`, the window size and the default settings.
const PYTHON_PTY: &str = r#"
import os, pty, sys, signal, termios, struct, fcntl
pid, fd = pty.fork()
if pid == 0:
    print("child", os.isatty(0), os.ttyname(0).startswith("/dev/pts/"), os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpid(), flush=True)
    line = sys.stdin.readline()
    print("read", repr(line))
    sys.stdout.flush()
    os._exit(7)
out = b""
while not out.endswith(b"\n"):
    out += os.read(fd, 1)
os.write(fd, b"typed line\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError as e:
        out += ("<%s>" % os.strerror(e.errno)).encode()
        break
    if not chunk:
        break
    out += chunk
print(repr(out))
_, status = os.waitpid(pid, 0)
print("status", os.waitstatus_to_exitcode(status))
m, s = pty.openpty()
print("openpty", os.isatty(m), os.isatty(s), os.ttyname(s).startswith("/dev/pts/"))
fcntl.ioctl(m, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
print("winsize", struct.unpack("HHHH", fcntl.ioctl(s, termios.TIOCGWINSZ, b"\0" * 8)))
attrs = termios.tcgetattr(s)
print("tcgetattr", attrs[:4])
"#;

#[test]
fn python_pty_fork() {
    let inv = Invocation::new(python3()).args(&["-c", PYTHON_PTY]);
    let mut failures = Failures::new();
    failures.check(check_same(
        "python pty",
        &inv,
        Compare::default().with_stderr(),
    ));
    failures.finish("python pty");
}

#[test]
fn util_linux_script() {
    let inv = Invocation::new("/usr/bin/script").args(&[
        "-qc",
        "echo hi; tty | sed 's/[0-9]*$//'; stty size; test -t 0 && echo stdin is a tty",
        "/dev/null",
    ]);
    let mut failures = Failures::new();
    failures.check(check_same("script", &inv, Compare::default()));
    failures.finish("script");
}
