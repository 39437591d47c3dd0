//! Ordinary Debian programs with realistic arguments, natively and under sentry: the
//! compatibility sweep's invocations (coreutils, text tools, compressors and archivers,
//! make and gcc, git, sqlite3, perl, python3, node, openssl, curl, procps, ...), each a
//! `bash -c` script run in a fresh scratch directory on both sides, its stdout and exit
//! status (and stderr where it is deterministic) compared.
//!
//! Scripts print nothing that varies between runs (no pids, times or ports); servers
//! listen on port 0 and tell their clients the port through a file, so native runs do
//! not collide with anything on the host. The programs come from the host (the default
//! root `/`); a program missing on the host fails the test, it is never skipped.
//!
//! Also here: `strace` and `gdb`, whose `ptrace` the sandbox refuses, fail cleanly (a
//! sentry-only check: natively they work).

use std::time::{Duration, Instant};

use tests::{
    Compare, Failures, Invocation, Scratch, compare, remove_tree, run_native, run_sentry,
    write_file,
};

/// One invocation: a bash script run in a fresh scratch directory.
struct Case {
    name: &'static str,
    script: String,
    /// Files written into the scratch directory before each run: (name, contents).
    files: Vec<(&'static str, &'static str)>,
    /// Compare stderr too.
    stderr: bool,
    /// The exit status the native run must have (else the case is broken).
    status: i32,
    /// The time limit of each run.
    timeout: Duration,
}

/// A case running `bash -c SCRIPT` (stdout and status compared, native status 0).
fn sh(name: &'static str, script: &str) -> Case {
    Case {
        name,
        script: script.to_string(),
        files: Vec::new(),
        stderr: false,
        status: 0,
        timeout: Duration::from_secs(60),
    }
}

impl Case {
    /// Also compare stderr.
    fn stderr(mut self) -> Self {
        self.stderr = true;
        self
    }

    /// A file the script finds in its directory.
    fn file(mut self, name: &'static str, contents: &'static str) -> Self {
        self.files.push((name, contents));
        self
    }

    /// The native run exits with `status`.
    fn status(mut self, status: i32) -> Self {
        self.status = status;
        self
    }

    /// Each run may take up to `secs` seconds (compilers under sentry).
    fn timeout(mut self, secs: u64) -> Self {
        self.timeout = Duration::from_secs(secs);
        self
    }
}

/// Empties `dir` and writes the case's files into it.
fn prepare(dir: &Scratch, case: &Case) {
    remove_tree(dir.path());
    std::fs::create_dir_all(dir.path()).expect("recreate scratch dir");
    for (name, contents) in &case.files {
        write_file(&dir.join(name), contents);
    }
}

/// Runs every case natively and under sentry and reports all mismatches at once.
fn run_group(group: &str, cases: &[Case]) {
    let mut failures = Failures::new();
    for case in cases {
        let dir = Scratch::new("programs");
        let mut inv = Invocation::new("/bin/bash")
            .args(&["-c", &case.script])
            .cwd(dir.path());
        inv.timeout = case.timeout;
        prepare(&dir, case);
        let native = run_native(&inv);
        if native.status != case.status || !native.notes.is_empty() {
            failures.check(Err(format!(
                "--- {}: the native run exited {} (expected {}; notes {:?}): the case or \
                 this host is broken, not sentry\nstdout:\n{}\nstderr:\n{}",
                case.name,
                native.status,
                case.status,
                native.notes,
                native.stdout_str(),
                native.stderr_str()
            )));
            continue;
        }
        prepare(&dir, case);
        let sentry = run_sentry(&inv);
        let how = if case.stderr {
            Compare::default().with_stderr()
        } else {
            Compare::default()
        };
        failures.check(compare(case.name, &native, &sentry, how));
    }
    failures.finish(group);
}

/// FIFOs in a fresh directory under `/dev/shm` (tmpfs natively, the sandbox's in-memory
/// filesystem under sentry): blocking opens meeting each other, a read-write open, and
/// the non-blocking cases of `fifo.py`.
const FIFO_SCRIPT: &str = "d=$(mktemp -d /dev/shm/fifo.XXXXXX); cp fifo.py $d; cd $d; \
mkfifo p; ls -l p | cut -c1-10; stat -c %F p; (echo hi > p &); cat p; echo $?; \
(sleep 0.3; echo late > p) & cat p; wait; exec 3<>p; echo rw >&3; read x <&3; echo $x; \
exec 3>&-; python3 fifo.py; cd /; rm -rf $d";

