//! Busybox applets, each invocation run natively and under `sentry run` (default
//! root `/`, so guest paths are host paths) and compared: stdout and exit
//! status, stderr where a case asks, and for cases that change files, the
//! resulting tree.
//!
//! Every group builds its own fixture in a scratch directory and runs each case
//! with that directory as cwd. A case is one or more single-process steps
//! (no shell, no pipes: fork/exec is a later capability). A case that changes
//! files is run natively on a fresh fixture, then under sentry on another fresh
//! fixture at the same path, and the two resulting trees are compared too.
//! Fixture mtimes are fixed, so `ls -l`, `stat`, `tar` and `find -newer` are
//! deterministic. Output whose order follows directory order (which Linux
//! leaves unspecified) is compared as a set of lines.
//!
//! Applets missing from Debian's busybox-static (comm, join, split, sum,
//! cksum) are not tested.

use std::path::{Path, PathBuf};

use tests::{
    Compare, Failures, Invocation, Outcome, Rng, Scratch, compare, remove_tree, rootfs, run_native,
    run_sentry, set_mtime, set_tree_mtime, snapshot, write_file,
};

/// The mtime of every fixture entry: 2021-03-04 05:06:07 UTC.
const T0: i64 = 1_614_834_367;
/// The mtime of `newer.txt`, for `find -newer` and `test -nt`.
const T_NEWER: i64 = T0 + 30 * 86_400;

/// One single-process command of a case.
#[derive(Clone, Debug)]
struct Step {
    /// Applet name, then its arguments.
    args: Vec<String>,
    stdin: Vec<u8>,
    env: Vec<(String, String)>,
    /// Run through the applet's symlink (`<rootfs>/bin/ls`) instead of
    /// `<rootfs>/bin/busybox ls`.
    via_symlink: bool,
}

/// A table entry: steps run in order in the same fixture.
#[derive(Clone, Debug)]
struct Case {
    steps: Vec<Step>,
    mutates: bool,
    how: Compare,
}

/// A case running `busybox ARGS...` (ARGS[0] is the applet).
fn bb(args: &[&str]) -> Case {
    Case {
        steps: vec![step(args)],
        mutates: false,
        how: Compare::default(),
    }
}

fn step(args: &[&str]) -> Step {
    Step {
        args: args.iter().map(|s| s.to_string()).collect(),
        stdin: Vec::new(),
        env: Vec::new(),
        via_symlink: false,
    }
}

impl Case {
    /// Adds a step run after the previous ones in the same directory.
    fn then(mut self, args: &[&str]) -> Self {
        self.steps.push(step(args));
        self
    }

    /// The last step runs through the applet symlink.
    fn sym(mut self) -> Self {
        self.last().via_symlink = true;
        self
    }

    /// The last step reads these bytes from stdin.
    fn stdin(mut self, bytes: &str) -> Self {
        self.last().stdin = bytes.as_bytes().to_vec();
        self
    }

    /// The last step gets this environment variable on top of the fixed env.
    fn env(mut self, key: &str, value: &str) -> Self {
        self.last().env.push((key.to_string(), value.to_string()));
        self
    }

    /// The case changes files: fresh fixture per side, trees compared.
    fn mutates(mut self) -> Self {
        self.mutates = true;
        self
    }

    fn stderr(mut self) -> Self {
        self.how = self.how.with_stderr();
        self
    }

    fn unordered(mut self) -> Self {
        self.how = self.how.unordered();
        self
    }

    fn last(&mut self) -> &mut Step {
        self.steps.last_mut().expect("a case has a step")
    }
}

fn applet_symlink(applet: &str) -> PathBuf {
    let root = rootfs();
    ["bin", "sbin", "usr/bin", "usr/sbin"]
        .iter()
        .map(|d| root.join(d).join(applet))
        .find(|p| p.symlink_metadata().is_ok())
        .unwrap_or_else(|| panic!("no symlink for applet {applet} in {}", root.display()))
}

fn invocation(step: &Step, cwd: &Path) -> Invocation {
    let inv = if step.via_symlink {
        Invocation::new(applet_symlink(&step.args[0])).args(&step.args[1..])
    } else {
        Invocation::busybox(&step.args)
    };
    let mut inv = inv.cwd(cwd).stdin(&step.stdin);
    for (k, v) in &step.env {
        inv = inv.env(k, v);
    }
    inv
}

