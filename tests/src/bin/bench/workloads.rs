//! The table of workloads: what is measured, how, and against what.
//!
//! A [`Workload`] is a named measurement with a [`Metric`], a list of
//! [`Row`]s (one per runner: the same command natively, under the raw
//! tracer, under `sentry run`, under `runsc`) and the [`Ratio`]s between rows
//! that the report prints. Adding a workload is adding an entry to
//! [`table`]; nothing else needs to change.

use std::ffi::OsString;
use std::path::Path;

use crate::raw_ptrace::Placement;
use crate::run::{Runner, Setup};

/// What one run of a row yields as its sample.
#[derive(Debug, Clone, Copy)]
pub enum Metric {
    /// The wall-clock time of the whole command, measured by the bench, in ms.
    WallMs,
    /// A figure the guest measures itself and prints as a `KEY VALUE` line.
    Guest {
        /// The key of the line.
        key: &'static str,
        /// The unit the value is in, for the table.
        unit: &'static str,
    },
}

impl Metric {
    /// The unit of this metric's samples, for the table.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::WallMs => "ms",
            Metric::Guest { unit, .. } => unit,
        }
    }
}

/// How each run's output is checked against the workload's first row (the
/// native reference), so that a runner that skipped the work cannot post a
/// fast time.
#[derive(Debug, Clone, Copy)]
pub enum Check {
    /// The guest's metric line is the check: a run without it fails.
    MetricLine,
    /// Stdout must be byte-for-byte the reference's.
    SameStdout,
    /// Stdout must have as many lines as the reference's (for listings whose
    /// owner names or paths may differ between runners).
    SameLineCount,
}

/// One runner's line in a workload.
pub struct Row {
    /// The label in the table, unique within its workload.
    pub label: &'static str,
    /// How the command runs.
    pub runner: Runner,
    /// The host argv; absolute paths, the same under every runner.
    pub argv: Vec<OsString>,
}

/// A ratio of two rows' medians, printed under the workload.
pub struct Ratio {
    /// The label of the numerator row.
    pub num: &'static str,
    /// The label of the denominator row.
    pub den: &'static str,
    /// What the figure is expected to be, shown beside it (never asserted).
    pub target: Option<&'static str>,
}

/// A named measurement.
pub struct Workload {
    /// The title in the table.
    pub name: &'static str,
    /// What each run yields.
    pub metric: Metric,
    /// How each run's output is validated.
    pub check: Check,
    /// How many times each row runs (the report gives the median).
    pub reps: usize,
    /// The rows, the native reference first.
    pub rows: Vec<Row>,
    /// The ratios printed after the rows.
    pub ratios: Vec<Ratio>,
}

/// Iterations of the getppid loop natively: ~0.1 s at ~0.1 µs a call.
const GETPPID_NATIVE: u32 = 1_000_000;
/// Iterations under a same-CPU tracer: ~0.5 s at ~10 µs a call.
const GETPPID_TRACED: u32 = 50_000;
/// Iterations where stops cross CPUs (~60 µs a call): ~0.6 s.
const GETPPID_CROSS_CPU: u32 = 10_000;
/// MiB copied by the throughput guests, 1 MiB at a time.
const COPY_MIB: u32 = 256;
/// The chunk (and buffer) size of the throughput guests, in KiB.
const COPY_CHUNK_KIB: u32 = 1024;
/// Futex round trips between two guest threads natively: ~0.5 s at a few
/// µs each.
const PINGPONG_NATIVE: u32 = 100_000;
/// Round trips under sentry, where each hand-over is a traced syscall
/// (~15-60 µs): ~0.5 s.
const PINGPONG_TRACED: u32 = 10_000;
/// Repetitions of every row.
const REPS: usize = 5;
/// Directories in the tree that `ls -laR` lists (the workload's name says
/// 200 x 100).
pub const TREE_DIRS: usize = 200;
/// Empty files in each directory of that tree.
pub const TREE_FILES: usize = 100;

