//! Shared helpers for running guests under sentry and natively.
