//! Memory use of one long-lived dynamic guest: Debian's `python3` (host
//! root) runs `subprocess.run(["/bin/true"])` 50 times inside one sentry,
//! printing a marker and blocking on stdin after iteration 10 and after
//! iteration 50. At each marker the test samples the sentry's resident set
//! (`VmRSS` of `/proc/<sentry>/status`) and the space allocated to its guest
//! memory file (the fd whose link names `memfd:sentry-memory`, `st_blocks *
//! 512`). Forty fork+exec+wait cycles of a dynamic binary must not grow either
//! by 10 MiB or more: libc's and python's pages come from the page cache, and
//! every exited child's memory must be returned.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use tests::{Background, Invocation, leftovers_after_exit, sentry_command};

/// The largest growth allowed between the two markers, per figure.
const LIMIT: u64 = 10 << 20;

const PROGRAM: &str = r#"import subprocess, sys
for i in range(1, 51):
    r = subprocess.run(["/bin/true"])
    if r.returncode != 0:
        sys.exit(f"/bin/true exited {r.returncode} at iteration {i}")
    if i in (10, 50):
        print(f"mark {i}", flush=True)
        sys.stdin.readline()
print("finished")
"#;

/// What one sample measured, in bytes.
#[derive(Clone, Copy, Debug)]
struct Sample {
    rss: u64,
    memfd: u64,
}

/// The sentry's `VmRSS`, and the allocated size of its guest-memory memfd.
fn sample_memory(pid: i32) -> Sample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"));
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/fd: {e}"));
    let memfd = fds
        .flatten()
        .find(|fd| {
            std::fs::read_link(fd.path())
                .is_ok_and(|link| link.to_string_lossy().contains("memfd:sentry-memory"))
        })
        .unwrap_or_else(|| panic!("sentry {pid} holds no memfd:sentry-memory fd"));
    let meta = std::fs::metadata(memfd.path()).expect("stat -L the memfd");
    Sample {
        rss: rss_kib * 1024,
        memfd: meta.blocks() * 512,
    }
}

#[test]
fn python_subprocess_loop_does_not_leak() {
    let inv = Invocation::new("/usr/bin/python3").args(&["-c", PROGRAM]);
    let mut run_args: Vec<String> = vec!["--clear-env".into()];
    for (k, v) in &inv.env {
        run_args.push("--env".into());
        run_args.push(format!("{k}={v}"));
    }
    run_args.push(inv.program.to_string_lossy().into_owned());
    run_args.extend(inv.args.iter().map(|a| a.to_string_lossy().into_owned()));

    let started = Instant::now();
    let mut sentry = Background::spawn(sentry_command(&inv, &run_args));
    let pid = sentry.pid().as_raw();
    let out = sentry.stdout_lines();
    let mut stdin = sentry.child().stdin.take().expect("piped stdin");
    // Drained so a chatty sentry can never block on a full stderr pipe.
    let mut err_pipe = sentry.child().stderr.take().expect("piped stderr");
    let stderr = std::thread::spawn(move || {
        let mut buf = String::new();
        let _ = std::io::Read::read_to_string(&mut err_pipe, &mut buf);
        buf
    });

    let mut samples = Vec::new();
    for mark in ["mark 10", "mark 50"] {
        match out.recv_timeout(Duration::from_secs(60)) {
            Ok(line) if line == mark => {}
            Ok(line) => panic!("unexpected guest output {line:?} while waiting for {mark:?}"),
            Err(_) => panic!(
                "no {mark:?} from the guest within 60 s (status {:?}, stderr so far unknown)",
                sentry.wait_timeout(Duration::ZERO)
            ),
        }
        let sample = sample_memory(pid);
        println!(
            "{mark} after {:.1} s: sentry VmRSS {} KiB, guest memfd allocated {} KiB",
            started.elapsed().as_secs_f64(),
            sample.rss / 1024,
            sample.memfd / 1024
        );
        samples.push(sample);
        stdin.write_all(b"\n").expect("release the guest");
        stdin.flush().expect("flush");
    }
    drop(stdin);
    let last = out.recv_timeout(Duration::from_secs(30));
    let status = sentry.wait_timeout(Duration::from_secs(30));
    let leftovers = leftovers_after_exit(sentry.pid());

    let (a, b) = (samples[0], samples[1]);
    let rss_growth = b.rss.saturating_sub(a.rss);
    let memfd_growth = b.memfd.saturating_sub(a.memfd);
    println!(
        "growth from mark 10 to mark 50: VmRSS {} KiB, memfd {} KiB (limit {} KiB each)",
        rss_growth / 1024,
        memfd_growth / 1024,
        LIMIT / 1024
    );
    let mut problems = Vec::new();
    let stderr = stderr.join().unwrap_or_default();
    if !stderr.is_empty() {
        println!("sentry stderr:\n{stderr}");
    }
    if last.as_deref() != Ok("finished") {
        problems.push(format!("last guest line: {last:?}, expected \"finished\""));
    }
    if status != Some(0) {
        problems.push(format!("sentry exit status {status:?}, expected 0"));
    }
    if !leftovers.is_empty() {
        problems.push(format!("processes left running: {}", leftovers.join("; ")));
    }
    if rss_growth >= LIMIT {
        problems.push(format!(
            "sentry VmRSS grew by {} KiB ({} -> {} KiB)",
            rss_growth / 1024,
            a.rss / 1024,
            b.rss / 1024
        ));
    }
    if memfd_growth >= LIMIT {
        problems.push(format!(
            "guest memfd allocation grew by {} KiB ({} -> {} KiB)",
            memfd_growth / 1024,
            a.memfd / 1024,
            b.memfd / 1024
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
