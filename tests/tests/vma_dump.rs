//! `sentry run --dump-vmas`: the VMA dump must agree with what the host
//! kernel shows for the stub process.
//!
//! `vma_probe` builds many kinds of mappings, prints `ready` and waits on
//! stdin. The test then sends SIGUSR1 to the sentry, reads the `when=signal`
//! block from the dump file and the stub's `/proc/PID/maps`, and checks that
//! every guest VMA is backed by a MAP_SHARED mapping of the `sentry-memory`
//! memfd at the same address, with the same r/w/x bits and the stated memfd
//! offset; that no memfd mapping exists outside the guest VMAs; and that the
//! stub holds no private writable anonymous memory in the guest range. Dump
//! format (see the CLI contract):
//!
//! ```text
//! == vmas pid=<guest pid> stub=<host pid> when=<exec|exit|signal> ==
//! <start>-<end> <perms> <memfd offset> <name>
//! == end ==
//! ```

use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};

use tests::{
    Background, Failures, Invocation, Scratch, guest_program, run_sentry_with, sentry_command,
};

/// Host mappings at or above this address belong to the stub itself
/// (its code page, stack, vDSO), not to the guest.
const STUB_AREA: u64 = 0x7ff0_0000_0000;

/// One line of a dump block or of `/proc/PID/maps`.
#[derive(Clone, Debug)]
struct Mapping {
    start: u64,
    end: u64,
    perms: String,
    offset: u64,
    name: String,
}

impl std::fmt::Display for Mapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:x}-{:x} {} {:x} {}",
            self.start, self.end, self.perms, self.offset, self.name
        )
    }
}

/// One complete `== vmas ... ==` / `== end ==` block.
#[derive(Debug)]
struct Block {
    pid: String,
    stub: i32,
    when: String,
    vmas: Vec<Mapping>,
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s, 16).ok()
}

/// Parses `start-end perms offset [name]`; with `maps_format`, the
/// `dev inode` fields of /proc/PID/maps come before the name.
fn parse_mapping(line: &str, maps_format: bool) -> Option<Mapping> {
    let mut rest = line;
    let mut field = || {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        let (f, r) = rest.split_at(end);
        rest = r;
        f
    };
    let (start, end) = field().split_once('-')?;
    let perms = field().to_string();
    let offset = hex(field())?;
    if maps_format {
        field();
        field();
    }
    let name = rest.trim().to_string();
    if perms.len() != 4 {
        return None;
    }
    Some(Mapping {
        start: hex(start)?,
        end: hex(end)?,
        perms,
        offset,
        name,
    })
}

/// The complete blocks of a dump; malformed lines are returned as errors.
fn parse_dump(text: &str) -> (Vec<Block>, Vec<String>) {
    let mut blocks = Vec::new();
    let mut errors = Vec::new();
    let mut current: Option<Block> = None;
    for line in text.lines() {
        if let Some(header) = line
            .strip_prefix("== vmas ")
            .and_then(|h| h.strip_suffix(" =="))
        {
            let mut block = Block {
                pid: String::new(),
                stub: 0,
                when: String::new(),
                vmas: Vec::new(),
            };
            for kv in header.split_whitespace() {
                match kv.split_once('=') {
                    Some(("pid", v)) => block.pid = v.to_string(),
                    Some(("stub", v)) => block.stub = v.parse().unwrap_or(0),
                    Some(("when", v)) => block.when = v.to_string(),
                    _ => errors.push(format!("bad header field {kv:?} in {line:?}")),
                }
            }
            current = Some(block);
        } else if line == "== end ==" {
            match current.take() {
                Some(b) => blocks.push(b),
                None => errors.push("`== end ==` without a header".into()),
            }
        } else if let Some(block) = current.as_mut() {
            match parse_mapping(line, false) {
                Some(m) => block.vmas.push(m),
                None => errors.push(format!("bad VMA line {line:?}")),
            }
        } else if !line.trim().is_empty() {
            errors.push(format!("line outside a block: {line:?}"));
        }
    }
    (blocks, errors)
}

fn is_memfd(m: &Mapping) -> bool {
    m.name.contains("memfd:sentry-memory")
}

