//! A stub runs guest code under PTRACE_SYSEMU, reports its syscalls and faults, and
//! executes injected host syscalls only at the gadget.

use platform::{Event, HostMapper, spawn};
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::AsFd;

const CODE_ADDR: u64 = 0x40_0000;

/// A memory file holding `code` at offset 0.
fn memfile(code: &[u8]) -> std::fs::File {
    let fd = nix::sys::memfd::memfd_create("test-memory", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .expect("memfd_create");
    let mut f = std::fs::File::from(fd);
    f.set_len(0x10000).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(code).unwrap();
    f
}

#[test]
fn guest_syscalls_stop_and_faults_are_reported() {
    // mov eax, 39 (getpid); syscall; mov rbx, rax; int3
    let code = [0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0x48, 0x89, 0xc3, 0xcc];
    let mem = memfile(&code);
    let mut stub = spawn(mem.as_fd()).expect("spawn stub");
    stub.map(CODE_ADDR, 0x1000, libc::PROT_READ | libc::PROT_EXEC, 0)
        .expect("map code");

    let mut regs = stub.initial_regs().unwrap();
    regs.rip = CODE_ADDR;
    assert_eq!(stub.switch(&mut regs).unwrap(), Event::Syscall);
    assert_eq!(regs.orig_rax, 39);
    assert_eq!(regs.rip, CODE_ADDR + 7);
    // The host never ran getpid: we answer it.
    regs.rax = 4242;
    match stub.switch(&mut regs).unwrap() {
        Event::Fault(f) => assert_eq!(f.signo, libc::SIGTRAP),
        other => panic!("expected the int3 fault, got {other:?}"),
    }
    assert_eq!(regs.rbx, 4242);
}

#[test]
fn stub_has_only_the_memfd_and_seccomp_on() {
    let mem = memfile(&[]);
    let stub = spawn(mem.as_fd()).expect("spawn stub");
    let fds: Vec<String> = std::fs::read_dir(format!("/proc/{}/fd", stub.tid()))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(fds, vec!["3".to_string()]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", stub.tid())).unwrap();
    assert!(status.lines().any(|l| l == "Seccomp:\t2"), "{status}");
    let maps = std::fs::read_to_string(format!("/proc/{}/maps", stub.tid())).unwrap();
    let count = maps.lines().filter(|l| !l.contains("[vsyscall]")).count();
    assert_eq!(count, 1, "only the stub page may remain:\n{maps}");
}

#[test]
fn dropping_the_stub_kills_it() {
    let mem = memfile(&[]);
    let stub = spawn(mem.as_fd()).expect("spawn stub");
    let tid = stub.tid();
    drop(stub);
    assert!(!std::path::Path::new(&format!("/proc/{tid}")).exists());
}

#[test]
fn a_second_thread_runs_guest_code_under_its_own_tracer() {
    // Each thread: mov eax, 39 (getpid); syscall; int3
    let code = [0xb8, 39, 0, 0, 0, 0x0f, 0x05, 0xcc];
    let mem = memfile(&code);
    let mut stub = spawn(mem.as_fd()).expect("spawn stub");
    stub.map(CODE_ADDR, 0x1000, libc::PROT_READ | libc::PROT_EXEC, 0)
        .unwrap();
    let tid = stub.spawn_thread().expect("thread in stub");
    let tgid = stub.tgid();
    let handle = std::thread::spawn(move || {
        let mut t = platform::StubThread::attach(tgid, tid).expect("attach");
        let mut regs = t.initial_regs().unwrap();
        regs.rip = CODE_ADDR;
        let first = t.switch(&mut regs).unwrap();
        t.exit_thread();
        (first, regs.orig_rax)
    });
    let (event, nr) = handle.join().unwrap();
    assert_eq!((event, nr), (Event::Syscall, 39));
    // The first thread still works after the second is gone.
    let mut regs = stub.initial_regs().unwrap();
    regs.rip = CODE_ADDR;
    assert_eq!(stub.switch(&mut regs).unwrap(), Event::Syscall);
}
