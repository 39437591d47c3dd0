/*
 * esc_limits: a guest that tries to outgrow the sandbox's resource limits.
 *
 *   esc_limits malloc      malloc and touch 1 MiB chunks until malloc fails;
 *                          prints `malloc: failed after N MiB` and exits 0
 *   esc_limits PATH        a way around the writable-mapping accounting; each
 *                          prints the result of the setup call, then touches
 *                          the memory it got, printing `touched N MiB` every
 *                          8 MiB, and `PATH: touched all N MiB` at the end:
 *     mprotect             PROT_NONE mapping of 256 MiB made writable
 *     mremap               32 MiB touched, then grown to 256 MiB in place or
 *                          moved
 *     noreserve            256 MiB MAP_PRIVATE|MAP_NORESERVE
 *     shared               256 MiB MAP_SHARED|MAP_ANONYMOUS
 *     fork                 40 MiB touched, then fork(): the child writes its
 *                          private copy (so two copies exist), exits, and the
 *                          parent reports how the child ended
 *     file                 1 MiB writes to /tmp/big (the in-memory overlay)
 *                          until write fails: `file: ERRNO after N MiB`
 *     memfd                memfd_create + ftruncate(256 MiB) + MAP_SHARED
 *   esc_limits fds         open /dev/null until it fails:
 *                          `fds: ERRNO at fd N` (N = the lowest fd not opened)
 *
 * stdout is unbuffered line by line so that the last progress line printed
 * before the sandbox is ended is seen by the test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1UL << 20)

static const char *errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "?";
}

/* Writes to every page of [p, p+len), reporting progress every 8 MiB. */
static void touch(const char *what, char *p, size_t len)
{
	for (size_t off = 0; off < len; off += 4096) {
		p[off] = 1;
		if ((off + 4096) % (8 * MIB) == 0)
			printf("touched %zu MiB\n", (off + 4096) / MIB);
	}
	printf("%s: touched all %zu MiB\n", what, len / MIB);
}

static void *map(const char *what, size_t len, int prot, int flags)
{
	void *p = mmap(NULL, len, prot, flags | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		printf("%s: mmap %s\n", what, errname(errno));
		exit(0);
	}
	printf("%s: mmap ok\n", what);
	return p;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *mode = argc > 1 ? argv[1] : "";
	size_t big = 256 * MIB;

	if (strcmp(mode, "malloc") == 0) {
		size_t n = 0;
		for (;;) {
			char *p = malloc(MIB);
			if (!p)
				break;
			memset(p, 0x5a, MIB);
			n++;
		}
		printf("malloc: failed after %zu MiB\n", n);
		return 0;
	}
	if (strcmp(mode, "mprotect") == 0) {
		char *p = map(mode, big, PROT_NONE, MAP_PRIVATE);
		if (mprotect(p, big, PROT_READ | PROT_WRITE) != 0) {
			printf("mprotect: %s\n", errname(errno));
			return 0;
		}
		printf("mprotect: ok\n");
		touch(mode, p, big);
		return 0;
	}
	if (strcmp(mode, "mremap") == 0) {
		char *p = map(mode, 32 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		touch("mremap-initial", p, 32 * MIB);
		char *q = mremap(p, 32 * MIB, big, MREMAP_MAYMOVE);
		if (q == MAP_FAILED) {
			printf("mremap: %s\n", errname(errno));
			return 0;
		}
		printf("mremap: ok\n");
		touch(mode, q, big);
		return 0;
	}
	if (strcmp(mode, "noreserve") == 0) {
		touch(mode, map(mode, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE), big);
		return 0;
	}
	if (strcmp(mode, "shared") == 0) {
		touch(mode, map(mode, big, PROT_READ | PROT_WRITE, MAP_SHARED), big);
		return 0;
	}
	if (strcmp(mode, "fork") == 0) {
		size_t len = 40 * MIB;
		char *p = map(mode, len, PROT_READ | PROT_WRITE, MAP_PRIVATE);
		touch("fork-parent", p, len);
		pid_t pid = fork();
		if (pid < 0) {
			printf("fork: %s\n", errname(errno));
			return 0;
		}
		if (pid == 0) {
			for (size_t off = 0; off < len; off += 4096)
				p[off] = 2;
			printf("fork-child: wrote its copy\n");
			_exit(0);
		}
		int status;
		waitpid(pid, &status, 0);
		if (WIFSIGNALED(status))
			printf("fork: child signal %s\n", sigabbrev_np(WTERMSIG(status)));
		else
			printf("fork: child exit %d\n", WEXITSTATUS(status));
		return 0;
	}
	if (strcmp(mode, "file") == 0) {
		int fd = open("/tmp/big", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0) {
			printf("file: open %s\n", errname(errno));
			return 0;
		}
		static char chunk[MIB];
		memset(chunk, 0x5a, sizeof chunk);
		size_t n = 0;
		for (;;) {
			ssize_t w = write(fd, chunk, sizeof chunk);
			if (w != (ssize_t)sizeof chunk) {
				printf("file: %s after %zu MiB\n", w < 0 ? errname(errno) : "short write", n);
				return 0;
			}
			if (++n % 8 == 0)
				printf("written %zu MiB\n", n);
		}
	}
	if (strcmp(mode, "memfd") == 0) {
		int fd = (int)syscall(SYS_memfd_create, "esc", 0);
		if (fd < 0) {
			printf("memfd: memfd_create %s\n", errname(errno));
			return 0;
		}
		if (ftruncate(fd, (off_t)big) != 0) {
			printf("memfd: ftruncate %s\n", errname(errno));
			return 0;
		}
		char *p = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			printf("memfd: mmap %s\n", errname(errno));
			return 0;
		}
		printf("memfd: mmap ok\n");
		touch(mode, p, big);
		return 0;
	}
	if (strcmp(mode, "fds") == 0) {
		for (;;) {
			int fd = open("/dev/null", O_RDONLY);
			if (fd < 0) {
				int e = errno;
				int lowest = 0;
				while (fcntl(lowest, F_GETFD) != -1)
					lowest++;
				printf("fds: %s at fd %d\n", errname(e), lowest);
				return 0;
			}
		}
	}
	fprintf(stderr, "usage: esc_limits malloc|mprotect|mremap|noreserve|shared|fork|file|memfd|fds\n");
	return 2;
}