/// Runs a table of cases against a fixture and fails with every mismatch.
fn run_group(group: &str, fixture: fn(&Path), cases: Vec<Case>) {
    let scratch = Scratch::new(group);
    let work = scratch.join("w");
    let reset = || {
        remove_tree(&work);
        std::fs::create_dir(&work).expect("create fixture dir");
        fixture(&work);
        // `ls -la` shows `..`: keep its mtime fixed too.
        set_mtime(scratch.path(), T0);
    };
    reset();
    let mut dirty = false;
    let mut failures = Failures::new();
    for case in &cases {
        let mut run_side = |run: fn(&Invocation) -> Outcome| {
            if dirty || case.mutates {
                reset();
            }
            let outcomes: Vec<Outcome> = case
                .steps
                .iter()
                .map(|s| run(&invocation(s, &work)))
                .collect();
            dirty = case.mutates;
            let tree = case.mutates.then(|| snapshot(&work));
            (outcomes, tree)
        };
        let (native, native_tree) = run_side(run_native);
        let (sentry, sentry_tree) = run_side(run_sentry);
        let mut reports = Vec::new();
        for (i, s) in case.steps.iter().enumerate() {
            let label = format!(
                "{group} step {}/{}: {}",
                i + 1,
                case.steps.len(),
                invocation(s, &work).describe()
            );
            if let Err(r) = compare(&label, &native[i], &sentry[i], case.how) {
                reports.push(r);
            }
        }
        if native_tree != sentry_tree {
            reports.push(format!(
                "--- {group}: files after `{}` differ\n{}",
                case.steps[0].args.join(" "),
                tree_difference(
                    &native_tree.unwrap_or_default(),
                    &sentry_tree.unwrap_or_default()
                )
            ));
        }
        failures.check(if reports.is_empty() {
            Ok(())
        } else {
            Err(reports.join("\n"))
        });
    }
    failures.finish(&format!("busybox {group}"));
}

fn tree_difference(native: &[String], sentry: &[String]) -> String {
    let mut out = String::new();
    for line in native.iter().filter(|l| !sentry.contains(l)) {
        out += &format!("  native only: {line}\n");
    }
    for line in sentry.iter().filter(|l| !native.contains(l)) {
        out += &format!("  sentry only: {line}\n");
    }
    out
}

const WORDS: &str = "\
the quick brown fox
jumps over the lazy dog
The Quick Brown Fox
alpha beta gamma
beta gamma delta
zebra
apple banana cherry
apple banana cherry
a.b literal dots
aXb not literal
foo bar  baz   qux
THE END
mississippi
fox fox foxes
123 numbers 456
tab\there
  leading spaces
trailing spaces   
boom
zoo
moon
";

const NUMS: &str = "10\n-3\n2.5\n100\n7\n0\n42\n-17\n7\n3e2\n9\n11\n1000\n-0.5\n42\n";

const TABLE: &str = "\
name,dept,salary
alice,eng,120
bob,ops,95
carol,eng,135
dave,sales,70
erin,ops,88
frank,eng,101
grace,sales,99
";

const A_TXT: &str = "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\n";
const B_TXT: &str = "one\ntwo\nTHREE\nfour\nfive\nsix and a half\nseven\neight\nnine\n";

/// `printf 'hello from xz\nsecond line\n' | xz`: busybox cannot compress xz.
const HELLO_XZ: &[u8] = &[
    0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04, 0xe6, 0xd6, 0xb4, 0x46, 0x02, 0x00, 0x21, 0x01,
    0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3, 0x01, 0x00, 0x19, 0x68, 0x65, 0x6c, 0x6c, 0x6f,
    0x20, 0x66, 0x72, 0x6f, 0x6d, 0x20, 0x78, 0x7a, 0x0a, 0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x20,
    0x6c, 0x69, 0x6e, 0x65, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x1c, 0xdb, 0xaf, 0x17, 0x55, 0x66,
    0x00, 0x01, 0x32, 0x1a, 0x20, 0x18, 0x94, 0x30, 0x1f, 0xb6, 0xf3, 0x7d, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x04, 0x59, 0x5a,
];

