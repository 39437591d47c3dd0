//! Repeating a row and turning each run into one checked sample.

use crate::run::{Failure, Outcome, Runner, Setup};
use crate::stats::Summary;
use crate::workloads::{Check, Metric, Row, Workload};

/// The stdout of the workload's native run, that other rows must match.
pub type Reference = Option<Vec<u8>>;

/// Runs `row` `workload.reps` times and summarises its samples. The first
/// failed run fails the row: a broken sentry costs one run, not five.
/// A native row records its first stdout in `reference`; other rows are
/// checked against it.
pub fn row(
    setup: &Setup,
    workload: &Workload,
    row: &Row,
    reference: &mut Reference,
) -> Result<Summary, Failure> {
    let mut samples = Vec::with_capacity(workload.reps);
    for _ in 0..workload.reps {
        let outcome = row.runner.run(setup, &row.argv)?;
        check(workload.check, row.runner, &outcome.stdout, reference)?;
        samples.push(sample(workload.metric, &outcome)?);
    }
    Ok(Summary::of(&samples).expect("every row runs at least once"))
}

/// Checks one run's stdout against the native reference.
fn check(
    check: Check,
    runner: Runner,
    stdout: &[u8],
    reference: &mut Reference,
) -> Result<(), Failure> {
    match (check, runner, reference.as_deref()) {
        (Check::MetricLine, _, _) => Ok(()),
        (_, Runner::Native, None) => {
            *reference = Some(stdout.to_vec());
            Ok(())
        }
        (Check::SameLineCount, _, Some(expected)) => {
            let lines = |out: &[u8]| out.iter().filter(|&&b| b == b'\n').count();
            let (got, want) = (lines(stdout), lines(expected));
            if got == want {
                Ok(())
            } else {
                Err(Failure::WrongOutput(format!("{got} lines, native {want}")))
            }
        }
        (Check::SameStdout, _, Some(expected)) if stdout == expected => Ok(()),
        (Check::SameStdout, _, Some(_)) => Err(Failure::WrongOutput(format!(
            "got {:?}",
            String::from_utf8_lossy(&stdout[..stdout.len().min(60)])
        ))),
        (_, _, None) => Err(Failure::WrongOutput("no native run to compare with".into())),
    }
}

/// The sample one run yields under `metric`.
fn sample(metric: Metric, outcome: &Outcome) -> Result<f64, Failure> {
    match metric {
        Metric::WallMs => Ok(outcome.wall.as_secs_f64() * 1e3),
        Metric::Guest { key, .. } => String::from_utf8_lossy(&outcome.stdout)
            .lines()
            .find_map(|line| match line.split_once(' ') {
                Some((k, value)) if k == key => value.trim().parse().ok(),
                _ => None,
            })
            .ok_or(Failure::NoMetric(key)),
    }
}
