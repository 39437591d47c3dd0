/*
 * mmap_shared_file: MAP_SHARED mappings of files, run with a scratch
 * directory as argv[1] (created if missing; it must hold no files).
 *
 * - Stores through a mapping are seen by pread/read/readv, sendfile and
 *   copy_file_range before any msync; msync (MS_SYNC, MS_ASYNC) works.
 * - A second mapping of the file (another mmap call, an mremap, a forked
 *   child's inherited mapping, and a child that opens and maps the file
 *   itself) shares the pages both ways; read() sees the child's stores.
 * - pwrite/write/pwritev into the file are seen through the mapping.
 * - ftruncate to extend, then a bigger mapping and an mremap that grows.
 * - MAP_PRIVATE of the same file sees the shared data; its stores stay
 *   private.
 * - After munmap and close, a fresh open reads what was stored; so it does
 *   after the only process mapping a file exits or execs without munmap.
 * - Two processes, each with its own open and mapping, increment a counter
 *   in the file 10000 times each under a futex lock: 20000.
 * - O_RDONLY: PROT_WRITE|MAP_SHARED and mprotect to PROT_WRITE are EACCES;
 *   a read-only shared mapping sees stores made through a writable one.
 * - Two shared mappings of one memfd share their pages.
 *
 * `mmap_shared_file overlay FILE` instead maps FILE shared and writable,
 * stores "guest" at its start, unmaps it and prints what a fresh open reads:
 * under the default overlay root the host's FILE must stay as it was.
 *
 * Output holds only results (sys_report.h), so it is identical natively and
 * under sentry.  Accessing pages past the end of file is not tested: Linux
 * raises SIGBUS there, sentry does not.
 */
#include "sys_report.h"
#include "check.h" /* child_status */

#include <fcntl.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static long pg;
static const char *dir;

/* Opens `name` in the scratch directory; a failure ends the program. */
static int open_in_dir(const char *name, int flags)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, flags | O_CLOEXEC, 0644);
	if (fd < 0) {
		printf("open %s: %s\n", name, errname(errno));
		exit(1);
	}
	return fd;
}

/* `label: "bytes"`, non-printable bytes as `.`. */
static void show(const char *label, const char *p, size_t n)
{
	printf("%s: \"", label);
	for (size_t i = 0; i < n; i++)
		putchar(p[i] >= 32 && p[i] < 127 ? p[i] : '.');
	printf("\"\n");
}

/* Reads n bytes at off with pread and shows them. */
static void show_pread(const char *label, int fd, off_t off, size_t n)
{
	char buf[64] = {0};
	if (pread(fd, buf, n, off) != (ssize_t)n)
		printf("%s: short pread (%s)\n", label, errname(errno));
	else
		show(label, buf, n);
}

static void *map(size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);
	if (p == MAP_FAILED) {
		printf("mmap: %s\n", errname(errno));
		exit(1);
	}
	return p;
}

/* A child that opens and maps the file itself: it must see the parent's
 * stores, and its own store at file offset pg must reach the parent. */
static int child_own_mapping(void)
{
	int fd = open_in_dir("data", O_RDWR);
	char *c = map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, pg);
	int ok = memcmp(c + 10, "second", 6) == 0;
	memcpy(c, "child", 5);
	munmap(c, pg);
	close(fd);
	return ok ? 0 : 1;
}

/* A child that is the only one mapping file `name` stores `text` and leaves
 * without munmap or msync: by exiting, or by exec'ing this program (`nop`). */
static void test_last_mapping_goes(const char *name, const char *text, const char *self)
{
	int fd = open_in_dir(name, O_RDWR | O_CREAT | O_TRUNC);
	R("ftruncate", ftruncate(fd, pg));
	close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = open_in_dir(name, O_RDWR);
		char *c = map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, cfd, 0);
		memcpy(c, text, strlen(text));
		if (self)
			execl(self, self, "nop", (char *)NULL);
		_exit(self ? 127 : 0);
	}
	R("child", child_status(pid));
	fd = open_in_dir(name, O_RDONLY);
	show_pread("stored before the child left", fd, 0, strlen(text));
	close(fd);
}