/// The small fixture most groups share.
fn standard_fixture(dir: &Path) {
    write_file(&dir.join("words.txt"), WORDS);
    let mut sorted: Vec<&str> = WORDS.lines().collect();
    sorted.sort();
    write_file(&dir.join("sorted.txt"), sorted.join("\n") + "\n");
    write_file(&dir.join("nums.txt"), NUMS);
    write_file(&dir.join("table.csv"), TABLE);
    write_file(&dir.join("a.txt"), A_TXT);
    write_file(&dir.join("b.txt"), B_TXT);
    write_file(
        &dir.join("tabs.txt"),
        "a\tb\tc\n\tindented\nx\t\ty\n1234567\t8\n",
    );
    write_file(&dir.join("spaces.txt"), "a       b\n        eight\n");
    write_file(
        &dir.join("long.txt"),
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor \
         incididunt ut labore et dolore magna aliqua.\nshort\n\
         0123456789012345678901234567890123456789\n",
    );
    write_file(
        &dir.join("config.txt"),
        "# comment\nport=8080\n# another\nhost=example 42\nretries=3\n",
    );
    write_file(
        &dir.join("b64.txt"),
        "c2VudHJ5IHRlc3QgZGF0YQpsaW5lIHR3bwo=\n",
    );
    let mut rng = Rng::new(7);
    let mut bin = rng.bytes(4096);
    bin[1000..1020].copy_from_slice(b"EMBEDDED-STRING-0001");
    bin[3000..3008].copy_from_slice(b"short:-)");
    write_file(&dir.join("bin.dat"), &bin);
    write_file(&dir.join("hello.xz"), HELLO_XZ);
    write_file(
        &dir.join("dir/sub1/x.c"),
        "int main(void) { return 0; } /* needle */\n",
    );
    write_file(&dir.join("dir/sub1/y.h"), "#define Y 1\n");
    write_file(&dir.join("dir/sub2/deep/z.txt"), "a needle in a haystack\n");
    write_file(&dir.join("dir/.hidden"), "hidden\n");
    std::fs::create_dir(dir.join("dir/empty")).expect("mkdir");
    std::os::unix::fs::symlink("sub1/x.c", dir.join("dir/link")).expect("symlink");
    write_file(&dir.join("ref.txt"), "reference\n");
    write_file(&dir.join("newer.txt"), "newer\n");
    // Inputs made by the native busybox itself (they hold no timestamps).
    let sums = run_native(&Invocation::busybox(&["md5sum", "words.txt", "bin.dat"]).cwd(dir));
    write_file(&dir.join("sums.md5"), &sums.stdout);
    write_file(
        &dir.join("bad.sha256"),
        "0000000000000000000000000000000000000000000000000000000000000000  words.txt\n",
    );
    let patch = run_native(
        &Invocation::busybox(&["diff", "-u", "-L", "a.txt", "-L", "a.txt", "a.txt", "b.txt"])
            .cwd(dir),
    );
    write_file(&dir.join("patch.diff"), &patch.stdout);
    set_tree_mtime(dir, T0);
    set_mtime(&dir.join("newer.txt"), T_NEWER);
}

/// Larger inputs: a 16 MiB file, 10k lines, a directory of 2000 files.
fn big_fixture(dir: &Path) {
    let mut rng = Rng::new(99);
    write_file(&dir.join("big.bin"), rng.bytes(16 << 20));
    let words = ["red", "green", "blue", "cyan", "magenta", "yellow", "black"];
    let mut lines = String::new();
    for i in 0..10_000 {
        let w = words[rng.below(words.len() as u64) as usize];
        lines += &format!("{w} {} line{i}\n", rng.below(100_000));
    }
    write_file(&dir.join("lines10k.txt"), lines);
    for i in 0..2000 {
        write_file(&dir.join(format!("many/f{i:04}")), format!("file {i}\n"));
    }
    set_tree_mtime(dir, T0);
}