/// The checks (a), (b), (d) of the module doc: guest VMAs against host maps.
fn check_against_host(vmas: &[Mapping], host: &[Mapping]) -> Vec<String> {
    let mut problems = Vec::new();
    for vma in vmas {
        let mut covered_to = vma.start;
        let mut pieces: Vec<&Mapping> = host
            .iter()
            .filter(|h| h.start < vma.end && h.end > vma.start)
            .collect();
        pieces.sort_by_key(|h| h.start);
        for h in pieces {
            if h.start > covered_to {
                break;
            }
            let from = h.start.max(vma.start);
            let want_offset = vma.offset + (from - vma.start);
            let host_offset = h.offset + (from - h.start);
            if !is_memfd(h) || h.perms.as_bytes()[3] != b's' {
                problems.push(format!("guest VMA {vma} is backed by host mapping {h}, not a shared mapping of the memfd"));
            } else if h.perms[..3] != vma.perms[..3] {
                problems.push(format!(
                    "guest VMA {vma}: host mapping {h} has other r/w/x bits"
                ));
            } else if host_offset != want_offset {
                problems.push(format!(
                    "guest VMA {vma}: host mapping {h} maps memfd offset {host_offset:x} at {from:x}, dump says {want_offset:x}"
                ));
            }
            covered_to = covered_to.max(h.end);
        }
        if covered_to < vma.end {
            problems.push(format!(
                "guest VMA {vma}: no host mapping from {covered_to:x}"
            ));
        }
    }
    for h in host {
        let w = h.perms.as_bytes();
        let anonymous = h.name.is_empty() || h.name.starts_with('[');
        if h.start < STUB_AREA && w[1] == b'w' && w[3] == b'p' && anonymous {
            problems.push(format!(
                "host has private writable anonymous memory in the guest range: {h}"
            ));
        }
        if is_memfd(h) {
            let inside = vmas.iter().any(|v| v.start <= h.start && h.end <= v.end) || {
                // A host mapping may span several adjacent guest VMAs.
                let mut at = h.start;
                let mut sorted: Vec<&Mapping> = vmas.iter().collect();
                sorted.sort_by_key(|v| v.start);
                for v in sorted {
                    if v.start <= at && at < v.end {
                        at = v.end;
                    }
                }
                at >= h.end
            };
            if !inside {
                problems.push(format!(
                    "host maps guest memory where the guest has no VMA: {h}"
                ));
            }
        }
    }
    problems
}

/// Facts about the probe's own mappings that the dump must show.
fn check_probe_vmas(vmas: &[Mapping], probe: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let probe = probe.display().to_string();
    for (what, ok) in [
        ("a [stack] VMA", vmas.iter().any(|v| v.name == "[stack]")),
        ("a [heap] VMA", vmas.iter().any(|v| v.name == "[heap]")),
        (
            "a VMA named by the probe's path",
            vmas.iter().any(|v| v.name == probe),
        ),
        (
            "a MAP_SHARED anonymous VMA (rw-s)",
            vmas.iter().any(|v| v.perms == "rw-s"),
        ),
        (
            "a PROT_NONE guard VMA (---p)",
            vmas.iter().any(|v| v.perms == "---p"),
        ),
        (
            "the mprotect split: adjacent rw-p, r--p, rw-p VMAs",
            vmas.windows(3).any(|w| {
                w[0].perms == "rw-p"
                    && w[1].perms == "r--p"
                    && w[2].perms == "rw-p"
                    && w[0].end == w[1].start
                    && w[1].end == w[2].start
                    && w[1].end - w[1].start == 4096
            }),
        ),
    ] {
        if !ok {
            problems.push(format!("dump lacks {what}"));
        }
    }
    let mut sorted = vmas.to_vec();
    sorted.sort_by_key(|v| v.start);
    for pair in sorted.windows(2) {
        if pair[0].end > pair[1].start {
            problems.push(format!("overlapping VMAs: {} and {}", pair[0], pair[1]));
        }
    }
    for v in vmas {
        if v.start >= v.end || v.start % 4096 != 0 || v.end % 4096 != 0 || v.offset % 4096 != 0 {
            problems.push(format!("malformed VMA {v}"));
        }
    }
    problems
}

