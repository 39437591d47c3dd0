//! The command line: `sentry run ...` and `sentry syscalls`.

use crate::kernel::Network;
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
    Run(Box<RunArgs>),
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
    /// Most guest memory (memory pages plus in-memory files), e.g. 512M or 2G: mmap and
    /// brk beyond it fail with ENOMEM, and a guest that still grows past it is killed.
    /// Default: half of the host's memory.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    memory: Option<u64>,
    /// Most guest processes and threads alive at once: fork and clone beyond it fail with
    /// EAGAIN.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    max_procs: usize,
    /// Most open files per guest process (RLIMIT_NOFILE, soft and hard). Default: the
    /// sentry's own limits.
    #[arg(long, value_name = "N")]
    max_fds: Option<u64>,
    /// Kill the guest after this many seconds of wall-clock time; the sentry then exits
    /// with status 124.
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Set a variable in the guest's environment (repeatable).
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Start the guest with an empty environment (before --env).
    #[arg(long)]
    clear_env: bool,
    /// Where the guest's TCP and UDP sockets live. `sandbox`: in the sentry, on the
    /// sandbox's own loopback interface, unreachable from the host and reaching nothing
    /// outside. `host`: host sockets the sentry makes for the guest, sharing the host's
    /// interfaces, addresses and ports (netlink and interface ioctls show the host's).
    #[arg(long, value_name = "MODE", value_enum, default_value_t = Network::Sandbox)]
    network: Network,
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
                network: a.network,
                dump_vmas: a
                    .dump_vmas
                    .map(|p| if p.as_os_str() == "-" { None } else { Some(p) }),
                rw_root: a.rw_root,
                memory: a.memory,
                max_procs: a.max_procs,
                max_fds: a.max_fds,
                timeout: a.timeout.map(std::time::Duration::from_secs_f64),
                binds: a.binds,
                tmpfs: a.tmpfs,
                program,
                args: command.collect(),
            };
            sandbox::run(config)
        }
    }
}

/// Parses a size like `4096`, `512K`, `64M`, `2G` or `1T` (binary multiples).
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("unknown size suffix in {s:?}")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num.parse().map_err(|_| format!("not a size: {s:?}"))?;
    n.checked_mul(mult)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("12X").is_err());
        assert!(parse_size("M").is_err());
    }
}
