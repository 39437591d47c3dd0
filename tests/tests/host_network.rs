//! Host networking (`sentry run --network=host`): the guest's TCP and UDP sockets are
//! host sockets, so the guest and the host reach each other, and the guest sees the
//! host's interfaces; the guest still changes none of them.
//!
//! - The `net_host` guest (static and static-PIE) compared with native runs: TCP and
//!   UDP on 127.0.0.1 and ::1, flags, options, readiness, SCM_RIGHTS, signals
//!   interrupting blocking calls, interfaces.
//! - Python guests talking to the test itself over the host's 127.0.0.1: a guest
//!   client to a host listener, a host client to a guest listener, UDP both ways, and
//!   urllib and curl fetching from a host HTTP server.
//! - A guest blocked in accept: interrupted by SIGALRM (EINTR), and killed with the
//!   sandbox (SIGKILL of the sentry): no stub is left and the port is free again.
//! - `ip` sees the host's addresses, and cannot add one.
//!
//! The default (`--network=sandbox`) keeps host and guest apart: see `net.rs`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::time::Duration;
use tests::{
    Background, Failures, Invocation, Scratch, check_guest_with_options, leftovers_after_exit,
    python3, run_native, run_sentry_with, sentry_command,
};

const HOST: &str = "--network=host";
const WAIT: Duration = Duration::from_secs(30);

/// Runs a python3 guest script with `--network=host`; returns its stdout, after
/// checking that it exited 0.
fn python_guest(script: &str) -> String {
    let out = run_sentry_with(&Invocation::new(python3()).args(&["-c", script]), &[HOST]);
    assert_eq!(out.status, 0, "guest failed; stderr: {}", out.stderr_str());
    out.stdout_str()
}

/// Starts a python3 guest script with `--network=host` in the background.
fn background_guest(script: &str) -> Background {
    let inv = Invocation::new(python3());
    Background::spawn(sentry_command(&inv, &[HOST, python3(), "-c", script]))
}

#[test]
fn sockets_match_linux() {
    let mut failures = Failures::new();
    check_guest_with_options(&mut failures, "net_host", &[HOST]);
    failures.finish("net_host");
}

/// The guest connects to a listener the test holds on the host's 127.0.0.1: both sides
/// see the other's data and address.
#[test]
fn guest_connects_to_host_listener() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("host listener");
    let port = listener.local_addr().expect("address").port();
    let server = std::thread::spawn(move || {
        let (mut conn, peer) = listener.accept().expect("accept the guest");
        let mut buf = [0u8; 5];
        conn.read_exact(&mut buf).expect("read from the guest");
        conn.write_all(&buf.to_ascii_uppercase()).expect("reply");
        (buf, peer)
    });
    let script = format!(
        "import socket\n\
         c = socket.create_connection(('127.0.0.1', {port}), timeout=20)\n\
         c.sendall(b'hello')\n\
         print(c.recv(16).decode(), c.getpeername()[1] == {port}, c.getsockname()[1])\n"
    );
    let out = python_guest(&script);
    let (got, peer) = server.join().expect("server thread");
    assert_eq!(&got, b"hello");
    assert_eq!(
        out,
        format!("HELLO True {}\n", peer.port()),
        "the guest's reply and its own port as the host saw it"
    );
}

/// The guest listens on the host's 127.0.0.1; the test connects to it.
#[test]
fn host_connects_to_guest_listener() {
    let script = "import socket\n\
                  s = socket.socket()\n\
                  s.bind(('127.0.0.1', 0))\n\
                  s.listen(4)\n\
                  print(s.getsockname()[1], flush=True)\n\
                  c, peer = s.accept()\n\
                  data = c.recv(16)\n\
                  c.sendall(data[::-1])\n\
                  c.close()\n\
                  print(peer[1], flush=True)\n";
    let mut guest = background_guest(script);
    let lines = guest.stdout_lines();
    let port: u16 = lines
        .recv_timeout(WAIT)
        .expect("the guest prints its port")
        .parse()
        .expect("a port");
    let mut conn = TcpStream::connect(("127.0.0.1", port)).expect("connect to the guest");
    conn.set_read_timeout(Some(WAIT)).expect("timeout");
    conn.write_all(b"stressed").expect("send");
    let mut back = String::new();
    conn.read_to_string(&mut back)
        .expect("read to the guest's close");
    assert_eq!(back, "desserts");
    let seen = lines.recv_timeout(WAIT).expect("the guest prints its peer");
    assert_eq!(seen, conn.local_addr().expect("address").port().to_string());
    assert_eq!(guest.wait_timeout(WAIT), Some(0));
}

/// UDP both ways: the guest sends to the test's socket, which answers to the address
/// the datagram came from.
#[test]
fn udp_both_ways() {
    let host = UdpSocket::bind("127.0.0.1:0").expect("host UDP socket");
    host.set_read_timeout(Some(WAIT)).expect("timeout");
    let port = host.local_addr().expect("address").port();
    let script = format!(
        "import socket\n\
         u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         u.settimeout(20)\n\
         u.sendto(b'ping', ('127.0.0.1', {port}))\n\
         data, peer = u.recvfrom(64)\n\
         print(data.decode(), peer[1] == {port}, u.getsockname()[1])\n"
    );
    let mut guest = background_guest(&script);
    let lines = guest.stdout_lines();
    let mut buf = [0u8; 64];
    let (n, from) = host.recv_from(&mut buf).expect("the guest's datagram");
    assert_eq!(&buf[..n], b"ping");
    host.send_to(b"pong", from).expect("answer");
    let said = lines.recv_timeout(WAIT).expect("the guest prints");
    assert_eq!(said, format!("pong True {}", from.port()));
    assert_eq!(guest.wait_timeout(WAIT), Some(0));
}

