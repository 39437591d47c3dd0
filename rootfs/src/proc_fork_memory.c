/*
 * proc_fork_memory: self-checking guest for what a fork child shares with
 * its parent and what it gets a private copy of, run with an empty scratch
 * directory as argv[1].
 *
 * Memory: a global, the heap, the stack, a MAP_PRIVATE anonymous mapping and
 * a large (8 MiB) private mapping are copied (writes on either side stay on
 * that side, the child sees the parent's values at fork time); a MAP_SHARED
 * anonymous mapping stays shared both ways, also with a grandchild, and
 * after the parent's fork of a fork.  Files: fds are inherited (a pipe
 * carries data from child to parent, EOF arrives when every write end is
 * closed), a file description's offset is shared (the parent reads on where
 * the child stopped), O_CLOEXEC survives fork, and cwd and umask are
 * inherited while the child's own chdir/umask do not leak back.
 *
 * Children never print: they report through their exit status, a pipe or
 * shared memory, and the parent prints one `NAME: ok` line per check and a
 * summary.  Exit status 0 only if all passed.
 */
#define _GNU_SOURCE
#include "check.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int global_value = 1;
static const char *scratch;

static void test_private_memory(void)
{
	int *heap = malloc(sizeof(int));
	volatile int on_stack = 1;
	int *priv = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("private mmap", priv != MAP_FAILED);
	*heap = 1;
	*priv = 1;
	global_value = 1;

	/* The child sees the values at fork time, then writes its own. */
	pid_t pid = xfork();
	if (pid == 0) {
		int bad = 0;
		bad |= (global_value != 1) << 0;
		bad |= (*heap != 1) << 1;
		bad |= (*priv != 1) << 2;
		bad |= (on_stack != 1) << 3;
		global_value = 2;
		*heap = 2;
		*priv = 2;
		on_stack = 2;
		bad |= (global_value != 2 || *heap != 2 || *priv != 2 ||
			on_stack != 2) << 4;
		_exit(bad);
	}
	int child = child_status(pid);
	CHECK("child saw parent values and its own writes", child == 0);
	CHECK("child global write is private", global_value == 1);
	CHECK("child heap write is private", *heap == 1);
	CHECK("child MAP_PRIVATE write is private", *priv == 1);
	CHECK("child stack write is private", on_stack == 1);

	/* The parent's writes after fork stay out of the child. */
	int go[2];
	CHECK("pipe", pipe(go) == 0);
	pid = xfork();
	if (pid == 0) {
		char c;
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(10);
		_exit(global_value == 1 && *priv == 1 && *heap == 1 ? 0 : 11);
	}
	close(go[0]);
	global_value = 3;
	*priv = 3;
	*heap = 3;
	CHECK("release child", write(go[1], "g", 1) == 1);
	close(go[1]);
	CHECK("parent writes after fork are private", child_status(pid) == 0);

	munmap(priv, 4096);
	free(heap);
}