#[test]
fn text_processing() {
    run_group(
        "text",
        standard_fixture,
        vec![
            bb(&["cat", "words.txt"]).sym(),
            bb(&["cat", "-n", "words.txt"]),
            bb(&["cat", "a.txt", "b.txt"]),
            bb(&["cat", "-A", "tabs.txt"]),
            bb(&["cat"]).stdin("from\nstdin\n"),
            bb(&["cat", "missing.txt"]).stderr(),
            bb(&["wc", "words.txt"]).sym(),
            bb(&["wc", "-l", "-w", "-c", "words.txt", "nums.txt"]),
            bb(&["wc", "-L", "long.txt"]),
            bb(&["head", "-n", "3", "words.txt"]).sym(),
            bb(&["head", "-c", "100", "bin.dat"]),
            bb(&["tail", "-n", "4", "words.txt"]),
            bb(&["tail", "-c", "50", "words.txt"]),
            bb(&["tail", "-n", "+12", "nums.txt"]),
            bb(&["sort", "words.txt"]).sym(),
            bb(&["sort", "-n", "nums.txt"]),
            bb(&["sort", "-r", "words.txt"]),
            bb(&["sort", "-u", "words.txt"]),
            bb(&["sort", "-f", "words.txt"]),
            bb(&["sort", "-n", "-r", "-u", "nums.txt"]),
            bb(&["sort", "-t", ",", "-k", "3", "-n", "table.csv"]),
            bb(&["sort", "-t", ",", "-k", "2,2", "-k", "1,1r", "table.csv"]),
            bb(&["sort", "-c", "nums.txt"]).stderr(),
            bb(&["sort"]).stdin("pear\napple\nfig\n"),
            bb(&["uniq", "sorted.txt"]),
            bb(&["uniq", "-c", "sorted.txt"]),
            bb(&["uniq", "-d", "sorted.txt"]),
            bb(&["cut", "-d", ",", "-f", "1,3", "table.csv"]),
            bb(&["cut", "-c", "1-5", "words.txt"]),
            bb(&["tr", "a-z", "A-Z"]).stdin(WORDS),
            bb(&["tr", "-d", "aeiou"]).stdin(WORDS),
            bb(&["tr", "-s", " "]).stdin("a   b    c\n"),
            bb(&["fold", "-w", "10", "long.txt"]),
            bb(&["fold", "-s", "-w", "20", "long.txt"]),
            bb(&["paste", "a.txt", "b.txt"]),
            bb(&["paste", "-d", ",", "-s", "nums.txt"]),
            bb(&["nl", "words.txt"]),
            bb(&["rev", "words.txt"]),
            bb(&["tac", "words.txt"]),
            bb(&["expand", "tabs.txt"]),
            bb(&["expand", "-t", "4", "tabs.txt"]),
            bb(&["unexpand", "-a", "spaces.txt"]),
            bb(&["dos2unix"]).stdin("a\r\nb\r\n"),
            bb(&["unix2dos"]).stdin("a\nb\n"),
            bb(&["strings", "bin.dat"]),
            bb(&["strings", "-n", "12", "bin.dat"]),
            bb(&["tee", "copy.txt"]).stdin("tee me\n").mutates(),
        ],
    );
}

