//! Networking inside the sandbox: its own loopback interface, and nothing else.
//!
//! - The `net_tcp` guest (static and static-PIE) compared with native runs: TCP over
//!   127.0.0.1, ::1 and dual-stack listeners, transfers, flags, readiness, closing and
//!   resets, errors, options. Natively, on a host with other interfaces, the guest first
//!   moves into a network namespace where lo is the only one, as it is in the sandbox.
//! - Containment: a guest's listener cannot be reached from the host, and a host listener
//!   cannot be reached from the guest: no guest socket is a host socket.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;
use tests::{Background, Failures, Invocation, check_guest, python3, run_sentry, sentry_command};

#[test]
fn tcp_over_loopback_matches_linux() {
    let mut failures = Failures::new();
    check_guest(&mut failures, "net_tcp", &[], b"", 0, &mut || {});
    failures.finish("net_tcp");
}

/// A guest listens on 127.0.0.1 and prints its port; a host connection to that port
/// finds nothing there, and the guest's accept sees no connection.
#[test]
fn guest_listener_is_not_reachable_from_the_host() {
    let script = "import socket, sys\n\
                  s = socket.socket()\n\
                  s.bind(('127.0.0.1', 0))\n\
                  s.listen(8)\n\
                  print(s.getsockname()[1], flush=True)\n\
                  s.settimeout(2)\n\
                  try:\n    s.accept()\n    print('accepted')\n\
                  except socket.timeout:\n    print('nobody came')\n";
    let inv = Invocation::new(python3());
    let mut guest = Background::spawn(sentry_command(&inv, &[python3(), "-c", script]));
    let lines = guest.stdout_lines();
    let port: u16 = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("the guest prints its port")
        .trim()
        .parse()
        .expect("a port number");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let host = TcpStream::connect_timeout(&addr, Duration::from_secs(2));
    assert_eq!(
        host.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::ConnectionRefused),
        "a host connection to the guest's port {port}: {host:?}"
    );
    let said = lines
        .recv_timeout(Duration::from_secs(20))
        .expect("the guest's accept ends");
    assert_eq!(said, "nobody came");
    assert_eq!(guest.wait_timeout(Duration::from_secs(20)), Some(0));
}

/// A host listener on 127.0.0.1: the guest's connection to its port is refused, and the
/// listener never sees it.
#[test]
fn host_listener_is_not_reachable_from_the_guest() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("host listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("its address").port();
    let script = format!(
        "import socket\n\
         try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5)\n    print('connected')\n\
         except ConnectionRefusedError:\n    print('refused')\n"
    );
    let out = run_sentry(&Invocation::new(python3()).args(&["-c", &script]));
    assert_eq!(
        (out.status, out.stdout_str().as_str()),
        (0, "refused\n"),
        "stderr: {}",
        out.stderr_str()
    );
    assert_eq!(
        listener.accept().map_err(|e| e.kind()).err(),
        Some(ErrorKind::WouldBlock),
        "the host listener saw a connection"
    );
}

/// Runs `argv` natively in a network namespace of its own whose only interface is lo (up),
/// the sandbox's view, and under sentry; stdout and the exit status must agree.
fn same_as_loopback_only_host(argv: &[&str]) {
    let native = std::process::Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$@\"", "sh"])
        .args(argv)
        .env_clear()
        .envs(tests::fixed_env())
        .output()
        .expect("run unshare");
    assert!(
        native.status.success(),
        "native run of {argv:?} in a loopback-only namespace failed (needs root): {}",
        String::from_utf8_lossy(&native.stderr)
    );
    let out = run_sentry(&Invocation::new(argv[0]).args(&argv[1..]));
    assert_eq!(
        (out.status, out.stdout_str()),
        (0, String::from_utf8_lossy(&native.stdout).into_owned()),
        "{argv:?} under sentry; stderr: {}",
        out.stderr_str()
    );
}

/// iproute2 asks netlink for links and addresses: the sandbox's answer reads as a host's
/// whose only interface is lo.
#[test]
fn ip_addr_shows_only_loopback() {
    same_as_loopback_only_host(&["/usr/sbin/ip", "addr"]);
    same_as_loopback_only_host(&["/usr/sbin/ip", "-br", "link"]);
}

/// Python's socket module end to end: interface names, a UDP round trip, name lookup of
/// localhost, and an HTTP server in a thread answering urllib over TCP.
#[test]
fn python_udp_and_http_over_loopback() {
    let script = "import socket, threading, http.server, urllib.request\n\
                  print(socket.if_nameindex())\n\
                  u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  u.bind(('127.0.0.1', 0))\n\
                  v = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
                  v.bind(('::1', 0))\n\
                  w = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                  w.sendto(b'ping', u.getsockname())\n\
                  data, peer = u.recvfrom(16)\n\
                  u.sendto(data.upper(), peer)\n\
                  print(data, w.recv(16), peer[0])\n\
                  x = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)\n\
                  x.sendto(b'six', v.getsockname())\n\
                  print(v.recvfrom(16)[0])\n\
                  print(sorted({a[4][0] for a in socket.getaddrinfo('localhost', 80)}))\n\
                  class Quiet(http.server.SimpleHTTPRequestHandler):\n    \
                  def log_message(self, *a): pass\n\
                  srv = http.server.HTTPServer(('127.0.0.1', 0), Quiet)\n\
                  threading.Thread(target=srv.serve_forever, daemon=True).start()\n\
                  r = urllib.request.urlopen('http://127.0.0.1:%d/' % srv.server_port)\n\
                  print(r.status, b'Directory listing' in r.read())\n";
    same_as_loopback_only_host(&[python3(), "-c", script]);
}