// Labels of the rows that ratios refer to.
const NATIVE: &str = "native";
const RAW_SAME_CPU: &str = "raw ptrace, same CPU";
const RAW_PINNED: &str = "raw ptrace, both pinned";
const RAW_UNBOUND: &str = "raw ptrace, unbound";
const SENTRY: &str = "sentry run";
const RUNSC: &str = "runsc ptrace";
const NATIVE_1T: &str = "native, 1 thread";
const NATIVE_2T: &str = "native, 2 threads";
const SENTRY_1T: &str = "sentry run, 1 thread";
const SENTRY_2T: &str = "sentry run, 2 threads";
const RUNSC_1T: &str = "runsc ptrace, 1 thread";
const RUNSC_2T: &str = "runsc ptrace, 2 threads";

/// Every workload, in report order. `tree` is the directory `ls -laR` lists.
pub fn table(setup: &Setup, tree: &Path) -> Vec<Workload> {
    let root = &setup.rootfs;
    let test = |name: &str, args: &[String]| -> Vec<OsString> {
        let mut argv = vec![root.join("test").join(name).into_os_string()];
        argv.extend(args.iter().map(OsString::from));
        argv
    };
    let getppid = |n: u32| test("bench_getppid", &[n.to_string()]);
    let copy_args = [COPY_MIB.to_string(), COPY_CHUNK_KIB.to_string()];
    let pingpong = |n: u32| test("thr_bench_pingpong", &[n.to_string()]);
    let spin = |threads: u32| test("thr_bench_spin", &[threads.to_string()]);
    // Busybox's applets straight from the rootfs, by absolute path, so the
    // script does the same work natively and under every sandbox.
    let bin = root.join("bin");
    let usr_bin = root.join("usr/bin");
    let path = format!("PATH={}:{}", bin.display(), usr_bin.display());
    let sh = |script: String| -> Vec<OsString> {
        vec![
            bin.join("sh").into_os_string(),
            "-c".into(),
            format!("{path}; {script}").into(),
        ]
    };
    let fork_exec = sh(format!(
        "i=0; while [ $i -lt 200 ]; do {}; i=$((i+1)); done; echo $i",
        bin.join("true").display()
    ));
    let sort = sh("seq 200000 | sort -r | md5sum".into());
    let ls = vec![
        bin.join("ls").into_os_string(),
        "-laR".into(),
        tree.as_os_str().to_owned(),
    ];
    // Debian's own dynamic programs from the host root (the guest loads
    // ld.so, libc and python's modules through the sentry's page cache).
    let host = |argv: &[&str]| -> Vec<OsString> { argv.iter().map(OsString::from).collect() };
    let python_startup = host(&["/usr/bin/python3", "-c", "pass"]);
    let bash_loop = host(&["/bin/bash", "-c", "for i in $(seq 100); do /bin/true; done"]);
    let tar_doc = host(&["/bin/tar", "czf", "/dev/null", "-C", "/usr/share", "doc"]);

    let mut workloads = vec![
        Workload {
            name: "getppid loop (guest-timed, per call)",
            metric: Metric::Guest {
                key: "ns_per_call",
                unit: "ns",
            },
            check: Check::MetricLine,
            reps: REPS,
            rows: vec![
                row(NATIVE, Runner::Native, getppid(GETPPID_NATIVE)),
                row(
                    RAW_SAME_CPU,
                    Runner::RawPtrace(Placement::SameCpu),
                    getppid(GETPPID_TRACED),
                ),
                row(
                    RAW_PINNED,
                    Runner::RawPtrace(Placement::Pinned),
                    getppid(GETPPID_TRACED),
                ),
                row(
                    RAW_UNBOUND,
                    Runner::RawPtrace(Placement::Unbound),
                    getppid(GETPPID_CROSS_CPU),
                ),
                row(SENTRY, Runner::Sentry, getppid(GETPPID_TRACED)),
                row(RUNSC, Runner::Runsc, getppid(GETPPID_CROSS_CPU)),
            ],
            ratios: vec![
                ratio(SENTRY, RAW_SAME_CPU),
                ratio(RAW_UNBOUND, RAW_SAME_CPU),
                ratio(RAW_SAME_CPU, RAW_PINNED),
                ratio(RUNSC, RAW_SAME_CPU),
            ],
        },
        Workload {
            name: "guest-to-kernel copy: 256 MiB in 1 MiB chunks (guest-timed)",
            metric: Metric::Guest {
                key: "mib_per_s",
                unit: "MiB/s",
            },
            check: Check::MetricLine,
            reps: REPS,
            rows: vec![
                row(
                    "memcpy, native",
                    Runner::Native,
                    test("bench_memcpy", &copy_args),
                ),
                row(
                    "write /dev/null, sentry run",
                    Runner::Sentry,
                    test("bench_write_null", &copy_args),
                ),
                row(
                    "write /dev/null, runsc ptrace",
                    Runner::Runsc,
                    test("bench_write_null", &copy_args),
                ),
            ],
            ratios: vec![Ratio {
                num: "write /dev/null, sentry run",
                den: "memcpy, native",
                target: Some(">= 0.5"),
            }],
        },
        Workload {
            name: "futex ping-pong between two threads (guest-timed)",
            metric: Metric::Guest {
                key: "round_trips_per_s",
                unit: "round trips/s",
            },
            check: Check::MetricLine,
            reps: REPS,
            rows: vec![
                row(NATIVE, Runner::Native, pingpong(PINGPONG_NATIVE)),
                row(SENTRY, Runner::Sentry, pingpong(PINGPONG_TRACED)),
                row(RUNSC, Runner::Runsc, pingpong(PINGPONG_TRACED)),
            ],
            ratios: vec![ratio(SENTRY, NATIVE), ratio(RUNSC, NATIVE)],
        },
        Workload {
            name: "CPU-bound threads: ~0.4 s of work each, 2 threads vs 1",
            metric: Metric::WallMs,
            check: Check::SameStdout,
            reps: REPS,
            rows: vec![
                row(NATIVE_1T, Runner::Native, spin(1)),
                row(NATIVE_2T, Runner::Native, spin(2)),
                row(SENTRY_1T, Runner::Sentry, spin(1)),
                row(SENTRY_2T, Runner::Sentry, spin(2)),
                row(RUNSC_1T, Runner::Runsc, spin(1)),
                row(RUNSC_2T, Runner::Runsc, spin(2)),
            ],
            ratios: vec![
                Ratio {
                    num: NATIVE_2T,
                    den: NATIVE_1T,
                    target: Some("~1 with 2 free CPUs"),
                },
                Ratio {
                    num: SENTRY_2T,
                    den: SENTRY_1T,
                    target: Some("~1 with 2 free CPUs"),
                },
                ratio(SENTRY_2T, NATIVE_2T),
                ratio(RUNSC_2T, RUNSC_1T),
            ],
        },
    ];
    for (name, check, argv) in [
        (
            "sh: 200 x fork+exec+wait of /bin/true",
            Check::SameStdout,
            fork_exec,
        ),
        ("sh: seq 200000 | sort -r | md5sum", Check::SameStdout, sort),
        (
            "ls -laR of 20,000 files in 200 dirs",
            Check::SameLineCount,
            ls,
        ),
        (
            "python3 -c pass (startup)",
            Check::SameStdout,
            python_startup,
        ),
        (
            "bash: for i in $(seq 100); do /bin/true; done",
            Check::SameStdout,
            bash_loop,
        ),
        (
            "tar czf /dev/null -C /usr/share doc",
            Check::SameStdout,
            tar_doc,
        ),
    ] {
        workloads.push(Workload {
            name,
            metric: Metric::WallMs,
            check,
            reps: REPS,
            rows: vec![
                row(NATIVE, Runner::Native, argv.clone()),
                row(SENTRY, Runner::Sentry, argv.clone()),
                row(RUNSC, Runner::Runsc, argv),
            ],
            ratios: vec![ratio(SENTRY, NATIVE), ratio(RUNSC, NATIVE)],
        });
    }

    // runsc is optional: without it its rows (and the ratios that name them)
    // are left out, and the header says so once.
    if setup.runsc.is_none() {
        for workload in &mut workloads {
            workload
                .rows
                .retain(|row| !matches!(row.runner, Runner::Runsc));
            let labels: Vec<_> = workload.rows.iter().map(|row| row.label).collect();
            workload
                .ratios
                .retain(|ratio| labels.contains(&ratio.num) && labels.contains(&ratio.den));
        }
    }
    workloads
}

/// A row.
fn row(label: &'static str, runner: Runner, argv: Vec<OsString>) -> Row {
    Row {
        label,
        runner,
        argv,
    }
}

/// A ratio without a target.
fn ratio(num: &'static str, den: &'static str) -> Ratio {
    Ratio {
        num,
        den,
        target: None,
    }
}