#[test]
fn grep_sed_awk() {
    run_group(
        "search",
        standard_fixture,
        vec![
            bb(&["grep", "the", "words.txt"]).sym(),
            bb(&["grep", "-i", "THE", "words.txt"]),
            bb(&["grep", "-v", "e", "words.txt"]),
            bb(&["grep", "-c", "a", "words.txt"]),
            bb(&["grep", "-n", "-E", "^(alpha|beta)", "words.txt"]),
            bb(&["grep", "-E", "s{2}i", "words.txt"]),
            bb(&["grep", "-r", "needle", "dir"]).unordered(),
            bb(&["grep", "-r", "-l", "needle", "."]).unordered(),
            bb(&["grep", "-w", "-o", "fox", "words.txt"]),
            bb(&["grep", "-F", "a.b", "words.txt"]),
            bb(&["grep", "-q", "zebra", "words.txt"]),
            bb(&["grep", "no-such-text", "words.txt"]),
            bb(&["grep", "x", "missing.txt"]).stderr(),
            bb(&["grep", "-e", "zoo", "-e", "moon"]).stdin(WORDS),
            bb(&["egrep", "o{2}", "words.txt"]).sym(),
            bb(&["sed", "s/a/A/g", "words.txt"]).sym(),
            bb(&["sed", "-n", "2,4p", "words.txt"]),
            bb(&[
                "sed",
                "-e",
                "/^#/d",
                "-e",
                "s/[0-9][0-9]*/N/g",
                "config.txt",
            ]),
            bb(&["sed", "-E", "s/([a-z]+) ([a-z]+)/\\2 \\1/", "words.txt"]),
            bb(&["sed", "$!N;s/\\n/ /", "nums.txt"]),
            bb(&["sed", "y/abc/xyz/", "words.txt"]),
            bb(&["sed", "=", "a.txt"]),
            bb(&["sed", "-n", "/four/,/six/{p}", "a.txt"]),
            bb(&["cp", "words.txt", "edit.txt"])
                .then(&["sed", "-i", "s/the/THE/g;3d", "edit.txt"])
                .then(&["cat", "edit.txt"])
                .mutates(),
            bb(&["awk", "-F", ",", "{print $2, $1}", "table.csv"]).sym(),
            bb(&[
                "awk",
                "-F",
                ",",
                "NR>1 {s+=$3} END {print s, NR, s/(NR-1)}",
                "table.csv",
            ]),
            bb(&["awk", "NR%2==0", "words.txt"]),
            bb(&["awk", "{print NF, length($0), $NF}", "words.txt"]),
            bb(&[
                "awk",
                "BEGIN{printf \"%.3f %d %s %5.1e\\n\", 3.14159*2, 7/2, toupper(\"abc\"), 12345.678; \
                 print 2^10, int(-3.7), length(\"hello\"), substr(\"abcdef\",2,3), \
                 index(\"hello\",\"ll\"), sprintf(\"%05d\", 42)}",
            ]),
            bb(&[
                "awk",
                "{n[$1]++} END {for (w in n) print w, n[w]}",
                "sorted.txt",
            ])
            .unordered(),
            bb(&[
                "awk",
                "-v",
                "x=5",
                "BEGIN{n=split(\"a:b:c\",arr,\":\"); print n, arr[3], x*2; exit 3}",
            ]),
            bb(&[
                "awk",
                "/fox/ {gsub(/o/, \"0\"); print} END {print NR}",
                "words.txt",
            ]),
            bb(&[
                "awk",
                "{ while ((getline line < \"b.txt\") > 0) n++ } END { print n }",
                "a.txt",
            ]),
        ],
    );
}

