/*
 * mm_semantics: self-checking guest for the address-space syscalls.
 *
 * Exercises mmap (hints, MAP_FIXED, MAP_FIXED_NOREPLACE, EINVAL cases),
 * munmap of a middle part, mprotect splits, mremap (grow in place, shrink,
 * MREMAP_MAYMOVE, MREMAP_FIXED), brk, madvise(MADV_DONTNEED), file-backed
 * MAP_PRIVATE with an offset, /dev/zero and MAP_SHARED anonymous memory.
 *
 * No signal handler is installed: whether a page is mapped is asked with
 * mincore()/msync() (ENOMEM on holes), and whether it is readable or writable
 * with read()/write() through a pipe (the kernel's copy fails with EFAULT
 * instead of the process faulting).  Prints one `NAME: ok` line per check and
 * a summary; exit status 0 only if every check passed.  Output holds no
 * addresses, so it is identical from run to run and under sentry.
 */
#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static long pg;
/* 1 if [p, p+len) is fully mapped, 0 if mincore reports a hole (ENOMEM). */
static int mapped(void *p, size_t len)
{
	unsigned char vec[64];
	if (len / pg > sizeof(vec))
		abort();
	if (mincore(p, len, vec) == 0)
		return 1;
	return errno == ENOMEM ? 0 : -1;
}

static int pipefd[2];

/* 1 if the kernel can read `len` bytes at p (write() from it succeeds). */
static int readable(void *p, size_t len)
{
	char sink[64];
	ssize_t n = write(pipefd[1], p, len);
	if (n < 0)
		return errno == EFAULT ? 0 : -1;
	if (read(pipefd[0], sink, (size_t)n) != n)
		return -1;
	return 1;
}

/* 1 if the kernel can write `len` bytes at p (read() into it succeeds). */
static int writable(void *p, size_t len)
{
	char src[64];
	memcpy(src, p, len); /* the page is readable in every use below */
	if (write(pipefd[1], src, len) != (ssize_t)len)
		return -1;
	ssize_t n = read(pipefd[0], p, len);
	if (n < 0) {
		int e = errno;
		char drain[64];
		if (read(pipefd[0], drain, len) != (ssize_t)len)
			return -1;
		return e == EFAULT ? 0 : -1;
	}
	return n == (ssize_t)len ? 1 : -1;
}

