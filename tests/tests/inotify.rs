//! inotify under sentry, against native runs:
//!
//! - the `inotify_events` guest in a scratch directory on a host bind: the events of
//!   every kind of change (names, ordering, merging, rename cookies), reads, readiness,
//!   a blocking read woken by a child, watch flags, errors and the queue overflow;
//! - the same guest's `--existing` mode on objects the guest sees through the read-only
//!   overlay (no bind), whose watches must follow them when the first change copies them
//!   up — while the host's files stay untouched;
//! - `tail -f` (GNU coreutils) printing a line another process appends, having waited
//!   for it through inotify (checked in its `--strace` output) rather than by polling.

use std::path::Path;
use tests::{
    Compare, Failures, Invocation, Scratch, check_guest, compare, guest_program, remove_tree,
    run_native, run_sentry_raw, run_sentry_with,
};

#[test]
fn events_in_a_bound_directory() {
    let scratch = Scratch::new("inotify");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(
        &mut failures,
        "inotify_events",
        &[&arg],
        b"",
        0,
        &mut || {
            remove_tree(&dir);
            std::fs::create_dir(&dir).expect("create work dir");
        },
    );
    failures.finish("inotify_events");
}

/// A fresh `dir` holding the file `f`.
fn existing_objects(dir: &Path) {
    remove_tree(dir);
    std::fs::create_dir(dir).expect("create dir");
    std::fs::write(dir.join("f"), "hi\n").expect("write f");
}

#[test]
fn watches_follow_overlay_copy_up() {
    let scratch = Scratch::new("inotify-overlay");
    let dir = scratch.join("lower");
    let mut failures = Failures::new();
    for variant in ["inotify_events", "inotify_events-pie"] {
        let inv = Invocation::new(guest_program(variant))
            .arg(&dir)
            .arg("--existing");
        existing_objects(&dir);
        let native = run_native(&inv);
        existing_objects(&dir);
        // No bind: the scratch directory is the host's, under the writable overlay.
        let mut args = vec!["--clear-env".to_string()];
        for (k, v) in &inv.env {
            args.extend(["--env".to_string(), format!("{k}={v}")]);
        }
        args.push(inv.program.to_string_lossy().into_owned());
        args.extend(inv.args.iter().map(|a| a.to_string_lossy().into_owned()));
        let sentry = run_sentry_raw(&inv, &args);
        failures.check(compare(
            &inv.describe(),
            &native,
            &sentry,
            Compare::default(),
        ));
        let untouched = std::fs::read_to_string(dir.join("f")).ok().as_deref() == Some("hi\n")
            && std::fs::read_dir(&dir).map_or(0, Iterator::count) == 1;
        failures.check(if untouched {
            Ok(())
        } else {
            Err(format!(
                "--- {variant}: the guest changed the host's {}",
                dir.display()
            ))
        });
    }
    failures.finish("inotify_events --existing");
}

/// Appends a line once some process of the sandbox holds an inotify instance (tail's),
/// while `tail -f` follows the file for two seconds.
const TAIL_SCRIPT: &str = r#"f=$1/log
echo one > "$f"
(
    for i in $(seq 100); do
        ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q inotify && break
        sleep 0.02
    done
    sleep 0.1
    echo more >> "$f"
) &
timeout 2 tail -f "$f"
"#;

#[test]
fn tail_follows_through_inotify() {
    let scratch = Scratch::new("inotify-tail");
    let dir = scratch.path().display().to_string();
    let inv = Invocation::new("/usr/bin/bash")
        .args(&["-c", TAIL_SCRIPT, "bash"])
        .arg(&dir);
    let native = run_native(&inv);
    assert_eq!(native.stdout_str(), "one\nmore\n", "native tail -f");
    assert_eq!(native.status, 124, "native tail -f ends by timeout");
    let sentry = run_sentry_with(&inv, &["--strace"]);
    let mut failures = Failures::new();
    failures.check(compare(
        &inv.describe(),
        &native,
        &sentry,
        Compare::default(),
    ));
    // tail's watch on the file, and the IN_MODIFY record (wd 1) it read before printing
    // the new line.
    let trace = sentry.stderr_str();
    let watched = trace
        .lines()
        .any(|l| l.contains("inotify_add_watch(") && l.contains("/log\"") && !l.contains("= -1"));
    let woken = trace.contains(r#""\1\0\0\0\2\0\0\0\0\0\0\0\0\0\0\0""#);
    failures.check(if watched && woken {
        Ok(())
    } else {
        Err(format!(
            "--- tail -f under --strace: watch added {watched}, IN_MODIFY read {woken}\n{}",
            trace
                .lines()
                .filter(|l| l.contains("inotify") || l.contains("sleep"))
                .collect::<Vec<_>>()
                .join("\n")
        ))
    });
    failures.finish("tail -f");
}