static void test_large_private_copy(void)
{
	size_t len = 8 << 20;
	uint32_t *big = mmap(NULL, len, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK("8 MiB mmap", big != MAP_FAILED);
	size_t n = len / sizeof(*big);
	for (size_t i = 0; i < n; i++)
		big[i] = (uint32_t)(i * 2654435761u);
	pid_t pid = xfork();
	if (pid == 0) {
		for (size_t i = 0; i < n; i++)
			if (big[i] != (uint32_t)(i * 2654435761u))
				_exit(1);
		/* Scribble over everything: the parent must not notice. */
		memset(big, 0xa5, len);
		_exit(0);
	}
	CHECK("child sees the whole 8 MiB copy", child_status(pid) == 0);
	int intact = 1;
	for (size_t i = 0; i < n; i++)
		if (big[i] != (uint32_t)(i * 2654435761u))
			intact = 0;
	CHECK("child memset of 8 MiB is private", intact);
	munmap(big, len);
}

static void test_shared_memory(void)
{
	volatile int *shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	CHECK("shared mmap", shared != MAP_FAILED);
	shared[0] = 1;
	shared[1] = 0;

	pid_t pid = xfork();
	if (pid == 0) {
		int ok = shared[0] == 1;
		shared[0] = 2;
		_exit(ok ? 0 : 1);
	}
	CHECK("child saw shared value", child_status(pid) == 0);
	CHECK("child MAP_SHARED write is seen by parent", shared[0] == 2);

	/* Parent to child: the child spins until the parent's store lands. */
	pid = xfork();
	if (pid == 0) {
		for (long i = 0; i < 2000000000L && shared[1] == 0; i++)
			;
		_exit(shared[1] == 7 ? 0 : 1);
	}
	shared[1] = 7;
	CHECK("parent MAP_SHARED write is seen by child",
	      child_status(pid) == 0);

	/* A grandchild's write reaches the grandparent. */
	pid = xfork();
	if (pid == 0) {
		pid_t grandchild = fork();
		if (grandchild == 0) {
			shared[2] = 42;
			_exit(0);
		}
		_exit(child_status(grandchild));
	}
	CHECK("grandchild exited", child_status(pid) == 0);
	CHECK("grandchild MAP_SHARED write is seen", shared[2] == 42);

	/* Shared stays shared across a second generation of forks. */
	pid = xfork();
	if (pid == 0) {
		pid_t inner = fork();
		if (inner == 0) {
			shared[3]++;
			_exit(0);
		}
		child_status(inner);
		shared[3]++;
		_exit(0);
	}
	child_status(pid);
	shared[3]++;
	CHECK("three generations share one page", shared[3] == 3);
	munmap((void *)shared, 4096);
}

static void test_inherited_fds(void)
{
	int p[2];
	CHECK("pipe", pipe(p) == 0);
	pid_t pid = xfork();
	if (pid == 0) {
		close(p[0]);
		const char msg[] = "hello from the child";
		_exit(write(p[1], msg, sizeof msg) == sizeof msg ? 0 : 1);
	}
	close(p[1]);
	char buf[64] = {0};
	ssize_t n = read(p[0], buf, sizeof buf);
	CHECK("pipe carries data child to parent",
	      n == 21 && strcmp(buf, "hello from the child") == 0);
	CHECK("EOF once the child's write end is gone", read(p[0], buf, 1) == 0);
	close(p[0]);
	CHECK("child exit", child_status(pid) == 0);

	/* Both ends inherited: data written by the parent reaches the child. */
	CHECK("pipe", pipe(p) == 0);
	pid = xfork();
	if (pid == 0) {
		close(p[1]);
		char in[16] = {0};
		ssize_t got = read(p[0], in, sizeof in);
		_exit(got == 5 && memcmp(in, "ping", 5) == 0 ? 0 : 1);
	}
	close(p[0]);
	CHECK("parent to child write", write(p[1], "ping", 5) == 5);
	close(p[1]);
	CHECK("child read the parent's data", child_status(pid) == 0);

	/* Descriptor flags are copied: FD_CLOEXEC stays set in the child. */
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	pid = xfork();
	if (pid == 0)
		_exit(fcntl(fd, F_GETFD) == FD_CLOEXEC ? 0 : 1);
	CHECK("FD_CLOEXEC inherited by fork", child_status(pid) == 0);
	/* Closing in the child leaves the parent's fd open. */
	pid = xfork();
	if (pid == 0)
		_exit(close(fd) == 0 ? 0 : 1);
	CHECK("child closed its copy", child_status(pid) == 0);
	CHECK("parent fd still open", fcntl(fd, F_GETFD) == FD_CLOEXEC);
	close(fd);
}

static void test_shared_offset(void)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/offset.txt", scratch);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	CHECK("create offset.txt", fd >= 0);
	CHECK("write", write(fd, "0123456789abcdef", 16) == 16);
	CHECK("rewind", lseek(fd, 0, SEEK_SET) == 0);

	pid_t pid = xfork();
	if (pid == 0) {
		char b[4];
		_exit(read(fd, b, 4) == 4 && memcmp(b, "0123", 4) == 0 ? 0 : 1);
	}
	CHECK("child read 4 bytes", child_status(pid) == 0);
	CHECK("offset moved by the child", lseek(fd, 0, SEEK_CUR) == 4);
	char b[4];
	CHECK("parent reads where the child stopped",
	      read(fd, b, 4) == 4 && memcmp(b, "4567", 4) == 0);

	pid = xfork();
	if (pid == 0)
		_exit(lseek(fd, 0, SEEK_CUR) == 8 ? 0 : 1);
	CHECK("child sees the parent's offset", child_status(pid) == 0);

	/* An appending child: the parent's next write lands after it. */
	pid = xfork();
	if (pid == 0)
		_exit(write(fd, "XY", 2) == 2 ? 0 : 1);
	child_status(pid);
	CHECK("parent write after child write", write(fd, "Z", 1) == 1);
	char all[17] = {0};
	CHECK("pread", pread(fd, all, 16, 0) == 16);
	CHECK("file content", memcmp(all, "01234567XYZbcdef", 16) == 0);
	close(fd);

	/* A file opened separately after fork has its own offset. */
	fd = open(path, O_RDONLY);
	pid = xfork();
	if (pid == 0) {
		int own = open(path, O_RDONLY);
		char c[8];
		_exit(read(own, c, 8) == 8 ? 0 : 1);
	}
	child_status(pid);
	CHECK("independent open keeps its own offset", lseek(fd, 0, SEEK_CUR) == 0);
	close(fd);
}

