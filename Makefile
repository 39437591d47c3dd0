# sentry: the only entry points a user needs.
#   make          release build
#   make rootfs   populate rootfs/ (busybox-static applets + test programs)
#   make run      build, prepare rootfs/, run `sentry run rootfs/bin/ls rootfs`
#   make test     build, prepare rootfs/, run every test
#   make bench    build, prepare rootfs/, print benchmark medians and ratios

CARGO   ?= cargo
CC      ?= gcc
SENTRY  := target/release/sentry
CFLAGS  := -O2 -Wall -Wextra -Wno-unused-parameter -pthread
TESTSRC := $(wildcard rootfs/src/*.c)
TESTBIN := $(patsubst rootfs/src/%.c,rootfs/test/%,$(TESTSRC)) \
           $(patsubst rootfs/src/%.c,rootfs/test/%-pie,$(TESTSRC))

FUZZ_SECONDS ?= 600
# The Debian root is built from the machine's own apt configuration: its release and
# its mirror (the first non-security one), never a hard-coded host.
DEBIAN_SUITE  ?= $(shell . /etc/os-release && echo $$VERSION_CODENAME)
DEBIAN_MIRROR ?= $(shell { grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $$2}'; \
                   grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $$2}'; } | grep -v security | head -n1)
DEBIAN_PKGS   := bash,coreutils,findutils,grep,sed,gzip,tar,perl-base,python3-minimal,python3

.PHONY: all build rootfs rootfs-debian run test bench fuzz clean

all: build

build:
	$(CARGO) build --release --workspace

rootfs: rootfs/bin/busybox $(TESTBIN)

# Debian's static busybox, fetched through the package manager, with one
# relative symlink per applet at the path Debian installs it.
rootfs/bin/busybox:
	@set -e; tmp=$$(mktemp -d); \
	( cd $$tmp && { apt-get download busybox-static >/dev/null 2>&1 || \
	  { apt-get update >/dev/null && apt-get download busybox-static; }; } ); \
	dpkg-deb -x $$tmp/busybox-static_*.deb $$tmp/x; \
	mkdir -p rootfs/bin; cp $$tmp/x/bin/busybox rootfs/bin/busybox.tmp; \
	rm -rf $$tmp; \
	for p in $$(rootfs/bin/busybox.tmp --list-full); do \
	  d=$$(dirname $$p); mkdir -p rootfs/$$d; \
	  rel=$$(echo $$d | sed -e 's|[^/]*|..|g'); \
	  [ -e rootfs/$$p ] || ln -s $$rel/bin/busybox rootfs/$$p; \
	done; \
	mkdir -p rootfs/tmp rootfs/etc rootfs/proc rootfs/dev rootfs/root; \
	mv rootfs/bin/busybox.tmp rootfs/bin/busybox

rootfs/test/%: rootfs/src/%.c
	@mkdir -p rootfs/test
	$(CC) $(CFLAGS) -static -o $@ $<

rootfs/test/%-pie: rootfs/src/%.c
	@mkdir -p rootfs/test
	$(CC) $(CFLAGS) -static-pie -fPIE -o $@ $<

# The sys_* guests (and mmap_shared_file) share their output helpers.
$(filter rootfs/test/sys_% rootfs/test/mmap_shared_file%,$(TESTBIN)): rootfs/src/sys_report.h

# Guests that include check.h, directly or through ipc_check.h or lock_check.h,
# rebuild when it or the sys_report.h it includes changes; the ipc_* and lock_*
# guests also when their own header does.
CHECK_GUESTS := $(patsubst rootfs/src/%.c,%,$(shell grep -lE 'include "(ipc_|lock_)?check\.h"' $(TESTSRC)))
$(foreach g,$(CHECK_GUESTS),rootfs/test/$g rootfs/test/$g-pie): rootfs/src/check.h rootfs/src/sys_report.h
$(filter rootfs/test/ipc_%,$(TESTBIN)): rootfs/src/ipc_check.h
$(filter rootfs/test/lock_%,$(TESTBIN)): rootfs/src/lock_check.h

# A minimal Debian root (debootstrap), for running distribution binaries with --root.
rootfs-debian: rootfs-debian/.complete

rootfs-debian/.complete:
	command -v debootstrap >/dev/null || { apt-get update -q >/dev/null; apt-get install -y -q debootstrap >/dev/null; }
	rm -rf rootfs-debian.tmp
	debootstrap --variant=minbase --include=$(DEBIAN_PKGS) $(DEBIAN_SUITE) rootfs-debian.tmp $(DEBIAN_MIRROR)
	rm -rf rootfs-debian && mv rootfs-debian.tmp rootfs-debian
	touch $@

run: build rootfs
	$(SENTRY) run rootfs/bin/ls rootfs

test: build rootfs rootfs-debian
	SENTRY_BIN=$(abspath $(SENTRY)) SENTRY_ROOTFS=$(abspath rootfs) \
	  $(CARGO) test --release --workspace --no-fail-fast -- --test-threads=2

bench: build rootfs
	SENTRY_BIN=$(abspath $(SENTRY)) SENTRY_ROOTFS=$(abspath rootfs) \
	  $(CARGO) run --release -q -p tests --bin bench

# Fuzz the loader and the path walk (cargo-fuzz; the stable toolchain needs
# RUSTC_BOOTSTRAP for libFuzzer's instrumentation flags). Not part of `make test`.
fuzz: rootfs
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/loader fuzz/corpus/path_walk
	cp rootfs/test/exit_with fuzz/corpus/loader/static
	cp rootfs/test/exit_with-pie fuzz/corpus/loader/pie
	printf '#!/bin/sh\necho\n' > fuzz/corpus/loader/script
	printf 'a/b/../../up/abs/c' > fuzz/corpus/path_walk/seed
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O loader corpus/loader -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run -O path_walk corpus/path_walk -- -max_total_time=$(FUZZ_SECONDS)

clean:
	$(CARGO) clean
	find rootfs -mindepth 1 -maxdepth 1 ! -name src ! -name README.md -exec rm -rf {} +
