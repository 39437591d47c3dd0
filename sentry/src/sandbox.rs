//! Starting a sandbox: root, program, first task, and the exit status.
//!
//! The order is fixed: open the root and build the VFS; resolve and validate the program
//! (nothing runs if it cannot); set up the kernel; start the first task on its own thread,
//! which creates its stub, loads the image and runs; wait for it and return its status.

use crate::dump::VmaDump;
use crate::kernel::process::{Creds, FsContext};
use crate::kernel::sigframe::SigInfo;
use crate::kernel::{Kernel, Limits, Network, Options, exec, fork, signal};
use fs::host::{HostFile, HostInode};
use fs::{FdTable, FileType, OpenFile, Vfs, WalkCtx};
use loader::LoadError;
use nix::errno::Errno;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;

/// Exit status when the sentry itself cannot start.
pub const EXIT_SENTRY_ERROR: i32 = 125;
/// Exit status when the program exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit status when the program does not exist.
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit status when `--timeout` ran out (as timeout(1)).
pub const EXIT_TIMEOUT: i32 = 124;
/// Exit status when the guest outgrew `--memory` and was killed.
pub const EXIT_OUT_OF_MEMORY: i32 = 137;

/// The PATH a guest gets when its environment has none (Linux's default for root).
const DEFAULT_PATH: &[u8] = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What `sentry run` was asked to do.
pub struct RunConfig {
    /// Host directory that is the guest's root.
    pub root: PathBuf,
    /// Write through to the root rather than into an overlay.
    pub rw_root: bool,
    /// `HOST:GUEST[:ro|rw]` bind mounts.
    pub binds: Vec<String>,
    /// Guest memory limit in bytes.
    pub memory: Option<u64>,
    /// Most live guest tasks.
    pub max_procs: usize,
    /// RLIMIT_NOFILE for the guest.
    pub max_fds: Option<u64>,
    /// Wall-clock limit.
    pub timeout: Option<std::time::Duration>,
    /// Guest paths of empty in-memory mounts.
    pub tmpfs: Vec<String>,
    /// Guest working directory.
    pub cwd: Option<String>,
    /// `K=V` settings added to the environment.
    pub env: Vec<String>,
    /// Start from an empty environment.
    pub clear_env: bool,
    /// Print syscalls.
    pub strace: bool,
    /// Where inet sockets live.
    pub network: Network,
    /// VMA dump target: `Some(None)` for stderr.
    pub dump_vmas: Option<Option<PathBuf>>,
    /// Program name or guest path.
    pub program: Vec<u8>,
    /// Its arguments.
    pub args: Vec<Vec<u8>>,
}

fn fail(msg: impl std::fmt::Display) -> i32 {
    eprintln!("sentry: {msg}");
    EXIT_SENTRY_ERROR
}

/// Runs a sandbox to completion; returns the exit status for the sentry process.
pub fn run(config: RunConfig) -> i32 {
    // The guest's umask is applied by the sentry; the host must not apply the sentry's own
    // on top when creating files for the guest.
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let root_inode = match HostInode::open_root(&config.root) {
        Ok(r) => r,
        Err(e) => {
            return fail(format!(
                "cannot open root {}: {}",
                config.root.display(),
                e.desc()
            ));
        }
    };
    let memory_limit = config.memory.unwrap_or_else(default_memory);
    let (vfs, tmpfs) = match build_vfs(&config, root_inode, memory_limit) {
        Ok(v) => v,
        Err(msg) => return fail(msg),
    };
    let dump = match &config.dump_vmas {
        None => None,
        Some(path) => match VmaDump::open(path.as_deref()) {
            Ok(d) => Some(d),
            Err(e) => return fail(format!("cannot open the VMA dump file: {e}")),
        },
    };
    let kernel = match Kernel::new(
        vfs,
        Options {
            strace: config.strace,
            dump,
            limits: Limits {
                memory: memory_limit,
                tasks: config.max_procs,
                fds: config.max_fds,
            },
            network: config.network,
        },
    ) {
        Ok(k) => k,
        Err(e) => return fail(format!("cannot create guest memory: {e}")),
    };

    for t in tmpfs {
        kernel.account_tmpfs(t);
    }
    kernel
        .vfs
        .mount("/proc", crate::procfs::procfs(Arc::downgrade(&kernel)));
    let root = kernel.vfs.root();
    let cwd = match initial_cwd(&kernel.vfs, &root, &config) {
        Ok(c) => c,
        Err(msg) => return fail(msg),
    };
    let fsctx = FsContext {
        root: root.clone(),
        cwd,
        umask: 0o022,
    };
    let envp = guest_env(&config);
    let program_path = match find_program(&kernel.vfs, &fsctx, &config.program, &envp) {
        Some(p) => p,
        None => {
            eprintln!(
                "sentry: {}: command not found",
                String::from_utf8_lossy(&config.program)
            );
            return EXIT_NOT_FOUND;
        }
    };
    let mut argv = vec![config.program.clone()];
    argv.extend(config.args.iter().cloned());
    let creds = Creds::of_host();
    let prepared = match exec::prepare_in(&kernel.vfs, &fsctx, creds, &program_path, argv, envp) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("sentry: {}: {e}", String::from_utf8_lossy(&config.program));
            return match e {
                LoadError::Open(Errno::ENOENT) | LoadError::Open(Errno::ENOTDIR) => EXIT_NOT_FOUND,
                _ => EXIT_CANNOT_EXECUTE,
            };
        }
    };
    let files = match stdio_table() {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot set up the guest's stdio: {}", e.desc())),
    };
    start_signal_thread(kernel.clone());

    let handle = match fork::start_init(&kernel, fsctx, files, prepared) {
        Ok(h) => h,
        Err(_) => return fail("cannot start the first task's thread"),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = std::thread::Builder::new()
        .name("init-wait".into())
        .spawn(move || {
            let _ = tx.send(handle.join());
        });
    if config.memory.is_some() || memory_limit != u64::MAX {
        start_memory_watchdog(kernel.clone());
    }
    let joined = match config.timeout {
        Some(t) => match rx.recv_timeout(t) {
            Ok(j) => j,
            Err(_) => {
                eprintln!("sentry: the guest ran out of time ({} s)", t.as_secs_f64());
                return EXIT_TIMEOUT;
            }
        },
        None => rx.recv().unwrap_or(Err(Box::new("lost"))),
    };
    match joined {
        Ok(status) => status.shell_status(),
        Err(_) => fail("internal error: the first task panicked"),
    }
}