static void test_cwd_and_umask(void)
{
	char sub[PATH_MAX], here[PATH_MAX];
	snprintf(sub, sizeof sub, "%s/sub", scratch);
	CHECK("mkdir sub", mkdir(sub, 0755) == 0);
	CHECK("chdir scratch", chdir(scratch) == 0);
	CHECK("getcwd", getcwd(here, sizeof here) != NULL);
	mode_t old = umask(002);

	int p[2];
	CHECK("pipe", pipe(p) == 0);
	pid_t pid = xfork();
	if (pid == 0) {
		char cwd[PATH_MAX] = {0};
		int bad = 0;
		if (!getcwd(cwd, sizeof cwd) || strcmp(cwd, here) != 0)
			bad |= 1;
		mode_t m = umask(0);
		if (m != 002)
			bad |= 2;
		umask(m);
		/* A file created by the child gets the inherited umask. */
		int fd = open("child-file", O_CREAT | O_WRONLY, 0666);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0 || (st.st_mode & 0777) != 0664)
			bad |= 4;
		close(fd);
		/* Relative paths resolve against the inherited cwd. */
		if (access("sub", F_OK) != 0)
			bad |= 8;
		/* The child's own changes must not leak to the parent. */
		if (chdir("sub") != 0)
			bad |= 16;
		umask(077);
		write(p[1], &bad, sizeof bad);
		_exit(0);
	}
	int bad = -1;
	read(p[0], &bad, sizeof bad);
	child_status(pid);
	close(p[0]);
	close(p[1]);
	CHECK("child cwd inherited", (bad & 1) == 0);
	CHECK("child umask inherited", (bad & 2) == 0);
	CHECK("child file created with inherited umask", (bad & 4) == 0);
	CHECK("child relative path uses cwd", (bad & 8) == 0);
	CHECK("child chdir", (bad & 16) == 0);
	char now[PATH_MAX] = {0};
	CHECK("child chdir does not move the parent",
	      getcwd(now, sizeof now) && strcmp(now, here) == 0);
	mode_t m = umask(old);
	CHECK("child umask does not leak back", m == 002);
	struct stat st;
	CHECK("child-file exists in the parent's cwd",
	      stat("child-file", &st) == 0 && (st.st_mode & 0777) == 0664);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR\n", argv[0]);
		return 2;
	}
	scratch = argv[1];
	test_private_memory();
	test_large_private_copy();
	test_shared_memory();
	test_inherited_fds();
	test_shared_offset();
	test_cwd_and_umask();
	return summary();
}