/// Non-blocking FIFO opens: a reader alone sees no data and no hang-up, EAGAIN once a
/// writer is there, the data, EOF after the writer leaves; a writer alone is ENXIO.
const PY_FIFO: &str = r#"import os, select
fd = os.open('p', os.O_RDONLY | os.O_NONBLOCK)
print(select.select([fd], [], [], 0)[0], os.read(fd, 10))
w = os.open('p', os.O_WRONLY | os.O_NONBLOCK)
try:
    os.read(fd, 10)
except BlockingIOError:
    print('EAGAIN with a writer')
os.write(w, b'data'); os.close(w)
print(select.select([fd], [], [], 0)[0] == [fd], os.read(fd, 10), os.read(fd, 10))
os.close(fd)
try:
    os.open('p', os.O_WRONLY | os.O_NONBLOCK)
except OSError as e:
    print('no reader', e.errno)
print(os.fstat(os.open('p', os.O_RDWR)).st_mode & 0o170000 == 0o010000)
"#;

#[test]
fn coreutils_and_text_tools() {
    run_group(
        "coreutils and text tools",
        &[
            sh("stat -f", "stat -f -c '%T' . /").stderr(),
            sh("du -sh / du -a", "seq 1000 > f; mkdir d; seq 5 > d/g; du -sh .; du -a | sort -k2").stderr(),
            sh("nproc / id", "nproc; id; id -un; id -G").stderr(),
            sh("timeout expires", "timeout 0.5 sleep 5; echo $?; timeout 5 true; echo $?").stderr(),
            sh("timeout -s KILL", "timeout -s KILL 0.5 sleep 5").status(137).stderr(),
            sh("stdbuf", "stdbuf -oL -eL sh -c 'echo out; echo err >&2' 2>&1").stderr(),
            sh("split", "seq 100 | split -l 30 -d - part; ls; wc -l part*").stderr(),
            sh("shred -u", "seq 1000 > f; shred -n1 -z -u f; ls; echo done").stderr(),
            sh(
                "dd conv and status",
                "dd if=/dev/zero of=f bs=1k count=100 conv=fsync,notrunc status=none; \
                 stat -c %s f; printf abcdef | dd conv=ucase bs=2 status=none; echo; \
                 dd if=f of=/dev/null bs=4k status=noxfer 2>&1",
            )
            .stderr(),
            sh(
                "install and mktemp",
                "echo x > a; install -m 754 -D a sub/dir/b; stat -c '%a %s' sub/dir/b; \
                 d=$(mktemp -d -p .); [ -d \"$d\" ] && echo dir; f=$(mktemp -p . tmp.XXXX); \
                 stat -c %a \"$f\"",
            )
            .stderr(),
            sh(
                "diff cmp patch",
                "printf 'a\\nb\\nc\\n' > x; printf 'a\\nB\\nc\\nd\\n' > y; diff x y; \
                 cmp x y; diff -u x y | tail -n +3 > p; patch x < p; cmp x y && echo same",
            )
            .stderr(),
            sh(
                "mawk",
                "seq 20 | awk '{s+=$1} END {print s, NR}'; \
                 printf 'b 2\\na 1\\nb 3\\n' | awk '{t[$1]+=$2} END {for (k in t) print k, t[k] | \"sort\"}'",
            )
            .stderr(),
            sh("grep -P", "printf 'foo123bar\\nx9y\\n' | grep -oP '\\d+(?=bar)'; echo ab | grep -cP '^(a)(?!c)'").stderr(),
            sh("sed -E", "echo a1b22c333 | sed -E 's/([0-9]+)/<\\1>/g; s/^(.)/\\U\\1/'").stderr(),
            sh(
                "find -printf and -exec +",
                "mkdir -p d/e; touch d/a d/e/b; find d -printf '%p %y %d %m\\n' | sort; \
                 find d -type f -exec echo {} + | tr ' ' '\\n' | sort",
            )
            .stderr(),
            sh("xargs -P2", "seq 20 | xargs -P2 -n3 echo | sort -n").stderr(),
            sh(
                "sort --parallel",
                "seq 200000 | sort -R --random-source=/dev/zero --parallel=2 -S 1M | \
                 sort -n --parallel=2 -S 100K | md5sum",
            )
            .stderr(),
            sh(
                "jq and bc",
                "echo '{\"a\":[1,2,{\"b\":3}]}' | jq -c '.a[2].b, (.a|length)'; \
                 echo 'scale=20; 4*a(1)' | bc -l; echo '2^100' | bc",
            )
            .stderr(),
            sh(
                "iconv locale tclsh",
                "printf 'h\\xc3\\xa9llo\\n' | iconv -f utf-8 -t latin1 | od -c | head -1; \
                 locale -a | head -3; echo 'puts [expr {6*7}]; puts [exec echo hi]' | tclsh",
            )
            .stderr(),
            sh(
                "O_DIRECT with dd and python",
                "seq 100000 > f; dd if=f of=g iflag=direct oflag=direct bs=4096 status=none; \
                 cmp f g && echo same; dd if=f of=/dev/null iflag=direct bs=100 status=none; \
                 echo $?; python3 -c 'import os, mmap\n\
                 fd = os.open(\"f\", os.O_RDONLY | os.O_DIRECT)\n\
                 print(os.readv(fd, [mmap.mmap(-1, 8192)]))\n\
                 try:\n    os.pread(fd, 100, 3)\nexcept OSError as e:\n    print(e.errno)'",
            )
            .stderr(),
            sh("named pipes on an in-memory filesystem", FIFO_SCRIPT)
                .file("fifo.py", PY_FIFO)
                .stderr(),
            sh(
                "fallocate reserves blocks",
                "fallocate -l 1M f; du -k f; stat -c '%s %b' f; fallocate -n -o 1M -l 64K f; \
                 stat -c '%s %b' f; truncate -s 10M s; du -k s; cp --sparse=always s s2; du -k s2",
            )
            .stderr(),
        ],
    );
}