#[test]
fn file_management() {
    run_group(
        "files",
        standard_fixture,
        vec![
            bb(&["ls"]).sym(),
            bb(&["ls", "-1", "dir"]),
            bb(&["ls", "-l"]).sym(),
            bb(&["ls", "-la"]),
            bb(&["ls", "-R", "dir"]),
            bb(&["ls", "-lR", "dir"]),
            bb(&["ls", "-ld", "dir", "words.txt", "dir/link"]),
            bb(&["ls", "-a", "-F", "dir"]),
            bb(&["ls", "-S", "-1"]),
            bb(&["ls", "-r", "-1"]),
            bb(&["ls", "-lh", "bin.dat"]),
            bb(&["ls", "missing"]).stderr(),
            bb(&["find", "."]).unordered(),
            bb(&["find", ".", "-name", "*.c"]).unordered(),
            bb(&["find", "dir", "-type", "d"]).unordered(),
            bb(&["find", ".", "-type", "f", "-newer", "ref.txt"]).unordered(),
            bb(&["find", ".", "-maxdepth", "1", "-type", "f"]).unordered(),
            bb(&["find", "dir", "-type", "l"]).unordered(),
            bb(&["find", "dir", "-empty"]).unordered(),
            bb(&["find", ".", "-size", "+1k"]).unordered(),
            bb(&[
                "stat",
                "-c",
                "%n %s %a %A %F %h %U %G %Y",
                "words.txt",
                "dir",
                "dir/link",
            ]),
            bb(&["stat", "-L", "-c", "%n %s %F", "dir/link"]),
            bb(&["stat", "-c", "%n %b %B %y", "bin.dat"]),
            bb(&["stat", "missing"]).stderr(),
            bb(&["du", "-s", "-k", "dir"]),
            bb(&["du", "-a", "dir"]).unordered(),
            bb(&["pwd"]).sym(),
            bb(&["realpath", "."]),
            bb(&["realpath", "dir/../dir/sub1/../link"]),
            bb(&["readlink", "dir/link"]),
            bb(&["readlink", "-f", "dir/link"]),
            bb(&["test", "-L", "dir/link"]),
            bb(&["sync"]),
            bb(&["mkdir", "-p", "x/y/z"])
                .then(&["ls", "-R", "x"])
                .mutates(),
            bb(&["mkdir", "dir"]).stderr().mutates(),
            bb(&["rmdir", "dir/empty"])
                .then(&["ls", "-a", "dir"])
                .mutates(),
            bb(&["rmdir", "dir"]).stderr().mutates(),
            bb(&["cp", "-r", "dir", "dir2"])
                .then(&["ls", "-aR", "dir2"])
                .mutates(),
            bb(&["cp", "-a", "dir", "dir3"])
                .then(&[
                    "stat",
                    "-c",
                    "%n %a %Y",
                    "dir3/sub1/x.c",
                    "dir3/sub2/deep/z.txt",
                ])
                .then(&["readlink", "dir3/link"])
                .mutates(),
            bb(&["cp", "words.txt", "copy.txt"])
                .then(&["cmp", "words.txt", "copy.txt"])
                .mutates(),
            bb(&["cp", "-p", "words.txt", "copy.txt"])
                .then(&["stat", "-c", "%n %a %Y", "copy.txt"])
                .mutates(),
            bb(&["mv", "words.txt", "moved.txt"])
                .then(&["ls", "-1"])
                .mutates(),
            bb(&["mv", "a.txt", "b.txt", "dir/sub1"])
                .then(&["ls", "dir/sub1"])
                .mutates(),
            bb(&["rm", "-r", "dir"]).then(&["ls", "-1"]).mutates(),
            bb(&["rm", "-f", "missing"]).mutates(),
            bb(&["rm", "missing"]).stderr().mutates(),
            bb(&["ln", "-s", "words.txt", "wl"])
                .then(&["readlink", "wl"])
                .then(&["cat", "wl"])
                .mutates(),
            bb(&["ln", "words.txt", "hard"])
                .then(&["stat", "-c", "%n %h %s", "hard", "words.txt"])
                .mutates(),
            bb(&["link", "a.txt", "a.link"])
                .then(&["unlink", "a.txt"])
                .then(&["cat", "a.link"])
                .mutates(),
            bb(&["touch", "-d", "2001-02-03 04:05:06", "words.txt"])
                .then(&["stat", "-c", "%Y %y", "words.txt"])
                .mutates(),
            bb(&["touch", "new.txt"]).then(&["ls", "-1"]).mutates(),
            bb(&["touch", "-r", "newer.txt", "ref.txt"])
                .then(&["stat", "-c", "%Y", "ref.txt"])
                .mutates(),
            bb(&["chmod", "600", "words.txt"])
                .then(&["stat", "-c", "%a %A", "words.txt"])
                .mutates(),
            bb(&["chmod", "u+x,g-r", "words.txt"])
                .then(&["stat", "-c", "%a", "words.txt"])
                .mutates(),
            bb(&["chmod", "-R", "go-rwx", "dir"])
                .then(&["ls", "-lR", "dir"])
                .mutates(),
            bb(&["truncate", "-s", "1000", "words.txt"])
                .then(&["stat", "-c", "%s", "words.txt"])
                .then(&["truncate", "-s", "10", "words.txt"])
                .then(&["cat", "words.txt"])
                .mutates(),
            bb(&["dd", "if=bin.dat", "of=out.dat", "bs=512", "count=3"])
                .stderr()
                .then(&["md5sum", "out.dat"])
                .mutates(),
            bb(&["dd", "if=bin.dat", "bs=100", "skip=2", "count=1"]).stderr(),
            bb(&[
                "dd",
                "if=words.txt",
                "of=bin.dat",
                "bs=10",
                "seek=3",
                "count=2",
                "conv=notrunc",
            ])
            .stderr()
            .then(&["md5sum", "bin.dat"])
            .mutates(),
            bb(&["mkfifo", "fifo"])
                .then(&["stat", "-c", "%F %a", "fifo"])
                .mutates(),
        ],
    );
}

