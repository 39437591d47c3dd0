//! `bench`: what running under sentry costs, against native and a raw
//! `PTRACE_SYSEMU` loop, printed as a table of medians and ratios.
//!
//! `make bench` runs it with `SENTRY_BIN` and `SENTRY_ROOTFS` set (both
//! default to this workspace's `target/release/sentry` and `rootfs/`); the
//! guests are `rootfs/test/bench_*` and `rootfs/test/thr_bench_*`, built by
//! `make rootfs` from `rootfs/src/`, and busybox's applets.
//!
//! The bench never asserts a figure and never stops at a failing runner:
//! a sentry that is missing, crashes, hangs or produces the wrong output
//! gets a `FAILED (...)` row and the bench goes on. The workloads, each a
//! few rows of the same command under different runners, are the table in
//! [`workloads`]; [`run`] knows how each runner starts a command,
//! [`raw_ptrace`] is the bench's own minimal tracer, [`measure`] repeats and
//! checks runs, and [`report`] prints.

mod measure;
mod raw_ptrace;
mod report;
mod run;
mod stats;
mod tree;
mod workloads;

use std::process::ExitCode;

use crate::run::Setup;
use crate::tree::Tree;

fn main() -> ExitCode {
    let setup = Setup::from_env();
    let tree = match Tree::create(workloads::TREE_DIRS, workloads::TREE_FILES) {
        Ok(tree) => tree,
        Err(err) => {
            eprintln!("bench: cannot create the ls -laR tree: {err}");
            return ExitCode::FAILURE;
        }
    };

    report::header(&setup);
    for workload in workloads::table(&setup, tree.path()) {
        report::title(&workload);
        let mut reference = None;
        let results: Vec<_> = workload
            .rows
            .iter()
            .map(|row| {
                let result = measure::row(&setup, &workload, row, &mut reference);
                report::row(row, &result);
                (row.label, result)
            })
            .collect();
        report::ratios(&workload, &results);
    }
    ExitCode::SUCCESS
}