#[test]
fn compressors_and_archives() {
    run_group(
        "compressors and archives",
        &[
            sh(
                "bzip2 xz zstd lz4",
                "seq 10000 > f; bzip2 -k f; bzip2 -dc f.bz2 | md5sum; xz -k f; xz -dc f.xz | md5sum; \
                 zstd -q f; zstd -dcq f.zst | md5sum; lz4 -q f; lz4 -dcq f.lz4 | md5sum; ls",
            )
            .stderr(),
            sh(
                "threaded xz and zstd",
                "xz -T2 -c /usr/bin/bash | xz -dc | md5sum; zstd -T2 -c /usr/bin/bash | zstd -dc | md5sum; \
                 md5sum < /usr/bin/bash",
            )
            .stderr(),
            sh(
                "tar with each compressor",
                "mkdir d; seq 1000 > d/f; echo hi > d/g; touch -d @1000000000 d/f d/g d; \
                 for z in -z -j -J --zstd --lz4; do tar -c $z -f a.t d && tar -t -v $z -f a.t \
                 --numeric-owner --full-time | awk '{print $1, $3, $4, $5, $6}'; done; \
                 for z in -z -j -J --zstd; do tar -c $z -f b.t d; rm -r d; tar -x $z -f b.t; md5sum d/f; done",
            )
            .stderr(),
            sh(
                "zip and unzip",
                "mkdir d; seq 1000 > d/f; echo x > d/g; touch -d @1000000000 d/f d/g d; \
                 zip -q -r -X z.zip d; unzip -l z.zip | tail -1; rm -r d; unzip -q z.zip; md5sum d/f",
            )
            .stderr(),
            sh(
                "file (libmagic)",
                "seq 10 > f; printf '\\x89PNG\\r\\n\\x1a\\n' > p; gzip -k f; file f p f.gz; \
                 file /usr/bin/ls | cut -d, -f1; file -b --mime-type /usr/bin/python3",
            )
            .stderr(),
        ],
    );
}

/// A small C project: four objects and a main, built by make with two jobs.
const MAKEFILE: &str = "OBJS = main.o f1.o f2.o f3.o f4.o\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n%.o: %.c\n\t$(CC) -c -O2 $<\n";

/// An out-of-bounds heap write that AddressSanitizer reports, after a fork.
const ASAN_PROGRAM: &str = r#"#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/wait.h>
int main(int argc, char **argv) {
  int *p = malloc(8), st;
  if (fork() == 0) _exit(3);
  wait(&st); printf("child %d\n", WEXITSTATUS(st)); fflush(stdout);
  p[argc + 1] = 1; free(p); return 0;
}
"#;

