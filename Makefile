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

.PHONY: all build rootfs run test bench clean

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

run: build rootfs
	$(SENTRY) run rootfs/bin/ls rootfs

test: build rootfs
	SENTRY_BIN=$(abspath $(SENTRY)) SENTRY_ROOTFS=$(abspath rootfs) \
	  $(CARGO) test --release --workspace -- --test-threads=2

bench: build rootfs
	SENTRY_BIN=$(abspath $(SENTRY)) SENTRY_ROOTFS=$(abspath rootfs) \
	  $(CARGO) run --release -q -p tests --bin bench

clean:
	$(CARGO) clean
	find rootfs -mindepth 1 -maxdepth 1 ! -name src ! -name README.md -exec rm -rf {} +
