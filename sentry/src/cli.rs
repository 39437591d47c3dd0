//! The command line: `sentry run ...` and `sentry syscalls`.

use crate::sandbox::{self, RunConfig};
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::PathBuf;

/// A gVisor-style userspace kernel: runs x86_64 Linux programs under PTRACE_SYSEMU,
/// answering every syscall itself.
#[derive(Parser)]
#[command(name = "sentry", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run PROGRAM as a guest. Exits with the guest's exit status, or 128+N if it was
    /// killed by signal N; 127 if PROGRAM does not exist, 126 if it cannot be executed,
    /// 125 if the sentry itself cannot start.
    Run(RunArgs),
    /// Print how every Linux syscall is answered (supported, partial, ENOSYS).
    Syscalls,
}

#[derive(clap::Args)]
struct RunArgs {
    /// Host directory that is the guest's `/`.
    #[arg(long, value_name = "DIR", default_value = "/")]
    root: PathBuf,
    /// Write through to the root instead of the default writable in-memory overlay (with
    /// the overlay the guest may change any file, and the host sees none of it).
    #[arg(long)]
    rw_root: bool,
    /// Share host directory HOST at guest path GUEST, read-write (writes land on the
    /// host) unless `:ro` (repeatable).
    #[arg(long = "bind", value_name = "HOST:GUEST[:ro|rw]")]
    binds: Vec<String>,
    /// Mount an empty in-memory directory at guest path PATH (repeatable).
    #[arg(long = "tmpfs", value_name = "PATH")]
    tmpfs: Vec<String>,
    /// Guest working directory (default: the sentry's own when the root is `/`, else `/`).
    #[arg(long, value_name = "DIR")]
    cwd: Option<String>,
    /// Set a variable in the guest's environment (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Start the guest with an empty environment (before --env).
    #[arg(long)]
    clear_env: bool,
    /// Print every guest syscall to stderr, like strace.
    #[arg(long)]
    strace: bool,
    /// Dump every guest VMA after each exec, at exit and on SIGUSR1, to FILE or stderr.
    #[arg(long, value_name = "FILE", num_args = 0..=1, require_equals = true, default_missing_value = "-")]
    dump_vmas: Option<PathBuf>,
    /// PROGRAM [ARGS...]: a guest path if PROGRAM contains `/`, else looked up in the
    /// guest's PATH. Everything after PROGRAM goes to the guest, options included.
    #[arg(value_name = "PROGRAM", required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<OsString>,
}

/// Parses the command line and runs it; returns the process exit status.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { 125 } else { 0 };
        }
    };
    match cli.command {
        Command::Syscalls => {
            print!("{}", crate::syscalls::table::report());
            0
        }
        Command::Run(a) => {
            use std::os::unix::ffi::OsStringExt;
            let mut command = a.command.into_iter().map(|s| s.into_vec());
            let program = command.next().unwrap_or_default();
            let config = RunConfig {
                root: a.root,
                cwd: a.cwd,
                env: a.env,
                clear_env: a.clear_env,
                strace: a.strace,
                dump_vmas: a
                    .dump_vmas
                    .map(|p| if p.as_os_str() == "-" { None } else { Some(p) }),
                rw_root: a.rw_root,
                binds: a.binds,
                tmpfs: a.tmpfs,
                program,
                args: command.collect(),
            };
            sandbox::run(config)
        }
    }
}