#[test]
fn build_tools() {
    run_group(
        "build tools",
        &[
            sh(
                "make -j2 of a small C project",
                "for i in 1 2 3 4; do echo \"int f$i(void) { return $i; }\" > f$i.c; done; \
                 make -j2 -s && ./prog; make -j2 -s; echo $?",
            )
            .file("Makefile", MAKEFILE)
            .file(
                "main.c",
                "#include <stdio.h>\nint f1(void), f2(void), f3(void), f4(void);\n\
                 int main(void) { printf(\"%d\\n\", f1() + f2() + f3() + f4()); return 0; }\n",
            )
            .stderr()
            .timeout(180),
            sh(
                "gcc with AddressSanitizer",
                "gcc -fsanitize=address -g asan.c -o asan && ./asan 2> err; echo $?; \
                 grep -o 'heap-buffer-overflow on\\|WRITE of size 4\\|asan.c:[0-9]*' err | sort -u",
            )
            .file("asan.c", ASAN_PROGRAM)
            .stderr()
            .timeout(180),
            sh(
                "valgrind memcheck",
                "gcc -g vg.c -o vg && t=$(mktemp -d /dev/shm/vg.XXXXXX) && \
                 TMPDIR=$t valgrind -q ./vg 2>&1 | grep -o 'Invalid write of size 1'; rm -rf $t",
            )
            .file("vg.c", "#include <stdlib.h>\nint main(void) { char *p = malloc(10); p[10] = 1; free(p); return 0; }\n")
            .stderr()
            .timeout(180),
            sh(
                "git init, commit, log, diff, gc, clone, fsck",
                "export GIT_AUTHOR_NAME=a GIT_AUTHOR_EMAIL=a@b GIT_COMMITTER_NAME=a \
                 GIT_COMMITTER_EMAIL=a@b GIT_AUTHOR_DATE=2001-01-01T00:00:00Z \
                 GIT_COMMITTER_DATE=2001-01-01T00:00:00Z GIT_CONFIG_NOSYSTEM=1 HOME=$PWD; \
                 git init -q -b main r && cd r && seq 100 > f && git add f && git commit -qm one && \
                 seq 120 > f && git commit -qam two && git log --oneline && git diff HEAD~1 --stat && \
                 git gc -q && git count-objects -v | grep -v size && cd .. && git clone -q r c && \
                 cd c && git log --format='%H %s' && git fsck 2>&1 && git repack -adq && git status --short",
            )
            .stderr()
            .timeout(120),
        ],
    );
}

const PY_STDLIB: &str = r#"import ssl, hashlib, sqlite3, json
print(ssl.OPENSSL_VERSION.split()[0], ssl.create_default_context().verify_mode)
db = sqlite3.connect('db')
db.execute('create table t(x)')
db.executemany('insert into t values(?)', [(i,) for i in range(10)])
db.commit()
print(db.execute('select sum(x) from t').fetchone(), hashlib.sha3_256(b'x').hexdigest())
"#;

const PY_PROCESSES: &str = r#"import multiprocessing as mp, subprocess, tempfile, shutil, os
def sq(x):
    return x * x
