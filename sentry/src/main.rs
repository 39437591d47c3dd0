//! The `sentry` command.

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    // A bug in the sentry must not leave a half-working sandbox: say so and exit, which
    // takes every stub down with the tracer threads (PTRACE_O_EXITKILL).
    std::panic::set_hook(Box::new(|info| {
        eprintln!("sentry: internal error: {info}");
        std::process::exit(sentry::sandbox::EXIT_SENTRY_ERROR);
    }));
    std::process::exit(sentry::cli::main());
}
