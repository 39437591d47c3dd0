/*
 * efault: system calls given bad user pointers must fail with EFAULT, not
 * crash the process (nor, under sentry, the kernel).
 *
 * Each line is `NAME: <errno name>` or `NAME: returned N`; the test compares
 * them with a native run.  stdin must be a pipe or file holding some bytes:
 * `read_stdin_bad` must fail without consuming them, which the following
 * `read_stdin_after` line shows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void report(const char *name, long ret, int want_efault)
{
	if (ret == -1) {
		const char *e = strerrorname_np(errno);
		printf("%s: %s\n", name, e ? e : "?");
		if (want_efault && errno != EFAULT)
			failures++;
	} else {
		printf("%s: returned %ld\n", name, ret);
		if (want_efault)
			failures++;
	}
	fflush(stdout);
}

int main(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *unmapped = mmap(NULL, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *none = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	/* volatile: keep the compiler from reasoning about these addresses. */
	char *volatile addr_1 = (char *)1;
	char *volatile kernel = (char *)0xffff880000000000UL;
	char *volatile noncanonical = (char *)0x0000900000000000UL;
	char buf[256];
	struct iovec iov = { buf, 4 };

	munmap(unmapped, pg);
	report("write_addr_1", write(1, addr_1, 10), 1);
	report("write_unmapped", write(1, unmapped, 10), 1);
	report("write_prot_none", write(1, none, 10), 1);
	report("write_kernel_addr", write(1, kernel, 10), 1);
	report("write_noncanonical", write(1, noncanonical, 10), 1);
	report("write_bad_len0", write(1, unmapped, 0), 0);
	report("read_stdin_bad", read(0, unmapped, 10), 1);
	ssize_t n = read(0, buf, sizeof(buf) - 1);
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	printf("read_stdin_after: %.*s\n", n > 0 ? (int)n : 0, buf);
	int zero = open("/dev/zero", O_RDONLY);
	report("read_dev_zero_bad", read(zero, unmapped, 10), 1);
	report("read_dev_zero_ro", read(zero, (void *)main, 10), 1);
	report("open_bad_path", open(addr_1, O_RDONLY), 1);
	report("openat_unmapped_path", syscall(SYS_openat, AT_FDCWD, unmapped, O_RDONLY), 1);
	report("stat_bad_path", syscall(SYS_newfstatat, AT_FDCWD, unmapped, buf, 0), 1);
	report("stat_bad_buf", syscall(SYS_newfstatat, AT_FDCWD, "/", unmapped, 0), 1);
	report("uname_bad", syscall(SYS_uname, unmapped), 1);
	report("clock_gettime_bad", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, unmapped), 1);
	report("pipe_bad", syscall(SYS_pipe2, unmapped, 0), 1);
	report("getcwd_bad", syscall(SYS_getcwd, unmapped, 100), 1);
	report("readv_bad_iov", syscall(SYS_readv, zero, unmapped, 1), 1);
	iov.iov_base = unmapped;
	report("readv_bad_base", readv(zero, &iov, 1), 1);
	report("getrandom_bad", syscall(SYS_getrandom, unmapped, 16, 0), 1);
	printf("efault: %s\n", failures ? "FAILED" : "all ok");
	return failures != 0;
}