/// Half of the host's memory: the default `--memory`.
fn default_memory() -> u64 {
    nix::sys::sysinfo::sysinfo()
        .map(|s| s.ram_total() / 2)
        .unwrap_or(1 << 30)
}

/// Ends the sandbox if the guest's memory grows past the limit anyway (pages touched in
/// mappings that were within the limit when made): the host must not be pushed into OOM.
fn start_memory_watchdog(kernel: Arc<Kernel>) {
    let _ = std::thread::Builder::new().name("memory-watchdog".into()).spawn(move || {
        loop {
            std::thread::sleep(std::time::Duration::from_millis(20));
            let used = kernel.guest_memory();
            if used > kernel.opts.limits.memory {
                eprintln!(
                    "sentry: the guest outgrew its memory limit ({} MiB > {} MiB) and was killed",
                    used >> 20,
                    kernel.opts.limits.memory >> 20
                );
                std::process::exit(EXIT_OUT_OF_MEMORY);
            }
        }
    });
}

/// The guest's file tree: the root (an overlay over the host directory unless
/// `--rw-root`), `/dev`, binds and tmpfs mounts.
/// Also returns the in-memory filesystems made, whose contents count as guest memory.
fn build_vfs(
    config: &RunConfig,
    root: Arc<HostInode>,
    limit: u64,
) -> Result<(Vfs, Vec<Arc<fs::tmpfs::TmpFs>>), String> {
    let mut tmpfs = Vec::new();
    let root: Arc<dyn fs::Inode> = if config.rw_root {
        root
    } else {
        let ov = fs::overlay::overlay(root, limit)
            .map_err(|e| format!("cannot set up the overlay: {}", e.desc()))?;
        tmpfs.extend(ov.upper_fs());
        ov
    };
    let vfs = Vfs::new(root);
    vfs.mount("/dev", fs::dev::devfs());
    let shm = fs::tmpfs::TmpFs::root(limit, 0o1777);
    tmpfs.push(shm.fs().clone());
    vfs.mount("/dev/shm", shm);
    for spec in &config.binds {
        let parts: Vec<&str> = spec.split(':').collect();
        let (host, guest, mode) = match parts.as_slice() {
            [h, g] => (*h, *g, "rw"),
            [h, g, m] if *m == "ro" || *m == "rw" => (*h, *g, *m),
            _ => return Err(format!("--bind {spec}: expected HOST:GUEST[:ro|rw]")),
        };
        if !guest.starts_with('/') {
            return Err(format!("--bind {spec}: the guest path must be absolute"));
        }
        let dir = HostInode::open_root(std::path::Path::new(host))
            .map_err(|e| format!("--bind {spec}: {host}: {}", e.desc()))?;
        let inode: Arc<dyn fs::Inode> = if mode == "ro" {
            Arc::new(fs::overlay::ReadOnly(dir))
        } else {
            dir
        };
        vfs.mount(&normalize(guest), inode);
    }
    for path in &config.tmpfs {
        if !path.starts_with('/') {
            return Err(format!("--tmpfs {path}: the guest path must be absolute"));
        }
        let t = fs::tmpfs::TmpFs::root(limit, 0o1777);
        tmpfs.push(t.fs().clone());
        vfs.mount(&normalize(path), t);
    }
    Ok((vfs, tmpfs))
}

/// A guest path in the form mount points are keyed by: absolute, no `.`, `..` resolved
/// lexically, no trailing or doubled slashes.
fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