#[test]
fn archives_and_compression() {
    run_group(
        "archive",
        standard_fixture,
        vec![
            bb(&["tar", "cf", "-", "words.txt", "dir/sub2"]),
            bb(&["tar", "cf", "a.tar", "words.txt", "nums.txt", "dir/sub2"])
                .then(&["tar", "tf", "a.tar"])
                .then(&["tar", "tvf", "a.tar"])
                .then(&["mkdir", "out"])
                .then(&["tar", "xf", "a.tar", "-C", "out"])
                .then(&["ls", "-R", "out"])
                .then(&["tar", "xOf", "a.tar", "dir/sub2/deep/z.txt"])
                .mutates(),
            bb(&["gzip", "-c", "words.txt"]),
            bb(&["gzip", "-9", "-c", "bin.dat"]),
            bb(&["gzip", "words.txt"])
                .then(&["ls", "-1"])
                .then(&["zcat", "words.txt.gz"])
                .then(&["gunzip", "words.txt.gz"])
                .then(&["cat", "words.txt"])
                .mutates(),
            bb(&["gzip", "-k", "a.txt"])
                .then(&["gzip", "-t", "a.txt.gz"])
                .then(&["gunzip", "-c", "a.txt.gz"])
                .mutates(),
            bb(&["gunzip"]).stdin("not gzip data\n").stderr(),
            bb(&["bzip2", "-c", "words.txt"]),
            bb(&["bzip2", "-k", "a.txt"])
                .then(&["bzcat", "a.txt.bz2"])
                .then(&["bunzip2", "-f", "a.txt.bz2"])
                .then(&["cat", "a.txt"])
                .mutates(),
            bb(&["xzcat", "hello.xz"]),
            bb(&["xz", "-d", "-k", "hello.xz"])
                .then(&["cat", "hello"])
                .mutates(),
            bb(&["unxz", "-c", "hello.xz"]),
            bb(&["uuencode", "words.txt", "w.txt"]),
            bb(&["uuencode", "-m", "bin.dat", "b"]),
            bb(&["patch", "-i", "patch.diff"])
                .then(&["cmp", "a.txt", "b.txt"])
                .mutates(),
            bb(&["diff", "a.txt", "b.txt"]),
            bb(&["diff", "-u", "-L", "old", "-L", "new", "a.txt", "b.txt"]),
            bb(&["diff", "-q", "a.txt", "b.txt"]),
            bb(&["diff", "-r", "dir", "dir"]),
            bb(&["cmp", "a.txt", "b.txt"]),
            bb(&["cmp", "a.txt", "a.txt"]),
            bb(&["cmp", "-l", "bin.dat", "words.txt"]),
        ],
    );
}

#[test]
fn checksums_and_dumps() {
    run_group(
        "dump",
        standard_fixture,
        vec![
            bb(&["md5sum", "words.txt", "bin.dat"]).sym(),
            bb(&["md5sum", "-c", "sums.md5"]),
            bb(&["sha1sum", "words.txt", "bin.dat"]),
            bb(&["sha256sum", "words.txt", "bin.dat"]),
            bb(&["sha256sum", "-c", "bad.sha256"]).stderr(),
            bb(&["sha512sum", "bin.dat"]),
            bb(&["sha3sum", "words.txt"]),
            bb(&["md5sum"]).stdin("stdin data\n"),
            bb(&["crc32", "words.txt"]),
            bb(&["base64", "bin.dat"]),
            bb(&["base64", "-d", "b64.txt"]),
            bb(&["base64", "-d"]).stdin("aGVsbG8gd29ybGQK\n"),
            bb(&["od", "-A", "x", "-t", "x1", "-N", "64", "bin.dat"]),
            bb(&["od", "-c", "a.txt"]),
            bb(&["od", "-t", "d4", "-N", "32", "bin.dat"]),
            bb(&["hexdump", "-C", "-n", "128", "bin.dat"]),
            bb(&["hexdump", "-n", "32", "bin.dat"]),
            bb(&["xxd", "-l", "64", "bin.dat"]),
            bb(&["xxd", "-p", "-l", "32", "bin.dat"]),
            bb(&["xxd", "-r", "-p"]).stdin("48656c6c6f2c20787864210a\n"),
        ],
    );
}