static char *map_anon(void *hint, size_t len, int prot, int flags)
{
	void *p = mmap(hint, len, prot, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int all_bytes(const char *p, size_t len, char c)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* Reserve `len` bytes and give them back: a range known to be free. */
static char *free_range(size_t len)
{
	char *p = map_anon(NULL, len, PROT_NONE, 0);
	if (!p || munmap(p, len))
		abort();
	return p;
}

static void test_mmap(void)
{
	char *want = free_range(16 * pg);
	char *p = map_anon(want, 4 * pg, PROT_READ | PROT_WRITE, 0);
	CHECK("mmap_hint_honoured", p == want);
	CHECK("mmap_anon_zeroed", p && all_bytes(p, 4 * pg, 0));

	memset(p, 'A', 4 * pg);
	char *q = map_anon(p + pg, pg, PROT_READ | PROT_WRITE, MAP_FIXED);
	CHECK("mmap_fixed_addr", q == p + pg);
	CHECK("mmap_fixed_replaces", all_bytes(p + pg, pg, 0));
	CHECK("mmap_fixed_neighbours", all_bytes(p, pg, 'A') &&
	      all_bytes(p + 2 * pg, 2 * pg, 'A'));

	errno = 0;
	q = mmap(p + 2 * pg, 2 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE, -1, 0);
	check_err("mmap_noreplace_overlap", q == MAP_FAILED ? -1 : 0, EEXIST);
	CHECK("mmap_noreplace_kept", all_bytes(p + 2 * pg, 2 * pg, 'A'));
	q = mmap(p + 4 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE, -1, 0);
	CHECK("mmap_noreplace_free", q == p + 4 * pg);

	q = mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	check_err("mmap_zero_len", q == MAP_FAILED ? -1 : 0, EINVAL);
	q = mmap(p + 1, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	check_err("mmap_fixed_unaligned", q == MAP_FAILED ? -1 : 0, EINVAL);
	q = mmap(NULL, pg, PROT_READ, MAP_ANONYMOUS, -1, 0);
	check_err("mmap_no_share_type", q == MAP_FAILED ? -1 : 0, EINVAL);
	q = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, -1, 0);
	check_err("mmap_bad_fd", q == MAP_FAILED ? -1 : 0, EBADF);

	q = map_anon(NULL, pg + 1, PROT_READ | PROT_WRITE, 0);
	CHECK("mmap_len_rounded_up", q && mapped(q, 2 * pg) == 1);
	munmap(q, 2 * pg);
	munmap(p, 5 * pg);
}

static void test_munmap(void)
{
	char *p = map_anon(NULL, 3 * pg, PROT_READ | PROT_WRITE, 0);
	memset(p, 'M', 3 * pg);
	CHECK("munmap_middle", munmap(p + pg, pg) == 0);
	CHECK("munmap_hole_mincore", mapped(p + pg, pg) == 0);
	CHECK("munmap_span_mincore", mapped(p, 3 * pg) == 0);
	check_err("munmap_hole_msync", msync(p + pg, pg, MS_ASYNC), ENOMEM);
	CHECK("munmap_left_usable", mapped(p, pg) == 1 && all_bytes(p, pg, 'M'));
	CHECK("munmap_right_usable", mapped(p + 2 * pg, pg) == 1 &&
	      all_bytes(p + 2 * pg, pg, 'M'));
	p[0] = 'x';
	p[3 * pg - 1] = 'y';
	CHECK("munmap_neighbours_writable", p[0] == 'x' && p[3 * pg - 1] == 'y');
	CHECK("munmap_hole_again", munmap(p + pg, pg) == 0);
	check_err("munmap_unaligned", munmap(p + 1, pg), EINVAL);
	check_err("munmap_zero_len", munmap(p, 0), EINVAL);
	munmap(p, 3 * pg);
	CHECK("munmap_all_gone", mapped(p, pg) == 0 && mapped(p + 2 * pg, pg) == 0);
}

static void test_mprotect(void)
{
	char *p = map_anon(NULL, 4 * pg, PROT_READ | PROT_WRITE, 0);
	memset(p, 'P', 4 * pg);
	CHECK("mprotect_ro_middle", mprotect(p + pg, pg, PROT_READ) == 0);
	CHECK("mprotect_none_middle", mprotect(p + 2 * pg, pg, PROT_NONE) == 0);
	CHECK("mprotect_still_mapped", mapped(p, 4 * pg) == 1);
	p[0] = 'a';
	p[3 * pg] = 'b';
	CHECK("mprotect_rw_parts_writable", writable(p, 8) == 1 &&
	      writable(p + 3 * pg, 8) == 1 && p[0] == 'a' && p[3 * pg] == 'b');
	CHECK("mprotect_ro_readable", readable(p + pg, 8) == 1 &&
	      all_bytes(p + pg, pg, 'P'));
	CHECK("mprotect_ro_not_writable", writable(p + pg, 8) == 0);
	CHECK("mprotect_none_not_readable", readable(p + 2 * pg, 8) == 0);
	CHECK("mprotect_restore", mprotect(p + pg, 2 * pg, PROT_READ | PROT_WRITE) == 0 &&
	      writable(p + 2 * pg, 8) == 1 && all_bytes(p + 2 * pg, pg, 'P'));
	check_err("mprotect_unaligned", mprotect(p + 1, pg, PROT_READ), EINVAL);
	munmap(p + 3 * pg, pg);
	check_err("mprotect_unmapped", mprotect(p + 2 * pg, 2 * pg, PROT_READ), ENOMEM);
	munmap(p, 3 * pg);
}

static void fill_pattern(char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (char)(i * 7 + 3);
}

static int has_pattern(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != (char)(i * 7 + 3))
			return 0;
	return 1;
}

static void test_mremap(void)
{
	char *base = free_range(8 * pg);
	char *p = map_anon(base, 2 * pg, PROT_READ | PROT_WRITE, MAP_FIXED);
	fill_pattern(p, 2 * pg);
	char *q = mremap(p, 2 * pg, 4 * pg, 0);
	CHECK("mremap_grow_in_place", q == p);
	CHECK("mremap_grow_keeps", has_pattern(p, 2 * pg));
	CHECK("mremap_grow_new_zero", all_bytes(p + 2 * pg, 2 * pg, 0) &&
	      writable(p + 3 * pg, 8) == 1);

	q = mremap(p, 4 * pg, pg, 0);
	CHECK("mremap_shrink", q == p && has_pattern(p, pg));
	CHECK("mremap_shrink_unmaps_tail", mapped(p + pg, pg) == 0 &&
	      mapped(p + 3 * pg, pg) == 0);

	char *blocker = map_anon(p + pg, pg, PROT_READ, MAP_FIXED);
	q = mremap(p, pg, 2 * pg, 0);
	check_err("mremap_grow_blocked", q == MAP_FAILED ? -1 : 0, ENOMEM);

	q = mremap(p, pg, 8 * pg, MREMAP_MAYMOVE);
	CHECK("mremap_maymove_moves", q != MAP_FAILED && q != p);
	CHECK("mremap_maymove_keeps", q != MAP_FAILED && has_pattern(q, pg) &&
	      all_bytes(q + pg, 7 * pg, 0));
	CHECK("mremap_maymove_old_gone", mapped(p, pg) == 0);
	CHECK("mremap_maymove_blocker_kept", mapped(blocker, pg) == 1);
	munmap(blocker, pg);

	char *target = free_range(8 * pg);
	char *r = mremap(q, 8 * pg, 8 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, target);
	CHECK("mremap_fixed_addr", r == target);
	CHECK("mremap_fixed_keeps", r == target && has_pattern(r, pg));
	CHECK("mremap_fixed_old_gone", mapped(q, pg) == 0);
	r = mremap(target, 8 * pg, 8 * pg, MREMAP_FIXED, target + 8 * pg);
	check_err("mremap_fixed_needs_maymove", r == MAP_FAILED ? -1 : 0, EINVAL);
	r = mremap(target + 1, pg, pg, 0);
	check_err("mremap_unaligned", r == MAP_FAILED ? -1 : 0, EINVAL);
	munmap(target, 8 * pg);
	r = mremap(target, pg, 2 * pg, MREMAP_MAYMOVE);
	check_err("mremap_unmapped", r == MAP_FAILED ? -1 : 0, EFAULT);
}

static void test_brk(void)
{
	char *start = sbrk(0);
	char *old = sbrk(16 * pg);
	CHECK("sbrk_grow", old == start && sbrk(0) == start + 16 * pg);
	memset(start, 'B', 16 * pg);
	CHECK("sbrk_grown_usable", all_bytes(start, 16 * pg, 'B'));
	CHECK("sbrk_shrink", sbrk(-12 * (intptr_t)pg) != (void *)-1 &&
	      sbrk(0) == start + 4 * pg);
	/* start may sit mid-page: the first page boundary above start + 4 pages
	 * begins the unmapped part. */
	char *hole = (char *)(((uintptr_t)start + 4 * pg + pg - 1) & ~(uintptr_t)(pg - 1));
	CHECK("sbrk_shrunk_unmapped", mapped(hole, pg) == 0);
	CHECK("sbrk_shrunk_kept", all_bytes(start, 4 * pg, 'B'));
	CHECK("sbrk_regrow_zero", sbrk(4 * pg) == start + 4 * pg &&
	      all_bytes(hole, (size_t)(start + 8 * pg - hole), 0));
	CHECK("brk_restore", brk(start) == 0 && sbrk(0) == start);
}

static void test_madvise(void)
{
	char *p = map_anon(NULL, 2 * pg, PROT_READ | PROT_WRITE, 0);
	memset(p, 'D', 2 * pg);
	CHECK("madvise_dontneed", madvise(p, pg, MADV_DONTNEED) == 0);
	CHECK("madvise_dontneed_zeroes", all_bytes(p, pg, 0));
	CHECK("madvise_dontneed_only_range", all_bytes(p + pg, pg, 'D'));
	munmap(p, 2 * pg);

	char *s = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	memset(s, 'S', pg);
	CHECK("madvise_dontneed_shared", madvise(s, pg, MADV_DONTNEED) == 0 &&
	      all_bytes(s, pg, 'S'));
	munmap(s, pg);
	check_err("madvise_unmapped", madvise(p, pg, MADV_DONTNEED), ENOMEM);
}

static void test_file_private(const char *self)
{
	int fd = open(self, O_RDONLY);
	CHECK("file_open_self", fd >= 0);
	char *want = malloc(2 * pg);
	CHECK("file_pread", pread(fd, want, 2 * pg, pg) == 2 * pg);
	char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, pg);
	CHECK("file_private_map", p != MAP_FAILED);
	CHECK("file_private_content", memcmp(p, want, 2 * pg) == 0);
	memset(p, 'W', 16);
	char *again = malloc(16);
	CHECK("file_private_write_hidden", pread(fd, again, 16, pg) == 16 &&
	      memcmp(again, want, 16) == 0 && all_bytes(p, 16, 'W'));
	char *q = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, pg);
	CHECK("file_private_second_map_clean", q != MAP_FAILED && memcmp(q, want, pg) == 0);
	munmap(q, pg);
	q = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 1);
	check_err("file_unaligned_offset", q == MAP_FAILED ? -1 : 0, EINVAL);
	q = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	check_err("file_shared_write_rdonly_fd", q == MAP_FAILED ? -1 : 0, EACCES);
	munmap(p, 2 * pg);
	free(want);
	free(again);
	close(fd);
}