/// The guest's starting directory.
fn initial_cwd(
    vfs: &Vfs,
    root: &Arc<fs::Dentry>,
    config: &RunConfig,
) -> Result<Arc<fs::Dentry>, String> {
    let path: Vec<u8> = match &config.cwd {
        Some(c) => c.as_bytes().to_vec(),
        None if config.root == std::path::Path::new("/") => match std::env::current_dir() {
            Ok(d) => std::os::unix::ffi::OsStringExt::into_vec(d.into_os_string()),
            Err(_) => b"/".to_vec(),
        },
        None => b"/".to_vec(),
    };
    let ctx = WalkCtx { root, start: root };
    let d = vfs
        .walk(&ctx, &path, true)
        .and_then(|l| l.existing())
        .map_err(|e| {
            format!(
                "working directory {}: {}",
                String::from_utf8_lossy(&path),
                e.desc()
            )
        })?;
    if d.inode().file_type() != FileType::Dir {
        return Err(format!(
            "working directory {}: Not a directory",
            String::from_utf8_lossy(&path)
        ));
    }
    Ok(d)
}

/// The guest's environment: the sentry's (unless cleared) with `--env` applied.
fn guest_env(config: &RunConfig) -> Vec<Vec<u8>> {
    use std::os::unix::ffi::OsStrExt;
    let mut env: Vec<Vec<u8>> = if config.clear_env {
        Vec::new()
    } else {
        std::env::vars_os()
            .map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat())
            .collect()
    };
    for kv in &config.env {
        let key = kv.split('=').next().unwrap_or("").as_bytes();
        env.retain(|e| e.split(|&c| c == b'=').next() != Some(key));
        env.push(kv.as_bytes().to_vec());
    }
    env
}

/// PROGRAM itself if it contains `/`, else the first executable regular file named
/// PROGRAM in the guest's PATH.
fn find_program(vfs: &Vfs, fsctx: &FsContext, program: &[u8], envp: &[Vec<u8>]) -> Option<Vec<u8>> {
    if program.contains(&b'/') {
        return Some(program.to_vec());
    }
    if program.is_empty() {
        return None;
    }
    let path = envp
        .iter()
        .find_map(|e| e.strip_prefix(b"PATH="))
        .unwrap_or(DEFAULT_PATH);
    let ctx = WalkCtx {
        root: &fsctx.root,
        start: &fsctx.cwd,
    };
    let creds = Creds::of_host();
    path.split(|&c| c == b':').find_map(|dir| {
        let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
        let candidate = [dir, b"/", program].concat();
        let d = vfs.walk(&ctx, &candidate, true).ok()?.existing().ok()?;
        let st = d.inode().stat().ok()?;
        (st.file_type() == FileType::Regular
            && creds.permits(st.mode, st.uid, st.gid, 1, false, false))
        .then_some(candidate)
    })
}

/// Guest fds 0, 1 and 2: the sentry's own stdio, where open.
fn stdio_table() -> Result<FdTable, Errno> {
    let mut table = FdTable::new();
    for fd in 0..3 {
        // SAFETY-free: borrow the process's stdio fds only to duplicate them.
        let host = match fd {
            0 => std::io::stdin().as_fd().try_clone_to_owned(),
            1 => std::io::stdout().as_fd().try_clone_to_owned(),
            _ => std::io::stderr().as_fd().try_clone_to_owned(),
        };
        let Ok(host) = host else { continue };
        let flags = nix::fcntl::fcntl(&host, nix::fcntl::FcntlArg::F_GETFL)?;
        let file = OpenFile::new(Box::new(HostFile::inherit(host)?), flags, None);
        table.install(fd, file, false, u64::MAX)?;
    }
    Ok(table)
}

/// Handles the signals the sentry itself receives, on one thread (every other thread
/// blocks them): Ctrl-C and Ctrl-\ (SIGINT, SIGQUIT) go to the guest's foreground
/// process group, SIGTERM and SIGHUP to the guest's init, SIGUSR1 writes a VMA dump when
/// `--dump-vmas` is on.
fn start_signal_thread(kernel: Arc<Kernel>) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    for sig in [
        Signal::SIGINT,
        Signal::SIGQUIT,
        Signal::SIGTERM,
        Signal::SIGHUP,
    ] {
        set.add(sig);
    }
    if kernel.opts.dump.is_some() {
        set.add(Signal::SIGUSR1);
    }
    // Block them in this thread before any other starts, so every thread inherits the mask
    // and only the waiter below takes them.
    if set.thread_block().is_err() {
        return;
    }
    let _ = std::thread::Builder::new()
        .name("host-signals".into())
        .spawn(move || {
            while let Ok(sig) = set.wait() {
                match sig {
                    Signal::SIGUSR1 => {
                        if let Some(dump) = &kernel.opts.dump {
                            for p in kernel.processes() {
                                dump.write(&p, "signal");
                            }
                        }
                    }
                    Signal::SIGINT | Signal::SIGQUIT => {
                        let pgrp = kernel.foreground_pgrp();
                        let group = kernel.tree.lock().group(pgrp);
                        for p in group {
                            signal::send(&p, SigInfo::kernel(sig as i32));
                        }
                    }
                    _ => {
                        if let Some(init) = kernel.tree.lock().live(crate::kernel::tree::INIT_PID) {
                            signal::send(&init, SigInfo::kernel(sig as i32));
                        }
                    }
                }
            }
        });
}
