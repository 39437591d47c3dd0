//! sentry (under construction).
fn main() {}