if __name__ == '__main__':
    with mp.Pool(2) as p:
        print(p.map(sq, range(10)))
    p = subprocess.Popen(['tr', 'a-z', 'A-Z'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    print(p.communicate(b'hello\n')[0], p.returncode)
    d = tempfile.mkdtemp(dir='.')
    os.makedirs(d + '/a/b'); open(d + '/a/b/f', 'w').write('x')
    shutil.copytree(d, 'copy'); print(sorted(os.walk('copy'))[-1][1:])
    shutil.rmtree(d); print(os.path.exists(d))
    q = mp.Queue(); pr = mp.Process(target=q.put, args=(42,)); pr.start()
    print(q.get()); pr.join(); print(pr.exitcode)
"#;

const PERL_MODULES: &str = r#"use POSIX qw(floor strftime); use Storable; use File::Find;
print floor(3.7), "\n", strftime('%Y-%m-%d', gmtime(86400 * 365)), "\n";
my $d = Storable::dclone({a => [1, 2]}); print $d->{a}[1], "\n";
Storable::store([1, 2, 3], 's'); print scalar(@{Storable::retrieve('s')}), "\n";
mkdir 'd'; open(my $f, '>', 'd/x') or die; close $f;
find(sub { print "$File::Find::name\n" }, 'd');
"#;

/// CPU-time clocks: a thread's own (`time.thread_time`, in a new thread and in the main
/// one) and the process's, and their resolution.
const PY_CPU_CLOCKS: &str = r#"import threading, time
def spin(out):
    start = time.thread_time()
    while time.thread_time() - start < 0.05:
        pass
    out.append(time.thread_time() - start >= 0.05)
out = []
t = threading.Thread(target=spin, args=(out,)); t.start(); t.join()
spin(out)
print(out, time.process_time() >= 0.1, time.clock_getres(time.CLOCK_THREAD_CPUTIME_ID),
      time.clock_getres(time.CLOCK_PROCESS_CPUTIME_ID))
"#;

/// CPU clocks of other threads and processes (`pthread_getcpuclockid`,
/// `clock_getcpuclockid`), and Linux's EINVAL for ids that name no clock.
const PY_OTHER_CPU_CLOCKS: &str = r#"import time, os, threading, ctypes
def spin(sec):
    s = time.thread_time()
    while time.thread_time() - s < sec:
        pass
res = {}
ev = threading.Event()
def worker():
    spin(0.03)
    res['own'] = time.clock_gettime(time.pthread_getcpuclockid(threading.get_ident())) >= 0.03
    ev.wait()
t = threading.Thread(target=worker); t.start()
while 'own' not in res:
    time.sleep(0.01)
print('main sees worker', time.clock_gettime(time.pthread_getcpuclockid(t.ident)) >= 0.03)
ev.set(); t.join()
print(res)
l = ctypes.CDLL(None, use_errno=True)
cid = ctypes.c_int()
print('self', l.clock_getcpuclockid(os.getpid(), ctypes.byref(cid)), time.clock_gettime(cid.value) >= 0)
pid = os.fork()
if pid == 0:
    spin(0.05); os._exit(0)
print('child', l.clock_getcpuclockid(pid, ctypes.byref(cid)), time.clock_getres(cid.value))
os.waitpid(pid, 0)
print('missing pid', l.clock_getcpuclockid(999999, ctypes.byref(cid)))
for bad in (-1, -5, 100):
    try:
        time.clock_gettime(bad); print(bad, 'ok')
    except OSError as e:
        print(bad, e.errno)
"#;

/// prctl's capability probes: the bounding set ends at the last capability (what
/// libcap and setpriv search for), securebits, and the ambient set's operations.
const PY_CAPS: &str = r#"import ctypes
l = ctypes.CDLL(None, use_errno=True)
def p(*a):
    ctypes.set_errno(0)
    r = l.prctl(*a, *[0] * (5 - len(a)))
    return (r, ctypes.get_errno())
print([p(23, c) for c in (0, 40, 41, 63)])
print(p(27), p(47, 1, 0), p(47, 1, 41), p(47, 4), p(47, 4, 1), p(47, 3, 5), p(47, 9, 5), p(47, 1, 5, 1))
"#;

/// The raw `sched_getaffinity` with buffers of several sizes: the length returned is the
/// kernel's mask size; a buffer too short or not a multiple of 8 is EINVAL.
const PY_AFFINITY: &str = r#"import ctypes
l = ctypes.CDLL(None, use_errno=True)
for n in (1024, 128, 8, 4, 7, 12):
    b = ctypes.create_string_buffer(n)
    r = l.syscall(204, 0, n, b)
    print(n, r, ctypes.get_errno(), b.raw[:8].hex())
"#;

const NODE_MISC: &str = r#"const cp = require('child_process'), zlib = require('zlib');
const crypto = require('crypto'), { Worker } = require('worker_threads');
console.log(cp.execSync('echo hi | tr a-z A-Z').toString().trim());
console.log(zlib.gunzipSync(zlib.gzipSync('abc')).toString());
console.log(crypto.createHash('sha256').update('x').digest('hex'));
const w = new Worker('require("worker_threads").parentPort.postMessage(6 * 7)', { eval: true });
w.on('message', m => {
  console.log('worker', m);
  const c = cp.spawn('cat');
  c.stdout.on('data', d => console.log('cat', d.toString().trim()));
  c.stdin.end('piped');
});
"#;

const NODE_WATCH: &str = r#"const fs = require('fs');
fs.mkdirSync('d');
const w = fs.watch('d', (ev, name) => { console.log(ev, name); w.close(); });
setTimeout(() => fs.writeFileSync('d/f', 'x'), 100);
"#;

#[test]
fn interpreters_and_tools() {
    run_group(
        "interpreters and tools",
        &[
            sh(
                "sqlite3 shell",
                "printf 'create table t(a,b);\\ninsert into t values(1,\"x\"),(2,\"y\");\\n\
                 select sum(a), group_concat(b) from t;\\n.mode csv\\nselect * from t;\\n.schema\\n' | \
                 sqlite3 db; sqlite3 db 'pragma journal_mode=wal; select count(*) from t;'",
            )
            .stderr(),
            sh("perl core modules", "perl mods.pl")
                .file("mods.pl", PERL_MODULES)
                .stderr(),
            sh("python3 ssl, sqlite3, hashlib", "python3 std.py")
                .file("std.py", PY_STDLIB)
                .stderr(),
            sh(
                "python3 multiprocessing, subprocess, tempfile, shutil",
                "python3 procs.py",
            )
            .file("procs.py", PY_PROCESSES)
            .stderr(),
            sh(
                "python3 venv",
                "python3 -m venv v && v/bin/python -c 'import sys; print(sys.prefix != sys.base_prefix)'",
            )
            .stderr()
            .timeout(120),
            sh("python3 raw sched_getaffinity lengths", "python3 aff.py")
                .file("aff.py", PY_AFFINITY)
                .stderr(),
            sh("python3 thread and process CPU clocks", "python3 clocks.py")
                .file("clocks.py", PY_CPU_CLOCKS)
                .stderr(),
            sh("python3 CPU clocks of other threads and processes", "python3 other.py")
                .file("other.py", PY_OTHER_CPU_CLOCKS)
                .stderr(),
            sh(
                "gpg symmetric encryption through gpg-agent",
                "export GNUPGHOME=$PWD/gnupg; mkdir -m 700 gnupg; echo secret > f; \
                 gpg -q --batch --passphrase pw --pinentry-mode loopback -c f 2>&1; \
                 gpg -q --batch --passphrase pw --pinentry-mode loopback -d f.gpg 2>/dev/null; \
                 echo $?; gpgconf --kill gpg-agent",
            )
            .stderr(),
            sh("node child_process, zlib, crypto, worker", "node misc.js")
                .file("misc.js", NODE_MISC)
                .stderr(),
            sh("node fs.watch", "node watch.js")
                .file("watch.js", NODE_WATCH)
                .stderr(),
            sh(
                "openssl dgst and enc",
                "echo hello > f; openssl dgst -sha256 f; openssl enc -aes-256-cbc -pbkdf2 -pass pass:x \
                 -S 0011223344556677 -in f | tee e | openssl enc -d -aes-256-cbc -pbkdf2 -pass pass:x; \
                 md5sum e; openssl rand -hex 4 | wc -c",
            )
            .stderr(),
            sh(
                "ssh-keygen",
                "ssh-keygen -q -t ed25519 -N '' -C c -f k && ssh-keygen -l -f k.pub | cut -d' ' -f1,4; \
                 ssh-keygen -y -f k | cut -d' ' -f1",
            )
            .stderr(),
        ],
    );
}

const PERL_SOCKET: &str = r#"use IO::Socket::INET;
my $l = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp') or die;
my $port = $l->sockport;
if (!fork) {
  my $c = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) or die;
  print $c "hello\n"; print scalar <$c>; exit 0;
}
my $s = $l->accept; my $x = <$s>; print $s uc $x; close $s; wait; print "done $?\n";
"#;

const PY_ASYNCIO: &str = r#"import asyncio
async def handle(r, w):
    w.write((await r.readline()).upper()); await w.drain(); w.close()
async def main():
    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    port = srv.sockets[0].getsockname()[1]
    for i in range(3):
        r, w = await asyncio.open_connection('127.0.0.1', port)
        w.write(b'hello %d\n' % i); await w.drain()
        print(await r.readline()); w.close(); await w.wait_closed()
    srv.close(); await srv.wait_closed()
asyncio.run(main())
"#;

const PY_SOCKETSERVER: &str = r#"import socketserver, threading, socket
class H(socketserver.StreamRequestHandler):
    def handle(self): self.wfile.write(self.rfile.readline()[::-1])
with socketserver.ThreadingTCPServer(('127.0.0.1', 0), H) as s:
    t = threading.Thread(target=s.serve_forever); t.start()
    for i in range(3):
        c = socket.create_connection(s.server_address)
        c.sendall(b'abc%d\n' % i); print(c.makefile().readline().strip()); c.close()
    s.shutdown(); t.join()
"#;

const NODE_HTTP: &str = r#"const http = require('http');
const srv = http.createServer((req, res) => { res.setHeader('x-a', 'b'); res.end('hi ' + req.url); });
srv.listen(0, '127.0.0.1', async () => {
  const port = srv.address().port;
  for (const p of ['/a', '/b']) {
    const r = await fetch(`http://127.0.0.1:${port}${p}`);
    console.log(r.status, r.headers.get('x-a'), await r.text());
  }
  http.get({ host: '127.0.0.1', port, path: '/c' }, res => {
    let d = ''; res.on('data', c => d += c); res.on('end', () => { console.log(d); srv.close(); });
  });
});
"#;

/// A TLS client that checks the server's certificate against `c.pem`, sends a line and
/// prints the reply (`s_server -rev` reverses it).
const PY_TLS_CLIENT: &str = r#"import socket, ssl, sys
ctx = ssl.create_default_context(cafile='c.pem')
ctx.check_hostname = False
with ctx.wrap_socket(socket.create_connection(('127.0.0.1', int(sys.argv[1])))) as s:
    s.sendall(b'tls hello\n')
    print(s.recv(100), s.version())
"#;

/// Waits (up to 10 s) for a line matching `$1` in file `$2` and prints its last field.
const WAIT_PORT: &str = "port_of() { for i in $(seq 100); do l=$(grep -m1 \"$1\" \"$2\" 2>/dev/null) && \
{ echo \"${l##*[ :]}\"; return; }; sleep 0.1; done; echo none; }";

#[test]
fn loopback_clients_and_servers() {
    run_group(
        "loopback clients and servers",
        &[
            sh("perl IO::Socket::INET", "perl sock.pl")
                .file("sock.pl", PERL_SOCKET)
                .stderr(),
            sh("python3 asyncio server and client", "python3 aio.py")
                .file("aio.py", PY_ASYNCIO)
                .stderr(),
            sh("python3 socketserver", "python3 ss.py")
                .file("ss.py", PY_SOCKETSERVER)
                .stderr(),
            sh("node http server, fetch and http.get", "node http.js")
                .file("http.js", NODE_HTTP)
                .stderr(),
            sh(
                "curl against python3 http.server",
                &format!(
                    "{WAIT_PORT}; mkdir www; echo 'served file' > www/index.html; \
                     python3 -u -m http.server 0 --bind 127.0.0.1 --directory www > log 2>/dev/null & \
                     port=$(port_of 'Serving HTTP' log); port=${{port%%)*}}; port=${{port%/}}; \
                     curl -s http://127.0.0.1:$port/index.html; \
                     curl -s -o /dev/null -w '%{{http_code}}\\n' http://127.0.0.1:$port/missing; \
                     kill $!; wait $! 2>/dev/null; echo $?"
                ),
            ),
            sh(
                "openssl s_server with a python3 ssl client",
                &format!(
                    "{WAIT_PORT}; openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
                     -nodes -keyout k.pem -out c.pem -days 1 -subj /CN=localhost 2>/dev/null; \
                     openssl s_server -accept 127.0.0.1:0 -key k.pem -cert c.pem -naccept 1 -rev \
                     > log 2>&1 & port=$(port_of ACCEPT log); python3 tls.py $port; wait $!; echo $?; \
                     grep -c 'CONNECTION ESTABLISHED' log"
                ),
            )
            .file("tls.py", PY_TLS_CLIENT),
        ],
    );
}

#[test]
fn processes_and_terminals() {
    run_group(
        "processes and terminals",
        &[
            sh(
                "ps and pgrep/pkill on children",
                "sleep 7 & sleep 9 & sleep 0.3; ps -o comm= --ppid $$ | sort; ps -o comm= -p $! ; pgrep -x sleep -P $$ | wc -l; pkill -x -P $$ sleep; wait; echo $?",
            )
            .stderr(),
            sh(
                "top -b, free and vmstat",
                "top -b -n1 | head -1 | cut -c1-6; free -w | head -1; vmstat 1 1 | head -2; \
                 vmstat 1 2 | wc -l; vmstat -s | wc -l",
            )
            .stderr(),
            sh(
                "taskset and nproc",
                "taskset -p $$ | sed 's/.*: //'; taskset -c 0 nproc; \
                 taskset -c 1 sh -c 'nproc; taskset -p $$ | sed \"s/.*: //\"; taskset -c 0,1 nproc'; \
                 taskset -c 5 true 2>/dev/null; echo $?; \
                 python3 -c 'import os, subprocess; os.sched_setaffinity(0, {1}); \
                 print(os.sched_getaffinity(0), subprocess.run([\"nproc\"], capture_output=True).stdout)'",
            ),
            sh(
                "personality and setarch -R",
                "cat /proc/self/personality; setarch -R cat /proc/self/personality; \
                 setarch x86_64 -R -L sh -c 'cat /proc/self/personality'; \
                 a=$(setarch -R cat /proc/self/maps); b=$(setarch -R cat /proc/self/maps); \
                 [ \"$a\" = \"$b\" ] && echo fixed layout; c=$(cat /proc/self/maps); \
                 [ \"$a\" != \"$c\" ] && echo randomized otherwise; \
                 python3 -c 'import ctypes; l = ctypes.CDLL(None); \
                 print([hex(l.personality(p)) for p in (0xffffffff, 0x40000, 0xffffffff, 0x123, 0)])'",
            )
            .stderr(),
            sh("man -P cat", "man -P cat ls 2>&1 | head -5; echo ${PIPESTATUS[0]}").stderr(),
            sh("less and more without a terminal", "seq 5 | less; seq 3 | more; less /etc/hostname | wc -l")
                .stderr(),
            sh(
                "setsid and nohup",
                "setsid -w sh -c 'ps -o sid= -p $$ | tr -d \" \" > sid; echo $$ > pid'; \
                 [ \"$(cat sid)\" = \"$(cat pid)\" ] && echo leader; nohup echo hi; \
                 nohup sh -c 'echo out; echo err >&2' > o 2>&1; cat o",
            )
            .stderr(),
            sh(
                "getent and getaddrinfo",
                "getent hosts localhost; getent passwd root; python3 -c 'import socket; \
                 print(sorted(set(a[4] for a in socket.getaddrinfo(\"localhost\", 80, type=socket.SOCK_STREAM))))'",
            )
            .stderr(),
            sh(
                "prlimit of other processes and /proc/pid/limits",
                "cat /proc/self/limits; ulimit -n 100; ulimit -S -s 4096; grep -e files -e stack \
                 /proc/self/limits; prlimit --pid $$ --nofile=50:60; echo $?; \
                 grep files /proc/$$/limits; ulimit -n; prlimit --pid 99999 --nofile=5:6; echo $?; \
                 sleep 5 & prlimit --pid $! --cpu=10:20 && grep cpu /proc/$!/limits; kill $!",
            )
            .stderr(),
            sh(
                "/proc/pid/environ and ps e",
                "cat /proc/self/environ | tr '\\0' '\\n' | sort; env -i A=1 B=2 cat /proc/self/environ | od -c; \
                 X=y sleep 3 & sleep 0.5; cat /proc/$!/environ | tr '\\0' '\\n' | sort; kill $!; \
                 ls -l /proc/self/environ | cut -c1-10; ps eww -o args= -p $$ | grep -o TZ=UTC",
            )
            .stderr(),
            sh("capability probes (PR_CAPBSET_READ, PR_CAP_AMBIENT, securebits)", "python3 caps.py; \
                 grep -c ^Cap /proc/self/status; setpriv -d | grep -e Inheritable -e Ambient -e Securebits")
                .file("caps.py", PY_CAPS)
                .stderr(),
            sh(
                "ulimit and getrlimit",
                "ulimit -a; python3 -c 'import resource as r; \
                 print(r.getrlimit(r.RLIMIT_NOFILE), r.getrlimit(r.RLIMIT_STACK))'",
            )
            .stderr(),
        ],
    );
}

/// `strace` and `gdb` need `ptrace`, which the sandbox refuses (EPERM): they must say so
/// and exit promptly, never hang.
#[test]
fn ptrace_users_fail_cleanly() {
    let mut failures = Failures::new();
    for (argv, status, message) in [
        (
            &["strace", "-o", "/dev/null", "true"][..],
            1,
            "ptrace(PTRACE_TRACEME, ...): Operation not permitted",
        ),
        (
            &["gdb", "-nx", "-batch", "-ex", "run", "--args", "/bin/true"][..],
            1,
            "ptrace: Operation not permitted",
        ),
    ] {
        let mut inv = Invocation::new(argv[0]).args(&argv[1..]);
        inv.timeout = Duration::from_secs(30);
        let started = Instant::now();
        let out = run_sentry(&inv);
        let all = format!("{}{}", out.stdout_str(), out.stderr_str());
        if out.status != status || !all.contains(message) || !out.notes.is_empty() {
            failures.check(Err(format!(
                "--- {}: status {} (want {status}), notes {:?}, output without {message:?}:\n{all}",
                inv.describe(),
                out.status,
                out.notes
            )));
        } else if started.elapsed() > Duration::from_secs(20) {
            failures.check(Err(format!(
                "--- {}: took {:?}",
                inv.describe(),
                started.elapsed()
            )));
        }
    }
    failures.finish("ptrace users");
}
