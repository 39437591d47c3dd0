//! Processes: fork, vfork, posix_spawn, execve failures, wait statuses,
//! orphans, process groups and sessions, guest pid numbering, and memory use
//! over a long fork+exec loop.
//!
//! The self-checking C guests (`rootfs/src/proc_*.c`) run natively and under
//! sentry, static and static-PIE, and must print the same lines and exit
//! alike; a guest that writes files gets a fresh scratch directory at the
//! same path for every run. Pid numbers differ between the host and the
//! sentry by design, so the guests print relations, except `proc_pids`,
//! whose sentry output is checked against the spec (first process pid 1 with
//! parent 0, children 2, 3, ...). The memory test drives one sentry through
//! 2,000 fork+exec+wait cycles and samples its resident set and the space
//! allocated to its guest-memory memfd along the way.

use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

use tests::{
    Background, Failures, Invocation, Scratch, check_guest, guest_program, leftovers_after_exit,
    lines, remove_tree, rootfs, run_native, run_sentry, sentry_command,
};

#[test]
fn fork_copies_private_memory_and_shares_the_rest() {
    let scratch = Scratch::new("proc_fork_memory");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "proc_fork_memory",
        &[&arg],
        b"",
        0,
        &mut || {
            remove_tree(&dir);
            std::fs::create_dir(&dir).expect("create work dir");
        },
    );
    failures.finish("proc_fork_memory");
}

#[test]
fn vfork_suspends_the_parent_and_posix_spawn_runs_programs() {
    let scratch = Scratch::new("proc_vfork");
    let file = scratch.join("spawned.txt");
    let root = rootfs().display().to_string();
    let file_arg = file.display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "proc_vfork",
        &[&root, &file_arg],
        b"",
        0,
        &mut || {
            let _ = std::fs::remove_file(&file);
        },
    );
    failures.finish("proc_vfork");
}

#[test]
fn failed_execve_returns_the_linux_errno_and_the_caller_runs_on() {
    let scratch = Scratch::new("proc_exec_errors");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let true_bin = rootfs().join("bin/true").display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "proc_exec_errors",
        &[&arg, &true_bin],
        b"",
        0,
        &mut || {
            remove_tree(&dir);
            std::fs::create_dir(&dir).expect("create work dir");
        },
    );
    failures.finish("proc_exec_errors");
}

#[test]
fn wait_statuses_orphans_and_process_groups() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "proc_wait", &[], b"", 0, &mut || {});
    failures.finish("proc_wait");
}

/// The first guest process is pid 1 and its parent is 0; its children are
/// numbered 2, 3, ... in fork order. Natively only the relations are checked.
/// Start times, the boot time, uptime, CPU times and the stopped state in
/// /proc agree with each other and with the clock, as ps and top read them.
#[test]
fn proc_times_and_states() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "proc_times", &[], b"", 0, &mut || {});
    failures.finish("proc_times");
}

#[test]
fn guest_pids_start_at_one() {
    let expected = [
        "getpid=1",
        "getppid=0",
        "first_child=2",
        "first_child_getpid=2",
        "first_child_getppid=1",
        "second_child=3",
        "second_child_getppid=1",
        "relations: ok",
    ];
    let mut failures = Failures::new();
    for variant in ["proc_pids", "proc_pids-pie"] {
        let inv = Invocation::new(guest_program(variant));
        let native = run_native(&inv);
        failures.check(
            if native.status == 0
                && lines(&native.stdout).last().map(String::as_str) == Some("relations: ok")
            {
                Ok(())
            } else {
                Err(format!(
                    "--- native {variant}: the test program is broken (status {})\n{}{}",
                    native.status,
                    native.stdout_str(),
                    native.stderr_str()
                ))
            },
        );
        let sentry = run_sentry(&inv);
        let got = lines(&sentry.stdout);
        failures.check(
            if sentry.status == 0 && sentry.notes.is_empty() && got == expected {
                Ok(())
            } else {
                Err(format!(
                    "--- {variant} under sentry: status {}, notes {:?}\n  expected: {expected:?}\n  got:      {got:?}\n  stderr: {}",
                    sentry.status,
                    sentry.notes,
                    sentry.stderr_str()
                ))
            },
        );
    }
    failures.finish("pid numbering");
}

/// What one sample of the sentry's memory use holds.
#[derive(Clone, Copy, Debug)]
struct MemorySample {
    /// `VmRSS` of the sentry process, bytes.
    rss: u64,
    /// Space allocated to the guest-memory memfd(s) (`st_blocks * 512`).
    memfd: u64,
}

/// Reads the sentry's VmRSS and the allocated size of every fd of it whose
/// link names the guest-memory memfd.
fn sample_memory(pid: i32) -> MemorySample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status:\n{status}"));
    let mut memfd = 0;
    let mut found = Vec::new();
    let fd_dir = format!("/proc/{pid}/fd");
    for entry in std::fs::read_dir(&fd_dir)
        .unwrap_or_else(|e| panic!("read {fd_dir}: {e}"))
        .flatten()
    {
        let Ok(target) = std::fs::read_link(entry.path()) else {
            continue;
        };
        if target.to_string_lossy().contains("memfd:sentry-memory") {
            let meta = std::fs::metadata(entry.path())
                .unwrap_or_else(|e| panic!("stat -L {}: {e}", entry.path().display()));
            memfd += meta.blocks() * 512;
            found.push(target.display().to_string());
        }
    }
    assert!(
        !found.is_empty(),
        "no fd of sentry pid {pid} links to memfd:sentry-memory"
    );
    MemorySample {
        rss: rss_kib * 1024,
        memfd,
    }
}

/// One sentry runs a busybox sh loop of 2,000 fork+exec+wait cycles of
/// `<rootfs>/bin/true`. After iterations 200 and 2000 the guest prints a
/// marker and blocks on `read`; the test samples the sentry's memory there.
/// Neither the resident set nor the memfd space may grow by 10 MiB or more
/// between the two marks: exited processes must give their memory back.
#[test]
fn memory_stays_flat_over_2000_processes() {
    const LIMIT: u64 = 10 << 20;
    let true_bin = rootfs().join("bin/true");
    let script = format!(
        "i=0\n\
         while [ $i -lt 2000 ]; do\n\
         \x20 {} || exit 1\n\
         \x20 i=$((i+1))\n\
         \x20 if [ $i -eq 200 ] || [ $i -eq 2000 ]; then echo mark $i; read line; fi\n\
         done\n\
         echo finished\n",
        true_bin.display()
    );
    let inv = Invocation::busybox(&["sh", "-c", &script]);
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
    for mark in ["mark 200", "mark 2000"] {
        match out.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line == mark => {}
            Ok(line) => panic!("unexpected guest output {line:?} while waiting for {mark:?}"),
            Err(_) => panic!(
                "no {mark:?} from the guest within 180 s (status {:?})",
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
        "growth from mark 200 to mark 2000: VmRSS {} KiB, memfd {} KiB (limit {} KiB each)",
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