static void test_dev_zero(void)
{
	int fd = open("/dev/zero", O_RDWR);
	CHECK("dev_zero_open", fd >= 0);
	char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	CHECK("dev_zero_map", p != MAP_FAILED);
	CHECK("dev_zero_zeroed", all_bytes(p, 2 * pg, 0));
	memset(p, 'Z', 2 * pg);
	CHECK("dev_zero_writable", all_bytes(p, 2 * pg, 'Z'));
	munmap(p, 2 * pg);
	close(fd);
}

static void test_shared_anon(void)
{
	char *s = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK("shared_anon_map", s != MAP_FAILED);
	CHECK("shared_anon_zeroed", all_bytes(s, 2 * pg, 0));
	fill_pattern(s, 2 * pg);
	CHECK("shared_anon_rw", has_pattern(s, 2 * pg));
	/* old_size 0 makes a second mapping of the same shared pages. */
	char *alias = mremap(s, 0, 2 * pg, MREMAP_MAYMOVE);
	CHECK("shared_anon_alias", alias != MAP_FAILED && alias != s &&
	      has_pattern(alias, 2 * pg));
	if (alias != MAP_FAILED) {
		alias[5] = 'q';
		s[pg + 9] = 'r';
		CHECK("shared_anon_alias_coherent", s[5] == 'q' && alias[pg + 9] == 'r');
		munmap(alias, 2 * pg);
	}
	munmap(s, 2 * pg);
}

int main(int argc, char **argv)
{
	pg = sysconf(_SC_PAGESIZE);
	if (pipe(pipefd))
		return 2;
	test_mmap();
	test_munmap();
	test_mprotect();
	test_mremap();
	test_brk();
	test_madvise();
	test_file_private(argv[0]);
	test_dev_zero();
	test_shared_anon();
	return summary_of("mm_semantics");
}