static void test_data(void)
{
	int fd = open_in_dir("data", O_RDWR | O_CREAT | O_TRUNC);
	R("ftruncate 2 pages", ftruncate(fd, 2 * pg));
	char *p = map(2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(p, "hello", 5);
	memcpy(p + pg + 10, "second", 6);
	show_pread("pread sees the store", fd, 0, 5);
	show_pread("pread sees the second page", fd, pg + 10, 6);
	char buf[32] = {0};
	R("lseek", lseek(fd, 0, SEEK_SET));
	R("read", read(fd, buf, 5));
	show("read sees the store", buf, 5);
	char a[3] = {0}, b[3] = {0};
	struct iovec iov[2] = {{a, 2}, {b, 3}};
	R("preadv", preadv(fd, iov, 2, 0));
	show("preadv first", a, 2);
	show("preadv second", b, 3);
	struct stat st;
	fstat(fd, &st);
	R("size unchanged by stores", st.st_size);
	R("msync MS_SYNC", msync(p, 2 * pg, MS_SYNC));
	R("msync MS_ASYNC", msync(p, pg, MS_ASYNC));

	char *q = map(2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	show("second mapping sees the store", q, 5);
	memcpy(q + 100, "via q", 5);
	show("first mapping sees the second's store", p + 100, 5);

	pid_t pid = fork();
	if (pid == 0)
		_exit(child_own_mapping());
	R("child with its own mapping", child_status(pid));
	show("parent mapping sees the child's store", p + pg, 5);
	show_pread("pread sees the child's store", fd, pg, 5);
	pid = fork();
	if (pid == 0) {
		memcpy(p + 200, "inherited", 9);
		_exit(0);
	}
	R("child with the inherited mapping", child_status(pid));
	show("parent sees the inherited mapping's store", p + 200, 9);

	R("pwrite", pwrite(fd, "written", 7, 300));
	show("mapping sees pwrite", p + 300, 7);
	R("lseek 400", lseek(fd, 400, SEEK_SET));
	R("write", write(fd, "wr2", 3));
	show("mapping sees write", p + 400, 3);
	struct iovec wv[2] = {{"pw", 2}, {"v!", 2}};
	R("pwritev", pwritev(fd, wv, 2, pg + 500));
	show("mapping sees pwritev", p + pg + 500, 4);
	memcpy(p + 600, "0123456789", 10);
	R("pwrite inside a stored page", pwrite(fd, "ab", 2, 603));
	show("store and write merge", p + 600, 10);

	R("ftruncate 4 pages", ftruncate(fd, 4 * pg));
	char *r = map(4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	show("bigger mapping sees old stores", r, 5);
	fact("new page is zero", r[3 * pg] == 0 && r[4 * pg - 1] == 0);
	memcpy(r + 3 * pg, "tail", 4);
	show_pread("pread sees the new page's store", fd, 3 * pg, 4);
	char *grown = mremap(p, 2 * pg, 4 * pg, MREMAP_MAYMOVE);
	fact("mremap grows", grown != MAP_FAILED);
	if (grown != MAP_FAILED) {
		p = grown;
		show("grown mapping sees the new page", p + 3 * pg, 4);
		memcpy(p + 2 * pg, "grown", 5);
		show("other mapping sees the grown part's store", r + 2 * pg, 5);
	}

	char *m = map(pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	show("private mapping sees shared data", m, 5);
	memcpy(m, "PRIV!", 5);
	show("shared mapping keeps its data", p, 5);
	show_pread("file keeps its data", fd, 0, 5);
	p[700] = 'Z';
	char *mr = map(pg, PROT_READ, MAP_PRIVATE, fd, 0);
	fact("read-only private mapping sees a later store", mr[700] == 'Z');

	int src_out = open_in_dir("copy", O_RDWR | O_CREAT | O_TRUNC);
	memcpy(p + 800, "copied", 6);
	loff_t in_off = 800, out_off = 0;
	R("copy_file_range", copy_file_range(fd, &in_off, src_out, &out_off, 6, 0));
	show_pread("copy_file_range saw the store", src_out, 0, 6);
	memcpy(p + 900, "sent", 4);
	R("lseek copy", lseek(src_out, 6, SEEK_SET));
	off_t soff = 900;
	R("sendfile", sendfile(src_out, fd, &soff, 4));
	show_pread("sendfile saw the store", src_out, 6, 4);
	close(src_out);

	munmap(m, pg);
	munmap(mr, pg);
	munmap(p, 4 * pg);
	munmap(q, 2 * pg);
	memcpy(r + pg + 20, "last", 4);
	munmap(r, 4 * pg);
	close(fd);
	fd = open_in_dir("data", O_RDONLY);
	show_pread("persisted start", fd, 0, 5);
	show_pread("persisted child store", fd, pg, 5);
	show_pread("persisted store before the last munmap", fd, pg + 20, 4);
	show_pread("persisted grown store", fd, 2 * pg, 5);
	show_pread("persisted tail", fd, 3 * pg, 4);
	fstat(fd, &st);
	R("final size", st.st_size);
	close(fd);
}

/* A futex lock (0 free, 1 taken, 2 taken with waiters) in shared memory. */
static void lock(uint32_t *l)
{
	uint32_t c = 0;
	if (__atomic_compare_exchange_n(l, &c, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
		return;
	if (c != 2)
		c = __atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE);
	while (c != 0) {
		syscall(SYS_futex, l, FUTEX_WAIT, 2, NULL, NULL, 0);
		c = __atomic_exchange_n(l, 2, __ATOMIC_ACQUIRE);
	}
}

static void unlock(uint32_t *l)
{
	if (__atomic_exchange_n(l, 0, __ATOMIC_RELEASE) != 1)
		syscall(SYS_futex, l, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* Opens and maps the counter file, then adds 1 to it `n` times under the
 * lock, with a plain (non-atomic) read and write of the count. */
static int count(int n)
{
	int fd = open_in_dir("counter", O_RDWR);
	uint32_t *c = map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	volatile uint32_t *value = c + 1;
	for (int i = 0; i < n; i++) {
		lock(c);
		uint32_t v = *value;
		*value = v + 1;
		unlock(c);
	}
	munmap(c, pg);
	close(fd);
	return 0;
}

static void test_counter(void)
{
	int fd = open_in_dir("counter", O_RDWR | O_CREAT | O_TRUNC);
	R("ftruncate counter", ftruncate(fd, pg));
	pid_t a = fork();
	if (a == 0)
		_exit(count(10000));
	pid_t b = fork();
	if (b == 0)
		_exit(count(10000));
	R("counter child a", child_status(a));
	R("counter child b", child_status(b));
	uint32_t v = 0;
	R("pread counter", pread(fd, &v, 4, 4));
	printf("counter: %u\n", v);
	close(fd);
}

static void test_read_only(void)
{
	int rw = open_in_dir("ro", O_RDWR | O_CREAT | O_TRUNC);
	R("ftruncate ro", ftruncate(rw, pg));
	int ro = open_in_dir("ro", O_RDONLY);
	R("O_RDONLY PROT_WRITE MAP_SHARED",
	  mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED ? -1 : 0);
	char *r = map(pg, PROT_READ, MAP_SHARED, ro, 0);
	R("mprotect to PROT_WRITE", mprotect(r, pg, PROT_READ | PROT_WRITE));
	char *v = map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
	memcpy(v, "shared", 6);
	show("read-only mapping sees the store", r, 6);
	char *priv = map(pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, ro, 0);
	priv[0] = 'x';
	show("O_RDONLY private mapping is writable", priv, 6);
	munmap(priv, pg);
	munmap(v, pg);
	munmap(r, pg);
	close(ro);
	close(rw);
}

static void test_memfd(void)
{
	int fd = memfd_create("shared", MFD_CLOEXEC);
	R("memfd ftruncate", ftruncate(fd, pg));
	char *a = map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	char *b = map(pg, PROT_READ, MAP_SHARED, fd, 0);
	memcpy(a, "memfd", 5);
	show("memfd mappings share", b, 5);
	show_pread("memfd pread", fd, 0, 5);
	munmap(a, pg);
	munmap(b, pg);
	close(fd);
}

/* The overlay check: store through a shared mapping, then read back. */
static int overlay(const char *file)
{
	int fd = open(file, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("open: %s\n", errname(errno));
		return 1;
	}
	char *p = map(pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	memcpy(p, "guest", 5);
	R("munmap", munmap(p, pg));
	close(fd);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	show_pread("after munmap", fd, 0, 5);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	report_start();
	pg = sysconf(_SC_PAGESIZE);
	if (argc == 3 && strcmp(argv[1], "overlay") == 0)
		return overlay(argv[2]);
	if (argc != 2) {
		fprintf(stderr, "usage: mmap_shared_file DIR | overlay FILE | nop\n");
		return 2;
	}
	if (strcmp(argv[1], "nop") == 0)
		return 0;
	dir = argv[1];
	mkdir(dir, 0755);
	test_data();
	test_last_mapping_goes("exit", "exited", NULL);
	test_last_mapping_goes("exec", "execed", "/proc/self/exe");
	test_counter();
	test_read_only();
	test_memfd();
	return 0;
}