/// Waits until `path` holds a complete block with `when`.
fn wait_for_block(
    path: &Path,
    when: &str,
    sentry: &mut Background,
) -> Result<(Vec<Block>, Vec<String>), String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let (blocks, errors) = parse_dump(&text);
        if blocks.iter().any(|b| b.when == when) {
            return Ok((blocks, errors));
        }
        if let Some(status) = sentry.wait_timeout(Duration::ZERO) {
            return Err(format!(
                "sentry exited with status {status} before a when={when} block appeared in {}:\n{text}",
                path.display()
            ));
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "no complete when={when} block in {} after 10 s; it holds:\n{text}",
                path.display()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn probe_once(variant: &str) -> Result<(), String> {
    let probe = guest_program(variant);
    let scratch = Scratch::new("vma");
    let dump = scratch.join("vmas.txt");
    let inv = Invocation::new(&probe);
    let mut run_args: Vec<OsString> = vec!["--clear-env".into()];
    for (k, v) in &inv.env {
        run_args.push("--env".into());
        run_args.push(format!("{k}={v}").into());
    }
    run_args.push(format!("--dump-vmas={}", dump.display()).into());
    run_args.push(probe.clone().into());
    let mut sentry = Background::spawn(sentry_command(&inv, &run_args));
    let stdout = sentry.stdout_lines();

    match stdout.recv_timeout(Duration::from_secs(30)) {
        Ok(line) if line == "ready" => {}
        other => {
            let status = sentry.wait_timeout(Duration::from_secs(1));
            return Err(format!(
                "{variant}: expected `ready` on stdout, got {other:?} (sentry status {status:?})"
            ));
        }
    }
    kill(sentry.pid(), Signal::SIGUSR1).map_err(|e| format!("kill -USR1: {e}"))?;
    let (blocks, errors) =
        wait_for_block(&dump, "signal", &mut sentry).map_err(|e| format!("--- {variant}: {e}"))?;
    let mut problems: Vec<String> = errors;
    let signal_blocks: Vec<&Block> = blocks.iter().filter(|b| b.when == "signal").collect();
    if signal_blocks.len() != 1 {
        problems.push(format!(
            "want one when=signal block (one address space), got {}",
            signal_blocks.len()
        ));
    }
    let block = signal_blocks[0];
    let maps_path = format!("/proc/{}/maps", block.stub);
    let host: Vec<Mapping> = match std::fs::read_to_string(&maps_path) {
        Ok(text) => text
            .lines()
            .filter_map(|l| parse_mapping(l, true))
            .collect(),
        Err(e) => {
            return Err(format!(
                "{variant}: cannot read {maps_path} (stub={}): {e}",
                block.stub
            ));
        }
    };
    if block.stub == sentry.pid().as_raw() {
        problems.push("stub= names the sentry itself, not the stub".into());
    }
    problems.extend(check_against_host(&block.vmas, &host));
    problems.extend(check_probe_vmas(&block.vmas, &probe));
    if !blocks.iter().any(|b| b.when == "exec") {
        problems.push("no when=exec block before the signal".into());
    }

    drop(sentry.child().stdin.take());
    match sentry.wait_timeout(Duration::from_secs(30)) {
        Some(0) => {}
        other => problems.push(format!(
            "sentry exit status {other:?} after stdin EOF, want 0"
        )),
    }
    let text = std::fs::read_to_string(&dump).unwrap_or_default();
    let (blocks, errors) = parse_dump(&text);
    problems.extend(errors);
    if !blocks
        .iter()
        .any(|b| b.when == "exit" && b.pid == block.pid)
    {
        problems.push(format!(
            "no when=exit block for pid={} after the guest exited",
            block.pid
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let mut report = format!("--- {variant}: {} problems\n", problems.len());
        for p in problems {
            report += &format!("  {p}\n");
        }
        report += "  guest VMAs (when=signal):\n";
        for v in &block.vmas {
            report += &format!("    {v}\n");
        }
        report += &format!("  host {maps_path}:\n");
        for h in &host {
            report += &format!("    {h}\n");
        }
        Err(report)
    }
}

#[test]
fn signal_dump_matches_stub_maps() {
    let mut failures = Failures::new();
    for variant in ["vma_probe", "vma_probe-pie"] {
        failures.check(probe_once(variant));
    }
    failures.finish("VMA dump vs host maps");
}

/// `--dump-vmas` without a file writes to stderr: an exec block and an exit
/// block for a short-lived guest, while stdout and status are the guest's.
#[test]
fn dump_to_stderr_at_exec_and_exit() {
    let program = guest_program("exit_with");
    let inv = Invocation::new(&program).arg("3");
    let out = run_sentry_with(&inv, &["--dump-vmas"]);
    let mut problems = Vec::new();
    if out.status != 3 || out.stdout != b"exit_with 3\n" || !out.notes.is_empty() {
        problems.push(format!(
            "want status 3 and stdout `exit_with 3`, got {} {:?} {:?}",
            out.status,
            out.stdout_str(),
            out.notes
        ));
    }
    let (blocks, errors) = parse_dump(&out.stderr_str());
    problems.extend(errors);
    let exec = blocks.iter().find(|b| b.when == "exec");
    match exec {
        None => problems.push("no when=exec block on stderr".into()),
        Some(b) => {
            let name = program.display().to_string();
            if !b.vmas.iter().any(|v| v.name == name) || !b.vmas.iter().any(|v| v.name == "[stack]")
            {
                problems.push(format!("exec block lacks {name} or [stack]"));
            }
            if !b.vmas.iter().any(|v| v.perms.starts_with("r-x")) {
                problems.push("exec block has no r-x (text) VMA".into());
            }
        }
    }
    if !blocks.iter().any(|b| b.when == "exit") {
        problems.push("no when=exit block on stderr".into());
    }
    assert!(
        problems.is_empty(),
        "--dump-vmas to stderr:\n  {}\nstderr was:\n{}",
        problems.join("\n  "),
        out.stderr_str()
    );
}

/// The checker itself: a consistent dump passes, and each kind of
/// inconsistency is caught (so a passing VMA test means something).
#[test]
fn checker_catches_inconsistencies() {
    let vmas: Vec<Mapping> = [
        "400000-401000 r--p 0 /bin/x",
        "401000-403000 r-xp 1000 /bin/x",
        "10000000-10003000 rw-p 3000 [heap]",
        "7f0000000000-7f0000001000 rw-s 6000 ",
    ]
    .iter()
    .map(|l| parse_mapping(l, false).expect("parse"))
    .collect();
    let good = [
        "00400000-00401000 r--s 00000000 00:01 5 /memfd:sentry-memory (deleted)",
        "00401000-00403000 r-xs 00001000 00:01 5 /memfd:sentry-memory (deleted)",
        "10000000-10002000 rw-s 00003000 00:01 5 /memfd:sentry-memory (deleted)",
        "10002000-10003000 rw-s 00005000 00:01 5 /memfd:sentry-memory (deleted)",
        "7f0000000000-7f0000001000 rw-s 00006000 00:01 5 /memfd:sentry-memory (deleted)",
        "7ffff7ff0000-7ffff7ff1000 r-xp 00000000 00:00 0 ",
        "7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0 [stack]",
    ];
    let host = |lines: &[&str]| -> Vec<Mapping> {
        lines
            .iter()
            .map(|l| parse_mapping(l, true).expect("parse maps"))
            .collect()
    };
    assert_eq!(
        check_against_host(&vmas, &host(&good)),
        Vec::<String>::new()
    );
    for (what, bad) in [
        (
            "wrong offset",
            "10002000-10003000 rw-s 00009000 00:01 5 /memfd:sentry-memory (deleted)",
        ),
        (
            "wrong perms",
            "10002000-10003000 r--s 00005000 00:01 5 /memfd:sentry-memory (deleted)",
        ),
        (
            "private",
            "10002000-10003000 rw-p 00005000 00:01 5 /memfd:sentry-memory (deleted)",
        ),
        (
            "not the memfd",
            "10002000-10003000 rw-s 00005000 00:01 5 /memfd:other (deleted)",
        ),
    ] {
        let mut lines = good.to_vec();
        lines[3] = bad;
        assert!(
            !check_against_host(&vmas, &host(&lines)).is_empty(),
            "{what} not caught"
        );
    }
    let mut missing = good.to_vec();
    missing.remove(3);
    assert!(
        !check_against_host(&vmas, &host(&missing)).is_empty(),
        "hole not caught"
    );
    let mut extra = good.to_vec();
    extra.push("20000000-20001000 rw-p 00000000 00:00 0 ");
    assert!(
        !check_against_host(&vmas, &host(&extra)).is_empty(),
        "private anon not caught"
    );
    let mut stale = good.to_vec();
    stale.push("30000000-30001000 rw-s 00010000 00:01 5 /memfd:sentry-memory (deleted)");
    assert!(
        !check_against_host(&vmas, &host(&stale)).is_empty(),
        "stale memfd map not caught"
    );

    let (blocks, errors) = parse_dump(
        "== vmas pid=1 stub=77 when=exec ==\n400000-401000 r--p 0 /bin/x\n\
         7f0000000000-7f0000001000 rw-s 6000 \n== end ==\n== vmas pid=1 stub=77 when=exit ==\n",
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(blocks.len(), 1, "the unterminated block is not complete");
    assert_eq!(
        (
            blocks[0].stub,
            blocks[0].when.as_str(),
            blocks[0].vmas.len()
        ),
        (77, "exec", 2)
    );
    assert_eq!(blocks[0].vmas[1].name, "");
}