/// A host `python3 -m http.server` serving a file; the guest fetches it with urllib and
/// with curl.
#[test]
fn guest_fetches_from_host_http_server() {
    let scratch = Scratch::new("host_http");
    let body = "served by the host\n";
    std::fs::write(scratch.join("page.txt"), body).expect("write the page");
    let probe = TcpListener::bind("127.0.0.1:0").expect("find a free port");
    let port = probe.local_addr().expect("address").port();
    drop(probe);
    let mut server = Background::spawn({
        let mut c = Command::new(python3());
        c.args(["-m", "http.server", "--bind", "127.0.0.1"])
            .arg(port.to_string())
            .current_dir(scratch.path());
        c
    });
    let up = (0..200).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(up, "the host HTTP server did not start");
    let url = format!("http://127.0.0.1:{port}/page.txt");
    let script = format!(
        "import urllib.request\n\
         r = urllib.request.urlopen('{url}', timeout=20)\n\
         print(r.status, r.read().decode(), end='')\n"
    );
    assert_eq!(python_guest(&script), format!("200 {body}"));
    let curl = run_sentry_with(
        &Invocation::new("/usr/bin/curl").args(&["-sS", "--max-time", "20", &url]),
        &[HOST],
    );
    assert_eq!(
        (curl.status, curl.stdout_str()),
        (0, body.to_string()),
        "curl under sentry; stderr: {}",
        curl.stderr_str()
    );
    drop(server.child().stdin.take());
}

/// A guest blocked in accept gets EINTR from a SIGALRM whose handler has no
/// SA_RESTART (python's handler raises, so the accept is not retried).
#[test]
fn blocking_accept_is_interrupted_by_sigalrm() {
    let script = "import signal, socket, errno\n\
                  class Alarm(Exception): pass\n\
                  def on_alarm(sig, frame): raise Alarm()\n\
                  signal.signal(signal.SIGALRM, on_alarm)\n\
                  s = socket.socket()\n\
                  s.bind(('127.0.0.1', 0))\n\
                  s.listen(1)\n\
                  signal.setitimer(signal.ITIMER_REAL, 0.3)\n\
                  try:\n    s.accept()\n    print('accepted')\n\
                  except Alarm:\n    print('interrupted')\n";
    assert_eq!(python_guest(script), "interrupted\n");
}

/// SIGKILL of the sentry while its guest blocks in accept on a host port: no stub
/// process is left, and the port can be bound again at once.
#[test]
fn sigkill_of_the_sandbox_frees_the_port() {
    let script = "import socket\n\
                  s = socket.socket()\n\
                  s.bind(('127.0.0.1', 0))\n\
                  s.listen(1)\n\
                  print(s.getsockname()[1], flush=True)\n\
                  s.accept()\n";
    let mut guest = background_guest(script);
    let lines = guest.stdout_lines();
    let port: u16 = lines
        .recv_timeout(WAIT)
        .expect("the guest prints its port")
        .parse()
        .expect("a port");
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        TcpListener::bind(addr).is_err(),
        "port {port} is not held by the guest"
    );
    nix::sys::signal::kill(guest.pid(), nix::sys::signal::Signal::SIGKILL).expect("kill");
    assert_eq!(guest.wait_timeout(WAIT), Some(128 + libc::SIGKILL));
    assert_eq!(leftovers_after_exit(guest.pid()), Vec::<String>::new());
    TcpListener::bind(addr).expect("the port is free after the sandbox died");
}

/// `ip` under host networking shows the host's interfaces and addresses, as natively.
#[test]
fn ip_addr_shows_the_hosts_interfaces() {
    let inv = Invocation::new("/usr/sbin/ip").args(&["-br", "addr"]);
    let native = run_native(&inv);
    let sentry = run_sentry_with(&inv, &[HOST]);
    assert_eq!(native.status, 0, "native ip failed");
    assert_eq!(
        (sentry.status, sentry.stdout_str()),
        (0, native.stdout_str()),
        "stderr: {}",
        sentry.stderr_str()
    );
}

/// Netlink requests that would change the host are refused (the sentry may run as
/// root): `ip addr add` fails, and the host's lo keeps its addresses.
#[test]
fn guest_cannot_change_host_interfaces() {
    const ADDR: &str = "203.0.113.77";
    let show = || {
        let out = Command::new("/usr/sbin/ip")
            .args(["addr", "show", "dev", "lo"])
            .output()
            .expect("ip addr show");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(!show().contains(ADDR), "{ADDR} is already on lo");
    let out = run_sentry_with(
        &Invocation::new("/usr/sbin/ip").args(&["addr", "add", &format!("{ADDR}/32"), "dev", "lo"]),
        &[HOST],
    );
    let added = show().contains(ADDR);
    if added {
        let _ = Command::new("/usr/sbin/ip")
            .args(["addr", "del", &format!("{ADDR}/32"), "dev", "lo"])
            .status();
    }
    assert!(!added, "the guest added {ADDR} to the host's lo");
    assert_ne!(out.status, 0, "ip addr add succeeded under sentry");
    assert!(
        out.stderr_str().contains("Operation not permitted"),
        "stderr: {}",
        out.stderr_str()
    );
}
