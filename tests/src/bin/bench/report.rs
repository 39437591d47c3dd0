//! The table the bench prints: a header describing the machine, then one
//! block per workload with a line per row and its ratios.
//!
//! Lines are printed (and flushed) as soon as their row is measured, so a
//! slow or hung runner shows where the bench is.

use std::io::{self, Write};

use nix::sys::utsname::uname;
use nix::unistd::{SysconfVar, sysconf};

use crate::run::{Failure, Setup};
use crate::stats::Summary;
use crate::workloads::{Row, Workload};

/// Width of the label column.
const LABEL: usize = 34;
/// Width of each number column.
const NUMBER: usize = 11;

/// Prints what the figures depend on: CPUs, kernel, which sentry and runsc.
pub fn header(setup: &Setup) {
    let cpus = sysconf(SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .map_or_else(|| "?".to_owned(), |n| n.to_string());
    let kernel = uname().map_or_else(
        |_| "unknown kernel".to_owned(),
        |u| {
            format!(
                "{} {}",
                u.sysname().to_string_lossy(),
                u.release().to_string_lossy()
            )
        },
    );
    println!("sentry bench: {cpus} CPUs online, {kernel}");
    let built = if setup.sentry.exists() {
        ""
    } else {
        " (not built: its rows fail)"
    };
    println!("sentry: {}{built}", setup.sentry.display());
    match &setup.runsc {
        Some(runsc) => println!("runsc: {}", runsc.display()),
        None => println!("runsc: not installed, its rows are skipped"),
    }
    println!("figures: median, min and max of each row's runs; ratios are of medians");
}

/// Prints a workload's title line with the column heads.
pub fn title(workload: &Workload) {
    println!();
    println!(
        "{} [{} runs, {}]",
        workload.name,
        workload.reps,
        workload.metric.unit()
    );
    println!(
        "  {:<w$}  {:>NUMBER$}  {:>NUMBER$}  {:>NUMBER$}",
        "",
        "median",
        "min",
        "max",
        w = LABEL - 2
    );
}

/// Prints one row's result.
pub fn row(row: &Row, result: &Result<Summary, Failure>) {
    match result {
        Ok(s) => println!(
            "  {:<w$}  {:>NUMBER$.1}  {:>NUMBER$.1}  {:>NUMBER$.1}",
            row.label,
            s.median,
            s.min,
            s.max,
            w = LABEL - 2
        ),
        Err(failure) => println!("  {:<w$}  FAILED ({failure})", row.label, w = LABEL - 2),
    }
    flush();
}

/// Prints the workload's ratios from its rows' results.
pub fn ratios(workload: &Workload, results: &[(&str, Result<Summary, Failure>)]) {
    let median = |label: &str| {
        results
            .iter()
            .find(|(l, _)| *l == label)
            .and_then(|(_, r)| r.as_ref().ok())
            .map(|s| s.median)
    };
    for ratio in &workload.ratios {
        let name = format!("{} / {}", ratio.num, ratio.den);
        let value = match (median(ratio.num), median(ratio.den)) {
            (Some(num), Some(den)) => format!("{:.2}", num / den),
            (None, _) => format!("n/a ({} failed)", ratio.num),
            (_, None) => format!("n/a ({} failed)", ratio.den),
        };
        let target = ratio
            .target
            .map_or_else(String::new, |t| format!("  (target {t})"));
        println!("  ratio {name}: {value}{target}");
    }
    flush();
}

/// Pushes finished lines out even when stdout is a pipe.
fn flush() {
    // A closed stdout is not worth dying for mid-bench.
    let _ = io::stdout().flush();
}
