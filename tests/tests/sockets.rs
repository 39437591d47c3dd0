//! AF_UNIX sockets through a self-checking C guest, `sock_unix`: socket pairs of
//! every type, a server on a path in a scratch directory (recreated before each
//! run, at the same path, so native and sentry runs start alike) with forked
//! clients, abstract names, fd and credential passing across processes, poll,
//! socket options and the errnos of the failure cases.

use tests::{Failures, Scratch, check_guest, remove_tree};

#[test]
fn unix_sockets() {
    let scratch = Scratch::new("sockets");
    let dir = scratch.join("work");
    let arg = dir.display().to_string();
    let mut failures = Failures::new();
    check_guest(&mut failures, "sock_unix", &[&arg], b"", 0, &mut || {
        remove_tree(&dir);
        std::fs::create_dir(&dir).expect("create work dir");
    });
    failures.finish("sock_unix");
}