#[test]
fn misc_applets() {
    let rootfs_path = format!("{}/bin:/usr/bin:/bin", rootfs().display());
    run_group(
        "misc",
        standard_fixture,
        vec![
            bb(&["date", "-u", "-d", "@0"]),
            bb(&[
                "date",
                "-u",
                "-d",
                "@1234567890",
                "+%Y-%m-%d %H:%M:%S %a %j %Z",
            ]),
            bb(&["date", "-d", "2020-02-29 12:34:56", "+%s %A %B"]),
            bb(&["date", "-u", "-r", "words.txt", "+%F %T"]),
            bb(&[
                "printf",
                "%s-%d-%x-%o-%5.2f-%e\\n",
                "abc",
                "42",
                "255",
                "8",
                "3.14159",
                "12345.678",
            ]),
            bb(&["printf", "%b", "a\\tb\\n"]),
            bb(&["printf", "[%3s|%-3s]\\n", "a", "b", "cc", "dd"]),
            bb(&["printf", "%d\\n", "notanumber"]).stderr(),
            bb(&["expr", "6", "*", "7"]),
            bb(&["expr", "length", "hello"]),
            bb(&["expr", "substr", "hello", "2", "3"]),
            bb(&["expr", "1", "=", "2"]),
            bb(&["expr", "abc123", ":", "[a-z]*"]),
            bb(&["expr", "10", "/", "0"]).stderr(),
            bb(&["seq", "10"]).sym(),
            bb(&["seq", "2", "3", "20"]),
            bb(&["seq", "-s", ",", "5"]),
            bb(&["seq", "-w", "8", "12"]),
            bb(&["seq", "1", "0.5", "3"]),
            bb(&["echo", "hello", "world"]).sym(),
            bb(&["echo", "-n", "no newline"]),
            bb(&["echo", "-e", "a\\tb\\nc"]),
            bb(&["true"]),
            bb(&["false"]).sym(),
            bb(&["test", "-f", "words.txt"]),
            bb(&["test", "-d", "words.txt"]),
            bb(&["[", "1", "-lt", "2", "]"]),
            bb(&["test", "abc", "=", "abd"]),
            bb(&["test", "-z", ""]),
            bb(&["test", "newer.txt", "-nt", "ref.txt"]),
            bb(&["env"]).unordered(),
            bb(&["env"]).env("EXTRA", "value with spaces").unordered(),
            bb(&["id", "-u"]),
            bb(&["id", "-g"]),
            bb(&["id", "-un"]),
            bb(&["id"]),
            bb(&["whoami"]),
            bb(&["uname", "-s", "-m"]),
            bb(&["uname", "-s"]).sym(),
            bb(&["basename", "/a/b/c.txt", ".txt"]),
            bb(&["basename", "/a/b/"]),
            bb(&["dirname", "/a/b/c.txt"]),
            bb(&["dirname", "c.txt"]),
            bb(&["which", "ls"]),
            bb(&["which", "busybox", "ls"]).env("PATH", &rootfs_path),
            bb(&["which", "no-such-command"]),
            bb(&["factor", "1234567890", "97"]),
            bb(&["cal", "2", "2024"]),
            bb(&["getopt", "ab:c", "-a", "-b", "x", "y", "-c"]),
            bb(&["sleep", "0.05"]),
            bb(&["usleep", "1000"]),
            bb(&["tty"]),
            bb(&["bc", "-l"]).stdin("scale=20\n4*a(1)\n2^64\n"),
            bb(&["dc"]).stdin("2 3 + p 10 3 / p\n"),
            bb(&["ipcalc", "-n", "-b", "-m", "192.168.10.77/21"]),
            bb(&["busybox", "--list"]),
            bb(&["no-such-applet"]).stderr(),
        ],
    );
}

#[test]
fn big_inputs() {
    run_group(
        "big",
        big_fixture,
        vec![
            bb(&["wc", "-c", "big.bin"]),
            bb(&["md5sum", "big.bin"]),
            bb(&["cat", "big.bin"]),
            bb(&["head", "-c", "100000", "big.bin"]),
            bb(&["dd", "if=big.bin", "bs=1M", "skip=2", "count=4"]).stderr(),
            bb(&[
                "od", "-A", "d", "-t", "x8", "-j", "8000000", "-N", "64", "big.bin",
            ]),
            bb(&["wc", "-l", "lines10k.txt"]),
            bb(&["sort", "lines10k.txt"]),
            bb(&["sort", "-n", "-k", "2", "lines10k.txt"]),
            bb(&["sort", "-u", "-k", "1,1", "lines10k.txt"]),
            bb(&["tac", "lines10k.txt"]),
            bb(&["tail", "-n", "5", "lines10k.txt"]),
            bb(&["grep", "-c", "blue", "lines10k.txt"]),
            bb(&["ls", "many"]),
            bb(&["ls", "-l", "many"]),
            bb(&["find", "many", "-name", "f1*"]).unordered(),
            bb(&["du", "-s", "many"]),
        ],
    );
}
