//! Watching the sentry's memory while one long-lived guest works: the guest prints a
//! marker line and blocks reading a line from stdin; at each marker the test samples the
//! sentry's resident set (`VmRSS` of `/proc/<sentry>/status`) and the space allocated to
//! its guest-memory memfd (`st_blocks * 512` of every fd whose link names
//! `memfd:sentry-memory`), then lets the guest go on. Between the first and the last
//! marker neither figure may grow by the limit or more: exited processes give their
//! memory back, shared pages are not copied.

use crate::{Background, Invocation, leftovers_after_exit, sentry_command};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// One sample of the sentry's memory use, in bytes.
#[derive(Clone, Copy, Debug)]
pub struct MemorySample {
    /// `VmRSS` of the sentry process.
    pub rss: u64,
    /// Space allocated to the guest-memory memfd(s).
    pub memfd: u64,
}

/// Reads the sentry's `VmRSS` and the allocated size of its guest-memory memfds.
pub fn sample_memory(pid: i32) -> MemorySample {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status:\n{status}"));
    let fd_dir = format!("/proc/{pid}/fd");
    let mut memfd = 0;
    let mut found = 0;
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
            found += 1;
        }
    }
    assert!(
        found > 0,
        "no fd of sentry pid {pid} links to memfd:sentry-memory"
    );
    MemorySample {
        rss: rss_kib * 1024,
        memfd,
    }
}

/// What to watch: the guest, its two marker lines, how long to wait for each, and the
/// largest growth allowed between them (per figure, bytes).
pub struct MemoryWatch<'a> {
    /// The guest program.
    pub inv: &'a Invocation,
    /// The first and the last marker line.
    pub marks: [&'a str; 2],
    /// How long the guest may take to reach each marker.
    pub mark_timeout: Duration,
    /// Growth that fails the test.
    pub limit: u64,
}

/// Runs the watch: the guest must reach both markers, then print `finished` and exit 0,
/// leave nothing running, and grow neither figure by the limit. Panics with every
/// problem found.
pub fn assert_memory_flat(watch: &MemoryWatch<'_>) {
    let inv = watch.inv;
    let mut run_args: Vec<String> = vec!["--clear-env".into()];
    for (k, v) in &inv.env {
        run_args.push("--env".into());
        run_args.push(format!("{k}={v}"));
    }
    run_args.push(inv.program.to_string_lossy().into_owned());
    run_args.extend(inv.args.iter().map(|a| a.to_string_lossy().into_owned()));

    let started = Instant::now();
    let mut sentry = Background::spawn(sentry_command(inv, &run_args));
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
    for mark in watch.marks {
        match out.recv_timeout(watch.mark_timeout) {
            Ok(line) if line == mark => {}
            Ok(line) => panic!("unexpected guest output {line:?} while waiting for {mark:?}"),
            Err(_) => panic!(
                "no {mark:?} from the guest within {:?} (status {:?})",
                watch.mark_timeout,
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
        "growth from {:?} to {:?}: VmRSS {} KiB, memfd {} KiB (limit {} KiB each)",
        watch.marks[0],
        watch.marks[1],
        rss_growth / 1024,
        memfd_growth / 1024,
        watch.limit / 1024
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
    for (what, growth, from, to) in [
        ("sentry VmRSS", rss_growth, a.rss, b.rss),
        ("guest memfd allocation", memfd_growth, a.memfd, b.memfd),
    ] {
        if growth >= watch.limit {
            problems.push(format!(
                "{what} grew by {} KiB ({} -> {} KiB)",
                growth / 1024,
                from / 1024,
                to / 1024
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
